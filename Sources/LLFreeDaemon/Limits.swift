// Bounds that a configuration value is checked against before anything is opened; they mirror
// what the pool and the socket would refuse later, so the refusal comes early and names the key.

import LLFreeServer
import LLFree

/// Bounds of configuration values.
public enum Limits {
    /// Largest tree size (children per tree) a pool may be formatted with.
    public static var maxTreeChildren: Int { Geometry.maxTreeChildren }
    /// Longest path a `sockaddr_un` holds.
    public static let maxSocketPath = 107
    /// Most event loops.
    public static let maxThreads = 1024
}
