/// The fuzzer's seeded generator: SplitMix64, plus the few draws the generators need, written
/// out so that a case is the same on every platform and Swift version (the standard library's
/// `Int.random(in:using:)` does not promise how many words it draws).
///
/// Named apart from `TestSupport.SplitMix64` so a test target can import both.
public struct FuzzRandom: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The seed of case `index` of a run seeded with `seed` (a case replays from this alone).
    public static func caseSeed(_ seed: UInt64, _ index: UInt64) -> UInt64 {
        var r = FuzzRandom(seed: seed ^ (index &* 0xD1B5_4A32_D192_ED03))
        return r.next()
    }

    /// Uniform in `0..<n` (n > 0); the multiply-shift bias is below 2^-32 for the n used here.
    @inline(__always)
    public mutating func below(_ n: Int) -> Int {
        Int(truncatingIfNeeded: (UInt64(truncatingIfNeeded: n).multipliedFullWidth(by: next())).high)
    }

    /// Uniform in `r`.
    @inline(__always)
    public mutating func int(_ r: ClosedRange<Int>) -> Int { r.lowerBound + below(r.upperBound - r.lowerBound + 1) }

    /// Uniform in `r` (any width up to the whole Int64 range minus one).
    public mutating func int64(_ r: ClosedRange<Int64>) -> Int64 {
        let width = UInt64(bitPattern: r.upperBound &- r.lowerBound)
        if width == UInt64.max { return Int64(bitPattern: next()) }
        let v = (width &+ 1).multipliedFullWidth(by: next()).high
        return r.lowerBound &+ Int64(bitPattern: v)
    }

    /// True `num` times in `den`.
    @inline(__always)
    public mutating func chance(_ num: Int, in den: Int) -> Bool { below(den) < num }

    /// One element of a non-empty array.
    @inline(__always)
    public mutating func pick<T>(_ a: [T]) -> T { a[below(a.count)] }

    /// A value in `0…1`.
    public mutating func unit() -> Double { Double(next() >> 11) / Double(UInt64(1) << 53) }

    /// A small count, most often near the bottom of `r` (each halving of the range is twice as
    /// likely as the next): sequences are mostly short, sometimes long.
    public mutating func skewed(_ r: ClosedRange<Int>) -> Int {
        let width = r.upperBound - r.lowerBound + 1
        var top = 1
        while top < width && chance(1, in: 2) { top <<= 1 }
        return r.lowerBound + below(min(top * 2, width))
    }
}
