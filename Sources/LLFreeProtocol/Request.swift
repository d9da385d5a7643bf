// What a client sends: a request body, and the request with its id.

// What a client asks the daemon for: one case per operation, with the fields its body carries.

/// A request body, decoded and validated against the wire limits (not against a pool's
/// geometry: whether an order or frame fits the pool is the server's check).
public enum Request: Sendable, Equatable {
    /// Version negotiation: the client speaks versions `minVersion...maxVersion`.
    case hello(minVersion: UInt16, maxVersion: UInt16)
    /// Allocate `count` (1...``Wire/maxBatch``) runs of 2^`order` frames of `kind`.
    case get(order: UInt8, count: UInt32, kind: WireKind)
    /// Free each run of 2^`order` frames starting at each of `frames` (1...``Wire/maxBatch``).
    case put(order: UInt8, frames: [UInt64])
    /// Whether the run of 2^`order` frames at `frame` is entirely free.
    case isFree(order: UInt8, frame: UInt64)
    /// Free frames per order, trees, clients and operations served.
    case stats
    /// An empty round trip.
    case ping
    /// Version 2: act for the owner `name` from now on, creating it (of `kind`, with `quota`
    /// frames at most, 0: no limit) if it does not exist and `create` is set.
    case attach(name: String, kind: WireOwnerKind, create: Bool, quota: UInt64)
    /// Version 2: up to `limit` runs `owner` holds (empty: the attached owner) from frame `from`.
    case list(owner: String, from: UInt64, limit: UInt32)
    /// Version 2: free everything `owner` (empty: the attached owner) holds.
    case release(owner: String)
    /// Version 2: the attached owner's root value.
    case rootGet
    /// Version 2: compare-and-set of the attached owner's root value.
    case rootSet(expected: RootValue, new: RootValue)
    /// Version 2: what the daemon knows of `owner` (empty: the attached owner).
    case ownerInfo(owner: String)
    /// Version 2: up to `limit` owners from owner number `from` on.
    case owners(from: UInt16, limit: UInt16)
    /// Version 2: remove `owner`, which must hold nothing and have no connection.
    case removeOwner(owner: String)
    /// Version 2: set `owner`'s quota (0: none; empty name: the attached owner).
    case setQuota(owner: String, quota: UInt64)
    /// Version 3: a descriptor of the object holding the frames, passed with the reply.
    case frames
    /// Version 3: a shared-memory ring pair for this connection's gets, puts and pings, passed
    /// as a descriptor with the reply (docs/protocol.md, "ring (0x11)").
    case ring

    /// The operation code of this request.
    public var operation: Operation {
        switch self {
        case .hello: return .hello
        case .get: return .get
        case .put: return .put
        case .isFree: return .isFree
        case .stats: return .stats
        case .ping: return .ping
        case .attach: return .attach
        case .list: return .list
        case .release: return .release
        case .rootGet: return .rootGet
        case .rootSet: return .rootSet
        case .ownerInfo: return .ownerInfo
        case .owners: return .owners
        case .removeOwner: return .removeOwner
        case .setQuota: return .setQuota
        case .frames: return .frames
        case .ring: return .ring
        }
    }
}

// A request together with the id its reply will carry back.

/// A request and its id. Ids are chosen by the client; replies echo them so a client may have
/// many requests in flight on one connection (replies come back in request order).
public struct RequestMessage: Sendable, Equatable {
    public var id: UInt64
    public var request: Request

    public init(id: UInt64, _ request: Request) {
        self.id = id
        self.request = request
    }
}
