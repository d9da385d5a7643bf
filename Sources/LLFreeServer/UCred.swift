// Linux's `struct ucred`, which Glibc declares only under _GNU_SOURCE: what SO_PEERCRED returns.

/// pid, uid and gid of a socket's peer, laid out as the kernel writes them.
struct UCred: Sendable {
    var pid: Int32
    var uid: UInt32
    var gid: UInt32
}
