/* grad_reduce.c — autograd for reductions to a value: sum, mean, prod, amax/amin, var/std,
** norm and logsumexp.  Each forward is the kernel plus rti_finish; each backward spreads gout
** back over the reduced elements with differentiable ops, so create_graph works.  max/min with
** indices, sort and topk live in grad_sort.c; softmax and cumsum in grad_softmax.c. */
#include <math.h>
#include "internal.h"
#include "rt_autograd.h"
#include "rt_ad_shape.h"
#include "rt_ad_elementwise.h"
#include "rt_ad_reduce.h"

/* node->iarg of every reduction: the reduced dim (0-based, normalized), all_dims, keepdim, then
** an op-specific value (the rt_redop, or unbiased).  farg[0] holds p for norm. */
enum { A_DIM, A_ALL, A_KEEP, A_EXTRA };

#define X(n) ((n)->in[0])

/* ---- helpers ---------------------------------------------------------------------------- */
/* x's shape with the reduced dims set to 1: the keepdim shape of the result. */
static void kept_shape(const rt_tensor *x, const int64_t *a, int64_t *ks)
{
    for (int d = 0; d < x->ndim; d++) ks[d] = a[A_ALL] || d == a[A_DIM] ? 1 : x->shape[d];
}

/* Number of elements reduced into each output. */
static int64_t reduced_count(const rt_tensor *x, const int64_t *a)
{
    if (a[A_ALL]) return rt_tensor_numel(x);
    return x->ndim ? x->shape[a[A_DIM]] : 1;
}

/* t (shaped like the result) reshaped to the keepdim shape, so it broadcasts against x. */
static rt_tensor *s_kept(rti_scratch *s, const rt_tensor *t, const rt_tensor *x,
                         const int64_t *a)
{
    int64_t ks[RT_MAXDIM];
    rt_tensor *o = NULL;
    if (s->st != RT_OK || !t) return NULL;
    kept_shape(x, a, ks);
    rt_status st = rt_ad_reshape(t, x->ndim, ks, &o);
    return rti_s_keep(s, st, o);
}

/* t (shaped like the result) broadcast over the reduced elements: an expanded view like x. */
static rt_tensor *s_spread(rti_scratch *s, const rt_tensor *t, const rt_tensor *x,
                           const int64_t *a)
{
    rt_tensor *k = s_kept(s, t, x, a), *o = NULL;
    if (!k) return NULL;
    rt_status st = rt_ad_expand(k, x->ndim, x->shape, &o);
    return rti_s_keep(s, st, o);
}

/* The same reduction again, keepdim, recorded (differentiable) or plain (a constant). */
static rt_tensor *s_reduce(rti_scratch *s, rt_redop op, const rt_tensor *x, const int64_t *a,
                           int differentiable)
{
    rt_tensor *o = NULL;
    if (s->st != RT_OK) return NULL;
    int dim = (int)a[A_DIM], all = (int)a[A_ALL];
    rt_status st = differentiable ? rt_ad_reduce(op, x, dim, all, 1, &o)
                                  : rt_reduce(op, x, dim, all, 1, &o);
    return rti_s_keep(s, st, o);
}

/* Constants (masks, signs) come from the plain kernels so they record nothing. */
static rt_tensor *s_kbin(rti_scratch *s, rt_binop op, const rt_tensor *p, const rt_tensor *q)
{
    rt_tensor *o = NULL;
    if (s->st != RT_OK || !p || !q) return NULL;
    rt_status st = rt_binary(op, p, q, &o);
    return rti_s_keep(s, st, o);
}

static rt_tensor *s_kun(rti_scratch *s, rt_unop op, const rt_tensor *p)
{
    rt_tensor *o = NULL;
    if (s->st != RT_OK || !p) return NULL;
    rt_status st = rt_unary(op, p, &o);
    return rti_s_keep(s, st, o);
}

/* t + [t == 0]: a denominator that is 1 where t is 0, so masked-out terms stay finite (and
** their derivatives too: 0 * inf would make nan in the second derivative). */
static rt_tensor *s_nonzero(rti_scratch *s, const rt_tensor *t)
{
    return rti_s_bin(s, RT_ADD, t, rti_s_scal(s, RT_EQ, t, 0, 0));
}

/* Records op over x with the reduction's parameters (and p in farg[0]). */
static rt_status finish(const rt_opdef *op, const rt_tensor *x, rt_tensor *o, int dim,
                        int all_dims, int keepdim, int64_t extra, double p, rt_tensor **out)
{
    if (!rt_dtype_is_float(o->dtype)) {   /* integer sums and products carry no gradient */
        *out = o;
        return RT_OK;
    }
    int d = all_dims || x->ndim == 0 ? 0 : dim < 0 ? dim + x->ndim : dim;
    int64_t a[4] = { d, all_dims != 0, keepdim != 0, extra };
    rt_status st = rti_finish(op, 1, (rt_tensor *const *)&x, o, a, 4, out);
    if (st == RT_OK && (*out)->node && (*out)->node->op == op) (*out)->node->farg[0] = p;
    return st;
}

/* ---- sum, mean ------------------------------------------------------------------------------ */
/* A fresh copy: an expanded view (or a view of gout) must not become someone's .grad. */
static rt_status sum_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    rt_tensor *e = s_spread(&s, g[0], X(n), n->iarg), *r = NULL;
    if (e) {
        rt_status st = rt_ad_clone(e, &r);
        r = rti_s_keep(&s, st, r);
    }
    return rti_s_done(&s, r, gin);
}

static rt_status mean_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    double cnt = (double)reduced_count(X(n), n->iarg);
    return rti_s_done(&s, rti_s_scal(&s, RT_DIV, s_spread(&s, g[0], X(n), n->iarg), cnt, 0), gin);
}

/* ---- prod ------------------------------------------------------------------------------------
** d prod / dx_i = prod_{j != i} x_j.  Without zeros that is prod / x_i, exact as a function near
** the point (so its derivatives are right too).  With a zero, prod / x is 0/0; the product of
** the others is then built as (exclusive prefix product) * (exclusive suffix product), each a
** Hillis-Steele scan: log2(n) rounds of multiplying by a shifted copy padded with ones.  Only
** multiplications, so every derivative order is exact, at O(n log n) work. */

/* B_i = A_{i-k} (1 for i < k) when up, else B_i = A_{i+k} (1 for i >= n-k); 0 < k < n. */
static rt_status shift_ones(const rt_tensor *A, int dim, int64_t k, int up, rt_tensor **out)
{
    rti_scratch s = {0};
    int64_t n = A->shape[dim];
    rt_tensor *part = NULL, *e = NULL;
    rt_status st = rt_ad_slice(A, dim, up ? 0 : k, up ? n - k : n, 1, &part);
    rt_tensor *m1 = rti_s_scal(&s, RT_SUB, rti_s_keep(&s, st, part), 1, 0);
    if (m1) {
        st = rt_ad_slice_backward(m1, A->ndim, A->shape, dim, up ? k : 0, up ? n : n - k, 1, 0,
                                  &e);
        rti_s_keep(&s, st, e);
    }
    return rti_s_done(&s, rti_s_scal(&s, RT_ADD, e, 1, 0), out);
}

/* out_i = prod_{j < i} x_j (up) or prod_{j > i} x_j along dim; n >= 2. */
static rt_status exclusive_prod(const rt_tensor *x, int dim, int up, rt_tensor **out)
{
    int64_t n = x->shape[dim];
    rt_tensor *acc = NULL;
    rt_status st = shift_ones(x, dim, 1, up, &acc);
    for (int64_t k = 1; st == RT_OK && k < n; k *= 2) {
        rt_tensor *sh = NULL, *next = NULL;
        st = shift_ones(acc, dim, k, up, &sh);
        if (st == RT_OK) st = rt_ad_mul(acc, sh, &next);
        rt_tensor_release(sh);
        if (st == RT_OK) {
            rt_tensor_release(acc);
            acc = next;
        }
    }
    if (st != RT_OK) {
        rt_tensor_release(acc);
        return st;
    }
    *out = acc;
    return RT_OK;
}

/* prod_{j != i} x_j over the reduced elements, shaped like x. */
static rt_status prod_others(const rt_tensor *x, const int64_t *a, rt_tensor **out)
{
    rti_scratch s = {0};
    int64_t n = reduced_count(x, a);
    if (n < 2) return rt_ones(x->dtype, x->ndim, x->shape, out);   /* the empty product */
    const rt_tensor *v = x;
    rt_tensor *t = NULL;
    int dim = (int)a[A_DIM];
    rt_status st;
    if (a[A_ALL]) {   /* scan a flat copy, reshaped back at the end */
        dim = 0;
        st = rt_ad_reshape(x, 1, &n, &t);
        v = rti_s_keep(&s, st, t);
    }
    rt_tensor *lo = NULL, *hi = NULL;
    if (v) {
        st = exclusive_prod(v, dim, 1, &lo);
        rti_s_keep(&s, st, lo);
    }
    if (s.st == RT_OK) {
        st = exclusive_prod(v, dim, 0, &hi);
        rti_s_keep(&s, st, hi);
    }
    rt_tensor *r = rti_s_bin(&s, RT_MUL, lo, hi);
    if (r && a[A_ALL]) {
        t = NULL;
        st = rt_ad_reshape(r, x->ndim, x->shape, &t);
        r = rti_s_keep(&s, st, t);
    }
    return rti_s_done(&s, r, out);
}

/* 1 if some element of x is 0 (then *st tells whether the check itself worked). */
static int has_zero(const rt_tensor *x, rt_status *st)
{
    rt_tensor *z = NULL, *c = NULL;
    double v = 0;
    *st = rt_binary_scalar(RT_EQ, x, 0, 0, &z);
    if (*st == RT_OK) *st = rt_reduce(RT_SUM, z, 0, 1, 0, &c);
    if (*st == RT_OK) *st = rt_tensor_item(c, &v);
    rt_tensor_release(z);
    rt_tensor_release(c);
    return v != 0;
}

static rt_status prod_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    const rt_tensor *x = X(n);
    rt_status st;
    int zero = has_zero(x, &st);
    if (st != RT_OK) return st;
    rt_tensor *others = NULL;
    if (zero) {
        st = prod_others(x, n->iarg, &others);
        others = rti_s_keep(&s, st, others);
    } else {
        others = rti_s_bin(&s, RT_DIV, s_reduce(&s, RT_PROD, x, n->iarg, 1), x);
    }
    return rti_s_done(&s, rti_s_bin(&s, RT_MUL, others, s_kept(&s, g[0], x, n->iarg)), gin);
}

/* ---- amax, amin: ties share the gradient evenly ------------------------------------------- */
static rt_status extremum_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    const rt_tensor *x = X(n);
    rt_tensor *hit = s_kbin(&s, RT_EQ, x, s_reduce(&s, (rt_redop)n->iarg[A_EXTRA], x, n->iarg, 0));
    rt_tensor *w = s_kbin(&s, RT_DIV, hit, s_reduce(&s, RT_SUM, hit, n->iarg, 0));
    return rti_s_done(&s, rti_s_bin(&s, RT_MUL, w, s_kept(&s, g[0], x, n->iarg)), gin);
}

static const rt_opdef op_sum = { "sum", sum_bw, 0 };
static const rt_opdef op_mean = { "mean", mean_bw, 0 };
static const rt_opdef op_prod = { "prod", prod_bw, 1 };
static const rt_opdef op_amax = { "amax", extremum_bw, 1 };
static const rt_opdef op_amin = { "amin", extremum_bw, 1 };

rt_status rt_ad_reduce(rt_redop op, const rt_tensor *x, int dim, int all_dims, int keepdim,
                       rt_tensor **out)
{
    static const rt_opdef *const defs[] = {
        [RT_SUM] = &op_sum, [RT_MEAN] = &op_mean, [RT_PROD] = &op_prod,
        [RT_AMAX] = &op_amax, [RT_AMIN] = &op_amin,
    };
    rt_tensor *o = NULL;
    rt_status st = rt_reduce(op, x, dim, all_dims, keepdim, &o);   /* checks op too */
    if (st != RT_OK) return st;
    return finish(defs[op], x, o, dim, all_dims, keepdim, op, 0, out);
}

rt_status rt_ad_sum(const rt_tensor *x, int dim, int all_dims, int keepdim, rt_tensor **out)
{
    return rt_ad_reduce(RT_SUM, x, dim, all_dims, keepdim, out);
}

rt_status rt_ad_mean(const rt_tensor *x, int dim, int all_dims, int keepdim, rt_tensor **out)
{
    return rt_ad_reduce(RT_MEAN, x, dim, all_dims, keepdim, out);
}

rt_status rt_ad_prod(const rt_tensor *x, int dim, int all_dims, int keepdim, rt_tensor **out)
{
    return rt_ad_reduce(RT_PROD, x, dim, all_dims, keepdim, out);
}

rt_status rt_ad_amax(const rt_tensor *x, int dim, int all_dims, int keepdim, rt_tensor **out)
{
    return rt_ad_reduce(RT_AMAX, x, dim, all_dims, keepdim, out);
}

rt_status rt_ad_amin(const rt_tensor *x, int dim, int all_dims, int keepdim, rt_tensor **out)
{
    return rt_ad_reduce(RT_AMIN, x, dim, all_dims, keepdim, out);
}

/* ---- var, std ----------------------------------------------------------------------------------
** var = sum((x - m)^2) / (n - u): d/dx = 2 (x - m) / (n - u) (the terms through m cancel).
** std = sqrt(var): d/dx = (x - m) / ((n - u) std), taken as 0 where std == 0 like PyTorch (all
** x equal: x - m is 0 there, so only the denominator needs guarding). */
static rt_status var_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    const rt_tensor *x = X(n);
    double c = 2.0 / (double)(reduced_count(x, n->iarg) - n->iarg[A_EXTRA]);
    rt_tensor *d = rti_s_bin(&s, RT_SUB, x, s_reduce(&s, RT_MEAN, x, n->iarg, 1));
    rt_tensor *k = rti_s_scal(&s, RT_MUL, s_kept(&s, g[0], x, n->iarg), c, 0);
    return rti_s_done(&s, rti_s_bin(&s, RT_MUL, d, k), gin);
}

static rt_status std_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    const rt_tensor *x = X(n);
    const int64_t *a = n->iarg;
    double c = (double)(reduced_count(x, a) - a[A_EXTRA]);
    rt_tensor *sd = NULL;
    rt_status st = rt_ad_std(x, (int)a[A_DIM], (int)a[A_ALL], (int)a[A_EXTRA], 1, &sd);
    sd = rti_s_keep(&s, st, sd);
    rt_tensor *den = rti_s_scal(&s, RT_MUL, s_nonzero(&s, sd), c, 0);
    rt_tensor *d = rti_s_bin(&s, RT_SUB, x, s_reduce(&s, RT_MEAN, x, a, 1));
    rt_tensor *k = rti_s_bin(&s, RT_DIV, s_kept(&s, g[0], x, a), den);
    return rti_s_done(&s, rti_s_bin(&s, RT_MUL, d, k), gin);
}

static const rt_opdef op_var = { "var", var_bw, 1 };
static const rt_opdef op_std = { "std", std_bw, 1 };

rt_status rt_ad_var(const rt_tensor *x, int dim, int all_dims, int unbiased, int keepdim,
                    rt_tensor **out)
{
    rt_tensor *o = NULL;
    rt_status st = rt_var(x, dim, all_dims, unbiased, keepdim, &o);
    if (st != RT_OK) return st;
    return finish(&op_var, x, o, dim, all_dims, keepdim, unbiased != 0, 0, out);
}

rt_status rt_ad_std(const rt_tensor *x, int dim, int all_dims, int unbiased, int keepdim,
                    rt_tensor **out)
{
    rt_tensor *o = NULL;
    rt_status st = rt_std(x, dim, all_dims, unbiased, keepdim, &o);
    if (st != RT_OK) return st;
    return finish(&op_std, x, o, dim, all_dims, keepdim, unbiased != 0, 0, out);
}

/* ---- norm ---------------------------------------------------------------------------------------
** The cases follow PyTorch's linalg_vector_norm_backward.  Where norm == 0 every x in the slice
** is 0, so x / norm and |x|^(p-1) / norm^(p-1) only need a nonzero denominator to give 0. */
static rt_status norm_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    const rt_tensor *x = X(n);
    const int64_t *a = n->iarg;
    double p = n->farg[0];
    rt_tensor *gk = s_kept(&s, g[0], x, a), *r = NULL;
    if (p == 1) {
        r = rti_s_bin(&s, RT_MUL, s_kun(&s, RT_SIGN, x), gk);
    } else if (isinf(p)) {   /* sign(x) shared evenly by the elements with |x| == norm */
        rt_tensor *nrm = NULL;
        rt_status st = rt_norm(x, p, (int)a[A_DIM], (int)a[A_ALL], 1, &nrm);
        rt_tensor *hit = s_kbin(&s, RT_EQ, s_kun(&s, RT_ABS, x), rti_s_keep(&s, st, nrm));
        rt_tensor *w = s_kbin(&s, RT_DIV, hit, s_reduce(&s, RT_SUM, hit, a, 0));
        r = rti_s_bin(&s, RT_MUL, s_kbin(&s, RT_MUL, w, s_kun(&s, RT_SIGN, x)), gk);
    } else {
        rt_tensor *nrm = NULL;
        rt_status st = rt_ad_norm(x, p, (int)a[A_DIM], (int)a[A_ALL], 1, &nrm);
        rt_tensor *den = s_nonzero(&s, rti_s_keep(&s, st, nrm));
        if (p == 2) {
            r = rti_s_bin(&s, RT_MUL, x, rti_s_bin(&s, RT_DIV, gk, den));
        } else {   /* sign(x) |x|^(p-1) / norm^(p-1); |x| + [x == 0] keeps p < 1 finite at 0 */
            rt_tensor *ax = s_nonzero(&s, rti_s_un(&s, RT_ABS, x));
            rt_tensor *num = rti_s_bin(&s, RT_MUL, s_kun(&s, RT_SIGN, x),
                                       rti_s_scal(&s, RT_POW, ax, p - 1, 0));
            r = rti_s_bin(&s, RT_MUL, num,
                          rti_s_bin(&s, RT_DIV, gk, rti_s_scal(&s, RT_POW, den, p - 1, 0)));
        }
    }
    return rti_s_done(&s, r, gin);
}
static const rt_opdef op_norm = { "norm", norm_bw, 1 };

rt_status rt_ad_norm(const rt_tensor *x, double p, int dim, int all_dims, int keepdim,
                     rt_tensor **out)
{
    rt_tensor *o = NULL;
    rt_status st = rt_norm(x, p, dim, all_dims, keepdim, &o);
    if (st != RT_OK) return st;
    return finish(&op_norm, x, o, dim, all_dims, keepdim, 0, p, out);
}

/* ---- logsumexp: d/dx = exp(x - logsumexp(x)), recomputed from x --------------------------- */
static rt_status logsumexp_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    const rt_tensor *x = X(n);
    const int64_t *a = n->iarg;
    rt_tensor *lse = NULL;
    rt_status st = rt_ad_logsumexp(x, (int)a[A_DIM], (int)a[A_ALL], 1, &lse);
    rt_tensor *e = rti_s_un(&s, RT_EXP, rti_s_bin(&s, RT_SUB, x, rti_s_keep(&s, st, lse)));
    return rti_s_done(&s, rti_s_bin(&s, RT_MUL, e, s_kept(&s, g[0], x, a)), gin);
}
static const rt_opdef op_logsumexp = { "logsumexp", logsumexp_bw, 1 };

rt_status rt_ad_logsumexp(const rt_tensor *x, int dim, int all_dims, int keepdim,
                          rt_tensor **out)
{
    rt_tensor *o = NULL;
    rt_status st = rt_logsumexp(x, dim, all_dims, keepdim, &o);
    if (st != RT_OK) return st;
    return finish(&op_logsumexp, x, o, dim, all_dims, keepdim, 0, 0, out);
}
