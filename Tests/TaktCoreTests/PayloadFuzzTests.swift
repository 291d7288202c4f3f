import Foundation
import Testing
@testable import TaktCore
import TestSupport

@Suite("PayloadDecoder fuzz")
struct PayloadFuzzTests {
    /// Seeded mutations of valid payloads: the decoder never traps, and whatever it accepts,
    /// Foundation's JSON parser also reads as an object with the same `ts` and `seq`.
    @Test("accepted mutations are valid JSON with the same values", arguments: [11, 12, 13])
    func mutations(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let seeds = [
            #"{"ts": 1764547200000, "seq": 42, "boot": 0, "good": 1, "scrap": 0, "energy_kwh": 0.4421, "cycle_ms": 6013, "serial": "BL01-000042"}"#,
            #"{"ts":1764547260000,"seq":43,"state":180000,"reason":"stacker jam","x":[1,{"y":null}]}"#,
        ]
        let alphabet = Array(#"{}[]":,.-+eE0123456789 tfnul\"#.utf8) + [0xC3, 0xA9, 0xFF, 0x00, 0x0A]
        var accepted = 0
        for round in 0..<4000 {
            let kind: MessageKind = round % 2 == 0 ? .unit : .state
            var b = Array(seeds[round % 2].utf8)
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let at = Int.random(in: 0..<b.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: b[at] = alphabet.randomElement(using: &rng)!
                case 1: b.insert(alphabet.randomElement(using: &rng)!, at: at)
                default: if b.count > 1 { b.remove(at: at) }
                }
            }
            let r = Result { () throws(PayloadError) -> DecodedPayload in
                try PayloadDecoder(limits: PayloadLimits(maxFutureS: 0)).decode(b, kind: kind, now: 0)
            }
            guard case .success(let d) = r else { continue }
            accepted += 1
            let obj = try? JSONSerialization.jsonObject(with: Data(b)) as? [String: Any]
            #expect(obj != nil, "accepted but Foundation rejects: \(String(decoding: b, as: UTF8.self))")
            if let obj {
                #expect((obj["ts"] as? NSNumber)?.int64Value == d.ts, "\(String(decoding: b, as: UTF8.self))")
                #expect((obj["seq"] as? NSNumber)?.int64Value == d.seq, "\(String(decoding: b, as: UTF8.self))")
            }
        }
        // Some mutations (inside strings, whitespace) must still be accepted.
        #expect(accepted > 100)
    }
}
