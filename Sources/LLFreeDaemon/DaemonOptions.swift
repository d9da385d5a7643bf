// What llfreed was asked to do: which pool, whether to create it, where and how to serve, and
// what to tell systemd and the metrics endpoint.

import LLFree
import LLFreeServer
import LLFreePool

/// The daemon's settings, as resolved from its configuration.
public struct DaemonOptions: Sendable {
    /// The pool file.
    public var poolPath: String
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

    public init(poolPath: String, create: Bool = false, size: UInt64? = nil, treeChildren: Int = Geometry.defaultTreeChildren,
                durability: DurabilityRequest = .automatic, server: ServerConfiguration, metrics: MetricsListen? = nil,
                notifier: SystemdNotifier? = nil, watchdogInterval: Duration? = nil) {
        self.poolPath = poolPath
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
