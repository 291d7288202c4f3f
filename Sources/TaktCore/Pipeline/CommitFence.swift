/// One line of a plant, as leases name it.
public struct LineKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var site: String
    public var line: String

    public init(site: String, line: String) {
        self.site = site
        self.line = line
    }

    public static func < (a: LineKey, b: LineKey) -> Bool {
        // Byte order, as the stores sort names.
        a.site.utf8.lexicographicallyPrecedes(b.site.utf8)
            || (a.site == b.site && a.line.utf8.lexicographicallyPrecedes(b.line.utf8))
    }

    public var description: String { "\(site)/\(line)" }
}

/// A daemon's lease on one line at one epoch. The epoch rises by one each time the line
/// changes hands (or its lease lapsed and was taken again), so a commit fenced with an older
/// epoch is refused even when the same daemon holds the line again.
public struct LineLease: Sendable, Hashable, CustomStringConvertible {
    public var line: LineKey
    /// ≥ 1.
    public var epoch: Int64

    public init(line: LineKey, epoch: Int64) {
        self.line = line
        self.epoch = epoch
    }

    public var description: String { "\(line)@\(epoch)" }
}

/// What a commit of a daemon that shares its store with others carries: who commits, and the
/// leases it believes it holds. The store checks them inside the commit's transaction.
public struct CommitFence: Sendable, Equatable {
    /// The lease owner: the daemon's instance name and this run's incarnation id, unique per
    /// process (a restarted daemon is a new owner).
    public var owner: String
    public var leases: [LineLease]

    public init(owner: String, leases: [LineLease]) {
        self.owner = owner
        self.leases = leases
    }
}
