/// The JSON of `takt plan --format json`: contract section 6's keys and nesting, in its order,
/// then Takt's documented additions (`docs/planning.md`).
///
/// Deterministic: no whitespace, fixed key order, every key present (`null` when unknown).
/// GWh, ratios and kWh per unit are rounded to 6 decimals (GWh: to the kWh) and printed in the
/// shortest form that reads back as that value (`2.226`, `0.86`, `1.0`); the flags' own values
/// (`target_gwh`, `what_if`) are printed as given.
extension CapacityPlan {
    /// The JSON object as a string (no trailing newline).
    public var json: String {
        var out: [UInt8] = []
        out.reserveCapacity(512 + 320 * lines.count)
        writeJSON(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the JSON object to `out`.
    public func writeJSON(into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        Self.key("site", &out); JSONOut.string(site, &out)
        Self.key("year", &out); JSONOut.int(Int64(year), &out)
        Self.key("target_gwh", &out); JSONOut.double(targetGWh, &out)
        Self.key("lookback", &out); JSONOut.string(lookback, &out)
        Self.key("lines", &out)
        out.append(UInt8(ascii: "["))
        for (k, l) in lines.enumerated() {
            if k > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "{"))
            Self.key("line", &out); JSONOut.string(l.line, &out)
            Self.key("nameplate_gwh_per_year", &out); Self.rounded(l.nameplateGWhPerYear, &out)
            Self.key("oee", &out); Self.rounded(l.oee, &out)
            Self.key("projected_gwh_per_year", &out); Self.rounded(l.projectedGWhPerYear, &out)
            Self.key("ytd_gwh", &out); Self.rounded(l.ytdGWh, &out)
            Self.key("kwh_per_unit", &out); Self.rounded(l.kwhPerUnit, &out)
            Self.key("availability", &out); Self.rounded(l.availability, &out)
            Self.key("performance", &out); Self.rounded(l.performance, &out)
            Self.key("quality", &out); Self.rounded(l.quality, &out)
            Self.key("kwh_per_unit_measured", &out); JSONOut.raw(l.kwhPerUnitMeasured ? "true" : "false", &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        let t = siteTotal
        Self.key("site_total", &out)
        out.append(UInt8(ascii: "{"))
        Self.key("nameplate_gwh_per_year", &out); Self.rounded(t.nameplateGWhPerYear, &out)
        Self.key("projected_gwh_per_year", &out); Self.rounded(t.projectedGWhPerYear, &out)
        Self.key("ytd_gwh", &out); Self.rounded(t.ytdGWh, &out)
        Self.key("gap_gwh", &out); Self.rounded(t.gapGWh, &out)
        Self.key("lines_needed", &out); JSONOut.int(t.linesNeeded, &out)
        Self.key("oee_needed", &out); Self.rounded(t.oeeNeeded, &out)
        Self.key("line_count", &out); JSONOut.int(Int64(t.lineCount), &out)
        Self.key("ytd_pace_gwh_per_year", &out); Self.rounded(t.ytdPaceGWhPerYear, &out)
        out.append(UInt8(ascii: "}"))
        Self.key("as_of", &out); if let asOfMs { JSONOut.int(asOfMs, &out) } else { JSONOut.null(&out) }
        Self.key("target_date", &out); if let targetDate { JSONOut.string(targetDate, &out) } else { JSONOut.null(&out) }
        Self.key("what_if", &out)
        out.append(UInt8(ascii: "{"))
        Self.key("add_lines", &out); JSONOut.int(Int64(whatIf.addLines), &out)
        Self.key("oee", &out); JSONOut.double(whatIf.oee, &out)
        Self.key("cycle_s", &out); JSONOut.double(whatIf.cycleS, &out)
        out.append(UInt8(ascii: "}"))
        out.append(UInt8(ascii: "}"))
    }

    /// `v` rounded to 6 decimals: the `Double` nearest to that decimal, so its shortest form
    /// has at most 6 decimals.
    public static func round6(_ v: Double) -> Double {
        (v * 1e6).rounded() / 1e6
    }

    private static func rounded(_ v: Double?, _ out: inout [UInt8]) {
        JSONOut.double(v.map(round6), &out)
    }

    private static func key(_ k: StaticString, _ out: inout [UInt8]) {
        if let last = out.last, last != UInt8(ascii: "{") { out.append(UInt8(ascii: ",")) }
        out.append(UInt8(ascii: "\""))
        JSONOut.raw(k, &out)
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: ":"))
    }
}
