import Testing
import Atomics
@testable import LLFree

@Suite struct BitfieldTests {
    /// A single bitfield in its own cache line.
    final class Line {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)
        var bitfield: Bitfield { Bitfield(memory.bindMemory(to: UnsafeAtomic<UInt64>.Storage.self, capacity: 8)) }
        func rows() -> [UInt64] { (0..<8).map { bitfield.row($0).load(ordering: .relaxed) } }
        func set(_ rows: [UInt64]) { for (i, v) in rows.enumerated() { bitfield.row(i).store(v, ordering: .relaxed) } }
        deinit { memory.deallocate() }
    }

    /// Rows with every bit set except the run of 2^order at `index`.
    static func allBut(index: Int, order: Int) -> [UInt64] {
        var bits = [UInt64](repeating: ~0, count: 8)
        for f in index..<(index + (1 << order)) { bits[f / 64] &= ~(1 << UInt64(f % 64)) }
        return bits
    }

    @Test(arguments: 0...8)
    func getFindsTheOnlyFreeRunAtEveryAlignment(order: Int) {
        let line = Line()
        let p = VolatilePersistence()
        for index in stride(from: 0, to: 512, by: 1 << order) {
            for startRow in [0, 3, 7] {
                line.set(Self.allBut(index: index, order: order))
                #expect(line.bitfield.get(order: order, startRow: startRow, p) == index, "order \(order) index \(index)")
                #expect(line.rows() == [UInt64](repeating: ~0, count: 8))
            }
        }
    }

    @Test(arguments: 0...8)
    func getRefusesRunsThatAreMisalignedOrPartlyTaken(order: Int) {
        let line = Line()
        let p = VolatilePersistence()
        guard order > 0 else {
            line.set([UInt64](repeating: ~0, count: 8))
            #expect(line.bitfield.get(order: 0, startRow: 0, p) == nil)
            return
        }
        for index in stride(from: 0, to: 512, by: 1 << order) {
            // Free a run of the right size, but shifted by half its size: never aligned.
            let shifted = index + (1 << (order - 1))
            guard shifted + (1 << order) <= 512 else { continue }
            var rows = [UInt64](repeating: ~0, count: 8)
            for f in shifted..<(shifted + (1 << order)) { rows[f / 64] &= ~(1 << UInt64(f % 64)) }
            line.set(rows)
            #expect(line.bitfield.get(order: order, startRow: 0, p) == nil)
            #expect(line.rows() == rows, "nothing may change")
            // A free run with one bit taken in the middle.
            var partly = Self.allBut(index: index, order: order)
            let middle = index + (1 << order) / 2
            partly[middle / 64] |= 1 << UInt64(middle % 64)
            line.set(partly)
            #expect(line.bitfield.get(order: order, startRow: 0, p) == nil)
            #expect(line.rows() == partly)
        }
    }

    @Test(arguments: 0...8)
    func fillsAnEmptyBitfieldCompletelyThenPutsEverythingBack(order: Int) {
        let line = Line()
        let p = VolatilePersistence()
        line.set([UInt64](repeating: 0, count: 8))
        var got: [Int] = []
        while let i = line.bitfield.get(order: order, startRow: 0, p) { got.append(i) }
        #expect(got.sorted() == Array(stride(from: 0, to: 512, by: 1 << order)))
        #expect(line.bitfield.allocated() == 512)
        for i in got { #expect(line.bitfield.put(at: i, order: order, p)) }
        #expect(line.bitfield.allocated() == 0)
        // A second put of the same run is a double free and changes nothing.
        #expect(!line.bitfield.put(at: 0, order: order, p))
        #expect(line.bitfield.allocated() == 0)
    }

    @Test(arguments: 1...8)
    func putOfAPartlyAllocatedRunChangesNothing(order: Int) {
        let line = Line()
        let p = VolatilePersistence()
        line.set([UInt64](repeating: 0, count: 8))
        // Allocate all but the last frame of the run at 0 as order 0.
        for f in 0..<((1 << order) - 1) { #expect(line.bitfield.set(at: f, order: 0, p)) }
        let before = line.rows()
        #expect(!line.bitfield.put(at: 0, order: order, p))
        #expect(line.rows() == before)
    }

    @Test func freeRunsCountsAlignedRuns() {
        let line = Line()
        line.set([0, ~0, 0x0000_0000_FFFF_FFFF, ~0, ~0, ~0, ~0, 1])
        #expect(line.bitfield.freeRuns(order: 0) == 64 + 32 + 63)
        #expect(line.bitfield.freeRuns(order: 5) == 2 + 1 + 1)
        #expect(line.bitfield.freeRuns(order: 6) == 1)
        #expect(line.bitfield.freeRuns(order: 7) == 0)
        #expect(line.bitfield.isFree(at: 0, order: 6))
        #expect(!line.bitfield.isFree(at: 448, order: 0))
        #expect(line.bitfield.isFree(at: 449, order: 0))
    }
}
