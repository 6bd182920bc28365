import Foundation
import MetrikaDomain
import MetrikaGateway
import MetrikaStore
import Testing

/// A batch is applied without a savepoint per message; a message that fails sends the whole batch round
/// again with savepoints, so that only that message's writes are undone (real SQLite file).
struct BatchIsolationTests {
    let disk: ProcessorOnDisk
    var store: GatewayStore { disk.store }
    var processor: MessageProcessor { disk.processor }

    init() throws {
        disk = try ProcessorOnDisk()
    }

    func envelope(_ object: [String: Any], exchange: String) throws -> InboundEnvelope {
        let body = try JSONSerialization.data(withJSONObject: object)
        let queue = exchange == "telephony" ? "metrika.telephony" : "metrika.commands"
        return InboundEnvelope(body: body, exchange: exchange, routingKey: object["type"] as? String ?? "", queue: queue)
    }

    /// Two missed calls around a command the rules refuse (an unknown reason).
    func batch() throws -> [InboundEnvelope] {
        [
            try envelope(Fixtures.callEnded(callID: "iso-1", number: "89001110001", outcome: "missed"), exchange: "telephony"),
            try envelope(Fixtures.create(["reasons": ["телепортация"], "save": true, "contact_phones": ["89001110003"]]),
                         exchange: "metrika.commands"),
            try envelope(Fixtures.callEnded(callID: "iso-2", number: "89001110002", outcome: "missed"), exchange: "telephony"),
        ]
    }

    @Test func withoutSavepointsAFailingMessageStopsTheBatchAndItsTransactionLeavesNothing() throws {
        processor.savepointPerMessage = false
        let messages = try batch()
        #expect(throws: MessageProcessor.BatchNeedsSavepoints.self) {
            _ = try self.store.transaction { try messages.map { try self.processor.process($0) } }
        }
        #expect(try disk.count("SELECT COUNT(*) FROM inbox") == 0)
        #expect(try disk.count("SELECT COUNT(*) FROM callbacks") == 0)
        #expect(try disk.count("SELECT COUNT(*) FROM outbox") == 0)
    }

    @Test func appliedAgainWithSavepointsEveryOtherMessageStandsAndTheCommandIsRefusedOnce() throws {
        let messages = try batch()
        processor.savepointPerMessage = false
        var outcomes: [ProcessingOutcome] = []
        do {
            outcomes = try store.transaction { try messages.map { try processor.process($0) } }
        } catch is MessageProcessor.BatchNeedsSavepoints {
            processor.savepointPerMessage = true
            outcomes = try store.transaction { try messages.map { try processor.process($0) } }
        }
        #expect(outcomes == [.applied, .rejected(.unknownCatalogEntry), .applied])
        #expect(try disk.count("SELECT COUNT(*) FROM inbox") == 3)
        #expect(try disk.count("SELECT COUNT(*) FROM callbacks WHERE status = 'open'") == 2)
        #expect(try disk.count("SELECT COUNT(*) FROM tickets") == 2)
        #expect(try disk.count("SELECT COUNT(*) FROM outbox WHERE routing_key = 'command.rejected'") == 1)
        #expect(try disk.count("SELECT COUNT(*) FROM outbox WHERE routing_key = 'callback.needed'") == 2)
    }

    @Test func aBatchWithoutFailuresIsAppliedInOnePassWithoutSavepoints() throws {
        processor.savepointPerMessage = false
        let messages = [
            try envelope(Fixtures.callEnded(callID: "iso-3", number: "89001110004", outcome: "missed"), exchange: "telephony"),
            try envelope(Fixtures.callEnded(callID: "iso-4", number: "89001110004", outcome: "busy"), exchange: "telephony"),
        ]
        let outcomes = try store.transaction { try messages.map { try processor.process($0) } }
        #expect(outcomes == [.applied, .applied])
        #expect(try disk.count("SELECT missed_count FROM callbacks WHERE phone = '+79001110004'") == 2)
    }
}
