import Foundation

/// Why a callback was opened.
public enum CallbackOrigin: String, Codable, Sendable {
    /// An inbound call was missed, busy or abandoned.
    case missedCall = "missed_call"
    /// An operator saved a ticket with the reason `Попросил перезвонить`.
    case requested
}

/// Whether someone still has to call the subscriber back.
public enum CallbackStatus: String, Codable, Sendable {
    case open, resolved
}

/// How a callback was closed.
public enum CallbackResolution: String, Codable, Sendable {
    /// An operator recorded `"callback": "done"`.
    case operatorDone = "operator_done"
    /// The subscriber called again and an operator answered.
    case answeredInbound = "answered_inbound"
    /// An operator called the number and the subscriber answered.
    case answeredOutbound = "answered_outbound"
}

/// A number that must be called back; at most one is open per number.
public struct Callback: Sendable, Equatable {
    public let callbackID: String
    /// The ticket that holds the callback and that the operator saves when it is handled.
    public let ticketID: String
    /// E.164.
    public let phone: String
    public let origin: CallbackOrigin
    public var status: CallbackStatus
    /// Missed calls from this number while the callback was open.
    public var missedCount: Int
    public var firstMissedAt: Date?
    public var lastMissedAt: Date?
    /// Outbound attempts that did not get through.
    public var attempts: Int
    public let openedAt: Date
    public var resolvedAt: Date?
    public var resolvedBy: String?
    public var resolution: CallbackResolution?
    /// When `callback.overdue` was emitted (once per callback).
    public var overdueAt: Date?

    public init(callbackID: String, ticketID: String, phone: String, origin: CallbackOrigin, openedAt: Date,
                missedAt: Date?) {
        self.callbackID = callbackID
        self.ticketID = ticketID
        self.phone = phone
        self.origin = origin
        self.status = .open
        self.missedCount = missedAt == nil ? 0 : 1
        self.firstMissedAt = missedAt
        self.lastMissedAt = missedAt
        self.attempts = 0
        self.openedAt = openedAt
    }

    /// Another missed call from the same number joins the open callback.
    public mutating func recordMissedCall(at instant: Date) {
        missedCount += 1
        firstMissedAt = min(firstMissedAt ?? instant, instant)
        lastMissedAt = max(lastMissedAt ?? instant, instant)
    }

    /// Counts an outbound attempt that did not get through.
    public mutating func recordFailedAttempt() {
        attempts += 1
    }

    /// Whether the callback has waited longer than `limit` at `instant` and was not yet reported overdue.
    public func isNewlyOverdue(limit: TimeInterval, at instant: Date) -> Bool {
        status == .open && overdueAt == nil && instant.timeIntervalSince(openedAt) >= limit
    }

    /// Closes the callback.
    public mutating func resolve(by operatorLogin: String?, how: CallbackResolution, at instant: Date) {
        status = .resolved
        resolvedBy = operatorLogin
        resolution = how
        resolvedAt = instant
    }
}

/// What one call event means for tickets and callbacks.
public enum CallDecision: Sendable, Equatable {
    /// An operator talked to the subscriber: one draft for the call.
    case answered(direction: CallDirection, operatorLogin: String?, number: String, at: Date)
    /// An inbound call nobody answered: the number must be called back.
    case missed(number: String, at: Date)
    /// An operator called the subscriber and did not get through: a callback attempt when the number
    /// has an open callback.
    case unansweredOutbound(operatorLogin: String?, number: String, at: Date)
    /// Nothing to record (an inbound call that failed in the network).
    case nothing

    /// Decides from `call.answered`.
    public static func of(_ event: CallAnswered) -> CallDecision {
        .answered(direction: event.direction, operatorLogin: event.operatorLogin, number: event.subscriberNumber,
                  at: event.answeredAt)
    }

    /// Decides from `call.ended`.
    public static func of(_ event: CallEnded) -> CallDecision {
        switch (event.outcome, event.direction) {
        case (.answered, _):
            return .answered(direction: event.direction, operatorLogin: event.operatorLogin,
                             number: event.subscriberNumber, at: event.answeredAt ?? event.startedAt)
        case (.missed, .inbound), (.busy, .inbound), (.abandoned, .inbound):
            return .missed(number: event.subscriberNumber, at: event.endedAt)
        case (_, .outbound):
            return .unansweredOutbound(operatorLogin: event.operatorLogin, number: event.subscriberNumber, at: event.endedAt)
        case (.failed, .inbound):
            return .nothing
        }
    }
}
