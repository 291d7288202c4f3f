import Foundation
import Testing
import TaktSimulation
import TestSupport

/// The `takt-sim` binary: determinism end to end, exit codes, one-line errors.
@Suite("takt-sim command line", .ownThreads)
struct CLITests {
    func sha(_ url: URL) throws -> Data { try Data(contentsOf: url) }

    @Test("same seed, same bytes; another seed, other bytes")
    func sameSeedSameBytes() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func run(_ name: String, seed: String) throws -> (Data, Data) {
            let out = dir.appendingPathComponent("\(name).txt")
            let truth = dir.appendingPathComponent("\(name).json")
            let result = try Fixtures.runSimulator([
                "--plant", "Config/plant-demo.yaml", "--speed", "max", "--from", "2026-11-01T00:00:00Z",
                "--duration", "6h", "--seed", seed, "--faults", "dup=0.01,reorder=0.01,malformed=0.01,reboot=0.001",
                "--out", out.path, "--truth", truth.path,
            ])
            #expect(result.status == 0, "\(result.stderr)")
            return (try Data(contentsOf: out), try Data(contentsOf: truth))
        }
        let (a, truthA) = try run("a", seed: "7")
        let (b, truthB) = try run("b", seed: "7")
        let (c, _) = try run("c", seed: "8")
        #expect(a.count > 10_000)
        #expect(a == b)
        #expect(truthA == truthB)
        #expect(a != c)
    }

    @Test("a plant file with an unknown key: exit 2, one line naming key, file and line")
    func unknownKeyExits2() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let yaml = try String(contentsOf: Fixtures.root.appendingPathComponent("Config/plant-demo.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "      mttr_min: 10\n", with: "      mttr_min: 10\n      mttr_max: 20\n")
        let file = dir.appendingPathComponent("bad.yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        let result = try Fixtures.runSimulator(["--plant", file.path, "--out", "/dev/null", "--speed", "max"])
        #expect(result.status == 2)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("bad.yaml:22:"), "\(result.stderr)")
        #expect(result.stderr.contains("'mttr_max'"), "\(result.stderr)")
    }

    @Test(
        "bad flags: exit 2 with one line naming the flag",
        arguments: [
            (["--faults", "dup=2"], "--faults"),
            (["--faults", "lag=0.1"], "--faults"),
            (["--duration", "10x"], "--duration"),
            (["--from", "yesterday"], "--from"),
            (["--speed", "fast"], "--speed"),
            (["--qos", "2"], "--qos"),
            (["--seed", "-1"], "--seed"),
            (["--bogus", "1"], "--bogus"),
        ])
    func badFlagExits2(flags: [String], name: String) throws {
        let result = try Fixtures.runSimulator(["--plant", "Config/plant-demo.yaml", "--out", "/dev/null", "--speed", "max"] + flags)
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.contains(name), "\(result.stderr)")
    }

    @Test("a missing plant file is a usage error naming --plant")
    func missingPlant() throws {
        let result = try Fixtures.runSimulator(["--plant", "/nonexistent/plant.yaml", "--out", "/dev/null"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--plant"), "\(result.stderr)")
    }

    @Test("SIGINT ends a paced run cleanly: exit 0, truth for exactly what was sent")
    func interrupt() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.txt")
        let truthFile = dir.appendingPathComponent("truth.json")
        let binary = try Fixtures.simulatorBinary
        // All of the waiting happens on a thread of its own, and the SIGINT follows the run's
        // progress, not a sleep: a CI dry run whose cooperative pool was blocked by other suites
        // woke a 1.5 s sleep ~45 s late, when the 48 s run was nearly over.
        let (status, stillRunningAtSignal) = try await offCooperativePool { () throws -> (Int32, Bool) in
            let process = Process()
            process.executableURL = binary
            process.currentDirectoryURL = Fixtures.root
            // 100×: the whole 8 h takes 288 s of wall time; the signal goes after ~200 messages.
            process.arguments = [
                "--plant", "Config/plant-demo.yaml", "--speed", "100", "--duration", "8h", "--seed", "3",
                "--faults", "reorder=0.05", "--out", out.path, "--truth", truthFile.path,
            ]
            process.standardError = FileHandle.nullDevice
            try process.run()
            let started = Date()
            while process.isRunning, Date().timeIntervalSince(started) < 120 {
                let written = (try? Data(contentsOf: out))?.reduce(0) { $1 == 0x0A ? $0 + 1 : $0 } ?? 0
                if written >= 200 { break }
                Thread.sleep(forTimeInterval: 0.05)
            }
            let running = process.isRunning
            kill(process.processIdentifier, SIGINT)
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
            return (process.terminationStatus, running)
        }
        #expect(stillRunningAtSignal, "the run ended before the SIGINT")
        #expect(status == 0)
        let truth = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: truthFile)) as? [String: Any])
        let published = try #require((truth["messages"] as? [String: Any])?["published"] as? Int)
        let lines = try String(contentsOf: out, encoding: .utf8).split(separator: "\n")
        #expect(published == lines.count)
        #expect(published >= 200)
        // Stopped well before the end: the whole 8 h is ~16,000 messages, 200 of them take
        // about 6 simulated minutes.
        let to = try #require((truth["to"] as? NSNumber)?.int64Value)
        let newest = try #require((truth["newest_event"] as? NSNumber)?.int64Value)
        #expect(newest < to - 3_600_000, "the run must end at the SIGINT, not at --duration")
    }

    @Test("--help exits 0")
    func help() throws {
        let result = try Fixtures.runSimulator(["--help"])
        #expect(result.status == 0)
    }

    @Test("a broker that is not there is a runtime failure: exit 1")
    func noBroker() throws {
        let result = try Fixtures.runSimulator([
            "--plant", "Config/plant-demo.yaml", "--broker", "mqtt://127.0.0.1:1", "--speed", "max", "--duration", "1m",
        ])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }
}
