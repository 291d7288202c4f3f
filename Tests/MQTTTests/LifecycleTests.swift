@testable import MQTT
import Testing

/// The client's lifecycle and back-off as pure values: no broker, no thread.
@Suite("Client lifecycle and reconnect back-off")
struct LifecycleTests {
    typealias Lifecycle = ClientCore.Lifecycle

    static let unreachable = MosquittoError(kind: .library, code: 14, message: "Connection refused")
    static let refused = MosquittoError(kind: .connectionRefused, code: 5, message: "not authorised")

    /// How a `connect()` waiting in the lifecycle ended.
    enum ConnectOutcome: Equatable {
        case returned
        case threw(MosquittoError)
        case stillWaiting
    }

    /// Drives a lifecycle with a real `connect()` continuation: `body` gets it and returns the
    /// effects that decide it (as the client would carry them out). A continuation that no
    /// effect resumes is ended here, so a wrong lifecycle fails the test instead of hanging it.
    func connect(_ body: (CheckedContinuation<Void, any Error>) -> Lifecycle.Effects) async -> ConnectOutcome {
        struct NotResumed: Error {}
        do {
            try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
                if let (waiter, result) = body(waiter).connectResult {
                    waiter.resume(with: result)
                } else {
                    waiter.resume(throwing: NotResumed())
                }
            }
            return .returned
        } catch let error as MosquittoError {
            return .threw(error)
        } catch {
            return .stillWaiting
        }
    }

    /// A lifecycle whose `connect()` (waiting in `waiter`) has started the first attempt.
    static func attempting(_ waiter: CheckedContinuation<Void, any Error>) -> Lifecycle {
        var lifecycle = Lifecycle.idle
        _ = lifecycle.connect(waiter)
        _ = lifecycle.beginAttempt()
        return lifecycle
    }

    @Test("a network error on the first connection fails connect() once; the client keeps showing it and stops")
    func firstConnectionFails() async {
        let outcome = await connect { waiter in
            var lifecycle = Lifecycle.idle
            let started = lifecycle.connect(waiter)
            #expect(started.startNetworkThread)
            #expect(started.announce == .connecting)
            #expect(!lifecycle.beginAttempt().endNetworkThread)
            let failed = lifecycle.attemptFailed(Self.unreachable, retry: false)
            #expect(failed.announce == .disconnected(Self.unreachable))
            #expect(lifecycle.isStopping && !lifecycle.isClosed)
            #expect(lifecycle.beginAttempt().endNetworkThread)
            // The on_disconnect that follows does not hide why it failed.
            #expect(lifecycle.connectionLost(nil).announce == nil)
            #expect(lifecycle.shown == .disconnected(Self.unreachable))
            return failed
        }
        #expect(outcome == .threw(Self.unreachable))
    }

    @Test("with retryInitialConnection a network error is retried, and the first CONNACK returns connect()")
    func firstConnectionRetried() async {
        let outcome = await connect { waiter in
            var lifecycle = Self.attempting(waiter)
            let failed = lifecycle.attemptFailed(Self.unreachable, retry: true)
            #expect(failed.connectResult == nil)
            #expect(lifecycle.shown == .disconnected(Self.unreachable))
            #expect(!lifecycle.isStopping)
            #expect(lifecycle.beginAttempt().announce == .connecting)
            let connected = lifecycle.connected(sessionPresent: true)
            #expect(connected.announce == .connected(sessionPresent: true))
            #expect(lifecycle.isConnected)
            return connected
        }
        #expect(outcome == .returned)
    }

    @Test("a refused first CONNACK fails connect() even with retryInitialConnection")
    func refusedFirstConnack() async {
        let outcome = await connect { waiter in
            var lifecycle = Self.attempting(waiter)
            return lifecycle.attemptFailed(Self.refused, retry: false)
        }
        #expect(outcome == .threw(Self.refused))
    }

    @Test("after the first CONNACK, drops and failed attempts are retried and never fail the client")
    func runningReconnects() async {
        let outcome = await connect { waiter in
            var lifecycle = Self.attempting(waiter)
            let connected = lifecycle.connected(sessionPresent: false)
            #expect(lifecycle.connectionLost(Self.unreachable).announce == .disconnected(Self.unreachable))
            #expect(!lifecycle.beginAttempt().endNetworkThread)
            #expect(lifecycle.attemptFailed(Self.refused, retry: false).connectResult == nil)
            #expect(lifecycle.shown == .disconnected(Self.refused))
            #expect(!lifecycle.isStopping)
            return connected
        }
        #expect(outcome == .returned)
    }

    @Test("close() fails a waiting connect() with .closed, once; closeAndWait resumes when the thread ends")
    func closeWhileConnecting() async {
        let outcome = await connect { waiter in
            var lifecycle = Lifecycle.idle
            _ = lifecycle.connect(waiter)
            let closing = lifecycle.close()
            #expect(closing?.announce == .closed)
            #expect(lifecycle.close() == nil)
            #expect(lifecycle.isClosed && lifecycle.shown == .closed)
            #expect(lifecycle.beginAttempt().endNetworkThread)
            #expect(lifecycle.connected(sessionPresent: false).announce == nil)
            return closing ?? Lifecycle.Effects()
        }
        #expect(outcome == .threw(.closed))

        await withCheckedContinuation { (ended: CheckedContinuation<Void, Never>) in
            var lifecycle = Lifecycle.running(connection: .connected(sessionPresent: false))
            _ = lifecycle.close()
            #expect(lifecycle.awaitNetworkThreadEnd(ended).threadEnded.isEmpty)
            let effects = lifecycle.networkThreadEnded()
            #expect(effects.threadEnded.count == 1)
            for waiter in effects.threadEnded { waiter.resume() }
        }
    }

    @Test("a second connect() fails without disturbing the first")
    func secondConnect() async {
        let outcome = await connect { waiter in
            var lifecycle = Lifecycle.running(connection: .connected(sessionPresent: false))
            return lifecycle.connect(waiter)
        }
        guard case .threw(let error) = outcome else {
            Issue.record("expected a failure, got \(outcome)")
            return
        }
        #expect(error.kind == .invalidConfiguration)
    }

    @Test("the back-off doubles to maxDelay and starts over after a CONNACK")
    func backoff() {
        var backoff = Backoff(.init(initialDelay: 0.25, maxDelay: 1))
        #expect([backoff.next(), backoff.next(), backoff.next(), backoff.next()] == [0.25, 0.5, 1, 1])
        backoff.reset()
        #expect(backoff.next() == 0.25)
    }
}
