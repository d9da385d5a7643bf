// `llfree-ctl frames`: receives the frames descriptor as a client would (protocol version 3) and
// says what it reaches and whether it maps writable, without any permission on the pool files.

import ArgumentParser
import LLFreeClient
import LLFreeProtocol
#if canImport(Glibc)
import Glibc
#endif

struct FramesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "frames",
        abstract: "Receive the frames descriptor and report what it reaches and how it maps.",
        discussion: "Prints the access the daemon granted this peer (read-write or read-only), whether the descriptor reaches only frames (a split pool) or the whole pool file, and whether a writable shared mapping of it succeeds. Exits 2 if the daemon cannot be reached or passes no descriptor.")

    @OptionGroup var connection: SocketOptions

    func run() throws {
        do {
            let client = try connection.client()
            defer { client.close() }
            let received = try client.frames()
            let grant = received.grant
            guard let fd = received.rawValue else { throw OnlineFailure("no descriptor was received", code: 2) }
            let size = Int(grant.frameSize)
            let writable = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off_t(grant.framesOffset))
            let writes = writable != MAP_FAILED
            if writes { munmap(writable, size) }
            let why = writes ? "" : " (\(String(cString: strerror(errno))))"
            print("access:      \(grant.access)")
            print("reaches:     \(grant.split ? "frames only (a split pool's frames object)" : "the whole pool file, metadata included")")
            print("frames:      \(grant.frames) x \(grant.frameSize) bytes from offset \(grant.framesOffset)")
            print("uuid:        \(PoolInfo(version: 0, durability: .volatile, maxOrder: 0, frameSize: 0, frames: 0, framesOffset: 0, children: 0, treeChildren: 0, trees: 0, maxBatch: 0, cores: 0, uuid: grant.uuid, path: "").uuidString)")
            print("writable:    \(writes ? "yes" : "no")\(why)")
            _ = try FrameMapper(received)
            print("header:      matches the pool's UUID")
        } catch let failure as OnlineFailure {
            throw failure.exit()
        } catch {
            throw OnlineFailure("\(error)", code: 2).exit()
        }
    }
}
