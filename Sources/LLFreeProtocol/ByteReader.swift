// A bounds-checked little-endian reader over a message's bytes, used by the decoder so that no
// read can run past what the peer actually sent.

/// Reads little-endian integers from a byte buffer, failing instead of reading out of bounds.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset: Int

    init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    /// Reads a `T`, or returns nil (and reads nothing) if fewer than its size remain.
    @inline(__always)
    mutating func read<T: FixedWidthInteger>(_: T.Type) -> T? {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { return nil }
        let value = T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += size
        return value
    }

    /// Reads `count` bytes, or nil if fewer remain.
    mutating func readBytes(_ count: Int) -> UnsafeRawBufferPointer? {
        guard count >= 0, remaining >= count else { return nil }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
        offset += count
        return slice
    }

    /// Reads `count` little-endian UInt64 values into an array, or nil if fewer remain.
    mutating func readUInt64s(_ count: Int) -> [UInt64]? {
        guard count >= 0, remaining / 8 >= count else { return nil }
        let base = bytes.baseAddress! + offset
        let values = [UInt64](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count {
                buffer[i] = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self))
            }
            initialized = count
        }
        offset += count * 8
        return values
    }
}
