import PostgresNIO
import TaktCore

extension PostgresRollupStore {
    /// Columns of a full row, in ``decodeRows(_:)``'s order.
    static let selectColumns = """
        site, line, station, tier, start_ms, end_ms, revision, good, scrap, energy_kwh, unit_messages,
        cycle_hist, run_ms, planned_ms, ideal_cycle_s, is_output
        """

    public func rows(site: String, line: String?, station: String?, tier: WindowTier, from: Int64, to: Int64) async throws -> [WindowRow] {
        if station != nil && line == nil { throw StoreError.invalidQuery("a station needs its line") }
        guard from < to else { return [] }
        do {
            // ORDER BY … COLLATE "C": byte order, as SQLite's (the JSON of both stores is identical).
            switch (line, station) {
            case let (line?, station?):
                let result = try await client.checkedQuery("""
                    SELECT \(unescaped: Self.selectColumns) FROM window_row
                    WHERE site = \(site) AND line = \(line) AND station = \(station) AND tier = \(tier.rawValue)
                      AND start_ms >= \(from) AND start_ms < \(to)
                    ORDER BY start_ms
                    """, logger: logger)
                return try Self.decodeRows(result).map(\.windowRow)
            case let (line?, nil):
                let result = try await client.checkedQuery("""
                    SELECT \(unescaped: Self.selectColumns) FROM window_row
                    WHERE site = \(site) AND tier = \(tier.rawValue) AND is_output AND start_ms >= \(from) AND start_ms < \(to)
                      AND line = \(line)
                    ORDER BY start_ms, station COLLATE "C"
                    """, logger: logger)
                return try Self.decodeRows(result).map(\.windowRow)
            case (nil, _):
                let lines = try await outputRows(site: site, tier: tier, from: from, to: to)
                return StoredWindow.withSiteRows(lines, site: site, tier: tier)
            }
        } catch {
            throw Self.storeError(error)
        }
    }

    public func siteRow(site: String, tier: WindowTier, start: Int64) async throws -> WindowRow? {
        do {
            let lines = try await outputRows(site: site, tier: tier, from: start, to: start &+ 1)
            return StoredWindow.withSiteRows(lines, site: site, tier: tier).last { $0.line == OutboundTopic.siteLine }
        } catch {
            throw Self.storeError(error)
        }
    }

    public func siteMembers(site: String, tier: WindowTier, start: Int64) async throws -> [SiteMember] {
        do {
            return try await outputRows(site: site, tier: tier, from: start, to: start &+ 1)
                .map { SiteMember(row: $0.windowRow, idealCycleS: $0.idealCycleS) }
        } catch {
            throw Self.storeError(error)
        }
    }

    public func newestWindowStart(site: String, tier: WindowTier) async throws -> Int64? {
        do {
            return try await client.checkedQuery(
                "SELECT MAX(start_ms) FROM window_row WHERE site = \(site) AND tier = \(tier.rawValue)", logger: logger)
                .first?.decode(Int64?.self)
        } catch {
            throw Self.storeError(error)
        }
    }

    @discardableResult
    public func pruneRows(tier: WindowTier, endingAtOrBefore before: Int64) async throws -> Int {
        do {
            return try await client.checkedQuery("""
                WITH gone AS (DELETE FROM window_row WHERE tier = \(tier.rawValue) AND end_ms <= \(before) RETURNING 1)
                SELECT count(*) FROM gone
                """, logger: logger).first?.decode(Int.self) ?? 0
        } catch {
            throw Self.storeError(error)
        }
    }

    /// Output-station rows of a site and tier starting in `[from, to)`, by start, line, station
    /// (the partial index `window_row_output` serves this).
    func outputRows(site: String, tier: WindowTier, from: Int64, to: Int64) async throws -> [StoredWindow] {
        let result = try await client.checkedQuery("""
            SELECT \(unescaped: Self.selectColumns) FROM window_row
            WHERE site = \(site) AND tier = \(tier.rawValue) AND is_output AND start_ms >= \(from) AND start_ms < \(to)
            ORDER BY start_ms, line COLLATE "C", station COLLATE "C"
            """, logger: logger)
        return try Self.decodeRows(result)
    }

    /// Rows of ``selectColumns``.
    static func decodeRows(_ result: [PostgresRow]) throws -> [StoredWindow] {
        var out: [StoredWindow] = []
        for row in result {
            let (site, line, station, tierText, start, end, revision, good, scrap, energy, unitMessages, hist,
                 runMs, plannedMs, ideal, isOutput) = try row.decode(
                    (String, String, String, String, Int64, Int64, Int64, Int64, Int64, Double, Int64, ByteBuffer?,
                     Int64, Int64, Double, Bool).self)
            guard let tier = WindowTier(rawValue: tierText) else { throw StoreError.corrupt("unknown window tier '\(tierText)'") }
            guard end > start else { throw StoreError.corrupt("a row ends before it starts (\(start) ≥ \(end))") }
            var w = StoredWindow(empty: WindowKey(site: site, line: line, station: station, tier: tier, start: start, end: end))
            w.revision = revision
            w.good = good
            w.scrap = scrap
            w.energyKwh = energy
            w.unitMessages = unitMessages
            w.cycle = try HistogramBlob.decode(hist.map { Array($0.readableBytesView) })
            w.runMs = runMs
            w.plannedMs = plannedMs
            w.idealCycleS = ideal
            w.isOutputStation = isOutput
            out.append(w)
        }
        return out
    }
}
