/*
 * get and put: the calls on the allocation path. A call longer than one request's batch is
 * split and pipelined; frames and results go straight between the caller's arrays and the
 * client's buffers, without allocating.
 */
#include "internal.h"

#include <stdio.h>

static size_t batches(size_t count) { return (count + LLFREE_MAX_BATCH - 1) / LLFREE_MAX_BATCH; }
static size_t batch_size(size_t count, size_t index) {
    size_t rest = count - index * LLFREE_MAX_BATCH;
    return rest < LLFREE_MAX_BATCH ? rest : LLFREE_MAX_BATCH;
}

/* ---- get ---- */

typedef struct {
    unsigned order;
    llfree_kind kind;
    size_t count;
    uint64_t *frames;
    size_t served;
    llfree_status shortfall;
    llfree_status refused;
    char refusal[300];
} get_call;

static size_t get_encode(llf_call *call, size_t index, uint64_t id, uint8_t *out, size_t room) {
    get_call *g = call->context;
    if (room < WIRE_HEADER + 8) return 0;
    wire_header(out, OP_GET, id, 8);
    out[16] = (uint8_t)g->order;
    out[17] = (uint8_t)g->kind;
    put16(out + 18, 0);
    put32(out + 20, (uint32_t)batch_size(g->count, index));
    return WIRE_HEADER + 8;
}

static llfree_status get_reply(llf_call *call, size_t index, uint16_t status, const uint8_t *b, size_t length) {
    get_call *g = call->context;
    if (status != 0) {
        if (g->refused == LLFREE_OK) {
            g->refused = (llfree_status)status;
            snprintf(g->refusal, sizeof g->refusal, "%.*s", (int)length, (const char *)b);
        }
        return LLFREE_OK;
    }
    size_t asked = batch_size(g->count, index);
    if (length < 8 || get32(b) > asked || length != 8u + 8u * get32(b))
        return llf_fail(LLFREE_E_PROTOCOL, "a get of %zu runs was answered with %zu bytes", asked, length);
    uint32_t served = get32(b);
    for (uint32_t i = 0; i < served; i++) g->frames[g->served + i] = get64(b + 8 + 8 * i);
    g->served += served;
    if (served < asked && g->shortfall == LLFREE_OK) g->shortfall = get16(b + 4) ? (llfree_status)get16(b + 4) : LLFREE_E_INTERNAL;
    return LLFREE_OK;
}

LLFREE_API llfree_status llfree_get(llfree_client *c, unsigned order, size_t count, llfree_kind kind, uint64_t *frames,
                                    size_t *served, llfree_status *shortfall) {
    llf_clear_message();
    if (!c || !frames || !served)
        return llf_fail(LLFREE_E_INVALID_ARGUMENT, "%s is NULL", !c ? "client" : !frames ? "frames" : "served");
    if (count == 0) return llf_fail(LLFREE_E_INVALID_ARGUMENT, "count is 0; a get asks for 1 run or more");
    if (order > 63) return llf_fail(LLFREE_E_INVALID_ARGUMENT, "order %u is above 63", order);
    if ((unsigned)kind > LLFREE_KIND_HUGE) return llf_fail(LLFREE_E_INVALID_ARGUMENT, "kind %d is not fixed (0), movable (1) or huge (2)", (int)kind);
    get_call g = {.order = order, .kind = kind, .count = count, .frames = frames};
    llf_call call = {.requests = batches(count), .encode = get_encode, .reply = get_reply, .context = &g};
    pthread_mutex_lock(&c->lock);
    llfree_status s = llf_run(c, &call);
    pthread_mutex_unlock(&c->lock);
    if (s == LLFREE_E_CONNECTION_LOST || s == LLFREE_E_TIMEOUT || s == LLFREE_E_PROTOCOL) {
        // The runs of the replies that arrived are the owner's: report them with the failure.
        *served = g.served;
        if (shortfall) *shortfall = s;
        return s;
    }
    if (s != LLFREE_OK) return s;
    if (g.refused != LLFREE_OK && g.served == 0)
        return llf_fail(g.refused, "llfreed refused the get: %s", g.refusal);
    *served = g.served;
    if (g.refused != LLFREE_OK && g.shortfall == LLFREE_OK) g.shortfall = g.refused;
    if (shortfall) *shortfall = g.served == count ? LLFREE_OK : g.shortfall;
    return LLFREE_OK;
}

/* ---- put ---- */

typedef struct {
    unsigned order;
    const uint64_t *frames;
    size_t count;
    llfree_status *results;
    size_t freed;
    llfree_status refused;
    char refusal[300];
} put_call;

static size_t put_encode(llf_call *call, size_t index, uint64_t id, uint8_t *out, size_t room) {
    put_call *p = call->context;
    size_t n = batch_size(p->count, index);
    size_t body = 8 + 8 * n;
    if (room < WIRE_HEADER + body) return 0;
    wire_header(out, OP_PUT, id, body);
    out[16] = (uint8_t)p->order;
    out[17] = 0;
    put16(out + 18, 0);
    put32(out + 20, (uint32_t)n);
    const uint64_t *frames = p->frames + index * LLFREE_MAX_BATCH;
    for (size_t i = 0; i < n; i++) put64(out + 24 + 8 * i, frames[i]);
    return WIRE_HEADER + body;
}

static void put_mark(put_call *p, size_t index, llfree_status status) {
    if (!p->results) return;
    size_t n = batch_size(p->count, index);
    for (size_t i = 0; i < n; i++) p->results[index * LLFREE_MAX_BATCH + i] = status;
}

static llfree_status put_reply(llf_call *call, size_t index, uint16_t status, const uint8_t *b, size_t length) {
    put_call *p = call->context;
    size_t n = batch_size(p->count, index);
    if (status != 0) {
        put_mark(p, index, (llfree_status)status);
        if (p->refused == LLFREE_OK) {
            p->refused = (llfree_status)status;
            snprintf(p->refusal, sizeof p->refusal, "%.*s", (int)length, (const char *)b);
        }
        return LLFREE_OK;
    }
    if (length != 8 + 2 * n || get32(b) != n) {
        put_mark(p, index, LLFREE_E_CONNECTION_LOST);
        return llf_fail(LLFREE_E_PROTOCOL, "a put of %zu runs was answered with %zu bytes", n, length);
    }
    for (size_t i = 0; i < n; i++) {
        uint16_t r = get16(b + 8 + 2 * i);
        if (r == 0) p->freed++;
        if (p->results) p->results[index * LLFREE_MAX_BATCH + i] = (llfree_status)r;
    }
    return LLFREE_OK;
}

static void put_lost(llf_call *call, size_t index, llfree_status status) {
    // Its reply will not come. After a refusal of the connection (a daemon code, id 0) the
    // request was not served; after a lost connection, a timeout or a garbled stream the runs
    // may or may not have been freed.
    put_mark(call->context, index, (unsigned)status < 0x10000u ? status : LLFREE_E_CONNECTION_LOST);
}

LLFREE_API llfree_status llfree_put(llfree_client *c, unsigned order, const uint64_t *frames, size_t count,
                                    llfree_status *results, size_t *freed) {
    llf_clear_message();
    if (!c || !frames) return llf_fail(LLFREE_E_INVALID_ARGUMENT, "%s is NULL", !c ? "client" : "frames");
    if (count == 0) return llf_fail(LLFREE_E_INVALID_ARGUMENT, "count is 0; a put frees 1 run or more");
    if (order > 63) return llf_fail(LLFREE_E_INVALID_ARGUMENT, "order %u is above 63", order);
    put_call p = {.order = order, .frames = frames, .count = count, .results = results};
    llf_call call = {.requests = batches(count), .encode = put_encode, .reply = put_reply, .lost = put_lost, .context = &p};
    pthread_mutex_lock(&c->lock);
    llfree_status s = llf_run(c, &call);
    pthread_mutex_unlock(&c->lock);
    // A failure before anything was sent (cannot connect, the handshake refused) leaves freed
    // as it was; after a lost connection it counts the runs known freed.
    if (freed && (s == LLFREE_OK || s == LLFREE_E_CONNECTION_LOST || s == LLFREE_E_TIMEOUT || s == LLFREE_E_PROTOCOL ||
                  (unsigned)s < 0x10000u))
        *freed = p.freed;
    if (s != LLFREE_OK) return s;
    if (p.refused != LLFREE_OK) return llf_fail(p.refused, "llfreed refused the put: %s", p.refusal);
    return LLFREE_OK;
}
