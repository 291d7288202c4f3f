import Foundation
import Testing
import TestSupport
import Yams

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Config/grafana/: no Grafana runs here, so the dashboard is checked against what it relies
/// on — every data source uid it names is provisioned, every SQL query runs on the real
/// PostgreSQL schema (a daemon's store filled by the simulator) and returns rows, every metric
/// name in its PromQL is one that taktd's /metrics exports.
@Suite("Grafana dashboard", .serialized, .heavyweight)
struct GrafanaTests {
    static let dashboard = TaktBinaries.file("Config/grafana/dashboards/takt.json")
    static let datasources = TaktBinaries.file("Config/grafana/provisioning/datasources/takt.yaml")

    /// (datasource uid, query) of every target and template variable.
    static func queries() throws -> (prom: [(uid: String, expr: String)], sql: [(uid: String, sql: String)], uids: [String]) {
        let root = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dashboard))) as? [String: Any])
        var prom: [(String, String)] = [], sql: [(String, String)] = [], uids: [String] = []
        for panel in try #require(root["panels"] as? [[String: Any]]) {
            let panelUID = try #require((panel["datasource"] as? [String: Any])?["uid"] as? String)
            uids.append(panelUID)
            for target in try #require(panel["targets"] as? [[String: Any]]) {
                let uid = (target["datasource"] as? [String: Any])?["uid"] as? String ?? panelUID
                uids.append(uid)
                if let expr = target["expr"] as? String { prom.append((uid, expr)) }
                if let raw = target["rawSql"] as? String { sql.append((uid, raw)) }
            }
        }
        for variable in ((root["templating"] as? [String: Any])?["list"] as? [[String: Any]]) ?? [] {
            let uid = try #require((variable["datasource"] as? [String: Any])?["uid"] as? String)
            uids.append(uid)
            if let query = variable["query"] as? String { sql.append((uid, query)) }
        }
        return (prom, sql, uids)
    }

    /// The metric names of a PromQL expression: identifiers that are not functions, label names
    /// (in `by (…)`, `{…}`) or keywords.
    static func metricNames(_ expr: String) -> [String] {
        var text = expr
        for pattern in [#"\b(by|without)\s*\([^)]*\)"#, #"\{[^}]*\}"#, #"\[[^\]]*\]"#, #""[^"]*""#] {
            text = text.replacingOccurrences(of: pattern, with: " ", options: .regularExpression)
        }
        let regex = try! NSRegularExpression(pattern: #"[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?"#)
        let keywords: Set<String> = ["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"]
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
            let token = String(text[Range(match.range, in: text)!])
            guard !token.hasSuffix("(") else { return nil }  // a function
            return keywords.contains(token) ? nil : token
        }
    }

    @Test("the PromQL name extraction finds metric names and only those")
    func extraction() {
        #expect(Self.metricNames("histogram_quantile(0.99, sum by (le) (rate(takt_commit_latency_seconds_bucket[5m])))")
                == ["takt_commit_latency_seconds_bucket"])
        #expect(Self.metricNames(#"sum by (site) (rate(takt_x_total{site="a"}[1m])) / takt_y"#) == ["takt_x_total", "takt_y"])
    }

    @Test("every data source uid is provisioned; every SQL query runs on the PostgreSQL store's schema with rows; every PromQL metric is exported by taktd")
    func dashboardHolds() async throws {
        let provisioned = try #require(try Yams.load(yaml: String(contentsOfFile: Self.datasources, encoding: .utf8)) as? [String: Any])
        let uids = Set(try #require(provisioned["datasources"] as? [[String: Any]]).compactMap { $0["uid"] as? String })
        #expect(uids == ["takt-prometheus", "takt-postgres"])
        let (prom, sql, used) = try Self.queries()
        #expect(prom.count >= 8 && sql.count >= 5)
        for uid in used { #expect(uids.contains(uid), "the dashboard names data source '\(uid)', which is not provisioned") }
        for (uid, _) in prom { #expect(uid == "takt-prometheus") }
        for (uid, _) in sql { #expect(uid == "takt-postgres") }

        // A daemon on PostgreSQL with --http, fed by the simulator.
        let postgres = try await PostgresServer.start()
        defer { postgres.stop() }
        let harness = try await DaemonHarness.make()
        defer { harness.cleanUp() }
        let port = try freeLoopbackPort()
        // One daemon with its journal (the dashboard's queries and metric names do not depend on
        // sharing lines; shared lines have their own tests): quicker to catch up under CI load.
        try "journal_fsync: never\ncommit_interval_ms: 100\nmax_past: 0\nshared_lines: false\n"
            .write(to: harness.directory.appendingPathComponent("taktd.yaml"), atomically: true, encoding: .utf8)
        let daemon = try harness.startDaemon(extra: ["--store", postgres.url(), "--http", "127.0.0.1:\(port)"])
        defer { daemon.terminate() }
        _ = try await harness.waitUntilOnline()
        let truth = try await harness.runSimulator(["--from", "2026-11-01T00:00:00Z", "--duration", "30h", "--seed", "19",
                                                    "--faults", "malformed=0.005"])  // dead letters by reason exist
        #expect(try await harness.waitUntilCaughtUp(truth: truth, timeout: 240, store: postgres.url()).isEmpty)

        // SQL: Grafana's macros and the $site variable as Grafana would expand them.
        for (_, query) in sql {
            let expanded = query.replacingOccurrences(of: "$__unixEpochFrom()", with: "1793404800")  // 2026-10-31
                .replacingOccurrences(of: "$__unixEpochTo()", with: "1793664000")                    // 2026-11-03
                .replacingOccurrences(of: "$site", with: "demo")
            #expect(!expanded.contains("$"), "an unexpanded macro or variable: \(query)")
            let output = try await postgres.psql(expanded)
            #expect(!output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "no rows: \(expanded)")
        }

        // PromQL: the families /metrics exports once every kind of sample exists (an HTTP request too).
        // (The broker's drop counter arrives with its $SYS messages, every 10 s.)
        _ = try await URLSession.shared.data(from: try #require(URL(string: "http://127.0.0.1:\(port)/api/v1/windows?site=demo&window=1h&from=0&to=3600000")))
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        repeat {
            let (body, _) = try await URLSession.shared.data(from: try #require(URL(string: "http://127.0.0.1:\(port)/metrics")))
            text = String(decoding: body, as: UTF8.self)
            if text.contains("# TYPE takt_broker_dropped_messages") { break }
            try await Task.sleep(for: .milliseconds(500))
        } while Date() < deadline
        var exported = Set<String>()
        for line in text.split(separator: "\n") where line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            guard parts.count >= 4 else { continue }
            let name = String(parts[2])
            exported.insert(name)
            if parts[3] == "histogram" || parts[3] == "summary" { for suffix in ["_bucket", "_sum", "_count"] { exported.insert(name + suffix) } }
        }
        var checked = 0
        for (_, expr) in prom {
            let names = Self.metricNames(expr)
            #expect(!names.isEmpty, "no metric in \(expr)")
            for name in names {
                #expect(exported.contains(name), "\(name) (in \(expr)) is not exported by taktd: \(exported.sorted())")
                checked += 1
            }
        }
        #expect(checked >= 10)
        #expect(await daemon.exitAfterTerm() == 0)
    }
}
