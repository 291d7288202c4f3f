import Foundation
import TaktCore
import TaktStore

/// Everything the HTML report shows, read from a store: the figures of its five parts, exact
/// (nothing rounded; the renderer rounds for the labels and writes the exact values into
/// `data-` attributes).
///
/// Build one with ``load(store:plant:from:to:targetGWh:)``; tests may build one by hand and
/// hand it to ``ReportHTML/render(_:)``.
public struct ReportData: Sendable, Equatable {
    public var site: String
    /// The site's time zone: axis labels are local times.
    public var timeZone: TimeZone
    /// First window start of the range, epoch ms (inclusive).
    public var from: Int64
    /// End of the range, epoch ms (exclusive): the windows shown start in `[from, to)`.
    public var to: Int64
    /// The yearly target, GWh.
    public var targetGWh: Double
    /// Length of the calendar year (site time zone) that contains ``from``, ms: the target
    /// line rises at `targetGWh / yearMs` (365 or 366 days).
    public var yearMs: Int64
    /// Cumulative site energy at the end of each `1h` window, ascending.
    public var cumulative: [CumulativePoint]
    /// Each line's `1h` output, in plant-file order (a line without rows has no points).
    public var hourly: [LineSeries]
    /// Each line's OEE over the range, from the sums of its output-station `1h` rows, in
    /// plant-file order.
    public var oee: [LineOEE]
    /// The stations with the most downtime over the range, most first (ties: line, station);
    /// at most ``ReportData/bottleneckLimit``, only stations with downtime > 0.
    public var bottlenecks: [StationDowntime]
    /// The capacity plan table (the fifth part); `nil` when there is none to show.
    public var plan: CapacityPlan?
    /// `--scenario`: the fan charts, the lever table and the scenario's target pace.
    public var scenario: ScenarioSection?

    /// Most stations the bottleneck chart shows.
    public static let bottleneckLimit = 10

    public init(site: String, timeZone: TimeZone, from: Int64, to: Int64, targetGWh: Double, yearMs: Int64,
                cumulative: [CumulativePoint], hourly: [LineSeries], oee: [LineOEE],
                bottlenecks: [StationDowntime], plan: CapacityPlan?, scenario: ScenarioSection? = nil) {
        self.site = site
        self.timeZone = timeZone
        self.from = from
        self.to = to
        self.targetGWh = targetGWh
        self.yearMs = yearMs
        self.cumulative = cumulative
        self.hourly = hourly
        self.oee = oee
        self.bottlenecks = bottlenecks
        self.plan = plan
        self.scenario = scenario
    }

    /// Site energy over the range, GWh (the end of the cumulative curve).
    public var totalGWh: Double { cumulative.last?.gwh ?? 0 }

    /// Where the target line is at `t` (epoch ms): `target × (t − from) / yearMs`, GWh.
    public func targetGWh(at t: Int64) -> Double {
        targetGWh * Double(t - from) / Double(yearMs)
    }

    /// The target pace over the whole range, GWh: the scenario's plan when there is one (what
    /// the plant should have made given its lines, phases and ramps), else the yearly target
    /// prorated (``targetGWh(at:)``).
    public var paceEndGWh: Double { scenario?.paceEndGWh ?? targetGWh(at: to) }

    /// One point of the cumulative curve.
    public struct CumulativePoint: Sendable, Equatable {
        /// End of the window, epoch ms.
        public var t: Int64
        /// Site energy from ``ReportData/from`` to `t`, GWh.
        public var gwh: Double

        public init(t: Int64, gwh: Double) {
            self.t = t
            self.gwh = gwh
        }
    }

    /// One line's `good_per_hour` per `1h` window.
    public struct LineSeries: Sendable, Equatable {
        public var line: String
        /// `(window start, good_per_hour)`, ascending by start.
        public var points: [HourPoint]

        public init(line: String, points: [HourPoint]) {
            self.line = line
            self.points = points
        }
    }

    public struct HourPoint: Sendable, Equatable {
        /// Window start, epoch ms.
        public var start: Int64
        public var goodPerHour: Double

        public init(start: Int64, goodPerHour: Double) {
            self.start = start
            self.goodPerHour = goodPerHour
        }
    }

    /// A line's OEE over the range: `A = Σrun / Σplanned`, `P = min(1, ideal × Σ(good+scrap) / Σrun)`,
    /// `Q = Σgood / Σ(good+scrap)`, `OEE = A × P × Q`; `nil` where a denominator is 0.
    public struct LineOEE: Sendable, Equatable {
        public var line: String
        public var availability: Double?
        public var performance: Double?
        public var quality: Double?
        public var oee: Double?

        public init(line: String, availability: Double?, performance: Double?, quality: Double?, oee: Double?) {
            self.line = line
            self.availability = availability
            self.performance = performance
            self.quality = quality
            self.oee = oee
        }
    }

    /// One station's downtime over the range.
    public struct StationDowntime: Sendable, Equatable {
        public var line: String
        public var station: String
        /// `Σ(planned_s − run_s)` of the station's `1h` rows, seconds.
        public var downtimeS: Double
        /// `Σplanned_s`, seconds.
        public var plannedS: Double

        public init(line: String, station: String, downtimeS: Double, plannedS: Double) {
            self.line = line
            self.station = station
            self.downtimeS = downtimeS
            self.plannedS = plannedS
        }
    }
}

extension ReportData {
    /// Why a report cannot be made (a runtime failure for the CLI).
    public enum LoadError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The site has no `1h` rows in the range.
        case noData(site: String, from: Int64?, to: Int64?)

        public var description: String {
            switch self {
            case .noData(let site, nil, nil): return "the store holds no 1h rows for site '\(site)'"
            case .noData(let site, let from, let to):
                return "the store holds no 1h rows for site '\(site)' in [\(from.map(String.init) ?? "start"), \(to.map(String.init) ?? "end"))"
            }
        }
    }

    /// Reads the report's figures from `store`.
    ///
    /// - Parameters:
    ///   - from, to: the windows that start in `[from, to)`; `nil` is the whole stored data of
    ///     the site (from its oldest `1h` window to the end of its newest).
    ///   - planLookbackMs: the lookback of the plan table, ms (`takt plan`'s default 7 days); it
    ///     ends at the end of the range, and its year to date is that of the year of the range's
    ///     end, up to the range's end (``CapacityPlanInput/load(store:plant:targetGWh:asOfMs:year:lookback:lookbackMs:ytdEnd:whatIf:)``).
    /// - Throws: ``StoreError``, or ``LoadError/noData(site:from:to:)`` when the range is empty.
    /// - Complexity: one query for the lines' rows, one per station of the plant file.
    public static func load(store: any RollupStore, plant: Plant, from: Int64?, to: Int64?,
                            targetGWh: Double, planLookback: String = "7d", planLookbackMs: Int64 = 7 * 86_400_000) async throws -> ReportData {
        let site = plant.site
        let end: Int64?
        if let to { end = to } else { end = try await StoreReads.newestDataEnd(store, site: site) }
        guard let upper = end else { throw LoadError.noData(site: site, from: from, to: to) }
        let rows = try await StoreReads.rows(store, site: site, line: nil, tier: .hour, from: from ?? 0, to: upper)
        guard let first = rows.first else { throw LoadError.noData(site: site, from: from, to: to) }
        let lower = from ?? first.start

        // (1) cumulative site energy, at each window's end.
        var cumulative: [CumulativePoint] = []
        var kwh = 0.0
        for r in rows where r.line == OutboundTopic.siteLine {
            kwh += r.energyKwh
            cumulative.append(CumulativePoint(t: r.end, gwh: kwh / 1e6))
        }

        // (2) and (3): per line, in plant order.
        var byLine: [String: [WindowRow]] = [:]
        for r in rows where r.line != OutboundTopic.siteLine { byLine[r.line, default: []].append(r) }
        var hourly: [LineSeries] = []
        var oee: [LineOEE] = []
        for line in plant.lines {
            let lineRows = byLine[line.id] ?? []
            hourly.append(LineSeries(line: line.id, points: lineRows.map { HourPoint(start: $0.start, goodPerHour: $0.goodPerHour) }))
            oee.append(lineOEE(line: line, rows: lineRows))
        }

        // (4) downtime per station.
        var downtimes: [StationDowntime] = []
        for line in plant.lines {
            for station in line.stations {
                let stationRows = try await StoreReads.rows(store, site: site, line: line.id, station: station.id, tier: .hour,
                                                            from: lower, to: upper)
                var planned = 0.0, run = 0.0
                for r in stationRows {
                    planned += r.plannedS
                    run += r.runS
                }
                if planned - run > 0 {
                    downtimes.append(StationDowntime(line: line.id, station: station.id, downtimeS: planned - run, plannedS: planned))
                }
            }
        }
        downtimes.sort {
            ($0.downtimeS, $1.line, $1.station) > ($1.downtimeS, $0.line, $0.station)
        }

        // (5) the plan, as of the end of the range.
        let planInput = try await CapacityPlanInput.load(store: store, plant: plant, targetGWh: targetGWh, asOfMs: upper, year: nil,
                                                         lookback: planLookback, lookbackMs: planLookbackMs, ytdEnd: .asOf)
        let plan = CapacityPlanner.plan(planInput)

        let year = CapacityPlanner.yearBounds(CapacityPlanner.year(containing: lower, timeZone: plant.timeZone),
                                              timeZone: plant.timeZone)
        return ReportData(
            site: site, timeZone: plant.timeZone, from: lower, to: upper, targetGWh: targetGWh,
            yearMs: year.lengthMs,
            cumulative: cumulative, hourly: hourly, oee: oee,
            bottlenecks: Array(downtimes.prefix(bottleneckLimit)), plan: plan)
    }

    /// A line's OEE from the sums of its rows (run and planned time summed in ms, as the store
    /// keeps them).
    static func lineOEE(line: Plant.Line, rows: [WindowRow]) -> LineOEE {
        var runMs: Int64 = 0, plannedMs: Int64 = 0, good: Int64 = 0, scrap: Int64 = 0
        for r in rows {
            runMs += Int64((r.runS * 1000).rounded())
            plannedMs += Int64((r.plannedS * 1000).rounded())
            good += r.good
            scrap += r.scrap
        }
        let a = KPI.availability(runMs: runMs, plannedMs: plannedMs)
        let p = KPI.performance(idealCycleS: line.idealCycleS, units: good + scrap, runMs: runMs)
        let q = KPI.quality(good: good, scrap: scrap)
        return LineOEE(line: line.id, availability: a, performance: p, quality: q, oee: KPI.oee(a, p, q))
    }
}
