import CTaktChecksum

/// The journal's record format, and parsing one record out of a segment's bytes.
///
/// A record (version 2, what the journal writes) is, little-endian:
/// `[u32 0x8000_0000 | body length][u32 CRC-32C of the rest][u16 topic length][topic][payload]`;
/// the body length counts everything after the first field. Version 1 records (written by
/// Takt before checksums) are `[u32 body length < 2^31][u16 topic length][topic][payload]` and
/// are still read, without a check. Offsets are byte positions in one logical stream of
/// segment files (see ``Journal``).
enum JournalRecord {
    /// Bytes before the topic in a version 2 record: header, CRC, topic length.
    static let overhead = 10
    /// The header's flag of a version 2 (checksummed) record.
    static let checksummedFlag: UInt32 = 0x8000_0000
    /// Longest body a record may have (the header keeps 31 bits for it).
    static let maxBodyLength = Int(UInt32.max >> 1)

    /// Bytes a version 2 record of this topic and payload takes.
    @inline(__always)
    static func size(topicBytes: Int, payloadBytes: Int) -> Int64 {
        Int64(overhead + topicBytes + payloadBytes)
    }

    /// Appends one version 2 record to `out`. The caller has checked that the topic fits in 16
    /// bits and the body in 31.
    static func append(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        let bodyLength = UInt32(4 + 2 + topic.count + payload.count)
        let topicLength = UInt16(topic.count)
        var crc: UInt32 = withUnsafeBytes(of: topicLength.littleEndian) { takt_crc32c(0, $0.baseAddress, 2) }
        crc = takt_crc32c(crc, topic.baseAddress, topic.count)
        crc = takt_crc32c(crc, payload.baseAddress, payload.count)
        withUnsafeBytes(of: (checksummedFlag | bodyLength).littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: crc.littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: topicLength.littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: topic)
        out.append(contentsOf: payload)
    }

    /// What is at one position of a segment.
    enum Parsed: Equatable {
        /// A whole, valid record: its topic and payload ranges, and the position after it.
        case record(topic: Range<Int>, payload: Range<Int>, next: Int)
        /// The bytes end before the record does (a torn write at the tail, or a damaged length).
        case incomplete
        /// A damaged record: bad checksum or impossible lengths.
        case invalid
    }

    /// Parses the record at `position` of `bytes`.
    static func parse(_ bytes: UnsafeRawBufferPointer, at position: Int) -> Parsed {
        guard position + 4 <= bytes.count else { return .incomplete }
        let header = readUInt32(bytes, position)
        if header & checksummedFlag != 0 {
            let bodyLength = Int(header & ~checksummedFlag)
            guard bodyLength >= 6 else { return .invalid }
            guard position + 4 + bodyLength <= bytes.count else { return .incomplete }
            let topicLength = Int(readUInt16(bytes, position + 8))
            guard 6 + topicLength <= bodyLength else { return .invalid }
            let stored = readUInt32(bytes, position + 4)
            let computed = takt_crc32c(0, bytes.baseAddress! + position + 8, bodyLength - 4)
            guard stored == computed else { return .invalid }
            let topicStart = position + 10
            return .record(topic: topicStart..<(topicStart + topicLength),
                           payload: (topicStart + topicLength)..<(position + 4 + bodyLength),
                           next: position + 4 + bodyLength)
        }
        let bodyLength = Int(header)
        guard bodyLength >= 2 else { return .invalid }
        guard position + 4 + bodyLength <= bytes.count else { return .incomplete }
        let topicLength = Int(readUInt16(bytes, position + 4))
        guard 2 + topicLength <= bodyLength else { return .invalid }
        let topicStart = position + 6
        return .record(topic: topicStart..<(topicStart + topicLength),
                       payload: (topicStart + topicLength)..<(position + 4 + bodyLength), next: position + 4 + bodyLength)
    }

    /// The first position after `position` where a whole checksummed record starts, or nil.
    /// Used to skip a damaged stretch: a version 2 record is recognised by its checksum, so a
    /// false match needs a 1 in 2^32 coincidence.
    static func nextValid(_ bytes: UnsafeRawBufferPointer, after position: Int) -> Int? {
        var q = position + 1
        while q + overhead <= bytes.count {
            if readUInt32(bytes, q) & checksummedFlag != 0, case .record = parse(bytes, at: q) { return q }
            q += 1
        }
        return nil
    }

    /// The valid length of a segment: up to the end of its last valid record. A damaged stretch
    /// followed by valid records is kept (the reader skips and counts it); what follows the last
    /// valid record is a torn tail.
    static func validLength(_ bytes: UnsafeRawBufferPointer) -> Int {
        var position = 0
        var end = 0
        while position < bytes.count {
            switch parse(bytes, at: position) {
            case .record(_, _, let next):
                position = next
                end = next
            case .incomplete, .invalid:
                guard let q = nextValid(bytes, after: position) else { return end }
                position = q
            }
        }
        return end
    }

    @inline(__always)
    static func readUInt32(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
    }

    @inline(__always)
    static func readUInt16(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt16 {
        UInt16(b[at]) | UInt16(b[at + 1]) << 8
    }
}
