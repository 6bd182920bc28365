import Foundation
import Testing
@testable import MetrikaDomain

@Suite("Time-ordered UUIDs")
struct TimeOrderedUUIDTests {
    @Test("The time leads, then version 7, the variant bits and the random bits, as 8-4-4-4-12 lower-case hex")
    func layout() {
        #expect(TimeOrderedUUID.format(milliseconds: 0x0123_4567_89AB, random: 0xCDEF, moreRandom: 0xFEDC_BA98_7654_3210)
                == "01234567-89ab-7def-bedc-ba9876543210")
        #expect(TimeOrderedUUID.format(milliseconds: 0, random: 0, moreRandom: 0) == "00000000-0000-7000-8000-000000000000")
        #expect(TimeOrderedUUID.format(milliseconds: 0xFFFF_FFFF_FFFF, random: .max, moreRandom: .max)
                == "ffffffff-ffff-7fff-bfff-ffffffffffff")
    }

    @Test("Ids of later milliseconds sort after earlier ones; ids of one millisecond do not repeat")
    func ordering() throws {
        let start = Date(timeIntervalSince1970: 1_764_756_000)
        let ids = (0..<1000).map { TimeOrderedUUID.next(at: start.addingTimeInterval((Double($0) + 0.5) / 1000)) }
        #expect(ids == ids.sorted(), "the ids of 1000 consecutive milliseconds are not in order")
        #expect(ids[0].hasPrefix("019ae3"))
        let same = (0..<10_000).map { _ in TimeOrderedUUID.next(at: start) }
        #expect(Set(same).count == 10_000)
        for text in same.prefix(100) {
            let uuid = try #require(UUID(uuidString: text))
            #expect(uuid.uuidString.lowercased() == text)
            #expect(Array(text)[14] == "7")
            #expect("89ab".contains(Array(text)[19]))
        }
    }

    /// A source that hands out fixed words, to pin the generator's output.
    private struct FixedWords: RandomNumberGenerator {
        var words: [UInt64]
        mutating func next() -> UInt64 { words.removeFirst() }
    }

    @Test("xoshiro256** gives the reference sequence for the state 1, 2, 3, 4")
    func generatorReference() {
        var generator = Xoshiro256StarStar(seededBy: FixedWords(words: [1, 2, 3, 4]))
        // The first outputs of the reference C implementation (prng.di.unimi.it) for s = {1, 2, 3, 4}.
        #expect((0..<4).map { _ in generator.next() } == [11520, 0, 1509978240, 1215971899390074240])
    }

    @Test("An all-zero seed does not leave the generator stuck at zero")
    func zeroSeed() {
        var generator = Xoshiro256StarStar(seededBy: FixedWords(words: [0, 0, 0, 0]))
        #expect((0..<4).map { _ in generator.next() }.contains { $0 != 0 })
    }
}
