import TaktCore

/// The primary key of a stored row (`WindowKey` without `end`, which follows from the start).
struct RowID: Hashable {
    var site: String
    var line: String
    var station: String
    var tier: WindowTier
    var start: Int64

    init(_ k: WindowKey) {
        self.init(site: k.site, line: k.line, station: k.station, tier: k.tier, start: k.start)
    }

    init(site: String, line: String, station: String, tier: WindowTier, start: Int64) {
        self.site = site
        self.line = line
        self.station = station
        self.tier = tier
        self.start = start
    }
}

/// One row of `window_row` in memory: the merged counts and the latest state times, from
/// which the KPIs are recomputed.
struct StoredWindow {
    var key: WindowKey
    var revision: Int64 = 0
    var good: Int64 = 0
    var scrap: Int64 = 0
    var energyKwh: Double = 0
    var unitMessages: Int64 = 0
    var cycle = CycleHistogram()
    var runMs: Int64 = 0
    var plannedMs: Int64 = 0
    var idealCycleS: Double = 0
    var isOutputStation = false

    /// A row that does not exist yet (revision 0 until the first ``apply(_:)``).
    init(empty key: WindowKey) {
        self.key = key
    }

    /// Adds the update's deltas, merges its histogram, takes its absolute state times and its
    /// per-row settings, and raises the revision by one.
    mutating func apply(_ u: WindowUpdate) {
        key.end = u.key.end
        good += u.good
        scrap += u.scrap
        energyKwh += u.energyKwh
        unitMessages += u.unitMessages
        cycle.merge(u.cycle)
        runMs = u.runMs
        plannedMs = u.plannedMs
        idealCycleS = u.idealCycleS
        isOutputStation = u.isOutputStation
        revision += 1
    }

    /// The ideal cycle KPIs use: `nil` when none is known (≤ 0 or not finite).
    var idealForKPI: Double? { idealCycleS.isFinite && idealCycleS > 0 ? idealCycleS : nil }

    /// The window object of this station's window, KPIs from the merged counts.
    var windowRow: WindowRow {
        var counts = WindowAccumulator(
            tier: key.tier, bounds: WindowBounds(start: key.start, end: key.end), revision: revision)
        counts.good = good
        counts.scrap = scrap
        counts.energyKwh = energyKwh
        counts.unitMessages = unitMessages
        counts.cycle = cycle
        return WindowRow(site: key.site, line: key.line, station: key.station, counts: counts,
                         runMs: runMs, plannedMs: plannedMs, idealCycleS: idealForKPI)
    }
}

extension WindowTier {
    /// Sort position: `1m`, `1h`, `1d`.
    var order: Int {
        switch self {
        case .minute: return 0
        case .hour: return 1
        case .day: return 2
        }
    }
}

extension StoredWindow {
    /// Site, tier (`1m`, `1h`, `1d`), start, line, station.
    static func storedOrder(_ a: StoredWindow, _ b: StoredWindow) -> Bool {
        let x = a.key, y = b.key
        if x.site != y.site { return x.site.utf8.lexicographicallyPrecedes(y.site.utf8) }
        if x.tier != y.tier { return x.tier.order < y.tier.order }
        if x.start != y.start { return x.start < y.start }
        if x.line != y.line { return x.line.utf8.lexicographicallyPrecedes(y.line.utf8) }
        return x.station.utf8.lexicographicallyPrecedes(y.station.utf8)
    }

    /// The line rows (sorted by start, line, station) with each window's `_site` row after
    /// them. Rows of one start with different ends (a site whose time zone changed) get one
    /// `_site` row per distinct end.
    static func withSiteRows(_ lines: [StoredWindow], site: String, tier: WindowTier) -> [WindowRow] {
        var out: [WindowRow] = []
        out.reserveCapacity(lines.count + lines.count / 2 + 1)
        var i = 0
        while i < lines.count {
            var j = i
            while j < lines.count && lines[j].key.start == lines[i].key.start { j += 1 }
            let group = lines[i..<j]
            out.append(contentsOf: group.map(\.windowRow))
            var ends: [Int64] = []
            for w in group where !ends.contains(w.key.end) { ends.append(w.key.end) }
            for end in ends.sorted() {
                let members = group.filter { $0.key.end == end }.map { (row: $0.windowRow, idealCycleS: $0.idealForKPI ?? 0) }
                out.append(WindowRow(siteTotalOf: members, site: site, tier: tier,
                                     bounds: WindowBounds(start: group.first!.key.start, end: end)))
            }
            i = j
        }
        return out
    }
}
