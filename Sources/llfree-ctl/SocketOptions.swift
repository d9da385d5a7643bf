// The options every online verb of llfree-ctl shares: which daemon to talk to, and which owner to
// act for. The socket may be given after the verb (`llfree-ctl status --socket PATH`) or before
// it, as with `git -C` (`llfree-ctl --socket PATH status`), or by LLFREED_SOCKET for a whole shell
// session.

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

    @Option(help: ArgumentHelp("The owner to act for, created (persistent) if it does not exist (default: the owner named uid-UID after your uid).",
                               valueName: "name"))
    var owner: String?

    @Flag(help: "With --owner: the owner is ephemeral (its frames are freed when its last connection closes); creating it so, or attaching to an ephemeral one.")
    var ephemeral = false

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
        if ephemeral && owner == nil { throw OnlineFailure("--ephemeral needs --owner NAME", code: 2) }
        let attachment = owner.map { OwnerAttachment(name: $0, kind: ephemeral ? .ephemeral : .persistent) }
        let client = BlockingLLFreeClient(socketPath: path, owner: attachment)
        do {
            try client.connect()
        } catch {
            throw OnlineFailure("\(error)", code: 2)
        }
        return client
    }
}
