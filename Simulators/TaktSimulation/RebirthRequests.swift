import Synchronization
import TaktCore

/// Rebirth requests to the simulated Sparkplug edge nodes: an NCMD on
/// `spBv1.0/{group}/NCMD/{node}` whose metric `Node Control/Rebirth` is true marks the node; the
/// publishing loop takes the mark before the node's next message and publishes its NBIRTH and
/// DBIRTHs again first (Sparkplug B 3.0: an edge node answers a rebirth request that way).
///
/// Threading: ``receive(topic:payload:)`` runs on the MQTT client's network thread, ``take(_:)``
/// on the publishing loop; the set of marked nodes is behind a mutex, and an atomic count lets
/// the loop skip the lock while nothing is asked (every message checks it). Without NCMD traffic
/// nothing is ever marked, so the messages are exactly those of a run without it.
public final class RebirthRequests: Sendable {
    /// Node index (``DialectState/nodes``) of each simulated node's NCMD topic.
    let nodeByTopic: [String: Int]
    private let marked = Mutex<Set<Int>>([])
    /// How many nodes are marked (read without the lock; a stale 0 only delays the answer to
    /// the node's message after next).
    private let markedCount = Atomic<Int>(0)

    init(nodeByTopic: [String: Int]) {
        self.nodeByTopic = nodeByTopic
    }

    /// The NCMD topics to subscribe to, one per simulated edge node (empty: no Sparkplug node).
    public var topics: [String] { nodeByTopic.keys.sorted() }

    /// Some node is marked.
    @inline(__always)
    var hasPending: Bool { markedCount.load(ordering: .acquiring) > 0 }

    /// One received message: marks its node when it is an NCMD to one of ours asking for a
    /// rebirth (the metric by name, Boolean true). Anything else — another topic, a payload that
    /// is not a Sparkplug protobuf, `Rebirth` false, other commands — changes nothing.
    /// - Returns: whether a node was marked.
    @discardableResult
    public func receive(topic: String, payload: UnsafeRawBufferPointer) -> Bool {
        guard let n = nodeByTopic[topic],
              let p = try? SparkplugPayload.decode(payload, maxBytes: 65_536, maxMetrics: 256),
              p.metrics.contains(where: { $0.name == "Node Control/Rebirth" && $0.value == .boolean(true) }) else {
            return false
        }
        mark(n)
        return true
    }

    /// Marks node `n` (a second request before the answer is the same request).
    func mark(_ n: Int) {
        marked.withLock { set in
            if set.insert(n).inserted { markedCount.add(1, ordering: .releasing) }
        }
    }

    /// Whether node `n` is marked; clears the mark.
    func take(_ n: Int) -> Bool {
        marked.withLock { set in
            guard set.remove(n) != nil else { return false }
            markedCount.subtract(1, ordering: .releasing)
            return true
        }
    }
}
