/* grad_spatial.c — autograd for the spatial ops: max / average / adaptive-average pooling,
** upsampling and padding.  All are linear in x (max pooling piecewise), so each backward kernel
** is linear in gout and becomes an op of its own whose backward is the forward op again (for
** max pooling: a gather at the saved indices).  Every derivative order therefore works.
** The kernels are in ops_pool.c, ops_upsample.c and ops_pad.c; convolutions in grad_conv.c. */
#include <string.h>
#include "internal.h"
#include "rt_autograd.h"
#include "rt_elementwise.h"
#include "rt_ad_shape.h"
#include "rt_ad_reduce.h"
#include "rt_ad_nn.h"

static rt_status finish1(const rt_opdef *op, const rt_tensor *x, rt_tensor *o, const int64_t *a,
                         int narg, rt_tensor **out)
{
    return rti_finish(op, 1, (rt_tensor *const *)&x, o, a, narg, out);
}

/* ---- max pooling ----------------------------------------------------------------------------
** Both nodes save the 0-based flat indices (saved[0]). */
static rt_status max_pool_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    return rt_ad_max_pool2d_backward(gout[0], n->saved[0], n->in[0]->shape, &gin[0]);
}
static const rt_opdef op_max_pool = { "max_pool2d", max_pool_backward, 0 };

/* Records op over in, saving index, without touching *out on failure. */
static rt_status finish_indexed(const rt_opdef *op, const rt_tensor *in, rt_tensor *o,
                                const int64_t *a, int narg, rt_tensor *index, rt_tensor **out)
{
    rt_tensor *r = NULL;
    rt_status st = finish1(op, in, o, a, narg, &r);
    if (st == RT_OK && r->node && r->node->op == op && (st = rt_node_save(r->node, index)) != RT_OK)
        rt_tensor_release(r);
    if (st == RT_OK) *out = r;
    return st;
}

rt_status rt_ad_max_pool2d(const rt_tensor *x, const rt_pool2d_opts *o, rt_tensor **out,
                           rt_tensor **indices)
{
    rt_tensor *y = NULL, *ix = NULL, *r = NULL;
    rt_status st = rt_max_pool2d(x, o, &y, &ix);
    if (st != RT_OK) return st;
    st = finish_indexed(&op_max_pool, x, y, NULL, 0, ix, &r);
    if (st != RT_OK) {
        rt_tensor_release(ix);
        return st;
    }
    *out = r;
    if (indices) *indices = ix;
    else rt_tensor_release(ix);
    return RT_OK;
}

/* out[..., i] = gg[..., idx[..., i]] within each plane, 0 where idx is -1 (an empty window):
** the plane is flattened and one zero appended, the index -1 redirected to that zero, and the
** differentiable take_along_dim does the rest. */
static rt_status gather_at(const rt_tensor *gg, const rt_tensor *idx, rt_tensor **out)
{
    int nd = gg->ndim;
    int64_t hw = gg->shape[nd - 2] * gg->shape[nd - 1], pads[2] = { 0, 1 };
    rt_tensor *f = NULL, *p = NULL, *fi = NULL, *neg = NULL, *safe = NULL, *t = NULL;
    rt_status st = rt_ad_flatten(gg, nd - 2, nd - 1, &f);
    if (st == RT_OK) st = rt_ad_pad(f, 1, pads, RT_PAD_CONSTANT, 0, &p);
    if (st == RT_OK) st = rt_flatten(idx, nd - 2, nd - 1, &fi);
    if (st == RT_OK) st = rt_binary_scalar(RT_LT, fi, 0, 0, &neg);
    if (st == RT_OK) st = rt_axpby(1, fi, (double)(hw + 1), neg, &safe);
    if (st == RT_OK) st = rt_ad_take_along_dim(p, nd - 2, safe, &t);
    if (st == RT_OK) st = rt_ad_reshape(t, idx->ndim, idx->shape, out);
    rt_tensor *all[6] = { f, p, fi, neg, safe, t };
    for (int i = 0; i < 6; i++) rt_tensor_release(all[i]);
    return st;
}

static rt_status max_pool_bwd_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    return gather_at(gout[0], n->saved[0], &gin[0]);
}
static const rt_opdef op_max_pool_bwd = { "max_pool2d_backward", max_pool_bwd_backward, 0 };

rt_status rt_ad_max_pool2d_backward(const rt_tensor *gout, const rt_tensor *indices,
                                    const int64_t *x_shape, rt_tensor **gx)
{
    rt_tensor *y = NULL;
    rt_status st = rt_max_pool2d_backward(gout, indices, x_shape, &y);
    if (st != RT_OK) return st;
    return finish_indexed(&op_max_pool_bwd, gout, y, NULL, 0, (rt_tensor *)indices, gx);
}

/* ---- average pooling ------------------------------------------------------------------------
** iarg: kernel[2], stride[2], padding[2], ceil_mode, count_include_pad, then (backward op only)
** the x_shape. */
#define AVG_NARG 8

static void pack_avg(const rt_avgpool2d_opts *o, int64_t *a)
{
    const int v[AVG_NARG] = { o->kernel[0], o->kernel[1], o->stride[0], o->stride[1],
                              o->padding[0], o->padding[1], o->ceil_mode, o->count_include_pad };
    for (int i = 0; i < AVG_NARG; i++) a[i] = v[i];
}

static rt_avgpool2d_opts unpack_avg(const int64_t *a)
{
    rt_avgpool2d_opts o = { { (int)a[0], (int)a[1] }, { (int)a[2], (int)a[3] },
                            { (int)a[4], (int)a[5] }, (int)a[6], (int)a[7] };
    return o;
}

static rt_status avg_pool_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rt_avgpool2d_opts o = unpack_avg(n->iarg);
    return rt_ad_avg_pool2d_backward(gout[0], n->in[0]->shape, &o, &gin[0]);
}
static const rt_opdef op_avg_pool = { "avg_pool2d", avg_pool_backward, 0 };

rt_status rt_ad_avg_pool2d(const rt_tensor *x, const rt_avgpool2d_opts *o, rt_tensor **out)
{
    rt_tensor *y = NULL;
    rt_status st = rt_avg_pool2d(x, o, &y);
    if (st != RT_OK) return st;
    int64_t a[AVG_NARG];
    pack_avg(o, a);   /* the kernel refused o == NULL */
    return finish1(&op_avg_pool, x, y, a, AVG_NARG, out);
}

static rt_status avg_pool_bwd_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rt_avgpool2d_opts o = unpack_avg(n->iarg);
    return rt_ad_avg_pool2d(gout[0], &o, &gin[0]);
}
static const rt_opdef op_avg_pool_bwd = { "avg_pool2d_backward", avg_pool_bwd_backward, 0 };

rt_status rt_ad_avg_pool2d_backward(const rt_tensor *gout, const int64_t *x_shape,
                                    const rt_avgpool2d_opts *o, rt_tensor **gx)
{
    rt_tensor *y = NULL;
    rt_status st = rt_avg_pool2d_backward(gout, x_shape, o, &y);
    if (st != RT_OK) return st;
    int64_t a[AVG_NARG];
    pack_avg(o, a);
    return finish1(&op_avg_pool_bwd, gout, y, a, AVG_NARG, gx);
}

/* ---- adaptive average pooling (the output size is read from the tensors) -------------------- */
static rt_status adaptive_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    return rt_ad_adaptive_avg_pool2d_backward(gout[0], n->in[0]->shape, &gin[0]);
}
static const rt_opdef op_adaptive = { "adaptive_avg_pool2d", adaptive_backward, 0 };

rt_status rt_ad_adaptive_avg_pool2d(const rt_tensor *x, int64_t oh, int64_t ow, rt_tensor **out)
{
    rt_tensor *y = NULL;
    rt_status st = rt_adaptive_avg_pool2d(x, oh, ow, &y);
    return st != RT_OK ? st : finish1(&op_adaptive, x, y, NULL, 0, out);
}

static rt_status adaptive_bwd_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    const rt_tensor *g = n->in[0];
    return rt_ad_adaptive_avg_pool2d(gout[0], g->shape[g->ndim - 2], g->shape[g->ndim - 1],
                                     &gin[0]);
}
static const rt_opdef op_adaptive_bwd = { "adaptive_avg_pool2d_backward", adaptive_bwd_backward,
                                          0 };

rt_status rt_ad_adaptive_avg_pool2d_backward(const rt_tensor *gout, const int64_t *x_shape,
                                             rt_tensor **gx)
{
    rt_tensor *y = NULL;
    rt_status st = rt_adaptive_avg_pool2d_backward(gout, x_shape, &y);
    return st != RT_OK ? st : finish1(&op_adaptive_bwd, gout, y, NULL, 0, gx);
}

/* ---- upsampling: iarg[0] = mode, iarg[1] = align_corners ------------------------------------ */
static rt_status upsample_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    return rt_ad_upsample2d_backward(gout[0], n->in[0]->shape, (rt_upsample_mode)n->iarg[0],
                                     (int)n->iarg[1], &gin[0]);
}
static const rt_opdef op_upsample = { "upsample2d", upsample_backward, 0 };

rt_status rt_ad_upsample2d(const rt_tensor *x, int64_t oh, int64_t ow, rt_upsample_mode mode,
                           int align_corners, rt_tensor **out)
{
    rt_tensor *y = NULL;
    rt_status st = rt_upsample2d(x, oh, ow, mode, align_corners, &y);
    int64_t a[2] = { mode, align_corners != 0 };
    return st != RT_OK ? st : finish1(&op_upsample, x, y, a, 2, out);
}

static rt_status upsample_bwd_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    const rt_tensor *g = n->in[0];
    return rt_ad_upsample2d(gout[0], g->shape[g->ndim - 2], g->shape[g->ndim - 1],
                            (rt_upsample_mode)n->iarg[0], (int)n->iarg[1], &gin[0]);
}
static const rt_opdef op_upsample_bwd = { "upsample2d_backward", upsample_bwd_backward, 0 };

rt_status rt_ad_upsample2d_backward(const rt_tensor *gout, const int64_t *x_shape,
                                    rt_upsample_mode mode, int align_corners, rt_tensor **gx)
{
    rt_tensor *y = NULL;
    rt_status st = rt_upsample2d_backward(gout, x_shape, mode, align_corners, &y);
    int64_t a[2] = { mode, align_corners != 0 };
    return st != RT_OK ? st : finish1(&op_upsample_bwd, gout, y, a, 2, gx);
}

/* ---- padding: iarg[0] = npairs, iarg[1] = mode, iarg[2..] = pads ----------------------------
** The input shape of pad_backward is gout's minus the pads, so no shape needs storing. */
static int pack_pad(int npairs, const int64_t *pads, rt_pad_mode mode, int64_t *a)
{
    a[0] = npairs;
    a[1] = mode;
    if (npairs > 0) memcpy(a + 2, pads, (size_t)(2 * npairs) * sizeof *a);
    return 2 + 2 * npairs;
}

static rt_status pad_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    return rt_ad_pad_backward(gout[0], (int)n->iarg[0], n->iarg + 2, (rt_pad_mode)n->iarg[1],
                              n->in[0]->shape, &gin[0]);
}
static const rt_opdef op_pad = { "pad", pad_backward, 0 };

rt_status rt_ad_pad(const rt_tensor *x, int npairs, const int64_t *pads, rt_pad_mode mode,
                    double value, rt_tensor **out)
{
    rt_tensor *y = NULL;
    rt_status st = rt_pad(x, npairs, pads, mode, value, &y);
    if (st != RT_OK) return st;
    int64_t a[2 + 2 * RT_MAXDIM];   /* the kernel checked npairs <= ndim <= RT_MAXDIM */
    return finish1(&op_pad, x, y, a, pack_pad(npairs, pads, mode, a), out);
}

/* pad_backward is linear in gout with adjoint "pad with zeros" (whatever the constant was). */
static rt_status pad_bwd_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    return rt_ad_pad(gout[0], (int)n->iarg[0], n->iarg + 2, (rt_pad_mode)n->iarg[1], 0, &gin[0]);
}
static const rt_opdef op_pad_bwd = { "pad_backward", pad_bwd_backward, 0 };

rt_status rt_ad_pad_backward(const rt_tensor *gout, int npairs, const int64_t *pads,
                             rt_pad_mode mode, const int64_t *x_shape, rt_tensor **gx)
{
    rt_tensor *y = NULL;
    rt_status st = rt_pad_backward(gout, npairs, pads, mode, x_shape, &y);
    if (st != RT_OK) return st;
    int64_t a[2 + 2 * RT_MAXDIM];
    return finish1(&op_pad_bwd, gout, y, a, pack_pad(npairs, pads, mode, a), gx);
}
