// Thread-local storage for CPendingLines.h; C because Swift has no thread-local variables.
#include "CPendingLines.h"

static __thread llfree_pending_t pending;
static __thread llfree_pending_t pages;

llfree_pending_t *llfree_pending(void) { return &pending; }
llfree_pending_t *llfree_pending_pages(void) { return &pages; }
