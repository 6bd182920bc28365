/// Where and how to reach a broker: `amqp[s]://user:password@host:port/vhost`.
///
/// `description` never shows the password.
public struct AMQPURL: Sendable, Equatable, CustomStringConvertible {
    public var useTLS: Bool
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    /// Decoded virtual host (`/` for `%2f`).
    public var virtualHost: String

    /// Parses a URL; user, password and vhost are percent-decoded. Defaults: guest/guest, port 5672
    /// (5671 for amqps), vhost `/`.
    public init(parsing text: String) throws(AMQPError) {
        let scheme: String
        let rest: Substring
        if text.hasPrefix("amqp://") {
            scheme = "amqp"
            rest = text.dropFirst(7)
        } else if text.hasPrefix("amqps://") {
            scheme = "amqps"
            rest = text.dropFirst(8)
        } else {
            throw AMQPError(.badURL, "the AMQP URL must start with amqp:// or amqps://")
        }
        useTLS = scheme == "amqps"
        var authority = rest
        var path: Substring?
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = rest[rest.index(after: slash)...]
        }
        user = "guest"
        password = "guest"
        if let at = authority.lastIndex(of: "@") {
            let credentials = authority[..<at]
            authority = authority[authority.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                user = try AMQPURL.percentDecoded(credentials[..<colon])
                password = try AMQPURL.percentDecoded(credentials[credentials.index(after: colon)...])
            } else {
                user = try AMQPURL.percentDecoded(credentials)
            }
        }
        port = useTLS ? 5671 : 5672
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw AMQPError(.badURL, "unclosed '[' in the AMQP URL host") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            authority = authority[authority.index(after: close)...]
            if authority.hasPrefix(":") { port = try AMQPURL.port(authority.dropFirst()) }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            port = try AMQPURL.port(authority[authority.index(after: colon)...])
        } else {
            host = String(authority)
        }
        if host.isEmpty { host = "localhost" }
        if let path, !path.isEmpty {
            virtualHost = try AMQPURL.percentDecoded(path)
        } else {
            virtualHost = "/"
        }
    }

    public init(useTLS: Bool = false, host: String, port: Int, user: String, password: String, virtualHost: String) {
        self.useTLS = useTLS
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.virtualHost = virtualHost
    }

    /// The URL with the password replaced by `***`.
    public var description: String {
        let vhost = virtualHost == "/" ? "%2f" : virtualHost
        return "\(useTLS ? "amqps" : "amqp")://\(user):***@\(host):\(port)/\(vhost)"
    }

    private static func port(_ text: Substring) throws(AMQPError) -> Int {
        guard let value = Int(text), (1...65_535).contains(value) else {
            throw AMQPError(.badURL, "the AMQP URL port '\(text)' is not a number between 1 and 65535")
        }
        return value
    }

    private static func percentDecoded(_ text: Substring) throws(AMQPError) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(),
                      let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) else {
                    throw AMQPError(.badURL, "the AMQP URL has a malformed percent escape")
                }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
