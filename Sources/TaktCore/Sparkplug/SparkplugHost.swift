/// Settings of the Sparkplug B host (`taktd.yaml` `sparkplug:`; contract section 9).
public struct SparkplugSettings: Sendable, Equatable {
    /// `reorder_timeout_ms`: how long an out-of-order message waits for the gap before it, ms.
    public var reorderTimeoutMs: Int64
    /// `rebirth`: ask an edge node for a rebirth (NCMD `Node Control/Rebirth`) when its state
    /// cannot be trusted (a gap, DATA before a BIRTH, an unknown alias).
    public var rebirth: Bool
    /// Least time between two rebirth requests to one node, ms (contract: 5 s).
    public var rebirthIntervalMs: Int64
    /// Largest Sparkplug payload, bytes (BIRTHs of big nodes exceed the JSON limit).
    public var maxPayloadBytes: Int
    /// Most metrics in one payload, and most aliases kept per BIRTH scope.
    public var maxMetrics: Int
    /// Most payload bytes one node may hold in its reorder buffer; beyond, the gap is given up
    /// at once.
    public var maxBufferedBytes: Int

    public init(reorderTimeoutMs: Int64 = 2000, rebirth: Bool = true, rebirthIntervalMs: Int64 = 5000,
                maxPayloadBytes: Int = 262_144, maxMetrics: Int = 4096, maxBufferedBytes: Int = 1 << 20) {
        self.reorderTimeoutMs = max(0, reorderTimeoutMs)
        self.rebirth = rebirth
        self.rebirthIntervalMs = max(0, rebirthIntervalMs)
        self.maxPayloadBytes = max(64, maxPayloadBytes)
        self.maxMetrics = max(1, maxMetrics)
        self.maxBufferedBytes = max(maxPayloadBytes, maxBufferedBytes)
    }
}

/// What the Sparkplug host hands the aggregator: changes to one station's windows.
enum SparkplugEffect: Sendable, Equatable {
    /// Units counted (a counter's increase) at `ts`.
    case units(station: Int, ts: Int64, good: Int64, scrap: Int64)
    /// Energy counted (the energy counter's increase) at `ts`, kWh.
    case energy(station: Int, ts: Int64, kwh: Double)
    /// One cycle time observed at `ts`, ms.
    case cycle(station: Int, ts: Int64, ms: Int32)
    /// From `ts` on, the station is in `state` (`seq`: the scope's synthetic order).
    case state(station: Int, ts: Int64, seq: Int64, state: StateCode)
}

/// The Sparkplug B host application's per-node state machine (contract section 9). Pure: no I/O
/// and no clock of its own — time comes in through ``advance(to:)`` and the `clock` of each
/// message, and both are journaled by the daemon, so a replay of the journal drives it through
/// exactly the same states.
///
/// Per edge node: the BIRTH session (`bdSeq`), one `seq` 0–255 shared by NBIRTH, NDATA, DBIRTH,
/// DDATA and DDEATH, applied in order; a message ahead of the expected `seq` waits in a reorder
/// buffer up to `reorderTimeoutMs`, then the gap is given up (counted in `missing`) and a
/// rebirth requested; a message up to 128 behind is a redelivery and changes nothing. Aliases
/// and datatypes come from the latest BIRTH. Counters are cumulative: the host turns their
/// increases into units.
///
/// Output: ``effects`` (station changes, consumed by the aggregator after each call),
/// ``rebirthRequests`` (nodes to send NCMD Rebirth, consumed by the daemon) and ``problem``
/// (the first value of the last message that could not be counted, for its dead letter).
struct SparkplugHost: Sendable {
    struct NodeKey: Hashable, Sendable {
        var group: String
        var node: String
    }

    /// One bound scope: which station, and its metric names.
    struct Scope: Sendable {
        var device: String?
        var station: Int
        var metrics: SparkplugBinding.Metrics
    }

    struct NodeConfig: Sendable {
        var key: NodeKey
        /// The site of the node's first bound station (names its snapshot).
        var site: String
        var scopes: [Scope]
        /// Scope index by device (`nil` key: the node's own metrics).
        var scopeByDevice: [String?: Int]
    }

    let settings: SparkplugSettings
    let configs: [NodeConfig]
    let nodeIndex: [NodeKey: Int]
    /// Stations whose energy comes from an energy counter (else `good × unit_kwh`).
    let energyStations: Set<Int>
    var nodes: [SparkplugNodeState]
    /// Nodes changed since the last drain.
    var dirty: Set<Int> = []
    /// The host clock: the latest journaled time, epoch ms.
    private(set) var clock: Int64 = 0

    var effects: [SparkplugEffect] = []
    /// Node indices asked for a rebirth since the caller last took them.
    var rebirthRequests: [Int] = []
    /// Why a value of the last message was not counted (`nil`: all counted).
    var problem: DeadLetterError?

    /// - Parameter bindings: (station index, binding) for every station a plant file binds.
    /// - Throws: ``AggregatorError`` for two stations bound to the same node scope.
    init(bindings: [(station: Int, site: String, binding: SparkplugBinding)], settings: SparkplugSettings) throws(AggregatorError) {
        var configs: [NodeConfig] = []
        var index: [NodeKey: Int] = [:]
        for b in bindings {
            let key = NodeKey(group: b.binding.group, node: b.binding.node)
            let n: Int
            if let k = index[key] {
                n = k
            } else {
                n = configs.count
                index[key] = n
                configs.append(NodeConfig(key: key, site: b.site, scopes: [], scopeByDevice: [:]))
            }
            guard configs[n].scopeByDevice[b.binding.device] == nil else {
                throw AggregatorError("two stations report through Sparkplug \(b.binding.group)/\(b.binding.node)\(b.binding.device.map { "/\($0)" } ?? "")")
            }
            configs[n].scopeByDevice[b.binding.device] = configs[n].scopes.count
            configs[n].scopes.append(Scope(device: b.binding.device, station: b.station, metrics: b.binding.metrics))
        }
        self.settings = settings
        self.configs = configs
        self.nodeIndex = index
        self.energyStations = Set(bindings.filter { $0.binding.metrics.energyKwh != nil }.map(\.station))
        self.nodes = configs.map { SparkplugNodeState(scopes: $0.scopes.count) }
    }

    var isEmpty: Bool { configs.isEmpty }

    // MARK: - Time

    /// Moves the host clock to `now` (never back) and gives up every gap that has waited
    /// `reorderTimeoutMs`.
    mutating func advance(to now: Int64) {
        if now > clock { clock = now }
        for n in nodes.indices where nodes[n].waitingSince.map({ clock - $0 >= settings.reorderTimeoutMs }) ?? false {
            giveUpGap(n)
        }
    }

    /// The daemon started again at `now`: the time it was down does not count against waiting
    /// messages (their timeout goes on from where it stood) nor the rebirth throttle.
    mutating func resume(at now: Int64) {
        guard now > clock else { return }
        let down = now - clock
        for n in nodes.indices where nodes[n].waitingSince != nil || !nodes[n].buffer.isEmpty {
            dirty.insert(n)
            if let w = nodes[n].waitingSince { nodes[n].waitingSince = w.saturatingAdd(down) }
            for b in nodes[n].buffer.indices { nodes[n].buffer[b].arrived = nodes[n].buffer[b].arrived.saturatingAdd(down) }
        }
        clock = now
    }

    /// The earliest host time at which a buffered message times out (`nil`: nothing waits).
    var nextTimeout: Int64? {
        nodes.compactMap { $0.waitingSince }.min().map { $0 + settings.reorderTimeoutMs }
    }

    // MARK: - Messages

    /// What happened to one message.
    enum Outcome: Equatable {
        /// Applied, buffered for reordering, or a DATA that asked for a rebirth.
        case accepted
        /// A redelivery (or a stale BIRTH/DEATH): changed nothing.
        case duplicate
        /// Not applied at all.
        case rejected(DeadLetterError)
        /// The topic names no bound node.
        case unknownNode
    }

    /// One message of an edge node. `clock` must already be advanced (``advance(to:)``).
    mutating func receive(_ topic: SparkplugTopic, payload bytes: UnsafeRawBufferPointer) -> Outcome {
        problem = nil
        guard let n = nodeIndex[SparkplugHost.NodeKey(group: topic.group, node: topic.node)] else { return .unknownNode }
        if topic.type == .ncmd || topic.type == .dcmd { return .duplicate }  // commands: not ours to count
        let payload: SparkplugPayload
        do {
            payload = try SparkplugPayload.decode(bytes, maxBytes: settings.maxPayloadBytes, maxMetrics: settings.maxMetrics)
        } catch {
            return .rejected(error)
        }
        switch topic.type {
        case .ndeath:
            return death(n, payload)
        case .nbirth:
            return birth(n, payload, raw: bytes)
        default:
            guard let seq64 = payload.seq, seq64 <= 255 else {
                return .rejected(DeadLetterError(.badProtobuf, "\(topic.type.rawValue) without a seq in 0…255"))
            }
            let seq = UInt8(seq64)
            guard nodes[n].born else {
                // Not in a BIRTH session: nothing can be read yet (no aliases, no order). It waits
                // like an out-of-order message — its NBIRTH may only be late (reordered) — and is
                // applied after the BIRTH; when none comes within the timeout it is dropped and a
                // rebirth requested (the BIRTH then carries the counters' totals).
                if nodes[n].buffer.contains(where: { $0.seq == seq }) { return .duplicate }
                if nodes[n].bufferedBytes + bytes.count > settings.maxBufferedBytes { giveUpGap(n) }
                nodes[n].buffer.append(SparkplugBuffered(seq: seq, type: topic.type, device: topic.device,
                                                         payload: Array(bytes), arrived: clock))
                if nodes[n].waitingSince == nil { nodes[n].waitingSince = clock }
                dirty.insert(n)
                return .accepted
            }
            var d = nodes[n].distance(seq)
            if d >= 128 { return .duplicate }
            if d >= Self.maxAhead {
                // Too far ahead to wait for (a node that publishes faster than the timeout):
                // give the gap up now, so the 128 seqs behind stay unambiguous.
                if !nodes[n].buffer.isEmpty { giveUpGap(n) }
                d = nodes[n].distance(seq)
                if d >= 128 { return .duplicate }
                if d >= Self.maxAhead {
                    nodes[n].missing = nodes[n].missing.saturatingAdd(Int64(d))
                    nodes[n].nextSeq = seq
                    requestRebirth(n)
                    d = 0
                }
            }
            if d == 0 {
                apply(n, type: topic.type, device: topic.device, payload: payload)
                nodes[n].nextSeq = seq &+ 1
                drainInOrder(n)
            } else {
                if nodes[n].buffer.contains(where: { $0.seq == seq }) { return .duplicate }
                nodes[n].buffer.append(SparkplugBuffered(seq: seq, type: topic.type, device: topic.device,
                                                         payload: Array(bytes), arrived: clock))
                if nodes[n].waitingSince == nil { nodes[n].waitingSince = clock }
                if nodes[n].bufferedBytes > settings.maxBufferedBytes { giveUpGap(n) }
            }
            dirty.insert(n)
            return .accepted
        }
    }

    /// NBIRTH: a new session (or a rebirth). A BIRTH not newer than the current one is a
    /// redelivery and changes nothing.
    private mutating func birth(_ n: Int, _ payload: SparkplugPayload, raw: UnsafeRawBufferPointer) -> Outcome {
        guard let seq64 = payload.seq, seq64 <= 255 else {
            return .rejected(DeadLetterError(.badProtobuf, "NBIRTH without a seq in 0…255"))
        }
        if let t = payload.timestamp, let last = nodes[n].birthTimestamp, t <= last { return .duplicate }
        if nodes[n].born, Self.bdSeq(payload) == nodes[n].bdSeq { applyBeforeRebirth(n, birthTs: payload.timestamp) }
        // Messages of the previous session still waiting: given up (the BIRTH's totals count
        // their units); those already of this session stay and are applied in order below.
        let waiting = nodes[n].buffer
        nodes[n].buffer = []
        nodes[n].waitingSince = nil
        nodes[n].born = true
        nodes[n].bdSeq = Self.bdSeq(payload)
        nodes[n].birthTimestamp = payload.timestamp ?? nodes[n].birthTimestamp
        nodes[n].nextSeq = UInt8(seq64) &+ 1
        for s in nodes[n].scopes.indices {
            nodes[n].scopes[s].born = false
            nodes[n].scopes[s].aliases = [:]
            nodes[n].scopes[s].datatypes = [UInt32](repeating: 0, count: SparkplugRole.allCases.count)
        }
        apply(n, type: .nbirth, device: nil, payload: payload)
        let birthTs = payload.timestamp
        for b in waiting where nodes[n].distance(b.seq) < 128 && !Self.older(b, than: birthTs) {
            nodes[n].buffer.append(b)
            if nodes[n].waitingSince == nil { nodes[n].waitingSince = b.arrived }
        }
        drainInOrder(n)
        dirty.insert(n)
        return .accepted
    }

    /// A rebirth of the running session (same `bdSeq`: the node answers a rebirth request):
    /// the messages waiting behind a gap that were sent before it belong to this session, so
    /// the gap is given up (counted missing) and they are applied first, in `seq` order, in the
    /// windows of their own timestamps — their states included. The BIRTH then counts only
    /// what never came. (Dropping them, as for a new session, would move their units to the
    /// BIRTH's time and lose their state changes.) Those not older than the BIRTH stay waiting.
    private mutating func applyBeforeRebirth(_ n: Int, birthTs: Int64?) {
        guard !nodes[n].buffer.isEmpty, birthTs != nil else { return }
        var before: [SparkplugBuffered] = []
        var after: [SparkplugBuffered] = []
        for b in nodes[n].buffer {
            if Self.older(b, than: birthTs) { before.append(b) } else { after.append(b) }
        }
        guard !before.isEmpty else { return }
        nodes[n].buffer = before
        flushBuffer(n, requestRebirth: false)
        nodes[n].buffer = after
        nodes[n].waitingSince = after.map(\.arrived).min()
    }

    /// Whether a waiting message was sent before a BIRTH at `birthTs` (a message of the
    /// previous session: the BIRTH's totals already hold its units).
    static func older(_ b: SparkplugBuffered, than birthTs: Int64?) -> Bool {
        guard let birthTs, let p = try? SparkplugPayload.decode(b.payload), let t = p.timestamp else { return false }
        return t < birthTs
    }

    /// NDEATH: honoured only when its `bdSeq` is the current BIRTH's (else a stale will of an
    /// older session). Buffered messages are applied first (they were sent before the death).
    private mutating func death(_ n: Int, _ payload: SparkplugPayload) -> Outcome {
        guard nodes[n].born, Self.bdSeq(payload) == nodes[n].bdSeq else { return .duplicate }
        if !nodes[n].buffer.isEmpty { flushBuffer(n, requestRebirth: false) }
        nodes[n].born = false
        let at = deathTime(n, payload)
        for s in configs[n].scopes.indices {
            nodes[n].scopes[s].born = false
            unknownState(n, scope: s, at: at)
        }
        dirty.insert(n)
        return .accepted
    }

    /// When a death takes effect: the newest of the node's latest payload timestamp and the
    /// death's own timestamp — the last moment the node vouched for its stations. (Not the
    /// time the broker fired the will: that is up to 1.5 keep-alives late, and a replay or a
    /// simulation at speed would put it at the wrong place.) With neither: the host clock.
    private func deathTime(_ n: Int, _ payload: SparkplugPayload) -> Int64 {
        let t = max(nodes[n].lastTimestamp, payload.timestamp ?? 0)
        return t > 0 ? t : clock
    }

    static func bdSeq(_ payload: SparkplugPayload) -> Int64? {
        guard let m = payload.metrics.first(where: { $0.name == "bdSeq" }) else { return nil }
        switch m.value {
        case .int(let v): return Int64(v)
        case .long(let v): return Int64(bitPattern: v)
        default: return nil
        }
    }

    // MARK: - Order

    /// Applies buffered messages while the next expected one is there.
    private mutating func drainInOrder(_ n: Int) {
        while let k = nodes[n].buffer.firstIndex(where: { $0.seq == nodes[n].nextSeq }) {
            let b = nodes[n].buffer.remove(at: k)
            applyBuffered(n, b)
        }
        nodes[n].waitingSince = nodes[n].buffer.map(\.arrived).min()
    }

    /// The gap before the buffered messages was not filled in time: count it missing, apply
    /// what waits in `seq` order, ask for a rebirth.
    private mutating func giveUpGap(_ n: Int) {
        flushBuffer(n, requestRebirth: true)
        dirty.insert(n)
    }

    private mutating func flushBuffer(_ n: Int, requestRebirth ask: Bool) {
        guard nodes[n].born else {
            // DATA that waited for a BIRTH that never came: unreadable, dropped.
            nodes[n].buffer = []
            nodes[n].waitingSince = nil
            if ask { requestRebirth(n) }
            return
        }
        while !nodes[n].buffer.isEmpty {
            let k = nodes[n].buffer.indices.min { nodes[n].distance(nodes[n].buffer[$0].seq) < nodes[n].distance(nodes[n].buffer[$1].seq) }!
            let b = nodes[n].buffer.remove(at: k)
            nodes[n].missing = nodes[n].missing.saturatingAdd(Int64(nodes[n].distance(b.seq)))
            applyBuffered(n, b)
        }
        nodes[n].waitingSince = nil
        if ask { requestRebirth(n) }
    }

    private mutating func applyBuffered(_ n: Int, _ b: SparkplugBuffered) {
        nodes[n].nextSeq = b.seq &+ 1
        // It decoded when it arrived; the bytes are the same.
        guard let payload = try? SparkplugPayload.decode(b.payload, maxBytes: settings.maxPayloadBytes,
                                                         maxMetrics: settings.maxMetrics) else { return }
        guard nodes[n].born else { return }
        apply(n, type: b.type, device: b.device, payload: payload)
    }

    private mutating func requestRebirth(_ n: Int) {
        guard settings.rebirth else { return }
        let last = nodes[n].lastRebirth
        guard last == Int64.min || clock - last >= settings.rebirthIntervalMs else { return }
        nodes[n].lastRebirth = clock
        rebirthRequests.append(n)
        dirty.insert(n)
    }

    // MARK: - Values

    /// Applies one in-order message of a BIRTH session.
    private mutating func apply(_ n: Int, type: SparkplugTopic.MessageType, device: String?, payload: SparkplugPayload) {
        if type != .ddeath, let t = payload.timestamp, t > nodes[n].lastTimestamp { nodes[n].lastTimestamp = t }
        guard let s = configs[n].scopeByDevice[type.isDevice ? device : nil] else { return }  // a scope no station uses
        switch type {
        case .nbirth:
            nodes[n].scopes[s].born = true
            values(n, scope: s, payload, birth: true)
        case .dbirth:
            nodes[n].scopes[s].born = true
            nodes[n].scopes[s].aliases = [:]
            nodes[n].scopes[s].datatypes = [UInt32](repeating: 0, count: SparkplugRole.allCases.count)
            values(n, scope: s, payload, birth: true)
        case .ndata, .ddata:
            guard nodes[n].scopes[s].born else {
                requestRebirth(n)
                return
            }
            values(n, scope: s, payload, birth: false)
        case .ddeath:
            nodes[n].scopes[s].born = false
            unknownState(n, scope: s, at: deathTime(n, payload))
        case .ndeath, .ncmd, .dcmd:
            return
        }
    }

    private mutating func unknownState(_ n: Int, scope s: Int, at ts: Int64) {
        nodes[n].scopes[s].stateSeq += 1
        effects.append(.state(station: configs[n].scopes[s].station, ts: ts, seq: nodes[n].scopes[s].stateSeq,
                              state: StateCode(rawValue: 30_000)))
    }

    private mutating func noteProblem(_ reason: DeadLetterReason, _ detail: String) {
        if problem == nil { problem = DeadLetterError(reason, detail) }
    }

    /// The bound values of one payload, applied in timestamp order (a stable sort: values with
    /// the same timestamp keep their order in the payload).
    private mutating func values(_ n: Int, scope s: Int, _ payload: SparkplugPayload, birth: Bool) {
        let binding = configs[n].scopes[s].metrics
        var found: [(role: SparkplugRole, value: SparkplugDataType.Value, ts: Int64, index: Int, name: String)] = []
        for (i, m) in payload.metrics.enumerated() {
            var role = SparkplugRole.unbound
            var datatype: UInt32 = 0
            if birth {
                guard let name = m.name else { continue }
                role = SparkplugRole.of(name, in: binding)
                datatype = m.datatype ?? 0
                if let alias = m.alias, nodes[n].scopes[s].aliases.count < settings.maxMetrics {
                    nodes[n].scopes[s].aliases[alias] = .init(role: role, datatype: datatype)
                }
                if role != .unbound { nodes[n].scopes[s].datatypes[Int(role.rawValue)] = datatype }
            } else if let name = m.name {
                role = SparkplugRole.of(name, in: binding)
                guard role != .unbound else { continue }
                datatype = m.datatype ?? nodes[n].scopes[s].datatypes[Int(role.rawValue)]
            } else if let alias = m.alias {
                guard let e = nodes[n].scopes[s].aliases[alias] else {
                    // An alias the BIRTH did not declare: the session is out of step.
                    requestRebirth(n)
                    continue
                }
                role = e.role
                datatype = e.datatype
            }
            guard role != .unbound, !m.isNull, m.value != .none else { continue }
            let label = m.name ?? "alias \(m.alias ?? 0)"
            guard let dt = SparkplugDataType(rawValue: datatype) else {
                noteProblem(.badValue, "\(label): datatype \(datatype) is not one Takt reads")
                continue
            }
            switch dt.interpret(m.value) {
            case .success(let v):
                found.append((role, v, m.timestamp ?? payload.timestamp ?? clock, i, label))
            case .failure(let e):
                noteProblem(.badValue, "\(label): \(e)")
            }
        }
        guard !found.isEmpty else { return }
        found.sort { ($0.ts, $0.index) < ($1.ts, $1.index) }
        let station = configs[n].scopes[s].station
        for f in found { count(n, scope: s, station: station, f.role, f.value, ts: f.ts, name: f.name) }
    }

    /// Most positions ahead of the expected `seq` a message waits in the reorder buffer; one
    /// further ahead gives the gap up at once.
    static let maxAhead = 64

    /// Largest increase of a cumulative counter counted at once (as for a JSON unit message).
    static let maxStep: Int64 = 1_000_000

    private mutating func count(_ n: Int, scope s: Int, station: Int, _ role: SparkplugRole, _ v: SparkplugDataType.Value,
                                ts: Int64, name: String) {
        switch role {
        case .good, .scrap:
            guard case .integer(let value) = v else { return noteProblem(.badValue, "\(name): a unit counter must be an integer type") }
            let last = role == .good ? nodes[n].scopes[s].good : nodes[n].scopes[s].scrap
            let slot = role == .good ? 0 : 1
            if let last, value < last, ts <= nodes[n].scopes[s].counterTs[slot] { return }  // a late copy
            if role == .good { nodes[n].scopes[s].good = value } else { nodes[n].scopes[s].scrap = value }
            nodes[n].scopes[s].counterTs[slot] = max(nodes[n].scopes[s].counterTs[slot], ts)
            guard let last else { return }  // the baseline
            var step: Int64
            if value >= last {
                let (d, overflow) = value.subtractingReportingOverflow(last)
                step = overflow ? Int64.max : d
            } else {
                nodes[n].scopes[s].resets = nodes[n].scopes[s].resets.saturatingAdd(1)
                step = max(0, value)
            }
            guard step <= Self.maxStep else {
                return noteProblem(.badValue, "\(name): the counter moved by \(step) (more than \(Self.maxStep) at once); taken as the new baseline")
            }
            guard step > 0 else { return }
            effects.append(.units(station: station, ts: ts, good: role == .good ? step : 0, scrap: role == .scrap ? step : 0))
        case .energyKwh:
            let value: Double
            switch v {
            case .real(let d): value = d
            case .integer(let i): value = Double(i)
            case .boolean: return noteProblem(.badValue, "\(name): an energy counter must be a number")
            }
            guard value.isFinite else { return noteProblem(.badValue, "\(name): not finite") }
            let last = nodes[n].scopes[s].energyKwh
            if let last, value < last, ts <= nodes[n].scopes[s].counterTs[2] { return }  // a late copy
            nodes[n].scopes[s].energyKwh = value
            nodes[n].scopes[s].counterTs[2] = max(nodes[n].scopes[s].counterTs[2], ts)
            guard let last else { return }
            var step = value - last
            if step < 0 {
                nodes[n].scopes[s].resets = nodes[n].scopes[s].resets.saturatingAdd(1)
                step = max(0, value)
            }
            guard step <= 1e6 else { return noteProblem(.badValue, "\(name): the energy counter moved by \(step) kWh (more than 1e6 at once)") }
            guard step > 0 else { return }
            effects.append(.energy(station: station, ts: ts, kwh: step))
        case .state, .running:
            let code: UInt32
            switch (role, v) {
            case (.running, .boolean(let b)): code = b ? 10_000 : 40_000
            case (.state, .integer(let i)) where i >= 0 && i <= Int64(UInt32.max): code = UInt32(i)
            default: return noteProblem(.badValue, "\(name): not a state code")
            }
            guard StateCode.acceptedRange.contains(code) else {
                return noteProblem(.badValue, "\(name): state \(code) is outside 10000…229999")
            }
            nodes[n].scopes[s].stateSeq += 1
            effects.append(.state(station: station, ts: ts, seq: nodes[n].scopes[s].stateSeq, state: StateCode(rawValue: code)))
        case .cycleMs:
            let ms: Double
            switch v {
            case .integer(let i): ms = Double(i)
            case .real(let d): ms = d.rounded()
            case .boolean: return noteProblem(.badValue, "\(name): a cycle time must be a number")
            }
            guard ms >= 1 && ms <= 86_400_000 else { return noteProblem(.badValue, "\(name): cycle \(ms) ms is outside 1…86400000") }
            effects.append(.cycle(station: station, ts: ts, ms: Int32(ms)))
        case .unbound:
            return
        }
    }

    // MARK: - Snapshots

    /// Snapshots of the nodes changed since the last call: (site, "group/node", bytes).
    mutating func drainSnapshots() -> [(site: String, name: String, bytes: [UInt8])] {
        defer { dirty.removeAll(keepingCapacity: true) }
        return dirty.sorted().map { n in
            (configs[n].site, "\(configs[n].key.group)/\(configs[n].key.node)", nodes[n].serialized(clock: clock))
        }
    }

    /// Restores one node snapshot; false when the name is no configured node or the bytes do
    /// not fit its configuration (the node then starts afresh).
    mutating func restore(name: String, bytes: [UInt8]) -> Bool {
        guard let slash = name.firstIndex(of: "/") else { return false }
        let key = NodeKey(group: String(name[..<slash]), node: String(name[name.index(after: slash)...]))
        guard let n = nodeIndex[key], let state = SparkplugNodeState(serialized: bytes, scopes: configs[n].scopes.count) else {
            return false
        }
        nodes[n] = state
        if let c = SparkplugNodeState.clock(ofSerialized: bytes), c > clock { clock = c }
        return true
    }

    /// Missing messages of the nodes whose snapshot names `site`.
    func missing(site: String) -> Int64 {
        var total: Int64 = 0
        for n in configs.indices where configs[n].site == site { total = total.saturatingAdd(nodes[n].missing) }
        return total
    }

    /// The NCMD topic and payload asking node `n` for a rebirth: metric `Node Control/Rebirth`
    /// by name (no alias), Boolean true, no `seq` (Sparkplug 3.0, 6.4.21).
    func rebirthCommand(_ n: Int) -> (topic: String, payload: [UInt8]) {
        let p = SparkplugPayload(timestamp: clock, seq: nil, metrics: [
            .init(name: "Node Control/Rebirth", timestamp: clock, datatype: SparkplugDataType.boolean.rawValue, value: .boolean(true)),
        ])
        return (SparkplugTopic.ncmd(group: configs[n].key.group, node: configs[n].key.node), p.encoded())
    }
}
