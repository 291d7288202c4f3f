import TaktCore

/// How one simulated station publishes (``SimulationDialect``; docs/simulator.md).
enum StationOutput {
    case takt
    /// Through scope `scope` of ``DialectState/scopes``.
    case sparkplug(scope: Int)
    /// UMH: topics `countTopic` (`…/count`) and `countTopic + 1` (`…/state`).
    case umh(countTopic: Int32)
}

/// One simulated Sparkplug B edge node (contract section 9): one `seq` for all its messages,
/// a `bdSeq` that goes up at every restart.
struct SimSparkplugNode {
    var birthTopic: Int32
    var dataTopic: Int32
    var deathTopic: Int32
    var scopes: [Int] = []
    var seq: UInt8 = 0
    var bdSeq: UInt64 = 0
    var born = false
    var lastBirthTs: Int64 = .min
}

/// The node's own metrics (`device` nil) or one device's, bound to one station.
struct SimSparkplugScope {
    var node: Int
    var device: String?
    var station: Int
    var birthTopic: Int32
    var dataTopic: Int32
    var metrics: SparkplugBinding.Metrics
    /// Aliases: base + 0 good, + 1 scrap, + 2 energy, + 3 state/running, + 4 cycle.
    var aliasBase: UInt64
    /// The measured energy counter is published (output station with an `energy_kwh` metric).
    var measuresEnergy: Bool
    var good: UInt64 = 0
    var scrap: UInt64 = 0
    var energyMicroKWh: Int64 = 0
    var state: UInt32?
    var lastCycleMs: Int64?
    /// Units of dropped messages not yet carried by a published one: (ts, good, scrap, µkWh).
    var undelivered: [(ts: Int64, good: Int64, scrap: Int64, energy: Int64)] = []
}

/// The simulator's state for the Sparkplug and UMH dialects.
struct DialectState {
    var outputs: [StationOutput] = []
    var nodes: [SimSparkplugNode] = []
    var scopes: [SimSparkplugScope] = []
    /// `spBv1.0/{group}/NCMD/{node}` → node index: where a host asks a node for a rebirth.
    var nodeByCommandTopic: [String: Int] = [:]

    init() {}

    /// Decides every station's output and adds the topics the dialects publish on to `topics`.
    init(plant: Plant, dialect: SimulationDialect, topics: inout [String]) {
        var nodeIndex: [String: Int] = [:]
        for line in plant.lines {
            for (k, station) in line.stations.enumerated() {
                let isOutput = k == line.outputStationIndex
                if dialect == .sparkplug || dialect == .mixed, let b = station.sparkplug {
                    let key = "\(b.group)/\(b.node)"
                    let n: Int
                    if let i = nodeIndex[key] {
                        n = i
                    } else {
                        n = nodes.count
                        nodeIndex[key] = n
                        let base = topics.count
                        topics.append(SparkplugTopic(group: b.group, type: .nbirth, node: b.node).text)
                        topics.append(SparkplugTopic(group: b.group, type: .ndata, node: b.node).text)
                        topics.append(SparkplugTopic(group: b.group, type: .ndeath, node: b.node).text)
                        nodes.append(SimSparkplugNode(birthTopic: Int32(base), dataTopic: Int32(base + 1), deathTopic: Int32(base + 2)))
                        nodeByCommandTopic[SparkplugTopic.ncmd(group: b.group, node: b.node)] = n
                    }
                    var birthTopic = nodes[n].birthTopic
                    var dataTopic = nodes[n].dataTopic
                    if let device = b.device {
                        birthTopic = Int32(topics.count)
                        topics.append(SparkplugTopic(group: b.group, type: .dbirth, node: b.node, device: device).text)
                        dataTopic = Int32(topics.count)
                        topics.append(SparkplugTopic(group: b.group, type: .ddata, node: b.node, device: device).text)
                    }
                    let scope = scopes.count
                    // The node's own scope first in its births (its NBIRTH carries it).
                    if b.device == nil { nodes[n].scopes.insert(scope, at: 0) } else { nodes[n].scopes.append(scope) }
                    scopes.append(SimSparkplugScope(
                        node: n, device: b.device, station: outputs.count, birthTopic: birthTopic, dataTopic: dataTopic,
                        metrics: b.metrics, aliasBase: UInt64(nodes[n].scopes.count) * 8,
                        measuresEnergy: isOutput && b.metrics.energyKwh != nil))
                    outputs.append(.sparkplug(scope: scope))
                } else if dialect == .umh || dialect == .mixed, let asset = station.umh {
                    outputs.append(.umh(countTopic: Int32(topics.count)))
                    topics.append(asset + "/count")
                    topics.append(asset + "/state")
                } else {
                    outputs.append(.takt)
                }
            }
        }
    }
}

extension SimulationEngine {
    /// Whether station `g` publishes Takt JSON.
    @inline(__always)
    func speaksTakt(_ g: Int) -> Bool {
        if case .takt = dialects.outputs[g] { return true }
        return false
    }

    /// A finished unit of a station that does not speak Takt JSON. The truth is recorded here:
    /// energy is the measured one only when the dialect carries it (a Sparkplug energy counter
    /// on the output station), else `good × unit_kwh`, as a consumer counts it.
    mutating func publishDialectUnit(_ g: Int, _ ts: Int64, scrap: Bool, energyMicroKWh: Int64) {
        let good: Int64 = scrap ? 0 : 1
        let l = stations[g].line
        switch dialects.outputs[g] {
        case .takt:
            return
        case .umh(let countTopic):
            truth.unit(station: g, ts: ts, good: good, scrap: 1 - good, energyMicroKWh: good * lines[l].unitMicroKWh)
            scratch.removeAll(keepingCapacity: true)
            scratch.appendASCII("{\"timestamp_ms\":")
            scratch.appendDecimal(ts)
            scratch.appendASCII(scrap ? ",\"count\":1,\"scrap\":1}" : ",\"count\":1}")
            emitDialect(g, topic: countTopic, kind: .unit, ts: ts)
        case .sparkplug(let k):
            answerRebirth(k, ts: ts)
            let measured = dialects.scopes[k].measuresEnergy && energyMicroKWh >= 0
            let energy = measured ? energyMicroKWh : good * lines[l].unitMicroKWh
            truth.unit(station: g, ts: ts, good: good, scrap: 1 - good, energyMicroKWh: energy)
            if scrap { dialects.scopes[k].scrap += 1 } else { dialects.scopes[k].good += 1 }
            if measured { dialects.scopes[k].energyMicroKWh += energyMicroKWh }
            dialects.scopes[k].lastCycleMs = stations[g].cycleDuration
            sparkplugData(k, ts: ts, kind: .unit, undelivered: (ts, good, 1 - good, energy))
        }
    }

    /// A state change of a station that does not speak Takt JSON (the truth is already told).
    mutating func publishDialectState(_ g: Int, _ ts: Int64, _ code: UInt32) {
        switch dialects.outputs[g] {
        case .takt:
            return
        case .umh(let countTopic):
            scratch.removeAll(keepingCapacity: true)
            scratch.appendASCII("{\"timestamp_ms\":")
            scratch.appendDecimal(ts)
            scratch.appendASCII(",\"state\":")
            scratch.appendDecimal(UInt64(code))
            scratch.appendASCII("}")
            emitDialect(g, topic: countTopic + 1, kind: .state, ts: ts)
        case .sparkplug(let k):
            answerRebirth(k, ts: ts)
            dialects.scopes[k].state = code
            sparkplugData(k, ts: ts, kind: .state, undelivered: nil)
        }
    }

    // MARK: Sparkplug

    /// The metrics of scope `k` as they stand, by alias (DATA) or by name with datatypes (BIRTH).
    func sparkplugMetrics(_ k: Int, ts: Int64, birth: Bool) -> [SparkplugPayload.Metric] {
        let s = dialects.scopes[k]
        let m = s.metrics
        var out: [SparkplugPayload.Metric] = []
        func add(_ name: String?, _ offset: UInt64, _ datatype: SparkplugDataType, _ value: SparkplugPayload.RawValue, isNull: Bool = false) {
            guard let name else { return }
            out.append(SparkplugPayload.Metric(name: birth ? name : nil, alias: s.aliasBase + offset, timestamp: ts,
                                               datatype: birth ? datatype.rawValue : nil, isNull: isNull,
                                               value: isNull ? .none : value))
        }
        add(m.good, 0, .uint64, .long(s.good))
        add(m.scrap, 1, .uint32, .int(UInt32(truncatingIfNeeded: s.scrap)))
        if s.measuresEnergy { add(m.energyKwh, 2, .double, .double(Double(s.energyMicroKWh) / 1e6)) }
        if let state = s.state {
            add(m.state, 3, .uint32, .int(state))
            add(m.running, 3, .boolean, .boolean((10_000...29_999).contains(state)))
        } else if birth {
            add(m.state, 3, .uint32, .none, isNull: true)
            add(m.running, 3, .boolean, .none, isNull: true)
        }
        if let c = s.lastCycleMs, !birth { add(m.cycleMs, 4, .int32, .int(UInt32(truncatingIfNeeded: c))) }
        return out
    }

    /// The next payload of node `n`: its `seq` moves on.
    mutating func sparkplugPayload(_ n: Int, ts: Int64, metrics: [SparkplugPayload.Metric]) -> [UInt8] {
        let seq = dialects.nodes[n].seq
        dialects.nodes[n].seq &+= 1
        return SparkplugPayload(timestamp: ts, seq: UInt64(seq), metrics: metrics).encoded()
    }

    /// NBIRTH (bdSeq, seq 0, every scope of the node without a device) and a DBIRTH per device.
    mutating func sparkplugBirth(_ n: Int, ts: Int64) {
        let at = max(ts, dialects.nodes[n].lastBirthTs &+ 1)
        dialects.nodes[n].lastBirthTs = at
        dialects.nodes[n].born = true
        dialects.nodes[n].seq = 0
        var nodeMetrics = [SparkplugPayload.Metric(name: "bdSeq", timestamp: at, datatype: SparkplugDataType.uint64.rawValue,
                                                   value: .long(dialects.nodes[n].bdSeq)),
                           SparkplugPayload.Metric(name: "Node Control/Rebirth", timestamp: at,
                                                   datatype: SparkplugDataType.boolean.rawValue, value: .boolean(false))]
        let own = dialects.nodes[n].scopes.filter { dialects.scopes[$0].device == nil }
        for k in own { nodeMetrics += sparkplugMetrics(k, ts: at, birth: true) }
        scratch = sparkplugPayload(n, ts: at, metrics: nodeMetrics)
        for k in own { deliverUndelivered(k, ts: at) }
        emit(dialects.nodes[n].birthTopic, scratch, .control)
        for k in dialects.nodes[n].scopes where dialects.scopes[k].device != nil {
            scratch = sparkplugPayload(n, ts: at, metrics: sparkplugMetrics(k, ts: at, birth: true))
            deliverUndelivered(k, ts: at)
            emit(dialects.scopes[k].birthTopic, scratch, .control)
        }
    }

    /// A host asked the node of scope `k` for a rebirth (NCMD, ``RebirthRequests``): before this
    /// message (at `ts`, before its values move) the node publishes NBIRTH — same `bdSeq`, `seq`
    /// 0, its counters as they stand — and its DBIRTHs. The births count nothing: a consumer
    /// finds the counters where the node's last DATA left them (a dropped message's units are
    /// carried, and the truth moves them to the birth). A node not yet born needs no answer (its
    /// first birth comes now anyway); one that already had a birth in this millisecond answers at
    /// its next message (a birth is always later than the previous one, and the rebirth is at
    /// the message's own time). The births skip the `reorder` fault, which releases a message it
    /// holds first: a rebirth is an answer, not traffic to scramble.
    @inline(__always)
    mutating func answerRebirth(_ k: Int, ts: Int64) {
        guard rebirths.hasPending else { return }
        let n = dialects.scopes[k].node
        guard !dialects.nodes[n].born || dialects.nodes[n].lastBirthTs < ts, rebirths.take(n),
              dialects.nodes[n].born else { return }
        releaseHeld()
        reorderSuspended = true
        sparkplugBirth(n, ts: ts)
        reorderSuspended = false
        counts.rebirths += 1
    }

    /// The `reboot` fault for an edge node: NDEATH of the current `bdSeq` (the will the broker
    /// would publish), then a new session with `bdSeq` + 1.
    mutating func sparkplugRestart(_ n: Int, ts: Int64) {
        let death = SparkplugPayload(timestamp: ts, seq: nil, metrics: [
            SparkplugPayload.Metric(name: "bdSeq", datatype: SparkplugDataType.uint64.rawValue, value: .long(dialects.nodes[n].bdSeq)),
        ])
        emit(dialects.nodes[n].deathTopic, death.encoded(), .control)
        counts.reboots += 1
        dialects.nodes[n].bdSeq += 1
        sparkplugBirth(n, ts: ts)
    }

    /// A DATA message of scope `k` carrying all its counters and its state: the cumulative
    /// counters make a dropped message's units arrive with the next one.
    mutating func sparkplugData(_ k: Int, ts: Int64, kind: MessageBatch.Kind,
                                undelivered: (ts: Int64, good: Int64, scrap: Int64, energy: Int64)?) {
        let n = dialects.scopes[k].node
        if !dialects.nodes[n].born {
            sparkplugBirth(n, ts: ts)
        } else if options.faults.reboot > 0, faultRNG.uniform() < options.faults.reboot {
            sparkplugRestart(n, ts: ts)
        }
        scratch = sparkplugPayload(n, ts: ts, metrics: sparkplugMetrics(k, ts: ts, birth: false))
        let faults = options.faults
        if kind == .unit, faults.drop > 0, faultRNG.uniform() < faults.drop, let u = undelivered {
            dialects.scopes[k].undelivered.append(u)
            counts.drops += 1
            return
        }
        deliverUndelivered(k, ts: ts)
        emitDialect(dialects.scopes[k].station, topic: dialects.scopes[k].dataTopic, kind: kind, ts: ts)
    }

    /// The units of dropped messages of scope `k` are counted with the message at `ts`: the
    /// truth moves them there.
    mutating func deliverUndelivered(_ k: Int, ts: Int64) {
        guard !dialects.scopes[k].undelivered.isEmpty else { return }
        let g = dialects.scopes[k].station
        for u in dialects.scopes[k].undelivered {
            truth.unit(station: g, ts: u.ts, good: -u.good, scrap: -u.scrap, energyMicroKWh: -u.energy)
            truth.unit(station: g, ts: ts, good: u.good, scrap: u.scrap, energyMicroKWh: u.energy)
        }
        dialects.scopes[k].undelivered.removeAll()
    }

    /// Publishes `scratch` on `topic`, then the duplicate and garbage faults for it (garbage
    /// on the same topic: not JSON for UMH, not a protobuf for Sparkplug).
    mutating func emitDialect(_ g: Int, topic: Int32, kind: MessageBatch.Kind, ts: Int64) {
        if emitWithFaults(topic: topic, kind: kind) {
            garbage.removeAll(keepingCapacity: true)
            // 0xFF…: a field number with a truncated varint — no protobuf; `{` unclosed — no JSON.
            garbage.append(contentsOf: [0x7B, 0xFF, 0xFF, 0xFF])
            emit(topic, garbage, .malformed)
        }
    }
}
