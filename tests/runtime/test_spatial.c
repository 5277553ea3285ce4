/* test_spatial.c — pooling, upsampling and padding against naive float64 references written
** here (never the code under test), central-difference gradient checks of every backward
** kernel, hand-computed values, error messages, empty and size-1 shapes, 3-d inputs,
** strided inputs, and bitwise determinism across thread counts. */
#include <stdarg.h>
#include "harness.h"

/* ---- helpers ------------------------------------------------------------------------------ */
static void release_n(int n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) rt_tensor_release(va_arg(ap, rt_tensor *));
    va_end(ap);
}

/* Row-major f64 copy of any tensor. */
static double *dense(const rt_tensor *t)
{
    int64_t n = rt_tensor_numel(t);
    double *a = malloc((size_t)(n ? n : 1) * sizeof *a);
    for (int64_t i = 0; i < n; i++) a[i] = h_at(t, i);
    return a;
}

/* The same values in a strided layout: the last two dims transposed in memory plus an element
** offset (1-d: every other element from offset 1). */
static rt_tensor *noncontig(const rt_tensor *t)
{
    rt_tensor *big = NULL, *v = NULL, *w = NULL;
    int nd = t->ndim;
    int64_t shp[RT_MAXDIM];
    for (int i = 0; i < nd; i++) shp[i] = t->shape[i];
    if (nd == 1) {
        shp[0] = 2 * shp[0] + 1;
        rt_empty(t->dtype, 1, shp, &big);
        rt_view_slice(big, 0, 1, shp[0], 2, &w);
    } else {
        int64_t tmp = shp[nd - 1];
        shp[nd - 1] = shp[nd - 2];
        shp[nd - 2] = tmp;
        shp[0] += 1;
        rt_empty(t->dtype, nd, shp, &big);
        rt_view_narrow(big, 0, 1, shp[0] - 1, &v);
        rt_view_transpose(v, nd - 2, nd - 1, &w);
        rt_tensor_release(v);
    }
    rt_tensor_release(big);
    rt_copy_(w, t);
    return w;
}

static rt_tensor *to_dt(rt_tensor *t, rt_dtype dt)
{
    rt_tensor *r = NULL;
    rt_to_dtype(t, dt, &r);
    return r;
}

/* Distinct values: a random permutation of k * 0.25 plus noise below 0.1, so every comparison
** inside a max pool is at least 0.15 away from a tie (finite differences use h = 1e-6). */
static rt_tensor *distinct(int nd, const int64_t *shape)
{
    rt_tensor *t = h_rand(RT_F64, nd, shape, 0, 1);
    int64_t n = rt_tensor_numel(t);
    int64_t *perm = malloc((size_t)(n ? n : 1) * sizeof *perm);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t k = (int64_t)(h_uniform() * (double)(i + 1)), s = perm[i];
        perm[i] = perm[k];
        perm[k] = s;
    }
    double *d = t->storage->data;
    for (int64_t i = 0; i < n; i++) d[i] = (double)(perm[i] - n / 2) * 0.25 + 0.1 * h_uniform();
    free(perm);
    return t;
}

/* ---- one description for every op, so that one gradcheck serves all -------------------- */
enum { OP_MAX, OP_AVG, OP_ADAPT, OP_UP, OP_PAD };
typedef struct {
    int op;
    rt_pool2d_opts mo;
    rt_avgpool2d_opts ao;
    int64_t oh, ow;
    rt_upsample_mode um;
    int align;
    int np;
    int64_t pads[8];
    rt_pad_mode pm;
    double val;
} spec;

static rt_status fwd(const spec *s, const rt_tensor *x, rt_tensor **out, rt_tensor **aux)
{
    *aux = NULL;
    switch (s->op) {
    case OP_MAX: return rt_max_pool2d(x, &s->mo, out, aux);
    case OP_AVG: return rt_avg_pool2d(x, &s->ao, out);
    case OP_ADAPT: return rt_adaptive_avg_pool2d(x, s->oh, s->ow, out);
    case OP_UP: return rt_upsample2d(x, s->oh, s->ow, s->um, s->align, out);
    default: return rt_pad(x, s->np, s->pads, s->pm, s->val, out);
    }
}

static rt_status bwd(const spec *s, const rt_tensor *g, const rt_tensor *aux,
                     const int64_t *xs, rt_tensor **gx)
{
    switch (s->op) {
    case OP_MAX: return rt_max_pool2d_backward(g, aux, xs, gx);
    case OP_AVG: return rt_avg_pool2d_backward(g, xs, &s->ao, gx);
    case OP_ADAPT: return rt_adaptive_avg_pool2d_backward(g, xs, gx);
    case OP_UP: return rt_upsample2d_backward(g, xs, s->um, s->align, gx);
    default: return rt_pad_backward(g, s->np, s->pads, s->pm, xs, gx);
    }
}

static double loss(const spec *s, const rt_tensor *x, const rt_tensor *w)
{
    rt_tensor *y, *aux;
    if (fwd(s, x, &y, &aux) != RT_OK) return NAN;
    double l = 0;
    for (int64_t i = 0; i < rt_tensor_numel(y); i++) l += h_at(y, i) * h_at(w, i);
    rt_tensor_release(y);
    rt_tensor_release(aux);
    return l;
}

/* d/dx sum(f(x) * w) by central differences (h = 1e-6) against the backward kernel; then the
** same backward with a strided gout (must be bitwise equal) and in f32 (close). */
static void gradcheck(const char *name, const spec *s, rt_tensor *x)
{
    rt_tensor *y, *aux, *gx, *gx2, *wn, *wf, *gxf;
    if (fwd(s, x, &y, &aux) != RT_OK) {
        CHECK(0, "%s: forward failed: %s", name, rt_last_error());
        return;
    }
    rt_tensor *w = h_rand(RT_F64, y->ndim, y->shape, -1, 1);
    CHECK_OK(bwd(s, w, aux, x->shape, &gx));
    double *xd = x->storage->data, h = 1e-6;
    int bad = 0;
    for (int64_t i = 0; i < rt_tensor_numel(x); i++) {
        double v = xd[i];
        xd[i] = v + h;
        double lp = loss(s, x, w);
        xd[i] = v - h;
        double lm = loss(s, x, w);
        xd[i] = v;
        double num = (lp - lm) / (2 * h), a = h_at(gx, i);
        if (!(fabs(a - num) <= 1e-6 + 1e-5 * fabs(num))) {
            if (bad++ < 3) printf("  %s: gx[%lld] = %.9g, numeric %.9g\n", name, (long long)i,
                                  a, num);
        }
    }
    CHECK(bad == 0, "%s: gradcheck, %d elements off", name, bad);
    wn = noncontig(w);
    CHECK_OK(bwd(s, wn, aux, x->shape, &gx2));
    CHECK(memcmp(gx->storage->data, gx2->storage->data, rt_tensor_numel(gx) * 8) == 0,
          "%s: strided gout changes the gradient", name);
    rt_tensor_release(gx2);
    wf = to_dt(w, RT_F32);
    CHECK_OK(bwd(s, wf, aux, x->shape, &gxf));
    double *ref = dense(gx);
    CHECK(gxf->dtype == RT_F32 && h_worst(gxf, ref, 1e-5, 1e-5) <= 1, "%s: f32 backward", name);
    free(ref);
    rt_tensor_release(wn);
    wn = noncontig(wf);
    CHECK_OK(bwd(s, wn, aux, x->shape, &gx2));
    CHECK(memcmp(gxf->storage->data, gx2->storage->data, rt_tensor_numel(gx) * 4) == 0,
          "%s: strided f32 gout changes the gradient", name);
    release_n(8, y, aux, gx, gx2, wn, wf, gxf, w);
}

/* ---- references --------------------------------------------------------------------------- */
/* Output positions along one dim, by enumerating windows: full windows inside the padded
** input; in ceil mode also one partial window if the previous window did not reach the end
** and it starts inside the input or the left padding. */
static int64_t ref_out(int64_t in, int k, int s, int p, int d, int ceil_mode)
{
    int64_t span = (int64_t)d * (k - 1) + 1, len = in + 2 * p, n = 0;
    for (int64_t o = 0;; o++) {
        if (o * s + span <= len) n = o + 1;
        else if (ceil_mode && (o - 1) * s + span < len && o * s < in + p) return o + 1;
        else return n;
    }
}

/* x: (P,H,W) planes   out, idx: (P,oh,ow) */
static void ref_max(const double *x, int64_t P, int64_t H, int64_t W, const rt_pool2d_opts *o,
                    int64_t oh, int64_t ow, double *out, double *idx)
{
    int sh = o->stride[0] ? o->stride[0] : o->kernel[0];
    int sw = o->stride[1] ? o->stride[1] : o->kernel[1];
    for (int64_t p = 0; p < P; p++)
        for (int64_t i = 0; i < oh; i++)
            for (int64_t j = 0; j < ow; j++) {
                double m = -INFINITY;
                int64_t best = -1;
                for (int a = 0; a < o->kernel[0]; a++)
                    for (int b = 0; b < o->kernel[1]; b++) {
                        int64_t h = i * sh - o->padding[0] + (int64_t)a * o->dilation[0];
                        int64_t w = j * sw - o->padding[1] + (int64_t)b * o->dilation[1];
                        if (h < 0 || h >= H || w < 0 || w >= W) continue;
                        double v = x[(p * H + h) * W + w];
                        if (best < 0) best = h * W + w;
                        if (v > m || isnan(v)) {
                            m = v;
                            best = h * W + w;
                        }
                    }
                out[(p * oh + i) * ow + j] = m;
                idx[(p * oh + i) * ow + j] = (double)best;
            }
}

/* Window positions count toward the divisor while they lie inside input + padding. */
static void ref_avg(const double *x, int64_t P, int64_t H, int64_t W,
                    const rt_avgpool2d_opts *o, int64_t oh, int64_t ow, double *out)
{
    int sh = o->stride[0] ? o->stride[0] : o->kernel[0];
    int sw = o->stride[1] ? o->stride[1] : o->kernel[1];
    for (int64_t p = 0; p < P; p++)
        for (int64_t i = 0; i < oh; i++)
            for (int64_t j = 0; j < ow; j++) {
                double sum = 0;
                int npad = 0, nin = 0;
                for (int a = 0; a < o->kernel[0]; a++)
                    for (int b = 0; b < o->kernel[1]; b++) {
                        int64_t h = i * sh - o->padding[0] + a, w = j * sw - o->padding[1] + b;
                        if (h < H + o->padding[0] && w < W + o->padding[1]) npad++;
                        if (h < 0 || h >= H || w < 0 || w >= W) continue;
                        sum += x[(p * H + h) * W + w];
                        nin++;
                    }
                out[(p * oh + i) * ow + j] = sum / (o->count_include_pad ? npad : nin);
            }
}

static void ref_adaptive(const double *x, int64_t P, int64_t H, int64_t W, int64_t oh,
                         int64_t ow, double *out)
{
    for (int64_t p = 0; p < P; p++)
        for (int64_t i = 0; i < oh; i++)
            for (int64_t j = 0; j < ow; j++) {
                int64_t h0 = (int64_t)floor((double)i * H / oh);
                int64_t h1 = (int64_t)ceil((double)(i + 1) * H / oh);
                int64_t w0 = (int64_t)floor((double)j * W / ow);
                int64_t w1 = (int64_t)ceil((double)(j + 1) * W / ow);
                double sum = 0;
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++) sum += x[(p * H + h) * W + w];
                out[(p * oh + i) * ow + j] = sum / (double)((h1 - h0) * (w1 - w0));
            }
}

/* Bilinear source coordinate, split into two indices and the weight of the second. */
static void ref_lin(int64_t d, int64_t in, int64_t out, int align, int64_t *i0, int64_t *i1,
                    double *l)
{
    double src = align ? (out > 1 ? (double)d * (in - 1) / (out - 1) : 0)
                       : ((double)d + 0.5) * in / out - 0.5;
    if (src < 0) src = 0;
    *i0 = (int64_t)floor(src);
    if (*i0 > in - 1) *i0 = in - 1;
    *i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
    *l = src - (double)*i0;
}

static void ref_up(const double *x, int64_t P, int64_t H, int64_t W, int64_t oh, int64_t ow,
                   int bilinear, int align, double *out)
{
    for (int64_t p = 0; p < P; p++)
        for (int64_t i = 0; i < oh; i++)
            for (int64_t j = 0; j < ow; j++) {
                const double *xp = x + p * H * W;
                double v;
                if (!bilinear) {
                    int64_t h = i * H / oh, w = j * W / ow;   /* floor(dst * in/out) */
                    v = xp[h * W + w];
                } else {
                    int64_t h0, h1, w0, w1;
                    double a, b;
                    ref_lin(i, H, oh, align, &h0, &h1, &a);
                    ref_lin(j, W, ow, align, &w0, &w1, &b);
                    v = (1 - a) * ((1 - b) * xp[h0 * W + w0] + b * xp[h0 * W + w1]) +
                        a * ((1 - b) * xp[h1 * W + w0] + b * xp[h1 * W + w1]);
                }
                out[(p * oh + i) * ow + j] = v;
            }
}

/* Input index read by output index o of one padded dim; -1 for the constant. Reflection
** bounces until it lands inside, written independently of the runtime's closed form. */
static int64_t ref_pad_src(int64_t o, int64_t before, int64_t n, rt_pad_mode m)
{
    int64_t i = o - before;
    if (i >= 0 && i < n) return i;
    if (m == RT_PAD_CONSTANT) return -1;
    if (m == RT_PAD_REPLICATE) return i < 0 ? 0 : n - 1;
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
}

static void ref_pad(const double *x, int nd, const int64_t *shape, const spec *s,
                    const int64_t *oshape, double *out)
{
    int64_t n = 1, idx[RT_MAXDIM];
    for (int d = 0; d < nd; d++) n *= oshape[d];
    for (int64_t f = 0; f < n; f++) {
        int64_t rem = f, src = 0, stride = 1, ok = 1;
        for (int d = nd - 1; d >= 0; d--) {
            idx[d] = rem % oshape[d];
            rem /= oshape[d];
        }
        for (int d = nd - 1; d >= 0; d--) {
            int k = nd - 1 - d;
            int64_t i = k < s->np ? ref_pad_src(idx[d], s->pads[2 * k], shape[d], s->pm) : idx[d];
            if (i < 0) ok = 0;
            src += i * stride;
            stride *= shape[d];
        }
        out[f] = ok ? x[src] : s->val;
    }
}

/* ---- checking one forward case against its reference ----------------------------------- */
/* The reference for spec s on x (dense f64 values of tensor xt). */
static void refn(const spec *s, const double *x, const rt_tensor *xt, double *o, double *ix)
{
    const int64_t *sh = xt->shape;
    int64_t P = sh[0] * sh[1], os[RT_MAXDIM];
    const rt_pool2d_opts *m = &s->mo;
    const rt_avgpool2d_opts *a = &s->ao;
    switch (s->op) {
    case OP_MAX:
        ref_max(x, P, sh[2], sh[3], m,
                ref_out(sh[2], m->kernel[0], m->stride[0] ? m->stride[0] : m->kernel[0],
                        m->padding[0], m->dilation[0], m->ceil_mode),
                ref_out(sh[3], m->kernel[1], m->stride[1] ? m->stride[1] : m->kernel[1],
                        m->padding[1], m->dilation[1], m->ceil_mode), o, ix);
        break;
    case OP_AVG:
        ref_avg(x, P, sh[2], sh[3], a,
                ref_out(sh[2], a->kernel[0], a->stride[0] ? a->stride[0] : a->kernel[0],
                        a->padding[0], 1, a->ceil_mode),
                ref_out(sh[3], a->kernel[1], a->stride[1] ? a->stride[1] : a->kernel[1],
                        a->padding[1], 1, a->ceil_mode), o);
        break;
    case OP_ADAPT: ref_adaptive(x, P, sh[2], sh[3], s->oh, s->ow, o); break;
    case OP_UP:
        ref_up(x, P, sh[2], sh[3], s->oh, s->ow, s->um == RT_UPSAMPLE_BILINEAR, s->align, o);
        break;
    default:
        for (int d = 0; d < xt->ndim; d++) os[d] = sh[d];
        for (int k = 0; k < s->np; k++)
            os[xt->ndim - 1 - k] += s->pads[2 * k] + s->pads[2 * k + 1];
        ref_pad(x, xt->ndim, sh, s, os, o);
    }
}

/* Runs s on x in f64 (contiguous), f32 (strided), f64 (strided) and f32 (contiguous: the
** layout the unrolled fast paths take) and compares with refn applied to the values passed in. */
static void check_case(const char *name, const spec *s, rt_tensor *x, int nd_out,
                       const int64_t *oshape)
{
    int64_t n = 1;
    for (int d = 0; d < nd_out; d++) n *= oshape[d];
    double *ref = malloc((size_t)(n ? n : 1) * sizeof *ref);
    double *ridx = malloc((size_t)(n ? n : 1) * sizeof *ridx);
    static const char *pname[4] = { "f64", "f32 strided", "f64 strided", "f32" };
    for (int pass = 0; pass < 4; pass++) {
        rt_tensor *xf = pass ? to_dt(x, pass == 2 ? RT_F64 : RT_F32) : x;
        rt_tensor *xin = pass == 3 ? xf : pass ? noncontig(xf) : x;
        if (pass == 3) rt_tensor_retain(xf);
        rt_tensor *y = NULL, *ix = NULL;
        double *xd = dense(xin);
        refn(s, xd, xin, ref, ridx);
        rt_status st = fwd(s, xin, &y, &ix);
        CHECK(st == RT_OK, "%s (%s): %s", name, pname[pass], rt_last_error());
        if (st == RT_OK) {
            double tol = pass % 2 ? 1e-5 : 1e-12;
            CHECK(h_shape_is(y, nd_out, oshape) && y->dtype == xin->dtype, "%s: shape", name);
            CHECK(h_worst(y, ref, tol, tol) <= 1, "%s (%s): values differ", name, pname[pass]);
            if (ix) CHECK(h_worst(ix, ridx, 1e-12, 0) <= 1, "%s: indices differ", name);
        }
        rt_tensor_release(y);
        rt_tensor_release(ix);
        if (pass) {
            rt_tensor_release(xf);
            rt_tensor_release(xin);
        }
        free(xd);
    }
    free(ref);
    free(ridx);
}

/* ---- max pooling -------------------------------------------------------------------------- */
static const int64_t shapes_a[2][4] = { { 2, 3, 7, 6 }, { 1, 2, 5, 8 } };
static const int kernels[3][2] = { { 2, 2 }, { 3, 3 }, { 3, 2 } };

static void test_max_grid(void)
{
    int cases = 0;
    for (int gi = 0; gi < 3 * 4 * 2 * 2 * 2 * 2; gi++) {
        int ki = gi % 3, s = gi / 3 % 4, p = gi / 12 % 2, d = 1 + gi / 24 % 2;
        int c = gi / 48 % 2, si = gi / 96;
        rt_pool2d_opts o = { { kernels[ki][0], kernels[ki][1] }, { s, s }, { p, p }, { d, d }, c };
        spec sp = { .op = OP_MAX, .mo = o };
        const int64_t *sh = shapes_a[si];
        int64_t oh = ref_out(sh[2], o.kernel[0], s ? s : o.kernel[0], p, d, c);
        int64_t ow = ref_out(sh[3], o.kernel[1], s ? s : o.kernel[1], p, d, c);
        rt_tensor *x = distinct(4, sh), *y = NULL;
        if (oh < 1 || ow < 1) {
            CHECK_FAILS(rt_max_pool2d(x, &o, &y, NULL), RT_ESHAPE, "too small");
        } else {
            char name[96];
            snprintf(name, sizeof name, "max k%dx%d s%d p%d d%d c%d [%lld]", o.kernel[0],
                     o.kernel[1], s, p, d, c, (long long)sh[3]);
            check_case(name, &sp, x, 4, SHAPE(sh[0], sh[1], oh, ow));
            cases++;
        }
        rt_tensor_release(x);
    }
    CHECK(cases > 120, "max grid ran only %d cases", cases);
}

static void test_max_special(void)
{
    rt_tensor *x, *y, *ix, *g, *gx;
    /* known values: 4x4 of 0..15, 2x2 windows -> the bottom-right of each window */
    double v16[16];
    for (int i = 0; i < 16; i++) v16[i] = i;
    rt_from_buffer(RT_F64, 4, SHAPE(1, 1, 4, 4), v16, &x);
    rt_pool2d_opts o = { { 2, 2 }, { 0, 0 }, { 0, 0 }, { 1, 1 }, 0 };
    CHECK_OK(rt_max_pool2d(x, &o, &y, &ix));
    double e[4] = { 5, 7, 13, 15 };
    CHECK(h_worst(y, e, 1e-12, 0) <= 1 && h_worst(ix, e, 1e-12, 0) <= 1, "max 4x4 known values");
    rt_tensor_release(y);
    rt_tensor_release(ix);
    CHECK_OK(rt_max_pool2d(x, &o, &y, NULL));   /* indices are optional */
    CHECK(h_worst(y, e, 1e-12, 0) <= 1, "max without indices");
    rt_tensor_release(y);
    /* NaN propagates and the last NaN of a window gives the index (window 0 holds NaN at
    ** flat positions 0 and 5); an all -inf window keeps its first element's index (2) */
    rt_tensor_release(x);
    float f16[16];
    for (int i = 0; i < 16; i++) f16[i] = (float)i;
    f16[0] = f16[5] = NAN;
    f16[2] = f16[3] = f16[6] = f16[7] = -INFINITY;
    rt_from_buffer(RT_F32, 4, SHAPE(1, 1, 4, 4), f16, &x);
    CHECK_OK(rt_max_pool2d(x, &o, &y, &ix));
    CHECK(isnan(h_at(y, 0)) && h_at(ix, 0) == 5, "max NaN: %g at %g", h_at(y, 0), h_at(ix, 0));
    CHECK(h_at(y, 1) == -INFINITY && h_at(ix, 1) == 2, "max -inf window: %g at %g", h_at(y, 1),
          h_at(ix, 1));
    release_n(3, x, y, ix);
    /* dilation 3 over a 2x2 input with padding 1: the only window holds no input element */
    x = h_rand(RT_F64, 4, SHAPE(1, 1, 2, 2), -1, 1);
    rt_pool2d_opts od = { { 2, 2 }, { 1, 1 }, { 1, 1 }, { 3, 3 }, 0 };
    CHECK_OK(rt_max_pool2d(x, &od, &y, &ix));
    CHECK(h_shape_is(y, 4, SHAPE(1, 1, 1, 1)) && h_at(y, 0) == -INFINITY && h_at(ix, 0) == -1,
          "max empty dilated window");
    CHECK_OK(rt_max_pool2d_backward(y, ix, x->shape, &gx));
    CHECK(h_at(gx, 0) == 0 && h_at(gx, 3) == 0, "index -1 gets no gradient");
    rt_tensor *yf = to_dt(y, RT_F32), *gxf;
    CHECK_OK(rt_max_pool2d_backward(yf, ix, x->shape, &gxf));
    CHECK(h_at(gxf, 0) == 0 && h_at(gxf, 3) == 0, "index -1 gets no gradient (f32)");
    release_n(6, x, y, ix, gx, yf, gxf);
    /* 3-d input behaves as N=1; N=0 and size-1 planes */
    x = distinct(3, SHAPE(2, 5, 4));
    rt_pool2d_opts o3 = { { 3, 2 }, { 2, 1 }, { 1, 0 }, { 1, 1 }, 1 };
    rt_tensor *x4, *y4;
    rt_view_unsqueeze(x, 0, &x4);
    CHECK_OK(rt_max_pool2d(x, &o3, &y, &ix));
    CHECK_OK(rt_max_pool2d(x4, &o3, &y4, &g));
    CHECK(y->ndim == 3 && y->shape[0] == 2 && rt_tensor_numel(y) == rt_tensor_numel(y4) &&
          memcmp(y->storage->data, y4->storage->data, rt_tensor_numel(y) * 8) == 0,
          "max 3-d input");
    CHECK_OK(rt_max_pool2d_backward(y, ix, x->shape, &gx));
    CHECK(h_shape_is(gx, 3, x->shape), "max backward 3-d");
    release_n(7, x, x4, y, y4, ix, g, gx);
    x = h_rand(RT_F32, 4, SHAPE(0, 3, 5, 5), 0, 1);
    CHECK_OK(rt_max_pool2d(x, &o, &y, &ix));
    CHECK(h_shape_is(y, 4, SHAPE(0, 3, 2, 2)), "max N=0");
    CHECK_OK(rt_max_pool2d_backward(y, ix, x->shape, &gx));
    CHECK(h_shape_is(gx, 4, SHAPE(0, 3, 5, 5)), "max backward N=0");
    release_n(4, x, y, ix, gx);
    x = distinct(4, SHAPE(2, 1, 1, 6));
    rt_pool2d_opts o1 = { { 1, 3 }, { 1, 2 }, { 0, 1 }, { 1, 1 }, 0 };
    spec sp = { .op = OP_MAX, .mo = o1 };
    check_case("max size-1 H", &sp, x, 4, SHAPE(2, 1, 1, 3));
    rt_tensor_release(x);
}

/* ---- average and adaptive pooling --------------------------------------------------------- */
static void test_avg_grid(void)
{
    int cases = 0;
    for (int gi = 0; gi < 3 * 4 * 2 * 2 * 2 * 2; gi++) {
        int ki = gi % 3, s = gi / 3 % 4, p = gi / 12 % 2, c = gi / 24 % 2;
        int cip = gi / 48 % 2, si = gi / 96;
        rt_avgpool2d_opts o = { { kernels[ki][0], kernels[ki][1] }, { s, s }, { p, p }, c, cip };
        spec sp = { .op = OP_AVG, .ao = o };
        const int64_t *sh = shapes_a[si];
        int64_t oh = ref_out(sh[2], o.kernel[0], s ? s : o.kernel[0], p, 1, c);
        int64_t ow = ref_out(sh[3], o.kernel[1], s ? s : o.kernel[1], p, 1, c);
        char name[96];
        snprintf(name, sizeof name, "avg k%dx%d s%d p%d c%d cip%d [%lld]", o.kernel[0],
                 o.kernel[1], s, p, c, cip, (long long)sh[3]);
        rt_tensor *x = h_rand(RT_F64, 4, sh, -1, 1);
        check_case(name, &sp, x, 4, SHAPE(sh[0], sh[1], oh, ow));
        rt_tensor_release(x);
        cases++;
    }
    CHECK(cases == 192, "avg grid ran %d cases", cases);
}

static void test_avg_known(void)
{
    /* x = 1..9 in 3x3.  Hand-computed:
    **   k2 s1: window sums 12,16,24,28 over 4 -> 3,4,6,7;
    **   k3 s1 p1 corner: 1+2+4+5 = 12, over 9 with padding (1.3333...) or 4 without (3);
    **   k2 s2 ceil: windows clip at the input end, and PyTorch's divisor stops there too even
    **   with count_include_pad (no padding to count): 12/4, (3+6)/2, (7+8)/2, 9/1. */
    double v[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    rt_tensor *x, *y;
    rt_from_buffer(RT_F64, 4, SHAPE(1, 1, 3, 3), v, &x);
    rt_avgpool2d_opts a = { { 2, 2 }, { 1, 1 }, { 0, 0 }, 0, 1 };
    CHECK_OK(rt_avg_pool2d(x, &a, &y));
    CHECK(h_worst(y, (double[]){ 3, 4, 6, 7 }, 1e-15, 0) <= 1, "avg k2 s1 known");
    rt_tensor_release(y);
    rt_avgpool2d_opts b = { { 3, 3 }, { 1, 1 }, { 1, 1 }, 0, 1 };
    CHECK_OK(rt_avg_pool2d(x, &b, &y));
    CHECK(fabs(h_at(y, 0) - 12.0 / 9) < 1e-15 && fabs(h_at(y, 4) - 5) < 1e-15, "avg cip known");
    rt_tensor_release(y);
    b.count_include_pad = 0;
    CHECK_OK(rt_avg_pool2d(x, &b, &y));
    CHECK(fabs(h_at(y, 0) - 3) < 1e-15 && fabs(h_at(y, 1) - 21.0 / 6) < 1e-15, "avg no-cip");
    rt_tensor_release(y);
    rt_avgpool2d_opts c = { { 2, 2 }, { 2, 2 }, { 0, 0 }, 1, 1 };
    CHECK_OK(rt_avg_pool2d(x, &c, &y));
    CHECK(h_worst(y, (double[]){ 3, 4.5, 7.5, 9 }, 1e-15, 0) <= 1, "avg ceil known");
    rt_tensor_release(y);
    /* adaptive 1..5 -> 3: windows [0,2) [1,4) [3,5) -> 1.5, 3, 4.5 */
    rt_tensor *x5;
    rt_from_buffer(RT_F64, 4, SHAPE(1, 1, 1, 5), v, &x5);
    CHECK_OK(rt_adaptive_avg_pool2d(x5, 1, 3, &y));
    CHECK(h_worst(y, (double[]){ 1.5, 3, 4.5 }, 1e-15, 0) <= 1, "adaptive known");
    release_n(3, y, x5, x);
}

static void test_adaptive_grid(void)
{
    static const int64_t in[4][2] = { { 5, 7 }, { 4, 4 }, { 1, 3 }, { 6, 1 } };
    static const int64_t out[6][2] = { { 1, 1 }, { 2, 3 }, { 3, 5 }, { 5, 7 }, { 7, 9 },
                                       { 4, 2 } };
    for (int i = 0; i < 4; i++)
        for (int o = 0; o < 6; o++) {
            spec sp = { .op = OP_ADAPT, .oh = out[o][0], .ow = out[o][1] };
            rt_tensor *x = h_rand(RT_F64, 4, SHAPE(2, 3, in[i][0], in[i][1]), -1, 1);
            char name[64];
            snprintf(name, sizeof name, "adaptive %lldx%lld->%lldx%lld", (long long)in[i][0],
                     (long long)in[i][1], (long long)out[o][0], (long long)out[o][1]);
            check_case(name, &sp, x, 4, SHAPE(2, 3, out[o][0], out[o][1]));
            rt_tensor_release(x);
        }
    /* output size 0 gives an empty result; N=0 too */
    rt_tensor *y, *x = h_rand(RT_F64, 4, SHAPE(1, 2, 3, 3), -1, 1);
    rt_tensor *z = h_rand(RT_F32, 4, SHAPE(0, 2, 3, 3), 0, 1);
    CHECK_OK(rt_adaptive_avg_pool2d(x, 0, 2, &y));
    CHECK(h_shape_is(y, 4, SHAPE(1, 2, 0, 2)), "adaptive to 0 rows");
    rt_tensor_release(y);
    CHECK_OK(rt_adaptive_avg_pool2d(z, 2, 2, &y));
    CHECK(h_shape_is(y, 4, SHAPE(0, 2, 2, 2)), "adaptive N=0");
    release_n(3, y, x, z);
}

/* Pool gradients: inputs of distinct values (max pooling needs them away from ties). */
static void test_pool_grad(void)
{
    static const spec specs[] = {
        { .op = OP_MAX, .mo = { { 3, 3 }, { 2, 2 }, { 1, 1 }, { 1, 1 }, 1 } },
        { .op = OP_MAX, .mo = { { 2, 2 }, { 1, 1 }, { 0, 0 }, { 2, 2 }, 0 } },
        { .op = OP_MAX, .mo = { { 3, 2 }, { 2, 1 }, { 1, 0 }, { 1, 1 }, 1 } },
        { .op = OP_MAX, .mo = { { 2, 2 }, { 0, 0 }, { 1, 1 }, { 1, 1 }, 0 } },
        { .op = OP_AVG, .ao = { { 3, 3 }, { 2, 2 }, { 1, 1 }, 1, 1 } },
        { .op = OP_AVG, .ao = { { 3, 3 }, { 2, 2 }, { 1, 1 }, 1, 0 } },
        { .op = OP_AVG, .ao = { { 2, 3 }, { 1, 2 }, { 0, 1 }, 0, 1 } },
        { .op = OP_AVG, .ao = { { 2, 2 }, { 0, 0 }, { 1, 0 }, 1, 0 } },
        { .op = OP_ADAPT, .oh = 3, .ow = 3 },
        { .op = OP_ADAPT, .oh = 4, .ow = 2 },
        { .op = OP_ADAPT, .oh = 5, .ow = 4 },
    };
    for (int i = 0; i < (int)(sizeof specs / sizeof specs[0]); i++) {
        /* adaptive pooling also covers 3-d input */
        rt_tensor *x = specs[i].op == OP_ADAPT ? distinct(3, SHAPE(2, 5, 4))
                                               : distinct(4, SHAPE(1, 2, 5, 4));
        char name[32];
        snprintf(name, sizeof name, "pool grad %d", i);
        gradcheck(name, &specs[i], x);
        rt_tensor_release(x);
    }
}

/* ---- upsampling --------------------------------------------------------------------------- */
static void test_up_grid(void)
{
    static const int64_t sizes[7][2] = { { 1, 1 }, { 3, 4 }, { 6, 8 }, { 5, 7 }, { 2, 3 },
                                         { 7, 2 }, { 9, 12 } };
    static const int64_t ins[2][4] = { { 2, 3, 3, 4 }, { 1, 2, 1, 5 } };
    for (int si = 0; si < 2; si++)
        for (int i = 0; i < 7; i++)
            for (int m = 0; m < 3; m++) {
                spec sp = { .op = OP_UP, .oh = sizes[i][0], .ow = sizes[i][1],
                            .um = m ? RT_UPSAMPLE_BILINEAR : RT_UPSAMPLE_NEAREST,
                            .align = m == 2 };
                rt_tensor *x = h_rand(RT_F64, 4, ins[si], -1, 1);
                char name[64];
                snprintf(name, sizeof name, "upsample %s %lldx%lld", m == 0 ? "nearest" :
                         m == 1 ? "bilinear" : "bilinear-ac", (long long)sizes[i][0],
                         (long long)sizes[i][1]);
                check_case(name, &sp, x, 4, SHAPE(ins[si][0], ins[si][1], sizes[i][0],
                                                  sizes[i][1]));
                rt_tensor_release(x);
            }
}

static void test_up_known(void)
{
    /* x = [[1,2],[3,4]] to 4x4, derived by hand:
    ** align_corners: src = dst*(2-1)/(4-1) = 0, 1/3, 2/3, 1 on both axes, so
    **   out[i][j] = 1 + j/3 + 2*i/3 (a row adds 1 across, a column adds 2 down).
    ** no align_corners: src = (dst+0.5)*2/4 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25
    **   (index 1 with both neighbours = 1), i.e. weights c = 0, .25, .75, 1:
    **   out[i][j] = 1 + c[j] + 2*c[i].
    ** Both tables are also the examples printed in PyTorch's docs of nn.UpsamplingBilinear2d
    ** (align_corners=True) and nn.Upsample (scale_factor=2, bilinear, align_corners=False).
    ** nearest 2x2 -> 3x3: src = floor(dst * 2/3) = 0, 0, 1. */
    float v[4] = { 1, 2, 3, 4 };
    double ac[16] = { 1, 4. / 3, 5. / 3, 2, 5. / 3, 2, 7. / 3, 8. / 3,
                      7. / 3, 8. / 3, 3, 10. / 3, 3, 10. / 3, 11. / 3, 4 };
    double nac[16] = { 1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5,
                       2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4 };
    double nn[9] = { 1, 1, 2, 1, 1, 2, 3, 3, 4 };
    rt_tensor *x, *y;
    rt_from_buffer(RT_F32, 4, SHAPE(1, 1, 2, 2), v, &x);
    CHECK_OK(rt_upsample2d(x, 4, 4, RT_UPSAMPLE_BILINEAR, 1, &y));
    CHECK(h_worst(y, ac, 1e-6, 1e-6) <= 1, "bilinear align_corners known values");
    rt_tensor_release(y);
    CHECK_OK(rt_upsample2d(x, 4, 4, RT_UPSAMPLE_BILINEAR, 0, &y));
    CHECK(h_worst(y, nac, 1e-12, 0) <= 1, "bilinear known values (exact in f32)");
    rt_tensor_release(y);
    CHECK_OK(rt_upsample2d(x, 3, 3, RT_UPSAMPLE_NEAREST, 0, &y));
    CHECK(h_worst(y, nn, 1e-12, 0) <= 1, "nearest known values");
    rt_tensor_release(y);
    rt_tensor_release(x);
    /* 3-d input, N=0 */
    x = h_rand(RT_F64, 3, SHAPE(2, 3, 2), -1, 1);
    CHECK_OK(rt_upsample2d(x, 5, 5, RT_UPSAMPLE_BILINEAR, 0, &y));
    CHECK(h_shape_is(y, 3, SHAPE(2, 5, 5)), "upsample 3-d input");
    rt_tensor_release(y);
    rt_tensor_release(x);
    x = h_rand(RT_F64, 4, SHAPE(0, 3, 2, 2), -1, 1);
    CHECK_OK(rt_upsample2d(x, 5, 5, RT_UPSAMPLE_NEAREST, 0, &y));
    CHECK(h_shape_is(y, 4, SHAPE(0, 3, 5, 5)), "upsample N=0");
    rt_tensor_release(y);
    rt_tensor_release(x);
}

static void test_up_grad(void)
{
    static const int64_t sz[4][2] = { { 5, 7 }, { 2, 3 }, { 1, 1 }, { 6, 2 } };
    for (int i = 0; i < 4; i++)
        for (int m = 0; m < 3; m++) {
            spec sp = { .op = OP_UP, .oh = sz[i][0], .ow = sz[i][1],
                        .um = m ? RT_UPSAMPLE_BILINEAR : RT_UPSAMPLE_NEAREST, .align = m == 2 };
            rt_tensor *x = h_rand(RT_F64, 4, SHAPE(1, 2, 3, 4), -1, 1);
            char name[48];
            snprintf(name, sizeof name, "upsample grad mode %d %lldx%lld", m,
                     (long long)sz[i][0], (long long)sz[i][1]);
            gradcheck(name, &sp, x);
            rt_tensor_release(x);
        }
}

/* ---- padding ------------------------------------------------------------------------------ */
static void test_pad_grid(void)
{
    static const int64_t pads[6][6] = { { 2, 1, 0, 0, 0, 0 }, { 1, 2, 2, 1, 0, 0 },
                                        { -1, 2, 1, -2, 0, 0 }, { 0, 0, 1, 1, 1, 0 },
                                        { 3, -3, 0, 2, 1, 1 }, { 0, 5, 0, 0, 0, 0 } };
    static const int np[6] = { 1, 2, 2, 3, 3, 1 };
    static const int64_t shp[2][4] = { { 2, 3, 4, 5 }, { 1, 4, 3, 4 } };
    for (int si = 0; si < 2; si++)
        for (int pi = 0; pi < 6; pi++)
            for (int m = 0; m < 3; m++) {
                spec sp = { .op = OP_PAD, .np = np[pi], .pm = (rt_pad_mode)m, .val = 0.5 };
                memcpy(sp.pads, pads[pi], sizeof pads[pi]);
                int64_t os[4];
                int ok = 1;
                for (int d = 0; d < 4; d++) os[d] = shp[si][d];
                for (int k = 0; k < sp.np; k++) {
                    int64_t n = shp[si][3 - k], a = sp.pads[2 * k], b = sp.pads[2 * k + 1];
                    os[3 - k] += a + b;
                    if (m == RT_PAD_REFLECT && (a >= n || b >= n)) ok = 0;
                }
                rt_tensor *x = h_rand(RT_F64, 4, shp[si], -1, 1), *y;
                char name[64];
                snprintf(name, sizeof name, "pad mode %d pads #%d shape #%d", m, pi, si);
                if (ok) check_case(name, &sp, x, 4, os);
                else CHECK_FAILS(rt_pad(x, sp.np, sp.pads, sp.pm, 0, &y), RT_EARG,
                                 "must be smaller than the size");
                rt_tensor_release(x);
            }
}

static void test_pad_known(void)
{
    /* [1,2,3] with (2,1): reflect mirrors around the edge without repeating it; replicate
    ** repeats the edge; constant fills; (-1,1) crops one on the left. */
    double v[3] = { 1, 2, 3 };
    int64_t i3[3] = { 1, 2, 3 };
    rt_tensor *x, *xi, *y;
    rt_from_buffer(RT_F64, 1, SHAPE(3), v, &x);
    rt_from_buffer(RT_I64, 1, SHAPE(3), i3, &xi);
    CHECK_OK(rt_pad(x, 1, SHAPE(2, 1), RT_PAD_REFLECT, 0, &y));
    CHECK(h_worst(y, (double[]){ 3, 2, 1, 2, 3, 2 }, 1e-12, 0) <= 1, "reflect known");
    rt_tensor_release(y);
    CHECK_OK(rt_pad(x, 1, SHAPE(2, 1), RT_PAD_REPLICATE, 0, &y));
    CHECK(h_worst(y, (double[]){ 1, 1, 1, 2, 3, 3 }, 1e-12, 0) <= 1, "replicate known");
    rt_tensor_release(y);
    CHECK_OK(rt_pad(xi, 1, SHAPE(2, 1), RT_PAD_CONSTANT, 7, &y));
    CHECK(y->dtype == RT_I64 && h_worst(y, (double[]){ 7, 7, 1, 2, 3, 7 }, 1e-12, 0) <= 1,
          "constant i64 known");
    rt_tensor_release(y);
    CHECK_OK(rt_pad(x, 1, SHAPE(-1, 1), RT_PAD_CONSTANT, 9, &y));
    CHECK(h_worst(y, (double[]){ 2, 3, 9 }, 1e-12, 0) <= 1, "negative pad crops");
    rt_tensor_release(y);
    CHECK_OK(rt_pad(x, 1, SHAPE(-2, -1), RT_PAD_REFLECT, 0, &y));
    CHECK(h_shape_is(y, 1, SHAPE(0)), "crop to nothing");
    rt_tensor_release(y);
    CHECK_OK(rt_pad(x, 0, NULL, RT_PAD_REFLECT, 0, &y));
    CHECK(h_worst(y, v, 1e-12, 0) <= 1 && y->storage != x->storage, "no pairs copies");
    rt_tensor_release(y);
    rt_tensor *xs = noncontig(x);
    CHECK_OK(rt_pad(xs, 1, SHAPE(1, 2), RT_PAD_REFLECT, 0, &y));
    CHECK(h_worst(y, (double[]){ 2, 1, 2, 3, 2, 1 }, 1e-12, 0) <= 1, "reflect strided 1-d");
    release_n(4, y, xs, x, xi);
    /* size-1 dims: replicate works, constant works, empty dims padded by constant */
    x = h_rand(RT_F32, 3, SHAPE(1, 1, 2), 0, 1);
    CHECK_OK(rt_pad(x, 2, SHAPE(1, 1, 2, 0), RT_PAD_REPLICATE, 0, &y));
    CHECK(h_shape_is(y, 3, SHAPE(1, 3, 4)) && h_at(y, 0) == h_at(x, 0) &&
          h_at(y, 11) == h_at(x, 1), "replicate size-1");
    rt_tensor_release(y);
    rt_tensor_release(x);
    x = h_rand(RT_F64, 2, SHAPE(0, 2), 0, 1);
    CHECK_OK(rt_pad(x, 2, SHAPE(1, 0, 1, 1), RT_PAD_CONSTANT, 4, &y));
    CHECK(h_shape_is(y, 2, SHAPE(2, 3)) && h_at(y, 4) == 4, "constant pad of an empty dim");
    rt_tensor_release(y);
    CHECK_OK(rt_pad(x, 1, SHAPE(1, 1), RT_PAD_REPLICATE, 0, &y));
    CHECK(h_shape_is(y, 2, SHAPE(0, 4)), "replicate with N=0 leading dim");
    rt_tensor_release(y);
    rt_tensor_release(x);
}

static void test_pad_grad(void)
{
    static const int64_t pads[4][4] = { { 2, 1, 1, 2 }, { -1, 2, 2, -1 }, { 0, 3, 0, 0 },
                                        { 1, 1, 0, 0 } };
    for (int pi = 0; pi < 4; pi++)
        for (int m = 0; m < 3; m++) {
            spec sp = { .op = OP_PAD, .np = 2, .pm = (rt_pad_mode)m };
            memcpy(sp.pads, pads[pi], sizeof pads[pi]);
            rt_tensor *x = h_rand(RT_F64, 3, SHAPE(2, 3, 4), -1, 1);
            char name[48];
            snprintf(name, sizeof name, "pad grad mode %d #%d", m, pi);
            gradcheck(name, &sp, x);
            rt_tensor_release(x);
        }
    /* every dim padded (no leading batch) and a 1-d input */
    spec sp = { .op = OP_PAD, .np = 3, .pm = RT_PAD_REFLECT, .pads = { 1, 2, 1, 0, 1, 1 } };
    rt_tensor *x = h_rand(RT_F64, 3, SHAPE(2, 3, 4), -1, 1);
    gradcheck("pad grad all dims reflect", &sp, x);
    sp.pm = RT_PAD_REPLICATE;
    gradcheck("pad grad all dims replicate", &sp, x);
    rt_tensor_release(x);
    spec s1 = { .op = OP_PAD, .np = 1, .pm = RT_PAD_REFLECT, .pads = { 4, 3 } };
    x = h_rand(RT_F64, 1, SHAPE(5), -1, 1);
    gradcheck("pad grad 1-d reflect", &s1, x);
    rt_tensor_release(x);
}

/* ---- errors ------------------------------------------------------------------------------- */
static void test_errors(void)
{
    rt_tensor *x = h_rand(RT_F64, 4, SHAPE(1, 1, 2, 2), 0, 1), *y = NULL, *ix = NULL;
    rt_tensor *m2 = h_rand(RT_F64, 2, SHAPE(4, 4), 0, 1);
    rt_tensor *xi = h_rand(RT_I64, 4, SHAPE(1, 1, 4, 4), 0, 9);
    rt_tensor *x4 = h_rand(RT_F64, 4, SHAPE(1, 1, 4, 4), 0, 1);
    rt_pool2d_opts k3 = { { 3, 3 }, { 1, 1 }, { 0, 0 }, { 1, 1 }, 0 };
    CHECK_FAILS(rt_max_pool2d(x, &k3, &y, &ix), RT_ESHAPE,
                "max_pool2d: input [1,1,2,2] is too small for kernel 3x3 (output would be 0x0)");
    CHECK(y == NULL && ix == NULL, "outputs untouched on failure");
    rt_pool2d_opts p2 = { { 3, 3 }, { 1, 1 }, { 2, 2 }, { 1, 1 }, 0 };
    CHECK_FAILS(rt_max_pool2d(x4, &p2, &y, NULL), RT_EARG,
                "max_pool2d: kernel 3x3 with padding 2: padding must be at most half the kernel");
    CHECK_FAILS(rt_max_pool2d(m2, &k3, &y, NULL), RT_ESHAPE, "expected [N,C,H,W]");
    CHECK_FAILS(rt_max_pool2d(xi, &k3, &y, NULL), RT_EDTYPE, "i64, expected f32 or f64");
    rt_pool2d_opts bad[3] = { { { 0, 3 }, { 1, 1 }, { 0, 0 }, { 1, 1 }, 0 },
                              { { 2, 2 }, { -1, 1 }, { 0, 0 }, { 1, 1 }, 0 },
                              { { 2, 2 }, { 1, 1 }, { 0, 0 }, { 0, 1 }, 0 } };
    CHECK_FAILS(rt_max_pool2d(x4, &bad[0], &y, NULL), RT_EARG, "kernel 0x3");
    CHECK_FAILS(rt_max_pool2d(x4, &bad[1], &y, NULL), RT_EARG, "stride -1x1");
    CHECK_FAILS(rt_max_pool2d(x4, &bad[2], &y, NULL), RT_EARG, "dilation 0x1");
    CHECK_FAILS(rt_max_pool2d(x4, NULL, &y, NULL), RT_EARG, "options are missing");
    rt_tensor *e = h_rand(RT_F64, 4, SHAPE(1, 1, 0, 4), 0, 1);
    CHECK_FAILS(rt_max_pool2d(e, &k3, &y, NULL), RT_ESHAPE, "empty spatial dimension");
    /* max backward: bad indices */
    CHECK_OK(rt_max_pool2d(x4, &(rt_pool2d_opts){ { 2, 2 }, { 0, 0 }, { 0, 0 }, { 1, 1 }, 0 },
                           &y, &ix));
    ((int64_t *)ix->storage->data)[2] = 16;
    rt_tensor *gx = NULL;
    CHECK_FAILS(rt_max_pool2d_backward(y, ix, x4->shape, &gx), RT_EINDEX,
                "index 16 is out of range for an input plane of 4x4");
    CHECK(gx == NULL, "gx untouched on failure");
    CHECK_FAILS(rt_max_pool2d_backward(y, y, x4->shape, &gx), RT_EDTYPE, "expected i64");
    CHECK_FAILS(rt_max_pool2d_backward(y, ix, SHAPE(1, 2, 4, 4), &gx), RT_ESHAPE,
                "differ in batch or channels");
    rt_tensor_release(ix);
    /* avg */
    rt_avgpool2d_opts a = { { 2, 2 }, { 0, 0 }, { 0, 0 }, 0, 1 };
    CHECK_FAILS(rt_avg_pool2d_backward(y, SHAPE(1, 1, 6, 6), &a, &gx), RT_ESHAPE,
                "gout [1,1,2,2] does not match the 3x3 output of input [1,1,6,6]");
    rt_avgpool2d_opts a2 = { { 2, 2 }, { 0, 0 }, { 2, 0 }, 0, 1 };
    CHECK_FAILS(rt_avg_pool2d(x4, &a2, &y), RT_EARG, "avg_pool2d: kernel 2x2 with padding 2x0");
    CHECK_FAILS(rt_avg_pool2d(x4, NULL, &y), RT_EARG, "options are missing");
    CHECK_FAILS(rt_adaptive_avg_pool2d(x4, -1, 2, &y), RT_EARG, "output size -1x2");
    CHECK_FAILS(rt_adaptive_avg_pool2d(m2, 1, 1, &y), RT_ESHAPE, "[4,4] has 2 dimensions");
    /* upsample */
    CHECK_FAILS(rt_upsample2d(x4, 0, 3, RT_UPSAMPLE_NEAREST, 0, &y), RT_EARG,
                "output size 0x3 must be positive");
    CHECK_FAILS(rt_upsample2d(x4, 2, 3, (rt_upsample_mode)7, 0, &y), RT_EARG, "unknown mode");
    CHECK_FAILS(rt_upsample2d(xi, 2, 3, RT_UPSAMPLE_NEAREST, 0, &y), RT_EDTYPE, "dtype i64");
    CHECK_FAILS(rt_upsample2d(e, 2, 3, RT_UPSAMPLE_NEAREST, 0, &y), RT_ESHAPE, "empty spatial");
    CHECK_FAILS(rt_upsample2d_backward(x4, SHAPE(2, 1, 2, 2), RT_UPSAMPLE_BILINEAR, 0, &gx),
                RT_ESHAPE, "differ in batch or channels");
    /* pad */
    rt_tensor *v3 = h_rand(RT_F64, 1, SHAPE(3), 0, 1);
    CHECK_FAILS(rt_pad(v3, 1, SHAPE(3, 0), RT_PAD_REFLECT, 0, &y), RT_EARG,
                "pad: reflect padding (3,0) on dimension -1 of size 3: each pad must be smaller");
    CHECK_FAILS(rt_pad(v3, 2, SHAPE(1, 1, 1, 1), RT_PAD_CONSTANT, 0, &y), RT_EARG,
                "2 pairs of pads for a 1-d input [3]");
    CHECK_FAILS(rt_pad(v3, 1, SHAPE(-3, -1), RT_PAD_CONSTANT, 0, &y), RT_ESHAPE,
                "pads (-3,-1) on dimension -1 of size 3 leave size -1");
    CHECK_FAILS(rt_pad(v3, 1, SHAPE(1, 1), (rt_pad_mode)9, 0, &y), RT_EARG, "unknown mode 9");
    CHECK_FAILS(rt_pad(e, 2, SHAPE(0, 0, 1, 0), RT_PAD_REPLICATE, 0, &y), RT_EARG,
                "dimension -2 of size 0: there is no edge to repeat");
    CHECK_FAILS(rt_pad_backward(v3, 1, SHAPE(1, 1), RT_PAD_REFLECT, SHAPE(3), &gx), RT_ESHAPE,
                "gout [3] does not match the padded shape [5] of input [3]");
    rt_tensor *vi = h_rand(RT_I64, 1, SHAPE(5), 0, 9);
    CHECK_FAILS(rt_pad(vi, 1, SHAPE(1, 1), RT_PAD_CONSTANT, NAN, &y), RT_EARG,
                "value nan cannot be stored in an i64 tensor");
    CHECK_FAILS(rt_pad_backward(vi, 1, SHAPE(1, 1), RT_PAD_REFLECT, SHAPE(3), &gx), RT_EDTYPE,
                "gout has dtype i64");
    release_n(8, x, m2, xi, x4, e, y, v3, vi);
}

/* ---- allocation failures, interrupts, determinism ------------------------------------------ */
static void test_alloc_failures(void)
{
    rt_tensor *x = h_rand(RT_F64, 4, SHAPE(2, 3, 6, 6), 0, 1);
    spec specs[5] = { { .op = OP_MAX, .mo = { { 2, 2 }, { 0, 0 }, { 0, 0 }, { 1, 1 }, 0 } },
                      { .op = OP_AVG, .ao = { { 3, 3 }, { 2, 2 }, { 1, 1 }, 1, 1 } },
                      { .op = OP_ADAPT, .oh = 4, .ow = 4 },
                      { .op = OP_UP, .oh = 9, .ow = 9, .um = RT_UPSAMPLE_BILINEAR },
                      { .op = OP_PAD, .np = 2, .pads = { 1, 1, 2, 2 }, .pm = RT_PAD_REFLECT } };
    for (int s = 0; s < 5; s++) {
        int failed = 0, ok = 0;
        for (long n = 1; n < 40 && !ok; n++) {
            rt_tensor *y = NULL, *aux = NULL, *g = NULL, *gx = NULL;
            if (fwd(&specs[s], x, &y, &aux) != RT_OK) continue;
            rt_debug_fail_alloc_at(n);
            rt_status st = fwd(&specs[s], x, &g, &gx);
            if (st == RT_OK) {
                rt_tensor_release(g);
                rt_tensor_release(gx);
                st = bwd(&specs[s], y, aux, x->shape, &gx);
                ok = st == RT_OK;
                if (ok) rt_tensor_release(gx);
            }
            rt_debug_fail_alloc_at(0);
            if (!ok && st != RT_ENOMEM) failed++;
            rt_tensor_release(y);
            rt_tensor_release(aux);
        }
        CHECK(ok && failed == 0, "op %d: allocation failures give RT_ENOMEM (%d others)", s,
              failed);
    }
    rt_tensor_release(x);
}

static void test_interrupt(void)
{
    rt_tensor *x = h_rand(RT_F32, 4, SHAPE(2, 8, 16, 16), 0, 1), *y = NULL;
    rt_interrupt_request();
    CHECK_FAILS(rt_upsample2d(x, 128, 128, RT_UPSAMPLE_BILINEAR, 0, &y), RT_EINTERRUPT,
                "interrupted");
    rt_interrupt_clear();
    CHECK(y == NULL, "no result after an interrupt");
    rt_tensor_release(x);
}

/* Expanded (stride-0) inputs give what their contiguous copies give. */
static void test_broadcast_inputs(void)
{
    rt_tensor *b = h_rand(RT_F64, 4, SHAPE(1, 3, 1, 5), -1, 1), *x, *xc;
    rt_view_expand(b, 4, SHAPE(2, 3, 4, 5), &x);
    rt_clone(x, &xc);
    spec specs[5] = { { .op = OP_MAX, .mo = { { 3, 2 }, { 1, 2 }, { 1, 1 }, { 1, 1 }, 1 } },
                      { .op = OP_AVG, .ao = { { 3, 3 }, { 2, 1 }, { 1, 1 }, 1, 0 } },
                      { .op = OP_ADAPT, .oh = 3, .ow = 2 },
                      { .op = OP_UP, .oh = 7, .ow = 9, .um = RT_UPSAMPLE_BILINEAR },
                      { .op = OP_PAD, .np = 3, .pads = { 2, 1, 3, 0, 1, 1 },
                        .pm = RT_PAD_REFLECT } };
    for (int s = 0; s < 5; s++) {
        rt_tensor *y1, *y2, *a1, *a2;
        CHECK_OK(fwd(&specs[s], x, &y1, &a1));
        CHECK_OK(fwd(&specs[s], xc, &y2, &a2));
        CHECK(rt_same_shape(y1, y2) && memcmp(y1->storage->data, y2->storage->data,
                                               rt_tensor_numel(y1) * 8) == 0,
              "op %d: expanded input", s);
        /* an expanded gout as well */
        rt_tensor *w, *g1, *g2, *wc, *wb = h_rand(RT_F64, 4, SHAPE(1, y1->shape[1], 1,
                                                                 y1->shape[3]), -1, 1);
        rt_view_expand(wb, 4, y1->shape, &w);
        rt_clone(w, &wc);
        rt_tensor_release(wb);
        CHECK_OK(bwd(&specs[s], w, a1, x->shape, &g1));
        CHECK_OK(bwd(&specs[s], wc, a1, x->shape, &g2));
        CHECK(memcmp(g1->storage->data, g2->storage->data, rt_tensor_numel(g1) * 8) == 0,
              "op %d: expanded gout", s);
        release_n(8, y1, y2, a1, a2, w, wc, g1, g2);
    }
    release_n(3, b, x, xc);
}

/* Forward and backward of each op with 1 and 2 threads: bitwise equal. */
static void test_determinism(void)
{
    rt_tensor *x = h_rand(RT_F32, 4, SHAPE(4, 16, 40, 36), -1, 1);
    spec specs[7] = { { .op = OP_MAX, .mo = { { 3, 3 }, { 2, 2 }, { 1, 1 }, { 1, 1 }, 1 } },
                      { .op = OP_AVG, .ao = { { 3, 3 }, { 1, 1 }, { 1, 1 }, 0, 0 } },
                      { .op = OP_ADAPT, .oh = 7, .ow = 5 },
                      { .op = OP_UP, .oh = 60, .ow = 50, .um = RT_UPSAMPLE_BILINEAR },
                      { .op = OP_UP, .oh = 80, .ow = 72, .um = RT_UPSAMPLE_NEAREST },
                      { .op = OP_PAD, .np = 2, .pads = { 3, 2, 1, 3 }, .pm = RT_PAD_REFLECT },
                      { .op = OP_PAD, .np = 1, .pads = { 3, 2 }, .pm = RT_PAD_REPLICATE } };
    for (int s = 0; s < 7; s++) {
        rt_tensor *y[2], *aux[2], *gx[2], *w = NULL;
        for (int t = 0; t < 2; t++) {
            rt_set_num_threads(t + 1);
            fwd(&specs[s], x, &y[t], &aux[t]);
            if (!w) w = h_rand(RT_F32, y[t]->ndim, y[t]->shape, -1, 1);
            bwd(&specs[s], w, aux[t], x->shape, &gx[t]);
        }
        CHECK(memcmp(y[0]->storage->data, y[1]->storage->data,
                     rt_tensor_numel(y[0]) * 4) == 0 &&
              memcmp(gx[0]->storage->data, gx[1]->storage->data,
                     rt_tensor_numel(gx[0]) * 4) == 0, "op %d: 1 vs 2 threads differ", s);
        for (int t = 0; t < 2; t++) {
            release_n(3, y[t], aux[t], gx[t]);
        }
        rt_tensor_release(w);
    }
    rt_set_num_threads(2);
    rt_tensor_release(x);
}

int main(void)
{
    rt_set_num_threads(2);
    test_max_grid();
    test_max_special();
    test_avg_grid();
    test_avg_known();
    test_adaptive_grid();
    test_pool_grad();
    test_up_grid();
    test_up_known();
    test_up_grad();
    test_pad_grid();
    test_pad_known();
    test_pad_grad();
    test_errors();
    test_alloc_failures();
    test_interrupt();
    test_broadcast_inputs();
    test_determinism();
    REPORT();
}
