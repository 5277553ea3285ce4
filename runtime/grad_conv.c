/* grad_conv.c — autograd for convolutions: conv2d, conv1d, conv_transpose2d and the two
** backward kernels of conv2d as ops of their own.  Convolution is bilinear, so every partial
** derivative of these ops is again one of them:
**   conv2d(x, w)          d/dx: backward_input(g, w)      d/dw: backward_weight(g, x)
**   backward_input(g, w)  d/dg: conv2d(gg, w)              d/dw: backward_weight(g, gg)
**   backward_weight(g, x) d/dg: conv2d(x, gg)              d/dx: backward_input(g, gg)
** (gg is the incoming gradient), and conv_transpose2d is backward_input under another name.
** The family is closed, so create_graph works to any order.  The kernels are in ops_conv*.c. */
#include <string.h>
#include "internal.h"
#include "rt_autograd.h"
#include "rt_ad_shape.h"
#include "rt_ad_nn.h"

/* iarg layout shared by the conv2d-family nodes: stride[2], padding[2], dilation[2], groups,
** then per op: x_shape / w_shape (4) or output_padding (2). */
#define CONV_NARG 7

static const rt_conv2d_opts conv2d_default = { { 1, 1 }, { 0, 0 }, { 1, 1 }, 1 };

static void pack2d(const rt_conv2d_opts *o, int64_t *a)
{
    a[0] = o->stride[0];
    a[1] = o->stride[1];
    a[2] = o->padding[0];
    a[3] = o->padding[1];
    a[4] = o->dilation[0];
    a[5] = o->dilation[1];
    a[6] = o->groups;
}

static rt_conv2d_opts unpack2d(const int64_t *a)
{
    rt_conv2d_opts o = { { (int)a[0], (int)a[1] }, { (int)a[2], (int)a[3] },
                         { (int)a[4], (int)a[5] }, (int)a[6] };
    return o;
}

/* gb = gout summed over every dim but 1 (N,O,... -> O); differentiable (its backward is an
** expand).  Serves every conv op. */
static rt_status bias_grad(const rt_tensor *gout, rt_tensor **gb)
{
    int64_t s[RT_MAXDIM], O = gout->shape[1];
    for (int d = 0; d < gout->ndim; d++) s[d] = d == 1 ? O : 1;
    rt_tensor *t = NULL;
    rt_status st = rt_ad_sum_to(gout, gout->ndim, s, &t);
    if (st != RT_OK) return st;
    st = rt_ad_reshape(t, 1, &O, gb);
    rt_tensor_release(t);
    return st;
}

/* Records op over (x, w[, b]) with iarg a[0..narg). */
static rt_status finish3(const rt_opdef *op, const rt_tensor *x, const rt_tensor *w,
                         const rt_tensor *b, rt_tensor *o, const int64_t *a, int narg,
                         rt_tensor **out)
{
    rt_tensor *in[3] = { (rt_tensor *)x, (rt_tensor *)w, (rt_tensor *)b };
    return rti_finish(op, b ? 3 : 2, in, o, a, narg, out);
}

/* ---- conv2d -------------------------------------------------------------------------------- */
static rt_status conv2d_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rt_conv2d_opts o = unpack2d(n->iarg);
    const rt_tensor *x = n->in[0], *w = n->in[1];
    rt_status st = RT_OK;
    if (rt_node_needs(n, 0)) st = rt_ad_conv2d_backward_input(gout[0], w, x->shape, &o, &gin[0]);
    if (st == RT_OK && rt_node_needs(n, 1))
        st = rt_ad_conv2d_backward_weight(gout[0], x, w->shape, &o, &gin[1]);
    if (st == RT_OK && n->nin > 2 && rt_node_needs(n, 2)) st = bias_grad(gout[0], &gin[2]);
    return st;
}
static const rt_opdef op_conv2d = { "conv2d", conv2d_backward, 3u };

rt_status rt_ad_conv2d(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b,
                       const rt_conv2d_opts *o, rt_tensor **out)
{
    if (!o) o = &conv2d_default;
    rt_tensor *y = NULL;
    rt_status st = rt_conv2d(x, w, b, o, &y);
    if (st != RT_OK) return st;
    int64_t a[CONV_NARG];
    pack2d(o, a);
    return finish3(&op_conv2d, x, w, b, y, a, CONV_NARG, out);
}

/* ---- conv2d_backward_input: gx = B_in(g, w), linear in each of g and w ---------------------- */
static rt_status bwd_input_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rt_conv2d_opts o = unpack2d(n->iarg);
    const rt_tensor *g = n->in[0], *w = n->in[1];
    rt_status st = RT_OK;
    if (rt_node_needs(n, 0)) st = rt_ad_conv2d(gout[0], w, NULL, &o, &gin[0]);
    if (st == RT_OK && rt_node_needs(n, 1))
        st = rt_ad_conv2d_backward_weight(g, gout[0], w->shape, &o, &gin[1]);
    return st;
}
static const rt_opdef op_bwd_input = { "conv2d_backward_input", bwd_input_backward, 3u };

rt_status rt_ad_conv2d_backward_input(const rt_tensor *gout, const rt_tensor *w,
                                      const int64_t *x_shape, const rt_conv2d_opts *o,
                                      rt_tensor **gx)
{
    if (!o) o = &conv2d_default;
    rt_tensor *y = NULL;
    rt_status st = rt_conv2d_backward_input(gout, w, x_shape, o, &y);
    if (st != RT_OK) return st;
    int64_t a[CONV_NARG + 4];
    pack2d(o, a);
    memcpy(a + CONV_NARG, x_shape, 4 * sizeof *a);
    return finish3(&op_bwd_input, gout, w, NULL, y, a, CONV_NARG + 4, gx);
}

/* ---- conv2d_backward_weight: gw = B_w(g, x), linear in each of g and x ---------------------- */
static rt_status bwd_weight_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rt_conv2d_opts o = unpack2d(n->iarg);
    const rt_tensor *g = n->in[0], *x = n->in[1];
    rt_status st = RT_OK;
    if (rt_node_needs(n, 0)) st = rt_ad_conv2d(x, gout[0], NULL, &o, &gin[0]);
    if (st == RT_OK && rt_node_needs(n, 1))
        st = rt_ad_conv2d_backward_input(g, gout[0], x->shape, &o, &gin[1]);
    return st;
}
static const rt_opdef op_bwd_weight = { "conv2d_backward_weight", bwd_weight_backward, 3u };

rt_status rt_ad_conv2d_backward_weight(const rt_tensor *gout, const rt_tensor *x,
                                       const int64_t *w_shape, const rt_conv2d_opts *o,
                                       rt_tensor **gw)
{
    if (!o) o = &conv2d_default;
    rt_tensor *y = NULL;
    rt_status st = rt_conv2d_backward_weight(gout, x, w_shape, o, &y);
    if (st != RT_OK) return st;
    int64_t a[CONV_NARG + 4];
    pack2d(o, a);
    memcpy(a + CONV_NARG, w_shape, 4 * sizeof *a);
    return finish3(&op_bwd_weight, gout, x, NULL, y, a, CONV_NARG + 4, gw);
}

/* ---- padding='same' ------------------------------------------------------------------------ */
/* Symmetric part of 'same' padding into *o; extra[ax] = 1 where the total is odd (that axis
** needs one more zero row/column after the input, as PyTorch pads). */
static void same_padding(const int64_t *k, const int *dilation, int *padding, int *extra)
{
    for (int ax = 0; ax < 2; ax++) {
        int64_t total = (int64_t)dilation[ax] * (k[ax] - 1);
        padding[ax] = (int)(total / 2);
        extra[ax] = (int)(total % 2);
    }
}

static rt_status same_stride_error(const char *op, const int *stride, int nsp)
{
    if (nsp == 1)
        return rt_fail(RT_EARG, -1, "%s: padding='same' needs stride 1 (as in PyTorch), got "
                       "stride %d", op, stride[1]);
    return rt_fail(RT_EARG, -1, "%s: padding='same' needs stride 1 (as in PyTorch), got stride "
                   "(%d,%d)", op, stride[0], stride[1]);
}

rt_status rt_ad_conv2d_same(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b,
                            const rt_conv2d_opts *o, rt_tensor **out)
{
    rt_conv2d_opts so = o ? *o : conv2d_default;
    if (so.stride[0] != 1 || so.stride[1] != 1) return same_stride_error("conv2d", so.stride, 2);
    so.padding[0] = so.padding[1] = 0;
    /* bad ranks, dilations or kernels: let conv2d report them in its own words */
    if (x->ndim != 4 || w->ndim != 4 || so.dilation[0] < 1 || so.dilation[1] < 1 ||
        w->shape[2] < 1 || w->shape[3] < 1)
        return rt_ad_conv2d(x, w, b, &so, out);
    int extra[2];
    same_padding(w->shape + 2, so.dilation, so.padding, extra);
    if (!extra[0] && !extra[1]) return rt_ad_conv2d(x, w, b, &so, out);
    int64_t pads[4] = { 0, extra[1], 0, extra[0] };   /* F.pad order: W first */
    rt_tensor *xp = NULL;
    rt_status st = rt_ad_pad(x, 2, pads, RT_PAD_CONSTANT, 0, &xp);
    if (st != RT_OK) return st;
    st = rt_ad_conv2d(xp, w, b, &so, out);
    rt_tensor_release(xp);
    return st;
}

/* ---- conv1d: the kernel forward, the backward through conv2d on H = 1 views ------------------ */
static rt_conv2d_opts opts_1to2(const rt_conv1d_opts *o)
{
    rt_conv2d_opts o2 = { { 1, o->stride }, { 0, o->padding }, { 1, o->dilation }, o->groups };
    return o2;
}

/* f(unsqueeze(a, 2), unsqueeze(b, 2)) squeezed back: the conv2d-family op on H = 1 views.
** which: 0 backward_input (a = g, b = w), 1 backward_weight (a = g, b = x). */
static rt_status via_2d(int which, const rt_tensor *a, const rt_tensor *b, const int64_t *shape3,
                        const rt_conv2d_opts *o2, rt_tensor **out)
{
    rt_tensor *a4 = NULL, *b4 = NULL, *r = NULL;
    int64_t s4[4] = { shape3[0], shape3[1], 1, shape3[2] };
    rt_status st = rt_ad_unsqueeze(a, 2, &a4);
    if (st == RT_OK) st = rt_ad_unsqueeze(b, 2, &b4);
    if (st == RT_OK)
        st = which == 0 ? rt_ad_conv2d_backward_input(a4, b4, s4, o2, &r)
                        : rt_ad_conv2d_backward_weight(a4, b4, s4, o2, &r);
    if (st == RT_OK) st = rt_ad_squeeze(r, 2, out);
    rt_tensor_release(a4);
    rt_tensor_release(b4);
    rt_tensor_release(r);
    return st;
}

static rt_status conv1d_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rt_conv1d_opts o = { (int)n->iarg[0], (int)n->iarg[1], (int)n->iarg[2], (int)n->iarg[3] };
    rt_conv2d_opts o2 = opts_1to2(&o);
    const rt_tensor *x = n->in[0], *w = n->in[1];
    rt_status st = RT_OK;
    if (rt_node_needs(n, 0)) st = via_2d(0, gout[0], w, x->shape, &o2, &gin[0]);
    if (st == RT_OK && rt_node_needs(n, 1)) st = via_2d(1, gout[0], x, w->shape, &o2, &gin[1]);
    if (st == RT_OK && n->nin > 2 && rt_node_needs(n, 2)) st = bias_grad(gout[0], &gin[2]);
    return st;
}
static const rt_opdef op_conv1d = { "conv1d", conv1d_backward, 3u };

rt_status rt_ad_conv1d(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b,
                       const rt_conv1d_opts *o, rt_tensor **out)
{
    static const rt_conv1d_opts def = { 1, 0, 1, 1 };
    if (!o) o = &def;
    rt_tensor *y = NULL;
    rt_status st = rt_conv1d(x, w, b, o, &y);
    if (st != RT_OK) return st;
    int64_t a[4] = { o->stride, o->padding, o->dilation, o->groups };
    return finish3(&op_conv1d, x, w, b, y, a, 4, out);
}

rt_status rt_ad_conv1d_same(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b,
                            const rt_conv1d_opts *o, rt_tensor **out)
{
    rt_conv1d_opts so = o ? *o : (rt_conv1d_opts){ 1, 0, 1, 1 };
    int stride[2] = { 1, so.stride };
    if (so.stride != 1) return same_stride_error("conv1d", stride, 1);
    so.padding = 0;
    if (x->ndim != 3 || w->ndim != 3 || so.dilation < 1 || w->shape[2] < 1)
        return rt_ad_conv1d(x, w, b, &so, out);
    int64_t total = (int64_t)so.dilation * (w->shape[2] - 1);
    so.padding = (int)(total / 2);
    if (total % 2 == 0) return rt_ad_conv1d(x, w, b, &so, out);
    int64_t pads[2] = { 0, 1 };
    rt_tensor *xp = NULL;
    rt_status st = rt_ad_pad(x, 1, pads, RT_PAD_CONSTANT, 0, &xp);
    if (st != RT_OK) return st;
    st = rt_ad_conv1d(xp, w, b, &so, out);
    rt_tensor_release(xp);
    return st;
}

/* ---- conv_transpose2d ---------------------------------------------------------------------
** y = conv_transpose2d(x, w) is backward_input(x, w) for a conv2d with the same options taking
** y's shape to x's.  When output_padding >= stride (allowed if dilation is larger), that conv2d
** gives H' > H rows: the extra rows of dL/dx are dropped, and x is seen zero-padded to H' for
** the weight gradient.  iarg: the conv2d options, then output_padding[2]. */
static rt_status ct_grad_input(const rt_tensor *gout, const rt_tensor *w, const rt_tensor *x,
                               const rt_conv2d_opts *o, const int64_t *hw, rt_tensor **gx)
{
    rt_tensor *t = NULL, *u = NULL;
    rt_status st = rt_ad_conv2d(gout, w, NULL, o, &t);
    if (st != RT_OK) return st;
    if (hw[0] == x->shape[2] && hw[1] == x->shape[3]) {
        *gx = t;
        return RT_OK;
    }
    st = rt_ad_narrow(t, 2, 0, x->shape[2], &u);
    if (st == RT_OK) st = rt_ad_narrow(u, 3, 0, x->shape[3], gx);
    rt_tensor_release(t);
    rt_tensor_release(u);
    return st;
}

static rt_status ct_grad_weight(const rt_tensor *gout, const rt_tensor *w, const rt_tensor *x,
                                const rt_conv2d_opts *o, const int64_t *hw, rt_tensor **gw)
{
    if (hw[0] == x->shape[2] && hw[1] == x->shape[3])
        return rt_ad_conv2d_backward_weight(x, gout, w->shape, o, gw);
    int64_t pads[4] = { 0, hw[1] - x->shape[3], 0, hw[0] - x->shape[2] };
    rt_tensor *xp = NULL;
    rt_status st = rt_ad_pad(x, 2, pads, RT_PAD_CONSTANT, 0, &xp);
    if (st == RT_OK) st = rt_ad_conv2d_backward_weight(xp, gout, w->shape, o, gw);
    rt_tensor_release(xp);
    return st;
}

static rt_status conv_t_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rt_conv2d_opts o = unpack2d(n->iarg);
    const rt_tensor *x = n->in[0], *w = n->in[1], *g = gout[0];
    int64_t hw[2];   /* the size conv2d maps gout's H, W to */
    for (int ax = 0; ax < 2; ax++)
        hw[ax] = (g->shape[2 + ax] + 2 * o.padding[ax] - o.dilation[ax] * (w->shape[2 + ax] - 1)
                  - 1) / o.stride[ax] + 1;
    rt_status st = RT_OK;
    if (rt_node_needs(n, 0)) st = ct_grad_input(g, w, x, &o, hw, &gin[0]);
    if (st == RT_OK && rt_node_needs(n, 1)) st = ct_grad_weight(g, w, x, &o, hw, &gin[1]);
    if (st == RT_OK && n->nin > 2 && rt_node_needs(n, 2)) st = bias_grad(g, &gin[2]);
    return st;
}
static const rt_opdef op_conv_t = { "conv_transpose2d", conv_t_backward, 3u };

rt_status rt_ad_conv_transpose2d(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b,
                                 const rt_conv_transpose2d_opts *o, rt_tensor **out)
{
    static const rt_conv_transpose2d_opts def = { { 1, 1 }, { 0, 0 }, { 0, 0 }, { 1, 1 }, 1 };
    if (!o) o = &def;
    rt_tensor *y = NULL;
    rt_status st = rt_conv_transpose2d(x, w, b, o, &y);
    if (st != RT_OK) return st;
    rt_conv2d_opts o2 = { { o->stride[0], o->stride[1] }, { o->padding[0], o->padding[1] },
                          { o->dilation[0], o->dilation[1] }, o->groups };
    int64_t a[CONV_NARG + 2];
    pack2d(&o2, a);
    a[CONV_NARG] = o->output_padding[0];
    a[CONV_NARG + 1] = o->output_padding[1];
    return finish3(&op_conv_t, x, w, b, y, a, CONV_NARG + 2, out);
}
