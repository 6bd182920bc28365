import Foundation

/// Who may edit a saved ticket, from where, and until when (DESIGN.md §1, "Editing rules").
///
/// - `rs_card` (the subscriber's ticket history in RS): anyone, within 48 hours of creation;
/// - `my_tickets`: only the ticket's author, until the end of the calendar month of creation;
/// - `callback_list` (the unprocessed list): anyone, until the end of the calendar month of creation;
/// - `manual` (the form): treated like `my_tickets`.
///
/// Months end at local midnight in the company's zone, whatever the server's zone.
public struct EditWindow: Sendable {
    /// The company's zone.
    public let zone: TimeZone

    public init(zone: TimeZone) {
        self.zone = zone
    }

    /// How long an edit from the RS card stays possible.
    public static let rsCardWindow: TimeInterval = 48 * 3600

    /// The last instant (exclusive) at which `ticket` may be edited from `origin`.
    public func deadline(for ticket: Ticket, via origin: CommandOrigin) -> Date {
        switch origin {
        case .rsCard: ticket.createdAt.addingTimeInterval(EditWindow.rsCardWindow)
        case .myTickets, .callbackList, .manual: startOfNextMonth(after: ticket.createdAt)
        }
    }

    /// Refuses the edit when it comes too late or from the wrong operator.
    public func check(_ ticket: Ticket, via origin: CommandOrigin, by operatorLogin: String, at instant: Date) throws(CommandRejection) {
        let deadline = deadline(for: ticket, via: origin)
        if origin == .myTickets || origin == .manual, ticket.author != operatorLogin {
            let place = origin == .myTickets ? "from 'My tickets'" : "by hand (via manual)"
            let monthEnd = RFC3339.format(deadline, in: zone)
            let rsCardDeadline = self.deadline(for: ticket, via: .rsCard)
            let rsCard = instant < rsCardDeadline ? " or from the RS card until \(RFC3339.format(rsCardDeadline, in: zone))" : ""
            throw CommandRejection(.notAuthor, "only \(ticket.author ?? "its author") may edit ticket \(ticket.ticketID) \(place), "
                + "until \(monthEnd); anyone may edit it from the callback list until \(monthEnd)\(rsCard)")
        }
        guard instant < deadline else {
            throw CommandRejection(.editWindowClosed, "ticket \(ticket.ticketID) could be edited via \(origin.rawValue) until \(RFC3339.format(deadline, in: zone))")
        }
    }

    /// Local midnight on the first day of the month after the one containing `instant`, in `zone`.
    public func startOfNextMonth(after instant: Date) -> Date {
        let date = LocalDate(instant, in: zone)
        let (year, month) = date.month == 12 ? (date.year + 1, 1) : (date.year, date.month + 1)
        return LocalDate(year: year, month: month, day: 1)!.startOfDay(in: zone)
    }

    /// Local midnight on the first day of `month` (`YYYY-MM`) and of the month after it: the bounds of a
    /// calendar month in `zone`.
    public func bounds(ofMonth year: Int, _ month: Int) -> (start: Date, end: Date)? {
        guard let first = LocalDate(year: year, month: month, day: 1) else { return nil }
        let start = first.startOfDay(in: zone)
        return (start, startOfNextMonth(after: start))
    }
}

extension LocalDate {
    /// The first instant of this date in `zone` (local midnight; on a day whose midnight is skipped by a
    /// daylight-saving change, the first instant that exists).
    public func startOfDay(in zone: TimeZone) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar.startOfDay(for: calendar.date(from: DateComponents(year: year, month: month, day: day, hour: 12))!)
    }
}

/// One changed field of a ticket edit: what it was and what it became.
public struct FieldChange: Codable, Sendable, Equatable {
    public let field: String
    public let from: FieldValue
    public let to: FieldValue

    public init(field: String, from: FieldValue, to: FieldValue) {
        self.field = field
        self.from = from
        self.to = to
    }
}

/// The value of an editable ticket field, encoded as the ticket encodes it.
public enum FieldValue: Codable, Sendable, Equatable {
    case text(String?)
    case phones([String])
    case references([CatalogReference])
    case reference(CatalogReference?)

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case let .text(text): try container.encode(text)
        case let .phones(phones): try container.encode(phones)
        case let .references(references): try container.encode(references)
        case let .reference(reference): try container.encode(reference)
        }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .text(nil)
        } else if let text = try? container.decode(String.self) {
            self = .text(text)
        } else if let phones = try? container.decode([String].self) {
            self = .phones(phones)
        } else if let references = try? container.decode([CatalogReference].self) {
            self = .references(references)
        } else {
            self = .reference(try container.decode(CatalogReference.self))
        }
    }
}
