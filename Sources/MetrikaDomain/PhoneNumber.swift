/// A telephone number in E.164 form (`+79000001122`), the only form the gateway stores and matches on.
public struct PhoneNumber: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The number with a leading `+` and digits only.
    public let e164: String

    /// Wraps a string that is already E.164; returns nil for anything else.
    public init?(e164 candidate: String) {
        let utf8 = candidate.utf8
        guard utf8.first == UInt8(ascii: "+") else { return nil }
        let digits = utf8.dropFirst()
        guard (7...15).contains(digits.count), digits.allSatisfy({ (0x30...0x39).contains($0) }),
              digits.first != UInt8(ascii: "0") else {
            return nil
        }
        self.e164 = candidate
    }

    public var description: String { e164 }

    public static func < (lhs: PhoneNumber, rhs: PhoneNumber) -> Bool { lhs.e164 < rhs.e164 }
}

/// How a country writes its numbers nationally: what turns `8 (900) 000-11-22` into `+79000001122`.
public struct NumberingPlan: Sendable, Equatable {
    /// ISO 3166 alpha-2 code this plan belongs to (`RU`).
    public let country: String
    /// Country calling code without `+` (`7`).
    public let callingCode: String
    /// Digits dialled before a national number (`8` in Russia).
    public let trunkPrefix: String
    /// Digits dialled before an international number from inside the country (`810` in Russia).
    public let internationalPrefixes: [String]
    /// Length of a national significant number (10 in Russia).
    public let nationalNumberLength: Int

    /// The plans the gateway knows, keyed by ISO country code.
    public static let known: [String: NumberingPlan] = [
        "RU": NumberingPlan(country: "RU", callingCode: "7", trunkPrefix: "8", internationalPrefixes: ["810", "00"], nationalNumberLength: 10),
        "KZ": NumberingPlan(country: "KZ", callingCode: "7", trunkPrefix: "8", internationalPrefixes: ["810", "00"], nationalNumberLength: 10),
        "BY": NumberingPlan(country: "BY", callingCode: "375", trunkPrefix: "80", internationalPrefixes: ["810", "00"], nationalNumberLength: 9),
    ]

    /// The plan for an ISO country code (case-insensitive), or nil when the gateway does not know it.
    public static func forCountry(_ code: String) -> NumberingPlan? { known[code.uppercased()] }

    /// Normalises a number typed by a person or sent by a PBX to E.164.
    ///
    /// Accepts `+7 (900) 000-11-22`, `8 900 000 11 22`, `89000001122`, `9000001122`, `79000001122`,
    /// `810…` international dialling; spaces (any Unicode space, such as a no-break space), dashes (`-`, `–`,
    /// `—`, `‑`), dots and brackets are ignored.
    /// Returns nil for anything that is not a dialable number in this plan (extensions, `anonymous`).
    public func normalise(_ raw: String) -> PhoneNumber? {
        guard let (bytes, hasPlus) = Self.dialled(raw) else { return nil }
        let digits = String(decoding: bytes, as: UTF8.self)
        if hasPlus { return PhoneNumber(e164: "+" + digits) }
        let count = bytes.count
        let trunkCount = trunkPrefix.utf8.count
        // Longer than any national form (trunk prefix + national number), so `810…` is never a trunk-dialled
        // national number; short foreign numbers (`810 354 512 3456`, Iceland) still qualify.
        if count > trunkCount + nationalNumberLength {
            for prefix in internationalPrefixes where digits.hasPrefix(prefix) {
                return PhoneNumber(e164: "+" + digits.dropFirst(prefix.utf8.count))
            }
        }
        if count == nationalNumberLength {
            return PhoneNumber(e164: "+" + callingCode + digits)
        }
        if count == trunkCount + nationalNumberLength, digits.hasPrefix(trunkPrefix) {
            return PhoneNumber(e164: "+" + callingCode + digits.dropFirst(trunkCount))
        }
        if count == callingCode.utf8.count + nationalNumberLength, digits.hasPrefix(callingCode) {
            return PhoneNumber(e164: "+" + digits)
        }
        return nil
    }

    /// The digits of `raw` and whether a `+` leads them, or nil when it holds anything but digits, a leading
    /// `+` and separators. ASCII text (nearly every number) is read byte by byte, anything else scalar by
    /// scalar; never by Character (grapheme breaking was the slow part of a directory sync).
    private static func dialled(_ raw: String) -> (digits: [UInt8], hasPlus: Bool)? {
        let isASCII = raw.utf8.withContiguousStorageIfAvailable { $0.allSatisfy { $0 < 0x80 } } ?? false
        if isASCII, let digits = raw.utf8.withContiguousStorageIfAvailable({ dialled($0, as: Unicode.Scalar.init) }) {
            return digits
        }
        return dialled(raw.unicodeScalars) { $0 }
    }

    /// `dialled(_:)` over `units`, each read as the scalar `scalar` gives.
    private static func dialled<Units: BidirectionalCollection>(
        _ units: Units, as scalar: (Units.Element) -> Unicode.Scalar
    ) -> (digits: [UInt8], hasPlus: Bool)? {
        guard let first = units.firstIndex(where: { !scalar($0).isWhitespace }),
              let last = units.lastIndex(where: { !scalar($0).isWhitespace }) else { return nil }
        var digits: [UInt8] = []
        digits.reserveCapacity(16)
        var hasPlus = false
        var index = first
        while index <= last {
            let character = scalar(units[index])
            if ("0"..."9").contains(character) {
                digits.append(UInt8(character.value))
            } else if character == "+", index == first {
                hasPlus = true
            } else if !character.isPhoneSeparator {
                return nil
            }
            index = units.index(after: index)
        }
        return (digits, hasPlus)
    }
}

extension Unicode.Scalar {
    /// What people put between the digits of a phone number: tabs and Unicode spaces (not line breaks),
    /// hyphens and dashes (`-`, `‐`, `‑`, `‒`, `–`, `—`, `−`), dots and brackets.
    var isPhoneSeparator: Bool {
        switch self {
        case "-", "\u{2010}", "\u{2011}", "\u{2012}", "\u{2013}", "\u{2014}", "\u{2212}", "(", ")", ".": true
        case " ", "\t": true
        case "\n", "\r", "\u{0B}", "\u{0C}", "\u{85}", "\u{2028}", "\u{2029}": false
        default: isWhitespace
        }
    }

    /// Unicode's White_Space property, answered without the property tables for ASCII (the tables
    /// were the bulk of normalising a number).
    var isWhitespace: Bool {
        isASCII ? value == 0x20 || (0x09...0x0D).contains(value) : properties.isWhitespace
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

extension String {
    func trimmingWhitespace() -> Substring {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map { index(after: $0) } ?? start
        return self[start..<max(start, end)]
    }
}
