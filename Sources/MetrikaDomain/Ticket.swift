import Foundation

/// Whether a ticket is still being filled in or has been saved by an operator.
public enum TicketState: String, Codable, Sendable {
    case draft, saved
}

/// What produced the ticket.
public enum TicketKind: String, Codable, Sendable {
    /// Drafted from an answered call.
    case call
    /// Opened for a missed call: the subscriber must be called back.
    case callback
    /// Created by an operator (by hand or from the RS card).
    case manual
    /// Periodic work (payment check, campaign, parcels, documents).
    case task
    /// An operator called back a number with an open callback and did not get through.
    case attempt
}

/// How a ticket's number matched the subscriber directory.
public enum SubscriberMatch: String, Codable, Sendable {
    /// Exactly one subscriber has this number; their snapshot is in the ticket.
    case matched
    /// No subscriber has this number (yet); filled in while a draft if RS later publishes one.
    case unmatched
    /// Several subscribers share the number; `candidates` lists them and none is chosen.
    case ambiguous
    /// The ticket needs no subscriber (periodic work, or created with no number and no RS ID).
    case notApplicable = "not_applicable"
}

/// The result of looking a number up in the subscriber directory.
public enum DirectoryMatch: Sendable, Equatable {
    case none
    case one(Subscriber)
    case several([Subscriber])

    /// Builds the match from every subscriber who has the number.
    public init(_ subscribers: [Subscriber]) {
        switch subscribers.count {
        case 0: self = .none
        case 1: self = .one(subscribers[0])
        default: self = .several(subscribers.sorted { $0.rsID < $1.rsID })
        }
    }
}

/// Subscriber fields of a ticket: the match, the snapshot or the candidates.
public struct SubscriberFill: Sendable, Equatable {
    public var match: SubscriberMatch
    public var subscriber: SubscriberSnapshot?
    public var candidates: [SubscriberSnapshot]

    /// No subscriber applies.
    public static let notApplicable = SubscriberFill(match: .notApplicable, subscriber: nil, candidates: [])

    /// Fills from a directory match, snapshotting at `instant` in `zone` (days on tariff).
    public init(_ directoryMatch: DirectoryMatch, at instant: Date, in zone: TimeZone) {
        switch directoryMatch {
        case .none:
            self.init(match: .unmatched, subscriber: nil, candidates: [])
        case let .one(subscriber):
            self.init(match: .matched, subscriber: subscriber.snapshot(at: instant, in: zone), candidates: [])
        case let .several(subscribers):
            self.init(match: .ambiguous, subscriber: nil, candidates: subscribers.map { $0.snapshot(at: instant, in: zone) })
        }
    }

    public init(match: SubscriberMatch, subscriber: SubscriberSnapshot?, candidates: [SubscriberSnapshot]) {
        self.match = match
        self.subscriber = subscriber
        self.candidates = candidates
    }
}

/// A ticket: the record of one handled request or one action (DESIGN.md §1).
public struct Ticket: Codable, Sendable, Equatable {
    public let ticketID: String
    public var state: TicketState
    /// What the ticket records; changes only when a conversation takes over a missed call's draft
    /// (`TicketDesk.takeOver`).
    public internal(set) var kind: TicketKind
    /// The operator credited with the ticket (pay counts it for them); nil until someone saves a callback ticket.
    public var author: String?
    public let createdAt: Date
    public var savedAt: Date?
    public let callID: String?
    public internal(set) var direction: CallDirection?
    public var source: CatalogReference?
    /// E.164 numbers.
    public var contactPhones: [String]
    public var match: SubscriberMatch
    public var subscriber: SubscriberSnapshot?
    public var candidates: [SubscriberSnapshot]
    /// The subscriber's address, or one typed by the operator when there is no subscriber.
    public var address: String?
    public var reasons: [CatalogReference]
    public var resolutions: [CatalogReference]
    public var task: CatalogReference?
    public var comment: String?
    /// The callback this ticket holds, if any.
    public var callbackID: String?

    public init(ticketID: String, state: TicketState, kind: TicketKind, author: String?, createdAt: Date,
                callID: String? = nil, direction: CallDirection? = nil, source: CatalogReference?,
                contactPhones: [String], fill: SubscriberFill, address: String? = nil,
                reasons: [CatalogReference] = [], resolutions: [CatalogReference] = [],
                task: CatalogReference? = nil, comment: String? = nil) {
        self.ticketID = ticketID
        self.state = state
        self.kind = kind
        self.author = author
        self.createdAt = createdAt
        self.savedAt = nil
        self.callID = callID
        self.direction = direction
        self.source = source
        self.contactPhones = contactPhones
        self.match = fill.match
        self.subscriber = fill.subscriber
        self.candidates = fill.candidates
        self.address = address ?? fill.subscriber?.address
        self.reasons = reasons
        self.resolutions = resolutions
        self.task = task
        self.comment = comment
        self.callbackID = nil
    }

    /// A draft whose number matched no subscriber, or several: an RS update may still fill it in.
    public var isUnsettledDraft: Bool { state == .draft && (match == .unmatched || match == .ambiguous) }

    /// Replaces the subscriber fields (used when RS publishes a subscriber for a draft's number).
    public mutating func apply(_ fill: SubscriberFill) {
        match = fill.match
        subscriber = fill.subscriber
        candidates = fill.candidates
        if let snapshotAddress = fill.subscriber?.address { address = snapshotAddress }
    }

    /// A ticket from a call whose number is hidden or unusable (`anonymous`, empty): nobody can call back.
    public var hasNoCallbackNumber: Bool { callID != nil && contactPhones.isEmpty }

    /// True when one of the reasons is `Попросил перезвонить`.
    public func asksForCallback(_ catalog: Catalog) -> Bool {
        reasons.contains { $0.code == catalog.callbackReason.code }
    }

    enum CodingKeys: String, CodingKey {
        case ticketID = "ticket_id", state, kind, author, createdAt = "created_at", savedAt = "saved_at"
        case callID = "call_id", direction, source, contactPhones = "contact_phones", match, subscriber, candidates
        case address, reasons, resolutions, task, comment, callbackID = "callback_id"
        case noCallbackNumber = "no_callback_number"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        let zone = encoder.userInfo[.timeZone] as? TimeZone ?? .gmt
        try c.encode(ticketID, forKey: .ticketID)
        try c.encode(state, forKey: .state)
        try c.encode(kind, forKey: .kind)
        try c.encode(author, forKey: .author)
        try c.encode(RFC3339.format(createdAt, in: zone), forKey: .createdAt)
        try c.encode(savedAt.map { RFC3339.format($0, in: zone) }, forKey: .savedAt)
        try c.encode(callID, forKey: .callID)
        try c.encode(direction, forKey: .direction)
        try c.encode(source, forKey: .source)
        try c.encode(contactPhones, forKey: .contactPhones)
        try c.encode(match, forKey: .match)
        try c.encode(subscriber, forKey: .subscriber)
        try c.encode(candidates, forKey: .candidates)
        try c.encode(address, forKey: .address)
        try c.encode(reasons, forKey: .reasons)
        try c.encode(resolutions, forKey: .resolutions)
        try c.encode(task, forKey: .task)
        try c.encode(comment, forKey: .comment)
        try c.encode(callbackID, forKey: .callbackID)
        try c.encode(hasNoCallbackNumber, forKey: .noCallbackNumber)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func date(_ key: CodingKeys) throws -> Date? {
            guard let text = try c.decodeIfPresent(String.self, forKey: key) else { return nil }
            guard let value = RFC3339.parse(text) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "not RFC 3339")
            }
            return value
        }
        ticketID = try c.decode(String.self, forKey: .ticketID)
        state = try c.decode(TicketState.self, forKey: .state)
        kind = try c.decode(TicketKind.self, forKey: .kind)
        author = try c.decodeIfPresent(String.self, forKey: .author)
        guard let created = try date(.createdAt) else {
            throw DecodingError.keyNotFound(CodingKeys.createdAt, .init(codingPath: c.codingPath, debugDescription: "required"))
        }
        createdAt = created
        savedAt = try date(.savedAt)
        callID = try c.decodeIfPresent(String.self, forKey: .callID)
        direction = try c.decodeIfPresent(CallDirection.self, forKey: .direction)
        source = try c.decodeIfPresent(CatalogReference.self, forKey: .source)
        contactPhones = try c.decode([String].self, forKey: .contactPhones)
        match = try c.decode(SubscriberMatch.self, forKey: .match)
        subscriber = try c.decodeIfPresent(SubscriberSnapshot.self, forKey: .subscriber)
        candidates = try c.decode([SubscriberSnapshot].self, forKey: .candidates)
        address = try c.decodeIfPresent(String.self, forKey: .address)
        reasons = try c.decode([CatalogReference].self, forKey: .reasons)
        resolutions = try c.decode([CatalogReference].self, forKey: .resolutions)
        task = try c.decodeIfPresent(CatalogReference.self, forKey: .task)
        comment = try c.decodeIfPresent(String.self, forKey: .comment)
        callbackID = try c.decodeIfPresent(String.self, forKey: .callbackID)
    }
}

extension CodingUserInfoKey {
    /// The zone in which encoded timestamps are written (`TimeZone`); UTC when absent.
    public static let timeZone = CodingUserInfoKey(rawValue: "metrika.timeZone")!
}

/// One accepted edit of a ticket: who, when, from where, and which fields changed from what to what.
public struct TicketRevision: Codable, Sendable, Equatable {
    public let operatorLogin: String
    public let via: CommandOrigin
    public let editedAt: Date
    public let commandID: String
    public let changes: [FieldChange]

    public init(operatorLogin: String, via: CommandOrigin, editedAt: Date, commandID: String, changes: [FieldChange]) {
        self.operatorLogin = operatorLogin
        self.via = via
        self.editedAt = editedAt
        self.commandID = commandID
        self.changes = changes
    }

    enum CodingKeys: String, CodingKey {
        case operatorLogin = "operator", via, editedAt = "edited_at", commandID = "command_id", changes
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(operatorLogin, forKey: .operatorLogin)
        try c.encode(via, forKey: .via)
        try c.encode(RFC3339.format(editedAt, in: encoder.userInfo[.timeZone] as? TimeZone ?? .gmt), forKey: .editedAt)
        try c.encode(commandID, forKey: .commandID)
        try c.encode(changes, forKey: .changes)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        operatorLogin = try c.decode(String.self, forKey: .operatorLogin)
        via = try c.decode(CommandOrigin.self, forKey: .via)
        let text = try c.decode(String.self, forKey: .editedAt)
        guard let instant = RFC3339.parse(text) else {
            throw DecodingError.dataCorruptedError(forKey: .editedAt, in: c, debugDescription: "not RFC 3339")
        }
        editedAt = instant
        commandID = try c.decode(String.self, forKey: .commandID)
        changes = try c.decode([FieldChange].self, forKey: .changes)
    }
}
