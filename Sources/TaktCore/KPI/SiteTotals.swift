/// One line's output-station row of a window, as a `_site` row sums it: the row and the ideal
/// cycle (s) its performance used (0 when the station has none). What
/// ``WindowRow/init(siteTotalOf:site:tier:bounds:)`` takes per line.
public struct SiteMember: Sendable, Equatable {
    public var row: WindowRow
    /// Seconds per unit; 0 when unknown (then the line adds no ideal time to `_site`).
    public var idealCycleS: Double

    /// - Parameter idealCycleS: the station's ideal cycle as stored (any value: one that is not
    ///   finite and above 0 counts as 0, as in the store's own `_site` rows).
    public init(row: WindowRow, idealCycleS: Double) {
        self.row = row
        self.idealCycleS = idealCycleS.isFinite && idealCycleS > 0 ? idealCycleS : 0
    }
}

/// The `_site` rows of recent windows, kept up to date from committed rows instead of read back
/// from the store after every commit.
///
/// Holds, per window (site, tier, start), the latest output-station row of every line: seeded
/// once from the store (``seed(site:tier:start:members:)``, the window's first use), then
/// replaced by each committed row (``apply(_:)``). A member is replaced only by a higher
/// revision, so seeding with a read taken after later commits, or applying commits out of
/// order, leaves the newest row — the result depends only on which rows were seen.
/// ``siteRow(site:tier:start:)`` sums them exactly as the store does (`takt query`'s `_site`
/// row of that window, and `RollupStore.siteRow`): members in line, then station byte order,
/// the window's latest `end` when a time-zone change gave one start two ends.
///
/// Valid while this process is the only writer of the site's rows (one daemon per store);
/// several daemons sharing one store's lines must read `_site` rows from the store.
///
/// Memory: at most `capacity` windows; beyond it the least recently used half is forgotten
/// (a forgotten window is seeded again on its next use).
public struct SiteTotals: Sendable {
    public struct WindowID: Hashable, Sendable {
        public var site: String
        public var tier: WindowTier
        public var start: Int64

        public init(site: String, tier: WindowTier, start: Int64) {
            self.site = site
            self.tier = tier
            self.start = start
        }
    }

    /// A member's row key within its window (a row's `end` may change with a later revision:
    /// a site whose time zone changed).
    private struct MemberID: Hashable {
        var line: String
        var station: String
    }

    private struct Entry {
        var members: [MemberID: SiteMember] = [:]
        var lastUse: Int = 0
    }

    private var windows: [WindowID: Entry] = [:]
    private var uses = 0
    public let capacity: Int

    public init(capacity: Int = 4096) {
        self.capacity = max(1, capacity)
    }

    /// Windows held now.
    public var count: Int { windows.count }

    /// Whether the window was seeded (and not forgotten since).
    public func contains(_ id: WindowID) -> Bool { windows[id] != nil }

    /// Seeds a window with its members as the store holds them (every line's output-station
    /// row of that window); members already held with a higher revision are kept.
    public mutating func seed(_ id: WindowID, members: [SiteMember]) {
        if windows[id] == nil {
            if windows.count >= capacity { forgetLeastRecentlyUsed() }
            windows[id] = Entry()
        }
        for member in members { merge(member, into: id) }
        touch(id)
    }

    /// A committed output-station row. Ignored when its window is not held (it is seeded from
    /// the store, which has the row, on the window's next use). Returns whether it was held.
    @discardableResult
    public mutating func apply(_ member: SiteMember) -> Bool {
        let id = WindowID(site: member.row.site, tier: member.row.window, start: member.row.start)
        guard windows[id] != nil else { return false }
        merge(member, into: id)
        touch(id)
        return true
    }

    /// The `_site` row of a held window; nil when it is not held or has no member.
    public func siteRow(_ id: WindowID) -> WindowRow? {
        guard let entry = windows[id], !entry.members.isEmpty else { return nil }
        return WindowRow.siteTotal(of: Array(entry.members.values), site: id.site, tier: id.tier)
    }

    private mutating func merge(_ member: SiteMember, into id: WindowID) {
        let key = MemberID(line: member.row.line, station: member.row.station ?? "")
        if let held = windows[id]!.members[key], held.row.revision > member.row.revision { return }
        windows[id]!.members[key] = member
    }

    private mutating func touch(_ id: WindowID) {
        uses += 1
        windows[id]!.lastUse = uses
    }

    private mutating func forgetLeastRecentlyUsed() {
        let byUse = windows.sorted { $0.value.lastUse < $1.value.lastUse }
        for (id, _) in byUse.prefix(max(1, byUse.count / 2)) { windows[id] = nil }
    }
}

extension WindowRow {
    /// The `_site` row of one window start from its lines' output-station rows, as the stores
    /// compute it: members ordered by line, then station (UTF-8 byte order, the stores' `ORDER
    /// BY`), summed in that order (the floating-point sums depend on it); when the members have
    /// different ends (a site whose time zone changed), the total of the latest end. Nil
    /// without members.
    /// - Precondition: every member is of `site`, `tier` and one start.
    public static func siteTotal(of members: [SiteMember], site: String, tier: WindowTier) -> WindowRow? {
        guard let end = members.map(\.row.end).max() else { return nil }
        let sorted = members.filter { $0.row.end == end }.sorted { a, b in
            if a.row.line != b.row.line { return a.row.line.utf8.lexicographicallyPrecedes(b.row.line.utf8) }
            return (a.row.station ?? "").utf8.lexicographicallyPrecedes((b.row.station ?? "").utf8)
        }
        return WindowRow(siteTotalOf: sorted.map { (row: $0.row, idealCycleS: $0.idealCycleS) }, site: site, tier: tier,
                         bounds: WindowBounds(start: sorted[0].row.start, end: end))
    }
}

extension CommitBatch {
    /// The ideal cycle (s) each of `rows` — rows this batch's commit returned — was written
    /// with: the last update of its key in the batch (the store keeps the last one's); 0 for a
    /// row the batch has no update for.
    public func idealCycles(of rows: [WindowRow]) -> [Double] {
        guard !rows.isEmpty else { return [] }
        var ideal: [WindowKey: Double] = [:]
        for update in updates where update.isOutputStation { ideal[update.key] = update.idealCycleS }
        return rows.map { row in
            ideal[WindowKey(site: row.site, line: row.line, station: row.station ?? "", tier: row.window,
                            start: row.start, end: row.end)] ?? 0
        }
    }

    /// The rows of `rows` — rows this batch's commit returned — that belong to an output station
    /// (a line's metrics), in their order: the stations this batch updated as output stations.
    public func outputStationRows(of rows: [WindowRow]) -> [WindowRow] {
        var outputs = Set<StationKey>()
        for update in updates where update.isOutputStation {
            outputs.insert(StationKey(site: update.key.site, line: update.key.line, station: update.key.station))
        }
        return rows.filter { row in
            row.station.map { outputs.contains(StationKey(site: row.site, line: row.line, station: $0)) } ?? false
        }
    }
}
