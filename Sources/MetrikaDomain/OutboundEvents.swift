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
        var fields: [String: JSONValue] = [:]
        switch event {
        case let .ticketDrafted(ticket), let .ticketSaved(ticket), let .ticketAutofilled(ticket):
            fields["ticket"] = .raw(ticketJSON ?? ticket.json(in: zone))
        case let .callbackNeeded(callback, fill), let .callbackOverdue(callback, fill):
            fields = [
                "callback_id": .string(callback.callbackID), "ticket_id": .string(callback.ticketID),
                "phone": .string(callback.phone), "origin": .string(callback.origin.rawValue),
                "missed_count": .int(Int64(callback.missedCount)),
                "first_missed_at": time(callback.firstMissedAt), "last_missed_at": time(callback.lastMissedAt),
                "match": .string(fill.match.rawValue), "subscriber": .raw(fill.subscriberJSON),
                "candidates": .raw(fill.candidatesJSON),
                "opened_at": time(callback.openedAt), "attempts": .int(Int64(callback.attempts)),
            ]
        case let .callbackResolved(callback):
            fields = [
                "callback_id": .string(callback.callbackID), "ticket_id": .string(callback.ticketID),
                "phone": .string(callback.phone), "resolved_by": callback.resolvedBy.map(JSONValue.string) ?? .null,
                "resolution": .string((callback.resolution ?? .operatorDone).rawValue),
                "resolved_at": time(callback.resolvedAt ?? occurredAt),
                "missed_count": .int(Int64(callback.missedCount)), "attempts": .int(Int64(callback.attempts)),
            ]
        case let .callbackAttempted(callback, ticket):
            fields = [
                "callback_id": .string(callback.callbackID), "ticket_id": .string(callback.ticketID),
                "attempt_ticket_id": .string(ticket.ticketID), "phone": .string(callback.phone),
                "operator": ticket.author.map(JSONValue.string) ?? .null,
                "attempts": .int(Int64(callback.attempts)), "missed_count": .int(Int64(callback.missedCount)),
            ]
        case let .ticketEdited(ticket, revision):
            fields = ["ticket": .raw(ticketJSON ?? ticket.json(in: zone)), "revision": json(revision)]
        case let .commandRejected(commandID, commandType, operatorLogin, rejection):
            fields = [
                "command_id": commandID.map(JSONValue.string) ?? .null,
                "command_type": commandType.map(JSONValue.string) ?? .null,
                "operator": operatorLogin.map(JSONValue.string) ?? .null,
                "code": .string(rejection.code.rawValue), "message": .string(rejection.message),
            ]
        }
        return envelope(type: event.type, eventID: eventID, occurredAt: occurredAt, fields)
    }

    /// The body of a command's reply.
    public func encode(_ reply: CommandReply, eventID: String, occurredAt: Date) -> Data {
        envelope(type: "command.reply", eventID: eventID, occurredAt: occurredAt, [
            "command_id": .string(reply.commandID),
            "status": .string(reply.rejection == nil ? "accepted" : "rejected"),
            "code": reply.rejection.map { .string($0.code.rawValue) } ?? .null,
            "message": reply.rejection.map { .string($0.message) } ?? .null,
            "ticket_id": reply.ticketID.map(JSONValue.string) ?? .null,
        ])
    }

    private func envelope(type: String, eventID: String, occurredAt: Date, _ fields: [String: JSONValue]) -> Data {
        var all = fields
        all["event_id"] = .string(eventID)
        all["type"] = .string(type)
        all["occurred_at"] = .string(RFC3339.format(occurredAt, in: zone))
        all["schema_version"] = .int(1)
        return Data(JSONValue.object(all).serialized())
    }

    private func time(_ instant: Date?) -> JSONValue {
        instant.map { .string(RFC3339.format($0, in: zone)) } ?? .null
    }

    private func json<T: Encodable>(_ value: T) -> JSONValue {
        let encoder = JSONEncoder()
        encoder.userInfo[.timeZone] = zone
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding our own value types cannot fail: they hold only strings, numbers and arrays.
        let data = (try? encoder.encode(value)) ?? Data("null".utf8)
        return .raw(String(decoding: data, as: UTF8.self))
    }
}

/// A minimal JSON writer with sorted keys, so that the same event always has the same bytes.
enum JSONValue: Sendable, Equatable {
    case string(String)
    case int(Int64)
    case null
    case object([String: JSONValue])
    /// Already-serialised JSON.
    case raw(String)

    func serialized() -> [UInt8] {
        var out = JSONBytes(capacity: 2048)
        write(into: &out)
        return out.bytes
    }

    private func write(into out: inout JSONBytes) {
        switch self {
        case let .string(text): out.string(text)
        case let .int(number): out.int(number)
        case .null: out.literal("null")
        case let .raw(text): out.raw(text)
        case let .object(fields):
            out.byte(UInt8(ascii: "{"))
            for (index, (key, value)) in fields.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { out.byte(UInt8(ascii: ",")) }
                out.string(key)
                out.byte(UInt8(ascii: ":"))
                value.write(into: &out)
            }
            out.byte(UInt8(ascii: "}"))
        }
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
