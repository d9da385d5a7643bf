// Thread-local storage for CPendingLines.h; C because Swift has no thread-local variables.
#include "CPendingLines.h"

static __thread llfree_pending_t lines;
static __thread llfree_pending_t pages;

llfree_pending_t *llfree_pending_lines(void) { return &lines; }
llfree_pending_t *llfree_pending_pages(void) { return &pages; }
