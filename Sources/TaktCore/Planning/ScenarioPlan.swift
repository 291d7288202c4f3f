/// The result of ``ScenarioPlanner/plan(_:)``: percentiles of a Monte Carlo over the horizon
/// (`docs/planning.md`). Energies are exact `Double`s in GWh; the JSON rounds.
public struct ScenarioPlan: Sendable, Equatable {
    public var start: CivilDay
    public var horizonDays: Int
    public var runs: Int
    public var seed: UInt64
    public var blockDays: Int
    public var lookbackDays: Int
    public var targetGWhPerYear: Double
    public var targetDate: CivilDay
    /// Every line of the scenario, the plant's first.
    public var lines: [LineSummary]
    /// Σ nameplate of every line once all are in service, GWh a year.
    public var nameplateGWhPerYear: Double
    /// The highest 30-day annualised rate any run can reach (every line at full ramp on its best
    /// history day), GWh a year.
    public var ceilingGWhPerYear: Double
    /// The target is above ``ceilingGWhPerYear``: no run can reach it.
    public var impossible: Bool
    /// The first day the 30-day annualised rate reaches the target: P10 (early), P50, P90
    /// (late); `nil`: not within the horizon in that share of runs.
    public var reach: DatePercentiles
    /// Share of runs that reach the target on or before ``targetDate``; `nil` when the target
    /// date is before ``start``.
    public var probabilityByTargetDate: Double?
    /// The 30-day annualised rate on ``targetDate``, GWh a year; `nil` when the date is outside
    /// the horizon.
    public var rateAtTargetDate: Percentiles?
    public var months: [Period]
    public var years: [Period]
    /// At each month's end (or the horizon's last day): cumulative GWh since ``start`` and the
    /// 30-day annualised rate.
    public var fan: [FanPoint]
    /// `+1 line`, `+1 point of OEE`, `−0.1 s of cycle`: the same runs (same seed) redone.
    public var levers: [Lever]
    /// Lines like the `+1 line` lever's to add for the P50 rate on the target date to reach the
    /// target: ⌈(target − P50 rate) / (the lever's P50 rate − P50 rate)⌉, a linear estimate; 0
    /// when the P50 rate already reaches it; `nil` without levers or a rate on the date.
    public var extraLinesNeeded: Int?

    public struct LineSummary: Sendable, Equatable {
        public var line: String
        public var phase: String?
        public var template: String
        public var commissioning: CivilDay?
        /// History days with planned time the bootstrap draws from.
        public var sampleDays: Int
        public var observedOEE: Double?
        /// The mean rate of the history × planned hours a year, GWh (the line at full ramp).
        public var meanGWhPerYear: Double
        public var nameplateGWhPerYear: Double
    }

    public struct Percentiles: Sendable, Equatable {
        public var p10: Double
        public var p50: Double
        public var p90: Double

        public init(p10: Double, p50: Double, p90: Double) {
            self.p10 = p10
            self.p50 = p50
            self.p90 = p90
        }
    }

    public struct DatePercentiles: Sendable, Equatable {
        public var p10: CivilDay?
        public var p50: CivilDay?
        public var p90: CivilDay?

        public init(p10: CivilDay?, p50: CivilDay?, p90: CivilDay?) {
            self.p10 = p10
            self.p50 = p50
            self.p90 = p90
        }
    }

    /// A calendar month or year of the horizon.
    public struct Period: Sendable, Equatable {
        /// `2027-03` or `2027`.
        public var label: String
        /// Simulated days of it within the horizon.
        public var days: Int
        /// Measured energy of the period before ``ScenarioPlan/start`` (the start's year only).
        public var actualGWh: Double
        /// Energy of the period (the actual part included), GWh.
        public var gwh: Percentiles
        /// The plan's energy of the whole period (the target pace), GWh.
        public var planGWh: Double
    }

    public struct FanPoint: Sendable, Equatable {
        /// The day the point ends (inclusive).
        public var day: CivilDay
        /// GWh from ``ScenarioPlan/start`` through ``day``.
        public var cumulativeGWh: Percentiles
        public var annualisedGWh: Percentiles
        /// The plan's energy from ``ScenarioPlan/start`` through ``day``, GWh.
        public var planCumulativeGWh: Double
    }

    public struct Lever: Sendable, Equatable {
        /// `add_line`, `oee_point`, `cycle_cut`.
        public var name: String
        /// In words: `+1 line (phase-3-10 on 2027-07-19)`.
        public var label: String
        public var reachP50: CivilDay?
        /// Days the P50 date moves (negative: earlier); `nil` when either date is not within
        /// the horizon.
        public var deltaDays: Int?
        public var probabilityByTargetDate: Double?
        /// P50 of the 30-day annualised rate on the target date, GWh a year.
        public var rateAtTargetDateP50: Double?
    }
}
