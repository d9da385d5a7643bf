// llfreed: the persistent page-frame allocator daemon. Parses its command line, sets up logging
// to stderr, and hands over to Daemon.run (LLFreeServer), where all the logic is.

import ArgumentParser
import LLFreePool
import LLFreeServer
import Logging
#if canImport(Glibc)
import Glibc
#endif

@main
struct LLFreed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llfreed",
        abstract: "Serve the frames of a persistent LLFree pool to client processes over a Unix socket.",
        discussion: "SIGTERM or SIGINT stop it gracefully: it stops accepting, answers what is in flight, closes the pool cleanly and exits 0. A pool left dirty by a kill is recovered at the next start.")

    @Option(help: "The pool file.")
    var pool: String

    @Flag(help: "Create the pool if it does not exist (needs --size). An existing pool is opened, never reformatted.")
    var create = false

    @Option(help: "Size of the frames area of a pool created by --create (e.g. 1G, 512M).")
    var size: String?

    @Option(help: "Children (2 MiB each) per tree of a pool created by --create.")
    var treeChildren = 32

    @Option(help: "The Unix socket (default /run/llfreed/llfreed.sock for root, $XDG_RUNTIME_DIR/llfreed.sock otherwise).")
    var socket: String?

    @Option(help: "Permission bits of the socket file, octal.")
    var socketMode = "660"

    @Option(help: "Event loops, each with its own allocator core (default: the number of CPUs).")
    var threads: Int?

    @Option(name: .customLong("allow-uid"), help: "A uid to admit (repeatable; default: the daemon's uid and root).")
    var allowUIDs: [UInt32] = []

    @Option(name: .customLong("allow-gid"), help: "A gid to admit (repeatable).")
    var allowGIDs: [UInt32] = []

    @Option(help: "Durability: auto, cpu-cache or msync.")
    var durability = "auto"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown log level '\(logLevel)'") }
        guard let request = DurabilityRequest(rawValue: durability) else {
            throw ValidationError("durability '\(durability)' is not one of \(DurabilityRequest.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let mode = UInt32(socketMode, radix: 8), mode <= 0o777 else { throw ValidationError("socket mode '\(socketMode)' is not octal permission bits") }
        var bytes: UInt64? = nil
        if let size {
            do { bytes = try SizeParser.parse(size) } catch { throw ValidationError("\(error)") }
        }
        let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let threads = self.threads ?? max(1, cpus)
        guard threads >= 1, threads <= 1024 else { throw ValidationError("--threads \(threads) is outside 1...1024") }
        var access = AccessPolicy.default
        if !allowUIDs.isEmpty || !allowGIDs.isEmpty {
            access = AccessPolicy(uids: Set(allowUIDs).union([UInt32(getuid())]), gids: Set(allowGIDs))
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "llfreed")
        let options = DaemonOptions(
            poolPath: pool, create: create, size: bytes, treeChildren: treeChildren, durability: request,
            server: ServerConfiguration(socketPath: socket ?? ServerConfiguration.defaultSocketPath, socketMode: mode,
                                        threads: threads, access: access))
        do {
            try await Daemon.run(options, logger: logger) {
                logger.info("ready", metadata: ["socket": "\(options.server.socketPath)"])
            }
        } catch {
            logger.critical("llfreed stopped: \(error)")
            throw ExitCode(1)
        }
    }
}
