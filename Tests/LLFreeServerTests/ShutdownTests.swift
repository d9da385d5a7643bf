// Graceful shutdown in process, where its steps can be observed: a connection accepted while the
// listener is closing is drained like the others.

import Foundation
import LLFreeTestSupport
import LLFree
import LLFreeClient
import LLFreeProtocol
import Logging
import NIOConcurrencyHelpers
import Testing
@testable import LLFreeServer

@Suite(.serialized) struct ShutdownTests {
    let directory: String

    init() throws {
        directory = try VolatileAllocator.makeDirectory("llfreed-shutdown")
    }

    @Test func aConnectionAcceptedWhileShuttingDownIsDrained() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let memory = try VolatileAllocator(frames: 16 * 512)
        let server = try memory.server(in: directory)
        try await server.start()
        let early = try RawConnection(directory + "/llfreed.sock")
        #expect(early.roundTrip(RequestMessage(id: 1, .ping)) == .reply(ReplyMessage(id: 1, .ping)))
        // The window between shutdown beginning and the listener closing: the shutdown has
        // looked at the open connections (here: none new), and one more is accepted.
        server.state.beginShutdown()
        let late = try RawConnection(directory + "/llfreed.sock")
        late.send(RequestMessage(id: 2, .get(order: 0, count: 10, kind: .fixed)))
        let refusal = ReplyMessage(id: 2, .error(op: Operation.get.rawValue,
            ReplyError(.shuttingDown, "the daemon is shutting down; the request was not served")))
        #expect(late.receive(timeout: 30) == .reply(refusal), "a connection accepted during shutdown was served instead of drained")
        #expect(late.receive(timeout: 30) == .closed, "a drained connection was not closed")
        #expect(memory.llfree.freeFrames == 16 * 512, "a request was served during shutdown")
        // Counted, not timed (a loaded test machine can take seconds to do anything): no
        // connection may be left for the forced close at the timeout.
        let summary = await server.shutdown(timeout: .seconds(60))
        #expect(summary.closedAtTimeout == 0, "shutdown had to force-close a connection it had not drained")
        #expect(early.receive() == .closed)
    }
}
