import Foundation
import Synchronization

/// A failure of the benchmark or of what it measures, in words a person can act on.
struct BenchError: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// Nanoseconds on the monotonic clock; comparable across the bench's threads.
func monotonicNanos() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

/// Seconds between two `monotonicNanos()` readings.
func seconds(from start: UInt64, to end: UInt64) -> Double {
    Double(end &- start) / 1e9
}

/// A progress note on stderr (stdout carries only result lines).
func note(_ text: String) {
    FileHandle.standardError.write(Data("metrika-bench: \(text)\n".utf8))
}

/// A dedicated thread for blocking broker work (rabbitmq-c blocks; it must never run on Swift's
/// cooperative pool). `join` waits for the body's result or rethrows its error.
final class BenchThread<Value: Sendable>: Sendable {
    private let outcome = Mutex<Result<Value, any Error>?>(nil)
    private let finished = DispatchSemaphore(value: 0)

    private init() {}

    /// Starts `body` on a new thread named `name`.
    static func start(_ name: String, _ body: @escaping @Sendable () throws -> Value) -> BenchThread {
        let handle = BenchThread()
        let thread = Thread {
            let result = Result { try body() }
            handle.outcome.withLock { $0 = result }
            handle.finished.signal()
        }
        thread.name = name
        thread.start()
        return handle
    }

    /// Blocks until the body returned; its value, or its error rethrown. Call once.
    func join() throws -> Value {
        finished.wait()
        return try outcome.withLock { $0! }.get()
    }
}

/// One message a bench publisher sends: routing key, `event_id` (also the AMQP `message_id`) and body.
struct BenchMessage: Sendable {
    let routingKey: String
    let id: String
    let body: Data
}

/// SplitMix64: a small seeded generator, so that every run publishes exactly the same data.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    /// The same seed gives the same sequence.
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// True with probability `probability` (0…1).
    mutating func chance(_ probability: Double) -> Bool {
        Double(next() >> 11) / Double(1 << 53) < probability
    }

    /// A uniformly chosen element of a non-empty array.
    mutating func pick<T>(_ elements: [T]) -> T {
        elements[Int(next() % UInt64(elements.count))]
    }

    /// A uniform integer in `range`.
    mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }
}

/// One printed result: `scenario=… run=… key=value … ok=…`, fields in the order they were added.
struct ResultLine: Sendable {
    /// How a value is printed, and whether it has a median.
    enum Value: Sendable {
        case count(Int)
        /// Printed with two decimals.
        case seconds(Double)
        /// Per second, printed as a whole number with `/s`.
        case rate(Double)
        /// Printed with two decimals.
        case ratio(Double)
        /// Milliseconds, printed with two decimals.
        case milliseconds(Double)
        /// Megabytes (MiB), printed with one decimal.
        case megabytes(Double)
        case text(String)

        var number: Double? {
            switch self {
            case let .count(value): Double(value)
            case let .seconds(value), let .rate(value), let .ratio(value), let .milliseconds(value), let .megabytes(value): value
            case .text: nil
            }
        }

        /// The same kind of value holding `number`.
        func with(_ number: Double) -> Value {
            switch self {
            case .count: .count(Int(number.rounded()))
            case .seconds: .seconds(number)
            case .rate: .rate(number)
            case .ratio: .ratio(number)
            case .milliseconds: .milliseconds(number)
            case .megabytes: .megabytes(number)
            case .text: self
            }
        }

        var printed: String {
            switch self {
            case let .count(value): String(value)
            case let .seconds(value), let .ratio(value), let .milliseconds(value): String(format: "%.2f", value)
            case let .rate(value): String(format: "%.0f/s", value)
            case let .megabytes(value): String(format: "%.1f", value)
            case let .text(value): value.contains(" ") ? "\"\(value.replacingOccurrences(of: "\"", with: "'"))\"" : value
            }
        }
    }

    let scenario: Scenario
    /// `1`, `2`, … or `median`.
    let run: String
    private(set) var fields: [(String, Value)] = []
    /// Whether every check of the run passed.
    var ok = true
    /// Why the run failed, when it did.
    var error: String?

    /// An empty, passing line.
    init(_ scenario: Scenario, run: String) {
        self.scenario = scenario
        self.run = run
    }

    mutating func add(_ key: String, _ value: Value) { fields.append((key, value)) }

    /// Adds `actual` and `expected_<key>`, and fails the line when they differ.
    mutating func check(_ key: String, actual: Int, expected: Int) {
        add(key, .count(actual))
        add("expected_\(key)", .count(expected))
        if actual != expected { ok = false }
    }

    /// The value of field `key`, if the line has it.
    func value(_ key: String) -> Value? { fields.first { $0.0 == key }?.1 }

    var printed: String {
        var parts = ["scenario=\(scenario.rawValue)", "run=\(run)"] + fields.map { "\($0.0)=\($0.1.printed)" }
        parts.append("ok=\(ok)")
        if let error { parts.append("error=\"\(error.replacingOccurrences(of: "\"", with: "'").replacingOccurrences(of: "\n", with: " | "))\"") }
        return parts.joined(separator: " ")
    }

    /// The median of every numeric field over `lines` (fields as in the first line that has them); ok
    /// only when every run was.
    static func median(of lines: [ResultLine]) -> ResultLine {
        var median = ResultLine(lines[0].scenario, run: "median")
        median.add("runs", .count(lines.count))
        let measured = lines.filter { $0.error == nil }
        for (key, value) in measured.first?.fields ?? [] {
            let numbers = measured.compactMap { $0.value(key)?.number }.sorted()
            if numbers.isEmpty {
                median.add(key, value)
            } else {
                let middle = numbers.count / 2
                median.add(key, value.with(numbers.count % 2 == 1 ? numbers[middle] : (numbers[middle - 1] + numbers[middle]) / 2))
            }
        }
        median.ok = lines.allSatisfy(\.ok)
        return median
    }
}
