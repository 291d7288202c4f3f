import Foundation

/// One site as its plant file describes it (contract section 7): the lines, their stations,
/// the nameplate figures `takt plan` needs and the optional simulator parameters.
///
/// Build one with ``Plant/load(yaml:fileName:)``; every value in it has been validated
/// (segment rules for ids, positive cycles, a known time zone, unique ids, an output station
/// that is one of the line's stations).
public struct Plant: Sendable, Equatable {
    /// The site id (`{site}` topic level).
    public var site: String
    /// The site's time zone; `1d` windows follow it.
    public var timeZone: TimeZone
    /// Hours a year the plant plans to produce (`calendar.planned_hours_per_year`).
    public var plannedHoursPerYear: Double
    /// The lines, in file order (never empty).
    public var lines: [Line]

    public init(site: String, timeZone: TimeZone, plannedHoursPerYear: Double, lines: [Line]) {
        self.site = site
        self.timeZone = timeZone
        self.plannedHoursPerYear = plannedHoursPerYear
        self.lines = lines
    }

    /// The line with this id, if the plant has one.
    public func line(_ id: String) -> Line? {
        lines.first { $0.id == id }
    }

    /// One production line.
    public struct Line: Sendable, Equatable {
        /// The line id (`{line}` topic level).
        public var id: String
        /// What the line makes (free text).
        public var product: String
        /// Nameplate pace of the output station, seconds per unit (> 0).
        public var idealCycleS: Double
        /// Nominal energy capacity of one good unit, kWh (≥ 0).
        public var unitKWh: Double
        /// The station whose finished units are the line's output; one of ``stations``.
        public var outputStation: String
        /// The stations in the order a unit passes them (never empty).
        public var stations: [Station]
        /// Simulator parameters; `nil` when the file has no `sim` block.
        public var sim: Simulation?
        /// `alert_oee_below`: the `oee_low` alert's threshold (0 < x ≤ 1); `nil`: no such alert.
        public var alertOEEBelow: Double?

        public init(
            id: String, product: String, idealCycleS: Double, unitKWh: Double,
            outputStation: String, stations: [Station], sim: Simulation? = nil
        ) {
            self.id = id
            self.product = product
            self.idealCycleS = idealCycleS
            self.unitKWh = unitKWh
            self.outputStation = outputStation
            self.stations = stations
            self.sim = sim
        }

        /// Index of ``outputStation`` in ``stations``.
        public var outputStationIndex: Int {
            stations.firstIndex { $0.id == outputStation } ?? (stations.count - 1)
        }

        /// Nameplate output a year: `3600 / ideal_cycle_s × unit_kwh × planned_hours / 1e6` GWh.
        public func nameplateGWhPerYear(plannedHoursPerYear: Double) -> Double {
            3600 / idealCycleS * unitKWh * plannedHoursPerYear / 1e6
        }
    }

    /// One station of a line.
    public struct Station: Sendable, Equatable {
        /// The station id (`{station}` topic level), unique within its line.
        public var id: String
        /// The station's own ideal cycle, seconds per unit (> 0).
        public var cycleS: Double
        /// Where the station reports through a Sparkplug B edge node (contract section 9);
        /// `nil`: not through Sparkplug.
        public var sparkplug: SparkplugBinding?
        /// The UMH asset topic prefix `ia/{customer}/{location}/{asset}` (contract section 10);
        /// `nil`: not through UMH.
        public var umh: String?

        public init(id: String, cycleS: Double, sparkplug: SparkplugBinding? = nil, umh: String? = nil) {
            self.id = id
            self.cycleS = cycleS
            self.sparkplug = sparkplug
            self.umh = umh
        }
    }

    /// The `sim` block of a line: only `takt-sim` reads it. Every key is optional; the
    /// defaults are the values of ``Simulation/init()``.
    public struct Simulation: Sendable, Equatable {
        /// Relative standard deviation of a cycle time (0 ≤ x < 1); default 0.
        public var cycleJitter: Double
        /// Probability that a station scraps the unit it just finished (0 ≤ x ≤ 1); default 0.
        public var scrapRate: Double
        /// Mean time between failures of each station, hours; 0 means no breakdowns (default).
        public var mtbfHours: Double
        /// Mean time to repair, minutes (> 0); default 10.
        public var mttrMinutes: Double
        /// Relative standard deviation of the measured kWh of a good unit (0 ≤ x < 1); default 0.
        public var energySigma: Double

        public init(
            cycleJitter: Double = 0, scrapRate: Double = 0, mtbfHours: Double = 0,
            mttrMinutes: Double = 10, energySigma: Double = 0
        ) {
            self.cycleJitter = cycleJitter
            self.scrapRate = scrapRate
            self.mtbfHours = mtbfHours
            self.mttrMinutes = mttrMinutes
            self.energySigma = energySigma
        }
    }
}
