// The transport floor of `llfree-ctl bench`: what a round trip over a Unix stream socket costs
// on this machine right now, with nothing but the kernel in the way. Two threads of this process
// play ping-pong over a socketpair with 32-byte messages, plain blocking write and read (no
// poll, no event loop, no allocation in the loop), so every latency the bench measures against
// the daemon can be given as a ratio to a floor measured in the same run.

import Foundation
import Histogram
#if canImport(Glibc)
import Glibc
#endif

enum TransportFloor {
    /// Bytes of each ping and pong.
    static let messageSize = 32

    /// Round-trip times in nanoseconds of `rounds` 32-byte ping-pongs over a socketpair (the
    /// first tenth warms up and is not recorded).
    static func measure(rounds: Int) throws -> Histogram<UInt64> {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw OnlineFailure("socketpair: \(String(cString: strerror(errno)))", code: 2)
        }
        let (near, far) = (pair[0], pair[1])
        defer { close(near) }
        let echo = Thread {
            var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            withUnsafeMutableBytes(of: &buffer) { raw in
                while exchange(far, raw, send: false) { if !exchange(far, raw, send: true) { break } }
            }
            close(far)
        }
        echo.start()
        var histogram = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
        var buffer = (UInt64(1), UInt64(2), UInt64(3), UInt64(4))
        var failed = false
        let clock = ContinuousClock()
        withUnsafeMutableBytes(of: &buffer) { raw in
            for round in 0..<rounds {
                let t0 = clock.now
                guard exchange(near, raw, send: true), exchange(near, raw, send: false) else { failed = true; return }
                let t1 = clock.now
                if round >= rounds / 10 { _ = histogram.record(nanoseconds(t1 - t0)) }
            }
        }
        shutdown(near, Int32(SHUT_RDWR))
        while !echo.isFinished { usleep(1000) }
        if failed { throw OnlineFailure("the socketpair ping-pong failed: \(String(cString: strerror(errno)))", code: 2) }
        return histogram
    }

    /// Writes or reads all of `raw` on `fd` with blocking calls; false at end of stream or error.
    private static func exchange(_ fd: Int32, _ raw: UnsafeMutableRawBufferPointer, send: Bool) -> Bool {
        var done = 0
        while done < raw.count {
            let n = send ? write(fd, raw.baseAddress! + done, raw.count - done) : read(fd, raw.baseAddress! + done, raw.count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            done += n
        }
        return true
    }
}
