/// Identifies one rollup row: a station's window of one tier. Site totals (`_site`) are never
/// stored; they are sums computed when read.
public struct WindowKey: Hashable, Sendable, Codable {
    public var site: String
    public var line: String
    public var station: String
    public var tier: WindowTier
    /// Window start, epoch ms (inclusive).
    public var start: Int64
    /// Window end, epoch ms (exclusive).
    public var end: Int64

    public init(site: String, line: String, station: String, tier: WindowTier, start: Int64, end: Int64) {
        self.site = site
        self.line = line
        self.station = station
        self.tier = tier
        self.start = start
        self.end = end
    }
}

/// What a commit changes in one row. Counts are *deltas* since the previous commit (the store
/// adds them to what it holds, and merges the histogram); the state times are *absolute* (the
/// aggregator integrates the station's state timeline over the window, up to the site's horizon,
/// whenever it marks the window dirty). The store raises `revision` by one per update and
/// recomputes the KPIs from the merged counts with `idealCycleS`.
///
/// Invariant: applying the same sequence of updates, in any batching, gives the same row —
/// which is what makes journal replay after a crash exact.
public struct WindowUpdate: Sendable, Equatable {
    public var key: WindowKey
    public var good: Int64
    public var scrap: Int64
    /// kWh (sum of the unit messages' energy; the line's `unit_kwh` × good where absent).
    public var energyKwh: Double
    /// Unit messages counted (for the cycle histogram and diagnostics).
    public var unitMessages: Int64
    /// Cycle times (ms) of the unit messages in this delta.
    public var cycle: CycleHistogram
    /// Milliseconds in running states (10000–29999) in the window up to the horizon: absolute.
    public var runMs: Int64
    /// Milliseconds in planned states in the window up to the horizon: absolute.
    public var plannedMs: Int64
    /// The ideal cycle (s) that performance uses: the station's `cycle_s`, or the line's
    /// `ideal_cycle_s` for its output station.
    public var idealCycleS: Double
    /// True when this station is its line's output station (its rows are the line's output).
    public var isOutputStation: Bool

    public init(key: WindowKey, good: Int64 = 0, scrap: Int64 = 0, energyKwh: Double = 0, unitMessages: Int64 = 0,
                cycle: CycleHistogram = CycleHistogram(), runMs: Int64, plannedMs: Int64,
                idealCycleS: Double, isOutputStation: Bool) {
        self.key = key
        self.good = good
        self.scrap = scrap
        self.energyKwh = energyKwh
        self.unitMessages = unitMessages
        self.cycle = cycle
        self.runMs = runMs
        self.plannedMs = plannedMs
        self.idealCycleS = idealCycleS
        self.isOutputStation = isOutputStation
    }
}

/// Identifies one station of one site: the unit of dedup and state-timeline persistence.
public struct StationKey: Hashable, Sendable, Codable, CustomStringConvertible {
    public var site: String
    public var line: String
    public var station: String

    public init(site: String, line: String, station: String) {
        self.site = site
        self.line = line
        self.station = station
    }

    public var description: String { "\(site)/\(line)/\(station)" }
}

/// Per-station state the pipeline must persist atomically with the rows: the dedup windows of
/// its boots and its state timeline (both opaque bytes to the store).
public struct StationSnapshot: Sendable, Equatable {
    public var station: StationKey
    /// `StationDedup.serialized()` bytes (older versions wrote `JSONEncoder` bytes, which
    /// restore still reads).
    public var dedup: [UInt8]
    /// `StateTimeline.serialized()` bytes (older versions wrote `JSONEncoder` bytes, which
    /// restore still reads), or `nil` when the timeline did not change since
    /// the station's previous snapshot: the store keeps the bytes it holds (and refuses a `nil`
    /// for a station it holds nothing for).
    ///
    /// Every commit snapshots every station that received a message, and most messages are
    /// units: re-encoding up to `max_age` of state changes per station per commit was most of a
    /// commit's cost (docs/BENCHMARKS.md).
    public var timeline: [UInt8]?

    public init(station: StationKey, dedup: [UInt8], timeline: [UInt8]?) {
        self.station = station
        self.dedup = dedup
        self.timeline = timeline
    }
}

/// Counters the daemon keeps per site and persists with each commit (monotonic totals).
public struct SiteCounters: Sendable, Equatable, Codable {
    public var site: String
    /// The site's newest event time seen (epoch ms): the horizon of state time.
    public var horizon: Int64
    public var accepted: Int64
    public var duplicates: Int64
    public var deadLetters: Int64
    public var missing: Int64

    public init(site: String, horizon: Int64 = 0, accepted: Int64 = 0, duplicates: Int64 = 0,
                deadLetters: Int64 = 0, missing: Int64 = 0) {
        self.site = site
        self.horizon = horizon
        self.accepted = accepted
        self.duplicates = duplicates
        self.deadLetters = deadLetters
        self.missing = missing
    }
}

/// Everything one store transaction writes: row updates, the station snapshots that changed,
/// site counters, and the journal offset up to which every message is reflected.
public struct CommitBatch: Sendable {
    public var updates: [WindowUpdate]
    public var stations: [StationSnapshot]
    public var sites: [SiteCounters]
    /// Byte offset in the journal just past the last message this batch reflects.
    public var journalOffset: Int64
    /// Set when several daemons share the store (line leases): the store applies the batch
    /// only if this daemon still holds every listed lease at its epoch, and then treats `sites`
    /// as **increments** since the daemon's previous commit (the horizon as a maximum) instead
    /// of totals, and leaves `journalOffset` alone (no daemon's journal is the store's).
    public var fence: CommitFence?

    public init(updates: [WindowUpdate] = [], stations: [StationSnapshot] = [], sites: [SiteCounters] = [], journalOffset: Int64,
                fence: CommitFence? = nil) {
        self.updates = updates
        self.stations = stations
        self.sites = sites
        self.journalOffset = journalOffset
        self.fence = fence
    }
}
