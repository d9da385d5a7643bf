// A minimal HTTP/1.1 client over a real socket (TCP or Unix), for scraping the metrics endpoint
// in tests the way Prometheus does: one request, read until the server closes.

import Foundation
import LLFreeTestSupport

/// One HTTP exchange.
struct HTTPScrape {
    let status: Int
    let headers: [String: String]
    let body: String

    /// Sends `method path` to 127.0.0.1:`port` or the Unix socket at `unixPath`.
    static func request(_ method: String = "GET", _ path: String = "/metrics", port: Int? = nil, unixPath: String? = nil) throws -> HTTPScrape {
        let fd: Int32
        if let unixPath {
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var sa = sockaddr_un()
            sa.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &sa.sun_path) { raw in for (i, b) in unixPath.utf8.enumerated() { raw[i] = b } }
            let r = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            guard r == 0 else { close(fd); throw TestFailure("connect \(unixPath): \(String(cString: strerror(errno)))") }
        } else {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var sa = sockaddr_in()
            sa.sin_family = sa_family_t(AF_INET)
            sa.sin_port = in_port_t(UInt16(port ?? 0).bigEndian)
            sa.sin_addr.s_addr = inet_addr("127.0.0.1")
            let r = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard r == 0 else { close(fd); throw TestFailure("connect 127.0.0.1:\(port ?? 0): \(String(cString: strerror(errno)))") }
        }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nUser-Agent: llfreed-test\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            data += buffer[0..<n]
        }
        let text = String(decoding: data, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw TestFailure("no HTTP response: \(text)") }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw TestFailure("bad status line: \(lines[0])") }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            if let colon = line.firstIndex(of: ":") {
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return HTTPScrape(status: status, headers: headers, body: String(text[split.upperBound...]))
    }

    /// The value of the sample `name{labels}` (exactly as exposed), if present.
    func sample(_ series: String) -> Double? {
        for line in body.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }
}
