import ArgumentParser
import Foundation
import TaktCore
import TaktStore

/// `--format` of `takt plan`.
enum PlanFormat: String, CaseIterable, ExpressibleByArgument {
    case table, json
}

extension Takt {
    /// `takt plan`: capacity planning against a yearly target (contract section 6,
    /// `docs/planning.md`). The maths is ``CapacityPlanner`` in TaktCore; this reads the plant
    /// file and the store and prints.
    struct Plan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Plans capacity against a yearly energy target (GWh).",
            discussion: """
                The lookback ends at the site's newest data (the end of its newest 1h window); \
                OEE and the projection come from the line output-station 1h rows that start in \
                it, year-to-date energy from the 1d rows of --year. What-ifs: --add-lines N \
                (N more lines like the average one), --oee X (every line at this OEE), --cycle-s \
                X (every line at this ideal cycle). See docs/planning.md.
                """)

        @OptionGroup var storeOptions: StoreOptions

        @Option(help: ArgumentHelp("The site's plant file (YAML).", valueName: "file"))
        var plant: String

        @Option(help: ArgumentHelp("Site id (the plant file's site).", valueName: "site"))
        var site: String

        @Option(name: .customLong("target-gwh"), help: ArgumentHelp("Energy target for the year, GWh (> 0).", valueName: "gwh"))
        var targetGWh: Double

        @Option(help: ArgumentHelp("Year of the year-to-date figures (default: the year of the newest data, site time zone).", valueName: "yyyy"))
        var year: Int?

        @Option(help: ArgumentHelp("How far back OEE and the projection look, from the newest data.", valueName: "duration"))
        var lookback: String = "7d"

        @Option(help: ArgumentHelp("Output format.", valueName: "table|json"))
        var format: PlanFormat = .table

        @Option(name: .customLong("add-lines"), help: ArgumentHelp("What-if: N more lines like the average one.", valueName: "n"))
        var addLines: Int = 0

        @Option(name: .customLong("oee"), help: ArgumentHelp("What-if: every line runs at this OEE (0 < x ≤ 1).", valueName: "x"))
        var oee: Double?

        @Option(name: .customLong("cycle-s"), help: ArgumentHelp("What-if: every line's ideal cycle, seconds (> 0).", valueName: "x"))
        var cycleS: Double?

        /// The checked flags and the plant.
        func checked() throws(UsageError) -> (url: StoreURL, plant: Plant, lookbackMs: Int64, whatIf: CapacityPlan.WhatIf) {
            let url = try storeOptions.url()
            guard targetGWh.isFinite, targetGWh > 0 else {
                throw UsageError(flag: "--target-gwh", "'\(targetGWh)' must be a number of GWh above 0")
            }
            if let year, !(1970...9999).contains(year) {
                throw UsageError(flag: "--year", "'\(year)' is not a year between 1970 and 9999")
            }
            let lookbackMs = try TimeFlags.durationMs(lookback, flag: "--lookback")
            guard (0...100_000).contains(addLines) else {
                throw UsageError(flag: "--add-lines", "'\(addLines)' must be a whole number of lines from 0 to 100000")
            }
            if let oee, !(oee.isFinite && oee > 0 && oee <= 1) {
                throw UsageError(flag: "--oee", "'\(oee)' must be an OEE above 0 and at most 1 (0.85 is 85%)")
            }
            if let cycleS, !(cycleS.isFinite && cycleS > 0) {
                throw UsageError(flag: "--cycle-s", "'\(cycleS)' must be an ideal cycle in seconds above 0")
            }
            let parsed = try PlantFlag.load(plant, site: site)
return (url, parsed, lookbackMs, CapacityPlan.WhatIf(addLines: addLines, oee: oee, cycleS: cycleS))
        }

        func run() async throws {
            let (url, plant, lookbackMs, whatIf) = try checked()
            let store = try url.open(readOnly: true)
            let asOf = try await store.newestWindowStart(site: site, tier: .hour).map { $0 + 3_600_000 }
            let year = self.year
                ?? CapacityPlanner.year(containing: (asOf ?? Int64(Date().timeIntervalSince1970 * 1000)) - 1, timeZone: plant.timeZone)
            let yearBounds = CapacityPlanner.yearBounds(year, timeZone: plant.timeZone)
            var sums: [String: LineSums] = [:]
            var ytd: [String: Double] = [:]
            for line in plant.lines {
                if let asOf {
                    var s = LineSums()
                    for row in try await store.rows(site: site, line: line.id, station: nil, tier: .hour, from: asOf - lookbackMs, to: asOf) {
                        s.add(row)
                    }
                    sums[line.id] = s
                }
                ytd[line.id] = try await store.rows(site: site, line: line.id, station: nil, tier: .day,
                                              from: yearBounds.start, to: yearBounds.end).reduce(0) { $0 + $1.energyKwh }
            }
            let plan = CapacityPlanner.plan(CapacityPlanInput(
                plant: plant, targetGWh: targetGWh, year: year, lookback: lookback, asOfMs: asOf,
                lookbackSums: sums, ytdKWh: ytd, whatIf: whatIf))
            let text: String
            switch format {
            case .json: text = plan.json + "\n"
            case .table: text = PlanTable.render(plan)
            }
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}

/// The table of `takt plan`: one row per line, the site total, then the answer against the
/// target in words.
enum PlanTable {
    static func render(_ plan: CapacityPlan) -> String {
        var out = "Capacity plan: \(plan.site), \(plan.year), target \(gwh(plan.targetGWh)) GWh\n"
        if let asOf = plan.asOfMs {
            out += "Lookback \(plan.lookback) to \(TimeFlags.iso(asOf)) (the site's newest data)\n"
        } else {
            out += "No data for site \(plan.site) in the store: OEE, projections, gap and target date are unknown.\n"
        }
        let w = plan.whatIf
        if !w.isEmpty {
            var parts: [String] = []
            if w.addLines > 0 { parts.append("+\(w.addLines) line\(w.addLines == 1 ? "" : "s") like the average one") }
            if let oee = w.oee { parts.append("every line at OEE \(percent(oee))") }
            if let c = w.cycleS { parts.append("ideal cycle \(trimmed(c)) s on every line") }
            out += "What-if: " + parts.joined(separator: ", ") + "\n"
        }
        out += "\n"

        let header = ["line", "nameplate GWh/y", "avail", "perf", "qual", "OEE", "projected GWh/y", "YTD GWh", "kWh/unit"]
        var cells: [[String]] = [header]
        for l in plan.lines {
            cells.append([
                l.line, gwh(l.nameplateGWhPerYear), percent(l.availability), percent(l.performance), percent(l.quality),
                percent(l.oee), gwh(l.projectedGWhPerYear), gwh(l.ytdGWh),
                String(format: "%.4f", l.kwhPerUnit) + (l.kwhPerUnitMeasured ? "" : "*"),
            ])
        }
        let t = plan.siteTotal
        let lineCount = "site (\(t.lineCount) line\(t.lineCount == 1 ? "" : "s"))"
        cells.append([lineCount, gwh(t.nameplateGWhPerYear), "", "", "", "", gwh(t.projectedGWhPerYear), gwh(t.ytdGWh), ""])
        out += aligned(cells, separatorBefore: cells.count - 1)
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
            answer.append(("OEE needed", percent(oee) + (oee > 1 ? " of nameplate: more than the lines can make" : " of nameplate")))
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

    /// Columns: the first left-aligned, the rest right-aligned; a rule before row `separatorBefore`.
    static func aligned(_ cells: [[String]], separatorBefore: Int) -> String {
        var widths = [Int](repeating: 0, count: cells[0].count)
        for row in cells {
            for (k, c) in row.enumerated() { widths[k] = max(widths[k], c.count) }
        }
        var out = ""
        for (r, row) in cells.enumerated() {
            if r == separatorBefore {
                out += String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1)) + "\n"
            }
            var line = ""
            for (k, c) in row.enumerated() {
                let pad = String(repeating: " ", count: widths[k] - c.count)
                if k > 0 { line += "  " }
                line += k == 0 ? c + pad : pad + c
            }
            while line.last == " " { line.removeLast() }
            out += line + "\n"
        }
        return out
    }

    /// GWh with three decimals (MWh); `-` when unknown.
    static func gwh(_ v: Double?) -> String {
        guard let v else { return "-" }
        return String(format: "%.3f", v)
    }

    static func percent(_ v: Double?) -> String {
        guard let v else { return "-" }
        return String(format: "%.1f%%", v * 100)
    }

    /// A flag value without a useless `.0`.
    static func trimmed(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : "\(v)"
    }
}
