/// A JSON tree read by a small byte-level parser, used for every inbound body: the canonical messages of
/// CONTRACTS.md and the PBX payloads. It keeps what Foundation hides: repeated keys (FreeSWITCH sends
/// `Hangup-Cause` twice) and numbers exactly as written (`1709622902.36` is an id, not a float).
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
        var parser = Parser(bytes: bytes, maxDepth: maxDepth)
        guard let value = parser.value(depth: 0) else { return nil }
        parser.skipWhitespace()
        return parser.index == bytes.count ? value : nil
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

    private struct Parser {
        let bytes: UnsafeRawBufferPointer
        let maxDepth: Int
        var index = 0

        init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
            self.bytes = bytes
            self.maxDepth = maxDepth
        }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) -> ParsedJSON? {
            guard depth < maxDepth else { return nil }
            skipWhitespace()
            guard index < bytes.count else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "{"): return object(depth: depth)
            case UInt8(ascii: "["): return array(depth: depth)
            case UInt8(ascii: "\""): return string().map(ParsedJSON.string)
            case UInt8(ascii: "t"): return literal("true", .bool(true))
            case UInt8(ascii: "f"): return literal("false", .bool(false))
            case UInt8(ascii: "n"): return literal("null", .null)
            default: return number()
            }
        }

        mutating func literal(_ word: StaticString, _ value: ParsedJSON) -> ParsedJSON? {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { return nil }
            for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return nil }
            index += count
            return value
        }

        mutating func number() -> ParsedJSON? {
            let start = index
            while index < bytes.count, isNumberByte(bytes[index]) { index += 1 }
            guard index > start else { return nil }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            guard Double(text) != nil else { return nil }
            return .number(text)
        }

        private func isNumberByte(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "e"), UInt8(ascii: "E"): true
            default: false
            }
        }

        mutating func object(depth: Int) -> ParsedJSON? {
            index += 1
            var fields: [(String, ParsedJSON)] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(fields)
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\""), let key = string() else { return nil }
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
                index += 1
                guard let item = value(depth: depth + 1) else { return nil }
                fields.append((key, item))
                skipWhitespace()
                guard index < bytes.count else { return nil }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(fields) }
                return nil
            }
        }

        mutating func array(depth: Int) -> ParsedJSON? {
            index += 1
            var items: [ParsedJSON] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(items)
            }
            while true {
                guard let item = value(depth: depth + 1) else { return nil }
                items.append(item)
                skipWhitespace()
                guard index < bytes.count else { return nil }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
                return nil
            }
        }

        /// `utf8` as a String; nil when it is not valid UTF-8. `String(decoding:)` takes the standard
        /// library's contiguous fast path but repairs invalid input with U+FFFD, so a non-ASCII result is
        /// accepted only when it is byte for byte the input (a repaired string never is).
        static func text(_ utf8: UnsafeRawBufferPointer, asciiOnly: Bool) -> String? {
            let text = String(decoding: utf8, as: UTF8.self)
            if asciiOnly { return text }
            return text.utf8.elementsEqual(utf8) ? text : nil
        }

        /// A string literal; nil on bad escapes, raw control characters or invalid UTF-8.
        mutating func string() -> String? {
            index += 1
            // Fast path: most strings have no escapes and are validated and copied in one step.
            var end = index
            var asciiOnly = true
            while end < bytes.count {
                let byte = bytes[end]
                if byte == UInt8(ascii: "\"") {
                    guard let text = Self.text(UnsafeRawBufferPointer(rebasing: bytes[index..<end]), asciiOnly: asciiOnly) else {
                        return nil
                    }
                    index = end + 1
                    return text
                }
                if byte < 0x20 { return nil }
                if byte == UInt8(ascii: "\\") { break }
                if byte >= 0x80 { asciiOnly = false }
                end += 1
            }
            var scalars = String.UnicodeScalarView()
            var chunkStart = index
            func flush(_ end: Int) -> Bool {
                guard end > chunkStart else { return true }
                guard let text = Self.text(UnsafeRawBufferPointer(rebasing: bytes[chunkStart..<end]), asciiOnly: false) else { return false }
                scalars.append(contentsOf: text.unicodeScalars)
                return true
            }
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    guard flush(index) else { return nil }
                    index += 1
                    return String(scalars)
                }
                if byte < 0x20 { return nil }
                if byte == UInt8(ascii: "\\") {
                    guard flush(index), index + 1 < bytes.count else { return nil }
                    let escape = bytes[index + 1]
                    index += 2
                    switch escape {
                    case UInt8(ascii: "\""): scalars.append("\"")
                    case UInt8(ascii: "\\"): scalars.append("\\")
                    case UInt8(ascii: "/"): scalars.append("/")
                    case UInt8(ascii: "b"): scalars.append("\u{08}")
                    case UInt8(ascii: "f"): scalars.append("\u{0C}")
                    case UInt8(ascii: "n"): scalars.append("\n")
                    case UInt8(ascii: "r"): scalars.append("\r")
                    case UInt8(ascii: "t"): scalars.append("\t")
                    case UInt8(ascii: "u"):
                        guard var code = hex4() else { return nil }
                        if (0xD800...0xDBFF).contains(code) {
                            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else { return nil }
                            index += 2
                            guard let low = hex4(), (0xDC00...0xDFFF).contains(low) else { return nil }
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let scalar = Unicode.Scalar(code) else { return nil }
                        scalars.append(scalar)
                    default: return nil
                    }
                    chunkStart = index
                    continue
                }
                index += 1
            }
            return nil
        }

        mutating func hex4() -> UInt32? {
            guard index + 4 <= bytes.count,
                  let value = UInt32(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[index..<index + 4]), as: UTF8.self), radix: 16) else {
                return nil
            }
            index += 4
            return value
        }
    }
}
