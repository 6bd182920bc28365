import Foundation
import MetrikaAMQP
import MetrikaStore
import Synchronization

/// The publishing side of the gateway, on its own thread with its own connection and database handle.
///
/// It publishes outbox rows in order with publisher confirms and deletes a row only after the broker
/// confirmed it. After a reconnect it republishes everything unconfirmed with the same `message_id`
/// and body, so consumers may see a duplicate but never a loss.
final class OutboxPublisher: Sendable {
    private let configuration: GatewayConfiguration
    private let logger: Logger
    private let stop: StopSignal
    private let status: GatewayStatus
    private let metrics: GatewayMetrics
    private let wake: WakeSignal
    /// Rows published per round before waiting for their confirms.
    private let windowSize = 1000
    /// How long to wait for the confirms of one round before giving up on the connection.
    private let confirmTimeout: TimeInterval = 30

    init(configuration: GatewayConfiguration, logger: Logger, stop: StopSignal, status: GatewayStatus, metrics: GatewayMetrics,
         wake: WakeSignal) {
        self.configuration = configuration
        self.logger = logger
        self.stop = stop
        self.status = status
        self.metrics = metrics
        self.wake = wake
    }

    /// Runs until stopped, then drains what is owed for at most `drainSeconds`.
    func run(drainSeconds: Double) {
        guard let store = GatewayStore.openForThread(configuration, logger: logger, status: status) else { return }
        defer { store.close() }
        var backoff = Backoff()
        var drainDeadline: Date?
        while true {
            if stop.isStopped {
                drainDeadline = drainDeadline ?? Date(timeIntervalSinceNow: drainSeconds)
                if (try? store.outboxDepth()) == 0 || Date() > drainDeadline! { return }
            }
            var connected = false
            do {
                let connection = try AMQPConnection(AMQPConnectionSettings(
                    url: configuration.amqpURL, tls: configuration.tls, heartbeatSeconds: configuration.heartbeatSeconds,
                    connectionName: "metrika-publisher"))
                connected = true
                metrics.recordConnected(.publisher)
                backoff.reset()
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
                let delay = backoff.next()
                logger.log(error.isRetryable ? .warning : .error,
                           connected ? "publisher connection lost; reconnecting" : "publisher cannot connect; retrying",
                           ["error": error.description, "retry_in_s": String(format: "%.2f", delay)])
                if stop.isStopped, drainDeadline.map({ Date() > $0 }) ?? false { return }
                stop.sleep(delay)
            } catch {
                let delay = backoff.next()
                logger.error("publisher cannot read the outbox; retrying", ["error": "\(error)", "retry_in_s": String(format: "%.2f", delay)])
                stop.sleep(delay)
            }
        }
    }

    /// Publishes until stopped and drained (or the drain time is up).
    private func publishLoop(_ connection: AMQPConnection, _ store: GatewayStore, drainSeconds: Double) throws {
        var drainDeadline: Date?
        var lastPoll = Date.distantPast
        while true {
            // The outbox is read when the consumer committed something, and every 200 ms in case
            // another process did; in between, waiting on the socket services heartbeats.
            guard wake.consume() || stop.isStopped || Date().timeIntervalSince(lastPoll) > 0.2 else {
                _ = try connection.waitForConfirms(timeoutMilliseconds: 2)
                continue
            }
            lastPoll = Date()
            let pending = try store.pendingOutbox(afterSeq: 0, limit: windowSize)
            if pending.isEmpty {
                if stop.isStopped { return }
                continue
            }
            if stop.isStopped {
                drainDeadline = drainDeadline ?? Date(timeIntervalSinceNow: drainSeconds)
                if Date() > drainDeadline! {
                    logger.warning("stopping with unpublished events; they are published at the next start",
                                   ["outbox_depth": String((try? store.outboxDepth()) ?? -1)])
                    return
                }
            }
            try waitWhileBlocked(connection)
            let confirmed = try publish(pending, on: connection)
            configuration.failPoint.reach(.afterConfirm)
            if !confirmed.isEmpty {
                try store.transaction { try store.deleteConfirmed(seqs: confirmed) }
                status.recordPublished(confirmed.count)
            }
            if confirmed.count < pending.count {
                // The broker refused some (nack): give it a moment instead of republishing in a hot loop.
                stop.sleep(1)
            }
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

    /// Publishes a window of rows and waits for their confirms; returns the outbox seqs the broker acked.
    private func publish(_ messages: [OutboxMessage], on connection: AMQPConnection) throws -> [Int64] {
        var outstanding: [UInt64: Int64] = [:]
        for message in messages {
            let properties = AMQPMessageProperties(messageID: message.messageID, correlationID: message.correlationID,
                                                   headers: message.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value.amqp) })
            let sequence = try connection.publish(exchange: message.exchange, routingKey: message.routingKey,
                                                  body: message.body, properties: properties)
            outstanding[sequence] = message.seq
        }
        configuration.failPoint.reach(.afterPublish)
        let written = ContinuousClock.now
        var acked: [Int64] = []
        var nacked = 0
        let deadline = Date(timeIntervalSinceNow: confirmTimeout)
        while !outstanding.isEmpty {
            guard Date() < deadline else {
                throw AMQPError(.timeout, "\(outstanding.count) publisher confirms did not arrive within \(Int(confirmTimeout)) s")
            }
            for confirm in try connection.waitForConfirms(timeoutMilliseconds: 1000) {
                let tags = confirm.multiple ? outstanding.keys.filter { $0 <= confirm.deliveryTag } : [confirm.deliveryTag]
                let waiting = outstanding.count
                for tag in tags {
                    guard let seq = outstanding.removeValue(forKey: tag) else { continue }
                    if confirm.acknowledged { acked.append(seq) } else { nacked += 1 }
                }
                let answered = waiting - outstanding.count
                metrics.recordConfirms(acknowledged: confirm.acknowledged ? answered : 0, refused: confirm.acknowledged ? 0 : answered,
                                       after: written.duration(to: .now))
            }
        }
        if nacked > 0 {
            logger.warning("the broker refused events; they will be published again", ["count": String(nacked)])
        }
        return acked
    }
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
