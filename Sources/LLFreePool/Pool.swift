// The pool file: create it sparse and format it, open it (validate through a read-only
// descriptor first, lock, map with pmem_map_file, choose the durability mode, run PoolImage.open),
// close and unmap it, and inspect it read-only.

import LLFree
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// An open pool file and its allocator.
///
/// The allocator (``allocator``) is valid until ``close()`` or ``abandon()``, or until the pool is
/// released; a pool released without ``close()`` stays dirty and is recovered at the next open.
/// ``close()`` must not run concurrently with gets or puts.
public final class Pool: @unchecked Sendable {
    /// The file's path.
    public let path: String
    /// The durability mode in effect and why.
    public let durability: Durability
    /// The allocator, by persistence type.
    public let allocator: PoolAllocator
    /// Holds the pool's exclusive lock while open.
    private let file: PoolFile
    private let mapping: Pmem.Mapping
    /// The frames object of a split pool, mapped read-write: the daemon zeroes frames through it.
    private let framesMapping: Pmem.Mapping?
    private var mapped = true
    /// The frames object of a split pool (format version 3); nil when the frames are in the pool
    /// file.
    public let framesObject: FramesObject?
    /// Descriptors of the pool file itself, passed to clients of a single-file pool (which can
    /// then reach the metadata too); opened apart from `file`, whose description holds the lock.
    private let poolDescriptors: (readWrite: FileDescriptor, readOnly: FileDescriptor)?

    /// The header as validated at open.
    public var header: PoolHeader { allocator.header }
    /// What open found and did, mapping time included.
    public var report: OpenReport { allocator.report }
    /// Frame 0 in this process (frame `n` is at `frames + n * 4096`): in the pool file's mapping,
    /// or in the frames object's, which the daemon maps to zero frames.
    public var frames: UnsafeMutableRawPointer { (framesMapping ?? mapping).base + Int(header.layout.framesOffset) }

    /// Whether a client given the frames descriptor can also reach the allocator's metadata
    /// (a single-file pool): the daemon says so at start and in hello.
    public var metadataReachable: Bool { framesObject == nil }
    /// The path of the object holding the frames: the frames object, or the pool file.
    public var framesPath: String { framesObject?.path ?? path }

    /// Returns free huge frames to the host by punching holes into the file holding the frames;
    /// nil for a device DAX device, which cannot punch (freed frames are zeroed by writing).
    public var reclaimer: FramesReclaimer? {
        if let framesObject {
            return framesObject.isDevice ? nil : FramesReclaimer(fd: framesObject.readWrite.rawValue, framesOffset: header.layout.framesOffset, path: framesObject.path)
        }
        return poolDescriptors.map { FramesReclaimer(fd: $0.readWrite.rawValue, framesOffset: header.layout.framesOffset, path: path) }
    }

    /// The descriptor a client receives for the frames: read-write or read-only. It reaches only
    /// frames in a split pool, the whole pool file otherwise. Valid until ``close()``; the
    /// caller passes it on (SCM_RIGHTS duplicates it) and does not close it.
    public func framesDescriptor(writable: Bool) -> FileDescriptor? {
        if let framesObject { return writable ? framesObject.readWrite : framesObject.readOnly }
        return writable ? poolDescriptors?.readWrite : poolDescriptors?.readOnly
    }

    private init(path: String, durability: Durability, allocator: PoolAllocator, file: PoolFile, mapping: Pmem.Mapping,
                 framesMapping: Pmem.Mapping?, framesObject: FramesObject?,
                 poolDescriptors: (readWrite: FileDescriptor, readOnly: FileDescriptor)?) {
        self.path = path
        self.framesMapping = framesMapping
        self.durability = durability
        self.allocator = allocator
        self.file = file
        self.mapping = mapping
        self.framesObject = framesObject
        self.poolDescriptors = poolDescriptors
    }

    deinit {
        if mapped {
            try? Pmem.unmap(mapping.base, length: mapping.length)
            if let framesMapping { try? Pmem.unmap(framesMapping.base, length: framesMapping.length) }
        }
        closeDescriptors()
    }

    /// Whether ``closeDescriptors()`` ran (close, then deinit): a number closed twice could be
    /// another descriptor's by then.
    private var descriptorsClosed = false

    private func closeDescriptors() {
        guard !descriptorsClosed else { return }
        descriptorsClosed = true
        framesObject?.close()
        try? poolDescriptors?.readWrite.close()
        try? poolDescriptors?.readOnly.close()
    }

    // MARK: Format

    /// Creates and formats a pool file for `frames` frames (sparse: only header and metadata take
    /// space). The header is written last, so a crash during format never leaves a valid pool.
    /// - Parameters:
    ///   - force: overwrite an existing file (it is truncated first, so no old content survives);
    ///     without it an existing file is refused.
    ///   - durability: how the format itself is made durable.
    ///   - ownerCapacity: entries of the owner table, 1...4094 (format version 2); nil writes a
    ///     version-1 pool without owners (only for tests of old pools).
    ///   - framesPath: a frames object to create (a new file, mode 0600) or to take (an existing
    ///     device DAX device; an existing file only with `force`): a split pool (format version 3),
    ///     whose metadata file `path` holds no frame. nil keeps the frames in the pool file.
    /// - Returns: the header written and the durability used.
    /// - Throws: ``PoolError``: `.exists`, `.locked` (someone has it open), `.invalidArgument`
    ///   (size), `.system`. Refusals change nothing; a failure after truncation says so.
    @discardableResult
    public static func format(path: String, frames: UInt64, treeChildren: Int = Geometry.defaultTreeChildren,
                              ownerCapacity: Int? = PoolLayout.defaultOwnerCapacity, framesPath: String? = nil,
                              force: Bool = false, durability: DurabilityRequest = .automatic) throws(PoolError) -> (header: PoolHeader, durability: Durability) {
        let layout = try PoolLayout(frames: frames, treeChildren: treeChildren, ownerCapacity: ownerCapacity, split: framesPath != nil, file: path)
        let uuid = PoolHeader.randomUUID()
        // The metadata file must not exist yet (or be forced) before the frames object is made.
        if !force, access(path, F_OK) == 0 { throw PoolError(file: path, reason: .exists) }
        // A file the format sizes from empty reads as zeros; a device DAX device holds whatever it held.
        var framesZeroed = true
        if let framesPath {
            // The frames object first: the metadata file's magic, written last, makes the pair a pool.
            framesZeroed = try FramesObject.create(path: framesPath, layout: layout, uuid: uuid, force: force)
        }
        var created = true
        let file: PoolFile
        do {
            file = try PoolFile(path: path, flags: O_RDWR | O_CREAT | O_EXCL, mode: framesPath == nil ? 0o644 : 0o600)
        } catch where error.reason == .exists && force {
            created = false
            file = try PoolFile(path: path, flags: O_RDWR)
        }
        // From here a file we created is removed again on failure, so it too stays "unchanged".
        func fail(_ error: PoolError) -> PoolError {
            if created {
                unlink(path)
                return PoolError(file: error.file, reason: error.reason, unchanged: true)
            }
            return error
        }
        do {
            try file.lock(exclusive: true)
            _ = try file.size()
            if !created { try file.truncate(to: 0, unchanged: true) }
            try file.truncate(to: layout.fileSize, unchanged: created)
        } catch {
            throw fail(error)
        }
        let mapping: Pmem.Mapping
        do {
            mapping = try Pmem.mapFile(path: path)
        } catch {
            throw fail(PoolError(file: path, reason: .system(error), unchanged: false))
        }
        defer { try? Pmem.unmap(mapping.base, length: mapping.length) }
        guard UInt64(mapping.length) == layout.fileSize else {
            throw fail(PoolError(file: path, reason: .wrongSize(size: UInt64(mapping.length), expected: layout.fileSize), unchanged: false))
        }
        let chosen = durability.resolve(isPmem: mapping.isPmem)
        let header: PoolHeader
        do {
            switch chosen.mode {
            case .pmem, .cpuCache:
                header = try PoolImage.format(base: mapping.base, length: mapping.length, persistence: PmemPersistence(),
                                              frames: frames, treeChildren: treeChildren, uuid: uuid, ownerCapacity: ownerCapacity,
                                              split: framesPath != nil, framesZeroed: framesZeroed, name: path)
            case .msync:
                header = try PoolImage.format(base: mapping.base, length: mapping.length, persistence: MsyncPersistence(),
                                              frames: frames, treeChildren: treeChildren, uuid: uuid, ownerCapacity: ownerCapacity,
                                              split: framesPath != nil, framesZeroed: framesZeroed, name: path)
            }
        } catch {
            throw fail(PoolError(file: path, reason: error.reason, unchanged: false))
        }
        // The file's size and its name must survive a power cut too (they are not in the mapping).
        try file.sync(directory: created)
        return (header, chosen)
    }

    // MARK: Open

    /// Opens the pool file at `path` for an allocator of `cores` cores.
    ///
    /// Before anything is mapped writable: the file is opened read-only, locked exclusively
    /// (`flock`, refused if held) and its header and size are validated. Then the file is mapped
    /// with `pmem_map_file`, the durability mode chosen, and ``PoolImage/open(base:length:persistence:cores:name:)``
    /// marks it dirty, recovers it if it was dirty, and builds the upper level.
    /// - Parameters:
    ///   - framesPath: the frames object of a split pool (format version 3), which must be given
    ///     for one and must not be for a single-file pool; it is locked and its header checked
    ///     against the metadata's UUID, frame count and offsets before anything is mapped.
    /// - Throws: ``PoolError``; every refusal leaves the files unchanged.
    public static func open(path: String, framesPath: String? = nil, cores: Int, durability: DurabilityRequest = .automatic) throws(PoolError) -> Pool {
        try open(path: path, framesPathFor: { _ in framesPath }, cores: cores, durability: durability)
    }

    /// ``open(path:framesPath:cores:durability:)`` with the frames object chosen from the
    /// validated header (its format: split or not), read once under the lock.
    public static func open(path: String, framesPathFor: (PoolHeader) -> String?, cores: Int,
                            durability: DurabilityRequest = .automatic) throws(PoolError) -> Pool {
        let clock = ContinuousClock()
        guard cores > 0, cores <= 1 << 16 else {
            throw PoolError(file: path, reason: .invalidArgument("core count \(cores) is outside 1...65536"))
        }
        let file = try PoolFile(path: path, flags: O_RDONLY)
        try file.lock(exclusive: true)
        let size = try file.size()
        let header = try validate(file, size: size)
        let framesObject: FramesObject?
        var poolDescriptors: (readWrite: FileDescriptor, readOnly: FileDescriptor)? = nil
        switch (header.layout.split, framesPathFor(header)) {
        case (true, let framesPath?):
            framesObject = try FramesObject.open(path: framesPath, pool: header)
        case (true, nil):
            throw PoolError(file: path, reason: .invalidArgument("this pool (format 3) keeps its frames in a frames object of their own: name it (pool.frames, --frames)"))
        case (false, let framesPath?):
            throw PoolError(file: path, reason: .invalidArgument("this pool (format \(header.version)) keeps its frames in the pool file, not in \(framesPath): leave pool.frames empty"))
        case (false, nil):
            framesObject = nil
            do {
                let readWrite = try FileDescriptor.open(path, .readWrite, options: [.closeOnExec])
                do {
                    poolDescriptors = (readWrite, try FileDescriptor.open(path, .readOnly, options: [.closeOnExec]))
                } catch {
                    try? readWrite.close()
                    throw error
                }
            } catch {
                throw PoolError(file: path, reason: .system(SystemFailure(call: "open", error)))
            }
        }
        func release() {
            framesObject?.close()
            try? poolDescriptors?.readWrite.close()
            try? poolDescriptors?.readOnly.close()
        }
        let start = clock.now
        let mapping: Pmem.Mapping
        do {
            mapping = try Pmem.mapFile(path: path)
        } catch {
            release()
            throw PoolError(file: path, reason: .system(error))
        }
        guard UInt64(mapping.length) == header.layout.fileSize else {
            release()
            try? Pmem.unmap(mapping.base, length: mapping.length)
            throw PoolError(file: path, reason: .wrongSize(size: UInt64(mapping.length), expected: header.layout.fileSize))
        }
        // The frames object, mapped read-write by the daemon alone for zeroing (a device DAX
        // device is mapped whole, as pmem_map_file requires).
        var framesMapping: Pmem.Mapping? = nil
        if let framesObject {
            do {
                framesMapping = try Pmem.mapFile(path: framesObject.path)
            } catch {
                release()
                try? Pmem.unmap(mapping.base, length: mapping.length)
                throw PoolError(file: framesObject.path, reason: .system(error))
            }
            if UInt64(framesMapping!.length) < header.layout.framesObjectSize {
                release()
                try? Pmem.unmap(mapping.base, length: mapping.length)
                try? Pmem.unmap(framesMapping!.base, length: framesMapping!.length)
                throw PoolError(file: framesObject.path, reason: .truncated(size: UInt64(framesMapping!.length), needed: header.layout.framesObjectSize))
            }
        }
        let mapTime = clock.now - start
        let frames = (framesMapping ?? mapping).base + Int(header.layout.framesOffset)
        let chosen = durability.resolve(isPmem: mapping.isPmem)
        let allocator: PoolAllocator
        do {
            switch chosen.mode {
            case .pmem, .cpuCache:
                allocator = .pmem(try PoolImage.open(base: mapping.base, length: mapping.length, persistence: PmemPersistence(frames: frames),
                                                     cores: cores, name: path))
            case .msync:
                allocator = .msync(try PoolImage.open(base: mapping.base, length: mapping.length, persistence: MsyncPersistence(frames: frames),
                                                      cores: cores, name: path))
            }
        } catch {
            release()
            try? Pmem.unmap(mapping.base, length: mapping.length)
            if let framesMapping { try? Pmem.unmap(framesMapping.base, length: framesMapping.length) }
            throw error
        }
        return Pool(path: path, durability: chosen, allocator: allocator.withReport { $0.mapping = mapTime },
                    file: file, mapping: mapping, framesMapping: framesMapping, framesObject: framesObject, poolDescriptors: poolDescriptors)
    }

    /// Reads the header through `file` and checks the file's size against it.
    private static func validate(_ file: PoolFile, size: UInt64) throws(PoolError) -> PoolHeader {
        let bytes = try file.read(PoolLayout.headerLength, at: 0)
        let parsed = bytes.withUnsafeBytes { raw in
            Result { () throws(PoolError) -> PoolHeader in
                // An empty file has no base address; it is simply not a pool.
                guard let base = raw.baseAddress else { throw PoolError(file: file.path, reason: .notAPool(magic: 0)) }
                return try PoolHeader.read(from: base, length: raw.count, file: file.path)
            }
        }
        let header = try parsed.get()
        if size < header.layout.fileSize {
            throw PoolError(file: file.path, reason: .truncated(size: size, needed: header.layout.fileSize))
        }
        if size > header.layout.fileSize {
            throw PoolError(file: file.path, reason: .wrongSize(size: size, expected: header.layout.fileSize))
        }
        return header
    }

    // MARK: Close

    /// Closes the pool: drains every reservation, persists the metadata, makes the clean state
    /// durable, unmaps the file and releases the lock. No get or put may run during or after it.
    /// - Throws: ``PoolError`` if unmapping failed (the pool is clean on media all the same).
    public func close() throws(PoolError) {
        guard mapped else { return }
        allocator.close()
        try unmap()
    }

    /// Unmaps the pool without closing it: the state stays dirty and the next open recovers, as
    /// after a crash of the process. For tests and benchmarks of recovery.
    public func abandon() throws(PoolError) {
        guard mapped else { return }
        try unmap()
    }

    /// Unmaps the file, then releases the lock (in this order, so a next opener never shares
    /// the mapping's pages with a writer).
    private func unmap() throws(PoolError) {
        mapped = false
        defer {
            closeDescriptors()
            file.close()
        }
        do {
            if let framesMapping { try Pmem.unmap(framesMapping.base, length: framesMapping.length) }
            try Pmem.unmap(mapping.base, length: mapping.length)
        } catch {
            throw PoolError(file: path, reason: .system(error))
        }
    }

    // MARK: Inspect

    /// Inspects the pool file read-only: opens it `O_RDONLY`, validates header and size, maps the
    /// header and metadata `PROT_READ` and checks every counter against the bitfields. Never
    /// writes; takes only a shared lock, and only to learn whether the pool is in use.
    /// - Parameters:
    ///   - requireIdle: refuse with `.locked` when another opener has the pool open (a live
    ///     pool's counters move under the scan).
    /// - Throws: ``PoolError`` if the file is not a usable pool.
    public static func inspect(path: String, requireIdle: Bool = false) throws(PoolError) -> PoolInspection {
        let file = try PoolFile(path: path, flags: O_RDONLY)
        var inUse = false
        do {
            try file.lock(exclusive: false)
        } catch where error.reason == .locked {
            if requireIdle { throw error }
            inUse = true
        }
        let size = try file.size()
        let header = try validate(file, size: size)
        let length = header.layout.imageLength
        let base = try file.mapReadOnly(length: length)
        defer { munmap(UnsafeMutableRawPointer(mutating: base), length) }
        var inspection = try PoolInspection.inspect(base: base, length: length, name: path)
        inspection.inUse = inUse
        return inspection
    }
}
