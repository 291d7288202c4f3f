import Foundation

/// Text escaping, number formats, axis ticks and an element writer for the report's inline SVG.
///
/// Everything written goes through ``escape(_:)``: ids come from plant files and stores, and a
/// report must stay one well-formed document whatever they hold.
enum SVG {
    /// Escapes `&`, `<`, `>`, `"` and `'` for HTML/XML text and attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// The exact value for a `data-` attribute: Swift's shortest round-trip form; empty for `nil`.
    static func exact(_ v: Double?) -> String {
        guard let v else { return "" }
        return "\(v)"
    }

    /// A coordinate (two decimals, no trailing zeros).
    static func c(_ v: Double) -> String {
        let r = (v * 100).rounded() / 100
        return r == r.rounded() ? String(Int(r)) : String(format: "%.2f", r)
    }

    /// `v` with `decimals` decimals.
    static func fixed(_ v: Double, _ decimals: Int) -> String {
        String(format: "%.\(decimals)f", v)
    }

    /// A ratio as a percentage with one decimal (`86.1%`); `–` for `nil`.
    static func percent(_ v: Double?) -> String {
        guard let v else { return "–" }
        return String(format: "%.1f%%", v * 100)
    }

    /// Round tick values covering `[0, max]`: about `count` steps of 1, 2 or 5 × 10ⁿ.
    /// The last tick is ≥ `max` (so it is the axis top).
    static func niceTicks(max: Double, count: Int = 5) -> [Double] {
        let top = max > 0 && max.isFinite ? max : 1
        let raw = top / Double(count)
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        var ticks: [Double] = []
        var v = 0.0
        while true {
            ticks.append(v)
            if v >= top - step * 1e-9 { break }
            v += step
        }
        return ticks
    }

    /// Decimals that tell `ticks` apart.
    static func decimals(for ticks: [Double]) -> Int {
        guard ticks.count > 1 else { return 0 }
        let step = ticks[1] - ticks[0]
        return step >= 1 ? 0 : min(4, Int((-log10(step)).rounded(.up)))
    }

    /// Local-time ticks in `[from, to]` (epoch ms): at most about `maxCount`, on local
    /// midnights or whole hours, with their labels (`Nov 12`, or `Nov 12 06:00` under a day).
    static func timeTicks(from: Int64, to: Int64, timeZone: TimeZone, maxCount: Int = 8) -> [(t: Int64, label: String)] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let spanHours = Double(to - from) / 3_600_000
        let stepHours = [1, 2, 3, 6, 12, 24, 48, 72, 168, 336, 720].first { spanHours / Double($0) <= Double(maxCount) } ?? 1440
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = stepHours >= 24 ? "MMM d" : "MMM d HH:mm"
        let start = Date(timeIntervalSince1970: Double(from) / 1000)
        var tick = calendar.startOfDay(for: start)
        var ticks: [(Int64, String)] = []
        while true {
            let ms = Int64((tick.timeIntervalSince1970 * 1000).rounded())
            if ms > to { break }
            if ms >= from { ticks.append((ms, formatter.string(from: tick))) }
            let next = stepHours >= 24
                ? calendar.date(byAdding: .day, value: stepHours / 24, to: tick)
                : calendar.date(byAdding: .hour, value: stepHours, to: tick)
            guard let next, next > tick else { break }
            tick = next
        }
        return ticks
    }

    /// A local date and time, `2026-11-12 08:00`.
    static func localTime(_ ms: Int64, _ timeZone: TimeZone) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }

    /// Sixteen colours that stay apart on white (Tableau 10, then darker companions).
    static let palette = [
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
        "#9c755f", "#bab0ac", "#1f3b73", "#a0522d", "#7f1d1d", "#2f6f6a", "#2d5a27", "#6b4c9a",
    ]

    static func color(_ index: Int) -> String { palette[index % palette.count] }
}

/// Appends SVG elements to a string; attribute values are escaped here, so callers pass raw text.
struct SVGWriter {
    private(set) var text = ""

    /// Opens the root element (`width` × `height` user units, scaled to the container's width).
    init(width: Int, height: Int, className: String, label: String, data: [(String, String)] = []) {
        text = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(width) \(height)\" class=\"\(SVG.escape(className))\""
            + " role=\"img\" aria-label=\"\(SVG.escape(label))\"" + Self.attributes(data) + ">\n"
    }

    static func attributes(_ pairs: [(String, String)]) -> String {
        pairs.map { " \($0.0)=\"\(SVG.escape($0.1))\"" }.joined()
    }

    mutating func raw(_ s: String) { text += s }

    mutating func open(_ name: String, _ attrs: [(String, String)] = []) {
        text += "<\(name)\(Self.attributes(attrs))>\n"
    }

    mutating func close(_ name: String) { text += "</\(name)>\n" }

    mutating func element(_ name: String, _ attrs: [(String, String)]) {
        text += "<\(name)\(Self.attributes(attrs))/>\n"
    }

    /// A `<text>` element with escaped content.
    mutating func label(_ content: String, x: Double, y: Double, anchor: String = "start", className: String = "",
                        extra: [(String, String)] = []) {
        var attrs: [(String, String)] = [("x", SVG.c(x)), ("y", SVG.c(y))]
        if anchor != "start" { attrs.append(("text-anchor", anchor)) }
        if !className.isEmpty { attrs.append(("class", className)) }
        text += "<text\(Self.attributes(attrs + extra))>\(SVG.escape(content))</text>\n"
    }

    mutating func line(x1: Double, y1: Double, x2: Double, y2: Double, className: String, extra: [(String, String)] = []) {
        element("line", [("x1", SVG.c(x1)), ("y1", SVG.c(y1)), ("x2", SVG.c(x2)), ("y2", SVG.c(y2)), ("class", className)] + extra)
    }

    mutating func rect(x: Double, y: Double, width: Double, height: Double, className: String, extra: [(String, String)] = []) {
        element("rect", [("x", SVG.c(x)), ("y", SVG.c(y)), ("width", SVG.c(max(0, width))), ("height", SVG.c(max(0, height))),
                         ("class", className)] + extra)
    }

    mutating func finish() -> String {
        text += "</svg>\n"
        return text
    }
}
