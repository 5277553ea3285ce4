/* grad_elementwise.c — autograd for elementwise ops: binary ops with broadcasting (whose
** gradients are summed back to each input's shape), scalar ops, unary math, leaky_relu,
** clamp and where.  Every backward is written with the differentiable ops themselves. */
#include <math.h>
#include "internal.h"
#include "rt_autograd.h"
#include "rt_ad_shape.h"
#include "rt_ad_elementwise.h"

/* ---- scratch helpers (declared in internal.h) -------------------------------------------- */
rt_tensor *rti_s_keep(rti_scratch *s, rt_status st, rt_tensor *t)
{
    if (st != RT_OK) {
        s->st = st;
        return NULL;
    }
    if (s->n == RTI_SCRATCH) {
        rt_tensor_release(t);
        s->st = rt_fail(RT_EINTERNAL, -1, "backward: scratch list full");
        return NULL;
    }
    return s->t[s->n++] = t;
}

rt_tensor *rti_s_bin(rti_scratch *s, int op, const rt_tensor *a, const rt_tensor *b)
{
    rt_tensor *o = NULL;
    if (s->st != RT_OK || !a || !b) return NULL;
    rt_status st = rt_ad_binary((rt_binop)op, a, b, &o);   /* before reading o */
    return rti_s_keep(s, st, o);
}

rt_tensor *rti_s_scal(rti_scratch *s, int op, const rt_tensor *a, double v, int first)
{
    rt_tensor *o = NULL;
    if (s->st != RT_OK || !a) return NULL;
    rt_status st = rt_ad_binary_scalar((rt_binop)op, a, v, first, &o);
    return rti_s_keep(s, st, o);
}

rt_tensor *rti_s_un(rti_scratch *s, int op, const rt_tensor *a)
{
    rt_tensor *o = NULL;
    if (s->st != RT_OK || !a) return NULL;
    rt_status st = rt_ad_unary((rt_unop)op, a, &o);
    return rti_s_keep(s, st, o);
}

rt_tensor *rti_s_sum_to(rti_scratch *s, const rt_tensor *a, int ndim, const int64_t *shape)
{
    rt_tensor *o = NULL;
    if (s->st != RT_OK || !a) return NULL;
    rt_status st = rt_ad_sum_to(a, ndim, shape, &o);
    return rti_s_keep(s, st, o);
}

rt_tensor *rti_s_mul_to(rti_scratch *s, const rt_tensor *a, const rt_tensor *b, int ndim,
                        const int64_t *shape)
{
    return rti_s_sum_to(s, rti_s_bin(s, RT_MUL, a, b), ndim, shape);
}

rt_status rti_s_done(rti_scratch *s, rt_tensor *result, rt_tensor **out)
{
    rt_status st = s->st;
    if (st == RT_OK && result) {
        rt_tensor_retain(result);
        *out = result;
    }
    for (int i = 0; i < s->n; i++) rt_tensor_release(s->t[i]);
    s->n = 0;
    return st;
}

/* Zeros shaped like x: the gradient of piecewise-constant ops. */
static rt_status zeros_like(const rt_tensor *x, rt_tensor **out)
{
    return rt_zeros(x->dtype, x->ndim, x->shape, out);
}

#define SHAPE_OF(t) (t)->ndim, (t)->shape

/* ---- binary ops ---------------------------------------------------------------------------- */
static rt_status add_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rt_status st = RT_OK;
    if (rt_node_needs(n, 0)) st = rt_ad_sum_to(gout[0], SHAPE_OF(n->in[0]), &gin[0]);
    if (st == RT_OK && rt_node_needs(n, 1)) st = rt_ad_sum_to(gout[0], SHAPE_OF(n->in[1]), &gin[1]);
    return st;
}

static rt_status sub_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rti_scratch s = {0};
    rt_status st = RT_OK;
    if (rt_node_needs(n, 0)) st = rt_ad_sum_to(gout[0], SHAPE_OF(n->in[0]), &gin[0]);
    if (st == RT_OK && rt_node_needs(n, 1))
        st = rti_s_done(&s, rti_s_sum_to(&s, rti_s_un(&s, RT_NEG, gout[0]), SHAPE_OF(n->in[1])),
                        &gin[1]);
    return st;
}

static rt_status mul_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rti_scratch s = {0};
    rt_tensor *a = n->in[0], *b = n->in[1];
    rt_status st = RT_OK;
    if (rt_node_needs(n, 0)) st = rti_s_done(&s, rti_s_mul_to(&s, gout[0], b, SHAPE_OF(a)), &gin[0]);
    if (st == RT_OK && rt_node_needs(n, 1))
        st = rti_s_done(&s, rti_s_mul_to(&s, gout[0], a, SHAPE_OF(b)), &gin[1]);
    return st;
}

/* d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 */
static rt_status div_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rti_scratch s = {0};
    rt_tensor *a = n->in[0], *b = n->in[1];
    rt_status st = RT_OK;
    if (rt_node_needs(n, 0))
        st = rti_s_done(&s, rti_s_sum_to(&s, rti_s_bin(&s, RT_DIV, gout[0], b), SHAPE_OF(a)),
                        &gin[0]);
    if (st == RT_OK && rt_node_needs(n, 1)) {
        rt_tensor *q = rti_s_bin(&s, RT_DIV, rti_s_bin(&s, RT_DIV, a, b), b);
        rt_tensor *g = rti_s_un(&s, RT_NEG, rti_s_bin(&s, RT_MUL, gout[0], q));
        st = rti_s_done(&s, rti_s_sum_to(&s, g, SHAPE_OF(b)), &gin[1]);
    }
    return st;
}

/* d(a^b)/da = b a^(b-1);  d(a^b)/db = a^b log a, taken as 0 where a == 0 (the limit for b > 0,
** and what PyTorch does) instead of 0 * -inf. */
static rt_status pow_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rti_scratch s = {0};
    rt_tensor *a = n->in[0], *b = n->in[1];
    rt_status st = RT_OK;
    if (rt_node_needs(n, 0)) {
        rt_tensor *p = rti_s_bin(&s, RT_POW, a, rti_s_scal(&s, RT_SUB, b, 1, 0));
        st = rti_s_done(&s, rti_s_mul_to(&s, gout[0], rti_s_bin(&s, RT_MUL, b, p), SHAPE_OF(a)),
                        &gin[0]);
    }
    if (st == RT_OK && rt_node_needs(n, 1)) {
        rt_tensor *zero = rti_s_scal(&s, RT_EQ, a, 0, 0);
        rt_tensor *safe = rti_s_bin(&s, RT_ADD, a, zero);          /* a, or 1 where a == 0 */
        rt_tensor *d = rti_s_bin(&s, RT_MUL, rti_s_bin(&s, RT_POW, a, b), rti_s_un(&s, RT_LOG, safe));
        st = rti_s_done(&s, rti_s_mul_to(&s, gout[0], d, SHAPE_OF(b)), &gin[1]);
    }
    return st;
}

/* Ties split the gradient evenly, as in PyTorch. mask = [a > b] + 0.5 [a == b] for maximum. */
static rt_status extremum_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin, int max)
{
    rti_scratch s = {0};
    rt_tensor *a = n->in[0], *b = n->in[1];
    rt_tensor *win = rti_s_bin(&s, max ? RT_GT : RT_LT, a, b);
    rt_tensor *tie = rti_s_scal(&s, RT_MUL, rti_s_bin(&s, RT_EQ, a, b), 0.5, 0);
    rt_tensor *ma = rti_s_bin(&s, RT_ADD, win, tie);
    rt_tensor *mb = rti_s_scal(&s, RT_SUB, ma, 1, 1);
    rt_status st = RT_OK;
    if (rt_node_needs(n, 0)) {
        rt_tensor *g = rti_s_mul_to(&s, gout[0], ma, SHAPE_OF(a));
        if (g) rt_tensor_retain(gin[0] = g);
    }
    if (rt_node_needs(n, 1)) {
        rt_tensor *g = rti_s_mul_to(&s, gout[0], mb, SHAPE_OF(b));
        if (g) rt_tensor_retain(gin[1] = g);
    }
    st = rti_s_done(&s, NULL, NULL);
    if (st != RT_OK) {
        rt_tensor_release(gin[0]);
        rt_tensor_release(gin[1]);
        gin[0] = gin[1] = NULL;
    }
    return st;
}

static rt_status maximum_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    return extremum_backward(n, gout, gin, 1);
}

static rt_status minimum_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    return extremum_backward(n, gout, gin, 0);
}

static rt_status compare_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    (void)gout;
    rt_status st = RT_OK;
    for (int i = 0; i < 2 && st == RT_OK; i++)
        if (rt_node_needs(n, i)) st = zeros_like(n->in[i], &gin[i]);
    return st;
}

static const rt_opdef binary_ops[RT_BINOP_COUNT] = {
    [RT_ADD] = { "add", add_backward, 0 },
    [RT_SUB] = { "sub", sub_backward, 0 },
    [RT_MUL] = { "mul", mul_backward, 3 },
    [RT_DIV] = { "div", div_backward, 3 },
    [RT_POW] = { "pow", pow_backward, 3 },
    [RT_MAXIMUM] = { "maximum", maximum_backward, 3 },
    [RT_MINIMUM] = { "minimum", minimum_backward, 3 },
    [RT_EQ] = { "eq", compare_backward, 0 },
    [RT_NE] = { "ne", compare_backward, 0 },
    [RT_LT] = { "lt", compare_backward, 0 },
    [RT_LE] = { "le", compare_backward, 0 },
    [RT_GT] = { "gt", compare_backward, 0 },
    [RT_GE] = { "ge", compare_backward, 0 },
};

rt_status rt_ad_binary(rt_binop op, const rt_tensor *a, const rt_tensor *b, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_binary(op, a, b, &o);
    if (st != RT_OK) return st;
    rt_tensor *in[2] = { (rt_tensor *)a, (rt_tensor *)b };
    if (!rt_dtype_is_float(o->dtype) || op >= RT_EQ) {   /* no gradient through these */
        *out = o;
        return RT_OK;
    }
    return rti_finish(&binary_ops[op], 2, in, o, NULL, 0, out);
}

rt_status rt_ad_add(const rt_tensor *a, const rt_tensor *b, rt_tensor **out)
{
    return rt_ad_binary(RT_ADD, a, b, out);
}

rt_status rt_ad_sub(const rt_tensor *a, const rt_tensor *b, rt_tensor **out)
{
    return rt_ad_binary(RT_SUB, a, b, out);
}

rt_status rt_ad_mul(const rt_tensor *a, const rt_tensor *b, rt_tensor **out)
{
    return rt_ad_binary(RT_MUL, a, b, out);
}

rt_status rt_ad_div(const rt_tensor *a, const rt_tensor *b, rt_tensor **out)
{
    return rt_ad_binary(RT_DIV, a, b, out);
}

/* ---- tensor op scalar ----------------------------------------------------------------------
** farg[0] = the scalar, iarg[0] = op, iarg[1] = scalar_first. */
static rt_status scalar_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rti_scratch s = {0};
    const rt_tensor *a = n->in[0];
    double v = n->farg[0];
    int first = (int)n->iarg[1];
    rt_tensor *g = gout[0], *r = NULL;
    switch ((rt_binop)n->iarg[0]) {
    case RT_ADD: r = g; break;
    case RT_SUB: r = first ? rti_s_un(&s, RT_NEG, g) : g; break;
    case RT_MUL: r = rti_s_scal(&s, RT_MUL, g, v, 0); break;
    case RT_DIV:   /* a / v, or v / a with derivative -v / a^2 */
        if (!first) r = rti_s_scal(&s, RT_DIV, g, v, 0);
        else r = rti_s_bin(&s, RT_MUL, g, rti_s_scal(&s, RT_MUL,
                           rti_s_un(&s, RT_RECIPROCAL, rti_s_un(&s, RT_SQUARE, a)), -v, 0));
        break;
    case RT_POW:   /* a^v: v a^(v-1);  v^a: v^a log v */
        if (!first) r = rti_s_bin(&s, RT_MUL, g, rti_s_scal(&s, RT_MUL,
                                  rti_s_scal(&s, RT_POW, a, v - 1, 0), v, 0));
        else r = rti_s_bin(&s, RT_MUL, g, rti_s_scal(&s, RT_MUL,
                           rti_s_scal(&s, RT_POW, a, v, 1), log(v), 0));
        break;
    case RT_MAXIMUM:
    case RT_MINIMUM: {
        int max = n->iarg[0] == RT_MAXIMUM;
        rt_tensor *win = rti_s_scal(&s, max ? RT_GT : RT_LT, a, v, 0);
        rt_tensor *tie = rti_s_scal(&s, RT_MUL, rti_s_scal(&s, RT_EQ, a, v, 0), 0.5, 0);
        r = rti_s_bin(&s, RT_MUL, g, rti_s_bin(&s, RT_ADD, win, tie));
        break;
    }
    default: {
        rt_tensor *z = NULL;
        rt_status st = zeros_like(a, &z);
        r = rti_s_keep(&s, st, z);
    }
    }
    return rti_s_done(&s, r, &gin[0]);
}
static const rt_opdef op_scalar = { "scalar_op", scalar_backward, 1 };

rt_status rt_ad_binary_scalar(rt_binop op, const rt_tensor *a, double v, int scalar_first,
                              rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_binary_scalar(op, a, v, scalar_first, &o);
    if (st != RT_OK) return st;
    if (!rt_dtype_is_float(o->dtype) || op >= RT_EQ || !rt_any_requires_grad(1, (rt_tensor **)&a)) {
        *out = o;
        return RT_OK;
    }
    int64_t args[2] = { op, scalar_first };
    st = rti_finish(&op_scalar, 1, (rt_tensor *const *)&a, o, args, 2, out);
    if (st == RT_OK) (*out)->node->farg[0] = v;
    return st;
}
