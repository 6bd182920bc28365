import Foundation
import MetrikaTestSupport
import Testing

/// The operator's page in a real browser: Debian's headless Chromium over the DevTools protocol.
@Suite(.serialized)
struct OperatorPageBrowserTests {
    @Test func aNewMissedCallAppearsOnTheOpenPageAsABlueRowWithoutAReloadAndOverdueOnesAreRed() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        let (server, port) = try gateway.startOperations()
        defer { server.stop() }
        try gateway.publishSubscriber(Fixtures.subscriber(rsID: 100234, version: 1, phones: ["+7 (900) 000-11-22"]))
        try gateway.publishCall(recentMissedCall(from: "89001234567", secondsAgo: 2 * 3600))
        _ = try gateway.nextEvent(ofType: "callback.needed")

        let browser = try HeadlessChromium(windowWidth: 1366, windowHeight: 768)
        defer { browser.close() }
        let page = try browser.open("http://127.0.0.1:\(port)/")
        #expect(try page.waitUntil("document.body !== null && document.body.dataset.loaded === 'true'", timeout: 20))
        #expect(try page.evaluate("document.querySelectorAll('tr.callback').length") as? Int == 1)
        #expect(try page.evaluate("document.querySelectorAll('tr.callback.overdue').length") as? Int == 1)
        _ = try page.evaluate("window.metrikaTestMarker = 'the same document'")

        try gateway.publishCall(recentMissedCall(from: "89000001122"))
        #expect(try page.waitUntil("document.querySelectorAll('tr.callback').length === 2", timeout: 15))

        let rows = try #require(try page.evaluate("""
            Array.from(document.querySelectorAll('tr.callback')).map(row => ({
              classes: row.className, text: row.innerText, background: getComputedStyle(row.cells[0]).backgroundColor }))
            """) as? [[String: Any]])
        #expect(rows.map { $0["classes"] as? String } == ["callback overdue", "callback"], "oldest first: the overdue one on top")
        #expect(rows.map { $0["background"] as? String } == ["rgb(254, 226, 226)", "rgb(219, 234, 254)"], "red, then blue")
        let newRow = rows[1]["text"] as? String ?? ""
        #expect(newRow.contains("+7 900 000-11-22"))
        #expect(newRow.contains("Иванова Анна Сергеевна"))
        #expect(newRow.contains("г. Пермь, ул. Ленина, д. 10, кв. 5"))
        #expect(try page.evaluate("window.metrikaTestMarker") as? String == "the same document", "the page was reloaded")
        #expect(try page.evaluate("document.documentElement.scrollWidth <= window.innerWidth") as? Bool == true,
                "the page scrolls sideways at 1366×768")
    }

    @Test func anOperatorsSelectionOfAPhoneNumberSurvivesThePagesUpdates() throws {
        let gateway = try TestGateway()
        defer { gateway.shutdown() }
        let (server, port) = try gateway.startOperations()
        defer { server.stop() }
        try gateway.publishCall(recentMissedCall(from: "89000001122"))
        _ = try gateway.nextEvent(ofType: "callback.needed")

        let browser = try HeadlessChromium(windowWidth: 1366, windowHeight: 768)
        defer { browser.close() }
        let page = try browser.open("http://127.0.0.1:\(port)/")
        #expect(try page.waitUntil("document.body !== null && document.body.dataset.loaded === 'true'", timeout: 20))
        let selected = try page.evaluate("""
            (() => {
              const row = document.querySelector('tr.callback'), range = document.createRange();
              row.metrikaTestMarker = 'the same row';
              window.metrikaAgeBefore = row.querySelector('td.age').textContent;
              range.selectNodeContents(row.querySelector('td.phone'));
              getSelection().removeAllRanges();
              getSelection().addRange(range);
              return getSelection().toString();
            })()
            """) as? String
        #expect(selected == "+7 900 000-11-22")

        // Two answers of the server later (each redraws, and the one-second ticks run between them).
        for _ in 0..<2 {
            _ = try page.evaluate("window.metrikaStatusBefore = document.getElementById('status').textContent")
            #expect(try page.waitUntil("document.getElementById('status').textContent !== window.metrikaStatusBefore", timeout: 15))
        }
        #expect(try page.waitUntil("document.querySelector('td.age').textContent !== window.metrikaAgeBefore", timeout: 15),
                "the waiting time stopped ticking")
        #expect(try page.evaluate("getSelection().toString()") as? String == "+7 900 000-11-22", "the selection was lost")
        #expect(try page.evaluate("document.querySelector('tr.callback').metrikaTestMarker") as? String == "the same row",
                "the row was drawn anew")
        #expect(try page.evaluate("document.querySelectorAll('tr.callback').length") as? Int == 1)
    }
}
