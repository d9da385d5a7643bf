// Definitions for CLinuxShims.h, compiled with _GNU_SOURCE so that glibc declares struct ucred.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/futex.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <string.h>
#include <unistd.h>
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

long llfree_send_with_fd(int socket, const void *data, unsigned long length, int fd) {
    struct iovec iov = { .iov_base = (void *)data, .iov_len = length };
    union { struct cmsghdr header; char bytes[CMSG_SPACE(sizeof(int))]; } control;
    memset(&control, 0, sizeof control);
    struct msghdr message = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.bytes, .msg_controllen = sizeof control.bytes };
    struct cmsghdr *c = CMSG_FIRSTHDR(&message);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    ssize_t n;
    do { n = sendmsg(socket, &message, MSG_DONTWAIT | MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : (long)n;
}

long llfree_recv_with_fd(int socket, void *data, unsigned long length, int *fd) {
    struct iovec iov = { .iov_base = data, .iov_len = length };
    /* Room for a few, so that extra descriptors a hostile peer sends are received and closed. */
    union { struct cmsghdr header; char bytes[CMSG_SPACE(8 * sizeof(int))]; } control;
    struct msghdr message = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.bytes, .msg_controllen = sizeof control.bytes };
    *fd = -1;
    ssize_t n;
    do { n = recvmsg(socket, &message, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c != NULL; c = CMSG_NXTHDR(&message, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int received;
            memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*fd < 0) *fd = received; else close(received);
        }
    }
    return (long)n;
}

int llfree_punch_hole(int fd, int64_t offset, int64_t length) {
    for (;;) {
        if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length) == 0) return 0;
        if (errno != EINTR) return errno;
    }
}

int llfree_has_data(int fd, int64_t offset, int64_t length) {
    off_t data = lseek(fd, (off_t)offset, SEEK_DATA);
    if (data < 0) return errno == ENXIO ? 0 : -errno;  /* ENXIO: no data from offset to the end */
    return data < (off_t)(offset + length) ? 1 : 0;
}

int llfree_memfd_create(const char *name) {
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    return fd < 0 ? -errno : fd;
}

int llfree_seal_size(int fd) {
    return fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) == 0 ? 0 : errno;
}

int llfree_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns) {
    struct timespec timeout = { .tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000 };
    long rc = syscall(SYS_futex, word, FUTEX_WAIT, expected, &timeout, NULL, 0);
    return rc == 0 ? 0 : errno;
}

int llfree_futex_wake(uint32_t *word, int count) {
    long rc = syscall(SYS_futex, word, FUTEX_WAKE, count, NULL, NULL, 0);
    return rc < 0 ? -errno : (int)rc;
}
