import Foundation

/// Validates message bodies against the JSON Schemas in `contracts/` with `contracts/validate.py`
/// (Debian's python3-jsonschema, installed by scripts/setup.sh).
public enum ContractValidator {
    /// The repository root, found from this file's location.
    public static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The interpreter with jsonschema installed.
    public static let python = "/usr/bin/python3"

    /// Runs `contracts/validate.py arguments…` with `documents` on stdin, one per line; returns its exit
    /// status and output. Throws when the interpreter cannot be started (tests then fail, never skip).
    public static func validate(_ documents: [Data], arguments: [String] = ["--by-type"]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [repositoryRoot.appendingPathComponent("contracts/validate.py").path] + arguments
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        var stream = Data()
        for document in documents {
            stream.append(document)
            stream.append(UInt8(ascii: "\n"))
        }
        try input.fileHandleForWriting.write(contentsOf: stream)
        try input.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }
}
