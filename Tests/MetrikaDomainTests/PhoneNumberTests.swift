import Testing
@testable import MetrikaDomain

@Suite("Phone numbers are normalised to E.164")
struct PhoneNumberTests {
    @Test("Russian numbers in any national or international format become +7 and ten digits", arguments: [
        ("89000001122", "+79000001122"),
        ("9000001122", "+79000001122"),
        ("79000001122", "+79000001122"),
        ("+79000001122", "+79000001122"),
        ("+7 (900) 000-11-22", "+79000001122"),
        ("8 342 200-11-22", "+73422001122"),
        ("8-900-000-11-22", "+79000001122"),
        ("+7 900 000 11 22", "+79000001122"),
        ("8(900)0001122", "+79000001122"),
        ("8.900.000.11.22", "+79000001122"),
        ("8\t900\t0001122", "+79000001122"),
        ("+7\u{00A0}900\u{00A0}000\u{00A0}11\u{00A0}22", "+79000001122"),
        ("8\u{00A0}(342)\u{00A0}200-11-22", "+73422001122"),
        ("  89000001122  ", "+79000001122"),
        ("\u{00A0}+7 900 000-11-22\u{00A0}", "+79000001122"),
        ("\n9000001122\n", "+79000001122"),
        ("+7\u{202F}900\u{202F}000\u{202F}11\u{202F}22", "+79000001122"),
        ("8\u{2009}900\u{2009}000\u{2009}11\u{2009}22", "+79000001122"),
        ("8 900 000–11–22", "+79000001122"),
        ("8\u{2011}900\u{2011}000\u{2011}11\u{2011}22", "+79000001122"),
        ("8 (900) 000—11—22", "+79000001122"),
        ("810 44 20 7946 0958", "+442079460958"),
        ("00 44 20 7946 0958", "+442079460958"),
        ("+44 20 7946 0958", "+442079460958"),
        ("810 354 512 3456", "+3545123456"),
        ("00 354 512 3456", "+3545123456"),
        ("81012345678", "+71012345678"),
    ])
    func russianPlanNormalises(typed: String, e164: String) {
        #expect(Fixture.ru.normalise(typed)?.e164 == e164)
    }

    @Test("Russian plan rejects what is not a dialable number", arguments: [
        "anonymous",
        "101",
        "",
        "   ",
        "+",
        "12345",
        "890000011",
        "890000011223",
        "8900abc1122",
        "8 900 000 11 22 доб. 5",
        "8900+0001122",
        "++79000001122",
        "79000001122+",
        "+0 900 000 11 22",
        "8/900/000/11/22",
        "8900\n0001122",
        "８９００００００１１２２",
    ])
    func russianPlanRejects(typed: String) {
        #expect(Fixture.ru.normalise(typed) == nil)
    }

    @Test("Kazakh numbers use +7 with the trunk prefix 8", arguments: [
        ("87012345678", "+77012345678"),
        ("+7 701 234 56 78", "+77012345678"),
        ("7012345678", "+77012345678"),
    ])
    func kazakhPlanNormalises(typed: String, e164: String) throws {
        let plan = try #require(NumberingPlan.forCountry("kz"))
        #expect(plan.normalise(typed)?.e164 == e164)
    }

    @Test("Belarusian numbers use +375 with the trunk prefix 80", arguments: [
        ("80291234567", "+375291234567"),
        ("8 029 123-45-67", "+375291234567"),
        ("291234567", "+375291234567"),
        ("375291234567", "+375291234567"),
        ("+375 (29) 123-45-67", "+375291234567"),
    ])
    func belarusianPlanNormalises(typed: String, e164: String) throws {
        let plan = try #require(NumberingPlan.forCountry("BY"))
        #expect(plan.normalise(typed)?.e164 == e164)
    }

    @Test("Belarusian plan rejects a Russian-length national number")
    func belarusianPlanRejectsTenDigits() throws {
        let plan = try #require(NumberingPlan.forCountry("BY"))
        #expect(plan.normalise("9000001122") == nil)
        #expect(plan.normalise("89000001122") == nil)
    }

    @Test("An unknown country has no numbering plan")
    func unknownCountryHasNoPlan() {
        #expect(NumberingPlan.forCountry("US") == nil)
        #expect(NumberingPlan.forCountry("ru")?.callingCode == "7")
    }

    @Test("E.164 wrapping accepts only a plus and 7 to 15 digits not starting with 0", arguments: [
        ("+79000001122", true),
        ("+1234567", true),
        ("+123456789012345", true),
        ("+123456", false),
        ("+1234567890123456", false),
        ("79000001122", false),
        ("+09000001122", false),
        ("+7900000112a", false),
        ("+7 9000001122", false),
    ])
    func e164Wrapping(candidate: String, accepted: Bool) {
        #expect((PhoneNumber(e164: candidate) != nil) == accepted)
    }

    @Test("Phone numbers order by their E.164 text")
    func phoneNumbersOrder() throws {
        let phones = [try Fixture.phone("+79000001122"), try Fixture.phone("+73422001122")]
        #expect(phones.sorted().map(\.e164) == ["+73422001122", "+79000001122"])
        #expect(phones[0].description == "+79000001122")
    }
}
