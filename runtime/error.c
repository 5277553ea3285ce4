/* error.c — thread-local error messages, the interrupt flag, and allocation with optional
** fault injection (for tests that prove error paths do not leak). */
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <cblas.h>
#include "internal.h"

static _Thread_local char err_msg[512];
static _Thread_local int err_operand = -1;

rt_status rt_fail(rt_status code, int operand, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    va_end(ap);
    err_operand = operand;
    return code;
}

const char *rt_last_error(void) { return err_msg; }
int rt_last_operand(void) { return err_operand; }

const char *rt_status_name(rt_status st)
{
    switch (st) {
    case RT_OK: return "ok";
    case RT_ESHAPE: return "shape error";
    case RT_EDTYPE: return "dtype error";
    case RT_EARG: return "bad argument";
    case RT_EINDEX: return "index out of range";
    case RT_ENOMEM: return "out of memory";
    case RT_ELINALG: return "linear algebra error";
    case RT_EINTERRUPT: return "interrupted";
    case RT_EINTERNAL: return "internal error";
    }
    return "unknown status";
}

/* ---- interrupt ----------------------------------------------------------------- */
/* A lock-free atomic int is async-signal-safe to store from a handler. */
static atomic_int interrupt_flag;

void rt_interrupt_request(void) { atomic_store_explicit(&interrupt_flag, 1, memory_order_relaxed); }
void rt_interrupt_clear(void) { atomic_store_explicit(&interrupt_flag, 0, memory_order_relaxed); }
int rt_interrupted(void) { return atomic_load_explicit(&interrupt_flag, memory_order_relaxed); }

/* ---- allocation ---------------------------------------------------------------- */
/* Only the owning thread allocates (workers never do), so a plain counter suffices. */
static long fail_at;

void rt_debug_fail_alloc_at(long n) { fail_at = n; }

static int should_fail(void)
{
    if (fail_at <= 0) return 0;
    return --fail_at == 0;
}

/* glibc serves blocks above its mmap threshold (at most 32 MB) with a fresh mmap each time,
** so every large result page-faults its whole buffer on first touch and unmaps it on free:
** that doubled the time of a 64 MB add.  Raising the threshold keeps big buffers in the heap
** for reuse; the trim threshold still returns a large free top of the heap to the system.
** The first allocation is also where OpenBLAS is set to one thread (before any BLAS or LAPACK
** call, which all allocate first): the pool parallelizes GEMMs itself, see blas_gemm.c. */
static void tune_malloc(void)
{
    static int done;
    if (done) return;
    done = 1;
    openblas_set_num_threads(1);
#ifdef M_MMAP_THRESHOLD
    mallopt(M_MMAP_THRESHOLD, 512 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

void *rti_malloc(size_t n)
{
    tune_malloc();
    if (should_fail()) return NULL;
    return malloc(n ? n : 1);
}

void *rti_calloc(size_t n, size_t size)
{
    tune_malloc();
    if (should_fail()) return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void rti_free(void *p) { free(p); }
