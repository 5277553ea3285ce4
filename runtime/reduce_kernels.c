/* reduce_kernels.c — the machinery under every reduction: geometry of work along one
** dimension, dtype <-> double block conversion, and the accumulation kernels (one pass of
** one kind over a strided run, or over whole rows).  No public API; no allocation. */
#include <math.h>
#include <string.h>
#include "reduce_internal.h"

/* ---- geometry ------------------------------------------------------------------------- */
void rti_rg_init(rti_rgeom *g, int nop, const rt_tensor *const *ops, int d0, int d1)
{
    const rt_tensor *x = ops[0];
    memset(g, 0, sizeof *g);
    g->nop = nop;
    g->n = 1;
    for (int d = d0; d <= d1; d++) g->n *= x->shape[d];
    for (int k = 0; k < nop; k++) {
        g->esize[k] = (int64_t)rt_dtype_size(ops[k]->dtype);
        g->base[k] = rt_tensor_data(ops[k]);
        g->dstride[k] = 1;
        /* The innermost dim of the range that moves: size-1 dims may carry any stride. */
        for (int d = d1; d >= d0; d--) {
            if (ops[k]->shape[d] != 1) {
                g->dstride[k] = ops[k]->strides[d];
                break;
            }
        }
    }
    int nk = 0;
    g->nout = 1;
    for (int d = 0; d < x->ndim; d++) {
        if (d >= d0 && d <= d1) continue;
        int64_t sz = x->shape[d];
        g->nout *= sz;
        if (sz == 1) continue;
        int merge = nk > 0;
        for (int k = 0; k < nop && merge; k++)
            merge = g->kstride[k][nk - 1] == ops[k]->strides[d] * sz;
        if (merge) {
            g->kshape[nk - 1] *= sz;
            for (int k = 0; k < nop; k++) g->kstride[k][nk - 1] = ops[k]->strides[d];
        } else {
            g->kshape[nk] = sz;
            for (int k = 0; k < nop; k++) g->kstride[k][nk] = ops[k]->strides[d];
            nk++;
        }
    }
    g->nk = nk;
}

char *rti_rg_ptr(const rti_rgeom *g, int op, int64_t o)
{
    int64_t off = 0;
    for (int j = g->nk - 1; j >= 0; j--) {
        int64_t q = o % g->kshape[j];
        o /= g->kshape[j];
        off += q * g->kstride[op][j];
    }
    return g->base[op] + off * g->esize[op];
}

int rti_rg_rowable(const rti_rgeom *g)
{
    if (g->nk == 0 || g->n <= 1) return 0;
    if (g->n <= RG_SMALL_N) return 1;
    if (g->dstride[0] == 1) return 0;
    for (int k = 0; k < g->nop; k++)
        if (g->kstride[k][g->nk - 1] != 1) return 0;
    return 1;
}

int64_t rti_rg_rowlen(const rti_rgeom *g)
{
    return g->nk ? g->kshape[g->nk - 1] : 1;
}

int64_t rti_rg_colstride(const rti_rgeom *g, int op)
{
    return g->nk ? g->kstride[op][g->nk - 1] : 1;
}

int64_t rti_rg_tile_width(int64_t outer, int64_t m)
{
    int64_t tw = RG_TILE;
    while (tw > 512 && outer * ((m + tw - 1) / tw) < 16) tw /= 2;
    return tw;
}

void rti_rg_as_vector(const rt_tensor *x, rt_tensor *v)
{
    *v = *x;
    v->ndim = 1;
    v->shape[0] = 1;
    v->strides[0] = 1;
}

/* ---- conversion ----------------------------------------------------------------------- */
const double *rti_rg_load(const char *p, rt_dtype dt, int64_t stride, int64_t len, double *buf)
{
    if (dt == RT_F64) {
        const double *x = (const double *)p;
        if (stride == 1) return x;
        for (int64_t i = 0; i < len; i++) buf[i] = x[i * stride];
    } else if (dt == RT_F32) {
        const float *x = (const float *)p;
        for (int64_t i = 0; i < len; i++) buf[i] = x[i * stride];
    } else {
        const int64_t *x = (const int64_t *)p;
        for (int64_t i = 0; i < len; i++) buf[i] = (double)x[i * stride];
    }
    return buf;
}

void rti_rg_store(char *p, rt_dtype dt, int64_t stride, const double *v, int64_t len)
{
    if (dt == RT_F64) {
        double *y = (double *)p;
        for (int64_t i = 0; i < len; i++) y[i * stride] = v[i];
    } else {
        float *y = (float *)p;
        for (int64_t i = 0; i < len; i++) y[i * stride] = (float)v[i];
    }
}

/* ---- contiguous double kernels ---------------------------------------------------------
** Eight independent accumulators: GCC vectorises the j-loop without -ffast-math (it may not
** reorder one running sum), and eight partial sums are also more accurate than one.  The lanes
** are combined in a fixed tree, so results depend only on n. */
static double tree8(const double *a)
{
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

static double sum8(const double *x, int64_t n)
{
    double a[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) a[j] += x[i + j];
    for (int j = 0; i < n; i++, j++) a[j] += x[i];
    return tree8(a);
}

static double sqdev8(const double *x, int64_t n, double mu)
{
    double a[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) a[j] += (x[i + j] - mu) * (x[i + j] - mu);
    for (int j = 0; i < n; i++, j++) a[j] += (x[i] - mu) * (x[i] - mu);
    return tree8(a);
}

static double sq8(const double *x, int64_t n)
{
    double a[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) a[j] += x[i + j] * x[i + j];
    for (int j = 0; i < n; i++, j++) a[j] += x[i] * x[i];
    return tree8(a);
}

static double abs8(const double *x, int64_t n)
{
    double a[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) a[j] += fabs(x[i + j]);
    for (int j = 0; i < n; i++, j++) a[j] += fabs(x[i]);
    return tree8(a);
}

static double prod8(const double *x, int64_t n)
{
    double a[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) a[j] *= x[i + j];
    for (int j = 0; i < n; i++, j++) a[j] *= x[i];
    return ((a[0] * a[1]) * (a[2] * a[3])) * ((a[4] * a[5]) * (a[6] * a[7]));
}

/* nan wins: once a lane holds nan, `v > nan` is false and it stays nan. */
static double pick_max(double a, double v) { return (v > a || v != v) ? v : a; }
static double pick_min(double a, double v) { return (v < a || v != v) ? v : a; }

/* Max/min keep 32 lanes in memory so the j-loop is an ordinary elementwise loop, which GCC
** if-converts and vectorises (8 register lanes with a select are left scalar and branchy). */
#define WL 32
static double maxw(const double *x, int64_t n, double init, int absolute)
{
    double acc[WL], a = init;
    int64_t i = 0;
    for (int j = 0; j < WL; j++) acc[j] = init;
    if (absolute) {
        for (; i + WL <= n; i += WL)
            for (int j = 0; j < WL; j++) acc[j] = pick_max(acc[j], fabs(x[i + j]));
        for (; i < n; i++) a = pick_max(a, fabs(x[i]));
    } else {
        for (; i + WL <= n; i += WL)
            for (int j = 0; j < WL; j++) acc[j] = pick_max(acc[j], x[i + j]);
        for (; i < n; i++) a = pick_max(a, x[i]);
    }
    for (int j = 0; j < WL; j++) a = pick_max(a, acc[j]);
    return a;
}

static double minw(const double *x, int64_t n, double init)
{
    double acc[WL], a = init;
    int64_t i = 0;
    for (int j = 0; j < WL; j++) acc[j] = init;
    for (; i + WL <= n; i += WL)
        for (int j = 0; j < WL; j++) acc[j] = pick_min(acc[j], x[i + j]);
    for (; i < n; i++) a = pick_min(a, x[i]);
    for (int j = 0; j < WL; j++) a = pick_min(a, acc[j]);
    return a;
}

/* First position of the max (min) of a block, merged into s; the first nan beats everything.
** The extreme is found by the vectorised maxw/minw, then its first position by a scan. */
static void argbest(rti_rstate *s, const double *x, int64_t n, int64_t base, int want_max)
{
    if (n == 0 || (s->i >= 0 && s->v != s->v)) return;
    double m = want_max ? maxw(x, n, -INFINITY, 0) : minw(x, n, INFINITY);
    int64_t i = 0;
    if (m != m) {
        while (x[i] == x[i]) i++;
    } else {
        while (x[i] != m) i++;
    }
    if (s->i < 0 || m != m || (want_max ? m > s->v : m < s->v)) {
        s->v = m;
        s->i = base + i;
    }
}

static void feed_block(rti_rkind k, double param, rti_rstate *s, const double *x, int64_t n,
                       int64_t base)
{
    switch (k) {
    case RK_SUM: s->v += sum8(x, n); break;
    case RK_PROD: s->v *= prod8(x, n); break;
    case RK_MAX: s->v = maxw(x, n, s->v, 0); break;
    case RK_MIN: s->v = minw(x, n, s->v); break;
    case RK_ARGMAX: argbest(s, x, n, base, 1); break;
    case RK_ARGMIN: argbest(s, x, n, base, 0); break;
    case RK_SQDEV: s->v += sqdev8(x, n, param); break;
    case RK_ABS: s->v += abs8(x, n); break;
    case RK_SQ: s->v += sq8(x, n); break;
    case RK_MAXABS: s->v = maxw(x, n, s->v, 1); break;
    case RK_POW:
        for (int64_t i = 0; i < n; i++) s->v += pow(fabs(x[i]), param);
        break;
    case RK_EXP:
        for (int64_t i = 0; i < n; i++) s->v += exp(x[i] - param);
        break;
    }
}

/* ---- i64 kernels (exact; SUM and PROD wrap modulo 2^64 through uint64_t) ---------------- */
static void feed_i64(rti_rkind k, rti_rstate *s, const int64_t *x, int64_t n, int64_t st,
                     int64_t base)
{
    switch (k) {
    case RK_SUM: {
        uint64_t a = (uint64_t)s->iv;
        for (int64_t i = 0; i < n; i++) a += (uint64_t)x[i * st];
        s->iv = (int64_t)a;
        break;
    }
    case RK_PROD: {
        uint64_t a = (uint64_t)s->iv;
        for (int64_t i = 0; i < n; i++) a *= (uint64_t)x[i * st];
        s->iv = (int64_t)a;
        break;
    }
    case RK_MAX:
        for (int64_t i = 0; i < n; i++) s->iv = x[i * st] > s->iv ? x[i * st] : s->iv;
        break;
    case RK_MIN:
        for (int64_t i = 0; i < n; i++) s->iv = x[i * st] < s->iv ? x[i * st] : s->iv;
        break;
    case RK_ARGMAX:
    case RK_ARGMIN:
        for (int64_t i = 0; i < n; i++) {
            int64_t v = x[i * st];
            if (s->i < 0 || (k == RK_ARGMAX ? v > s->iv : v < s->iv)) {
                s->iv = v;
                s->i = base + i;
            }
        }
        break;
    default:   /* float-only kinds: the ops refuse i64 before getting here */
        break;
    }
}

/* ---- lane interface --------------------------------------------------------------------- */
void rti_rk_init(rti_rkind k, rti_rstate *s)
{
    s->v = 0;
    s->iv = 0;
    s->i = -1;
    if (k == RK_PROD) {
        s->v = 1;
        s->iv = 1;
    } else if (k == RK_MAX) {
        s->v = -INFINITY;
        s->iv = INT64_MIN;
    } else if (k == RK_MIN) {
        s->v = INFINITY;
        s->iv = INT64_MAX;
    }
}

void rti_rk_feed(rti_rkind k, double param, rti_rstate *s, const char *p, rt_dtype dt,
                 int64_t n, int64_t stride, int64_t base)
{
    if (dt == RT_I64) {
        feed_i64(k, s, (const int64_t *)p, n, stride, base);
        return;
    }
    double buf[RG_BLOCK];
    int64_t es = (int64_t)rt_dtype_size(dt);
    for (int64_t off = 0; off < n; off += RG_BLOCK) {
        int64_t len = n - off < RG_BLOCK ? n - off : RG_BLOCK;
        const double *x = rti_rg_load(p + off * stride * es, dt, stride, len, buf);
        feed_block(k, param, s, x, len, base + off);
    }
}

void rti_rk_merge(rti_rkind k, rti_rstate *a, const rti_rstate *b)
{
    switch (k) {
    case RK_SUM:
        a->v += b->v;
        a->iv = (int64_t)((uint64_t)a->iv + (uint64_t)b->iv);
        break;
    case RK_PROD:
        a->v *= b->v;
        a->iv = (int64_t)((uint64_t)a->iv * (uint64_t)b->iv);
        break;
    case RK_MAX:
    case RK_MAXABS:
        a->v = pick_max(a->v, b->v);
        a->iv = b->iv > a->iv ? b->iv : a->iv;
        break;
    case RK_MIN:
        a->v = pick_min(a->v, b->v);
        a->iv = b->iv < a->iv ? b->iv : a->iv;
        break;
    case RK_ARGMAX:
    case RK_ARGMIN: {
        /* Float data leaves iv at 0 in both states and i64 data leaves v at 0, so one test
        ** serves both.  Ties keep a, the earlier position. */
        if (b->i < 0) break;
        int mx = k == RK_ARGMAX;
        int take = a->i < 0 || (a->v == a->v && (b->v != b->v || (mx ? b->v > a->v : b->v < a->v)
                                                 || (mx ? b->iv > a->iv : b->iv < a->iv)));
        if (take) *a = *b;
        break;
    }
    default:
        a->v += b->v;
        break;
    }
}

/* ---- row interface ---------------------------------------------------------------------- */
void rti_rk_row_init(rti_rkind k, rti_rrow *r, int64_t w)
{
    rti_rstate s;
    rti_rk_init(k, &s);
    for (int64_t c = 0; c < w; c++) {
        r->v[c] = s.v;
        r->iv[c] = s.iv;
        r->i[c] = s.i;
    }
}

/* x: one row (w) of the input  r: column states (w) */
static void row_block(rti_rkind k, const double *param, rti_rrow *r, const double *x, int64_t w,
                      int64_t pos)
{
    double *v = r->v;
    switch (k) {
    case RK_SUM: for (int64_t c = 0; c < w; c++) v[c] += x[c]; break;
    case RK_PROD: for (int64_t c = 0; c < w; c++) v[c] *= x[c]; break;
    case RK_MAX: for (int64_t c = 0; c < w; c++) v[c] = pick_max(v[c], x[c]); break;
    case RK_MIN: for (int64_t c = 0; c < w; c++) v[c] = pick_min(v[c], x[c]); break;
    case RK_MAXABS: for (int64_t c = 0; c < w; c++) v[c] = pick_max(v[c], fabs(x[c])); break;
    case RK_ABS: for (int64_t c = 0; c < w; c++) v[c] += fabs(x[c]); break;
    case RK_SQ: for (int64_t c = 0; c < w; c++) v[c] += x[c] * x[c]; break;
    case RK_SQDEV:
        for (int64_t c = 0; c < w; c++) v[c] += (x[c] - param[c]) * (x[c] - param[c]);
        break;
    case RK_POW: for (int64_t c = 0; c < w; c++) v[c] += pow(fabs(x[c]), param[c]); break;
    case RK_EXP: for (int64_t c = 0; c < w; c++) v[c] += exp(x[c] - param[c]); break;
    case RK_ARGMAX:
    case RK_ARGMIN:
        for (int64_t c = 0; c < w; c++) {
            double b = v[c], y = x[c];
            int better = k == RK_ARGMAX ? y > b : y < b;
            if (r->i[c] < 0 || better || (y != y && b == b)) {
                v[c] = y;
                r->i[c] = pos;
            }
        }
        break;
    }
}

/* x: one row (w) at element stride cs  r: column states (w) */
static void row_i64(rti_rkind k, rti_rrow *r, const int64_t *xs, int64_t w, int64_t cs,
                    int64_t pos)
{
    int64_t *v = r->iv, x[RG_TILE];
    for (int64_t c = 0; c < w; c++) x[c] = xs[c * cs];
    switch (k) {
    case RK_SUM:
        for (int64_t c = 0; c < w; c++) v[c] = (int64_t)((uint64_t)v[c] + (uint64_t)x[c]);
        break;
    case RK_PROD:
        for (int64_t c = 0; c < w; c++) v[c] = (int64_t)((uint64_t)v[c] * (uint64_t)x[c]);
        break;
    case RK_MAX: for (int64_t c = 0; c < w; c++) v[c] = x[c] > v[c] ? x[c] : v[c]; break;
    case RK_MIN: for (int64_t c = 0; c < w; c++) v[c] = x[c] < v[c] ? x[c] : v[c]; break;
    case RK_ARGMAX:
    case RK_ARGMIN:
        for (int64_t c = 0; c < w; c++) {
            if (r->i[c] < 0 || (k == RK_ARGMAX ? x[c] > v[c] : x[c] < v[c])) {
                v[c] = x[c];
                r->i[c] = pos;
            }
        }
        break;
    default:
        break;
    }
}

void rti_rk_row_feed(rti_rkind k, const double *param, rti_rrow *r, const char *p,
                     rt_dtype dt, int64_t w, int64_t cs, int64_t pos)
{
    if (dt == RT_I64) {
        row_i64(k, r, (const int64_t *)p, w, cs, pos);
        return;
    }
    double buf[RG_TILE];
    row_block(k, param, r, rti_rg_load(p, dt, cs, w, buf), w, pos);
}
