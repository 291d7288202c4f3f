import TaktCore

/// How many lines each live daemon should hold, and which ones to take or give up: every daemon
/// computes the same answer from the same member list, so they converge without talking.
///
/// With `L` lines and `N` live members sorted by owner, the first `L mod N` members hold
/// ⌈L/N⌉ lines and the others ⌊L/N⌋ (contract section 11). Pure: no I/O, no clock.
enum LineBalance {
    /// The number of lines `me` should hold; all of them when `me` is not among `members` yet
    /// (it joins with its first heartbeat, so this is only the first round's answer).
    static func quota(lines: Int, members: [String], me: String) -> Int {
        let sorted = members.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        guard let rank = sorted.firstIndex(of: me), !sorted.isEmpty else { return lines }
        let n = sorted.count
        return lines / n + (rank < lines % n ? 1 : 0)
    }

    /// What to do this round.
    struct Plan: Equatable {
        /// Held lines to give up (the surplus over the quota, from the end of the held order).
        var release: [LineKey] = []
        /// Free lines to try to take (at most the shortfall; another daemon may win some).
        var take: [LineKey] = []
    }

    /// Gives up the surplus, or asks for as many of the `free` lines (nobody holds them, or
    /// their lease lapsed) as the quota lacks — starting at an offset derived from `me`, so
    /// daemons that join together ask for different lines first.
    static func plan(held: [LineKey], free: [LineKey], quota: Int, me: String) -> Plan {
        if held.count > quota {
            return Plan(release: Array(held.sorted().suffix(held.count - quota)))
        }
        let want = quota - held.count
        let candidates = free.filter { !held.contains($0) }.sorted()
        guard want > 0, !candidates.isEmpty else { return Plan() }
        let start = Int(stableHash(me) % UInt64(candidates.count))
        let rotated = Array(candidates[start...] + candidates[..<start])
        return Plan(take: Array(rotated.prefix(want)))
    }

    /// FNV-1a of the owner's bytes: stable across processes (Swift's `hashValue` is seeded).
    static func stableHash(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }
}
