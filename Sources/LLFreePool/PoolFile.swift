// The pool file as a file descriptor: open, lock, size, read, truncate and a read-only mapping,
// each failure turned into a PoolError that names the file. The descriptor also carries the
// pool's flock, released when it is closed.

#if canImport(Glibc)
import Glibc
#endif

/// An open descriptor of a pool file. Closing it (``close()`` or deinit) releases its lock.
final class PoolFile {
    private(set) var fd: Int32
    let path: String

    /// Opens `path` with `open(2)` `flags`.
    init(path: String, flags: Int32, mode: mode_t = 0o644) throws(PoolError) {
        let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else {
            let e = errno
            switch e {
            case ENOENT: throw PoolError(file: path, reason: .notFound)
            case EEXIST: throw PoolError(file: path, reason: .exists)
            default: throw PoolError(file: path, reason: .system(SystemFailure(call: "open", errno: e)))
            }
        }
        self.fd = fd
        self.path = path
    }

    deinit { close() }

    /// Closes the descriptor, and with it the lock; later calls do nothing.
    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
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
        while flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
            let e = errno
            if e == EINTR { continue }
            guard e == EWOULDBLOCK else {
                throw PoolError(file: path, reason: .system(SystemFailure(call: "flock", errno: e)))
            }
            guard clock.now < deadline else { throw PoolError(file: path, reason: .locked) }
            var pause = timespec(tv_sec: 0, tv_nsec: 1_000_000)
            nanosleep(&pause, nil)
        }
    }

    /// The file's size; refuses anything but a regular file.
    func size() throws(PoolError) -> UInt64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw PoolError(file: path, reason: .system(.current("fstat"))) }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw PoolError(file: path, reason: .invalidArgument("not a regular file"))
        }
        return UInt64(st.st_size)
    }

    /// Reads up to `count` bytes at `offset` (fewer at the end of the file).
    func read(_ count: Int, at offset: UInt64) throws(PoolError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw PoolError(file: path, reason: .system(.current("pread")))
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
        guard fsync(fd) == 0 else { throw PoolError(file: path, reason: .system(.current("fsync")), unchanged: false) }
        guard directory else { return }
        let parent = path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let dir = Glibc.open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else { throw PoolError(file: path, reason: .system(.current("open")), unchanged: false) }
        defer { Glibc.close(dir) }
        guard fsync(dir) == 0 else { throw PoolError(file: path, reason: .system(.current("fsync")), unchanged: false) }
    }

    /// Sets the file's size with `ftruncate(2)`; growing leaves a hole (sparse).
    func truncate(to size: UInt64, unchanged: Bool) throws(PoolError) {
        guard ftruncate(fd, off_t(size)) == 0 else {
            throw PoolError(file: path, reason: .system(.current("ftruncate")), unchanged: unchanged)
        }
    }

    /// Maps the first `length` bytes read-only (`PROT_READ`): any store through it would fault,
    /// so a path that inspects through this mapping cannot change the file.
    func mapReadOnly(length: Int) throws(PoolError) -> UnsafeRawPointer {
        let base = mmap(nil, length, PROT_READ, MAP_SHARED, fd, 0)
        guard let base, base != MAP_FAILED else { throw PoolError(file: path, reason: .system(.current("mmap"))) }
        return UnsafeRawPointer(base)
    }
}
