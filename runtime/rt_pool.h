/* rt_pool.h — the one thread pool every kernel uses.
** Work is cut into chunks of `grain` items whose boundaries depend only on n and grain,
** never on the thread count, so a kernel that reduces per chunk and then combines the
** chunk results in order gives bit-identical results for 1 or N threads. */
#ifndef RT_POOL_H
#define RT_POOL_H

#include <stdint.h>
#include "rt_core.h"

/* Processes items [begin, end) of one chunk.  Runs on a worker thread: it must not
** allocate tensors, change refcounts, or touch Lua.  A non-OK status stops the job. */
typedef rt_status (*rt_chunk_fn)(void *ctx, int64_t chunk, int64_t begin, int64_t end);

/* Runs fn over ceil(n / grain) chunks (grain >= 1).  Between chunks it polls the interrupt
** flag.  Returns RT_OK, the status of the lowest-numbered failing chunk, or RT_EINTERRUPT.
** Called from a worker (nested), it runs the chunks inline on that thread. */
rt_status rt_parallel_for(int64_t n, int64_t grain, rt_chunk_fn fn, void *ctx);

/* Nonzero on a pool worker, or on the submitting thread while it runs chunks: a
** rt_parallel_for started there runs inline. */
int rt_in_parallel(void);
/* Number of chunks rt_parallel_for will use for (n, grain): handy for per-chunk partials. */
int64_t rt_num_chunks(int64_t n, int64_t grain);

/* Threads (including the caller).  Defaults to the online CPUs.  Also sets OpenBLAS's
** thread count, which only ever runs on the calling thread while the pool sleeps. */
int rt_get_num_threads(void);
rt_status rt_set_num_threads(int n);   /* 1..256; RT_EARG otherwise */

/* Stops and joins the workers (tests, atexit). The pool restarts on next use. */
void rt_pool_shutdown(void);

#endif
