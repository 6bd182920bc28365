import Foundation
import Testing
@testable import MetrikaDomain

@Suite("The catalog resolves what operators type")
struct CatalogTests {
    static let sources = [
        CatalogEntry(code: "incoming_call", title: "Входящий звонок", synonyms: ["входящий", "вх"]),
        CatalogEntry(code: "outgoing_call", title: "Исходящий звонок", synonyms: ["исх"]),
        CatalogEntry(code: "missed_call", title: "Пропущенный звонок", synonyms: ["пропущенный"]),
    ]
    static let reasons = [
        CatalogEntry(code: "no_internet", title: "Нет интернета", synonyms: ["нет инета", "пропал интернет"]),
        CatalogEntry(code: "promised_payment", title: "Обещанный платёж", synonyms: ["доверительный платеж"]),
        CatalogEntry(code: "callback_requested", title: "Попросил перезвонить", synonyms: ["перезвонить"]),
    ]

    static let resolutions = [
        CatalogEntry(code: "consulted", title: "Проконсультировал", synonyms: []),
        CatalogEntry(code: "no_answer", title: "Позвонил — не дозвонился", synonyms: ["недозвон"]),
    ]

    static func file(sources: [CatalogEntry] = sources, reasons: [CatalogEntry] = reasons,
                     resolutions: [CatalogEntry] = resolutions,
                     tasks: [CatalogEntry] = [CatalogEntry(code: "payment_check", title: "Проверка платежей", synonyms: ["сверка"])]) -> Catalog.File {
        Catalog.File(version: 1, sources: sources, reasons: reasons, resolutions: resolutions, tasks: tasks)
    }

    @Test("A hand-written catalog resolves by code, title, synonym, any case, ё or е and extra spaces", arguments: [
        ("no_internet", "no_internet"),
        ("NO_INTERNET", "no_internet"),
        ("Нет интернета", "no_internet"),
        ("нет интернета", "no_internet"),
        ("НЕТ ИНЕТА", "no_internet"),
        ("  нет    инета  ", "no_internet"),
        ("нет\u{00A0}инета", "no_internet"),
        ("Пропал\tинтернет", "no_internet"),
        ("обещанный платеж", "promised_payment"),
        ("ОБЕЩАННЫЙ ПЛАТЕЖ", "promised_payment"),
        ("ОБЕЩАННЫЙ ПЛАТЁЖ", "promised_payment"),
        ("доверительный платёж", "promised_payment"),
        ("доверительный платеж", "promised_payment"),
        ("ДОВЕРИТЕЛЬНЫЙ ПЛАТЁЖ", "promised_payment"),
        ("ПЕРЕЗВОНИТЬ", "callback_requested"),
    ])
    func handWrittenCatalogResolves(typed: String, code: String) throws {
        let catalog = try Catalog(Self.file())
        #expect(catalog.reasons.resolve(typed)?.code == code)
    }

    @Test("Names that are in no entry, or only in another list, resolve to nothing", arguments: [
        "нет связи с луной", "", "   ", "нет", "нет интернета!", "вх",
    ])
    func unknownNamesResolveToNil(typed: String) throws {
        let catalog = try Catalog(Self.file())
        #expect(catalog.reasons.resolve(typed) == nil)
    }

    @Test("The catalog exposes the entries the gateway relies on")
    func requiredEntries() throws {
        let catalog = try Catalog(Self.file())
        #expect(catalog.callbackReason == Self.reasons[2])
        #expect(catalog.callSource(.inbound).code == "incoming_call")
        #expect(catalog.callSource(.outbound).code == "outgoing_call")
        #expect(catalog.missedCallSource.reference == CatalogReference(code: "missed_call", title: "Пропущенный звонок"))
        #expect(catalog.tasks.resolve("Сверка")?.code == "payment_check")
        #expect(catalog.reasons.entry(code: "NO_INTERNET") == nil)
    }

    @Test("A name shared by two entries of one list is refused as ambiguous")
    func duplicateNameIsAmbiguous() {
        let reasons = Self.reasons + [CatalogEntry(code: "outage", title: "Авария", synonyms: ["Нет Инета"])]
        #expect(throws: CatalogError.ambiguousName("Нет Инета", "no_internet", "outage")) {
            try Catalog(Self.file(reasons: reasons))
        }
    }

    @Test("Names that differ only by ё and е are the same name")
    func yoAndYeCollide() {
        let reasons = Self.reasons + [CatalogEntry(code: "credit", title: "Кредит", synonyms: ["обещанный платеж"])]
        #expect(throws: CatalogError.ambiguousName("обещанный платеж", "promised_payment", "credit")) {
            try Catalog(Self.file(reasons: reasons))
        }
    }

    @Test("An entry may repeat its own name as a synonym")
    func entryMayRepeatItsOwnName() throws {
        let list = try CatalogList([CatalogEntry(code: "thanks", title: "Благодарность", synonyms: ["благодарность", "спасибо"])])
        #expect(list.resolve("СПАСИБО")?.code == "thanks")
    }

    @Test("The same name in two different lists is allowed")
    func sameNameInDifferentListsIsAllowed() throws {
        let resolutions = Self.resolutions + [CatalogEntry(code: "callback_scheduled", title: "Запланирован перезвон", synonyms: ["перезвонить"])]
        let catalog = try Catalog(Self.file(resolutions: resolutions))
        #expect(catalog.reasons.resolve("перезвонить")?.code == "callback_requested")
        #expect(catalog.resolutions.resolve("перезвонить")?.code == "callback_scheduled")
    }

    @Test("A catalog without the callback reason is refused")
    func missingCallbackReason() {
        #expect(throws: CatalogError.missingRequiredEntry("reasons", "callback_requested")) {
            try Catalog(Self.file(reasons: Array(Self.reasons.prefix(2))))
        }
    }

    @Test("A catalog without the resolution for a failed callback attempt is refused")
    func missingNoAnswerResolution() {
        #expect(throws: CatalogError.missingRequiredEntry("resolutions", "no_answer")) {
            try Catalog(Self.file(resolutions: Array(Self.resolutions.prefix(1))))
        }
    }

    @Test("A catalog without one of the call sources is refused", arguments: ["incoming_call", "outgoing_call", "missed_call"])
    func missingCallSource(code: String) {
        #expect(throws: CatalogError.missingRequiredEntry("sources", code)) {
            try Catalog(Self.file(sources: Self.sources.filter { $0.code != code }))
        }
    }

    @Test("Catalog errors tell the person what to fix")
    func catalogErrorDescriptions() {
        #expect(CatalogError.ambiguousName("нет инета", "no_internet", "outage").description
            == "catalog name 'нет инета' names both 'no_internet' and 'outage'; make it name one entry")
        #expect(CatalogError.missingRequiredEntry("reasons", "callback_requested").description
            == "catalog list 'reasons' lacks the entry with code 'callback_requested' that the gateway relies on")
    }
}

@Suite("The default catalog shipped with the gateway")
struct DefaultCatalogTests {
    @Test("It loads and offers the three call sources first, incoming first")
    func sourcesComeFirst() throws {
        let catalog = try Fixture.defaultCatalog()
        #expect(catalog.sources.entries.prefix(3).map(\.title) == ["Входящий звонок", "Исходящий звонок", "Пропущенный звонок"])
        #expect(catalog.callbackReason.title == "Попросил перезвонить")
        #expect(catalog.missedCallSource.title == "Пропущенный звонок")
    }

    @Test("It resolves reasons by code, title and synonym in any case", arguments: [
        ("no_internet", "Нет интернета"),
        ("Нет интернета", "Нет интернета"),
        ("нет инета", "Нет интернета"),
        ("НЕТ ИНЕТА", "Нет интернета"),
        ("Нет   инета", "Нет интернета"),
        ("callback_requested", "Попросил перезвонить"),
        ("попросил ПЕРЕЗВОНИТЬ", "Попросил перезвонить"),
        ("перезвоните", "Попросил перезвонить"),
        ("обещанный платеж", "Обещанный платёж"),
        ("Подключен не тот тариф", "Подключён не тот тариф"),
        ("автоплатеж", "Вопрос по оплате"),
        ("когда придет мастер", "Выезд мастера"),
    ])
    func resolvesReasons(typed: String, title: String) throws {
        let catalog = try Fixture.defaultCatalog()
        #expect(catalog.reasons.resolve(typed)?.title == title)
    }

    @Test("It folds ё both ways: a name written with е is found by typing ё")
    func yoFoldsBothWays() throws {
        let catalog = try Fixture.defaultCatalog()
        // The catalog writes «исправил удаленно» with е; an operator types ё.
        #expect(catalog.resolutions.resolve("исправил удалённо")?.code == "remote_fix")
        // The catalog writes «Устранено удалённо» with ё; an operator types е.
        #expect(catalog.resolutions.resolve("устранено удаленно")?.code == "remote_fix")
        #expect(catalog.resolutions.resolve("ПЕРЕРАСЧЁТ")?.code == "recalculation")
    }

    @Test("It resolves sources, resolutions and tasks by synonym", arguments: [
        ("sources", "вх", "incoming_call"),
        ("sources", "ИСХ", "outgoing_call"),
        ("sources", "не успели ответить", "missed_call"),
        ("resolutions", "Проконсультировал", "consulted"),
        ("resolutions", "передано специалисту", "passed_to_specialist"),
        ("tasks", "обзвон должников", "outbound_campaign"),
        ("tasks", "учет роутеров", "equipment_inventory"),
    ])
    func resolvesOtherLists(list: String, typed: String, code: String) throws {
        let catalog = try Fixture.defaultCatalog()
        let lists = ["sources": catalog.sources, "resolutions": catalog.resolutions, "tasks": catalog.tasks]
        #expect(try #require(lists[list]).resolve(typed)?.code == code)
    }

    @Test("Unknown names resolve to nothing")
    func unknownNames() throws {
        let catalog = try Fixture.defaultCatalog()
        #expect(catalog.reasons.resolve("нет связи с луной") == nil)
        #expect(catalog.sources.resolve("голубиная почта") == nil)
    }
}
