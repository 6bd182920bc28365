import Foundation
import MetrikaDomain
import MetrikaGateway
import MetrikaHTTP
import MetrikaReports
import MetrikaStore
import MetrikaTestSupport
import Testing

/// A missed call that ended `secondsAgo` seconds ago (so its callback is not overdue yet).
func recentMissedCall(from number: String, secondsAgo: TimeInterval = 5) -> [String: Any] {
    let zone = TimeZone(identifier: "Europe/Moscow")!
    let ended = Date(timeIntervalSinceNow: -secondsAgo)
    var call = Fixtures.callEnded(callID: "call-\(UUID().uuidString)", number: number, outcome: "missed",
                                  endedAt: RFC3339.format(ended, in: zone))
    call["started_at"] = RFC3339.format(ended.addingTimeInterval(-30), in: zone)
    return call
}

/// The HTTP face of a running gateway: health, readiness, metrics and the read-only API.
@Suite(.serialized)
struct OperationsHTTPTests {
    @Test func healthIsAliveAndReadinessNamesTheCheckThatFailsOnceTheBrokerConnectionsAreGone() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        let (server, port) = try gateway.startOperations()
        defer { server.stop() }

        let health = try WireHTTP.request(port: port, "/healthz")
        #expect(health.status == 200)
        #expect(health.headers["content-type"] == "application/json; charset=utf-8")
        #expect(try health.json()["status"] as? String == "alive")

        let ready = try WireHTTP.request(port: port, "/readyz")
        #expect(ready.status == 200)
        let readyBody = try ready.json()
        #expect(readyBody["ready"] as? Bool == true)
        #expect(readyBody["failed"] as? [String] == [])
        let checks = try #require(readyBody["checks"] as? [[String: Any]])
        #expect(checks.map { $0["name"] as? String } == ["broker", "database", "outbox"])
        #expect(checks.allSatisfy { $0["ok"] as? Bool == true })

        gateway.gateway.stop()
        let notReady = try WireHTTP.request(port: port, "/readyz")
        #expect(notReady.status == 503)
        let notReadyBody = try notReady.json()
        #expect(notReadyBody["ready"] as? Bool == false)
        #expect(notReadyBody["failed"] as? [String] == ["broker"])
        let broker = try #require((notReadyBody["checks"] as? [[String: Any]])?.first)
        #expect((broker["message"] as? String)?.contains("consumer not connected") == true)
    }

    @Test func metricsInThePrometheusFormatMoveWhenMessagesFlow() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        let (server, port) = try gateway.startOperations()
        defer { server.stop() }
        let telephony = "{queue=\"\(gateway.names.telephonyQueue)\"}"

        let before = try WireHTTP.request(port: port, "/metrics")
        #expect(before.status == 200)
        #expect(before.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        #expect(samples(of: "metrika_messages_consumed_total", in: before.text)[telephony] == 0)
        #expect(samples(of: "metrika_callbacks_open", in: before.text)[""] == 0)
        #expect(samples(of: "metrika_amqp_connection_up", in: before.text) == ["{connection=\"consumer\"}": 1, "{connection=\"publisher\"}": 1])
        #expect(before.text.contains("metrika_build_info{version=\"\(GatewayMetrics.version)\",sqlite=\""))
        for line in before.text.split(separator: "\n") {
            #expect(line.wholeMatch(of: /# (HELP|TYPE) metrika_[a-z_]+ .+|metrika_[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+/) != nil,
                    "not a Prometheus line: \(line)")
        }

        try gateway.publishSubscriber(Fixtures.subscriber(rsID: 100234, version: 1, phones: ["+7 (900) 000-11-22"]))
        try gateway.publishCall(recentMissedCall(from: "89000001122"))
        try gateway.publishRaw(Data("not json".utf8), exchange: gateway.names.telephonyExchange, routingKey: "call.ended")
        _ = try gateway.nextEvent(ofType: "callback.needed")

        var after = ""
        #expect(try gateway.eventually {
            after = try WireHTTP.request(port: port, "/metrics").text
            return samples(of: "metrika_outbox_published_total", in: after)[""] ?? 0 >= 3
                && samples(of: "metrika_outbox_messages", in: after)[""] == 0
        })
        #expect(samples(of: "metrika_messages_consumed_total", in: after)[telephony] == 2)
        #expect(samples(of: "metrika_messages_acked_total", in: after)[telephony] == 2)
        let processed = samples(of: "metrika_messages_processed_total", in: after)
        #expect(processed["{queue=\"\(gateway.names.telephonyQueue)\",outcome=\"applied\"}"] == 1)
        #expect(processed["{queue=\"\(gateway.names.telephonyQueue)\",outcome=\"dead_lettered\"}"] == 1)
        #expect(processed["{queue=\"\(gateway.names.rsQueue)\",outcome=\"applied\"}"] == 1)
        #expect(samples(of: "metrika_messages_dead_lettered_total", in: after)
            == ["{queue=\"\(gateway.names.telephonyQueue)\",reason=\"not_json\"}": 1])
        #expect(samples(of: "metrika_message_processing_seconds_count", in: after)[telephony] == 2)
        #expect(samples(of: "metrika_message_processing_seconds_bucket", in: after)["{queue=\"\(gateway.names.telephonyQueue)\",le=\"+Inf\"}"] == 2)
        #expect(samples(of: "metrika_publisher_confirm_seconds_count", in: after)[""] ?? 0 >= 3)
        #expect(samples(of: "metrika_callbacks_open", in: after)[""] == 1)
        #expect(samples(of: "metrika_callbacks_overdue", in: after)[""] == 0)
        #expect(samples(of: "metrika_tickets", in: after) == ["{state=\"draft\"}": 1, "{state=\"saved\"}": 0])
        #expect(samples(of: "metrika_amqp_reconnects_total", in: after) == ["{connection=\"consumer\"}": 0, "{connection=\"publisher\"}": 0])
    }

    @Test func theAPIAnswersTheSameViewsAsTheQueryLayerTheCLIUses() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        let (server, port) = try gateway.startOperations()
        defer { server.stop() }
        try gateway.publishSubscriber(Fixtures.subscriber(rsID: 100234, version: 1, phones: ["+7 (900) 000-11-22"]))
        try gateway.publishCall(recentMissedCall(from: "89000001122"))
        let needed = try gateway.nextEvent(ofType: "callback.needed")
        let ticketID = try #require(needed["ticket_id"] as? String)

        let callbacks = try WireHTTP.request(port: port, "/api/callbacks")
        #expect(callbacks.status == 200)
        let list = try ReportJSON.decoder().decode(CallbackList.self, from: Data(callbacks.body))
        let store = try GatewayStore(readingPath: gateway.configuration.databasePath)
        defer { store.close() }
        let direct = try Reports(store: store, zone: gateway.configuration.timeZone, plan: gateway.configuration.numberingPlan,
                                 overdueAfter: TimeInterval(gateway.configuration.callbackOverdueSeconds)).openCallbacks(at: list.asOf)
        #expect(list == direct)
        #expect(list.callbacks.map(\.phone) == ["+79000001122"])
        #expect(list.callbacks.first?.subscriber.rsID == 100234)
        #expect(list.callbacks.first?.overdue == false)

        let byPhone = try WireHTTP.request(port: port, "/api/history?phone=8+(900)+000-11-22")
        #expect(byPhone.status == 200)
        let history = try ReportJSON.decoder().decode(SubscriberHistory.self, from: Data(byPhone.body))
        #expect(history.phone == "+79000001122")
        #expect(history.subscribers.map(\.rsID) == [100234])
        #expect(history.tickets.map(\.ticketID) == [ticketID])
        let byRSID = try ReportJSON.decoder().decode(SubscriberHistory.self,
                                                     from: Data(try WireHTTP.request(port: port, "/api/history?rs_id=100234").body))
        #expect(byRSID.tickets.map(\.ticketID) == [ticketID])

        let ticket = try WireHTTP.request(port: port, "/api/tickets/\(ticketID)")
        #expect(ticket.status == 200)
        let detail = try ticket.json()
        #expect((detail["ticket"] as? [String: Any])?["ticket_id"] as? String == ticketID)
        #expect(detail["revisions"] as? [Any] != nil)
        #expect((detail["callback"] as? [String: Any])?["status"] as? String == "open")

        let mine = try WireHTTP.request(port: port, "/api/tickets?operator=op.petrova&month=2026-12")
        #expect(mine.status == 200)
        #expect(try mine.json()["operator"] as? String == "op.petrova")
        #expect(try mine.json()["month"] as? String == "2026-12")

        let search = try WireHTTP.request(port: port, "/api/catalog/search?q=%D0%BD%D0%B5%D1%82+%D0%B8%D0%BD%D0%B5%D1%82%D0%B0&list=reasons")
        #expect(search.status == 200)
        let matches = try #require(try search.json()["matches"] as? [[String: Any]])
        #expect(matches.first?["title"] as? String == "Нет интернета")

        let pay = try WireHTTP.request(port: port, "/api/reports/pay?month=2026-12")
        #expect(pay.status == 200)
        #expect(try pay.json()["operators"] as? [Any] != nil)
        let reasons = try WireHTTP.request(port: port, "/api/reports/reasons?from=2026-12-01&to=2026-12-31")
        #expect(reasons.status == 200)
        #expect(try reasons.json()["tickets"] as? Int == 0)
    }

    @Test func malformedRequestsGetAClear4xxAndTheServerKeepsAnswering() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        let (server, port) = try gateway.startOperations()
        defer { server.stop() }

        let hugeHeader = try WireHTTP.request(port: port, "/healthz", headers: ["X-Padding": String(repeating: "a", count: 64 * 1024)])
        #expect(hugeHeader.status == 431)
        let hugeTarget = try WireHTTP.request(port: port, "/api/callbacks?" + String(repeating: "a", count: 64 * 1024))
        #expect(hugeTarget.status == 414)
        let manyHeaders = (0..<2000).reduce(into: [String: String]()) { $0["X-Header-\($1)"] = "value" }
        #expect(try WireHTTP.request(port: port, "/healthz", headers: manyHeaders).status == 431)
        #expect(try WireHTTP.exchange(port: port, "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n").status == 400, "no Host header")
        #expect(try WireHTTP.exchange(port: port, "GET /healthz HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n").status == 400)
        #expect(try WireHTTP.exchange(port: port, "GET /healthz HTTP/7.0\r\nHost: x\r\nConnection: close\r\n\r\n").status == 505)
        for notHTTP in ["GARBAGE\r\n\r\n", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"] {
            // libmicrohttpd 0.9.75 closes the connection on a request line it cannot split, without an answer.
            let socket = try LoopbackSocket(port: port)
            socket.write(Array(notHTTP.utf8))
            let answer = String(decoding: try socket.readToEnd(), as: UTF8.self)
            #expect(answer.isEmpty || answer.hasPrefix("HTTP/1.1 400"), "\(notHTTP.debugDescription): \(answer.prefix(100))")
        }

        let badRequests: [(String, String)] = [
            ("/api/history?phone=%zz", "has a '%' that is not followed by two hex digits"),
            ("/api/history?phone=%FF%FE", "is not UTF-8"),
            ("/api/history?rs_id=abc", "is not an RS ID"),
            ("/api/history?rs_id=1&rs_id=2", "is given twice"),
            ("/api/history?rs_id=1&phone=89000001122", "give exactly one of rs_id or phone"),
            ("/api/history?phone=12", "is not a phone number"),
            ("/api/history?rs_id=", "is empty"),
            ("/api/callbacks?limit=5", "takes no parameters"),
            ("/api/tickets?month=2026-12", "needs the parameter 'operator'"),
            ("/api/tickets?operator=op.petrova&month=2026-13", "is not a month"),
            ("/api/catalog/search?q=%20", "nothing to search for"),
            ("/api/catalog/search?q=x&list=colours", "is not a catalog list"),
            ("/api/reports/reasons?from=2026-12-31&to=2026-12-01", "ends earlier"),
        ]
        for (target, message) in badRequests {
            let response = try WireHTTP.request(port: port, target)
            #expect(response.status == 400, "\(target)")
            #expect(response.errorCode == "invalid_argument", "\(target)")
            #expect(response.text.contains(message), "\(target): \(response.text)")
        }

        let unknown = try WireHTTP.request(port: port, "/api/unknown")
        #expect(unknown.status == 404)
        #expect(unknown.errorCode == "not_found")
        for path in ["/api/callbacks", "/api/tickets", "/api/tickets/{id}", "/api/history", "/api/catalog/search",
                     "/api/reports/pay", "/api/reports/reasons", "/healthz", "/readyz", "/metrics"] {
            #expect(unknown.text.contains(path), "the 404 message does not list \(path): \(unknown.text)")
        }
        let missingTicket = try WireHTTP.request(port: port, "/api/tickets/no-such-ticket")
        #expect(missingTicket.status == 404)
        #expect(missingTicket.errorCode == "not_found")
        let post = try WireHTTP.request(port: port, "/api/callbacks", method: "POST")
        #expect(post.status == 405)
        #expect(post.headers["allow"] == "GET, HEAD")
        #expect(post.errorCode == "method_not_allowed")

        #expect(try WireHTTP.request(port: port, "/healthz").status == 200)
    }

    @Test func oneConnectionServesRequestAfterRequestAndHeadAnswersWithoutABody() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        let (server, port) = try gateway.startOperations()
        defer { server.stop() }

        let socket = try LoopbackSocket(port: port)
        for target in ["/healthz", "/api/callbacks", "/metrics"] {
            #expect(socket.write(Array("GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)))
            let head = try WireResponse(socket.readHead())
            #expect(head.status == 200, "\(target)")
            #expect(head.headers["connection"] != "close", "\(target)")
            let length = try #require(head.headers["content-length"].flatMap { Int($0) })
            #expect(try socket.read(exactly: length).count == length)
        }
        let head = try WireHTTP.request(port: port, "/api/callbacks", method: "HEAD")
        #expect(head.status == 200)
        #expect(head.body.isEmpty)
    }

    @Test func theBearerTokenGuardsTheAPIButNotTheProbesTheMetricsOrThePage() throws {
        let token = "3f1d2c9b8a7e6f5d4c3b2a1908f7e6d5"
        let gateway = try TestGateway { $0.httpToken = token }
        defer { gateway.shutdown() }
        let (server, port) = try gateway.startOperations()
        defer { server.stop() }

        let anonymous = try WireHTTP.request(port: port, "/api/callbacks")
        #expect(anonymous.status == 401)
        #expect(anonymous.errorCode == "unauthorized")
        #expect(anonymous.headers["www-authenticate"] == "Bearer realm=\"metrika\"")
        #expect(try WireHTTP.request(port: port, "/api/callbacks", headers: ["Authorization": "Bearer wrong-token-of-some-length"]).status == 401)
        #expect(try WireHTTP.request(port: port, "/api/callbacks", headers: ["Authorization": "Basic \(token)"]).status == 401)
        #expect(try WireHTTP.request(port: port, "/api/callbacks", headers: ["Authorization": "Bearer \(token)"]).status == 200)
        for scheme in ["bearer \(token)", "BEARER \(token)", "Bearer   \(token)", "bEaReR\t \(token)"] {
            #expect(try WireHTTP.request(port: port, "/api/callbacks", headers: ["Authorization": scheme]).status == 200,
                    "the auth-scheme is case-insensitive and may be followed by several blanks: \(scheme.debugDescription)")
        }
        for refused in ["Bearer", "Bearer ", "Bearer\(token)", "Bearer \(token)x", "Bearer \(token.dropLast())", "Bearers \(token)"] {
            #expect(try WireHTTP.request(port: port, "/api/callbacks", headers: ["Authorization": refused]).status == 401,
                    "\(refused.debugDescription)")
        }
        for open in ["/healthz", "/readyz", "/metrics", "/"] {
            #expect(try WireHTTP.request(port: port, open).status == 200, "\(open)")
        }
    }

    @Test func theOperatorsPageIsOneSelfContainedDocumentInRussian() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        let (server, port) = try gateway.startOperations()
        defer { server.stop() }

        let page = try WireHTTP.request(port: port, "/")
        #expect(page.status == 200)
        #expect(page.headers["content-type"] == "text/html; charset=utf-8")
        for target in ["/?x=1", "/?from=bookmark&from=again", "/?%zz", "/?"] {
            let withQuery = try WireHTTP.request(port: port, target)
            #expect(withQuery.status == 200, "the page ignores its query: \(target)")
            #expect(withQuery.body == page.body, "\(target)")
        }
        #expect(page.headers["content-security-policy"]?.hasPrefix("default-src 'none'") == true)
        #expect(page.text.contains("<html lang=\"ru\">"))
        #expect(page.text.contains("Необработанные перезвоны"))
        for label in ["Номер", "Абонент", "Адрес", "Пропущено", "Попыток", "Ждёт"] {
            #expect(page.text.contains("<th class=\"num\">\(label)</th>") || page.text.contains("<th>\(label)</th>"), "\(label)")
        }
        for external in ["http://", "https://", "src=", "<link", "@import"] {
            #expect(!page.text.contains(external), "the page refers to something outside itself: \(external)")
        }
    }
}

/// The HTTP keys of the configuration.
struct HTTPConfigurationTests {
    @Test func theListenerDefaultsToLoopbackPort8080WithoutAToken() throws {
        let configuration = try GatewayConfiguration(values: [:])
        #expect(configuration.httpEnabled)
        #expect(configuration.httpAddress == "127.0.0.1")
        #expect(configuration.httpPort == 8080)
        #expect(configuration.httpToken == nil)
        #expect(configuration.readyOutboxLagSeconds == 60)
    }

    @Test func theHTTPKeysAreReadAndCheckedWithActionableMessages() throws {
        let configuration = try GatewayConfiguration(values: [
            "METRIKA_HTTP_ENABLED": "false", "METRIKA_HTTP_ADDRESS": "::1", "METRIKA_HTTP_PORT": "9090",
            "METRIKA_HTTP_TOKEN": "0123456789abcdef0123", "METRIKA_READY_OUTBOX_LAG_SECONDS": "30",
        ])
        #expect(!configuration.httpEnabled)
        #expect(configuration.httpAddress == "::1")
        #expect(configuration.httpPort == 9090)
        #expect(configuration.httpToken == "0123456789abcdef0123")
        #expect(configuration.readyOutboxLagSeconds == 30)

        let refused: [([String: String], String)] = [
            (["METRIKA_HTTP_ENABLED": "maybe"], "must be true or false"),
            (["METRIKA_HTTP_ADDRESS": "localhost"], "is not an IP address"),
            (["METRIKA_HTTP_PORT": "70000"], "between 0 and 65535"),
            (["METRIKA_HTTP_TOKEN": "short"], "at least 16 printable ASCII characters"),
        ]
        for (values, message) in refused {
            do throws(ConfigurationError) {
                _ = try GatewayConfiguration(values: values)
                Issue.record("\(values) was accepted")
            } catch {
                #expect(error.message.contains(message), "\(values): \(error.message)")
            }
        }
    }

    @Test func aPortInUseIsRefusedWithWhatToChange() throws {
        let first = HTTPServer(address: "127.0.0.1", port: 0) { _ in HTTPResponse(status: 204, headers: [], body: []) }
        try first.start()
        defer { first.stop() }
        let second = HTTPServer(address: "127.0.0.1", port: try #require(first.port)) { _ in HTTPResponse(status: 204, headers: [], body: []) }
        do throws(HTTPServerError) {
            try second.start()
            second.stop()
            Issue.record("a second server listened on the same port")
        } catch {
            #expect(error.code == .cannotListen)
            #expect(error.message.contains("METRIKA_HTTP_PORT"))
        }
    }
}
