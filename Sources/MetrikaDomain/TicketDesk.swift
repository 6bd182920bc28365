import Foundation

/// The business rules for creating and saving tickets (DESIGN.md §1), without I/O.
///
/// The caller looks subscribers up and stores the results; the desk decides what the ticket holds
/// and refuses commands that break the rules.
public struct TicketDesk: Sendable {
    public let catalog: Catalog
    public let plan: NumberingPlan
    /// The company's zone: days on tariff and month boundaries are counted in it.
    public let zone: TimeZone

    public init(catalog: Catalog, plan: NumberingPlan, zone: TimeZone) {
        self.catalog = catalog
        self.plan = plan
        self.zone = zone
    }

    /// The draft for an answered call: author = the operator, source by direction, number in E.164. An
    /// outbound call that resolves the callback `handling` is the operator calling back: the draft is a
    /// callback ticket linked to it, so saving it counts as a callback handled.
    public func callDraft(id: String, callID: String, direction: CallDirection, operatorLogin: String?,
                          phone: PhoneNumber?, match: DirectoryMatch, handling callbackID: String? = nil, at instant: Date) -> Ticket {
        let callingBack = direction == .outbound && callbackID != nil
        var ticket = Ticket(ticketID: id, state: .draft, kind: callingBack ? .callback : .call, author: operatorLogin,
                            createdAt: instant, callID: callID, direction: direction, source: catalog.callSource(direction).reference,
                            contactPhones: phone.map { [$0.e164] } ?? [],
                            fill: phone == nil ? .notApplicable : SubscriberFill(match, at: instant, in: zone))
        if callingBack { ticket.callbackID = callbackID }
        return ticket
    }

    /// The ticket that holds a callback for a missed inbound call: reason `Попросил перезвонить`,
    /// source `Пропущенный звонок`, no author until an operator saves it.
    public func missedCallTicket(id: String, callID: String, phone: PhoneNumber, match: DirectoryMatch, at instant: Date) -> Ticket {
        Ticket(ticketID: id, state: .draft, kind: .callback, author: nil, createdAt: instant, callID: callID,
               direction: .inbound, source: catalog.missedCallSource.reference, contactPhones: [phone.e164],
               fill: SubscriberFill(match, at: instant, in: zone), reasons: [catalog.callbackReason.reference])
    }

    /// The draft for a missed call from a hidden or unusable number: no callback can be opened, so the
    /// ticket only records the call (source `Пропущенный звонок`, no contact phone).
    public func missedCallWithoutNumberTicket(id: String, callID: String, at instant: Date) -> Ticket {
        Ticket(ticketID: id, state: .draft, kind: .call, author: nil, createdAt: instant, callID: callID, direction: .inbound,
               source: catalog.missedCallSource.reference, contactPhones: [], fill: .notApplicable)
    }

    /// Normalises the numbers an operator chose; refuses any that is not a phone number.
    public func phones(_ typed: [String]) throws(CommandRejection) -> [PhoneNumber] {
        var phones: [PhoneNumber] = []
        for text in typed {
            guard let phone = plan.normalise(text) else {
                throw CommandRejection(.invalidPhone, "'\(text.prefix(64))' is not a phone number; use +7XXXXXXXXXX, 8XXXXXXXXXX or XXXXXXXXXX")
            }
            if !phones.contains(phone) { phones.append(phone) }
        }
        return phones
    }

    /// A ticket an operator creates (`ticket.create`), autofilled from `subscriber` or `match`.
    public func manualTicket(id: String, command: TicketCreateCommand, phones: [PhoneNumber], fill: SubscriberFill,
                             at instant: Date) throws(CommandRejection) -> Ticket {
        let task = try command.task.map { text throws(CommandRejection) in try resolve(text, in: catalog.tasks, "task") }
        let source = try command.source.map { text throws(CommandRejection) in try resolve(text, in: catalog.sources, "source").reference }
        var ticket = Ticket(ticketID: id, state: .draft, kind: task == nil ? .manual : .task, author: command.operatorLogin,
                            createdAt: instant, source: source,
                            contactPhones: phones.map(\.e164), fill: fill, address: command.address,
                            reasons: try resolve(command.reasons, in: catalog.reasons, "reason"),
                            resolutions: try resolve(command.resolutions, in: catalog.resolutions, "resolution"),
                            task: task?.reference, comment: command.comment)
        if command.save { try markSaved(&ticket, by: command.operatorLogin, at: instant) }
        return ticket
    }

    /// Completes a draft with what the operator filled in (`ticket.save`).
    public func save(_ ticket: inout Ticket, command: TicketSaveCommand, phones: [PhoneNumber]?, at instant: Date) throws(CommandRejection) {
        guard ticket.state == .draft else {
            throw CommandRejection(.ticketAlreadySaved, "ticket \(ticket.ticketID) was already saved; change it with ticket.edit")
        }
        if let phones { ticket.contactPhones = phones.map(\.e164) }
        if let source = command.source { ticket.source = try resolve(source, in: catalog.sources, "source").reference }
        if !command.reasons.isEmpty { ticket.reasons = try resolve(command.reasons, in: catalog.reasons, "reason") }
        if !command.resolutions.isEmpty { ticket.resolutions = try resolve(command.resolutions, in: catalog.resolutions, "resolution") }
        if let comment = command.comment { ticket.comment = comment }
        if let address = command.address { ticket.address = address }
        try markSaved(&ticket, by: command.operatorLogin, at: instant)
    }

    private func markSaved(_ ticket: inout Ticket, by operatorLogin: String, at instant: Date) throws(CommandRejection) {
        guard !ticket.reasons.isEmpty || ticket.task != nil else {
            throw CommandRejection(.reasonRequired, "a ticket is saved with at least one reason (or a periodic task kind)")
        }
        ticket.state = .saved
        ticket.savedAt = instant
        if ticket.author == nil { ticket.author = operatorLogin }
    }

    /// Whether saving `ticket` opens a callback: its reasons include `Попросил перезвонить`, it holds no
    /// callback yet, and the operator is not closing one. Refuses a callback that lacks the details needed
    /// to call back. (A missed call's ticket holds its callback from the start: the details rule is for
    /// the tickets that ask for one.)
    public func opensCallback(_ ticket: Ticket, closingCallback: Bool) throws(CommandRejection) -> Bool {
        guard ticket.state == .saved, ticket.asksForCallback(catalog), ticket.callbackID == nil, !closingCallback else {
            return false
        }
        try checkCallbackDetails(ticket)
        return true
    }

    /// The conversation that resolves a callback automatically (an answered call from or to its number),
    /// drafted on the callback's own ticket while that is still a missed call's draft nobody took: one
    /// ticket then tells the whole story. An outbound call is the operator calling back (the ticket stays a
    /// callback, so saving it counts as a callback handled); an inbound call is the subscriber getting
    /// through (an answered call, source `Входящий звонок`, without the preset reason).
    public func takeOver(_ ticket: inout Ticket, byConversation direction: CallDirection, operatorLogin: String?) {
        ticket.author = operatorLogin
        ticket.direction = direction
        if direction == .inbound {
            ticket.kind = .call
            ticket.source = catalog.callSource(.inbound).reference
            ticket.reasons = []
        }
    }

    /// An edit of a ticket whose callback is still open keeps what is needed to call back: it may not
    /// remove the last contact phone or blank the comment.
    public func checkCallbackDetailsKept(_ ticket: Ticket, changes: [FieldChange]) throws(CommandRejection) {
        var removed: [String] = []
        if changes.contains(where: { $0.field == "contact_phones" }) && ticket.contactPhones.isEmpty { removed.append("the contact phone") }
        if changes.contains(where: { $0.field == "comment" }) && (ticket.comment ?? "").trimmingWhitespace().isEmpty {
            removed.append("the comment")
        }
        guard removed.isEmpty else {
            throw CommandRejection(.callbackIncomplete, "ticket \(ticket.ticketID) holds an open callback; the edit may not remove "
                + removed.joined(separator: " or ") + " (mark the callback done first)")
        }
    }

    /// A callback must carry what is needed to call back: a phone, the address and the essence of the question.
    public func checkCallbackDetails(_ ticket: Ticket) throws(CommandRejection) {
        var missing: [String] = []
        if ticket.contactPhones.isEmpty { missing.append("a contact phone") }
        if (ticket.address ?? "").trimmingWhitespace().isEmpty { missing.append("the address") }
        if (ticket.comment ?? "").trimmingWhitespace().isEmpty { missing.append("a comment with the essence of the question") }
        guard missing.isEmpty else {
            throw CommandRejection(.callbackIncomplete,
                                   "a ticket with the reason '\(catalog.callbackReason.title)' needs \(missing.joined(separator: ", "))")
        }
    }

    /// Applies an accepted `ticket.edit` to a saved ticket; returns the fields that changed.
    /// Refuses drafts, edits outside the window or by the wrong operator, and edits that change nothing.
    public func edit(_ ticket: inout Ticket, command: TicketEditCommand, phones: [PhoneNumber]?, at instant: Date) throws(CommandRejection) -> [FieldChange] {
        guard ticket.state == .saved else {
            throw CommandRejection(.ticketIsDraft, "ticket \(ticket.ticketID) is a draft; complete it with ticket.save")
        }
        try EditWindow(zone: zone).check(ticket, via: command.via, by: command.operatorLogin, at: instant)
        var changes: [FieldChange] = []
        if let reasons = command.reasons {
            let resolved = try resolve(reasons, in: catalog.reasons, "reason")
            guard !resolved.isEmpty || ticket.task != nil else {
                throw CommandRejection(.reasonRequired, "a saved ticket keeps at least one reason")
            }
            if resolved != ticket.reasons { changes.append(FieldChange(field: "reasons", from: .references(ticket.reasons), to: .references(resolved))) }
            ticket.reasons = resolved
        }
        if let resolutions = command.resolutions {
            let resolved = try resolve(resolutions, in: catalog.resolutions, "resolution")
            if resolved != ticket.resolutions { changes.append(FieldChange(field: "resolutions", from: .references(ticket.resolutions), to: .references(resolved))) }
            ticket.resolutions = resolved
        }
        if let comment = command.comment, comment != ticket.comment {
            changes.append(FieldChange(field: "comment", from: .text(ticket.comment), to: .text(comment)))
            ticket.comment = comment
        }
        if let phones {
            let numbers = phones.map(\.e164)
            if numbers != ticket.contactPhones { changes.append(FieldChange(field: "contact_phones", from: .phones(ticket.contactPhones), to: .phones(numbers))) }
            ticket.contactPhones = numbers
        }
        if let source = command.source {
            let resolved = try resolve(source, in: catalog.sources, "source").reference
            if resolved != ticket.source { changes.append(FieldChange(field: "source", from: .reference(ticket.source), to: .reference(resolved))) }
            ticket.source = resolved
        }
        guard !changes.isEmpty || command.callbackDone else {
            throw CommandRejection(.noChanges, "the edit changes nothing in ticket \(ticket.ticketID)")
        }
        return changes
    }

    /// The saved ticket recording a callback attempt that did not get through: author = the operator,
    /// source `Исходящий звонок`, reason `Попросил перезвонить`, resolution `Позвонил — не дозвонился`.
    public func failedAttemptTicket(id: String, callID: String, operatorLogin: String?, phone: PhoneNumber,
                                    match: DirectoryMatch, callbackID: String, at instant: Date) -> Ticket {
        var ticket = Ticket(ticketID: id, state: .saved, kind: .attempt, author: operatorLogin, createdAt: instant, callID: callID,
                            direction: .outbound, source: catalog.callSource(.outbound).reference, contactPhones: [phone.e164],
                            fill: SubscriberFill(match, at: instant, in: zone), reasons: [catalog.callbackReason.reference],
                            resolutions: catalog.resolutions.entry(code: Catalog.RequiredCode.noAnswer).map { [$0.reference] } ?? [])
        ticket.savedAt = instant
        ticket.callbackID = callbackID
        return ticket
    }

    /// Resolves what an operator typed in a catalog list; refuses unknown names.
    public func resolve(_ texts: [String], in list: CatalogList, _ what: String) throws(CommandRejection) -> [CatalogReference] {
        var references: [CatalogReference] = []
        for text in texts {
            let reference = try resolve(text, in: list, what).reference
            if !references.contains(reference) { references.append(reference) }
        }
        return references
    }

    private func resolve(_ text: String, in list: CatalogList, _ what: String) throws(CommandRejection) -> CatalogEntry {
        guard let entry = list.resolve(text) else {
            throw CommandRejection(.unknownCatalogEntry, "unknown \(what) '\(text.prefix(100))': use a code, title or synonym from the catalog")
        }
        return entry
    }
}
