/* bench_add.c — memory bandwidth of the contiguous f32 add path against memcpy.
** Adds two 16M-element (64 MB) f32 tensors through rt_binary (allocates its output),
** rt_binary_out (preallocated output) and rt_binary_ (in place), and copies 64 MB with memcpy
** and with rt_copy_ (the pool's parallel copy).  Prints figures only; no assertions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cblas.h>
#include "nabla_rt.h"

#define N (16 * 1024 * 1024)
#define RUNS 10

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    rt_tensor *a, *b, *out;
    void *src, *dst;
} bench_data;

/* Runs one variant once; returns 0 on failure. */
static int run_once(int which, bench_data *d)
{
    rt_tensor *o = NULL;
    switch (which) {
    case 0:
        if (rt_binary(RT_ADD, d->a, d->b, &o) != RT_OK) return 0;
        rt_tensor_release(o);
        return 1;
    case 1: return rt_binary_out(RT_ADD, d->a, d->b, d->out) == RT_OK;
    case 2: return rt_binary_(RT_ADD, d->out, d->b) == RT_OK;
    case 3: memcpy(d->dst, d->src, (size_t)N * sizeof(float)); return 1;
    case 4: return rt_copy_(d->out, d->a) == RT_OK;
    }
    return 0;
}

static double best_of(int which, bench_data *d)
{
    double best = 1e30;
    run_once(which, d);   /* warm-up: page faults of preallocated buffers, pool start */
    for (int r = 0; r < RUNS; r++) {
        double t0 = now();
        if (!run_once(which, d)) {
            printf("variant %d failed: %s\n", which, rt_last_error());
            return -1;
        }
        double t = now() - t0;
        if (t < best) best = t;
    }
    return best;
}

static void report(int threads, bench_data *d)
{
    static const char *const names[5] = {
        "rt_binary add (allocates out)", "rt_binary_out add (preallocated)",
        "rt_binary_ add (in place)", "memcpy (1 thread)", "rt_copy_ (pool)"
    };
    static const double moved[5] = { 3, 3, 3, 2, 2 };   /* x 64 MB: reads + writes */
    const double mb64 = (double)N * sizeof(float);
    double t[5];
    rt_set_num_threads(threads);
    printf("threads %d (rt_get_num_threads), OpenBLAS core %s, %d x f32 (64 MB), best of %d\n",
           rt_get_num_threads(), openblas_get_corename(), N, RUNS);
    for (int w = 0; w < 5; w++) {
        t[w] = best_of(w, d);
        if (t[w] <= 0) return;
        printf("  %-34s %8.2f ms  %6.1f GB/s\n", names[w], t[w] * 1e3,
               moved[w] * mb64 / t[w] / 1e9);
    }
    for (int w = 0; w < 3; w++)
        printf("  %-34s time per byte = %.2f x memcpy, %.2f x rt_copy_\n", names[w],
               (t[w] / moved[w]) / (t[3] / moved[3]), (t[w] / moved[w]) / (t[4] / moved[4]));
}

int main(void)
{
    bench_data d = { NULL, NULL, NULL, NULL, NULL };
    int64_t shape[1] = { N };
    int threads = rt_get_num_threads();
    if (rt_full(RT_F32, 1, shape, 1.5, &d.a) != RT_OK ||
        rt_full(RT_F32, 1, shape, 0.25, &d.b) != RT_OK ||
        rt_zeros(RT_F32, 1, shape, &d.out) != RT_OK) {
        printf("allocation failed: %s\n", rt_last_error());
        return 1;
    }
    d.src = rt_tensor_data(d.a);
    d.dst = malloc((size_t)N * sizeof(float));
    if (!d.dst) return 1;
    memset(d.dst, 0, (size_t)N * sizeof(float));
    report(threads, &d);
    if (threads > 1) report(1, &d);
    rt_set_num_threads(threads);
    free(d.dst);
    rt_tensor_release(d.a);
    rt_tensor_release(d.b);
    rt_tensor_release(d.out);
    rt_pool_shutdown();
    return 0;
}
