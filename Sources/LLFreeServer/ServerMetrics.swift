// llfreed's metrics through swift-metrics: operations by kind and result, a request latency
// histogram per operation, connected/accepted/refused clients, free frames and free huge frames,
// and what recovery found at start. The request path only touches objects made once here; gauges
// that describe the pool are refreshed when the endpoint is scraped, not on every request.

import CoreMetrics
import LLFree
import LLFreeProtocol
import NIOConcurrencyHelpers

/// The daemon's metrics, recorded through a swift-metrics factory.
public final class ServerMetrics: Sendable {
    /// Label of the request latency timer (a histogram in Prometheus).
    public static let latencyLabel = "llfreed_request_duration_seconds"
    /// Its buckets: from a microsecond (a ping on one core) to a quarter second (a stalled msync).
    public static let latencyBuckets: [Duration] = [
        .microseconds(1), .microseconds(2), .microseconds(5), .microseconds(10), .microseconds(20), .microseconds(50),
        .microseconds(100), .microseconds(200), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
        .milliseconds(10), .milliseconds(50), .milliseconds(250),
    ]

    /// The metrics of one operation, made once so the request path does no lookups.
    struct PerOperation: Sendable {
        let ok: Counter
        /// Only get and put can be partly served.
        let partial: Counter?
        let latency: Timer
    }

    let factory: any MetricsFactory
    let operations: [PerOperation]
    let frames: Gauge
    let freeFrames: Gauge
    let freeHugeFrames: Gauge
    let connected: Gauge
    let accepted: Counter
    let refused: Counter
    let zeroedHuge: Counter
    let populatedHuge: Gauge
    let reclaimedHuge: Gauge
    /// What `accepted`, `refused` and `zeroedHuge` last reported, to add only the difference.
    private let reported = NIOLockedValueBox<(accepted: UInt64, refused: UInt64, zeroed: UInt64)>((0, 0, 0))

    /// Makes every metric with `factory` (a PrometheusMetricsFactory in llfreed).
    public init(factory: any MetricsFactory) {
        self.factory = factory
        operations = Operation.allCases.sorted { $0.rawValue < $1.rawValue }.map { op in
            PerOperation(ok: Counter(label: "llfreed_operations_total", dimensions: [("op", op.description), ("result", "ok")], factory: factory),
                         partial: op == .get || op == .put
                             ? Counter(label: "llfreed_operations_total", dimensions: [("op", op.description), ("result", "partial")], factory: factory)
                             : nil,
                         latency: Timer(label: Self.latencyLabel, dimensions: [("op", op.description)], factory: factory))
        }
        frames = Gauge(label: "llfreed_frames", factory: factory)
        freeFrames = Gauge(label: "llfreed_free_frames", factory: factory)
        freeHugeFrames = Gauge(label: "llfreed_free_huge_frames", factory: factory)
        connected = Gauge(label: "llfreed_clients_connected", factory: factory)
        accepted = Counter(label: "llfreed_clients_accepted_total", factory: factory)
        refused = Counter(label: "llfreed_clients_refused_total", factory: factory)
        zeroedHuge = Counter(label: "llfreed_zeroed_huge_frames_total", factory: factory)
        populatedHuge = Gauge(label: "llfreed_free_huge_frames_populated", factory: factory)
        reclaimedHuge = Gauge(label: "llfreed_free_huge_frames_reclaimed", factory: factory)
    }

    /// Counts a served request by its operation and result, and records how long it took.
    public func record(_ reply: Reply, operation: Operation, duration: Duration) {
        let index = Int(operation.rawValue) - 1
        guard operations.indices.contains(index) else { return }
        let metrics = operations[index]
        metrics.latency.recordNanoseconds(duration.nanoseconds)
        switch reply {
        case .error(_, let error):
            count(operation: operation.description, code: error.code)
        case .get(let result):
            if let shortfall = result.shortfall {
                if result.frames.isEmpty { count(operation: operation.description, code: shortfall) } else { metrics.partial?.increment() }
            } else {
                metrics.ok.increment()
            }
        case .put(let result):
            let failures = result.failures
            if failures.isEmpty {
                metrics.ok.increment()
            } else if result.freed > 0 {
                metrics.partial?.increment()
            } else {
                count(operation: operation.description, code: failures[0].code)
            }
        case .hello, .isFree, .stats, .ping, .attach, .list, .release, .rootGet, .rootSet, .ownerInfo, .owners, .removeOwner, .setQuota, .frames, .ring:
            metrics.ok.increment()
        }
    }

    /// Counts and times a request the fast path answered, from its reply's bytes (a ping, get or
    /// put with status 0, docs/protocol.md): the same counts ``record(_:operation:duration:)``
    /// makes from the reply value, without one being built.
    public func recordFast(reply bytes: UnsafeRawBufferPointer, duration: Duration) {
        guard bytes.count >= Wire.headerSize else { return }
        let op = bytes.load(fromByteOffset: 5, as: UInt8.self) & ~Wire.replyBit
        guard let operation = Operation(rawValue: op), operations.indices.contains(Int(op) - 1) else { return }
        let metrics = operations[Int(op) - 1]
        metrics.latency.recordNanoseconds(duration.nanoseconds)
        func u32(_ offset: Int) -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
        func u16(_ offset: Int) -> UInt16 { UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)) }
        switch operation {
        case .get where bytes.count >= Wire.headerSize + 8:
            let served = u32(16), shortfall = u16(20)
            if shortfall == 0 {
                metrics.ok.increment()
            } else if served > 0 {
                metrics.partial?.increment()
            } else {
                count(operation: operation.description, code: ErrorCode(rawValue: shortfall) ?? .internalError)
            }
        case .put where bytes.count >= Wire.headerSize + 8:
            let requested = Int(u32(16)), freed = Int(u32(20))
            if freed == requested {
                metrics.ok.increment()
            } else if freed > 0 {
                metrics.partial?.increment()
            } else {
                let first = requested > 0 && bytes.count >= Wire.headerSize + 10 ? u16(Wire.headerSize + 8) : 0
                count(operation: operation.description, code: ErrorCode(rawValue: first) ?? .internalError)
            }
        default:
            metrics.ok.increment()
        }
    }

    /// Counts a request the codec refused before it reached an operation (op "invalid" when the
    /// op byte named none).
    public func recordRefused(_ error: ProtocolError) {
        let name = error.op.flatMap(Operation.init(rawValue:))?.description ?? "invalid"
        count(operation: name, code: error.code)
    }

    /// Errors are the rare path: their counters are looked up (the factory returns the same one for
    /// the same labels) rather than made for every code in advance, which would fill the exposition
    /// with zeros.
    private func count(operation: String, code: ErrorCode) {
        Counter(label: "llfreed_operations_total", dimensions: [("op", operation), ("result", Self.name(code))], factory: factory).increment()
    }

    /// An error code as a label value: "out_of_memory", "not_allocated".
    static func name(_ code: ErrorCode) -> String {
        String(code.description.map { $0 == " " || $0 == "-" ? "_" : $0 })
    }

    /// Records an open: `recovered` if the pool was dirty, what the scan found and how long it and
    /// the whole open took.
    public func recordOpen(recovered: Bool, recovery: RecoveryReport?, scan: Duration, total: Duration) {
        Gauge(label: "llfreed_recovery_ran", factory: factory).record(recovered ? 1 : 0)
        Gauge(label: "llfreed_recovery_duration_seconds", factory: factory).record(Self.seconds(scan))
        Gauge(label: "llfreed_open_duration_seconds", factory: factory).record(Self.seconds(total))
        let found = recovery ?? RecoveryReport()
        for (kind, value) in [("counters", found.countersFixed), ("bitfields", found.bitfieldsCleared),
                              ("huge_runs", found.partialHugeRuns), ("tails", found.tailsRepaired)] {
            Gauge(label: "llfreed_recovery_repairs", dimensions: [("kind", kind)], factory: factory).record(value)
        }
    }

    /// Brings the gauges and client counters up to date (called before each scrape).
    public func refresh(frames total: UInt64, freeFrames free: Int, freeHugeFrames huge: Int, counters: ServerCounters) {
        frames.record(Int64(clamping: total))
        freeFrames.record(free)
        freeHugeFrames.record(huge)
        connected.record(counters.connected.load(ordering: .relaxed))
        let now = (accepted: counters.accepted.load(ordering: .relaxed), refused: counters.refused.load(ordering: .relaxed),
                   zeroed: counters.zeroedHuge.load(ordering: .relaxed))
        let delta = reported.withLockedValue { last -> (UInt64, UInt64, UInt64) in
            defer { last = now }
            return (now.accepted &- last.accepted, now.refused &- last.refused, now.zeroed &- last.zeroed)
        }
        if delta.0 > 0 { accepted.increment(by: Int64(clamping: delta.0)) }
        if delta.1 > 0 { refused.increment(by: Int64(clamping: delta.1)) }
        if delta.2 > 0 { zeroedHuge.increment(by: Int64(clamping: delta.2)) }
    }

    /// Free huge frames whose memory is populated, and those returned to the host (holes in the
    /// frames file), from the idle zeroer's census.
    public func refreshHuge(_ census: (populated: Int, reclaimed: Int)) {
        populatedHuge.record(census.populated)
        reclaimedHuge.record(census.reclaimed)
    }

    /// Per-owner usage: `llfreed_owner_frames{owner="NAME",kind="persistent"}` (frames held),
    /// `llfreed_owner_quota_frames` (0: no quota) and `llfreed_owner_connections` (called before
    /// each scrape with the pool's owners; an owner that was removed keeps its last values).
    public func refreshOwners(_ owners: [(name: String, kind: String, held: Int, quota: UInt64?, connections: Int)]) {
        for owner in owners {
            let dimensions = [("owner", owner.name), ("kind", owner.kind)]
            Gauge(label: "llfreed_owner_frames", dimensions: dimensions, factory: factory).record(owner.held)
            Gauge(label: "llfreed_owner_quota_frames", dimensions: dimensions, factory: factory).record(Int64(clamping: owner.quota ?? 0))
            Gauge(label: "llfreed_owner_connections", dimensions: dimensions, factory: factory).record(owner.connections)
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

extension Duration {
    /// Whole nanoseconds, saturating.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds.multipliedReportingOverflow(by: 1_000_000_000).overflow ? .max : seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
