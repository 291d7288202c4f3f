import ArgumentParser
import Foundation
import TaktCore
import TaktReport
import TaktStore

extension Takt {
    /// `takt report`: one self-contained HTML file with the site's charts and plan table. The
    /// figures are ``ReportData`` and the page ``ReportHTML`` (TaktReport); this reads the flags
    /// and writes the file.
    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Writes an HTML report: energy vs. target, good units per hour, OEE, bottlenecks, plan.",
            discussion: """
                One self-contained HTML file (inline CSS and SVG; no scripts, fonts or images \
                from elsewhere). The range is the 1h windows that start in [--from, --to); \
                default: all the site's stored data. The plan table is takt plan's, with a 7d \
                lookback ending at the end of the range. See docs/report.md.
                """)

        @OptionGroup var storeOptions: StoreOptions

        @Option(help: ArgumentHelp("The site's plant file (YAML).", valueName: "file"))
        var plant: String

        @Option(help: ArgumentHelp("Site id (the plant file's site).", valueName: "site"))
        var site: String

        @Option(help: ArgumentHelp("The HTML file to write.", valueName: "file"))
        var out: String

        @Option(help: ArgumentHelp("First window start to include: ISO 8601 or epoch ms (default: the oldest stored).", valueName: "time"))
        var from: String?

        @Option(help: ArgumentHelp("Windows starting at or after this are left out (default: after the newest stored).", valueName: "time"))
        var to: String?

        @Option(name: .customLong("target-gwh"), help: ArgumentHelp("Energy target for the year, GWh (> 0; default 55, or the scenario's).", valueName: "gwh"))
        var targetGWh: Double?

        @OptionGroup var scenarioOptions: ScenarioOptions

        /// The checked flags and the plant.
        func checked() throws(UsageError) -> (url: StoreURL, plant: Plant, from: Int64?, to: Int64?, target: Double, scenario: Scenario?) {
            let url = try storeOptions.url()
            if let targetGWh, !(targetGWh.isFinite && targetGWh > 0) {
                throw UsageError(flag: "--target-gwh", "'\(targetGWh)' must be a number of GWh above 0")
            }
            let fromMs = try from.map { v throws(UsageError) in try TimeFlags.timeMs(v, flag: "--from") }
            let toMs = try to.map { v throws(UsageError) in try TimeFlags.timeMs(v, flag: "--to") }
            if let fromMs, let toMs, toMs <= fromMs {
                throw UsageError(flag: "--to", "'\(to ?? "")' is not after --from '\(from ?? "")'")
            }
            guard !out.isEmpty else { throw UsageError(flag: "--out", "needs a file name") }
            let parsed = try PlantFlag.load(plant, site: site)
            var scenario = try scenarioOptions.scenario(plant: parsed)
            if let targetGWh { scenario?.targetGWhPerYear = targetGWh }
            return (url, parsed, fromMs, toMs, targetGWh ?? scenario?.targetGWhPerYear ?? 55, scenario)
        }

        func run() async throws {
            let (url, plant, fromMs, toMs, target, scenario) = try checked()
            let store = try await url.open(readOnly: true)
            var data: ReportData
            do {
                data = try await ReportData.load(store: store, plant: plant, from: fromMs, to: toMs, targetGWh: target)
                if let scenario {
                    data = try await data.withScenario(store: store, plant: plant, scenario: scenario, runs: scenarioOptions.runs,
                                                       seed: scenarioOptions.seed, horizonDays: try scenarioOptions.horizonDays())
                }
            } catch let error as ReportData.LoadError {
                throw ReportFailure(error.description)
            } catch let error as ScenarioError {
                throw ReportFailure(error.description)
            }
            let html = ReportHTML.render(data)
            do {
                try Data(html.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
            } catch {
                throw ReportFailure("cannot write '\(out)': \(error.localizedDescription)")
            }
        }
    }
}

/// A runtime failure with one line for stderr (exit 1).
struct ReportFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
