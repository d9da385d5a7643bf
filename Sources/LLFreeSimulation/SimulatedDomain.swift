// The simulated persistence domain: an in-memory image of a pool whose every 64-byte line keeps
// the history of versions it went through since it was last durable, so that a crash at any
// moment can be turned into the image a real machine could have left behind.
//
// Fault model (x86, ADR; see docs/crash-model.md):
// - State is kept per aligned 64-byte line. Aligned stores of 8 bytes or less, and CAS, are
//   power-fail atomic: they are the unit of a version.
// - Every store the code reports with `stored` appends the line's new content to its history.
// - `flush(line)` records, for the flushing thread, how many versions of that line it has seen;
//   only a later `fence` by the same thread makes the recorded version (and all before it)
//   durable. Another thread's fence does not.
// - After a crash, each line independently holds one version between its last durable one and
//   its newest (a prefix of its store history), chosen by a seeded random source, or every
//   combination when the window is small. A line whose newest version changed several 8-byte
//   words at once (one report for a wider store) may also tear at 8-byte boundaries.
// - eADR: caches are in the persistence domain, the newest version of every line survives.
//   Process crash: the same for memory; it tests only multi-step atomicity.
// - A store that was never reported leaves the live line different from its durable copy
//   with no history: the domain reports it as a discipline violation instead of guessing.

import LLFree

/// The kind of machine failure a crash image models.
public enum CrashMode: String, Sendable, CaseIterable {
    /// Asynchronous DRAM refresh: only what was flushed and fenced is sure to survive.
    case adr
    /// Extended ADR: CPU caches survive, nothing visible is lost.
    case eadr
    /// The process dies, the machine does not: nothing written is lost.
    case process
}

/// Which persistence step the `--break` switch removes, to prove the harness can fail.
public enum BrokenStep: String, Sendable, CaseIterable {
    /// The first flush of every allocator operation is dropped.
    case flush
    /// The first fence of every allocator operation is dropped.
    case fence
    /// Every flush of a line in the frame-tag and huge-tag areas is dropped.
    case tagFlush = "tag-flush"
    /// Every flush of a line of the owner table is dropped.
    case ownerFlush = "owner-flush"
    /// Every flush of a line of the owner table is dropped once the workload's owners exist:
    /// the changes made after creation (roots, quotas, temporary owners' creation and removal)
    /// must be caught on their own, not only the creations that `owner-flush` breaks first.
    case ownerChangeFlush = "owner-change-flush"
    /// Every flush of a frame's content written by zeroing is dropped: a frame handed to a new
    /// holder, or marked known zero, may then keep an earlier holder's bytes after a crash.
    case zeroFlush = "zero-flush"
    /// A reclaimed (punched) huge frame's hole is not made durable: after a crash its frames,
    /// marked known zero, may read their old bytes again.
    case punchSync = "punch-sync"
}

/// A persistence event, as the explorer sees it.
public enum PersistenceEvent: Sendable, Equatable {
    case store(line: Int)
    case flush(line: Int)
    case fence
}

/// An in-memory pool image with per-line version histories.
public final class SimulatedDomain: @unchecked Sendable {
    /// The live image (what the CPU sees, caches included).
    public let base: UnsafeMutableRawPointer
    /// Bytes of the image that are tracked (a multiple of 64).
    public let length: Int
    /// The durable image (what survives a crash for lines without history).
    let durable: UnsafeMutableRawPointer
    /// Per line, the versions stored since its durable one, oldest first.
    var histories: [Int: [Line]] = [:]
    /// Per simulated thread, line -> number of versions its flush covered.
    var flushed: [Int: [Int: Int]] = [:]
    /// Called after every event; the explorer crashes and schedules here.
    public var observer: ((PersistenceEvent) -> Void)?
    /// The simulated thread issuing the current events.
    public var thread = 0
    /// Called when code waits for another thread (a scheduler switches threads here).
    public var spin: (() -> Void)?
    /// The step to drop, and whether the current operation dropped it already.
    public var broken: BrokenStep?
    var droppedInOperation = false
    /// Byte ranges of the image holding the frame tags, the huge tags and the owner table (for
    /// `tag-flush` and `owner-flush`).
    public var frameTagBytes = 0..<0, hugeTagBytes = 0..<0, ownerTableBytes = 0..<0
    /// Where the frames' content is modelled: one 64-byte line per frame from this offset (its
    /// first word stands for the frame's bytes); nil when no content is modelled.
    public var contentOffset: Int?
    /// Set once the workload's owners are created (``BrokenStep/ownerChangeFlush`` acts from then).
    public var ownersCreated = false
    /// While set, the scheduler does not switch threads at persistence events (code holding a
    /// lock runs; crash images are still taken).
    public var noSwitch = false
    /// Counts for the report.
    public private(set) var stores = 0, flushes = 0, fences = 0
    /// Wasted persistence work.
    public private(set) var cleanFlushes = 0, repeatedFlushes = 0, emptyFences = 0
    /// Discipline violations found without crashing (unreported stores, truth lines never flushed).
    public private(set) var disciplineViolations: [String] = []
    /// Truth lines stored since their last flush, per thread.
    var unflushedTruth: [Int: Set<Int>] = [:]

    /// 64 bytes of a line.
    struct Line: Equatable {
        var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
        init(_ p: UnsafeRawPointer) {
            words = p.loadUnaligned(as: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64).self)
        }
        func write(to p: UnsafeMutableRawPointer) { p.storeBytes(of: words, as: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64).self) }
        func word(_ i: Int) -> UInt64 { withUnsafeBytes(of: words) { $0.load(fromByteOffset: i * 8, as: UInt64.self) } }
        static func == (a: Line, b: Line) -> Bool {
            withUnsafeBytes(of: a.words) { x in withUnsafeBytes(of: b.words) { y in x.elementsEqual(y) } }
        }
    }

    /// A domain of `length` bytes (rounded up to whole lines), all zero and durable.
    public init(length: Int) {
        self.length = (length + 63) & ~63
        base = .allocate(byteCount: self.length, alignment: 4096)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: self.length)
        durable = .allocate(byteCount: self.length, alignment: 64)
        durable.initializeMemory(as: UInt8.self, repeating: 0, count: self.length)
    }

    /// A domain whose live and durable content is a copy of `image`.
    public convenience init(copying image: UnsafeRawPointer, length: Int) {
        self.init(length: length)
        base.copyMemory(from: image, byteCount: length)
        durable.copyMemory(from: image, byteCount: length)
    }

    deinit {
        base.deallocate()
        durable.deallocate()
    }

    /// The persistence seam for code running on this domain.
    public var persistence: SimulatedPersistence { SimulatedPersistence(domain: self) }

    /// The scheduling hook for code running on this domain (passed to puts that may wait).
    public var waiting: SimulatedWaiting { SimulatedWaiting(domain: self) }

    func lineIndex(_ address: UnsafeMutableRawPointer) -> Int {
        let offset = address - base
        precondition(offset >= 0 && offset < length, "store outside the simulated image at offset \(offset)")
        return offset / 64
    }

    // MARK: Events

    func stored(_ address: UnsafeMutableRawPointer, truth: Bool) {
        let line = lineIndex(address)
        histories[line, default: []].append(Line(base + line * 64))
        if truth { unflushedTruth[thread, default: []].insert(line) }
        stores += 1
        if !quiet { observer?(.store(line: line)) }
    }

    func flush(_ address: UnsafeMutableRawPointer) {
        let line = lineIndex(address)
        if broken == .flush && !droppedInOperation {
            droppedInOperation = true
            return
        }
        let offset = line * 64
        if broken == .tagFlush && (frameTagBytes.contains(offset) || hugeTagBytes.contains(offset)) { return }
        if broken == .ownerFlush && ownerTableBytes.contains(offset) { return }
        if broken == .ownerChangeFlush && ownersCreated && ownerTableBytes.contains(offset) { return }
        let versions = histories[line]?.count ?? 0
        if versions == 0 { cleanFlushes += 1 }
        if let already = flushed[thread]?[line], already == versions { repeatedFlushes += 1 }
        flushed[thread, default: [:]][line] = versions
        unflushedTruth[thread]?.remove(line)
        flushes += 1
        if !quiet { observer?(.flush(line: line)) }
    }

    func fence() {
        if broken == .fence && !droppedInOperation {
            droppedInOperation = true
            return
        }
        if let lines = unflushedTruth[thread], !lines.isEmpty {
            disciplineViolations.append("thread \(thread) fenced with truth lines \(lines.sorted()) stored but never flushed")
            unflushedTruth[thread] = []
        }
        let pending = flushed[thread] ?? [:]
        if pending.isEmpty { emptyFences += 1 }
        for (line, count) in pending where count > 0 {
            guard var history = histories[line] else { continue }
            // Another thread's fence may already have made some of these durable.
            let consumed = min(count, history.count)
            if consumed == 0 { continue }
            history[consumed - 1].write(to: durable + line * 64)
            history.removeFirst(consumed)
            histories[line] = history.isEmpty ? nil : history
            // Other threads' recorded flushes of this line now refer to fewer pending versions.
            for (other, var lines) in flushed where other != thread {
                if let c = lines[line] { lines[line] = max(0, c - consumed); flushed[other] = lines }
            }
        }
        flushed[thread] = [:]
        fences += 1
        observer?(.fence)
    }

    // MARK: Frame content

    /// The content line of `frame`.
    func contentLine(_ frame: UInt64) -> UnsafeMutableRawPointer? {
        guard let contentOffset else { return nil }
        let offset = contentOffset + Int(frame) * 64
        precondition(offset + 64 <= length, "frame \(frame) is beyond the modelled content")
        return base + offset
    }

    /// While set, stores and flushes are recorded without a crash point of their own.
    var quiet = false

    /// The seam's zeroing: each frame's content line is cleared, reported and flushed, as a
    /// real memset and write-back of the frame would be. One crash point for the whole range
    /// (after it); which of its lines a crash keeps is the crash image's choice, line by line.
    func zero(frame: UInt64, count: Int) -> Bool {
        guard contentOffset != nil else { return false }
        quiet = true
        defer {
            quiet = false
            observer?(.flush(line: lineIndex(contentLine(frame + UInt64(count) - 1)!)))
        }
        for f in frame..<(frame + UInt64(count)) {
            let line = contentLine(f)!
            line.initializeMemory(as: UInt8.self, repeating: 0, count: 64)
            stored(line, truth: true)
            if broken == .zeroFlush {
                // Dropped: the line stays pending, never made durable by this thread's fence.
                unflushedTruth[thread]?.remove(lineIndex(line))
                continue
            }
            flush(line)
        }
        return true
    }

    /// A hole punched over `count` frames from `frame` and synced (the idle zeroer's reclaim): their
    /// content is zero, live and durable at once, as fallocate and fdatasync leave a file. One
    /// crash point after it. With ``BrokenStep/punchSync`` the zeros are only pending.
    public func punch(frame: UInt64, count: Int) {
        guard contentOffset != nil else { return }
        for f in frame..<(frame + UInt64(count)) {
            let line = contentLine(f)!
            let index = lineIndex(line)
            line.initializeMemory(as: UInt8.self, repeating: 0, count: 64)
            if broken == .punchSync {
                histories[index, default: []].append(Line(line))
                continue
            }
            (durable + index * 64).initializeMemory(as: UInt8.self, repeating: 0, count: 64)
            histories[index] = nil
            for (thread, var lines) in flushed where lines[index] != nil {
                lines[index] = nil
                flushed[thread] = lines
            }
        }
        observer?(.store(line: lineIndex(contentLine(frame + UInt64(count) - 1)!)))
    }

    /// A client's write into a frame it holds: `value` in the first word of its content line.
    /// Not flushed (a client persists its data as it likes): a crash may keep it or not. No crash
    /// point of its own.
    public func clientWrite(frame: UInt64, value: UInt64) {
        guard let line = contentLine(frame) else { return }
        line.storeBytes(of: value, as: UInt64.self)
        histories[lineIndex(line), default: []].append(Line(line))
    }

    /// The first word of `frame`'s content line as it is now (live).
    public func content(frame: UInt64) -> UInt64 {
        contentLine(frame)?.load(as: UInt64.self) ?? 0
    }

    /// Marks the start of an allocator operation (for `--break`).
    public func beginOperation() { droppedInOperation = false }

    /// Makes everything durable, as a clean shutdown followed by a power cycle would.
    public func persistEverything() {
        durable.copyMemory(from: base, byteCount: length)
        histories = [:]
        flushed = [:]
        unflushedTruth = [:]
    }

    // MARK: Crash images

    /// Number of lines with versions that are not yet durable.
    public var pendingLines: Int { histories.count }

    /// How many distinct images a crash now can produce (saturating at `limit`).
    public func imageCount(limit: Int) -> Int {
        var n = 1
        for (_, h) in histories {
            n = n.multipliedReportingOverflow(by: h.count + 1).partialValue
            if n >= limit || n <= 0 { return limit }
        }
        return n
    }

    /// Writes into `image` the durable image after a crash now. `choice(line, versions)` picks,
    /// for each line with pending versions, how many of them survive (0...versions).
    /// Returns lines whose live content differs from durable with no history (unreported stores).
    @discardableResult
    public func crashImage(into image: UnsafeMutableRawPointer, mode: CrashMode, tear: Bool,
                           choice: (Int, Int) -> Int) -> [Int] {
        image.copyMemory(from: durable, byteCount: length)
        for line in histories.keys.sorted() {
            let history = histories[line]!
            let keep = mode == .adr ? choice(line, history.count) : history.count
            guard keep > 0 else { continue }
            let chosen = history[keep - 1]
            chosen.write(to: image + line * 64)
            if tear && mode == .adr {
                // The chosen version may have landed only partly at 8-byte granularity.
                let previous = keep >= 2 ? history[keep - 2] : Line(durable + line * 64)
                let changed = (0..<8).filter { chosen.word($0) != previous.word($0) }
                if changed.count > 1 {
                    for w in changed where choice(line, 1) == 0 {
                        (image + line * 64 + w * 8).storeBytes(of: previous.word(w), as: UInt64.self)
                    }
                }
            }
        }
        return unreportedStores()
    }

    /// Lines whose live content differs from the durable one with no recorded history.
    public func unreportedStores() -> [Int] {
        var lines: [Int] = []
        for line in 0..<(length / 64) where histories[line] == nil {
            if memcmp(base + line * 64, durable + line * 64, 64) != 0 { lines.append(line) }
        }
        return lines
    }
}

/// The persistence seam over a ``SimulatedDomain``.
public struct SimulatedPersistence: Persistence, @unchecked Sendable {
    public let domain: SimulatedDomain
    public func stored(_ address: UnsafeMutableRawPointer, truth: Bool) { domain.stored(address, truth: truth) }
    public func flush(_ address: UnsafeMutableRawPointer) { domain.flush(address) }
    public func fence() { domain.fence() }
    public func zero(frame: UInt64, count: Int) -> Bool { domain.zero(frame: frame, count: count) }
}

/// The scheduling hook over a ``SimulatedDomain``: a put that waits for another simulated
/// thread's split hands the turn to another thread, which the scheduler does in `domain.spin`.
public struct SimulatedWaiting: Waiting, @unchecked Sendable {
    public let domain: SimulatedDomain
    public func spin() { domain.spin?() }
}

#if canImport(Glibc)
import Glibc
#endif
