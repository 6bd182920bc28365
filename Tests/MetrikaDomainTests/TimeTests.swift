import Foundation
import Testing
@testable import MetrikaDomain

@Suite("Calendar dates and days on tariff")
struct DaysOnTariffTests {
    @Test("Days on tariff count calendar days in the company's zone", arguments: [
        // since, instant, days
        ("2026-03-01", "2026-03-01T12:00:00+03:00", 0),
        ("2026-03-01", "2026-03-02T00:00:00+03:00", 1),
        ("2026-03-01", "2026-03-01T23:59:59+03:00", 0),
        ("2026-01-31", "2026-02-01T10:00:00+03:00", 1),
        ("2026-04-30", "2026-05-01T10:00:00+03:00", 1),
        ("2026-02-28", "2026-03-01T10:00:00+03:00", 1),
        ("2028-02-28", "2028-02-29T10:00:00+03:00", 1),
        ("2028-02-28", "2028-03-01T10:00:00+03:00", 2),
        ("2028-02-29", "2028-03-01T10:00:00+03:00", 1),
        ("2028-02-29", "2029-02-28T10:00:00+03:00", 365),
        ("2025-12-31", "2026-01-01T10:00:00+03:00", 1),
        ("2026-03-01", "2026-12-03T10:00:41+03:00", 277),
        ("2022-06-15", "2026-12-03T10:00:41+03:00", 1632),
        ("2026-03-01", "2027-03-01T10:00:00+03:00", 365),
        ("2027-03-01", "2028-03-01T10:00:00+03:00", 366),
    ])
    func daysInMoscow(since: String, instant: String, days: Int) throws {
        let sinceDate = try #require(LocalDate(iso: since))
        let at = try Fixture.instant(instant)
        #expect(DaysOnTariff.count(since: sinceDate, at: at, in: Fixture.moscow) == days)
    }

    @Test("Near midnight UTC the Moscow date is already the next day")
    func moscowIsAheadOfUTCNearMidnight() throws {
        let at = Date(timeIntervalSince1970: 1_772_404_200) // 2026-03-01T22:30:00Z
        let since = try Fixture.date(2026, 3, 1)
        #expect(LocalDate(at, in: Fixture.moscow) == (try Fixture.date(2026, 3, 2)))
        #expect(LocalDate(at, in: Fixture.utc) == since)
        #expect(DaysOnTariff.count(since: since, at: at, in: Fixture.moscow) == 1)
        #expect(DaysOnTariff.count(since: since, at: at, in: Fixture.utc) == 0)
    }

    @Test("In Vladivostok (UTC+10) the date turns at 14:00 UTC")
    func vladivostokDateTurnsAtFourteenUTC() throws {
        let since = try Fixture.date(2026, 3, 1)
        let before = try Fixture.instant("2026-03-01T13:59:59Z")
        let after = try Fixture.instant("2026-03-01T14:00:00Z")
        #expect(LocalDate(before, in: Fixture.vladivostok) == since)
        #expect(LocalDate(after, in: Fixture.vladivostok) == (try Fixture.date(2026, 3, 2)))
        #expect(DaysOnTariff.count(since: since, at: before, in: Fixture.vladivostok) == 0)
        #expect(DaysOnTariff.count(since: since, at: after, in: Fixture.vladivostok) == 1)
        #expect(DaysOnTariff.count(since: since, at: after, in: Fixture.moscow) == 0)
    }

    @Test("A tariff starting in the future counts zero days")
    func futureTariffCountsZero() throws {
        let since = try Fixture.date(2026, 12, 10)
        let at = try Fixture.instant("2026-12-03T10:00:00+03:00")
        #expect(DaysOnTariff.count(since: since, at: at, in: Fixture.moscow) == 0)
    }

    @Test("A subscriber's snapshot copies the subscriber and counts days on tariff in the given zone")
    func snapshotCountsDaysInZone() throws {
        let subscriber = try Fixture.ivanova()
        let at = Date(timeIntervalSince1970: 1_772_404_200) // 2026-03-01T22:30:00Z
        let inMoscow = subscriber.snapshot(at: at, in: Fixture.moscow)
        #expect(inMoscow == SubscriberSnapshot(
            rsID: 100234, contractNo: "Д-2019/4471", fullName: "Иванова Анна Сергеевна",
            address: "г. Пермь, ул. Ленина, д. 10, кв. 5", tariffName: "Домашний 500", tariffSince: "2026-03-01",
            daysOnTariff: 1, switchName: "sw-perm-len10-2", status: .active))
        #expect(subscriber.snapshot(at: at, in: Fixture.utc).daysOnTariff == 0)
    }

    @Test("Local dates parse YYYY-MM-DD and refuse impossible or malformed dates", arguments: [
        ("2026-03-01", "2026-03-01"),
        ("2028-02-29", "2028-02-29"),
        ("2000-02-29", "2000-02-29"),
        ("2026-02-29", nil),
        ("2100-02-29", nil),
        ("2026-02-30", nil),
        ("2026-04-31", nil),
        ("2026-13-01", nil),
        ("2026-00-10", nil),
        ("2026-01-00", nil),
        ("0000-01-01", nil),
        ("2026-3-01", nil),
        ("2026/03/01", nil),
        ("2026-03-01T00:00:00Z", nil),
        ("", nil),
    ] as [(String, String?)])
    func localDateParsing(text: String, parsed: String?) {
        #expect(LocalDate(iso: text)?.description == parsed)
    }

    @Test("Local dates order chronologically across months and years")
    func localDatesOrder() throws {
        let dates = [try Fixture.date(2027, 1, 1), try Fixture.date(2026, 12, 31), try Fixture.date(2026, 2, 1)]
        #expect(dates.sorted().map(\.description) == ["2026-02-01", "2026-12-31", "2027-01-01"])
        #expect(try Fixture.date(1970, 1, 1).daysSinceEpoch == 0)
        #expect(try Fixture.date(1969, 12, 31).daysSinceEpoch == -1)
        #expect(LocalDate(Date(timeIntervalSince1970: -1), in: Fixture.utc) == (try Fixture.date(1969, 12, 31)))
    }
}

@Suite("RFC 3339 timestamps")
struct RFC3339Tests {
    @Test("Timestamps with an offset parse to the same instant", arguments: [
        ("2026-12-03T10:00:41+03:00", 1_796_281_241.0),
        ("2026-12-03T07:00:41Z", 1_796_281_241.0),
        ("2026-12-03T07:00:41z", 1_796_281_241.0),
        ("2026-12-03t07:00:41Z", 1_796_281_241.0),
        ("2026-12-03T02:00:41-05:00", 1_796_281_241.0),
        ("2026-12-03T12:30:41+05:30", 1_796_281_241.0),
        ("2026-12-03T07:00:41.25Z", 1_796_281_241.25),
        ("2026-12-03T10:00:41.250+03:00", 1_796_281_241.25),
        ("2026-12-03T10:00:41.5000000+03:00", 1_796_281_241.5),
        ("2026-03-01T22:30:00Z", 1_772_404_200.0),
        ("2028-02-29T12:00:00Z", 1_835_438_400.0),
        ("1969-12-31T23:59:59Z", -1.0),
    ])
    func parsesOffsets(text: String, seconds: Double) throws {
        let parsed = try #require(RFC3339.parse(text))
        #expect(abs(parsed.timeIntervalSince1970 - seconds) < 0.000_001)
    }

    @Test("Timestamps without an offset or with impossible fields are refused", arguments: [
        "2026-12-03T10:00:41",
        "2026-12-03T10:00:41+0300",
        "2026-12-03T10:00:41+03",
        "2026-12-03T10:00:41 +03:00",
        "2026-12-03T10:00:41+03:00 ",
        "2026-12-03T10:00:41Zjunk",
        "2026-12-03T10:00:41.+03:00",
        "2026-02-30T10:00:00+03:00",
        "2026-13-01T10:00:00+03:00",
        "2026-12-03T24:00:00+03:00",
        "2026-12-03T10:60:00+03:00",
        "2026-12-03T10:00:00+24:00",
        "2026-12-03T10:00:00+03:60",
        "2026-12-03",
        "2026-12-03X10:00:41+03:00",
        "not a timestamp at all",
        "",
    ])
    func refusesMalformed(text: String) {
        #expect(RFC3339.parse(text) == nil)
    }

    @Test("Formatting in Moscow writes +03:00 and milliseconds")
    func formatsInMoscow() {
        let instant = Date(timeIntervalSince1970: 1_796_281_241)
        #expect(RFC3339.format(instant, in: Fixture.moscow) == "2026-12-03T10:00:41.000+03:00")
        #expect(RFC3339.format(instant, in: Fixture.utc) == "2026-12-03T07:00:41.000+00:00")
        #expect(RFC3339.format(instant, in: Fixture.vladivostok) == "2026-12-03T17:00:41.000+10:00")
        #expect(RFC3339.format(Date(timeIntervalSince1970: 1_796_281_241.25), in: Fixture.moscow)
            == "2026-12-03T10:00:41.250+03:00")
    }

    @Test("Formatting crosses the date line of the zone and writes negative offsets")
    func formatsAcrossMidnightAndNegativeOffsets() throws {
        let instant = Date(timeIntervalSince1970: 1_772_404_200) // 2026-03-01T22:30:00Z
        #expect(RFC3339.format(instant, in: Fixture.moscow) == "2026-03-02T01:30:00.000+03:00")
        let newYork = try #require(TimeZone(identifier: "America/New_York"))
        #expect(RFC3339.format(instant, in: newYork) == "2026-03-01T17:30:00.000-05:00")
        #expect(RFC3339.format(Date(timeIntervalSince1970: -1), in: Fixture.utc) == "1969-12-31T23:59:59.000+00:00")
    }

    @Test("Formatting then parsing gives back the same instant to the millisecond", arguments: [
        "2026-12-03T10:00:41.000+03:00",
        "2026-12-03T10:00:41.123+03:00",
        "2026-12-03T10:00:41.001+03:00",
        "2026-12-03T10:00:41.999+03:00",
        "2026-03-02T01:30:00.007+03:00",
        "2028-02-29T23:59:59.333+03:00",
    ])
    func roundTrips(text: String) throws {
        let parsed = try #require(RFC3339.parse(text))
        #expect(RFC3339.format(parsed, in: Fixture.moscow) == text)
    }
}
