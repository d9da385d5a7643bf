// What the daemon answers: a reply body (one case per operation, plus errors), the reply with
// its id, and the bodies of get and put replies.

// What the daemon answers: one case per operation, plus errors.

/// A reply body, decoded and validated.
public enum Reply: Sendable, Equatable {
    case hello(PoolInfo)
    case get(GetResult)
    case put(PutResult)
    case isFree(Bool)
    case stats(PoolStats)
    case ping
    case attach(OwnerInfo)
    case list(ListResult)
    case release(ReleaseResult)
    case rootGet(RootValue)
    case rootSet(RootSwap)
    case ownerInfo(OwnerInfo)
    case owners(OwnerList)
    case removeOwner
    case setQuota(OwnerInfo)
    /// The frames descriptor's description; the descriptor itself travels beside the reply's
    /// bytes (SCM_RIGHTS), not in them.
    case frames(FramesGrant)
    /// The ring's description; its memory object's descriptor travels beside the reply.
    case ring(RingGrant)
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
        case .attach: return Operation.attach.rawValue
        case .list: return Operation.list.rawValue
        case .release: return Operation.release.rawValue
        case .rootGet: return Operation.rootGet.rawValue
        case .rootSet: return Operation.rootSet.rawValue
        case .ownerInfo: return Operation.ownerInfo.rawValue
        case .owners: return Operation.owners.rawValue
        case .removeOwner: return Operation.removeOwner.rawValue
        case .setQuota: return Operation.setQuota.rawValue
        case .frames: return Operation.frames.rawValue
        case .ring: return Operation.ring.rawValue
        case .error(let op, _): return op
        }
    }
}

// A reply together with the id of the request it answers.

/// A reply and the id of its request.
public struct ReplyMessage: Sendable, Equatable {
    public var id: UInt64
    public var reply: Reply

    public init(id: UInt64, _ reply: Reply) {
        self.id = id
        self.reply = reply
    }
}

// The body of a get reply: the frames served, and why not all of them if the batch was short.

/// The frames a get obtained. A batch that could only be partly served returns what it got
/// (those frames are allocated and belong to the client) and `shortfall` says why it stopped.
public struct GetResult: Sendable, Equatable {
    /// First frame of each run obtained, at most the count asked.
    public var frames: [UInt64]
    /// Why fewer frames than asked were served; nil when the whole batch was served.
    public var shortfall: ErrorCode?

    public init(frames: [UInt64], shortfall: ErrorCode? = nil) {
        self.frames = frames
        self.shortfall = shortfall
    }
}

// The body of a put reply: one result per frame named in the request.

/// What happened to each run a put named, in request order.
public struct PutResult: Sendable, Equatable {
    /// nil for a run that was freed; otherwise why it was not (and it was left as it was).
    public var results: [ErrorCode?]

    public init(results: [ErrorCode?]) {
        self.results = results
    }

    /// Runs freed.
    public var freed: Int { results.reduce(0) { $0 + ($1 == nil ? 1 : 0) } }

    /// Indices (into the request's frames) of runs that were not freed, with the reason.
    public var failures: [(index: Int, code: ErrorCode)] {
        results.enumerated().compactMap { i, r in r.map { (i, $0) } }
    }
}
