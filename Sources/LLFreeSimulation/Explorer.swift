// The crash explorer: runs a seeded workload against a pool on the simulated domain, crashes it
// at every store, flush and fence (or a seeded sample of them), opens each crash image with the
// real pool code, and judges the recovered pool with the oracle. Also crashes during format and
// during recovery itself. Everything is derived from the seed, so a failure replays exactly.

import LLFree
import LLFreePool

/// How to explore.
public struct ExplorerConfig: Sendable {
    /// The seed of everything: workload, crash images, schedule.
    public var seed: UInt64 = 1
    /// Operations of the workload.
    public var operations = 2000
    /// Crash images per crash point (at most; small windows are enumerated exhaustively).
    public var imagesPerPoint = 2
    /// Check only every n-th crash point (1 = all).
    public var pointStride = 1
    /// Simulated threads (interleaved at persistence events by a seeded scheduler).
    public var threads = 1
    public var mode: CrashMode = .adr
    /// Remove a persistence step to prove the harness fails.
    public var broken: BrokenStep? = nil
    /// Frames of the simulated pool (small, so that exhaustion and multi-child runs happen).
    public var frames: UInt64 = 16 * 512 - 64
    public var treeChildren = 4
    /// Every n-th crash image also crashes its own recovery part way and checks a second one.
    public var recoveryCrashEvery = 16
    /// Only check this event and image (replay); nil checks all.
    public var replay: (event: Int, image: Int)? = nil
    /// Stop at the first violation.
    public var stopAtFirst = true
    /// Run these steps instead of the seeded mix (single thread).
    public var script: [Step]? = nil
    /// Seconds to spend shrinking a single-threaded failure to a short script (0: do not).
    public var shrinkSeconds = 20.0
    /// Percent of the seeded steps that are the idle zeroer's (half of them reclaims); the mix
    /// has 2 by default, where the small pool seldom has a whole child free when one runs.
    /// More (`sim --zero-share 25`) explores zeroing and reclaim states densely.
    public var zeroShare = 2

    public init() {}

    /// Checks every field against its range (the pool layout is checked by the pool code).
    /// - Throws: ``ExplorerError/invalidConfig(field:value:allowed:)`` for the first bad field.
    public func validate() throws(ExplorerError) {
        func check(_ ok: Bool, _ field: String, _ value: some CustomStringConvertible, _ allowed: String) throws(ExplorerError) {
            if !ok { throw .invalidConfig(field: field, value: value.description, allowed: allowed) }
        }
        try check(operations >= 0, "operations", operations, "at least 0")
        try check(imagesPerPoint >= 1, "imagesPerPoint", imagesPerPoint, "at least 1")
        try check(pointStride >= 1, "pointStride", pointStride, "at least 1")
        try check(threads >= 1 && threads <= 1 << 16, "threads", threads, "1...65536")
        try check(recoveryCrashEvery >= 0, "recoveryCrashEvery", recoveryCrashEvery, "at least 0 (0: never)")
        try check(shrinkSeconds >= 0 && shrinkSeconds.isFinite, "shrinkSeconds", shrinkSeconds, "a finite number of seconds, at least 0")
        try check(zeroShare >= 0 && zeroShare <= 100, "zeroShare", zeroShare, "a percentage in 0...100")
        try check(script == nil || threads == 1, "threads", threads, "1 when a script is given")
        if let replay { try check(replay.event >= 0 && replay.image >= 0, "replay", "\(replay.event):\(replay.image)", "two numbers of at least 0") }
    }
}

/// A violation found, with what is needed to replay it.
public struct CrashFailure: Sendable, CustomStringConvertible {
    public var seed: UInt64
    public var phase: ExplorerPhase
    public var event: Int
    public var image: Int
    public var operationIndex: Int
    public var inFlight: [Int: SimOperation]
    public var violations: [String]
    public var replay: String
    /// The steps up to the failure, shrunk where possible (single-threaded runs).
    public var steps: [Step] = []

    public var description: String {
        var s = "VIOLATION (seed \(seed), \(phase), crash point \(event), image \(image), after \(operationIndex) operations)\n"
        s += "  in flight: " + (inFlight.isEmpty ? "nothing" : inFlight.sorted { $0.key < $1.key }.map { "thread \($0.key): \($0.value)" }.joined(separator: ", ")) + "\n"
        for v in violations { s += "  - \(v)\n" }
        if !steps.isEmpty { s += "  steps (\(steps.count)): \(steps.map(\.description).joined(separator: " "))\n" }
        s += "  replay: \(replay)"
        return s
    }
}

/// What an exploration did.
public struct ExplorerResult: Sendable {
    public var images = 0
    public var crashPoints = 0
    public var operations = 0
    public var recoveryCrashes = 0
    public var failures: [CrashFailure] = []
    /// Most frames one crash image leaked (allocated and listed by no live persistent owner, or
    /// listed where the clients were told free): any is a violation.
    public var maxLeaked = 0
    /// Frames leaked, summed over every crash image (must be 0).
    public var leaked = 0
    /// Most frames one crash image left listed for an owner whose get was in flight (not leaked:
    /// the owner lists and frees them).
    public var maxUnacknowledged = 0
    /// Persistence work of the workload (not of the checks).
    public var stores = 0, flushes = 0, fences = 0
    public var cleanFlushes = 0, repeatedFlushes = 0, emptyFences = 0
    public var disciplineViolations: [String] = []
}

/// Runs one exploration.
/// Simulated threads touch it only while they hold the scheduler's turn, one at a time.
public final class Explorer: @unchecked Sendable {
    public let config: ExplorerConfig
    public private(set) var result = ExplorerResult()
    let layout: PoolLayout
    let ledger = Ledger()
    var event = 0
    var operationIndex = 0
    var phase = ExplorerPhase.workload
    let image: UnsafeMutableRawPointer
    /// Called now and then with the running result.
    public var progress: ((ExplorerResult) -> Void)?

    /// - Throws: ``ExplorerError`` for a configuration field out of range or a pool layout the
    ///   pool code refuses.
    public init(config: ExplorerConfig) throws(ExplorerError) {
        try config.validate()
        self.config = config
        do {
            // A split pool (format version 3), as llfreed creates: the image is its metadata file.
            layout = try PoolLayout(frames: config.frames, treeChildren: config.treeChildren, split: true, file: "simulated pool")
        } catch {
            throw .pool(error)
        }
        image = .allocate(byteCount: layout.imageLength + Int(config.frames) * 64, alignment: 4096)
    }

    /// Bytes of a simulated domain: the pool image, then one content line per frame.
    var domainLength: Int { layout.imageLength + Int(config.frames) * 64 }

    /// A domain for the pool, frame content modelled after the image; all zero, or a copy.
    func makeDomain(copying source: UnsafeRawPointer? = nil) -> SimulatedDomain {
        let domain = source.map { SimulatedDomain(copying: $0, length: domainLength) } ?? SimulatedDomain(length: domainLength)
        domain.contentOffset = layout.imageLength
        return domain
    }

    deinit { image.deallocate() }

    var done: Bool { config.stopAtFirst && !result.failures.isEmpty }

    /// The owners the workload creates (the last one ephemeral: its frames die with the pool).
    static let owners: [(String, OwnerLifetime)] = [("p1", .persistent), ("p2", .persistent), ("p3", .persistent), ("e1", .ephemeral)]

    /// Steps run so far (single thread), for replay and shrinking.
    var executed: [Step] = []

    /// Runs format crashes, then the workload with crashes; shrinks a single-threaded failure.
    public func run() -> ExplorerResult {
        exploreFormat()
        if !done { exploreWorkload() }
        if config.threads == 1, config.replay == nil, config.shrinkSeconds > 0,
           let failure = result.failures.first, failure.phase == .workload {
            result.failures[0] = shrink(failure)
        }
        return result
    }

    // MARK: Shrinking

    /// Leaves out as many steps as it can while some violation remains (delta debugging, within
    /// the time budget), and returns the failure of the shortest script found.
    func shrink(_ failure: CrashFailure) -> CrashFailure {
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(Int(config.shrinkSeconds * 1000))
        var best = failure
        var current = failure.steps
        func failing(_ steps: [Step]) -> CrashFailure? {
            var c = config
            c.script = steps
            c.shrinkSeconds = 0
            c.stopAtFirst = true
            guard let explorer = try? Explorer(config: c) else { return nil }
            return explorer.run().failures.first
        }
        var chunk = max(1, current.count / 2)
        while clock.now < deadline {
            var removed = false
            var i = 0
            while i < current.count && clock.now < deadline {
                var candidate = current
                candidate.removeSubrange(i..<min(i + chunk, current.count))
                if let f = failing(candidate) {
                    current = Array(candidate.prefix(f.operationIndex + 1))
                    best = f
                    removed = true
                } else {
                    i += chunk
                }
            }
            if !removed {
                if chunk == 1 { break }
                chunk = max(1, chunk / 2)
            }
        }
        best.steps = current
        return best
    }

    // MARK: Format

    /// Crashes while formatting a fresh region and while re-formatting a used pool: the image
    /// must either be refused or open as a consistent pool.
    func exploreFormat() {
        phase = .format
        for reformat in [false, true] where !done {
            let domain = makeDomain()
            if reformat {
                // A used pool to format over.
                guard (try? PoolImage.format(base: domain.base, length: domain.length, persistence: domain.persistence,
                                              frames: config.frames, treeChildren: config.treeChildren, uuid: [UInt8](repeating: 1, count: 16),
                                              creationTime: 1, name: "old")) != nil,
                      let old = try? PoolImage.open(base: domain.base, length: domain.length, persistence: domain.persistence, cores: 1, name: "old")
                else { fail(["the simulated pool cannot be formatted"], image: 0); return }
                let owner = (try? old.owners?.create(name: "old", lifetime: .persistent, quota: nil, uid: 0, gid: nil))?.id ?? Owners.any
                for _ in 0..<50 { _ = try? old.allocator.get(order: 0, core: 0, owner: owner) }
                _ = try? old.allocator.get(order: 9, core: 0, owner: owner)
                old.close()
            }
            domain.observer = { [unowned self] _ in
                self.event += 1
                if self.done { return }
                self.checkImage(domain) { [unowned self] recovered in
                    guard let recovered else { return [] }  // refused: never a pool
                    var v = recovered.allocator.validate()
                    let free = recovered.allocator.freeFrames
                    if free != Int(self.config.frames) && !reformat {
                        v.append("a pool opened from a format cut short has \(free) free frames, not \(self.config.frames)")
                    }
                    return v
                }
            }
            _ = try? PoolImage.format(base: domain.base, length: domain.length, persistence: domain.persistence,
                                      frames: config.frames, treeChildren: config.treeChildren,
                                      uuid: [UInt8](repeating: 2, count: 16), creationTime: 2, split: true, name: "new")
            domain.observer = nil
        }
    }

    // MARK: Workload

    func exploreWorkload() {
        phase = .workload
        let domain = makeDomain()
        do {
            try PoolImage.format(base: domain.base, length: domain.length, persistence: domain.persistence,
                                 frames: config.frames, treeChildren: config.treeChildren,
                                 uuid: [UInt8](repeating: 3, count: 16), creationTime: 3, split: true, framesZeroed: true,
                                 name: "simulated pool")
        } catch {
            fail(["format failed: \(error)"], image: 0)
            return
        }
        var pool: PoolImage<SimulatedPersistence>
        do {
            pool = try PoolImage.open(base: domain.base, length: domain.length, persistence: domain.persistence,
                                      cores: config.threads, name: "simulated pool")
        } catch {
            fail(["open failed: \(error)"], image: 0)
            return
        }
        domain.broken = config.broken
        let metadata = layout.metadataOffset
        domain.frameTagBytes = (metadata + layout.geometry.tagsOffset)..<(metadata + layout.geometry.hugeTagsOffset)
        domain.hugeTagBytes = (metadata + layout.geometry.hugeTagsOffset)..<(metadata + layout.geometry.metadataSize)
        domain.ownerTableBytes = layout.ownerTableOffset..<(layout.ownerTableOffset + layout.ownerTableLength)
        var points = 0
        domain.observer = { [unowned self] _ in
            points += 1
            self.event += 1
            self.result.crashPoints += 1
            guard !self.done, points % self.config.pointStride == 0 || self.config.replay != nil else { return }
            self.checkImage(domain) { [unowned self] recovered in
                guard let recovered else { return ["the crash image is not a usable pool any more"] }
                let verdict = Oracle.judge(recovered, ledger: self.ledger)
                self.result.maxLeaked = max(self.result.maxLeaked, verdict.leaked)
                self.result.leaked += verdict.leaked
                self.result.maxUnacknowledged = max(self.result.maxUnacknowledged, verdict.unacknowledged)
                var v = verdict.violations
                if v.isEmpty { v += self.keepWorking(recovered) }
                return v
            }
        }
        let workload = Workload(seed: config.seed, frames: config.frames, maxOrder: layout.geometry.maxOrder, zeroShare: config.zeroShare)
        // Settle every tree before simulated threads run: a thread that finds a tree another one
        // is settling waits by yielding the processor, not the simulated turn, and would spin
        // for ever (one thread runs at a time). Crash points while settling are explored.
        pool.allocator.settleAll()
        // The owners the clients act for, created as a client would (crash points included).
        for (name, lifetime) in Self.owners where !done {
            guard let table = pool.owners else { fail(["the simulated pool has no owner table"], image: 0); return }
            domain.beginOperation()
            ledger.inFlight[0] = .create(name: name, lifetime: lifetime)
            do {
                ledger.acknowledgeCreate(try table.create(name: name, lifetime: lifetime, quota: nil, uid: 0, gid: nil))
            } catch {
                fail(["creating owner \"\(name)\" failed: \(error)"], image: 0)
            }
            ledger.inFlight[0] = nil
        }
        domain.ownersCreated = true
        if let script = config.script {
            for (i, step) in script.enumerated() where !done {
                operationIndex = i
                executed.append(step)
                if step == .reopen { pool = reopen(pool, domain); continue }
                workload.execute(step, on: pool.allocator, owners: pool.owners, thread: 0, domain: domain, ledger: ledger)
                if !workload.unexpected.isEmpty { fail(workload.unexpected, image: 0) }
            }
        } else if config.threads <= 1 {
            for i in 0..<config.operations where !done {
                operationIndex = i
                let step = workload.generate(thread: 0, cores: 1, ledger: ledger)
                executed.append(step)
                if step == .reopen { pool = reopen(pool, domain); continue }
                workload.execute(step, on: pool.allocator, owners: pool.owners, thread: 0, domain: domain, ledger: ledger)
                if !workload.unexpected.isEmpty { fail(workload.unexpected, image: 0) }
                if i % 200 == 199 { progress?(result) }
            }
        } else {
            let scheduler = Scheduler(threads: config.threads, seed: config.seed, domain: domain)
            let shared = pool  // several threads never close and reopen it
            scheduler.run { [unowned self] thread in
                var i = thread
                while i < self.config.operations && !self.done {
                    self.operationIndex = i
                    let step = workload.generate(thread: thread, cores: self.config.threads, ledger: self.ledger)
                    workload.execute(step, on: shared.allocator, owners: shared.owners, thread: thread, domain: domain, ledger: self.ledger)
                    if !workload.unexpected.isEmpty && !self.done { self.fail(workload.unexpected, image: 0) }
                    if i % 200 == 199 { self.progress?(self.result) }
                    i += self.config.threads
                }
            }
        }
        domain.observer = nil
        result.operations = operationIndex + 1
        result.stores = domain.stores
        result.flushes = domain.flushes
        result.fences = domain.fences
        result.cleanFlushes = domain.cleanFlushes
        result.repeatedFlushes = domain.repeatedFlushes
        result.emptyFences = domain.emptyFences
        result.disciplineViolations = domain.disciplineViolations
        if !done && config.broken == nil {
            let problems = pool.allocator.validate()
            if !problems.isEmpty { fail(problems.map { "live pool after the workload: \($0)" }, image: 0) }
        }
    }

    /// Closes the pool and opens it again (a clean close, then an open without the recovery scan):
    /// crash points during close and open are explored like any other.
    func reopen(_ pool: PoolImage<SimulatedPersistence>, _ domain: SimulatedDomain) -> PoolImage<SimulatedPersistence> {
        domain.beginOperation()
        pool.close()
        do {
            let reopened = try PoolImage.open(base: domain.base, length: domain.length, persistence: domain.persistence,
                                              cores: config.threads, name: "simulated pool")
            // Opening frees what ephemeral owners held (when a tree is settled).
            ledger.dropEphemeral()
            return reopened
        } catch {
            fail(["a cleanly closed pool does not open again: \(error)"], image: 0)
            return pool
        }
    }

    /// After recovery the pool must keep working: free what clients held (as their owners), then
    /// allocate again.
    func keepWorking(_ pool: PoolImage<SimulatedPersistence>) -> [String] {
        var v: [String] = []
        // Runs an operation in flight touched may be in either state; leave them alone.
        func touched(_ f: UInt64, _ o: Int) -> (UInt64, UInt64) {
            (f & ~UInt64(Geometry.childFrames - 1), max(f + (1 << UInt64(o)), (f & ~UInt64(Geometry.childFrames - 1)) + UInt64(Geometry.childFrames)))
        }
        let open = ledger.inFlight.values.flatMap { op -> [(UInt64, UInt64)] in
            switch op {
            case .put(let f, let o, _), .getAt(let f, let o, _), .wrongPut(let f, let o, _):
                return [touched(f, o)]
            case .putBatch(let frames, _):
                return frames.map { touched($0, 0) }
            case .get, .getBatch, .setRoot, .create, .setQuota, .remove: return []
            }
        }
        let untouched = ledger.held.filter { start, o in
            ledger.lifetime(ledger.holder[start]!) == .persistent && !open.contains { $0.0 < start + (1 << UInt64(o)) && start < $0.1 }
        }
        for (frame, order) in untouched.sorted(by: { $0.key < $1.key }).prefix(8) {
            let owner = ledger.holder[frame]!
            do { try pool.allocator.put(frame, order: order, core: 0, owner: owner) } catch { v.append("put of \(frame)/\(order) held by owner \(owner) after recovery: \(error)") }
        }
        let owner = ledger.owners.first?.id ?? 1
        var got: [(UInt64, Int)] = []
        for order in [0, 3, 9] {
            if let f = try? pool.allocator.get(order: order, core: 0, owner: owner) { got.append((f, order)) }
        }
        for (f, o) in got {
            do { try pool.allocator.put(f, order: o, core: 0, owner: owner) } catch { v.append("put of \(f)/\(o) got after recovery: \(error)") }
        }
        v += pool.allocator.validate().map { "after working on the recovered pool: \($0)" }
        return v
    }

    // MARK: Images

    /// Takes the crash images of this point from `domain`, opens each as the real pool code
    /// does and asks `judge` (nil pool: the image was refused). Every `recoveryCrashEvery`-th
    /// image also crashes its recovery part way.
    func checkImage(_ domain: SimulatedDomain,
                    judge: (PoolImage<SimulatedPersistence>?) -> [String]) {
        let count = min(domain.imageCount(limit: config.imagesPerPoint + 1), config.imagesPerPoint)
        let exhaustive = domain.imageCount(limit: config.imagesPerPoint + 1) <= config.imagesPerPoint
        for index in 0..<max(1, count) {
            if let replay = config.replay, replay.event != event || replay.image != index { continue }
            var rng = SeededRandom(seed: config.seed ^ (UInt64(event) &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(index) &* 0xBF58_476D_1CE4_E5B9)
            var combination = index
            let unreported = domain.crashImage(into: image, mode: config.mode, tear: true) { _, versions in
                if exhaustive && versions > 1 {
                    let k = combination % (versions + 1)
                    combination /= versions + 1
                    return k
                }
                return Int.random(in: 0...versions, using: &rng)
            }
            result.images += 1
            var violations: [String] = []
            if !unreported.isEmpty { violations.append("stores never reported to the persistence seam in lines \(unreported)") }
            let recovered = makeDomain(copying: image)
            let pool = try? PoolImage.open(base: recovered.base, length: recovered.length, persistence: recovered.persistence,
                                           cores: 1, name: "crash image")
            // What recovery wrote must be durable before the pool serves anything: a get served
            // on a recovered pool must not depend on repairs a second crash could undo.
            if pool != nil { violations += Self.durable(recovered, "recovery") }
            // Content first: judging puts and gets on the recovered pool, which changes its marks.
            if let pool { violations += Self.contentViolations(pool, recovered) }
            if violations.isEmpty { violations += judge(pool) }
            if violations.isEmpty, let pool { violations += Self.newHolderViolations(pool, recovered) }
            if violations.isEmpty, pool != nil, config.recoveryCrashEvery > 0, (event &+ index) % config.recoveryCrashEvery == 0 {
                violations += crashRecovery(rng: &rng)
            }
            if !violations.isEmpty {
                fail(violations, image: index)
                return
            }
        }
    }

    /// Problems of the frames' content in a recovered pool, before anything works on it: a frame
    /// marked known zero that is not zero, a frame held by one owner that holds another's bytes.
    static func contentViolations(_ pool: PoolImage<SimulatedPersistence>, _ domain: SimulatedDomain) -> [String] {
        var v: [String] = []
        let lower = pool.allocator.lower
        for f in 0..<lower.geometry.frames where lower.frameTag(f) == .zeroed && domain.content(frame: f) != 0 {
            v.append("frame \(f) is marked known zero but holds bytes of owner \(domain.content(frame: f))")
            if v.count >= 4 { return v }
        }
        pool.allocator.settleAll()
        for (run, owner) in lower.runs(owner: Owners.any, from: 0, limit: Int.max).runs {
            for f in run.frame..<(run.frame + (1 << UInt64(run.order))) {
                let found = domain.content(frame: f)
                if found != 0 && found != UInt64(owner) {
                    v.append("frame \(f) of the run \(run) held by owner \(owner) holds bytes of owner \(found)")
                    return v
                }
            }
        }
        return v
    }

    /// Gets for a holder the pool never had, after recovery and the judge's own work: each must
    /// read zeros, as any new holder's.
    static func newHolderViolations(_ pool: PoolImage<SimulatedPersistence>, _ domain: SimulatedDomain) -> [String] {
        var v: [String] = []
        for order in [0, 4, 9] {
            guard let f = try? pool.allocator.get(order: order, core: 0, owner: Owners.zeroer - 1) else { continue }
            for g in f..<(f + (1 << UInt64(order))) where domain.content(frame: g) != 0 {
                v.append("a get of order \(order) after recovery handed frame \(g) with bytes of owner \(domain.content(frame: g))")
                break
            }
            try? pool.allocator.put(f, order: order, core: 0, owner: Owners.zeroer - 1)
        }
        return v
    }

    /// Problems of a domain that should have nothing pending: lines not yet durable, stores
    /// never reported, truth lines stored and never flushed.
    static func durable(_ domain: SimulatedDomain, _ what: String) -> [String] {
        var v: [String] = []
        if domain.pendingLines > 0 { v.append("after \(what), \(domain.pendingLines) lines are not durable") }
        let unreported = domain.unreportedStores()
        if !unreported.isEmpty { v.append("\(what) made stores it never reported, in lines \(unreported)") }
        v += domain.disciplineViolations.map { "\(what): \($0)" }
        return v
    }

    /// Crashes the recovery of the image in `image` at a random event, recovers that second
    /// image, and compares with one clean recovery: the allocation state must be the same.
    func crashRecovery(rng: inout SeededRandom) -> [String] {
        result.recoveryCrashes += 1
        let clean = makeDomain(copying: image)
        guard (try? PoolImage.open(base: clean.base, length: clean.length, persistence: clean.persistence, cores: 1, name: "reference")) != nil else {
            return ["the crash image opened once but not twice"]
        }
        let events = clean.stores + clean.flushes + clean.fences
        let metadata = layout.metadataOffset..<(layout.metadataOffset + layout.metadataLength)
        let twice = makeDomain(copying: image)
        let at = Int.random(in: 1...max(1, events), using: &rng)
        let second = UnsafeMutableRawPointer.allocate(byteCount: domainLength, alignment: 4096)
        defer { second.deallocate() }
        var seen = 0
        var taken = false
        var local = rng
        var unreported: [Int] = []
        twice.observer = { _ in
            seen += 1
            if seen == at {
                unreported = twice.crashImage(into: second, mode: self.config.mode, tear: true) { _, versions in Int.random(in: 0...versions, using: &local) }
                taken = true
            }
        }
        _ = try? PoolImage.open(base: twice.base, length: twice.length, persistence: twice.persistence, cores: 1, name: "recovering")
        twice.observer = nil
        guard taken else { return [] }
        if !unreported.isEmpty { return ["recovery made stores it never reported, in lines \(unreported)"] }
        let again = makeDomain(copying: second)
        guard (try? PoolImage.open(base: again.base, length: again.length, persistence: again.persistence, cores: 1, name: "recovered twice")) != nil else {
            return ["a crash during recovery (at its event \(at)) left an image that does not open"]
        }
        if memcmp(clean.base + metadata.lowerBound, again.base + metadata.lowerBound, metadata.count) != 0 {
            return ["recovery crashed at its event \(at) and recovered again differs from one clean recovery"]
        }
        return Self.durable(again, "a second recovery")
    }

    func fail(_ violations: [String], image index: Int) {
        var replay = "llfree-crashtest sim --seed \(config.seed)"
        if config.threads > 1 { replay += " --threads \(config.threads) --operations \(operationIndex + 1)" }
        let steps = config.threads == 1 && phase == .workload ? Array(executed.prefix(operationIndex + 1)) : []
        if config.threads == 1 { replay += phase == .workload ? " --script '\(steps.map(\.description).joined(separator: " "))'" : " --operations 0" }
        if config.zeroShare != 2 && config.threads > 1 { replay += " --zero-share \(config.zeroShare)" }
        if config.mode != .adr { replay += " --mode \(config.mode.rawValue)" }
        if let b = config.broken { replay += " --break \(b.rawValue)" }
        replay += " --images \(config.imagesPerPoint) --replay \(event):\(index)"
        result.failures.append(CrashFailure(seed: config.seed, phase: phase, event: event, image: index,
                                            operationIndex: operationIndex, inFlight: ledger.inFlight,
                                            violations: violations, replay: replay, steps: steps))
    }
}

#if canImport(Glibc)
import Glibc
#endif
