import ServiceLifecycle

/// `journal_fsync: interval`: fsyncs the journal every `interval` (what was written since the
/// last one survives a power loss from then on). The committer fsyncs once more at shutdown.
struct JournalSyncService: Service {
    let journal: Journal
    let interval: Duration

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return  // shut down (or cancelled) while sleeping
            }
            journal.flush()
        }
    }
}
