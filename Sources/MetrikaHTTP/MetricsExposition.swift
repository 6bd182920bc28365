import Foundation
import MetrikaGateway
import MetrikaStore

/// Text in the Prometheus exposition format 0.0.4: `# HELP` and `# TYPE` lines, then samples.
struct PrometheusText {
    /// The content type `/metrics` is served with.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private(set) var text = ""

    /// Starts a metric family.
    mutating func family(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n"))\n"
        text += "# TYPE \(name) \(type)\n"
    }

    /// One sample of the current family.
    mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
        text += name + Self.labels(labels) + " " + Self.format(value) + "\n"
    }

    /// One sample with a whole-number value.
    mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: UInt64) {
        text += name + Self.labels(labels) + " \(value)\n"
    }

    /// The `_bucket`, `_sum` and `_count` samples of one histogram series.
    mutating func histogram(_ name: String, _ labels: [(String, String)], _ histogram: Histogram) {
        let cumulative = histogram.cumulativeCounts
        for (bound, count) in zip(histogram.upperBounds.map(Self.format) + ["+Inf"], cumulative) {
            sample(name + "_bucket", labels + [("le", bound)], count)
        }
        sample(name + "_sum", labels, histogram.sum)
        sample(name + "_count", labels, histogram.count)
    }

    private static func labels(_ labels: [(String, String)]) -> String {
        guard !labels.isEmpty else { return "" }
        let pairs = labels.map { name, value in
            let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n")
            return "\(name)=\"\(escaped)\""
        }
        return "{" + pairs.joined(separator: ",") + "}"
    }

    private static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        return String(value)
    }
}

/// Everything `/metrics` shows: the gateway's counters and the database's gauges at one scrape.
struct MetricsExposition {
    let metrics: GatewayMetricsSnapshot
    /// The database's state, or nil when it could not be read (then only `metrika_database_readable 0`).
    let state: OperationalState?
    let consumerUp: Bool
    let publisherUp: Bool
    /// The gateway's input queues, shown with zero counts before their first message.
    let queues: [String]
    let now: Date
    let httpLibraryVersion: String

    private static let outcomes = ["applied", "duplicate", "rejected", "dead_lettered"]

    /// The exposition text.
    func render() -> String {
        var out = PrometheusText()
        messages(&out)
        publishing(&out)
        connections(&out)
        database(&out)
        out.family("metrika_build_info", "gauge", "The running build: gateway release and library versions; always 1.")
        out.sample("metrika_build_info", [("version", GatewayMetrics.version), ("sqlite", state?.sqliteVersion ?? "unknown"),
                                          ("microhttpd", httpLibraryVersion)], UInt64(1))
        return out.text
    }

    private func messages(_ out: inout PrometheusText) {
        let queues = Set(self.queues).union(metrics.consumed.keys).union(metrics.acknowledged.keys).sorted()
        out.family("metrika_messages_consumed_total", "counter", "Deliveries received from the gateway's input queues (redeliveries count again).")
        for queue in queues { out.sample("metrika_messages_consumed_total", [("queue", queue)], metrics.consumed[queue] ?? 0) }
        out.family("metrika_messages_acked_total", "counter", "Deliveries acknowledged after their batch was committed or postponed.")
        for queue in queues { out.sample("metrika_messages_acked_total", [("queue", queue)], metrics.acknowledged[queue] ?? 0) }
        out.family("metrika_batches_committed_total", "counter", "Batches committed in one transaction and acknowledged with one multiple-ack.")
        out.sample("metrika_batches_committed_total", [], metrics.batches)
        out.family("metrika_messages_processed_total", "counter", "Committed messages by outcome: applied, duplicate, rejected (command refused), dead_lettered.")
        for queue in queues {
            for outcome in Self.outcomes {
                out.sample("metrika_messages_processed_total", [("queue", queue), ("outcome", outcome)],
                           metrics.processed[QueueLabel(queue: queue, value: outcome)] ?? 0)
            }
        }
        out.family("metrika_messages_dead_lettered_total", "counter", "Messages sent to the dead-letter queue, by input queue and error class.")
        for (label, count) in metrics.deadLettered.sorted(by: { ($0.key.queue, $0.key.value) < ($1.key.queue, $1.key.value) }) {
            out.sample("metrika_messages_dead_lettered_total", [("queue", label.queue), ("reason", label.value)], count)
        }
        out.family("metrika_messages_retried_total", "counter", "Messages sent to a delay queue after their batch failed to commit.")
        for queue in queues { out.sample("metrika_messages_retried_total", [("queue", queue)], metrics.retried[queue] ?? 0) }
        out.family("metrika_commands_rejected_total", "counter", "Commands refused by the rules (command.rejected), by code.")
        for (code, count) in metrics.rejected.sorted(by: { $0.key < $1.key }) {
            out.sample("metrika_commands_rejected_total", [("code", code)], count)
        }
        out.family("metrika_message_processing_seconds", "histogram",
                   "Seconds from the arrival of a batch's first message to the batch's acknowledgement, per message.")
        for queue in queues {
            out.histogram("metrika_message_processing_seconds", [("queue", queue)],
                          metrics.processingSeconds[queue] ?? Histogram(upperBounds: Histogram.latencyBuckets))
        }
    }

    private func publishing(_ out: inout PrometheusText) {
        out.family("metrika_outbox_published_total", "counter", "Outbox messages (events, replies, dead letters) the broker confirmed.")
        out.sample("metrika_outbox_published_total", [], metrics.outboxConfirmed)
        out.family("metrika_outbox_refused_total", "counter", "Outbox messages the broker refused (nack); they are published again.")
        out.sample("metrika_outbox_refused_total", [], metrics.outboxRefused)
        out.family("metrika_publisher_confirm_seconds", "histogram", "Seconds from publishing outbox messages to the broker's confirm, per message.")
        out.histogram("metrika_publisher_confirm_seconds", [], metrics.confirmSeconds)
    }

    private func connections(_ out: inout PrometheusText) {
        out.family("metrika_amqp_connection_up", "gauge", "1 while the AMQP connection is established.")
        out.sample("metrika_amqp_connection_up", [("connection", "consumer")], UInt64(consumerUp ? 1 : 0))
        out.sample("metrika_amqp_connection_up", [("connection", "publisher")], UInt64(publisherUp ? 1 : 0))
        out.family("metrika_amqp_reconnects_total", "counter", "AMQP connections established again after the first one.")
        for connection in GatewayMetrics.Connection.allCases {
            let opened = metrics.connectionsOpened[connection.rawValue] ?? 0
            out.sample("metrika_amqp_reconnects_total", [("connection", connection.rawValue)], opened > 0 ? opened - 1 : 0)
        }
    }

    private func database(_ out: inout PrometheusText) {
        out.family("metrika_database_readable", "gauge", "1 when the gauges below could be read from the database.")
        out.sample("metrika_database_readable", [], UInt64(state == nil ? 0 : 1))
        guard let state else { return }
        out.family("metrika_outbox_messages", "gauge", "Outbox messages not yet confirmed by the broker.")
        out.sample("metrika_outbox_messages", [], UInt64(state.outbox.messages))
        out.family("metrika_outbox_oldest_age_seconds", "gauge", "Age of the oldest unconfirmed outbox message; 0 when the outbox is empty.")
        out.sample("metrika_outbox_oldest_age_seconds", [], state.outbox.oldestWrittenAt.map { max(0, now.timeIntervalSince($0)) } ?? 0)
        out.family("metrika_callbacks_open", "gauge", "Open callbacks (the unprocessed list).")
        out.sample("metrika_callbacks_open", [], UInt64(state.openCallbacks))
        out.family("metrika_callbacks_overdue", "gauge", "Open callbacks older than METRIKA_CALLBACK_OVERDUE_SECONDS.")
        out.sample("metrika_callbacks_overdue", [], UInt64(state.overdueCallbacks))
        out.family("metrika_tickets", "gauge", "Stored tickets by state.")
        for (ticketState, count) in state.ticketsByState.sorted(by: { $0.key < $1.key }) {
            out.sample("metrika_tickets", [("state", ticketState)], UInt64(count))
        }
    }
}
