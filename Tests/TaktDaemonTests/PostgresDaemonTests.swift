import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `taktd --store postgres://…` end to end: real Mosquitto, real PostgreSQL (started per test),
/// the real binaries.
@Suite("PostgreSQL store under taktd", .serialized, .heavyweight)
struct PostgresDaemonTests {
    /// `takt query --format json` output as printed, the `revision` fields removed (how many
    /// commits touched a row depends on each daemon's batching, not on the data).
    static func queryText(_ harness: DaemonHarness, store: String, site: String, line: String? = nil, station: String? = nil,
                          tier: String, keepRevisions: Bool = false) throws -> String {
        var arguments = ["query", "--store", store, "--site", site, "--window", tier, "--from", "0", "--to", "4102444800000",
                         "--format", "json"]
        if let line { arguments += ["--line", line] }
        if let station { arguments += ["--station", station] }
        let text = try TestProcess.run(harness.binary("takt"), arguments)
        guard !keepRevisions else { return text }
        return text.replacingOccurrences(of: #""revision":[0-9]+,"#, with: "", options: .regularExpression)
    }

    /// Two `takt query --format json` outputs of two daemons: the same rows, every field equal
    /// except `energy_kwh`, which may differ in its last bits (1e-12 relative): a sum of
    /// floating-point deltas depends on how each daemon happened to batch its commits. (The
    /// same commits give byte-identical JSON from both stores: PostgresStoreTests.)
    static func sameRows(_ a: String, _ b: String) throws -> Bool {
        let x = try #require(try JSONSerialization.jsonObject(with: Data(a.utf8)) as? [[String: Any]])
        let y = try #require(try JSONSerialization.jsonObject(with: Data(b.utf8)) as? [[String: Any]])
        guard x.count == y.count else {
            Issue.record("\(x.count) rows against \(y.count)")
            return false
        }
        for (r, q) in zip(x, y) {
            guard Set(r.keys) == Set(q.keys) else { return false }
            for key in r.keys {
                if key == "energy_kwh" {
                    let e = (r[key] as? NSNumber)?.doubleValue ?? .nan, f = (q[key] as? NSNumber)?.doubleValue ?? .nan
                    if abs(e - f) > 1e-12 * max(abs(e), abs(f), 1) {
                        Issue.record("energy_kwh \(e) against \(f) in \(r)")
                        return false
                    }
                } else if (r[key] as? NSObject) != (q[key] as? NSObject) {
                    Issue.record("\(key): \(r[key] ?? "nil") against \(q[key] ?? "nil") in \(r)")
                    return false
                }
            }
        }
        return true
    }

    /// The site, lines and stations a truth file names.
    struct Targets: Sendable {
        var site: String
        var lines: [(line: String, stations: [String])]

        init(_ truth: [String: Any]) throws {
            site = try #require(truth["site"] as? String)
            lines = try #require(truth["lines"] as? [[String: Any]]).map { line in
                (line["line"] as? String ?? "?", ((line["stations"] as? [[String: Any]]) ?? []).compactMap { $0["station"] as? String })
            }
        }
    }

    /// Every query form's output for every window of the truth's site, lines and stations.
    static func allQueries(_ harness: DaemonHarness, store: String, targets: Targets, keepRevisions: Bool = false) throws -> [String] {
        let site = targets.site
        var out: [String] = []
        for tier in ["1m", "1h", "1d"] {
            out.append(try queryText(harness, store: store, site: site, tier: tier, keepRevisions: keepRevisions))
            for (line, stations) in targets.lines {
                out.append(try queryText(harness, store: store, site: site, line: line, tier: tier, keepRevisions: keepRevisions))
                for station in stations {
                    out.append(try queryText(harness, store: store, site: site, line: line, station: station, tier: tier,
                                             keepRevisions: keepRevisions))
                }
            }
        }
        return out
    }

    @Test("one stream into a daemon on SQLite and one on PostgreSQL: both equal the truth, and takt query prints the same JSON for every window")
    func sameStreamTwoStores() async throws {
        let postgres = try await PostgresServer.start()
        defer { postgres.stop() }
        let a = try await DaemonHarness.make()
        defer { a.cleanUp() }
        let b = try await DaemonHarness.make(broker: a.broker)
        defer { try? FileManager.default.removeItem(at: b.directory) }
        let onSQLite = try a.startDaemon()
        defer { onSQLite.terminate() }
        let onPostgres = try b.startDaemon(extra: ["--store", postgres.url()])
        defer { onPostgres.terminate() }
        _ = try await a.waitUntilOnline()
        _ = try await b.waitUntilOnline()
        let truth = try await a.runSimulator(["--duration", "6h", "--seed", "61"])
        #expect(try await a.waitUntilCaughtUp(truth: truth).isEmpty, "\(a.log("taktd.log"))")
        #expect(try await b.waitUntilCaughtUp(truth: truth, store: postgres.url()).isEmpty, "\(b.log("taktd.log"))")
        let targets = try Targets(truth)
        let fromSQLite = try await offCooperativePool { try Self.allQueries(a, store: a.storeURL, targets: targets) }
        let fromPostgres = try await offCooperativePool { try Self.allQueries(b, store: postgres.url(), targets: targets) }
        #expect(fromSQLite.count == fromPostgres.count && fromSQLite.count > 10)
        for (s, p) in zip(fromSQLite, fromPostgres) { #expect(try Self.sameRows(s, p)) }
        #expect(fromSQLite.contains { $0.contains("\"_site\"") && $0.contains("\"good\":") })
        onPostgres.signal(SIGTERM)
        #expect(await onPostgres.exit(timeout: 15) == 0, "\(b.log("taktd.log"))")
    }

    @Test("PostgreSQL restarted mid-run: taktd retries its commits and keeps running; the rollups equal the truth",
          arguments: [false, true])
    func postgresRestart(sharedLines: Bool) async throws {
        let postgres = try await PostgresServer.start()
        defer { postgres.stop() }
        let harness = try await DaemonHarness.make()
        defer { harness.cleanUp() }
        // The single journaled daemon on PostgreSQL, and a daemon sharing lines (alone here).
        try "journal_fsync: never\ncommit_interval_ms: 100\nmax_past: 0\nshared_lines: \(sharedLines)\n"
            .write(to: harness.directory.appendingPathComponent("taktd.yaml"), atomically: true, encoding: .utf8)
        let daemon = try harness.startDaemon(extra: ["--store", postgres.url()])
        defer { daemon.terminate() }
        _ = try await harness.waitUntilOnline()
        let (sim, truthPath) = try FaultTests.startSimulator(harness, duration: "24h", seed: 62)
        try await Task.sleep(for: .seconds(1))
        try await postgres.shutDown()
        // The committer notices: a commit refused ("retrying every …"), or one whose connection
        // died under it, which waits until the database can say whether it was applied.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, !["retrying every", "asking the database"].contains(where: harness.log("taktd.log").contains) {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .seconds(2))
        try await postgres.restart()
        #expect(await sim.exit(timeout: 300) == 0)
        #expect(daemon.isRunning, "\(harness.log("taktd.log"))")
        let problems = try await harness.waitUntilCaughtUp(truth: try FaultTests.truth(truthPath), timeout: 120, store: postgres.url())
        #expect(problems.isEmpty, "\(problems.prefix(5))\n\(harness.log("taktd.log"))")
        daemon.signal(SIGTERM)
        #expect(await daemon.exit(timeout: 15) == 0, "\(harness.log("taktd.log").suffix(6000))")
    }

    @Test("takt store copy: killed half-way, run again it resumes; the copy prints the same JSON as the original, and taktd moved onto it counts the resent stream once")
    func storeCopy() async throws {
        let postgres = try await PostgresServer.start()
        defer { postgres.stop() }
        let harness = try await DaemonHarness.make()
        defer { harness.cleanUp() }
        var daemon = try harness.startDaemon()
        _ = try await harness.waitUntilOnline()
        let truth = try await harness.runSimulator(["--duration", "12h", "--seed", "63", "--from", "2026-11-01T00:00:00Z"])
        #expect(try await harness.waitUntilCaughtUp(truth: truth).isEmpty)
        daemon.signal(SIGTERM)
        #expect(await daemon.exit(timeout: 15) == 0)

        // A copy killed after its first chunks.
        let copyLog = harness.directory.appendingPathComponent("copy.log").path
        let first = try ChildProcess(harness.binary("takt"), ["store", "copy", "--from", harness.storeURL, "--to", postgres.url(),
                                                              "--chunk-rows", "20"], logFile: copyLog)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, !((try? String(contentsOfFile: copyLog, encoding: .utf8)) ?? "").contains("100 of") {
            try await Task.sleep(for: .milliseconds(5))
        }
        first.signal(SIGKILL)
        _ = await first.exit(timeout: 10)
        let partial = try await postgres.psql("SELECT rows_copied, finished FROM store_copy")
        #expect(partial.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("|f"), "the first run was to be stopped before the end: \(partial)")
        let takt = harness.binary("takt"), from = harness.storeURL, to = postgres.url()
        let second = try await offCooperativePool { try TestProcess.run(takt, ["store", "copy", "--from", from, "--to", to]) }
        #expect(second.contains("resumed after"), "\(second)")
        #expect(second.contains("verified: 1m:"), "\(second)")
        // Again: nothing to do, verified.
        let third = try await offCooperativePool { try TestProcess.run(takt, ["store", "copy", "--from", from, "--to", to]) }
        #expect(third.contains("already held this copy"), "\(third)")

        let targets = try Targets(truth)
        let original = try await offCooperativePool { try Self.allQueries(harness, store: harness.storeURL, targets: targets, keepRevisions: true) }
        let copied = try await offCooperativePool { try Self.allQueries(harness, store: postgres.url(), targets: targets, keepRevisions: true) }
        #expect(original == copied)

        // A copy into a database a daemon wrote to is refused.
        let other = try await postgres.createDatabase("other")
        _ = try await offCooperativePool { try TestProcess.run(takt, ["store", "copy", "--from", from, "--to", other]) }
        try await postgres.psql("UPDATE store_copy SET source = 'sqlite:/elsewhere.db'", database: "other")
        let refused = try await offCooperativePool { try TaktBinaries.run("takt", ["store", "copy", "--from", from, "--to", other]) }
        #expect(refused.status == 1 && refused.stderr.contains("holds a copy of sqlite:/elsewhere.db"))

        // The daemon moves to the copy (same data directory: its journal position came along).
        // The same stream sent again is all duplicates: the dedup state came along too, so the
        // rows still equal the truth — nothing counted twice across the move.
        daemon = try harness.startDaemon(extra: ["--store", postgres.url()])
        defer { daemon.terminate() }
        _ = try await harness.waitUntilOnline()
        let again = try await harness.runSimulator(["--duration", "12h", "--seed", "63", "--from", "2026-11-01T00:00:00Z"])
        #expect(NSDictionary(dictionary: again).isEqual(to: truth), "the simulator is deterministic by seed")
        try await Task.sleep(for: .seconds(2))
        let problems = try await harness.waitUntilCaughtUp(truth: truth, store: postgres.url())
        #expect(problems.isEmpty, "\(problems.prefix(5)) \(harness.log("taktd.log"))")
        let duplicates = try await postgres.psql("SELECT duplicates FROM site_counters WHERE site = 'demo'")
        #expect((Int(duplicates.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 1000, "duplicates: \(duplicates)")
    }
}
