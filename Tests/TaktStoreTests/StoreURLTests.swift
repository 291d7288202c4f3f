import Testing
@testable import TaktStore
import TestSupport

@Suite("StoreURL")
struct StoreURLTests {
    @Test("SQLite forms", arguments: [
        ("sqlite:data/takt.db", "data/takt.db"),
        ("sqlite:/var/lib/takt/takt.db", "/var/lib/takt/takt.db"),
        ("sqlite:///var/lib/takt/takt.db", "/var/lib/takt/takt.db"),
        ("takt.db", "takt.db"),
        ("/tmp/a b/takt.db", "/tmp/a b/takt.db"),
        ("./x:y.db", "./x:y.db"),
    ])
    func sqlite(_ text: String, _ path: String) throws {
        #expect(try StoreURL(parsing: text) == .sqlite(path: path))
    }

    @Test("PostgreSQL URLs are parsed")
    func postgres() throws {
        #expect(try StoreURL(parsing: "postgres://takt:s%40cret@db.example:6543/rollups")
                == .postgres(.init(user: "takt", password: "s@cret", host: "db.example", port: 6543, database: "rollups")))
        #expect(try StoreURL(parsing: "postgresql://h/db") == .postgres(.init(user: nil, password: nil, host: "h", database: "db")))
        let url = try StoreURL(parsing: "postgres://u:pw@h:5432/db")
        #expect(url.description == "postgres://u:***@h:5432/db")
    }

    @Test("sslmode: libpq's names, prefer by default, shown in the description unless it is the default")
    func sslMode() throws {
        guard case .postgres(let plain) = try StoreURL(parsing: "postgres://h/db") else { Issue.record("not postgres"); return }
        #expect(plain.sslMode == .prefer)
        for mode in StoreURL.SSLMode.allCases {
            let url = try StoreURL(parsing: "postgres://u:pw@h:5432/db?sslmode=\(mode.rawValue)")
            guard case .postgres(let location) = url else { Issue.record("not postgres"); return }
            #expect(location.sslMode == mode)
            #expect(url.description == "postgres://u:***@h:5432/db" + (mode == .prefer ? "" : "?sslmode=\(mode.rawValue)"))
        }
    }

    @Test("a PostgreSQL server that is not there: cannotOpen naming it, without the password")
    func unreachable() async throws {
        let port = try freeLoopbackPort()
        let url = try StoreURL(parsing: "postgres://u:hunter2@127.0.0.1:\(port)/db?sslmode=disable")
        await #expect {
            _ = try await url.open(readOnly: true)
        } throws: { error in
            guard case StoreError.cannotOpen(let path, _) = error else { return false }
            return path.contains("127.0.0.1:\(port)") && !"\(error)".contains("hunter2")
        }
    }

    @Test("bad store URLs", arguments: [
        "", "sqlite:", "sqlite://", "mysql://h/db", "postgres://u:p@h:5432/", "postgres:///db",
        "postgres://h:99999/db", "postgres://h/db/extra", "postgres://h/db?sslmode=sometimes", "postgres://h/db?pool=3",
    ])
    func bad(_ text: String) {
        #expect(throws: StoreURLError.self) { _ = try StoreURL(parsing: text) }
    }

    @Test("an error message never shows the password")
    func redacts() {
        #expect {
            _ = try StoreURL(parsing: "postgres://u:hunter2@h:5432/")
        } throws: { error in
            "\(error)".contains("***") && !"\(error)".contains("hunter2")
        }
    }
}
