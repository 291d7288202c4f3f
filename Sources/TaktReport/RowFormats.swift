import Foundation
import TaktCore

/// Renders window rows for people (table) and spreadsheets (CSV). JSON is ``WindowRow``'s own
/// writer, so `--format json` prints exactly the bytes the daemon publishes.
public enum RowFormats {
    /// An aligned table: window start (ISO, UTC), line, station, revision, counts, kWh, good/h,
    /// A/P/Q/OEE in percent (one decimal), cycle-time percentiles in ms; `-` for a missing value.
    public static func table(_ rows: [WindowRow]) -> String {
        let header = ["start (UTC)", "line", "station", "rev", "good", "scrap", "kWh", "good/h",
                      "avail", "perf", "qual", "OEE", "p50 ms", "p90 ms", "p99 ms"]
        var cells: [[String]] = [header]
        cells.reserveCapacity(rows.count + 1)
        for r in rows {
            cells.append([
                ContractTime.iso(r.start), r.line, r.station ?? "-", "\(r.revision)", "\(r.good)", "\(r.scrap)",
                fixed(r.energyKwh, 2), fixed(r.goodPerHour, 1),
                TextTable.percent(r.availability), TextTable.percent(r.performance), TextTable.percent(r.quality),
                TextTable.percent(r.oee),
                r.cycleMsP50.map(String.init) ?? "-", r.cycleMsP90.map(String.init) ?? "-",
                r.cycleMsP99.map(String.init) ?? "-",
            ])
        }
        return TextTable.aligned(cells, leftAligned: [0, 1, 2])
    }

    /// The CSV columns: the window object's keys, `cycle_ms` flattened.
    static let csvHeader = [
        "site", "line", "station", "window", "start", "end", "revision", "good", "scrap", "energy_kwh",
        "good_per_hour", "run_s", "planned_s", "downtime_s", "availability", "performance", "quality", "oee",
        "cycle_ms_p50", "cycle_ms_p90", "cycle_ms_p99",
    ]

    /// RFC 4180 CSV: a header and one record per row, CRLF line ends, fields quoted when they
    /// hold `,` `"` CR or LF. Numbers as in the JSON (epoch ms, shortest round-trip doubles);
    /// `null` is an empty field.
    public static func csv(_ rows: [WindowRow]) -> String {
        var out = csvHeader.joined(separator: ",") + "\r\n"
        for r in rows {
            let fields: [String] = [
                r.site, r.line, r.station ?? "", r.window.rawValue, "\(r.start)", "\(r.end)", "\(r.revision)",
                "\(r.good)", "\(r.scrap)", number(r.energyKwh), number(r.goodPerHour), number(r.runS),
                number(r.plannedS), number(r.downtimeS), number(r.availability), number(r.performance),
                number(r.quality), number(r.oee), r.cycleMsP50.map(String.init) ?? "",
                r.cycleMsP90.map(String.init) ?? "", r.cycleMsP99.map(String.init) ?? "",
            ]
            out += fields.map(quoted).joined(separator: ",") + "\r\n"
        }
        return out
    }

    /// An RFC 4180 field.
    static func quoted(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else {
            return field
        }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// The JSON writer's number form (`597.0`, `0.9833333333333333`); empty for `nil`.
    static func number(_ v: Double?) -> String {
        guard v != nil else { return "" }
        var bytes: [UInt8] = []
        JSONOut.double(v, &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func fixed(_ v: Double, _ decimals: Int) -> String {
        String(format: "%.\(decimals)f", v)
    }
}
