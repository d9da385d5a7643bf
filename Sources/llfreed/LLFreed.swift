// llfreed: the persistent page-frame allocator daemon. Parses its command line, reads its
// configuration (flags > LLFREED_* environment > file > defaults; refused with exit status 78
// before anything is opened), sets up logging to stderr, picks up what systemd passed (socket,
// notification socket, watchdog), and hands over to Daemon.run (LLFreeServer).

import ArgumentParser
import LLFree
import LLFreeDaemon
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
        discussion: """
            With no arguments it serves ./llfreed.pool, creating it (1 GiB, sparse, split: its frames in ./llfreed.pool.frames) on first start. \
            Every option can also be set in the configuration file (--config, see config/llfreed.yaml) or by an \
            environment variable LLFREED_<KEY> (e.g. LLFREED_POOL_PATH); flags win over the environment, which wins \
            over the file. A bad configuration exits with status 78 before anything is opened. \
            SIGTERM or SIGINT stop it gracefully: it stops accepting, answers every request it has read, refuses \
            later ones with shuttingDown until each connection is quiet, closes the pool cleanly and exits 0. A pool left dirty by a kill is recovered at the next start.
            """)

    @Option(help: ArgumentHelp("The YAML configuration file (default: $LLFREED_CONFIG, else none).", valueName: "file"))
    var config: String?

    @Flag(help: "Validate the configuration, print the effective settings with their sources, and exit.")
    var checkConfig = false

    @Option(help: ArgumentHelp("The pool file (pool.path; default ./llfreed.pool).", valueName: "path"))
    var pool: String?

    @Option(help: ArgumentHelp("Where the frames are: auto (a created pool is split, its frames object at POOL.frames; an existing pool opens as it is), none (in the pool file) or the path of the frames object, a file or a device DAX device (pool.frames; default auto).", valueName: "path"))
    var frames: String?

    @Flag(inversion: .prefixedNo, help: "Create the pool if it is missing (pool.create; default: only for the default pool). An existing pool is opened, never reformatted.")
    var create: Bool?

    @Option(help: ArgumentHelp("Size of the frames area of a created pool, e.g. 1G, 512M (pool.size; default 1G).", valueName: "size"))
    var size: String?

    @Option(help: ArgumentHelp("Children (2 MiB each) per tree of a created pool (pool.tree-children; default \(Geometry.defaultTreeChildren)).", valueName: "n"))
    var treeChildren: String?

    @Option(help: ArgumentHelp("Durability: auto, cpu-cache or msync (pool.durability; default auto).", valueName: "mode"))
    var durability: String?

    @Option(help: ArgumentHelp("The Unix socket (socket.path; default /run/llfreed/llfreed.sock for root, $XDG_RUNTIME_DIR/llfreed.sock otherwise).", valueName: "path"))
    var socket: String?

    @Option(help: ArgumentHelp("Permission bits of the socket file, octal (socket.mode; default 0660).", valueName: "mode"))
    var socketMode: String?

    @Option(help: ArgumentHelp("Group of the socket file, name or number (socket.group; default: the daemon's).", valueName: "group"))
    var socketGroup: String?

    @Option(help: ArgumentHelp("Event loops, each with its own allocator core (threads; default: one per CPU).", valueName: "n"))
    var threads: String?

    @Flag(inversion: .prefixedNo, help: "Pin event loop i to the i-th CPU the daemon may use, round robin (pin; default: true).")
    var pin: Bool?

    @Option(name: .customLong("allow-uid"), help: ArgumentHelp("A user to admit, name or number (access.uids; repeatable; default: the daemon's uid and root).", valueName: "user"))
    var allowUIDs: [String] = []

    @Option(name: .customLong("allow-gid"), help: ArgumentHelp("A group to admit, name or number (access.gids; repeatable).", valueName: "group"))
    var allowGIDs: [String] = []

    @Option(name: .customLong("read-only-uid"), help: ArgumentHelp("A user whose clients receive the frames descriptor read-only (access.read-only-uids; repeatable).", valueName: "user"))
    var readOnlyUIDs: [String] = []

    @Option(name: .customLong("read-only-gid"), help: ArgumentHelp("A group whose members' clients receive the frames descriptor read-only (access.read-only-gids; repeatable).", valueName: "group"))
    var readOnlyGIDs: [String] = []

    @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error, critical (log.level; default info).", valueName: "level"))
    var logLevel: String?

    @Option(help: ArgumentHelp("Log format: auto, text or journal (log.format; default auto: journal under systemd).", valueName: "format"))
    var logFormat: String?

    @Option(help: ArgumentHelp("Metrics endpoint: off, HOST:PORT (e.g. 127.0.0.1:9464) or a Unix socket path (metrics.listen; default off).", valueName: "address"))
    var metricsListen: String?

    @Option(help: ArgumentHelp("Percent of one CPU the idle zeroer may use to zero free huge frames while no request is served, 0...100 (zero.cpu; default 10; 0: off, frames are zeroed when a get takes them).", valueName: "percent"))
    var zeroCPU: String?

    @Option(help: ArgumentHelp("Free huge frames kept in memory, as a size (zero.reserve; default 256M); the idle zeroer returns free huge frames beyond it to the host by punching holes into the frames file.", valueName: "size"))
    var zeroReserve: String?

    @Option(help: ArgumentHelp("Shared-memory rings served at once, 0...4096 (ring.max; default 64; 0: rings off); each is a thread and 516 KiB. A ring request beyond it is refused and the client keeps the socket.", valueName: "count"))
    var maxRings: String?

    /// The flags given, as configuration text by setting.
    var commandLine: [SettingKey: [String]] {
        var values: [SettingKey: [String]] = [:]
        let scalars: [(SettingKey, String?)] = [
            (.poolPath, pool), (.poolFrames, frames), (.poolCreate, create.map { "\($0)" }), (.poolSize, size), (.poolTreeChildren, treeChildren),
            (.poolDurability, durability), (.socketPath, socket), (.socketMode, socketMode), (.socketGroup, socketGroup),
            (.threads, threads), (.pin, pin.map { "\($0)" }), (.logLevel, logLevel), (.logFormat, logFormat), (.metricsListen, metricsListen),
            (.zeroCPU, zeroCPU), (.zeroReserve, zeroReserve), (.ringMax, maxRings),
        ]
        for (key, value) in scalars { if let value { values[key] = [value] } }
        if !allowUIDs.isEmpty { values[.accessUIDs] = allowUIDs }
        if !allowGIDs.isEmpty { values[.accessGIDs] = allowGIDs }
        if !readOnlyUIDs.isEmpty { values[.accessReadOnlyUIDs] = readOnlyUIDs }
        if !readOnlyGIDs.isEmpty { values[.accessReadOnlyGIDs] = readOnlyGIDs }
        return values
    }

    func run() async throws {
        let environment = ProcessEnvironment.current
        let settings: DaemonSettings
        do {
            settings = try await ConfigurationLoader.load(file: config ?? environment["LLFREED_CONFIG"], environment: environment,
                                                          commandLine: commandLine)
        } catch {
            Self.refuse("\(error)")
        }
        if checkConfig {
            print(settings.rendered, terminator: "")
            return
        }
        let passed: PassedSocket?
        do {
            passed = try SocketActivation.listener(environment: environment)
        } catch {
            Self.refuse("\(error)")
        }
        SocketActivation.unsetEnvironment()

        let format = settings.logFormat.resolved(journalStream: environment["JOURNAL_STREAM"],
                                                 standardError: ProcessEnvironment.standardErrorIdentity)
        let level = settings.logLevel
        LoggingSystem.bootstrap { label in DaemonLogHandler(label: label, level: level, format: format) }
        let logger = Logger(label: "llfreed")
        logger.info("configuration", metadata: [
            "file": "\(settings.configFile ?? "none")", "log format": "\(format)",
            "set": "\(settings.sources.filter { $0.value != .default }.keys.sorted().map { "\($0.rawValue) (\(settings.sources[$0]!))" }.joined(separator: ", "))",
        ])
        var options = settings.daemonOptions(ownUID: UInt32(getuid()))
        options.server.passedSocket = passed
        options.notifier = SystemdNotifier(environment: environment)
        options.watchdogInterval = SystemdNotifier.watchdogInterval(environment: environment)
        if let passed {
            logger.info("socket activation: serving the socket systemd passed", metadata: [
                "descriptor": "\(passed.descriptor)", "path": "\(passed.path ?? "unnamed")",
                "ignored": "socket.path, socket.mode and socket.group (the socket unit sets them)",
            ])
        }
        if let listen = settings.metricsListen, !listen.isLoopback {
            logger.warning("the metrics endpoint listens beyond loopback; anyone who can reach it reads the pool's figures",
                           metadata: ["metrics": "\(listen)"])
        }
        let socketPath = passed?.path ?? options.server.socketPath
        do {
            try await Daemon.run(options, logger: logger) {
                logger.info("ready", metadata: ["socket": "\(socketPath)"])
            }
        } catch {
            logger.critical("llfreed stopped: \(error)")
            throw ExitCode(1)
        }
    }

    /// Refuses the configuration: the message on stderr, exit status 78 (EX_CONFIG).
    static func refuse(_ message: String) -> Never {
        let line = "llfreed: \(message)\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        Glibc.exit(ConfigurationError.exitStatus)
    }
}
