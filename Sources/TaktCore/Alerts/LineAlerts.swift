/// The alerts of contract section 12 on `takt/v1/alerts/{site}/{line}`: pure rules over what
/// the daemon observed of a line, with the time passed in (no clock here).
///
/// Times are **site time**, epoch ms: the site's newest event time, advanced by the wall time
/// since it last moved (the daemon computes it). Live, that is the clock; replaying or
/// simulating faster than real time, it is the plant's own time; a whole site gone quiet still
/// sees time pass, so its lines go `silent`.
public enum AlertKind: String, CaseIterable, Sendable, Codable {
    /// No good unit for `alert_stopped_after` while the line's output station is in a planned
    /// state (any known state but 160000–179999: no shift, no order).
    case stopped
    /// The line's last full hour had an OEE below its `alert_oee_below` (plant file).
    case oeeLow = "oee_low"
    /// No message from any station of the line for `alert_silent_after`.
    case silent
}

/// `taktd.yaml`'s alert settings, ms.
public struct AlertSettings: Sendable, Equatable {
    public var stoppedAfterMs: Int64
    public var silentAfterMs: Int64
    public init(stoppedAfterMs: Int64 = 600_000, silentAfterMs: Int64 = 300_000) {
        self.stoppedAfterMs = stoppedAfterMs
        self.silentAfterMs = silentAfterMs
    }
}

/// What the daemon knows of one line, in site time (epoch ms).
public struct LineObservation: Sendable, Equatable {
    /// When the daemon started watching the line (the reference while nothing was seen yet).
    public var watchedSince: Int64
    /// Site time of the last commit that held a message from one of its stations.
    public var lastMessage: Int64?
    /// The latest time a good unit may have been made: the end of the newest output-station
    /// `1m` window with `good > 0` (at most the site horizon then).
    public var lastGood: Int64?
    /// The output station's newest `1m` window: its start, and whether it holds planned time.
    public var newestMinute: (start: Int64, planned: Bool)?
    /// The output station's newest `1h` rows seen (at most two: the open hour and the one
    /// before), as `(start, end, oee)`.
    public var hours: [(start: Int64, end: Int64, oee: Double?)] = []
    /// The line's `alert_oee_below` (plant file), if any.
    public var oeeBelow: Double?

    public init(watchedSince: Int64, oeeBelow: Double? = nil) {
        self.watchedSince = watchedSince
        self.oeeBelow = oeeBelow
    }

    public static func == (a: LineObservation, b: LineObservation) -> Bool {
        a.watchedSince == b.watchedSince && a.lastMessage == b.lastMessage && a.lastGood == b.lastGood
            && a.newestMinute?.start == b.newestMinute?.start && a.newestMinute?.planned == b.newestMinute?.planned
            && a.hours.map(\.start) == b.hours.map(\.start) && a.hours.map(\.oee) == b.hours.map(\.oee) && a.oeeBelow == b.oeeBelow
    }

    /// Notes an output-station `1m` row (`horizon`: the site's newest event time).
    public mutating func noteMinute(start: Int64, end: Int64, good: Int64, plannedS: Double, horizon: Int64) {
        if good > 0 { lastGood = max(lastGood ?? Int64.min, min(end, max(start, horizon))) }
        if newestMinute == nil || start >= newestMinute!.start { newestMinute = (start, plannedS > 0) }
    }

    /// Notes an output-station `1h` row.
    public mutating func noteHour(start: Int64, end: Int64, oee: Double?) {
        if let i = hours.firstIndex(where: { $0.start == start }) {
            hours[i] = (start, end, oee)
        } else {
            hours.append((start, end, oee))
            hours.sort { $0.start < $1.start }
            if hours.count > 2 { hours.removeFirst(hours.count - 2) }
        }
    }
}

/// One alert's state: what the topic carries (`since`: site time, epoch ms).
public struct AlertStatus: Sendable, Equatable {
    public var kind: AlertKind
    public var active: Bool
    public var since: Int64
    public var detail: String

    public init(kind: AlertKind, active: Bool, since: Int64, detail: String) {
        self.kind = kind
        self.active = active
        self.since = since
        self.detail = detail
    }
}

public enum AlertRules {
    /// Whether each kind holds for the line at site time `now`, with when its condition began
    /// and a one-line detail.
    public static func evaluate(_ o: LineObservation, now: Int64, horizon: Int64, settings: AlertSettings) -> [AlertStatus] {
        var out: [AlertStatus] = []
        // silent: nothing from the line for silent_after.
        let heard = o.lastMessage ?? o.watchedSince
        let quiet = now.subtractingReportingOverflow(heard)
        let silent = !quiet.overflow && quiet.partialValue >= settings.silentAfterMs
        out.append(AlertStatus(kind: .silent, active: silent, since: heard,
                               detail: silent ? "no message from the line for \(quiet.partialValue / 1000) s" : ""))
        // stopped: in a planned state, no good unit for stopped_after.
        let good = o.lastGood ?? o.watchedSince
        let idle = now.subtractingReportingOverflow(good)
        let planned = o.newestMinute?.planned ?? false
        let stopped = planned && !idle.overflow && idle.partialValue >= settings.stoppedAfterMs
        out.append(AlertStatus(kind: .stopped, active: stopped, since: good,
                               detail: stopped ? "no good unit for \(idle.partialValue / 1000) s in a planned state" : ""))
        // oee_low: the newest full hour (ended by the site horizon) below the line's threshold.
        var low = false, since = now, detail = ""
        if let threshold = o.oeeBelow, let hour = o.hours.last(where: { $0.end <= horizon }), let oee = hour.oee, oee < threshold {
            low = true
            since = hour.end
            detail = "OEE \(rounded(oee)) in the hour from \(ContractTime.iso(hour.start)), below \(rounded(threshold))"
        }
        out.append(AlertStatus(kind: .oeeLow, active: low, since: since, detail: detail))
        return out
    }

    private static func rounded(_ v: Double) -> String {
        let r = (v * 1000).rounded() / 1000
        return String(r)
    }
}

/// The alerts of the lines as last published, and the transitions a new evaluation makes.
///
/// A raised alert keeps its first `since` while it stays active; a cleared one carries the site
/// time it cleared at. The first evaluation of a line reports every kind (the topic is
/// retained: what a previous run left there is overwritten).
public struct AlertBook: Sendable {
    private var current: [String: [AlertKind: AlertStatus]] = [:]

    public init() {}

    /// The statuses to publish for `line` (key: any unique line id) after evaluating it at `now`.
    public mutating func update(line: String, _ evaluated: [AlertStatus], now: Int64) -> [AlertStatus] {
        var changed: [AlertStatus] = []
        var known = current[line]
        let first = known == nil
        if known == nil { known = [:] }
        for status in evaluated {
            let previous = known![status.kind]
            var next = status
            switch (previous?.active, status.active) {
            case (true?, true):
                next.since = previous!.since
                if !first { known![status.kind] = next; continue }
            case (true?, false):
                next.since = now
                next.detail = "cleared"
            case (false?, false):
                continue
            default:
                if !status.active { next.since = now }
            }
            known![status.kind] = next
            changed.append(next)
        }
        current[line] = known
        return changed
    }

    /// Forgets `line`: its next update reports every kind again (a publish of it failed).
    public mutating func forget(line: String) {
        current[line] = nil
    }

    /// Every active alert: (line key, status).
    public var active: [(line: String, status: AlertStatus)] {
        current.flatMap { line, kinds in kinds.values.filter(\.active).map { (line, $0) } }
            .sorted { ($0.line, $0.status.kind.rawValue) < ($1.line, $1.status.kind.rawValue) }
    }
}
