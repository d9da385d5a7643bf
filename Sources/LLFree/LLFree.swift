// The upper level of LLFree and the allocator's public API: per-core tree reservations with
// local counters, re-sync, near-first tree search by kind, reserve-on-free, stealing and
// draining. The upper level is volatile; it is rebuilt from the child counters at start.

import Atomics

/// The LLFree page-frame allocator over a ``Lower`` level whose persistence is `P`.
///
/// Every call names the core it runs on (`0..<cores`); calls for one core may come from any
/// thread, but the fast path shares no cache line with other cores only if each core's calls
/// come from one thread at a time. All operations are lock-free, except that a put into a huge
/// frame that another thread is splitting waits for that split (a few stores and two fences).
public final class LLFree<P: Persistence>: @unchecked Sendable {
    /// The lower level (persistent state).
    public let lower: Lower<P>
    /// The geometry.
    public let geometry: Geometry
    /// Number of cores, each with its own reservations.
    public let cores: Int

    @usableFromInline let p: P
    @usableFromInline let trees: UnsafeMutablePointer<UnsafeAtomic<UInt32>.Storage>
    /// Per core, one 64-byte line: reservations (one per kind), hints (one per kind), last free.
    @usableFromInline let locals: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>
    @usableFromInline static var localStride: Int { 8 }
    @usableFromInline static var hintSlot: Int { 3 }
    @usableFromInline static var lastFreeSlot: Int { 6 }
    /// Consecutive frees into one tree after which a core reserves it (the paper's 4).
    public static var reserveOnFreeCount: Int { 4 }
    /// Per tree, whether its owner tags are settled (``Settle``); nil when all are.
    @usableFromInline let settled: UnsafeMutablePointer<UnsafeAtomic<UInt8>.Storage>?
    /// Per owner number, the frames it holds (with owners).
    @usableFromInline let usage: UnsafeMutablePointer<UnsafeAtomic<Int>.Storage>?
    /// Which owners keep their frames through settling (nil: all).
    let keep: (@Sendable (OwnerID) -> Bool)?
    /// Whether the lower level was closed cleanly: settling then skips what cannot hold a stray
    /// tag (``Lower/settle(_:keep:count:clean:)``).
    let settleClean: Bool
    /// Trees not yet settled.
    let unsettled = UnsafeAtomic<Int>.create(0)
    /// What settling found, summed over the trees settled so far.
    let settleLock = UnsafeAtomic<Int>.create(0)
    var settleSum = SettleReport()

    /// Builds the upper level over `lower`, whose counters must be exact (freshly formatted,
    /// recovered, or cleanly closed).
    ///
    /// With owners, every tree starts unsettled: the tag recovery rules
    /// (``Lower/settle(_:keep:count:)``) run on a tree the first time a get or put needs it, or
    /// when ``settleAll()`` (or ``settleNext()``, from a background thread) gets to it. Until
    /// then no frame of it is handed out or freed. `keep` says which owners keep their frames
    /// (nil: all; an ephemeral owner's frames are freed at open this way). A freshly formatted
    /// lower level needs no settling: pass `settled: true`. `clean` says the lower level was
    /// closed cleanly (no stray tags), which lets settling skip free children.
    /// - Throws: ``LLFreeError/invalidArgument(_:)`` if `cores` is not positive.
    public init(lower: Lower<P>, cores: Int, settled: Bool = false, keep: (@Sendable (OwnerID) -> Bool)? = nil,
                clean: Bool = false) throws(LLFreeError) {
        self.settleClean = clean
        guard cores > 0, cores <= 1 << 16 else { throw .invalidArgument("core count \(cores) is outside 1...65536") }
        self.lower = lower
        self.geometry = lower.geometry
        self.cores = cores
        self.p = lower.p
        trees = .allocate(capacity: geometry.trees)
        let localsRaw = UnsafeMutableRawPointer.allocate(byteCount: cores * Self.localStride * 8, alignment: Geometry.lineSize)
        localsRaw.initializeMemory(as: UInt64.self, repeating: 0, count: cores * Self.localStride)
        locals = localsRaw.bindMemory(to: UnsafeAtomic<UInt64>.Storage.self, capacity: cores * Self.localStride)
        for t in 0..<geometry.trees {
            let range = geometry.childRange(tree: t)
            var huge = false
            for c in range where lower.child(c).huge { huge = true; break }
            (trees + t).initialize(to: .init(Tree(free: lower.counted(range), reserved: false, kind: huge ? .huge : .fixed).raw))
        }
        self.keep = keep
        if lower.geometry.owners {
            usage = .allocate(capacity: Int(Owners.maxOwner) + 1)
            usage!.initialize(repeating: .init(0), count: Int(Owners.maxOwner) + 1)
            if settled {
                self.settled = nil
            } else {
                self.settled = .allocate(capacity: geometry.trees)
                self.settled!.initialize(repeating: .init(Settle.unsettled), count: geometry.trees)
                unsettled.store(geometry.trees, ordering: .relaxed)
            }
        } else {
            usage = nil
            self.settled = nil
        }
    }

    /// Creates a volatile allocator over `region`, formatting it.
    public convenience init(formatting region: UnsafeMutableRawPointer, geometry: Geometry, persistence: P, cores: Int) throws(LLFreeError) {
        let lower = Lower(geometry: geometry, region: region, persistence: persistence)
        lower.format()
        try self.init(lower: lower, cores: cores)
    }

    deinit {
        trees.deallocate()
        UnsafeMutableRawPointer(locals).deallocate()
        settled?.deallocate()
        usage?.deallocate()
        unsettled.destroy()
        settleLock.destroy()
    }

    // MARK: Slots

    @inlinable @inline(__always)
    func tree(_ t: Int) -> UnsafeAtomic<UInt32> { UnsafeAtomic(at: trees + t) }

    @inlinable @inline(__always)
    func reservation(_ core: Int, _ kind: Int) -> UnsafeAtomic<UInt64> {
        UnsafeAtomic(at: locals + (core &* Self.localStride &+ kind))
    }

    @inlinable @inline(__always)
    func hint(_ core: Int, _ kind: Int) -> UnsafeAtomic<UInt64> {
        UnsafeAtomic(at: locals + (core &* Self.localStride &+ Self.hintSlot &+ kind))
    }

    @inlinable @inline(__always)
    func lastFree(_ core: Int) -> UnsafeAtomic<UInt64> {
        UnsafeAtomic(at: locals + (core &* Self.localStride &+ Self.lastFreeSlot))
    }

    @inlinable @inline(__always)
    func treeOf(_ frame: UInt64) -> Int { Int(frame >> UInt64(Geometry.hugeOrder + geometry.treeChildren.trailingZeroBitCount)) }

    // MARK: Arguments

    @inlinable @inline(__always)
    func check(order: Int, core: Int) throws(LLFreeError) {
        guard order >= 0, order <= geometry.maxOrder else { throw badOrder(order) }
        guard core >= 0, core < cores else { throw badCore(core) }
    }

    @inlinable @inline(__always)
    func check(frame: UInt64, order: Int) throws(LLFreeError) {
        guard order >= 0, order <= geometry.maxOrder else { throw badOrder(order) }
        guard frame < geometry.frames, geometry.frames - frame >= UInt64(1) << UInt64(order),
              frame & ((UInt64(1) << UInt64(order)) - 1) == 0 else { throw badFrame(frame, order) }
    }

    // The messages are built out of line, so that the fast paths carry no string code.
    @usableFromInline @inline(never)
    func badOrder(_ order: Int) -> LLFreeError {
        .invalidArgument("order \(order) is outside 0...\(geometry.maxOrder)")
    }

    @usableFromInline @inline(never)
    func badCore(_ core: Int) -> LLFreeError {
        .invalidArgument("core \(core) is outside 0..<\(cores)")
    }

    @usableFromInline @inline(never)
    func badFrame(_ frame: UInt64, _ order: Int) -> LLFreeError {
        if frame >= geometry.frames || geometry.frames - frame < UInt64(1) << UInt64(order) {
            return .invalidArgument("frame \(frame) of order \(order) is not inside the \(geometry.frames) frames")
        }
        return .invalidArgument("frame \(frame) is not aligned to order \(order)")
    }

    // MARK: Get

    /// Allocates a naturally aligned run of 2^`order` frames and returns its first frame. The
    /// change is durable when this returns.
    /// - Parameters:
    ///   - kind: the tree kind to serve from; orders >= 9 always use ``Kind/huge``.
    /// - Throws: ``LLFreeError/outOfMemory(order:)`` when no free aligned run of that order exists;
    ///   ``LLFreeError/invalidArgument(_:)`` for a bad order or core.
    ///   - owner: with owners, who the run is tagged for (1...``Owners/maxOwner``); ignored
    ///     without owners.
    @inlinable @inline(__always)
    public func get(order: Int, core: Int, kind: Kind = .fixed, owner: OwnerID = Owners.any) throws(LLFreeError) -> UInt64 {
        try check(order: order, core: core)
        try check(owner: owner)
        guard let frame = getInner(order: order, core: core, kind: Int(kind.effective(order: order).rawValue), owner: owner) else {
            throw .outOfMemory(order: order)
        }
        p.fence()
        counted(owner, 1 << order)
        return frame
    }

    /// Allocates up to `frames.count` runs of 2^`order` frames into `frames`, with one fence for
    /// the batch. Returns how many were allocated and, if fewer than asked, why.
    @inlinable
    public func get(order: Int, core: Int, kind: Kind = .fixed, owner: OwnerID = Owners.any,
                    into frames: UnsafeMutableBufferPointer<UInt64>) -> (count: Int, error: LLFreeError?) {
        get(order: order, core: core, kind: kind, owner: owner, into: frames, bulk: true)
    }

    /// Allocates up to `frames.count` runs, as ``get(order:core:kind:owner:into:)``; with `bulk`
    /// (the default there) a batch of order 0 takes its frames a bitfield row at a time (one
    /// compare-and-swap for up to 64 frames, one counter update per child, one reservation update
    /// per tree: ``getBulk(core:kind:owner:into:)``), without it frame by frame.
    @inlinable
    public func get(order: Int, core: Int, kind: Kind = .fixed, owner: OwnerID = Owners.any,
                    into frames: UnsafeMutableBufferPointer<UInt64>, bulk: Bool) -> (count: Int, error: LLFreeError?) {
        do { try check(order: order, core: core); try check(owner: owner) } catch { return (0, error) }
        let k = Int(kind.effective(order: order).rawValue)
        var n = 0
        var error: LLFreeError? = nil
        if bulk && order == 0 && frames.count > 1 {
            n = getBulk(core: core, kind: k, owner: owner, into: frames)
            if n < frames.count { error = .outOfMemory(order: 0) }
        }
        while n < frames.count && error == nil {
            guard let frame = getInner(order: order, core: core, kind: k, owner: owner) else {
                error = .outOfMemory(order: order)
                break
            }
            frames[n] = frame
            n += 1
        }
        if n > 0 {
            p.fence()
            counted(owner, n << order)
        }
        return (n, error)
    }

    /// Allocates exactly the run of 2^`order` frames at `frame`.
    /// - Throws: ``LLFreeError/notFree(frame:order:)`` if any of it is allocated.
    @inlinable
    public func get(at frame: UInt64, order: Int, core: Int, owner: OwnerID = Owners.any) throws(LLFreeError) {
        try get(at: frame, order: order, core: core, owner: owner, zeroing: true)
    }

    /// ``get(at:order:core:owner:)``; `zeroing` false leaves a huge run's content unwritten
    /// (the idle zeroer's take, which zeroes or reclaims the frame itself).
    @inlinable
    func get(at frame: UInt64, order: Int, core: Int, owner: OwnerID, zeroing: Bool) throws(LLFreeError) {
        try check(frame: frame, order: order)
        guard core >= 0, core < cores else { throw badCore(core) }
        try check(owner: owner)
        let n = 1 << order
        let t = treeOf(frame)
        ensureSettled(t)
        // Take the budget from wherever the tree's free frames are counted now: a reservation of
        // the tree (this core's first), or the tree's global counter. If the count is split
        // between a reservation and the global counter (frames other cores freed into a reserved
        // tree), the second attempt moves the global part into the reservation, as a re-sync does.
        var holder: (core: Int, kind: Int)? = nil
        var global = false
        for attempt in 0..<2 where holder == nil && !global {
            search: for i in 0..<cores {
                let c = (core + i) % cores
                for k in 0..<Kind.count {
                    let r = Reservation(raw: reservation(c, k).load(ordering: .relaxed))
                    guard r.present && r.tree == t else { continue }
                    if attempt == 1 { _ = resync(c, k) }
                    if takeReserved(c, k, tree: t, n) {
                        holder = (c, k)
                        break search
                    }
                }
            }
            if holder == nil { global = takeGlobal(t, n) }
        }
        if holder == nil && !global { throw .notFree(frame: frame, order: order) }
        guard lower.get(at: frame, order: order, owner: owner, zeroing: zeroing) else {
            if let holder { giveBack(holder.core, holder.kind, tree: t, n) } else { treeAdd(t, n) }
            throw .notFree(frame: frame, order: order)
        }
        p.fence()
        counted(owner, n)
    }

    @inlinable @inline(__always)
    func getInner(order: Int, core: Int, kind: Int, owner: OwnerID) -> UInt64? {
        let n = 1 << order
        var attempts = 0
        while attempts < 4 {
            if let frame = getReserved(core, kind, order: order, n, owner: owner) { return frame }
            if resync(core, kind) { attempts += 1; continue }
            if !reserveNew(core, kind, n) { break }
            attempts += 1
        }
        return getSlow(order: order, core: core, kind: kind, owner: owner)
    }

    /// Out of the fast path: steal from other cores' reservations, then drain them all and search
    /// every tree. Fails only if no tree has a free aligned run of that order.
    @inlinable
    func getSlow(order: Int, core: Int, kind: Int, owner: OwnerID) -> UInt64? {
        let n = 1 << order
        for i in 1..<max(cores, 1) {
            let other = (core + i) % cores
            for k in 0..<Kind.count {
                if let frame = getReserved(other, (kind + k) % Kind.count, order: order, n, owner: owner) { return frame }
            }
        }
        for k in 0..<Kind.count where k != kind {
            if let frame = getReserved(core, k, order: order, n, owner: owner) { return frame }
        }
        // Draining disturbs every core; do it only if some tree could hold such a run at all.
        guard anyTreeHas(n) else { return nil }
        for c in 0..<cores { drain(core: c) }
        let start = Reservation(raw: reservation(core, kind).load(ordering: .relaxed)).tree
        for i in 0..<geometry.trees {
            let t = (start + i) % geometry.trees
            ensureSettled(t)
            guard takeGlobal(t, n) else { continue }
            let range = geometry.childRange(tree: t)
            if let frame = lower.get(order: order, children: range, hint: UInt64(range.lowerBound) << UInt64(Geometry.hugeOrder), owner: owner) {
                return frame
            }
            treeAdd(t, n)
        }
        return nil
    }

    /// Whether some tree counts at least `n` free frames, in its global counter and the
    /// reservation that holds it together.
    @inlinable
    func anyTreeHas(_ n: Int) -> Bool {
        for t in 0..<geometry.trees where Tree(raw: tree(t).load(ordering: .relaxed)).free >= n { return true }
        for c in 0..<cores {
            for k in 0..<Kind.count {
                let r = Reservation(raw: reservation(c, k).load(ordering: .relaxed))
                if r.present && r.free + Tree(raw: tree(r.tree).load(ordering: .relaxed)).free >= n { return true }
            }
        }
        return false
    }

    /// Allocates from the tree reserved by `core` for `kind`, if its local counter allows.
    @inlinable @inline(__always)
    func getReserved(_ core: Int, _ kind: Int, order: Int, _ n: Int, owner: OwnerID) -> UInt64? {
        guard let r = update(reservation(core, kind), { (r: Reservation) in r.take(n) }) else { return nil }
        let h = hint(core, kind)
        if let frame = lower.get(order: order, children: geometry.childRange(tree: r.tree), hint: h.load(ordering: .relaxed), owner: owner) {
            h.store(frame, ordering: .relaxed)
            return frame
        }
        // The counter allowed it, but no aligned run exists in this tree: give the budget back.
        giveBack(core, kind, tree: r.tree, n)
        return nil
    }

    /// Takes `n` frames of budget from `core`'s reservation of `kind` if it is tree `t`.
    @inlinable
    func takeReserved(_ core: Int, _ kind: Int, tree t: Int, _ n: Int) -> Bool {
        update(reservation(core, kind)) { (r: Reservation) in r.take(n, tree: t) } != nil
    }

    /// Takes `n` frames of budget from tree `t`'s global counter.
    @inlinable
    func takeGlobal(_ t: Int, _ n: Int) -> Bool {
        update(tree(t)) { (value: Tree) in value.take(n) } != nil
    }

    /// Returns `n` frames of budget of tree `t`: to `core`'s reservation if it still holds `t`,
    /// else to the tree's global counter.
    @inlinable @inline(__always)
    func giveBack(_ core: Int, _ kind: Int, tree t: Int, _ n: Int) {
        if update(reservation(core, kind), { (r: Reservation) in r.giveBack(n, tree: t) }) != nil { return }
        treeAdd(t, n)
    }

    @inlinable @inline(__always)
    func treeAdd(_ t: Int, _ n: Int) { Tree.giveBack(tree(t), n) }

    /// Moves frames other cores freed into `core`'s reserved tree into its local counter.
    @inlinable
    func resync(_ core: Int, _ kind: Int) -> Bool {
        let r = Reservation(raw: reservation(core, kind).load(ordering: .relaxed))
        guard r.present, let value = update(tree(r.tree), { (value: Tree) in value.sync() }) else { return false }
        giveBack(core, kind, tree: r.tree, value.free)
        return true
    }

    // MARK: Reservation

    /// Reserves a new tree with at least `n` free frames for `core` and `kind`, returning the
    /// previous one. Near-first: trees in the same cache line of tree entries, then all.
    @inlinable
    func reserveNew(_ core: Int, _ kind: Int, _ n: Int) -> Bool {
        let old = Reservation(raw: reservation(core, kind).load(ordering: .relaxed))
        let start = old.present ? old.tree : core * geometry.trees / cores
        guard let (t, free) = search(kind: kind, n, start: start, exclude: old.present ? old.tree : -1) else { return false }
        install(core, kind, tree: t, free: free)
        return true
    }

    /// Makes tree `t`, already marked reserved with `free` frames taken, `core`'s reservation
    /// for `kind`, and unreserves whatever it held before.
    @inlinable
    func install(_ core: Int, _ kind: Int, tree t: Int, free: Int) {
        let previous = Reservation(raw: reservation(core, kind).exchange(Reservation(tree: t, free: free).raw, ordering: .acquiringAndReleasing))
        hint(core, kind).store(UInt64(geometry.childRange(tree: t).lowerBound) << UInt64(Geometry.hugeOrder), ordering: .relaxed)
        if previous.present { unreserve(previous.tree, previous.free) }
    }

    /// Gives a reservation's local frames back to its tree and clears the reserved flag.
    @inlinable
    func unreserve(_ t: Int, _ free: Int) {
        _ = update(tree(t)) { (value: Tree) in value.unreserve(adding: free) }
    }

    /// Marks tree `t` reserved for `kind` and takes its free frames, if it is unreserved, has at
    /// least `n` and passes `accept`.
    @inlinable
    func tryReserve(_ t: Int, kind: Int, _ n: Int, accept: (Tree, Int) -> Bool) -> Int? {
        // A reserved tree is used without further checks: settle it first.
        ensureSettled(t)
        let kind = Kind(rawValue: UInt8(kind))!
        let capacity = geometry.framesIn(tree: t)
        return update(tree(t)) { (value: Tree) in value.reserve(kind: kind, n, capacity: capacity, accept: accept) }?.free
    }

    /// The paper's search order: partial trees of the same kind, then entirely free trees, then
    /// partial trees of other kinds, then nearly full ones. Huge trees prefer free trees second
    /// too, which keeps free trees for huge frames as long as partial ones serve base frames.
    @inlinable
    func search(kind: Int, _ n: Int, start: Int, exclude: Int) -> (Int, Int)? {
        let count = geometry.trees
        // Trees in the same 64-byte line of tree entries are "near".
        let perLine = Geometry.lineSize / 4
        let nearStart = start & ~(perLine - 1)
        let nearCount = min(perLine, count - nearStart)
        for pass in 0..<4 {
            let accept: (Tree, Int) -> Bool = { tree, capacity in
                switch pass {
                case 0: return Int(tree.kind.rawValue) == kind && tree.free < capacity && tree.free > capacity / 8
                case 1: return tree.free == capacity
                case 2: return tree.free > capacity / 8
                default: return true
                }
            }
            for i in 0..<nearCount {
                let t = nearStart + (start - nearStart + i) % nearCount
                if t != exclude, let free = tryReserve(t, kind: kind, n, accept: accept) { return (t, free) }
            }
            for i in 0..<count {
                let t = (start + i) % count
                if t != exclude, let free = tryReserve(t, kind: kind, n, accept: accept) { return (t, free) }
            }
        }
        if exclude >= 0, let free = tryReserve(exclude, kind: kind, n, accept: { _, _ in true }) { return (exclude, free) }
        return nil
    }

    // MARK: Put

    /// Frees the run of 2^`order` frames at `frame`; durable when this returns. Freeing part of a
    /// huge frame splits it first.
    /// - Throws: ``LLFreeError/notAllocated(frame:order:)`` for a double free or an order that does
    ///   not match the allocation; ``LLFreeError/invalidArgument(_:)``. Nothing changed then.
    ///   - owner: with owners, who must hold the run (``Owners/any``: anyone, an
    ///     administrator's put); ignored without owners.
    /// - Throws: also ``LLFreeError/notOwner(frame:order:)`` when another owner holds it.
    @inlinable @inline(__always)
    public func put(_ frame: UInt64, order: Int, core: Int, owner: OwnerID = Owners.any) throws(LLFreeError) {
        try put(frame, order: order, core: core, owner: owner, waiting: Yielding())
    }

    /// Frees the run of 2^`order` frames at `frame`, as ``put(_:order:core:)``, calling
    /// `waiting` while another thread splits the huge frame this put frees part of (the
    /// simulator switches threads there).
    @inlinable @inline(__always)
    public func put<W: Waiting>(_ frame: UInt64, order: Int, core: Int, owner: OwnerID = Owners.any, waiting: W) throws(LLFreeError) {
        let holder = try putInner(frame, order: order, core: core, owner: owner, waiting)
        p.fence()
        counted(holder, -(1 << order))
    }

    /// Frees each run of 2^`order` frames in `frames`, with one fence for the batch. Calls
    /// `failed` for each refused frame (by index); returns how many were freed.
    @inlinable
    public func put(frames: UnsafeBufferPointer<UInt64>, order: Int, core: Int, owner: OwnerID = Owners.any,
                    failed: (Int, LLFreeError) -> Void) -> Int {
        put(frames: frames, order: order, core: core, owner: owner, waiting: Yielding(), failed: failed)
    }

    /// Frees each run in `frames`, as ``put(frames:order:core:failed:)``, calling `waiting`
    /// while another thread splits a huge frame one of them is part of.
    @inlinable
    public func put<W: Waiting>(frames: UnsafeBufferPointer<UInt64>, order: Int, core: Int, owner: OwnerID = Owners.any, waiting: W,
                                failed: (Int, LLFreeError) -> Void) -> Int {
        put(frames: frames, order: order, core: core, owner: owner, waiting: waiting, bulk: true, failed: failed)
    }

    /// Frees each run in `frames`, as ``put(frames:order:core:owner:waiting:failed:)``; with
    /// `bulk` (the default there) the order-0 frames of a batch that lie in one bitfield row are
    /// freed together (one compare-and-swap of the row, one counter update; each frame's tag is
    /// still claimed on its own), without it frame by frame. The same results either way.
    @inlinable
    public func put<W: Waiting>(frames: UnsafeBufferPointer<UInt64>, order: Int, core: Int, owner: OwnerID = Owners.any, waiting: W,
                                bulk: Bool, failed: (Int, LLFreeError) -> Void) -> Int {
        var n = 0
        var last = Owners.any
        var run = 0
        if bulk && order == 0 && frames.count > 1 {
            guard core >= 0, core < cores else {
                for i in 0..<frames.count { failed(i, badCore(core)) }
                return 0
            }
            n = putBulk(frames: frames, core: core, owner: owner, waiting: waiting, failed: failed) { holder in
                if holder != last { counted(last, -run); last = holder; run = 0 }
                run += 1
            }
            if n > 0 {
                p.fence()
                counted(last, -run)
            }
            return n
        }
        for i in 0..<frames.count {
            do throws(LLFreeError) {
                let holder = try putInner(frames[i], order: order, core: core, owner: owner, waiting)
                n += 1
                // Usage moves once per holder and batch (an administrator's batch may free
                // several owners' runs).
                if holder != last { counted(last, -(run << order)); last = holder; run = 0 }
                run += 1
            } catch {
                failed(i, error)
            }
        }
        if n > 0 {
            p.fence()
            counted(last, -(run << order))
        }
        return n
    }

    /// Frees one run; returns who held it (``Owners/any`` without owners).
    @inlinable @inline(__always)
    func putInner<W: Waiting>(_ frame: UInt64, order: Int, core: Int, owner: OwnerID, _ waiting: W) throws(LLFreeError) -> OwnerID {
        try check(frame: frame, order: order)
        guard core >= 0, core < cores else { throw badCore(core) }
        let t = treeOf(frame)
        ensureSettled(t)
        let holder = holderOf(frame, order: order, owner: owner)
        try lower.put(frame: frame, order: order, owner: owner, waiting: waiting)
        let n = 1 << order
        // Reserve-on-free's counterpart: frames freed into a tree this core holds stay local.
        var k = 0
        while k < Kind.count {
            if update(reservation(core, k), { (r: Reservation) in r.giveBack(n, tree: t) }) != nil { return holder }
            k += 1
        }
        treeAdd(t, n)
        reserveOnFree(core, tree: t)
        return holder
    }

    /// After ``reserveOnFreeCount`` consecutive frees by `core` into one unreserved tree, the core
    /// reserves that tree: frames it frees are likely hot in its cache.
    @inlinable @inline(__always)
    func reserveOnFree(_ core: Int, tree t: Int) {
        let last = lastFree(core)
        let value = last.load(ordering: .relaxed)
        let count = Int(value >> 40) == t ? Int(value & 0xFF) + 1 : 1
        if count < Self.reserveOnFreeCount {
            last.store(UInt64(t) << 40 | UInt64(count), ordering: .relaxed)
            return
        }
        last.store(UInt64(t) << 40, ordering: .relaxed)
        let kind = Tree(raw: tree(t).load(ordering: .relaxed)).kind
        guard kind != .huge else { return }
        if let free = tryReserve(t, kind: Int(kind.rawValue), 1, accept: { _, _ in true }) {
            install(core, Int(kind.rawValue), tree: t, free: free)
        }
    }

    // MARK: Drain

    /// Gives back every reservation of `core` to its tree.
    public func drain(core: Int) {
        guard core >= 0, core < cores else { return }
        for k in 0..<Kind.count {
            let r = Reservation(raw: reservation(core, k).exchange(Reservation.none.raw, ordering: .acquiringAndReleasing))
            if r.present { unreserve(r.tree, r.free) }
        }
    }

    /// Gives back every reservation of every core.
    public func drainAll() {
        for c in 0..<cores { drain(core: c) }
    }

    // MARK: Queries

    /// Whether the run of 2^`order` frames at `frame` is entirely free.
    public func isFree(_ frame: UInt64, order: Int) throws(LLFreeError) -> Bool {
        try check(frame: frame, order: order)
        ensureSettled(treeOf(frame))
        return lower.isFree(frame: frame, order: order)
    }

    /// Free frames in total (by the child counters; exact when no operation is in flight).
    public var freeFrames: Int { lower.counted(0..<geometry.children) }

    /// Free, naturally aligned runs of `order` (by the bitfields and huge flags).
    public func freeRuns(order: Int) -> Int { lower.freeRuns(order: order) }

    /// Free huge (order 9) frames.
    public var freeHugeFrames: Int { lower.freeRuns(order: Geometry.hugeOrder) }

    /// Occupancy of each tree.
    public func treeStats() -> [TreeStats] {
        (0..<geometry.trees).map { t in
            let value = Tree(raw: tree(t).load(ordering: .relaxed))
            var owner: Int? = nil
            for c in 0..<cores {
                for k in 0..<Kind.count {
                    let r = Reservation(raw: reservation(c, k).load(ordering: .relaxed))
                    if r.present && r.tree == t { owner = c }
                }
            }
            return TreeStats(index: t, frames: geometry.framesIn(tree: t), free: lower.counted(geometry.childRange(tree: t)),
                             reserved: value.reserved, reservedBy: owner, kind: value.kind)
        }
    }

    /// Checks every counter against the bitfields and every reservation against the trees.
    /// Meaningful when no operation is in flight. Returns one line per problem; empty if
    /// consistent.
    public func validate() -> [String] {
        var problems = lower.validate()
        var holders = [Int: [(Int, Int)]]()
        var held = [Int: Int]()
        for c in 0..<cores {
            for k in 0..<Kind.count {
                let r = Reservation(raw: reservation(c, k).load(ordering: .relaxed))
                guard r.present else { continue }
                if r.tree >= geometry.trees { problems.append("core \(c) kind \(k): reserves tree \(r.tree) beyond \(geometry.trees)"); continue }
                holders[r.tree, default: []].append((c, k))
                held[r.tree, default: 0] += r.free
            }
        }
        for t in 0..<geometry.trees {
            let value = Tree(raw: tree(t).load(ordering: .relaxed))
            let counted = lower.counted(geometry.childRange(tree: t))
            let holding = holders[t] ?? []
            if holding.count > 1 { problems.append("tree \(t): reserved by \(holding.count) reservations") }
            if value.reserved != !holding.isEmpty {
                problems.append("tree \(t): reserved flag \(value.reserved) but \(holding.count) reservations")
            }
            let sum = value.free + (held[t] ?? 0)
            if sum != counted { problems.append("tree \(t): tree + local counters \(sum) but children count \(counted)") }
        }
        return problems
    }
}

/// Occupancy of one tree.
public struct TreeStats: Sendable, Equatable {
    public var index: Int
    public var frames: Int
    public var free: Int
    public var reserved: Bool
    public var reservedBy: Int?
    public var kind: Kind
}
