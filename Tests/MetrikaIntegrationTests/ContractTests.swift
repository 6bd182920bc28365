import ContractSupport
import Foundation
import MetrikaAMQP
import MetrikaTestSupport
import Testing

/// What the gateway really emits validates against the JSON Schemas in `contracts/`.
@Suite(.serialized)
struct ContractTests {
    static func validate(_ documents: [Data], arguments: [String] = ["--by-type"]) throws -> (Int32, String) {
        try ContractValidator.validate(documents, arguments: arguments)
    }

    @Test func everyEventTheGatewayEmitsValidatesAgainstItsSchema() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        let replyQueue = try gateway.declareReplyQueue()
        try gateway.publishSubscriber(Fixtures.subscriber(rsID: 1, version: 1, phones: ["89000000001"]))
        try gateway.publishSubscriber(Fixtures.subscriber(rsID: 2, version: 1, phones: ["89000000002"]))
        try gateway.publishSubscriber(Fixtures.subscriber(rsID: 3, version: 1, phones: ["89000000002"]))
        try gateway.publishCall(Fixtures.callAnswered(callID: "a", number: "89000000009", operatorLogin: "op.a"))
        try gateway.publishCall(Fixtures.callEnded(callID: "b", number: "89000000001", outcome: "missed"))
        try gateway.publishCall(Fixtures.callEnded(callID: "c", number: "89000000002", outcome: "abandoned"))
        try gateway.publishCall(Fixtures.callEnded(callID: "d", number: "89000000001", outcome: "busy"))
        try gateway.publishSubscriber(Fixtures.subscriber(rsID: 9, version: 1, phones: ["89000000009"]))
        try gateway.publishCommand(Fixtures.create(["reasons": ["нечто неизвестное"], "save": true]))
        try gateway.publishCommand(Fixtures.create(["rs_id": 1, "contact_phones": ["89000000001"], "reasons": ["перезвонить"],
                                                    "comment": "Вопрос по счёту", "save": true]), replyTo: replyQueue, correlationID: "x")
        try gateway.publishCommand(Fixtures.create(["contact_phones": ["89000000002"], "reasons": ["нет инета"]]))
        try gateway.publishCall(Fixtures.callEnded(callID: "e", number: "89000000002", outcome: "busy", direction: "outbound", operatorLogin: "op.b"))
        let needed = try gateway.nextEvent(ofType: "callback.needed")
        try gateway.publishCommand(Fixtures.save(ticketID: needed["ticket_id"] as! String, ["reasons": ["оплата"], "callback": "done"]))
        try gateway.publishCommand(Fixtures.edit(ticketID: needed["ticket_id"] as! String, via: "callback_list",
                                                 changes: ["comment": "Оплата найдена", "source": "пропущенный"]))
        var events = try gateway.events(during: 3) + gateway.skipped + [needed]
        events.sort { ($0.type ?? "") < ($1.type ?? "") }
        let types = Set(events.compactMap(\.type))
        #expect(types == ["ticket.drafted", "ticket.autofilled", "ticket.saved", "ticket.edited", "callback.needed", "callback.resolved",
                          "callback.attempted", "callback.overdue", "command.rejected"])
        let (status, output) = try Self.validate(events.map(\.body))
        #expect(status == 0, "\(output)")
        for event in events {
            #expect(event.messageID == event["event_id"] as? String)
        }
        let replies = try gateway.drain(queue: replyQueue)
        #expect(replies.count == 1)
        #expect(replies.first?.correlationID == "x")
        let (replyStatus, replyOutput) = try Self.validate(replies.map(\.body), arguments: ["command.reply"])
        #expect(replyStatus == 0, "\(replyOutput)")
    }

    @Test func theContractExamplesAndTheAsyncAPIDocumentValidate() throws {
        let (status, output) = try Self.validate([], arguments: ["--all"])
        #expect(status == 0, "\(output)")
    }

    /// The PBX payloads the domain tests parse (Tests/MetrikaDomainTests/Samples) fit the PBX schemas.
    @Test func theTelephonySamplesValidateAgainstThePBXSchemas() throws {
        let samples = ContractValidator.repositoryRoot.appendingPathComponent("Tests/MetrikaDomainTests/Samples")
        let schemaByPrefix = ["asterisk-cdr-": "asterisk.cdr", "asterisk-cel-": "asterisk.cel", "freeswitch-": "freeswitch.event"]
        var documents: [String: [Data]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: samples.path).sorted() where name.hasSuffix(".json") {
            let schema = try #require(schemaByPrefix.first { name.hasPrefix($0.key) }?.value, "no PBX schema for sample \(name)")
            // One document per line: raw line breaks can only sit between JSON tokens.
            let bytes = try Data(contentsOf: samples.appendingPathComponent(name)).map { $0 == 0x0A || $0 == 0x0D ? 0x20 : $0 }
            documents[schema, default: []].append(Data(bytes))
        }
        #expect(Set(documents.keys) == Set(schemaByPrefix.values))
        for (schema, bodies) in documents {
            let (status, output) = try Self.validate(bodies, arguments: [schema])
            #expect(status == 0, "\(schema): \(output)")
        }
    }

    @Test func theValidatorRejectsABodyThatBreaksTheSchema() throws {
        let broken = Data(#"{"event_id":"x","type":"callback.needed","occurred_at":"yesterday","schema_version":1}"#.utf8)
        let (status, output) = try Self.validate([broken])
        #expect(status == 1)
        #expect(output.contains("line 1"))
    }
}
