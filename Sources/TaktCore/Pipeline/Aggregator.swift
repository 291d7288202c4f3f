/// The pure aggregation engine: raw inbound messages in, store commits out.
///
/// A state machine in the style of the pure core: no I/O and no clock — `now` comes in as an
/// argument — so a journal replay runs exactly like the live stream. The daemon calls
/// ``ingest(topic:payload:now:)`` per message and ``drainCommit(journalOffset:)`` per store
/// transaction; on start, ``restore(stations:sites:)`` with what the store holds.
///
/// **Per message** (``ingest(topic:payload:now:)``), in this order:
/// 1. topic → station (`bad_topic`, `unknown_source`);
/// 2. payload → event (`PayloadDecoder`: `not_json` … `in_future`);
/// 3. `too_old` when `ts` is more than `maxAgeMs` behind the site's horizon — *before* dedup,
///    so a too-old message never marks its seq (a later copy with a fresh `ts` still counts);
/// 4. dedup per source `(site, line, station, boot)`: a duplicate changes nothing but counters;
///    a seq outside the bitmap is `stale_seq`;
/// 5. the event is counted: a unit adds to the pending deltas of its 1m/1h/1d windows; a state
///    goes into the station's ``StateTimeline``; the windows holding the message are dirty;
///    the site's horizon (newest accepted `ts`) moves up.
///
/// **Per commit** (``drainCommit(journalOffset:)``): one ``WindowUpdate`` per dirty window, with
/// the count deltas since the previous commit and the *absolute* run/planned ms of the window up
/// to the site's horizon. A window is dirty when, since the previous commit,
/// - it holds a counted message of the station (unit or state, even a state that changed
///   nothing: "a row for every window that holds one of its messages");
/// - a late state changed the station's state in it before the horizon of the previous commit;
/// - the horizon moved from `h0` to `h1` and the station was in a *known* state somewhere in
///   `[h0, h1) ∩ window` (it gained state time; time in an unknown state gives no row).
///
/// **Memory** is bounded by the plant files and by what arrives between two commits: the
/// pending deltas live only until the next drain (the store holds the full rows and adds the
/// deltas), dedup is O(stations × boots × capacity/8), and timelines are pruned at each drain
/// to the entries that can still change a row (see ``drainCommit(journalOffset:)``). This
/// replaces the per-tier ring of full windows of DESIGN.md: no window ever has to be evicted,
/// and a late event for an old window is simply another delta.
///
/// - Important: Not thread-safe in itself (a value type): one task owns it.
public struct Aggregator: Sendable {
    // MARK: Static description (from the plant files)

    struct SiteInfo: Sendable {
        var id: String
        var calendar: WindowCalendar
        /// Dense station ids of this site (contiguous).
        var stations: Range<Int>
        var lines: Set<String>
    }

    struct StationInfo: Sendable {
        var key: StationKey
        var site: Int
        var unitKwh: Double
        var idealCycleS: Double
        var isOutput: Bool
    }

    // MARK: Dynamic state

    struct SiteState: Sendable {
        /// Newest accepted event ts (0 before the first).
        var horizon: Int64 = 0
        /// The horizon at the previous drain: state time up to it is in the store.
        var drainedHorizon: Int64 = 0
        var accepted: Int64 = 0
        var duplicates: Int64 = 0
        var deadLetters: Int64 = 0
        /// Dead letters by ``DeadLetterReason`` (index in `allCases`); not persisted.
        var deadLettersByReason = [Int64](repeating: 0, count: DeadLetterReason.allCases.count)
        var changed = false
    }

    /// The pending window of one tier a station used last; `slot` is -1 after a drain.
    struct TierCache: Sendable {
        var start: Int64 = 0
        var end: Int64 = Int64.min
        var slot: Int32 = -1
    }

    struct StationState: Sendable {
        var dedup: StationDedup
        var timeline = StateTimeline()
        /// Time ranges before the drained horizon whose state changed since the last drain
        /// (sorted, disjoint).
        var lateRanges: [Range<Int64>] = []
        /// Dedup or timeline changed since the last drain (persist a snapshot).
        var snapshotDirty = false
        /// The timeline may differ from the one in the store: true until the station's first
        /// snapshot (or restore), then after every state message and every prune that dropped
        /// entries. A snapshot without it carries `timeline: nil` (the store keeps its bytes).
        var timelineDirty = true
        /// In `touched` (has something for the next drain).
        var touched = false
        var minute = TierCache()
        var hour = TierCache()
        var day = TierCache()
    }

    /// A window with pending deltas (or only dirty state time).
    struct PendingKey: Hashable, Sendable {
        var station: Int32
        var tier: UInt8
        var start: Int64
    }

    struct PendingWindow: Sendable {
        var station: Int32
        var tier: WindowTier
        var bounds: WindowBounds
        var good: Int64 = 0
        var scrap: Int64 = 0
        var energyKwh: Double = 0
        var unitMessages: Int64 = 0
        var cycle = CycleHistogram()
    }

    public let settings: AggregatorSettings
    let decoder: PayloadDecoder
    let sources: SourceIndex
    let siteInfo: [SiteInfo]
    let stationInfo: [StationInfo]
    let siteByID: [String: Int]
    let stationByKey: [StationKey: Int]

    var sites: [SiteState]
    var stations: [StationState]
    var pending: [PendingWindow] = []
    var pendingIndex: [PendingKey: Int32] = [:]
    /// Stations with something for the next drain.
    var touched: [Int32] = []
    /// Dead letters no site can be blamed for (bad topic, unknown site), by reason.
    public internal(set) var unattributedDeadLetters = [DeadLetterReason: Int64]()
    /// The Sparkplug B host: per-node sequencing, aliases and counter baselines (contract
    /// section 9); its effects land in the same pending windows as JSON events.
    var sparkplug: SparkplugHost
    /// UMH: station by asset prefix (`ia/{customer}/{location}/{asset}`), the dense index of a
    /// UMH station, its station, its persisted state, and which changed since the last drain.
    var umhStations: [String: Int] = [:]
    var umhIndex: [Int: Int] = [:]
    var umhStationOf: [Int] = []
    var umhState: [UMHStationState] = []
    var umhDirty: Set<Int> = []

    /// Builds the engine for these sites.
    ///
    /// - Parameter plants: one per site (plant files), with unique site ids.
    /// - Throws: ``AggregatorError`` for two plants with the same site, or an id that breaks
    ///   the topic segment rules (a plant built without the YAML loader).
    public init(plants: [Plant], settings: AggregatorSettings = AggregatorSettings()) throws(AggregatorError) {
        var siteInfo: [SiteInfo] = []
        var stationInfo: [StationInfo] = []
        var siteByID: [String: Int] = [:]
        var stationByKey: [StationKey: Int] = [:]
        var keys: [String] = []
        var sparkplugBindings: [(station: Int, site: String, binding: SparkplugBinding)] = []
        var umhAssets: [String: Int] = [:]
        for plant in plants {
            guard TopicSegment.isValidSite(plant.site) else {
                throw AggregatorError("site '\(plant.site)' is not a valid topic segment (or reserved)")
            }
            guard siteByID[plant.site] == nil else {
                throw AggregatorError("site '\(plant.site)' is named by two plant files")
            }
            let si = siteInfo.count
            siteByID[plant.site] = si
            let first = stationInfo.count
            var lines: Set<String> = []
            for line in plant.lines {
                guard TopicSegment.isValid(line.id) else {
                    throw AggregatorError("site '\(plant.site)': line '\(line.id)' is not a valid topic segment")
                }
                lines.insert(line.id)
                for st in line.stations {
                    guard TopicSegment.isValid(st.id) else {
                        throw AggregatorError("site '\(plant.site)' line '\(line.id)': station '\(st.id)' is not a valid topic segment")
                    }
                    let key = StationKey(site: plant.site, line: line.id, station: st.id)
                    guard stationByKey[key] == nil else { throw AggregatorError("station \(key) is named twice") }
                    let isOutput = st.id == line.outputStation
                    stationByKey[key] = stationInfo.count
                    stationInfo.append(StationInfo(key: key, site: si, unitKwh: line.unitKWh,
                                                   idealCycleS: isOutput ? line.idealCycleS : st.cycleS,
                                                   isOutput: isOutput))
                    keys.append("\(plant.site)/\(line.id)/\(st.id)")
                }
            }
            for st in first..<stationInfo.count {
                let key = stationInfo[st].key
                let station = plant.line(key.line)?.stations.first(where: { $0.id == key.station })
                if let b = station?.sparkplug {
                    sparkplugBindings.append((st, plant.site, b))
                }
                if let asset = station?.umh {
                    guard umhAssets[asset] == nil else { throw AggregatorError("two stations report through the UMH asset \(asset)") }
                    umhAssets[asset] = st
                }
            }
            siteInfo.append(SiteInfo(id: plant.site, calendar: WindowCalendar(timeZone: plant.timeZone),
                                     stations: first..<stationInfo.count, lines: lines))
        }
        self.sparkplug = try SparkplugHost(bindings: sparkplugBindings, settings: settings.sparkplug)
        self.settings = settings
        self.decoder = PayloadDecoder(limits: settings.payload)
        self.sources = SourceIndex(keys: keys)
        self.siteInfo = siteInfo
        self.stationInfo = stationInfo
        self.siteByID = siteByID
        self.stationByKey = stationByKey
        self.sites = Array(repeating: SiteState(), count: siteInfo.count)
        self.stations = Array(repeating: StationState(dedup: StationDedup(capacity: settings.dedupCapacity,
                                                                          keepBoots: settings.keepBoots)),
                              count: stationInfo.count)
        for (asset, st) in umhAssets.sorted(by: { $0.value < $1.value }) {
            umhStations[asset] = st
            umhIndex[st] = umhStationOf.count
            umhStationOf.append(st)
            umhState.append(UMHStationState())
        }
    }

    // MARK: - Ingest

    /// Counts one inbound message, or says why not.
    ///
    /// - Parameters:
    ///   - topic: the MQTT topic, UTF-8 bytes.
    ///   - payload: the message body.
    ///   - now: the daemon's clock, epoch ms (for `max_future_s` and `max_past`; a replay
    ///     passes the clock at the replay's start, so a message never committed before a long
    ///     outage can come back `too_old`).
    /// - Complexity: O(payload bytes) plus O(log n) dictionary work; no allocation for a good
    ///   message of a window that already has pending deltas (a window's first message since
    ///   the last drain allocates its slot, and its cycle histogram on the first `cycle_ms`).
    public mutating func ingest(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, now: Int64) -> IngestOutcome {
        guard let (st, kind) = sources.match(topic: topic) else { return slowPathTopic(topic, payload: payload, now: now) }
        let si = stationInfo[st].site
        let event: DecodedPayload
        do {
            event = try decoder.decode(payload, kind: kind, now: now)
        } catch {
            return deadLetter(site: si, error.reason, error.detail)
        }
        let ts = event.ts
        let horizon = sites[si].horizon
        if horizon - ts > settings.maxAgeMs {
            return deadLetter(site: si, .tooOld,
                              "ts \(ts) is \(horizon - ts) ms behind the site's newest event \(horizon); max_age is \(settings.maxAgeMs) ms")
        }
        // Even a site's first message: a device clock reset to 1970 must not open 56 years of
        // windows. `now` and `ts` are both within 0…2^53, so the difference cannot overflow.
        if settings.maxPastMs > 0 && now - ts > settings.maxPastMs {
            return deadLetter(site: si, .tooOld,
                              "ts \(ts) is \(now - ts) ms behind the daemon's clock; max_past is \(settings.maxPastMs) ms")
        }
        // Memory per station is bounded whatever a device sends (protocol section 8). Checked
        // before dedup, so a refused change does not use up its seq.
        // Decided once, before dedup moves its bitmap (after it, the oldest seq between the two
        // entries can have slid out of the bitmap and the answer would differ).
        let redundantState = if case .state(let s) = event { isRedundant(s, station: st) } else { false }
        if case .state = event, !redundantState, stations[st].timeline.entries.count >= settings.maxStateChanges {
            return deadLetter(site: si, .stateFlood,
                              "the station's timeline holds \(settings.maxStateChanges) state changes within max_age (max_state_changes)")
        }
        let verdict = stations[st].dedup.accept(boot: event.boot, seq: event.seq, limits: settings.dedupLimits)
        stations[st].snapshotDirty = true
        touch(st)
        switch verdict {
        case .new:
            break
        case .duplicate:
            sites[si].duplicates = sites[si].duplicates.saturatingAdd(1)
            sites[si].changed = true
            return .duplicate
        case .seqJump:
            return deadLetter(site: si, .seqJump,
                              "seq \(event.seq) of boot \(event.boot) jumps more than max_seq_gap (\(settings.dedupLimits.maxSeqGap)) ahead of the source")
        case .bootJump:
            return deadLetter(site: si, .bootJump,
                              "boot \(event.boot) is more than max_boot_gap (\(settings.dedupLimits.maxBootGap)) above the station's boot")
        case .staleBoot:
            return deadLetter(site: si, .staleBoot,
                              "boot \(event.boot) is older than every boot the station still holds")
        case .tooOldToTell:
            return deadLetter(site: si, .staleSeq,
                              "seq \(event.seq) of boot \(event.boot) is too far behind the source's newest seq to tell whether it was counted")
        }
        switch event {
        case .unit(let u):
            let energy = u.energyKwh(unitKwh: stationInfo[st].unitKwh)
            for tier in WindowTier.allCases {
                let k = Int(pendingSlot(station: st, site: si, tier: tier, ts: ts))
                pending[k].good += Int64(u.good)
                pending[k].scrap += Int64(u.scrap)
                pending[k].energyKwh += energy
                pending[k].unitMessages += 1
                if let c = u.cycleMs { pending[k].cycle.add(Int(c)) }
            }
        case .state(let s):
            let drained = sites[si].drainedHorizon
            // Before a late insert: the state that held [ts, next entry) until now.
            let old: StateCode?? = ts < drained ? .some(stations[st].timeline.state(at: ts)) : .none
            if !redundantState {
                stations[st].timelineDirty = true
                if let changed = stations[st].timeline.insert(s) {
                    // Time from the drained horizon on is handled by the horizon rule at drain.
                    // A late change between states of the same class (see `timeClass`) changes
                    // no number and no row: no rewrite.
                    let hi = min(changed.upperBound, drained)
                    if changed.lowerBound < hi, let old, Self.timeClass(old) != Self.timeClass(s.state) {
                        addLateRange(station: st, changed.lowerBound..<hi)
                    }
                }
            }
            for tier in WindowTier.allCases { _ = pendingSlot(station: st, site: si, tier: tier, ts: ts) }
        }
        if ts > horizon { sites[si].horizon = ts }
        sites[si].accepted = sites[si].accepted.saturatingAdd(1)
        sites[si].changed = true
        return .accepted
    }

    /// Whether state message `s` (already accepted by dedup) can never change a number and need
    /// not be stored: it repeats the state of the timeline's last entry, of the same boot, later,
    /// and every seq between the two has been accepted — so no late message can ever land
    /// between them (it would be a duplicate). A heartbeat of an unchanged state then costs no
    /// memory and no snapshot rewrite. Entries that only look redundant while a gap is open are
    /// kept: a late state filling the gap needs them to know where the state resumes.
    private func isRedundant(_ s: StateEvent, station st: Int) -> Bool {
        guard let last = stations[st].timeline.entries.last, last.state == s.state, last.boot == s.boot,
              s.ts >= last.ts, s.seq > last.seq else { return false }
        return stations[st].dedup.hasAll(boot: s.boot, (last.seq + 1)..<s.seq)
    }

    /// ``ingest(topic:payload:now:)`` for a topic string and payload array (tests, tools).
    public mutating func ingest(topic: String, payload: [UInt8], now: Int64) -> IngestOutcome {
        var t = topic
        return t.withUTF8 { tb in
            payload.withUnsafeBytes { pb in ingest(topic: UnsafeRawBufferPointer(tb), payload: pb, now: now) }
        }
    }

    /// ``ingest(topic:payload:now:)`` for a topic string and payload string.
    public mutating func ingest(topic: String, payload: String, now: Int64) -> IngestOutcome {
        ingest(topic: topic, payload: Array(payload.utf8), now: now)
    }

    /// The counters of `site` now (`missing` summed over its stations); `nil` for an unknown
    /// site.
    public func counters(site: String) -> SiteCounters? {
        siteByID[site].map { siteCounters($0) }
    }

    /// Dead letters of `site` by reason since start (not persisted; the total is).
    public func deadLetters(site: String) -> [DeadLetterReason: Int64] {
        guard let si = siteByID[site] else { return [:] }
        var out: [DeadLetterReason: Int64] = [:]
        for (k, r) in DeadLetterReason.allCases.enumerated() where sites[si].deadLettersByReason[k] > 0 {
            out[r] = sites[si].deadLettersByReason[k]
        }
        return out
    }

    /// Raises `site`'s horizon to `horizon` (epoch ms) when that is newer: another daemon that
    /// shares the site (its other lines) committed newer events. The next drain extends state
    /// time up to it, as an event of this daemon's would. Returns whether the horizon moved.
    public mutating func raiseHorizon(site: String, to horizon: Int64) -> Bool {
        guard let si = siteByID[site], horizon > sites[si].horizon else { return false }
        sites[si].horizon = horizon
        return true
    }

    // MARK: - Helpers

    func siteCounters(_ si: Int) -> SiteCounters {
        var missing: Int64 = 0
        for st in siteInfo[si].stations { missing = missing.saturatingAdd(stations[st].dedup.missing) }
        missing = missing.saturatingAdd(sparkplug.missing(site: siteInfo[si].id))
        let s = sites[si]
        return SiteCounters(site: siteInfo[si].id, horizon: s.horizon, accepted: s.accepted,
                            duplicates: s.duplicates, deadLetters: s.deadLetters, missing: missing)
    }

    mutating func deadLetter(site si: Int, _ reason: DeadLetterReason, _ detail: String) -> IngestOutcome {
        sites[si].deadLetters = sites[si].deadLetters.saturatingAdd(1)
        sites[si].deadLettersByReason[Self.reasonIndex(reason)] = sites[si].deadLettersByReason[Self.reasonIndex(reason)].saturatingAdd(1)
        sites[si].changed = true
        return .deadLetter(reason, detail: detail)
    }

    private static func reasonIndex(_ r: DeadLetterReason) -> Int {
        DeadLetterReason.allCases.firstIndex(of: r)!
    }

    /// A topic the fast path did not know: name the fault (`bad_topic`) or the unknown part.
    private mutating func slowPathTopic(_ topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, now: Int64) -> IngestOutcome {
        if let outcome = ingestOtherInput(topic: topic, payload: payload, now: now) { return outcome }
        let parsed: InboundTopic
        do {
            parsed = try InboundTopic.parse(topic)
        } catch {
            unattributedDeadLetters[error.reason, default: 0] = (unattributedDeadLetters[error.reason] ?? 0).saturatingAdd(1)
            return .deadLetter(error.reason, detail: error.detail)
        }
        guard let si = siteByID[parsed.site] else {
            unattributedDeadLetters[.unknownSource, default: 0] = (unattributedDeadLetters[.unknownSource] ?? 0).saturatingAdd(1)
            return .deadLetter(.unknownSource, detail: "site '\(parsed.site)' is not in any plant file")
        }
        if !siteInfo[si].lines.contains(parsed.line) {
            return deadLetter(site: si, .unknownSource, "line '\(parsed.line)' is not in the plant file of site '\(parsed.site)'")
        }
        return deadLetter(site: si, .unknownSource,
                          "station '\(parsed.station)' is not a station of line '\(parsed.line)' of site '\(parsed.site)'")
    }

    @inline(__always)
    mutating func touch(_ st: Int) {
        if !stations[st].touched {
            stations[st].touched = true
            touched.append(Int32(st))
        }
    }

    /// The pending slot of the window of `tier` holding `ts` for station `st`, created empty
    /// if needed. Hits the station's last window of the tier without hashing.
    @inline(__always)
    mutating func pendingSlot(station st: Int, site si: Int, tier: WindowTier, ts: Int64) -> Int32 {
        let c: TierCache
        switch tier {
        case .minute: c = stations[st].minute
        case .hour: c = stations[st].hour
        case .day: c = stations[st].day
        }
        if c.slot >= 0 && ts >= c.start && ts < c.end { return c.slot }
        let bounds = (ts >= c.start && ts < c.end)
            ? WindowBounds(start: c.start, end: c.end)
            : siteInfo[si].calendar.window(containing: ts, tier: tier)
        let slot = pendingSlot(station: st, tier: tier, bounds: bounds)
        let n = TierCache(start: bounds.start, end: bounds.end, slot: slot)
        switch tier {
        case .minute: stations[st].minute = n
        case .hour: stations[st].hour = n
        case .day: stations[st].day = n
        }
        return slot
    }

    /// The pending slot of `bounds` (a window of `tier`) for station `st`, created if needed.
    mutating func pendingSlot(station st: Int, tier: WindowTier, bounds: WindowBounds) -> Int32 {
        let key = PendingKey(station: Int32(st), tier: Self.tierCode(tier), start: bounds.start)
        if let k = pendingIndex[key] { return k }
        let k = Int32(pending.count)
        pending.append(PendingWindow(station: Int32(st), tier: tier, bounds: bounds))
        pendingIndex[key] = k
        return k
    }

    /// What a state means for a window: 3 = running (and planned), 2 = planned only, 1 = known
    /// but not planned (no shift: still gives the window a row), 0 = unknown or no state yet.
    @inline(__always)
    static func timeClass(_ s: StateCode?) -> Int {
        guard let s, s.isKnown else { return 0 }
        return s.isRunning ? 3 : (s.isPlanned ? 2 : 1)
    }

    @inline(__always)
    static func tierCode(_ t: WindowTier) -> UInt8 {
        switch t {
        case .minute: return 0
        case .hour: return 1
        case .day: return 2
        }
    }

    /// Adds `r` to the station's late ranges, keeping them sorted and disjoint.
    mutating func addLateRange(station st: Int, _ r: Range<Int64>) {
        var lo = r.lowerBound
        var hi = r.upperBound
        var out: [Range<Int64>] = []
        var placed = false
        for x in stations[st].lateRanges {
            if x.upperBound < lo {
                out.append(x)
            } else if x.lowerBound > hi {
                if !placed { out.append(lo..<hi); placed = true }
                out.append(x)
            } else {
                lo = min(lo, x.lowerBound)
                hi = max(hi, x.upperBound)
            }
        }
        if !placed { out.append(lo..<hi) }
        stations[st].lateRanges = out
    }
}
