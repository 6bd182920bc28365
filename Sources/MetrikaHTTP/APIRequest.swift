import Foundation
import MetrikaDomain
import MetrikaReports

/// A request the API refuses, answered as `{"error": {"status": 400, "code": "…", "message": "…"}}`.
struct APIError: Error {
    /// The HTTP status.
    let status: Int
    /// A stable code a client may branch on (`invalid_argument`, `not_found`, `unauthorized`…).
    let code: String
    /// What was wrong and what to do, for a person.
    let message: String
    /// Extra headers (`Allow`, `WWW-Authenticate`, `Retry-After`).
    var headers: [(name: String, value: String)] = []

    static func badRequest(_ message: String) -> APIError { APIError(status: 400, code: "invalid_argument", message: message) }

    static func notFound(_ message: String) -> APIError { APIError(status: 404, code: "not_found", message: message) }

    /// A view of the query layer that could not be produced.
    init(_ error: ReportError) {
        switch error.code {
        case .invalidArgument: self.init(status: 400, code: error.code.description, message: error.message)
        case .notFound: self.init(status: 404, code: error.code.description, message: error.message)
        case .databaseMissing:
            self.init(status: 503, code: error.code.description, message: error.message, headers: [("Retry-After", "5")])
        case .databaseFailed where error.isRetryable:
            self.init(status: 503, code: error.code.description, message: error.message, headers: [("Retry-After", "1")])
        default: self.init(status: 500, code: error.code.description, message: error.message)
        }
    }

    init(status: Int, code: String, message: String, headers: [(name: String, value: String)] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    /// The JSON answer.
    var response: HTTPResponse {
        var body = "{\"error\":{\"status\":\(status),\"code\":"
        JSONString.append(code, to: &body)
        body += ",\"message\":"
        JSONString.append(message, to: &body)
        body += "}}\n"
        var response = HTTPResponse(status: status, contentType: "application/json; charset=utf-8", body: body.utf8)
        response.headers += headers
        return response
    }
}

/// A request target split into its percent-decoded path and its query, still encoded until asked for.
///
/// Strict: a `%` not followed by two hex digits, bytes that are not UTF-8 and control characters are
/// refused rather than guessed at. In the query, `+` is a space (HTML form encoding).
struct RequestTarget {
    let path: String
    private let query: Substring?

    init(parsing target: String) throws(APIError) {
        guard target.hasPrefix("/") else {
            throw .badRequest("the request target must be a path starting with '/', not '\(target.prefix(80))'")
        }
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        path = try Self.decode(parts[0], plusIsSpace: false, what: "the path")
        query = parts.count == 2 ? parts[1] : nil
    }

    /// The query parameters, decoded, in the order sent.
    func parameters() throws(APIError) -> [(name: String, value: String)] {
        var parameters: [(name: String, value: String)] = []
        for pair in (query ?? "").split(separator: "&") {
            let nameAndValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = try Self.decode(nameAndValue[0], plusIsSpace: true, what: "a parameter name")
            let value = nameAndValue.count == 2 ? try Self.decode(nameAndValue[1], plusIsSpace: true, what: "parameter '\(name)'") : ""
            parameters.append((name: name, value: value))
        }
        return parameters
    }

    private static func decode(_ text: Substring, plusIsSpace: Bool, what: String) throws(APIError) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var index = text.utf8.startIndex
        while index < text.utf8.endIndex {
            let byte = text.utf8[index]
            index = text.utf8.index(after: index)
            switch byte {
            case UInt8(ascii: "%"):
                guard index < text.utf8.endIndex, text.utf8.index(after: index) < text.utf8.endIndex,
                      let high = hexValue(text.utf8[index]), let low = hexValue(text.utf8[text.utf8.index(after: index)]) else {
                    throw .badRequest("\(what) has a '%' that is not followed by two hex digits; percent-encode '%' as %25")
                }
                bytes.append(high << 4 | low)
                index = text.utf8.index(index, offsetBy: 2)
            case UInt8(ascii: "+") where plusIsSpace:
                bytes.append(UInt8(ascii: " "))
            default:
                bytes.append(byte)
            }
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw .badRequest("\(what) is not UTF-8 once percent-decoded")
        }
        guard !decoded.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw .badRequest("\(what) contains a control character")
        }
        return decoded
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// The query parameters of one request, checked against what its endpoint accepts: an unknown or
/// repeated parameter, an empty value or one longer than 200 characters is refused with a clear message.
struct QueryParameters {
    private let values: [String: String]
    private let path: String

    /// The parameters of `target`, of which `allowed` are accepted; with `allowed` nil the query is ignored
    /// unread (not even decoded).
    init(_ target: RequestTarget, allowed: [String]?) throws(APIError) {
        path = target.path
        guard let allowed else {
            values = [:]
            return
        }
        var values: [String: String] = [:]
        for (name, value) in try target.parameters() {
            guard allowed.contains(name) else {
                throw .badRequest(allowed.isEmpty
                    ? "\(path) takes no parameters; remove '\(name.prefix(40))'"
                    : "\(path) has no parameter '\(name.prefix(40))'; it takes \(allowed.joined(separator: ", "))")
            }
            guard values[name] == nil else { throw .badRequest("parameter '\(name)' is given twice; give it once") }
            guard !value.isEmpty else { throw .badRequest("parameter '\(name)' is empty; give it a value or leave it out") }
            guard value.count <= 200 else { throw .badRequest("parameter '\(name)' is longer than 200 characters") }
            values[name] = value
        }
        self.values = values
    }

    /// The value of `name`, or nil when it was not given.
    subscript(name: String) -> String? { values[name] }

    /// The value of `name`; refuses the request when it is missing, showing `example`.
    func required(_ name: String, example: String) throws(APIError) -> String {
        guard let value = values[name] else { throw .badRequest("\(path) needs the parameter '\(name)', e.g. \(example)") }
        return value
    }
}
