// `llfree-ctl put --order O FRAME...`: frees frames; says which were refused and why.

import ArgumentParser
import LLFreeClient

struct PutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put",
        abstract: "Free runs of frames.",
        discussion: "Runs that cannot be freed (double free, out of range, misaligned) are left as they were, named on stderr, and make the exit code 1.")

    @OptionGroup var connection: SocketOptions

    @Option(help: "Each run is 2^order frames.")
    var order = 0

    @Argument(help: "First frame of each run.")
    var frames: [UInt64]

    func run() throws {
        guard !frames.isEmpty else { throw ValidationError("name at least one frame") }
        do {
            let client = try connection.client()
            defer { client.close() }
            let result = try client.put(order: order, frames: frames)
            for (index, code) in result.failures {
                FileHandleOutput.standardError("frame \(frames[index]): \(code); left as it was")
            }
            if result.freed < frames.count {
                throw OnlineFailure("freed \(result.freed) of \(frames.count) runs", code: 1)
            }
        } catch let failure as OnlineFailure {
            throw failure.exit()
        } catch {
            throw OnlineFailure("\(error)", code: 2).exit()
        }
    }
}
