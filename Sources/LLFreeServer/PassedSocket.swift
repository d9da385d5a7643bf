// A listening socket the service manager passed to llfreed (socket activation).

/// A listening Unix stream socket received through LISTEN_FDS.
public struct PassedSocket: Sendable, Equatable {
    /// The descriptor (3 under systemd). The server takes it over and closes it at shutdown.
    public let descriptor: Int32
    /// The path it is bound to, if it has one (for logs; the socket file is systemd's to remove).
    public let path: String?
    /// Its name from LISTEN_FDNAMES (FileDescriptorName=), if given.
    public let name: String?

    public init(descriptor: Int32, path: String?, name: String?) {
        self.descriptor = descriptor
        self.path = path
        self.name = name
    }
}
