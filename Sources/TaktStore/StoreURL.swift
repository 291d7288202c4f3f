import Foundation

/// A parsed `--store` value (contract section 5).
///
/// - `sqlite:PATH` — the embedded store; `PATH` is taken as written (relative to the working
///   directory unless it starts with `/`). `sqlite://PATH` is accepted too (so
///   `sqlite:///var/lib/takt/takt.db` is the absolute path `/var/lib/takt/takt.db`).
/// - a bare path (no `scheme:` in front) — the same as `sqlite:PATH`.
/// - `postgres://user:pass@host:port/db[?sslmode=…]` (or `postgresql://`) — the shared store
///   (percent-escapes in the user and password decoded; port 5432 when absent; `sslmode` as
///   libpq's: `disable`, `prefer` (default), `require`, `verify-full`).
public enum StoreURL: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresLocation)

    /// Connection details of a PostgreSQL store.
    public struct PostgresLocation: Sendable, Equatable {
        public var user: String?
        public var password: String?
        public var host: String
        public var port: Int
        public var database: String
        /// The URL's `sslmode` (libpq's names); `prefer` when absent, as libpq.
        public var sslMode: SSLMode

        public init(user: String?, password: String?, host: String, port: Int = 5432, database: String,
                    sslMode: SSLMode = .prefer) {
            self.user = user
            self.password = password
            self.host = host
            self.port = port
            self.database = database
            self.sslMode = sslMode
        }
    }

    /// `sslmode=` of a PostgreSQL URL, with libpq's meanings: `disable` (plain), `prefer` (TLS when
    /// the server offers it, certificate not checked), `require` (TLS, certificate not checked),
    /// `verify-full` (TLS, certificate and host name checked against the system's CAs).
    public enum SSLMode: String, Sendable, Equatable, CaseIterable {
        case disable
        case prefer
        case require
        case verifyFull = "verify-full"
    }

    /// Parses a `--store` value; the error's description is one line without the flag name
    /// (the caller names the flag).
    public init(parsing text: String) throws(StoreURLError) {
        guard !text.isEmpty else { throw StoreURLError("is empty; use sqlite:PATH or postgres://user:pass@host:port/db") }
        if text.hasPrefix("sqlite:") {
            var path = Substring(text.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = path.dropFirst(2) }
            guard !path.isEmpty else { throw StoreURLError("'\(text)' has no path; use sqlite:PATH") }
            self = .sqlite(path: String(path))
            return
        }
        if let scheme = Self.scheme(of: text) {
            switch scheme.lowercased() {
            case "postgres", "postgresql":
                self = .postgres(try Self.parsePostgres(text))
            default:
                throw StoreURLError("'\(text)': unknown scheme '\(scheme)'; use sqlite:PATH or postgres://user:pass@host:port/db")
            }
            return
        }
        self = .sqlite(path: text)
    }

    /// Opens the store.
    ///
    /// - Parameter readOnly: for readers (`takt query`): the store must exist and is not
    ///   created or migrated.
    public func open(readOnly: Bool) async throws(StoreError) -> any RollupStore {
        switch self {
        case .sqlite(let path):
            return try SQLiteRollupStore(path: path, readOnly: readOnly)
        case .postgres(let location):
            return try await PostgresRollupStore(location: location, readOnly: readOnly)
        }
    }

    /// The URL again, the password hidden (for logs and messages).
    public var description: String {
        switch self {
        case .sqlite(let path):
            return "sqlite:\(path)"
        case .postgres(let p):
            let user = p.user.map { $0 + (p.password == nil ? "" : ":***") + "@" } ?? ""
            return "postgres://\(user)\(p.host):\(p.port)/\(p.database)" + (p.sslMode == .prefer ? "" : "?sslmode=\(p.sslMode.rawValue)")
        }
    }

    /// `scheme` of `scheme://…` (RFC 3986 scheme characters), else `nil`.
    private static func scheme(of text: String) -> String? {
        guard let range = text.range(of: "://") else { return nil }
        let scheme = text[..<range.lowerBound].utf8
        func isLetter(_ c: UInt8) -> Bool { (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") }
        func isSchemeByte(_ c: UInt8) -> Bool {
            isLetter(c) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "+")
                || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
        }
        guard let first = scheme.first, isLetter(first), scheme.allSatisfy(isSchemeByte) else { return nil }
        return String(scheme)
    }

    private static func parsePostgres(_ text: String) throws(StoreURLError) -> PostgresLocation {
        guard let c = URLComponents(string: text) else { throw StoreURLError("'\(text)' is not a URL") }
        guard let host = c.host, !host.isEmpty else {
            throw StoreURLError("'\(Self.redacted(text))' has no host; use postgres://user:pass@host:port/db")
        }
        let database = String(c.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            throw StoreURLError("'\(Self.redacted(text))' needs one database name after the host: postgres://user:pass@host:port/db")
        }
        if let port = c.port, !(1...65535).contains(port) {
            throw StoreURLError("'\(Self.redacted(text))': port \(port) is not 1…65535")
        }
        var sslMode = SSLMode.prefer
        for item in c.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = item.value.flatMap(SSLMode.init(rawValue:)) else {
                    throw StoreURLError("'\(Self.redacted(text))': sslmode '\(item.value ?? "")' is not one of "
                        + SSLMode.allCases.map(\.rawValue).joined(separator: ", "))
                }
                sslMode = mode
            default:
                throw StoreURLError("'\(Self.redacted(text))': unknown option '\(item.name)' (known: sslmode)")
            }
        }
        return PostgresLocation(user: c.user?.removingPercentEncoding ?? c.user,
                                password: c.password?.removingPercentEncoding ?? c.password,
                                host: host, port: c.port ?? 5432, database: database, sslMode: sslMode)
    }

    /// `text` with the password of a `scheme://user:pass@…` URL replaced by `***`.
    static func redacted(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text.range(of: "@", range: scheme.upperBound..<text.endIndex),
              let colon = text.range(of: ":", range: scheme.upperBound..<at.lowerBound) else { return text }
        return text.replacingCharacters(in: colon.upperBound..<at.lowerBound, with: "***")
    }
}

/// A `--store` value that is not a store URL (a usage error).
public struct StoreURLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
