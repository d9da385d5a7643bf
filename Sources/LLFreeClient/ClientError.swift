// Typed errors of the client library: each says what was wrong and what is known of the
// request's effect on the pool.

import LLFreeProtocol

/// Why a client call failed.
public enum ClientError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No daemon could be reached on the socket; no request was sent.
    case connect(path: String, reason: String)
    /// The connection broke while the request was in flight: it may or may not have been served
    /// (a get may have allocated frames that are now held by no one).
    case connectionLost(String)
    /// The daemon refused the request; nothing was changed by it.
    case refused(ReplyError)
    /// The daemon's reply did not follow the protocol.
    case protocolViolation(String)
    /// The arguments were refused before anything was sent.
    case invalidArgument(String)
    /// The client was closed.
    case closed
    /// The file given to ``FrameMapper`` is not the pool the daemon serves (another pool, or
    /// not a pool); nothing was mapped.
    case notThePool(path: String, reason: String)
    /// A put split into several requests (more runs than ``Wire/maxBatch``) was answered for
    /// some requests and failed for others: what happened to each run, in the order given
    /// (runs already freed are no longer the caller's), and why the failing requests failed.
    case partialPut(runs: [PutRunOutcome], reason: String)

    public var description: String {
        switch self {
        case .connect(let path, let reason): return "cannot connect to llfreed at \(path): \(reason); nothing was sent"
        case .connectionLost(let why): return "connection to llfreed lost with the request in flight (it may have been served): \(why)"
        case .refused(let error): return "llfreed refused the request (nothing was changed): \(error)"
        case .protocolViolation(let why): return "llfreed's reply violates the protocol: \(why)"
        case .invalidArgument(let why): return "invalid argument: \(why); nothing was sent"
        case .closed: return "the client is closed; nothing was sent"
        case .notThePool(let path, let reason): return "\(path) is not the pool llfreed serves: \(reason); nothing was mapped"
        case .partialPut(let runs, let reason):
            let freed = runs.filter { $0 == .freed }.count, unknown = runs.filter { $0 == .unknown }.count
            return "a put split into several requests failed part way (\(reason)): \(freed) of \(runs.count) runs were freed, "
                + "\(runs.count - freed - unknown) were left as they were, \(unknown) may or may not have been freed"
        }
    }
}
