// The C client's errors, read as a specification: every failure is a code of llfree_status with
// a message naming what was wrong, nothing aborts or prints; arguments are checked before
// anything is sent; the daemon's refusals keep their wire codes; a daemon that is gone, a
// peer it refuses and a daemon that does not answer in time are told apart.

import CLLFreeClient
import Foundation
import LLFreeClient
import LLFreeProtocol
import LLFreeTestSupport
import Testing

@Suite(.serialized) struct CClientErrorTests {
    @Test func noDaemonOnTheSocketIsACONNECTErrorNamingThePath() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("llfree-c-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let missing = CClient.connect(socket: dir + "/none.sock", owner: "x")
        #expect(missing.status == LLFREE_E_CONNECT && missing.client == nil)
        #expect(missing.message.contains(dir + "/none.sock") && missing.message.contains("No such file"))

        // A socket file nothing listens on: refused, and with a connect timeout still refused
        // once that time is over.
        let daemon = try DaemonProcess(directory: dir)
        let socket = daemon.socket
        #expect(daemon.terminate() == 0)
        let clock = ContinuousClock()
        let start = clock.now
        let gone = CClient.connect(socket: socket, connectTimeout: 300)
        #expect(gone.status == LLFREE_E_CONNECT)
        #expect(clock.now - start >= .milliseconds(300))
    }

    @Test func aFullListenBacklogIsRetriedOnlyUntilTheConnectTimeout() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        // Stopped, the daemon accepts nothing: fill its backlog until a connect is refused.
        try daemon.pause()
        var queued = [Int32]()
        defer { for fd in queued { close(fd) } }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in daemon.socket.utf8.enumerated() where i < raw.count - 1 { raw[i] = byte }
        }
        var full = false
        for _ in 0..<1000 where !full {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            let r = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            if r == 0 { queued.append(fd) } else { full = errno == EAGAIN; close(fd) }
        }
        #expect(full, "the backlog never filled")
        let clock = ContinuousClock()
        let start = clock.now
        // (With a call time limit: were it let in, its handshake must not wait for ever.)
        let refused = CClient.connect(socket: daemon.socket, connectTimeout: 200, ioTimeout: 2000)
        let waited = clock.now - start
        daemon.resume()
        #expect(refused.status == LLFREE_E_CONNECT)
        #expect(refused.message.contains("Resource temporarily unavailable"), "\(refused.message)")
        #expect(waited >= .milliseconds(200) && waited < .seconds(10))
        for fd in queued { close(fd) }
        queued = []
        #expect(CClient.connect(socket: daemon.socket, connectTimeout: 10_000).status == LLFREE_OK)
    }

    // Root only: the daemon runs as nobody (setpriv) and admits only nobody, the test as root.
    @Test(.enabled(if: runsAsRoot, "needs root to run the daemon as another user"))
    func aRefusedPeerGetsACCESS_DENIEDWithTheDaemonsReason() throws {
        let daemon = try DaemonProcess(extra: ["--allow-uid", "65534", "--socket-mode", "0666"], user: 65534)
        defer { daemon.remove() }
        let refused = CClient.connect(socket: daemon.socket, owner: "c-refused")
        #expect(refused.status == LLFREE_E_ACCESS_DENIED && refused.client == nil)
        #expect(refused.message.contains("uid 0"), "\(refused.message)")
    }

    @Test func badArgumentsAreRefusedBeforeAnythingIsSent() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let c = try CClient.connected(daemon, owner: "c-args", flags: Int(LLFREE_CONNECT_OPEN_PATH))
        var before = llfree_stats()
        #expect(llfree_stats_get(c.pointer, &before) == LLFREE_OK)

        var frames = [UInt64](repeating: 0, count: 4)
        var served = 0, count = 0
        var next: UInt64 = 0
        var free = false
        var address: UnsafeMutableRawPointer? = nil
        let long = String(repeating: "n", count: 65)
        let refusals: [(String, llfree_status)] = [
            ("get count 0", llfree_get(c.pointer, 0, 0, LLFREE_KIND_FIXED, &frames, &served, nil)),
            ("get order 64", llfree_get(c.pointer, 64, 1, LLFREE_KIND_FIXED, &frames, &served, nil)),
            ("get kind 3", llfree_get(c.pointer, 0, 1, llfree_kind(rawValue: 3), &frames, &served, nil)),
            ("get frames NULL", llfree_get(c.pointer, 0, 1, LLFREE_KIND_FIXED, nil, &served, nil)),
            ("put count 0", llfree_put(c.pointer, 0, frames, 0, nil, nil)),
            ("put order 64", llfree_put(c.pointer, 64, frames, 1, nil, nil)),
            ("is-free order 64", llfree_is_free(c.pointer, 0, 64, &free)),
            ("list limit 0", llfree_list(c.pointer, nil, 0, 0, &frames, &count, &next)),
            ("list limit 16385", llfree_list(c.pointer, nil, 0, 16385, &frames, &count, &next)),
            ("list name of 65 bytes", llfree_list(c.pointer, long, 0, 4, &frames, &count, &next)),
            ("release name of 65 bytes", llfree_release(c.pointer, long, nil, nil)),
            ("root-get NULL", llfree_root_get(c.pointer, nil)),
            ("stats NULL", llfree_stats_get(c.pointer, nil)),
            ("map count 0", llfree_map(c.pointer, 0, 0, Int32(LLFREE_MAP_READ), &address)),
            ("map past the pool", llfree_map(c.pointer, 16383, 2, Int32(LLFREE_MAP_READ), &address)),
            ("map prot 0", llfree_map(c.pointer, 0, 1, 0, &address)),
            ("map prot 8", llfree_map(c.pointer, 0, 1, Int32(LLFREE_MAP_READ) | 8, &address)),
            ("ping NULL", llfree_ping(nil)),
        ]
        for (what, status) in refusals { #expect(status == LLFREE_E_INVALID_ARGUMENT, "\(what)") }
        #expect(address == nil)

        // None of them reached the daemon: the next stats is the next request it answers.
        var after = llfree_stats()
        #expect(llfree_stats_get(c.pointer, &after) == LLFREE_OK)
        #expect(after.requests_answered == before.requests_answered + 1)

        // And at connect: an owner name too long, unknown flags, an options struct of another size.
        #expect(CClient.connect(socket: daemon.socket, owner: long).status == LLFREE_E_INVALID_ARGUMENT)
        #expect(CClient.connect(socket: daemon.socket, owner: "").status == LLFREE_E_INVALID_ARGUMENT)
        #expect(CClient.connect(socket: daemon.socket, flags: 1 << 9).status == LLFREE_E_INVALID_ARGUMENT)
        #expect(CClient.connect(socket: String(repeating: "s", count: 200)).status == LLFREE_E_INVALID_ARGUMENT)
        var options = llfree_connect_options()
        llfree_connect_options_init(&options)
        options.size = 8
        var client: OpaquePointer? = nil
        #expect(llfree_connect(&options, &client) == LLFREE_E_INVALID_ARGUMENT && client == nil)
        #expect(CClient.message.contains("llfree_connect_options_init"))
    }

    @Test func theDaemonsRefusalsKeepTheirWireCodesAndReasons() throws {
        let daemon = try DaemonProcess()  // geometry limit: order 14
        defer { daemon.remove() }
        let c = try CClient.connected(daemon, owner: "c-refusals")
        var frames = [UInt64](repeating: 0, count: 1)
        var served = 7
        #expect(llfree_get(c.pointer, 20, 1, LLFREE_KIND_FIXED, &frames, &served, nil) == LLFREE_E_INVALID_ORDER)
        #expect(served == 7, "unchanged on an error")
        #expect(CClient.message.hasPrefix("llfreed refused the get: "))
        var free = false
        #expect(llfree_is_free(c.pointer, 3, 1, &free) == LLFREE_E_MISALIGNED)
        #expect(llfree_is_free(c.pointer, 1 << 30, 0, &free) == LLFREE_E_INVALID_FRAME)
        var count = 0
        var next: UInt64 = 0
        #expect(llfree_list(c.pointer, "nobody-of-that-name", 0, 1, &frames, &count, &next) == LLFREE_E_UNKNOWN_OWNER)

        // At connect: an attach refused is the connect's error, and no client is made.
        let unknown = CClient.connect(socket: daemon.socket, owner: "c-absent", flags: Int(LLFREE_CONNECT_NO_CREATE))
        #expect(unknown.status == LLFREE_E_UNKNOWN_OWNER && unknown.client == nil)
        #expect(unknown.message.contains("attach"))
        let busy = CClient.connect(socket: daemon.socket, owner: "c-refusals", kind: LLFREE_OWNER_EPHEMERAL)
        #expect(busy.status == LLFREE_E_OWNER_BUSY)
    }

    @Test func aDaemonThatDoesNotAnswerInTimeIsATimeoutAndTheNextCallConnectsAgain() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let c = try CClient.connected(daemon, owner: "c-slow", ioTimeout: 300)
        try daemon.pause()
        let status = llfree_ping(c.pointer)
        let message = CClient.message
        daemon.resume()
        #expect(status == LLFREE_E_TIMEOUT)
        #expect(message.contains("300 ms"), "\(message)")
        // The timed-out connection was dropped (its late reply cannot be matched): a new one serves.
        #expect(llfree_ping(c.pointer) == LLFREE_OK)
    }

    @Test func everyStatusHasAName() {
        let named: [llfree_status] = (0...22).map { llfree_status(rawValue: UInt32($0)) } + (0...8).map { llfree_status(rawValue: 0x10000 + UInt32($0)) }
        let names = named.map { String(cString: llfree_strerror($0)) }
        #expect(Set(names).count == named.count, "\(names)")
        // The daemon's codes have the names the Swift side gives them.
        for code in ErrorCode.allCases {
            #expect(String(cString: llfree_strerror(llfree_status(rawValue: UInt32(code.rawValue)))) == code.description)
        }
        #expect(String(cString: llfree_strerror(llfree_status(rawValue: 99))).contains("daemon"))
        #expect(String(cString: llfree_strerror(llfree_status(rawValue: 0x20000))) == "unknown status")
    }
}
