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
