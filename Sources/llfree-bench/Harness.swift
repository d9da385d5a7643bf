// The timed loops and the thread choreography of the paper's benchmarks. Every function is
// generic over the allocator, so each is specialised per allocator type: the loops hold the
// allocator's get/put inlined (LLFree's fast path entirely; the baselines' where they allow),
// with no existential, no function pointer, no allocation and no reference counting inside a
// timed region. (When get was a call, LLVM merged the two LLFree specialisations of each loop
// into one that called get through a function pointer.)

/// Runs one benchmark once on a fresh allocator.
enum Harness {
    /// What one run needs to know.
    struct Config: Sendable {
        var bench: BenchKind
        var order: Int
        var threads: Int
        /// Operations per thread.
        var allocs: Int
        var frames: UInt64
        var cpus: [Int]
        var seed: UInt64
    }

    /// Why a run is not valid.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Creates an `A` for `config`, runs the benchmark on `config.threads` pinned threads and
    /// checks that every frame is free again afterwards.
    static func measure<A: BenchAllocator>(_ type: A.Type, _ config: Config) throws(Failure) -> Sample {
        let allocator = A(frames: config.frames, cores: config.threads, order: config.order)
        let state = RunState(threads: config.threads, allocs: config.allocs)
        let order = config.order
        switch config.bench {
        case .bulk:
            Workers.run(threads: config.threads, cpus: config.cpus) { t in bulk(allocator, state, order, t) }
        case .repeat:
            Workers.run(threads: config.threads, cpus: config.cpus) { t in repeatPairs(allocator, state, order, t) }
        case .rand:
            let seed = config.seed
            Workers.run(threads: config.threads, cpus: config.cpus) { t in rand(allocator, state, order, t, seed: seed) }
        }
        let free = allocator.freeFrames
        guard free == Int(config.frames) else {
            throw Failure(description: "\(A.name) \(config.bench) order \(order) threads \(config.threads): \(free) of \(config.frames) frames free at the end")
        }
        let ops = config.threads * config.allocs
        var sample = Sample(getNs: state.mean(state.first), putNs: state.mean(state.second))
        if config.bench == .repeat { sample.putNs = sample.getNs }
        if let s0 = state.snapshots[0], let s1 = state.snapshots[1] {
            sample.getCalls = PersistenceRates(s1 - s0, operations: ops)
            if config.bench == .repeat { sample.putCalls = sample.getCalls }
        }
        if config.bench != .repeat, let s2 = state.snapshots[2], let s3 = state.snapshots[3] {
            sample.putCalls = PersistenceRates(s3 - s2, operations: ops)
        }
        return sample
    }

    // MARK: Thread bodies

    /// Lines all threads up; thread 0 records the persistence counts in `slot` meanwhile.
    @inline(__always)
    static func sync<A: BenchAllocator>(_ a: A, _ state: RunState, _ t: Int, snapshot slot: Int) {
        state.barrier.wait()
        if t == 0 { state.snapshots[slot] = a.persistenceCounts() }
        state.barrier.wait()
    }

    /// One timed phase: the threads start together (thread 0 records the persistence counts in
    /// `slot` first), each times `body` into `times[t]`, and once all are done thread 0 records
    /// the counts in `slot + 1`.
    @inline(__always)
    static func phase<A: BenchAllocator>(_ a: A, _ state: RunState, _ t: Int, snapshot slot: Int,
                                         into times: UnsafeMutablePointer<UInt64>, _ body: () -> Void) {
        sync(a, state, t, snapshot: slot)
        let t0 = Clock.now()
        body()
        let t1 = Clock.now()
        times[t] = t1 &- t0
        state.barrier.wait()
        if t == 0 { state.snapshots[slot + 1] = a.persistenceCounts() }
    }

    static func bulk<A: BenchAllocator>(_ a: A, _ state: RunState, _ order: Int, _ t: Int) {
        let frames = state.frames(of: t)
        let n = state.allocs
        phase(a, state, t, snapshot: 0, into: state.first) { getLoop(a, order, t, frames, n) }
        phase(a, state, t, snapshot: 2, into: state.second) { putLoopReversed(a, order, t, frames, n) }
    }

    static func repeatPairs<A: BenchAllocator>(_ a: A, _ state: RunState, _ order: Int, _ t: Int) {
        let frames = state.frames(of: t)
        let n = state.allocs
        // Half the memory allocated first, as in the paper.
        getLoop(a, order, t, frames, n)
        phase(a, state, t, snapshot: 0, into: state.first) { pairLoop(a, order, t, n) }
        // No thread puts before thread 0 has taken the closing snapshot.
        state.barrier.wait()
        putLoopReversed(a, order, t, frames, n)
    }

    static func rand<A: BenchAllocator>(_ a: A, _ state: RunState, _ order: Int, _ t: Int, seed: UInt64) {
        let frames = state.frames(of: t)
        let n = state.allocs
        phase(a, state, t, snapshot: 0, into: state.first) { getLoop(a, order, t, frames, n) }
        if t == 0 {
            // Shuffle all threads' frames together: each thread then frees frames of all cores.
            // The next phase's opening barrier keeps the others waiting until this is done.
            var rng = WyRand(seed: seed)
            rng.shuffle(state.frames, count: state.threads * state.allocs)
        }
        phase(a, state, t, snapshot: 2, into: state.second) { putLoop(a, order, t, frames, n) }
    }

    // MARK: Timed loops

    @inline(never)
    static func getLoop<A: BenchAllocator>(_ a: A, _ order: Int, _ core: Int, _ frames: UnsafeMutablePointer<UInt64>, _ count: Int) {
        var i = 0
        while i < count {
            guard let frame = a.get(order: order, core: core) else { failed(A.self, "get", i) }
            frames[i] = frame
            i &+= 1
        }
    }

    @inline(never)
    static func putLoop<A: BenchAllocator>(_ a: A, _ order: Int, _ core: Int, _ frames: UnsafeMutablePointer<UInt64>, _ count: Int) {
        var i = 0
        while i < count {
            if !a.put(frames[i], order: order, core: core) { failed(A.self, "put", i) }
            i &+= 1
        }
    }

    @inline(never)
    static func putLoopReversed<A: BenchAllocator>(_ a: A, _ order: Int, _ core: Int, _ frames: UnsafeMutablePointer<UInt64>, _ count: Int) {
        var i = count
        while i > 0 {
            i &-= 1
            if !a.put(frames[i], order: order, core: core) { failed(A.self, "put", i) }
        }
    }

    @inline(never)
    static func pairLoop<A: BenchAllocator>(_ a: A, _ order: Int, _ core: Int, _ count: Int) {
        var i = 0
        while i < count {
            guard let frame = a.get(order: order, core: core) else { failed(A.self, "get", i) }
            if !a.put(frame, order: order, core: core) { failed(A.self, "put", i) }
            i &+= 1
        }
    }

    /// Out of line, so the loops carry no string building.
    @inline(never)
    static func failed<A: BenchAllocator>(_ type: A.Type, _ op: StaticString, _ i: Int) -> Never {
        fatalError("\(A.name): \(op) number \(i) failed")
    }
}
