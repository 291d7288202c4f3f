/// A fast, deterministic JSON writer for ``WindowRow`` (metrics topics, `takt query
/// --format json`), with no Foundation.
///
/// Output: one object, no whitespace, keys in the contract's order, `null` for absent values.
/// Integers in decimal; doubles in Swift's shortest round-trip form (`597.0`, `0.9833333333333333`,
/// `1e-05`) so a reader gets the exact `Double` back; a non-finite double (never produced by
/// the KPI code) is written as `null`. Strings are escaped per RFC 8259.
extension WindowRow {
    /// Appends the JSON object to `out`.
    public func writeJSON(into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        key("site", &out); JSONOut.string(site, &out)
        key("line", &out); JSONOut.string(line, &out)
        key("station", &out); if let station { JSONOut.string(station, &out) } else { JSONOut.null(&out) }
        key("window", &out); JSONOut.string(window.rawValue, &out)
        key("start", &out); JSONOut.int(start, &out)
        key("end", &out); JSONOut.int(end, &out)
        key("revision", &out); JSONOut.int(revision, &out)
        key("good", &out); JSONOut.int(good, &out)
        key("scrap", &out); JSONOut.int(scrap, &out)
        key("energy_kwh", &out); JSONOut.double(energyKwh, &out)
        key("good_per_hour", &out); JSONOut.double(goodPerHour, &out)
        key("run_s", &out); JSONOut.double(runS, &out)
        key("planned_s", &out); JSONOut.double(plannedS, &out)
        key("downtime_s", &out); JSONOut.double(downtimeS, &out)
        key("availability", &out); JSONOut.double(availability, &out)
        key("performance", &out); JSONOut.double(performance, &out)
        key("quality", &out); JSONOut.double(quality, &out)
        key("oee", &out); JSONOut.double(oee, &out)
        key("cycle_ms", &out)
        out.append(UInt8(ascii: "{"))
        JSONOut.raw("\"p50\":", &out); JSONOut.int(cycleMsP50, &out)
        JSONOut.raw(",\"p90\":", &out); JSONOut.int(cycleMsP90, &out)
        JSONOut.raw(",\"p99\":", &out); JSONOut.int(cycleMsP99, &out)
        out.append(UInt8(ascii: "}"))
        out.append(UInt8(ascii: "}"))
    }

    /// The JSON object as bytes.
    public var jsonBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(400)
        writeJSON(into: &out)
        return out
    }

    /// The JSON object as a string.
    public var json: String { String(decoding: jsonBytes, as: UTF8.self) }

    /// Writes `rows` as a JSON array (`takt query --format json`).
    public static func writeJSONArray(_ rows: [WindowRow], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (k, r) in rows.enumerated() {
            if k > 0 { out.append(UInt8(ascii: ",")) }
            r.writeJSON(into: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    @inline(__always)
    private func key(_ k: StaticString, _ out: inout [UInt8]) {
        if out.last != UInt8(ascii: "{") { out.append(UInt8(ascii: ",")) }
        out.append(UInt8(ascii: "\""))
        JSONOut.raw(k, &out)
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: ":"))
    }
}

/// Small JSON output primitives shared by Takt's writers.
public enum JSONOut {
    @inline(__always)
    public static func raw(_ s: StaticString, _ out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    @inline(__always)
    public static func null(_ out: inout [UInt8]) { raw("null", &out) }

    /// Decimal digits of `v`, appended in place (no temporary buffer).
    public static func int(_ v: Int64, _ out: inout [UInt8]) {
        if v < 0 { out.append(UInt8(ascii: "-")) }
        var m = v.magnitude
        let first = out.count
        repeat {
            out.append(UInt8(ascii: "0") + UInt8(m % 10))
            m /= 10
        } while m > 0
        out[first...].reverse()
    }

    public static func int(_ v: Int?, _ out: inout [UInt8]) {
        if let v { int(Int64(v), &out) } else { null(&out) }
    }

    public static func double(_ v: Double?, _ out: inout [UInt8]) {
        guard let v, v.isFinite else { null(&out); return }
        out.append(contentsOf: (v == 0 ? 0.0 : v).description.utf8)
    }

    public static func double(_ v: Double, _ out: inout [UInt8]) {
        double(Optional(v), &out)
    }

    /// A JSON string with RFC 8259 escapes.
    public static func string(_ s: String, _ out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(b)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(b)
            case 0x0A: raw("\\n", &out)
            case 0x0D: raw("\\r", &out)
            case 0x09: raw("\\t", &out)
            case 0..<0x20:
                raw("\\u00", &out)
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 15)])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
