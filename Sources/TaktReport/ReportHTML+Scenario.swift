import Foundation
import TaktCore

extension ReportHTML {
    // MARK: (6) the scenario: fan charts of cumulative and annualised GWh, the lever table

    /// A fan chart from the range start to the horizon's end: the measured curve (solid), the
    /// P10–P90 band and the P50 line of the Monte Carlo at each month's end, the plan (dashed)
    /// and the target date; `annualised` plots the 30-day rate against the target rate.
    static func fanChart(_ d: ReportData, _ s: ReportData.ScenarioSection, annualised: Bool) -> String {
        let plan = s.plan
        let width = 600.0, height = 360.0
        let l = 64.0, r = 22.0, t = 62.0, b = 50.0
        let plotW = width - l - r, plotH = height - t - b
        let end = plan.fan.last.map { ($0.day + 1).startMs(timeZone: d.timeZone) } ?? s.startMs
        let span = Double(max(1, end - d.from))
        func x(_ ms: Int64) -> Double { l + Double(ms - d.from) / span * plotW }
        // Month-end points sit at the end of their day.
        let fanT = plan.fan.map { ($0.day + 1).startMs(timeZone: d.timeZone) }
        let base = annualised ? 0 : d.totalGWh
        let band: [(t: Int64, lo: Double, mid: Double, hi: Double)] = zip(fanT, plan.fan).map { t, f in
            let p = annualised ? f.annualisedGWh : f.cumulativeGWh
            return (t, base + p.p10, base + p.p50, base + p.p90)
        }
        let measured = annualised ? s.annualised : d.cumulative
        let planLine: [(Int64, Double)] = annualised
            ? []
            : [(d.from, 0)] + s.pace.map { ($0.t, $0.gwh) } + zip(fanT, plan.fan).map { ($0, s.paceEndGWh + $1.planCumulativeGWh) }
        let top = max(band.map(\.hi).max() ?? 0, measured.map(\.gwh).max() ?? 0, planLine.map(\.1).max() ?? 0,
                      annualised ? plan.targetGWhPerYear : 0)
        let ticks = SVG.niceTicks(max: max(top, 1e-6) * 1.06)
        let yTop = ticks.last ?? 1
        func y(_ v: Double) -> Double { t + plotH - v / yTop * plotH }

        let name = annualised ? "annualised" : "cumulative"
        var svg = SVGWriter(width: Int(width), height: Int(height), className: "chart chart-fan-\(name)",
                            label: annualised ? "30-day annualised rate: measured and simulated" : "Cumulative energy: measured and simulated",
                            data: [("data-runs", String(plan.runs)), ("data-seed", String(plan.seed)), ("data-points", String(band.count))])
        svg.label(annualised ? "Annualised rate: will we run at \(SVG.fixed(plan.targetGWhPerYear, 0)) GWh/y?"
                             : "Cumulative energy: measured, then simulated", x: 12, y: 22, className: "title")
        svg.label(annualised ? "30-day rate × 365/30 (measured: per planned hour × plan hours); band P10–P90 of \(plan.runs) runs"
                             : "GWh since the range start; band P10–P90 of \(plan.runs) runs, dotted P50, dashed the plan",
                  x: 12, y: 40, className: "sub")
        yAxis(&svg, ticks: ticks, decimals: SVG.decimals(for: ticks), x0: l, x1: l + plotW, y: y)
        svg.line(x1: l, y1: t + plotH, x2: l + plotW, y2: t + plotH, className: "axis")
        for tick in monthTicks(from: d.from, to: end, timeZone: d.timeZone, maxCount: 6) {
            svg.line(x1: x(tick.t), y1: t + plotH, x2: x(tick.t), y2: t + plotH + 5, className: "axis")
            svg.label(tick.label, x: x(tick.t), y: t + plotH + 18, anchor: "middle")
        }
        axisTitles(&svg, y: annualised ? "GWh a year" : "GWh (cumulative)", x: "local date", l: l, t: t, plotW: plotW,
                   plotH: plotH, height: height)

        // The band: P90 forwards from the simulation's start, P10 backwards.
        let first = (s.startMs, base, base, base)
        let withStart = annualised ? band : [first] + band
        let upper = withStart.map { SVG.c(x($0.t)) + "," + SVG.c(y($0.hi)) }
        let lower = withStart.reversed().map { SVG.c(x($0.t)) + "," + SVG.c(y($0.lo)) }
        svg.element("polygon", [("class", "fan-band"), ("points", (upper + lower).joined(separator: " ")),
                                ("data-low", band.map { SVG.exact($0.lo) }.joined(separator: " ")),
                                ("data-high", band.map { SVG.exact($0.hi) }.joined(separator: " "))])
        svg.element("polyline", [("class", "fan-p50"), ("points", withStart.map { SVG.c(x($0.t)) + "," + SVG.c(y($0.mid)) }.joined(separator: " ")),
                                 ("data-mid", band.map { SVG.exact($0.mid) }.joined(separator: " "))])
        if !planLine.isEmpty {
            svg.element("polyline", [("class", "target-line scenario-plan"), ("fill", "none"),
                                     ("points", planLine.map { SVG.c(x($0.0)) + "," + SVG.c(y($0.1)) }.joined(separator: " "))])
        }
        let points = (annualised ? [] : [(x(d.from), y(0))]) + measured.map { (x($0.t), y($0.gwh)) }
        svg.element("polyline", [("class", "measured"), ("points", points.map { SVG.c($0.0) + "," + SVG.c($0.1) }.joined(separator: " ")),
                                 ("data-points", String(measured.count)), ("data-end-gwh", SVG.exact(measured.last?.gwh))])
        if annualised {
            svg.line(x1: l, y1: y(plan.targetGWhPerYear), x2: l + plotW, y2: y(plan.targetGWhPerYear), className: "target-rate",
                     extra: [("data-target-gwh", SVG.exact(plan.targetGWhPerYear))])
        }
        let targetMs = plan.targetDate.startMs(timeZone: d.timeZone)
        if targetMs >= d.from, targetMs <= end {
            svg.line(x1: x(targetMs), y1: t, x2: x(targetMs), y2: t + plotH, className: "target-date",
                     extra: [("data-date", plan.targetDate.description)])
            svg.label("promised \(plan.targetDate)", x: x(targetMs) - 4, y: t + plotH - 6, anchor: "end", className: "sub")
        }

        // Legend: top left for the rising cumulative curve; low on the right for the rate,
        // whose band and target line run along the top.
        let lx = annualised ? l + plotW - 235 : l + 12, ly = annualised ? t + plotH - 64 : t + 14
        svg.line(x1: lx, y1: ly - 4, x2: lx + 22, y2: ly - 4, className: "swatch-cumulative")
        svg.label("measured", x: lx + 28, y: ly, className: "value")
        svg.rect(x: lx, y: ly + 8, width: 22, height: 10, className: "swatch-band")
        if annualised {
            let reach = plan.impossible ? "never" : "P50 \(plan.reach.p50.map(String.init(describing:)) ?? "beyond the horizon")"
            svg.label("P10–P90; \(SVG.fixed(plan.targetGWhPerYear, 1)) reached: \(reach)", x: lx + 28, y: ly + 18, className: "value")
            let p = plan.probabilityByTargetDate.map { SVG.percent($0) } ?? "–"
            svg.label("P(by \(plan.targetDate)) = \(p)", x: lx + 28, y: ly + 36, className: "value",
                      extra: [("data-probability", SVG.exact(plan.probabilityByTargetDate))])
        } else {
            let lastBand = band.last
            svg.label("P10–P90 at \(plan.fan.last?.day.description ?? "-"): "
                + "\(SVG.fixed(lastBand?.lo ?? 0, 2))–\(SVG.fixed(lastBand?.hi ?? 0, 2)) GWh", x: lx + 28, y: ly + 18, className: "value")
        }
        return svg.finish()
    }

    /// Ticks on the first of a month, every 1, 2, 3, 6 or 12 months: at most `maxCount`.
    static func monthTicks(from: Int64, to: Int64, timeZone: TimeZone, maxCount: Int) -> [(t: Int64, label: String)] {
        let names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let first = CivilDay(containing: from, timeZone: timeZone).components
        let months = max(1, Int(Double(to - from) / 86_400_000 / 30.4))
        let step = [1, 2, 3, 6, 12].first { months / $0 <= maxCount } ?? 12
        var ticks: [(Int64, String)] = []
        var y = first.year, m = first.month
        while true {
            m += 1
            if m > 12 { m = 1; y += 1 }
            guard let day = CivilDay(year: y, month: m, day: 1) else { break }
            let ms = day.startMs(timeZone: timeZone)
            if ms > to { break }
            if (m - 1) % step == 0 { ticks.append((ms, "\(names[m - 1]) \(y)")) }
        }
        return ticks
    }

    static func leverTable(_ p: ScenarioPlan) -> String {
        func date(_ d: CivilDay?) -> String { d.map(String.init(describing:)) ?? "not within the horizon" }
        var s = "<h2>Levers: what moves the date the 30-day rate reaches \(SVG.escape(SVG.fixed(p.targetGWhPerYear, 1))) GWh/y "
            + "(the same \(p.runs) runs, seed \(p.seed), redone with one change)</h2>\n"
        s += "<table class=\"plan levers\" data-target-gwh=\"\(SVG.exact(p.targetGWhPerYear))\" data-target-date=\"\(p.targetDate)\">\n"
        s += "<thead><tr><th>lever</th><th>P50 date</th><th>moves the P50 date by</th><th>P(by \(p.targetDate))</th>"
            + "<th>P50 rate on \(p.targetDate), GWh/y</th></tr></thead>\n<tbody>\n"
        s += "<tr class=\"lever\" data-lever=\"as_planned\" data-p50=\"\(p.reach.p50.map(String.init(describing:)) ?? "")\">"
            + "<td>as planned</td><td>\(date(p.reach.p50))</td><td></td><td>\(SVG.percent(p.probabilityByTargetDate))</td>"
            + "<td>\(p.rateAtTargetDate.map { SVG.fixed($0.p50, 3) } ?? "–")</td></tr>\n"
        for l in p.levers {
            let delta = l.deltaDays.map { "\($0 > 0 ? "+" : "")\($0) days" } ?? "–"
            s += "<tr class=\"lever\" data-lever=\"\(SVG.escape(l.name))\" data-p50=\"\(l.reachP50.map(String.init(describing:)) ?? "")\""
                + " data-rate-gwh=\"\(SVG.exact(l.rateAtTargetDateP50))\"><td>\(SVG.escape(l.label))</td><td>\(date(l.reachP50))</td>"
                + "<td>\(delta)</td><td>\(SVG.percent(l.probabilityByTargetDate))</td>"
                + "<td>\(l.rateAtTargetDateP50.map { SVG.fixed($0, 3) } ?? "–")</td></tr>\n"
        }
        s += "</tbody>\n</table>\n"
        s += "<p class=\"plan-notes\">Scenario from \(p.start), \(p.horizonDays) days, \(p.blockDays)-day blocks drawn from the last "
            + "\(p.lookbackDays) days of each line; nameplate of all \(p.lines.count) lines \(SVG.fixed(p.nameplateGWhPerYear, 3)) GWh/y, "
            + "the highest 30-day rate any run can reach <b>\(SVG.fixed(p.ceilingGWhPerYear, 3)) GWh/y</b>"
            + (p.impossible ? ": the target is out of reach." : ".")
            + (p.extraLinesNeeded.map { $0 > 0 ? " Lines to add for the P50 rate on \(p.targetDate) to reach the target: <b>\($0)</b> (a linear estimate from the +1 line lever)." : "" } ?? "")
            + " See docs/planning.md.</p>\n"
        return s
    }
}
