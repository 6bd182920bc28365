import Foundation
import MetrikaDomain
import MetrikaTestSupport
import Testing

/// Asterisk (cdr_amqp, cel_amqp) and FreeSWITCH (mod_amqp) events, published exactly as those modules
/// publish them, give the same tickets and callbacks as the canonical `call.*` events.
@Suite(.serialized)
struct PBXFeedTests {
    static func cdr(linkedID: String, uniqueID: String? = nil, src: String, dst: String = "79000000001", context: String = "from-trunk",
                    channel: String = "PJSIP/trunk-rt-00000012", dstChannel: String, disposition: String,
                    start: String = "2024-03-05T10:15:02.118+0300", answer: String = "1970-01-01T03:00:00.000+0300",
                    end: String = "2024-03-05T10:15:22.140+0300", lastApp: String = "Dial") -> Data {
        let unique = uniqueID.map { #", "uniqueid": "\#($0)""# } ?? ""
        return Data("""
            {"clid": "\\"\\" <\(src)>", "src": "\(src)", "dst": "\(dst)", "dcontext": "\(context)", "channel": "\(channel)",
             "dstchannel": "\(dstChannel)", "lastapp": "\(lastApp)", "lastdata": "", "start": "\(start)", "answer": "\(answer)",
             "end": "\(end)", "durationsec": 20, "billsec": 0, "disposition": "\(disposition)", "accountcode": "",
             "amaflags": "DOCUMENTATION", "peeraccount": "", "linkedid": "\(linkedID)"\(unique)}
            """.utf8)
    }

    static func linkedIDEnd(_ linkedID: String) -> Data {
        Data("""
            {"event_name": "LINKEDID_END", "account_code": "", "caller_id": {"num": "", "name": "", "ani": "", "rdnis": "", "dnid": ""},
             "extension": "", "context": "from-trunk", "channel": "PJSIP/trunk-rt-00000012", "application": "", "app_data": "",
             "event_time": "2024-03-05T10:15:29.503+0300", "amaflags": "DOCUMENTATION", "unique_id": "\(linkedID)",
             "linked_id": "\(linkedID)", "user_field": "", "peer": "", "peer_acount": "", "extra": null}
            """.utf8)
    }

    /// A FreeSWITCH CHANNEL_HANGUP_COMPLETE of an inbound A-leg; `Hangup-Cause` repeated as mod_amqp does.
    static func hangup(uuid: String, caller: String, cause: String, bridged: Bool, billsec: Int, context: String = "public",
                       destination: String = "79000000001", direction: String = "inbound", agent: String? = nil, sequence: Int = 52100,
                       answeredAt: Int = 1_709_626_206, hungUpAt: Int = 1_709_626_360) -> Data {
        let agentField = agent.map { #""variable_cc_agent": "\#($0)@default", "# } ?? ""
        return Data("""
            {"Event-Name": "CHANNEL_HANGUP_COMPLETE", "Core-UUID": "0f0e0d0c-0000-4000-8000-00000000c0de",
             "FreeSWITCH-Hostname": "fs01.example.net", "Event-Date-Timestamp": "1709626360010400", "Event-Sequence": "\(sequence)",
             "Hangup-Cause": "\(cause)", "Unique-ID": "\(uuid)", "Call-Direction": "\(direction)", "Hangup-Cause": "\(cause)",
             "Caller-Caller-ID-Number": "\(caller)", "Caller-Destination-Number": "\(destination)", "Caller-Context": "\(context)",
             "Caller-Channel-Answered-Time": "\(bridged ? "\(answeredAt)400000" : "0")", "Caller-Channel-Hangup-Time": "\(hungUpAt)000000",
             "Caller-Channel-Bridged-Time": "\(bridged ? "\(answeredAt)410000" : "0")", \(agentField)
             "variable_bridge_epoch": "\(bridged ? "\(answeredAt)" : "0")", "variable_billsec": "\(billsec)"}
            """.utf8)
    }

    static func queueAbandon(uuid: String, caller: String) -> Data {
        Data("""
            {"Event-Name": "CUSTOM", "Event-Subclass": "callcenter::info", "Event-Sequence": "51999", "Unique-ID": "\(uuid)",
             "Event-Date-Timestamp": "1709625794700100", "CC-Action": "member-queue-end", "CC-Cause": "Cancel",
             "CC-Member-Session-UUID": "\(uuid)", "CC-Member-CID-Number": "\(caller)", "CC-Member-Leaving-Time": "1709625794"}
            """.utf8)
    }

    func publishCDR(_ gateway: TestGateway, _ body: Data) throws {
        try gateway.publishRaw(body, exchange: "", routingKey: gateway.names.asteriskCDRQueue)
    }

    func publishFreeSwitch(_ gateway: TestGateway, _ body: Data, event: String = "CHANNEL_HANGUP_COMPLETE", uuid: String) throws {
        try gateway.publishRaw(body, exchange: gateway.names.freeswitchExchange,
                               routingKey: "FreeSWITCH.fs01%2Eexample%2Enet.\(event).\(event == "CUSTOM" ? "callcenter%3A%3Ainfo" : "").\(uuid)",
                               contentType: "text/json")
    }

    /// Tickets and callbacks of a finished scenario, reduced to what must be equal across feeds.
    func summary(_ gateway: TestGateway) throws -> [String] {
        try gateway.query("""
            SELECT t.kind || '|' || t.state || '|' || COALESCE(t.author, '-') || '|' || COALESCE(t.contact_phone, '-') || '|' ||
                   t.match || '|' || COALESCE(c.status, '-') || '|' || COALESCE(c.resolution, '-')
            FROM tickets t LEFT JOIN callbacks c ON c.ticket_id = t.ticket_id ORDER BY t.created_at_ms, t.kind
            """) { $0.text(0) ?? "" }
    }

    @Test func theSameMissedCallAndAnsweredCallBackGiveEquivalentResultsFromEveryFeed() throws {
        let canonical = try TestGateway()
        defer { canonical.shutdown() }
        try canonical.publishSubscriber(Fixtures.subscriber(rsID: 12, version: 1, phones: ["89000000012"]))
        try canonical.publishCall(Fixtures.callEnded(callID: "x1", number: "89000000012", outcome: "missed",
                                                     endedAt: "2024-03-05T10:15:22+03:00"))
        try canonical.publishCall(Fixtures.callAnswered(callID: "x2", number: "79000000012", operatorLogin: "op.petrova",
                                                        direction: "outbound", answeredAt: "2024-03-05T10:30:06+03:00"))
        _ = try canonical.nextEvent(ofType: "callback.resolved")
        let expected = try summary(canonical)
        // The call back takes over the missed call's draft: one callback ticket, the operator's to complete.
        #expect(expected == ["callback|draft|op.petrova|+79000000012|matched|resolved|answered_outbound"])

        let asterisk = try TestGateway { $0.asteriskCELGraceSeconds = 0; $0.pbx.operators = ["102": "op.petrova"] }
        defer { asterisk.shutdown() }
        try asterisk.publishSubscriber(Fixtures.subscriber(rsID: 12, version: 1, phones: ["89000000012"]))
        try publishCDR(asterisk, Self.cdr(linkedID: "1709622902.36", uniqueID: "1709622902.36", src: "89000000012",
                                          dstChannel: "PJSIP/101-00000013", disposition: "NO ANSWER"))
        try asterisk.publishRaw(Self.linkedIDEnd("1709622902.36"), exchange: "", routingKey: asterisk.names.asteriskCELQueue)
        _ = try asterisk.nextEvent(ofType: "callback.needed")
        try publishCDR(asterisk, Self.cdr(linkedID: "1709623800.40", uniqueID: "1709623800.40", src: "102", dst: "89000000012",
                                          context: "from-internal", channel: "PJSIP/102-00000040", dstChannel: "PJSIP/trunk-rt-00000041",
                                          disposition: "ANSWERED", start: "2024-03-05T10:30:00.000+0300",
                                          answer: "2024-03-05T10:30:06.000+0300", end: "2024-03-05T10:33:00.000+0300"))
        try asterisk.publishRaw(Self.linkedIDEnd("1709623800.40"), exchange: "", routingKey: asterisk.names.asteriskCELQueue)
        _ = try asterisk.nextEvent(ofType: "callback.resolved")
        #expect(try summary(asterisk) == expected)
        #expect(try asterisk.count("SELECT COUNT(*) FROM calls WHERE call_id = 'asterisk:1709622902.36' AND decision = 'missed'") == 1)

        let freeswitch = try TestGateway { $0.pbx.operators = ["102": "op.petrova"] }
        defer { freeswitch.shutdown() }
        try freeswitch.publishSubscriber(Fixtures.subscriber(rsID: 12, version: 1, phones: ["89000000012"]))
        let missedUUID = "a1b2c3d4-0000-4000-8000-000000000022"
        try publishFreeSwitch(freeswitch, Self.hangup(uuid: missedUUID, caller: "89000000012", cause: "ORIGINATOR_CANCEL", bridged: false, billsec: 0),
                              uuid: missedUUID)
        _ = try freeswitch.nextEvent(ofType: "callback.needed")
        let backUUID = "a1b2c3d4-0000-4000-8000-000000000099"
        try publishFreeSwitch(freeswitch, Self.hangup(uuid: backUUID, caller: "102", cause: "NORMAL_CLEARING", bridged: true, billsec: 174,
                                                      context: "default", destination: "89000000012", answeredAt: 1_709_626_500,
                                                      hungUpAt: 1_709_626_674), uuid: backUUID)
        _ = try freeswitch.nextEvent(ofType: "callback.resolved")
        #expect(try summary(freeswitch) == expected)
    }

    @Test func aRingGroupAnsweredByOneMemberGivesOneDraftAndNoCallback() throws {
        let gateway = try TestGateway { $0.asteriskQuietSeconds = 1; $0.pbx.operators = ["103": "op.ivanov"] }
        defer { gateway.shutdown() }
        let linked = "1709630000.10"
        try publishCDR(gateway, Self.cdr(linkedID: linked, uniqueID: "1709630000.11", src: "89000000031", dstChannel: "PJSIP/101-00000051",
                                         disposition: "NO ANSWER"))
        try publishCDR(gateway, Self.cdr(linkedID: linked, uniqueID: "1709630000.12", src: "89000000031", dstChannel: "PJSIP/102-00000052",
                                         disposition: "NO ANSWER"))
        try publishCDR(gateway, Self.cdr(linkedID: linked, uniqueID: "1709630000.13", src: "89000000031", dstChannel: "PJSIP/103-00000053",
                                         disposition: "ANSWERED", answer: "2024-03-05T10:15:09.000+0300"))
        let drafted = try gateway.nextEvent(ofType: "ticket.drafted", timeout: 15)
        let ticket = try #require(drafted["ticket"] as? [String: Any])
        #expect(ticket["author"] as? String == "op.ivanov")
        #expect(ticket["kind"] as? String == "call")
        #expect(try gateway.events(during: 1.5).isEmpty)
        #expect(try gateway.count("SELECT COUNT(*) FROM tickets") == 1)
        #expect(try gateway.count("SELECT COUNT(*) FROM callbacks") == 0)
        #expect(try gateway.count("SELECT COUNT(*) FROM pbx_pending_calls") == 0)
    }

    @Test func aCallerLegAnsweredByTheIVRWithNoAgentIsStillAMissedCall() throws {
        let gateway = try TestGateway { $0.asteriskQuietSeconds = 1 }
        defer { gateway.shutdown() }
        try publishCDR(gateway, Self.cdr(linkedID: "1709631000.1", uniqueID: "1709631000.1", src: "89000000032", dstChannel: "",
                                         disposition: "ANSWERED", answer: "2024-03-05T10:15:03.000+0300", lastApp: "Queue"))
        let needed = try gateway.nextEvent(ofType: "callback.needed", timeout: 15)
        #expect(needed["phone"] as? String == "+79000000032")
    }

    @Test func aCDRDeliveredTwiceHasOneEffectAndUnknownDispositionsReadAsNotAnswered() throws {
        let gateway = try TestGateway { $0.asteriskQuietSeconds = 1 }
        defer { gateway.shutdown() }
        let body = Self.cdr(linkedID: "1709632000.5", uniqueID: "1709632000.5", src: "89000000033", dstChannel: "PJSIP/101-1",
                            disposition: "SOMETHING NEW")
        try publishCDR(gateway, body)
        try publishCDR(gateway, body)
        let needed = try gateway.nextEvent(ofType: "callback.needed", timeout: 15)
        #expect(needed["missed_count"] as? Int == 1)
        #expect(try gateway.events(during: 2).filter { $0.type == "callback.needed" }.isEmpty)
        #expect(try gateway.count("SELECT COUNT(*) FROM inbox WHERE type = 'asterisk.cdr'") == 1)
        #expect(gateway.logs.contains { $0.contains("unknown PBX disposition") && $0.contains("SOMETHING NEW") })
    }

    @Test func theCDRsOfOneCallSplitAcrossARestartGiveOneDecision() throws {
        let gateway = try TestGateway { $0.asteriskQuietSeconds = 3 }
        defer { gateway.shutdown() }
        let linked = "1709633000.7"
        try publishCDR(gateway, Self.cdr(linkedID: linked, uniqueID: "1709633000.8", src: "89000000034", dstChannel: "PJSIP/101-1",
                                         disposition: "NO ANSWER"))
        #expect(try gateway.eventually { try gateway.count("SELECT COUNT(*) FROM pbx_pending_calls") == 1 })
        gateway.restart()
        try publishCDR(gateway, Self.cdr(linkedID: linked, uniqueID: "1709633000.9", src: "89000000034", dstChannel: "PJSIP/102-2",
                                         disposition: "ANSWERED", answer: "2024-03-05T10:15:09.000+0300"))
        let drafted = try gateway.nextEvent(ofType: "ticket.drafted", timeout: 15)
        #expect((drafted["ticket"] as? [String: Any])?["author"] as? String == "102")
        #expect(try gateway.events(during: 1).filter { $0.type == "callback.needed" }.isEmpty)
        #expect(try gateway.count("SELECT COUNT(*) FROM calls WHERE call_id = 'asterisk:\(linked)'") == 1)
        #expect(try gateway.count("SELECT COUNT(*) FROM callbacks") == 0)
    }

    /// The quiet period counts while the gateway consumes: an outage longer than it does not decide the
    /// call on the legs read before the outage.
    @Test func aCallWhoseLastCDRQueuedDuringAnOutageLongerThanTheQuietPeriodIsDecidedWithIt() throws {
        let gateway = try TestGateway { $0.asteriskQuietSeconds = 2 }
        defer { gateway.shutdown() }
        let linked = "1709633500.1"
        try publishCDR(gateway, Self.cdr(linkedID: linked, uniqueID: "1709633500.2", src: "89000000035", dstChannel: "PJSIP/101-1",
                                         disposition: "NO ANSWER"))
        #expect(try gateway.eventually { try gateway.count("SELECT COUNT(*) FROM pbx_pending_calls") == 1 })
        try gateway.restart {
            try publishCDR(gateway, Self.cdr(linkedID: linked, uniqueID: "1709633500.3", src: "89000000035", dstChannel: "PJSIP/102-2",
                                             disposition: "ANSWERED", answer: "2024-03-05T10:15:09.000+0300"))
            Thread.sleep(forTimeInterval: 3.5)
        }
        let drafted = try gateway.nextEvent(ofType: "ticket.drafted", timeout: 15)
        #expect((drafted["ticket"] as? [String: Any])?["author"] as? String == "102")
        #expect(try gateway.query("SELECT decision FROM calls WHERE call_id = 'asterisk:\(linked)'") { $0.text(0) ?? "" } == ["answered"])
        #expect(try gateway.count("SELECT COUNT(*) FROM callbacks") == 0)
    }

    @Test func freeSwitchQueueAbandonAndCallerHangUpWhileRingingOpenCallbacksAndBLegsAreIgnored() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        let abandoned = "a1b2c3d4-0000-4000-8000-000000000025"
        try publishFreeSwitch(gateway, Self.queueAbandon(uuid: abandoned, caller: "89000000025"), event: "CUSTOM", uuid: abandoned)
        // The same call's A-leg hang-up arrives too: still one decision.
        try publishFreeSwitch(gateway, Self.hangup(uuid: abandoned, caller: "89000000025", cause: "ORIGINATOR_CANCEL", bridged: false, billsec: 0),
                              uuid: abandoned)
        let first = try gateway.nextEvent(ofType: "callback.needed")
        #expect(first["phone"] as? String == "+79000000025")
        let bLeg = "b1b2c3d4-0000-4000-8000-000000000202"
        try publishFreeSwitch(gateway, Self.hangup(uuid: bLeg, caller: "89000000026", cause: "LOSE_RACE", bridged: false, billsec: 0,
                                                   direction: "outbound"), uuid: bLeg)
        let anonymous = "a1b2c3d4-0000-4000-8000-000000000027"
        try publishFreeSwitch(gateway, Self.hangup(uuid: anonymous, caller: "anonymous", cause: "NO_ANSWER", bridged: false, billsec: 0),
                              uuid: anonymous)
        let drafted = try gateway.nextEvent(ofType: "ticket.drafted")
        let ticket = try #require(drafted["ticket"] as? [String: Any])
        // The anonymous call: a ticket flagged "no callback number", no callback.
        let noNumber = ticket["call_id"] as? String == "freeswitch:\(anonymous)" ? ticket
            : try #require((try gateway.events(during: 1.5) + [drafted]).compactMap { $0["ticket"] as? [String: Any] }
                .first { $0["call_id"] as? String == "freeswitch:\(anonymous)" })
        #expect(noNumber["no_callback_number"] as? Bool == true)
        #expect(try gateway.count("SELECT COUNT(*) FROM callbacks") == 1)
        #expect(try gateway.count("SELECT COUNT(*) FROM calls WHERE call_id LIKE 'freeswitch:b1b2%'") == 0)
    }
}
