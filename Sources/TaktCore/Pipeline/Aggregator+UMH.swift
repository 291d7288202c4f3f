/// The United Manufacturing Hub input (`ia/{customer}/{location}/{asset}/{type}`, contract
/// section 10) beside the JSON path: its events land in the same pending windows and state
/// timelines, and its uniqueness state commits with them (pseudo station rows of line `_umh`).
extension Aggregator {
    /// The line of the pseudo station rows that carry a UMH station's uniqueness state in the
    /// store (`station` = `{line}/{station}`).
    public static let umhStateLine = "_umh"
    /// `timestamp_ms` kept per station and message type for UMH's uniqueness rule (older ones
    /// of a full list are `stale_seq`: too far behind to tell).
    static let umhKeys = 4096
    /// 1m windows whose good units a `scrapCount` may still move (older: `too_old`).
    static let umhMinutes = 1440

    static let umhPrefix: [UInt8] = Array("ia/".utf8)

    /// The topic filters of the bound UMH assets (`{asset}/count`, `/scrapCount`, `/state`).
    public static func umhSubscriptions(_ plants: [Plant]) -> [String] {
        plants.flatMap { $0.lines.flatMap { $0.stations.compactMap(\.umh) } }.flatMap { asset in UMHMessage.types.map { "\(asset)/\($0)" } }
    }

    /// A message under `ia/`; `nil` for any other topic.
    mutating func ingestUMH(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, now umhNow: Int64) -> IngestOutcome? {
        guard topic.starts(with: Self.umhPrefix) else { return nil }
        let text = String(decoding: topic, as: UTF8.self)
        guard let slash = text.lastIndex(of: "/"), let st = umhStations[String(text[..<slash])] else {
            unattributedDeadLetters[.unknownSource, default: 0] = (unattributedDeadLetters[.unknownSource] ?? 0).saturatingAdd(1)
            return .deadLetter(.unknownSource, detail: "'\(text)' is not the count, scrapCount or state topic of a UMH asset in a plant file")
        }
        let type = String(text[text.index(after: slash)...])
        let si = stationInfo[st].site
        guard UMHMessage.types.contains(type) else {
            return deadLetter(site: si, .badTopic, "UMH type '\(type)' is not one Takt reads (count, scrapCount, state)")
        }
        let message: UMHMessage
        do {
            message = try UMHMessage.decode(type: type, payload, maxBytes: settings.payload.maxPayloadBytes)
        } catch {
            return deadLetter(site: si, error.reason, error.detail)
        }
        let ts = message.ts
        let horizon = sites[si].horizon
        if horizon - ts > settings.maxAgeMs {
            return deadLetter(site: si, .tooOld, "timestamp_ms \(ts) is \(horizon - ts) ms behind the site's newest event; max_age is \(settings.maxAgeMs) ms")
        }
        if settings.maxPastMs > 0 && umhNow - ts > settings.maxPastMs {
            return deadLetter(site: si, .tooOld, "timestamp_ms \(ts) is \(umhNow - ts) ms behind the daemon's clock; max_past is \(settings.maxPastMs) ms")
        }
        if settings.payload.maxFutureS > 0 && ts - umhNow > settings.payload.maxFutureS * 1000 {
            return deadLetter(site: si, .inFuture, "timestamp_ms \(ts) is more than max_future_s ahead of the daemon's clock")
        }
        let k = umhIndex[st]!
        switch umhState[k].wasCounted(type: message.typeIndex, ts: ts, keys: Self.umhKeys) {
        case true?:
            sites[si].duplicates = sites[si].duplicates.saturatingAdd(1)
            sites[si].changed = true
            return .duplicate
        case nil:
            return deadLetter(site: si, .staleSeq, "timestamp_ms \(ts) is older than the \(Self.umhKeys) latest \(type) messages kept to tell whether it was counted")
        case false?:
            break
        }
        var refusal: (DeadLetterReason, String)?
        let minute = siteInfo[si].calendar.window(containing: ts, tier: .minute).start
        switch message {
        case .count(_, let count, let scrap):
            let good = count - scrap
            for tier in WindowTier.allCases {
                let p = Int(pendingSlot(station: st, site: si, tier: tier, ts: ts))
                pending[p].good += good
                pending[p].scrap += scrap
                pending[p].energyKwh += Double(good) * stationInfo[st].unitKwh
                pending[p].unitMessages += 1
            }
            umhState[k].minuteGood[minute, default: 0] += good
            umhState[k].pruneMinutes(Self.umhMinutes)
        case .scrapCount(_, let scrap):
            let known = umhState[k].minuteGood[minute] ?? 0
            let moved = min(scrap, known)
            if moved > 0 {
                for tier in WindowTier.allCases {
                    let p = Int(pendingSlot(station: st, site: si, tier: tier, ts: ts))
                    pending[p].good -= moved
                    pending[p].scrap += moved
                    pending[p].energyKwh -= Double(moved) * stationInfo[st].unitKwh
                }
                umhState[k].minuteGood[minute] = known - moved
            }
            if moved < scrap {
                refusal = (.outOfRange, "scrapCount \(scrap): the 1m window of \(ts) holds \(known) good units; \(scrap - moved) not moved")
            }
        case .state(_, let code):
            umhState[k].stateSeq += 1
            applyState(station: st, site: si, ts: ts, boot: 0, seq: umhState[k].stateSeq, state: StateCode(rawValue: code))
        }
        umhState[k].markCounted(type: message.typeIndex, ts: ts, keys: Self.umhKeys)
        umhDirty.insert(k)
        touch(st)
        if ts > sites[si].horizon { sites[si].horizon = ts }
        sites[si].changed = true
        if let (reason, detail) = refusal { return deadLetter(site: si, reason, detail) }
        sites[si].accepted = sites[si].accepted.saturatingAdd(1)
        return .accepted
    }

    /// UMH states snapshots changed since the last drain, as station snapshots.
    mutating func drainUMHSnapshots() -> [StationSnapshot] {
        defer { umhDirty.removeAll(keepingCapacity: true) }
        return umhDirty.sorted().map { k in
            let key = stationInfo[umhStationOf[k]].key
            return StationSnapshot(station: StationKey(site: key.site, line: Self.umhStateLine, station: "\(key.line)/\(key.station)"),
                                   dedup: umhState[k].serialized(), timeline: [])
        }
    }

    /// Restores a UMH snapshot; false when it is not one (or names no UMH station).
    mutating func restoreUMH(_ s: StationSnapshot) -> Bool {
        guard s.station.line == Self.umhStateLine else { return false }
        let parts = s.station.station.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, let st = stationByKey[StationKey(site: s.station.site, line: parts[0], station: parts[1])],
              let k = umhIndex[st], let state = UMHStationState(serialized: s.dedup) else { return true }
        umhState[k] = state
        return true
    }
}
