/// Settings of an ``Aggregator`` (daemon configuration; every one has the contract's default).
public struct AggregatorSettings: Sendable, Equatable {
    /// `max_age`: an event more than this many ms behind its site's newest event is `too_old`.
    /// Default 35 days.
    public var maxAgeMs: Int64
    /// Payload limits: `max_payload_bytes` (default 16384), `max_future_s` (default 300,
    /// 0 = no check).
    public var payload: PayloadLimits
    /// Dedup bitmap size per source (boot), in seqs; see ``SeqWindow/init(capacity:)``.
    /// Default 4096.
    public var dedupCapacity: Int
    /// Boots held per station for dedup; see ``StationDedup``. Default 2.
    public var keepBoots: Int
    /// `max_past`: an event more than this many ms behind the daemon's clock is `too_old`, even
    /// for a site's first message; 0 switches the check off (backfilling old captures).
    /// Default: `maxAgeMs`.
    public var maxPastMs: Int64
    /// `max_seq_gap` and `max_boot_gap`.
    public var dedupLimits: DedupLimits
    /// `max_state_changes`: the most state changes a station's timeline holds (those within
    /// `max_age`); a change beyond it is a dead letter `state_flood`. 28 bytes an entry; the
    /// default 20,000 is one change every 2.5 minutes for 35 days (560 KB a station).
    public var maxStateChanges: Int
    /// `sparkplug:` (contract section 9).
    public var sparkplug = SparkplugSettings()

    public static let defaultMaxAgeMs: Int64 = 35 * 86_400_000

    /// - Parameter maxPastMs: nil = `maxAgeMs`.
    public init(maxAgeMs: Int64 = AggregatorSettings.defaultMaxAgeMs, payload: PayloadLimits = PayloadLimits(),
                dedupCapacity: Int = 4096, keepBoots: Int = 2, maxPastMs: Int64? = nil,
                dedupLimits: DedupLimits = DedupLimits(), maxStateChanges: Int = 20_000) {
        self.maxAgeMs = maxAgeMs
        self.payload = payload
        self.dedupCapacity = dedupCapacity
        self.keepBoots = keepBoots
        self.maxPastMs = maxPastMs ?? maxAgeMs
        self.dedupLimits = dedupLimits
        self.maxStateChanges = max(2, maxStateChanges)
    }

    /// The same, from the separate daemon settings.
    public init(maxAgeMs: Int64 = AggregatorSettings.defaultMaxAgeMs, maxPayloadBytes: Int, maxFutureS: Int64,
                dedupCapacity: Int = 4096, keepBoots: Int = 2, maxPastMs: Int64? = nil,
                dedupLimits: DedupLimits = DedupLimits(), maxStateChanges: Int = 20_000) {
        self.init(maxAgeMs: maxAgeMs, payload: PayloadLimits(maxPayloadBytes: maxPayloadBytes, maxFutureS: maxFutureS),
                  dedupCapacity: dedupCapacity, keepBoots: keepBoots, maxPastMs: maxPastMs, dedupLimits: dedupLimits,
                  maxStateChanges: maxStateChanges)
    }
}

/// What ``Aggregator/ingest(topic:payload:now:)`` did with one message.
public enum IngestOutcome: Sendable, Equatable {
    /// Counted: it is in the next ``CommitBatch``.
    case accepted
    /// Its `(source, seq)` was already counted: nothing changed but the duplicate counter.
    case duplicate
    /// Not counted; the daemon publishes it on `takt/v1/deadletter` with this reason.
    case deadLetter(DeadLetterReason, detail: String)
}

/// A configuration or restore error of ``Aggregator``: one line for the operator.
public struct AggregatorError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What ``Aggregator/restore(stations:sites:)`` could not place: state persisted for a station
/// or site that no plant file names any more (the plant files changed between runs).
public struct RestoreReport: Sendable, Equatable {
    public var ignoredStations: [StationKey] = []
    public var ignoredSites: [String] = []
    public init() {}
}
