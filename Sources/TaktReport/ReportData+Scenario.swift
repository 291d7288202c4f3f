import Foundation
import TaktCore
import TaktStore

extension ReportData {
    /// `takt report --scenario`: the simulated scenario, its target pace over the report's
    /// range, and the measured 30-day rate (`docs/report.md`, `docs/planning.md`).
    public struct ScenarioSection: Sendable, Equatable {
        public var plan: ScenarioPlan
        /// First instant of the first simulated day, epoch ms.
        public var startMs: Int64
        /// The plan's energy from the range start at each local midnight inside the range and at
        /// its end, GWh: the target pace line.
        public var pace: [CumulativePoint]
        /// The measured 30-day rate at the end of each local day of the range (and at its end),
        /// GWh a year: site energy of the trailing 30 days (or since the range start, when
        /// shorter) ÷ the planned hours of the average line in them × planned hours a year.
        public var annualised: [CumulativePoint]

        public init(plan: ScenarioPlan, startMs: Int64, pace: [CumulativePoint], annualised: [CumulativePoint]) {
            self.plan = plan
            self.startMs = startMs
            self.pace = pace
            self.annualised = annualised
        }

        /// The plan's energy over the whole range, GWh.
        public var paceEndGWh: Double { pace.last?.gwh ?? 0 }
    }

    /// Adds the scenario part: simulates `scenario` from the end of the range (its newest data)
    /// and works out the pace and the measured 30-day rate over the range.
    ///
    /// - Throws: ``StoreError``, ``ScenarioError``.
    public func withScenario(store: any RollupStore, plant: Plant, scenario: Scenario, runs: Int, seed: UInt64,
                             horizonDays: Int?) async throws -> ReportData {
        let tz = plant.timeZone
        let input = try await ScenarioInput.load(store: store, plant: plant, scenario: scenario, asOfMs: to, runs: runs, seed: seed,
                                                 horizonDays: horizonDays)
        let plan = try ScenarioPlanner.plan(input)
        let model = try ScenarioModel(input)

        // Day boundaries inside the range, and its end.
        var marks: [Int64] = []
        var day = CivilDay(containing: from, timeZone: tz) + 1
        while true {
            let t = day.startMs(timeZone: tz)
            guard t < to else { break }
            marks.append(t)
            day = day + 1
        }
        marks.append(to)
        var pace: [CumulativePoint] = []
        var planKWh = 0.0
        var last = from
        for t in marks {
            planKWh += model.planKWh(fromMs: last, toMs: t, timeZone: tz, scenario: scenario)
            pace.append(CumulativePoint(t: t, gwh: planKWh / 1e6))
            last = t
        }

        // The measured 30-day rate from the _site hours.
        let rows = try await StoreReads.rows(store, site: plant.site, line: OutboundTopic.siteLine, tier: .hour, from: from, to: to)
        var ends: [Int64] = [], energy: [Double] = [], planned: [Double] = []
        var e = 0.0, p = 0.0
        for r in rows {
            e += r.energyKwh
            p += r.plannedS
            ends.append(r.end)
            energy.append(e)
            planned.append(p)
        }
        let lines = Double(max(1, plant.lines.count))
        var annualised: [CumulativePoint] = []
        var k = 0, lo = 0
        for t in marks {
            while k < ends.count, ends[k] <= t { k += 1 }
            guard k > 0 else { continue }
            let windowStart = t - 30 * 86_400_000
            while lo < k, ends[lo] <= windowStart { lo += 1 }
            let baseE = lo > 0 ? energy[lo - 1] : 0, baseP = lo > 0 ? planned[lo - 1] : 0
            let hours = (planned[k - 1] - baseP) / 3600 / lines
            guard hours > 0 else { continue }
            annualised.append(CumulativePoint(t: t, gwh: (energy[k - 1] - baseE) / hours * plant.plannedHoursPerYear / 1e6))
        }
        var copy = self
        copy.scenario = ScenarioSection(plan: plan, startMs: input.start.startMs(timeZone: tz), pace: pace, annualised: annualised)
        return copy
    }
}
