import Foundation
import Yams

extension Plant {
    /// Parses and validates a plant file (contract section 7).
    ///
    /// - Parameters:
    ///   - yaml: the file's text (the caller reads the file; TaktCore does no I/O).
    ///   - fileName: how to name the file in errors.
    /// - Throws: ``PlantFileError`` naming the key and the line for a YAML syntax error, an
    ///   unknown key, a missing required key, a value of the wrong type or out of range, a
    ///   duplicate id, an unknown time zone, or an `output_station` that is not a station.
    public static func load(yaml: String, fileName: String) throws(PlantFileError) -> Plant {
        let reader = PlantFileReader(fileName: fileName)
        let root = try reader.root(yaml: yaml)
        return try reader.plant(root)
    }
}

/// Walks the composed YAML tree, keeping marks so every error names a line.
struct PlantFileReader {
    let fileName: String

    func error(_ mark: Mark?, key: String, _ problem: String) -> PlantFileError {
        PlantFileError(file: fileName, line: mark?.line ?? 0, key: key, problem: problem)
    }

    /// The document's root node: a YAML syntax error or an empty file is a ``PlantFileError``
    /// (both plant and scenario files start with the required key `site`).
    func root(yaml: String) throws(PlantFileError) -> Node {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw yamlError(error)
        }
        guard let root else {
            throw PlantFileError(file: fileName, line: 1, key: "site", problem: "the file is empty; missing key 'site'")
        }
        return root
    }

    func yamlError(_ error: any Error) -> PlantFileError {
        guard let yamlError = error as? YamlError else {
            return PlantFileError(file: fileName, line: 0, key: "", problem: "not valid YAML: \(error)")
        }
        switch yamlError {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return PlantFileError(file: fileName, line: mark.line, key: "", problem: "not valid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")
            return PlantFileError(
                file: fileName, line: context.mark.line, key: duplicates.sorted().first ?? "",
                problem: "duplicate key \(keys) in one mapping")
        case .reader(let problem, _, _, _):
            return PlantFileError(file: fileName, line: 0, key: "", problem: "not valid YAML: \(problem)")
        default:
            return PlantFileError(file: fileName, line: 0, key: "", problem: "not valid YAML: \(yamlError)")
        }
    }

    // MARK: mappings

    /// The entries of a mapping, checked against the keys that are allowed and required.
    struct Fields {
        let path: String
        let mark: Mark?
        var values: [String: Node]

        func path(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    }

    func fields(_ node: Node, path: String, what: String, required: [String], optional: [String] = []) throws(PlantFileError) -> Fields {
        guard let mapping = node.mapping else {
            throw error(node.mark, key: path, "'\(path)' must be a mapping (\(what))")
        }
        let allowed = Set(required + optional)
        var values: [String: Node] = [:]
        for (keyNode, value) in mapping {
            let key = keyNode.scalar?.string ?? "\(keyNode)"
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            guard allowed.contains(key) else {
                let where_ = path.isEmpty ? "at the top level" : "in \(path)"
                throw error(
                    keyNode.mark, key: keyPath,
                    "unknown key '\(key)' \(where_); allowed: \((required + optional).joined(separator: ", "))")
            }
            values[key] = value
        }
        for key in required where values[key] == nil {
            let where_ = path.isEmpty ? "at the top level" : "in \(path)"
            throw error(node.mark, key: path.isEmpty ? key : "\(path).\(key)", "missing key '\(key)' \(where_)")
        }
        return Fields(path: path, mark: node.mark, values: values)
    }

    // MARK: scalars

    func scalar(_ node: Node, key: String) throws(PlantFileError) -> String {
        guard let scalar = node.scalar else {
            throw error(node.mark, key: key, "'\(key)' must be a single value")
        }
        if scalar.style == .plain, scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null" {
            throw error(node.mark, key: key, "'\(key)' has no value")
        }
        return scalar.string
    }

    func segment(_ node: Node, key: String) throws(PlantFileError) -> String {
        let value = try scalar(node, key: key)
        guard TopicSegment.isValid(value) else {
            throw error(node.mark, key: key, "'\(key)' is '\(value)': ids are 1 to 64 characters of A-Z a-z 0-9 _ -")
        }
        return value
    }

    /// A finite number within `range`; `rangeText` says the range in words for the error.
    func number(_ node: Node, key: String, _ range: ClosedRange<Double>, _ rangeText: String, above lower: Double? = nil) throws(PlantFileError) -> Double {
        let text = try scalar(node, key: key)
        guard let value = Double(text.replacingOccurrences(of: "_", with: "")), value.isFinite else {
            throw error(node.mark, key: key, "'\(key)' is '\(text)': expected a number \(rangeText)")
        }
        if let lower, value <= lower {
            throw error(node.mark, key: key, "'\(key)' is \(text): must be \(rangeText)")
        }
        guard range.contains(value) else {
            throw error(node.mark, key: key, "'\(key)' is \(text): must be \(rangeText)")
        }
        return value
    }

    // MARK: the plant

    func plant(_ root: Node) throws(PlantFileError) -> Plant {
        let top = try fields(root, path: "", what: "the plant file", required: ["site", "timezone", "calendar", "lines"])
        let site = try segment(top.values["site"]!, key: "site")
        guard !TopicSegment.reservedSites.contains(site) else {
            throw error(top.values["site"]!.mark, key: "site", "'site' is '\(site)': metrics, deadletter and status are reserved")
        }
        let zoneNode = top.values["timezone"]!
        let zoneName = try scalar(zoneNode, key: "timezone")
        guard let timeZone = TimeZone(identifier: zoneName) else {
            throw error(zoneNode.mark, key: "timezone", "'timezone' is '\(zoneName)': not an IANA time zone (e.g. Asia/Shanghai)")
        }
        let calendar = try fields(top.values["calendar"]!, path: "calendar", what: "calendar", required: ["planned_hours_per_year"])
        let planned = try number(
            calendar.values["planned_hours_per_year"]!, key: "calendar.planned_hours_per_year",
            0...8784, "above 0 and at most 8784", above: 0)

        let linesNode = top.values["lines"]!
        guard let lineNodes = linesNode.sequence else {
            throw error(linesNode.mark, key: "lines", "'lines' must be a list of lines")
        }
        guard !lineNodes.isEmpty else {
            throw error(linesNode.mark, key: "lines", "'lines' is empty: a plant needs at least one line")
        }
        var lines: [Plant.Line] = []
        var lineMarks: [String: Int] = [:]
        for (index, node) in lineNodes.enumerated() {
            let line = try self.line(node, path: "lines[\(index)]")
            if let first = lineMarks[line.id] {
                throw error(node.mark, key: "lines[\(index)].id", "duplicate line id '\(line.id)' (first at line \(first))")
            }
            lineMarks[line.id] = node.mark?.line ?? 0
            lines.append(line)
        }
        return Plant(site: site, timeZone: timeZone, plannedHoursPerYear: planned, lines: lines)
    }

    func line(_ node: Node, path: String) throws(PlantFileError) -> Plant.Line {
        let f = try fields(
            node, path: path, what: "a line",
            required: ["id", "product", "ideal_cycle_s", "unit_kwh", "output_station", "stations"], optional: ["sim", "alert_oee_below"])
        let id = try segment(f.values["id"]!, key: f.path("id"))
        guard id != OutboundTopic.siteLine else {
            throw error(f.values["id"]!.mark, key: f.path("id"), "'\(f.path("id"))' is '_site': reserved for site totals")
        }
        let product = try scalar(f.values["product"]!, key: f.path("product"))
        let ideal = try number(f.values["ideal_cycle_s"]!, key: f.path("ideal_cycle_s"), 0...86_400, "above 0 and at most 86400 (seconds)", above: 0)
        let unitKWh = try number(f.values["unit_kwh"]!, key: f.path("unit_kwh"), 0...1e6, "between 0 and 1e6 (kWh)")
        let outputNode = f.values["output_station"]!
        let output = try segment(outputNode, key: f.path("output_station"))

        let stationsNode = f.values["stations"]!
        guard let stationNodes = stationsNode.sequence else {
            throw error(stationsNode.mark, key: f.path("stations"), "'\(f.path("stations"))' must be a list of stations")
        }
        guard !stationNodes.isEmpty else {
            throw error(stationsNode.mark, key: f.path("stations"), "'\(f.path("stations"))' is empty: a line needs at least one station")
        }
        var stations: [Plant.Station] = []
        var seen: [String: Int] = [:]
        for (index, stationNode) in stationNodes.enumerated() {
            let sPath = "\(f.path("stations"))[\(index)]"
            let s = try fields(stationNode, path: sPath, what: "a station", required: ["id", "cycle_s"],
                               optional: ["sparkplug", "umh"])
            let sid = try segment(s.values["id"]!, key: s.path("id"))
            if let first = seen[sid] {
                throw error(s.values["id"]!.mark, key: s.path("id"), "duplicate station id '\(sid)' in \(path) (first at line \(first))")
            }
            seen[sid] = s.values["id"]!.mark?.line ?? 0
            let cycle = try number(s.values["cycle_s"]!, key: s.path("cycle_s"), 0...86_400, "above 0 and at most 86400 (seconds)", above: 0)
            let binding = try s.values["sparkplug"].map { node throws(PlantFileError) in try sparkplug(node, path: s.path("sparkplug")) }
            let umh = try s.values["umh"].map { node throws(PlantFileError) in try umhAsset(node, key: s.path("umh")) }
            stations.append(Plant.Station(id: sid, cycleS: cycle, sparkplug: binding, umh: umh))
        }
        guard seen[output] != nil else {
            throw error(
                outputNode.mark, key: f.path("output_station"),
                "'\(f.path("output_station"))' is '\(output)', which is not one of its stations (\(stations.map(\.id).joined(separator: ", ")))")
        }
        var sim: Plant.Simulation?
        if let simNode = f.values["sim"] {
            sim = try simulation(simNode, path: f.path("sim"))
        }
        var alertOEEBelow: Double?
        if let node = f.values["alert_oee_below"] {
            alertOEEBelow = try number(node, key: f.path("alert_oee_below"), 0...1, "above 0 and at most 1 (0.6 is 60%)", above: 0)
        }
        var parsed = Plant.Line(
            id: id, product: product, idealCycleS: ideal, unitKWh: unitKWh, outputStation: output,
            stations: stations, sim: sim)
        parsed.alertOEEBelow = alertOEEBelow
        return parsed
    }

    func simulation(_ node: Node, path: String) throws(PlantFileError) -> Plant.Simulation {
        let f = try fields(
            node, path: path, what: "simulator parameters", required: [],
            optional: ["cycle_jitter", "scrap_rate", "mtbf_h", "mttr_min", "energy_sigma"])
        var sim = Plant.Simulation()
        if let n = f.values["cycle_jitter"] {
            sim.cycleJitter = try number(n, key: f.path("cycle_jitter"), 0...0.5, "between 0 and 0.5")
        }
        if let n = f.values["scrap_rate"] {
            sim.scrapRate = try number(n, key: f.path("scrap_rate"), 0...1, "between 0 and 1")
        }
        if let n = f.values["mtbf_h"] {
            sim.mtbfHours = try number(n, key: f.path("mtbf_h"), 0...1e6, "between 0 (no breakdowns) and 1e6 hours")
        }
        if let n = f.values["mttr_min"] {
            sim.mttrMinutes = try number(n, key: f.path("mttr_min"), 0...1e6, "above 0 and at most 1e6 minutes", above: 0)
        }
        if let n = f.values["energy_sigma"] {
            sim.energySigma = try number(n, key: f.path("energy_sigma"), 0...0.5, "between 0 and 0.5")
        }
        return sim
    }
}
