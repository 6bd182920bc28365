import Foundation
import MetrikaAMQP
import MetrikaStore
import Synchronization

/// The publishing side of the gateway, on its own thread with its own connection and database handle.
///
/// It streams outbox rows in order with publisher confirms (up to `windowSize` unconfirmed at a time)
/// and hands the confirmed rows to the consumer thread through `OutboxLedger`; the consumer deletes them
/// in its next transaction, so that one thread writes the database while the gateway runs. After a
/// reconnect or a restart everything not yet deleted is published again with the same `message_id` and
/// body: consumers may see a duplicate, never a loss.
final class OutboxPublisher: Sendable {
    private let configuration: GatewayConfiguration
    private let logger: Logger
    private let stop: StopSignal
    private let status: GatewayStatus
    private let metrics: GatewayMetrics
    private let wake: WakeSignal
    private let ledger: OutboxLedger
    /// Most rows published and not yet confirmed.
    private let windowSize = 2000
    /// How long confirms may stall while some are owed before the connection is given up.
    private let confirmTimeout: TimeInterval = 30

    init(configuration: GatewayConfiguration, logger: Logger, stop: StopSignal, status: GatewayStatus, metrics: GatewayMetrics,
         wake: WakeSignal, ledger: OutboxLedger) {
        self.configuration = configuration
        self.logger = logger
        self.stop = stop
        self.status = status
        self.metrics = metrics
        self.wake = wake
        self.ledger = ledger
    }

    /// Runs until stopped, then drains what is owed for at most `drainSeconds` and deletes what was
    /// confirmed (the consumer has stopped by then).
    func run(drainSeconds: Double) {
        guard let store = GatewayStore.openForThread(configuration, logger: logger, status: status) else { return }
        defer {
            deleteConfirmed(store)
            store.close()
        }
        var backoff = Backoff()
        var drainDeadline: Date?
        while true {
            if stop.isStopped {
                drainDeadline = drainDeadline ?? Date(timeIntervalSinceNow: drainSeconds)
                if Date() > drainDeadline! { return }
            }
            var connectedAt: Date?
            let publishedBefore = status.publishedCount
            do {
                let connection = try AMQPConnection(AMQPConnectionSettings(
                    url: configuration.amqpURL, tls: configuration.tls, heartbeatSeconds: configuration.heartbeatSeconds,
                    connectionName: "metrika-publisher"))
                connectedAt = Date()
                metrics.recordConnected(.publisher)
                status.set(publishing: true)
                defer { status.set(publishing: false) }
                do {
                    try connection.enableConfirms()
                    logger.info("publishing", ["broker": configuration.amqpURL.description])
                    try publishLoop(connection, store, drainSeconds: drainSeconds)
                    connection.close()
                    return
                } catch {
                    connection.abandon()
                    throw error
                }
            } catch let error as AMQPError {
                // Stopping and the broker is gone: what is owed stays in the outbox for the next start.
                if stop.isStopped { return }
                // Only a connection that did work (or stayed up) resets the back-off (see InboundConsumer.run).
                if let connectedAt, status.publishedCount > publishedBefore || Date().timeIntervalSince(connectedAt) > 30 {
                    backoff.reset()
                }
                let delay = backoff.next()
                logger.log(error.isRetryable ? .warning : .error,
                           connectedAt != nil ? "publisher connection lost; reconnecting" : "publisher cannot connect; retrying",
                           ["error": error.description, "retry_in_s": String(format: "%.2f", delay)])
                stop.sleep(delay)
            } catch {
                let delay = backoff.next()
                logger.error("publisher cannot read the outbox; retrying", ["error": "\(error)", "retry_in_s": String(format: "%.2f", delay)])
                stop.sleep(delay)
            }
        }
    }

    /// Deletes the rows confirmed but not yet deleted by the consumer (at shutdown).
    private func deleteConfirmed(_ store: GatewayStore) {
        let seqs = ledger.takeConfirmed()
        guard !seqs.isEmpty else { return }
        do {
            try store.transaction { try store.deleteConfirmed(seqs: seqs) }
            ledger.markDeleted(seqs)
        } catch {
            logger.warning("cannot delete confirmed events at shutdown; they are published again at the next start",
                           ["count": String(seqs.count), "error": "\(error)"])
        }
    }

    /// Streams the outbox until stopped and drained (or the drain time is up).
    private func publishLoop(_ connection: AMQPConnection, _ store: GatewayStore, drainSeconds: Double) throws {
        var window = ConfirmWindow()
        var cursor: Int64 = 0
        var drainDeadline: Date?
        var lastRead = Date.distantPast
        var lastProgress = Date()
        while true {
            if window.isEmpty { lastProgress = Date() }
            // Confirms: a short wait when nothing else is to be done, none otherwise.
            let due = wake.consume() || stop.isStopped || Date().timeIntervalSince(lastRead) > 0.2
            let canPublish = window.count < windowSize && !connection.isBlocked
            for confirm in try connection.waitForConfirms(timeoutMilliseconds: due && canPublish ? 0 : 2) {
                let (acked, refused, waited) = window.settle(confirm)
                if !acked.isEmpty || !refused.isEmpty { lastProgress = Date() }
                if !acked.isEmpty {
                    configuration.failPoint.reach(.afterConfirm, logger: logger)
                    ledger.confirm(acked)
                    status.recordPublished(acked.count)
                }
                if !acked.isEmpty || !refused.isEmpty {
                    metrics.recordConfirms(acknowledged: acked.count, refused: refused.count, after: waited)
                }
                if let first = refused.min() {
                    logger.warning("the broker refused events; they will be published again", ["count": String(refused.count)])
                    cursor = min(cursor, first - 1)
                    stop.sleep(1)
                }
            }
            if !window.isEmpty, Date().timeIntervalSince(lastProgress) > confirmTimeout {
                throw AMQPError(.timeout, "\(window.count) publisher confirms did not arrive within \(Int(confirmTimeout)) s")
            }
            if connection.isBlocked { try waitWhileBlocked(connection) }
            guard due, window.count < windowSize else { continue }
            lastRead = Date()
            let rows = try store.pendingOutbox(afterSeq: cursor, limit: windowSize - window.count)
            guard let last = rows.last else {
                if stop.isStopped, window.isEmpty { return }
                if stop.isStopped {
                    drainDeadline = drainDeadline ?? Date(timeIntervalSinceNow: drainSeconds)
                    if Date() > drainDeadline! {
                        logger.warning("stopping with unconfirmed events; they are published again at the next start",
                                       ["unconfirmed": String(window.count)])
                        return
                    }
                }
                continue
            }
            for message in rows where !ledger.isConfirmed(message.seq) {
                let properties = AMQPMessageProperties(messageID: message.messageID, correlationID: message.correlationID,
                                                       headers: message.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value.amqp) })
                let tag = try connection.publish(exchange: message.exchange, routingKey: message.routingKey,
                                                 body: message.body, properties: properties)
                window.append(tag: tag, seq: message.seq)
            }
            cursor = last.seq
            configuration.failPoint.reach(.afterPublish, logger: logger)
            wake.signal()
        }
    }

    /// While the broker blocks publishers (memory or disk alarm), services the connection and waits.
    private func waitWhileBlocked(_ connection: AMQPConnection) throws {
        guard connection.isBlocked else { return }
        logger.warning("the broker blocked publishing (resource alarm); waiting")
        while connection.isBlocked && !stop.isStopped {
            _ = try connection.waitForConfirms(timeoutMilliseconds: 1000)
        }
        logger.info("the broker unblocked publishing")
    }
}

/// Published rows waiting for their confirms, in publish order.
struct ConfirmWindow {
    private var tags: [UInt64] = []
    private var seqs: [Int64] = []
    private var publishedAt: [ContinuousClock.Instant] = []

    var count: Int { tags.count }
    var isEmpty: Bool { tags.isEmpty }

    mutating func append(tag: UInt64, seq: Int64) {
        tags.append(tag)
        seqs.append(seq)
        publishedAt.append(.now)
    }

    /// Removes what `confirm` settles; returns the outbox seqs acknowledged and refused, and how long the
    /// oldest of them waited.
    mutating func settle(_ confirm: AMQPConfirm) -> (acked: [Int64], refused: [Int64], waited: Duration) {
        let range: Range<Int>
        if confirm.multiple {
            range = 0..<(tags.firstIndex { $0 > confirm.deliveryTag } ?? tags.count)
        } else if let index = tags.firstIndex(of: confirm.deliveryTag) {
            range = index..<index + 1
        } else {
            return ([], [], .zero)
        }
        let settled = Array(seqs[range])
        let waited = range.isEmpty ? .zero : publishedAt[range.lowerBound].duration(to: .now)
        tags.removeSubrange(range)
        seqs.removeSubrange(range)
        publishedAt.removeSubrange(range)
        return confirm.acknowledged ? (settled, [], waited) : ([], settled, waited)
    }
}

/// Outbox rows the broker confirmed, handed from the publisher thread to the thread that deletes them.
final class OutboxLedger: Sendable {
    private struct State {
        var toDelete: [Int64] = []
        var confirmed: Set<Int64> = []
    }
    private let state = Mutex(State())

    /// Records confirmed rows.
    func confirm(_ seqs: [Int64]) {
        state.withLock {
            $0.toDelete.append(contentsOf: seqs)
            $0.confirmed.formUnion(seqs)
        }
    }

    /// Whether a row was confirmed and awaits deletion (so it is not published again meanwhile).
    func isConfirmed(_ seq: Int64) -> Bool { state.withLock { $0.confirmed.contains(seq) } }

    /// The confirmed rows to delete now; give them back with `restore` if the transaction fails.
    func takeConfirmed() -> [Int64] {
        state.withLock { state in
            defer { state.toDelete.removeAll(keepingCapacity: true) }
            return state.toDelete
        }
    }

    /// Returns rows whose deletion was rolled back.
    func restore(_ seqs: [Int64]) { state.withLock { $0.toDelete.append(contentsOf: seqs) } }

    /// Forgets rows once their deletion committed.
    func markDeleted(_ seqs: [Int64]) { state.withLock { $0.confirmed.subtract(seqs) } }
}

/// Wakes the publisher when the consumer committed new outbox rows.
final class WakeSignal: Sendable {
    private let flag = Mutex(false)

    func signal() { flag.withLock { $0 = true } }

    /// Whether a signal arrived since the last call (and clears it).
    func consume() -> Bool { flag.withLock { value in defer { value = false }; return value } }
}

extension OutboxHeaderValue {
    var amqp: AMQPFieldValue {
        switch self {
        case let .string(text): .string(text)
        case let .integer(number): .int64(number)
        }
    }
}
