import Foundation
import MetrikaDomain

// The views the query layer returns. Every key is snake_case and always present (null when empty), and
// instants are RFC 3339 in the company's zone when encoded with `ReportJSON.encoder(zone:)`.

/// Who a ticket or callback is about, as far as the directory could tell.
public struct SubscriberLabel: Codable, Sendable, Equatable {
    /// `matched`, `unmatched`, `ambiguous` or `not_applicable`.
    public let match: SubscriberMatch
    /// The subscriber when exactly one matched.
    public let rsID: Int64?
    public let contractNo: String?
    public let fullName: String?
    /// RS IDs of the subscribers sharing the number when the match is ambiguous, ascending.
    public let candidates: [Int64]

    /// The subscriber fields of `ticket`.
    public init(_ ticket: Ticket) {
        match = ticket.match
        rsID = ticket.subscriber?.rsID
        contractNo = ticket.subscriber?.contractNo
        fullName = ticket.subscriber?.fullName
        candidates = ticket.candidates.map(\.rsID)
    }

    enum CodingKeys: String, CodingKey {
        case match, rsID = "rs_id", contractNo = "contract_no", fullName = "full_name", candidates
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(match, forKey: .match)
        try c.encode(rsID, forKey: .rsID)
        try c.encode(contractNo, forKey: .contractNo)
        try c.encode(fullName, forKey: .fullName)
        try c.encode(candidates, forKey: .candidates)
    }
}

/// One entry of the unprocessed list: an open callback and what an operator needs to call back.
public struct OpenCallback: Codable, Sendable, Equatable {
    public let callbackID: String
    /// The ticket to save (or edit from the callback list) when the callback is handled.
    public let ticketID: String
    /// The number to call, E.164.
    public let phone: String
    public let origin: CallbackOrigin
    public let subscriber: SubscriberLabel
    public let address: String?
    /// Missed calls from the number while the callback was open.
    public let missedCount: Int
    /// Outbound attempts that did not get through.
    public let attempts: Int
    public let openedAt: Date
    public let lastMissedAt: Date?
    /// Whole seconds between `openedAt` and the list's `asOf`.
    public let ageSeconds: Int
    /// Older than the escalation limit, or already reported overdue by the gateway.
    public let overdue: Bool
    /// When the gateway emitted `callback.overdue`, if it did.
    public let overdueAt: Date?
    /// The ticket's reasons (the essence of the request, with `comment`).
    public let reasons: [CatalogReference]
    public let comment: String?

    enum CodingKeys: String, CodingKey {
        case callbackID = "callback_id", ticketID = "ticket_id", phone, origin, subscriber, address
        case missedCount = "missed_count", attempts, openedAt = "opened_at", lastMissedAt = "last_missed_at"
        case ageSeconds = "age_seconds", overdue, overdueAt = "overdue_at", reasons, comment
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(callbackID, forKey: .callbackID)
        try c.encode(ticketID, forKey: .ticketID)
        try c.encode(phone, forKey: .phone)
        try c.encode(origin, forKey: .origin)
        try c.encode(subscriber, forKey: .subscriber)
        try c.encode(address, forKey: .address)
        try c.encode(missedCount, forKey: .missedCount)
        try c.encode(attempts, forKey: .attempts)
        try c.encode(openedAt, forKey: .openedAt)
        try c.encode(lastMissedAt, forKey: .lastMissedAt)
        try c.encode(ageSeconds, forKey: .ageSeconds)
        try c.encode(overdue, forKey: .overdue)
        try c.encode(overdueAt, forKey: .overdueAt)
        try c.encode(reasons, forKey: .reasons)
        try c.encode(comment, forKey: .comment)
    }
}

/// The unprocessed list: every open callback, oldest first.
public struct CallbackList: Codable, Sendable, Equatable {
    /// The instant ages are measured at.
    public let asOf: Date
    /// The escalation limit (`METRIKA_CALLBACK_OVERDUE_SECONDS`).
    public let overdueAfterSeconds: Int
    public let callbacks: [OpenCallback]

    enum CodingKeys: String, CodingKey {
        case asOf = "as_of", overdueAfterSeconds = "overdue_after_seconds", callbacks
    }
}

/// A ticket as lists show it.
public struct TicketSummary: Codable, Sendable, Equatable {
    public let ticketID: String
    public let state: TicketState
    public let kind: TicketKind
    /// The operator credited with the ticket.
    public let author: String?
    public let createdAt: Date
    public let savedAt: Date?
    /// E.164 numbers.
    public let contactPhones: [String]
    public let subscriber: SubscriberLabel
    public let address: String?
    public let source: CatalogReference?
    public let reasons: [CatalogReference]
    public let resolutions: [CatalogReference]
    /// The periodic task kind, for `task` tickets.
    public let task: CatalogReference?
    public let comment: String?
    public let callbackID: String?

    /// The list fields of `ticket`.
    public init(_ ticket: Ticket) {
        ticketID = ticket.ticketID
        state = ticket.state
        kind = ticket.kind
        author = ticket.author
        createdAt = ticket.createdAt
        savedAt = ticket.savedAt
        contactPhones = ticket.contactPhones
        subscriber = SubscriberLabel(ticket)
        address = ticket.address
        source = ticket.source
        reasons = ticket.reasons
        resolutions = ticket.resolutions
        task = ticket.task
        comment = ticket.comment
        callbackID = ticket.callbackID
    }

    enum CodingKeys: String, CodingKey {
        case ticketID = "ticket_id", state, kind, author, createdAt = "created_at", savedAt = "saved_at"
        case contactPhones = "contact_phones", subscriber, address, source, reasons, resolutions, task, comment
        case callbackID = "callback_id"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ticketID, forKey: .ticketID)
        try c.encode(state, forKey: .state)
        try c.encode(kind, forKey: .kind)
        try c.encode(author, forKey: .author)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(savedAt, forKey: .savedAt)
        try c.encode(contactPhones, forKey: .contactPhones)
        try c.encode(subscriber, forKey: .subscriber)
        try c.encode(address, forKey: .address)
        try c.encode(source, forKey: .source)
        try c.encode(reasons, forKey: .reasons)
        try c.encode(resolutions, forKey: .resolutions)
        try c.encode(task, forKey: .task)
        try c.encode(comment, forKey: .comment)
        try c.encode(callbackID, forKey: .callbackID)
    }
}

/// "My tickets": the tickets credited to one operator and created in one month, newest first.
public struct OperatorTickets: Codable, Sendable, Equatable {
    public let operatorLogin: String
    public let month: ReportMonth
    /// The month's bounds in the company's zone.
    public let from: Date
    public let to: Date
    /// Drafts and saved tickets alike (`state` tells them apart).
    public let tickets: [TicketSummary]

    enum CodingKeys: String, CodingKey {
        case operatorLogin = "operator", month, from, to, tickets
    }
}

/// A subscriber as the directory (RS) last described them.
public struct SubscriberCard: Codable, Sendable, Equatable {
    public let rsID: Int64
    public let contractNo: String
    public let fullName: String
    public let address: String
    /// E.164 numbers.
    public let phones: [String]
    public let tariffName: String
    public let status: SubscriberStatus

    /// The card of a directory entry.
    public init(_ subscriber: Subscriber) {
        rsID = subscriber.rsID
        contractNo = subscriber.contractNo
        fullName = subscriber.fullName
        address = subscriber.address
        phones = subscriber.phones.map(\.e164)
        tariffName = subscriber.tariffName
        status = subscriber.status
    }

    enum CodingKeys: String, CodingKey {
        case rsID = "rs_id", contractNo = "contract_no", fullName = "full_name", address, phones
        case tariffName = "tariff_name", status
    }
}

/// A subscriber's history: their tickets, newest first.
public struct SubscriberHistory: Codable, Sendable, Equatable {
    /// The RS ID asked for, when asked by RS ID.
    public let rsID: Int64?
    /// The number asked for, in E.164, when asked by phone.
    public let phone: String?
    /// The directory entries found: one, none (unknown), or several when a number is shared.
    public let subscribers: [SubscriberCard]
    public let tickets: [TicketSummary]

    enum CodingKeys: String, CodingKey {
        case rsID = "rs_id", phone, subscribers, tickets
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rsID, forKey: .rsID)
        try c.encode(phone, forKey: .phone)
        try c.encode(subscribers, forKey: .subscribers)
        try c.encode(tickets, forKey: .tickets)
    }
}

/// The state of a ticket's callback.
public struct CallbackState: Codable, Sendable, Equatable {
    public let callbackID: String
    public let phone: String
    public let origin: CallbackOrigin
    public let status: CallbackStatus
    public let missedCount: Int
    public let attempts: Int
    public let openedAt: Date
    public let resolvedAt: Date?
    public let resolvedBy: String?
    public let resolution: CallbackResolution?
    public let overdueAt: Date?

    /// The state of `callback`.
    public init(_ callback: Callback) {
        callbackID = callback.callbackID
        phone = callback.phone
        origin = callback.origin
        status = callback.status
        missedCount = callback.missedCount
        attempts = callback.attempts
        openedAt = callback.openedAt
        resolvedAt = callback.resolvedAt
        resolvedBy = callback.resolvedBy
        resolution = callback.resolution
        overdueAt = callback.overdueAt
    }

    enum CodingKeys: String, CodingKey {
        case callbackID = "callback_id", phone, origin, status, missedCount = "missed_count", attempts
        case openedAt = "opened_at", resolvedAt = "resolved_at", resolvedBy = "resolved_by", resolution
        case overdueAt = "overdue_at"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(callbackID, forKey: .callbackID)
        try c.encode(phone, forKey: .phone)
        try c.encode(origin, forKey: .origin)
        try c.encode(status, forKey: .status)
        try c.encode(missedCount, forKey: .missedCount)
        try c.encode(attempts, forKey: .attempts)
        try c.encode(openedAt, forKey: .openedAt)
        try c.encode(resolvedAt, forKey: .resolvedAt)
        try c.encode(resolvedBy, forKey: .resolvedBy)
        try c.encode(resolution, forKey: .resolution)
        try c.encode(overdueAt, forKey: .overdueAt)
    }
}

/// One ticket in full: every field, its accepted edits oldest first, and its callback if it holds one.
public struct TicketDetail: Codable, Sendable, Equatable {
    /// Encoded exactly as the ticket appears in `ticket.saved` events.
    public let ticket: Ticket
    public let revisions: [TicketRevision]
    public let callback: CallbackState?

    enum CodingKeys: String, CodingKey {
        case ticket, revisions, callback
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ticket, forKey: .ticket)
        try c.encode(revisions, forKey: .revisions)
        try c.encode(callback, forKey: .callback)
    }
}

/// Saved tickets of one operator (or of everyone) split by what produced them.
public struct PayCounts: Codable, Sendable, Equatable {
    /// Answered calls (kind `call`).
    public var calls = 0
    /// Callbacks handled (kind `callback`).
    public var callbacks = 0
    /// Callback attempts that did not get through (kind `attempt`).
    public var attempts = 0
    /// Tickets created by hand or from the RS card (kind `manual`).
    public var manual = 0
    /// Periodic work (kind `task`).
    public var tasks = 0

    /// No tickets.
    public init() {}

    /// Every ticket counted.
    public var total: Int { calls + callbacks + attempts + manual + tasks }

    /// Adds `count` tickets of `kind`.
    public mutating func add(_ count: Int, of kind: TicketKind) {
        switch kind {
        case .call: calls += count
        case .callback: callbacks += count
        case .attempt: attempts += count
        case .manual: manual += count
        case .task: tasks += count
        }
    }

    enum CodingKeys: String, CodingKey {
        case calls, callbacks, attempts, manual, tasks, total
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        calls = try c.decode(Int.self, forKey: .calls)
        callbacks = try c.decode(Int.self, forKey: .callbacks)
        attempts = try c.decode(Int.self, forKey: .attempts)
        manual = try c.decode(Int.self, forKey: .manual)
        tasks = try c.decode(Int.self, forKey: .tasks)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(calls, forKey: .calls)
        try c.encode(callbacks, forKey: .callbacks)
        try c.encode(attempts, forKey: .attempts)
        try c.encode(manual, forKey: .manual)
        try c.encode(tasks, forKey: .tasks)
        try c.encode(total, forKey: .total)
    }
}

/// One operator's line of the pay report; encoded flat (`operator`, `calls`, …, `total`).
public struct PayLine: Codable, Sendable, Equatable {
    public let operatorLogin: String
    public let counts: PayCounts

    /// The line of `operatorLogin`.
    public init(operatorLogin: String, counts: PayCounts) {
        self.operatorLogin = operatorLogin
        self.counts = counts
    }

    enum CodingKeys: String, CodingKey {
        case operatorLogin = "operator"
    }

    public init(from decoder: Decoder) throws {
        operatorLogin = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .operatorLogin)
        counts = try PayCounts(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(operatorLogin, forKey: .operatorLogin)
        try counts.encode(to: encoder)
    }
}

/// The monthly pay report: saved tickets credited to each operator, by kind, created in the month.
public struct PayReport: Codable, Sendable, Equatable {
    /// The month reported.
    public let month: ReportMonth
    /// The company's zone the month is counted in (`Europe/Moscow`).
    public let timeZone: String
    /// Local midnight starting the month.
    public let from: Date
    /// Local midnight ending the month (exclusive).
    public let to: Date
    /// One line per operator with at least one ticket, by login.
    public let operators: [PayLine]
    /// The sums of every line.
    public let totals: PayCounts

    enum CodingKeys: String, CodingKey {
        case month, timeZone = "time_zone", from, to, operators, totals
    }
}

/// How often one reason (or resolution) occurs among the period's saved tickets.
public struct CatalogShare: Codable, Sendable, Equatable {
    public let code: String
    /// The title written in the most recent ticket that has it.
    public let title: String
    /// Saved tickets with it.
    public let tickets: Int
    /// `tickets` divided by the period's saved tickets, rounded to 4 decimals; a ticket may have several
    /// reasons, so shares can add up to more than 1.
    public let share: Double
}

/// How often a reason was resolved a given way.
public struct ReasonResolutionPair: Codable, Sendable, Equatable {
    public let reason: CatalogReference
    public let resolution: CatalogReference
    /// Saved tickets with both.
    public let tickets: Int
    /// `tickets` divided by the period's saved tickets, rounded to 4 decimals.
    public let share: Double
}

/// Reason and resolution analytics over the saved tickets created in a period.
public struct ReasonsReport: Codable, Sendable, Equatable {
    /// First day, `YYYY-MM-DD`.
    public let fromDate: String
    /// Last day (inclusive), `YYYY-MM-DD`.
    public let toDate: String
    public let timeZone: String
    /// Saved tickets created in the period: the denominator of every share.
    public let tickets: Int
    /// Most frequent first; ties by title.
    public let reasons: [CatalogShare]
    public let resolutions: [CatalogShare]
    /// The most frequent reason → resolution pairs, most frequent first.
    public let pairs: [ReasonResolutionPair]

    enum CodingKeys: String, CodingKey {
        case fromDate = "from", toDate = "to", timeZone = "time_zone", tickets, reasons, resolutions, pairs
    }
}

/// The catalog lists an operator types into.
public enum CatalogListName: String, Codable, Sendable, CaseIterable {
    case reasons, resolutions, sources, tasks

    /// This list of `catalog`.
    public func list(in catalog: Catalog) -> CatalogList {
        switch self {
        case .reasons: catalog.reasons
        case .resolutions: catalog.resolutions
        case .sources: catalog.sources
        case .tasks: catalog.tasks
        }
    }
}

/// One entry offered for what an operator typed.
public struct CatalogMatch: Codable, Sendable, Equatable {
    public let list: CatalogListName
    public let code: String
    public let title: String
    /// `exact`, `title_prefix`, `synonym_prefix`, `word_start` or `substring`.
    public let match: CatalogMatchKind
    /// The title or synonym that matched.
    public let matched: String
}

/// What typing `query` offers, list by list (reasons, resolutions, sources, tasks), best first in each.
public struct CatalogSearchResult: Codable, Sendable, Equatable {
    public let query: String
    public let matches: [CatalogMatch]

    /// Searches `lists` of `catalog` (all four when empty) for `query`.
    public init(catalog: Catalog, query: String, lists: [CatalogListName] = CatalogListName.allCases) {
        self.query = query
        matches = (lists.isEmpty ? CatalogListName.allCases : lists).flatMap { name in
            name.list(in: catalog).search(query).map {
                CatalogMatch(list: name, code: $0.entry.code, title: $0.entry.title, match: $0.kind, matched: $0.matchedName)
            }
        }
    }
}
