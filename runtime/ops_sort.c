/* ops_sort.c — stable sort and topk along one dimension.  Every slice is merge-sorted as
** (key, position) pairs, where the key is an order-preserving uint64 image of the value, so one
** kernel serves f32, f64 and i64, nan and -0.0 included.  topk sorts the slice and keeps k. */
#include <string.h>
#include "reduce_internal.h"
#include "rt_reduce.h"

/* ---- keys: unsigned order = value order ------------------------------------------------- */
/* Positive doubles get the top bit set, negative ones are bit-flipped; nan is canonicalised to
** the largest key and -0.0 to +0.0 (they compare equal, so a stable sort keeps their order). */
static uint64_t key_f(double v)
{
    uint64_t b;
    if (v != v) return UINT64_MAX;
    if (v == 0) v = 0.0;
    memcpy(&b, &v, sizeof b);
    return (b >> 63) ? ~b : b | (UINT64_C(1) << 63);
}

static uint64_t key_i(int64_t v)
{
    return (uint64_t)v ^ (UINT64_C(1) << 63);
}

#define SORT_RUN 32

/* Stable ascending sort of n pairs (k, ix); tk and ti are scratch of n entries. */
static void sort_pairs(uint64_t *k, int64_t *ix, uint64_t *tk, int64_t *ti, int64_t n)
{
    for (int64_t s = 0; s < n; s += SORT_RUN) {
        int64_t e = s + SORT_RUN < n ? s + SORT_RUN : n;
        for (int64_t i = s + 1; i < e; i++) {
            uint64_t kv = k[i];
            int64_t iv = ix[i], j = i;
            for (; j > s && k[j - 1] > kv; j--) {   /* strict: equal keys never pass */
                k[j] = k[j - 1];
                ix[j] = ix[j - 1];
            }
            k[j] = kv;
            ix[j] = iv;
        }
    }
    uint64_t *sk = k, *dk = tk;
    int64_t *si = ix, *di = ti;
    for (int64_t width = SORT_RUN; width < n; width *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * width) {
            int64_t mid = lo + width < n ? lo + width : n;
            int64_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            int64_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi) {
                int right = sk[b] < sk[a];   /* ties take the left run: stable */
                dk[o] = right ? sk[b] : sk[a];
                di[o++] = right ? si[b++] : si[a++];
            }
            for (; a < mid; a++, o++) dk[o] = sk[a], di[o] = si[a];
            for (; b < hi; b++, o++) dk[o] = sk[b], di[o] = si[b];
        }
        uint64_t *t = sk;
        sk = dk, dk = t;
        int64_t *u = si;
        si = di, di = u;
    }
    if (sk != k) {
        memcpy(k, sk, (size_t)n * sizeof *k);
        memcpy(ix, si, (size_t)n * sizeof *ix);
    }
}

/* ---- slices ------------------------------------------------------------------------------ */
typedef struct {
    rti_rgeom g;          /* operand 0: x, 1: values, 2: indices */
    rt_dtype dt;
    int descending;
    int64_t kout;         /* elements written per slice */
    int64_t rows;         /* slices per chunk */
    int64_t first;        /* first slice of the current group of chunks */
    uint64_t *scratch;    /* 4 n-entry arrays per chunk of a group (workers may not allocate) */
} sorter;

static void make_keys(const sorter *s, const char *x, uint64_t *k, int64_t *ix)
{
    int64_t n = s->g.n, xs = s->g.dstride[0];
    if (s->dt == RT_F32)
        for (int64_t i = 0; i < n; i++) k[i] = key_f(((const float *)x)[i * xs]);
    else if (s->dt == RT_F64)
        for (int64_t i = 0; i < n; i++) k[i] = key_f(((const double *)x)[i * xs]);
    else
        for (int64_t i = 0; i < n; i++) k[i] = key_i(((const int64_t *)x)[i * xs]);
    if (s->descending)   /* reversed keys, still a stable ascending sort: ties keep order */
        for (int64_t i = 0; i < n; i++) k[i] = ~k[i];
    for (int64_t i = 0; i < n; i++) ix[i] = i;
}

/* Values are gathered bit-exactly from x by position (keys lose -0.0 and nan payloads). */
static void write_slice(const sorter *s, int64_t o, const int64_t *ix)
{
    const char *x = rti_rg_ptr(&s->g, 0, o);
    char *v = rti_rg_ptr(&s->g, 1, o);
    int64_t *p = (int64_t *)rti_rg_ptr(&s->g, 2, o);
    int64_t xs = s->g.dstride[0], vs = s->g.dstride[1], ps = s->g.dstride[2];
    if (s->g.esize[0] == 4) {
        for (int64_t j = 0; j < s->kout; j++)
            ((uint32_t *)v)[j * vs] = ((const uint32_t *)x)[ix[j] * xs];
    } else {
        for (int64_t j = 0; j < s->kout; j++)
            ((uint64_t *)v)[j * vs] = ((const uint64_t *)x)[ix[j] * xs];
    }
    for (int64_t j = 0; j < s->kout; j++) p[j * ps] = ix[j];
}

static rt_status sort_chunk(void *c, int64_t chunk, int64_t b, int64_t e)
{
    const sorter *s = c;
    int64_t n = s->g.n;
    uint64_t *k = s->scratch + chunk * 4 * n, *tk = k + n;
    int64_t *ix = (int64_t *)(tk + n), *ti = ix + n;
    for (int64_t o = s->first + b; o < s->first + e; o++) {
        make_keys(s, rti_rg_ptr(&s->g, 0, o), k, ix);
        sort_pairs(k, ix, tk, ti, n);
        write_slice(s, o, ix);
    }
    return RT_OK;
}

/* values/indices: x's shape with dim of size kout. */
static rt_status run_sort(const char *name, const rt_tensor *x0, int dim, int descending,
                          int64_t kout, rt_tensor **values, rt_tensor **indices)
{
    int64_t shape[RT_MAXDIM];
    rt_tensor *v = NULL, *ix = NULL, xv, vv, iv;
    int ond = x0->ndim;
    memcpy(shape, x0->shape, sizeof shape);
    if (ond > 0) shape[dim] = kout;
    else if (kout == 0) ond = 1, shape[0] = 0;   /* topk(0-d, 0): nothing, as shape [0] */
    sorter s = { .dt = x0->dtype, .descending = descending, .kout = kout };
    rt_status st = rt_empty(x0->dtype, ond, shape, &v);
    if (st == RT_OK) st = rt_empty(RT_I64, ond, shape, &ix);
    if (st != RT_OK) {
        rt_tensor_release(v);
        return st;
    }
    const rt_tensor *ops[3] = { x0, v, ix };
    if (x0->ndim == 0) {
        rti_rg_as_vector(x0, &xv);
        rti_rg_as_vector(v, &vv);
        rti_rg_as_vector(ix, &iv);
        ops[0] = &xv, ops[1] = &vv, ops[2] = &iv;
    }
    rti_rg_init(&s.g, 3, ops, dim, dim);
    if (s.g.nout > 0 && kout > 0) {
        /* Groups of chunks bound the scratch (32 bytes per element of a slice, per chunk) to
        ** about 64 MiB for long slices while keeping 16 chunks in flight for short ones. */
        int64_t n = s.g.n, group = (INT64_C(1) << 21) / n;
        s.rows = RG_GRAIN / n > 1 ? RG_GRAIN / n : 1;
        group = group > 16 ? 16 : group < 2 ? 2 : group;
        int64_t nch = rt_num_chunks(s.g.nout, s.rows);
        if (group > nch) group = nch;
        s.scratch = rti_malloc((size_t)group * 4 * (size_t)n * sizeof *s.scratch);
        if (!s.scratch)
            st = rt_fail(RT_ENOMEM, -1, "%s: out of memory for sort buffers (%lld slices of "
                         "%lld)", name, (long long)s.g.nout, (long long)n);
        for (int64_t c = 0; s.scratch && st == RT_OK && c < nch; c += group) {
            s.first = c * s.rows;
            int64_t last = (c + group) * s.rows < s.g.nout ? (c + group) * s.rows : s.g.nout;
            st = rt_parallel_for(last - s.first, s.rows, sort_chunk, &s);
        }
        rti_free(s.scratch);
    }
    if (st != RT_OK) {
        rt_tensor_release(v);
        rt_tensor_release(ix);
        return st;
    }
    *values = v;
    *indices = ix;
    return RT_OK;
}

static rt_status sort_dim(const char *name, const rt_tensor *x, int *dim)
{
    if (x->ndim > 0) return rti_check_dim(name, dim, x->ndim);
    if (*dim != 0 && *dim != -1)
        return rt_fail(RT_EARG, 0, "%s: dimension %d out of range for a 0-d tensor", name, *dim);
    *dim = 0;
    return RT_OK;
}

rt_status rt_sort(const rt_tensor *x, int dim, int descending, rt_tensor **values,
                  rt_tensor **indices)
{
    rt_status st = sort_dim("sort", x, &dim);
    if (st != RT_OK) return st;
    int64_t n = x->ndim ? x->shape[dim] : 1;
    return run_sort("sort", x, dim, descending, n, values, indices);
}

rt_status rt_topk(const rt_tensor *x, int64_t k, int dim, int largest, rt_tensor **values,
                  rt_tensor **indices)
{
    rt_status st = sort_dim("topk", x, &dim);
    if (st != RT_OK) return st;
    int64_t n = x->ndim ? x->shape[dim] : 1;
    if (k < 0 || k > n)
        return rt_fail(RT_EARG, 1, "topk: k = %lld is out of range for dimension %d of size %lld",
                       (long long)k, dim, (long long)n);
    return run_sort("topk", x, dim, largest, k, values, indices);
}
