// `llfree-ctl get --order O --count N`: allocates frames and prints one frame number per line.
// The frames then belong to the owner it acts for (--owner, default uid-UID): closing the
// connection frees nothing unless that owner is ephemeral.

import ArgumentParser
import LLFreeClient
import LLFreeProtocol

struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Allocate frames; prints the first frame of each run, one per line.",
        discussion: "If the pool cannot serve them all, prints those it got, says why on stderr and exits 1.")

    @OptionGroup var connection: SocketOptions

    @Option(help: "Each run is 2^order frames.")
    var order = 0

    @Option(help: "Runs to allocate.")
    var count = 1

    @Option(help: "Kind: fixed, movable or huge.")
    var kind = "fixed"

    func run() throws {
        guard let kind = WireKind.allCases.first(where: { $0.description == self.kind }) else {
            throw ValidationError("kind '\(self.kind)' is not fixed, movable or huge")
        }
        do {
            let client = try connection.client()
            defer { client.close() }
            let result = try client.get(order: order, count: count, kind: kind)
            for frame in result.frames { print(frame) }
            if let shortfall = result.shortfall {
                throw OnlineFailure("got \(result.frames.count) of \(count) runs of order \(order): \(shortfall)", code: 1)
            }
        } catch let failure as OnlineFailure {
            throw failure.exit()
        } catch {
            throw OnlineFailure("\(error)", code: 2).exit()
        }
    }
}
