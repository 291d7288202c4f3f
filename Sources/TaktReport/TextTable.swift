import Foundation

/// The plain-text tables of `takt query` and `takt plan`: aligned columns and their number forms.
enum TextTable {
    /// Columns two spaces apart, each as wide as its widest cell: those in `leftAligned` padded
    /// on the right, the others on the left; trailing spaces trimmed; a rule of `-` across the
    /// table before row `ruleBefore`. One line a row, `\n` after each.
    ///
    /// - Parameter cells: rows of cells (the first row is the header), all as long as the first.
    static func aligned(_ cells: [[String]], leftAligned: Set<Int>, ruleBefore: Int? = nil) -> String {
        var widths = [Int](repeating: 0, count: cells.first?.count ?? 0)
        for row in cells {
            for (k, c) in row.enumerated() { widths[k] = max(widths[k], c.count) }
        }
        var out = ""
        for (r, row) in cells.enumerated() {
            if r == ruleBefore {
                out += String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1)) + "\n"
            }
            var line = ""
            for (k, c) in row.enumerated() {
                let pad = String(repeating: " ", count: widths[k] - c.count)
                if k > 0 { line += "  " }
                line += leftAligned.contains(k) ? c + pad : pad + c
            }
            while line.last == " " { line.removeLast() }
            out += line + "\n"
        }
        return out
    }

    /// A ratio as a percentage with one decimal (`86.1%`); `-` for `nil`.
    static func percent(_ v: Double?) -> String {
        guard let v else { return "-" }
        return String(format: "%.1f%%", v * 100)
    }
}
