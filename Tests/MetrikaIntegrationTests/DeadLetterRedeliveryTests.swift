import Foundation
import MetrikaDomain
import MetrikaGateway
import MetrikaStore
import Testing

/// Bad input redelivered after a stop between commit and acknowledgement is dead-lettered once.
final class DeadLetterRedeliveryTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("metrika-dl-\(UUID().uuidString)")
    let store: GatewayStore
    let processor: MessageProcessor

    init() throws {
        store = try GatewayStore(path: directory.appendingPathComponent("db.sqlite").path)
        let configuration = GatewayConfiguration()
        let desk = TicketDesk(catalog: try CatalogLoader.load(path: nil), plan: configuration.numberingPlan, zone: configuration.timeZone)
        processor = MessageProcessor(store: store, desk: desk, limits: configuration.limits, topology: Topology(configuration),
                                     logger: Logger(level: .error) { _ in })
    }

    deinit {
        store.close()
        try? FileManager.default.removeItem(at: directory)
    }

    func process(redelivered: Bool) throws -> ProcessingOutcome {
        let poison = InboundEnvelope(body: Data("{not json".utf8), exchange: "telephony", routingKey: "call.ended",
                                     queue: "metrika.telephony", redelivered: redelivered)
        return try store.transaction { try processor.process(poison) }
    }

    func deadLetters() throws -> Int64 {
        try store.connection.query("SELECT COUNT(*) FROM dead_letters") { $0.int(0) }.first ?? -1
    }

    @Test func aRedeliveredPoisonMessageIsNotDeadLetteredAgain() throws {
        #expect(try process(redelivered: false) == .deadLettered("not_json"))
        #expect(try process(redelivered: true) == .duplicate)
        #expect(try deadLetters() == 1)
    }

    @Test func theSamePoisonPublishedTwiceIsDeadLetteredTwice() throws {
        #expect(try process(redelivered: false) == .deadLettered("not_json"))
        #expect(try process(redelivered: false) == .deadLettered("not_json"))
        #expect(try deadLetters() == 2)
    }
}
