import Foundation
import Testing
@testable import MetrikaDomain

/// Shared values for the domain tests: zones, the Russian numbering plan, the repository's files.
enum Fixture {
    /// The package root, found from this file's path (`Tests/MetrikaDomainTests/Fixtures.swift`).
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let moscow = TimeZone(identifier: "Europe/Moscow")!
    static let vladivostok = TimeZone(identifier: "Asia/Vladivostok")!
    static let utc = TimeZone(identifier: "UTC")!
    static let ru = NumberingPlan.forCountry("RU")!

    /// The bytes of `contracts/examples/<name>.json`.
    static func example(_ name: String) throws -> Data {
        try Data(contentsOf: repositoryRoot.appendingPathComponent("contracts/examples/\(name).json"))
    }

    /// The catalog the gateway ships (`Sources/MetrikaGateway/Resources/catalog.json`).
    static func defaultCatalog() throws -> Catalog {
        let url = repositoryRoot.appendingPathComponent("Sources/MetrikaGateway/Resources/catalog.json")
        let file = try JSONDecoder().decode(Catalog.File.self, from: Data(contentsOf: url))
        return try Catalog(file)
    }

    /// An instant written as RFC 3339; fails the test when the text does not parse.
    static func instant(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Date {
        try #require(RFC3339.parse(text), "'\(text)' should parse", sourceLocation: sourceLocation)
    }

    static func date(_ year: Int, _ month: Int, _ day: Int, sourceLocation: SourceLocation = #_sourceLocation) throws -> LocalDate {
        try #require(LocalDate(year: year, month: month, day: day), sourceLocation: sourceLocation)
    }

    static func phone(_ e164: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> PhoneNumber {
        try #require(PhoneNumber(e164: e164), sourceLocation: sourceLocation)
    }

    /// Анна Иванова of the contract examples: RS ID 100234, on «Домашний 500» since 2026-03-01.
    static func ivanova() throws -> Subscriber {
        Subscriber(rsID: 100234, contractNo: "Д-2019/4471", fullName: "Иванова Анна Сергеевна",
                   address: "г. Пермь, ул. Ленина, д. 10, кв. 5",
                   phones: [try phone("+79000001122"), try phone("+73422001122")],
                   tariffName: "Домашний 500", tariffSince: try date(2026, 3, 1), switchName: "sw-perm-len10-2",
                   status: .active)
    }

    /// Пётр Иванов, who shares the landline +73422001122 with Анна Иванова.
    static func ivanov() throws -> Subscriber {
        Subscriber(rsID: 100871, contractNo: "Д-2022/0915", fullName: "Иванов Пётр Ильич",
                   address: "г. Пермь, ул. Ленина, д. 10, кв. 5", phones: [try phone("+73422001122")],
                   tariffName: "Домашний 300", tariffSince: try date(2022, 6, 15), switchName: "sw-perm-len10-2",
                   status: .suspended)
    }
}
