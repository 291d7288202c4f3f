extension ClientCore {
    /// The client's life from `init` to the end of its network thread, together with the
    /// connection state it shows (`MQTTClient.state`), as one value behind the state lock.
    ///
    /// Only the mutating methods below change it. Each returns the `Effects` that its caller
    /// carries out once the lock is released (announce the state, resume `connect()`, …); the
    /// network thread and the public API only ask questions of it.
    ///
    /// | state                  | network thread    | shows                                    | goes to                          |
    /// | ---------------------- | ----------------- | ---------------------------------------- | -------------------------------- |
    /// | `idle`                 | none              | `.idle`                                  | awaitingFirstConnack, closed     |
    /// | `awaitingFirstConnack` | connecting        | `.connecting`, `.disconnected`           | running, failed, closing         |
    /// | `running`              | (re)connecting    | `.connecting`, `.connected`, `.disconnected` | closing                      |
    /// | `failed`               | ending, then none | `.disconnected(error)`                   | closing, or closed once it ended |
    /// | `closing`              | ending            | `.closed`                                | closed                           |
    /// | `closed`               | none              | `.closed`                                | —                                |
    enum Lifecycle {
        /// Created; `connect()` not called yet. No network thread.
        case idle
        /// `connect()` waits in `waiter` for the first CONNACK while the network thread tries.
        /// `connection` is `.connecting`, or `.disconnected(why)` between attempts when
        /// `retryInitialConnection` is set.
        case awaitingFirstConnack(waiter: CheckedContinuation<Void, any Error>, connection: MQTTConnectionState)
        /// The first CONNACK was accepted and `connect()` returned. From now on the network thread
        /// reconnects with back-off after every drop. `connection` is `.connecting`,
        /// `.connected` or `.disconnected`.
        case running(connection: MQTTConnectionState)
        /// The first connection failed and `connect()` threw it: refused by the broker, or a
        /// network error without `retryInitialConnection`. Nothing reconnects; the network
        /// thread ends by itself (`threadRunning` until it has).
        case failed(MosquittoError, threadRunning: Bool)
        /// `close()` ran while the network thread was running: the thread sends DISCONNECT and
        /// ends; `closeAndWait()` callers wait in `endWaiters` until it has.
        case closing(endWaiters: [CheckedContinuation<Void, Never>])
        /// `close()` ran and no network thread is left (or none was ever started). Final.
        case closed
    }
}

extension ClientCore.Lifecycle {
    /// What a transition leaves to its caller, done after the state lock is released so that
    /// the lock is held only for the state change itself.
    struct Effects {
        /// Start the network thread (asked for once, by the first `connect()`).
        var startNetworkThread = false
        /// The network thread ends instead of making another attempt.
        var endNetworkThread = false
        /// The state that `MQTTClient.state` shows now, when it changed: tell the observers.
        var announce: MQTTConnectionState?
        /// `connect()`'s continuation and how it ends.
        var connectResult: (waiter: CheckedContinuation<Void, any Error>, result: Result<Void, MosquittoError>)?
        /// `closeAndWait()` callers to resume: the network thread has ended.
        var threadEnded: [CheckedContinuation<Void, Never>] = []
    }

    // MARK: questions

    /// What `MQTTClient.state` shows.
    var shown: MQTTConnectionState {
        switch self {
        case .idle: .idle
        case .awaitingFirstConnack(_, let connection), .running(let connection): connection
        case .failed(let error, _): .disconnected(error)
        case .closing, .closed: .closed
        }
    }

    var isConnected: Bool {
        if case .connected = shown { return true }
        return false
    }

    /// `close()` ran: operations fail with `.closed`.
    var isClosed: Bool {
        switch self {
        case .closing, .closed: true
        case .idle, .awaitingFirstConnack, .running, .failed: false
        }
    }

    /// Nothing will connect any more (the first connection failed, or `close()` ran): the
    /// network thread ends at its next look, and new publishes fail with `.closed`.
    var isStopping: Bool {
        switch self {
        case .failed, .closing, .closed: true
        case .idle, .awaitingFirstConnack, .running: false
        }
    }

    // MARK: transitions

    /// `connect()` was called with `waiter`: the first call starts the network thread, any
    /// later one fails.
    mutating func connect(_ waiter: CheckedContinuation<Void, any Error>) -> Effects {
        switch self {
        case .idle:
            self = .awaitingFirstConnack(waiter: waiter, connection: .connecting)
            return Effects(startNetworkThread: true, announce: .connecting)
        case .closing, .closed:
            return Effects(connectResult: (waiter, .failure(.closed)))
        case .awaitingFirstConnack, .running, .failed:
            return Effects(connectResult: (waiter, .failure(.invalidConfiguration("connect() was already called on this client"))))
        }
    }

    /// The network thread is about to open a connection (TCP/TLS connect and CONNECT).
    mutating func beginAttempt() -> Effects {
        switch self {
        case .awaitingFirstConnack, .running:
            return show(.connecting)
        case .failed, .closing, .closed:
            return Effects(endNetworkThread: true)
        case .idle:
            assertionFailure("a network thread runs only after connect()")
            return Effects(endNetworkThread: true)
        }
    }

    /// An attempt ended before a CONNACK accepted it: the connect failed, the connection broke
    /// during the handshake, or the broker refused it (then `retry` is false, since retrying a
    /// wrong password cannot help). The one place where the first `connect()` fails: at once
    /// unless `retry` (the policy's `retryInitialConnection`). Later attempts are always retried.
    mutating func attemptFailed(_ error: MosquittoError, retry: Bool) -> Effects {
        switch self {
        case .awaitingFirstConnack(let waiter, let connection) where !retry:
            self = .failed(error, threadRunning: true)
            return Effects(announce: connection == .disconnected(error) ? nil : .disconnected(error),
                           connectResult: (waiter, .failure(error)))
        case .awaitingFirstConnack(_, .connecting), .running(.connecting):
            return show(.disconnected(error))
        case .awaitingFirstConnack, .running:
            return Effects()  // on_disconnect already showed why
        case .idle, .failed, .closing, .closed:
            return Effects()
        }
    }

    /// A CONNACK accepted the connection; `connect()` returns if this was the first.
    mutating func connected(sessionPresent: Bool) -> Effects {
        let connection = MQTTConnectionState.connected(sessionPresent: sessionPresent)
        switch self {
        case .awaitingFirstConnack(let waiter, _):
            self = .running(connection: connection)
            return Effects(announce: connection, connectResult: (waiter, .success(())))
        case .running:
            return show(connection)
        case .idle, .failed, .closing, .closed:
            return Effects()
        }
    }

    /// The connection dropped (`error` nil when it ended without one). A failed client keeps
    /// showing why it failed, a closed one `.closed`.
    mutating func connectionLost(_ error: MosquittoError?) -> Effects {
        show(.disconnected(error))
    }

    /// `close()`: nil when it already ran. Fails a waiting `connect()` with `.closed`.
    mutating func close() -> Effects? {
        switch self {
        case .idle, .failed(_, threadRunning: false):
            self = .closed
            return Effects(announce: .closed)
        case .awaitingFirstConnack(let waiter, _):
            self = .closing(endWaiters: [])
            return Effects(announce: .closed, connectResult: (waiter, .failure(.closed)))
        case .running, .failed(_, threadRunning: true):
            self = .closing(endWaiters: [])
            return Effects(announce: .closed)
        case .closing, .closed:
            return nil
        }
    }

    /// `closeAndWait()`, after its `close()`: `waiter` is resumed once the network thread has
    /// ended (at once if there is none).
    mutating func awaitNetworkThreadEnd(_ waiter: CheckedContinuation<Void, Never>) -> Effects {
        guard case .closing(let endWaiters) = self else { return Effects(threadEnded: [waiter]) }
        self = .closing(endWaiters: endWaiters + [waiter])
        return Effects()
    }

    /// The network thread's last act.
    mutating func networkThreadEnded() -> Effects {
        switch self {
        case .closing(let endWaiters):
            self = .closed
            return Effects(threadEnded: endWaiters)
        case .failed(let error, threadRunning: true):
            self = .failed(error, threadRunning: false)
            return Effects()
        case .idle, .awaitingFirstConnack, .running, .failed, .closed:
            assertionFailure("the network thread ends only when told to (first connection failed or close())")
            return Effects()
        }
    }

    /// Records the connection state of a client that is connecting or running; returns it to
    /// announce when it changed. The other states show what they are, whatever the connection does.
    private mutating func show(_ connection: MQTTConnectionState) -> Effects {
        switch self {
        case .awaitingFirstConnack(let waiter, let old) where old != connection:
            self = .awaitingFirstConnack(waiter: waiter, connection: connection)
        case .running(let old) where old != connection:
            self = .running(connection: connection)
        case .idle, .awaitingFirstConnack, .running, .failed, .closing, .closed:
            return Effects()
        }
        return Effects(announce: connection)
    }
}
