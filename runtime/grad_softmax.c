/* grad_softmax.c — autograd for the same-shape ops along one dim: softmax, log_softmax, cumsum
** and its adjoint, the reversed cumulative sum (a small kernel of its own here).  The softmax
** backwards recompute softmax from the saved input, never from the output: an output saved on
** its own node would be a cycle, which the engine forbids. */
#include "internal.h"
#include "rt_autograd.h"
#include "rt_ad_shape.h"
#include "rt_ad_elementwise.h"
#include "rt_ad_reduce.h"

static int norm_dim(const rt_tensor *x, int dim)
{
    return x->ndim == 0 ? 0 : dim < 0 ? dim + x->ndim : dim;
}

/* sum of t along dim with the dim kept (differentiable). */
static rt_tensor *s_sum_dim(rti_scratch *s, const rt_tensor *t, int dim)
{
    rt_tensor *o = NULL;
    if (s->st != RT_OK || !t) return NULL;
    rt_status st = rt_ad_sum(t, dim, 0, 1, &o);
    return rti_s_keep(s, st, o);
}

static rt_tensor *s_softmax(rti_scratch *s, const rt_tensor *x, int dim)
{
    rt_tensor *o = NULL;
    if (s->st != RT_OK) return NULL;
    rt_status st = rt_ad_softmax(x, dim, &o);
    return rti_s_keep(s, st, o);
}

/* ---- softmax, log_softmax (iarg[0] = dim) ---------------------------------------------------- */
/* y = softmax(x): dx = y * (g - sum(g * y)) = g y - y sum(g y) */
static rt_status softmax_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    int dim = (int)n->iarg[0];
    rt_tensor *y = s_softmax(&s, n->in[0], dim);
    rt_tensor *gy = rti_s_bin(&s, RT_MUL, g[0], y);
    return rti_s_done(&s, rti_s_bin(&s, RT_SUB, gy, rti_s_bin(&s, RT_MUL, y,
                                                              s_sum_dim(&s, gy, dim))), gin);
}
static const rt_opdef op_softmax = { "softmax", softmax_bw, 1 };

/* y = log_softmax(x): dx = g - softmax(x) sum(g) */
static rt_status log_softmax_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    rti_scratch s = {0};
    int dim = (int)n->iarg[0];
    rt_tensor *p = rti_s_bin(&s, RT_MUL, s_softmax(&s, n->in[0], dim), s_sum_dim(&s, g[0], dim));
    return rti_s_done(&s, rti_s_bin(&s, RT_SUB, g[0], p), gin);
}
static const rt_opdef op_log_softmax = { "log_softmax", log_softmax_bw, 1 };

rt_status rt_ad_softmax(const rt_tensor *x, int dim, rt_tensor **out)
{
    rt_tensor *o = NULL;
    rt_status st = rt_softmax(x, dim, &o);
    if (st != RT_OK) return st;
    int64_t a = norm_dim(x, dim);
    return rti_finish(&op_softmax, 1, (rt_tensor *const *)&x, o, &a, 1, out);
}

rt_status rt_ad_log_softmax(const rt_tensor *x, int dim, rt_tensor **out)
{
    rt_tensor *o = NULL;
    rt_status st = rt_log_softmax(x, dim, &o);
    if (st != RT_OK) return st;
    int64_t a = norm_dim(x, dim);
    return rti_finish(&op_log_softmax, 1, (rt_tensor *const *)&x, o, &a, 1, out);
}

/* ---- cumsum and its adjoint ------------------------------------------------------------------
** The adjoint of a running sum is a running sum from the end.  Computing it as
** sum - cumsum + x would lose small entries next to large ones in f32, so it gets a kernel. */

/* x: contiguous, (outer, n, inner) around dim.  f32 accumulates in double, like rt_cumsum. */
static void cumsum_reverse_f64(const double *x, double *o, int64_t outer, int64_t n,
                               int64_t inner)
{
    for (int64_t b = 0; b < outer; b++)
        for (int64_t j = 0; j < inner; j++) {
            const double *xs = x + b * n * inner + j;
            double *os = o + b * n * inner + j, acc = 0;
            for (int64_t i = n - 1; i >= 0; i--) {
                acc += xs[i * inner];
                os[i * inner] = acc;
            }
        }
}

static void cumsum_reverse_f32(const float *x, float *o, int64_t outer, int64_t n,
                               int64_t inner)
{
    for (int64_t b = 0; b < outer; b++)
        for (int64_t j = 0; j < inner; j++) {
            const float *xs = x + b * n * inner + j;
            float *os = o + b * n * inner + j;
            double acc = 0;
            for (int64_t i = n - 1; i >= 0; i--) {
                acc += xs[i * inner];
                os[i * inner] = (float)acc;
            }
        }
}

/* out_i = sum_{j >= i} x_j along dim.  Single-threaded: it only runs in backward passes, on
** gradients the size of cumsum's input. */
static rt_status cumsum_reverse(const rt_tensor *x, int dim, rt_tensor **out)
{
    if (!rt_dtype_is_float(x->dtype))
        return rt_fail(RT_EDTYPE, 0, "cumsum_reverse: %s input is not supported",
                       rt_dtype_name(x->dtype));
    rt_status st = x->ndim ? rti_check_dim("cumsum_reverse", &dim, x->ndim) : RT_OK;
    if (st != RT_OK) return st;
    if (x->ndim == 0 && dim != 0 && dim != -1)
        return rt_fail(RT_EARG, 0, "cumsum_reverse: dimension %d out of range for a 0-d tensor",
                       dim);
    int64_t outer = 1, n = x->ndim ? x->shape[dim] : 1, inner = 1;
    for (int d = 0; d < x->ndim; d++) {
        if (d < dim) outer *= x->shape[d];
        if (d > dim) inner *= x->shape[d];
    }
    rt_tensor *c = NULL, *o = NULL;
    st = rt_contiguous(x, &c);
    if (st == RT_OK) st = rt_empty(x->dtype, x->ndim, x->shape, &o);
    if (st == RT_OK && rt_tensor_numel(x) > 0) {
        if (x->dtype == RT_F64)
            cumsum_reverse_f64(rt_tensor_data(c), rt_tensor_data(o), outer, n, inner);
        else
            cumsum_reverse_f32(rt_tensor_data(c), rt_tensor_data(o), outer, n, inner);
    }
    rt_tensor_release(c);
    if (st != RT_OK) {
        rt_tensor_release(o);
        return st;
    }
    *out = o;
    return RT_OK;
}

static rt_status cumsum_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    return rt_ad_cumsum_reverse(g[0], (int)n->iarg[0], gin);
}
static const rt_opdef op_cumsum = { "cumsum", cumsum_bw, 0 };

static rt_status cumsum_reverse_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    return rt_ad_cumsum(g[0], (int)n->iarg[0], gin);
}
static const rt_opdef op_cumsum_reverse = { "cumsum_reverse", cumsum_reverse_bw, 0 };

rt_status rt_ad_cumsum(const rt_tensor *x, int dim, rt_tensor **out)
{
    rt_tensor *o = NULL;
    rt_status st = rt_cumsum(x, dim, &o);
    if (st != RT_OK) return st;
    if (!rt_dtype_is_float(o->dtype)) {
        *out = o;
        return RT_OK;
    }
    int64_t a = norm_dim(x, dim);
    return rti_finish(&op_cumsum, 1, (rt_tensor *const *)&x, o, &a, 1, out);
}

rt_status rt_ad_cumsum_reverse(const rt_tensor *x, int dim, rt_tensor **out)
{
    rt_tensor *o = NULL;
    rt_status st = cumsum_reverse(x, dim, &o);
    if (st != RT_OK) return st;
    int64_t a = norm_dim(x, dim);
    return rti_finish(&op_cumsum_reverse, 1, (rt_tensor *const *)&x, o, &a, 1, out);
}
