/* test_random.c — the Philox4x32-10 generator and the random tensor ops: known-answer vectors,
** the counter layout, determinism across seeds, thread counts and chunking, moments and
** bucket tests, in-place fills of strided views, and error paths. */
#include <stdint.h>
#include "harness.h"

/* ---- helpers ------------------------------------------------------------------------------- */
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

static int64_t ival(const rt_tensor *t, int64_t i)
{
    return ((const int64_t *)rt_tensor_data(t))[i];
}

static void moments(const rt_tensor *t, double *mean, double *var)
{
    int64_t n = rt_tensor_numel(t);
    double s = 0, q = 0;
    for (int64_t i = 0; i < n; i++) s += val(t, i);
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) q += (val(t, i) - *mean) * (val(t, i) - *mean);
    *var = q / (double)(n - 1);
}

/* Lag-1 correlation of the flat sequence. */
static double lag1(const rt_tensor *t, double mean, double var)
{
    int64_t n = rt_tensor_numel(t);
    double c = 0;
    for (int64_t i = 0; i + 1 < n; i++) c += (val(t, i) - mean) * (val(t, i + 1) - mean);
    return c / ((double)(n - 1) * var);
}

static int same_bytes(const rt_tensor *a, const rt_tensor *b)
{
    return a && b && a->dtype == b->dtype && rt_same_shape(a, b) &&
           memcmp(rt_tensor_data(a), rt_tensor_data(b),
                  (size_t)rt_tensor_numel(a) * rt_dtype_size(a->dtype)) == 0;
}

/* Words of counter block blk, draw k, for a generator seed: the documented layout. */
static void words(uint64_t seed, uint64_t blk, uint32_t k, uint32_t w[4])
{
    uint32_t ctr[4] = { (uint32_t)blk, (uint32_t)(blk >> 32), k, 0 };
    uint32_t key[2] = { (uint32_t)seed, (uint32_t)(seed >> 32) };
    rt_philox4x32_10(ctr, key, w);
}

/* ---- Philox known answers ------------------------------------------------------------------
** The three "philox4x32 10" lines of tests/kat_vectors in Random123 (D. E. Shaw Research,
** github.com/DEShawResearch/random123, v1.14.0): counter[4] key[2] -> output[4]. */
static void test_kat(void)
{
    static const uint32_t kat[3][10] = {
        { 0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 },
        { 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
          0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd },
        { 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
          0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1 },
    };
    for (int v = 0; v < 3; v++) {
        uint32_t out[4];
        rt_philox4x32_10(kat[v], kat[v] + 4, out);
        CHECK(memcmp(out, kat[v] + 6, sizeof out) == 0,
              "philox kat %d: got %08x %08x %08x %08x", v, out[0], out[1], out[2], out[3]);
    }
}

/* randint over [0, 2^32-1] takes draw 0 unchanged: it exposes the counter layout, including
** the carry of the 64-bit block number across counter words 0 and 1 and the 64-bit seed. */
static void test_counter_layout(void)
{
    uint64_t seed = 0x0123456789abcdefull;
    rt_generator g = { seed, 0xfffffffffffffffeull };
    rt_tensor *t = NULL;
    CHECK_OK(rt_randint(&g, 0, 0xffffffffll, RT_I64, 1, SHAPE(10), &t));
    int ok = 1;
    for (int64_t i = 0; t && i < 10; i++) {
        uint32_t w[4];
        words(seed, 0xfffffffffffffffeull + (uint64_t)(i / 4), 0, w);
        ok &= ival(t, i) == (int64_t)w[i % 4];
    }
    CHECK(t && ok, "randint [0, 2^32) is not the raw Philox stream");
    CHECK(g.seed == seed && g.offset == 1, "offset wraps past 2^64 - 2 + 3 blocks: got %llu",
          (unsigned long long)g.offset);
    rt_tensor_release(t);
}

/* Uniform values follow the documented transform of the raw words exactly. */
static void test_uniform_transform(void)
{
    rt_generator g = { 99, 1000 };
    rt_tensor *a = NULL, *b = NULL;
    CHECK_OK(rt_rand_uniform(&g, RT_F32, 2, SHAPE(3, 7), -1.5, 2.5, &a));
    CHECK_OK(rt_rand_uniform(&g, RT_F64, 1, SHAPE(21), -1.5, 2.5, &b));
    CHECK(g.offset == 1012, "offset advanced to %llu, expected 1000 + 6 + 6",
          (unsigned long long)g.offset);
    int ok32 = 1, ok64 = 1;
    for (int64_t i = 0; a && b && i < 21; i++) {
        uint32_t w[4], x[4];
        words(99, 1000 + (uint64_t)(i / 4), 0, w);
        float e32 = (float)(-1.5 + 4.0 * ((double)(w[i % 4] >> 8) / 16777216.0));
        ok32 &= (float)val(a, i) == e32;
        words(99, 1006 + (uint64_t)(i / 4), 0, w);
        words(99, 1006 + (uint64_t)(i / 4), 1, x);
        double u = ((double)(w[i % 4] >> 5) * 67108864.0 + (double)(x[i % 4] >> 6)) /
                   9007199254740992.0;
        ok64 &= val(b, i) == -1.5 + 4.0 * u;
    }
    CHECK(ok32, "f32 uniform is not lo + (hi-lo) * (w >> 8) / 2^24");
    CHECK(ok64, "f64 uniform is not lo + (hi-lo) * (53 bits) / 2^53");
    rt_tensor_release(a);
    rt_tensor_release(b);
}

/* [1, 1 + 3 ulp) holds 3 values of the dtype; 1 + 3u rounds to 1, 1+ulp, 1+2ulp, 1+3ulp for
** 1/6, 1/3, 1/3, 1/6 of the draws, and the clamp moves the last sixth to 1+2ulp. */
static void test_uniform_never_hi(void)
{
    for (int d = 0; d < 2; d++) {
        rt_dtype dt = d ? RT_F64 : RT_F32;
        double ulp = d ? 0x1p-52 : 0x1p-23, hi = 1 + 3 * ulp;
        rt_tensor *t = NULL;
        rt_generator g = { 5, 0 };
        CHECK_OK(rt_rand_uniform(&g, dt, 1, SHAPE(6000), 1.0, hi, &t));
        int64_t count[3] = { 0, 0, 0 }, other = 0;
        for (int64_t i = 0; t && i < 6000; i++) {
            double v = val(t, i);
            if (v == 1) count[0]++;
            else if (v == 1 + ulp) count[1]++;
            else if (v == 1 + 2 * ulp) count[2]++;
            else other++;
        }
        CHECK(other == 0 && count[0] > 800 && count[1] > 1600 && count[2] > 2600,
              "%s [1, 1+3ulp): counts %lld %lld %lld, %lld outside", rt_dtype_name(dt),
              (long long)count[0], (long long)count[1], (long long)count[2], (long long)other);
        rt_tensor_release(t);
        /* lo == hi is the degenerate interval: every value is lo. */
        CHECK_OK(rt_rand_uniform(&g, dt, 1, SHAPE(9), 0.25, 0.25, &t));
        int ok = 1;
        for (int64_t i = 0; t && i < 9; i++) ok &= val(t, i) == 0.25;
        CHECK(ok, "uniform on [0.25, 0.25] should be 0.25");
        rt_tensor_release(t);
    }
}

/* ---- determinism --------------------------------------------------------------------------- */
static void test_seeds(void)
{
    rt_tensor *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    rt_generator g1 = { 123, 0 }, g2 = { 123, 0 }, g3 = { 124, 0 };
    CHECK_OK(rt_rand_normal(&g1, RT_F64, 2, SHAPE(50, 3), 0, 1, &a));
    CHECK_OK(rt_rand_normal(&g2, RT_F64, 2, SHAPE(50, 3), 0, 1, &b));
    CHECK_OK(rt_rand_normal(&g3, RT_F64, 2, SHAPE(50, 3), 0, 1, &c));
    CHECK_OK(rt_rand_normal(&g1, RT_F64, 2, SHAPE(50, 3), 0, 1, &d));
    CHECK(same_bytes(a, b), "same seed and offset should give identical tensors");
    int differ = 0, differ2 = 0;
    for (int64_t i = 0; a && c && d && i < 150; i++) {
        differ += val(a, i) != val(c, i);
        differ2 += val(a, i) != val(d, i);
    }
    CHECK(differ == 150, "seeds 123 and 124 agree on %d of 150 values", 150 - differ);
    CHECK(differ2 == 150, "the second call reused counters (%d equal)", 150 - differ2);
    CHECK(g1.offset == 76 && g2.offset == 38, "offsets %llu %llu, expected 76 38",
          (unsigned long long)g1.offset, (unsigned long long)g2.offset);
    rt_tensor_release(a);
    rt_tensor_release(b);
    rt_tensor_release(c);
    rt_tensor_release(d);

    /* The default generator: NULL, manual_seed replays, and calls advance it. */
    rt_tensor *x = NULL, *y = NULL, *z = NULL;
    rt_manual_seed(2024);
    CHECK_OK(rt_rand_uniform(NULL, RT_F32, 1, SHAPE(10), 0, 1, &x));
    CHECK(rt_default_generator()->seed == 2024 && rt_default_generator()->offset == 3,
          "default generator after 10 draws: offset %llu",
          (unsigned long long)rt_default_generator()->offset);
    CHECK_OK(rt_rand_uniform(NULL, RT_F32, 1, SHAPE(10), 0, 1, &y));
    rt_manual_seed(2024);
    CHECK_OK(rt_rand_uniform(NULL, RT_F32, 1, SHAPE(10), 0, 1, &z));
    CHECK(same_bytes(x, z), "manual_seed(2024) should replay the stream");
    CHECK(!same_bytes(x, y), "consecutive default draws should differ");
    rt_generator g = { 2024, 0 };
    rt_tensor_release(y);
    CHECK_OK(rt_rand_uniform(&g, RT_F32, 1, SHAPE(10), 0, 1, &y));
    CHECK(same_bytes(x, y), "an explicit generator {2024, 0} should match the default one");
    rt_tensor_release(x);
    rt_tensor_release(y);
    rt_tensor_release(z);
}

/* A small call is a prefix of a large one from the same state: values do not depend on the
** total size or on where chunks end. */
static void test_prefix(void)
{
    int ok = 1;
    for (int kind = 0; kind < 3; kind++) {
        rt_tensor *s = NULL, *l = NULL;
        rt_generator g1 = { 77, 3 }, g2 = { 77, 3 };
        if (kind == 0) {
            rt_rand_normal(&g1, RT_F32, 1, SHAPE(5), 0, 1, &s);
            rt_rand_normal(&g2, RT_F32, 1, SHAPE(40001), 0, 1, &l);
        } else if (kind == 1) {
            rt_randint(&g1, -10, 10, RT_I64, 1, SHAPE(7), &s);
            rt_randint(&g2, -10, 10, RT_I64, 1, SHAPE(40001), &l);
        } else {
            rt_bernoulli_scalar(&g1, 0.5, RT_F64, 1, SHAPE(3), &s);
            rt_bernoulli_scalar(&g2, 0.5, RT_F64, 1, SHAPE(40001), &l);
        }
        for (int64_t i = 0; s && l && i < rt_tensor_numel(s); i++) ok &= val(s, i) == val(l, i);
        ok &= s && l;
        rt_tensor_release(s);
        rt_tensor_release(l);
    }
    CHECK(ok, "a short call should be a prefix of a long call from the same state");
}

/* 1M elements per op, with 1 and 2 threads: bitwise equal. */
static void make_all(rt_tensor **r)
{
    rt_generator g = { 31337, 17 };
    int64_t n = 1000000;
    rt_tensor *p = NULL, *pt = NULL;
    CHECK_OK(rt_rand_uniform(&g, RT_F32, 1, SHAPE(n), -1, 1, &r[0]));
    CHECK_OK(rt_rand_normal(&g, RT_F64, 2, SHAPE(1000, 1000), 0, 1, &r[1]));
    CHECK_OK(rt_randint(&g, -5, 1000000007, RT_I64, 1, SHAPE(n), &r[2]));
    CHECK_OK(rt_rand_uniform(&g, RT_F32, 2, SHAPE(1000, 1000), 0, 1, &p));
    CHECK_OK(rt_view_transpose(p, 0, 1, &pt));
    CHECK_OK(rt_bernoulli(&g, pt, &r[3]));
    CHECK_OK(rt_zeros(RT_F64, 2, SHAPE(1000, 1000), &r[4]));
    rt_tensor_release(pt);
    CHECK_OK(rt_view_transpose(r[4], 0, 1, &pt));
    CHECK_OK(rt_normal_(&g, pt, 2, 3));
    rt_tensor_release(pt);
    rt_tensor_release(p);
}

static void test_threads(void)
{
    rt_tensor *one[5] = { 0 }, *two[5] = { 0 };
    CHECK_OK(rt_set_num_threads(1));
    make_all(one);
    CHECK_OK(rt_set_num_threads(2));
    make_all(two);
    const char *names[5] = { "uniform", "normal", "randint", "bernoulli", "normal_" };
    for (int k = 0; k < 5; k++) {
        CHECK(same_bytes(one[k], two[k]), "%s differs between 1 and 2 threads", names[k]);
        rt_tensor_release(one[k]);
        rt_tensor_release(two[k]);
    }
}

/* ---- distributions ------------------------------------------------------------------------- */
/* Sample mean and variance of 10^6 draws within 5 standard errors of the true values; mu4 is
** the fourth central moment (the variance of the sample variance is (mu4 - var^2) / n). */
static void check_moments(const char *what, const rt_tensor *t, double mean, double var,
                          double mu4)
{
    double m, v, n = (double)rt_tensor_numel(t);
    moments(t, &m, &v);
    double se_m = sqrt(var / n), se_v = sqrt((mu4 - var * var) / n);
    CHECK(fabs(m - mean) < 5 * se_m, "%s: mean %.6f, expected %.6f +- %.2g", what, m, mean,
          5 * se_m);
    CHECK(fabs(v - var) < 5 * se_v, "%s: variance %.6f, expected %.6f +- %.2g", what, v, var,
          5 * se_v);
    double r = lag1(t, m, v);
    CHECK(fabs(r) < 5 / sqrt(n), "%s: lag-1 correlation %.5f", what, r);
}

static void test_uniform_moments(void)
{
    for (int d = 0; d < 2; d++) {
        rt_dtype dt = d ? RT_F64 : RT_F32;
        rt_generator g = { 11 + (uint64_t)d, 0 };
        rt_tensor *t = NULL;
        double lo = -2, hi = 3, w = hi - lo;
        CHECK_OK(rt_rand_uniform(&g, dt, 1, SHAPE(1000000), lo, hi, &t));
        if (!t) continue;
        check_moments(d ? "uniform f64" : "uniform f32", t, (lo + hi) / 2, w * w / 12,
                      w * w * w * w / 80);
        double mn = INFINITY, mx = -INFINITY;
        for (int64_t i = 0; i < 1000000; i++) {
            mn = fmin(mn, val(t, i));
            mx = fmax(mx, val(t, i));
        }
        CHECK(mn >= lo && mx < hi && mn < lo + 1e-4 && mx > hi - 1e-4,
              "uniform range [%g, %g] for [-2, 3)", mn, mx);
        rt_tensor_release(t);
    }
}

static void test_normal_moments(void)
{
    for (int d = 0; d < 2; d++) {
        rt_dtype dt = d ? RT_F64 : RT_F32;
        rt_generator g = { 21 + (uint64_t)d, 5 };
        rt_tensor *t = NULL;
        double mu = 1.5, sd = 2;
        CHECK_OK(rt_rand_normal(&g, dt, 3, SHAPE(100, 100, 100), mu, sd, &t));
        if (!t) continue;
        check_moments(d ? "normal f64" : "normal f32", t, mu, sd * sd, 3 * pow(sd, 4));
        /* P(|z| < 1) = erf(1/sqrt 2) = 0.682689492137 */
        int64_t in1 = 0;
        double zmax = 0;
        for (int64_t i = 0; i < 1000000; i++) {
            double z = (val(t, i) - mu) / sd;
            in1 += fabs(z) < 1;
            zmax = fmax(zmax, fabs(z));
        }
        double f = (double)in1 / 1e6, p = 0.682689492137;
        CHECK(fabs(f - p) < 5 * sqrt(p * (1 - p) / 1e6), "normal: P(|z|<1) = %.5f", f);
        CHECK(zmax > 4 && zmax < 8.6, "normal: max |z| = %g", zmax);
        rt_tensor_release(t);
    }
    rt_tensor *t = NULL;
    rt_generator g = { 1, 0 };
    CHECK_OK(rt_rand_normal(&g, RT_F64, 1, SHAPE(8), 3, 0, &t));
    int ok = 1;
    for (int64_t i = 0; t && i < 8; i++) ok &= val(t, i) == 3;
    CHECK(ok, "std 0 should give the mean exactly");
    rt_tensor_release(t);
}

/* Pearson chi-square of counts against equal expectation. */
static double chi2(const int64_t *count, int k, double total)
{
    double e = total / k, c = 0;
    for (int i = 0; i < k; i++) c += ((double)count[i] - e) * ((double)count[i] - e) / e;
    return c;
}

static void test_randint(void)
{
    rt_generator g = { 8, 0 };
    rt_tensor *t = NULL;
    int64_t count[12] = { 0 }, bad = 0;
    CHECK_OK(rt_randint(&g, -3, 8, RT_I64, 2, SHAPE(600, 1000), &t));
    for (int64_t i = 0; t && i < 600000; i++) {
        int64_t v = ival(t, i);
        if (v < -3 || v > 8) bad++;
        else count[v + 3]++;
    }
    /* 11 degrees of freedom: P(chi2 > 40) < 1e-4. */
    double c = chi2(count, 12, 600000);
    CHECK(bad == 0 && c < 40, "randint [-3, 8]: %lld out of range, chi2 %.2f", (long long)bad, c);
    rt_tensor_release(t);

    /* r = 3 * 2^30 and 3 * 2^61: plain `word % r` would put half the mass in the first third
    ** (2^32 mod r = 2^30, 2^64 mod r = 2^61).  Rejection makes the thirds equal. */
    const int64_t ranges[2] = { 3ll << 30, 3ll << 61 };
    for (int k = 0; k < 2; k++) {
        int64_t third = ranges[k] / 3, cnt[3] = { 0, 0, 0 };
        CHECK_OK(rt_randint(&g, 0, ranges[k] - 1, RT_I64, 1, SHAPE(300000), &t));
        for (int64_t i = 0; t && i < 300000; i++) {
            int64_t v = ival(t, i);
            if (v >= 0 && v < ranges[k]) cnt[v / third]++;
        }
        c = chi2(cnt, 3, 300000);
        CHECK(c < 25, "randint over %lld values: thirds %lld %lld %lld (chi2 %.1f)",
              (long long)ranges[k], (long long)cnt[0], (long long)cnt[1], (long long)cnt[2], c);
        rt_tensor_release(t);
    }

    /* The full int64 range (width 2^64) and a one-value range. */
    CHECK_OK(rt_randint(&g, INT64_MIN, INT64_MAX, RT_I64, 1, SHAPE(100000), &t));
    int64_t neg = 0;
    for (int64_t i = 0; t && i < 100000; i++) neg += ival(t, i) < 0;
    CHECK(fabs((double)neg - 50000) < 5 * sqrt(25000.0), "full range: %lld negative of 1e5",
          (long long)neg);
    rt_tensor_release(t);
    CHECK_OK(rt_randint(&g, INT64_MAX, INT64_MAX, RT_I64, 1, SHAPE(5), &t));
    int ok = 1;
    for (int64_t i = 0; t && i < 5; i++) ok &= ival(t, i) == INT64_MAX;
    CHECK(ok, "randint [max, max] should be max");
    rt_tensor_release(t);

    /* Float dtypes receive the same integers, converted. */
    rt_tensor *a = NULL, *b = NULL;
    rt_generator g1 = { 3, 3 }, g2 = { 3, 3 };
    CHECK_OK(rt_randint(&g1, -100, 100, RT_I64, 1, SHAPE(1000), &a));
    CHECK_OK(rt_randint(&g2, -100, 100, RT_F32, 1, SHAPE(1000), &b));
    ok = a && b && b->dtype == RT_F32;
    for (int64_t i = 0; ok && i < 1000; i++) ok &= val(a, i) == val(b, i);
    CHECK(ok, "randint f32 should equal randint i64 from the same state");
    rt_tensor_release(a);
    rt_tensor_release(b);
}

static void test_bernoulli(void)
{
    rt_generator g = { 4, 0 };
    rt_tensor *t = NULL;
    double m, v;
    CHECK_OK(rt_bernoulli_scalar(&g, 0.3, RT_F32, 1, SHAPE(1000000), &t));
    if (t) {
        moments(t, &m, &v);
        CHECK(fabs(m - 0.3) < 5 * sqrt(0.21 / 1e6), "bernoulli(0.3) mean %.5f", m);
        int ok = 1;
        for (int64_t i = 0; i < 1000000; i++) ok &= val(t, i) == 0 || val(t, i) == 1;
        CHECK(ok && t->dtype == RT_F32, "bernoulli values should be 0 or 1 in f32");
    }
    rt_tensor_release(t);
    for (int k = 0; k < 2; k++) {
        CHECK_OK(rt_bernoulli_scalar(&g, k, RT_I64, 1, SHAPE(10000), &t));
        int ok = t && t->dtype == RT_I64;
        for (int64_t i = 0; ok && i < 10000; i++) ok &= ival(t, i) == k;
        CHECK(ok, "bernoulli(%d) should be all %d", k, k);
        rt_tensor_release(t);
    }

    /* Per-element p from a broadcast view (stride 0 along rows): column means follow p. */
    const double pv[4] = { 0, 1, 0.25, 0.9 };
    rt_tensor *p = NULL, *pe = NULL;
    CHECK_OK(rt_from_buffer(RT_F64, 2, SHAPE(1, 4), pv, &p));
    CHECK_OK(rt_view_expand(p, 2, SHAPE(200000, 4), &pe));
    CHECK_OK(rt_bernoulli(&g, pe, &t));
    if (t) {
        CHECK(t->dtype == RT_F64 && h_shape_is(t, 2, SHAPE(200000, 4)), "bernoulli shape/dtype");
        for (int c = 0; c < 4; c++) {
            double s = 0;
            for (int64_t r = 0; r < 200000; r++) s += val(t, r * 4 + c);
            s /= 200000;
            double se = sqrt(pv[c] * (1 - pv[c]) / 200000);
            CHECK(fabs(s - pv[c]) <= 5 * se, "bernoulli column %d: mean %.5f, p %.2f", c, s,
                  pv[c]);
        }
    }
    rt_tensor_release(t);
    rt_tensor_release(pe);
    rt_tensor_release(p);

    /* Tensor p equal everywhere gives the same draws as the scalar form. */
    rt_tensor *a = NULL, *b = NULL;
    rt_generator g1 = { 6, 9 }, g2 = { 6, 9 };
    CHECK_OK(rt_full(RT_F32, 2, SHAPE(30, 31), 0.4, &p));
    CHECK_OK(rt_bernoulli(&g1, p, &a));
    CHECK_OK(rt_bernoulli_scalar(&g2, (float)0.4, RT_F32, 2, SHAPE(30, 31), &b));
    CHECK(same_bytes(a, b), "bernoulli(tensor p) should match bernoulli_scalar(p)");
    rt_tensor_release(a);
    rt_tensor_release(b);
    rt_tensor_release(p);
}

static void test_randperm(void)
{
    rt_generator g = { 10, 0 };
    rt_tensor *t = NULL;
    for (int k = 0; k < 3; k++) {
        int64_t n = k == 0 ? 0 : k == 1 ? 1 : 1000;
        uint64_t before = g.offset;
        CHECK_OK(rt_randperm(&g, n, &t));
        if (!t) continue;
        char seen[1000] = { 0 };
        int ok = t->dtype == RT_I64 && h_shape_is(t, 1, SHAPE(n));
        for (int64_t i = 0; ok && i < n; i++) {
            int64_t v = ival(t, i);
            ok = v >= 0 && v < n && !seen[v];
            if (ok) seen[v] = 1;
        }
        CHECK(ok, "randperm(%lld) is not a permutation", (long long)n);
        CHECK(g.offset == before + (uint64_t)(n + 3) / 4, "randperm(%lld) advanced offset by %llu",
              (long long)n, (unsigned long long)(g.offset - before));
        rt_tensor_release(t);
    }
    /* Where element 0 lands in randperm(5), over 20000 permutations: uniform. */
    int64_t pos[5] = { 0 };
    for (int r = 0; r < 20000; r++) {
        if (rt_randperm(&g, 5, &t) != RT_OK) break;
        for (int i = 0; i < 5; i++)
            if (ival(t, i) == 0) pos[i]++;
        rt_tensor_release(t);
    }
    double c = chi2(pos, 5, 20000);
    CHECK(c < 25, "randperm(5): position of 0 has chi2 %.2f", c);
    /* The documented algorithm, written out: Fisher-Yates from i = n-1 down, partner drawn
    ** from lane i%4 of block offset + i/4, words below 2^32 mod (i+1) redrawn (draw 1, 2...). */
    rt_generator gr = { 0xfeedull << 40, 12345 };
    int64_t ref[37];
    for (int64_t i = 0; i < 37; i++) ref[i] = i;
    for (int64_t i = 36; i > 0; i--) {
        uint64_t r = (uint64_t)i + 1, lim = 0x100000000ull % r, x;
        uint32_t w[4], k = 0;
        do {
            words(gr.seed, gr.offset + (uint64_t)(i / 4), k++, w);
            x = w[i % 4];
        } while (x < lim);
        int64_t jj = (int64_t)(x % r), tmp = ref[i];
        ref[i] = ref[jj];
        ref[jj] = tmp;
    }
    CHECK_OK(rt_randperm(&gr, 37, &t));
    int same = t != NULL;
    for (int64_t i = 0; same && i < 37; i++) same = ival(t, i) == ref[i];
    CHECK(same, "randperm(37) differs from the documented Fisher-Yates");
    rt_tensor_release(t);

    rt_tensor *a = NULL, *b = NULL;
    rt_generator g1 = { 1, 0 }, g2 = { 2, 0 };
    CHECK_OK(rt_randperm(&g1, 100, &a));
    CHECK_OK(rt_randperm(&g2, 100, &b));
    CHECK(a && b && !same_bytes(a, b), "randperm with seeds 1 and 2 should differ");
    rt_tensor_release(a);
    rt_tensor_release(b);
}

/* ---- in-place fills of views --------------------------------------------------------------- */
/* base (6,10) of zeros; the view takes columns 1,3,5,7 and transposes them: (4,6), strides
** (2,10), offset 1.  Filling it must write exactly those 24 elements, with the values of a new
** (4,6) tensor drawn from the same state. */
static void test_fill_views(void)
{
    for (int d = 0; d < 2; d++) {
        rt_dtype dt = d ? RT_F64 : RT_F32;
        rt_tensor *base = NULL, *s = NULL, *v = NULL, *ref = NULL;
        CHECK_OK(rt_zeros(dt, 2, SHAPE(6, 10), &base));
        CHECK_OK(rt_view_slice(base, 1, 1, 8, 2, &s));
        CHECK_OK(rt_view_transpose(s, 0, 1, &v));
        if (!v) return;
        rt_generator g1 = { 55, 2 }, g2 = { 55, 2 };
        uint32_t ver = base->storage->version;
        if (d) {
            CHECK_OK(rt_normal_(&g1, v, -1, 0.5));
            CHECK_OK(rt_rand_normal(&g2, dt, 2, SHAPE(4, 6), -1, 0.5, &ref));
        } else {
            CHECK_OK(rt_uniform_(&g1, v, 2, 4));
            CHECK_OK(rt_rand_uniform(&g2, dt, 2, SHAPE(4, 6), 2, 4, &ref));
        }
        CHECK(base->storage->version != ver, "fill should bump the version");
        CHECK(g1.offset == g2.offset && g1.offset == 8, "fill advanced offset to %llu",
              (unsigned long long)g1.offset);
        int ok = ref != NULL, outside = 0;
        for (int64_t i = 0; ok && i < 24; i++) ok &= h_at(v, i) == val(ref, i);
        for (int64_t r = 0; r < 6; r++)
            for (int64_t c = 0; c < 10; c++) {
                int in = c % 2 == 1 && c < 8;
                double x = val(base, r * 10 + c);
                outside += in ? x == 0 : x != 0;
            }
        CHECK(ok, "%s fill of a transposed slice should equal a fresh draw",
              d ? "normal_" : "uniform_");
        CHECK(outside == 0, "%d elements written outside the view, or left unwritten", outside);
        rt_tensor_release(ref);
        rt_tensor_release(v);
        rt_tensor_release(s);
        rt_tensor_release(base);
    }
}

/* ---- shapes, errors, failures -------------------------------------------------------------- */
static void test_shapes(void)
{
    rt_generator g = { 1, 40 };
    rt_tensor *t = NULL;
    CHECK_OK(rt_rand_normal(&g, RT_F32, 2, SHAPE(0, 3), 0, 1, &t));
    CHECK(t && h_shape_is(t, 2, SHAPE(0, 3)) && g.offset == 40, "empty draw should not advance");
    rt_tensor_release(t);
    t = NULL;
    CHECK_OK(rt_randint(&g, 0, 9, RT_I64, 0, NULL, &t));
    CHECK(t && t->ndim == 0 && ival(t, 0) >= 0 && ival(t, 0) <= 9 && g.offset == 41,
          "0-d randint");
    rt_tensor_release(t);
    CHECK_OK(rt_rand_uniform(&g, RT_F64, 3, SHAPE(1, 1, 5), 0, 1, &t));
    CHECK(t && h_shape_is(t, 3, SHAPE(1, 1, 5)) && g.offset == 43, "size-1 dims");
    rt_tensor_release(t);
}

static void test_errors(void)
{
    rt_generator g = { 1, 7 };
    rt_tensor *t = NULL, *i64 = NULL, *p = NULL, *e = NULL;
    CHECK_FAILS(rt_rand_uniform(&g, RT_F32, 1, SHAPE(3), 2, 1, &t), RT_EARG,
                "rand_uniform: lo = 2 is greater than hi = 1");
    CHECK_FAILS(rt_rand_uniform(&g, RT_F64, 1, SHAPE(3), 0, INFINITY, &t), RT_EARG,
                "bounds must be finite");
    CHECK_FAILS(rt_rand_uniform(&g, RT_F64, 1, SHAPE(3), -1e308, 1e308, &t), RT_EARG,
                "wider than a double");
    CHECK_FAILS(rt_rand_uniform(&g, RT_F32, 1, SHAPE(3), 0, 1e39, &t), RT_EARG,
                "outside the range of f32");
    CHECK_FAILS(rt_rand_uniform(&g, RT_I64, 1, SHAPE(3), 0, 1, &t), RT_EDTYPE,
                "rand_uniform: dtype i64 is not a float dtype");
    CHECK_FAILS(rt_rand_normal(&g, RT_I64, 1, SHAPE(3), 0, 1, &t), RT_EDTYPE,
                "rand_normal: dtype i64");
    CHECK_FAILS(rt_rand_normal(&g, RT_F32, 1, SHAPE(3), 0, -0.5, &t), RT_EARG,
                "rand_normal: std = -0.5 is negative");
    CHECK_FAILS(rt_rand_normal(&g, RT_F32, 1, SHAPE(3), NAN, 1, &t), RT_EARG, "must be finite");
    CHECK_FAILS(rt_randint(&g, 5, 3, RT_I64, 1, SHAPE(3), &t), RT_EARG,
                "randint: lo = 5 is greater than hi = 3");
    CHECK_FAILS(rt_randperm(&g, -1, &t), RT_EARG, "randperm: n = -1 is negative");
    CHECK_FAILS(rt_bernoulli_scalar(&g, 1.5, RT_F32, 1, SHAPE(3), &t), RT_EARG,
                "bernoulli: p = 1.5 is outside [0, 1]");
    CHECK_FAILS(rt_bernoulli_scalar(&g, NAN, RT_F32, 1, SHAPE(3), &t), RT_EARG, "outside [0, 1]");
    CHECK_FAILS(rt_rand_normal(&g, RT_F32, 2, SHAPE(3, -2), 0, 1, &t), RT_EARG,
                "rand_normal: size -2 of dimension 2 is negative");
    CHECK_FAILS(rt_randint(&g, 0, 1, RT_I64, 9, SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1), &t), RT_EARG,
                "randint: 9 dimensions requested, at most 8");

    /* bernoulli names the first bad p by flat index, even past the first chunk. */
    CHECK_OK(rt_full(RT_F64, 1, SHAPE(50000), 0.5, &p));
    if (p) {
        ((double *)rt_tensor_data(p))[40001] = -0.25;
        ((double *)rt_tensor_data(p))[45000] = 2;
        CHECK_FAILS(rt_bernoulli(&g, p, &t), RT_EARG, "bernoulli: p[40001] = -0.25 is outside");
        ((double *)rt_tensor_data(p))[40001] = NAN;
        CHECK_FAILS(rt_bernoulli(&g, p, &t), RT_EARG, "p[40001] = nan");
    }
    CHECK_OK(rt_zeros(RT_I64, 1, SHAPE(4), &i64));
    CHECK_FAILS(rt_bernoulli(&g, i64, &t), RT_EDTYPE, "bernoulli: probabilities p must be f32");
    CHECK_FAILS(rt_uniform_(&g, i64, 0, 1), RT_EDTYPE, "uniform_: the tensor's dtype i64");
    CHECK_FAILS(rt_normal_(&g, i64, 0, 1), RT_EDTYPE, "normal_: the tensor's dtype i64");
    rt_tensor_release(p);
    CHECK_OK(rt_zeros(RT_F32, 2, SHAPE(1, 4), &p));
    CHECK_OK(rt_view_expand(p, 2, SHAPE(3, 4), &e));
    CHECK_FAILS(rt_normal_(&g, e, 0, 1), RT_EARG, "normal_: the tensor is an expanded view");
    CHECK_FAILS(rt_uniform_(&g, p, 1, 0), RT_EARG, "uniform_: lo = 1 is greater than hi = 0");
    CHECK(t == NULL && g.seed == 1 && g.offset == 7, "failures must not touch *out or the "
          "generator (offset %llu)", (unsigned long long)g.offset);
    rt_tensor_release(e);
    rt_tensor_release(p);
    rt_tensor_release(i64);
}

/* Allocation failure and interrupts: RT_ENOMEM / RT_EINTERRUPT, nothing leaks (ASan), the
** generator does not move. */
static void test_failures(void)
{
    rt_generator g = { 9, 9 };
    rt_tensor *t = NULL;
    for (int k = 1; k <= 1; k++) {   /* a fresh tensor is one allocation */
        rt_debug_fail_alloc_at(k);
        rt_status st = rt_rand_normal(&g, RT_F32, 1, SHAPE(100), 0, 1, &t);
        rt_debug_fail_alloc_at(0);
        CHECK(st == RT_ENOMEM && t == NULL, "allocation %d failing: %s", k, rt_status_name(st));
        rt_debug_fail_alloc_at(k);
        st = rt_randperm(&g, 100, &t);
        rt_debug_fail_alloc_at(0);
        CHECK(st == RT_ENOMEM && t == NULL, "randperm, allocation %d failing: %s", k,
              rt_status_name(st));
    }
    rt_interrupt_request();
    CHECK_FAILS(rt_rand_uniform(&g, RT_F64, 1, SHAPE(100000), 0, 1, &t), RT_EINTERRUPT,
                "interrupted");
    CHECK_FAILS(rt_randperm(&g, 200000, &t), RT_EINTERRUPT, "interrupted");
    rt_interrupt_clear();
    CHECK(t == NULL && g.offset == 9, "interrupted calls must not produce or advance");
}

int main(void)
{
    test_kat();
    test_counter_layout();
    test_uniform_transform();
    test_uniform_never_hi();
    test_seeds();
    test_prefix();
    test_threads();
    test_uniform_moments();
    test_normal_moments();
    test_randint();
    test_bernoulli();
    test_randperm();
    test_fill_views();
    test_shapes();
    test_errors();
    test_failures();
    REPORT();
}
