import Foundation
import MetrikaDomain

/// Views as text tables for a terminal, in the operators' language. Times are local to the company's zone.
///
/// With `colours` (use it only when standard output is a terminal) the unprocessed list is highlighted as
/// the source document asks: callbacks in blue, overdue ones in red.
public struct ReportText: Sendable {
    /// The company's zone, in which times are shown.
    public let zone: TimeZone
    /// Whether to write ANSI colour codes.
    public let colours: Bool

    /// Shows times in `zone`; writes colour codes only when `colours` is true.
    public init(zone: TimeZone, colours: Bool) {
        self.zone = zone
        self.colours = colours
    }

    // MARK: Operators' views

    /// The unprocessed list: number, subscriber, address, missed calls, attempts, age; blue, or red when overdue.
    public func callbacks(_ list: CallbackList) -> String {
        guard !list.callbacks.isEmpty else { return "Необработанных перезвонов нет.\n" }
        var table = TextTable(["Номер", "Абонент", "Адрес", "Пропущено", "Попыток", "Ждёт", "Тикет"], rightAligned: [3, 4, 5])
        for callback in list.callbacks {
            table.add([callback.phone, subscriber(callback.subscriber), callback.address ?? "—", String(callback.missedCount),
                       String(callback.attempts), age(callback.ageSeconds), callback.ticketID],
                      colour: callback.overdue ? .red : .blue)
        }
        let overdue = list.callbacks.filter(\.overdue).count
        return table.render(colours: colours)
            + "Открытых перезвонов: \(list.callbacks.count), из них просрочено (дольше \(age(list.overdueAfterSeconds))): \(overdue).\n"
    }

    /// "My tickets" of one operator for a month, newest first.
    public func tickets(_ view: OperatorTickets) -> String {
        let title = "Тикеты \(view.operatorLogin) за \(view.month) (\(zone.identifier)): \(view.tickets.count)\n"
        guard !view.tickets.isEmpty else { return title }
        var table = TextTable(["Создан", "Вид", "Статус", "Абонент", "Причины → решения", "Тикет"])
        for ticket in view.tickets {
            table.add([local(ticket.createdAt), kind(ticket.kind), state(ticket.state), subscriber(ticket.subscriber),
                       outcome(ticket), ticket.ticketID])
        }
        return title + table.render(colours: colours)
    }

    /// A subscriber's history, newest first, under the directory entries found.
    public func history(_ view: SubscriberHistory) -> String {
        var text = view.phone.map { "Номер \($0): " } ?? view.rsID.map { "RS ID \($0): " } ?? ""
        switch view.subscribers.count {
        case 0: text += "в справочнике RS не найден.\n"
        case 1: text += "\(card(view.subscribers[0]))\n"
        default: text += "номер у нескольких абонентов:\n" + view.subscribers.map { "  \(card($0))\n" }.joined()
        }
        text += "Тикетов: \(view.tickets.count)\n"
        guard !view.tickets.isEmpty else { return text }
        var table = TextTable(["Создан", "Вид", "Статус", "Оператор", "Телефон", "Причины → решения", "Тикет"])
        for ticket in view.tickets {
            table.add([local(ticket.createdAt), kind(ticket.kind), state(ticket.state), ticket.author ?? "—",
                       ticket.contactPhones.first ?? "—", outcome(ticket), ticket.ticketID])
        }
        return text + table.render(colours: colours)
    }

    /// One ticket, field by field, then its edits oldest first.
    public func ticket(_ detail: TicketDetail) -> String {
        let ticket = detail.ticket
        var fields: [(String, String)] = [
            ("Тикет", ticket.ticketID),
            ("Вид", "\(kind(ticket.kind)), \(state(ticket.state))"),
            ("Создан", "\(local(ticket.createdAt)) (\(zone.identifier))"),
            ("Сохранён", ticket.savedAt.map(local) ?? "—"),
            ("Оператор", ticket.author ?? "—"),
            ("Источник", ticket.source?.title ?? "—"),
            ("Телефоны", ticket.contactPhones.isEmpty ? "—" : ticket.contactPhones.joined(separator: ", ")),
            ("Абонент", subscriber(SubscriberLabel(ticket))),
        ]
        if let snapshot = ticket.subscriber {
            fields.append(("Тариф", "\(snapshot.tariffName), дней на тарифе: \(snapshot.daysOnTariff); коммутатор \(snapshot.switchName)"))
        }
        fields += [
            ("Адрес", ticket.address ?? "—"),
            ("Причины", titles(ticket.reasons)),
            ("Решения", titles(ticket.resolutions)),
        ]
        if let task = ticket.task { fields.append(("Задача", task.title)) }
        fields.append(("Комментарий", ticket.comment ?? "—"))
        if let callback = detail.callback { fields.append(("Перезвон", callbackState(callback))) }
        let width = fields.map(\.0.count).max()! + 2
        var text = fields.map { $0.0.padded(to: width) + $0.1 + "\n" }.joined()
        text += "\nПравки: \(detail.revisions.isEmpty ? "нет" : String(detail.revisions.count))\n"
        for (number, revision) in detail.revisions.enumerated() {
            text += "  \(number + 1). \(local(revision.editedAt))  \(revision.operatorLogin)  через \(revision.via.rawValue)\n"
            for change in revision.changes {
                text += "     \(fieldName(change.field)): \(value(change.from)) → \(value(change.to))\n"
            }
        }
        return text
    }

    // MARK: Supervisors' reports

    /// The pay report with a totals line.
    public func pay(_ report: PayReport) -> String {
        let title = "Оплата за \(report.month) (\(report.timeZone)): сохранённые тикеты по авторам\n"
        guard !report.operators.isEmpty else { return title + "Сохранённых тикетов за месяц нет.\n" }
        var table = TextTable(["Оператор", "Звонки", "Перезвоны", "Попытки", "Вручную", "Задачи", "Всего"], rightAligned: [1, 2, 3, 4, 5, 6])
        for line in report.operators { table.add([line.operatorLogin] + numbers(line.counts)) }
        table.add(["Итого"] + numbers(report.totals))
        return title + table.render(colours: colours)
    }

    /// Reasons, resolutions and the most frequent pairs, each with counts and shares.
    public func reasons(_ report: ReasonsReport) -> String {
        var text = "Причины и решения с \(report.fromDate) по \(report.toDate) (\(report.timeZone)): сохранённых тикетов \(report.tickets)\n"
        guard report.tickets > 0 else { return text }
        var reasons = TextTable(["Причина", "Тикетов", "Доля"], rightAligned: [1, 2])
        for share in report.reasons { reasons.add([share.title, String(share.tickets), percent(share.share)]) }
        var resolutions = TextTable(["Решение", "Тикетов", "Доля"], rightAligned: [1, 2])
        for share in report.resolutions { resolutions.add([share.title, String(share.tickets), percent(share.share)]) }
        var pairs = TextTable(["Причина", "Решение", "Тикетов", "Доля"], rightAligned: [2, 3])
        for pair in report.pairs { pairs.add([pair.reason.title, pair.resolution.title, String(pair.tickets), percent(pair.share)]) }
        text += "\n" + reasons.render(colours: colours) + "\n" + resolutions.render(colours: colours)
        if !report.pairs.isEmpty { text += "\nЧаще всего:\n" + pairs.render(colours: colours) }
        return text
    }

    /// What the typed text offers, list by list, best first.
    public func catalog(_ result: CatalogSearchResult) -> String {
        guard !result.matches.isEmpty else { return "По «\(result.query)» в каталоге ничего нет.\n" }
        var table = TextTable(["Список", "Название", "Код", "Совпадение", "Найдено по"])
        for match in result.matches {
            table.add([listName(match.list), match.title, match.code, matchKind(match.match), match.matched])
        }
        return table.render(colours: colours)
    }

    // MARK: Cells

    /// `Иванова Анна Сергеевна, Д-2019/4471, RS 100234`; `неизвестен`; `кандидатов: 2 (RS 502, 503)`; `—`.
    private func subscriber(_ label: SubscriberLabel) -> String {
        switch label.match {
        case .matched:
            [label.fullName, label.contractNo, label.rsID.map { "RS \($0)" }].compactMap { $0 }.joined(separator: ", ")
        case .unmatched: "неизвестен"
        case .ambiguous: "кандидатов: \(label.candidates.count) (RS \(label.candidates.map(String.init).joined(separator: ", ")))"
        case .notApplicable: "—"
        }
    }

    private func card(_ card: SubscriberCard) -> String {
        "\(card.fullName), \(card.contractNo), RS \(card.rsID), \(card.address)"
    }

    /// `2026-12-03 10:00` in the company's zone.
    private func local(_ instant: Date) -> String {
        let text = RFC3339.format(instant, in: zone)
        return text.prefix(10) + " " + text.dropFirst(11).prefix(5)
    }

    /// `40 с`, `12 мин`, `3 ч 05 мин`, `2 д 4 ч`.
    private func age(_ seconds: Int) -> String {
        switch seconds {
        case ..<60: "\(max(0, seconds)) с"
        case ..<3600: "\(seconds / 60) мин"
        case ..<86_400: String(format: "%d ч %02d мин", seconds / 3600, seconds % 3600 / 60)
        default: "\(seconds / 86_400) д \(seconds % 86_400 / 3600) ч"
        }
    }

    private func outcome(_ ticket: TicketSummary) -> String {
        let reasons = ticket.task.map { [$0] } ?? ticket.reasons
        let start = reasons.isEmpty ? "—" : titles(reasons)
        return ticket.resolutions.isEmpty ? start : "\(start) → \(titles(ticket.resolutions))"
    }

    private func titles(_ references: [CatalogReference]) -> String {
        references.isEmpty ? "—" : references.map(\.title).joined(separator: ", ")
    }

    private func kind(_ kind: TicketKind) -> String {
        switch kind {
        case .call: "звонок"
        case .callback: "перезвон"
        case .attempt: "попытка"
        case .manual: "вручную"
        case .task: "задача"
        }
    }

    private func state(_ state: TicketState) -> String {
        switch state {
        case .draft: "черновик"
        case .saved: "сохранён"
        }
    }

    private func callbackState(_ callback: CallbackState) -> String {
        let counts = "пропущено \(callback.missedCount), попыток \(callback.attempts)"
        switch callback.status {
        case .open: return "открыт с \(local(callback.openedAt)), \(counts)"
        case .resolved:
            let by = [callback.resolvedBy, callback.resolution?.rawValue].compactMap { $0 }.joined(separator: ", ")
            return "закрыт \(callback.resolvedAt.map(local) ?? "—")\(by.isEmpty ? "" : " (\(by))"), \(counts)"
        }
    }

    private func fieldName(_ field: String) -> String {
        ["reasons": "причины", "resolutions": "решения", "comment": "комментарий", "contact_phones": "телефоны",
         "source": "источник"][field] ?? field
    }

    private func value(_ value: FieldValue) -> String {
        switch value {
        case let .text(text): text.map { "«\($0)»" } ?? "—"
        case let .phones(phones): phones.isEmpty ? "—" : phones.joined(separator: ", ")
        case let .references(references): titles(references)
        case let .reference(reference): reference?.title ?? "—"
        }
    }

    private func numbers(_ counts: PayCounts) -> [String] {
        [counts.calls, counts.callbacks, counts.attempts, counts.manual, counts.tasks, counts.total].map(String.init)
    }

    private func percent(_ share: Double) -> String { String(format: "%.1f%%", share * 100) }

    private func listName(_ list: CatalogListName) -> String {
        switch list {
        case .reasons: "причины"
        case .resolutions: "решения"
        case .sources: "источники"
        case .tasks: "задачи"
        }
    }

    private func matchKind(_ kind: CatalogMatchKind) -> String {
        switch kind {
        case .exact: "точно"
        case .titlePrefix: "начало названия"
        case .synonymPrefix: "начало синонима"
        case .wordStart: "начало слова"
        case .substring: "внутри слова"
        }
    }
}

/// A terminal colour for a whole table line.
enum LineColour: String, Sendable {
    case blue = "\u{1B}[34m"
    case red = "\u{1B}[31m"

    static let reset = "\u{1B}[0m"
}

/// Columns padded to their widest cell (counted in characters, so Cyrillic lines up), two spaces apart.
struct TextTable {
    private let header: [String]
    private let rightAligned: Set<Int>
    private var rows: [(cells: [String], colour: LineColour?)] = []

    init(_ header: [String], rightAligned: Set<Int> = []) {
        self.header = header
        self.rightAligned = rightAligned
    }

    mutating func add(_ cells: [String], colour: LineColour? = nil) {
        rows.append((cells, colour))
    }

    /// The header and rows, one line each, without trailing spaces.
    func render(colours: Bool) -> String {
        let widths = header.indices.map { column in ([header] + rows.map(\.cells)).map { $0[column].count }.max()! }
        func line(_ cells: [String]) -> String {
            let padded = cells.enumerated().map { column, cell in
                rightAligned.contains(column) ? cell.padded(to: widths[column], left: true) : cell.padded(to: widths[column])
            }
            var text = padded.joined(separator: "  ")
            while text.last == " " { text.removeLast() }
            return text
        }
        return ([line(header)] + rows.map { row in
            let text = line(row.cells)
            guard colours, let colour = row.colour else { return text }
            return colour.rawValue + text + LineColour.reset
        }).map { $0 + "\n" }.joined()
    }
}

extension String {
    /// The text padded with spaces to `width` characters (on the left for numbers).
    func padded(to width: Int, left: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(0, width - count))
        return left ? padding + self : self + padding
    }
}
