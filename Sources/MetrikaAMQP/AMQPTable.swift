import CRabbitMQ
import Glibc

/// A value in an AMQP field table (queue arguments, client properties, message headers).
public enum AMQPFieldValue: Sendable, Equatable {
    case string(String)
    case int64(Int64)
    case bool(Bool)
    case table([(String, AMQPFieldValue)])

    /// The value when it is an integer.
    public var integer: Int64? {
        if case let .int64(value) = self { return value }
        return nil
    }

    public static func == (lhs: AMQPFieldValue, rhs: AMQPFieldValue) -> Bool {
        switch (lhs, rhs) {
        case let (.string(a), .string(b)): return a == b
        case let (.int64(a), .int64(b)): return a == b
        case let (.bool(a), .bool(b)): return a == b
        case let (.table(a), .table(b)): return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }
}

/// C memory behind an `amqp_table_t` built from Swift values; freed by `release()`.
struct AMQPTableStorage {
    private var allocations: [UnsafeMutableRawPointer] = []

    /// Builds a C table whose memory lives until `release()`.
    mutating func table(_ entries: [(String, AMQPFieldValue)]) -> amqp_table_t {
        guard !entries.isEmpty else { return amqp_empty_table }
        let pointer = UnsafeMutablePointer<amqp_table_entry_t>.allocate(capacity: entries.count)
        allocations.append(UnsafeMutableRawPointer(pointer))
        for (index, (key, value)) in entries.enumerated() {
            (pointer + index).initialize(to: amqp_table_entry_t(key: bytes(key), value: field(value)))
        }
        return amqp_table_t(num_entries: Int32(entries.count), entries: pointer)
    }

    /// Copies a string into C memory owned by this storage.
    mutating func bytes(_ text: String) -> amqp_bytes_t {
        var utf8 = Array(text.utf8)
        return bytes(&utf8)
    }

    /// Copies bytes into C memory owned by this storage.
    mutating func bytes(_ source: inout [UInt8]) -> amqp_bytes_t {
        guard !source.isEmpty, let memory = malloc(source.count) else { return amqp_empty_bytes }
        allocations.append(memory)
        source.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: source.count) }
        return amqp_bytes_t(len: source.count, bytes: memory)
    }

    private mutating func field(_ value: AMQPFieldValue) -> amqp_field_value_t {
        var field = amqp_field_value_t()
        switch value {
        case let .string(text):
            field.kind = UInt8(AMQP_FIELD_KIND_UTF8.rawValue)
            field.value.bytes = bytes(text)
        case let .int64(number):
            field.kind = UInt8(AMQP_FIELD_KIND_I64.rawValue)
            field.value.i64 = number
        case let .bool(flag):
            field.kind = UInt8(AMQP_FIELD_KIND_BOOLEAN.rawValue)
            field.value.boolean = flag ? 1 : 0
        case let .table(entries):
            field.kind = UInt8(AMQP_FIELD_KIND_TABLE.rawValue)
            field.value.table = table(entries)
        }
        return field
    }

    mutating func release() {
        for allocation in allocations { free(allocation) }
        allocations.removeAll()
    }
}

extension amqp_bytes_t {
    /// The bytes as a Swift string (invalid UTF-8 replaced), or nil when empty.
    var string: String? {
        guard len > 0, let bytes else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: bytes, count: len), as: UTF8.self)
    }

    /// The bytes as an array.
    var array: [UInt8] {
        guard len > 0, let bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: len))
    }
}

extension amqp_table_t {
    /// Readable entries of a received table. Hostile input is bounded: at most 256 entries per table and
    /// 4 levels of nesting are read; arrays, decimals, floats, timestamps and voids are skipped.
    func swiftValues(depth: Int) -> [String: AMQPFieldValue] {
        guard depth < 4, num_entries > 0, let entries else { return [:] }
        var values: [String: AMQPFieldValue] = [:]
        for index in 0..<Int(Swift.min(num_entries, 256)) {
            let entry = entries[index]
            guard let key = entry.key.string, let value = entry.value.swiftValue(depth: depth) else { continue }
            values[key] = value
        }
        return values
    }
}

extension amqp_field_value_t {
    func swiftValue(depth: Int) -> AMQPFieldValue? {
        switch UInt32(kind) {
        case AMQP_FIELD_KIND_UTF8.rawValue, AMQP_FIELD_KIND_BYTES.rawValue: return .string(value.bytes.string ?? "")
        case AMQP_FIELD_KIND_BOOLEAN.rawValue: return .bool(value.boolean != 0)
        case AMQP_FIELD_KIND_I8.rawValue: return .int64(Int64(value.i8))
        case AMQP_FIELD_KIND_U8.rawValue: return .int64(Int64(value.u8))
        case AMQP_FIELD_KIND_I16.rawValue: return .int64(Int64(value.i16))
        case AMQP_FIELD_KIND_U16.rawValue: return .int64(Int64(value.u16))
        case AMQP_FIELD_KIND_I32.rawValue: return .int64(Int64(value.i32))
        case AMQP_FIELD_KIND_U32.rawValue: return .int64(Int64(value.u32))
        case AMQP_FIELD_KIND_I64.rawValue: return .int64(value.i64)
        case AMQP_FIELD_KIND_U64.rawValue: return value.u64 <= UInt64(Int64.max) ? .int64(Int64(value.u64)) : nil
        case AMQP_FIELD_KIND_TABLE.rawValue:
            return .table(value.table.swiftValues(depth: depth + 1).sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        default: return nil
        }
    }
}
