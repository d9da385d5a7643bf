/*
 * The call engine: sends a call's requests pipelined and hands their replies back in order,
 * reading while it writes (a daemon whose replies are not read stops reading requests), within
 * the call's time limit, and reconnecting once when the connection is found closed before any
 * byte of the call went out. Nothing here allocates: requests are encoded into the client's
 * send buffer as it drains, replies are parsed in place in its receive buffer.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RECV_CAPACITY (MAX_REPLY + RECV_SLACK)

void llf_drop(llfree_client *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    if (c->passed_fd >= 0) close(c->passed_fd);
    c->passed_fd = -1;
    c->recv_start = c->recv_end = 0;
    c->send_start = c->send_end = 0;
}

static int64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Keeps a descriptor passed as SCM_RIGHTS (only a frames reply carries one); any other
 * ancillary descriptor, or a second one, is closed: this process must not leak what a peer
 * pushed into it. */
static void take_descriptors(llfree_client *c, struct msghdr *m) {
    for (struct cmsghdr *h = CMSG_FIRSTHDR(m); h; h = CMSG_NXTHDR(m, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
        size_t n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
            if (!c->expect_descriptor) {
                close(fd);
                continue;
            }
            if (c->passed_fd >= 0) close(c->passed_fd);
            c->passed_fd = fd;
        }
    }
}

/* One recvmsg into the receive buffer (room for one SCM_RIGHTS descriptor). Returns the bytes
 * read, 0 at end of stream, -1 with errno. */
static ssize_t receive(llfree_client *c, int flags) {
    if (c->recv_start == c->recv_end) c->recv_start = c->recv_end = 0;
    if (c->recv_start > 0 && RECV_CAPACITY - c->recv_end < RECV_SLACK) {
        memmove(c->recv_buffer, c->recv_buffer + c->recv_start, c->recv_end - c->recv_start);
        c->recv_end -= c->recv_start;
        c->recv_start = 0;
    }
    struct iovec v = {.iov_base = c->recv_buffer + c->recv_end, .iov_len = RECV_CAPACITY - c->recv_end};
    union {
        char bytes[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = control.bytes, .msg_controllen = sizeof control.bytes};
    ssize_t n;
    do {
        n = recvmsg(c->fd, &m, flags | MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n >= 0 && m.msg_controllen > 0) take_descriptors(c, &m);
    if (n > 0) c->recv_end += (size_t)n;
    return n;
}

/* The next whole message in the receive buffer. Returns 1 with its parts, 0 if it has not all
 * arrived, -1 (message set) if its length field cannot be a reply this client accepts. */
static int next_message(llfree_client *c, uint8_t *op, uint16_t *status, uint64_t *id, const uint8_t **body,
                        size_t *length) {
    size_t have = c->recv_end - c->recv_start;
    if (have < 4) return 0;
    const uint8_t *p = c->recv_buffer + c->recv_start;
    uint32_t field = get32(p);
    if (field < 12 || field > WIRE_MAX_LENGTH || field + 4u > MAX_REPLY) {
        llf_fail(LLFREE_E_PROTOCOL, "a reply's length field is %u (a reply is 12...%u bytes after it)", field,
                 MAX_REPLY - 4u);
        return -1;
    }
    if (have < field + 4u) {
        // Make room for the rest of this message if the buffer's tail is too short.
        if (c->recv_start + field + 4u > RECV_CAPACITY) {
            memmove(c->recv_buffer, p, have);
            c->recv_start = 0;
            c->recv_end = have;
        }
        return 0;
    }
    *op = p[5];
    *status = get16(p + 6);
    *id = get64(p + 8);
    *body = p + WIRE_HEADER;
    *length = field + 4u - WIRE_HEADER;
    c->recv_start += field + 4u;
    return 1;
}

/* An id-0 error reply (an access refusal, a framing error) left on a connection the daemon
 * closed, read without waiting. Returns its status with the message set, or LLFREE_OK. */
static llfree_status take_refusal(llfree_client *c) {
    while (receive(c, MSG_DONTWAIT) > 0) {}
    uint8_t op;
    uint16_t status;
    uint64_t id;
    const uint8_t *body;
    size_t length;
    while (next_message(c, &op, &status, &id, &body, &length) == 1) {
        if (id == 0 && status != 0)
            return llf_fail((llfree_status)status, "llfreed refused this connection: %.*s", (int)length, (const char *)body);
    }
    return LLFREE_OK;
}

/* Fails requests [from, count) with `status` (their replies will not come) and drops the
 * connection: the stream can no longer be matched to requests. */
static llfree_status abandon(llfree_client *c, llf_call *call, size_t from, llfree_status status) {
    for (size_t i = from; i < call->requests; i++)
        if (call->lost) call->lost(call, i, status);
    llf_drop(c);
    return status;
}

/* Encodes as many of the call's remaining requests as the send buffer holds. */
static void fill(llfree_client *c, llf_call *call, size_t *encoded, uint64_t first_id) {
    if (c->send_start == c->send_end) c->send_start = c->send_end = 0;
    if (c->send_start > 0 && *encoded < call->requests) {
        memmove(c->send_buffer, c->send_buffer + c->send_start, c->send_end - c->send_start);
        c->send_end -= c->send_start;
        c->send_start = 0;
    }
    while (*encoded < call->requests) {
        size_t n = call->encode(call, *encoded, first_id + *encoded, c->send_buffer + c->send_end, MAX_REQUEST - c->send_end);
        if (n == 0) break;
        c->send_end += n;
        (*encoded)++;
    }
}

llfree_status llf_run(llfree_client *c, llf_call *call) {
    if (c->fd < 0) {
        if (c->in_handshake) return llf_fail(LLFREE_E_CONNECT, "the connection closed during the handshake");
        llfree_status s = llf_connect(c);
        if (s != LLFREE_OK) return s;
    }
    int64_t deadline = c->io_timeout_ms > 0 ? now_ms() + c->io_timeout_ms : 0;
    bool reconnected = false;
again:;
    uint64_t first_id = c->next_id;
    c->next_id += call->requests;
    size_t encoded = 0, answered = 0, sent = 0;
    bool write_failed = false;
    int write_errno = 0;
    c->send_start = c->send_end = 0;
    for (;;) {
        // Take the replies that have arrived.
        while (answered < call->requests) {
            uint8_t op;
            uint16_t status;
            uint64_t id;
            const uint8_t *body;
            size_t length;
            int got = next_message(c, &op, &status, &id, &body, &length);
            if (got == 0) break;
            if (got < 0) return abandon(c, call, answered, LLFREE_E_PROTOCOL);
            if (id == 0 && status != 0) {
                // An error for no request: the daemon refused the peer or the framing, and closes.
                llf_fail((llfree_status)status, "llfreed refused this connection: %.*s", (int)length, (const char *)body);
                return abandon(c, call, answered, (llfree_status)status);
            }
            if (id != first_id + answered || !(op & OP_REPLY)) {
                llf_fail(LLFREE_E_PROTOCOL, "a reply with op 0x%02x and id %llu where the reply to id %llu was due (replies come in request order)",
                         op, (unsigned long long)id, (unsigned long long)(first_id + answered));
                return abandon(c, call, answered, LLFREE_E_PROTOCOL);
            }
            if (call->reply(call, answered, status, body, length) == LLFREE_E_PROTOCOL)
                return abandon(c, call, answered + 1, LLFREE_E_PROTOCOL);
            answered++;
        }
        if (answered == call->requests) return LLFREE_OK;

        // Write what the socket takes now.
        if (!write_failed) {
            fill(c, call, &encoded, first_id);
            while (c->send_start < c->send_end) {
                ssize_t n = send(c->fd, c->send_buffer + c->send_start, c->send_end - c->send_start, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n >= 0) {
                    c->send_start += (size_t)n;
                    sent += (size_t)n;
                    if (c->send_start == c->send_end) fill(c, call, &encoded, first_id);
                    continue;
                }
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                if (sent == 0 && !reconnected && !c->in_handshake) {
                    // Found closed before one byte of this call went out (the daemon restarted,
                    // or refused this peer: then its reason is waiting to be read). Nothing of
                    // the call reached anyone, so it may go out on a new connection, once.
                    int first_errno = errno;
                    llfree_status refusal = take_refusal(c);
                    if (refusal != LLFREE_OK) return abandon(c, call, 0, refusal);
                    llf_drop(c);
                    reconnected = true;
                    llfree_status s = llf_connect(c);
                    if (s != LLFREE_OK) {
                        const char *why = llf_message();
                        char saved[400];
                        snprintf(saved, sizeof saved, "%s", why);
                        return llf_fail(s, "the connection was closed (send: %s) and connecting again failed: %s",
                                        strerror(first_errno), saved);
                    }
                    goto again;
                }
                // Part of the call went out: never sent again. Shutting the write side makes
                // the daemon answer every complete request it read and close, so reading ends.
                write_failed = true;
                write_errno = errno;
                shutdown(c->fd, SHUT_WR);
                break;
            }
        }
        bool writing = !write_failed && (c->send_start < c->send_end || encoded < call->requests);

        // Wait for replies (and room to write).
        if (writing || deadline) {
            int timeout = -1;
            if (deadline) {
                int64_t left = deadline - now_ms();
                if (left <= 0) {
                    llf_fail(LLFREE_E_TIMEOUT, "no reply within %d ms (the request was sent and may have been served)", c->io_timeout_ms);
                    return abandon(c, call, answered, LLFREE_E_TIMEOUT);
                }
                timeout = left > 1000000 ? 1000000 : (int)left;
            }
            struct pollfd p = {.fd = c->fd, .events = (short)(POLLIN | (writing ? POLLOUT : 0))};
            int ready = poll(&p, 1, timeout);
            if (ready < 0) {
                if (errno == EINTR) continue;
                llf_fail(LLFREE_E_CONNECTION_LOST, "poll: %s", strerror(errno));
                return abandon(c, call, answered, LLFREE_E_CONNECTION_LOST);
            }
            if (ready == 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
        }
        ssize_t n = receive(c, 0);
        if (n > 0) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
        if (write_failed)
            llf_fail(LLFREE_E_CONNECTION_LOST, "send: %s, after %zu bytes of the call were sent (they may have been served)",
                     strerror(write_errno), sent);
        else if (n == 0)
            llf_fail(LLFREE_E_CONNECTION_LOST, "llfreed closed the connection with %zu of %zu replies outstanding (the requests may have been served)",
                     call->requests - answered, call->requests);
        else
            llf_fail(LLFREE_E_CONNECTION_LOST, "recvmsg: %s (the requests may have been served)", strerror(errno));
        return abandon(c, call, answered, LLFREE_E_CONNECTION_LOST);
    }
}
