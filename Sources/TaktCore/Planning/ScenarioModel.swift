/// One whole local day of a line's output station: what the scenario planner draws from.
public struct DaySample: Sendable, Equatable {
    public var day: CivilDay
    public var good: Int64
    public var scrap: Int64
    public var energyKwh: Double
    public var runS: Double
    public var plannedS: Double

    public init(day: CivilDay, good: Int64 = 0, scrap: Int64 = 0, energyKwh: Double, runS: Double, plannedS: Double) {
        self.day = day
        self.good = good
        self.scrap = scrap
        self.energyKwh = energyKwh
        self.runS = runS
        self.plannedS = plannedS
    }

    /// kWh per planned hour; `nil` without planned time.
    public var kwhPerPlannedHour: Double? { plannedS > 0 ? energyKwh / (plannedS / 3600) : nil }
}

/// Everything ``ScenarioPlanner/plan(_:)`` needs; the caller reads the store, the plant and the
/// scenario file.
public struct ScenarioInput: Sendable {
    public var plant: Plant
    public var scenario: Scenario
    /// The first simulated day (local): the day after the last day with data.
    public var start: CivilDay
    /// Each plant line's whole local days of the lookback, oldest first, by line id.
    public var history: [String: [DaySample]]
    /// The site's energy in `start`'s calendar year before `start`, kWh (added to that year's
    /// figures).
    public var actualKWhInStartYear: Double
    public var runs: Int
    public var seed: UInt64
    /// Days simulated (the scenario's `horizon_days` unless `--horizon` says otherwise).
    public var horizonDays: Int
    /// Whether to run the lever table (three more simulations).
    public var levers: Bool

    public init(plant: Plant, scenario: Scenario, start: CivilDay, history: [String: [DaySample]],
                actualKWhInStartYear: Double = 0, runs: Int = 10_000, seed: UInt64 = 1, horizonDays: Int? = nil,
                levers: Bool = true) {
        self.plant = plant
        self.scenario = scenario
        self.start = start
        self.history = history
        self.actualKWhInStartYear = actualKWhInStartYear
        self.runs = runs
        self.seed = seed
        self.horizonDays = horizonDays ?? scenario.horizonDays
        self.levers = levers
    }
}

/// A scenario turned into per-line arrays: the lines (the plant's and the phases' new ones),
/// each with the daily rates it draws from and its planned hours per simulated day.
///
/// Built once per variant (the base and each lever); the Monte Carlo only reads it.
public struct ScenarioModel: Sendable {
    /// What a lever changes.
    public struct Variant: Sendable, Equatable {
        /// Lines added to the last phase (or, without phases, copies of the first plant line
        /// running from the first simulated day).
        public var extraLines = 0
        /// Points of OEE added to every line (0.01 is one point).
        public var oeeBoost = 0.0
        /// Seconds taken off every line's ideal cycle.
        public var cycleCutS = 0.0

        public init(extraLines: Int = 0, oeeBoost: Double = 0, cycleCutS: Double = 0) {
            self.extraLines = extraLines
            self.oeeBoost = oeeBoost
            self.cycleCutS = cycleCutS
        }
    }

    public struct Line: Sendable {
        public var id: String
        /// The phase of a new line; `nil` for a plant line.
        public var phase: String?
        /// The plant line whose history is drawn (itself for a plant line).
        public var template: String
        /// The commissioning day of a new line; `nil` for a plant line (in service all along).
        public var commissioning: CivilDay?
        /// kWh per planned hour of each history day with planned time, in day order.
        public var rates: [Double]
        /// Σenergy / Σplanned hours of the history (0 without one).
        public var meanRate: Double
        /// OEE of the history's sums (A × P × Q); `nil` without planned or run time or units.
        public var observedOEE: Double?
        /// 3600 / ideal cycle × unit kWh: kWh per planned hour at OEE 1.
        public var nameplateKWhPerHour: Double
        public var ramp: Scenario.Ramp?
        /// Bootstrap stream: the same line draws the same days in every variant.
        public var stream: Int
        /// Planned hours × ramp factor of each simulated day (0 before commissioning and on
        /// shutdown days).
        public var dayFactor: [Double]
        /// First simulated day with a factor above 0 (`horizon` when none).
        public var firstDay: Int
    }

    public var lines: [Line]
    public var start: CivilDay
    public var horizonDays: Int
    /// Planned hours of a planned day: `planned_hours_per_year / 365`.
    public var plannedHoursPerDay: Double

    /// Builds the model of `input` under `variant`.
    ///
    /// - Throws: ``ScenarioError`` when a template has no history day with planned time.
    public init(_ input: ScenarioInput, variant: Variant = Variant()) throws(ScenarioError) {
        let plant = input.plant
        let scenario = input.scenario
        let hours = plant.plannedHoursPerYear / 365
        start = input.start
        horizonDays = input.horizonDays
        plannedHoursPerDay = hours

        func history(_ plantLine: Plant.Line) -> (rates: [Double], mean: Double, oee: Double?) {
            let days = input.history[plantLine.id] ?? []
            var rates: [Double] = []
            var s = LineSums()
            for d in days {
                guard let r = d.kwhPerPlannedHour else { continue }
                rates.append(r)
                s.good += d.good
                s.scrap += d.scrap
                s.energyKwh += d.energyKwh
                s.runS += d.runS
                s.plannedS += d.plannedS
            }
            let units = s.good + s.scrap
            let a: Double? = s.plannedS > 0 ? s.runS / s.plannedS : nil
            let p: Double? = s.runS > 0 ? min(1, plantLine.idealCycleS * Double(units) / s.runS) : nil
            let q: Double? = units > 0 ? Double(s.good) / Double(units) : nil
            return (rates, s.plannedS > 0 ? s.energyKwh / (s.plannedS / 3600) : 0, KPI.oee(a, p, q))
        }

        func make(id: String, phase: String?, template: Plant.Line, commissioning: CivilDay?, ramp: Scenario.Ramp?,
                  stream: Int) -> Line {
            let h = history(template)
            let ideal = template.idealCycleS
            let speedUp = variant.cycleCutS > 0 && ideal > variant.cycleCutS ? ideal / (ideal - variant.cycleCutS) : 1
            let nameplate = 3600 / (ideal - (speedUp > 1 ? variant.cycleCutS : 0)) * template.unitKWh
            // One point of OEE is 1 % of the line's nameplate kWh per planned hour.
            let boost = variant.oeeBoost * 3600 / ideal * template.unitKWh * speedUp
            let rates = h.rates.map { $0 * speedUp + boost }
            let mean = h.mean * speedUp + (h.rates.isEmpty ? 0 : boost)
            return Line(id: id, phase: phase, template: template.id, commissioning: commissioning, rates: rates,
                        meanRate: mean, observedOEE: h.oee.map { min(1, $0 + variant.oeeBoost) }, nameplateKWhPerHour: nameplate,
                        ramp: ramp, stream: stream, dayFactor: [], firstDay: 0)
        }

        var lines: [Line] = []
        for (i, l) in plant.lines.enumerated() {
            lines.append(make(id: l.id, phase: nil, template: l, commissioning: nil, ramp: nil, stream: i))
        }
        for (p, phase) in scenario.phases.enumerated() {
            guard let template = plant.line(phase.template) else {
                throw ScenarioError.unknownTemplate(template: phase.template)
            }
            let extra = p == scenario.phases.count - 1 ? variant.extraLines : 0
            for i in 0..<(phase.count + extra) {
                lines.append(make(id: phase.lineID(i), phase: phase.name, template: template, commissioning: phase.commissioning(i),
                                  ramp: phase.ramp, stream: 100_000 * (p + 1) + i))
            }
        }
        if scenario.phases.isEmpty, variant.extraLines > 0, let first = plant.lines.first {
            for i in 0..<variant.extraLines {
                lines.append(make(id: "extra-\(i + 1)", phase: nil, template: first, commissioning: input.start, ramp: nil,
                                  stream: 900_000 + i))
            }
        }
        for l in lines where l.commissioning != nil && l.rates.isEmpty {
            throw ScenarioError.templateWithoutHistory(template: l.template, lookbackDays: scenario.lookbackDays)
        }

        for k in lines.indices {
            var factor = [Double](repeating: 0, count: horizonDays)
            var first = horizonDays
            for d in 0..<horizonDays {
                let f = Self.plannedHours(lines[k], day: input.start + d, full: lines[k].observedOEE, scenario: scenario, hours: hours)
                factor[d] = f
                if f > 0, first == horizonDays { first = d }
            }
            lines[k].dayFactor = factor
            lines[k].firstDay = lines[k].rates.isEmpty ? horizonDays : first
        }
        self.lines = lines
    }

    /// Planned hours × ramp factor of `line` on `day`: 0 before its commissioning and on its
    /// shutdown days; the ramp's OEE over `full` (the OEE the ramp ends at) while ramping.
    static func plannedHours(_ line: Line, day: CivilDay, full: Double?, scenario: Scenario, hours: Double) -> Double {
        for s in scenario.shutdowns where day >= s.from && day <= s.to && s.applies(to: line.id, phase: line.phase) {
            return 0
        }
        guard let c = line.commissioning else { return hours }
        guard day >= c else { return 0 }
        guard let ramp = line.ramp, let full, full > 0 else { return hours }
        return hours * ramp.oee(day: day - c, full: full) / full
    }

    /// The plan's energy of `day` (local), kWh: every line at the plan's rate (`plan_oee` ×
    /// nameplate, or its observed rate), ramping up to it from commissioning, 0 on shutdown days.
    /// Any day, past or future: the target pace of `takt report` and `takt plan`.
    public func planKWh(on day: CivilDay, scenario: Scenario) -> Double {
        var kwh = 0.0
        for l in lines {
            let full = scenario.planOEE ?? l.observedOEE
            let rate = scenario.planOEE.map { $0 * l.nameplateKWhPerHour } ?? l.meanRate
            kwh += rate * Self.plannedHours(l, day: day, full: full, scenario: scenario, hours: plannedHoursPerDay)
        }
        return kwh
    }

    /// The highest 30-day annualised rate the model can produce, kWh a year: every line at full
    /// ramp on its best history day at once. A target above it is out of reach in any run.
    public var ceilingKWhPerYear: Double {
        lines.reduce(0) { $0 + ($1.rates.max() ?? 0) } * plannedHoursPerDay * 365
    }

    /// Σ nameplate of every line, GWh a year (planned hours of the plant file).
    public var nameplateGWhPerYear: Double {
        lines.reduce(0) { $0 + $1.nameplateKWhPerHour } * plannedHoursPerDay * 365 / 1e6
    }
}

/// Why a scenario cannot be simulated (a runtime failure for the CLI, exit 1).
public enum ScenarioError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A phase's template has no day with planned time in the lookback: nothing to draw from.
    case templateWithoutHistory(template: String, lookbackDays: Int)
    /// The store has no whole day of data in the lookback.
    case noHistory(site: String, lookbackDays: Int)
    /// A phase's template is not a line of the plant (``Scenario/load(yaml:fileName:plant:)``
    /// rules this out; a scenario built in code may not).
    case unknownTemplate(template: String)

    public var description: String {
        switch self {
        case .templateWithoutHistory(let t, let days):
            return "template line '\(t)' has no whole day with planned time in the \(days)-day lookback: nothing to draw its variability from"
        case .unknownTemplate(let t):
            return "template line '\(t)' is not a line of the plant"
        case .noHistory(let site, let days):
            return "the store holds no whole day of data for site '\(site)' in the \(days)-day lookback"
        }
    }
}
