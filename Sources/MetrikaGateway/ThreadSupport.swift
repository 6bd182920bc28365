import Foundation
import MetrikaStore

/// Capped exponential back-off with full jitter, for reconnects and retried commits.
struct Backoff {
    /// First delay, seconds.
    let initial: Double
    /// Largest delay, seconds.
    let cap: Double
    private(set) var attempt = 0

    init(initial: Double = 0.2, cap: Double = 15) {
        self.initial = initial
        self.cap = cap
    }

    /// The next delay: a random value in [0.5, 1] × min(cap, initial × 2^attempt).
    mutating func next() -> Double {
        let ceiling = min(cap, initial * pow(2, Double(min(attempt, 30))))
        attempt += 1
        return ceiling * Double.random(in: 0.5...1)
    }

    mutating func reset() { attempt = 0 }
}

/// A flag shared between the thread that asks to stop and the threads that stop.
final class StopSignal: Sendable {
    private let condition = NSCondition()
    // NSCondition guards `stopped`; nonisolated(unsafe) because every access holds the condition's lock.
    nonisolated(unsafe) private var stopped = false

    var isStopped: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopped
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Sleeps up to `seconds`; returns early (true) when stop was requested.
    @discardableResult
    func sleep(_ seconds: Double) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: seconds)
        while !stopped, condition.wait(until: deadline) {}
        return stopped
    }
}

extension GatewayStore {
    /// Opens the gateway's database for one of its threads; on failure logs it, marks the gateway
    /// failed and returns nil.
    static func openForThread(_ configuration: GatewayConfiguration, logger: Logger, status: GatewayStatus) -> GatewayStore? {
        do {
            return try GatewayStore(path: configuration.databasePath,
                                    busyTimeoutMilliseconds: Int32(configuration.databaseBusyTimeoutMilliseconds))
        } catch {
            logger.error("cannot open the database", ["path": configuration.databasePath, "error": error.description])
            status.fail("cannot open the database \(configuration.databasePath): \(error.description)")
            return nil
        }
    }
}
