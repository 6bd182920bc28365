import Foundation

/// A JSON text read in one pass into a flat list of nodes that point into its bytes: the one JSON parser of
/// the gateway. Nothing is copied while parsing; a string becomes a `String` only when a reader asks for it,
/// so the fields a decoder never looks at cost a scan and no allocation. (A tree of enum boxes, arrays and
/// strings per body was 18% of a call storm's instructions and a third of a directory sync's.)
///
/// The whole text is validated as it is read: JSON syntax, UTF-8 (no overlong forms, surrogates or code
/// points beyond U+10FFFF), escapes (paired surrogates only) and nesting depth. A tape that exists is valid.
struct JSONTape {
    enum Kind: UInt8 {
        case object, array, string, number, `true`, `false`, null
    }

    /// One value. Its children (an object's keys and values in turn, an array's items) follow it directly.
    struct Node {
        var kind: Kind
        /// A string with backslash escapes, which must be decoded to be read.
        var escaped = false
        /// Strings: the bytes between the quotes; numbers: the literal; otherwise unused.
        var start: Int32 = 0
        var end: Int32 = 0
        /// The index of the first node after this value and all of its children.
        var next: Int32 = 0
    }

    private(set) var nodes: [Node]

    /// Reads `bytes`; nil when they are not one valid UTF-8 JSON value (surrounding whitespace allowed) or
    /// nest deeper than `maxDepth` levels.
    init?(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        guard bytes.count < Int(Int32.max) else { return nil }
        var parser = Parser(bytes: bytes, maxDepth: maxDepth)
        guard parser.value(depth: 0) else { return nil }
        parser.skipWhitespace()
        guard parser.index == bytes.count else { return nil }
        nodes = parser.nodes
    }

    private struct Parser {
        let bytes: UnsafeRawBufferPointer
        let maxDepth: Int
        var index = 0
        var nodes: [Node] = []

        init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
            self.bytes = bytes
            self.maxDepth = maxDepth
            nodes.reserveCapacity(48)
        }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        /// Reads one value and appends its nodes; false on any error.
        mutating func value(depth: Int) -> Bool {
            guard depth < maxDepth else { return false }
            skipWhitespace()
            guard index < bytes.count else { return false }
            switch bytes[index] {
            case UInt8(ascii: "{"): return object(depth: depth)
            case UInt8(ascii: "["): return array(depth: depth)
            case UInt8(ascii: "\""): return string()
            case UInt8(ascii: "t"): return literal("true", .true)
            case UInt8(ascii: "f"): return literal("false", .false)
            case UInt8(ascii: "n"): return literal("null", .null)
            default: return number()
            }
        }

        mutating func literal(_ word: StaticString, _ kind: Kind) -> Bool {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { return false }
            for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
            nodes.append(Node(kind: kind, next: Int32(nodes.count + 1)))
            index += count
            return true
        }

        private func isDigit(_ at: Int) -> Bool {
            at < bytes.count && bytes[at] >= UInt8(ascii: "0") && bytes[at] <= UInt8(ascii: "9")
        }

        private mutating func digits() -> Bool {
            guard isDigit(index) else { return false }
            while isDigit(index) { index += 1 }
            return true
        }

        /// `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`, kept as its literal text.
        mutating func number() -> Bool {
            let start = index
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            if index < bytes.count, bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else if !digits() {
                return false
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard digits() else { return false }
            }
            if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard digits() else { return false }
            }
            nodes.append(Node(kind: .number, start: Int32(start), end: Int32(index), next: Int32(nodes.count + 1)))
            return true
        }

        mutating func object(depth: Int) -> Bool {
            let node = nodes.count
            nodes.append(Node(kind: .object))
            index += 1
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                nodes[node].next = Int32(nodes.count)
                return true
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\""), string() else { return false }
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return false }
                index += 1
                guard value(depth: depth + 1) else { return false }
                skipWhitespace()
                guard index < bytes.count else { return false }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                guard bytes[index] == UInt8(ascii: "}") else { return false }
                index += 1
                nodes[node].next = Int32(nodes.count)
                return true
            }
        }

        mutating func array(depth: Int) -> Bool {
            let node = nodes.count
            nodes.append(Node(kind: .array))
            index += 1
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                nodes[node].next = Int32(nodes.count)
                return true
            }
            while true {
                guard value(depth: depth + 1) else { return false }
                skipWhitespace()
                guard index < bytes.count else { return false }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                guard bytes[index] == UInt8(ascii: "]") else { return false }
                index += 1
                nodes[node].next = Int32(nodes.count)
                return true
            }
        }

        /// A string literal; false on bad escapes, raw control characters or invalid UTF-8.
        mutating func string() -> Bool {
            let start = index + 1
            var at = start
            var escaped = false
            while at < bytes.count {
                let byte = bytes[at]
                if byte == UInt8(ascii: "\"") {
                    nodes.append(Node(kind: .string, escaped: escaped, start: Int32(start), end: Int32(at),
                                      next: Int32(nodes.count + 1)))
                    index = at + 1
                    return true
                }
                if byte < 0x20 { return false }
                if byte < 0x80 {
                    if byte == UInt8(ascii: "\\") {
                        guard let length = JSONTape.escapeLength(bytes, at) else { return false }
                        escaped = true
                        at += length
                    } else {
                        at += 1
                    }
                    continue
                }
                guard let length = JSONTape.sequenceLength(bytes, at) else { return false }
                at += length
            }
            return false
        }
    }

    /// The length of the valid UTF-8 sequence whose lead byte (0x80 or above) is at `at`; nil when the
    /// sequence is truncated, overlong, a surrogate or beyond U+10FFFF.
    static func sequenceLength(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> Int? {
        func continuation(_ offset: Int) -> UInt8? {
            at + offset < bytes.count && bytes[at + offset] & 0xC0 == 0x80 ? bytes[at + offset] : nil
        }
        let lead = bytes[at]
        switch lead {
        case 0xC2...0xDF:
            return continuation(1) == nil ? nil : 2
        case 0xE0...0xEF:
            guard let second = continuation(1), continuation(2) != nil,
                  lead != 0xE0 || second >= 0xA0, lead != 0xED || second <= 0x9F else { return nil }
            return 3
        case 0xF0...0xF4:
            guard let second = continuation(1), continuation(2) != nil, continuation(3) != nil,
                  lead != 0xF0 || second >= 0x90, lead != 0xF4 || second <= 0x8F else { return nil }
            return 4
        default:
            return nil
        }
    }

    /// The length of the valid escape whose backslash is at `at` (a surrogate pair counts as one); nil when
    /// it is not one of JSON's escapes or a `\u` escape is not a scalar.
    static func escapeLength(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> Int? {
        guard at + 1 < bytes.count else { return nil }
        switch bytes[at + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return 2
        case UInt8(ascii: "u"):
            guard let (_, length) = unicodeEscape(bytes, at) else { return nil }
            return length
        default:
            return nil
        }
    }

    /// The scalar of the `\u` escape at `at` (a pair for characters beyond the BMP) and the bytes it spans.
    static func unicodeEscape(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> (Unicode.Scalar, Int)? {
        guard let high = hex4(bytes, at + 2) else { return nil }
        if (0xD800...0xDBFF).contains(high) {
            guard at + 7 < bytes.count, bytes[at + 6] == UInt8(ascii: "\\"), bytes[at + 7] == UInt8(ascii: "u"),
                  let low = hex4(bytes, at + 8), (0xDC00...0xDFFF).contains(low),
                  let scalar = Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)) else { return nil }
            return (scalar, 12)
        }
        guard let scalar = Unicode.Scalar(high) else { return nil }
        return (scalar, 6)
    }

    private static func hex4(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt32? {
        guard at + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for byte in bytes[at..<at + 4] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }
}

/// A parsed JSON text with its bytes, for reading values out of it. Values are addressed by node index
/// (0 is the root). Valid only while the buffer it was parsed from is.
struct JSONReader {
    let bytes: UnsafeRawBufferPointer
    let tape: JSONTape

    /// Parses `bytes`; nil when they are not valid JSON (see `JSONTape`).
    init?(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        guard let tape = JSONTape(bytes, maxDepth: maxDepth) else { return nil }
        self.bytes = bytes
        self.tape = tape
    }

    func kind(_ node: Int) -> JSONTape.Kind { tape.nodes[node].kind }

    /// The index after `node` and its children: its next sibling, when it has one.
    func after(_ node: Int) -> Int { Int(tape.nodes[node].next) }

    /// Calls `body` with each member's key node and value node, in order, until it returns false.
    func forEachMember(of object: Int, _ body: (_ key: Int, _ value: Int) -> Bool) {
        var key = object + 1
        let end = after(object)
        while key < end {
            guard body(key, key + 1) else { return }
            key = after(key + 1)
        }
    }

    /// The value node of the first member named `key`, or nil.
    func member(_ key: String, of object: Int) -> Int? {
        var found: Int?
        forEachMember(of: object) { keyNode, value in
            if keyEquals(keyNode, key) { found = value }
            return found == nil
        }
        return found
    }

    /// The item nodes of an array, in order.
    func items(of array: Int) -> [Int] {
        var items: [Int] = []
        var item = array + 1
        let end = after(array)
        while item < end {
            items.append(item)
            item = after(item)
        }
        return items
    }

    /// Whether the string `node` reads as `key`.
    func keyEquals(_ node: Int, _ key: String) -> Bool {
        let entry = tape.nodes[node]
        if entry.escaped { return string(node) == key }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[Int(entry.start)..<Int(entry.end)])
        var key = key
        return key.withUTF8 { utf8 in
            utf8.count == raw.count && (raw.isEmpty || memcmp(utf8.baseAddress!, raw.baseAddress!, raw.count) == 0)
        }
    }

    /// The raw bytes of a string's content (escapes undecoded) or of a number's literal.
    func rawBytes(_ node: Int) -> UnsafeRawBufferPointer {
        let entry = tape.nodes[node]
        return UnsafeRawBufferPointer(rebasing: bytes[Int(entry.start)..<Int(entry.end)])
    }

    /// The text of a string node with its escapes decoded, or a number node's literal.
    func string(_ node: Int) -> String {
        let entry = tape.nodes[node]
        let raw = rawBytes(node)
        guard entry.escaped else { return String(decoding: raw, as: UTF8.self) }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(raw.count)
        var at = 0
        while at < raw.count {
            let byte = raw[at]
            guard byte == UInt8(ascii: "\\") else {
                decoded.append(byte)
                at += 1
                continue
            }
            let unescaped: UInt8
            switch raw[at + 1] {
            case UInt8(ascii: "b"): unescaped = 0x08
            case UInt8(ascii: "f"): unescaped = 0x0C
            case UInt8(ascii: "n"): unescaped = 0x0A
            case UInt8(ascii: "r"): unescaped = 0x0D
            case UInt8(ascii: "t"): unescaped = 0x09
            case UInt8(ascii: "u"):
                // The tape validated every escape, so this one decodes.
                let (scalar, length) = JSONTape.unicodeEscape(raw, at)!
                decoded.append(contentsOf: UTF8.encode(scalar)!)
                at += length
                continue
            case let other: unescaped = other
            }
            decoded.append(unescaped)
            at += 2
        }
        return String(decoding: decoded, as: UTF8.self)
    }

    /// The whole number a number node writes exactly as decimal digits within 64 bits; nil otherwise
    /// (fractions, exponents and overflow are for the caller to judge from the literal).
    func plainInteger(_ node: Int) -> Int64? {
        let raw = rawBytes(node)
        var at = 0
        let negative = raw.first == UInt8(ascii: "-")
        if negative { at = 1 }
        guard at < raw.count, raw.count - at <= 18 else { return nil }
        var value: Int64 = 0
        while at < raw.count {
            let digit = raw[at] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            value = value * 10 + Int64(digit)
            at += 1
        }
        return negative ? -value : value
    }
}
