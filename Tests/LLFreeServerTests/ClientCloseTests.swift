// LLFreeClient.close() while a connection is being made: the connection, once made, is closed
// at once and the connect fails with .closed, instead of being kept open by a closed client.
// BlockingLLFreeClient.close() from another thread wakes a call waiting for a reply.

import Foundation
@testable import LLFreeClient
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@Suite(.serialized) struct ClientCloseTests {
    @Test func closeDuringAConnectClosesTheNewConnection() throws {
        let daemon = try DaemonProcess(size: "16M")
        defer { daemon.remove() }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        // Hold the client's only event loop so that the connect cannot complete before close().
        let gate = DispatchSemaphore(value: 0)
        group.next().execute { gate.wait() }
        let client = LLFreeClient(socketPath: daemon.socket, group: group)
        let connecting = client.channel()
        let closing = client.closeChannel()
        gate.signal()
        #expect(throws: ClientError.closed) { _ = try connecting.wait() }
        try closing.wait()
        // The daemon sees only the checker's connection once the closed one is gone.
        let checker = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { checker.close() }
        var open = UInt32.max
        for _ in 0..<100 {
            open = try checker.stats().clientsConnected
            if open == 1 { break }
            usleep(20_000)
        }
        #expect(open == 1)
        let blocking = BlockingLLFreeClient(socketPath: daemon.socket)
        try blocking.ping()
        blocking.close()
        #expect(throws: ClientError.closed) { try blocking.ping() }
    }

    @Test func blockingCloseWakesACallWaitingForAReply() throws {
        // A listener that accepts and never answers: the call waits until close() wakes it.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("llfreed-mute-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/mute.sock"
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(listener) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0 && listen(listener, 4) == 0)

        let client = BlockingLLFreeClient(socketPath: path)
        let outcome = NIOLockedValueBox<Result<Void, ClientError>?>(nil)
        let caller = Thread {
            do throws(ClientError) {
                try client.ping()
                outcome.withLockedValue { $0 = .success(()) }
            } catch {
                outcome.withLockedValue { $0 = .failure(error) }
            }
        }
        caller.start()
        Thread.sleep(forTimeInterval: 0.2)
        #expect(outcome.withLockedValue { $0 } == nil, "the ping returned although nobody answered")
        // Closed from a third thread, so that a close() that waited for the call would fail this
        // test instead of hanging it.
        Thread { client.close() }.start()
        let deadline = Date().addingTimeInterval(10)
        while outcome.withLockedValue({ $0 }) == nil && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        guard case .failure(.connectionLost) = outcome.withLockedValue({ $0 }) else {
            Issue.record("close() did not fail the waiting call with connectionLost: \(String(describing: outcome.withLockedValue { $0 }))")
            return
        }
        Thread.sleep(forTimeInterval: 0.05)
        #expect(throws: ClientError.closed) { try client.ping() }
    }
}
