import Foundation
import Testing
import TaktCore
import TaktStore
import TestSupport

/// `takt query` through the built binary (`swift build --build-tests` builds it next to the
/// test bundle). Sync tests: `Process.waitUntilExit` must not block a Swift-concurrency thread.
@Suite("takt query (binary)", .ownThreads)
struct CLITests {
    /// Runs the built `takt` (see ``TaktBinaries/run(_:_:)``).
    static func takt(_ arguments: [String]) throws -> TaktBinaries.Run {
        try TaktBinaries.run("takt", arguments)
    }

    /// Two lines over hours 0…2 of 2026-11-01 (UTC), in a closed store file.
    static func seededStore(_ dir: TempDir) async throws -> String {
        let path = dir.path("takt.db")
        let store = try SQLiteRollupStore(path: path)
        let day: Int64 = 1_793_491_200_000  // 2026-11-01T00:00:00Z
        var updates: [WindowUpdate] = []
        for hour: Int64 in 0...2 {
            let start = day + hour * hourMs
            updates.append(update(WindowKey(site: "bishan", line: "blade-01", station: "eol", tier: .hour, start: start, end: start + hourMs),
                                  good: 597, scrap: 3, energy: 263.9, cycles: [6004, 6210, 6550],
                                  runMs: 3_540_000, plannedMs: 3_600_000, ideal: 6))
            updates.append(update(WindowKey(site: "bishan", line: "blade-02", station: "eol", tier: .hour, start: start, end: start + hourMs),
                                  good: 500, energy: 220, runMs: 3_000_000, plannedMs: 3_600_000, ideal: 6))
            updates.append(update(WindowKey(site: "bishan", line: "blade-01", station: "stacking", tier: .hour, start: start, end: start + hourMs),
                                  good: 601, runMs: 3_600_000, plannedMs: 3_600_000, ideal: 5.6, output: false))
        }
        _ = try await store.commit(CommitBatch(updates: updates, journalOffset: 10))
        try store.close()
        return path
    }

    static let from = "2026-11-01T00:00:00Z"
    static let to = "2026-11-01T02:00:00Z"

    @Test("--format json prints the daemon's window objects, byte for byte")
    func json() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let path = try await Self.seededStore(dir)
        let run = try Self.takt(["query", "--store", "sqlite:" + path, "--site", "bishan", "--window", "1h",
                                 "--from", Self.from, "--to", Self.to, "--format", "json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.isEmpty)
        let expected = try await SQLiteRollupStore(path: path, readOnly: true)
            .rows(site: "bishan", line: nil, station: nil, tier: .hour, from: 1_793_491_200_000, to: 1_793_491_200_000 + 2 * hourMs)
        #expect(expected.count == 6)
        var bytes: [UInt8] = []
        WindowRow.writeJSONArray(expected, into: &bytes)
        #expect(run.stdout == String(decoding: bytes, as: UTF8.self) + "\n")
        let decoded = try JSONDecoder().decode([WindowRow].self, from: Data(run.stdout.utf8))
        #expect(decoded == expected)
        #expect(decoded.map(\.line) == ["blade-01", "blade-02", "_site", "blade-01", "blade-02", "_site"])
    }

    @Test("--line and --station select rows; epoch-ms times work")
    func selection() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let path = try await Self.seededStore(dir)
        let line = try Self.takt(["query", "--store", path, "--site", "bishan", "--line", "blade-01", "--window", "1h",
                                  "--from", "1793491200000", "--to", "1793498400001", "--format", "json"])
        #expect(line.status == 0, "\(line.stderr)")
        let lineRows = try JSONDecoder().decode([WindowRow].self, from: Data(line.stdout.utf8))
        #expect(lineRows.map(\.station) == ["eol", "eol", "eol"])
        let station = try Self.takt(["query", "--store", path, "--site", "bishan", "--line", "blade-01", "--station", "stacking",
                                     "--window", "1h", "--from", Self.from, "--to", Self.to, "--format", "json"])
        #expect(station.status == 0, "\(station.stderr)")
        let stationRows = try JSONDecoder().decode([WindowRow].self, from: Data(station.stdout.utf8))
        #expect(stationRows.map(\.station) == ["stacking", "stacking"])
        #expect(stationRows.allSatisfy { $0.good == 601 })
    }

    @Test("--format csv: header and RFC 4180 records with CRLF")
    func csv() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let path = try await Self.seededStore(dir)
        let run = try Self.takt(["query", "--store", path, "--site", "bishan", "--window", "1h",
                                 "--from", Self.from, "--to", Self.to, "--format", "csv"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.hasSuffix("\r\n"))
        let records = run.stdout.split(separator: "\r\n", omittingEmptySubsequences: true).map(String.init)
        #expect(records.count == 7)
        #expect(records[0] == "site,line,station,window,start,end,revision,good,scrap,energy_kwh,good_per_hour,run_s,"
                + "planned_s,downtime_s,availability,performance,quality,oee,cycle_ms_p50,cycle_ms_p90,cycle_ms_p99")
        #expect(records[1].hasPrefix("bishan,blade-01,eol,1h,1793491200000,1793494800000,1,597,3,263.9,597.0,3540.0,3600.0,60.0,"))
        #expect(records[3].hasPrefix("bishan,_site,,1h,1793491200000,"))
        #expect(records[3].hasSuffix(",,,"))  // _site has no cycle percentiles
        #expect(records.allSatisfy { $0.split(separator: ",", omittingEmptySubsequences: false).count == 21 })
    }

    @Test("--format table (the default): aligned columns, ISO start, percentages")
    func table() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let path = try await Self.seededStore(dir)
        let run = try Self.takt(["query", "--store", path, "--site", "bishan", "--window", "1h",
                                 "--from", Self.from, "--to", Self.to])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 7)
        #expect(lines[0].hasPrefix("start (UTC)"))
        #expect(lines[0].contains("OEE"))
        #expect(lines[1].hasPrefix("2026-11-01T00:00:00Z  blade-01  eol"))
        #expect(lines[1].contains("98.3%"))   // availability 3540/3600
        #expect(lines[1].contains("263.90"))
        #expect(lines[4].hasPrefix("2026-11-01T01:00:00Z"))
        // Right-aligned numeric columns: every line has the same length up to the last column.
        let oeeEnd = lines[0].range(of: "OEE")!.upperBound.utf16Offset(in: lines[0])
        for l in lines.dropFirst() {
            let index = l.index(l.startIndex, offsetBy: oeeEnd - 1)
            #expect(l[index] == "%" || l[index] == "-", "\(l)")
        }
    }

    @Test("no rows: exit 0, an empty array")
    func empty() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let path = try await Self.seededStore(dir)
        let run = try Self.takt(["query", "--store", path, "--site", "elsewhere", "--window", "1d",
                                 "--from", Self.from, "--to", Self.to, "--format", "json"])
        #expect(run.status == 0)
        #expect(run.stdout == "[]\n")
    }

    @Test("usage errors exit 2 with one stderr line naming the flag", arguments: [
        (["--site", "bishan", "--window", "1h", "--from", "0", "--to", "1"], "--store"),
        (["--store", "x.db", "--site", "bishan", "--window", "5m", "--from", "0", "--to", "1"], "--window"),
        (["--store", "x.db", "--site", "bishan", "--window", "1h", "--from", "yesterday", "--to", "1"], "--from"),
        (["--store", "x.db", "--site", "bishan", "--window", "1h", "--from", "0", "--to", "2026-13-01T00:00:00Z"], "--to"),
        (["--store", "x.db", "--site", "bishan", "--window", "1h", "--from", "5", "--to", "5"], "--to"),
        (["--store", "x.db", "--site", "bishan", "--station", "eol", "--window", "1h", "--from", "0", "--to", "1"], "--station"),
        (["--store", "x.db", "--site", "bad site", "--window", "1h", "--from", "0", "--to", "1"], "--site"),
        (["--store", "x.db", "--site", "metrics", "--window", "1h", "--from", "0", "--to", "1"], "--site"),
        (["--store", "x.db", "--site", "s", "--line", "a/b", "--window", "1h", "--from", "0", "--to", "1"], "--line"),
        (["--store", "x.db", "--site", "s", "--window", "1h", "--from", "0", "--to", "1", "--format", "xml"], "--format"),
        (["--store", "mysql://h/db", "--site", "s", "--window", "1h", "--from", "0", "--to", "1"], "--store"),
        (["--store", "x.db", "--site", "s", "--window", "1h", "--from", "0", "--to", "1", "--bogus"], "--bogus"),
    ])
    func usageErrors(_ arguments: [String], _ flag: String) throws {
        let run = try Self.takt(["query"] + arguments)
        #expect(run.status == 2, "\(run.stderr)")
        #expect(run.stdout.isEmpty)
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(run.stderr)")
        #expect(run.stderr.contains(flag), "\(run.stderr)")
        #expect(run.stderr.hasPrefix("takt: "))
    }

    @Test("runtime failures exit 1 with one stderr line")
    func runtimeErrors() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let missing = try Self.takt(["query", "--store", "sqlite:" + dir.path("none.db"), "--site", "s", "--window", "1h",
                                     "--from", "0", "--to", "1"])
        #expect(missing.status == 1)
        #expect(missing.stderr == "takt: store '\(dir.path("none.db"))' does not exist\n")
        #expect(!FileManager.default.fileExists(atPath: dir.path("none.db")))  // a query never creates a store

        let port = try freeLoopbackPort()
        let postgres = try Self.takt(["query", "--store", "postgres://u:p@127.0.0.1:\(port)/takt?sslmode=disable", "--site", "s",
                                      "--window", "1h", "--from", "0", "--to", "1"])
        #expect(postgres.status == 1)
        #expect(postgres.stderr.hasPrefix("takt: cannot open store 'postgres://u:***@127.0.0.1:\(port)/takt?sslmode=disable'"))
        #expect(postgres.stderr.split(separator: "\n").count == 1)

        try Data(repeating: 7, count: 4096).write(to: URL(fileURLWithPath: dir.path("junk.db")))
        let junk = try Self.takt(["query", "--store", dir.path("junk.db"), "--site", "s", "--window", "1h",
                                  "--from", "0", "--to", "1"])
        #expect(junk.status == 1)
        #expect(junk.stderr.split(separator: "\n").count == 1)
    }

    @Test("--help exits 0", arguments: [["--help"], ["query", "--help"], ["help", "query"]])
    func help(_ arguments: [String]) throws {
        let run = try Self.takt(arguments)
        #expect(run.status == 0)
        #expect(run.stdout.contains("USAGE: takt"))
    }
}
