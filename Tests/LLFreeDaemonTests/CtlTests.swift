// llfree-ctl's online verbs against the real daemon: the socket may be named after the verb,
// before it (as with `git -C`) or by LLFREED_SOCKET, and durations read in human units.

import Foundation
import Testing

@Suite(.serialized) struct CtlTests {
    /// The built llfree-ctl, beside the llfreed these tests run.
    static var ctl: String {
        URL(fileURLWithPath: DaemonProcess.binary).deletingLastPathComponent().appendingPathComponent("llfree-ctl").path
    }

    /// Runs llfree-ctl; its exit status and what it printed (stdout then stderr).
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ctl)
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        merged.removeValue(forKey: "LLFREED_SOCKET")
        merged.merge(environment) { $1 }
        process.environment = merged
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: CtlTests.ctl), "llfree-ctl is built next to llfreed"))
    func theSocketIsAcceptedBeforeOrAfterTheVerbOrFromTheEnvironment() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let placements: [(arguments: [String], environment: [String: String])] = [
            (["status", "--socket", daemon.socket], [:]),
            (["--socket", daemon.socket, "status"], [:]),
            (["status"], ["LLFREED_SOCKET": daemon.socket]),
            // The option nearest the verb wins over the root's and the environment's.
            (["--socket", daemon.directory + "/none.sock", "status", "--socket", daemon.socket],
             ["LLFREED_SOCKET": daemon.directory + "/none.sock"]),
        ]
        for placement in placements {
            let (status, output) = try Self.run(placement.arguments, environment: placement.environment)
            #expect(status == 0, "\(placement.arguments): \(output)")
            #expect(output.contains("llfreed at \(daemon.socket): serving"), "\(output)")
            // "(ping 1.76 ms)", not "(ping 0.00175529 seconds)".
            #expect(output.range(of: #"\(ping [0-9.]+ (ns|µs|ms|s)\)"#, options: .regularExpression) != nil, "\(output)")
        }
        let (status, output) = try Self.run(["--socket", daemon.socket, "get", "--count", "2"])
        #expect(status == 0 && output.split(separator: "\n").count == 2, "\(output)")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: CtlTests.ctl), "llfree-ctl is built next to llfreed"))
    func anUnreachableSocketExitsTwo() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("llfreed-none-\(UUID().uuidString.prefix(8)).sock").path
        let (status, output) = try Self.run(["--socket", missing, "status"])
        #expect(status == 2, "\(output)")
    }
}
