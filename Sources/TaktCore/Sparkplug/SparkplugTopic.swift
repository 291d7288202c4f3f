/// A Sparkplug B topic (Sparkplug 3.0, section 4.1): `spBv1.0/{group}/{type}/{node}[/{device}]`,
/// or the host application's `spBv1.0/STATE/{host_id}`.
public struct SparkplugTopic: Sendable, Equatable {
    /// The message types an edge node sends, and the commands a host sends.
    public enum MessageType: String, Sendable, Equatable, CaseIterable {
        case nbirth = "NBIRTH", ndeath = "NDEATH", ndata = "NDATA", ncmd = "NCMD"
        case dbirth = "DBIRTH", ddeath = "DDEATH", ddata = "DDATA", dcmd = "DCMD"

        /// Device-level types carry a `{device}` level.
        public var isDevice: Bool {
            switch self {
            case .dbirth, .ddeath, .ddata, .dcmd: return true
            default: return false
            }
        }

        /// Types that share the edge node's `seq` (all but NDEATH and the commands).
        public var isSequenced: Bool {
            switch self {
            case .nbirth, .ndata, .dbirth, .ddata, .ddeath: return true
            case .ndeath, .ncmd, .dcmd: return false
            }
        }
    }

    /// The namespace level every Sparkplug B topic starts with.
    public static let namespace = "spBv1.0"
    /// `spBv1.0/` as bytes (the intake dispatches on it).
    public static let prefixBytes: [UInt8] = Array("spBv1.0/".utf8)

    public var group: String
    public var type: MessageType
    public var node: String
    public var device: String?

    public init(group: String, type: MessageType, node: String, device: String? = nil) {
        self.group = group
        self.type = type
        self.node = node
        self.device = device
    }

    /// The topic text.
    public var text: String {
        let base = "\(Self.namespace)/\(group)/\(type.rawValue)/\(node)"
        return device.map { "\(base)/\($0)" } ?? base
    }

    /// What a topic under `spBv1.0/` is.
    public enum Parsed: Sendable, Equatable {
        case edge(SparkplugTopic)
        /// `spBv1.0/STATE/{host_id}`: a host application's birth or will (ours or another's).
        case state(hostID: String)
    }

    /// Parses a topic under `spBv1.0/`; `nil` for anything else or a malformed one (wrong level
    /// count, an unknown type, an empty or over-long id).
    public static func parse(_ topic: String) -> Parsed? {
        let parts = topic.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3, parts[0] == namespace else { return nil }
        if parts[1] == "STATE" {
            guard parts.count == 3, SparkplugBinding.isValidID(parts[2]) else { return nil }
            return .state(hostID: parts[2])
        }
        guard parts.count == 4 || parts.count == 5, let type = MessageType(rawValue: parts[2]),
              type.isDevice == (parts.count == 5),
              parts.indices.dropFirst().allSatisfy({ $0 == 2 || SparkplugBinding.isValidID(parts[$0]) }) else { return nil }
        return .edge(SparkplugTopic(group: parts[1], type: type, node: parts[3], device: parts.count == 5 ? parts[4] : nil))
    }

    /// The NCMD topic of an edge node.
    public static func ncmd(group: String, node: String) -> String {
        "\(namespace)/\(group)/NCMD/\(node)"
    }

    /// A host application's STATE topic (Sparkplug 3.0).
    public static func state(hostID: String) -> String {
        "\(namespace)/STATE/\(hostID)"
    }
}
