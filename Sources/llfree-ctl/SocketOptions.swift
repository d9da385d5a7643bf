// The option every online verb of llfree-ctl shares: which daemon to talk to.

import ArgumentParser
import LLFreeClient

/// `--socket PATH`, defaulting to the daemon's default for this user.
struct SocketOptions: ParsableArguments {
    @Option(help: "llfreed's socket (default /run/llfreed/llfreed.sock for root, $XDG_RUNTIME_DIR/llfreed.sock otherwise).")
    var socket: String?

    var path: String { socket ?? LLFreeClient.defaultSocketPath }

    /// A connected blocking client, or a clear failure (exit 2).
    func client() throws -> BlockingLLFreeClient {
        let client = BlockingLLFreeClient(socketPath: path)
        do {
            try client.connect()
        } catch {
            throw OnlineFailure("\(error)", code: 2)
        }
        return client
    }
}
