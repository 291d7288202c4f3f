import Foundation
import TaktCore
import TaktStore
import TestSupport
import Testing

/// `takt plan --scenario` through the built binary (issue 15, `docs/planning.md`).
///
/// The plant of ``PlanCLITests`` (UTC, 8000 planned hours: 8000 / 365 = 21.9178 h a planned
/// day; L1 300 kWh per planned hour at OEE 1, L2 288). History: 28 identical days, 2027-02-02
/// to 2027-03-01, L1 200 kWh and L2 240 kWh per planned hour (zero variance), so the site runs
/// at (200 + 240) × 8000 = 3.52 GWh a year. The newest 1h window ends 2027-03-02T00:00Z: the
/// simulation starts on 2 March.
///
/// Scenario: one line like L1 from 1 April (day 30), no ramp: +1.6 GWh a year. Target 4.3 GWh
/// a year: the 30-day rate needs (4.3 − 3.52) / 1.6 × 30 = 14.625 → 15 days of the new line in
/// its window: day 30 + 14 = day 44 = 15 April.
@Suite("takt plan --scenario (binary)", .ownThreads)
struct PlanScenarioCLITests {
    static let day: Int64 = 86_400_000
    static let feb2 = PlanCLITests.jan1 + 32 * day

    static func seeded(_ dir: TempDir) async throws -> (store: String, plant: String) {
        let plant = dir.path("plant.yaml")
        try PlanCLITests.plantYAML.write(toFile: plant, atomically: true, encoding: .utf8)
        let path = dir.path("takt.db")
        let store = try SQLiteRollupStore(path: path)
        var updates: [WindowUpdate] = []
        for d: Int64 in 0..<28 {
            let start = feb2 + d * day
            // L1: 200 kWh/h = 400 good of 0.5 kWh an hour → 9,600 a day, run 57,600 s (OEE 2/3).
            updates.append(update(PlanCLITests.key("L1", tier: .day, start: start), good: 9_600, energy: 4_800,
                                  runMs: 57_600_000, plannedMs: 86_400_000, ideal: 6))
            // L2: 240 kWh/h = 600 good of 0.4 kWh → 14,400 a day, run 72,000 s (OEE 5/6).
            updates.append(update(PlanCLITests.key("L2", tier: .day, start: start), good: 14_400, energy: 5_760,
                                  runMs: 72_000_000, plannedMs: 86_400_000, ideal: 5))
        }
        updates.append(update(PlanCLITests.key("L1", tier: .hour, start: PlanCLITests.march1 + 23 * hourMs), good: 400, energy: 200,
                              runMs: 2_400_000, plannedMs: 3_600_000, ideal: 6))
        _ = try await store.commit(CommitBatch(updates: updates, journalOffset: 1))
        try store.close()
        return (path, plant)
    }

    static let scenarioYAML = """
        site: plantsite
        target: {gwh_per_year: 4.3, date: 2027-04-15}
        horizon_days: 120
        phases:
          - name: p3
            template: L1
            count: 1
            first_commissioning: 2027-04-01
            ramp: {shape: linear, days: 0, start_oee: 0.5}
        """

    @Test("the closed-form reach date, the probability, the same bytes for the same seed")
    func closedForm() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let (store, plant) = try await Self.seeded(dir)
        let scenario = dir.path("scenario.yaml")
        try Self.scenarioYAML.write(toFile: scenario, atomically: true, encoding: .utf8)
        let args = ["plan", "--store", "sqlite:" + store, "--plant", plant, "--site", "plantsite", "--scenario", scenario,
                    "--runs", "50", "--seed", "9", "--format", "json"]
        let run = try CLITests.takt(args)
        #expect(run.status == 0, "\(run.stderr)")
        let object = try PlanCLITests.json(run.stdout)
        // The plan's keys are all still there, the target taken from the scenario.
        #expect(object["target_gwh"] as? Double == 4.3)
        #expect(object["site_total"] is [String: Any])
        let s = try #require(object["scenario"] as? [String: Any])
        #expect(s["start"] as? String == "2027-03-02")
        #expect(s["runs"] as? Int == 50)
        let reach = try #require(s["reach"] as? [String: Any])
        #expect(reach["p10"] as? String == "2027-04-15" && reach["p50"] as? String == "2027-04-15" && reach["p90"] as? String == "2027-04-15")
        #expect(s["probability_by_target_date"] as? Double == 1)
        let lines = try #require(s["lines"] as? [[String: Any]])
        #expect(lines.map { $0["line"] as? String } == ["L1", "L2", "p3-01"])
        #expect(lines.map { $0["sample_days"] as? Int } == [28, 28, 28])
        // L1 at 200 kWh per planned hour × 8000 h = 1.6 GWh a year.
        #expect(lines[0]["mean_gwh_per_year"] as? Double == 1.6)
        // The 30-day rate on 15 April: 3.52 + 1.6 × 15 / 30 = 4.32 in every run.
        let rate = try #require(s["rate_at_target_date_gwh_per_year"] as? [String: Any])
        #expect(rate["p10"] as? Double == 4.32 && rate["p90"] as? Double == 4.32)
        // The pace of 2027: data since 2 February; the plan (observed rates, the phase from 1
        // April) to 2 March = 28 days × 440 kWh/h × 21.9178 h = 0.27003 GWh; measured the same.
        let pace = try #require(s["pace"] as? [String: Any])
        #expect(pace["from"] as? String == "2027-02-02")
        let planYTD = try #require(pace["plan_ytd_gwh"] as? Double)
        #expect(abs(planYTD - 28 * 440 * 8000 / 365 / 1e6) < 1e-6)
        #expect(abs((pace["ytd_gwh"] as? Double ?? 0) - 28 * (4_800 + 5_760) / 1e6) < 1e-6)
        // Same seed, same bytes.
        #expect(try CLITests.takt(args).stdout == run.stdout)
        // --target-gwh replaces the scenario's target: 3.52 is reached on the first day.
        let now = try PlanCLITests.json(CLITests.takt(args + ["--target-gwh", "3.52"]).stdout)
        #expect(((now["scenario"] as? [String: Any])?["reach"] as? [String: Any])?["p50"] as? String == "2027-03-02")
        // The table says it in words.
        let table = try CLITests.takt(Array(args.dropLast(2)))
        #expect(table.status == 0)
        #expect(table.stdout.contains("Reached       P10 2027-04-15  P50 2027-04-15  P90 2027-04-15"))
        #expect(table.stdout.contains("P(by date)    100.0%"))
    }

    @Test("scenario flags and files: exit 2 naming the flag, the file and the line")
    func errors() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let (store, plant) = try await Self.seeded(dir)
        let bad = dir.path("bad.yaml")
        try "site: plantsite\ntarget: {gwh_per_year: 4.3, date: 2027-04-15}\nphases:\n  - {name: p, template: L9, count: 1, first_commissioning: 2027-04-01, ramp: {shape: linear, days: 0, start_oee: 0.5}}\n"
            .write(toFile: bad, atomically: true, encoding: .utf8)
        let base = ["plan", "--store", "sqlite:" + store, "--plant", plant, "--site", "plantsite"]
        let run = try CLITests.takt(base + ["--scenario", bad])
        #expect(run.status == 2)
        #expect(run.stderr.hasPrefix("takt: --scenario: \(bad):4: '"), "\(run.stderr)")
        #expect(run.stderr.contains("phases[0].template"))
        for (flags, flag) in [(["--scenario", dir.path("none.yaml")], "--scenario"), (["--runs", "0", "--target-gwh", "5"], "--runs"),
                              (["--horizon", "3y", "--target-gwh", "5"], "--horizon"), ([String](), "--target-gwh")] {
            let r = try CLITests.takt(base + flags)
            #expect(r.status == 2, "\(flags)")
            #expect(r.stderr.hasPrefix("takt: \(flag):"), "\(flags): \(r.stderr)")
        }
    }
}
