import Foundation
import Synchronization

/// Version 7 UUIDs (RFC 9562) in lower-case text, for the ids the gateway makes: tickets, callbacks, events.
///
/// The first 48 bits are the Unix time in milliseconds, so ids made one after another sort together and
/// SQLite appends them at the right edge of each index instead of dirtying a random page per insert.
/// The other 74 bits are random, from a xoshiro256** generator seeded once per process by the system
/// generator (`getrandom`): two system calls per id showed in the call storm's profile, and Foundation's
/// `UUID()` would open `/dev/urandom` for every id on Linux. The ids need to be unique, not secret.
public enum TimeOrderedUUID {
    private static let generator = Mutex(Xoshiro256StarStar(seededBy: SystemRandomNumberGenerator()))

    /// A new id such as `019a8c1e-5a7d-7e09-9b1c-6d2f0a8e7c45`.
    public static func next(at instant: Date = Date()) -> String {
        let milliseconds = UInt64(max(0, instant.timeIntervalSince1970 * 1000)) & 0xFFFF_FFFF_FFFF
        let (random, moreRandom) = generator.withLock { ($0.next(), $0.next()) }
        return format(milliseconds: milliseconds, random: random, moreRandom: moreRandom)
    }

    /// The text of the version 7 UUID with this time and these random bits (variant 10xx).
    static func format(milliseconds: UInt64, random: UInt64, moreRandom: UInt64) -> String {
        let high = milliseconds << 16 | 0x7000 | random & 0x0FFF
        let low = moreRandom & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000
        let digits: StaticString = "0123456789abcdef"
        return String(unsafeUninitializedCapacity: 36) { buffer in
            var position = 0
            for index in 0..<32 {
                if position == 8 || position == 13 || position == 18 || position == 23 {
                    buffer[position] = UInt8(ascii: "-")
                    position += 1
                }
                let word = index < 16 ? high : low
                let nibble = Int((word >> UInt64((15 - index % 16) * 4)) & 0xF)
                buffer[position] = digits.utf8Start[nibble]
                position += 1
            }
            return position
        }
    }
}

/// The xoshiro256** generator (Blackman and Vigna): fast, 256 bits of state, not cryptographic.
struct Xoshiro256StarStar: RandomNumberGenerator {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    /// A generator whose state comes from `source`; an all-zero state (which would only ever give zeros)
    /// is replaced by a fixed non-zero one.
    init<Source: RandomNumberGenerator>(seededBy source: Source) {
        var source = source
        state = (source.next(), source.next(), source.next(), source.next())
        if state == (0, 0, 0, 0) { state.0 = 0x9E37_79B9_7F4A_7C15 }
    }

    mutating func next() -> UInt64 {
        let result = (state.1 &* 5).rotatedLeft(by: 7) &* 9
        let shifted = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= shifted
        state.3 = state.3.rotatedLeft(by: 45)
        return result
    }
}

private extension UInt64 {
    func rotatedLeft(by bits: UInt64) -> UInt64 { self << bits | self >> (64 - bits) }
}
