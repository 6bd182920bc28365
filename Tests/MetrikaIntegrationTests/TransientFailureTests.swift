import Foundation
import MetrikaAMQP
import MetrikaStore
import MetrikaTestSupport
import Testing

/// A batch that cannot be committed for a transient reason is retried through the delay queues and
/// parked only after the configured number of attempts.
@Suite(.serialized)
struct TransientFailureTests {
    /// Holds an exclusive lock on the gateway's database from another connection until `release()`.
    final class DatabaseLock {
        let connection: SQLiteConnection

        init(path: String) throws {
            connection = try SQLiteConnection(path: path, busyTimeoutMilliseconds: 1000)
            try connection.execute("BEGIN EXCLUSIVE")
        }

        func release() throws {
            try connection.execute("COMMIT")
            connection.close()
        }
    }

    @Test func aLockedDatabaseSendsTheBatchToTheDelayQueueAndItIsAppliedOnceTheLockIsGone() throws {
        let gateway = try TestGateway {
            $0.databaseBusyTimeoutMilliseconds = 100
            $0.retryDelays = [1]
        }
        defer { gateway.shutdown() }
        let lock = try DatabaseLock(path: gateway.configuration.databasePath)
        try gateway.publishCall(Fixtures.callEnded(callID: "locked-1", number: "89008880001", outcome: "missed"))
        #expect(gateway.eventually { gateway.logs.contains { $0.contains("batch postponed to the delay queues") } })
        try lock.release()
        let needed = try gateway.nextEvent(ofType: "callback.needed")
        #expect(needed["phone"] as? String == "+79008880001")
        #expect(try gateway.count("SELECT COUNT(*) FROM callbacks") == 1)
        #expect(try gateway.count("SELECT COUNT(*) FROM inbox") == 1)
    }

    @Test func afterTheLastAttemptTheMessageIsParkedInTheDeadLetterQueueWithTheReason() throws {
        let gateway = try TestGateway {
            $0.databaseBusyTimeoutMilliseconds = 50
            $0.retryDelays = [1]
            $0.retryAttempts = 2
        }
        defer { gateway.shutdown() }
        let lock = try DatabaseLock(path: gateway.configuration.databasePath)
        defer { try? lock.release() }
        let call = Fixtures.callEnded(callID: "locked-2", number: "89008880002", outcome: "missed")
        try gateway.publishCall(call)
        let parked = try gateway.drain(queue: gateway.names.deadQueue, atLeast: 1, timeout: 20)
        #expect(parked.count == 1)
        let message = try #require(parked.first)
        #expect(message.headers["x-metrika-error-class"] == .string("transient_failure"))
        #expect(message.headers["x-metrika-attempts"] == .int64(2))
        #expect(message.headers["x-metrika-original-exchange"] == .string(gateway.names.telephonyExchange))
        #expect(message.headers["x-metrika-original-routing-key"] == .string("call.ended"))
        #expect(message.headers["x-metrika-original-queue"] == .string(gateway.names.telephonyQueue))
        if case let .string(error)? = message.headers["x-metrika-error"] {
            #expect(error.contains("database is locked"))
        } else {
            Issue.record("x-metrika-error is missing")
        }
        #expect(message["call_id"] as? String == "locked-2")
    }
}
