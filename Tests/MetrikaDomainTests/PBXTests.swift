import Foundation
import MetrikaDomain
import Testing

/// Reading PBX payloads exactly as Asterisk's cdr_amqp/cel_amqp and FreeSWITCH's mod_amqp publish them.
struct PBXTests {
    static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Samples")
    static let moscow = TimeZone(identifier: "Europe/Moscow")!

    static func sample(_ name: String) throws -> ParsedJSON {
        let bytes = try [UInt8](Data(contentsOf: samples.appendingPathComponent(name)))
        return try #require(ParsedJSON.parse(bytes))
    }

    @Test func repeatedKeysAreKeptAndTheFirstWins() throws {
        let json = try #require(ParsedJSON.parse(Array(#"{"Hangup-Cause": "NO_ANSWER", "x": 1, "Hangup-Cause": "NORMAL_CLEARING"}"#.utf8)))
        #expect(json.text("Hangup-Cause") == "NO_ANSWER")
        #expect(json.values("Hangup-Cause") == [.string("NO_ANSWER"), .string("NORMAL_CLEARING")])
    }

    @Test func idsThatLookLikeNumbersStayExactlyAsWritten() throws {
        let json = try #require(ParsedJSON.parse(Array(#"{"linkedid": 1709622902.360, "n": "1709622902.36"}"#.utf8)))
        #expect(json.text("linkedid") == "1709622902.360")
        #expect(json.text("n") == "1709622902.36")
    }

    @Test(arguments: ["", "{", "{\"a\":}", "[1,]", "{\"a\":\"\u{01}\"}", "{\"a\":1} x"])
    func malformedJSONIsRefused(_ text: String) {
        #expect(ParsedJSON.parse(Array(text.utf8)) == nil)
    }

    @Test func invalidUTF8IsRefused() {
        #expect(ParsedJSON.parse([0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D]) == nil)
    }

    /// `{"a":"<bytes>"}` and, with an escape after them, `{"a":"<bytes>\n"}` (the slow path).
    static func bodies(around bytes: [UInt8]) -> [[UInt8]] {
        let head = Array(#"{"a":""#.utf8)
        return [head + bytes + Array(#""}"#.utf8), head + bytes + Array(#"\n"}"#.utf8)]
    }

    // A truncated 4-byte sequence (one U+FFFD for three bytes, so as long as the input), a lone
    // surrogate, an overlong slash, a stray continuation byte, a truncated Cyrillic letter.
    @Test(arguments: [[0xF0, 0x90, 0x80, 0x41], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0x41, 0x80], [0xD0]] as [[UInt8]])
    func invalidUTF8InsideAStringIsRefused(_ bytes: [UInt8]) {
        for body in Self.bodies(around: bytes) {
            #expect(ParsedJSON.parse(body) == nil)
        }
    }

    @Test(arguments: ["Иванова Анна Сергеевна", "ул. Ленина, д. 5 — кв. 12", "ёлка 🎄", "plain"])
    func validUTF8InsideAStringIsKeptExactly(_ text: String) throws {
        let plain = try #require(ParsedJSON.parse(Self.bodies(around: Array(text.utf8))[0]))
        #expect(plain.text("a") == text)
        let escaped = try #require(ParsedJSON.parse(Self.bodies(around: Array(text.utf8))[1]))
        #expect(escaped.text("a") == text + "\n")
    }

    @Test func pbxTimesWithAndWithoutColonOrZoneAndTheEpochZeroAnswer() {
        #expect(PBXTime.parse("2024-03-05T10:15:02.118+0300", zone: Self.moscow) == RFC3339.parse("2024-03-05T07:15:02.118Z"))
        #expect(PBXTime.parse("2024-03-05T10:15:02+03:00", zone: .gmt) == RFC3339.parse("2024-03-05T07:15:02Z"))
        #expect(PBXTime.parse("2024-03-05 11:10:06", zone: Self.moscow) == RFC3339.parse("2024-03-05T08:10:06Z"))
        #expect(PBXTime.parse("1970-01-01T03:00:00.000+0300", zone: Self.moscow) == nil)
        #expect(PBXTime.epoch("1709626206400000") == Date(timeIntervalSince1970: 1_709_626_206.4))
        #expect(PBXTime.epoch("1709626206") == Date(timeIntervalSince1970: 1_709_626_206))
        #expect(PBXTime.epoch("0") == nil)
    }

    @Test func anAnsweredCDRToAnExtensionIsAnAnsweredInboundCall() throws {
        let leg = try AsteriskLeg(try Self.sample("asterisk-cdr-answered.json"), zone: Self.moscow)
        #expect(leg.linkedID == "1709623211.52")
        #expect(AsteriskLeg.endpoint(of: leg.destinationChannel) == "102")
        var settings = PBXSettings()
        settings.operators = ["102": "op.petrova"]
        #expect(AsteriskCall.decide([leg], settings: settings)
            == .answered(direction: .inbound, operatorLogin: "op.petrova", number: "+79000000013", at: RFC3339.parse("2024-03-05T07:20:17.512Z")!))
    }

    @Test(arguments: ["asterisk-cdr-noanswer.json", "asterisk-cdr-busy.json", "asterisk-cdr-queue-agent-leg-noanswer.json"])
    func unansweredCDRsAreMissedCalls(_ name: String) throws {
        let leg = try AsteriskLeg(try Self.sample(name), zone: Self.moscow)
        #expect(leg.answer == nil)
        guard case let .missed(number, at) = AsteriskCall.decide([leg], settings: PBXSettings()) else {
            Issue.record("expected a missed call")
            return
        }
        #expect(number == leg.source)
        #expect(at == leg.end)
    }

    @Test func endpointsOfChannelNames() {
        #expect(AsteriskLeg.endpoint(of: "PJSIP/102-00000021") == "102")
        #expect(AsteriskLeg.endpoint(of: "Local/104@from-queue-00000a;1") == "104")
        #expect(AsteriskLeg.endpoint(of: "PJSIP/trunk-rt-00000020") == "trunk-rt")
        #expect(AsteriskLeg.endpoint(of: "") == "")
    }

    @Test func callsBetweenExtensionsDecideNothing() throws {
        let json = try #require(ParsedJSON.parse(Array("""
            {"src": "101", "dst": "102", "dcontext": "from-internal", "channel": "PJSIP/101-1", "dstchannel": "PJSIP/102-2",
             "disposition": "ANSWERED", "start": "2024-03-05T10:00:00+0300", "answer": "2024-03-05T10:00:02+0300",
             "end": "2024-03-05T10:01:00+0300", "linkedid": "1.1"}
            """.utf8)))
        #expect(AsteriskCall.decide([try AsteriskLeg(json, zone: Self.moscow)], settings: PBXSettings()) == .nothing)
    }

    @Test func aCDRWithoutLinkedidIsRefusedNamingTheField() throws {
        let json = try #require(ParsedJSON.parse(Array(#"{"channel": "PJSIP/x-1", "disposition": "ANSWERED", "end": "2024-03-05T10:00:00+0300"}"#.utf8)))
        #expect(throws: InboundError(.invalidMessage, "missing required field 'linkedid'")) {
            try AsteriskLeg(json, zone: Self.moscow)
        }
    }

    @Test func celLinkedIDEndEndsTheCall() throws {
        #expect(try AsteriskCELEvent(try Self.sample("asterisk-cel-linkedid-end.json")).endsCall)
        #expect(try !AsteriskCELEvent(try Self.sample("asterisk-cel-chan-start.json")).endsCall)
    }

    @Test func freeSwitchBridgedALegWithBillsecIsAnswered() throws {
        let event = try FreeSwitchEvent(try Self.sample("freeswitch-hangup-complete-answered.json"))
        #expect(event.callID == "freeswitch:a1b2c3d4-0000-4000-8000-000000000024")
        guard case let .answered(direction, _, number, at) = event.decision(settings: PBXSettings()) else {
            Issue.record("expected an answered call")
            return
        }
        #expect(direction == .inbound)
        #expect(number == "79000000024")
        #expect(at == Date(timeIntervalSince1970: 1_709_626_206.4))
    }

    /// The answered A-leg with extra fields, as FreeSWITCH adds them when the dialplan bridges to a user.
    static func answeredALeg(_ extra: [String: String]) throws -> FreeSwitchEvent {
        let url = samples.appendingPathComponent("freeswitch-hangup-complete-answered.json")
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        for (key, value) in extra { object[key] = value }
        return try FreeSwitchEvent(try #require(ParsedJSON.parse([UInt8](try JSONSerialization.data(withJSONObject: object)))))
    }

    @Test(arguments: [
        (["variable_last_app": "bridge", "variable_last_arg": "user/101@pbx.example.net"], "op.ivanov"),
        (["variable_last_arg": "{ignore_early_media=true}sofia/internal/102@10.0.0.5"], "102"),
        (["variable_last_arg": "[leg_timeout=20]user/101"], "op.ivanov"),
        (["Other-Leg-Destination-Number": "102", "variable_last_arg": "user/101,user/102"], "102"),
        (["variable_last_arg": "user/101,user/102"], nil),
        (["variable_last_arg": "user/101|user/102"], nil),
        (["variable_last_arg": "sofia/gateway/trunk/79001234567"], nil),
        ([:], nil),
    ] as [([String: String], String?)])
    func theAnsweringAgentOfAFreeSwitchCallComesFromTheALeg(_ extra: [String: String], _ author: String?) throws {
        var settings = PBXSettings()
        settings.operators = ["101": "op.ivanov"]
        guard case let .answered(_, operatorLogin, _, _) = try Self.answeredALeg(extra).decision(settings: settings) else {
            Issue.record("expected an answered call")
            return
        }
        #expect(operatorLogin == author)
    }

    @Test(arguments: ["freeswitch-hangup-complete-no-answer.json", "freeswitch-hangup-complete-originator-cancel.json"])
    func freeSwitchUnbridgedALegsAreMissed(_ name: String) throws {
        let event = try FreeSwitchEvent(try Self.sample(name))
        guard case .missed = event.decision(settings: PBXSettings()) else {
            Issue.record("expected a missed call")
            return
        }
        #expect(event.hasKnownCause)
    }

    @Test func freeSwitchQueueAbandonIsAMissedCallOfTheMembersSession() throws {
        let event = try FreeSwitchEvent(try Self.sample("freeswitch-callcenter-member-queue-end-cancel.json"))
        #expect(event.isQueueAbandon)
        #expect(event.callID == "freeswitch:a1b2c3d4-0000-4000-8000-000000000025")
        #expect(event.decision(settings: PBXSettings()) == .missed(number: "89000000025", at: Date(timeIntervalSince1970: 1_709_625_794)))
    }

    @Test func freeSwitchChannelCreateDecidesNothing() throws {
        #expect(try FreeSwitchEvent(try Self.sample("freeswitch-channel-create-inbound.json")).decision(settings: PBXSettings()) == nil)
    }

    @Test func deduplicationKeysComeFromTheContent() throws {
        let leg = try AsteriskLeg(try Self.sample("asterisk-cdr-noanswer.json"), zone: Self.moscow)
        #expect(leg.deduplicationKey == "asterisk-cdr:1709622902.36|1709622902.36|PJSIP/trunk-rt-00000012|PJSIP/101-00000013|1709622922140")
        let event = try FreeSwitchEvent(try Self.sample("freeswitch-hangup-complete-answered.json"))
        #expect(event.deduplicationKey == "freeswitch:a1b2c3d4-0000-4000-8000-000000000024|CHANNEL_HANGUP_COMPLETE||52100")
    }
}
