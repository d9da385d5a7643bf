// Helpers of the pool tests: scratch pool files on /dev/shm, whole-file snapshots for the
// "unchanged" checks, raw patches of header words, in-memory images, a persistence that records
// the order of stores, flushes and fences, and running the built llfree-ctl.

import Atomics
import Foundation
import LLFree
@testable import LLFreePool
import Testing

/// A unique pool path on /dev/shm (or the temporary directory), removed by `remove()`.
struct ScratchPath {
    let path: String

    init(_ label: String) {
        let dir = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        path = "\(dir)/llfreepool-test-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).pool"
    }

    func remove() { unlink(path) }
}

/// Small pools keep the byte-for-byte comparisons cheap: 2,000 frames (a partial last child).
let smallFrames: UInt64 = 2000

/// The whole content of `path`.
func contents(_ path: String) throws -> Data {
    try Data(contentsOf: URL(fileURLWithPath: path))
}

/// Overwrites 8 bytes at `offset` of `path` with `value` (little-endian).
func patchWord(_ path: String, at offset: UInt64, _ value: UInt64) throws {
    let handle = try #require(FileHandle(forUpdatingAtPath: path))
    defer { try? handle.close() }
    try handle.seek(toOffset: offset)
    var le = value.littleEndian
    handle.write(Data(bytes: &le, count: 8))
}

/// Reads 8 bytes at `offset` of `path` (little-endian).
func readWord(_ path: String, at offset: UInt64) throws -> UInt64 {
    let data = try contents(path)
    var value: UInt64 = 0
    for i in 0..<8 { value |= UInt64(data[Int(offset) + i]) << UInt64(8 * i) }
    return value
}

/// Sets the file's size.
func setSize(_ path: String, _ size: UInt64) {
    precondition(truncate(path, off_t(size)) == 0)
}

/// The error a throwing expression threw, as a PoolError (nil if none was thrown).
func poolError<T>(_ body: () throws(PoolError) -> T) -> PoolError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

/// The persistent owner "test" of `image` (created on first use), whose number the tests pass to
/// get and put; ``Owners/any`` for a version-1 pool, which has no owners.
func testOwner<P: Persistence>(_ image: PoolImage<P>) throws -> OwnerID {
    guard let table = image.owners else { return Owners.any }
    if let record = table.owner(named: "test") { return record.id }
    return try table.create(name: "test", lifetime: .persistent, quota: nil, uid: 0, gid: nil).id
}

/// An in-memory, page-aligned, zeroed region for PoolImage tests.
final class Region {
    let base: UnsafeMutableRawPointer
    let length: Int

    init(length: Int) {
        self.length = length
        base = UnsafeMutableRawPointer.allocate(byteCount: length, alignment: 4096)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: length)
    }

    deinit { base.deallocate() }
}

/// Log of seam calls, with a line-level durability model: a store makes its line pending, a flush
/// marks it flushed, a fence makes flushed lines durable.
final class SeamLog {
    enum Event: Equatable { case store(Int, truth: Bool), flush(Int), fence }
    var events: [Event] = []
    var pending: Set<Int> = []
    var flushed: Set<Int> = []
    let base: UInt

    init(base: UnsafeMutableRawPointer) { self.base = UInt(bitPattern: base) }

    func line(_ address: UnsafeMutableRawPointer) -> Int { Int((UInt(bitPattern: address) - base) / 64) }

    /// Lines stored in `events` that the model would not have made durable by their end.
    static func undurable<C: Collection<Event>>(_ events: C) -> Set<Int> {
        var pending = Set<Int>()
        var flushed = Set<Int>()
        for event in events {
            switch event {
            case .store(let l, _): pending.insert(l); flushed.remove(l)
            case .flush(let l): if pending.remove(l) != nil { flushed.insert(l) }
            case .fence: flushed.removeAll()
            }
        }
        return pending.union(flushed)
    }
}

/// A Persistence that records every call into a SeamLog (single-threaded tests only).
struct RecordingPersistence: Persistence {
    let log: SeamLog

    func stored(_ address: UnsafeMutableRawPointer, truth: Bool) {
        let l = log.line(address)
        log.events.append(.store(l, truth: truth))
        log.pending.insert(l)
        log.flushed.remove(l)
    }

    func flush(_ address: UnsafeMutableRawPointer) {
        let l = log.line(address)
        log.events.append(.flush(l))
        if log.pending.remove(l) != nil { log.flushed.insert(l) }
    }

    func fence() {
        log.events.append(.fence)
        log.flushed.removeAll()
    }

    func zero(frame: UInt64, count: Int) -> Bool { false }
}

/// The built llfree-ctl next to the test bundle, or nil.
func ctlBinary() -> String? {
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var dir = exe.deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("llfree-ctl").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return nil
}

/// Runs llfree-ctl with `arguments`; returns its exit status and standard output.
func runCtl(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let binary = try #require(ctlBinary(), "llfree-ctl is not built next to the tests")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
