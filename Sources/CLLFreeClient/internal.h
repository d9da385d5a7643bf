/*
 * What the library's files share and the public header does not show: the client's state, the
 * wire constants, the little-endian codec, the message setter, and the call engine's interface.
 */
#ifndef LLFREE_CLIENT_INTERNAL_H
#define LLFREE_CLIENT_INTERNAL_H

#include "llfree/client.h"

#include <pthread.h>
#include <stdarg.h>
#include <string.h>

/* ---- Wire (docs/protocol.md) ---- */

#define WIRE_HEADER 16u
/* The length field counts 12 header bytes plus the body; the largest body is 262132. */
#define WIRE_MAX_LENGTH (256u * 1024u)
#define WIRE_FRAMING 1u
#define WIRE_PROTOCOL_MIN 1u
/* 3: version 2 plus op frames (0x10). */
#define WIRE_PROTOCOL_MAX 3u

enum {
    OP_HELLO = 0x01, OP_GET = 0x02, OP_PUT = 0x03, OP_IS_FREE = 0x04, OP_STATS = 0x05, OP_PING = 0x06,
    OP_ATTACH = 0x07, OP_LIST = 0x08, OP_RELEASE = 0x09, OP_ROOT_GET = 0x0A, OP_ROOT_SET = 0x0B,
    OP_FRAMES = 0x10, OP_REPLY = 0x80, OP_FRAMING_ERROR = 0xFF
};

/* The largest request this client sends: a put of LLFREE_MAX_BATCH runs. */
#define MAX_REQUEST (WIRE_HEADER + 8u + 8u * LLFREE_MAX_BATCH)
/* The largest reply it accepts: a get or list of LLFREE_MAX_BATCH runs (16 bytes more than a
 * get's), which is larger than a hello (60 + 4096), stats (136 + 8 * 64) or an error (1024). */
#define MAX_REPLY (WIRE_HEADER + 16u + 8u * LLFREE_MAX_BATCH)
/* Room a recv is given beyond one whole reply, so that small replies are read many at a time. */
#define RECV_SLACK (64u * 1024u)

static inline void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | (uint16_t)p[1] << 8); }
static inline uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

/* Writes a request header for a body of `body` bytes; returns the header's size. */
static inline size_t wire_header(uint8_t *p, uint8_t op, uint64_t id, size_t body) {
    put32(p, (uint32_t)(12u + body));
    p[4] = WIRE_FRAMING;
    p[5] = op;
    put16(p + 6, 0);
    put64(p + 8, id);
    return WIRE_HEADER;
}

/* ---- The client ---- */

struct llfree_client {
    pthread_mutex_t lock;
    /* Options, copied. */
    char socket_path[108];
    char owner[LLFREE_MAX_OWNER_NAME + 1];
    size_t owner_length;        /* 0: no attach */
    uint8_t owner_kind;
    uint32_t flags;
    uint64_t quota;
    int32_t connect_timeout_ms;
    int32_t io_timeout_ms;

    /* The connection: -1 when there is none (the next call connects). */
    int fd;
    uint64_t next_id;
    /* A descriptor that arrived as SCM_RIGHTS and was not yet taken by a frames reply. */
    int passed_fd;
    /* Set while a frames request is in flight: any other descriptor is closed on arrival. */
    bool expect_descriptor;
    /* Set while a handshake runs: a broken connection then fails the handshake instead of
     * connecting again from inside it. */
    bool in_handshake;

    /* What the latest handshake learned. */
    bool have_info;
    llfree_pool_info info;
    char info_path[LLFREE_MAX_PATH + 1]; /* info.path points here */
    bool have_owner;
    llfree_owner_record attached;

    /* The frames object (see llfree_frames_get) and, without one, why. */
    llfree_frames frames;
    llfree_status frames_status;
    char frames_message[256];

    /* Received bytes not yet taken as replies: recv_buffer[recv_start, recv_end). */
    size_t recv_start, recv_end;
    uint8_t *recv_buffer;       /* MAX_REPLY + RECV_SLACK bytes */
    /* Encoded requests not yet sent: send_buffer[send_start, send_end). */
    size_t send_start, send_end;
    uint8_t *send_buffer;       /* MAX_REQUEST bytes */
};

/* ---- Messages (errors.c) ---- */

/* Sets this thread's message to the formatted text and returns `status`. */
llfree_status llf_fail(llfree_status status, const char *format, ...) __attribute__((format(printf, 2, 3)));
/* Clears this thread's message. */
void llf_clear_message(void);
/* This thread's message buffer, for text appended to what llf_fail wrote. */
const char *llf_message(void);

/* ---- The call engine (exchange.c) ---- */

/* One call: `requests` requests sent pipelined, their replies handed back in order. */
typedef struct llf_call {
    size_t requests;
    /* Encodes request `index` with id `id` into `out`; returns its size, or 0 if it needs more
     * than `room` bytes (it never needs more than MAX_REQUEST). */
    size_t (*encode)(struct llf_call *call, size_t index, uint64_t id, uint8_t *out, size_t room);
    /* Takes the reply to request `index`: status 0 with its body, or an error reply's status and
     * message. Returns LLFREE_OK, or an error to report for that request (a reply whose body
     * does not fit its op: LLFREE_E_PROTOCOL ends the call and drops the connection). */
    llfree_status (*reply)(struct llf_call *call, size_t index, uint16_t status, const uint8_t *body, size_t length);
    /* Called for each request whose reply will not come (the connection broke or the time ran
     * out after it was sent, or a refusal with id 0 ended the stream): `status` says why. */
    void (*lost)(struct llf_call *call, size_t index, llfree_status status);
    void *context;
} llf_call;

/* Runs `call` on the client's connection (connecting first if there is none; reconnecting once
 * if the connection is found closed before any byte was sent). Returns LLFREE_OK when every
 * request was answered (the reply callback's own errors are the caller's to collect), else why
 * the call failed: nothing sent (connect errors), or the requests in flight were lost. The
 * client's lock is held by the caller. */
llfree_status llf_run(llfree_client *client, llf_call *call);

/* Drops the connection (closing its socket and any descriptor not yet taken). */
void llf_drop(llfree_client *client);

/* ---- Connecting (connection.c) ---- */

/* Connects a new socket and performs the handshake (hello, attach, frames). */
llfree_status llf_connect(llfree_client *client);

/* ---- The frames object (frames.c) ---- */

/* After a handshake: fetches or opens the frames object if the client has none yet. */
void llf_acquire_frames(llfree_client *client);

/* Checks `info` of a new connection against the frames object held from an earlier one. */
llfree_status llf_check_same_pool(llfree_client *client, const llfree_pool_info *info);

/* Decodes a hello reply body into `info`, its path into `path` (LLFREE_MAX_PATH + 1 bytes). */
llfree_status llf_decode_hello(const uint8_t *body, size_t length, llfree_pool_info *info, char *path);

#endif
