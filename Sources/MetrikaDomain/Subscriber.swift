import Foundation

/// A subscriber as RS last described them, with phones already in E.164.
public struct Subscriber: Sendable, Equatable {
    public let rsID: Int64
    public let contractNo: String
    public let fullName: String
    public let address: String
    /// Normalised, deduplicated, in the order RS listed them.
    public let phones: [PhoneNumber]
    public let tariffName: String
    /// First day on the current tariff (a calendar date in the company's zone).
    public let tariffSince: LocalDate
    public let switchName: String
    public let status: SubscriberStatus

    public init(rsID: Int64, contractNo: String, fullName: String, address: String, phones: [PhoneNumber],
                tariffName: String, tariffSince: LocalDate, switchName: String, status: SubscriberStatus) {
        self.rsID = rsID
        self.contractNo = contractNo
        self.fullName = fullName
        self.address = address
        self.phones = phones
        self.tariffName = tariffName
        self.tariffSince = tariffSince
        self.switchName = switchName
        self.status = status
    }

    /// What a ticket copies from the subscriber when it is created at `instant`.
    public func snapshot(at instant: Date, in zone: TimeZone) -> SubscriberSnapshot {
        SubscriberSnapshot(rsID: rsID, contractNo: contractNo, fullName: fullName, address: address,
                           tariffName: tariffName, tariffSince: tariffSince.description,
                           daysOnTariff: DaysOnTariff.count(since: tariffSince, at: instant, in: zone),
                           switchName: switchName, status: status)
    }
}

/// The subscriber's details frozen into a ticket at its creation.
public struct SubscriberSnapshot: Codable, Sendable, Equatable {
    public let rsID: Int64
    public let contractNo: String
    public let fullName: String
    public let address: String
    public let tariffName: String
    /// `YYYY-MM-DD`.
    public let tariffSince: String
    /// Whole days on the tariff at the ticket's creation, counted in the company's zone.
    public let daysOnTariff: Int
    public let switchName: String
    public let status: SubscriberStatus

    enum CodingKeys: String, CodingKey {
        case rsID = "rs_id", contractNo = "contract_no", fullName = "full_name", address
        case tariffName = "tariff_name", tariffSince = "tariff_since", daysOnTariff = "days_on_tariff"
        case switchName = "switch", status
    }
}

/// The number of days a subscriber has been on their tariff.
public enum DaysOnTariff {
    /// Calendar days from `since` to the local date of `instant` in `zone`: 0 on the first day,
    /// 1 the next day; never negative (a tariff starting in the future counts 0).
    public static func count(since: LocalDate, at instant: Date, in zone: TimeZone) -> Int {
        max(0, LocalDate(instant, in: zone).daysSinceEpoch - since.daysSinceEpoch)
    }
}
