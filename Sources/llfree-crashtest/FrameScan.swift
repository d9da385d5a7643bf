// Which frames of the pool are allocated, asked of the daemon frame by frame (is-free of order
// 0), so that the kill loop compares its ledger with every frame rather than with whole runs.
// A 2 MiB child that is entirely free is answered by one is-free of order 9.

import LLFreeClient
import LLFreeProtocol

/// A scan of the pool's allocated frames through the daemon.
enum FrameScan {
    /// Frames per 2 MiB child.
    static let childFrames: UInt64 = 512

    /// Every allocated frame of a pool of `frames` frames. No client may run meanwhile.
    static func allocated(using client: BlockingLLFreeClient, frames: UInt64) throws(ClientError) -> Set<UInt64> {
        var allocated = Set<UInt64>()
        var child: UInt64 = 0
        while child < frames {
            let end = min(child + childFrames, frames)
            var wholeChildFree = false
            if end - child == childFrames { wholeChildFree = try client.isFree(child, order: 9) }
            if !wholeChildFree {
                for f in child..<end {
                    if try !client.isFree(f, order: 0) { allocated.insert(f) }
                }
            }
            child = end
        }
        return allocated
    }
}
