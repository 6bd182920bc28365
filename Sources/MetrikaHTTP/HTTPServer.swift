import CMicroHTTPD
import Foundation
import Synchronization

/// One request as a handler sees it.
public struct HTTPRequest: Sendable {
    /// The method as sent (`GET`, `HEAD`, `POST`…).
    public let method: String
    /// The request target exactly as the client sent it, still percent-encoded (`/api/history?phone=%2B7…`).
    public let target: String
    /// Header values by lower-cased name; a repeated header keeps its last value.
    public let headers: [String: String]

    /// A request; `headers` keyed by lower-cased name.
    public init(method: String, target: String, headers: [String: String] = [:]) {
        self.method = method
        self.target = target
        self.headers = headers
    }

    /// The value of header `name` (any letter case), or nil.
    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// What a handler answers: status, headers and body bytes.
public struct HTTPResponse: Sendable {
    /// The HTTP status code.
    public var status: Int
    /// Sent in this order; `Content-Length` and `Date` are added by the server.
    public var headers: [(name: String, value: String)]
    /// The body; not sent for `HEAD`.
    public var body: [UInt8]

    /// A response with exactly these headers.
    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response of `contentType` that no cache keeps.
    public init(status: Int, contentType: String, body: some Sequence<UInt8>) {
        self.init(status: status, headers: [("Content-Type", contentType), ("Cache-Control", "no-store"),
                                            ("X-Content-Type-Options", "nosniff")], body: Array(body))
    }
}

/// Why the HTTP listener cannot start, with what to change.
public struct HTTPServerError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure; codes can grow.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String {
            case invalidAddress = "invalid_address"
            case cannotListen = "cannot_listen"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The bind address is not an IPv4 or IPv6 literal.
        public static let invalidAddress = Code(.invalidAddress)
        /// The socket could not be opened or bound (port in use, no permission…).
        public static let cannotListen = Code(.cannotListen)

        public var description: String { value.rawValue }
    }

    /// What kind of failure.
    public let code: Code
    /// What went wrong and what to change, for a person.
    public let message: String
    /// Whether starting again later can help (the port may be freed).
    public let isRetryable: Bool

    public var description: String { message }
}

/// A small HTTP/1.1 server on libmicrohttpd: it owns the daemon, which it starts and stops explicitly.
///
/// Requests are answered on libmicrohttpd's threads, one per connection, never on Swift's cooperative
/// pool, so a handler may block (on SQLite, say) without stalling other clients or the gateway. Limits
/// bound what a client can hold: connections, idle time and the memory of one request (request line and
/// headers); a request that does not fit is answered with a 4xx by libmicrohttpd itself.
public final class HTTPServer: Sendable {
    /// Synchronous and total: it runs once per request, on a connection's thread, and must not throw.
    public typealias Handler = @Sendable (HTTPRequest) -> HTTPResponse

    /// What one client and all clients together may hold.
    public struct Limits: Sendable {
        /// Concurrent connections (each an open page keeps one); more are refused at once. Default 256.
        public var connections = 256
        /// Concurrent connections from one address (0 = no limit); operators behind one proxy share it.
        /// Default 64.
        public var connectionsPerAddress = 64
        /// Seconds a connection may stay idle (also while sending a request slowly). Default 15.
        public var idleTimeoutSeconds = 15
        /// Bytes for one request's line and headers; a longer request line gets 414, longer headers 431.
        /// Default 16 KiB.
        public var requestMemoryBytes = 16 * 1024

        /// The defaults above.
        public init() {}
    }

    /// The address it listens on (an IPv4 or IPv6 literal).
    public let address: String
    private let requestedPort: Int
    private let limits: Limits
    private let dispatcher: Dispatcher
    private let state = Mutex<Listening?>(nil)

    /// Prepares a server for `address` and `port` (0 picks a free port); nothing listens until `start()`.
    public init(address: String, port: Int, limits: Limits = Limits(), handler: @escaping Handler) {
        self.address = address
        self.requestedPort = port
        self.limits = limits
        self.dispatcher = Dispatcher(handler: handler)
    }

    deinit {
        assert(state.withLock { $0 == nil }, "HTTPServer deallocated while listening; call stop()")
    }

    /// The port it listens on (the real one when started with port 0), or nil when stopped.
    public var port: Int? { state.withLock { $0.map { Int($0.port) } } }

    /// The version of the libmicrohttpd library in use (`0.9.75`).
    public static var libraryVersion: String { String(cString: MHD_get_version()) }

    /// Opens the listening socket and starts answering; returns at once. Does nothing when already started.
    public func start() throws(HTTPServerError) {
        try state.withLock { listening throws(HTTPServerError) in
            guard listening == nil else { return }
            var errorNumber: Int32 = 0
            let context = Unmanaged.passUnretained(dispatcher).toOpaque()
            let daemon = metrika_mhd_start(address, UInt16(clamping: requestedPort), UInt32(limits.connections),
                                           UInt32(limits.connectionsPerAddress), UInt32(limits.idleTimeoutSeconds),
                                           limits.requestMemoryBytes, { context, connection, _, method, _, _, uploadSize, request in
                guard let context, let connection, let method,
                      let request = request?.pointee?.assumingMemoryBound(to: metrika_mhd_request.self) else { return .NO }
                let dispatcher = Unmanaged<Dispatcher>.fromOpaque(context).takeUnretainedValue()
                return dispatcher.answer(connection, method: String(cString: method), request: request, uploadSize: uploadSize)
            }, context, &errorNumber)
            guard let daemon else {
                let reason = String(cString: strerror(errorNumber))
                if errorNumber == EINVAL {
                    throw HTTPServerError(code: .invalidAddress, message: "METRIKA_HTTP_ADDRESS '\(address)' is not an IP address; use one such as 127.0.0.1, 0.0.0.0 or ::1", isRetryable: false)
                }
                throw HTTPServerError(code: .cannotListen, message: "cannot listen for HTTP on \(address) port \(requestedPort): \(reason); choose another METRIKA_HTTP_PORT or stop the process using it, or set METRIKA_HTTP_ENABLED=false", isRetryable: errorNumber == EADDRINUSE)
            }
            listening = Listening(daemon: daemon, port: metrika_mhd_bound_port(daemon))
        }
    }

    /// Stops listening, closes every connection and waits for requests in progress to finish.
    public func stop() {
        guard let listening = state.withLock({ $0.take() }) else { return }
        MHD_stop_daemon(listening.daemon)
    }
}

/// A running daemon and its port.
private struct Listening: @unchecked Sendable {
    // The daemon pointer is only passed to MHD_stop_daemon once, by whoever takes it out of the mutex.
    let daemon: OpaquePointer
    let port: UInt16
}

/// Turns libmicrohttpd's callback into a call of the Swift handler and queues its response.
private final class Dispatcher: Sendable {
    let handler: HTTPServer.Handler

    init(handler: @escaping HTTPServer.Handler) {
        self.handler = handler
    }

    /// Called by libmicrohttpd once the headers are in, then again once the request is complete. A request
    /// without a body is answered at the second call, which keeps the connection open for the next one;
    /// a request with a body is answered at once (and its connection closed): no endpoint reads a body.
    func answer(_ connection: OpaquePointer, method: String, request: UnsafeMutablePointer<metrika_mhd_request>,
                uploadSize: UnsafeMutablePointer<Int>?) -> MHD_Result {
        let headers = headers(of: connection)
        if request.pointee.headers_seen == 0 {
            request.pointee.headers_seen = 1
            let hasBody = headers["transfer-encoding"] != nil || (headers["content-length"].flatMap { Int($0) } ?? 0) > 0
            if !hasBody { return .YES }
        } else if let uploadSize, uploadSize.pointee > 0 {
            uploadSize.pointee = 0
            return .YES
        }
        let target = request.pointee.target.map { String(cString: $0) } ?? "/"
        let response = handler(HTTPRequest(method: method, target: target, headers: headers))
        let reply = response.body.withUnsafeBytes { bytes in
            MHD_create_response_from_buffer(bytes.count, UnsafeMutableRawPointer(mutating: bytes.baseAddress), .RESPMEM_MUST_COPY)
        }
        guard let reply else { return .NO }
        defer { MHD_destroy_response(reply) }
        for header in response.headers {
            _ = MHD_add_response_header(reply, header.name, header.value)
        }
        return MHD_queue_response(connection, UInt32(response.status), reply)
    }

    private func headers(of connection: OpaquePointer) -> [String: String] {
        var headers: [String: String] = [:]
        withUnsafeMutablePointer(to: &headers) { pointer in
            _ = MHD_get_connection_values(connection, .HEADER_KIND, { context, _, name, value in
                guard let context, let name else { return .YES }
                let headers = context.assumingMemoryBound(to: [String: String].self)
                headers.pointee[String(cString: name).lowercased()] = value.map { String(cString: $0) } ?? ""
                return .YES
            }, pointer)
        }
        return headers
    }
}
