import Foundation

/// Message bodies in the exact formats of CONTRACTS.md, with fresh ids.
enum Fixtures {
    static func id() -> String { UUID().uuidString.lowercased() }

    static func subscriber(rsID: Int, version: Int, phones: [String], contract: String = "Д-2019/4471",
                           name: String = "Иванова Анна Сергеевна", address: String = "г. Пермь, ул. Ленина, д. 10, кв. 5",
                           tariff: String = "Домашний 500", since: String = "2026-03-01", switchName: String = "sw-perm-len10-2",
                           eventID: String = id()) -> [String: Any] {
        [
            "event_id": eventID, "type": "subscriber.updated", "occurred_at": "2026-11-20T09:15:00+03:00", "version": version,
            "subscriber": [
                "rs_id": rsID, "contract_no": contract, "full_name": name, "address": address, "phones": phones,
                "tariff": ["name": tariff, "since": since], "switch": switchName, "status": "active",
            ] as [String: Any],
        ]
    }

    static func callEnded(callID: String, number: String, outcome: String, direction: String = "inbound",
                          operatorLogin: String? = nil, endedAt: String = "2026-12-03T10:00:41+03:00",
                          eventID: String = id()) -> [String: Any] {
        [
            "event_id": eventID, "type": "call.ended", "call_id": callID, "direction": direction,
            "subscriber_number": number, "line": "+73422000000", "operator": operatorLogin as Any? ?? NSNull(),
            "started_at": "2026-12-03T10:00:00+03:00",
            "answered_at": outcome == "answered" ? "2026-12-03T10:00:05+03:00" : NSNull(),
            "ended_at": endedAt, "outcome": outcome,
        ]
    }

    static func callAnswered(callID: String, number: String, operatorLogin: String, direction: String = "inbound",
                             answeredAt: String = "2026-12-03T10:00:05+03:00", eventID: String = id()) -> [String: Any] {
        [
            "event_id": eventID, "type": "call.answered", "call_id": callID, "direction": direction,
            "subscriber_number": number, "line": "+73422000000", "operator": operatorLogin,
            "answered_at": answeredAt,
        ]
    }

    static func edit(ticketID: String, operatorLogin: String = "op.petrova", via: String, changes: [String: Any],
                     callbackDone: Bool = false) -> [String: Any] {
        var command: [String: Any] = ["command_id": id(), "type": "ticket.edit", "ticket_id": ticketID, "operator": operatorLogin,
                                      "via": via, "changes": changes]
        if callbackDone { command["callback"] = "done" }
        return command
    }

    static func create(_ fields: [String: Any]) -> [String: Any] {
        var command: [String: Any] = ["command_id": id(), "type": "ticket.create", "operator": "op.petrova", "via": "rs_card"]
        command.merge(fields) { $1 }
        return command
    }

    static func save(ticketID: String, _ fields: [String: Any]) -> [String: Any] {
        var command: [String: Any] = ["command_id": id(), "type": "ticket.save", "ticket_id": ticketID, "operator": "op.petrova"]
        command.merge(fields) { $1 }
        return command
    }
}
