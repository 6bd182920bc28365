import Foundation
import MetrikaAMQP
import MetrikaDomain
import MetrikaStore
import Synchronization

/// The consuming side of the gateway, on its own thread with its own connection and database handle.
///
/// It takes up to `prefetch` deliveries at a time, applies them in one SQLite transaction, and only
/// after the commit acknowledges them all with one multiple-ack. On a lost connection it reconnects with
/// capped, jittered back-off; unacknowledged deliveries go back to their queues and are deduplicated
/// when they come again.
final class InboundConsumer: Sendable {
    private let configuration: GatewayConfiguration
    private let topology: Topology
    private let desk: TicketDesk
    private let logger: Logger
    private let stop: StopSignal
    private let status: GatewayStatus
    private let metrics: GatewayMetrics
    /// Outbox rows the publisher got confirmed; this thread deletes them, so only it writes the database.
    private let ledger: OutboxLedger
    private let outboxChanged: @Sendable () -> Void

    init(configuration: GatewayConfiguration, topology: Topology, desk: TicketDesk, logger: Logger, stop: StopSignal,
         status: GatewayStatus, metrics: GatewayMetrics, ledger: OutboxLedger, outboxChanged: @escaping @Sendable () -> Void) {
        self.configuration = configuration
        self.topology = topology
        self.desk = desk
        self.logger = logger
        self.stop = stop
        self.status = status
        self.metrics = metrics
        self.ledger = ledger
        self.outboxChanged = outboxChanged
    }

    /// Runs until stopped. Owns the store it opens.
    func run() {
        guard let store = GatewayStore.openForThread(configuration, logger: logger, status: status) else { return }
        defer { store.close() }
        let processor = MessageProcessor(store: store, desk: desk, limits: configuration.limits, topology: topology,
                                         pbx: configuration.pbx, logger: logger)
        var backoff = Backoff()
        // Deliveries still to take one at a time after a delivery that rabbitmq-c could not decode broke
        // the connection: with prefetch 1 only that message is redelivered (and parked by the queue's
        // delivery limit), instead of pushing every message in flight towards the limit.
        var cautious = 0
        while !stop.isStopped {
            var connectedAt: Date?
            let consumedBefore = status.consumedCount
            do {
                let connection = try connect(prefetch: cautious > 0 ? 1 : configuration.prefetch)
                connectedAt = Date()
                metrics.recordConnected(.consumer)
                status.set(consuming: true)
                defer { status.set(consuming: false) }
                do {
                    try consume(connection, processor, store, cautious: &cautious)
                    connection.close()
                } catch {
                    connection.abandon()
                    throw error
                }
            } catch let error as AMQPError {
                let connected = connectedAt != nil
                // Only a connection that did work (or stayed up) resets the back-off: one the broker keeps
                // closing at once (a refused permission, a poison delivery) must not reconnect in a tight loop.
                if let connectedAt, status.consumedCount > consumedBefore || Date().timeIntervalSince(connectedAt) > 30 {
                    backoff.reset()
                }
                if error.code == .protocolError {
                    cautious = 100
                    logger.warning("taking deliveries one at a time until the undecodable one is parked", [:])
                }
                let delay = backoff.next()
                let level: LogLevel = error.isRetryable ? .warning : .error
                logger.log(level, connected ? "consumer connection lost; reconnecting" : "consumer cannot connect; retrying",
                           ["error": error.description, "retry_in_s": String(format: "%.2f", delay),
                            "hint": error.isRetryable ? "" : "the broker refused the gateway; fix the configuration"])
                stop.sleep(delay)
            } catch where stop.isStopped {
                logger.info("stopped before the batch was committed; the broker delivers it again", ["error": "\(error)"])
            } catch {
                logger.error("consumer stopped unexpectedly", ["error": "\(error)"])
                stop.sleep(backoff.next())
            }
        }
    }

    private func connect(prefetch: Int) throws(AMQPError) -> AMQPConnection {
        let connection = try AMQPConnection(settings(name: "metrika-consumer"))
        do {
            try topology.declare(on: connection)
            try connection.setPrefetch(UInt16(prefetch))
            for input in topology.inputs {
                try connection.consume(queue: input.queue, consumerTag: input.queue)
            }
        } catch {
            connection.abandon()
            throw error
        }
        logger.info("consuming", ["broker": configuration.amqpURL.description,
                                  "queues": topology.inputs.map(\.queue).joined(separator: ",")])
        return connection
    }

    private func settings(name: String) -> AMQPConnectionSettings {
        AMQPConnectionSettings(url: configuration.amqpURL, tls: configuration.tls, heartbeatSeconds: configuration.heartbeatSeconds,
                               connectionName: name)
    }

    private func consume(_ connection: AMQPConnection, _ processor: MessageProcessor, _ store: GatewayStore,
                         cautious: inout Int) throws {
        var lastOverdueCheck = Date.distantPast
        let consumingSince = Date()
        // Where pruning the inbox goes on (see `pruneInbox`).
        var inboxCursor = ""
        // Whether the log holds writes not yet copied into the database file: under load they wait for
        // SQLite's automatic checkpoint (large, so a page changed by many batches is copied once); once
        // deliveries stop for half a second they are copied at once, which keeps the log small when quiet.
        var wroteSinceCheckpoint = false
        // Whether the log file shrinks when the log next restarts: only after a quiet moment's checkpoint,
        // undone by the next batch (see `SQLiteConnection.checkpoint()`).
        var logFileShrinks = false
        while !stop.isStopped {
            if Date().timeIntervalSince(lastOverdueCheck) >= 1 {
                lastOverdueCheck = Date()
                reportOverdueCallbacks(processor, store)
                decidePendingPBXCalls(processor, store, consumingSince: consumingSince)
                inboxCursor = pruneInbox(store, after: inboxCursor)
                tally.logIfDue(logger)
            }
            guard let first = try connection.nextDelivery(timeoutMilliseconds: 500) else {
                if deleteConfirmedEvents(store) { wroteSinceCheckpoint = true }
                if wroteSinceCheckpoint {
                    logFileShrinks = checkpoint(store) || logFileShrinks
                    wroteSinceCheckpoint = false
                }
                continue
            }
            let arrived = ContinuousClock.now
            var batch = [first]
            var batchBytes = first.body.count
            let deadline = Date(timeIntervalSinceNow: Double(configuration.batchWaitMilliseconds) / 1000)
            while batch.count < configuration.batchSize, batchBytes < configuration.batchMaxBytes {
                let remaining = max(0, Int(deadline.timeIntervalSinceNow * 1000))
                guard let next = try connection.nextDelivery(timeoutMilliseconds: remaining) else { break }
                batch.append(next)
                batchBytes += next.body.count
            }
            metrics.recordReceived(batch.map(\.consumerTag))
            try commit(batch, processor, store, connection)
            wroteSinceCheckpoint = true
            if logFileShrinks {
                logFileShrinks = !keepLogFileSize(store)
            }
            configuration.failPoint.reach(.afterCommit, logger: logger)
            try connection.ack(deliveryTag: batch[batch.count - 1].deliveryTag, multiple: true)
            metrics.recordAcknowledged(batch.map(\.consumerTag), after: arrived.duration(to: .now))
            status.recordConsumed(batch.count)
            outboxChanged()
            if cautious > 0 {
                cautious -= batch.count
                if cautious <= 0 {
                    try connection.setPrefetch(UInt16(configuration.prefetch))
                    logger.info("back to the full prefetch window", ["prefetch": String(configuration.prefetch)])
                }
            }
        }
    }

    /// Deletes the outbox rows the broker confirmed, when no batch came to do it on the way; true when it
    /// deleted some.
    private func deleteConfirmedEvents(_ store: GatewayStore) -> Bool {
        let confirmed = ledger.takeConfirmed()
        guard !confirmed.isEmpty else { return false }
        do {
            try store.transaction { try store.deleteConfirmed(seqs: confirmed) }
            ledger.markDeleted(confirmed)
            return true
        } catch {
            ledger.restore(confirmed)
            logger.warning("cannot delete confirmed events; trying again", ["error": "\(error)"])
            return false
        }
    }

    /// Copies the write-ahead log into the database file; false when SQLite could not. A failure is not
    /// retried here: the log stays valid, and SQLite's automatic checkpoint copies it once it is large.
    private func checkpoint(_ store: GatewayStore) -> Bool {
        do {
            try store.checkpoint()
            return true
        } catch {
            logger.warning("cannot checkpoint the write-ahead log while idle; the automatic checkpoint will copy it",
                           ["error": "\(error)"])
            return false
        }
    }

    /// Lets the log file keep its size under load again; false when SQLite could not (tried after the next batch).
    private func keepLogFileSize(_ store: GatewayStore) -> Bool {
        do {
            try store.keepLogFileSize()
            return true
        } catch {
            logger.warning("cannot reset the write-ahead log's size limit; trying after the next batch", ["error": "\(error)"])
            return false
        }
    }

    /// Quiet-period timer for Asterisk calls: decides the calls whose CDRs are all in.
    private func decidePendingPBXCalls(_ processor: MessageProcessor, _ store: GatewayStore, consumingSince: Date) {
        guard configuration.pbxFeeds.contains(.asteriskCDR) else { return }
        do {
            let count = try processor.transaction {
                try processor.decidePendingAsteriskCalls(quiet: TimeInterval(configuration.asteriskQuietSeconds),
                                                         grace: TimeInterval(configuration.asteriskCELGraceSeconds),
                                                         consumingSince: consumingSince)
            }
            if count > 0 { outboxChanged() }
        } catch {
            logger.warning("cannot decide pending Asterisk calls; trying again in a second", ["error": "\(error)"])
        }
    }

    /// Retention timer: forgets the ids of messages applied longer ago than `METRIKA_INBOX_RETENTION_DAYS`,
    /// looking at 5,000 inbox rows a second in id order; returns the cursor for the next tick.
    private func pruneInbox(_ store: GatewayStore, after cursor: String) -> String {
        let cutoff = Date().addingTimeInterval(-Double(configuration.inboxRetentionDays) * 86_400)
        do {
            let (next, deleted) = try store.transaction { () throws(StoreError) in
                try store.pruneInbox(appliedBefore: cutoff, after: cursor, limit: 5000)
            }
            if deleted > 0 { logger.debug("forgot the ids of old applied messages", ["count": String(deleted)]) }
            return next
        } catch {
            logger.warning("cannot prune the inbox; trying again in a second", ["error": "\(error)"])
            return cursor
        }
    }

    /// Escalation timer: emits `callback.overdue` for callbacks that just passed the limit.
    private func reportOverdueCallbacks(_ processor: MessageProcessor, _ store: GatewayStore) {
        let limit = TimeInterval(configuration.callbackOverdueSeconds)
        do {
            let count = try processor.transaction { try processor.reportOverdueCallbacks(olderThan: limit) }
            if count > 0 { outboxChanged() }
        } catch {
            logger.warning("cannot check for overdue callbacks; trying again in a second", ["error": "\(error)"])
        }
    }

    /// Applies the batch in one transaction. A transient failure (database busy, locked, full) is retried
    /// in place a few times; after that the batch goes to the delay queues (or, after the last attempt,
    /// to the dead-letter queue) so that the consumer moves on. Nothing is acknowledged before one of the
    /// two has happened.
    private func commit(_ batch: [AMQPDelivery], _ processor: MessageProcessor, _ store: GatewayStore,
                        _ connection: AMQPConnection) throws {
        var attempt = 0
        while true {
            let confirmed = ledger.takeConfirmed()
            do {
                func apply(savepoints: Bool) throws -> [ProcessingOutcome] {
                    processor.savepointPerMessage = savepoints
                    return try processor.transaction {
                        let outcomes = try batch.map { try processor.process(envelope($0)) }
                        try store.deleteConfirmed(seqs: confirmed)
                        configuration.failPoint.reach(.beforeCommit, logger: logger)
                        return outcomes
                    }
                }
                // Optimistically without a savepoint per message; a message that fails sends the batch
                // round again with savepoints, so that only that message's writes are undone.
                let outcomes: [ProcessingOutcome]
                do {
                    outcomes = try apply(savepoints: false)
                } catch is MessageProcessor.BatchNeedsSavepoints {
                    logger.debug("a message failed; applying the batch again with a savepoint per message", ["batch": String(batch.count)])
                    outcomes = try apply(savepoints: true)
                }
                ledger.markDeleted(confirmed)
                let failedBefore = commitFailures.withLock { $0.reset() }
                if failedBefore > 0 {
                    logger.info("batches commit again", ["failed_attempts": String(failedBefore)])
                }
                tally.record(outcomes)
                metrics.recordApplied(zip(batch, outcomes).map { (queue: $0.consumerTag, outcome: $1) })
                return
            } catch {
                ledger.restore(confirmed)
                attempt += 1
                if attempt >= inPlaceAttempts {
                    try postpone(batch, because: "\(error)")
                    return
                }
                let failure = commitFailures.withLock { $0.record(at: .now) }
                let delay = failure.delay
                if failure.log {
                    logger.error("cannot commit a batch; retrying", [
                        "error": "\(error)", "batch": String(batch.count), "attempt": String(attempt),
                        "failed_in_a_row": String(failure.inARow), "not_logged_since_last": String(failure.unlogged),
                        "retry_in_s": String(format: "%.2f", delay)])
                }
                if stop.sleep(delay) { throw error }
                // The broker must keep hearing from us while we cannot consume.
                try connection.sendHeartbeat()
            }
        }
    }

    /// Outcomes since the last activity log line.
    private let tally = OutcomeTally()

    /// Failed commit attempts in a row, across batches.
    private let commitFailures = Mutex(CommitFailures())

    /// Commit attempts in place before a batch goes to the delay queues.
    private let inPlaceAttempts = 3

    /// Publishes every message of the batch to its delay queue (attempt count in `x-metrika-attempts`), or
    /// parks it in the dead-letter queue after `METRIKA_RETRY_ATTEMPTS`, on a separate connection with
    /// confirms. The caller acknowledges the batch afterwards.
    private func postpone(_ batch: [AMQPDelivery], because reason: String) throws {
        let connection = try AMQPConnection(AMQPConnectionSettings(
            url: configuration.amqpURL, tls: configuration.tls, heartbeatSeconds: configuration.heartbeatSeconds,
            connectionName: "metrika-retry"))
        do {
            try connection.enableConfirms()
            var last: UInt64 = 0
            var parked = 0
            var postponed: [(queue: String, parked: Bool)] = []
            for delivery in batch {
                let attempts = Int(delivery.headers["x-metrika-attempts"]?.integer ?? 0) + 1
                let park = attempts >= configuration.retryAttempts
                if park { parked += 1 }
                postponed.append((queue: delivery.consumerTag, parked: park))
                let target = park ? configuration.names.deadQueue : topology.delayQueue(for: delivery.consumerTag, attempt: attempts)
                let headers: [(String, AMQPFieldValue)] = [
                    ("x-metrika-attempts", .int64(Int64(attempts))),
                    ("x-metrika-error-class", .string("transient_failure")),
                    ("x-metrika-error", .string(String(reason.prefix(500)))),
                    ("x-metrika-failed-at", .string(RFC3339.format(Date(), in: configuration.timeZone))),
                    ("x-metrika-original-exchange", delivery.headers["x-metrika-original-exchange"] ?? .string(delivery.exchange)),
                    ("x-metrika-original-routing-key", delivery.headers["x-metrika-original-routing-key"] ?? .string(delivery.routingKey)),
                    ("x-metrika-original-queue", .string(delivery.consumerTag)),
                ]
                last = try connection.publish(exchange: "", routingKey: target, body: delivery.body, properties: AMQPMessageProperties(
                    messageID: delivery.messageID, correlationID: delivery.correlationID, replyTo: delivery.replyTo,
                    contentType: delivery.contentType ?? "application/json", headers: headers))
            }
            try waitForAllConfirms(upTo: last, on: connection)
            metrics.recordPostponed(postponed)
            connection.close()
            logger.warning("batch postponed to the delay queues", ["count": String(batch.count - parked), "parked": String(parked),
                                                                   "error": String(reason.prefix(300))])
        } catch {
            connection.abandon()
            throw error
        }
    }

    private func waitForAllConfirms(upTo last: UInt64, on connection: AMQPConnection) throws {
        var confirmedUpTo: UInt64 = 0
        var pending = Set(1...last)
        let deadline = Date(timeIntervalSinceNow: 30)
        while !pending.isEmpty {
            guard Date() < deadline else { throw AMQPError(.timeout, "the broker did not confirm the postponed batch within 30 s") }
            for confirm in try connection.waitForConfirms(timeoutMilliseconds: 1000) {
                guard confirm.acknowledged else { throw AMQPError(.protocolError, "the broker refused a postponed message") }
                if confirm.multiple {
                    confirmedUpTo = max(confirmedUpTo, confirm.deliveryTag)
                    pending = pending.filter { $0 > confirmedUpTo }
                } else {
                    pending.remove(confirm.deliveryTag)
                }
            }
        }
    }

    private func envelope(_ delivery: AMQPDelivery) -> InboundEnvelope {
        InboundEnvelope(body: delivery.body, messageID: delivery.messageID, correlationID: delivery.correlationID,
                        replyTo: delivery.replyTo, contentType: delivery.contentType, contentEncoding: delivery.contentEncoding,
                        exchange: delivery.exchange, routingKey: delivery.routingKey, queue: delivery.consumerTag,
                        redelivered: delivery.redelivered)
    }
}

/// Counts what happened to consumed messages and logs a summary at most once a minute.
final class OutcomeTally: @unchecked Sendable {
    // Touched only by the consumer thread that owns the InboundConsumer; @unchecked because the
    // consumer object itself is shared with the thread that starts it.
    private var counts: [String: Int] = [:]
    private var since = Date()

    func record(_ outcomes: [ProcessingOutcome]) {
        for outcome in outcomes {
            let key: String
            switch outcome {
            case .applied: key = "applied"
            case .duplicate: key = "duplicates"
            case .rejected: key = "rejected"
            case .deadLettered: key = "dead_lettered"
            }
            counts[key, default: 0] += 1
        }
    }

    func logIfDue(_ logger: Logger) {
        guard Date().timeIntervalSince(since) >= 60 else { return }
        if !counts.isEmpty {
            logger.info("messages processed in the last minute", counts.mapValues(String.init))
        }
        counts.removeAll()
        since = Date()
    }
}

/// Failed commit attempts in a row, across batches. While the database keeps failing (disk full, locked
/// for long), the back-off keeps growing from batch to batch instead of starting again at 50 ms, and the
/// failure is logged at most once per `logInterval` (with how many were not), so that an outage neither
/// spins through the batches nor floods the log.
struct CommitFailures {
    private var backoff = Backoff(initial: 0.05, cap: 2)
    private var inARow = 0
    private var lastLogged: ContinuousClock.Instant?
    private var unlogged = 0
    let logInterval: Duration = .seconds(5)

    /// Counts a failure at `now`: the delay before the next attempt, whether to log this one, the failures
    /// in a row and how many went unlogged since the last line.
    mutating func record(at now: ContinuousClock.Instant) -> (delay: Double, log: Bool, inARow: Int, unlogged: Int) {
        inARow += 1
        let delay = backoff.next()
        if let lastLogged, lastLogged.duration(to: now) < logInterval {
            unlogged += 1
            return (delay, false, inARow, unlogged)
        }
        defer { unlogged = 0 }
        lastLogged = now
        return (delay, true, inARow, unlogged)
    }

    /// A commit succeeded: starts afresh; returns how many attempts had failed in a row.
    mutating func reset() -> Int {
        defer { self = CommitFailures() }
        return inARow
    }
}
