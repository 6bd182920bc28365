import Foundation
import MetrikaDomain

/// A calendar month (`2026-12`) as reports name it; its bounds depend on the company's zone.
public struct ReportMonth: Hashable, Sendable, Codable, CustomStringConvertible {
    /// 1…9999.
    public let year: Int
    /// 1…12.
    public let month: Int

    /// The month of `year` and `month`; nil when the month is not 1…12 or the year not 1…9999.
    public init?(year: Int, month: Int) {
        guard LocalDate(year: year, month: month, day: 1) != nil else { return nil }
        self.year = year
        self.month = month
    }

    /// Parses exactly `YYYY-MM`; nil for anything else (`2026-13`, `2026-1`, `12.2026`).
    public init?(parsing text: String) {
        guard let first = LocalDate(iso: text + "-01"), text.utf8.count == 7 else { return nil }
        self.init(year: first.year, month: first.month)
    }

    /// The month in which `instant` falls in `zone` (the current month when `instant` is now).
    public init(containing instant: Date, in zone: TimeZone) {
        let date = LocalDate(instant, in: zone)
        self.year = date.year
        self.month = date.month
    }

    /// `YYYY-MM`.
    public var description: String { String(format: "%04d-%02d", year, month) }

    /// Local midnight on the first of this month to local midnight on the first of the next, in `zone`
    /// (start inclusive, end exclusive; daylight-saving changes inside the month are accounted for).
    public func interval(in zone: TimeZone) -> DateInterval {
        let bounds = EditWindow(zone: zone).bounds(ofMonth: year, month)!
        return DateInterval(start: bounds.start, end: bounds.end)
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let month = ReportMonth(parsing: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not YYYY-MM")
        }
        self = month
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Consecutive calendar days, first and last inclusive (`--from 2026-11-01 --to 2026-11-30`).
public struct ReportDays: Hashable, Sendable, CustomStringConvertible {
    /// The first day.
    public let first: LocalDate
    /// The last day, included.
    public let last: LocalDate

    /// The days from `first` to `last`; refuses a range that ends before it starts.
    public init(from first: LocalDate, to last: LocalDate) throws(ReportError) {
        guard first <= last else {
            throw ReportError(.invalidArgument, "the period starts on \(first) but ends earlier, on \(last); swap the dates")
        }
        self.first = first
        self.last = last
    }

    /// `YYYY-MM-DD..YYYY-MM-DD`.
    public var description: String { "\(first)..\(last)" }

    /// Local midnight starting `first` to local midnight ending `last`, in `zone` (end exclusive).
    public func interval(in zone: TimeZone) -> DateInterval {
        let dayAfterLast = LocalDate(Date(timeIntervalSince1970: Double(last.daysSinceEpoch + 1) * 86_400), in: .gmt)
        return DateInterval(start: first.startOfDay(in: zone), end: dayAfterLast.startOfDay(in: zone))
    }
}
