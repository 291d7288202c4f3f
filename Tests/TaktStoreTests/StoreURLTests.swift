import Testing
@testable import TaktStore

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

    @Test("PostgreSQL is answered with 'not built yet'")
    func postgresNotBuilt() throws {
        let url = try StoreURL(parsing: "postgres://u:p@h:5432/db")
        #expect {
            _ = try url.open(readOnly: true)
        } throws: { error in
            guard case StoreError.notBuilt(let message) = error else { return false }
            return message.contains("PostgreSQL store is not built yet")
        }
    }

    @Test("bad store URLs", arguments: [
        "", "sqlite:", "sqlite://", "mysql://h/db", "postgres://u:p@h:5432/", "postgres:///db",
        "postgres://h:99999/db", "postgres://h/db/extra",
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
