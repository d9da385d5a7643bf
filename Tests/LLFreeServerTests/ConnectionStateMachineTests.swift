// The connection's rules, event by event, without a socket: what is answered, what is refused,
// when reading resumes and when the connection closes.

import LLFreeProtocol
import NIOCore
import Testing
@testable import LLFreeServer

@Suite struct ConnectionStateMachineTests {
    let ping = DecodedRequest.request(RequestMessage(id: 1, .ping))
    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func admitted() -> ConnectionStateMachine {
        var machine = ConnectionStateMachine(linger: .milliseconds(200))
        guard case .admit(drain: false) = machine.activated(refusal: nil, shuttingDown: false) else {
            Issue.record("an admitted peer was not admitted")
            return machine
        }
        return machine
    }

    @Test func aRefusedPeerIsAnsweredNothing() {
        var machine = ConnectionStateMachine(linger: .milliseconds(200))
        guard case .refuse("no") = machine.activated(refusal: "no", shuttingDown: false) else {
            Issue.record("a refused peer was admitted")
            return
        }
        guard case .ignore = machine.read(ping, now: t0) else { Issue.record("a refused peer's request was queued"); return }
    }

    @Test func aPeerAcceptedDuringShutdownDrainsAtOnce() {
        var machine = ConnectionStateMachine(linger: .milliseconds(200))
        guard case .admit(drain: true) = machine.activated(refusal: nil, shuttingDown: true) else {
            Issue.record("a connection accepted during shutdown was not told to drain")
            return
        }
    }

    @Test func requestsAreAnsweredInOrderThenReadingResumes() {
        var machine = admitted()
        let step1 = machine.readRequested(writable: true)
        #expect(step1, "an idle connection reads")
        _ = machine.read(ping, now: t0)
        let step2 = machine.readRequested(writable: true)
        #expect(!step2, "read while a request waits")
        let step3 = machine.next(writable: true)
        #expect(step3.0 == .answer)
        let step4 = machine.next(writable: true)
        #expect(step4.0 == .read, "the held read was not resumed")
        let step5 = machine.next(writable: true)
        #expect(step5.0 == .wait)
    }

    @Test func aClientThatDoesNotReadItsRepliesIsNotRead() {
        var machine = admitted()
        _ = machine.read(ping, now: t0)
        let step6 = machine.next(writable: false)
        #expect(step6.0 == .wait, "answered into a full socket")
        let step7 = machine.readRequested(writable: false)
        #expect(!step7)
        let step8 = machine.next(writable: true)
        #expect(step8.0 == .answer)
        let step9 = machine.next(writable: true)
        #expect(step9.0 == .read)
    }

    @Test func nothingIsAnsweredPastAStatsWaitingForItsScan() {
        var machine = admitted()
        _ = machine.read(ping, now: t0)
        machine.scanStarted()
        let step10 = machine.next(writable: true)
        #expect(step10.0 == .wait)
        let step11 = machine.scanFinished()
        #expect(step11)
        let step12 = machine.next(writable: true)
        #expect(step12.0 == .answer)
    }

    @Test func afterAHalfCloseWhatWasReadIsAnsweredThenTheConnectionCloses() {
        var machine = admitted()
        _ = machine.read(ping, now: t0)
        machine.inputClosed()
        let step13 = machine.next(writable: true)
        #expect(step13.0 == .answer)
        let step14 = machine.next(writable: true)
        #expect(step14.0 == .finish)
    }

    @Test func aDrainAnswersWhatWasReadAndRefusesWhatFollows() {
        var machine = admitted()
        _ = machine.read(ping, now: t0)
        let step15 = machine.drain(now: t0)
        #expect(step15)
        let step16 = machine.drain(now: t0)
        #expect(!step16, "drained twice")
        // Read before the drain: answered even into a full socket.
        let step17 = machine.next(writable: false)
        #expect(step17.0 == .answer)
        let step18 = machine.next(writable: true)
        #expect(step18.0 == .linger)
        guard case .refuseShuttingDown = machine.read(ping, now: t0 + .milliseconds(50)) else {
            Issue.record("a request read after the drain was not refused")
            return
        }
        let step19 = machine.next(writable: true)
        #expect(step19.0 == .linger, "a refused request was queued")
    }

    @Test func aDrainingConnectionClosesOnlyOnceQuietAndEmpty() {
        var machine = admitted()
        let step20 = machine.drain(now: t0)
        #expect(step20)
        _ = machine.read(ping, now: t0 + .milliseconds(100))
        let step21 = machine.lingerExpired(now: t0 + .milliseconds(200), unread: false)
        #expect(step21 == .rearm(t0 + .milliseconds(300)),
                "closed 100 ms after the client last sent")
        let step22 = machine.lingerExpired(now: t0 + .milliseconds(300), unread: true)
        #expect(step22 == .rearm(t0 + .milliseconds(500)),
                "closed with bytes unread in the socket")
        let step23 = machine.lingerExpired(now: t0 + .milliseconds(500), unread: false)
        #expect(step23 == .finish)
        guard case .ignore = machine.read(ping, now: t0 + .milliseconds(501)) else { Issue.record("read after the close began"); return }
    }

    @Test func aFatalErrorStopsEverything() {
        var machine = admitted()
        _ = machine.read(ping, now: t0)
        machine.stop()
        let step24 = machine.next(writable: true)
        #expect(step24.0 == .wait)
        let step25 = machine.readRequested(writable: true)
        #expect(!step25)
        let step26 = machine.lingerExpired(now: t0, unread: false)
        #expect(step26 == .none)
    }
}
