// Starts the real llfreed binary (built next to this test bundle) on a pool and a socket in a
// temporary directory, and stops it by SIGTERM or SIGKILL.

import Foundation
import LLFreeTestSupport
import LLFreeClient

/// A running llfreed.
final class DaemonProcess {
    let directory: String
    let pool: String
    let socket: String
    let logPath: String
    private(set) var process: Process

    /// The llfreed executable: $LLFREED_TEST_BINARY if set (to run these tests against another
    /// build), else the one in the build directory that holds this test bundle.
    static var binary: String {
        if let chosen = ProcessInfo.processInfo.environment["LLFREED_TEST_BINARY"], !chosen.isEmpty { return chosen }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // The bundle may be a directory (…/llfreedPackageTests.xctest/…) on some platforms.
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("llfreed").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return "llfreed-not-found-next-to-\(exe)"
    }

    /// Starts llfreed on a new 64 MiB pool (or the existing one in `directory`).
    /// Runs it as `user` (uid = gid) through setpriv when given.
    let user: UInt32?
    /// A command and its arguments that run llfreed (e.g. prlimit with limits), or none.
    let launcher: [String]

    init(directory: String? = nil, size: String = "64M", threads: Int = 2, extra: [String] = [], wait: Bool = true,
         user: UInt32? = nil, socket: String? = nil, launcher: [String] = []) throws {
        self.user = user
        self.launcher = launcher
        let dir = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("llfreed-test-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // Sticky, like /tmp: the daemon's user may create its socket here, and no one else may
        // remove or replace it (llfreed refuses a socket directory others could change).
        if user != nil { chmod(dir, 0o1777) }
        self.directory = dir
        pool = dir + "/test.pool"
        self.socket = socket ?? dir + "/llfreed.sock"
        logPath = dir + "/llfreed-\(UUID().uuidString.prefix(6)).log"
        process = Process()
        try start(size: size, threads: threads, extra: extra, wait: wait)
    }

    func start(size: String = "64M", threads: Int = 2, extra: [String] = [], wait: Bool = true) throws {
        guard FileManager.default.createFile(atPath: logPath, contents: nil),
              let log = FileHandle(forWritingAtPath: logPath) else { throw CocoaError(.fileWriteUnknown) }
        log.seekToEndOfFile()
        process = Process()
        let arguments = ["--pool", pool, "--create", "--size", size, "--socket", socket, "--threads", "\(threads)",
                         "--durability", "cpu-cache"] + extra
        var command = [Self.binary] + arguments
        if let user { command = ["/usr/bin/setpriv", "--reuid=\(user)", "--regid=\(user)", "--clear-groups"] + command }
        command = launcher + command
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.standardError = log
        process.standardOutput = log
        try process.run()
        if wait { try waitUntilServing() }
    }

    /// Waits until a client gets a ping answered, or for a daemon that admits no one here,
    /// until it logs that it is ready (at most 30 s).
    func waitUntilServing() throws {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if !process.isRunning { throw TestFailure("llfreed exited with \(process.terminationStatus):\n\(log)") }
            if user != nil {
                if log.contains("ready") { return }
                usleep(50_000)
                continue
            }
            let client = BlockingLLFreeClient(socketPath: socket)
            defer { client.close() }
            if (try? client.ping()) != nil { return }
            usleep(50_000)
        }
        throw TestFailure("llfreed did not serve within 30 s:\n\(log)")
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// SIGTERM, then the exit status.
    @discardableResult
    func terminate() -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// SIGKILL, as a crash.
    func crash() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// Stops the daemon if running and removes the directory.
    func remove() {
        crash()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

