/// The window object of contract section 4: the payload of the metrics topics and the rows
/// of `takt query --format json`.
///
/// JSON keys are the contract's (snake_case), in the contract's order; `station` is `null` in
/// `_site` rows; KPIs are `null` when their denominator is 0; `cycle_ms` is always an object
/// whose percentiles are `null` when the window has no `cycle_ms` samples.
public struct WindowRow: Codable, Sendable, Equatable {
    public var site: String
    /// The line id, or `"_site"` for site totals.
    public var line: String
    /// The station id; `nil` for `_site` rows.
    public var station: String?
    public var window: WindowTier
    /// Window start, epoch ms (inclusive).
    public var start: Int64
    /// Window end, epoch ms (exclusive).
    public var end: Int64
    /// Times this window has been written (1 on the first write).
    public var revision: Int64
    public var good: Int64
    public var scrap: Int64
    /// kWh.
    public var energyKwh: Double
    /// Good units per hour of window length.
    public var goodPerHour: Double
    /// Seconds in running states (ms precision).
    public var runS: Double
    /// Seconds in planned (known, not 160000–179999) states.
    public var plannedS: Double
    /// `plannedS − runS`.
    public var downtimeS: Double
    public var availability: Double?
    public var performance: Double?
    public var quality: Double?
    public var oee: Double?
    /// Cycle-time percentiles, ms, within 1%.
    public var cycleMsP50: Int?
    public var cycleMsP90: Int?
    public var cycleMsP99: Int?

    public init(site: String, line: String, station: String?, window: WindowTier, start: Int64, end: Int64,
                revision: Int64, good: Int64, scrap: Int64, energyKwh: Double, goodPerHour: Double,
                runS: Double, plannedS: Double, downtimeS: Double, availability: Double?, performance: Double?,
                quality: Double?, oee: Double?, cycleMsP50: Int?, cycleMsP90: Int?, cycleMsP99: Int?) {
        self.site = site
        self.line = line
        self.station = station
        self.window = window
        self.start = start
        self.end = end
        self.revision = revision
        self.good = good
        self.scrap = scrap
        self.energyKwh = energyKwh
        self.goodPerHour = goodPerHour
        self.runS = runS
        self.plannedS = plannedS
        self.downtimeS = downtimeS
        self.availability = availability
        self.performance = performance
        self.quality = quality
        self.oee = oee
        self.cycleMsP50 = cycleMsP50
        self.cycleMsP90 = cycleMsP90
        self.cycleMsP99 = cycleMsP99
    }

    /// Energy in GWh (`kWh / 1e6`).
    public var energyGwh: Double { energyKwh / 1e6 }

    enum CodingKeys: String, CodingKey {
        case site, line, station, window, start, end, revision, good, scrap
        case energyKwh = "energy_kwh", goodPerHour = "good_per_hour", runS = "run_s", plannedS = "planned_s"
        case downtimeS = "downtime_s", availability, performance, quality, oee, cycleMs = "cycle_ms"
    }

    enum CycleKeys: String, CodingKey { case p50, p90, p99 }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        site = try c.decode(String.self, forKey: .site)
        line = try c.decode(String.self, forKey: .line)
        station = try c.decodeIfPresent(String.self, forKey: .station)
        window = try c.decode(WindowTier.self, forKey: .window)
        start = try c.decode(Int64.self, forKey: .start)
        end = try c.decode(Int64.self, forKey: .end)
        revision = try c.decode(Int64.self, forKey: .revision)
        good = try c.decode(Int64.self, forKey: .good)
        scrap = try c.decode(Int64.self, forKey: .scrap)
        energyKwh = try c.decode(Double.self, forKey: .energyKwh)
        goodPerHour = try c.decode(Double.self, forKey: .goodPerHour)
        runS = try c.decode(Double.self, forKey: .runS)
        plannedS = try c.decode(Double.self, forKey: .plannedS)
        downtimeS = try c.decode(Double.self, forKey: .downtimeS)
        availability = try c.decodeIfPresent(Double.self, forKey: .availability)
        performance = try c.decodeIfPresent(Double.self, forKey: .performance)
        quality = try c.decodeIfPresent(Double.self, forKey: .quality)
        oee = try c.decodeIfPresent(Double.self, forKey: .oee)
        if c.contains(.cycleMs), try !c.decodeNil(forKey: .cycleMs) {
            let cc = try c.nestedContainer(keyedBy: CycleKeys.self, forKey: .cycleMs)
            cycleMsP50 = try cc.decodeIfPresent(Int.self, forKey: .p50)
            cycleMsP90 = try cc.decodeIfPresent(Int.self, forKey: .p90)
            cycleMsP99 = try cc.decodeIfPresent(Int.self, forKey: .p99)
        }
    }

    /// Encodes every key, `null`s included (not omitted), in the contract's order.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(site, forKey: .site)
        try c.encode(line, forKey: .line)
        try c.encode(station, forKey: .station)
        try c.encode(window, forKey: .window)
        try c.encode(start, forKey: .start)
        try c.encode(end, forKey: .end)
        try c.encode(revision, forKey: .revision)
        try c.encode(good, forKey: .good)
        try c.encode(scrap, forKey: .scrap)
        try c.encode(energyKwh, forKey: .energyKwh)
        try c.encode(goodPerHour, forKey: .goodPerHour)
        try c.encode(runS, forKey: .runS)
        try c.encode(plannedS, forKey: .plannedS)
        try c.encode(downtimeS, forKey: .downtimeS)
        try c.encode(availability, forKey: .availability)
        try c.encode(performance, forKey: .performance)
        try c.encode(quality, forKey: .quality)
        try c.encode(oee, forKey: .oee)
        var cc = c.nestedContainer(keyedBy: CycleKeys.self, forKey: .cycleMs)
        try cc.encode(cycleMsP50, forKey: .p50)
        try cc.encode(cycleMsP90, forKey: .p90)
        try cc.encode(cycleMsP99, forKey: .p99)
    }
}
