/* grad_unary.c — autograd for unary math, leaky_relu, clamp and where.  Each op's backward is
** its textbook derivative written with differentiable ops on the saved input, right below the
** table entry that names it, so second and higher derivatives (gradgradcheck) follow. */
#include <math.h>
#include "internal.h"
#include "rt_autograd.h"
#include "rt_ad_shape.h"
#include "rt_ad_elementwise.h"

#define X(n) ((n)->in[0])
#define G(g) ((g)[0])

/* gin = gout * d, d built in s; a NULL d means the op failed (status kept in s). */
static rt_status times(rti_scratch *s, rt_tensor *const *gout, rt_tensor *d, rt_tensor **gin)
{
    return rti_s_done(s, rti_s_bin(s, RT_MUL, G(gout), d), gin);
}

static rt_status neg_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    (void)n;
    return rt_ad_unary(RT_NEG, G(g), gin);
}

static rt_status abs_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    return times(&s, g, rti_s_un(&s, RT_SIGN, X(n)), gin);
}

static rt_status exp_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    return times(&s, g, rti_s_un(&s, RT_EXP, X(n)), gin);
}

static rt_status expm1_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    return exp_bw(n, g, gin);
}

static rt_status log_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    return rt_ad_div(G(g), X(n), gin);
}

static rt_status log1p_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    return rti_s_done(&s, rti_s_bin(&s, RT_DIV, G(g), rti_s_scal(&s, RT_ADD, X(n), 1, 0)), gin);
}

/* d sqrt(x) = 0.5 / sqrt(x) */
static rt_status sqrt_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    return times(&s, g, rti_s_scal(&s, RT_MUL, rti_s_un(&s, RT_RSQRT, X(n)), 0.5, 0), gin);
}

/* d x^-1/2 = -0.5 x^-3/2 */
static rt_status rsqrt_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    return times(&s, g, rti_s_scal(&s, RT_MUL, rti_s_scal(&s, RT_POW, X(n), -1.5, 0), -0.5, 0),
                 gin);
}

static rt_status sin_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    return times(&s, g, rti_s_un(&s, RT_COS, X(n)), gin);
}

static rt_status cos_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    return times(&s, g, rti_s_un(&s, RT_NEG, rti_s_un(&s, RT_SIN, X(n))), gin);
}

/* d tanh = 1 - tanh^2 */
static rt_status tanh_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    rt_tensor *t = rti_s_un(&s, RT_TANH, X(n));
    return times(&s, g, rti_s_scal(&s, RT_SUB, rti_s_un(&s, RT_SQUARE, t), 1, 1), gin);
}

/* d sigmoid = s (1 - s) */
static rt_status sigmoid_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    rt_tensor *y = rti_s_un(&s, RT_SIGMOID, X(n));
    return times(&s, g, rti_s_bin(&s, RT_MUL, y, rti_s_scal(&s, RT_SUB, y, 1, 1)), gin);
}

/* relu' = [x > 0]: a constant mask, so the second derivative is zero as it should be.  One
** fused pass unless the backward itself is being recorded. */
static rt_status relu_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    if (!rt_grad_enabled()) return rt_relu_backward(G(g), X(n), gin);
    rti_scratch s = {0};
    return times(&s, g, rti_s_scal(&s, RT_GT, X(n), 0, 0), gin);
}

/* gelu(x) = x Φ(x): gelu' = Φ(x) + x φ(x), with Φ(x) = (1 + erf(x/√2))/2 and
** φ(x) = exp(-x²/2)/√(2π). */
static rt_status gelu_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    const rt_tensor *x = X(n);
    rt_tensor *cdf = rti_s_scal(&s, RT_MUL, rti_s_scal(&s, RT_ADD, rti_s_un(&s, RT_ERF,
                                rti_s_scal(&s, RT_MUL, x, M_SQRT1_2, 0)), 1, 0), 0.5, 0);
    rt_tensor *pdf = rti_s_scal(&s, RT_MUL, rti_s_un(&s, RT_EXP, rti_s_scal(&s, RT_MUL,
                                rti_s_un(&s, RT_SQUARE, x), -0.5, 0)), 0.3989422804014327, 0);
    return times(&s, g, rti_s_bin(&s, RT_ADD, cdf, rti_s_bin(&s, RT_MUL, x, pdf)), gin);
}

/* erf' = 2/√π exp(-x²) */
static rt_status erf_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    rt_tensor *e = rti_s_un(&s, RT_EXP, rti_s_un(&s, RT_NEG, rti_s_un(&s, RT_SQUARE, X(n))));
    return times(&s, g, rti_s_scal(&s, RT_MUL, e, 1.1283791670955126, 0), gin);
}

static rt_status softplus_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    return times(&s, g, rti_s_un(&s, RT_SIGMOID, X(n)), gin);
}

static rt_status square_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    return times(&s, g, rti_s_scal(&s, RT_MUL, X(n), 2, 0), gin);
}

/* d (1/x) = -1/x² */
static rt_status reciprocal_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    rt_tensor *r = rti_s_un(&s, RT_RECIPROCAL, X(n));
    return times(&s, g, rti_s_un(&s, RT_NEG, rti_s_un(&s, RT_SQUARE, r)), gin);
}

/* sign, floor, ceil, round: piecewise constant, gradient zero. */
static rt_status zero_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    (void)g;
    return rt_zeros(X(n)->dtype, X(n)->ndim, X(n)->shape, gin);
}

static const rt_opdef unary_ops[RT_UNOP_COUNT] = {
    [RT_NEG] = { "neg", neg_bw, 0 },
    [RT_ABS] = { "abs", abs_bw, 1 },
    [RT_EXP] = { "exp", exp_bw, 1 },
    [RT_LOG] = { "log", log_bw, 1 },
    [RT_LOG1P] = { "log1p", log1p_bw, 1 },
    [RT_SQRT] = { "sqrt", sqrt_bw, 1 },
    [RT_RSQRT] = { "rsqrt", rsqrt_bw, 1 },
    [RT_SIN] = { "sin", sin_bw, 1 },
    [RT_COS] = { "cos", cos_bw, 1 },
    [RT_TANH] = { "tanh", tanh_bw, 1 },
    [RT_SIGMOID] = { "sigmoid", sigmoid_bw, 1 },
    [RT_RELU] = { "relu", relu_bw, 1 },
    [RT_GELU] = { "gelu", gelu_bw, 1 },
    [RT_SOFTPLUS] = { "softplus", softplus_bw, 1 },
    [RT_SIGN] = { "sign", zero_bw, 0 },
    [RT_SQUARE] = { "square", square_bw, 1 },
    [RT_RECIPROCAL] = { "reciprocal", reciprocal_bw, 1 },
    [RT_EXPM1] = { "expm1", expm1_bw, 1 },
    [RT_FLOOR] = { "floor", zero_bw, 0 },
    [RT_CEIL] = { "ceil", zero_bw, 0 },
    [RT_ROUND] = { "round", zero_bw, 0 },
    [RT_ERF] = { "erf", erf_bw, 1 },
};

rt_status rt_ad_unary(rt_unop op, const rt_tensor *x, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_unary(op, x, &o);
    if (st != RT_OK) return st;
    if (!rt_dtype_is_float(o->dtype) || (unsigned)op >= RT_UNOP_COUNT) {
        *out = o;
        return RT_OK;
    }
    return rti_finish(&unary_ops[op], 1, (rt_tensor *const *)&x, o, NULL, 0, out);
}

/* ---- leaky_relu, clamp, where ------------------------------------------------------------ */
/* leaky_relu' = [x > 0] + slope [x <= 0] */
static rt_status leaky_relu_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    double slope = n->farg[0];
    rt_tensor *pos = rti_s_scal(&s, RT_GT, X(n), 0, 0);
    rt_tensor *d = rti_s_scal(&s, RT_ADD, rti_s_scal(&s, RT_MUL, pos, 1 - slope, 0), slope, 0);
    return times(&s, g, d, gin);
}
static const rt_opdef op_leaky_relu = { "leaky_relu", leaky_relu_bw, 1 };

rt_status rt_ad_leaky_relu(const rt_tensor *x, double slope, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_leaky_relu(x, slope, &o);
    if (st != RT_OK) return st;
    st = rti_finish(&op_leaky_relu, 1, (rt_tensor *const *)&x, o, NULL, 0, out);
    if (st == RT_OK && (*out)->node && (*out)->node->op == &op_leaky_relu)
        (*out)->node->farg[0] = slope;
    return st;
}

/* clamp' = [lo <= x <= hi], like PyTorch (the bounds themselves pass the gradient). */
static rt_status clamp_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    rt_tensor *in = rti_s_bin(&s, RT_MUL, rti_s_scal(&s, RT_GE, X(n), n->farg[0], 0),
                              rti_s_scal(&s, RT_LE, X(n), n->farg[1], 0));
    return times(&s, g, in, gin);
}
static const rt_opdef op_clamp = { "clamp", clamp_bw, 1 };

rt_status rt_ad_clamp(const rt_tensor *x, double lo, double hi, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_clamp(x, lo, hi, &o);
    if (st != RT_OK) return st;
    st = rti_finish(&op_clamp, 1, (rt_tensor *const *)&x, o, NULL, 0, out);
    if (st == RT_OK && (*out)->node && (*out)->node->op == &op_clamp) {
        (*out)->node->farg[0] = lo;
        (*out)->node->farg[1] = hi;
    }
    return st;
}

/* in: cond, a, b.  d/da = [cond], d/db = [!cond], each summed to its operand's shape. */
static rt_status where_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    rt_tensor *c = n->in[0], *a = n->in[1], *b = n->in[2];
    rt_tensor *z = NULL;
    rt_status st = rt_zeros(G(g)->dtype, 0, NULL, &z);
    rti_s_keep(&s, st, z);
    for (int i = 1; i <= 2 && s.st == RT_OK; i++) {
        if (!rt_node_needs(n, i)) continue;
        rt_tensor *w = NULL;
        st = i == 1 ? rt_ad_where(c, G(g), z, &w) : rt_ad_where(c, z, G(g), &w);
        w = rti_s_keep(&s, st, w);
        rt_tensor *r = rti_s_sum_to(&s, w, i == 1 ? a->ndim : b->ndim, i == 1 ? a->shape : b->shape);
        if (r) rt_tensor_retain(gin[i] = r);
    }
    st = rti_s_done(&s, NULL, NULL);
    if (st != RT_OK)
        for (int i = 1; i <= 2; i++) {
            rt_tensor_release(gin[i]);
            gin[i] = NULL;
        }
    return st;
}
static const rt_opdef op_where = { "where", where_bw, 1 };

rt_status rt_ad_where(const rt_tensor *cond, const rt_tensor *a, const rt_tensor *b,
                      rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_where(cond, a, b, &o);
    if (st != RT_OK) return st;
    rt_tensor *in[3] = { (rt_tensor *)cond, (rt_tensor *)a, (rt_tensor *)b };
    if (!rt_dtype_is_float(o->dtype)) {
        *out = o;
        return RT_OK;
    }
    return rti_finish(&op_where, 3, in, o, NULL, 0, out);
}
