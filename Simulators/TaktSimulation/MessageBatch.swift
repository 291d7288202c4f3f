/// Messages ready to go out, in publication order, as `topic<TAB>payload<LF>` lines back to
/// back in one byte buffer (so `--out` is one `write` per batch) with the offsets of each
/// message's parts.
public struct MessageBatch: Sendable {
    /// What a message is, for counting.
    public enum Kind: UInt8, Sendable {
        case unit, state, duplicate, malformed
        /// A Sparkplug BIRTH or DEATH: session control, no count of its own.
        case control
    }

    public struct Entry: Sendable {
        /// Index into ``SimulationEngine/topics``.
        public var topic: Int32
        /// Offset of the payload's first byte in ``MessageBatch/bytes``.
        public var payloadStart: Int32
        /// Offset just past the payload (the `\n` follows).
        public var payloadEnd: Int32
        public var kind: Kind
    }

    /// `topic\tpayload\n` lines.
    public internal(set) var bytes: [UInt8] = []
    public internal(set) var entries: [Entry] = []
    /// Newest simulated time the batch reached, epoch ms.
    public internal(set) var simTime: Int64 = 0

    public init() {
        bytes.reserveCapacity(1 << 20)
        entries.reserveCapacity(8192)
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    /// The payload of entry `i`.
    public func payload(_ i: Int) -> ArraySlice<UInt8> {
        bytes[Int(entries[i].payloadStart)..<Int(entries[i].payloadEnd)]
    }

    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
    }

    @inline(__always)
    mutating func append(topic: Int32, topicBytes: [UInt8], payload: [UInt8], kind: Kind) {
        bytes.append(contentsOf: topicBytes)
        bytes.append(0x09)
        let start = Int32(truncatingIfNeeded: bytes.count)
        bytes.append(contentsOf: payload)
        let end = Int32(truncatingIfNeeded: bytes.count)
        bytes.append(0x0A)
        entries.append(Entry(topic: topic, payloadStart: start, payloadEnd: end, kind: kind))
    }
}
