// Bounds-checked little-endian reading and writing of message bytes, for the codec only.

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

// A little-endian writer into a preallocated buffer, used by the encoder: the message size is
// computed first, so a message is written with one allocation and no bounds growth.

/// Writes little-endian integers into a buffer sized in advance by the encoder.
struct ByteWriter {
    let bytes: UnsafeMutableRawBufferPointer
    private(set) var offset: Int

    init(_ bytes: UnsafeMutableRawBufferPointer) {
        self.bytes = bytes
        self.offset = 0
    }

    @inline(__always)
    mutating func write<T: FixedWidthInteger>(_ value: T) {
        precondition(bytes.count - offset >= MemoryLayout<T>.size, "encoder computed a wrong message size")
        bytes.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
    }

    mutating func write(zeros count: Int) {
        for _ in 0..<count { write(UInt8(0)) }
    }

    mutating func write(bytes source: some Collection<UInt8>) {
        precondition(bytes.count - offset >= source.count, "encoder computed a wrong message size")
        for byte in source {
            bytes[offset] = byte
            offset += 1
        }
    }

    mutating func write(uint64s values: [UInt64]) {
        precondition(bytes.count - offset >= values.count * 8, "encoder computed a wrong message size")
        let base = bytes.baseAddress! + offset
        for i in 0..<values.count {
            base.storeBytes(of: values[i].littleEndian, toByteOffset: i &* 8, as: UInt64.self)
        }
        offset += values.count * 8
    }
}
