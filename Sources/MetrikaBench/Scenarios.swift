import Foundation

/// The latency scenario's fixed load.
enum LatencyScenario {
    /// Missed calls published per second, each from a new number.
    static let callsPerSecond = 500
    /// Stream of the event ids (`BenchText.id`).
    static let idStream: UInt32 = 0x1a7e_0001

    /// The national number of missed call `index`.
    static func number(_ index: Int) -> Int { BenchNumbers.unknownMobile(pool: 3, index: index) }
}

/// When each paced call was published.
struct PacedSending: Sendable {
    /// `monotonicNanos()` just before each call's publish.
    let sentAt: [UInt64]
    let started: UInt64
    let finished: UInt64
}

extension BenchSession {
    // MARK: raw

    /// The raw relay ceiling alone (no gateway).
    func measureRaw(_ messages: Int, run: Int, into line: inout ResultLine) throws {
        let world = world("raw", run: run)
        defer { world.removeBrokerObjects(broker) }
        let figures = try RawRelay.measure(broker: broker, world: world, messages: messages)
        line.add("messages", .count(messages))
        line.add("seconds", .seconds(figures.seconds))
        line.add("rate", .rate(figures.rate))
        line.add("body_bytes", .count(figures.bodyBytes))
        line.add("queue_type", .text(options.queueType))
    }

    /// The raw relay ceiling measured right before a gateway scenario, in its own world.
    private func pairedRawRate(_ label: String, run: Int, messages: Int) throws -> Double {
        let world = world("\(label)raw", run: run)
        defer { world.removeBrokerObjects(broker) }
        return try RawRelay.measure(broker: broker, world: world, messages: messages).rate
    }

    /// The same relay measured in the storm's shape (`RawRelay.measureStreamed`): the ceiling of a
    /// gateway doing no work, timed as the storm is timed.
    private func pairedStreamedRawRate(_ label: String, run: Int, messages: Int) throws -> Double {
        let world = world("\(label)rawstream", run: run)
        defer { world.removeBrokerObjects(broker) }
        return try RawRelay.measureStreamed(broker: broker, world: world, messages: messages).rate
    }

    // MARK: sync

    /// A full directory sync: subscribers/s until all are stored, peak RSS, stored counts.
    func measureSync(_ subscribers: Int, run: Int, into line: inout ResultLine) throws {
        let raw = try pairedRawRate("sync", run: run, messages: min(subscribers, 200_000))
        let world = world("sync", run: run)
        // The start scenario of the same invocation reuses the last sync database of its size.
        let keep = options.scenarios.contains(.start) && options.count(for: .start) == subscribers
        if keep, let previous = filledDatabase {
            removeDatabase(previous.path)
            filledDatabase = nil
        }
        try withGateway(in: world, keepDatabase: keep) { gateway in
            let database = DatabaseProbe(path: world.databasePath)
            let updates = subscriberUpdates(subscribers)
            let cpuBefore = gateway.cpuSeconds ?? 0
            let publisher = publish(updates, to: world.rsExchange)
            let (started, stored) = try awaitSubscribersStored(subscribers, publisher: publisher, database: database, gateway: gateway)
            let elapsed = seconds(from: started, to: stored)
            line.add("subscribers", .count(subscribers))
            line.add("seconds", .seconds(elapsed))
            line.add("rate", .rate(Double(subscribers) / elapsed))
            line.add("raw", .rate(raw))
            line.add("ratio", .ratio(Double(subscribers) / elapsed / raw))
            line.add("peak_rss_mb", .megabytes(gateway.peakResidentMegabytes ?? 0))
            line.add("gateway_cpu_s", .seconds((gateway.cpuSeconds ?? 0) - cpuBefore))
            let totals = try database.integers("""
                SELECT (SELECT count(*) FROM subscribers), (SELECT count(*) FROM subscriber_phones),
                       (SELECT count(*) FROM dead_letters)
                """)
            line.check("stored", actual: totals[0], expected: subscribers)
            line.check("phones", actual: totals[1], expected: 3 * subscribers)
            line.check("dead_letters", actual: totals[2], expected: 1)
        }
        if keep && line.ok {
            filledDatabase = (world.databasePath, subscribers)
        } else if keep {
            removeDatabase(world.databasePath)
        }
    }

    // MARK: storm

    /// A call storm: events/s until the last derived event, and every count the storm must produce.
    func measureStorm(_ events: Int, run: Int, into line: inout ResultLine) throws {
        let raw = try pairedRawRate("storm", run: run, messages: events)
        let rawStreamed = try pairedStreamedRawRate("storm", run: run, messages: events)
        let storm = CallStorm(events: events, knownSubscribers: max(1, events / 10))
        let world = world("storm", run: run)
        try withGateway(in: world) { gateway in
            let database = DatabaseProbe(path: world.databasePath)
            note("storm run \(run): publishing \(storm.knownSubscribers) subscribers first (not timed)")
            _ = try awaitSubscribersStored(storm.knownSubscribers, publisher: publishSubscribers(storm.knownSubscribers, in: world),
                                           database: database, gateway: gateway)
            let expected = storm.expectedDrafted + storm.expectedCallbackNeeded
            let observer = try EventObserver(broker: broker, queue: world.observerQueue, queueType: options.queueType,
                                             exchange: world.eventsExchange, routingKeys: ["ticket.drafted", "callback.needed"],
                                             expected: expected)
            let baseTime = Int(Date().timeIntervalSince1970)
            let messages = storm.events.indices.map { storm.message($0, baseTime: baseTime) }
            let cpuBefore = gateway.cpuSeconds ?? 0
            let publisher = publish(messages[...], to: world.telephonyExchange)
            let observed = try observer.finish(stallSeconds: 60) { gateway.isRunning }
            let started = try publisher.join()
            let elapsed = observed.lastArrival > started ? seconds(from: started, to: observed.lastArrival) : 0
            line.add("events", .count(events))
            line.add("seconds", .seconds(elapsed))
            line.add("rate", .rate(elapsed > 0 ? Double(events) / elapsed : 0))
            line.add("raw", .rate(raw))
            line.add("ratio", .ratio(elapsed > 0 ? Double(events) / elapsed / raw : 0))
            line.add("raw_streamed", .rate(rawStreamed))
            line.add("ratio_streamed", .ratio(elapsed > 0 ? Double(events) / elapsed / rawStreamed : 0))
            line.add("peak_rss_mb", .megabytes(gateway.peakResidentMegabytes ?? 0))
            line.add("gateway_cpu_s", .seconds((gateway.cpuSeconds ?? 0) - cpuBefore))
            try checkStorm(storm, observed: observed, database: database, into: &line)
            if observed.distinct < expected {
                line.error = "only \(observed.distinct) of \(expected) derived events arrived; "
                    + (gateway.isRunning ? "none for 60 s" : gateway.logTail())
            }
        }
    }

    /// Compares the derived events and the stored tickets and callbacks with what the storm must produce.
    private func checkStorm(_ storm: CallStorm, observed: ObservedEvents, database: DatabaseProbe,
                            into line: inout ResultLine) throws {
        let totals = try database.integers("""
            SELECT (SELECT count(*) FROM tickets), (SELECT count(*) FROM callbacks),
                   (SELECT coalesce(sum(missed_count), 0) FROM callbacks),
                   (SELECT count(*) FROM tickets WHERE match = 'matched'), (SELECT count(*) FROM dead_letters)
            """)
        line.check("tickets", actual: totals[0], expected: storm.expectedTickets)
        line.check("callbacks", actual: totals[1], expected: storm.expectedCallbacks)
        line.check("missed_calls", actual: totals[2], expected: storm.missedCalls)
        line.check("matched_tickets", actual: totals[3], expected: storm.expectedMatchedTickets)
        line.check("drafted_events", actual: observed.byType["ticket.drafted"] ?? 0, expected: storm.expectedDrafted)
        line.check("callback_needed_events", actual: observed.byType["callback.needed"] ?? 0,
                   expected: storm.expectedCallbackNeeded)
        line.check("dead_letters", actual: totals[4], expected: 1)
        line.add("duplicate_events", .count(observed.duplicates))
    }

    // MARK: latency

    /// A steady 500 missed calls/s: publish-to-`callback.needed` latency percentiles.
    func measureLatency(_ calls: Int, run: Int, into line: inout ResultLine) throws {
        let world = world("latency", run: run)
        let positions = Dictionary(uniqueKeysWithValues: (0..<calls).map { (BenchNumbers.e164(LatencyScenario.number($0)), $0) })
        try withGateway(in: world) { gateway in
            let observer = try EventObserver(broker: broker, queue: world.observerQueue, queueType: options.queueType,
                                             exchange: world.eventsExchange, routingKeys: ["callback.needed"],
                                             expected: calls, indexCount: calls) { body in
                guard let event = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
                      let phone = event["phone"] as? String else { return nil }
                return positions[phone]
            }
            let publisher = publishPaced(calls, in: world)
            let observed = try observer.finish(stallSeconds: 30) { gateway.isRunning }
            let sending = try publisher.join()
            let latencies = zip(sending.sentAt, observed.arrivals).compactMap { sent, arrived in
                arrived > sent ? Double(arrived - sent) / 1e6 : nil
            }.sorted()
            let duration = seconds(from: sending.started, to: sending.finished)
            line.add("calls", .count(calls))
            line.add("seconds", .seconds(duration))
            line.add("rate", .rate(Double(calls) / duration))
            for (key, quantile) in [("p50_ms", 0.5), ("p99_ms", 0.99), ("p999_ms", 0.999), ("max_ms", 1.0)] {
                line.add(key, .milliseconds(Self.percentile(latencies, quantile)))
            }
            line.check("received", actual: latencies.count, expected: calls)
            line.add("peak_rss_mb", .megabytes(gateway.peakResidentMegabytes ?? 0))
        }
    }

    /// Nearest-rank percentile of sorted `values` (0 when empty).
    private static func percentile(_ values: [Double], _ quantile: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let rank = Int((quantile * Double(values.count)).rounded(.up))
        return values[min(values.count, max(1, rank)) - 1]
    }

    /// Publishes `calls` missed calls, each from a new number, at `LatencyScenario.callsPerSecond` on a
    /// fixed schedule (a late call does not push the next ones back), reading confirms while it waits.
    private func publishPaced(_ calls: Int, in world: RunWorld) -> BenchThread<PacedSending> {
        let broker = broker
        let exchange = world.telephonyExchange
        return BenchThread.start("metrika-bench-publisher") {
            try broker.withConnection("publisher") { connection in
                let publisher = try ConfirmingPublisher(connection, window: 100_000)
                let interval = UInt64(1_000_000_000 / LatencyScenario.callsPerSecond)
                var sentAt = [UInt64](repeating: 0, count: calls)
                let started = monotonicNanos()
                for index in 0..<calls {
                    let now = Int(Date().timeIntervalSince1970)
                    let id = BenchText.id(stream: LatencyScenario.idStream, index: index)
                    let body = CallEvents.unanswered(eventID: id, callID: "\(now).\(index)",
                                                     number: BenchNumbers.dialled(LatencyScenario.number(index), style: index),
                                                     outcome: "missed", startedAt: now - 20, endedAt: now)
                    let due = started + UInt64(index) * interval
                    while true {
                        let wait = Int64(bitPattern: due) - Int64(bitPattern: monotonicNanos())
                        guard wait > 0 else { break }
                        if wait > 1_000_000 {
                            try publisher.absorbConfirms(waitMilliseconds: Int(wait / 1_000_000))
                        } else {
                            usleep(UInt32(wait / 1000))
                        }
                    }
                    sentAt[index] = monotonicNanos()
                    try publisher.publish(exchange: exchange, routingKey: "call.ended", body: body, messageID: id)
                }
                let finished = monotonicNanos()
                try publisher.waitForAll()
                return PacedSending(sentAt: sentAt, started: started, finished: finished)
            }
        }
    }

    // MARK: start

    /// Spawn-to-first-derived-event time of a gateway starting on a large directory with a message waiting.
    func measureStart(_ subscribers: Int, run: Int, into line: inout ResultLine) throws {
        let path = try databaseWithSubscribers(subscribers)
        let world = world("start", run: run, database: path)
        defer { world.removeBrokerObjects(broker) }
        try GatewayProcess.declareTopology(executable: options.gatewayPath, world: world, log: log(world, "topology"))
        // The message waiting in the queue before start: a missed call from a stored subscriber's number.
        let national = BenchNumbers.subscriberMobile(index: (run - 1) * 7919 % subscribers, slot: 1)
        let id = BenchText.id(stream: 0x57a7_0000 + UInt32(run), index: 0)
        let now = Int(Date().timeIntervalSince1970)
        try broker.withConnection("publisher") { connection in
            let publisher = try ConfirmingPublisher(connection, window: 1)
            try publisher.publish(exchange: world.telephonyExchange, routingKey: "call.ended",
                                  body: CallEvents.unanswered(eventID: id, callID: "\(now).\(run)", number: BenchNumbers.dialled(national, style: 0),
                                                              outcome: "missed", startedAt: now - 20, endedAt: now),
                                  messageID: id)
            try publisher.waitForAll()
        }
        let observer = try EventObserver(broker: broker, queue: world.observerQueue, queueType: options.queueType,
                                         exchange: world.eventsExchange, routingKeys: ["callback.needed"], expected: 1,
                                         keepBodies: true)
        let gateway = try GatewayProcess(executable: options.gatewayPath, command: "gateway", world: world, log: log(world, "gateway"))
        let observed: ObservedEvents
        do {
            observed = try observer.finish(stallSeconds: 60) { gateway.isRunning }
        } catch {
            try? gateway.stop()
            throw error
        }
        try gateway.stop()
        guard let body = observed.bodies.first,
              let event = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw BenchError("no callback.needed arrived within 60 s of the gateway's start: \(gateway.logTail())")
        }
        let match = event["match"] as? String ?? "none"
        line.add("subscribers", .count(subscribers))
        line.add("seconds", .seconds(seconds(from: gateway.spawnedAt, to: observed.lastArrival)))
        line.add("match", .text(match))
        if match != "matched" || event["phone"] as? String != BenchNumbers.e164(national) {
            line.ok = false
            line.error = "the waiting call's callback.needed should be matched to the stored subscriber with \(BenchNumbers.e164(national))"
        }
    }

    /// A database holding subscribers `0..<count`: the one the sync scenario left, or one filled now
    /// through the gateway (not timed).
    private func databaseWithSubscribers(_ count: Int) throws -> String {
        if let filled = filledDatabase, filled.subscribers == count { return filled.path }
        note("start: filling a database with \(count) subscribers through the gateway (not timed)")
        let world = world("startdb", run: 1)
        try withGateway(in: world, keepDatabase: true) { gateway in
            _ = try awaitSubscribersStored(count, publisher: publishSubscribers(count, in: world),
                                           database: DatabaseProbe(path: world.databasePath), gateway: gateway)
        }
        filledDatabase = (world.databasePath, count)
        return world.databasePath
    }
}
