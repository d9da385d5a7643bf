// What is known of one run of a put that was split into several requests when some of them
// failed: the caller must learn which runs are gone, which it still holds and which it cannot
// tell, or it would free again (or leak) frames of the requests that did succeed.

import LLFreeProtocol

/// The fate of one run of a partly failed put (see ``ClientError/partialPut(runs:reason:)``).
public enum PutRunOutcome: Sendable, Equatable {
    /// The daemon freed it.
    case freed
    /// The daemon did not free it (it was left as it was): the per-run result, or the error of
    /// its request when the request was refused as a whole.
    case notFreed(ErrorCode)
    /// Its request's reply was lost with the connection: it may or may not have been freed.
    case unknown
}
