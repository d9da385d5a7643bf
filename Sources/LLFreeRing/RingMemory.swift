// A ring memory object mapped into this process: created by the daemon (a sealed memfd), or
// mapped by a client from the descriptor the daemon passed.

import Atomics
import CLinuxShims
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Why a ring memory object could not be created or mapped.
public enum RingMemoryError: Error, CustomStringConvertible, Equatable {
    /// A system call failed.
    case system(String, Errno)
    /// The object is not a ring of the layout this code knows (nothing was mapped).
    case notARing(String)

    public var description: String {
        switch self {
        case .system(let call, let errno): return "\(call) failed: \(errno)"
        case .notARing(let why): return "not a ring memory object: \(why)"
        }
    }
}

/// One mapping of a ring memory object; unmapped when released.
public final class RingMemory: @unchecked Sendable {
    /// The mapping's first byte (the header).
    public let base: UnsafeMutableRawPointer

    private init(base: UnsafeMutableRawPointer) { self.base = base }

    deinit { munmap(base, RingLayout.size) }

    /// Creates a new object (a memfd of ``RingLayout/size`` bytes, its size sealed so no holder
    /// can shrink it under another's mapping), maps it and writes its header. Returns the
    /// mapping and the descriptor to pass (the caller closes it).
    public static func create() throws(RingMemoryError) -> (RingMemory, FileDescriptor) {
        let fd = llfree_memfd_create("llfreed-ring")
        guard fd >= 0 else { throw .system("memfd_create", Errno(rawValue: -fd)) }
        let descriptor = FileDescriptor(rawValue: fd)
        do throws(RingMemoryError) {
            guard ftruncate(fd, off_t(RingLayout.size)) == 0 else { throw .system("ftruncate", Errno(rawValue: errno)) }
            let sealed = llfree_seal_size(fd)
            guard sealed == 0 else { throw .system("fcntl(F_ADD_SEALS)", Errno(rawValue: sealed)) }
            let memory = try map(fd)
            memory.base.storeBytes(of: RingLayout.magic.littleEndian, as: UInt64.self)
            memory.base.storeBytes(of: RingLayout.version.littleEndian, toByteOffset: 8, as: UInt32.self)
            memory.base.storeBytes(of: UInt32(RingLayout.capacity).littleEndian, toByteOffset: 12, as: UInt32.self)
            memory.base.storeBytes(of: UInt64(RingLayout.size).littleEndian, toByteOffset: 16, as: UInt64.self)
            return (memory, descriptor)
        } catch {
            try? descriptor.close()
            throw error
        }
    }

    /// Maps the object the daemon passed as `descriptor` (which stays the caller's), after
    /// checking that it is as large as a ring of this layout and that its header says so.
    public static func map(received descriptor: FileDescriptor) throws(RingMemoryError) -> RingMemory {
        var st = stat()
        guard fstat(descriptor.rawValue, &st) == 0 else { throw .system("fstat", Errno(rawValue: errno)) }
        guard st.st_size >= off_t(RingLayout.size) else { throw .notARing("\(st.st_size) bytes, fewer than \(RingLayout.size)") }
        let memory = try map(descriptor.rawValue)
        let magic = UInt64(littleEndian: memory.base.load(as: UInt64.self))
        let version = UInt32(littleEndian: memory.base.load(fromByteOffset: 8, as: UInt32.self))
        let capacity = UInt32(littleEndian: memory.base.load(fromByteOffset: 12, as: UInt32.self))
        guard magic == RingLayout.magic, version == RingLayout.version, capacity == UInt32(RingLayout.capacity) else {
            throw .notARing("magic \(String(magic, radix: 16)), layout \(version), capacity \(capacity)")
        }
        return memory
    }

    private static func map(_ fd: Int32) throws(RingMemoryError) -> RingMemory {
        let p = mmap(nil, RingLayout.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        guard let p, p != MAP_FAILED else { throw .system("mmap", Errno(rawValue: errno)) }
        return RingMemory(base: p)
    }

    /// The 64-bit word at `offset` of the header.
    @inlinable
    public func word64(_ offset: Int) -> UnsafeAtomic<UInt64> {
        UnsafeAtomic(at: (base + offset).assumingMemoryBound(to: UInt64.AtomicRepresentation.self))
    }

    /// The 32-bit word at `offset` of the header.
    @inlinable
    public func word32(_ offset: Int) -> UnsafeAtomic<UInt32> {
        UnsafeAtomic(at: (base + offset).assumingMemoryBound(to: UInt32.AtomicRepresentation.self))
    }

    /// The ring's state as the daemon last set it (an unknown value reads as broken).
    public var state: RingState { RingState(rawValue: word32(RingLayout.state).load(ordering: .acquiring)) ?? .broken }

    /// Sets the ring's state (the daemon's).
    public func setState(_ state: RingState) { word32(RingLayout.state).store(state.rawValue, ordering: .releasing) }

    /// The producer side of the request ring (the client's).
    public func requestProducer() -> RingProducer {
        RingProducer(data: base + RingLayout.requestData, tail: word64(RingLayout.requestTail), head: word64(RingLayout.requestHead))
    }

    /// The consumer side of the request ring (the daemon's).
    public func requestConsumer() -> RingConsumer {
        RingConsumer(data: base + RingLayout.requestData, tail: word64(RingLayout.requestTail), head: word64(RingLayout.requestHead))
    }

    /// The producer side of the reply ring (the daemon's).
    public func replyProducer() -> RingProducer {
        RingProducer(data: base + RingLayout.replyData, tail: word64(RingLayout.replyTail), head: word64(RingLayout.replyHead))
    }

    /// The consumer side of the reply ring (the client's).
    public func replyConsumer() -> RingConsumer {
        RingConsumer(data: base + RingLayout.replyData, tail: word64(RingLayout.replyTail), head: word64(RingLayout.replyHead))
    }

    /// The doorbell the daemon sleeps on (the client rings it).
    public func daemonDoorbell() -> RingDoorbell {
        RingDoorbell(wake: base + RingLayout.daemonWake, sleeping: base + RingLayout.daemonSleeping)
    }

    /// The doorbell the client sleeps on (the daemon rings it).
    public func clientDoorbell() -> RingDoorbell {
        RingDoorbell(wake: base + RingLayout.clientWake, sleeping: base + RingLayout.clientSleeping)
    }
}
