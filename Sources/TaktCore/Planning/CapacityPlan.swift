/// The result of ``CapacityPlanner/plan(_:)``: what `takt plan` prints (contract section 6).
///
/// Every figure is the exact `Double` of the maths in `docs/planning.md`; the JSON writer
/// rounds (GWh and ratios to 6 decimals). `nil` is "unknown" (a ratio whose denominator is 0,
/// or a figure that needs data the store does not have).
public struct CapacityPlan: Sendable, Equatable {
    public var site: String
    /// The calendar year the year-to-date figures and the target date are about.
    public var year: Int
    public var targetGWh: Double
    /// The `--lookback` flag as given (`7d`).
    public var lookback: String
    /// End of the lookback: end of the site's newest `1h` window, epoch ms; `nil` when the
    /// store holds no data for the site.
    public var asOfMs: Int64?
    /// One entry per line of the plant file, in file order (added what-if lines are not here;
    /// they are in ``SiteTotal``).
    public var lines: [LinePlan]
    public var siteTotal: SiteTotal
    /// The local date (`YYYY-MM-DD`, site time zone) on which the year, run at the lookback's pace from `as_of`, reaches the
    /// target; `nil` when it does not within ``year`` (or there is no pace).
    public var targetDate: String?
    /// The assumptions the figures were computed under.
    public var whatIf: WhatIf

    public init(site: String, year: Int, targetGWh: Double, lookback: String, asOfMs: Int64?,
                lines: [LinePlan], siteTotal: SiteTotal, targetDate: String?, whatIf: WhatIf) {
        self.site = site
        self.year = year
        self.targetGWh = targetGWh
        self.lookback = lookback
        self.asOfMs = asOfMs
        self.lines = lines
        self.siteTotal = siteTotal
        self.targetDate = targetDate
        self.whatIf = whatIf
    }

    /// One line's figures.
    public struct LinePlan: Sendable, Equatable {
        public var line: String
        /// `3600 / ideal_cycle_s × unit_kwh × planned_hours_per_year / 1e6` (with `--cycle-s`,
        /// that cycle instead of the plant file's).
        public var nameplateGWhPerYear: Double
        /// Measured over the lookback (never changed by a what-if); `nil` when a denominator is 0.
        public var oee: Double?
        public var availability: Double?
        public var performance: Double?
        public var quality: Double?
        /// GWh a year at the lookback's energy per planned hour (or the what-if's); `nil`
        /// without planned time in the lookback.
        public var projectedGWhPerYear: Double?
        /// The line's energy in ``CapacityPlan/year`` so far, GWh.
        public var ytdGWh: Double
        /// Measured kWh per good unit over the lookback; the plant file's `unit_kwh` when the
        /// lookback has no good unit.
        public var kwhPerUnit: Double
        /// Whether ``kwhPerUnit`` was measured (false: taken from the plant file).
        public var kwhPerUnitMeasured: Bool

        public init(line: String, nameplateGWhPerYear: Double, oee: Double?, availability: Double?,
                    performance: Double?, quality: Double?, projectedGWhPerYear: Double?, ytdGWh: Double,
                    kwhPerUnit: Double, kwhPerUnitMeasured: Bool) {
            self.line = line
            self.nameplateGWhPerYear = nameplateGWhPerYear
            self.oee = oee
            self.availability = availability
            self.performance = performance
            self.quality = quality
            self.projectedGWhPerYear = projectedGWhPerYear
            self.ytdGWh = ytdGWh
            self.kwhPerUnit = kwhPerUnit
            self.kwhPerUnitMeasured = kwhPerUnitMeasured
        }
    }

    /// The site's figures, against the target.
    public struct SiteTotal: Sendable, Equatable {
        /// Σ lines' nameplate, plus `--add-lines` average lines.
        public var nameplateGWhPerYear: Double
        /// Σ projections of the lines that have one, plus `--add-lines` average lines; `nil`
        /// when no line has one.
        public var projectedGWhPerYear: Double?
        public var ytdGWh: Double
        /// `max(0, target − projected)`; `nil` when projected is `nil`.
        public var gapGWh: Double?
        /// `ceil(target / average projected line)`; `nil` when the average line projects 0 or
        /// nothing.
        public var linesNeeded: Int?
        /// `target / nameplate total`; `nil` when the nameplate total is 0.
        public var oeeNeeded: Double?
        /// Lines the totals count: the plant file's plus `--add-lines`.
        public var lineCount: Int
        /// The year-to-date pace extrapolated to the whole year, GWh; `nil` without elapsed time.
        public var ytdPaceGWhPerYear: Double?

        public init(nameplateGWhPerYear: Double, projectedGWhPerYear: Double?, ytdGWh: Double, gapGWh: Double?,
                    linesNeeded: Int?, oeeNeeded: Double?, lineCount: Int, ytdPaceGWhPerYear: Double?) {
            self.nameplateGWhPerYear = nameplateGWhPerYear
            self.projectedGWhPerYear = projectedGWhPerYear
            self.ytdGWh = ytdGWh
            self.gapGWh = gapGWh
            self.linesNeeded = linesNeeded
            self.oeeNeeded = oeeNeeded
            self.lineCount = lineCount
            self.ytdPaceGWhPerYear = ytdPaceGWhPerYear
        }
    }

    /// The what-if flags of `takt plan`; all absent is "as measured".
    public struct WhatIf: Sendable, Equatable {
        /// `--add-lines N`: N more lines like the average one (≥ 0).
        public var addLines: Int
        /// `--oee X`: every line runs at this OEE (0 < X ≤ 1).
        public var oee: Double?
        /// `--cycle-s X`: every line's ideal cycle is this, seconds (> 0).
        public var cycleS: Double?

        public init(addLines: Int = 0, oee: Double? = nil, cycleS: Double? = nil) {
            self.addLines = addLines
            self.oee = oee
            self.cycleS = cycleS
        }

        public var isEmpty: Bool { addLines == 0 && oee == nil && cycleS == nil }
    }
}

/// Sums of a line's output-station rows over the lookback: what the planner needs of them.
public struct LineSums: Sendable, Equatable {
    public var good: Int64
    public var scrap: Int64
    public var energyKwh: Double
    /// Seconds in running states.
    public var runS: Double
    /// Seconds in planned states.
    public var plannedS: Double

    public init(good: Int64 = 0, scrap: Int64 = 0, energyKwh: Double = 0, runS: Double = 0, plannedS: Double = 0) {
        self.good = good
        self.scrap = scrap
        self.energyKwh = energyKwh
        self.runS = runS
        self.plannedS = plannedS
    }

    /// Adds one window row.
    public mutating func add(_ row: WindowRow) {
        good += row.good
        scrap += row.scrap
        energyKwh += row.energyKwh
        runS += row.runS
        plannedS += row.plannedS
    }
}
