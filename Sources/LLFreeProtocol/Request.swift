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

    /// The operation code of this request.
    public var operation: Operation {
        switch self {
        case .hello: return .hello
        case .get: return .get
        case .put: return .put
        case .isFree: return .isFree
        case .stats: return .stats
        case .ping: return .ping
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
