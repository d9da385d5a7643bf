// How llfreed's log lines look on stderr: with our own timestamps on a terminal or in a file,
// without them (and with a syslog priority prefix) when journald already stamps each line.

/// The shape of a log line.
public enum LogFormat: String, Sendable, CaseIterable, CustomStringConvertible {
    /// `journal` when stderr is connected to the journal (`JOURNAL_STREAM` names stderr's
    /// device and inode, as systemd sets it), `text` otherwise.
    case auto
    /// `2025-01-01T12:00:00.123Z info llfreed: message key=value`.
    case text
    /// `<6>message key=value`: no timestamp (journald adds its own), the priority as an sd-daemon
    /// prefix so journald files the line at the right level.
    case journal

    public var description: String { rawValue }

    /// `text` or `journal` for `auto`, by whether `journalStream` (the `JOURNAL_STREAM` value) names
    /// the device and inode of `standardError` (`device:inode` as `fstat` reports them).
    public func resolved(journalStream: String?, standardError: (device: UInt64, inode: UInt64)?) -> LogFormat {
        guard self == .auto else { return self }
        guard let journalStream, let standardError else { return .text }
        let parts = journalStream.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return .text }
        return device == standardError.device && inode == standardError.inode ? .journal : .text
    }
}
