import Foundation
import MetrikaAMQP
import MetrikaTestSupport
import Testing

/// The gateway runs under a RabbitMQ user limited to its own exchanges and queues (README, "Security").
@Suite(.serialized)
struct PermissionTests {
    @discardableResult
    static func rabbitmqctl(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/rabbitmqctl")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw HarnessError("rabbitmqctl \(arguments.first ?? "") failed: \(text)") }
        return text
    }

    @Test func theDocumentedPermissionsAreEnoughForTheGatewayAndDenyPublishingAsRS() throws {
        let prefix = "t\(UUID().uuidString.prefix(8).lowercased())."
        let escaped = prefix.replacingOccurrences(of: ".", with: "\\.")
        let user = "metrika-\(prefix.dropLast())"
        let password = "s3cret-\(UUID().uuidString.prefix(6))"
        try Self.rabbitmqctl(["add_user", user, password])
        defer { _ = try? Self.rabbitmqctl(["delete_user", user]) }
        // The README's line, with the test's prefix in front of every name.
        try Self.rabbitmqctl(["set_permissions", "-p", "/", user,
                              "^\(escaped)(rs|telephony|metrika\\..*|asterisk_cdr|asterisk_cel|TAP\\.Events)$",
                              "^(\(escaped)metrika\\..*|amq\\.default)$",
                              "^\(escaped)(rs|telephony|metrika\\..*|asterisk_cdr|asterisk_cel|TAP\\.Events)$"])
        var url = testBrokerURL
        url.user = user
        url.password = password
        let gateway = try TestGateway(prefix: prefix) { $0.amqpURL = url }
        defer { gateway.shutdown() }
        try gateway.publishCall(Fixtures.callEnded(callID: "perm-1", number: "89009990001", outcome: "missed"))
        _ = try gateway.nextEvent(ofType: "callback.needed")
        #expect(!gateway.logs.joined().contains(password))

        let restricted = try AMQPConnection(AMQPConnectionSettings(url: url))
        defer { restricted.abandon() }
        try restricted.enableConfirms()
        _ = try restricted.publish(exchange: gateway.names.rsExchange, routingKey: "subscriber.updated", body: Data("{}".utf8),
                                   properties: AMQPMessageProperties())
        #expect(throws: AMQPError.self) {
            _ = try restricted.waitForConfirms(timeoutMilliseconds: 2000)
        }
    }

    @Test func aWrongPasswordIsReportedWithoutThePassword() throws {
        var url = testBrokerURL
        url.password = "definitely-wrong-\(UUID().uuidString.prefix(6))"
        let error = #expect(throws: AMQPError.self) {
            try AMQPConnection(AMQPConnectionSettings(url: url))
        }
        #expect(error?.code == .loginFailed)
        #expect(error?.isRetryable == false)
        #expect(error.map { !$0.message.contains(url.password) } == true)
    }
}
