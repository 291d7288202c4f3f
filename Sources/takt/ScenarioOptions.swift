import ArgumentParser
import Foundation
import TaktCore
import TaktReport
import TaktStore

/// `--scenario FILE [--runs N] [--seed S] [--horizon D]` of `takt plan` and `takt report`
/// (`docs/planning.md`).
struct ScenarioOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A scenario file (YAML): new lines in phases, ramp-ups, shutdowns, the target and its date.", valueName: "file"))
    var scenario: String?

    @Option(help: ArgumentHelp("Monte Carlo runs of the scenario (1 to 1000000).", valueName: "n"))
    var runs: Int = 10_000

    @Option(help: ArgumentHelp("Seed of the scenario's random draws: the same seed gives the same percentiles.", valueName: "s"))
    var seed: UInt64 = 1

    @Option(help: ArgumentHelp("Days to simulate from the day after the newest data (default: the scenario's horizon_days, else 1095): 1095 or 1095d.", valueName: "days"))
    var horizon: String?

    /// The parsed scenario, `nil` without `--scenario`; the other flags are checked either way.
    func scenario(plant: Plant) throws(UsageError) -> Scenario? {
        guard (1...1_000_000).contains(runs) else {
            throw UsageError(flag: "--runs", "'\(runs)' must be a whole number of runs from 1 to 1000000")
        }
        _ = try horizonDays()
        guard let scenario else { return nil }
        let text: String
        do {
            text = try String(contentsOfFile: scenario, encoding: .utf8)
        } catch {
            throw UsageError(flag: "--scenario", "cannot read '\(scenario)'")
        }
        do {
            return try Scenario.load(yaml: text, fileName: scenario, plant: plant)
        } catch {
            throw UsageError(flag: "--scenario", error.description)
        }
    }

    /// `--horizon` in days; `nil` when not given.
    func horizonDays() throws(UsageError) -> Int? {
        guard let horizon else { return nil }
        let digits = horizon.hasSuffix("d") ? String(horizon.dropLast()) : horizon
        guard let days = Int(digits), (1...36_600).contains(days) else {
            throw UsageError(flag: "--horizon", "'\(horizon)' must be whole days from 1 to 36600, like 1095 or 1095d")
        }
        return days
    }

    /// Runs the scenario against the store's history, and the plan's pace for `year`.
    func outcome(store: any RollupStore, plant: Plant, scenario: Scenario, asOfMs: Int64, year: Int, ytdGWh: Double) async throws
        -> ScenarioOutcome
    {
        let input: ScenarioInput
        let plan: ScenarioPlan
        let model: ScenarioModel
        do {
            input = try await ScenarioInput.load(store: store, plant: plant, scenario: scenario, asOfMs: asOfMs, runs: runs,
                                                 seed: seed, horizonDays: try horizonDays())
            plan = try ScenarioPlanner.plan(input)
            model = try ScenarioModel(input)
        } catch let error as ScenarioError {
            throw ReportFailure(error.description)
        }
        let pace = try await ScenarioPlan.Pace.load(store: store, plant: plant, scenario: scenario, model: model, year: year,
                                                    asOfMs: asOfMs, ytdGWh: ytdGWh)
        return ScenarioOutcome(plan: plan, pace: pace, model: model)
    }
}

/// A simulated scenario with its plan pace.
struct ScenarioOutcome {
    var plan: ScenarioPlan
    var pace: ScenarioPlan.Pace
    var model: ScenarioModel
}
