/// The stations of every plant file, interned as dense ids and found straight from the bytes
/// of an inbound topic, with no `String` built per message.
///
/// Keys are the UTF-8 bytes `site/line/station`. A topic `takt/v1/{key}/unit|state` whose key
/// is here is valid by construction (plant ids follow the segment rules and contain no `/`), so
/// the hot path skips ``InboundTopic/parse(_:)``; anything else goes to the slow path, which
/// parses the topic properly to name the fault.
///
/// Lookup: FNV-1a over the key bytes, open addressing with linear probing in a power-of-two
/// table at most half full, then a byte comparison. O(key bytes), no allocation.
struct SourceIndex: Sendable {
    /// All keys, back to back.
    private var keyBytes: [UInt8] = []
    /// `keyOffsets[i]..<keyOffsets[i + 1]` is key `i` in `keyBytes`.
    private var keyOffsets: [Int] = [0]
    /// Station id + 1 per slot; 0 = empty.
    private var slots: [Int32]
    private let mask: Int

    /// - Parameter keys: `site/line/station` of station `i` at index `i`; unique.
    init(keys: [String]) {
        var size = 8
        while size < keys.count * 2 { size <<= 1 }
        slots = [Int32](repeating: 0, count: size)
        mask = size - 1
        for (i, k) in keys.enumerated() {
            keyBytes.append(contentsOf: k.utf8)
            keyOffsets.append(keyBytes.count)
            let h = k.utf8.withContiguousStorageIfAvailable { Self.hash(UnsafeRawBufferPointer($0)) }
                ?? Self.hash(Array(k.utf8))
            var s = Int(truncatingIfNeeded: h) & mask
            while slots[s] != 0 { s = (s + 1) & mask }
            slots[s] = Int32(i + 1)
        }
    }

    @inline(__always)
    private static func hash(_ b: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for c in b { h = (h ^ UInt64(c)) &* 0x0000_0100_0000_01b3 }
        return h
    }

    private static func hash(_ b: [UInt8]) -> UInt64 {
        b.withUnsafeBytes { hash($0) }
    }

    /// The station whose key is exactly `key`, or `nil`.
    @inline(__always)
    func lookup(_ key: UnsafeRawBufferPointer) -> Int? {
        var s = Int(truncatingIfNeeded: Self.hash(key)) & mask
        return slots.withUnsafeBufferPointer { sl in
            keyBytes.withUnsafeBytes { kb in
                while true {
                    let v = Int(sl[s])
                    if v == 0 { return nil }
                    let lo = keyOffsets[v - 1]
                    let hi = keyOffsets[v]
                    if hi - lo == key.count && UnsafeRawBufferPointer(rebasing: kb[lo..<hi]).elementsEqual(key) {
                        return v - 1
                    }
                    s = (s + 1) & mask
                }
            }
        }
    }

    /// `takt/v1/` as a little-endian word.
    private static let prefixWord: UInt64 = {
        var w: UInt64 = 0
        for (i, c) in "takt/v1/".utf8.enumerated() { w |= UInt64(c) << (8 * UInt64(i)) }
        return w
    }()

    /// The station and kind of a topic `takt/v1/{site}/{line}/{station}/unit|state` whose
    /// `{site}/{line}/{station}` is a known key; `nil` for anything else (slow path).
    @inline(__always)
    func match(topic b: UnsafeRawBufferPointer) -> (station: Int, kind: MessageKind)? {
        let n = b.count
        // Shortest known form: prefix (8) + "a/b/c" (5) + "/unit" (5).
        guard n >= 18, UInt64(littleEndian: b.loadUnaligned(as: UInt64.self)) == Self.prefixWord else { return nil }
        let kind: MessageKind
        let keyEnd: Int
        if b[n - 5] == UInt8(ascii: "/") && b[n - 4] == UInt8(ascii: "u") && b[n - 3] == UInt8(ascii: "n")
            && b[n - 2] == UInt8(ascii: "i") && b[n - 1] == UInt8(ascii: "t") {
            kind = .unit
            keyEnd = n - 5
        } else if b[n - 6] == UInt8(ascii: "/") && b[n - 5] == UInt8(ascii: "s") && b[n - 4] == UInt8(ascii: "t")
            && b[n - 3] == UInt8(ascii: "a") && b[n - 2] == UInt8(ascii: "t") && b[n - 1] == UInt8(ascii: "e") {
            kind = .state
            keyEnd = n - 6
        } else {
            return nil
        }
        guard keyEnd > 8, let st = lookup(UnsafeRawBufferPointer(rebasing: b[8..<keyEnd])) else { return nil }
        return (st, kind)
    }
}
