// `llfree-ctl stats [--json]`: the daemon's counters and the pool's free frames per order.

import ArgumentParser
import Foundation
import LLFreeClient
import LLFreeProtocol

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show free frames per order, tree occupancy, clients and operations.")

    @OptionGroup var connection: SocketOptions

    @Flag(help: "Print JSON.")
    var json = false

    /// The JSON form.
    struct Stats: Codable {
        var frames: UInt64
        var freeFrames: UInt64
        var freeHugeFrames: UInt64
        var reclaimedHugeFrames: UInt32
        var freeRuns: [UInt64]
        var trees: UInt32
        var treesFree: UInt32
        var treesFull: UInt32
        var treesPartial: UInt32
        var treesReserved: UInt32
        var partialTreesByEighthAllocated: [UInt32]
        var clientsConnected: UInt32
        var clientsAccepted: UInt64
        var clientsRefused: UInt64
        var operationsServed: UInt64
        var framesAllocated: UInt64
        var framesFreed: UInt64
        var errors: UInt64
    }

    func run() throws {
        let s: PoolStats
        do {
            let client = try connection.client()
            defer { client.close() }
            s = try client.stats()
        } catch let failure as OnlineFailure {
            throw failure.exit()
        } catch {
            throw OnlineFailure("\(error)", code: 2).exit()
        }
        if json {
            let value = Stats(frames: s.frames, freeFrames: s.freeFrames, freeHugeFrames: s.freeHugeFrames,
                              reclaimedHugeFrames: s.reclaimedHugeFrames, freeRuns: s.freeRuns,
                              trees: s.trees.trees, treesFree: s.trees.free, treesFull: s.trees.full, treesPartial: s.trees.partial,
                              treesReserved: s.trees.reserved, partialTreesByEighthAllocated: s.trees.occupancy,
                              clientsConnected: s.clientsConnected, clientsAccepted: s.clientsAccepted, clientsRefused: s.clientsRefused,
                              operationsServed: s.operationsServed, framesAllocated: s.framesAllocated, framesFreed: s.framesFreed,
                              errors: s.errors)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(value), as: UTF8.self))
            return
        }
        print("frames      \(s.frames)")
        print("free        \(s.freeFrames) (\(s.frames == 0 ? 0 : s.freeFrames * 100 / s.frames)%)")
        let reclaimed = min(UInt64(s.reclaimedHugeFrames), s.freeHugeFrames)
        print("free huge   \(s.freeHugeFrames) (\(s.freeHugeFrames - reclaimed) populated, \(reclaimed) returned to the host)")
        print("")
        print("order   free runs")
        for (order, runs) in s.freeRuns.enumerated() {
            print(pad(String(order), 5) + "   " + pad(String(runs), 9))
        }
        print("")
        print("trees       \(s.trees.trees): \(s.trees.free) free, \(s.trees.partial) partial, \(s.trees.full) full; \(s.trees.reserved) reserved")
        print("partial trees by allocated eighth: " + s.trees.occupancy.map(String.init).joined(separator: " "))
        print("")
        print("clients     \(s.clientsConnected) connected, \(s.clientsAccepted) accepted, \(s.clientsRefused) refused")
        print("operations  \(s.operationsServed) served, \(s.errors) errors")
        print("frames      \(s.framesAllocated) allocated, \(s.framesFreed) freed")
    }

    private func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}
