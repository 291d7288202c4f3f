import ArgumentParser
import Foundation
import TaktCore
import TaktReport
import TaktStore

extension WindowTier: ExpressibleByArgument {}

/// `--format` of `takt query`.
enum RowFormat: String, CaseIterable, ExpressibleByArgument {
    case table, json, csv
}

extension Takt {
    /// `takt query`: rollups of the windows that start in `[from, to)` (contract section 5).
    struct Query: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Prints the rollups of the windows that start in [from, to).",
            discussion: """
                Without --line: every line's output-station rows and one _site row (the sums over \
                the lines) per window. With --line: that line's output station. With --station \
                too: that station. Times are ISO 8601 (2026-11-01T00:00:00Z) or epoch \
                milliseconds. --format json prints an array of the window objects the daemon \
                publishes, byte for byte.
                """)

        @OptionGroup var storeOptions: StoreOptions

        @Option(help: ArgumentHelp("Site id.", valueName: "site"))
        var site: String

        @Option(help: ArgumentHelp("Line id (default: every line, and the _site totals).", valueName: "line"))
        var line: String?

        @Option(help: ArgumentHelp("Station id (needs --line; default: the line's output station).", valueName: "station"))
        var station: String?

        @Option(help: ArgumentHelp("Window size.", valueName: "1m|1h|1d"))
        var window: WindowTier

        @Option(help: ArgumentHelp("First window start to include: ISO 8601 or epoch ms.", valueName: "time"))
        var from: String

        @Option(help: ArgumentHelp("Windows starting at or after this are left out: ISO 8601 or epoch ms.", valueName: "time"))
        var to: String

        @Option(help: ArgumentHelp("Output format.", valueName: "table|json|csv"))
        var format: RowFormat = .table

        /// The checked flags.
        func query() throws(UsageError) -> (url: StoreURL, from: Int64, to: Int64) {
            let url = try storeOptions.url()
            guard TopicSegment.isValidSite(site) else {
                throw UsageError(flag: "--site", "'\(site)' is not a site id (1-64 of A-Z a-z 0-9 _ -, not metrics/deadletter/status)")
            }
            if let line, !TopicSegment.isValid(line) {
                throw UsageError(flag: "--line", "'\(line)' is not a line id (1-64 of A-Z a-z 0-9 _ -)")
            }
            if let station {
                guard line != nil else { throw UsageError(flag: "--station", "needs --line (station ids are per line)") }
                guard TopicSegment.isValid(station) else {
                    throw UsageError(flag: "--station", "'\(station)' is not a station id (1-64 of A-Z a-z 0-9 _ -)")
                }
            }
            let fromMs = try TimeFlags.timeMs(from, flag: "--from")
            let toMs = try TimeFlags.timeMs(to, flag: "--to")
            guard toMs > fromMs else { throw UsageError(flag: "--to", "'\(to)' is not after --from '\(from)'") }
            return (url, fromMs, toMs)
        }

        func run() async throws {
            let (url, fromMs, toMs) = try query()
            let store = try await url.open(readOnly: true)
            let rows = try await store.rows(site: site, line: line, station: station, tier: window, from: fromMs, to: toMs)
            var out: [UInt8]
            switch format {
            case .json:
                out = []
                out.reserveCapacity(rows.count * 420 + 3)
                WindowRow.writeJSONArray(rows, into: &out)
                out.append(UInt8(ascii: "\n"))
            case .csv:
                out = Array(RowFormats.csv(rows).utf8)
            case .table:
                out = Array(RowFormats.table(rows).utf8)
            }
            FileHandle.standardOutput.write(Data(out))
        }
    }
}
