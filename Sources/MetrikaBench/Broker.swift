import Foundation
import MetrikaAMQP
import Synchronization

/// The broker the bench talks to (`METRIKA_BENCH_AMQP_URL`).
struct Broker: Sendable {
    let url: AMQPURL

    /// Opens a connection; use and close it on the calling thread.
    func connect(_ role: String) throws(AMQPError) -> AMQPConnection {
        try AMQPConnection(AMQPConnectionSettings(url: url, connectionName: "metrika-bench-\(role)"))
    }

    /// Runs `body` on a fresh connection on the calling thread; closes it afterwards (abandons it on error).
    func withConnection<T>(_ role: String, _ body: (AMQPConnection) throws -> T) throws -> T {
        let connection = try connect(role)
        do {
            let value = try body(connection)
            connection.close()
            return value
        } catch {
            connection.abandon()
            throw error
        }
    }

    /// Declares a durable queue of `type` (`quorum` or `classic`).
    static func declare(_ queue: String, type: String, on connection: AMQPConnection) throws(AMQPError) {
        try connection.declareQueue(queue, arguments: [("x-queue-type", .string(type))])
    }
}

/// Publishes persistent messages with streaming publisher confirms: up to `window` unconfirmed at a
/// time, confirms read as they arrive, never one round trip per message.
///
/// Not thread-safe: it belongs to the thread that owns its connection.
final class ConfirmingPublisher {
    private let connection: AMQPConnection
    private let window: UInt64
    /// Sequence number of the last publish.
    private(set) var published: UInt64 = 0
    /// Every publish up to this sequence number has its confirm (ack or nack).
    private(set) var confirmedThrough: UInt64 = 0
    private var confirmedAhead = Set<UInt64>()
    private var refusals = 0

    /// Puts `connection`'s channel in confirm mode.
    init(_ connection: AMQPConnection, window: Int) throws(AMQPError) {
        self.connection = connection
        self.window = UInt64(window)
        try connection.enableConfirms()
    }

    /// Publishes one message, first waiting for confirms while the window is full.
    func publish(exchange: String, routingKey: String, body: Data, messageID: String?) throws(AMQPError) {
        while published - confirmedThrough >= window {
            try absorbConfirms(waitMilliseconds: 100)
        }
        published = try connection.publish(exchange: exchange, routingKey: routingKey, body: body,
                                           properties: AMQPMessageProperties(messageID: messageID))
        if published % 128 == 0 { try absorbConfirms(waitMilliseconds: 0) }
    }

    /// Reads the confirms that arrived, waiting up to `waitMilliseconds` for the first one.
    func absorbConfirms(waitMilliseconds: Int) throws(AMQPError) {
        for confirm in try connection.waitForConfirms(timeoutMilliseconds: waitMilliseconds) {
            if !confirm.acknowledged { refusals += 1 }
            if confirm.multiple {
                confirmedThrough = max(confirmedThrough, confirm.deliveryTag)
                if !confirmedAhead.isEmpty { confirmedAhead = confirmedAhead.filter { $0 > confirmedThrough } }
            } else {
                confirmedAhead.insert(confirm.deliveryTag)
            }
            while confirmedAhead.remove(confirmedThrough + 1) != nil { confirmedThrough += 1 }
        }
    }

    /// Waits until every publish is confirmed; throws on a nack or after `timeout` seconds.
    func waitForAll(timeout: Double = 60) throws {
        let deadline = monotonicNanos() + UInt64(timeout * 1e9)
        while confirmedThrough < published {
            guard monotonicNanos() < deadline else {
                throw BenchError("the broker did not confirm \(published - confirmedThrough) publishes within \(Int(timeout)) s")
            }
            try absorbConfirms(waitMilliseconds: 100)
        }
        try checkNoRefusals()
    }

    /// Throws when the broker refused (nacked) anything so far.
    func checkNoRefusals() throws(BenchError) {
        guard refusals == 0 else { throw BenchError("the broker refused \(refusals) publishes (basic.nack)") }
    }
}

/// What an `EventObserver` saw.
struct ObservedEvents: Sendable {
    /// Distinct events (by `message_id`) per routing key.
    var byType: [String: Int] = [:]
    /// Distinct events in all.
    var distinct = 0
    /// Events seen again with an id already counted (the gateway republishes after a reconnect).
    var duplicates = 0
    /// `monotonicNanos()` when the last distinct event arrived.
    var lastArrival: UInt64 = 0
    /// Arrival time per index, for events the observer's `index` function recognises (0 = not arrived).
    var arrivals: [UInt64] = []
    /// The bodies, when the observer keeps them.
    var bodies: [Data] = []
}

/// Counts the gateway's events on a durable queue bound to its events exchange, on its own thread and
/// connection, until the expected number of distinct events arrived or it is told to stop.
final class EventObserver: Sendable {
    /// How to recognise an event that has a per-index arrival time (e.g. the latency scenario's phone).
    typealias Indexer = @Sendable (Data) -> Int?

    private let expected: Int
    private let signals: ObserverSignals
    private let thread: BenchThread<ObservedEvents>

    /// Declares `queue` (of `queueType`), binds it to `exchange` with `routingKeys` (with no exchange, the
    /// queue is consumed as it is: filled through the default exchange), starts consuming,
    /// and returns once the consumer is in place, so no event published afterwards can be missed.
    /// `index` gives the position of events whose arrival time is kept (`indexCount` positions).
    init(broker: Broker, queue: String, queueType: String, exchange: String?, routingKeys: [String], expected: Int,
         indexCount: Int = 0, keepBodies: Bool = false, index: Indexer? = nil) throws {
        self.expected = expected
        let signals = ObserverSignals()
        self.signals = signals
        thread = BenchThread.start("metrika-bench-observer") {
            try EventObserver.observe(broker: broker, queue: queue, queueType: queueType, exchange: exchange,
                                      routingKeys: routingKeys, expected: expected, indexCount: indexCount,
                                      keepBodies: keepBodies, index: index, signals: signals)
        }
        signals.ready.wait()
        if signals.setupFailed.load(ordering: .acquiring) { _ = try thread.join() }
    }

    /// Distinct events so far.
    var count: Int { signals.progress.load(ordering: .relaxed) }

    /// Waits until the expected events arrived, or nothing new arrived for `stallSeconds`, or
    /// `stillRunning` turns false (the gateway died); returns what was observed either way.
    func finish(stallSeconds: Double, stillRunning: () -> Bool) throws -> ObservedEvents {
        var lastCount = count
        var lastChange = monotonicNanos()
        while count < expected {
            usleep(5_000)
            let now = monotonicNanos()
            if count != lastCount {
                lastCount = count
                lastChange = now
            }
            if seconds(from: lastChange, to: now) > stallSeconds || !stillRunning() { break }
        }
        signals.stopRequested.store(true, ordering: .releasing)
        return try thread.join()
    }

    private static func observe(broker: Broker, queue: String, queueType: String, exchange: String?, routingKeys: [String],
                                expected: Int, indexCount: Int, keepBodies: Bool, index: Indexer?,
                                signals: ObserverSignals) throws -> ObservedEvents {
        let connection: AMQPConnection
        do {
            connection = try broker.connect("observer")
            do {
                try Broker.declare(queue, type: queueType, on: connection)
                if let exchange {
                    for key in routingKeys { try connection.bindQueue(queue, exchange: exchange, routingKey: key) }
                }
                try connection.setPrefetch(1000)
                try connection.consume(queue: queue, consumerTag: "metrika-bench-observer")
            } catch {
                connection.abandon()
                throw error
            }
        } catch {
            signals.setupFailed.store(true, ordering: .releasing)
            signals.ready.signal()
            throw error
        }
        signals.ready.signal()
        do {
            let observed = try count(on: connection, expected: expected, indexCount: indexCount, keepBodies: keepBodies,
                                     index: index, signals: signals)
            connection.close()
            return observed
        } catch {
            connection.abandon()
            throw error
        }
    }

    private static func count(on connection: AMQPConnection, expected: Int, indexCount: Int, keepBodies: Bool, index: Indexer?,
                              signals: ObserverSignals) throws -> ObservedEvents {
        var observed = ObservedEvents()
        observed.arrivals = Array(repeating: 0, count: indexCount)
        var seen = Set<String>()
        var unacknowledged: UInt64 = 0
        var unacknowledgedCount = 0
        while observed.distinct < expected && !signals.stopRequested.load(ordering: .acquiring) {
            guard let delivery = try connection.nextDelivery(timeoutMilliseconds: 20) else {
                if unacknowledgedCount > 0 {
                    try connection.ack(deliveryTag: unacknowledged, multiple: true)
                    unacknowledgedCount = 0
                }
                continue
            }
            let arrival = monotonicNanos()
            unacknowledged = delivery.deliveryTag
            unacknowledgedCount += 1
            if unacknowledgedCount >= 500 {
                try connection.ack(deliveryTag: unacknowledged, multiple: true)
                unacknowledgedCount = 0
            }
            if let id = delivery.messageID, !seen.insert(id).inserted {
                observed.duplicates += 1
                continue
            }
            observed.byType[delivery.routingKey, default: 0] += 1
            observed.distinct += 1
            observed.lastArrival = arrival
            if keepBodies { observed.bodies.append(delivery.body) }
            if let position = index?(delivery.body), observed.arrivals.indices.contains(position), observed.arrivals[position] == 0 {
                observed.arrivals[position] = arrival
            }
            signals.progress.store(observed.distinct, ordering: .relaxed)
        }
        if unacknowledgedCount > 0 { try connection.ack(deliveryTag: unacknowledged, multiple: true) }
        return observed
    }
}

/// What an observer thread and its owner share.
private final class ObserverSignals: Sendable {
    let progress = Atomic<Int>(0)
    let stopRequested = Atomic<Bool>(false)
    let setupFailed = Atomic<Bool>(false)
    let ready = DispatchSemaphore(value: 0)
}
