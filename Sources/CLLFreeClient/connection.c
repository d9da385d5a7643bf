/*
 * Making a connection: the options, the socket, and the handshake every connection begins
 * with (hello, then attach to the client's owner, then the frames descriptor), so that a
 * reconnect acts for the same owner and maps the same pool as the first connection did.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

LLFREE_API void llfree_connect_options_init(llfree_connect_options *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->size = (uint32_t)sizeof *o;
    o->owner_kind = LLFREE_OWNER_PERSISTENT;
}

/* The daemon's default socket for this user, as llfree-ctl finds it. */
static void default_socket(char *out, size_t room) {
    const char *chosen = getenv("LLFREED_SOCKET");
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    if (chosen && *chosen) snprintf(out, room, "%s", chosen);
    else if (getuid() == 0) snprintf(out, room, "/run/llfreed/llfreed.sock");
    else if (runtime && *runtime) snprintf(out, room, "%s/llfreed.sock", runtime);
    else snprintf(out, room, "/tmp/llfreed-%u/llfreed.sock", (unsigned)getuid());
}

/* ---- The handshake's requests ---- */

typedef struct {
    llfree_client *client;
    llfree_status hello, attach;
} handshake;

static size_t handshake_encode(llf_call *call, size_t index, uint64_t id, uint8_t *out, size_t room) {
    llfree_client *c = ((handshake *)call->context)->client;
    if (index == 0) {
        if (room < WIRE_HEADER + 8) return 0;
        wire_header(out, OP_HELLO, id, 8);
        put16(out + 16, WIRE_PROTOCOL_MIN);
        put16(out + 18, WIRE_PROTOCOL_MAX);
        put32(out + 20, 0);
        return WIRE_HEADER + 8;
    }
    size_t body = 16 + c->owner_length;
    if (room < WIRE_HEADER + body) return 0;
    wire_header(out, OP_ATTACH, id, body);
    uint8_t *b = out + WIRE_HEADER;
    b[0] = c->owner_kind;
    b[1] = (c->flags & LLFREE_CONNECT_NO_CREATE) ? 0 : 1;
    put16(b + 2, (uint16_t)c->owner_length);
    put32(b + 4, 0);
    put64(b + 8, c->quota);
    memcpy(b + 16, c->owner, c->owner_length);
    return WIRE_HEADER + body;
}

llfree_status llf_decode_hello(const uint8_t *b, size_t length, llfree_pool_info *info, char *path) {
    /* Version 3 ends the reply with a flags word after the path. */
    size_t flags = length >= 2 && get16(b) >= 3 ? 4 : 0;
    if (length < 60 + flags || length != 60u + get16(b + 42) + flags || get16(b + 42) > LLFREE_MAX_PATH)
        return llf_fail(LLFREE_E_PROTOCOL, "a hello reply of %zu bytes (60 + its path length%s)", length, flags ? " + 4 of flags" : "");
    memset(info, 0, sizeof *info);
    info->version = get16(b);
    info->durability = b[2];
    info->max_order = b[3];
    info->frame_size = get32(b + 4);
    info->frames = get64(b + 8);
    info->frames_offset = get64(b + 16);
    info->children = get32(b + 24);
    info->tree_children = get32(b + 28);
    info->trees = get32(b + 32);
    info->max_batch = get32(b + 36);
    info->cores = get16(b + 40);
    memcpy(info->uuid, b + 44, 16);
    info->metadata_reachable = flags ? (uint8_t)(get32(b + 60 + get16(b + 42)) & 1) : 1;
    memcpy(path, b + 60, get16(b + 42));
    path[get16(b + 42)] = 0;
    info->path = path;
    return LLFREE_OK;
}

static llfree_status decode_owner(const uint8_t *b, size_t length, llfree_owner_record *r) {
    if (length < 40 || length != 40u + get16(b + 4) || get16(b + 4) > LLFREE_MAX_OWNER_NAME)
        return llf_fail(LLFREE_E_PROTOCOL, "an owner record of %zu bytes (40 + its name length)", length);
    memset(r, 0, sizeof *r);
    r->id = get16(b);
    r->kind = b[2];
    r->created = b[3] & 1;
    r->held = get64(b + 8);
    r->quota = get64(b + 16);
    r->connections = get32(b + 24);
    r->uid = get32(b + 28);
    r->gid = get32(b + 32);
    memcpy(r->name, b + 40, get16(b + 4));
    return LLFREE_OK;
}

static llfree_status handshake_reply(llf_call *call, size_t index, uint16_t status, const uint8_t *body, size_t length) {
    handshake *h = call->context;
    llfree_client *c = h->client;
    llfree_status *slot = index == 0 ? &h->hello : &h->attach;
    if (status != 0) {
        *slot = llf_fail((llfree_status)status, "llfreed refused the %s: %.*s", index == 0 ? "hello" : "attach",
                         (int)length, (const char *)body);
        return LLFREE_OK;
    }
    if (index == 0) {
        llfree_pool_info info;
        if ((*slot = llf_decode_hello(body, length, &info, c->info_path)) != LLFREE_OK) return LLFREE_E_PROTOCOL;
        c->info = info;
        c->have_info = true;
    } else {
        if ((*slot = decode_owner(body, length, &c->attached)) != LLFREE_OK) return LLFREE_E_PROTOCOL;
        c->have_owner = true;
    }
    return LLFREE_OK;
}

static llfree_status handshake_run(llfree_client *c) {
    handshake h = {.client = c, .hello = LLFREE_OK, .attach = LLFREE_OK};
    llf_call call = {.requests = c->owner_length ? 2 : 1, .encode = handshake_encode, .reply = handshake_reply, .context = &h};
    c->have_info = false;
    llfree_status s = llf_run(c, &call);
    if (s != LLFREE_OK) return s;
    // The hello's refusal first: an attach after a refused hello is not meaningful.
    if (h.hello != LLFREE_OK) return h.hello;
    if (h.attach != LLFREE_OK) return h.attach;
    if (c->owner_length && c->info.version < 2)
        return llf_fail(LLFREE_E_NOT_SUPPORTED, "llfreed negotiated protocol version %u; owners need version 2", c->info.version);
    llfree_status same = llf_check_same_pool(c, &c->info);
    if (same != LLFREE_OK) return same;
    llf_acquire_frames(c);
    // A frames request that lost the connection leaves it dropped: the handshake failed.
    return c->fd < 0 ? c->frames_status : LLFREE_OK;
}

/* ---- The socket ---- */

static void pause_ms(int ms) {
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) < 0 && errno == EINTR) {}
}

static int64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

llfree_status llf_connect(llfree_client *c) {
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    memcpy(address.sun_path, c->socket_path, strlen(c->socket_path) + 1);
    // now_ms() counts whole milliseconds: one more keeps the retries going for the whole timeout.
    int64_t deadline = c->connect_timeout_ms > 0 ? now_ms() + c->connect_timeout_ms + 1 : 0;
    int backoff = 1;
    for (;;) {
        // Non-blocking while connecting: a Unix socket whose listen backlog is full then fails
        // with EAGAIN at once instead of waiting without bound, and is retried below within
        // connect_timeout_ms. Blocking afterwards: the engine's sends say MSG_DONTWAIT.
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s < 0) return llf_fail(LLFREE_E_SYSTEM, "socket(AF_UNIX): %s", strerror(errno));
        int r;
        do {
            r = connect(s, (struct sockaddr *)&address, sizeof address);
        } while (r < 0 && errno == EINTR);
        if (r == 0 && fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK) < 0) {
            int e = errno;
            close(s);
            return llf_fail(LLFREE_E_SYSTEM, "fcntl(F_SETFL): %s", strerror(e));
        }
        if (r == 0) {
            c->fd = s;
            c->recv_start = c->recv_end = 0;
            c->send_start = c->send_end = 0;
            break;
        }
        int e = errno;
        close(s);
        // Missing, not listening, or its backlog full: a daemon starting or restarting.
        bool transient = e == ENOENT || e == ECONNREFUSED || e == EAGAIN;
        bool forever = c->connect_timeout_ms < 0;
        if (!transient || (!forever && (!deadline || now_ms() >= deadline)))
            return llf_fail(LLFREE_E_CONNECT, "cannot connect to llfreed at %s: %s; nothing was sent", c->socket_path, strerror(e));
        pause_ms(backoff);
        if (backoff < 50) backoff *= 2;
    }
    c->in_handshake = true;
    llfree_status s = handshake_run(c);
    c->in_handshake = false;
    if (s != LLFREE_OK) llf_drop(c);
    return s;
}

/* ---- The public calls ---- */

LLFREE_API llfree_status llfree_connect(const llfree_connect_options *options, llfree_client **out) {
    llf_clear_message();
    llfree_connect_options defaults;
    llfree_connect_options_init(&defaults);
    const llfree_connect_options *o = options ? options : &defaults;
    if (!out) return llf_fail(LLFREE_E_INVALID_ARGUMENT, "client is NULL");
    if (o->size != sizeof *o)
        return llf_fail(LLFREE_E_INVALID_ARGUMENT, "options->size is %u, this library's options are %zu bytes (call llfree_connect_options_init)",
                        o->size, sizeof *o);
    if (o->flags & ~(uint32_t)(LLFREE_CONNECT_NO_CREATE | LLFREE_CONNECT_NO_FRAMES | LLFREE_CONNECT_OPEN_PATH))
        return llf_fail(LLFREE_E_INVALID_ARGUMENT, "options->flags 0x%x has unknown bits", o->flags);
    if (o->owner_kind != LLFREE_OWNER_PERSISTENT && o->owner_kind != LLFREE_OWNER_EPHEMERAL)
        return llf_fail(LLFREE_E_INVALID_ARGUMENT, "options->owner_kind %d is neither persistent (0) nor ephemeral (1)", (int)o->owner_kind);
    char path[LLFREE_MAX_PATH + 1];
    if (o->socket_path) snprintf(path, sizeof path, "%s", o->socket_path);
    else default_socket(path, sizeof path);
    size_t path_length = strlen(path);
    if (path_length == 0 || path_length >= sizeof ((struct sockaddr_un *)0)->sun_path)
        return llf_fail(LLFREE_E_INVALID_ARGUMENT, "socket path \"%s\" is not 1...%zu bytes", path,
                        sizeof ((struct sockaddr_un *)0)->sun_path - 1);
    size_t owner_length = o->owner ? strlen(o->owner) : 0;
    if (o->owner && (owner_length == 0 || owner_length > LLFREE_MAX_OWNER_NAME))
        return llf_fail(LLFREE_E_INVALID_ARGUMENT, "owner name \"%s\" is not 1...%d bytes", o->owner, LLFREE_MAX_OWNER_NAME);

    llfree_client *c = calloc(1, sizeof *c);
    uint8_t *recv_buffer = malloc(MAX_REPLY + RECV_SLACK);
    uint8_t *send_buffer = malloc(MAX_REQUEST);
    if (!c || !recv_buffer || !send_buffer) {
        free(c);
        free(recv_buffer);
        free(send_buffer);
        return llf_fail(LLFREE_E_NO_MEMORY, "cannot allocate the client's %u bytes of buffers", MAX_REPLY + RECV_SLACK + MAX_REQUEST);
    }
    pthread_mutex_init(&c->lock, NULL);
    memcpy(c->socket_path, path, path_length + 1);
    if (o->owner) memcpy(c->owner, o->owner, owner_length + 1);
    c->owner_length = owner_length;
    c->owner_kind = (uint8_t)o->owner_kind;
    c->flags = o->flags;
    c->quota = o->quota;
    c->connect_timeout_ms = o->connect_timeout_ms;
    c->io_timeout_ms = o->io_timeout_ms;
    c->fd = -1;
    c->passed_fd = -1;
    c->next_id = 1;
    c->frames.fd = -1;
    c->frames.source = LLFREE_FRAMES_NONE;
    c->frames_status = LLFREE_E_NOT_SUPPORTED;
    c->info.path = c->info_path;
    c->recv_buffer = recv_buffer;
    c->send_buffer = send_buffer;
    llfree_status s = llf_connect(c);
    if (s != LLFREE_OK) {
        llfree_close(c);
        return s;
    }
    *out = c;
    return LLFREE_OK;
}

LLFREE_API void llfree_close(llfree_client *c) {
    if (!c) return;
    llf_drop(c);
    if (c->frames.fd >= 0) close(c->frames.fd);
    pthread_mutex_destroy(&c->lock);
    free(c->recv_buffer);
    free(c->send_buffer);
    free(c);
}

LLFREE_API llfree_status llfree_pool_info_get(llfree_client *c, llfree_pool_info *info) {
    llf_clear_message();
    if (!c || !info) return llf_fail(LLFREE_E_INVALID_ARGUMENT, "%s is NULL", c ? "info" : "client");
    pthread_mutex_lock(&c->lock);
    *info = c->info;
    pthread_mutex_unlock(&c->lock);
    return LLFREE_OK;
}

LLFREE_API llfree_status llfree_attached(llfree_client *c, llfree_owner_record *owner) {
    llf_clear_message();
    if (!c || !owner) return llf_fail(LLFREE_E_INVALID_ARGUMENT, "%s is NULL", c ? "owner" : "client");
    pthread_mutex_lock(&c->lock);
    bool have = c->have_owner && c->owner_length;
    if (have) *owner = c->attached;
    pthread_mutex_unlock(&c->lock);
    if (!have) return llf_fail(LLFREE_E_NOT_SUPPORTED, "the client was connected without an owner: it acts for uid-%u", (unsigned)getuid());
    return LLFREE_OK;
}
