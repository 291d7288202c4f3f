/// A decoded, validated unit message (contract section 2).
///
/// Invariants (checked by ``PayloadDecoder``): `0 ≤ ts, seq, boot < 2^53`;
/// `0 ≤ good, scrap ≤ 1_000_000`, not both 0; `energyKwh` finite in `0…1e6`;
/// `cycleMs` in `1…86_400_000`; `serial` at most 128 UTF-8 bytes.
public struct UnitEvent: Sendable, Equatable {
    /// Event time, Unix epoch milliseconds UTC.
    public var ts: Int64
    public var seq: Int64
    public var boot: Int64
    /// Good units in this message (default 1 when both `good` and `scrap` are absent).
    public var good: Int32
    /// Scrapped units in this message (default 0).
    public var scrap: Int32
    /// Measured energy of the good units, kWh; `nil` when absent — use
    /// ``energyKwh(unitKwh:)`` with the line's nominal `unit_kwh`.
    public var energyKwh: Double?
    /// Cycle time of the unit(s), milliseconds.
    public var cycleMs: Int32?
    /// The unit's serial, kept only when ``PayloadLimits/keepSerial`` is on.
    public var serial: String?

    public init(ts: Int64, seq: Int64, boot: Int64 = 0, good: Int32 = 1, scrap: Int32 = 0,
                energyKwh: Double? = nil, cycleMs: Int32? = nil, serial: String? = nil) {
        self.ts = ts
        self.seq = seq
        self.boot = boot
        self.good = good
        self.scrap = scrap
        self.energyKwh = energyKwh
        self.cycleMs = cycleMs
        self.serial = serial
    }

    /// The energy to count, kWh: the measured value, or `good × unitKwh` when absent.
    @inlinable
    public func energyKwh(unitKwh: Double) -> Double {
        energyKwh ?? Double(good) * unitKwh
    }
}

/// A decoded, validated state message: from `ts` on, the station is in `state`.
public struct StateEvent: Sendable, Equatable {
    /// Event time, Unix epoch milliseconds UTC.
    public var ts: Int64
    public var seq: Int64
    public var boot: Int64
    public var state: StateCode

    public init(ts: Int64, seq: Int64, boot: Int64 = 0, state: StateCode) {
        self.ts = ts
        self.seq = seq
        self.boot = boot
        self.state = state
    }
}

/// The result of decoding one payload.
public enum DecodedPayload: Sendable, Equatable {
    case unit(UnitEvent)
    case state(StateEvent)

    /// Event time, epoch ms.
    public var ts: Int64 {
        switch self { case .unit(let u): return u.ts; case .state(let s): return s.ts }
    }
    public var seq: Int64 {
        switch self { case .unit(let u): return u.seq; case .state(let s): return s.seq }
    }
    public var boot: Int64 {
        switch self { case .unit(let u): return u.boot; case .state(let s): return s.boot }
    }
}

/// Limits of ``PayloadDecoder`` (daemon settings).
public struct PayloadLimits: Sendable, Equatable {
    /// `max_payload_bytes`: larger payloads are `too_large`. Default 16384.
    public var maxPayloadBytes: Int
    /// `max_future_s`: a `ts` more than this many seconds after `now` is `in_future`;
    /// 0 disables the check. Default 300.
    public var maxFutureS: Int64
    /// Keep `serial` in ``UnitEvent`` (one small allocation per message when it is longer
    /// than 15 bytes). Default off: the serial is validated, then dropped.
    public var keepSerial: Bool

    /// Deepest nesting allowed; the payload object itself is level 1.
    public static let maxDepth = 16

    public init(maxPayloadBytes: Int = 16_384, maxFutureS: Int64 = 300, keepSerial: Bool = false) {
        self.maxPayloadBytes = maxPayloadBytes
        self.maxFutureS = maxFutureS
        self.keepSerial = keepSerial
    }
}
