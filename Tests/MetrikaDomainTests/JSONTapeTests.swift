import Testing
@testable import MetrikaDomain

@Suite("The JSON reader accepts exactly JSON and reads values as they were written")
struct JSONTapeTests {
    func parse(_ text: String) -> ParsedJSON? {
        ParsedJSON.parse(Array(text.utf8))
    }

    @Test("Escapes are decoded: the short ones, \\u escapes and surrogate pairs", arguments: [
        (#""a\"b\\c\/d""#, "a\"b\\c/d"),
        (#""\b\f\n\r\t""#, "\u{08}\u{0C}\n\r\t"),
        (#""\u0041\u00e9\u0416""#, "AéЖ"),
        (#""\ud83c\udf84 ёлка""#, "🎄 ёлка"),
        (#""Иван\u043e\u0432""#, "Иванов"),
    ])
    func escapesAreDecoded(json: String, text: String) throws {
        #expect(try #require(parse(#"{"k":"# + json + "}")).text("k") == text)
    }

    @Test("Escapes that are not JSON or not a scalar are refused", arguments: [
        #""\x41""#, #""\u12""#, #""\u12G4""#, #""\ud83c""#, #""\ud83c\u0041""#, #""\udf84""#, #""abc\""#,
    ])
    func badEscapesAreRefused(json: String) {
        #expect(parse(#"{"k":"# + json + "}") == nil)
    }

    @Test("Numbers keep their literal text", arguments: ["0", "-0", "12", "-12.50", "1e5", "1E+05", "-0.5e-3", "9223372036854775808"])
    func numbersAreKept(literal: String) throws {
        #expect(try #require(parse(#"{"n":"# + literal + "}")).text("n") == literal)
    }

    @Test("Numbers outside JSON's grammar are refused", arguments: ["01", "+1", "1.", ".5", "-", "1e", "1e+", "0x10", "1.2.3", "NaN"])
    func badNumbersAreRefused(literal: String) {
        #expect(parse(#"{"n":"# + literal + "}") == nil)
    }

    @Test("Literals, arrays and nested objects keep their order and values")
    func structureIsKept() throws {
        let json = try #require(parse(#" { "b" : [true, false, null, {"x": []}], "a": {} } "#))
        #expect(json == .object([
            ("b", .array([.bool(true), .bool(false), .null, .object([("x", .array([]))])])),
            ("a", .object([])),
        ]))
    }

    @Test("Nesting is refused beyond the depth limit and accepted up to it")
    func depthLimit() {
        let deep = { (levels: Int) in Array((String(repeating: "[", count: levels) + String(repeating: "]", count: levels)).utf8) }
        #expect(ParsedJSON.parse(deep(4), maxDepth: 4) != nil)
        #expect(ParsedJSON.parse(deep(5), maxDepth: 4) == nil)
    }

    @Test("Truncated literals and a second value after the first are refused", arguments: ["tru", "nul", "[1] [2]", "{\"a\":1}}", "\"open"])
    func truncatedOrTrailingInput(text: String) {
        #expect(parse(text) == nil)
    }

    @Test("Keys are compared as decoded text, so an escaped key still matches")
    func escapedKeysMatch() throws {
        let bytes = Array(#"{"t\u0079pe": "x", "type": "y"}"#.utf8)
        let first = bytes.withUnsafeBytes { buffer -> String? in
            guard let reader = JSONReader(buffer, maxDepth: 4), let node = reader.member("type", of: 0) else { return nil }
            return reader.string(node)
        }
        #expect(first == "x")
    }

    @Test("Whole numbers are read without text when they fit, and left to the caller when they do not", arguments: [
        ("42", Int64(42)), ("-7", Int64(-7)), ("123456789012345678", Int64(123_456_789_012_345_678)),
        ("5.0", nil), ("1e2", nil), ("9223372036854775807", nil),
    ] as [(String, Int64?)])
    func plainIntegers(literal: String, value: Int64?) {
        let bytes = Array(("[" + literal + "]").utf8)
        let read = bytes.withUnsafeBytes { buffer in JSONReader(buffer, maxDepth: 4).flatMap { $0.plainInteger(1) } }
        #expect(read == value)
    }
}
