/// Builders for the topics the daemon publishes (contract section 4).
///
/// Arguments are assumed valid segments (they come from plant files, never from devices); the
/// builders do not re-check them.
public enum OutboundTopic {
    /// The pseudo-line name of site totals: `takt/v1/metrics/{site}/_site/{window}`.
    public static let siteLine = "_site"

    /// `takt/v1/metrics/{site}/{line}/{window}` (retained window objects).
    public static func metrics(site: String, line: String, tier: WindowTier) -> String {
        "takt/v1/metrics/\(site)/\(line)/\(tier.rawValue)"
    }

    /// `takt/v1/metrics/{site}/_site/{window}` (retained site totals).
    public static func siteMetrics(site: String, tier: WindowTier) -> String {
        metrics(site: site, line: siteLine, tier: tier)
    }

    /// `takt/v1/deadletter` (not retained).
    public static let deadLetter = "takt/v1/deadletter"

    /// `takt/v1/status/{instance}` (retained; also the will topic).
    public static func status(instance: String) -> String {
        "takt/v1/status/\(instance)"
    }

    /// `takt/v1/alerts/{site}/{line}` (retained alert states, contract section 12).
    public static func alerts(site: String, line: String) -> String {
        "takt/v1/alerts/\(site)/\(line)"
    }

    /// The subscription filter of a daemon that owns everything.
    public static let inboundFilterAll = "takt/v1/#"
}
