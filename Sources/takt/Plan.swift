import ArgumentParser
import Foundation
import TaktCore
import TaktReport
import TaktStore

/// `--format` of `takt plan`.
enum PlanFormat: String, CaseIterable, ExpressibleByArgument {
    case table, json
}

extension Takt {
    /// `takt plan`: capacity planning against a yearly target (contract section 6,
    /// `docs/planning.md`). The maths is ``CapacityPlanner`` in TaktCore; this reads the plant
    /// file and the store and prints.
    struct Plan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Plans capacity against a yearly energy target (GWh).",
            discussion: """
                The lookback ends at the site's newest data (the end of its newest 1h window); \
                OEE and the projection come from the line output-station 1h rows that start in \
                it, year-to-date energy from the 1d rows of --year. What-ifs: --add-lines N \
                (N more lines like the average one), --oee X (every line at this OEE), --cycle-s \
                X (every line at this ideal cycle). See docs/planning.md.
                """)

        @OptionGroup var storeOptions: StoreOptions

        @Option(help: ArgumentHelp("The site's plant file (YAML).", valueName: "file"))
        var plant: String

        @Option(help: ArgumentHelp("Site id (the plant file's site).", valueName: "site"))
        var site: String

        @Option(name: .customLong("target-gwh"), help: ArgumentHelp("Energy target for the year, GWh (> 0); with --scenario, the scenario's target by default.", valueName: "gwh"))
        var targetGWh: Double?

        @Option(help: ArgumentHelp("Year of the year-to-date figures (default: the year of the newest data, site time zone).", valueName: "yyyy"))
        var year: Int?

        @Option(help: ArgumentHelp("How far back OEE and the projection look, from the newest data.", valueName: "duration"))
        var lookback: String = "7d"

        @Option(help: ArgumentHelp("Output format.", valueName: "table|json"))
        var format: PlanFormat = .table

        @Option(name: .customLong("add-lines"), help: ArgumentHelp("What-if: N more lines like the average one.", valueName: "n"))
        var addLines: Int = 0

        @Option(name: .customLong("oee"), help: ArgumentHelp("What-if: every line runs at this OEE (0 < x ≤ 1).", valueName: "x"))
        var oee: Double?

        @Option(name: .customLong("cycle-s"), help: ArgumentHelp("What-if: every line's ideal cycle, seconds (> 0).", valueName: "x"))
        var cycleS: Double?

        @OptionGroup var scenarioOptions: ScenarioOptions

        /// The checked flags and the plant.
        func checked() throws(UsageError) -> (url: StoreURL, plant: Plant, lookbackMs: Int64, whatIf: CapacityPlan.WhatIf,
                                              target: Double, scenario: Scenario?) {
            let url = try storeOptions.url()
            if let targetGWh, !(targetGWh.isFinite && targetGWh > 0) {
                throw UsageError(flag: "--target-gwh", "'\(targetGWh)' must be a number of GWh above 0")
            }
            if let year, !(1970...9999).contains(year) {
                throw UsageError(flag: "--year", "'\(year)' is not a year between 1970 and 9999")
            }
            let lookbackMs = try TimeFlags.durationMs(lookback, flag: "--lookback")
            guard (0...100_000).contains(addLines) else {
                throw UsageError(flag: "--add-lines", "'\(addLines)' must be a whole number of lines from 0 to 100000")
            }
            if let oee, !(oee.isFinite && oee > 0 && oee <= 1) {
                throw UsageError(flag: "--oee", "'\(oee)' must be an OEE above 0 and at most 1 (0.85 is 85%)")
            }
            if let cycleS, !(cycleS.isFinite && cycleS > 0) {
                throw UsageError(flag: "--cycle-s", "'\(cycleS)' must be an ideal cycle in seconds above 0")
            }
            let parsed = try PlantFlag.load(plant, site: site)
            var scenario = try scenarioOptions.scenario(plant: parsed)
            // --target-gwh with a scenario: the planner's "what about X?" replaces the file's target.
            if let targetGWh { scenario?.targetGWhPerYear = targetGWh }
            guard let target = targetGWh ?? scenario?.targetGWhPerYear else {
                throw UsageError(flag: "--target-gwh", "is required without --scenario")
            }
            return (url, parsed, lookbackMs, CapacityPlan.WhatIf(addLines: addLines, oee: oee, cycleS: cycleS), target, scenario)
        }

        func run() async throws {
            let (url, plant, lookbackMs, whatIf, target, scenario) = try checked()
            let store = try await url.open(readOnly: true)
            let asOf = try await StoreReads.newestDataEnd(store, site: site)
            let plan = CapacityPlanner.plan(try await CapacityPlanInput.load(
                store: store, plant: plant, targetGWh: target, asOfMs: asOf, year: year,
                lookback: lookback, lookbackMs: lookbackMs, ytdEnd: .wholeYear, whatIf: whatIf))
            var outcome: ScenarioOutcome?
            if let scenario {
                guard let asOf else { throw ReportFailure("the store holds no data for site '\(site)': a scenario needs a history to draw from") }
                outcome = try await scenarioOptions.outcome(store: store, plant: plant, scenario: scenario, asOfMs: asOf,
                                                            year: plan.year, ytdGWh: plan.siteTotal.ytdGWh)
            }
            let text: String
            switch format {
            case .json:
                if let outcome {
                    text = String(plan.json.dropLast()) + ",\"scenario\":" + outcome.plan.json(pace: outcome.pace) + "}\n"
                } else {
                    text = plan.json + "\n"
                }
            case .table:
                text = PlanTable.render(plan) + (outcome.map { "\n" + ScenarioTable.render($0.plan, pace: $0.pace) } ?? "")
            }
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}
