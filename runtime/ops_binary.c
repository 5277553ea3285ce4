/* ops_binary.c — binary elementwise ops (arithmetic, pow, max/min, comparisons) and axpby,
** with NumPy broadcasting and f64 > f32 > i64 promotion.  Forward kernels only: the autograd
** rules are written elsewhere on top of these.  rt_where lives in ops_where.c, unary math in
** ops_unary.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"
#include "rt_elementwise.h"

/* The loops below are written once per dtype with the op as a parameter.  Each switch case in
** bin_f32/bin_f64/bin_i64 inlines run_* with a constant op, so the op switch inside the element
** function folds away and every (op, dtype, layout) pair becomes its own vectorisable loop.
** always_inline makes that independent of the inliner's size heuristics. */
#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* axpby and ReLU's gradient share the binary machinery as op codes past the public enum. */
#define OP_AXPBY RT_BINOP_COUNT
#define OP_RELU_GRAD (RT_BINOP_COUNT + 1)

typedef struct {
    int op;             /* rt_binop, OP_AXPBY or OP_RELU_GRAD */
    rt_dtype dt;        /* dtype of both operands and of the result */
    double alpha, beta; /* OP_AXPBY only */
} bin_kernel;

static const char *const binop_names[RT_BINOP_COUNT] = {
    "add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", "ne", "lt", "le", "gt", "ge"
};

const char *rt_binop_name(rt_binop op)
{
    return (unsigned)op < RT_BINOP_COUNT ? binop_names[op] : "?";
}

/* ---- element functions ---------------------------------------------------------------- */
/* nan propagates from either side in maximum/minimum, as in PyTorch: x != x catches it. */
static ALWAYS_INLINE float f32_bin(int op, float x, float y, float al, float be)
{
    switch (op) {
    case RT_ADD: return x + y;
    case RT_SUB: return x - y;
    case RT_MUL: return x * y;
    case RT_DIV: return x / y;
    case RT_POW: return powf(x, y);
    case RT_MAXIMUM: return ((x > y) | (x != x)) ? x : y;
    case RT_MINIMUM: return ((x < y) | (x != x)) ? x : y;
    case RT_EQ: return x == y ? 1.0f : 0.0f;
    case RT_NE: return x != y ? 1.0f : 0.0f;
    case RT_LT: return x < y ? 1.0f : 0.0f;
    case RT_LE: return x <= y ? 1.0f : 0.0f;
    case RT_GT: return x > y ? 1.0f : 0.0f;
    case RT_GE: return x >= y ? 1.0f : 0.0f;
    case OP_AXPBY: return al * x + be * y;
    case OP_RELU_GRAD: return y > 0 ? x : 0.0f;
    }
    return 0.0f;
}

static ALWAYS_INLINE double f64_bin(int op, double x, double y, double al, double be)
{
    switch (op) {
    case RT_ADD: return x + y;
    case RT_SUB: return x - y;
    case RT_MUL: return x * y;
    case RT_DIV: return x / y;
    case RT_POW: return pow(x, y);
    case RT_MAXIMUM: return ((x > y) | (x != x)) ? x : y;
    case RT_MINIMUM: return ((x < y) | (x != x)) ? x : y;
    case RT_EQ: return x == y ? 1.0 : 0.0;
    case RT_NE: return x != y ? 1.0 : 0.0;
    case RT_LT: return x < y ? 1.0 : 0.0;
    case RT_LE: return x <= y ? 1.0 : 0.0;
    case RT_GT: return x > y ? 1.0 : 0.0;
    case RT_GE: return x >= y ? 1.0 : 0.0;
    case OP_AXPBY: return al * x + be * y;
    case OP_RELU_GRAD: return y > 0 ? x : 0.0;
    }
    return 0.0;
}

/* Integer power by squaring, wrapping like the other i64 ops.  A negative exponent gives the
** truncated quotient 1 / x^|e| (nonzero only for x = +-1); 0^-e is defined as 0 rather than
** dividing by zero. */
static int64_t i64_pow(int64_t x, int64_t e)
{
    if (e < 0) return x == 1 ? 1 : x == -1 ? ((e & 1) ? -1 : 1) : 0;
    uint64_t r = 1, b = (uint64_t)x;
    for (uint64_t k = (uint64_t)e; k; k >>= 1) {
        if (k & 1) r *= b;
        b *= b;
    }
    return (int64_t)r;
}

/* Arithmetic goes through uint64_t: signed overflow is undefined in C, wrapping is not.
** RT_DIV never reaches here (i64 / i64 is done in f32). */
static ALWAYS_INLINE int64_t i64_bin(int op, int64_t x, int64_t y, int64_t al, int64_t be)
{
    uint64_t ux = (uint64_t)x, uy = (uint64_t)y;
    switch (op) {
    case RT_ADD: return (int64_t)(ux + uy);
    case RT_SUB: return (int64_t)(ux - uy);
    case RT_MUL: return (int64_t)(ux * uy);
    case RT_DIV: return 0;
    case RT_POW: return i64_pow(x, y);
    case RT_MAXIMUM: return x > y ? x : y;
    case RT_MINIMUM: return x < y ? x : y;
    case RT_EQ: return x == y;
    case RT_NE: return x != y;
    case RT_LT: return x < y;
    case RT_LE: return x <= y;
    case RT_GT: return x > y;
    case RT_GE: return x >= y;
    case OP_AXPBY: return (int64_t)((uint64_t)al * ux + (uint64_t)be * uy);
    case OP_RELU_GRAD: return y > 0 ? x : 0;
    }
    return 0;
}

/* ---- loops: one run of n elements, strides in elements --------------------------------
** The three unit/zero-stride layouts get their own loops because GCC only versions a strided
** loop for stride 1: x + scalar (stride 0) would otherwise run scalar code.  o may equal a or
** b exactly (in place); other overlaps were removed by the caller. */
static ALWAYS_INLINE void run_f32(int op, float al, float be, float *o, int64_t so,
                                  const float *a, int64_t sa, const float *b, int64_t sb,
                                  int64_t n)
{
    if (so == 1 && sa == 1 && sb == 1) {
        for (int64_t i = 0; i < n; i++) o[i] = f32_bin(op, a[i], b[i], al, be);
    } else if (so == 1 && sa == 1 && sb == 0) {
        float y = b[0];
        for (int64_t i = 0; i < n; i++) o[i] = f32_bin(op, a[i], y, al, be);
    } else if (so == 1 && sa == 0 && sb == 1) {
        float x = a[0];
        for (int64_t i = 0; i < n; i++) o[i] = f32_bin(op, x, b[i], al, be);
    } else {
        for (int64_t i = 0; i < n; i++) o[i * so] = f32_bin(op, a[i * sa], b[i * sb], al, be);
    }
}

static ALWAYS_INLINE void run_f64(int op, double al, double be, double *o, int64_t so,
                                  const double *a, int64_t sa, const double *b, int64_t sb,
                                  int64_t n)
{
    if (so == 1 && sa == 1 && sb == 1) {
        for (int64_t i = 0; i < n; i++) o[i] = f64_bin(op, a[i], b[i], al, be);
    } else if (so == 1 && sa == 1 && sb == 0) {
        double y = b[0];
        for (int64_t i = 0; i < n; i++) o[i] = f64_bin(op, a[i], y, al, be);
    } else if (so == 1 && sa == 0 && sb == 1) {
        double x = a[0];
        for (int64_t i = 0; i < n; i++) o[i] = f64_bin(op, x, b[i], al, be);
    } else {
        for (int64_t i = 0; i < n; i++) o[i * so] = f64_bin(op, a[i * sa], b[i * sb], al, be);
    }
}

static ALWAYS_INLINE void run_i64(int op, int64_t al, int64_t be, int64_t *o, int64_t so,
                                  const int64_t *a, int64_t sa, const int64_t *b, int64_t sb,
                                  int64_t n)
{
    if (so == 1 && sa == 1 && sb == 1) {
        for (int64_t i = 0; i < n; i++) o[i] = i64_bin(op, a[i], b[i], al, be);
    } else if (so == 1 && sa == 1 && sb == 0) {
        int64_t y = b[0];
        for (int64_t i = 0; i < n; i++) o[i] = i64_bin(op, a[i], y, al, be);
    } else if (so == 1 && sa == 0 && sb == 1) {
        int64_t x = a[0];
        for (int64_t i = 0; i < n; i++) o[i] = i64_bin(op, x, b[i], al, be);
    } else {
        for (int64_t i = 0; i < n; i++) o[i * so] = i64_bin(op, a[i * sa], b[i * sb], al, be);
    }
}

/* ---- per-dtype dispatch: the op switch sits outside the loops ------------------------ */
static void bin_f32(const bin_kernel *k, char *po, int64_t so, const char *pa, int64_t sa,
                    const char *pb, int64_t sb, int64_t n)
{
    float *o = (float *)po;
    const float *a = (const float *)pa, *b = (const float *)pb;
    float al = (float)k->alpha, be = (float)k->beta;
    switch (k->op) {
    case RT_ADD: run_f32(RT_ADD, al, be, o, so, a, sa, b, sb, n); break;
    case RT_SUB: run_f32(RT_SUB, al, be, o, so, a, sa, b, sb, n); break;
    case RT_MUL: run_f32(RT_MUL, al, be, o, so, a, sa, b, sb, n); break;
    case RT_DIV: run_f32(RT_DIV, al, be, o, so, a, sa, b, sb, n); break;
    case RT_POW: run_f32(RT_POW, al, be, o, so, a, sa, b, sb, n); break;
    case RT_MAXIMUM: run_f32(RT_MAXIMUM, al, be, o, so, a, sa, b, sb, n); break;
    case RT_MINIMUM: run_f32(RT_MINIMUM, al, be, o, so, a, sa, b, sb, n); break;
    case RT_EQ: run_f32(RT_EQ, al, be, o, so, a, sa, b, sb, n); break;
    case RT_NE: run_f32(RT_NE, al, be, o, so, a, sa, b, sb, n); break;
    case RT_LT: run_f32(RT_LT, al, be, o, so, a, sa, b, sb, n); break;
    case RT_LE: run_f32(RT_LE, al, be, o, so, a, sa, b, sb, n); break;
    case RT_GT: run_f32(RT_GT, al, be, o, so, a, sa, b, sb, n); break;
    case RT_GE: run_f32(RT_GE, al, be, o, so, a, sa, b, sb, n); break;
    case OP_AXPBY: run_f32(OP_AXPBY, al, be, o, so, a, sa, b, sb, n); break;
    case OP_RELU_GRAD: run_f32(OP_RELU_GRAD, al, be, o, so, a, sa, b, sb, n); break;
    }
}

static void bin_f64(const bin_kernel *k, char *po, int64_t so, const char *pa, int64_t sa,
                    const char *pb, int64_t sb, int64_t n)
{
    double *o = (double *)po;
    const double *a = (const double *)pa, *b = (const double *)pb;
    double al = k->alpha, be = k->beta;
    switch (k->op) {
    case RT_ADD: run_f64(RT_ADD, al, be, o, so, a, sa, b, sb, n); break;
    case RT_SUB: run_f64(RT_SUB, al, be, o, so, a, sa, b, sb, n); break;
    case RT_MUL: run_f64(RT_MUL, al, be, o, so, a, sa, b, sb, n); break;
    case RT_DIV: run_f64(RT_DIV, al, be, o, so, a, sa, b, sb, n); break;
    case RT_POW: run_f64(RT_POW, al, be, o, so, a, sa, b, sb, n); break;
    case RT_MAXIMUM: run_f64(RT_MAXIMUM, al, be, o, so, a, sa, b, sb, n); break;
    case RT_MINIMUM: run_f64(RT_MINIMUM, al, be, o, so, a, sa, b, sb, n); break;
    case RT_EQ: run_f64(RT_EQ, al, be, o, so, a, sa, b, sb, n); break;
    case RT_NE: run_f64(RT_NE, al, be, o, so, a, sa, b, sb, n); break;
    case RT_LT: run_f64(RT_LT, al, be, o, so, a, sa, b, sb, n); break;
    case RT_LE: run_f64(RT_LE, al, be, o, so, a, sa, b, sb, n); break;
    case RT_GT: run_f64(RT_GT, al, be, o, so, a, sa, b, sb, n); break;
    case RT_GE: run_f64(RT_GE, al, be, o, so, a, sa, b, sb, n); break;
    case OP_AXPBY: run_f64(OP_AXPBY, al, be, o, so, a, sa, b, sb, n); break;
    case OP_RELU_GRAD: run_f64(OP_RELU_GRAD, al, be, o, so, a, sa, b, sb, n); break;
    }
}

static void bin_i64(const bin_kernel *k, char *po, int64_t so, const char *pa, int64_t sa,
                    const char *pb, int64_t sb, int64_t n)
{
    int64_t *o = (int64_t *)po;
    const int64_t *a = (const int64_t *)pa, *b = (const int64_t *)pb;
    /* axpby on i64 is only chosen for integral alpha and beta in i64's range. */
    int64_t al = (int64_t)k->alpha, be = (int64_t)k->beta;
    switch (k->op) {
    case RT_ADD: run_i64(RT_ADD, al, be, o, so, a, sa, b, sb, n); break;
    case RT_SUB: run_i64(RT_SUB, al, be, o, so, a, sa, b, sb, n); break;
    case RT_MUL: run_i64(RT_MUL, al, be, o, so, a, sa, b, sb, n); break;
    case RT_POW: run_i64(RT_POW, al, be, o, so, a, sa, b, sb, n); break;
    case RT_MAXIMUM: run_i64(RT_MAXIMUM, al, be, o, so, a, sa, b, sb, n); break;
    case RT_MINIMUM: run_i64(RT_MINIMUM, al, be, o, so, a, sa, b, sb, n); break;
    case RT_EQ: run_i64(RT_EQ, al, be, o, so, a, sa, b, sb, n); break;
    case RT_NE: run_i64(RT_NE, al, be, o, so, a, sa, b, sb, n); break;
    case RT_LT: run_i64(RT_LT, al, be, o, so, a, sa, b, sb, n); break;
    case RT_LE: run_i64(RT_LE, al, be, o, so, a, sa, b, sb, n); break;
    case RT_GT: run_i64(RT_GT, al, be, o, so, a, sa, b, sb, n); break;
    case RT_GE: run_i64(RT_GE, al, be, o, so, a, sa, b, sb, n); break;
    case OP_AXPBY: run_i64(OP_AXPBY, al, be, o, so, a, sa, b, sb, n); break;
    case OP_RELU_GRAD: run_i64(OP_RELU_GRAD, al, be, o, so, a, sa, b, sb, n); break;
    default: break;   /* RT_DIV: promoted to f32 before we get here */
    }
}

static void bin_run(const bin_kernel *k, char *o, int64_t so, const char *a, int64_t sa,
                    const char *b, int64_t sb, int64_t n)
{
    switch (k->dt) {
    case RT_F32: bin_f32(k, o, so, a, sa, b, sb, n); break;
    case RT_F64: bin_f64(k, o, so, a, sa, b, sb, n); break;
    case RT_I64: bin_i64(k, o, so, a, sa, b, sb, n); break;
    }
}

/* ---- drivers: contiguous fast path and the strided/broadcast walk -------------------- */
typedef struct {
    const bin_kernel *k;
    char *o;
    const char *a, *b;
    int64_t sa, sb;     /* 1, or 0 for a one-element operand */
    int64_t es;         /* element size in bytes */
} flat_ctx;

static rt_status flat_chunk(void *c, int64_t chunk, int64_t lo, int64_t hi)
{
    const flat_ctx *f = c;
    (void)chunk;
    bin_run(f->k, f->o + lo * f->es, 1, f->a + lo * f->sa * f->es, f->sa,
            f->b + lo * f->sb * f->es, f->sb, hi - lo);
    return RT_OK;
}

typedef struct {
    const bin_kernel *k;
    int64_t es;
} iter_ctx;

static void iter_run(void *c, char **p, const int64_t *s, int64_t n)
{
    const iter_ctx *ic = c;
    int64_t es = ic->es;
    bin_run(ic->k, p[0], s[0] / es, p[1], s[1] / es, p[2], s[2] / es, n);
}

/* Unit stride when t covers out element for element in row-major order (t broadcasts to out
** with the same count, so only size-1 dims can differ), stride 0 when t has one element. */
static int flat_stride(const rt_tensor *t, int64_t n, int64_t *stride)
{
    int64_t m = rt_tensor_numel(t);
    if (m == 1) *stride = 0;
    else if (m == n && rt_tensor_is_contiguous(t)) *stride = 1;
    else return 0;
    return 1;
}

/* out = a op b.  a and b have dtype k->dt and broadcast to out's shape, and neither overlaps
** out except exactly (the callers copied any that did). */
static rt_status bin_exec(const bin_kernel *k, rt_tensor *out, const rt_tensor *a,
                          const rt_tensor *b)
{
    int64_t n = rt_tensor_numel(out);
    if (n == 0) return RT_OK;
    int64_t es = (int64_t)rt_dtype_size(k->dt);
    flat_ctx f = { k, rt_tensor_data(out), rt_tensor_data(a), rt_tensor_data(b), 0, 0, es };
    if (rt_tensor_is_contiguous(out) && flat_stride(a, n, &f.sa) && flat_stride(b, n, &f.sb))
        return rt_parallel_for(n, RTI_GRAIN, flat_chunk, &f);

    rt_tensor *ea = NULL, *eb = NULL;
    rt_status st = rt_view_expand(a, out->ndim, out->shape, &ea);
    if (st == RT_OK) st = rt_view_expand(b, out->ndim, out->shape, &eb);
    if (st == RT_OK) {
        rt_tensor *ops[3] = { out, ea, eb };
        rti_iter it;
        rti_iter_init(&it, 3, ops);
        iter_ctx ic = { k, es };
        st = rti_iter_parallel(&it, RTI_GRAIN, iter_run, &ic);
    }
    rt_tensor_release(ea);
    rt_tensor_release(eb);
    return st;
}

/* ---- operand preparation ---------------------------------------------------------------- */
/* t in dtype dt: *use is t itself, or a converted copy that *own holds (NULL otherwise).  The
** conversion is a copy of the operand before broadcasting, so it costs at most its own size;
** mixed dtypes are rare enough that per-pair kernels would not pay for themselves. */
static rt_status as_dtype(const rt_tensor *t, rt_dtype dt, const rt_tensor **use,
                          rt_tensor **own)
{
    *own = NULL;
    *use = t;
    if (t->dtype == dt) return RT_OK;
    rt_status st = rt_to_dtype(t, dt, own);
    if (st == RT_OK) *use = *own;
    return st;
}

/* Element range [lo, hi] that t touches (t nonempty). */
static void extent(const rt_tensor *t, int64_t *lo, int64_t *hi)
{
    *lo = *hi = t->offset;
    for (int i = 0; i < t->ndim; i++) {
        int64_t span = t->strides[i] * (t->shape[i] - 1);
        if (span < 0) *lo += span;
        else *hi += span;
    }
}

/* True when reading t while writing out could see already-written values: same storage,
** overlapping ranges, and t is not exactly out's own layout (broadcast dims count as stride
** 0).  Exact aliasing is safe because each element is read before it is written. */
static int hazardous(const rt_tensor *t, const rt_tensor *out)
{
    if (t->storage != out->storage || rt_tensor_numel(t) == 0 || rt_tensor_numel(out) == 0)
        return 0;
    int same = t->offset == out->offset;
    for (int i = 0; i < out->ndim && same; i++) {
        if (out->shape[i] == 1) continue;
        int j = i - (out->ndim - t->ndim);
        int64_t st = j >= 0 && t->shape[j] != 1 ? t->strides[j] : 0;
        same = st == out->strides[i];
    }
    if (same) return 0;
    int64_t tlo, thi, olo, ohi;
    extent(t, &tlo, &thi);
    extent(out, &olo, &ohi);
    return tlo <= ohi && olo <= thi;
}

/* Like as_dtype, but also copies t when it overlaps out hazardously. */
static rt_status prepare_input(const rt_tensor *t, const rt_tensor *out, const rt_tensor **use,
                               rt_tensor **own)
{
    rt_status st = as_dtype(t, out->dtype, use, own);
    if (st != RT_OK || *own || !hazardous(t, out)) return st;
    st = rt_clone(t, own);
    if (st == RT_OK) *use = *own;
    return st;
}

/* Writing through a stride-0 dimension would race between threads and means nothing. */
static int is_int64_value(double s)
{
    return s == floor(s) && s >= -9223372036854775808.0 && s < 9223372036854775808.0;
}

static rt_dtype result_dtype(rt_binop op, rt_dtype a, rt_dtype b)
{
    rt_dtype d = rt_dtype_promote(a, b);
    return op == RT_DIV && d == RT_I64 ? RT_F32 : d;
}

static rt_status check_op(const char *fn, rt_binop op)
{
    if ((unsigned)op < RT_BINOP_COUNT) return RT_OK;
    return rt_fail(RT_EARG, -1, "%s: unknown binary op %d", fn, (int)op);
}

/* ---- public entry points ------------------------------------------------------------- */
/* A new tensor of shape (nd, shape) holding k applied to a and b. */
static rt_status binary_new(const bin_kernel *k, const rt_tensor *a, const rt_tensor *b,
                            int nd, const int64_t *shape, rt_tensor **out)
{
    const rt_tensor *ua, *ub;
    rt_tensor *oa = NULL, *ob = NULL, *o = NULL;
    rt_status st = as_dtype(a, k->dt, &ua, &oa);
    if (st == RT_OK) st = as_dtype(b, k->dt, &ub, &ob);
    if (st == RT_OK) st = rt_empty(k->dt, nd, shape, &o);
    if (st == RT_OK) st = bin_exec(k, o, ua, ub);
    rt_tensor_release(oa);
    rt_tensor_release(ob);
    if (st != RT_OK) {
        rt_tensor_release(o);
        return st;
    }
    *out = o;
    return RT_OK;
}

rt_status rt_binary(rt_binop op, const rt_tensor *a, const rt_tensor *b, rt_tensor **out)
{
    int nd;
    int64_t shape[RT_MAXDIM];
    rt_status st = check_op("binary", op);
    if (st == RT_OK)
        st = rti_broadcast_shape(rt_binop_name(op), a->ndim, a->shape, b->ndim, b->shape, &nd,
                                 shape);
    if (st != RT_OK) return st;
    bin_kernel k = { op, result_dtype(op, a->dtype, b->dtype), 0.0, 0.0 };
    return binary_new(&k, a, b, nd, shape, out);
}

/* Checks that out can receive a op b: the broadcast shape and the result dtype must be out's.
** inplace selects the wording (out is a) and the operand index. */
static rt_status check_dest(const char *name, rt_binop op, const rt_tensor *a,
                            const rt_tensor *b, const rt_tensor *out, int inplace)
{
    int nd;
    int64_t shape[RT_MAXDIM];
    char s1[128], s2[128], s3[128], s4[128];
    rt_status st = rti_broadcast_shape(name, a->ndim, a->shape, b->ndim, b->shape, &nd, shape);
    if (st != RT_OK) return st;
    if (nd != out->ndim || memcmp(shape, out->shape, (size_t)nd * sizeof *shape) != 0) {
        if (inplace)
            return rt_fail(RT_ESHAPE, 1, "%s: operand of shape %s cannot be broadcast to the "
                           "destination's shape %s", name, rt_shape_str(b->ndim, b->shape, s1,
                           sizeof s1), rt_shape_str(a->ndim, a->shape, s2, sizeof s2));
        return rt_fail(RT_ESHAPE, 2, "%s: out has shape %s, but %s and %s broadcast to %s",
                       name, rt_shape_str(out->ndim, out->shape, s1, sizeof s1),
                       rt_shape_str(a->ndim, a->shape, s2, sizeof s2),
                       rt_shape_str(b->ndim, b->shape, s3, sizeof s3),
                       rt_shape_str(nd, shape, s4, sizeof s4));
    }
    rt_dtype rd = result_dtype(op, a->dtype, b->dtype);
    if (rd != out->dtype) {
        if (inplace)
            return rt_fail(RT_EDTYPE, 0, "%s: the result is %s (%s and %s operands), which "
                           "cannot be stored in place into a %s tensor", name,
                           rt_dtype_name(rd), rt_dtype_name(a->dtype), rt_dtype_name(b->dtype),
                           rt_dtype_name(a->dtype));
        return rt_fail(RT_EDTYPE, 2, "%s: out is %s, but %s and %s operands give %s", name,
                       rt_dtype_name(out->dtype), rt_dtype_name(a->dtype),
                       rt_dtype_name(b->dtype), rt_dtype_name(rd));
    }
    return rti_check_writable(name, out, inplace ? 0 : 2);
}

static rt_status binary_into(const char *name, rt_binop op, const rt_tensor *a,
                             const rt_tensor *b, rt_tensor *out, int inplace)
{
    rt_status st = check_dest(name, op, a, b, out, inplace);
    if (st != RT_OK) return st;
    const rt_tensor *ua, *ub;
    rt_tensor *oa = NULL, *ob = NULL;
    st = prepare_input(a, out, &ua, &oa);
    if (st == RT_OK) st = prepare_input(b, out, &ub, &ob);
    bin_kernel k = { op, out->dtype, 0.0, 0.0 };
    if (st == RT_OK) st = bin_exec(&k, out, ua, ub);
    rt_tensor_release(oa);
    rt_tensor_release(ob);
    if (st == RT_OK) rti_bump_version(out);
    return st;
}

rt_status rt_binary_(rt_binop op, rt_tensor *a, const rt_tensor *b)
{
    char name[32];
    rt_status st = check_op("binary_", op);
    if (st != RT_OK) return st;
    snprintf(name, sizeof name, "%s_", rt_binop_name(op));
    return binary_into(name, op, a, b, a, 1);
}

rt_status rt_binary_out(rt_binop op, const rt_tensor *a, const rt_tensor *b, rt_tensor *out)
{
    rt_status st = check_op("binary_out", op);
    if (st != RT_OK) return st;
    return binary_into(rt_binop_name(op), op, a, b, out, 0);
}

rt_status rt_binary_scalar(rt_binop op, const rt_tensor *a, double s, int scalar_first,
                           rt_tensor **out)
{
    rt_status st = check_op("binary_scalar", op);
    if (st != RT_OK) return st;
    /* A Python-style "weak" scalar: it adopts a's dtype unless that would change its value
    ** class (a fraction, inf or nan against integers). */
    rt_dtype dt = a->dtype == RT_I64 && !is_int64_value(s) ? RT_F32 : a->dtype;
    if (op == RT_DIV && dt == RT_I64) dt = RT_F32;
    rt_tensor *sc;
    st = rt_scalar(dt, s, &sc);
    if (st != RT_OK) return st;
    bin_kernel k = { op, dt, 0.0, 0.0 };
    st = binary_new(&k, scalar_first ? sc : a, scalar_first ? a : sc, a->ndim, a->shape, out);
    rt_tensor_release(sc);
    return st;
}

rt_status rt_axpby(double alpha, const rt_tensor *x, double beta, const rt_tensor *y,
                   rt_tensor **out)
{
    int nd;
    int64_t shape[RT_MAXDIM];
    rt_status st = rti_broadcast_shape("axpby", x->ndim, x->shape, y->ndim, y->shape, &nd,
                                       shape);
    if (st != RT_OK) return st;
    rt_dtype dt = rt_dtype_promote(x->dtype, y->dtype);
    if (dt == RT_I64 && !(is_int64_value(alpha) && is_int64_value(beta))) dt = RT_F32;
    bin_kernel k = { OP_AXPBY, dt, alpha, beta };
    return binary_new(&k, x, y, nd, shape, out);
}

rt_status rt_relu_backward(const rt_tensor *g, const rt_tensor *x, rt_tensor **out)
{
    int nd;
    int64_t shape[RT_MAXDIM];
    rt_status st = rti_broadcast_shape("relu_backward", g->ndim, g->shape, x->ndim, x->shape,
                                       &nd, shape);
    if (st != RT_OK) return st;
    bin_kernel k = { OP_RELU_GRAD, rt_dtype_promote(g->dtype, x->dtype), 0.0, 0.0 };
    return binary_new(&k, g, x, nd, shape, out);
}
