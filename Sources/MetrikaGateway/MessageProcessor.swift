import Foundation
import MetrikaDomain
import MetrikaStore

/// One inbound AMQP message as the processor sees it.
public struct InboundEnvelope: Sendable {
    public let body: Data
    public let messageID: String?
    public let correlationID: String?
    public let replyTo: String?
    public let contentType: String?
    public let contentEncoding: String?
    public let exchange: String
    public let routingKey: String
    /// The queue it was consumed from.
    public let queue: String
    /// The broker delivered it before (the gateway may have stopped between commit and acknowledgement).
    public let redelivered: Bool

    public init(body: Data, messageID: String? = nil, correlationID: String? = nil, replyTo: String? = nil,
                contentType: String? = "application/json", contentEncoding: String? = nil,
                exchange: String, routingKey: String, queue: String, redelivered: Bool = false) {
        self.body = body
        self.messageID = messageID
        self.correlationID = correlationID
        self.replyTo = replyTo
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.exchange = exchange
        self.routingKey = routingKey
        self.queue = queue
        self.redelivered = redelivered
    }
}

/// What happened to one inbound message.
public enum ProcessingOutcome: Sendable, Equatable {
    /// Its effect was written.
    case applied
    /// Its id was seen before: no second effect.
    case duplicate
    /// A well-formed command the rules refused (`command.rejected` was written).
    case rejected(RejectionCode)
    /// Bad input, written to the outbox for the dead-letter queue with this error class.
    case deadLettered(String)
}

/// Applies inbound messages to the store: the gateway's business workflow.
///
/// Every effect, including the events it owes and dead letters, is written through `store` inside the
/// caller's transaction, so that an input is acknowledged only once all of it is durable.
/// Not thread-safe: it belongs to the consumer thread, like its store.
public final class MessageProcessor {
    private let store: GatewayStore
    private let desk: TicketDesk
    private let decoder: MessageDecoder
    private let encoder: EventEncoder
    private let names: TopologyNames
    private let topology: Topology
    private let pbx: PBXSettings
    /// Logs through `pendingLog`: lines reach `output` only when the transaction commits.
    private let logger: Logger
    private let output: Logger
    private let pendingLog = PendingLog()
    private let clock: @Sendable () -> Date
    private var now = Date()
    /// PBX dispositions and hang-up causes already reported as unknown (logged once each).
    private var reportedUnknownValues: Set<String> = []

    /// Whether each message is applied inside its own savepoint, so that a message that fails half-way
    /// (a refused command, a bug) is undone alone while the rest of its batch stands. A savepoint makes
    /// SQLite copy every page the message touches first (about 7% of a call storm's instructions), so
    /// the consumer turns it off and relies on `BatchNeedsSavepoints`: without a savepoint, a message that
    /// fails stops the batch, and the caller rolls the transaction back and applies the batch again with
    /// savepoints on.
    public var savepointPerMessage = true

    /// Thrown by `process` when `savepointPerMessage` is off and a message could not be applied: its
    /// writes so far cannot be undone alone, so the whole transaction must be rolled back and the batch
    /// applied again with `savepointPerMessage` on.
    public struct BatchNeedsSavepoints: Error, CustomStringConvertible {
        public var description: String { "a message of the batch failed without a savepoint; the batch is applied again with savepoints" }
    }

    public init(store: GatewayStore, desk: TicketDesk, limits: InputLimits, topology: Topology, pbx: PBXSettings = PBXSettings(),
                logger: Logger, clock: @escaping @Sendable () -> Date = Date.init) {
        self.store = store
        self.desk = desk
        self.decoder = MessageDecoder(plan: desk.plan, limits: limits)
        self.encoder = EventEncoder(zone: desk.zone)
        self.names = topology.names
        self.topology = topology
        self.pbx = pbx
        self.output = logger
        self.logger = pendingLog.logger(over: logger)
        self.clock = clock
        store.ticketZone = desk.zone
    }

    /// Runs `body` in one transaction of the store. What the processor logged meanwhile is written when
    /// the transaction commits and dropped when it rolls back, so a batch applied twice logs once.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        do {
            let result = try store.transaction(body)
            pendingLog.flush(to: output)
            return result
        } catch {
            pendingLog.discard()
            throw error
        }
    }

    /// Processes one message inside the caller's transaction. Throws `StoreError`s that may clear up
    /// (busy, full, I/O): the caller then rolls the batch back and retries it without acknowledging; and,
    /// only when `savepointPerMessage` is off, `BatchNeedsSavepoints`.
    public func process(_ envelope: InboundEnvelope) throws -> ProcessingOutcome {
        now = clock()
        if let problem = unsupportedContent(envelope) {
            return try deadLetter(envelope, problem, messageID: nil)
        }
        if let feed = topology.pbxFeed(ofQueue: envelope.queue) {
            return try processPBX(envelope, feed)
        }
        let message: InboundMessage
        do {
            message = try decoder.decode(envelope.body, amqpMessageID: envelope.messageID)
        } catch {
            let identity = BodyIdentity(envelope.body)
            try rejectMalformedCommand(envelope, identity, error)
            return try deadLetter(envelope, error, messageID: identity.id)
        }
        guard try store.claim(messageID: message.messageID, type: message.type, at: now) else {
            logger.debug("duplicate message ignored", ["message_id": message.messageID, "type": message.type])
            if message.isCommand, envelope.replyTo?.isEmpty == false, let earlier = try store.reply(toCommand: message.messageID) {
                try reply(to: envelope, earlier)
            }
            return .duplicate
        }
        do {
            let ticketID = try isolated { try apply(message) }
            if message.isCommand {
                try store.recordReply(toCommand: message.messageID, ticketID: ticketID, rejection: nil)
                try reply(to: envelope, CommandReply(commandID: message.messageID, rejection: nil, ticketID: ticketID))
            }
            return .applied
        } catch let rejection as CommandRejection {
            try emit(.commandRejected(commandID: message.messageID, commandType: message.type,
                                      operatorLogin: message.operatorLogin, rejection))
            try store.recordReply(toCommand: message.messageID, ticketID: nil, rejection: rejection)
            try reply(to: envelope, CommandReply(commandID: message.messageID, rejection: rejection, ticketID: nil))
            logger.info("command rejected", ["command_id": message.messageID, "code": rejection.code.rawValue])
            return .rejected(rejection.code)
        } catch let error as StoreError where error.isTransient {
            throw error
        } catch let error as BatchNeedsSavepoints {
            throw error
        } catch {
            let failure = InboundError(.invalidMessage, "cannot be applied: \(error)")
            logger.error("message cannot be applied", ["message_id": message.messageID, "error": "\(error)"])
            return try deadLetter(envelope, failure, messageID: message.messageID, errorClass: "processing_failed")
        }
    }

    // MARK: PBX feeds

    /// Applies one message of a PBX's own format (Asterisk CDR/CEL, FreeSWITCH): deduplicated on a key
    /// derived from its content, since these PBXs set no `message_id`.
    private func processPBX(_ envelope: InboundEnvelope, _ feed: PBXFeed) throws -> ProcessingOutcome {
        do {
            try decoder.checkSize(of: envelope.body)
        } catch {
            return try deadLetter(envelope, error, messageID: nil)
        }
        guard let json = ParsedJSON.parse([UInt8](envelope.body)) else {
            return try deadLetter(envelope, InboundError(.notJSON, "the body is not valid UTF-8 JSON"), messageID: nil)
        }
        do {
            switch feed {
            case .asteriskCDR:
                let leg = try AsteriskLeg(json, zone: pbx.zone)
                guard try store.claim(messageID: leg.deduplicationKey, type: "asterisk.cdr", at: now) else { return .duplicate }
                if !AsteriskLeg.knownDispositions.contains(leg.disposition) { reportUnknown("disposition", leg.disposition) }
                try store.addPendingLeg(callKey: leg.linkedID, leg, at: now)
            case .asteriskCEL:
                let event = try AsteriskCELEvent(json)
                guard event.endsCall else { return .applied }
                guard try store.claim(messageID: event.deduplicationKey, type: "asterisk.cel", at: now) else { return .duplicate }
                try store.markPendingCallEnded(callKey: event.linkedID, at: now)
            case .freeswitch:
                let event = try FreeSwitchEvent(json)
                guard let decision = event.decision(settings: pbx) else { return .applied }
                guard try store.claim(messageID: event.deduplicationKey, type: "freeswitch", at: now) else { return .duplicate }
                if !event.hasKnownCause { reportUnknown("hangup cause", event.hangupCause) }
                try isolated { try applyCall(callID: event.callID, decision) }
            }
            return .applied
        } catch let error as InboundError {
            return try deadLetter(envelope, error, messageID: nil)
        } catch let error as StoreError where error.isTransient {
            throw error
        } catch let error as BatchNeedsSavepoints {
            throw error
        } catch {
            return try deadLetter(envelope, InboundError(.invalidMessage, "cannot be applied: \(error)"), messageID: nil,
                                  errorClass: "processing_failed")
        }
    }

    /// Decides the Asterisk calls whose legs are all in (CEL `LINKEDID_END` plus `grace`, or `quiet`
    /// without a new CDR); returns how many. Runs inside the caller's transaction.
    ///
    /// Both periods count only from `consumingSince`, when the gateway last started consuming: the CDRs
    /// that queued while it was stopped or disconnected arrive after that, so a call whose legs straddle
    /// an outage longer than the quiet period still has all of them when it is decided.
    public func decidePendingAsteriskCalls(quiet: TimeInterval, grace: TimeInterval, consumingSince: Date) throws(StoreError) -> Int {
        now = clock()
        let consumed = now.timeIntervalSince(consumingSince)
        let ready = try store.pendingCallsReady(at: now, quiet: consumed >= quiet ? quiet : nil,
                                                grace: consumed >= grace ? grace : nil, limit: 500)
        for call in ready {
            do {
                try store.savepoint { try applyCall(callID: "asterisk:\(call.callKey)", AsteriskCall.decide(call.legs, settings: pbx)) }
            } catch let error as StoreError {
                throw error
            } catch {
                logger.error("an Asterisk call cannot be decided; its legs are dropped", ["linkedid": call.callKey, "error": "\(error)"])
            }
            try store.deletePendingCall(callKey: call.callKey)
        }
        return ready.count
    }

    /// Runs `body`, inside a savepoint when `savepointPerMessage` is on; otherwise any failure but a
    /// transient store error becomes `BatchNeedsSavepoints`.
    private func isolated<T>(_ body: () throws -> T) throws -> T {
        if savepointPerMessage { return try store.savepoint(body) }
        do {
            return try body()
        } catch let error as StoreError where error.isTransient {
            throw error
        } catch {
            throw BatchNeedsSavepoints()
        }
    }

    private func reportUnknown(_ what: String, _ value: String) {
        guard reportedUnknownValues.count < 100, reportedUnknownValues.insert("\(what):\(value)").inserted else { return }
        logger.warning("unknown PBX \(what); read as not answered", ["value": String(value.prefix(64))])
    }

    // MARK: Workflow

    /// Applies a decoded message; returns the ticket a command created or saved.
    private func apply(_ message: InboundMessage) throws -> String? {
        switch message {
        case let .subscriberUpdated(update):
            try applySubscriber(update)
            return nil
        case let .callAnswered(event):
            try applyCall(callID: event.callID, CallDecision.of(event))
            return nil
        case let .callEnded(event):
            try applyCall(callID: event.callID, CallDecision.of(event))
            return nil
        case let .ticketCreate(command):
            return try create(command)
        case let .ticketSave(command):
            return try save(command)
        case let .ticketEdit(command):
            return try edit(command)
        }
    }

    private func applySubscriber(_ update: SubscriberUpdated) throws {
        let subscriber = update.subscriber
        let stored = try store.storedSubscriber(rsID: subscriber.rsID)
        if let stored, stored.version >= update.version {
            logger.debug("stale subscriber version ignored",
                         ["rs_id": String(subscriber.rsID), "version": String(update.version), "stored": String(stored.version)])
            return
        }
        let previousPhones = stored?.phones ?? []
        try store.saveSubscriber(subscriber, version: update.version, replacing: previousPhones, at: now)
        // Drafts on a number the subscriber gained or lost may now match differently.
        var affected = subscriber.phones
        for phone in previousPhones where !affected.contains(phone) { affected.append(phone) }
        for phone in affected.sorted() {
            for var draft in try store.unsettledDrafts(phone: phone) {
                let fill = SubscriberFill(DirectoryMatch(try store.subscribers(phone: phone)), at: draft.createdAt, in: desk.zone)
                guard fill.match != draft.match || fill.candidates != draft.candidates else { continue }
                draft.apply(fill)
                try emit(.ticketAutofilled(draft), ticketJSON: try store.update(draft))
            }
        }
    }

    private func applyCall(callID: String, _ decision: CallDecision) throws {
        switch decision {
        case .nothing:
            return
        case let .answered(direction, operatorLogin, number, at):
            if let earlier = try store.callDecision(callID: callID) {
                if earlier != "answered" {
                    logger.warning("call reported answered after another outcome; the first decision stands",
                                   ["call_id": callID, "decision": earlier])
                }
                return
            }
            let phone = desk.plan.normalise(number)
            var resolved = try phone.flatMap { phone throws(StoreError) in try store.openCallback(phone: phone.e164) }
            resolved?.resolve(by: operatorLogin, how: direction == .inbound ? .answeredInbound : .answeredOutbound, at: at)
            let ticket: Ticket
            let body: String
            if let resolved, var waiting = try store.ticket(id: resolved.ticketID), waiting.state == .draft, waiting.author == nil {
                desk.takeOver(&waiting, byConversation: direction, operatorLogin: operatorLogin)
                (ticket, body) = (waiting, try store.update(waiting))
            } else {
                let draft = desk.callDraft(id: newID(), callID: callID, direction: direction, operatorLogin: operatorLogin,
                                           phone: phone, match: try match(phone), handling: resolved?.callbackID, at: at)
                (ticket, body) = (draft, try store.insert(draft))
            }
            try store.recordCall(callID: callID, decision: "answered", ticketID: ticket.ticketID, at: now)
            try emit(.ticketDrafted(ticket), ticketJSON: body)
            if let resolved {
                try store.save(resolved)
                try emit(.callbackResolved(resolved))
            }
        case let .unansweredOutbound(operatorLogin, number, at):
            guard try store.callDecision(callID: callID) == nil else { return }
            guard let phone = desk.plan.normalise(number), var callback = try store.openCallback(phone: phone.e164) else {
                try store.recordCall(callID: callID, decision: "unanswered_outbound", ticketID: nil, at: now)
                return
            }
            let ticket = desk.failedAttemptTicket(id: newID(), callID: callID, operatorLogin: operatorLogin, phone: phone,
                                                  match: try match(phone), callbackID: callback.callbackID, at: at)
            callback.recordFailedAttempt()
            let body = try store.insert(ticket)
            try store.save(callback)
            try store.recordCall(callID: callID, decision: "attempt", ticketID: ticket.ticketID, at: now)
            try emit(.ticketSaved(ticket), ticketJSON: body)
            try emit(.callbackAttempted(callback, ticket))
        case let .missed(number, at):
            guard try store.callDecision(callID: callID) == nil else { return }
            guard let phone = desk.plan.normalise(number) else {
                logger.info("missed call from a hidden or unusable number; no callback possible", ["call_id": callID])
                let ticket = desk.missedCallWithoutNumberTicket(id: newID(), callID: callID, at: at)
                let body = try store.insert(ticket)
                try store.recordCall(callID: callID, decision: "missed_no_number", ticketID: ticket.ticketID, at: now)
                try emit(.ticketDrafted(ticket), ticketJSON: body)
                return
            }
            if var callback = try store.openCallback(phone: phone.e164) {
                callback.recordMissedCall(at: at)
                try store.save(callback)
                try store.recordCall(callID: callID, decision: "missed", ticketID: callback.ticketID, at: now)
                try emit(.callbackNeeded(callback, try fill(ofTicket: callback.ticketID)))
                return
            }
            var ticket = desk.missedCallTicket(id: newID(), callID: callID, phone: phone, match: try match(phone), at: at)
            let callback = Callback(callbackID: newID(), ticketID: ticket.ticketID, phone: phone.e164, origin: .missedCall,
                                    openedAt: at, missedAt: at)
            ticket.callbackID = callback.callbackID
            let body = try store.insert(ticket)
            try store.save(callback)
            try store.recordCall(callID: callID, decision: "missed", ticketID: ticket.ticketID, at: now)
            try emit(.ticketDrafted(ticket), ticketJSON: body)
            try emit(.callbackNeeded(callback, SubscriberFill(ticket)))
        }
    }

    private func create(_ command: TicketCreateCommand) throws -> String {
        let phones = try desk.phones(command.contactPhones)
        let fill: SubscriberFill
        if let rsID = command.rsID {
            guard let subscriber = try store.subscriber(rsID: rsID) else {
                throw CommandRejection(.unknownSubscriber, "no subscriber with RS ID \(rsID) is known yet; check the ID or wait for RS to publish it")
            }
            fill = SubscriberFill(.one(subscriber), at: now, in: desk.zone)
        } else if let first = phones.first {
            fill = SubscriberFill(try match(first), at: now, in: desk.zone)
        } else {
            fill = .notApplicable
        }
        var ticket = try desk.manualTicket(id: newID(), command: command, phones: phones, fill: fill, at: now)
        let callback = try callbackToOpen(for: &ticket, closing: false)
        try finish(ticket, body: try store.insert(ticket), openedCallback: callback)
        return ticket.ticketID
    }

    private func save(_ command: TicketSaveCommand) throws -> String {
        guard var ticket = try store.ticket(id: command.ticketID) else {
            throw CommandRejection(.unknownTicket, "no ticket \(command.ticketID.prefix(64)) exists")
        }
        let phones = try command.contactPhones.map { list throws(CommandRejection) in try desk.phones(list) }
        try desk.save(&ticket, command: command, phones: phones, at: now)
        let resolved = command.callbackDone ? try closeCallback(of: ticket, by: command.operatorLogin) : nil
        let opened = try callbackToOpen(for: &ticket, closing: command.callbackDone)
        try finish(ticket, body: try store.update(ticket), openedCallback: opened)
        if let resolved {
            try store.save(resolved)
            try emit(.callbackResolved(resolved))
        }
        return ticket.ticketID
    }

    private func edit(_ command: TicketEditCommand) throws -> String {
        guard var ticket = try store.ticket(id: command.ticketID) else {
            throw CommandRejection(.unknownTicket, "no ticket \(command.ticketID.prefix(64)) exists")
        }
        let phones = try command.contactPhones.map { list throws(CommandRejection) in try desk.phones(list) }
        var changes = try desk.edit(&ticket, command: command, phones: phones, at: now)
        let resolved = command.callbackDone ? try closeCallback(of: ticket, by: command.operatorLogin) : nil
        if resolved != nil {
            changes.append(FieldChange(field: "callback", from: .text("open"), to: .text("done")))
        } else if let id = ticket.callbackID, try store.callback(id: id)?.status == .open {
            try desk.checkCallbackDetailsKept(ticket, changes: changes)
        }
        // An edit that adds `Попросил перезвонить` asks for a callback as a save with it does.
        let opened = try callbackToOpen(for: &ticket, closing: command.callbackDone)
        if let opened { changes.append(FieldChange(field: "callback", from: .text(nil), to: .text(opened.callbackID))) }
        let revision = TicketRevision(operatorLogin: command.operatorLogin, via: command.via, editedAt: now,
                                      commandID: command.commandID, changes: changes)
        let body = try store.update(ticket)
        try store.insertRevision(ticketID: ticket.ticketID, revision)
        try emit(.ticketEdited(ticket, revision), ticketJSON: body)
        if let opened { try announce(opened, for: ticket) }
        if let resolved {
            try store.save(resolved)
            try emit(.callbackResolved(resolved))
        }
        return ticket.ticketID
    }

    /// The ticket's open callback, marked done by the operator (not yet stored).
    private func closeCallback(of ticket: Ticket, by operatorLogin: String) throws -> Callback {
        guard let id = ticket.callbackID, var callback = try store.callback(id: id), callback.status == .open else {
            throw CommandRejection(.noOpenCallback, "ticket \(ticket.ticketID) holds no open callback to mark done")
        }
        callback.resolve(by: operatorLogin, how: .operatorDone, at: now)
        return callback
    }

    /// Emits `callback.overdue` once for every open callback older than `limit`; returns how many.
    /// Runs inside the caller's transaction, like `process`.
    public func reportOverdueCallbacks(olderThan limit: TimeInterval) throws(StoreError) -> Int {
        now = clock()
        let overdue = try store.callbacksBecomingOverdue(openedBefore: now.addingTimeInterval(-limit), limit: 1000)
        for var callback in overdue {
            callback.overdueAt = now
            try store.save(callback)
            try emit(.callbackOverdue(callback, try fill(ofTicket: callback.ticketID)))
            logger.info("callback overdue", ["callback_id": callback.callbackID, "phone": callback.phone])
        }
        return overdue.count
    }

    /// Decides the callback a saved ticket opens (or joins, when its number already has one open).
    private func callbackToOpen(for ticket: inout Ticket, closing: Bool) throws -> Callback? {
        guard try desk.opensCallback(ticket, closingCallback: closing), let phone = ticket.contactPhones.first else { return nil }
        if let open = try store.openCallback(phone: phone) {
            ticket.callbackID = open.callbackID
            return open
        }
        let callback = Callback(callbackID: newID(), ticketID: ticket.ticketID, phone: phone, origin: .requested,
                                openedAt: now, missedAt: nil)
        ticket.callbackID = callback.callbackID
        return callback
    }

    /// Stores the callback a ticket opened and emits the ticket's events.
    private func finish(_ ticket: Ticket, body: String, openedCallback: Callback?) throws {
        try emit(ticket.state == .saved ? .ticketSaved(ticket) : .ticketDrafted(ticket), ticketJSON: body)
        if let callback = openedCallback { try announce(callback, for: ticket) }
    }

    /// Stores a callback `ticket` opened (one it joined is stored already) and emits `callback.needed`.
    private func announce(_ callback: Callback, for ticket: Ticket) throws {
        if callback.ticketID == ticket.ticketID { try store.save(callback) }
        try emit(.callbackNeeded(callback, SubscriberFill(ticket)))
    }

    private func match(_ phone: PhoneNumber?) throws(StoreError) -> DirectoryMatch {
        guard let phone else { return .none }
        return DirectoryMatch(try store.subscribers(phone: phone))
    }

    private func fill(ofTicket id: String) throws(StoreError) -> SubscriberFill {
        try store.subscriberFill(ofTicket: id) ?? SubscriberFill(match: .unmatched, subscriber: nil, candidates: [])
    }

    // MARK: Output

    /// Writes an event to the outbox; `ticketJSON` is the ticket as just stored, when the event carries it.
    private func emit(_ event: GatewayEvent, ticketJSON: String? = nil) throws(StoreError) {
        let id = newID()
        try store.enqueue(OutboxMessage(messageID: id, exchange: names.eventsExchange, routingKey: event.type,
                                        body: encoder.encode(event, eventID: id, occurredAt: now, ticketJSON: ticketJSON),
                                        createdAt: now))
    }

    /// Answers a command on its AMQP `reply_to`, when it has one.
    private func reply(to envelope: InboundEnvelope, _ reply: CommandReply) throws(StoreError) {
        guard let replyTo = envelope.replyTo, !replyTo.isEmpty else { return }
        let id = newID()
        try store.enqueue(OutboxMessage(messageID: id, exchange: "", routingKey: replyTo,
                                        body: encoder.encode(reply, eventID: id, occurredAt: now),
                                        correlationID: envelope.correlationID, createdAt: now))
    }

    /// A command that failed validation still gets `command.rejected` (and a reply) when its id can be read.
    private func rejectMalformedCommand(_ envelope: InboundEnvelope, _ identity: BodyIdentity, _ error: InboundError) throws(StoreError) {
        guard let commandID = identity.id, let type = identity.type, type.hasPrefix("ticket.") else { return }
        let code: RejectionCode = error.kind == .messageIDMismatch ? .messageIDMismatch : .invalidCommand
        let rejection = CommandRejection(code, error.message)
        try emit(.commandRejected(commandID: commandID, commandType: type, operatorLogin: identity.operatorLogin, rejection))
        try reply(to: envelope, CommandReply(commandID: commandID, rejection: rejection, ticketID: nil))
    }

    private func unsupportedContent(_ envelope: InboundEnvelope) -> InboundError? {
        if let type = envelope.contentType, !type.isEmpty, type != "application/json" {
            let mediaType = (type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? "").lowercased()
            guard ["application/json", "text/json"].contains(mediaType) else {
                return InboundError(.unsupportedContent, "content_type '\(type.prefix(64))' is not application/json")
            }
        }
        if let encoding = envelope.contentEncoding?.lowercased(), !["", "utf-8", "utf8", "identity"].contains(encoding) {
            return InboundError(.unsupportedContent, "content_encoding '\(encoding.prefix(64))' is not supported; send plain UTF-8 JSON")
        }
        return nil
    }

    /// Writes the original body to the outbox for the dead-letter queue, with headers saying why (I5).
    private func deadLetter(_ envelope: InboundEnvelope, _ error: InboundError, messageID: String?,
                            errorClass: String? = nil) throws(StoreError) -> ProcessingOutcome {
        // Bad input often has no id: its fingerprint stands in, so that a redelivery (the gateway stopped
        // between commit and acknowledgement) is not dead-lettered twice.
        let fingerprint = "dead-letter:" + envelope.fingerprint
        let firstTime = try store.claim(messageID: fingerprint, type: "dead-letter", at: now)
        if !firstTime && envelope.redelivered {
            return .duplicate
        }
        let errorClass = errorClass ?? error.kind.rawValue
        let text = String(error.message.prefix(500))
        let originalID = messageID ?? envelope.messageID.map { String($0.prefix(128)) }
        try store.recordDeadLetter(DeadLetterRecord(messageID: originalID, errorClass: errorClass, error: text, queue: envelope.queue,
                                                    exchange: envelope.exchange, routingKey: envelope.routingKey, failedAt: now))
        var headers: [String: OutboxHeaderValue] = [
            "x-metrika-error-class": .string(errorClass),
            "x-metrika-error": .string(text),
            "x-metrika-attempts": .integer(1),
            "x-metrika-failed-at": .string(RFC3339.format(now, in: desk.zone)),
            "x-metrika-original-exchange": .string(envelope.exchange),
            "x-metrika-original-routing-key": .string(envelope.routingKey),
            "x-metrika-original-queue": .string(envelope.queue),
        ]
        if let originalID { headers["x-metrika-original-message-id"] = .string(originalID) }
        try store.enqueue(OutboxMessage(messageID: newID(), exchange: "", routingKey: names.deadQueue, body: envelope.body,
                                        headers: headers, createdAt: now))
        logger.warning("message dead-lettered", ["queue": envelope.queue, "routing_key": envelope.routingKey,
                                                 "error_class": errorClass, "error": text])
        return .deadLettered(errorClass)
    }

    private func newID() -> String { TimeOrderedUUID.next(at: now) }
}

extension InboundEnvelope {
    /// A stable 64-bit FNV-1a hash of the body and where it came from, in hex.
    var fingerprint: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
            for byte in bytes {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01B3
            }
            hash ^= 0xFF
            hash = hash &* 0x0000_0100_0000_01B3
        }
        mix(body)
        mix(exchange.utf8)
        mix(routingKey.utf8)
        mix(queue.utf8)
        mix((messageID ?? "").utf8)
        return String(hash, radix: 16)
    }
}

/// What can be read of a body that failed validation: its id, type and operator, when present as strings.
struct BodyIdentity {
    let id: String?
    let type: String?
    let operatorLogin: String?

    init(_ body: Data) {
        let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
        func text(_ key: String, _ limit: Int) -> String? {
            guard let value = object[key] as? String, !value.isEmpty else { return nil }
            return String(value.prefix(limit))
        }
        id = text("command_id", 128) ?? text("event_id", 128)
        type = text("type", 64)
        operatorLogin = text("operator", 128)
    }
}

extension InboundMessage {
    var isCommand: Bool {
        switch self {
        case .ticketCreate, .ticketSave, .ticketEdit: true
        default: false
        }
    }

    var operatorLogin: String? {
        switch self {
        case let .ticketCreate(c): c.operatorLogin
        case let .ticketSave(c): c.operatorLogin
        case let .ticketEdit(c): c.operatorLogin
        default: nil
        }
    }
}

extension SubscriberFill {
    /// The subscriber fields a ticket holds.
    init(_ ticket: Ticket) {
        self.init(match: ticket.match, subscriber: ticket.subscriber, candidates: ticket.candidates)
    }
}
