/* ops_softmax.c — ops that map each slice along one dimension to a slice of the same size:
** softmax, log_softmax and cumsum.  They share the lane/row geometry of the reductions
** (reduce_kernels.c); results are independent of the thread count because every slice is
** computed whole by one chunk. */
#include <math.h>
#include "reduce_internal.h"
#include "rt_reduce.h"

typedef enum { M_SOFTMAX, M_LOG_SOFTMAX, M_CUMSUM } along_mode;

typedef struct {
    rti_rgeom g;      /* operand 0: x, operand 1: out (same shape) */
    rt_dtype dt;
    along_mode mode;
    int64_t m, tw, ntiles;   /* row path: row length, tile width, tiles per row */
} along;

/* ---- lanes: one slice of n elements, x at stride xs, y at stride ys -------------------- */
static void softmax_lane(const along *a, const char *x, char *y)
{
    int64_t n = a->g.n, xs = a->g.dstride[0], ys = a->g.dstride[1];
    int64_t xe = a->g.esize[0], ye = a->g.esize[1];
    double buf[RG_BLOCK], ob[RG_BLOCK], s = 0;
    rti_rstate mx;
    rti_rk_init(RK_MAX, &mx);
    rti_rk_feed(RK_MAX, 0, &mx, x, a->dt, n, xs, 0);
    double m = mx.v;
    if (a->mode == M_LOG_SOFTMAX) {
        rti_rstate se;
        rti_rk_init(RK_EXP, &se);
        rti_rk_feed(RK_EXP, m, &se, x, a->dt, n, xs, 0);
        double ls = log(se.v);
        for (int64_t off = 0; off < n; off += RG_BLOCK) {
            int64_t len = n - off < RG_BLOCK ? n - off : RG_BLOCK;
            const double *v = rti_rg_load(x + off * xs * xe, a->dt, xs, len, buf);
            for (int64_t i = 0; i < len; i++) ob[i] = v[i] - m - ls;
            rti_rg_store(y + off * ys * ye, a->dt, ys, ob, len);
        }
        return;
    }
    /* exp(x - m) is written out, then scaled in place: one exp per element. */
    for (int64_t off = 0; off < n; off += RG_BLOCK) {
        int64_t len = n - off < RG_BLOCK ? n - off : RG_BLOCK;
        const double *v = rti_rg_load(x + off * xs * xe, a->dt, xs, len, buf);
        for (int64_t i = 0; i < len; i++) s += ob[i] = exp(v[i] - m);
        rti_rg_store(y + off * ys * ye, a->dt, ys, ob, len);
    }
    for (int64_t off = 0; off < n; off += RG_BLOCK) {
        int64_t len = n - off < RG_BLOCK ? n - off : RG_BLOCK;
        const double *v = rti_rg_load(y + off * ys * ye, a->dt, ys, len, buf);
        for (int64_t i = 0; i < len; i++) ob[i] = v[i] / s;
        rti_rg_store(y + off * ys * ye, a->dt, ys, ob, len);
    }
}

static void cumsum_lane(const along *a, const char *x, char *y)
{
    int64_t n = a->g.n, xs = a->g.dstride[0], ys = a->g.dstride[1];
    if (a->dt == RT_I64) {
        const int64_t *xi = (const int64_t *)x;
        int64_t *yi = (int64_t *)y;
        uint64_t acc = 0;   /* wraps like every i64 sum */
        for (int64_t i = 0; i < n; i++) {
            acc += (uint64_t)xi[i * xs];
            yi[i * ys] = (int64_t)acc;
        }
        return;
    }
    int64_t xe = a->g.esize[0], ye = a->g.esize[1];
    double buf[RG_BLOCK], ob[RG_BLOCK], acc = 0;
    for (int64_t off = 0; off < n; off += RG_BLOCK) {
        int64_t len = n - off < RG_BLOCK ? n - off : RG_BLOCK;
        const double *v = rti_rg_load(x + off * xs * xe, a->dt, xs, len, buf);
        for (int64_t i = 0; i < len; i++) ob[i] = acc += v[i];
        rti_rg_store(y + off * ys * ye, a->dt, ys, ob, len);
    }
}

static rt_status lane_chunk(void *c, int64_t chunk, int64_t b, int64_t e)
{
    const along *a = c;
    (void)chunk;
    for (int64_t o = b; o < e; o++) {
        const char *x = rti_rg_ptr(&a->g, 0, o);
        char *y = rti_rg_ptr(&a->g, 1, o);
        if (a->mode == M_CUMSUM) cumsum_lane(a, x, y);
        else softmax_lane(a, x, y);
    }
    return RT_OK;
}

/* ---- rows: a tile of w columns (strides xc, yc); row k of x at x + k*rs bytes ----------- */
/* x tile: (n, w)  y tile: (n, w) */
static void softmax_tile(const along *a, const char *x, char *y, int64_t w)
{
    int64_t n = a->g.n, xe = a->g.esize[0], ye = a->g.esize[1];
    int64_t rs = a->g.dstride[0] * xe, ws = a->g.dstride[1] * ye;
    int64_t xc = rti_rg_colstride(&a->g, 0), yc = rti_rg_colstride(&a->g, 1);
    rti_rrow mx;
    double buf[RG_TILE], ob[RG_TILE], s[RG_TILE];
    rti_rk_row_init(RK_MAX, &mx, w);
    for (int64_t k = 0; k < n; k++)
        rti_rk_row_feed(RK_MAX, NULL, &mx, x + k * rs, a->dt, w, xc, k);
    const double *m = mx.v;
    for (int64_t j = 0; j < w; j++) s[j] = 0;
    if (a->mode == M_LOG_SOFTMAX) {
        for (int64_t k = 0; k < n; k++) {
            const double *v = rti_rg_load(x + k * rs, a->dt, xc, w, buf);
            for (int64_t j = 0; j < w; j++) s[j] += exp(v[j] - m[j]);
        }
        for (int64_t j = 0; j < w; j++) s[j] = log(s[j]);
        for (int64_t k = 0; k < n; k++) {
            const double *v = rti_rg_load(x + k * rs, a->dt, xc, w, buf);
            for (int64_t j = 0; j < w; j++) ob[j] = v[j] - m[j] - s[j];
            rti_rg_store(y + k * ws, a->dt, yc, ob, w);
        }
        return;
    }
    for (int64_t k = 0; k < n; k++) {
        const double *v = rti_rg_load(x + k * rs, a->dt, xc, w, buf);
        for (int64_t j = 0; j < w; j++) s[j] += ob[j] = exp(v[j] - m[j]);
        rti_rg_store(y + k * ws, a->dt, yc, ob, w);
    }
    for (int64_t k = 0; k < n; k++) {
        const double *v = rti_rg_load(y + k * ws, a->dt, yc, w, buf);
        for (int64_t j = 0; j < w; j++) ob[j] = v[j] / s[j];
        rti_rg_store(y + k * ws, a->dt, yc, ob, w);
    }
}

static void cumsum_tile(const along *a, const char *x, char *y, int64_t w)
{
    int64_t n = a->g.n, xe = a->g.esize[0], ye = a->g.esize[1];
    int64_t rs = a->g.dstride[0] * xe, ws = a->g.dstride[1] * ye;
    int64_t xc = rti_rg_colstride(&a->g, 0), yc = rti_rg_colstride(&a->g, 1);
    if (a->dt == RT_I64) {
        uint64_t acc[RG_TILE] = {0};
        for (int64_t k = 0; k < n; k++) {
            const int64_t *xi = (const int64_t *)(x + k * rs);
            int64_t *yi = (int64_t *)(y + k * ws);
            for (int64_t j = 0; j < w; j++) {
                acc[j] += (uint64_t)xi[j * xc];
                yi[j * yc] = (int64_t)acc[j];
            }
        }
        return;
    }
    double acc[RG_TILE] = {0}, buf[RG_TILE];
    for (int64_t k = 0; k < n; k++) {
        const double *v = rti_rg_load(x + k * rs, a->dt, xc, w, buf);
        for (int64_t j = 0; j < w; j++) acc[j] += v[j];
        rti_rg_store(y + k * ws, a->dt, yc, acc, w);
    }
}

static rt_status row_chunk(void *c, int64_t chunk, int64_t b, int64_t e)
{
    const along *a = c;
    (void)chunk;
    for (int64_t item = b; item < e; item++) {
        int64_t c0 = (item % a->ntiles) * a->tw, o0 = (item / a->ntiles) * a->m + c0;
        int64_t w = a->m - c0 < a->tw ? a->m - c0 : a->tw;
        const char *x = rti_rg_ptr(&a->g, 0, o0);
        char *y = rti_rg_ptr(&a->g, 1, o0);
        if (a->mode == M_CUMSUM) cumsum_tile(a, x, y, w);
        else softmax_tile(a, x, y, w);
    }
    return RT_OK;
}

/* ---- driver ----------------------------------------------------------------------------- */
static rt_status run_along(const char *name, along_mode mode, const rt_tensor *x0, int dim,
                           rt_tensor **out)
{
    if (mode != M_CUMSUM && !rt_dtype_is_float(x0->dtype))
        return rt_fail(RT_EDTYPE, 0, "%s: %s input is not supported; convert it to f32 or f64 "
                       "first", name, rt_dtype_name(x0->dtype));
    if (x0->ndim == 0 && dim != 0 && dim != -1)
        return rt_fail(RT_EARG, 0, "%s: dimension %d out of range for a 0-d tensor", name, dim);
    rt_status st = x0->ndim == 0 ? RT_OK : rti_check_dim(name, &dim, x0->ndim);
    if (st != RT_OK) return st;
    rt_tensor *y;
    st = rt_empty(x0->dtype, x0->ndim, x0->shape, &y);
    if (st != RT_OK) return st;
    rt_tensor xv, yv;
    const rt_tensor *ops[2] = { x0, y };
    if (x0->ndim == 0) {
        rti_rg_as_vector(x0, &xv);
        rti_rg_as_vector(y, &yv);
        ops[0] = &xv, ops[1] = &yv, dim = 0;
    }
    along a = { .dt = x0->dtype, .mode = mode };
    rti_rg_init(&a.g, 2, ops, dim, dim);
    if (rt_tensor_numel(y) > 0) {
        int64_t n = a.g.n > 1 ? a.g.n : 1;
        if (rti_rg_rowable(&a.g)) {
            a.m = rti_rg_rowlen(&a.g);
            a.tw = rti_rg_tile_width(a.g.nout / a.m, a.m);
            a.ntiles = (a.m + a.tw - 1) / a.tw;
            int64_t grain = RG_GRAIN / (n * a.tw);
            st = rt_parallel_for(a.g.nout / a.m * a.ntiles, grain > 1 ? grain : 1, row_chunk, &a);
        } else {
            int64_t grain = RG_GRAIN / n;
            st = rt_parallel_for(a.g.nout, grain > 1 ? grain : 1, lane_chunk, &a);
        }
    }
    if (st != RT_OK) {
        rt_tensor_release(y);
        return st;
    }
    *out = y;
    return RT_OK;
}

rt_status rt_softmax(const rt_tensor *x, int dim, rt_tensor **out)
{
    return run_along("softmax", M_SOFTMAX, x, dim, out);
}

rt_status rt_log_softmax(const rt_tensor *x, int dim, rt_tensor **out)
{
    return run_along("log_softmax", M_LOG_SOFTMAX, x, dim, out);
}

rt_status rt_cumsum(const rt_tensor *x, int dim, rt_tensor **out)
{
    return run_along("cumsum", M_CUMSUM, x, dim, out);
}
