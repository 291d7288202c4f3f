/// One station's window row of one tier in 48 bytes: what the daemon's live rings hold
/// (``LiveRing``). The site, line, station and tier are the ring's; `end` follows from `start`
/// and the site's calendar; the KPIs are recomputed with the station's ideal cycle, as the
/// store recomputes them (``WindowRow/init(site:line:station:counts:runMs:plannedMs:idealCycleS:)``).
///
/// Counts that do not fit 32 bits (a hostile device can send 1,000,000 units a message) make
/// the row unrepresentable: ``init?(_:)`` returns `nil`, and the ring stops vouching for that
/// window (the store answers it).
public struct LiveRow: Sendable, Equatable {
    /// Window start, epoch ms.
    public var start: Int64
    /// kWh (the store's sum, bit for bit).
    public var energyKwh: Double
    public var revision: UInt32
    public var good: UInt32
    public var scrap: UInt32
    /// Milliseconds in running / planned states (a window is at most 25 h = 90,000,000 ms).
    public var runMs: UInt32
    public var plannedMs: UInt32
    /// Cycle percentiles, ms; `UInt32.max` = `null`.
    public var p50: UInt32
    public var p90: UInt32
    public var p99: UInt32

    static let none = UInt32.max

    /// The compact form of `row`, or `nil` when a value does not fit (see the type's comment) or
    /// the row's times are not whole milliseconds.
    public init?(_ row: WindowRow) {
        func fits(_ v: Int64) -> UInt32? { v >= 0 && v < Int64(UInt32.max) ? UInt32(v) : nil }
        func ms(_ seconds: Double) -> UInt32? {
            let v = (seconds * 1000).rounded()
            guard v >= 0, v < Double(UInt32.max), Double(Int64(v)) / 1000 == seconds else { return nil }
            return UInt32(v)
        }
        func percentile(_ v: Int?) -> UInt32? {
            guard let v else { return Self.none }
            return v >= 0 && v < Int(UInt32.max) ? UInt32(v) : nil
        }
        guard let revision = fits(row.revision), let good = fits(row.good), let scrap = fits(row.scrap),
              let runMs = ms(row.runS), let plannedMs = ms(row.plannedS),
              let p50 = percentile(row.cycleMsP50), let p90 = percentile(row.cycleMsP90), let p99 = percentile(row.cycleMsP99)
        else { return nil }
        self.start = row.start
        self.energyKwh = row.energyKwh
        self.revision = revision
        self.good = good
        self.scrap = scrap
        self.runMs = runMs
        self.plannedMs = plannedMs
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
    }

    /// The window object again (KPIs recomputed; `idealCycleS` ≤ 0 means none, as in the store).
    public func windowRow(site: String, line: String, station: String, tier: WindowTier, end: Int64,
                          idealCycleS: Double) -> WindowRow {
        var counts = WindowAccumulator(tier: tier, bounds: WindowBounds(start: start, end: end), revision: Int64(revision))
        counts.good = Int64(good)
        counts.scrap = Int64(scrap)
        counts.energyKwh = energyKwh
        var row = WindowRow(site: site, line: line, station: station, counts: counts, runMs: Int64(runMs),
                            plannedMs: Int64(plannedMs),
                            idealCycleS: idealCycleS.isFinite && idealCycleS > 0 ? idealCycleS : nil)
        row.cycleMsP50 = p50 == Self.none ? nil : Int(p50)
        row.cycleMsP90 = p90 == Self.none ? nil : Int(p90)
        row.cycleMsP99 = p99 == Self.none ? nil : Int(p99)
        return row
    }
}

/// The last `capacity` windows of one station and tier, by window ordinal
/// (``WindowCalendar/ordinal(of:tier:)``): slot = ordinal mod capacity, any capacity (not only
/// powers of two: 180 minutes take 180 slots, not 256).
///
/// The ring *vouches* for the ordinals above ``floor``: for each of them it holds the latest
/// revision of the row, or there is no row. That holds as long as every row written for the
/// station passes through ``put(_:ordinal:)`` (the daemon: every committed row) after the
/// ring was filled from the store. A newer ordinal evicts those `capacity` behind it (the floor
/// rises); a row that ``LiveRow`` cannot represent raises the floor to its ordinal.
///
/// Memory: `capacity × 48` bytes once the first row arrives, none before.
public struct LiveRing: Sendable {
    public let capacity: Int
    private var slots: [LiveRow] = []
    private var ordinals: [Int64] = []
    /// Newest ordinal held or put (nil: none yet).
    public private(set) var newest: Int64?
    /// The ring vouches for ordinals above this one (`Int64.min`: all).
    private var invalidThrough: Int64

    /// - Parameters:
    ///   - capacity: windows held (≥ 1).
    ///   - floor: the ring vouches only for ordinals above it (what the store fill covered).
    public init(capacity: Int, floor: Int64 = Int64.min) {
        self.capacity = max(1, capacity)
        self.invalidThrough = floor
    }

    /// The ring vouches for every ordinal above this one.
    public var floor: Int64 {
        guard let newest else { return invalidThrough }
        let (evicted, overflow) = newest.subtractingReportingOverflow(Int64(capacity))
        return overflow ? invalidThrough : max(invalidThrough, evicted)
    }

    private func slot(_ ordinal: Int64) -> Int {
        let m = ordinal % Int64(capacity)
        return Int(m < 0 ? m + Int64(capacity) : m)
    }

    /// Puts the row of window `ordinal` (a later revision replaces an earlier one; an earlier
    /// one is ignored). `row == nil`: a row was written that the ring cannot represent.
    /// Rows at or below ``floor`` change nothing (the store has them).
    public mutating func put(_ row: LiveRow?, ordinal: Int64) {
        guard ordinal > floor else { return }
        if slots.isEmpty {
            slots = Array(repeating: LiveRow.empty, count: capacity)
            ordinals = Array(repeating: Int64.min, count: capacity)
        }
        if newest == nil || ordinal > newest! { newest = ordinal }
        let s = slot(ordinal)
        guard let row else {
            invalidThrough = max(invalidThrough, ordinal)
            if ordinals[s] == ordinal { ordinals[s] = Int64.min }
            return
        }
        if ordinals[s] == ordinal && slots[s].revision > row.revision { return }
        slots[s] = row
        ordinals[s] = ordinal
    }

    /// The rows of ordinals `lower...upper` held, oldest first, or `nil` when the ring does not
    /// vouch for all of them (`lower ≤ floor`).
    public func rows(ordinals lower: Int64, _ upper: Int64) -> [LiveRow]? {
        guard lower > floor else { return nil }
        guard lower <= upper, !slots.isEmpty, let newest else { return [] }
        let top = min(upper, newest)
        guard lower <= top else { return [] }
        var out: [LiveRow] = []
        var o = lower
        while o <= top {
            let s = slot(o)
            if ordinals[s] == o { out.append(slots[s]) }
            o += 1
        }
        return out
    }

    /// Rows held now (above the floor).
    public var count: Int {
        let f = floor
        return ordinals.lazy.filter { $0 != Int64.min && $0 > f }.count
    }

    /// Bytes of the slots (0 before the first row).
    public var bytes: Int { slots.count * (MemoryLayout<LiveRow>.stride + MemoryLayout<Int64>.stride) }
}

extension LiveRow {
    static let empty = LiveRow(start: 0)

    private init(start: Int64) {
        self.start = start
        energyKwh = 0
        revision = 0
        good = 0
        scrap = 0
        runMs = 0
        plannedMs = 0
        p50 = Self.none
        p90 = Self.none
        p99 = Self.none
    }
}
