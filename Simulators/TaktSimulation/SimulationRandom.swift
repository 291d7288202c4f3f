import Foundation

/// SplitMix64: turns one 64-bit seed into a stream of well-mixed words; used to seed
/// ``Xoshiro256``.
struct SplitMix64 {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256**: the simulator's only source of randomness. Deterministic for a seed on every
/// platform (the simulator never touches `SystemRandomNumberGenerator`).
struct Xoshiro256: RandomNumberGenerator {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// A generator for one independent stream of the run: `seed` is the run's `--seed`,
    /// `stream` and `substream` name the stream (line and station, say), so changing one part
    /// of the simulation does not shift the random numbers of another.
    init(seed: UInt64, stream: UInt64 = 0, substream: UInt64 = 0) {
        var mixer = SplitMix64(state: seed ^ (stream &* 0xD1B5_4A32_D192_ED03) ^ (substream &* 0xAEF1_7502_108E_F2D9))
        s0 = mixer.next()
        s1 = mixer.next()
        s2 = mixer.next()
        s3 = mixer.next()
    }

    @inline(__always)
    mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform in `[0, 1)`, 53 bits.
    @inline(__always)
    mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Standard normal (Box–Muller; one value per call, for simplicity).
    mutating func normal() -> Double {
        let u1 = 1.0 - uniform()  // (0, 1]
        let u2 = uniform()
        return (-2.0 * log(u1)).squareRoot() * cos(2.0 * Double.pi * u2)
    }

    /// Exponential with the given mean.
    mutating func exponential(mean: Double) -> Double {
        -mean * log(1.0 - uniform())
    }
}
