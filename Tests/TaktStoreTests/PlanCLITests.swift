import Foundation
import Testing
import TaktCore
import TaktStore

/// `takt plan` through the built binary against a real SQLite store filled by
/// ``SQLiteRollupStore/commit(_:)`` (runs the binary the same way as ``CLITests``).
///
/// Plant (UTC, 8000 planned hours): L1 ideal 6 s, 0.5 kWh → nameplate 600 × 0.5 × 8000 / 1e6
/// = 2.4 GWh/y; L2 ideal 5 s, 0.4 kWh → 720 × 0.4 × 8000 / 1e6 = 2.304 GWh/y; Σ 4.704.
///
/// Newest data: the 1h window 2027-03-01T23:00Z, so the lookback (7d) ends at
/// 2027-03-02T00:00Z = 60 days into 2027. In it, two hours per line:
/// - L1 per hour: planned 3600 s, run 3240 s (A 0.9), 432 good (P = 6 × 432 / 3240 = 0.8, Q 1),
///   216 kWh. OEE 0.72; projected = 432 kWh / 2 h × 8000 / 1e6 = 1.728 GWh/y; 0.5 kWh/unit.
/// - L2 per hour: planned = run = 3600 s (A 1), 700 good + 20 scrap (P = 5 × 720 / 3600 = 1,
///   Q = 700/720 = 0.972222…), 294 kWh. OEE 0.972222; projected = 588 / 2 × 8000 / 1e6 = 2.352;
///   0.42 kWh/unit.
/// Rows that must not count: an L1 hour on 2027-02-01 (before the lookback) and the L1
/// `stacking` station (not the output station), both with huge energy.
/// Site: projected 4.08; target 5 → gap 0.92, average line 2.04 → 5 / 2.04 = 2.45 → 3 lines;
/// OEE needed 5 / 4.704 = 1.0629251….
/// Days (1d): L1 2027-02-01 100 MWh and 2027-03-01 50 MWh, L2 2027-01-15 250 MWh → ytd 0.4 GWh
/// in 60 days; 2026-12-31 0.999999 GWh is another year. Pace 0.4 / 60 × 365 = 2.433333 GWh/y.
@Suite("takt plan (binary)", .ownThreads)
struct PlanCLITests {
    static let jan1: Int64 = 1_798_761_600_000        // 2027-01-01T00:00:00Z
    static let day: Int64 = 86_400_000
    static let march1 = jan1 + 59 * day               // 2027-03-01T00:00:00Z

    static let plantYAML = """
        site: plantsite
        timezone: UTC
        calendar:
          planned_hours_per_year: 8000
        lines:
          - id: L1
            product: cell
            ideal_cycle_s: 6
            unit_kwh: 0.5
            output_station: eol
            stations:
              - {id: stacking, cycle_s: 5}
              - {id: eol, cycle_s: 6}
          - id: L2
            product: cell
            ideal_cycle_s: 5
            unit_kwh: 0.4
            output_station: eol
            stations:
              - {id: eol, cycle_s: 5}
        """

    static func key(_ line: String, _ station: String = "eol", tier: WindowTier, start: Int64) -> WindowKey {
        WindowKey(site: "plantsite", line: line, station: station, tier: tier, start: start,
                  end: start + (tier == .day ? day : hourMs))
    }

    /// The store and plant file described above; returns (store path, plant path).
    static func seeded(_ dir: TempDir) async throws -> (store: String, plant: String) {
        let plant = dir.path("plant.yaml")
        try plantYAML.write(toFile: plant, atomically: true, encoding: .utf8)
        let path = dir.path("takt.db")
        let store = try SQLiteRollupStore(path: path)
        var updates: [WindowUpdate] = []
        for hour: Int64 in [22, 23] {
            let start = march1 + hour * hourMs
            updates.append(update(key("L1", tier: .hour, start: start), good: 432, energy: 216,
                                  runMs: 3_240_000, plannedMs: 3_600_000, ideal: 6))
            updates.append(update(key("L2", tier: .hour, start: start), good: 700, scrap: 20, energy: 294,
                                  runMs: 3_600_000, plannedMs: 3_600_000, ideal: 5))
            updates.append(update(key("L1", "stacking", tier: .hour, start: start), good: 500, energy: 1e6,
                                  runMs: 3_600_000, plannedMs: 3_600_000, ideal: 5, output: false))
        }
        updates.append(update(key("L1", tier: .hour, start: jan1 + 31 * day), good: 1, energy: 1e6,
                              runMs: 1000, plannedMs: 3_600_000, ideal: 6))
        updates.append(update(key("L1", tier: .day, start: jan1 + 31 * day), energy: 100_000, ideal: 6))
        updates.append(update(key("L1", tier: .day, start: march1), energy: 50_000, ideal: 6))
        updates.append(update(key("L2", tier: .day, start: jan1 + 14 * day), energy: 250_000, ideal: 5))
        updates.append(update(key("L2", tier: .day, start: jan1 - day), energy: 999_999, ideal: 5))
        _ = try await store.commit(CommitBatch(updates: updates, journalOffset: 1))
        try store.close()
        return (path, plant)
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test("--format json: the contract's keys and the hand-worked numbers")
    func json() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let (store, plant) = try await Self.seeded(dir)
        let run = try CLITests.takt(["plan", "--store", "sqlite:" + store, "--plant", plant, "--site", "plantsite",
                                     "--target-gwh", "5", "--format", "json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.isEmpty)
        #expect(run.stdout == """
            {"site":"plantsite","year":2027,"target_gwh":5.0,"lookback":"7d","lines":[\
            {"line":"L1","nameplate_gwh_per_year":2.4,"oee":0.72,"projected_gwh_per_year":1.728,"ytd_gwh":0.15,\
            "kwh_per_unit":0.5,"availability":0.9,"performance":0.8,"quality":1.0,"kwh_per_unit_measured":true},\
            {"line":"L2","nameplate_gwh_per_year":2.304,"oee":0.972222,"projected_gwh_per_year":2.352,"ytd_gwh":0.25,\
            "kwh_per_unit":0.42,"availability":1.0,"performance":1.0,"quality":0.972222,"kwh_per_unit_measured":true}],\
            "site_total":{"nameplate_gwh_per_year":4.704,"projected_gwh_per_year":4.08,"ytd_gwh":0.4,"gap_gwh":0.92,\
            "lines_needed":3,"oee_needed":1.062925,"line_count":2,"ytd_pace_gwh_per_year":2.433333},\
            "as_of":1803945600000,"target_date":null,"what_if":{"add_lines":0,"oee":null,"cycle_s":null}}

            """)
        let object = try Self.json(run.stdout)
        let contractKeys: Set<String> = ["site", "year", "target_gwh", "lookback", "lines", "site_total"]
        #expect(contractKeys.isSubset(of: Set(object.keys)))
        let total = try #require(object["site_total"] as? [String: Any])
        #expect(Set(["nameplate_gwh_per_year", "projected_gwh_per_year", "ytd_gwh", "gap_gwh", "lines_needed", "oee_needed"])
            .isSubset(of: Set(total.keys)))
    }

    @Test("target date, --year, --lookback and what-ifs reach the plan")
    func flags() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let (store, plant) = try await Self.seeded(dir)
        let base = ["plan", "--store", store, "--plant", plant, "--site", "plantsite", "--format", "json"]
        // Issue 15: the lookback's pace dates the target. 0.601 GWh more (ytd 0.4) at the
        // projected 4.08 GWh per 365 days: 53.77 days after 2 March (day 60) → day 113.77 = 24 April.
        // (The year-to-date pace, 0.4 GWh / 60 days, said 31 May.)
        let date = try Self.json(CLITests.takt(base + ["--target-gwh", "1.001"]).stdout)
        #expect(date["target_date"] as? String == "2027-04-24")
        // --year 2026: the year is over; its only day row holds 0.999999 GWh.
        let y2026 = try Self.json(CLITests.takt(base + ["--target-gwh", "5", "--year", "2026"]).stdout)
        #expect(y2026["year"] as? Int == 2026)
        #expect((y2026["site_total"] as? [String: Any])?["ytd_gwh"] as? Double == 0.999999)
        #expect((y2026["site_total"] as? [String: Any])?["ytd_pace_gwh_per_year"] as? Double == 0.999999)
        // --lookback 60d takes in the 2027-02-01 hour: L1 then has 3 planned hours and 1,000,432 kWh.
        let long = try Self.json(CLITests.takt(base + ["--target-gwh", "5", "--lookback", "60d"]).stdout)
        let l1 = try #require((long["lines"] as? [[String: Any]])?.first)
        #expect(l1["projected_gwh_per_year"] as? Double == 2667.818667)   // 1000432 / 3 × 8000 / 1e6
        #expect(long["lookback"] as? String == "60d")
        // What-ifs: +1 line (4.704 + 2.352 = 7.056 nameplate; 4.08 + 2.04 = 6.12 projected), OEE 0.5, cycle 4 s.
        let added = try Self.json(CLITests.takt(base + ["--target-gwh", "5", "--add-lines", "1"]).stdout)
        let addedTotal = try #require(added["site_total"] as? [String: Any])
        #expect(addedTotal["nameplate_gwh_per_year"] as? Double == 7.056)
        #expect(addedTotal["projected_gwh_per_year"] as? Double == 6.12)
        #expect(addedTotal["gap_gwh"] as? Double == 0)
        #expect(addedTotal["line_count"] as? Int == 3)
        let oee = try Self.json(CLITests.takt(base + ["--target-gwh", "5", "--oee", "0.5"]).stdout)
        #expect((oee["site_total"] as? [String: Any])?["projected_gwh_per_year"] as? Double == 2.352)  // 4.704 × 0.5
        #expect((oee["what_if"] as? [String: Any])?["oee"] as? Double == 0.5)
        let cycle = try Self.json(CLITests.takt(base + ["--target-gwh", "5", "--cycle-s", "4"]).stdout)
        // 900 units/h: L1 900 × 0.5 × 8000 / 1e6 = 3.6, L2 2.88; projected 3.6 × 0.72 + 2.88 × 0.972222… = 2.592 + 2.8 = 5.392.
        #expect((cycle["site_total"] as? [String: Any])?["nameplate_gwh_per_year"] as? Double == 6.48)
        #expect((cycle["site_total"] as? [String: Any])?["projected_gwh_per_year"] as? Double == 5.392)
    }

    @Test("--format table (the default): per line, the site total, the answer in words")
    func table() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let (store, plant) = try await Self.seeded(dir)
        let run = try CLITests.takt(["plan", "--store", store, "--plant", plant, "--site", "plantsite", "--target-gwh", "5"])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "Capacity plan: plantsite, 2027, target 5.000 GWh")
        #expect(lines[1] == "Lookback 7d to 2027-03-02T00:00:00Z (the site's newest data)")
        let l1 = try #require(lines.first { $0.hasPrefix("L1 ") })
        #expect(l1.split(separator: " ", omittingEmptySubsequences: true)
            == ["L1", "2.400", "90.0%", "80.0%", "100.0%", "72.0%", "1.728", "0.150", "0.5000"])
        let site = try #require(lines.first { $0.hasPrefix("site (2 lines)") })
        #expect(site.split(separator: " ") == ["site", "(2", "lines)", "4.704", "4.080", "0.400"])
        #expect(lines.contains("Gap           0.920 GWh"))
        #expect(lines.contains("Lines needed  3 like the average line (2 now)"))
        #expect(lines.contains { $0.hasPrefix("OEE needed    106.3% of nameplate") })
        #expect(lines.contains("Target date   not this year (year-to-date 0.400 GWh, pace 2.433 GWh/y)"))
    }

    @Test("an empty store: a plan with zero data that says so")
    func emptyStore() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let (_, plant) = try await Self.seeded(dir)
        let empty = dir.path("empty.db")
        try SQLiteRollupStore(path: empty).close()
        let json = try CLITests.takt(["plan", "--store", empty, "--plant", plant, "--site", "plantsite",
                                      "--target-gwh", "5", "--year", "2027", "--format", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        let object = try Self.json(json.stdout)
        #expect(object["as_of"] is NSNull)
        #expect(object["target_date"] is NSNull)
        let total = try #require(object["site_total"] as? [String: Any])
        #expect(total["projected_gwh_per_year"] is NSNull && total["gap_gwh"] is NSNull && total["lines_needed"] is NSNull)
        #expect(total["nameplate_gwh_per_year"] as? Double == 4.704)
        #expect(total["ytd_gwh"] as? Double == 0)
        let table = try CLITests.takt(["plan", "--store", empty, "--plant", plant, "--site", "plantsite", "--target-gwh", "5"])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("No data for site plantsite in the store"))
        #expect(table.stdout.contains("Target date   not this year"))
    }

    @Test("usage and config errors exit 2 naming the flag", arguments: [
        (["--site", "elsewhere", "--target-gwh", "5"], "--site"),
        (["--site", "plantsite", "--target-gwh", "0"], "--target-gwh"),
        (["--site", "plantsite", "--target-gwh", "lots"], "--target-gwh"),
        (["--site", "plantsite"], "--target-gwh"),
        (["--site", "plantsite", "--target-gwh", "5", "--year", "12"], "--year"),
        (["--site", "plantsite", "--target-gwh", "5", "--lookback", "7w"], "--lookback"),
        (["--site", "plantsite", "--target-gwh", "5", "--format", "csv"], "--format"),
        (["--site", "plantsite", "--target-gwh", "5", "--add-lines", "-1"], "--add-lines"),
        (["--site", "plantsite", "--target-gwh", "5", "--oee", "1.2"], "--oee"),
        (["--site", "plantsite", "--target-gwh", "5", "--cycle-s", "0"], "--cycle-s"),
    ])
    func usageErrors(_ arguments: [String], _ flag: String) async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let (store, plant) = try await Self.seeded(dir)
        let run = try CLITests.takt(["plan", "--store", store, "--plant", plant] + arguments)
        #expect(run.status == 2, "\(run.stderr)")
        #expect(run.stdout.isEmpty)
        #expect(run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
        #expect(run.stderr.hasPrefix("takt: ") && run.stderr.contains(flag), "\(run.stderr)")
    }

    @Test("a missing or broken plant file exits 2; a missing store exits 1")
    func fileErrors() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let (store, plant) = try await Self.seeded(dir)
        let missing = try CLITests.takt(["plan", "--store", store, "--plant", dir.path("none.yaml"), "--site", "plantsite", "--target-gwh", "5"])
        #expect(missing.status == 2)
        #expect(missing.stderr.hasPrefix("takt: --plant: "))
        let broken = dir.path("broken.yaml")
        try Self.plantYAML.replacingOccurrences(of: "unit_kwh: 0.4", with: "unit_kwhh: 0.4").write(toFile: broken, atomically: true, encoding: .utf8)
        let bad = try CLITests.takt(["plan", "--store", store, "--plant", broken, "--site", "plantsite", "--target-gwh", "5"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--plant") && bad.stderr.contains("unit_kwhh") && bad.stderr.contains(":17:"), "\(bad.stderr)")
        let noStore = try CLITests.takt(["plan", "--store", dir.path("none.db"), "--plant", plant, "--site", "plantsite", "--target-gwh", "5"])
        #expect(noStore.status == 1)
        #expect(noStore.stderr == "takt: store '\(dir.path("none.db"))' does not exist\n")
    }
}
