/*
 * The calls of one request each (is-free, list, release, root-get, root-set, stats, ping): a
 * fixed body, optionally an owner name after it, and a decoder of the reply's body.
 */
#include "internal.h"

#include <stdio.h>

typedef struct single {
    uint8_t op;
    const char *what;
    const uint8_t *body;
    size_t body_length;
    const char *name;
    size_t name_length;
    /* Decodes a status-0 reply's body into the call's outputs; LLFREE_E_PROTOCOL if it cannot. */
    llfree_status (*decode)(struct single *s, const uint8_t *b, size_t length);
    void *out;
    uint64_t limit;
    llfree_status refused;
    char refusal[300];
} single;

static size_t single_encode(llf_call *call, size_t index, uint64_t id, uint8_t *out, size_t room) {
    (void)index;
    single *s = call->context;
    size_t body = s->body_length + s->name_length;
    if (room < WIRE_HEADER + body) return 0;
    wire_header(out, s->op, id, body);
    if (s->body_length) memcpy(out + WIRE_HEADER, s->body, s->body_length);
    if (s->name_length) memcpy(out + WIRE_HEADER + s->body_length, s->name, s->name_length);
    return WIRE_HEADER + body;
}

static llfree_status single_reply(llf_call *call, size_t index, uint16_t status, const uint8_t *b, size_t length) {
    (void)index;
    single *s = call->context;
    if (status != 0) {
        s->refused = (llfree_status)status;
        snprintf(s->refusal, sizeof s->refusal, "%.*s", (int)length, (const char *)b);
        return LLFREE_OK;
    }
    return s->decode(s, b, length);
}

static llfree_status run_single(llfree_client *c, single *s) {
    llf_call call = {.requests = 1, .encode = single_encode, .reply = single_reply, .context = s};
    pthread_mutex_lock(&c->lock);
    llfree_status r = llf_run(c, &call);
    pthread_mutex_unlock(&c->lock);
    if (r != LLFREE_OK) return r;
    if (s->refused != LLFREE_OK) return llf_fail(s->refused, "llfreed refused the %s: %s", s->what, s->refusal);
    return LLFREE_OK;
}

static llfree_status bad_length(single *s, size_t length) {
    return llf_fail(LLFREE_E_PROTOCOL, "a %s was answered with a body of %zu bytes", s->what, length);
}

/* An owner name argument: NULL or "" for the connection's own. */
static llfree_status owner_name(const char *owner, size_t *length) {
    *length = owner ? strlen(owner) : 0;
    if (*length > LLFREE_MAX_OWNER_NAME)
        return llf_fail(LLFREE_E_INVALID_ARGUMENT, "owner name \"%s\" is longer than %d bytes", owner, LLFREE_MAX_OWNER_NAME);
    return LLFREE_OK;
}

#define REQUIRE(condition, ...) \
    do { \
        if (!(condition)) return llf_fail(LLFREE_E_INVALID_ARGUMENT, __VA_ARGS__); \
    } while (0)

/* ---- is-free ---- */

static llfree_status is_free_decode(single *s, const uint8_t *b, size_t length) {
    if (length != 8 || b[0] > 1) return bad_length(s, length);
    *(bool *)s->out = b[0] == 1;
    return LLFREE_OK;
}

LLFREE_API llfree_status llfree_is_free(llfree_client *c, uint64_t frame, unsigned order, bool *is_free) {
    llf_clear_message();
    REQUIRE(c && is_free, "%s is NULL", !c ? "client" : "is_free");
    REQUIRE(order <= 63, "order %u is above 63", order);
    uint8_t body[16] = {(uint8_t)order};
    put64(body + 8, frame);
    bool answer = false;
    single s = {.op = OP_IS_FREE, .what = "is-free", .body = body, .body_length = 16, .decode = is_free_decode, .out = &answer};
    llfree_status r = run_single(c, &s);
    if (r == LLFREE_OK) *is_free = answer;
    return r;
}

/* ---- list ---- */

typedef struct {
    uint64_t *runs;
    size_t count;
    uint64_t next;
} list_out;

static llfree_status list_decode(single *s, const uint8_t *b, size_t length) {
    if (length < 16 || get32(b + 8) > s->limit || length != 16u + 8u * get32(b + 8)) return bad_length(s, length);
    list_out *o = s->out;
    o->next = get64(b);
    o->count = get32(b + 8);
    for (size_t i = 0; i < o->count; i++) o->runs[i] = get64(b + 16 + 8 * i);
    return LLFREE_OK;
}

LLFREE_API llfree_status llfree_list(llfree_client *c, const char *owner, uint64_t from, uint32_t limit, uint64_t *runs,
                                     size_t *count, uint64_t *next) {
    llf_clear_message();
    REQUIRE(c && runs && count && next, "%s is NULL", !c ? "client" : !runs ? "runs" : !count ? "count" : "next");
    REQUIRE(limit >= 1 && limit <= LLFREE_MAX_BATCH, "limit %u is outside 1...%d", limit, LLFREE_MAX_BATCH);
    size_t name_length;
    llfree_status r = owner_name(owner, &name_length);
    if (r != LLFREE_OK) return r;
    uint8_t body[16] = {0};
    put64(body, from);
    put32(body + 8, limit);
    put16(body + 12, (uint16_t)name_length);
    list_out o = {.runs = runs};
    single s = {.op = OP_LIST, .what = "list", .body = body, .body_length = 16, .name = owner, .name_length = name_length,
                .decode = list_decode, .out = &o, .limit = limit};
    r = run_single(c, &s);
    if (r == LLFREE_OK) {
        *count = o.count;
        *next = o.next;
    }
    return r;
}

/* ---- release ---- */

static llfree_status release_decode(single *s, const uint8_t *b, size_t length) {
    if (length != 16) return bad_length(s, length);
    uint64_t *o = s->out;
    o[0] = get64(b);
    o[1] = get64(b + 8);
    return LLFREE_OK;
}

LLFREE_API llfree_status llfree_release(llfree_client *c, const char *owner, uint64_t *runs_freed, uint64_t *frames_freed) {
    llf_clear_message();
    REQUIRE(c, "client is NULL");
    size_t name_length;
    llfree_status r = owner_name(owner, &name_length);
    if (r != LLFREE_OK) return r;
    uint8_t body[8] = {0};
    put16(body, (uint16_t)name_length);
    uint64_t o[2] = {0, 0};
    single s = {.op = OP_RELEASE, .what = "release", .body = body, .body_length = 8, .name = owner, .name_length = name_length,
                .decode = release_decode, .out = o};
    r = run_single(c, &s);
    if (r == LLFREE_OK) {
        if (runs_freed) *runs_freed = o[0];
        if (frames_freed) *frames_freed = o[1];
    }
    return r;
}

/* ---- root-get, root-set ---- */

static llfree_status root_decode(single *s, const uint8_t *b, size_t length) {
    if (length != LLFREE_ROOT_SIZE) return bad_length(s, length);
    memcpy(s->out, b, LLFREE_ROOT_SIZE);
    return LLFREE_OK;
}

LLFREE_API llfree_status llfree_root_get(llfree_client *c, uint8_t root[LLFREE_ROOT_SIZE]) {
    llf_clear_message();
    REQUIRE(c && root, "%s is NULL", !c ? "client" : "root");
    uint8_t value[LLFREE_ROOT_SIZE];
    single s = {.op = OP_ROOT_GET, .what = "root-get", .decode = root_decode, .out = value};
    llfree_status r = run_single(c, &s);
    if (r == LLFREE_OK) memcpy(root, value, LLFREE_ROOT_SIZE);
    return r;
}

static llfree_status swap_decode(single *s, const uint8_t *b, size_t length) {
    if (length != 8 + LLFREE_ROOT_SIZE || b[0] > 1) return bad_length(s, length);
    memcpy(s->out, b, 8 + LLFREE_ROOT_SIZE);
    return LLFREE_OK;
}

LLFREE_API llfree_status llfree_root_cas(llfree_client *c, const uint8_t expected[LLFREE_ROOT_SIZE],
                                         const uint8_t desired[LLFREE_ROOT_SIZE], bool *swapped, uint8_t current[LLFREE_ROOT_SIZE]) {
    llf_clear_message();
    REQUIRE(c && expected && desired && swapped, "%s is NULL", !c ? "client" : !expected ? "expected" : !desired ? "desired" : "swapped");
    uint8_t body[2 * LLFREE_ROOT_SIZE];
    memcpy(body, expected, LLFREE_ROOT_SIZE);
    memcpy(body + LLFREE_ROOT_SIZE, desired, LLFREE_ROOT_SIZE);
    uint8_t reply[8 + LLFREE_ROOT_SIZE];
    single s = {.op = OP_ROOT_SET, .what = "root-set", .body = body, .body_length = sizeof body, .decode = swap_decode, .out = reply};
    llfree_status r = run_single(c, &s);
    if (r == LLFREE_OK) {
        *swapped = reply[0] == 1;
        if (current) memcpy(current, reply + 8, LLFREE_ROOT_SIZE);
    }
    return r;
}

/* ---- stats ---- */

static llfree_status stats_decode(single *s, const uint8_t *b, size_t length) {
    if (length < 136 || b[128] > 64 || length != 136u + 8u * b[128]) return bad_length(s, length);
    llfree_stats *o = s->out;
    memset(o, 0, sizeof *o);
    o->frames = get64(b);
    o->free_frames = get64(b + 8);
    o->free_huge_frames = get64(b + 16);
    o->connections_admitted = get64(b + 24);
    o->connections_refused = get64(b + 32);
    o->requests_answered = get64(b + 40);
    o->frames_allocated = get64(b + 48);
    o->frames_freed = get64(b + 56);
    o->errors = get64(b + 64);
    o->connections_open = get32(b + 72);
    o->trees = get32(b + 76);
    o->trees_free = get32(b + 80);
    o->trees_allocated = get32(b + 84);
    o->trees_partial = get32(b + 88);
    o->trees_reserved = get32(b + 92);
    for (int i = 0; i < 8; i++) o->trees_by_fill[i] = get32(b + 96 + 4 * i);
    o->orders = b[128];
    for (uint32_t i = 0; i < o->orders; i++) o->free_runs[i] = get64(b + 136 + 8 * i);
    return LLFREE_OK;
}

LLFREE_API llfree_status llfree_stats_get(llfree_client *c, llfree_stats *stats) {
    llf_clear_message();
    REQUIRE(c && stats, "%s is NULL", !c ? "client" : "stats");
    llfree_stats value;
    single s = {.op = OP_STATS, .what = "stats", .decode = stats_decode, .out = &value};
    llfree_status r = run_single(c, &s);
    if (r == LLFREE_OK) *stats = value;
    return r;
}

/* ---- ping ---- */

static llfree_status ping_decode(single *s, const uint8_t *b, size_t length) {
    (void)b;
    return length == 0 ? LLFREE_OK : bad_length(s, length);
}

LLFREE_API llfree_status llfree_ping(llfree_client *c) {
    llf_clear_message();
    REQUIRE(c, "client is NULL");
    single s = {.op = OP_PING, .what = "ping", .decode = ping_decode};
    return run_single(c, &s);
}
