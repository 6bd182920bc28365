import Foundation
import MetrikaDomain
import MetrikaGateway
import MetrikaStore
import Testing

/// Bad input redelivered after a stop between commit and acknowledgement is dead-lettered once.
struct DeadLetterRedeliveryTests {
    let disk: ProcessorOnDisk

    init() throws {
        disk = try ProcessorOnDisk()
    }

    func process(redelivered: Bool) throws -> ProcessingOutcome {
        let poison = InboundEnvelope(body: Data("{not json".utf8), exchange: "telephony", routingKey: "call.ended",
                                     queue: "metrika.telephony", redelivered: redelivered)
        return try disk.store.transaction { try disk.processor.process(poison) }
    }

    func deadLetters() throws -> Int64 {
        try disk.count("SELECT COUNT(*) FROM dead_letters")
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
