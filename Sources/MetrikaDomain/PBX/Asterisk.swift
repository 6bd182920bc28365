import Foundation

/// One CDR record from Asterisk's `cdr_amqp`: one leg of a call (a call with a ring group or a queue
/// has several, sharing `linkedid`).
public struct AsteriskLeg: Codable, Sendable, Equatable {
    public let linkedID: String
    public let uniqueID: String
    public let source: String
    public let destination: String
    public let context: String
    public let channel: String
    public let destinationChannel: String
    public let lastApplication: String
    public let disposition: String
    public let start: Date?
    /// Nil when the leg was not answered (Asterisk writes the 1970 epoch).
    public let answer: Date?
    public let end: Date?

    /// The deduplication key: cdr_amqp sets no `message_id`.
    public var deduplicationKey: String {
        "asterisk-cdr:\(linkedID)|\(uniqueID)|\(channel)|\(destinationChannel)|\(end.map { String(Int64($0.timeIntervalSince1970 * 1000)) } ?? "")"
    }

    /// Dispositions Asterisk is known to write; others are read as "not answered".
    public static let knownDispositions: Set<String> = ["ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION", "CANCEL"]

    /// Reads a CDR; throws naming the field when a required one is missing. Numbers may come as
    /// strings or numbers; ids stay strings.
    public init(_ json: ParsedJSON, zone: TimeZone) throws(InboundError) {
        func required(_ key: String) throws(InboundError) -> String {
            guard let value = json.text(key) else { throw InboundError(.invalidMessage, "missing required field '\(key)'") }
            return value
        }
        linkedID = try required("linkedid")
        guard !linkedID.isEmpty else { throw InboundError(.invalidMessage, "field 'linkedid' must not be empty") }
        uniqueID = json.text("uniqueid") ?? ""
        source = json.text("src") ?? ""
        destination = json.text("dst") ?? ""
        context = json.text("dcontext") ?? ""
        channel = try required("channel")
        destinationChannel = json.text("dstchannel") ?? ""
        lastApplication = json.text("lastapp") ?? ""
        disposition = try required("disposition").uppercased()
        start = json.text("start").flatMap { PBXTime.parse($0, zone: zone) }
        answer = json.text("answer").flatMap { PBXTime.parse($0, zone: zone) }
        end = json.text("end").flatMap { PBXTime.parse($0, zone: zone) }
        guard end != nil || start != nil else {
            throw InboundError(.invalidMessage, "field 'end' (or 'start') is not a time")
        }
    }

    /// The endpoint of a channel name: `PJSIP/102-00000021` → `102`, `Local/102@from-queue-0000;1` → `102`,
    /// `PJSIP/trunk-rt-00000020` → `trunk-rt`.
    public static func endpoint(of channel: String) -> String {
        guard let slash = channel.firstIndex(of: "/") else { return channel }
        var resource = channel[channel.index(after: slash)...]
        if let at = resource.firstIndex(of: "@") {
            resource = resource[..<at]
        } else if let dash = resource.lastIndex(of: "-") {
            resource = resource[..<dash]
        }
        return String(resource)
    }
}

/// A call as Asterisk's CDRs describe it, decided once all its legs are in.
public enum AsteriskCall {
    /// The one decision for the call made of `legs` (all sharing a `linkedid`):
    /// - inbound (a leg arrived in an inbound context, or came from a number that is not an extension):
    ///   answered only if some leg is `ANSWERED` with a destination channel to an extension (a person);
    ///   a caller leg `ANSWERED` by an IVR or queue with no destination channel is still missed;
    /// - outbound (an extension called a non-extension): answered if the callee's leg was `ANSWERED`;
    /// - extension to extension: nothing.
    public static func decide(_ legs: [AsteriskLeg], settings: PBXSettings) -> CallDecision {
        let ordered = legs.sorted { ($0.start ?? .distantPast, $0.uniqueID) < ($1.start ?? .distantPast, $1.uniqueID) }
        guard let first = ordered.first else { return .nothing }
        let ended = ordered.compactMap { $0.end ?? $0.start }.max() ?? Date(timeIntervalSince1970: 0)
        let sourceIsExtension = settings.isExtension(first.source)
        let inbound = settings.asteriskInboundContexts.contains(first.context) || !sourceIsExtension
        if inbound {
            let human = ordered.first { leg in
                leg.disposition == "ANSWERED" && !leg.destinationChannel.isEmpty
                    && settings.isExtension(AsteriskLeg.endpoint(of: leg.destinationChannel))
            }
            if let human {
                return .answered(direction: .inbound,
                                 operatorLogin: settings.operatorLogin(extension: AsteriskLeg.endpoint(of: human.destinationChannel)),
                                 number: first.source, at: human.answer ?? human.start ?? ended)
            }
            return .missed(number: first.source, at: ended)
        }
        if settings.isExtension(first.destination) { return .nothing }
        let operatorLogin = settings.operatorLogin(extension: first.source)
        if let answered = ordered.first(where: { $0.disposition == "ANSWERED" && !$0.destinationChannel.isEmpty }) {
            return .answered(direction: .outbound, operatorLogin: operatorLogin, number: first.destination,
                             at: answered.answer ?? answered.start ?? ended)
        }
        return .unansweredOutbound(operatorLogin: operatorLogin, number: first.destination, at: ended)
    }
}

/// One CEL event from Asterisk's `cel_amqp`; the gateway uses `LINKEDID_END` (every channel of the call
/// is gone) to decide the call without waiting for the quiet period.
public struct AsteriskCELEvent: Sendable, Equatable {
    public let eventName: String
    public let linkedID: String
    public let uniqueID: String
    public let eventTime: String

    public init(_ json: ParsedJSON) throws(InboundError) {
        guard let name = json.text("event_name"), !name.isEmpty else { throw InboundError(.invalidMessage, "missing required field 'event_name'") }
        guard let linked = json.text("linked_id"), !linked.isEmpty else { throw InboundError(.invalidMessage, "missing required field 'linked_id'") }
        eventName = name
        linkedID = linked
        uniqueID = json.text("unique_id") ?? ""
        eventTime = json.text("event_time") ?? ""
    }

    /// The deduplication key: cel_amqp sets no `message_id`.
    public var deduplicationKey: String { "asterisk-cel:\(linkedID)|\(uniqueID)|\(eventName)|\(eventTime)" }

    /// Whether this event says the call is over.
    public var endsCall: Bool { eventName == "LINKEDID_END" }
}
