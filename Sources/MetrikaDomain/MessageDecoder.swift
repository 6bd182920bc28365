import Foundation

/// Why an inbound message cannot be processed. It is dead-lettered with `errorClass` and `message`.
public struct InboundError: Error, Equatable, CustomStringConvertible {
    /// Stable class names written to the `x-metrika-error-class` header.
    public enum Kind: String, Sendable {
        case emptyBody = "empty_body"
        case bodyTooLarge = "body_too_large"
        case notJSON = "not_json"
        case unknownType = "unknown_type"
        case invalidMessage = "invalid_message"
        case messageIDMismatch = "message_id_mismatch"
        case unsupportedContent = "unsupported_content"
    }

    public let kind: Kind
    /// What is wrong, naming the field, for the person reading the dead-letter queue.
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

/// Bounds on inbound input; anything larger is dead-lettered rather than stored.
public struct InputLimits: Sendable {
    /// Largest accepted body in bytes. Default 64 KiB.
    public var maxBodyBytes: Int = 65_536
    /// Longest accepted identifier, login or phone string, in characters. Default 128.
    public var maxShortText: Int = 128
    /// Longest accepted name, address or catalog term, in characters. Default 1000.
    public var maxText: Int = 1000
    /// Longest accepted comment, in characters. Default 4000.
    public var maxComment: Int = 4000
    /// Most entries accepted in a list field (phones, reasons…). Default 50.
    public var maxListCount: Int = 50

    public init() {}
}

/// Decodes and validates the message formats of CONTRACTS.md (fixed by RS and the PBX).
///
/// Unknown fields are ignored; missing required fields, wrong types, bad timestamps and
/// oversized values are `InboundError`s naming the field.
public struct MessageDecoder: Sendable {
    public let plan: NumberingPlan
    public let limits: InputLimits

    public init(plan: NumberingPlan, limits: InputLimits = InputLimits()) {
        self.plan = plan
        self.limits = limits
    }

    /// Refuses an empty body or one over `limits.maxBodyBytes` (for every inbound format, PBX ones too).
    public func checkSize(of body: Data) throws(InboundError) {
        guard !body.isEmpty else { throw InboundError(.emptyBody, "the body is empty") }
        guard body.count <= limits.maxBodyBytes else {
            throw InboundError(.bodyTooLarge, "the body has \(body.count) bytes; the limit is \(limits.maxBodyBytes)")
        }
    }

    /// Decodes one body. `amqpMessageID`, when the publisher set one, must equal the body id.
    public func decode(_ body: Data, amqpMessageID: String? = nil) throws(InboundError) -> InboundMessage {
        try checkSize(of: body)
        let decoder = JSONDecoder()
        decoder.userInfo[.inputLimits] = limits
        let message: InboundMessage
        do {
            message = try inbound(decoder.decode(RawMessage.self, from: body))
        } catch let error as InboundError {
            throw error
        } catch let error as UnknownType {
            throw InboundError(.unknownType, "unknown message type '\(error.type.prefix(limits.maxShortText))'")
        } catch let error as DecodingError {
            throw MessageDecoder.describe(error)
        } catch {
            throw InboundError(.notJSON, "the body is not valid JSON")
        }
        if let amqpMessageID, !amqpMessageID.isEmpty, amqpMessageID != message.messageID {
            throw InboundError(.messageIDMismatch,
                               "AMQP message_id '\(amqpMessageID.prefix(limits.maxShortText))' differs from body id '\(message.messageID)'")
        }
        return message
    }

    /// One parse of the body: `RawMessage` reads `type` and then the matching shape from the same tree.
    private func inbound(_ raw: RawMessage) throws(InboundError) -> InboundMessage {
        switch raw {
        case let .subscriberUpdated(update): .subscriberUpdated(try subscriberUpdated(update))
        case let .callAnswered(event): .callAnswered(event.value)
        case let .callEnded(event): .callEnded(event.value)
        case let .ticketCreate(command): .ticketCreate(command.value)
        case let .ticketSave(command): .ticketSave(command.value)
        case let .ticketEdit(command): .ticketEdit(command.value)
        }
    }

    private func subscriberUpdated(_ raw: RawSubscriberUpdated) throws(InboundError) -> SubscriberUpdated {
        var phones: [PhoneNumber] = []
        for typed in raw.subscriber.phones {
            if let phone = plan.normalise(typed), !phones.contains(phone) { phones.append(phone) }
        }
        let s = raw.subscriber
        let subscriber = Subscriber(rsID: s.rs_id, contractNo: s.contract_no, fullName: s.full_name, address: s.address,
                                    phones: phones, tariffName: s.tariff.name, tariffSince: s.tariff.since,
                                    switchName: s.switch, status: s.status)
        return SubscriberUpdated(eventID: raw.event_id, occurredAt: raw.occurred_at, version: raw.version,
                                 subscriber: subscriber, rawPhones: s.phones)
    }

    static func describe(_ error: DecodingError) -> InboundError {
        func path(_ keys: [CodingKey], _ last: CodingKey? = nil) -> String {
            let all = keys + (last.map { [$0] } ?? [])
            let text = all.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return text.hasPrefix(".") ? String(text.dropFirst()) : text
        }
        switch error {
        case let .keyNotFound(key, context):
            return InboundError(.invalidMessage, "missing required field '\(path(context.codingPath, key))'")
        case let .valueNotFound(_, context):
            return InboundError(.invalidMessage, "field '\(path(context.codingPath))' must not be null")
        case let .typeMismatch(_, context) where context.codingPath.isEmpty:
            return InboundError(.invalidMessage, "the body must be a JSON object")
        case let .typeMismatch(type, context):
            return InboundError(.invalidMessage, "field '\(path(context.codingPath))' has the wrong type (expected \(typeName(type)))")
        case let .dataCorrupted(context):
            if context.codingPath.isEmpty {
                return InboundError(.notJSON, "the body is not a valid UTF-8 JSON object")
            }
            return InboundError(.invalidMessage, "field '\(path(context.codingPath))': \(context.debugDescription)")
        @unknown default:
            return InboundError(.invalidMessage, "the message does not match its schema")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "string"
        case is Int64.Type, is Int.Type: "integer"
        case is Bool.Type: "boolean"
        case is [Any].Type: "array"
        default: "object"
        }
    }
}

extension CodingUserInfoKey {
    static let inputLimits = CodingUserInfoKey(rawValue: "metrika.inputLimits")!
}

// MARK: - Raw shapes of the wire formats

/// A body whose `type` names no message the gateway knows.
private struct UnknownType: Error {
    let type: String
}

/// Any inbound message, dispatched on its `type` field within one decode.
private enum RawMessage: Decodable {
    case subscriberUpdated(RawSubscriberUpdated)
    case callAnswered(RawCallAnswered)
    case callEnded(RawCallEnded)
    case ticketCreate(RawTicketCreate)
    case ticketSave(RawTicketSave)
    case ticketEdit(RawTicketEdit)

    init(from decoder: Decoder) throws {
        let type = try decoder.container(keyedBy: Keys.self).decode(String.self, forKey: .type)
        switch type {
        case "subscriber.updated": self = .subscriberUpdated(try RawSubscriberUpdated(from: decoder))
        case "call.answered": self = .callAnswered(try RawCallAnswered(from: decoder))
        case "call.ended": self = .callEnded(try RawCallEnded(from: decoder))
        case "ticket.create": self = .ticketCreate(try RawTicketCreate(from: decoder))
        case "ticket.save": self = .ticketSave(try RawTicketSave(from: decoder))
        case "ticket.edit": self = .ticketEdit(try RawTicketEdit(from: decoder))
        default: throw UnknownType(type: type)
        }
    }
}

private extension KeyedDecodingContainer {
    /// A required, non-empty string.
    func text(_ key: Key, max: KeyPath<InputLimits, Int> = \.maxShortText, decoder: Decoder) throws -> String {
        let value = try decode(String.self, forKey: key)
        guard !value.isEmpty else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "must not be empty")
        }
        try check(value, key, max, decoder)
        return value
    }

    func optionalText(_ key: Key, max: KeyPath<InputLimits, Int> = \.maxText, decoder: Decoder) throws -> String? {
        guard let value = try decodeIfPresent(String.self, forKey: key) else { return nil }
        try check(value, key, max, decoder)
        return value
    }

    /// A field that must be present but may be null (`"operator": null`).
    func nullableText(_ key: Key, decoder: Decoder) throws -> String? {
        guard contains(key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "required"))
        }
        return try optionalText(key, max: \.maxShortText, decoder: decoder)
    }

    func texts(_ key: Key, required: Bool, max: KeyPath<InputLimits, Int> = \.maxText, decoder: Decoder) throws -> [String]? {
        let values = required ? try decode([String].self, forKey: key) : try decodeIfPresent([String].self, forKey: key)
        guard let values else { return nil }
        let limits = decoder.userInfo[.inputLimits] as? InputLimits ?? InputLimits()
        guard values.count <= limits.maxListCount else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self,
                debugDescription: "has \(values.count) entries; the limit is \(limits.maxListCount)")
        }
        for value in values { try check(value, key, max, decoder) }
        return values
    }

    func timestamp(_ key: Key) throws -> Date {
        let value = try decode(String.self, forKey: key)
        guard let date = RFC3339.parse(value) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self,
                debugDescription: "'\(value.prefix(64))' is not an RFC 3339 timestamp with an offset")
        }
        return date
    }

    func nullableTimestamp(_ key: Key) throws -> Date? {
        guard contains(key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "required"))
        }
        return try decodeNil(forKey: key) ? nil : timestamp(key)
    }

    private func check(_ value: String, _ key: Key, _ max: KeyPath<InputLimits, Int>, _ decoder: Decoder) throws {
        let limits = decoder.userInfo[.inputLimits] as? InputLimits ?? InputLimits()
        let limit = limits[keyPath: max]
        if value.unicodeScalars.count > limit {
            throw DecodingError.dataCorruptedError(forKey: key, in: self,
                debugDescription: "is \(value.unicodeScalars.count) characters long; the limit is \(limit)")
        }
        if value.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" && $0 != "\t" && $0 != "\r" || $0.value == 0x7F }) {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "contains control characters")
        }
    }
}

private enum Keys: String, CodingKey {
    case event_id, command_id, type, occurred_at, version, subscriber
    case rs_id, contract_no, full_name, address, phones, tariff, name, since, `switch`, status
    case call_id, direction, subscriber_number, line, `operator`, started_at, answered_at, ended_at, outcome
    case via, source, contact_phones, reasons, resolutions, comment, task, save, ticket_id, callback, changes
}

private struct RawSubscriberUpdated: Decodable {
    let event_id: String
    let occurred_at: Date
    let version: Int64
    let subscriber: RawSubscriber

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        event_id = try c.text(.event_id, decoder: decoder)
        occurred_at = try c.timestamp(.occurred_at)
        version = try c.decode(Int64.self, forKey: .version)
        guard version >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .version, in: c, debugDescription: "must not be negative")
        }
        subscriber = try c.decode(RawSubscriber.self, forKey: .subscriber)
    }
}

private struct RawSubscriber: Decodable {
    let rs_id: Int64
    let contract_no: String
    let full_name: String
    let address: String
    let phones: [String]
    let tariff: RawTariff
    let `switch`: String
    let status: SubscriberStatus

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        rs_id = try c.decode(Int64.self, forKey: .rs_id)
        contract_no = try c.text(.contract_no, decoder: decoder)
        full_name = try c.text(.full_name, max: \.maxText, decoder: decoder)
        address = try c.text(.address, max: \.maxText, decoder: decoder)
        phones = try c.texts(.phones, required: true, max: \.maxShortText, decoder: decoder) ?? []
        tariff = try c.decode(RawTariff.self, forKey: .tariff)
        `switch` = try c.text(.switch, max: \.maxText, decoder: decoder)
        status = try c.decode(SubscriberStatus.self, forKey: .status)
    }
}

private struct RawTariff: Decodable {
    let name: String
    let since: LocalDate

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        name = try c.text(.name, max: \.maxText, decoder: decoder)
        let text = try c.decode(String.self, forKey: .since)
        guard let date = LocalDate(iso: text) else {
            throw DecodingError.dataCorruptedError(forKey: .since, in: c, debugDescription: "'\(text.prefix(32))' is not a YYYY-MM-DD date")
        }
        since = date
    }
}

private struct RawCallAnswered: Decodable {
    let value: CallAnswered

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        value = CallAnswered(
            eventID: try c.text(.event_id, decoder: decoder),
            callID: try c.text(.call_id, decoder: decoder),
            direction: try c.decode(CallDirection.self, forKey: .direction),
            subscriberNumber: try c.text(.subscriber_number, decoder: decoder),
            line: try c.text(.line, decoder: decoder),
            operatorLogin: try c.nullableText(.operator, decoder: decoder),
            answeredAt: try c.timestamp(.answered_at))
    }
}

private struct RawCallEnded: Decodable {
    let value: CallEnded

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        value = CallEnded(
            eventID: try c.text(.event_id, decoder: decoder),
            callID: try c.text(.call_id, decoder: decoder),
            direction: try c.decode(CallDirection.self, forKey: .direction),
            subscriberNumber: try c.text(.subscriber_number, decoder: decoder),
            line: try c.text(.line, decoder: decoder),
            operatorLogin: try c.nullableText(.operator, decoder: decoder),
            startedAt: try c.timestamp(.started_at),
            answeredAt: try c.nullableTimestamp(.answered_at),
            endedAt: try c.timestamp(.ended_at),
            outcome: try c.decode(CallOutcome.self, forKey: .outcome))
    }
}

private func callbackDone(_ c: KeyedDecodingContainer<Keys>) throws -> Bool {
    guard let value = try c.decodeIfPresent(String.self, forKey: .callback) else { return false }
    guard value == "done" else {
        throw DecodingError.dataCorruptedError(forKey: .callback, in: c, debugDescription: "must be \"done\" or null")
    }
    return true
}

private struct RawTicketCreate: Decodable {
    let value: TicketCreateCommand

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        value = TicketCreateCommand(
            commandID: try c.text(.command_id, decoder: decoder),
            operatorLogin: try c.text(.operator, decoder: decoder),
            via: try c.decodeIfPresent(CommandOrigin.self, forKey: .via) ?? .manual,
            rsID: try c.decodeIfPresent(Int64.self, forKey: .rs_id),
            source: try c.optionalText(.source, decoder: decoder),
            contactPhones: try c.texts(.contact_phones, required: false, max: \.maxShortText, decoder: decoder) ?? [],
            reasons: try c.texts(.reasons, required: false, decoder: decoder) ?? [],
            resolutions: try c.texts(.resolutions, required: false, decoder: decoder) ?? [],
            comment: try c.optionalText(.comment, max: \.maxComment, decoder: decoder),
            task: try c.optionalText(.task, decoder: decoder),
            address: try c.optionalText(.address, decoder: decoder),
            save: try c.decodeIfPresent(Bool.self, forKey: .save) ?? false)
    }
}

private struct RawTicketSave: Decodable {
    let value: TicketSaveCommand

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        value = TicketSaveCommand(
            commandID: try c.text(.command_id, decoder: decoder),
            ticketID: try c.text(.ticket_id, decoder: decoder),
            operatorLogin: try c.text(.operator, decoder: decoder),
            contactPhones: try c.texts(.contact_phones, required: false, max: \.maxShortText, decoder: decoder),
            source: try c.optionalText(.source, decoder: decoder),
            reasons: try c.texts(.reasons, required: false, decoder: decoder) ?? [],
            resolutions: try c.texts(.resolutions, required: false, decoder: decoder) ?? [],
            comment: try c.optionalText(.comment, max: \.maxComment, decoder: decoder),
            address: try c.optionalText(.address, decoder: decoder),
            callbackDone: try callbackDone(c))
    }
}

private struct RawTicketEdit: Decodable {
    let value: TicketEditCommand

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let changes = try c.nestedContainer(keyedBy: Keys.self, forKey: .changes)
        let changesDecoder = try c.superDecoder(forKey: .changes)
        value = TicketEditCommand(
            commandID: try c.text(.command_id, decoder: decoder),
            ticketID: try c.text(.ticket_id, decoder: decoder),
            operatorLogin: try c.text(.operator, decoder: decoder),
            via: try c.decode(CommandOrigin.self, forKey: .via),
            reasons: try changes.texts(.reasons, required: false, decoder: changesDecoder),
            resolutions: try changes.texts(.resolutions, required: false, decoder: changesDecoder),
            comment: try changes.optionalText(.comment, max: \.maxComment, decoder: changesDecoder),
            contactPhones: try changes.texts(.contact_phones, required: false, max: \.maxShortText, decoder: changesDecoder),
            source: try changes.optionalText(.source, decoder: changesDecoder),
            callbackDone: try callbackDone(c))
    }
}
