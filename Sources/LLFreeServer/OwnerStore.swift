// The seam between the server and the pool's owner table: the server names owners, creates and
// removes them, and keeps their quota and root value through this protocol, never through the
// pool's layout. The pool's OwnerTable conforms, whatever its persistence.

import LLFree
import LLFreePool

/// A durable table of owners. Every change is durable when it returns.
public protocol OwnerStore: AnyObject, Sendable {
    /// Most owners the table holds (chosen at format).
    var capacity: Int { get }
    /// The live owner named `name`.
    func owner(named name: String) -> OwnerRecord?
    /// The live owner numbered `id`.
    func owner(_ id: OwnerID) -> OwnerRecord?
    /// Every live owner, by number.
    var owners: [OwnerRecord] { get }
    /// Creates an owner.
    func create(name: String, lifetime: OwnerLifetime, quota: UInt64?, uid: UInt32, gid: UInt32?) throws(OwnerTableError) -> OwnerRecord
    /// Removes an owner that holds nothing.
    func remove(_ id: OwnerID) throws(OwnerTableError)
    /// Sets an owner's quota.
    @discardableResult
    func setQuota(_ id: OwnerID, _ quota: UInt64?) throws(OwnerTableError) -> OwnerRecord
    /// An owner's 64-byte root value.
    func root(_ id: OwnerID) throws(OwnerTableError) -> [UInt8]
    /// Compare-and-set of an owner's root value.
    func compareAndSetRoot(_ id: OwnerID, expected: [UInt8], new: [UInt8]) throws(OwnerTableError) -> (swapped: Bool, current: [UInt8])
}

extension OwnerTable: OwnerStore {}
