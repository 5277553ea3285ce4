/* test_creation.c — the creation functions of runtime/tensor.c: empty, zeros, ones, full,
** scalar, from_buffer, arange, linspace and eye, for every dtype; shape validation; allocation
** failures.  Expected values are computed here by plain loops or written out literally. */
#include <float.h>
#include <stdint.h>
#include "harness.h"

static const rt_dtype dtypes[3] = { RT_F32, RT_F64, RT_I64 };

/* Element i of a contiguous tensor as a double. */
static double val(const rt_tensor *t, int64_t i)
{
    const void *d = rt_tensor_data(t);
    switch (t->dtype) {
    case RT_F32: return ((const float *)d)[i];
    case RT_F64: return ((const double *)d)[i];
    case RT_I64: return (double)((const int64_t *)d)[i];
    }
    return 0;
}

/* What storing v into dtype dt gives (C conversion: round to f32, truncate to i64). */
static double as_dtype(rt_dtype dt, double v)
{
    return dt == RT_F32 ? (double)(float)v : dt == RT_I64 ? (double)(int64_t)v : v;
}

/* A fresh tensor: its own storage (refcount 1, version 0), offset 0, row-major strides. */
static int fresh(const rt_tensor *t, rt_dtype dt, int ndim, const int64_t *shape)
{
    if (!t || t->dtype != dt || !h_shape_is(t, ndim, shape) || t->offset != 0) return 0;
    if (t->refcount != 1 || t->storage->refcount != 1 || t->storage->version != 0) return 0;
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        if (t->strides[i] != s) return 0;
        s *= shape[i];
    }
    return t->storage->nbytes >= (size_t)s * rt_dtype_size(dt) && !t->requires_grad &&
           !t->grad && !t->node;
}

/* Every element of a contiguous t equals v. */
static int all_equal(const rt_tensor *t, double v)
{
    int64_t n = rt_tensor_numel(t);
    for (int64_t i = 0; i < n; i++)
        if (val(t, i) != v) return 0;
    return 1;
}

/* ---- empty, zeros, ones, full, scalar ---------------------------------------------------- */
static void test_fills(void)
{
    const int64_t shapes[4][3] = { { 2, 3, 4 }, { 0, 5, 1 }, { 1, 1, 1 }, { 7, 1, 9 } };
    for (int d = 0; d < 3; d++) {
        rt_dtype dt = dtypes[d];
        for (int s = 0; s < 4; s++) {
            rt_tensor *e = NULL, *z = NULL, *o = NULL, *f = NULL;
            CHECK_OK(rt_empty(dt, 3, shapes[s], &e));
            CHECK_OK(rt_zeros(dt, 3, shapes[s], &z));
            CHECK_OK(rt_ones(dt, 3, shapes[s], &o));
            CHECK_OK(rt_full(dt, 3, shapes[s], -2.75, &f));
            CHECK(fresh(e, dt, 3, shapes[s]) && fresh(z, dt, 3, shapes[s]) &&
                  fresh(o, dt, 3, shapes[s]) && fresh(f, dt, 3, shapes[s]),
                  "%s shape %d: not a fresh contiguous tensor", rt_dtype_name(dt), s);
            CHECK(z && all_equal(z, 0), "zeros %s", rt_dtype_name(dt));
            CHECK(o && all_equal(o, 1), "ones %s", rt_dtype_name(dt));
            CHECK(f && all_equal(f, dt == RT_I64 ? -2 : -2.75), "full(-2.75) %s",
                  rt_dtype_name(dt));
            rt_tensor_release(e);
            rt_tensor_release(z);
            rt_tensor_release(o);
            rt_tensor_release(f);
        }
        /* 0-d tensors: one element, no dims. */
        rt_tensor *t = NULL;
        double item = 0;
        CHECK_OK(rt_scalar(dt, 3.5, &t));
        CHECK(fresh(t, dt, 0, NULL) && rt_tensor_numel(t) == 1, "scalar %s", rt_dtype_name(dt));
        if (t) CHECK_OK(rt_tensor_item(t, &item));
        CHECK(item == as_dtype(dt, 3.5), "scalar %s holds %g", rt_dtype_name(dt), item);
        rt_tensor_release(t);
        CHECK_OK(rt_zeros(dt, 0, NULL, &t));
        CHECK(fresh(t, dt, 0, NULL) && val(t, 0) == 0, "0-d zeros %s", rt_dtype_name(dt));
        rt_tensor_release(t);
    }
    /* Conversions of the fill value: f32 rounds, i64 truncates toward zero. */
    rt_tensor *t = NULL;
    CHECK_OK(rt_scalar(RT_F32, 0.1, &t));
    CHECK(t && val(t, 0) == (double)0.1f, "scalar f32 0.1");
    rt_tensor_release(t);
    CHECK_OK(rt_scalar(RT_I64, -2.7, &t));
    CHECK(t && val(t, 0) == -2, "scalar i64 -2.7 -> %g", t ? val(t, 0) : 0);
    rt_tensor_release(t);
    CHECK_OK(rt_full(RT_I64, 1, SHAPE(3), 9007199254740993.0, &t));   /* 2^53 + 1 as a double */
    CHECK(t && ((int64_t *)rt_tensor_data(t))[2] == 9007199254740992ll, "full i64 2^53");
    rt_tensor_release(t);
    /* A big fill goes through the pool: every element still set. */
    CHECK_OK(rt_full(RT_F32, 2, SHAPE(300, 1001), 0.5, &t));
    CHECK(t && all_equal(t, 0.5), "full over several chunks");
    rt_tensor_release(t);
}

/* ---- from_buffer --------------------------------------------------------------------------- */
static void test_from_buffer(void)
{
    float f[6] = { 1.5f, -2, 3.25f, 0, 1e-30f, 7 };
    double d[6] = { 0.1, -1e300, 2, 3, 4, 5 };
    int64_t i[6] = { INT64_MIN, -1, 0, 1, (1ll << 62) + 1, INT64_MAX };
    const void *bufs[3] = { f, d, i };
    for (int k = 0; k < 3; k++) {
        rt_tensor *t = NULL;
        CHECK_OK(rt_from_buffer(dtypes[k], 2, SHAPE(2, 3), bufs[k], &t));
        CHECK(fresh(t, dtypes[k], 2, SHAPE(2, 3)) &&
              memcmp(rt_tensor_data(t), bufs[k], 6 * rt_dtype_size(dtypes[k])) == 0,
              "from_buffer %s: bytes differ", rt_dtype_name(dtypes[k]));
        rt_tensor_release(t);
    }
    /* It copies: later writes to the buffer do not show. */
    rt_tensor *t = NULL;
    CHECK_OK(rt_from_buffer(RT_F64, 1, SHAPE(6), d, &t));
    d[0] = 42;
    CHECK(t && val(t, 0) == 0.1, "from_buffer should copy the data");
    rt_tensor_release(t);
    CHECK_OK(rt_from_buffer(RT_I64, 0, NULL, i + 5, &t));
    CHECK(t && t->ndim == 0 && ((int64_t *)rt_tensor_data(t))[0] == INT64_MAX, "0-d from_buffer");
    rt_tensor_release(t);
    /* An empty tensor from a valid pointer (the NULL case is a regression test below). */
    CHECK_OK(rt_from_buffer(RT_F32, 2, SHAPE(0, 4), f, &t));
    CHECK(t && h_shape_is(t, 2, SHAPE(0, 4)), "empty from_buffer");
    rt_tensor_release(t);
}

/* ---- arange --------------------------------------------------------------------------------- */
/* Checks t against n values start + i*step (computed here) within tol. */
static void check_arange(const rt_tensor *t, rt_dtype dt, int64_t n, double start, double step,
                         double tol, const char *what)
{
    int ok = t && t->dtype == dt && h_shape_is(t, 1, &n);
    for (int64_t i = 0; ok && i < n; i++) {
        double e = as_dtype(dt, start + (double)i * step);
        ok = fabs(val(t, i) - e) <= tol * (1 + fabs(e));
    }
    CHECK(ok, "arange %s %s: %lld elements, expected %lld", what, rt_dtype_name(dt),
          t ? (long long)t->shape[0] : -1ll, (long long)n);
}

static void test_arange(void)
{
    for (int d = 0; d < 3; d++) {
        rt_dtype dt = dtypes[d];
        double tol = dt == RT_F32 ? 1e-7 : 0;
        rt_tensor *t = NULL;
        /* Inclusive of stop, like Lua's `for i = 5, 1, -2`: 5, 3, 1. */
        CHECK_OK(rt_arange(dt, 5, 1, -2, &t));
        check_arange(t, dt, 3, 5, -2, 0, "(5, 1, -2)");
        rt_tensor_release(t);
        CHECK_OK(rt_arange(dt, -3, 4, 1, &t));
        check_arange(t, dt, 8, -3, 1, 0, "(-3, 4, 1)");
        rt_tensor_release(t);
        CHECK_OK(rt_arange(dt, 2, 10, 3, &t));   /* 2, 5, 8: stop not hit */
        check_arange(t, dt, 3, 2, 3, 0, "(2, 10, 3)");
        rt_tensor_release(t);
        CHECK_OK(rt_arange(dt, 1, 1, 1, &t));
        check_arange(t, dt, 1, 1, 1, 0, "(1, 1, 1)");
        rt_tensor_release(t);
        CHECK_OK(rt_arange(dt, 0, 5, -1, &t));   /* the wrong direction: empty */
        check_arange(t, dt, 0, 0, 1, 0, "(0, 5, -1)");
        rt_tensor_release(t);
        if (dt == RT_I64) continue;
        /* for i = 0, 1, 0.1 runs 11 times in Lua 5.4: 0, 0.1, ..., 1. */
        CHECK_OK(rt_arange(dt, 0, 1, 0.1, &t));
        check_arange(t, dt, 11, 0, 0.1, tol + 1e-15, "(0, 1, 0.1)");
        CHECK(t && t->shape[0] == 11 && fabs(val(t, 10) - 1) <= tol + 1e-15,
              "arange(0, 1, 0.1) should end at 1");
        rt_tensor_release(t);
        CHECK_OK(rt_arange(dt, 1, 0, -0.1, &t));
        check_arange(t, dt, 11, 1, -0.1, tol + 1e-15, "(1, 0, -0.1)");
        rt_tensor_release(t);
        /* (0.3 - 0)/0.1 = 2.9999999999999996: the relative tolerance of the contract keeps 0.3
        ** (Lua's for, which adds 0.1 repeatedly, stops after 0.2: 3 values). */
        CHECK_OK(rt_arange(dt, 0, 0.3, 0.1, &t));
        check_arange(t, dt, 4, 0, 0.1, tol + 1e-15, "(0, 0.3, 0.1)");
        rt_tensor_release(t);
        CHECK_OK(rt_arange(dt, 0, 0.35, 0.1, &t));
        check_arange(t, dt, 4, 0, 0.1, tol + 1e-15, "(0, 0.35, 0.1)");
        rt_tensor_release(t);
    }
    /* i64 stores each start + i*step truncated toward zero. */
    rt_tensor *t = NULL;
    CHECK_OK(rt_arange(RT_I64, 0, 2, 0.5, &t));
    const double e[5] = { 0, 0, 1, 1, 2 };
    CHECK(t && t->shape[0] == 5 && h_worst(t, e, 0, 0) == 0, "arange i64 (0, 2, 0.5)");
    rt_tensor_release(t);
    t = NULL;
    CHECK_FAILS(rt_arange(RT_F64, 0, 1, 0, &t), RT_EARG, "step non-zero (got 0, 1, 0)");
    CHECK_FAILS(rt_arange(RT_F64, 0, INFINITY, 1, &t), RT_EARG, "arange: start, stop and step "
                "must be finite");
    CHECK_FAILS(rt_arange(RT_F32, NAN, 1, 1, &t), RT_EARG, "must be finite");
    CHECK_FAILS(rt_arange(RT_F64, 0, 1, NAN, &t), RT_EARG, "must be finite");
    CHECK_FAILS(rt_arange(RT_F64, 0, 1e20, 1, &t), RT_EARG, "elements are too many");
    CHECK_FAILS(rt_arange(RT_F64, 0, 1e300, 1e-300, &t), RT_EARG, "too many");
    CHECK(t == NULL, "failed arange must not set *out");
}

/* ---- linspace ------------------------------------------------------------------------------- */
static void test_linspace(void)
{
    const double cases[5][3] = {
        { 0.1, 0.7, 7 }, { -3.3, 1000, 101 }, { 1, -1, 2 }, { 2.5, 2.5, 4 }, { 1e-3, 3e5, 1000 },
    };
    for (int d = 0; d < 2; d++) {
        rt_dtype dt = dtypes[d];
        double tol = dt == RT_F32 ? 2e-7 : 4e-16;
        for (int c = 0; c < 5; c++) {
            double a = cases[c][0], b = cases[c][1];
            int64_t n = (int64_t)cases[c][2];
            rt_tensor *t = NULL;
            CHECK_OK(rt_linspace(dt, a, b, n, &t));
            if (!t) continue;
            int ok = t->dtype == dt && h_shape_is(t, 1, &n);
            CHECK(ok && val(t, 0) == as_dtype(dt, a) && val(t, n - 1) == as_dtype(dt, b),
                  "linspace(%g, %g, %lld) %s: endpoints %.17g %.17g", a, b, (long long)n,
                  rt_dtype_name(dt), val(t, 0), val(t, n - 1));
            double worst = 0, scale = fmax(fabs(a), fabs(b));
            for (int64_t i = 0; ok && i < n; i++) {
                long double e = (long double)a + ((long double)b - a) * i / (long double)(n - 1);
                worst = fmax(worst, fabs(val(t, i) - (double)e) / scale);
            }
            CHECK(ok && worst <= tol, "linspace(%g, %g, %lld) %s: relative error %g", a, b,
                  (long long)n, rt_dtype_name(dt), worst);
            rt_tensor_release(t);
        }
    }
    rt_tensor *t = NULL;
    CHECK_OK(rt_linspace(RT_F64, -1, 1, 5, &t));
    const double e5[5] = { -1, -0.5, 0, 0.5, 1 };
    CHECK(t && h_worst(t, e5, 0, 0) == 0, "linspace(-1, 1, 5) should be exact");
    rt_tensor_release(t);
    CHECK_OK(rt_linspace(RT_F32, 4, 9, 1, &t));
    CHECK(t && t->shape[0] == 1 && val(t, 0) == 4, "linspace(4, 9, 1) = [4]");
    rt_tensor_release(t);
    CHECK_OK(rt_linspace(RT_F64, 4, 9, 0, &t));
    CHECK(t && t->ndim == 1 && t->shape[0] == 0, "linspace(4, 9, 0) is empty");
    rt_tensor_release(t);
    CHECK_OK(rt_linspace(RT_I64, 0, 10, 6, &t));
    const double e6[6] = { 0, 2, 4, 6, 8, 10 };
    CHECK(t && t->dtype == RT_I64 && h_worst(t, e6, 0, 0) == 0, "linspace i64 (0, 10, 6)");
    rt_tensor_release(t);
    t = NULL;
    CHECK_FAILS(rt_linspace(RT_F64, 0, 1, -3, &t), RT_EARG,
                "linspace: number of points -3 is negative");
    CHECK(t == NULL, "failed linspace must not set *out");
}

/* ---- eye ------------------------------------------------------------------------------------ */
static void test_eye(void)
{
    const int64_t dims[5][2] = { { 3, 3 }, { 2, 4 }, { 4, 2 }, { 0, 3 }, { 1, 1 } };
    for (int d = 0; d < 3; d++)
        for (int k = 0; k < 5; k++) {
            rt_tensor *t = NULL;
            int64_t n = dims[k][0], m = dims[k][1];
            CHECK_OK(rt_eye(dtypes[d], n, m, &t));
            int ok = fresh(t, dtypes[d], 2, dims[k]);
            for (int64_t i = 0; ok && i < n; i++)
                for (int64_t j = 0; j < m; j++) ok &= val(t, i * m + j) == (i == j ? 1 : 0);
            CHECK(ok, "eye(%lld, %lld) %s", (long long)n, (long long)m, rt_dtype_name(dtypes[d]));
            rt_tensor_release(t);
        }
    rt_tensor *t = NULL;
    CHECK_FAILS(rt_eye(RT_F64, -1, 3, &t), RT_EARG, "eye: size -1 of dimension 1 is negative");
    CHECK_FAILS(rt_eye(RT_F64, 3, -2, &t), RT_EARG, "eye: size -2 of dimension 2 is negative");
    CHECK(t == NULL, "failed eye must not set *out");
}

/* ---- shape validation and allocation failure ------------------------------------------------ */
static void test_shape_errors(void)
{
    const int64_t nine[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    rt_tensor *t = NULL;
    CHECK_FAILS(rt_empty(RT_F32, 2, SHAPE(3, -1), &t), RT_EARG,
                "empty: size -1 of dimension 2 is negative");
    CHECK_FAILS(rt_zeros(RT_F64, 1, SHAPE(-5), &t), RT_EARG, "zeros: size -5");
    CHECK_FAILS(rt_full(RT_I64, 3, SHAPE(1, -2, 3), 1, &t), RT_EARG, "full: size -2");
    CHECK_FAILS(rt_ones(RT_F32, 1, SHAPE(-1), &t), RT_EARG, "size -1 of dimension 1");
    CHECK_FAILS(rt_from_buffer(RT_F32, 1, SHAPE(-1), "", &t), RT_EARG, "from_buffer: size -1");
    CHECK_FAILS(rt_empty(RT_F32, 9, nine, &t), RT_EARG,
                "empty: 9 dimensions requested, at most 8 are supported");
    CHECK_FAILS(rt_zeros(RT_I64, 9, nine, &t), RT_EARG, "zeros: 9 dimensions");
    CHECK_FAILS(rt_full(RT_F64, 9, nine, 2, &t), RT_EARG, "full: 9 dimensions");
    CHECK_FAILS(rt_empty(RT_F32, -1, nine, &t), RT_EARG, "-1 dimensions requested");
    CHECK_FAILS(rt_zeros(RT_F64, 2, SHAPE(1ll << 40, 1ll << 40), &t), RT_ENOMEM,
                "zeros: shape [1099511627776,1099511627776] is too large");
    CHECK_FAILS(rt_empty(RT_F64, 2, SHAPE(1ll << 31, 1ll << 31), &t), RT_ENOMEM, "too large");
    CHECK(t == NULL, "failed creation must not set *out");
    CHECK_OK(rt_ones(RT_F32, 8, nine, &t));
    CHECK(t && t->ndim == 8 && val(t, 0) == 1, "8 dimensions are allowed");
    rt_tensor_release(t);
}

/* Failing each of the first allocations: RT_ENOMEM, nothing leaks (ASan checks). */
static void test_alloc_failures(void)
{
    /* a fresh tensor is a single allocation (header, storage and data in one block) */
    for (int k = 1; k <= 1; k++) {
        rt_tensor *t = NULL;
        rt_status st[5];
        rt_debug_fail_alloc_at(k);
        st[0] = rt_zeros(RT_F32, 2, SHAPE(3, 4), &t);
        rt_debug_fail_alloc_at(k);
        st[1] = rt_full(RT_F64, 1, SHAPE(10), 2, &t);
        rt_debug_fail_alloc_at(k);
        st[2] = rt_arange(RT_I64, 0, 10, 1, &t);
        rt_debug_fail_alloc_at(k);
        st[3] = rt_linspace(RT_F32, 0, 1, 5, &t);
        rt_debug_fail_alloc_at(k);
        st[4] = rt_eye(RT_F64, 3, 3, &t);
        rt_debug_fail_alloc_at(0);
        for (int i = 0; i < 5; i++)
            CHECK(st[i] == RT_ENOMEM, "creation %d with allocation %d failing: %s", i, k,
                  rt_status_name(st[i]));
        CHECK(t == NULL, "a failed creation set *out");
    }
}

/* ---- regressions: bugs found in tensor.c while writing these tests ------------------------- */
/* from_buffer(NULL) for zero elements calls memcpy(dst, NULL, 0): undefined behaviour that
** UBSan (nonnull-attribute) aborts on.  Fix: skip the memcpy when nbytes == 0. */
static void test_from_buffer_null_empty_regression(void)
{
    rt_tensor *t = NULL;
    CHECK_OK(rt_from_buffer(RT_F64, 1, SHAPE(0), NULL, &t));
    rt_tensor_release(t);
}

/* The slack 1e-9 * (1 + |span|) grows with the element count: past ~1e6 elements it swallows
** genuine fractions.  arange(0, 1000000.9995, 1) must stop at 1000000 (1000001 elements). */
static void test_arange_large_span_regression(void)
{
    rt_tensor *t = NULL;
    CHECK_OK(rt_arange(RT_F32, 0, 1000000.9995, 1, &t));
    CHECK(t && t->shape[0] == 1000001, "arange(0, 1000000.9995, 1) has %lld elements",
          t ? (long long)t->shape[0] : -1ll);
    rt_tensor_release(t);
}

int main(void)
{
    test_fills();
    test_from_buffer();
    test_arange();
    test_linspace();
    test_eye();
    test_shape_errors();
    test_alloc_failures();
    test_from_buffer_null_empty_regression();
    test_arange_large_span_regression();
    REPORT();
}
