import Foundation
import Synchronization

/// Counters and histograms the gateway's threads update as messages flow, read by `/metrics`.
///
/// Thread-safe: one `Mutex` around plain dictionaries, so an update costs a lock and a hash lookup.
/// Counts start at zero with the process and only grow.
public final class GatewayMetrics: Sendable {
    /// The gateway's release, reported as `metrika_build_info{version}`.
    public static let version = "0.7.0"

    /// Which of the gateway's AMQP connections.
    public enum Connection: String, Sendable, CaseIterable {
        case consumer, publisher
    }

    private let state = Mutex(GatewayMetricsSnapshot())

    /// Every count at zero.
    public init() {}

    /// A consistent copy of every count.
    public func snapshot() -> GatewayMetricsSnapshot { state.withLock { $0 } }

    /// Deliveries received from `queues` (one entry per delivery), before they are applied.
    func recordReceived(_ queues: [String]) {
        state.withLock { counts in
            for queue in queues { counts.consumed[queue, default: 0] += 1 }
        }
    }

    /// What applying a committed batch did to each of its messages.
    func recordApplied(_ outcomes: [(queue: String, outcome: ProcessingOutcome)]) {
        state.withLock { counts in
            for (queue, outcome) in outcomes {
                switch outcome {
                case .applied:
                    counts.processed[QueueLabel(queue: queue, value: "applied"), default: 0] += 1
                case .duplicate:
                    counts.processed[QueueLabel(queue: queue, value: "duplicate"), default: 0] += 1
                case let .rejected(code):
                    counts.processed[QueueLabel(queue: queue, value: "rejected"), default: 0] += 1
                    counts.rejected[code.rawValue, default: 0] += 1
                case let .deadLettered(errorClass):
                    counts.processed[QueueLabel(queue: queue, value: "dead_lettered"), default: 0] += 1
                    counts.deadLettered[QueueLabel(queue: queue, value: errorClass), default: 0] += 1
                }
            }
        }
    }

    /// A batch acknowledged `elapsed` after its first message arrived; `queues` has one entry per message.
    func recordAcknowledged(_ queues: [String], after elapsed: Duration) {
        let seconds = elapsed.fractionalSeconds
        state.withLock { counts in
            counts.batches += 1
            for queue in queues {
                counts.acknowledged[queue, default: 0] += 1
                counts.processingSeconds[queue, default: Histogram(upperBounds: Histogram.latencyBuckets)].observe(seconds)
            }
        }
    }

    /// Messages that could not be committed and went to a delay queue, or were parked in the dead-letter
    /// queue (`transient_failure`) after their last attempt, once the broker confirmed them.
    func recordPostponed(_ messages: [(queue: String, parked: Bool)]) {
        state.withLock { counts in
            for message in messages {
                if message.parked {
                    counts.deadLettered[QueueLabel(queue: message.queue, value: "transient_failure"), default: 0] += 1
                } else {
                    counts.retried[message.queue, default: 0] += 1
                }
            }
        }
    }

    /// The broker answered a window of outbox messages `elapsed` after the window was written.
    func recordConfirms(acknowledged: Int, refused: Int, after elapsed: Duration) {
        let seconds = elapsed.fractionalSeconds
        state.withLock { counts in
            counts.outboxConfirmed += UInt64(acknowledged)
            counts.outboxRefused += UInt64(refused)
            counts.confirmSeconds.observe(seconds, times: UInt64(acknowledged + refused))
        }
    }

    /// `connection` was (re)established.
    func recordConnected(_ connection: Connection) {
        state.withLock { $0.connectionsOpened[connection.rawValue, default: 0] += 1 }
    }
}

/// A queue and one more label value (an outcome or a reason).
public struct QueueLabel: Hashable, Sendable {
    /// The input queue's name.
    public let queue: String
    /// The outcome or reason.
    public let value: String

    /// The label pair `queue`, `value`.
    public init(queue: String, value: String) {
        self.queue = queue
        self.value = value
    }
}

/// Every count of `GatewayMetrics` at one instant.
public struct GatewayMetricsSnapshot: Sendable {
    /// Deliveries received, by queue (redeliveries count again).
    public var consumed: [String: UInt64] = [:]
    /// Deliveries acknowledged after their batch was committed (or postponed), by queue.
    public var acknowledged: [String: UInt64] = [:]
    /// Batches acknowledged (one transaction and one multiple-ack each); acknowledged / batches = mean batch size.
    public var batches: UInt64 = 0
    /// Committed messages by queue and outcome (`applied`, `duplicate`, `rejected`, `dead_lettered`).
    public var processed: [QueueLabel: UInt64] = [:]
    /// Messages sent to the dead-letter queue, by queue and error class (`invalid_json`, `transient_failure`…).
    public var deadLettered: [QueueLabel: UInt64] = [:]
    /// Messages sent to a delay queue after a transient failure, by queue.
    public var retried: [String: UInt64] = [:]
    /// Refused commands by rejection code.
    public var rejected: [String: UInt64] = [:]
    /// Seconds from the arrival of a batch's first message to the batch's acknowledgement, per message, by queue.
    public var processingSeconds: [String: Histogram] = [:]
    /// Outbox messages the broker confirmed.
    public var outboxConfirmed: UInt64 = 0
    /// Outbox messages the broker refused (nack); they are published again.
    public var outboxRefused: UInt64 = 0
    /// Seconds from writing a window of outbox messages to the broker's confirm, per message.
    public var confirmSeconds = Histogram(upperBounds: Histogram.latencyBuckets)
    /// Connections established, by connection (`consumer`, `publisher`); the first is not a reconnect.
    public var connectionsOpened: [String: UInt64] = [:]
}

/// A Prometheus-style histogram: counts of observations at or below each upper bound.
public struct Histogram: Sendable, Equatable {
    /// Seconds, from 1 ms to 10 s.
    public static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    /// Ascending; `+Inf` is implied.
    public let upperBounds: [Double]
    /// Observations in each bucket, not cumulative; one more entry than `upperBounds` for `+Inf`.
    public private(set) var bucketCounts: [UInt64]
    /// Sum of every observation.
    public private(set) var sum: Double = 0
    /// Number of observations.
    public private(set) var count: UInt64 = 0

    /// An empty histogram with these ascending upper bounds.
    public init(upperBounds: [Double]) {
        self.upperBounds = upperBounds
        bucketCounts = Array(repeating: 0, count: upperBounds.count + 1)
    }

    /// Adds `times` observations of `value`.
    public mutating func observe(_ value: Double, times: UInt64 = 1) {
        guard times > 0 else { return }
        let index = upperBounds.firstIndex { value <= $0 } ?? upperBounds.count
        bucketCounts[index] += times
        sum += value * Double(times)
        count += times
    }

    /// Observations at or below each upper bound, then the total (`+Inf`), as Prometheus exposes them.
    public var cumulativeCounts: [UInt64] {
        var total: UInt64 = 0
        return bucketCounts.map { total += $0; return total }
    }
}

extension Duration {
    /// The duration in seconds, as a fraction.
    var fractionalSeconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
