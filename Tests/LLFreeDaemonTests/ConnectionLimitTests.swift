// Idle connections cannot use up the daemon's file descriptors: beyond its caps (1024 per uid,
// and RLIMIT_NOFILE less a reserve in all) a connection is answered with an error that says why
// and closed, the connections already open are served as before, the daemon does not spin, and a
// client is served promptly once there is room (or at once if it is another user).

import Foundation
import LLFreeTestSupport
import LLFreeClient
import LLFreeProtocol
import Testing

@Suite(.serialized) struct ConnectionLimitTests {
    /// What became of a connection: served, refused (with the reply's message), or neither.
    enum Fate: Equatable {
        case served
        case refused(String)
        case other(String)
    }

    /// Connects, pings, and reports what happened.
    static func fate(of raw: RawConnection, id: UInt64) -> Fate {
        raw.send(RequestMessage(id: id, .ping))
        switch raw.receive(timeout: 5) {
        case .reply(let reply) where reply == ReplyMessage(id: id, .ping):
            return .served
        case .reply(let reply):
            guard case .error(_, let error) = reply.reply, error.code == .accessDenied else { return .other("\(reply)") }
            #expect(raw.receive() == .closed, "a refused connection is closed")
            return .refused(error.message)
        case let outcome:
            return .other("\(outcome)")
        }
    }

    /// CPU seconds (user + system) the process has used, from /proc.
    static func cpuSeconds(_ pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return -1 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // Fields after the command: state is 0, utime 11, stime 12 (in clock ticks).
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return -1 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Descriptors the process has open now, from /proc: what the daemon's closing of a
    /// connection can be waited for by.
    static func openDescriptors(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    @Test func beyondTheDescriptorLimitConnectionsAreRefusedWithAReason() throws {
        // 96 descriptors: the daemon keeps 64 for itself, so it holds at most 32 connections.
        let daemon = try DaemonProcess(threads: 1, launcher: ["/usr/bin/prlimit", "--nofile=96:96", "--"])
        defer { daemon.remove() }
        #expect(daemon.log.contains("max connections=32"), "\(daemon.log)")
        var held = [RawConnection]()
        var refusals = [String]()
        for id in 1...60 {
            let raw = try RawConnection(daemon.socket)
            switch Self.fate(of: raw, id: UInt64(id)) {
            case .served: held.append(raw)
            case .refused(let why): refusals.append(why)
            case .other(let what): Issue.record("connection \(id): \(what)")
            }
        }
        #expect(held.count == 32)
        #expect(refusals.count == 28)
        #expect(refusals.allSatisfy { $0.contains("file-descriptor limit is 96") }, "\(refusals.first ?? "")")
        // Those served stay served, promptly, and the daemon is idle, not retrying accept.
        let cpu = Self.cpuSeconds(daemon.process.processIdentifier)
        let clock = ContinuousClock()
        for (i, raw) in held.enumerated() {
            let start = clock.now
            #expect(raw.roundTrip(RequestMessage(id: 1000 + UInt64(i), .ping)) == .reply(ReplyMessage(id: 1000 + UInt64(i), .ping)))
            #expect(clock.now - start < .milliseconds(500))
        }
        // The window the CPU time is measured over: idleness is the property, not a wait.
        Thread.sleep(forTimeInterval: 1)
        #expect(Self.cpuSeconds(daemon.process.processIdentifier) - cpu < 0.3, "the daemon kept a CPU busy while at its limit")
        // Once some leave, a new client is served at once.
        let pid = daemon.process.processIdentifier
        let before = Self.openDescriptors(pid)
        held.removeLast(4)
        #expect(waitUntil { Self.openDescriptors(pid) <= before - 4 }, "the daemon did not close the connections that left")
        let start = clock.now
        let fresh = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { fresh.close() }
        try fresh.ping()
        #expect(clock.now - start < .seconds(1))
        #expect(try fresh.stats().clientsRefused == 28)
    }

    // Root only: the other user's client runs as nobody (setpriv).
    @Test(.enabled(if: runsAsRoot, "needs root to run a client as another user"))
    func oneUserCannotHoldMoreThanItsShare() throws {
        // Root fills its 1024 connections; nobody (uid 65534) is still served.
        let daemon = try DaemonProcess(threads: 2, extra: ["--allow-uid", "0", "--allow-uid", "65534", "--socket-mode", "0666"])
        defer { daemon.remove() }
        var held = [RawConnection]()
        for _ in 0..<1024 { held.append(try RawConnection(daemon.socket)) }
        for (i, raw) in held.enumerated() {
            #expect(raw.roundTrip(RequestMessage(id: UInt64(i), .ping)) == .reply(ReplyMessage(id: UInt64(i), .ping)), "connection \(i)")
        }
        let excess = try RawConnection(daemon.socket)
        guard case .refused(let why) = Self.fate(of: excess, id: 5000) else {
            Issue.record("the 1025th connection of uid 0 was not refused")
            return
        }
        #expect(why.contains("uid 0 already has 1024 connections open"), "\(why)")
        // Another user is served while uid 0 is at its cap.
        let ctl = URL(fileURLWithPath: DaemonProcess.binary).deletingLastPathComponent().appendingPathComponent("llfree-ctl").path
        let other = Process()
        other.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        other.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", ctl, "status", "--socket", daemon.socket]
        let output = Pipe()
        other.standardOutput = output
        other.standardError = output
        let clock = ContinuousClock()
        let start = clock.now
        try other.run()
        other.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(other.terminationStatus == 0, "\(text)")
        #expect(text.contains("serving"), "\(text)")
        #expect(clock.now - start < .seconds(5))
        // And uid 0 gets a connection again once it closes one.
        let pid = daemon.process.processIdentifier
        let before = Self.openDescriptors(pid)
        held.removeLast()
        #expect(waitUntil { Self.openDescriptors(pid) <= before - 1 }, "the daemon did not close the connection that left")
        let again = try RawConnection(daemon.socket)
        #expect(Self.fate(of: again, id: 6000) == .served)
    }
}
