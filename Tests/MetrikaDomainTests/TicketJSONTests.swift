import Foundation
import Testing
@testable import MetrikaDomain

/// The hand-written ticket JSON (hot path) says exactly what the `Encodable` conformance says.
struct TicketJSONTests {
    static let moscow = TimeZone(identifier: "Europe/Moscow")!

    static func tickets() throws -> [Ticket] {
        let snapshot = SubscriberSnapshot(rsID: 7, contractNo: "Д-1/\"2\"", fullName: "Ёлкина\nАнна", address: "ул. \\Мира/ 1\u{01}",
                                          tariffName: "Дом 500", tariffSince: "2026-03-01", daysOnTariff: 12, switchName: "sw-1",
                                          status: .suspended)
        var full = Ticket(ticketID: "t-1", state: .saved, kind: .callback, author: "op.petrova",
                          createdAt: Date(timeIntervalSince1970: 1_796_281_812.345), callID: "1709622902.36", direction: .outbound,
                          source: CatalogReference(code: "missed_call", title: "Пропущенный звонок"), contactPhones: ["+79000001122", "+73422001122"],
                          fill: SubscriberFill(match: .ambiguous, subscriber: snapshot, candidates: [snapshot, snapshot]),
                          address: "другой адрес", reasons: [CatalogReference(code: "a", title: "Б")],
                          resolutions: [CatalogReference(code: "c", title: "Д"), CatalogReference(code: "e", title: "Ё")],
                          task: CatalogReference(code: "payment_check", title: "Проверка платежей"), comment: "тab\tи \"кавычки\"")
        full.savedAt = Date(timeIntervalSince1970: 1_796_290_000)
        full.callbackID = "cb-1"
        let empty = Ticket(ticketID: "t-2", state: .draft, kind: .manual, author: nil, createdAt: Date(timeIntervalSince1970: 0),
                           source: nil, contactPhones: [], fill: .notApplicable)
        return [full, empty]
    }

    @Test func theHandWrittenJSONEqualsTheEncodableOne() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.userInfo[.timeZone] = Self.moscow
        for ticket in try Self.tickets() {
            let fast = try JSONSerialization.jsonObject(with: Data(ticket.json(in: Self.moscow).utf8)) as? NSDictionary
            let reference = try JSONSerialization.jsonObject(with: try encoder.encode(ticket)) as? NSDictionary
            #expect(fast != nil)
            #expect(fast == reference)
        }
    }

    @Test func theHandWrittenJSONReadsBackAsTheSameTicket() throws {
        for ticket in try Self.tickets() {
            let decoded = try JSONDecoder().decode(Ticket.self, from: Data(ticket.json(in: Self.moscow).utf8))
            #expect(decoded.ticketID == ticket.ticketID)
            #expect(decoded.createdAt.timeIntervalSince1970 == (ticket.createdAt.timeIntervalSince1970 * 1000).rounded(.down) / 1000)
            #expect(decoded.subscriber == ticket.subscriber)
            #expect(decoded.candidates == ticket.candidates)
            #expect(decoded.comment == ticket.comment)
            #expect(decoded.reasons == ticket.reasons)
        }
    }

    @Test func theSubscriberPartIsReadBackFromTheStoredJSONAlone() throws {
        for ticket in try Self.tickets() {
            let fill = try #require(SubscriberFill(ticketJSON: ticket.json(in: Self.moscow)))
            #expect(fill == SubscriberFill(match: ticket.match, subscriber: ticket.subscriber, candidates: ticket.candidates))
        }
        #expect(SubscriberFill(ticketJSON: "{}") == nil)
        #expect(SubscriberFill(ticketJSON: #"{"match":"matched","subscriber":{"rs_id":"7"}}"#) == nil)
        #expect(SubscriberFill(ticketJSON: "not json") == nil)
    }
}
