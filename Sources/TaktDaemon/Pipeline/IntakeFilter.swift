import TaktCore

/// Which received messages are device traffic for the pipeline (and so go into the journal),
/// and which are not: the daemon's own output under the reserved names of contract section 1
/// (`takt/v1/metrics/…`, `takt/v1/deadletter`, `takt/v1/status/…`, seen because it subscribes
/// to `takt/v1/#`) and broker statistics (`$SYS/…`).
public enum IntakeFilter {
    /// - Parameter topic: the topic's UTF-8 bytes.
    public static func isDeviceTraffic(_ topic: UnsafeRawBufferPointer) -> Bool {
        if topic.first == UInt8(ascii: "$") { return false }
        if topic.starts(with: sparkplugPrefix) { return isSparkplugDeviceTraffic(topic.dropFirst(sparkplugPrefix.count)) }
        guard topic.starts(with: prefix) else { return true }  // a dead letter, but journaled
        let rest = topic.dropFirst(prefix.count)
        let firstLevel = rest.prefix { $0 != UInt8(ascii: "/") }
        return !reservedSites.contains { $0.elementsEqual(firstLevel) }
    }

    public static func isDeviceTraffic(_ topic: String) -> Bool {
        var topic = topic
        return topic.withUTF8 { isDeviceTraffic(UnsafeRawBufferPointer($0)) }
    }

    private static let prefix = Array("takt/v1/".utf8)
    private static let sparkplugPrefix = Array("spBv1.0/".utf8)
    private static let stateLevel = Array("STATE".utf8)
    private static let commandLevels = [Array("NCMD".utf8), Array("DCMD".utf8)]

    /// Under `spBv1.0/`: everything but host STATE messages (ours and other hosts') and
    /// commands (NCMD/DCMD, ours among them) is an edge node's and goes to the pipeline.
    private static func isSparkplugDeviceTraffic(_ rest: UnsafeRawBufferPointer.SubSequence) -> Bool {
        let levels = rest.split(separator: UInt8(ascii: "/"), maxSplits: 2, omittingEmptySubsequences: false)
        if levels.first.map({ $0.elementsEqual(stateLevel) }) ?? false { return false }
        if levels.count >= 2, commandLevels.contains(where: { $0.elementsEqual(levels[1]) }) { return false }
        return true
    }
    /// The reserved site names (the daemon's own output levels), as bytes.
    private static let reservedSites = TopicSegment.reservedSites.map { Array($0.utf8) }
}
