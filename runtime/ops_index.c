/* ops_index.c — indexed reads and writes: index_select / index_add_, gather / scatter_add,
** embedding and its backward (one strided walk with a move or an accumulate kernel), then
** one_hot, masked_fill, masked_select and nonzero.  Not here: cat, stack, split and chunk
** (ops_join.c), autograd wiring (the engine). */
#include <stdio.h>
#include <string.h>
#include "internal.h"
#include "rt_index.h"

/* ---- argument checks ---------------------------------------------------------------- */
/* rti_check_dim always blames operand 0; the dim is a different operand here.  Dims are
** printed 1-based like every other message that users read. */
static rt_status check_dim(const char *op, int *dim, int ndim, int operand)
{
    int d = *dim < 0 ? *dim + ndim : *dim;
    if (d < 0 || d >= ndim)
        return rt_fail(RT_EARG, operand, "%s: dimension %d out of range for a %d-d tensor", op,
                       *dim >= 0 ? *dim + 1 : *dim, ndim);
    *dim = d;
    return RT_OK;
}

/* Writing through a stride-0 dimension would add into one element from several threads. */
/* The index as a contiguous i64 tensor (new reference).  It is copied when it shares storage
** with the tensor being written, so the walk never reads an index it has just changed. */
static rt_status prep_index(const char *op, const rt_tensor *index, int operand,
                            const rt_tensor *written, rt_tensor **out)
{
    if (index->dtype != RT_I64)
        return rt_fail(RT_EDTYPE, operand, "%s: index must be i64, got %s", op,
                       rt_dtype_name(index->dtype));
    if (written && written->storage == index->storage) return rt_clone(index, out);
    return rt_contiguous(index, out);
}

/* src as read by an in-place write into x: copied if it shares x's storage. */
static rt_status prep_src(const rt_tensor *x, const rt_tensor *src, rt_tensor **out)
{
    if (src->storage == x->storage) return rt_clone(src, out);
    return rt_view_alias(src, out);
}

typedef struct {
    const int64_t *ix;
    int64_t size;
    const char *op, *what;
    int operand;
} range_ctx;

/* A branch-free scan (it vectorises) finds whether a chunk is bad; only then is the first bad
** value located, so the message is the first bad index in row-major order. */
static rt_status range_chunk(void *c, int64_t chunk, int64_t b, int64_t e)
{
    const range_ctx *r = c;
    uint64_t size = (uint64_t)r->size;
    int bad = 0;
    (void)chunk;
    for (int64_t i = b; i < e; i++) bad |= (uint64_t)r->ix[i] >= size;
    if (!bad) return RT_OK;
    int64_t i = b;
    while ((uint64_t)r->ix[i] < size) i++;
    if (r->size == 0)
        return rt_fail(RT_EINDEX, r->operand, "%s: index %lld out of range (none is valid) %s",
                       r->op, (long long)r->ix[i], r->what);
    return rt_fail(RT_EINDEX, r->operand, "%s: index %lld out of range [0, %lld] %s", r->op,
                   (long long)r->ix[i], (long long)(r->size - 1), r->what);
}

/* ix: contiguous i64.  `what` ends the message: "in dimension 2", "for 5 classes". */
static rt_status check_range(const char *op, int operand, const rt_tensor *ix, int64_t size,
                             const char *what)
{
    range_ctx r = { rt_tensor_data(ix), size, op, what, operand };
    return rt_parallel_for(rt_tensor_numel(ix), RTI_GRAIN, range_chunk, &r);
}

/* ---- the indexed walk ----------------------------------------------------------------
** Each op is an elementwise walk over an iteration shape S with three operands: 0 the tensor
** written, 1 the index, 2 the tensor read.  The operand addressed through the index has
** stride 0 along dim, and the kernel adds index * sdim to it.  index_select and index_add_
** spread their 1-D index over S (stride 1 along dim, 0 elsewhere); gather and scatter use
** the index as it is. */
typedef struct {
    int64_t sdim;   /* stride along dim of the indexed operand, in elements */
    int64_t es;     /* element size in bytes */
} walk_ctx;

/* A stack header with t's storage and dtype but another geometry.  It only feeds
** rti_iter_init: it holds no reference and is never released. */
static rt_tensor shadow(const rt_tensor *t, int ndim, const int64_t *shape,
                        const int64_t *strides)
{
    rt_tensor v = *t;
    v.ndim = ndim;
    memcpy(v.shape, shape, (size_t)ndim * sizeof *shape);
    memcpy(v.strides, strides, (size_t)ndim * sizeof *strides);
    return v;
}

/* t walked over S (S[d] <= t->shape[d]) with stride 0 along dim. */
static rt_tensor indexed_shadow(const rt_tensor *t, int ndim, const int64_t *S, int dim)
{
    int64_t st[RT_MAXDIM];
    memcpy(st, t->strides, sizeof st);
    st[dim] = 0;
    return shadow(t, ndim, S, st);
}

/* A contiguous 1-D index spread over S: it varies along dim only. */
static rt_tensor spread_index(const rt_tensor *ix, int ndim, const int64_t *S, int dim)
{
    int64_t st[RT_MAXDIM] = {0};
    st[dim] = 1;
    return shadow(ix, ndim, S, st);
}

typedef struct {
    const rti_iter *it;
    rti_inner_fn fn;
    void *ctx;
    int64_t len, inner;
    const int64_t *rows;   /* the 1-D index of index_add_ / embedding_backward, or NULL */
} slab_ctx;

/* Whole outer slices: slices with different outer coordinates never share a destination. */
static rt_status rows_chunk(void *c, int64_t chunk, int64_t b, int64_t e)
{
    const slab_ctx *s = c;
    (void)chunk;
    rti_iter_range(s->it, b * s->len * s->inner, e * s->len * s->inner, s->fn, s->ctx);
    return RT_OK;
}

/* One outer slice and a 1-D index: the chunk owns destination rows [b, e) and adds, in index
** order, the source slabs whose index falls there.  Every chunk scans the whole index, which
** is small next to the slabs.  (Splitting the slabs into column blocks instead measured 2-3x
** slower: short strided segments defeat the prefetcher.) */
static rt_status dest_chunk(void *c, int64_t chunk, int64_t b, int64_t e)
{
    const slab_ctx *s = c;
    (void)chunk;
    for (int64_t l = 0; l < s->len; l++)
        if (s->rows[l] >= b && s->rows[l] < e)
            rti_iter_range(s->it, l * s->inner, (l + 1) * s->inner, s->fn, s->ctx);
    return RT_OK;
}

/* ops: (written, index, read), each of shape S with dim as in S.  With `race`, elements that
** differ only along dim may hit one destination, so a chunk is made of whole outer slices, or,
** with one outer slice and a 1-D index (`rows`, destination size `dsize`), of destination
** rows; otherwise the walk is serial.  Either way each destination is summed by one chunk in
** index order: bitwise the same result for any thread count. */
static rt_status walk(rt_tensor *const *ops, int dim, int race, const int64_t *rows,
                      int64_t dsize, rti_inner_fn fn, void *ctx)
{
    const rt_tensor *t = ops[0];
    if (rt_tensor_numel(t) == 0) return RT_OK;
    rti_iter it;
    rti_iter_init(&it, 3, ops);
    int64_t outer = 1, inner = 1, len = t->shape[dim];
    for (int d = 0; d < dim; d++) outer *= t->shape[d];
    for (int d = dim + 1; d < t->ndim; d++) inner *= t->shape[d];
    if (!race || len == 1) return rti_iter_parallel(&it, RTI_GRAIN, fn, ctx);
    slab_ctx s = { &it, fn, ctx, len, inner, rows };
    if (outer == 1 && rows && inner >= 64) {
        /* At most 16 chunks bounds the repeated index scans. */
        int64_t g = (dsize + 15) / 16, gmin = (RTI_GRAIN + inner - 1) / inner;
        return rt_parallel_for(dsize, g > gmin ? g : gmin, dest_chunk, &s);
    }
    int64_t g = RTI_GRAIN / (len * inner);
    return rt_parallel_for(outer, g < 1 ? 1 : g, rows_chunk, &s);
}

/* ---- kernels: p[0] written, p[1] index, p[2] read; strides in bytes ------------------- */
/* out[i] = read[i + ix[i] * sdim].  A pure move, so f64 and i64 share the 8-byte path.  A
** run with one index (index_select, embedding) over contiguous rows is one memcpy. */
static void take_run(void *c, char **p, const int64_t *s, int64_t n)
{
    const walk_ctx *w = c;
    const int64_t *ix = (const int64_t *)p[1];
    int64_t si = s[1] / 8, sd = w->sdim * w->es;
    if (si == 0 && s[0] == w->es && s[2] == w->es) {
        memcpy(p[0], p[2] + ix[0] * sd, (size_t)(n * w->es));
    } else if (w->es == 8) {
        for (int64_t i = 0; i < n; i++)
            memcpy(p[0] + i * s[0], p[2] + i * s[2] + ix[i * si] * sd, 8);
    } else {
        for (int64_t i = 0; i < n; i++)
            memcpy(p[0] + i * s[0], p[2] + i * s[2] + ix[i * si] * sd, 4);
    }
}

/* dst[i + ix[i] * sdim] += src[i].  With one index for the run (index_add_, embedding
** backward) the destination is a plain strided row and the loop vectorises. */
static void add_run_f32(void *c, char **p, const int64_t *s, int64_t n)
{
    const walk_ctx *w = c;
    float *d = (float *)p[0];
    const int64_t *ix = (const int64_t *)p[1];
    const float *x = (const float *)p[2];
    int64_t sd = s[0] / 4, si = s[1] / 8, sx = s[2] / 4;
    if (si == 0) {
        float *row = d + ix[0] * w->sdim;
        for (int64_t i = 0; i < n; i++) row[i * sd] += x[i * sx];
    } else {
        for (int64_t i = 0; i < n; i++) d[i * sd + ix[i * si] * w->sdim] += x[i * sx];
    }
}

static void add_run_f64(void *c, char **p, const int64_t *s, int64_t n)
{
    const walk_ctx *w = c;
    double *d = (double *)p[0];
    const int64_t *ix = (const int64_t *)p[1];
    const double *x = (const double *)p[2];
    int64_t sd = s[0] / 8, si = s[1] / 8, sx = s[2] / 8;
    if (si == 0) {
        double *row = d + ix[0] * w->sdim;
        for (int64_t i = 0; i < n; i++) row[i * sd] += x[i * sx];
    } else {
        for (int64_t i = 0; i < n; i++) d[i * sd + ix[i * si] * w->sdim] += x[i * sx];
    }
}

/* Integer sums wrap (two's complement) rather than trap: unsigned arithmetic keeps UBSan
** quiet and gives the same bits as torch. */
static void add_run_i64(void *c, char **p, const int64_t *s, int64_t n)
{
    const walk_ctx *w = c;
    int64_t *d = (int64_t *)p[0];
    const int64_t *ix = (const int64_t *)p[1];
    const int64_t *x = (const int64_t *)p[2];
    int64_t sd = s[0] / 8, si = s[1] / 8, sx = s[2] / 8;
    for (int64_t i = 0; i < n; i++) {
        int64_t *o = d + i * sd + ix[i * si] * w->sdim;
        *o = (int64_t)((uint64_t)*o + (uint64_t)x[i * sx]);
    }
}

static rti_inner_fn add_kernel(rt_dtype dt)
{
    switch (dt) {
    case RT_F32: return add_run_f32;
    case RT_F64: return add_run_f64;
    case RT_I64: return add_run_i64;
    }
    return add_run_f64;
}

static rt_status run_take(rt_tensor out, rt_tensor idx, rt_tensor src, int dim, int64_t sdim)
{
    rt_tensor *ops[3] = { &out, &idx, &src };
    walk_ctx w = { sdim, (int64_t)rt_dtype_size(out.dtype) };
    return walk(ops, dim, 0, NULL, 0, take_run, &w);
}

/* rows/dsize: see walk (NULL for scatter_add's full index). */
static rt_status run_add(rt_tensor dst, rt_tensor idx, rt_tensor *src, int dim, int64_t sdim,
                         const int64_t *rows, int64_t dsize)
{
    rt_tensor *ops[3] = { &dst, &idx, src };
    walk_ctx w = { sdim, (int64_t)rt_dtype_size(dst.dtype) };
    return walk(ops, dim, 1, rows, dsize, add_kernel(dst.dtype), &w);
}

/* ---- index_select / index_add_ ------------------------------------------------------- */
/* Shared checks; on success *ix is the contiguous index, S is x.shape with S[dim] = K. */
static rt_status along_setup(const char *op, const rt_tensor *x, int *dim,
                             const rt_tensor *index, const rt_tensor *written, rt_tensor **ix,
                             int64_t *S)
{
    char s1[128], what[48];
    rt_status st = check_dim(op, dim, x->ndim, 1);
    if (st != RT_OK) return st;
    if (index->ndim > 1)
        return rt_fail(RT_ESHAPE, 2, "%s: index must be 1-D, got shape %s", op,
                       rt_shape_str(index->ndim, index->shape, s1, sizeof s1));
    st = prep_index(op, index, 2, written, ix);
    if (st != RT_OK) return st;
    snprintf(what, sizeof what, "in dimension %d", *dim + 1);
    st = check_range(op, 2, *ix, x->shape[*dim], what);
    if (st != RT_OK) {
        rt_tensor_release(*ix);
        return st;
    }
    memcpy(S, x->shape, sizeof x->shape);
    S[*dim] = rt_tensor_numel(*ix);
    return RT_OK;
}

/* x: (..., N, ...)  index: (K,)  out: (..., K, ...) */
rt_status rt_index_select(const rt_tensor *x, int dim, const rt_tensor *index, rt_tensor **out)
{
    int64_t S[RT_MAXDIM];
    rt_tensor *ix, *o;
    rt_status st = along_setup("index_select", x, &dim, index, NULL, &ix, S);
    if (st != RT_OK) return st;
    st = rt_empty(x->dtype, x->ndim, S, &o);
    if (st == RT_OK) {
        st = run_take(*o, spread_index(ix, x->ndim, S, dim), indexed_shadow(x, x->ndim, S, dim),
                      dim, x->strides[dim]);
        if (st != RT_OK) rt_tensor_release(o);
        else *out = o;
    }
    rt_tensor_release(ix);
    return st;
}

/* x: (..., N, ...)  index: (K,)  src: (..., K, ...) */
rt_status rt_index_add_(rt_tensor *x, int dim, const rt_tensor *index, const rt_tensor *src)
{
    const char *op = "index_add_";
    char s1[128], s2[128];
    int64_t S[RT_MAXDIM];
    rt_tensor *ix, *sv;
    rt_status st = rti_check_writable(op, x, 0);
    if (st != RT_OK) return st;
    if (src->dtype != x->dtype)
        return rt_fail(RT_EDTYPE, 3, "%s: src is %s but x is %s", op, rt_dtype_name(src->dtype),
                       rt_dtype_name(x->dtype));
    st = along_setup(op, x, &dim, index, x, &ix, S);
    if (st != RT_OK) return st;
    if (src->ndim != x->ndim || memcmp(src->shape, S, (size_t)x->ndim * sizeof *S) != 0) {
        rt_fail(RT_ESHAPE, 3, "%s: src has shape %s, expected %s (x's shape with dimension "
                "%d the index length)", op, rt_shape_str(src->ndim, src->shape, s1, sizeof s1),
                rt_shape_str(x->ndim, S, s2, sizeof s2), dim + 1);
        rt_tensor_release(ix);
        return RT_ESHAPE;
    }
    st = prep_src(x, src, &sv);
    if (st == RT_OK) {
        st = run_add(indexed_shadow(x, x->ndim, S, dim), spread_index(ix, x->ndim, S, dim), sv,
                     dim, x->strides[dim], rt_tensor_data(ix), x->shape[dim]);
        rt_tensor_release(sv);
    }
    rt_tensor_release(ix);
    if (st == RT_OK) rti_bump_version(x);
    return st;
}

/* ---- gather / scatter_add -------------------------------------------------------------- */
/* torch's rule: index.shape[d] <= t.shape[d] for every d except `skip` (-1: none). */
static rt_status check_fits(const char *op, const rt_tensor *index, const rt_tensor *t,
                            const char *name, int skip, int operand)
{
    char s1[128], s2[128];
    if (index->ndim != t->ndim)
        return rt_fail(RT_ESHAPE, operand, "%s: index has %d dimensions but %s has %d", op,
                       index->ndim, name, t->ndim);
    for (int d = 0; d < t->ndim; d++)
        if (d != skip && index->shape[d] > t->shape[d])
            return rt_fail(RT_ESHAPE, operand, "%s: index of shape %s is larger than %s of "
                           "shape %s in dimension %d", op,
                           rt_shape_str(index->ndim, index->shape, s1, sizeof s1), name,
                           rt_shape_str(t->ndim, t->shape, s2, sizeof s2), d + 1);
    return RT_OK;
}

/* Checks shared by gather and scatter_add_; *ix is the contiguous index on success. */
static rt_status scatter_setup(const char *op, const rt_tensor *x, int *dim,
                               const rt_tensor *index, const rt_tensor *src, rt_tensor **ix)
{
    char what[48];
    rt_status st = check_dim(op, dim, x->ndim, 1);
    if (st == RT_OK && index->dtype != RT_I64)
        st = rt_fail(RT_EDTYPE, 2, "%s: index must be i64, got %s", op,
                     rt_dtype_name(index->dtype));
    if (st == RT_OK) st = check_fits(op, index, x, "x", *dim, 2);
    if (st == RT_OK && src) {
        if (src->dtype != x->dtype)
            st = rt_fail(RT_EDTYPE, 3, "%s: src is %s but x is %s", op,
                         rt_dtype_name(src->dtype), rt_dtype_name(x->dtype));
        else
            st = check_fits(op, index, src, "src", -1, 3);
    }
    if (st == RT_OK) st = prep_index(op, index, 2, src ? x : NULL, ix);
    if (st != RT_OK) return st;
    snprintf(what, sizeof what, "in dimension %d", *dim + 1);
    st = check_range(op, 2, *ix, x->shape[*dim], what);
    if (st != RT_OK) rt_tensor_release(*ix);
    return st;
}

/* x: (A, N, B)  index: (a, K, b) with a <= A, b <= B  out: (a, K, b)   [dim 1] */
rt_status rt_gather(const rt_tensor *x, int dim, const rt_tensor *index, rt_tensor **out)
{
    rt_tensor *ix, *o;
    rt_status st = scatter_setup("gather", x, &dim, index, NULL, &ix);
    if (st != RT_OK) return st;
    st = rt_empty(x->dtype, ix->ndim, ix->shape, &o);
    if (st == RT_OK) {
        st = run_take(*o, *ix, indexed_shadow(x, x->ndim, ix->shape, dim), dim, x->strides[dim]);
        if (st != RT_OK) rt_tensor_release(o);
        else *out = o;
    }
    rt_tensor_release(ix);
    return st;
}

/* x: (A, N, B)  index: (a, K, b)  src: at least (a, K, b)   [dim 1] */
rt_status rt_scatter_add_(rt_tensor *x, int dim, const rt_tensor *index, const rt_tensor *src)
{
    rt_tensor *ix, *sv;
    rt_status st = rti_check_writable("scatter_add_", x, 0);
    if (st == RT_OK) st = scatter_setup("scatter_add_", x, &dim, index, src, &ix);
    if (st != RT_OK) return st;
    st = prep_src(x, src, &sv);
    if (st == RT_OK) {
        rt_tensor srcs = shadow(sv, ix->ndim, ix->shape, sv->strides);
        st = run_add(indexed_shadow(x, x->ndim, ix->shape, dim), *ix, &srcs, dim,
                     x->strides[dim], NULL, 0);
        rt_tensor_release(sv);
    }
    rt_tensor_release(ix);
    if (st == RT_OK) rti_bump_version(x);
    return st;
}

rt_status rt_scatter_add(const rt_tensor *x, int dim, const rt_tensor *index,
                         const rt_tensor *src, rt_tensor **out)
{
    rt_tensor *ix, *o = NULL, *sv;
    rt_status st = scatter_setup("scatter_add", x, &dim, index, src, &ix);
    if (st != RT_OK) return st;
    st = rt_clone(x, &o);
    if (st == RT_OK) st = rt_view_alias(src, &sv);
    if (st == RT_OK) {
        rt_tensor srcs = shadow(sv, ix->ndim, ix->shape, sv->strides);
        st = run_add(indexed_shadow(o, o->ndim, ix->shape, dim), *ix, &srcs, dim,
                     o->strides[dim], NULL, 0);
        rt_tensor_release(sv);
    }
    rt_tensor_release(ix);
    if (st != RT_OK) {
        rt_tensor_release(o);
        return st;
    }
    *out = o;
    return RT_OK;
}

/* ---- embedding --------------------------------------------------------------------- */
/* weight: (V, D)  index: I (any shape)  out: I + (D,) */
rt_status rt_embedding(const rt_tensor *weight, const rt_tensor *index, rt_tensor **out)
{
    char s1[128], what[48];
    rt_tensor *ix, *o;
    if (weight->ndim != 2)
        return rt_fail(RT_ESHAPE, 0, "embedding: weight must be 2-D (num_embeddings, dim), got "
                       "shape %s", rt_shape_str(weight->ndim, weight->shape, s1, sizeof s1));
    if (index->ndim >= RT_MAXDIM)
        return rt_fail(RT_ESHAPE, 1, "embedding: index has %d dimensions, at most %d allowed",
                       index->ndim, RT_MAXDIM - 1);
    rt_status st = prep_index("embedding", index, 1, NULL, &ix);
    if (st != RT_OK) return st;
    snprintf(what, sizeof what, "for a weight of %lld rows", (long long)weight->shape[0]);
    st = check_range("embedding", 1, ix, weight->shape[0], what);
    int64_t shape[RT_MAXDIM], D = weight->shape[1];
    memcpy(shape, ix->shape, sizeof ix->shape);
    shape[ix->ndim] = D;
    if (st == RT_OK) st = rt_empty(weight->dtype, ix->ndim + 1, shape, &o);
    if (st == RT_OK) {
        int64_t S[2] = { rt_tensor_numel(ix), D };
        int64_t so[2] = { D, 1 }, si[2] = { 1, 0 }, sw[2] = { 0, weight->strides[1] };
        st = run_take(shadow(o, 2, S, so), shadow(ix, 2, S, si), shadow(weight, 2, S, sw), 0,
                      weight->strides[0]);
        if (st != RT_OK) rt_tensor_release(o);
        else *out = o;
    }
    rt_tensor_release(ix);
    return st;
}

/* gout: I + (D,)  index: I  gw: (V, D) */
rt_status rt_embedding_backward(const rt_tensor *gout, const rt_tensor *index,
                                int64_t num_weights, int64_t padding_idx, rt_tensor **gw)
{
    const char *op = "embedding_backward";
    char s1[128], s2[128], what[48];
    rt_tensor *ix, *g2 = NULL, *w = NULL;
    int nd = index->ndim;
    if (gout->ndim != nd + 1 || memcmp(gout->shape, index->shape, (size_t)nd * 8) != 0)
        return rt_fail(RT_ESHAPE, 0, "%s: gout of shape %s does not fit index of shape %s "
                       "(expected the index shape plus one embedding dimension)", op,
                       rt_shape_str(gout->ndim, gout->shape, s1, sizeof s1),
                       rt_shape_str(nd, index->shape, s2, sizeof s2));
    if (num_weights < 0)
        return rt_fail(RT_EARG, 2, "%s: num_weights %lld is negative", op,
                       (long long)num_weights);
    if (padding_idx >= num_weights)
        return rt_fail(RT_EARG, 3, "%s: padding_idx %lld out of range [0, %lld]", op,
                       (long long)padding_idx, (long long)num_weights - 1);
    rt_status st = prep_index(op, index, 1, NULL, &ix);
    if (st != RT_OK) return st;
    snprintf(what, sizeof what, "for %lld weights", (long long)num_weights);
    st = check_range(op, 1, ix, num_weights, what);
    int64_t D = gout->shape[nd], S[2] = { rt_tensor_numel(ix), D };
    if (st == RT_OK) st = rt_zeros(gout->dtype, 2, (int64_t[]){ num_weights, D }, &w);
    if (st == RT_OK) st = rt_reshape(gout, 2, S, &g2);
    if (st == RT_OK) {
        int64_t sw[2] = { 0, 1 }, si[2] = { 1, 0 };
        st = run_add(shadow(w, 2, S, sw), shadow(ix, 2, S, si), g2, 0, D, rt_tensor_data(ix),
                     num_weights);
    }
    /* Only the padding row's own contributions landed there, so zeroing it afterwards is
    ** the same as skipping them, and keeps the kernel free of a per-element test. */
    if (st == RT_OK && padding_idx >= 0)
        memset((char *)rt_tensor_data(w) + padding_idx * D * (int64_t)rt_dtype_size(w->dtype),
               0, (size_t)D * rt_dtype_size(w->dtype));
    rt_tensor_release(g2);
    rt_tensor_release(ix);
    if (st != RT_OK) {
        rt_tensor_release(w);
        return st;
    }
    w->storage->version = 0;
    *gw = w;
    return RT_OK;
}

/* ---- one_hot ----------------------------------------------------------------------- */
typedef struct {
    const int64_t *ix;
    char *out;
    int64_t classes;
    rt_dtype dt;
} onehot_ctx;

/* out is zeroed; each index writes the one element of its own row. */
static rt_status onehot_chunk(void *c, int64_t chunk, int64_t b, int64_t e)
{
    const onehot_ctx *h = c;
    (void)chunk;
    for (int64_t i = b; i < e; i++) {
        int64_t k = i * h->classes + h->ix[i];
        switch (h->dt) {
        case RT_F32: ((float *)h->out)[k] = 1.0f; break;
        case RT_F64: ((double *)h->out)[k] = 1.0; break;
        case RT_I64: ((int64_t *)h->out)[k] = 1; break;
        }
    }
    return RT_OK;
}

/* index: I  out: I + (C,) */
rt_status rt_one_hot(const rt_tensor *index, int64_t num_classes, rt_dtype dt, rt_tensor **out)
{
    char what[48];
    rt_tensor *ix, *o = NULL;
    if (num_classes < 0)
        return rt_fail(RT_EARG, 1, "one_hot: num_classes %lld is negative",
                       (long long)num_classes);
    if (index->ndim >= RT_MAXDIM)
        return rt_fail(RT_ESHAPE, 0, "one_hot: index has %d dimensions, at most %d allowed",
                       index->ndim, RT_MAXDIM - 1);
    rt_status st = prep_index("one_hot", index, 0, NULL, &ix);
    if (st != RT_OK) return st;
    snprintf(what, sizeof what, "for %lld classes", (long long)num_classes);
    st = check_range("one_hot", 0, ix, num_classes, what);
    int64_t shape[RT_MAXDIM];
    memcpy(shape, ix->shape, sizeof ix->shape);
    shape[ix->ndim] = num_classes;
    if (st == RT_OK) st = rt_zeros(dt, ix->ndim + 1, shape, &o);
    if (st == RT_OK) {
        onehot_ctx h = { rt_tensor_data(ix), rt_tensor_data(o), num_classes, dt };
        st = rt_parallel_for(rt_tensor_numel(ix), RTI_GRAIN, onehot_chunk, &h);
    }
    rt_tensor_release(ix);
    if (st != RT_OK) {
        rt_tensor_release(o);
        return st;
    }
    *out = o;
    return RT_OK;
}

/* ---- masks and nonzero ------------------------------------------------------------- */
/* Every mask is first turned into i64 0/1 flags, so the selection kernels see one mask type
** whatever the mask's dtype.  NaN counts as nonzero, as in torch. */
static void flag_run_f32(void *c, char **p, const int64_t *s, int64_t n)
{
    int64_t *o = (int64_t *)p[0];
    const float *x = (const float *)p[1];
    int64_t so = s[0] / 8, sx = s[1] / 4;
    (void)c;
    for (int64_t i = 0; i < n; i++) o[i * so] = x[i * sx] != 0;
}

static void flag_run_f64(void *c, char **p, const int64_t *s, int64_t n)
{
    int64_t *o = (int64_t *)p[0];
    const double *x = (const double *)p[1];
    int64_t so = s[0] / 8, sx = s[1] / 8;
    (void)c;
    for (int64_t i = 0; i < n; i++) o[i * so] = x[i * sx] != 0;
}

static void flag_run_i64(void *c, char **p, const int64_t *s, int64_t n)
{
    int64_t *o = (int64_t *)p[0];
    const int64_t *x = (const int64_t *)p[1];
    int64_t so = s[0] / 8, sx = s[1] / 8;
    (void)c;
    for (int64_t i = 0; i < n; i++) o[i * so] = x[i * sx] != 0;
}

/* flags: contiguous i64 of t's shape, 1 where t is nonzero. */
static rt_status nz_flags(const rt_tensor *t, rt_tensor **out)
{
    rt_tensor *f;
    rt_status st = rt_empty(RT_I64, t->ndim, t->shape, &f);
    if (st != RT_OK) return st;
    rt_tensor *ops[2] = { f, (rt_tensor *)t };
    rti_iter it;
    rti_iter_init(&it, 2, ops);
    rti_inner_fn fn = t->dtype == RT_F32 ? flag_run_f32
                    : t->dtype == RT_F64 ? flag_run_f64 : flag_run_i64;
    st = rti_iter_parallel(&it, RTI_GRAIN, fn, NULL);
    if (st != RT_OK) {
        rt_tensor_release(f);
        return st;
    }
    *out = f;
    return RT_OK;
}

/* t walked as `shape` with broadcasting (already checked to fit): stride 0 where it grows. */
static rt_tensor expand_shadow(const rt_tensor *t, int ndim, const int64_t *shape)
{
    int64_t st[RT_MAXDIM];
    int lead = ndim - t->ndim;
    for (int i = 0; i < ndim; i++) {
        int j = i - lead;
        st[i] = j < 0 || t->shape[j] != shape[i] ? 0 : t->strides[j];
    }
    return shadow(t, ndim, shape, st);
}

typedef struct {
    const int64_t *flags;
    int64_t *starts;   /* nchunks + 1 entries */
} count_ctx;

static rt_status count_chunk(void *c, int64_t chunk, int64_t b, int64_t e)
{
    const count_ctx *k = c;
    int64_t s = 0;
    for (int64_t i = b; i < e; i++) s += k->flags[i];
    k->starts[chunk + 1] = s;
    return RT_OK;
}

/* *starts[c]: where chunk c (of RTI_GRAIN flags) writes its selected items; the last entry
** is the total.  Writing later with the same chunks keeps row-major order for any threads. */
static rt_status count_flags(const rt_tensor *flags, int64_t **starts)
{
    int64_t n = rt_tensor_numel(flags), nc = rt_num_chunks(n, RTI_GRAIN);
    int64_t *s = rti_calloc((size_t)nc + 1, sizeof *s);
    if (!s) return rt_fail(RT_ENOMEM, -1, "out of memory for %lld chunk counts", (long long)nc);
    count_ctx k = { rt_tensor_data(flags), s };
    rt_status st = rt_parallel_for(n, RTI_GRAIN, count_chunk, &k);
    if (st != RT_OK) {
        rti_free(s);
        return st;
    }
    for (int64_t c = 0; c < nc; c++) s[c + 1] += s[c];
    *starts = s;
    return RT_OK;
}

/* ---- masked_fill ---- */
static void mfill_run_f32(void *c, char **p, const int64_t *s, int64_t n)
{
    float v = (float)*(const double *)c, *o = (float *)p[0];
    const float *x = (const float *)p[1];
    const int64_t *m = (const int64_t *)p[2];
    int64_t so = s[0] / 4, sx = s[1] / 4, sm = s[2] / 8;
    for (int64_t i = 0; i < n; i++) o[i * so] = m[i * sm] ? v : x[i * sx];
}

static void mfill_run_f64(void *c, char **p, const int64_t *s, int64_t n)
{
    double v = *(const double *)c, *o = (double *)p[0];
    const double *x = (const double *)p[1];
    const int64_t *m = (const int64_t *)p[2];
    int64_t so = s[0] / 8, sx = s[1] / 8, sm = s[2] / 8;
    for (int64_t i = 0; i < n; i++) o[i * so] = m[i * sm] ? v : x[i * sx];
}

static void mfill_run_i64(void *c, char **p, const int64_t *s, int64_t n)
{
    int64_t v = (int64_t)*(const double *)c, *o = (int64_t *)p[0];
    const int64_t *x = (const int64_t *)p[1];
    const int64_t *m = (const int64_t *)p[2];
    int64_t so = s[0] / 8, sx = s[1] / 8, sm = s[2] / 8;
    for (int64_t i = 0; i < n; i++) o[i * so] = m[i * sm] ? v : x[i * sx];
}

static int expands_to(const rt_tensor *t, int ndim, const int64_t *shape)
{
    if (t->ndim > ndim) return 0;
    for (int j = 0; j < t->ndim; j++) {
        int64_t want = shape[ndim - t->ndim + j];
        if (t->shape[j] != want && t->shape[j] != 1) return 0;
    }
    return 1;
}

/* x: S  mask: broadcastable to S  out: S */
rt_status rt_masked_fill(const rt_tensor *x, const rt_tensor *mask, double value,
                         rt_tensor **out)
{
    char s1[128], s2[128];
    rt_tensor *f, *o;
    /* Converting NaN or an out-of-range double to int64 is undefined behaviour. */
    if (x->dtype == RT_I64 && !(value >= -9223372036854775808.0 && value < 9223372036854775808.0))
        return rt_fail(RT_EARG, 2, "masked_fill: value %g does not fit an i64 tensor", value);
    if (!expands_to(mask, x->ndim, x->shape))
        return rt_fail(RT_ESHAPE, 1, "masked_fill: mask of shape %s cannot be broadcast to x of "
                       "shape %s", rt_shape_str(mask->ndim, mask->shape, s1, sizeof s1),
                       rt_shape_str(x->ndim, x->shape, s2, sizeof s2));
    rt_status st = nz_flags(mask, &f);
    if (st != RT_OK) return st;
    st = rt_empty(x->dtype, x->ndim, x->shape, &o);
    if (st == RT_OK) {
        rt_tensor fs = expand_shadow(f, x->ndim, x->shape);
        rt_tensor *ops[3] = { o, (rt_tensor *)x, &fs };
        rti_iter it;
        rti_iter_init(&it, 3, ops);
        rti_inner_fn fn = x->dtype == RT_F32 ? mfill_run_f32
                        : x->dtype == RT_F64 ? mfill_run_f64 : mfill_run_i64;
        st = rti_iter_parallel(&it, RTI_GRAIN, fn, &value);
        if (st != RT_OK) rt_tensor_release(o);
        else *out = o;
    }
    rt_tensor_release(f);
    return st;
}

/* ---- masked_select ---- */
typedef struct {
    const rti_iter *it;     /* over (x, flags) */
    const int64_t *starts;
    char *out;
    int64_t es;
} select_ctx;

typedef struct {
    char *at;       /* where the next selected element goes */
    size_t es;
} cursor;

/* p[0] x, p[1] flags; ctx: the chunk's own cursor. */
static void compact_run(void *c, char **p, const int64_t *s, int64_t n)
{
    cursor *cur = c;
    const int64_t *m = (const int64_t *)p[1];
    int64_t sm = s[1] / 8;
    for (int64_t i = 0; i < n; i++) {
        if (!m[i * sm]) continue;
        memcpy(cur->at, p[0] + i * s[0], cur->es);
        cur->at += cur->es;
    }
}

static rt_status select_chunk(void *c, int64_t chunk, int64_t b, int64_t e)
{
    const select_ctx *k = c;
    cursor cur = { k->out + k->starts[chunk] * k->es, (size_t)k->es };
    rti_iter_range(k->it, b, e, compact_run, &cur);
    return RT_OK;
}

/* x: broadcast with mask to B  out: (count,) */
rt_status rt_masked_select(const rt_tensor *x, const rt_tensor *mask, rt_tensor **out)
{
    int nb;
    int64_t B[RT_MAXDIM], *starts;
    rt_tensor *f, *o = NULL;
    rt_status st = rti_broadcast_shape("masked_select", x->ndim, x->shape, mask->ndim,
                                       mask->shape, &nb, B);
    if (st != RT_OK) return st;
    rt_tensor ms = expand_shadow(mask, nb, B), xs = expand_shadow(x, nb, B);
    st = nz_flags(&ms, &f);
    if (st != RT_OK) return st;
    st = count_flags(f, &starts);
    if (st != RT_OK) {
        rt_tensor_release(f);
        return st;
    }
    int64_t n = rt_tensor_numel(f);
    st = rt_empty(x->dtype, 1, &starts[rt_num_chunks(n, RTI_GRAIN)], &o);
    if (st == RT_OK) {
        rt_tensor *ops[2] = { &xs, f };
        rti_iter it;
        rti_iter_init(&it, 2, ops);
        select_ctx k = { &it, starts, rt_tensor_data(o), (int64_t)rt_dtype_size(x->dtype) };
        st = rt_parallel_for(n, RTI_GRAIN, select_chunk, &k);
    }
    rti_free(starts);
    rt_tensor_release(f);
    if (st != RT_OK) {
        rt_tensor_release(o);
        return st;
    }
    *out = o;
    return RT_OK;
}

/* ---- nonzero ---- */
typedef struct {
    const int64_t *flags, *starts;
    int64_t *out;
    const int64_t *shape;
    int ndim;
} nonzero_ctx;

static rt_status nonzero_chunk(void *c, int64_t chunk, int64_t b, int64_t e)
{
    const nonzero_ctx *k = c;
    int64_t idx[RT_MAXDIM], rem = b;
    int64_t *o = k->out + k->starts[chunk] * k->ndim;
    for (int d = k->ndim - 1; d >= 0; d--) {
        idx[d] = rem % k->shape[d];
        rem /= k->shape[d];
    }
    for (int64_t i = b; i < e; i++) {
        if (k->flags[i]) {
            memcpy(o, idx, (size_t)k->ndim * sizeof *o);
            o += k->ndim;
        }
        for (int d = k->ndim - 1; d >= 0 && ++idx[d] == k->shape[d]; d--) idx[d] = 0;
    }
    return RT_OK;
}

/* x: S (any dtype)  out: (nnz, ndim) */
rt_status rt_nonzero(const rt_tensor *x, rt_tensor **out)
{
    int64_t *starts;
    rt_tensor *f, *o = NULL;
    rt_status st = nz_flags(x, &f);
    if (st != RT_OK) return st;
    st = count_flags(f, &starts);
    if (st != RT_OK) {
        rt_tensor_release(f);
        return st;
    }
    int64_t n = rt_tensor_numel(f);
    int64_t shape[2] = { starts[rt_num_chunks(n, RTI_GRAIN)], x->ndim };
    st = rt_empty(RT_I64, 2, shape, &o);
    if (st == RT_OK) {
        nonzero_ctx k = { rt_tensor_data(f), starts, rt_tensor_data(o), x->shape, x->ndim };
        st = rt_parallel_for(n, RTI_GRAIN, nonzero_chunk, &k);
    }
    rti_free(starts);
    rt_tensor_release(f);
    if (st != RT_OK) {
        rt_tensor_release(o);
        return st;
    }
    *out = o;
    return RT_OK;
}
