/* random.c — random tensors from the counter-based Philox4x32-10 generator: uniform, normal,
** randint, bernoulli, randperm and the in-place fills used by nn.init.  Every value is a pure
** function of (seed, offset, flat element index), so results never depend on the thread
** count or on chunking.  Not here: dropout and sampling ops built on top of these. */
#include <float.h>
#include <math.h>
#include "internal.h"
#include "rt_random.h"

/* ---- Philox4x32-10 ------------------------------------------------------------------------
** Constants and round function from Salmon et al. (SC 2011) and Random123's philox.h: two
** 32x32->64 multiplies per round, the key bumped by the Weyl constants before rounds 2..10. */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void rt_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* ---- generators ---------------------------------------------------------------------------- */
static rt_generator default_gen = { RT_DEFAULT_SEED, 0 };

rt_generator *rt_default_generator(void) { return &default_gen; }

void rt_manual_seed(uint64_t seed)
{
    default_gen.seed = seed;
    default_gen.offset = 0;
}

/* ---- one fill job ---------------------------------------------------------------------------
** Operand 0 of `it` is the output; operand 1 (bernoulli with a tensor p) is p, same shape. */
enum { K_UNIFORM, K_NORMAL, K_RANDINT, K_BERNOULLI };

#define RNG_GRAIN 16384   /* elements per chunk: a multiple of 4, so no block straddles chunks */
#define BATCH 256         /* elements generated per stack buffer */

typedef struct {
    int kind;
    rt_dtype dt;            /* of the output */
    uint32_t key[2];
    uint64_t base;          /* counter block of flat element 0 */
    double a, b;            /* uniform: lo, hi-lo; normal: mean, std; bernoulli: scalar p */
    double below_hi;        /* uniform: largest value of dt below hi (at least lo) */
    int64_t ilo;            /* randint: lo */
    uint64_t range;         /* randint: hi - lo + 1 (0 stands for 2^64) */
    int has_p;              /* bernoulli: p is operand 1 */
    rti_iter it;
} rng_job;

static void draw(const rng_job *j, uint64_t blk, uint32_t k, uint32_t w[4])
{
    uint32_t ctr[4] = { (uint32_t)blk, (uint32_t)(blk >> 32), k, 0 };
    rt_philox4x32_10(ctr, j->key, w);
}

/* 53 random bits from two words, as a double in [0, 1) (genrand_res53's split). */
static double u53(uint32_t a, uint32_t b)
{
    return ((double)(a >> 5) * 67108864.0 + (double)(b >> 6)) * 0x1p-53;
}

/* ---- per-block transforms: the 4 values of counter block blk ------------------------------ */
static void block_uniform(const rng_job *j, uint64_t blk, double v[4])
{
    uint32_t w[4], x[4];
    draw(j, blk, 0, w);
    if (j->dt == RT_F64) {
        draw(j, blk, 1, x);
        for (int l = 0; l < 4; l++) {
            double y = j->a + j->b * u53(w[l], x[l]);
            v[l] = y > j->below_hi ? j->below_hi : y;   /* y rounded up to hi */
        }
        return;
    }
    /* Rounding lo + (hi-lo)*u to f32 can land on hi (e.g. [1,2) with u = 1 - 2^-24). */
    for (int l = 0; l < 4; l++) {
        double y = (double)(float)(j->a + j->b * ((double)(w[l] >> 8) * 0x1p-24));
        v[l] = y > j->below_hi ? j->below_hi : y;
    }
}

/* Box-Muller: u1 in (0, 1] keeps log finite; lanes (0,1) and (2,3) are the pairs. */
static void block_normal(const rng_job *j, uint64_t blk, double v[4])
{
    uint32_t w[4], x[4];
    double u[4];
    draw(j, blk, 0, w);
    if (j->dt == RT_F64) {
        draw(j, blk, 1, x);
        for (int l = 0; l < 4; l++) u[l] = u53(w[l], x[l]);
        u[0] += 0x1p-53;
        u[2] += 0x1p-53;
    } else {
        for (int l = 0; l < 4; l++) u[l] = (double)w[l] * 0x1p-32;
        u[0] += 0x1p-32;
        u[2] += 0x1p-32;
    }
    for (int l = 0; l < 4; l += 2) {
        double r = sqrt(-2.0 * log(u[l])), t = 6.283185307179586 * u[l + 1];
        v[l] = j->a + j->b * (r * cos(t));
        v[l + 1] = j->a + j->b * (r * sin(t));
    }
}

/* Unbiased value in [0, r) for one lane (r == 0 means 2^64).  w0/w1 hold draws 0 and 1.
** Words below 2^32 mod r (2^64 mod r) are rejected: the rest is a multiple of r values. */
static uint64_t lane_below(const rng_job *j, uint64_t blk, int lane, uint64_t r,
                           const uint32_t w0[4], const uint32_t w1[4])
{
    uint32_t w[4], x[4];
    if (r == 0) return (uint64_t)w0[lane] << 32 | w1[lane];
    if (r <= 0x100000000ull) {
        uint64_t t = 0x100000000ull % r, v = w0[lane];
        for (uint32_t k = 1; v < t; k++) {
            draw(j, blk, k, w);
            v = w[lane];
        }
        return v % r;
    }
    uint64_t t = (0 - r) % r, v = (uint64_t)w0[lane] << 32 | w1[lane];
    for (uint32_t k = 2; v < t; k += 2) {
        draw(j, blk, k, w);
        draw(j, blk, k + 1, x);
        v = (uint64_t)w[lane] << 32 | x[lane];
    }
    return v % r;
}

static void block_randint(const rng_job *j, uint64_t blk, int64_t v[4])
{
    uint32_t w0[4], w1[4] = { 0, 0, 0, 0 };
    draw(j, blk, 0, w0);
    if (j->range == 0 || j->range > 0x100000000ull) draw(j, blk, 1, w1);
    for (int l = 0; l < 4; l++) {
        uint64_t u = (uint64_t)j->ilo + lane_below(j, blk, l, j->range, w0, w1);
        v[l] = u <= INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;   /* two's complement, no UB */
    }
}

static void block_bernoulli_u(const rng_job *j, uint64_t blk, double v[4])
{
    uint32_t w[4], x[4];
    draw(j, blk, 0, w);
    draw(j, blk, 1, x);
    for (int l = 0; l < 4; l++) v[l] = u53(w[l], x[l]);
}

/* ---- stores: n values to o with element stride os ----------------------------------------- */
static void store_doubles(rt_dtype dt, char *o, int64_t sb, const double *v, int64_t n)
{
    int64_t os = sb / (int64_t)rt_dtype_size(dt);
    if (dt == RT_F32) {
        float *f = (float *)o;
        for (int64_t i = 0; i < n; i++) f[i * os] = (float)v[i];
    } else if (dt == RT_F64) {
        double *d = (double *)o;
        for (int64_t i = 0; i < n; i++) d[i * os] = v[i];
    } else {
        int64_t *d = (int64_t *)o;
        for (int64_t i = 0; i < n; i++) d[i * os] = (int64_t)v[i];
    }
}

static void store_ints(rt_dtype dt, char *o, int64_t sb, const int64_t *v, int64_t n)
{
    int64_t os = sb / (int64_t)rt_dtype_size(dt);
    if (dt == RT_F32) {
        float *f = (float *)o;
        for (int64_t i = 0; i < n; i++) f[i * os] = (float)v[i];
    } else if (dt == RT_F64) {
        double *d = (double *)o;
        for (int64_t i = 0; i < n; i++) d[i * os] = (double)v[i];
    } else {
        int64_t *d = (int64_t *)o;
        for (int64_t i = 0; i < n; i++) d[i * os] = v[i];
    }
}

/* u[i] <- (u[i] < p[i]); returns the index of the first p outside [0, 1], or -1. */
static int64_t compare_p(rt_dtype dt, const char *p, int64_t sb, double *u, int64_t n, double *bad)
{
    int64_t ps = sb / (int64_t)rt_dtype_size(dt);
    for (int64_t i = 0; i < n; i++) {
        double q = dt == RT_F32 ? (double)((const float *)p)[i * ps] : ((const double *)p)[i * ps];
        if (!(q >= 0 && q <= 1)) {
            *bad = q;
            return i;
        }
        u[i] = u[i] < q ? 1.0 : 0.0;
    }
    return -1;
}

/* ---- the parallel walk ---------------------------------------------------------------------- */
typedef struct {
    const rng_job *j;
    int64_t pos;        /* flat index of the next element this chunk writes */
    int64_t bad_index;  /* bernoulli: first p outside [0, 1], or -1 */
    double bad_p;
} run_state;

/* Elements [s->pos, s->pos + n), n <= BATCH: whole blocks are generated, the lanes in range
** are stored.  A run that starts mid-block recomputes that block, which costs little. */
static void fill_batch(run_state *s, char **ptr, const int64_t *stride, int64_t n)
{
    const rng_job *j = s->j;
    double v[BATCH + 4];
    int64_t iv[BATCH + 4];
    int64_t first = s->pos & ~(int64_t)3, skip = s->pos - first;
    for (int64_t b = first; b < s->pos + n; b += 4) {
        uint64_t blk = j->base + (uint64_t)(b >> 2);
        switch (j->kind) {
        case K_UNIFORM: block_uniform(j, blk, v + (b - first)); break;
        case K_NORMAL: block_normal(j, blk, v + (b - first)); break;
        case K_RANDINT: block_randint(j, blk, iv + (b - first)); break;
        default: block_bernoulli_u(j, blk, v + (b - first)); break;
        }
    }
    if (j->kind == K_RANDINT) {
        store_ints(j->dt, ptr[0], stride[0], iv + skip, n);
        return;
    }
    if (j->kind == K_BERNOULLI && j->has_p) {
        int64_t bad = compare_p(j->dt, ptr[1], stride[1], v + skip, n, &s->bad_p);
        if (bad >= 0) {
            s->bad_index = s->pos + bad;
            return;
        }
    } else if (j->kind == K_BERNOULLI) {
        for (int64_t i = 0; i < n; i++) v[skip + i] = v[skip + i] < j->a ? 1.0 : 0.0;
    }
    store_doubles(j->dt, ptr[0], stride[0], v + skip, n);
}

static void fill_run(void *c, char **ptr, const int64_t *stride, int64_t n)
{
    run_state *s = c;
    char *p[2] = { ptr[0], s->j->has_p ? ptr[1] : NULL };
    while (n > 0 && s->bad_index < 0) {
        int64_t m = n < BATCH ? n : BATCH;
        fill_batch(s, p, stride, m);
        s->pos += m;
        n -= m;
        p[0] += m * stride[0];
        if (p[1]) p[1] += m * stride[1];
    }
}

static rt_status fill_chunk(void *ctx, int64_t chunk, int64_t begin, int64_t end)
{
    (void)chunk;
    const rng_job *j = ctx;
    run_state s = { j, begin, -1, 0 };
    rti_iter_range(&j->it, begin, end, fill_run, &s);
    if (s.bad_index >= 0)   /* the pool reports the lowest failing chunk: the first bad p */
        return rt_fail(RT_EARG, 0, "bernoulli: p[%lld] = %g is outside [0, 1]",
                       (long long)s.bad_index, s.bad_p);
    return RT_OK;
}

static uint64_t blocks_for(int64_t n) { return (uint64_t)(n / 4) + (n % 4 != 0); }

/* Fills out (and reads p) from gen's current state; advances gen only on success. */
static rt_status run_job(rt_generator *gen, rng_job *j, rt_tensor *out, const rt_tensor *p)
{
    rt_generator *g = gen ? gen : &default_gen;
    rt_tensor *ops[2] = { out, (rt_tensor *)p };
    j->key[0] = (uint32_t)g->seed;
    j->key[1] = (uint32_t)(g->seed >> 32);
    j->base = g->offset;
    j->has_p = p != NULL;
    rti_iter_init(&j->it, p ? 2 : 1, ops);
    int64_t n = rt_tensor_numel(out);
    rt_status st = rt_parallel_for(n, RNG_GRAIN, fill_chunk, j);
    if (st == RT_OK) g->offset += blocks_for(n);
    return st;
}

/* ---- argument checks ------------------------------------------------------------------------ */
static rt_status check_shape(const char *op, int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > RT_MAXDIM)
        return rt_fail(RT_EARG, -1, "%s: %d dimensions requested, at most %d are supported",
                       op, ndim, RT_MAXDIM);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0)
            return rt_fail(RT_EARG, -1, "%s: size %lld of dimension %d is negative", op,
                           (long long)shape[i], i + 1);   /* 1-based, as in the core */
    return RT_OK;
}

static rt_status check_float(const char *op, rt_dtype dt, const char *hint)
{
    if (rt_dtype_is_float(dt)) return RT_OK;
    return rt_fail(RT_EDTYPE, -1, "%s: dtype %s is not a float dtype (f32 or f64)%s", op,
                   rt_dtype_name(dt), hint);
}

static rt_status setup_uniform(const char *op, rng_job *j, rt_dtype dt, double lo, double hi)
{
    if (check_float(op, dt, "; use randint for integers") != RT_OK) return RT_EDTYPE;
    if (!isfinite(lo) || !isfinite(hi))
        return rt_fail(RT_EARG, -1, "%s: bounds must be finite (got lo = %g, hi = %g)", op, lo,
                       hi);
    if (lo > hi)
        return rt_fail(RT_EARG, -1, "%s: lo = %.9g is greater than hi = %.9g", op, lo, hi);
    if (!isfinite(hi - lo))
        return rt_fail(RT_EARG, -1, "%s: the range [%g, %g) is wider than a double can hold",
                       op, lo, hi);
    if (dt == RT_F32 && (fabs(lo) > FLT_MAX || fabs(hi) > FLT_MAX))
        return rt_fail(RT_EARG, -1, "%s: bounds [%g, %g) are outside the range of f32", op, lo,
                       hi);
    *j = (rng_job){ .kind = K_UNIFORM, .dt = dt, .a = lo, .b = hi - lo };
    /* The largest value of dt below hi, but never below the value lo rounds to. */
    if (dt == RT_F32) {
        float h = (float)hi;
        while ((double)h >= hi) h = nextafterf(h, -INFINITY);
        j->below_hi = fmax((double)h, (double)(float)lo);
    } else {
        j->below_hi = fmax(nextafter(hi, -INFINITY), lo);
    }
    return RT_OK;
}

static rt_status setup_normal(const char *op, rng_job *j, rt_dtype dt, double mean, double std)
{
    if (check_float(op, dt, "") != RT_OK) return RT_EDTYPE;
    if (!isfinite(mean) || !isfinite(std))
        return rt_fail(RT_EARG, -1, "%s: mean and std must be finite (got %g, %g)", op, mean,
                       std);
    if (std < 0) return rt_fail(RT_EARG, -1, "%s: std = %g is negative", op, std);
    *j = (rng_job){ .kind = K_NORMAL, .dt = dt, .a = mean, .b = std };
    return RT_OK;
}

/* Allocates the output, runs the job, and hands it out only if everything worked. */
static rt_status new_random(const char *op, rt_generator *gen, rng_job *j, int ndim,
                            const int64_t *shape, const rt_tensor *p, rt_tensor **out)
{
    rt_tensor *t = NULL;
    rt_status st = check_shape(op, ndim, shape);
    if (st == RT_OK) st = rt_empty(j->dt, ndim, shape, &t);
    if (st == RT_OK) st = run_job(gen, j, t, p);
    if (st != RT_OK) {
        rt_tensor_release(t);
        return st;
    }
    *out = t;
    return RT_OK;
}

/* ---- public: new tensors -------------------------------------------------------------------- */
rt_status rt_rand_uniform(rt_generator *gen, rt_dtype dt, int ndim, const int64_t *shape,
                          double lo, double hi, rt_tensor **out)
{
    rng_job j;
    rt_status st = setup_uniform("rand_uniform", &j, dt, lo, hi);
    return st != RT_OK ? st : new_random("rand_uniform", gen, &j, ndim, shape, NULL, out);
}

rt_status rt_rand_normal(rt_generator *gen, rt_dtype dt, int ndim, const int64_t *shape,
                         double mean, double std, rt_tensor **out)
{
    rng_job j;
    rt_status st = setup_normal("rand_normal", &j, dt, mean, std);
    return st != RT_OK ? st : new_random("rand_normal", gen, &j, ndim, shape, NULL, out);
}

rt_status rt_randint(rt_generator *gen, int64_t lo, int64_t hi, rt_dtype dt, int ndim,
                     const int64_t *shape, rt_tensor **out)
{
    if (lo > hi)
        return rt_fail(RT_EARG, -1, "randint: lo = %lld is greater than hi = %lld",
                       (long long)lo, (long long)hi);
    /* Unsigned arithmetic: the width of [INT64_MIN, INT64_MAX] wraps to 0, meaning 2^64. */
    rng_job j = { .kind = K_RANDINT, .dt = dt, .ilo = lo,
                  .range = (uint64_t)hi - (uint64_t)lo + 1 };
    return new_random("randint", gen, &j, ndim, shape, NULL, out);
}

rt_status rt_bernoulli(rt_generator *gen, const rt_tensor *p, rt_tensor **out)
{
    if (!rt_dtype_is_float(p->dtype))
        return rt_fail(RT_EDTYPE, 0, "bernoulli: probabilities p must be f32 or f64, not %s",
                       rt_dtype_name(p->dtype));
    rng_job j = { .kind = K_BERNOULLI, .dt = p->dtype };
    return new_random("bernoulli", gen, &j, p->ndim, p->shape, p, out);
}

rt_status rt_bernoulli_scalar(rt_generator *gen, double p, rt_dtype dt, int ndim,
                              const int64_t *shape, rt_tensor **out)
{
    if (!(p >= 0 && p <= 1))
        return rt_fail(RT_EARG, -1, "bernoulli: p = %g is outside [0, 1]", p);
    rng_job j = { .kind = K_BERNOULLI, .dt = dt, .a = p };
    return new_random("bernoulli", gen, &j, ndim, shape, NULL, out);
}

/* Fisher-Yates is inherently serial; step i draws its partner from block offset + i/4, lane
** i%4, so the result is still a pure function of (seed, offset, n). */
rt_status rt_randperm(rt_generator *gen, int64_t n, rt_tensor **out)
{
    if (n < 0) return rt_fail(RT_EARG, -1, "randperm: n = %lld is negative", (long long)n);
    rt_generator *g = gen ? gen : &default_gen;
    rng_job j = { .kind = K_RANDINT, .dt = RT_I64 };
    j.key[0] = (uint32_t)g->seed;
    j.key[1] = (uint32_t)(g->seed >> 32);
    rt_tensor *t = NULL;
    int64_t shape[1] = { n };
    rt_status st = rt_empty(RT_I64, 1, shape, &t);
    if (st != RT_OK) return st;
    int64_t *a = rt_tensor_data(t);
    for (int64_t i = 0; i < n; i++) a[i] = i;
    uint32_t w0[4], w1[4] = { 0, 0, 0, 0 };
    uint64_t cached = 0;
    for (int64_t i = n - 1; i > 0; i--) {
        if ((i & 0xffff) == 0 && rt_interrupted()) {
            rt_tensor_release(t);
            return rt_fail(RT_EINTERRUPT, -1, "interrupted");
        }
        uint64_t blk = g->offset + (uint64_t)(i >> 2);
        if (i == n - 1 || blk != cached) {
            draw(&j, blk, 0, w0);
            /* A range i + 1 wider than 2^32 takes 64-bit words (draws 0 and 1). */
            if ((uint64_t)i >= 0x100000000ull) draw(&j, blk, 1, w1);
            cached = blk;
        }
        int64_t k = (int64_t)lane_below(&j, blk, (int)(i & 3), (uint64_t)i + 1, w0, w1);
        int64_t tmp = a[i];
        a[i] = a[k];
        a[k] = tmp;
    }
    g->offset += blocks_for(n);
    *out = t;
    return RT_OK;
}

/* ---- public: in-place fills ----------------------------------------------------------------- */
static rt_status check_fill_target(const char *op, const rt_tensor *t)
{
    if (!rt_dtype_is_float(t->dtype))
        return rt_fail(RT_EDTYPE, 0, "%s: the tensor's dtype %s is not f32 or f64", op,
                       rt_dtype_name(t->dtype));
    for (int i = 0; i < t->ndim; i++)
        if (t->strides[i] == 0 && t->shape[i] > 1)
            return rt_fail(RT_EARG, 0, "%s: the tensor is an expanded view (dimension %d "
                           "repeats one element); clone() it first", op, i + 1);
    return RT_OK;
}

rt_status rt_uniform_(rt_generator *gen, rt_tensor *t, double lo, double hi)
{
    rng_job j;
    rt_status st = check_fill_target("uniform_", t);
    if (st == RT_OK) st = setup_uniform("uniform_", &j, t->dtype, lo, hi);
    if (st == RT_OK) st = run_job(gen, &j, t, NULL);
    if (st == RT_OK) rti_bump_version(t);
    return st;
}

rt_status rt_normal_(rt_generator *gen, rt_tensor *t, double mean, double std)
{
    rng_job j;
    rt_status st = check_fill_target("normal_", t);
    if (st == RT_OK) st = setup_normal("normal_", &j, t->dtype, mean, std);
    if (st == RT_OK) st = run_job(gen, &j, t, NULL);
    if (st == RT_OK) rti_bump_version(t);
    return st;
}
