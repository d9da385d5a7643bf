// Definitions for CLinuxShims.h, compiled with _GNU_SOURCE so that glibc declares struct ucred.
#define _GNU_SOURCE
#include <errno.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include "CLinuxShims.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59 /* <asm-generic/socket.h>; older glibc headers lack it */
#endif

int llfree_peer_cred(int fd, llfree_peer_cred_t *out) {
    struct ucred cred;
    socklen_t length = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) return errno;
    if (length != sizeof cred) return EINVAL;
    out->pid = cred.pid;
    out->uid = cred.uid;
    out->gid = cred.gid;
    return 0;
}

int llfree_peer_groups(int fd, uint32_t *groups, uint32_t capacity, uint32_t *count) {
    _Static_assert(sizeof(gid_t) == sizeof(uint32_t), "gid_t is 32 bits on Linux");
    socklen_t length = (socklen_t)(capacity * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &length) != 0) {
        int error = errno;
        // On ERANGE the kernel reports the length it needs.
        if (error == ERANGE) *count = (uint32_t)(length / sizeof(gid_t));
        return error;
    }
    *count = (uint32_t)(length / sizeof(gid_t));
    return 0;
}

int llfree_unread_bytes(int fd, int *count) {
    if (ioctl(fd, FIONREAD, count) != 0) return errno;
    return 0;
}
