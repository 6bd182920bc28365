import Foundation
import MetrikaDomain

/// The JSON form of every view: pretty-printed with sorted (hence stable) snake_case keys, instants as
/// RFC 3339 with milliseconds in the company's zone.
public enum ReportJSON {
    /// An encoder writing instants in `zone`.
    public static func encoder(zone: TimeZone) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { instant, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC3339.format(instant, in: zone))
        }
        encoder.userInfo[.timeZone] = zone
        return encoder
    }

    /// A decoder reading what `encoder(zone:)` wrote (any RFC 3339 offset).
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let instant = RFC3339.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not an RFC 3339 timestamp")
            }
            return instant
        }
        return decoder
    }

    /// `value` as JSON text ending with a newline.
    public static func text<View: Encodable>(_ value: View, zone: TimeZone) throws -> String {
        String(decoding: try encoder(zone: zone).encode(value), as: UTF8.self) + "\n"
    }
}
