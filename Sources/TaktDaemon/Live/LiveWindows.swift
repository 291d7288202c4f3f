import Synchronization
import TaktCore
import TaktStore

/// The daemon's ring buffers: for every line's output station (or every station of the plant
/// files with `live_stations: all`), the last N window rows of each tier (``LiveRing``; `live_1m`, `live_1h`, `live_1d` in `taktd.yaml`, default 180, 72,
/// 62), filled from the store at start-up (``fill(from:)``) and then from what each commit
/// returns (``apply(_:)``). They answer `/api/v1/windows`, the live stream and the page without
/// reading the store, for every range they vouch for; a range reaching below a ring's floor
/// (older than it holds) goes to the store.
///
/// With `live_stations: output` (the default) only the lines' output stations have rings and
/// the committer reads back only their rows, as before rings existed; `all` makes every commit
/// read back every updated row.
///
/// Memory: 56 bytes × (live_1m + live_1h + live_1d) per station with rows, fixed; one lock,
/// held for O(rows) by a commit and for O(rows answered) by a read (≤ `max_rows`).
final class LiveWindows: Sendable {
    struct Capacities: Sendable, Equatable {
        var minute = 180
        var hour = 72
        var day = 62
        func of(_ tier: WindowTier) -> Int {
            switch tier {
            case .minute: return minute
            case .hour: return hour
            case .day: return day
            }
        }
    }

    /// One station with rings.
    struct Station: Sendable {
        var key: StationKey
        /// The ideal cycle its KPIs use: the line's `ideal_cycle_s` for the output station, its
        /// own `cycle_s` otherwise (as the aggregator writes it).
        var idealCycleS: Double
        var isOutput: Bool
    }

    private struct Rings: Sendable {
        var minute: LiveRing
        var hour: LiveRing
        var day: LiveRing
        subscript(_ tier: WindowTier) -> LiveRing {
            get {
                switch tier {
                case .minute: return minute
                case .hour: return hour
                case .day: return day
                }
            }
        }
        /// Changes one ring in place (a get/set subscript would copy its slots on every put).
        mutating func modify(_ tier: WindowTier, _ body: (inout LiveRing) -> Void) {
            switch tier {
            case .minute: body(&minute)
            case .hour: body(&hour)
            case .day: body(&day)
            }
        }
    }

    let capacities: Capacities
    /// Whether every station has rings (else only output stations).
    let allStations: Bool
    let stations: [Station]
    private let index: [StationKey: Int]
    /// Per site: its calendar and its lines' output stations (index into `stations`), lines in
    /// the order the store sorts them (UTF-8 bytes).
    private let sites: [String: (calendar: WindowCalendar, lines: [(line: String, station: Int)])]
    /// Rings, one entry per station; nil until ``fill(from:)``: nothing vouched for before.
    private let rings: Mutex<[Rings]?>
    /// Raised under the rings' lock by every change (``fill(from:)``, ``apply(_:)``): an answer
    /// built from rings read after taking a version is current while the version is.
    private let changes = Atomic<UInt64>(0)

    /// The rings' version (see ``WindowsResponseCache``).
    var version: UInt64 { changes.load(ordering: .acquiring) }

    /// Whether the rings may answer site-wide queries (`line == nil`): not when the daemon
    /// shares the site's lines with others (its rings hold only its own lines).
    let siteWide: Bool

    init(plants: [Plant], capacities: Capacities, allStations: Bool, siteWide: Bool = true) {
        self.capacities = capacities
        self.allStations = allStations
        self.siteWide = siteWide
        var stations: [Station] = []
        var index: [StationKey: Int] = [:]
        var sites: [String: (calendar: WindowCalendar, lines: [(line: String, station: Int)])] = [:]
        for plant in plants {
            var lines: [(line: String, station: Int)] = []
            for line in plant.lines {
                for station in line.stations {
                    let isOutput = station.id == line.outputStation
                    guard isOutput || allStations else { continue }
                    let key = StationKey(site: plant.site, line: line.id, station: station.id)
                    index[key] = stations.count
                    if isOutput { lines.append((line.id, stations.count)) }
                    stations.append(Station(key: key, idealCycleS: isOutput ? line.idealCycleS : station.cycleS, isOutput: isOutput))
                }
            }
            lines.sort { $0.line.utf8.lexicographicallyPrecedes($1.line.utf8) }
            sites[plant.site] = (WindowCalendar(timeZone: plant.timeZone), lines)
        }
        self.stations = stations
        self.index = index
        self.sites = sites
        self.rings = Mutex(nil)
    }

    // MARK: - Filling and updating

    /// Fills the rings from the store: per site and tier, the rows of the last `capacity`
    /// windows up to the site's newest one. Run before the committer starts (no commit can
    /// interleave); every ring then vouches for the windows above its fill range's bottom.
    func fill(from store: any RollupStore) async throws {
        var filled: [Rings] = []
        filled.reserveCapacity(stations.count)
        for _ in stations {
            filled.append(Rings(minute: LiveRing(capacity: capacities.minute), hour: LiveRing(capacity: capacities.hour),
                                day: LiveRing(capacity: capacities.day)))
        }
        for (site, info) in sites {
            for tier in WindowTier.allCases {
                let capacity = capacities.of(tier)
                guard capacity > 0 else { continue }
                guard let newestStart = try await store.newestWindowStart(site: site, tier: tier) else { continue }
                let newest = info.calendar.window(containing: newestStart, tier: tier)
                let newestOrdinal = info.calendar.ordinal(of: newest, tier: tier)
                var oldest = newest
                for _ in 1..<capacity { oldest = info.calendar.previous(before: oldest, tier: tier) }
                let floor = newestOrdinal - Int64(capacity)
                for (i, station) in stations.enumerated() where station.key.site == site {
                    var ring = LiveRing(capacity: capacity, floor: floor)
                    let rows = try await store.rows(site: site, line: station.key.line, station: station.key.station,
                                                    tier: tier, from: oldest.start, to: Int64.max)
                    for row in rows { put(row, into: &ring, station: station, calendar: info.calendar) }
                    filled[i].modify(tier) { $0 = ring }
                }
            }
        }
        rings.withLock { rings in
            rings = filled
            changes.add(1, ordering: .releasing)
        }
    }

    /// Puts one row the store wrote, in its compact form; a row whose KPIs the compact form
    /// would not reproduce (written with another ideal cycle, a plant file since changed) or
    /// that does not fit counts as unrepresentable (the ring stops vouching for its window).
    private func put(_ row: WindowRow, into ring: inout LiveRing, station: Station, calendar: WindowCalendar) {
        guard ring.capacity > 0, row.end > row.start else { return }
        let bounds = WindowBounds(start: row.start, end: row.end)
        let ordinal = calendar.ordinal(of: bounds, tier: row.window)
        var live = LiveRow(row)
        if let l = live,
           l.windowRow(site: row.site, line: row.line, station: station.key.station, tier: row.window, end: row.end,
                       idealCycleS: station.idealCycleS) != row || calendar.window(containing: row.start, tier: row.window) != bounds {
            live = nil
        }
        ring.put(live, ordinal: ordinal)
    }

    /// Takes the rows a commit returned (every updated row, or only output stations' with
    /// `live_stations: output`). Rows of stations without rings are ignored.
    func apply(_ rows: [WindowRow]) {
        guard !rows.isEmpty else { return }
        rings.withLock { rings in
            guard rings != nil else { return }
            changes.add(1, ordering: .releasing)
            for row in rows {
                guard let station = row.station, capacities.of(row.window) > 0,
                      let i = index[StationKey(site: row.site, line: row.line, station: station)],
                      let calendar = sites[row.site]?.calendar else { continue }
                rings![i].modify(row.window) { put(row, into: &$0, station: stations[i], calendar: calendar) }
            }
        }
    }

    // MARK: - Reading

    /// The rows of `takt query` for windows of `tier` that start in `[from, to)` (the store's
    /// order and bytes), or `nil` when a ring involved does not vouch for the whole range, the
    /// site, line or station has no ring, or the rings are not filled yet: ask the store then.
    func rows(site: String, line: String?, station: String?, tier: WindowTier, from: Int64, to: Int64) -> [WindowRow]? {
        guard from < to, capacities.of(tier) > 0, let info = sites[site], line != nil || siteWide else { return nil }
        let calendar = info.calendar
        // Ordinals of the windows that start in [from, to).
        var first = calendar.window(containing: from, tier: tier)
        if first.start < from { first = calendar.next(after: first, tier: tier) }
        let lower = calendar.ordinal(of: first, tier: tier)
        let upper = to == Int64.max ? Int64.max : calendar.ordinal(of: calendar.window(containing: to - 1, tier: tier), tier: tier)
        let members: [Int]
        switch (line, station) {
        case let (line?, station?):
            guard let i = index[StationKey(site: site, line: line, station: station)] else { return nil }
            members = [i]
        case let (line?, nil):
            guard let entry = info.lines.first(where: { $0.line == line }) else { return nil }
            members = [entry.station]
        case (nil, nil):
            members = info.lines.map(\.station)
        case (nil, _?):
            return nil
        }
        guard let held = rings.withLock({ rings -> [[LiveRow]]? in
            guard let rings else { return nil }
            var out: [[LiveRow]] = []
            out.reserveCapacity(members.count)
            for i in members {
                guard let rows = rings[i][tier].rows(ordinals: lower, upper) else { return nil }
                out.append(rows)
            }
            return out
        }) else { return nil }
        // Back to window objects, outside the lock.
        func windowRow(_ r: LiveRow, _ i: Int) -> WindowRow {
            let s = stations[i]
            let end = tier.fixedLengthMs.map { r.start + $0 } ?? calendar.window(containing: r.start, tier: tier).end
            return r.windowRow(site: site, line: s.key.line, station: s.key.station, tier: tier, end: end, idealCycleS: s.idealCycleS)
        }
        if line != nil { return held[0].map { windowRow($0, members[0]) } }
        // Every line's output rows by start, then line; each window's `_site` row after them.
        var byStart: [Int64: [(row: WindowRow, ideal: Double)]] = [:]
        for (k, rows) in held.enumerated() {
            for r in rows { byStart[r.start, default: []].append((windowRow(r, members[k]), stations[members[k]].idealCycleS)) }
        }
        var out: [WindowRow] = []
        for start in byStart.keys.sorted() {
            let group = byStart[start]!
            out.append(contentsOf: group.map(\.row))
            out.append(WindowRow(siteTotalOf: group.map { (row: $0.row, idealCycleS: $0.ideal.isFinite && $0.ideal > 0 ? $0.ideal : 0) },
                                 site: site, tier: tier, bounds: WindowBounds(start: start, end: group[0].row.end)))
        }
        return out
    }

    /// The `_site` row of one window from the rings, or nil when not every line's ring vouches
    /// for it or no line has a row.
    func siteRow(site: String, tier: WindowTier, start: Int64) -> WindowRow? {
        rows(site: site, line: nil, station: nil, tier: tier, from: start, to: start &+ 1)?.last
    }

    /// Rows held and bytes of slots, per tier (for `/metrics`).
    func sizes() -> [(tier: WindowTier, rows: Int, bytes: Int)] {
        rings.withLock { rings in
            WindowTier.allCases.map { tier in
                var rowsHeld = 0, bytes = 0
                for r in rings ?? [] {
                    rowsHeld += r[tier].count
                    bytes += r[tier].bytes
                }
                return (tier, rowsHeld, bytes)
            }
        }
    }
}
