/// What happens to a station at an instant.
enum EventKind: UInt8 {
    /// A broken station is repaired.
    case repair = 0
    /// A station finishes the cycle of its unit.
    case cycleEnd = 1
    /// A station breaks down.
    case failure = 2
    /// A station has waited `SimulationEngine.waitThresholdMs` starved or blocked.
    case waitTimer = 3
}

/// One scheduled event. Events of one instant run in the order (line, kind, station,
/// scheduling order), so the whole run is a pure function of seed, plant and flags.
struct Event {
    var ts: Int64
    /// line << 48 | kind << 40 | station << 16: the tie-break within one millisecond.
    var order: UInt64
    /// Scheduling counter, the last tie-break.
    var counter: UInt64
    /// Station index (global, over all lines).
    var station: Int32
    var kind: EventKind
    /// Generation of the station's cycle or timer when scheduled; stale events are skipped.
    var generation: UInt32

    @inline(__always)
    static func precedes(_ a: Event, _ b: Event) -> Bool {
        if a.ts != b.ts { return a.ts < b.ts }
        if a.order != b.order { return a.order < b.order }
        return a.counter < b.counter
    }
}

/// A binary min-heap of events. `push` and `pop` are O(log n); n is a few per station.
struct EventQueue {
    private var heap: [Event] = []
    private var counter: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var first: Event? { heap.first }

    mutating func push(ts: Int64, line: Int, station: Int, kind: EventKind, generation: UInt32) {
        let order = UInt64(line) << 48 | UInt64(kind.rawValue) << 40 | UInt64(station) << 16
        counter &+= 1
        heap.append(Event(ts: ts, order: order, counter: counter, station: Int32(station), kind: kind, generation: generation))
        var child = heap.count - 1
        let item = heap[child]
        while child > 0 {
            let parent = (child - 1) / 2
            guard Event.precedes(item, heap[parent]) else { break }
            heap[child] = heap[parent]
            child = parent
        }
        heap[child] = item
    }

    mutating func pop() -> Event? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if heap.isEmpty { return top }
        let count = heap.count
        var parent = 0
        while true {
            let left = 2 * parent + 1
            if left >= count { break }
            let right = left + 1
            let child = right < count && Event.precedes(heap[right], heap[left]) ? right : left
            guard Event.precedes(heap[child], last) else { break }
            heap[parent] = heap[child]
            parent = child
        }
        heap[parent] = last
        return top
    }
}
