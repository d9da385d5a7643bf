// Why a notification could not be sent to systemd.

/// A failed sd_notify. The daemon's state is unaffected; only systemd was not told.
public struct SystemdNotifyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The NOTIFY_SOCKET value.
    public let socket: String
    /// What failed.
    public let reason: String

    public var description: String { "cannot notify systemd at NOTIFY_SOCKET=\(socket): \(reason)" }
}
