import Synchronization

/// The subscribers of `/api/v1/live?site=S` (Server-Sent Events): each gets its own bounded
/// stream of event bytes. ``send(site:_:)`` never waits: a subscriber that does not keep up
/// loses its oldest events beyond `bufferLimit` (the page takes the next revision of a window
/// anyway). ``close()`` at shutdown ends every stream, so the HTTP server can stop.
final class LiveFeed: Sendable {
    private struct State {
        var next = 0
        var closed = false
        var subscribers: [String: [Int: AsyncStream<[UInt8]>.Continuation]] = [:]
    }
    private let state = Mutex(State())
    let bufferLimit: Int

    init(bufferLimit: Int = 4096) {
        self.bufferLimit = bufferLimit
    }

    /// A new subscription to `site`'s events (finished at once after ``close()``).
    func subscribe(site: String) -> AsyncStream<[UInt8]> {
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream(bufferingPolicy: .bufferingNewest(bufferLimit))
        let id: Int? = state.withLock { s in
            guard !s.closed else { return nil }
            s.next += 1
            s.subscribers[site, default: [:]][s.next] = continuation
            return s.next
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { s in
                s.subscribers[site]?[id] = nil
                if s.subscribers[site]?.isEmpty == true { s.subscribers[site] = nil }
            }
        }
        return stream
    }

    /// Whether anyone listens to `site` (so that the committer skips building events nobody reads).
    func hasSubscribers(site: String) -> Bool {
        state.withLock { $0.subscribers[site] != nil }
    }

    /// Sites with subscribers.
    var sites: [String] { state.withLock { Array($0.subscribers.keys) } }

    /// Subscribers now.
    var count: Int { state.withLock { $0.subscribers.values.reduce(0) { $0 + $1.count } } }

    func send(site: String, _ event: [UInt8]) {
        let targets = state.withLock { Array(($0.subscribers[site] ?? [:]).values) }
        for c in targets { c.yield(event) }
    }

    /// Sends `event` to every subscriber of every site (the keep-alive comment).
    func broadcast(_ event: [UInt8]) {
        let targets = state.withLock { $0.subscribers.values.flatMap(\.values) }
        for c in targets { c.yield(event) }
    }

    /// Ends every stream; later subscriptions end at once.
    func close() {
        let all = state.withLock { s -> [AsyncStream<[UInt8]>.Continuation] in
            s.closed = true
            defer { s.subscribers = [:] }
            return s.subscribers.values.flatMap(\.values)
        }
        for c in all { c.finish() }
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
