/// A capacity scenario (`takt plan --scenario FILE`, `docs/planning.md`): new lines in phases,
/// their ramp-up, planned shutdowns, and the target with its date.
///
/// Built by ``load(yaml:fileName:plant:)``, which checks it against the plant file, so every
/// template and shutdown line named here exists.
public struct Scenario: Sendable, Equatable {
    /// The plant file's site.
    public var site: String
    /// The yearly rate to reach, GWh a year (> 0).
    public var targetGWhPerYear: Double
    /// The date the rate was promised for (site's local date).
    public var targetDate: CivilDay
    /// Days of history the variability is drawn from (whole local days before the newest data).
    public var lookbackDays: Int
    /// Days simulated from the first day after the newest data.
    public var horizonDays: Int
    /// Length of the bootstrap's blocks, days: consecutive days are drawn together.
    public var blockDays: Int
    /// The OEE the plan expects of a line at full ramp (the target pace); `nil`: each line's
    /// (or template's) observed rate over the lookback.
    public var planOEE: Double?
    public var phases: [Phase]
    public var shutdowns: [Shutdown]

    public static let defaultLookbackDays = 28
    public static let defaultHorizonDays = 1095
    public static let defaultBlockDays = 7

    public init(site: String, targetGWhPerYear: Double, targetDate: CivilDay, lookbackDays: Int = defaultLookbackDays,
                horizonDays: Int = defaultHorizonDays, blockDays: Int = defaultBlockDays, planOEE: Double? = nil,
                phases: [Phase] = [], shutdowns: [Shutdown] = []) {
        self.site = site
        self.targetGWhPerYear = targetGWhPerYear
        self.targetDate = targetDate
        self.lookbackDays = lookbackDays
        self.horizonDays = horizonDays
        self.blockDays = blockDays
        self.planOEE = planOEE
        self.phases = phases
        self.shutdowns = shutdowns
    }

    /// `count` new lines like the plant's line `template`, the first commissioned on
    /// `firstCommissioning`, each next one `staggerDays` later, each ramping up per `ramp`.
    public struct Phase: Sendable, Equatable {
        public var name: String
        public var template: String
        public var count: Int
        public var firstCommissioning: CivilDay
        public var staggerDays: Int
        public var ramp: Ramp

        public init(name: String, template: String, count: Int, firstCommissioning: CivilDay, staggerDays: Int, ramp: Ramp) {
            self.name = name
            self.template = template
            self.count = count
            self.firstCommissioning = firstCommissioning
            self.staggerDays = staggerDays
            self.ramp = ramp
        }

        /// The commissioning day of the phase's line `index` (0-based).
        public func commissioning(_ index: Int) -> CivilDay { firstCommissioning + index * staggerDays }

        /// The id of the phase's line `index` (0-based): `phase-3-01`.
        public func lineID(_ index: Int) -> String {
            let n = String(index + 1)
            return name + "-" + (n.count < 2 ? "0" + n : n)
        }
    }

    /// How a new line's OEE rises from its commissioning day.
    public struct Ramp: Sendable, Equatable {
        public enum Shape: String, Sendable, Equatable, CaseIterable {
            /// `start + (full − start) × x`.
            case linear
            /// `start + (full − start) × (3x² − 2x³)` (smoothstep): slow, fast, slow.
            case sCurve = "s-curve"
        }

        public var shape: Shape
        /// Days from commissioning to full OEE (0: full from the first day).
        public var days: Int
        /// OEE on the commissioning day (0…1).
        public var startOEE: Double

        public init(shape: Shape, days: Int, startOEE: Double) {
            self.shape = shape
            self.days = days
            self.startOEE = startOEE
        }

        /// The line's OEE on day `k` after commissioning (k = 0 is the commissioning day), for a
        /// line whose full OEE is `full`; `start` is capped at `full`.
        @inlinable
        public func oee(day k: Int, full: Double) -> Double {
            let start = min(startOEE, full)
            guard days > 0, k < days else { return full }
            let x = Double(max(0, k)) / Double(days)
            let s = shape == .linear ? x : x * x * (3 - 2 * x)
            return start + (full - start) * s
        }
    }

    /// Days on which lines produce nothing (inclusive range of local dates).
    public struct Shutdown: Sendable, Equatable {
        public var name: String
        public var from: CivilDay
        public var to: CivilDay
        /// Plant line ids and phase names; `nil` is every line, new ones included.
        public var lines: [String]?

        public init(name: String, from: CivilDay, to: CivilDay, lines: [String]? = nil) {
            self.name = name
            self.from = from
            self.to = to
            self.lines = lines
        }

        /// Whether the shutdown stops line `lineID` (of phase `phase`, `nil` for a plant line).
        public func applies(to lineID: String, phase: String?) -> Bool {
            guard let lines else { return true }
            return lines.contains(lineID) || (phase.map { lines.contains($0) } ?? false)
        }
    }
}
