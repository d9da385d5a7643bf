import Testing
@testable import LLFree

@Suite struct GeometryTests {
    @Test func sizesOfAFullPool() throws {
        let g = try Geometry(frames: 1 << 20, treeChildren: 32)  // 4 GiB
        #expect(g.children == 2048)
        #expect(g.trees == 64)
        #expect(g.maxOrder == 14)
        #expect(g.childrenOffset == 2048 * 64)
        #expect(g.metadataSize == 2048 * 64 + 4096)
    }

    @Test func partialLastChildAndTree() throws {
        let g = try Geometry(frames: 512 * 33 + 7, treeChildren: 32)
        #expect(g.children == 34)
        #expect(g.trees == 2)
        #expect(g.framesIn(child: 33) == 7)
        #expect(g.framesIn(tree: 1) == 512 + 7)
        #expect(g.childRange(tree: 1) == 32..<34)
    }

    @Test func refusesBadGeometry() {
        #expect(throws: LLFreeError.self) { try Geometry(frames: 0) }
        #expect(throws: LLFreeError.self) { try Geometry(frames: 1024, treeChildren: 3) }
        #expect(throws: LLFreeError.self) { try Geometry(frames: Geometry.maxFrames + 1) }
    }

    @Test func sixteenTebibytes() throws {
        let g = try Geometry(frames: 1 << 32)
        #expect(g.children == 1 << 23)
        #expect(g.metadataSize == (1 << 23) * 66)
    }
}
