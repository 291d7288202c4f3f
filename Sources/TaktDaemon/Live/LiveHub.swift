import Foundation
import Synchronization
import TaktCore
import TaktStore

/// The live side of the daemon, fed by every commit (``CommitObserver``): the ring buffers
/// (``LiveWindows``), the Server-Sent Events of `/api/v1/live` (``LiveFeed``), what the alert
/// rules need (``LineWatch``) and the commit latency histogram. Nothing here reads the store
/// after start-up.
final class LiveHub: CommitObserver {
    let windows: LiveWindows
    let feed = LiveFeed()
    let watch: LineWatch
    let metrics: DaemonMetrics
    /// Journal offset of the last commit (for the journal lag).
    private let committedOffset: Mutex<Int64>

    init(windows: LiveWindows, metrics: DaemonMetrics, watch: LineWatch, committedOffset: Int64) {
        self.windows = windows
        self.metrics = metrics
        self.watch = watch
        self.committedOffset = Mutex(committedOffset)
    }

    /// Which rows the committer must read back from each commit for the rings.
    var returning: CommittedRows { windows.allStations ? .all : .outputStations }

    var lastCommittedOffset: Int64 { committedOffset.withLock { $0 } }

    func committed(_ commit: CommittedBatch) {
        committedOffset.withLock { $0 = commit.journalOffset }
        windows.apply(commit.stationRows)
        let lineRows = commit.rows
        watch.note(commit.batch, lineRows: lineRows, at: .now)
        metrics.recordCommit(commit.delay)
        for site in feed.sites {
            let siteRows = lineRows.filter { $0.site == site }
            guard !siteRows.isEmpty else { continue }
            var windowsOfSite: [(tier: WindowTier, start: Int64)] = []
            for row in siteRows {
                feed.send(site: site, key: "w/\(row.line)/\(row.window.rawValue)/\(row.start)", LiveFeed.event("window", json: row.jsonBytes))
                if !windowsOfSite.contains(where: { $0.tier == row.window && $0.start == row.start }) {
                    windowsOfSite.append((row.window, row.start))
                }
            }
            for w in windowsOfSite {
                if let total = windows.siteRow(site: site, tier: w.tier, start: w.start) {
                    feed.send(site: site, key: "w/\(total.line)/\(w.tier.rawValue)/\(w.start)", LiveFeed.event("window", json: total.jsonBytes))
                }
            }
        }
    }
}

/// What the alert rules know of each line (``LineObservation``), and each site's clock, updated
/// by every commit; ``observations(at:)`` hands them to the rules with the site time.
final class LineWatch: Sendable {
    struct Line: Sendable {
        var site: String
        var line: String
        var observation: LineObservation
    }
    private struct SiteClock {
        /// The site's newest event time (epoch ms) and when (wall, continuous clock) it last moved.
        var horizon: Int64
        var movedAt: ContinuousClock.Instant
        /// False while the wall clock stands in for a site that has no event yet: its first
        /// event time replaces it (also as the lines' `watchedSince`), earlier or not.
        var known: Bool
    }
    private struct State {
        var clocks: [String: SiteClock]
        var lines: [Line]
        var index: [StationKey: Int]
    }
    private let state: Mutex<State>

    /// - Parameter horizons: the sites' newest event times from the store (none or 0: the wall
    ///   clock stands in until the first event).
    init(plants: [Plant], horizons: [String: Int64], now: ContinuousClock.Instant = .now,
         wallMs: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) {
        var clocks: [String: SiteClock] = [:]
        var lines: [Line] = []
        var index: [StationKey: Int] = [:]
        for plant in plants {
            let stored = horizons[plant.site].flatMap { $0 > 0 ? $0 : nil }
            let horizon = stored ?? wallMs
            clocks[plant.site] = SiteClock(horizon: horizon, movedAt: now, known: stored != nil)
            for line in plant.lines {
                for station in line.stations {
                    index[StationKey(site: plant.site, line: line.id, station: station.id)] = lines.count
                }
                lines.append(Line(site: plant.site, line: line.id,
                                  observation: LineObservation(watchedSince: horizon, oeeBelow: line.alertOEEBelow)))
            }
        }
        state = Mutex(State(clocks: clocks, lines: lines, index: index))
    }

    /// Notes one commit: the sites' horizons, the lines that sent messages (their stations'
    /// snapshots are in the batch), their output stations' `1m` and `1h` rows.
    func note(_ batch: CommitBatch, lineRows: [WindowRow], at now: ContinuousClock.Instant) {
        state.withLock { s in
            for site in batch.sites {
                guard var clock = s.clocks[site.site], site.horizon > 0, site.horizon > clock.horizon || !clock.known else { continue }
                if !clock.known {
                    for i in s.lines.indices where s.lines[i].site == site.site { s.lines[i].observation.watchedSince = site.horizon }
                }
                clock.horizon = site.horizon
                clock.movedAt = now
                clock.known = true
                s.clocks[site.site] = clock
            }
            for snapshot in batch.stations {
                guard let i = s.index[snapshot.station], let clock = s.clocks[snapshot.station.site] else { continue }
                s.lines[i].observation.lastMessage = max(s.lines[i].observation.lastMessage ?? Int64.min, clock.horizon)
            }
            for row in lineRows {
                guard let station = row.station, let i = s.index[StationKey(site: row.site, line: row.line, station: station)],
                      let clock = s.clocks[row.site] else { continue }
                switch row.window {
                case .minute:
                    s.lines[i].observation.noteMinute(start: row.start, end: row.end, good: row.good, plannedS: row.plannedS,
                                                      horizon: clock.horizon)
                case .hour:
                    s.lines[i].observation.noteHour(start: row.start, end: row.end, oee: row.oee)
                case .day:
                    break
                }
            }
        }
    }

    /// Every line with its observation, the site time now and the site horizon (epoch ms).
    func observations(at now: ContinuousClock.Instant) -> [(line: Line, siteNow: Int64, horizon: Int64)] {
        state.withLock { s in
            s.lines.map { line in
                let clock = s.clocks[line.site]!
                let elapsed = (now - clock.movedAt).components
                let ms = max(0, elapsed.seconds) * 1000 + elapsed.attoseconds / 1_000_000_000_000_000
                let (siteNow, overflow) = clock.horizon.addingReportingOverflow(ms)
                return (line, overflow ? Int64.max : siteNow, clock.horizon)
            }
        }
    }
}
