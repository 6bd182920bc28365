import MetrikaAMQP

/// The exchanges, queues and bindings of CONTRACTS.md, declared idempotently.
public struct Topology: Sendable {
    public let names: TopologyNames
    /// `quorum` or `classic`.
    public let queueType: String
    /// Redeliveries of one message before a quorum queue dead-letters it to the dead queue.
    public let deliveryLimit: Int

    /// Seconds of each delay level for transient failures (one delay queue per input queue and level).
    public let retryDelays: [Int]

    /// PBX feeds whose queues are declared and consumed.
    public let pbxFeeds: Set<PBXFeed>

    public init(names: TopologyNames, queueType: String, deliveryLimit: Int, retryDelays: [Int] = [1, 5, 30, 120],
                pbxFeeds: Set<PBXFeed> = []) {
        self.names = names
        self.queueType = queueType
        self.deliveryLimit = deliveryLimit
        self.retryDelays = retryDelays
        self.pbxFeeds = pbxFeeds
    }

    /// Builds the topology a configuration asks for.
    public init(_ configuration: GatewayConfiguration) {
        self.init(names: configuration.names, queueType: configuration.queueType, deliveryLimit: configuration.deliveryLimit,
                  retryDelays: configuration.retryDelays, pbxFeeds: configuration.pbxFeeds)
    }

    /// The delay queue for a message of `queue` that failed for the `attempt`-th time (1-based); the
    /// last level repeats.
    public func delayQueue(for queue: String, attempt: Int) -> String {
        delayQueueName(for: queue, delay: retryDelays[min(max(attempt, 1), retryDelays.count) - 1])
    }

    /// Every delay queue of an input queue: `<retry prefix><queue>.<N>s`, e.g. `metrika.retry.metrika.rs.5s`.
    public func delayQueues(for queue: String) -> [(name: String, delay: Int)] {
        retryDelays.map { (delayQueueName(for: queue, delay: $0), $0) }
    }

    private func delayQueueName(for queue: String, delay: Int) -> String {
        "\(names.retryQueuePrefix)\(queue).\(delay)s"
    }

    /// The gateway's input queues with the exchange and routing keys each is bound to (an empty exchange:
    /// the publisher uses the default exchange with the queue's name, as Asterisk's cdr_amqp/cel_amqp do).
    public var inputs: [(queue: String, exchange: String, routingKeys: [String])] {
        var inputs: [(queue: String, exchange: String, routingKeys: [String])] = [
            (names.rsQueue, names.rsExchange, ["subscriber.*"]),
            (names.telephonyQueue, names.telephonyExchange, ["call.*"]),
            (names.commandsQueue, names.commandsExchange, ["ticket.*"]),
        ]
        if pbxFeeds.contains(.asteriskCDR) { inputs.append((names.asteriskCDRQueue, "", [])) }
        if pbxFeeds.contains(.asteriskCEL) { inputs.append((names.asteriskCELQueue, "", [])) }
        if pbxFeeds.contains(.freeswitch) {
            inputs.append((names.freeswitchQueue, names.freeswitchExchange,
                           ["FreeSWITCH.*.CHANNEL_HANGUP_COMPLETE.#", "FreeSWITCH.*.CUSTOM.#"]))
        }
        return inputs
    }

    /// The PBX feed a queue carries, if any.
    public func pbxFeed(ofQueue queue: String) -> PBXFeed? {
        switch queue {
        case names.asteriskCDRQueue where pbxFeeds.contains(.asteriskCDR): .asteriskCDR
        case names.asteriskCELQueue where pbxFeeds.contains(.asteriskCEL): .asteriskCEL
        case names.freeswitchQueue where pbxFeeds.contains(.freeswitch): .freeswitch
        default: nil
        }
    }

    /// Declares everything on `connection`. Safe to repeat; fails with `channelClosed` when an existing
    /// queue was declared with other arguments (e.g. another queue type).
    public func declare(on connection: AMQPConnection) throws(AMQPError) {
        var exchanges = [names.rsExchange, names.telephonyExchange, names.commandsExchange, names.eventsExchange]
        if pbxFeeds.contains(.freeswitch) { exchanges.append(names.freeswitchExchange) }
        for exchange in exchanges {
            try connection.declareExchange(exchange, type: "topic")
        }
        try connection.declareQueue(names.deadQueue, arguments: [("x-queue-type", .string(queueType))])
        var inputArguments: [(String, AMQPFieldValue)] = [
            ("x-queue-type", .string(queueType)),
            ("x-dead-letter-exchange", .string("")),
            ("x-dead-letter-routing-key", .string(names.deadQueue)),
        ]
        if queueType == "quorum" {
            inputArguments.append(("x-delivery-limit", .int64(Int64(deliveryLimit))))
        }
        for input in inputs {
            try connection.declareQueue(input.queue, arguments: inputArguments)
            for key in input.routingKeys {
                try connection.bindQueue(input.queue, exchange: input.exchange, routingKey: key)
            }
            // Delay queues: a message waits there for its TTL, then returns to its input queue.
            for (name, delay) in delayQueues(for: input.queue) {
                try connection.declareQueue(name, arguments: [
                    ("x-queue-type", .string("classic")),
                    ("x-message-ttl", .int64(Int64(delay) * 1000)),
                    ("x-dead-letter-exchange", .string("")),
                    ("x-dead-letter-routing-key", .string(input.queue)),
                ])
            }
        }
    }
}
