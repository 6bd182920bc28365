import Foundation

/// How the gateway reads a PBX's own events: which contexts face the public network, what an internal
/// extension looks like, the PBX's zone for times written without one, and who sits at which extension.
public struct PBXSettings: Sendable {
    /// Asterisk dialplan contexts where calls from subscribers arrive (`METRIKA_ASTERISK_INBOUND_CONTEXTS`).
    public var asteriskInboundContexts: Set<String> = ["from-trunk", "from-pstn", "from-external"]
    /// FreeSWITCH contexts where calls from subscribers arrive (`METRIKA_FREESWITCH_INBOUND_CONTEXTS`).
    public var freeswitchInboundContexts: Set<String> = ["public"]
    /// A number of at most this many digits is an internal extension (`METRIKA_PBX_EXTENSION_MAX_DIGITS`).
    public var extensionMaxDigits = 5
    /// Zone of PBX times written without an offset (`METRIKA_PBX_TZ`).
    public var zone: TimeZone = TimeZone(identifier: "Europe/Moscow")!
    /// Operator logins by extension (`METRIKA_PBX_OPERATORS=101=op.ivanov,102=op.petrova`); an extension
    /// without an entry is used as the login.
    public var operators: [String: String] = [:]

    public init() {}

    /// Whether `number` is an internal extension (digits only, at most `extensionMaxDigits`).
    public func isExtension(_ number: String) -> Bool {
        !number.isEmpty && number.count <= extensionMaxDigits && number.allSatisfy(\.isASCIIDigit)
    }

    /// The operator login for an extension.
    public func operatorLogin(extension number: String?) -> String? {
        guard let number, !number.isEmpty else { return nil }
        return operators[number] ?? number
    }
}

/// Times as PBXs write them.
public enum PBXTime {
    /// Parses `2024-03-05T10:15:02.118+0300` (offset without colon), RFC 3339, or a local time without
    /// zone (`2024-03-05 10:15:02`, read in `zone`). Times before 1980 (Asterisk's epoch-zero `answer`
    /// of an unanswered call) are nil.
    public static func parse(_ text: String, zone: TimeZone) -> Date? {
        var value = text.trimmingCharacters(in: .whitespaces)
        guard value.count >= 19 else { return nil }
        let bytes = Array(value.utf8)
        let hasZone: Bool
        if value.hasSuffix("Z") || value.hasSuffix("z") {
            hasZone = true
        } else if bytes.count >= 24, bytes[bytes.count - 5] == UInt8(ascii: "+") || bytes[bytes.count - 5] == UInt8(ascii: "-"),
                  bytes[(bytes.count - 4)...].allSatisfy({ (48...57).contains($0) }) {
            value.insert(":", at: value.index(value.endIndex, offsetBy: -2))
            hasZone = true
        } else {
            hasZone = bytes.count >= 25 && bytes[bytes.count - 3] == UInt8(ascii: ":")
                && (bytes[bytes.count - 6] == UInt8(ascii: "+") || bytes[bytes.count - 6] == UInt8(ascii: "-"))
        }
        let instant: Date?
        if hasZone {
            instant = RFC3339.parse(value)
        } else {
            guard let asUTC = RFC3339.parse(value + "Z") else { return nil }
            let offset = zone.secondsFromGMT(for: asUTC.addingTimeInterval(-Double(zone.secondsFromGMT(for: asUTC))))
            instant = asUTC.addingTimeInterval(-Double(offset))
        }
        guard let instant, instant.timeIntervalSince1970 >= 315_532_800 else { return nil }
        return instant
    }

    /// An epoch in seconds or microseconds as FreeSWITCH writes it (`"1709626206"`, `"1709626206400000"`);
    /// nil for `"0"`, empty or garbage.
    public static func epoch(_ text: String?) -> Date? {
        guard let text, let value = Double(text), value > 0 else { return nil }
        let seconds = value > 1e14 ? value / 1_000_000 : value
        guard seconds >= 315_532_800 else { return nil }
        return Date(timeIntervalSince1970: seconds)
    }
}
