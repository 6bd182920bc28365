import Foundation
import MetrikaDomain
import Synchronization

/// Severity of a log line.
public enum LogLevel: String, Sendable, Comparable {
    case debug, info, warning, error

    private var rank: Int { [.debug: 0, .info: 1, .warning: 2, .error: 3][self]! }
    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rank < rhs.rank }
}

/// Writes one JSON object per line to stderr: `{"ts":…,"level":…,"msg":…,…fields}`.
///
/// Handed to components, never created inside them. Never pass secrets as fields.
public struct Logger: Sendable {
    public let minimumLevel: LogLevel
    private let sink: @Sendable (String) -> Void

    /// A logger writing to stderr.
    public init(level: LogLevel) {
        self.minimumLevel = level
        self.sink = { line in
            Logger.lock.withLock { _ in
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
        }
    }

    /// A logger writing to `sink` (tests).
    public init(level: LogLevel, sink: @escaping @Sendable (String) -> Void) {
        self.minimumLevel = level
        self.sink = sink
    }

    private static let lock = Mutex(())

    public func debug(_ message: String, _ fields: [String: String] = [:]) { log(.debug, message, fields) }
    public func info(_ message: String, _ fields: [String: String] = [:]) { log(.info, message, fields) }
    public func warning(_ message: String, _ fields: [String: String] = [:]) { log(.warning, message, fields) }
    public func error(_ message: String, _ fields: [String: String] = [:]) { log(.error, message, fields) }

    /// Writes a line this or another logger already formatted.
    func write(line: String) {
        sink(line)
    }

    public func log(_ level: LogLevel, _ message: String, _ fields: [String: String]) {
        guard level >= minimumLevel else { return }
        var line = "{\"ts\":"
        JSONString.append(ISO8601DateFormatter.string(from: Date(), timeZone: .gmt, formatOptions: [.withInternetDateTime, .withFractionalSeconds]), to: &line)
        line += ",\"level\":\"\(level.rawValue)\",\"msg\":"
        JSONString.append(message, to: &line)
        for key in fields.keys.sorted() {
            line += ","
            JSONString.append(key, to: &line)
            line += ":"
            JSONString.append(fields[key]!, to: &line)
        }
        line += "}"
        sink(line)
    }
}

/// Log lines held back until the transaction during which they were written commits. A batch that is
/// rolled back and applied again (a failed commit, a message that needs savepoints) would otherwise log
/// its messages' outcomes once per attempt, and outcomes that never happened.
final class PendingLog: Sendable {
    private let lines = Mutex<[String]>([])
    /// Waiting lines beyond which new lines go straight out (a caller that never commits through
    /// `MessageProcessor.transaction` must not make this grow without bound).
    private static let limit = 10_000

    /// A logger at `base`'s level whose lines wait here.
    func logger(over base: Logger) -> Logger {
        Logger(level: base.minimumLevel) { [self] line in
            let waiting = lines.withLock { lines -> Bool in
                guard lines.count < Self.limit else { return false }
                lines.append(line)
                return true
            }
            if !waiting { base.write(line: line) }
        }
    }

    /// Writes the waiting lines to `base`, in order.
    func flush(to base: Logger) {
        for line in lines.withLock({ lines in defer { lines.removeAll(keepingCapacity: true) }; return lines }) {
            base.write(line: line)
        }
    }

    /// Drops the waiting lines.
    func discard() {
        lines.withLock { $0.removeAll(keepingCapacity: true) }
    }
}
