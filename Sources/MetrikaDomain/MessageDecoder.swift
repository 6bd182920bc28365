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
        let decoded = body.withUnsafeBytes { bytes in
            Result { () throws(InboundError) in try decode(bytes) }
        }
        let message = try decoded.get()
        if let amqpMessageID, !amqpMessageID.isEmpty, amqpMessageID != message.messageID {
            throw InboundError(.messageIDMismatch,
                               "AMQP message_id '\(amqpMessageID.prefix(limits.maxShortText))' differs from body id '\(message.messageID)'")
        }
        return message
    }

    private func decode(_ bytes: UnsafeRawBufferPointer) throws(InboundError) -> InboundMessage {
        guard let json = JSONReader(bytes, maxDepth: MessageDecoder.maxDepth) else {
            throw InboundError(.notJSON, "the body is not a valid UTF-8 JSON object")
        }
        guard json.kind(0) == .object else {
            throw InboundError(.invalidMessage, "the body must be a JSON object")
        }
        let root = Fields(json: json, node: 0, path: "", limits: limits)
        switch try root.string("type") {
        case "subscriber.updated": return .subscriberUpdated(try subscriberUpdated(root))
        case "call.answered": return .callAnswered(try callAnswered(root))
        case "call.ended": return .callEnded(try callEnded(root))
        case "ticket.create": return .ticketCreate(try ticketCreate(root))
        case "ticket.save": return .ticketSave(try ticketSave(root))
        case "ticket.edit": return .ticketEdit(try ticketEdit(root))
        case let type: throw InboundError(.unknownType, "unknown message type '\(type.prefix(limits.maxShortText))'")
        }
    }

    /// Deepest nesting accepted in a body (unknown fields included), like Foundation's JSON reader allows.
    static let maxDepth = 128

    private func subscriberUpdated(_ c: Fields) throws(InboundError) -> SubscriberUpdated {
        let eventID = try c.text("event_id")
        let occurredAt = try c.timestamp("occurred_at")
        let version = try c.int64("version")
        guard version >= 0 else { throw c.invalid("version", "must not be negative") }
        let s = try c.object("subscriber")
        let rsID = try s.int64("rs_id")
        let contractNo = try s.text("contract_no")
        let fullName = try s.text("full_name", max: \.maxText)
        let address = try s.text("address", max: \.maxText)
        let rawPhones = try s.texts("phones", required: true, max: \.maxShortText) ?? []
        let tariff = try s.object("tariff")
        let tariffName = try tariff.text("name", max: \.maxText)
        let since = try tariff.string("since")
        guard let tariffSince = LocalDate(iso: since) else {
            throw tariff.invalid("since", "'\(since.prefix(32))' is not a YYYY-MM-DD date")
        }
        let switchName = try s.text("switch", max: \.maxText)
        let status = try s.choice("status", SubscriberStatus.self)
        var phones: [PhoneNumber] = []
        for typed in rawPhones {
            if let phone = plan.normalise(typed), !phones.contains(phone) { phones.append(phone) }
        }
        let subscriber = Subscriber(rsID: rsID, contractNo: contractNo, fullName: fullName, address: address,
                                    phones: phones, tariffName: tariffName, tariffSince: tariffSince,
                                    switchName: switchName, status: status)
        return SubscriberUpdated(eventID: eventID, occurredAt: occurredAt, version: version,
                                 subscriber: subscriber, rawPhones: rawPhones)
    }

    private func callAnswered(_ c: Fields) throws(InboundError) -> CallAnswered {
        CallAnswered(
            eventID: try c.text("event_id"),
            callID: try c.text("call_id"),
            direction: try c.choice("direction", CallDirection.self),
            subscriberNumber: try c.text("subscriber_number"),
            line: try c.text("line"),
            operatorLogin: try c.nullableText("operator"),
            answeredAt: try c.timestamp("answered_at"))
    }

    private func callEnded(_ c: Fields) throws(InboundError) -> CallEnded {
        CallEnded(
            eventID: try c.text("event_id"),
            callID: try c.text("call_id"),
            direction: try c.choice("direction", CallDirection.self),
            subscriberNumber: try c.text("subscriber_number"),
            line: try c.text("line"),
            operatorLogin: try c.nullableText("operator"),
            startedAt: try c.timestamp("started_at"),
            answeredAt: try c.nullableTimestamp("answered_at"),
            endedAt: try c.timestamp("ended_at"),
            outcome: try c.choice("outcome", CallOutcome.self))
    }

    private func ticketCreate(_ c: Fields) throws(InboundError) -> TicketCreateCommand {
        TicketCreateCommand(
            commandID: try c.text("command_id"),
            operatorLogin: try c.text("operator"),
            via: try c.optionalChoice("via", CommandOrigin.self) ?? .manual,
            rsID: try c.optionalInt64("rs_id"),
            source: try c.optionalText("source"),
            contactPhones: try c.texts("contact_phones", required: false, max: \.maxShortText) ?? [],
            reasons: try c.texts("reasons", required: false) ?? [],
            resolutions: try c.texts("resolutions", required: false) ?? [],
            comment: try c.optionalText("comment", max: \.maxComment),
            task: try c.optionalText("task"),
            address: try c.optionalText("address"),
            save: try c.optionalBool("save") ?? false)
    }

    private func ticketSave(_ c: Fields) throws(InboundError) -> TicketSaveCommand {
        TicketSaveCommand(
            commandID: try c.text("command_id"),
            ticketID: try c.text("ticket_id"),
            operatorLogin: try c.text("operator"),
            contactPhones: try c.texts("contact_phones", required: false, max: \.maxShortText),
            source: try c.optionalText("source"),
            reasons: try c.texts("reasons", required: false) ?? [],
            resolutions: try c.texts("resolutions", required: false) ?? [],
            comment: try c.optionalText("comment", max: \.maxComment),
            address: try c.optionalText("address"),
            callbackDone: try callbackDone(c))
    }

    private func ticketEdit(_ c: Fields) throws(InboundError) -> TicketEditCommand {
        let commandID = try c.text("command_id")
        let ticketID = try c.text("ticket_id")
        let operatorLogin = try c.text("operator")
        let via = try c.choice("via", CommandOrigin.self)
        let changes = try c.object("changes")
        return TicketEditCommand(
            commandID: commandID,
            ticketID: ticketID,
            operatorLogin: operatorLogin,
            via: via,
            reasons: try changes.texts("reasons", required: false),
            resolutions: try changes.texts("resolutions", required: false),
            comment: try changes.optionalText("comment", max: \.maxComment),
            contactPhones: try changes.texts("contact_phones", required: false, max: \.maxShortText),
            source: try changes.optionalText("source"),
            callbackDone: try callbackDone(c))
    }

    /// `"callback": "done"` closes the ticket's callback; absent or null leaves it.
    private func callbackDone(_ c: Fields) throws(InboundError) -> Bool {
        guard let value = try c.optionalString("callback") else { return false }
        guard value == "done" else { throw c.invalid("callback", "must be \"done\" or null") }
        return true
    }
}

// MARK: - Reading fields with the contract's rules

/// The members of one JSON object of an inbound body. Every error names the field by its path
/// (`subscriber.tariff.since`, `subscriber.phones[1]`) and says what is wrong.
private struct Fields {
    let json: JSONReader
    /// The object's node in `json`.
    let node: Int
    /// The path of this object followed by a dot, or empty for the body itself.
    let path: String
    let limits: InputLimits

    /// The node of the first value under `key` (a repeated key: the first wins, as for PBX payloads).
    private func value(_ key: String) -> Int? {
        json.member(key, of: node)
    }

    func invalid(_ key: String, _ problem: String) -> InboundError {
        InboundError(.invalidMessage, "field '\(path)\(key)': \(problem)")
    }

    private func wrongType(_ name: String, _ expected: String) -> InboundError {
        InboundError(.invalidMessage, "field '\(name)' has the wrong type (expected \(expected))")
    }

    /// The value under `key`, which must be present and not null.
    private func required(_ key: String) throws(InboundError) -> Int {
        guard let value = value(key) else { throw InboundError(.invalidMessage, "missing required field '\(path)\(key)'") }
        if json.kind(value) == .null { throw InboundError(.invalidMessage, "field '\(path)\(key)' must not be null") }
        return value
    }

    /// The value under `key`, or nil when it is absent or null.
    private func optional(_ key: String) -> Int? {
        guard let value = value(key), json.kind(value) != .null else { return nil }
        return value
    }

    private func string(of value: Int, _ key: String) throws(InboundError) -> String {
        guard json.kind(value) == .string else { throw wrongType(path + key, "string") }
        return json.string(value)
    }

    /// A required string, as written.
    func string(_ key: String) throws(InboundError) -> String {
        try string(of: try required(key), key)
    }

    func optionalString(_ key: String) throws(InboundError) -> String? {
        guard let value = optional(key) else { return nil }
        return try string(of: value, key)
    }

    /// A required, non-empty string within `max` characters and without control characters.
    func text(_ key: String, max: KeyPath<InputLimits, Int> = \.maxShortText) throws(InboundError) -> String {
        let value = try string(key)
        guard !value.isEmpty else { throw invalid(key, "must not be empty") }
        try check(value, key, max)
        return value
    }

    func optionalText(_ key: String, max: KeyPath<InputLimits, Int> = \.maxText) throws(InboundError) -> String? {
        guard let value = try optionalString(key) else { return nil }
        try check(value, key, max)
        return value
    }

    /// A field that must be present but may be null (`"operator": null`).
    func nullableText(_ key: String) throws(InboundError) -> String? {
        guard value(key) != nil else { throw InboundError(.invalidMessage, "missing required field '\(path)\(key)'") }
        return try optionalText(key, max: \.maxShortText)
    }

    /// A list of strings, each checked like `optionalText`, at most `limits.maxListCount` of them.
    func texts(_ key: String, required isRequired: Bool, max: KeyPath<InputLimits, Int> = \.maxText) throws(InboundError) -> [String]? {
        guard let value = isRequired ? try required(key) : optional(key) else { return nil }
        guard json.kind(value) == .array else { throw wrongType(path + key, "array") }
        let items = json.items(of: value)
        guard items.count <= limits.maxListCount else {
            throw invalid(key, "has \(items.count) entries; the limit is \(limits.maxListCount)")
        }
        var texts: [String] = []
        texts.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            switch json.kind(item) {
            case .string:
                let text = json.string(item)
                try check(text, key, max)
                texts.append(text)
            case .null: throw InboundError(.invalidMessage, "field '\(path)\(key)[\(index)]' must not be null")
            default: throw wrongType("\(path)\(key)[\(index)]", "string")
            }
        }
        return texts
    }

    private func integer(of value: Int, _ key: String) throws(InboundError) -> Int64 {
        guard json.kind(value) == .number else { throw wrongType(path + key, "integer") }
        if let number = json.plainInteger(value) { return number }
        let literal = json.string(value)
        if let number = Int64(literal) { return number }
        // `5.0` and `5e2` are whole numbers too; `5.5` and numbers beyond 64 bits are not.
        guard let real = Double(literal), real.rounded() == real, let number = Int64(exactly: real) else {
            throw invalid(key, "\(literal.prefix(32)) is not a whole number within 64 bits")
        }
        return number
    }

    func int64(_ key: String) throws(InboundError) -> Int64 {
        try integer(of: try required(key), key)
    }

    func optionalInt64(_ key: String) throws(InboundError) -> Int64? {
        guard let value = optional(key) else { return nil }
        return try integer(of: value, key)
    }

    func optionalBool(_ key: String) throws(InboundError) -> Bool? {
        guard let value = optional(key) else { return nil }
        switch json.kind(value) {
        case .true: return true
        case .false: return false
        default: throw wrongType(path + key, "boolean")
        }
    }

    func timestamp(_ key: String) throws(InboundError) -> Date {
        let text = try string(key)
        guard let date = RFC3339.parse(text) else {
            throw invalid(key, "'\(text.prefix(64))' is not an RFC 3339 timestamp with an offset")
        }
        return date
    }

    /// A timestamp that must be present but may be null.
    func nullableTimestamp(_ key: String) throws(InboundError) -> Date? {
        guard let value = value(key) else { throw InboundError(.invalidMessage, "missing required field '\(path)\(key)'") }
        if json.kind(value) == .null { return nil }
        return try timestamp(key)
    }

    /// One of the enumeration's values, written as its raw string.
    func choice<Choice: RawRepresentable & CaseIterable>(_ key: String, _ type: Choice.Type) throws(InboundError) -> Choice
        where Choice.RawValue == String {
        try choice(of: try string(key), key)
    }

    func optionalChoice<Choice: RawRepresentable & CaseIterable>(_ key: String, _ type: Choice.Type) throws(InboundError) -> Choice?
        where Choice.RawValue == String {
        guard let text = try optionalString(key) else { return nil }
        return try choice(of: text, key)
    }

    private func choice<Choice: RawRepresentable & CaseIterable>(of text: String, _ key: String) throws(InboundError) -> Choice
        where Choice.RawValue == String {
        guard let value = Choice(rawValue: text) else {
            let allowed = Choice.allCases.map(\.rawValue).joined(separator: ", ")
            throw invalid(key, "'\(text.prefix(limits.maxShortText))' is not one of \(allowed)")
        }
        return value
    }

    /// A required nested object.
    func object(_ key: String) throws(InboundError) -> Fields {
        let value = try required(key)
        guard json.kind(value) == .object else { throw wrongType(path + key, "object") }
        return Fields(json: json, node: value, path: "\(path)\(key).", limits: limits)
    }

    private func check(_ value: String, _ key: String, _ max: KeyPath<InputLimits, Int>) throws(InboundError) {
        let limit = limits[keyPath: max]
        // Fast path: no more bytes than the limit allows characters, and no control byte (every byte of a
        // multi-byte UTF-8 sequence is 0x80 or above), so neither check can fail.
        let clean = value.utf8.count <= limit && value.utf8.withContiguousStorageIfAvailable {
            !$0.contains { $0 < 0x20 && $0 != 0x0A && $0 != 0x09 && $0 != 0x0D || $0 == 0x7F }
        } == true
        if clean { return }
        var count = 0
        var control = false
        for scalar in value.unicodeScalars {
            count += 1
            if scalar.value < 0x20 && scalar != "\n" && scalar != "\t" && scalar != "\r" || scalar.value == 0x7F { control = true }
        }
        if count > limit { throw invalid(key, "is \(count) characters long; the limit is \(limit)") }
        if control { throw invalid(key, "contains control characters") }
    }
}
