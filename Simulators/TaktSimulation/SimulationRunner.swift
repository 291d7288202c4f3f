import Synchronization

/// A request to end a run early (SIGINT/SIGTERM), safe to set from any thread.
public final class StopRequest: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public func request() { flag.store(true, ordering: .relaxed) }
    public var isRequested: Bool { flag.load(ordering: .relaxed) }
}

/// Drives a ``SimulationEngine`` into a ``MessageSink``, paced or as fast as the sink takes it.
public enum SimulationRunner {
    /// How simulated time relates to wall time.
    public enum Pace: Sendable, Equatable {
        /// No pacing (`--speed max`).
        case max
        /// Simulated seconds per wall second (`--speed N`).
        case factor(Double)
    }

    /// Where a run is; reported once a second and at the end.
    public struct Progress: Sendable {
        /// Simulated time reached, epoch ms.
        public var simTime: Int64
        /// Messages published so far (all kinds).
        public var messages: Int64
        /// Wall seconds since the start.
        public var elapsedSeconds: Double
        /// Share of the simulated span done, 0 … 1.
        public var fraction: Double
        public var finished: Bool
        /// The run was ended early by a ``StopRequest``.
        public var interrupted = false

        /// Messages per wall second since the start.
        public var rate: Double { elapsedSeconds > 0 ? Double(messages) / elapsedSeconds : 0 }
    }

    /// Runs `engine` to its end.
    ///
    /// With `.factor(N)`, simulated time is kept at N × wall time: the engine produces every
    /// message due so far in batches, then the runner sleeps until the next one is due (at
    /// least 20 ms, at most 200 ms at a time), so it never sleeps per message.
    ///
    /// A ``StopRequest`` ends the run early but cleanly: what was generated is sent and
    /// flushed, and the truth covers exactly the messages published (see
    /// ``SimulationEngine/stop()``).
    /// - Parameter progress: called about once a second, and once at the end with `finished`.
    public static func run(
        _ engine: inout SimulationEngine, into sink: any MessageSink, pace: Pace = .max, batchSize: Int = 4096,
        stop: StopRequest? = nil, progress: ((Progress) -> Void)? = nil
    ) async throws -> Progress {
        let clock = ContinuousClock()
        let start = clock.now
        var lastReport = start
        let from = engine.options.from
        let span = Double(max(1, engine.options.durationMs))

        func elapsed(_ now: ContinuousClock.Instant) -> Double {
            let d = now - start
            return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        }
        func report(_ now: ContinuousClock.Instant, _ engine: SimulationEngine) -> Progress {
            Progress(
                simTime: engine.simTime, messages: engine.counts.total, elapsedSeconds: elapsed(now),
                fraction: min(1, Double(engine.simTime - from) / span), finished: engine.finished)
        }

        var interrupted = false
        while !engine.finished {
            if stop?.isRequested == true {
                engine.stop()
                interrupted = true
                if !engine.batch.isEmpty {
                    try await sink.write(engine.batch, topics: engine.topics)
                    engine.batch.removeAll()
                }
                break
            }
            let until: Int64
            switch pace {
            case .max:
                until = engine.options.end
            case .factor(let speed):
                until = from + Int64(elapsed(clock.now) * speed * 1000) + 1
            }
            engine.fill(maxMessages: batchSize, until: until)
            if !engine.batch.isEmpty {
                try await sink.write(engine.batch, topics: engine.topics)
                engine.batch.removeAll()
            } else if !engine.finished, case .factor(let speed) = pace {
                let next = engine.nextEventTime ?? engine.options.end
                let dueSeconds = Double(next - from) / 1000 / speed
                let wait = min(0.2, max(0.02, dueSeconds - elapsed(clock.now)))
                try await Task.sleep(for: .milliseconds(Int64(wait * 1000)))
            }
            let now = clock.now
            if let progress, now - lastReport >= .seconds(1) {
                lastReport = now
                progress(report(now, engine))
            }
        }
        try await sink.finish()
        var summary = report(clock.now, engine)
        summary.interrupted = interrupted
        progress?(summary)
        return summary
    }
}
