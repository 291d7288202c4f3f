import Foundation
import TaktCore

/// The scenario part of `takt plan --scenario` (table format): the answer in words, calendar
/// years and months with their P10/P50/P90, and the lever table.
public enum ScenarioTable {
    public static func render(_ s: ScenarioPlan, pace: ScenarioPlan.Pace?) -> String {
        let newLines = s.lines.filter { $0.phase != nil }
        var out = "Scenario: \(s.runs) runs, seed \(s.seed), \(s.horizonDays) days from \(s.start)"
            + " (\(s.blockDays)-day blocks drawn from a \(s.lookbackDays)-day lookback)\n"
        out += "Lines: \(s.lines.count - newLines.count) now + \(newLines.count) new"
            + (newLines.isEmpty ? "" : " (first \(newLines.first?.commissioning.map(String.init(describing:)) ?? "-"),"
                + " last \(newLines.last?.commissioning.map(String.init(describing:)) ?? "-"))") + "\n"
        out += "Nameplate of all lines \(gwh(s.nameplateGWhPerYear)) GWh/y; the highest 30-day rate any run can reach "
            + "\(gwh(s.ceilingGWhPerYear)) GWh/y\n\n"

        var answer: [(String, String)] = []
        answer.append(("Target", "\(gwh(s.targetGWhPerYear)) GWh/y (30-day rate, annualised) by \(s.targetDate)"))
        if s.impossible {
            answer.append(("Reached", "never: the target is above the highest rate the lines can make"))
        } else {
            answer.append(("Reached", "P10 \(date(s.reach.p10))  P50 \(date(s.reach.p50))  P90 \(date(s.reach.p90))"))
        }
        answer.append(("P(by date)", s.probabilityByTargetDate.map(percent) ?? "- (the date is before the simulation starts)"))
        if let r = s.rateAtTargetDate {
            answer.append(("Rate on date", "P10 \(gwh(r.p10))  P50 \(gwh(r.p50))  P90 \(gwh(r.p90)) GWh/y"))
        }
        if let n = s.extraLinesNeeded, let lever = s.levers.first(where: { $0.name == "add_line" }) {
            answer.append(("Lines to add", n == 0 ? "none: the P50 rate on the date reaches the target"
                : "\(n) more like the +1 line lever's (\(lever.label.dropFirst(9).dropLast())), a linear estimate from its rate on the date"))
        }
        if let pace {
            let diff = pace.ytdGWh - pace.planYTDGWh
            answer.append(("Target pace", "\(pace.year) from \(pace.from): plan \(gwh(pace.planYTDGWh)) GWh, measured \(gwh(pace.ytdGWh))"
                + " (\(diff >= 0 ? "ahead" : "behind") by \(gwh(abs(diff)))); plan for the year \(gwh(pace.planYearGWh))"))
        }
        let width = answer.map(\.0.count).max() ?? 0
        for (k, v) in answer { out += k + String(repeating: " ", count: width - k.count) + "  " + v + "\n" }

        out += "\nGWh per calendar year (the actual energy before \(s.start) included)\n"
        var cells: [[String]] = [["year", "days simulated", "actual", "P10", "P50", "P90", "plan"]]
        for y in s.years {
            cells.append([y.label, String(y.days), gwh(y.actualGWh), gwh(y.gwh.p10), gwh(y.gwh.p50), gwh(y.gwh.p90), gwh(y.planGWh)])
        }
        out += TextTable.aligned(cells, leftAligned: [0])

        out += "\nGWh per month, and the 30-day rate at its end (GWh/y)\n"
        cells = [["month", "days", "P10", "P50", "P90", "plan", "rate P10", "rate P50", "rate P90"]]
        for (m, f) in zip(s.months, s.fan) {
            cells.append([m.label, String(m.days), gwh(m.gwh.p10), gwh(m.gwh.p50), gwh(m.gwh.p90), gwh(m.planGWh),
                          gwh(f.annualisedGWh.p10), gwh(f.annualisedGWh.p50), gwh(f.annualisedGWh.p90)])
        }
        out += TextTable.aligned(cells, leftAligned: [0])

        if !s.levers.isEmpty {
            out += "\nLevers (the same runs redone with one change)\n"
            cells = [["lever", "P50 date", "moves P50 by", "P(by date)", "rate on date P50"]]
            cells.append(["as planned", date(s.reach.p50), "", s.probabilityByTargetDate.map(percent) ?? "-",
                          s.rateAtTargetDate.map { gwh($0.p50) } ?? "-"])
            for l in s.levers {
                cells.append([l.label, date(l.reachP50), l.deltaDays.map { "\($0 > 0 ? "+" : "")\($0) days" } ?? "-",
                              l.probabilityByTargetDate.map(percent) ?? "-", l.rateAtTargetDateP50.map(gwh) ?? "-"])
            }
            out += TextTable.aligned(cells, leftAligned: [0])
        }
        return out
    }

    static func gwh(_ v: Double) -> String { String(format: "%.3f", v) }
    static func percent(_ v: Double) -> String { String(format: "%.1f%%", v * 100) }
    static func date(_ d: CivilDay?) -> String { d.map(String.init(describing:)) ?? "not within the horizon" }
}
