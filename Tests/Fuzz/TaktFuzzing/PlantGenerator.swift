import Foundation
import TaktCore

/// One station of a generated plant, with what the checks need to know about it.
public struct FuzzStation: Sendable {
    public var key: StationKey
    public var site: Int
    /// `takt/v1/{site}/{line}/{station}/` as bytes.
    public var topicPrefix: [UInt8]
    public var idealCycleS: Double
    public var isOutput: Bool
}

/// A small generated plant: 1–3 sites, 1–3 lines each, 1–3 stations a line.
public struct FuzzPlant: Sendable {
    public var plants: [Plant]
    public var stations: [FuzzStation]
    /// Dense station index by key.
    public var index: [StationKey: Int]
    /// Stations of each site (indices into `stations`).
    public var stationsOfSite: [[Int]]
    public var siteIndex: [String: Int]

    /// The stations of these plants, indexed (sites in order, then lines, then stations).
    public init(plants: [Plant]) {
        var stations: [FuzzStation] = []
        var index: [StationKey: Int] = [:]
        var ofSite: [[Int]] = []
        var siteIndex: [String: Int] = [:]
        for (si, p) in plants.enumerated() {
            siteIndex[p.site] = si
            var mine: [Int] = []
            for l in p.lines {
                for s in l.stations {
                    let key = StationKey(site: p.site, line: l.id, station: s.id)
                    index[key] = stations.count
                    mine.append(stations.count)
                    let isOutput = s.id == l.outputStation
                    stations.append(FuzzStation(key: key, site: si, topicPrefix: Array("takt/v1/\(p.site)/\(l.id)/\(s.id)/".utf8),
                                                idealCycleS: isOutput ? l.idealCycleS : s.cycleS, isOutput: isOutput))
                }
            }
            ofSite.append(mine)
        }
        self.plants = plants
        self.stations = stations
        self.index = index
        self.stationsOfSite = ofSite
        self.siteIndex = siteIndex
    }
}

enum PlantGenerator {
    /// Time zones with DST, half- and quarter-hour offsets, a 30-minute DST shift and +14 h.
    static let zones: [TimeZone] = {
        let ids = ["UTC", "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns", "Pacific/Chatham",
                   "Australia/Lord_Howe", "Pacific/Kiritimati", "America/Sao_Paulo", "Asia/Shanghai", "America/New_York"]
        return ids.map { TimeZone(identifier: $0) ?? TimeZone(identifier: "UTC")! }
    }()
    static let zoneIDs = ["UTC", "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns", "Pacific/Chatham",
                          "Australia/Lord_Howe", "Pacific/Kiritimati", "America/Sao_Paulo", "Asia/Shanghai", "America/New_York"]
    static let segmentBytes = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-".utf8)

    /// A valid segment: short mostly, sometimes the full 64 bytes; `reservedOK`: the daemon's
    /// own first levels are legal line and station ids.
    static func segment(_ rng: inout FuzzRandom, prefix: String, n: Int, reservedOK: Bool) -> String {
        switch rng.below(16) {
        case 0:
            return String(decoding: (0..<64).map { _ in rng.pick(segmentBytes) }, as: UTF8.self)
        case 1 where reservedOK:
            return rng.pick(["metrics", "deadletter", "status"])
        case 2:
            return String(decoding: (0..<rng.int(1...8)).map { _ in rng.pick(segmentBytes) }, as: UTF8.self)
        default:
            return "\(prefix)\(n)"
        }
    }

    static func cycle(_ rng: inout FuzzRandom) -> Double {
        rng.pick([6.0, 0.001, 86_400, 5.6, 7.5, 1e-9, 3600.5])
    }

    /// - Parameter small: one site, one line, one or two stations (long-span cases, whose cost
    ///   grows with the stations in a known state).
    static func make(_ rng: inout FuzzRandom, yamlChance: Int = 64, small: Bool = false) -> FuzzPlant {
        var plants: [Plant] = []
        var siteIDs: Set<String> = []
        for si in 0..<(small ? 1 : rng.int(1...3)) {
            var site = segment(&rng, prefix: "s", n: si, reservedOK: false)
            while siteIDs.contains(site) || site == "_site" { site += "x" }
            if site.utf8.count > 64 { site = "s\(si)" }
            siteIDs.insert(site)
            var lines: [Plant.Line] = []
            var lineIDs: Set<String> = []
            for li in 0..<(small ? 1 : rng.int(1...3)) {
                var line = segment(&rng, prefix: "L", n: li, reservedOK: true)
                if lineIDs.contains(line) || line == "_site" { line = "L\(li)" }
                while lineIDs.contains(line) { line += "x" }
                lineIDs.insert(line)
                var stations: [Plant.Station] = []
                var stIDs: Set<String> = []
                for k in 0..<rng.int(1...(small ? 2 : 3)) {
                    var st = segment(&rng, prefix: "st", n: k, reservedOK: true)
                    if stIDs.contains(st) { st = "st\(k)" }
                    while stIDs.contains(st) { st += "x" }
                    stIDs.insert(st)
                    stations.append(Plant.Station(id: st, cycleS: cycle(&rng)))
                }
                let unitKwh = rng.pick([0.4416, 0, 1_000_000, 0.25, 1e-12])
                lines.append(Plant.Line(id: line, product: "p", idealCycleS: cycle(&rng), unitKWh: unitKwh,
                                        outputStation: rng.pick(stations).id, stations: stations))
            }
            let z = rng.below(zones.count)
            var plant = Plant(site: site, timeZone: zones[z], plannedHoursPerYear: rng.pick([8400, 8784, 0.5]), lines: lines)
            if rng.chance(1, in: yamlChance), let loaded = try? Plant.load(yaml: yaml(plant, zone: zoneIDs[z]), fileName: "fuzz.yaml") {
                plant = loaded
            }
            plants.append(plant)
        }
        return FuzzPlant(plants: plants)
    }

    /// The plant as a plant file (contract section 7), for the loader path.
    static func yaml(_ p: Plant, zone: String) -> String {
        var y = "site: \(p.site)\ntimezone: \(zone)\ncalendar: {planned_hours_per_year: \(p.plannedHoursPerYear)}\nlines:\n"
        for l in p.lines {
            y += "  - id: \(l.id)\n    product: \(l.product)\n    ideal_cycle_s: \(l.idealCycleS)\n    unit_kwh: \(l.unitKWh)\n"
            y += "    output_station: \(l.outputStation)\n    stations:\n"
            for s in l.stations { y += "      - {id: \(s.id), cycle_s: \(s.cycleS)}\n" }
        }
        return y
    }
}
