import Foundation
import MetrikaAMQP
import MetrikaDomain
import MetrikaStore
import Synchronization

/// What the gateway is doing right now, shared between its threads and its owner.
public final class GatewayStatus: Sendable {
    private struct State {
        var consuming = false
        var publishing = false
        var consumed = 0
        var published = 0
        var failure: String?
    }
    private let state = Mutex(State())

    /// Both connections are up.
    public var isReady: Bool { state.withLock { $0.consuming && $0.publishing } }
    /// The consuming connection is up.
    public var isConsuming: Bool { state.withLock { $0.consuming } }
    /// The publishing connection is up.
    public var isPublishing: Bool { state.withLock { $0.publishing } }
    /// Messages consumed and committed since start.
    public var consumedCount: Int { state.withLock { $0.consumed } }
    /// Outbox messages confirmed by the broker since start.
    public var publishedCount: Int { state.withLock { $0.published } }
    /// A failure that stopped a thread for good (e.g. the database cannot be opened).
    public var failure: String? { state.withLock { $0.failure } }

    func set(consuming: Bool) { state.withLock { $0.consuming = consuming } }
    func set(publishing: Bool) { state.withLock { $0.publishing = publishing } }
    func recordConsumed(_ count: Int) { state.withLock { $0.consumed += count } }
    func recordPublished(_ count: Int) { state.withLock { $0.published += count } }
    func fail(_ reason: String) { state.withLock { $0.failure = reason } }
}

/// The running service: a consumer thread and a publisher thread around one SQLite file.
public final class Gateway: Sendable {
    public let configuration: GatewayConfiguration
    /// Live status for readiness checks and tests.
    public let status = GatewayStatus()
    /// Message, outbox and connection counts for `/metrics`.
    public let metrics = GatewayMetrics()
    private let desk: TicketDesk
    private let logger: Logger
    private let stopSignal = StopSignal()
    private let wake = WakeSignal()
    private let ledger = OutboxLedger()
    private let threads = DispatchGroup()

    /// Prepares the gateway; loads the catalog. Nothing connects until `start()`.
    public init(configuration: GatewayConfiguration, logger: Logger) throws(ConfigurationError) {
        self.configuration = configuration
        self.logger = logger
        let catalog = try CatalogLoader.load(path: configuration.catalogPath)
        // Create and migrate the database once, before two threads open it.
        do {
            try GatewayStore(path: configuration.databasePath, busyTimeoutMilliseconds: Int32(configuration.databaseBusyTimeoutMilliseconds)).close()
        } catch {
            throw ConfigurationError("cannot open the database \(configuration.databasePath): \(error.message)")
        }
        desk = TicketDesk(catalog: catalog, plan: configuration.numberingPlan, zone: configuration.timeZone)
    }

    /// The topology this gateway declares.
    public var topology: Topology {
        Topology(configuration)
    }

    /// Starts the consumer and publisher threads and returns at once.
    public func start() {
        logger.info("gateway starting", ["broker": configuration.amqpURL.description, "database": configuration.databasePath,
                                         "time_zone": configuration.timeZone.identifier, "prefetch": String(configuration.prefetch)])
        let consumer = InboundConsumer(configuration: configuration, topology: topology, desk: desk, logger: logger,
                                       stop: stopSignal, status: status, metrics: metrics, ledger: ledger,
                                       outboxChanged: { [wake] in wake.signal() })
        let publisher = OutboxPublisher(configuration: configuration, logger: logger, stop: stopSignal, status: status,
                                        metrics: metrics, wake: wake, ledger: ledger)
        spawn("metrika-consumer") { consumer.run() }
        spawn("metrika-publisher") { publisher.run(drainSeconds: 5) }
    }

    /// Blocks until both connections are up or `timeout` passes; false on timeout or failure.
    public func waitUntilReady(timeout: TimeInterval) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while Date() < deadline {
            if status.isReady { return true }
            if status.failure != nil { return false }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return status.isReady
    }

    /// Asks both threads to stop: the consumer finishes and acknowledges its batch, the publisher
    /// waits (at most 5 s) for what is owed. Blocks until both have stopped.
    public func stop() {
        logger.info("gateway stopping")
        stopSignal.stop()
        threads.wait()
        logger.info("gateway stopped")
    }

    private func spawn(_ name: String, _ body: @escaping @Sendable () -> Void) {
        threads.enter()
        let thread = Thread { [threads] in
            body()
            threads.leave()
        }
        thread.name = name
        thread.start()
    }
}
