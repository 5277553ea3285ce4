/* harness.h — the two-macro test harness (CHECK, REPORT) plus small helpers every runtime
** test uses: an independent random generator for inputs, tensor builders, and comparisons
** against float64 references computed by naive loops in the tests themselves. */
#ifndef TEST_HARNESS_H
#define TEST_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nabla_rt.h"

static int h_pass, h_fail;

/* Unbuffered, so a crash does not swallow the FAIL lines before it. */
__attribute__((constructor)) static void h_unbuffered(void) { setvbuf(stdout, NULL, _IONBF, 0); }

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (cond) {                                                           \
            h_pass++;                                                         \
        } else {                                                              \
            h_fail++;                                                         \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                       \
            printf(__VA_ARGS__);                                              \
            printf("\n");                                                     \
        }                                                                     \
    } while (0)

#define REPORT()                                                              \
    do {                                                                      \
        rt_pool_shutdown();                                                   \
        printf("%d passed, %d failed\n", h_pass, h_fail);                     \
        return h_fail ? 1 : 0;                                                \
    } while (0)

/* A status check that also prints the runtime's message on failure. */
#define CHECK_OK(expr)                                                        \
    do {                                                                      \
        rt_status st_ = (expr);                                               \
        CHECK(st_ == RT_OK, "%s -> %s: %s", #expr, rt_status_name(st_),       \
              rt_last_error());                                               \
    } while (0)

/* Expects a given failure status and a substring of the message. */
#define CHECK_FAILS(expr, code, substr)                                       \
    do {                                                                      \
        rt_status st_ = (expr);                                               \
        CHECK(st_ == (code) && strstr(rt_last_error(), (substr)) != NULL,     \
              "%s -> %s (\"%s\"), expected %s with \"%s\"", #expr,            \
              rt_status_name(st_), rt_last_error(), rt_status_name(code),    \
              (substr));                                                      \
    } while (0)

/* xorshift64*: test inputs independent of the runtime's own generator. */
static uint64_t h_state = 0x9E3779B97F4A7C15ull;
static inline double h_uniform(void)
{
    h_state ^= h_state >> 12;
    h_state ^= h_state << 25;
    h_state ^= h_state >> 27;
    return (double)((h_state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}
static inline double h_range(double lo, double hi) { return lo + (hi - lo) * h_uniform(); }

/* A new contiguous tensor with uniform values in [lo, hi) (integers for i64). */
static inline rt_tensor *h_rand(rt_dtype dt, int ndim, const int64_t *shape, double lo, double hi)
{
    rt_tensor *t = NULL;
    if (rt_empty(dt, ndim, shape, &t) != RT_OK) return NULL;
    int64_t n = rt_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        double v = h_range(lo, hi);
        if (dt == RT_F32) ((float *)t->storage->data)[i] = (float)v;
        else if (dt == RT_F64) ((double *)t->storage->data)[i] = v;
        else ((int64_t *)t->storage->data)[i] = (int64_t)floor(v);
    }
    return t;
}

/* Element at flat row-major position i of any (strided) tensor, as a double. */
static inline double h_at(const rt_tensor *t, int64_t i)
{
    int64_t idx[RT_MAXDIM];
    for (int d = t->ndim - 1; d >= 0; d--) {
        idx[d] = t->shape[d] ? i % t->shape[d] : 0;
        i = t->shape[d] ? i / t->shape[d] : 0;
    }
    return rt_tensor_get(t, idx);
}

/* Largest |a - b| / (atol + rtol * |b|) over all elements (<= 1 means close). */
static inline double h_worst(const rt_tensor *a, const double *ref, double atol, double rtol)
{
    double worst = 0;
    int64_t n = rt_tensor_numel(a);
    for (int64_t i = 0; i < n; i++) {
        double x = h_at(a, i), y = ref[i];
        double r = fabs(x - y) / (atol + rtol * fabs(y));
        if (isnan(x) != isnan(y)) r = INFINITY;
        if (isnan(x) && isnan(y)) r = 0;
        if (r > worst) worst = r;
    }
    return worst;
}

static inline int h_shape_is(const rt_tensor *t, int ndim, const int64_t *shape)
{
    if (t->ndim != ndim) return 0;
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] != shape[i]) return 0;
    return 1;
}

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})

#endif
