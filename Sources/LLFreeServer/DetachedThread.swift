// A detached thread of its own for a long-running loop that blocks (a ring's server): not an
// event loop's, not the cooperative pool's, where a blocking wait would starve other work.

#if canImport(Glibc)
import Glibc
#endif

enum DetachedThread {
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    /// Runs `body` on a new detached thread; returns the errno value if none could be made.
    static func start(_ body: @escaping @Sendable () -> Void) -> Int32? {
        let box = Unmanaged.passRetained(Body(body))
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, box.toOpaque())
        guard rc == 0 else {
            box.release()
            return rc
        }
        pthread_detach(thread)
        return nil
    }
}
