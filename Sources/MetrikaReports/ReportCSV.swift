import Foundation

/// Reports as CSV (RFC 4180): a header line, comma-separated fields, CRLF line ends, and a field quoted
/// (quotes doubled) when it holds a comma, a quote, CR or LF. Numbers are plain; shares use a dot and
/// 4 decimals.
public enum ReportCSV {
    /// `operator,calls,callbacks,attempts,manual,tasks,total`, one line per operator (no totals line, so
    /// spreadsheets can sum the columns).
    public static func pay(_ report: PayReport) -> String {
        table(["operator", "calls", "callbacks", "attempts", "manual", "tasks", "total"], report.operators.map { line in
            [line.operatorLogin] + [line.counts.calls, line.counts.callbacks, line.counts.attempts, line.counts.manual,
                                    line.counts.tasks, line.counts.total].map(String.init)
        })
    }

    /// One table for the three parts: `section` is `reason`, `resolution` or `pair`; a reason line leaves
    /// the resolution columns empty and the other way round.
    public static func reasons(_ report: ReasonsReport) -> String {
        let reasons = report.reasons.map { ["reason", $0.code, $0.title, "", "", String($0.tickets), share($0.share)] }
        let resolutions = report.resolutions.map { ["resolution", "", "", $0.code, $0.title, String($0.tickets), share($0.share)] }
        let pairs = report.pairs.map {
            ["pair", $0.reason.code, $0.reason.title, $0.resolution.code, $0.resolution.title, String($0.tickets), share($0.share)]
        }
        return table(["section", "reason_code", "reason", "resolution_code", "resolution", "tickets", "share"],
                     reasons + resolutions + pairs)
    }

    /// A header and rows as CSV text.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        ([header] + rows).map { $0.map(field).joined(separator: ",") + "\r\n" }.joined()
    }

    /// One field, quoted when RFC 4180 requires it.
    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    private static func share(_ value: Double) -> String { String(format: "%.4f", value) }
}
