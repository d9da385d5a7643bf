// The fast path of the request processor: ping, get and put answered straight from the request's
// bytes into the reply's bytes, with no Request or Reply value, no array and no allocation. A
// get's allocator writes its frame numbers into the reply buffer itself (each frame number is
// written once); a put's frame numbers are copied once, from the request into an aligned scratch
// buffer the connection keeps, which the allocator reads. Everything else, and every request that
// would get an error reply (a malformed one, an order the pool does not have, a frame outside it),
// goes the general way (decode, ``RequestProcessor/process(_:session:)``, encode), which produces
// the same replies and counts; this path checks every field the codec checks before it changes
// anything, and answers only what the general path would answer the same way.

import LLFree
import LLFreePool
import LLFreeProtocol
import NIOCore

/// An aligned buffer of frame numbers a connection reuses for the puts it serves. (Seen by
/// `llfree-bench request-path --path fast` through the Benchmarks SPI.)
@_spi(Benchmarks) public struct FrameScratch {
    @_spi(Benchmarks) public init() {}

    private(set) var frames: UnsafeMutablePointer<UInt64>? = nil
    private(set) var capacity = 0

    /// Room for `count` frames (grown, never shrunk; freed by ``release()``).
    @inline(__always)
    mutating func reserve(_ count: Int) -> UnsafeMutablePointer<UInt64> {
        if count > capacity { grow(count) }
        return frames.unsafelyUnwrapped
    }

    @inline(never)
    private mutating func grow(_ count: Int) {
        frames?.deallocate()
        capacity = max(count, 256)
        frames = .allocate(capacity: capacity)
    }

    @_spi(Benchmarks) public mutating func release() {
        frames?.deallocate()
        frames = nil
        capacity = 0
    }
}

extension RequestProcessor {
    /// Answers the ping, get or put `message` (exactly one message, length field included) by
    /// appending its reply to `out`, if it is one and its reply is not an error; returns false
    /// with nothing written, changed or counted otherwise (then the caller answers it the
    /// general way). A connection whose owner is not attached yet (its first get or put attaches
    /// the implicit one) goes the general way too.
    @inline(__always) @_spi(Benchmarks)
    public func answerFast(_ message: UnsafeRawBufferPointer, session: inout ClientSession, into out: inout ByteBuffer,
                    scratch: inout FrameScratch) -> Bool {
        #if _endian(little)
        let size = message.count
        guard size >= Wire.headerSize else { return false }
        let base = message.baseAddress.unsafelyUnwrapped
        guard base.load(fromByteOffset: 4, as: UInt8.self) == Wire.framing,
              base.loadUnaligned(fromByteOffset: 6, as: UInt16.self) == 0 else { return false }
        let op = base.load(fromByteOffset: 5, as: UInt8.self)
        let id = base.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        let body = size &- Wire.headerSize
        switch op {
        case Operation.ping.rawValue:
            guard body == 0 else { return false }
            counters.add(.operations, core: core)
            out.writeWithUnsafeMutableBytes(minimumWritableBytes: Wire.headerSize) { raw in
                Self.header(raw.baseAddress.unsafelyUnwrapped, size: Wire.headerSize, op: op, id: id)
                return Wire.headerSize
            }
            return true
        case Operation.get.rawValue:
            guard body == 8 else { return false }
            let order = Int(base.load(fromByteOffset: 16, as: UInt8.self))
            let kindByte = base.load(fromByteOffset: 17, as: UInt8.self)
            let count = Int(base.loadUnaligned(fromByteOffset: 20, as: UInt32.self))
            guard base.loadUnaligned(fromByteOffset: 18, as: UInt16.self) == 0, order <= allocator.geometry.maxOrder,
                  let kind = WireKind(rawValue: kindByte), count >= 1, count <= Wire.maxBatch else { return false }
            let owner = session.owner
            if owners != nil && owner == nil { return false }
            return get(order: order, count: count, kind: Kind(kind), owner: owner, id: id, into: &out, scratch: &scratch)
        case Operation.put.rawValue:
            guard body >= 8 else { return false }
            let order = Int(base.load(fromByteOffset: 16, as: UInt8.self))
            let count = Int(base.loadUnaligned(fromByteOffset: 20, as: UInt32.self))
            guard base.load(fromByteOffset: 17, as: UInt8.self) == 0, base.loadUnaligned(fromByteOffset: 18, as: UInt16.self) == 0,
                  order <= allocator.geometry.maxOrder, count >= 1, count <= Wire.maxBatch, body == 8 &+ 8 &* count else { return false }
            let owner = session.owner
            if owners != nil && owner == nil { return false }
            // The frames, copied once into aligned memory; any outside the pool or misaligned
            // sends the put the general way before anything is freed.
            let g = allocator.geometry
            let frames = scratch.reserve(count)
            let source = base + 24
            var i = 0
            while i < count {
                let frame = source.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self)
                if Self.check(frame: frame, order: order, geometry: g) != nil { return false }
                frames[i] = frame
                i &+= 1
            }
            put(UnsafeBufferPointer(start: frames, count: count), order: order, owner: owner, id: id, into: &out)
            return true
        default:
            return false
        }
        #else
        return false
        #endif
    }

    /// ``answerFast(_:session:into:scratch:)``, and with `metrics` the request it answered timed
    /// and counted from its reply's bytes (``ServerMetrics/recordFast(reply:duration:)``), so the
    /// fast path stays on while metrics are collected. The connection and a ring's server call it.
    @inline(__always)
    func answerFast(_ message: UnsafeRawBufferPointer, session: inout ClientSession, into out: inout ByteBuffer,
                    scratch: inout FrameScratch, metrics: ServerMetrics?) -> Bool {
        guard let metrics else { return answerFast(message, session: &session, into: &out, scratch: &scratch) }
        return answerFastTimed(message, session: &session, into: &out, scratch: &scratch, metrics: metrics)
    }

    @inline(never)
    private func answerFastTimed(_ message: UnsafeRawBufferPointer, session: inout ClientSession, into out: inout ByteBuffer,
                                 scratch: inout FrameScratch, metrics: ServerMetrics) -> Bool {
        let clock = ContinuousClock(), start = clock.now, from = out.writerIndex
        guard answerFast(message, session: &session, into: &out, scratch: &scratch) else { return false }
        let duration = clock.now - start
        out.withUnsafeReadableBytes { metrics.recordFast(reply: UnsafeRawBufferPointer(rebasing: $0[(from - out.readerIndex)...]), duration: duration) }
        return true
    }

    /// Writes a reply header (status 0) for a message of `size` bytes answering `op`.
    @inline(__always)
    static func header(_ p: UnsafeMutableRawPointer, size: Int, op: UInt8, id: UInt64) {
        p.storeBytes(of: UInt32(truncatingIfNeeded: size &- Wire.lengthSize).littleEndian, toByteOffset: 0, as: UInt32.self)
        p.storeBytes(of: Wire.framing, toByteOffset: 4, as: UInt8.self)
        p.storeBytes(of: op | Wire.replyBit, toByteOffset: 5, as: UInt8.self)
        p.storeBytes(of: 0, toByteOffset: 6, as: UInt16.self)
        p.storeBytes(of: id.littleEndian, toByteOffset: 8, as: UInt64.self)
    }

    /// The get of the fast path, answered as ``answer(_:session:)`` answers it.
    @inline(__always)
    private func get(order: Int, count: Int, kind: Kind, owner: OwnerRecord?, id: UInt64, into out: inout ByteBuffer,
                     scratch: inout FrameScratch) -> Bool {
        counters.add(.operations, core: core)
        var wanted = count
        var reserved = 0
        if let owner, let owners {
            let (granted, held) = owners.reserve(owner, frames: count << order, held: { allocator.held(by: owner.id) })
            reserved = held
            wanted = min(count, granted >> order)
        }
        let fixed = Wire.headerSize + 8
        var served = 0
        var error: LLFreeError? = nil
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: fixed &+ 8 &* count) { raw in
            let p = raw.baseAddress.unsafelyUnwrapped
            if wanted > 0 {
                let into = p + fixed
                if UInt(bitPattern: into) & 7 == 0 {
                    // The frame numbers go straight into the reply (little-endian on this host).
                    let result = allocator.get(order: order, core: core, kind: kind, owner: owner?.id ?? Owners.any,
                                               into: UnsafeMutableBufferPointer(start: into.assumingMemoryBound(to: UInt64.self), count: wanted))
                    (served, error) = result
                } else {
                    // An earlier reply left the buffer unaligned: the frames take one more copy.
                    let frames = scratch.reserve(wanted)
                    (served, error) = allocator.get(order: order, core: core, kind: kind, owner: owner?.id ?? Owners.any,
                                                    into: UnsafeMutableBufferPointer(start: frames, count: wanted))
                    into.copyMemory(from: frames, byteCount: 8 &* served)
                }
            }
            var shortfall: ErrorCode? = nil
            if wanted < count && error == nil { shortfall = .quotaExceeded }
            if let error {
                switch error {
                case .outOfMemory: shortfall = .outOfMemory
                case .invalidArgument, .notAllocated, .notFree, .notOwner: shortfall = .internalError
                }
            }
            if served == 0 && shortfall != nil { counters.add(.errors, core: core) }
            let size = fixed &+ 8 &* served
            Self.header(p, size: size, op: Operation.get.rawValue, id: id)
            p.storeBytes(of: UInt32(truncatingIfNeeded: served).littleEndian, toByteOffset: 16, as: UInt32.self)
            p.storeBytes(of: (shortfall?.rawValue ?? 0).littleEndian, toByteOffset: 20, as: UInt16.self)
            p.storeBytes(of: 0, toByteOffset: 22, as: UInt16.self)
            return size
        }
        if let owner { owners?.unreserve(owner, reserved) }
        counters.add(.framesAllocated, UInt64(served) << UInt64(order), core: core)
        return true
    }

    /// The put of the fast path (every frame checked), answered as ``answer(_:session:)`` does.
    @inline(__always)
    private func put(_ frames: UnsafeBufferPointer<UInt64>, order: Int, owner: OwnerRecord?, id: UInt64, into out: inout ByteBuffer) {
        counters.add(.operations, core: core)
        let count = frames.count
        let size = Wire.headerSize + 8 + 2 &* count
        var freed = 0
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { raw in
            let p = raw.baseAddress.unsafelyUnwrapped
            let results = p + Wire.headerSize + 8
            results.initializeMemory(as: UInt8.self, repeating: 0, count: 2 &* count)
            freed = allocator.put(frames: frames, order: order, core: core, owner: owner?.id ?? Owners.any) { index, error in
                let code: ErrorCode
                switch error {
                case .notAllocated: code = .notAllocated
                case .notOwner: code = .notOwner
                case .invalidArgument: code = .invalidFrame
                case .outOfMemory, .notFree: code = .internalError
                }
                results.storeBytes(of: code.rawValue.littleEndian, toByteOffset: 2 &* index, as: UInt16.self)
            }
            Self.header(p, size: size, op: Operation.put.rawValue, id: id)
            p.storeBytes(of: UInt32(truncatingIfNeeded: count).littleEndian, toByteOffset: 16, as: UInt32.self)
            p.storeBytes(of: UInt32(truncatingIfNeeded: freed).littleEndian, toByteOffset: 20, as: UInt32.self)
            return size
        }
        counters.add(.framesFreed, UInt64(freed) << UInt64(order), core: core)
        if count > freed { counters.add(.errors, UInt64(count &- freed), core: core) }
    }
}
