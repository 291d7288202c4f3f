import DequeModule

/// One station's state step function (contract sections 2–3).
///
/// A state holds from its `ts` until the next state of the station by `ts`, whatever the
/// arrival order. Before the first state, and after the site's horizon (its newest event ts,
/// of any message), the state is unknown. States with equal `ts` are ordered by
/// `(boot, seq)`; the last of them is the one that holds (the others last 0 ms), so the
/// result does not depend on arrival order.
///
/// All times are integer epoch milliseconds; convert to seconds only at the edge.
/// Memory: one entry per state change kept; see ``prune(before:)``.
public struct StateTimeline: Sendable, Equatable, Codable {
    /// One state change.
    public struct Entry: Sendable, Equatable, Codable {
        /// When the state starts, epoch ms.
        public var ts: Int64
        public var boot: Int64
        public var seq: Int64
        public var state: StateCode

        public init(ts: Int64, boot: Int64 = 0, seq: Int64 = 0, state: StateCode) {
            self.ts = ts
            self.boot = boot
            self.seq = seq
            self.state = state
        }

        @inline(__always)
        func precedes(_ o: Entry) -> Bool {
            if ts != o.ts { return ts < o.ts }
            if boot != o.boot { return boot < o.boot }
            return seq < o.seq
        }
    }

    /// Entries sorted by `(ts, boot, seq)`.
    public private(set) var entries: Deque<Entry> = []

    public init() {}

    /// Restores persisted entries (any order; they are sorted here).
    public init(entries: [Entry]) {
        self.entries = Deque(entries.sorted { $0.precedes($1) })
    }

    /// Inserts a state change, in place (late events land where their `ts` says).
    ///
    /// - Returns: the time range `[lower, upper)` whose state changed (`upper` is `Int64.max`
    ///   when the change holds up to the horizon), so the caller can mark the windows that
    ///   overlap it dirty; `nil` when nothing changed (a repeated entry, the same state as the
    ///   one already holding, or an entry hidden by a later one with the same `ts`).
    /// - Complexity: O(log n) to find the place; O(1) amortized for in-order appends, O(n)
    ///   worst case for a late insert in the middle.
    @discardableResult
    public mutating func insert(_ e: Entry) -> Range<Int64>? {
        // Fast path: append.
        var k = entries.count
        if let last = entries.last, !last.precedes(e) {
            k = lowerBound { $0.precedes(e) }
            if k < entries.count && entries[k] == e { return nil }
            if k < entries.count && entries[k].ts == e.ts && entries[k].boot == e.boot && entries[k].seq == e.seq {
                // Same (ts, boot, seq), different state: keep the first one seen (dedup should
                // make this impossible).
                return nil
            }
        }
        entries.insert(e, at: k)
        let next = k + 1 < entries.count ? entries[k + 1] : nil
        if let next, next.ts == e.ts { return nil }  // hidden by a later entry at the same ts
        if k > 0 && entries[k - 1].state == e.state { return nil }
        return e.ts..<(next?.ts ?? Int64.max)
    }

    /// Inserts a decoded state message.
    @discardableResult
    public mutating func insert(_ s: StateEvent) -> Range<Int64>? {
        insert(Entry(ts: s.ts, boot: s.boot, seq: s.seq, state: s.state))
    }

    /// The state holding at `ts` (ignoring the horizon), or `nil` before the first state.
    public func state(at ts: Int64) -> StateCode? {
        let k = lowerBound { $0.ts <= ts }
        return k == 0 ? nil : entries[k - 1].state
    }

    /// Run and planned time inside `window`, in ms, counting nothing at or after `horizon`.
    ///
    /// run = states 10000–29999; planned = known states other than 160000–179999; unknown
    /// states (30000–39999) and unknown time count in neither. Invariant: `runMs ≤ plannedMs`.
    /// - Complexity: O(log n + entries inside the window).
    public func accumulate(over window: WindowBounds, horizon: Int64) -> (runMs: Int64, plannedMs: Int64) {
        let stop = min(window.end, horizon)
        guard stop > window.start, !entries.isEmpty else { return (0, 0) }
        // First entry that can hold inside the window: the last one at or before its start.
        var k = lowerBound { $0.ts <= window.start }
        if k > 0 { k -= 1 }
        var run: Int64 = 0
        var planned: Int64 = 0
        while k < entries.count {
            let e = entries[k]
            if e.ts >= stop { break }
            let until = k + 1 < entries.count ? entries[k + 1].ts : Int64.max
            let lo = max(e.ts, window.start)
            let hi = min(until, stop)
            if hi > lo {
                if e.state.isPlanned { planned += hi - lo }
                if e.state.isRunning { run += hi - lo }
            }
            k += 1
        }
        return (run, planned)
    }

    /// Drops entries before `cutoff` (epoch ms) except the last one before it, which still
    /// holds at `cutoff`. Windows that end at or before `cutoff` can no longer be recomputed.
    public mutating func prune(before cutoff: Int64) {
        let k = lowerBound { $0.ts < cutoff }  // entries[0..<k] have ts < cutoff
        if k > 1 { entries.removeFirst(k - 1) }
    }

    /// The first index whose entry does not satisfy `pred`, where `pred` is true for a prefix.
    @inline(__always)
    private func lowerBound(_ pred: (Entry) -> Bool) -> Int {
        var lo = 0
        var hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if pred(entries[mid]) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}

// MARK: - Binary form

extension StateTimeline {
    /// The compact persisted form (what the aggregator's snapshots carry when a timeline
    /// changed), little-endian: `0x54` ('T'), version `1`, entry count u32, then per entry in
    /// order `ts` i64, `boot` i64, `seq` i64, `state` u32 (28 bytes an entry, against ≈ 70 of
    /// `JSONEncoder` output, and a copy instead of a trip through `Encoder` on the drain path).
    /// Snapshots written as JSON by older versions still restore
    /// (``Aggregator/restore(stations:sites:)`` tells them apart by the first byte, `{`).
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(6 + entries.count * 28)
        out.append(0x54)
        out.append(1)
        withUnsafeBytes(of: UInt32(entries.count).littleEndian) { out.append(contentsOf: $0) }
        for e in entries {
            withUnsafeBytes(of: e.ts.littleEndian) { out.append(contentsOf: $0) }
            withUnsafeBytes(of: e.boot.littleEndian) { out.append(contentsOf: $0) }
            withUnsafeBytes(of: e.seq.littleEndian) { out.append(contentsOf: $0) }
            withUnsafeBytes(of: e.state.rawValue.littleEndian) { out.append(contentsOf: $0) }
        }
        return out
    }

    /// Restores ``serialized()`` output; `nil` when the bytes are not a valid version 1 form
    /// (wrong header, a length that does not match the count).
    public init?(serialized b: [UInt8]) {
        guard b.count >= 6, b[0] == 0x54, b[1] == 1 else { return nil }
        func load<T: FixedWidthInteger>(_ at: Int, as: T.Type) -> T {
            var v: T = 0
            for k in 0..<(T.bitWidth / 8) { v |= T(truncatingIfNeeded: b[at + k]) << (8 * k) }
            return v
        }
        let count = load(2, as: UInt32.self)
        let body = b.count - 6
        guard body % 28 == 0, UInt64(count) == UInt64(body / 28) else { return nil }
        var entries: [Entry] = []
        entries.reserveCapacity(body / 28)
        var at = 6
        for _ in 0..<(body / 28) {
            entries.append(Entry(ts: load(at, as: Int64.self), boot: load(at + 8, as: Int64.self),
                                 seq: load(at + 16, as: Int64.self),
                                 state: StateCode(rawValue: load(at + 24, as: UInt32.self))))
            at += 28
        }
        self.init(entries: entries)
    }
}
