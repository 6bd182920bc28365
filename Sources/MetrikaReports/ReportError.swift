import MetrikaStore

/// Why a view or report cannot be produced, with what a person can do about it.
public struct ReportError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure; codes can grow.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String {
            case invalidArgument = "invalid_argument"
            case notFound = "not_found"
            case databaseMissing = "database_missing"
            case databaseFailed = "database_failed"
            case unreadableData = "unreadable_data"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A month, date, phone number or range that cannot be used as given.
        public static let invalidArgument = Code(.invalidArgument)
        /// The ticket asked for does not exist.
        public static let notFound = Code(.notFound)
        /// There is no database file where the configuration points.
        public static let databaseMissing = Code(.databaseMissing)
        /// SQLite refused the query (busy, locked, I/O, …).
        public static let databaseFailed = Code(.databaseFailed)
        /// A stored row cannot be read (written by an incompatible version, or damaged).
        public static let unreadableData = Code(.unreadableData)

        public var description: String { value.rawValue }
    }

    /// What kind of failure.
    public let code: Code
    /// What went wrong and what to do about it, for a person.
    public let message: String
    /// Whether asking again later can help (a busy or locked database).
    public let isRetryable: Bool

    /// A failure of kind `code`, explained by `message`.
    public init(_ code: Code, _ message: String, isRetryable: Bool = false) {
        self.code = code
        self.message = message
        self.isRetryable = isRetryable
    }

    /// Wraps a store failure, saying what was being read.
    init(_ error: StoreError, reading what: String) {
        self.init(.databaseFailed, "cannot read \(what): \(error.message)", isRetryable: error.isTransient)
    }

    public var description: String { message }
}
