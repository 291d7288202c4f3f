import Foundation
import Testing
import TaktCore
import TaktStore
import TestSupport
@testable import TaktDaemon

/// The cache of encoded `/api/v1/windows` answers: an answer only at the version it was built
/// at, never an older one over a newer, bounded memory.
@Suite("WindowsResponseCache")
struct WindowsResponseCacheTests {
    let key = WindowsResponseCache.Key(site: "demo", line: "line-a", station: nil, tier: .minute, from: 0, to: 10_800_000)

    @Test("an answer is served at its own version only; a later version is a miss until stored")
    func versions() {
        let cache = WindowsResponseCache()
        #expect(cache.bytes(for: key, version: 1) == nil)
        cache.store([1, 2, 3], for: key, version: 1)
        #expect(cache.bytes(for: key, version: 1) == [1, 2, 3])
        #expect(cache.bytes(for: key, version: 2) == nil)
        var other = key
        other.to += 60_000
        #expect(cache.bytes(for: other, version: 1) == nil)
        cache.store([4], for: key, version: 2)
        #expect(cache.bytes(for: key, version: 2) == [4])
        #expect(cache.bytes(for: key, version: 1) == nil)
        // A slow request that read version 1 must not replace the version 2 answer.
        cache.store([9], for: key, version: 1)
        #expect(cache.bytes(for: key, version: 2) == [4])
        #expect(cache.statistics.hits == 3)
    }

    @Test("answers over the entry limit are not kept; the total stays under its limit")
    func memory() {
        let cache = WindowsResponseCache(maxEntryBytes: 100, maxTotalBytes: 250)
        cache.store([UInt8](repeating: 0, count: 101), for: key, version: 1)
        #expect(cache.bytes(for: key, version: 1) == nil)
        for i in 0..<10 {
            var k = key
            k.from = Int64(i)
            cache.store([UInt8](repeating: 7, count: 100), for: k, version: 1)
            #expect(cache.statistics.bytes <= 250)
            #expect(cache.bytes(for: k, version: 1)?.count == 100)
        }
    }

    @Test("the rings' version rises with the fill and with every commit applied, not with an empty one")
    func ringVersion() async throws {
        let directory = try TestProcess.temporaryDirectory("takt-cache")
        defer { try? FileManager.default.removeItem(at: directory) }
        let plant = try Plant.load(yaml: String(contentsOfFile: TaktBinaries.file("Config/plant-demo.yaml"), encoding: .utf8), fileName: "plant-demo.yaml")
        let store = try SQLiteRollupStore(path: directory.appendingPathComponent("takt.sqlite").path)
        let windows = LiveWindows(plants: [plant], capacities: .init(), allStations: false)
        let start = windows.version
        try await windows.fill(from: store)
        #expect(windows.version == start + 1)
        windows.apply([])
        #expect(windows.version == start + 1)
        let line = plant.lines[0]
        var counts = WindowAccumulator(tier: .minute, bounds: WindowBounds(start: 0, end: 60_000), revision: 1)
        counts.good = 9
        let row = WindowRow(site: plant.site, line: line.id, station: line.outputStation, counts: counts, runMs: 60_000,
                            plannedMs: 60_000, idealCycleS: line.idealCycleS)
        windows.apply([row])
        #expect(windows.version == start + 2)
        #expect(windows.rows(site: plant.site, line: line.id, station: nil, tier: .minute, from: 0, to: 60_000) == [row])
    }
}
