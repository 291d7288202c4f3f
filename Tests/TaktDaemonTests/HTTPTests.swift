import Foundation
import TaktCore
import TaktStore
import Testing
import TestSupport

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

#if canImport(Glibc)
import Glibc
#endif

/// `taktd --http ADDR`: health, Prometheus metrics and the windows API, against a real run.
@Suite("taktd HTTP API", .serialized, .heavyweight)
struct HTTPTests {
    static func get(_ url: String) async throws -> (status: Int, body: Data) {
        let (data, response) = try await URLSession.shared.data(from: try #require(URL(string: url)))
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    @Test("healthz, metrics and /api/v1/windows (= takt query, byte for byte) while the daemon runs")
    func api() async throws {
        let harness = try await DaemonHarness.make()
        defer { harness.cleanUp() }
        let port = try freeLoopbackPort()
        let base = "http://127.0.0.1:\(port)"
        let daemon = try harness.startDaemon(extra: ["--http", "127.0.0.1:\(port)"])
        defer { daemon.terminate() }
        _ = try await harness.waitUntilOnline()
        let truth = try await harness.runSimulator(["--from", "2026-11-01T00:00:00Z", "--duration", "3h", "--seed", "4",
                                                    "--faults", "dup=0.02,malformed=0.01"])
        let problems = try await harness.waitUntilCaughtUp(truth: truth)
        #expect(problems.isEmpty, "\(problems.prefix(5))")

        let health = try await Self.get("\(base)/healthz")
        #expect(health.status == 200)
        let healthObject = try #require(try JSONSerialization.jsonObject(with: health.body) as? [String: Any])
        #expect(healthObject["online"] as? Bool == true)
        #expect(healthObject["instance"] as? String == harness.instance)

        let metrics = try await Self.get("\(base)/metrics")
        #expect(metrics.status == 200)
        let text = String(decoding: metrics.body, as: UTF8.self)
        let messages = try #require(truth["messages"] as? [String: Any])
        let counted = try #require((messages["counted"] as? NSNumber)?.intValue)
        let duplicates = try #require((messages["duplicate"] as? NSNumber)?.intValue)
        let deadLetters = try #require((truth["expected_dead_letters"] as? NSNumber)?.intValue)
        #expect(text.contains("takt_messages_accepted_total{site=\"demo\"} \(counted)\n"), "\(text)")
        #expect(text.contains("takt_messages_duplicate_total{site=\"demo\"} \(duplicates)\n"), "\(text)")
        #expect(text.contains("takt_dead_letters_total{site=\"demo\"} \(deadLetters)\n"), "\(text)")
        #expect(text.contains("# TYPE takt_commits_total counter"))

        let from = "2026-11-01T00:00:00Z", to = "2026-11-02T00:00:00Z"
        let api = try await Self.get("\(base)/api/v1/windows?site=demo&window=1h&from=\(from)&to=\(to)")
        #expect(api.status == 200)
        let cli = try TestProcess.run(harness.binary("takt"), ["query", "--store", harness.storeURL, "--site", "demo",
                                                                "--window", "1h", "--from", from, "--to", to, "--format", "json"])
        let apiRows = try #require(try JSONSerialization.jsonObject(with: api.body) as? [[String: Any]])
        #expect(apiRows.count >= 3 * 3, "3 hours × (2 lines + _site)")
        #expect(String(decoding: api.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                == cli.trimmingCharacters(in: .whitespacesAndNewlines))

        let bad = try await Self.get("\(base)/api/v1/windows?site=demo&window=2h&from=\(from)&to=\(to)")
        #expect(bad.status == 400)
        #expect(String(decoding: bad.body, as: UTF8.self).contains("window"))

        // With the HTTP server running, SIGTERM still drains the intake and exits 0 (the server
        // stops first; the daemon waits for the intake, not for it).
        daemon.signal(SIGTERM)
        #expect(await daemon.exit(timeout: 15) == 0, "\(harness.log("taktd.log"))")
        #expect(try harness.mismatches(truth: truth).isEmpty)
    }

    @Test("a bad --http address is a usage error (exit 2) naming the flag")
    func badAddress() async throws {
        let harness = try await DaemonHarness.make()
        defer { harness.cleanUp() }
        let daemon = try harness.startDaemon(extra: ["--http", "nowhere"])
        #expect(await daemon.exit(timeout: 30) == 2)
        #expect(harness.log("taktd.log").contains("--http"))
    }

    /// One prometheus sample (`name value` on a line of its own), or nil.
    static func sample(_ name: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.dropFirst(name.count + 1))
        }
        return nil
    }

    @Test("100,000-row HTTP queries during full-speed ingest delay no commit by more than one commit interval (against the same ingest without queries)")
    func largeQueryDuringIngest() async throws {
        let harness = try await DaemonHarness.make()
        defer { harness.cleanUp() }
        // 100,000 1h rows of demo/line-a/eol, 1970 onwards: what a 11-year-old store would hold.
        try FileManager.default.createDirectory(atPath: harness.dataDirectory, withIntermediateDirectories: true)
        let rowCount: Int64 = 100_000
        do {
            let store = try SQLiteRollupStore(path: "\(harness.dataDirectory)/takt.sqlite")
            var batch: [WindowUpdate] = []
            for hour in 0..<rowCount {
                let key = WindowKey(site: "demo", line: "line-a", station: "eol", tier: .hour,
                                    start: hour * 3_600_000, end: (hour + 1) * 3_600_000)
                batch.append(WindowUpdate(key: key, good: 600, scrap: 1, energyKwh: 265, unitMessages: 0, cycle: CycleHistogram(),
                                          runMs: 3_500_000, plannedMs: 3_600_000, idealCycleS: 6, isOutputStation: true))
            }
            _ = try await store.commit(CommitBatch(updates: batch, journalOffset: 0), returning: .outputStations)
            try store.close()
        }
        // One second: the test runs beside every other suite on 2 cores, where a plain commit can
        // wait a few hundred ms for a core; a read on the committer's path stalls it for seconds
        // (2.8 s measured with the answer encoded on the cooperative pool), well past either bound.
        let intervalMs = 1_000
        try "journal_fsync: never\ncommit_interval_ms: \(intervalMs)\nmax_rows: 100000\n"
            .write(to: harness.directory.appendingPathComponent("taktd.yaml"), atomically: true, encoding: .utf8)
        // A second site, the same plant under another name, for the baseline run.
        let baselinePlant = harness.directory.appendingPathComponent("plant-baseline.yaml").path
        try (try String(contentsOfFile: harness.plant, encoding: .utf8)).replacingOccurrences(of: "site: demo", with: "site: baseline")
            .write(toFile: baselinePlant, atomically: true, encoding: .utf8)
        let port = try freeLoopbackPort()
        let base = "http://127.0.0.1:\(port)"
        let daemon = try harness.startDaemon(extra: ["--http", "127.0.0.1:\(port)", "--plant", baselinePlant])
        defer { daemon.terminate() }
        _ = try await harness.waitUntilOnline()

        // Baseline: the same full-speed ingest, no queries. The longest commit delay it shows is
        // what this machine's load costs (a loaded CI run shares 2 cores with other suites).
        let baselineSim = try ChildProcess(harness.binary("takt-sim"),
                                           ["--plant", baselinePlant, "--broker", harness.broker.url, "--speed", "max",
                                            "--duration", "72h", "--seed", "22"],
                                           logFile: harness.directory.appendingPathComponent("sim-baseline.log").path)
        #expect(await baselineSim.exit(timeout: 300) == 0)
        try await Task.sleep(for: .seconds(1))
        let baselineDelay = Self.sample("takt_commit_delay_seconds_max",
                                        in: String(decoding: try await Self.get("\(base)/metrics").body, as: UTF8.self)) ?? 0

        // Full-speed ingest (QoS 1, as fast as the simulator publishes) while two clients keep
        // asking for all 100,000 rows.
        let truthPath = harness.directory.appendingPathComponent("truth.json").path
        let sim = try ChildProcess(harness.binary("takt-sim"),
                                   ["--plant", harness.plant, "--broker", harness.broker.url, "--speed", "max",
                                    "--duration", "72h", "--seed", "21", "--truth", truthPath],
                                   logFile: harness.directory.appendingPathComponent("sim.log").path)
        let url = "\(base)/api/v1/windows?site=demo&line=line-a&station=eol&window=1h&from=0&to=\(rowCount * 3_600_000)"
        let commitsBefore = Self.sample("takt_commits_total", in: String(decoding: try await Self.get("\(base)/metrics").body, as: UTF8.self)) ?? 0
        let answers = try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<2 {
                group.addTask {
                    var counts: [Int] = []
                    for _ in 0..<3 {
                        let (status, body) = try await Self.get(url)
                        #expect(status == 200)
                        counts.append((try JSONSerialization.jsonObject(with: body) as? [Any])?.count ?? -1)
                    }
                    return counts
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(answers == Array(repeating: Int(rowCount), count: 6))
        let metrics = String(decoding: try await Self.get("\(base)/metrics").body, as: UTF8.self)
        let commitsDuring = (Self.sample("takt_commits_total", in: metrics) ?? 0) - commitsBefore
        #expect(await sim.exit(timeout: 300) == 0)
        #expect(commitsDuring >= 5, "the queries did not overlap the ingest: \(commitsDuring) commits")
        // The gauge is the longest since start: if the queries made a commit wait longer than the
        // baseline's longest plus one commit interval, it shows here.
        let maxDelay = try #require(Self.sample("takt_commit_delay_seconds_max", in: metrics))
        #expect(maxDelay <= baselineDelay + Double(intervalMs) / 1000,
                "a commit waited \(maxDelay) s against \(baselineDelay) s without queries (\(commitsDuring) commits during the queries)\n\(harness.log("taktd.log"))")

        let truth = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: truthPath))) as? [String: Any])
        let problems = try await harness.waitUntilCaughtUp(truth: truth)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
    }
}
