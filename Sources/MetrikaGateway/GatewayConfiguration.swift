import Foundation
import MetrikaAMQP
import MetrikaDomain

/// Names of the exchanges and queues the gateway uses (CONTRACTS.md defaults).
public struct TopologyNames: Sendable, Equatable {
    /// `METRIKA_EXCHANGE_RS`, default `rs`.
    public var rsExchange = "rs"
    /// `METRIKA_EXCHANGE_TELEPHONY`, default `telephony`.
    public var telephonyExchange = "telephony"
    /// `METRIKA_EXCHANGE_COMMANDS`, default `metrika.commands`.
    public var commandsExchange = "metrika.commands"
    /// `METRIKA_EXCHANGE_EVENTS`, default `metrika.events`.
    public var eventsExchange = "metrika.events"
    /// `METRIKA_QUEUE_RS`, default `metrika.rs`.
    public var rsQueue = "metrika.rs"
    /// `METRIKA_QUEUE_TELEPHONY`, default `metrika.telephony`.
    public var telephonyQueue = "metrika.telephony"
    /// `METRIKA_QUEUE_COMMANDS`, default `metrika.commands`.
    public var commandsQueue = "metrika.commands"
    /// `METRIKA_QUEUE_DEAD`, default `metrika.dead`.
    public var deadQueue = "metrika.dead"
    /// `METRIKA_RETRY_QUEUE_PREFIX`, default `metrika.retry.`: start of the delay queues' names,
    /// `<prefix><input queue>.<N>s`.
    public var retryQueuePrefix = "metrika.retry."
    /// `METRIKA_ASTERISK_CDR_QUEUE`, default `asterisk_cdr` (cdr_amqp publishes to the default exchange
    /// with this routing key and declares nothing: the gateway declares the queue).
    public var asteriskCDRQueue = "asterisk_cdr"
    /// `METRIKA_ASTERISK_CEL_QUEUE`, default `asterisk_cel`.
    public var asteriskCELQueue = "asterisk_cel"
    /// `METRIKA_FREESWITCH_EXCHANGE`, default `TAP.Events` (mod_amqp's default).
    public var freeswitchExchange = "TAP.Events"
    /// `METRIKA_FREESWITCH_QUEUE`, default `metrika.freeswitch`.
    public var freeswitchQueue = "metrika.freeswitch"

    public init() {}

    /// Every name prefixed with `prefix` (tests use one prefix per test).
    public init(prefix: String) {
        rsExchange = prefix + rsExchange
        telephonyExchange = prefix + telephonyExchange
        commandsExchange = prefix + commandsExchange
        eventsExchange = prefix + eventsExchange
        rsQueue = prefix + rsQueue
        telephonyQueue = prefix + telephonyQueue
        commandsQueue = prefix + commandsQueue
        deadQueue = prefix + deadQueue
        retryQueuePrefix = prefix + retryQueuePrefix
        asteriskCDRQueue = prefix + asteriskCDRQueue
        asteriskCELQueue = prefix + asteriskCELQueue
        freeswitchExchange = prefix + freeswitchExchange
        freeswitchQueue = prefix + freeswitchQueue
    }
}

/// Everything the gateway needs to run. Built from environment variables, optionally layered over a
/// `KEY=VALUE` file named by `METRIKA_CONFIG`; the environment wins.
public struct GatewayConfiguration: Sendable {
    /// `METRIKA_AMQP_URL`, default `amqp://guest:guest@127.0.0.1:5672/%2f`. The password may instead
    /// come from `METRIKA_AMQP_PASSWORD_FILE`.
    public var amqpURL: AMQPURL
    /// `METRIKA_AMQP_CA_FILE`, `METRIKA_AMQP_CERT_FILE`, `METRIKA_AMQP_KEY_FILE` for `amqps://`.
    public var tls = AMQPTLSSettings()
    /// `METRIKA_AMQP_HEARTBEAT` seconds, default 30.
    public var heartbeatSeconds = 30
    /// `METRIKA_DB`, default `./data/metrika.sqlite`.
    public var databasePath = "./data/metrika.sqlite"
    /// `METRIKA_DB_BUSY_TIMEOUT_MS`, default 5000: how long a statement waits for another writer's lock.
    public var databaseBusyTimeoutMilliseconds = 5_000
    /// `METRIKA_TZ`, default `Europe/Moscow`.
    public var timeZone = TimeZone(identifier: "Europe/Moscow")!
    /// `METRIKA_COUNTRY`, default `RU`: how national numbers are written.
    public var numberingPlan = NumberingPlan.forCountry("RU")!
    /// `METRIKA_CATALOG`: path of a catalog JSON file; default the built-in catalog.
    public var catalogPath: String?
    /// Exchange and queue names (`METRIKA_EXCHANGE_*`, `METRIKA_QUEUE_*`).
    public var names = TopologyNames()
    /// `METRIKA_QUEUE_TYPE`: `quorum` (default; a poison message is dead-lettered after
    /// `METRIKA_DELIVERY_LIMIT` redeliveries) or `classic`.
    public var queueType = "quorum"
    /// `METRIKA_DELIVERY_LIMIT`, default 5: redeliveries of one message before the broker dead-letters it.
    public var deliveryLimit = 5
    /// `METRIKA_PREFETCH`, default 16000: unacknowledged deliveries in flight.
    public var prefetch = 16_000
    /// `METRIKA_BATCH_SIZE`, default half of `METRIKA_PREFETCH`: the largest batch committed in one transaction.
    /// Smaller than the window so the broker keeps delivering the next batch while this one commits. Large
    /// batches matter under load: a page of an index that several messages of a batch change is written
    /// once per commit (a million-subscriber sync ran at 12,106 subscribers/s with batches of 2,000, 13,916/s
    /// with 4,000 and 15,183/s with 8,000). When deliveries trickle in, a batch commits after
    /// `batchWaitMilliseconds` whatever its size.
    public var batchSize = 8_000
    /// `METRIKA_BATCH_MAX_BYTES`, default 16 MiB: a batch also commits once its bodies add up to this many
    /// bytes, which bounds the memory a window of large bodies can take.
    public var batchMaxBytes = 16 << 20
    /// `METRIKA_BATCH_WAIT_MS`, default 5: how long a batch waits for more messages before it commits.
    public var batchWaitMilliseconds = 5
    /// `METRIKA_PBX_FEEDS`, default `asterisk-cdr,asterisk-cel,freeswitch`: which PBX feeds to consume
    /// besides the canonical `call.*` events (`none` for none).
    public var pbxFeeds: Set<PBXFeed> = Set(PBXFeed.allCases)
    /// How PBX events are read (`METRIKA_ASTERISK_INBOUND_CONTEXTS`, `METRIKA_FREESWITCH_INBOUND_CONTEXTS`,
    /// `METRIKA_PBX_EXTENSION_MAX_DIGITS`, `METRIKA_PBX_TZ`, `METRIKA_PBX_OPERATORS`).
    public var pbx = PBXSettings()
    /// `METRIKA_ASTERISK_QUIET_SECONDS`, default 60: without CEL, an Asterisk call is decided when no CDR
    /// of it arrived for this long.
    public var asteriskQuietSeconds = 60
    /// `METRIKA_ASTERISK_CEL_GRACE_SECONDS`, default 2: after CEL `LINKEDID_END`, how long to wait for
    /// CDRs still in flight before deciding.
    public var asteriskCELGraceSeconds = 2
    /// `METRIKA_RETRY_DELAYS`, default `1,5,30,120`: seconds a batch that failed to commit for a transient
    /// reason (database busy, locked or full) waits in the delay queues before it is tried again, by attempt.
    public var retryDelays = [1, 5, 30, 120]
    /// `METRIKA_RETRY_ATTEMPTS`, default 5: attempts before such a message is parked in the dead-letter queue.
    public var retryAttempts = 5
    /// `METRIKA_CALLBACK_OVERDUE_SECONDS`, default 900 (15 minutes): an open callback older than this
    /// emits `callback.overdue` once.
    public var callbackOverdueSeconds = 900
    /// `METRIKA_INBOX_RETENTION_DAYS`, default 30: how long an applied message's id is kept to recognise it
    /// if it comes again. Older ids are pruned a few thousand a second while the gateway runs.
    public var inboxRetentionDays = 30
    /// `METRIKA_MAX_BODY_BYTES`, default 65536.
    public var limits = InputLimits()
    /// `METRIKA_LOG_LEVEL`: `debug`, `info` (default), `warning`, `error`.
    public var logLevel = LogLevel.info
    /// `METRIKA_FAILPOINT`: crash point for fault-injection tests only (see `FailPoint`).
    public var failPoint = FailPoint.disarmed
    /// `METRIKA_HTTP_ENABLED`, default true: serve health, metrics, the read-only API and the operator's page.
    public var httpEnabled = true
    /// `METRIKA_HTTP_ADDRESS`, default `127.0.0.1`: the IPv4 or IPv6 address the HTTP listener binds
    /// (`0.0.0.0` for every interface).
    public var httpAddress = "127.0.0.1"
    /// `METRIKA_HTTP_PORT`, default 8080 (0 picks a free port).
    public var httpPort = 8080
    /// `METRIKA_HTTP_TOKEN`: when set, `/api/…` requires `Authorization: Bearer <token>`; default none.
    public var httpToken: String?
    /// `METRIKA_READY_OUTBOX_LAG_SECONDS`, default 60: `/readyz` fails while the oldest unconfirmed outbox
    /// message is older than this.
    public var readyOutboxLagSeconds = 60

    public init(amqpURL: AMQPURL = try! AMQPURL(parsing: "amqp://guest:guest@127.0.0.1:5672/%2f")) {
        self.amqpURL = amqpURL
    }

    /// Every key the gateway reads, with its default, for `--help` and the README.
    public static let keys: [(String, String)] = [
        ("METRIKA_CONFIG", "optional KEY=VALUE file read before the environment"),
        ("METRIKA_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
        ("METRIKA_AMQP_PASSWORD_FILE", "file whose first line replaces the URL's password"),
        ("METRIKA_AMQP_CA_FILE", "CA bundle (PEM) for amqps://"),
        ("METRIKA_AMQP_CERT_FILE / METRIKA_AMQP_KEY_FILE", "client certificate and key for amqps://"),
        ("METRIKA_AMQP_HEARTBEAT", "30 (seconds)"),
        ("METRIKA_DB", "./data/metrika.sqlite"),
        ("METRIKA_DB_BUSY_TIMEOUT_MS", "5000"),
        ("METRIKA_TZ", "Europe/Moscow"),
        ("METRIKA_COUNTRY", "RU (also KZ, BY)"),
        ("METRIKA_CATALOG", "built-in catalog"),
        ("METRIKA_EXCHANGE_RS / _TELEPHONY / _COMMANDS / _EVENTS", "rs / telephony / metrika.commands / metrika.events"),
        ("METRIKA_QUEUE_RS / _TELEPHONY / _COMMANDS / _DEAD", "metrika.rs / metrika.telephony / metrika.commands / metrika.dead"),
        ("METRIKA_QUEUE_TYPE", "quorum (or classic)"),
        ("METRIKA_DELIVERY_LIMIT", "5"),
        ("METRIKA_PREFETCH", "16000"),
        ("METRIKA_BATCH_SIZE", "half of METRIKA_PREFETCH"),
        ("METRIKA_BATCH_MAX_BYTES", "16777216 (16 MiB)"),
        ("METRIKA_BATCH_WAIT_MS", "5"),
        ("METRIKA_PBX_FEEDS", "asterisk-cdr,asterisk-cel,freeswitch (or none)"),
        ("METRIKA_ASTERISK_CDR_QUEUE / _CEL_QUEUE", "asterisk_cdr / asterisk_cel"),
        ("METRIKA_FREESWITCH_EXCHANGE / _QUEUE", "TAP.Events / metrika.freeswitch"),
        ("METRIKA_ASTERISK_INBOUND_CONTEXTS", "from-trunk,from-pstn,from-external"),
        ("METRIKA_FREESWITCH_INBOUND_CONTEXTS", "public"),
        ("METRIKA_PBX_EXTENSION_MAX_DIGITS", "5"),
        ("METRIKA_PBX_TZ", "Europe/Moscow (zone of PBX times written without one)"),
        ("METRIKA_PBX_OPERATORS", "extension=login pairs, e.g. 101=op.ivanov,102=op.petrova"),
        ("METRIKA_ASTERISK_QUIET_SECONDS", "60"),
        ("METRIKA_ASTERISK_CEL_GRACE_SECONDS", "2"),
        ("METRIKA_RETRY_QUEUE_PREFIX", "metrika.retry. (delay queues: <prefix><input queue>.<N>s)"),
        ("METRIKA_RETRY_DELAYS", "1,5,30,120 (seconds, one delay queue each)"),
        ("METRIKA_RETRY_ATTEMPTS", "5"),
        ("METRIKA_CALLBACK_OVERDUE_SECONDS", "900 (15 minutes)"),
        ("METRIKA_INBOX_RETENTION_DAYS", "30 (days an applied message's id is remembered)"),
        ("METRIKA_MAX_BODY_BYTES", "65536"),
        ("METRIKA_LOG_LEVEL", "info"),
        ("METRIKA_HTTP_ENABLED", "true (health, metrics, API and operator's page)"),
        ("METRIKA_HTTP_ADDRESS", "127.0.0.1 (0.0.0.0 or :: for every interface)"),
        ("METRIKA_HTTP_PORT", "8080"),
        ("METRIKA_HTTP_TOKEN", "bearer token required by /api/… (default: none)"),
        ("METRIKA_READY_OUTBOX_LAG_SECONDS", "60 (oldest unconfirmed event age /readyz tolerates)"),
    ]

    /// Reads the configuration; `environment` defaults to the process environment.
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) -> GatewayConfiguration {
        var values: [String: String] = [:]
        if let file = environment["METRIKA_CONFIG"], !file.isEmpty {
            values = try readFile(file)
        }
        for (key, value) in environment where key.hasPrefix("METRIKA_") { values[key] = value }
        return try GatewayConfiguration(values: values)
    }

    /// Builds from a dictionary of `METRIKA_*` keys.
    public init(values: [String: String]) throws(ConfigurationError) {
        func string(_ key: String) -> String? {
            guard let value = values[key]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return value
        }
        func integer(_ key: String, _ range: ClosedRange<Int>, default value: Int) throws(ConfigurationError) -> Int {
            guard let text = string(key) else { return value }
            guard let number = Int(text), range.contains(number) else {
                throw ConfigurationError("\(key)='\(text)' must be a whole number between \(range.lowerBound) and \(range.upperBound)")
            }
            return number
        }
        do {
            self.init(amqpURL: try AMQPURL(parsing: string("METRIKA_AMQP_URL") ?? "amqp://guest:guest@127.0.0.1:5672/%2f"))
        } catch {
            throw ConfigurationError("METRIKA_AMQP_URL is not usable: \(error.message)")
        }
        if let file = string("METRIKA_AMQP_PASSWORD_FILE") {
            guard let contents = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ConfigurationError("METRIKA_AMQP_PASSWORD_FILE '\(file)' cannot be read")
            }
            amqpURL.password = String(contents.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
        }
        tls = AMQPTLSSettings(caFile: string("METRIKA_AMQP_CA_FILE"), certificateFile: string("METRIKA_AMQP_CERT_FILE"),
                              keyFile: string("METRIKA_AMQP_KEY_FILE"))
        heartbeatSeconds = try integer("METRIKA_AMQP_HEARTBEAT", 1...600, default: 30)
        databasePath = string("METRIKA_DB") ?? databasePath
        databaseBusyTimeoutMilliseconds = try integer("METRIKA_DB_BUSY_TIMEOUT_MS", 1...600_000, default: databaseBusyTimeoutMilliseconds)
        if let zoneName = string("METRIKA_TZ") {
            guard let zone = TimeZone(identifier: zoneName) else {
                throw ConfigurationError("METRIKA_TZ='\(zoneName)' is not a known time zone (e.g. Europe/Moscow, Asia/Yekaterinburg)")
            }
            timeZone = zone
        }
        if let country = string("METRIKA_COUNTRY") {
            guard let plan = NumberingPlan.forCountry(country) else {
                throw ConfigurationError("METRIKA_COUNTRY='\(country)' is not supported; use one of \(NumberingPlan.known.keys.sorted().joined(separator: ", "))")
            }
            numberingPlan = plan
        }
        catalogPath = string("METRIKA_CATALOG")
        names.rsExchange = string("METRIKA_EXCHANGE_RS") ?? names.rsExchange
        names.telephonyExchange = string("METRIKA_EXCHANGE_TELEPHONY") ?? names.telephonyExchange
        names.commandsExchange = string("METRIKA_EXCHANGE_COMMANDS") ?? names.commandsExchange
        names.eventsExchange = string("METRIKA_EXCHANGE_EVENTS") ?? names.eventsExchange
        names.rsQueue = string("METRIKA_QUEUE_RS") ?? names.rsQueue
        names.telephonyQueue = string("METRIKA_QUEUE_TELEPHONY") ?? names.telephonyQueue
        names.commandsQueue = string("METRIKA_QUEUE_COMMANDS") ?? names.commandsQueue
        names.deadQueue = string("METRIKA_QUEUE_DEAD") ?? names.deadQueue
        names.retryQueuePrefix = string("METRIKA_RETRY_QUEUE_PREFIX") ?? names.retryQueuePrefix
        names.asteriskCDRQueue = string("METRIKA_ASTERISK_CDR_QUEUE") ?? names.asteriskCDRQueue
        names.asteriskCELQueue = string("METRIKA_ASTERISK_CEL_QUEUE") ?? names.asteriskCELQueue
        names.freeswitchExchange = string("METRIKA_FREESWITCH_EXCHANGE") ?? names.freeswitchExchange
        names.freeswitchQueue = string("METRIKA_FREESWITCH_QUEUE") ?? names.freeswitchQueue
        try readPBX(string)
        queueType = string("METRIKA_QUEUE_TYPE") ?? queueType
        guard ["quorum", "classic"].contains(queueType) else {
            throw ConfigurationError("METRIKA_QUEUE_TYPE='\(queueType)' must be quorum or classic")
        }
        deliveryLimit = try integer("METRIKA_DELIVERY_LIMIT", 1...1000, default: deliveryLimit)
        prefetch = try integer("METRIKA_PREFETCH", 1...65_535, default: prefetch)
        batchSize = try integer("METRIKA_BATCH_SIZE", 1...prefetch, default: max(1, prefetch / 2))
        batchMaxBytes = try integer("METRIKA_BATCH_MAX_BYTES", 65_536...(1 << 30), default: batchMaxBytes)
        batchWaitMilliseconds = try integer("METRIKA_BATCH_WAIT_MS", 0...1000, default: batchWaitMilliseconds)
        if let delays = string("METRIKA_RETRY_DELAYS") {
            let parsed = delays.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !parsed.isEmpty, parsed.allSatisfy({ $0 != nil && (1...86_400).contains($0!) }) else {
                throw ConfigurationError("METRIKA_RETRY_DELAYS='\(delays)' must be comma-separated seconds between 1 and 86400, e.g. 1,5,30,120")
            }
            retryDelays = parsed.map { $0! }
        }
        retryAttempts = try integer("METRIKA_RETRY_ATTEMPTS", 1...100, default: retryAttempts)
        callbackOverdueSeconds = try integer("METRIKA_CALLBACK_OVERDUE_SECONDS", 1...604_800, default: callbackOverdueSeconds)
        inboxRetentionDays = try integer("METRIKA_INBOX_RETENTION_DAYS", 1...3650, default: inboxRetentionDays)
        limits.maxBodyBytes = try integer("METRIKA_MAX_BODY_BYTES", 1024...16_777_216, default: limits.maxBodyBytes)
        try readHTTP(string)
        failPoint = try FailPoint(environment: values)
        if let level = string("METRIKA_LOG_LEVEL") {
            guard let parsed = LogLevel(rawValue: level.lowercased()) else {
                throw ConfigurationError("METRIKA_LOG_LEVEL='\(level)' must be debug, info, warning or error")
            }
            logLevel = parsed
        }
    }

    private mutating func readPBX(_ string: (String) -> String?) throws(ConfigurationError) {
        func list(_ text: String) -> [String] {
            text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if let feeds = string("METRIKA_PBX_FEEDS") {
            var chosen: Set<PBXFeed> = []
            for name in list(feeds) where name != "none" {
                guard let feed = PBXFeed(rawValue: name) else {
                    throw ConfigurationError("METRIKA_PBX_FEEDS: unknown feed '\(name)'; use \(PBXFeed.allCases.map(\.rawValue).joined(separator: ", ")) or none")
                }
                chosen.insert(feed)
            }
            pbxFeeds = chosen
        }
        if let contexts = string("METRIKA_ASTERISK_INBOUND_CONTEXTS") { pbx.asteriskInboundContexts = Set(list(contexts)) }
        if let contexts = string("METRIKA_FREESWITCH_INBOUND_CONTEXTS") { pbx.freeswitchInboundContexts = Set(list(contexts)) }
        if let digits = string("METRIKA_PBX_EXTENSION_MAX_DIGITS") {
            guard let value = Int(digits), (1...6).contains(value) else {
                throw ConfigurationError("METRIKA_PBX_EXTENSION_MAX_DIGITS='\(digits)' must be between 1 and 6")
            }
            pbx.extensionMaxDigits = value
        }
        pbx.zone = timeZone
        if let zoneName = string("METRIKA_PBX_TZ") {
            guard let zone = TimeZone(identifier: zoneName) else { throw ConfigurationError("METRIKA_PBX_TZ='\(zoneName)' is not a known time zone") }
            pbx.zone = zone
        }
        if let pairs = string("METRIKA_PBX_OPERATORS") {
            for pair in list(pairs) {
                let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw ConfigurationError("METRIKA_PBX_OPERATORS: '\(pair)' must be extension=login")
                }
                pbx.operators[parts[0]] = parts[1]
            }
        }
        asteriskQuietSeconds = try Self.number(string("METRIKA_ASTERISK_QUIET_SECONDS"), "METRIKA_ASTERISK_QUIET_SECONDS", 1...86_400) ?? asteriskQuietSeconds
        asteriskCELGraceSeconds = try Self.number(string("METRIKA_ASTERISK_CEL_GRACE_SECONDS"), "METRIKA_ASTERISK_CEL_GRACE_SECONDS", 0...600) ?? asteriskCELGraceSeconds
    }

    private static func number(_ text: String?, _ key: String, _ range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let text else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw ConfigurationError("\(key)='\(text)' must be a whole number between \(range.lowerBound) and \(range.upperBound)")
        }
        return value
    }

    private mutating func readHTTP(_ string: (String) -> String?) throws(ConfigurationError) {
        if let enabled = string("METRIKA_HTTP_ENABLED") {
            switch enabled.lowercased() {
            case "true", "yes", "on", "1": httpEnabled = true
            case "false", "no", "off", "0": httpEnabled = false
            default: throw ConfigurationError("METRIKA_HTTP_ENABLED='\(enabled)' must be true or false")
            }
        }
        if let address = string("METRIKA_HTTP_ADDRESS") {
            var v4 = in_addr()
            var v6 = in6_addr()
            guard inet_pton(AF_INET, address, &v4) == 1 || inet_pton(AF_INET6, address, &v6) == 1 else {
                throw ConfigurationError("METRIKA_HTTP_ADDRESS='\(address)' is not an IP address; use one such as 127.0.0.1, 0.0.0.0 or ::1")
            }
            httpAddress = address
        }
        httpPort = try Self.number(string("METRIKA_HTTP_PORT"), "METRIKA_HTTP_PORT", 0...65_535) ?? httpPort
        if let token = string("METRIKA_HTTP_TOKEN") {
            guard token.count >= 16, token.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) }) else {
                throw ConfigurationError("METRIKA_HTTP_TOKEN must be at least 16 printable ASCII characters without spaces, e.g. the output of 'openssl rand -hex 32'")
            }
            httpToken = token
        }
        readyOutboxLagSeconds = try Self.number(string("METRIKA_READY_OUTBOX_LAG_SECONDS"), "METRIKA_READY_OUTBOX_LAG_SECONDS",
                                                1...86_400) ?? readyOutboxLagSeconds
    }

    private static func readFile(_ path: String) throws(ConfigurationError) -> [String: String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigurationError("the configuration file '\(path)' (--config or METRIKA_CONFIG) cannot be read")
        }
        var values: [String: String] = [:]
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard let equals = trimmed.firstIndex(of: "="), trimmed.hasPrefix("METRIKA_") else {
                throw ConfigurationError("\(path):\(number + 1): expected METRIKA_KEY=value")
            }
            let key = trimmed[..<equals].trimmingCharacters(in: .whitespaces)
            var value = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            values[key] = value
        }
        return values
    }
}

/// A PBX feed the gateway can consume as it is published.
public enum PBXFeed: String, Sendable, CaseIterable {
    case asteriskCDR = "asterisk-cdr"
    case asteriskCEL = "asterisk-cel"
    case freeswitch
}

/// A configuration value that cannot be used, with what to change.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
