import Foundation
import TaktCore

/// The table of `takt plan`: one row per line, the site total, then the answer against the
/// target in words.
public enum PlanTable {
    /// The table for `plan`, one line a row, `\n` after each.
    public static func render(_ plan: CapacityPlan) -> String {
        var out = "Capacity plan: \(plan.site), \(plan.year), target \(gwh(plan.targetGWh)) GWh\n"
        if let asOf = plan.asOfMs {
            out += "Lookback \(plan.lookback) to \(ContractTime.iso(asOf)) (the site's newest data)\n"
        } else {
            out += "No data for site \(plan.site) in the store: OEE, projections, gap and target date are unknown.\n"
        }
        let w = plan.whatIf
        if !w.isEmpty {
            var parts: [String] = []
            if w.addLines > 0 { parts.append("+\(w.addLines) line\(w.addLines == 1 ? "" : "s") like the average one") }
            if let oee = w.oee { parts.append("every line at OEE \(TextTable.percent(oee))") }
            if let c = w.cycleS { parts.append("ideal cycle \(trimmed(c)) s on every line") }
            out += "What-if: " + parts.joined(separator: ", ") + "\n"
        }
        out += "\n"

        let header = ["line", "nameplate GWh/y", "avail", "perf", "qual", "OEE", "projected GWh/y", "YTD GWh", "kWh/unit"]
        var cells: [[String]] = [header]
        for l in plan.lines {
            cells.append([
                l.line, gwh(l.nameplateGWhPerYear), TextTable.percent(l.availability), TextTable.percent(l.performance),
                TextTable.percent(l.quality), TextTable.percent(l.oee), gwh(l.projectedGWhPerYear), gwh(l.ytdGWh),
                String(format: "%.4f", l.kwhPerUnit) + (l.kwhPerUnitMeasured ? "" : "*"),
            ])
        }
        let t = plan.siteTotal
        let lineCount = "site (\(t.lineCount) line\(t.lineCount == 1 ? "" : "s"))"
        cells.append([lineCount, gwh(t.nameplateGWhPerYear), "", "", "", "", gwh(t.projectedGWhPerYear), gwh(t.ytdGWh), ""])
        out += TextTable.aligned(cells, leftAligned: [0], ruleBefore: cells.count - 1)
        if plan.lines.contains(where: { !$0.kwhPerUnitMeasured }) {
            out += "* no good units in the lookback: the plant file's unit_kwh\n"
        }
        out += "OEE = avail × perf × qual over the lookback"
            + (w.isEmpty ? "" : " (measured; the what-if changes nameplate and projections only)") + "\n\n"

        var answer: [(String, String)] = []
        answer.append(("Target", "\(gwh(plan.targetGWh)) GWh in \(plan.year)"))
        if let p = t.projectedGWhPerYear, let gap = t.gapGWh {
            answer.append(("Projected", "\(gwh(p)) GWh/y " + (gap > 0 ? "(short of the target)" : "(meets the target)")))
            answer.append(("Gap", "\(gwh(gap)) GWh"))
        } else {
            answer.append(("Projected", "unknown (no planned time in the lookback)"))
            answer.append(("Gap", "unknown"))
        }
        if let n = t.linesNeeded {
            answer.append(("Lines needed", "\(n) like the average line (\(t.lineCount) now)"))
        } else {
            answer.append(("Lines needed", "unknown (the average line projects nothing)"))
        }
        if let oee = t.oeeNeeded {
            answer.append(("OEE needed", TextTable.percent(oee) + (oee > 1 ? " of nameplate: more than the lines can make" : " of nameplate")))
        } else {
            answer.append(("OEE needed", "unknown (nameplate is 0)"))
        }
        let pace = t.ytdPaceGWhPerYear.map { " (year-to-date \(gwh(t.ytdGWh)) GWh, pace \(gwh($0)) GWh/y)" } ?? ""
        answer.append(("Target date", (plan.targetDate ?? "not this year") + pace))
        let labelWidth = answer.map(\.0.count).max() ?? 0
        for (label, value) in answer {
            out += label + String(repeating: " ", count: labelWidth - label.count) + "  " + value + "\n"
        }
        return out
    }

    /// GWh with three decimals (MWh); `-` when unknown.
    static func gwh(_ v: Double?) -> String {
        guard let v else { return "-" }
        return String(format: "%.3f", v)
    }

    /// A flag value without a useless `.0`.
    static func trimmed(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : "\(v)"
    }
}
