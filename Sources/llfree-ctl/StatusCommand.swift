// `llfree-ctl status`: whether llfreed answers, and which pool it serves how.

import ArgumentParser
import LLFreeClient
import LLFreeProtocol

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show whether llfreed answers, its pool and how full it is.",
        discussion: "Exits 2 if the daemon cannot be reached.")

    @OptionGroup var connection: SocketOptions

    func run() throws {
        do {
            let client = try connection.client()
            defer { client.close() }
            let clock = ContinuousClock()
            let start = clock.now
            try client.ping()
            let rtt = clock.now - start
            let info = try client.hello()
            let stats = try client.stats()
            print("llfreed at \(connection.path): serving (ping \(ReadableDuration(rtt)))")
            print("pool:        \(info.path)")
            print("uuid:        \(info.uuidString)")
            print("durability:  \(info.durability)")
            print("frames:      \(info.frames) x \(info.frameSize) bytes, \(info.children) children, \(info.trees) trees of \(info.treeChildren), max order \(info.maxOrder)")
            print("free:        \(stats.freeFrames) frames (\(stats.frames == 0 ? 0 : stats.freeFrames * 100 / stats.frames)%), \(stats.freeHugeFrames) huge")
            print("clients:     \(stats.clientsConnected) connected, \(stats.clientsAccepted) accepted, \(stats.clientsRefused) refused")
            print("operations:  \(stats.operationsServed) served, \(stats.errors) errors; cores \(info.cores)")
        } catch let failure as OnlineFailure {
            throw failure.exit()
        } catch {
            throw OnlineFailure("\(error)", code: 2).exit()
        }
    }
}
