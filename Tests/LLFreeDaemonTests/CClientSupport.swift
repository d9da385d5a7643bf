// What the C client's tests share: connecting through llfree_connect with Swift strings (the
// options hold C strings only for the call), the thread's message after a failure, and C's
// fixed-size char arrays read as Swift strings.

import CLLFreeClient
import Foundation
import LLFreeTestSupport

/// A C client handle that may cross threads: the library's lock makes a client safe to share.
final class CClientHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { llfree_close(pointer) }
}

enum CClient {
    /// llfree_connect with these options. Returns the status and, if it was LLFREE_OK, the client;
    /// `message` is llfree_last_message() right after the call.
    static func connect(socket: String?, owner: String? = nil, kind: llfree_owner_kind = LLFREE_OWNER_PERSISTENT,
                        flags: Int = 0, quota: UInt64 = 0, connectTimeout: Int32 = 0, ioTimeout: Int32 = 0)
        -> (status: llfree_status, client: CClientHandle?, message: String) {
        var options = llfree_connect_options()
        llfree_connect_options_init(&options)
        options.flags = UInt32(flags)
        options.owner_kind = kind
        options.quota = quota
        options.connect_timeout_ms = connectTimeout
        options.io_timeout_ms = ioTimeout
        let socketC = socket.map { strdup($0)! }
        let ownerC = owner.map { strdup($0)! }
        defer { free(socketC); free(ownerC) }
        options.socket_path = socketC.map { UnsafePointer($0) }
        options.owner = ownerC.map { UnsafePointer($0) }
        var client: OpaquePointer? = nil
        let status = llfree_connect(&options, &client)
        return (status, client.map(CClientHandle.init), message)
    }

    /// Connects and fails the test's precondition if that does not work.
    static func connected(_ daemon: DaemonProcess, owner: String? = nil, kind: llfree_owner_kind = LLFREE_OWNER_PERSISTENT,
                          flags: Int = 0, quota: UInt64 = 0, ioTimeout: Int32 = 0) throws -> CClientHandle {
        let result = connect(socket: daemon.socket, owner: owner, kind: kind, flags: flags, quota: quota, ioTimeout: ioTimeout)
        guard result.status == LLFREE_OK, let client = result.client else {
            throw CClientFailure(result.status, result.message)
        }
        return client
    }

    /// This thread's message of the library's last failed call.
    static var message: String { String(cString: llfree_last_message()) }

    /// A NUL-terminated C char array (imported as a tuple) as a String.
    static func string<T>(_ tuple: T) -> String {
        withUnsafeBytes(of: tuple) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// A fixed-size byte array (imported as a tuple) as bytes.
    static func bytes<T>(_ tuple: T) -> [UInt8] { withUnsafeBytes(of: tuple) { Array($0) } }

    static func poolInfo(_ client: CClientHandle) -> llfree_pool_info {
        var info = llfree_pool_info()
        _ = llfree_pool_info_get(client.pointer, &info)
        return info
    }

    /// Every run the client's owner holds, page by page (`limit` runs a page).
    static func runs(_ client: CClientHandle, limit: UInt32 = 16384) throws -> [UInt64] {
        var all = [UInt64]()
        var from: UInt64 = 0
        var page = [UInt64](repeating: 0, count: Int(limit))
        while from != listEnd {
            var count = 0
            var next: UInt64 = 0
            let status = llfree_list(client.pointer, nil, from, limit, &page, &count, &next)
            guard status == LLFREE_OK else { throw CClientFailure(status, message) }
            all += page[0..<count]
            from = next
        }
        return all
    }
}

/// A C call that failed where the test needed it to work.
struct CClientFailure: Error, CustomStringConvertible {
    let status: llfree_status
    let message: String
    init(_ status: llfree_status, _ message: String) {
        self.status = status
        self.message = message
    }
    var description: String { "\(String(cString: llfree_strerror(status))) (\(status.rawValue)): \(message)" }
}

/// LLFREE_LIST_END (UINT64_MAX, a macro Swift does not import).
let listEnd = UInt64.max

extension DaemonProcess {
    /// SIGSTOP, and waits until every thread of the daemon is stopped (a signal is delivered
    /// after kill returns): from then on it reads and accepts nothing.
    func pause() throws {
        let pid = process.processIdentifier
        kill(pid, SIGSTOP)
        let stopped = waitUntil {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            return !tasks.isEmpty && tasks.allSatisfy { task in
                guard let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/stat", encoding: .utf8),
                      let close = stat.lastIndex(of: ")") else { return false }
                return stat[stat.index(close, offsetBy: 2)] == "T"
            }
        }
        if !stopped { throw TestFailure("llfreed (pid \(pid)) did not stop within 10 s of SIGSTOP") }
    }

    /// SIGCONT.
    func resume() { kill(process.processIdentifier, SIGCONT) }
}
