// The pool header: its fields, their encoding as little-endian 64-bit words, the checksum over
// the immutable ones, and the validation every open and inspection runs before anything else.
// docs/pool-format.md describes the same bytes for humans.

import LLFree
#if canImport(Glibc)
import Glibc
#endif

/// The decoded header block of a pool (see `docs/pool-format.md`).
public struct PoolHeader: Equatable, Sendable, CustomStringConvertible {
    /// "LLFREEPL" read as a little-endian UInt64.
    public static let magic: UInt64 = 0x4C50_4545_5246_4C4C
    /// The format version this build writes for a single-file pool: 2, with owner tags and an
    /// owner table (a split pool is version 3, ``PoolLayout/version``).
    public static let version: UInt64 = 2
    /// Versions this build reads: 1 (no owners: opened in legacy mode), 2, and 3 (version 2 with
    /// its frames in a frames object of their own).
    public static let readableVersions: ClosedRange<UInt64> = 1...3

    /// Word indices (offset = 8 * index) of the fields.
    enum Word {
        static let magic = 0
        static let version = 1
        static let uuid = 2          // and 3
        static let frameSize = 4
        static let frames = 5
        static let treeChildren = 6
        static let headerLength = 7
        static let bitfieldsOffset = 8
        static let bitfieldsLength = 9
        static let childrenOffset = 10
        static let childrenLength = 11
        static let framesOffset = 12
        static let framesLength = 13
        static let fileSize = 14
        static let creationTime = 15
        static let checksum = 16
        /// Words 0..<16 are covered by the checksum; in version 2 also words 17..<20.
        static let checksummed = 16
        /// Version 2: the owner table's offset and capacity, and the frame tags' offset.
        static let ownerTableOffset = 17
        static let ownerCapacity = 18
        static let tagsOffset = 19
        static let checksummedV2 = 20
        /// Version 3: the size of the frames object.
        static let framesObjectSize = 20
        static let checksummedV3 = 21
        /// On its own 64-byte line (bytes 192...199).
        static let state = 24
    }

    /// Random identity of the pool, fixed at format.
    public let uuid: [UInt8]
    /// Frames managed.
    public let frames: UInt64
    /// Children per tree.
    public let treeChildren: Int
    /// Format time, nanoseconds since the Unix epoch.
    public let creationTime: UInt64
    /// The state word when the header was read.
    public let state: PoolState
    /// Areas, recomputed from `frames` and `treeChildren` and checked against the stored offsets.
    public let layout: PoolLayout

    /// The geometry of the allocator.
    public var geometry: Geometry { layout.geometry }

    /// The UUID in its usual 8-4-4-4-12 hex form.
    public var uuidString: String { Self.uuidString(uuid) }

    /// `uuid` (16 bytes) in the usual 8-4-4-4-12 hex form.
    static func uuidString(_ uuid: [UInt8]) -> String {
        let hex = uuid.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }
        return [0..<4, 4..<6, 6..<8, 8..<10, 10..<16].map { hex[$0].joined() }.joined(separator: "-")
    }

    init(uuid: [UInt8], layout: PoolLayout, creationTime: UInt64, state: PoolState) {
        self.uuid = uuid
        self.frames = layout.geometry.frames
        self.treeChildren = layout.geometry.treeChildren
        self.creationTime = creationTime
        self.state = state
        self.layout = layout
    }

    /// The format version (1: no owners).
    public var version: UInt64 { layout.version }

    /// The immutable words with their checksum, magic included: 0...16 in version 1, 0...19 in
    /// version 2.
    func immutableWords() -> [UInt64] {
        var w = [UInt64](repeating: 0, count: layout.split ? Word.checksummedV3 : layout.ownerCapacity == nil ? Word.checksum + 1 : Word.checksummedV2)
        w[Word.magic] = PoolHeader.magic
        w[Word.version] = layout.version
        w[Word.uuid] = uuid[0..<8].reversed().reduce(0) { $0 << 8 | UInt64($1) }
        w[Word.uuid + 1] = uuid[8..<16].reversed().reduce(0) { $0 << 8 | UInt64($1) }
        w[Word.frameSize] = UInt64(Geometry.frameSize)
        w[Word.frames] = frames
        w[Word.treeChildren] = UInt64(treeChildren)
        w[Word.headerLength] = UInt64(PoolLayout.headerLength)
        w[Word.bitfieldsOffset] = UInt64(layout.bitfieldsOffset)
        w[Word.bitfieldsLength] = UInt64(layout.bitfieldsLength)
        w[Word.childrenOffset] = UInt64(layout.childrenOffset)
        w[Word.childrenLength] = UInt64(layout.childrenLength)
        w[Word.framesOffset] = layout.framesOffset
        w[Word.framesLength] = layout.framesLength
        w[Word.fileSize] = layout.fileSize
        w[Word.creationTime] = creationTime
        if let capacity = layout.ownerCapacity {
            w[Word.ownerTableOffset] = UInt64(layout.ownerTableOffset)
            w[Word.ownerCapacity] = UInt64(capacity)
            w[Word.tagsOffset] = UInt64(layout.tagsOffset)
        }
        if layout.split { w[Word.framesObjectSize] = layout.framesObjectSize }
        w[Word.checksum] = PoolHeader.checksum(Self.checksummed(w, version: layout.version))
        return w
    }

    /// The words the checksum covers, in order.
    static func checksummed(_ words: [UInt64], version: UInt64) -> [UInt64] {
        Array(words[0..<Word.checksummed]) + (version >= 2 ? Array(words[(Word.checksum + 1)..<(version >= 3 ? Word.checksummedV3 : Word.checksummedV2)]) : [])
    }

    /// FNV-1a (64 bit) over the little-endian bytes of `words`.
    static func checksum<C: Collection<UInt64>>(_ words: C) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for word in words {
            var w = word
            for _ in 0..<8 {
                hash ^= w & 0xFF
                hash = hash &* 0x0000_0100_0000_01B3
                w >>= 8
            }
        }
        return hash
    }

    /// Reads and validates the header at `base`, of which `length` bytes are readable. Reads only.
    ///
    /// Checks, in this order: magic, version, checksum, frame size, that the frame count and
    /// tree size make a supported geometry, that every stored offset and length is the one that
    /// geometry gives, and the state word. Sizes of the file or image are the caller's to check
    /// against ``PoolLayout/fileSize`` or ``PoolLayout/imageLength``.
    /// - Throws: a ``PoolError`` naming `file` and what was wrong.
    public static func read(from base: UnsafeRawPointer, length: Int, file: String) throws(PoolError) -> PoolHeader {
        func word(_ i: Int) -> UInt64 { UInt64(littleEndian: base.load(fromByteOffset: i * 8, as: UInt64.self)) }
        let magic = length >= 8 ? word(Word.magic) : 0
        guard magic == PoolHeader.magic else { throw PoolError(file: file, reason: .notAPool(magic: magic)) }
        guard length >= PoolLayout.headerLength else {
            throw PoolError(file: file, reason: .truncated(size: UInt64(length), needed: UInt64(PoolLayout.headerLength)))
        }
        let version = word(Word.version)
        guard readableVersions.contains(version) else {
            throw PoolError(file: file, reason: .wrongVersion(found: version, supported: PoolHeader.version))
        }
        let stored = word(Word.checksum)
        let computed = checksum(checksummed((0..<Word.checksummedV3).map(word), version: version))
        guard stored == computed else { throw PoolError(file: file, reason: .badChecksum(stored: stored, computed: computed)) }
        guard word(Word.frameSize) == UInt64(Geometry.frameSize) else {
            throw PoolError(file: file, reason: .corrupt("frame size \(word(Word.frameSize)), this build supports \(Geometry.frameSize)"))
        }
        let treeChildren = word(Word.treeChildren)
        guard treeChildren <= UInt64(Geometry.maxTreeChildren) else {
            throw PoolError(file: file, reason: .corrupt("tree size \(treeChildren) children is above \(Geometry.maxTreeChildren)"))
        }
        let capacity = version >= 2 ? word(Word.ownerCapacity) : nil
        if let capacity, capacity < 1 || capacity > UInt64(PoolLayout.maxOwnerCapacity) {
            throw PoolError(file: file, reason: .corrupt("owner capacity \(capacity) is outside 1...\(PoolLayout.maxOwnerCapacity)"))
        }
        let layout: PoolLayout
        do {
            layout = try PoolLayout(frames: word(Word.frames), treeChildren: Int(treeChildren), ownerCapacity: capacity.map { Int($0) },
                                    split: version >= 3, file: file)
        } catch {
            throw PoolError(file: file, reason: .corrupt("frame count \(word(Word.frames)) and tree size \(treeChildren) are not a supported geometry"))
        }
        var expected: [(String, Int, UInt64)] = [
            ("header length", Word.headerLength, UInt64(PoolLayout.headerLength)),
            ("bitfields offset", Word.bitfieldsOffset, UInt64(layout.bitfieldsOffset)),
            ("bitfields length", Word.bitfieldsLength, UInt64(layout.bitfieldsLength)),
            ("child entries offset", Word.childrenOffset, UInt64(layout.childrenOffset)),
            ("child entries length", Word.childrenLength, UInt64(layout.childrenLength)),
            ("frames offset", Word.framesOffset, layout.framesOffset),
            ("frames length", Word.framesLength, layout.framesLength),
            ("file size", Word.fileSize, layout.fileSize),
        ]
        if version >= 2 {
            expected += [("owner table offset", Word.ownerTableOffset, UInt64(layout.ownerTableOffset)),
                         ("frame tags offset", Word.tagsOffset, UInt64(layout.tagsOffset))]
        }
        if version >= 3 { expected.append(("frames object size", Word.framesObjectSize, layout.framesObjectSize)) }
        for (name, index, value) in expected where word(index) != value {
            throw PoolError(file: file, reason: .corrupt("\(name) is \(word(index)), the geometry gives \(value)"))
        }
        let rawState = word(Word.state)
        guard let state = PoolState(raw: rawState) else {
            throw PoolError(file: file, reason: .corrupt("state word 0x\(String(rawState, radix: 16)) is neither clean nor dirty"))
        }
        var uuid = [UInt8]()
        for i in 0..<16 { uuid.append(UInt8(truncatingIfNeeded: word(Word.uuid + i / 8) >> UInt64(8 * (i % 8)))) }
        return PoolHeader(uuid: uuid, layout: layout, creationTime: word(Word.creationTime), state: state)
    }

    /// 16 random bytes with the RFC 4122 version 4 and variant bits.
    static func randomUUID() -> [UInt8] {
        var g = SystemRandomNumberGenerator()
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        return bytes
    }

    /// Nanoseconds since the Unix epoch.
    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    public var description: String {
        "pool \(uuidString) (format \(version)\(layout.ownerCapacity.map { ", \($0) owners" } ?? ", no owners")): \(layout.geometry), file \(layout.fileSize) bytes, frames at \(layout.framesOffset)\(layout.split ? " of a frames object of \(layout.framesObjectSize) bytes" : ""), \(state)"
    }
}
