// Per-thread sets of addresses noted by a flush and written back at the thread's next fence, in C
// thread-local storage (Swift has no thread-local variables; measured faster than a pthread key).
// One set of cache lines for PmemPersistence: writing back each line once, at the fence, instead
// of at each flush (on CPUs where clwb evicts the line, writing back between two stores to the
// same line costs a miss each time); one set of pages for MsyncPersistence.
#ifndef LLFREED_CPENDINGLINES_H
#define LLFREED_CPENDINGLINES_H
#include <stdint.h>

/// Entries a set holds before it is written back early.
#define LLFREE_PENDING_MAX 32

typedef struct {
    uintptr_t lines[LLFREE_PENDING_MAX];
    uint32_t count;
} llfree_pending_t;

/// This thread's pending cache lines (never null).
llfree_pending_t *llfree_pending_lines(void);

/// This thread's pending pages (never null).
llfree_pending_t *llfree_pending_pages(void);

#endif
