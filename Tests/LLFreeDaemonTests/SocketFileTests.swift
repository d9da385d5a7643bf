// The socket's directory and file: a directory another user could change is refused before
// anything is created or removed in it, a missing one is created for the daemon alone, the socket
// gets its mode as it is created and its group without following a symlink, and shutdown removes
// the socket only if it is still the one the daemon bound.

import Foundation
import LLFreeTestSupport
import LLFreeClient
import Testing
@testable import LLFreeDaemon
import LLFreeServer

@Suite(.serialized) struct SocketFileTests {
    let base: String

    init() throws {
        base = FileManager.default.temporaryDirectory.appendingPathComponent("llfreed-sockfile-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        chmod(base, 0o755)
    }

    func mode(_ path: String) -> mode_t {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & 0o7777 : 0
    }

    /// The reason `prepare` refused `path` with, or nil if it did not.
    func refusal(_ path: String, mode: UInt32 = 0o660) -> String? {
        do {
            try SocketFile.prepare(path, mode: mode)
            return nil
        } catch {
            guard case .bind(_, let reason) = error else { return "\(error)" }
            return reason
        }
    }

    /// A stale (unbound) socket file at `path`, as a killed daemon leaves.
    func staleSocket(_ path: String) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else { throw TestFailure("bind \(path): \(String(cString: strerror(errno)))") }
    }

    @Test func aMissingDirectoryIsCreatedForTheDaemonAlone() throws {
        defer { try? FileManager.default.removeItem(atPath: base) }
        #expect(refusal(base + "/private/llfreed.sock", mode: 0o600) == nil)
        #expect(mode(base + "/private") == 0o700)
        // A socket others may use needs a directory they can pass through, but not list or change.
        #expect(refusal(base + "/shared/llfreed.sock", mode: 0o660) == nil)
        #expect(mode(base + "/shared") == 0o711)
    }

    // Root only: making a directory another user's takes chown.
    @Test(.enabled(if: runsAsRoot, "needs root to chown a directory to another uid"))
    func aDirectoryOfAnotherUserIsRefusedAndLeftAlone() throws {
        defer { try? FileManager.default.removeItem(atPath: base) }
        // As squatted: /tmp/llfreed-UID created by someone else first, with their socket in it.
        let squatted = base + "/llfreed-1000"
        try FileManager.default.createDirectory(atPath: squatted, withIntermediateDirectories: false)
        try staleSocket(squatted + "/llfreed.sock")
        #expect(chown(squatted, 4242, 4242) == 0)
        let why = try #require(refusal(squatted + "/llfreed.sock"))
        #expect(why.contains("owned by uid 4242"), "\(why)")
        #expect(why.contains("nothing was created or removed"), "\(why)")
        #expect(SocketFileIdentity.of(squatted + "/llfreed.sock") != nil, "the squatter's socket was touched")
    }

    @Test func aDirectoryOthersCanWriteIsRefusedUnlessSticky() throws {
        defer { try? FileManager.default.removeItem(atPath: base) }
        let open = base + "/open"
        try FileManager.default.createDirectory(atPath: open, withIntermediateDirectories: false)
        for bits: mode_t in [0o777, 0o775, 0o757] {
            #expect(chmod(open, bits) == 0)
            let why = refusal(open + "/llfreed.sock")
            #expect(why?.contains("writable by its group or others") == true, "mode \(String(bits, radix: 8)): \(why ?? "accepted")")
        }
        // Sticky, like /tmp: only a file's owner may remove or rename it.
        #expect(chmod(open, 0o1777) == 0)
        #expect(refusal(open + "/llfreed.sock") == nil)
    }

    // Root only: lchown to another uid.
    @Test(.enabled(if: runsAsRoot, "needs root to lchown a symlink to another uid"))
    func aSymlinkOfAnotherUserIsNotFollowed() throws {
        defer { try? FileManager.default.removeItem(atPath: base) }
        let target = base + "/target"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
        #expect(symlink(target, base + "/link") == 0)
        #expect(refusal(base + "/link/llfreed.sock") == nil, "the daemon's own symlink to its own directory is fine")
        #expect(lchown(base + "/link", 4242, 4242) == 0)
        let why = refusal(base + "/link/llfreed.sock")
        #expect(why?.contains("symlink owned by uid 4242") == true, "\(why ?? "accepted")")
    }

    // Root only: chown to another uid.
    @Test(.enabled(if: runsAsRoot, "needs root to chown a directory to another uid"))
    func theDaemonRefusesASquattedDirectory() throws {
        defer { try? FileManager.default.removeItem(atPath: base) }
        let squatted = base + "/llfreed-0"
        try FileManager.default.createDirectory(atPath: squatted, withIntermediateDirectories: false)
        #expect(chown(squatted, 4242, 4242) == 0)
        let daemon = try DaemonProcess(wait: false, socket: squatted + "/llfreed.sock")
        defer { daemon.remove() }
        guard waitUntil({ !daemon.process.isRunning }) else {
            Issue.record("llfreed serves on a socket in a directory another user owns")
            return
        }
        #expect(daemon.process.terminationStatus != 0)
        #expect(daemon.log.contains("owned by uid 4242"), "\(daemon.log)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: squatted).isEmpty)
    }

    // Root only: a socket group the daemon's user is not in.
    @Test(.enabled(if: runsAsRoot, "needs root to give the socket a group it is not in"))
    func theSocketGetsItsModeAndGroupAsBound() throws {
        defer { try? FileManager.default.removeItem(atPath: base) }
        let daemon = try DaemonProcess(directory: base + "/d", extra: ["--socket-mode", "0640", "--socket-group", "4242"])
        defer { daemon.remove() }
        var info = stat()
        #expect(lstat(daemon.socket, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o640)
        #expect(info.st_gid == 4242)
        #expect(daemon.terminate() == 0)
        #expect(!FileManager.default.fileExists(atPath: daemon.socket))
    }

    @Test func shutdownLeavesASocketAnotherDaemonBoundSince() throws {
        defer { try? FileManager.default.removeItem(atPath: base) }
        let first = try DaemonProcess(directory: base + "/first")
        defer { first.remove() }
        // The first daemon's socket file is moved away (it keeps serving on it); a second
        // daemon binds the path.
        #expect(rename(first.socket, first.socket + ".moved") == 0)
        let second = try DaemonProcess(directory: base + "/second", socket: first.socket)
        defer { second.remove() }
        #expect(first.terminate() == 0)
        #expect(SocketFileIdentity.of(first.socket) != nil, "the first daemon removed the second one's socket")
        #expect(first.log.contains("the socket file was not removed"), "\(first.log)")
        let client = BlockingLLFreeClient(socketPath: second.socket)
        defer { client.close() }
        try client.ping()
        #expect(second.terminate() == 0)
        #expect(SocketFileIdentity.of(second.socket) == nil, "the second daemon removes its own socket")
    }
}
