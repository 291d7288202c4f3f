import Testing
@testable import TaktCore

/// Fixed "daemon clock" for the tests: 2025-12-01T00:00:00Z.
private let now: Int64 = 1_764_547_200_000

private func decode(_ json: String, _ kind: MessageKind = .unit, limits: PayloadLimits = PayloadLimits(),
                    at clock: Int64 = now) -> Result<DecodedPayload, PayloadError> {
    decodeBytes(Array(json.utf8), kind, limits: limits, at: clock)
}

private func decodeBytes(_ bytes: [UInt8], _ kind: MessageKind = .unit, limits: PayloadLimits = PayloadLimits(),
                         at clock: Int64 = now) -> Result<DecodedPayload, PayloadError> {
    Result { () throws(PayloadError) -> DecodedPayload in
        try PayloadDecoder(limits: limits).decode(bytes, kind: kind, now: clock)
    }
}

private func reason(_ r: Result<DecodedPayload, PayloadError>) -> DeadLetterReason? {
    if case .failure(let e) = r { return e.reason }
    return nil
}

private func unit(_ r: Result<DecodedPayload, PayloadError>) -> UnitEvent? {
    if case .success(.unit(let u)) = r { return u }
    return nil
}

private func state(_ r: Result<DecodedPayload, PayloadError>) -> StateEvent? {
    if case .success(.state(let s)) = r { return s }
    return nil
}

@Suite("PayloadDecoder")
struct PayloadDecoderTests {
    @Test("the contract's unit example decodes")
    func unitExample() {
        let r = decode(#"{"ts": 1764547200000, "seq": 42, "boot": 0, "good": 1, "scrap": 0, "energy_kwh": 0.4421, "cycle_ms": 6013, "serial": "BL01-000042"}"#)
        #expect(unit(r) == UnitEvent(ts: 1_764_547_200_000, seq: 42, boot: 0, good: 1, scrap: 0,
                                     energyKwh: 0.4421, cycleMs: 6013, serial: nil))
        var keep = PayloadLimits()
        keep.keepSerial = true
        let k = decode(#"{"ts": 1764547200000, "seq": 42, "serial": "BL01-000042"}"#, limits: keep)
        #expect(unit(k)?.serial == "BL01-000042")
        let esc = decode(#"{"ts": 1, "seq": 1, "serial": "a\"b\u00e9\ud83d\ude00"}"#, limits: keep)
        #expect(unit(esc)?.serial == "a\"bé😀")
    }

    @Test("the contract's state example decodes; reason is an ignored unknown field")
    func stateExample() {
        let r = decode(#"{"ts": 1764547260000, "seq": 43, "boot": 0, "state": 180000, "reason": "stacker jam"}"#, .state)
        #expect(state(r) == StateEvent(ts: 1_764_547_260_000, seq: 43, boot: 0, state: StateCode(rawValue: 180_000)))
    }

    @Test("defaults: boot 0; good and scrap absent → 1/0; one present → other 0; energy absent → nil")
    func defaults() {
        let u = unit(decode(#"{"ts":5,"seq":6}"#))
        #expect(u == UnitEvent(ts: 5, seq: 6, boot: 0, good: 1, scrap: 0, energyKwh: nil, cycleMs: nil))
        #expect(u?.energyKwh(unitKwh: 0.5) == 0.5)
        #expect(unit(decode(#"{"ts":5,"seq":6,"scrap":2}"#)).map { ($0.good, $0.scrap) } ?? (-1, -1) == (0, 2))
        #expect(unit(decode(#"{"ts":5,"seq":6,"good":3}"#)).map { ($0.good, $0.scrap) } ?? (-1, -1) == (3, 0))
        #expect(unit(decode(#"{"ts":5,"seq":6,"good":3,"energy_kwh":1}"#))?.energyKwh(unitKwh: 0.5) == 1)
        // Optional fields given as null are absent.
        #expect(unit(decode(#"{"ts":5,"seq":6,"boot":null,"good":null,"energy_kwh":null,"cycle_ms":null,"serial":null}"#))
            == UnitEvent(ts: 5, seq: 6))
    }

    @Test("not JSON", arguments: [
        "", " ", "{", "}", "{\"ts\":1,\"seq\":1", "{\"ts\":1,\"seq\":1}}", "{\"ts\":1,\"seq\":1} x",
        "{ts:1}", "{\"ts\":01,\"seq\":1}", "{\"ts\":1.,\"seq\":1}", "{\"ts\":1,\"seq\":1,}",
        "{\"ts\":1 \"seq\":1}", "{\"a\":[1,2,]}", "{\"a\":tru}", "{\"a\":\"x\ny\"}", "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12G4\"}", "{\"a\":'x'}", "{\"a\":+1}", "{\"a\":-}", "{\"a\":1e}", "\u{FEFF}{\"ts\":1,\"seq\":1}",
        "{\"a\":\"unterminated}",
    ])
    func notJSON(_ s: String) {
        #expect(reason(decode(s)) == .notJSON)
    }

    @Test("valid JSON that is not an object", arguments: ["[]", "[{\"ts\":1}]", "1", "\"x\"", "null", "true", " 3.5 "])
    func notObject(_ s: String) {
        #expect(reason(decode(s)) == .notObject)
    }

    @Test("bad UTF-8 inside strings, keys and outside")
    func badUTF8() {
        let good = Array(#"{"ts":1,"seq":1,"x":"é"}"#.utf8)
        #expect(unit(decodeBytes(good)) != nil)
        for bad: [UInt8] in [[0xFF], [0xC3], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82]] {
            let inValue = Array(#"{"ts":1,"seq":1,"x":""#.utf8) + bad + Array(#""}"#.utf8)
            #expect(reason(decodeBytes(inValue)) == .badUTF8, "value \(bad)")
            let inKey = Array(#"{"ts":1,"seq":1,""#.utf8) + bad + Array(#"":1}"#.utf8)
            #expect(reason(decodeBytes(inKey)) == .badUTF8, "key \(bad)")
        }
        #expect(reason(decodeBytes(Array(#"{"ts":1,"seq":1}"#.utf8) + [0xFF])) == .badUTF8)
        // Lone surrogates in escapes cannot become UTF-8.
        #expect(reason(decode(#"{"ts":1,"seq":1,"x":"\ud800"}"#)) == .badUTF8)
        #expect(reason(decode(#"{"ts":1,"seq":1,"x":"\udc00x"}"#)) == .badUTF8)
        #expect(unit(decode(#"{"ts":1,"seq":1,"x":"\ud83d\ude00"}"#)) != nil)
    }

    @Test("too large: limit is inclusive")
    func tooLarge() {
        let base = #"{"ts":1,"seq":1,"pad":""}"#
        var limits = PayloadLimits()
        limits.maxPayloadBytes = 64
        let fits = #"{"ts":1,"seq":1,"pad":""# + String(repeating: "x", count: 64 - base.utf8.count) + "\"}"
        #expect(fits.utf8.count == 64)
        #expect(unit(decode(fits, limits: limits)) != nil)
        #expect(reason(decode(fits + " ", limits: limits)) == .tooLarge)
        // Default 16384.
        let big = #"{"ts":1,"seq":1,"pad":""# + String(repeating: "x", count: 16_384) + "\"}"
        #expect(reason(decode(big)) == .tooLarge)
    }

    @Test("nesting: 16 levels pass, 17 are too_deep, in unknown fields and at top level")
    func depth() {
        // The object is level 1; "a" holds levels 2…16 (15 arrays).
        let ok = #"{"ts":1,"seq":1,"a":"# + String(repeating: "[", count: 15) + String(repeating: "]", count: 15) + "}"
        #expect(unit(decode(ok)) != nil)
        let deep = #"{"ts":1,"seq":1,"a":"# + String(repeating: "[", count: 16) + String(repeating: "]", count: 16) + "}"
        #expect(reason(decode(deep)) == .tooDeep)
        let deepObj = #"{"ts":1,"seq":1,"a":"# + String(repeating: #"{"b":"#, count: 16) + "1" + String(repeating: "}", count: 16) + "}"
        #expect(reason(decode(deepObj)) == .tooDeep)
        #expect(reason(decode(String(repeating: "[", count: 17) + String(repeating: "]", count: 17))) == .tooDeep)
        #expect(reason(decode(String(repeating: "[", count: 16) + String(repeating: "]", count: 16))) == .notObject)
        // A deep value in a known field is also too deep (structural faults win).
        #expect(reason(decode(#"{"ts":"# + String(repeating: "[", count: 17) + String(repeating: "]", count: 17) + #","seq":1}"#)) == .tooDeep)
        // 100k brackets: no stack overflow.
        #expect(reason(decode(String(repeating: "[", count: 100_000))) == .tooLarge)
        var big = PayloadLimits()
        big.maxPayloadBytes = 1 << 20
        #expect(reason(decode(#"{"a":"# + String(repeating: "[", count: 100_000), limits: big)) == .tooDeep)
    }

    @Test("missing required fields")
    func missing() {
        #expect(reason(decode(#"{"seq":1}"#)) == .missingField)
        #expect(reason(decode(#"{"ts":1}"#)) == .missingField)
        #expect(reason(decode(#"{}"#)) == .missingField)
        #expect(reason(decode(#"{"ts":1,"seq":1}"#, .state)) == .missingField)
        #expect(state(decode(#"{"ts":1,"seq":1,"state":10000}"#, .state)) != nil)
    }

    @Test("wrong types", arguments: [
        #"{"ts":"1","seq":1}"#, #"{"ts":1,"seq":true}"#, #"{"ts":null,"seq":1}"#, #"{"ts":1,"seq":null}"#,
        #"{"ts":1,"seq":[1]}"#, #"{"ts":1,"seq":{"v":1}}"#, #"{"ts":1,"seq":1,"good":"1"}"#,
        #"{"ts":1,"seq":1,"energy_kwh":"0.4"}"#, #"{"ts":1,"seq":1,"serial":42}"#, #"{"ts":1,"seq":1,"cycle_ms":false}"#,
        #"{"ts":1,"seq":1,"boot":"0"}"#,
    ])
    func wrongType(_ s: String) {
        #expect(reason(decode(s)) == .wrongType)
    }

    @Test("integer fields take integer tokens only (1.0 and 1e3 are wrong_type)")
    func integerTokens() {
        #expect(unit(decode(#"{"ts":1000,"seq":1,"good":1}"#)) != nil)
        #expect(reason(decode(#"{"ts":1e3,"seq":1}"#)) == .wrongType)
        #expect(reason(decode(#"{"ts":1000,"seq":1.0}"#)) == .wrongType)
        #expect(reason(decode(#"{"ts":1000,"seq":1,"good":2.5}"#)) == .wrongType)
        #expect(reason(decode(#"{"ts":1,"seq":1,"state":1.8e5}"#, .state)) == .wrongType)
        #expect(unit(decode(#"{"ts":-0,"seq":0}"#))?.ts == 0)
    }

    @Test("ranges of every field", arguments: [
        // (payload, kind, accepted?)
        (#"{"ts":9007199254740991,"seq":1}"#, "unit", true),
        (#"{"ts":9007199254740992,"seq":1}"#, "unit", false),
        (#"{"ts":-1,"seq":1}"#, "unit", false),
        (#"{"ts":1,"seq":9007199254740991}"#, "unit", true),
        (#"{"ts":1,"seq":9007199254740992}"#, "unit", false),
        (#"{"ts":1,"seq":-5}"#, "unit", false),
        (#"{"ts":1,"seq":99999999999999999999999}"#, "unit", false),
        (#"{"ts":1,"seq":1,"boot":-1}"#, "unit", false),
        (#"{"ts":1,"seq":1,"good":1000000}"#, "unit", true),
        (#"{"ts":1,"seq":1,"good":1000001}"#, "unit", false),
        (#"{"ts":1,"seq":1,"scrap":1000001}"#, "unit", false),
        (#"{"ts":1,"seq":1,"good":-1}"#, "unit", false),
        (#"{"ts":1,"seq":1,"cycle_ms":1}"#, "unit", true),
        (#"{"ts":1,"seq":1,"cycle_ms":0}"#, "unit", false),
        (#"{"ts":1,"seq":1,"cycle_ms":86400000}"#, "unit", true),
        (#"{"ts":1,"seq":1,"cycle_ms":86400001}"#, "unit", false),
        (#"{"ts":1,"seq":1,"energy_kwh":0}"#, "unit", true),
        (#"{"ts":1,"seq":1,"energy_kwh":1e6}"#, "unit", true),
        (#"{"ts":1,"seq":1,"energy_kwh":1000000.0001}"#, "unit", false),
        (#"{"ts":1,"seq":1,"energy_kwh":-0.001}"#, "unit", false),
        (#"{"ts":1,"seq":1,"energy_kwh":1e400}"#, "unit", false),
        (#"{"ts":1,"seq":1,"state":10000}"#, "state", true),
        (#"{"ts":1,"seq":1,"state":9999}"#, "state", false),
        (#"{"ts":1,"seq":1,"state":229999}"#, "state", true),
        (#"{"ts":1,"seq":1,"state":230000}"#, "state", false),
        (#"{"ts":1,"seq":1,"state":-30000}"#, "state", false),
    ] as [(String, String, Bool)])
    func ranges(_ s: String, _ kind: String, _ ok: Bool) {
        // No future check here: 2^53 − 1 ms is far in the future.
        let r = decode(s, MessageKind(rawValue: kind)!, limits: PayloadLimits(maxFutureS: 0))
        if ok {
            #expect(reason(r) == nil, "\(s)")
        } else {
            #expect(reason(r) == .outOfRange, "\(s)")
        }
    }

    @Test("serial: at most 128 bytes (decoded UTF-8)")
    func serialLength() {
        #expect(unit(decode(#"{"ts":1,"seq":1,"serial":""# + String(repeating: "s", count: 128) + "\"}")) != nil)
        #expect(reason(decode(#"{"ts":1,"seq":1,"serial":""# + String(repeating: "s", count: 129) + "\"}")) == .outOfRange)
        // 64 × "é" = 128 bytes: fits; 43 × "\u20ac" = 129 bytes: does not.
        #expect(unit(decode(#"{"ts":1,"seq":1,"serial":""# + String(repeating: "é", count: 64) + "\"}")) != nil)
        #expect(reason(decode(#"{"ts":1,"seq":1,"serial":""# + String(repeating: "\\u20ac", count: 43) + "\"}")) == .outOfRange)
    }

    @Test("energy_kwh parses exactly like Swift's Double parser")
    func energyParsing() {
        for text in ["0.4421", "263.9", "0.1", "1e-7", "123456.789012345", "0.30000000000000004", "5E2", "2.5e+3",
                     "0.000000000000000000000000001", "999999.99999999999999", "7", "-0", "-0.0"] {
            let got = unit(decode(#"{"ts":1,"seq":1,"energy_kwh":"# + text + "}"))?.energyKwh
            #expect(got == Double(text).map { $0 == 0 ? 0 : $0 }, "\(text)")
        }
    }

    @Test("NaN and Infinity are not_finite, in known and unknown fields")
    func notFinite() {
        #expect(reason(decode(#"{"ts":1,"seq":1,"energy_kwh":NaN}"#)) == .notFinite)
        #expect(reason(decode(#"{"ts":1,"seq":1,"energy_kwh":Infinity}"#)) == .notFinite)
        #expect(reason(decode(#"{"ts":1,"seq":1,"energy_kwh":-Infinity}"#)) == .notFinite)
        #expect(reason(decode(#"{"ts":1,"seq":1,"x":[1,NaN]}"#)) == .notFinite)
        #expect(reason(decode(#"{"ts":1,"seq":1,"x":Nope}"#)) == .notJSON)
    }

    @Test("duplicate known keys are dead letters; duplicate unknown keys are ignored")
    func duplicates() {
        #expect(reason(decode(#"{"ts":1,"seq":1,"seq":2}"#)) == .duplicateKey)
        #expect(reason(decode(#"{"ts":1,"seq":1,"good":1,"good":1}"#)) == .duplicateKey)
        // An escaped spelling of the same key is the same key.
        #expect(reason(decode(#"{"ts":1,"seq":1,"\u0073eq":2}"#)) == .duplicateKey)
        #expect(unit(decode(#"{"t\u0073":7,"seq":1}"#))?.ts == 7)
        #expect(unit(decode(#"{"ts":1,"seq":1,"x":1,"x":2}"#)) != nil)
        // "state" is unknown in a unit payload, so twice is fine there.
        #expect(unit(decode(#"{"ts":1,"seq":1,"state":1,"state":2}"#)) != nil)
    }

    @Test("good and scrap both 0 is empty_unit")
    func emptyUnit() {
        #expect(reason(decode(#"{"ts":1,"seq":1,"good":0,"scrap":0}"#)) == .emptyUnit)
        #expect(reason(decode(#"{"ts":1,"seq":1,"good":0}"#)) == .emptyUnit)
        #expect(unit(decode(#"{"ts":1,"seq":1,"good":0,"scrap":1}"#))?.scrap == 1)
    }

    @Test("ts more than max_future_s ahead is in_future; 0 disables the check")
    func future() {
        let limit = now + 300_000
        #expect(unit(decode(#"{"ts":\#(limit),"seq":1}"#)) != nil)
        #expect(reason(decode(#"{"ts":\#(limit + 1),"seq":1}"#)) == .inFuture)
        #expect(reason(decode(#"{"ts":\#(limit + 1),"seq":1,"state":10000}"#, .state)) == .inFuture)
        var off = PayloadLimits()
        off.maxFutureS = 0
        #expect(unit(decode(#"{"ts":\#(now + 86_400_000_000),"seq":1}"#, limits: off)) != nil)
    }

    @Test("unknown fields are ignored but validated; kinds ignore each other's fields")
    func unknownFields() {
        let r = decode(#"{"x":{"y":[1,2.5e-3,"z",true,false,null,{}]},"ts":1,"seq":2,"note":"\u00e9\n"}"#)
        #expect(unit(r) == UnitEvent(ts: 1, seq: 2))
        #expect(state(decode(#"{"ts":1,"seq":2,"state":20000,"good":"not checked in a state"}"#, .state))?.state.rawValue == 20000)
        #expect(reason(decode(#"{"ts":1,"seq":2,"x":[1,}"#)) == .notJSON)
    }

    @Test("structural faults win over field faults; the first field fault wins")
    func precedence() {
        #expect(reason(decode(#"{"ts":"x","seq":1"#)) == .notJSON)
        #expect(reason(decode(#"{"ts":"x","seq":-1}"#)) == .wrongType)
        #expect(reason(decode(#"{"seq":-1,"ts":"x"}"#)) == .outOfRange)
        if case .failure(let e) = decode(#"{"ts":1,"seq":1,"cycle_ms":0}"#) {
            #expect(e.detail.contains("cycle_ms"))
        } else {
            Issue.record("expected a failure")
        }
    }

    @Test("state codes: classes")
    func stateClasses() {
        func c(_ v: UInt32) -> StateCode { StateCode(rawValue: v) }
        #expect(c(10_000).isRunning && c(29_999).isRunning && !c(30_000).isRunning)
        #expect(c(30_000).isUnknown && c(39_999).isUnknown && !c(40_000).isUnknown)
        #expect(c(50_000).isPlanned && !c(50_000).isRunning)
        #expect(c(160_000).isKnown && !c(160_000).isPlanned && !c(179_999).isPlanned && c(180_000).isPlanned)
        #expect(c(229_999).isPlanned && !c(230_000).isKnown && !c(9_999).isKnown)
        #expect(c(10_000).isPlanned)
    }
}
