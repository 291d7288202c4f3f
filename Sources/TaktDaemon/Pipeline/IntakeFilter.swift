/// Which received messages are device traffic for the pipeline (and so go into the journal),
/// and which are not: the daemon's own output under the reserved names of contract section 1
/// (`takt/v1/metrics/…`, `takt/v1/deadletter`, `takt/v1/status/…`, seen because it subscribes
/// to `takt/v1/#`) and broker statistics (`$SYS/…`).
///
/// The network thread (journal append) and the pipeline (journal offsets) must agree exactly,
/// so both call this one function.
public enum IntakeFilter {
    public static func isDeviceTraffic(_ topic: String) -> Bool {
        if topic.utf8.first == UInt8(ascii: "$") { return false }
        // Bytes, not `String.hasPrefix` (Unicode-aware, and this runs twice per message).
        guard topic.utf8.starts(with: "takt/v1/".utf8) else { return true }  // a dead letter, but journaled
        let rest = topic.utf8.dropFirst(8)
        let firstLevel = rest.prefix { $0 != UInt8(ascii: "/") }
        return !reservedSites.contains { $0.utf8.elementsEqual(firstLevel) }
    }

    /// The reserved site names of contract section 1 (the daemon's own output).
    private static let reservedSites = ["metrics", "deadletter", "status"]
}
