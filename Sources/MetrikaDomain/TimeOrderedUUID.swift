import Foundation

/// Version 7 UUIDs (RFC 9562) in lower-case text, for the ids the gateway makes: tickets, callbacks, events.
///
/// The first 48 bits are the Unix time in milliseconds, so ids made one after another sort together and
/// SQLite appends them at the right edge of each index instead of dirtying a random page per insert.
/// The other 74 bits are random, from the system generator (`getrandom`); Foundation's `UUID()` would
/// open `/dev/urandom` for every id on Linux.
public enum TimeOrderedUUID {
    /// A new id such as `019a8c1e-5a7d-7e09-9b1c-6d2f0a8e7c45`.
    public static func next(at instant: Date = Date()) -> String {
        var generator = SystemRandomNumberGenerator()
        let milliseconds = UInt64(max(0, instant.timeIntervalSince1970 * 1000)) & 0xFFFF_FFFF_FFFF
        return format(milliseconds: milliseconds, random: generator.next(), moreRandom: generator.next())
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
