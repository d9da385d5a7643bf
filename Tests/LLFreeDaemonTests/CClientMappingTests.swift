// Mapping frames through the C client, read as a specification: connect takes the frames
// descriptor a version-3 daemon passes, or (when the caller allows) opens the pool file at the
// path hello reports; llfree_map checks the object's UUID before mapping frames [first,
// first+count) at framesOffset + first * frameSize; writes through the mapping are the pool's
// memory; a file that is not the pool is refused with nothing mapped, and so is a reconnect to
// a daemon serving another pool.

import CLLFreeClient
import Foundation
import LLFreeClient
import LLFreeTestSupport
import Testing

@Suite(.serialized) struct CClientMappingTests {
    static let openPath = Int(LLFREE_CONNECT_OPEN_PATH)

    @Test func framesWrittenThroughTheMappingAreThePoolsMemory() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let c = try CClient.connected(daemon, owner: "c-map", flags: Self.openPath)
        let info = CClient.poolInfo(c)
        var object = llfree_frames()
        #expect(llfree_frames_get(c.pointer, &object) == LLFREE_OK)
        if info.version >= 3 {
            #expect(object.source == UInt8(LLFREE_FRAMES_DESCRIPTOR))
        } else {
            #expect(object.source == UInt8(LLFREE_FRAMES_PATH))
            #expect(object.frames_offset == info.frames_offset && object.layout == 0)
        }
        #expect(object.fd >= 0 && object.access == 2 && object.frame_size == 4096 && object.frames == info.frames)
        #expect(CClient.bytes(object.uuid) == CClient.bytes(info.uuid))
        #expect(fcntl(object.fd, F_GETFD) & FD_CLOEXEC != 0)

        var run = [UInt64](repeating: 0, count: 1)
        var served = 0
        #expect(llfree_get(c.pointer, 1, 1, LLFREE_KIND_FIXED, &run, &served, nil) == LLFREE_OK)
        var address: UnsafeMutableRawPointer? = nil
        #expect(llfree_map(c.pointer, run[0], 2, Int32(LLFREE_MAP_READ | LLFREE_MAP_WRITE), &address) == LLFREE_OK, "\(CClient.message)")
        let memory = UnsafeMutableRawBufferPointer(start: address, count: 8192)
        for i in 0..<memory.count { memory[i] = UInt8(truncatingIfNeeded: i &* 13) }
        #expect(llfree_unmap(c.pointer, address, 2) == LLFREE_OK)

        // The object hello names: the frames object of the split pool the daemon created.
        let file = try #require(FileHandle(forReadingAtPath: String(cString: info.path)))
        defer { try? file.close() }
        try file.seek(toOffset: info.frames_offset + run[0] * 4096)
        #expect([UInt8](try file.read(upToCount: 8192)!) == (0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 13) })
    }

    @Test func withoutADescriptorOrLeaveToOpenThePathThereIsNothingToMap() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let c = try CClient.connected(daemon, owner: "c-nomap")
        var object = llfree_frames()
        var address: UnsafeMutableRawPointer? = nil
        if CClient.poolInfo(c).version < 3 {
            #expect(llfree_frames_get(c.pointer, &object) == LLFREE_E_NOT_SUPPORTED)
            #expect(object.fd == -1 && object.source == UInt8(LLFREE_FRAMES_NONE))
            #expect(CClient.message.contains("version 3"), "\(CClient.message)")
            #expect(llfree_map(c.pointer, 0, 1, Int32(LLFREE_MAP_READ), &address) == LLFREE_E_NOT_SUPPORTED)
        }
        let none = try CClient.connected(daemon, owner: "c-nomap", flags: Int(LLFREE_CONNECT_NO_FRAMES) | Self.openPath)
        #expect(llfree_frames_get(none.pointer, &object) == LLFREE_E_NOT_SUPPORTED)
        #expect(CClient.message.contains("LLFREE_CONNECT_NO_FRAMES"))
        #expect(llfree_map(none.pointer, 0, 1, Int32(LLFREE_MAP_READ), &address) == LLFREE_E_NOT_SUPPORTED)
        #expect(address == nil)
    }

    @Test func anObjectWhoseUUIDIsNotThePoolsIsNotMapped() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let c = try CClient.connected(daemon, owner: "c-uuid", flags: Self.openPath)
        var address: UnsafeMutableRawPointer? = nil
        #expect(llfree_map(c.pointer, 0, 1, Int32(LLFREE_MAP_READ), &address) == LLFREE_OK)
        #expect(llfree_unmap(c.pointer, address, 1) == LLFREE_OK)
        // The daemon closed the pool; then its header's UUID is overwritten under the open file.
        #expect(daemon.terminate() == 0)
        // The object the client maps: the split pool's frames object (its UUID is at 16 too).
        let file = try #require(FileHandle(forUpdatingAtPath: daemon.pool + ".frames"))
        try file.seek(toOffset: 16)
        file.write(Data(repeating: 0x5A, count: 16))
        try file.close()
        address = nil
        #expect(llfree_map(c.pointer, 0, 1, Int32(LLFREE_MAP_READ), &address) == LLFREE_E_NOT_THE_POOL)
        #expect(address == nil && CClient.message.contains("UUID"))
    }

    @Test func aReconnectToADaemonServingAnotherPoolIsRefused() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let c = try CClient.connected(daemon, owner: "c-other", flags: Self.openPath)
        #expect(daemon.terminate() == 0)
        try FileManager.default.removeItem(atPath: daemon.pool)
        try FileManager.default.removeItem(atPath: daemon.pool + ".frames")
        try daemon.start()  // a new pool (new UUID) at the same path and socket
        #expect(llfree_ping(c.pointer) == LLFREE_E_NOT_THE_POOL)
        #expect(CClient.message.contains("another pool"), "\(CClient.message)")
        // A client without a frames object has nothing mapped that could be wrong.
        let plain = try CClient.connected(daemon, owner: "c-other2", flags: Int(LLFREE_CONNECT_NO_FRAMES))
        #expect(llfree_ping(plain.pointer) == LLFREE_OK)
    }
}
