import Yams

/// Where a station reports through a Sparkplug B edge node, and which of the node's (or its
/// device's) metrics mean what (contract section 9).
public struct SparkplugBinding: Sendable, Equatable, Hashable {
    /// The Sparkplug group id (`spBv1.0/{group}/…`).
    public var group: String
    /// The edge node id.
    public var node: String
    /// The device id; `nil`: the node's own metrics (NBIRTH/NDATA).
    public var device: String?
    /// Metric names by meaning.
    public var metrics: Metrics

    public init(group: String, node: String, device: String? = nil, metrics: Metrics) {
        self.group = group
        self.node = node
        self.device = device
        self.metrics = metrics
    }

    /// Metric names (as in the BIRTH) by meaning; only `good` is required.
    public struct Metrics: Sendable, Equatable, Hashable {
        /// Cumulative counter of good units (any integer type).
        public var good: String
        /// Cumulative counter of scrapped units (any integer type).
        public var scrap: String?
        /// Cumulative delivered energy, kWh (Float or Double).
        public var energyKwh: String?
        /// A state code (contract section 2 ranges).
        public var state: String?
        /// A boolean instead of `state`: true = 10000 (running), false = 40000 (stopped).
        public var running: String?
        /// The last cycle time, ms.
        public var cycleMs: String?

        public init(good: String, scrap: String? = nil, energyKwh: String? = nil, state: String? = nil,
                    running: String? = nil, cycleMs: String? = nil) {
            self.good = good
            self.scrap = scrap
            self.energyKwh = energyKwh
            self.state = state
            self.running = running
            self.cycleMs = cycleMs
        }
    }

    /// Whether `s` may be a Sparkplug group, node or device id: 1 to 64 bytes of UTF-8 without
    /// `/`, `+`, `#` or control characters (Sparkplug 3.0 forbids the MQTT separators and
    /// wildcards; the length bound is Takt's).
    public static func isValidID(_ s: String) -> Bool {
        let n = s.utf8.count
        guard n >= 1 && n <= 64 else { return false }
        return s.unicodeScalars.allSatisfy { c in
            c != "/" && c != "+" && c != "#" && c.value >= 0x20 && c.value != 0x7F
        }
    }
}

/// The `ia/{customer}/{location}/{asset}` prefix rules of a UMH asset (contract section 10).
public enum UMHAsset {
    /// Whether `s` is `ia/` followed by exactly three topic segments (1 to 64 characters of
    /// `A-Z a-z 0-9 _ -` each).
    public static func isValid(_ s: String) -> Bool {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "ia" else { return false }
        return parts.dropFirst().allSatisfy { TopicSegment.isValid(String($0)) }
    }
}

extension PlantFileReader {
    func sparkplug(_ node: Node, path: String) throws(PlantFileError) -> SparkplugBinding {
        let f = try fields(node, path: path, what: "where the station reports through Sparkplug B",
                           required: ["group", "node", "metrics"], optional: ["device"])
        func id(_ key: String) throws(PlantFileError) -> String? {
            guard let n = f.values[key] else { return nil }
            let v = try scalar(n, key: f.path(key))
            guard SparkplugBinding.isValidID(v) else {
                throw error(n.mark, key: f.path(key), "'\(f.path(key))' is '\(v)': Sparkplug ids are 1 to 64 bytes without / + # or control characters")
            }
            return v
        }
        let m = try fields(f.values["metrics"]!, path: f.path("metrics"), what: "metric names by meaning",
                           required: ["good"], optional: ["scrap", "energy_kwh", "state", "running", "cycle_ms"])
        func name(_ key: String) throws(PlantFileError) -> String? {
            guard let n = m.values[key] else { return nil }
            let v = try scalar(n, key: m.path(key))
            guard v.utf8.count <= 256 else {
                throw error(n.mark, key: m.path(key), "'\(m.path(key))' is longer than 256 bytes")
            }
            return v
        }
        let metrics = SparkplugBinding.Metrics(good: try name("good")!, scrap: try name("scrap"),
                                               energyKwh: try name("energy_kwh"), state: try name("state"),
                                               running: try name("running"), cycleMs: try name("cycle_ms"))
        if metrics.state != nil && metrics.running != nil {
            throw error(m.mark, key: m.path("running"), "'\(m.path("state"))' and '\(m.path("running"))' are alternatives: name one")
        }
        let names = [metrics.good, metrics.scrap, metrics.energyKwh, metrics.state, metrics.running, metrics.cycleMs].compactMap { $0 }
        if Set(names).count != names.count {
            throw error(m.mark, key: m.path("good"), "'\(m.path)' names one metric for two meanings")
        }
        return SparkplugBinding(group: try id("group")!, node: try id("node")!, device: try id("device"), metrics: metrics)
    }

    func umhAsset(_ node: Node, key: String) throws(PlantFileError) -> String {
        let v = try scalar(node, key: key)
        guard UMHAsset.isValid(v) else {
            throw error(node.mark, key: key, "'\(key)' is '\(v)': expected ia/{customer}/{location}/{asset}, each 1 to 64 characters of A-Z a-z 0-9 _ -")
        }
        return v
    }
}
