// Clients reach frames, never the allocator: a pool the daemon creates is split (its metadata
// file is the daemon's alone, mode 0600), clients receive a descriptor of the frames object over
// the socket and need no permission on any file, and nothing a client does through that
// descriptor can reach a bitfield, a child entry, a tag or an owner.

import Foundation
import LLFreeClient
import LLFreeProtocol
import LLFreeTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct IsolationTests {
    /// The object a descriptor names: device and inode.
    static func identity(_ fd: Int32) -> (UInt64, UInt64) {
        var st = stat()
        _ = fstat(fd, &st)
        return (UInt64(st.st_dev), UInt64(st.st_ino))
    }

    static func identity(path: String) -> (UInt64, UInt64) {
        var st = stat()
        _ = stat(path, &st)
        return (UInt64(st.st_dev), UInt64(st.st_ino))
    }

    @Test func aCreatedPoolIsSplitAndItsMetadataIsTheDaemonsAlone() throws {
        let daemon = try DaemonProcess(size: "16M")
        defer { daemon.remove() }
        var st = stat()
        #expect(stat(daemon.pool, &st) == 0 && st.st_mode & 0o777 == 0o600, "the metadata file is mode 0600")
        #expect(stat(daemon.pool + ".frames", &st) == 0 && st.st_mode & 0o777 == 0o600, "the frames object is mode 0600")
        let client = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { client.close() }
        let info = try client.hello()
        #expect(info.version == 3)
        #expect(!info.metadataReachable)
        #expect(info.path.hasSuffix("/test.pool.frames"))
        #expect(!daemon.log.contains("single-file pool"))
    }

    @Test func theDescriptorReachesOnlyFramesAndWritesThroughItNeverTouchTheAllocator() throws {
        let daemon = try DaemonProcess(size: "16M")
        defer { daemon.remove() }
        let client = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { client.close() }
        let received = try client.frames()
        #expect(received.grant.access == .readWrite && received.grant.split)
        #expect(received.grant.framesOffset == 2 << 20 && received.grant.frames == 4096)
        let fd = try #require(received.rawValue)
        // The descriptor names the frames object, not the metadata file; the object is exactly
        // its header block and the frames, so no offset of it maps a metadata byte.
        #expect(Self.identity(fd) == Self.identity(path: daemon.pool + ".frames"))
        #expect(Self.identity(fd) != Self.identity(path: daemon.pool))
        var st = stat()
        #expect(fstat(fd, &st) == 0 && UInt64(st.st_size) == received.grant.framesOffset + received.grant.frames * 4096)

        let got = try client.get(order: 0, count: 100)
        #expect(got.frames.count == 100)
        // A stray writer: every byte of every frame through the passed descriptor, the kind of
        // scribble that zeroed a bitfield line in a single-file pool.
        let length = Int(received.grant.frames) * 4096
        let base = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off_t(received.grant.framesOffset))
        #expect(base != MAP_FAILED)
        if let base, base != MAP_FAILED {
            memset(base, 0, length)
            munmap(base, length)
        }
        // The allocator is unharmed: the frames got are still allocated, the rest free, and a
        // second holder cannot be handed frame 0 or any other held frame.
        for frame in got.frames { #expect(try client.isFree(frame) == false) }
        let more = try client.get(order: 0, count: 4096 - 100)
        #expect(more.frames.count == 4096 - 100)
        #expect(Set(more.frames).isDisjoint(with: got.frames))
        _ = try client.put(order: 0, frames: got.frames + more.frames)
        #expect(daemon.terminate() == 0)
        let check = try CtlTests.run(["check", daemon.pool])
        #expect(check.status == 0, "\(check.output)")
    }

    @Test func framesMapFromThePassedDescriptorWithoutAnyFilePermission() throws {
        let daemon = try DaemonProcess(size: "16M")
        defer { daemon.remove() }
        let writer = BlockingLLFreeClient(socketPath: daemon.socket, owner: OwnerAttachment(name: "writer"))
        defer { writer.close() }
        let frame = try writer.get(order: 0, count: 1).frames[0]
        let mapper = try FrameMapper(try writer.frames())
        let memory = try mapper.map(frame: frame)
        memory.storeBytes(of: 0x1234_5678, as: UInt32.self)
        mapper.unmap(memory)
        // A second client, by another route to the same object, reads it.
        let reader = try FrameMapper(try BlockingLLFreeClient(socketPath: daemon.socket).frames())
        let view = try reader.map(frame: frame)
        #expect(view.load(as: UInt32.self) == 0x1234_5678)
        reader.unmap(view)
    }

    @Test func theAsyncClientReceivesTheDescriptorToo() async throws {
        let daemon = try DaemonProcess(size: "16M")
        defer { daemon.remove() }
        let client = LLFreeClient(socketPath: daemon.socket)
        let received = try await client.frames()
        await client.close()
        #expect(received.grant.split && received.rawValue != nil)
    }

    @Test(.enabled(if: runsAsRoot, "needs root: the daemon runs as another user, and the client as a read-only one"))
    func aReadOnlyPeerGetsADescriptorThatCannotWrite() throws {
        // The daemon runs as uid 65534 (its files 0600, unreadable to others); this process, root,
        // is an administrator and gets read-write; uid 65533, listed read-only, gets read-only.
        let daemon = try DaemonProcess(size: "16M", extra: ["--allow-uid", "65533", "--allow-uid", "0", "--read-only-uid", "65533", "--socket-mode", "0666"], user: 65534)
        defer { daemon.remove() }
        // uid 65533, through llfree-ctl frames: no permission on either pool file, and a
        // descriptor that reads but does not map writable.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        child.arguments = ["--reuid=65533", "--regid=65533", "--clear-groups", "--", "/bin/sh", "-c",
                           "cat \(daemon.pool) >/dev/null 2>&1 || cat \(daemon.pool).frames >/dev/null 2>&1 || echo 'no file access'; exec \(CtlTests.ctl) --socket \(daemon.socket) frames"]
        let output = Pipe()
        child.standardOutput = output
        child.standardError = output
        try child.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        #expect(child.terminationStatus == 0, "\(text)")
        #expect(text.contains("no file access"), "\(text)")
        #expect(text.contains("access:      read-only"), "\(text)")
        #expect(text.contains("writable:    no"), "\(text)")
        #expect(text.contains("header:      matches"), "\(text)")
        // Root, an administrator, is granted read-write.
        let admin = try CtlTests.run(["--socket", daemon.socket, "frames"])
        #expect(admin.output.contains("access:      read-write") && admin.output.contains("writable:    yes"), "\(admin.output)")
    }

    @Test func aSingleFilePoolStillServesAndSaysItsMetadataIsReachable() throws {
        let daemon = try DaemonProcess(size: "16M", extra: ["--frames", "none"])
        defer { daemon.remove() }
        let client = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { client.close() }
        let info = try client.hello()
        #expect(info.metadataReachable)
        #expect(info.path.hasSuffix("/test.pool"))
        #expect(daemon.log.contains("single-file pool"))
        let received = try client.frames()
        #expect(!received.grant.split && received.grant.access == .readWrite)
        #expect(Self.identity(try #require(received.rawValue)) == Self.identity(path: daemon.pool))
        // Mapped as before: the descriptor is the pool file, frames after its metadata.
        let frame = try client.get(order: 0, count: 1).frames[0]
        let mapper = try FrameMapper(received)
        let memory = try mapper.map(frame: frame)
        memory.storeBytes(of: 7, as: UInt8.self)
        mapper.unmap(memory)
        #expect(mapper.framesOffset == info.framesOffset)
    }

    @Test func aFramesRequestPipelinedBetweenOthersKeepsTheReplyOrder() throws {
        let daemon = try DaemonProcess(size: "16M")
        defer { daemon.remove() }
        let connection = try RawConnection(daemon.socket)
        // Pings and gets answered on the fast path before and after it, all in one write.
        connection.send([RequestMessage(id: 1, .ping), RequestMessage(id: 2, .get(order: 0, count: 3, kind: .fixed)),
                         RequestMessage(id: 3, .frames), RequestMessage(id: 4, .ping)].flatMap { WireCodec.encode($0) })
        var ids: [UInt64] = []
        for _ in 0..<4 {
            guard case .reply(let reply) = connection.receive() else { Issue.record("a reply is missing after \(ids)"); return }
            ids.append(reply.id)
            if reply.id == 3, case .frames(let grant) = reply.reply { #expect(grant.split) }
        }
        #expect(ids == [1, 2, 3, 4])
    }

    @Test func aVersion2ConnectionCannotAskForTheDescriptor() throws {
        let daemon = try DaemonProcess(size: "16M")
        defer { daemon.remove() }
        let connection = try RawConnection(daemon.socket)
        guard case .reply(let hello) = connection.roundTrip(RequestMessage(id: 1, .hello(minVersion: 1, maxVersion: 2))),
              case .hello(let info) = hello.reply else { Issue.record("no hello reply"); return }
        #expect(info.version == 2)
        guard case .reply(let refused) = connection.roundTrip(RequestMessage(id: 2, .frames)),
              case .error(_, let error) = refused.reply else { Issue.record("frames was served on version 2"); return }
        #expect(error.code == .unknownOperation)
    }
}
