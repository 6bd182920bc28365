import Foundation
import MetrikaAMQP
import Synchronization

/// The zero-work relay ceiling of issue 6, measured by the bench itself: a source queue pre-filled with
/// persistent messages the size of a typical call event → consume with prefetch 1000 → publish one
/// persistent message per input to a sink queue with streaming publisher confirms → multiple-ack the
/// inputs once their outputs are confirmed. Consumer and publisher have their own connection and thread,
/// as in the gateway; both queues have the gateway's queue type, so ratios compare like with like.
enum RawRelay {
    /// What one relay run measured.
    struct Figures: Sendable {
        let messages: Int
        /// From the first delivery to the acknowledgement of the last.
        let seconds: Double
        /// Mean body size, bytes.
        let bodyBytes: Int

        var rate: Double { Double(messages) / seconds }
    }

    /// Stream of the message ids (`BenchText.id`).
    private static let idStream: UInt32 = 0x4e1a_0001
    /// Unacknowledged deliveries the relay's consumer may hold.
    static let prefetch: UInt16 = 1000

    /// Fills the source queue (not timed), then relays every message and times it.
    static func measure(broker: Broker, world: RunWorld, messages: Int) throws -> Figures {
        let bodyBytes = try broker.withConnection("relay-prefill") { connection in
            try declareQueues(world, on: connection)
            return try publishSource(messages, world: world, on: connection)
        }
        let (first, last) = try relay(broker: broker, world: world, messages: messages)
        // Nobody consumes the sink here; emptied now, it can be deleted with the run's other queues.
        try broker.withConnection("relay-purge") { connection in try connection.purgeQueue(world.relaySink) }
        return Figures(messages: messages, seconds: seconds(from: first, to: last), bodyBytes: bodyBytes)
    }

    /// The relay in the shape of a gateway scenario: the source is published while the relay runs, and a
    /// consumer takes every output off the sink. Timed from the first publish to the arrival of the last
    /// output on the sink's consumer, as the storm is timed. Each message passes through the broker four
    /// times (publish, deliver to the relay, the relay's publish, deliver from the sink), as a storm event
    /// does, so this is the ceiling a gateway doing no work would reach in the storm.
    static func measureStreamed(broker: Broker, world: RunWorld, messages: Int) throws -> Figures {
        try broker.withConnection("relay-declare") { connection in try declareQueues(world, on: connection) }
        let sink = try EventObserver(broker: broker, queue: world.relaySink, queueType: world.queueType, exchange: nil,
                                     routingKeys: [], expected: messages)
        let relaying = BenchThread.start("metrika-bench-relay") { try relay(broker: broker, world: world, messages: messages) }
        let source = BenchThread.start("metrika-bench-relay-source") {
            try broker.withConnection("relay-source") { connection in
                let started = monotonicNanos()
                let bodyBytes = try publishSource(messages, world: world, on: connection)
                return (started, bodyBytes)
            }
        }
        let published = Result { try source.join() }
        let relayed = Result { try relaying.join() }
        let observed = try sink.finish(stallSeconds: 60) { true }
        let (started, bodyBytes) = try published.get()
        _ = try relayed.get()
        guard observed.distinct == messages else {
            throw BenchError("only \(observed.distinct) of \(messages) relayed messages arrived on the sink")
        }
        return Figures(messages: messages, seconds: seconds(from: started, to: observed.lastArrival), bodyBytes: bodyBytes)
    }

    private static func declareQueues(_ world: RunWorld, on connection: AMQPConnection) throws(AMQPError) {
        try Broker.declare(world.relaySource, type: world.queueType, on: connection)
        try Broker.declare(world.relaySink, type: world.queueType, on: connection)
    }

    /// Publishes `messages` missed-call events to the source queue with streaming confirms; returns the mean size.
    private static func publishSource(_ messages: Int, world: RunWorld, on connection: AMQPConnection) throws -> Int {
        let publisher = try ConfirmingPublisher(connection, window: 4096)
        let now = Int(Date().timeIntervalSince1970)
        var bytes = 0
        for index in 0..<messages {
            let id = BenchText.id(stream: idStream, index: index)
            let number = BenchNumbers.dialled(BenchNumbers.unknownMobile(pool: 2, index: index), style: index)
            let body = CallEvents.unanswered(eventID: id, callID: "\(now).\(index)", number: number, outcome: "missed",
                                             startedAt: now, endedAt: now + 30)
            bytes += body.count
            try publisher.publish(exchange: "", routingKey: world.relaySource, body: body, messageID: id)
        }
        try publisher.waitForAll()
        return bytes / max(1, messages)
    }

    /// Relays `messages` messages from the source to the sink on two threads; returns `monotonicNanos()` of
    /// the first delivery and of the last acknowledgement.
    private static func relay(broker: Broker, world: RunWorld, messages: Int) throws -> (UInt64, UInt64) {
        let handoff = RelayHandoff()
        let source = world.relaySource
        let sink = world.relaySink
        let consumer = BenchThread.start("metrika-bench-relay-consumer") {
            try handoff.failingOnError { try consume(broker: broker, queue: source, messages: messages, handoff: handoff) }
        }
        let publisher = BenchThread.start("metrika-bench-relay-publisher") {
            try handoff.failingOnError { try publish(broker: broker, queue: sink, messages: messages, handoff: handoff) }
        }
        let consumed = Result { try consumer.join() }
        let published = Result { try publisher.join() }
        let times = try consumed.get()
        try published.get()
        return times
    }

    /// The consumer thread: hands deliveries to the publisher in small batches and acknowledges what the
    /// publisher reports confirmed. Returns `monotonicNanos()` of the first delivery and of the last ack.
    private static func consume(broker: Broker, queue: String, messages: Int,
                                handoff: RelayHandoff) throws -> (UInt64, UInt64) {
        try broker.withConnection("relay-consumer") { connection in
            try connection.setPrefetch(prefetch)
            try connection.consume(queue: queue, consumerTag: "metrika-bench-relay")
            var received = 0
            var lastTag: UInt64 = 0
            var acknowledged: UInt64 = 0
            var first: UInt64 = 0
            var batch: [RelayMessage] = []
            var stall = StallWatch(limit: 60, what: "the relay")
            while received < messages || acknowledged < lastTag {
                var progressed = false
                if received < messages, let delivery = try connection.nextDelivery(timeoutMilliseconds: batch.isEmpty ? 1 : 0) {
                    if first == 0 { first = monotonicNanos() }
                    batch.append(RelayMessage(tag: delivery.deliveryTag, body: delivery.body, messageID: delivery.messageID))
                    received += 1
                    lastTag = delivery.deliveryTag
                    progressed = true
                    if batch.count < 64 && received < messages { continue }
                }
                if !batch.isEmpty {
                    handoff.push(batch)
                    batch.removeAll(keepingCapacity: true)
                }
                let confirmed = try handoff.confirmedThrough()
                if confirmed > acknowledged {
                    try connection.ack(deliveryTag: confirmed, multiple: true)
                    acknowledged = confirmed
                    progressed = true
                }
                try stall.check(progressed: progressed)
                if !progressed && received == messages { usleep(100) }
            }
            return (first, monotonicNanos())
        }
    }

    /// The publisher thread: publishes every handed-over message to the sink with streaming confirms and
    /// reports the delivery tag up to which everything is confirmed.
    private static func publish(broker: Broker, queue: String, messages: Int, handoff: RelayHandoff) throws {
        try broker.withConnection("relay-publisher") { connection in
            let publisher = try ConfirmingPublisher(connection, window: messages + 1)
            var tags: [UInt64] = []
            tags.reserveCapacity(messages)
            var stall = StallWatch(limit: 60, what: "the relay")
            while publisher.confirmedThrough < UInt64(messages) {
                let batch = try handoff.take()
                for message in batch {
                    try publisher.publish(exchange: "", routingKey: queue, body: message.body, messageID: message.messageID)
                    tags.append(message.tag)
                }
                let before = publisher.confirmedThrough
                try publisher.absorbConfirms(waitMilliseconds: batch.isEmpty ? 1 : 0)
                try publisher.checkNoRefusals()
                if publisher.confirmedThrough > 0 { handoff.confirm(through: tags[Int(publisher.confirmedThrough) - 1]) }
                try stall.check(progressed: !batch.isEmpty || publisher.confirmedThrough > before)
            }
        }
    }
}

/// A consumed message on its way to the relay's publisher.
struct RelayMessage: Sendable {
    let tag: UInt64
    let body: Data
    let messageID: String?
}

/// What the relay's two threads pass each other: deliveries one way; the other way, the delivery tag up
/// to which every output is confirmed (so the inputs may be acknowledged). Either side marks it failed,
/// so the other stops too.
final class RelayHandoff: Sendable {
    private struct State {
        var messages: [RelayMessage] = []
        var confirmedThrough: UInt64 = 0
        var failed = false
    }

    private let state = Mutex(State())

    /// Hands consumed messages to the publisher.
    func push(_ batch: [RelayMessage]) {
        state.withLock { $0.messages.append(contentsOf: batch) }
    }

    /// Everything pushed since the last call.
    func take() throws(BenchError) -> [RelayMessage] {
        let (messages, failed) = state.withLock { state in
            defer { state.messages.removeAll(keepingCapacity: true) }
            return (state.messages, state.failed)
        }
        guard !failed else { throw BenchError("the relay's consumer failed") }
        return messages
    }

    /// Records that every output up to the input with delivery tag `tag` is confirmed.
    func confirm(through tag: UInt64) {
        state.withLock { $0.confirmedThrough = max($0.confirmedThrough, tag) }
    }

    /// The delivery tag up to which every output is confirmed.
    func confirmedThrough() throws(BenchError) -> UInt64 {
        let (tag, failed) = state.withLock { ($0.confirmedThrough, $0.failed) }
        guard !failed else { throw BenchError("the relay's publisher failed") }
        return tag
    }

    /// Runs `body`; when it throws, marks the handoff failed before rethrowing.
    func failingOnError<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            state.withLock { $0.failed = true }
            throw error
        }
    }
}

/// Fails a loop that made no progress for `limit` seconds.
struct StallWatch {
    let limit: Double
    /// What stalled, for the error message.
    let what: String
    private var lastProgress = monotonicNanos()

    init(limit: Double, what: String) {
        self.limit = limit
        self.what = what
    }

    mutating func check(progressed: Bool) throws(BenchError) {
        let now = monotonicNanos()
        if progressed {
            lastProgress = now
        } else if seconds(from: lastProgress, to: now) > limit {
            throw BenchError("\(what) made no progress for \(Int(limit)) s")
        }
    }
}
