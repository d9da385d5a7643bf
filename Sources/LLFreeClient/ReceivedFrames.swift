// The frames descriptor llfreed passes in answer to a frames request (protocol version 3),
// with the reply that describes it. It is this process's own descriptor: closed when released,
// unless a FrameMapper took it over.

import LLFreeProtocol
import NIOConcurrencyHelpers
import SystemPackage

/// A descriptor of the object holding the pool's frames, received over the socket.
public final class ReceivedFrames: @unchecked Sendable {
    /// What the daemon said about it: access, layout, offsets, the pool's UUID.
    public let grant: FramesGrant
    private let descriptor: NIOLockedValueBox<FileDescriptor?>

    init(grant: FramesGrant, descriptor: FileDescriptor) {
        self.grant = grant
        self.descriptor = NIOLockedValueBox(descriptor)
    }

    /// The descriptor's number while this owns it (nil once taken).
    public var rawValue: Int32? { descriptor.withLockedValue { $0?.rawValue } }

    /// Hands the descriptor over: the caller closes it from now on.
    /// - Precondition: not taken before.
    public func take() -> FileDescriptor {
        descriptor.withLockedValue { d in
            guard let taken = d else { preconditionFailure("the frames descriptor was taken already") }
            d = nil
            return taken
        }
    }

    deinit { try? descriptor.withLockedValue { $0 }?.close() }
}
