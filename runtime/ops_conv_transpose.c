/* ops_conv_transpose.c — conv_transpose2d and its backward kernels.  A transposed convolution
** is the adjoint of conv2d with respect to its input, so its forward pass is conv2d's
** backward_input, its backward_input is conv2d's forward, and its weight gradient is conv2d's
** backward_weight with the roles of input and grad_output swapped: all run on conv_engine.c. */
#include <stdio.h>
#include "conv_impl.h"

#define XT "[N,C,H,W]"
#define WT "[C,O/groups,kh,kw]"
#define GT "[N,O,Ho,Wo]"

static const rt_conv_transpose2d_opts convt_default = { { 1, 1 }, { 0, 0 }, { 0, 0 }, { 1, 1 }, 1 };

static rt_status check_output_padding(const char *op, const rt_conv_transpose2d_opts *o)
{
    for (int a = 0; a < 2; a++) {
        int p = o->output_padding[a];
        if (p < 0 || (p >= o->stride[a] && p >= o->dilation[a]))
            return rt_fail(RT_EARG, -1, "%s: output_padding (%d,%d) must be >= 0 and smaller "
                           "than stride (%d,%d) or dilation (%d,%d) on each axis", op,
                           o->output_padding[0], o->output_padding[1], o->stride[0],
                           o->stride[1], o->dilation[0], o->dilation[1]);
    }
    return RT_OK;
}

/* xs: (N,C,H,W) the transposed conv's input  ws: (C,O/g,kh,kw).  The geometry is that of the
** conv2d whose input gradient this is: its input is our output (N,O,Ho,Wo) and its output is
** our input. */
static rt_status convt_geometry(const char *op, const int64_t *xs, const int64_t *ws,
                                const rt_conv_transpose2d_opts *o, rti_conv_geom *g)
{
    char s1[128], s2[128];
    int G = o->groups;
    rt_status st = rti_conv_check_opts(op, 2, o->stride, o->padding, o->dilation, G);
    if (st == RT_OK) st = check_output_padding(op, o);
    if (st != RT_OK) return st;
    rt_shape_str(4, xs, s1, sizeof s1);
    rt_shape_str(4, ws, s2, sizeof s2);
    if (xs[1] % G)
        return rt_fail(RT_ESHAPE, 0, "%s: groups=%d does not divide the %lld channels of input %s",
                       op, G, (long long)xs[1], s1);
    if (xs[1] != ws[0])
        return rt_fail(RT_ESHAPE, 0, "%s: input has %lld channels, weight expects %lld (weight %s "
                       "is %s)", op, (long long)xs[1], (long long)ws[0], s2, WT);
    if (ws[2] < 1 || ws[3] < 1)
        return rt_fail(RT_ESHAPE, 1, "%s: weight %s has an empty kernel", op, s2);
    if (xs[2] < 1 || xs[3] < 1)
        return rt_fail(RT_ESHAPE, 0, "%s: input %s has an empty spatial dimension (only N and C "
                       "may be 0)", op, s1);
    int64_t Ho = (xs[2] - 1) * o->stride[0] - 2 * (int64_t)o->padding[0] +
                 (int64_t)o->dilation[0] * (ws[2] - 1) + o->output_padding[0] + 1;
    int64_t Wo = (xs[3] - 1) * o->stride[1] - 2 * (int64_t)o->padding[1] +
                 (int64_t)o->dilation[1] * (ws[3] - 1) + o->output_padding[1] + 1;
    if (Ho < 1 || Wo < 1)
        return rt_fail(RT_ESHAPE, 0, "%s: output size would be %lldx%lld for input %s and weight "
                       "%s (padding (%d,%d)); it must be positive", op, (long long)Ho,
                       (long long)Wo, s1, s2, o->padding[0], o->padding[1]);
    *g = (rti_conv_geom){ .N = xs[0], .C = ws[1] * G, .H = Ho, .W = Wo, .O = xs[1],
                          .Ho = xs[2], .Wo = xs[3], .kh = ws[2], .kw = ws[3],
                          .sh = o->stride[0], .sw = o->stride[1], .ph = o->padding[0],
                          .pw = o->padding[1], .dh = o->dilation[0], .dw = o->dilation[1],
                          .groups = G };
    return RT_OK;
}

/* gy must be the transposed conv's output (N,O,Ho,Wo) = the geometry's conv input. */
static rt_status check_grad_out(const char *op, const rt_tensor *gy, const rti_conv_geom *g)
{
    char s1[128], s2[128], s3[128];
    int64_t want[4] = { g->N, g->C, g->H, g->W }, xs[4] = { g->N, g->O, g->Ho, g->Wo };
    if (gy->shape[0] == want[0] && gy->shape[1] == want[1] && gy->shape[2] == want[2] &&
        gy->shape[3] == want[3])
        return RT_OK;
    return rt_fail(RT_ESHAPE, 0, "%s: grad_output is %s, expected %s (the output for input %s)",
                   op, rt_shape_str(4, gy->shape, s1, sizeof s1),
                   rt_shape_str(4, want, s2, sizeof s2), rt_shape_str(4, xs, s3, sizeof s3));
}

static rt_status check_given_shape(const char *op, const char *what, const int64_t *s)
{
    char b[128];
    for (int i = 0; i < 4; i++)
        if (s[i] < 0)
            return rt_fail(RT_ESHAPE, 2, "%s: %s %s has a negative size", op, what,
                           rt_shape_str(4, s, b, sizeof b));
    return RT_OK;
}

/* Contiguous copies (or aliases) of a and b. */
static rt_status contig2(const rt_tensor *a, const rt_tensor *b, rt_tensor **ac, rt_tensor **bc)
{
    rt_status st = rt_contiguous(a, ac);
    if (st != RT_OK) return st;
    st = rt_contiguous(b, bc);
    if (st != RT_OK) rt_tensor_release(*ac);
    return st;
}

/* ---- forward: conv2d's input gradient, plus the bias --------------------------------------- */
/* x: (N,C,H,W)  w: (C,O/g,kh,kw)  b: (O) or NULL  out: (N,O,Ho,Wo) */
rt_status rt_conv_transpose2d(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b,
                              const rt_conv_transpose2d_opts *o, rt_tensor **out)
{
    const char *op = "conv_transpose2d";
    rti_conv_geom g;
    rt_tensor *xc, *wc, *bc = NULL, *y = NULL;
    if (o == NULL) o = &convt_default;
    rt_status st = rti_conv_check_rank(op, "input", XT, x, 4, 0);
    if (st == RT_OK) st = rti_conv_check_rank(op, "weight", WT, w, 4, 1);
    if (st == RT_OK) st = rti_conv_check_dtypes(op, x, "input", w, "weight", b, "bias");
    if (st == RT_OK) st = convt_geometry(op, x->shape, w->shape, o, &g);
    if (st == RT_OK) st = rti_conv_check_bias(op, b, g.C);
    if (st == RT_OK) st = contig2(x, w, &xc, &wc);
    if (st != RT_OK) return st;
    if (b) st = rt_contiguous(b, &bc);
    if (st == RT_OK) st = rt_empty(x->dtype, 4, (int64_t[]){ g.N, g.C, g.H, g.W }, &y);
    if (st == RT_OK)
        st = rti_conv_backward_input(&g, x->dtype, rt_tensor_data(xc), rt_tensor_data(wc),
                                     rt_tensor_data(y));
    if (st == RT_OK && bc)
        st = rti_conv_add_bias(x->dtype, rt_tensor_data(y), g.N, g.C, g.H * g.W,
                               rt_tensor_data(bc));
    rt_tensor_release(xc);
    rt_tensor_release(wc);
    rt_tensor_release(bc);
    if (st != RT_OK) {
        rt_tensor_release(y);
        return st;
    }
    *out = y;
    return RT_OK;
}

/* ---- backward: conv2d's forward for the input, conv2d's weight gradient ------------------- */
/* gout: (N,O,Ho,Wo)  w: (C,O/g,kh,kw)  gx: (N,C,H,W) */
rt_status rt_conv_transpose2d_backward_input(const rt_tensor *gout, const rt_tensor *w,
                                             const int64_t *x_shape,
                                             const rt_conv_transpose2d_opts *o, rt_tensor **gx)
{
    const char *op = "conv_transpose2d_backward_input";
    rti_conv_geom g;
    rt_tensor *gc, *wc, *r = NULL;
    if (o == NULL) o = &convt_default;
    rt_status st = rti_conv_check_rank(op, "grad_output", GT, gout, 4, 0);
    if (st == RT_OK) st = rti_conv_check_rank(op, "weight", WT, w, 4, 1);
    if (st == RT_OK) st = rti_conv_check_dtypes(op, gout, "grad_output", w, "weight", NULL, NULL);
    if (st == RT_OK) st = check_given_shape(op, "input shape", x_shape);
    if (st == RT_OK) st = convt_geometry(op, x_shape, w->shape, o, &g);
    if (st == RT_OK) st = check_grad_out(op, gout, &g);
    if (st == RT_OK) st = contig2(gout, w, &gc, &wc);
    if (st != RT_OK) return st;
    st = rt_empty(gout->dtype, 4, x_shape, &r);
    if (st == RT_OK)
        st = rti_conv_forward(&g, gout->dtype, rt_tensor_data(gc), rt_tensor_data(wc), NULL,
                              rt_tensor_data(r));
    rt_tensor_release(gc);
    rt_tensor_release(wc);
    if (st != RT_OK) {
        rt_tensor_release(r);
        return st;
    }
    *gx = r;
    return RT_OK;
}

/* gout: (N,O,Ho,Wo)  x: (N,C,H,W)  gw: (C,O/g,kh,kw) */
rt_status rt_conv_transpose2d_backward_weight(const rt_tensor *gout, const rt_tensor *x,
                                              const int64_t *w_shape,
                                              const rt_conv_transpose2d_opts *o,
                                              rt_tensor **gw)
{
    const char *op = "conv_transpose2d_backward_weight";
    rti_conv_geom g;
    rt_tensor *gc, *xc, *r = NULL;
    if (o == NULL) o = &convt_default;
    rt_status st = rti_conv_check_rank(op, "grad_output", GT, gout, 4, 0);
    if (st == RT_OK) st = rti_conv_check_rank(op, "input", XT, x, 4, 1);
    if (st == RT_OK) st = rti_conv_check_dtypes(op, gout, "grad_output", x, "input", NULL, NULL);
    if (st == RT_OK) st = check_given_shape(op, "weight shape", w_shape);
    if (st == RT_OK) st = convt_geometry(op, x->shape, w_shape, o, &g);
    if (st == RT_OK) st = check_grad_out(op, gout, &g);
    if (st == RT_OK) st = contig2(gout, x, &gc, &xc);
    if (st != RT_OK) return st;
    st = rt_empty(gout->dtype, 4, w_shape, &r);
    /* the conv2d view: its grad_output is our input x, its input is our grad_output */
    if (st == RT_OK)
        st = rti_conv_backward_weight(&g, gout->dtype, rt_tensor_data(xc), rt_tensor_data(gc),
                                      rt_tensor_data(r));
    rt_tensor_release(gc);
    rt_tensor_release(xc);
    if (st != RT_OK) {
        rt_tensor_release(r);
        return st;
    }
    *gw = r;
    return RT_OK;
}
