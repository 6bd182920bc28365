import Foundation

/// Hand-written JSON for the types written on every event (a ticket, a subscriber snapshot), with
/// sorted keys — the same document `JSONEncoder` (`.sortedKeys`) produces from their `Encodable`
/// conformances, without its per-value cost on the hot path.
enum FastJSON {
    /// A JSON array of `items`, each written by `element`.
    static func appendArray<T>(_ items: [T], to out: inout JSONBytes, _ element: (T, inout JSONBytes) -> Void) {
        out.byte(UInt8(ascii: "["))
        for (index, item) in items.enumerated() {
            if index > 0 { out.byte(UInt8(ascii: ",")) }
            element(item, &out)
        }
        out.byte(UInt8(ascii: "]"))
    }

    static func append(_ references: [CatalogReference], to out: inout JSONBytes) {
        appendArray(references, to: &out) { append($0, to: &$1) }
    }

    static func append(_ texts: [String], to out: inout JSONBytes) {
        appendArray(texts, to: &out) { $1.string($0) }
    }

    static func append(_ snapshots: [SubscriberSnapshot], to out: inout JSONBytes) {
        appendArray(snapshots, to: &out) { append($0, to: &$1) }
    }

    static func append(_ reference: CatalogReference?, to out: inout JSONBytes) {
        guard let reference else {
            out.literal("null")
            return
        }
        out.literal("{\"code\":"); out.string(reference.code)
        out.literal(",\"title\":"); out.string(reference.title)
        out.byte(UInt8(ascii: "}"))
    }

    static func append(_ snapshot: SubscriberSnapshot?, to out: inout JSONBytes) {
        guard let s = snapshot else {
            out.literal("null")
            return
        }
        out.literal("{\"address\":"); out.string(s.address)
        out.literal(",\"contract_no\":"); out.string(s.contractNo)
        out.literal(",\"days_on_tariff\":"); out.int(s.daysOnTariff)
        out.literal(",\"full_name\":"); out.string(s.fullName)
        out.literal(",\"rs_id\":"); out.int(s.rsID)
        out.literal(",\"status\":"); out.string(s.status.rawValue)
        out.literal(",\"switch\":"); out.string(s.switchName)
        out.literal(",\"tariff_name\":"); out.string(s.tariffName)
        out.literal(",\"tariff_since\":"); out.string(s.tariffSince)
        out.byte(UInt8(ascii: "}"))
    }
}

extension Ticket {
    /// The ticket as JSON with sorted keys, timestamps in `zone` — what events carry and the store keeps.
    public func json(in zone: TimeZone) -> String {
        var out = JSONBytes(capacity: 1024)
        out.literal("{\"address\":"); out.string(address)
        out.literal(",\"author\":"); out.string(author)
        out.literal(",\"call_id\":"); out.string(callID)
        out.literal(",\"callback_id\":"); out.string(callbackID)
        out.literal(",\"candidates\":"); FastJSON.append(candidates, to: &out)
        out.literal(",\"comment\":"); out.string(comment)
        out.literal(",\"contact_phones\":"); FastJSON.append(contactPhones, to: &out)
        out.literal(",\"created_at\":"); out.string(RFC3339.format(createdAt, in: zone))
        out.literal(",\"direction\":"); out.string(direction?.rawValue)
        out.literal(",\"kind\":"); out.string(kind.rawValue)
        out.literal(",\"match\":"); out.string(match.rawValue)
        out.literal(",\"no_callback_number\":"); out.bool(hasNoCallbackNumber)
        out.literal(",\"reasons\":"); FastJSON.append(reasons, to: &out)
        out.literal(",\"resolutions\":"); FastJSON.append(resolutions, to: &out)
        out.literal(",\"saved_at\":"); out.string(savedAt.map { RFC3339.format($0, in: zone) })
        out.literal(",\"source\":"); FastJSON.append(source, to: &out)
        out.literal(",\"state\":"); out.string(state.rawValue)
        out.literal(",\"subscriber\":"); FastJSON.append(subscriber, to: &out)
        out.literal(",\"task\":"); FastJSON.append(task, to: &out)
        out.literal(",\"ticket_id\":"); out.string(ticketID)
        out.byte(UInt8(ascii: "}"))
        return out.text
    }
}

extension SubscriberFill {
    /// `subscriber` and `candidates` as JSON (for `callback.needed`).
    var subscriberJSON: String {
        var out = JSONBytes(capacity: 512)
        FastJSON.append(subscriber, to: &out)
        return out.text
    }

    var candidatesJSON: String {
        var out = JSONBytes(capacity: 64)
        FastJSON.append(candidates, to: &out)
        return out.text
    }
}

extension SubscriberFill {
    /// The subscriber part (`match`, `subscriber`, `candidates`) of a ticket as `Ticket.json(in:)` wrote it;
    /// nil when the text is not such a ticket. Reads only these three fields, without decoding the ticket.
    public init?(ticketJSON: String) {
        var text = ticketJSON
        guard let fill = text.withUTF8({ utf8 -> SubscriberFill? in
            guard let json = JSONReader(UnsafeRawBufferPointer(utf8), maxDepth: 8), json.kind(0) == .object,
                  let matchNode = json.member("match", of: 0), json.kind(matchNode) == .string,
                  let match = SubscriberMatch(rawValue: json.string(matchNode)) else { return nil }
            var subscriber: SubscriberSnapshot?
            if let node = json.member("subscriber", of: 0), json.kind(node) != .null {
                guard let snapshot = SubscriberSnapshot(json, node) else { return nil }
                subscriber = snapshot
            }
            var candidates: [SubscriberSnapshot] = []
            if let node = json.member("candidates", of: 0), json.kind(node) == .array {
                for item in json.items(of: node) {
                    guard let snapshot = SubscriberSnapshot(json, item) else { return nil }
                    candidates.append(snapshot)
                }
            }
            return SubscriberFill(match: match, subscriber: subscriber, candidates: candidates)
        }) else { return nil }
        self = fill
    }
}

extension SubscriberSnapshot {
    /// The snapshot at `node` as `FastJSON` wrote it; nil when a field is missing or of another type.
    init?(_ json: JSONReader, _ node: Int) {
        guard json.kind(node) == .object else { return nil }
        func field(_ key: String, _ kind: JSONTape.Kind) -> String? {
            guard let value = json.member(key, of: node), json.kind(value) == kind else { return nil }
            return json.string(value)
        }
        guard let rsIDText = field("rs_id", .number), let rsID = Int64(rsIDText),
              let daysText = field("days_on_tariff", .number), let days = Int(daysText),
              let contractNo = field("contract_no", .string), let fullName = field("full_name", .string),
              let address = field("address", .string), let tariffName = field("tariff_name", .string),
              let tariffSince = field("tariff_since", .string), let switchName = field("switch", .string),
              let statusText = field("status", .string), let status = SubscriberStatus(rawValue: statusText) else {
            return nil
        }
        self.init(rsID: rsID, contractNo: contractNo, fullName: fullName, address: address, tariffName: tariffName,
                  tariffSince: tariffSince, daysOnTariff: days, switchName: switchName, status: status)
    }
}
