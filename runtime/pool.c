/* pool.c — the pthread pool behind rt_parallel_for.  One job at a time (only the thread
** that owns the runtime submits); workers pull chunk numbers from an atomic counter.
** Small jobs (one chunk, or one thread) and jobs started from inside a chunk run inline with
** no synchronisation at all.  OpenBLAS always runs single-threaded: the pool parallelizes
** GEMMs itself (blas_gemm.c). */
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <unistd.h>
#include <cblas.h>
#include "internal.h"

#define MAX_THREADS 256

typedef struct {
    rt_chunk_fn fn;
    void *ctx;
    int64_t n, grain, nchunks;
    atomic_llong next;          /* next chunk to hand out */
    atomic_int stop;            /* set on failure or interrupt: skip the remaining chunks */
    pthread_mutex_t fail_lock;
    int64_t fail_chunk;         /* lowest failing chunk so far, or nchunks */
    rt_status fail_status;
    int fail_operand;
    char fail_msg[512];         /* copied from the failing thread's thread-local message */
} job_t;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake, idle;
    pthread_t threads[MAX_THREADS];
    int nworkers;               /* running worker threads (nthreads - 1 once started) */
    int nthreads;               /* 0 until first use */
    atomic_int busy;            /* workers still inside the current job */
    atomic_long generation;     /* bumped per job so workers see each job once */
    int quit;
    job_t *job;
} P = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,
        .idle = PTHREAD_COND_INITIALIZER };

static _Thread_local int in_worker;   /* a pool worker, or the submitter running chunks */

/* Before sleeping on a condition variable, a worker waiting for the next job (and the
** submitter waiting for the workers) polls for about this many pause instructions, some tens of
** microseconds: a training step runs hundreds of short parallel ops back to back, and a futex
** wake-up per op costs more than many of the ops (2 threads, measured without the polling: a
** 256^3 product 0.135 ms instead of 0.120, the MLP training step of bench/ 0.82-0.88 ms instead
** of 0.69-0.71). */
#define SPIN_ROUNDS 4000

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Polls until *v != old (returns 1) or the rounds run out (returns 0). */
static int spin_while_equal(atomic_long *v, long old)
{
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        if (atomic_load_explicit(v, memory_order_acquire) != old) return 1;
        cpu_relax();
    }
    return 0;
}

static int spin_until_zero(atomic_int *v)
{
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        if (atomic_load_explicit(v, memory_order_acquire) == 0) return 1;
        cpu_relax();
    }
    return 0;
}

static void record_failure(job_t *j, int64_t chunk, rt_status st)
{
    pthread_mutex_lock(&j->fail_lock);
    if (chunk < j->fail_chunk) {
        j->fail_chunk = chunk;
        j->fail_status = st;
        j->fail_operand = rt_last_operand();
        snprintf(j->fail_msg, sizeof j->fail_msg, "%s",
                 st == RT_EINTERRUPT ? "interrupted" : rt_last_error());
    }
    pthread_mutex_unlock(&j->fail_lock);
    atomic_store(&j->stop, 1);
}

static void run_chunks(job_t *j)
{
    for (;;) {
        if (atomic_load_explicit(&j->stop, memory_order_relaxed)) return;
        int64_t c = atomic_fetch_add(&j->next, 1);
        if (c >= j->nchunks) return;
        if (rt_interrupted()) {
            record_failure(j, c, RT_EINTERRUPT);
            return;
        }
        int64_t b = c * j->grain, e = b + j->grain < j->n ? b + j->grain : j->n;
        rt_status st = j->fn(j->ctx, c, b, e);
        if (st != RT_OK) record_failure(j, c, st);
    }
}

static void *worker_main(void *arg)
{
    (void)arg;
    in_worker = 1;
    long seen = 0;
    for (;;) {
        spin_while_equal(&P.generation, seen);
        pthread_mutex_lock(&P.lock);
        while (!P.quit && atomic_load(&P.generation) == seen)
            pthread_cond_wait(&P.wake, &P.lock);
        if (P.quit) break;
        seen = atomic_load(&P.generation);
        job_t *j = P.job;
        pthread_mutex_unlock(&P.lock);
        run_chunks(j);
        if (atomic_fetch_sub(&P.busy, 1) == 1) {
            pthread_mutex_lock(&P.lock);
            pthread_cond_signal(&P.idle);
            pthread_mutex_unlock(&P.lock);
        }
    }
    pthread_mutex_unlock(&P.lock);
    return NULL;
}

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

/* Starts workers up to nthreads - 1.  A thread that fails to start just means fewer
** workers; results do not depend on how many there are. */
static void ensure_started(void)
{
    if (P.nthreads == 0) P.nthreads = default_threads();
    while (P.nworkers < P.nthreads - 1) {
        if (pthread_create(&P.threads[P.nworkers], NULL, worker_main, NULL) != 0) break;
        P.nworkers++;
    }
}

void rt_pool_shutdown(void)
{
    pthread_mutex_lock(&P.lock);
    P.quit = 1;
    pthread_cond_broadcast(&P.wake);
    pthread_mutex_unlock(&P.lock);
    for (int i = 0; i < P.nworkers; i++) pthread_join(P.threads[i], NULL);
    P.nworkers = 0;
    P.quit = 0;
}

int rt_get_num_threads(void)
{
    if (P.nthreads == 0) P.nthreads = default_threads();
    return P.nthreads;
}

rt_status rt_set_num_threads(int n)
{
    if (n < 1 || n > MAX_THREADS)
        return rt_fail(RT_EARG, 0, "set_num_threads: %d threads requested, expected 1..%d", n,
                       MAX_THREADS);
    if (P.nworkers > n - 1) rt_pool_shutdown();
    P.nthreads = n;
    return RT_OK;
}

int rt_in_parallel(void) { return in_worker; }

int64_t rt_num_chunks(int64_t n, int64_t grain)
{
    if (grain < 1) grain = 1;
    return n <= 0 ? 0 : (n + grain - 1) / grain;
}

rt_status rt_parallel_for(int64_t n, int64_t grain, rt_chunk_fn fn, void *ctx)
{
    if (grain < 1) grain = 1;
    int64_t nchunks = rt_num_chunks(n, grain);
    if (nchunks == 0) return RT_OK;
    job_t j = { .fn = fn, .ctx = ctx, .n = n, .grain = grain, .nchunks = nchunks,
                .fail_chunk = nchunks, .fail_status = RT_OK };
    atomic_init(&j.next, 0);
    atomic_init(&j.stop, 0);
    if (nchunks == 1 || in_worker || rt_get_num_threads() == 1) {
        for (int64_t c = 0; c < nchunks; c++) {
            if (rt_interrupted()) return rt_fail(RT_EINTERRUPT, -1, "interrupted");
            int64_t b = c * grain, e = b + grain < n ? b + grain : n;
            rt_status st = fn(ctx, c, b, e);
            if (st != RT_OK) return st;
        }
        return RT_OK;
    }
    pthread_mutex_init(&j.fail_lock, NULL);
    pthread_mutex_lock(&P.lock);
    ensure_started();
    P.job = &j;
    atomic_store(&P.busy, P.nworkers);
    atomic_fetch_add_explicit(&P.generation, 1, memory_order_release);
    pthread_cond_broadcast(&P.wake);
    pthread_mutex_unlock(&P.lock);
    in_worker = 1;
    run_chunks(&j);
    in_worker = 0;
    if (!spin_until_zero(&P.busy)) {
        pthread_mutex_lock(&P.lock);
        while (atomic_load(&P.busy) > 0) pthread_cond_wait(&P.idle, &P.lock);
        pthread_mutex_unlock(&P.lock);
    }
    P.job = NULL;
    pthread_mutex_destroy(&j.fail_lock);
    if (j.fail_chunk < nchunks)
        return rt_fail(j.fail_status, j.fail_operand, "%s", j.fail_msg);
    return RT_OK;
}
