import Foundation
import MetrikaReports
import MetrikaStore
import Synchronization

/// Read-only connections to the gateway's database, each lent to one request thread at a time and kept
/// for the next request (at most `keptIdle` of them). SQLite handles are not thread-safe; lending one
/// to a single thread at a time is what SQLite's multi-thread mode allows.
final class ReadOnlyStores: Sendable {
    private let path: String
    private let busyTimeoutMilliseconds: Int32
    private let idle = Mutex<[LentStore]>([])
    private let keptIdle = 4

    init(path: String, busyTimeoutMilliseconds: Int) {
        self.path = path
        self.busyTimeoutMilliseconds = Int32(clamping: busyTimeoutMilliseconds)
    }

    /// Runs `body` with a read-only store. A store whose query failed in SQLite is closed rather than kept.
    func withStore<T>(_ body: (GatewayStore) throws(ReportError) -> T) throws(ReportError) -> T {
        let lent: LentStore
        if let kept = idle.withLock({ $0.popLast() }) {
            lent = kept
        } else {
            lent = try open()
        }
        do throws(ReportError) {
            let result = try body(lent.store)
            giveBack(lent)
            return result
        } catch {
            if error.code == .databaseFailed { lent.store.close() } else { giveBack(lent) }
            throw error
        }
    }

    /// Closes the stores kept idle; call once no request is running.
    func closeAll() {
        for lent in idle.withLock({ stores in defer { stores.removeAll() }; return stores }) {
            lent.store.close()
        }
    }

    private func open() throws(ReportError) -> LentStore {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ReportError(.databaseMissing, "there is no database at '\(path)'; check METRIKA_DB", isRetryable: true)
        }
        do throws(StoreError) {
            return LentStore(store: try GatewayStore(readingPath: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds))
        } catch {
            throw ReportError(.databaseFailed, "cannot open the database '\(path)' for reading: \(error.message)", isRetryable: error.isTransient)
        }
    }

    private func giveBack(_ lent: LentStore) {
        let surplus = idle.withLock { (stores: inout [LentStore]) -> LentStore? in
            guard stores.count < keptIdle else { return lent }
            stores.append(lent)
            return nil
        }
        surplus?.store.close()
    }
}

/// A store on loan to one request thread.
private final class LentStore: @unchecked Sendable {
    // Used by one thread at a time: the pool hands each out to a single request and takes it back after.
    let store: GatewayStore

    init(store: GatewayStore) {
        self.store = store
    }
}

/// Checks that the gateway's database can be written, at most once a second whatever the request rate,
/// on a connection of its own (opened on first use, reopened after a failure).
final class DatabaseProbe: Sendable {
    private struct State {
        var connection: SQLiteConnection?
        var checkedAt: ContinuousClock.Instant?
        var problem: String?
    }

    private let path: String
    private let state = Mutex(State())
    /// How long the probe waits for the gateway's writer to release the lock.
    private let busyTimeoutMilliseconds: Int32 = 2_000

    init(path: String) {
        self.path = path
    }

    /// Nil when the database was writable at the last check (at most a second ago); else what is wrong.
    func problem() -> String? {
        state.withLock { state in
            if let checkedAt = state.checkedAt, checkedAt.duration(to: .now) < .seconds(1) { return state.problem }
            state.problem = check(&state.connection)
            state.checkedAt = .now
            return state.problem
        }
    }

    /// Closes the probe's connection; call once no request is running.
    func close() {
        state.withLock { state in
            state.connection?.close()
            state.connection = nil
        }
    }

    private func check(_ connection: inout SQLiteConnection?) -> String? {
        guard FileManager.default.fileExists(atPath: path) else {
            return "there is no database at '\(path)'"
        }
        do throws(StoreError) {
            if connection == nil {
                connection = try SQLiteConnection(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
            }
            try connection?.checkWritable()
            return nil
        } catch {
            connection?.close()
            connection = nil
            return "the database '\(path)' cannot be written: \(error.message)"
        }
    }
}
