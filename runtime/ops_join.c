/* ops_join.c — joining and splitting along a dimension: cat and stack copy into one new
** tensor; split_sizes, split and chunk return views that share the input's storage.
** Indexed reads and writes live in ops_index.c. */
#include <limits.h>
#include <string.h>
#include "internal.h"
#include "rt_index.h"

/* ---- cat ------------------------------------------------------------------------------
** The output is walked as rows of `rowlen` elements (outer index), each row the blocks of the
** sources side by side.  Every source is contiguous in the output dtype by then, so a piece
** is one memcpy; chunks cut the flat output anywhere, which balances any mix of sizes. */
typedef struct {
    int nsrc;
    char *const *src;       /* source data; block of source k for row r at r * blk_k */
    const int64_t *start;   /* nsrc + 1 entries: block k spans [start[k], start[k+1]) */
    int64_t rowlen;
    char *out;
    size_t es;
} cat_ctx;

static rt_status cat_chunk(void *c, int64_t chunk, int64_t b, int64_t e)
{
    const cat_ctx *k = c;
    (void)chunk;
    for (int64_t p = b; p < e;) {
        int64_t row = p / k->rowlen, r = p % k->rowlen;
        int lo = 0, hi = k->nsrc - 1;   /* the last block starting at or before r */
        while (lo < hi) {
            int mid = (lo + hi + 1) / 2;
            if (k->start[mid] <= r) lo = mid;
            else hi = mid - 1;
        }
        int64_t blk = k->start[lo + 1] - k->start[lo];
        int64_t cnt = k->start[lo + 1] - r;
        if (cnt > e - p) cnt = e - p;
        memcpy(k->out + (size_t)p * k->es,
               k->src[lo] + (size_t)(row * blk + r - k->start[lo]) * k->es, (size_t)cnt * k->es);
        p += cnt;
    }
    return RT_OK;
}

/* torch's legacy rule: a 1-D tensor of size 0 is left out of cat whatever the others are. */
static int cat_skipped(const rt_tensor *t)
{
    return t->ndim == 1 && t->shape[0] == 0;
}

/* Checks every kept tensor against ts[ref]; on success shape is the output's shape. */
static rt_status cat_shape(const char *op, int n, rt_tensor *const *ts, int ref, int dim,
                           int64_t *shape)
{
    char s1[128], s2[128];
    const rt_tensor *r = ts[ref];
    memcpy(shape, r->shape, sizeof r->shape);
    shape[dim] = 0;
    for (int i = 0; i < n; i++) {
        const rt_tensor *t = ts[i];
        if (cat_skipped(t)) continue;
        if (t->ndim != r->ndim)
            return rt_fail(RT_ESHAPE, i, "%s: tensor %d has %d dimensions but tensor %d has %d",
                           op, i + 1, t->ndim, ref + 1, r->ndim);
        for (int d = 0; d < r->ndim; d++)
            if (d != dim && t->shape[d] != r->shape[d])
                return rt_fail(RT_ESHAPE, i, "%s: tensor %d has shape %s but tensor %d has %s: "
                               "sizes differ in dimension %d (joining along dimension %d)", op,
                               i + 1, rt_shape_str(t->ndim, t->shape, s1, sizeof s1), ref + 1,
                               rt_shape_str(r->ndim, r->shape, s2, sizeof s2), d + 1, dim + 1);
        shape[dim] += t->shape[dim];
    }
    return RT_OK;
}

/* Fills src/start for the sources that contribute; converted copies go to tmp. */
static rt_status cat_sources(int n, rt_tensor *const *ts, int dim, rt_dtype dt, int64_t inner,
                             char **src, int64_t *start, rt_tensor **tmp, int *nsrc)
{
    int k = 0;
    start[0] = 0;
    for (int i = 0; i < n; i++) {
        const rt_tensor *t = ts[i];
        if (cat_skipped(t) || t->shape[dim] * inner == 0) continue;
        if (t->dtype != dt || !rt_tensor_is_contiguous(t)) {
            rt_status st = rt_to_dtype(t, dt, &tmp[k]);
            if (st != RT_OK) return st;
            t = tmp[k];
        }
        src[k] = rt_tensor_data(t);
        start[k + 1] = start[k] + t->shape[dim] * inner;
        k++;
    }
    *nsrc = k;
    return RT_OK;
}

/* The copy proper: out has its final shape. */
static rt_status cat_copy(int n, rt_tensor *const *ts, int dim, rt_tensor *out)
{
    int64_t inner = 1, total = rt_tensor_numel(out);
    for (int d = dim + 1; d < out->ndim; d++) inner *= out->shape[d];
    if (total == 0) return RT_OK;
    char **src = rti_calloc((size_t)n, sizeof *src);
    int64_t *start = rti_calloc((size_t)n + 1, sizeof *start);
    rt_tensor **tmp = rti_calloc((size_t)n, sizeof *tmp);
    rt_status st = RT_ENOMEM;
    int nsrc = 0;
    if (!src || !start || !tmp)
        rt_fail(RT_ENOMEM, -1, "cat: out of memory for a list of %d tensors", n);
    else
        st = cat_sources(n, ts, dim, out->dtype, inner, src, start, tmp, &nsrc);
    if (st == RT_OK) {
        cat_ctx k = { nsrc, src, start, start[nsrc], rt_tensor_data(out),
                      rt_dtype_size(out->dtype) };
        st = rt_parallel_for(total, RTI_GRAIN, cat_chunk, &k);
    }
    for (int i = 0; tmp && i < n; i++) rt_tensor_release(tmp[i]);
    rti_free(src);
    rti_free(start);
    rti_free(tmp);
    return st;
}

/* ts: (..., n_i, ...) each  out: (..., sum n_i, ...) */
static rt_status cat_impl(const char *op, int n, rt_tensor *const *ts, int dim,
                          rt_tensor **out)
{
    if (n < 1) return rt_fail(RT_EARG, -1, "%s: expects at least one tensor", op);
    for (int i = 0; i < n; i++)
        if (!ts[i]) return rt_fail(RT_EARG, i, "%s: tensor %d is missing (NULL)", op, i + 1);
    rt_dtype dt = ts[0]->dtype;
    int ref = -1;
    for (int i = 0; i < n; i++) {
        dt = rt_dtype_promote(dt, ts[i]->dtype);
        if (ref < 0 && !cat_skipped(ts[i])) ref = i;
    }
    if (ref < 0) return rt_empty(dt, 1, (int64_t[]){ 0 }, out);
    int nd = ts[ref]->ndim, d = dim < 0 ? dim + nd : dim;
    if (nd == 0)
        return rt_fail(RT_EARG, ref, "%s: tensor %d is 0-d; only tensors with at least one "
                       "dimension can be joined", op, ref + 1);
    if (d < 0 || d >= nd)
        return rt_fail(RT_EARG, -1, "%s: dimension %d out of range for %d-d tensors", op,
                       dim >= 0 ? dim + 1 : dim, nd);
    int64_t shape[RT_MAXDIM];
    rt_tensor *o;
    rt_status st = cat_shape(op, n, ts, ref, d, shape);
    if (st == RT_OK) st = rt_empty(dt, nd, shape, &o);
    if (st != RT_OK) return st;
    st = cat_copy(n, ts, d, o);
    if (st != RT_OK) {
        rt_tensor_release(o);
        return st;
    }
    *out = o;
    return RT_OK;
}

rt_status rt_cat(int n, rt_tensor *const *ts, int dim, rt_tensor **out)
{
    return cat_impl("cat", n, ts, dim, out);
}

/* ---- stack: cat of views with a new size-1 dimension ------------------------------------ */
/* ts: S each  out: S with n inserted at dim */
rt_status rt_stack(int n, rt_tensor *const *ts, int dim, rt_tensor **out)
{
    char s1[128], s2[128];
    if (n < 1) return rt_fail(RT_EARG, -1, "stack: expects at least one tensor");
    for (int i = 0; i < n; i++) {
        if (!ts[i]) return rt_fail(RT_EARG, i, "stack: tensor %d is missing (NULL)", i + 1);
        if (!rt_same_shape(ts[i], ts[0]))
            return rt_fail(RT_ESHAPE, i, "stack: tensor %d has shape %s but tensor 1 has %s; "
                           "stacked tensors must have equal shapes", i + 1,
                           rt_shape_str(ts[i]->ndim, ts[i]->shape, s1, sizeof s1),
                           rt_shape_str(ts[0]->ndim, ts[0]->shape, s2, sizeof s2));
    }
    int nd = ts[0]->ndim, d = dim < 0 ? dim + nd + 1 : dim;
    if (d < 0 || d > nd)
        return rt_fail(RT_EARG, -1, "stack: position %d out of range for %d-d tensors (at most "
                       "%d)", dim >= 0 ? dim + 1 : dim, nd, nd + 1);
    if (nd >= RT_MAXDIM)
        return rt_fail(RT_ESHAPE, -1, "stack: tensors already have %d dimensions", RT_MAXDIM);
    rt_tensor **views = rti_calloc((size_t)n, sizeof *views);
    if (!views) return rt_fail(RT_ENOMEM, -1, "stack: out of memory for %d views", n);
    rt_status st = RT_OK;
    for (int i = 0; i < n && st == RT_OK; i++) st = rt_view_unsqueeze(ts[i], d, &views[i]);
    if (st == RT_OK) st = cat_impl("stack", n, views, d, out);
    rt_free_list(n, views);
    return st;
}

/* ---- split, chunk ---------------------------------------------------------------------- */
void rt_free_list(int n, rt_tensor **ts)
{
    if (!ts) return;
    for (int i = 0; i < n; i++) rt_tensor_release(ts[i]);
    rti_free(ts);
}

/* outs[i] = x.narrow(dim, sum(sizes[:i]), sizes[i]) */
rt_status rt_split_sizes(const rt_tensor *x, int dim, int n, const int64_t *sizes,
                         rt_tensor **outs)
{
    int d = dim < 0 ? dim + x->ndim : dim;
    if (d < 0 || d >= x->ndim)
        return rt_fail(RT_EARG, 1, "split: dimension %d out of range for a %d-d tensor",
                       dim >= 0 ? dim + 1 : dim, x->ndim);
    if (n < 0) return rt_fail(RT_EARG, 2, "split: %d pieces requested", n);
    int64_t size = x->shape[d], sum = 0;   /* saturates; only compared with size */
    for (int i = 0; i < n; i++) {
        if (sizes[i] < 0)
            return rt_fail(RT_EARG, 3, "split: size %lld of piece %d is negative",
                           (long long)sizes[i], i + 1);
        sum = sizes[i] > INT64_MAX - sum ? INT64_MAX : sum + sizes[i];
    }
    if (sum != size)
        return rt_fail(RT_ESHAPE, 3, "split: sizes sum to %lld but dimension %d has size %lld",
                       (long long)sum, d + 1, (long long)size);
    rt_tensor **v = rti_calloc(n ? (size_t)n : 1, sizeof *v);
    if (!v) return rt_fail(RT_ENOMEM, -1, "split: out of memory for %d views", n);
    rt_status st = RT_OK;
    int64_t start = 0;
    for (int i = 0; i < n && st == RT_OK; i++) {
        st = rt_view_narrow(x, d, start, sizes[i], &v[i]);
        start += sizes[i];
    }
    if (st == RT_OK) memcpy(outs, v, (size_t)n * sizeof *v);
    else for (int i = 0; i < n; i++) rt_tensor_release(v[i]);
    rti_free(v);
    return st;
}

/* Pieces of `piece` elements (the last one smaller) or n equal pieces; the list is ours. */
static rt_status split_into(const rt_tensor *x, int d, int64_t n, int64_t piece, int *n_out,
                            rt_tensor ***outs)
{
    int64_t size = x->shape[d];
    if (n > INT_MAX)
        return rt_fail(RT_EARG, 1, "split: %lld pieces are too many", (long long)n);
    int64_t *sizes = rti_malloc((size_t)n * sizeof *sizes);
    rt_tensor **list = rti_calloc((size_t)n, sizeof *list);
    rt_status st = RT_ENOMEM;
    if (!sizes || !list) {
        rt_fail(RT_ENOMEM, -1, "split: out of memory for %lld pieces", (long long)n);
    } else {
        for (int64_t i = 0; i < n; i++) {
            int64_t left = size - i * piece;
            sizes[i] = left < piece ? left : piece;
        }
        st = rt_split_sizes(x, d, (int)n, sizes, list);
    }
    rti_free(sizes);
    if (st != RT_OK) {
        rti_free(list);
        return st;
    }
    *n_out = (int)n;
    *outs = list;
    return RT_OK;
}

rt_status rt_split(const rt_tensor *x, int64_t split_size, int dim, int *n_out,
                   rt_tensor ***outs)
{
    int d = dim < 0 ? dim + x->ndim : dim;
    if (d < 0 || d >= x->ndim)
        return rt_fail(RT_EARG, 2, "split: dimension %d out of range for a %d-d tensor",
                       dim >= 0 ? dim + 1 : dim, x->ndim);
    int64_t size = x->shape[d];
    if (split_size < 0 || (split_size == 0 && size > 0))
        return rt_fail(RT_EARG, 1, "split: split_size must be positive, got %lld (0 is allowed "
                       "only for an empty dimension; dimension %d has size %lld)",
                       (long long)split_size, d + 1, (long long)size);
    /* torch keeps at least one piece, so an empty dimension splits into one empty view. */
    int64_t n = split_size == 0 ? 1 : size / split_size + (size % split_size != 0);
    return split_into(x, d, n < 1 ? 1 : n, split_size, n_out, outs);
}

rt_status rt_chunk(const rt_tensor *x, int64_t chunks, int dim, int *n_out, rt_tensor ***outs)
{
    int d = dim < 0 ? dim + x->ndim : dim;
    if (d < 0 || d >= x->ndim)
        return rt_fail(RT_EARG, 2, "chunk: dimension %d out of range for a %d-d tensor",
                       dim >= 0 ? dim + 1 : dim, x->ndim);
    if (chunks < 1)
        return rt_fail(RT_EARG, 1, "chunk: number of chunks must be positive, got %lld",
                       (long long)chunks);
    int64_t size = x->shape[d], piece = size / chunks + (size % chunks != 0);
    /* As torch: an empty dimension gives `chunks` empty pieces, not split's single one. */
    if (size == 0) return split_into(x, d, chunks, 0, n_out, outs);
    return rt_split(x, piece, d, n_out, outs);
}
