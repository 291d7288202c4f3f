import Foundation
import Testing
import TaktCore

/// The capacity maths of contract section 6 against hand-worked cases (`docs/planning.md`).
///
/// The plant: planned_hours_per_year 8000, time zone UTC, three lines.
///
/// | line | ideal s | unit kWh | nameplate GWh/y = 3600/ideal × kWh × 8000 / 1e6 |
/// | ---- | ------- | -------- | ----------------------------------------------- |
/// | L1   | 6       | 0.5      | 600 × 0.5 × 8000 = 2.4e6 kWh = 2.4              |
/// | L2   | 5       | 0.4      | 720 × 0.4 × 8000 = 2.304                        |
/// | L3   | 4       | 0.3      | 900 × 0.3 × 8000 = 2.16                         |
/// Σ nameplate = 6.864 GWh/y.
///
/// Lookback sums (see ``sums``):
/// - L1: planned 100 h, run 90 h → A 0.9; 43200 units × 6 s / 324000 s → P 0.8;
///   42768 good of 43200 → Q 0.99; OEE 0.7128; energy 42768 × 0.5 = 21384 kWh;
///   projected = 21384 kWh / 100 h × 8000 h / 1e6 = 1.71072 (= nameplate × OEE: energy is nominal).
/// - L2: planned 100 h, run 80 h → A 0.8; 54720 units × 5 s / 288000 s → P 0.95; Q 1;
///   OEE 0.76; energy 54720 × 0.41 = 22435.2 kWh (measured 0.41 kWh/unit, not 0.4);
///   projected = 22435.2 / 100 × 8000 / 1e6 = 1.794816.
/// - L3: planned 50 h, run 45 h → A 0.9; 45000 units × 4 s / 162000 s = 1.11 → P capped at 1;
///   40500 good of 45000 → Q 0.9; OEE 0.81; energy 40500 × 0.3 = 12150 kWh;
///   projected = 12150 / 50 × 8000 / 1e6 = 1.944.
/// Σ projected = 5.449536; the average line projects 5.449536 / 3 = 1.816512.
@Suite("Capacity plan (hand-worked)")
struct CapacityPlanTests {
    static let utc = TimeZone(identifier: "UTC")!

    static func plant(lines: [Plant.Line]? = nil) -> Plant {
        func line(_ id: String, _ ideal: Double, _ kwh: Double) -> Plant.Line {
            Plant.Line(id: id, product: "cell", idealCycleS: ideal, unitKWh: kwh, outputStation: "eol",
                       stations: [Plant.Station(id: "eol", cycleS: ideal)])
        }
        return Plant(site: "s", timeZone: utc, plannedHoursPerYear: 8000,
                     lines: lines ?? [line("L1", 6, 0.5), line("L2", 5, 0.4), line("L3", 4, 0.3)])
    }

    static let sums: [String: LineSums] = [
        "L1": LineSums(good: 42768, scrap: 432, energyKwh: 21384, runS: 324_000, plannedS: 360_000),
        "L2": LineSums(good: 54720, scrap: 0, energyKwh: 22435.2, runS: 288_000, plannedS: 360_000),
        "L3": LineSums(good: 40500, scrap: 4500, energyKwh: 12150, runS: 162_000, plannedS: 180_000),
    ]

    /// Year-to-date: L1 0.5, L2 0.7, L3 0.3 GWh = 1.5 GWh.
    static let ytd: [String: Double] = ["L1": 500_000, "L2": 700_000, "L3": 300_000]

    /// 2027-03-02T00:00:00Z: 31 + 28 + 1 = 60 days into 2027.
    static let march2nd2027: Int64 = 1_803_945_600_000

    static func plan(target: Double, year: Int = 2027, asOf: Int64? = march2nd2027,
                     sums: [String: LineSums] = sums, ytd: [String: Double] = ytd,
                     whatIf: CapacityPlan.WhatIf = .init(), plant: Plant = plant()) -> CapacityPlan {
        CapacityPlanner.plan(CapacityPlanInput(plant: plant, targetGWh: target, year: year, lookback: "7d", asOfMs: asOf,
                                               lookbackSums: sums, ytdKWh: ytd, whatIf: whatIf))
    }

    static func close(_ a: Double?, _ b: Double?, _ tolerance: Double = 1e-9) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        return abs(a - b) <= tolerance * max(1, abs(b))
    }

    @Test("the calendar: 2027-03-02 is 60 days in; years in the site's time zone")
    func calendar() {
        #expect(CapacityPlanner.yearBounds(2027, timeZone: Self.utc).start == 1_798_761_600_000)
        #expect(Self.march2nd2027 - 1_798_761_600_000 == 60 * 86_400_000)
        // 2028 has 366 days; Shanghai's year starts 8 h before UTC's.
        let y2028 = CapacityPlanner.yearBounds(2028, timeZone: Self.utc)
        #expect(y2028.lengthMs == 366 * 86_400_000)
        let shanghai = CapacityPlanner.yearBounds(2027, timeZone: TimeZone(identifier: "Asia/Shanghai")!)
        #expect(shanghai.start == 1_798_761_600_000 - 8 * 3_600_000)
        #expect(CapacityPlanner.year(containing: shanghai.start, timeZone: TimeZone(identifier: "Asia/Shanghai")!) == 2027)
        #expect(CapacityPlanner.year(containing: shanghai.start, timeZone: Self.utc) == 2026)
    }

    @Test("three lines with different OEE and kWh per unit")
    func threeLines() {
        let p = Self.plan(target: 10)
        #expect(p.lines.map(\.line) == ["L1", "L2", "L3"])
        let expected: [(nameplate: Double, a: Double, perf: Double, q: Double, oee: Double, projected: Double, ytd: Double, kwh: Double)] = [
            (2.4, 0.9, 0.8, 0.99, 0.7128, 1.71072, 0.5, 0.5),
            (2.304, 0.8, 0.95, 1, 0.76, 1.794816, 0.7, 0.41),
            (2.16, 0.9, 1, 0.9, 0.81, 1.944, 0.3, 0.3),
        ]
        for (l, e) in zip(p.lines, expected) {
            #expect(Self.close(l.nameplateGWhPerYear, e.nameplate), "\(l.line)")
            #expect(Self.close(l.availability, e.a), "\(l.line)")
            #expect(Self.close(l.performance, e.perf), "\(l.line)")
            #expect(Self.close(l.quality, e.q), "\(l.line)")
            #expect(Self.close(l.oee, e.oee), "\(l.line)")
            #expect(Self.close(l.projectedGWhPerYear, e.projected), "\(l.line)")
            #expect(Self.close(l.ytdGWh, e.ytd), "\(l.line)")
            #expect(Self.close(l.kwhPerUnit, e.kwh), "\(l.line)")
            #expect(l.kwhPerUnitMeasured)
        }
        // With nominal energy and no performance cap, projected = nameplate × OEE (L1).
        #expect(Self.close(p.lines[0].projectedGWhPerYear, 2.4 * 0.7128))
        let t = p.siteTotal
        #expect(Self.close(t.nameplateGWhPerYear, 6.864))
        #expect(Self.close(t.projectedGWhPerYear, 5.449536))
        #expect(Self.close(t.ytdGWh, 1.5))
        #expect(Self.close(t.gapGWh, 10 - 5.449536))         // 4.550464
        #expect(t.linesNeeded == 6)                          // 10 / 1.816512 = 5.505 → 6
        #expect(Self.close(t.oeeNeeded, 10 / 6.864))         // 1.456876…: more than nameplate
        #expect(t.lineCount == 3)
        // Year-to-date pace: 1.5 GWh / 60 days = 0.025 GWh/day; × 365 = 9.125 GWh/y < 10.
        #expect(Self.close(t.ytdPaceGWhPerYear, 9.125))
        #expect(p.targetDate == nil)                         // 10 / 0.025 = 400 days: not this year
        #expect(p.asOfMs == Self.march2nd2027)
    }

    // Target dates (issue 15): the rest of the year at the lookback's pace, the site's measured
    // projection 5.449536 GWh a year spread over 365 days (0.014930 GWh a day), from as_of
    // (2027-03-02T00:00Z, day 60, year to date 1.5 GWh).
    @Test("target date from the lookback's pace", arguments: [
        // 3.51 GWh more at 5.449536 / 365 a day: 235.09 days after day 60 → day 295.09 → 23 October.
        (5.01, "2027-10-23"),
        // 304.9 days after day 60 → day 364.9: the year's last day.
        (1.5 + 5.449536 * 304.9 / 365, "2027-12-31"),
        // 305.1 days → past the year's end.
        (1.5 + 5.449536 * 305.1 / 365, nil),
        // 3.5 GWh more: 234.42 days → day 294.42 → 22 October (the year-to-date pace said 19 July).
        (5.0, "2027-10-22"),
    ] as [(Double, String?)])
    func targetDate(target: Double, date: String?) {
        #expect(Self.plan(target: target).targetDate == date)
    }

    @Test("leap year 2028: planned hours from the plant file, the ytd pace over 366 days, the date within 366")
    func leapYear() {
        // 1.83 GWh by 2028-03-02T00:00Z = 31 + 29 + 1 = 61 days → 0.03 GWh/day.
        let ytd: [String: Double] = ["L1": 610_000, "L2": 610_000, "L3": 610_000]
        let asOf2028: Int64 = 1_835_568_000_000  // 2028-03-02T00:00:00Z
        #expect(asOf2028 - CapacityPlanner.yearBounds(2028, timeZone: Self.utc).start == 61 * 86_400_000)
        // 304.5 days at the lookback's pace after day 61 → day 365.5: inside 2028's 366 days
        // (its last day), past 2027's 365.
        let target = 1.83 + 5.449536 * 304.5 / 365
        let leap = Self.plan(target: target, year: 2028, asOf: asOf2028, ytd: ytd)
        #expect(leap.targetDate == "2028-12-31")
        #expect(Self.close(leap.siteTotal.ytdPaceGWhPerYear, 0.03 * 366))   // 10.98
        // Same ytd and pace in 2027, 61 days in = 2027-03-03.
        let plain = Self.plan(target: target, year: 2027, asOf: Self.march2nd2027 + 86_400_000, ytd: ytd)
        #expect(plain.targetDate == nil)
        #expect(Self.close(plain.siteTotal.ytdPaceGWhPerYear, 0.03 * 365))
        // Nameplate and projection use the plant's 8000 h in both years.
        #expect(leap.siteTotal.nameplateGWhPerYear == plain.siteTotal.nameplateGWhPerYear)
        #expect(Self.close(leap.siteTotal.nameplateGWhPerYear, 6.864))
        #expect(Self.close(leap.siteTotal.projectedGWhPerYear, 5.449536))
    }

    @Test("a recent start: the lookback's pace, not the pace since 1 January, dates the target")
    func recentStart() {
        // A site that reported only since 2027-11-01 (as_of 2027-12-01, day 334): ytd 0.3 GWh.
        // Since 1 January that is 0.3 / 334 days × 365 = 0.33 GWh a year ("not this year" for 0.35);
        // at the lookback's 5.449536 GWh a year, 0.05 GWh more take 3.35 days → 4 December.
        let asOf: Int64 = 1_827_619_200_000  // 2027-12-01T00:00:00Z
        #expect(asOf - CapacityPlanner.yearBounds(2027, timeZone: Self.utc).start == 334 * 86_400_000)
        let p = Self.plan(target: 0.35, asOf: asOf, ytd: ["L1": 100_000, "L2": 100_000, "L3": 100_000])
        #expect(p.targetDate == "2027-12-04")
        #expect(Self.close(p.siteTotal.ytdPaceGWhPerYear, 0.3 / 334 * 365))
    }

    @Test("a target already met: gap 0, lines needed within the lines there are, date in the past")
    func targetMet() {
        let p = Self.plan(target: 4)
        #expect(p.siteTotal.gapGWh == 0)
        #expect(p.siteTotal.linesNeeded == 3)                // 4 / 1.816512 = 2.2 → 3 ≤ 3
        #expect(p.siteTotal.linesNeeded! <= p.siteTotal.lineCount)
        #expect(Self.close(p.siteTotal.oeeNeeded, 4 / 6.864))
        // Year-to-date 1.5 GWh already beats 1.21: at 0.025 GWh/day it was reached on day 48.4 → 18 February.
        let met = Self.plan(target: 1.21)
        #expect(met.siteTotal.gapGWh == 0)
        #expect(met.siteTotal.linesNeeded == 1)              // 1.21 / 1.816512 = 0.67 → 1
        #expect(met.targetDate == "2027-02-18")
        // Exactly the projection: gap 0 and exactly 3 lines (no extra line for float noise).
        let exact = Self.plan(target: 5.449536)
        #expect(exact.siteTotal.gapGWh == 0)
        #expect(exact.siteTotal.linesNeeded == 3)
    }

    @Test("zero data: nameplate and OEE needed only; the rest unknown, JSON says null")
    func zeroData() {
        let p = Self.plan(target: 10, asOf: nil, sums: [:], ytd: [:])
        for l in p.lines {
            #expect(l.oee == nil && l.availability == nil && l.performance == nil && l.quality == nil)
            #expect(l.projectedGWhPerYear == nil)
            #expect(l.ytdGWh == 0)
            #expect(!l.kwhPerUnitMeasured)
        }
        #expect(p.lines.map(\.kwhPerUnit) == [0.5, 0.4, 0.3])   // the plant's unit_kwh
        let t = p.siteTotal
        #expect(Self.close(t.nameplateGWhPerYear, 6.864))
        #expect(t.projectedGWhPerYear == nil && t.gapGWh == nil && t.linesNeeded == nil)
        #expect(Self.close(t.oeeNeeded, 10 / 6.864))
        #expect(t.ytdPaceGWhPerYear == nil)
        #expect(p.targetDate == nil && p.asOfMs == nil)

        let one = Self.plan(target: 1, asOf: nil, sums: [:], ytd: [:], plant: Self.plant(lines: [Self.plant().lines[0]]))
        #expect(one.json == """
            {"site":"s","year":2027,"target_gwh":1.0,"lookback":"7d","lines":[{"line":"L1","nameplate_gwh_per_year":2.4,\
            "oee":null,"projected_gwh_per_year":null,"ytd_gwh":0.0,"kwh_per_unit":0.5,"availability":null,\
            "performance":null,"quality":null,"kwh_per_unit_measured":false}],"site_total":{"nameplate_gwh_per_year":2.4,\
            "projected_gwh_per_year":null,"ytd_gwh":0.0,"gap_gwh":null,"lines_needed":null,"oee_needed":0.416667,\
            "line_count":1,"ytd_pace_gwh_per_year":null},"as_of":null,"target_date":null,\
            "what_if":{"add_lines":0,"oee":null,"cycle_s":null}}
            """)
    }

    @Test("data with no planned time (a line in planned stop all lookback) projects nothing; the average skips it")
    func lineWithoutPlannedTime() {
        var sums = Self.sums
        sums["L3"] = LineSums()  // rows, but all time in 160000–179999
        let p = Self.plan(target: 10, sums: sums)
        #expect(p.lines[2].projectedGWhPerYear == nil && p.lines[2].oee == nil)
        // Σ projected = 1.71072 + 1.794816 = 3.505536 over 2 lines → average 1.752768; 10 / 1.752768 = 5.7 → 6.
        #expect(Self.close(p.siteTotal.projectedGWhPerYear, 3.505536))
        #expect(p.siteTotal.linesNeeded == 6)
    }

    @Test("--add-lines 2: two more average lines in nameplate and projection")
    func addLines() {
        let p = Self.plan(target: 10, whatIf: .init(addLines: 2))
        // Nameplate 6.864 + 2 × 2.288 = 11.44; projected 5.449536 + 2 × 1.816512 = 9.08256.
        #expect(Self.close(p.siteTotal.nameplateGWhPerYear, 11.44))
        #expect(Self.close(p.siteTotal.projectedGWhPerYear, 9.08256))
        #expect(Self.close(p.siteTotal.gapGWh, 0.91744))
        #expect(p.siteTotal.linesNeeded == 6)                // the average line is unchanged
        #expect(p.siteTotal.lineCount == 5)
        #expect(Self.close(p.siteTotal.oeeNeeded, 10 / 11.44))   // 0.874126
        #expect(p.lines.count == 3)                          // the real lines only
        #expect(Self.close(p.siteTotal.ytdGWh, 1.5))        // history does not change
    }

    @Test("--oee 0.85: every line projects nameplate × 0.85; measured OEE still shown")
    func assumedOEE() {
        let p = Self.plan(target: 10, whatIf: .init(oee: 0.85))
        // 2.4 × 0.85 = 2.04, 2.304 × 0.85 = 1.9584, 2.16 × 0.85 = 1.836; Σ 5.8344.
        #expect(zip(p.lines.map(\.projectedGWhPerYear), [2.04, 1.9584, 1.836]).allSatisfy { Self.close($0, $1) })
        #expect(Self.close(p.siteTotal.projectedGWhPerYear, 5.8344))
        #expect(Self.close(p.siteTotal.gapGWh, 4.1656))
        #expect(p.siteTotal.linesNeeded == 6)                // 10 / 1.9448 = 5.14 → 6
        #expect(Self.close(p.lines[0].oee, 0.7128))
        // Without data an assumed OEE still gives a projection.
        let noData = Self.plan(target: 10, asOf: nil, sums: [:], ytd: [:], whatIf: .init(oee: 0.85))
        #expect(Self.close(noData.siteTotal.projectedGWhPerYear, 5.8344))
    }

    @Test("--cycle-s 4: nameplate at that cycle, projection = new nameplate × measured OEE")
    func assumedCycle() {
        let p = Self.plan(target: 10, whatIf: .init(cycleS: 4))
        // Nameplates at 900 units/h: L1 900 × 0.5 × 8000 = 3.6, L2 900 × 0.4 × 8000 = 2.88, L3 2.16.
        #expect(zip(p.lines.map(\.nameplateGWhPerYear), [3.6, 2.88, 2.16]).allSatisfy { Self.close($0, $1) })
        // Projected 3.6 × 0.7128 = 2.56608, 2.88 × 0.76 = 2.1888, 2.16 × 0.81 = 1.7496; Σ 6.50448.
        #expect(zip(p.lines.map(\.projectedGWhPerYear), [2.56608, 2.1888, 1.7496]).allSatisfy { Self.close($0, $1) })
        #expect(Self.close(p.siteTotal.nameplateGWhPerYear, 8.64))
        #expect(Self.close(p.siteTotal.projectedGWhPerYear, 6.50448))
        #expect(Self.close(p.siteTotal.oeeNeeded, 10 / 8.64))    // 1.157407
        #expect(p.siteTotal.linesNeeded == 5)                // 10 / 2.16816 = 4.61 → 5
        // Performance stays measured against the plant file's cycle.
        #expect(Self.close(p.lines[0].performance, 0.8))
        // With --oee too, the assumed OEE wins: 8.64 × 0.85 = 7.344.
        let both = Self.plan(target: 10, whatIf: .init(oee: 0.85, cycleS: 4))
        #expect(Self.close(both.siteTotal.projectedGWhPerYear, 7.344))
    }

    @Test("JSON: contract keys in order, 6-decimal rounding, extras after")
    func json() throws {
        let p = Self.plan(target: 10, whatIf: .init(addLines: 1))
        let text = p.json
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["site", "year", "target_gwh", "lookback", "lines", "site_total", "as_of", "target_date", "what_if"])
        #expect(text.hasPrefix(#"{"site":"s","year":2027,"target_gwh":10.0,"lookback":"7d","lines":[{"line":"L1","nameplate_gwh_per_year":2.4,"oee":0.7128,"projected_gwh_per_year":1.71072,"ytd_gwh":0.5,"kwh_per_unit":0.5,"#))
        #expect(text.contains(#""oee_needed":1.092657,"#))     // 10 / (6.864 + 2.288) = 10 / 9.152 = 1.0926573…
        #expect(text.hasSuffix(#""as_of":1803945600000,"target_date":null,"what_if":{"add_lines":1,"oee":null,"cycle_s":null}}"#))
        #expect(text == Self.plan(target: 10, whatIf: .init(addLines: 1)).json)
    }
}
