// The real llfreed binary as systemd and an operator meet it: readiness, status, watchdog and
// stopping notifications on a real NOTIFY_SOCKET; a socket passed by systemd-socket-activate;
// the metrics endpoint scraped while clients work and after a crash; configuration refusals
// with exit status 78; no arguments at all; and the install script into a staging root.

import Foundation
import LLFreeTestSupport
import LLFreeClient
import XCTest

final class DeploymentTests: XCTestCase {
    var directory = ""
    var processes: [Process] = []

    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("llfreed-deploy-\(UUID().uuidString.prefix(8))").path
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        for process in processes where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    var log: String { (try? String(contentsOfFile: directory + "/llfreed.log", encoding: .utf8)) ?? "" }

    /// Starts `executable` (llfreed by default) with `arguments`, the environment plus `environment`,
    /// in `directory`, output to llfreed.log.
    @discardableResult
    func launch(_ arguments: [String], environment: [String: String] = [:], executable: String = DaemonProcess.binary) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for key in ["NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM", "LLFREED_CONFIG"] { env[key] = nil }
        for key in env.keys where key.hasPrefix("LLFREED_") { env[key] = nil }
        env.merge(environment) { $1 }
        process.environment = env
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let path = directory + "/llfreed.log"
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else { throw TestFailure("cannot create \(path)") }
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        processes.append(process)
        return process
    }

    func waitForPing(_ socket: String, _ process: Process) throws {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            guard process.isRunning else { throw TestFailure("llfreed exited with \(process.terminationStatus):\n\(log)") }
            let client = BlockingLLFreeClient(socketPath: socket)
            defer { client.close() }
            if (try? client.ping()) != nil { return }
            usleep(50_000)
        }
        throw TestFailure("llfreed did not serve within 30 s:\n\(log)")
    }

    func stop(_ process: Process) -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        return process.terminationStatus
    }

    func baseArguments(_ socket: String) -> [String] {
        ["--pool", directory + "/test.pool", "--create", "--size", "64M", "--socket", socket, "--threads", "2", "--durability", "cpu-cache"]
    }

    func testNotifiesReadyStatusWatchdogAndStopping() throws {
        let listener = try NotifyListener(address: directory + "/notify.sock")
        let socket = directory + "/llfreed.sock"
        let process = try launch(baseArguments(socket), environment: ["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "400000"])
        let ready = try XCTUnwrap(listener.receive(containing: "READY=1", timeout: 30), "no READY=1:\n\(log)")
        XCTAssertTrue(ready.contains("STATUS=serving 16384 free frames of 16384"), ready)
        XCTAssertTrue(ready.contains("MAINPID=\(process.processIdentifier)"), ready)
        // Ready means served: a client gets an answer at once.
        try BlockingLLFreeClient(socketPath: socket).ping()
        XCTAssertNotNil(listener.receive(containing: "WATCHDOG=1", timeout: 5), "no keep-alive at half of WATCHDOG_USEC")
        let status = try XCTUnwrap(listener.receive(containing: "STATUS=serving", timeout: 5))
        XCTAssertTrue(status.contains("free huge frames"), status)
        XCTAssertEqual(stop(process), 0, log)
        XCTAssertNotNil(listener.receive(containing: "STOPPING=1", timeout: 5), "no STOPPING=1")
    }

    func testServesTheSocketSystemdPasses() throws {
        let activate = "/usr/bin/systemd-socket-activate"
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: activate), "systemd-socket-activate is not installed")
        let socket = directory + "/activated.sock"
        // systemd-socket-activate binds the socket, sets LISTEN_FDS/LISTEN_PID and execs llfreed (same pid).
        let process = try launch(["-l", socket, DaemonProcess.binary] + baseArguments(directory + "/never-bound.sock"), executable: activate)
        try waitForPing(socket, process)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/never-bound.sock"))
        let got = try BlockingLLFreeClient(socketPath: socket).get(order: 0, count: 2)
        XCTAssertEqual(got.frames.count, 2)
        XCTAssertEqual(stop(process), 0, log)
        XCTAssertTrue(log.contains("socket activation"), log)
        XCTAssertTrue(FileManager.default.fileExists(atPath: socket), "the passed socket's file belongs to systemd and stays")
    }

    func testMetricsEndpointWhileServingAndAfterACrash() throws {
        let socket = directory + "/llfreed.sock"
        let metrics = directory + "/metrics.sock"
        var process = try launch(baseArguments(socket) + ["--metrics-listen", metrics])
        try waitForPing(socket, process)
        let client = BlockingLLFreeClient(socketPath: socket)
        let got = try client.get(order: 0, count: 4)
        XCTAssertEqual(got.frames.count, 4)
        _ = try client.put(order: 0, frames: Array(got.frames.prefix(2)))
        _ = try client.put(order: 0, frames: [got.frames[0]])  // a double free
        var scrape = try HTTPScrape.request(unixPath: metrics)
        XCTAssertEqual(scrape.status, 200)
        XCTAssertEqual(scrape.sample(#"llfreed_operations_total{op="get",result="ok"}"#), 1, scrape.body)
        XCTAssertEqual(scrape.sample(#"llfreed_operations_total{op="put",result="ok"}"#), 1)
        XCTAssertEqual(scrape.sample(#"llfreed_operations_total{op="put",result="not_allocated"}"#), 1)
        XCTAssertEqual(scrape.sample(#"llfreed_request_duration_seconds_count{op="put"}"#), 2)
        XCTAssertEqual(scrape.sample("llfreed_frames"), 16384)
        XCTAssertEqual(scrape.sample("llfreed_free_frames"), 16382)
        XCTAssertEqual(scrape.sample("llfreed_clients_connected"), 1)
        XCTAssertEqual(scrape.sample("llfreed_recovery_ran"), 0)
        // The ring's requests count as the socket's (its fast path stays on with metrics).
        let pings = scrape.sample(#"llfreed_operations_total{op="ping",result="ok"}"#) ?? 0
        let ring = try client.ring()
        let more = try ring.get(order: 0, count: 1)
        _ = try ring.put(order: 0, frames: more.frames)
        try ring.ping()
        scrape = try HTTPScrape.request(unixPath: metrics)
        XCTAssertEqual(scrape.sample(#"llfreed_operations_total{op="get",result="ok"}"#), 2, scrape.body)
        XCTAssertEqual(scrape.sample(#"llfreed_operations_total{op="put",result="ok"}"#), 2)
        XCTAssertEqual(scrape.sample(#"llfreed_operations_total{op="ping",result="ok"}"#), pings + 1)
        XCTAssertEqual(scrape.sample(#"llfreed_operations_total{op="ring",result="ok"}"#), 1)
        client.close()

        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        process = try launch(baseArguments(socket) + ["--metrics-listen", metrics])
        try waitForPing(socket, process)
        scrape = try HTTPScrape.request(unixPath: metrics)
        XCTAssertEqual(scrape.sample("llfreed_recovery_ran"), 1, "a killed daemon's pool is recovered at the next start")
        XCTAssertNotNil(scrape.sample("llfreed_recovery_duration_seconds"))
        XCTAssertEqual(scrape.sample("llfreed_free_frames"), 16382, "the two frames still held survive the crash")
        XCTAssertEqual(stop(process), 0, log)
        XCTAssertFalse(FileManager.default.fileExists(atPath: metrics))
        XCTAssertTrue(log.contains("recovery=ran: the pool was not closed cleanly"), log)
    }

    func testABadConfigurationExits78BeforeOpeningAnything() throws {
        let file = directory + "/llfreed.yaml"
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data("pool:\n  path: \(directory)/p.pool\n  create: true\n  size: huge\n".utf8)))
        var process = try launch(["--config", file])
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 78, log)
        XCTAssertTrue(log.contains("configuration file \(file): pool.size: 'huge' is invalid"), log)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/p.pool"), "nothing may be created")

        process = try launch(["--config", file, "--size", "8M", "--check-config"])
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "a flag overrides the file's bad value:\n\(log)")
        XCTAssertTrue(log.contains("size: 8M  # command line --size"), log)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/p.pool"), "--check-config opens nothing")

        process = try launch(["--check-config"], environment: ["LLFREED_THREADS": "many"])
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 78)
        XCTAssertTrue(log.contains("environment LLFREED_THREADS (threads): 'many' is invalid"), log)
    }

    func testNoArgumentsServesTheEmbeddedDefaultPool() throws {
        // Only the socket is moved (through the environment), so parallel runs do not meet at /run/llfreed.
        let socket = directory + "/default.sock"
        let process = try launch([], environment: ["LLFREED_SOCKET_PATH": socket, "LLFREED_THREADS": "1"])
        try waitForPing(socket, process)
        let info = try BlockingLLFreeClient(socketPath: socket).hello()
        XCTAssertEqual(info.frames, 262_144, "1 GiB of 4 KiB frames")
        // Split: the metadata file is small and the daemon's alone, the frames object 1 GiB and 2 MiB.
        let metadata = try FileManager.default.attributesOfItem(atPath: directory + "/llfreed.pool")
        XCTAssertLessThan((metadata[.size] as? Int) ?? Int.max, 1 << 21)
        XCTAssertEqual((metadata[.posixPermissions] as? Int) ?? 0, 0o600)
        let frames = try FileManager.default.attributesOfItem(atPath: directory + "/llfreed.pool.frames")
        XCTAssertEqual((frames[.size] as? Int) ?? 0, (1 << 30) + (2 << 20))
        XCTAssertFalse(info.metadataReachable)
        XCTAssertEqual(stop(process), 0, log)
        XCTAssertTrue(log.contains("created pool"), log)
    }

    /// systemd/install.sh into a staging root, with the binaries this test run built (the release
    /// build is what the script does without --bin-dir; CI's systemd/check.sh runs that path).
    func testInstallIntoAStagingRoot() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let binDir = URL(fileURLWithPath: DaemonProcess.binary).deletingLastPathComponent().path
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binDir + "/llfree-ctl"), "llfree-ctl was not built next to llfreed")
        let root = directory + "/root"
        let process = try launch([repo + "/systemd/install.sh", "--destdir", root, "--prefix", "/opt/llfreed", "--bin-dir", binDir],
                                 executable: "/bin/bash")
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, log)
        XCTAssertTrue(log.contains("DESTDIR set: not creating the llfreed user and group"), log)
        let fm = FileManager.default
        for path in ["/opt/llfreed/bin/llfreed", "/opt/llfreed/bin/llfree-ctl"] {
            XCTAssertTrue(fm.isExecutableFile(atPath: root + path), path)
        }
        let service = try String(contentsOfFile: root + "/etc/systemd/system/llfreed.service", encoding: .utf8)
        XCTAssertTrue(service.contains("ExecStart=/opt/llfreed/bin/llfreed --config /etc/llfreed/llfreed.yaml"), service)
        XCTAssertFalse(service.contains("/usr/local/"), "every path follows the prefix")
        let socketUnit = try String(contentsOfFile: root + "/etc/systemd/system/llfreed.socket", encoding: .utf8)
        XCTAssertTrue(socketUnit.contains("ListenStream=/run/llfreed/llfreed.sock"))
        for path in ["/etc/llfreed/llfreed.yaml", "/etc/llfreed/llfreed.yaml.example", "/opt/llfreed/share/doc/llfreed/deploy.md"] {
            XCTAssertTrue(fm.fileExists(atPath: root + path), path)
        }
        // The C client library, its soname link and a pkg-config file naming the prefix.
        for path in ["/opt/llfreed/include/llfree/client.h", "/opt/llfreed/lib/libllfree-client.a", "/opt/llfreed/lib/libllfree-client.so.1",
                     "/opt/llfreed/lib/libllfree-client.so"] {
            XCTAssertTrue(fm.fileExists(atPath: root + path), path)
        }
        XCTAssertEqual(try fm.destinationOfSymbolicLink(atPath: root + "/opt/llfreed/lib/libllfree-client.so.1"), "libllfree-client.so.1.0.0")
        let pc = try String(contentsOfFile: root + "/opt/llfreed/lib/pkgconfig/llfree-client.pc", encoding: .utf8)
        XCTAssertTrue(pc.contains("libdir=/opt/llfreed/lib") && pc.contains("Libs: -L${libdir} -lllfree-client"), pc)
        // The installed binary accepts the installed configuration.
        let check = try launch(["--config", root + "/etc/llfreed/llfreed.yaml", "--check-config"], executable: root + "/opt/llfreed/bin/llfreed")
        check.waitUntilExit()
        XCTAssertEqual(check.terminationStatus, 0, log)
        XCTAssertTrue(log.contains("path: /var/lib/llfreed/llfreed.pool"), log)

        // An operator's edited configuration survives a reinstall.
        try "threads: 1\n".write(toFile: root + "/etc/llfreed/llfreed.yaml", atomically: true, encoding: .utf8)
        let again = try launch([repo + "/systemd/install.sh", "--destdir", root, "--prefix", "/opt/llfreed", "--bin-dir", binDir],
                               executable: "/bin/bash")
        again.waitUntilExit()
        XCTAssertEqual(again.terminationStatus, 0, log)
        XCTAssertEqual(try String(contentsOfFile: root + "/etc/llfreed/llfreed.yaml", encoding: .utf8), "threads: 1\n")
    }
}
