// The owner table of a pool with owners (format versions 2 and 3): who may hold frames, durable in the pool like the lower
// level. One 256-byte entry per owner number; every change is a few stores to one entry, flushed,
// then one 8-byte store of its state word that commits it, flushed and fenced. So a crash leaves
// each entry either as it was or as it was meant to become, and recovery needs no log.
//
// Entry layout (docs/pool-format.md, "Owner table"), owner number = entry index + 1:
//
// | line | bytes | content |
// | --- | --- | --- |
// | 0 | 0...7 | state word: bits 0-7 state (0 free, 1 live), 8-15 kind (0 persistent, 1 ephemeral), 16-23 root slot in use (0 or 1), 24-31 name length (1...64) |
// | 0 | 8...15 | quota in frames (0: none) |
// | 0 | 16...23 | uid (bits 0-31) and gid (bits 32-63, 0xFFFFFFFF: none) that may act for it |
// | 0 | 24...31 | creation time, ns since the Unix epoch |
// | 1 | 64...127 | name, UTF-8, zero padded |
// | 2, 3 | 128...255 | root slots 0 and 1 (64 bytes each) |

import Atomics
import LLFree
import Synchronization

/// How long an owner's frames live.
public enum OwnerLifetime: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Its frames survive connection close, client crash, daemon crash and reboot.
    case persistent = 0
    /// Its frames are freed when its last connection closes, and when the daemon starts.
    case ephemeral = 1

    public var description: String { self == .persistent ? "persistent" : "ephemeral" }
}

/// One live owner as the table holds it.
public struct OwnerRecord: Sendable, Equatable, CustomStringConvertible {
    /// Owner number (1...``Owners/maxOwner``): what the frame tags hold.
    public var id: OwnerID
    public var name: String
    public var lifetime: OwnerLifetime
    /// Most frames it may hold; nil: no limit.
    public var quota: UInt64?
    /// The uid that may act for it.
    public var uid: UInt32
    /// A gid whose members may act for it; nil: none.
    public var gid: UInt32?
    /// Creation time, nanoseconds since the Unix epoch.
    public var created: UInt64

    public init(id: OwnerID, name: String, lifetime: OwnerLifetime, quota: UInt64?, uid: UInt32, gid: UInt32?, created: UInt64) {
        self.id = id
        self.name = name
        self.lifetime = lifetime
        self.quota = quota
        self.uid = uid
        self.gid = gid
        self.created = created
    }

    public var description: String {
        "owner \(id) \"\(name)\" (\(lifetime), quota \(quota.map(String.init) ?? "none"), uid \(uid)\(gid.map { ", gid \($0)" } ?? ""))"
    }
}

/// Why the owner table refused a change. Nothing was changed.
public enum OwnerTableError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The name is empty, longer than 64 bytes, or contains a NUL byte.
    case invalidName(String)
    /// An owner of that name exists already.
    case exists(String)
    /// Every entry is in use.
    case full(capacity: Int)
    /// No live owner has that number.
    case unknown(OwnerID)

    public var description: String {
        switch self {
        case .invalidName(let name): return "owner name \"\(name)\" is not 1...64 bytes of UTF-8 without NUL; nothing was changed"
        case .exists(let name): return "an owner named \"\(name)\" exists already; nothing was changed"
        case .full(let capacity): return "the owner table is full (\(capacity) owners, chosen at format); nothing was changed"
        case .unknown(let id): return "no owner has number \(id); nothing was changed"
        }
    }
}

/// The owner table of an open pool over its mapped entries, with a volatile index by name.
///
/// Thread-safe: changes are serialised by one lock (they are rare: attach of a new owner, quota,
/// root, removal); lookups by name take the same lock. The frame hot path never touches it.
public final class OwnerTable<P: Persistence>: @unchecked Sendable {
    /// Entries in the table.
    public let capacity: Int
    let base: UnsafeMutableRawPointer
    let p: P
    private let state: Mutex<[String: OwnerID]>
    /// Which owners keep their frames through settling.
    public let keeping: OwnerKeeping
    private var keeps: UnsafeMutablePointer<UnsafeAtomic<Bool>.Storage> { keeping.flags }
    typealias State = OwnerEntryState

    /// The table over `capacity` entries at `base`, read and checked.
    /// - Throws: ``PoolError/Reason/corrupt(_:)`` (naming `file`) for an entry no sequence of
    ///   crashes can leave: a bad state, kind, slot or name, or two live owners of one name.
    init(base: UnsafeMutableRawPointer, capacity: Int, persistence: P, file: String) throws(PoolError) {
        self.base = base
        self.capacity = capacity
        self.p = persistence
        keeping = OwnerKeeping()
        let keeps = keeping.flags
        var names: [String: OwnerID] = [:]
        for index in 0..<capacity {
            let id = OwnerID(index + 1)
            let word = Self.stateWord(base, id)
            guard word & 0xFF != State.free else { continue }
            do throws(EntryProblem) {
                let record = try Self.decode(base, id)
                if names[record.name] != nil { throw EntryProblem(text: "two live owners are named \"\(record.name)\"") }
                names[record.name] = id
                UnsafeAtomic<Bool>(at: keeps + Int(id)).store(record.lifetime == .persistent, ordering: .relaxed)
            } catch {
                throw PoolError(file: file, reason: .corrupt("owner table entry \(index): \(error.text)"))
            }
        }
        state = Mutex(names)
    }

    /// Formats `capacity` free entries at `base`: all zero, flushed (the caller fences).
    static func format(base: UnsafeMutableRawPointer, capacity: Int, persistence p: P) {
        var offset = 0
        while offset < capacity * OwnerTableLayout.entrySize {
            let line = (base + offset).bindMemory(to: UnsafeAtomic<UInt64>.Storage.self, capacity: 8)
            var changed = false
            for i in 0..<8 where UnsafeAtomic<UInt64>(at: line + i).load(ordering: .relaxed) != 0 {
                UnsafeAtomic<UInt64>(at: line + i).store(0, ordering: .relaxed)
                changed = true
            }
            if changed {
                p.stored(base + offset, truth: true)
                p.flush(base + offset)
            }
            offset += Geometry.lineSize
        }
    }

    // MARK: Reading

    /// Whether owner `id` keeps its frames through settling: live and persistent. Lock-free.
    public func keeps(_ id: OwnerID) -> Bool { keeping.keeps(id) }

    /// The live owner named `name`, if any.
    public func owner(named name: String) -> OwnerRecord? {
        state.withLock { names in names[name].flatMap { try? Self.decode(base, $0) } }
    }

    /// The live owner with number `id`, if any.
    public func owner(_ id: OwnerID) -> OwnerRecord? {
        guard id >= 1, Int(id) <= capacity else { return nil }
        return state.withLock { _ in
            Self.stateWord(base, id) & 0xFF == State.live ? try? Self.decode(base, id) : nil
        }
    }

    /// Every live owner, by number.
    public var owners: [OwnerRecord] {
        state.withLock { names in names.values.sorted().compactMap { try? Self.decode(base, $0) } }
    }

    /// Live owners.
    public var count: Int { state.withLock { $0.count } }

    /// Owner `id`'s root value (64 bytes).
    public func root(_ id: OwnerID) throws(OwnerTableError) -> [UInt8] {
        try state.withLock { _ throws(OwnerTableError) in
            guard id >= 1, Int(id) <= capacity, Self.stateWord(base, id) & 0xFF == State.live else { throw .unknown(id) }
            return readRoot(id)
        }
    }

    // MARK: Changes

    /// Creates a live owner in the lowest free entry.
    ///
    /// Store order: the entry's fields (quota, ids, time, name, both root slots zero) while its
    /// state is free, flushed and fenced; then the state word live, flushed and fenced. A crash
    /// before the second fence leaves the entry free (no frame can name it: no get of it ran).
    public func create(name: String, lifetime: OwnerLifetime, quota: UInt64?, uid: UInt32, gid: UInt32?) throws(OwnerTableError) -> OwnerRecord {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= OwnerTableLayout.maxName, !bytes.contains(0) else { throw .invalidName(name) }
        return try state.withLock { names throws(OwnerTableError) in
            if names[name] != nil { throw .exists(name) }
            guard let index = (0..<capacity).first(where: { Self.stateWord(base, OwnerID($0 + 1)) & 0xFF == State.free }) else {
                throw .full(capacity: capacity)
            }
            let id = OwnerID(index + 1)
            let entry = self.entry(id)
            let created = PoolHeader.now()
            // Line 0 but its state word; lines 1-3.
            store(entry, 1, quota ?? 0)
            store(entry, 2, UInt64(uid) | UInt64(gid ?? UInt32.max) << 32)
            store(entry, 3, created)
            for i in 4..<8 { store(entry, i, 0) }
            var name = [UInt64](repeating: 0, count: 8)
            for (i, byte) in bytes.enumerated() { name[i / 8] |= UInt64(byte) << UInt64(8 * (i % 8)) }
            for i in 0..<8 { store(entry, 8 + i, name[i]) }
            for i in 16..<32 { store(entry, i, 0) }
            for line in 0..<4 { p.flush(UnsafeMutableRawPointer(entry + line * 8)) }
            p.fence()
            // The commit point.
            let word = State.live | UInt64(lifetime.rawValue) << 8 | UInt64(bytes.count) << 24
            store(entry, 0, word)
            p.flush(UnsafeMutableRawPointer(entry))
            p.fence()
            names[String(decoding: bytes, as: UTF8.self)] = id
            UnsafeAtomic<Bool>(at: keeps + Int(id)).store(lifetime == .persistent, ordering: .relaxed)
            // As stored: a quota of 0 and a gid of 0xFFFFFFFF read back as none.
            return OwnerRecord(id: id, name: String(decoding: bytes, as: UTF8.self), lifetime: lifetime, quota: quota == 0 ? nil : quota,
                               uid: uid, gid: gid == UInt32.max ? nil : gid, created: created)
        }
    }

    /// Removes owner `id`: its state word free, flushed and fenced. The caller makes sure it holds
    /// no frame and no connection acts for it (a frame tagged with a free entry's number would be
    /// freed by the next settling, so even a mistake there leaks nothing).
    public func remove(_ id: OwnerID) throws(OwnerTableError) {
        try state.withLock { names throws(OwnerTableError) in
            guard id >= 1, Int(id) <= capacity, Self.stateWord(base, id) & 0xFF == State.live,
                  let record = try? Self.decode(base, id) else { throw .unknown(id) }
            UnsafeAtomic<Bool>(at: keeps + Int(id)).store(false, ordering: .relaxed)
            let entry = self.entry(id)
            store(entry, 0, State.free)
            p.flush(UnsafeMutableRawPointer(entry))
            p.fence()
            names[record.name] = nil
        }
    }

    /// Sets owner `id`'s quota (nil: none): one store, flushed and fenced.
    @discardableResult
    public func setQuota(_ id: OwnerID, _ quota: UInt64?) throws(OwnerTableError) -> OwnerRecord {
        try state.withLock { _ throws(OwnerTableError) in
            guard id >= 1, Int(id) <= capacity, Self.stateWord(base, id) & 0xFF == State.live else { throw .unknown(id) }
            let entry = self.entry(id)
            store(entry, 1, quota ?? 0)
            p.flush(UnsafeMutableRawPointer(entry))
            p.fence()
            guard let record = try? Self.decode(base, id) else { throw .unknown(id) }
            return record
        }
    }

    /// Compare-and-set of owner `id`'s root value: if it equals `expected`, it becomes `new`,
    /// durable before this returns. Returns whether it swapped and the value now.
    ///
    /// Store order: `new` into the slot not in use, flushed and fenced; then the state word with
    /// the other slot selected, flushed and fenced. A crash leaves either value, never a mix.
    public func compareAndSetRoot(_ id: OwnerID, expected: [UInt8], new: [UInt8]) throws(OwnerTableError) -> (swapped: Bool, current: [UInt8]) {
        precondition(expected.count == OwnerTableLayout.rootSize && new.count == OwnerTableLayout.rootSize)
        return try state.withLock { _ throws(OwnerTableError) in
            guard id >= 1, Int(id) <= capacity, Self.stateWord(base, id) & 0xFF == State.live else { throw .unknown(id) }
            let current = readRoot(id)
            guard current == expected else { return (false, current) }
            if new == current { return (true, current) }
            let entry = self.entry(id)
            let word = Self.stateWord(base, id)
            let slot = (word >> 16) & 0xFF
            let other = 1 - slot
            for i in 0..<8 {
                var value: UInt64 = 0
                for b in 0..<8 { value |= UInt64(new[i * 8 + b]) << UInt64(8 * b) }
                store(entry, 16 + Int(other) * 8 + i, value)
            }
            p.flush(UnsafeMutableRawPointer(entry + 16 + Int(other) * 8))
            p.fence()
            store(entry, 0, word & ~(0xFF << 16) | other << 16)
            p.flush(UnsafeMutableRawPointer(entry))
            p.fence()
            return (true, new)
        }
    }

    // MARK: Entries

    private func entry(_ id: OwnerID) -> UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage> {
        (base + (Int(id) - 1) * OwnerTableLayout.entrySize).bindMemory(to: UnsafeAtomic<UInt64>.Storage.self, capacity: 32)
    }

    /// One 8-byte store to word `i` of an entry, reported to the persistence (not flushed).
    private func store(_ entry: UnsafeMutablePointer<UnsafeAtomic<UInt64>.Storage>, _ i: Int, _ value: UInt64) {
        UnsafeAtomic<UInt64>(at: entry + i).store(value.littleEndian, ordering: .releasing)
        p.stored(UnsafeMutableRawPointer(entry + i), truth: true)
    }

    private func readRoot(_ id: OwnerID) -> [UInt8] {
        let entry = base + (Int(id) - 1) * OwnerTableLayout.entrySize
        let slot = Int((Self.stateWord(base, id) >> 16) & 1)
        let root = entry + 128 + slot * OwnerTableLayout.rootSize
        return (0..<OwnerTableLayout.rootSize).map { root.load(fromByteOffset: $0, as: UInt8.self) }
    }

    static func stateWord(_ base: UnsafeRawPointer, _ id: OwnerID) -> UInt64 {
        UInt64(littleEndian: UnsafeAtomic<UInt64>(at: UnsafeMutableRawPointer(mutating: base + (Int(id) - 1) * OwnerTableLayout.entrySize)
            .assumingMemoryBound(to: UnsafeAtomic<UInt64>.Storage.self)).load(ordering: .acquiring))
    }

    /// Reads and checks the live entry of owner `id`.
    static func decode(_ base: UnsafeRawPointer, _ id: OwnerID) throws(EntryProblem) -> OwnerRecord {
        let entry = base + (Int(id) - 1) * OwnerTableLayout.entrySize
        func word(_ i: Int) -> UInt64 { UInt64(littleEndian: entry.load(fromByteOffset: i * 8, as: UInt64.self)) }
        let state = word(0)
        guard state & 0xFF == State.live else { throw "state \(state & 0xFF) is neither free (0) nor live (1)" }
        guard let lifetime = OwnerLifetime(rawValue: UInt8((state >> 8) & 0xFF)) else { throw "kind \((state >> 8) & 0xFF) is neither persistent (0) nor ephemeral (1)" }
        guard (state >> 16) & 0xFF <= 1 else { throw "root slot \((state >> 16) & 0xFF) is neither 0 nor 1" }
        let length = Int((state >> 24) & 0xFF)
        guard length >= 1, length <= OwnerTableLayout.maxName, state >> 32 == 0 else { throw "state word 0x\(String(state, radix: 16)) has a bad name length or reserved bits" }
        let bytes = (0..<length).map { entry.load(fromByteOffset: 64 + $0, as: UInt8.self) }
        guard !bytes.contains(0), let name = String(validating: bytes, as: UTF8.self) else { throw "the name is not UTF-8 without NUL" }
        let ids = word(2)
        let gid = UInt32(truncatingIfNeeded: ids >> 32)
        return OwnerRecord(id: id, name: name, lifetime: lifetime, quota: word(1) == 0 ? nil : word(1),
                           uid: UInt32(truncatingIfNeeded: ids), gid: gid == UInt32.max ? nil : gid, created: word(3))
    }
}

/// Values of an entry's state byte.
enum OwnerEntryState {
    static let free: UInt64 = 0
    static let live: UInt64 = 1
}

/// Per owner number, whether its frames survive settling (live and persistent): what settling
/// asks from any thread, without the table's lock.
public final class OwnerKeeping: @unchecked Sendable {
    let flags: UnsafeMutablePointer<UnsafeAtomic<Bool>.Storage>

    init() {
        flags = .allocate(capacity: Int(Owners.maxOwner) + 1)
        flags.initialize(repeating: .init(false), count: Int(Owners.maxOwner) + 1)
    }

    deinit { flags.deallocate() }

    /// Whether owner `id`'s frames are kept.
    public func keeps(_ id: OwnerID) -> Bool {
        id != 0 && id <= Owners.maxOwner && UnsafeAtomic<Bool>(at: flags + Int(id)).load(ordering: .relaxed)
    }
}

/// What is wrong with one entry of an owner table.
struct EntryProblem: Error, ExpressibleByStringLiteral, ExpressibleByStringInterpolation {
    var text: String
    init(text: String) { self.text = text }
    init(stringLiteral value: String) { text = value }
    init(stringInterpolation: DefaultStringInterpolation) { text = String(stringInterpolation: stringInterpolation) }
}

extension OwnerTable {
    /// A new, empty table of `capacity` entries (1...``Owners/maxTableOwners``) formatted at `base`,
    /// outside any pool: for an allocator with owner tags over a volatile region (in-process
    /// tests of the server). `base` must hold `capacity` × ``OwnerTableLayout/entrySize`` bytes,
    /// aligned to a cache line, and outlive the table.
    public static func formatted(in base: UnsafeMutableRawPointer, capacity: Int, persistence: P) -> OwnerTable<P> {
        precondition(capacity >= 1 && capacity <= Owners.maxTableOwners, "owner table capacity \(capacity) is outside 1...\(Owners.maxTableOwners)")
        format(base: base, capacity: capacity, persistence: persistence)
        persistence.fence()
        do {
            return try OwnerTable(base: base, capacity: capacity, persistence: persistence, file: "(memory)")
        } catch {
            preconditionFailure("a freshly formatted owner table was refused: \(error)")
        }
    }
}
