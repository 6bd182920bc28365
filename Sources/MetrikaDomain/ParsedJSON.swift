/// A JSON tree built from a `JSONTape`, for the PBX payloads, whose fields are looked up by many names. It
/// keeps what Foundation hides: repeated keys (FreeSWITCH sends `Hangup-Cause` twice) and numbers exactly as
/// written (`1709622902.36` is an id, not a float).
///
/// Repeated keys: the **first** occurrence wins, deterministically (`value(_:)`); `values(_:)` returns all.
public indirect enum ParsedJSON: Sendable, Equatable {
    case object([(String, ParsedJSON)])
    case array([ParsedJSON])
    case string(String)
    /// A number as its literal text.
    case number(String)
    case bool(Bool)
    case null

    public static func == (lhs: ParsedJSON, rhs: ParsedJSON) -> Bool {
        switch (lhs, rhs) {
        case let (.object(a), .object(b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.array(a), .array(b)): a == b
        case let (.string(a), .string(b)), let (.number(a), .number(b)): a == b
        case let (.bool(a), .bool(b)): a == b
        case (.null, .null): true
        default: false
        }
    }

    /// Parses UTF-8 JSON; nil when it is not valid JSON or nests deeper than `maxDepth` levels.
    public static func parse(_ bytes: [UInt8], maxDepth: Int = 16) -> ParsedJSON? {
        bytes.withUnsafeBytes { parse($0, maxDepth: maxDepth) }
    }

    /// Parses UTF-8 JSON from raw bytes; nil when it is not valid JSON or nests deeper than `maxDepth` levels.
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 16) -> ParsedJSON? {
        guard let reader = JSONReader(bytes, maxDepth: maxDepth) else { return nil }
        return tree(reader, 0)
    }

    private static func tree(_ reader: JSONReader, _ node: Int) -> ParsedJSON {
        switch reader.kind(node) {
        case .object:
            var fields: [(String, ParsedJSON)] = []
            reader.forEachMember(of: node) { key, value in
                fields.append((reader.string(key), tree(reader, value)))
                return true
            }
            return .object(fields)
        case .array: return .array(reader.items(of: node).map { tree(reader, $0) })
        case .string: return .string(reader.string(node))
        case .number: return .number(reader.string(node))
        case .true: return .bool(true)
        case .false: return .bool(false)
        case .null: return .null
        }
    }

    /// The first value under `key` of an object.
    public func value(_ key: String) -> ParsedJSON? {
        guard case let .object(fields) = self else { return nil }
        return fields.first { $0.0 == key }?.1
    }

    /// Every value under `key` of an object, in order.
    public func values(_ key: String) -> [ParsedJSON] {
        guard case let .object(fields) = self else { return [] }
        return fields.filter { $0.0 == key }.map(\.1)
    }

    /// The text of a string or number field (numbers keep their literal form); nil for others.
    public func text(_ key: String) -> String? {
        switch value(key) {
        case let .string(text)?, let .number(text)?: text
        default: nil
        }
    }
}
