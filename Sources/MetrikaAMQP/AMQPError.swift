/// A failure talking to the broker, with what a person can do about it.
public struct AMQPError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure; codes can grow.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String {
            case badURL = "bad_url"
            case connectFailed = "connect_failed"
            case loginFailed = "login_failed"
            case tlsFailed = "tls_failed"
            case connectionLost = "connection_lost"
            case channelClosed = "channel_closed"
            case consumerCancelled = "consumer_cancelled"
            case timeout = "timeout"
            case protocolError = "protocol_error"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        public static let badURL = Code(.badURL)
        public static let connectFailed = Code(.connectFailed)
        public static let loginFailed = Code(.loginFailed)
        public static let tlsFailed = Code(.tlsFailed)
        public static let connectionLost = Code(.connectionLost)
        /// The broker closed the channel (e.g. a declare with different arguments, or no permission).
        public static let channelClosed = Code(.channelClosed)
        public static let consumerCancelled = Code(.consumerCancelled)
        public static let timeout = Code(.timeout)
        public static let protocolError = Code(.protocolError)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String

    /// Whether reconnecting later can help (false for a bad URL, bad credentials or bad TLS set-up).
    public var isRetryable: Bool { ![.badURL, .loginFailed, .tlsFailed].contains(code) }

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
