// The metrics endpoint scraped over real sockets (TCP on loopback and a Unix socket): the text
// exposition of what ServerMetrics recorded, and HTTP answers for wrong paths and methods.

import Foundation
import LLFree
import LLFreeProtocol
import LLFreeServer
import LLFreeDaemon
import Logging
import Prometheus
import XCTest

final class MetricsEndpointTests: XCTestCase {
    func makeMetrics() -> (PrometheusCollectorRegistry, ServerMetrics) {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[ServerMetrics.latencyLabel] = ServerMetrics.latencyBuckets
        return (registry, ServerMetrics(factory: factory))
    }

    /// The fast path (socket and ring) keeps running with metrics on: its requests are counted
    /// from the reply bytes, exactly as the general path counts the reply values.
    func testTheFastPathCountsFromReplyBytesWhatTheGeneralPathCountsFromReplies() throws {
        let (general, byValue) = makeMetrics()
        let (fast, byBytes) = makeMetrics()
        let replies: [Reply] = [
            .get(GetResult(frames: [1, 2], shortfall: nil)),
            .get(GetResult(frames: [3], shortfall: .quotaExceeded)),
            .get(GetResult(frames: [], shortfall: .outOfMemory)),
            .put(PutResult(results: [nil, nil])),
            .put(PutResult(results: [nil, .notOwner])),
            .put(PutResult(results: [.notAllocated, .invalidFrame])),
            .ping,
        ]
        for (i, reply) in replies.enumerated() {
            let duration = Duration.microseconds(Int64(i * 7))
            let operation = Operation(rawValue: reply.requestOp)!
            byValue.record(reply, operation: operation, duration: duration)
            let bytes = WireCodec.encode(ReplyMessage(id: UInt64(i), reply))
            bytes.withUnsafeBytes { byBytes.recordFast(reply: $0, duration: duration) }
        }
        let a = String(decoding: general.emitToBuffer(), as: UTF8.self), b = String(decoding: fast.emitToBuffer(), as: UTF8.self)
        XCTAssertTrue(a.contains(#"llfreed_operations_total{op="put",result="not_allocated"}"#))
        XCTAssertEqual(a.split(separator: "\n").sorted(), b.split(separator: "\n").sorted())
    }

    func testTCPScrapeShowsOperationsLatencyFramesAndClients() async throws {
        let (registry, metrics) = makeMetrics()
        metrics.record(.get(GetResult(frames: [1, 2], shortfall: nil)), operation: .get, duration: .microseconds(3))
        metrics.record(.get(GetResult(frames: [3], shortfall: .outOfMemory)), operation: .get, duration: .microseconds(30))
        metrics.record(.get(GetResult(frames: [], shortfall: .outOfMemory)), operation: .get, duration: .microseconds(30))
        metrics.record(.put(PutResult(results: [nil, .notAllocated])), operation: .put, duration: .microseconds(4))
        metrics.record(.put(PutResult(results: [.notAllocated])), operation: .put, duration: .microseconds(4))
        metrics.record(.error(op: Operation.isFree.rawValue, ReplyError(.invalidFrame, "x")), operation: .isFree, duration: .microseconds(1))
        metrics.record(.ping, operation: .ping, duration: .nanoseconds(500))
        metrics.recordRefused(ProtocolError(.unknownOperation, "op 0x7f", id: 1))
        var found = RecoveryReport()
        found.countersFixed = 3
        metrics.recordOpen(recovered: true, recovery: found, scan: .milliseconds(250), total: .milliseconds(260))
        let counters = ServerCounters(cores: 1)
        counters.accepted.wrappingIncrement(by: 4, ordering: .relaxed)
        counters.refused.wrappingIncrement(by: 1, ordering: .relaxed)
        counters.connected.wrappingIncrement(by: 2, ordering: .relaxed)

        let endpoint = MetricsEndpoint(listen: .tcp(host: "127.0.0.1", port: 0), logger: Logger(label: "test")) {
            metrics.refresh(frames: 4096, freeFrames: 1000, freeHugeFrames: 1, counters: counters)
            return registry.emitToBuffer()
        }
        try await endpoint.start()
        let port = try XCTUnwrap(endpoint.port)
        let scrape = try HTTPScrape.request(port: port)
        XCTAssertEqual(scrape.status, 200)
        XCTAssertEqual(scrape.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        let expected: [(String, Double)] = [
            (#"llfreed_operations_total{op="get",result="ok"}"#, 1),
            (#"llfreed_operations_total{op="get",result="partial"}"#, 1),
            (#"llfreed_operations_total{op="get",result="out_of_memory"}"#, 1),
            (#"llfreed_operations_total{op="put",result="partial"}"#, 1),
            (#"llfreed_operations_total{op="put",result="not_allocated"}"#, 1),
            (#"llfreed_operations_total{op="is-free",result="frame_out_of_range"}"#, 1),
            (#"llfreed_operations_total{op="ping",result="ok"}"#, 1),
            (#"llfreed_operations_total{op="invalid",result="unknown_operation"}"#, 1),
            (#"llfreed_request_duration_seconds_count{op="get"}"#, 3),
            (#"llfreed_request_duration_seconds_bucket{op="get",le="0.000005"}"#, 1),
            (#"llfreed_request_duration_seconds_bucket{op="get",le="0.00005"}"#, 3),
            ("llfreed_frames", 4096), ("llfreed_free_frames", 1000), ("llfreed_free_huge_frames", 1),
            ("llfreed_clients_connected", 2), ("llfreed_clients_accepted_total", 4), ("llfreed_clients_refused_total", 1),
            ("llfreed_recovery_ran", 1), ("llfreed_recovery_duration_seconds", 0.25),
            (#"llfreed_recovery_repairs{kind="counters"}"#, 3), (#"llfreed_recovery_repairs{kind="tails"}"#, 0),
        ]
        for (series, value) in expected {
            XCTAssertEqual(scrape.sample(series), value, "\(series) in:\n\(scrape.body)")
        }
        // Counters only grow by what changed between scrapes.
        counters.accepted.wrappingIncrement(by: 1, ordering: .relaxed)
        let again = try HTTPScrape.request(port: port)
        XCTAssertEqual(again.sample("llfreed_clients_accepted_total"), 5)

        XCTAssertEqual(try HTTPScrape.request("GET", "/other", port: port).status, 404)
        let post = try HTTPScrape.request("POST", "/metrics", port: port)
        XCTAssertEqual(post.status, 405)
        XCTAssertEqual(post.headers["allow"], "GET, HEAD")
        let head = try HTTPScrape.request("HEAD", "/metrics", port: port)
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.body, "")
        await endpoint.shutdown()
        XCTAssertThrowsError(try HTTPScrape.request(port: port), "nothing listens after shutdown")
    }

    func testUnixSocketEndpointReplacesAStaleFileAndRemovesItsOwn() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString.prefix(8)).sock").path
        // A stale socket file, as a killed daemon leaves it.
        let stale = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var sa = sockaddr_un()
        sa.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &sa.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        _ = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(stale, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        close(stale)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path))

        let (registry, metrics) = makeMetrics()
        metrics.record(.ping, operation: .ping, duration: .microseconds(1))
        let endpoint = MetricsEndpoint(listen: .unix(path: path), logger: Logger(label: "test")) { registry.emitToBuffer() }
        try await endpoint.start()
        let scrape = try HTTPScrape.request(unixPath: path)
        XCTAssertEqual(scrape.status, 200)
        XCTAssertEqual(scrape.sample(#"llfreed_operations_total{op="ping",result="ok"}"#), 1)
        var info = stat()
        XCTAssertEqual(lstat(path, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600, "the metrics socket is its owner's only")
        await endpoint.shutdown()
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

    func testShutdownLeavesASocketFileBoundThereSince() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString.prefix(8)).sock").path
        let (registry, _) = makeMetrics()
        let endpoint = MetricsEndpoint(listen: .unix(path: path), logger: Logger(label: "test")) { registry.emitToBuffer() }
        try await endpoint.start()
        // Someone removes the file and binds a socket of their own at the path.
        XCTAssertEqual(unlink(path), 0)
        let other = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(other) }
        var sa = sockaddr_un()
        sa.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &sa.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        XCTAssertEqual(withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(other, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }, 0)
        await endpoint.shutdown()
        XCTAssertTrue(FileManager.default.fileExists(atPath: path), "shutdown removed a socket file the endpoint had not bound")
        unlink(path)
    }

    func testListenParsing() throws {
        XCTAssertNil(try MetricsListen.parse(""))
        XCTAssertNil(try MetricsListen.parse("off"))
        XCTAssertEqual(try MetricsListen.parse("localhost:9464"), .tcp(host: "127.0.0.1", port: 9464))
        XCTAssertEqual(try MetricsListen.parse("./m.sock"), .unix(path: "./m.sock"))
        XCTAssertFalse(try XCTUnwrap(MetricsListen.parse("0.0.0.0:9464")).isLoopback)
        XCTAssertTrue(try XCTUnwrap(MetricsListen.parse("[::1]:1")).isLoopback)
        for bad in ["9464", "127.0.0.1:0", "127.0.0.1:70000", "host:1", "127.0.0.1:x"] {
            XCTAssertThrowsError(try MetricsListen.parse(bad), bad)
        }
    }
}
