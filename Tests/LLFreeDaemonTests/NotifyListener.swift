// A real AF_UNIX datagram socket standing in for systemd's NOTIFY_SOCKET in tests: binds a path
// (or an abstract name) and receives what a notifier sends.

import Foundation
import LLFreeTestSupport

/// Receives sd_notify datagrams.
final class NotifyListener {
    let fd: Int32
    /// The NOTIFY_SOCKET value that reaches it.
    let address: String

    /// Binds `address`: a path, or "@name" for the abstract namespace.
    init(address: String) throws {
        self.address = address
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
        var sa = sockaddr_un()
        sa.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(address.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &sa.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let result = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard result == 0 else { close(fd); throw TestFailure("bind \(address): \(String(cString: strerror(errno)))") }
    }

    deinit {
        close(fd)
        if !address.hasPrefix("@") { unlink(address) }
    }

    /// The next datagram, or nil after `timeout` seconds.
    func receive(timeout: Double = 10) -> String? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(timeout * 1000)) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }

    /// Datagrams until one contains `needle` (returned), or nil after `timeout` seconds.
    func receive(containing needle: String, timeout: Double = 10) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let message = receive(timeout: deadline.timeIntervalSinceNow), message.contains(needle) { return message }
        }
        return nil
    }
}
