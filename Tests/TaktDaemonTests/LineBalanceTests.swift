import Foundation
import TaktCore
@testable import TaktDaemon
import Testing
import TestSupport

/// How the lines are spread over the daemons that share a store, and the settings of that mode.
@Suite("Line balance and shared-lines settings", .ownThreads)
struct LineBalanceTests {
    @Test("quotas: ⌈L/N⌉ for the first L mod N members by name, ⌊L/N⌋ for the rest; they add up to L")
    func quotas() {
        let members = ["c-1", "a-9", "b-2", "d-0"]
        for lines in [0, 1, 5, 6, 7, 16] {
            let quotas = members.map { LineBalance.quota(lines: lines, members: members, me: $0) }
            #expect(quotas.reduce(0, +) == lines, "\(lines): \(quotas)")
            #expect(quotas.allSatisfy { $0 == lines / 4 || $0 == lines / 4 + 1 })
        }
        #expect(["a-9", "b-2", "c-1", "d-0"].map { LineBalance.quota(lines: 6, members: members, me: $0) } == [2, 2, 1, 1])
        // Not a member yet (before its first heartbeat is seen): everything.
        #expect(LineBalance.quota(lines: 6, members: members, me: "e-5") == 6)
    }

    @Test("a plan gives up the surplus, or asks for the shortfall among the free lines only")
    func plans() {
        let lines = (1...6).map { LineKey(site: "s", line: "l\($0)") }
        let over = LineBalance.plan(held: Array(lines[0..<4]), free: [], quota: 2, me: "a")
        #expect(over == .init(release: [lines[2], lines[3]], take: []))
        let under = LineBalance.plan(held: [lines[0]], free: Array(lines[3...]), quota: 3, me: "a")
        #expect(under.release.isEmpty && under.take.count == 2 && under.take.allSatisfy { lines[3...].contains($0) })
        #expect(LineBalance.plan(held: [lines[0]], free: [lines[0]], quota: 3, me: "a") == .init())
        #expect(LineBalance.plan(held: Array(lines[0..<2]), free: Array(lines[2...]), quota: 2, me: "a") == .init())
        // Two daemons joining together start at different free lines (by their names' hash).
        let starts = Set(["a-1", "b-2", "c-3", "d-4", "e-5"].map { LineBalance.plan(held: [], free: lines, quota: 1, me: $0).take })
        #expect(starts.count > 1)
    }

    @Test("shared_lines and lease_ttl: parsed and bounded; shared lines need a PostgreSQL store")
    func settings() throws {
        let parsed = try DaemonConfiguration.load(yaml: "shared_lines: false\nlease_ttl: 30s\n", fileName: "t.yaml")
        #expect(parsed.sharedLines == false && parsed.leaseTtlMs == 30_000)
        #expect(DaemonConfiguration().leaseTtlMs == 15_000 && DaemonConfiguration().sharedLines == nil)
        for bad in ["lease_ttl: 500ms\n", "lease_ttl: 11m\n", "lease_ttl: soon\n", "shared_lines: maybe\n"] {
            #expect(throws: DaemonConfigurationError.self) { try DaemonConfiguration.load(yaml: bad, fileName: "t.yaml") }
        }
        var configuration = DaemonConfiguration()
        configuration.plants = [TaktBinaries.file("Config/plant-demo.yaml")]
        #expect(try DaemonSettings(configuration).sharesLines == false)
        configuration.store = "postgres://takt@127.0.0.1:5432/takt"
        let shared = try DaemonSettings(configuration)
        #expect(shared.sharesLines && shared.allLines.map(\.description) == ["demo/line-a", "demo/line-b"])
        configuration.sharedLines = false
        #expect(try DaemonSettings(configuration).sharesLines == false)
        configuration.store = nil
        configuration.sharedLines = true
        #expect(throws: DaemonConfigurationError.self) { try DaemonSettings(configuration) }
    }
}
