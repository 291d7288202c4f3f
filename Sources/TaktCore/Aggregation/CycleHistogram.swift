/// A mergeable histogram of cycle times (integer ms in `1…86_400_000`) whose percentiles are
/// within 1% of the exact ones.
///
/// The 780 buckets are fixed integer ranges `[lo, hi]` built so that one representative
/// integer `r` is within 1% of every value of the bucket: `r = lo + ⌊lo/100⌋`,
/// `hi = ⌊100·r/99⌋` (values below 100 get a bucket each, so they are exact). A percentile is
/// the representative of the bucket that holds the exact nearest-rank percentile, so
/// `|reported − exact| ≤ 1% · exact`.
///
/// Storage is sparse: 6 bytes per non-empty bucket (a station's cycle times cluster in a few
/// dozen buckets), nothing while empty. A dense 780-bucket array (3 KB per window) made the
/// pending windows of a 4,000-station commit, and the rows the store merges, the bulk of the
/// daemon's memory (docs/BENCHMARKS.md). ``add(_:)`` is O(log 780) to find the bucket plus
/// O(log n) in the non-empty ones, and an insert when a bucket is first used.
public struct CycleHistogram: Sendable, Equatable {
    /// Lowest value of each bucket (ascending); `lowerBounds[0] == 1`.
    public static let lowerBounds: [UInt32] = {
        var out: [UInt32] = []
        var lo: UInt64 = 1
        while lo <= 86_400_000 {
            out.append(UInt32(lo))
            let r = lo + lo / 100
            lo = (100 * r) / 99 + 1
        }
        return out
    }()

    /// The value reported for bucket `i`.
    @inline(__always)
    public static func representative(_ i: Int) -> Int {
        let lo = Int(lowerBounds[i])
        return lo + lo / 100
    }

    /// Indices of the non-empty buckets, strictly ascending.
    private var indices: [UInt16] = []
    /// The count of each bucket in `indices` (same positions), each > 0.
    private var tallies: [UInt32] = []
    /// Number of values added.
    public private(set) var count: Int64 = 0

    public init() {}

    /// The bucket holding `ms` (clamped to `1…86_400_000`).
    @inline(__always)
    public static func bucket(_ ms: Int) -> Int {
        let v = UInt32(clamping: max(1, min(ms, 86_400_000)))
        return lowerBounds.withUnsafeBufferPointer { b in
            // Last index with b[i] <= v.
            var lo = 0
            var hi = b.count
            while lo < hi {
                let mid = (lo + hi) >> 1
                if b[mid] <= v { lo = mid + 1 } else { hi = mid }
            }
            return lo - 1
        }
    }

    /// Adds one cycle time, ms.
    @inline(__always)
    public mutating func add(_ ms: Int) {
        insert(UInt16(Self.bucket(ms)), tally: 1)
    }

    /// Adds `tally` to bucket `b`, keeping `indices` sorted.
    private mutating func insert(_ b: UInt16, tally: UInt32) {
        // Cycle times cluster: the bucket is usually one already used; binary search it.
        var lo = 0
        var hi = indices.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if indices[mid] < b { lo = mid + 1 } else { hi = mid }
        }
        if lo < indices.count && indices[lo] == b {
            tallies[lo] &+= tally
        } else {
            indices.insert(b, at: lo)
            tallies.insert(tally, at: lo)
        }
        count += Int64(tally)
    }

    /// Adds every value of `other`.
    public mutating func merge(_ other: CycleHistogram) {
        guard other.count > 0 else { return }
        if count == 0 {
            self = other
            return
        }
        var mergedIndices: [UInt16] = []
        var mergedTallies: [UInt32] = []
        mergedIndices.reserveCapacity(indices.count + other.indices.count)
        mergedTallies.reserveCapacity(indices.count + other.indices.count)
        var i = 0
        var j = 0
        while i < indices.count || j < other.indices.count {
            if j == other.indices.count || (i < indices.count && indices[i] < other.indices[j]) {
                mergedIndices.append(indices[i]); mergedTallies.append(tallies[i]); i += 1
            } else if i == indices.count || other.indices[j] < indices[i] {
                mergedIndices.append(other.indices[j]); mergedTallies.append(other.tallies[j]); j += 1
            } else {
                mergedIndices.append(indices[i]); mergedTallies.append(tallies[i] &+ other.tallies[j]); i += 1; j += 1
            }
        }
        indices = mergedIndices
        tallies = mergedTallies
        count += other.count
    }

    /// The nearest-rank percentile (`p` in `(0, 1]`): the value of rank `⌈p·count⌉`, within 1%;
    /// `nil` when empty.
    public func percentile(_ p: Double) -> Int? {
        guard count > 0 else { return nil }
        let rank = max(1, Int64((p * Double(count)).rounded(.up)))
        return valueAt(rank: rank)
    }

    /// p50, p90, p99 with exact integer ranks (`⌈50·n/100⌉` …); `nil`s when empty.
    public var p50p90p99: (p50: Int?, p90: Int?, p99: Int?) {
        guard count > 0 else { return (nil, nil, nil) }
        func rank(_ pct: Int64) -> Int64 { max(1, (count * pct + 99) / 100) }
        return (valueAt(rank: rank(50)), valueAt(rank: rank(90)), valueAt(rank: rank(99)))
    }

    private func valueAt(rank: Int64) -> Int? {
        var cum: Int64 = 0
        for (position, tally) in tallies.enumerated() {
            cum += Int64(tally)
            if cum >= rank { return Self.representative(Int(indices[position])) }
        }
        return nil
    }

    /// Non-empty buckets as `(bucket index, count)`, for persistence.
    public var nonEmptyBuckets: [(bucket: Int, count: UInt32)] {
        zip(indices, tallies).map { (Int($0), $1) }
    }

    /// Rebuilds a histogram from ``nonEmptyBuckets``; `nil` if an index is out of range.
    public init?(buckets: [(bucket: Int, count: UInt32)]) {
        for (b, c) in buckets {
            guard b >= 0 && b < Self.lowerBounds.count else { return nil }
            if c == 0 { continue }
            insert(UInt16(b), tally: c)
        }
    }
}

extension CycleHistogram: Codable {
    private enum CodingKeys: String, CodingKey { case buckets, counts }

    /// Sparse form: `{"buckets": [i…], "counts": [n…]}`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        let nz = nonEmptyBuckets
        try c.encode(nz.map(\.bucket), forKey: .buckets)
        try c.encode(nz.map(\.count), forKey: .counts)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let b = try c.decode([Int].self, forKey: .buckets)
        let n = try c.decode([UInt32].self, forKey: .counts)
        guard b.count == n.count, let h = CycleHistogram(buckets: Array(zip(b, n)).map { ($0, $1) }) else {
            throw DecodingError.dataCorruptedError(forKey: .buckets, in: c, debugDescription: "bad histogram buckets")
        }
        self = h
    }
}
