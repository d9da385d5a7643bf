// The undo paths: an operation that takes (or frees) several rows or children and meets a
// competing change half way gives back exactly what it did, and makes the undone state durable
// at once (flush and fence), so that no crash later finds the half-done state. A persistence
// that interferes at the first store forces the competing change deterministically.

import Testing
import Atomics
@testable import LLFree

/// Records persistence events and runs an interference once, right after the first store.
final class InterferingRecorder: @unchecked Sendable {
    enum Event: Equatable { case stored(truth: Bool), flush, fence }
    var events: [Event] = []
    var interfere: (() -> Void)?
}

struct InterferingPersistence: Persistence {
    let recorder: InterferingRecorder
    func stored(_ address: UnsafeMutableRawPointer, truth: Bool) {
        recorder.events.append(.stored(truth: truth))
        if let action = recorder.interfere {
            recorder.interfere = nil
            action()
        }
    }
    func flush(_ address: UnsafeMutableRawPointer) { recorder.events.append(.flush) }
    func fence() { recorder.events.append(.fence) }
    func zero(frame: UInt64, count: Int) -> Bool { false }
}

@Suite struct UndoPathTests {
    final class Setup {
        let recorder = InterferingRecorder()
        let region: UnsafeMutableRawPointer
        let lower: Lower<InterferingPersistence>
        init(children: Int) throws {
            let geometry = try Geometry(frames: UInt64(children * 512), treeChildren: children)
            region = .allocate(byteCount: geometry.metadataSize, alignment: 64)
            lower = Lower(geometry: geometry, region: region, persistence: InterferingPersistence(recorder: recorder))
            lower.format()
            recorder.events = []
        }
        deinit { region.deallocate() }
        func rows(_ child: Int) -> [UInt64] { (0..<8).map { lower.bitfield(child).row($0).load(ordering: .relaxed) } }
        /// The events after the last store: the undo must end with a flush and a fence.
        var tail: [InterferingRecorder.Event] {
            var events: [InterferingRecorder.Event] = []
            for event in recorder.events.reversed() {
                if event == .stored(truth: true) { break }
                events.insert(event, at: 0)
            }
            return events
        }
    }

    @Test func takingTwoRowsUndoesTheFirstDurably() throws {
        let s = try Setup(children: 1)
        let bf = s.lower.bitfield(0)
        for r in 2..<8 { bf.row(r).store(~0, ordering: .relaxed) }  // only rows 0-1 can serve order 7
        s.recorder.interfere = { _ = bf.row(1).loadThenBitwiseOr(with: 1 << 5, ordering: .relaxed) }
        #expect(bf.get(order: 7, startRow: 0, s.lower.p) == nil)
        let expected: [UInt64] = [0, 1 << 5, ~0, ~0, ~0, ~0, ~0, ~0]
        #expect(s.rows(0) == expected)
        #expect(s.tail == [.flush, .fence])
    }

    @Test func freeingTwoRowsRestoresTheFirstDurably() throws {
        let s = try Setup(children: 1)
        let bf = s.lower.bitfield(0)
        bf.row(0).store(~0, ordering: .relaxed)
        bf.row(1).store(~0, ordering: .relaxed)
        s.recorder.interfere = { _ = bf.row(1).loadThenBitwiseAnd(with: ~(1 << 9), ordering: .relaxed) }
        #expect(!bf.put(at: 0, order: 7, s.lower.p))
        let expected: [UInt64] = [~0, ~(1 << 9)]
        #expect(Array(s.rows(0).prefix(2)) == expected)
        #expect(s.tail == [.flush, .fence])
    }

    @Test func takingTwoChildrenUndoesTheFirstDurably() throws {
        let s = try Setup(children: 2)
        s.recorder.interfere = { s.lower.entry(1).store(Child(free: 511).raw, ordering: .relaxed) }
        #expect(!s.lower.takeHuge(start: 0, span: 1))
        #expect(s.lower.child(0) == Child(free: 512))
        #expect(s.tail == [.flush, .fence])
    }

    @Test func freeingTwoChildrenRestoresTheFirstDurably() throws {
        let s = try Setup(children: 2)
        #expect(s.lower.takeHuge(start: 0, span: 1))
        s.recorder.events = []
        s.recorder.interfere = { s.lower.entry(1).store(Child(free: 512).raw, ordering: .relaxed) }
        #expect(throws: LLFreeError.notAllocated(frame: 0, order: 10)) { try s.lower.put(frame: 0, order: 10, owner: Owners.any, waiting: Yielding()) }
        #expect(s.lower.child(0) == Child(free: 0, huge: true, span: 1))
        #expect(s.tail == [.flush, .fence])
    }
}
