// access.gids admits members of a group, not only processes whose primary group it is: a child
// process drops to another uid and primary gid while keeping chosen supplementary groups
// (os.setgroups, setgid, setuid in python3), connects and pings. Needs root (to change ids).

import Foundation
import LLFreeTestSupport
import Testing

@Suite(.serialized) struct SupplementaryGroupTests {
    /// The peer: sets its groups, gid and uid, connects, sends a ping (id 7), prints the first
    /// reply (a ping reply if admitted, else the refusal the daemon sends on accept).
    static let peerScript = """
    import os, socket, struct, sys
    path, groups, gid, uid = sys.argv[1], [int(g) for g in sys.argv[2].split(',') if g], int(sys.argv[3]), int(sys.argv[4])
    os.setgroups(groups)
    os.setgid(gid)
    os.setuid(uid)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    try:
        s.sendall(struct.pack('<IBBHQ', 12, 1, 6, 0, 7))
    except (BrokenPipeError, ConnectionResetError):
        pass  # a refused peer's connection may be closed already; the refusal is still to be read
    def read(n):
        b = b''
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c:
                raise SystemExit('connection closed after %d bytes' % len(b))
            b += c
        return b
    length, version, op, status, ident = struct.unpack('<IBBHQ', read(16))
    body = read(length - 12)
    print('op=%#x status=%d body=%s' % (op, status, body.decode('utf-8', 'replace')))
    """

    /// Runs the peer script with `groups`, primary gid 4343 and uid 4444; its output line.
    static func ping(_ daemon: DaemonProcess, groups: [UInt32]) throws -> String {
        let script = daemon.directory + "/peer.py"
        try peerScript.write(toFile: script, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, daemon.socket, groups.map(String.init).joined(separator: ","), "4343", "4444"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Root only (the peer's groups are set with setgroups, as root), with python3 for the peer.
    static var canRun: Bool {
        runsAsRoot && FileManager.default.isExecutableFile(atPath: "/usr/bin/env")
    }

    @Test(.enabled(if: SupplementaryGroupTests.canRun, "needs root to set the peer's supplementary groups"))
    func aMemberOfAnAllowedGroupIsAdmitted() throws {
        let daemon = try DaemonProcess(extra: ["--allow-gid", "4242", "--socket-group", "4242"])
        defer { daemon.remove() }
        #expect(try Self.ping(daemon, groups: [4242]) == "op=0x86 status=0 body=")
        // Beyond the first 64-gid read: the daemon asks again with a larger buffer.
        #expect(try Self.ping(daemon, groups: Array(5000..<5100) + [4242]) == "op=0x86 status=0 body=")
        #expect(daemon.log.contains("refused connection") == false)
    }

    @Test(.enabled(if: SupplementaryGroupTests.canRun, "needs root to set the peer's supplementary groups"))
    func withoutTheGroupAllowedTheSameMemberIsRefused() throws {
        let daemon = try DaemonProcess(extra: ["--allow-gid", "4000", "--socket-group", "4242"])
        defer { daemon.remove() }
        let line = try Self.ping(daemon, groups: [4242, 4243])
        #expect(line.hasPrefix("op=0xff status=13 "), "\(line)")
        #expect(line.contains("gid 4343 groups [4242,4243]"), "\(line)")
        #expect(daemon.log.contains("refused connection"))
    }

    @Test(.enabled(if: SupplementaryGroupTests.canRun, "needs root to set the peer's supplementary groups"))
    func groupZeroIsToldApartFromNoGroups() throws {
        // An all-zero SO_PEERGROUPS buffer means either no groups or group 0; the daemon asks
        // once more with no room to tell them apart.
        let daemon = try DaemonProcess(extra: ["--allow-gid", "0", "--socket-mode", "0666"])
        defer { daemon.remove() }
        #expect(try Self.ping(daemon, groups: [0]) == "op=0x86 status=0 body=")
        let refused = try Self.ping(daemon, groups: [])
        #expect(refused.hasPrefix("op=0xff status=13 ") && refused.contains("groups []"), "\(refused)")
    }
}
