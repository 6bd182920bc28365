import Foundation

/// One invocation of the bench: runs the selected scenarios, prints their lines, and cleans up after
/// itself (queues, exchanges, the temporary directory with the databases and gateway logs).
final class BenchSession {
    let options: BenchOptions
    let broker: Broker
    /// Holds every run's database and gateway log; removed at the end.
    let directory: URL
    /// A database the sync scenario (or the start scenario itself) filled, for the start scenario.
    var filledDatabase: (path: String, subscribers: Int)?
    /// Subscriber updates generated so far (see `subscriberUpdates(_:)`).
    private var subscriberUpdatesGenerated: [BenchMessage] = []

    /// Checks that the broker answers and the gateway executable exists, and creates the temporary directory.
    init(options: BenchOptions) throws {
        self.options = options
        broker = Broker(url: options.brokerURL)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("metrika-bench-\(getpid())")
        if options.scenarios.contains(where: { $0 != .raw }) {
            guard FileManager.default.isExecutableFile(atPath: options.gatewayPath) else {
                throw BenchError("no gateway executable at \(options.gatewayPath): build it with 'swift build -c release' "
                    + "or pass --gateway PATH")
            }
        }
        do {
            try broker.withConnection("check") { _ in }
        } catch {
            throw BenchError("cannot reach the broker at \(options.brokerURL) (METRIKA_BENCH_AMQP_URL): \(error)")
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Runs every selected scenario `options.runs` times, printing one line per run (and a median line);
    /// true when every check passed.
    func run() -> Bool {
        var passed = true
        for scenario in options.scenarios {
            var lines: [ResultLine] = []
            for run in 1...options.runs {
                let line = measure(scenario, run: run)
                emit(line)
                lines.append(line)
            }
            if lines.count > 1 { emit(ResultLine.median(of: lines)) }
            passed = passed && lines.allSatisfy(\.ok)
        }
        return passed
    }

    /// Removes the temporary directory.
    func cleanUp() {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Writes a result line to stdout at once (unbuffered, so a pipe sees each run as it ends).
    private func emit(_ line: ResultLine) {
        FileHandle.standardOutput.write(Data((line.printed + "\n").utf8))
    }

    /// One run of `scenario`; an error becomes `ok=false` with `error=` on the line.
    private func measure(_ scenario: Scenario, run: Int) -> ResultLine {
        var line = ResultLine(scenario, run: String(run))
        let count = options.count(for: scenario)
        do {
            switch scenario {
            case .raw: try measureRaw(count, run: run, into: &line)
            case .sync: try measureSync(count, run: run, into: &line)
            case .storm: try measureStorm(count, run: run, into: &line)
            case .latency: try measureLatency(count, run: run, into: &line)
            case .start: try measureStart(count, run: run, into: &line)
            }
        } catch {
            line.ok = false
            line.error = "\(error)"
        }
        return line
    }

    // MARK: Worlds and gateways

    /// A fresh world for one run: its own name prefix and (unless given) its own database file.
    func world(_ label: String, run: Int, database: String? = nil) -> RunWorld {
        let prefix = "bench-\(getpid())-\(label)\(run)."
        return RunWorld(prefix: prefix, databasePath: database ?? directory.appendingPathComponent("\(prefix)sqlite").path,
                        queueType: options.queueType, brokerURLText: options.brokerURLText)
    }

    /// The log file of the gateway (or `metrika topology`) in `world`.
    func log(_ world: RunWorld, _ command: String) -> URL {
        directory.appendingPathComponent("\(world.prefix)\(command).log")
    }

    /// Declares `world`'s topology with `metrika topology`, starts `metrika gateway` in it and waits until
    /// the gateway serves (readiness probe).
    func startServingGateway(in world: RunWorld) throws -> GatewayProcess {
        try GatewayProcess.declareTopology(executable: options.gatewayPath, world: world, log: log(world, "topology"))
        let gateway = try GatewayProcess(executable: options.gatewayPath, command: "gateway", world: world, log: log(world, "gateway"))
        do {
            try awaitGatewayServing(gateway, world: world, broker: broker)
        } catch {
            try? gateway.stop()
            throw error
        }
        return gateway
    }

    /// Runs `body` with a serving gateway in `world`, then stops the gateway, deletes the world's queues
    /// and exchanges, and (unless `keepDatabase`) its database. A gateway that does not stop cleanly fails the run.
    func withGateway<T>(in world: RunWorld, keepDatabase: Bool = false, _ body: (GatewayProcess) throws -> T) throws -> T {
        defer {
            world.removeBrokerObjects(broker)
            if !keepDatabase { removeDatabase(world.databasePath) }
        }
        let gateway = try startServingGateway(in: world)
        let value: T
        do {
            value = try body(gateway)
        } catch {
            try? gateway.stop()
            throw error
        }
        try gateway.stop()
        return value
    }

    /// Deletes a database file with its WAL and shared-memory files.
    func removeDatabase(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    // MARK: Publishing

    /// The updates of subscribers `0..<count`, generated before any timed window (RS builds its messages on
    /// its own machine, so the generator's CPU must not be taken from the broker and the gateway). The
    /// largest set generated so far is kept: a smaller count is its prefix, and every run publishes the same.
    func subscriberUpdates(_ count: Int) -> ArraySlice<BenchMessage> {
        if subscriberUpdatesGenerated.count < count {
            let started = monotonicNanos()
            let generator = SubscriberGenerator(occurredAt: Int(Date().timeIntervalSince1970))
            subscriberUpdatesGenerated = (0..<count).map { index in
                let (id, body) = generator.message(index: index)
                return BenchMessage(routingKey: "subscriber.updated", id: id, body: body)
            }
            note("generated \(count) subscriber updates in \(String(format: "%.1f", seconds(from: started, to: monotonicNanos()))) s (not timed)")
        }
        return subscriberUpdatesGenerated.prefix(count)
    }

    /// Publishes subscribers `0..<count` to `world`'s RS exchange; see `publish(_:to:)`.
    func publishSubscribers(_ count: Int, in world: RunWorld) -> BenchThread<UInt64> {
        publish(subscriberUpdates(count), to: world.rsExchange)
    }

    /// Publishes `messages` (persistent) to `exchange` as fast as confirms allow, on its own thread; the
    /// thread returns `monotonicNanos()` of the first publish.
    func publish(_ messages: ArraySlice<BenchMessage>, to exchange: String) -> BenchThread<UInt64> {
        let broker = broker
        return BenchThread.start("metrika-bench-publisher") {
            try broker.withConnection("publisher") { connection in
                let publisher = try ConfirmingPublisher(connection, window: 4096)
                let started = monotonicNanos()
                for message in messages {
                    try publisher.publish(exchange: exchange, routingKey: message.routingKey, body: message.body,
                                          messageID: message.id)
                }
                try publisher.waitForAll()
                return started
            }
        }
    }

    /// Waits until the gateway stored subscribers `0..<count` (polling the database; see BENCHMARKS.md);
    /// returns `monotonicNanos()` of the poll that saw the last one. Rethrows the publisher's error first.
    func awaitSubscribersStored(_ count: Int, publisher: BenchThread<UInt64>, database: DatabaseProbe,
                                gateway: GatewayProcess) throws -> (started: UInt64, stored: UInt64) {
        let stored: UInt64
        do {
            // The queue is FIFO and the gateway commits batches in order, so the highest RS ID arrives last
            // (a cheap query); the exact count confirms it, or is waited for if a postponed batch was reordered.
            let highest = try database.waitUntil("SELECT coalesce(max(rs_id), 0) FROM subscribers",
                                                 reaches: SubscriberGenerator.rsID(index: count - 1), gateway: gateway)
            if try database.integer("SELECT count(*) FROM subscribers") >= count {
                stored = highest
            } else {
                stored = try database.waitUntil("SELECT count(*) FROM subscribers", reaches: count, gateway: gateway)
            }
        } catch {
            _ = try publisher.join()
            throw error
        }
        return (try publisher.join(), stored)
    }
}
