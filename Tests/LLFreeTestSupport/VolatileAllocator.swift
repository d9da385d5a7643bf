// A real LLFree allocator over malloc'd metadata (volatile persistence), for testing the
// request processor without a pool file.

import Foundation
import LLFree
import LLFreeServer
import Logging

/// A volatile allocator and the memory it lives in.
public final class VolatileAllocator {
    public let region: UnsafeMutableRawPointer
    public let llfree: LLFree<VolatilePersistence>

    public init(frames: UInt64, treeChildren: Int = 8, cores: Int = 2) throws {
        let geometry = try Geometry(frames: frames, treeChildren: treeChildren)
        region = .allocate(byteCount: geometry.metadataSize, alignment: 64)
        llfree = try LLFree(formatting: region, geometry: geometry, persistence: VolatilePersistence(), cores: cores)
    }

    deinit { region.deallocate() }

    /// A description of a pool for a server over a volatile allocator.
    public static let pool = PoolDescription(path: "/tmp/test.pool", uuid: Array(repeating: 7, count: 16), framesOffset: 1 << 21,
                                             durability: .volatile)
}

extension VolatileAllocator {
    /// A new, empty directory under the system's temporary directory, for a test's socket.
    public static func makeDirectory(_ prefix: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A server of this allocator on `directory`/llfreed.sock with two event loops; not started.
    public func server(in directory: String) throws -> LLFreeServer<LLFree<VolatilePersistence>> {
        let configuration = ServerConfiguration(socketPath: directory + "/llfreed.sock", threads: 2)
        return try LLFreeServer(allocator: llfree, pool: Self.pool, configuration: configuration, logger: Logger(label: "test"))
    }
}
