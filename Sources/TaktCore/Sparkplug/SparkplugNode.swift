/// What a metric of a Sparkplug binding means for its station.
enum SparkplugRole: UInt8, Sendable, CaseIterable {
    /// A metric the BIRTH declared that no plant file binds (its alias is still known).
    case unbound = 0
    case good, scrap, energyKwh, state, running, cycleMs

    static func of(_ name: String, in m: SparkplugBinding.Metrics) -> SparkplugRole {
        if name == m.good { return .good }
        if name == m.scrap { return .scrap }
        if name == m.energyKwh { return .energyKwh }
        if name == m.state { return .state }
        if name == m.running { return .running }
        if name == m.cycleMs { return .cycleMs }
        return .unbound
    }
}

/// One scope of an edge node that a station is bound to: the node's own metrics (`device`
/// nil) or one device's. Everything here is persisted with the commit.
struct SparkplugScopeState: Sendable, Equatable {
    /// A DBIRTH (device scope) or the NBIRTH (node scope) since the node's latest NBIRTH.
    var born = false
    /// Alias → (role, BIRTH datatype) of every metric of the latest BIRTH of this scope.
    var aliases: [UInt64: AliasEntry] = [:]
    /// BIRTH datatype of each bound role (index: `SparkplugRole.rawValue`), 0 = not declared.
    var datatypes = [UInt32](repeating: 0, count: SparkplugRole.allCases.count)
    /// Last value of each cumulative counter (good, scrap as integers; energy as a Double):
    /// `nil` until the first value (which sets the baseline and counts nothing).
    var good: Int64?
    var scrap: Int64?
    var energyKwh: Double?
    /// Timestamp of each counter's last value (index: 0 good, 1 scrap, 2 energy), epoch ms: a
    /// lower value with an older timestamp is a late copy, not a reset.
    var counterTs: [Int64] = [0, 0, 0]
    /// Counter resets seen (a value below the previous one).
    var resets: Int64 = 0
    /// Synthetic `seq` of the station's state timeline entries (strictly increasing, so that
    /// two states with the same `ts` keep their arrival order).
    var stateSeq: Int64 = 0

    struct AliasEntry: Sendable, Equatable {
        var role: SparkplugRole
        var datatype: UInt32
    }
}

/// A message that arrived ahead of the edge node's expected `seq`, waiting for the gap.
struct SparkplugBuffered: Sendable, Equatable {
    var seq: UInt8
    var type: SparkplugTopic.MessageType
    var device: String?
    var payload: [UInt8]
    /// Host clock when it arrived, epoch ms.
    var arrived: Int64
}

/// The sequencing state of one edge node: BIRTH session, expected `seq`, reorder buffer,
/// rebirth throttle, and its bound scopes. Pure data; ``SparkplugHost`` drives it.
struct SparkplugNodeState: Sendable, Equatable {
    /// An NBIRTH applied, and no NDEATH of its `bdSeq` since.
    var born = false
    /// `bdSeq` of the latest NBIRTH (`nil`: the NBIRTH had none).
    var bdSeq: Int64?
    /// Payload timestamp of the latest NBIRTH; an NBIRTH not newer is a redelivery.
    var birthTimestamp: Int64?
    /// The `seq` the next in-order message carries (valid when `born`).
    var nextSeq: UInt8 = 0
    /// Messages ahead of `nextSeq`, in arrival order (at most one per seq).
    var buffer: [SparkplugBuffered] = []
    /// Host clock when the oldest buffered message arrived.
    var waitingSince: Int64?
    /// Host clock of the latest rebirth request (throttle); `Int64.min` = never.
    var lastRebirth: Int64 = Int64.min
    /// Sequenced messages never received (gaps given up), saturating.
    var missing: Int64 = 0
    /// Newest payload timestamp applied from the node, epoch ms (0: none): a death holds from
    /// there at the latest.
    var lastTimestamp: Int64 = 0
    /// The bound scopes, in ``SparkplugHost`` configuration order.
    var scopes: [SparkplugScopeState]

    init(scopes: Int) {
        self.scopes = Array(repeating: SparkplugScopeState(), count: scopes)
    }

    var bufferedBytes: Int { buffer.reduce(0) { $0 + $1.payload.count } }

    /// How many positions `seq` is ahead of `nextSeq` (0–255, wrapping: 255 → 0 is one step).
    func distance(_ seq: UInt8) -> Int { Int(seq &- nextSeq) }
}

// MARK: - Persistence

extension SparkplugNodeState {
    static let formatVersion: UInt8 = 1

    /// Compact binary form for the store (version 1, little-endian).
    func serialized(clock: Int64) -> [UInt8] {
        var w = ByteWriter()
        w.u8(Self.formatVersion)
        w.i64(clock)
        w.u8(born ? 1 : 0)
        w.optI64(bdSeq)
        w.optI64(birthTimestamp)
        w.u8(nextSeq)
        w.optI64(waitingSince)
        w.i64(lastRebirth)
        w.i64(missing)
        w.i64(lastTimestamp)
        w.u32(UInt32(buffer.count))
        for b in buffer {
            w.u8(b.seq)
            w.string(b.type.rawValue)
            w.optString(b.device)
            w.bytes(b.payload)
            w.i64(b.arrived)
        }
        w.u32(UInt32(scopes.count))
        for s in scopes {
            w.u8(s.born ? 1 : 0)
            w.u32(UInt32(s.aliases.count))
            for (alias, e) in s.aliases.sorted(by: { $0.key < $1.key }) {
                w.u64(alias)
                w.u8(e.role.rawValue)
                w.u32(e.datatype)
            }
            for d in s.datatypes { w.u32(d) }
            w.optI64(s.good)
            w.optI64(s.scrap)
            w.u8(s.energyKwh == nil ? 0 : 1)
            w.u64((s.energyKwh ?? 0).bitPattern)
            w.i64(s.resets)
            w.i64(s.stateSeq)
            for t in s.counterTs { w.i64(t) }
        }
        return w.out
    }

    /// Restores ``serialized(clock:)``; `nil` when the bytes are not a valid version 1 form or
    /// name another number of scopes than `scopes` (the plant files changed: the node starts
    /// afresh and asks for a rebirth).
    init?(serialized b: [UInt8], scopes expected: Int) {
        var r = ByteReader(b)
        guard r.u8() == Self.formatVersion, r.i64() != nil else { return nil }
        self.init(scopes: expected)
        guard let born = r.u8(), let bd = r.optI64(), let bt = r.optI64(), let next = r.u8(), let ws = r.optI64(),
              let lr = r.i64(), let missing = r.i64(), let lastTs = r.i64(), let nb = r.u32(), nb <= 256 else { return nil }
        self.lastTimestamp = lastTs
        self.born = born == 1
        self.bdSeq = bd
        self.birthTimestamp = bt
        self.nextSeq = next
        self.waitingSince = ws
        self.lastRebirth = lr
        self.missing = missing
        for _ in 0..<nb {
            guard let seq = r.u8(), let typeText = r.string(), let type = SparkplugTopic.MessageType(rawValue: typeText),
                  let device = r.optString(), let payload = r.bytes(), let arrived = r.i64() else { return nil }
            buffer.append(SparkplugBuffered(seq: seq, type: type, device: device, payload: payload, arrived: arrived))
        }
        guard let ns = r.u32(), Int(ns) == expected else { return nil }
        for i in 0..<expected {
            var s = SparkplugScopeState()
            guard let born = r.u8(), let na = r.u32() else { return nil }
            s.born = born == 1
            for _ in 0..<na {
                guard let alias = r.u64(), let role = r.u8().flatMap(SparkplugRole.init(rawValue:)), let dt = r.u32() else { return nil }
                s.aliases[alias] = .init(role: role, datatype: dt)
            }
            for k in s.datatypes.indices {
                guard let d = r.u32() else { return nil }
                s.datatypes[k] = d
            }
            guard let good = r.optI64(), let scrap = r.optI64(), let hasEnergy = r.u8(), let energy = r.u64(),
                  let resets = r.i64(), let stateSeq = r.i64() else { return nil }
            s.good = good
            s.scrap = scrap
            s.energyKwh = hasEnergy == 1 ? Double(bitPattern: energy) : nil
            s.resets = resets
            s.stateSeq = stateSeq
            for k in 0..<3 {
                guard let t = r.i64() else { return nil }
                s.counterTs[k] = t
            }
            scopes[i] = s
        }
        guard r.atEnd else { return nil }
    }

    /// The host clock a snapshot was taken at (restores the host's clock).
    static func clock(ofSerialized b: [UInt8]) -> Int64? {
        var r = ByteReader(b)
        guard r.u8() == formatVersion else { return nil }
        return r.i64()
    }
}

/// Little-endian writer of the snapshot format.
struct ByteWriter {
    var out: [UInt8] = []
    mutating func u8(_ v: UInt8) { out.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
    mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    mutating func optI64(_ v: Int64?) {
        u8(v == nil ? 0 : 1)
        i64(v ?? 0)
    }
    mutating func bytes(_ b: [UInt8]) {
        u32(UInt32(b.count))
        out.append(contentsOf: b)
    }
    mutating func string(_ s: String) { bytes(Array(s.utf8)) }
    mutating func optString(_ s: String?) {
        u8(s == nil ? 0 : 1)
        if let s { string(s) }
    }
}

/// Reader of ``ByteWriter`` output: every read checks the bounds (`nil` past the end).
struct ByteReader {
    let b: [UInt8]
    var at = 0
    init(_ b: [UInt8]) { self.b = b }
    var atEnd: Bool { at == b.count }
    /// A successful read of `Optional<T>`: `.some(value)`; a failed one: `nil`.
    mutating func u8() -> UInt8? {
        guard at < b.count else { return nil }
        defer { at += 1 }
        return b[at]
    }
    mutating func u32() -> UInt32? {
        guard b.count - at >= 4 else { return nil }
        var v: UInt32 = 0
        for k in 0..<4 { v |= UInt32(b[at + k]) << (8 * k) }
        at += 4
        return v
    }
    mutating func u64() -> UInt64? {
        guard b.count - at >= 8 else { return nil }
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(b[at + k]) << (8 * k) }
        at += 8
        return v
    }
    mutating func i64() -> Int64? { u64().map { Int64(bitPattern: $0) } }
    mutating func optI64() -> Int64?? {
        guard let flag = u8(), let v = i64() else { return nil }
        return .some(flag == 1 ? v : nil)
    }
    mutating func bytes() -> [UInt8]? {
        guard let n = u32(), b.count - at >= Int(n) else { return nil }
        defer { at += Int(n) }
        return Array(b[at..<(at + Int(n))])
    }
    mutating func string() -> String? { bytes().map { String(decoding: $0, as: UTF8.self) } }
    mutating func optString() -> String?? {
        guard let flag = u8() else { return nil }
        guard flag == 1 else { return .some(nil) }
        guard let s = string() else { return nil }
        return .some(s)
    }
}
