import Foundation
import Testing
import TestSupport
import Yams

/// docker-compose.yml cannot be run here (no Docker engine), so it is checked three ways: against
/// the Compose specification's JSON schema with a real validator, for every command and flag it
/// gives our binaries against their `--help`, and for the secure profile: the broker published on
/// the host's loopback only, with the configuration, ACL, certificates and logins it needs.
@Suite("docker-compose.yml", .ownThreads)
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
        ("ports: a string instead of a list", "    ports:\n      - \"127.0.0.1:8883:8883\"\n", "    ports: 8883\n"),
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

    @Test("the secure profile: only the broker (TLS) and Grafana publish a port, on 127.0.0.1; taktd and takt-sim log in over mqtts")
    func brokerOnLoopback() throws {
        let text = try String(contentsOfFile: Self.composeFile, encoding: .utf8)
        let root = try #require(try Yams.load(yaml: text) as? [String: Any])
        let services = try #require(root["services"] as? [String: Any])
        for (name, value) in services where name != "mosquitto" && name != "grafana" {
            #expect((value as? [String: Any])?["ports"] == nil, "service \(name) publishes a port")
        }
        for port in ((services["grafana"] as? [String: Any])?["ports"] as? [String]) ?? [] {
            #expect(port == "127.0.0.1:3000:3000", "grafana publishes \(port), not on loopback")
        }
        let broker = try #require(services["mosquitto"] as? [String: Any])
        let ports = try #require(broker["ports"] as? [Any])
        #expect(!ports.isEmpty)
        for port in ports {
            // Short syntax "HOST_IP:HOST_PORT:CONTAINER_PORT", or the long one with host_ip.
            if let short = port as? String {
                #expect(short.hasPrefix("127.0.0.1:") && short.split(separator: ":").count == 3, "\(short) is not bound to loopback")
                #expect(short.hasSuffix(":8883"), "\(short): only the TLS listener")
            } else {
                let long = try #require(port as? [String: Any])
                #expect(long["host_ip"] as? String == "127.0.0.1", "\(long) is not bound to loopback")
            }
        }
        let volumes = (broker["volumes"] as? [String] ?? []).joined(separator: "\n")
        for file in ["./Config/mosquitto-secure.conf:", "./Config/mosquitto-acl:/mosquitto/config/acl:", "./secrets/passwd:/mosquitto/config/passwd:",
                     "./secrets/ca.crt:/mosquitto/certs/ca.crt:", "./secrets/server.crt:/mosquitto/certs/server.crt:",
                     "./secrets/server.key:/mosquitto/certs/server.key:"] {
            #expect(volumes.contains(file), "the broker does not mount \(file)")
        }
        for name in ["taktd", "taktd-b", "takt-sim"] {
            let command = try #require((services[name] as? [String: Any])?["command"] as? [String])
            let url = try #require(command.firstIndex(of: "--broker").map { command[$0 + 1] })
            #expect(url.hasPrefix("mqtts://"), "\(name) connects with \(url)")
        }
        let sim = try #require((services["takt-sim"] as? [String: Any])?["command"] as? [String])
        #expect(sim.contains("--username") && sim.contains("--password-file") && sim.contains("--ca-file"))
        #expect(!sim.contains("--password"), "takt-sim's password belongs in a file, not on its command line")
    }

    @Test("two daemons share the lines: one PostgreSQL store (named in their shared config), the same plant, their own names and data volumes")
    func twoDaemonsShareOneStore() throws {
        let text = try String(contentsOfFile: Self.composeFile, encoding: .utf8)
        let root = try #require(try Yams.load(yaml: text) as? [String: Any])
        let services = try #require(root["services"] as? [String: Any])
        #expect(services["postgres"] != nil)
        func option(_ service: String, _ flag: String) throws -> String? {
            let command = try #require((services[service] as? [String: Any])?["command"] as? [String])
            return command.firstIndex(of: flag).map { command[$0 + 1] }
        }
        #expect(try option("taktd", "--config") != nil && option("taktd-b", "--config") == option("taktd", "--config"))
        #expect(try option("taktd-b", "--plant") == option("taktd", "--plant"))
        #expect(try option("taktd-b", "--instance") != option("taktd", "--instance"))
        let volumes = { (name: String) in ((services[name] as? [String: Any])?["volumes"] as? [String] ?? []).filter { $0.hasSuffix(":/var/lib/takt") } }
        #expect(volumes("taktd").count == 1 && volumes("taktd-b").count == 1 && volumes("taktd") != volumes("taktd-b"))
        let prometheus = try String(contentsOfFile: TaktBinaries.file("Config/prometheus.yml"), encoding: .utf8)
        #expect(prometheus.contains("taktd:9464") && prometheus.contains("taktd-b:9464"), "Prometheus scrapes both daemons")
    }

    @Test("the broker's command rewrites exactly the listener of Config/mosquitto-secure.conf to the container's network")
    func brokerListenerRewrite() throws {
        let text = try String(contentsOfFile: Self.composeFile, encoding: .utf8)
        let root = try #require(try Yams.load(yaml: text) as? [String: Any])
        let broker = try #require((root["services"] as? [String: Any])?["mosquitto"] as? [String: Any])
        let command = try #require(broker["command"] as? [String])
        let script = try #require(command.last)
        // sed 'EXPRESSION' /mosquitto/config/mosquitto-secure.conf > … && exec mosquitto -c …
        let parts = script.components(separatedBy: "'")
        #expect(parts.count >= 3 && parts[0].hasSuffix("sed "), "unexpected broker command: \(script)")
        let expression = parts[1]
        #expect(parts[2].contains("/mosquitto/config/mosquitto-secure.conf") && parts[2].contains("exec mosquitto -c"))
        let shipped = TaktBinaries.file("Config/mosquitto-secure.conf")
        let rewritten = try TestProcess.run(try TestProcess.executable("sed"), [expression, shipped])
        let before = try String(contentsOfFile: shipped, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let after = rewritten.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(before.count == after.count)
        let changed = zip(before, after).filter { $0.0 != $0.1 }
        #expect(changed.count == 1 && changed.first?.0 == "listener 8883 127.0.0.1" && changed.first?.1 == "listener 8883 0.0.0.0",
                "changed lines: \(changed)")
    }

    @Test("the image runs its programs as the unprivileged user takt, which owns the data directory")
    func imageRunsUnprivileged() throws {
        let text = try String(contentsOfFile: TaktBinaries.file("Dockerfile"), encoding: .utf8)
        let lastStage = try #require(text.components(separatedBy: "\nFROM ").last)
        let users = lastStage.split(separator: "\n").filter { $0.hasPrefix("USER ") }
        #expect(users.last == "USER takt", "the final stage runs as \(users.last.map(String.init) ?? "root")")
        #expect(lastStage.contains("install -d -o takt -g takt -m 0700 /var/lib/takt"))
        // The directory must exist with its owner before VOLUME, or the volume starts as root's.
        let created = try #require(lastStage.range(of: "install -d -o takt")?.lowerBound)
        let volume = try #require(lastStage.range(of: "VOLUME /var/lib/takt")?.lowerBound)
        #expect(created < volume)
    }
}
