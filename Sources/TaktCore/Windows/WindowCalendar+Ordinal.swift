import Foundation

extension WindowCalendar {
    /// A window's number among the windows of its tier: consecutive windows have consecutive
    /// ordinals, so ``WindowRing`` can index slots by it.
    ///
    /// `1m`/`1h`: `start / length`. `1d`: the local day number since 1970-01-01 in the
    /// calendar's time zone (local start of day shifted by its UTC offset, divided by 24 h).
    public func ordinal(of window: WindowBounds, tier: WindowTier) -> Int64 {
        if let len = tier.fixedLengthMs { return Self.floorDiv(window.start, len) }
        let offsetS = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(window.start) / 1000))
        return Self.floorDiv(window.start + Int64(offsetS) * 1000, 86_400_000)
    }

    /// The ordinal of the window of `tier` that contains `ts`.
    public func ordinal(containing ts: Int64, tier: WindowTier) -> Int64 {
        if let len = tier.fixedLengthMs { return Self.floorDiv(ts, len) }
        return ordinal(of: window(containing: ts, tier: tier), tier: tier)
    }
}
