import Foundation
import MetrikaGateway
import MetrikaHTTP
import MetrikaTestSupport

/// A blocking TCP connection to a loopback port, for tests that must send exactly the bytes they mean
/// (malformed requests, WebSocket frames). Writes never raise SIGPIPE.
final class LoopbackSocket {
    private let descriptor: Int32
    private var buffered: [UInt8] = []

    /// Connects to 127.0.0.1:`port`; reads give up after `timeout` seconds without data.
    init(port: Int, timeout: TimeInterval = 10) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessError("socket() failed: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw HarnessError("cannot connect to 127.0.0.1:\(port): \(reason)")
        }
        var limit = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    /// Sends every byte; false when the peer closed or reset the connection first.
    @discardableResult
    func write(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }

    /// Up to `count` bytes (fewer at the end of the stream); throws on a read timeout.
    func read(upTo count: Int) throws -> [UInt8] {
        if !buffered.isEmpty {
            let taken = Array(buffered.prefix(count))
            buffered.removeFirst(taken.count)
            return taken
        }
        var chunk = [UInt8](repeating: 0, count: max(count, 1))
        let received = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        if received < 0 {
            if errno == ECONNRESET { return [] }
            throw HarnessError("reading from the socket failed: \(String(cString: strerror(errno)))")
        }
        return Array(chunk.prefix(received))
    }

    /// Exactly `count` bytes; throws when the stream ends first.
    func read(exactly count: Int) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < count {
            let chunk = try read(upTo: count - bytes.count)
            guard !chunk.isEmpty else { throw HarnessError("the connection closed after \(bytes.count) of \(count) bytes") }
            bytes += chunk
        }
        return bytes
    }

    /// Bytes up to and including the first `\r\n\r\n` (an HTTP head); what follows stays buffered.
    func readHead() throws -> [UInt8] {
        var bytes: [UInt8] = []
        let end: [UInt8] = Array("\r\n\r\n".utf8)
        while true {
            let chunk = try read(upTo: 4096)
            guard !chunk.isEmpty else { return bytes }
            bytes += chunk
            if let range = bytes.firstRange(of: end) {
                buffered = Array(bytes[range.upperBound...]) + buffered
                return Array(bytes[..<range.upperBound])
            }
        }
    }

    /// Everything until the peer closes the connection.
    func readToEnd() throws -> [UInt8] {
        var bytes: [UInt8] = []
        while true {
            let chunk = try read(upTo: 65_536)
            if chunk.isEmpty { return bytes }
            bytes += chunk
        }
    }
}

/// An HTTP response as the test read it off the wire.
struct WireResponse {
    let status: Int
    /// By lower-cased name.
    let headers: [String: String]
    let body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }

    /// The body as a JSON object; throws when it is not one.
    func json() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw HarnessError("the body is not a JSON object: \(text.prefix(200))")
        }
        return object
    }

    /// `error.code` of a JSON error answer.
    var errorCode: String? { ((try? json())?["error"] as? [String: Any])?["code"] as? String }

    init(_ bytes: [UInt8]) throws {
        guard let split = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else {
            throw HarnessError("no complete HTTP head in \(bytes.count) bytes: \(String(decoding: bytes.prefix(200), as: UTF8.self))")
        }
        let lines = String(decoding: bytes[..<split.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusLine = lines[0].split(separator: " ")
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
            throw HarnessError("not an HTTP status line: \(lines[0])")
        }
        self.status = status
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        self.headers = headers
        body = Array(bytes[split.upperBound...])
    }
}

/// HTTP/1.1 requests to the server under test, written by hand.
enum WireHTTP {
    /// Sends `request` as is and reads the answer: `Content-Length` bytes of body when the head says so
    /// (none for `HEAD`), else until the server closes the connection.
    static func exchange(port: Int, _ request: String) throws -> WireResponse {
        let socket = try LoopbackSocket(port: port)
        socket.write(Array(request.utf8))
        let head = try socket.readHead()
        let length = request.hasPrefix("HEAD ") ? 0 : try WireResponse(head).headers["content-length"].flatMap { Int($0) }
        return try WireResponse(head + (length.map { try socket.read(exactly: $0) } ?? socket.readToEnd()))
    }

    /// `method target` with a Host header, the extra `headers` and `Connection: close`.
    static func request(port: Int, _ target: String, method: String = "GET", headers: [String: String] = [:]) throws -> WireResponse {
        var request = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { request += "\(name): \(value)\r\n" }
        return try exchange(port: port, request + "\r\n")
    }
}

extension TestGateway {
    /// Starts the HTTP face of this gateway on a free loopback port.
    func startOperations() throws -> (server: OperationsServer, port: Int) {
        var configuration = self.configuration
        configuration.httpAddress = "127.0.0.1"
        configuration.httpPort = 0
        let server = try OperationsServer(configuration: configuration, status: gateway.status, metrics: gateway.metrics,
                                          logger: Logger(level: .error))
        try server.start()
        guard let port = server.port else {
            server.stop()
            throw HarnessError("the HTTP server started without a port")
        }
        return (server, port)
    }
}

/// Values of one family in Prometheus text: each sample line's labels (as written) mapped to its value.
func samples(of name: String, in exposition: String) -> [String: Double] {
    var values: [String: Double] = [:]
    for line in exposition.split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " ") else { continue }
        let series = line[..<space]
        let seriesName = series.prefix { $0 != "{" }
        guard seriesName == name, let value = Double(line[line.index(after: space)...]) else { continue }
        values[String(series.dropFirst(seriesName.count))] = value
    }
    return values
}
