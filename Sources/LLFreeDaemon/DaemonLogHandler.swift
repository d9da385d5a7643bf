// llfreed's swift-log handler: one line per message on stderr, either with our own timestamp
// (text) or, under systemd, without it and with an sd-daemon priority prefix (journal), so that
// journald's own timestamp is the only one and `journalctl -p warning` filters correctly.

import LLFreeServer
import Logging
import NIOConcurrencyHelpers
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Writes log lines to stderr in a ``LogFormat``.
public struct DaemonLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public let label: String
    public let format: LogFormat
    private let write: @Sendable (String) -> Void

    /// A handler writing to stderr. `format` must be resolved (`text` or `journal`).
    public init(label: String, level: Logger.Level, format: LogFormat) {
        self.init(label: label, level: level, format: format, write: DaemonLogHandler.standardError)
    }

    /// A handler handing each finished line (newline included) to `write`.
    public init(label: String, level: Logger.Level, format: LogFormat, write: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.logLevel = level
        self.format = format == .auto ? .text : format
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        write(line(level: event.level, message: "\(event.message)", metadata: all, date: LogTimestamp.now))
    }

    /// The line for one message (with its newline).
    func line(level: Logger.Level, message: String, metadata: Logger.Metadata, date: LogTimestamp) -> String {
        var fields = ""
        for key in metadata.keys.sorted() {
            fields += " \(key)=\(metadata[key]!)"
        }
        // key=value as swift-log's stream handler writes them (what tools and tests grep for).
        // One physical line per message: a newline inside would split it into two journal entries.
        let text = (message + fields).split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\\n")
        switch format {
        case .journal:
            return "<\(Self.priority(level))>\(text)\n"
        case .text, .auto:
            return "\(date.iso8601) \(level) \(label): \(text)\n"
        }
    }

    /// The syslog priority of a level (sd-daemon.h SD_DEBUG ... SD_CRIT).
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    private static let lock = NIOLock()

    private static func standardError(_ line: String) {
        // One write(2) per line under a lock, so lines from several threads never interleave. A
        // line that cannot be written is dropped: there is nowhere else to report it.
        lock.withLock {
            _ = try? FileDescriptor.standardError.writeAll(line.utf8)
        }
    }
}
