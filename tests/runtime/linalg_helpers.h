/* linalg_helpers.h — naive float64 matrix helpers shared by the two linear-algebra tests. */
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

#endif
