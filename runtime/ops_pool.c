/* ops_pool.c — 2-d pooling over (N,C,H,W): max pooling with argmax indices, average pooling
** and adaptive average pooling, each forward with its backward below it.  Window bounds are
** tabulated per output row and column in the calling thread, and the per-plane kernels only
** read the tables.  Upsampling is in ops_upsample.c, padding in ops_pad.c. */
#include <math.h>
#include <stdio.h>
#include "internal.h"
#include "rt_spatial.h"

/* Planes per chunk are chosen so that a chunk does about this many window reads.  It depends
** only on the shapes, never on the thread count. */
#define POOL_WORK 32768

/* ---- geometry shared by the three pools ------------------------------------------------ */

static rt_status check_spatial(const char *op, const rt_tensor *x, const rti_nchw *g)
{
    char s[128];
    if (g->h < 1 || g->w < 1)
        return rt_fail(RT_ESHAPE, 0, "%s: input %s has an empty spatial dimension (H and W "
                       "must be at least 1)", op, rt_shape_str(x->ndim, x->shape, s, sizeof s));
    return RT_OK;
}

/* The input geometry of a backward call: gout's batch and channels, x_shape's H and W. */
static rt_status grad_geometry(const char *op, const rt_tensor *gout, const int64_t *x_shape,
                               rti_nchw *g, rti_nchw *xg)
{
    char s1[128], s2[128];
    rt_status st = rti_get_nchw(op, "gout", gout, g);
    if (st != RT_OK) return st;
    if (!x_shape) return rt_fail(RT_EARG, -1, "%s: the input shape is missing", op);
    int off = 4 - gout->ndim;
    *xg = *g;
    xg->n = off ? 1 : x_shape[0];
    xg->c = x_shape[1 - off];
    xg->h = x_shape[2 - off];
    xg->w = x_shape[3 - off];
    rt_shape_str(gout->ndim, x_shape, s2, sizeof s2);
    if (xg->n != g->n || xg->c != g->c)
        return rt_fail(RT_ESHAPE, 0, "%s: gout %s and input %s differ in batch or channels", op,
                       rt_shape_str(gout->ndim, gout->shape, s1, sizeof s1), s2);
    if (xg->h < 1 || xg->w < 1)
        return rt_fail(RT_ESHAPE, -1, "%s: input shape %s has an empty spatial dimension (H "
                       "and W must be at least 1)", op, s2);
    return RT_OK;
}

/* A new (N,C,oh,ow) tensor, or (C,oh,ow) for 3-d geometry. */
static int64_t plane_grain(int64_t work_per_plane)
{
    int64_t g = POOL_WORK / (work_per_plane > 0 ? work_per_plane : 1);
    return g < 1 ? 1 : g;
}

/* ---- window options --------------------------------------------------------------------- */
typedef struct { int k[2], s[2], p[2], d[2]; int ceil_mode; } win2d;

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* PyTorch's pooling_output_shape: in ceil_mode the last window must start inside the input
** or the left padding, else it would only see right padding. */
static int64_t pool_out(int64_t in, int k, int s, int p, int d, int ceil_mode)
{
    int64_t num = in + 2 * (int64_t)p - (int64_t)d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
    int64_t o = floor_div(num, s) + 1;
    if (ceil_mode && (o - 1) * s >= in + p) o--;
    return o;
}

static void pad_str(const int *p, char *buf, size_t len)
{
    if (p[0] == p[1]) snprintf(buf, len, "%d", p[0]);
    else snprintf(buf, len, "%dx%d", p[0], p[1]);
}

static rt_status check_window(const char *op, win2d *w)
{
    char ps[48];
    if (w->k[0] < 1 || w->k[1] < 1)
        return rt_fail(RT_EARG, 1, "%s: kernel %dx%d: sizes must be positive", op, w->k[0],
                       w->k[1]);
    if (w->s[0] < 0 || w->s[1] < 0)
        return rt_fail(RT_EARG, 1, "%s: stride %dx%d must be positive (0 means the kernel "
                       "size)", op, w->s[0], w->s[1]);
    if (w->p[0] < 0 || w->p[1] < 0)
        return rt_fail(RT_EARG, 1, "%s: padding %dx%d must be non-negative", op, w->p[0],
                       w->p[1]);
    if (w->d[0] < 1 || w->d[1] < 1)
        return rt_fail(RT_EARG, 1, "%s: dilation %dx%d must be positive", op, w->d[0],
                       w->d[1]);
    pad_str(w->p, ps, sizeof ps);
    if (w->p[0] > w->k[0] / 2 || w->p[1] > w->k[1] / 2)
        return rt_fail(RT_EARG, 1, "%s: kernel %dx%d with padding %s: padding must be at "
                       "most half the kernel", op, w->k[0], w->k[1], ps);
    for (int i = 0; i < 2; i++)
        if (w->s[i] == 0) w->s[i] = w->k[i];
    return RT_OK;
}

/* Output size for input (h, w); RT_ESHAPE if it would be empty.  operand names the input
** (0) or, for backward calls, the shape argument (-1). */
static rt_status window_out(const char *op, const win2d *w, int ndim, const int64_t *shape,
                            int operand, int64_t *oh, int64_t *ow)
{
    char s[128], ps[64], ds[48] = "";
    int64_t h = shape[ndim - 2], wd = shape[ndim - 1];
    *oh = pool_out(h, w->k[0], w->s[0], w->p[0], w->d[0], w->ceil_mode);
    *ow = pool_out(wd, w->k[1], w->s[1], w->p[1], w->d[1], w->ceil_mode);
    if (*oh >= 1 && *ow >= 1) return RT_OK;
    ps[0] = 0;
    if (w->p[0] || w->p[1]) {
        char p[40];
        pad_str(w->p, p, sizeof p);
        snprintf(ps, sizeof ps, ", padding %s", p);
    }
    if (w->d[0] != 1 || w->d[1] != 1)
        snprintf(ds, sizeof ds, ", dilation %dx%d", w->d[0], w->d[1]);
    return rt_fail(RT_ESHAPE, operand, "%s: input %s is too small for kernel %dx%d%s%s "
                   "(output would be %lldx%lld)", op, rt_shape_str(ndim, shape, s, sizeof s),
                   w->k[0], w->k[1], ps, ds, (long long)(*oh > 0 ? *oh : 0),
                   (long long)(*ow > 0 ? *ow : 0));
}

/* ---- window tables ---------------------------------------------------------------------
** For output index o along one dim: input range [lo[o], hi[o]) visited with step `step`,
** and the averaging factor div[o] (the divisor is div_h[oh] * div_w[ow]). */
typedef struct { int64_t *lo, *hi, *div; } win_tab;

static void tab_max(win_tab *t, int64_t n_out, int64_t in, int k, int s, int p, int d)
{
    for (int64_t o = 0; o < n_out; o++) {
        int64_t lo = o * s - p, hi = lo + (int64_t)(k - 1) * d + 1;
        if (hi > in) hi = in;
        while (lo < 0) lo += d;
        t->lo[o] = lo;
        t->hi[o] = hi;
        t->div[o] = 1;
    }
}

static void tab_avg(win_tab *t, int64_t n_out, int64_t in, int k, int s, int p, int cip)
{
    for (int64_t o = 0; o < n_out; o++) {
        int64_t lo = o * s - p, hi = lo + k;
        if (hi > in + p) hi = in + p;
        int64_t padded = hi - lo;
        if (lo < 0) lo = 0;
        if (hi > in) hi = in;
        t->lo[o] = lo;
        t->hi[o] = hi;
        t->div[o] = cip ? padded : hi - lo;
    }
}

/* start = floor(o*in/out), end = ceil((o+1)*in/out), written to avoid overflow. */
static void tab_adaptive(win_tab *t, int64_t n_out, int64_t in)
{
    for (int64_t o = 0; o < n_out; o++) {
        t->lo[o] = (o / n_out) * in + ((o % n_out) * in) / n_out;
        t->hi[o] = 1 + ((o + 1) * in - 1) / n_out;
        t->div[o] = t->hi[o] - t->lo[o];
    }
}

/* One buffer holding the row and column tables. */
static rt_status tabs_alloc(int64_t oh, int64_t ow, int64_t **buf, win_tab *th, win_tab *tw)
{
    int64_t *b = rti_malloc((size_t)(3 * (oh + ow)) * sizeof *b);
    if (!b) return rt_fail(RT_ENOMEM, -1, "pooling: out of memory for window tables");
    th->lo = b;
    th->hi = b + oh;
    th->div = b + 2 * oh;
    tw->lo = b + 3 * oh;
    tw->hi = tw->lo + ow;
    tw->div = tw->lo + 2 * ow;
    *buf = b;
    return RT_OK;
}

/* ---- the per-plane job ------------------------------------------------------------------ */
typedef struct pool_job pool_job;
struct pool_job {
    rt_dtype dt;
    int64_t c, h, w, oh, ow;        /* channels, input plane, output plane */
    const int64_t *s;               /* strides of the strided operand (x or gout): n,c,h,w */
    const int64_t *is;              /* strides of indices (max backward) */
    const char *src;                /* x (forward) or gout (backward), at element 0 */
    const int64_t *isrc;            /* indices read by max backward */
    char *dst;                      /* contiguous out (forward) or gx (backward) */
    int64_t *idst;                  /* indices written by max forward, or NULL */
    win_tab th, tw;
    int64_t dh, dw;                 /* dilation steps */
    int fast2x2;                    /* max forward: 2x2 stride 2, no padding/dilation, unit w */
    rt_status (*plane)(const pool_job *j, int64_t p);
};

static int64_t plane_off(const pool_job *j, const int64_t *s, int64_t p)
{
    return (p / j->c) * s[0] + (p % j->c) * s[1];
}

static rt_status pool_chunk(void *ctx, int64_t chunk, int64_t b, int64_t e)
{
    (void)chunk;
    const pool_job *j = ctx;
    for (int64_t p = b; p < e; p++) {
        rt_status st = j->plane(j, p);
        if (st != RT_OK) return st;
    }
    return RT_OK;
}

/* ---- max pooling ----------------------------------------------------------------------- */
/* x: (H,W) plane, strides s[2], s[3]   out, idx: (Ho,Wo) contiguous.
** `v > m || v != v` keeps the first of equal maxima and lets the last NaN win (PyTorch). */
static void maxpool_f32(const pool_job *j, const float *x, float *o, int64_t *ix)
{
    int64_t sh = j->s[2], sw = j->s[3];
    for (int64_t oh = 0; oh < j->oh; oh++) {
        int64_t h0 = j->th.lo[oh], h1 = j->th.hi[oh];
        for (int64_t ow = 0; ow < j->ow; ow++) {
            int64_t w0 = j->tw.lo[ow], w1 = j->tw.hi[ow];
            int64_t best = h0 < h1 && w0 < w1 ? h0 * j->w + w0 : -1;
            float m = -INFINITY;
            for (int64_t h = h0; h < h1; h += j->dh)
                for (int64_t w = w0; w < w1; w += j->dw) {
                    float v = x[h * sh + w * sw];
                    if (v > m || v != v) {
                        m = v;
                        best = h * j->w + w;
                    }
                }
            o[oh * j->ow + ow] = m;
            if (ix) ix[oh * j->ow + ow] = best;
        }
    }
}

static void maxpool_f64(const pool_job *j, const double *x, double *o, int64_t *ix)
{
    int64_t sh = j->s[2], sw = j->s[3];
    for (int64_t oh = 0; oh < j->oh; oh++) {
        int64_t h0 = j->th.lo[oh], h1 = j->th.hi[oh];
        for (int64_t ow = 0; ow < j->ow; ow++) {
            int64_t w0 = j->tw.lo[ow], w1 = j->tw.hi[ow];
            int64_t best = h0 < h1 && w0 < w1 ? h0 * j->w + w0 : -1;
            double m = -INFINITY;
            for (int64_t h = h0; h < h1; h += j->dh)
                for (int64_t w = w0; w < w1; w += j->dw) {
                    double v = x[h * sh + w * sw];
                    if (v > m || v != v) {
                        m = v;
                        best = h * j->w + w;
                    }
                }
            o[oh * j->ow + ow] = m;
            if (ix) ix[oh * j->ow + ow] = best;
        }
    }
}

/* The common 2x2, stride-2 window without padding or dilation, over rows with unit stride:
** branch-free, so the compiler vectorizes it (the stride-2 pairs become shuffles); the
** generic loop's window tables and unknown trip counts cost more than the comparisons.  Same
** scan order and NaN rule as maxpool_f32, so the same values and indices.  The backward stays
** the generic scatter into a zeroed gx: a branch-free version writing every element once
** measured slower (1.8-1.9 ms against 1.4-1.7 ms for the CNN's two pools).
** x: plane with row stride sh (elements)  o, ix: (Ho,Wo) contiguous; ix may be NULL.
** Indices are row-major in the (H,W) input plane. */
static void maxpool2x2_f32(const float *x, int64_t sh, int64_t W, int64_t Ho, int64_t Wo,
                           float *o, int64_t *ix)
{
    for (int64_t oh = 0; oh < Ho; oh++) {
        const float *restrict r0 = x + 2 * oh * sh, *restrict r1 = r0 + sh;
        float *restrict orow = o + oh * Wo;
        int64_t *restrict irow = ix ? ix + oh * Wo : NULL, base = 2 * oh * W;
        if (irow) {
            for (int64_t ow = 0; ow < Wo; ow++) {
                float a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
                float m = a;
                int64_t k = 0;
                int t = (b > m) | (b != b);
                m = t ? b : m;
                k = t ? 1 : k;
                t = (c > m) | (c != c);
                m = t ? c : m;
                k = t ? W : k;
                t = (d > m) | (d != d);
                m = t ? d : m;
                k = t ? W + 1 : k;
                orow[ow] = m;
                irow[ow] = base + 2 * ow + k;
            }
        } else {
            for (int64_t ow = 0; ow < Wo; ow++) {
                float a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
                float m = a;
                m = ((b > m) | (b != b)) ? b : m;
                m = ((c > m) | (c != c)) ? c : m;
                m = ((d > m) | (d != d)) ? d : m;
                orow[ow] = m;
            }
        }
    }
}

static rt_status maxpool_plane(const pool_job *j, int64_t p)
{
    int64_t xo = plane_off(j, j->s, p), oo = p * j->oh * j->ow;
    int64_t *ix = j->idst ? j->idst + oo : NULL;
    if (j->dt == RT_F32 && j->fast2x2)
        maxpool2x2_f32((const float *)j->src + xo, j->s[2], j->w, j->oh, j->ow,
                       (float *)j->dst + oo, ix);
    else if (j->dt == RT_F32)
        maxpool_f32(j, (const float *)j->src + xo, (float *)j->dst + oo, ix);
    else
        maxpool_f64(j, (const double *)j->src + xo, (double *)j->dst + oo, ix);
    return RT_OK;
}

rt_status rt_max_pool2d(const rt_tensor *x, const rt_pool2d_opts *o, rt_tensor **out,
                        rt_tensor **indices)
{
    const char *op = "max_pool2d";
    rti_nchw g;
    int64_t oh, ow, *buf = NULL;
    rt_tensor *y = NULL, *ix = NULL;
    rt_status st = rti_get_nchw(op, "input", x, &g);
    if (st == RT_OK) st = check_spatial(op, x, &g);
    if (st != RT_OK) return st;
    if (!o) return rt_fail(RT_EARG, 1, "%s: options are missing", op);
    win2d w = { { o->kernel[0], o->kernel[1] }, { o->stride[0], o->stride[1] },
                { o->padding[0], o->padding[1] }, { o->dilation[0], o->dilation[1] },
                o->ceil_mode };
    if ((st = check_window(op, &w)) != RT_OK) return st;
    if ((st = window_out(op, &w, x->ndim, x->shape, 0, &oh, &ow)) != RT_OK) return st;
    st = rti_new_nchw(x->dtype, &g, oh, ow, 0, &y);
    if (st == RT_OK && indices) st = rti_new_nchw(RT_I64, &g, oh, ow, 0, &ix);
    pool_job j = { .dt = x->dtype, .c = g.c, .h = g.h, .w = g.w, .oh = oh, .ow = ow, .s = g.s,
                   .src = rt_tensor_data(x), .dh = w.d[0], .dw = w.d[1],
                   .plane = maxpool_plane };
    j.fast2x2 = w.k[0] == 2 && w.k[1] == 2 && w.s[0] == 2 && w.s[1] == 2 && w.p[0] == 0 &&
                w.p[1] == 0 && w.d[0] == 1 && w.d[1] == 1 && g.s[3] == 1 && 2 * oh <= g.h &&
                2 * ow <= g.w;
    if (st == RT_OK) st = tabs_alloc(oh, ow, &buf, &j.th, &j.tw);
    if (st == RT_OK) {
        tab_max(&j.th, oh, g.h, w.k[0], w.s[0], w.p[0], w.d[0]);
        tab_max(&j.tw, ow, g.w, w.k[1], w.s[1], w.p[1], w.d[1]);
        j.dst = rt_tensor_data(y);
        j.idst = ix ? rt_tensor_data(ix) : NULL;
        st = rt_parallel_for(g.n * g.c, plane_grain(oh * ow * w.k[0] * w.k[1]), pool_chunk, &j);
        rti_free(buf);
    }
    if (st != RT_OK) {
        rt_tensor_release(y);
        rt_tensor_release(ix);
        return st;
    }
    *out = y;
    if (indices) *indices = ix;
    return RT_OK;
}

/* gout, idx: (Ho,Wo) strided (s, is)   gx: (H,W) contiguous, zeroed. */
static rt_status bad_index(const pool_job *j, int64_t k)
{
    return rt_fail(RT_EINDEX, 1, "max_pool2d_backward: index %lld is out of range for an "
                   "input plane of %lldx%lld", (long long)k, (long long)j->h, (long long)j->w);
}

static rt_status maxpool_bwd_f32(const pool_job *j, const float *g, const int64_t *ix,
                                 float *gx)
{
    int64_t hw = j->h * j->w;
    for (int64_t oh = 0; oh < j->oh; oh++)
        for (int64_t ow = 0; ow < j->ow; ow++) {
            int64_t k = ix[oh * j->is[2] + ow * j->is[3]];
            if (k == -1) continue;
            if (k < 0 || k >= hw) return bad_index(j, k);
            gx[k] += g[oh * j->s[2] + ow * j->s[3]];
        }
    return RT_OK;
}

static rt_status maxpool_bwd_f64(const pool_job *j, const double *g, const int64_t *ix,
                                 double *gx)
{
    int64_t hw = j->h * j->w;
    for (int64_t oh = 0; oh < j->oh; oh++)
        for (int64_t ow = 0; ow < j->ow; ow++) {
            int64_t k = ix[oh * j->is[2] + ow * j->is[3]];
            if (k == -1) continue;
            if (k < 0 || k >= hw) return bad_index(j, k);
            gx[k] += g[oh * j->s[2] + ow * j->s[3]];
        }
    return RT_OK;
}

static rt_status maxpool_bwd_plane(const pool_job *j, int64_t p)
{
    int64_t go = plane_off(j, j->s, p), io = plane_off(j, j->is, p), xo = p * j->h * j->w;
    if (j->dt == RT_F32)
        return maxpool_bwd_f32(j, (const float *)j->src + go, j->isrc + io, (float *)j->dst + xo);
    return maxpool_bwd_f64(j, (const double *)j->src + go, j->isrc + io, (double *)j->dst + xo);
}

rt_status rt_max_pool2d_backward(const rt_tensor *gout, const rt_tensor *indices,
                                 const int64_t *x_shape, rt_tensor **gx)
{
    const char *op = "max_pool2d_backward";
    char s1[128], s2[128];
    rti_nchw g, xg, ig;
    rt_tensor *r;
    rt_status st = grad_geometry(op, gout, x_shape, &g, &xg);
    if (st != RT_OK) return st;
    if (!indices) return rt_fail(RT_EARG, 1, "%s: the indices are missing", op);
    if (indices->dtype != RT_I64)
        return rt_fail(RT_EDTYPE, 1, "%s: indices have dtype %s, expected i64", op,
                       rt_dtype_name(indices->dtype));
    if (!rt_same_shape(gout, indices))
        return rt_fail(RT_ESHAPE, 1, "%s: indices %s must have the shape of gout %s", op,
                       rt_shape_str(indices->ndim, indices->shape, s1, sizeof s1),
                       rt_shape_str(gout->ndim, gout->shape, s2, sizeof s2));
    ig.s[0] = 0;
    for (int i = 0; i < indices->ndim; i++) ig.s[i + 4 - indices->ndim] = indices->strides[i];
    if ((st = rti_new_nchw(gout->dtype, &xg, xg.h, xg.w, 1, &r)) != RT_OK) return st;
    int64_t oh = g.h, ow = g.w;
    pool_job j = { .dt = gout->dtype, .c = g.c, .h = xg.h, .w = xg.w, .oh = oh, .ow = ow,
                   .s = g.s, .is = ig.s, .src = rt_tensor_data(gout),
                   .isrc = rt_tensor_data(indices), .dst = rt_tensor_data(r),
                   .plane = maxpool_bwd_plane };
    st = rt_parallel_for(g.n * g.c, plane_grain(oh * ow + xg.h * xg.w), pool_chunk, &j);
    if (st != RT_OK) {
        rt_tensor_release(r);
        return st;
    }
    *gx = r;
    return RT_OK;
}

/* ---- average pooling (fixed and adaptive windows share the kernels) ------------------------
** x: (H,W) plane, strides s[2], s[3]   out: (Ho,Wo) contiguous.  Sums run in f64 for both
** dtypes: a window of f32 values then rounds once. */
static void boxpool_f32(const pool_job *j, const float *x, float *o)
{
    int64_t sh = j->s[2], sw = j->s[3];
    for (int64_t oh = 0; oh < j->oh; oh++)
        for (int64_t ow = 0; ow < j->ow; ow++) {
            double sum = 0;
            for (int64_t h = j->th.lo[oh]; h < j->th.hi[oh]; h++)
                for (int64_t w = j->tw.lo[ow]; w < j->tw.hi[ow]; w++)
                    sum += x[h * sh + w * sw];
            int64_t div = j->th.div[oh] * j->tw.div[ow];
            o[oh * j->ow + ow] = div > 0 ? (float)(sum / (double)div) : 0.0f;
        }
}

static void boxpool_f64(const pool_job *j, const double *x, double *o)
{
    int64_t sh = j->s[2], sw = j->s[3];
    for (int64_t oh = 0; oh < j->oh; oh++)
        for (int64_t ow = 0; ow < j->ow; ow++) {
            double sum = 0;
            for (int64_t h = j->th.lo[oh]; h < j->th.hi[oh]; h++)
                for (int64_t w = j->tw.lo[ow]; w < j->tw.hi[ow]; w++)
                    sum += x[h * sh + w * sw];
            int64_t div = j->th.div[oh] * j->tw.div[ow];
            o[oh * j->ow + ow] = div > 0 ? sum / (double)div : 0.0;
        }
}

static rt_status boxpool_plane(const pool_job *j, int64_t p)
{
    int64_t xo = plane_off(j, j->s, p), oo = p * j->oh * j->ow;
    if (j->dt == RT_F32) boxpool_f32(j, (const float *)j->src + xo, (float *)j->dst + oo);
    else boxpool_f64(j, (const double *)j->src + xo, (double *)j->dst + oo);
    return RT_OK;
}

/* gout: (Ho,Wo) strided   gx: (H,W) contiguous, zeroed.  Each window adds gout/divisor. */
static void boxpool_bwd_f32(const pool_job *j, const float *g, float *gx)
{
    for (int64_t oh = 0; oh < j->oh; oh++)
        for (int64_t ow = 0; ow < j->ow; ow++) {
            int64_t div = j->th.div[oh] * j->tw.div[ow];
            if (div <= 0) continue;
            float v = (float)(g[oh * j->s[2] + ow * j->s[3]] / (double)div);
            for (int64_t h = j->th.lo[oh]; h < j->th.hi[oh]; h++)
                for (int64_t w = j->tw.lo[ow]; w < j->tw.hi[ow]; w++)
                    gx[h * j->w + w] += v;
        }
}

static void boxpool_bwd_f64(const pool_job *j, const double *g, double *gx)
{
    for (int64_t oh = 0; oh < j->oh; oh++)
        for (int64_t ow = 0; ow < j->ow; ow++) {
            int64_t div = j->th.div[oh] * j->tw.div[ow];
            if (div <= 0) continue;
            double v = g[oh * j->s[2] + ow * j->s[3]] / (double)div;
            for (int64_t h = j->th.lo[oh]; h < j->th.hi[oh]; h++)
                for (int64_t w = j->tw.lo[ow]; w < j->tw.hi[ow]; w++)
                    gx[h * j->w + w] += v;
        }
}

static rt_status boxpool_bwd_plane(const pool_job *j, int64_t p)
{
    int64_t go = plane_off(j, j->s, p), xo = p * j->h * j->w;
    if (j->dt == RT_F32) boxpool_bwd_f32(j, (const float *)j->src + go, (float *)j->dst + xo);
    else boxpool_bwd_f64(j, (const double *)j->src + go, (double *)j->dst + xo);
    return RT_OK;
}

/* Fills the tables and runs the forward (src = x) or backward (src = gout) box kernel. */
typedef enum { BOX_AVG, BOX_ADAPTIVE } box_kind;

static rt_status box_run(box_kind kind, const win2d *w, int cip, const rti_nchw *sg, const rti_nchw *xg,
                         const rt_tensor *src, int64_t oh, int64_t ow, int backward,
                         rt_tensor *dst)
{
    int64_t *buf = NULL;
    pool_job j = { .dt = src->dtype, .c = xg->c, .h = xg->h, .w = xg->w, .oh = oh, .ow = ow,
                   .s = sg->s, .src = rt_tensor_data(src), .dst = rt_tensor_data(dst),
                   .plane = backward ? boxpool_bwd_plane : boxpool_plane };
    rt_status st = tabs_alloc(oh, ow, &buf, &j.th, &j.tw);
    if (st != RT_OK) return st;
    if (kind == BOX_AVG) {
        tab_avg(&j.th, oh, xg->h, w->k[0], w->s[0], w->p[0], cip);
        tab_avg(&j.tw, ow, xg->w, w->k[1], w->s[1], w->p[1], cip);
    } else {
        tab_adaptive(&j.th, oh, xg->h);
        tab_adaptive(&j.tw, ow, xg->w);
    }
    /* A window covers at most about (H/oh + 1) x (W/ow + 1) elements; take the larger of that
    ** per-plane estimate and the plane sizes so that grains stay sensible both ways. */
    int64_t work = oh * ow + xg->h * xg->w;
    if (kind == BOX_AVG) work += oh * ow * w->k[0] * w->k[1];
    st = rt_parallel_for(xg->n * xg->c, plane_grain(work), pool_chunk, &j);
    rti_free(buf);
    return st;
}

static rt_status avg_window(const char *op, const rt_avgpool2d_opts *o, win2d *w)
{
    if (!o) return rt_fail(RT_EARG, 1, "%s: options are missing", op);
    win2d v = { { o->kernel[0], o->kernel[1] }, { o->stride[0], o->stride[1] },
                { o->padding[0], o->padding[1] }, { 1, 1 }, o->ceil_mode };
    *w = v;
    return check_window(op, w);
}

rt_status rt_avg_pool2d(const rt_tensor *x, const rt_avgpool2d_opts *o, rt_tensor **out)
{
    const char *op = "avg_pool2d";
    rti_nchw g;
    win2d w;
    int64_t oh, ow;
    rt_tensor *y;
    rt_status st = rti_get_nchw(op, "input", x, &g);
    if (st == RT_OK) st = check_spatial(op, x, &g);
    if (st == RT_OK) st = avg_window(op, o, &w);
    if (st == RT_OK) st = window_out(op, &w, x->ndim, x->shape, 0, &oh, &ow);
    if (st == RT_OK) st = rti_new_nchw(x->dtype, &g, oh, ow, 0, &y);
    if (st != RT_OK) return st;
    st = box_run(BOX_AVG, &w, o->count_include_pad, &g, &g, x, oh, ow, 0, y);
    if (st != RT_OK) {
        rt_tensor_release(y);
        return st;
    }
    *out = y;
    return RT_OK;
}

rt_status rt_avg_pool2d_backward(const rt_tensor *gout, const int64_t *x_shape,
                                 const rt_avgpool2d_opts *o, rt_tensor **gx)
{
    const char *op = "avg_pool2d_backward";
    char s1[128], s2[128];
    rti_nchw g, xg;
    win2d w;
    int64_t oh, ow;
    rt_tensor *r;
    rt_status st = grad_geometry(op, gout, x_shape, &g, &xg);
    if (st == RT_OK) st = avg_window(op, o, &w);
    if (st == RT_OK) st = window_out(op, &w, gout->ndim, x_shape, -1, &oh, &ow);
    if (st != RT_OK) return st;
    if (oh != g.h || ow != g.w)
        return rt_fail(RT_ESHAPE, 0, "%s: gout %s does not match the %lldx%lld output of "
                       "input %s", op, rt_shape_str(gout->ndim, gout->shape, s1, sizeof s1),
                       (long long)oh, (long long)ow, rt_shape_str(gout->ndim, x_shape, s2,
                                                                  sizeof s2));
    if ((st = rti_new_nchw(gout->dtype, &xg, xg.h, xg.w, 1, &r)) != RT_OK) return st;
    st = box_run(BOX_AVG, &w, o->count_include_pad, &g, &xg, gout, oh, ow, 1, r);
    if (st != RT_OK) {
        rt_tensor_release(r);
        return st;
    }
    *gx = r;
    return RT_OK;
}

rt_status rt_adaptive_avg_pool2d(const rt_tensor *x, int64_t oh, int64_t ow, rt_tensor **out)
{
    const char *op = "adaptive_avg_pool2d";
    rti_nchw g;
    rt_tensor *y;
    rt_status st = rti_get_nchw(op, "input", x, &g);
    if (st == RT_OK) st = check_spatial(op, x, &g);
    if (st != RT_OK) return st;
    if (oh < 0 || ow < 0)
        return rt_fail(RT_EARG, 1, "%s: output size %lldx%lld must be non-negative", op,
                       (long long)oh, (long long)ow);
    if ((st = rti_new_nchw(x->dtype, &g, oh, ow, 0, &y)) != RT_OK) return st;
    st = box_run(BOX_ADAPTIVE, NULL, 0, &g, &g, x, oh, ow, 0, y);
    if (st != RT_OK) {
        rt_tensor_release(y);
        return st;
    }
    *out = y;
    return RT_OK;
}

rt_status rt_adaptive_avg_pool2d_backward(const rt_tensor *gout, const int64_t *x_shape,
                                          rt_tensor **gx)
{
    rti_nchw g, xg;
    rt_tensor *r;
    rt_status st = grad_geometry("adaptive_avg_pool2d_backward", gout, x_shape, &g, &xg);
    if (st != RT_OK) return st;
    if ((st = rti_new_nchw(gout->dtype, &xg, xg.h, xg.w, 1, &r)) != RT_OK) return st;
    st = box_run(BOX_ADAPTIVE, NULL, 0, &g, &xg, gout, g.h, g.w, 1, r);
    if (st != RT_OK) {
        rt_tensor_release(r);
        return st;
    }
    *gx = r;
    return RT_OK;
}
