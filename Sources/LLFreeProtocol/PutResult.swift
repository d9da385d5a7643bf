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
