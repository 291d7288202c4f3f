/// What dedup says about one `(source, seq)`.
public enum DedupVerdict: Sendable, Hashable {
    /// Not seen before: count it.
    case new
    /// Already counted: change nothing (count a duplicate).
    case duplicate
    /// So far below the highest seq (at least `capacity` behind) that the bitmap no longer
    /// knows; not counted, to keep exactly-once. The daemon dead-letters it as `stale_seq`.
    case tooOldToTell
    /// More than `max_seq_gap` above the source's highest seq (or a new, newer boot whose first
    /// seq is above `max_seq_gap`): not counted and nothing moves (`seq_jump`). One such message
    /// must not make every later seq of the source look stale.
    case seqJump
    /// More than `max_boot_gap` above the station's newest boot: not counted, nothing moves
    /// (`boot_jump`), so it cannot push the real boot out.
    case bootJump
    /// A boot older than every boot the station holds, when it holds `keepBoots` already: it
    /// cannot be proven new (`stale_boot`).
    case staleBoot
}

/// The bounds dedup keeps on what devices send (contract section 8).
public struct DedupLimits: Sendable, Equatable {
    /// `max_seq_gap`: the largest forward jump of a source's seq that is believed (and so the
    /// most one gap adds to `missing`). Default 1,000,000.
    public var maxSeqGap: Int64
    /// `max_boot_gap`: the largest forward jump of a station's boot that is believed. Default
    /// 2^32, so boots counted up by one and boots in seconds since the epoch both work.
    public var maxBootGap: Int64

    public init(maxSeqGap: Int64 = 1_000_000, maxBootGap: Int64 = 1 << 32) {
        precondition(maxSeqGap >= 1 && maxBootGap >= 1)
        self.maxSeqGap = maxSeqGap
        self.maxBootGap = maxBootGap
    }
}

extension Int64 {
    /// `self + other`, stopping at `Int64.max` / `Int64.min` instead of trapping (counters of
    /// wire-driven events).
    @inline(__always)
    public func saturatingAdd(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}

/// Exactly-once state of one source `(site, line, station, boot)`: the highest `seq` seen plus
/// a bitmap of the last `capacity` seqs, so memory is O(capacity/8) bytes, whatever the
/// number of messages.
///
/// **Missing** (contract section 3, "a gap in a source's seq"):
/// `missing` = the number of seqs `s` with `first < s < highest` that have not been accepted,
/// where `first` is the first seq this source ever accepted (earlier seqs are not known to be
/// missing: the daemon may have started after them). Concretely:
/// - when `seq > highest`, `missing += seq − highest − 1` (the gap it jumps);
/// - when a late `seq` fills such a gap while it is still inside the bitmap
///   (`highest − seq < capacity`), `missing −= 1`;
/// - a late `seq` below `first` but inside the bitmap is `.new` and leaves `missing` alone;
/// - once a gap is `capacity` or more behind `highest` it stays missing: a late arrival is
///   `.tooOldToTell`.
///
/// The bitmap is a ring indexed by `seq & (capacity − 1)`; bit set ⇔ that seq was accepted,
/// valid for seqs in `(highest − capacity, highest]`.
public struct SeqWindow: Sendable, Equatable, Codable {
    /// Bits in the bitmap: a power of two, at least 64.
    public let capacity: Int
    /// Highest seq accepted; -1 before the first message.
    public private(set) var highest: Int64
    /// The first seq accepted (the baseline of `missing`); -1 before the first message.
    public private(set) var first: Int64
    /// Gaps, as defined above. Never negative.
    public private(set) var missing: Int64
    /// Messages answered `.duplicate`.
    public private(set) var duplicates: Int64
    /// Messages answered `.tooOldToTell`.
    public private(set) var tooOld: Int64
    private var bits: [UInt64]

    /// - Parameter capacity: bits of history, rounded up to a power of two ≥ 64. Default 4096
    ///   (512 bytes per source).
    public init(capacity: Int = 4096) {
        var c = 64
        while c < capacity { c <<= 1 }
        self.capacity = c
        self.highest = -1
        self.first = -1
        self.missing = 0
        self.duplicates = 0
        self.tooOld = 0
        self.bits = [UInt64](repeating: 0, count: c / 64)
    }

    /// Whether no message has been accepted yet.
    public var isEmpty: Bool { highest < 0 }

    @inline(__always)
    private func position(_ seq: Int64) -> (word: Int, mask: UInt64) {
        let bit = Int(truncatingIfNeeded: seq) & (capacity - 1)
        return (bit >> 6, 1 << UInt64(bit & 63))
    }

    /// Records `seq` (≥ 0) and says whether it is new.
    ///
    /// - Parameter maxGap: `max_seq_gap`; a seq more than this above `highest` is `.seqJump`
    ///   and changes nothing (the first seq of a source is taken as it comes).
    /// - Complexity: amortized O(1) (a jump clears each bitmap position at most once per
    ///   `capacity` seqs of progress; a jump of `capacity` or more clears the words in one go).
    public mutating func accept(_ seq: Int64, maxGap: Int64 = DedupLimits().maxSeqGap) -> DedupVerdict {
        precondition(seq >= 0, "seq must be ≥ 0")
        if highest < 0 {
            highest = seq
            first = seq
            set(seq)
            return .new
        }
        if seq > highest {
            // Both are ≥ 0, so the difference cannot overflow.
            guard seq - highest <= maxGap else { return .seqJump }
            let gap = seq - highest - 1
            missing = missing.saturatingAdd(gap)
            if seq - highest >= Int64(capacity) {
                for w in bits.indices { bits[w] = 0 }
            } else {
                var s = highest + 1
                while s < seq { clear(s); s += 1 }
            }
            highest = seq
            set(seq)
            return .new
        }
        if highest - seq >= Int64(capacity) {
            tooOld = tooOld.saturatingAdd(1)
            return .tooOldToTell
        }
        let (w, m) = position(seq)
        if bits[w] & m != 0 {
            duplicates = duplicates.saturatingAdd(1)
            return .duplicate
        }
        bits[w] |= m
        if seq > first { missing -= 1 }
        return .new
    }

    /// Whether every seq of `range` is known to have been accepted (false when any is missing or
    /// outside the bitmap). O(range count), at most `capacity`.
    public func containsAll(_ range: Range<Int64>) -> Bool {
        guard !range.isEmpty else { return true }
        guard range.count <= capacity else { return false }
        for seq in range where contains(seq) != true { return false }
        return true
    }

    /// Whether `seq` is known to have been accepted (`nil`: outside the bitmap, cannot tell).
    public func contains(_ seq: Int64) -> Bool? {
        if highest < 0 || seq > highest { return false }
        if highest - seq >= Int64(capacity) { return nil }
        let (w, m) = position(seq)
        return bits[w] & m != 0
    }

    @inline(__always) private mutating func set(_ seq: Int64) {
        let (w, m) = position(seq)
        bits[w] |= m
    }

    @inline(__always) private mutating func clear(_ seq: Int64) {
        let (w, m) = position(seq)
        bits[w] &= ~m
    }

    private enum CodingKeys: String, CodingKey {
        case capacity, highest, first, missing, duplicates, tooOld = "too_old", bits
    }

    /// Decodes the Codable form, checking that the bitmap matches the capacity.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        capacity = try c.decode(Int.self, forKey: .capacity)
        highest = try c.decode(Int64.self, forKey: .highest)
        first = try c.decode(Int64.self, forKey: .first)
        missing = try c.decode(Int64.self, forKey: .missing)
        duplicates = try c.decode(Int64.self, forKey: .duplicates)
        tooOld = try c.decode(Int64.self, forKey: .tooOld)
        bits = try c.decode([UInt64].self, forKey: .bits)
        guard capacity >= 64, capacity & (capacity - 1) == 0, bits.count == capacity / 64 else {
            throw DecodingError.dataCorruptedError(forKey: .bits, in: c,
                debugDescription: "bitmap of \(bits.count) words does not fit capacity \(capacity)")
        }
    }

    // MARK: - Bytes form

    /// Compact little-endian bytes for the store: version 1, capacity (u32), highest, first,
    /// missing, duplicates, tooOld (i64 each), then the bitmap words (u64 each).
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1 + 4 + 5 * 8 + bits.count * 8)
        out.append(1)
        withUnsafeBytes(of: UInt32(capacity).littleEndian) { out.append(contentsOf: $0) }
        for v in [highest, first, missing, duplicates, tooOld] {
            withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
        }
        for w in bits { withUnsafeBytes(of: w.littleEndian) { out.append(contentsOf: $0) } }
        return out
    }

    /// Restores ``serialized()`` output; `nil` when the bytes are not a valid version 1 form.
    public init?(serialized b: [UInt8]) {
        guard b.count >= 45, b[0] == 1 else { return nil }
        func u64(_ at: Int) -> UInt64 {
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(b[at + k]) << (8 * UInt64(k)) }
            return v
        }
        var cap = 0
        for k in 0..<4 { cap |= Int(b[1 + k]) << (8 * k) }
        guard cap >= 64, cap & (cap - 1) == 0, b.count == 45 + cap / 8 else { return nil }
        self.capacity = cap
        self.highest = Int64(bitPattern: u64(5))
        self.first = Int64(bitPattern: u64(13))
        self.missing = Int64(bitPattern: u64(21))
        self.duplicates = Int64(bitPattern: u64(29))
        self.tooOld = Int64(bitPattern: u64(37))
        self.bits = (0..<(cap / 64)).map { u64(45 + $0 * 8) }
    }
}
