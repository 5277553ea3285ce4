/* ops_unary.c — unary elementwise math (neg, exp, log, tanh, sigmoid, gelu, softplus, ...),
** leaky_relu and clamp, out of place and in place.  Forward kernels only; binary ops are in
** ops_binary.c.  i64 inputs of float-valued ops are converted to f32 first. */
#include <math.h>
#include <stdio.h>
#include "internal.h"
#include "rt_elementwise.h"

/* As in ops_binary.c: each case of un_f32/un_f64/un_i64 inlines run_* with a constant op, so
** the op switch in the element function folds away and each op gets its own loop. */
#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* leaky_relu (p = slope) and clamp (p = lo, q = hi) reuse the unary machinery. */
#define OP_LEAKY RT_UNOP_COUNT
#define OP_CLAMP (RT_UNOP_COUNT + 1)

typedef struct {
    int op;             /* rt_unop, OP_LEAKY or OP_CLAMP */
    rt_dtype dt;        /* dtype of input and output */
    double p, q;        /* parameters of OP_LEAKY / OP_CLAMP */
} un_kernel;

static const char *const unop_names[RT_UNOP_COUNT] = {
    "neg", "abs", "exp", "log", "log1p", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid",
    "relu", "gelu", "softplus", "sign", "square", "reciprocal", "expm1", "floor", "ceil", "round",
    "erf"
};

const char *rt_unop_name(rt_unop op)
{
    return (unsigned)op < RT_UNOP_COUNT ? unop_names[op] : "?";
}

static const double SQRT1_2 = 0.70710678118654752440;

/* ---- element functions ----------------------------------------------------------------
** sigmoid: with e = exp(-|x|) <= 1 nothing overflows; x < 0 uses e/(1+e) = exp(x)/(1+exp(x)).
** gelu: 0.5 x (1 + erf(x/sqrt2)) equals 0.5 x erfc(-x/sqrt2), which avoids the cancellation
** of 1 + erf near -1 for negative x (gelu(-10) ~ -7.6e-23 instead of 0).
** softplus: log(1 + e^x) = log1p(e^-|x|) + max(x, 0) never overflows.
** relu and sign let nan through (x < 0 and x > 0 are both false for nan). */
static ALWAYS_INLINE float f32_un(int op, float x, float p, float q)
{
    switch (op) {
    case RT_NEG: return -x;
    case RT_ABS: return fabsf(x);
    case RT_EXP: return expf(x);
    case RT_LOG: return logf(x);
    case RT_LOG1P: return log1pf(x);
    case RT_SQRT: return sqrtf(x);
    case RT_RSQRT: return 1.0f / sqrtf(x);
    case RT_SIN: return sinf(x);
    case RT_COS: return cosf(x);
    case RT_TANH: return tanhf(x);
    case RT_SIGMOID: {
        float e = expf(-fabsf(x)), r = 1.0f / (1.0f + e);
        return x >= 0 ? r : e * r;
    }
    case RT_RELU: return x < 0 ? 0.0f : x;
    case RT_GELU: return 0.5f * x * erfcf(-x * (float)SQRT1_2);
    case RT_SOFTPLUS: return log1pf(expf(-fabsf(x))) + (x > 0 ? x : 0.0f);
    case RT_SIGN: return x > 0 ? 1.0f : x < 0 ? -1.0f : x == 0 ? 0.0f : x;
    case RT_SQUARE: return x * x;
    case RT_RECIPROCAL: return 1.0f / x;
    case RT_EXPM1: return expm1f(x);
    case RT_FLOOR: return floorf(x);
    case RT_CEIL: return ceilf(x);
    case RT_ROUND: return nearbyintf(x);   /* half to even in the default rounding mode */
    case RT_ERF: return erff(x);
    case OP_LEAKY: return x < 0 ? p * x : x;
    case OP_CLAMP: {
        float y = x < p ? p : x;
        return y > q ? q : y;
    }
    }
    return 0.0f;
}

static ALWAYS_INLINE double f64_un(int op, double x, double p, double q)
{
    switch (op) {
    case RT_NEG: return -x;
    case RT_ABS: return fabs(x);
    case RT_EXP: return exp(x);
    case RT_LOG: return log(x);
    case RT_LOG1P: return log1p(x);
    case RT_SQRT: return sqrt(x);
    case RT_RSQRT: return 1.0 / sqrt(x);
    case RT_SIN: return sin(x);
    case RT_COS: return cos(x);
    case RT_TANH: return tanh(x);
    case RT_SIGMOID: {
        double e = exp(-fabs(x)), r = 1.0 / (1.0 + e);
        return x >= 0 ? r : e * r;
    }
    case RT_RELU: return x < 0 ? 0.0 : x;
    case RT_GELU: return 0.5 * x * erfc(-x * SQRT1_2);
    case RT_SOFTPLUS: return log1p(exp(-fabs(x))) + (x > 0 ? x : 0.0);
    case RT_SIGN: return x > 0 ? 1.0 : x < 0 ? -1.0 : x == 0 ? 0.0 : x;
    case RT_SQUARE: return x * x;
    case RT_RECIPROCAL: return 1.0 / x;
    case RT_EXPM1: return expm1(x);
    case RT_FLOOR: return floor(x);
    case RT_CEIL: return ceil(x);
    case RT_ROUND: return nearbyint(x);
    case RT_ERF: return erf(x);
    case OP_LEAKY: return x < 0 ? p * x : x;
    case OP_CLAMP: {
        double y = x < p ? p : x;
        return y > q ? q : y;
    }
    }
    return 0.0;
}

/* Only the ops that keep i64 reach here.  Negation goes through uint64_t so that
** -INT64_MIN wraps instead of being undefined. */
static ALWAYS_INLINE int64_t i64_un(int op, int64_t x, int64_t p, int64_t q)
{
    uint64_t ux = (uint64_t)x;
    switch (op) {
    case RT_NEG: return (int64_t)(0 - ux);
    case RT_ABS: return x < 0 ? (int64_t)(0 - ux) : x;
    case RT_RELU: return x < 0 ? 0 : x;
    case RT_SIGN: return (x > 0) - (x < 0);
    case RT_SQUARE: return (int64_t)(ux * ux);
    case RT_FLOOR: case RT_CEIL: case RT_ROUND: return x;
    case OP_CLAMP: {
        int64_t y = x < p ? p : x;
        return y > q ? q : y;
    }
    }
    return 0;
}

/* ---- loops: n elements, strides in elements; o may be x itself (in place) ------------ */
static ALWAYS_INLINE void run_f32(int op, float p, float q, float *o, int64_t so,
                                  const float *x, int64_t sx, int64_t n)
{
    if (so == 1 && sx == 1)
        for (int64_t i = 0; i < n; i++) o[i] = f32_un(op, x[i], p, q);
    else
        for (int64_t i = 0; i < n; i++) o[i * so] = f32_un(op, x[i * sx], p, q);
}

static ALWAYS_INLINE void run_f64(int op, double p, double q, double *o, int64_t so,
                                  const double *x, int64_t sx, int64_t n)
{
    if (so == 1 && sx == 1)
        for (int64_t i = 0; i < n; i++) o[i] = f64_un(op, x[i], p, q);
    else
        for (int64_t i = 0; i < n; i++) o[i * so] = f64_un(op, x[i * sx], p, q);
}

static ALWAYS_INLINE void run_i64(int op, int64_t p, int64_t q, int64_t *o, int64_t so,
                                  const int64_t *x, int64_t sx, int64_t n)
{
    if (so == 1 && sx == 1)
        for (int64_t i = 0; i < n; i++) o[i] = i64_un(op, x[i], p, q);
    else
        for (int64_t i = 0; i < n; i++) o[i * so] = i64_un(op, x[i * sx], p, q);
}

/* ---- per-dtype dispatch: the op switch sits outside the loops ------------------------ */
static void un_f32(const un_kernel *k, char *po, int64_t so, const char *px, int64_t sx,
                   int64_t n)
{
    float *o = (float *)po;
    const float *x = (const float *)px;
    float p = (float)k->p, q = (float)k->q;
    switch (k->op) {
    case RT_NEG: run_f32(RT_NEG, p, q, o, so, x, sx, n); break;
    case RT_ABS: run_f32(RT_ABS, p, q, o, so, x, sx, n); break;
    case RT_EXP: run_f32(RT_EXP, p, q, o, so, x, sx, n); break;
    case RT_LOG: run_f32(RT_LOG, p, q, o, so, x, sx, n); break;
    case RT_LOG1P: run_f32(RT_LOG1P, p, q, o, so, x, sx, n); break;
    case RT_SQRT: run_f32(RT_SQRT, p, q, o, so, x, sx, n); break;
    case RT_RSQRT: run_f32(RT_RSQRT, p, q, o, so, x, sx, n); break;
    case RT_SIN: run_f32(RT_SIN, p, q, o, so, x, sx, n); break;
    case RT_COS: run_f32(RT_COS, p, q, o, so, x, sx, n); break;
    case RT_TANH: run_f32(RT_TANH, p, q, o, so, x, sx, n); break;
    case RT_SIGMOID: run_f32(RT_SIGMOID, p, q, o, so, x, sx, n); break;
    case RT_RELU: run_f32(RT_RELU, p, q, o, so, x, sx, n); break;
    case RT_GELU: run_f32(RT_GELU, p, q, o, so, x, sx, n); break;
    case RT_SOFTPLUS: run_f32(RT_SOFTPLUS, p, q, o, so, x, sx, n); break;
    case RT_SIGN: run_f32(RT_SIGN, p, q, o, so, x, sx, n); break;
    case RT_SQUARE: run_f32(RT_SQUARE, p, q, o, so, x, sx, n); break;
    case RT_RECIPROCAL: run_f32(RT_RECIPROCAL, p, q, o, so, x, sx, n); break;
    case RT_EXPM1: run_f32(RT_EXPM1, p, q, o, so, x, sx, n); break;
    case RT_FLOOR: run_f32(RT_FLOOR, p, q, o, so, x, sx, n); break;
    case RT_CEIL: run_f32(RT_CEIL, p, q, o, so, x, sx, n); break;
    case RT_ROUND: run_f32(RT_ROUND, p, q, o, so, x, sx, n); break;
    case RT_ERF: run_f32(RT_ERF, p, q, o, so, x, sx, n); break;
    case OP_LEAKY: run_f32(OP_LEAKY, p, q, o, so, x, sx, n); break;
    case OP_CLAMP: run_f32(OP_CLAMP, p, q, o, so, x, sx, n); break;
    }
}

static void un_f64(const un_kernel *k, char *po, int64_t so, const char *px, int64_t sx,
                   int64_t n)
{
    double *o = (double *)po;
    const double *x = (const double *)px;
    double p = k->p, q = k->q;
    switch (k->op) {
    case RT_NEG: run_f64(RT_NEG, p, q, o, so, x, sx, n); break;
    case RT_ABS: run_f64(RT_ABS, p, q, o, so, x, sx, n); break;
    case RT_EXP: run_f64(RT_EXP, p, q, o, so, x, sx, n); break;
    case RT_LOG: run_f64(RT_LOG, p, q, o, so, x, sx, n); break;
    case RT_LOG1P: run_f64(RT_LOG1P, p, q, o, so, x, sx, n); break;
    case RT_SQRT: run_f64(RT_SQRT, p, q, o, so, x, sx, n); break;
    case RT_RSQRT: run_f64(RT_RSQRT, p, q, o, so, x, sx, n); break;
    case RT_SIN: run_f64(RT_SIN, p, q, o, so, x, sx, n); break;
    case RT_COS: run_f64(RT_COS, p, q, o, so, x, sx, n); break;
    case RT_TANH: run_f64(RT_TANH, p, q, o, so, x, sx, n); break;
    case RT_SIGMOID: run_f64(RT_SIGMOID, p, q, o, so, x, sx, n); break;
    case RT_RELU: run_f64(RT_RELU, p, q, o, so, x, sx, n); break;
    case RT_GELU: run_f64(RT_GELU, p, q, o, so, x, sx, n); break;
    case RT_SOFTPLUS: run_f64(RT_SOFTPLUS, p, q, o, so, x, sx, n); break;
    case RT_SIGN: run_f64(RT_SIGN, p, q, o, so, x, sx, n); break;
    case RT_SQUARE: run_f64(RT_SQUARE, p, q, o, so, x, sx, n); break;
    case RT_RECIPROCAL: run_f64(RT_RECIPROCAL, p, q, o, so, x, sx, n); break;
    case RT_EXPM1: run_f64(RT_EXPM1, p, q, o, so, x, sx, n); break;
    case RT_FLOOR: run_f64(RT_FLOOR, p, q, o, so, x, sx, n); break;
    case RT_CEIL: run_f64(RT_CEIL, p, q, o, so, x, sx, n); break;
    case RT_ROUND: run_f64(RT_ROUND, p, q, o, so, x, sx, n); break;
    case RT_ERF: run_f64(RT_ERF, p, q, o, so, x, sx, n); break;
    case OP_LEAKY: run_f64(OP_LEAKY, p, q, o, so, x, sx, n); break;
    case OP_CLAMP: run_f64(OP_CLAMP, p, q, o, so, x, sx, n); break;
    }
}

/* An i64 clamp bound rounded inward and saturated to i64's range. */
static int64_t bound_i64(double v)
{
    if (v >= 9223372036854775808.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

static void un_i64(const un_kernel *k, char *po, int64_t so, const char *px, int64_t sx,
                   int64_t n)
{
    int64_t *o = (int64_t *)po;
    const int64_t *x = (const int64_t *)px;
    int64_t p = bound_i64(ceil(k->p)), q = bound_i64(floor(k->q));   /* OP_CLAMP only */
    switch (k->op) {
    case RT_NEG: run_i64(RT_NEG, p, q, o, so, x, sx, n); break;
    case RT_ABS: run_i64(RT_ABS, p, q, o, so, x, sx, n); break;
    case RT_RELU: run_i64(RT_RELU, p, q, o, so, x, sx, n); break;
    case RT_SIGN: run_i64(RT_SIGN, p, q, o, so, x, sx, n); break;
    case RT_SQUARE: run_i64(RT_SQUARE, p, q, o, so, x, sx, n); break;
    case RT_FLOOR: run_i64(RT_FLOOR, p, q, o, so, x, sx, n); break;
    case RT_CEIL: run_i64(RT_CEIL, p, q, o, so, x, sx, n); break;
    case RT_ROUND: run_i64(RT_ROUND, p, q, o, so, x, sx, n); break;
    case OP_CLAMP: run_i64(OP_CLAMP, p, q, o, so, x, sx, n); break;
    default: break;   /* float ops: converted to f32 before we get here */
    }
}

static void un_run(const un_kernel *k, char *o, int64_t so, const char *x, int64_t sx, int64_t n)
{
    switch (k->dt) {
    case RT_F32: un_f32(k, o, so, x, sx, n); break;
    case RT_F64: un_f64(k, o, so, x, sx, n); break;
    case RT_I64: un_i64(k, o, so, x, sx, n); break;
    }
}

/* ---- drivers: contiguous fast path and the strided walk ------------------------------ */
typedef struct {
    const un_kernel *k;
    char *o;
    const char *x;
    int64_t es;
} flat_ctx;

static rt_status flat_chunk(void *c, int64_t chunk, int64_t lo, int64_t hi)
{
    const flat_ctx *f = c;
    (void)chunk;
    un_run(f->k, f->o + lo * f->es, 1, f->x + lo * f->es, 1, hi - lo);
    return RT_OK;
}

typedef struct {
    const un_kernel *k;
    int64_t es;
} iter_ctx;

static void iter_run(void *c, char **p, const int64_t *s, int64_t n)
{
    const iter_ctx *ic = c;
    un_run(ic->k, p[0], s[0] / ic->es, p[1], s[1] / ic->es, n);
}

/* out = k(x); same shape and dtype k->dt; out is either x itself or does not overlap it. */
static rt_status un_exec(const un_kernel *k, rt_tensor *out, const rt_tensor *x)
{
    int64_t n = rt_tensor_numel(out);
    if (n == 0) return RT_OK;
    int64_t es = (int64_t)rt_dtype_size(k->dt);
    if (rt_tensor_is_contiguous(out) && rt_tensor_is_contiguous(x)) {
        flat_ctx f = { k, rt_tensor_data(out), rt_tensor_data(x), es };
        return rt_parallel_for(n, RTI_GRAIN, flat_chunk, &f);
    }
    rt_tensor *ops[2] = { out, (rt_tensor *)x };   /* the walker only reads operand 1 */
    rti_iter it;
    rti_iter_init(&it, 2, ops);
    iter_ctx ic = { k, es };
    return rti_iter_parallel(&it, RTI_GRAIN, iter_run, &ic);
}

/* A new tensor k(x) of dtype k->dt.  When x must change dtype (i64 -> f32), the converted
** copy is the output and the op runs on it in place: one allocation, not two. */
static rt_status unary_new(const un_kernel *k, const rt_tensor *x, rt_tensor **out)
{
    rt_tensor *o = NULL;
    rt_status st;
    if (x->dtype != k->dt) {
        st = rt_to_dtype(x, k->dt, &o);
        if (st == RT_OK) st = un_exec(k, o, o);
    } else {
        st = rt_empty(k->dt, x->ndim, x->shape, &o);
        if (st == RT_OK) st = un_exec(k, o, x);
    }
    if (st != RT_OK) {
        rt_tensor_release(o);
        return st;
    }
    *out = o;
    return RT_OK;
}

/* Writing through a stride-0 dimension would race between threads and means nothing. */
static rt_status unary_inplace(const char *name, const un_kernel *k, rt_tensor *x)
{
    if (k->dt != x->dtype)
        return rt_fail(RT_EDTYPE, 0, "%s: the result is %s, which cannot be stored in place "
                       "into a %s tensor", name, rt_dtype_name(k->dt), rt_dtype_name(x->dtype));
    rt_status st = rti_check_writable(name, x, 0);
    if (st == RT_OK) st = un_exec(k, x, x);
    if (st == RT_OK) rti_bump_version(x);
    return st;
}

/* ---- public entry points ------------------------------------------------------------- */
static rt_dtype unary_dtype(rt_unop op, rt_dtype dt)
{
    if (dt != RT_I64) return dt;
    switch (op) {
    case RT_NEG: case RT_ABS: case RT_SIGN: case RT_SQUARE: case RT_RELU:
    case RT_FLOOR: case RT_CEIL: case RT_ROUND:
        return RT_I64;
    default:
        return RT_F32;
    }
}

static rt_status check_op(const char *fn, rt_unop op)
{
    if ((unsigned)op < RT_UNOP_COUNT) return RT_OK;
    return rt_fail(RT_EARG, -1, "%s: unknown unary op %d", fn, (int)op);
}

rt_status rt_unary(rt_unop op, const rt_tensor *x, rt_tensor **out)
{
    rt_status st = check_op("unary", op);
    if (st != RT_OK) return st;
    un_kernel k = { op, unary_dtype(op, x->dtype), 0.0, 0.0 };
    return unary_new(&k, x, out);
}

rt_status rt_unary_(rt_unop op, rt_tensor *x)
{
    char name[32];
    rt_status st = check_op("unary_", op);
    if (st != RT_OK) return st;
    snprintf(name, sizeof name, "%s_", rt_unop_name(op));
    un_kernel k = { op, unary_dtype(op, x->dtype), 0.0, 0.0 };
    return unary_inplace(name, &k, x);
}

rt_status rt_leaky_relu(const rt_tensor *x, double slope, rt_tensor **out)
{
    un_kernel k = { OP_LEAKY, x->dtype == RT_I64 ? RT_F32 : x->dtype, slope, 0.0 };
    return unary_new(&k, x, out);
}

static rt_status check_bounds(const char *name, double lo, double hi)
{
    if (isnan(lo) || isnan(hi))
        return rt_fail(RT_EARG, isnan(lo) ? 1 : 2, "%s: bounds must not be nan (got %g, %g)",
                       name, lo, hi);
    return RT_OK;
}

rt_status rt_clamp(const rt_tensor *x, double lo, double hi, rt_tensor **out)
{
    rt_status st = check_bounds("clamp", lo, hi);
    if (st != RT_OK) return st;
    un_kernel k = { OP_CLAMP, x->dtype, lo, hi };
    return unary_new(&k, x, out);
}

rt_status rt_clamp_(rt_tensor *x, double lo, double hi)
{
    rt_status st = check_bounds("clamp_", lo, hi);
    if (st != RT_OK) return st;
    un_kernel k = { OP_CLAMP, x->dtype, lo, hi };
    return unary_inplace("clamp_", &k, x);
}
