import Foundation
import TaktCore

extension SimulationEngine {
    /// The truth of one station: totals and rows per tier (`.hour`, `.day`).
    public func truth(line: Int, station: Int) -> (total: TruthCounters, hours: [TruthRow], days: [TruthRow]) {
        let g = lines[line].base + station
        let s = truth.stations[g]
        return (s.total, s.hours.rows, s.days.rows)
    }

    /// Newest `ts` of any counted message.
    public var newestEvent: Int64? { truth.newest }

    /// The truth file (`--truth`), complete once ``finished`` is set. Format in docs/simulator.md.
    public func truthJSON() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1 << 16)
        out.appendASCII("{\n\"format\": \"takt-sim-truth/1\",\n\"site\": ")
        out.appendJSONString(plant.site)
        out.appendASCII(",\n\"timezone\": ")
        out.appendJSONString(plant.timeZone.identifier)
        out.appendASCII(",\n\"seed\": ")
        out.appendDecimal(options.seed)
        out.appendASCII(",\n\"from\": ")
        out.appendDecimal(options.from)
        out.appendASCII(",\n\"to\": ")
        out.appendDecimal(options.end)
        out.appendASCII(",\n\"newest_event\": ")
        if let newest = truth.newest { out.appendDecimal(newest) } else { out.appendASCII("null") }
        out.appendASCII(",\n\"messages\": {\"unit\": ")
        out.appendDecimal(counts.unit)
        out.appendASCII(", \"state\": ")
        out.appendDecimal(counts.state)
        out.appendASCII(", \"duplicate\": ")
        out.appendDecimal(counts.duplicate)
        out.appendASCII(", \"malformed\": ")
        out.appendDecimal(counts.malformed)
        out.appendASCII(", \"control\": ")
        out.appendDecimal(counts.control)
        out.appendASCII(", \"counted\": ")
        out.appendDecimal(counts.unit + counts.state + counts.control)
        out.appendASCII(", \"published\": ")
        out.appendDecimal(counts.total)
        if counts.rebirths > 0 {  // only when a host asked: a run without NCMD keeps its bytes
            out.appendASCII(", \"rebirths\": ")
            out.appendDecimal(counts.rebirths)
        }
        out.appendASCII("},\n\"faults\": {\"dup\": ")
        out.appendDecimal(counts.duplicate)
        out.appendASCII(", \"reorder\": ")
        out.appendDecimal(counts.reorders)
        out.appendASCII(", \"malformed\": ")
        out.appendDecimal(counts.malformed)
        out.appendASCII(", \"reboot\": ")
        out.appendDecimal(counts.reboots)
        out.appendASCII(", \"drop\": ")
        out.appendDecimal(counts.drops)
        out.appendASCII("},\n\"expected_dead_letters\": ")
        out.appendDecimal(counts.malformed)

        // Site: the sums of the lines' output stations.
        var siteTotal = TruthCounters()
        var siteHours: [Int64: TruthRow] = [:]
        var siteDays: [Int64: TruthRow] = [:]
        for (l, line) in lines.enumerated() {
            let output = truth.stations[line.base + plant.lines[l].outputStationIndex]
            siteTotal.add(output.total)
            for row in output.hours.rows { siteHours[row.window.start, default: TruthRow(window: row.window, counters: TruthCounters())].counters.add(row.counters) }
            for row in output.days.rows { siteDays[row.window.start, default: TruthRow(window: row.window, counters: TruthCounters())].counters.add(row.counters) }
        }
        out.appendASCII(",\n\"site_total\": ")
        Self.appendCounters(siteTotal, to: &out)
        out.appendASCII(",\n\"site_windows\": ")
        Self.appendWindows(
            hours: siteHours.values.sorted { $0.window.start < $1.window.start },
            days: siteDays.values.sorted { $0.window.start < $1.window.start }, to: &out)

        out.appendASCII(",\n\"lines\": [")
        for (l, line) in lines.enumerated() {
            let plantLine = plant.lines[l]
            let output = truth.stations[line.base + plantLine.outputStationIndex]
            out.appendASCII(l == 0 ? "\n{\"line\": " : ",\n{\"line\": ")
            out.appendJSONString(plantLine.id)
            out.appendASCII(", \"output_station\": ")
            out.appendJSONString(plantLine.outputStation)
            out.appendASCII(",\n \"total\": ")
            Self.appendCounters(output.total, to: &out)
            out.appendASCII(",\n \"windows\": ")
            Self.appendWindows(hours: output.hours.rows, days: output.days.rows, to: &out)
            out.appendASCII(",\n \"stations\": [")
            for (k, station) in plantLine.stations.enumerated() {
                let s = truth.stations[line.base + k]
                out.appendASCII(k == 0 ? "\n  {\"station\": " : ",\n  {\"station\": ")
                out.appendJSONString(station.id)
                out.appendASCII(",\n   \"total\": ")
                Self.appendCounters(s.total, to: &out)
                out.appendASCII(",\n   \"windows\": ")
                Self.appendWindows(hours: s.hours.rows, days: s.days.rows, to: &out)
                out.appendASCII("}")
            }
            out.appendASCII("]}")
        }
        out.appendASCII("]\n}\n")
        return out
    }

    static func appendCounters(_ c: TruthCounters, to out: inout [UInt8]) {
        out.appendASCII("{\"good\": ")
        out.appendDecimal(c.good)
        out.appendASCII(", \"scrap\": ")
        out.appendDecimal(c.scrap)
        out.appendASCII(", \"energy_kwh\": ")
        out.appendMicros(c.energyMicroKWh)
        out.appendASCII(", \"run_s\": ")
        out.appendMillisAsSeconds(c.runMs)
        out.appendASCII(", \"planned_s\": ")
        out.appendMillisAsSeconds(c.plannedMs)
        out.appendASCII("}")
    }

    static func appendWindows(hours: [TruthRow], days: [TruthRow], to out: inout [UInt8]) {
        out.appendASCII("{\"1h\": [")
        appendRows(hours, to: &out)
        out.appendASCII("],\n    \"1d\": [")
        appendRows(days, to: &out)
        out.appendASCII("]}")
    }

    static func appendRows(_ rows: [TruthRow], to out: inout [UInt8]) {
        for (i, row) in rows.enumerated() {
            out.appendASCII(i == 0 ? "\n    {\"start\": " : ",\n    {\"start\": ")
            out.appendDecimal(row.window.start)
            out.appendASCII(", \"end\": ")
            out.appendDecimal(row.window.end)
            out.appendASCII(", \"good\": ")
            out.appendDecimal(row.counters.good)
            out.appendASCII(", \"scrap\": ")
            out.appendDecimal(row.counters.scrap)
            out.appendASCII(", \"energy_kwh\": ")
            out.appendMicros(row.counters.energyMicroKWh)
            out.appendASCII(", \"run_s\": ")
            out.appendMillisAsSeconds(row.counters.runMs)
            out.appendASCII(", \"planned_s\": ")
            out.appendMillisAsSeconds(row.counters.plannedMs)
            out.appendASCII("}")
        }
    }
}
