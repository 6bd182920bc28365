@testable import MetrikaGateway
import Testing

/// While commits keep failing, the back-off grows across batches and the failure is logged at most once per interval.
struct CommitFailuresTests {
    @Test func anOutageIsLoggedOncePerIntervalWithTheCountOfUnloggedFailures() {
        var failures = CommitFailures()
        let start = ContinuousClock.now
        let first = failures.record(at: start)
        #expect(first.log && first.inARow == 1 && first.unlogged == 0)
        let second = failures.record(at: start + .seconds(1))
        let third = failures.record(at: start + .seconds(4))
        #expect(!second.log && !third.log)
        let later = failures.record(at: start + .seconds(6))
        #expect(later.log && later.inARow == 4 && later.unlogged == 2)
        #expect(failures.reset() == 4)
        #expect(failures.record(at: start + .seconds(7)).log, "after a success the next failure is news again")
    }

    @Test func theDelayKeepsGrowingFromBatchToBatchUpToTwoSeconds() {
        var failures = CommitFailures()
        let delays = (0..<12).map { _ in failures.record(at: .now).delay }
        #expect(delays[0] <= 0.05)
        #expect(delays.allSatisfy { $0 <= 2 })
        #expect(delays.suffix(4).allSatisfy { $0 >= 1 }, "after a dozen failures in a row the wait is near the cap")
    }
}
