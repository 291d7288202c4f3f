/// SplitMix64: the small seeded generator every test suite uses, so a failing random case
/// replays from its seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }

    /// A uniform integer in `r`.
    public mutating func int(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &self) }

    /// A uniform value in `r` from the top 53 bits of the next word.
    public mutating func double(in r: ClosedRange<Double>) -> Double {
        r.lowerBound + Double(next() >> 11) / Double(UInt64(1) << 53) * (r.upperBound - r.lowerBound)
    }
}
