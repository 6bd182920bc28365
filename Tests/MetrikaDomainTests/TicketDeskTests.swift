import Foundation
import Testing
@testable import MetrikaDomain

@Suite("The ticket desk applies the business rules of DESIGN.md")
struct TicketDeskTests {
    let desk: TicketDesk
    /// 2026-12-03T10:10:12+03:00, 277 days after Анна Иванова's tariff started.
    let answeredAt = Date(timeIntervalSince1970: 1_796_281_812)
    let savedAt = Date(timeIntervalSince1970: 1_796_282_045) // 10:14:05+03:00

    init() throws {
        desk = TicketDesk(catalog: try Fixture.defaultCatalog(), plan: Fixture.ru, zone: Fixture.moscow)
    }

    static let noInternet = CatalogReference(code: "no_internet", title: "Нет интернета")
    static let callbackRequested = CatalogReference(code: "callback_requested", title: "Попросил перезвонить")
    static let consulted = CatalogReference(code: "consulted", title: "Проконсультировал")
    static let incomingCall = CatalogReference(code: "incoming_call", title: "Входящий звонок")

    func command(reasons: [String] = ["нет инета"], resolutions: [String] = ["Проконсультировал"], source: String? = "Входящий звонок",
                 task: String? = nil, address: String? = nil, save: Bool = false) -> TicketCreateCommand {
        TicketCreateCommand(commandID: "c1", operatorLogin: "op.petrova", via: .rsCard, rsID: 100234, source: source,
                            contactPhones: ["+79000001122"], reasons: reasons, resolutions: resolutions,
                            comment: "Пропал интернет", task: task, address: address, save: save)
    }

    func saveCommand(operatorLogin: String = "op.sidorov", phones: [String]? = nil, source: String? = nil,
                     reasons: [String] = [], resolutions: [String] = [], comment: String? = nil,
                     address: String? = nil) -> TicketSaveCommand {
        TicketSaveCommand(commandID: "s1", ticketID: "t1", operatorLogin: operatorLogin, contactPhones: phones, source: source,
                          reasons: reasons, resolutions: resolutions, comment: comment, address: address, callbackDone: false)
    }

    func matchedDraft() throws -> Ticket {
        desk.callDraft(id: "t1", callID: "1764749400.1057", direction: .inbound, operatorLogin: "op.petrova",
                       phone: try Fixture.phone("+79000001122"), match: .one(try Fixture.ivanova()), at: answeredAt)
    }

    // MARK: - Drafts from calls

    @Test("A draft for an answered inbound call is authored by the operator and filled from the subscriber")
    func inboundCallDraft() throws {
        let ticket = try matchedDraft()
        #expect(ticket.ticketID == "t1")
        #expect(ticket.state == .draft)
        #expect(ticket.kind == .call)
        #expect(ticket.author == "op.petrova")
        #expect(ticket.createdAt == answeredAt)
        #expect(ticket.savedAt == nil)
        #expect(ticket.callID == "1764749400.1057")
        #expect(ticket.direction == .inbound)
        #expect(ticket.source == Self.incomingCall)
        #expect(ticket.contactPhones == ["+79000001122"])
        #expect(ticket.match == .matched)
        #expect(ticket.subscriber == SubscriberSnapshot(
            rsID: 100234, contractNo: "Д-2019/4471", fullName: "Иванова Анна Сергеевна",
            address: "г. Пермь, ул. Ленина, д. 10, кв. 5", tariffName: "Домашний 500", tariffSince: "2026-03-01",
            daysOnTariff: 277, switchName: "sw-perm-len10-2", status: .active))
        #expect(ticket.candidates.isEmpty)
        #expect(ticket.address == "г. Пермь, ул. Ленина, д. 10, кв. 5")
        #expect(ticket.reasons.isEmpty)
        #expect(ticket.resolutions.isEmpty)
        #expect(ticket.task == nil)
        #expect(ticket.comment == nil)
        #expect(ticket.callbackID == nil)
    }

    @Test("A draft for an answered outbound call has the source Исходящий звонок")
    func outboundCallDraft() throws {
        let ticket = desk.callDraft(id: "t2", callID: "c2", direction: .outbound, operatorLogin: "op.sidorov",
                                    phone: try Fixture.phone("+79000001122"), match: .one(try Fixture.ivanova()), at: answeredAt)
        #expect(ticket.source == CatalogReference(code: "outgoing_call", title: "Исходящий звонок"))
        #expect(ticket.direction == .outbound)
        #expect(ticket.author == "op.sidorov")
    }

    @Test("A draft for an unknown number is unmatched and has no address")
    func unmatchedCallDraft() throws {
        let ticket = desk.callDraft(id: "t3", callID: "c3", direction: .inbound, operatorLogin: "op.petrova",
                                    phone: try Fixture.phone("+79990000000"), match: .none, at: answeredAt)
        #expect(ticket.match == .unmatched)
        #expect(ticket.subscriber == nil)
        #expect(ticket.candidates.isEmpty)
        #expect(ticket.address == nil)
        #expect(ticket.contactPhones == ["+79990000000"])
    }

    @Test("A draft for a shared number lists every candidate by RS ID and chooses none")
    func ambiguousCallDraft() throws {
        let match = DirectoryMatch([try Fixture.ivanov(), try Fixture.ivanova()])
        let ticket = desk.callDraft(id: "t4", callID: "c4", direction: .inbound, operatorLogin: "op.petrova",
                                    phone: try Fixture.phone("+73422001122"), match: match, at: answeredAt)
        #expect(ticket.match == .ambiguous)
        #expect(ticket.subscriber == nil)
        #expect(ticket.address == nil)
        #expect(ticket.candidates.map(\.rsID) == [100234, 100871])
        #expect(ticket.candidates.map(\.daysOnTariff) == [277, 1632])
        #expect(ticket.candidates.map(\.status) == [.active, .suspended])
    }

    @Test("A draft for a call without a usable number has no phone and needs no subscriber")
    func callDraftWithoutNumber() {
        let ticket = desk.callDraft(id: "t5", callID: "c5", direction: .inbound, operatorLogin: nil,
                                    phone: nil, match: .none, at: answeredAt)
        #expect(ticket.contactPhones.isEmpty)
        #expect(ticket.match == .notApplicable)
        #expect(ticket.author == nil)
    }

    @Test("The directory match of nobody, one and several subscribers")
    func directoryMatch() throws {
        #expect(DirectoryMatch([]) == .none)
        #expect(DirectoryMatch([try Fixture.ivanov()]) == .one(try Fixture.ivanov()))
        #expect(DirectoryMatch([try Fixture.ivanov(), try Fixture.ivanova()])
            == .several([try Fixture.ivanova(), try Fixture.ivanov()]))
    }

    @Test("A subscriber published later fills a draft's subscriber fields and address")
    func applyingAFillReplacesSubscriberFields() throws {
        var ticket = desk.callDraft(id: "t3", callID: "c3", direction: .inbound, operatorLogin: "op.petrova",
                                    phone: try Fixture.phone("+79000001122"), match: .none, at: answeredAt)
        ticket.apply(SubscriberFill(.one(try Fixture.ivanova()), at: answeredAt, in: Fixture.moscow))
        #expect(ticket.match == .matched)
        #expect(ticket.subscriber?.daysOnTariff == 277)
        #expect(ticket.address == "г. Пермь, ул. Ленина, д. 10, кв. 5")
    }

    // MARK: - Missed calls

    @Test("A missed call opens a callback ticket with the reason Попросил перезвонить and no author")
    func missedCallTicket() throws {
        let missedAt = Date(timeIntervalSince1970: 1_796_281_241)
        let ticket = desk.missedCallTicket(id: "t6", callID: "1764748800.1042", phone: try Fixture.phone("+79000001122"),
                                           match: .one(try Fixture.ivanova()), at: missedAt)
        #expect(ticket.state == .draft)
        #expect(ticket.kind == .callback)
        #expect(ticket.author == nil)
        #expect(ticket.createdAt == missedAt)
        #expect(ticket.callID == "1764748800.1042")
        #expect(ticket.direction == .inbound)
        #expect(ticket.source == CatalogReference(code: "missed_call", title: "Пропущенный звонок"))
        #expect(ticket.reasons == [Self.callbackRequested])
        #expect(ticket.resolutions.isEmpty)
        #expect(ticket.contactPhones == ["+79000001122"])
        #expect(ticket.match == .matched)
        #expect(ticket.subscriber?.rsID == 100234)
        #expect(ticket.address == "г. Пермь, ул. Ленина, д. 10, кв. 5")
        #expect(ticket.asksForCallback(desk.catalog))
    }

    // MARK: - Phones chosen by operators

    @Test("Operators' phones are normalised and deduplicated in order")
    func operatorPhones() throws {
        let phones = try desk.phones(["8 900 000-11-22", "+79000001122", "83422001122"])
        #expect(phones.map(\.e164) == ["+79000001122", "+73422001122"])
    }

    @Test("A phone that is not a number is refused as invalid_phone")
    func invalidOperatorPhone() {
        #expect(throws: CommandRejection(.invalidPhone, "'101' is not a phone number; use +7XXXXXXXXXX, 8XXXXXXXXXX or XXXXXXXXXX")) {
            try desk.phones(["+79000001122", "101"])
        }
    }

    // MARK: - Manual tickets

    @Test("A manual ticket resolves reasons, resolutions and the source by synonym and case, without duplicates")
    func manualTicketResolvesNames() throws {
        let fill = SubscriberFill(.one(try Fixture.ivanova()), at: answeredAt, in: Fixture.moscow)
        let ticket = try desk.manualTicket(
            id: "t7", command: command(reasons: ["НЕТ ИНЕТА", "no_internet", "Попросил  перезвонить"],
                                       resolutions: ["КОНСУЛЬТАЦИЯ"], source: "вх"),
            phones: [try Fixture.phone("+79000001122")], fill: fill, at: answeredAt)
        #expect(ticket.state == .draft)
        #expect(ticket.kind == .manual)
        #expect(ticket.author == "op.petrova")
        #expect(ticket.reasons == [Self.noInternet, Self.callbackRequested])
        #expect(ticket.resolutions == [Self.consulted])
        #expect(ticket.source == Self.incomingCall)
        #expect(ticket.task == nil)
        #expect(ticket.comment == "Пропал интернет")
        #expect(ticket.contactPhones == ["+79000001122"])
        #expect(ticket.match == .matched)
        #expect(ticket.address == "г. Пермь, ул. Ленина, д. 10, кв. 5")
        #expect(ticket.savedAt == nil)
        #expect(ticket.callID == nil)
        #expect(ticket.direction == nil)
    }

    @Test("A manual ticket with a task kind is periodic work and may be saved without a reason")
    func taskTicket() throws {
        let ticket = try desk.manualTicket(
            id: "t8", command: command(reasons: [], resolutions: [], source: nil, task: "ОБЗВОН", address: "склад", save: true),
            phones: [], fill: .notApplicable, at: answeredAt)
        #expect(ticket.kind == .task)
        #expect(ticket.task == CatalogReference(code: "outbound_campaign", title: "Исходящий обзвон"))
        #expect(ticket.state == .saved)
        #expect(ticket.savedAt == answeredAt)
        #expect(ticket.source == nil)
        #expect(ticket.match == .notApplicable)
        #expect(ticket.address == "склад")
    }

    @Test("A manual ticket saved at creation is saved by its author")
    func manualTicketSavedAtCreation() throws {
        let ticket = try desk.manualTicket(id: "t9", command: command(save: true), phones: [],
                                           fill: .notApplicable, at: savedAt)
        #expect(ticket.state == .saved)
        #expect(ticket.savedAt == savedAt)
        #expect(ticket.author == "op.petrova")
    }

    @Test("A manual ticket saved at creation without a reason or task is refused")
    func manualTicketWithoutReason() {
        #expect(throws: CommandRejection(.reasonRequired, "a ticket is saved with at least one reason (or a periodic task kind)")) {
            try desk.manualTicket(id: "t10", command: command(reasons: [], save: true), phones: [], fill: .notApplicable, at: savedAt)
        }
    }

    @Test("A manual ticket naming something the catalog lacks is refused as unknown_catalog_entry", arguments: [
        ("reason", ["нет связи с луной"], [], nil, nil),
        ("resolution", [], ["починил луну"], nil, nil),
        ("source", [], [], "голубиная почта", nil),
        ("task", [], [], nil, "полить цветы"),
        ("reason", ["вх"], [], nil, nil),
    ] as [(String, [String], [String], String?, String?)])
    func unknownCatalogNames(what: String, reasons: [String], resolutions: [String], source: String?, task: String?) {
        let typed = reasons.first ?? resolutions.first ?? source ?? task ?? ""
        let rejection = CommandRejection(.unknownCatalogEntry, "unknown \(what) '\(typed)': use a code, title or synonym from the catalog")
        #expect(throws: rejection) {
            try desk.manualTicket(id: "t11", command: command(reasons: reasons, resolutions: resolutions, source: source, task: task),
                                  phones: [], fill: .notApplicable, at: answeredAt)
        }
    }

    // MARK: - Saving

    @Test("Saving a draft records what the operator filled in and keeps the call's author")
    func savingADraft() throws {
        var ticket = try matchedDraft()
        try desk.save(&ticket, command: saveCommand(phones: ["83422001122", "+79000001122"],
                                                    source: "ИСХ", reasons: ["Нет интернета", "перезвонить"],
                                                    resolutions: ["передано специалисту"], comment: "Нужен монтажник",
                                                    address: "г. Пермь, ул. Ленина, д. 12"),
                      phones: try desk.phones(["83422001122", "+79000001122"]), at: savedAt)
        #expect(ticket.state == .saved)
        #expect(ticket.savedAt == savedAt)
        #expect(ticket.author == "op.petrova")
        #expect(ticket.contactPhones == ["+73422001122", "+79000001122"])
        #expect(ticket.source == CatalogReference(code: "outgoing_call", title: "Исходящий звонок"))
        #expect(ticket.reasons == [Self.noInternet, Self.callbackRequested])
        #expect(ticket.resolutions == [CatalogReference(code: "passed_to_specialist", title: "Передано специалисту")])
        #expect(ticket.comment == "Нужен монтажник")
        #expect(ticket.address == "г. Пермь, ул. Ленина, д. 12")
        #expect(ticket.createdAt == answeredAt)
    }

    @Test("Saving with nothing new keeps the draft's fields")
    func savingKeepsUnchangedFields() throws {
        var ticket = try matchedDraft()
        ticket.reasons = [Self.noInternet]
        try desk.save(&ticket, command: saveCommand(), phones: nil, at: savedAt)
        #expect(ticket.state == .saved)
        #expect(ticket.reasons == [Self.noInternet])
        #expect(ticket.contactPhones == ["+79000001122"])
        #expect(ticket.source == Self.incomingCall)
        #expect(ticket.address == "г. Пермь, ул. Ленина, д. 10, кв. 5")
        #expect(ticket.comment == nil)
    }

    @Test("Saving a missed-call ticket makes the saving operator its author")
    func savingSetsAuthorWhenAbsent() throws {
        var ticket = desk.missedCallTicket(id: "t6", callID: "c6", phone: try Fixture.phone("+79000001122"),
                                           match: .one(try Fixture.ivanova()), at: answeredAt)
        try desk.save(&ticket, command: saveCommand(operatorLogin: "op.sidorov", comment: "Перезвонили"), phones: nil, at: savedAt)
        #expect(ticket.author == "op.sidorov")
        #expect(ticket.reasons == [Self.callbackRequested])
        #expect(ticket.savedAt == savedAt)
    }

    @Test("A saved ticket cannot be saved again")
    func savingTwiceIsRefused() throws {
        var ticket = try matchedDraft()
        try desk.save(&ticket, command: saveCommand(reasons: ["нет инета"]), phones: nil, at: savedAt)
        #expect(throws: CommandRejection(.ticketAlreadySaved, "ticket t1 was already saved; change it with ticket.edit")) {
            try desk.save(&ticket, command: saveCommand(reasons: ["Прочее"]), phones: nil, at: savedAt.addingTimeInterval(60))
        }
        #expect(ticket.reasons == [Self.noInternet])
        #expect(ticket.savedAt == savedAt)
    }

    @Test("A ticket without a reason cannot be saved")
    func savingWithoutReasonIsRefused() throws {
        var ticket = try matchedDraft()
        #expect(throws: CommandRejection(.reasonRequired, "a ticket is saved with at least one reason (or a periodic task kind)")) {
            try desk.save(&ticket, command: saveCommand(comment: "без причины"), phones: nil, at: savedAt)
        }
        #expect(ticket.state == .draft)
        #expect(ticket.savedAt == nil)
    }

    @Test("Saving with an unknown source is refused")
    func savingWithUnknownSource() throws {
        var ticket = try matchedDraft()
        #expect(throws: CommandRejection(.unknownCatalogEntry, "unknown source 'факс': use a code, title or synonym from the catalog")) {
            try desk.save(&ticket, command: saveCommand(source: "факс", reasons: ["нет инета"]), phones: nil, at: savedAt)
        }
        #expect(ticket.state == .draft)
    }

    // MARK: - Callbacks opened by saving

    func savedCallbackTicket(phones: [String] = ["+79000001122"], address: String? = "г. Пермь, ул. Ленина, д. 10, кв. 5",
                             comment: String? = "Нужен выезд монтажника") throws -> Ticket {
        var ticket = desk.callDraft(id: "t1", callID: "c1", direction: .inbound, operatorLogin: "op.petrova",
                                    phone: nil, match: .none, at: answeredAt)
        ticket.contactPhones = phones
        ticket.address = address
        try desk.save(&ticket, command: saveCommand(reasons: ["Нет интернета", "Попросил перезвонить"], comment: comment),
                      phones: nil, at: savedAt)
        return ticket
    }

    @Test("A saved ticket asking for a callback with phone, address and comment opens one")
    func completeCallbackOpens() throws {
        #expect(try desk.opensCallback(try savedCallbackTicket(), closingCallback: false))
    }

    @Test("A callback ticket lacking details is refused, naming what is missing", arguments: [
        ([], "г. Пермь", "Нужен монтажник", "a contact phone"),
        (["+79000001122"], nil, "Нужен монтажник", "the address"),
        (["+79000001122"], "  ", "Нужен монтажник", "the address"),
        (["+79000001122"], "г. Пермь", nil, "a comment with the essence of the question"),
        (["+79000001122"], "г. Пермь", " \n ", "a comment with the essence of the question"),
        ([], nil, nil, "a contact phone, the address, a comment with the essence of the question"),
    ] as [([String], String?, String?, String)])
    func incompleteCallbackIsRefused(phones: [String], address: String?, comment: String?, missing: String) throws {
        let ticket = try savedCallbackTicket(phones: phones, address: address, comment: comment)
        #expect(throws: CommandRejection(.callbackIncomplete, "a ticket with the reason 'Попросил перезвонить' needs \(missing)")) {
            try desk.opensCallback(ticket, closingCallback: false)
        }
    }

    @Test("Closing a callback while saving opens none, even if details are missing")
    func closingOpensNoCallback() throws {
        #expect(try desk.opensCallback(try savedCallbackTicket(), closingCallback: true) == false)
        #expect(try desk.opensCallback(try savedCallbackTicket(phones: [], comment: nil), closingCallback: true) == false)
    }

    @Test("A ticket that already holds a callback, a draft, or one without the reason opens none")
    func otherTicketsOpenNoCallback() throws {
        var holding = try savedCallbackTicket()
        holding.callbackID = "cb1"
        #expect(try desk.opensCallback(holding, closingCallback: false) == false)

        let draft = desk.missedCallTicket(id: "t6", callID: "c6", phone: try Fixture.phone("+79000001122"),
                                          match: .none, at: answeredAt)
        #expect(try desk.opensCallback(draft, closingCallback: false) == false)

        var plain = try matchedDraft()
        try desk.save(&plain, command: saveCommand(reasons: ["нет инета"]), phones: nil, at: savedAt)
        #expect(try desk.opensCallback(plain, closingCallback: false) == false)
    }
}
