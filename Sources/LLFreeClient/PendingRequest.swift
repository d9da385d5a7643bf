// A request on its way to the daemon together with the promise its reply will fulfil.

import LLFreeProtocol
import NIOCore

/// What the client writes into its channel.
struct PendingRequest: Sendable {
    var message: RequestMessage
    var promise: EventLoopPromise<Reply>
}
