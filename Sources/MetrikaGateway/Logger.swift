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
