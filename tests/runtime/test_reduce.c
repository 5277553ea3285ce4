/* test_reduce.c — reductions, softmax/cumsum and sort/topk against naive float64 loops written
** here, along every dim of 3-D tensors in several layouts (contiguous, transposed, stepped,
** offset, expanded), plus known values, empty and size-1 dims, nan, accuracy of long sums,
** sum_to, errors, allocation failures and determinism across thread counts. */
#include <stdint.h>
#include "harness.h"

#define MAXN 16384

/* ---- reference helpers -------------------------------------------------------------------- */
static void unravel(int nd, const int64_t *shape, int64_t f, int64_t *idx)
{
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = f % shape[d];
        f /= shape[d];
    }
}

/* Elements of x along dim for the o-th index of the other dims (row-major). */
static int64_t gather(const rt_tensor *x, int dim, int64_t o, double *vals, int64_t *ivals)
{
    int64_t idx[RT_MAXDIM];
    for (int d = x->ndim - 1; d >= 0; d--) {
        if (d == dim) continue;
        idx[d] = o % x->shape[d];
        o /= x->shape[d];
    }
    for (int64_t k = 0; k < x->shape[dim]; k++) {
        idx[dim] = k;
        vals[k] = rt_tensor_get(x, idx);
        if (ivals) ivals[k] = rt_tensor_get_i64(x, idx);
    }
    return x->shape[dim];
}

static int64_t gather_all(const rt_tensor *x, double *vals)
{
    int64_t n = rt_tensor_numel(x);
    for (int64_t i = 0; i < n; i++) vals[i] = h_at(x, i);
    return n;
}

typedef enum {
    T_SUM, T_MEAN, T_PROD, T_AMAX, T_AMIN, T_VAR0, T_VAR1, T_STD0, T_STD1, T_NORM1, T_NORM2,
    T_NORM3, T_NORMINF, T_LSE, T_ARGMAX, T_ARGMIN, T_MAXV, T_MAXI, T_MINV, T_MINI, T_NOPS
} top;
static const char *const tname[] = {
    "sum", "mean", "prod", "amax", "amin", "var0", "var1", "std0", "std1", "norm1", "norm2",
    "norm3", "norminf", "logsumexp", "argmax", "argmin", "max.values", "max.indices",
    "min.values", "min.indices"
};

static int float_only(top t) { return t == T_MEAN || (t >= T_VAR0 && t <= T_LSE); }
static int is_index(top t) { return t == T_ARGMAX || t == T_ARGMIN || t == T_MAXI || t == T_MINI; }
static int dim_only(top t) { return t >= T_MAXV; }

/* First position of the max (want_max) or min; nan beats everything, first nan wins. */
static int64_t ref_arg(const double *v, int64_t n, int want_max)
{
    int64_t b = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(v[b])) break;
        if (isnan(v[i]) || (want_max ? v[i] > v[b] : v[i] < v[b])) b = i;
    }
    return b;
}

static double ref_var(const double *v, int64_t n, int ddof)
{
    double m = 0, s = 0;
    for (int64_t i = 0; i < n; i++) m += v[i];
    m /= (double)n;
    for (int64_t i = 0; i < n; i++) s += (v[i] - m) * (v[i] - m);
    return n - ddof > 0 ? s / (double)(n - ddof) : NAN;
}

static double ref_op(top t, const double *v, int64_t n)
{
    double s = 0, m = -INFINITY;
    switch (t) {
    case T_SUM: for (int64_t i = 0; i < n; i++) s += v[i]; return s;
    case T_MEAN: for (int64_t i = 0; i < n; i++) s += v[i]; return s / (double)n;
    case T_PROD: s = 1; for (int64_t i = 0; i < n; i++) s *= v[i]; return s;
    case T_AMAX: case T_MAXV: return v[ref_arg(v, n, 1)];
    case T_AMIN: case T_MINV: return v[ref_arg(v, n, 0)];
    case T_ARGMAX: case T_MAXI: return (double)ref_arg(v, n, 1);
    case T_ARGMIN: case T_MINI: return (double)ref_arg(v, n, 0);
    case T_VAR0: return ref_var(v, n, 0);
    case T_VAR1: return ref_var(v, n, 1);
    case T_STD0: return sqrt(ref_var(v, n, 0));
    case T_STD1: return sqrt(ref_var(v, n, 1));
    case T_NORM1: for (int64_t i = 0; i < n; i++) s += fabs(v[i]); return s;
    case T_NORM2: for (int64_t i = 0; i < n; i++) s += v[i] * v[i]; return sqrt(s);
    case T_NORM3: for (int64_t i = 0; i < n; i++) s += pow(fabs(v[i]), 3); return pow(s, 1.0 / 3);
    case T_NORMINF: for (int64_t i = 0; i < n; i++) s = fmax(s, fabs(v[i])); return s;
    case T_LSE:
        for (int64_t i = 0; i < n; i++) m = fmax(m, v[i]);
        for (int64_t i = 0; i < n; i++) s += exp(v[i] - m);
        return m + log(s);
    case T_NOPS: break;
    }
    return NAN;
}

static rt_status run_op(top t, const rt_tensor *x, int dim, int all, int keep, rt_tensor **out)
{
    rt_tensor *other = NULL;
    rt_status st;
    switch (t) {
    case T_SUM: return rt_reduce(RT_SUM, x, dim, all, keep, out);
    case T_MEAN: return rt_reduce(RT_MEAN, x, dim, all, keep, out);
    case T_PROD: return rt_reduce(RT_PROD, x, dim, all, keep, out);
    case T_AMAX: return rt_reduce(RT_AMAX, x, dim, all, keep, out);
    case T_AMIN: return rt_reduce(RT_AMIN, x, dim, all, keep, out);
    case T_VAR0: return rt_var(x, dim, all, 0, keep, out);
    case T_VAR1: return rt_var(x, dim, all, 1, keep, out);
    case T_STD0: return rt_std(x, dim, all, 0, keep, out);
    case T_STD1: return rt_std(x, dim, all, 1, keep, out);
    case T_NORM1: return rt_norm(x, 1, dim, all, keep, out);
    case T_NORM2: return rt_norm(x, 2, dim, all, keep, out);
    case T_NORM3: return rt_norm(x, 3, dim, all, keep, out);
    case T_NORMINF: return rt_norm(x, INFINITY, dim, all, keep, out);
    case T_LSE: return rt_logsumexp(x, dim, all, keep, out);
    case T_ARGMAX: return rt_argmax(x, dim, all, keep, out);
    case T_ARGMIN: return rt_argmin(x, dim, all, keep, out);
    case T_MAXV: st = rt_max_dim(x, dim, keep, out, &other); break;
    case T_MAXI: st = rt_max_dim(x, dim, keep, &other, out); break;
    case T_MINV: st = rt_min_dim(x, dim, keep, out, &other); break;
    case T_MINI: st = rt_min_dim(x, dim, keep, &other, out); break;
    default: return RT_EINTERNAL;
    }
    rt_tensor_release(other);
    return st;
}

/* The shape a reduction of x over dim (all: every dim) must have. */
static int reduced_shape(const rt_tensor *x, int dim, int all, int keep, int64_t *shape)
{
    int n = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (all || d == dim) {
            if (keep) shape[n++] = 1;
        } else {
            shape[n++] = x->shape[d];
        }
    }
    return n;
}

/* Every op, every dim (and all dims), keepdim on and off, against ref_op. */
static void check_ops(const char *label, const rt_tensor *x)
{
    static double vals[MAXN], ref[MAXN];
    int f32 = x->dtype == RT_F32;
    for (int t = 0; t < T_NOPS; t++) {
        if (x->dtype == RT_I64 && float_only((top)t)) continue;
        for (int dim = -1; dim < x->ndim; dim++) {
            for (int keep = 0; keep < 2; keep++) {
                int all = dim < 0;
                if (all && dim_only((top)t)) continue;
                rt_tensor *out = NULL;
                rt_status st = run_op((top)t, x, all ? 0 : dim, all, keep, &out);
                CHECK(st == RT_OK, "%s %s dim %d: %s", label, tname[t], dim, rt_last_error());
                if (st != RT_OK) continue;
                int64_t shape[RT_MAXDIM];
                int nd = reduced_shape(x, dim, all, keep, shape);
                CHECK(h_shape_is(out, nd, shape), "%s %s dim %d keep %d: bad shape", label,
                      tname[t], dim, keep);
                int64_t nout = rt_tensor_numel(out);
                for (int64_t o = 0; o < nout; o++) {
                    int64_t n = all ? gather_all(x, vals) : gather(x, dim, o, vals, NULL);
                    ref[o] = ref_op((top)t, vals, n);
                    if (x->dtype == RT_I64 && (t == T_SUM || t == T_PROD)) {
                        uint64_t a = t == T_PROD;   /* wraps modulo 2^64 like the runtime */
                        for (int64_t i = 0; i < n; i++)
                            a = t == T_SUM ? a + (uint64_t)(int64_t)vals[i]
                                           : a * (uint64_t)(int64_t)vals[i];
                        ref[o] = (double)(int64_t)a;
                    }
                }
                rt_dtype want = is_index((top)t) ? RT_I64 : x->dtype;
                double atol = is_index((top)t) || x->dtype == RT_I64 ? 0.5 : f32 ? 1e-6 : 1e-12;
                double rtol = is_index((top)t) || x->dtype == RT_I64 ? 0 : f32 ? 2e-6 : 1e-12;
                double w = h_worst(out, ref, atol, rtol);
                CHECK(out->dtype == want && w <= 1, "%s %s dim %d keep %d: worst %g (dtype %s)",
                      label, tname[t], dim, keep, w, rt_dtype_name(out->dtype));
                rt_tensor_release(out);
            }
        }
    }
}

/* 3-D tensors of shape (a,b,c) in five layouts.  With (5,7,9) every dim is short, so rows
** are combined; with (17,3,18) the long dims also take the per-lane paths. */
static rt_tensor *make_layout(int which, const int64_t *sh, rt_dtype dt, double lo, double hi)
{
    int64_t a = sh[0], b_ = sh[1], c = sh[2];
    rt_tensor *b = NULL, *v = NULL;
    switch (which) {
    case 0: return h_rand(dt, 3, sh, lo, hi);
    case 1:   /* transposed: strides (1, c, b*c) */
        b = h_rand(dt, 3, SHAPE(c, b_, a), lo, hi);
        rt_view_transpose(b, 0, 2, &v);
        break;
    case 2:   /* step 2 along the last dim */
        b = h_rand(dt, 3, SHAPE(a, b_, 2 * c), lo, hi);
        rt_view_slice(b, 2, 0, 2 * c, 2, &v);
        break;
    case 3:   /* step 2 along the first dim, offset 1 */
        b = h_rand(dt, 3, SHAPE(2 * a + 1, b_, c), lo, hi);
        rt_view_slice(b, 0, 1, 2 * a + 1, 2, &v);
        break;
    default:  /* expanded: stride 0 along dim 1 */
        b = h_rand(dt, 3, SHAPE(a, 1, c), lo, hi);
        rt_view_expand(b, 3, sh, &v);
        break;
    }
    rt_tensor_release(b);
    return v;
}

static const int64_t layout_shapes[2][3] = { {5, 7, 9}, {17, 3, 18} };

/* Rounds every stored element down (the whole storage, whatever the view). */
static void floor_storage(rt_tensor *t)
{
    size_t n = t->storage->nbytes / rt_dtype_size(t->dtype);
    float *f = t->storage->data;
    double *d = t->storage->data;
    for (size_t i = 0; i < n; i++) {
        if (t->dtype == RT_F32) f[i] = floorf(f[i]);
        if (t->dtype == RT_F64) d[i] = floor(d[i]);
    }
}

static const char *const layout_name[] = { "contiguous", "transposed", "step-last",
                                           "step-first-offset", "expanded" };

static void test_ops_all_layouts(void)
{
    const rt_dtype dts[] = { RT_F32, RT_F64, RT_I64 };
    char label[96];
    for (int si = 0; si < 2; si++) {
        for (int di = 0; di < 3; di++) {
            for (int l = 0; l < 5; l++) {
                /* i64 in a small range: many ties (first-occurrence rules), exact products. */
                double lo = dts[di] == RT_I64 ? -3 : -1, hi = dts[di] == RT_I64 ? 4 : 1.5;
                rt_tensor *x = make_layout(l, layout_shapes[si], dts[di], lo, hi);
                snprintf(label, sizeof label, "%s %s %lld", rt_dtype_name(dts[di]),
                         layout_name[l], (long long)layout_shapes[si][0]);
                check_ops(label, x);
                rt_tensor_release(x);
            }
        }
    }
    /* Rows wider than one tile, lanes longer than one block, ties in floats. */
    rt_tensor *a = h_rand(RT_F32, 3, SHAPE(3, 4, 300), -1, 1);
    rt_tensor *b = h_rand(RT_F64, 2, SHAPE(3, 2500), -1, 1);
    rt_tensor *c = h_rand(RT_F64, 3, SHAPE(4, 6, 5), -2, 2);
    floor_storage(c);
    check_ops("f32 (3,4,300)", a);
    check_ops("f64 (3,2500)", b);
    check_ops("f64 ties", c);
    rt_tensor_release(a);
    rt_tensor_release(b);
    rt_tensor_release(c);
}

/* ---- known values (Python 3.11.7 math module where not exact by hand) -------------------- */
static double item(const rt_tensor *t)
{
    double v = NAN;
    rt_tensor_item(t, &v);
    return v;
}

static rt_tensor *vec(rt_dtype dt, int64_t n, const double *v)
{
    rt_tensor *t = NULL;
    rt_empty(dt, 1, (int64_t[]){n}, &t);
    for (int64_t i = 0; i < n; i++) rt_tensor_set(t, (int64_t[]){i}, v[i]);
    return t;
}

static void test_known_values(void)
{
    rt_tensor *x = vec(RT_F64, 4, (double[]){1, 2, 3, 4}), *o = NULL;
    CHECK_OK(rt_var(x, 0, 0, 0, 0, &o));
    CHECK(item(o) == 1.25, "var biased %g", item(o));
    rt_tensor_release(o);
    CHECK_OK(rt_var(x, 0, 1, 1, 0, &o));
    CHECK(fabs(item(o) - 5.0 / 3) < 1e-15, "var unbiased %.17g", item(o));
    rt_tensor_release(o);
    CHECK_OK(rt_std(x, -1, 0, 1, 0, &o));   /* math.sqrt(5/3) */
    CHECK(fabs(item(o) - 1.2909944487358056) < 1e-15, "std unbiased %.17g", item(o));
    rt_tensor_release(o);
    CHECK_OK(rt_reduce(RT_PROD, x, 0, 1, 0, &o));
    CHECK(item(o) == 24, "prod %g", item(o));
    rt_tensor_release(o);
    CHECK_OK(rt_cumsum(x, 0, &o));
    CHECK(h_worst(o, (double[]){1, 3, 6, 10}, 0, 0) == 0, "cumsum [1,3,6,10]");
    rt_tensor_release(o);
    rt_tensor_release(x);

    x = vec(RT_F64, 2, (double[]){3, -4});
    /* p = 3: 91 ** (1/3) */
    double norms[4][2] = { {1, 7}, {2, 5}, {3, 4.497941445275415}, {INFINITY, 4} };
    for (int i = 0; i < 4; i++) {
        CHECK_OK(rt_norm(x, norms[i][0], 0, 1, 0, &o));
        CHECK(fabs(item(o) - norms[i][1]) < 1e-14, "norm p=%g: %.17g", norms[i][0], item(o));
        rt_tensor_release(o);
    }
    rt_tensor_release(x);
}

/* Max-subtracted forms: no overflow at 1000, no -inf at -1000. */
static void test_known_stable(void)
{
    rt_tensor *x, *o;
    for (int f = 0; f < 2; f++) {
        rt_dtype dt = f ? RT_F32 : RT_F64;
        double tol = f ? 1e-4 : 1e-12;
        x = vec(dt, 2, (double[]){1000, 1000});
        CHECK_OK(rt_logsumexp(x, 0, 0, 0, &o));   /* 1000 + math.log(2) */
        CHECK(fabs(item(o) - 1000.6931471805599) < tol, "lse [1000,1000] %.17g", item(o));
        rt_tensor_release(o);
        CHECK_OK(rt_softmax(x, 0, &o));
        CHECK(h_worst(o, (double[]){0.5, 0.5}, 0, 0) == 0, "softmax [1000,1000]");
        rt_tensor_release(o);
        rt_tensor_release(x);
        x = vec(dt, 2, (double[]){-1000, 0});
        CHECK_OK(rt_log_softmax(x, 0, &o));
        CHECK(h_worst(o, (double[]){-1000, 0}, 0, 0) == 0, "log_softmax [-1000,0] %g %g",
              h_at(o, 0), h_at(o, 1));
        rt_tensor_release(o);
        rt_tensor_release(x);
        x = vec(dt, 3, (double[]){1, 2, 3});
        /* math.log(math.exp(1) + math.exp(2) + math.exp(3)) */
        CHECK_OK(rt_logsumexp(x, 0, 1, 0, &o));
        CHECK(fabs(item(o) - 3.40760596444438) < (f ? 1e-6 : 1e-14), "lse [1,2,3]");
        rt_tensor_release(o);
        CHECK_OK(rt_softmax(x, -1, &o));
        /* [math.exp(v) / (math.exp(1) + math.exp(2) + math.exp(3)) for v in (1, 2, 3)] */
        double sm[3] = { 0.09003057317038046, 0.24472847105479767, 0.6652409557748219 };
        CHECK(h_worst(o, sm, 0, f ? 1e-7 : 1e-15) <= 1, "softmax [1,2,3]");
        rt_tensor_release(o);
        rt_tensor_release(x);
    }
}

static void test_known_i64(void)
{
    rt_tensor *x, *o, *o2;
    /* i64 stays exact beyond 2^53 and wraps like PyTorch. */
    int64_t big[3] = { INT64_C(4611686018427387904), 3, INT64_C(4611686018427387904) };
    CHECK_OK(rt_from_buffer(RT_I64, 1, SHAPE(3), big, &x));
    CHECK_OK(rt_reduce(RT_SUM, x, 0, 0, 0, &o));
    CHECK(o->dtype == RT_I64 && ((int64_t *)o->storage->data)[0] == INT64_MIN + 3,
          "i64 sum wraps");
    rt_tensor_release(o);
    CHECK_OK(rt_max_dim(x, 0, 0, &o, &o2));
    CHECK(((int64_t *)o->storage->data)[0] == big[0] && ((int64_t *)o2->storage->data)[0] == 0,
          "i64 max exact, first occurrence");
    rt_tensor_release(o);
    rt_tensor_release(o2);
    rt_tensor_release(x);
}

/* ---- softmax, log_softmax, cumsum along every dim ----------------------------------------- */
static void check_along(const char *label, const rt_tensor *x)
{
    static double vals[MAXN], ref[MAXN];
    int64_t n = rt_tensor_numel(x), idx[RT_MAXDIM];
    int f32 = x->dtype == RT_F32;
    for (int op = 0; op < 3; op++) {
        if (op < 2 && x->dtype == RT_I64) continue;
        for (int dim = 0; dim < x->ndim; dim++) {
            rt_tensor *o = NULL;
            rt_status st = op == 0 ? rt_softmax(x, dim, &o) : op == 1 ? rt_log_softmax(x, dim, &o)
                                                                      : rt_cumsum(x, dim, &o);
            CHECK(st == RT_OK && rt_same_shape(o, x) && o->dtype == x->dtype,
                  "%s op %d dim %d: %s", label, op, dim, rt_last_error());
            if (st != RT_OK) continue;
            int64_t len = x->shape[dim], nl = len ? n / len : 0;
            for (int64_t l = 0; l < nl; l++) {   /* lane l: its slice, then its positions */
                gather(x, dim, l, vals, NULL);
                double m = -INFINITY, s = 0, c = 0;
                for (int64_t j = 0; j < len; j++) m = fmax(m, vals[j]);
                for (int64_t j = 0; j < len; j++) s += exp(vals[j] - m);
                int64_t r = l;
                for (int d = x->ndim - 1; d >= 0; d--) {
                    if (d == dim) continue;
                    idx[d] = r % x->shape[d];
                    r /= x->shape[d];
                }
                for (int64_t j = 0; j < len; j++) {
                    idx[dim] = j;
                    int64_t f = 0;
                    for (int d = 0; d < x->ndim; d++) f = f * x->shape[d] + idx[d];
                    c += vals[j];
                    ref[f] = op == 0 ? exp(vals[j] - m) / s : op == 1 ? vals[j] - m - log(s) : c;
                }
            }
            double w = h_worst(o, ref, x->dtype == RT_I64 ? 0.5 : f32 ? 1e-6 : 1e-13,
                               x->dtype == RT_I64 ? 0 : f32 ? 2e-6 : 1e-13);
            CHECK(w <= 1, "%s %s dim %d: worst %g", label,
                  op == 0 ? "softmax" : op == 1 ? "log_softmax" : "cumsum", dim, w);
            rt_tensor_release(o);
        }
    }
}

static void test_along(void)
{
    const rt_dtype dts[] = { RT_F32, RT_F64, RT_I64 };
    char label[96];
    for (int si = 0; si < 2; si++) {
        for (int di = 0; di < 3; di++) {
            for (int l = 0; l < 5; l++) {
                rt_tensor *x = make_layout(l, layout_shapes[si], dts[di], -3, 3);
                snprintf(label, sizeof label, "%s %s %lld", rt_dtype_name(dts[di]),
                         layout_name[l], (long long)layout_shapes[si][0]);
                check_along(label, x);
                rt_tensor_release(x);
            }
        }
    }
    rt_tensor *a = h_rand(RT_F32, 3, SHAPE(2, 3, 260), -5, 5);
    rt_tensor *b = h_rand(RT_F64, 2, SHAPE(2, 2100), -5, 5);
    check_along("f32 (2,3,260)", a);
    check_along("f64 (2,2100)", b);
    rt_tensor_release(a);
    rt_tensor_release(b);
}

/* ---- sort and topk against the C library's qsort ------------------------------------------ */
/* qsort is not stable, so ties are broken by position: the order a stable sort must give.
** nan is the largest value. */
typedef struct { double v; int64_t i; } ref_pair;
static int ref_desc;

static int ref_cmp(const void *pa, const void *pb)
{
    const ref_pair *a = pa, *b = pb;
    int c = isnan(a->v) ? (isnan(b->v) ? 0 : 1) : isnan(b->v) ? -1 : (a->v > b->v) - (a->v < b->v);
    if (ref_desc) c = -c;
    return c ? c : (a->i > b->i) - (a->i < b->i);
}

static void ref_sort(double *v, int64_t *ix, int64_t n, int desc)
{
    static ref_pair p[MAXN];
    for (int64_t i = 0; i < n; i++) p[i] = (ref_pair){ v[i], i };
    ref_desc = desc;
    qsort(p, (size_t)n, sizeof *p, ref_cmp);
    for (int64_t i = 0; i < n; i++) v[i] = p[i].v, ix[i] = p[i].i;
}

static void check_sort(const char *label, const rt_tensor *x, int64_t k_or_neg)
{
    static double vals[MAXN];
    static int64_t ix[MAXN], iv[MAXN];
    for (int dim = 0; dim < x->ndim; dim++) {
        for (int desc = 0; desc < 2; desc++) {
            rt_tensor *v = NULL, *p = NULL;
            int64_t k = k_or_neg < 0 || k_or_neg > x->shape[dim] ? x->shape[dim] : k_or_neg;
            rt_status st = k_or_neg < 0 ? rt_sort(x, dim, desc, &v, &p)
                                        : rt_topk(x, k, dim, desc, &v, &p);
            CHECK(st == RT_OK, "%s dim %d: %s", label, dim, rt_last_error());
            if (st != RT_OK) continue;
            int64_t shape[RT_MAXDIM];
            memcpy(shape, x->shape, sizeof shape);
            shape[dim] = k;
            CHECK(h_shape_is(v, x->ndim, shape) && h_shape_is(p, x->ndim, shape) &&
                  v->dtype == x->dtype && p->dtype == RT_I64, "%s dim %d: shapes", label, dim);
            int64_t nout = rt_tensor_numel(x) / x->shape[dim], bad = 0, idx[RT_MAXDIM];
            for (int64_t o = 0; o < nout; o++) {
                int64_t n = gather(x, dim, o, vals, iv);
                if (x->dtype == RT_I64)   /* compare exactly through positions */
                    for (int64_t j = 0; j < n; j++) vals[j] = (double)iv[j];
                ref_sort(vals, ix, n, desc);
                /* the same lane of the outputs */
                int64_t r = o;
                for (int d = x->ndim - 1; d >= 0; d--) {
                    if (d == dim) continue;
                    idx[d] = r % x->shape[d];
                    r /= x->shape[d];
                }
                for (int64_t j = 0; j < k; j++) {
                    idx[dim] = j;
                    double got = rt_tensor_get(v, idx);
                    int same = isnan(vals[j]) ? isnan(got) : got == vals[j];
                    if (!same || rt_tensor_get_i64(p, idx) != ix[j]) bad++;
                }
            }
            CHECK(bad == 0, "%s %s dim %d desc %d: %lld mismatches", label,
                  k_or_neg < 0 ? "sort" : "topk", dim, desc, (long long)bad);
            rt_tensor_release(v);
            rt_tensor_release(p);
        }
    }
}

static void test_sort(void)
{
    const rt_dtype dts[] = { RT_F32, RT_F64, RT_I64 };
    char label[96];
    for (int si = 0; si < 2; si++) {
        for (int di = 0; di < 3; di++) {
            for (int l = 0; l < 5; l++) {
                rt_tensor *x = make_layout(l, layout_shapes[si], dts[di], 0, 4);
                floor_storage(x);   /* integers: many ties */
                snprintf(label, sizeof label, "%s %s %lld", rt_dtype_name(dts[di]),
                         layout_name[l], (long long)layout_shapes[si][0]);
                check_sort(label, x, -1);
                check_sort(label, x, 3);
                check_sort(label, x, 0);
                rt_tensor_release(x);
            }
        }
    }
    rt_tensor *a = h_rand(RT_F64, 2, SHAPE(3, 1000), -1, 1);   /* merges past the first run */
    check_sort("f64 (3,1000)", a, -1);
    check_sort("f64 (3,1000)", a, 17);
    rt_tensor_release(a);
    a = h_rand(RT_F32, 2, SHAPE(9100, 60), -1, 1);   /* more chunks than one scratch group */
    check_sort("f32 (9100,60)", a, -1);
    rt_tensor_release(a);

    /* Stability with ties, both directions (worked out by hand). */
    rt_tensor *x = vec(RT_F64, 7, (double[]){3, 1, 2, 1, 3, 2, 1}), *v, *p;
    CHECK_OK(rt_sort(x, 0, 0, &v, &p));
    CHECK(h_worst(v, (double[]){1, 1, 1, 2, 2, 3, 3}, 0, 0) == 0 &&
          h_worst(p, (double[]){1, 3, 6, 2, 5, 0, 4}, 0, 0) == 0, "stable ascending");
    rt_tensor_release(v);
    rt_tensor_release(p);
    CHECK_OK(rt_sort(x, 0, 1, &v, &p));
    CHECK(h_worst(v, (double[]){3, 3, 2, 2, 1, 1, 1}, 0, 0) == 0 &&
          h_worst(p, (double[]){0, 4, 2, 5, 1, 3, 6}, 0, 0) == 0, "stable descending");
    rt_tensor_release(v);
    rt_tensor_release(p);
    CHECK_OK(rt_topk(x, 3, 0, 1, &v, &p));
    CHECK(h_worst(v, (double[]){3, 3, 2}, 0, 0) == 0 &&
          h_worst(p, (double[]){0, 4, 2}, 0, 0) == 0, "topk largest");
    rt_tensor_release(v);
    rt_tensor_release(p);
    CHECK_OK(rt_topk(x, 2, 0, 0, &v, &p));
    CHECK(h_worst(p, (double[]){1, 3}, 0, 0) == 0, "topk smallest");
    rt_tensor_release(v);
    rt_tensor_release(p);
    rt_tensor_release(x);

    /* -0.0 equals 0.0 (original order kept, sign preserved in the values). */
    x = vec(RT_F32, 3, (double[]){0.0, -0.0, -1});
    CHECK_OK(rt_sort(x, 0, 0, &v, &p));
    CHECK(h_worst(p, (double[]){2, 0, 1}, 0, 0) == 0 && signbit(h_at(v, 2)) && !signbit(h_at(v, 1)),
          "sort -0.0 == 0.0");
    rt_tensor_release(v);
    rt_tensor_release(p);
    rt_tensor_release(x);
}

/* ---- nan and inf -------------------------------------------------------------------------- */
static void test_nan(void)
{
    for (int f = 0; f < 2; f++) {
        rt_dtype dt = f ? RT_F32 : RT_F64;
        rt_tensor *x = vec(dt, 5, (double[]){1, NAN, 7, NAN, 0}), *o, *o2;
        const rt_redop ops[] = { RT_SUM, RT_MEAN, RT_PROD, RT_AMAX, RT_AMIN };
        for (int i = 0; i < 5; i++) {
            CHECK_OK(rt_reduce(ops[i], x, 0, i % 2, 0, &o));
            CHECK(isnan(item(o)), "reduce %d with nan", i);
            rt_tensor_release(o);
        }
        CHECK_OK(rt_argmax(x, 0, 1, 0, &o));
        CHECK(item(o) == 1, "argmax picks the first nan");
        rt_tensor_release(o);
        CHECK_OK(rt_min_dim(x, 0, 0, &o, &o2));
        CHECK(isnan(item(o)) && item(o2) == 1, "min_dim nan");
        rt_tensor_release(o);
        rt_tensor_release(o2);
        CHECK_OK(rt_sort(x, 0, 0, &o, &o2));
        CHECK(h_worst(o2, (double[]){4, 0, 2, 1, 3}, 0, 0) == 0, "nan sorts last");
        rt_tensor_release(o);
        rt_tensor_release(o2);
        CHECK_OK(rt_sort(x, 0, 1, &o, &o2));
        CHECK(h_worst(o2, (double[]){1, 3, 2, 0, 4}, 0, 0) == 0, "nan sorts first descending");
        rt_tensor_release(o);
        rt_tensor_release(o2);
        rt_tensor_release(x);

        /* nan in one column of the row path, and inf in logsumexp */
        CHECK_OK(rt_zeros(dt, 2, SHAPE(3, 4), &x));
        rt_tensor_set(x, (int64_t[]){1, 2}, NAN);
        rt_tensor_set(x, (int64_t[]){2, 2}, 5);
        CHECK_OK(rt_max_dim(x, 0, 0, &o, &o2));
        CHECK(isnan(h_at(o, 2)) && h_at(o2, 2) == 1 && h_at(o, 1) == 0 && h_at(o2, 1) == 0,
              "max_dim row path nan");
        rt_tensor_release(o);
        rt_tensor_release(o2);
        rt_tensor_release(x);
        double lse[3][3] = { {-INFINITY, -INFINITY, -INFINITY}, {INFINITY, 1, INFINITY},
                             {NAN, 1, NAN} };
        for (int i = 0; i < 3; i++) {
            x = vec(dt, 2, lse[i]);
            CHECK_OK(rt_logsumexp(x, 0, 0, 0, &o));
            double g = item(o);
            CHECK(isnan(lse[i][2]) ? isnan(g) : g == lse[i][2], "logsumexp case %d: %g", i, g);
            rt_tensor_release(o);
            rt_tensor_release(x);
        }
    }
}

/* nan in a later chunk of the flat path: the first nan wins over a later larger value. */
static void test_nan_flat(void)
{
    rt_tensor *x, *o;
    CHECK_OK(rt_zeros(RT_F32, 1, SHAPE(200000), &x));
    ((float *)x->storage->data)[70000] = NAN;
    ((float *)x->storage->data)[40000] = NAN;
    ((float *)x->storage->data)[100] = 9;
    CHECK_OK(rt_argmax(x, 0, 1, 0, &o));
    CHECK(item(o) == 40000, "flat argmax nan across chunks: %g", item(o));
    rt_tensor_release(o);
    ((float *)x->storage->data)[70000] = 0;
    ((float *)x->storage->data)[40000] = 0;
    ((float *)x->storage->data)[150000] = 9;
    CHECK_OK(rt_argmax(x, 0, 1, 0, &o));
    CHECK(item(o) == 100, "flat argmax tie across chunks: %g", item(o));
    rt_tensor_release(o);
    rt_tensor_release(x);
}

/* ---- empty, size-1 and 0-d ------------------------------------------------------------------ */
static void test_empty(void)
{
    rt_tensor *x, *o, *o2;
    CHECK_OK(rt_zeros(RT_F32, 3, SHAPE(3, 0, 4), &x));
    CHECK_OK(rt_reduce(RT_SUM, x, 1, 0, 0, &o));
    CHECK(h_shape_is(o, 2, SHAPE(3, 4)) && h_at(o, 5) == 0, "sum over empty dim");
    rt_tensor_release(o);
    CHECK_OK(rt_reduce(RT_PROD, x, 1, 0, 1, &o));
    CHECK(h_shape_is(o, 3, SHAPE(3, 1, 4)) && h_at(o, 11) == 1, "prod over empty dim");
    rt_tensor_release(o);
    CHECK_OK(rt_reduce(RT_MEAN, x, 0, 1, 0, &o));
    CHECK(o->ndim == 0 && isnan(item(o)), "mean of empty");
    rt_tensor_release(o);
    CHECK_OK(rt_var(x, 1, 0, 0, 0, &o));
    CHECK(isnan(h_at(o, 0)), "var of empty");
    rt_tensor_release(o);
    CHECK_OK(rt_logsumexp(x, 1, 0, 0, &o));
    CHECK(h_at(o, 3) == -INFINITY, "logsumexp of empty");
    rt_tensor_release(o);
    CHECK_OK(rt_norm(x, 2, 0, 1, 0, &o));
    CHECK(item(o) == 0, "norm of empty");
    rt_tensor_release(o);
    CHECK_OK(rt_reduce(RT_AMAX, x, 0, 0, 0, &o));   /* dim 0 has size 3: fine, empty result */
    CHECK(h_shape_is(o, 2, SHAPE(0, 4)), "amax with another empty dim");
    rt_tensor_release(o);
    o = NULL;
    CHECK_FAILS(rt_reduce(RT_AMAX, x, 1, 0, 0, &o), RT_ESHAPE,
                "amax: cannot reduce over dimension 1");
    CHECK_FAILS(rt_argmin(x, 0, 1, 0, &o), RT_ESHAPE, "argmin: cannot reduce an empty tensor");
    CHECK_FAILS(rt_max_dim(x, 1, 0, &o, &o2), RT_ESHAPE, "max: cannot reduce");
    CHECK_FAILS(rt_norm(x, INFINITY, 1, 0, 0, &o), RT_ESHAPE, "norm");
    CHECK(o == NULL, "outputs untouched on failure");
    CHECK_OK(rt_softmax(x, 1, &o));
    CHECK(h_shape_is(o, 3, SHAPE(3, 0, 4)), "softmax of empty");
    rt_tensor_release(o);
    CHECK_OK(rt_cumsum(x, 0, &o));
    rt_tensor_release(o);
    CHECK_OK(rt_sort(x, 1, 0, &o, &o2));
    CHECK(h_shape_is(o2, 3, SHAPE(3, 0, 4)), "sort of empty");
    rt_tensor_release(o);
    rt_tensor_release(o2);
    CHECK_OK(rt_topk(x, 0, 1, 1, &o, &o2));
    rt_tensor_release(o);
    rt_tensor_release(o2);
    rt_tensor_release(x);
}

static void test_size1_and_0d(void)
{
    rt_tensor *x, *o, *o2;
    /* size-1 dim: a reduction over it is the identity; unbiased var is nan */
    x = h_rand(RT_F64, 3, SHAPE(3, 1, 4), -1, 1);
    CHECK_OK(rt_reduce(RT_SUM, x, 1, 0, 0, &o));
    double ref[12];
    for (int i = 0; i < 12; i++) ref[i] = h_at(x, i);
    CHECK(h_worst(o, ref, 0, 0) == 0, "sum over size-1 dim");
    rt_tensor_release(o);
    CHECK_OK(rt_var(x, 1, 0, 1, 0, &o));
    CHECK(isnan(h_at(o, 0)), "unbiased var of one element is nan");
    rt_tensor_release(o);
    CHECK_OK(rt_var(x, 1, 0, 0, 0, &o));
    CHECK(h_at(o, 0) == 0, "biased var of one element is 0");
    rt_tensor_release(o);
    rt_tensor_release(x);

    /* 0-d */
    CHECK_OK(rt_scalar(RT_F64, 2.5, &x));
    CHECK_OK(rt_reduce(RT_SUM, x, 0, 0, 1, &o));
    CHECK(o->ndim == 0 && item(o) == 2.5, "sum of 0-d");
    rt_tensor_release(o);
    CHECK_OK(rt_max_dim(x, -1, 0, &o, &o2));
    CHECK(o->ndim == 0 && item(o) == 2.5 && item(o2) == 0, "max_dim of 0-d");
    rt_tensor_release(o);
    rt_tensor_release(o2);
    CHECK_OK(rt_softmax(x, 0, &o));
    CHECK(o->ndim == 0 && item(o) == 1, "softmax of 0-d");
    rt_tensor_release(o);
    CHECK_OK(rt_topk(x, 1, 0, 1, &o, &o2));
    CHECK(o->ndim == 0 && item(o) == 2.5 && item(o2) == 0, "topk of 0-d");
    rt_tensor_release(o);
    rt_tensor_release(o2);
    CHECK_OK(rt_topk(x, 0, 0, 1, &o, &o2));
    CHECK(rt_tensor_numel(o) == 0 && rt_tensor_numel(o2) == 0, "topk(0-d, k=0) is empty");
    rt_tensor_release(o);
    rt_tensor_release(o2);
    CHECK_FAILS(rt_reduce(RT_SUM, x, 1, 0, 0, &o), RT_EARG, "sum: dimension 1");
    rt_tensor_release(x);
}

/* ---- accuracy of long float sums ------------------------------------------------------------ */
static void test_accuracy(void)
{
    rt_tensor *x, *o, *v;
    CHECK_OK(rt_full(RT_F32, 1, SHAPE(10000000), 0.1, &x));
    double truth = 1e7 * (double)0.1f;
    CHECK_OK(rt_reduce(RT_SUM, x, 0, 1, 0, &o));
    CHECK(fabs(item(o) - truth) <= 1e-6 * truth, "f32 sum of 1e7 x 0.1: %.9g", item(o));
    rt_tensor_release(o);
    CHECK_OK(rt_reduce(RT_MEAN, x, 0, 0, 0, &o));
    CHECK(fabs(item(o) - 0.1f) <= 1e-6 * 0.1, "f32 mean of 1e7 x 0.1: %.9g", item(o));
    rt_tensor_release(o);
    /* the lane path (2 runs of 5e6) and the row path (2 columns of 5e6 rows) */
    CHECK_OK(rt_view_reshape(x, 2, SHAPE(2, 5000000), &v));
    CHECK_OK(rt_reduce(RT_SUM, v, 1, 0, 0, &o));
    CHECK(fabs(h_at(o, 1) - truth / 2) <= 1e-6 * truth / 2, "lane sum %.9g", h_at(o, 1));
    rt_tensor_release(o);
    rt_tensor_release(v);
    CHECK_OK(rt_view_reshape(x, 2, SHAPE(5000000, 2), &v));
    CHECK_OK(rt_reduce(RT_SUM, v, 0, 0, 0, &o));
    CHECK(fabs(h_at(o, 0) - truth / 2) <= 1e-6 * truth / 2, "row sum %.9g", h_at(o, 0));
    rt_tensor_release(o);
    rt_tensor_release(v);
    rt_tensor_release(x);

    /* random data against a compensated (Kahan) sum; var of data far from 0 */
    x = h_rand(RT_F32, 1, SHAPE(1 << 22), 1000, 1001);
    double s = 0, c = 0;
    for (int64_t i = 0; i < (1 << 22); i++) {
        double y = ((float *)x->storage->data)[i] - c, t = s + y;
        c = (t - s) - y;
        s = t;
    }
    CHECK_OK(rt_reduce(RT_SUM, x, 0, 1, 0, &o));
    CHECK(fabs(item(o) - s) <= 1e-6 * s, "f32 random sum %.9g vs %.9g", item(o), s);
    rt_tensor_release(o);
    double m = s / (1 << 22), ss = 0;
    for (int64_t i = 0; i < (1 << 22); i++) {
        double d = ((float *)x->storage->data)[i] - m;
        ss += d * d;
    }
    CHECK_OK(rt_var(x, 0, 1, 0, 0, &o));
    CHECK(fabs(item(o) - ss / (1 << 22)) <= 1e-5 * ss / (1 << 22), "f32 var %.9g", item(o));
    rt_tensor_release(o);
    rt_tensor_release(x);
}

/* ---- sum_to -------------------------------------------------------------------------------- */
static void check_sum_to(const rt_tensor *x, int nd, const int64_t *shape)
{
    static double ref[MAXN];
    int64_t idx[RT_MAXDIM], n = rt_tensor_numel(x), nt = 1;
    for (int i = 0; i < nd; i++) nt *= shape[i];
    for (int64_t i = 0; i < nt; i++) ref[i] = 0;
    int lead = x->ndim - nd;
    for (int64_t f = 0; f < n; f++) {
        unravel(x->ndim, x->shape, f, idx);
        int64_t t = 0;
        for (int i = 0; i < nd; i++) t = t * shape[i] + (shape[i] == 1 ? 0 : idx[lead + i]);
        ref[t] += h_at(x, f);
    }
    rt_tensor *o = NULL;
    char s[64];
    rt_shape_str(nd, shape, s, sizeof s);
    CHECK_OK(rt_sum_to(x, nd, shape, &o));
    if (!o) return;
    double tol = x->dtype == RT_F32 ? 1e-6 : 1e-13;
    CHECK(h_shape_is(o, nd, shape) && o->dtype == x->dtype && o->storage != x->storage &&
          h_worst(o, ref, tol, tol) <= 1, "sum_to %s: worst %g", s, h_worst(o, ref, tol, tol));
    rt_tensor_release(o);
}

static void test_sum_to(void)
{
    for (int di = 0; di < 3; di++) {
        rt_dtype dt = di == 0 ? RT_F32 : di == 1 ? RT_F64 : RT_I64;
        rt_tensor *x = h_rand(dt, 3, SHAPE(2, 3, 4), -5, 5), *t = NULL, *e = NULL;
        check_sum_to(x, 2, SHAPE(3, 1));
        check_sum_to(x, 0, NULL);
        check_sum_to(x, 3, SHAPE(2, 1, 4));
        check_sum_to(x, 1, SHAPE(4));
        check_sum_to(x, 3, SHAPE(1, 3, 1));
        check_sum_to(x, 3, SHAPE(2, 3, 4));   /* nothing to sum: a copy */
        CHECK_OK(rt_view_transpose(x, 0, 2, &t));
        check_sum_to(t, 2, SHAPE(3, 1));
        check_sum_to(t, 3, SHAPE(4, 1, 2));
        rt_tensor *b = h_rand(dt, 3, SHAPE(1, 3, 1), -5, 5);
        CHECK_OK(rt_view_expand(b, 4, SHAPE(5, 2, 3, 4), &e));
        check_sum_to(e, 3, SHAPE(1, 3, 1));
        rt_tensor_release(b);
        rt_tensor *big = h_rand(dt, 4, SHAPE(4, 1, 5, 6), -5, 5);
        check_sum_to(big, 1, SHAPE(6));
        check_sum_to(big, 4, SHAPE(1, 1, 5, 1));
        rt_tensor_release(big);
        rt_tensor_release(t);
        rt_tensor_release(e);
        rt_tensor_release(x);
    }
    rt_tensor *x = h_rand(RT_F32, 2, SHAPE(2, 3), 0, 1), *o = NULL;
    CHECK_FAILS(rt_sum_to(x, 1, SHAPE(4), &o), RT_ESHAPE, "sum_to: cannot sum [2,3] to [4]");
    CHECK_FAILS(rt_sum_to(x, 3, SHAPE(1, 2, 3), &o), RT_ESHAPE, "more dimensions");
    CHECK_FAILS(rt_sum_to(x, 2, SHAPE(2, -1), &o), RT_EARG, "negative");
    CHECK(o == NULL, "sum_to: output untouched on failure");
    rt_tensor_release(x);
    CHECK_OK(rt_zeros(RT_F64, 2, SHAPE(0, 3), &x));
    CHECK_OK(rt_sum_to(x, 1, SHAPE(3), &o));
    CHECK(h_shape_is(o, 1, SHAPE(3)) && h_at(o, 2) == 0, "sum_to of empty");
    rt_tensor_release(o);
    rt_tensor_release(x);
}

/* ---- errors -------------------------------------------------------------------------------- */
static void test_errors(void)
{
    rt_tensor *x = h_rand(RT_F32, 3, SHAPE(2, 3, 4), 0, 1), *i = h_rand(RT_I64, 1, SHAPE(4), 0, 9);
    rt_tensor *o = NULL, *o2 = NULL;
    CHECK_FAILS(rt_reduce(RT_SUM, x, 3, 0, 0, &o), RT_EARG, "sum: dimension 3 out of range");
    CHECK_FAILS(rt_reduce(RT_MEAN, x, -4, 0, 0, &o), RT_EARG, "mean: dimension -4");
    CHECK_FAILS(rt_reduce((rt_redop)9, x, 0, 0, 0, &o), RT_EARG, "unknown reduction");
    CHECK_FAILS(rt_var(x, 5, 0, 1, 0, &o), RT_EARG, "var: dimension 5");
    CHECK_FAILS(rt_max_dim(x, 7, 0, &o, &o2), RT_EARG, "max: dimension 7");
    CHECK_FAILS(rt_argmin(x, 3, 0, 0, &o), RT_EARG, "argmin: dimension 3");
    CHECK_FAILS(rt_softmax(x, 3, &o), RT_EARG, "softmax: dimension 3");
    CHECK_FAILS(rt_log_softmax(x, -9, &o), RT_EARG, "log_softmax: dimension -9");
    CHECK_FAILS(rt_cumsum(x, 3, &o), RT_EARG, "cumsum: dimension 3");
    CHECK_FAILS(rt_sort(x, 3, 0, &o, &o2), RT_EARG, "sort: dimension 3");
    CHECK_FAILS(rt_topk(x, 2, 4, 1, &o, &o2), RT_EARG, "topk: dimension 4");
    CHECK_FAILS(rt_topk(x, 5, 2, 1, &o, &o2), RT_EARG, "topk: k = 5 is out of range");
    CHECK_FAILS(rt_topk(x, -1, 2, 1, &o, &o2), RT_EARG, "topk: k = -1");
    CHECK_FAILS(rt_norm(x, 0, 0, 1, 0, &o), RT_EARG, "norm: p must be positive, got 0");
    CHECK_FAILS(rt_norm(x, NAN, 0, 1, 0, &o), RT_EARG, "norm: p must be positive");
    CHECK_FAILS(rt_reduce(RT_MEAN, i, 0, 1, 0, &o), RT_EDTYPE, "mean: i64 input");
    CHECK_FAILS(rt_var(i, 0, 0, 1, 0, &o), RT_EDTYPE, "var: i64");
    CHECK_FAILS(rt_std(i, 0, 0, 1, 0, &o), RT_EDTYPE, "std: i64");
    CHECK_FAILS(rt_norm(i, 2, 0, 0, 0, &o), RT_EDTYPE, "norm: i64");
    CHECK_FAILS(rt_logsumexp(i, 0, 0, 0, &o), RT_EDTYPE, "logsumexp: i64");
    CHECK_FAILS(rt_softmax(i, 0, &o), RT_EDTYPE, "softmax: i64");
    CHECK_FAILS(rt_log_softmax(i, 0, &o), RT_EDTYPE, "log_softmax: i64");
    CHECK(o == NULL && o2 == NULL, "outputs untouched by failures");
    rt_tensor_release(x);
    rt_tensor_release(i);
}

/* Every allocation in turn fails: RT_ENOMEM, outputs untouched, no leak (ASan checks). */
static void test_alloc_failures(void)
{
    rt_tensor *x = h_rand(RT_F64, 2, SHAPE(300, 200), -1, 1), *t = NULL;
    CHECK_OK(rt_view_transpose(x, 0, 1, &t));
    for (int op = 0; op < 6; op++) {
        int ok = 0;
        for (long n = 1; n < 12 && !ok; n++) {
            rt_tensor *a = NULL, *b = NULL;
            rt_debug_fail_alloc_at(n);
            rt_status st = op == 0 ? rt_var(x, 0, 1, 1, 0, &a)
                         : op == 1 ? rt_max_dim(t, 0, 1, &a, &b)
                         : op == 2 ? rt_sort(t, 1, 1, &a, &b)
                         : op == 3 ? rt_sum_to(t, 2, SHAPE(1, 300), &a)
                         : op == 4 ? rt_softmax(t, 0, &a)
                         : rt_topk(x, 5, 0, 1, &a, &b);
            rt_debug_fail_alloc_at(0);
            if (st == RT_OK) {
                ok = 1;
            } else {
                CHECK(st == RT_ENOMEM && a == NULL && b == NULL, "op %d fail at %ld: %s", op, n,
                      rt_last_error());
            }
            rt_tensor_release(a);
            rt_tensor_release(b);
        }
        CHECK(ok, "op %d never succeeded", op);
    }
    rt_tensor_release(t);
    rt_tensor_release(x);
}

static void test_interrupt(void)
{
    rt_tensor *x = h_rand(RT_F32, 2, SHAPE(1000, 300), -1, 1), *o = NULL;
    rt_interrupt_request();
    CHECK_FAILS(rt_reduce(RT_SUM, x, 0, 1, 0, &o), RT_EINTERRUPT, "interrupted");
    CHECK_FAILS(rt_logsumexp(x, 1, 0, 0, &o), RT_EINTERRUPT, "interrupted");
    rt_interrupt_clear();
    CHECK(o == NULL, "interrupted: output untouched");
    rt_tensor_release(x);
}

/* ---- determinism: 1, 2 (and 3) threads give the same bits ---------------------------------- */
static rt_status det_op(int op, const rt_tensor *x, rt_tensor **out)
{
    rt_tensor *other = NULL;
    rt_status st;
    switch (op) {
    case 0: return rt_reduce(RT_SUM, x, 0, 1, 0, out);
    case 1: return rt_reduce(RT_MEAN, x, 0, 1, 0, out);
    case 2: return rt_var(x, 0, 1, 1, 0, out);
    case 3: return rt_norm(x, 2, 0, 1, 0, out);
    case 4: return rt_logsumexp(x, 0, 1, 0, out);
    case 5: return rt_argmax(x, 0, 1, 0, out);
    case 6: return rt_reduce(RT_SUM, x, 0, 0, 0, out);
    case 7: return rt_reduce(RT_SUM, x, 1, 0, 1, out);
    case 8: return rt_std(x, 0, 0, 0, 0, out);
    case 9: return rt_softmax(x, 0, out);
    case 10: return rt_log_softmax(x, 1, out);
    case 11: return rt_cumsum(x, 0, out);
    case 12: st = rt_sort(x, 1, 0, out, &other); break;
    default: return rt_sum_to(x, 1, &x->shape[1], out);
    }
    rt_tensor_release(other);
    return st;
}

static void test_determinism(void)
{
    int saved = rt_get_num_threads();
    rt_tensor *base = h_rand(RT_F32, 2, SHAPE(1030, 1020), -2, 2), *ops[2];
    rt_tensor *b64 = h_rand(RT_F64, 2, SHAPE(1020, 1030), -2, 2);
    ops[0] = base;
    rt_view_transpose(b64, 0, 1, &ops[1]);   /* 1.05e6 elements, strided */
    for (int k = 0; k < 2; k++) {
        for (int op = 0; op < 14; op++) {
            if (k == 1 && op >= 9) continue;   /* slice ops compute each slice whole anyway */
            rt_tensor *r[3] = { NULL, NULL, NULL };
            int nth = op < 6 ? 3 : 2;
            for (int th = 0; th < nth; th++) {
                rt_set_num_threads(th + 1);
                CHECK_OK(det_op(op, ops[k], &r[th]));
            }
            int same = r[0] && r[1] && (nth == 2 || r[2]);
            for (int th = 1; th < nth && same; th++)
                same = r[0]->storage->nbytes == r[th]->storage->nbytes &&
                       memcmp(rt_tensor_data(r[0]), rt_tensor_data(r[th]),
                              r[0]->storage->nbytes) == 0;
            CHECK(same, "operand %d op %d: results differ across thread counts", k, op);
            for (int th = 0; th < 3; th++) rt_tensor_release(r[th]);
        }
    }
    rt_tensor_release(ops[1]);
    rt_tensor_release(base);
    rt_tensor_release(b64);
    rt_set_num_threads(saved);
}

int main(void)
{
    test_ops_all_layouts();
    test_known_values();
    test_known_stable();
    test_known_i64();
    test_along();
    test_sort();
    test_nan();
    test_nan_flat();
    test_empty();
    test_size1_and_0d();
    test_accuracy();
    test_sum_to();
    test_errors();
    test_alloc_failures();
    test_interrupt();
    test_determinism();
    REPORT();
}
