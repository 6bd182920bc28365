/// How well a catalog entry matches what an operator is typing, best first.
///
/// The order is the order suggestions are offered in: an entry named exactly as typed, then entries whose
/// title starts with the text, then those with a synonym starting with it, then those with a word inside
/// a title or synonym starting with it, then those merely containing it.
public enum CatalogMatchKind: String, Codable, Sendable, CaseIterable, Comparable {
    /// The title or a synonym is exactly the text (`нет инета`).
    case exact
    /// The title starts with the text (`нет ин` → `Нет интернета`).
    case titlePrefix = "title_prefix"
    /// A synonym starts with the text (`инет` → `инет не работает`).
    case synonymPrefix = "synonym_prefix"
    /// A word after the first, in the title or a synonym, starts with the text (`интер` → `Нет интернета`).
    case wordStart = "word_start"
    /// The title or a synonym contains the text anywhere else (`тернет` → `Нет интернета`).
    case substring

    public static func < (lhs: CatalogMatchKind, rhs: CatalogMatchKind) -> Bool { lhs.rank < rhs.rank }

    private var rank: Int { CatalogMatchKind.allCases.firstIndex(of: self)! }
}

/// One entry offered for what an operator typed.
public struct CatalogSuggestion: Sendable, Equatable {
    /// The entry offered.
    public let entry: CatalogEntry
    /// How well it matched (its best name).
    public let kind: CatalogMatchKind
    /// The title or synonym that matched, as written in the catalog.
    public let matchedName: String

    /// `entry`, offered because `matchedName` matched as `kind`.
    public init(entry: CatalogEntry, kind: CatalogMatchKind, matchedName: String) {
        self.entry = entry
        self.kind = kind
        self.matchedName = matchedName
    }
}

extension CatalogList {
    /// What typing `text` offers: every entry whose title or a synonym matches it, each once with its best
    /// match, best first (`CatalogMatchKind` order), ties in catalog order (for sources: most popular first).
    ///
    /// Text and names are compared folded (`CatalogList.fold`): Cyrillic case-insensitive, `ё` read as `е`,
    /// whitespace collapsed. Text that folds to nothing offers nothing.
    public func search(_ text: String) -> [CatalogSuggestion] {
        let typed = CatalogList.fold(text)
        guard !typed.isEmpty else { return [] }
        var found: [(position: Int, suggestion: CatalogSuggestion)] = []
        for (position, entry) in entries.enumerated() {
            var best: CatalogSuggestion?
            for (index, name) in ([entry.title] + entry.synonyms).enumerated() {
                guard let kind = CatalogList.match(typed, in: CatalogList.fold(name), isTitle: index == 0) else { continue }
                if best.map({ kind < $0.kind }) ?? true {
                    best = CatalogSuggestion(entry: entry, kind: kind, matchedName: name)
                }
            }
            if let best { found.append((position, best)) }
        }
        return found.sorted { ($0.suggestion.kind, $0.position) < ($1.suggestion.kind, $1.position) }.map(\.suggestion)
    }

    /// How `typed` matches one folded name, or nil when the name does not contain it.
    static func match(_ typed: String, in name: String, isTitle: Bool) -> CatalogMatchKind? {
        if name == typed { return .exact }
        if name.hasPrefix(typed) { return isTitle ? .titlePrefix : .synonymPrefix }
        guard name.contains(typed) else { return nil }
        var previous: Character?
        for index in name.indices {
            if let previous, !previous.isLetter, !previous.isNumber, name[index...].hasPrefix(typed) {
                return .wordStart
            }
            previous = name[index]
        }
        return .substring
    }
}
