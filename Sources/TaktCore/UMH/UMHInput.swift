import Foundation

/// A United Manufacturing Hub message (contract section 10), decoded and checked.
enum UMHMessage: Equatable {
    /// `…/count` `{"timestamp_ms": T, "count": N, "scrap": S}`: N units, S of them scrap.
    case count(ts: Int64, count: Int64, scrap: Int64)
    /// `…/scrapCount` `{"timestamp_ms": T, "scrap": S}`: S good units of T's window were scrap.
    case scrapCount(ts: Int64, scrap: Int64)
    /// `…/state` `{"timestamp_ms": T, "state": CODE}`.
    case state(ts: Int64, code: UInt32)

    var ts: Int64 {
        switch self {
        case .count(let t, _, _), .scrapCount(let t, _), .state(let t, _): return t
        }
    }

    /// The message types Takt reads, by their last topic level (index = dedup slot).
    static let types = ["count", "scrapCount", "state"]

    var typeIndex: Int {
        switch self {
        case .count: return 0
        case .scrapCount: return 1
        case .state: return 2
        }
    }

    /// Decodes the payload of `type` (one of ``types``). Bounds as for the JSON path: at most
    /// `maxBytes`, a JSON object, integers in range.
    static func decode(type: String, _ payload: UnsafeRawBufferPointer, maxBytes: Int) throws(DeadLetterError) -> UMHMessage {
        guard payload.count <= maxBytes else { throw DeadLetterError(.tooLarge, "payload is \(payload.count) bytes; the limit is \(maxBytes)") }
        let any: Any
        do {
            any = try JSONSerialization.jsonObject(with: Data(payload), options: [])
        } catch {
            throw DeadLetterError(.notJSON, "not JSON")
        }
        guard let object = any as? [String: Any] else { throw DeadLetterError(.notObject, "the payload is not a JSON object") }
        func integer(_ key: String, _ range: ClosedRange<Int64>, required: Bool = true) throws(DeadLetterError) -> Int64? {
            guard let v = object[key] else {
                if required { throw DeadLetterError(.missingField, "\(key) is required") }
                return nil
            }
            // A JSON true/false is an NSNumber of type "c" (char): not an integer here.
            guard let n = v as? NSNumber, String(cString: n.objCType) != "c" else {
                throw DeadLetterError(.wrongType, "\(key) must be an integer")
            }
            let d = n.doubleValue
            guard d.isFinite, d.rounded() == d, d >= Double(range.lowerBound), d <= Double(range.upperBound) else {
                throw DeadLetterError(.outOfRange, "\(key): \(n) is outside \(range.lowerBound)…\(range.upperBound)")
            }
            return Int64(d)
        }
        let ts = try integer("timestamp_ms", 0...((1 << 53) - 1))!
        switch type {
        case "count":
            let count = try integer("count", 1...1_000_000)!
            let scrap = try integer("scrap", 0...1_000_000, required: false) ?? 0
            guard scrap <= count else { throw DeadLetterError(.outOfRange, "scrap \(scrap) is more than count \(count)") }
            return .count(ts: ts, count: count, scrap: scrap)
        case "scrapCount":
            return .scrapCount(ts: ts, scrap: try integer("scrap", 1...1_000_000)!)
        default:
            let code = try integer("state", Int64(StateCode.acceptedRange.lowerBound)...Int64(StateCode.acceptedRange.upperBound))!
            return .state(ts: ts, code: UInt32(code))
        }
    }
}

/// What the daemon keeps per station that reports through UMH, persisted with the commit: the
/// `timestamp_ms` of the latest messages of each type (UMH's uniqueness rule), the good units
/// per 1m window that `scrapCount` may move, and the state entries' synthetic order.
struct UMHStationState: Sendable, Equatable {
    /// Sorted `timestamp_ms` counted, per type (``UMHMessage/types``), at most `keys` each.
    var seen: [[Int64]] = [[], [], []]
    /// Good units counted per 1m window start (the latest `minutes` windows).
    var minuteGood: [Int64: Int64] = [:]
    var stateSeq: Int64 = 0

    /// Whether `ts` of type `t` was counted; `nil` when it is older than every kept key of a
    /// full list (cannot tell: the caller refuses it rather than count it twice).
    func wasCounted(type t: Int, ts: Int64, keys: Int) -> Bool? {
        let list = seen[t]
        let k = Self.lowerBound(list, ts)
        if k < list.count && list[k] == ts { return true }
        if list.count >= keys, let first = list.first, ts < first { return nil }
        return false
    }

    mutating func markCounted(type t: Int, ts: Int64, keys: Int) {
        let k = Self.lowerBound(seen[t], ts)
        seen[t].insert(ts, at: k)
        if seen[t].count > keys { seen[t].removeFirst(seen[t].count - keys) }
    }

    static func lowerBound(_ a: [Int64], _ v: Int64) -> Int {
        var lo = 0, hi = a.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if a[mid] < v { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Keeps the `minutes` newest windows of ``minuteGood``.
    mutating func pruneMinutes(_ minutes: Int) {
        guard minuteGood.count > minutes else { return }
        for start in minuteGood.keys.sorted().prefix(minuteGood.count - minutes) { minuteGood[start] = nil }
    }

    func serialized() -> [UInt8] {
        var w = ByteWriter()
        w.u8(1)
        w.i64(stateSeq)
        for list in seen {
            w.u32(UInt32(list.count))
            for ts in list { w.i64(ts) }
        }
        w.u32(UInt32(minuteGood.count))
        for (start, good) in minuteGood.sorted(by: { $0.key < $1.key }) {
            w.i64(start)
            w.i64(good)
        }
        return w.out
    }

    init() {}

    init?(serialized b: [UInt8]) {
        var r = ByteReader(b)
        guard r.u8() == 1, let seq = r.i64() else { return nil }
        stateSeq = seq
        for t in 0..<3 {
            guard let n = r.u32(), Int(n) <= b.count / 8 else { return nil }
            var list: [Int64] = []
            list.reserveCapacity(Int(n))
            for _ in 0..<n {
                guard let ts = r.i64() else { return nil }
                list.append(ts)
            }
            seen[t] = list
        }
        guard let m = r.u32(), Int(m) <= b.count / 16 else { return nil }
        for _ in 0..<m {
            guard let start = r.i64(), let good = r.i64() else { return nil }
            minuteGood[start] = good
        }
        guard r.atEnd else { return nil }
    }
}
