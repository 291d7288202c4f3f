import Foundation
import Testing
import TestSupport
import Yams

/// docker-compose.yml cannot be run here (no Docker engine), so it is checked two ways: against
/// the Compose specification's JSON schema with a real validator, and for every command and flag
/// it gives our binaries, against their `--help`.
@Suite("docker-compose.yml")
struct ComposeTests {
    static let composeFile = TaktBinaries.file("docker-compose.yml")

    /// `check-jsonschema --builtin-schema vendor.compose-spec FILE`: its exit code and output.
    static func validate(_ path: String) throws -> (passed: Bool, output: String) {
        do {
            let output = try TestProcess.run(try TestProcess.executable("python3"),
                                             ["-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", path])
            return (true, output)
        } catch let error as TestSupportError {
            return (false, error.description)
        }
    }

    @Test("the file is valid against the Compose specification")
    func valid() throws {
        let result = try Self.validate(Self.composeFile)
        #expect(result.passed, "\(result.output)")
    }

    @Test("the validator rejects a deliberately broken copy (so the check above can fail)", arguments: [
        ("ports: a string instead of a list", "    ports:\n      - \"1883:1883\"\n", "    ports: 1883\n"),
        ("an unknown service key", "    restart: unless-stopped\n", "    restart: unless-stopped\n    colour: blue\n"),
    ])
    func broken(what: String, original: String, replacement: String) throws {
        let text = try String(contentsOfFile: Self.composeFile, encoding: .utf8)
        #expect(text.contains(original), "the fixture for '\(what)' no longer matches docker-compose.yml")
        let directory = try TestProcess.temporaryDirectory("takt-compose")
        defer { try? FileManager.default.removeItem(at: directory) }
        let broken = directory.appendingPathComponent("docker-compose.yml")
        try text.replacingOccurrences(of: original, with: replacement).write(to: broken, atomically: true, encoding: .utf8)
        let result = try Self.validate(broken.path)
        #expect(!result.passed, "a compose file with \(what) passed validation")
    }

    @Test("every command of ours and every flag it passes exist in the binary's --help")
    func commandsExist() throws {
        let text = try String(contentsOfFile: Self.composeFile, encoding: .utf8)
        let root = try #require(try Yams.load(yaml: text) as? [String: Any])
        let services = try #require(root["services"] as? [String: Any])
        var checked = 0
        for (name, value) in services {
            guard let service = value as? [String: Any], let command = service["command"] as? [String],
                  let program = command.first, ["taktd", "takt", "takt-sim"].contains(program) else { continue }
            let help = try TestProcess.run(try TaktBinaries.path(program), ["--help"])
            for flag in command.dropFirst() where flag.hasPrefix("--") {
                #expect(help.contains(flag), "service \(name): \(program) has no \(flag)")
                checked += 1
            }
        }
        #expect(checked >= 8, "the compose file should run taktd and takt-sim with their flags")
    }
}
