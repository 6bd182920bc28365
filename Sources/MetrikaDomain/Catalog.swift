/// One entry of the catalog: a reason, a resolution, a source or a periodic task kind.
public struct CatalogEntry: Codable, Hashable, Sendable {
    /// Stable machine code (`no_internet`).
    public let code: String
    /// What operators read (`Нет интернета`).
    public let title: String
    /// Other ways operators type it (`нет инета`).
    public let synonyms: [String]

    public init(code: String, title: String, synonyms: [String]) {
        self.code = code
        self.title = title
        self.synonyms = synonyms
    }

    /// The reference stored in tickets and events.
    public var reference: CatalogReference { CatalogReference(code: code, title: title) }
}

/// A catalog entry as a ticket refers to it: code and title at the time of writing.
public struct CatalogReference: Codable, Hashable, Sendable {
    public let code: String
    public let title: String

    public init(code: String, title: String) {
        self.code = code
        self.title = title
    }
}

/// A list of catalog entries that resolves what an operator typed: by code, title or synonym,
/// in any letter case, with `ё` read as `е`.
public struct CatalogList: Sendable {
    /// Entries in catalog order (for sources: most popular first).
    public let entries: [CatalogEntry]
    private let index: [String: Int]

    public init(_ entries: [CatalogEntry]) throws(CatalogError) {
        self.entries = entries
        var index: [String: Int] = [:]
        for (position, entry) in entries.enumerated() {
            for key in [entry.code, entry.title] + entry.synonyms {
                let folded = CatalogList.fold(key)
                if let existing = index[folded], existing != position {
                    throw CatalogError.ambiguousName(key, entries[existing].code, entry.code)
                }
                index[folded] = position
            }
        }
        self.index = index
    }

    /// The entry named by `text` (code, title or synonym), or nil.
    public func resolve(_ text: String) -> CatalogEntry? {
        index[CatalogList.fold(text)].map { entries[$0] }
    }

    /// The entry with exactly this code.
    public func entry(code: String) -> CatalogEntry? {
        entries.first { $0.code == code }
    }

    /// Lower-cases (Cyrillic included), reads `ё` as `е`, trims and collapses inner whitespace.
    public static func fold(_ text: String) -> String {
        let lowered = text.lowercased().replacingOccurrences(of: "ё", with: "е")
        return lowered.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
}

/// The contact centre's catalog: sources, reasons, resolutions and periodic task kinds.
public struct Catalog: Sendable {
    public let sources: CatalogList
    public let reasons: CatalogList
    public let resolutions: CatalogList
    public let tasks: CatalogList

    /// Codes the gateway relies on; a replacement catalog must keep them.
    public enum RequiredCode {
        public static let callbackReason = "callback_requested"
        public static let incomingCall = "incoming_call"
        public static let outgoingCall = "outgoing_call"
        public static let missedCall = "missed_call"
        /// `Позвонил — не дозвонился`, the resolution of a failed callback attempt.
        public static let noAnswer = "no_answer"
    }

    /// The file format: `{"version": 1, "sources": [...], "reasons": [...], "resolutions": [...], "tasks": [...]}`.
    public struct File: Codable, Sendable {
        public let version: Int
        public let sources: [CatalogEntry]
        public let reasons: [CatalogEntry]
        public let resolutions: [CatalogEntry]
        public let tasks: [CatalogEntry]
    }

    /// Builds the catalog and checks that the entries the gateway needs are present.
    public init(_ file: File) throws(CatalogError) {
        sources = try CatalogList(file.sources)
        reasons = try CatalogList(file.reasons)
        resolutions = try CatalogList(file.resolutions)
        tasks = try CatalogList(file.tasks)
        guard reasons.entry(code: RequiredCode.callbackReason) != nil else {
            throw .missingRequiredEntry("reasons", RequiredCode.callbackReason)
        }
        guard resolutions.entry(code: RequiredCode.noAnswer) != nil else {
            throw .missingRequiredEntry("resolutions", RequiredCode.noAnswer)
        }
        for code in [RequiredCode.incomingCall, RequiredCode.outgoingCall, RequiredCode.missedCall]
        where sources.entry(code: code) == nil {
            throw .missingRequiredEntry("sources", code)
        }
    }

    /// `Попросил перезвонить`.
    public var callbackReason: CatalogEntry { reasons.entry(code: RequiredCode.callbackReason)! }

    /// The source of a ticket drafted from a call in this direction.
    public func callSource(_ direction: CallDirection) -> CatalogEntry {
        sources.entry(code: direction == .inbound ? RequiredCode.incomingCall : RequiredCode.outgoingCall)!
    }

    /// `Пропущенный звонок`.
    public var missedCallSource: CatalogEntry { sources.entry(code: RequiredCode.missedCall)! }
}

/// Why a catalog file cannot be used.
public enum CatalogError: Error, Equatable, CustomStringConvertible {
    case ambiguousName(String, String, String)
    case missingRequiredEntry(String, String)

    public var description: String {
        switch self {
        case let .ambiguousName(name, first, second):
            return "catalog name '\(name)' names both '\(first)' and '\(second)'; make it name one entry"
        case let .missingRequiredEntry(list, code):
            return "catalog list '\(list)' lacks the entry with code '\(code)' that the gateway relies on"
        }
    }
}
