/*
 * llfree/client.h - the C client of llfreed, the persistent page-frame allocator daemon.
 *
 * libllfree-client talks the llfreed wire protocol (docs/protocol.md) over the daemon's Unix
 * socket: it gets and puts runs of 4 KiB frames, lists what an owner holds, reads and swaps the
 * owner's root value, and maps frames of the pool into this process. Every call blocks the
 * calling thread until its replies arrived (or its time ran out); batches are pipelined.
 *
 * Conventions, for every function below:
 *
 *   - The return value is an llfree_status: LLFREE_OK (0) or an error. Nothing aborts, prints or
 *     raises a signal (sends use MSG_NOSIGNAL). After an error, llfree_last_message() gives a
 *     sentence naming what was wrong (thread-local, valid until this thread's next call).
 *   - Output arguments are written only as each function says; on an error they are unchanged
 *     unless the function says otherwise (get and put report what was done before a lost
 *     connection).
 *   - Codes 1...65535 are the daemon's (the status of its error reply, the shortfall of a get,
 *     a put's per-run result: the same numbers as on the wire); codes from 0x10000 on are the
 *     client's own. A daemon code this header does not name is passed through as its number.
 *   - "Nothing was sent" means the daemon saw no byte of the call: it changed nothing.
 *
 * Reconnecting. A connection the daemon closed (it restarted) is found when the next call sends
 * on it. If not one byte of that call had been written, the call connects again (hello, attach
 * to the same owner) and sends on the new connection, once. A call whose requests were written
 * (wholly or in part) and whose replies did not all arrive fails with LLFREE_E_CONNECTION_LOST
 * (or LLFREE_E_TIMEOUT) and is never sent again: it may have been served. Reconcile with
 * llfree_list (see docs/protocol.md, "Durability, crashes and reconnecting"). The next call
 * connects again.
 *
 * Threads. An llfree_client holds a mutex for the whole of each call: calls from several
 * threads on one client are safe and run one after another (each call's batches still
 * pipeline). Uncontended the mutex costs about 13 ns against a round trip of 12 us or more, so
 * a client that one thread uses at a time loses nothing by it; threads that call at once
 * should each have a client: their round trips then overlap (two threads pinging: 1.0 to 6.8
 * times the pings per second of two threads sharing one client; README, "The C client"). The
 * per-thread message makes error reporting safe either way. llfree_close must not run while
 * another thread uses the client.
 *
 * Memory. llfree_connect allocates the client (about 320 KiB of buffers: one whole request and
 * one whole reply of the largest size). No other call allocates: get, put and list fill arrays
 * the caller passes in.
 *
 * Link with `pkg-config --cflags --libs llfree-client`.
 */
#ifndef LLFREE_CLIENT_H
#define LLFREE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(LLFREE_CLIENT_BUILDING)
#define LLFREE_API __attribute__((visibility("default")))
#else
#define LLFREE_API
#endif

/** The library's version: major changes only with an incompatible ABI (the soname's number). */
#define LLFREE_CLIENT_VERSION_MAJOR 1
#define LLFREE_CLIENT_VERSION_MINOR 0
#define LLFREE_CLIENT_VERSION_PATCH 0

/** Runs per get or put request on the wire; longer calls are split and pipelined. */
#define LLFREE_MAX_BATCH 16384
/** Bytes of an owner name, at most. */
#define LLFREE_MAX_OWNER_NAME 64
/** Bytes of the pool path hello reports, at most. */
#define LLFREE_MAX_PATH 4096
/** Bytes of an owner's root value. */
#define LLFREE_ROOT_SIZE 64
/** llfree_list's `next` when the page was the last. */
#define LLFREE_LIST_END UINT64_MAX

/** A listed run is `frame | order << 56`. */
#define LLFREE_RUN_FRAME(run) ((uint64_t)(run) & ((UINT64_C(1) << 56) - 1))
#define LLFREE_RUN_ORDER(run) ((unsigned)((uint64_t)(run) >> 56))

/** Why a call (or one run of a put, or the end of a get) did not succeed. */
typedef enum llfree_status {
    LLFREE_OK = 0,
    /* The daemon's codes (docs/protocol.md, "Error codes"). */
    LLFREE_E_MALFORMED = 1,            /**< the request's body was refused as malformed */
    LLFREE_E_UNSUPPORTED_VERSION = 2,  /**< no protocol version in common */
    LLFREE_E_UNKNOWN_OPERATION = 3,    /**< the daemon does not know this operation */
    LLFREE_E_TOO_LARGE = 4,            /**< framing: a message too large (connection closed) */
    LLFREE_E_TOO_SHORT = 5,            /**< framing: a message too short (connection closed) */
    LLFREE_E_INVALID_ORDER = 6,        /**< order above the pool's limit */
    LLFREE_E_INVALID_COUNT = 7,        /**< count or limit outside what the daemon takes */
    LLFREE_E_INVALID_KIND = 8,         /**< kind not known */
    LLFREE_E_INVALID_FRAME = 9,        /**< a run not inside the pool */
    LLFREE_E_MISALIGNED = 10,          /**< a frame not a multiple of 2^order */
    LLFREE_E_OUT_OF_MEMORY = 11,       /**< no free run of that order (get shortfall) */
    LLFREE_E_NOT_ALLOCATED = 12,       /**< put of a run not allocated with that order */
    LLFREE_E_ACCESS_DENIED = 13,       /**< this peer is not admitted (connection closed) */
    LLFREE_E_SHUTTING_DOWN = 14,       /**< the daemon is stopping; the request was not served */
    LLFREE_E_INTERNAL = 15,            /**< a fault of the daemon */
    LLFREE_E_NOT_OWNER = 16,           /**< put of a run another owner holds */
    LLFREE_E_QUOTA_EXCEEDED = 17,      /**< a get limited by the owner's quota (get shortfall) */
    LLFREE_E_UNKNOWN_OWNER = 18,       /**< no owner of that name */
    LLFREE_E_NOT_PERMITTED = 19,       /**< this peer may not act for that owner */
    LLFREE_E_NOT_ATTACHED = 20,        /**< reserved by the protocol, never sent */
    LLFREE_E_OWNER_TABLE_FULL = 21,    /**< no owner can be created */
    LLFREE_E_OWNER_BUSY = 22,          /**< the owner exists with another kind, or is in use */
    /* The client's codes. */
    LLFREE_E_INVALID_ARGUMENT = 0x10000, /**< refused before anything was sent */
    LLFREE_E_CONNECT = 0x10001,          /**< no daemon could be reached; nothing was sent */
    LLFREE_E_CONNECTION_LOST = 0x10002,  /**< the connection broke with the call in flight: it may have been served */
    LLFREE_E_TIMEOUT = 0x10003,          /**< the call's time ran out with it in flight: it may have been served; the connection was dropped */
    LLFREE_E_PROTOCOL = 0x10004,         /**< the daemon's bytes do not follow the protocol; the connection was dropped */
    LLFREE_E_NOT_SUPPORTED = 0x10005,    /**< the daemon (or this connection) does not offer it */
    LLFREE_E_NOT_THE_POOL = 0x10006,     /**< the file or descriptor is not the pool the daemon serves; nothing was mapped */
    LLFREE_E_SYSTEM = 0x10007,           /**< a system call failed (the message names it and errno) */
    LLFREE_E_NO_MEMORY = 0x10008         /**< the client could not be allocated */
} llfree_status;

/** Which kind of tree a get takes its runs from (orders >= 9 are always huge). */
typedef enum llfree_kind {
    LLFREE_KIND_FIXED = 0,
    LLFREE_KIND_MOVABLE = 1,
    LLFREE_KIND_HUGE = 2
} llfree_kind;

/** How long an owner's frames live. */
typedef enum llfree_owner_kind {
    LLFREE_OWNER_PERSISTENT = 0, /**< until put or released: across crashes and restarts */
    LLFREE_OWNER_EPHEMERAL = 1   /**< also freed when the owner's last connection closes */
} llfree_owner_kind;

/** How the daemon makes the pool durable (hello's durability byte). */
typedef enum llfree_durability {
    LLFREE_DURABILITY_VOLATILE = 0,
    LLFREE_DURABILITY_PMEM = 1,
    LLFREE_DURABILITY_MSYNC = 2,
    LLFREE_DURABILITY_CPU_CACHE = 3
} llfree_durability;

/** llfree_connect_options.flags */
enum {
    /** Attach only to an existing owner (LLFREE_E_UNKNOWN_OWNER otherwise). */
    LLFREE_CONNECT_NO_CREATE = 1u << 0,
    /** Do not ask for the frames descriptor: llfree_map will not work, connect is one round
     *  trip shorter. */
    LLFREE_CONNECT_NO_FRAMES = 1u << 1,
    /** If the daemon offers no frames descriptor (older than protocol version 3), open the
     *  pool file at the path hello reports instead (this process must be allowed to open it). */
    LLFREE_CONNECT_OPEN_PATH = 1u << 2
};

/** What llfree_connect is to do. Initialise with llfree_connect_options_init, then set fields. */
typedef struct llfree_connect_options {
    /** sizeof(llfree_connect_options), set by llfree_connect_options_init: lets later versions
     *  of the library add fields at the end. */
    uint32_t size;
    /** LLFREE_CONNECT_* */
    uint32_t flags;
    /** The daemon's socket. NULL: $LLFREED_SOCKET, else /run/llfreed/llfreed.sock for root,
     *  else $XDG_RUNTIME_DIR/llfreed.sock, else /tmp/llfreed-UID/llfreed.sock. */
    const char *socket_path;
    /** The owner every connection attaches to (1...64 bytes of UTF-8, no NUL), created with
     *  owner_kind and quota unless LLFREE_CONNECT_NO_CREATE. NULL: act for the owner named
     *  uid-UID after this process's uid, without attaching. */
    const char *owner;
    llfree_owner_kind owner_kind;
    /** Frames the owner may hold if this attach creates it; 0: no quota. */
    uint64_t quota;
    /** How long connecting may keep trying while the socket is missing, refuses, or its listen
     *  backlog is full (a daemon restarting): milliseconds; 0: try once; -1: no limit. Default 0. */
    int32_t connect_timeout_ms;
    /** How long one call may take, from its first byte sent to its last reply: milliseconds;
     *  0: no limit (default). A call that runs out fails with LLFREE_E_TIMEOUT. */
    int32_t io_timeout_ms;
} llfree_connect_options;

/** The pool, as hello described it. */
typedef struct llfree_pool_info {
    uint16_t version;        /**< protocol version negotiated: 2, or 3 with the frames descriptor */
    uint8_t durability;      /**< llfree_durability */
    uint8_t max_order;       /**< the largest order a get can be served in this pool */
    uint32_t frame_size;     /**< bytes per frame (4096) */
    uint64_t frames;         /**< frames in the pool */
    uint64_t frames_offset;  /**< byte offset of frame 0 in the pool file */
    uint32_t children;       /**< 2 MiB regions */
    uint32_t tree_children;  /**< children per tree */
    uint32_t trees;
    uint32_t max_batch;      /**< runs per request (16384) */
    uint16_t cores;          /**< the daemon's allocator cores */
    /** 1 for a single-file pool, whose frames share the file (and any mapping of it) with the
     *  allocator's metadata; 0 for a split pool (protocol version 3 says; 1 before it). */
    uint8_t metadata_reachable;
    uint8_t uuid[16];        /**< the pool's UUID */
    /** The absolute path of the object holding the frames (a split pool's frames object, or
     *  the pool file), NUL-terminated, held by the client: valid until llfree_close (copy it
     *  to keep it longer). */
    const char *path;
} llfree_pool_info;

/** The owner a connection acts for, as its attach reported it. */
typedef struct llfree_owner_record {
    uint16_t id;             /**< owner number (0: the legacy owner of a pool without owners) */
    uint8_t kind;            /**< llfree_owner_kind */
    uint8_t created;         /**< 1 if this attach created it */
    uint32_t connections;    /**< connections attached to it now */
    uint64_t held;           /**< frames it holds */
    uint64_t quota;          /**< frames it may hold; 0: none */
    uint32_t uid;            /**< the uid that may act for it */
    uint32_t gid;            /**< the gid whose members may act for it; UINT32_MAX: none */
    char name[LLFREE_MAX_OWNER_NAME + 1]; /**< NUL-terminated */
} llfree_owner_record;

/** A snapshot of the pool and the daemon's counters (docs/protocol.md, stats). */
typedef struct llfree_stats {
    uint64_t frames;
    uint64_t free_frames;
    uint64_t free_huge_frames;
    uint64_t connections_admitted;
    uint64_t connections_refused;
    uint64_t requests_answered;
    uint64_t frames_allocated;
    uint64_t frames_freed;
    uint64_t errors;
    uint32_t connections_open;
    uint32_t trees;
    uint32_t trees_free;
    uint32_t trees_allocated;
    uint32_t trees_partial;
    uint32_t trees_reserved;
    uint32_t trees_by_fill[8];  /**< partly allocated trees by allocated fraction, in eighths */
    uint32_t orders;            /**< entries of free_runs that are set */
    uint64_t free_runs[64];     /**< free naturally aligned runs of order 0, 1, ... orders-1 */
} llfree_stats;

/** Where a client's frames can be mapped from. */
enum {
    LLFREE_FRAMES_NONE = 0,       /**< nowhere: see llfree_frames's status */
    LLFREE_FRAMES_DESCRIPTOR = 1, /**< the descriptor the daemon passed (protocol version 3) */
    LLFREE_FRAMES_PATH = 2        /**< the pool file opened at hello's path (LLFREE_CONNECT_OPEN_PATH) */
};

/** The frames object of a client: fd maps frame f at frames_offset + f * frame_size. */
typedef struct llfree_frames {
    int fd;                  /**< owned by the client (close-on-exec); -1 with LLFREE_FRAMES_NONE */
    uint8_t source;          /**< LLFREE_FRAMES_* */
    uint8_t access;          /**< 1 read-only, 2 read-write */
    /** 0 single-file pool (fd also reaches the metadata), 1 split pool (the frames object only);
     *  for hello's path: 1 unless metadata_reachable */
    uint8_t layout;
    uint32_t frame_size;
    uint64_t frames_offset;
    uint64_t frames;
    uint8_t uuid[16];        /**< checked against bytes 16...31 of the object before each map */
} llfree_frames;

/** llfree_map's prot */
enum {
    LLFREE_MAP_READ = 1,
    LLFREE_MAP_WRITE = 2
};

/** An open connection (opaque). */
typedef struct llfree_client llfree_client;

/* ---- Errors ---------------------------------------------------------------------------- */

/** A short name of `status` ("out of memory", "connection lost"); never NULL, static. */
LLFREE_API const char *llfree_strerror(llfree_status status);

/** The message of this thread's last failed call, naming what was wrong (the argument, the
 *  system call and errno, the daemon's reason); "" if it has none. Valid until this thread's
 *  next call into the library. */
LLFREE_API const char *llfree_last_message(void);

/* ---- Connecting ------------------------------------------------------------------------ */

/** Fills `options` with the defaults: the default socket, no owner (uid-UID), persistent,
 *  create, no quota, fetch the frames descriptor, no fallback to the path, connect once, no
 *  call time limit. */
LLFREE_API void llfree_connect_options_init(llfree_connect_options *options);

/**
 * Connects to llfreed and prepares the connection: hello (protocol versions 1...3), attach to
 * options->owner if given, then, when version 3 was negotiated and LLFREE_CONNECT_NO_FRAMES is
 * not set, fetches the frames descriptor (op frames). Without the descriptor (daemon older
 * than version 3, or it refused) and with LLFREE_CONNECT_OPEN_PATH, opens the pool file at
 * hello's path (read-write, else read-only). A descriptor that cannot be had is not an error of
 * connect: llfree_frames and llfree_map report why.
 *
 * options: NULL for the defaults (see llfree_connect_options_init); its strings are copied.
 * client:  receives the new client on success; unchanged otherwise.
 *
 * Errors: LLFREE_E_INVALID_ARGUMENT (a socket path longer than sun_path, an owner name not
 * 1...64 bytes, an owner kind or options->size unknown); LLFREE_E_CONNECT (no socket there,
 * nothing listening, backlog full until connect_timeout_ms; the message has errno);
 * LLFREE_E_ACCESS_DENIED (the daemon does not admit this peer; the message has its reason);
 * LLFREE_E_UNKNOWN_OWNER, LLFREE_E_NOT_PERMITTED, LLFREE_E_OWNER_BUSY, LLFREE_E_OWNER_TABLE_FULL
 * (the attach was refused); LLFREE_E_NOT_SUPPORTED (the daemon speaks no version 2: no owners);
 * LLFREE_E_CONNECTION_LOST, LLFREE_E_TIMEOUT, LLFREE_E_PROTOCOL (during the handshake);
 * LLFREE_E_SYSTEM (socket(2) failed); LLFREE_E_NO_MEMORY.
 */
LLFREE_API llfree_status llfree_connect(const llfree_connect_options *options, llfree_client **client);

/** Closes the connection and the frames descriptor and frees the client. Mappings made by
 *  llfree_map stay valid (munmap them, or llfree_unmap before closing). NULL is ignored. */
LLFREE_API void llfree_close(llfree_client *client);

/**
 * The pool as hello described it on the client's latest connection (no round trip).
 * Errors: LLFREE_E_INVALID_ARGUMENT (a NULL argument).
 */
LLFREE_API llfree_status llfree_pool_info_get(llfree_client *client, llfree_pool_info *info);

/**
 * The owner the client acts for, as its latest attach reported it (no round trip).
 * Errors: LLFREE_E_INVALID_ARGUMENT (a NULL argument); LLFREE_E_NOT_SUPPORTED (connected without
 * an owner: the client acts for uid-UID).
 */
LLFREE_API llfree_status llfree_attached(llfree_client *client, llfree_owner_record *owner);

/* ---- Frames ---------------------------------------------------------------------------- */

/**
 * Allocates `count` naturally aligned runs of 2^order frames for the client's owner and writes
 * the first frame of each into frames[0...]. A count above LLFREE_MAX_BATCH is split into
 * requests sent pipelined. The daemon may serve fewer runs than asked; that is not an error.
 *
 * order:     0...max_order of llfree_pool_info (higher orders within the pool's geometry are
 *            served nothing with LLFREE_E_OUT_OF_MEMORY).
 * count:     runs wanted, >= 1.
 * kind:      llfree_kind.
 * frames:    room for `count` frame numbers.
 * served:    receives the runs obtained, 0...count (also on LLFREE_E_CONNECTION_LOST and
 *            LLFREE_E_TIMEOUT: the runs of the replies that arrived, which are the owner's).
 * shortfall: may be NULL; receives LLFREE_OK if served == count, else why the first short batch
 *            stopped: LLFREE_E_OUT_OF_MEMORY, LLFREE_E_QUOTA_EXCEEDED or LLFREE_E_INTERNAL, or,
 *            when a later request of a split get was refused after earlier ones were served,
 *            that refusal (LLFREE_E_SHUTTING_DOWN, say); after the three errors below, the
 *            error.
 *
 * Errors (nothing allocated unless said): LLFREE_E_INVALID_ARGUMENT (count 0, order > 63, kind
 * unknown, a NULL array); the daemon's refusal (LLFREE_E_INVALID_ORDER, LLFREE_E_NOT_PERMITTED,
 * LLFREE_E_OWNER_BUSY, LLFREE_E_OWNER_TABLE_FULL of the implicit owner, LLFREE_E_SHUTTING_DOWN);
 * LLFREE_E_CONNECT (nothing sent); LLFREE_E_CONNECTION_LOST, LLFREE_E_TIMEOUT,
 * LLFREE_E_PROTOCOL (the requests were sent: runs beyond *served may have been allocated for the
 * owner; find them with llfree_list).
 */
LLFREE_API llfree_status llfree_get(llfree_client *client, unsigned order, size_t count, llfree_kind kind,
                                    uint64_t *frames, size_t *served, llfree_status *shortfall);

/**
 * Frees `count` runs of 2^order frames, each named by its first frame, got with this order.
 * A count above LLFREE_MAX_BATCH is split into requests sent pipelined.
 *
 * results: may be NULL; else room for `count`: receives per run LLFREE_OK (freed) or why it
 *          was left as it was (LLFREE_E_INVALID_FRAME, LLFREE_E_MISALIGNED,
 *          LLFREE_E_NOT_ALLOCATED, LLFREE_E_NOT_OWNER, LLFREE_E_INTERNAL, or the refusal of its
 *          whole request). After LLFREE_E_CONNECTION_LOST, LLFREE_E_TIMEOUT or LLFREE_E_PROTOCOL
 *          the runs whose reply did not arrive read LLFREE_E_CONNECTION_LOST: they may or may
 *          not have been freed.
 * freed:   may be NULL; receives the runs known freed (also after those three errors).
 *
 * Returns LLFREE_OK when every request was answered, even if runs were refused (see results).
 * Errors: LLFREE_E_INVALID_ARGUMENT (count 0, order > 63, NULL frames; nothing sent); the
 * daemon's refusal of the requests (LLFREE_E_INVALID_ORDER, ...; nothing freed; if only some of
 * a split put's requests were refused, results tell which runs); LLFREE_E_CONNECT (nothing
 * sent); LLFREE_E_CONNECTION_LOST, LLFREE_E_TIMEOUT, LLFREE_E_PROTOCOL (see results; do not put
 * the unknown runs again blindly: list them, they may have been got by someone since).
 */
LLFREE_API llfree_status llfree_put(llfree_client *client, unsigned order, const uint64_t *frames, size_t count,
                                    llfree_status *results, size_t *freed);

/**
 * Whether the whole run of 2^order frames at `frame` is free (says nothing of who holds it).
 * Errors: LLFREE_E_INVALID_ARGUMENT (order > 63, NULL is_free); LLFREE_E_INVALID_ORDER,
 * LLFREE_E_INVALID_FRAME, LLFREE_E_MISALIGNED from the daemon; the connection's errors.
 */
LLFREE_API llfree_status llfree_is_free(llfree_client *client, uint64_t frame, unsigned order, bool *is_free);

/* ---- Owners ---------------------------------------------------------------------------- */

/**
 * One page of the runs an owner holds, in ascending frame order, each `frame | order << 56`
 * (LLFREE_RUN_FRAME, LLFREE_RUN_ORDER). Pages are not a snapshot (docs/protocol.md, list).
 *
 * owner: NULL or "" for the client's owner; else a name the peer may act for.
 * from:  list runs whose first frame is >= from; 0 for the first page, then the `next` of the
 *        previous page.
 * limit: room in `runs`, 1...LLFREE_MAX_BATCH.
 * runs:  receives up to `limit` runs.
 * count: receives the runs written.
 * next:  receives the `from` of the next page, or LLFREE_LIST_END after the last.
 *
 * Errors: LLFREE_E_INVALID_ARGUMENT (limit 0 or > LLFREE_MAX_BATCH, a name over 64 bytes, NULL
 * arrays); LLFREE_E_UNKNOWN_OWNER, LLFREE_E_NOT_PERMITTED (also on a pool without owners); the
 * connection's errors.
 */
LLFREE_API llfree_status llfree_list(llfree_client *client, const char *owner, uint64_t from, uint32_t limit,
                                     uint64_t *runs, size_t *count, uint64_t *next);

/**
 * Frees every run an owner holds (durably; repeat after a crash to finish).
 * owner:        NULL or "" for the client's owner.
 * runs_freed:   may be NULL; receives the runs freed.
 * frames_freed: may be NULL; receives the frames freed.
 * Errors: as llfree_list.
 */
LLFREE_API llfree_status llfree_release(llfree_client *client, const char *owner, uint64_t *runs_freed,
                                        uint64_t *frames_freed);

/**
 * Reads the client's owner's 64-byte root value (all zero for a new owner) into `root`.
 * Errors: LLFREE_E_INVALID_ARGUMENT (NULL root); LLFREE_E_NOT_PERMITTED (a pool without
 * owners); the connection's errors.
 */
LLFREE_API llfree_status llfree_root_get(llfree_client *client, uint8_t root[LLFREE_ROOT_SIZE]);

/**
 * Compare-and-set of the client's owner's root value: if it equals `expected` it becomes
 * `desired`, durably before this returns.
 * swapped: receives whether it did.
 * current: may be NULL; receives the root now (`desired` if swapped, else the value that did
 *          not match).
 * Errors: LLFREE_E_INVALID_ARGUMENT (NULL expected, desired or swapped); as llfree_root_get.
 */
LLFREE_API llfree_status llfree_root_cas(llfree_client *client, const uint8_t expected[LLFREE_ROOT_SIZE],
                                         const uint8_t desired[LLFREE_ROOT_SIZE], bool *swapped,
                                         uint8_t current[LLFREE_ROOT_SIZE]);

/* ---- The daemon ------------------------------------------------------------------------ */

/**
 * The pool's free frames and the daemon's counters.
 * Errors: LLFREE_E_INVALID_ARGUMENT (NULL stats); the connection's errors.
 */
LLFREE_API llfree_status llfree_stats_get(llfree_client *client, llfree_stats *stats);

/** A round trip that touches no allocator. Errors: the connection's errors. */
LLFREE_API llfree_status llfree_ping(llfree_client *client);

/* ---- Mapping frames -------------------------------------------------------------------- */

/**
 * The frames object the client maps from: the descriptor the daemon passed at connect
 * (protocol version 3), or the pool file opened at hello's path (LLFREE_CONNECT_OPEN_PATH). The
 * descriptor stays the client's: do not close it; dup it to keep it past llfree_close. A
 * reconnect keeps it (a reconnect to a daemon serving another pool fails with
 * LLFREE_E_NOT_THE_POOL).
 *
 * frames: receives it; with no object, its source is LLFREE_FRAMES_NONE, fd -1, and the call
 *         returns why.
 * Errors: LLFREE_E_INVALID_ARGUMENT (NULL frames); LLFREE_E_NOT_SUPPORTED (the daemon passes no
 * descriptor and LLFREE_CONNECT_OPEN_PATH was not set, or LLFREE_CONNECT_NO_FRAMES was);
 * LLFREE_E_SYSTEM (the pool file could not be opened); the daemon's refusal of the frames
 * request (LLFREE_E_NOT_PERMITTED, ...).
 */
LLFREE_API llfree_status llfree_frames_get(llfree_client *client, llfree_frames *frames);

/**
 * Maps frames [first, first + count) shared, at frames_offset + first * frame_size of the
 * frames object, after checking that bytes 16...31 of the object hold the pool's UUID and bytes
 * 0...7 its magic ("LLFRAMES" for a split pool's frames object, "LLFREEPL" for a single-file
 * pool). The caller should hold the frames (got them); mapping does not allocate them.
 *
 * prot:    LLFREE_MAP_READ, optionally | LLFREE_MAP_WRITE.
 * address: receives the start of the mapping (count * frame_size bytes).
 *
 * Errors: LLFREE_E_INVALID_ARGUMENT (count 0, frames outside the pool, prot without READ or with
 * unknown bits, NULL address); LLFREE_E_NOT_PERMITTED (WRITE on a read-only object); as
 * llfree_frames_get when there is no object; LLFREE_E_NOT_THE_POOL (the UUID differs: nothing
 * was mapped); LLFREE_E_SYSTEM (pread or mmap failed).
 */
LLFREE_API llfree_status llfree_map(llfree_client *client, uint64_t first, uint64_t count, int prot, void **address);

/**
 * Unmaps what llfree_map(client, first, count, ...) returned at `address`.
 * Errors: LLFREE_E_INVALID_ARGUMENT (NULL address, count 0); LLFREE_E_SYSTEM (munmap failed).
 */
LLFREE_API llfree_status llfree_unmap(llfree_client *client, void *address, uint64_t count);

#ifdef __cplusplus
}
#endif

#endif /* LLFREE_CLIENT_H */
