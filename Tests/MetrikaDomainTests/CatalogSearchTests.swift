import Foundation
import Testing
@testable import MetrikaDomain

@Suite("Catalog search offers entries for what an operator is typing")
struct CatalogSearchTests {
    /// Every entry contains `порт` in a different way; catalog order is the reverse of the expected ranking.
    static let ports = [
        CatalogEntry(code: "sport", title: "Спорт", synonyms: []),
        CatalogEntry(code: "port_reboot", title: "Перезагрузка порта", synonyms: ["ребут"]),
        CatalogEntry(code: "reset", title: "Сброс", synonyms: ["порт сбросить"]),
        CatalogEntry(code: "portal", title: "Портал", synonyms: []),
        CatalogEntry(code: "port", title: "Порт", synonyms: []),
        CatalogEntry(code: "other", title: "Другое", synonyms: ["иное"]),
    ]

    func search(_ entries: [CatalogEntry], _ text: String) throws -> [String] {
        try CatalogList(entries).search(text).map { "\($0.entry.code):\($0.kind.rawValue)" }
    }

    @Test("Exact names come first, then title prefixes, synonym prefixes, word starts and substrings")
    func ranking() throws {
        #expect(try search(Self.ports, "порт") == [
            "port:exact", "portal:title_prefix", "reset:synonym_prefix", "port_reboot:word_start", "sport:substring",
        ])
    }

    @Test("Letter case, ё and extra spaces do not matter", arguments: [
        ("ПОРТ", "port:exact"),
        ("  Порт  ", "port:exact"),
        ("ОБЕЩАННЫЙ   ПЛАТЕЖ", "promised:exact"),
        ("обещанный платёж", "promised:exact"),
        ("Обещ", "promised:title_prefix"),
        ("ПЛАТЁ", "promised:word_start"),
        ("ДОВЕРИТЕЛЬНЫЙ ПЛАТЁЖ", "promised:exact"),
        ("ещанн", "promised:substring"),
    ])
    func foldedComparison(typed: String, expected: String) throws {
        let entries = [
            CatalogEntry(code: "port", title: "Порт", synonyms: []),
            CatalogEntry(code: "promised", title: "Обещанный платёж", synonyms: ["доверительный платеж"]),
        ]
        #expect(try search(entries, typed) == [expected])
    }

    @Test("Entries that match equally well keep catalog order (sources: most popular first)")
    func tiesKeepCatalogOrder() throws {
        let sources = [
            CatalogEntry(code: "incoming_call", title: "Входящий звонок", synonyms: ["звонок"]),
            CatalogEntry(code: "outgoing_call", title: "Исходящий звонок", synonyms: []),
            CatalogEntry(code: "site_chat", title: "Чат на сайте", synonyms: []),
            CatalogEntry(code: "missed_call", title: "Пропущенный звонок", synonyms: []),
        ]
        #expect(try search(sources, "звон") == ["incoming_call:synonym_prefix", "outgoing_call:word_start", "missed_call:word_start"])
        #expect(try search(sources, "звонок") == ["incoming_call:exact", "outgoing_call:word_start", "missed_call:word_start"])
    }

    @Test("An entry is offered once, with its best name as the catalog writes it")
    func bestNamePerEntry() throws {
        let list = try CatalogList([CatalogEntry(code: "no_internet", title: "Нет интернета", synonyms: ["инет не работает", "Нет Инета"])])
        let suggestions = list.search("нет инета")
        #expect(suggestions.count == 1)
        #expect(suggestions.first?.kind == .exact)
        #expect(suggestions.first?.matchedName == "Нет Инета")
        #expect(list.search("инет").first?.matchedName == "инет не работает")
    }

    @Test("A word after a space, hyphen or slash starts a word; a letter inside a word does not")
    func wordBoundaries() throws {
        let entries = [
            CatalogEntry(code: "wifi", title: "Проблемы с Wi-Fi", synonyms: []),
            CatalogEntry(code: "messenger", title: "Telegram / мессенджер", synonyms: []),
            CatalogEntry(code: "cabinet", title: "Личный кабинет", synonyms: []),
        ]
        #expect(try search(entries, "fi") == ["wifi:word_start"])
        #expect(try search(entries, "мессен") == ["messenger:word_start"])
        #expect(try search(entries, "инет") == ["cabinet:substring"])
    }

    @Test("Text that folds to nothing, or is in no name, offers nothing", arguments: ["", "   ", "\t", "луна"])
    func nothingOffered(typed: String) throws {
        #expect(try CatalogList(Self.ports).search(typed).isEmpty)
    }

    @Test("In the shipped catalog 'инет' offers «Нет интернета» first, then reasons where a word starts with it")
    func shippedCatalog() throws {
        let suggestions = try Fixture.defaultCatalog().reasons.search("инет")
        #expect(suggestions.map(\.entry.code) == ["no_internet", "slow_speed", "intermittent_connection", "personal_account_access"])
        #expect(suggestions.map(\.kind) == [.synonymPrefix, .wordStart, .wordStart, .substring])
        #expect(suggestions.map(\.matchedName) == ["инет не работает", "медленный инет", "пропадает инет", "Доступ в личный кабинет"])
    }

    @Test("Match kinds compare in the order suggestions are offered")
    func kindsCompare() {
        #expect(CatalogMatchKind.allCases.sorted() == [.exact, .titlePrefix, .synonymPrefix, .wordStart, .substring])
        #expect(CatalogMatchKind.exact < .substring)
        #expect(!(CatalogMatchKind.wordStart < .synonymPrefix))
    }
}
