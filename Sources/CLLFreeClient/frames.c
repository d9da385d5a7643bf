/*
 * The frames object and mapping frames from it. A daemon of protocol version 3 passes a
 * descriptor of the object holding the frames (op frames, SCM_RIGHTS), so a client needs no
 * right to open the pool file; an older one only names the file (hello's path), which the client
 * may open if the caller allows. Either way the object's header must carry the pool's UUID
 * before anything is mapped: writing into another pool's frames would corrupt memory someone
 * else holds.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- The frames request (version 3) ---- */

typedef struct {
    llfree_client *client;
    llfree_status status;
} frames_request;

static size_t frames_encode(llf_call *call, size_t index, uint64_t id, uint8_t *out, size_t room) {
    (void)call;
    (void)index;
    if (room < WIRE_HEADER) return 0;
    return wire_header(out, OP_FRAMES, id, 0);
}

static llfree_status frames_reply(llf_call *call, size_t index, uint16_t status, const uint8_t *b, size_t length) {
    (void)index;
    frames_request *r = call->context;
    llfree_client *c = r->client;
    // The descriptor came with this reply's bytes, if at all; take it now so that it is closed
    // below on every path that does not keep it.
    int fd = c->passed_fd;
    c->passed_fd = -1;
    if (status != 0) {
        if (fd >= 0) close(fd);
        if (status == LLFREE_E_UNKNOWN_OPERATION)
            r->status = llf_fail(LLFREE_E_NOT_SUPPORTED, "llfreed does not pass a frames descriptor (it answered frames with: %.*s)",
                                 (int)length, (const char *)b);
        else
            r->status = llf_fail((llfree_status)status, "llfreed refused the frames descriptor: %.*s", (int)length, (const char *)b);
        return LLFREE_OK;
    }
    if (length != 40 || fd < 0) {
        if (fd >= 0) close(fd);
        r->status = llf_fail(LLFREE_E_PROTOCOL, "a frames reply of %zu bytes %s (40 bytes and one descriptor)", length,
                             fd < 0 ? "without a descriptor" : "with a descriptor");
        return LLFREE_E_PROTOCOL;
    }
    if ((b[0] != 1 && b[0] != 2) || b[1] > 1) {
        close(fd);
        r->status = llf_fail(LLFREE_E_PROTOCOL, "a frames reply with access %u and layout %u", b[0], b[1]);
        return LLFREE_OK;
    }
    if (memcmp(b + 24, c->info.uuid, 16) != 0) {
        close(fd);
        r->status = llf_fail(LLFREE_E_NOT_THE_POOL, "the frames descriptor names another pool than hello's UUID");
        return LLFREE_OK;
    }
    c->frames = (llfree_frames){.fd = fd, .source = LLFREE_FRAMES_DESCRIPTOR, .access = b[0], .layout = b[1],
                                .frame_size = get32(b + 4), .frames_offset = get64(b + 8), .frames = get64(b + 16)};
    memcpy(c->frames.uuid, b + 24, 16);
    r->status = LLFREE_OK;
    return LLFREE_OK;
}

/* Asks for the descriptor with nothing else in flight, so that its reply is the only one the
 * sendmsg carrying the descriptor can hold. Returns what the request came to. */
static llfree_status fetch_descriptor(llfree_client *c) {
    frames_request r = {.client = c, .status = LLFREE_OK};
    llf_call call = {.requests = 1, .encode = frames_encode, .reply = frames_reply, .context = &r};
    c->expect_descriptor = true;
    llfree_status s = llf_run(c, &call);
    c->expect_descriptor = false;
    if (c->passed_fd >= 0) {
        close(c->passed_fd);
        c->passed_fd = -1;
    }
    return s != LLFREE_OK ? s : r.status;
}

/* Opens the pool file hello names, read-write if allowed, else read-only. */
static llfree_status open_path(llfree_client *c) {
    uint8_t access = 2;
    int fd = open(c->info.path, O_RDWR | O_CLOEXEC);
    if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM)) {
        access = 1;
        fd = open(c->info.path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0) return llf_fail(LLFREE_E_SYSTEM, "cannot open the pool file %s: %s", c->info.path, strerror(errno));
    // hello's path names the object holding the frames: a split pool's frames object when the
    // metadata is not reachable from it, else the single-file pool.
    c->frames = (llfree_frames){.fd = fd, .source = LLFREE_FRAMES_PATH, .access = access,
                                .layout = c->info.metadata_reachable ? 0 : 1,
                                .frame_size = c->info.frame_size, .frames_offset = c->info.frames_offset,
                                .frames = c->info.frames};
    memcpy(c->frames.uuid, c->info.uuid, 16);
    return LLFREE_OK;
}

void llf_acquire_frames(llfree_client *c) {
    if (c->frames.source != LLFREE_FRAMES_NONE) return;
    if (c->flags & LLFREE_CONNECT_NO_FRAMES) {
        c->frames_status = LLFREE_E_NOT_SUPPORTED;
        snprintf(c->frames_message, sizeof c->frames_message, "the client was connected with LLFREE_CONNECT_NO_FRAMES");
        return;
    }
    llfree_status s;
    if (c->info.version >= 3) {
        s = fetch_descriptor(c);
        if (c->fd < 0) {
            // The connection broke: the handshake fails with this.
            c->frames_status = s;
            return;
        }
    } else {
        s = llf_fail(LLFREE_E_NOT_SUPPORTED, "llfreed negotiated protocol version %u: it passes no frames descriptor (version 3)",
                     c->info.version);
    }
    if (s == LLFREE_E_NOT_SUPPORTED && (c->flags & LLFREE_CONNECT_OPEN_PATH)) s = open_path(c);
    c->frames_status = s;
    snprintf(c->frames_message, sizeof c->frames_message, "%s", s == LLFREE_OK ? "" : llf_message());
    llf_clear_message();
}

llfree_status llf_check_same_pool(llfree_client *c, const llfree_pool_info *info) {
    if (c->frames.source == LLFREE_FRAMES_NONE || memcmp(c->frames.uuid, info->uuid, 16) == 0) return LLFREE_OK;
    return llf_fail(LLFREE_E_NOT_THE_POOL, "llfreed at %s now serves another pool than the one this client maps frames of",
                    c->socket_path);
}

LLFREE_API llfree_status llfree_frames_get(llfree_client *c, llfree_frames *out) {
    llf_clear_message();
    if (!c || !out) return llf_fail(LLFREE_E_INVALID_ARGUMENT, "%s is NULL", c ? "frames" : "client");
    pthread_mutex_lock(&c->lock);
    *out = c->frames;
    llfree_status s = c->frames.source == LLFREE_FRAMES_NONE ? c->frames_status : LLFREE_OK;
    if (s != LLFREE_OK) llf_fail(s, "no frames object: %s", c->frames_message);
    pthread_mutex_unlock(&c->lock);
    return s;
}

/* Why the object is not the pool `frames` describes, or LLFREE_OK: bytes 16...31 are its UUID,
 * and bytes 0...7 its magic: "LLFRAMES" for a split pool's frames object (layout 1),
 * "LLFREEPL" for a single-file pool (layout 0; a split pool's metadata file has the UUID too,
 * but no frame). */
static llfree_status check_header(const llfree_frames *f) {
    uint8_t header[32];
    ssize_t n;
    do {
        n = pread(f->fd, header, sizeof header, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return llf_fail(LLFREE_E_SYSTEM, "cannot read the frames object's header: %s", strerror(errno));
    if (n < (ssize_t)sizeof header)
        return llf_fail(LLFREE_E_NOT_THE_POOL, "the frames object is %zd bytes long, shorter than a pool header", n);
    const char *magic = f->layout == 1 ? "LLFRAMES" : "LLFREEPL";
    if (memcmp(header, magic, 8) != 0)
        return llf_fail(LLFREE_E_NOT_THE_POOL, "the frames object does not start with the magic %s (%s); nothing was mapped", magic,
                        f->layout == 1 ? "a split pool's frames object" : "a single-file pool");
    if (memcmp(header + 16, f->uuid, 16) != 0)
        return llf_fail(LLFREE_E_NOT_THE_POOL, "the frames object's UUID is not the pool's: it is another pool; nothing was mapped");
    return LLFREE_OK;
}

LLFREE_API llfree_status llfree_map(llfree_client *c, uint64_t first, uint64_t count, int prot, void **address) {
    llf_clear_message();
    if (!c || !address) return llf_fail(LLFREE_E_INVALID_ARGUMENT, "%s is NULL", c ? "address" : "client");
    if (!(prot & LLFREE_MAP_READ) || (prot & ~(LLFREE_MAP_READ | LLFREE_MAP_WRITE)))
        return llf_fail(LLFREE_E_INVALID_ARGUMENT, "prot %d is not LLFREE_MAP_READ, optionally | LLFREE_MAP_WRITE", prot);
    pthread_mutex_lock(&c->lock);
    llfree_frames f = c->frames;
    llfree_status missing = c->frames_status;
    char why[256];
    snprintf(why, sizeof why, "%s", c->frames_message);
    pthread_mutex_unlock(&c->lock);
    if (f.source == LLFREE_FRAMES_NONE) return llf_fail(missing, "no frames object to map from: %s", why);
    if (count == 0 || first >= f.frames || f.frames - first < count)
        return llf_fail(LLFREE_E_INVALID_ARGUMENT, "frames %llu...%llu are not inside the pool's %llu frames",
                        (unsigned long long)first, (unsigned long long)(first + count - (count > 0)), (unsigned long long)f.frames);
    if ((prot & LLFREE_MAP_WRITE) && f.access != 2)
        return llf_fail(LLFREE_E_NOT_PERMITTED, "the frames object is read-only (%s)",
                        f.source == LLFREE_FRAMES_PATH ? "the pool file could be opened only for reading" : "the daemon passed it read-only");
    if (count > SIZE_MAX / f.frame_size) return llf_fail(LLFREE_E_INVALID_ARGUMENT, "%llu frames do not fit the address space", (unsigned long long)count);
    llfree_status s = check_header(&f);
    if (s != LLFREE_OK) return s;
    size_t length = (size_t)count * f.frame_size;
    off_t offset = (off_t)(f.frames_offset + first * f.frame_size);
    void *p = mmap(NULL, length, PROT_READ | ((prot & LLFREE_MAP_WRITE) ? PROT_WRITE : 0), MAP_SHARED, f.fd, offset);
    if (p == MAP_FAILED)
        return llf_fail(LLFREE_E_SYSTEM, "mmap of frames %llu...%llu at offset %lld: %s", (unsigned long long)first,
                        (unsigned long long)(first + count - 1), (long long)offset, strerror(errno));
    *address = p;
    return LLFREE_OK;
}

LLFREE_API llfree_status llfree_unmap(llfree_client *c, void *address, uint64_t count) {
    llf_clear_message();
    if (!c || !address || count == 0) return llf_fail(LLFREE_E_INVALID_ARGUMENT, "%s", !c ? "client is NULL" : !address ? "address is NULL" : "count is 0");
    pthread_mutex_lock(&c->lock);
    uint32_t frame_size = c->frames.frame_size ? c->frames.frame_size : c->info.frame_size;
    pthread_mutex_unlock(&c->lock);
    if (munmap(address, (size_t)count * frame_size) != 0) return llf_fail(LLFREE_E_SYSTEM, "munmap: %s", strerror(errno));
    return LLFREE_OK;
}
