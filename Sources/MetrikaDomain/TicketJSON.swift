import Foundation

/// Hand-written JSON for the types written on every event (a ticket, a subscriber snapshot), with
/// sorted keys — the same document `JSONEncoder` (`.sortedKeys`) produces from their `Encodable`
/// conformances, without its per-value cost on the hot path.
enum FastJSON {
    /// A JSON array of `items`, each written by `element`.
    static func appendArray<T>(_ items: [T], to out: inout String, _ element: (T, inout String) -> Void) {
        out += "["
        for (index, item) in items.enumerated() {
            if index > 0 { out += "," }
            element(item, &out)
        }
        out += "]"
    }

    static func append(_ references: [CatalogReference], to out: inout String) {
        appendArray(references, to: &out) { append($0, to: &$1) }
    }

    static func append(_ texts: [String], to out: inout String) {
        appendArray(texts, to: &out) { JSONString.append($0, to: &$1) }
    }

    static func append(_ snapshots: [SubscriberSnapshot], to out: inout String) {
        appendArray(snapshots, to: &out) { append($0, to: &$1) }
    }

    static func append(_ text: String?, to out: inout String) {
        if let text { JSONString.append(text, to: &out) } else { out += "null" }
    }

    static func append(_ reference: CatalogReference?, to out: inout String) {
        guard let reference else {
            out += "null"
            return
        }
        out += "{\"code\":"
        JSONString.append(reference.code, to: &out)
        out += ",\"title\":"
        JSONString.append(reference.title, to: &out)
        out += "}"
    }



    static func append(_ snapshot: SubscriberSnapshot?, to out: inout String) {
        guard let s = snapshot else {
            out += "null"
            return
        }
        out += "{\"address\":"; JSONString.append(s.address, to: &out)
        out += ",\"contract_no\":"; JSONString.append(s.contractNo, to: &out)
        out += ",\"days_on_tariff\":\(s.daysOnTariff)"
        out += ",\"full_name\":"; JSONString.append(s.fullName, to: &out)
        out += ",\"rs_id\":\(s.rsID)"
        out += ",\"status\":\"\(s.status.rawValue)\""
        out += ",\"switch\":"; JSONString.append(s.switchName, to: &out)
        out += ",\"tariff_name\":"; JSONString.append(s.tariffName, to: &out)
        out += ",\"tariff_since\":"; JSONString.append(s.tariffSince, to: &out)
        out += "}"
    }

}

extension Ticket {
    /// The ticket as JSON with sorted keys, timestamps in `zone` — what events carry and the store keeps.
    public func json(in zone: TimeZone) -> String {
        var out = ""
        out.reserveCapacity(1024)
        out += "{\"address\":"; FastJSON.append(address, to: &out)
        out += ",\"author\":"; FastJSON.append(author, to: &out)
        out += ",\"call_id\":"; FastJSON.append(callID, to: &out)
        out += ",\"callback_id\":"; FastJSON.append(callbackID, to: &out)
        out += ",\"candidates\":"; FastJSON.append(candidates, to: &out)
        out += ",\"comment\":"; FastJSON.append(comment, to: &out)
        out += ",\"contact_phones\":"; FastJSON.append(contactPhones, to: &out)
        out += ",\"created_at\":\"\(RFC3339.format(createdAt, in: zone))\""
        out += ",\"direction\":"; FastJSON.append(direction?.rawValue, to: &out)
        out += ",\"kind\":\"\(kind.rawValue)\""
        out += ",\"match\":\"\(match.rawValue)\""
        out += ",\"no_callback_number\":\(hasNoCallbackNumber)"
        out += ",\"reasons\":"; FastJSON.append(reasons, to: &out)
        out += ",\"resolutions\":"; FastJSON.append(resolutions, to: &out)
        out += ",\"saved_at\":"; FastJSON.append(savedAt.map { RFC3339.format($0, in: zone) }, to: &out)
        out += ",\"source\":"; FastJSON.append(source, to: &out)
        out += ",\"state\":\"\(state.rawValue)\""
        out += ",\"subscriber\":"; FastJSON.append(subscriber, to: &out)
        out += ",\"task\":"; FastJSON.append(task, to: &out)
        out += ",\"ticket_id\":"; JSONString.append(ticketID, to: &out)
        out += "}"
        return out
    }
}

extension SubscriberFill {
    /// `subscriber` and `candidates` as JSON (for `callback.needed`).
    var subscriberJSON: String {
        var out = ""
        FastJSON.append(subscriber, to: &out)
        return out
    }

    var candidatesJSON: String {
        var out = ""
        FastJSON.append(candidates, to: &out)
        return out
    }
}

extension SubscriberFill {
    /// The subscriber part (`match`, `subscriber`, `candidates`) of a ticket as `Ticket.json(in:)` wrote it;
    /// nil when the text is not such a ticket. Reads only these three fields, without decoding the ticket.
    public init?(ticketJSON: String) {
        var text = ticketJSON
        guard let json = text.withUTF8({ ParsedJSON.parse(UnsafeRawBufferPointer($0), maxDepth: 8) }),
              let matchText = json.text("match"), let match = SubscriberMatch(rawValue: matchText) else { return nil }
        var subscriber: SubscriberSnapshot?
        if let value = json.value("subscriber"), value != .null {
            guard let snapshot = SubscriberSnapshot(json: value) else { return nil }
            subscriber = snapshot
        }
        var candidates: [SubscriberSnapshot] = []
        if case let .array(items)? = json.value("candidates") {
            for item in items {
                guard let snapshot = SubscriberSnapshot(json: item) else { return nil }
                candidates.append(snapshot)
            }
        }
        self.init(match: match, subscriber: subscriber, candidates: candidates)
    }
}

extension SubscriberSnapshot {
    /// A snapshot as `FastJSON` wrote it; nil when a field is missing or of another type.
    init?(json: ParsedJSON) {
        guard let rsIDText = json.text("rs_id"), let rsID = Int64(rsIDText),
              let daysText = json.text("days_on_tariff"), let days = Int(daysText),
              case let .string(contractNo)? = json.value("contract_no"), case let .string(fullName)? = json.value("full_name"),
              case let .string(address)? = json.value("address"), case let .string(tariffName)? = json.value("tariff_name"),
              case let .string(tariffSince)? = json.value("tariff_since"), case let .string(switchName)? = json.value("switch"),
              case let .string(statusText)? = json.value("status"), let status = SubscriberStatus(rawValue: statusText) else {
            return nil
        }
        self.init(rsID: rsID, contractNo: contractNo, fullName: fullName, address: address, tariffName: tariffName,
                  tariffSince: tariffSince, daysOnTariff: days, switchName: switchName, status: status)
    }
}
