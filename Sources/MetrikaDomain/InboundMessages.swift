import Foundation

/// Who is on the other end of a call relative to the contact centre.
public enum CallDirection: String, Codable, Sendable, CaseIterable {
    /// The subscriber called us.
    case inbound
    /// An operator called the subscriber.
    case outbound
}

/// How a call ended, as the PBX reports it.
public enum CallOutcome: String, Codable, Sendable, CaseIterable {
    case answered, missed, busy, abandoned, failed
}

/// A subscriber's account status in RS.
public enum SubscriberStatus: String, Codable, Sendable, CaseIterable {
    case active, suspended, terminated
}

/// RS's `subscriber.updated`: a full snapshot of one subscriber at `version`.
public struct SubscriberUpdated: Sendable, Equatable {
    public let eventID: String
    public let occurredAt: Date
    public let version: Int64
    public let subscriber: Subscriber
    /// Phones exactly as typed in RS, including those that could not be normalised.
    public let rawPhones: [String]
}

/// The telephony system's `call.answered`: an operator picked up.
public struct CallAnswered: Sendable, Equatable {
    public let eventID: String
    public let callID: String
    public let direction: CallDirection
    public let subscriberNumber: String
    public let line: String
    public let operatorLogin: String?
    public let answeredAt: Date
}

/// The telephony system's `call.ended`: the call is over and its outcome known.
public struct CallEnded: Sendable, Equatable {
    public let eventID: String
    public let callID: String
    public let direction: CallDirection
    public let subscriberNumber: String
    public let line: String
    public let operatorLogin: String?
    public let startedAt: Date
    public let answeredAt: Date?
    public let endedAt: Date
    public let outcome: CallOutcome
}

/// Where an operator issued a command from.
public enum CommandOrigin: String, Codable, Sendable, CaseIterable {
    case rsCard = "rs_card"
    case myTickets = "my_tickets"
    case callbackList = "callback_list"
    case manual
}

/// `ticket.create`: an operator creates a ticket by hand or from the RS card.
public struct TicketCreateCommand: Sendable, Equatable {
    public let commandID: String
    public let operatorLogin: String
    public let via: CommandOrigin
    public let rsID: Int64?
    public let source: String?
    public let contactPhones: [String]
    public let reasons: [String]
    public let resolutions: [String]
    public let comment: String?
    public let task: String?
    public let address: String?
    public let save: Bool
}

/// `ticket.save`: an operator completes a draft.
public struct TicketSaveCommand: Sendable, Equatable {
    public let commandID: String
    public let ticketID: String
    public let operatorLogin: String
    public let contactPhones: [String]?
    public let source: String?
    public let reasons: [String]
    public let resolutions: [String]
    public let comment: String?
    public let address: String?
    /// True when the operator recorded that the ticket's callback was handled (`"callback": "done"`).
    public let callbackDone: Bool
}

/// `ticket.edit`: an operator changes a ticket after it was created.
public struct TicketEditCommand: Sendable, Equatable {
    public let commandID: String
    public let ticketID: String
    public let operatorLogin: String
    public let via: CommandOrigin
    public let reasons: [String]?
    public let resolutions: [String]?
    public let comment: String?
    public let contactPhones: [String]?
    public let source: String?
    public let callbackDone: Bool
}

/// Everything the gateway consumes, decoded and validated.
public enum InboundMessage: Sendable, Equatable {
    case subscriberUpdated(SubscriberUpdated)
    case callAnswered(CallAnswered)
    case callEnded(CallEnded)
    case ticketCreate(TicketCreateCommand)
    case ticketSave(TicketSaveCommand)
    case ticketEdit(TicketEditCommand)

    /// The body id (`event_id` or `command_id`) that deduplicates this message.
    public var messageID: String {
        switch self {
        case let .subscriberUpdated(m): m.eventID
        case let .callAnswered(m): m.eventID
        case let .callEnded(m): m.eventID
        case let .ticketCreate(m): m.commandID
        case let .ticketSave(m): m.commandID
        case let .ticketEdit(m): m.commandID
        }
    }

    /// The `type` field.
    public var type: String {
        switch self {
        case .subscriberUpdated: "subscriber.updated"
        case .callAnswered: "call.answered"
        case .callEnded: "call.ended"
        case .ticketCreate: "ticket.create"
        case .ticketSave: "ticket.save"
        case .ticketEdit: "ticket.edit"
        }
    }
}
