// Per-thread list of cache lines flushed but not yet written back: lets PmemPersistence write
// back each line once, at the fence, instead of right after each store. On CPUs where clwb
// evicts the line, writing back between two stores to the same line costs a miss each time.
#ifndef LLFREED_CPENDINGLINES_H
#define LLFREED_CPENDINGLINES_H
#include <stdint.h>

/// Lines a thread may have pending before they are written back early.
#define LLFREE_PENDING_MAX 32

typedef struct {
    uintptr_t lines[LLFREE_PENDING_MAX];
    uint32_t count;
} llfree_pending_t;

/// This thread's pending lines (thread-local storage; never null).
llfree_pending_t *llfree_pending(void);

#endif
