import Foundation
import MetrikaAMQP

/// One run's private world on the shared broker: every exchange and queue name carries a prefix unique
/// to the run (passed to the gateway through `METRIKA_EXCHANGE_*` / `METRIKA_QUEUE_*`), and the gateway
/// gets its own SQLite file (`METRIKA_DB`).
struct RunWorld: Sendable {
    let prefix: String
    let databasePath: String
    let queueType: String
    /// The broker URL as given, handed to the gateway as `METRIKA_AMQP_URL`.
    let brokerURLText: String

    var rsExchange: String { prefix + "rs" }
    var telephonyExchange: String { prefix + "telephony" }
    var commandsExchange: String { prefix + "metrika.commands" }
    var eventsExchange: String { prefix + "metrika.events" }
    var rsQueue: String { prefix + "metrika.rs" }
    var telephonyQueue: String { prefix + "metrika.telephony" }
    var commandsQueue: String { prefix + "metrika.commands" }
    var deadQueue: String { prefix + "metrika.dead" }
    /// Start of the gateway's delay queues' names in this world.
    var retryQueuePrefix: String { prefix + "metrika.retry." }
    /// The bench's queue bound to the events exchange.
    var observerQueue: String { prefix + "bench.events" }
    /// The raw relay's input and output queues.
    var relaySource: String { prefix + "bench.relay.source" }
    var relaySink: String { prefix + "bench.relay.sink" }

    /// The `METRIKA_*` keys that put the gateway into this world; other `METRIKA_*` keys of the bench's
    /// environment (e.g. `METRIKA_PREFETCH`) reach the gateway unchanged. The native PBX feeds (Asterisk,
    /// FreeSWITCH) are switched off: the bench drives the contract's telephony exchange, and their
    /// queues would otherwise carry fixed names shared with every other gateway on the broker. The HTTP
    /// listener takes a free port, so a gateway already running on this machine does not stop the run.
    var environment: [String: String] {
        [
            "METRIKA_AMQP_URL": brokerURLText,
            "METRIKA_PBX_FEEDS": "none",
            "METRIKA_HTTP_PORT": "0",
            "METRIKA_DB": databasePath,
            "METRIKA_QUEUE_TYPE": queueType,
            "METRIKA_EXCHANGE_RS": rsExchange,
            "METRIKA_EXCHANGE_TELEPHONY": telephonyExchange,
            "METRIKA_EXCHANGE_COMMANDS": commandsExchange,
            "METRIKA_EXCHANGE_EVENTS": eventsExchange,
            "METRIKA_QUEUE_RS": rsQueue,
            "METRIKA_QUEUE_TELEPHONY": telephonyQueue,
            "METRIKA_QUEUE_COMMANDS": commandsQueue,
            "METRIKA_QUEUE_DEAD": deadQueue,
            "METRIKA_RETRY_QUEUE_PREFIX": retryQueuePrefix,
        ]
    }

    /// Deletes every queue and exchange of the run, best effort: a failure is reported on stderr and does
    /// not fail the run. That includes the gateway's delay queues, named `<retry prefix><queue>.<n>s`
    /// for each of `METRIKA_RETRY_DELAYS` (default 1,5,30,120). RabbitMQ 3.10 sometimes refuses to delete
    /// a quorum queue that has just taken a few hundred thousand messages (541 INTERNAL_ERROR, closing the
    /// connection), so each object gets its own connection and up to three tries two seconds apart.
    func removeBrokerObjects(_ broker: Broker) {
        let inputs = [rsQueue, telephonyQueue, commandsQueue]
        let delays = ProcessInfo.processInfo.environment["METRIKA_RETRY_DELAYS"].map {
            $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        } ?? ["1", "5", "30", "120"]
        let queues = inputs + [deadQueue, observerQueue, relaySource, relaySink]
            + inputs.flatMap { input in delays.map { "\(retryQueuePrefix)\(input).\($0)s" } }
        var failures: [String] = []
        for queue in queues where !Self.withRetries(broker, { try $0.deleteQueue(queue) }) {
            failures.append("queue \(queue)")
        }
        for exchange in [rsExchange, telephonyExchange, commandsExchange, eventsExchange]
            where !Self.withRetries(broker, { try $0.deleteExchange(exchange) }) {
            failures.append("exchange \(exchange)")
        }
        if !failures.isEmpty {
            note("could not delete \(failures.joined(separator: ", ")); delete them by hand")
        }
    }

    /// Runs `body` on a fresh connection, up to three times two seconds apart; false when every try failed.
    private static func withRetries(_ broker: Broker, _ body: (AMQPConnection) throws -> Void) -> Bool {
        for attempt in 1...3 {
            do {
                try broker.withConnection("cleanup") { try body($0) }
                return true
            } catch {
                if attempt < 3 { Thread.sleep(forTimeInterval: 2) }
            }
        }
        return false
    }
}

/// The gateway under test: `metrika <command>` as a child process in a run's world, its stdout and
/// stderr in a log file.
final class GatewayProcess {
    private let process = Process()
    private let log: URL
    /// `monotonicNanos()` just before the process was spawned.
    let spawnedAt: UInt64

    /// Spawns `executable command` (e.g. `metrika gateway`) in `world`, logging to `log`.
    init(executable: String, command: String, world: RunWorld, log: URL) throws {
        self.log = log
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [command]
        process.environment = ProcessInfo.processInfo.environment.merging(world.environment) { $1 }
        guard FileManager.default.createFile(atPath: log.path, contents: nil) else {
            throw BenchError("cannot create the log file \(log.path)")
        }
        let output = try FileHandle(forWritingTo: log)
        process.standardOutput = output
        process.standardError = output
        spawnedAt = monotonicNanos()
        defer { try? output.close() }  // the child holds its own descriptor
        do {
            try process.run()
        } catch {
            throw BenchError("cannot start \(executable) \(command): \(error)")
        }
    }

    /// Runs `metrika topology` in `world` (declares its exchanges and queues) and waits for it.
    static func declareTopology(executable: String, world: RunWorld, log: URL) throws {
        let topology = try GatewayProcess(executable: executable, command: "topology", world: world, log: log)
        guard topology.waitForExit(timeout: 60) else {
            kill(topology.process.processIdentifier, SIGKILL)
            throw BenchError("metrika topology did not finish within 60 s and was killed: \(topology.logTail())")
        }
        guard topology.process.terminationStatus == 0 else {
            throw BenchError("metrika topology failed (status \(topology.process.terminationStatus)): \(topology.logTail())")
        }
    }

    /// Whether the process has not exited yet.
    var isRunning: Bool { process.isRunning }

    /// Peak resident memory so far (`VmHWM` of /proc/<pid>/status), MiB.
    var peakResidentMegabytes: Double? {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return kilobytes / 1024
    }

    /// CPU time used so far, user plus system (/proc/<pid>/stat), seconds.
    var cpuSeconds: Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // After the command name: field 3 (state) is first; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Throws with the log's tail when the process is no longer running.
    func checkRunning() throws {
        guard process.isRunning else {
            throw BenchError("the gateway exited (status \(process.terminationStatus)): \(logTail())")
        }
    }

    /// Stops the gateway with SIGTERM (SIGKILL after `timeout` seconds); throws when it did not exit cleanly.
    func stop(timeout: Double = 30) throws {
        if process.isRunning {
            process.terminate()
            guard waitForExit(timeout: timeout) else {
                kill(process.processIdentifier, SIGKILL)
                _ = waitForExit(timeout: 5)
                throw BenchError("the gateway did not stop within \(Int(timeout)) s of SIGTERM and was killed: \(logTail())")
            }
        }
        guard process.terminationStatus == 0 else {
            throw BenchError("the gateway exited with status \(process.terminationStatus): \(logTail())")
        }
    }

    /// Waits up to `timeout` seconds for the process to exit; false when it is still running.
    private func waitForExit(timeout: Double) -> Bool {
        let deadline = monotonicNanos() + UInt64(timeout * 1e9)
        while process.isRunning && monotonicNanos() < deadline { usleep(20_000) }
        return !process.isRunning
    }

    /// The last lines of the log, for error messages.
    func logTail(lines: Int = 8) -> String {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return "last log lines (\(log.path)): " + text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }
}

/// Read-only queries on the gateway's SQLite file through the `sqlite3` shell (`-readonly`): the bench
/// links no SQLite of its own, and in WAL mode a reader never blocks the gateway's writer.
struct DatabaseProbe {
    let path: String

    /// The integer columns of the first row of `sql` (NULL reads as 0).
    func integers(_ sql: String) throws -> [Int] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sqlite3", "-readonly", "-batch", "-noheader", "-cmd", ".timeout 5000", path, sql]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchError("sqlite3 failed on \(path) (status \(process.terminationStatus); Debian's sqlite3 package, "
                + "installed by scripts/setup.sh, provides it): \(errorText.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let row = String(decoding: data, as: UTF8.self).split(separator: "\n").first ?? ""
        return row.split(separator: "|", omittingEmptySubsequences: false).map { Int($0) ?? 0 }
    }

    /// The single integer `sql` selects.
    func integer(_ sql: String) throws -> Int {
        try integers(sql).first ?? 0
    }

    /// Polls `sql` every 100 ms until it reaches `target`; returns `monotonicNanos()` of the poll that saw
    /// it. Throws when the value stops moving for `stallSeconds` or the gateway exits.
    func waitUntil(_ sql: String, reaches target: Int, gateway: GatewayProcess, stallSeconds: Double = 60) throws -> UInt64 {
        var last = -1
        var lastChange = monotonicNanos()
        while true {
            let value = try integer(sql)
            let now = monotonicNanos()
            if value >= target { return now }
            if value != last {
                last = value
                lastChange = now
            }
            try gateway.checkRunning()
            guard seconds(from: lastChange, to: now) < stallSeconds else {
                throw BenchError("'\(sql)' stayed at \(value) (waiting for \(target)) for \(Int(stallSeconds)) s: \(gateway.logTail())")
            }
            usleep(100_000)
        }
    }
}

/// Waits until the gateway consumes and publishes: a deliberately malformed probe message on the
/// commands exchange must come back, through the gateway's outbox, on its dead-letter queue. The probe
/// leaves one row in `dead_letters`.
func awaitGatewayServing(_ gateway: GatewayProcess, world: RunWorld, broker: Broker, timeout: Double = 60) throws {
    try broker.withConnection("probe") { connection in
        let publisher = try ConfirmingPublisher(connection, window: 1)
        try publisher.publish(exchange: world.commandsExchange, routingKey: "ticket.bench-probe",
                              body: Data("metrika-bench readiness probe (not JSON on purpose)".utf8), messageID: nil)
        try publisher.waitForAll()
        try connection.consume(queue: world.deadQueue, consumerTag: "metrika-bench-probe")
        let deadline = monotonicNanos() + UInt64(timeout * 1e9)
        while monotonicNanos() < deadline {
            if let probe = try connection.nextDelivery(timeoutMilliseconds: 100) {
                try connection.ack(deliveryTag: probe.deliveryTag, multiple: false)
                return
            }
            try gateway.checkRunning()
        }
        throw BenchError("the gateway did not dead-letter the readiness probe within \(Int(timeout)) s: \(gateway.logTail())")
    }
}
