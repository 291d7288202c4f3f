import ArgumentParser
import Foundation
import TaktStore

extension Takt {
    /// `takt store …`: maintenance of a store.
    struct Store: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Maintains a store.", subcommands: [Copy.self])
    }
}

extension Takt.Store {
    /// `takt store copy --from sqlite:PATH --to postgres://…` (contract section 11).
    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copies an embedded (SQLite) store into a PostgreSQL store, resumably, and verifies it.",
            discussion: """
                Copies every window row, station snapshot (dedup state and state timeline), site \
                counter and the journal position. The destination must be an empty database (the \
                schema is created) or one this command was copying the same source into: a copy \
                that stopped resumes after its last chunk. At the end, the rows per window size, \
                their revisions and unit counts, the snapshots and counters are compared. Stop the \
                daemon that writes the source first.
                """)

        @Option(help: ArgumentHelp("The embedded store to copy: sqlite:PATH (or a bare path).", valueName: "url"))
        var from: String

        @Option(help: ArgumentHelp("The PostgreSQL store to fill: postgres://user:pass@host:port/db.", valueName: "url"))
        var to: String

        @Option(help: ArgumentHelp("Window rows per transaction.", valueName: "n"))
        var chunkRows: Int = 5_000

        func run() async throws {
            let source: StoreURL, destination: StoreURL
            do {
                source = try StoreURL(parsing: from)
            } catch {
                throw UsageError(flag: "--from", error.description)
            }
            do {
                destination = try StoreURL(parsing: to)
            } catch {
                throw UsageError(flag: "--to", error.description)
            }
            guard case .sqlite(let path) = source else { throw UsageError(flag: "--from", "must be an embedded store (sqlite:PATH)") }
            guard case .postgres(let location) = destination else {
                throw UsageError(flag: "--to", "must be a PostgreSQL store (postgres://user:pass@host:port/db)")
            }
            guard chunkRows >= 1 else { throw UsageError(flag: "--chunk-rows", "must be at least 1") }
            let reader = try SQLiteRollupStore(path: path, readOnly: true)
            let writer = try await PostgresRollupStore(location: location, readOnly: false)
            defer { writer.close() }
            let copy = StoreCopy(source: reader, destination: writer, chunkRows: chunkRows)
            let report = try await copy.run { copied, total in
                FileHandle.standardError.write(Data("takt store copy: \(copied) of \(total) window rows\n".utf8))
            }
            var lines: [String] = []
            if report.wasComplete {
                lines.append("\(destination) already held this copy; verified again.")
            } else if report.resumedAfterRows > 0 {
                lines.append("resumed after \(report.resumedAfterRows) rows copied earlier.")
            }
            lines.append("copied \(source) → \(destination): \(report.rows) window rows, \(report.stations) station snapshots, "
                + "\(report.sites) site counters, journal offset \(report.journalOffset).")
            lines.append("verified: " + (report.totals.isEmpty ? "no window rows" : report.totals.map(\.description).joined(separator: "; ")))
            print(lines.joined(separator: "\n"))
        }
    }
}
