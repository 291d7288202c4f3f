import Foundation
import TaktCore
import TestSupport
import Testing

/// The scenario planner (issue 15, `docs/planning.md`) against hand-worked cases.
///
/// The plant: UTC, 8760 planned hours a year (24 h a planned day), line A: ideal 6 s, 0.5 kWh
/// → 300 kWh per planned hour at OEE 1. Its history (``flat``): every day 86,400 s planned,
/// 72,000 s run, 12,000 good, 6,000 kWh → 250 kWh per planned hour, OEE = (72000/86400) ×
/// (6 × 12000 / 72000) × 1 = 5/6 = 250/300; a day makes 250 × 24 = 6,000 kWh, a year at that
/// rate 6,000 × 365 = 2.19 GWh.
@Suite("Scenario planner (hand-worked)")
struct ScenarioTests {
    static let plant = Plant(
        site: "s", timeZone: TimeZone(identifier: "UTC")!, plannedHoursPerYear: 8760,
        lines: [Plant.Line(id: "A", product: "cell", idealCycleS: 6, unitKWh: 0.5, outputStation: "eol",
                           stations: [Plant.Station(id: "eol", cycleS: 6)])])
    static let jan1 = CivilDay(year: 2027, month: 1, day: 1)!

    /// `days` identical history days before 2027-01-01.
    static func flat(_ days: Int = 14) -> [DaySample] {
        (0..<days).map {
            DaySample(day: jan1 + ($0 - days), good: 12_000, energyKwh: 6_000, runS: 72_000, plannedS: 86_400)
        }
    }

    static func input(_ scenario: Scenario, history: [DaySample] = flat(), runs: Int = 20, seed: UInt64 = 1,
                      horizon: Int? = nil, levers: Bool = false) -> ScenarioInput {
        ScenarioInput(plant: plant, scenario: scenario, start: jan1, history: ["A": history], runs: runs, seed: seed,
                      horizonDays: horizon, levers: levers)
    }

    static func close(_ a: Double?, _ b: Double, _ tolerance: Double = 1e-9) -> Bool {
        guard let a else { return false }
        return abs(a - b) <= tolerance * max(1, abs(b))
    }

    @Test("civil days: Hinnant's arithmetic against known dates, months and leap years")
    func civilDays() {
        #expect(CivilDay(year: 1970, month: 1, day: 1)?.number == 0)
        #expect(CivilDay(year: 2027, month: 3, day: 1)?.number == 20_878)   // 2027-03-01 = 1_803_859_200 s / 86400
        #expect(CivilDay(iso: "2028-02-29")?.description == "2028-02-29")
        #expect(CivilDay(iso: "2027-02-29") == nil)
        #expect(CivilDay(iso: "2027-3-01") == nil)
        #expect((CivilDay(iso: "2028-03-01")! - CivilDay(iso: "2028-02-28")!) == 2)
        #expect(CivilDay(1_000_000).description == CivilDay(iso: CivilDay(1_000_000).description)!.description)
        #expect(CivilDay(containing: 1_803_859_200_000 - 1, timeZone: TimeZone(identifier: "UTC")!).description == "2027-02-28")
        // 2027-03-01T00:00+08:00 is 2027-02-28T16:00Z.
        #expect(CivilDay(containing: 1_803_830_400_000, timeZone: TimeZone(identifier: "Asia/Shanghai")!).description == "2027-03-01")
    }

    @Test("zero variance: the 30-day rate reaches the target on the closed-form day")
    func closedForm() throws {
        // A new line like A, commissioned 2027-01-11 (day 10), ramps linearly over 20 days from
        // OEE 0: on day j it makes 6,000 × (j − 10) / 20 kWh, from day 30 the full 6,000.
        // Target 3.285 GWh/y = 1.5 × 2.19: the new line's 30-day sum must reach 15 full days.
        // Days 10…30 hold (0 + 1 + … + 20) / 20 = 10.5 full days, then one a day: on day d in
        // 31…39 the window [d − 29, d] holds 10.5 + (d − 30): 14.5 on day 34, 15.5 on day 35.
        let phase = Scenario.Phase(name: "p", template: "A", count: 1, firstCommissioning: Self.jan1 + 10, staggerDays: 0,
                                   ramp: Scenario.Ramp(shape: .linear, days: 20, startOEE: 0))
        var scenario = Scenario(site: "s", targetGWhPerYear: 3.285, targetDate: Self.jan1 + 35, horizonDays: 120, phases: [phase])
        let plan = try ScenarioPlanner.plan(Self.input(scenario))
        let reach = Self.jan1 + 35
        #expect(plan.reach == ScenarioPlan.DatePercentiles(p10: reach, p50: reach, p90: reach))
        #expect(plan.reach.p50?.description == "2027-02-05")
        #expect(plan.probabilityByTargetDate == 1)
        #expect(!plan.impossible)
        // The rate on day 35: 2.19 × (1 + 15.5/30).
        #expect(Self.close(plan.rateAtTargetDate?.p50, 2.19 * (1 + 15.5 / 30)))
        // One day earlier promised: no run makes it.
        scenario.targetDate = Self.jan1 + 34
        #expect(try ScenarioPlanner.plan(Self.input(scenario)).probabilityByTargetDate == 0)
        // Without the phase the rate stays 2.19: the target is out of reach (ceiling 2.19).
        scenario.phases = []
        let flat = try ScenarioPlanner.plan(Self.input(scenario))
        #expect(flat.reach == ScenarioPlan.DatePercentiles(p10: nil, p50: nil, p90: nil))
        #expect(flat.impossible)
        #expect(Self.close(flat.ceilingGWhPerYear, 2.19))
    }

    @Test("an S-shaped ramp, day by day, and January's energy by hand")
    func ramp() throws {
        // Smoothstep 3x² − 2x³ over 4 days from half the full OEE (5/12 of 5/6):
        // x = 0, 1/4, 1/2, 3/4 → s = 0, 0.15625, 0.5, 0.84375 → factor 0.5 + 0.5 s =
        // 0.5, 0.578125, 0.75, 0.921875, then 1.
        let ramp = Scenario.Ramp(shape: .sCurve, days: 4, startOEE: 5.0 / 12)
        let full = 5.0 / 6
        let factors = (0..<6).map { ramp.oee(day: $0, full: full) / full }
        for (f, e) in zip(factors, [0.5, 0.578125, 0.75, 0.921875, 1, 1]) { #expect(Self.close(f, e)) }
        #expect(Scenario.Ramp(shape: .linear, days: 4, startOEE: 0.25).oee(day: 1, full: 0.75) == 0.375)
        // The line commissioned on 11 January: days 10…30 of January hold 0.5 + 0.578125 + 0.75
        // + 0.921875 + 17 = 19.75 full days = 118,500 kWh; line A 31 × 6,000 = 186,000 kWh.
        // January: 304,500 kWh = 0.3045 GWh in every run.
        let phase = Scenario.Phase(name: "p", template: "A", count: 1, firstCommissioning: Self.jan1 + 10, staggerDays: 0, ramp: ramp)
        let scenario = Scenario(site: "s", targetGWhPerYear: 10, targetDate: Self.jan1 + 100, horizonDays: 59, phases: [phase])
        let plan = try ScenarioPlanner.plan(Self.input(scenario))
        #expect(plan.months.map(\.label) == ["2027-01", "2027-02"])
        #expect(plan.months.map(\.days) == [31, 28])
        let january = plan.months[0].gwh
        #expect(Self.close(january.p10, 0.3045) && Self.close(january.p50, 0.3045) && Self.close(january.p90, 0.3045))
        // February: both lines at full rate, 28 × 12,000 kWh.
        #expect(Self.close(plan.months[1].gwh.p50, 0.336))
        // The plan's pace follows the same ramp (plan_oee not set: the observed rate).
        #expect(Self.close(plan.months[0].planGWh, 0.3045))
        #expect(Self.close(plan.fan[0].planCumulativeGWh, 0.3045))
        #expect(Self.close(plan.fan[1].cumulativeGWh.p50, 0.3045 + 0.336))
    }

    @Test("shutdowns remove their days, from the simulation and from the plan's pace")
    func shutdowns() throws {
        // 5–7 January every line (3 × 6,000 kWh), 20–21 January line A only (2 × 6,000).
        let scenario = Scenario(
            site: "s", targetGWhPerYear: 10, targetDate: Self.jan1 + 100, horizonDays: 31,
            shutdowns: [Scenario.Shutdown(name: "all", from: Self.jan1 + 4, to: Self.jan1 + 6),
                        Scenario.Shutdown(name: "A", from: Self.jan1 + 19, to: Self.jan1 + 20, lines: ["A"])])
        let plan = try ScenarioPlanner.plan(Self.input(scenario))
        #expect(Self.close(plan.months[0].gwh.p50, (31 - 5) * 6_000 / 1e6))   // 0.156
        #expect(Self.close(plan.months[0].planGWh, 0.156))
        let model = try ScenarioModel(Self.input(scenario))
        #expect(model.planKWh(on: Self.jan1 + 5, scenario: scenario) == 0)
        #expect(model.planKWh(on: Self.jan1 + 20, scenario: scenario) == 0)
        #expect(Self.close(model.planKWh(on: Self.jan1 + 21, scenario: scenario), 6_000))
        #expect(model.lines[0].dayFactor[4...6].allSatisfy { $0 == 0 })
        #expect(model.lines[0].dayFactor[3] == 24)
        // A 30-day rate with five shutdown days in it: 25 × 6,000 × 365 / 30 kWh.
        #expect(Self.close(plan.fan[0].annualisedGWh.p50, 25 * 6_000 * 365 / 30 / 1e6))
    }

    /// A history that varies: 28 days, a bad week (days 7…13 at 60 %), the rest ±.
    static let varied: [DaySample] = (0..<28).map { i in
        let factor = (7..<14).contains(i) ? 0.6 : 1 + 0.05 * Double(i % 5 - 2)
        return DaySample(day: jan1 + (i - 28), good: Int64(12_000 * factor), energyKwh: 6_000 * factor,
                         runS: 72_000 * factor, plannedS: 86_400)
    }

    @Test("a fixed seed reproduces the same percentiles; another seed draws other ones")
    func seeded() async throws {
        let phase = Scenario.Phase(name: "p", template: "A", count: 3, firstCommissioning: Self.jan1 + 30, staggerDays: 14,
                                   ramp: Scenario.Ramp(shape: .sCurve, days: 60, startOEE: 0.3))
        let scenario = Scenario(site: "s", targetGWhPerYear: 8.4, targetDate: Self.jan1 + 200, horizonDays: 365, phases: [phase])
        let (a, b, c) = try await offCooperativePool {
            (try ScenarioPlanner.plan(Self.input(scenario, history: Self.varied, runs: 2_000, seed: 42, levers: true)),
             try ScenarioPlanner.plan(Self.input(scenario, history: Self.varied, runs: 2_000, seed: 42, levers: true)),
             try ScenarioPlanner.plan(Self.input(scenario, history: Self.varied, runs: 2_000, seed: 43, levers: true)))
        }
        #expect(a == b)
        #expect(a.json() == b.json())
        #expect(a.years != c.years)
        // The draws spread: a band, in order, around the history's mean.
        let y = a.years[0].gwh
        #expect(y.p10 < y.p50 && y.p50 < y.p90)
        let r = try #require(a.rateAtTargetDate)
        #expect(r.p10 < r.p90)
        #expect(a.levers.map(\.name) == ["add_line", "oee_point", "cycle_cut"])
        // Each lever adds energy: the rate on the target date rises in its P50.
        for l in a.levers { #expect((l.rateAtTargetDateP50 ?? 0) > r.p50, "\(l.name)") }
    }

    @Test("blocks keep consecutive days together: a block as long as the history is a rotation of it")
    func blocks() throws {
        // Block 28 over a 28-day horizon: every run draws one rotation of the 28 days, so every
        // run's total is the history's total; with 1-day blocks the totals spread.
        let total = Self.varied.reduce(0) { $0 + $1.energyKwh } / 1e6 * (8760.0 / 365 / 24)
        var scenario = Scenario(site: "s", targetGWhPerYear: 10, targetDate: Self.jan1 + 100, horizonDays: 28, blockDays: 28)
        let whole = try ScenarioPlanner.plan(Self.input(scenario, history: Self.varied, runs: 200))
        let sum = whole.fan.last!.cumulativeGWh
        #expect(Self.close(sum.p10, total) && Self.close(sum.p90, total))
        scenario.blockDays = 1
        let daily = try ScenarioPlanner.plan(Self.input(scenario, history: Self.varied, runs: 200))
        #expect(daily.fan.last!.cumulativeGWh.p10 < daily.fan.last!.cumulativeGWh.p90)
    }

    @Test("an impossible target says so; a template without history is an error")
    func impossible() throws {
        let phase = Scenario.Phase(name: "p", template: "A", count: 1, firstCommissioning: Self.jan1, staggerDays: 0,
                                   ramp: Scenario.Ramp(shape: .linear, days: 0, startOEE: 1))
        // Two lines at 250 kWh/h at most: 4.38 GWh/y; nameplate 2 × 300 × 8760 = 5.256.
        let scenario = Scenario(site: "s", targetGWhPerYear: 5, targetDate: Self.jan1 + 100, horizonDays: 200, phases: [phase])
        let plan = try ScenarioPlanner.plan(Self.input(scenario, levers: true))
        #expect(plan.impossible)
        #expect(Self.close(plan.ceilingGWhPerYear, 4.38))
        #expect(Self.close(plan.nameplateGWhPerYear, 5.256))
        #expect(plan.reach == ScenarioPlan.DatePercentiles(p10: nil, p50: nil, p90: nil))
        #expect(plan.probabilityByTargetDate == 0)
        // +1 line makes three lines (6.57 GWh/y at most): reached on day 0; the other two levers
        // stay below 5 (2 × 253 × 24 × 365 = 4.43, 4.38 × 6 / 5.9 = 4.45).
        #expect(plan.levers.map(\.reachP50) == [Self.jan1, nil, nil])
        #expect(plan.levers.allSatisfy { $0.deltaDays == nil })
        #expect(plan.json().contains(#""impossible":true,"reach":{"p10":null,"p50":null,"p90":null}"#))
        #expect(throws: ScenarioError.templateWithoutHistory(template: "A", lookbackDays: 28)) {
            try ScenarioPlanner.plan(Self.input(scenario, history: []))
        }
    }

    @Test("levers: +1 line, +1 point of OEE and −0.1 s of cycle move the closed-form date")
    func levers() throws {
        // Line A alone at 2.19 GWh/y; target 2.2: out of reach as planned.
        // +1 point of OEE: +3 kWh per planned hour (1 % of 300) → 253 × 24 × 365 = 2.21628 ≥ 2.2 from day 0.
        // −0.1 s: × 6/5.9 → 2.227119 ≥ 2.2 from day 0. +1 line (from day 0, no phases): 4.38.
        let scenario = Scenario(site: "s", targetGWhPerYear: 2.2, targetDate: Self.jan1 + 10, horizonDays: 60)
        let plan = try ScenarioPlanner.plan(Self.input(scenario, levers: true))
        #expect(plan.reach.p50 == nil)
        #expect(plan.levers.map(\.reachP50) == [Self.jan1, Self.jan1, Self.jan1])
        #expect(plan.levers.map(\.probabilityByTargetDate) == [1, 1, 1])
        let rates = plan.levers.map { $0.rateAtTargetDateP50 ?? 0 }
        #expect(Self.close(rates[0], 4.38) && Self.close(rates[1], 2.21628) && Self.close(rates[2], 2.19 * 6 / 5.9))
        // One line like A adds 2.19: ⌈(2.2 − 2.19) / 2.19⌉ = 1 line to add; for 9 GWh/y, ⌈6.81 / 2.19⌉ = 4.
        #expect(plan.extraLinesNeeded == 1)
        var nine = scenario
        nine.targetGWhPerYear = 9
        #expect(try ScenarioPlanner.plan(Self.input(nine, levers: true)).extraLinesNeeded == 4)
    }

    // MARK: - The scenario file

    static let bishan: Plant = {
        let root = TaktBinaries.packageRoot
        return try! Plant.load(yaml: String(contentsOf: root.appendingPathComponent("Config/plant-bishan.yaml"), encoding: .utf8),
                               fileName: "plant-bishan.yaml")
    }()

    @Test("the shipped Bishan phase-3 scenario loads: 9 lines like blade-01 from 2027-03-01, every 14 days, 120-day ramp")
    func shippedScenario() throws {
        let root = TaktBinaries.packageRoot
        let s = try Scenario.load(
            yaml: String(contentsOf: root.appendingPathComponent("Config/scenario-bishan-phase3.yaml"), encoding: .utf8),
            fileName: "scenario-bishan-phase3.yaml", plant: Self.bishan)
        #expect(s.targetGWhPerYear == 55)
        #expect(s.phases.count == 1)
        let p = s.phases[0]
        #expect(p.template == "blade-01" && p.count == 9 && p.staggerDays == 14 && p.ramp.days == 120)
        #expect(p.firstCommissioning.description == "2027-03-01")
        #expect(p.commissioning(8).description == "2027-06-21")
        #expect(p.lineID(8) == "phase-3-09")
    }

    @Test("scenario file errors name the key and the line", arguments: [
        ("site: bishan\ntarget: {gwh_per_year: 55, date: 2027-12-31}\nphases:\n  - {name: p, template: blade-99, count: 1, first_commissioning: 2027-03-01, ramp: {shape: linear, days: 1, start_oee: 0.3}}\n",
         4, "phases[0].template", "not a line of the plant"),
        ("site: bishan\ntarget: {gwh_per_year: 55, date: 2027-02-30}\n", 2, "target.date", "expected a date"),
        ("site: bishan\ntarget: {gwh_per_year: 55, date: 2027-12-31}\nramps: []\n", 3, "ramps", "unknown key 'ramps'"),
        ("site: other\ntarget: {gwh_per_year: 55, date: 2027-12-31}\n", 1, "site", "plant file's site is 'bishan'"),
        ("site: bishan\ntarget: {gwh_per_year: 0, date: 2027-12-31}\n", 2, "target.gwh_per_year", "above 0"),
        ("site: bishan\ntarget: {gwh_per_year: 55, date: 2027-12-31}\nphases:\n  - name: p\n    template: blade-01\n    count: 1\n    first_commissioning: 2027-03-01\n    ramp: {shape: cubic, days: 1, start_oee: 0.3}\n",
         8, "phases[0].ramp.shape", "linear or s-curve"),
        ("site: bishan\ntarget: {gwh_per_year: 55, date: 2027-12-31}\nshutdowns:\n  - {from: 2027-02-10, to: 2027-02-01}\n",
         4, "shutdowns[0].to", "before 'from'"),
        ("site: bishan\ntarget: {gwh_per_year: 55, date: 2027-12-31}\nshutdowns:\n  - {from: 2027-02-01, to: 2027-02-02, lines: [nope]}\n",
         4, "shutdowns[0].lines[0]", "neither a line"),
        ("site: bishan\ntarget: {gwh_per_year: 55, date: 2027-12-31}\nlookback: 36h\n", 3, "lookback", "whole days"),
        ("site: bishan\n", 1, "target", "missing key 'target'"),
    ] as [(String, Int, String, String)])
    func fileErrors(yaml: String, line: Int, key: String, problem: String) {
        do {
            _ = try Scenario.load(yaml: yaml, fileName: "s.yaml", plant: Self.bishan)
            Issue.record("no error for \(key)")
        } catch {
            #expect(error.line == line, "\(error)")
            #expect(error.key == key, "\(error)")
            #expect(error.problem.contains(problem), "\(error)")
            #expect(error.description.hasPrefix("s.yaml:\(line): "), "\(error)")
        }
    }
}
