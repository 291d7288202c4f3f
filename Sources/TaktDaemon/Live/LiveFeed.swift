import Synchronization

/// The subscribers of `/api/v1/live?site=S` (Server-Sent Events), each with a ``LiveMailbox``.
/// ``send(site:key:_:)`` never waits. ``close()`` at shutdown ends every stream, so the HTTP
/// server can stop.
final class LiveFeed: Sendable {
    private struct State {
        var next = 0
        var closed = false
        var subscribers: [String: [Int: LiveMailbox]] = [:]
    }
    private let state = Mutex(State())
    /// Distinct keys (windows, alerts) one subscriber may have pending.
    let mailboxLimit: Int

    init(mailboxLimit: Int = 20_000) {
        self.mailboxLimit = mailboxLimit
    }

    /// A new subscription to `site`'s events (closed at once after ``close()``), and the call
    /// that ends it.
    func subscribe(site: String) -> (mailbox: LiveMailbox, cancel: @Sendable () -> Void) {
        let mailbox = LiveMailbox(limit: mailboxLimit)
        let id: Int? = state.withLock { s in
            guard !s.closed else { return nil }
            s.next += 1
            s.subscribers[site, default: [:]][s.next] = mailbox
            return s.next
        }
        guard let id else {
            mailbox.close()
            return (mailbox, {})
        }
        return (mailbox, { [weak self] in
            mailbox.close()
            self?.state.withLock { s in
                s.subscribers[site]?[id] = nil
                if s.subscribers[site]?.isEmpty == true { s.subscribers[site] = nil }
            }
        })
    }

    /// Sites with subscribers (so that the committer builds events only for them).
    var sites: [String] { state.withLock { Array($0.subscribers.keys) } }

    /// Subscribers now.
    var count: Int { state.withLock { $0.subscribers.values.reduce(0) { $0 + $1.count } } }

    /// Posts `event` under `key` to every subscriber of `site` (a pending event of the same key —
    /// an older revision of the same window — is replaced).
    func send(site: String, key: String, _ event: [UInt8]) {
        let targets = state.withLock { Array(($0.subscribers[site] ?? [:]).values) }
        for m in targets { m.post(key: key, event) }
    }

    /// Posts `event` to every subscriber of every site (the keep-alive comment).
    func broadcast(key: String, _ event: [UInt8]) {
        let targets = state.withLock { $0.subscribers.values.flatMap(\.values) }
        for m in targets { m.post(key: key, event) }
    }

    /// Ends every stream; later subscriptions end at once.
    func close() {
        let all = state.withLock { s -> [LiveMailbox] in
            s.closed = true
            defer { s.subscribers = [:] }
            return s.subscribers.values.flatMap(\.values)
        }
        for m in all { m.close() }
    }

    /// One SSE event: `event: NAME` and the JSON on one `data:` line (the encoders never write
    /// a newline inside a JSON value).
    static func event(_ name: String, json: [UInt8]) -> [UInt8] {
        var out = Array("event: \(name)\ndata: ".utf8)
        out.reserveCapacity(out.count + json.count + 2)
        for b in json where b != UInt8(ascii: "\n") { out.append(b) }
        out.append(contentsOf: [UInt8(ascii: "\n"), UInt8(ascii: "\n")])
        return out
    }
}

/// One subscriber's pending events, coalesced by key: a subscriber that reads slower than
/// windows are written gets every window's **latest** revision (never an older one after a
/// newer one, never a window dropped for another window's revisions), in the order the keys
/// first became pending. At most `limit` keys wait; beyond that the oldest are dropped.
final class LiveMailbox: Sendable {
    private struct State {
        var order: [String] = []
        var pending: [String: [UInt8]] = [:]
        var waiter: CheckedContinuation<Void, Never>?
        var closed = false
    }
    private let state = Mutex(State())
    let limit: Int

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    func post(key: String, _ event: [UInt8]) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard !s.closed else { return nil }
            if s.pending.updateValue(event, forKey: key) == nil {
                s.order.append(key)
                if s.order.count > limit {
                    let dropped = s.order.count - limit
                    for k in s.order.prefix(dropped) { s.pending[k] = nil }
                    s.order.removeFirst(dropped)
                }
            }
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    func close() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.closed = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Everything pending, in order, as one buffer; waits while nothing is; `nil` once closed.
    func next() async -> [UInt8]? {
        while true {
            let taken = state.withLock { s -> [UInt8]?? in
                if s.closed { return .some(nil) }
                guard !s.order.isEmpty else { return nil }
                var out: [UInt8] = []
                for k in s.order { out.append(contentsOf: s.pending[k]!) }
                s.order.removeAll(keepingCapacity: true)
                s.pending.removeAll(keepingCapacity: true)
                return .some(out)
            }
            if let taken { return taken }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.closed || !s.order.isEmpty { return true }
                    s.waiter = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        }
    }
}
