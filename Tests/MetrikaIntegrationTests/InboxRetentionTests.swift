import Foundation
import MetrikaStore
import Testing

/// The inbox forgets applied ids after the retention period, a bounded range of rows at a time.
struct InboxRetentionTests {
    @Test func pruningWalksTheInboxInIdOrderAndDeletesOnlyIdsOlderThanTheCutoff() throws {
        let disk = try ProcessorOnDisk()
        let store = disk.store
        let now = Date()
        let cutoff = now.addingTimeInterval(-30 * 86_400)
        let claimed = try store.transaction { () throws(StoreError) -> [Bool] in
            [try store.claim(messageID: "a-new", type: "call.ended", at: now),
             try store.claim(messageID: "b-old", type: "call.ended", at: cutoff.addingTimeInterval(-1)),
             try store.claim(messageID: "c-old", type: "ticket.create", at: cutoff.addingTimeInterval(-86_400)),
             try store.claim(messageID: "d-edge", type: "call.ended", at: cutoff)]
        }
        #expect(claimed == [true, true, true, true])
        var cursor = ""
        var steps: [(String, Int)] = []
        repeat {
            let (next, deleted) = try store.transaction { () throws(StoreError) in
                try store.pruneInbox(appliedBefore: cutoff, after: cursor, limit: 2)
            }
            steps.append((next, deleted))
            cursor = next
        } while !cursor.isEmpty
        #expect(steps.map(\.0) == ["b-old", "d-edge", ""])
        #expect(steps.map(\.1) == [1, 1, 0])
        #expect(try store.connection.query("SELECT message_id FROM inbox ORDER BY message_id") { $0.text(0) ?? "" } == ["a-new", "d-edge"])
        // A forgotten id is new again; a remembered one is still a duplicate.
        let again = try store.transaction { () throws(StoreError) -> [Bool] in
            [try store.claim(messageID: "b-old", type: "call.ended", at: now), try store.claim(messageID: "a-new", type: "call.ended", at: now)]
        }
        #expect(again == [true, false])
    }
}
