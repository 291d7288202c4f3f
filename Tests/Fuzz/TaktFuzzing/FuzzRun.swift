/// Runs many cases from one seed (the executable and the test suite call these).
public enum FuzzRun {
    /// `count` stateful cases; case `k`'s seed is `FuzzRandom.caseSeed(seed, k)`. Stops at the
    /// first failure unless `keepGoing` (then after `maxFailures`).
    public static func sequences(count: Int, seed: UInt64, options: SequenceOptions = SequenceOptions(),
                                 runner: SequenceRunner = SequenceRunner(), keepGoing: Bool = false, maxFailures: Int = 20,
                                 progress: ((FuzzStats, Int) -> Void)? = nil, slow: ((UInt64, Double) -> Void)? = nil) -> FuzzStats {
        var stats = FuzzStats()
        FuzzProgress.mode = 1
        for k in 0..<count {
            let caseSeed = FuzzRandom.caseSeed(seed, UInt64(k))
            FuzzProgress.caseSeed = caseSeed
            FuzzProgress.step = -1
            let c = SequenceGenerator.make(seed: caseSeed, options: options)
            let t0 = slow == nil ? 0 : monotonicSeconds()
            defer { if let slow { slow(caseSeed, monotonicSeconds() - t0) } }
            if let f = runner.run(c, stats: &stats) {
                stats.failures.append(f)
                if !keepGoing || stats.failures.count >= maxFailures { break }
            }
            if k & 1023 == 1023 { progress?(stats, k + 1) }
        }
        return stats
    }

    /// `count` decoder cases.
    public static func decoders(count: Int, seed: UInt64, keepGoing: Bool = false, maxFailures: Int = 20,
                                progress: ((FuzzStats, Int) -> Void)? = nil) -> FuzzStats {
        var stats = FuzzStats()
        var fuzzer = DecoderFuzzer()
        FuzzProgress.mode = 2
        FuzzProgress.step = 0
        for k in 0..<count {
            let caseSeed = FuzzRandom.caseSeed(seed, UInt64(k))
            FuzzProgress.caseSeed = caseSeed
            if let f = fuzzer.run(seed: caseSeed, stats: &stats) {
                stats.failures.append(f)
                if !keepGoing || stats.failures.count >= maxFailures { break }
            }
            if k & 65535 == 65535 { progress?(stats, k + 1) }
        }
        return stats
    }
}
