import Foundation
import Testing

// Why this file exists: Swift Testing starts every test of the run at once, as tasks on the
// cooperative pool, which has one thread per core (two here). The suites that start brokers,
// daemons, simulators and PostgreSQL servers block a thread now and then (a `defer` that waits
// for a process to exit, a synchronous `takt` run), and together they ran ~15 processes at once on
// 2 cores. CI dry runs measured the result: the whole test process stalled for 30 s and more
// ~150 s into the suite, unit tests that take milliseconds took 85 s, and the failures clustered
// there (PostgreSQL sessions ended while idle in a transaction, 100,000 messages not received
// within 120 s, leases lapsing before the first commit). Two remedies, as traits:
//
// - `.ownThreads`: the test runs on two threads of its own (a task executor preference), so
//   whatever it blocks, it blocks for itself only.
// - `.heavyweight`: the same, and at most `HeavyTestGate.width` such tests run at once (the
//   others wait for a slot before they start), so the processes they start share the cores with
//   a bounded number of others.

/// Runs jobs on `threads` threads of its own, for one test: the test's nonisolated async code and
/// its child tasks run here instead of on the cooperative pool (SE-0417 task executors).
///
/// Invariant: after ``shutDown()`` the threads finish the jobs already queued, then exit.
public final class DedicatedThreadsExecutor: TaskExecutor, @unchecked Sendable {
    /// The executor of the test running (nil outside ``HeavyTestTrait``). Unstructured tasks do
    /// not inherit a task executor preference; helpers that start them (``withTimeout(_:_:_:)``)
    /// pass this one on, so a busy cooperative pool cannot hold back a test's timer or reader.
    @TaskLocal public static var current: DedicatedThreadsExecutor?

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopping = false

    /// Starts `threads` worker threads named after `name`.
    public init(name: String, threads: Int = 2) {
        for index in 0..<max(1, threads) {
            let thread = Thread { [self] in work() }
            thread.name = "\(name) #\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Lets the threads exit once the queue is empty.
    public func shutDown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// At most `width` slots' worth of heavyweight tests at once; the others wait, first come first
/// served (a waiter that needs more slots than are free holds back the ones behind it, so it is
/// never starved). A test takes one slot, or more when it starts several daemons at once.
///
/// `width` is `$TAKT_TEST_HEAVY_WIDTH`, else three per core (six on CI's 2 cores).
public actor HeavyTestGate {
    public static let shared = HeavyTestGate(
        width: ProcessInfo.processInfo.environment["TAKT_TEST_HEAVY_WIDTH"].flatMap(Int.init)
            ?? 3 * ProcessInfo.processInfo.activeProcessorCount)
    public let width: Int
    /// Slots taken by the tests running.
    private var running = 0
    private var waiting: [(slots: Int, resume: CheckedContinuation<Void, Never>)] = []
    public init(width: Int) { self.width = max(1, width) }

    /// Slots taken now, and tests waiting (diagnostics, tests).
    public var slotsTaken: Int { running }
    public var waiters: Int { waiting.count }

    /// Returns once `slots` slots (at most `width`) are free and taken.
    public func enter(slots: Int = 1) async {
        let slots = fitted(slots)
        if waiting.isEmpty && running + slots <= width {
            running += slots
            return
        }
        await withCheckedContinuation { waiting.append((slots, $0)) }  // admitted by leave()
    }

    /// A request's slots as the gate counts them: at least one, at most `width`.
    private func fitted(_ slots: Int) -> Int { min(max(1, slots), width) }

    /// Frees `slots` slots (as many as `enter` took), then admits waiters in order while the
    /// first of them fits.
    public func leave(slots: Int = 1) {
        running -= fitted(slots)
        while let first = waiting.first, running + first.slots <= width {
            running += first.slots
            waiting.removeFirst().resume.resume()
        }
    }
}

/// See the top of this file. Applied to a suite, it applies to each of its tests (and to each
/// argument of a parameterized test).
public struct HeavyTestTrait: TestTrait, SuiteTrait, TestScoping {
    /// Whether the test takes a slot of ``HeavyTestGate/shared``.
    public let gated: Bool
    /// How many slots it takes (a test that runs several daemons at once takes more).
    public var slots = 1

    public var isRecursive: Bool { true }

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        if gated { await HeavyTestGate.shared.enter(slots: slots) }
        let executor = DedicatedThreadsExecutor(name: "test \(test.name)")
        defer { executor.shutDown() }
        let outcome: Result<Void, any Error>
        do {
            try await DedicatedThreadsExecutor.$current.withValue(executor) {
                try await withTaskExecutorPreference(executor) { try await function() }
            }
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        if gated { await HeavyTestGate.shared.leave(slots: slots) }
        try outcome.get()
    }
}

extension Trait where Self == HeavyTestTrait {
    /// Runs the test on threads of its own (see the top of HeavyTests.swift).
    public static var ownThreads: Self { HeavyTestTrait(gated: false) }
    /// Threads of its own, and at most ``HeavyTestGate/width`` such tests at once.
    public static var heavyweight: Self { HeavyTestTrait(gated: true) }
    /// `heavyweight`, taking `slots` of the gate: for a test whose timings matter and that
    /// runs several daemons at once (fewer other heavy tests beside it).
    public static func heavyweight(slots: Int) -> Self { HeavyTestTrait(gated: true, slots: slots) }
}
