import Foundation
import MetrikaAMQP
import MetrikaDomain
import MetrikaGateway
import MetrikaHTTP
import MetrikaReports
import MetrikaStore

/// `metrika <subcommand> [options]`: parses arguments, builds the configuration, runs.
let usage = """
    Usage: metrika <command> [options]

    Commands:
      gateway            Run the gateway until SIGINT or SIGTERM.
      topology           Declare the exchanges, queues and bindings, then exit.
      callbacks          The unprocessed list: open callbacks, oldest first.
      tickets mine       An operator's tickets created in a month.
      tickets history    A subscriber's tickets, by RS ID or by any phone format.
      ticket show        One ticket with its edits.
      report pay         Saved tickets per operator for a month, by kind (for pay).
      report reasons     Reasons and resolutions of the saved tickets of a period.
      catalog search     What typing offers from the catalog.
      help               Show this help.

    Run 'metrika <command> --help' for the options of a command.
    Configuration comes from METRIKA_* environment variables (see README.md).
    """

/// One line per key; a name longer than the column gets its value on the next line instead of being cut.
let configurationHelp = GatewayConfiguration.keys.map { key, value in
    key.count < 52 ? "  \(key.padding(toLength: 52, withPad: " ", startingAt: 0)) \(value)"
        : "  \(key)\n  \(String(repeating: " ", count: 52)) \(value)"
}
    .joined(separator: "\n")

struct CommandLineError: Error {
    let message: String
}

/// An option a command accepts: `--name VALUE` (also `--name=VALUE`), or a flag when `value` is nil.
struct OptionSpec {
    let name: String
    let value: String?
    let help: String

    static let json = OptionSpec(name: "--json", value: nil, help: "print JSON (snake_case keys, times in METRIKA_TZ)")
    static let csv = OptionSpec(name: "--csv", value: nil, help: "print CSV (RFC 4180) for a spreadsheet")
}

/// What `parseArguments` found: option values, flags, operands, and the options every command takes.
struct ParsedArguments {
    var values: [String: String] = [:]
    var flags: Set<String> = []
    var operands: [String] = []
    var help = false
    var config: String?
}

/// Parses `options` plus `--config FILE` and `--help`, and at most `maxOperands` operands; rejects
/// anything else, a repeated option and a missing value with a clear error.
func parseArguments(_ arguments: ArraySlice<String>, options: [OptionSpec], maxOperands: Int,
                    command: String) throws(CommandLineError) -> ParsedArguments {
    let all = options + [OptionSpec(name: "--config", value: "FILE", help: "")]
    var parsed = ParsedArguments()
    var iterator = arguments.makeIterator()
    while let argument = iterator.next() {
        if argument == "-h" || argument == "--help" {
            parsed.help = true
            continue
        }
        guard argument.hasPrefix("-"), argument.count > 1 else {
            guard parsed.operands.count < maxOperands else {
                throw CommandLineError(message: "unexpected argument '\(argument)' for 'metrika \(command)'; see 'metrika \(command) --help'")
            }
            parsed.operands.append(argument)
            continue
        }
        let name = String(argument.prefix { $0 != "=" })
        guard let option = all.first(where: { $0.name == name }) else {
            throw CommandLineError(message: "unknown option '\(name)' for 'metrika \(command)'; see 'metrika \(command) --help'")
        }
        guard parsed.values[name] == nil, !parsed.flags.contains(name) else {
            throw CommandLineError(message: "\(name) is given twice; give it once")
        }
        guard let placeholder = option.value else {
            guard name == argument else { throw CommandLineError(message: "\(name) takes no value") }
            parsed.flags.insert(name)
            continue
        }
        let inline = name == argument ? nil : String(argument.dropFirst(name.count + 1))
        guard let value = inline ?? iterator.next(), !value.isEmpty else {
            throw CommandLineError(message: "\(name) needs a value: \(name) \(placeholder)")
        }
        parsed.values[name] = value
    }
    parsed.config = parsed.values.removeValue(forKey: "--config")
    return parsed
}

func loadConfiguration(_ file: String?) throws(ConfigurationError) -> GatewayConfiguration {
    var environment = ProcessInfo.processInfo.environment
    if let file { environment["METRIKA_CONFIG"] = file }
    return try GatewayConfiguration.load(environment: environment)
}

/// Prints `message` on stderr and exits: 2 for a usage or configuration error, 1 for a failure at run time.
func fail(_ message: String, status: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data("metrika: \(message)\n".utf8))
    exit(status)
}

/// Starts the HTTP listener (health, metrics, API, operator's page) or exits: 2 for a bad configuration,
/// 1 when it cannot listen.
func startOperations(_ configuration: GatewayConfiguration, _ gateway: Gateway, _ logger: Logger) -> OperationsServer {
    let server: OperationsServer
    do {
        server = try OperationsServer(configuration: configuration, status: gateway.status, metrics: gateway.metrics, logger: logger)
    } catch {
        fail(error.message)
    }
    do {
        try server.start()
    } catch {
        fail(error.message, status: 1)
    }
    return server
}

func runGateway(_ configuration: GatewayConfiguration) -> Never {
    let logger = Logger(level: configuration.logLevel)
    let gateway: Gateway
    do {
        gateway = try Gateway(configuration: configuration, logger: logger)
    } catch {
        fail(error.message)
    }
    let operations = configuration.httpEnabled ? startOperations(configuration, gateway, logger) : nil
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
    operations?.stop()
    sources.forEach { $0.cancel() }
    exit(gateway.status.failure == nil ? 0 : 1)
}

func runTopology(_ configuration: GatewayConfiguration) -> Never {
    let logger = Logger(level: configuration.logLevel)
    let topology = Topology(configuration)
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

// MARK: Operator and supervisor views

/// A view command (`report pay`): its options, help and what it prints.
struct ViewCommand {
    let name: String
    let synopsis: String
    let summary: String
    let options: [OptionSpec]
    let maxOperands: Int
    let run: (ParsedArguments, ViewContext) throws(CommandLineError) -> String
}

/// What a view command works with: the configuration, how to print, and the query layer.
struct ViewContext {
    let configuration: GatewayConfiguration
    let text: ReportText
    let format: OutputFormat

    /// Runs `body` on the store named by `METRIKA_DB`, closing it afterwards; exits with status 1 when
    /// the data cannot be read and 2 when an argument is refused.
    func withReports<T>(_ body: (Reports) throws(ReportError) -> T) -> T {
        do {
            let store = try Reports.openStore(path: configuration.databasePath)
            defer { store.close() }
            return try body(Reports(store: store, zone: configuration.timeZone, plan: configuration.numberingPlan,
                                    overdueAfter: TimeInterval(configuration.callbackOverdueSeconds)))
        } catch {
            fail(error.message, status: error.code == .invalidArgument ? 2 : 1)
        }
    }

    /// `view` as JSON, as CSV (only views with a `csv` form accept `--csv`), or as the table `table` draws.
    func output<View: Encodable>(_ view: View, table: (View) -> String, csv: ((View) -> String)? = nil) -> String {
        switch format {
        case .table: return table(view)
        case .csv:
            guard let csv else { preconditionFailure("a view without a CSV form accepted --csv") }
            return csv(view)
        case .json:
            do {
                return try ReportJSON.text(view, zone: configuration.timeZone)
            } catch {
                fail("cannot write the view as JSON: \(error)", status: 1)
            }
        }
    }
}

enum OutputFormat {
    case table, json, csv
}

/// The month of `--month`, or nil when it is not given; refuses anything but `YYYY-MM`.
func parseMonth(_ parsed: ParsedArguments) throws(CommandLineError) -> ReportMonth? {
    guard let text = parsed.values["--month"] else { return nil }
    guard let month = ReportMonth(parsing: text) else {
        throw CommandLineError(message: "--month '\(text)' is not a month; use YYYY-MM, e.g. 2026-11")
    }
    return month
}

/// The calendar date given with `option`; refuses anything but an existing `YYYY-MM-DD`.
func parseDate(_ parsed: ParsedArguments, _ option: String) throws(CommandLineError) -> LocalDate {
    guard let text = parsed.values[option] else { throw CommandLineError(message: "\(option) YYYY-MM-DD is required") }
    guard let date = LocalDate(iso: text) else {
        throw CommandLineError(message: "\(option) '\(text)' is not a date; use YYYY-MM-DD, e.g. 2026-11-30")
    }
    return date
}

let viewCommands: [ViewCommand] = [
    ViewCommand(
        name: "callbacks", synopsis: "[--json]",
        summary: """
            The unprocessed list: every open callback, oldest first, with the number, the subscriber (name,
            contract, RS ID; "неизвестен" or the number of candidates when the number is not one subscriber's),
            the address, missed calls, failed attempts and how long it has waited. On a terminal callbacks are
            blue, and red once overdue (waiting longer than METRIKA_CALLBACK_OVERDUE_SECONDS, or reported
            overdue by the gateway); plain when piped or with NO_COLOR set.
            """,
        options: [.json], maxOperands: 0
    ) { _, context throws(CommandLineError) in
        let list = context.withReports { reports throws(ReportError) in try reports.openCallbacks(at: Date()) }
        return context.output(list, table: context.text.callbacks)
    },
    ViewCommand(
        name: "tickets mine", synopsis: "--operator LOGIN [--month YYYY-MM] [--json]",
        summary: """
            The tickets credited to the operator (their author), drafts and saved, created in the month
            (default: the current month in METRIKA_TZ), newest first.
            """,
        options: [OptionSpec(name: "--operator", value: "LOGIN", help: "the operator's login, e.g. op.petrova"),
                  OptionSpec(name: "--month", value: "YYYY-MM", help: "the month in METRIKA_TZ (default: the current month)"), .json],
        maxOperands: 0
    ) { parsed, context throws(CommandLineError) in
        guard let login = parsed.values["--operator"] else { throw CommandLineError(message: "--operator LOGIN is required") }
        let month = try parseMonth(parsed) ?? ReportMonth(containing: Date(), in: context.configuration.timeZone)
        let view = context.withReports { reports throws(ReportError) in try reports.tickets(of: login, in: month) }
        return context.output(view, table: context.text.tickets)
    },
    ViewCommand(
        name: "tickets history", synopsis: "(--rs-id N | --phone NUMBER) [--json]",
        summary: """
            A subscriber's tickets, newest first. By RS ID: the tickets that name the subscriber. By phone,
            typed in any format (METRIKA_COUNTRY's numbering plan): the tickets of every subscriber with the
            number and the tickets whose contact phone it is.
            """,
        options: [OptionSpec(name: "--rs-id", value: "N", help: "the subscriber's RS ID"),
                  OptionSpec(name: "--phone", value: "NUMBER", help: "a number in any format, e.g. '8 (900) 000-11-22'"), .json],
        maxOperands: 0
    ) { parsed, context throws(CommandLineError) in
        switch (parsed.values["--rs-id"], parsed.values["--phone"]) {
        case let (rsText?, nil):
            guard let rsID = Int64(rsText), rsID > 0 else {
                throw CommandLineError(message: "--rs-id '\(rsText)' is not an RS ID; use the subscriber's number in RS, e.g. 100234")
            }
            let view = context.withReports { reports throws(ReportError) in try reports.history(rsID: rsID) }
            return context.output(view, table: context.text.history)
        case let (nil, phone?):
            let view = context.withReports { reports throws(ReportError) in try reports.history(phone: phone) }
            return context.output(view, table: context.text.history)
        default:
            throw CommandLineError(message: "give exactly one of --rs-id N or --phone NUMBER")
        }
    },
    ViewCommand(
        name: "ticket show", synopsis: "ID [--json]",
        summary: "One ticket with every field, its accepted edits (who, when, from where, what changed) and its callback.",
        options: [.json], maxOperands: 1
    ) { parsed, context throws(CommandLineError) in
        guard let id = parsed.operands.first else { throw CommandLineError(message: "the ticket ID is required: metrika ticket show ID") }
        let detail = context.withReports { reports throws(ReportError) in try reports.ticket(id: id) }
        return context.output(detail, table: context.text.ticket)
    },
    ViewCommand(
        name: "report pay", synopsis: "--month YYYY-MM [--json | --csv]",
        summary: """
            Per operator: the saved tickets credited to them (author) created in the month in METRIKA_TZ,
            split into answered calls, callbacks handled, failed callback attempts, manual tickets and
            periodic tasks, with the total.
            """,
        options: [OptionSpec(name: "--month", value: "YYYY-MM", help: "the month in METRIKA_TZ"), .json, .csv], maxOperands: 0
    ) { parsed, context throws(CommandLineError) in
        guard let month = try parseMonth(parsed) else { throw CommandLineError(message: "--month YYYY-MM is required") }
        let report = context.withReports { reports throws(ReportError) in try reports.pay(month: month) }
        return context.output(report, table: context.text.pay, csv: ReportCSV.pay)
    },
    ViewCommand(
        name: "report reasons", synopsis: "--from YYYY-MM-DD --to YYYY-MM-DD [--json | --csv]",
        summary: """
            Over the saved tickets created from the first to the last day (inclusive, METRIKA_TZ): how many
            have each reason and each resolution and their share of those tickets, and the 20 most frequent
            reason → resolution pairs.
            """,
        options: [OptionSpec(name: "--from", value: "YYYY-MM-DD", help: "the first day"),
                  OptionSpec(name: "--to", value: "YYYY-MM-DD", help: "the last day (inclusive)"), .json, .csv],
        maxOperands: 0
    ) { parsed, context throws(CommandLineError) in
        let (first, last) = (try parseDate(parsed, "--from"), try parseDate(parsed, "--to"))
        let days: ReportDays
        do throws(ReportError) {
            days = try ReportDays(from: first, to: last)
        } catch {
            throw CommandLineError(message: error.message)
        }
        let report = context.withReports { reports throws(ReportError) in try reports.reasons(on: days) }
        return context.output(report, table: context.text.reasons, csv: ReportCSV.reasons)
    },
    ViewCommand(
        name: "catalog search", synopsis: "TEXT [--list reasons|resolutions|sources|tasks] [--json]",
        summary: """
            What typing TEXT offers from the catalog (METRIKA_CATALOG or the built-in one): entries whose title
            or a synonym matches, in any letter case and with ё = е, best first: exact, title prefix, synonym
            prefix, a word inside starting with TEXT, then TEXT anywhere; ties in catalog order.
            """,
        options: [OptionSpec(name: "--list", value: "LIST", help: "search one list: reasons, resolutions, sources or tasks"), .json],
        maxOperands: 1
    ) { parsed, context throws(CommandLineError) in
        guard let text = parsed.operands.first, !CatalogList.fold(text).isEmpty else {
            throw CommandLineError(message: "the text to search is required: metrika catalog search TEXT")
        }
        var lists = CatalogListName.allCases
        if let name = parsed.values["--list"] {
            guard let list = CatalogListName(rawValue: name) else {
                throw CommandLineError(message: "--list '\(name)' is not a catalog list; use reasons, resolutions, sources or tasks")
            }
            lists = [list]
        }
        let catalog: Catalog
        do throws(ConfigurationError) {
            catalog = try CatalogLoader.load(path: context.configuration.catalogPath)
        } catch {
            fail(error.message)
        }
        return context.output(CatalogSearchResult(catalog: catalog, query: text, lists: lists), table: context.text.catalog)
    },
]

/// Parses the arguments of a view command, loads the configuration and prints the view.
func runView(_ command: ViewCommand, _ arguments: ArraySlice<String>) -> Never {
    let parsed: ParsedArguments
    do {
        parsed = try parseArguments(arguments, options: command.options, maxOperands: command.maxOperands, command: command.name)
    } catch {
        fail(error.message)
    }
    if parsed.help {
        let options = (command.options + [OptionSpec(name: "--config", value: "FILE", help: "read METRIKA_* keys from FILE; the environment wins"),
                                          OptionSpec(name: "-h, --help", value: nil, help: "show this help")])
            .map { "  \([$0.name, $0.value].compactMap { $0 }.joined(separator: " ").padding(toLength: 22, withPad: " ", startingAt: 0)) \($0.help)" }
        print("Usage: metrika \(command.name) \(command.synopsis)\n\n\(command.summary)\n\nOptions:\n\(options.joined(separator: "\n"))\n\n"
              + "Reads METRIKA_DB (the gateway's SQLite file); counts days and months in METRIKA_TZ.")
        exit(0)
    }
    if parsed.flags.contains("--json"), parsed.flags.contains("--csv") {
        fail("--json and --csv exclude each other; give one")
    }
    let configuration: GatewayConfiguration
    do {
        configuration = try loadConfiguration(parsed.config)
    } catch {
        fail(error.message)
    }
    let colours = isatty(STDOUT_FILENO) == 1 && (ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty
    let context = ViewContext(configuration: configuration, text: ReportText(zone: configuration.timeZone, colours: colours),
                              format: parsed.flags.contains("--json") ? .json : parsed.flags.contains("--csv") ? .csv : .table)
    do {
        FileHandle.standardOutput.write(Data(try command.run(parsed, context).utf8))
    } catch {
        fail(error.message)
    }
    exit(0)
}

// MARK: Dispatch

let arguments = CommandLine.arguments.dropFirst()
guard let command = arguments.first else {
    print(usage)
    exit(2)
}
let commandHelp = [
    "gateway": "Usage: metrika gateway [--config FILE]\n\nConsumes RS, telephony and command messages, stores tickets and callbacks in SQLite\nand publishes events, until SIGINT or SIGTERM.\n",
    "topology": "Usage: metrika topology [--config FILE]\n\nDeclares the durable exchanges, the gateway's queues and bindings and the dead-letter\nqueue (idempotent), then exits.\n",
]
let groups = Dictionary(grouping: viewCommands.filter { $0.name.contains(" ") }) { String($0.name.prefix { $0 != " " }) }
switch command {
case "help", "-h", "--help":
    print(usage)
    exit(0)
case "gateway", "topology":
    let options: ParsedArguments
    do {
        options = try parseArguments(arguments.dropFirst(), options: [], maxOperands: 0, command: command)
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
case let name where viewCommands.contains(where: { $0.name == name }):
    runView(viewCommands.first { $0.name == name }!, arguments.dropFirst())
case let group where groups[group] != nil:
    let members = groups[group]!
    let subcommand = arguments.dropFirst().first
    if let view = members.first(where: { $0.name == "\(group) \(subcommand ?? "")" }) {
        runView(view, arguments.dropFirst(2))
    }
    let list = members.map { "  metrika \($0.name) \($0.synopsis)" }.joined(separator: "\n")
    if subcommand == "-h" || subcommand == "--help" {
        print("Usage:\n\(list)\n\nRun 'metrika \(group) <subcommand> --help' for details.")
        exit(0)
    }
    fail((subcommand.map { "unknown subcommand '\($0)' for 'metrika \(group)'" } ?? "'metrika \(group)' needs a subcommand")
         + "; use one of:\n\(list)")
default:
    fail("unknown command '\(command)'; see 'metrika --help'")
}
