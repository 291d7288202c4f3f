/// The inputs beside the JSON path: Sparkplug B (`spBv1.0/…`, contract section 9) and the
/// host clock records that drive its timeouts. They end in the same pending windows, state
/// timelines, drains and snapshots as JSON events, so one commit holds both, and a journal
/// replay repeats both exactly.
extension Aggregator {
    /// The journal topic of a host clock record: payload = the daemon's clock, epoch ms, as
    /// 8 bytes little-endian. The intake journals one before a Sparkplug message when the
    /// clock moved, and when a reorder timeout is due; `$` topics never come from devices.
    public static let clockTopic = "$takt/clock"
    static let clockTopicBytes = Array(clockTopic.utf8)

    /// The payload of a clock record; `resumed`: the first one after the daemon started — the
    /// time since the previous record (the daemon was down) does not count against waiting
    /// messages, whose gap the broker is about to fill with what it held meanwhile.
    public static func clockPayload(_ now: Int64, resumed: Bool = false) -> [UInt8] {
        withUnsafeBytes(of: now.littleEndian) { Array($0) } + (resumed ? [1] : [])
    }

    /// Whether `topic` is Sparkplug B traffic (`spBv1.0/…`).
    @inline(__always)
    public static func isSparkplug(_ topic: UnsafeRawBufferPointer) -> Bool {
        topic.count > 8 && topic.first == UInt8(ascii: "s") && topic.starts(with: SparkplugTopic.prefixBytes)
    }

    /// Whether a plant file binds any station to a Sparkplug edge node.
    public var hasSparkplugStations: Bool { !sparkplug.isEmpty }

    /// The host clock (the latest clock record), epoch ms.
    public var sparkplugClock: Int64 { sparkplug.clock }

    /// Whether a clock record at `now` would change something: a reorder timeout is due.
    public func sparkplugTimeoutDue(now: Int64) -> Bool {
        guard let t = sparkplug.nextTimeout else { return false }
        return now >= t
    }

    /// NCMD `Node Control/Rebirth` commands asked for since the last call (topic, payload).
    public mutating func takeSparkplugCommands() -> [(topic: String, payload: [UInt8])] {
        guard !sparkplug.rebirthRequests.isEmpty else { return [] }
        defer { sparkplug.rebirthRequests.removeAll() }
        return sparkplug.rebirthRequests.map { sparkplug.rebirthCommand($0) }
    }

    /// A message the JSON fast path does not know: a clock record, Sparkplug, or `nil` (the
    /// JSON slow path names the fault).
    mutating func ingestOtherInput(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, now: Int64) -> IngestOutcome? {
        if topic.elementsEqual(Self.clockTopicBytes) {
            guard payload.count == 8 || payload.count == 9 else { return .deadLetter(.badTopic, detail: "clock record of \(payload.count) bytes") }
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(payload[k]) << (8 * k) }
            if payload.count == 9 && payload[8] == 1 { sparkplug.resume(at: Int64(bitPattern: v)) }
            sparkplug.advance(to: Int64(bitPattern: v))
            _ = applySparkplugEffects()
            return .accepted
        }
        if Self.isSparkplug(topic) { return ingestSparkplug(topic: topic, payload: payload) }
        return ingestUMH(topic: topic, payload: payload, now: now)
    }

    private mutating func ingestSparkplug(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer) -> IngestOutcome {
        let text = String(decoding: topic, as: UTF8.self)
        guard let parsed = SparkplugTopic.parse(text) else {
            unattributedDeadLetters[.badProtobuf, default: 0] = (unattributedDeadLetters[.badProtobuf] ?? 0).saturatingAdd(1)
            return .deadLetter(.badProtobuf, detail: "'\(text)' is not a Sparkplug B topic (spBv1.0/{group}/{type}/{node}[/{device}])")
        }
        guard case .edge(let t) = parsed else { return .duplicate }  // a host's STATE: nothing to count
        let outcome = sparkplug.receive(t, payload: payload)
        guard let n = sparkplug.nodeIndex[SparkplugHost.NodeKey(group: t.group, node: t.node)] else {
            unattributedDeadLetters[.unknownSource, default: 0] = (unattributedDeadLetters[.unknownSource] ?? 0).saturatingAdd(1)
            return .deadLetter(.unknownSource, detail: "Sparkplug node \(t.group)/\(t.node) is not in any plant file")
        }
        guard let si = siteByID[sparkplug.configs[n].site] else { return .duplicate }
        let problem = sparkplug.problem
        let refused = applySparkplugEffects()
        switch outcome {
        case .unknownNode:
            return deadLetter(site: si, .unknownSource, "Sparkplug node \(t.group)/\(t.node) is not in any plant file")
        case .rejected(let e):
            return deadLetter(site: si, e.reason, e.detail)
        case .duplicate:
            sites[si].duplicates = sites[si].duplicates.saturatingAdd(1)
            sites[si].changed = true
            return .duplicate
        case .accepted:
            if let p = refused ?? problem { return deadLetter(site: si, p.reason, p.detail) }
            sites[si].accepted = sites[si].accepted.saturatingAdd(1)
            sites[si].changed = true
            return .accepted
        }
    }

    /// Applies the host's pending effects to the stations' windows and timelines, with the
    /// JSON path's time rules (`too_old` against the site's horizon and `max_past`, `in_future`
    /// against `max_future_s`) measured on the host clock, so a replay decides the same.
    /// - Returns: why the first refused effect was refused, if one was.
    private mutating func applySparkplugEffects() -> DeadLetterError? {
        guard !sparkplug.effects.isEmpty else { return nil }
        var refused: DeadLetterError?
        let now = sparkplug.clock
        for e in sparkplug.effects {
            let st: Int
            let ts: Int64
            switch e {
            case .units(let s, let t, _, _), .energy(let s, let t, _), .cycle(let s, let t, _), .state(let s, let t, _, _):
                st = s
                ts = t
            }
            let si = stationInfo[st].site
            let horizon = sites[si].horizon
            if horizon - ts > settings.maxAgeMs || (settings.maxPastMs > 0 && now - ts > settings.maxPastMs) {
                if refused == nil { refused = DeadLetterError(.tooOld, "a Sparkplug value at \(ts) is older than max_age/max_past") }
                continue
            }
            if settings.payload.maxFutureS > 0 && ts - now > settings.payload.maxFutureS * 1000 {
                if refused == nil { refused = DeadLetterError(.inFuture, "a Sparkplug value at \(ts) is more than max_future_s ahead") }
                continue
            }
            touch(st)
            switch e {
            case .units(_, _, let good, let scrap):
                let energy = sparkplug.energyStations.contains(st) ? 0 : Double(good) * stationInfo[st].unitKwh
                for tier in WindowTier.allCases {
                    let k = Int(pendingSlot(station: st, site: si, tier: tier, ts: ts))
                    pending[k].good = pending[k].good.saturatingAdd(good)
                    pending[k].scrap = pending[k].scrap.saturatingAdd(scrap)
                    pending[k].energyKwh += energy
                    pending[k].unitMessages += 1
                }
            case .energy(_, _, let kwh):
                for tier in WindowTier.allCases {
                    let k = Int(pendingSlot(station: st, site: si, tier: tier, ts: ts))
                    pending[k].energyKwh += kwh
                }
            case .cycle(_, _, let ms):
                for tier in WindowTier.allCases {
                    let k = Int(pendingSlot(station: st, site: si, tier: tier, ts: ts))
                    pending[k].cycle.add(Int(ms))
                }
            case .state(_, _, let seq, let state):
                applyState(station: st, site: si, ts: ts, boot: 0, seq: seq, state: state)
            }
            if ts > sites[si].horizon { sites[si].horizon = ts }
            sites[si].changed = true
        }
        sparkplug.effects.removeAll(keepingCapacity: true)
        return refused
    }

    /// A state of an input that is already exactly once (Sparkplug, UMH): into the station's
    /// timeline as a JSON state message goes, with a synthetic `(boot, seq)` order.
    mutating func applyState(station st: Int, site si: Int, ts: Int64, boot: Int64, seq: Int64, state: StateCode) {
        for tier in WindowTier.allCases { _ = pendingSlot(station: st, site: si, tier: tier, ts: ts) }
        // The same state again, later: a heartbeat that changes nothing (the input is already
        // exactly once, and a later state cannot land between the two and be hidden).
        if let last = stations[st].timeline.entries.last, last.state == state, ts >= last.ts { return }
        guard stations[st].timeline.entries.count < settings.maxStateChanges else { return }
        let drained = sites[si].drainedHorizon
        let old: StateCode?? = ts < drained ? .some(stations[st].timeline.state(at: ts)) : .none
        stations[st].timelineDirty = true
        stations[st].snapshotDirty = true
        if let changed = stations[st].timeline.insert(StateTimeline.Entry(ts: ts, boot: boot, seq: seq, state: state)) {
            let hi = min(changed.upperBound, drained)
            if changed.lowerBound < hi, let old, Self.timeClass(old) != Self.timeClass(state) {
                addLateRange(station: st, changed.lowerBound..<hi)
            }
        }
    }

    // MARK: - Snapshots

    /// The line of the pseudo station rows that carry Sparkplug node state in the store
    /// (`station` = `{group}/{node}`): they commit in the same transaction as the windows.
    public static let sparkplugStateLine = "_sparkplug"

    /// Node snapshots changed since the last drain, as station snapshots.
    mutating func drainSparkplugSnapshots() -> [StationSnapshot] {
        sparkplug.drainSnapshots().map { s in
            StationSnapshot(station: StationKey(site: s.site, line: Self.sparkplugStateLine, station: s.name),
                            dedup: s.bytes, timeline: [])
        }
    }

    /// Restores a node snapshot; false when it is not one (or names no configured node).
    mutating func restoreSparkplug(_ s: StationSnapshot) -> Bool {
        guard s.station.line == Self.sparkplugStateLine else { return false }
        return sparkplug.restore(name: s.station.station, bytes: s.dedup)
    }
}
