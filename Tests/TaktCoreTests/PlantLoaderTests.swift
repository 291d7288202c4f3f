import Foundation
import Testing
import TestSupport
@testable import TaktCore

@Suite("Plant file loader")
struct PlantLoaderTests {
    static let valid = """
        site: bishan
        timezone: Asia/Shanghai
        calendar:
          planned_hours_per_year: 8400
        lines:
          - id: blade-01
            product: blade-cell
            ideal_cycle_s: 6.0
            unit_kwh: 0.4416
            output_station: eol
            stations:
              - {id: stacking, cycle_s: 5.6}
              - {id: eol, cycle_s: 6.0}
            sim:
              cycle_jitter: 0.03
              scrap_rate: 0.005
              mtbf_h: 6
              mttr_min: 10
              energy_sigma: 0.004
          - id: blade-02
            product: blade-cell
            ideal_cycle_s: 6
            unit_kwh: 0.4416
            output_station: eol
            stations:
              - id: eol
                cycle_s: 6
        """

    /// The error for `yaml`, which must fail to load.
    func failure(_ yaml: String) -> PlantFileError? {
        do {
            _ = try Plant.load(yaml: yaml, fileName: "plant.yaml")
            return nil
        } catch {
            return error
        }
    }

    @Test func loadsEveryKey() throws {
        let plant = try Plant.load(yaml: Self.valid, fileName: "plant.yaml")
        #expect(plant.site == "bishan")
        #expect(plant.timeZone.identifier == "Asia/Shanghai")
        #expect(plant.plannedHoursPerYear == 8400)
        #expect(plant.lines.map(\.id) == ["blade-01", "blade-02"])
        let line = plant.lines[0]
        #expect(line.product == "blade-cell")
        #expect(line.idealCycleS == 6.0)
        #expect(line.unitKWh == 0.4416)
        #expect(line.outputStation == "eol")
        #expect(line.outputStationIndex == 1)
        #expect(line.stations == [Plant.Station(id: "stacking", cycleS: 5.6), Plant.Station(id: "eol", cycleS: 6.0)])
        #expect(line.sim == Plant.Simulation(cycleJitter: 0.03, scrapRate: 0.005, mtbfHours: 6, mttrMinutes: 10, energySigma: 0.004))
        #expect(plant.lines[1].sim == nil)
        #expect(abs(line.nameplateGWhPerYear(plannedHoursPerYear: 8400) - 2.22566) < 1e-4)
    }

    @Test func shippedPlantFilesLoad() throws {
        let root = TaktBinaries.packageRoot
        let bishan = try Plant.load(
            yaml: String(contentsOf: root.appendingPathComponent("Config/plant-bishan.yaml"), encoding: .utf8),
            fileName: "plant-bishan.yaml")
        #expect(bishan.lines.count == 16)
        let nameplate = bishan.lines.reduce(0) { $0 + $1.nameplateGWhPerYear(plannedHoursPerYear: bishan.plannedHoursPerYear) }
        #expect(abs(nameplate - 35.61) < 0.01)
        let demo = try Plant.load(
            yaml: String(contentsOf: root.appendingPathComponent("Config/plant-demo.yaml"), encoding: .utf8),
            fileName: "plant-demo.yaml")
        #expect(demo.lines.count == 2)
    }

    @Test func unknownKeyNamesKeyAndLine() throws {
        let yaml = Self.valid.replacingOccurrences(of: "    product: blade-cell\n    ideal_cycle_s: 6\n", with: "    product: blade-cell\n    colour: red\n    ideal_cycle_s: 6\n")
        let error = try #require(failure(yaml))
        #expect(error.key == "lines[1].colour")
        #expect(error.line == 22)
        #expect(error.description.hasPrefix("plant.yaml:22:"))
        #expect(error.description.contains("'colour'"))
    }

    @Test func unknownKeyInSimBlockAndTopLevel() throws {
        let sim = try #require(failure(Self.valid.replacingOccurrences(of: "      mttr_min: 10", with: "      mttr_minutes: 10")))
        #expect(sim.key == "lines[0].sim.mttr_minutes")
        #expect(sim.line == 18)
        let top = try #require(failure("extra: 1\n" + Self.valid))
        #expect(top.key == "extra")
        #expect(top.line == 1)
    }

    @Test func missingKeyNamesKeyAndLine() throws {
        let error = try #require(failure(Self.valid.replacingOccurrences(of: "      - {id: stacking, cycle_s: 5.6}", with: "      - {id: stacking}")))
        #expect(error.key == "lines[0].stations[0].cycle_s")
        #expect(error.line == 12)
        #expect(error.description.contains("missing key 'cycle_s'"))

        let noTimezone = try #require(failure(Self.valid.replacingOccurrences(of: "timezone: Asia/Shanghai\n", with: "")))
        #expect(noTimezone.key == "timezone")
        #expect(noTimezone.line == 1)

        let noOutput = try #require(failure(Self.valid.replacingOccurrences(of: "    output_station: eol\n    stations:\n      - id: eol", with: "    stations:\n      - id: eol")))
        #expect(noOutput.key == "lines[1].output_station")
        #expect(noOutput.line == 20)
    }

    @Test(arguments: [
        ("site: bishan", "site: bad/site", "site", 1),
        ("site: bishan", "site: metrics", "site", 1),
        ("timezone: Asia/Shanghai", "timezone: Mars/Olympus", "timezone", 2),
        ("planned_hours_per_year: 8400", "planned_hours_per_year: 0", "calendar.planned_hours_per_year", 4),
        ("    ideal_cycle_s: 6.0", "    ideal_cycle_s: -6", "lines[0].ideal_cycle_s", 8),
        ("    ideal_cycle_s: 6.0", "    ideal_cycle_s: fast", "lines[0].ideal_cycle_s", 8),
        ("      - {id: stacking, cycle_s: 5.6}", "      - {id: stacking, cycle_s: 0}", "lines[0].stations[0].cycle_s", 12),
        ("      - {id: stacking, cycle_s: 5.6}", "      - {id: eol, cycle_s: 5.6}", "lines[0].stations[1].id", 13),
        ("      - {id: stacking, cycle_s: 5.6}", "      - {id: 'stack ing', cycle_s: 5.6}", "lines[0].stations[0].id", 12),
        ("  - id: blade-02", "  - id: blade-01", "lines[1].id", 20),
        ("  - id: blade-02", "  - id: _site", "lines[1].id", 20),
        ("    output_station: eol\n    stations:\n      - {id: stacking", "    output_station: packing\n    stations:\n      - {id: stacking", "lines[0].output_station", 10),
        ("      scrap_rate: 0.005", "      scrap_rate: 1.5", "lines[0].sim.scrap_rate", 16),
        ("      mttr_min: 10", "      mttr_min: 0", "lines[0].sim.mttr_min", 18),
        ("lines:\n", "lines: []\nnot_lines:\n", "not_lines", 6),
    ])
    func badValuesNameKeyAndLine(original: String, replacement: String, key: String, line: Int) throws {
        #expect(Self.valid.contains(original))
        let error = try #require(failure(Self.valid.replacingOccurrences(of: original, with: replacement)))
        #expect(error.key == key, "\(error)")
        #expect(error.line == line, "\(error)")
    }

    @Test func emptyLinesAndWrongShapes() throws {
        let empty = try #require(failure(Self.valid.components(separatedBy: "lines:")[0] + "lines: []\n"))
        #expect(empty.key == "lines")
        let notMapping = try #require(failure("- just\n- a list\n"))
        #expect(notMapping.line == 1)
        let emptyFile = try #require(failure(""))
        #expect(emptyFile.key == "site")
    }

    @Test func yamlSyntaxErrorHasLine() throws {
        let error = try #require(failure(Self.valid.replacingOccurrences(of: "      - {id: stacking, cycle_s: 5.6}", with: "      - {id: stacking, cycle_s: 5.6")))
        #expect(error.line >= 12)
        #expect(error.description.contains("YAML"))
    }

    @Test func duplicateKeyIsAnError() throws {
        let error = try #require(failure(Self.valid.replacingOccurrences(of: "    unit_kwh: 0.4416\n    output_station: eol\n    stations:\n      - {id: stacking", with: "    unit_kwh: 0.4416\n    unit_kwh: 0.5\n    output_station: eol\n    stations:\n      - {id: stacking")))
        #expect(error.key == "unit_kwh")
        #expect(error.line > 0)
    }
}
