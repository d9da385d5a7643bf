// The one atomic-update idiom of the allocator: every read-modify-write of a tree entry, a
// reservation, a child entry or a bitfield row is a transition (old value -> new value, or "no")
// retried by `update`, and every change of several words at once goes through `changeAll`, whose
// undo rule is its parameter. Both are always inlined, so the closures disappear and what remains
// is the same compare-and-swap loop as written by hand.

import Atomics

/// A value kept in one atomic word as its raw bits (``Tree``, ``Reservation``, ``Child``, and a
/// bitfield row as itself).
@usableFromInline
protocol AtomicWord {
    associatedtype Raw: AtomicInteger where Raw.AtomicRepresentation.Value == Raw
    var raw: Raw { get }
    init(raw: Raw)
}

extension UInt64: AtomicWord {
    @inlinable @inline(__always) var raw: UInt64 { self }
    @inlinable @inline(__always) init(raw: UInt64) { self = raw }
}

/// Applies `transition` to the word's current value and stores its result with a
/// compare-and-swap, retrying with the newer value until the swap succeeds or `transition` says
/// no (nil). Returns the value that was replaced, or nil if nothing changed.
///
/// `transition` may run several times and must have no effect other than its result (it may
/// assign to locals of the caller; the last run is the one that applied).
@inlinable @inline(__always)
func update<W: AtomicWord>(_ atomic: UnsafeAtomic<W.Raw>, _ transition: (W) -> W?) -> W? {
    var value = atomic.load(ordering: .relaxed)
    while let new = transition(W(raw: value)) {
        let (done, current) = atomic.weakCompareExchange(
            expected: value, desired: new.raw, ordering: .acquiringAndReleasing)
        if done { return W(raw: value) }
        value = current
    }
    return nil
}

/// How ``changeAll(_:from:to:undo:_:word:line:)`` gives back the words it changed when a later
/// word refuses.
@usableFromInline
enum Undo {
    /// Store the old value back. Right only for words nobody else changes while they hold the new
    /// value (bitfield rows taken whole, children taken huge: no one else takes from them, and a
    /// put of them would be a double free that checks the old value first).
    case store
    /// OR the old value back in. Keeps every bit another thread set since (rows a put freed,
    /// into which a concurrent get may already have allocated).
    case merge
    /// Compare-and-swap the new value back to the old one. Restores only a word nobody changed
    /// since (children a put freed, which another thread may already have taken).
    case exchange
}

/// Changes `count` words from `expected` to `desired`, all or none.
///
/// First checks that every word holds `expected` (plain loads, so an obvious refusal costs no
/// store). Then swaps the words in order, reporting each to `p` as a truth store; if one swap
/// fails, the words already swapped are given back by `undo`, each reported as a store.
///
/// The crash-safety rule, kept here once for all four users: when anything was undone, the
/// undone words are flushed and fenced at once, before returning false. The caller may answer
/// "no" without any fence of its own, and a crash after that answer must not find the words
/// changed. On success the changed lines are flushed, and the caller's fence makes them durable.
///
/// - Parameters:
///   - word: the atomic word `i` (0..<count).
///   - line: an address inside the 64-byte line of word `i`; consecutive words on one line are
///     flushed once.
@inlinable @inline(__always)
func changeAll<V: AtomicInteger, P: Persistence>(
    _ count: Int, from expected: V, to desired: V, undo: Undo, _ p: P,
    word: (Int) -> UnsafeAtomic<V>, line: (Int) -> UnsafeMutableRawPointer
) -> Bool where V.AtomicRepresentation.Value == V {
    var i = 0
    while i < count {
        if word(i).load(ordering: .relaxed) != expected { return false }
        i += 1
    }
    i = 0
    while i < count {
        let (done, _) = word(i).compareExchange(expected: expected, desired: desired, ordering: .acquiringAndReleasing)
        if !done {
            let undone = i
            while i > 0 {
                i -= 1
                switch undo {
                case .store: word(i).store(expected, ordering: .releasing)
                case .merge: _ = word(i).loadThenBitwiseOr(with: expected, ordering: .acquiringAndReleasing)
                case .exchange: _ = word(i).compareExchange(expected: desired, desired: expected, ordering: .acquiringAndReleasing)
                }
                p.stored(line(i), truth: true)
            }
            if undone > 0 {
                flushLines(undone, p, line: line)
                p.fence()
            }
            return false
        }
        p.stored(line(i), truth: true)
        i += 1
    }
    flushLines(count, p, line: line)
    return true
}

/// Flushes the lines of words 0..<count, each line once (the words are consecutive in memory).
@inlinable @inline(__always)
func flushLines<P: Persistence>(_ count: Int, _ p: P, line: (Int) -> UnsafeMutableRawPointer) {
    var last = UInt.max
    var i = 0
    while i < count {
        let address = line(i)
        let current = UInt(bitPattern: address) / UInt(Geometry.lineSize)
        if current != last {
            p.flush(address)
            last = current
        }
        i += 1
    }
}
