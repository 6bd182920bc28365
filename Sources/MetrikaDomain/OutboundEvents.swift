import Foundation

/// Stable codes of `command.rejected`; integrators branch on them.
public enum RejectionCode: String, Codable, Sendable {
    case invalidCommand = "invalid_command"
    case unknownTicket = "unknown_ticket"
    case ticketAlreadySaved = "ticket_already_saved"
    case unknownSubscriber = "unknown_subscriber"
    case unknownCatalogEntry = "unknown_catalog_entry"
    case reasonRequired = "reason_required"
    case callbackIncomplete = "callback_incomplete"
    case noOpenCallback = "no_open_callback"
    case invalidPhone = "invalid_phone"
    case messageIDMismatch = "message_id_mismatch"
    case editWindowClosed = "edit_window_closed"
    case notAuthor = "not_author"
    case ticketIsDraft = "ticket_is_draft"
    case noChanges = "no_changes"
}

/// A command the gateway refused, and why, in words an operator can act on.
public struct CommandRejection: Error, Sendable, Equatable {
    public let code: RejectionCode
    public let message: String

    public init(_ code: RejectionCode, _ message: String) {
        self.code = code
        self.message = message
    }
}

/// Everything the gateway publishes on `metrika.events`; the routing key is `type`.
public enum GatewayEvent: Sendable, Equatable {
    case ticketDrafted(Ticket)
    case ticketSaved(Ticket)
    /// A draft's subscriber fields were filled after RS published a subscriber with its number.
    case ticketAutofilled(Ticket)
    /// A callback was opened, or another missed call joined it (same `callback_id`, higher count).
    case callbackNeeded(Callback, SubscriberFill)
    case callbackResolved(Callback)
    /// An operator called back and did not get through; `ticket` records the attempt.
    case callbackAttempted(Callback, Ticket)
    /// An open callback waited longer than the escalation limit (emitted once).
    case callbackOverdue(Callback, SubscriberFill)
    /// A saved ticket was changed through an accepted edit.
    case ticketEdited(Ticket, TicketRevision)
    case commandRejected(commandID: String?, commandType: String?, operatorLogin: String?, CommandRejection)

    /// The routing key and `type` field.
    public var type: String {
        switch self {
        case .ticketDrafted: "ticket.drafted"
        case .ticketSaved: "ticket.saved"
        case .ticketAutofilled: "ticket.autofilled"
        case .callbackNeeded: "callback.needed"
        case .callbackResolved: "callback.resolved"
        case .callbackAttempted: "callback.attempted"
        case .callbackOverdue: "callback.overdue"
        case .ticketEdited: "ticket.edited"
        case .commandRejected: "command.rejected"
        }
    }
}

/// The answer sent to a command's AMQP `reply_to`, with its `correlation_id`.
public struct CommandReply: Sendable, Equatable {
    public let commandID: String
    public let rejection: CommandRejection?
    public let ticketID: String?

    public init(commandID: String, rejection: CommandRejection?, ticketID: String?) {
        self.commandID = commandID
        self.rejection = rejection
        self.ticketID = ticketID
    }
}

/// Encodes outbound messages as the JSON of `contracts/` (envelope: event_id, type, occurred_at, schema_version).
public struct EventEncoder: Sendable {
    /// Zone in which timestamps are written.
    public let zone: TimeZone

    public init(zone: TimeZone) {
        self.zone = zone
    }

    /// The body of `event`, identified by `eventID` and stamped `occurredAt`.
    /// `ticketJSON`, when given, is the ticket already encoded (as the store wrote it, in the same zone):
    /// it is embedded instead of encoding the ticket again.
    public func encode(_ event: GatewayEvent, eventID: String, occurredAt: Date, ticketJSON: String? = nil) -> Data {
        // Members are written in the order of their keys (see `SortedObjectWriter`), the envelope's among them.
        var body = SortedObjectWriter(capacity: 2048)
        let occurred = RFC3339.format(occurredAt, in: zone)
        switch event {
        case let .ticketDrafted(ticket), let .ticketSaved(ticket), let .ticketAutofilled(ticket):
            body.string("event_id", eventID)
            body.string("occurred_at", occurred)
            body.int("schema_version", 1)
            body.raw("ticket", ticketJSON ?? ticket.json(in: zone))
        case let .callbackNeeded(callback, fill), let .callbackOverdue(callback, fill):
            body.int("attempts", callback.attempts)
            body.string("callback_id", callback.callbackID)
            body.raw("candidates", fill.candidatesJSON)
            body.string("event_id", eventID)
            body.string("first_missed_at", time(callback.firstMissedAt))
            body.string("last_missed_at", time(callback.lastMissedAt))
            body.string("match", fill.match.rawValue)
            body.int("missed_count", callback.missedCount)
            body.string("occurred_at", occurred)
            body.string("opened_at", time(callback.openedAt))
            body.string("origin", callback.origin.rawValue)
            body.string("phone", callback.phone)
            body.int("schema_version", 1)
            body.raw("subscriber", fill.subscriberJSON)
            body.string("ticket_id", callback.ticketID)
        case let .callbackResolved(callback):
            body.int("attempts", callback.attempts)
            body.string("callback_id", callback.callbackID)
            body.string("event_id", eventID)
            body.int("missed_count", callback.missedCount)
            body.string("occurred_at", occurred)
            body.string("phone", callback.phone)
            body.string("resolution", (callback.resolution ?? .operatorDone).rawValue)
            body.string("resolved_at", time(callback.resolvedAt ?? occurredAt))
            body.string("resolved_by", callback.resolvedBy)
            body.int("schema_version", 1)
            body.string("ticket_id", callback.ticketID)
        case let .callbackAttempted(callback, ticket):
            body.string("attempt_ticket_id", ticket.ticketID)
            body.int("attempts", callback.attempts)
            body.string("callback_id", callback.callbackID)
            body.string("event_id", eventID)
            body.int("missed_count", callback.missedCount)
            body.string("occurred_at", occurred)
            body.string("operator", ticket.author)
            body.string("phone", callback.phone)
            body.int("schema_version", 1)
            body.string("ticket_id", callback.ticketID)
        case let .ticketEdited(ticket, revision):
            body.string("event_id", eventID)
            body.string("occurred_at", occurred)
            body.raw("revision", json(revision))
            body.int("schema_version", 1)
            body.raw("ticket", ticketJSON ?? ticket.json(in: zone))
        case let .commandRejected(commandID, commandType, operatorLogin, rejection):
            body.string("code", rejection.code.rawValue)
            body.string("command_id", commandID)
            body.string("command_type", commandType)
            body.string("event_id", eventID)
            body.string("message", rejection.message)
            body.string("occurred_at", occurred)
            body.string("operator", operatorLogin)
            body.int("schema_version", 1)
        }
        body.string("type", event.type)
        return body.finish()
    }

    /// The body of a command's reply.
    public func encode(_ reply: CommandReply, eventID: String, occurredAt: Date) -> Data {
        var body = SortedObjectWriter(capacity: 512)
        body.string("code", reply.rejection?.code.rawValue)
        body.string("command_id", reply.commandID)
        body.string("event_id", eventID)
        body.string("message", reply.rejection?.message)
        body.string("occurred_at", RFC3339.format(occurredAt, in: zone))
        body.int("schema_version", 1)
        body.string("status", reply.rejection == nil ? "accepted" : "rejected")
        body.string("ticket_id", reply.ticketID)
        body.string("type", "command.reply")
        return body.finish()
    }

    private func time(_ instant: Date?) -> String? {
        instant.map { RFC3339.format($0, in: zone) }
    }

    private func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.userInfo[.timeZone] = zone
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding our own value types cannot fail: they hold only strings, numbers and arrays.
        let data = (try? encoder.encode(value)) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// One JSON object written member by member, with its keys in sorted order (byte order, as
/// `JSONEncoder`'s `.sortedKeys` sorts them), so that the same event always has the same bytes. The caller
/// writes the members in that order; debug builds check it.
struct SortedObjectWriter {
    private var out: JSONBytes
    private var previousKey: StaticString?

    init(capacity: Int) {
        out = JSONBytes(capacity: capacity)
        out.byte(UInt8(ascii: "{"))
    }

    private mutating func key(_ key: StaticString) {
        if let previousKey {
            assert(Self.precedes(previousKey, key), "key \(key) written after \(previousKey)")
            out.byte(UInt8(ascii: ","))
        }
        out.byte(UInt8(ascii: "\""))
        out.literal(key)
        out.literal("\":")
        previousKey = key
    }

    private static func precedes(_ first: StaticString, _ second: StaticString) -> Bool {
        let a = UnsafeBufferPointer(start: first.utf8Start, count: first.utf8CodeUnitCount)
        let b = UnsafeBufferPointer(start: second.utf8Start, count: second.utf8CodeUnitCount)
        return a.lexicographicallyPrecedes(b)
    }

    /// A string member; `null` when `value` is nil.
    mutating func string(_ name: StaticString, _ value: String?) {
        key(name)
        out.string(value)
    }

    mutating func int<Number: BinaryInteger>(_ name: StaticString, _ value: Number) {
        key(name)
        out.int(value)
    }

    /// A member whose value is already-serialised JSON.
    mutating func raw(_ name: StaticString, _ json: String) {
        key(name)
        out.raw(json)
    }

    /// Closes the object and returns its bytes.
    mutating func finish() -> Data {
        out.byte(UInt8(ascii: "}"))
        return Data(out.bytes)
    }
}

/// JSON text built as UTF-8 bytes. Appending to a byte array is a copy, where `String +=` ran a few hundred
/// instructions of generic checks per piece (14% of a call storm's instructions when events were written
/// that way).
struct JSONBytes {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    /// The text written so far.
    var text: String { String(decoding: bytes, as: UTF8.self) }

    mutating func byte(_ byte: UInt8) {
        bytes.append(byte)
    }

    /// Appends a literal as it is (JSON punctuation and keys).
    mutating func literal(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends text as it is: already-serialised JSON, or a value known to need no quoting.
    mutating func raw(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    mutating func int<Number: BinaryInteger>(_ number: Number) {
        raw(String(number))
    }

    mutating func bool(_ value: Bool) {
        value ? literal("true") : literal("false")
    }

    /// Appends `text` as a quoted JSON string, escaping quotes, backslashes and control characters. Runs
    /// that need no escaping are copied in one piece; every byte to escape is ASCII, so UTF-8 sequences
    /// (all bytes 0x80 and above) pass through untouched.
    mutating func string(_ text: String) {
        byte(UInt8(ascii: "\""))
        if text.utf8.withContiguousStorageIfAvailable({ escape($0) }) == nil {
            let copy = Array(text.utf8)
            copy.withUnsafeBufferPointer { escape($0) }
        }
        byte(UInt8(ascii: "\""))
    }

    /// `string(_:)` for an optional: `null` when nil.
    mutating func string(_ text: String?) {
        if let text { string(text) } else { literal("null") }
    }

    private mutating func escape(_ utf8: UnsafeBufferPointer<UInt8>) {
        var runStart = 0
        for (index, byte) in utf8.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
            runStart = index + 1
            switch byte {
            case UInt8(ascii: "\""): literal("\\\"")
            case UInt8(ascii: "\\"): literal("\\\\")
            case UInt8(ascii: "\n"): literal("\\n")
            case UInt8(ascii: "\r"): literal("\\r")
            case UInt8(ascii: "\t"): literal("\\t")
            default:
                let hex: StaticString = "0123456789abcdef"
                literal("\\u00")
                self.byte(hex.utf8Start[Int(byte >> 4)])
                self.byte(hex.utf8Start[Int(byte & 0xF)])
            }
        }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
    }
}

/// JSON string literals.
public enum JSONString {
    /// Appends `text` to `out` as a quoted JSON string, escaping quotes, backslashes and control characters.
    public static func append(_ text: String, to out: inout String) {
        var json = JSONBytes(capacity: text.utf8.count + 2)
        json.string(text)
        out += json.text
    }
}
