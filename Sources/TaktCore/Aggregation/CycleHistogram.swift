/// A mergeable histogram of cycle times (integer ms in `1…86_400_000`) whose percentiles are
/// within 1% of the exact ones.
///
/// The 780 buckets are fixed integer ranges `[lo, hi]` built so that one representative
/// integer `r` is within 1% of every value of the bucket: `r = lo + ⌊lo/100⌋`,
/// `hi = ⌊100·r/99⌋` (values below 100 get a bucket each, so they are exact). A percentile is
/// the representative of the bucket that holds the exact nearest-rank percentile, so
/// `|reported − exact| ≤ 1% · exact`.
///
/// Size: 780 × `UInt32` = 3120 bytes, allocated on the first ``add(_:)``; no allocation after.
/// ``add(_:)`` is O(log 780) (binary search over the bucket bounds).
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

    /// Per-bucket counts; empty until the first value.
    private var counts: [UInt32] = []
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
        if counts.isEmpty { counts = [UInt32](repeating: 0, count: Self.lowerBounds.count) }
        counts[Self.bucket(ms)] &+= 1
        count += 1
    }

    /// Adds every value of `other`.
    public mutating func merge(_ other: CycleHistogram) {
        guard other.count > 0 else { return }
        if counts.isEmpty { counts = other.counts; count = other.count; return }
        for i in counts.indices { counts[i] &+= other.counts[i] }
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
        for (i, c) in counts.enumerated() where c != 0 {
            cum += Int64(c)
            if cum >= rank { return Self.representative(i) }
        }
        return nil
    }

    /// Non-empty buckets as `(bucket index, count)`, for persistence.
    public var nonEmptyBuckets: [(bucket: Int, count: UInt32)] {
        counts.enumerated().compactMap { $0.element == 0 ? nil : ($0.offset, $0.element) }
    }

    /// Rebuilds a histogram from ``nonEmptyBuckets``; `nil` if an index is out of range.
    public init?(buckets: [(bucket: Int, count: UInt32)]) {
        for (b, c) in buckets {
            guard b >= 0 && b < Self.lowerBounds.count else { return nil }
            if c == 0 { continue }
            if counts.isEmpty { counts = [UInt32](repeating: 0, count: Self.lowerBounds.count) }
            counts[b] &+= c
            count += Int64(c)
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
