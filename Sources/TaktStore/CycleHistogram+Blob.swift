import Foundation
import GRDB
import TaktCore

/// The compact byte form of a ``CycleHistogram`` kept in the `cycle_hist` column.
///
/// Format (version 1): one byte `0x01`, then unsigned LEB128 varints: the number `n` of
/// non-empty buckets, then `n` pairs `(index gap, count)` in ascending bucket order, where the
/// first gap is the bucket index itself and each later gap is `index − previous index`
/// (≥ 1). An empty histogram is stored as SQL `NULL`, not as a blob. Worst case (all 780
/// buckets, counts ≥ 2^28): 1 + 2 + 780 × 6 bytes; a typical window (a few dozen buckets
/// around the line's cycle) is 50–150 bytes.
enum HistogramBlob {
    static let version: UInt8 = 1

    /// The blob of `h`; `nil` when `h` is empty.
    static func encode(_ h: CycleHistogram) -> [UInt8]? {
        let buckets = h.nonEmptyBuckets
        guard !buckets.isEmpty else { return nil }
        var out: [UInt8] = [version]
        out.reserveCapacity(3 + buckets.count * 3)
        appendVarint(UInt64(buckets.count), to: &out)
        var previous = 0
        for (k, b) in buckets.enumerated() {
            appendVarint(UInt64(k == 0 ? b.bucket : b.bucket - previous), to: &out)
            appendVarint(UInt64(b.count), to: &out)
            previous = b.bucket
        }
        return out
    }

    /// The histogram of a blob; `nil` for `nil` (empty). Throws ``StoreError/corrupt(_:)`` for
    /// bytes that are not a version-1 blob.
    static func decode(_ bytes: [UInt8]?) throws(StoreError) -> CycleHistogram {
        guard let bytes else { return CycleHistogram() }
        guard bytes.first == version else { throw .corrupt("cycle histogram blob has an unknown version") }
        var i = 1
        let n = try readVarint(bytes, &i)
        guard n <= UInt64(CycleHistogram.lowerBounds.count) else { throw .corrupt("cycle histogram blob is too long") }
        var buckets: [(bucket: Int, count: UInt32)] = []
        buckets.reserveCapacity(Int(n))
        var index = -1
        for k in 0..<Int(n) {
            let gap = try readVarint(bytes, &i)
            let count = try readVarint(bytes, &i)
            guard (k == 0 || gap >= 1), gap < UInt64(CycleHistogram.lowerBounds.count),
                  count >= 1, count <= UInt64(UInt32.max) else {
                throw .corrupt("cycle histogram blob has a bad bucket")
            }
            index = (k == 0 ? 0 : index) + Int(gap)
            buckets.append((index, UInt32(count)))
        }
        guard i == bytes.count, let h = CycleHistogram(buckets: buckets) else {
            throw .corrupt("cycle histogram blob has a bad bucket")
        }
        return h
    }

    /// The SQL function that merges two `cycle_hist` values (what a commit's upsert adds to a
    /// stored row); registered on every connection of the store.
    static let mergeFunctionName = "takt_cycle_hist_merge"

    /// `takt_cycle_hist_merge(stored, delta)`: the blob of the merged histograms (`NULL` is the
    /// empty histogram). A blob that does not decode is an SQL error, so the commit fails.
    static let mergeFunction = DatabaseFunction(mergeFunctionName, argumentCount: 2, pure: true) { values in
        let stored = Data.fromDatabaseValue(values[0])
        let delta = Data.fromDatabaseValue(values[1])
        guard let stored else { return delta }
        guard let delta else { return stored }
        do {
            var merged = try decode([UInt8](stored))
            merged.merge(try decode([UInt8](delta)))
            return encode(merged).map { Data($0) }
        } catch {
            throw DatabaseError(message: "\(error)")
        }
    }

    private static func appendVarint(_ v: UInt64, to out: inout [UInt8]) {
        var v = v
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    private static func readVarint(_ b: [UInt8], _ i: inout Int) throws(StoreError) -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while i < b.count, shift < 64 {
            let byte = b[i]
            i += 1
            v |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return v }
            shift += 7
        }
        throw .corrupt("cycle histogram blob is truncated")
    }
}
