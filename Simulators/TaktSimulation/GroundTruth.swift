import Foundation
import TaktCore

/// The sums the truth file reports for a station, a line or the site, in one window or in
/// total. Integers throughout, so sums do not depend on the order of addition: energy in µkWh,
/// time in ms.
public struct TruthCounters: Sendable, Equatable {
    public var good: Int64 = 0
    public var scrap: Int64 = 0
    /// Energy, micro-kWh (1e-6 kWh).
    public var energyMicroKWh: Int64 = 0
    /// Milliseconds in states 10000–29999.
    public var runMs: Int64 = 0
    /// Milliseconds in known states other than 160000–179999.
    public var plannedMs: Int64 = 0

    public init() {}

    mutating func add(_ other: TruthCounters) {
        good += other.good
        scrap += other.scrap
        energyMicroKWh += other.energyMicroKWh
        runMs += other.runMs
        plannedMs += other.plannedMs
    }
}

/// One window row of the truth.
public struct TruthRow: Sendable, Equatable {
    public var window: WindowBounds
    public var counters: TruthCounters
}

/// Rows of one tier, kept sorted by window start.
struct TruthRows {
    var rows: [TruthRow] = []

    /// Index of the row for the window containing `ts`, created if missing.
    /// O(1) when `ts` falls in the newest row (the common case), else O(log n) (+ insert).
    @inline(__always)
    mutating func index(containing ts: Int64, tier: WindowTier, calendar: WindowCalendar) -> Int {
        if let last = rows.last, last.window.contains(ts) { return rows.count - 1 }
        return slowIndex(containing: ts, tier: tier, calendar: calendar)
    }

    mutating func slowIndex(containing ts: Int64, tier: WindowTier, calendar: WindowCalendar) -> Int {
        var low = 0
        var high = rows.count
        while low < high {
            let mid = (low + high) / 2
            if rows[mid].window.end <= ts { low = mid + 1 } else { high = mid }
        }
        if low < rows.count, rows[low].window.contains(ts) { return low }
        rows.insert(TruthRow(window: calendar.window(containing: ts, tier: tier), counters: TruthCounters()), at: low)
        return low
    }

    /// Adds `[from, to)` in state `code` to every window it overlaps by at least 1 ms.
    mutating func addTime(from: Int64, to: Int64, run: Bool, planned: Bool, tier: WindowTier, calendar: WindowCalendar) {
        guard to > from else { return }
        var cursor = from
        while cursor < to {
            let i = index(containing: cursor, tier: tier, calendar: calendar)
            let window = rows[i].window
            let ms = min(to, window.end) - cursor
            if run { rows[i].counters.runMs += ms }
            if planned { rows[i].counters.plannedMs += ms }
            cursor = window.end
        }
    }
}

/// Everything a perfect consumer would compute for one station from the messages that count.
struct StationTruth {
    var total = TruthCounters()
    var hours = TruthRows()
    var days = TruthRows()
    /// The station's newest state and when it started (epoch ms); nil before the first.
    var stateSince: Int64?
    var stateCode: UInt32 = 0
}

/// State-code classes of contract section 3.
enum StateCodes {
    static func isRun(_ code: UInt32) -> Bool { (10000...29999).contains(code) }
    /// 30000 "unknown" and the unassigned codes next to it (as TaktCore's `StateCode`): time in
    /// them is unknown time.
    static func isUnknown(_ code: UInt32) -> Bool { (30000...39999).contains(code) }
    /// Known and not a planned stop (160000–179999).
    static func isPlanned(_ code: UInt32) -> Bool { !isUnknown(code) && !(160000...179999).contains(code) }
}

/// Counts of what the run published and which faults it injected.
public struct PublishCounts: Sendable, Equatable {
    /// Real unit messages (each counted once by a perfect consumer).
    public var unit: Int64 = 0
    /// Real state messages.
    public var state: Int64 = 0
    /// Extra copies published by the `dup` fault.
    public var duplicate: Int64 = 0
    /// Garbage published by the `malformed` fault (expected dead letters).
    public var malformed: Int64 = 0
    /// Neighbour swaps done by the `reorder` fault.
    public var reorders: Int64 = 0
    /// Device restarts done by the `reboot` fault.
    public var reboots: Int64 = 0
    /// Sparkplug BIRTH and DEATH messages.
    public var control: Int64 = 0
    /// Sparkplug DATA messages not published by the `drop` fault.
    public var drops: Int64 = 0
    /// Rebirth requests (NCMD) answered with an NBIRTH and the DBIRTHs (counted in `control`).
    public var rebirths: Int64 = 0

    public init() {}

    /// Every message published (what a subscriber receives).
    public var total: Int64 { unit + state + duplicate + malformed + control }
}

/// The ground truth of one run, accumulated as the messages are generated.
struct GroundTruth {
    let calendar: WindowCalendar
    var stations: [StationTruth]
    /// Newest `ts` of any counted message of the site; nil before the first.
    var newest: Int64?

    init(stationCount: Int, timeZone: TimeZone) {
        calendar = WindowCalendar(timeZone: timeZone)
        stations = Array(repeating: StationTruth(), count: stationCount)
    }

    @inline(__always)
    mutating func noteMessage(station: Int, ts: Int64) {
        if newest.map({ ts > $0 }) ?? true { newest = ts }
        _ = stations[station].hours.index(containing: ts, tier: .hour, calendar: calendar)
        _ = stations[station].days.index(containing: ts, tier: .day, calendar: calendar)
    }

    @inline(__always)
    mutating func unit(station: Int, ts: Int64, good: Int64, scrap: Int64, energyMicroKWh: Int64) {
        if newest.map({ ts > $0 }) ?? true { newest = ts }
        let calendar = self.calendar
        stations[station].total.good += good
        stations[station].total.scrap += scrap
        stations[station].total.energyMicroKWh += energyMicroKWh
        let h = stations[station].hours.index(containing: ts, tier: .hour, calendar: calendar)
        stations[station].hours.rows[h].counters.good += good
        stations[station].hours.rows[h].counters.scrap += scrap
        stations[station].hours.rows[h].counters.energyMicroKWh += energyMicroKWh
        let d = stations[station].days.index(containing: ts, tier: .day, calendar: calendar)
        stations[station].days.rows[d].counters.good += good
        stations[station].days.rows[d].counters.scrap += scrap
        stations[station].days.rows[d].counters.energyMicroKWh += energyMicroKWh
    }

    /// A state message. States of a station arrive here in `ts` order (the engine guarantees
    /// it), so the interval of the previous state is final.
    mutating func state(station: Int, ts: Int64, code: UInt32) {
        noteMessage(station: station, ts: ts)
        if let since = stations[station].stateSince {
            addTime(station: station, from: since, to: ts, code: stations[station].stateCode)
        }
        stations[station].stateSince = ts
        stations[station].stateCode = code
    }

    private mutating func addTime(station: Int, from: Int64, to: Int64, code: UInt32) {
        guard to > from, !StateCodes.isUnknown(code) else { return }
        let run = StateCodes.isRun(code)
        let planned = StateCodes.isPlanned(code)
        if run { stations[station].total.runMs += to - from }
        if planned { stations[station].total.plannedMs += to - from }
        stations[station].hours.addTime(from: from, to: to, run: run, planned: planned, tier: .hour, calendar: calendar)
        stations[station].days.addTime(from: from, to: to, run: run, planned: planned, tier: .day, calendar: calendar)
    }

    /// Closes every station's open state at the site's newest event (contract: time after it
    /// is unknown). Call once, after the last message.
    mutating func finish() {
        guard let newest else { return }
        for i in stations.indices {
            if let since = stations[i].stateSince {
                addTime(station: i, from: since, to: newest, code: stations[i].stateCode)
                stations[i].stateSince = newest
            }
        }
    }
}
