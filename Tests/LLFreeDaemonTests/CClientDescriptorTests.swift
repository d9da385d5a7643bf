// The C client's side of the frames descriptor (protocol version 3, op 0x10), against a peer
// that speaks it on a real socket (FramesPeer), read as a specification: connect asks for the
// descriptor alone, with nothing else in flight, and keeps it (close-on-exec); frames are mapped
// at the reply's framesOffset in the descriptor's object, not the pool file's; a read-only
// descriptor maps read-only; a daemon without the op is "not supported" and the path from hello
// is opened only if the caller allows it; a descriptor nobody asked for is closed.

import CLLFreeClient
import Foundation
import LLFreeTestSupport
import Testing

@Suite(.serialized) struct CClientDescriptorTests {
    /// A directory with an object file: a 4 KiB header with `magic` at 0 ("LLFRAMES" for a split
    /// pool's frames object, "LLFREEPL" for a single-file pool) and `uuid` at 16...31, then
    /// `frames` frames.
    static func object(_ directory: String, name: String, uuid: [UInt8], frames: Int, magic: String = "LLFRAMES") throws -> String {
        let path = directory + "/" + name
        var header = [UInt8](repeating: 0, count: 4096)
        header.replaceSubrange(0..<8, with: Array(magic.utf8))
        header.replaceSubrange(16..<32, with: uuid)
        try Data(header + [UInt8](repeating: 0, count: frames * 4096)).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func directory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("llfree-peer-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static let uuid: [UInt8] = (0..<16).map { UInt8(0xA0 + $0) }

    @Test(arguments: [UInt8(2), UInt8(1)])
    func theDescriptorIsTakenAtConnectAndMappedAtItsOwnOffset(access: UInt8) throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try Self.object(dir, name: "frames.object", uuid: Self.uuid, frames: 8)
        let passed = open(path, access == 2 ? O_RDWR : O_RDONLY)
        let peer = try FramesPeer(directory: dir, uuid: Self.uuid, poolPath: dir + "/not-there.pool",
                                  frames: .descriptor(fd: passed, access: access, layout: 1, offset: 4096, frames: 8))
        defer { peer.stop() }
        let c = try #require(CClient.connect(socket: peer.socket, owner: "peer").client, "\(CClient.message)")
        close(passed)
        #expect(peer.framesRequestWasAlone == true)
        #expect(CClient.poolInfo(c).version == 3)

        var object = llfree_frames()
        #expect(llfree_frames_get(c.pointer, &object) == LLFREE_OK)
        #expect(object.source == UInt8(LLFREE_FRAMES_DESCRIPTOR) && object.access == access && object.layout == 1)
        #expect(object.frames_offset == 4096 && object.frames == 8 && object.frame_size == 4096)
        #expect(object.fd >= 0 && fcntl(object.fd, F_GETFD) & FD_CLOEXEC != 0)

        var address: UnsafeMutableRawPointer? = nil
        let readWrite = Int32(LLFREE_MAP_READ | LLFREE_MAP_WRITE)
        if access == 1 {
            #expect(llfree_map(c.pointer, 2, 2, readWrite, &address) == LLFREE_E_NOT_PERMITTED)
            #expect(llfree_map(c.pointer, 2, 2, Int32(LLFREE_MAP_READ), &address) == LLFREE_OK)
            #expect(llfree_unmap(c.pointer, address, 2) == LLFREE_OK)
            return
        }
        #expect(llfree_map(c.pointer, 2, 2, readWrite, &address) == LLFREE_OK, "\(CClient.message)")
        let memory = UnsafeMutableRawBufferPointer(start: address, count: 8192)
        for i in 0..<memory.count { memory[i] = UInt8(truncatingIfNeeded: i &+ 1) }
        #expect(llfree_unmap(c.pointer, address, 2) == LLFREE_OK)
        let written = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect([UInt8](written[(4096 + 2 * 4096)..<(4096 + 4 * 4096)]) == (0..<8192).map { UInt8(truncatingIfNeeded: $0 &+ 1) })
        #expect(llfree_map(c.pointer, 7, 2, readWrite, &address) == LLFREE_E_INVALID_ARGUMENT, "past the object's 8 frames")
    }

    /// Another pool's frames object, and this pool's metadata file (same UUID, but no frames:
    /// magic LLFREEPL where the split layout needs LLFRAMES).
    @Test(arguments: [("LLFRAMES", false), ("LLFREEPL", true)])
    func aDescriptorOfAnotherObjectIsNotMapped(magic: String, sameUUID: Bool) throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try Self.object(dir, name: "other.object", uuid: sameUUID ? Self.uuid : [UInt8](repeating: 7, count: 16), frames: 8,
                                   magic: magic)
        let passed = open(path, O_RDWR)
        let peer = try FramesPeer(directory: dir, uuid: Self.uuid, poolPath: path,
                                  frames: .descriptor(fd: passed, access: 2, layout: 1, offset: 4096, frames: 8))
        defer { peer.stop() }
        let c = try #require(CClient.connect(socket: peer.socket, owner: "peer").client)
        close(passed)
        var address: UnsafeMutableRawPointer? = nil
        #expect(llfree_map(c.pointer, 0, 1, Int32(LLFREE_MAP_READ), &address) == LLFREE_E_NOT_THE_POOL)
        #expect(address == nil)
    }

    /// openPath: the caller allows opening hello's path; split: hello says the metadata is not
    /// reachable (the path is a split pool's frames object, magic LLFRAMES).
    @Test(arguments: [(false, false), (true, false), (true, true)])
    func aDaemonWithoutTheOpIsNotSupportedAndThePathIsOpenedOnlyIfAllowed(openPath: Bool, split: Bool) throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pool = try Self.object(dir, name: "pool", uuid: Self.uuid, frames: 8, magic: split ? "LLFRAMES" : "LLFREEPL")
        let peer = try FramesPeer(directory: dir, uuid: Self.uuid, poolPath: pool, frames: .unknownOperation, metadataReachable: !split)
        defer { peer.stop() }
        let c = try #require(CClient.connect(socket: peer.socket, owner: "peer", flags: openPath ? Int(LLFREE_CONNECT_OPEN_PATH) : 0).client)
        var object = llfree_frames()
        var address: UnsafeMutableRawPointer? = nil
        if openPath {
            #expect(llfree_frames_get(c.pointer, &object) == LLFREE_OK)
            #expect(object.source == UInt8(LLFREE_FRAMES_PATH) && object.frames_offset == 4096 && object.access == 2)
            #expect(object.layout == (split ? 1 : 0))
            #expect(llfree_map(c.pointer, 0, 1, Int32(LLFREE_MAP_READ | LLFREE_MAP_WRITE), &address) == LLFREE_OK)
            #expect(llfree_unmap(c.pointer, address, 1) == LLFREE_OK)
        } else {
            #expect(llfree_frames_get(c.pointer, &object) == LLFREE_E_NOT_SUPPORTED)
            #expect(CClient.message.contains("does not pass a frames descriptor"), "\(CClient.message)")
            #expect(llfree_map(c.pointer, 0, 1, Int32(LLFREE_MAP_READ), &address) == LLFREE_E_NOT_SUPPORTED)
        }
    }

    @Test func aDescriptorNobodyAskedForIsClosed() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pushed = try Self.object(dir, name: "pushed-\(UUID().uuidString)", uuid: Self.uuid, frames: 0)
        let fd = open(pushed, O_RDONLY)
        let peer = try FramesPeer(directory: dir, uuid: Self.uuid, poolPath: pushed, frames: .unknownOperation, pingDescriptor: fd)
        defer { peer.stop() }
        let c = try #require(CClient.connect(socket: peer.socket, owner: "peer").client)
        #expect(llfree_ping(c.pointer) == LLFREE_OK)
        close(fd)
        let open = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").filter {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0)) == pushed
        }
        #expect(open.isEmpty, "the pushed descriptor is still open: \(open)")
    }
}
