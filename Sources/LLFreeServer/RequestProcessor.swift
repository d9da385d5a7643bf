// Turns one decoded request into its reply against the allocator, on behalf of one core. All
// checks against the pool's geometry happen here, before the allocator is touched, so that a
// bad request changes nothing. Independent of NIO, so it is tested directly.

import LLFree
import LLFreePool
import LLFreeProtocol

/// Serves requests from one allocator core. Not thread-safe per instance: each event loop has
/// its own processor, which is what keeps each core's calls on one thread.
public struct RequestProcessor<A: FrameAllocator> {
    public let allocator: A
    public let core: Int
    public let pool: PoolDescription
    public let counters: ServerCounters
    /// Where the pool's part of stats is kept between changes; the server shares one across its
    /// event loops.
    public let statsCache: StatsCache
    /// The pool's owners; nil when its frames have no owner (a version-1 pool, or a volatile
    /// allocator without tags): then every connection acts for one legacy owner.
    public let owners: OwnerService?

    public init(allocator: A, core: Int, pool: PoolDescription, counters: ServerCounters, statsCache: StatsCache = StatsCache(),
                owners: OwnerService? = nil) {
        precondition(core >= 0 && core < allocator.cores, "core \(core) is outside the allocator's 0..<\(allocator.cores)")
        precondition((owners != nil) == allocator.hasOwners, "an allocator with owner tags needs an owner table, and only it")
        self.owners = owners
        self.allocator = allocator
        self.core = core
        self.pool = pool
        self.counters = counters
        self.statsCache = statsCache
    }

    /// The hello reply body for this pool, for a connection that negotiated `version`.
    public func info(version: UInt16 = Wire.version) -> PoolInfo {
        let g = allocator.geometry
        return PoolInfo(version: version, durability: pool.durability, maxOrder: UInt8(Self.largestOrder(g)),
                        frameSize: UInt32(Geometry.frameSize), frames: g.frames, framesOffset: pool.framesOffset,
                        children: UInt32(g.children), treeChildren: UInt32(g.treeChildren), trees: UInt32(g.trees),
                        maxBatch: UInt32(Wire.maxBatch), cores: UInt16(clamping: allocator.cores), uuid: pool.uuid, path: pool.path,
                        metadataReachable: pool.metadataReachable)
    }

    /// The largest order a get can be served in this pool: the pool's maximum, or less when the
    /// pool is smaller than a run of it.
    static func largestOrder(_ g: Geometry) -> Int {
        min(g.maxOrder, Int(63 - UInt64(g.frames).leadingZeroBitCount))
    }

    /// Answers `message` for the connection `session` (which an attach or hello changes).
    /// Counts the operation (and errors). A stats whose snapshot is not cached scans the pool on
    /// the calling thread.
    public func process(_ message: RequestMessage, session: inout ClientSession) -> ReplyMessage {
        counters.add(.operations, core: core)
        let reply = answer(message.request, session: &session)
        if case .error = reply { counters.add(.errors, core: core) }
        return ReplyMessage(id: message.id, reply)
    }

    /// Answers `message` unless it is a stats whose snapshot is not cached: then nil, and the
    /// caller gets one with ``scanInBackground(then:)`` and answers with ``statsReply(to:using:)``,
    /// so that no event loop spends a scan's time.
    func processWithoutScanning(_ message: RequestMessage, session: inout ClientSession) -> ReplyMessage? {
        guard case .stats = message.request else { return process(message, session: &session) }
        guard let snapshot = statsCache.cached(generation: Self.generation(counters)) else { return nil }
        return statsReply(to: message, using: snapshot)
    }

    /// The reply to the stats request `message` from `snapshot`. Counts the operation.
    func statsReply(to message: RequestMessage, using snapshot: StatsCache.Snapshot) -> ReplyMessage {
        counters.add(.operations, core: core)
        return ReplyMessage(id: message.id, .stats(stats(from: snapshot)))
    }

    /// Scans the pool on the stats cache's thread (unless a scan of the current generation is
    /// cached by then) and passes the snapshot to `done` on that thread.
    func scanInBackground(then done: @escaping @Sendable (StatsCache.Snapshot) -> Void) {
        let (allocator, counters) = (self.allocator, self.counters)
        statsCache.snapshotInBackground(generation: { Self.generation(counters) },
                                        scan: { Self.scan(allocator, generation: $0) }, done: done)
    }

    /// The reply to a frames request on `session` and the descriptor to pass with it, or the
    /// error reply (nothing is passed). Counts the operation.
    func frames(_ message: RequestMessage, session: ClientSession, access: FramesAccess) -> (ReplyMessage, Int32?) {
        counters.add(.operations, core: core)
        let op = Operation.frames.rawValue
        func fail(_ code: ErrorCode, _ text: String) -> (ReplyMessage, Int32?) {
            counters.add(.errors, core: core)
            return (ReplyMessage(id: message.id, .error(op: op, ReplyError(code, text))), nil)
        }
        if let version = session.version, version < 3 {
            return fail(.unknownOperation, "frames needs protocol version 3; this connection's hello negotiated \(version)")
        }
        guard let frames = pool.frames else {
            return fail(.unknownOperation, "this daemon passes no frames descriptor; open \(pool.path) to map the frames")
        }
        let grant = FramesGrant(access: access, split: frames.split, frameSize: UInt32(Geometry.frameSize), framesOffset: pool.framesOffset,
                                frames: allocator.geometry.frames, uuid: pool.uuid)
        return (ReplyMessage(id: message.id, .frames(grant)), access == .readWrite ? frames.readWrite : frames.readOnly)
    }

    /// The error reply to `message`, which is not served where it came (an operation the ring
    /// does not carry). Counts the operation and the error.
    func refuse(_ message: RequestMessage, _ error: ReplyError) -> ReplyMessage {
        counters.add(.operations, core: core)
        counters.add(.errors, core: core)
        return ReplyMessage(id: message.id, .error(op: message.request.operation.rawValue, error))
    }

    /// The reply to a request the codec refused.
    public func refuse(_ error: ProtocolError) -> ReplyMessage {
        counters.add(.operations, core: core)
        counters.add(.errors, core: core)
        return ReplyMessage(id: error.id ?? 0, .error(op: error.op ?? Wire.framingErrorOp, ReplyError(error.code, error.message)))
    }

    func answer(_ request: Request, session: inout ClientSession) -> Reply {
        let g = allocator.geometry
        let op = request.operation.rawValue
        func fail(_ code: ErrorCode, _ text: String) -> Reply { .error(op: op, ReplyError(code, text)) }
        if let version = session.version, request.operation.minimumVersion > version {
            return fail(.unknownOperation, "\(request.operation) needs protocol version \(request.operation.minimumVersion); this connection's hello negotiated \(version)")
        }
        switch request {
        case .hello(let minVersion, let maxVersion):
            guard minVersion <= Wire.version, maxVersion >= Wire.minVersion else {
                return fail(.unsupportedVersion, "this daemon speaks versions \(Wire.minVersion)...\(Wire.version), not \(minVersion)...\(maxVersion)")
            }
            let version = min(maxVersion, Wire.version)
            session.version = version
            return .hello(info(version: version))

        case .get(let order, let count, let kind):
            guard Int(order) <= g.maxOrder else {
                return fail(.invalidOrder, "order \(order) exceeds this pool's maximum \(g.maxOrder); nothing was allocated")
            }
            // The quota is read per get from the owner service (set-quota on any connection
            // reaches every connection's next get), not from the record cached at attach.
            let owner: OwnerRecord?
            do { owner = try actingOwner(&session) } catch { return .error(op: op, error) }
            // With a quota, the get asks for what the quota leaves and reports the rest short.
            var wanted = Int(count)
            var reserved = 0
            if let owner, let owners {
                let (granted, held) = owners.reserve(owner, frames: Int(count) << Int(order), held: { allocator.held(by: owner.id) })
                reserved = held
                wanted = min(Int(count), granted >> Int(order))
            }
            var error: LLFreeError? = nil
            let frames = [UInt64](unsafeUninitializedCapacity: Int(count)) { buffer, initialized in
                guard wanted > 0 else { initialized = 0; return }
                let result = allocator.get(order: Int(order), core: core, kind: Kind(kind), owner: owner?.id ?? Owners.any,
                                           into: UnsafeMutableBufferPointer(rebasing: buffer[0..<wanted]))
                initialized = result.count
                error = result.error
            }
            if let owner { owners?.unreserve(owner, reserved) }
            counters.add(.framesAllocated, UInt64(frames.count) << UInt64(order), core: core)
            var shortfall: ErrorCode? = nil
            if wanted < Int(count) && error == nil {
                shortfall = .quotaExceeded
                if frames.isEmpty { counters.add(.errors, core: core) }
            }
            if let error {
                switch error {
                case .outOfMemory: shortfall = .outOfMemory
                case .invalidArgument, .notAllocated, .notFree, .notOwner: shortfall = .internalError
                }
                if frames.isEmpty { counters.add(.errors, core: core) }
            }
            return .get(GetResult(frames: frames, shortfall: shortfall))

        case .put(let order, let frames):
            guard Int(order) <= g.maxOrder else {
                return fail(.invalidOrder, "order \(order) exceeds this pool's maximum \(g.maxOrder); nothing was freed")
            }
            var results = [ErrorCode?](repeating: nil, count: frames.count)
            // Check every run against the geometry first; only valid ones reach the allocator.
            var valid = [UInt64]()
            var indices = [Int]()
            var allValid = true
            for (i, frame) in frames.enumerated() {
                if let code = Self.check(frame: frame, order: Int(order), geometry: g) {
                    results[i] = code
                    allValid = false
                }
            }
            if !allValid {
                valid.reserveCapacity(frames.count)
                indices.reserveCapacity(frames.count)
                for (i, frame) in frames.enumerated() where results[i] == nil {
                    valid.append(frame)
                    indices.append(i)
                }
            }
            let owner: OwnerRecord?
            do { owner = try actingOwner(&session) } catch { return .error(op: op, error) }
            let batch = allValid ? frames : valid
            let freed = batch.withUnsafeBufferPointer { buffer in
                allocator.put(frames: buffer, order: Int(order), core: core, owner: owner?.id ?? Owners.any) { index, error in
                    let at = allValid ? index : indices[index]
                    switch error {
                    case .notAllocated: results[at] = .notAllocated
                    case .notOwner: results[at] = .notOwner
                    case .invalidArgument: results[at] = .invalidFrame
                    case .outOfMemory, .notFree: results[at] = .internalError
                    }
                }
            }
            counters.add(.framesFreed, UInt64(freed) << UInt64(order), core: core)
            let refused = frames.count - freed
            if refused > 0 { counters.add(.errors, UInt64(refused), core: core) }
            return .put(PutResult(results: results))

        case .isFree(let order, let frame):
            guard Int(order) <= g.maxOrder else {
                return fail(.invalidOrder, "order \(order) exceeds this pool's maximum \(g.maxOrder)")
            }
            if let code = Self.check(frame: frame, order: Int(order), geometry: g) {
                return fail(code, code == .misaligned ? "frame \(frame) is not aligned to order \(order)"
                                                      : "frame \(frame) of order \(order) is not inside the \(g.frames) frames")
            }
            do {
                return .isFree(try allocator.isFree(frame, order: Int(order)))
            } catch {
                return fail(.internalError, "\(error)")
            }

        case .stats:
            return .stats(stats())

        case .ping:
            return .ping

        case .frames:
            // The connection answers it (the descriptor travels beside the reply); a processor
            // alone cannot pass one.
            return fail(.internalError, "frames is answered by the connection, which passes the descriptor")

        case .ring:
            // The connection answers it too (it creates the ring and passes its descriptor).
            return fail(.internalError, "ring is answered by the connection, which passes the descriptor")

        default:
            return answerOwnerRequest(request, session: &session)
        }
    }

    /// nil if the run of 2^`order` frames at `frame` lies in the pool and is aligned, else why not.
    @inline(__always)
    static func check(frame: UInt64, order: Int, geometry g: Geometry) -> ErrorCode? {
        let size = UInt64(1) << UInt64(order)
        if frame >= g.frames || g.frames - frame < size { return .invalidFrame }
        if frame & (size - 1) != 0 { return .misaligned }
        return nil
    }

    /// The pool's and the daemon's numbers now.
    public func stats() -> PoolStats {
        let (allocator, counters) = (self.allocator, self.counters)
        let (snapshot, _) = statsCache.snapshot(generation: { Self.generation(counters) }, scan: { Self.scan(allocator, generation: $0) })
        return stats(from: snapshot)
    }

    /// The stats of `snapshot` with the daemon's counters now.
    func stats(from snapshot: StatsCache.Snapshot) -> PoolStats {
        PoolStats(
            frames: allocator.geometry.frames, freeFrames: snapshot.freeFrames, freeHugeFrames: snapshot.freeHugeFrames,
            clientsAccepted: counters.accepted.load(ordering: .relaxed), clientsRefused: counters.refused.load(ordering: .relaxed),
            operationsServed: counters.total(.operations), framesAllocated: counters.total(.framesAllocated),
            framesFreed: counters.total(.framesFreed), errors: counters.total(.errors),
            clientsConnected: UInt32(clamping: counters.connected.load(ordering: .relaxed)),
            trees: snapshot.trees, freeRuns: snapshot.freeRuns,
            reclaimedHugeFrames: UInt32(clamping: counters.reclaimedHuge.load(ordering: .relaxed)))
    }

    /// Changes of the pool's state so far: every get or put that reached the allocator moved at
    /// least one of these counters (a get allocates frames or counts an error, a put frees runs
    /// or counts refused ones).
    static func generation(_ counters: ServerCounters) -> UInt64 {
        counters.total(.framesAllocated) &+ counters.total(.framesFreed) &+ counters.total(.errors)
            &+ counters.settled.load(ordering: .relaxed)
    }

    /// The pool's free frames, free runs of every order and tree occupancy, by scanning it; safe
    /// on any thread (the allocator's counts read its atomics). LLFree's public API counts free
    /// runs one order per pass (a single pass over the bitfields would need access the core does
    /// not expose), which is why the result is cached and scanned off the event loops.
    static func scan(_ allocator: A, generation: UInt64) -> StatsCache.Snapshot {
        let g = allocator.geometry
        var summary = TreeSummary(trees: UInt32(g.trees))
        for tree in allocator.treeStats() {
            if tree.reserved { summary.reserved += 1 }
            if tree.free == tree.frames {
                summary.free += 1
            } else if tree.free == 0 {
                summary.full += 1
            } else {
                summary.partial += 1
                let allocated = tree.frames - tree.free
                summary.occupancy[min(TreeSummary.buckets - 1, allocated * TreeSummary.buckets / tree.frames)] += 1
            }
        }
        let freeRuns = (0...g.maxOrder).map { UInt64(allocator.freeRuns(order: $0)) }
        // Order 9 is the huge order: its free runs are the free huge frames, counted once.
        let freeHuge = g.maxOrder >= Geometry.hugeOrder ? freeRuns[Geometry.hugeOrder] : UInt64(allocator.freeHugeFrames)
        return StatsCache.Snapshot(generation: generation, freeFrames: UInt64(allocator.freeFrames), freeHugeFrames: freeHuge,
                                   trees: summary, freeRuns: freeRuns)
    }
}

extension Kind {
    /// The allocator's kind for a get's kind byte. Exhaustive: a case added on either side is a
    /// compile error here, not a failed unwrap at run time.
    init(_ wire: WireKind) {
        switch wire {
        case .fixed: self = .fixed
        case .movable: self = .movable
        case .huge: self = .huge
        }
    }
}
