import Foundation
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization
import TaktCore
import TaktStore

/// `taktd` on a PostgreSQL store shared with other daemons (contract section 11): it joins the
/// store's members, holds a balanced share of the plant's lines through fenced leases, and runs
/// the pipeline for exactly those lines — one *generation* (a ``Daemon`` and its services) per
/// set of leases.
///
/// Every round (a third of `lease_ttl`) it renews its membership and leases, rebalances (gives
/// up its surplus, or takes free or lapsed lines up to its quota), and raises its sites'
/// horizons to what the others committed. Any change of the held set stops the generation (a
/// graceful stop: its sessions are abandoned, what it aggregated is committed under the old
/// fence) and starts the next from the store. A lost lease — the renewal or a commit's fence
/// says so — ends the generation without acknowledging anything more; nothing it did not
/// commit was acknowledged, so the next holder receives it from the broker.
///
/// At a graceful shutdown it stops the generation, releases its leases and leaves, so the
/// others take the lines over at their next round rather than after a TTL.
public final class SharedLinesDaemon: Service, Sendable {
    let settings: DaemonSettings
    let logger: Logger
    let store: PostgresRollupStore
    let lock: DataDirectoryLock
    /// This process's lease owner: `{instance}-{random}`, so a restarted daemon never mistakes
    /// leases of its previous run for its own.
    public let owner: String
    let lines: [LineKey]
    /// `/metrics` of every generation: one registry for the process, so counters run on across
    /// generations and swift-metrics (Hummingbird's request metrics) has one backend.
    public let metricsRegistry = PrometheusCollectorRegistry()

    /// Makes ``metricsRegistry`` swift-metrics' backend (once per process).
    public func bootstrapMetrics() {
        Daemon.bootstrapMetrics(registry: metricsRegistry)
    }

    public static func open(settings: DaemonSettings, logger: Logger) async throws -> SharedLinesDaemon {
        guard case .postgres(let location) = settings.store else {
            throw DaemonConfigurationError("shared_lines: line leases need a PostgreSQL store")
        }
        let configuration = settings.configuration
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let lock = try DataDirectoryLock(directory: configuration.dataDirectory)
        let store = try await PostgresRollupStore(location: location, readOnly: false, logger: logger)
        let owner = "\(configuration.instance)-\(UUID().uuidString.prefix(8).lowercased())"
        return SharedLinesDaemon(settings: settings, logger: logger, store: store, lock: lock, owner: owner)
    }

    private init(settings: DaemonSettings, logger: Logger, store: PostgresRollupStore, lock: DataDirectoryLock, owner: String) {
        self.settings = settings
        var logger = logger
        logger[metadataKey: "owner"] = "\(owner)"
        self.logger = logger
        self.store = store
        self.lock = lock
        self.owner = owner
        self.lines = settings.allLines
    }

    /// The leases held, shared by the round loop and the renewer.
    final class Holdings: Sendable {
        struct State {
            /// Leases held (renewed by the renewer, changed by the round loop).
            var held: [LineLease] = []
            /// Leases the renewer found lost since the round loop last looked.
            var lost: [LineLease] = []
            /// When every lease held was last renewed.
            var renewedAt = ContinuousClock.now
        }
        let state = Mutex(State())
    }

    public func run() async throws {
        let ttlMs = settings.configuration.leaseTtlMs
        let ttl = Duration.milliseconds(ttlMs)
        let holdings = Holdings()
        var generation: Generation?
        logger.info("sharing \(lines.count) lines through leases (lease_ttl \(ttlMs) ms)")
        try await store.heartbeat(owner: owner, ttlMs: ttlMs)
        // Renewals never wait for the round loop, which may be stopping a generation (a final
        // commit) for a while.
        let renewer = Task { await self.renew(holdings, ttlMs: ttlMs) }
        defer { renewer.cancel() }
        while !Task.isShuttingDownGracefully {
            do {
                let (lost, held, renewedAt) = holdings.state.withLock { s in
                    defer { s.lost = [] }
                    return (s.lost, s.held, s.renewedAt)
                }
                if !lost.isEmpty {
                    logger.warning("leases lost (lapsed or taken over): \(lost.map(\.description).joined(separator: ", "))")
                    await generation?.stop(logger: logger)
                    generation = nil
                } else if !held.isEmpty && ContinuousClock.now - renewedAt >= ttl {
                    // Not renewed for a TTL (the store is away): another daemon may hold them.
                    logger.warning("leases not renewed within lease_ttl: giving every line up")
                    await generation?.stop(logger: logger)
                    generation = nil
                    holdings.state.withLock { $0.held = [] }
                }
                let members = try await store.liveMembers()
                let quota = LineBalance.quota(lines: lines.count, members: members, me: owner)
                let leaseRows = try await store.leases()
                let taken = Set(leaseRows.filter { $0.expiresInMs > 0 }.map(\.line))
                let current = holdings.state.withLock { $0.held }
                let plan = LineBalance.plan(held: current.map(\.line), free: lines.filter { !taken.contains($0) },
                                            quota: quota, me: owner)
                if !plan.release.isEmpty {
                    await generation?.stop(logger: logger)
                    generation = nil
                    let giving = current.filter { plan.release.contains($0.line) }
                    holdings.state.withLock { $0.held.removeAll { plan.release.contains($0.line) } }
                    try await store.release(owner: owner, leases: giving)
                    logger.info("released \(giving.map(\.description).joined(separator: ", ")) (quota \(quota) of \(lines.count) lines, \(members.count) daemons)")
                } else if !plan.take.isEmpty {
                    let granted = try await store.acquire(owner: owner, lines: plan.take, ttlMs: ttlMs)
                    if !granted.isEmpty {
                        logger.info("acquired \(granted.map(\.description).joined(separator: ", ")) (quota \(quota) of \(lines.count) lines, \(members.count) daemons)")
                        await generation?.stop(logger: logger)
                        generation = nil
                        holdings.state.withLock { s in
                            if s.held.isEmpty { s.renewedAt = .now }  // fresh leases: a full TTL from now
                            s.held = (s.held + granted).sorted { $0.line < $1.line }
                        }
                    }
                }
                if let generation { generation.daemon.intake.raiseHorizons(try await store.siteHorizons()) }
            } catch let error as StoreError {
                logger.error("lease round failed: \(error)")
            }
            let held = holdings.state.withLock { $0.lost.isEmpty ? $0.held : [] }
            if generation == nil && !held.isEmpty && !Task.isShuttingDownGracefully {
                do {
                    generation = try await Generation.start(
                        settings: settings, logger: logger, store: store, lock: lock,
                        fence: CommitFence(owner: owner, leases: held), stateHorizons: try await store.leases(),
                        registry: metricsRegistry)
                } catch let error as StoreError {
                    logger.error("cannot start the lines' pipeline (trying again next round): \(error)")
                }
            }
            // The next round, or earlier when the generation ends by itself or a lease is lost.
            let roundEnd = ContinuousClock.now + ttl / 3
            while ContinuousClock.now < roundEnd && !Task.isShuttingDownGracefully {
                if let g = generation, g.hasEnded {
                    generation = nil
                    if let error = await g.outcome(), !(error is LeaseLost) {
                        store.close()
                        throw error
                    }
                    break  // the next round sees what is left
                }
                if holdings.state.withLock({ !$0.lost.isEmpty }) { break }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        await generation?.stop(logger: logger)
        renewer.cancel()
        _ = await renewer.value
        let held = holdings.state.withLock { $0.held }
        do {
            try await store.release(owner: owner, leases: held)
            try await store.leave(owner: owner)
            if !held.isEmpty { logger.info("released \(held.count) lines and left") }
        } catch {
            logger.warning("could not release the leases at shutdown (they lapse after lease_ttl): \(error)")
        }
        store.close()
    }

    /// Every third of the TTL: the membership heartbeat and the renewal of every lease held.
    /// Leases the store no longer renews (lapsed, or taken over) move to `lost`.
    private func renew(_ holdings: Holdings, ttlMs: Int64) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(ttlMs / 3))
            guard !Task.isCancelled else { return }
            let asked = holdings.state.withLock { $0.held }
            do {
                try await store.heartbeat(owner: owner, ttlMs: ttlMs)
                let kept = Set(try await store.renew(owner: owner, leases: asked, ttlMs: ttlMs))
                holdings.state.withLock { s in
                    // Only what is still held: the round loop may have released some meanwhile.
                    let lost = s.held.filter { asked.contains($0) && !kept.contains($0) }
                    s.held.removeAll { lost.contains($0) }
                    s.lost += lost
                    if lost.isEmpty { s.renewedAt = .now }
                }
            } catch {
                logger.error("lease renewal failed: \(error)")
            }
        }
    }
}

/// One set of held lines at work: a ``Daemon`` restored for them and its services in a group
/// of their own.
final class Generation: Sendable {
    let daemon: Daemon
    private let group: ServiceGroup
    private let task: Task<(any Error)?, Never>
    private let ended: EndFlag

    /// Set once the group's run returned.
    final class EndFlag: Sendable {
        let value = Atomic<Bool>(false)
    }

    private init(daemon: Daemon, group: ServiceGroup, task: Task<(any Error)?, Never>, ended: EndFlag) {
        self.daemon = daemon
        self.group = group
        self.task = task
        self.ended = ended
    }

    static func start(settings: DaemonSettings, logger: Logger, store: any RollupStore, lock: DataDirectoryLock,
                      fence: CommitFence, stateHorizons: [LeaseRow],
                      registry: PrometheusCollectorRegistry) async throws -> Generation {
        let daemon = try await Daemon.openShared(settings: settings, logger: logger, store: store, lock: lock, fence: fence,
                                                 stateHorizons: stateHorizons, registry: registry)
        let group = ServiceGroup(configuration: .init(services: daemon.services(), gracefulShutdownSignals: [], logger: logger))
        let ended = EndFlag()
        let task = Task<(any Error)?, Never> {
            defer { ended.value.store(true, ordering: .sequentiallyConsistent) }
            do {
                try await group.run()
                return nil
            } catch {
                return error
            }
        }
        logger.info("running lines \(fence.leases.map(\.description).joined(separator: ", "))")
        return Generation(daemon: daemon, group: group, task: task, ended: ended)
    }

    var hasEnded: Bool { ended.value.load(ordering: .sequentiallyConsistent) }

    /// How the group ended (nil: cleanly). Waits for the end.
    func outcome() async -> (any Error)? {
        await task.value
    }

    /// Stops the services (sessions abandoned first, then the committer commits under the old
    /// fence — refused if the leases are gone, which is right) and waits for the end.
    func stop(logger: Logger) async {
        await group.triggerGracefulShutdown()
        if let error = await task.value, !(error is LeaseLost) {
            logger.error("the lines' pipeline ended with an error: \(error)")
        }
    }
}
