/* conv_depthwise_flat.c — depthwise kernels (groups == C == O) for stride 1 and short rows.
** In a zero-padded plane with row length Wp, output (oh,ow) and its tap (i,j) sit at flat
** positions p = oh*Wp + ow and p + i*dh*Wp + j*dw, so each tap is ONE loop over the whole plane
** instead of Ho loops of Wo elements; the Wp - Wo columns between rows are computed and dropped.
** Measured on 1 core, x [32,64,S,S] 3x3 forward: S=8 0.27 ms against 0.61 ms for the row
** kernels of conv_depthwise.c, S=16 0.62 against 1.2, S=32 2.6 against 2.9 (memory-bound by
** then, hence FLAT_MAX_WO).  Each chunk owns whole planes (or channels) and its own scratch. */
#include <string.h>
#include "conv_impl.h"

#define FLAT_MAX_WO 64                       /* longer rows vectorise well as they are */
#define FLAT_MAX_CHUNKS 64                   /* bounds the per-chunk scratch */
#define FLAT_SCRATCH ((int64_t)64 << 20)
#define FLAT_GRAIN 32768                     /* multiply-adds per chunk, roughly */

/* Per-chunk scratch: the padded plane and the wide plane, then kh*kw f64 sums.  Every part
** starts 8-byte aligned, so the f64 sums are aligned after f32 planes too. */
static size_t planes_bytes(const rti_conv_geom *g, size_t es)
{
    int64_t Wp = g->W + 2 * g->pw, Hp = g->H + 2 * g->ph;
    return ((size_t)((Hp + g->Ho) * Wp) * es + 7) / 8 * 8;
}

static size_t flat_bytes(const rti_conv_geom *g, size_t es)
{
    return planes_bytes(g, es) + sizeof(double) * (size_t)(g->kh * g->kw);
}

int rti_conv_flat_ok(const rti_conv_geom *g, size_t es)
{
    return g->sh == 1 && g->sw == 1 && g->Wo < FLAT_MAX_WO &&
           flat_bytes(g, es) * FLAT_MAX_CHUNKS <= (size_t)FLAT_SCRATCH;
}

typedef struct {
    const rti_conv_geom *g;
    rt_dtype dt;
    const void *a, *w, *b;   /* forward: a = x;  backward input: a = gy;  weight: a = gy, b = x */
    void *out;
    char *scratch;
    size_t chunk_bytes;
} flat_ctx;

/* Runs fn over items with at most FLAT_MAX_CHUNKS chunks, each with chunk_bytes of scratch. */
static rt_status flat_run(flat_ctx *k, int64_t items, int64_t work_per_item, rt_chunk_fn fn)
{
    int64_t grain = work_per_item >= FLAT_GRAIN ? 1 : FLAT_GRAIN / (work_per_item + 1);
    int64_t min_grain = (items + FLAT_MAX_CHUNKS - 1) / FLAT_MAX_CHUNKS;
    if (grain < min_grain) grain = min_grain;
    int64_t nchunks = rt_num_chunks(items, grain);
    if (nchunks == 0) return RT_OK;
    k->chunk_bytes = flat_bytes(k->g, rt_dtype_size(k->dt));
    k->scratch = rti_malloc(k->chunk_bytes * (size_t)nchunks);
    if (k->scratch == NULL)
        return rt_fail(RT_ENOMEM, -1, "conv: out of memory for the depthwise scratch");
    rt_status st = rt_parallel_for(items, grain, fn, k);
    rti_free(k->scratch);
    return st;
}

/* ---- f32 plane kernels ----------------------------------------------------------------------- */
/* src: (H,W) -> pad: (H+2ph, W+2pw) with zero borders */
static void pad_f32(const rti_conv_geom *g, const float *src, float *pad)
{
    int64_t Wp = g->W + 2 * g->pw, Hp = g->H + 2 * g->ph;
    memset(pad, 0, sizeof(float) * (size_t)(g->ph * Wp));
    for (int64_t r = 0; r < g->H; r++) {
        float *d = pad + (r + g->ph) * Wp;
        memset(d, 0, sizeof(float) * (size_t)g->pw);
        memcpy(d + g->pw, src + r * g->W, sizeof(float) * (size_t)g->W);
        memset(d + g->pw + g->W, 0, sizeof(float) * (size_t)g->pw);
    }
    memset(pad + (g->ph + g->H) * Wp, 0, sizeof(float) * (size_t)((Hp - g->ph - g->H) * Wp));
}

/* gy: (Ho,Wo) -> wide: rows of Wp with zeros after column Wo, L = (Ho-1)*Wp + Wo elements */
static void widen_f32(const rti_conv_geom *g, const float *gy, float *wide)
{
    int64_t Wp = g->W + 2 * g->pw;
    for (int64_t r = 0; r < g->Ho; r++) {
        memcpy(wide + r * Wp, gy + r * g->Wo, sizeof(float) * (size_t)g->Wo);
        if (r + 1 < g->Ho)
            memset(wide + r * Wp + g->Wo, 0, sizeof(float) * (size_t)(Wp - g->Wo));
    }
}

/* y: (Ho,Wo) = bias + taps of x: (H,W) */
static void fwd_f32(const rti_conv_geom *g, const float *x, const float *w, float bias,
                    float *pad, float *wide, float *y)
{
    int64_t Wp = g->W + 2 * g->pw, L = (g->Ho - 1) * Wp + g->Wo;
    pad_f32(g, x, pad);
    for (int64_t p = 0; p < L; p++) wide[p] = bias;
    for (int64_t i = 0; i < g->kh; i++)
        for (int64_t j = 0; j < g->kw; j++) {
            const float *restrict s = pad + i * g->dh * Wp + j * g->dw;
            float *restrict d = wide, wv = w[i * g->kw + j];
            for (int64_t p = 0; p < L; p++) d[p] += wv * s[p];
        }
    for (int64_t r = 0; r < g->Ho; r++)
        memcpy(y + r * g->Wo, wide + r * Wp, sizeof(float) * (size_t)g->Wo);
}

/* gx: (H,W) = taps of gy: (Ho,Wo) scattered into a padded plane, then cropped */
static void bwd_f32(const rti_conv_geom *g, const float *gy, const float *w, float *pad,
                    float *wide, float *gx)
{
    int64_t Wp = g->W + 2 * g->pw, Hp = g->H + 2 * g->ph, L = (g->Ho - 1) * Wp + g->Wo;
    widen_f32(g, gy, wide);
    memset(pad, 0, sizeof(float) * (size_t)(Hp * Wp));
    for (int64_t i = 0; i < g->kh; i++)
        for (int64_t j = 0; j < g->kw; j++) {
            float *restrict d = pad + i * g->dh * Wp + j * g->dw, wv = w[i * g->kw + j];
            const float *restrict s = wide;
            for (int64_t p = 0; p < L; p++) d[p] += wv * s[p];
        }
    for (int64_t r = 0; r < g->H; r++)
        memcpy(gx + r * g->W, pad + (r + g->ph) * Wp + g->pw, sizeof(float) * (size_t)g->W);
}

/* Eight partial sums in a fixed order: vectorisable without reassociating, deterministic. */
static double dot_f32(const float *a, const float *b, int64_t n)
{
    float p[8] = { 0 };
    int64_t k = 0;
    for (; k + 8 <= n; k += 8)
        for (int l = 0; l < 8; l++) p[l] += a[k + l] * b[k + l];
    for (; k < n; k++) p[0] += a[k] * b[k];
    return ((double)p[0] + p[1] + p[2] + p[3]) + ((double)p[4] + p[5] + p[6] + p[7]);
}

/* acc[i*kw+j] += sum over the plane of gy * (tap (i,j) of x) */
static void gw_f32(const rti_conv_geom *g, const float *gy, const float *x, float *pad,
                   float *wide, double *acc)
{
    int64_t Wp = g->W + 2 * g->pw, L = (g->Ho - 1) * Wp + g->Wo;
    pad_f32(g, x, pad);
    widen_f32(g, gy, wide);
    for (int64_t i = 0; i < g->kh; i++)
        for (int64_t j = 0; j < g->kw; j++)
            acc[i * g->kw + j] += dot_f32(wide, pad + i * g->dh * Wp + j * g->dw, L);
}

/* ---- f64 copies of the plane kernels --------------------------------------------------------- */
static void pad_f64(const rti_conv_geom *g, const double *src, double *pad)
{
    int64_t Wp = g->W + 2 * g->pw, Hp = g->H + 2 * g->ph;
    memset(pad, 0, sizeof(double) * (size_t)(g->ph * Wp));
    for (int64_t r = 0; r < g->H; r++) {
        double *d = pad + (r + g->ph) * Wp;
        memset(d, 0, sizeof(double) * (size_t)g->pw);
        memcpy(d + g->pw, src + r * g->W, sizeof(double) * (size_t)g->W);
        memset(d + g->pw + g->W, 0, sizeof(double) * (size_t)g->pw);
    }
    memset(pad + (g->ph + g->H) * Wp, 0, sizeof(double) * (size_t)((Hp - g->ph - g->H) * Wp));
}

static void widen_f64(const rti_conv_geom *g, const double *gy, double *wide)
{
    int64_t Wp = g->W + 2 * g->pw;
    for (int64_t r = 0; r < g->Ho; r++) {
        memcpy(wide + r * Wp, gy + r * g->Wo, sizeof(double) * (size_t)g->Wo);
        if (r + 1 < g->Ho)
            memset(wide + r * Wp + g->Wo, 0, sizeof(double) * (size_t)(Wp - g->Wo));
    }
}

static void fwd_f64(const rti_conv_geom *g, const double *x, const double *w, double bias,
                    double *pad, double *wide, double *y)
{
    int64_t Wp = g->W + 2 * g->pw, L = (g->Ho - 1) * Wp + g->Wo;
    pad_f64(g, x, pad);
    for (int64_t p = 0; p < L; p++) wide[p] = bias;
    for (int64_t i = 0; i < g->kh; i++)
        for (int64_t j = 0; j < g->kw; j++) {
            const double *restrict s = pad + i * g->dh * Wp + j * g->dw;
            double *restrict d = wide, wv = w[i * g->kw + j];
            for (int64_t p = 0; p < L; p++) d[p] += wv * s[p];
        }
    for (int64_t r = 0; r < g->Ho; r++)
        memcpy(y + r * g->Wo, wide + r * Wp, sizeof(double) * (size_t)g->Wo);
}

static void bwd_f64(const rti_conv_geom *g, const double *gy, const double *w, double *pad,
                    double *wide, double *gx)
{
    int64_t Wp = g->W + 2 * g->pw, Hp = g->H + 2 * g->ph, L = (g->Ho - 1) * Wp + g->Wo;
    widen_f64(g, gy, wide);
    memset(pad, 0, sizeof(double) * (size_t)(Hp * Wp));
    for (int64_t i = 0; i < g->kh; i++)
        for (int64_t j = 0; j < g->kw; j++) {
            double *restrict d = pad + i * g->dh * Wp + j * g->dw, wv = w[i * g->kw + j];
            const double *restrict s = wide;
            for (int64_t p = 0; p < L; p++) d[p] += wv * s[p];
        }
    for (int64_t r = 0; r < g->H; r++)
        memcpy(gx + r * g->W, pad + (r + g->ph) * Wp + g->pw, sizeof(double) * (size_t)g->W);
}

static double dot_f64(const double *a, const double *b, int64_t n)
{
    double p[8] = { 0 };
    int64_t k = 0;
    for (; k + 8 <= n; k += 8)
        for (int l = 0; l < 8; l++) p[l] += a[k + l] * b[k + l];
    for (; k < n; k++) p[0] += a[k] * b[k];
    return (p[0] + p[1] + p[2] + p[3]) + (p[4] + p[5] + p[6] + p[7]);
}

static void gw_f64(const rti_conv_geom *g, const double *gy, const double *x, double *pad,
                   double *wide, double *acc)
{
    int64_t Wp = g->W + 2 * g->pw, L = (g->Ho - 1) * Wp + g->Wo;
    pad_f64(g, x, pad);
    widen_f64(g, gy, wide);
    for (int64_t i = 0; i < g->kh; i++)
        for (int64_t j = 0; j < g->kw; j++)
            acc[i * g->kw + j] += dot_f64(wide, pad + i * g->dh * Wp + j * g->dw, L);
}

/* ---- chunks and entry points ----------------------------------------------------------------- */
/* items are (n,c) planes; the scratch slice holds pad then wide */
static rt_status fwd_chunk(void *c, int64_t chunk, int64_t begin, int64_t end)
{
    const flat_ctx *k = c;
    const rti_conv_geom *g = k->g;
    int64_t Wp = g->W + 2 * g->pw, Hp = g->H + 2 * g->ph, HW = g->H * g->W;
    int64_t P = g->Ho * g->Wo, kk = g->kh * g->kw;
    char *s = k->scratch + (size_t)chunk * k->chunk_bytes;
    for (int64_t q = begin; q < end; q++) {
        int64_t o = q % g->O;
        if (k->dt == RT_F32)
            fwd_f32(g, (const float *)k->a + q * HW, (const float *)k->w + o * kk,
                    k->b ? ((const float *)k->b)[o] : 0.0f, (float *)s, (float *)s + Hp * Wp,
                    (float *)k->out + q * P);
        else
            fwd_f64(g, (const double *)k->a + q * HW, (const double *)k->w + o * kk,
                    k->b ? ((const double *)k->b)[o] : 0.0, (double *)s, (double *)s + Hp * Wp,
                    (double *)k->out + q * P);
    }
    return RT_OK;
}

static rt_status bwd_chunk(void *c, int64_t chunk, int64_t begin, int64_t end)
{
    const flat_ctx *k = c;
    const rti_conv_geom *g = k->g;
    int64_t Wp = g->W + 2 * g->pw, Hp = g->H + 2 * g->ph, HW = g->H * g->W;
    int64_t P = g->Ho * g->Wo, kk = g->kh * g->kw;
    char *s = k->scratch + (size_t)chunk * k->chunk_bytes;
    for (int64_t q = begin; q < end; q++) {
        int64_t ch = q % g->C;
        if (k->dt == RT_F32)
            bwd_f32(g, (const float *)k->a + q * P, (const float *)k->w + ch * kk, (float *)s,
                    (float *)s + Hp * Wp, (float *)k->out + q * HW);
        else
            bwd_f64(g, (const double *)k->a + q * P, (const double *)k->w + ch * kk, (double *)s,
                    (double *)s + Hp * Wp, (double *)k->out + q * HW);
    }
    return RT_OK;
}

/* items are channels; each sums its N images in order into f64 tap sums */
static rt_status gw_chunk(void *c, int64_t chunk, int64_t begin, int64_t end)
{
    const flat_ctx *k = c;
    const rti_conv_geom *g = k->g;
    int64_t Wp = g->W + 2 * g->pw, Hp = g->H + 2 * g->ph, HW = g->H * g->W;
    int64_t P = g->Ho * g->Wo, kk = g->kh * g->kw;
    char *s = k->scratch + (size_t)chunk * k->chunk_bytes;
    double *acc = (double *)(s + planes_bytes(g, rt_dtype_size(k->dt)));
    for (int64_t o = begin; o < end; o++) {
        for (int64_t t = 0; t < kk; t++) acc[t] = 0;
        for (int64_t n = 0; n < g->N; n++) {
            int64_t gq = (n * g->O + o) * P, xq = (n * g->C + o) * HW;
            if (k->dt == RT_F32)
                gw_f32(g, (const float *)k->a + gq, (const float *)k->b + xq, (float *)s,
                       (float *)s + Hp * Wp, acc);
            else
                gw_f64(g, (const double *)k->a + gq, (const double *)k->b + xq, (double *)s,
                       (double *)s + Hp * Wp, acc);
        }
        for (int64_t t = 0; t < kk; t++) {
            if (k->dt == RT_F32) ((float *)k->out)[o * kk + t] = (float)acc[t];
            else ((double *)k->out)[o * kk + t] = acc[t];
        }
    }
    return RT_OK;
}

/* x: (N,C,H,W)  w: (C,1,kh,kw)  b: (C) or NULL  y: (N,C,Ho,Wo) */
rt_status rti_conv_flat_forward(const rti_conv_geom *g, rt_dtype dt, const void *x,
                                const void *w, const void *b, void *y)
{
    flat_ctx k = { g, dt, x, w, b, y, NULL, 0 };
    return flat_run(&k, g->N * g->C, g->Ho * g->Wo * g->kh * g->kw, fwd_chunk);
}

/* gy: (N,C,Ho,Wo)  w: (C,1,kh,kw)  gx: (N,C,H,W) */
rt_status rti_conv_flat_backward_input(const rti_conv_geom *g, rt_dtype dt, const void *gy,
                                       const void *w, void *gx)
{
    flat_ctx k = { g, dt, gy, w, NULL, gx, NULL, 0 };
    return flat_run(&k, g->N * g->C, g->Ho * g->Wo * g->kh * g->kw, bwd_chunk);
}

/* gy: (N,C,Ho,Wo)  x: (N,C,H,W)  gw: (C,1,kh,kw) */
rt_status rti_conv_flat_backward_weight(const rti_conv_geom *g, rt_dtype dt, const void *gy,
                                        const void *x, void *gw)
{
    flat_ctx k = { g, dt, gy, NULL, x, gw, NULL, 0 };
    return flat_run(&k, g->O, g->N * g->Ho * g->Wo * g->kh * g->kw, gw_chunk);
}
