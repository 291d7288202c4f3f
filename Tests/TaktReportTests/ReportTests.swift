import Foundation
import Testing
import TaktCore
import TaktReport
import TaktStore
import TestSupport

/// `takt report`: a real SQLite store filled through `commit`, the built binary, the HTML it
/// writes checked chart by chart against figures the test works out from its own inputs, then
/// the page rendered by headless Chromium.
///
/// Sync tests: `Process.waitUntilExit` must not block a Swift-concurrency thread.
@Suite("takt report", .heavyweight)
struct ReportTests {
    // MARK: the fixture: two lines, five stations, three days of 1h windows (+ their 1d rows)

    static let plantYAML = """
        site: demo
        timezone: Asia/Shanghai
        calendar:
          planned_hours_per_year: 8400
        lines:
          - id: line-a
            product: blade-cell
            ideal_cycle_s: 6.0
            unit_kwh: 0.4416
            output_station: eol
            stations:
              - {id: stacking, cycle_s: 5.6}
              - {id: welding, cycle_s: 5.8}
              - {id: eol, cycle_s: 6.0}
          - id: line-b
            product: blade-cell
            ideal_cycle_s: 7.5
            unit_kwh: 0.4416
            output_station: eol
            stations:
              - {id: stacking, cycle_s: 7.0}
              - {id: eol, cycle_s: 7.5}

        """

    /// 2026-11-10T00:00:00Z.
    static let start: Int64 = 1_794_268_800_000
    static let hours = 72
    static let shanghaiMs: Int64 = 8 * hourMs

    /// One station's hour, as the test wrote it.
    struct Hour {
        var line: String, station: String, start: Int64
        var good: Int64, scrap: Int64, energy: Double, runMs: Int64, plannedMs: Int64
    }

    /// Believable hours: no shift 02:00–04:00 UTC (planned 0), stoppages that differ per station
    /// so the downtime order is known, output that follows run time.
    static let hoursWritten: [Hour] = {
        // Base stoppage a planned hour, seconds: welding of line-a stands still most.
        let stations: [(line: String, station: String, ideal: Double, stop: Int64)] = [
            ("line-a", "stacking", 5.6, 40), ("line-a", "welding", 5.8, 300), ("line-a", "eol", 6.0, 120),
            ("line-b", "stacking", 7.0, 200), ("line-b", "eol", 7.5, 60),
        ]
        var out: [Hour] = []
        for h in 0..<hours {
            let start = Self.start + Int64(h) * hourMs
            let noShift = (2..<4).contains(h % 24)
            for (k, s) in stations.enumerated() {
                let planned: Int64 = noShift ? 0 : 3_600_000
                let stop = noShift ? 0 : (s.stop + Int64((h * 37 + k * 11) % 9) * 25) * 1000
                let run = planned - stop
                let units = Int64(Double(run) / 1000 / (s.ideal * 1.04))
                let scrap = units > 0 ? Int64((h + k) % 4) : 0
                let good = units - scrap
                let energy = Double(good) * 0.4416 * (1 + Double((h * 7 + k) % 5 - 2) * 0.001)
                out.append(Hour(line: s.line, station: s.station, start: start, good: good, scrap: scrap,
                                energy: energy, runMs: run, plannedMs: planned))
            }
        }
        return out
    }()

    static func isOutput(_ h: Hour) -> Bool { h.station == "eol" }
    static func ideal(_ line: String, _ station: String) -> Double {
        switch (line, station) {
        case ("line-a", "stacking"): return 5.6
        case ("line-a", "welding"): return 5.8
        case ("line-a", "eol"): return 6.0
        case ("line-b", "stacking"): return 7.0
        default: return 7.5
        }
    }

    /// Writes the plant file and the store; returns their paths.
    static func fixture(_ dir: TempDir) async throws -> (plant: String, store: String) {
        let plant = dir.path("plant.yaml")
        try plantYAML.write(toFile: plant, atomically: true, encoding: .utf8)
        let path = dir.path("takt.sqlite")
        let store = try SQLiteRollupStore(path: path)
        var updates: [WindowUpdate] = []
        var days: [WindowKey: WindowUpdate] = [:]
        for h in hoursWritten {
            let key = WindowKey(site: "demo", line: h.line, station: h.station, tier: .hour, start: h.start, end: h.start + hourMs)
            updates.append(WindowUpdate(key: key, good: h.good, scrap: h.scrap, energyKwh: h.energy, runMs: h.runMs,
                                        plannedMs: h.plannedMs, idealCycleS: ideal(h.line, h.station), isOutputStation: isOutput(h)))
            // The local (Asia/Shanghai, no DST) day of the hour.
            let dayStart = ((h.start + shanghaiMs) / (24 * hourMs)) * 24 * hourMs - shanghaiMs
            let dayKey = WindowKey(site: "demo", line: h.line, station: h.station, tier: .day, start: dayStart, end: dayStart + 24 * hourMs)
            var day = days[dayKey] ?? WindowUpdate(key: dayKey, runMs: 0, plannedMs: 0, idealCycleS: ideal(h.line, h.station),
                                                   isOutputStation: isOutput(h))
            day.good += h.good
            day.scrap += h.scrap
            day.energyKwh += h.energy
            day.runMs += h.runMs
            day.plannedMs += h.plannedMs
            days[dayKey] = day
        }
        _ = try await store.commit(CommitBatch(updates: updates, journalOffset: 1))
        _ = try await store.commit(CommitBatch(updates: Array(days.values), journalOffset: 2))
        try store.close()
        return (plant, path)
    }

    // MARK: what the charts must show, worked out from the fixture's inputs (not the store)

    struct Expected {
        var totalGWh: Double
        var targetEndGWh: Double
        var goodPerHour: [String: [Double]]
        var oee: [String: (a: Double, p: Double, q: Double, oee: Double)]
        /// (line, station, downtime s), most first.
        var downtime: [(String, String, Double)]
        var ytdGWh: [String: Double]
    }

    static func expected(targetGWh: Double = 55) -> Expected {
        let output = hoursWritten.filter(isOutput)
        let total = output.reduce(0) { $0 + $1.energy } / 1e6
        let rangeMs = Double(hours) * Double(hourMs)
        var goodPerHour: [String: [Double]] = [:]
        for h in output { goodPerHour[h.line, default: []].append(Double(h.good)) }
        var oee: [String: (Double, Double, Double, Double)] = [:]
        var ytd: [String: Double] = [:]
        for line in ["line-a", "line-b"] {
            let rows = output.filter { $0.line == line }
            let run = Double(rows.reduce(0) { $0 + $1.runMs }), planned = Double(rows.reduce(0) { $0 + $1.plannedMs })
            let good = Double(rows.reduce(0) { $0 + $1.good }), units = Double(rows.reduce(0) { $0 + $1.good + $1.scrap })
            let a = run / planned, p = min(1, ideal(line, "eol") * 1000 * units / run), q = good / units
            oee[line] = (a, p, q, a * p * q)
            ytd[line] = rows.reduce(0) { $0 + $1.energy } / 1e6
        }
        var downtime: [String: (String, String, Double)] = [:]
        for h in hoursWritten {
            let key = h.line + "/" + h.station
            downtime[key, default: (h.line, h.station, 0)].2 += Double(h.plannedMs - h.runMs) / 1000
        }
        let order = downtime.values.sorted { $0.2 > $1.2 }
        return Expected(totalGWh: total, targetEndGWh: targetGWh * rangeMs / (365 * 24 * Double(hourMs)),
                        goodPerHour: goodPerHour, oee: oee, downtime: order, ytdGWh: ytd)
    }

    // MARK: the binary

    @Test("takt report writes every chart with the store's numbers")
    func reportCarriesTheNumbers() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let (plant, store) = try await Self.fixture(dir)
        let out = dir.path("report.html")
        let run = try TaktBinaries.run("takt", ["report", "--store", "sqlite:" + store, "--plant", plant, "--site", "demo", "--out", out])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.isEmpty)
        let html = try String(contentsOfFile: out, encoding: .utf8)
        let problems = Self.check(html, against: Self.expected())
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        #expect(Self.selfContainedProblems(html).isEmpty, "\(Self.selfContainedProblems(html))")
    }

    @Test("--from/--to cut the range; --target-gwh moves the target line")
    func rangeAndTarget() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let (plant, store) = try await Self.fixture(dir)
        let out = dir.path("day2.html")
        let from = Self.start + 24 * hourMs, to = Self.start + 48 * hourMs
        let run = try TaktBinaries.run("takt", ["report", "--store", "sqlite:" + store, "--plant", plant, "--site", "demo", "--out", out,
                                     "--from", String(from), "--to", String(to), "--target-gwh", "30"])
        #expect(run.status == 0, "\(run.stderr)")
        let html = try String(contentsOfFile: out, encoding: .utf8)
        let day = Self.hoursWritten.filter { Self.isOutput($0) && $0.start >= from && $0.start < to }
        let cumulative = Self.elements(html, "polyline", class: "cumulative")
        #expect(cumulative.count == 1)
        #expect(cumulative.first?["data-points"] == "24")
        Self.expectClose(cumulative.first?["data-end-gwh"], day.reduce(0) { $0 + $1.energy } / 1e6, "day 2 energy")
        Self.expectClose(Self.elements(html, "line", class: "target-line").first?["data-end-gwh"], 30.0 / 365, "target line end")
        for series in Self.elements(html, "polyline", class: "series") { #expect(series["data-points"] == "24") }
        // The plan's year to date stops at --to: two whole local days from 1d rows, then 1h rows.
        let planRows = Self.elements(html, "tr", class: "plan-line")
        #expect(planRows.count == 2)
        for row in planRows {
            let line = row["data-line"] ?? ""
            let ytd = Self.hoursWritten.filter { Self.isOutput($0) && $0.line == line && $0.start < to }.reduce(0) { $0 + $1.energy }
            Self.expectClose(row["data-ytd-gwh"], ytd / 1e6, "year to date of \(line) up to --to")
        }
    }

    @Test("--scenario: the target pace follows the scenario; fan charts and the lever table carry the simulation")
    func scenario() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let (plant, store) = try await Self.fixture(dir)
        // plan_oee 0.8: the plan is nameplate × 0.8 × 8400 / 365 h a day per line — line-a
        // 3600 / 6 × 0.4416 = 264.96 kWh/h, line-b 3600 / 7.5 × 0.4416 = 211.968 — and line-b
        // stops on 11 November (local), a whole day inside the 72-hour range (3 local days of it).
        let scenario = dir.path("scenario.yaml")
        try """
            site: demo
            target: {gwh_per_year: 4.5, date: 2026-12-31}
            horizon_days: 60
            plan_oee: 0.8
            phases:
              - {name: p2, template: line-a, count: 2, first_commissioning: 2026-11-20, stagger_days: 7,
                 ramp: {shape: s-curve, days: 10, start_oee: 0.4}}
            shutdowns:
              - {name: line-b service, from: 2026-11-11, to: 2026-11-11, lines: [line-b]}
            """.write(toFile: scenario, atomically: true, encoding: .utf8)
        let out = dir.path("scenario.html")
        let args = ["report", "--store", "sqlite:" + store, "--plant", plant, "--site", "demo", "--out", out,
                    "--scenario", scenario, "--runs", "100", "--seed", "3"]
        let run = try TaktBinaries.run("takt", args)
        #expect(run.status == 0, "\(run.stderr)")
        let html = try String(contentsOfFile: out, encoding: .utf8)
        let day = 8400.0 / 365 * 0.8
        let pace = (3 * 264.96 + 2 * 211.968) * day / 1e6
        let target = Self.elements(html, "polyline", class: "target-line").filter { ($0["class"] ?? "").contains("scenario-pace") }
        #expect(target.count == 1)
        Self.expectClose(target.first?["data-end-gwh"], pace, "the scenario's pace over the range")
        // The other charts are unchanged by the scenario.
        let problems = Self.check(html, against: Self.expected()).filter { !$0.contains("target") }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        // Fan charts: one point per month of the horizon (13 November + 1 … 60 days: Nov, Dec, Jan).
        for name in ["chart-fan-cumulative", "chart-fan-annualised"] {
            let chart = Self.elements(html, "svg", class: name)
            #expect(chart.first?["data-points"] == "3", "\(name)")
            #expect(chart.first?["data-runs"] == "100")
        }
        let bands = Self.elements(html, "polygon", class: "fan-band")
        #expect(bands.count == 2)
        for band in bands {
            let lo = (band["data-low"] ?? "").split(separator: " ").compactMap { Double($0) }
            let hi = (band["data-high"] ?? "").split(separator: " ").compactMap { Double($0) }
            #expect(lo.count == 3 && hi.count == 3)
            #expect(zip(lo, hi).allSatisfy { $0 <= $1 && $0 > 0 })
        }
        let levers = Self.elements(html, "tr", class: "lever")
        #expect(levers.map { $0["data-lever"] ?? "" } == ["as_planned", "add_line", "oee_point", "cycle_cut"])
        #expect(html.contains("Target pace for the range"))
        // The same seed gives the same page.
        let again = dir.path("again.html")
        #expect(try TaktBinaries.run("takt", args.map { $0 == out ? again : $0 }).status == 0)
        #expect(try String(contentsOfFile: again, encoding: .utf8) == html)
    }

    @Test("usage errors exit 2 naming the flag; an empty range exits 1", arguments: [
        (["--site", "other"], 2, "--site"), (["--target-gwh", "0"], 2, "--target-gwh"),
        (["--from", "yesterday"], 2, "--from"), (["--from", "2026-11-02T00:00:00Z", "--to", "2026-11-01T00:00:00Z"], 2, "--to"),
        (["--from", "2020-01-01T00:00:00Z", "--to", "2020-01-02T00:00:00Z"], 1, "no 1h rows"),
    ])
    func errors(flags: [String], status: Int32, mention: String) async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let (plant, store) = try await Self.fixture(dir)
        var args = ["report", "--store", "sqlite:" + store, "--plant", plant, "--out", dir.path("r.html")]
        if !flags.contains("--site") { args += ["--site", "demo"] }
        let run = try TaktBinaries.run("takt", args + flags)
        #expect(run.status == status, "\(run.stderr)")
        #expect(run.stderr.contains(mention), "\(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: dir.path("r.html")))
    }

    // MARK: the checker is a real test: an empty chart fails it

    @Test("the checker fails when any chart is empty", arguments: ["cumulative", "hourly", "oee", "bottlenecks", "plan"])
    func emptyChartFails(part: String) async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let (plant, path) = try await Self.fixture(dir)
        let store = try SQLiteRollupStore(path: path, readOnly: true)
        let plantValue = try Plant.load(yaml: String(contentsOfFile: plant, encoding: .utf8), fileName: plant)
        var data = try await ReportData.load(store: store, plant: plantValue, from: nil, to: nil, targetGWh: 55)
        let expected = Self.expected()
        #expect(Self.check(ReportHTML.render(data), against: expected).isEmpty)
        switch part {
        case "cumulative": data.cumulative = []
        case "hourly": data.hourly = data.hourly.map { ReportData.LineSeries(line: $0.line, points: []) }
        case "oee": data.oee = data.oee.map { ReportData.LineOEE(line: $0.line, availability: nil, performance: nil, quality: nil, oee: nil) }
        case "bottlenecks": data.bottlenecks = []
        default: data.plan = nil
        }
        #expect(!Self.check(ReportHTML.render(data), against: expected).isEmpty)
    }

    @Test("text from plant files and stores is escaped")
    func escaping() {
        let evil = "<script>alert('x')</script>&\""
        let data = ReportData(
            site: evil, timeZone: TimeZone(identifier: "UTC")!, from: 0, to: hourMs, targetGWh: 55, yearMs: 365 * 24 * hourMs,
            cumulative: [.init(t: hourMs, gwh: 0.001)], hourly: [.init(line: evil, points: [.init(start: 0, goodPerHour: 5)])],
            oee: [.init(line: evil, availability: 1, performance: 1, quality: 1, oee: 1)],
            bottlenecks: [.init(line: evil, station: evil, downtimeS: 60, plannedS: 3600)],
            plan: .init(site: evil, year: 1970, targetGWh: 55, lookback: evil, asOfMs: nil, lines: [.init(
                line: evil, nameplateGWhPerYear: 1, oee: nil, availability: nil, performance: nil, quality: nil,
                projectedGWhPerYear: nil, ytdGWh: 0, kwhPerUnit: 0.44, kwhPerUnitMeasured: false)],
                        siteTotal: .init(nameplateGWhPerYear: 1, projectedGWhPerYear: nil, ytdGWh: 0, gapGWh: nil,
                                         linesNeeded: nil, oeeNeeded: nil, lineCount: 1, ytdPaceGWhPerYear: nil),
                        targetDate: evil, whatIf: .init()))
        let html = ReportHTML.render(data)
        #expect(!html.contains("<script"))
        #expect(!html.contains("alert('x')"))
        #expect(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"))
        #expect(Self.elements(html, "rect", class: "downtime").first?["data-line"] == evil)
    }

    // MARK: headless Chromium

    /// Chromium's binary (``TaktBinaries/chromium``).
    static var chromium: String? { TaktBinaries.chromium }

    /// Renders `html` to a 1280 × 2400 PNG; returns its bytes.
    static func screenshot(_ html: String, dir: TempDir, name: String) throws -> [UInt8] {
        let page = dir.path(name + ".html"), png = dir.path(name + ".png")
        try html.write(toFile: page, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(chromium))
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                             "--user-data-dir=" + dir.path("chromium-profile-" + name),
                             "--screenshot=" + png, "--window-size=1280,2400", "file://" + page]
        process.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        process.standardError = err
        try process.run()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "chromium: \(String(decoding: stderr, as: UTF8.self))")
        return try [UInt8](Data(contentsOf: URL(fileURLWithPath: png)))
    }

    /// Width and height from a PNG's IHDR chunk; `nil` when `bytes` is not a PNG.
    static func pngSize(_ bytes: [UInt8]) -> (width: Int, height: Int)? {
        guard bytes.count > 24, bytes.prefix(8) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A],
              bytes[12..<16] == [0x49, 0x48, 0x44, 0x52] else { return nil }
        func be32(_ i: Int) -> Int { bytes[i..<i + 4].reduce(0) { $0 << 8 | Int($1) } }
        return (be32(16), be32(20))
    }

    /// Smallest PNG a rendered report may be. Measured with Chromium 156 (Debian 12) at
    /// 1280 × 2400: a blank white page 14.0 KB; this fixture's report 198 KB; the same report
    /// with every chart emptied (titles, axes, legends, figures still drawn) 126 KB. So bytes
    /// tell a blank page from a report (threshold well above 14 KB), and the charts' own pixels
    /// add over half again (the test asks ≥ 1.3 × the emptied page); that no chart is empty is
    /// checked exactly on the HTML (``check(_:against:)``). See docs/report.md.
    static let minimumReportPNGBytes = 60_000

    @Test("headless Chromium renders the report: a 1280 × 2400 PNG that is not blank",
          .enabled(if: ProcessInfo.processInfo.environment["TAKT_SKIP_CHROMIUM"] != "1", "TAKT_SKIP_CHROMIUM=1"))
    func chromiumRenders() async throws {
        _ = try #require(Self.chromium, "chromium is not installed: TAKT_WITH_CHROMIUM=1 scripts/install-deps.sh (or TAKT_SKIP_CHROMIUM=1)")
        let dir = try TempDir()
        defer { dir.remove() }
        let (plant, store) = try await Self.fixture(dir)
        let out = dir.path("report.html")
        let run = try TaktBinaries.run("takt", ["report", "--store", "sqlite:" + store, "--plant", plant, "--site", "demo", "--out", out])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try Self.screenshot(try String(contentsOfFile: out, encoding: .utf8), dir: dir, name: "report")
        let blank = try Self.screenshot("<!DOCTYPE html><html><body></body></html>", dir: dir, name: "blank")
        // The same page with every chart emptied (axes, titles and legends stay).
        var emptied = try await ReportData.load(store: SQLiteRollupStore(path: store, readOnly: true),
                                          plant: Plant.load(yaml: Self.plantYAML, fileName: "plant.yaml"),
                                          from: nil, to: nil, targetGWh: 55)
        emptied.cumulative = []
        emptied.hourly = emptied.hourly.map { ReportData.LineSeries(line: $0.line, points: []) }
        emptied.oee = emptied.oee.map { ReportData.LineOEE(line: $0.line, availability: nil, performance: nil, quality: nil, oee: nil) }
        emptied.bottlenecks = []
        emptied.plan = nil
        let empty = try Self.screenshot(ReportHTML.render(emptied), dir: dir, name: "empty")
        print("report PNG sizes: report \(report.count) B, charts emptied \(empty.count) B, blank page \(blank.count) B")
        let size = try #require(Self.pngSize(report))
        #expect(size.width == 1280 && size.height == 2400)
        #expect(Self.pngSize(blank).map { $0.width == 1280 && $0.height == 2400 } == true)
        #expect(report.count >= Self.minimumReportPNGBytes, "report PNG is \(report.count) bytes")
        #expect(Double(report.count) >= 1.3 * Double(empty.count),
                "report \(report.count) bytes, with its charts emptied \(empty.count): the charts drew too little")
        #expect(report.count > 8 * blank.count, "report \(report.count) bytes, blank page \(blank.count)")
        #expect(Set(report).count == 256)
        if let keep = ProcessInfo.processInfo.environment["TAKT_REPORT_PNG"] {
            try Data(report).write(to: URL(fileURLWithPath: keep))
        }
    }
}

// MARK: - reading the HTML

extension ReportTests {
    /// The attributes of every `<tag …>` whose `class` contains `className`, in document order
    /// (entity references decoded).
    static func elements(_ html: String, _ tag: String, class className: String) -> [[String: String]] {
        let open = try! Regex("<\(tag)\\b([^>]*)>")
        let attribute = try! Regex("([a-zA-Z-]+)=\"([^\"]*)\"")
        var out: [[String: String]] = []
        for match in html.matches(of: open) {
            guard let body = match.output[1].substring else { continue }
            var attrs: [String: String] = [:]
            for a in body.matches(of: attribute) {
                if let k = a.output[1].substring, let v = a.output[2].substring { attrs[String(k)] = unescape(String(v)) }
            }
            if (attrs["class"] ?? "").split(separator: " ").contains(Substring(className)) { out.append(attrs) }
        }
        return out
    }

    static func unescape(_ s: String) -> String {
        s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    static func close(_ text: String?, _ value: Double) -> Bool {
        guard let text, let v = Double(text) else { return false }
        return abs(v - value) <= 1e-9 * max(1, abs(value))
    }

    static func expectClose(_ text: String?, _ value: Double, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(close(text, value), "\(what): \(text ?? "nil") vs \(value)", sourceLocation: sourceLocation)
    }

    /// Everything wrong with `html` against `e`; empty when each of the five parts is there and
    /// carries the expected figures. An empty chart is always a problem.
    static func check(_ html: String, against e: Expected) -> [String] {
        var problems: [String] = []
        func need(_ ok: Bool, _ what: @autoclosure () -> String) { if !ok { problems.append(what()) } }

        // (1) cumulative GWh against the target line.
        let cumulative = elements(html, "polyline", class: "cumulative")
        need(cumulative.count == 1, "one cumulative polyline, found \(cumulative.count)")
        if let c = cumulative.first {
            let points = (c["points"] ?? "").split(separator: " ").count
            need(c["data-points"] == String(hours) && points == hours + 1, "cumulative points: \(c["data-points"] ?? "-") / \(points)")
            need(close(c["data-end-gwh"], e.totalGWh), "cumulative end \(c["data-end-gwh"] ?? "-") ≠ \(e.totalGWh)")
        }
        let target = elements(html, "line", class: "target-line")
        need(target.count == 1 && close(target.first?["data-end-gwh"], e.targetEndGWh),
             "target line end \(target.first?["data-end-gwh"] ?? "-") ≠ \(e.targetEndGWh)")

        // (2) good units per hour, one polyline per line.
        let series = elements(html, "polyline", class: "series")
        need(series.map { $0["data-line"] ?? "" } == ["line-a", "line-b"], "series lines \(series.map { $0["data-line"] ?? "" })")
        for s in series {
            let line = s["data-line"] ?? ""
            let values = (s["data-values"] ?? "").split(separator: " ").compactMap { Double($0) }
            let points = (s["points"] ?? "").split(separator: " ").count
            need(!values.isEmpty && values == e.goodPerHour[line] && points == values.count,
                 "good/h of \(line): \(values.count) values, \(points) points")
        }

        // (3) OEE split per line.
        let groups = elements(html, "g", class: "oee-line")
        need(groups.map { $0["data-line"] ?? "" } == ["line-a", "line-b"], "OEE groups \(groups.map { $0["data-line"] ?? "" })")
        let bars = elements(html, "rect", class: "bar").filter { $0["data-kpi"] != nil }
        need(bars.count == 8, "OEE bars: \(bars.count) of 8")
        for g in groups {
            let line = g["data-line"] ?? ""
            guard let x = e.oee[line] else { continue }
            need(close(g["data-oee"], x.oee), "OEE of \(line): \(g["data-oee"] ?? "-") ≠ \(x.oee)")
            for (kpi, v) in [("availability", x.a), ("performance", x.p), ("quality", x.q), ("oee", x.oee)] {
                let bar = bars.first { $0["data-line"] == line && $0["data-kpi"] == kpi }
                need(close(bar?["data-value"], v) && (Double(bar?["height"] ?? "") ?? 0) > 0,
                     "\(kpi) bar of \(line): \(bar?["data-value"] ?? "missing") ≠ \(v)")
            }
        }

        // (4) bottlenecks, most downtime first.
        let downtime = elements(html, "rect", class: "downtime")
        let expectedOrder = e.downtime.prefix(ReportData.bottleneckLimit)
        need(downtime.count == expectedOrder.count && !downtime.isEmpty, "bottleneck bars: \(downtime.count) of \(expectedOrder.count)")
        for (bar, x) in zip(downtime, expectedOrder) {
            need(bar["data-line"] == x.0 && bar["data-station"] == x.1 && close(bar["data-downtime-s"], x.2)
                    && (Double(bar["width"] ?? "") ?? 0) > 0,
                 "bottleneck \(x.0)/\(x.1) \(x.2) s: found \(bar["data-line"] ?? "-")/\(bar["data-station"] ?? "-") \(bar["data-downtime-s"] ?? "-")")
        }

        // (5) the plan table (lookback 7d covers the 3 days, so its OEE is the range's).
        let planRows = elements(html, "tr", class: "plan-line")
        need(planRows.map { $0["data-line"] ?? "" } == ["line-a", "line-b"], "plan rows \(planRows.map { $0["data-line"] ?? "" })")
        for row in planRows {
            let line = row["data-line"] ?? ""
            need(close(row["data-oee"], e.oee[line]?.oee ?? -1), "plan OEE of \(line): \(row["data-oee"] ?? "-")")
            need(close(row["data-ytd-gwh"], e.ytdGWh[line] ?? -1), "plan YTD of \(line): \(row["data-ytd-gwh"] ?? "-")")
        }
        need(elements(html, "tr", class: "total").count == 1, "plan total row")
        return problems
    }

    /// What would make the page load anything from elsewhere.
    static func selfContainedProblems(_ html: String) -> [String] {
        var problems: [String] = []
        let lower = html.lowercased()
        for needle in ["<script", "<link", "<img", "<iframe", "@import", "url(", "src=", "@font-face"] where lower.contains(needle) {
            problems.append("contains \(needle)")
        }
        let urls = lower.matches(of: try! Regex("(https?:)?//[a-z0-9.-]+")).map { String(lower[$0.range]) }
        for url in urls where url != "http://www.w3.org" { problems.append("refers to \(url)") }
        return problems
    }
}
