import Foundation
import MetrikaAMQP
import MetrikaDomain
import MetrikaGateway
import MetrikaStore

/// Where the integration tests find RabbitMQ: `METRIKA_TEST_AMQP_URL`, default the local broker.
/// The README's test command starts it; tests fail (never skip) when it is missing.
public let testBrokerURL: AMQPURL = {
    let text = ProcessInfo.processInfo.environment["METRIKA_TEST_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/%2f"
    return try! AMQPURL(parsing: text)
}()

/// The repository root, for contracts and samples.
public let repositoryRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A failure of the test harness itself.
public struct HarnessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A gateway running in-process against the real broker, with its own exchange and queue names
/// (a unique prefix per test) and its own SQLite file in a temporary directory.
public final class TestGateway {
    public let prefix: String
    public let names: TopologyNames
    public let directory: URL
    public let configuration: GatewayConfiguration
    public private(set) var gateway: Gateway
    private let client: AMQPConnection
    private let events: EventTap
    private let logLines = LogLines()

    /// Starts a gateway and a tap on its events exchange; `adjust` can change the configuration.
    public init(prefix: String = "t\(UUID().uuidString.prefix(8).lowercased()).", _ adjust: (inout GatewayConfiguration) -> Void = { _ in }) throws {
        self.prefix = prefix
        names = TopologyNames(prefix: prefix)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("metrika-test-\(prefix)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = GatewayConfiguration(amqpURL: testBrokerURL)
        configuration.names = names
        configuration.databasePath = directory.appendingPathComponent("metrika.sqlite").path
        configuration.logLevel = .debug
        adjust(&configuration)
        self.configuration = configuration
        let lines = logLines
        gateway = try Gateway(configuration: configuration, logger: Logger(level: .debug) { lines.append($0) })
        client = try AMQPConnection(AMQPConnectionSettings(url: testBrokerURL, connectionName: "metrika-test-client"))
        try client.enableConfirms()
        try gateway.topology.declare(on: client)
        events = try EventTap(exchange: names.eventsExchange)
        gateway.start()
        guard gateway.waitUntilReady(timeout: 20) else {
            throw HarnessError("the gateway did not connect to \(testBrokerURL) within 20 s: \(gateway.status.failure ?? "no failure reported"); logs:\n\(logLines.all.suffix(20).joined(separator: "\n"))")
        }
    }

    deinit {
        shutdown()
    }

    private var isShutDown = false

    /// Stops the gateway, deletes the test's queues and exchanges and its temporary directory.
    public func shutdown() {
        guard !isShutDown else { return }
        isShutDown = true
        gateway.stop()
        events.close()
        try? client.deleteQueue(names.deadQueue)
        for queue in extraQueues { try? client.deleteQueue(queue) }
        for input in gateway.topology.inputs {
            try? client.deleteQueue(input.queue)
            for delayQueue in gateway.topology.delayQueues(for: input.queue) { try? client.deleteQueue(delayQueue.name) }
        }
        for exchange in [names.rsExchange, names.telephonyExchange, names.commandsExchange, names.eventsExchange, names.freeswitchExchange] {
            try? client.deleteExchange(exchange)
        }
        client.close()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Stops the running gateway and starts a new one on the same database and queues.
    public func restart() {
        restart(whileStopped: {})
    }

    /// Stops the running gateway, runs `whileStopped` (publish what queues during the outage, wait), and
    /// starts a new gateway on the same database and queues.
    public func restart(whileStopped: () throws -> Void) rethrows {
        gateway.stop()
        try whileStopped()
        let lines = logLines
        gateway = try! Gateway(configuration: configuration, logger: Logger(level: .debug) { lines.append($0) })
        gateway.start()
        _ = gateway.waitUntilReady(timeout: 20)
    }

    /// The gateway's log lines so far.
    public var logs: [String] { logLines.all }

    // MARK: Publishing

    /// Publishes a JSON object (serialised with sorted keys) and waits for the broker's confirm.
    public func publish(_ object: [String: Any], exchange: String, routingKey: String, messageID: String? = nil,
                        replyTo: String? = nil, correlationID: String? = nil) throws {
        let body = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        try publishRaw(body, exchange: exchange, routingKey: routingKey, messageID: messageID, replyTo: replyTo,
                       correlationID: correlationID)
    }

    /// Publishes raw bytes and waits for the broker's confirm.
    public func publishRaw(_ body: Data, exchange: String, routingKey: String, messageID: String? = nil,
                           replyTo: String? = nil, correlationID: String? = nil, contentType: String = "application/json",
                           headers: [(String, AMQPFieldValue)] = []) throws {
        let properties = AMQPMessageProperties(messageID: messageID, correlationID: correlationID, replyTo: replyTo,
                                               contentType: contentType, headers: headers)
        let sequence = try client.publish(exchange: exchange, routingKey: routingKey, body: body, properties: properties)
        let deadline = Date(timeIntervalSinceNow: 10)
        while Date() < deadline {
            if try client.waitForConfirms(timeoutMilliseconds: 500).contains(where: { $0.deliveryTag >= sequence && $0.acknowledged }) {
                return
            }
        }
        throw HarnessError("the broker did not confirm the test's publish")
    }

    public func publishSubscriber(_ object: [String: Any]) throws {
        try publish(object, exchange: names.rsExchange, routingKey: "subscriber.updated")
    }

    public func publishCall(_ object: [String: Any]) throws {
        try publish(object, exchange: names.telephonyExchange, routingKey: object["type"] as? String ?? "call.ended")
    }

    public func publishCommand(_ object: [String: Any], replyTo: String? = nil, correlationID: String? = nil) throws {
        try publish(object, exchange: names.commandsExchange, routingKey: object["type"] as? String ?? "ticket.create",
                    replyTo: replyTo, correlationID: correlationID)
    }

    /// Declares a queue for command replies, named after the test; deleted at shutdown.
    public func declareReplyQueue() throws -> String {
        let queue = "\(prefix)replies"
        try client.declareQueue(queue)
        extraQueues.append(queue)
        return queue
    }

    private var extraQueues: [String] = []

    // MARK: Observing

    /// The next event published on the events exchange within `timeout` seconds.
    public func nextEvent(timeout: TimeInterval = 10) throws -> ReceivedMessage {
        guard let message = try events.next(timeout: timeout) else {
            throw HarnessError("no event arrived within \(timeout) s; gateway logs:\n\(logs.suffix(15).joined(separator: "\n"))")
        }
        return message
    }

    /// The next event of `type`, skipping others (which are kept in `skipped`).
    public func nextEvent(ofType type: String, timeout: TimeInterval = 10) throws -> ReceivedMessage {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while true {
            let event = try nextEvent(timeout: max(0.1, deadline.timeIntervalSinceNow))
            if event.type == type { return event }
            skipped.append(event)
        }
    }

    /// Events that `nextEvent(ofType:)` skipped.
    public var skipped: [ReceivedMessage] = []

    /// Every event arriving within `seconds`.
    public func events(during seconds: TimeInterval) throws -> [ReceivedMessage] {
        var all: [ReceivedMessage] = []
        let deadline = Date(timeIntervalSinceNow: seconds)
        while deadline.timeIntervalSinceNow > 0, let event = try events.next(timeout: deadline.timeIntervalSinceNow) {
            all.append(event)
        }
        return all
    }

    /// Takes every message currently in `queue` (e.g. the dead-letter queue), waiting up to `timeout`
    /// for at least `atLeast` of them.
    public func drain(queue: String, atLeast: Int = 1, timeout: TimeInterval = 10) throws -> [ReceivedMessage] {
        let tap = try EventTap(queue: queue)
        defer { tap.close() }
        var all: [ReceivedMessage] = []
        let deadline = Date(timeIntervalSinceNow: timeout)
        while let message = try tap.next(timeout: all.count >= atLeast ? 0.5 : max(0.1, deadline.timeIntervalSinceNow)) {
            all.append(message)
        }
        return all
    }

    /// Polls `condition` until it holds or `timeout` passes.
    public func eventually(timeout: TimeInterval = 10, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        repeat {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        } while Date() < deadline
        return false
    }

    // MARK: Database

    /// Runs a read-only query on the gateway's SQLite file through a separate connection.
    public func query<T>(_ sql: String, _ values: [SQLValue] = [], _ row: (SQLiteStatement) -> T) throws -> [T] {
        let connection = try SQLiteConnection(path: configuration.databasePath)
        defer { connection.close() }
        return try connection.query(sql, values) { statement in row(statement) }
    }

    /// The number of rows `sql` (a `SELECT COUNT(*) …`) counts.
    public func count(_ sql: String, _ values: [SQLValue] = []) throws -> Int {
        Int(try query(sql, values) { $0.int(0) }.first ?? 0)
    }

    /// A stored ticket, decoded.
    public func ticket(_ id: String) throws -> Ticket? {
        try query("SELECT body FROM tickets WHERE ticket_id = ?", [.text(id)]) { $0.text(0) }.first.flatMap { body in
            try JSONDecoder().decode(Ticket.self, from: Data((body ?? "").utf8))
        }
    }
}

/// A message received by the test: body, parsed JSON and AMQP properties.
public struct ReceivedMessage {
    public let body: Data
    public let json: [String: Any]
    public let routingKey: String
    public let messageID: String?
    public let correlationID: String?
    public let headers: [String: AMQPFieldValue]

    public var type: String? { json["type"] as? String }
    public subscript(key: String) -> Any? { json[key] }
}

/// A consumer on its own connection: a server-named queue bound to an exchange with `#`, or an existing queue.
public final class EventTap {
    private let connection: AMQPConnection

    /// Binds a fresh exclusive queue to `exchange` for every routing key.
    public init(exchange: String) throws {
        connection = try AMQPConnection(AMQPConnectionSettings(url: testBrokerURL, connectionName: "metrika-test-tap"))
        let queue = try connection.declareTemporaryQueue()
        try connection.bindQueue(queue, exchange: exchange, routingKey: "#")
        try connection.consume(queue: queue, consumerTag: "tap")
    }

    /// Consumes from an existing queue.
    public init(queue: String) throws {
        connection = try AMQPConnection(AMQPConnectionSettings(url: testBrokerURL, connectionName: "metrika-test-tap"))
        try connection.consume(queue: queue, consumerTag: "tap")
    }

    /// The next message within `timeout` seconds, acknowledged; nil on timeout.
    public func next(timeout: TimeInterval) throws -> ReceivedMessage? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        repeat {
            let wait = max(0, min(500, Int(deadline.timeIntervalSinceNow * 1000)))
            if let delivery = try connection.nextDelivery(timeoutMilliseconds: wait) {
                try connection.ack(deliveryTag: delivery.deliveryTag, multiple: false)
                let json = (try? JSONSerialization.jsonObject(with: delivery.body)) as? [String: Any] ?? [:]
                return ReceivedMessage(body: delivery.body, json: json, routingKey: delivery.routingKey, messageID: delivery.messageID,
                                       correlationID: delivery.correlationID, headers: delivery.headers)
            }
        } while Date() < deadline
        return nil
    }

    public func close() { connection.close() }
}

/// Log lines collected from a gateway's logger.
final class LogLines: @unchecked Sendable {
    // Guarded by `lock`; @unchecked because the logger calls `append` from the gateway's threads.
    private let lock = NSLock()
    private var lines: [String] = []

    func append(_ line: String) {
        lock.lock()
        lines.append(line)
        lock.unlock()
    }

    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }
}
