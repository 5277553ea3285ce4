/* blas_gemm.c — every GEMM of the runtime (matmul, conv) goes through rti_gemm_rm, which cuts
** C into one column (or row) panel per pool thread and hands each panel to single-threaded
** OpenBLAS.  OpenBLAS itself is kept at one thread (error.c sets it before the first BLAS
** call), for two reasons: its own threading splits the K loop's work differently with the
** thread count, so products changed in the last bits between 1 and 2 threads, while a panel
** of C computed alone is bitwise the same as that part of the whole product (each element's
** K loop is blocked identically; checked for all four transpose cases and many shapes,
** tests/runtime/test_linalg.c keeps checking it); and its idle workers spin in sched_yield
** for a while after every call, taking a core from the pool's elementwise kernels.  Inside a
** pool chunk (a convolution block) a GEMM runs as one call on that thread. */
#include <cblas.h>
#include "internal.h"

/* A panel holds at least this many multiply-adds (about 30 us on one core), so small products
** run as one call with no pool round trip, and every panel stays far above the size where
** OpenBLAS switches to its small-matrix kernels (a different summation order); panels are at
** least MIN_PANEL wide. */
#define PANEL_MACS ((int64_t)1 << 22)
#define MIN_PANEL 64

typedef struct {
    rt_dtype dt;
    int ta, tb, split_n;            /* split_n: panels are column ranges, else row ranges */
    int64_t M, N, K, lda, ldb, ldc, piece;
    double alpha, beta;
    const char *a, *b;
    char *c;
} gemm_job;

static void call_blas(const gemm_job *g, int64_t m, int64_t n, const char *a, const char *b,
                      char *c)
{
    enum CBLAS_TRANSPOSE A = g->ta ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE B = g->tb ? CblasTrans : CblasNoTrans;
    if (g->dt == RT_F32)
        cblas_sgemm(CblasRowMajor, A, B, (int)m, (int)n, (int)g->K, (float)g->alpha,
                    (const float *)a, (int)g->lda, (const float *)b, (int)g->ldb,
                    (float)g->beta, (float *)c, (int)g->ldc);
    else
        cblas_dgemm(CblasRowMajor, A, B, (int)m, (int)n, (int)g->K, g->alpha,
                    (const double *)a, (int)g->lda, (const double *)b, (int)g->ldb, g->beta,
                    (double *)c, (int)g->ldc);
}

static rt_status panel_chunk(void *ctx, int64_t chunk, int64_t lo, int64_t hi)
{
    const gemm_job *g = ctx;
    (void)chunk;
    size_t es = rt_dtype_size(g->dt);
    int64_t p0 = lo * g->piece, p1 = hi * g->piece;
    if (g->split_n) {
        if (p1 > g->N) p1 = g->N;
        /* columns p0..p1 of op(B): B's columns (no transpose) or rows (transposed) */
        const char *b = g->b + (size_t)(g->tb ? p0 * g->ldb : p0) * es;
        call_blas(g, g->M, p1 - p0, g->a, b, g->c + (size_t)p0 * es);
    } else {
        if (p1 > g->M) p1 = g->M;
        const char *a = g->a + (size_t)(g->ta ? p0 : p0 * g->lda) * es;
        call_blas(g, p1 - p0, g->N, a, g->b, g->c + (size_t)(p0 * g->ldc) * es);
    }
    return RT_OK;
}

rt_status rti_gemm_rm(rt_dtype dt, int ta, int tb, int64_t M, int64_t N, int64_t K,
                      double alpha, const void *a, int64_t lda, const void *b, int64_t ldb,
                      double beta, void *c, int64_t ldc)
{
    gemm_job g = { dt, ta, tb, N >= M, M, N, K, lda, ldb, ldc, 0, alpha, beta, a, b, c };
    int64_t D = g.split_n ? N : M;
    double macs = (double)M * (double)N * (double)K;
    int64_t panels = rt_in_parallel() ? 1 : rt_get_num_threads();
    if (macs < (double)panels * (double)PANEL_MACS) panels = (int64_t)(macs / PANEL_MACS);
    if (panels > D / MIN_PANEL) panels = D / MIN_PANEL;
    if (panels <= 1) {
        g.piece = D;
        return panel_chunk(&g, 0, 0, 1);
    }
    /* panel widths rounded up to 16 columns: whole register blocks of the kernels */
    g.piece = ((D + panels - 1) / panels + 15) / 16 * 16;
    return rt_parallel_for(rt_num_chunks(D, g.piece), 1, panel_chunk, &g);
}
