// What a client says about the owner it acts for, and what reconciling its own record of runs
// with the daemon's list finds. Shared by the async and the blocking client.

import LLFreeProtocol

/// The owner a client attaches to on every connection it makes (protocol version 2).
public struct OwnerAttachment: Sendable, Equatable {
    /// 1...64 bytes of UTF-8.
    public var name: String
    public var kind: WireOwnerKind
    /// Create the owner if it does not exist.
    public var create: Bool
    /// Quota in frames if the attach creates the owner; nil: none.
    public var quota: UInt64?

    public init(name: String, kind: WireOwnerKind = .persistent, create: Bool = true, quota: UInt64? = nil) {
        self.name = name
        self.kind = kind
        self.create = create
        self.quota = quota
    }

    var request: Request { .attach(name: name, kind: kind, create: create, quota: quota ?? 0) }

    /// Checks the name before anything is sent.
    func validate() throws(ClientError) {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= Wire.maxOwnerName, !bytes.contains(0) else {
            throw .invalidArgument("owner name \"\(name)\" is not 1...\(Wire.maxOwnerName) bytes of UTF-8 without NUL")
        }
    }
}

/// What the daemon's list of an owner's runs says about the runs a client believes it holds
/// (after a lost connection, say: a get in flight may or may not have been served).
public struct Reconciliation: Sendable, Equatable {
    /// Runs the client knew of that the owner still holds.
    public var confirmed: [WireRun]
    /// Runs the owner holds that the client did not know of: served by a get whose reply was
    /// lost. They are the client's; use them or put them back.
    public var adopted: [WireRun]
    /// Runs the client knew of that the owner does not hold (a put whose reply was lost was
    /// served, or someone released them).
    public var missing: [WireRun]

    /// Compares `known` with `listed`, the owner's runs.
    public init(known: [WireRun], listed: [WireRun]) {
        let listedSet = Set(listed.map(Key.init))
        let knownSet = Set(known.map(Key.init))
        confirmed = known.filter { listedSet.contains(Key($0)) }
        missing = known.filter { !listedSet.contains(Key($0)) }
        adopted = listed.filter { !knownSet.contains(Key($0)) }
    }

    private struct Key: Hashable {
        let frame: UInt64, order: UInt8
        init(_ run: WireRun) { frame = run.frame; order = run.order }
    }
}

extension LLFreeClient {
    static func ownerInfo(_ reply: Reply, _ what: String) throws(ClientError) -> OwnerInfo {
        switch reply {
        case .attach(let info), .ownerInfo(let info), .setQuota(let info): return info
        case .error(_, let error): throw .refused(error)
        default: throw .protocolViolation("\(what) was answered with \(reply)")
        }
    }

    static func list(_ reply: Reply) throws(ClientError) -> ListResult {
        switch reply {
        case .list(let result): return result
        case .error(_, let error): throw .refused(error)
        default: throw .protocolViolation("a list was answered with \(reply)")
        }
    }

    static func release(_ reply: Reply) throws(ClientError) -> ReleaseResult {
        switch reply {
        case .release(let result): return result
        case .error(_, let error): throw .refused(error)
        default: throw .protocolViolation("a release was answered with \(reply)")
        }
    }

    static func root(_ reply: Reply) throws(ClientError) -> RootValue {
        switch reply {
        case .rootGet(let root): return root
        case .error(_, let error): throw .refused(error)
        default: throw .protocolViolation("a root-get was answered with \(reply)")
        }
    }

    static func rootSwap(_ reply: Reply) throws(ClientError) -> RootSwap {
        switch reply {
        case .rootSet(let swap): return swap
        case .error(_, let error): throw .refused(error)
        default: throw .protocolViolation("a root-set was answered with \(reply)")
        }
    }

    static func owners(_ reply: Reply) throws(ClientError) -> OwnerList {
        switch reply {
        case .owners(let list): return list
        case .error(_, let error): throw .refused(error)
        default: throw .protocolViolation("an owners request was answered with \(reply)")
        }
    }

    static func removed(_ reply: Reply) throws(ClientError) {
        switch reply {
        case .removeOwner: return
        case .error(_, let error): throw .refused(error)
        default: throw .protocolViolation("a remove-owner was answered with \(reply)")
        }
    }

    static func checkName(_ name: String, allowEmpty: Bool = true) throws(ClientError) {
        let bytes = Array(name.utf8)
        guard (allowEmpty || !bytes.isEmpty), bytes.count <= Wire.maxOwnerName, !bytes.contains(0) else {
            throw .invalidArgument("owner name \"\(name)\" is not \(allowEmpty ? 0 : 1)...\(Wire.maxOwnerName) bytes of UTF-8 without NUL")
        }
    }

    static func checkLimit(_ limit: Int) throws(ClientError) {
        guard limit >= 1, limit <= Wire.maxBatch else { throw .invalidArgument("limit \(limit) is outside 1...\(Wire.maxBatch)") }
    }
}
