import Foundation

/// PBX call events in the contract's format.
enum CallEvents {
    /// The company's line the calls come in on.
    static let line = "+73422000000"

    /// Operators who take calls.
    static let operators = [
        "op.petrova", "op.ivanov", "op.smirnova", "op.kuznetsov", "op.popova", "op.sokolov", "op.lebedeva", "op.kozlov",
        "op.novikova", "op.morozov", "op.volkova", "op.egorov", "op.pavlova", "op.orlov", "op.fedorova", "op.zaitsev",
    ]

    /// `call.ended` of an inbound call nobody answered (`outcome` missed, busy or abandoned).
    static func unanswered(eventID: String, callID: String, number: String, outcome: String, startedAt: Int, endedAt: Int) -> Data {
        var event = JSONObjectWriter()
        event.string("event_id", eventID)
        event.string("type", "call.ended")
        event.string("call_id", callID)
        event.string("direction", "inbound")
        event.string("subscriber_number", number)
        event.string("line", line)
        event.string("operator", nil)
        event.string("started_at", BenchText.timestamp(startedAt))
        event.string("answered_at", nil)
        event.string("ended_at", BenchText.timestamp(endedAt))
        event.string("outcome", outcome)
        return Data(event.finished.utf8)
    }

    /// `call.answered`, sent when an operator picks up.
    static func answered(eventID: String, callID: String, direction: String, number: String, operatorLogin: String,
                         answeredAt: Int) -> Data {
        var event = JSONObjectWriter()
        event.string("event_id", eventID)
        event.string("type", "call.answered")
        event.string("call_id", callID)
        event.string("direction", direction)
        event.string("subscriber_number", number)
        event.string("line", line)
        event.string("operator", operatorLogin)
        event.string("answered_at", BenchText.timestamp(answeredAt))
        return Data(event.finished.utf8)
    }

    /// `call.ended` of an answered call.
    static func endedAnswered(eventID: String, callID: String, direction: String, number: String, operatorLogin: String,
                              startedAt: Int, answeredAt: Int, endedAt: Int) -> Data {
        var event = JSONObjectWriter()
        event.string("event_id", eventID)
        event.string("type", "call.ended")
        event.string("call_id", callID)
        event.string("direction", direction)
        event.string("subscriber_number", number)
        event.string("line", line)
        event.string("operator", operatorLogin)
        event.string("started_at", BenchText.timestamp(startedAt))
        event.string("answered_at", BenchText.timestamp(answeredAt))
        event.string("ended_at", BenchText.timestamp(endedAt))
        event.string("outcome", "answered")
        return Data(event.finished.utf8)
    }
}

/// A deterministic call storm, and what the gateway must make of it.
///
/// Answered calls come as a `call.answered` + `call.ended` pair, the second a few events after the first
/// and, for one call in five, in reverse order; missed (also busy, abandoned) calls repeat from the same
/// numbers. Half of the numbers belong to subscribers published before the storm. Answered and missed
/// calls use disjoint numbers, so no answered call resolves a callback and the expectations stay simple:
/// one draft per answered call, one callback (with its ticket) per distinct missed number, one
/// `callback.needed` per missed call.
struct CallStorm: Sendable {
    /// One event of the storm.
    struct Event: Sendable {
        enum Kind: UInt8, Sendable {
            case answered, endedAnswered, missed, busy, abandoned
        }

        let kind: Kind
        let call: Int32
        let national: Int64
        let style: UInt8
        let operatorIndex: UInt8
        let outbound: Bool
    }

    /// Stream of the event ids (`BenchText.id`).
    private static let idStream: UInt32 = 0xca11_0001

    let events: [Event]
    /// Subscribers to publish before the storm (`SubscriberGenerator` indices 0..<knownSubscribers).
    let knownSubscribers: Int
    private(set) var answeredCalls = 0
    private(set) var answeredFromKnownNumbers = 0
    private(set) var missedCalls = 0
    private(set) var distinctMissedNumbers = 0
    private(set) var distinctMissedKnownNumbers = 0

    /// Tickets: a draft per answered call and a callback ticket per distinct missed number.
    var expectedTickets: Int { answeredCalls + distinctMissedNumbers }
    var expectedCallbacks: Int { distinctMissedNumbers }
    /// `ticket.drafted` events: one per ticket.
    var expectedDrafted: Int { expectedTickets }
    /// `callback.needed` events: one per missed call (a repeat re-announces the callback with a higher count).
    var expectedCallbackNeeded: Int { missedCalls }
    /// Tickets whose number matched a published subscriber.
    var expectedMatchedTickets: Int { answeredFromKnownNumbers + distinctMissedKnownNumbers }

    /// Plans `total` events with `knownSubscribers` subscribers behind half of the numbers.
    init(events total: Int, knownSubscribers: Int, seed: UInt64 = 0x5354_4F52_4D00_0001) {
        self.knownSubscribers = knownSubscribers
        var random = SeededRandom(seed: seed)
        var planned: [Event] = []
        planned.reserveCapacity(total)
        var delayed: [(due: Int, event: Event)] = []
        var missedNumbers: [Int64] = []
        var missedSet = Set<Int64>()
        var unknownAnswered = 0
        var unknownMissed = 0
        var call: Int32 = 0
        while planned.count + delayed.count < total {
            call += 1
            let style = UInt8(random.int(in: 0...4))
            if total - planned.count - delayed.count >= 2 && random.chance(0.5) {
                let known = random.chance(0.5)
                let national = known
                    ? BenchNumbers.subscriberMobile(index: random.int(in: 0...knownSubscribers - 1), slot: 0)
                    : BenchNumbers.unknownMobile(pool: 0, index: unknownAnswered)
                if !known { unknownAnswered += 1 }
                let operatorIndex = UInt8(random.int(in: 0...CallEvents.operators.count - 1))
                let outbound = random.chance(0.1)
                let pickUp = Event(kind: .answered, call: call, national: Int64(national), style: style,
                                   operatorIndex: operatorIndex, outbound: outbound)
                let end = Event(kind: .endedAnswered, call: call, national: Int64(national), style: style,
                                operatorIndex: operatorIndex, outbound: outbound)
                let reversed = random.chance(0.2)
                planned.append(reversed ? end : pickUp)
                delayed.append((planned.count + random.int(in: 1...40), reversed ? pickUp : end))
                answeredCalls += 1
                if known { answeredFromKnownNumbers += 1 }
            } else {
                let national: Int64
                var known = false
                if !missedNumbers.isEmpty && random.chance(0.35) {
                    national = random.pick(missedNumbers)
                } else if random.chance(0.5) {
                    national = Int64(BenchNumbers.subscriberMobile(index: random.int(in: 0...knownSubscribers - 1), slot: 1))
                    known = true
                } else {
                    national = Int64(BenchNumbers.unknownMobile(pool: 1, index: unknownMissed))
                    unknownMissed += 1
                }
                if missedSet.insert(national).inserted {
                    missedNumbers.append(national)
                    distinctMissedNumbers += 1
                    if known { distinctMissedKnownNumbers += 1 }
                }
                let outcome = random.chance(0.7) ? Event.Kind.missed : random.chance(0.5) ? .busy : .abandoned
                planned.append(Event(kind: outcome, call: call, national: national, style: style, operatorIndex: 0, outbound: false))
                missedCalls += 1
            }
            while let next = delayed.firstIndex(where: { $0.due <= planned.count }) {
                planned.append(delayed.remove(at: next).event)
            }
        }
        planned.append(contentsOf: delayed.map(\.event))
        events = planned
    }

    /// The routing key, `event_id` and body of event `index`; call times count from `baseTime` (Unix
    /// seconds), four calls a second.
    func message(_ index: Int, baseTime: Int) -> BenchMessage {
        let event = events[index]
        let id = BenchText.id(stream: Self.idStream, index: index)
        let call = Int(event.call)
        let callID = "\(baseTime + call / 4).\(call)"
        let startedAt = baseTime + call / 4
        let number = BenchNumbers.dialled(Int(event.national), style: Int(event.style))
        let direction = event.outbound ? "outbound" : "inbound"
        let operatorLogin = CallEvents.operators[Int(event.operatorIndex)]
        let answeredAt = startedAt + 3 + call % 20
        let routingKey: String
        let body: Data
        switch event.kind {
        case .answered:
            routingKey = "call.answered"
            body = CallEvents.answered(eventID: id, callID: callID, direction: direction, number: number,
                                       operatorLogin: operatorLogin, answeredAt: answeredAt)
        case .endedAnswered:
            routingKey = "call.ended"
            body = CallEvents.endedAnswered(eventID: id, callID: callID, direction: direction, number: number,
                                            operatorLogin: operatorLogin, startedAt: startedAt,
                                            answeredAt: answeredAt, endedAt: answeredAt + 30 + call % 600)
        case .missed, .busy, .abandoned:
            let outcome = event.kind == .missed ? "missed" : event.kind == .busy ? "busy" : "abandoned"
            routingKey = "call.ended"
            body = CallEvents.unanswered(eventID: id, callID: callID, number: number, outcome: outcome,
                                         startedAt: startedAt, endedAt: startedAt + 15 + call % 45)
        }
        return BenchMessage(routingKey: routingKey, id: id, body: body)
    }
}
