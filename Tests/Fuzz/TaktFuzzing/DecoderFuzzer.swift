import Foundation
import TaktCore

/// Cases straight into ``PayloadDecoder`` and the topic matcher (``InboundTopic/parse(_:)``, and
/// the aggregator's fast path through one fixed engine): mutated valid payloads and topics.
///
/// Checks: no trap; a payload is either decoded with every value inside the contract's bounds
/// (and, unmutated, equal to what was written) or an error with a reason the decoder may give
/// and a detail; decoding is deterministic; one accepted mutated payload in 256 is also an
/// object to Foundation's parser with the same `ts` and `seq`. A topic parses to the segments
/// it was built from (round trip) or is `bad_topic`; the engine's fast path agrees with the
/// parser (`bad_topic` / `unknown_source` / the station's payload verdict).
public struct DecoderFuzzer {
    public var foundationOneIn = 256
    let plant: FuzzPlant
    var engine: Aggregator
    static let payloadReasons: Set<DeadLetterReason> = [.notJSON, .notObject, .badUTF8, .tooLarge, .tooDeep, .missingField,
                                                        .wrongType, .outOfRange, .notFinite, .duplicateKey, .emptyUnit, .inFuture]

    public init() {
        var rng = FuzzRandom(seed: 0x7A4B_7F00)
        plant = PlantGenerator.make(&rng, yamlChance: 1_000_000)
        engine = try! Aggregator(plants: plant.plants)
    }

    func fail(_ seed: UInt64, _ check: String, _ detail: String) -> FuzzFailure {
        FuzzFailure(mode: "decoders", caseSeed: seed, step: 0, check: check, detail: detail)
    }

    /// One case.
    public mutating func run(seed: UInt64, stats: inout FuzzStats) -> FuzzFailure? {
        var rng = FuzzRandom(seed: seed)
        stats.cases += 1
        let unit = rng.chance(2, in: 3)
        let now: Int64 = rng.pick([1_764_547_200_000, 0, 1, Boundary.p53 - 1, 300_000, 1_764_547_200_000 + rng.int64(-1_000_000...1_000_000)])
        let limits = PayloadLimits(maxPayloadBytes: rng.chance(1, in: 16) ? rng.pick([64, 128, 160]) : rng.pick([16_384, 1 << 20]), maxFutureS: rng.pick([300, 0, 1, 31_536_000]),
                                   keepSerial: rng.chance(1, in: 4))
        // A valid payload with known values.
        let ts = rng.chance(1, in: 2) ? now - rng.int64(0...min(now, 86_400_000)) : rng.pick([0, 1, now, Boundary.p53 - 1])
        let seq = rng.pick([0, 1, Boundary.p31, Boundary.p32, Boundary.p53 - 1, rng.int64(0...1_000_000)])
        let boot = rng.pick([0, 1, Boundary.p53 - 1, rng.int64(0...100)])
        let good = Int64(rng.pick([0, 1, 1, 3, 1_000_000])), scrap = Int64(good == 0 ? rng.pick([1, 1_000_000]) : rng.pick([0, 0, 1, 1_000_000]))
        let energy = rng.pick(["0.4416", "0", "1000000", "5e-324", "1e-7", "123.456e2"])
        let cycle = Int64(rng.pick([1, 6013, 86_400_000]))
        let state = rng.pick(Boundary.stateCodes)
        var w = PayloadWriter(spaced: rng.chance(1, in: 2))
        w.field("ts", ts)
        w.field(rng.chance(1, in: 8) ? "s\\u0065q" : "seq", seq)
        w.field("boot", boot)
        if unit {
            w.field("good", good)
            w.field("scrap", scrap)
            w.field("energy_kwh", energy)
            w.field("cycle_ms", cycle)
            if rng.chance(1, in: 3) { w.field("serial", rng.pick(Array(Boundary.serialTokens.prefix(4)))) }
        } else {
            w.field("state", state)
        }
        if rng.chance(1, in: 4) { w.field("reason", rng.pick([#""jam""#, #"[1,{"y":null},[[]]]"#, "-0.0e-0", #""\ud83d\ude00""#])) }
        var bytes = w.finish()
        let mutated = rng.chance(7, in: 8)
        if mutated { Mutator.mutate(&bytes, &rng, max: rng.chance(1, in: 2) ? 1 : 5) }
        let kind: MessageKind = rng.chance(1, in: 20) ? (unit ? .state : .unit) : (unit ? .unit : .state)

        let decoder = PayloadDecoder(limits: limits)
        let result = Result { () throws(PayloadError) -> DecodedPayload in try decoder.decode(bytes, kind: kind, now: now) }
        switch result {
        case .failure(let e):
            stats.count(reason: e.reason)
            if !Self.payloadReasons.contains(e.reason) || e.detail.isEmpty {
                return fail(seed, "decode.reason", "\(e) for \(escapeBytes(bytes))")
            }
            if !mutated && kind == (unit ? .unit : .state) {
                // Unmutated and valid by construction, except for a ts ahead of a small max_future or a large serial.
                let allowed = e.reason == .inFuture || (e.reason == .tooLarge && bytes.count > limits.maxPayloadBytes)
                if !allowed { return fail(seed, "decode.valid", "\(e) for a valid payload \(escapeBytes(bytes))") }
            }
        case .success(let d):
            stats.count(reason: nil)
            if let f = checkDecoded(seed, d, limits: limits, now: now, bytes: bytes) { return f }
            if !mutated && kind == (unit ? .unit : .state) {
                if d.ts != ts || d.seq != seq || d.boot != boot { return fail(seed, "decode.values", "\(d) from \(escapeBytes(bytes))") }
                if case .unit(let u) = d, Int64(u.good) != good || Int64(u.scrap) != scrap || u.cycleMs.map(Int64.init) != cycle
                    || u.energyKwh != Double(energy) {
                    return fail(seed, "decode.values", "\(u) from \(escapeBytes(bytes))")
                }
                if case .state(let s) = d, Int64(s.state.rawValue) != state { return fail(seed, "decode.values", "\(s) from \(escapeBytes(bytes))") }
            }
            if mutated && rng.chance(1, in: foundationOneIn) {
                let parsed: Any
                do {
                    parsed = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
                } catch {
                    // Foundation refuses numbers beyond a Double (`1e400`) anywhere; the decoder
                    // takes them in fields it ignores (valid JSON, RFC 8259 section 9).
                    if "\(error)".contains("not representable") { return topicCase(seed, &rng, &stats) }
                    return fail(seed, "decode.foundation", "accepted, but Foundation refuses it (\(error)): \(escapeBytes(bytes))")
                }
                guard let obj = parsed as? [String: Any] else {
                    return fail(seed, "decode.foundation", "accepted, but Foundation reads no object: \(escapeBytes(bytes))")
                }
                if (obj["ts"] as? NSNumber)?.int64Value != d.ts || (obj["seq"] as? NSNumber)?.int64Value != d.seq {
                    return fail(seed, "decode.foundation", "Foundation reads ts \(String(describing: obj["ts"])) seq \(String(describing: obj["seq"])), decoder \(d.ts) \(d.seq)")
                }
            }
        }
        if rng.chance(1, in: 16) {
            let again = Result { () throws(PayloadError) -> DecodedPayload in try decoder.decode(bytes, kind: kind, now: now) }
            if "\(again)" != "\(result)" { return fail(seed, "decode.deterministic", "\(result) then \(again)") }
        }
        return topicCase(seed, &rng, &stats)
    }

    func checkDecoded(_ seed: UInt64, _ d: DecodedPayload, limits: PayloadLimits, now: Int64, bytes: [UInt8]) -> FuzzFailure? {
        let range: Range<Int64> = 0..<Boundary.p53
        if !range.contains(d.ts) || !range.contains(d.seq) || !range.contains(d.boot) {
            return fail(seed, "decode.bounds", "\(d) from \(escapeBytes(bytes))")
        }
        if limits.maxFutureS > 0 && d.ts - now > limits.maxFutureS * 1000 { return fail(seed, "decode.bounds", "in the future: \(d)") }
        switch d {
        case .unit(let u):
            let units: ClosedRange<Int32> = 0...1_000_000
            if !units.contains(u.good) || !units.contains(u.scrap) || (u.good == 0 && u.scrap == 0) {
                return fail(seed, "decode.bounds", "\(u) from \(escapeBytes(bytes))")
            }
            if let e = u.energyKwh, !(e.isFinite && e >= 0 && e <= 1_000_000) { return fail(seed, "decode.bounds", "energy \(e) from \(escapeBytes(bytes))") }
            if let c = u.cycleMs, !(1...86_400_000).contains(c) { return fail(seed, "decode.bounds", "cycle \(c) from \(escapeBytes(bytes))") }
            if let s = u.serial, !limits.keepSerial || s.utf8.count > 128 { return fail(seed, "decode.bounds", "serial \(s.utf8.count) bytes") }
        case .state(let s):
            if !StateCode.acceptedRange.contains(s.state.rawValue) { return fail(seed, "decode.bounds", "\(s) from \(escapeBytes(bytes))") }
        }
        return nil
    }

    // MARK: Topics

    mutating func topicCase(_ seed: UInt64, _ rng: inout FuzzRandom, _ stats: inout FuzzStats) -> FuzzFailure? {
        let st = plant.stations[rng.below(plant.stations.count)]
        var t = st.topicPrefix + Array((rng.chance(1, in: 2) ? "unit" : "state").utf8)
        switch rng.below(6) {
        case 0: break
        case 1:
            let k = rng.below(t.count)
            t[k] ^= UInt8(1) << UInt8(rng.below(8))
        case 2: Mutator.mutate(&t, &rng, max: 2)
        case 3: t.insert(UInt8(ascii: "/"), at: rng.below(t.count + 1))
        case 4: t.removeLast(rng.int(0...t.count))
        default:
            // A segment of an edge length, or with a reserved word.
            let seg = rng.pick([String(repeating: "a", count: 64), String(repeating: "b", count: 65), "metrics", "status", "deadletter", "_site", "-", "é"])
            let parts = ["takt", "v1", st.key.site, st.key.line, st.key.station, rng.chance(1, in: 2) ? "unit" : "state"]
            var p = parts
            p[rng.int(2...4)] = seg
            t = Array(p.joined(separator: "/").utf8)
        }
        let parsed = parseTopic(t)
        let outcome = t.withUnsafeBytes { tb in Array("x".utf8).withUnsafeBytes { pb in engine.ingest(topic: tb, payload: pb, now: 0) } }
        switch parsed {
        case .success(let p):
            stats.topicsOK += 1
            if Array(p.topic.utf8) != t { return fail(seed, "topic.roundtrip", "\(escapeBytes(t)) parsed as \(p)") }
            if !TopicSegment.isValid(p.line) || !TopicSegment.isValid(p.station) || !TopicSegment.isValidSite(p.site) {
                return fail(seed, "topic.segments", "\(escapeBytes(t)) parsed as \(p)")
            }
            let known = plant.index[StationKey(site: p.site, line: p.line, station: p.station)] != nil
            let ok: Bool
            if known, case .deadLetter(.notJSON, _) = outcome { ok = true } else if !known, case .deadLetter(.unknownSource, _) = outcome { ok = true } else { ok = false }
            if !ok { return fail(seed, "topic.engine", "\(escapeBytes(t)): parser \(p) (\(known ? "a plant station" : "unknown")), engine \(outcome)") }
        case .failure(let e):
            stats.topicsBad += 1
            if e.reason != .badTopic || e.detail.isEmpty { return fail(seed, "topic.reason", "\(escapeBytes(t)): \(e)") }
            guard case .deadLetter(.badTopic, _) = outcome else { return fail(seed, "topic.engine", "\(escapeBytes(t)): parser \(e), engine \(outcome)") }
        }
        return nil
    }
}
