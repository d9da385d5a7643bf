// One byte ring of the pair, seen from its producer or its consumer. Positions count bytes since
// the ring was made and never wrap in practice (64 bits); a byte's place is its position modulo
// the capacity. Each side keeps its own position privately and only publishes it: it never reads
// its own word back from shared memory, so a peer that scribbles on the header can make the
// other side see an impossible distance (refused as nil), never make it write outside the ring.

import Atomics

/// The producer's side of a byte ring.
public struct RingProducer {
    @usableFromInline let data: UnsafeMutableRawPointer
    @usableFromInline let tailWord: UnsafeAtomic<UInt64>
    @usableFromInline let headWord: UnsafeAtomic<UInt64>
    /// Bytes appended so far (published or not): this side's own count.
    public var tail: UInt64 { position }
    @usableFromInline var position: UInt64 = 0

    init(data: UnsafeMutableRawPointer, tail: UnsafeAtomic<UInt64>, head: UnsafeAtomic<UInt64>) {
        self.data = data
        self.tailWord = tail
        self.headWord = head
    }

    /// Bytes that may be appended now; nil when the consumer's position is one it cannot have
    /// reached (behind what it had, or ahead of what was published).
    @inlinable
    public func room() -> Int? {
        let used = position &- headWord.load(ordering: .acquiring)
        return used <= UInt64(RingLayout.capacity) ? RingLayout.capacity &- Int(used) : nil
    }

    /// Copies `bytes` in at the tail, unpublished; the caller made sure of the ``room()``.
    @inlinable
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        let at = Int(position & UInt64(RingLayout.capacity &- 1))
        let first = min(bytes.count, RingLayout.capacity &- at)
        (data + at).copyMemory(from: bytes.baseAddress.unsafelyUnwrapped, byteCount: first)
        if first < bytes.count { data.copyMemory(from: bytes.baseAddress.unsafelyUnwrapped + first, byteCount: bytes.count &- first) }
        position &+= UInt64(bytes.count)
    }

    /// Makes what was appended visible to the consumer.
    @inlinable
    public func publish() { tailWord.store(position, ordering: .releasing) }
}

/// The consumer's side of a byte ring.
public struct RingConsumer {
    @usableFromInline let data: UnsafeMutableRawPointer
    @usableFromInline let tailWord: UnsafeAtomic<UInt64>
    @usableFromInline let headWord: UnsafeAtomic<UInt64>
    /// Bytes consumed so far: this side's own count.
    public var head: UInt64 { position }
    @usableFromInline var position: UInt64 = 0

    init(data: UnsafeMutableRawPointer, tail: UnsafeAtomic<UInt64>, head: UnsafeAtomic<UInt64>) {
        self.data = data
        self.tailWord = tail
        self.headWord = head
    }

    /// Bytes published and not consumed; nil when the producer's position is one it cannot have
    /// written (behind the bytes consumed, or more than the ring holds ahead of them).
    @inlinable
    public func available() -> Int? {
        let ready = tailWord.load(ordering: .acquiring) &- position
        return ready <= UInt64(RingLayout.capacity) ? Int(ready) : nil
    }

    /// Copies `count` bytes starting `offset` bytes past the head into `out` (the caller saw
    /// at least `offset + count` ``available()``). The copy is private: what the peer writes
    /// into the ring afterwards cannot change it.
    @inlinable
    public func copy(at offset: Int, count: Int, into out: UnsafeMutableRawPointer) {
        let at = Int((position &+ UInt64(offset)) & UInt64(RingLayout.capacity &- 1))
        let first = min(count, RingLayout.capacity &- at)
        out.copyMemory(from: data + at, byteCount: first)
        if first < count { (out + first).copyMemory(from: data, byteCount: count &- first) }
    }

    /// Gives `count` bytes back to the producer.
    @inlinable
    public mutating func consume(_ count: Int) {
        position &+= UInt64(count)
        headWord.store(position, ordering: .releasing)
    }
}
