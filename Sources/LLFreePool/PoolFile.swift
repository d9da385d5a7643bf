// The pool file as a file descriptor: open, lock, size, read, truncate and a read-only mapping,
// each failure turned into a PoolError that names the file. The descriptor also carries the
// pool's flock, released when it is closed.

import SystemCalls
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// An open descriptor of a pool file. Closing it (``close()`` or deinit) releases its lock.
final class PoolFile {
    /// The open descriptor; -1 once closed (calls then fail with EBADF).
    private var fd: FileDescriptor
    let path: String

    /// Opens `path` with `open(2)` `flags` (an access mode and options, as the C call takes them).
    init(path: String, flags: Int32, mode: mode_t = 0o644) throws(PoolError) {
        do {
            fd = try FileDescriptor.open(path, FileDescriptor.AccessMode(rawValue: flags & O_ACCMODE),
                                         options: FileDescriptor.OpenOptions(rawValue: flags & ~O_ACCMODE).union(.closeOnExec),
                                         permissions: FilePermissions(rawValue: mode))
        } catch Errno.noSuchFileOrDirectory {
            throw PoolError(file: path, reason: .notFound)
        } catch Errno.fileExists {
            throw PoolError(file: path, reason: .exists)
        } catch {
            throw PoolError(file: path, reason: .system(SystemFailure(call: "open", error)))
        }
        self.path = path
    }

    deinit { close() }

    /// Closes the descriptor, and with it the lock; later calls do nothing.
    func close() {
        if fd.rawValue >= 0 { try? fd.close() }
        fd = FileDescriptor(rawValue: -1)
    }

    /// How long ``lock(exclusive:)`` keeps retrying a held lock before it refuses with `.locked`.
    ///
    /// A child that this process forks inherits every descriptor until its `exec` closes the
    /// `O_CLOEXEC` ones, and with it a share of the lock: between a `close` and the next open in
    /// a process that spawns children on other threads (a test runner, a storage engine with
    /// helper processes), the lock can look held for the microseconds to milliseconds a child
    /// takes to reach `exec`. A real second opener holds it far longer and is still refused.
    static let lockGrace: Duration = .milliseconds(250)

    /// Takes the pool's lock: `flock(2)` with `LOCK_NB`, exclusive for an opener, shared for a
    /// read-only inspection, retried every millisecond for ``lockGrace`` while it is held. flock
    /// belongs to this descriptor alone, so libpmem's own descriptor (opened and closed by
    /// `pmem_map_file`) cannot release it, and a second opener in the same process is refused
    /// like one in another process.
    func lock(exclusive: Bool) throws(PoolError) {
        let clock = ContinuousClock()
        let deadline = clock.now + Self.lockGrace
        while true {
            do throws(Errno) {
                try valueOrErrno(retryOnInterrupt: true) { flock(fd.rawValue, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) }
                return
            } catch .wouldBlock {
                guard clock.now < deadline else { throw PoolError(file: path, reason: .locked) }
                var pause = timespec(tv_sec: 0, tv_nsec: 1_000_000)
                nanosleep(&pause, nil)
            } catch {
                throw PoolError(file: path, reason: .system(SystemFailure(call: "flock", error)))
            }
        }
    }

    /// The file's size; refuses anything but a regular file.
    func size() throws(PoolError) -> UInt64 {
        var st = stat()
        do throws(Errno) {
            try valueOrErrno(retryOnInterrupt: false) { fstat(fd.rawValue, &st) }
        } catch {
            throw PoolError(file: path, reason: .system(SystemFailure(call: "fstat", error)))
        }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw PoolError(file: path, reason: .invalidArgument("not a regular file"))
        }
        return UInt64(st.st_size)
    }

    /// What the descriptor names: a regular file or a character device (device DAX), and its size.
    enum Kind: Equatable {
        case regular(UInt64)
        case device(UInt64)
    }

    /// Whether this is a regular file or a character device, with its size (a device's from
    /// `/sys/dev/char/MAJOR:MINOR/size`, since fstat reports 0 for it); refuses anything else.
    func kind() throws(PoolError) -> Kind {
        var st = stat()
        do throws(Errno) {
            try valueOrErrno(retryOnInterrupt: false) { fstat(fd.rawValue, &st) }
        } catch {
            throw PoolError(file: path, reason: .system(SystemFailure(call: "fstat", error)))
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG:
            return .regular(UInt64(st.st_size))
        case S_IFCHR:
            // glibc's encoding of dev_t (major() and minor() are macros Swift cannot call).
            let dev = UInt64(st.st_rdev)
            let major = (dev >> 8) & 0xFFF | (dev >> 32) & ~0xFFF
            let minor = dev & 0xFF | (dev >> 12) & ~0xFF
            let sys = "/sys/dev/char/\(major):\(minor)/size"
            guard let text = try? String(decoding: PoolFile(path: sys, flags: O_RDONLY).read(64, at: 0), as: UTF8.self),
                  let size = UInt64(text.filter { $0.isNumber }) else {
                throw PoolError(file: path, reason: .invalidArgument("a character device whose size \(sys) does not tell (not device DAX?)"))
            }
            return .device(size)
        default:
            throw PoolError(file: path, reason: .invalidArgument("neither a regular file nor a device DAX character device"))
        }
    }

    /// Writes all of `bytes` at `offset` (pwrite, retried on EINTR and short writes).
    func write(_ bytes: [UInt8], at offset: UInt64) throws(PoolError) {
        do {
            _ = try bytes.withUnsafeBytes { try fd.writeAll(toAbsoluteOffset: Int64(offset), $0) }
        } catch {
            throw PoolError(file: path, reason: .system(SystemFailure(call: "pwrite", error)), unchanged: false)
        }
    }

    /// Writes `bytes` at offset 0 through a shared mapping of `mappedLength` bytes and msyncs it:
    /// a device DAX device takes no write(2), and maps only in its alignment (2 MiB).
    func writeMapped(_ bytes: [UInt8], mappedLength: Int) throws(PoolError) {
        do throws(Errno) {
            let address = try valueOrErrno(retryOnInterrupt: false) {
                Int(bitPattern: mmap(nil, mappedLength, PROT_READ | PROT_WRITE, MAP_SHARED, fd.rawValue, 0))
            }
            let base = UnsafeMutableRawPointer(bitPattern: address)!
            defer { munmap(base, mappedLength) }
            bytes.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            try valueOrErrno(retryOnInterrupt: false) { msync(base, mappedLength, MS_SYNC) }
        } catch {
            throw PoolError(file: path, reason: .system(SystemFailure(call: "mmap/msync", error)), unchanged: false)
        }
    }

    /// Reads the first `count` bytes through a read-only mapping of `mappedLength` bytes (for a
    /// device DAX device, which takes no read(2)).
    func readMapped(_ count: Int, mappedLength: Int) throws(PoolError) -> [UInt8] {
        let base = try mapReadOnly(length: mappedLength)
        defer { munmap(UnsafeMutableRawPointer(mutating: base), mappedLength) }
        return Array(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Reads up to `count` bytes at `offset` (fewer at the end of the file).
    func read(_ count: Int, at offset: UInt64) throws(PoolError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n: Int
            do {
                n = try bytes.withUnsafeMutableBytes {
                    try fd.read(fromAbsoluteOffset: Int64(offset) + Int64(done), into: UnsafeMutableRawBufferPointer(rebasing: $0[done...]))
                }
            } catch {
                throw PoolError(file: path, reason: .system(SystemFailure(call: "pread", error)))
            }
            if n == 0 { break }
            done += n
        }
        return Array(bytes[0..<done])
    }

    /// `fsync` of the file, and of its directory when `directory` (a new file's name is durable
    /// only once its directory is): on a disk file the size and the blocks the mapping filled are
    /// durable only then, whatever msync did to the pages.
    func sync(directory: Bool) throws(PoolError) {
        func fsync(_ descriptor: FileDescriptor) throws(PoolError) {
            do throws(Errno) {
                try valueOrErrno(retryOnInterrupt: false) { Glibc.fsync(descriptor.rawValue) }
            } catch {
                throw PoolError(file: path, reason: .system(SystemFailure(call: "fsync", error)), unchanged: false)
            }
        }
        try fsync(fd)
        guard directory else { return }
        let parent = path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let dir: FileDescriptor
        do {
            dir = try FileDescriptor.open(parent, .readOnly, options: [.directory, .closeOnExec])
        } catch {
            throw PoolError(file: path, reason: .system(SystemFailure(call: "open", error)), unchanged: false)
        }
        defer { try? dir.close() }
        try fsync(dir)
    }

    /// Sets the file's size with `ftruncate(2)`; growing leaves a hole (sparse).
    func truncate(to size: UInt64, unchanged: Bool) throws(PoolError) {
        do {
            try fd.resize(to: Int64(size))
        } catch {
            throw PoolError(file: path, reason: .system(SystemFailure(call: "ftruncate", error)), unchanged: unchanged)
        }
    }

    /// Maps the first `length` bytes read-only (`PROT_READ`): any store through it would fault,
    /// so a path that inspects through this mapping cannot change the file.
    func mapReadOnly(length: Int) throws(PoolError) -> UnsafeRawPointer {
        do throws(Errno) {
            // mmap's failure, MAP_FAILED, is the address -1.
            let base = try valueOrErrno(retryOnInterrupt: false) { Int(bitPattern: mmap(nil, length, PROT_READ, MAP_SHARED, fd.rawValue, 0)) }
            return UnsafeRawPointer(bitPattern: base)!
        } catch {
            throw PoolError(file: path, reason: .system(SystemFailure(call: "mmap", error)))
        }
    }
}
