import Foundation
import SparkplugB
import SwiftProtobuf

/// A Sparkplug B payload as Takt uses it: the protobuf (Eclipse Tahu's schema, decoded by
/// swift-protobuf) reduced to what the host reads. Pure: no I/O, no clock.
public struct SparkplugPayload: Sendable, Equatable {
    /// Payload `timestamp`, epoch ms; `nil` when absent.
    public var timestamp: Int64?
    /// Payload `seq` (0–255 for sequenced messages); `nil` when absent.
    public var seq: UInt64?
    public var metrics: [Metric]

    public init(timestamp: Int64? = nil, seq: UInt64? = nil, metrics: [Metric] = []) {
        self.timestamp = timestamp
        self.seq = seq
        self.metrics = metrics
    }

    /// One metric value as sent: the raw value field is kept with the datatype the message
    /// gives (a DATA message usually has none: the BIRTH's datatype applies).
    public struct Metric: Sendable, Equatable {
        public var name: String?
        public var alias: UInt64?
        /// Epoch ms; `nil` when absent.
        public var timestamp: Int64?
        public var datatype: UInt32?
        public var isHistorical: Bool
        public var isNull: Bool
        public var value: RawValue

        public init(name: String? = nil, alias: UInt64? = nil, timestamp: Int64? = nil, datatype: UInt32? = nil,
                    isHistorical: Bool = false, isNull: Bool = false, value: RawValue) {
            self.name = name
            self.alias = alias
            self.timestamp = timestamp
            self.datatype = datatype
            self.isHistorical = isHistorical
            self.isNull = isNull
            self.value = value
        }
    }

    /// The `value` oneof as it came over the wire (before the datatype gives it a meaning).
    public enum RawValue: Sendable, Equatable {
        case none
        case int(UInt32)
        case long(UInt64)
        case float(Float)
        case double(Double)
        case boolean(Bool)
        /// String, bytes, data set, template or an extension: nothing Takt counts.
        case other
    }

    /// Timestamps above this are not epoch ms a device can mean (2^53, as for the JSON `ts`).
    static let maxTimestamp: UInt64 = 1 << 53

    /// Decodes a payload. Bounds (contract section 8): at most `maxBytes` bytes, at most
    /// `maxMetrics` metrics, nesting (data sets, templates) at most 16 deep; a timestamp must be
    /// below 2^53 (epoch ms). Unknown fields are dropped.
    ///
    /// - Throws: ``DeadLetterError`` with `too_large` or `bad_protobuf` (and a detail).
    public static func decode(_ bytes: UnsafeRawBufferPointer, maxBytes: Int, maxMetrics: Int) throws(DeadLetterError) -> SparkplugPayload {
        guard bytes.count <= maxBytes else {
            throw DeadLetterError(.tooLarge, "payload is \(bytes.count) bytes; the Sparkplug limit is \(maxBytes)")
        }
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = 16
        options.discardUnknownFields = true
        let message: Org_Eclipse_Tahu_Protobuf_Payload
        do {
            message = try Org_Eclipse_Tahu_Protobuf_Payload(serializedBytes: Array(bytes), options: options)
        } catch {
            throw DeadLetterError(.badProtobuf, "not a Sparkplug B payload: \(error)")
        }
        guard message.metrics.count <= maxMetrics else {
            throw DeadLetterError(.tooLarge, "\(message.metrics.count) metrics; at most \(maxMetrics) per payload")
        }
        var out = SparkplugPayload()
        if message.hasTimestamp {
            guard message.timestamp < maxTimestamp else {
                throw DeadLetterError(.outOfRange, "payload timestamp \(message.timestamp) is not epoch ms below 2^53")
            }
            out.timestamp = Int64(message.timestamp)
        }
        if message.hasSeq { out.seq = message.seq }
        out.metrics.reserveCapacity(message.metrics.count)
        for (i, m) in message.metrics.enumerated() {
            var metric = Metric(value: .none)
            if m.hasName { metric.name = m.name }
            if m.hasAlias { metric.alias = m.alias }
            if m.hasTimestamp {
                guard m.timestamp < maxTimestamp else {
                    throw DeadLetterError(.outOfRange, "metrics[\(i)] timestamp \(m.timestamp) is not epoch ms below 2^53")
                }
                metric.timestamp = Int64(m.timestamp)
            }
            if m.hasDatatype { metric.datatype = m.datatype }
            metric.isHistorical = m.isHistorical
            metric.isNull = m.isNull
            switch m.value {
            case .none: metric.value = .none
            case .intValue(let v)?: metric.value = .int(v)
            case .longValue(let v)?: metric.value = .long(v)
            case .floatValue(let v)?: metric.value = .float(v)
            case .doubleValue(let v)?: metric.value = .double(v)
            case .booleanValue(let v)?: metric.value = .boolean(v)
            default: metric.value = .other
            }
            out.metrics.append(metric)
        }
        return out
    }

    /// ``decode(_:maxBytes:maxMetrics:)`` for an array (tests, tools).
    public static func decode(_ bytes: [UInt8], maxBytes: Int = 262_144, maxMetrics: Int = 4096) throws(DeadLetterError) -> SparkplugPayload {
        let result: Result<SparkplugPayload, DeadLetterError> = bytes.withUnsafeBytes { buffer in
            do throws(DeadLetterError) {
                return .success(try decode(buffer, maxBytes: maxBytes, maxMetrics: maxMetrics))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The protobuf bytes of this payload (the simulator and tests encode with it).
    public func encoded() -> [UInt8] {
        var message = Org_Eclipse_Tahu_Protobuf_Payload()
        if let timestamp { message.timestamp = UInt64(max(0, timestamp)) }
        if let seq { message.seq = seq }
        message.metrics = metrics.map { m in
            var p = Org_Eclipse_Tahu_Protobuf_Payload.Metric()
            if let name = m.name { p.name = name }
            if let alias = m.alias { p.alias = alias }
            if let ts = m.timestamp { p.timestamp = UInt64(max(0, ts)) }
            if let dt = m.datatype { p.datatype = dt }
            if m.isHistorical { p.isHistorical = true }
            if m.isNull { p.isNull = true }
            switch m.value {
            case .none, .other: break
            case .int(let v): p.intValue = v
            case .long(let v): p.longValue = v
            case .float(let v): p.floatValue = v
            case .double(let v): p.doubleValue = v
            case .boolean(let v): p.booleanValue = v
            }
            return p
        }
        // Encoding a message built here cannot fail (no required fields in the schema).
        return (try? message.serializedBytes()) ?? []
    }
}

/// The Sparkplug B datatypes (Tahu's `DataType` indexes) Takt reads, and how a raw value field
/// becomes a number under each.
public enum SparkplugDataType: UInt32, Sendable, Equatable {
    case int8 = 1, int16 = 2, int32 = 3, int64 = 4
    case uint8 = 5, uint16 = 6, uint32 = 7, uint64 = 8
    case float = 9, double = 10, boolean = 11, string = 12, dateTime = 13, text = 14

    /// A number a metric means (integers and booleans exactly; floats as `Double`).
    public enum Value: Sendable, Equatable {
        case integer(Int64)
        case real(Double)
        case boolean(Bool)
    }

    /// The value of `raw` under this datatype, or a reason it has none.
    ///
    /// Signed types travel in the unsigned fields (Sparkplug 3.0, 6.4.16): their bits are
    /// two's complement of the type's width, so Int32 −12 arrives as `int_value` 4294967284 and
    /// Int16 −87 as 0xFFFFFFA9 (sign-extended to 32 bits; only the low 16 count). A signed type
    /// in `long_value` (some encoders) is read the same way from its low bits. Unsigned types
    /// must fit their width; a UInt32 in `long_value` (Eclipse Tahu's Java encoder) is accepted.
    /// A UInt64 above 2^63 − 1 cannot be a count Takt holds: an error.
    public func interpret(_ raw: SparkplugPayload.RawValue) -> Result<Value, SparkplugValueError> {
        switch (self, raw) {
        case (.int8, .int(let v)): return .success(.integer(Int64(Int8(truncatingIfNeeded: v))))
        case (.int8, .long(let v)): return .success(.integer(Int64(Int8(truncatingIfNeeded: v))))
        case (.int16, .int(let v)): return .success(.integer(Int64(Int16(truncatingIfNeeded: v))))
        case (.int16, .long(let v)): return .success(.integer(Int64(Int16(truncatingIfNeeded: v))))
        case (.int32, .int(let v)): return .success(.integer(Int64(Int32(bitPattern: v))))
        case (.int32, .long(let v)): return .success(.integer(Int64(Int32(truncatingIfNeeded: v))))
        case (.int64, .long(let v)), (.dateTime, .long(let v)): return .success(.integer(Int64(bitPattern: v)))
        case (.int64, .int(let v)): return .success(.integer(Int64(Int32(bitPattern: v))))
        case (.uint8, .int(let v)), (.uint16, .int(let v)), (.uint32, .int(let v)), (.uint64, .int(let v)):
            return fits(UInt64(v))
        case (.uint8, .long(let v)), (.uint16, .long(let v)), (.uint32, .long(let v)), (.uint64, .long(let v)):
            return fits(v)
        case (.float, .float(let v)): return .success(.real(Double(v)))
        case (.float, .double(let v)), (.double, .double(let v)): return .success(.real(v))
        case (.double, .float(let v)): return .success(.real(Double(v)))
        case (.boolean, .boolean(let v)): return .success(.boolean(v))
        case (_, .none): return .failure(.noValue)
        default: return .failure(.wrongField(datatype: rawValue))
        }
    }

    private func fits(_ v: UInt64) -> Result<Value, SparkplugValueError> {
        let limit: UInt64
        switch self {
        case .uint8: limit = UInt64(UInt8.max)
        case .uint16: limit = UInt64(UInt16.max)
        case .uint32: limit = UInt64(UInt32.max)
        default: limit = UInt64(Int64.max)
        }
        guard v <= limit else { return .failure(.outOfRange(v, datatype: rawValue)) }
        return .success(.integer(Int64(v)))
    }
}

/// Why a metric value has no number (a dead letter detail).
public enum SparkplugValueError: Error, Sendable, Equatable, CustomStringConvertible {
    case noValue
    case wrongField(datatype: UInt32)
    case outOfRange(UInt64, datatype: UInt32)
    case unknownDatatype(UInt32)

    public var description: String {
        switch self {
        case .noValue: return "no value"
        case .wrongField(let dt): return "the value field does not match datatype \(dt)"
        case .outOfRange(let v, let dt): return "\(v) does not fit datatype \(dt)"
        case .unknownDatatype(let dt): return "datatype \(dt) is not a number Takt reads"
        }
    }
}
