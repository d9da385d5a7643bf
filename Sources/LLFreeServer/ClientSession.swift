// What the server knows about one connection beyond its bytes: who the peer is, which protocol
// version it negotiated, and which owner it acts for.

import LLFree
import LLFreePool

/// The per-connection state the request processor reads and changes.
public struct ClientSession: Sendable {
    /// The peer's credentials (SO_PEERCRED), as it connected.
    public var peer: PeerCredentials
    /// The protocol version negotiated by hello; nil before any hello (then every operation is
    /// accepted: a version-1 client never sends a version-2 one).
    public var version: UInt16? = nil
    /// The owner this connection acts for: set by attach, or by the first operation that needs
    /// one (the owner named after the peer's uid).
    public var owner: OwnerRecord?

    public init(peer: PeerCredentials) {
        self.peer = peer
    }

    /// The name of the owner a connection acts for until it attaches: "uid-" and the peer's uid.
    public static func implicitOwnerName(uid: UInt32) -> String { implicitOwnerPrefix + "\(uid)" }

    /// The prefix of implicit owners' names; other peers may not create names with it.
    public static let implicitOwnerPrefix = "uid-"
}
