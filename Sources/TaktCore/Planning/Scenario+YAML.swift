import Foundation
import Yams

extension Scenario {
    /// Parses and validates a scenario file against its plant (`docs/planning.md`).
    ///
    /// - Parameters:
    ///   - yaml: the file's text (the caller reads the file; TaktCore does no I/O).
    ///   - fileName: how to name the file in errors.
    ///   - plant: the site's plant: templates and shutdown lines must be its lines.
    /// - Throws: ``PlantFileError`` naming the key and the line: YAML syntax, an unknown or
    ///   missing key, a value out of range, a date that does not exist, a template or shutdown
    ///   line that is not in the plant, a site that is not the plant's, a duplicate phase name.
    public static func load(yaml: String, fileName: String, plant: Plant) throws(PlantFileError) -> Scenario {
        let reader = PlantFileReader(fileName: fileName)
        let root = try reader.root(yaml: yaml)
        return try ScenarioFileReader(base: reader, plant: plant).scenario(root)
    }
}

private struct ScenarioFileReader {
    let base: PlantFileReader
    let plant: Plant

    func error(_ node: Node?, key: String, _ problem: String) -> PlantFileError {
        base.error(node?.mark, key: key, problem)
    }

    func date(_ node: Node, key: String) throws(PlantFileError) -> CivilDay {
        let text = try base.scalar(node, key: key)
        guard let day = CivilDay(iso: text), (1970...9999).contains(day.year) else {
            throw error(node, key: key, "'\(key)' is '\(text)': expected a date YYYY-MM-DD between 1970 and 9999")
        }
        return day
    }

    func whole(_ node: Node, key: String, _ range: ClosedRange<Int>) throws(PlantFileError) -> Int {
        let text = try base.scalar(node, key: key)
        guard let v = Int(text.replacingOccurrences(of: "_", with: "")), range.contains(v) else {
            throw error(node, key: key, "'\(key)' is '\(text)': expected a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return v
    }

    func scenario(_ root: Node) throws(PlantFileError) -> Scenario {
        let top = try base.fields(
            root, path: "", what: "the scenario file", required: ["site", "target"],
            optional: ["lookback", "horizon_days", "block_days", "plan_oee", "phases", "shutdowns"])
        let siteNode = top.values["site"]!
        let site = try base.segment(siteNode, key: "site")
        guard site == plant.site else {
            throw error(siteNode, key: "site", "'site' is '\(site)', but the plant file's site is '\(plant.site)'")
        }
        let t = try base.fields(top.values["target"]!, path: "target", what: "the target", required: ["gwh_per_year", "date"])
        let gwh = try base.number(t.values["gwh_per_year"]!, key: "target.gwh_per_year", 0...1e6, "above 0 and at most 1e6 (GWh a year)", above: 0)
        let targetDate = try date(t.values["date"]!, key: "target.date")

        var lookback = Scenario.defaultLookbackDays
        if let n = top.values["lookback"] {
            let text = try base.scalar(n, key: "lookback")
            let ms: Int64
            do { ms = try ContractTime.durationMs(text) } catch {
                throw self.error(n, key: "lookback", "'lookback' is '\(text)': expected whole days like 28d")
            }
            guard ms % 86_400_000 == 0, (1...3660).contains(ms / 86_400_000) else {
                throw self.error(n, key: "lookback", "'lookback' is '\(text)': expected whole days from 1d to 3660d, like 28d")
            }
            lookback = Int(ms / 86_400_000)
        }
        let horizon = try top.values["horizon_days"].map { n throws(PlantFileError) in try whole(n, key: "horizon_days", 1...36_600) }
        let block = try top.values["block_days"].map { n throws(PlantFileError) in try whole(n, key: "block_days", 1...366) }
        let planOEE = try top.values["plan_oee"].map { n throws(PlantFileError) in
            try base.number(n, key: "plan_oee", 0...1, "above 0 and at most 1 (0.85 is 85%)", above: 0)
        }

        var phases: [Scenario.Phase] = []
        if let node = top.values["phases"] {
            guard let items = node.sequence else { throw error(node, key: "phases", "'phases' must be a list of phases") }
            for (i, item) in items.enumerated() {
                let phase = try self.phase(item, path: "phases[\(i)]")
                if phases.contains(where: { $0.name == phase.name }) {
                    throw error(item, key: "phases[\(i)].name", "duplicate phase name '\(phase.name)'")
                }
                phases.append(phase)
            }
        }
        var shutdowns: [Scenario.Shutdown] = []
        if let node = top.values["shutdowns"] {
            guard let items = node.sequence else { throw error(node, key: "shutdowns", "'shutdowns' must be a list of shutdowns") }
            for (i, item) in items.enumerated() {
                shutdowns.append(try shutdown(item, path: "shutdowns[\(i)]", phases: phases))
            }
        }
        return Scenario(site: site, targetGWhPerYear: gwh, targetDate: targetDate, lookbackDays: lookback,
                        horizonDays: horizon ?? Scenario.defaultHorizonDays, blockDays: block ?? Scenario.defaultBlockDays,
                        planOEE: planOEE, phases: phases, shutdowns: shutdowns)
    }

    func phase(_ node: Node, path: String) throws(PlantFileError) -> Scenario.Phase {
        let f = try base.fields(
            node, path: path, what: "a phase", required: ["name", "template", "count", "first_commissioning", "ramp"],
            optional: ["stagger_days"])
        let name = try base.segment(f.values["name"]!, key: f.path("name"))
        if let clash = plant.line(name) {
            throw error(f.values["name"]!, key: f.path("name"), "'\(f.path("name"))' is '\(name)', already a line of the plant (\(clash.id))")
        }
        let templateNode = f.values["template"]!
        let template = try base.segment(templateNode, key: f.path("template"))
        guard plant.line(template) != nil else {
            throw error(templateNode, key: f.path("template"),
                        "'\(f.path("template"))' is '\(template)', which is not a line of the plant (\(plant.lines.map(\.id).prefix(6).joined(separator: ", "))…)")
        }
        let count = try whole(f.values["count"]!, key: f.path("count"), 1...1000)
        let first = try date(f.values["first_commissioning"]!, key: f.path("first_commissioning"))
        let stagger = try f.values["stagger_days"].map { n throws(PlantFileError) in try whole(n, key: f.path("stagger_days"), 0...3660) } ?? 0
        let r = try base.fields(f.values["ramp"]!, path: f.path("ramp"), what: "a ramp-up curve", required: ["shape", "days", "start_oee"])
        let shapeNode = r.values["shape"]!
        let shapeText = try base.scalar(shapeNode, key: r.path("shape"))
        guard let shape = Scenario.Ramp.Shape(rawValue: shapeText) else {
            throw error(shapeNode, key: r.path("shape"), "'\(r.path("shape"))' is '\(shapeText)': expected linear or s-curve")
        }
        let days = try whole(r.values["days"]!, key: r.path("days"), 0...3660)
        let start = try base.number(r.values["start_oee"]!, key: r.path("start_oee"), 0...1, "from 0 to 1 (0.3 is 30%)")
        return Scenario.Phase(name: name, template: template, count: count, firstCommissioning: first, staggerDays: stagger,
                              ramp: Scenario.Ramp(shape: shape, days: days, startOEE: start))
    }

    func shutdown(_ node: Node, path: String, phases: [Scenario.Phase]) throws(PlantFileError) -> Scenario.Shutdown {
        let f = try base.fields(node, path: path, what: "a shutdown", required: ["from", "to"], optional: ["name", "lines"])
        let name = try f.values["name"].map { n throws(PlantFileError) in try base.scalar(n, key: f.path("name")) } ?? path
        let from = try date(f.values["from"]!, key: f.path("from"))
        let toNode = f.values["to"]!
        let to = try date(toNode, key: f.path("to"))
        guard to >= from else {
            throw error(toNode, key: f.path("to"), "'\(f.path("to"))' is \(to), before 'from' (\(from)): the range is inclusive")
        }
        var lines: [String]?
        if let linesNode = f.values["lines"] {
            guard let items = linesNode.sequence, !items.isEmpty else {
                throw error(linesNode, key: f.path("lines"), "'\(f.path("lines"))' must be a non-empty list of line ids or phase names (omit it for every line)")
            }
            var ids: [String] = []
            for (i, item) in items.enumerated() {
                let key = "\(f.path("lines"))[\(i)]"
                let id = try base.segment(item, key: key)
                guard plant.line(id) != nil || phases.contains(where: { $0.name == id }) else {
                    throw error(item, key: key, "'\(key)' is '\(id)': neither a line of the plant nor a phase above")
                }
                ids.append(id)
            }
            lines = ids
        }
        return Scenario.Shutdown(name: name, from: from, to: to, lines: lines)
    }
}
