import Foundation
import Synchronization

/// Crash points for fault-injection tests: `METRIKA_FAILPOINT=<point>@<n>` makes the process exit at
/// once (status 86, no clean-up, like `kill -9`) the n-th time it reaches `point`. Unset in production.
///
/// Points: `before-commit` (batch applied, transaction not committed), `after-commit` (committed, not
/// acknowledged), `after-publish` (outbox rows published, confirms not read), `after-confirm`
/// (confirmed, outbox rows not deleted).
public struct FailPoint: Sendable {
    public enum Point: String, Sendable, CaseIterable {
        case beforeCommit = "before-commit"
        case afterCommit = "after-commit"
        case afterPublish = "after-publish"
        case afterConfirm = "after-confirm"
    }

    private let armed: (point: Point, count: Int)?
    private let hits = Counter()

    /// Reads `METRIKA_FAILPOINT`; malformed values are a configuration error.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) {
        guard let value = environment["METRIKA_FAILPOINT"], !value.isEmpty else {
            armed = nil
            return
        }
        let parts = value.split(separator: "@")
        guard parts.count == 2, let point = Point(rawValue: String(parts[0])), let count = Int(parts[1]), count > 0 else {
            throw ConfigurationError("METRIKA_FAILPOINT='\(value)' must be <point>@<n> with point one of \(Point.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        armed = (point, count)
    }

    /// A fail point that never fires.
    public static let disarmed = FailPoint()

    private init() { armed = nil }

    /// Exits the process, saying so in the log, when `point` is armed and reached for the n-th time.
    func reach(_ point: Point, logger: Logger) {
        guard let armed, armed.point == point else { return }
        if hits.increment() == armed.count {
            logger.error("fail point reached; exiting", ["point": point.rawValue])
            _exit(86)
        }
    }
}

/// A thread-safe counter.
final class Counter: Sendable {
    private let value = Mutex(0)

    func increment() -> Int { value.withLock { $0 += 1; return $0 } }
}
