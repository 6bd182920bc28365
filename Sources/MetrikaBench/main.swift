import Foundation

// `metrika-bench <raw|sync|storm|latency|start|all> [options]`: measures the gateway against the real
// broker and prints one key=value line per run (see BENCHMARKS.md). Exit status: 0 when every check
// passed, 1 when one failed (ok=false), 2 on bad usage or when the bench cannot start.

let options: BenchOptions
do {
    options = try BenchOptions(arguments: Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("metrika-bench: \(error.message)\n\n\(BenchOptions.usage)\n".utf8))
    exit(2)
}
if options.help {
    print(BenchOptions.usage)
    exit(0)
}
let session: BenchSession
do {
    session = try BenchSession(options: options)
} catch {
    note("\(error)")
    exit(2)
}
let passed = session.run()
session.cleanUp()
exit(passed ? 0 : 1)
