import Dispatch
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle
import TaktCore
import TaktStore

/// The daemon's HTTP API (`--http ADDR`, contract section 12), on Hummingbird:
///
/// - `GET /healthz` — `{"online": true, "instance", "version", "started"}` (200).
/// - `GET /readyz` — 200 `{"ready": true, "store": true, "broker": true}` when the store answers
///   and both broker connections are up; 503 with the same object otherwise.
/// - `GET /metrics` — Prometheus text (``DaemonMetrics``; swift-prometheus, with Hummingbird's
///   request metrics).
/// - `GET /api/v1/windows?site=S[&line=L[&station=ST]]&window=1m|1h|1d&from=T&to=T` — the rows
///   of `takt query --format json`, byte for byte: from the ring buffers when they hold the
///   whole range (header `X-Takt-Source: live`), else from the store (`store`).
/// - `GET /api/v1/plan?site=S&target_gwh=X[&year=YYYY][&lookback=D]` — the JSON of `takt plan
///   --format json` (contract section 6), from the store.
/// - `GET /api/v1/live?site=S` — Server-Sent Events: `window` events (a window object each time
///   a line's or the site's row is written) and `alert` events (an alert's state changed).
/// - `GET /api/v1/alerts?site=S` — the active alerts, an array of alert objects.
/// - `GET /openapi.json` — OpenAPI 3.1 of all of this.
/// - `GET /?site=S` — the live page of a site (``LivePage``).
///
/// A bad or missing parameter is 400 `{"error": "…"}` naming it; a range of more than
/// `max_rows` rows is 400 too.
enum DaemonHTTP {
    /// What the handlers read; none of it waits for the committer.
    struct Sources: Sendable {
        var intake: Intake
        var committer: CommitterStatistics
        var store: any RollupStore
        var live: LiveHub
        var alerts: LiveAlerts
        var metrics: DaemonMetrics
        /// Lines per site (bounds a query's rows).
        var linesPerSite: [String: Int]
        /// The plant of each site (`/api/v1/plan`).
        var plants: [String: Plant]
        var maxRows: Int
        var status: @Sendable () -> [UInt8]
        /// Whether both broker connections are up.
        var brokerConnected: @Sendable () -> Bool
    }

    /// The application (a `Service`).
    static func application(address: BindAddress, sources: Sources, logger: Logger) -> some ApplicationProtocol & Service {
        let router = Router()
        router.addMiddleware {
            MetricsMiddleware()
            GetOnly(paths: ["/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/api/v1/windows", "/api/v1/plan", "/api/v1/live", "/api/v1/alerts"])
        }
        let sites = sources.linesPerSite.keys.sorted()
        let windowsCache = WindowsResponseCache()
        router.get("/") { request, _ -> Response in
            let site = request.uri.queryParameters["site"].map(String.init) ?? sites.first ?? ""
            guard let plant = sources.plants[site] else {
                return errorResponse(.badRequest, "site: '\(site)' is not a site of the plant files")
            }
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"],
                            body: .init(byteBuffer: ByteBuffer(string: LivePage.html(plant: plant, sites: sites))))
        }
        router.get("healthz") { _, _ -> Response in
            json(sources.status())
        }
        router.get("readyz") { _, _ -> Response in
            let broker = sources.brokerConnected()
            let store = await storeAnswers(sources.store, site: sources.linesPerSite.keys.sorted().first)
            let ready = broker && store
            let body = #"{"ready":\#(ready),"store":\#(store),"broker":\#(broker)}"# + "\n"
            return Response(status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        router.get("metrics") { _, _ -> Response in
            let alerts = sources.alerts.active()
            var byKind: [AlertKind: Int] = [:]
            for a in alerts { byKind[a.status.kind, default: 0] += 1 }
            let text = sources.metrics.exposition(.init(
                intake: sources.intake.statistics(), committer: sources.committer.snapshot,
                committedOffset: sources.live.lastCommittedOffset, live: sources.live.windows.sizes(),
                subscribers: sources.live.feed.count, activeAlerts: byKind))
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: text)))
        }
        router.get("api/v1/windows") { request, _ -> Response in
            do {
                let q = try WindowsQuery(request.uri.queryParameters, linesPerSite: sources.linesPerSite, maxRows: sources.maxRows)
                let key = WindowsResponseCache.Key(site: q.site, line: q.line, station: q.station, tier: q.tier, from: q.from, to: q.to)
                // The version before the rings are read (see WindowsResponseCache).
                let version = sources.live.windows.version
                if let cached = windowsCache.bytes(for: key, version: version) {
                    var response = json(cached)
                    response.headers[sourceHeader] = "live"
                    return response
                }
                if let rows = sources.live.windows.rows(site: q.site, line: q.line, station: q.station, tier: q.tier, from: q.from, to: q.to) {
                    let bytes = await encodedOffPool(rows)
                    windowsCache.store(bytes, for: key, version: version)
                    var response = json(bytes)
                    response.headers[sourceHeader] = "live"
                    return response
                }
                let rows = try await sources.store.rows(site: q.site, line: q.line, station: q.station, tier: q.tier, from: q.from, to: q.to)
                var response = json(await encodedOffPool(rows))
                response.headers[sourceHeader] = "store"
                return response
            } catch let error as DaemonConfigurationError {
                return errorResponse(.badRequest, error.description)
            } catch let error as StoreError {
                if case .invalidQuery = error { return errorResponse(.badRequest, error.description) }
                logger.error("/api/v1/windows: \(error)")
                return errorResponse(.serviceUnavailable, error.description)
            }
        }
        router.get("api/v1/live") { request, _ -> Response in
            let (site, rejection) = requireSite(request, sources.linesPerSite)
            guard let site else { return rejection! }
            let (mailbox, cancel) = sources.live.feed.subscribe(site: site)
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                body: ResponseBody { writer in
                    defer { cancel() }
                    // The stream's first bytes go out at once (the client sees the headers).
                    try await writer.write(ByteBuffer(string: ": takt live \(site)\n\n"))
                    while let events = await mailbox.next() {
                        try await writer.write(ByteBuffer(bytes: events))
                    }
                    try await writer.finish(nil)
                })
        }
        router.get("api/v1/plan") { request, _ -> Response in
            let query = request.uri.queryParameters
            do {
                let site = try siteParameter(query, sources.linesPerSite)
                guard let text = query["target_gwh"].map(String.init) else { throw DaemonConfigurationError("target_gwh: missing (GWh a year, above 0)") }
                guard let target = Double(text), target.isFinite, target > 0, target <= 1e9 else {
                    throw DaemonConfigurationError("target_gwh: '\(text)' must be a number of GWh above 0 (at most 1e9)")
                }
                var year: Int?
                if let text = query["year"].map(String.init) {
                    guard let y = Int(text), (1970...9999).contains(y) else { throw DaemonConfigurationError("year: '\(text)' is not a year between 1970 and 9999") }
                    year = y
                }
                let lookback = query["lookback"].map(String.init) ?? "7d"
                let lookbackMs: Int64
                do {
                    lookbackMs = try ContractTime.durationMs(lookback)
                } catch {
                    throw DaemonConfigurationError("lookback: \(error)")
                }
                guard lookbackMs <= 366 * 86_400_000 else { throw DaemonConfigurationError("lookback: '\(lookback)' is longer than 366d") }
                let store = sources.store, plant = sources.plants[site]!
                let asOf = try await StoreReads.newestDataEnd(store, site: site)
                let plan = CapacityPlanner.plan(try await CapacityPlanInput.load(
                    store: store, plant: plant, targetGWh: target, asOfMs: asOf, year: year,
                    lookback: lookback, lookbackMs: lookbackMs, ytdEnd: .wholeYear))
                return json(Array((plan.json + "\n").utf8))
            } catch let error as DaemonConfigurationError {
                return errorResponse(.badRequest, error.description)
            } catch {
                logger.error("/api/v1/plan: \(error)")
                return errorResponse(.serviceUnavailable, "\(error)")
            }
        }
        router.get("api/v1/alerts") { request, _ -> Response in
            let (site, rejection) = requireSite(request, sources.linesPerSite)
            guard let site else { return rejection! }
            var bytes: [UInt8] = [UInt8(ascii: "[")]
            for (i, alert) in sources.alerts.active(site: site).enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                bytes.append(contentsOf: LiveAlerts.json(alert))
            }
            bytes.append(contentsOf: Array("]\n".utf8))
            return json(bytes)
        }
        let openAPI = Array(OpenAPIDocument.json(sites: sources.linesPerSite.keys.sorted()).utf8)
        router.get("openapi.json") { _, _ -> Response in
            json(openAPI)
        }
        return Application(router: router, configuration: .init(address: address, serverName: "taktd"), logger: logger)
    }

    static let sourceHeader = HTTPField.Name("X-Takt-Source")!

    /// Any method but GET (and HEAD) on the API's paths: 405 with `Allow: GET`, not 404 (the
    /// document declares GET only).
    struct GetOnly<Context: RequestContext>: RouterMiddleware {
        let paths: Set<String>
        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            guard request.method != .get, request.method != .head, paths.contains(request.uri.path) else {
                return try await next(request, context)
            }
            var response = DaemonHTTP.errorResponse(.methodNotAllowed, "method: \(request.method.rawValue) is not served here; use GET")
            response.headers[.allow] = "GET"
            return response
        }
    }

    /// Whether the store answers a cheap read within 2 s.
    static func storeAnswers(_ store: any RollupStore, site: String?) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    _ = try await store.newestWindowStart(site: site ?? "", tier: .day)
                    return true
                } catch {
                    return false
                }
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(2))
                return false
            }
            let answer = await group.next() ?? false
            group.cancelAll()
            return answer
        }
    }

    /// The request's `site`, or the 400 answer that names the parameter.
    static func requireSite(_ request: Request, _ linesPerSite: [String: Int]) -> (site: String?, rejection: Response?) {
        do {
            return (try siteParameter(request.uri.queryParameters, linesPerSite), nil)
        } catch {
            return (nil, errorResponse(.badRequest, error.description))
        }
    }

    /// `site`: present and a site of the plant files.
    static func siteParameter(_ query: Parameters, _ linesPerSite: [String: Int]) throws(DaemonConfigurationError) -> String {
        guard let site = query["site"].map(String.init) else { throw DaemonConfigurationError("site: missing") }
        guard linesPerSite[site] != nil else { throw DaemonConfigurationError("site: '\(site)' is not a site of the plant files") }
        return site
    }

    /// The checked parameters of `/api/v1/windows`.
    struct WindowsQuery {
        var site: String
        var line: String?
        var station: String?
        var tier: WindowTier
        var from: Int64
        var to: Int64

        init(_ query: Parameters, linesPerSite: [String: Int], maxRows: Int) throws(DaemonConfigurationError) {
            func parameter(_ name: Substring) -> String? { query[name].map(String.init) }
            site = try siteParameter(query, linesPerSite)
            let lines = linesPerSite[site]!
            guard let windowText = parameter("window"), let tier = WindowTier(rawValue: windowText) else {
                throw DaemonConfigurationError("window: must be 1m, 1h or 1d")
            }
            self.tier = tier
            line = parameter("line")
            station = parameter("station")
            if station != nil && line == nil { throw DaemonConfigurationError("station: needs line (station ids are per line)") }
            from = try DaemonHTTP.time(parameter("from"), "from")
            to = try DaemonHTTP.time(parameter("to"), "to")
            guard to > from else { throw DaemonConfigurationError("to: must be after from") }
            // Bounded before anything is read: windows that start in the range (days of 23
            // hours at the shortest) × rows per window (each line's output row and _site, or one).
            let windows = DaemonHTTP.windowStarts(from: from, to: to, tier: tier)
            let perWindow = Int64(line == nil ? lines + 1 : 1)
            let (estimate, overflow) = windows.multipliedReportingOverflow(by: perWindow)
            if overflow || estimate > Int64(maxRows) {
                throw DaemonConfigurationError(
                    "from, to: the range holds up to \(overflow ? "too many" : String(estimate)) rows; max_rows is \(maxRows): narrow the range or use a longer window")
            }
        }
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
    static func errorResponse(_ status: HTTPResponse.Status, _ message: String) -> Response {
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
