import Foundation
import MetrikaDomain
import MetrikaGateway
import MetrikaReports
import MetrikaStore

/// The gateway's HTTP face on `METRIKA_HTTP_ADDRESS:METRIKA_HTTP_PORT`: health, readiness, Prometheus
/// metrics, the read-only JSON API over the same query layer as the CLI, and the operator's page.
///
/// GET (and HEAD) only: commands stay on AMQP. Started and stopped explicitly, beside the gateway.
public final class OperationsServer: Sendable {
    private let server: HTTPServer
    private let service: OperationsService

    /// Prepares the server for `configuration`, reading the gateway's live `status` and `metrics`;
    /// loads the catalog for catalog search. Nothing listens until `start()`.
    public init(configuration: GatewayConfiguration, status: GatewayStatus, metrics: GatewayMetrics,
                logger: Logger) throws(ConfigurationError) {
        let service = OperationsService(configuration: configuration, status: status, metrics: metrics,
                                        catalog: try CatalogLoader.load(path: configuration.catalogPath), logger: logger)
        self.service = service
        server = HTTPServer(address: configuration.httpAddress, port: configuration.httpPort, handler: service.handle)
    }

    /// The port it listens on (the real one when configured with port 0), or nil when stopped.
    public var port: Int? { server.port }

    /// Starts listening; returns at once.
    public func start() throws(HTTPServerError) {
        try server.start()
        service.logger.info("http listening", ["address": server.address, "port": server.port.map(String.init) ?? "?",
                                               "api_token": service.token == nil ? "none" : "required"])
    }

    /// Stops listening, waits for requests in progress and closes the database connections.
    public func stop() {
        server.stop()
        service.close()
    }
}

/// Routes requests to the endpoints; total (every failure becomes a JSON error response).
final class OperationsService: Sendable {
    let logger: Logger
    let token: String?
    private let configuration: GatewayConfiguration
    private let status: GatewayStatus
    private let metrics: GatewayMetrics
    private let catalog: Catalog
    private let stores: ReadOnlyStores
    private let probe: DatabaseProbe
    private let queues: [String]

    init(configuration: GatewayConfiguration, status: GatewayStatus, metrics: GatewayMetrics, catalog: Catalog, logger: Logger) {
        self.configuration = configuration
        self.status = status
        self.metrics = metrics
        self.catalog = catalog
        self.logger = logger
        token = configuration.httpToken
        stores = ReadOnlyStores(path: configuration.databasePath, busyTimeoutMilliseconds: configuration.databaseBusyTimeoutMilliseconds)
        probe = DatabaseProbe(path: configuration.databasePath)
        queues = Topology(configuration).inputs.map(\.queue)
    }

    /// Closes the database connections; call once no request is running.
    func close() {
        stores.closeAll()
        probe.close()
    }

    /// Answers one request.
    func handle(_ request: HTTPRequest) -> HTTPResponse {
        let started = ContinuousClock.now
        var response: HTTPResponse
        do throws(APIError) {
            response = try route(request)
        } catch {
            response = error.response
        }
        let fields = ["method": String(request.method.prefix(16)), "target": String(request.target.prefix(200)),
                      "status": String(response.status), "ms": String(format: "%.1f", started.duration(to: .now).milliseconds)]
        if response.status >= 500 { logger.warning("http request failed", fields) } else { logger.debug("http request", fields) }
        return response
    }

    private func route(_ request: HTTPRequest) throws(APIError) -> HTTPResponse {
        let target = try RequestTarget(parsing: request.target)
        guard let endpoint = Endpoint(path: target.path) else {
            throw .notFound("there is nothing at \(target.path.prefix(100)); see GET \(Endpoint.listing)")
        }
        guard request.method == "GET" || request.method == "HEAD" else {
            throw APIError(status: 405, code: "method_not_allowed",
                           message: "\(target.path) answers GET only; commands go through AMQP (metrika.commands)",
                           headers: [("Allow", "GET, HEAD")])
        }
        if endpoint.needsToken { try authorize(request) }
        let query = try QueryParameters(target, allowed: endpoint.parameters)
        switch endpoint {
        case .page: return HTTPResponse(status: 200, headers: OperatorPage.headers, body: Array(OperatorPage.html.utf8))
        case .health: return health()
        case .readiness: return readiness()
        case .metrics: return exposition()
        case .callbacks: return try view { reports throws(ReportError) in try reports.openCallbacks(at: Date()) }
        case .tickets: return try tickets(query)
        case .ticket: return try ticket(Endpoint.ticketID(in: target.path))
        case .history: return try history(query)
        case .catalogSearch: return try catalogSearch(query)
        case .payReport: return try payReport(query)
        case .reasonsReport: return try reasonsReport(query)
        }
    }

    private func authorize(_ request: HTTPRequest) throws(APIError) {
        guard let token else { return }
        let challenge = [(name: "WWW-Authenticate", value: "Bearer realm=\"metrika\"")]
        guard let header = request.header("Authorization") else {
            throw APIError(status: 401, code: "unauthorized", message: "this API needs 'Authorization: Bearer <METRIKA_HTTP_TOKEN>'",
                           headers: challenge)
        }
        guard let presented = Self.bearerToken(in: header), Self.constantTimeEqual(presented, Array(token.utf8)) else {
            throw APIError(status: 401, code: "unauthorized", message: "the bearer token is not the one configured in METRIKA_HTTP_TOKEN",
                           headers: challenge)
        }
    }

    /// The token of a `Bearer` credential (RFC 6750 §2.1), or nil for another scheme or no token. The scheme
    /// is matched in any letter case (RFC 7235 §2.1); one or more spaces or tabs separate it from the token.
    private static func bearerToken(in header: String) -> [UInt8]? {
        let bytes = Array(header.utf8)
        let isBlank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        guard let schemeEnd = bytes.firstIndex(where: isBlank),
              String(decoding: bytes[..<schemeEnd], as: UTF8.self).lowercased() == "bearer" else { return nil }
        let token = bytes[schemeEnd...].drop(while: isBlank)
        return token.isEmpty ? nil : Array(token)
    }

    /// Whether `presented` equals `expected`, in a time that depends only on `expected`'s length.
    private static func constantTimeEqual(_ presented: [UInt8], _ expected: [UInt8]) -> Bool {
        var difference: UInt8 = presented.count == expected.count ? 0 : 1
        for index in expected.indices {
            difference |= (index < presented.count ? presented[index] : 0) ^ expected[index]
        }
        return difference == 0
    }

    // MARK: Health

    private func health() -> HTTPResponse {
        if let failure = status.failure {
            return json(503, HealthBody(status: "failed", failure: failure))
        }
        return json(200, HealthBody(status: "alive", failure: nil))
    }

    private func readiness() -> HTTPResponse {
        var checks: [ReadinessCheck] = []
        let consumer = status.isConsuming ? "connected" : "not connected (reconnecting)"
        let publisher = status.isPublishing ? "connected" : "not connected (reconnecting)"
        checks.append(ReadinessCheck(name: "broker", ok: status.isConsuming && status.isPublishing && status.failure == nil,
                                     message: status.failure.map { "the gateway stopped: \($0)" }
                                         ?? "consumer \(consumer), publisher \(publisher)"))
        let problem = probe.problem()
        checks.append(ReadinessCheck(name: "database", ok: problem == nil, message: problem ?? "writable"))
        checks.append(outboxCheck())
        let failed = checks.filter { !$0.ok }.map(\.name)
        return json(failed.isEmpty ? 200 : 503, ReadinessBody(ready: failed.isEmpty, failed: failed, checks: checks))
    }

    private func outboxCheck() -> ReadinessCheck {
        let limit = TimeInterval(configuration.readyOutboxLagSeconds)
        do throws(ReportError) {
            let backlog = try stores.withStore { store throws(ReportError) in
                do throws(StoreError) {
                    return try store.outboxBacklog()
                } catch {
                    throw ReportError(.databaseFailed, error.message, isRetryable: error.isTransient)
                }
            }
            let age = backlog.oldestWrittenAt.map { max(0, Date().timeIntervalSince($0)) } ?? 0
            let summary = String(format: "%d unconfirmed, the oldest %.1f s old (limit %d s)", backlog.messages, age, configuration.readyOutboxLagSeconds)
            return ReadinessCheck(name: "outbox", ok: age < limit, message: summary)
        } catch {
            return ReadinessCheck(name: "outbox", ok: false, message: "cannot read the outbox: \(error.message)")
        }
    }

    private func exposition() -> HTTPResponse {
        let now = Date()
        var state: OperationalState?
        do throws(ReportError) {
            state = try stores.withStore { store throws(ReportError) in
                do throws(StoreError) {
                    return try store.operationalState(overdueBefore: now.addingTimeInterval(-TimeInterval(configuration.callbackOverdueSeconds)))
                } catch {
                    throw ReportError(.databaseFailed, error.message, isRetryable: error.isTransient)
                }
            }
        } catch {
            logger.warning("metrics: cannot read the database gauges", ["error": error.message])
        }
        let text = MetricsExposition(metrics: metrics.snapshot(), state: state, consumerUp: status.isConsuming,
                                     publisherUp: status.isPublishing, queues: queues, now: now,
                                     httpLibraryVersion: HTTPServer.libraryVersion).render()
        return HTTPResponse(status: 200, contentType: PrometheusText.contentType, body: text.utf8)
    }

    // MARK: API over the query layer

    private func view<View: Encodable>(_ body: (Reports) throws(ReportError) -> View) throws(APIError) -> HTTPResponse {
        let view: View
        do throws(ReportError) {
            view = try stores.withStore { store throws(ReportError) in
                try body(Reports(store: store, zone: configuration.timeZone, plan: configuration.numberingPlan,
                                 overdueAfter: TimeInterval(configuration.callbackOverdueSeconds)))
            }
        } catch {
            throw APIError(error)
        }
        return json(200, view)
    }

    private func tickets(_ query: QueryParameters) throws(APIError) -> HTTPResponse {
        let login = try query.required("operator", example: "?operator=op.petrova")
        let month = try query["month"].map { text throws(APIError) in try Self.month(text, "month") }
            ?? ReportMonth(containing: Date(), in: configuration.timeZone)
        return try view { reports throws(ReportError) in try reports.tickets(of: login, in: month) }
    }

    private func ticket(_ id: String) throws(APIError) -> HTTPResponse {
        guard id.count <= 128 else { throw .badRequest("a ticket id has at most 128 characters") }
        return try view { reports throws(ReportError) in try reports.ticket(id: id) }
    }

    private func history(_ query: QueryParameters) throws(APIError) -> HTTPResponse {
        switch (query["rs_id"], query["phone"]) {
        case let (text?, nil):
            guard let rsID = Int64(text), rsID > 0 else {
                throw .badRequest("rs_id '\(text)' is not an RS ID; use the subscriber's number in RS, e.g. ?rs_id=100234")
            }
            return try view { reports throws(ReportError) in try reports.history(rsID: rsID) }
        case let (nil, phone?):
            return try view { reports throws(ReportError) in try reports.history(phone: phone) }
        default:
            throw .badRequest("give exactly one of rs_id or phone, e.g. ?rs_id=100234 or ?phone=8%20900%20000-11-22")
        }
    }

    private func catalogSearch(_ query: QueryParameters) throws(APIError) -> HTTPResponse {
        let text = try query.required("q", example: "?q=нет%20инета")
        guard !CatalogList.fold(text).isEmpty else { throw .badRequest("parameter 'q' has nothing to search for") }
        var lists = CatalogListName.allCases
        if let name = query["list"] {
            guard let list = CatalogListName(rawValue: name) else {
                throw .badRequest("list '\(name)' is not a catalog list; use reasons, resolutions, sources or tasks")
            }
            lists = [list]
        }
        return json(200, CatalogSearchResult(catalog: catalog, query: text, lists: lists))
    }

    private func payReport(_ query: QueryParameters) throws(APIError) -> HTTPResponse {
        let month = try Self.month(try query.required("month", example: "?month=2026-11"), "month")
        return try view { reports throws(ReportError) in try reports.pay(month: month) }
    }

    private func reasonsReport(_ query: QueryParameters) throws(APIError) -> HTTPResponse {
        let first = try Self.date(try query.required("from", example: "?from=2026-11-01&to=2026-11-30"), "from")
        let last = try Self.date(try query.required("to", example: "?from=2026-11-01&to=2026-11-30"), "to")
        let days: ReportDays
        do throws(ReportError) { days = try ReportDays(from: first, to: last) } catch { throw APIError(error) }
        return try view { reports throws(ReportError) in try reports.reasons(on: days) }
    }

    private static func month(_ text: String, _ name: String) throws(APIError) -> ReportMonth {
        guard let month = ReportMonth(parsing: text) else { throw .badRequest("\(name) '\(text)' is not a month; use YYYY-MM, e.g. 2026-11") }
        return month
    }

    private static func date(_ text: String, _ name: String) throws(APIError) -> LocalDate {
        guard let date = LocalDate(iso: text) else { throw .badRequest("\(name) '\(text)' is not a date; use YYYY-MM-DD, e.g. 2026-11-30") }
        return date
    }

    private func json(_ status: Int, _ value: some Encodable) -> HTTPResponse {
        do {
            var body = try ReportJSON.encoder(zone: configuration.timeZone).encode(value)
            body.append(UInt8(ascii: "\n"))
            return HTTPResponse(status: status, contentType: "application/json; charset=utf-8", body: body)
        } catch {
            return APIError(status: 500, code: "encoding_failed", message: "cannot write the answer as JSON: \(error)").response
        }
    }
}

/// What each path answers and which query parameters it takes; the raw value is the path (`{id}` stands for
/// a ticket id), and the order is the one the 404 message lists them in.
private enum Endpoint: String, CaseIterable {
    case callbacks = "/api/callbacks"
    case tickets = "/api/tickets"
    case ticket = "/api/tickets/{id}"
    case history = "/api/history"
    case catalogSearch = "/api/catalog/search"
    case payReport = "/api/reports/pay"
    case reasonsReport = "/api/reports/reasons"
    case health = "/healthz"
    case readiness = "/readyz"
    case metrics = "/metrics"
    case page = "/"

    private static let ticketPrefix = "/api/tickets/"

    /// The endpoint at `path` (percent-decoded): `/api/tickets/` followed by an id without `/` is `.ticket`.
    init?(path: String) {
        if path.hasPrefix(Self.ticketPrefix) {
            let id = Self.ticketID(in: path)
            guard !id.isEmpty, !id.contains("/") else { return nil }
            self = .ticket
        } else {
            self.init(rawValue: path)
        }
    }

    /// The ticket id in the path of a `.ticket` request.
    static func ticketID(in path: String) -> String { String(path.dropFirst(ticketPrefix.count)) }

    /// Every path, for a person: "/api/callbacks, /api/tickets, …, /metrics or /".
    static let listing: String = {
        let paths = allCases.map(\.rawValue)
        return paths.dropLast().joined(separator: ", ") + " or " + paths[paths.count - 1]
    }()

    /// The JSON API may require the bearer token; probes, metrics and the page (which holds no data) never do.
    var needsToken: Bool {
        switch self {
        case .page, .health, .readiness, .metrics: false
        default: true
        }
    }

    /// The query parameters it takes; nil for the page, which ignores any query (`/?from=bookmark`).
    var parameters: [String]? {
        switch self {
        case .page: nil
        case .tickets: ["operator", "month"]
        case .history: ["rs_id", "phone"]
        case .catalogSearch: ["q", "list"]
        case .payReport: ["month"]
        case .reasonsReport: ["from", "to"]
        default: []
        }
    }
}

private struct HealthBody: Encodable {
    let status: String
    let failure: String?

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(status, forKey: .status)
        try container.encode(failure, forKey: .failure)
    }

    enum CodingKeys: String, CodingKey { case status, failure }
}

private struct ReadinessCheck: Encodable {
    let name: String
    let ok: Bool
    let message: String
}

private struct ReadinessBody: Encodable {
    let ready: Bool
    /// Names of the checks that failed.
    let failed: [String]
    let checks: [ReadinessCheck]
}

extension Duration {
    fileprivate var milliseconds: Double {
        let parts = components
        return Double(parts.seconds) * 1000 + Double(parts.attoseconds) / 1e15
    }
}
