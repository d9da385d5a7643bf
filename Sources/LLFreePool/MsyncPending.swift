// The per-thread set of pages flushed but not yet msynced, behind MsyncPersistence. A small fixed
// array: an operation touches one to a few pages, and a full set is simply synced early (syncing
// sooner is never less durable).

#if canImport(Glibc)
import Glibc
#endif

/// Pages of one thread waiting for the next fence. Lives in thread-local storage, freed when the
/// thread exits.
struct MsyncPending {
    /// Pages one fence collects before a flush syncs them early.
    static let capacity = 32
    static let pageSize = UInt(sysconf(Int32(_SC_PAGESIZE)))

    /// Word 0 is the count, words 1... the page addresses.
    let words: UnsafeMutablePointer<UInt>

    /// This thread's set, created at its first use.
    static var current: MsyncPending {
        if let raw = pthread_getspecific(key) {
            return MsyncPending(words: raw.assumingMemoryBound(to: UInt.self))
        }
        let words = UnsafeMutablePointer<UInt>.allocate(capacity: capacity + 1)
        words.initialize(repeating: 0, count: capacity + 1)
        pthread_setspecific(key, words)
        return MsyncPending(words: words)
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key) { raw in
            // A thread that exits with pages pending has not fenced them: nothing was acknowledged
            // on their account, so dropping them is correct.
            raw?.deallocate()
        }
        precondition(status == 0, "pthread_key_create failed: \(status)")
        return key
    }()

    /// Notes the page holding `address`.
    func add(_ address: UnsafeRawPointer) {
        let page = UInt(bitPattern: address) & ~(MsyncPending.pageSize - 1)
        let count = Int(words[0])
        var i = 1
        while i <= count {
            if words[i] == page { return }
            i += 1
        }
        if count == MsyncPending.capacity { sync() }
        let n = Int(words[0])
        words[n + 1] = page
        words[0] = UInt(n + 1)
    }

    /// msyncs the noted pages, adjacent ones in one call, and forgets them.
    func sync() {
        let count = Int(words[0])
        guard count > 0 else { return }
        var pages = UnsafeMutableBufferPointer(start: words + 1, count: count)
        pages.sort()
        var start = pages[0]
        var end = start + MsyncPending.pageSize
        for page in pages.dropFirst() {
            if page == end { end += MsyncPending.pageSize; continue }
            MsyncPending.msync(start, end)
            start = page
            end = page + MsyncPending.pageSize
        }
        MsyncPending.msync(start, end)
        words[0] = 0
    }

    private static func msync(_ start: UInt, _ end: UInt) {
        do {
            try Pmem.msync(UnsafeRawPointer(bitPattern: start)!, length: Int(end - start))
        } catch {
            // The seam cannot report failure, and acknowledging an operation that is not durable
            // would break the pool's promise; stopping leaves a dirty pool that recovery repairs.
            fatalError("llfreed: \(error) on pages \(start)..<\(end); cannot make the pool durable")
        }
    }
}
