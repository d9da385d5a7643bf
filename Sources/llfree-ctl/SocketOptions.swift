// The option every online verb of llfree-ctl shares: which daemon to talk to. It may be given
// after the verb (`llfree-ctl status --socket PATH`) or before it, as with `git -C`
// (`llfree-ctl --socket PATH status`), or by LLFREED_SOCKET for a whole shell session.

import ArgumentParser
import Foundation
import LLFreeClient

/// `--socket PATH` of an online verb, resolved against the root's `--socket`, `$LLFREED_SOCKET`
/// and the daemon's default for this user, in that order.
struct SocketOptions: ParsableArguments {
    /// The environment variable that names the socket when no `--socket` is given.
    static let environmentVariable = "LLFREED_SOCKET"

    @Option(help: ArgumentHelp("llfreed's socket; also accepted before the verb (default $LLFREED_SOCKET, else /run/llfreed/llfreed.sock for root, $XDG_RUNTIME_DIR/llfreed.sock otherwise).",
                               valueName: "path"))
    var socket: String?

    /// The root command, for a `--socket` given before the verb.
    @ParentCommand var root: LLFreeCtl

    /// The socket to connect to. A `--socket` after the verb wins, being the nearer to it.
    var path: String {
        if let socket { return socket }
        if let socket = root.socket { return socket }
        if let socket = ProcessInfo.processInfo.environment[Self.environmentVariable], !socket.isEmpty { return socket }
        return LLFreeClient.defaultSocketPath
    }

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
