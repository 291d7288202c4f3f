import TaktCore

extension CommitBatch {
    /// Rejects a batch that would store a row the KPI code cannot read back, or a negative
    /// journal offset. Every store checks this before it writes anything.
    func validateForStore() throws(StoreError) {
        for u in updates { try u.validateForStore() }
        guard journalOffset >= 0 else { throw .invalidUpdate("journal offset \(journalOffset) < 0") }
        if let fence {
            guard !fence.owner.isEmpty, !fence.leases.isEmpty else { throw .invalidUpdate("a fence needs an owner and leases") }
            guard Set(fence.leases.map(\.line)).count == fence.leases.count else { throw .invalidUpdate("a fence names a line twice") }
        }
    }
}

extension WindowUpdate {
    /// Rejects an update that would store a row the KPI code cannot read back.
    func validateForStore() throws(StoreError) {
        let k = key
        guard k.end > k.start else { throw .invalidUpdate("\(k.site)/\(k.line)/\(k.station) \(k.tier.rawValue): end \(k.end) ≤ start \(k.start)") }
        guard energyKwh.isFinite, idealCycleS.isFinite else {
            throw .invalidUpdate("\(k.site)/\(k.line)/\(k.station) \(k.tier.rawValue) \(k.start): energy or ideal cycle not finite")
        }
        guard runMs >= 0, plannedMs >= 0 else {
            throw .invalidUpdate("\(k.site)/\(k.line)/\(k.station) \(k.tier.rawValue) \(k.start): negative state time")
        }
    }
}
