// hello names the pool file so that a client in another working directory opens the same file
// (the daemon reports the path absolute and resolved), and FrameMapper refuses a file that is
// not the pool the daemon serves (its header's UUID differs, or it is no pool at all).

import Foundation
import LLFreeClient
import LLFreeProtocol
import Testing

@Suite(.serialized) struct PoolPathTests {
    @Test func aRelativePoolPathIsReportedAbsoluteAndMapsFromAnotherDirectory() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("llfreed-path-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A link to the directory too, so the path must be resolved, not only made absolute.
        let link = dir + "-link"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: dir)
        defer { try? FileManager.default.removeItem(atPath: link) }
        let socket = dir + "/s.sock"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: DaemonProcess.binary)
        process.currentDirectoryURL = URL(fileURLWithPath: link)
        process.arguments = ["--pool", "./rel.pool", "--create", "--size", "16M", "--socket", socket, "--threads", "1",
                             "--durability", "cpu-cache"]
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        let client = BlockingLLFreeClient(socketPath: socket)
        defer { client.close() }
        var info: PoolInfo? = nil
        for _ in 0..<600 where info == nil {
            info = try? client.hello()
            if info == nil { usleep(50_000) }
        }
        let hello = try #require(info)
        let real = try #require(realpath(dir, nil).map { p in defer { free(p) }; return String(cString: p) })
        // A created pool is split: hello names its frames object.
        #expect(hello.path == real + "/rel.pool.frames")
        // This process's working directory is not the daemon's: the reported path still works.
        #expect(FileManager.default.currentDirectoryPath != link)
        let frame = try client.get(order: 0, count: 1).frames[0]
        let mapper = try FrameMapper(info: hello)
        let memory = try mapper.map(frame: frame)
        memory.storeBytes(of: 0xC0FFEE, as: UInt32.self)
        mapper.unmap(memory)
        let file = try #require(FileHandle(forReadingAtPath: dir + "/rel.pool.frames"))
        defer { try? file.close() }
        try file.seek(toOffset: hello.framesOffset + frame * 4096)
        #expect(try file.read(upToCount: 4) == Data([0xEE, 0xFF, 0xC0, 0x00]))
    }

    @Test func aFileThatIsNotThePoolIsNotMapped() throws {
        let daemon = try DaemonProcess(size: "16M")
        defer { daemon.remove() }
        let client = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { client.close() }
        let info = try client.hello()
        // The same bytes under another UUID: another pool.
        let other = daemon.directory + "/other.pool"
        let frames = daemon.pool + ".frames"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: frames))
        bytes[16] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: other))
        #expect(throws: ClientError.self) { _ = try FrameMapper(info: info, path: other) }
        do {
            _ = try FrameMapper(info: info, path: other)
        } catch {
            guard case .notThePool(let path, let reason) = error else { Issue.record("\(error)"); return }
            #expect(path == other && reason.contains(info.uuidString) && reason.contains("UUID"))
        }
        // Not a pool at all, and too short to be one.
        let junk = daemon.directory + "/junk"
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: junk))
        let short = daemon.directory + "/short"
        try Data(bytes.prefix(100)).write(to: URL(fileURLWithPath: short))
        // The metadata file has the pool's UUID, but no frame.
        for path in [junk, short, daemon.pool] {
            do {
                _ = try FrameMapper(info: info, path: path)
                Issue.record("\(path) was accepted as the pool")
            } catch {
                guard case .notThePool = error else { Issue.record("\(error)"); continue }
            }
        }
        // The pool itself, named explicitly, is accepted.
        _ = try FrameMapper(info: info, path: frames)
    }
}
