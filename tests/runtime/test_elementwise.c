/* test_elementwise.c — binary ops, scalar forms, in-place forms and aliasing, unary math,
** leaky_relu, clamp, where and axpby.  Every result is compared with a float64 reference
** computed here by naive loops over broadcast indices, never by the code under test. */
#include "harness.h"

static const rt_dtype DTS[3] = { RT_F32, RT_F64, RT_I64 };
static const char *const BIN[] = { "add", "sub", "mul", "div", "pow", "maximum", "minimum",
                                   "eq", "ne", "lt", "le", "gt", "ge" };

/* ---- references ------------------------------------------------------------------------ */
static double ref_bin(rt_binop op, double x, double y)
{
    switch (op) {
    case RT_ADD: return x + y;
    case RT_SUB: return x - y;
    case RT_MUL: return x * y;
    case RT_DIV: return x / y;
    case RT_POW: return pow(x, y);
    case RT_MAXIMUM: return isnan(x) || isnan(y) ? NAN : x > y ? x : y;
    case RT_MINIMUM: return isnan(x) || isnan(y) ? NAN : x < y ? x : y;
    case RT_EQ: return x == y;
    case RT_NE: return x != y;
    case RT_LT: return x < y;
    case RT_LE: return x <= y;
    case RT_GT: return x > y;
    case RT_GE: return x >= y;
    }
    return NAN;
}

/* Round half to even, written out. */
/* erf by Simpson's rule on 2/sqrt(pi) exp(-t^2) over [0, x]: independent of libm's erf. */
static double ref_erf(double x)
{
    if (isnan(x)) return x;
    double a = fabs(x) > 6 ? (x > 0 ? 6 : -6) : x, h = a / 2000, s = 0;
    for (int i = 0; i <= 2000; i++) {
        double t = i * h, w = (i == 0 || i == 2000) ? 1 : (i % 2 ? 4 : 2);
        s += w * exp(-t * t);
    }
    return s * h / 3 * 1.1283791670955126;
}

static double ref_round(double x)
{
    double r = floor(x + 0.5);
    if (r - x == 0.5 && fmod(r, 2.0) != 0) r -= 1;
    return r;
}

static double ref_un(rt_unop op, double x)
{
    switch (op) {
    case RT_NEG: return -x;
    case RT_ABS: return x < 0 ? -x : x;
    case RT_EXP: return exp(x);
    case RT_LOG: return log(x);
    case RT_LOG1P: return log(1 + x);
    case RT_SQRT: return sqrt(x);
    case RT_RSQRT: return 1 / sqrt(x);
    case RT_SIN: return sin(x);
    case RT_COS: return cos(x);
    case RT_TANH: return (exp(x) - exp(-x)) / (exp(x) + exp(-x));
    case RT_SIGMOID: return 1 / (1 + exp(-x));
    case RT_RELU: return x > 0 ? x : 0;
    case RT_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case RT_SOFTPLUS: return log(1 + exp(x));
    case RT_SIGN: return x > 0 ? 1 : x < 0 ? -1 : 0;
    case RT_SQUARE: return x * x;
    case RT_RECIPROCAL: return 1 / x;
    case RT_EXPM1: return exp(x) - 1;
    case RT_FLOOR: return floor(x);
    case RT_CEIL: return ceil(x);
    case RT_ROUND: return ref_round(x);
    case RT_ERF: return ref_erf(x);
    }
    return NAN;
}

static rt_dtype promote(rt_dtype a, rt_dtype b)
{
    return a == RT_F64 || b == RT_F64 ? RT_F64 : a == RT_F32 || b == RT_F32 ? RT_F32 : RT_I64;
}

static rt_dtype bin_dtype(rt_binop op, rt_dtype a, rt_dtype b)
{
    rt_dtype d = promote(a, b);
    return op == RT_DIV && d == RT_I64 ? RT_F32 : d;
}

static double atol_of(rt_dtype dt) { return dt == RT_F32 ? 1e-6 : dt == RT_F64 ? 1e-13 : 1e-9; }
static double rtol_of(rt_dtype dt) { return dt == RT_F32 ? 3e-6 : dt == RT_F64 ? 1e-13 : 0; }

/* NumPy broadcast of two shapes; 0 if they do not fit. */
static int bshape(int na, const int64_t *sa, int nb, const int64_t *sb, int *n, int64_t *out)
{
    *n = na > nb ? na : nb;
    for (int i = 0; i < *n; i++) {
        int64_t x = i - (*n - na) >= 0 ? sa[i - (*n - na)] : 1;
        int64_t y = i - (*n - nb) >= 0 ? sb[i - (*n - nb)] : 1;
        if (x != y && x != 1 && y != 1) return 0;
        out[i] = x == 1 ? y : x;
    }
    return 1;
}

/* t's element at flat position `flat` of the broadcast shape (nd, shape). */
static double bval(const rt_tensor *t, int nd, const int64_t *shape, int64_t flat)
{
    int64_t idx[RT_MAXDIM], tidx[RT_MAXDIM];
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = flat % shape[d];
        flat /= shape[d];
    }
    for (int j = 0; j < t->ndim; j++)
        tidx[j] = t->shape[j] == 1 ? 0 : idx[j + nd - t->ndim];
    return rt_tensor_get(t, tidx);
}

/* Random integers in [lo, hi) stored as dt (ties for comparisons, exact i64 references). */
static rt_tensor *ints(rt_dtype dt, int nd, const int64_t *shape, double lo, double hi)
{
    rt_tensor *i = h_rand(RT_I64, nd, shape, lo, hi), *t = NULL;
    if (dt == RT_I64) return i;
    rt_to_dtype(i, dt, &t);
    rt_tensor_release(i);
    return t;
}

/* Operands for op in dtype dt, inside the op's domain. */
static rt_tensor *operand(rt_binop op, int side, rt_dtype dt, int nd, const int64_t *shape)
{
    if (op >= RT_EQ || op == RT_MAXIMUM || op == RT_MINIMUM) return ints(dt, nd, shape, -2, 3);
    if (op == RT_POW) {
        if (dt == RT_I64) return side ? ints(dt, nd, shape, 0, 5) : ints(dt, nd, shape, -3, 4);
        return side ? h_rand(dt, nd, shape, -2, 2) : h_rand(dt, nd, shape, 0.2, 3);
    }
    if (op == RT_DIV && side) return dt == RT_I64 ? ints(dt, nd, shape, 1, 5)
                                                  : h_rand(dt, nd, shape, 0.5, 3);
    return h_rand(dt, nd, shape, -5, 5);
}

/* rt_binary(op, a, b) against the reference: dtype, shape, contiguity and values. */
static void check_bin(rt_binop op, const rt_tensor *a, const rt_tensor *b, const char *what)
{
    int nd;
    int64_t shape[RT_MAXDIM];
    rt_tensor *o = NULL;
    if (!bshape(a->ndim, a->shape, b->ndim, b->shape, &nd, shape)) {
        CHECK(0, "%s %s: test shapes do not broadcast", BIN[op], what);
        return;
    }
    rt_status st = rt_binary(op, a, b, &o);
    CHECK(st == RT_OK, "%s %s: %s", BIN[op], what, rt_last_error());
    if (st != RT_OK) return;
    rt_dtype want = bin_dtype(op, a->dtype, b->dtype);
    int64_t n = rt_tensor_numel(o);
    /* (core: rt_tensor_is_contiguous says 0 for a fresh [2,0] tensor, so skip empties) */
    CHECK(o->dtype == want && h_shape_is(o, nd, shape) && (n == 0 || rt_tensor_is_contiguous(o)),
          "%s %s: dtype %s shape/contiguity", BIN[op], what, rt_dtype_name(o->dtype));
    double *ref = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++)
        ref[i] = ref_bin(op, bval(a, nd, shape, i), bval(b, nd, shape, i));
    double w = h_worst(o, ref, atol_of(want), rtol_of(want));
    CHECK(w <= 1, "%s %s (%s, %s): worst error ratio %g", BIN[op], what,
          rt_dtype_name(a->dtype), rt_dtype_name(b->dtype), w);
    free(ref);
    rt_tensor_release(o);
}

/* ---- binary: every op and dtype, contiguous / broadcast / strided --------------------- */
static void test_binary_all(void)
{
    for (int op = 0; op < 13; op++) {
        CHECK(strcmp(rt_binop_name((rt_binop)op), BIN[op]) == 0, "name of op %d", op);
        for (int d = 0; d < 3; d++) {
            rt_dtype dt = DTS[d];
            rt_tensor *a = operand(op, 0, dt, 2, SHAPE(5, 7));
            rt_tensor *b = operand(op, 1, dt, 2, SHAPE(5, 7));
            check_bin(op, a, b, "[5,7] contiguous");
            rt_tensor_release(a);
            rt_tensor_release(b);

            a = operand(op, 0, dt, 2, SHAPE(3, 1));
            b = operand(op, 1, dt, 2, SHAPE(1, 4));
            check_bin(op, a, b, "[3,1] x [1,4]");
            rt_tensor_release(a);
            rt_tensor_release(b);

            /* a: transposed (7,5)->(5,7); b: every other column and row of (10,14) */
            rt_tensor *ab = operand(op, 0, dt, 2, SHAPE(7, 5));
            rt_tensor *bb = operand(op, 1, dt, 2, SHAPE(10, 14)), *bs = NULL;
            rt_view_transpose(ab, 0, 1, &a);
            rt_view_slice(bb, 0, 1, 10, 2, &bs);
            rt_view_slice(bs, 1, 0, 14, 2, &b);
            check_bin(op, a, b, "transposed x step-sliced");
            if (op != RT_POW) check_bin(op, b, a, "step-sliced x transposed");
            rt_tensor_release(a);
            rt_tensor_release(b);
            rt_tensor_release(bs);
            rt_tensor_release(ab);
            rt_tensor_release(bb);
        }
    }
}

static void test_binary_promotion(void)
{
    for (int op = 0; op < 13; op++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                if (i == j) continue;
                rt_tensor *a = operand(op, 0, DTS[i], 2, SHAPE(2, 3));
                rt_tensor *b = operand(op, 1, DTS[j], 1, SHAPE(3));
                check_bin(op, a, b, "mixed dtypes");
                rt_tensor_release(a);
                rt_tensor_release(b);
            }
}

static void test_broadcast_shapes(void)
{
    static const struct { int na; int64_t sa[3]; int nb; int64_t sb[3]; } cases[] = {
        {3, {2, 3, 4}, 1, {4}}, {1, {4}, 3, {2, 3, 4}}, {0, {0}, 2, {2, 3}},
        {2, {2, 3}, 0, {0}}, {0, {0}, 0, {0}}, {3, {1, 1, 5}, 1, {5}}, {2, {0, 3}, 1, {3}},
        {2, {2, 0}, 2, {2, 1}}, {1, {0}, 0, {0}}, {1, {1}, 2, {2, 3}}, {3, {2, 1, 4}, 2, {3, 1}},
        {2, {1, 1}, 1, {1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int d = 0; d < 3; d++) {
            rt_tensor *a = h_rand(DTS[d], cases[c].na, cases[c].sa, -5, 5);
            rt_tensor *b = h_rand(DTS[d], cases[c].nb, cases[c].sb, -5, 5);
            check_bin(RT_SUB, a, b, "broadcast");
            check_bin(RT_MUL, b, a, "broadcast");
            rt_tensor_release(a);
            rt_tensor_release(b);
        }
    /* an expanded (stride-0) input and an offset one */
    rt_tensor *r = h_rand(RT_F32, 2, SHAPE(1, 6), -1, 1), *e = NULL, *big = NULL, *nar = NULL;
    rt_view_expand(r, 2, SHAPE(4, 6), &e);
    big = h_rand(RT_F32, 2, SHAPE(6, 6), -1, 1);
    rt_view_narrow(big, 0, 2, 4, &nar);
    check_bin(RT_ADD, e, nar, "expanded + offset view");
    check_bin(RT_DIV, nar, e, "offset view / expanded");
    rt_tensor_release(r);
    rt_tensor_release(e);
    rt_tensor_release(big);
    rt_tensor_release(nar);
}

/* ---- scalar forms ----------------------------------------------------------------------- */
static void check_scalar(rt_binop op, rt_tensor *a, double s, int first, rt_dtype want)
{
    rt_tensor *o = NULL;
    rt_status st = rt_binary_scalar(op, a, s, first, &o);
    CHECK(st == RT_OK, "%s scalar: %s", BIN[op], rt_last_error());
    if (st != RT_OK) return;
    CHECK(o->dtype == want && h_shape_is(o, a->ndim, a->shape),
          "%s scalar %g on %s: dtype %s, expected %s", BIN[op], s, rt_dtype_name(a->dtype),
          rt_dtype_name(o->dtype), rt_dtype_name(want));
    int64_t n = rt_tensor_numel(a);
    double *ref = malloc(sizeof(double) * (size_t)(n ? n : 1));
    double sv = want == RT_F32 ? (double)(float)s : s;   /* the scalar is rounded to f32 */
    for (int64_t i = 0; i < n; i++)
        ref[i] = first ? ref_bin(op, sv, h_at(a, i)) : ref_bin(op, h_at(a, i), sv);
    double w = h_worst(o, ref, atol_of(want), rtol_of(want));
    CHECK(w <= 1, "%s scalar %g first=%d on %s: worst %g", BIN[op], s, first,
          rt_dtype_name(a->dtype), w);
    free(ref);
    rt_tensor_release(o);
}

static void test_scalar(void)
{
    for (int op = 0; op < 13; op++)
        for (int d = 0; d < 3; d++) {
            rt_tensor *a = operand(op, 0, DTS[d], 2, SHAPE(4, 5)), *t = NULL;
            rt_view_transpose(a, 0, 1, &t);
            double s = op == RT_POW ? 2 : op >= RT_MAXIMUM ? 1 : 3;
            rt_dtype same = DTS[d] == RT_I64 && op == RT_DIV ? RT_F32 : DTS[d];
            check_scalar(op, a, s, 0, same);
            if (op != RT_POW) check_scalar(op, t, s, 1, same);
            check_scalar(op, t, 0.5, 0, DTS[d] == RT_I64 ? RT_F32 : DTS[d]);
            rt_tensor_release(a);
            rt_tensor_release(t);
        }
    rt_tensor *i = ints(RT_I64, 1, SHAPE(6), -3, 3), *z = NULL;
    check_scalar(RT_ADD, i, INFINITY, 0, RT_F32);
    check_scalar(RT_ADD, i, 1e30, 0, RT_F32);         /* integral but outside i64 */
    check_scalar(RT_MUL, i, -4, 1, RT_I64);
    check_scalar(RT_POW, i, 3, 0, RT_I64);
    rt_scalar(RT_F64, 2.5, &z);
    check_scalar(RT_SUB, z, 1, 1, RT_F64);             /* 0-d input */
    rt_tensor_release(i);
    rt_tensor_release(z);
}

/* ---- in place, out=, aliasing -------------------------------------------------------- */
static rt_tensor *clone(const rt_tensor *t)
{
    rt_tensor *c = NULL;
    rt_clone(t, &c);
    return c;
}

/* a op= b must equal the reference computed from a copy of a taken before. */
static void check_inplace(rt_binop op, rt_tensor *a, const rt_tensor *b, const char *what)
{
    rt_tensor *before = clone(a);
    uint32_t v = a->storage->version;
    int64_t n = rt_tensor_numel(a);
    double *ref = malloc(sizeof(double) * (size_t)(n ? n : 1));
    rt_tensor *bc = clone(b);   /* b may alias a: take its values now */
    for (int64_t i = 0; i < n; i++)
        ref[i] = ref_bin(op, h_at(before, i), bval(bc, a->ndim, a->shape, i));
    rt_status st = rt_binary_(op, a, b);
    CHECK(st == RT_OK, "%s_ %s: %s", BIN[op], what, rt_last_error());
    if (st == RT_OK) {
        double w = h_worst(a, ref, atol_of(a->dtype), rtol_of(a->dtype));
        CHECK(w <= 1, "%s_ %s: worst %g", BIN[op], what, w);
        CHECK(a->storage->version != v, "%s_ %s bumps the version", BIN[op], what);
    }
    free(ref);
    rt_tensor_release(before);
    rt_tensor_release(bc);
}

static void test_inplace(void)
{
    for (int op = 0; op < 13; op++)
        for (int d = 0; d < 3; d++) {
            if (op == RT_DIV && DTS[d] == RT_I64) continue;
            rt_tensor *a = operand(op, 0, DTS[d], 2, SHAPE(3, 4));
            rt_tensor *b = operand(op, 1, DTS[d], 2, SHAPE(3, 4));
            rt_tensor *r = operand(op, 1, DTS[d], 1, SHAPE(4));
            rt_tensor *at = NULL;
            check_inplace(op, a, b, "same shape");
            check_inplace(op, a, r, "row broadcast");
            rt_view_transpose(a, 0, 1, &at);
            rt_tensor *bt = operand(op, 1, DTS[d], 2, SHAPE(4, 3));
            check_inplace(op, at, bt, "transposed destination");
            rt_tensor_release(a);
            rt_tensor_release(b);
            rt_tensor_release(r);
            rt_tensor_release(at);
            rt_tensor_release(bt);
        }
    /* dtype rules: a's dtype must not change */
    rt_tensor *f = h_rand(RT_F32, 1, SHAPE(4), -1, 1), *g = h_rand(RT_F64, 1, SHAPE(4), -1, 1);
    rt_tensor *i = ints(RT_I64, 1, SHAPE(4), 1, 5);
    check_inplace(RT_ADD, f, i, "f32 += i64");
    check_inplace(RT_MUL, g, f, "f64 *= f32");
    CHECK_FAILS(rt_binary_(RT_ADD, i, f), RT_EDTYPE,
                "add_: the result is f32 (i64 and f32 operands), which cannot be stored in "
                "place into a i64 tensor");
    CHECK_FAILS(rt_binary_(RT_ADD, f, g), RT_EDTYPE, "into a f32 tensor");
    CHECK_FAILS(rt_binary_(RT_DIV, i, i), RT_EDTYPE, "div_: the result is f32");
    rt_tensor *col = h_rand(RT_F32, 2, SHAPE(3, 1), -1, 1);
    rt_tensor *m = h_rand(RT_F32, 2, SHAPE(3, 4), -1, 1);
    CHECK_FAILS(rt_binary_(RT_SUB, col, m), RT_ESHAPE,
                "sub_: operand of shape [3,4] cannot be broadcast to the destination's shape "
                "[3,1]");
    rt_tensor *three = h_rand(RT_F32, 1, SHAPE(3), -1, 1);
    CHECK_FAILS(rt_binary_(RT_SUB, m, three), RT_ESHAPE, "sub_: shapes [3,4] and [3] cannot");
    rt_tensor_release(three);
    rt_tensor *e = NULL;
    rt_view_expand(col, 2, SHAPE(3, 4), &e);
    CHECK_FAILS(rt_binary_(RT_ADD, e, m), RT_EARG, "expanded view");
    rt_tensor_release(e);
    rt_tensor_release(col);
    rt_tensor_release(m);
    rt_tensor_release(f);
    rt_tensor_release(g);
    rt_tensor_release(i);
}

static void test_aliasing(void)
{
    /* a += a^T: without a copy, later elements would read already-updated ones */
    rt_tensor *a = h_rand(RT_F64, 2, SHAPE(5, 5), -1, 1), *at = NULL;
    rt_view_transpose(a, 0, 1, &at);
    check_inplace(RT_ADD, a, at, "a += a:t()");
    check_inplace(RT_SUB, at, a, "a:t() -= a");
    check_inplace(RT_MUL, a, a, "a *= a (exact alias)");
    rt_tensor *row = NULL;
    rt_view_narrow(a, 0, 0, 1, &row);
    check_inplace(RT_ADD, a, row, "a += a[0:1,:] (broadcast alias)");
    rt_tensor_release(row);
    rt_tensor_release(at);
    rt_tensor_release(a);

    /* shifted overlapping slices of one vector, both directions, f32 contiguous */
    rt_tensor *x = NULL, *hi = NULL, *lo = NULL;
    rt_arange(RT_F32, 0, 99, 1, &x);
    rt_view_narrow(x, 0, 1, 99, &hi);
    rt_view_narrow(x, 0, 0, 99, &lo);
    check_inplace(RT_ADD, hi, lo, "x[1:] += x[:-1]");
    check_inplace(RT_SUB, lo, hi, "x[:-1] -= x[1:]");
    rt_tensor_release(hi);
    rt_tensor_release(lo);
    rt_tensor_release(x);

    /* out= aliasing an input exactly, and out= the transpose of an input */
    rt_tensor *p = h_rand(RT_F32, 2, SHAPE(4, 4), -1, 1);
    rt_tensor *q = h_rand(RT_F32, 2, SHAPE(4, 4), -1, 1);
    rt_tensor *pc = clone(p), *qc = clone(q), *pt = NULL;
    double ref[16];
    for (int64_t k = 0; k < 16; k++) ref[k] = h_at(pc, k) - h_at(qc, k);
    CHECK_OK(rt_binary_out(RT_SUB, p, q, q));
    CHECK(h_worst(q, ref, 1e-6, 1e-6) <= 1, "out = q aliasing b");
    rt_view_transpose(p, 0, 1, &pt);
    for (int64_t k = 0; k < 16; k++) ref[k] = h_at(pc, k) * h_at(pc, (k % 4) * 4 + k / 4);
    CHECK_OK(rt_binary_out(RT_MUL, pc, pt, p));   /* p = pc * p^T, p == pc before */
    CHECK(h_worst(p, ref, 1e-6, 1e-6) <= 1, "out = p while reading p^T");
    rt_tensor_release(pt);
    rt_tensor_release(pc);
    rt_tensor_release(qc);
    rt_tensor_release(p);
    rt_tensor_release(q);
}

static void test_binary_out(void)
{
    rt_tensor *a = h_rand(RT_F32, 2, SHAPE(3, 1), -1, 1), *b = h_rand(RT_F32, 1, SHAPE(4), -1, 1);
    rt_tensor *o = NULL, *o64 = NULL, *small = NULL;
    rt_empty(RT_F32, 2, SHAPE(3, 4), &o);
    uint32_t v = o->storage->version;
    CHECK_OK(rt_binary_out(RT_ADD, a, b, o));
    double ref[12];
    for (int64_t k = 0; k < 12; k++) ref[k] = h_at(a, k / 4) + h_at(b, k % 4);
    CHECK(h_worst(o, ref, 1e-6, 1e-6) <= 1 && o->storage->version != v, "binary_out values");
    rt_empty(RT_F64, 2, SHAPE(3, 4), &o64);
    CHECK_FAILS(rt_binary_out(RT_ADD, a, b, o64), RT_EDTYPE,
                "add: out is f64, but f32 and f32 operands give f32");
    rt_empty(RT_F32, 1, SHAPE(4), &small);
    CHECK_FAILS(rt_binary_out(RT_ADD, a, b, small), RT_ESHAPE,
                "add: out has shape [4], but [3,1] and [4] broadcast to [3,4]");
    CHECK(rt_last_operand() == 2, "out is operand 2");
    rt_tensor_release(a);
    rt_tensor_release(b);
    rt_tensor_release(o);
    rt_tensor_release(o64);
    rt_tensor_release(small);
}

/* ---- binary special values ----------------------------------------------------------- */
static rt_tensor *vec_i64(int n, const int64_t *v)
{
    rt_tensor *t = NULL;
    rt_from_buffer(RT_I64, 1, SHAPE(n), v, &t);
    return t;
}

static rt_tensor *vec_f64(int n, const double *v)
{
    rt_tensor *t = NULL;
    rt_from_buffer(RT_F64, 1, SHAPE(n), v, &t);
    return t;
}

static void test_binary_special(void)
{
    /* i64 / i64 is true division in f32: no integer division, no SIGFPE */
    rt_tensor *x = vec_i64(5, (int64_t[]){5, -5, 0, INT64_MIN, 7});
    rt_tensor *y = vec_i64(5, (int64_t[]){0, 0, 0, -1, 2}), *o = NULL;
    CHECK_OK(rt_binary(RT_DIV, x, y, &o));
    CHECK(o && o->dtype == RT_F32 && h_at(o, 0) == INFINITY && h_at(o, 1) == -INFINITY &&
          isnan(h_at(o, 2)) && h_at(o, 3) == 9223372036854775808.0 && h_at(o, 4) == 3.5,
          "i64 division by zero and INT64_MIN / -1");
    rt_tensor_release(o);
    CHECK_OK(rt_binary_scalar(RT_DIV, x, 0, 0, &o));
    CHECK(o && o->dtype == RT_F32 && h_at(o, 0) == INFINITY, "i64 / scalar 0");
    rt_tensor_release(o);
    rt_tensor_release(x);
    rt_tensor_release(y);

    /* i64 wraps; negative exponents are the truncated quotient */
    x = vec_i64(6, (int64_t[]){INT64_MAX, 0, 2, -1, 1, -1});
    y = vec_i64(6, (int64_t[]){1, -1, -1, -3, -5, -2});
    CHECK_OK(rt_binary(RT_ADD, x, y, &o));
    CHECK(o && rt_tensor_get_i64(o, SHAPE(0)) == INT64_MIN, "i64 add wraps");
    rt_tensor_release(o);
    CHECK_OK(rt_binary(RT_POW, x, y, &o));
    int64_t want[6] = {INT64_MAX, 0, 0, -1, 1, 1};
    int ok = o != NULL;
    for (int k = 0; ok && k < 6; k++) ok &= rt_tensor_get_i64(o, SHAPE(k)) == want[k];
    CHECK(ok, "i64 pow with negative exponents");
    rt_tensor_release(o);
    rt_tensor_release(x);
    rt_tensor_release(y);
    x = vec_i64(1, (int64_t[]){3});
    CHECK_OK(rt_binary_scalar(RT_POW, x, 40, 0, &o));   /* 3^40 wraps modulo 2^64 */
    CHECK(o && rt_tensor_get_i64(o, SHAPE(0)) == (int64_t)12157665459056928801ull,
          "i64 pow wraps");
    rt_tensor_release(o);
    rt_tensor_release(x);

    /* float pow, nan in max/min and comparisons */
    x = vec_f64(4, (double[]){-8, NAN, 1, -0.0});
    y = vec_f64(4, (double[]){1.0 / 3, 1, NAN, 0.0});
    CHECK_OK(rt_binary(RT_POW, x, y, &o));
    CHECK(o && isnan(h_at(o, 0)) && h_at(o, 1) != h_at(o, 1) && h_at(o, 2) == 1,
          "pow: negative base, non-integer exponent is nan; pow(1, nan) = 1");
    rt_tensor_release(o);
    for (int op = RT_MAXIMUM; op <= RT_MINIMUM; op++) {
        CHECK_OK(rt_binary(op, x, y, &o));
        CHECK(o && isnan(h_at(o, 1)) && isnan(h_at(o, 2)), "%s propagates nan", BIN[op]);
        rt_tensor_release(o);
    }
    CHECK_OK(rt_binary(RT_EQ, x, y, &o));
    CHECK(o && h_at(o, 1) == 0 && h_at(o, 2) == 0 && h_at(o, 3) == 1, "eq: nan != nan, -0 == 0");
    rt_tensor_release(o);
    CHECK_OK(rt_binary(RT_NE, x, y, &o));
    CHECK(o && h_at(o, 1) == 1 && h_at(o, 2) == 1 && h_at(o, 3) == 0, "ne with nan");
    rt_tensor_release(o);
    rt_tensor_release(x);
    rt_tensor_release(y);
}

/* ---- unary ------------------------------------------------------------------------------ */
static int keeps_i64(rt_unop op)
{
    return op == RT_NEG || op == RT_ABS || op == RT_SIGN || op == RT_SQUARE || op == RT_RELU ||
           op == RT_FLOOR || op == RT_CEIL || op == RT_ROUND;
}

static rt_tensor *un_input(rt_unop op, rt_dtype dt, int nd, const int64_t *shape)
{
    double lo = -4, hi = 4;
    if (op == RT_LOG || op == RT_SQRT || op == RT_RSQRT || op == RT_RECIPROCAL) lo = 0.5;
    if (op == RT_LOG1P) lo = -0.5;
    if (op == RT_EXP || op == RT_EXPM1) lo = -3, hi = 3;
    if (dt == RT_I64 && lo > 0) lo = 1;
    return h_rand(dt, nd, shape, lo, hi);
}

static void check_un(rt_unop op, const rt_tensor *x, const char *what)
{
    rt_dtype want = x->dtype == RT_I64 && !keeps_i64(op) ? RT_F32 : x->dtype;
    rt_tensor *o = NULL;
    rt_status st = rt_unary(op, x, &o);
    CHECK(st == RT_OK, "%s %s: %s", rt_unop_name(op), what, rt_last_error());
    if (st != RT_OK) return;
    CHECK(o->dtype == want && h_shape_is(o, x->ndim, x->shape), "%s %s: dtype %s",
          rt_unop_name(op), what, rt_dtype_name(o->dtype));
    int64_t n = rt_tensor_numel(x);
    double *ref = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) ref[i] = ref_un(op, h_at(x, i));
    double w = h_worst(o, ref, atol_of(want), want == RT_F32 ? 4e-6 : 1e-13);
    CHECK(w <= 1, "%s %s on %s: worst %g", rt_unop_name(op), what, rt_dtype_name(x->dtype), w);
    /* in place on a transposed copy, when the dtype allows */
    if (want == x->dtype && x->ndim == 2) {
        rt_tensor *c = clone(x), *ct = NULL, *ref_t = NULL;
        rt_view_transpose(c, 0, 1, &ct);
        rt_view_transpose(o, 0, 1, &ref_t);
        CHECK_OK(rt_unary_(op, ct));
        int64_t m = rt_tensor_numel(ct);
        for (int64_t i = 0; i < m; i++) ref[i] = h_at(ref_t, i);
        CHECK(h_worst(ct, ref, 0, 0) == 0, "%s_ in place on a transposed view equals the "
              "out-of-place result", rt_unop_name(op));
        rt_tensor_release(c);
        rt_tensor_release(ct);
        rt_tensor_release(ref_t);
    }
    free(ref);
    rt_tensor_release(o);
}

static void test_unary_all(void)
{
    for (int op = 0; op < RT_UNOP_COUNT; op++)
        for (int d = 0; d < 3; d++) {
            rt_tensor *x = un_input(op, DTS[d], 2, SHAPE(6, 5)), *t = NULL, *s = NULL;
            check_un(op, x, "[6,5] contiguous");
            rt_view_transpose(x, 0, 1, &t);
            check_un(op, t, "transposed");
            rt_view_slice(x, 0, 1, 6, 2, &s);
            check_un(op, s, "step-sliced with offset");
            rt_tensor_release(x);
            rt_tensor_release(t);
            rt_tensor_release(s);
        }
    rt_tensor *e = NULL, *z = NULL;
    rt_zeros(RT_F32, 2, SHAPE(0, 3), &e);
    check_un(RT_EXP, e, "empty");
    rt_scalar(RT_F64, 0.25, &z);
    check_un(RT_GELU, z, "0-d");
    rt_tensor *i = ints(RT_I64, 2, SHAPE(2, 3), -3, 3);
    CHECK_FAILS(rt_unary_(RT_EXP, i), RT_EDTYPE,
                "exp_: the result is f32, which cannot be stored in place into a i64 tensor");
    rt_tensor *ex = NULL;
    rt_view_expand(z, 1, SHAPE(3), &ex);
    CHECK_FAILS(rt_unary_(RT_NEG, ex), RT_EARG, "neg_: the destination is an expanded view");
    CHECK_FAILS(rt_unary((rt_unop)99, z, &e), RT_EARG, "unknown unary op 99");
    rt_tensor_release(ex);
    rt_tensor_release(i);
    rt_tensor_release(e);
    rt_tensor_release(z);
}

/* f(v) for a one-element tensor of dtype dt. */
static double un1(rt_unop op, rt_dtype dt, double v)
{
    rt_tensor *x = NULL, *o = NULL;
    rt_scalar(dt, v, &x);
    double r = NAN;
    if (rt_unary(op, x, &o) == RT_OK) r = h_at(o, 0);
    rt_tensor_release(x);
    rt_tensor_release(o);
    return r;
}

static void test_unary_special(void)
{
    for (int d = 0; d < 2; d++) {
        rt_dtype dt = DTS[d];
        const char *n = rt_dtype_name(dt);
        CHECK(un1(RT_EXP, dt, 1000) == INFINITY && un1(RT_EXP, dt, -1000) == 0, "%s exp", n);
        CHECK(un1(RT_LOG, dt, 0) == -INFINITY && isnan(un1(RT_LOG, dt, -1)), "%s log", n);
        CHECK(un1(RT_SIGMOID, dt, 1000) == 1 && un1(RT_SIGMOID, dt, -1000) == 0 &&
              un1(RT_SIGMOID, dt, 0) == 0.5, "%s sigmoid(+-1000)", n);
        CHECK(un1(RT_SOFTPLUS, dt, 1000) == 1000 && un1(RT_SOFTPLUS, dt, -1000) == 0,
              "%s softplus(+-1000)", n);
        CHECK(un1(RT_TANH, dt, 1000) == 1 && un1(RT_TANH, dt, -1000) == -1, "%s tanh", n);
        CHECK(un1(RT_SIGN, dt, 0) == 0 && un1(RT_SIGN, dt, -0.0) == 0 &&
              un1(RT_SIGN, dt, -3) == -1 && isnan(un1(RT_SIGN, dt, NAN)), "%s sign", n);
        CHECK(isnan(un1(RT_RELU, dt, NAN)) && un1(RT_RELU, dt, -2) == 0, "%s relu", n);
        CHECK(un1(RT_ROUND, dt, 0.5) == 0 && un1(RT_ROUND, dt, 1.5) == 2 &&
              un1(RT_ROUND, dt, 2.5) == 2 && un1(RT_ROUND, dt, -2.5) == -2 &&
              un1(RT_ROUND, dt, -2.6) == -3, "%s round half to even", n);
        CHECK(un1(RT_RSQRT, dt, 4) == 0.5 && un1(RT_RSQRT, dt, 0) == INFINITY, "%s rsqrt", n);
        CHECK(un1(RT_RECIPROCAL, dt, 0) == INFINITY, "%s reciprocal(0)", n);
    }
    /* Python 3.11.7 math: 0.5*x*math.erfc(-x/math.sqrt(2)) for x = 1, -1, -10, 3 */
    CHECK(fabs(un1(RT_GELU, RT_F64, 1) - 0.8413447460685429) <= 1e-15, "gelu(1)");
    CHECK(fabs(un1(RT_GELU, RT_F64, -1) - -0.15865525393145707) <= 1e-15, "gelu(-1)");
    CHECK(fabs(un1(RT_GELU, RT_F64, -10) / -7.619853024160593e-23 - 1) <= 1e-13,
          "gelu(-10) keeps its tail");
    CHECK(fabs(un1(RT_GELU, RT_F64, 3) - 2.99595030590511) <= 1e-14, "gelu(3)");
    CHECK(fabs(un1(RT_GELU, RT_F32, 1) - 0.8413447460685429) <= 1e-7, "gelu(1) f32");
    /* Python 3.11.7 math: math.log(2), math.log1p(math.exp(-20)) + 20, 1/(1+math.exp(-3)),
    ** 1/(1+math.exp(3)) */
    CHECK(fabs(un1(RT_SOFTPLUS, RT_F64, 0) - 0.6931471805599453) <= 1e-15, "softplus(0)");
    CHECK(fabs(un1(RT_SOFTPLUS, RT_F64, 20) - 20.000000002061153) <= 1e-14, "softplus(20)");
    CHECK(fabs(un1(RT_SIGMOID, RT_F64, 3) - 0.9525741268224334) <= 1e-15, "sigmoid(3)");
    CHECK(fabs(un1(RT_SIGMOID, RT_F64, -3) - 0.04742587317756678) <= 1e-16, "sigmoid(-3)");
    /* i64 */
    CHECK(un1(RT_EXP, RT_I64, 0) == 1, "exp on i64");
    rt_tensor *x = vec_i64(3, (int64_t[]){INT64_MIN, -7, 0}), *o = NULL;
    CHECK_OK(rt_unary(RT_NEG, x, &o));
    CHECK(o && rt_tensor_get_i64(o, SHAPE(0)) == INT64_MIN && rt_tensor_get_i64(o, SHAPE(1)) == 7,
          "i64 neg wraps at INT64_MIN");
    rt_tensor_release(o);
    CHECK_OK(rt_unary(RT_ABS, x, &o));
    CHECK(o && rt_tensor_get_i64(o, SHAPE(0)) == INT64_MIN, "i64 abs(INT64_MIN) wraps");
    rt_tensor_release(o);
    rt_tensor_release(x);
}

/* ---- leaky_relu and clamp --------------------------------------------------------------- */
static void test_leaky_clamp(void)
{
    for (int d = 0; d < 3; d++) {
        rt_tensor *x = h_rand(DTS[d], 2, SHAPE(4, 6), -5, 5), *t = NULL, *o = NULL;
        rt_view_transpose(x, 0, 1, &t);
        rt_dtype fl = DTS[d] == RT_I64 ? RT_F32 : DTS[d];
        double ref[24];
        CHECK_OK(rt_leaky_relu(t, 0.1, &o));
        for (int64_t i = 0; i < 24; i++) {
            double v = h_at(t, i);
            ref[i] = v >= 0 ? v : 0.1 * v;
        }
        CHECK(o && o->dtype == fl && h_worst(o, ref, atol_of(fl), rtol_of(fl)) <= 1,
              "leaky_relu %s", rt_dtype_name(DTS[d]));
        rt_tensor_release(o);

        static const double b[4][2] = {{-1.5, 2.5}, {-INFINITY, 0.5}, {-0.5, INFINITY}, {3, 1}};
        for (int k = 0; k < 4; k++) {
            double lo = b[k][0], hi = b[k][1];
            if (DTS[d] == RT_I64) lo = ceil(lo), hi = floor(hi);   /* rounded inward */
            for (int64_t i = 0; i < 24; i++) {
                double v = h_at(t, i);
                v = v < lo ? lo : v;
                ref[i] = v > hi ? hi : v;
            }
            CHECK_OK(rt_clamp(t, b[k][0], b[k][1], &o));
            CHECK(o && o->dtype == DTS[d] && h_worst(o, ref, 0, 0) == 0,
                  "clamp %s [%g, %g]", rt_dtype_name(DTS[d]), b[k][0], b[k][1]);
            rt_tensor_release(o);
            rt_tensor *c = clone(x), *ct = NULL;
            rt_view_transpose(c, 0, 1, &ct);
            uint32_t v0 = c->storage->version;
            CHECK_OK(rt_clamp_(ct, b[k][0], b[k][1]));
            CHECK(h_worst(ct, ref, 0, 0) == 0 && c->storage->version != v0,
                  "clamp_ %s on a transposed view", rt_dtype_name(DTS[d]));
            rt_tensor_release(ct);
            rt_tensor_release(c);
        }
        rt_tensor_release(x);
        rt_tensor_release(t);
    }
    rt_tensor *x = vec_f64(3, (double[]){NAN, -3, 3}), *o = NULL;
    CHECK_OK(rt_clamp(x, -1, 1, &o));
    CHECK(o && isnan(h_at(o, 0)) && h_at(o, 1) == -1 && h_at(o, 2) == 1, "clamp keeps nan");
    rt_tensor_release(o);
    CHECK_OK(rt_leaky_relu(x, 0.5, &o));
    CHECK(o && isnan(h_at(o, 0)) && h_at(o, 1) == -1.5, "leaky_relu keeps nan");
    rt_tensor_release(o);
    CHECK_FAILS(rt_clamp(x, NAN, 1, &o), RT_EARG, "clamp: bounds must not be nan");
    CHECK_FAILS(rt_clamp_(x, 0, NAN), RT_EARG, "clamp_: bounds must not be nan");
    rt_tensor *i = vec_i64(2, (int64_t[]){INT64_MIN, INT64_MAX});
    CHECK_OK(rt_clamp(i, -1e300, 1e300, &o));
    CHECK(o && rt_tensor_get_i64(o, SHAPE(0)) == INT64_MIN &&
          rt_tensor_get_i64(o, SHAPE(1)) == INT64_MAX, "i64 clamp with huge bounds saturates");
    rt_tensor_release(o);
    rt_tensor_release(i);
    rt_tensor_release(x);
}

/* ---- where -------------------------------------------------------------------------------- */
static void check_where(const rt_tensor *c, const rt_tensor *a, const rt_tensor *b,
                        const char *what)
{
    int n1, nd;
    int64_t s1[RT_MAXDIM], shape[RT_MAXDIM];
    bshape(c->ndim, c->shape, a->ndim, a->shape, &n1, s1);
    bshape(n1, s1, b->ndim, b->shape, &nd, shape);
    rt_tensor *o = NULL;
    rt_status st = rt_where(c, a, b, &o);
    CHECK(st == RT_OK, "where %s: %s", what, rt_last_error());
    if (st != RT_OK) return;
    rt_dtype want = promote(a->dtype, b->dtype);
    CHECK(o->dtype == want && h_shape_is(o, nd, shape), "where %s: dtype/shape", what);
    int64_t n = rt_tensor_numel(o);
    double *ref = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++)
        ref[i] = bval(c, nd, shape, i) != 0 ? bval(a, nd, shape, i) : bval(b, nd, shape, i);
    CHECK(h_worst(o, ref, 0, 0) == 0, "where %s (%s cond, %s, %s)", what,
          rt_dtype_name(c->dtype), rt_dtype_name(a->dtype), rt_dtype_name(b->dtype));
    free(ref);
    rt_tensor_release(o);
}

static void test_where(void)
{
    for (int dc = 0; dc < 3; dc++)
        for (int da = 0; da < 3; da++)
            for (int db = 0; db < 3; db++) {
                rt_tensor *c = ints(DTS[dc], 2, SHAPE(3, 1), 0, 2);
                rt_tensor *a = h_rand(DTS[da], 2, SHAPE(1, 4), -5, 5);
                rt_tensor *b = h_rand(DTS[db], 0, NULL, -5, 5);
                check_where(c, a, b, "[3,1] [1,4] []");
                rt_tensor_release(c);
                rt_tensor_release(a);
                rt_tensor_release(b);
                c = ints(DTS[dc], 2, SHAPE(5, 6), -1, 2);
                a = h_rand(DTS[da], 2, SHAPE(5, 6), -5, 5);
                b = h_rand(DTS[db], 2, SHAPE(6, 5), -5, 5);
                rt_tensor *bt = NULL;
                check_where(c, a, a, "contiguous");
                rt_tensor *z = h_rand(DTS[db], 0, NULL, -5, 5);
                check_where(c, a, z, "0-d b");
                check_where(c, z, a, "0-d a");
                rt_tensor_release(z);
                rt_view_transpose(b, 0, 1, &bt);
                check_where(c, a, bt, "transposed b");
                rt_tensor_release(c);
                rt_tensor_release(a);
                rt_tensor_release(b);
                rt_tensor_release(bt);
            }
    /* nan is true, -0.0 false; values (including -0.0 and nan payloads) copied exactly */
    rt_tensor *c = vec_f64(4, (double[]){NAN, -0.0, 2, 0});
    rt_tensor *a = vec_f64(4, (double[]){-0.0, 1, 2, 3}), *o = NULL;
    rt_tensor *b = vec_f64(4, (double[]){9, 8, 7, NAN});
    CHECK_OK(rt_where(c, a, b, &o));
    CHECK(o && h_at(o, 0) == 0 && signbit(h_at(o, 0)) && h_at(o, 1) == 8 && h_at(o, 2) == 2 &&
          isnan(h_at(o, 3)), "where: nan true, -0 false, bit-exact values");
    rt_tensor_release(o);
    rt_tensor *e = NULL;
    rt_zeros(RT_F32, 2, SHAPE(0, 4), &e);
    check_where(e, a, b, "empty condition");
    rt_tensor *e3 = NULL;
    rt_zeros(RT_F32, 2, SHAPE(0, 3), &e3);
    CHECK_FAILS(rt_where(c, e3, b, &o), RT_ESHAPE,
                "where: shapes [4] (cond), [0,3] (a) and [4] (b)");
    rt_tensor_release(e3);
    rt_tensor *bad = h_rand(RT_F32, 1, SHAPE(3), 0, 1);
    CHECK_FAILS(rt_where(c, a, bad, &o), RT_ESHAPE, "[4] (cond), [4] (a) and [3] (b)");
    rt_tensor_release(bad);
    rt_tensor_release(e);
    rt_tensor_release(c);
    rt_tensor_release(a);
    rt_tensor_release(b);
}

/* ---- axpby -------------------------------------------------------------------------------- */
static void check_axpby(double al, const rt_tensor *x, double be, const rt_tensor *y,
                        rt_dtype want)
{
    int nd;
    int64_t shape[RT_MAXDIM];
    bshape(x->ndim, x->shape, y->ndim, y->shape, &nd, shape);
    rt_tensor *o = NULL;
    rt_status st = rt_axpby(al, x, be, y, &o);
    CHECK(st == RT_OK, "axpby: %s", rt_last_error());
    if (st != RT_OK) return;
    int64_t n = rt_tensor_numel(o);
    double *ref = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++)
        ref[i] = al * bval(x, nd, shape, i) + be * bval(y, nd, shape, i);
    CHECK(o->dtype == want && h_shape_is(o, nd, shape) &&
          h_worst(o, ref, atol_of(want), rtol_of(want)) <= 1,
          "axpby %g %s + %g %s -> %s", al, rt_dtype_name(x->dtype), be, rt_dtype_name(y->dtype),
          rt_dtype_name(o->dtype));
    free(ref);
    rt_tensor_release(o);
}

static void test_axpby(void)
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            rt_tensor *x = h_rand(DTS[i], 2, SHAPE(4, 3), -5, 5), *xt = NULL;
            rt_tensor *y = h_rand(DTS[j], 1, SHAPE(4), -5, 5);
            rt_tensor *z = h_rand(DTS[j], 0, NULL, -5, 5);
            rt_view_transpose(x, 0, 1, &xt);
            rt_dtype p = promote(DTS[i], DTS[j]);
            check_axpby(0.5, xt, -2, y, p == RT_I64 ? RT_F32 : p);
            check_axpby(3, x, -2, z, p);
            check_axpby(-1, z, 4, x, p);
            rt_tensor_release(x);
            rt_tensor_release(xt);
            rt_tensor_release(y);
            rt_tensor_release(z);
        }
    rt_tensor *a = h_rand(RT_F32, 1, SHAPE(3), 0, 1), *b = h_rand(RT_F32, 1, SHAPE(2), 0, 1);
    rt_tensor *o = NULL;
    CHECK_FAILS(rt_axpby(1, a, 1, b, &o), RT_ESHAPE, "axpby: shapes [3] and [2]");
    rt_tensor_release(a);
    rt_tensor_release(b);
}

/* ---- relu_backward: x > 0 ? g : 0 --------------------------------------------------------- */
static void check_relu_backward(const rt_tensor *g, const rt_tensor *x, rt_dtype want)
{
    int nd;
    int64_t shape[RT_MAXDIM];
    bshape(g->ndim, g->shape, x->ndim, x->shape, &nd, shape);
    rt_tensor *o = NULL;
    rt_status st = rt_relu_backward(g, x, &o);
    CHECK(st == RT_OK, "relu_backward: %s", rt_last_error());
    if (st != RT_OK) return;
    int64_t n = rt_tensor_numel(o), bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = bval(x, nd, shape, i) > 0 ? bval(g, nd, shape, i) : 0, v = h_at(o, i);
        bad += !(v == e || (isnan(v) && isnan(e)));
    }
    CHECK(o->dtype == want && h_shape_is(o, nd, shape) && bad == 0,
          "relu_backward %s, %s -> %s: %lld wrong", rt_dtype_name(g->dtype),
          rt_dtype_name(x->dtype), rt_dtype_name(o->dtype), (long long)bad);
    rt_tensor_release(o);
}

static void test_relu_backward(void)
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            rt_tensor *g = h_rand(DTS[i], 2, SHAPE(40, 30), -5, 5), *gt = NULL;
            rt_tensor *x = h_rand(DTS[j], 2, SHAPE(30, 40), -5, 5), *xt = NULL;
            rt_tensor *row = h_rand(DTS[j], 1, SHAPE(30), -5, 5);
            rt_view_transpose(g, 0, 1, &gt);
            rt_view_transpose(x, 0, 1, &xt);
            rt_dtype p = promote(DTS[i], DTS[j]);
            check_relu_backward(g, xt, p);      /* contiguous g, strided x */
            check_relu_backward(gt, x, p);      /* strided g */
            check_relu_backward(g, row, p);     /* x broadcast along rows */
            rt_tensor_release(g);
            rt_tensor_release(gt);
            rt_tensor_release(x);
            rt_tensor_release(xt);
            rt_tensor_release(row);
        }
    /* inf and nan in g stay where x <= 0 zeroes them; x = nan passes nothing */
    float gv[4] = { INFINITY, NAN, NAN, 2 }, xv[4] = { -1, 0, 3, NAN };
    rt_tensor *g = NULL, *x = NULL, *o = NULL;
    rt_from_buffer(RT_F32, 1, SHAPE(4), gv, &g);
    rt_from_buffer(RT_F32, 1, SHAPE(4), xv, &x);
    CHECK_OK(rt_relu_backward(g, x, &o));
    CHECK(o && h_at(o, 0) == 0 && h_at(o, 1) == 0 && isnan(h_at(o, 2)) && h_at(o, 3) == 0,
          "relu_backward special values");
    rt_tensor_release(o);
    rt_tensor_release(x);
    x = h_rand(RT_F32, 1, SHAPE(3), 0, 1);
    CHECK_FAILS(rt_relu_backward(g, x, &o), RT_ESHAPE, "relu_backward: shapes [4] and [3]");
    rt_tensor_release(g);
    rt_tensor_release(x);
}

/* ---- errors, allocation failures, interrupts --------------------------------------------- */
static void test_errors(void)
{
    rt_tensor *a = h_rand(RT_F32, 2, SHAPE(2, 3), 0, 1), *b = h_rand(RT_F64, 1, SHAPE(4), 0, 1);
    rt_tensor *sentinel = (rt_tensor *)&a, *o = sentinel;
    CHECK_FAILS(rt_binary(RT_ADD, a, b, &o), RT_ESHAPE,
                "add: shapes [2,3] and [4] cannot be broadcast");
    CHECK(o == sentinel, "*out untouched on failure");
    CHECK_FAILS(rt_binary(RT_GE, b, a, &o), RT_ESHAPE, "ge: shapes [4] and [2,3]");
    CHECK_FAILS(rt_binary((rt_binop)13, a, a, &o), RT_EARG, "unknown binary op 13");
    CHECK_FAILS(rt_binary_scalar((rt_binop)-1, a, 1, 0, &o), RT_EARG, "unknown binary op -1");
    CHECK(o == sentinel && strcmp(rt_binop_name((rt_binop)42), "?") == 0 &&
          strcmp(rt_unop_name((rt_unop)42), "?") == 0, "names of bad ops");
    rt_tensor_release(a);
    rt_tensor_release(b);
}

/* Fails the k-th allocation inside each op for k = 1, 2, ... until the op succeeds; every
** failure must be RT_ENOMEM with *out untouched (ASan's leak check covers the rest). */
static void test_alloc_failures(void)
{
    rt_tensor *a = h_rand(RT_F32, 2, SHAPE(4, 4), -1, 1), *at = NULL;
    rt_tensor *b = ints(RT_I64, 1, SHAPE(4), 1, 3), *c = ints(RT_I64, 2, SHAPE(4, 1), 0, 2);
    rt_view_transpose(a, 0, 1, &at);
    for (int which = 0; which < 5; which++) {
        int done = 0, bad = 0;
        for (long k = 1; k < 40 && !done; k++) {
            rt_tensor *o = NULL, *w = clone(a);
            rt_tensor *wt = NULL;
            rt_view_transpose(w, 0, 1, &wt);
            rt_debug_fail_alloc_at(k);
            rt_status st = RT_OK;
            switch (which) {
            case 0: st = rt_binary(RT_ADD, at, b, &o); break;
            case 1: st = rt_where(c, at, b, &o); break;
            case 2: st = rt_unary(RT_TANH, b, &o); break;
            case 3: st = rt_binary_(RT_SUB, w, wt); o = NULL; break;
            case 4: st = rt_binary_scalar(RT_DIV, b, 2, 1, &o); break;
            }
            rt_debug_fail_alloc_at(0);
            if (st == RT_OK) done = 1;
            else bad += st != RT_ENOMEM || o != NULL;
            rt_tensor_release(o);
            rt_tensor_release(wt);
            rt_tensor_release(w);
        }
        CHECK(done && !bad, "allocation failures in case %d: done %d, bad %d", which, done, bad);
    }
    rt_tensor_release(a);
    rt_tensor_release(at);
    rt_tensor_release(b);
    rt_tensor_release(c);
}

static void test_interrupt(void)
{
    rt_tensor *a = h_rand(RT_F32, 1, SHAPE(200000), -1, 1), *o = NULL;
    rt_interrupt_request();
    CHECK_FAILS(rt_binary(RT_ADD, a, a, &o), RT_EINTERRUPT, "interrupted");
    CHECK_FAILS(rt_unary(RT_EXP, a, &o), RT_EINTERRUPT, "interrupted");
    CHECK(o == NULL, "no output after an interrupt");
    rt_interrupt_clear();
    rt_tensor_release(a);
}

/* ---- determinism: 1 vs 2 threads, bitwise ------------------------------------------------- */
static rt_tensor *det_run(int which, const rt_tensor *a, const rt_tensor *at,
                          const rt_tensor *r)
{
    rt_tensor *o = NULL;
    switch (which) {
    case 0: rt_binary(RT_ADD, a, r, &o); break;
    case 1: rt_binary(RT_POW, at, r, &o); break;
    case 2: rt_unary(RT_GELU, at, &o); break;
    case 3: rt_where(r, a, at, &o); break;
    case 4: rt_axpby(0.9, a, 0.1, at, &o); break;
    }
    return o;
}

static void test_determinism(void)
{
    int threads = rt_get_num_threads();
    rt_tensor *a = h_rand(RT_F32, 2, SHAPE(1000, 1000), 0.1, 2), *at = NULL;
    rt_tensor *r = h_rand(RT_F32, 1, SHAPE(1000), -1, 1);
    rt_view_transpose(a, 0, 1, &at);
    for (int which = 0; which < 5; which++) {
        rt_set_num_threads(1);
        rt_tensor *o1 = det_run(which, a, at, r);
        rt_set_num_threads(2);
        rt_tensor *o2 = det_run(which, a, at, r);
        CHECK(o1 && o2 && memcmp(rt_tensor_data(o1), rt_tensor_data(o2),
                                 o1->storage->nbytes) == 0,
              "case %d: 1 and 2 threads give identical bits", which);
        rt_tensor_release(o1);
        rt_tensor_release(o2);
    }
    rt_set_num_threads(threads);
    rt_tensor_release(a);
    rt_tensor_release(at);
    rt_tensor_release(r);
}

int main(void)
{
    test_binary_all();
    test_binary_promotion();
    test_broadcast_shapes();
    test_scalar();
    test_inplace();
    test_aliasing();
    test_binary_out();
    test_binary_special();
    test_unary_all();
    test_unary_special();
    test_leaky_clamp();
    test_where();
    test_axpby();
    test_relu_backward();
    test_errors();
    test_alloc_failures();
    test_interrupt();
    test_determinism();
    REPORT();
}
