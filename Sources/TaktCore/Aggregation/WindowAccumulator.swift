/// The unit counts of one `(site, line, station, tier, window)`.
///
/// State time (`run_s`, `planned_s`) is not accumulated here: it comes from the station's
/// ``StateTimeline`` when the window is written, because a late state changes every window it
/// spans.
public struct WindowAccumulator: Sendable, Equatable, Codable {
    public var tier: WindowTier
    public var bounds: WindowBounds
    /// Good units.
    public var good: Int64 = 0
    /// Scrapped units.
    public var scrap: Int64 = 0
    /// Sum of the energy of the unit messages, kWh (measured, or `good × unit_kwh`).
    public var energyKwh: Double = 0
    /// Unit messages counted.
    public var unitMessages: Int64 = 0
    /// `cycle_ms` of the unit messages that carry one.
    public var cycle = CycleHistogram()
    /// Times the window has been written; 0 before the first write. See ``takeWrite()``.
    public private(set) var revision: Int64 = 0
    /// Changed since the last write.
    public private(set) var isDirty: Bool = false

    public init(tier: WindowTier, bounds: WindowBounds, revision: Int64 = 0) {
        self.tier = tier
        self.bounds = bounds
        self.revision = revision
    }

    /// Counts one unit message.
    ///
    /// - Parameter unitKwh: the line's nominal `unit_kwh`, used when the message has no
    ///   `energy_kwh`.
    @inline(__always)
    public mutating func add(_ u: UnitEvent, unitKwh: Double) {
        good += Int64(u.good)
        scrap += Int64(u.scrap)
        energyKwh += u.energyKwh(unitKwh: unitKwh)
        unitMessages += 1
        if let c = u.cycleMs { cycle.add(Int(c)) }
        isDirty = true
    }

    /// Adds another accumulator's counts (same window).
    public mutating func merge(_ o: WindowAccumulator) {
        good += o.good
        scrap += o.scrap
        energyKwh += o.energyKwh
        unitMessages += o.unitMessages
        cycle.merge(o.cycle)
        isDirty = true
    }

    /// Marks the window changed without new units (its state time changed).
    public mutating func markDirty() { isDirty = true }

    /// Called when the window is about to be written: if it changed, bumps and returns the
    /// new revision (1 on the first write); `nil` when there is nothing new to write.
    public mutating func takeWrite() -> Int64? {
        guard isDirty else { return nil }
        isDirty = false
        revision += 1
        return revision
    }
}
