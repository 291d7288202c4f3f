/// A station state code (contract section 2), in the ranges of the United Manufacturing Hub
/// data model. Accepted codes are `10000…229999`; anything else is a dead letter
/// (`out_of_range`) and never becomes a `StateCode` through ``PayloadDecoder``.
///
/// Classes used by the KPIs (contract section 3):
/// - **run**: `10000…29999` (full speed and below full speed).
/// - **unknown**: `30000…39999` (the UMH "unknown" code 30000 and the unassigned codes next to
///   it): counts in neither run nor planned time, like time before the first state.
/// - **planned stop**: `160000…179999` (no shift / no order): known, but not planned time.
/// - every other accepted code is a known, planned, non-running state (downtime).
public struct StateCode: RawRepresentable, Hashable, Sendable, Codable, Comparable {
    public var rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The codes a payload may carry.
    public static let acceptedRange: ClosedRange<UInt32> = 10_000...229_999

    /// Producing (full speed or below): counts in `run_s` and `planned_s`.
    @inlinable public var isRunning: Bool { rawValue >= 10_000 && rawValue <= 29_999 }
    /// Unknown (30000–39999) or outside the accepted range: counts in neither.
    @inlinable public var isUnknown: Bool { !isKnown }
    /// A known state (accepted and not 30000–39999).
    @inlinable public var isKnown: Bool {
        Self.acceptedRange.contains(rawValue) && !(rawValue >= 30_000 && rawValue <= 39_999)
    }
    /// Counts in `planned_s`: known and not 160000–179999 (no shift / no order).
    @inlinable public var isPlanned: Bool { isKnown && !(rawValue >= 160_000 && rawValue <= 179_999) }

    public static func < (a: StateCode, b: StateCode) -> Bool { a.rawValue < b.rawValue }
}
