/* ops_pad.c — N-d padding in PyTorch's F.pad order (last dim first): constant, reflect and
** replicate, with negative pads cropping; and its backward.  Each padded dim gets a table
** from output index to input index, built in the calling thread; the kernels copy one
** last-dim row at a time, with a straight (vectorisable) copy for the middle of the row. */
#include <string.h>
#include "internal.h"
#include "rt_spatial.h"

/* Elements per chunk, counted on the output (forward) or per batch slice (backward). */
#define PAD_WORK 32768

typedef struct {
    int ndim, lead;                    /* dims; leading dims that are not padded */
    int64_t ishape[RT_MAXDIM];         /* input shape */
    int64_t oshape[RT_MAXDIM];         /* padded shape */
    int64_t before[RT_MAXDIM];         /* 0 for dims that are not padded */
    const int64_t *map[RT_MAXDIM];     /* padded dims: input index per output index, -1 for
                                       ** a constant (only in CONSTANT mode) */
} pad_geom;

/* ---- geometry ------------------------------------------------------------------------------ */
static rt_status check_pair(const char *op, rt_pad_mode mode, int k, int64_t size, int64_t lo,
                            int64_t hi, int operand)
{
    int64_t n = size + lo + hi;
    if (n < 0)
        return rt_fail(RT_ESHAPE, operand, "%s: pads (%lld,%lld) on dimension -%d of size %lld "
                       "leave size %lld", op, (long long)lo, (long long)hi, k, (long long)size,
                       (long long)n);
    if (mode == RT_PAD_REFLECT && ((lo > 0 && lo >= size) || (hi > 0 && hi >= size)))
        return rt_fail(RT_EARG, operand, "%s: reflect padding (%lld,%lld) on dimension -%d of "
                       "size %lld: each pad must be smaller than the size", op, (long long)lo,
                       (long long)hi, k, (long long)size);
    if (mode == RT_PAD_REPLICATE && size == 0 && n > 0)
        return rt_fail(RT_EARG, operand, "%s: replicate padding (%lld,%lld) on dimension -%d "
                       "of size 0: there is no edge to repeat", op, (long long)lo,
                       (long long)hi, k);
    return RT_OK;
}

static rt_status pad_geometry(const char *op, int ndim, const int64_t *shape, int npairs,
                              const int64_t *pads, rt_pad_mode mode, int operand, pad_geom *g)
{
    char s[128];
    if (mode != RT_PAD_CONSTANT && mode != RT_PAD_REFLECT && mode != RT_PAD_REPLICATE)
        return rt_fail(RT_EARG, 3, "%s: unknown mode %d (expected constant, reflect or "
                       "replicate)", op, (int)mode);
    if (npairs < 0 || npairs > ndim)
        return rt_fail(RT_EARG, 2, "%s: %d pairs of pads for a %d-d input %s (at most one pair "
                       "per dimension)", op, npairs, ndim, rt_shape_str(ndim, shape, s, sizeof s));
    if (npairs > 0 && !pads) return rt_fail(RT_EARG, 2, "%s: the pads are missing", op);
    memset(g, 0, sizeof *g);
    g->ndim = ndim;
    g->lead = ndim - npairs;
    for (int d = 0; d < ndim; d++) g->ishape[d] = g->oshape[d] = shape[d];
    for (int k = 0; k < npairs; k++) {
        int d = ndim - 1 - k;
        int64_t lo = pads[2 * k], hi = pads[2 * k + 1];
        rt_status st = check_pair(op, mode, k + 1, shape[d], lo, hi, operand);
        if (st != RT_OK) return st;
        g->before[d] = lo;
        g->oshape[d] = shape[d] + lo + hi;
    }
    return RT_OK;
}

/* Fills the index tables of the padded dims into one buffer (freed by the caller). */
static rt_status pad_maps(pad_geom *g, rt_pad_mode mode, int64_t **buf)
{
    int64_t total = 0;
    for (int d = g->lead; d < g->ndim; d++) total += g->oshape[d];
    int64_t *b = rti_malloc((size_t)total * sizeof *b);
    if (!b) return rt_fail(RT_ENOMEM, -1, "pad: out of memory for index tables");
    int64_t *m = b;
    for (int d = g->lead; d < g->ndim; d++) {
        int64_t n = g->ishape[d];
        for (int64_t o = 0; o < g->oshape[d]; o++) {
            int64_t i = o - g->before[d];
            if (i < 0 || i >= n) {
                if (mode == RT_PAD_CONSTANT) i = -1;
                else if (mode == RT_PAD_REFLECT) i = i < 0 ? -i : 2 * (n - 1) - i;
                else i = i < 0 ? 0 : n - 1;
            }
            m[o] = i;
        }
        g->map[d] = m;
        m += g->oshape[d];
    }
    *buf = b;
    return RT_OK;
}

/* The output range [*a, *b) of the last dim that reads the input in order. */
static void middle(const pad_geom *g, int64_t *a, int64_t *b)
{
    int d = g->ndim - 1;
    int64_t w = g->oshape[d], lo = g->before[d];
    int64_t s = lo < 0 ? 0 : lo > w ? w : lo, e = lo + g->ishape[d];
    *a = s;
    *b = e < s ? s : e > w ? w : e;
}

/* ---- forward: pure data movement, so one kernel serves every dtype by element size --------
** Fixed-size memcpy compiles to plain loads and stores and avoids type punning. */
typedef struct {
    const pad_geom *g;
    size_t es;
    const char *x;
    const int64_t *xs;          /* x strides in elements */
    char *out;
    unsigned char val[8];       /* the constant in x's dtype */
} padf_job;

static void put_val(char *o, const unsigned char *val, int64_t n, size_t es)
{
    if (es == 4) for (int64_t k = 0; k < n; k++) memcpy(o + 4 * k, val, 4);
    else for (int64_t k = 0; k < n; k++) memcpy(o + 8 * k, val, 8);
}

/* o[k] = src[k * ss] for k < n (ss in elements). */
static void copy_run(char *o, const char *src, int64_t n, int64_t ss, size_t es)
{
    if (ss == 1) memcpy(o, src, (size_t)n * es);
    else if (es == 4) for (int64_t k = 0; k < n; k++) memcpy(o + 4 * k, src + 4 * k * ss, 4);
    else for (int64_t k = 0; k < n; k++) memcpy(o + 8 * k, src + 8 * k * ss, 8);
}

/* Output positions [a, b) of a row through the last dim's table. */
static void gather_run(const padf_job *j, char *o, const char *src, int64_t ss, int64_t a,
                       int64_t b)
{
    const int64_t *m = j->g->map[j->g->ndim - 1];
    for (int64_t k = a; k < b; k++) {
        if (m[k] < 0) memcpy(o + k * j->es, j->val, j->es);
        else memcpy(o + k * j->es, src + m[k] * ss * (int64_t)j->es, j->es);
    }
}

/* One output row.  src: the input row, or NULL when the row lies in constant padding. */
static void pad_row(const padf_job *j, char *o, const char *src)
{
    int d = j->g->ndim - 1;
    int64_t w = j->g->oshape[d], ss = j->xs[d], a, b;
    if (!src) {
        put_val(o, j->val, w, j->es);
        return;
    }
    middle(j->g, &a, &b);
    gather_run(j, o, src, ss, 0, a);
    copy_run(o + a * j->es, src + (a - j->g->before[d]) * ss * (int64_t)j->es, b - a, ss, j->es);
    gather_run(j, o, src, ss, b, w);
}

/* out rows [b, e): the row index runs over output dims 0..ndim-2 in row-major order. */
static rt_status padf_chunk(void *ctx, int64_t chunk, int64_t b, int64_t e)
{
    (void)chunk;
    const padf_job *j = ctx;
    const pad_geom *g = j->g;
    int nd = g->ndim - 1;
    int64_t idx[RT_MAXDIM], w = g->oshape[nd], rem = b;
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = rem % g->oshape[d];
        rem /= g->oshape[d];
    }
    for (int64_t r = b; r < e; r++) {
        int64_t off = 0;
        int inside = 1;
        for (int d = 0; d < nd && inside; d++) {
            int64_t i = d < g->lead ? idx[d] : g->map[d][idx[d]];
            inside = i >= 0;
            off += i * j->xs[d];
        }
        pad_row(j, j->out + r * w * (int64_t)j->es, inside ? j->x + off * (int64_t)j->es : NULL);
        for (int d = nd - 1; d >= 0 && ++idx[d] == g->oshape[d]; d--) idx[d] = 0;
    }
    return RT_OK;
}

static void constant_bytes(rt_dtype dt, double v, unsigned char *val)
{
    if (dt == RT_F32) {
        float f = (float)v;
        memcpy(val, &f, 4);
    } else if (dt == RT_F64) {
        memcpy(val, &v, 8);
    } else {
        int64_t i = (int64_t)v;
        memcpy(val, &i, 8);
    }
}

rt_status rt_pad(const rt_tensor *x, int npairs, const int64_t *pads, rt_pad_mode mode,
                 double value, rt_tensor **out)
{
    pad_geom g;
    rt_tensor *y;
    int64_t *buf = NULL;
    rt_status st = pad_geometry("pad", x->ndim, x->shape, npairs, pads, mode, 0, &g);
    if (st != RT_OK) return st;
    /* Converting NaN or an out-of-range double to an integer is undefined behaviour. */
    if (x->dtype == RT_I64 && !(value >= -9.2e18 && value <= 9.2e18))
        return rt_fail(RT_EARG, 4, "pad: value %g cannot be stored in an i64 tensor", value);
    if (npairs == 0) return rt_clone(x, out);
    if ((st = rt_empty(x->dtype, x->ndim, g.oshape, &y)) != RT_OK) return st;
    int64_t n = rt_tensor_numel(y), w = g.oshape[g.ndim - 1];
    if (n > 0 && (st = pad_maps(&g, mode, &buf)) == RT_OK) {
        padf_job j = { .g = &g, .es = rt_dtype_size(x->dtype), .x = rt_tensor_data(x),
                       .xs = x->strides, .out = rt_tensor_data(y) };
        constant_bytes(x->dtype, value, j.val);
        int64_t grain = PAD_WORK / w;
        st = rt_parallel_for(n / w, grain < 1 ? 1 : grain, padf_chunk, &j);
        rti_free(buf);
    }
    if (st != RT_OK) {
        rt_tensor_release(y);
        return st;
    }
    *out = y;
    return RT_OK;
}

/* ---- backward ------------------------------------------------------------------------------
** Reflect and replicate send several outputs to one input, so the gradient is a scatter-add.
** Work is split over the leading (unpadded) dims only: every slice of gx belongs to one
** thread, and inside a slice the order of additions is fixed. */
typedef struct {
    const pad_geom *g;
    rt_dtype dt;
    const char *gout;
    const int64_t *gs;          /* gout strides in elements */
    char *gx;
    int64_t xs[RT_MAXDIM];      /* contiguous gx strides */
} padb_job;

/* gout row: (W_out) with stride gsw   gx row: (W_in) contiguous */
static void scatter_f32(const pad_geom *g, float *gx, const float *go, int64_t gsw)
{
    int d = g->ndim - 1;
    const int64_t *m = g->map[d];
    int64_t w = g->oshape[d], lo = g->before[d], a, b;
    middle(g, &a, &b);
    for (int64_t o = 0; o < a; o++) gx[m[o]] += go[o * gsw];
    for (int64_t o = a; o < b; o++) gx[o - lo] += go[o * gsw];
    for (int64_t o = b; o < w; o++) gx[m[o]] += go[o * gsw];
}

static void scatter_f64(const pad_geom *g, double *gx, const double *go, int64_t gsw)
{
    int d = g->ndim - 1;
    const int64_t *m = g->map[d];
    int64_t w = g->oshape[d], lo = g->before[d], a, b;
    middle(g, &a, &b);
    for (int64_t o = 0; o < a; o++) gx[m[o]] += go[o * gsw];
    for (int64_t o = a; o < b; o++) gx[o - lo] += go[o * gsw];
    for (int64_t o = b; o < w; o++) gx[m[o]] += go[o * gsw];
}

/* Slices [b, e) of the leading dims; inside a slice, every row of the padded dims. */
static rt_status padb_chunk(void *ctx, int64_t chunk, int64_t b, int64_t e)
{
    (void)chunk;
    const padb_job *j = ctx;
    const pad_geom *g = j->g;
    int nd = g->ndim - 1, lead = g->lead;
    int64_t idx[RT_MAXDIM];
    for (int64_t s = b; s < e; s++) {
        int64_t go = 0, rem = s;
        for (int d = lead - 1; d >= 0; d--) {
            go += (rem % g->oshape[d]) * j->gs[d];
            rem /= g->oshape[d];
        }
        int64_t xo = lead > 0 ? s * j->xs[lead - 1] : 0;   /* gx is contiguous */
        for (int d = lead; d < nd; d++) idx[d] = 0;
        for (;;) {
            int64_t gro = go, xro = xo;
            for (int d = lead; d < nd; d++) {
                gro += idx[d] * j->gs[d];
                xro += g->map[d][idx[d]] * j->xs[d];
            }
            if (j->dt == RT_F32)
                scatter_f32(g, (float *)j->gx + xro, (const float *)j->gout + gro, j->gs[nd]);
            else
                scatter_f64(g, (double *)j->gx + xro, (const double *)j->gout + gro, j->gs[nd]);
            int d = nd - 1;
            while (d >= lead && ++idx[d] == g->oshape[d]) idx[d--] = 0;
            if (d < lead) break;
        }
    }
    return RT_OK;
}

static rt_status pad_backward_check(const rt_tensor *gout, int npairs, const int64_t *pads,
                                    rt_pad_mode mode, const int64_t *x_shape, pad_geom *g)
{
    const char *op = "pad_backward";
    char s1[128], s2[128], s3[128];
    if (!rt_dtype_is_float(gout->dtype))
        return rt_fail(RT_EDTYPE, 0, "%s: gout has dtype %s, expected f32 or f64", op,
                       rt_dtype_name(gout->dtype));
    if (!x_shape) return rt_fail(RT_EARG, -1, "%s: the input shape is missing", op);
    for (int d = 0; d < gout->ndim; d++)
        if (x_shape[d] < 0)
            return rt_fail(RT_ESHAPE, -1, "%s: input shape %s has a negative size", op,
                           rt_shape_str(gout->ndim, x_shape, s1, sizeof s1));
    rt_status st = pad_geometry(op, gout->ndim, x_shape, npairs, pads, mode, -1, g);
    if (st != RT_OK) return st;
    for (int d = 0; d < gout->ndim; d++)
        if (g->oshape[d] != gout->shape[d])
            return rt_fail(RT_ESHAPE, 0, "%s: gout %s does not match the padded shape %s of "
                           "input %s", op, rt_shape_str(gout->ndim, gout->shape, s1, sizeof s1),
                           rt_shape_str(gout->ndim, g->oshape, s2, sizeof s2),
                           rt_shape_str(gout->ndim, x_shape, s3, sizeof s3));
    return RT_OK;
}

rt_status rt_pad_backward(const rt_tensor *gout, int npairs, const int64_t *pads,
                          rt_pad_mode mode, const int64_t *x_shape, rt_tensor **gx)
{
    pad_geom g;
    rt_tensor *r;
    int64_t *buf = NULL, neg[2 * RT_MAXDIM];
    rt_status st = pad_backward_check(gout, npairs, pads, mode, x_shape, &g);
    if (st != RT_OK) return st;
    /* Constant padding has one output per input element: the gradient is gout cropped back
    ** (and zero where the forward cropped), i.e. gout padded with the opposite pads. */
    if (mode == RT_PAD_CONSTANT || npairs == 0) {
        for (int k = 0; k < 2 * npairs; k++) neg[k] = -pads[k];
        return rt_pad(gout, npairs, neg, RT_PAD_CONSTANT, 0.0, gx);
    }
    if ((st = rt_zeros(gout->dtype, gout->ndim, x_shape, &r)) != RT_OK) return st;
    int64_t nout = rti_numel(gout->ndim, gout->shape);
    if (nout > 0 && (st = pad_maps(&g, mode, &buf)) == RT_OK) {
        padb_job j = { .g = &g, .dt = gout->dtype, .gout = rt_tensor_data(gout),
                       .gs = gout->strides, .gx = rt_tensor_data(r) };
        rti_contig_strides(g.ndim, g.ishape, j.xs);
        int64_t slices = rti_numel(g.lead, g.oshape), grain = PAD_WORK / (nout / slices);
        st = rt_parallel_for(slices, grain < 1 ? 1 : grain, padb_chunk, &j);
        rti_free(buf);
    }
    if (st != RT_OK) {
        rt_tensor_release(r);
        return st;
    }
    *gx = r;
    return RT_OK;
}
