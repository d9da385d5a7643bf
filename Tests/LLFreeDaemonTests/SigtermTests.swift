// SIGTERM answers every request exactly once: what the daemon read before the stop is served and
// answered, what it reads after it is refused with shuttingDown, and only then does the
// connection close. A request the client wrote is never lost without a reply.

import Foundation
import LLFreeTestSupport
import LLFreeProtocol
import Testing

@Suite(.serialized) struct SigtermTests {
    /// What one pipelining connection saw across the signal.
    final class Transcript: @unchecked Sendable {
        private let lock = NSLock()
        private var _served = 0
        private var _refused = 0
        private var _problems: [String] = []
        private var _ended = false
        var served: Int { lock.withLock { _served } }
        var refused: Int { lock.withLock { _refused } }
        var replies: Int { lock.withLock { _served + _refused } }
        var problems: [String] { lock.withLock { _problems } }
        var ended: Bool { lock.withLock { _ended } }
        func serve() { lock.withLock { _served += 1 } }
        func refuse() { lock.withLock { _refused += 1 } }
        func problem(_ text: String) { lock.withLock { if _problems.count < 10 { _problems.append(text) } } }
        func end() { lock.withLock { _ended = true } }
    }

    @Test func aPipeliningConnectionGetsAReplyToEveryRequestItWroteAcrossSIGTERM() throws {
        let daemon = try DaemonProcess(size: "1G", threads: 1)
        defer { daemon.remove() }
        let raw = try RawConnection(daemon.socket)
        let transcript = Transcript()
        // The requests, pings and gets of one frame alternately, and where each one's bytes end.
        let total = 400_000
        var encoded = [UInt8]()
        var requestEnds = [Int]()
        requestEnds.reserveCapacity(total)
        for id in 1...total {
            let request: Request = id % 2 == 0 ? .get(order: 0, count: 1, kind: .fixed) : .ping
            encoded += WireCodec.encode(RequestMessage(id: UInt64(id), request))
            requestEnds.append(encoded.count)
        }
        let bytes = encoded
        let ends = requestEnds
        // The reader: replies must come in id order, served ones first, then only refusals.
        let reader = Thread {
            var expected: UInt64 = 1
            while true {
                guard case .reply(let reply) = raw.receive(timeout: 60) else { break }
                if reply.id != expected { transcript.problem("reply \(reply.id) where \(expected) was due") }
                expected = reply.id + 1
                switch reply.reply {
                case .error(_, let error) where error.code == .shuttingDown:
                    transcript.refuse()
                case .error(_, let error):
                    transcript.problem("request \(reply.id): \(error)")
                default:
                    if transcript.refused > 0 { transcript.problem("request \(reply.id) was served after a refusal") }
                    transcript.serve()
                }
            }
            transcript.end()
        }
        reader.start()
        // The writer: sends as fast as the daemon reads, as a well-behaved client does until it
        // sees its first shuttingDown, and counts the requests whose every byte was accepted.
        let written = SharedCounter()
        let writer = Thread {
            var offset = 0
            var complete = 0
            while offset < bytes.count && transcript.refused == 0 {
                let chunk = min(4096, bytes.count - offset)
                let n = bytes[offset..<(offset + chunk)].withUnsafeBytes { send(raw.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { break }
                offset += n
                while complete < ends.count && ends[complete] <= offset {
                    complete += 1
                    written.increment()
                }
            }
            written.finish()
        }
        writer.start()
        #expect(waitUntil(timeout: .seconds(60)) { transcript.replies >= 20_000 }, "the daemon did not answer 20,000 requests within 60 s")
        kill(daemon.process.processIdentifier, SIGTERM)
        #expect(waitUntil(timeout: .seconds(60)) { written.finished && transcript.ended }, "the connection did not end within 60 s of SIGTERM")
        daemon.process.waitUntilExit()
        #expect(daemon.process.terminationStatus == 0)
        #expect(transcript.problems.isEmpty, "\(transcript.problems)")
        #expect(transcript.refused > 0, "no request was refused with shuttingDown (\(transcript.served) served of \(written.value) written)")
        #expect(transcript.replies == written.value,
                "\(written.value) requests written, \(transcript.served) served and \(transcript.refused) refused: \(written.value - transcript.replies) lost")
    }

    @Test func idleConnectionsThatSendRightAfterSIGTERMGetAReply() throws {
        let daemon = try DaemonProcess(size: "64M", threads: 2)
        defer { daemon.remove() }
        let connections = try (0..<16).map { _ in try RawConnection(daemon.socket) }
        // Admitted and idle.
        for (i, c) in connections.enumerated() {
            #expect(c.roundTrip(RequestMessage(id: UInt64(i), .ping)) == .reply(ReplyMessage(id: UInt64(i), .ping)))
        }
        kill(daemon.process.processIdentifier, SIGTERM)
        // The listener is closed and its file removed just before the open connections are told
        // to drain: send once the stop has surely begun.
        #expect(waitUntil(timeout: .seconds(30)) { !FileManager.default.fileExists(atPath: daemon.socket) }, "the daemon did not begin its stop")
        for (i, c) in connections.enumerated() { c.send(RequestMessage(id: UInt64(100 + i), .ping)) }
        for (i, c) in connections.enumerated() {
            let outcome = c.receive(timeout: 30)
            switch outcome {
            case .reply(let reply):
                #expect(reply.id == UInt64(100 + i))
                let answered = reply.reply == .ping
                let refused: Bool
                if case .error(_, let error) = reply.reply, error.code == .shuttingDown { refused = true } else { refused = false }
                #expect(answered || refused, "connection \(i): \(reply)")
            default:
                Issue.record("connection \(i): a ping sent right after SIGTERM got no reply (\(outcome))")
            }
            #expect(c.receive(timeout: 30) == .closed, "connection \(i) was not closed after the drain")
        }
        daemon.process.waitUntilExit()
        #expect(daemon.process.terminationStatus == 0)
    }
}
