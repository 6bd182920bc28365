import Foundation
import MetrikaDomain

/// Cheap text for generated messages: the generator shares the machine with what it measures, so it
/// avoids `String(format:)` and `DateFormatter`.
enum BenchText {
    /// `YYYY-MM-DDTHH:MM:SS+03:00` (Moscow time, as the contract's examples) for Unix time `epochSeconds`.
    static func timestamp(_ epochSeconds: Int) -> String {
        let local = epochSeconds + 3 * 3600
        let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        let second = local - days * 86_400
        return date(daysSinceEpoch: days) + "T" + padded(second / 3600, 2) + ":" + padded(second % 3600 / 60, 2) + ":"
            + padded(second % 60, 2) + "+03:00"
    }

    /// `YYYY-MM-DD` for a day counted from 1970-01-01.
    static func date(daysSinceEpoch: Int) -> String {
        LocalDate(Date(timeIntervalSince1970: Double(daysSinceEpoch) * 86_400), in: .gmt).description
    }

    /// A UUID-shaped id (version 4 layout), distinct for every (`stream`, `index`):
    /// `SSSSSSSS-0000-4000-8000-IIIIIIIIIIII`.
    static func id(stream: UInt32, index: Int) -> String {
        hex(UInt64(stream), 8) + "-0000-4000-8000-" + hex(UInt64(index), 12)
    }

    /// `value` in decimal, zero-padded to `width` digits.
    static func padded(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    private static func hex(_ value: UInt64, _ width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

/// The telephone numbers of the generators, as 10-digit Russian national significant numbers (the
/// gateway stores them as `+7` followed by these digits).
enum BenchNumbers {
    /// Largest subscriber index whose numbers stay distinct.
    static let maximumSubscribers = 5_000_000

    /// Subscriber `index`'s mobile number in `slot` 0 or 1; distinct for every (index, slot).
    static func subscriberMobile(index: Int, slot: Int) -> Int {
        mobile(serial: 2 * index + slot)
    }

    /// Subscriber `index`'s landline in the city with dialling code `cityCode`; distinct per index.
    static func subscriberLandline(index: Int, cityCode: Int) -> Int {
        // 1_234_567 shares no factor with 8_000_000, so the local part is a bijection of the index.
        cityCode * 10_000_000 + 2_000_000 + index * 1_234_567 % 8_000_000
    }

    /// A mobile number that belongs to no generated subscriber; `pool`s never overlap each other.
    static func unknownMobile(pool: Int, index: Int) -> Int {
        mobile(serial: 500_000_000 + pool * 100_000_000 + index)
    }

    /// `9XXXXXXXXX` spread over the range; 387_420_489 (3^18) shares no factor with 10^9, so distinct
    /// serials below 10^9 give distinct numbers.
    private static func mobile(serial: Int) -> Int {
        9_000_000_000 + serial * 387_420_489 % 1_000_000_000
    }

    /// The number as a person types it into RS: one of many national and international styles, some
    /// with brackets, dashes, dots or no-break spaces.
    static func typed(_ national: Int, style: Int) -> String {
        let d = String(national)
        let area = String(d.prefix(3))
        let first = String(d.dropFirst(3).prefix(3))
        let pair1 = String(d.dropFirst(6).prefix(2))
        let pair2 = String(d.suffix(2))
        switch style % 13 {
        case 0: return "+7 (\(area)) \(first)-\(pair1)-\(pair2)"
        case 1: return "8 \(area) \(first) \(pair1) \(pair2)"
        case 2: return "8\(d)"
        case 3: return "+7\(d)"
        case 4: return "8 (\(area)) \(first)-\(pair1)-\(pair2)"
        case 5: return "\(area)-\(first)-\(pair1)-\(pair2)"
        case 6: return "+7 \(area) \(first)-\(pair1)-\(pair2)"
        case 7: return "7\(d)"
        case 8: return "8-\(area)-\(first)-\(pair1)-\(pair2)"
        case 9: return "(\(area)) \(first) \(pair1) \(pair2)"
        case 10: return "8 \(area) \(first)\(pair1)\(pair2)"
        case 11: return "+7\u{00A0}\(area)\u{00A0}\(first)-\(pair1)-\(pair2)"
        default: return "+7.\(area).\(first).\(pair1).\(pair2)"
        }
    }

    /// The number as a PBX reports the other party: `8XXXXXXXXXX`, `XXXXXXXXXX` or `+7XXXXXXXXXX`.
    static func dialled(_ national: Int, style: Int) -> String {
        switch style % 5 {
        case 0, 1, 2: return "8\(national)"
        case 3: return "\(national)"
        default: return "+7\(national)"
        }
    }

    /// E.164, as the gateway stores and emits it.
    static func e164(_ national: Int) -> String { "+7\(national)" }
}

/// Writes one JSON object field by field; string values are escaped with the gateway's own `JSONString`.
/// Keys are the contract's ASCII names and are written as they are.
struct JSONObjectWriter {
    private var text = "{"
    private var empty = true

    mutating func string(_ key: String, _ value: String?) {
        separate(key)
        if let value { JSONString.append(value, to: &text) } else { text += "null" }
    }

    mutating func integer(_ key: String, _ value: Int) {
        separate(key)
        text += String(value)
    }

    /// A value that is already JSON (a nested object or an array).
    mutating func json(_ key: String, _ value: String) {
        separate(key)
        text += value
    }

    /// The object's text.
    var finished: String { text + "}" }

    /// A JSON array of strings.
    static func array(_ values: [String]) -> String {
        var out = "["
        for (position, value) in values.enumerated() {
            if position > 0 { out += "," }
            JSONString.append(value, to: &out)
        }
        return out + "]"
    }

    private mutating func separate(_ key: String) {
        if !empty { text += "," }
        empty = false
        text += "\"" + key + "\":"
    }
}
