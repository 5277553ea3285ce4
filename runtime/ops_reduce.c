/* ops_reduce.c — reductions: sum, mean, prod, amax/amin, var/std, norm, logsumexp, max/min
** with indices, argmax/argmin, and sum_to.  Three drivers share the kernels of reduce_kernels.c:
** whole tensor (flat chunks whose partials are combined in chunk order), lanes (one output per
** reduced run) and rows (outer-dim reductions that combine whole rows, along memory).
** softmax/cumsum live in ops_softmax.c, sort/topk in ops_sort.c. */
#include <math.h>
#include <string.h>
#include "reduce_internal.h"
#include "rt_reduce.h"

typedef enum {
    OP_SUM, OP_MEAN, OP_PROD, OP_AMAX, OP_AMIN, OP_VAR, OP_STD, OP_NORM, OP_LSE,
    OP_ARGMAX, OP_ARGMIN, OP_MAX, OP_MIN
} red_op;

/* One reduction in flight.  Outputs are contiguous, indexed by the lane number. */
typedef struct {
    red_op op;
    const char *name;
    double p;               /* norm order; the pass-1 parameter of RK_POW */
    int ddof;               /* var/std: 1 when unbiased */
    rti_rkind k1, k2;       /* k2 runs only for two-pass ops */
    int two_pass;
    rt_dtype xdt, vdt;      /* input dtype; values output dtype */
    int64_t n;              /* elements combined into each output */
    char *vdata;            /* values output or NULL */
    int64_t *idata;         /* positions output or NULL */
    rti_rgeom g;            /* lane and row drivers */
    int64_t m, tw, ntiles;  /* row driver: row length, tile width, tiles per row */
    rti_iter it;            /* flat driver */
    rti_rstate *part;       /* flat driver: one partial per chunk */
    int pass;
    double param;           /* flat driver: the pass-2 parameter */
} red;

static void red_setup(red *r, red_op op, const char *name, const rt_tensor *x)
{
    memset(r, 0, sizeof *r);
    r->op = op;
    r->name = name;
    r->xdt = r->vdt = x->dtype;
    r->k2 = RK_SUM;   /* unused by one-pass ops, but always a valid kind */
    switch (op) {
    case OP_SUM: case OP_MEAN: r->k1 = RK_SUM; break;
    case OP_PROD: r->k1 = RK_PROD; break;
    case OP_AMAX: r->k1 = RK_MAX; break;
    case OP_AMIN: r->k1 = RK_MIN; break;
    case OP_VAR: case OP_STD: r->k1 = RK_SUM, r->k2 = RK_SQDEV, r->two_pass = 1; break;
    case OP_LSE: r->k1 = RK_MAX, r->k2 = RK_EXP, r->two_pass = 1; break;
    case OP_ARGMAX: case OP_MAX: r->k1 = RK_ARGMAX; break;
    case OP_ARGMIN: case OP_MIN: r->k1 = RK_ARGMIN; break;
    case OP_NORM: r->k1 = RK_POW; break;   /* rt_norm picks a cheaper kind for p = 1, 2, inf */
    }
}

/* The parameter of pass 2 for output state s1; 0 when pass 2 is not needed (a non-finite
** maximum decides logsumexp alone; var with n - ddof <= 0 is nan whatever the data). */
static int pass2_param(const red *r, const rti_rstate *s1, double *param)
{
    *param = 0;
    if (!r->two_pass) return 0;
    if (r->op == OP_LSE) {
        *param = s1->v;
        return isfinite(s1->v);
    }
    if (r->n - r->ddof <= 0) return 0;
    *param = s1->v / (double)r->n;
    return 1;
}

static void finish(const red *r, rti_rstate *s1, const rti_rstate *s2)
{
    switch (r->op) {
    case OP_MEAN:
        s1->v /= (double)r->n;   /* empty: 0/0 = nan, as PyTorch */
        break;
    case OP_VAR:
    case OP_STD: {
        double v = r->n - r->ddof > 0 ? s2->v / (double)(r->n - r->ddof) : NAN;
        s1->v = r->op == OP_STD ? sqrt(v) : v;
        break;
    }
    case OP_NORM:
        if (r->p == 2) s1->v = sqrt(s1->v);
        else if (r->p != 1 && !isinf(r->p)) s1->v = pow(s1->v, 1 / r->p);
        break;
    case OP_LSE:
        if (isfinite(s1->v)) s1->v += log(s2->v);
        break;
    default:
        break;
    }
}

static void store(const red *r, int64_t o, const rti_rstate *s)
{
    if (r->vdata) {
        switch (r->vdt) {
        case RT_F32: ((float *)r->vdata)[o] = (float)s->v; break;
        case RT_F64: ((double *)r->vdata)[o] = s->v; break;
        case RT_I64: ((int64_t *)r->vdata)[o] = s->iv; break;
        }
    }
    if (r->idata) r->idata[o] = s->i;
}

/* ---- lane driver: one output per run of n elements at stride dstride ------------------- */
static rt_status lane_chunk(void *c, int64_t chunk, int64_t b, int64_t e)
{
    const red *r = c;
    (void)chunk;
    int64_t st = r->g.dstride[0];
    for (int64_t o = b; o < e; o++) {
        const char *p = rti_rg_ptr(&r->g, 0, o);
        rti_rstate s1, s2;
        double param;
        rti_rk_init(r->k1, &s1);
        rti_rk_init(r->k2, &s2);
        rti_rk_feed(r->k1, r->p, &s1, p, r->xdt, r->n, st, 0);
        if (pass2_param(r, &s1, &param)) rti_rk_feed(r->k2, param, &s2, p, r->xdt, r->n, st, 0);
        finish(r, &s1, &s2);
        store(r, o, &s1);
    }
    return RT_OK;
}

/* ---- row driver: x viewed as (outer, n, m); a chunk item is one tile of tw columns of one
** outer index, whose states live on the worker's stack (no allocation in workers) ---------- */
/* x tile: (n, w) rows at stride dstride, columns at stride cs  out: lanes o0 .. o0+w-1 */
static rt_status row_chunk(void *c, int64_t chunk, int64_t b, int64_t e)
{
    const red *r = c;
    (void)chunk;
    rti_rrow r1, r2;
    double param[RG_TILE];
    int64_t rs = r->g.dstride[0] * r->g.esize[0], cs = rti_rg_colstride(&r->g, 0);
    for (int64_t item = b; item < e; item++) {
        int64_t c0 = (item % r->ntiles) * r->tw, o0 = (item / r->ntiles) * r->m + c0;
        int64_t w = r->m - c0 < r->tw ? r->m - c0 : r->tw;
        const char *p = rti_rg_ptr(&r->g, 0, o0);
        for (int64_t j = 0; j < w; j++) param[j] = r->p;
        rti_rk_row_init(r->k1, &r1, w);
        for (int64_t k = 0; k < r->n; k++)
            rti_rk_row_feed(r->k1, param, &r1, p + k * rs, r->xdt, w, cs, k);
        int need2 = 0;
        for (int64_t j = 0; j < w; j++) {
            rti_rstate s1 = { r1.v[j], r1.iv[j], r1.i[j] };
            need2 |= pass2_param(r, &s1, &param[j]);
        }
        rti_rk_row_init(r->k2, &r2, w);
        if (need2)
            for (int64_t k = 0; k < r->n; k++)
                rti_rk_row_feed(r->k2, param, &r2, p + k * rs, r->xdt, w, cs, k);
        for (int64_t j = 0; j < w; j++) {
            rti_rstate s1 = { r1.v[j], r1.iv[j], r1.i[j] }, s2 = { r2.v[j], r2.iv[j], r2.i[j] };
            finish(r, &s1, &s2);
            store(r, o0 + j, &s1);
        }
    }
    return RT_OK;
}

/* ---- flat driver: every element, chunks of RG_GRAIN in row-major order ------------------ */
typedef struct {
    rti_rkind k;
    double param;
    rti_rstate *s;
    int64_t pos;     /* row-major position of the next run: argmax's flat index */
    rt_dtype dt;
    int64_t es;
} flat_run_ctx;

static void flat_run(void *c, char **ptr, const int64_t *stride, int64_t n)
{
    flat_run_ctx *f = c;
    rti_rk_feed(f->k, f->param, f->s, ptr[0], f->dt, n, stride[0] / f->es, f->pos);
    f->pos += n;
}

static rt_status flat_chunk(void *c, int64_t chunk, int64_t b, int64_t e)
{
    const red *r = c;
    flat_run_ctx f = { r->pass ? r->k2 : r->k1, r->pass ? r->param : r->p, &r->part[chunk], b,
                       r->xdt, (int64_t)rt_dtype_size(r->xdt) };
    rti_rk_init(f.k, f.s);
    rti_iter_range(&r->it, b, e, flat_run, &f);
    return RT_OK;
}

static rt_status flat_pass(red *r, rti_rstate *out)
{
    rti_rkind k = r->pass ? r->k2 : r->k1;
    rt_status st = rt_parallel_for(r->it.numel, RG_GRAIN, flat_chunk, r);
    rti_rk_init(k, out);
    /* Chunk order, whatever thread ran each chunk: bitwise identical for any thread count. */
    for (int64_t c = 0; st == RT_OK && c < rt_num_chunks(r->it.numel, RG_GRAIN); c++)
        rti_rk_merge(k, out, &r->part[c]);
    return st;
}

/* v = x with its dims sorted by decreasing stride (a struct copy sharing storage), so that
** the walker's runs follow memory.  Only for ops that do not report positions. */
static void memory_order(const rt_tensor *x, rt_tensor *v)
{
    *v = *x;
    for (int i = 1; i < v->ndim; i++) {
        int64_t sh = v->shape[i], st = v->strides[i];
        int j = i;
        for (; j > 0 && v->strides[j - 1] < st; j--) {
            v->shape[j] = v->shape[j - 1];
            v->strides[j] = v->strides[j - 1];
        }
        v->shape[j] = sh;
        v->strides[j] = st;
    }
}

static rt_status reduce_flat(red *r, const rt_tensor *x)
{
    rt_tensor xv;
    int positions = r->k1 == RK_ARGMAX || r->k1 == RK_ARGMIN;
    if (!positions && !rt_tensor_is_contiguous(x)) {
        memory_order(x, &xv);
        x = &xv;
    }
    rt_tensor *xm = (rt_tensor *)x;   /* the walker only reads it */
    rti_iter_init(&r->it, 1, &xm);
    int64_t nch = rt_num_chunks(r->it.numel, RG_GRAIN);
    r->part = rti_malloc((size_t)(nch > 0 ? nch : 1) * sizeof *r->part);
    if (!r->part)
        return rt_fail(RT_ENOMEM, -1, "%s: out of memory for %lld partial results", r->name,
                       (long long)nch);
    rti_rstate s1, s2;
    rti_rk_init(r->k2, &s2);
    r->pass = 0;
    rt_status st = flat_pass(r, &s1);
    if (st == RT_OK && pass2_param(r, &s1, &r->param)) {
        r->pass = 1;
        st = flat_pass(r, &s2);
    }
    if (st == RT_OK) {
        finish(r, &s1, &s2);
        store(r, 0, &s1);
    }
    rti_free(r->part);
    r->part = NULL;
    return st;
}

/* Reduces dims [d0, d1] of x (they must coalesce into one strided run). */
static rt_status reduce_dims(red *r, const rt_tensor *x, int d0, int d1)
{
    const rt_tensor *ops[1] = { x };
    rti_rg_init(&r->g, 1, ops, d0, d1);
    if (r->g.nout == 0) return RT_OK;
    if (r->g.nout == 1) return reduce_flat(r, x);   /* one output: split its run over chunks */
    int64_t n = r->n > 1 ? r->n : 1;
    if (rti_rg_rowable(&r->g)) {
        r->m = rti_rg_rowlen(&r->g);
        r->tw = rti_rg_tile_width(r->g.nout / r->m, r->m);
        r->ntiles = (r->m + r->tw - 1) / r->tw;
        int64_t grain = RG_GRAIN / (n * r->tw);
        return rt_parallel_for(r->g.nout / r->m * r->ntiles, grain > 1 ? grain : 1, row_chunk, r);
    }
    int64_t grain = RG_GRAIN / n;
    return rt_parallel_for(r->g.nout, grain > 1 ? grain : 1, lane_chunk, r);
}

/* ---- argument checks and output allocation --------------------------------------------- */
/* A 0-d tensor takes dim 0 or -1, like PyTorch. */
static rt_status check_dim(const char *op, int *dim, const rt_tensor *x)
{
    if (x->ndim > 0) return rti_check_dim(op, dim, x->ndim);
    if (*dim != 0 && *dim != -1)
        return rt_fail(RT_EARG, 0, "%s: dimension %d out of range for a 0-d tensor", op, *dim);
    *dim = 0;
    return RT_OK;
}

static rt_status check_float(const char *op, const rt_tensor *x)
{
    if (rt_dtype_is_float(x->dtype)) return RT_OK;
    return rt_fail(RT_EDTYPE, 0, "%s: %s input is not supported; convert it to f32 or f64 first",
                   op, rt_dtype_name(x->dtype));
}

static int needs_nonempty(const red *r)
{
    return r->op == OP_AMAX || r->op == OP_AMIN || r->op == OP_ARGMAX || r->op == OP_ARGMIN ||
           r->op == OP_MAX || r->op == OP_MIN || (r->op == OP_NORM && isinf(r->p));
}

/* Runs r over x0 into new outputs: values (*vals, dtype r->vdt) and/or positions (*idx). */
static rt_status run_reduce(red *r, const rt_tensor *x0, int dim, int all_dims, int keepdim,
                            rt_tensor **vals, rt_tensor **idx)
{
    rt_tensor xv;
    const rt_tensor *x = x0;
    char s1[128];
    rt_status st = all_dims ? RT_OK : check_dim(r->name, &dim, x0);
    if (st != RT_OK) return st;
    if (x0->ndim == 0) {
        rti_rg_as_vector(x0, &xv);
        x = &xv;
    }
    int ond = 0;
    int64_t oshape[RT_MAXDIM];
    for (int d = 0; d < x0->ndim; d++) {
        if (all_dims || d == dim) {
            if (keepdim) oshape[ond++] = 1;
        } else {
            oshape[ond++] = x0->shape[d];
        }
    }
    r->n = all_dims ? rt_tensor_numel(x) : x->shape[dim];
    if (r->n == 0 && needs_nonempty(r)) {
        if (all_dims)
            return rt_fail(RT_ESHAPE, 0, "%s: cannot reduce an empty tensor of shape %s: the "
                           "operation has no identity", r->name,
                           rt_shape_str(x0->ndim, x0->shape, s1, sizeof s1));
        return rt_fail(RT_ESHAPE, 0, "%s: cannot reduce over dimension %d of size 0 (input %s): "
                       "the operation has no identity", r->name, dim,
                       rt_shape_str(x0->ndim, x0->shape, s1, sizeof s1));
    }
    rt_tensor *v = NULL, *ix = NULL;
    if (vals) st = rt_empty(r->vdt, ond, oshape, &v);
    if (st == RT_OK && idx) st = rt_empty(RT_I64, ond, oshape, &ix);
    if (st == RT_OK) {
        r->vdata = v ? rt_tensor_data(v) : NULL;
        r->idata = ix ? rt_tensor_data(ix) : NULL;
        st = all_dims ? reduce_flat(r, x) : reduce_dims(r, x, dim, dim);
    }
    if (st != RT_OK) {
        rt_tensor_release(v);
        rt_tensor_release(ix);
        return st;
    }
    if (vals) *vals = v;
    if (idx) *idx = ix;
    return RT_OK;
}

/* ---- public reductions ------------------------------------------------------------------ */
rt_status rt_reduce(rt_redop op, const rt_tensor *x, int dim, int all_dims, int keepdim,
                    rt_tensor **out)
{
    static const red_op ops[] = { OP_SUM, OP_MEAN, OP_PROD, OP_AMAX, OP_AMIN };
    static const char *const names[] = { "sum", "mean", "prod", "amax", "amin" };
    if ((unsigned)op > (unsigned)RT_AMIN)
        return rt_fail(RT_EARG, -1, "reduce: unknown reduction %d", (int)op);
    if (op == RT_MEAN && check_float("mean", x) != RT_OK) return RT_EDTYPE;
    red r;
    red_setup(&r, ops[op], names[op], x);
    return run_reduce(&r, x, dim, all_dims, keepdim, out, NULL);
}

static rt_status var_std(red_op op, const char *name, const rt_tensor *x, int dim, int all_dims,
                         int unbiased, int keepdim, rt_tensor **out)
{
    if (check_float(name, x) != RT_OK) return RT_EDTYPE;
    red r;
    red_setup(&r, op, name, x);
    r.ddof = unbiased ? 1 : 0;
    return run_reduce(&r, x, dim, all_dims, keepdim, out, NULL);
}

rt_status rt_var(const rt_tensor *x, int dim, int all_dims, int unbiased, int keepdim,
                 rt_tensor **out)
{
    return var_std(OP_VAR, "var", x, dim, all_dims, unbiased, keepdim, out);
}

rt_status rt_std(const rt_tensor *x, int dim, int all_dims, int unbiased, int keepdim,
                 rt_tensor **out)
{
    return var_std(OP_STD, "std", x, dim, all_dims, unbiased, keepdim, out);
}

rt_status rt_norm(const rt_tensor *x, double p, int dim, int all_dims, int keepdim,
                  rt_tensor **out)
{
    if (!(p > 0)) return rt_fail(RT_EARG, 1, "norm: p must be positive, got %g", p);
    if (check_float("norm", x) != RT_OK) return RT_EDTYPE;
    red r;
    red_setup(&r, OP_NORM, "norm", x);
    r.p = p;
    r.k1 = isinf(p) ? RK_MAXABS : p == 1 ? RK_ABS : p == 2 ? RK_SQ : RK_POW;
    return run_reduce(&r, x, dim, all_dims, keepdim, out, NULL);
}

rt_status rt_logsumexp(const rt_tensor *x, int dim, int all_dims, int keepdim, rt_tensor **out)
{
    if (check_float("logsumexp", x) != RT_OK) return RT_EDTYPE;
    red r;
    red_setup(&r, OP_LSE, "logsumexp", x);
    return run_reduce(&r, x, dim, all_dims, keepdim, out, NULL);
}

rt_status rt_max_dim(const rt_tensor *x, int dim, int keepdim, rt_tensor **values,
                     rt_tensor **indices)
{
    red r;
    red_setup(&r, OP_MAX, "max", x);
    return run_reduce(&r, x, dim, 0, keepdim, values, indices);
}

rt_status rt_min_dim(const rt_tensor *x, int dim, int keepdim, rt_tensor **values,
                     rt_tensor **indices)
{
    red r;
    red_setup(&r, OP_MIN, "min", x);
    return run_reduce(&r, x, dim, 0, keepdim, values, indices);
}

rt_status rt_argmax(const rt_tensor *x, int dim, int all_dims, int keepdim, rt_tensor **out)
{
    red r;
    red_setup(&r, OP_ARGMAX, "argmax", x);
    return run_reduce(&r, x, dim, all_dims, keepdim, NULL, out);
}

rt_status rt_argmin(const rt_tensor *x, int dim, int all_dims, int keepdim, rt_tensor **out)
{
    red r;
    red_setup(&r, OP_ARGMIN, "argmin", x);
    return run_reduce(&r, x, dim, all_dims, keepdim, NULL, out);
}

/* ---- sum_to ----------------------------------------------------------------------------- */
/* out = x summed over dims [d0, d1] (keepdim) into a new tensor of dtype vdt; x contiguous. */
static rt_status sum_range(const rt_tensor *x, int d0, int d1, rt_dtype vdt, rt_tensor **out)
{
    int64_t shape[RT_MAXDIM];
    red r;
    red_setup(&r, OP_SUM, "sum_to", x);
    r.vdt = vdt;
    r.n = 1;
    for (int d = 0; d < x->ndim; d++) {
        shape[d] = d >= d0 && d <= d1 ? 1 : x->shape[d];
        if (d >= d0 && d <= d1) r.n *= x->shape[d];
    }
    rt_tensor *o;
    rt_status st = rt_empty(vdt, x->ndim, shape, &o);
    if (st != RT_OK) return st;
    r.vdata = rt_tensor_data(o);
    st = reduce_dims(&r, x, d0, d1);
    if (st != RT_OK) {
        rt_tensor_release(o);
        return st;
    }
    *out = o;
    return RT_OK;
}

static rt_status sum_to_check(const rt_tensor *x, int ndim, const int64_t *shape, int *reduce)
{
    char s1[128], s2[128];
    if (ndim < 0 || ndim > RT_MAXDIM)
        return rt_fail(RT_EARG, 1, "sum_to: %d dimensions requested, expected 0..%d", ndim,
                       RT_MAXDIM);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0)
            return rt_fail(RT_EARG, 1, "sum_to: size %lld of dimension %d is negative",
                           (long long)shape[i], i);
    rt_shape_str(x->ndim, x->shape, s1, sizeof s1);
    rt_shape_str(ndim, shape, s2, sizeof s2);
    if (ndim > x->ndim)
        return rt_fail(RT_ESHAPE, 1, "sum_to: cannot sum %s to %s (more dimensions)", s1, s2);
    int lead = x->ndim - ndim;
    for (int d = 0; d < x->ndim; d++) {
        int64_t t = d < lead ? 1 : shape[d - lead];
        if (t != 1 && t != x->shape[d])
            return rt_fail(RT_ESHAPE, 1, "sum_to: cannot sum %s to %s: size %lld of target "
                           "dimension %d is neither %lld nor 1", s1, s2, (long long)t, d - lead,
                           (long long)x->shape[d]);
        reduce[d] = d < lead || t == 1;
    }
    return RT_OK;
}

rt_status rt_sum_to(const rt_tensor *x, int ndim, const int64_t *shape, rt_tensor **out)
{
    int reduce[RT_MAXDIM];
    rt_status st = sum_to_check(x, ndim, shape, reduce);
    if (st != RT_OK) return st;
    if (rt_tensor_numel(x) == 0) return rt_zeros(x->dtype, ndim, shape, out);
    rt_tensor *cur;
    /* Contiguous, the dims of every run of reduced dims coalesce (rare layouts copy once). */
    st = rt_contiguous(x, &cur);
    if (st != RT_OK) return st;
    int run0[RT_MAXDIM], run1[RT_MAXDIM], nrun = 0;
    for (int d = x->ndim - 1; d >= 0; d--) {
        if (!reduce[d]) continue;
        int e = d;
        int64_t size = 1;
        for (; d >= 0 && reduce[d]; d--) size *= x->shape[d];
        if (size > 1) run0[nrun] = d + 1, run1[nrun++] = e;
    }
    if (nrun == 0) {   /* nothing to sum: still a tensor of its own */
        rt_tensor *c;
        st = rt_clone(cur, &c);
        rt_tensor_release(cur);
        if (st != RT_OK) return st;
        cur = c;
    }
    /* f32 intermediates stay f64 so only the last step rounds. */
    rt_dtype acc = x->dtype == RT_F32 ? RT_F64 : x->dtype;
    for (int i = 0; i < nrun && st == RT_OK; i++) {
        rt_tensor *next;
        st = sum_range(cur, run0[i], run1[i], i == nrun - 1 ? x->dtype : acc, &next);
        if (st == RT_OK) {
            rt_tensor_release(cur);
            cur = next;
        }
    }
    if (st == RT_OK) st = rt_view_reshape(cur, ndim, shape, out);
    rt_tensor_release(cur);
    return st;
}
