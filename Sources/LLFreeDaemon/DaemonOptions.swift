// What llfreed was asked to do: which pool, whether to create it, where and how to serve, and
// what to tell systemd and the metrics endpoint.

import LLFree
import LLFreeServer
import LLFreePool

/// Where a pool's frames are: the `pool.frames` setting.
public enum FramesPlacement: Sendable, Equatable, CustomStringConvertible {
    /// A pool created now is split, its frames object at `POOL.frames`; an existing pool is
    /// opened as it is (a split one with `POOL.frames`, a single-file one alone).
    case auto
    /// The frames are in the pool file (a pool created now is a single-file pool, whose frames
    /// a client's mapping shares with the metadata).
    case none
    /// The frames object of a split pool at this path.
    case path(String)

    /// The frames object to use for the pool at `pool`: nil for frames in the pool file.
    /// - Parameter split: whether the pool is split (nil: it does not exist yet).
    public func framesPath(pool: String, split: Bool?) -> String? {
        switch self {
        case .none: return nil
        case .path(let path): return path
        case .auto: return split == false ? nil : pool + ".frames"
        }
    }

    public var description: String {
        switch self {
        case .auto: return "auto"
        case .none: return "none"
        case .path(let path): return path
        }
    }
}

/// The daemon's settings, as resolved from its configuration.
public struct DaemonOptions: Sendable {
    /// The pool file.
    public var poolPath: String
    /// Where the frames are (a split pool's frames object, or the pool file).
    public var frames: FramesPlacement
    /// Create the pool if it is missing (an existing pool is opened, never reformatted).
    public var create: Bool
    /// Bytes of frames for a pool created by ``create``.
    public var size: UInt64?
    /// Children per tree for a pool created by ``create``.
    public var treeChildren: Int
    /// The durability asked for.
    public var durability: DurabilityRequest
    /// Where and how to serve.
    public var server: ServerConfiguration
    /// Where the metrics endpoint listens; nil: no endpoint, and requests are not measured.
    public var metrics: MetricsListen?
    /// systemd's notification socket when run as a Type=notify service.
    public var notifier: SystemdNotifier?
    /// Half of the unit's WatchdogSec= when it sets one for this process.
    public var watchdogInterval: Duration?
    /// Percent of one CPU the idle zeroer may use while no request is served (0: off).
    public var zeroCPU: Int
    /// Bytes of free huge frames the idle zeroer keeps in memory; beyond them it returns free huge
    /// frames to the host (punched holes).
    public var zeroReserve: UInt64

    public init(poolPath: String, frames: FramesPlacement = .auto, create: Bool = false, size: UInt64? = nil, treeChildren: Int = Geometry.defaultTreeChildren,
                durability: DurabilityRequest = .automatic, server: ServerConfiguration, metrics: MetricsListen? = nil,
                notifier: SystemdNotifier? = nil, watchdogInterval: Duration? = nil, zeroCPU: Int = 10,
                zeroReserve: UInt64 = 256 << 20) {
        self.zeroCPU = zeroCPU
        self.zeroReserve = zeroReserve
        self.poolPath = poolPath
        self.frames = frames
        self.create = create
        self.size = size
        self.treeChildren = treeChildren
        self.durability = durability
        self.server = server
        self.metrics = metrics
        self.notifier = notifier
        self.watchdogInterval = watchdogInterval
    }
}
