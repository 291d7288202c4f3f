import Foundation

/// Reads the journal's records from an offset to its end, one segment in memory at a time
/// (a replay of gigabytes holds one segment, ≤ `segmentBytes` plus its last record, not all).
///
/// A damaged stretch inside a segment (bad checksum, impossible length) is skipped to the next
/// valid record and reported in ``damaged``, never silently: the caller logs and counts it.
struct JournalReader {
    /// A skipped stretch: where it starts (journal offset) and how many bytes it spans.
    struct Damage: Sendable, Equatable {
        var offset: Int64
        var bytes: Int
    }

    private let directory: URL
    private let from: Int64
    private var segments: [Int64]
    private var segmentIndex = 0
    private var data: [UInt8] = []
    private var segmentStart: Int64 = 0
    private var position = 0
    private var loaded = false
    /// Damaged stretches met so far, in order.
    private(set) var damaged: [Damage] = []

    init(directory: URL, from offset: Int64) throws {
        self.directory = directory
        self.from = offset
        let all = try Journal.segments(in: directory)
        // Segments that end at or before `offset` (the next one starts there) hold nothing to read.
        var first = 0
        while first + 1 < all.count && all[first + 1] <= offset { first += 1 }
        self.segments = Array(all[first...])
    }

    /// The next record at or after the start offset, or nil at the end of the journal.
    mutating func next() throws -> Journal.Record? {
        while true {
            if !loaded {
                guard segmentIndex < segments.count else { return nil }
                segmentStart = segments[segmentIndex]
                data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Journal.path(directory, segmentStart))))
                position = 0
                loaded = true
            }
            if let record = nextInSegment() { return record }
            loaded = false
            data = []
            segmentIndex += 1
        }
    }

    /// The next record of the loaded segment, skipping (and noting) damage; nil at its end.
    private mutating func nextInSegment() -> Journal.Record? {
        while position < data.count {
            let parsed = data.withUnsafeBytes { JournalRecord.parse($0, at: position) }
            switch parsed {
            case .record(let topic, let payload, let next):
                let start = segmentStart + Int64(position)
                position = next
                guard start >= from else { continue }
                return Journal.Record(topic: Array(data[topic]), payload: Array(data[payload]),
                                      endOffset: segmentStart + Int64(next))
            case .incomplete, .invalid:
                let resume = data.withUnsafeBytes { JournalRecord.nextValid($0, after: position) } ?? data.count
                let start = segmentStart + Int64(position)
                // A torn tail of the newest segment is cut off when the journal opens; anything
                // still here is damage (or a tail written after the journal was opened).
                if start + Int64(resume - position) > from { damaged.append(Damage(offset: start, bytes: resume - position)) }
                position = resume
            }
        }
        return nil
    }
}
