// LLFreeClient.close() while a connection is being made: the connection, once made, is closed
// at once and the connect fails with .closed, instead of being kept open by a closed client.

import Foundation
import LLFreeTestSupport
@testable import LLFreeClient
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
        #expect(try waitUntil { open = try checker.stats().clientsConnected; return open == 1 }, "\(open) connections open")
        let blocking = BlockingLLFreeClient(socketPath: daemon.socket)
        try blocking.ping()
        blocking.close()
        #expect(throws: ClientError.closed) { try blocking.ping() }
    }
}
