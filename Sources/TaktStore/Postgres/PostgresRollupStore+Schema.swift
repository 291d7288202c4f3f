import Logging
import PostgresNIO

/// One schema version of the PostgreSQL store: statements run in one transaction. A migration,
/// once released, never changes: add a new one.
struct PostgresMigration: Sendable {
    var id: String
    var statements: [String]
}

extension PostgresRollupStore {
    /// The schema versions, in order. The columns are those of the SQLite store (docs/store.md)
    /// with PostgreSQL's types: `is_output` is a boolean, `cycle_hist` the same byte form
    /// (``HistogramBlob``) or `NULL` for an empty histogram.
    static let migrations: [PostgresMigration] = [
        PostgresMigration(id: "v1", statements: [
            """
            CREATE TABLE window_row (
                site text NOT NULL,
                line text NOT NULL,
                station text NOT NULL,
                tier text NOT NULL CHECK (tier IN ('1m', '1h', '1d')),
                start_ms bigint NOT NULL,
                end_ms bigint NOT NULL CHECK (end_ms > start_ms),
                revision bigint NOT NULL CHECK (revision >= 1),
                good bigint NOT NULL,
                scrap bigint NOT NULL,
                energy_kwh double precision NOT NULL,
                unit_messages bigint NOT NULL,
                cycle_hist bytea,
                run_ms bigint NOT NULL,
                planned_ms bigint NOT NULL,
                ideal_cycle_s double precision NOT NULL,
                is_output boolean NOT NULL,
                PRIMARY KEY (site, line, station, tier, start_ms)
            )
            """,
            // Site-wide queries and `_site` rows: output-station rows of a site, tier and start
            // range (one row per line and window).
            "CREATE INDEX window_row_output ON window_row (site, tier, start_ms, line) WHERE is_output",
            """
            CREATE TABLE station_snapshot (
                site text NOT NULL,
                line text NOT NULL,
                station text NOT NULL,
                dedup bytea NOT NULL,
                timeline bytea NOT NULL,
                PRIMARY KEY (site, line, station)
            )
            """,
            """
            CREATE TABLE site_counters (
                site text PRIMARY KEY,
                horizon_ms bigint NOT NULL,
                accepted bigint NOT NULL,
                duplicates bigint NOT NULL,
                dead_letters bigint NOT NULL,
                missing bigint NOT NULL
            )
            """,
            // The single daemon's journal position, and the token of the last commit (how a
            // commit whose connection was lost learns whether it was applied).
            """
            CREATE TABLE journal_state (
                id integer PRIMARY KEY CHECK (id = 1),
                offset_bytes bigint NOT NULL CHECK (offset_bytes >= 0),
                commit_token uuid
            )
            """,
            "INSERT INTO journal_state (id, offset_bytes) VALUES (1, 0)",
            // `takt store copy`: which source is being copied in, and the key of the last window
            // row written (the copy resumes after it).
            """
            CREATE TABLE store_copy (
                id integer PRIMARY KEY CHECK (id = 1),
                source text NOT NULL,
                last_site text, last_line text, last_station text, last_tier text, last_start_ms bigint,
                rows_copied bigint NOT NULL DEFAULT 0,
                finished boolean NOT NULL DEFAULT false
            )
            """,
        ]),
        // Several daemons on one store (contract section 11): who is alive, who owns which line
        // at which epoch (expiry on the database's clock), and a log of every lease that
        // changed hands. A fenced commit's token lives on its owner's member row.
        PostgresMigration(id: "v2", statements: [
            """
            CREATE TABLE lease_member (
                owner text PRIMARY KEY,
                expires_at timestamptz NOT NULL,
                commit_token uuid
            )
            """,
            """
            CREATE TABLE line_lease (
                site text NOT NULL,
                line text NOT NULL,
                owner text NOT NULL,
                epoch bigint NOT NULL CHECK (epoch >= 1),
                expires_at timestamptz NOT NULL,
                -- The site horizon (epoch ms) up to which the line's state time is in the store:
                -- where the line's next holder resumes integrating state time.
                state_horizon_ms bigint NOT NULL DEFAULT 0,
                PRIMARY KEY (site, line)
            )
            """,
            """
            CREATE TABLE line_lease_event (
                id bigserial PRIMARY KEY,
                at timestamptz NOT NULL DEFAULT clock_timestamp(),
                site text NOT NULL,
                line text NOT NULL,
                owner text NOT NULL,
                epoch bigint NOT NULL,
                kind text NOT NULL CHECK (kind IN ('acquired', 'released'))
            )
            """,
        ]),
    ]

    /// The advisory lock key under which migrations run ('takt' in ASCII).
    static let migrationLockKey: Int64 = 0x7461_6B74

    /// Creates the migrations table and applies every migration not applied yet, each in its own
    /// transaction, under a transaction-level advisory lock (concurrent daemons migrate once).
    /// A migration's transaction is exempt from the session's `idle_in_transaction_session_timeout`
    /// (5 s, there so that a stopped daemon cannot hold lease rows): a process whose tasks stall
    /// between two of its statements — a loaded start-up; a CI dry run saw every attempt to open
    /// a store fail with "the connection to the server is closed" — must not lose the connection
    /// half-way. It holds only the migration lock, which only other migrations wait for.
    static let noIdleTimeout: PostgresQuery = "SET LOCAL idle_in_transaction_session_timeout = 0"

    static func migrate(_ client: PostgresClient, location: StoreURL.PostgresLocation, logger: Logger) async throws {
        // Under the lock too: two daemons' concurrent CREATE TABLE IF NOT EXISTS can both try to
        // create it (a unique-key error from the catalogue).
        try await client.checkedTransaction(logger: logger) { connection in
            try await connection.checkedQuery(noIdleTimeout, logger: logger)
            try await connection.checkedQuery("SELECT pg_advisory_xact_lock(\(migrationLockKey))", logger: logger)
            try await connection.checkedQuery("""
                CREATE TABLE IF NOT EXISTS takt_migrations (
                    id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())
                """, logger: logger)
        }
        let applied = try await appliedMigrations(client, logger: logger)
        try checkNotNewer(applied, location: location, program: "taktd")
        for migration in migrations where !applied.contains(migration.id) {
            try await client.checkedTransaction(logger: logger) { connection in
                try await connection.checkedQuery(noIdleTimeout, logger: logger)
                try await connection.checkedQuery("SELECT pg_advisory_xact_lock(\(migrationLockKey))", logger: logger)
                // Another daemon may have applied it while we waited for the lock.
                let done = try await connection.checkedQuery(
                    "SELECT 1 FROM takt_migrations WHERE id = \(migration.id)", logger: logger).collect()
                guard done.isEmpty else { return }
                for statement in migration.statements {
                    try await connection.checkedQuery(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.checkedQuery("INSERT INTO takt_migrations (id) VALUES (\(migration.id))", logger: logger)
            }
            logger.info("store migrated", metadata: ["migration": "\(migration.id)"])
        }
    }

    /// For a read-only open: the schema must be there and be exactly this program's.
    static func checkSchema(_ client: PostgresClient, location: StoreURL.PostgresLocation, logger: Logger) async throws {
        let exists = try await client.checkedQuery("SELECT to_regclass('takt_migrations') IS NOT NULL", logger: logger)
        guard let row = exists.first, try row.decode(Bool.self) else {
            throw StoreError.cannotOpen(path: "\(StoreURL.postgres(location))", reason: "not a Takt store (no schema)")
        }
        let applied = try await appliedMigrations(client, logger: logger)
        try checkNotNewer(applied, location: location, program: "takt")
        guard migrations.allSatisfy({ applied.contains($0.id) }) else {
            throw StoreError.schemaMismatch(path: "\(StoreURL.postgres(location))",
                                            reason: "its schema is older than this takt; start taktd once to migrate it")
        }
    }

    /// The identifiers of the migrations applied to this database.
    static func appliedMigrations(_ client: PostgresClient, logger: Logger) async throws -> Set<String> {
        var ids = Set<String>()
        for row in try await client.checkedQuery("SELECT id FROM takt_migrations", logger: logger) {
            let id = try row.decode(String.self)
            ids.insert(id)
        }
        return ids
    }

    private static func checkNotNewer(_ applied: Set<String>, location: StoreURL.PostgresLocation, program: String) throws {
        let known = Set(migrations.map(\.id))
        if !applied.isSubset(of: known) {
            throw StoreError.schemaMismatch(path: "\(StoreURL.postgres(location))", reason: "written by a newer Takt; upgrade \(program)")
        }
    }

    /// The identifiers of the migrations applied (diagnostics, tests).
    public func appliedMigrations() async throws -> [String] {
        let ids = try await Self.appliedMigrations(client, logger: logger)
        return Self.migrations.map(\.id).filter(ids.contains)
    }
}
