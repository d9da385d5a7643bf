// `llfree-ctl bench`: a load generator against a running llfreed. First the transport floor: a
// raw 32-byte ping-pong over a socketpair between two threads of this process (TransportFloor),
// so that every latency below is also given as a ratio to what the kernel alone costs in the same
// run. Then the round-trip latency of ping versus a single-frame get, then for each clients x
// batch combination: every client thread loops get(batch) + put(those frames) for the duration;
// a progress line while it runs, and a final table of frames/s and latency percentiles
// (HdrHistogram). With --json: one JSON object per line, one for the floor, one for the latency
// phase and one per clients x batch result; a ratio's field name ends in `_floor_ratio`, and each
// percentile is divided by the floor's same percentile. Each phase runs per transport (--transport):
// the socket, or the shared-memory ring each client's connection asks for.

import ArgumentParser
import CPUAffinity
import Foundation
import Histogram
import LLFreeClient
import LLFreeProtocol

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load-test llfreed: the transport floor, ping vs get latency, then frames/s for clients x batch.",
        discussion: "First the transport floor: a 32-byte ping-pong over a socketpair between two threads of this process with plain blocking write and read, measured in the same run; every latency is also printed as a ratio to the floor's same percentile. Every frame obtained is put back before a client stops. Each client is a thread with its own connection, doing its I/O on that thread (the blocking client); with --pin each client's thread runs on one CPU, round robin over the CPUs this process may use. With --transport ring each client asks its connection for a shared-memory ring and sends its pings, gets and puts there (--transport socket,ring measures both, one after the other). --json prints one JSON object per line: {\"result\":\"floor\"}, one {\"result\":\"latency\"} per transport and one {\"result\":\"throughput\"} per transport x clients x batch (each with a \"transport\" field), latencies in microseconds (fields ending in _us) and ratios to the floor (fields ending in _floor_ratio).")

    @OptionGroup var connection: SocketOptions

    @Option(help: "Client counts, comma-separated.")
    var clients = "1,2,4,8"

    @Option(help: "Batch sizes (runs per get and per put), comma-separated.")
    var batch = "1,16,256"

    @Option(help: "Seconds per clients x batch combination.")
    var duration = 2.0

    @Option(help: "Order of the runs.")
    var order = 0

    @Option(help: "Round trips of each kind in the ping vs get latency phase (0 skips it), and of the transport floor.")
    var latencyRounds = 20000

    @Flag(help: "Print one JSON object per result (floor, latency, each clients x batch) instead of tables.")
    var json = false

    @Flag(help: "Pin each client (its thread, which does its I/O) to a CPU, round robin.")
    var pin = false

    @Option(help: "Transports, comma-separated: socket (requests on the Unix socket), ring (the shared-memory ring each connection asks for).")
    var transport = "socket"

    func run() throws {
        let clientCounts = try list(clients, "--clients")
        let batches = try list(batch, "--batch")
        let transports = transport.split(separator: ",").map { String($0) }
        guard !transports.isEmpty, transports.allSatisfy({ BenchTransport(rawValue: $0) != nil }) else {
            throw ValidationError("--transport takes socket and ring, comma-separated, not \"\(transport)\"")
        }
        guard duration > 0 else { throw ValidationError("--duration must be positive") }
        do {
            let probe = try connection.client()
            let info = try probe.hello()
            probe.close()
            if !json {
                print("llfreed at \(connection.path): pool \(info.path), \(info.frames) frames, \(info.durability), \(info.cores) cores")
            }
            let floor = try floorPhase()
            for t in transports.compactMap(BenchTransport.init) where latencyRounds > 0 { try latencyPhase(floor: floor, transport: t) }
            var rows = [[String]]()
            for t in transports.compactMap(BenchTransport.init) {
                for k in clientCounts {
                    for b in batches {
                        rows.append(try throughput(clients: k, batch: b, floor: floor, transport: t))
                    }
                }
            }
            FileHandleOutput.progress("")
            if json { return }
            print("")
            print(pin ? "clients pinned round robin to CPUs \(CPUAffinity.allowedCPUs().map(String.init).joined(separator: ","))" : "clients not pinned")
            printTable(["transport", "clients", "batch", "order", "frames/s", "get p50 us", "get p99 us", "get p99.9 us", "put p50 us", "put p99 us",
                        "get p50/floor", "put p50/floor"], rows)
        } catch let failure as OnlineFailure {
            throw failure.exit()
        } catch {
            throw OnlineFailure("\(error)", code: 2).exit()
        }
    }

    /// The percentiles every latency is given at.
    static let percentiles: [(name: String, value: Double)] = [("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9)]

    /// Measures the transport floor and prints it.
    private func floorPhase() throws -> Histogram<UInt64> {
        FileHandleOutput.progress("transport floor: socketpair ping-pong, \(TransportFloor.messageSize) bytes")
        let floor = try TransportFloor.measure(rounds: max(latencyRounds, 2000))
        FileHandleOutput.progress("")
        if json {
            var object: [(String, JSONValue)] = [("result", .string("floor")), ("transport", .string("socketpair ping-pong, two threads, blocking write/read")),
                                                 ("bytes", .int(TransportFloor.messageSize)), ("rounds", .int(Int(floor.totalCount)))]
            for (name, value) in Self.percentiles { object.append(("\(name)_us", .micro(floor.valueAtPercentile(value)))) }
            printJSON(object)
        } else {
            print("transport floor (socketpair ping-pong, \(TransportFloor.messageSize) bytes, two threads of this process): "
                  + "p50 \(micro(floor.valueAtPercentile(50))) us, p99 \(micro(floor.valueAtPercentile(99))) us")
        }
        return floor
    }

    private func list(_ text: String, _ name: String) throws -> [Int] {
        let values = text.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 > 0 }), values.count == text.split(separator: ",").count else {
            throw ValidationError("\(name) '\(text)' is not a comma-separated list of positive numbers")
        }
        return values
    }

    /// Alternates ping and get(1)+put(1) on one connection; compares their round trips with each
    /// other and with the floor.
    private func latencyPhase(floor: Histogram<UInt64>, transport: BenchTransport) throws {
        let client = try BenchCalls(try connection.client(), transport)
        defer { client.close() }
        var ping = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
        var get = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
        let clock = ContinuousClock()
        for round in 0..<latencyRounds {
            let t0 = clock.now
            try client.ping()
            let t1 = clock.now
            let got = try client.get(order: order, count: 1)
            let t2 = clock.now
            guard !got.frames.isEmpty else { throw OnlineFailure("the pool has no free run of order \(order)", code: 1) }
            _ = try client.put(order: order, frames: got.frames)
            if round >= latencyRounds / 10 {  // the first tenth warms up
                _ = ping.record(nanoseconds(t1 - t0))
                _ = get.record(nanoseconds(t2 - t1))
            }
            if round % 2000 == 0 { FileHandleOutput.progress("latency: \(round)/\(latencyRounds) round trips") }
        }
        FileHandleOutput.progress("")
        let p50ping = Double(ping.valueAtPercentile(50)), p50get = Double(get.valueAtPercentile(50))
        if json {
            var object: [(String, JSONValue)] = [("result", .string("latency")), ("transport", .string(transport.rawValue)), ("order", .int(order)),
                                                 ("rounds", .int(Int(ping.totalCount)))]
            for (op, histogram) in [("ping", ping), ("get", get)] {
                for (name, value) in Self.percentiles { object.append(("\(op)_\(name)_us", .micro(histogram.valueAtPercentile(value)))) }
                for (name, value) in Self.percentiles {
                    object.append(("\(op)_\(name)_floor_ratio", .ratio(histogram.valueAtPercentile(value), floor.valueAtPercentile(value))))
                }
            }
            object.append(("get_p50_ping_ratio", .ratio(get.valueAtPercentile(50), ping.valueAtPercentile(50))))
            printJSON(object)
            return
        }
        print("")
        print("transport: \(transport.rawValue)")
        let columns = Self.percentiles.map(\.value)
        printTable(["round trip", "p50 us", "p90 us", "p99 us", "p99.9 us", "p50/floor", "p99/floor"], [
            ["floor (socketpair)"] + columns.map { micro(floor.valueAtPercentile($0)) } + ["1.00", "1.00"],
            ["ping"] + columns.map { micro(ping.valueAtPercentile($0)) } + [50.0, 99.0].map { ratio(ping.valueAtPercentile($0), floor.valueAtPercentile($0)) },
            ["get 1 frame"] + columns.map { micro(get.valueAtPercentile($0)) } + [50.0, 99.0].map { ratio(get.valueAtPercentile($0), floor.valueAtPercentile($0)) },
        ])
        print(String(format: "a single-frame get costs %+.1f%% over a ping (p50)", (p50get / p50ping - 1) * 100))
        print("")
    }

    /// Per-thread results of a throughput run.
    final class Worker: @unchecked Sendable {
        var get = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
        var put = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
        var failure: Error? = nil
        let lock = NSLock()
        var frames: UInt64 = 0
    }

    private func throughput(clients k: Int, batch b: Int, floor: Histogram<UInt64>, transport: BenchTransport) throws -> [String] {
        let workers = (0..<k).map { _ in Worker() }
        let stop = Date().addingTimeInterval(duration)
        let socket = connection.path
        let order = self.order
        let cpus = CPUAffinity.allowedCPUs()
        let pin = self.pin
        let threads = workers.enumerated().map { index, worker in
            Thread {
                // The blocking client does its I/O on this thread: pinning it pins the client.
                if pin { CPUAffinity.pin(to: cpus[index % cpus.count]) }
                let clock = ContinuousClock()
                do {
                    let client = try BenchCalls(BlockingLLFreeClient(socketPath: socket), transport)
                    defer { client.close() }
                    while Date() < stop {
                        let t0 = clock.now
                        let got = try client.get(order: order, count: b)
                        let t1 = clock.now
                        if !got.frames.isEmpty { _ = try client.put(order: order, frames: got.frames) }
                        let t2 = clock.now
                        _ = worker.get.record(nanoseconds(t1 - t0))
                        _ = worker.put.record(nanoseconds(t2 - t1))
                        worker.lock.lock()
                        worker.frames += UInt64(got.frames.count)
                        worker.lock.unlock()
                    }
                } catch {
                    worker.failure = error
                }
            }
        }
        let start = Date()
        for thread in threads { thread.start() }
        while Date() < stop {
            Thread.sleep(forTimeInterval: 0.5)
            let frames = workers.reduce(UInt64(0)) { sum, w in w.lock.lock(); defer { w.lock.unlock() }; return sum + w.frames }
            FileHandleOutput.progress(String(format: "clients %d, batch %d: %.0f frames/s", k, b, Double(frames) / Date().timeIntervalSince(start)))
        }
        for thread in threads { while !thread.isFinished { Thread.sleep(forTimeInterval: 0.01) } }
        let elapsed = Date().timeIntervalSince(start)
        if let failure = workers.compactMap(\.failure).first { throw OnlineFailure("a bench client failed: \(failure)", code: 2) }
        var get = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
        var put = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
        for w in workers {
            get.add(w.get)
            put.add(w.put)
        }
        let frames = workers.reduce(UInt64(0)) { $0 + $1.frames }
        let rate = Double(frames) / elapsed
        if json {
            var object: [(String, JSONValue)] = [("result", .string("throughput")), ("transport", .string(transport.rawValue)), ("clients", .int(k)), ("batch", .int(b)), ("order", .int(order)),
                                                 ("pinned", .bool(pin)), ("frames_per_s", .number(rate.rounded())),
                                                 ("round_trips", .int(Int(get.totalCount)))]
            for (op, histogram) in [("get", get), ("put", put)] {
                for (name, value) in Self.percentiles { object.append(("\(op)_\(name)_us", .micro(histogram.valueAtPercentile(value)))) }
                for (name, value) in Self.percentiles {
                    object.append(("\(op)_\(name)_floor_ratio", .ratio(histogram.valueAtPercentile(value), floor.valueAtPercentile(value))))
                }
            }
            printJSON(object)
        }
        return [transport.rawValue, "\(k)", "\(b)", "\(order)", String(format: "%.0f", rate),
                micro(get.valueAtPercentile(50)), micro(get.valueAtPercentile(99)), micro(get.valueAtPercentile(99.9)),
                micro(put.valueAtPercentile(50)), micro(put.valueAtPercentile(99)),
                ratio(get.valueAtPercentile(50), floor.valueAtPercentile(50)), ratio(put.valueAtPercentile(50), floor.valueAtPercentile(50))]
    }

    private func micro(_ ns: UInt64) -> String { String(format: "%.1f", Double(ns) / 1000) }

    private func ratio(_ ns: UInt64, _ floor: UInt64) -> String { String(format: "%.2f", Double(ns) / Double(max(floor, 1))) }

    /// Prints `fields` as one JSON object on one line, in order.
    private func printJSON(_ fields: [(String, JSONValue)]) {
        print("{" + fields.map { "\"\($0.0)\":\($0.1.text)" }.joined(separator: ",") + "}")
    }

    private func printTable(_ header: [String], _ rows: [[String]]) {
        let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max()! }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { String(repeating: " ", count: widths[$0.offset] - $0.element.count) + $0.element }.joined(separator: "  ")
        }
        print(line(header))
        for row in rows { print(line(row)) }
    }
}

/// A value of a bench JSON object.
enum JSONValue {
    case string(String), int(Int), number(Double), bool(Bool)

    /// Microseconds, to the nanosecond.
    static func micro(_ ns: UInt64) -> JSONValue { .number((Double(ns) / 1000 * 1000).rounded() / 1000) }
    /// `ns / floor`, to three decimals.
    static func ratio(_ ns: UInt64, _ floor: UInt64) -> JSONValue { .number((Double(ns) / Double(max(floor, 1)) * 1000).rounded() / 1000) }

    var text: String {
        switch self {
        case .string(let s): return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        case .int(let i): return "\(i)"
        case .number(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : "\(d)"
        case .bool(let b): return b ? "true" : "false"
        }
    }
}

/// Nanoseconds in a duration (at least 1, so a histogram always records it).
func nanoseconds(_ d: Duration) -> UInt64 {
    let (seconds, attoseconds) = d.components
    return max(1, UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000))
}

/// How a bench client reaches the daemon.
enum BenchTransport: String {
    case socket, ring
}

/// A bench client's ping, get and put on the socket or on its connection's ring.
struct BenchCalls {
    let client: BlockingLLFreeClient
    let ring: RingChannel?

    init(_ client: BlockingLLFreeClient, _ transport: BenchTransport) throws {
        self.client = client
        do {
            ring = transport == .ring ? try client.ring() : nil
        } catch {
            client.close()
            throw error
        }
    }

    func ping() throws { if let ring { try ring.ping() } else { try client.ping() } }
    func get(order: Int, count: Int) throws -> GetResult {
        if let ring { return try ring.get(order: order, count: count) }
        return try client.get(order: order, count: count)
    }
    func put(order: Int, frames: [UInt64]) throws -> PutResult {
        if let ring { return try ring.put(order: order, frames: frames) }
        return try client.put(order: order, frames: frames)
    }
    func close() { client.close() }
}
