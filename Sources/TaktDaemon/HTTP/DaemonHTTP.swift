import Dispatch
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import TaktCore
import TaktStore

/// The daemon's HTTP API (`--http ADDR`), on Hummingbird:
///
/// - `GET /healthz` — `{"online": true, "instance", "version", "started"}` (200).
/// - `GET /metrics` — Prometheus text exposition of the pipeline's counters (see
///   `PipelineStatistics.prometheusText`).
/// - `GET /api/v1/windows?site=S[&line=L[&station=ST]]&window=1m|1h|1d&from=T&to=T` — the rows
///   of `takt query --format json`, byte for byte (contract section 5 semantics); a bad or
///   missing parameter is 400 with one line naming it.
enum DaemonHTTP {
    /// The application (a `Service`). Handlers read the store on its reader threads and the
    /// counters under their locks; none waits for the committer.
    ///
    /// - Parameters:
    ///   - linesPerSite: how many lines each site of the plant files has (bounds a query's rows).
    ///   - maxRows: the most rows one query may answer (`max_rows`); beyond it, 400.
    static func application(address: BindAddress, intake: Intake, committer: CommitterStatistics, store: any RollupStore,
                            linesPerSite: [String: Int], maxRows: Int,
                            status: @escaping @Sendable () -> [UInt8], logger: Logger) -> some ApplicationProtocol & Service {
        let router = Router()
        router.get("healthz") { _, _ -> Response in
            json(status())
        }
        router.get("metrics") { _, _ -> Response in
            let text = PipelineStatistics(intake: intake.statistics(), committer: committer.snapshot).prometheusText
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("api/v1/windows") { request, _ -> Response in
            let query = request.uri.queryParameters
            func parameter(_ name: Substring) -> String? { query[name].map(String.init) }
            do {
                guard let site = parameter("site") else { throw DaemonConfigurationError("site: missing") }
                guard let lines = linesPerSite[site] else { throw DaemonConfigurationError("site: '\(site)' is not a site of the plant files") }
                guard let windowText = parameter("window"), let tier = WindowTier(rawValue: windowText) else {
                    throw DaemonConfigurationError("window: must be 1m, 1h or 1d")
                }
                let line = parameter("line"), station = parameter("station")
                if station != nil && line == nil { throw DaemonConfigurationError("station: needs line (station ids are per line)") }
                let from = try time(parameter("from"), "from")
                let to = try time(parameter("to"), "to")
                guard to > from else { throw DaemonConfigurationError("to: must be after from") }
                // Bounded before the store is asked: windows that start in the range (days of 23
                // hours at the shortest) × rows per window (each line's output row and _site, or one).
                let windows = Self.windowStarts(from: from, to: to, tier: tier)
                let perWindow = Int64(line == nil ? lines + 1 : 1)
                let (estimate, overflow) = windows.multipliedReportingOverflow(by: perWindow)
                if overflow || estimate > Int64(maxRows) {
                    throw DaemonConfigurationError(
                        "from, to: the range holds up to \(overflow ? "too many" : String(estimate)) rows; max_rows is \(maxRows): narrow the range or use a longer window")
                }
                let rows = try await store.rows(site: site, line: line, station: station, tier: tier, from: from, to: to)
                return json(await encodedOffPool(rows))
            } catch let error as DaemonConfigurationError {
                return errorResponse(.badRequest, error.description)
            } catch let error as StoreError {
                if case .invalidQuery = error { return errorResponse(.badRequest, error.description) }
                logger.error("/api/v1/windows: \(error)")
                return errorResponse(.internalServerError, error.description)
            }
        }
        return Application(router: router, configuration: .init(address: address, serverName: "taktd"), logger: logger)
    }

    /// Where large answers are encoded: one serial queue (a thread of its own), so that a
    /// 100,000-row answer neither occupies Swift's cooperative pool nor Dispatch's global
    /// queues (each as wide as the machine has cores: 2 here), where the committer and the
    /// store run; concurrent requests encode one after the other.
    private static let encoder = DispatchQueue(label: "takt-http-encode")

    /// The rows' JSON array, encoded on ``encoder``.
    private static func encodedOffPool(_ rows: [WindowRow]) async -> [UInt8] {
        await withCheckedContinuation { continuation in
            encoder.async {
                var bytes: [UInt8] = []
                bytes.reserveCapacity(rows.count * 420 + 2)
                WindowRow.writeJSONArray(rows, into: &bytes)
                continuation.resume(returning: bytes)
            }
        }
    }

    private static func time(_ text: String?, _ name: String) throws(DaemonConfigurationError) -> Int64 {
        guard let text else { throw DaemonConfigurationError("\(name): missing (ISO 8601 or epoch ms)") }
        do { return try ContractTime.epochMs(text) } catch { throw DaemonConfigurationError("\(name): \(error)") }
    }

    /// How many windows of `tier` can start in `[from, to)` (`from < to`): exact for `1m` and
    /// `1h` (aligned to the epoch), an upper bound for `1d` (a day lasts 23 hours at least).
    static func windowStarts(from: Int64, to: Int64, tier: WindowTier) -> Int64 {
        guard let length = tier.fixedLengthMs else { return (to - from) / (23 * 3_600_000) + 1 }
        // The first start at or after `from` (floor division, so negative times work too).
        let first = (from.isMultiple(of: length) ? from : from - (from % length + length) % length + length)
        return first < to ? (to - 1 - first) / length + 1 : 0
    }

    /// `{"error": "…"}` with `status`: the message names the bad parameter.
    private static func errorResponse(_ status: HTTPResponse.Status, _ message: String) -> Response {
        var bytes: [UInt8] = []
        JSONOut.raw(#"{"error":"#, &bytes)
        JSONOut.string(message, &bytes)
        JSONOut.raw("}\n", &bytes)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    private static func json(_ bytes: [UInt8]) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// A snapshot of the pipeline's counters for `/metrics`.
struct PipelineStatistics: Sendable {
    var intake: IntakeStatistics
    var committer: CommitterStatistics.Snapshot

    /// Prometheus text format 0.0.4: counters per site, commits, journal offset.
    var prometheusText: String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(String, String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples { out += "\(name)\(labels) \(value)\n" }
        }
        func perSite(_ value: (SiteCounters) -> Int64) -> [(String, String)] {
            intake.sites.map { ("{site=\"\($0.site)\"}", String(value($0))) }
        }
        family("takt_messages_accepted_total", "counter", "Distinct messages counted into windows.", perSite(\.accepted))
        family("takt_messages_duplicate_total", "counter", "Messages whose (source, seq) was already counted.", perSite(\.duplicates))
        family("takt_dead_letters_total", "counter", "Messages rejected as dead letters (of a known site).", perSite(\.deadLetters))
        family("takt_seq_missing", "gauge", "Gaps in the sources' seq (messages never received).", perSite(\.missing))
        family("takt_site_horizon_ms", "gauge", "The site's newest event time, epoch ms.", perSite(\.horizon))
        family("takt_commits_total", "counter", "Store transactions committed since start.", [("", String(committer.commits))])
        family("takt_commit_delay_seconds_max", "gauge",
               "Longest time from a batch becoming due (full, or drained to be committed) to the end of its transaction.",
               [("", String(committer.maxCommitDelaySeconds))])
        family("takt_commit_delay_seconds_sum", "counter", "Sum of those times (divide by takt_commits_total for the mean).",
               [("", String(committer.commitDelaySumSeconds))])
        family("takt_publishes_skipped_total", "counter", "Metrics and dead-letter publishes skipped: the publisher closed at shutdown, or a _site row could not be read.",
               [("", String(committer.unpublished))])
        family("takt_journal_offset_bytes", "gauge", "Journal offset of the last message given to the pipeline.",
               [("", String(intake.journalOffset))])
        family("takt_pending_events", "gauge", "Messages processed but not yet committed.", [("", String(intake.pendingEvents))])
        family("takt_dead_letters_by_reason_total", "counter",
               "Dead letters since start by site and reason (site=\"\": no known site).",
               intake.deadLettersByReason.map { ("{site=\"\($0.site ?? "")\",reason=\"\($0.reason.rawValue)\"}", String($0.count)) })
        family("takt_dead_letters_unpublished_total", "counter",
               "Dead letters counted but not published on takt/v1/deadletter (its rate limit).",
               [("", String(committer.deadLettersNotPublished))])
        family("takt_broker_dropped_messages", "gauge",
               "The broker's $SYS/broker/publish/messages/dropped (its queues overflowed: raise its limits).",
               intake.brokerDropped.map { [("", String($0))] } ?? [])
        family("takt_commit_failures_total", "counter", "Commits the store refused (full, read-only, locked), each retried.",
               [("", String(committer.failedCommits))])
        family("takt_journal_damaged_total", "counter", "Damaged journal stretches skipped at replay (logged).",
               [("", String(committer.journalDamages))])
        family("takt_journal_damaged_bytes_total", "counter", "Bytes of those stretches.",
               [("", String(committer.journalDamagedBytes))])
        return out
    }
}
