import Foundation
import Testing
import TaktCore
@testable import TaktStore
import TestSupport

@Suite("Cycle histogram blob")
struct HistogramBlobTests {
    @Test("round-trips random histograms; an empty one is no blob")
    func roundTrip() throws {
        #expect(HistogramBlob.encode(CycleHistogram()) == nil)
        #expect(try HistogramBlob.decode(nil) == CycleHistogram())
        var rng = SplitMix64(seed: 7)
        for n in [1, 2, 10, 1000, 50_000] {
            var h = CycleHistogram()
            for _ in 0..<n {
                // Log-uniform over 1 ms … 86,400,000 ms, plus repeats.
                let v = Int(exp(Double(rng.next() % 1_000_000) / 1_000_000 * log(86_400_000.0)))
                h.add(v)
            }
            let blob = try #require(HistogramBlob.encode(h))
            #expect(blob.first == 1)
            #expect(try HistogramBlob.decode(blob) == h)
            #expect(blob.count <= 3 + h.nonEmptyBuckets.count * 6)
        }
        var every = CycleHistogram()
        for i in 0..<CycleHistogram.lowerBounds.count { every.add(Int(CycleHistogram.lowerBounds[i])) }
        #expect(try HistogramBlob.decode(HistogramBlob.encode(every)) == every)
    }

    @Test("a typical window (cycles around 6 s) is small")
    func typicalSize() throws {
        var h = CycleHistogram()
        for i in 0..<600 { h.add(5800 + (i * 37) % 500) }
        let blob = try #require(HistogramBlob.encode(h))
        #expect(blob.count < 60, "\(blob.count) bytes")
    }

    @Test("damaged blobs are errors, not crashes", arguments: [
        [UInt8](), [2, 1, 0, 1], [1], [1, 1], [1, 1, 0], [1, 1, 0, 0], [1, 2, 5, 1, 0, 1], [1, 1, 0, 1, 9],
        [1, 1, 0x8C, 0x06, 1], [1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
        [1, 1, 0, 0x80, 0x80, 0x80, 0x80, 0x10],
    ])
    func damaged(_ bytes: [UInt8]) {
        #expect(throws: StoreError.self) { _ = try HistogramBlob.decode(bytes) }
    }
}
