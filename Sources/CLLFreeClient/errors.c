/*
 * The status names and the per-thread message: a call reports what was wrong without printing
 * or allocating, and a message written by one thread is never overwritten by another thread's
 * call on the same client.
 */
#include "internal.h"

#include <stdio.h>

static _Thread_local char message[512];

llfree_status llf_fail(llfree_status status, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(message, sizeof message, format, arguments);
    va_end(arguments);
    return status;
}

void llf_clear_message(void) { message[0] = 0; }

const char *llf_message(void) { return message; }

LLFREE_API const char *llfree_last_message(void) { return message; }

LLFREE_API const char *llfree_strerror(llfree_status status) {
    switch (status) {
    case LLFREE_OK: return "ok";
    case LLFREE_E_MALFORMED: return "malformed";
    case LLFREE_E_UNSUPPORTED_VERSION: return "unsupported version";
    case LLFREE_E_UNKNOWN_OPERATION: return "unknown operation";
    case LLFREE_E_TOO_LARGE: return "message too large";
    case LLFREE_E_TOO_SHORT: return "message too short";
    case LLFREE_E_INVALID_ORDER: return "invalid order";
    case LLFREE_E_INVALID_COUNT: return "invalid count";
    case LLFREE_E_INVALID_KIND: return "invalid kind";
    case LLFREE_E_INVALID_FRAME: return "frame out of range";
    case LLFREE_E_MISALIGNED: return "frame misaligned";
    case LLFREE_E_OUT_OF_MEMORY: return "out of memory";
    case LLFREE_E_NOT_ALLOCATED: return "not allocated";
    case LLFREE_E_ACCESS_DENIED: return "access denied";
    case LLFREE_E_SHUTTING_DOWN: return "shutting down";
    case LLFREE_E_INTERNAL: return "internal error";
    case LLFREE_E_NOT_OWNER: return "not owner";
    case LLFREE_E_QUOTA_EXCEEDED: return "quota exceeded";
    case LLFREE_E_UNKNOWN_OWNER: return "unknown owner";
    case LLFREE_E_NOT_PERMITTED: return "not permitted";
    case LLFREE_E_NOT_ATTACHED: return "not attached";
    case LLFREE_E_OWNER_TABLE_FULL: return "owner table full";
    case LLFREE_E_OWNER_BUSY: return "owner busy";
    case LLFREE_E_INVALID_ARGUMENT: return "invalid argument";
    case LLFREE_E_CONNECT: return "cannot connect";
    case LLFREE_E_CONNECTION_LOST: return "connection lost";
    case LLFREE_E_TIMEOUT: return "timed out";
    case LLFREE_E_PROTOCOL: return "protocol violation";
    case LLFREE_E_NOT_SUPPORTED: return "not supported";
    case LLFREE_E_NOT_THE_POOL: return "not the pool";
    case LLFREE_E_SYSTEM: return "system call failed";
    case LLFREE_E_NO_MEMORY: return "no memory";
    }
    return (unsigned)status < 0x10000u ? "error code of the daemon unknown to this library" : "unknown status";
}
