/// A fixed ring of windows of one tier, indexed by window ordinal
/// (``WindowCalendar/ordinal(of:tier:)``).
///
/// The ring holds the ordinals `(newest − capacity, newest]`; `capacity` is a power of two
/// and slot = `ordinal & mask` (``slotIndex(_:)``, the only place that does the arithmetic —
/// as swift-nio's `CircularBuffer`). When a newer window arrives, every window that falls out
/// of that range is evicted and handed to the caller, who makes sure it is in the store. An
/// ordinal at or below `newest − capacity` is *too old* for the ring: the caller updates the
/// stored row instead.
///
/// Memory: `capacity` slots, fixed. Defaults per tier: 1m × 256, 1h × 128, 1d × 64 (the
/// powers of two at or above 180, 72, 62); see ``defaultCapacity(_:)``.
public struct WindowRing<Element> {
    public let capacity: Int
    @usableFromInline let mask: Int
    @usableFromInline var slots: [Element?]
    @usableFromInline var ordinals: [Int64]
    @usableFromInline var _newest: Int64?
    /// The newest ordinal ever placed (`nil` while empty).
    public var newest: Int64? { _newest }

    /// - Parameter capacity: slots; rounded up to a power of two (at least 1).
    public init(capacity: Int) {
        var c = 1
        while c < capacity { c <<= 1 }
        self.capacity = c
        self.mask = c - 1
        self.slots = Array(repeating: nil, count: c)
        self.ordinals = Array(repeating: Int64.min, count: c)
    }

    /// The default number of slots of `tier` (contract-sized: 3 h of minutes, 3 days of
    /// hours, 2 months of days), rounded up to a power of two.
    public static func defaultCapacity(_ tier: WindowTier) -> Int {
        switch tier {
        case .minute: return 256
        case .hour: return 128
        case .day: return 64
        }
    }

    @inline(__always) @usableFromInline
    func slotIndex(_ ordinal: Int64) -> Int { Int(truncatingIfNeeded: ordinal) & mask }

    /// Whether `ordinal` is older than anything the ring can hold now.
    @inlinable
    public func isTooOld(_ ordinal: Int64) -> Bool {
        guard let n = _newest else { return false }
        return ordinal <= n - Int64(capacity)
    }

    /// The window with this ordinal, if the ring holds it.
    @inlinable
    public subscript(ordinal: Int64) -> Element? {
        let s = slotIndex(ordinal)
        return ordinals[s] == ordinal ? slots[s] : nil
    }

    /// Finds or creates the window `ordinal` and lets `body` change it in place.
    ///
    /// - Parameters:
    ///   - evicted: windows pushed out of the ring by this call are appended here (oldest
    ///     first); the caller must make sure they are stored.
    ///   - make: creates the window when the ring does not hold it yet.
    /// - Returns: `body`'s result, or `nil` when `ordinal` is too old for the ring (nothing
    ///   changed; update the stored row instead).
    /// - Complexity: O(1), plus O(min(jump, capacity)) when `newest` moves forward.
    @inlinable
    public mutating func upsert<R>(_ ordinal: Int64, evicted: inout [Element], make: () -> Element,
                                   _ body: (inout Element) -> R) -> R? {
        if isTooOld(ordinal) { return nil }
        if let n = newest, ordinal > n {
            // Everything at or below ordinal − capacity leaves the ring.
            let cut = ordinal - Int64(capacity)
            var o = n - Int64(capacity) + 1  // oldest ordinal the ring may hold now
            if cut - o >= Int64(capacity) {
                // Jumped past everything: evict all, oldest first.
                var gone: [(Int64, Element)] = []
                for k in slots.indices where slots[k] != nil {
                    gone.append((ordinals[k], slots[k]!))
                    slots[k] = nil
                    ordinals[k] = Int64.min
                }
                gone.sort { $0.0 < $1.0 }
                for g in gone { evicted.append(g.1) }
            } else {
                while o <= cut {
                    let s = slotIndex(o)
                    if ordinals[s] == o, let e = slots[s] {
                        evicted.append(e)
                        slots[s] = nil
                        ordinals[s] = Int64.min
                    }
                    o += 1
                }
            }
        }
        if _newest == nil || ordinal > _newest! { _newest = ordinal }
        let s = slotIndex(ordinal)
        if ordinals[s] != ordinal {
            slots[s] = make()
            ordinals[s] = ordinal
        }
        return body(&slots[s]!)
    }

    /// Changes the window `ordinal` in place if the ring holds it; `nil` otherwise.
    @inlinable
    public mutating func modify<R>(_ ordinal: Int64, _ body: (inout Element) -> R) -> R? {
        let s = slotIndex(ordinal)
        guard ordinals[s] == ordinal, slots[s] != nil else { return nil }
        return body(&slots[s]!)
    }

    /// The held windows, oldest ordinal first.
    public var elements: [(ordinal: Int64, element: Element)] {
        var out: [(Int64, Element)] = []
        for (o, e) in zip(ordinals, slots) where e != nil { out.append((o, e!)) }
        return out.sorted { $0.0 < $1.0 }.map { (ordinal: $0.0, element: $0.1) }
    }

    /// Removes and returns every held window, oldest first (for shutdown).
    ///
    /// - Important: `newest` is kept, but a window re-created after a drain starts from zero;
    ///   only call this when no more events will be applied.
    public mutating func drain() -> [Element] {
        let all = elements.map(\.element)
        for i in slots.indices { slots[i] = nil; ordinals[i] = Int64.min }
        return all
    }
}

extension WindowRing: Sendable where Element: Sendable {}
