import TaktCore

/// Every read `takt report`, `takt plan` and taktd's `/api/v1/plan` make of a ``RollupStore`` (the
/// report's figures, the plan's input and its `as_of`) goes through these two functions, so a change to the store's API is a change here.
public enum StoreReads {
    /// End of `site`'s newest `1h` window, epoch ms: the newest data (`takt plan`'s `as_of`,
    /// the default end of `takt report`'s range); `nil` when the site has no `1h` rows.
    public static func newestDataEnd(_ store: any RollupStore, site: String) async throws -> Int64? {
        try await store.newestWindowStart(site: site, tier: .hour).map { $0 + WindowTier.hour.fixedLengthMs! }
    }

    /// ``RollupStore/rows(site:line:station:tier:from:to:)``: the windows of `tier` that start
    /// in `[from, to)` (epoch ms); `line` `nil` is every line's output station plus `_site`,
    /// `station` `nil` the line's output station.
    public static func rows(_ store: any RollupStore, site: String, line: String?, station: String? = nil, tier: WindowTier,
                     from: Int64, to: Int64) async throws -> [WindowRow] {
        try await store.rows(site: site, line: line, station: station, tier: tier, from: from, to: to)
    }
}
