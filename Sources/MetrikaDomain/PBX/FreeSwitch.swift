import Foundation

/// One event from FreeSWITCH's `mod_amqp` (flat object, every value a string, keys may repeat) and
/// what it means for its call.
public struct FreeSwitchEvent: Sendable, Equatable {
    public let name: String
    public let subclass: String?
    public let uniqueID: String
    public let sequence: String
    public let json: ParsedJSON

    /// Reads the fields every event has; throws naming a missing one.
    public init(_ json: ParsedJSON) throws(InboundError) {
        guard case .object = json else { throw InboundError(.invalidMessage, "the body must be a JSON object") }
        guard let name = json.text("Event-Name"), !name.isEmpty else { throw InboundError(.invalidMessage, "missing required field 'Event-Name'") }
        self.name = name
        subclass = json.text("Event-Subclass")
        uniqueID = json.text("Unique-ID") ?? json.text("CC-Member-Session-UUID") ?? ""
        sequence = json.text("Event-Sequence") ?? ""
        self.json = json
        if uniqueID.isEmpty && (name == "CHANNEL_HANGUP_COMPLETE" || isQueueAbandon) {
            throw InboundError(.invalidMessage, "missing required field 'Unique-ID'")
        }
    }

    /// The deduplication key: mod_amqp sets no `message_id`.
    public var deduplicationKey: String { "freeswitch:\(uniqueID)|\(name)|\(subclass ?? "")|\(sequence)" }

    /// Hang-up causes that mean nobody answered the caller.
    public static let missedCauses: Set<String> = ["ORIGINATOR_CANCEL", "NO_ANSWER", "NO_USER_RESPONSE", "USER_BUSY", "CALL_REJECTED"]

    /// mod_callcenter: the caller left the queue before an agent answered.
    public var isQueueAbandon: Bool {
        name == "CUSTOM" && subclass == "callcenter::info" && json.text("CC-Action") == "member-queue-end"
            && json.text("CC-Cause") == "Cancel"
    }

    /// The call this event belongs to (the A-leg's `Unique-ID`).
    public var callID: String {
        "freeswitch:" + (isQueueAbandon ? (json.text("CC-Member-Session-UUID") ?? uniqueID) : uniqueID)
    }

    /// The hang-up cause (the first one when the key repeats).
    public var hangupCause: String { json.text("Hangup-Cause") ?? json.text("variable_hangup_cause") ?? "" }

    /// What this event decides, or nil when it decides nothing (B-legs, other events).
    ///
    /// The call is decided on the inbound A-leg's `CHANNEL_HANGUP_COMPLETE`: answered only if it was
    /// bridged and `variable_billsec` > 0; B-legs (`Call-Direction: outbound`, e.g. `LOSE_RACE`,
    /// `PICKED_OFF`) are ignored; a queue abandon is a missed call.
    public func decision(settings: PBXSettings) -> CallDecision? {
        if isQueueAbandon {
            let number = json.text("CC-Member-CID-Number") ?? json.text("Caller-Caller-ID-Number") ?? ""
            let at = PBXTime.epoch(json.text("CC-Member-Leaving-Time")) ?? eventTime
            return .missed(number: number, at: at)
        }
        guard name == "CHANNEL_HANGUP_COMPLETE", (json.text("Call-Direction") ?? "inbound") == "inbound" else { return nil }
        let caller = json.text("Caller-Caller-ID-Number") ?? json.text("variable_caller_id_number") ?? ""
        let destination = json.text("Caller-Destination-Number") ?? json.text("variable_destination_number") ?? ""
        let context = json.text("Caller-Context") ?? ""
        let bridged = PBXTime.epoch(json.text("variable_bridge_epoch")) != nil || PBXTime.epoch(json.text("Caller-Channel-Bridged-Time")) != nil
        let answered = bridged && (Int(json.text("variable_billsec") ?? "0") ?? 0) > 0
        let answeredAt = PBXTime.epoch(json.text("Caller-Channel-Answered-Time")) ?? PBXTime.epoch(json.text("variable_answer_epoch"))
            ?? json.text("variable_answer_stamp").flatMap { PBXTime.parse($0, zone: settings.zone) } ?? eventTime
        let endedAt = PBXTime.epoch(json.text("Caller-Channel-Hangup-Time")) ?? PBXTime.epoch(json.text("variable_end_epoch"))
            ?? json.text("variable_end_stamp").flatMap { PBXTime.parse($0, zone: settings.zone) } ?? eventTime
        if settings.freeswitchInboundContexts.contains(context) || !settings.isExtension(caller) {
            if answered {
                return .answered(direction: .inbound, operatorLogin: settings.operatorLogin(extension: agent(settings)), number: caller, at: answeredAt)
            }
            return .missed(number: caller, at: endedAt)
        }
        if settings.isExtension(destination) { return .nothing }
        let operatorLogin = settings.operatorLogin(extension: caller)
        return answered
            ? .answered(direction: .outbound, operatorLogin: operatorLogin, number: destination, at: answeredAt)
            : .unansweredOutbound(operatorLogin: operatorLogin, number: destination, at: endedAt)
    }

    /// Whether the hang-up cause is one the gateway knows (others are read as "not answered" and logged).
    public var hasKnownCause: Bool {
        let cause = hangupCause
        return cause.isEmpty || cause == "NORMAL_CLEARING" || FreeSwitchEvent.missedCauses.contains(cause)
            || ["LOSE_RACE", "PICKED_OFF", "NORMAL_UNSPECIFIED", "ALLOTTED_TIMEOUT", "RECOVERY_ON_TIMER_EXPIRE"].contains(cause)
    }

    /// The agent who answered, from the fields FreeSWITCH and mod_callcenter set on the A-leg: first the
    /// ones naming the answering party, then the `bridge` application's target when it names exactly one
    /// extension.
    private func agent(_ settings: PBXSettings) -> String? {
        for key in ["variable_cc_agent", "variable_callee_id_number", "Other-Leg-Callee-ID-Number",
                    "variable_last_sent_callee_id_number", "variable_dialed_user", "Other-Leg-Destination-Number"] {
            if let value = json.text(key), !value.isEmpty {
                return value.split(separator: "@").first.map(String.init)
            }
        }
        return json.text("variable_last_arg").flatMap(Self.singleBridgeTarget).flatMap { settings.isExtension($0) ? $0 : nil }
    }

    /// The user part of a dial string with one target: `user/101@pbx` → `101`,
    /// `{ignore_early_media=true}sofia/internal/102@10.0.0.5` → `102`. Nil for several targets (a ring
    /// group: `user/101,user/102`, `user/101|user/102`), since the answering one is not known from it.
    static func singleBridgeTarget(_ dialString: String) -> String? {
        var target = Substring(dialString)
        while target.first == "{" || target.first == "[" || target.first == "<" {
            let close: Character = target.first == "{" ? "}" : target.first == "[" ? "]" : ">"
            guard let end = target.firstIndex(of: close) else { return nil }
            target = target[target.index(after: end)...]
        }
        guard !target.contains(where: { $0 == "," || $0 == "|" }), !target.hasPrefix("sofia/gateway/"),
              target.hasPrefix("user/") || target.hasPrefix("sofia/") else { return nil }
        let user = target.split(separator: "/").last.map { $0.split(separator: "@").first ?? $0 } ?? ""
        return user.isEmpty ? nil : String(user)
    }

    private var eventTime: Date {
        PBXTime.epoch(json.text("Event-Date-Timestamp")) ?? Date(timeIntervalSince1970: 0)
    }
}
