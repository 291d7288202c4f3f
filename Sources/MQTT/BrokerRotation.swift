/// Which node of the broker the next connection attempt goes to: `brokers` in turn, moving on
/// after every failed attempt and every dropped connection, the last wrapping round to the
/// first. With one broker it always names that one.
///
/// A dropped connection moves on too: the node it ran on is the likeliest to be gone, and trying
/// it first could cost a whole connect timeout before the next node is tried. The session goes
/// with the client id to whichever node accepts it.
struct BrokerRotation {
    /// Every node, in the order given (`Configuration.brokers`); never empty.
    let brokers: [MQTTBrokerURL]
    private var index = 0
    /// Nodes the first `connect()` has not tried yet: it fails only after each was tried once
    /// (unless `retryInitialConnection` keeps it trying for ever).
    private var untried: Int

    init(_ brokers: [MQTTBrokerURL]) {
        precondition(!brokers.isEmpty, "Configuration.brokers always holds `broker`")
        self.brokers = brokers
        self.untried = brokers.count - 1
    }

    /// The node of the next attempt.
    var current: MQTTBrokerURL { brokers[index] }

    /// An attempt on `current` ended before a CONNACK accepted it. Returns true while another
    /// node has not been tried since the client started, so a first `connect()` goes on to it.
    mutating func attemptFailed() -> Bool {
        advance()
        guard untried > 0 else { return false }
        untried -= 1
        return true
    }

    /// A CONNACK accepted the connection on `current`.
    mutating func connected() {
        untried = 0
    }

    /// A connection that a CONNACK had accepted dropped: the next attempt goes to the next node.
    mutating func connectionDropped() {
        advance()
    }

    private mutating func advance() {
        index = (index + 1) % brokers.count
    }
}
