/* conv_im2col.c — the data movement around convolution GEMMs: im2col, col2im, moving
** (B,O,P) planes to and from one (O,B*P) matrix, and the bias add/gradient.  All of it runs in
** the pool; no BLAS here.  Every output element is written by exactly one chunk. */
#include <string.h>
#include "conv_impl.h"

#define MOVE_GRAIN 32768   /* elements per chunk, roughly */

static int64_t grain_for(int64_t per_item)
{
    return per_item >= MOVE_GRAIN ? 1 : MOVE_GRAIN / (per_item > 0 ? per_item : 1);
}

/* ---- im2col ------------------------------------------------------------------------------ */
typedef struct {
    const rti_conv_geom *g;
    size_t es;
    const char *x;
    char *cols;
    int64_t B;
} im2col_ctx;

/* One output row of tap (i,j): zeros in [0,lo) and [hi,Wo), input columns first, first+s, ...
** in [lo,hi).  Plain loops rather than memset/memcpy: rows are short (7 to 32 elements for
** the usual feature maps), where the library calls cost more than the copying; NO_LIBCALLS
** keeps GCC from turning the loops back into memset/memmove calls. */
#if defined(__GNUC__) && !defined(__clang__)
#define NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define NO_LIBCALLS
#endif

NO_LIBCALLS static void tap_row_f32(float *restrict d, const float *restrict src, int64_t Wo,
                                    int64_t lo, int64_t hi, int64_t s, int64_t first)
{
    for (int64_t k = 0; k < lo; k++) d[k] = 0.0f;
    if (s == 1) {
        const float *p = src + first - lo;
        for (int64_t k = lo; k < hi; k++) d[k] = p[k];
    } else {
        for (int64_t k = lo; k < hi; k++) d[k] = src[first + (k - lo) * s];
    }
    for (int64_t k = hi < lo ? lo : hi; k < Wo; k++) d[k] = 0.0f;
}

NO_LIBCALLS static void tap_row_f64(double *restrict d, const double *restrict src,
                                    int64_t Wo, int64_t lo, int64_t hi, int64_t s,
                                    int64_t first)
{
    for (int64_t k = 0; k < lo; k++) d[k] = 0.0;
    if (s == 1) {
        const double *p = src + first - lo;
        for (int64_t k = lo; k < hi; k++) d[k] = p[k];
    } else {
        for (int64_t k = lo; k < hi; k++) d[k] = src[first + (k - lo) * s];
    }
    for (int64_t k = hi < lo ? lo : hi; k < Wo; k++) d[k] = 0.0;
}

/* rows [begin,end) of cols: (C*kh*kw, B*Ho*Wo) */
static rt_status im2col_chunk(void *c, int64_t chunk, int64_t begin, int64_t end)
{
    (void)chunk;
    const im2col_ctx *k = c;
    const rti_conv_geom *g = k->g;
    size_t es = k->es;
    int64_t P = g->Ho * g->Wo, HW = g->H * g->W, ncols = k->B * P;
    for (int64_t r = begin; r < end; r++) {
        int64_t ch = r / (g->kh * g->kw), i = r / g->kw % g->kh, j = r % g->kw;
        int64_t start = g->pw - j * g->dw, lo, hi;
        rti_conv_tap_range(g->W, g->Wo, g->sw, start, &lo, &hi);
        int64_t first = lo * g->sw - start;   /* input column of output column lo */
        for (int64_t b = 0; b < k->B; b++) {
            const char *plane = k->x + (size_t)((b * g->C + ch) * HW) * es;
            char *row = k->cols + (size_t)(r * ncols + b * P) * es;
            for (int64_t oh = 0; oh < g->Ho; oh++) {
                char *dst = row + (size_t)(oh * g->Wo) * es;
                int64_t ih = oh * g->sh - g->ph + i * g->dh;
                if (ih < 0 || ih >= g->H || hi <= lo) {
                    memset(dst, 0, (size_t)g->Wo * es);
                    continue;
                }
                const char *src = plane + (size_t)(ih * g->W) * es;
                if (es == 4)
                    tap_row_f32((float *)dst, (const float *)src, g->Wo, lo, hi, g->sw, first);
                else
                    tap_row_f64((double *)dst, (const double *)src, g->Wo, lo, hi, g->sw, first);
            }
        }
    }
    return RT_OK;
}

rt_status rti_im2col(const rti_conv_geom *g, size_t esize, const void *x, int64_t B, void *cols)
{
    im2col_ctx k = { g, esize, x, cols, B };
    int64_t rows = g->C * g->kh * g->kw;
    return rt_parallel_for(rows, grain_for(B * g->Ho * g->Wo), im2col_chunk, &k);
}

/* ---- col2im -------------------------------------------------------------------------------- */
typedef struct {
    const rti_conv_geom *g;
    const void *cols;
    void *gx;
    int64_t B;
} col2im_ctx;

/* One (b,c) plane of gx: (H,W), summing its kh*kw tap rows of cols in a fixed order. */
static void col2im_plane_f32(const rti_conv_geom *g, const float *cols, int64_t ncols,
                             int64_t b, int64_t ch, float *gx)
{
    int64_t P = g->Ho * g->Wo;
    memset(gx, 0, sizeof(float) * (size_t)(g->H * g->W));
    for (int64_t i = 0; i < g->kh; i++) {
        for (int64_t j = 0; j < g->kw; j++) {
            int64_t start = g->pw - j * g->dw, lo, hi;
            rti_conv_tap_range(g->W, g->Wo, g->sw, start, &lo, &hi);
            if (hi <= lo) continue;
            const float *row = cols + ((ch * g->kh + i) * g->kw + j) * ncols + b * P;
            for (int64_t oh = 0; oh < g->Ho; oh++) {
                int64_t ih = oh * g->sh - g->ph + i * g->dh;
                if (ih < 0 || ih >= g->H) continue;
                float *d = gx + ih * g->W + (lo * g->sw - start);
                const float *s = row + oh * g->Wo + lo;
                if (g->sw == 1)
                    for (int64_t k = 0; k < hi - lo; k++) d[k] += s[k];
                else
                    for (int64_t k = 0; k < hi - lo; k++) d[k * g->sw] += s[k];
            }
        }
    }
}

static void col2im_plane_f64(const rti_conv_geom *g, const double *cols, int64_t ncols,
                             int64_t b, int64_t ch, double *gx)
{
    int64_t P = g->Ho * g->Wo;
    memset(gx, 0, sizeof(double) * (size_t)(g->H * g->W));
    for (int64_t i = 0; i < g->kh; i++) {
        for (int64_t j = 0; j < g->kw; j++) {
            int64_t start = g->pw - j * g->dw, lo, hi;
            rti_conv_tap_range(g->W, g->Wo, g->sw, start, &lo, &hi);
            if (hi <= lo) continue;
            const double *row = cols + ((ch * g->kh + i) * g->kw + j) * ncols + b * P;
            for (int64_t oh = 0; oh < g->Ho; oh++) {
                int64_t ih = oh * g->sh - g->ph + i * g->dh;
                if (ih < 0 || ih >= g->H) continue;
                double *d = gx + ih * g->W + (lo * g->sw - start);
                const double *s = row + oh * g->Wo + lo;
                if (g->sw == 1)
                    for (int64_t k = 0; k < hi - lo; k++) d[k] += s[k];
                else
                    for (int64_t k = 0; k < hi - lo; k++) d[k * g->sw] += s[k];
            }
        }
    }
}

static rt_status col2im_chunk_f32(void *c, int64_t chunk, int64_t begin, int64_t end)
{
    (void)chunk;
    const col2im_ctx *k = c;
    const rti_conv_geom *g = k->g;
    int64_t HW = g->H * g->W, ncols = k->B * g->Ho * g->Wo;
    for (int64_t q = begin; q < end; q++)
        col2im_plane_f32(g, k->cols, ncols, q / g->C, q % g->C, (float *)k->gx + q * HW);
    return RT_OK;
}

static rt_status col2im_chunk_f64(void *c, int64_t chunk, int64_t begin, int64_t end)
{
    (void)chunk;
    const col2im_ctx *k = c;
    const rti_conv_geom *g = k->g;
    int64_t HW = g->H * g->W, ncols = k->B * g->Ho * g->Wo;
    for (int64_t q = begin; q < end; q++)
        col2im_plane_f64(g, k->cols, ncols, q / g->C, q % g->C, (double *)k->gx + q * HW);
    return RT_OK;
}

rt_status rti_col2im(const rti_conv_geom *g, rt_dtype dt, const void *cols, int64_t B, void *gx)
{
    col2im_ctx k = { g, cols, gx, B };
    int64_t grain = grain_for(g->H * g->W + g->kh * g->kw * g->Ho * g->Wo);
    return rt_parallel_for(B * g->C, grain, dt == RT_F32 ? col2im_chunk_f32 : col2im_chunk_f64,
                           &k);
}

/* ---- (B,O,P) <-> (O,B*P) ------------------------------------------------------------------ */
typedef struct {
    size_t es;
    rt_dtype dt;
    const char *src;
    char *dst;
    const void *bias;
    int64_t B, O, P;
} planes_ctx;

/* items are (o,b) pairs in dst order */
static rt_status gather_chunk(void *c, int64_t chunk, int64_t begin, int64_t end)
{
    (void)chunk;
    const planes_ctx *k = c;
    size_t row = (size_t)k->P * k->es;
    for (int64_t q = begin; q < end; q++) {
        int64_t o = q / k->B, b = q % k->B;
        memcpy(k->dst + (size_t)q * row, k->src + (size_t)(b * k->O + o) * row, row);
    }
    return RT_OK;
}

rt_status rti_conv_gather(size_t esize, const void *src, int64_t B, int64_t O, int64_t P,
                          void *dst)
{
    planes_ctx k = { esize, RT_F32, src, dst, NULL, B, O, P };
    return rt_parallel_for(O * B, grain_for(P), gather_chunk, &k);
}

/* items are (b,o) planes in dst order; the bias add rides along with the copy for free */
static rt_status scatter_chunk(void *c, int64_t chunk, int64_t begin, int64_t end)
{
    (void)chunk;
    const planes_ctx *k = c;
    int64_t P = k->P;
    for (int64_t q = begin; q < end; q++) {
        int64_t b = q / k->O, o = q % k->O;
        int64_t from = (o * k->B + b) * P;
        if (k->dt == RT_F32) {
            const float *s = (const float *)k->src + from;
            float *d = (float *)k->dst + q * P;
            float bv = k->bias ? ((const float *)k->bias)[o] : 0.0f;
            for (int64_t p = 0; p < P; p++) d[p] = s[p] + bv;
        } else {
            const double *s = (const double *)k->src + from;
            double *d = (double *)k->dst + q * P;
            double bv = k->bias ? ((const double *)k->bias)[o] : 0.0;
            for (int64_t p = 0; p < P; p++) d[p] = s[p] + bv;
        }
    }
    return RT_OK;
}

rt_status rti_conv_scatter(rt_dtype dt, const void *src, int64_t B, int64_t O, int64_t P,
                           const void *b, void *dst)
{
    planes_ctx k = { rt_dtype_size(dt), dt, src, dst, b, B, O, P };
    return rt_parallel_for(B * O, grain_for(P), scatter_chunk, &k);
}

/* ---- bias ---------------------------------------------------------------------------------- */
/* items are (n,o) planes */
static rt_status add_bias_chunk(void *c, int64_t chunk, int64_t begin, int64_t end)
{
    (void)chunk;
    const planes_ctx *k = c;
    int64_t P = k->P;
    for (int64_t q = begin; q < end; q++) {
        int64_t o = q % k->O;
        if (k->dt == RT_F32) {
            float *d = (float *)k->dst + q * P, bv = ((const float *)k->bias)[o];
            for (int64_t p = 0; p < P; p++) d[p] += bv;
        } else {
            double *d = (double *)k->dst + q * P, bv = ((const double *)k->bias)[o];
            for (int64_t p = 0; p < P; p++) d[p] += bv;
        }
    }
    return RT_OK;
}

rt_status rti_conv_add_bias(rt_dtype dt, void *y, int64_t N, int64_t O, int64_t P,
                            const void *b)
{
    if (b == NULL) return RT_OK;
    planes_ctx k = { rt_dtype_size(dt), dt, NULL, y, b, N, O, P };
    return rt_parallel_for(N * O, grain_for(P), add_bias_chunk, &k);
}

/* Eight running sums break the add latency chain (and let the compiler vectorise) while
** keeping a fixed summation order. */
static double sum_f32(const float *s, int64_t n)
{
    double a[8] = { 0 };
    int64_t p = 0;
    for (; p + 8 <= n; p += 8)
        for (int l = 0; l < 8; l++) a[l] += s[p + l];
    for (; p < n; p++) a[0] += s[p];
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

static double sum_f64(const double *s, int64_t n)
{
    double a[8] = { 0 };
    int64_t p = 0;
    for (; p + 8 <= n; p += 8)
        for (int l = 0; l < 8; l++) a[l] += s[p + l];
    for (; p < n; p++) a[0] += s[p];
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* items are channels o; each sums its N planes in order, in f64, so f32 sums over large
** batches stay accurate and the result does not depend on the chunking */
static rt_status bias_grad_chunk(void *c, int64_t chunk, int64_t begin, int64_t end)
{
    (void)chunk;
    const planes_ctx *k = c;
    int64_t P = k->P;
    for (int64_t o = begin; o < end; o++) {
        double acc = 0;
        for (int64_t n = 0; n < k->B; n++) {
            int64_t at = (n * k->O + o) * P;
            acc += k->dt == RT_F32 ? sum_f32((const float *)k->src + at, P)
                                   : sum_f64((const double *)k->src + at, P);
        }
        if (k->dt == RT_F32) ((float *)k->dst)[o] = (float)acc;
        else ((double *)k->dst)[o] = acc;
    }
    return RT_OK;
}

rt_status rti_conv_bias_grad(rt_dtype dt, const void *gy, int64_t N, int64_t O, int64_t P,
                             void *gb)
{
    planes_ctx k = { rt_dtype_size(dt), dt, gy, gb, NULL, N, O, P };
    return rt_parallel_for(O, grain_for(N * P), bias_grad_chunk, &k);
}
