import Foundation
import Testing
@testable import MetrikaDomain

@Suite("What a call event means for tickets and callbacks")
struct CallDecisionTests {
    static let started = Date(timeIntervalSince1970: 1_796_281_200)  // 2026-12-03T10:00:00+03:00
    static let answered = Date(timeIntervalSince1970: 1_796_281_212) // 10:00:12
    static let ended = Date(timeIntervalSince1970: 1_796_281_241)    // 10:00:41

    static func ended(_ outcome: CallOutcome, _ direction: CallDirection, operatorLogin: String? = nil,
                      answeredAt: Date? = nil) -> CallEnded {
        CallEnded(eventID: "e-\(outcome)-\(direction)", callID: "1764748800.1042", direction: direction,
                  subscriberNumber: "89000001122", line: "+73422000000", operatorLogin: operatorLogin,
                  startedAt: started, answeredAt: answeredAt, endedAt: ended, outcome: outcome)
    }

    @Test("call.answered means an operator talked to the subscriber at the answer time", arguments: [CallDirection.inbound, .outbound])
    func callAnsweredIsAnswered(direction: CallDirection) {
        let event = CallAnswered(eventID: "e1", callID: "c1", direction: direction, subscriberNumber: "89000001122",
                                 line: "+73422000000", operatorLogin: "op.petrova", answeredAt: Self.answered)
        #expect(CallDecision.of(event) == .answered(direction: direction, operatorLogin: "op.petrova",
                                                    number: "89000001122", at: Self.answered))
    }

    @Test("call.ended answered means the same as call.answered", arguments: [CallDirection.inbound, .outbound])
    func callEndedAnsweredIsAnswered(direction: CallDirection) {
        let event = Self.ended(.answered, direction, operatorLogin: "op.sidorov", answeredAt: Self.answered)
        #expect(CallDecision.of(event) == .answered(direction: direction, operatorLogin: "op.sidorov",
                                                    number: "89000001122", at: Self.answered))
    }

    @Test("An answered call.ended without answered_at is dated by its start")
    func answeredWithoutAnswerTimeUsesStart() {
        let event = Self.ended(.answered, .inbound, operatorLogin: "op.sidorov")
        #expect(CallDecision.of(event) == .answered(direction: .inbound, operatorLogin: "op.sidorov",
                                                    number: "89000001122", at: Self.started))
    }

    @Test("An inbound call nobody answered must be called back, dated by its end", arguments: [CallOutcome.missed, .busy, .abandoned])
    func unansweredInboundIsMissed(outcome: CallOutcome) {
        #expect(CallDecision.of(Self.ended(outcome, .inbound)) == .missed(number: "89000001122", at: Self.ended))
    }

    @Test("An outbound call that did not get through is an unanswered attempt by the operator, dated by its end",
          arguments: [CallOutcome.missed, .busy, .abandoned, .failed])
    func unansweredOutboundIsAnAttempt(outcome: CallOutcome) {
        #expect(CallDecision.of(Self.ended(outcome, .outbound, operatorLogin: "op.petrova"))
            == .unansweredOutbound(operatorLogin: "op.petrova", number: "89000001122", at: Self.ended))
    }

    @Test("A failed inbound call records nothing")
    func failedInboundIsNothing() {
        #expect(CallDecision.of(Self.ended(.failed, .inbound)) == .nothing)
    }
}

@Suite("Callbacks collect missed calls until they are resolved")
struct CallbackTests {
    @Test("A callback opened for a missed call counts it and more missed calls join it")
    func missedCallsJoinTheCallback() {
        let first = Date(timeIntervalSince1970: 1_796_280_723) // 09:52:03+03:00
        let second = Date(timeIntervalSince1970: 1_796_281_241)
        var callback = Callback(callbackID: "cb1", ticketID: "t1", phone: "+79000001122", origin: .missedCall,
                                openedAt: first, missedAt: first)
        #expect(callback.status == .open)
        #expect(callback.missedCount == 1)
        callback.recordMissedCall(at: second)
        #expect(callback.missedCount == 2)
        #expect(callback.firstMissedAt == first)
        #expect(callback.lastMissedAt == second)
        callback.recordMissedCall(at: Date(timeIntervalSince1970: 1_796_280_000)) // arrives late, happened earlier
        #expect(callback.missedCount == 3)
        #expect(callback.firstMissedAt == Date(timeIntervalSince1970: 1_796_280_000))
        #expect(callback.lastMissedAt == second)
    }

    @Test("A requested callback starts with no missed calls and resolves with who and when")
    func requestedCallbackResolves() {
        let opened = Date(timeIntervalSince1970: 1_796_281_245)
        let resolved = Date(timeIntervalSince1970: 1_796_283_077)
        var callback = Callback(callbackID: "cb2", ticketID: "t2", phone: "+79000001122", origin: .requested,
                                openedAt: opened, missedAt: nil)
        #expect(callback.missedCount == 0)
        #expect(callback.firstMissedAt == nil)
        callback.resolve(by: "op.petrova", how: .operatorDone, at: resolved)
        #expect(callback.status == .resolved)
        #expect(callback.resolvedBy == "op.petrova")
        #expect(callback.resolution == .operatorDone)
        #expect(callback.resolvedAt == resolved)
        #expect(callback.isNewlyOverdue(limit: 60, at: resolved) == false)
    }

    @Test("Failed outbound attempts are counted on the callback")
    func failedAttemptsAreCounted() {
        var callback = Callback(callbackID: "cb3", ticketID: "t3", phone: "+79000001122", origin: .missedCall,
                                openedAt: CallDecisionTests.ended, missedAt: CallDecisionTests.ended)
        callback.recordFailedAttempt()
        callback.recordFailedAttempt()
        #expect(callback.attempts == 2)
        #expect(callback.missedCount == 1)
        #expect(callback.status == .open)
    }

    @Test("An open callback becomes overdue once it has waited the limit, and only once")
    func overdueOnce() {
        let opened = CallDecisionTests.ended
        var callback = Callback(callbackID: "cb4", ticketID: "t4", phone: "+79000001122", origin: .missedCall,
                                openedAt: opened, missedAt: opened)
        #expect(callback.isNewlyOverdue(limit: 1800, at: opened.addingTimeInterval(1799)) == false)
        #expect(callback.isNewlyOverdue(limit: 1800, at: opened.addingTimeInterval(1800)))
        callback.overdueAt = opened.addingTimeInterval(1800)
        #expect(callback.isNewlyOverdue(limit: 1800, at: opened.addingTimeInterval(3600)) == false)
    }
}
