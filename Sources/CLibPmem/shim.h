// The C side of the libpmem system-library target: the only header llfreed takes from libpmem.
#ifndef LLFREED_CLIBPMEM_SHIM_H
#define LLFREED_CLIBPMEM_SHIM_H
#include <libpmem.h>
#endif
