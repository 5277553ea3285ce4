/* bench_gemm.c — sgemm throughput of rt_matmul (output allocated per call, as a user sees it)
** and rt_gemm_ (into a preallocated output) against cblas_sgemm called directly with OpenBLAS's
** own threading at the same thread count, in the same run; best of N per variant.  The runtime
** keeps OpenBLAS single-threaded and splits products over its pool (runtime/blas_gemm.c), so
** the runtime's variants run first, then the direct calls, then OpenBLAS goes back to one
** thread and its idle workers get time to stop spinning before the next size.  Prints figures only: no assertions (the
** target is cblas_time / rt_time >= 0.95). */
#include <stdio.h>
#include <time.h>
#include <cblas.h>
#include "nabla_rt.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static rt_tensor *rand_matrix(int64_t m, int64_t n, uint64_t seed)
{
    rt_tensor *t = NULL;
    if (rt_empty(RT_F32, 2, (int64_t[]){ m, n }, &t) != RT_OK) return NULL;
    float *p = rt_tensor_data(t);
    for (int64_t i = 0; i < m * n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (float)((double)(seed >> 11) / 9007199254740992.0 - 0.5);
    }
    return t;
}

typedef struct {
    const char *name;
    double best;
} variant;

/* One n^3 sgemm, three ways; trans_a uses a transposed view of a (BLAS Trans flag, no copy). */
static void bench(int64_t n, int runs, int trans_a)
{
    rt_tensor *a = rand_matrix(n, n, 1), *b = rand_matrix(n, n, 2), *out = NULL, *av = NULL;
    rt_empty(RT_F32, 2, (int64_t[]){ n, n }, &out);
    if (trans_a) rt_view_transpose(a, 0, 1, &av);
    else rt_view_alias(a, &av);
    float *c = rt_tensor_data(out);
    variant v[3] = { { "cblas_sgemm", 1e30 }, { "rt_gemm_", 1e30 }, { "rt_matmul", 1e30 } };
    for (int k = 2; k >= 0; k--) {
        openblas_set_num_threads(k == 0 ? rt_get_num_threads() : 1);
        for (int r = -2; r < runs; r++) {      /* two warm-up rounds */
            double t0 = now();
            if (k == 0) {
                cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, CblasNoTrans,
                            (int)n, (int)n, (int)n, 1.0f, rt_tensor_data(a), (int)n,
                            rt_tensor_data(b), (int)n, 0.0f, c, (int)n);
            } else if (k == 1) {
                rt_gemm_(trans_a, 0, 1.0, a, b, 0.0, out);
            } else {
                rt_tensor *o = NULL;
                rt_matmul(av, b, &o);
                rt_tensor_release(o);
            }
            double t = now() - t0;
            if (r >= 0 && t < v[k].best) v[k].best = t;
        }
    }
    openblas_set_num_threads(1);
    nanosleep(&(struct timespec){ 0, 300000000 }, NULL);   /* OpenBLAS's workers stop spinning */
    double flop = 2.0 * (double)n * (double)n * (double)n;
    printf("sgemm %lld^3%s, best of %d:\n", (long long)n, trans_a ? " (a transposed)" : "", runs);
    for (int k = 0; k < 3; k++)
        printf("  %-12s %9.3f ms  %7.1f GFLOP/s  cblas/this %.3f\n", v[k].name, 1e3 * v[k].best,
               flop / v[k].best * 1e-9, v[0].best / v[k].best);
    rt_tensor_release(a), rt_tensor_release(b), rt_tensor_release(out), rt_tensor_release(av);
}

int main(void)
{
    printf("threads: rt %d, OpenBLAS %d; core %s\n", rt_get_num_threads(),
           openblas_get_num_threads(), openblas_get_corename());
    bench(1024, 30, 0);
    bench(256, 300, 0);
    bench(1024, 30, 1);
    rt_pool_shutdown();
    return 0;
}
