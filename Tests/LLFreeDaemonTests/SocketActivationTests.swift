// Socket activation with real descriptors: a listening Unix socket passed the way systemd passes
// it is found, checked and served by the server; anything else is refused or ignored.

import Foundation
import LLFreeTestSupport
import LLFree
import LLFreeClient
import LLFreeServer
import LLFreeDaemon
import Logging
import XCTest

final class SocketActivationTests: XCTestCase {
    var directory = ""

    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("llfreed-act-\(UUID().uuidString.prefix(8))").path
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    /// A Unix socket of `type` bound at `path`, listening if `listen`.
    func makeSocket(_ path: String, type: Int32 = Int32(SOCK_STREAM.rawValue), listen shouldListen: Bool = true) throws -> Int32 {
        let fd = socket(AF_UNIX, type, 0)
        var sa = sockaddr_un()
        sa.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &sa.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        let r = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard r == 0 else { throw TestFailure("bind: \(String(cString: strerror(errno)))") }
        if shouldListen { guard listen(fd, 16) == 0 else { throw TestFailure("listen") } }
        return fd
    }

    func environment(count: Int = 1, pid: Int32 = getpid()) -> [String: String] {
        ["LISTEN_PID": "\(pid)", "LISTEN_FDS": "\(count)", "LISTEN_FDNAMES": "llfreed"]
    }

    func testAPassedListeningSocketIsAdoptedAndServed() async throws {
        let path = directory + "/activated.sock"
        let fd = try makeSocket(path)
        let passed = try XCTUnwrap(try SocketActivation.listener(environment: environment(), first: fd))
        XCTAssertEqual(passed, PassedSocket(descriptor: fd, path: path, name: "llfreed"))
        XCTAssertNotEqual(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0, "a passed socket must not leak into children")

        let memory = try VolatileAllocator(frames: 16 * 512)
        let configuration = ServerConfiguration(socketPath: directory + "/unused.sock", threads: 2, passedSocket: passed)
        let server = try LLFreeServer(allocator: memory.llfree, pool: VolatileAllocator.pool, configuration: configuration,
                                      logger: Logger(label: "test"))
        try await server.start()
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/unused.sock"), "socket.path is not bound when a socket is passed")
        let client = BlockingLLFreeClient(socketPath: path)
        try client.ping()
        let got = try client.get(order: 0, count: 3)
        XCTAssertEqual(got.frames.count, 3)
        client.close()
        await server.shutdown()
        XCTAssertTrue(FileManager.default.fileExists(atPath: path), "the socket file is systemd's and stays")
    }

    func testVariablesForAnotherProcessOrNoneAreIgnored() throws {
        let fd = try makeSocket(directory + "/other.sock")
        defer { close(fd) }
        XCTAssertNil(try SocketActivation.listener(environment: [:], first: fd))
        XCTAssertNil(try SocketActivation.listener(environment: environment(pid: getpid() + 1), first: fd))
        XCTAssertNil(try SocketActivation.listener(environment: environment(count: 0), first: fd))
    }

    func testUnusableDescriptorsAreRefused() throws {
        let datagram = try makeSocket(directory + "/dgram.sock", type: Int32(SOCK_DGRAM.rawValue), listen: false)
        defer { close(datagram) }
        XCTAssertThrowsError(try SocketActivation.listener(environment: environment(), first: datagram)) { error in
            guard case SocketActivationError.notUsable(datagram, let why) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(why.contains("not a stream socket"), why)
        }
        let idle = try makeSocket(directory + "/idle.sock", listen: false)
        defer { close(idle) }
        XCTAssertThrowsError(try SocketActivation.listener(environment: environment(), first: idle)) { error in
            XCTAssertEqual(error as? SocketActivationError, .notUsable(idle, "not listening"))
        }
        let file = open(directory + "/plain", O_CREAT | O_RDWR, 0o600)
        defer { close(file) }
        XCTAssertThrowsError(try SocketActivation.listener(environment: environment(), first: file)) { error in
            XCTAssertEqual(error as? SocketActivationError, .notUsable(file, "not a socket"))
        }
        let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(tcp) }
        XCTAssertThrowsError(try SocketActivation.listener(environment: environment(), first: tcp)) { error in
            XCTAssertEqual(error as? SocketActivationError, .notUsable(tcp, "not an AF_UNIX socket"))
        }
        let listening = try makeSocket(directory + "/two.sock")
        defer { close(listening) }
        XCTAssertThrowsError(try SocketActivation.listener(environment: environment(count: 2), first: listening)) { error in
            guard case SocketActivationError.malformed = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try SocketActivation.listener(environment: ["LISTEN_PID": "x", "LISTEN_FDS": "1"], first: listening))
    }
}
