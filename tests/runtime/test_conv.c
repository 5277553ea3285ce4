/* test_conv.c — conv1d, conv2d and conv_transpose2d: forward against naive loops written here
** (and rt_conv2d_ref) over a grid of options, literal values from PyTorch, backward kernels
** against central finite differences and naive loops, zero-size and size-1 cases, error
** messages, allocation failures, interrupts, and bitwise determinism across thread counts. */
#include "harness.h"

/* ---- the test's own naive loops (f64, row-major arrays) ------------------------------------ */
/* A malloc'd f64 copy of any strided tensor, row-major. */
static double *flat(const rt_tensor *t)
{
    int64_t n = rt_tensor_numel(t);
    double *d = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) d[i] = h_at(t, i);
    return d;
}

static int64_t out_size(int64_t in, int64_t k, int s, int p, int d)
{
    return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

/* Visits every (output, input, weight) triple of a conv2d; the three users below differ only
** in what they accumulate.  mode 0: y += x*w; 1: gx += gy*w; 2: gw += gy*x. */
static void naive_walk(int mode, const int64_t *xs, const int64_t *ws, const rt_conv2d_opts *o,
                       double *x, double *w, double *y)
{
    int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], O = ws[0], kh = ws[2], kw = ws[3];
    int64_t Ho = out_size(H, kh, o->stride[0], o->padding[0], o->dilation[0]);
    int64_t Wo = out_size(W, kw, o->stride[1], o->padding[1], o->dilation[1]);
    int64_t Cg = C / o->groups, Og = O / o->groups;
    for (int64_t n = 0; n < N; n++)
        for (int64_t oc = 0; oc < O; oc++)
            for (int64_t oh = 0; oh < Ho; oh++)
                for (int64_t ow = 0; ow < Wo; ow++)
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t i = 0; i < kh; i++)
                            for (int64_t j = 0; j < kw; j++) {
                                int64_t ih = oh * o->stride[0] - o->padding[0] + i * o->dilation[0];
                                int64_t iw = ow * o->stride[1] - o->padding[1] + j * o->dilation[1];
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                int64_t xi = ((n * C + oc / Og * Cg + c) * H + ih) * W + iw;
                                int64_t wi = ((oc * Cg + c) * kh + i) * kw + j;
                                int64_t yi = ((n * O + oc) * Ho + oh) * Wo + ow;
                                if (mode == 0) y[yi] += x[xi] * w[wi];
                                else if (mode == 1) x[xi] += y[yi] * w[wi];
                                else w[wi] += y[yi] * x[xi];
                            }
}

/* y (calloc'd, N*O*Ho*Wo) = conv2d(x, w) + b */
static double *naive_conv2d(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b,
                            const rt_conv2d_opts *o, int64_t *ys)
{
    ys[0] = x->shape[0];
    ys[1] = w->shape[0];
    ys[2] = out_size(x->shape[2], w->shape[2], o->stride[0], o->padding[0], o->dilation[0]);
    ys[3] = out_size(x->shape[3], w->shape[3], o->stride[1], o->padding[1], o->dilation[1]);
    int64_t P = ys[2] * ys[3], n = ys[0] * ys[1] * P;
    double *y = calloc((size_t)(n ? n : 1), sizeof(double));
    double *xd = flat(x), *wd = flat(w);
    naive_walk(0, x->shape, w->shape, o, xd, wd, y);
    for (int64_t i = 0; b && i < n; i++) y[i] += h_at(b, i / P % ys[1]);
    free(xd);
    free(wd);
    return y;
}

/* conv_transpose2d by scattering every input pixel through the kernel. */
static double *naive_convt(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b,
                           const rt_conv_transpose2d_opts *o, int64_t *ys)
{
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t Og = w->shape[1], kh = w->shape[2], kw = w->shape[3], G = o->groups, Cg = C / G;
    int64_t Ho = (H - 1) * o->stride[0] - 2 * o->padding[0] + o->dilation[0] * (kh - 1) +
                 o->output_padding[0] + 1;
    int64_t Wo = (W - 1) * o->stride[1] - 2 * o->padding[1] + o->dilation[1] * (kw - 1) +
                 o->output_padding[1] + 1;
    int64_t O = Og * G;
    ys[0] = N, ys[1] = O, ys[2] = Ho, ys[3] = Wo;
    double *y = calloc((size_t)(N * O * Ho * Wo + 1), sizeof(double));
    double *xd = flat(x), *wd = flat(w);
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t ih = 0; ih < H; ih++)
                for (int64_t iw = 0; iw < W; iw++)
                    for (int64_t m = 0; m < Og; m++)
                        for (int64_t i = 0; i < kh; i++)
                            for (int64_t j = 0; j < kw; j++) {
                                int64_t oh = ih * o->stride[0] - o->padding[0] + i * o->dilation[0];
                                int64_t ow = iw * o->stride[1] - o->padding[1] + j * o->dilation[1];
                                if (oh < 0 || oh >= Ho || ow < 0 || ow >= Wo) continue;
                                int64_t oc = c / Cg * Og + m;
                                y[((n * O + oc) * Ho + oh) * Wo + ow] +=
                                    xd[((n * C + c) * H + ih) * W + iw] *
                                    wd[((c * Og + m) * kh + i) * kw + j];
                            }
    for (int64_t i = 0; b && i < N * O * Ho * Wo; i++) y[i] += h_at(b, i / (Ho * Wo) % O);
    free(xd);
    free(wd);
    return y;
}

/* ---- building operands ---------------------------------------------------------------------- */
/* A random (a,b,c,d) tensor; layout 0 contiguous, 1 a transposed view (last two dims swapped
** in storage), 2 a strided slice with an offset out of a larger tensor. */
static rt_tensor *make4(rt_dtype dt, int64_t a, int64_t b, int64_t c, int64_t d, int layout)
{
    rt_tensor *base, *v1 = NULL, *v2 = NULL;
    if (layout == 1) {
        base = h_rand(dt, 4, SHAPE(a, b, d, c), -1, 1);
        rt_view_transpose(base, 2, 3, &v1);
        rt_tensor_release(base);
        return v1;
    }
    if (layout == 2) {
        base = h_rand(dt, 4, SHAPE(a, 2 * b + 1, c, d + 3), -1, 1);
        rt_view_slice(base, 1, 1, 2 * b + 1, 2, &v1);
        rt_view_narrow(v1, 3, 2, d, &v2);
        rt_tensor_release(base);
        rt_tensor_release(v1);
        return v2;
    }
    return h_rand(dt, 4, SHAPE(a, b, c, d), -1, 1);
}

static rt_conv2d_opts opts2(int sh, int sw, int ph, int pw, int dh, int dw, int g)
{
    return (rt_conv2d_opts){ { sh, sw }, { ph, pw }, { dh, dw }, g };
}

/* ---- forward: a grid of options ------------------------------------------------------------- */
static void check_forward(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b,
                          const rt_conv2d_opts *o, const char *what)
{
    int64_t ys[4];
    rt_tensor *y = NULL, *r = NULL;
    double tol = x->dtype == RT_F32 ? 1e-4 : 1e-11;
    double *ref = naive_conv2d(x, w, b, o, ys);
    CHECK_OK(rt_conv2d(x, w, b, o, &y));
    CHECK_OK(rt_conv2d_ref(x, w, b, o, &r));
    if (y && r) {
        CHECK(h_shape_is(y, 4, ys) && h_shape_is(r, 4, ys), "%s: shape", what);
        double e1 = h_worst(y, ref, tol, tol), e2 = h_worst(r, ref, tol, tol);
        CHECK(e1 <= 1, "%s: conv2d vs naive loops: worst %g", what, e1);
        CHECK(e2 <= 1, "%s: conv2d_ref vs naive loops: worst %g", what, e2);
        CHECK(rt_tensor_is_contiguous(y) && y->dtype == x->dtype, "%s: contiguous result", what);
    }
    rt_tensor_release(y);
    rt_tensor_release(r);
    free(ref);
}

static void test_forward_grid(void)
{
    static const int strides[] = { 1, 2, 3 }, dils[] = { 1, 2 }, groups[] = { 1, 2, 4 };
    static const int pads[][2] = { { 0, 0 }, { 1, 1 }, { 2, 2 }, { 1, 0 }, { 0, 2 } };
    static const int ks[][2] = { { 1, 1 }, { 3, 3 }, { 2, 3 } };
    /* combo enumerates kernel x groups x dilation x padding x stride x dtype */
    for (int combo = 0; combo < 3 * 3 * 2 * 5 * 3 * 2; combo++) {
        int ki = combo % 3, gi = combo / 3 % 3, di = combo / 9 % 2, pi = combo / 18 % 5;
        int si = combo / 90 % 3;
        rt_dtype t = combo / 270 ? RT_F64 : RT_F32;
        int G = groups[gi], s = strides[si], d = dils[di], layout = combo % 3;
        /* depthwise with 1 or 2 filters per channel; some anisotropic strides and dilations */
        int64_t N = 1 + combo % 3, C = 4, O = G == 4 && combo % 2 ? 4 : 8, H = 7, W = 6;
        rt_conv2d_opts o = opts2(s, s == 3 ? 1 : s, pads[pi][0], pads[pi][1], d,
                                 d == 2 && ki == 2 ? 1 : d, G);
        rt_tensor *x = make4(t, N, C, H, W, layout);
        rt_tensor *w = make4(t, O, C / G, ks[ki][0], ks[ki][1], combo % 2);
        rt_tensor *b = combo % 4 < 2 ? h_rand(t, 1, SHAPE(O), -1, 1) : NULL;
        char what[160];
        snprintf(what, sizeof what, "%s N=%lld O=%lld s=(%d,%d) p=(%d,%d) d=(%d,%d) g=%d k=%dx%d "
                 "layout=%d bias=%d", rt_dtype_name(t), (long long)N, (long long)O, o.stride[0],
                 o.stride[1], o.padding[0], o.padding[1], o.dilation[0], o.dilation[1], G,
                 ks[ki][0], ks[ki][1], layout, b != NULL);
        check_forward(x, w, b, &o, what);
        rt_tensor_release(x);
        rt_tensor_release(w);
        rt_tensor_release(b);
    }
}

/* Paths the small grid does not reach: several batch blocks with a partial last one, one image
** per block, 1x1 convs with wide and narrow images, single-channel inputs (direct kernel),
** depthwise with a channel multiplier, size-1 spatial dims. */
static const struct {
    int64_t N, C, H, W, O, kh, kw;
    rt_conv2d_opts o;
    const char *what;
} paths[] = {
    { 4, 2, 30, 50, 3, 3, 3, { { 1, 1 }, { 1, 1 }, { 1, 1 }, 1 }, "blocks of 3 images + 1" },
    { 3, 2, 70, 70, 2, 3, 3, { { 1, 1 }, { 1, 1 }, { 1, 1 }, 1 }, "one image per block" },
    { 2, 6, 40, 40, 4, 1, 1, { { 1, 1 }, { 0, 0 }, { 1, 1 }, 2 }, "1x1 wide, grouped" },
    { 5, 6, 5, 4, 4, 1, 1, { { 1, 1 }, { 0, 0 }, { 1, 1 }, 1 }, "1x1 narrow, batched" },
    { 1, 6, 5, 4, 4, 1, 1, { { 1, 1 }, { 0, 0 }, { 1, 1 }, 1 }, "1x1 single image" },
    { 3, 5, 9, 8, 4, 1, 1, { { 2, 2 }, { 0, 0 }, { 1, 1 }, 1 }, "1x1 stride 2" },
    { 2, 1, 12, 11, 5, 5, 5, { { 1, 1 }, { 2, 2 }, { 1, 1 }, 1 }, "single input channel" },
    { 2, 3, 9, 10, 6, 3, 3, { { 2, 1 }, { 1, 1 }, { 1, 2 }, 3 }, "depthwise x2" },
    { 3, 5, 11, 9, 5, 3, 3, { { 1, 2 }, { 1, 2 }, { 2, 1 }, 5 }, "depthwise x1" },
    { 2, 4, 8, 8, 4, 5, 3, { { 2, 2 }, { 2, 0 }, { 1, 1 }, 4 }, "depthwise x1, 5x3 stride 2" },
    { 2, 3, 6, 21, 3, 3, 3, { { 1, 1 }, { 1, 1 }, { 1, 1 }, 3 }, "depthwise x1, flat planes" },
    { 2, 2, 4, 70, 2, 3, 3, { { 1, 1 }, { 1, 1 }, { 1, 1 }, 2 }, "depthwise x1, long rows" },
    { 2, 2, 6, 9, 2, 3, 2, { { 2, 1 }, { 0, 1 }, { 1, 2 }, 2 }, "depthwise x1, stride (2,1)" },
    { 2, 3, 1, 9, 2, 1, 3, { { 1, 1 }, { 0, 1 }, { 1, 1 }, 1 }, "H = 1" },
    { 1, 1, 1, 1, 1, 1, 1, { { 1, 1 }, { 0, 0 }, { 1, 1 }, 1 }, "all ones" },
    { 2, 2, 1, 1, 3, 3, 3, { { 1, 1 }, { 1, 1 }, { 1, 1 }, 1 }, "1x1 image, padded 3x3" },
};
#define NPATHS ((int)(sizeof paths / sizeof paths[0]))

static void test_forward_paths(void)
{
    for (int k = 0; k < NPATHS; k++) {
        for (int dt = 0; dt < 2; dt++) {
            rt_dtype t = dt ? RT_F64 : RT_F32;
            rt_tensor *x = make4(t, paths[k].N, paths[k].C, paths[k].H, paths[k].W, k % 3);
            rt_tensor *w = make4(t, paths[k].O, paths[k].C / paths[k].o.groups, paths[k].kh,
                                 paths[k].kw, 0);
            /* the bias is a strided slice: every other element of a longer vector */
            rt_tensor *bb = h_rand(t, 1, SHAPE(2 * paths[k].O), -1, 1), *b = NULL;
            rt_view_slice(bb, 0, 1, 2 * paths[k].O, 2, &b);
            rt_tensor_release(bb);
            char what[96];
            snprintf(what, sizeof what, "%s (%s)", paths[k].what, rt_dtype_name(t));
            check_forward(x, w, b, &paths[k].o, what);
            rt_tensor_release(x);
            rt_tensor_release(w);
            rt_tensor_release(b);
        }
    }
    /* broadcast input: one image expanded over the batch */
    rt_tensor *one = h_rand(RT_F64, 4, SHAPE(1, 2, 5, 5), -1, 1), *x = NULL;
    rt_tensor *w = h_rand(RT_F64, 4, SHAPE(3, 2, 3, 3), -1, 1);
    CHECK_OK(rt_view_expand(one, 4, SHAPE(3, 2, 5, 5), &x));
    rt_conv2d_opts o = opts2(1, 1, 1, 1, 1, 1, 1);
    check_forward(x, w, NULL, &o, "expanded input");
    rt_tensor_release(one);
    rt_tensor_release(x);
    rt_tensor_release(w);
}

/* Literal values from PyTorch 1.13.0 (Debian python3-torch), float64:
**   x = (arange(40).reshape(1,2,4,5) - 17) / 8;  w = (arange(24).reshape(4,1,2,3) % 7 - 3) / 4
**   b = [0.5,-1,0.25,2];  F.conv2d(x, w, b, stride=(2,1), padding=(1,2), dilation=(1,2), groups=2)
**   xt = (arange(12).reshape(1,2,2,3) - 5) / 4;  wt = (arange(24).reshape(2,3,2,2) % 5 - 2) / 2
**   bt = [1,-0.5,0];  F.conv_transpose2d(xt, wt, bt, stride=2, padding=(0,1), output_padding=(1,0))
** All values are dyadic, so they are exact in f32 too. */
static const double torch_conv[60] = {
    -0.96875, -0.875, -0.78125, 0.0625, 0.09375, 1.03125, 1.03125, 2.15625, 1.96875, 1.84375,
    0.625, 0.53125, 0.625, 0.53125, 0.375, -1.46875, -1.4375, -0.875, -0.5, -0.53125, 0.59375,
    0.46875, -0.5625, -1.0, -1.03125, -0.8125, -0.96875, -1.3125, -1.1875, -1.1875, 0.15625,
    0.125, -0.09375, -0.1875, -0.28125, -0.34375, -0.375, -0.71875, 0.46875, 0.53125, 0.0625,
    0.0625, 1.1875, 3.40625, 3.5625, 1.65625, 1.5625, 1.1875, 1.25, 1.09375, 2.15625, 2.21875,
    1.3125, 0.65625, 0.59375, 5.0, 5.15625, 5.875, 3.90625, 4.0 };
static const double torch_convt[60] = {
    1.75, 2.0, 1.75, 1.75, 0.125, 1.5, 0.0, 1.75, 1.75, 1.25, 1.75, 1.0, -0.25, 2.25, -0.375,
    2.5, 1.0, 1.0, 1.0, 1.0, 0.75, -1.75, 0.5, -1.625, -0.25, 0.25, 0.0, 0.25, 0.0, -1.375,
    -0.25, -1.25, 0.5, 0.25, 0.75, 0.25, -0.5, -0.5, -0.5, -0.5, -1.375, -1.0, -1.25, -1.125,
    0.75, 1.0, 0.75, 0.75, -1.0, -1.375, -0.875, -1.5, 0.75, 0.25, 0.75, 0.0, 0.0, 0.0, 0.0,
    0.0 };

static rt_tensor *filled(rt_dtype dt, int ndim, const int64_t *shape, double (*f)(int64_t))
{
    rt_tensor *t = NULL;
    rt_empty(dt, ndim, shape, &t);
    int64_t idx[4] = { 0 };
    for (int64_t i = 0; i < rt_tensor_numel(t); i++) {
        for (int d = ndim - 1, r = (int)i; d >= 0; d--) {
            idx[d] = r % shape[d];
            r /= (int)shape[d];
        }
        rt_tensor_set(t, idx, f(i));
    }
    return t;
}
static double fx(int64_t i) { return (double)(i - 17) / 8; }
static double fw(int64_t i) { return (double)(i % 7 - 3) / 4; }
static double fxt(int64_t i) { return (double)(i - 5) / 4; }
static double fwt(int64_t i) { return (double)(i % 5 - 2) / 2; }

static void test_torch_values(void)
{
    for (int dt = 0; dt < 2; dt++) {
        rt_dtype t = dt ? RT_F64 : RT_F32;
        rt_tensor *x = filled(t, 4, SHAPE(1, 2, 4, 5), fx);
        rt_tensor *w = filled(t, 4, SHAPE(4, 1, 2, 3), fw);
        rt_tensor *b = NULL, *y = NULL;
        rt_from_buffer(RT_F64, 1, SHAPE(4), (double[]){ 0.5, -1, 0.25, 2 }, &b);
        rt_tensor *bb = NULL;
        rt_to_dtype(b, t, &bb);
        rt_conv2d_opts o = opts2(2, 1, 1, 2, 1, 2, 2);
        CHECK_OK(rt_conv2d(x, w, bb, &o, &y));
        CHECK(y && h_shape_is(y, 4, SHAPE(1, 4, 3, 5)) && h_worst(y, torch_conv, 1e-6, 0) <= 1,
              "conv2d matches PyTorch (%s)", rt_dtype_name(t));
        rt_tensor_release(x), rt_tensor_release(w), rt_tensor_release(b), rt_tensor_release(bb);
        rt_tensor_release(y);
        x = filled(t, 4, SHAPE(1, 2, 2, 3), fxt), w = filled(t, 4, SHAPE(2, 3, 2, 2), fwt);
        rt_from_buffer(RT_F64, 1, SHAPE(3), (double[]){ 1, -0.5, 0 }, &b);
        rt_to_dtype(b, t, &bb);
        rt_conv_transpose2d_opts ot = { { 2, 2 }, { 0, 1 }, { 1, 0 }, { 1, 1 }, 1 };
        y = NULL;
        CHECK_OK(rt_conv_transpose2d(x, w, bb, &ot, &y));
        CHECK(y && h_shape_is(y, 4, SHAPE(1, 3, 5, 4)) && h_worst(y, torch_convt, 1e-6, 0) <= 1,
              "conv_transpose2d matches PyTorch (%s)", rt_dtype_name(t));
        rt_tensor_release(x), rt_tensor_release(w), rt_tensor_release(b), rt_tensor_release(bb);
        rt_tensor_release(y);
    }
}

/* ---- backward: central finite differences (f64) ---------------------------------------------- */
typedef struct {
    int kind;               /* 1 conv1d, 2 conv2d, 3 conv_transpose2d */
    rt_tensor *x, *w, *b;   /* contiguous f64; b may be NULL */
    rt_conv1d_opts o1;
    rt_conv2d_opts o2;
    rt_conv_transpose2d_opts ot;
} gcase;

static rt_status gc_forward(const gcase *c, rt_tensor **y)
{
    if (c->kind == 1) return rt_conv1d(c->x, c->w, c->b, &c->o1, y);
    if (c->kind == 2) return rt_conv2d(c->x, c->w, c->b, &c->o2, y);
    return rt_conv_transpose2d(c->x, c->w, c->b, &c->ot, y);
}

static void gc_backward(const gcase *c, const rt_tensor *gy, rt_tensor **gx, rt_tensor **gw)
{
    const int64_t *xs = c->x->shape, *ws = c->w->shape;
    if (c->kind == 1) {
        CHECK_OK(rt_conv1d_backward_input(gy, c->w, xs, &c->o1, gx));
        CHECK_OK(rt_conv1d_backward_weight(gy, c->x, ws, &c->o1, gw));
    } else if (c->kind == 2) {
        CHECK_OK(rt_conv2d_backward_input(gy, c->w, xs, &c->o2, gx));
        CHECK_OK(rt_conv2d_backward_weight(gy, c->x, ws, &c->o2, gw));
    } else {
        CHECK_OK(rt_conv_transpose2d_backward_input(gy, c->w, xs, &c->ot, gx));
        CHECK_OK(rt_conv_transpose2d_backward_weight(gy, c->x, ws, &c->ot, gw));
    }
}

/* loss = sum(y * r) */
static double gc_loss(const gcase *c, const double *r)
{
    rt_tensor *y = NULL;
    double s = 0;
    if (gc_forward(c, &y) != RT_OK) return NAN;
    for (int64_t i = 0; i < rt_tensor_numel(y); i++) s += h_at(y, i) * r[i];
    rt_tensor_release(y);
    return s;
}

/* Number of elements of t whose analytic gradient misses the central difference. */
static int fd_misses(const gcase *c, rt_tensor *t, const double *r, const rt_tensor *analytic)
{
    const double h = 1e-6;
    double *d = rt_tensor_data(t);
    int bad = 0;
    if (analytic == NULL || !rt_same_shape(t, analytic)) return -1;
    for (int64_t i = 0; i < rt_tensor_numel(t); i++) {
        double v = d[i];
        d[i] = v + h;
        double lp = gc_loss(c, r);
        d[i] = v - h;
        double lm = gc_loss(c, r);
        d[i] = v;
        double num = (lp - lm) / (2 * h), a = h_at(analytic, i);
        if (!(fabs(a - num) <= 1e-6 + 1e-5 * fabs(num))) bad++;
    }
    return bad;
}

static void gradcheck(gcase *c, const char *what)
{
    rt_tensor *y = NULL, *gx = NULL, *gw = NULL, *gb = NULL;
    CHECK_OK(gc_forward(c, &y));
    if (y == NULL) return;
    rt_tensor *R = h_rand(RT_F64, y->ndim, y->shape, -1, 1);
    double *r = flat(R);
    gc_backward(c, R, &gx, &gw);
    int m;
    CHECK((m = fd_misses(c, c->x, r, gx)) == 0, "%s: d/dinput: %d misses", what, m);
    CHECK((m = fd_misses(c, c->w, r, gw)) == 0, "%s: d/dweight: %d misses", what, m);
    if (c->b) {
        CHECK_OK(rt_conv2d_backward_bias(R, &gb));
        CHECK((m = fd_misses(c, c->b, r, gb)) == 0, "%s: d/dbias: %d misses", what, m);
    }
    free(r);
    rt_tensor_release(R), rt_tensor_release(y), rt_tensor_release(gx);
    rt_tensor_release(gw), rt_tensor_release(gb);
    rt_tensor_release(c->x), rt_tensor_release(c->w), rt_tensor_release(c->b);
}

static rt_tensor *r64(int ndim, const int64_t *shape) { return h_rand(RT_F64, ndim, shape, -1, 1); }

static void test_gradcheck_conv2d(void)
{
    struct { int64_t xs[4], ws[4]; rt_conv2d_opts o; int bias; const char *what; } cs[] = {
        { { 2, 2, 4, 3 }, { 3, 2, 2, 2 }, opts2(1, 1, 0, 0, 1, 1, 1), 1, "plain" },
        { { 1, 2, 5, 4 }, { 2, 2, 3, 2 }, opts2(2, 1, 1, 0, 1, 1, 1), 1, "stride (2,1) pad (1,0)" },
        { { 1, 2, 5, 5 }, { 2, 2, 2, 2 }, opts2(1, 1, 1, 2, 2, 2, 1), 0, "dilation 2 pad (1,2)" },
        { { 1, 4, 4, 3 }, { 4, 2, 2, 2 }, opts2(2, 2, 1, 1, 1, 1, 2), 1, "groups 2 stride 2" },
        { { 2, 3, 4, 4 }, { 6, 1, 3, 3 }, opts2(1, 1, 1, 1, 1, 1, 3), 1, "depthwise x2" },
        { { 1, 2, 6, 5 }, { 2, 1, 2, 2 }, opts2(2, 2, 1, 0, 2, 2, 2), 0, "depthwise s2 d2" },
        { { 2, 3, 3, 3 }, { 2, 3, 1, 1 }, opts2(1, 1, 0, 0, 1, 1, 1), 1, "1x1 batched" },
        { { 1, 3, 3, 3 }, { 2, 3, 1, 1 }, opts2(1, 1, 0, 0, 1, 1, 1), 1, "1x1 one image" },
        { { 2, 1, 4, 5 }, { 3, 1, 2, 2 }, opts2(1, 1, 0, 1, 1, 1, 1), 1, "one input channel" },
        { { 1, 2, 3, 7 }, { 2, 2, 3, 3 }, opts2(3, 2, 2, 1, 1, 3, 1), 0, "stride 3 pad 2" },
    };
    for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
        gcase c = { .kind = 2, .x = r64(4, cs[k].xs), .w = r64(4, cs[k].ws), .o2 = cs[k].o };
        c.b = cs[k].bias ? r64(1, SHAPE(cs[k].ws[0])) : NULL;
        gradcheck(&c, cs[k].what);
    }
}

static void test_gradcheck_conv1d(void)
{
    gcase c = { .kind = 1, .x = r64(3, SHAPE(2, 3, 7)), .w = r64(3, SHAPE(4, 3, 3)),
                .b = r64(1, SHAPE(4)), .o1 = { 2, 1, 1, 1 } };
    gradcheck(&c, "conv1d stride 2 pad 1");
    c = (gcase){ .kind = 1, .x = r64(3, SHAPE(1, 4, 9)), .w = r64(3, SHAPE(2, 2, 2)),
                 .o1 = { 1, 2, 3, 2 } };
    gradcheck(&c, "conv1d dilation 3 pad 2 groups 2");
    c = (gcase){ .kind = 1, .x = r64(3, SHAPE(2, 2, 5)), .w = r64(3, SHAPE(2, 1, 3)),
                 .b = r64(1, SHAPE(2)), .o1 = { 1, 1, 1, 2 } };
    gradcheck(&c, "conv1d depthwise");
}

/* conv1d forward on strided inputs against the 2-D naive loops with H = 1. */
static void test_conv1d_forward(void)
{
    rt_conv1d_opts os[] = { { 1, 0, 1, 1 }, { 2, 1, 1, 1 }, { 1, 3, 2, 2 }, { 3, 2, 1, 4 } };
    for (int k = 0; k < 8; k++) {
        rt_conv1d_opts o = os[k % 4];
        rt_dtype t = k < 4 ? RT_F32 : RT_F64;
        rt_tensor *base = h_rand(t, 3, SHAPE(3, 11, 4), -1, 1), *x = NULL, *y = NULL;
        rt_view_transpose(base, 1, 2, &x);   /* (3,4,11), non-contiguous */
        rt_tensor *w = h_rand(t, 3, SHAPE(8, 4 / o.groups, 3), -1, 1);
        rt_tensor *b = k % 2 ? h_rand(t, 1, SHAPE(8), -1, 1) : NULL, *x4 = NULL, *w4 = NULL;
        rt_view_unsqueeze(x, 2, &x4);
        rt_view_unsqueeze(w, 2, &w4);
        rt_conv2d_opts o2 = opts2(1, o.stride, 0, o.padding, 1, o.dilation, o.groups);
        int64_t ys[4];
        double *ref = naive_conv2d(x4, w4, b, &o2, ys);
        CHECK_OK(rt_conv1d(x, w, b, &o, &y));
        CHECK(y && h_shape_is(y, 3, SHAPE(ys[0], ys[1], ys[3])) &&
              h_worst(y, ref, 1e-5, 1e-5) <= 1, "conv1d case %d vs naive loops", k);
        free(ref);
        rt_tensor_release(base), rt_tensor_release(x), rt_tensor_release(y);
        rt_tensor_release(w), rt_tensor_release(b), rt_tensor_release(x4), rt_tensor_release(w4);
    }
}

static void test_gradcheck_transpose(void)
{
    struct {
        int64_t xs[4], ws[4];
        rt_conv_transpose2d_opts o;
        int bias;
        const char *what;
    } cs[] = {
        { { 1, 2, 3, 3 }, { 2, 3, 2, 2 }, { { 2, 2 }, { 0, 0 }, { 1, 1 }, { 1, 1 }, 1 }, 1,
          "stride 2 output_padding 1" },
        { { 2, 2, 2, 3 }, { 2, 2, 3, 3 }, { { 2, 1 }, { 1, 1 }, { 1, 0 }, { 1, 1 }, 2 }, 1,
          "groups 2, output_padding (1,0)" },
        { { 1, 2, 3, 2 }, { 2, 1, 2, 3 }, { { 1, 1 }, { 1, 1 }, { 1, 1 }, { 2, 2 }, 1 }, 0,
          "output_padding below dilation" },
        { { 1, 3, 3, 3 }, { 3, 1, 3, 3 }, { { 2, 2 }, { 1, 1 }, { 1, 1 }, { 1, 1 }, 3 }, 1,
          "depthwise" },
        { { 2, 3, 2, 2 }, { 3, 2, 1, 1 }, { { 1, 1 }, { 0, 0 }, { 0, 0 }, { 1, 1 }, 1 }, 1,
          "1x1" },
    };
    for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
        gcase c = { .kind = 3, .x = r64(4, cs[k].xs), .w = r64(4, cs[k].ws), .ot = cs[k].o };
        c.b = cs[k].bias ? r64(1, SHAPE(cs[k].ws[1] * cs[k].o.groups)) : NULL;
        gradcheck(&c, cs[k].what);
    }
    /* forward against the scatter loops, f32 and f64, non-contiguous input */
    for (int dt = 0; dt < 2; dt++) {
        rt_dtype t = dt ? RT_F64 : RT_F32;
        for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
            const int64_t *xs = cs[k].xs, *ws = cs[k].ws;
            rt_tensor *x = make4(t, xs[0], xs[1], xs[2], xs[3], 1 + (int)k % 2);
            rt_tensor *w = make4(t, ws[0], ws[1], ws[2], ws[3], (int)k % 2);
            rt_tensor *b = h_rand(t, 1, SHAPE(ws[1] * cs[k].o.groups), -1, 1), *y = NULL;
            int64_t ys[4];
            double *ref = naive_convt(x, w, b, &cs[k].o, ys);
            CHECK_OK(rt_conv_transpose2d(x, w, b, &cs[k].o, &y));
            CHECK(y && h_shape_is(y, 4, ys) && h_worst(y, ref, 1e-5, 1e-5) <= 1,
                  "conv_transpose2d %s (%s) vs scatter loops", cs[k].what, rt_dtype_name(t));
            free(ref);
            rt_tensor_release(x), rt_tensor_release(w), rt_tensor_release(b);
            rt_tensor_release(y);
        }
    }
}

/* Backward on the larger path cases against the naive loops (too big for differences). */
static void test_backward_paths(void)
{
    for (int k = 0; k < NPATHS; k++) {
        for (int dt = 0; dt < 2; dt++) {
            rt_dtype t = dt ? RT_F64 : RT_F32;
            const rt_conv2d_opts *o = &paths[k].o;
            int64_t xs[4] = { paths[k].N, paths[k].C, paths[k].H, paths[k].W };
            int64_t ws[4] = { paths[k].O, paths[k].C / o->groups, paths[k].kh, paths[k].kw };
            int64_t ys[4] = { xs[0], ws[0], out_size(xs[2], ws[2], o->stride[0], o->padding[0],
                                                     o->dilation[0]),
                              out_size(xs[3], ws[3], o->stride[1], o->padding[1],
                                       o->dilation[1]) };
            rt_tensor *x = make4(t, xs[0], xs[1], xs[2], xs[3], k % 3);
            rt_tensor *w = make4(t, ws[0], ws[1], ws[2], ws[3], (k + 1) % 3);
            rt_tensor *gy = make4(t, ys[0], ys[1], ys[2], ys[3], (k + 2) % 3);
            rt_tensor *gx = NULL, *gw = NULL;
            double *xd = flat(x), *wd = flat(w), *gyd = flat(gy);
            double *gxr = calloc((size_t)rt_tensor_numel(x) + 1, sizeof(double));
            double *gwr = calloc((size_t)rt_tensor_numel(w) + 1, sizeof(double));
            naive_walk(1, xs, ws, o, gxr, wd, gyd);
            naive_walk(2, xs, ws, o, xd, gwr, gyd);
            CHECK_OK(rt_conv2d_backward_input(gy, w, xs, o, &gx));
            CHECK_OK(rt_conv2d_backward_weight(gy, x, ws, o, &gw));
            double tol = dt ? 1e-11 : 2e-4;
            CHECK(gx && h_shape_is(gx, 4, xs) && h_worst(gx, gxr, tol, tol) <= 1,
                  "%s (%s): backward_input vs naive", paths[k].what, rt_dtype_name(t));
            CHECK(gw && h_shape_is(gw, 4, ws) && h_worst(gw, gwr, tol, tol) <= 1,
                  "%s (%s): backward_weight vs naive", paths[k].what, rt_dtype_name(t));
            free(xd), free(wd), free(gyd), free(gxr), free(gwr);
            rt_tensor_release(x), rt_tensor_release(w), rt_tensor_release(gy);
            rt_tensor_release(gx), rt_tensor_release(gw);
        }
    }
}

/* ---- zero-size and size-1 operands ----------------------------------------------------------- */
static int all_zero(const rt_tensor *t)
{
    for (int64_t i = 0; i < rt_tensor_numel(t); i++)
        if (h_at(t, i) != 0) return 0;
    return 1;
}

static void test_empty(void)
{
    rt_conv2d_opts o = opts2(1, 1, 1, 1, 1, 1, 1);
    rt_tensor *x = r64(4, SHAPE(0, 4, 5, 5)), *w = r64(4, SHAPE(6, 4, 3, 3));
    rt_tensor *gy = r64(4, SHAPE(0, 6, 5, 5)), *y = NULL, *gx = NULL, *gw = NULL, *gb = NULL;
    CHECK_OK(rt_conv2d(x, w, NULL, &o, &y));
    CHECK(y && h_shape_is(y, 4, SHAPE(0, 6, 5, 5)), "N = 0 forward shape");
    CHECK_OK(rt_conv2d_backward_input(gy, w, x->shape, &o, &gx));
    CHECK(gx && h_shape_is(gx, 4, SHAPE(0, 4, 5, 5)), "N = 0 backward_input shape");
    CHECK_OK(rt_conv2d_backward_weight(gy, x, w->shape, &o, &gw));
    CHECK(gw && h_shape_is(gw, 4, SHAPE(6, 4, 3, 3)) && all_zero(gw), "N = 0 weight grad is 0");
    CHECK_OK(rt_conv2d_backward_bias(gy, &gb));
    CHECK(gb && h_shape_is(gb, 1, SHAPE(6)) && all_zero(gb), "N = 0 bias grad is 0");
    rt_tensor_release(x), rt_tensor_release(w), rt_tensor_release(gy), rt_tensor_release(y);
    rt_tensor_release(gx), rt_tensor_release(gw), rt_tensor_release(gb);

    /* C = 0: the output is the bias */
    x = r64(4, SHAPE(2, 0, 4, 4)), w = r64(4, SHAPE(3, 0, 3, 3));
    rt_tensor *b = r64(1, SHAPE(3));
    y = gx = gw = NULL;
    CHECK_OK(rt_conv2d(x, w, b, &o, &y));
    int ok = y && h_shape_is(y, 4, SHAPE(2, 3, 4, 4));
    for (int64_t i = 0; ok && i < rt_tensor_numel(y); i++) ok = h_at(y, i) == h_at(b, i / 16 % 3);
    CHECK(ok, "C = 0 gives the bias");
    gy = r64(4, SHAPE(2, 3, 4, 4));
    CHECK_OK(rt_conv2d_backward_input(gy, w, x->shape, &o, &gx));
    CHECK(gx && h_shape_is(gx, 4, SHAPE(2, 0, 4, 4)), "C = 0 backward_input shape");
    CHECK_OK(rt_conv2d_backward_weight(gy, x, w->shape, &o, &gw));
    CHECK(gw && h_shape_is(gw, 4, SHAPE(3, 0, 3, 3)), "C = 0 backward_weight shape");
    rt_tensor_release(x), rt_tensor_release(w), rt_tensor_release(gy), rt_tensor_release(y);
    rt_tensor_release(gx), rt_tensor_release(gw), rt_tensor_release(b);

    /* O = 0: empty output, zero input gradient */
    x = r64(4, SHAPE(2, 2, 4, 4)), w = r64(4, SHAPE(0, 2, 3, 3)), gy = r64(4, SHAPE(2, 0, 4, 4));
    y = gx = gw = NULL;
    CHECK_OK(rt_conv2d(x, w, NULL, &o, &y));
    CHECK(y && h_shape_is(y, 4, SHAPE(2, 0, 4, 4)), "O = 0 forward shape");
    CHECK_OK(rt_conv2d_backward_input(gy, w, x->shape, &o, &gx));
    CHECK(gx && h_shape_is(gx, 4, SHAPE(2, 2, 4, 4)) && all_zero(gx), "O = 0 input grad is 0");
    CHECK_OK(rt_conv2d_backward_weight(gy, x, w->shape, &o, &gw));
    CHECK(gw && h_shape_is(gw, 4, SHAPE(0, 2, 3, 3)), "O = 0 backward_weight shape");
    rt_tensor_release(x), rt_tensor_release(w), rt_tensor_release(gy), rt_tensor_release(y);
    rt_tensor_release(gx), rt_tensor_release(gw);

    /* N = 0 through conv1d and conv_transpose2d */
    rt_conv1d_opts o1 = { 1, 0, 1, 1 };
    x = r64(3, SHAPE(0, 2, 5)), w = r64(3, SHAPE(3, 2, 2)), y = NULL;
    CHECK_OK(rt_conv1d(x, w, NULL, &o1, &y));
    CHECK(y && h_shape_is(y, 3, SHAPE(0, 3, 4)), "conv1d N = 0");
    rt_tensor_release(x), rt_tensor_release(w), rt_tensor_release(y);
    x = r64(4, SHAPE(0, 2, 3, 3)), w = r64(4, SHAPE(2, 3, 2, 2)), y = NULL;
    CHECK_OK(rt_conv_transpose2d(x, w, NULL, NULL, &y));
    CHECK(y && h_shape_is(y, 4, SHAPE(0, 3, 4, 4)), "conv_transpose2d N = 0");
    rt_tensor_release(x), rt_tensor_release(w), rt_tensor_release(y);
}

/* ---- errors ---------------------------------------------------------------------------------- */
static void test_errors_conv2d(void)
{
    rt_tensor *sentinel = (rt_tensor *)&h_pass, *y = sentinel;
    rt_tensor *x = r64(4, SHAPE(1, 3, 5, 5)), *w1 = r64(4, SHAPE(2, 1, 3, 3));
    rt_tensor *x3 = r64(3, SHAPE(3, 4, 5)), *small = r64(4, SHAPE(1, 1, 2, 2));
    rt_tensor *w3 = r64(4, SHAPE(1, 1, 3, 3)), *xf = h_rand(RT_F32, 4, SHAPE(1, 1, 5, 5), -1, 1);
    rt_tensor *xi = h_rand(RT_I64, 4, SHAPE(1, 1, 5, 5), -3, 3), *b2 = r64(1, SHAPE(2));
    rt_tensor *x4 = r64(4, SHAPE(1, 4, 5, 5)), *w43 = r64(4, SHAPE(3, 2, 3, 3));
    rt_tensor *empty_hw = r64(4, SHAPE(1, 1, 0, 3));
    rt_conv2d_opts o = opts2(1, 1, 0, 0, 1, 1, 1);
    CHECK_FAILS(rt_conv2d(x3, w1, NULL, &o, &y), RT_ESHAPE,
                "conv2d: input must be [N,C,H,W], got [3,4,5]");
    CHECK_FAILS(rt_conv2d(x, x3, NULL, &o, &y), RT_ESHAPE,
                "conv2d: weight must be [O,C/groups,kh,kw], got [3,4,5]");
    CHECK_FAILS(rt_conv2d(x, w1, NULL, &o, &y), RT_ESHAPE,
                "conv2d: input has 3 channels, weight expects 1 (groups=1)");
    CHECK_FAILS(rt_conv2d(small, w3, NULL, &o, &y), RT_ESHAPE,
                "conv2d: input [1,1,2,2] is smaller than the dilated kernel 3x3 (padding 0)");
    o = opts2(1, 1, 1, 0, 2, 2, 1);
    CHECK_FAILS(rt_conv2d(small, w3, NULL, &o, &y), RT_ESHAPE,
                "smaller than the dilated kernel 5x5 (padding 1x0)");
    CHECK_FAILS(rt_conv2d(empty_hw, w3, NULL, NULL, &y), RT_ESHAPE, "empty spatial dimension");
    o = opts2(1, 1, 0, 0, 1, 1, 2);
    CHECK_FAILS(rt_conv2d(x, w1, NULL, &o, &y), RT_ESHAPE,
                "groups=2 does not divide the 3 channels of input [1,3,5,5]");
    CHECK_FAILS(rt_conv2d(x4, w43, NULL, &o, &y), RT_ESHAPE,
                "groups=2 does not divide the 3 output channels");
    o = opts2(0, 1, 0, 0, 1, 1, 1);
    CHECK_FAILS(rt_conv2d(x, w1, NULL, &o, &y), RT_EARG, "stride must be >= 1, got (0,1)");
    o = opts2(1, 1, 0, -1, 1, 1, 1);
    CHECK_FAILS(rt_conv2d(x, w1, NULL, &o, &y), RT_EARG, "padding must be >= 0, got (0,-1)");
    o = opts2(1, 1, 0, 0, 1, 0, 1);
    CHECK_FAILS(rt_conv2d(x, w1, NULL, &o, &y), RT_EARG, "dilation must be >= 1");
    o = opts2(1, 1, 0, 0, 1, 1, 0);
    CHECK_FAILS(rt_conv2d(x, w1, NULL, &o, &y), RT_EARG, "groups must be >= 1, got 0");
    CHECK_FAILS(rt_conv2d(xf, w3, NULL, NULL, &y), RT_EDTYPE, "weight is f64 but input is f32");
    CHECK_FAILS(rt_conv2d(xi, w3, NULL, NULL, &y), RT_EDTYPE, "input is i64; expected f32 or f64");
    CHECK_FAILS(rt_conv2d(small, w3, b2, &(rt_conv2d_opts){ { 1, 1 }, { 1, 1 }, { 1, 1 }, 1 }, &y),
                RT_ESHAPE, "conv2d: bias must be [1] (one per output channel), got [2]");
    rt_tensor *bf = h_rand(RT_F32, 1, SHAPE(1), -1, 1), *w0 = r64(4, SHAPE(1, 1, 0, 3));
    CHECK_FAILS(rt_conv2d(small, w3, bf, NULL, &y), RT_EDTYPE, "bias is f32 but input is f64");
    CHECK_FAILS(rt_conv2d(small, w0, NULL, NULL, &y), RT_ESHAPE,
                "conv2d: weight [1,1,0,3] has an empty kernel");
    CHECK_FAILS(rt_conv_transpose2d(small, w0, NULL, NULL, &y), RT_ESHAPE, "has an empty kernel");
    CHECK_FAILS(rt_conv_transpose2d(empty_hw, w3, NULL, NULL, &y), RT_ESHAPE,
                "conv_transpose2d: input [1,1,0,3] has an empty spatial dimension");
    rt_conv_transpose2d_opts tg = { { 1, 1 }, { 0, 0 }, { 0, 0 }, { 1, 1 }, 2 };
    CHECK_FAILS(rt_conv_transpose2d(x, w1, NULL, &tg, &y), RT_ESHAPE,
                "conv_transpose2d: groups=2 does not divide the 3 channels of input [1,3,5,5]");
    CHECK_FAILS(rt_conv_transpose2d_backward_weight(small, small, SHAPE(1, -1, 1, 1), NULL, &y),
                RT_ESHAPE, "weight shape [1,-1,1,1] has a negative size");
    rt_tensor_release(bf), rt_tensor_release(w0);
    CHECK(y == sentinel, "out untouched on failure");

    rt_tensor_release(x), rt_tensor_release(w1), rt_tensor_release(x3), rt_tensor_release(small);
    rt_tensor_release(w3), rt_tensor_release(xf), rt_tensor_release(xi), rt_tensor_release(b2);
    rt_tensor_release(x4), rt_tensor_release(w43), rt_tensor_release(empty_hw);
}

static void test_errors_other(void)
{
    rt_tensor *sentinel = (rt_tensor *)&h_pass, *y = sentinel;
    rt_tensor *x = r64(4, SHAPE(1, 3, 5, 5)), *small = r64(4, SHAPE(1, 1, 2, 2));
    rt_tensor *w3 = r64(4, SHAPE(1, 1, 3, 3)), *xf = h_rand(RT_F32, 4, SHAPE(1, 1, 5, 5), -1, 1);
    rt_tensor *b2 = r64(1, SHAPE(2));
    /* backward shapes */
    rt_tensor *gy = r64(4, SHAPE(1, 1, 4, 4));
    CHECK_FAILS(rt_conv2d_backward_input(gy, w3, SHAPE(1, 1, 5, 5), NULL, &y), RT_ESHAPE,
                "conv2d_backward_input: grad_output is [1,1,4,4], expected [1,1,3,3] (the output "
                "for input [1,1,5,5])");
    CHECK_FAILS(rt_conv2d_backward_weight(gy, xf, SHAPE(1, 1, 3, 3), NULL, &y), RT_EDTYPE,
                "conv2d_backward_weight: input is f32 but grad_output is f64");
    CHECK_FAILS(rt_conv2d_backward_input(gy, w3, SHAPE(1, -1, 5, 5), NULL, &y), RT_ESHAPE,
                "negative size");
    CHECK_FAILS(rt_conv2d_backward_bias(b2, &y), RT_ESHAPE, "grad_output must be [N,O,...]");
    CHECK(y == sentinel, "out untouched on backward failure");

    /* conv1d shows its own rank */
    rt_tensor *l2 = r64(3, SHAPE(1, 1, 2)), *k3 = r64(3, SHAPE(1, 1, 3));
    CHECK_FAILS(rt_conv1d(x, k3, NULL, NULL, &y), RT_ESHAPE, "conv1d: input must be [N,C,L]");
    CHECK_FAILS(rt_conv1d(l2, k3, NULL, NULL, &y), RT_ESHAPE,
                "conv1d: input [1,1,2] is smaller than the dilated kernel 3 (padding 0)");
    CHECK_FAILS(rt_conv1d(l2, k3, NULL, &(rt_conv1d_opts){ 0, 0, 1, 1 }, &y), RT_EARG,
                "conv1d: stride must be >= 1, got 0");
    CHECK_FAILS(rt_conv1d_backward_input(l2, k3, SHAPE(1, 1, 5), NULL, &y), RT_ESHAPE,
                "grad_output is [1,1,2], expected [1,1,3] (the output for input [1,1,5])");

    /* conv_transpose2d */
    rt_conv_transpose2d_opts ot = { { 2, 2 }, { 0, 0 }, { 2, 0 }, { 1, 1 }, 1 };
    CHECK_FAILS(rt_conv_transpose2d(small, w3, NULL, &ot, &y), RT_EARG,
                "output_padding (2,0) must be >= 0 and smaller than stride (2,2) or dilation");
    CHECK_FAILS(rt_conv_transpose2d(x, w3, NULL, NULL, &y), RT_ESHAPE,
                "conv_transpose2d: input has 3 channels, weight expects 1");
    ot = (rt_conv_transpose2d_opts){ { 1, 1 }, { 2, 2 }, { 0, 0 }, { 1, 1 }, 1 };
    rt_tensor *w11 = r64(4, SHAPE(1, 1, 1, 1));
    CHECK_FAILS(rt_conv_transpose2d(small, w11, NULL, &ot, &y), RT_ESHAPE,
                "output size would be -2x-2 for input [1,1,2,2]");
    rt_tensor_release(w11);
    CHECK_FAILS(rt_conv_transpose2d(small, w3, b2, NULL, &y), RT_ESHAPE, "bias must be [1]");
    CHECK_FAILS(rt_conv_transpose2d_backward_input(gy, w3, SHAPE(1, 1, 3, 3), NULL, &y),
                RT_ESHAPE, "grad_output is [1,1,4,4], expected [1,1,5,5]");
    CHECK(y == sentinel, "out untouched on transpose failure");
    rt_tensor_release(x), rt_tensor_release(small), rt_tensor_release(w3);
    rt_tensor_release(xf), rt_tensor_release(b2);
    rt_tensor_release(gy), rt_tensor_release(l2), rt_tensor_release(k3);
}

/* ---- allocation failures and interrupts ------------------------------------------------------ */
/* Fails the 1st, 2nd, ... allocation until the call succeeds: every failure must be RT_ENOMEM
** (ASan's leak check proves nothing leaks on those paths). */
static void test_alloc_failures(void)
{
    rt_tensor *x = make4(RT_F32, 4, 2, 30, 50, 2), *w = make4(RT_F32, 3, 2, 3, 3, 1);
    rt_tensor *gy = h_rand(RT_F32, 4, SHAPE(4, 3, 30, 50), -1, 1);
    rt_tensor *b = h_rand(RT_F32, 1, SHAPE(3), 0, 1);
    rt_conv2d_opts o = opts2(1, 1, 1, 1, 1, 1, 1);
    rt_conv_transpose2d_opts ot = { { 1, 1 }, { 1, 1 }, { 0, 0 }, { 1, 1 }, 1 };
    rt_tensor *wt = make4(RT_F32, 3, 2, 3, 3, 0), *wd = make4(RT_F32, 2, 1, 3, 3, 0);
    rt_conv2d_opts od = opts2(1, 1, 1, 1, 1, 1, 2);
    for (int which = 0; which < 5; which++) {
        int bad = 0, n;
        for (n = 1; n < 100; n++) {
            rt_tensor *r = NULL;
            rt_debug_fail_alloc_at(n);
            rt_status st = which == 0   ? rt_conv2d(x, w, b, &o, &r)
                           : which == 1 ? rt_conv2d_backward_input(gy, w, x->shape, &o, &r)
                           : which == 2 ? rt_conv2d_backward_weight(gy, x, w->shape, &o, &r)
                           : which == 3 ? rt_conv_transpose2d(gy, wt, NULL, &ot, &r)
                                        : rt_conv2d(x, wd, NULL, &od, &r);   /* depthwise */
            rt_debug_fail_alloc_at(0);
            rt_tensor_release(r);
            if (st == RT_OK) break;
            if (st != RT_ENOMEM) bad++;
        }
        CHECK(bad == 0 && n > 1 && n < 100, "allocation failures (case %d): %d bad, %d tries",
              which, bad, n);
    }
    rt_tensor_release(x), rt_tensor_release(w), rt_tensor_release(gy), rt_tensor_release(b);
    rt_tensor_release(wt), rt_tensor_release(wd);
}

static void test_interrupt(void)
{
    rt_tensor *x = r64(4, SHAPE(3, 2, 6, 6)), *w = r64(4, SHAPE(3, 2, 3, 3)), *y = NULL;
    rt_tensor *gy = r64(4, SHAPE(3, 3, 4, 4));
    rt_interrupt_request();
    CHECK_FAILS(rt_conv2d(x, w, NULL, NULL, &y), RT_EINTERRUPT, "interrupted");
    CHECK_FAILS(rt_conv2d_backward_input(gy, w, x->shape, NULL, &y), RT_EINTERRUPT, "interrupted");
    CHECK_FAILS(rt_conv2d_backward_weight(gy, x, w->shape, NULL, &y), RT_EINTERRUPT,
                "interrupted");
    rt_interrupt_clear();
    CHECK(y == NULL, "no result after an interrupt");
    CHECK_OK(rt_conv2d(x, w, NULL, NULL, &y));
    rt_tensor_release(x), rt_tensor_release(w), rt_tensor_release(gy), rt_tensor_release(y);
}

/* ---- determinism: 1 vs 2 threads, bitwise ---------------------------------------------------- */
static int same_bits(const rt_tensor *a, const rt_tensor *b)
{
    return a && b && rt_same_shape(a, b) &&
           memcmp(rt_tensor_data(a), rt_tensor_data(b),
                  (size_t)rt_tensor_numel(a) * rt_dtype_size(a->dtype)) == 0;
}

static void run_three(int kind, int threads, const rt_tensor *x, const rt_tensor *w,
                      const rt_tensor *gy, const void *opts, rt_tensor **r)
{
    rt_set_num_threads(threads);
    if (kind == 2) {
        const rt_conv2d_opts *o = opts;
        CHECK_OK(rt_conv2d(x, w, NULL, o, &r[0]));
        CHECK_OK(rt_conv2d_backward_input(gy, w, x->shape, o, &r[1]));
        CHECK_OK(rt_conv2d_backward_weight(gy, x, w->shape, o, &r[2]));
    } else {
        const rt_conv_transpose2d_opts *o = opts;
        CHECK_OK(rt_conv_transpose2d(x, w, NULL, o, &r[0]));
        CHECK_OK(rt_conv_transpose2d_backward_input(gy, w, x->shape, o, &r[1]));
        CHECK_OK(rt_conv_transpose2d_backward_weight(gy, x, w->shape, o, &r[2]));
    }
    CHECK_OK(rt_conv2d_backward_bias(gy, &r[3]));
}

static void test_determinism(void)
{
    rt_conv2d_opts dense = opts2(1, 1, 1, 1, 1, 1, 1), dw = opts2(1, 1, 1, 1, 1, 1, 16);
    rt_conv2d_opts grp = opts2(2, 2, 1, 1, 1, 1, 4);
    rt_conv_transpose2d_opts ot = { { 2, 2 }, { 1, 1 }, { 1, 1 }, { 1, 1 }, 1 };
    struct { int kind; int64_t xs[4], ws[4], ys[4]; const void *o; const char *what; } cs[] = {
        { 2, { 6, 16, 20, 20 }, { 24, 16, 3, 3 }, { 6, 24, 20, 20 }, &dense, "dense 3x3" },
        { 2, { 6, 16, 20, 20 }, { 16, 1, 3, 3 }, { 6, 16, 20, 20 }, &dw, "depthwise" },
        { 2, { 6, 16, 20, 20 }, { 24, 4, 3, 3 }, { 6, 24, 10, 10 }, &grp, "groups 4 stride 2" },
        { 3, { 4, 8, 10, 10 }, { 8, 6, 3, 3 }, { 4, 6, 20, 20 }, &ot, "transpose" },
        /* the CNN's second layer: 22 blocks of images in the pool, 8 weight partials */
        { 2, { 64, 32, 14, 14 }, { 64, 32, 3, 3 }, { 64, 64, 14, 14 }, &dense, "batch 64" },
    };
    int saved = rt_get_num_threads();
    for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
        rt_tensor *x = h_rand(RT_F32, 4, cs[k].xs, -1, 1), *w = h_rand(RT_F32, 4, cs[k].ws, -1, 1);
        rt_tensor *gy = h_rand(RT_F32, 4, cs[k].ys, -1, 1);
        rt_tensor *a[4] = { 0 }, *b[4] = { 0 };
        run_three(cs[k].kind, 1, x, w, gy, cs[k].o, a);
        run_three(cs[k].kind, 2, x, w, gy, cs[k].o, b);
        static const char *part[4] = { "forward", "backward_input", "backward_weight", "bias" };
        for (int i = 0; i < 4; i++) {
            CHECK(same_bits(a[i], b[i]), "%s: %s differs between 1 and 2 threads", cs[k].what,
                  part[i]);
            rt_tensor_release(a[i]);
            rt_tensor_release(b[i]);
        }
        rt_tensor_release(x), rt_tensor_release(w), rt_tensor_release(gy);
    }
    rt_set_num_threads(saved);
}

int main(void)
{
    test_forward_grid();
    test_forward_paths();
    test_torch_values();
    test_gradcheck_conv2d();
    test_gradcheck_conv1d();
    test_conv1d_forward();
    test_gradcheck_transpose();
    test_backward_paths();
    test_empty();
    test_errors_conv2d();
    test_errors_other();
    test_alloc_failures();
    test_interrupt();
    test_determinism();
    REPORT();
}
