import DequeModule
import Foundation

extension Aggregator {
    /// Everything that changed since the previous drain, as one store transaction; then forgets
    /// the pending state.
    ///
    /// - Updates: one per dirty window (see ``Aggregator``), sorted by station (plant file
    ///   order), tier (1m, 1h, 1d) and start. Counts are deltas (zero for a window that is only
    ///   dirty by state time); `runMs`/`plannedMs` are absolute:
    ///   `timeline.accumulate(over: window, horizon: siteHorizon)`.
    /// - Stations: a ``StationSnapshot`` for each station whose dedup or timeline changed
    ///   (duplicates and stale seqs change dedup counters too), after pruning; its `timeline`
    ///   is `nil` when the timeline is unchanged since the station's previous snapshot.
    /// - Sites: ``SiteCounters`` of each site with any message since the previous drain.
    ///
    /// Timelines are pruned here to the entries that can still change a row: a message is
    /// accepted only with `ts ≥ horizon − maxAge`, and the earliest window it can touch is the
    /// hour or day holding `horizon − maxAge`, so entries before the start of that window
    /// (except the last one, which still holds there) can never be read again.
    ///
    /// - Parameter journalOffset: the journal offset just past the last ingested message.
    /// - Complexity: O(dirty windows · log + stations of sites whose horizon moved).
    public mutating func drainCommit(journalOffset: Int64) -> CommitBatch {
        // 1. Windows dirty by state time (pending slots are created for them).
        for si in sites.indices where sites[si].horizon > sites[si].drainedHorizon {
            // The span is bounded by the entries' age: a state older than `max_past` behind the
            // daemon's clock is never accepted (docs/protocol.md, section 8). Clamping here
            // instead would make the rows depend on where drains fall.
            let h0 = sites[si].drainedHorizon
            let h1 = sites[si].horizon
            for st in siteInfo[si].stations where !stations[st].timeline.entries.isEmpty {
                markKnownTime(station: st, site: si, from: h0, to: h1)
            }
        }
        for st32 in touched {
            let st = Int(st32)
            let ranges = stations[st].lateRanges
            guard !ranges.isEmpty else { continue }
            for r in ranges { markWindows(station: st, site: stationInfo[st].site, r.lowerBound, r.upperBound) }
            stations[st].lateRanges = []
        }

        // 2. Row updates.
        var updates: [WindowUpdate] = []
        updates.reserveCapacity(pending.count)
        let order = pending.indices.sorted { a, b in
            let x = pending[a], y = pending[b]
            if x.station != y.station { return x.station < y.station }
            if x.tier != y.tier { return Self.tierCode(x.tier) < Self.tierCode(y.tier) }
            return x.bounds.start < y.bounds.start
        }
        for k in order {
            let p = pending[k]
            let st = Int(p.station)
            let info = stationInfo[st]
            let time = stations[st].timeline.accumulate(over: p.bounds, horizon: sites[info.site].horizon)
            let key = WindowKey(site: info.key.site, line: info.key.line, station: info.key.station, tier: p.tier,
                                start: p.bounds.start, end: p.bounds.end)
            updates.append(WindowUpdate(key: key, good: p.good, scrap: p.scrap, energyKwh: p.energyKwh,
                                        unitMessages: p.unitMessages, cycle: p.cycle,
                                        runMs: time.runMs, plannedMs: time.plannedMs,
                                        idealCycleS: info.idealCycleS, isOutputStation: info.isOutput))
        }

        // 3. Prune timelines of sites whose horizon moved (the cutoff only moves with it).
        for si in sites.indices where sites[si].horizon > sites[si].drainedHorizon {
            let c = sites[si].horizon - settings.maxAgeMs
            guard c > 0 else { continue }
            let cal = siteInfo[si].calendar
            let cutoff = min(cal.window(containing: c, tier: .hour).start, cal.window(containing: c, tier: .day).start)
            for st in siteInfo[si].stations where stations[st].timeline.entries.count > 1 {
                let before = stations[st].timeline.entries.count
                stations[st].timeline.prune(before: cutoff)
                if stations[st].timeline.entries.count != before {
                    stations[st].snapshotDirty = true
                    stations[st].timelineDirty = true
                }
            }
        }

        // 4. Snapshots and counters.
        var snapshots: [StationSnapshot] = []
        for st in stations.indices where stations[st].snapshotDirty {
            snapshots.append(snapshot(st, timeline: stations[st].timelineDirty))
            stations[st].snapshotDirty = false
            stations[st].timelineDirty = false
        }
        snapshots += drainSparkplugSnapshots()
        snapshots += drainUMHSnapshots()
        var counters: [SiteCounters] = []
        for si in sites.indices where sites[si].changed {
            counters.append(siteCounters(si))
            sites[si].changed = false
        }
        for si in sites.indices { sites[si].drainedHorizon = sites[si].horizon }

        // 5. Forget the pending state.
        for st32 in touched {
            let st = Int(st32)
            stations[st].touched = false
            stations[st].minute.slot = -1
            stations[st].hour.slot = -1
            stations[st].day.slot = -1
        }
        touched.removeAll(keepingCapacity: true)
        pending.removeAll(keepingCapacity: true)
        pendingIndex.removeAll(keepingCapacity: true)
        return CommitBatch(updates: updates, stations: snapshots, sites: counters, journalOffset: journalOffset)
    }

    /// Marks dirty every window of every tier of `st` overlapping time in a known state within
    /// `[h0, h1)` (contiguous known stretches are merged first).
    mutating func markKnownTime(station st: Int, site si: Int, from h0: Int64, to h1: Int64) {
        let entries = stations[st].timeline.entries
        // The last entry at or before h0 (or the first entry).
        var lo = 0
        var hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[mid].ts <= h0 { lo = mid + 1 } else { hi = mid }
        }
        var k = max(0, lo - 1)
        var runStart: Int64? = nil
        var runEnd: Int64 = 0
        while k < entries.count {
            let e = entries[k]
            if e.ts >= h1 { break }
            let until = k + 1 < entries.count ? entries[k + 1].ts : Int64.max
            let a = max(e.ts, h0)
            let b = min(until, h1)
            if b > a {
                if e.state.isKnown {
                    if let s = runStart, runEnd == a {
                        runStart = s
                    } else {
                        if let s = runStart { markWindows(station: st, site: si, s, runEnd) }
                        runStart = a
                    }
                    runEnd = b
                } else if let s = runStart {
                    markWindows(station: st, site: si, s, runEnd)
                    runStart = nil
                }
            }
            k += 1
        }
        if let s = runStart { markWindows(station: st, site: si, s, runEnd) }
    }

    /// Marks dirty every window of every tier of `st` overlapping `[from, to)`.
    mutating func markWindows(station st: Int, site si: Int, _ from: Int64, _ to: Int64) {
        guard to > from else { return }
        let cal = siteInfo[si].calendar
        for tier in WindowTier.allCases {
            var w = cal.window(containing: from, tier: tier)
            while true {
                _ = pendingSlot(station: st, tier: tier, bounds: w)
                if w.end >= to { break }
                w = cal.next(after: w, tier: tier)
            }
        }
        if !stations[st].touched {
            stations[st].touched = true
            touched.append(Int32(st))
        }
    }

    /// The persisted form of station `st`; the timeline only when asked for (it changed).
    func snapshot(_ st: Int, timeline withTimeline: Bool) -> StationSnapshot {
        StationSnapshot(station: stationInfo[st].key,
                        dedup: stations[st].dedup.serialized(),
                        timeline: withTimeline ? stations[st].timeline.serialized() : nil)
    }

    // MARK: - Restore

    /// Puts back what the store holds (daemon start-up, before replaying the journal), so the
    /// engine dedups and integrates exactly as the one that wrote it.
    ///
    /// Call it on a fresh engine. Sites' `drainedHorizon` becomes their stored horizon: state
    /// time up to it is in the store.
    ///
    /// - Returns: what no plant file names any more (ignored).
    /// - Throws: ``AggregatorError`` when a snapshot's bytes do not decode.
    @discardableResult
    public mutating func restore(stations snaps: [StationSnapshot], sites counters: [SiteCounters]) throws(AggregatorError) -> RestoreReport {
        var report = RestoreReport()
        let dec = JSONDecoder()
        for s in snaps {
            if restoreSparkplug(s) || restoreUMH(s) { continue }
            guard let st = stationByKey[s.station] else {
                report.ignoredStations.append(s.station)
                continue
            }
            do {
                if s.dedup.first == UInt8(ascii: "{") {
                    // Written as JSON by an older version.
                    stations[st].dedup = try dec.decode(StationDedup.self, from: Data(s.dedup))
                } else if let dedup = StationDedup(serialized: s.dedup) {
                    stations[st].dedup = dedup
                } else {
                    throw AggregatorError("stored dedup state of \(s.station) does not decode")
                }
                if let timeline = s.timeline {
                    if timeline.first == UInt8(ascii: "{") {
                        // Written as JSON by an older version.
                        stations[st].timeline = try dec.decode(StateTimeline.self, from: Data(timeline))
                    } else if let restored = StateTimeline(serialized: timeline) {
                        stations[st].timeline = restored
                    } else {
                        throw AggregatorError("stored state timeline of \(s.station) does not decode")
                    }
                    stations[st].timelineDirty = false
                }
            } catch {
                throw AggregatorError("stored state of \(s.station) does not decode: \(error)")
            }
        }
        for c in counters {
            guard let si = siteByID[c.site] else {
                report.ignoredSites.append(c.site)
                continue
            }
            sites[si].horizon = c.horizon
            sites[si].drainedHorizon = c.horizon
            sites[si].accepted = c.accepted
            sites[si].duplicates = c.duplicates
            sites[si].deadLetters = c.deadLetters
        }
        return report
    }
}
