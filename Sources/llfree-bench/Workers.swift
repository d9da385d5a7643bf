// Starting the benchmark threads: plain pthreads, each pinned to its own CPU before it runs
// its body, joined before the caller goes on.

#if canImport(Glibc)
import CPUAffinity
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a body on several pinned threads at once.
enum Workers {
    /// The context handed to one thread.
    final class Job: @unchecked Sendable {
        let index: Int
        let cpu: Int?
        let body: @Sendable (Int) -> Void
        init(index: Int, cpu: Int?, body: @escaping @Sendable (Int) -> Void) {
            self.index = index
            self.cpu = cpu
            self.body = body
        }
    }

    /// Runs `body(t)` for t in 0..<`threads`, each on its own thread pinned to `cpus[t % count]`
    /// (unpinned when `cpus` is empty), and returns when all have finished.
    static func run(threads: Int, cpus: [Int], _ body: @escaping @Sendable (Int) -> Void) {
        var handles: [pthread_t] = []
        for t in 0..<threads {
            let job = Job(index: t, cpu: cpus.isEmpty ? nil : cpus[t % cpus.count], body: body)
            let context = Unmanaged.passRetained(job).toOpaque()
            #if canImport(Glibc)
            var handle = pthread_t()
            #else
            var handle: pthread_t? = nil
            #endif
            let rc = pthread_create(&handle, nil, { raw in
                let job = Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue()
                if let cpu = job.cpu { CPUAffinity.pin(to: cpu) }
                job.body(job.index)
                return nil
            }, context)
            precondition(rc == 0, "pthread_create failed: \(rc)")
            #if canImport(Glibc)
            handles.append(handle)
            #else
            handles.append(handle!)
            #endif
        }
        for handle in handles { pthread_join(handle, nil) }
    }
}
