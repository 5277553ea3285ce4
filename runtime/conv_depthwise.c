/* conv_depthwise.c — direct kernels for depthwise convolutions with one output channel per
** input channel (groups == C == O), where im2col + GEMM degenerates into G GEMMs of depth
** kh*kw and no reuse (conv_engine.c has the measurements).  Everything runs in the pool; each
** chunk owns whole output planes or channels, so results do not depend on the thread count.
** The kernels accept any multiple of C outputs; the engine calls them for O == C only. */
#include <string.h>
#include "conv_impl.h"

#define DW_GRAIN 32768   /* multiply-adds per chunk, roughly */

static int64_t grain_for(int64_t per_item)
{
    return per_item >= DW_GRAIN ? 1 : DW_GRAIN / (per_item > 0 ? per_item : 1);
}

typedef struct {
    const rti_conv_geom *g;
    rt_dtype dt;
    const void *a, *w, *b;   /* forward: a = x;  backward input: a = gy;  weight: a = gy, b = x */
    void *out;
} dw_ctx;

/* ---- forward ------------------------------------------------------------------------------ */
/* xp: (H,W)  wo: (kh,kw)  yp: (Ho,Wo) = bias + taps, added in (i,j) order.  Taps are the
** outer loops so the division in rti_conv_tap_range runs once per tap, not once per row. */
static void fwd_plane_f32(const rti_conv_geom *g, const float *xp, const float *wo, float bias,
                          float *yp)
{
    for (int64_t q = 0; q < g->Ho * g->Wo; q++) yp[q] = bias;
    for (int64_t i = 0; i < g->kh; i++) {
        for (int64_t j = 0; j < g->kw; j++) {
            int64_t start = g->pw - j * g->dw, lo, hi;
            rti_conv_tap_range(g->W, g->Wo, g->sw, start, &lo, &hi);
            if (hi <= lo) continue;
            float wv = wo[i * g->kw + j];
            for (int64_t oh = 0; oh < g->Ho; oh++) {
                int64_t ih = oh * g->sh - g->ph + i * g->dh;
                if (ih < 0 || ih >= g->H) continue;
                const float *restrict s = xp + ih * g->W + (lo * g->sw - start);
                float *restrict d = yp + oh * g->Wo + lo;
                if (g->sw == 1)
                    for (int64_t k = 0; k < hi - lo; k++) d[k] += wv * s[k];
                else
                    for (int64_t k = 0; k < hi - lo; k++) d[k] += wv * s[k * g->sw];
            }
        }
    }
}

static void fwd_plane_f64(const rti_conv_geom *g, const double *xp, const double *wo, double bias,
                          double *yp)
{
    for (int64_t q = 0; q < g->Ho * g->Wo; q++) yp[q] = bias;
    for (int64_t i = 0; i < g->kh; i++) {
        for (int64_t j = 0; j < g->kw; j++) {
            int64_t start = g->pw - j * g->dw, lo, hi;
            rti_conv_tap_range(g->W, g->Wo, g->sw, start, &lo, &hi);
            if (hi <= lo) continue;
            double wv = wo[i * g->kw + j];
            for (int64_t oh = 0; oh < g->Ho; oh++) {
                int64_t ih = oh * g->sh - g->ph + i * g->dh;
                if (ih < 0 || ih >= g->H) continue;
                const double *restrict s = xp + ih * g->W + (lo * g->sw - start);
                double *restrict d = yp + oh * g->Wo + lo;
                if (g->sw == 1)
                    for (int64_t k = 0; k < hi - lo; k++) d[k] += wv * s[k];
                else
                    for (int64_t k = 0; k < hi - lo; k++) d[k] += wv * s[k * g->sw];
            }
        }
    }
}

/* items are (n,o) output planes */
static rt_status fwd_chunk(void *c, int64_t chunk, int64_t begin, int64_t end)
{
    (void)chunk;
    const dw_ctx *k = c;
    const rti_conv_geom *g = k->g;
    int64_t Og = g->O / g->C, P = g->Ho * g->Wo, HW = g->H * g->W, kk = g->kh * g->kw;
    for (int64_t q = begin; q < end; q++) {
        int64_t o = q % g->O, xq = q / g->O * g->C + o / Og;
        if (k->dt == RT_F32) {
            float bias = k->b ? ((const float *)k->b)[o] : 0.0f;
            fwd_plane_f32(g, (const float *)k->a + xq * HW, (const float *)k->w + o * kk, bias,
                          (float *)k->out + q * P);
        } else {
            double bias = k->b ? ((const double *)k->b)[o] : 0.0;
            fwd_plane_f64(g, (const double *)k->a + xq * HW, (const double *)k->w + o * kk, bias,
                          (double *)k->out + q * P);
        }
    }
    return RT_OK;
}

/* x: (N,C,H,W)  w: (O,1,kh,kw)  b: (O) or NULL  y: (N,O,Ho,Wo);  groups == C */
rt_status rti_conv_dw_forward(const rti_conv_geom *g, rt_dtype dt, const void *x,
                              const void *w, const void *b, void *y)
{
    if (rti_conv_flat_ok(g, rt_dtype_size(dt))) return rti_conv_flat_forward(g, dt, x, w, b, y);
    dw_ctx k = { g, dt, x, w, b, y };
    return rt_parallel_for(g->N * g->O, grain_for(g->Ho * g->Wo * g->kh * g->kw), fwd_chunk, &k);
}

/* ---- backward with respect to the input --------------------------------------------------- */
/* gyn: (O,Ho,Wo) of one image  gxp: (H,W) plane of channel ch = sum over its Og output
** channels and their taps, in a fixed order */
static void bwd_plane_f32(const rti_conv_geom *g, const float *gyn, const float *w, int64_t ch,
                          float *gxp)
{
    int64_t Og = g->O / g->C, P = g->Ho * g->Wo;
    memset(gxp, 0, sizeof(float) * (size_t)(g->H * g->W));
    for (int64_t o = ch * Og; o < (ch + 1) * Og; o++) {
        const float *gp = gyn + o * P, *wo = w + o * g->kh * g->kw;
        for (int64_t i = 0; i < g->kh; i++) {
            for (int64_t j = 0; j < g->kw; j++) {
                int64_t start = g->pw - j * g->dw, lo, hi;
                rti_conv_tap_range(g->W, g->Wo, g->sw, start, &lo, &hi);
                if (hi <= lo) continue;
                float wv = wo[i * g->kw + j];
                for (int64_t oh = 0; oh < g->Ho; oh++) {
                    int64_t ih = oh * g->sh - g->ph + i * g->dh;
                    if (ih < 0 || ih >= g->H) continue;
                    float *restrict d = gxp + ih * g->W + (lo * g->sw - start);
                    const float *restrict s = gp + oh * g->Wo + lo;
                    if (g->sw == 1)
                        for (int64_t k = 0; k < hi - lo; k++) d[k] += wv * s[k];
                    else
                        for (int64_t k = 0; k < hi - lo; k++) d[k * g->sw] += wv * s[k];
                }
            }
        }
    }
}

static void bwd_plane_f64(const rti_conv_geom *g, const double *gyn, const double *w, int64_t ch,
                          double *gxp)
{
    int64_t Og = g->O / g->C, P = g->Ho * g->Wo;
    memset(gxp, 0, sizeof(double) * (size_t)(g->H * g->W));
    for (int64_t o = ch * Og; o < (ch + 1) * Og; o++) {
        const double *gp = gyn + o * P, *wo = w + o * g->kh * g->kw;
        for (int64_t i = 0; i < g->kh; i++) {
            for (int64_t j = 0; j < g->kw; j++) {
                int64_t start = g->pw - j * g->dw, lo, hi;
                rti_conv_tap_range(g->W, g->Wo, g->sw, start, &lo, &hi);
                if (hi <= lo) continue;
                double wv = wo[i * g->kw + j];
                for (int64_t oh = 0; oh < g->Ho; oh++) {
                    int64_t ih = oh * g->sh - g->ph + i * g->dh;
                    if (ih < 0 || ih >= g->H) continue;
                    double *restrict d = gxp + ih * g->W + (lo * g->sw - start);
                    const double *restrict s = gp + oh * g->Wo + lo;
                    if (g->sw == 1)
                        for (int64_t k = 0; k < hi - lo; k++) d[k] += wv * s[k];
                    else
                        for (int64_t k = 0; k < hi - lo; k++) d[k * g->sw] += wv * s[k];
                }
            }
        }
    }
}

/* items are (n,c) input planes */
static rt_status bwd_chunk(void *c, int64_t chunk, int64_t begin, int64_t end)
{
    (void)chunk;
    const dw_ctx *k = c;
    const rti_conv_geom *g = k->g;
    int64_t P = g->Ho * g->Wo, HW = g->H * g->W;
    for (int64_t q = begin; q < end; q++) {
        int64_t n = q / g->C, ch = q % g->C;
        if (k->dt == RT_F32)
            bwd_plane_f32(g, (const float *)k->a + n * g->O * P, k->w, ch,
                          (float *)k->out + q * HW);
        else
            bwd_plane_f64(g, (const double *)k->a + n * g->O * P, k->w, ch,
                          (double *)k->out + q * HW);
    }
    return RT_OK;
}

/* gy: (N,O,Ho,Wo)  w: (O,1,kh,kw)  gx: (N,C,H,W);  groups == C */
rt_status rti_conv_dw_backward_input(const rti_conv_geom *g, rt_dtype dt, const void *gy,
                                     const void *w, void *gx)
{
    if (rti_conv_flat_ok(g, rt_dtype_size(dt)))
        return rti_conv_flat_backward_input(g, dt, gy, w, gx);
    dw_ctx k = { g, dt, gy, w, NULL, gx };
    int64_t per = (g->O / g->C) * g->Ho * g->Wo * g->kh * g->kw + g->H * g->W;
    return rt_parallel_for(g->N * g->C, grain_for(per), bwd_chunk, &k);
}

/* ---- backward with respect to the weight -------------------------------------------------- */
/* Eight partial sums in a fixed order: vectorisable without reassociating, deterministic. */
static double dot_f32(const float *a, const float *b, int64_t sb, int64_t n)
{
    float p[8] = { 0 };
    int64_t k = 0;
    for (; k + 8 <= n; k += 8)
        for (int l = 0; l < 8; l++) p[l] += a[k + l] * b[(k + l) * sb];
    for (; k < n; k++) p[0] += a[k] * b[k * sb];
    return ((double)p[0] + p[1] + p[2] + p[3]) + ((double)p[4] + p[5] + p[6] + p[7]);
}

static double dot_f64(const double *a, const double *b, int64_t sb, int64_t n)
{
    double p[8] = { 0 };
    int64_t k = 0;
    for (; k + 8 <= n; k += 8)
        for (int l = 0; l < 8; l++) p[l] += a[k + l] * b[(k + l) * sb];
    for (; k < n; k++) p[0] += a[k] * b[k * sb];
    return (p[0] + p[1] + p[2] + p[3]) + (p[4] + p[5] + p[6] + p[7]);
}

/* gw[o,i,j] = sum over n, oh, ow of gy[n,o,oh,ow] * x[n,o/Og,ih,iw].  Taps are the outer
** loop so each needs one f64 accumulator and no scratch; the two planes per image are re-read
** kh*kw times from cache. */
static double tap_sum(const rti_conv_geom *g, rt_dtype dt, const void *gy, const void *x,
                      int64_t o, int64_t i, int64_t j)
{
    int64_t Og = g->O / g->C, P = g->Ho * g->Wo, HW = g->H * g->W, ch = o / Og;
    int64_t start = g->pw - j * g->dw, lo, hi;
    rti_conv_tap_range(g->W, g->Wo, g->sw, start, &lo, &hi);
    double acc = 0;
    if (hi <= lo) return 0;
    for (int64_t n = 0; n < g->N; n++) {
        int64_t gq = (n * g->O + o) * P, xq = (n * g->C + ch) * HW;
        for (int64_t oh = 0; oh < g->Ho; oh++) {
            int64_t ih = oh * g->sh - g->ph + i * g->dh;
            if (ih < 0 || ih >= g->H) continue;
            int64_t ga = gq + oh * g->Wo + lo, xa = xq + ih * g->W + (lo * g->sw - start);
            if (dt == RT_F32)
                acc += dot_f32((const float *)gy + ga, (const float *)x + xa, g->sw, hi - lo);
            else
                acc += dot_f64((const double *)gy + ga, (const double *)x + xa, g->sw, hi - lo);
        }
    }
    return acc;
}

/* items are output channels o */
static rt_status gw_chunk(void *c, int64_t chunk, int64_t begin, int64_t end)
{
    (void)chunk;
    const dw_ctx *k = c;
    const rti_conv_geom *g = k->g;
    for (int64_t o = begin; o < end; o++) {
        for (int64_t i = 0; i < g->kh; i++) {
            for (int64_t j = 0; j < g->kw; j++) {
                double v = tap_sum(g, k->dt, k->a, k->b, o, i, j);
                int64_t at = (o * g->kh + i) * g->kw + j;
                if (k->dt == RT_F32) ((float *)k->out)[at] = (float)v;
                else ((double *)k->out)[at] = v;
            }
        }
    }
    return RT_OK;
}

/* gy: (N,O,Ho,Wo)  x: (N,C,H,W)  gw: (O,1,kh,kw);  groups == C */
rt_status rti_conv_dw_backward_weight(const rti_conv_geom *g, rt_dtype dt, const void *gy,
                                      const void *x, void *gw)
{
    if (rti_conv_flat_ok(g, rt_dtype_size(dt)))
        return rti_conv_flat_backward_weight(g, dt, gy, x, gw);
    dw_ctx k = { g, dt, gy, NULL, x, gw };
    int64_t per = g->N * g->Ho * g->Wo * g->kh * g->kw;
    return rt_parallel_for(g->O, grain_for(per), gw_chunk, &k);
}
