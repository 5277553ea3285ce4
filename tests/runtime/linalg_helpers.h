/* linalg_helpers.h — naive float64 matrix helpers and the 1-vs-2-thread report shared by the two
** linear-algebra tests. */
#ifndef TEST_LINALG_HELPERS_H
#define TEST_LINALG_HELPERS_H

#include "harness.h"

/* The elements of t (any layout) as a malloc'd row-major double array. */
static inline double *dv(const rt_tensor *t)
{
    int64_t n = rt_tensor_numel(t);
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    for (int64_t i = 0; i < n; i++) v[i] = h_at(t, i);
    return v;
}

/* c (m,n) = a (m,k) b (k,n) */
static inline void nmm(const double *a, const double *b, double *c, int64_t m, int64_t k,
                       int64_t n)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
            c[i * n + j] = s;
        }
}

/* t (n,m) = a (m,n)^T */
static inline void ntr(const double *a, double *t, int64_t m, int64_t n)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) t[j * m + i] = a[i * n + j];
}

static inline double maxabs(const double *a, const double *b, int64_t n)
{
    double w = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (!(d <= w)) w = d;
    }
    return w;
}

typedef rt_status (*op2_fn)(const rt_tensor *, const rt_tensor *, rt_tensor **);

/* fn(a, b) with 1 and 2 threads must agree bit for bit (products split into panels over
** single-threaded OpenBLAS, LAPACK on the calling thread: see rt_linalg.h). */
static inline void check_threads(const char *what, op2_fn fn, const rt_tensor *a,
                                 const rt_tensor *b)
{
    rt_tensor *o1 = NULL, *o2 = NULL;
    int saved = rt_get_num_threads();
    rt_set_num_threads(1);
    CHECK_OK(fn(a, b, &o1));
    rt_set_num_threads(2);
    CHECK_OK(fn(a, b, &o2));
    rt_set_num_threads(saved);
    if (o1 && o2) {
        int same = memcmp(rt_tensor_data(o1), rt_tensor_data(o2),
                          (size_t)rt_tensor_numel(o1) * rt_dtype_size(o1->dtype)) == 0;
        double *p1 = dv(o1), *p2 = dv(o2), d = maxabs(p1, p2, rt_tensor_numel(o1));
        printf("info: %s, 1 vs 2 threads: %s (max abs diff %.3g)\n", what,
               same ? "bitwise identical" : "NOT bitwise identical", d);
        CHECK(same, "%s: 1 and 2 threads differ (max abs diff %g)", what, d);
        free(p1), free(p2);
    }
    rt_tensor_release(o1);
    rt_tensor_release(o2);
}

#endif
