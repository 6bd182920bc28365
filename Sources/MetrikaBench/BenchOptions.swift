import Foundation
import MetrikaAMQP

/// One benchmark scenario of issue 6 (BENCHMARKS.md describes each).
enum Scenario: String, CaseIterable, Sendable {
    case raw, sync, storm, latency, start
}

/// What to run, parsed from the command line and the environment.
struct BenchOptions: Sendable {
    /// The `--help` text.
    static let usage = """
        Usage: metrika-bench <raw|sync|storm|latency|start|all> [options]

        Measures the gateway against the real RabbitMQ and prints one key=value line per run
        (and a median line with --runs N > 1). Exits 1 when a check fails (ok=false), 2 on bad usage.

        Options:
          --runs N                  runs per scenario (default 1; official figures use 3)
          --smoke                   tiny counts, finishes in well under a minute (used by scripts/test.sh)
          --n COUNT                 main count of every selected scenario: raw messages, sync subscribers,
                                    storm events, latency missed calls (sent at 500/s), start subscribers
          --queue-type TYPE         quorum (default) or classic, for the gateway's queues and the bench's own
          --gateway PATH            gateway executable (default .build/release/metrika)
          -h, --help                show this help

        Environment:
          METRIKA_BENCH_AMQP_URL    broker (default amqp://guest:guest@127.0.0.1:5672/%2f); handed to the
                                    gateway as METRIKA_AMQP_URL
          Other METRIKA_* keys (e.g. METRIKA_PREFETCH) are passed through to the gateway unchanged.
        """

    /// Scenarios in the order they run (`all` = every scenario, start last so it can reuse sync's database).
    var scenarios: [Scenario] = []
    /// `--runs`, default 1.
    var runs = 1
    /// `--smoke`: tiny counts.
    var smoke = false
    /// `--n`: overrides every selected scenario's main count.
    var count: Int?
    /// `--queue-type`: `quorum` (default) or `classic`.
    var queueType = "quorum"
    /// `--gateway`: the gateway executable, default `.build/release/metrika`.
    var gatewayPath = ".build/release/metrika"
    /// `-h`, `--help`.
    var help = false
    /// `METRIKA_BENCH_AMQP_URL`, default the local broker.
    var brokerURL: AMQPURL
    /// The same URL as given, for the gateway's `METRIKA_AMQP_URL`.
    var brokerURLText: String

    /// Parses `arguments` (without the program name).
    init(arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment) throws(BenchError) {
        brokerURLText = environment["METRIKA_BENCH_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/%2f"
        do {
            brokerURL = try AMQPURL(parsing: brokerURLText)
        } catch {
            throw BenchError("METRIKA_BENCH_AMQP_URL is not usable: \(error.message)")
        }
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "-h", "--help":
                help = true
            case "--smoke":
                smoke = true
            case "--runs":
                runs = try Self.number(iterator.next(), for: "--runs", in: 1...100)
            case "--n":
                count = try Self.number(iterator.next(), for: "--n", in: 1...BenchNumbers.maximumSubscribers)
            case "--queue-type":
                guard let type = iterator.next(), ["quorum", "classic"].contains(type) else {
                    throw BenchError("--queue-type must be quorum or classic")
                }
                queueType = type
            case "--gateway":
                guard let path = iterator.next(), !path.isEmpty else { throw BenchError("--gateway needs the path of the metrika executable") }
                gatewayPath = path
            case "all":
                guard scenarios.isEmpty else { throw BenchError("name one scenario (or all)") }
                scenarios = Scenario.allCases
            default:
                guard let scenario = Scenario(rawValue: argument) else {
                    throw BenchError("unknown scenario or option '\(argument)'")
                }
                guard scenarios.isEmpty else { throw BenchError("name one scenario (or all)") }
                scenarios = [scenario]
            }
        }
        if scenarios.isEmpty && !help { throw BenchError("name a scenario: raw, sync, storm, latency, start or all") }
    }

    /// The main count of `scenario`: `--n`, else the smoke or the full figure of issue 6.
    func count(for scenario: Scenario) -> Int {
        if let count { return count }
        switch scenario {
        case .raw: return smoke ? 2_000 : 200_000
        case .sync: return smoke ? 2_000 : 1_000_000
        case .storm: return smoke ? 2_000 : 200_000
        case .latency: return LatencyScenario.callsPerSecond * (smoke ? 3 : 60)
        case .start: return smoke ? 2_000 : 1_000_000
        }
    }

    private static func number(_ text: String?, for option: String, in range: ClosedRange<Int>) throws(BenchError) -> Int {
        guard let text, let value = Int(text), range.contains(value) else {
            throw BenchError("\(option) needs a whole number between \(range.lowerBound) and \(range.upperBound)")
        }
        return value
    }
}
