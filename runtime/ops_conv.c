/* ops_conv.c — conv2d and conv1d (forward, backward input/weight/bias) and the naive reference:
** argument checks with PyTorch's semantics, contiguous copies, then conv_engine.c does the
** work.  conv1d is conv2d on views with H = 1.  conv_transpose2d is in ops_conv_transpose.c. */
#include <stdio.h>
#include "conv_impl.h"

static const rt_conv2d_opts conv2d_default = { { 1, 1 }, { 0, 0 }, { 1, 1 }, 1 };

/* ---- shared checks ----------------------------------------------------------------------- */
char *rti_conv_shape_str(int nsp, int ndim, const int64_t *s, char *buf, size_t len)
{
    if (nsp == 1 && ndim == 4) {
        int64_t s3[3] = { s[0], s[1], s[3] };
        return rt_shape_str(3, s3, buf, len);
    }
    return rt_shape_str(ndim, s, buf, len);
}

rt_status rti_conv_check_rank(const char *op, const char *what, const char *layout,
                              const rt_tensor *t, int ndim, int operand)
{
    char s[128];
    if (t->ndim == ndim) return RT_OK;
    return rt_fail(RT_ESHAPE, operand, "%s: %s must be %s, got %s", op, what, layout,
                   rt_shape_str(t->ndim, t->shape, s, sizeof s));
}

rt_status rti_conv_check_dtypes(const char *op, const rt_tensor *a, const char *an,
                                const rt_tensor *b, const char *bn, const rt_tensor *c,
                                const char *cn)
{
    if (a->dtype != RT_F32 && a->dtype != RT_F64)
        return rt_fail(RT_EDTYPE, 0, "%s: %s is %s; expected f32 or f64", op, an,
                       rt_dtype_name(a->dtype));
    if (b->dtype != a->dtype)
        return rt_fail(RT_EDTYPE, 1, "%s: %s is %s but %s is %s", op, bn,
                       rt_dtype_name(b->dtype), an, rt_dtype_name(a->dtype));
    if (c && c->dtype != a->dtype)
        return rt_fail(RT_EDTYPE, 2, "%s: %s is %s but %s is %s", op, cn,
                       rt_dtype_name(c->dtype), an, rt_dtype_name(a->dtype));
    return RT_OK;
}

rt_status rti_conv_check_bias(const char *op, const rt_tensor *b, int64_t O)
{
    char s[128];
    if (b == NULL || (b->ndim == 1 && b->shape[0] == O)) return RT_OK;
    return rt_fail(RT_ESHAPE, 2, "%s: bias must be [%lld] (one per output channel), got %s", op,
                   (long long)O, rt_shape_str(b->ndim, b->shape, s, sizeof s));
}

static char *pair_str(int nsp, const int *v, char *buf, size_t len)
{
    if (nsp == 1) snprintf(buf, len, "%d", v[1]);
    else snprintf(buf, len, "(%d,%d)", v[0], v[1]);
    return buf;
}

rt_status rti_conv_check_opts(const char *op, int nsp, const int *stride, const int *padding,
                              const int *dilation, int groups)
{
    char s[64];
    if (stride[0] < 1 || stride[1] < 1)
        return rt_fail(RT_EARG, -1, "%s: stride must be >= 1, got %s", op,
                       pair_str(nsp, stride, s, sizeof s));
    if (padding[0] < 0 || padding[1] < 0)
        return rt_fail(RT_EARG, -1, "%s: padding must be >= 0, got %s", op,
                       pair_str(nsp, padding, s, sizeof s));
    if (dilation[0] < 1 || dilation[1] < 1)
        return rt_fail(RT_EARG, -1, "%s: dilation must be >= 1, got %s", op,
                       pair_str(nsp, dilation, s, sizeof s));
    if (groups < 1) return rt_fail(RT_EARG, -1, "%s: groups must be >= 1, got %d", op, groups);
    return RT_OK;
}

/* xs: (N,C,H,W)  ws: (O,C/g,kh,kw) -> the geometry; messages show shapes at the op's rank */
static rt_status conv_geometry(const char *op, int nsp, const int64_t *xs, const int64_t *ws,
                               const rt_conv2d_opts *o, rti_conv_geom *g)
{
    char s1[128], s2[128], k[64], p[64];
    int G = o->groups;
    rt_status st = rti_conv_check_opts(op, nsp, o->stride, o->padding, o->dilation, G);
    if (st != RT_OK) return st;
    rti_conv_shape_str(nsp, 4, xs, s1, sizeof s1);
    rti_conv_shape_str(nsp, 4, ws, s2, sizeof s2);
    if (ws[0] % G)
        return rt_fail(RT_ESHAPE, 1, "%s: groups=%d does not divide the %lld output channels of "
                       "weight %s", op, G, (long long)ws[0], s2);
    if (xs[1] % G)
        return rt_fail(RT_ESHAPE, 0, "%s: groups=%d does not divide the %lld channels of input %s",
                       op, G, (long long)xs[1], s1);
    if (xs[1] != ws[1] * G)
        return rt_fail(RT_ESHAPE, 0, "%s: input has %lld channels, weight expects %lld (groups=%d)",
                       op, (long long)xs[1], (long long)(ws[1] * G), G);
    if (ws[2] < 1 || ws[3] < 1)
        return rt_fail(RT_ESHAPE, 1, "%s: weight %s has an empty kernel", op, s2);
    if (xs[2] < 1 || xs[3] < 1)
        return rt_fail(RT_ESHAPE, 0, "%s: input %s has an empty spatial dimension (only N and C "
                       "may be 0)", op, s1);
    int64_t dkh = (int64_t)o->dilation[0] * (ws[2] - 1) + 1;
    int64_t dkw = (int64_t)o->dilation[1] * (ws[3] - 1) + 1;
    if (xs[2] + 2 * (int64_t)o->padding[0] < dkh || xs[3] + 2 * (int64_t)o->padding[1] < dkw) {
        if (nsp == 1) snprintf(k, sizeof k, "%lld", (long long)dkw);
        else snprintf(k, sizeof k, "%lldx%lld", (long long)dkh, (long long)dkw);
        if (nsp == 1 || o->padding[0] == o->padding[1]) snprintf(p, sizeof p, "%d", o->padding[1]);
        else snprintf(p, sizeof p, "%dx%d", o->padding[0], o->padding[1]);
        return rt_fail(RT_ESHAPE, 0, "%s: input %s is smaller than the dilated kernel %s "
                       "(padding %s)", op, s1, k, p);
    }
    *g = (rti_conv_geom){ .N = xs[0], .C = xs[1], .H = xs[2], .W = xs[3], .O = ws[0],
                          .Ho = (xs[2] + 2 * o->padding[0] - dkh) / o->stride[0] + 1,
                          .Wo = (xs[3] + 2 * o->padding[1] - dkw) / o->stride[1] + 1,
                          .kh = ws[2], .kw = ws[3], .sh = o->stride[0], .sw = o->stride[1],
                          .ph = o->padding[0], .pw = o->padding[1], .dh = o->dilation[0],
                          .dw = o->dilation[1], .groups = G };
    return RT_OK;
}

/* A user-given shape (x_shape / w_shape of the backward functions) has no negative size. */
static rt_status check_given_shape(const char *op, int nsp, const char *what, const int64_t *s)
{
    char b[128];
    for (int i = 0; i < 4; i++)
        if (s[i] < 0)
            return rt_fail(RT_ESHAPE, 2, "%s: %s %s has a negative size", op, what,
                           rti_conv_shape_str(nsp, 4, s, b, sizeof b));
    return RT_OK;
}

/* gy must be exactly the forward output (N,O,Ho,Wo) of the geometry. */
static rt_status check_grad_out(const char *op, int nsp, const rt_tensor *gy,
                                const rti_conv_geom *g)
{
    char s1[128], s2[128], s3[128];
    int64_t want[4] = { g->N, g->O, g->Ho, g->Wo }, xs[4] = { g->N, g->C, g->H, g->W };
    if (gy->ndim == 4 && gy->shape[0] == want[0] && gy->shape[1] == want[1] &&
        gy->shape[2] == want[2] && gy->shape[3] == want[3])
        return RT_OK;
    return rt_fail(RT_ESHAPE, 0, "%s: grad_output is %s, expected %s (the output for input %s)",
                   op, rti_conv_shape_str(nsp, gy->ndim, gy->shape, s1, sizeof s1),
                   rti_conv_shape_str(nsp, 4, want, s2, sizeof s2),
                   rti_conv_shape_str(nsp, 4, xs, s3, sizeof s3));
}

/* Contiguous copies (or aliases) of up to three operands; NULL in, NULL out. */
static rt_status contig3(const rt_tensor *a, const rt_tensor *b, const rt_tensor *c,
                         rt_tensor **ac, rt_tensor **bc, rt_tensor **cc)
{
    *ac = *bc = *cc = NULL;
    rt_status st = rt_contiguous(a, ac);
    if (st == RT_OK) st = rt_contiguous(b, bc);
    if (st == RT_OK && c) st = rt_contiguous(c, cc);
    if (st != RT_OK) {
        rt_tensor_release(*ac);
        rt_tensor_release(*bc);
        *ac = *bc = NULL;
    }
    return st;
}

static void release3(rt_tensor *a, rt_tensor *b, rt_tensor *c)
{
    rt_tensor_release(a);
    rt_tensor_release(b);
    rt_tensor_release(c);
}

static const void *data_or_null(const rt_tensor *t) { return t ? rt_tensor_data(t) : NULL; }

/* ---- conv2d (nsp = 2) and conv1d (nsp = 1, as H = 1) on 4-D operands --------------------- */
static rt_status forward_checks(const char *op, int nsp, const rt_tensor *x, const rt_tensor *w,
                                const rt_tensor *b, const rt_conv2d_opts *o, rti_conv_geom *g)
{
    rt_status st = rti_conv_check_dtypes(op, x, "input", w, "weight", b, "bias");
    if (st == RT_OK) st = conv_geometry(op, nsp, x->shape, w->shape, o, g);
    if (st == RT_OK) st = rti_conv_check_bias(op, b, g->O);
    return st;
}

/* x: (N,C,H,W)  w: (O,C/g,kh,kw)  b: (O) or NULL  out: (N,O,Ho,Wo) */
static rt_status forward4(const char *op, int nsp, const rt_tensor *x, const rt_tensor *w,
                          const rt_tensor *b, const rt_conv2d_opts *o, rt_tensor **out)
{
    rti_conv_geom g;
    rt_tensor *xc, *wc, *bc, *y = NULL;
    rt_status st = forward_checks(op, nsp, x, w, b, o, &g);
    if (st == RT_OK) st = contig3(x, w, b, &xc, &wc, &bc);
    if (st != RT_OK) return st;
    st = rt_empty(x->dtype, 4, (int64_t[]){ g.N, g.O, g.Ho, g.Wo }, &y);
    if (st == RT_OK)
        st = rti_conv_forward(&g, x->dtype, rt_tensor_data(xc), rt_tensor_data(wc),
                              data_or_null(bc), rt_tensor_data(y));
    release3(xc, wc, bc);
    if (st != RT_OK) {
        rt_tensor_release(y);
        return st;
    }
    *out = y;
    return RT_OK;
}

/* gy: (N,O,Ho,Wo)  w: (O,C/g,kh,kw)  xs: (N,C,H,W)  gx: (N,C,H,W) */
static rt_status backward_input4(const char *op, int nsp, const rt_tensor *gy, const rt_tensor *w,
                                 const int64_t *xs, const rt_conv2d_opts *o, rt_tensor **gx)
{
    rti_conv_geom g;
    rt_tensor *gc, *wc, *unused, *r = NULL;
    rt_status st = rti_conv_check_dtypes(op, gy, "grad_output", w, "weight", NULL, NULL);
    if (st == RT_OK) st = check_given_shape(op, nsp, "input shape", xs);
    if (st == RT_OK) st = conv_geometry(op, nsp, xs, w->shape, o, &g);
    if (st == RT_OK) st = check_grad_out(op, nsp, gy, &g);
    if (st == RT_OK) st = contig3(gy, w, NULL, &gc, &wc, &unused);
    if (st != RT_OK) return st;
    st = rt_empty(gy->dtype, 4, xs, &r);
    if (st == RT_OK)
        st = rti_conv_backward_input(&g, gy->dtype, rt_tensor_data(gc), rt_tensor_data(wc),
                                     rt_tensor_data(r));
    release3(gc, wc, NULL);
    if (st != RT_OK) {
        rt_tensor_release(r);
        return st;
    }
    *gx = r;
    return RT_OK;
}

/* gy: (N,O,Ho,Wo)  x: (N,C,H,W)  ws: (O,C/g,kh,kw)  gw: (O,C/g,kh,kw) */
static rt_status backward_weight4(const char *op, int nsp, const rt_tensor *gy,
                                  const rt_tensor *x, const int64_t *ws, const rt_conv2d_opts *o,
                                  rt_tensor **gw)
{
    rti_conv_geom g;
    rt_tensor *gc, *xc, *unused, *r = NULL;
    rt_status st = rti_conv_check_dtypes(op, gy, "grad_output", x, "input", NULL, NULL);
    if (st == RT_OK) st = check_given_shape(op, nsp, "weight shape", ws);
    if (st == RT_OK) st = conv_geometry(op, nsp, x->shape, ws, o, &g);
    if (st == RT_OK) st = check_grad_out(op, nsp, gy, &g);
    if (st == RT_OK) st = contig3(gy, x, NULL, &gc, &xc, &unused);
    if (st != RT_OK) return st;
    st = rt_empty(gy->dtype, 4, ws, &r);
    if (st == RT_OK)
        st = rti_conv_backward_weight(&g, gy->dtype, rt_tensor_data(gc), rt_tensor_data(xc),
                                      rt_tensor_data(r));
    release3(gc, xc, NULL);
    if (st != RT_OK) {
        rt_tensor_release(r);
        return st;
    }
    *gw = r;
    return RT_OK;
}

/* ---- conv2d ------------------------------------------------------------------------------ */
#define X4 "[N,C,H,W]"
#define W4 "[O,C/groups,kh,kw]"
#define G4 "[N,O,Ho,Wo]"

rt_status rt_conv2d(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b,
                    const rt_conv2d_opts *o, rt_tensor **out)
{
    rt_status st = rti_conv_check_rank("conv2d", "input", X4, x, 4, 0);
    if (st == RT_OK) st = rti_conv_check_rank("conv2d", "weight", W4, w, 4, 1);
    if (st != RT_OK) return st;
    return forward4("conv2d", 2, x, w, b, o ? o : &conv2d_default, out);
}

rt_status rt_conv2d_backward_input(const rt_tensor *gout, const rt_tensor *w,
                                   const int64_t *x_shape, const rt_conv2d_opts *o,
                                   rt_tensor **gx)
{
    const char *op = "conv2d_backward_input";
    rt_status st = rti_conv_check_rank(op, "grad_output", G4, gout, 4, 0);
    if (st == RT_OK) st = rti_conv_check_rank(op, "weight", W4, w, 4, 1);
    if (st != RT_OK) return st;
    return backward_input4(op, 2, gout, w, x_shape, o ? o : &conv2d_default, gx);
}

rt_status rt_conv2d_backward_weight(const rt_tensor *gout, const rt_tensor *x,
                                    const int64_t *w_shape, const rt_conv2d_opts *o,
                                    rt_tensor **gw)
{
    const char *op = "conv2d_backward_weight";
    rt_status st = rti_conv_check_rank(op, "grad_output", G4, gout, 4, 0);
    if (st == RT_OK) st = rti_conv_check_rank(op, "input", X4, x, 4, 1);
    if (st != RT_OK) return st;
    return backward_weight4(op, 2, gout, x, w_shape, o ? o : &conv2d_default, gw);
}

rt_status rt_conv2d_backward_bias(const rt_tensor *gout, rt_tensor **gb)
{
    const char *op = "conv2d_backward_bias";
    char s[128];
    if (gout->ndim < 2)
        return rt_fail(RT_ESHAPE, 0, "%s: grad_output must be [N,O,...], got %s", op,
                       rt_shape_str(gout->ndim, gout->shape, s, sizeof s));
    rt_status st = rti_conv_check_dtypes(op, gout, "grad_output", gout, "grad_output", NULL,
                                         NULL);
    if (st != RT_OK) return st;
    int64_t N = gout->shape[0], O = gout->shape[1], P = 1;
    for (int i = 2; i < gout->ndim; i++) P *= gout->shape[i];
    rt_tensor *gc, *r = NULL;
    if ((st = rt_contiguous(gout, &gc)) != RT_OK) return st;
    st = rt_empty(gout->dtype, 1, &O, &r);
    if (st == RT_OK)
        st = rti_conv_bias_grad(gout->dtype, rt_tensor_data(gc), N, O, P, rt_tensor_data(r));
    rt_tensor_release(gc);
    if (st != RT_OK) {
        rt_tensor_release(r);
        return st;
    }
    *gb = r;
    return RT_OK;
}

/* ---- conv1d: views with a size-1 H axis ------------------------------------------------- */
#define X3 "[N,C,L]"
#define W3 "[O,C/groups,k]"
#define G3 "[N,O,Lo]"

static rt_conv2d_opts opts_from_1d(const rt_conv1d_opts *o)
{
    static const rt_conv1d_opts def = { 1, 0, 1, 1 };
    if (o == NULL) o = &def;
    return (rt_conv2d_opts){ { 1, o->stride }, { 0, o->padding }, { 1, o->dilation }, o->groups };
}

/* Two (A,B,L) operands viewed as (A,B,1,L). */
static rt_status views4(const rt_tensor *a, const rt_tensor *b, rt_tensor **a4, rt_tensor **b4)
{
    rt_status st = rt_view_unsqueeze(a, 2, a4);
    if (st != RT_OK) return st;
    st = rt_view_unsqueeze(b, 2, b4);
    if (st != RT_OK) rt_tensor_release(*a4);
    return st;
}

/* (A,B,1,L) -> (A,B,L); consumes r4. */
static rt_status view3(rt_status st, rt_tensor *r4, rt_tensor **out)
{
    rt_tensor *v;
    if (st == RT_OK && (st = rt_view_squeeze(r4, 2, &v)) == RT_OK) *out = v;
    rt_tensor_release(r4);
    return st;
}

rt_status rt_conv1d(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b,
                    const rt_conv1d_opts *o, rt_tensor **out)
{
    rt_tensor *x4, *w4, *r4 = NULL;
    rt_conv2d_opts o2 = opts_from_1d(o);
    rt_status st = rti_conv_check_rank("conv1d", "input", X3, x, 3, 0);
    if (st == RT_OK) st = rti_conv_check_rank("conv1d", "weight", W3, w, 3, 1);
    if (st == RT_OK) st = views4(x, w, &x4, &w4);
    if (st != RT_OK) return st;
    st = forward4("conv1d", 1, x4, w4, b, &o2, &r4);
    release3(x4, w4, NULL);
    return view3(st, r4, out);
}

rt_status rt_conv1d_backward_input(const rt_tensor *gout, const rt_tensor *w,
                                   const int64_t *x_shape, const rt_conv1d_opts *o,
                                   rt_tensor **gx)
{
    const char *op = "conv1d_backward_input";
    rt_tensor *g4, *w4, *r4 = NULL;
    rt_conv2d_opts o2 = opts_from_1d(o);
    int64_t xs[4] = { x_shape[0], x_shape[1], 1, x_shape[2] };
    rt_status st = rti_conv_check_rank(op, "grad_output", G3, gout, 3, 0);
    if (st == RT_OK) st = rti_conv_check_rank(op, "weight", W3, w, 3, 1);
    if (st == RT_OK) st = views4(gout, w, &g4, &w4);
    if (st != RT_OK) return st;
    st = backward_input4(op, 1, g4, w4, xs, &o2, &r4);
    release3(g4, w4, NULL);
    return view3(st, r4, gx);
}

rt_status rt_conv1d_backward_weight(const rt_tensor *gout, const rt_tensor *x,
                                    const int64_t *w_shape, const rt_conv1d_opts *o,
                                    rt_tensor **gw)
{
    const char *op = "conv1d_backward_weight";
    rt_tensor *g4, *x4, *r4 = NULL;
    rt_conv2d_opts o2 = opts_from_1d(o);
    int64_t ws[4] = { w_shape[0], w_shape[1], 1, w_shape[2] };
    rt_status st = rti_conv_check_rank(op, "grad_output", G3, gout, 3, 0);
    if (st == RT_OK) st = rti_conv_check_rank(op, "input", X3, x, 3, 1);
    if (st == RT_OK) st = views4(gout, x, &g4, &x4);
    if (st != RT_OK) return st;
    st = backward_weight4(op, 1, g4, x4, ws, &o2, &r4);
    release3(g4, x4, NULL);
    return view3(st, r4, gw);
}

/* ---- the naive reference ----------------------------------------------------------------- */
/* x: (N,C,H,W)  w: (O,C/g,kh,kw)  b: (O) or NULL  y: (N,O,Ho,Wo), all f64 contiguous */
static void ref_loops(const rti_conv_geom *g, const double *x, const double *w, const double *b,
                      double *y)
{
    int64_t Cg = g->C / g->groups, Og = g->O / g->groups;
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t o = 0; o < g->O; o++)
            for (int64_t oh = 0; oh < g->Ho; oh++)
                for (int64_t ow = 0; ow < g->Wo; ow++) {
                    double acc = b ? b[o] : 0;
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t i = 0; i < g->kh; i++)
                            for (int64_t j = 0; j < g->kw; j++) {
                                int64_t ih = oh * g->sh - g->ph + i * g->dh;
                                int64_t iw = ow * g->sw - g->pw + j * g->dw;
                                if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W) continue;
                                int64_t ch = o / Og * Cg + c;
                                acc += x[((n * g->C + ch) * g->H + ih) * g->W + iw] *
                                       w[((o * Cg + c) * g->kh + i) * g->kw + j];
                            }
                    y[((n * g->O + o) * g->Ho + oh) * g->Wo + ow] = acc;
                }
}

rt_status rt_conv2d_ref(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b,
                        const rt_conv2d_opts *o, rt_tensor **out)
{
    rti_conv_geom g;
    rt_tensor *xd = NULL, *wd = NULL, *bd = NULL, *yd = NULL;
    rt_status st = rti_conv_check_rank("conv2d", "input", X4, x, 4, 0);
    if (st == RT_OK) st = rti_conv_check_rank("conv2d", "weight", W4, w, 4, 1);
    if (st == RT_OK) st = forward_checks("conv2d", 2, x, w, b, o ? o : &conv2d_default, &g);
    if (st == RT_OK) st = rt_to_dtype(x, RT_F64, &xd);
    if (st == RT_OK) st = rt_to_dtype(w, RT_F64, &wd);
    if (st == RT_OK && b) st = rt_to_dtype(b, RT_F64, &bd);
    if (st == RT_OK) st = rt_empty(RT_F64, 4, (int64_t[]){ g.N, g.O, g.Ho, g.Wo }, &yd);
    if (st == RT_OK) {
        ref_loops(&g, rt_tensor_data(xd), rt_tensor_data(wd), data_or_null(bd),
                  rt_tensor_data(yd));
        st = rt_to_dtype(yd, x->dtype, out);
    }
    release3(xd, wd, bd);
    rt_tensor_release(yd);
    return st;
}
