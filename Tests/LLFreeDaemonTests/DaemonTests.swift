// The real llfreed binary driven by the client library: serving, pipelining and batching,
// durability across SIGKILL, graceful SIGTERM, socket takeover rules, access policy, reconnect
// and frame mapping.

import Foundation
import LLFreeClient
import LLFreeProtocol
import LLFreeTestSupport
import Testing

@Suite(.serialized) struct DaemonTests {
    @Test func helloDescribesThePool() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let client = LLFreeClient(socketPath: daemon.socket)
        let info = try await client.hello()
        #expect(info.frames == 64 * 256 && info.frameSize == 4096 && info.maxOrder == 14)
        #expect(info.path == daemon.pool + ".frames" && info.durability == .cpuCache && info.cores == 2)
        #expect(info.framesOffset % 4096 == 0 && info.framesOffset > 0)
        await client.close()
    }

    @Test func concurrentCallsArePipelinedAndNoFrameIsHandedOutTwice() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let client = LLFreeClient(socketPath: daemon.socket)
        let all = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for task in 0..<32 {
                group.addTask {
                    var mine = [UInt64]()
                    for _ in 0..<10 { mine += try await client.get(order: task % 4, count: 3).frames.map { $0 << 8 | UInt64(task % 4) } }
                    return mine
                }
            }
            return try await group.reduce(into: [UInt64]()) { $0 += $1 }
        }
        #expect(all.count == 32 * 30)
        // No two runs overlap.
        var owner = [UInt64: Int]()
        for run in all {
            let frame = run >> 8, order = Int(run & 0xFF)
            for f in frame..<(frame + (1 << order)) { #expect(owner.updateValue(1, forKey: f) == nil) }
        }
        for order in 0..<4 {
            let frames = all.filter { Int($0 & 0xFF) == order }.map { $0 >> 8 }
            let put = try await client.put(order: order, frames: frames)
            #expect(put.freed == frames.count)
        }
        let stats = try await client.stats()
        #expect(stats.freeFrames == stats.frames)
        await client.close()
    }

    @Test func batchesBeyondTheProtocolLimitAreSplit() throws {
        let daemon = try DaemonProcess(size: "128M")
        defer { daemon.remove() }
        let client = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { client.close() }
        let got = try client.get(order: 0, count: Wire.maxBatch + 1000)
        #expect(got.frames.count == Wire.maxBatch + 1000 && got.shortfall == nil)
        #expect(Set(got.frames).count == got.frames.count)
        let rest = try client.get(order: 0, count: 20000)
        #expect(rest.shortfall == .outOfMemory)
        #expect(got.frames.count + rest.frames.count == 128 * 256)
        #expect(try client.put(order: 0, frames: got.frames + rest.frames).freed == 128 * 256)
    }

    /// One blocking call several times larger than the socket buffers both ways (2 MiB of
    /// frames back, then 2 MiB of frames out while 512 KiB of results come back): requests are
    /// written while replies are read, so neither side waits for the other forever.
    @Test func aBlockingCallLargerThanTheSocketBuffersCompletes() throws {
        let daemon = try DaemonProcess(size: "1G", threads: 1)
        defer { daemon.remove() }
        let client = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { client.close() }
        let frames = 256 * 1024
        let got = try client.get(order: 0, count: frames)
        #expect(got.frames.count == frames && got.shortfall == nil)
        let put = try client.put(order: 0, frames: got.frames)
        #expect(put.freed == frames && put.results.count == frames)
        let stats = try client.stats()
        #expect(stats.freeFrames == stats.frames)
    }

    /// The blocking client's connection outlives a SIGKILLed daemon: the next call finds it
    /// closed before sending anything, connects to the restarted daemon and is served.
    @Test func aBlockingClientReconnectsAfterTheDaemonWasKilled() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let client = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { client.close() }
        let frames = try client.get(order: 0, count: 3).frames
        daemon.crash()
        try daemon.start()
        for frame in frames { #expect(try !client.isFree(frame)) }
        #expect(try client.put(order: 0, frames: frames).freed == 3)
    }

    @Test func acknowledgedStateSurvivesSIGKILLAndRecoveryIsLogged() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        var held: [UInt64] = []
        var freed: [UInt64] = []
        do {
            let client = BlockingLLFreeClient(socketPath: daemon.socket)
            defer { client.close() }
            let got = try client.get(order: 0, count: 100).frames
            held = Array(got[0..<50])
            freed = Array(got[50...])
            #expect(try client.put(order: 0, frames: freed).freed == 50)
        }
        daemon.crash()
        // The killed daemon's socket file is stale; the new one replaces it.
        #expect(FileManager.default.fileExists(atPath: daemon.socket))
        try daemon.start()
        let client = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { client.close() }
        for frame in held { #expect(try !client.isFree(frame)) }
        for frame in freed { #expect(try client.isFree(frame)) }
        #expect(try client.stats().freeFrames == UInt64(64 * 256 - 50))
        #expect(daemon.log.contains("recovery=ran"))
    }

    @Test func sigtermClosesThePoolCleanly() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let client = BlockingLLFreeClient(socketPath: daemon.socket)
        let frames = try client.get(order: 9, count: 2).frames
        #expect(daemon.terminate() == 0)
        #expect(daemon.log.contains("closed pool cleanly"))
        #expect(!FileManager.default.fileExists(atPath: daemon.socket))
        try daemon.start()
        #expect(daemon.log.contains("recovery=not needed"))
        // The client reconnects by itself.
        for frame in frames { #expect(try !client.isFree(frame, order: 9)) }
        client.close()
    }

    @Test func aLiveSocketIsNotTakenOver() throws {
        let first = try DaemonProcess()
        defer { first.remove() }
        let second = try DaemonProcess(extra: ["--socket", first.socket], wait: false)
        defer { second.remove() }
        second.process.waitUntilExit()
        #expect(second.process.terminationStatus != 0)
        #expect(second.log.contains("another daemon is serving"))
        try BlockingLLFreeClient(socketPath: first.socket).ping()
    }

    @Test func aMissingPoolIsNotCreatedWithoutCreate() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("llfreed-nopool-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: DaemonProcess.binary)
        process.arguments = ["--pool", dir + "/none.pool", "--socket", dir + "/s.sock"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(!FileManager.default.fileExists(atPath: dir + "/none.pool"))
    }

    // Root only: the daemon runs as nobody (setpriv) and admits only nobody, the test as root.
    @Test(.enabled(if: runsAsRoot, "needs root to run the daemon as another user"))
    func peersOutsideThePolicyAreRefusedWithAReason() throws {
        let daemon = try DaemonProcess(extra: ["--allow-uid", "65534"], user: 65534)
        defer { daemon.remove() }
        let client = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { client.close() }
        do {
            try client.ping()
            Issue.record("a refused peer was served")
        } catch {
            guard case .refused(let reply) = error else { Issue.record("\(error)"); return }
            #expect(reply.code == .accessDenied)
            #expect(reply.message.contains("uid 0"))
        }
        #expect(daemon.log.contains("refused connection"))
        var info = stat()
        #expect(stat(daemon.socket, &info) == 0 && info.st_mode & 0o777 == 0o660)
    }

    @Test func framesCanBeMappedFromThePoolFile() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let client = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { client.close() }
        let info = try client.hello()
        let frame = try client.get(order: 1, count: 1).frames[0]
        let mapper = try FrameMapper(info: info)
        let memory = try mapper.map(frame: frame, order: 1)
        #expect(memory.count == 8192)
        for i in 0..<memory.count { memory[i] = UInt8(truncatingIfNeeded: i &* 7) }
        mapper.unmap(memory)
        // The file hello names: the frames object of the split pool the daemon created.
        let file = FileHandle(forReadingAtPath: info.path)!
        defer { try? file.close() }
        try file.seek(toOffset: info.framesOffset + frame * 4096)
        let bytes = [UInt8](try file.read(upToCount: 8192)!)
        #expect(bytes == (0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        #expect(throws: ClientError.self) { try mapper.map(frame: info.frames, order: 0) }
    }
}
