// `llfree-ctl bench-clients`: the round trip of the C client (libllfree-client) beside the Swift
// blocking client's and the transport's floor, interleaved in one run so that the shared
// machine's drift hits all of them alike. The floor is a ping-pong of 16-byte messages over a
// socketpair between two threads of this process: the same two wake-ups per round trip as a
// request to the daemon, with no protocol and no allocator. Then the C client's two answers to
// threads: two threads sharing one client (its lock serialises them) against a client each.

import ArgumentParser
import CLLFreeClient
import Foundation
import Histogram
import LLFreeClient

struct ClientsBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-clients",
        abstract: "Round trips of the C client, the Swift blocking client and a socketpair floor, in one run.",
        discussion: "Rounds of each kind alternate (ping, and get+put of one frame, for each client; the floor's ping-pong). Then pings/s of two threads sharing one C client against two threads with a C client each.")

    @OptionGroup var connection: SocketOptions

    @Option(help: "Round trips of each kind (the first tenth warms up).")
    var rounds = 20000

    @Option(help: "Seconds of each threads run (0 skips them).")
    var duration = 1.0

    func run() throws {
        guard rounds >= 10 else { throw ValidationError("--rounds must be at least 10") }
        do {
            try measure()
        } catch let failure as OnlineFailure {
            throw failure.exit()
        }
    }

    /// One measured kind of round trip.
    private struct Kind {
        let name: String
        let step: () throws -> Void
        var histogram = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
    }

    private func measure() throws {
        // The daemon gives connections to its event loops round robin at accept, and where a
        // loop runs beside the client changes a round trip more than either client's code (see
        // README, Performance). So each client gets two connections, made in the order Swift, C,
        // C, Swift: with two loops (this machine) each client has one connection on each, and
        // its rounds alternate between them.
        let swift = [try connection.client()]
        let c = [try cClient(), try cClient()]
        let swiftClients = swift + [try connection.client()]
        defer {
            for client in swiftClients { client.close() }
            for client in c { llfree_close(client) }
        }
        let floor = try SocketPairEcho()
        defer { floor.stop() }

        var turn = 0
        func next<T>(_ clients: [T]) -> T {
            turn &+= 1
            return clients[turn & 1]
        }
        var kinds = [
            Kind(name: "socketpair ping-pong (floor)") { try floor.roundTrip() },
            Kind(name: "Swift blocking client: ping") { try next(swiftClients).ping() },
            Kind(name: "C client: ping") { try Self.check(llfree_ping(next(c)), "ping") },
            Kind(name: "Swift blocking client: get+put 1 frame") {
                let client = next(swiftClients)
                let got = try client.get(order: 0, count: 1)
                if !got.frames.isEmpty { _ = try client.put(order: 0, frames: got.frames) }
            },
            Kind(name: "C client: get+put 1 frame") {
                let client = next(c)
                var frame: UInt64 = 0
                var served = 0
                try Self.check(llfree_get(client, 0, 1, LLFREE_KIND_FIXED, &frame, &served, nil), "get")
                if served == 1 { try Self.check(llfree_put(client, 0, &frame, 1, nil, nil), "put") }
            },
        ]
        let clock = ContinuousClock()
        let block = 100
        for round in stride(from: 0, to: rounds, by: block) {
            for k in kinds.indices {
                for i in 0..<min(block, rounds - round) {
                    let t0 = clock.now
                    try kinds[k].step()
                    if round + i >= rounds / 10 { _ = kinds[k].histogram.record(nanoseconds(clock.now - t0)) }
                }
            }
            if round % 2000 == 0 { FileHandleOutput.progress("round trips: \(round)/\(rounds) of each kind") }
        }
        FileHandleOutput.progress("")
        let floorP50 = Double(kinds[0].histogram.valueAtPercentile(50))
        printTable(["round trip", "p50 us", "p90 us", "p99 us", "p50 / floor"], kinds.map { kind in
            [kind.name] + [50, 90, 99].map { micro(kind.histogram.valueAtPercentile($0)) }
                + [String(format: "%.2fx", Double(kind.histogram.valueAtPercentile(50)) / floorP50)]
        })
        if duration > 0 {
            print("")
            let shared = try pings(sharing: true)
            let own = try pings(sharing: false)
            printTable(["C client, 2 threads", "pings/s"], [
                ["one client shared (its lock)", String(format: "%.0f", shared)],
                ["a client per thread", String(format: "%.0f", own)],
            ])
        }
    }

    /// Pings per second of two threads for `duration`, sharing one C client or each with its own.
    private func pings(sharing: Bool) throws -> Double {
        let first = try cClient()
        let second = sharing ? first : try cClient()
        defer {
            llfree_close(first)
            if !sharing { llfree_close(second) }
        }
        let counts = CountBox()
        let stop = Date().addingTimeInterval(duration)
        let threads = [first, second].map { client in
            let handle = UnsafeSendable(client)
            return Thread {
                var n = 0
                while Date() < stop {
                    if llfree_ping(handle.value) != LLFREE_OK { break }
                    n += 1
                }
                counts.add(n)
            }
        }
        let start = Date()
        for thread in threads { thread.start() }
        while counts.finished < 2 { Thread.sleep(forTimeInterval: 0.01) }
        return Double(counts.total) / Date().timeIntervalSince(start)
    }

    private func cClient() throws -> OpaquePointer {
        var options = llfree_connect_options()
        llfree_connect_options_init(&options)
        options.flags = UInt32(LLFREE_CONNECT_NO_FRAMES)
        var client: OpaquePointer? = nil
        let status = connection.path.withCString { path in
            options.socket_path = path
            return llfree_connect(&options, &client)
        }
        guard status == LLFREE_OK, let client else {
            throw OnlineFailure("the C client cannot connect: \(String(cString: llfree_last_message()))", code: 2)
        }
        return client
    }

    private static func check(_ status: llfree_status, _ what: String) throws {
        guard status == LLFREE_OK else {
            throw OnlineFailure("C client \(what): \(String(cString: llfree_strerror(status))): \(String(cString: llfree_last_message()))", code: 2)
        }
    }

    private func micro(_ ns: UInt64) -> String { String(format: "%.1f", Double(ns) / 1000) }

    private func printTable(_ header: [String], _ rows: [[String]]) {
        let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max()! }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { $0.offset == 0 ? $0.element.padding(toLength: widths[0], withPad: " ", startingAt: 0)
                : String(repeating: " ", count: widths[$0.offset] - $0.element.count) + $0.element }.joined(separator: "  ")
        }
        print(line(header))
        for row in rows { print(line(row)) }
    }
}

/// Two threads' ping counts.
private final class CountBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var total = 0
    private(set) var finished = 0
    func add(_ n: Int) { lock.withLock { total += n; finished += 1 } }
}

/// A C client handle handed to a thread (the library's lock makes sharing it safe).
private struct UnsafeSendable: @unchecked Sendable {
    let value: OpaquePointer
    init(_ value: OpaquePointer) { self.value = value }
}

/// The transport floor: a thread that echoes 16-byte messages on one end of a socketpair.
private final class SocketPairEcho: @unchecked Sendable {
    private var ends: [Int32] = [-1, -1]
    private var buffer = [UInt8](repeating: 0, count: 16)

    init() throws {
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0 else {
            throw OnlineFailure("socketpair: \(String(cString: strerror(errno)))", code: 2)
        }
        let echo = ends[1]
        Thread {
            var message = [UInt8](repeating: 0, count: 16)
            while Self.exchange(echo, &message, receiveFirst: true) {}
        }.start()
    }

    func roundTrip() throws {
        guard Self.exchange(ends[0], &buffer, receiveFirst: false) else { throw OnlineFailure("the socketpair echo stopped", code: 2) }
    }

    /// Closing our end ends the echo thread's recv.
    func stop() { close(ends[0]) }

    /// Sends then receives 16 bytes (or the other way round); false when the other end is gone.
    private static func exchange(_ fd: Int32, _ message: inout [UInt8], receiveFirst: Bool) -> Bool {
        func receive(_ message: inout [UInt8]) -> Bool {
            var done = 0
            while done < 16 {
                let n = message.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + done, 16 - done, 0) }
                if n <= 0 { return false }
                done += n
            }
            return true
        }
        func send(_ message: [UInt8]) -> Bool {
            message.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, 16, Int32(MSG_NOSIGNAL)) } == 16
        }
        if receiveFirst {
            guard receive(&message) else { close(fd); return false }
            return send(message)
        }
        return send(message) && receive(&message)
    }
}

