// Bounds that a configuration value is checked against before anything is opened; they mirror
// what the pool and the socket would refuse later, so the refusal comes early and names the key.

import LLFreeServer
import LLFree

/// Bounds of configuration values.
public enum Limits {
    /// Largest tree size (children per tree) a pool may be formatted with.
    public static var maxTreeChildren: Int { Geometry.maxTreeChildren }
    /// Longest socket path (bytes of UTF-8), the daemon's and the metrics endpoint's.
    public static var maxSocketPath: Int { SocketFile.maxPath }
    /// Most event loops.
    public static let maxThreads = 1024
}
