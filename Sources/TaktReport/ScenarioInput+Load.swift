import Foundation
import TaktCore
import TaktStore

extension ScenarioInput {
    /// Reads what the scenario planner draws from (`docs/planning.md`).
    ///
    /// - The first simulated day is the local day after the one that holds the newest data
    ///   (`asOfMs − 1`); the history is each plant line's output-station `1d` rows of the
    ///   ``Scenario/lookbackDays`` local days before the day of the newest data (so a day the
    ///   data ends inside is not drawn, it is only counted as actual energy).
    /// - The actual energy of the start's year: the lines' `1d` rows from its 1 January up to
    ///   the first simulated day.
    ///
    /// - Throws: ``StoreError``; ``ScenarioError/noHistory(site:lookbackDays:)`` when no line
    ///   has a history day.
    public static func load(store: any RollupStore, plant: Plant, scenario: Scenario, asOfMs: Int64, runs: Int, seed: UInt64,
                            horizonDays: Int?, levers: Bool = true) async throws -> ScenarioInput {
        let tz = plant.timeZone
        let lastDataDay = CivilDay(containing: asOfMs - 1, timeZone: tz)
        let start = lastDataDay + 1
        // The first day not wholly before as_of: the day it falls inside, or the next one when
        // it is a local midnight.
        let partial = start.startMs(timeZone: tz) == asOfMs ? start : lastDataDay
        let historyFrom = (partial + (-scenario.lookbackDays)).startMs(timeZone: tz), historyTo = partial.startMs(timeZone: tz)
        let yearFrom = CivilDay(year: start.year, month: 1, day: 1)!.startMs(timeZone: tz)
        let startMs = start.startMs(timeZone: tz)
        var history: [String: [DaySample]] = [:]
        var actual = 0.0
        for line in plant.lines {
            let rows = try await StoreReads.rows(store, site: plant.site, line: line.id, tier: .day, from: historyFrom, to: historyTo)
            history[line.id] = rows.map {
                DaySample(day: CivilDay(containing: $0.start, timeZone: tz), good: $0.good, scrap: $0.scrap,
                          energyKwh: $0.energyKwh, runS: $0.runS, plannedS: $0.plannedS)
            }
            if yearFrom < startMs {
                actual += try await StoreReads.rows(store, site: plant.site, line: line.id, tier: .day, from: yearFrom, to: startMs)
                    .reduce(0) { $0 + $1.energyKwh }
            }
        }
        guard history.values.contains(where: { $0.contains { $0.plannedS > 0 } }) else {
            throw ScenarioError.noHistory(site: plant.site, lookbackDays: scenario.lookbackDays)
        }
        return ScenarioInput(plant: plant, scenario: scenario, start: start, history: history, actualKWhInStartYear: actual,
                             runs: runs, seed: seed, horizonDays: horizonDays, levers: levers)
    }
}

extension ScenarioPlan.Pace {
    /// The plan's target pace for `year` against its measured energy: the plan's energy from
    /// the first instant the store has data in the year (not 1 January: a site that started
    /// reporting in November is compared over what it reported) to `asOfMs`, and the plan's
    /// whole year.
    public static func load(store: any RollupStore, plant: Plant, scenario: Scenario, model: ScenarioModel, year: Int,
                            asOfMs: Int64, ytdGWh: Double) async throws -> ScenarioPlan.Pace {
        let tz = plant.timeZone
        let bounds = CapacityPlanner.yearBounds(year, timeZone: tz)
        let firstData = try await StoreReads.rows(store, site: plant.site, line: nil, tier: .day, from: bounds.start, to: bounds.end)
            .first?.start ?? bounds.start
        let from = max(bounds.start, firstData)
        return ScenarioPlan.Pace(
            year: year, from: CivilDay(containing: from, timeZone: tz),
            planYTDGWh: model.planKWh(fromMs: from, toMs: min(max(asOfMs, from), bounds.end), timeZone: tz, scenario: scenario) / 1e6,
            ytdGWh: ytdGWh,
            planYearGWh: model.planKWh(fromMs: bounds.start, toMs: bounds.end, timeZone: tz, scenario: scenario) / 1e6)
    }
}
