// The bitfield of one child: 512 bits in eight UInt64 rows (one cache line), one bit per frame,
// 1 = allocated. Ground truth for base frames; every change is a single-row CAS (``update(_:_:)``)
// or, for orders 7 and 8, whole rows all or none (``changeAll``).

import Atomics

/// A view of one child's bitfield inside the metadata region.
@frozen
public struct Bitfield {
    @usableFromInline let base: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>

    @inlinable @inline(__always)
    init(_ base: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>) { self.base = base }

    @inlinable @inline(__always)
    func row(_ i: Int) -> UnsafeAtomic<UInt64> { UnsafeAtomic(at: base + i) }

    @inlinable @inline(__always)
    var line: UnsafeMutableRawPointer { UnsafeMutableRawPointer(base) }

    /// Bits set at every position aligned to 2^order, for orders 0...6.
    @inlinable @inline(__always)
    static func alignment(_ order: Int) -> UInt64 {
        switch order {
        case 0: return ~0
        case 1: return 0x5555_5555_5555_5555
        case 2: return 0x1111_1111_1111_1111
        case 3: return 0x0101_0101_0101_0101
        case 4: return 0x0001_0001_0001_0001
        case 5: return 0x0000_0001_0000_0001
        default: return 1
        }
    }

    /// Positions where a naturally aligned run of 2^order zero bits starts in `row` (order <= 6).
    @inlinable @inline(__always)
    static func freeRuns(_ row: UInt64, order: Int) -> UInt64 {
        var free = ~row
        var shift = 1
        var i = 0
        while i < order {
            free &= free >> UInt64(shift)
            shift <<= 1
            i += 1
        }
        return free & alignment(order)
    }

    /// The mask of 2^order bits starting at `bit` (order <= 6).
    @inlinable @inline(__always)
    static func mask(order: Int, bit: Int) -> UInt64 {
        order >= 6 ? ~0 : ((1 << UInt64(1 << order)) - 1) << UInt64(bit)
    }

    /// Finds a free, naturally aligned run of 2^order frames (order 0...8), sets it and returns
    /// its first index in the child. The search starts at row `startRow`. Returns nil when no
    /// such run exists; then nothing was changed.
    @inlinable @inline(__always)
    func get<P: Persistence>(order: Int, startRow: Int, _ p: P) -> Int? {
        if order <= 6 {
            var i = 0
            while i < Geometry.rows {
                let r = (startRow + i) & (Geometry.rows - 1)
                var bit = 0
                let taken = update(row(r)) { (value: UInt64) -> UInt64? in
                    let runs = Bitfield.freeRuns(value, order: order)
                    if runs == 0 { return nil }
                    bit = runs.trailingZeroBitCount
                    return value | Bitfield.mask(order: order, bit: bit)
                }
                if taken != nil {
                    p.stored(line, truth: true)
                    p.flush(line)
                    return r * Geometry.rowBits + bit
                }
                i += 1
            }
            return nil
        }
        // Orders 7 and 8: 2 or 4 whole rows, each taken from 0 to all ones.
        let count = 1 << (order - 6)
        var group = 0
        let groups = Geometry.rows / count
        let startGroup = (startRow / count) % groups
        while group < groups {
            let first = ((startGroup + group) % groups) * count
            if takeRows(first: first, count: count, p) {
                return first * Geometry.rowBits
            }
            group += 1
        }
        return nil
    }

    /// Takes `count` whole rows from 0 to all ones, all or none. Undo by plain stores: rows we
    /// took from 0 to all ones are ours, nobody else changes them.
    @inlinable
    func takeRows<P: Persistence>(first: Int, count: Int, _ p: P) -> Bool {
        changeAll(count, from: 0, to: ~0, undo: .store, p, word: { row(first &+ $0) }, line: { _ in line })
    }

    /// Sets exactly the run of 2^order frames at `index` if all of it is free.
    @inlinable
    func set<P: Persistence>(at index: Int, order: Int, _ p: P) -> Bool {
        if order <= 6 {
            let mask = Bitfield.mask(order: order, bit: index % Geometry.rowBits)
            guard update(row(index / Geometry.rowBits), { (value: UInt64) in value & mask == 0 ? value | mask : nil }) != nil
            else { return false }
            p.stored(line, truth: true)
            p.flush(line)
            return true
        }
        return takeRows(first: index / Geometry.rowBits, count: 1 << (order - 6), p)
    }

    /// Clears the run of 2^order frames at `index` if every bit of it is set; otherwise changes
    /// nothing and returns false.
    @inlinable @inline(__always)
    func put<P: Persistence>(at index: Int, order: Int, _ p: P) -> Bool {
        if order <= 6 {
            let mask = Bitfield.mask(order: order, bit: index % Geometry.rowBits)
            guard update(row(index / Geometry.rowBits), { (value: UInt64) in value & mask == mask ? value & ~mask : nil }) != nil
            else { return false }
            p.stored(line, truth: true)
            p.flush(line)
            return true
        }
        // Orders 7 and 8: only a racing put of the same frames makes a row refuse. Undo by OR:
        // a concurrent get may already have taken bits of the rows we cleared, and keeps them.
        let first = index / Geometry.rowBits
        return changeAll(1 << (order - 6), from: ~0, to: 0, undo: .merge, p,
                         word: { row(first &+ $0) }, line: { _ in line })
    }

    /// Whether all 2^order frames at `index` are free (order 0...8).
    @inlinable
    func isFree(at index: Int, order: Int) -> Bool {
        if order <= 6 {
            let mask = Bitfield.mask(order: order, bit: index % Geometry.rowBits)
            return row(index / Geometry.rowBits).load(ordering: .relaxed) & mask == 0
        }
        let first = index / Geometry.rowBits
        for i in 0..<(1 << (order - 6)) where row(first + i).load(ordering: .relaxed) != 0 {
            return false
        }
        return true
    }

    /// Number of set (allocated) bits.
    @inlinable
    func allocated() -> Int {
        var n = 0
        for i in 0..<Geometry.rows { n += row(i).load(ordering: .relaxed).nonzeroBitCount }
        return n
    }

    /// Free aligned runs of `order` (0...8) in this bitfield.
    @inlinable
    func freeRuns(order: Int) -> Int {
        if order <= 6 {
            var n = 0
            for i in 0..<Geometry.rows {
                n += Bitfield.freeRuns(row(i).load(ordering: .relaxed), order: order).nonzeroBitCount
            }
            return n
        }
        let count = 1 << (order - 6)
        var n = 0
        var first = 0
        while first < Geometry.rows {
            if isFree(at: first * Geometry.rowBits, order: order) { n += 1 }
            first += count
        }
        return n
    }

    /// Stores `value` into every row (used when splitting a huge frame, by format and recovery);
    /// flushes the line. Returns whether any row changed.
    @inlinable
    @discardableResult
    func fill<P: Persistence>(_ value: UInt64, _ p: P) -> Bool {
        var changed = false
        for i in 0..<Geometry.rows where row(i).load(ordering: .relaxed) != value {
            row(i).store(value, ordering: .releasing)
            p.stored(line, truth: true)
            changed = true
        }
        if changed { p.flush(line) }
        return changed
    }

    /// Whether every row equals `value`.
    @inlinable
    func all(_ value: UInt64) -> Bool {
        for i in 0..<Geometry.rows where row(i).load(ordering: .relaxed) != value { return false }
        return true
    }
}
