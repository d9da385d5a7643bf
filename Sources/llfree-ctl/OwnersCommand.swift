// `llfree-ctl owners` and `llfree-ctl owner show|runs|release|remove|quota NAME`: the pool's
// owners, one owner's frames, freeing them, removing an owner, and its quota.

import ArgumentParser
import LLFreeClient
import LLFreeProtocol

/// Runs `body` with a connected client, mapping failures to the online verbs' exit codes
/// (1: the daemon refused, 2: no daemon or a protocol failure).
func online(_ connection: SocketOptions, _ body: (BlockingLLFreeClient) throws -> Void) throws {
    do {
        let client = try connection.client()
        defer { client.close() }
        try body(client)
    } catch let failure as OnlineFailure {
        throw failure.exit()
    } catch let error as ClientError {
        if case .refused = error { throw OnlineFailure("\(error)", code: 1).exit() }
        throw OnlineFailure("\(error)", code: 2).exit()
    } catch {
        throw OnlineFailure("\(error)", code: 2).exit()
    }
}

/// One line of `owners`: name, kind, frames held, quota, connections.
func ownerLine(_ info: OwnerInfo) -> String {
    "\(info.name)\t\(info.kind)\t\(info.held) frames\tquota \(info.quota.map(String.init) ?? "none")\t\(info.connections) connections"
}

struct OwnersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "owners",
        abstract: "List the pool's owners: one line per owner with its name, kind, frames held, quota and connections (tab-separated).")

    @OptionGroup var connection: SocketOptions

    func run() throws {
        try online(connection) { client in
            for info in try client.owners() { print(ownerLine(info)) }
        }
    }
}

struct OwnerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "owner",
        abstract: "Show, list, release, remove an owner, or set its quota.",
        subcommands: [Show.self, Runs.self, Release.self, Remove.self, Quota.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print what the daemon knows of an owner.")
        @OptionGroup var connection: SocketOptions
        @Argument(help: "The owner's name.") var name: String

        func run() throws {
            try online(connection) { client in
                let info = try client.ownerInfo(name)
                print("owner:       \(info.name) (number \(info.id))")
                print("kind:        \(info.kind)")
                print("held:        \(info.held) frames")
                print("quota:       \(info.quota.map { "\($0) frames" } ?? "none")")
                print("connections: \(info.connections)")
                print("acts for it: uid \(info.uid)\(info.gid.map { ", gid \($0)" } ?? "")")
            }
        }
    }

    struct Runs: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the runs an owner holds, one per line: first frame and order (put each back with `put --order O FRAME`).")
        @OptionGroup var connection: SocketOptions
        @Argument(help: "The owner's name (default: the one --owner names, else uid-UID).") var name: String = ""

        func run() throws {
            try online(connection) { client in
                for run in try client.runs(owner: name) { print("\(run.frame) \(run.order)") }
            }
        }
    }

    struct Release: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Free every frame an owner holds.",
            discussion: "Needs the right to act for the owner (its uid or an administrator). A crash in the middle leaves each frame owned or free: run it again to finish.")
        @OptionGroup var connection: SocketOptions
        @Argument(help: "The owner's name.") var name: String

        func run() throws {
            try online(connection) { client in
                let result = try client.release(owner: name)
                print("released \(result.frames) frames in \(result.runs) runs of \(name)")
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an owner that holds nothing and has no connection.")
        @OptionGroup var connection: SocketOptions
        @Argument(help: "The owner's name.") var name: String

        func run() throws {
            try online(connection) { client in
                try client.removeOwner(name)
                print("removed owner \(name)")
            }
        }
    }

    struct Quota: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set an owner's quota in frames (an administrator's verb).",
            discussion: "A get that would exceed the quota is served up to it and reports the shortfall 'quota exceeded'.")
        @OptionGroup var connection: SocketOptions
        @Argument(help: "The owner's name.") var name: String
        @Argument(help: "Most frames it may hold, or 'none'.") var frames: String

        func run() throws {
            let quota: UInt64?
            if frames == "none" { quota = nil } else if let n = UInt64(frames), n > 0 { quota = n } else {
                throw ValidationError("quota '\(frames)' is neither a positive frame count nor 'none'")
            }
            try online(connection) { client in
                print(ownerLine(try client.setQuota(name, quota: quota)))
            }
        }
    }
}
