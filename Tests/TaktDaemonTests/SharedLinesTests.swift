import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Several daemons sharing one PostgreSQL store and a plant's lines through leases (contract
/// section 11), end to end with the real binaries, a real Mosquitto and a real PostgreSQL:
/// balance, takeover after `kill -9`, a daemon stalled past its lease, a late joiner, and
/// rollups that equal the simulator's truth through all of it.
@Suite("Several daemons sharing lines", .serialized, .timeLimit(.minutes(12)), .heavyweight(slots: 4))
struct SharedLinesTests {
    /// Six lines of two stations, one unit every ~30 s: 24 simulated hours ≈ 35,000 messages.
    static func sixLinePlant(in directory: URL) throws -> String {
        var text = "site: six\ntimezone: UTC\ncalendar:\n  planned_hours_per_year: 8400\nlines:\n"
        for i in 1...6 {
            text += """
              - id: l\(i)
                product: blade-cell
                ideal_cycle_s: 30.0
                unit_kwh: 0.4416
                output_station: eol
                stations:
                  - {id: stack, cycle_s: 29.0}
                  - {id: eol, cycle_s: 30.0}
                sim: {cycle_jitter: 0.05, scrap_rate: 0.01, mtbf_h: 5, mttr_min: 12, energy_sigma: 0.005}

            """
        }
        let path = directory.appendingPathComponent("six-lines.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The lease TTL of these runs, seconds (short, so takeovers are quick to wait for).
    static let ttl = 3.0

    /// One `taktd` of the group: its instance name, data directory and the process.
    final class Member: @unchecked Sendable {
        let harness: DaemonHarness
        let instance: String
        var dataDirectory: String
        var process: ChildProcess?
        var starts = 0

        init(harness: DaemonHarness, instance: String) {
            self.harness = harness
            self.instance = instance
            dataDirectory = harness.directory.appendingPathComponent("data-\(instance)").path
        }

        var logPath: String { harness.directory.appendingPathComponent("taktd-\(instance)-\(starts).log").path }

        func start(store: String) throws {
            starts += 1
            let config = harness.directory.appendingPathComponent("taktd-shared.yaml")
            if !FileManager.default.fileExists(atPath: config.path) {
                try "commit_interval_ms: 100\nmax_past: 0\nlease_ttl: 3s\n".write(to: config, atomically: true, encoding: .utf8)
            }
            process = try ChildProcess(harness.binary("taktd"),
                                       ["--config", config.path, "--broker", harness.brokerURL, "--plant", harness.plant,
                                        "--store", store, "--data-dir", dataDirectory, "--instance", instance],
                                       logFile: logPath)
        }

        func log() -> String {
            (0...starts).map { n in
                (try? String(contentsOfFile: harness.directory.appendingPathComponent("taktd-\(instance)-\(n).log").path,
                             encoding: .utf8)) ?? ""
            }.joined()
        }
    }

    /// `line_lease` as `line → (owner, epoch, unexpired)`.
    static func leases(_ postgres: PostgresServer) async throws -> [String: (owner: String, epoch: Int, live: Bool)] {
        let text = try await postgres.psql("SELECT line, owner, epoch, expires_at > clock_timestamp() FROM line_lease")
        var out: [String: (String, Int, Bool)] = [:]
        for row in text.split(separator: "\n") {
            let f = row.split(separator: "|").map(String.init)
            guard f.count == 4 else { continue }
            out[f[0]] = (f[1], Int(f[2]) ?? 0, f[3] == "t")
        }
        return out
    }

    /// Waits until every line has a live lease and the owners' shares are `counts` (sorted);
    /// returns the seconds it took.
    @discardableResult
    static func waitForBalance(_ postgres: PostgresServer, counts: [Int], timeout: Double) async throws -> Double {
        let began = Date()
        var last = ""
        while Date().timeIntervalSince(began) < timeout {
            // Before the first daemon migrated the store there is no lease table yet.
            let l = (try? await leases(postgres)) ?? [:]
            let live = l.values.filter(\.live)
            let shares = Dictionary(grouping: live, by: \.owner).values.map(\.count).sorted()
            last = "\(l)"
            if live.count == 6 && shares == counts { return Date().timeIntervalSince(began) }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestSupportError("leases never balanced as \(counts) in \(timeout) s: \(last)")
    }

    /// Waits until none of `lines` is held (live) by `owner` any more and each has a live
    /// lease of someone else; returns the seconds it took.
    static func waitForTakeover(_ postgres: PostgresServer, lines: [String], from owner: String, timeout: Double) async throws -> Double {
        let began = Date()
        while Date().timeIntervalSince(began) < timeout {
            let l = try await leases(postgres)
            if lines.allSatisfy({ l[$0].map { $0.live && $0.owner != owner } ?? false }) { return Date().timeIntervalSince(began) }
            try await Task.sleep(for: .milliseconds(50))
        }
        return .infinity
    }

    @Test("3 daemons, 6 lines, 24 simulated hours with faults: kill -9 ×5 (once with its data directory gone), one SIGSTOPped past its lease, a fourth joining and leaving → rows equal the truth, takeovers within lease_ttl + 5 s")
    func threeDaemonsUnderChaos() async throws {
        let postgres = try await PostgresServer.start()
        defer { postgres.stop() }
        let scratch = try TestProcess.temporaryDirectory("takt-shared-plant")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let harness = try await DaemonHarness.make(plant: try Self.sixLinePlant(in: scratch))
        defer { harness.cleanUp() }
        let store = postgres.url()
        let members = ["a", "b", "c"].map { Member(harness: harness, instance: $0) }
        defer { for m in members { m.process?.terminate() } }
        for m in members { try m.start(store: store) }
        try await Self.waitForBalance(postgres, counts: [2, 2, 2], timeout: 60)

        var rng = SplitMix64(seed: 12)
        // ≈ 72 s of publishing: the faults land while the daemons work.
        let truthPath = harness.directory.appendingPathComponent("truth.json").path
        let sim = try ChildProcess(harness.binary("takt-sim"),
                                   ["--plant", harness.plant, "--broker", harness.brokerURL, "--speed", "1200",
                                    "--from", "2026-11-20T00:00:00Z", "--duration", "24h", "--seed", "12",
                                    "--faults", "dup=0.01,reorder=0.01", "--truth", truthPath],
                                   logFile: harness.directory.appendingPathComponent("sim.log").path)
        defer { sim.terminate() }
        var takeovers: [Double] = []
        let a = members[0]
        func logs() -> String {
            members.map { m in "== \(m.instance)\n" + String(m.log().suffix(3000)) }.joined(separator: "\n")
        }
        for round in 1...5 {
            // A holds lines again (the rebalance after its restart), then a random moment.
            do {
                try await Self.waitForBalance(postgres, counts: [2, 2, 2], timeout: 60)
            } catch {
                Issue.record("round \(round): \(error)\n\(logs())")
                throw error
            }
            try await Task.sleep(for: .milliseconds(Int64(rng.int(0...2000))))
            let before = try await Self.leases(postgres)
            let owner = before.values.first { $0.owner.hasPrefix("a-") && $0.live }?.owner
            let held = before.filter { $0.value.owner == owner && $0.value.live }.map(\.key)
            a.process?.signal(SIGKILL)
            _ = await a.process?.exit(timeout: 10)
            if round == 3 {
                // The machine lost its disk: a new folder, nothing of the old one.
                try? FileManager.default.removeItem(atPath: a.dataDirectory)
                a.dataDirectory = harness.directory.appendingPathComponent("data-a-elsewhere").path
            }
            if let owner, !held.isEmpty {
                let took = try await Self.waitForTakeover(postgres, lines: held, from: owner, timeout: Self.ttl + 15)
                takeovers.append(took)
            }
            try a.start(store: store)
        }
        // B stalls past its lease, then wakes: it must give its lines up, not commit.
        let b = members[1]
        b.process?.signal(SIGSTOP)
        try await Task.sleep(for: .seconds(Self.ttl + 3))
        b.process?.signal(SIGCONT)
        // A fourth daemon joins (the lines spread over four) and leaves again.
        let d = Member(harness: harness, instance: "d")
        try d.start(store: store)
        do {
            try await Self.waitForBalance(postgres, counts: [1, 1, 2, 2], timeout: 60)
        } catch {
            let logs = (members + [d]).map { m in "== \(m.instance)\n" + String(m.log().suffix(4000)) }
            Issue.record("\(error)\n\(logs.joined(separator: "\n"))")
            throw error
        }
        d.process?.signal(SIGTERM)
        // Its last commit alone took 3.4 s in a CI dry run; it then stops and releases its lease.
        #expect(await d.process?.exit(timeout: 45) == 0, "\(d.log())")
        #expect(await sim.exit(timeout: 300) == 0, "\(harness.log("sim.log"))")
        try await Self.waitForBalance(postgres, counts: [2, 2, 2], timeout: 60)

        let truth = try FaultTests.truth(truthPath)
        let problems = try await harness.waitUntilCaughtUp(truth: truth, timeout: 300, store: store)
        #expect(problems.isEmpty, "\(problems.prefix(5))\n\(members.map { $0.log().suffix(2000) })")
        let counted = try await postgres.psql("SELECT accepted FROM site_counters WHERE site = 'six'")
        let expected = ((truth["messages"] as? [String: Any])?["counted"] as? NSNumber)?.intValue
        #expect(Int(counted.trimmingCharacters(in: .whitespacesAndNewlines)) == expected, "accepted \(counted), truth \(String(describing: expected))")

        print("shared lines: takeovers after kill -9 (s): \(takeovers.map { String(format: "%.2f", $0) })")
        // Every takeover within lease_ttl + 5 s (measured from the kill, polled every 50 ms).
        #expect(takeovers.count == 5, "takeovers: \(takeovers)")
        // Alone 2.5–4.0 s. Inside the full suite on 2 cores it measured up to 20 s while every
        // test of the run started at once; with at most 3 heavyweight tests per core
        // (HeavyTests.swift) six CI dry runs measured 2.7–5.0 s, and a seventh 8.8 s once. So
        // the suite takes 4 of the gate's slots: at most two other heavy tests run beside it.
        #expect(takeovers.allSatisfy { $0 <= Self.ttl + 5 }, "takeovers: \(takeovers)")
        // Each line's epochs rose by one at every change of hands, and one owner held each epoch.
        let events = try await postgres.psql("SELECT line, epoch, owner FROM line_lease_event WHERE kind = 'acquired' ORDER BY id")
        var epochs: [String: [Int]] = [:]
        var owners: [String: String] = [:]
        for row in events.split(separator: "\n") {
            let f = row.split(separator: "|").map(String.init)
            guard f.count == 3, let epoch = Int(f[1]) else { continue }
            epochs[f[0], default: []].append(epoch)
            #expect(owners.updateValue(f[2], forKey: "\(f[0])@\(epoch)") == nil, "two owners took \(f[0]) at epoch \(epoch)")
        }
        #expect(epochs.count == 6 && epochs.values.allSatisfy { $0 == Array(1...$0.count) }, "\(epochs)")
        #expect(epochs.values.map(\.count).reduce(0, +) > 6 + 5, "the kills and the rebalance moved lines: \(epochs)")
        // The stalled daemon noticed and gave its lines up.
        #expect(b.log().contains("leases lost") || b.log().contains("lease was lost"), "\(b.log().suffix(3000))")

        for m in members { m.process?.signal(SIGTERM) }
        for m in members { #expect(await m.process?.exit(timeout: 20) == 0, "\(m.log().suffix(2000))") }
    }
}
