import Foundation
import TaktCore
@testable import TaktStore
// TempDir, hourMs and TaktBinaries, for every file of this target (PlanCLITests among them).
@_exported import TestSupport

/// The key of an hour window `hour` hours after the epoch.
func hourKey(site: String = "s", line: String, station: String, hour: Int64) -> WindowKey {
    WindowKey(site: site, line: line, station: station, tier: .hour, start: hour * hourMs, end: (hour + 1) * hourMs)
}

/// A histogram of the given cycle times (ms).
func histogram(_ values: [Int]) -> CycleHistogram {
    var h = CycleHistogram()
    for v in values { h.add(v) }
    return h
}

/// An update with defaults for what a test does not care about.
func update(_ key: WindowKey, good: Int64 = 0, scrap: Int64 = 0, energy: Double = 0, cycles: [Int] = [],
            runMs: Int64 = 0, plannedMs: Int64 = 0, ideal: Double = 6, output: Bool = true) -> WindowUpdate {
    WindowUpdate(key: key, good: good, scrap: scrap, energyKwh: energy, unitMessages: Int64(cycles.count),
                 cycle: histogram(cycles), runMs: runMs, plannedMs: plannedMs, idealCycleS: ideal, isOutputStation: output)
}
