/* ops_upsample.c — resizing (N,C,H,W) planes to an explicit output size: nearest (PyTorch's
** 'nearest', not 'nearest-exact') and bilinear with or without align_corners, forward and
** backward.  Source indices and weights are tabulated per output row and column in the calling
** thread; the per-plane kernels only read the tables.  Pooling is in ops_pool.c. */
#include <math.h>
#include "internal.h"
#include "rt_spatial.h"

/* Planes per chunk: about this many output elements per chunk (shape-only, never threads). */
#define UP_WORK 32768

/* ---- geometry ----------------------------------------------------------------------------- */

static rt_status check_sizes(const char *op, const char *what, int ndim, const int64_t *shape,
                             int operand, int64_t oh, int64_t ow)
{
    char s[128];
    if (shape[ndim - 2] < 1 || shape[ndim - 1] < 1)
        return rt_fail(RT_ESHAPE, operand, "%s: %s %s has an empty spatial dimension (H and W "
                       "must be at least 1)", op, what, rt_shape_str(ndim, shape, s, sizeof s));
    if (oh < 1 || ow < 1)
        return rt_fail(RT_EARG, 1, "%s: output size %lldx%lld must be positive", op,
                       (long long)oh, (long long)ow);
    return RT_OK;
}

static rt_status check_mode(const char *op, rt_upsample_mode mode)
{
    if (mode != RT_UPSAMPLE_NEAREST && mode != RT_UPSAMPLE_BILINEAR)
        return rt_fail(RT_EARG, 2, "%s: unknown mode %d (expected nearest or bilinear)", op,
                       (int)mode);
    return RT_OK;
}

/* ---- source tables ------------------------------------------------------------------------ */
/* PyTorch's nearest_idx: the ratio and the product are f32 whatever the dtype. */
static int64_t nearest_src(int64_t o, int64_t in, int64_t out)
{
    if (out == in) return o;
    if (out == 2 * in) return o >> 1;
    float scale = (float)in / (float)out;
    int64_t s = (int64_t)floorf((float)o * scale);
    return s < in - 1 ? s : in - 1;
}

/* One output index of a bilinear resize: two source indices and their weights. */
typedef struct { int64_t i0, i1; double l0, l1; } lin_w;

/* area_pixel_compute_source_index + guard_index_and_lambda, in f32 arithmetic for f32 tensors
** so that the weights are those PyTorch uses on the CPU. */
static void lin_tab_f32(lin_w *t, int64_t in, int64_t out, int align)
{
    float scale = align ? (out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f)
                        : (float)in / (float)out;
    for (int64_t o = 0; o < out; o++) {
        float src = align ? scale * (float)o : scale * ((float)o + 0.5f) - 0.5f;
        if (src < 0) src = 0;
        int64_t i = (int64_t)floorf(src);
        if (i > in - 1) i = in - 1;
        float l = src - (float)i;
        l = l < 0 ? 0 : l > 1 ? 1 : l;
        t[o].i0 = i;
        t[o].i1 = i < in - 1 ? i + 1 : i;
        t[o].l1 = l;
        t[o].l0 = 1.0f - l;
    }
}

static void lin_tab_f64(lin_w *t, int64_t in, int64_t out, int align)
{
    double scale = align ? (out > 1 ? (double)(in - 1) / (double)(out - 1) : 0.0)
                         : (double)in / (double)out;
    for (int64_t o = 0; o < out; o++) {
        double src = align ? scale * (double)o : scale * ((double)o + 0.5) - 0.5;
        if (src < 0) src = 0;
        int64_t i = (int64_t)floor(src);
        if (i > in - 1) i = in - 1;
        double l = src - (double)i;
        l = l < 0 ? 0 : l > 1 ? 1 : l;
        t[o].i0 = i;
        t[o].i1 = i < in - 1 ? i + 1 : i;
        t[o].l1 = l;
        t[o].l0 = 1.0 - l;
    }
}

/* ---- the per-plane job -------------------------------------------------------------------- */
typedef struct up_job up_job;
struct up_job {
    rt_dtype dt;
    int64_t c, h, w, oh, ow;      /* channels, input plane, output plane */
    const int64_t *s;             /* strides of the strided operand (x or gout): n,c,h,w */
    const char *src;              /* x (forward) or gout (backward) at element 0 */
    char *dst;                    /* contiguous out (forward) or gx (backward) */
    int64_t dplane;               /* elements per dst plane */
    const int64_t *nh, *nw;       /* nearest: source row / column per output row / column */
    const lin_w *lh, *lw;         /* bilinear */
    void (*plane)(const up_job *j, const char *src, char *dst);
};

static rt_status up_chunk(void *ctx, int64_t chunk, int64_t b, int64_t e)
{
    (void)chunk;
    const up_job *j = ctx;
    int64_t es = (int64_t)rt_dtype_size(j->dt);
    for (int64_t p = b; p < e; p++) {
        int64_t so = (p / j->c) * j->s[0] + (p % j->c) * j->s[1];
        j->plane(j, j->src + so * es, j->dst + p * j->dplane * es);
    }
    return RT_OK;
}

/* ---- nearest ------------------------------------------------------------------------------ */
/* x: (H,W) strided   out: (Ho,Wo) contiguous */
static void nearest_f32(const up_job *j, const char *src, char *dst)
{
    const float *x = (const float *)src;
    float *o = (float *)dst;
    for (int64_t oh = 0; oh < j->oh; oh++) {
        const float *r = x + j->nh[oh] * j->s[2];
        for (int64_t ow = 0; ow < j->ow; ow++) o[oh * j->ow + ow] = r[j->nw[ow] * j->s[3]];
    }
}

static void nearest_f64(const up_job *j, const char *src, char *dst)
{
    const double *x = (const double *)src;
    double *o = (double *)dst;
    for (int64_t oh = 0; oh < j->oh; oh++) {
        const double *r = x + j->nh[oh] * j->s[2];
        for (int64_t ow = 0; ow < j->ow; ow++) o[oh * j->ow + ow] = r[j->nw[ow] * j->s[3]];
    }
}

/* gout: (Ho,Wo) strided   gx: (H,W) contiguous, zeroed */
static void nearest_bwd_f32(const up_job *j, const char *src, char *dst)
{
    const float *g = (const float *)src;
    float *gx = (float *)dst;
    for (int64_t oh = 0; oh < j->oh; oh++) {
        float *r = gx + j->nh[oh] * j->w;
        for (int64_t ow = 0; ow < j->ow; ow++) r[j->nw[ow]] += g[oh * j->s[2] + ow * j->s[3]];
    }
}

static void nearest_bwd_f64(const up_job *j, const char *src, char *dst)
{
    const double *g = (const double *)src;
    double *gx = (double *)dst;
    for (int64_t oh = 0; oh < j->oh; oh++) {
        double *r = gx + j->nh[oh] * j->w;
        for (int64_t ow = 0; ow < j->ow; ow++) r[j->nw[ow]] += g[oh * j->s[2] + ow * j->s[3]];
    }
}

/* ---- bilinear ----------------------------------------------------------------------------- */
/* x: (H,W) strided   out: (Ho,Wo) contiguous.  Rows first, as PyTorch's CPU kernel nests. */
static void bilinear_f32(const up_job *j, const char *src, char *dst)
{
    const float *x = (const float *)src;
    float *o = (float *)dst;
    int64_t sw = j->s[3];
    for (int64_t oh = 0; oh < j->oh; oh++) {
        const lin_w *a = &j->lh[oh];
        const float *r0 = x + a->i0 * j->s[2], *r1 = x + a->i1 * j->s[2];
        float a0 = (float)a->l0, a1 = (float)a->l1;
        for (int64_t ow = 0; ow < j->ow; ow++) {
            const lin_w *b = &j->lw[ow];
            float b0 = (float)b->l0, b1 = (float)b->l1;
            o[oh * j->ow + ow] = a0 * (b0 * r0[b->i0 * sw] + b1 * r0[b->i1 * sw]) +
                                 a1 * (b0 * r1[b->i0 * sw] + b1 * r1[b->i1 * sw]);
        }
    }
}

static void bilinear_f64(const up_job *j, const char *src, char *dst)
{
    const double *x = (const double *)src;
    double *o = (double *)dst;
    int64_t sw = j->s[3];
    for (int64_t oh = 0; oh < j->oh; oh++) {
        const lin_w *a = &j->lh[oh];
        const double *r0 = x + a->i0 * j->s[2], *r1 = x + a->i1 * j->s[2];
        for (int64_t ow = 0; ow < j->ow; ow++) {
            const lin_w *b = &j->lw[ow];
            o[oh * j->ow + ow] = a->l0 * (b->l0 * r0[b->i0 * sw] + b->l1 * r0[b->i1 * sw]) +
                                 a->l1 * (b->l0 * r1[b->i0 * sw] + b->l1 * r1[b->i1 * sw]);
        }
    }
}

/* gout: (Ho,Wo) strided   gx: (H,W) contiguous, zeroed.  When i0 == i1 at an edge both
** weights land on the same element, so they still sum to the full gradient. */
static void bilinear_bwd_f32(const up_job *j, const char *src, char *dst)
{
    const float *g = (const float *)src;
    float *gx = (float *)dst;
    for (int64_t oh = 0; oh < j->oh; oh++) {
        const lin_w *a = &j->lh[oh];
        float *r0 = gx + a->i0 * j->w, *r1 = gx + a->i1 * j->w;
        float a0 = (float)a->l0, a1 = (float)a->l1;
        for (int64_t ow = 0; ow < j->ow; ow++) {
            const lin_w *b = &j->lw[ow];
            float v = g[oh * j->s[2] + ow * j->s[3]], b0 = (float)b->l0, b1 = (float)b->l1;
            r0[b->i0] += a0 * b0 * v;
            r0[b->i1] += a0 * b1 * v;
            r1[b->i0] += a1 * b0 * v;
            r1[b->i1] += a1 * b1 * v;
        }
    }
}

static void bilinear_bwd_f64(const up_job *j, const char *src, char *dst)
{
    const double *g = (const double *)src;
    double *gx = (double *)dst;
    for (int64_t oh = 0; oh < j->oh; oh++) {
        const lin_w *a = &j->lh[oh];
        double *r0 = gx + a->i0 * j->w, *r1 = gx + a->i1 * j->w;
        for (int64_t ow = 0; ow < j->ow; ow++) {
            const lin_w *b = &j->lw[ow];
            double v = g[oh * j->s[2] + ow * j->s[3]];
            r0[b->i0] += a->l0 * b->l0 * v;
            r0[b->i1] += a->l0 * b->l1 * v;
            r1[b->i0] += a->l1 * b->l0 * v;
            r1[b->i1] += a->l1 * b->l1 * v;
        }
    }
}

/* ---- drivers ------------------------------------------------------------------------------ */
typedef void (*up_plane_fn)(const up_job *j, const char *src, char *dst);

/* [bilinear][backward][f64] */
static const up_plane_fn up_planes[2][2][2] = {
    { { nearest_f32, nearest_f64 }, { nearest_bwd_f32, nearest_bwd_f64 } },
    { { bilinear_f32, bilinear_f64 }, { bilinear_bwd_f32, bilinear_bwd_f64 } },
};

/* Tabulates the sources for an (H,W) -> (oh,ow) resize and runs the forward (src = x,
** dst = out) or backward (src = gout, dst = gx) kernel over all planes. */
static rt_status up_run(const rti_nchw *sg, const rti_nchw *xg, const rt_tensor *src, int64_t oh,
                        int64_t ow, rt_upsample_mode mode, int align, int backward,
                        rt_tensor *dst)
{
    int bil = mode == RT_UPSAMPLE_BILINEAR, f64 = src->dtype == RT_F64;
    size_t item = bil ? sizeof(lin_w) : sizeof(int64_t);
    void *buf = rti_malloc((size_t)(oh + ow) * item);
    if (!buf) return rt_fail(RT_ENOMEM, -1, "upsample2d: out of memory for source tables");
    up_job j = { .dt = src->dtype, .c = xg->c, .h = xg->h, .w = xg->w, .oh = oh, .ow = ow,
                 .s = sg->s, .src = rt_tensor_data(src), .dst = rt_tensor_data(dst),
                 .dplane = backward ? xg->h * xg->w : oh * ow,
                 .plane = up_planes[bil][backward][f64] };
    if (bil) {
        lin_w *t = buf;
        if (f64) {
            lin_tab_f64(t, xg->h, oh, align);
            lin_tab_f64(t + oh, xg->w, ow, align);
        } else {
            lin_tab_f32(t, xg->h, oh, align);
            lin_tab_f32(t + oh, xg->w, ow, align);
        }
        j.lh = t;
        j.lw = t + oh;
    } else {
        int64_t *t = buf;
        for (int64_t o = 0; o < oh; o++) t[o] = nearest_src(o, xg->h, oh);
        for (int64_t o = 0; o < ow; o++) t[oh + o] = nearest_src(o, xg->w, ow);
        j.nh = t;
        j.nw = t + oh;
    }
    int64_t work = oh * ow * (bil ? 4 : 1) + (backward ? xg->h * xg->w : 0);
    int64_t grain = UP_WORK / (work > 0 ? work : 1);
    rt_status st = rt_parallel_for(xg->n * xg->c, grain < 1 ? 1 : grain, up_chunk, &j);
    rti_free(buf);
    return st;
}

rt_status rt_upsample2d(const rt_tensor *x, int64_t oh, int64_t ow, rt_upsample_mode mode,
                        int align_corners, rt_tensor **out)
{
    const char *op = "upsample2d";
    rti_nchw g;
    rt_tensor *y;
    rt_status st = rti_get_nchw(op, "input", x, &g);
    if (st == RT_OK) st = check_mode(op, mode);
    if (st == RT_OK) st = check_sizes(op, "input", x->ndim, x->shape, 0, oh, ow);
    if (st == RT_OK) st = rti_new_nchw(x->dtype, &g, oh, ow, 0, &y);
    if (st != RT_OK) return st;
    st = up_run(&g, &g, x, oh, ow, mode, align_corners, 0, y);
    if (st != RT_OK) {
        rt_tensor_release(y);
        return st;
    }
    *out = y;
    return RT_OK;
}

rt_status rt_upsample2d_backward(const rt_tensor *gout, const int64_t *x_shape,
                                 rt_upsample_mode mode, int align_corners, rt_tensor **gx)
{
    const char *op = "upsample2d_backward";
    char s1[128], s2[128];
    rti_nchw g, xg;
    rt_tensor *r;
    rt_status st = rti_get_nchw(op, "gout", gout, &g);
    if (st == RT_OK) st = check_mode(op, mode);
    if (st != RT_OK) return st;
    if (!x_shape) return rt_fail(RT_EARG, -1, "%s: the input shape is missing", op);
    int off = 4 - gout->ndim;
    xg = g;
    xg.n = off ? 1 : x_shape[0];
    xg.c = x_shape[1 - off];
    xg.h = x_shape[2 - off];
    xg.w = x_shape[3 - off];
    if (xg.n != g.n || xg.c != g.c)
        return rt_fail(RT_ESHAPE, 0, "%s: gout %s and input %s differ in batch or channels", op,
                       rt_shape_str(gout->ndim, gout->shape, s1, sizeof s1),
                       rt_shape_str(gout->ndim, x_shape, s2, sizeof s2));
    if ((st = check_sizes(op, "input shape", gout->ndim, x_shape, -1, g.h, g.w)) != RT_OK)
        return st;
    if ((st = rti_new_nchw(gout->dtype, &xg, xg.h, xg.w, 1, &r)) != RT_OK) return st;
    st = up_run(&g, &xg, gout, g.h, g.w, mode, align_corners, 1, r);
    if (st != RT_OK) {
        rt_tensor_release(r);
        return st;
    }
    *gx = r;
    return RT_OK;
}
