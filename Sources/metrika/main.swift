import Foundation
import MetrikaAMQP
import MetrikaGateway

/// `metrika <subcommand> [options]`: parses arguments, builds the configuration, runs.
let usage = """
    Usage: metrika <command> [options]

    Commands:
      gateway    Run the gateway until SIGINT or SIGTERM.
      topology   Declare the exchanges, queues and bindings, then exit.
      help       Show this help.

    Run 'metrika <command> --help' for the options of a command.
    Configuration comes from METRIKA_* environment variables (see README.md).
    """

let keyColumnWidth = GatewayConfiguration.keys.map(\.0.count).max() ?? 0
let configurationHelp = GatewayConfiguration.keys.map { "  \($0.0.padding(toLength: keyColumnWidth, withPad: " ", startingAt: 0))  \($0.1)" }
    .joined(separator: "\n")

struct CommandLineError: Error {
    let message: String
}

/// Parses `--config FILE`, `--help`; rejects anything else with a clear error.
func parseOptions(_ arguments: ArraySlice<String>, command: String) throws(CommandLineError) -> (help: Bool, config: String?) {
    var help = false
    var config: String?
    var iterator = arguments.makeIterator()
    while let argument = iterator.next() {
        switch argument {
        case "-h", "--help":
            help = true
        case "--config":
            guard let value = iterator.next() else { throw CommandLineError(message: "--config needs a file path") }
            config = value
        default:
            if argument.hasPrefix("--config=") {
                config = String(argument.dropFirst("--config=".count))
            } else {
                throw CommandLineError(message: "unknown option '\(argument)' for 'metrika \(command)'; see 'metrika \(command) --help'")
            }
        }
    }
    return (help, config)
}

func loadConfiguration(_ file: String?) throws(ConfigurationError) -> GatewayConfiguration {
    var environment = ProcessInfo.processInfo.environment
    if let file { environment["METRIKA_CONFIG"] = file }
    return try GatewayConfiguration.load(environment: environment)
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("metrika: \(message)\n".utf8))
    exit(2)
}

func runGateway(_ configuration: GatewayConfiguration) -> Never {
    let logger = Logger(level: configuration.logLevel)
    let gateway: Gateway
    do {
        gateway = try Gateway(configuration: configuration, logger: logger)
    } catch {
        fail(error.message)
    }
    signal(SIGINT, SIG_IGN)
    signal(SIGTERM, SIG_IGN)
    let stopRequested = DispatchSemaphore(value: 0)
    let sources = [SIGINT, SIGTERM].map { number in
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler { stopRequested.signal() }
        source.resume()
        return source
    }
    gateway.start()
    stopRequested.wait()
    gateway.stop()
    sources.forEach { $0.cancel() }
    exit(gateway.status.failure == nil ? 0 : 1)
}

func runTopology(_ configuration: GatewayConfiguration) -> Never {
    let logger = Logger(level: configuration.logLevel)
    let topology = Topology(names: configuration.names, queueType: configuration.queueType, deliveryLimit: configuration.deliveryLimit,
                 retryDelays: configuration.retryDelays)
    do {
        let connection = try AMQPConnection(AMQPConnectionSettings(url: configuration.amqpURL, tls: configuration.tls,
                                                                   heartbeatSeconds: configuration.heartbeatSeconds,
                                                                   connectionName: "metrika-topology"))
        do {
            try topology.declare(on: connection)
            connection.close()
        } catch {
            connection.abandon()
            throw error
        }
    } catch {
        fail("cannot declare the topology on \(configuration.amqpURL): \(error)")
    }
    logger.info("topology declared", ["broker": configuration.amqpURL.description,
                                      "queues": (topology.inputs.map(\.queue) + [configuration.names.deadQueue]).joined(separator: ",")])
    exit(0)
}

let arguments = CommandLine.arguments.dropFirst()
guard let command = arguments.first else {
    print(usage)
    exit(2)
}
let commandHelp = [
    "gateway": "Usage: metrika gateway [--config FILE]\n\nConsumes RS, telephony and command messages, stores tickets and callbacks in SQLite\nand publishes events, until SIGINT or SIGTERM.\n",
    "topology": "Usage: metrika topology [--config FILE]\n\nDeclares the durable exchanges, the gateway's queues and bindings and the dead-letter\nqueue (idempotent), then exits.\n",
]
switch command {
case "help", "-h", "--help":
    print(usage)
    exit(0)
case "gateway", "topology":
    let options: (help: Bool, config: String?)
    do {
        options = try parseOptions(arguments.dropFirst(), command: command)
    } catch {
        fail(error.message)
    }
    if options.help {
        print(commandHelp[command]! + "\nOptions:\n  --config FILE   read METRIKA_* keys from FILE (KEY=VALUE lines); the environment wins\n  -h, --help      show this help\n\nConfiguration keys (default):\n" + configurationHelp)
        exit(0)
    }
    let configuration: GatewayConfiguration
    do {
        configuration = try loadConfiguration(options.config)
    } catch {
        fail(error.message)
    }
    if command == "gateway" { runGateway(configuration) } else { runTopology(configuration) }
default:
    fail("unknown command '\(command)'; see 'metrika --help'")
}
