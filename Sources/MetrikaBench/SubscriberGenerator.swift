import Foundation

/// Deterministic RS `subscriber.updated` messages (version 1): realistic Russian full names, addresses,
/// tariffs and switches, three phones each (two mobiles and a landline) typed in varied human styles.
///
/// Subscriber `index` is the same in every run: its data depends only on the seed and the index.
struct SubscriberGenerator: Sendable {
    /// Stream of the message ids (`BenchText.id`).
    private static let idStream: UInt32 = 0x5b5c_0001
    private let seed: UInt64
    /// `occurred_at` of every update (Unix seconds).
    private let occurredAt: Int

    /// `occurredAt` (Unix seconds) stamps every update; the seed fixes everything else.
    init(seed: UInt64 = 0x4D45_5452_494B_4131, occurredAt: Int) {
        self.seed = seed
        self.occurredAt = occurredAt
    }

    /// RS ID of subscriber `index`.
    static func rsID(index: Int) -> Int { 100_000 + index }

    /// The `event_id` and body of subscriber `index`'s update.
    func message(index: Int) -> (id: String, body: Data) {
        var random = SeededRandom(seed: seed ^ (UInt64(index) &* 0xD1B5_4A32_D192_ED03))
        let city = random.pick(Directory.cities)
        let street = random.pick(Directory.streets)
        let house = random.int(in: 1...120)
        let building = random.chance(0.15) ? "к\(random.int(in: 1...4))" : ""
        var address = "г. \(city.name), \(street.name), д. \(house)\(building)"
        if random.chance(0.88) { address += ", кв. \(random.int(in: 1...280))" }
        let phones = [
            BenchNumbers.typed(BenchNumbers.subscriberMobile(index: index, slot: 0), style: random.int(in: 0...12)),
            BenchNumbers.typed(BenchNumbers.subscriberMobile(index: index, slot: 1), style: random.int(in: 0...12)),
            BenchNumbers.typed(BenchNumbers.subscriberLandline(index: index, cityCode: city.code), style: random.int(in: 0...12)),
        ]
        let sinceDay = random.int(in: 16_436...20_787)  // 2015-01-01 … 2026-11-30
        let contractYear = random.int(in: 2008...2026)
        let id = BenchText.id(stream: Self.idStream, index: index)

        var tariff = JSONObjectWriter()
        tariff.string("name", random.pick(Directory.tariffs))
        tariff.string("since", BenchText.date(daysSinceEpoch: sinceDay))
        var subscriber = JSONObjectWriter()
        subscriber.integer("rs_id", Self.rsID(index: index))
        subscriber.string("contract_no", "Д-\(contractYear)/\(index % 90_000 + 1000)")
        subscriber.string("full_name", Directory.fullName(&random))
        subscriber.string("address", address)
        subscriber.json("phones", JSONObjectWriter.array(phones))
        subscriber.json("tariff", tariff.finished)
        subscriber.string("switch", "sw-\(city.slug)-\(street.slug)\(house)-\(random.int(in: 1...4))")
        subscriber.string("status", random.chance(0.9) ? "active" : random.chance(0.7) ? "suspended" : "terminated")
        var message = JSONObjectWriter()
        message.string("event_id", id)
        message.string("type", "subscriber.updated")
        message.string("occurred_at", BenchText.timestamp(occurredAt))
        message.integer("version", 1)
        message.json("subscriber", subscriber.finished)
        return (id, Data(message.finished.utf8))
    }
}

/// The vocabulary of generated subscribers.
private enum Directory {
    struct City: Sendable {
        let name: String
        let code: Int
        let slug: String
    }

    struct Street: Sendable {
        let name: String
        let slug: String
    }

    static let cities = [
        City(name: "Пермь", code: 342, slug: "perm"), City(name: "Екатеринбург", code: 343, slug: "ekb"),
        City(name: "Челябинск", code: 351, slug: "chel"), City(name: "Уфа", code: 347, slug: "ufa"),
        City(name: "Казань", code: 843, slug: "kzn"), City(name: "Нижний Новгород", code: 831, slug: "nnov"),
        City(name: "Самара", code: 846, slug: "sam"), City(name: "Новосибирск", code: 383, slug: "nsk"),
        City(name: "Тюмень", code: 345, slug: "tmn"), City(name: "Ижевск", code: 341, slug: "izh"),
        City(name: "Березники", code: 342, slug: "brz"), City(name: "Соликамск", code: 342, slug: "slk"),
    ]

    static let streets = [
        Street(name: "ул. Ленина", slug: "len"), Street(name: "ул. Мира", slug: "mira"),
        Street(name: "ул. Советская", slug: "sov"), Street(name: "ул. Гагарина", slug: "gag"),
        Street(name: "Комсомольский пр-т", slug: "koms"), Street(name: "ул. Пушкина", slug: "push"),
        Street(name: "ул. Кирова", slug: "kir"), Street(name: "ул. Садовая", slug: "sad"),
        Street(name: "ул. Молодёжная", slug: "mol"), Street(name: "ул. Школьная", slug: "shk"),
        Street(name: "ул. Лесная", slug: "les"), Street(name: "ул. Октябрьская", slug: "okt"),
        Street(name: "ул. Свердлова", slug: "sverd"), Street(name: "бул. Победы", slug: "pob"),
        Street(name: "ул. Куйбышева", slug: "kuib"), Street(name: "ш. Космонавтов", slug: "kosm"),
        Street(name: "ул. Строителей", slug: "str"), Street(name: "ул. Чкалова", slug: "chk"),
        Street(name: "пер. Почтовый", slug: "poch"), Street(name: "ул. 25 Октября", slug: "okt25"),
        Street(name: "ул. Екатерининская", slug: "ekat"), Street(name: "ул. Героев Хасана", slug: "khas"),
    ]

    static let tariffs = [
        "Домашний 100", "Домашний 300", "Домашний 500", "Домашний 1000", "Домашний 500 + ТВ", "Игровой 700",
        "Социальный", "Пенсионный", "Бизнес 200", "Ночной", "Стартовый", "Семейный 500 + ТВ",
    ]

    /// Surnames in the masculine form; `feminine` derives the other.
    static let surnames = [
        "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков", "Фёдоров",
        "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов", "Степанов", "Николаев",
        "Орлов", "Андреев", "Макаров", "Никитин", "Захаров", "Зайцев", "Соловьёв", "Борисов", "Яковлев", "Григорьев",
        "Романов", "Воробьёв", "Сергеев", "Кузьмин", "Фролов", "Александров", "Дмитриев", "Королёв", "Гусев", "Киселёв",
        "Ильин", "Максимов", "Поляков", "Сорокин", "Виноградов", "Ковалёв", "Белов", "Медведев", "Антонов", "Тарасов",
        "Жуков", "Баранов", "Филиппов", "Комаров", "Давыдов", "Беляев", "Герасимов", "Богданов", "Осипов", "Сидоров",
        "Матвеев", "Титов", "Марков", "Миронов", "Крылов", "Куликов", "Карпов", "Власов", "Мельников", "Денисов",
        "Гаврилов", "Тихонов", "Казаков", "Афанасьев", "Данилов", "Савельев", "Тимофеев", "Фомин", "Чернов", "Абрамов",
        "Мартынов", "Ефимов", "Федотов", "Щербаков", "Назаров", "Калинин", "Исаев", "Чернышёв", "Быков", "Маслов",
        "Островский", "Вишневский", "Шевченко", "Коваленко", "Бондаренко", "Черных", "Седых", "Шубин", "Лапин", "Пономарёв",
    ]

    static let maleNames = [
        "Александр", "Дмитрий", "Максим", "Сергей", "Андрей", "Алексей", "Артём", "Илья", "Кирилл", "Михаил",
        "Никита", "Матвей", "Роман", "Егор", "Иван", "Павел", "Олег", "Владимир", "Николай", "Юрий", "Виктор", "Евгений",
    ]

    static let femaleNames = [
        "Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Екатерина", "Светлана", "Юлия",
        "Анастасия", "Дарья", "Марина", "Людмила", "Галина", "Ксения", "Алёна", "Виктория", "Полина", "Валентина",
    ]

    /// Patronymics from the same father's name: (masculine, feminine).
    static let patronymics = [
        ("Александрович", "Александровна"), ("Дмитриевич", "Дмитриевна"), ("Сергеевич", "Сергеевна"),
        ("Андреевич", "Андреевна"), ("Алексеевич", "Алексеевна"), ("Михайлович", "Михайловна"),
        ("Иванович", "Ивановна"), ("Павлович", "Павловна"), ("Владимирович", "Владимировна"),
        ("Николаевич", "Николаевна"), ("Юрьевич", "Юрьевна"), ("Викторович", "Викторовна"),
        ("Олегович", "Олеговна"), ("Петрович", "Петровна"), ("Евгеньевич", "Евгеньевна"), ("Ильич", "Ильинична"),
    ]

    /// "Surname Name Patronymic", in the gender of a coin toss.
    static func fullName(_ random: inout SeededRandom) -> String {
        let surname = random.pick(surnames)
        let patronymic = random.pick(patronymics)
        if random.chance(0.5) {
            return "\(surname) \(random.pick(maleNames)) \(patronymic.0)"
        }
        return "\(feminine(surname)) \(random.pick(femaleNames)) \(patronymic.1)"
    }

    private static func feminine(_ surname: String) -> String {
        if surname.hasSuffix("ский") { return surname.dropLast(2) + "ая" }
        if ["ов", "ев", "ёв", "ин"].contains(where: surname.hasSuffix) { return surname + "а" }
        return surname  // Шевченко, Черных: the same for both
    }
}
