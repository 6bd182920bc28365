import Foundation
import MetrikaTestSupport

/// Debian's Chromium, headless, driven over the DevTools protocol: a real browser for page tests.
///
/// It runs with its own temporary profile and a DevTools port of its choosing (read back from the
/// profile's `DevToolsActivePort`), and is killed by `close()`.
final class HeadlessChromium {
    private let process = Process()
    private let profile: URL
    private let devToolsPort: Int

    /// Starts the browser on `about:blank`; fails (never skips) when `chromium` is not installed.
    init(windowWidth: Int = 1366, windowHeight: Int = 768) throws {
        let executable = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let executable else {
            throw HarnessError("Chromium is not installed; scripts/setup.sh installs Debian's 'chromium' package")
        }
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("metrika-chromium-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        let log = profile.appendingPathComponent("chromium.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        // --no-sandbox: tests run as root in CI, where Chromium refuses to start sandboxed.
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                             "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                             "--user-data-dir=\(profile.path)", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
                             "--window-size=\(windowWidth),\(windowHeight)", "about:blank"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        let activePort = profile.appendingPathComponent("DevToolsActivePort")
        let deadline = Date(timeIntervalSinceNow: 30)
        var port: Int?
        while port == nil, Date() < deadline, process.isRunning {
            port = (try? String(contentsOf: activePort, encoding: .utf8))?.split(separator: "\n").first.flatMap { Int($0) }
            if port == nil { Thread.sleep(forTimeInterval: 0.1) }
        }
        guard let port else {
            if process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
            let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(at: profile)
            throw HarnessError("Chromium did not open its DevTools port within 30 s; its log:\n\(output.suffix(2000))")
        }
        self.profile = profile
        devToolsPort = port
    }

    deinit { close() }

    /// The browser's first tab, navigated to `url`.
    func open(_ url: String) throws -> DevToolsPage {
        let list = try WireHTTP.request(port: devToolsPort, "/json/list")
        guard let targets = try JSONSerialization.jsonObject(with: Data(list.body)) as? [[String: Any]],
              let page = targets.first(where: { $0["type"] as? String == "page" }),
              let socketURL = (page["webSocketDebuggerUrl"] as? String).flatMap(URL.init(string:)) else {
            throw HarnessError("Chromium lists no page target: \(list.text.prefix(500))")
        }
        let tab = try DevToolsPage(port: devToolsPort, path: socketURL.path)
        try tab.call("Page.navigate", ["url": url])
        return tab
    }

    /// Kills the browser and removes its profile.
    func close() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: profile)
    }
}

/// One tab over the DevTools protocol (JSON messages over a WebSocket).
final class DevToolsPage {
    private let socket: WebSocketConnection
    private var nextID = 0

    init(port: Int, path: String) throws {
        socket = try WebSocketConnection(port: port, path: path)
    }

    /// Sends a command and returns its `result`, skipping the events that arrive meanwhile.
    @discardableResult
    func call(_ method: String, _ parameters: [String: Any] = [:]) throws -> [String: Any] {
        nextID += 1
        let id = nextID
        let message = try JSONSerialization.data(withJSONObject: ["id": id, "method": method, "params": parameters])
        try socket.send(text: Array(message))
        while true {
            let reply = try socket.receiveText()
            guard let object = try JSONSerialization.jsonObject(with: Data(reply)) as? [String: Any], object["id"] as? Int == id else { continue }
            if let error = object["error"] as? [String: Any] {
                throw HarnessError("DevTools refused \(method): \(error)")
            }
            return object["result"] as? [String: Any] ?? [:]
        }
    }

    /// Evaluates a JavaScript expression in the page and returns its value (JSON-compatible values only).
    func evaluate(_ expression: String) throws -> Any? {
        let result = try call("Runtime.evaluate", ["expression": expression, "returnByValue": true])
        if let exception = result["exceptionDetails"] {
            throw HarnessError("the page threw evaluating \(expression): \(exception)")
        }
        return (result["result"] as? [String: Any])?["value"]
    }

    /// Evaluates `expression` every 100 ms until it is `true` or `timeout` passes.
    func waitUntil(_ expression: String, timeout: TimeInterval = 10) throws -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        repeat {
            if try evaluate(expression) as? Bool == true { return true }
            Thread.sleep(forTimeInterval: 0.1)
        } while Date() < deadline
        return false
    }
}

/// A minimal RFC 6455 client: text frames out (masked), text frames in (with continuation), nothing else.
final class WebSocketConnection {
    private let socket: LoopbackSocket

    init(port: Int, path: String) throws {
        socket = try LoopbackSocket(port: port, timeout: 15)
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        socket.write(Array("""
            GET \(path) HTTP/1.1\r
            Host: 127.0.0.1:\(port)\r
            Upgrade: websocket\r
            Connection: Upgrade\r
            Sec-WebSocket-Key: \(key)\r
            Sec-WebSocket-Version: 13\r
            \r

            """.utf8))
        let head = String(decoding: try socket.readHead(), as: UTF8.self)
        guard head.hasPrefix("HTTP/1.1 101") else { throw HarnessError("the WebSocket upgrade was refused: \(head.prefix(300))") }
    }

    func send(text payload: [UInt8]) throws {
        var frame: [UInt8] = [0x81]
        switch payload.count {
        case ..<126: frame.append(0x80 | UInt8(payload.count))
        case ..<65_536: frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        default: frame += [0x80 | 127] + (0..<8).reversed().map { UInt8((UInt64(payload.count) >> (8 * UInt64($0))) & 0xFF) }
        }
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        guard socket.write(frame) else { throw HarnessError("the browser closed the DevTools connection") }
    }

    /// The next complete text message (continuation frames joined); answers nothing else.
    func receiveText() throws -> [UInt8] {
        var message: [UInt8] = []
        while true {
            let head = try socket.read(exactly: 2)
            let opcode = head[0] & 0x0F
            var length = UInt64(head[1] & 0x7F)
            if length == 126 {
                length = try socket.read(exactly: 2).reduce(0) { $0 << 8 | UInt64($1) }
            } else if length == 127 {
                length = try socket.read(exactly: 8).reduce(0) { $0 << 8 | UInt64($1) }
            }
            let payload = try socket.read(exactly: Int(length))
            switch opcode {
            case 0x8: throw HarnessError("the browser closed the DevTools connection")
            case 0x0, 0x1:
                message += payload
                if head[0] & 0x80 != 0 { return message }
            default: continue
            }
        }
    }
}
