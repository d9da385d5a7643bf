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
