// C where Swift cannot see Linux: `struct ucred` and SO_PEERGROUPS are declared by glibc only
// under _GNU_SOURCE, which a Swift module of glibc is not built with. The header uses plain
// fixed-width types; the definitions (linux_shims.c) are compiled with _GNU_SOURCE.
#ifndef CLINUXSHIMS_H
#define CLINUXSHIMS_H

#include <stdint.h>

/// The process, user and primary group of a Unix socket's peer, as they were when it connected.
typedef struct {
    int32_t pid;
    uint32_t uid;
    uint32_t gid;
} llfree_peer_cred_t;

/// Reads SO_PEERCRED of socket `fd` into `out`. Returns 0, or the errno value of the failure
/// (then `out` is untouched).
int llfree_peer_cred(int fd, llfree_peer_cred_t *out);

/// Reads SO_PEERGROUPS (Linux 4.13) of socket `fd` into `groups`, which has room for `capacity`
/// gids. Returns 0 and sets `*count` to the number of gids written; or ERANGE and sets `*count`
/// to the number the peer has (call again with that much room); or another errno value.
int llfree_peer_groups(int fd, uint32_t *groups, uint32_t capacity, uint32_t *count);

/// Sets `*count` to the bytes waiting unread in socket `fd` (FIONREAD; ioctl is variadic, which
/// Swift cannot call). Returns 0, or the errno value of the failure.
int llfree_unread_bytes(int fd, int *count);

/// Sends `length` bytes of `data` on the connected Unix socket `socket` with the descriptor
/// `fd` attached as SCM_RIGHTS ancillary data (sendmsg with MSG_DONTWAIT | MSG_NOSIGNAL; the
/// CMSG_* macros are not visible to Swift). Returns the bytes sent (the descriptor went with the
/// first of them), or -errno.
long llfree_send_with_fd(int socket, const void *data, unsigned long length, int fd);

/// Receives up to `length` bytes of the connected Unix socket `socket` into `data` with recvmsg
/// and room for one SCM_RIGHTS descriptor (MSG_CMSG_CLOEXEC), blocking. Sets `*fd` to the
/// descriptor received with them, or -1; any further descriptors are closed, never leaked.
/// Returns the bytes received (0: the peer closed), or -errno.
long llfree_recv_with_fd(int socket, void *data, unsigned long length, int *fd);

/// Returns the `length` bytes at `offset` of file `fd` to its file system: fallocate with
/// FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE (the range then reads as zeros, the size is kept).
/// Returns 0, or the errno value of the failure (EOPNOTSUPP where the file system cannot punch).
int llfree_punch_hole(int fd, int64_t offset, int64_t length);

/// Whether the `length` bytes at `offset` of file `fd` hold any allocated data (lseek with
/// SEEK_DATA): 1 if some do, 0 if the range is a hole, or -errno.
int llfree_has_data(int fd, int64_t offset, int64_t length);

/// Creates an anonymous memory object (memfd_create with MFD_CLOEXEC | MFD_ALLOW_SEALING)
/// named `name` for /proc. Returns its descriptor, or -errno.
int llfree_memfd_create(const char *name);

/// Seals memory object `fd` against growing and shrinking (F_SEAL_GROW | F_SEAL_SHRINK |
/// F_SEAL_SEAL), so that no holder can truncate it under another's mapping (a SIGBUS there).
/// Returns 0, or the errno value of the failure.
int llfree_seal_size(int fd);

/// Waits while the 32-bit word at `word` (in memory shared between processes: FUTEX_WAIT, not
/// the private form) holds `expected`, at most `timeout_ns` nanoseconds. Returns 0 when woken,
/// or the errno value (EAGAIN: the word differed already; ETIMEDOUT; EINTR).
int llfree_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns);

/// Wakes up to `count` waiters on the word at `word` (FUTEX_WAKE). Returns those woken, or -errno.
int llfree_futex_wake(uint32_t *word, int count);

/// A hint to the CPU that the caller spins (x86 pause, arm yield): it saves power and leaves the
/// sibling hyperthread its share while a shared-memory peer is awaited.
static inline void llfree_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
