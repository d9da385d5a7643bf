// A plain POSIX connection to the daemon for sending bytes exactly as a hostile client would,
// and reading replies (or the connection's end) with a timeout.

import Foundation
import LLFreeProtocol

/// A raw Unix-socket connection. One thread may send while another receives (a socket is
/// full duplex; only ``receive(timeout:)`` touches the buffer).
public final class RawConnection: @unchecked Sendable {
    public let fd: Int32
    private var buffer = MessageBuffer()

    public init(_ path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() where i < raw.count - 1 { raw[i] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else { close(fd); throw TestFailure("connect \(path): \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd) }

    public func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    public func send(_ message: RequestMessage) { send(WireCodec.encode(message)) }

    public enum Outcome: Equatable {
        case reply(ReplyMessage)
        case closed
        case timeout
    }

    /// The next reply, the connection's end, or nothing within `seconds`.
    public func receive(timeout seconds: Double = 5) -> Outcome {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if let message = try? buffer.next() {
                guard let reply = try? WireCodec.decodeReply(message) else { return .closed }
                return .reply(reply)
            }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return .timeout }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, Int32(left * 1000) + 1) > 0 else { return .timeout }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return .closed }
            buffer.append(chunk[0..<n])
        }
    }

    /// Sends `message` and returns the reply.
    public func roundTrip(_ message: RequestMessage) -> Outcome {
        send(message)
        return receive()
    }
}
