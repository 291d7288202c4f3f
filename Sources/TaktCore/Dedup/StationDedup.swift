/// Exactly-once state of one station `(site, line, station)` across device restarts.
///
/// Each `boot` is its own source with its own ``SeqWindow``. The newest `keepBoots` boots
/// (default 2) are held, so late or redelivered messages of the boot before a restart are
/// still deduplicated. A message of a boot older than all held boots when `keepBoots` are
/// already held is `.tooOldToTell` (it cannot be proven new). When a newer boot pushes the
/// oldest out, that boot's `missing` and `duplicates` move into `retiredMissing` and
/// `retiredDuplicates`, so the station's totals never go down. Gaps at the very end of a boot
/// (messages lost just before a restart) cannot be seen and are not counted as missing.
public struct StationDedup: Sendable, Equatable, Codable {
    /// Held boots, newest first; at most `keepBoots`.
    public private(set) var boots: [Boot]
    public let keepBoots: Int
    public let capacity: Int
    public private(set) var retiredMissing: Int64
    public private(set) var retiredDuplicates: Int64

    public struct Boot: Sendable, Equatable, Codable {
        public var boot: Int64
        public var window: SeqWindow
    }

    /// - Parameters:
    ///   - capacity: bitmap size per boot (see ``SeqWindow/init(capacity:)``).
    ///   - keepBoots: boots held at once, ≥ 1.
    public init(capacity: Int = 4096, keepBoots: Int = 2) {
        precondition(keepBoots >= 1)
        self.boots = []
        self.keepBoots = keepBoots
        self.capacity = capacity
        self.retiredMissing = 0
        self.retiredDuplicates = 0
    }

    /// Records `(boot, seq)`; see the type's documentation for boots.
    ///
    /// A boot the station does not hold yet is believed only within `limits`: at most
    /// `maxBootGap` above the newest boot (else `.bootJump`), and — a restarted device starts
    /// its seq again — with a first seq of at most `maxSeqGap` (else `.seqJump`). A station's
    /// very first message, and a late one of an older boot, are taken as they come (the daemon
    /// may start long after the device; the boot before a restart ran for a while).
    /// Verdicts other than `.new` and `.duplicate` change nothing.
    public mutating func accept(boot: Int64, seq: Int64, limits: DedupLimits = DedupLimits()) -> DedupVerdict {
        if let k = boots.firstIndex(where: { $0.boot == boot }) {
            return boots[k].window.accept(seq, maxGap: limits.maxSeqGap)
        }
        if let newest = boots.first?.boot, boot > newest {
            let (jump, overflow) = boot.subtractingReportingOverflow(newest)
            if overflow || jump > limits.maxBootGap { return .bootJump }
            if seq > limits.maxSeqGap { return .seqJump }
        }
        // A boot we do not hold: new if newer than the oldest held, or if there is room.
        let insertAt = boots.firstIndex(where: { $0.boot < boot }) ?? boots.count
        if insertAt >= keepBoots { return .staleBoot }
        var w = SeqWindow(capacity: capacity)
        let verdict = w.accept(seq, maxGap: limits.maxSeqGap)
        boots.insert(Boot(boot: boot, window: w), at: insertAt)
        if boots.count > keepBoots {
            let gone = boots.removeLast()
            retiredMissing = retiredMissing.saturatingAdd(gone.window.missing)
            retiredDuplicates = retiredDuplicates.saturatingAdd(gone.window.duplicates)
        }
        return verdict
    }

    /// Whether every seq of `range` of `boot` has been accepted (false for a boot not held).
    public func hasAll(boot: Int64, _ range: Range<Int64>) -> Bool {
        boots.first { $0.boot == boot }?.window.containsAll(range) ?? false
    }

    /// The newest boot seen (`nil` before the first message).
    public var currentBoot: Int64? { boots.first?.boot }

    /// Gaps over all boots this station has had (see ``SeqWindow`` for the definition).
    public var missing: Int64 { boots.reduce(retiredMissing) { $0.saturatingAdd($1.window.missing) } }

    /// Duplicates over all boots.
    public var duplicates: Int64 { boots.reduce(retiredDuplicates) { $0.saturatingAdd($1.window.duplicates) } }
}

/// Dedup state of every station, keyed by whatever the caller uses to name a station (an
/// interned id, or `(site, line, station)`). Memory: O(stations × keepBoots × capacity/8).
///
/// Stations changed since the last ``drainChanged()`` are remembered, so the store persists
/// only those in the same transaction as the windows.
public struct DedupTable<Key: Hashable & Sendable>: Sendable {
    public private(set) var stations: [Key: StationDedup] = [:]
    public let capacity: Int
    public let keepBoots: Int
    private var changed: Set<Key> = []

    public init(capacity: Int = 4096, keepBoots: Int = 2) {
        self.capacity = capacity
        self.keepBoots = keepBoots
    }

    /// Records a message of `station` and says whether to count it.
    public mutating func accept(_ station: Key, boot: Int64, seq: Int64, limits: DedupLimits = DedupLimits()) -> DedupVerdict {
        let verdict = stations[station, default: StationDedup(capacity: capacity, keepBoots: keepBoots)]
            .accept(boot: boot, seq: seq, limits: limits)
        changed.insert(station)
        return verdict
    }

    /// The state of one station, for persisting.
    public subscript(station: Key) -> StationDedup? { stations[station] }

    /// Puts back a persisted state (on start, before replaying the journal).
    public mutating func restore(_ station: Key, _ state: StationDedup) {
        stations[station] = state
    }

    /// The stations changed since the last call, and forgets them.
    public mutating func drainChanged() -> [Key] {
        defer { changed.removeAll(keepingCapacity: true) }
        return Array(changed)
    }
}

// MARK: - Binary form (in this file: it sets the `private(set)` properties)

extension StationDedup {
    /// The compact persisted form (what the aggregator's snapshots carry), little-endian:
    /// `0x44` ('D'), version `1`, `keepBoots` u32, `capacity` u32, `retiredMissing` i64,
    /// `retiredDuplicates` i64, boot count u8, then per boot (newest first) `boot` i64 and
    /// ``SeqWindow/serialized()`` (45 + capacity/8 bytes).
    ///
    /// Two boots at the default capacity are 1.1 KB, against 2.6 KB of `JSONEncoder` output, and
    /// writing it is a copy instead of a trip through `Encoder`: the JSON form was most of a
    /// commit's drain time (docs/BENCHMARKS.md). Snapshots written as JSON by older versions
    /// still restore (``Aggregator/restore(stations:sites:)`` tells them apart by the first byte).
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(26 + boots.count * (8 + 45 + capacity / 8))
        out.append(0x44)
        out.append(1)
        withUnsafeBytes(of: UInt32(keepBoots).littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(capacity).littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: retiredMissing.littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: retiredDuplicates.littleEndian) { out.append(contentsOf: $0) }
        out.append(UInt8(boots.count))
        for b in boots {
            withUnsafeBytes(of: b.boot.littleEndian) { out.append(contentsOf: $0) }
            out.append(contentsOf: b.window.serialized())
        }
        return out
    }

    /// Restores ``serialized()`` output; `nil` when the bytes are not a valid version 1 form
    /// (wrong header, sizes that do not fit, boots not newest first, trailing bytes).
    public init?(serialized b: [UInt8]) {
        guard b.count >= 27, b[0] == 0x44, b[1] == 1 else { return nil }
        func u32(_ at: Int) -> Int {
            var v = 0
            for k in 0..<4 { v |= Int(b[at + k]) << (8 * k) }
            return v
        }
        func i64(_ at: Int) -> Int64 {
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(b[at + k]) << (8 * UInt64(k)) }
            return Int64(bitPattern: v)
        }
        let keep = u32(2), cap = u32(6)
        let count = Int(b[26])
        guard keep >= 1, count <= keep, cap >= 64, cap & (cap - 1) == 0 else { return nil }
        let windowBytes = 45 + cap / 8
        guard b.count == 27 + count * (8 + windowBytes) else { return nil }
        var boots: [Boot] = []
        var at = 27
        for _ in 0..<count {
            let boot = i64(at)
            guard let window = SeqWindow(serialized: Array(b[(at + 8)..<(at + 8 + windowBytes)])),
                  window.capacity == cap, boots.last.map({ $0.boot > boot }) ?? true else { return nil }
            boots.append(Boot(boot: boot, window: window))
            at += 8 + windowBytes
        }
        self.init(capacity: cap, keepBoots: keep)
        self.boots = boots
        self.retiredMissing = i64(10)
        self.retiredDuplicates = i64(18)
    }
}
