// What the daemon answers: one case per operation, plus errors.

/// A reply body, decoded and validated.
public enum Reply: Sendable, Equatable {
    case hello(PoolInfo)
    case get(GetResult)
    case put(PutResult)
    case isFree(Bool)
    case stats(PoolStats)
    case ping
    /// The request was refused as a whole; `op` is the request's op byte (or
    /// ``Wire/framingErrorOp`` when the request's header could not be read).
    case error(op: UInt8, ReplyError)

    /// The op byte of the request this answers.
    public var requestOp: UInt8 {
        switch self {
        case .hello: return Operation.hello.rawValue
        case .get: return Operation.get.rawValue
        case .put: return Operation.put.rawValue
        case .isFree: return Operation.isFree.rawValue
        case .stats: return Operation.stats.rawValue
        case .ping: return Operation.ping.rawValue
        case .error(let op, _): return op
        }
    }
}
