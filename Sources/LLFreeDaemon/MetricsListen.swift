// Where the optional metrics endpoint listens: a TCP address (meant for loopback) or a Unix
// socket path. Parsed from the `metrics.listen` setting.

#if canImport(Glibc)
import LLFreeServer
import Glibc
#endif

/// The metrics endpoint's address.
public enum MetricsListen: Sendable, Equatable, CustomStringConvertible {
    /// TCP on an IP address literal (IPv4, or IPv6 in brackets) and port.
    case tcp(host: String, port: Int)
    /// A Unix stream socket at a path.
    case unix(path: String)

    /// Parses `text`: "" or "off" is nil (no endpoint); "HOST:PORT" or "[V6]:PORT" with an IP
    /// literal (or localhost) is TCP; a path starting with "/" or "./" is a Unix socket.
    /// - Throws: a description of what is wrong with it.
    public static func parse(_ text: String) throws(MetricsListenError) -> MetricsListen? {
        let value = text.trimmingCharacters(in: " \t")
        if value.isEmpty || value == "off" { return nil }
        if value.hasPrefix("/") || value.hasPrefix("./") {
            guard value.utf8.count <= Limits.maxSocketPath else {
                throw MetricsListenError(text: text, reason: "a Unix socket path has at most \(Limits.maxSocketPath) bytes")
            }
            return .unix(path: value)
        }
        guard let colon = value.lastIndex(of: ":") else {
            throw MetricsListenError(text: text, reason: "neither HOST:PORT nor a path starting with / or ./")
        }
        var host = String(value[..<colon])
        let portText = value[value.index(after: colon)...]
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw MetricsListenError(text: text, reason: "the port '\(portText)' is not a number in 1...65535")
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" { host = "127.0.0.1" }
        var v4 = in_addr()
        var v6 = in6_addr()
        guard inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1 else {
            throw MetricsListenError(text: text, reason: "'\(host)' is not an IP address (names are not resolved; use 127.0.0.1 or [::1])")
        }
        return .tcp(host: host, port: port)
    }

    /// Whether it listens on a network socket other than loopback.
    public var isLoopback: Bool {
        switch self {
        case .unix: return true
        case .tcp(let host, _): return host.hasPrefix("127.") || host == "::1"
        }
    }

    /// The setting's text for this address.
    public var description: String {
        switch self {
        case .tcp(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): return path
        }
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let first = s.first, set.contains(first) { s = s.dropFirst() }
        while let last = s.last, set.contains(last) { s = s.dropLast() }
        return String(s)
    }
}

// Why a `metrics.listen` value was refused.

/// A `metrics.listen` value that is not an address the endpoint can listen on.
public struct MetricsListenError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The value given.
    public let text: String
    /// What is wrong with it.
    public let reason: String

    public var description: String { "'\(text)': \(reason)" }
}
