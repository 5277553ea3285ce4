/* tensor.c — storage and tensor lifetime, dtypes, element access and creation.
** Views live in views.c, copies in copy.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <assert.h>
#include "internal.h"

/* ---- dtypes ------------------------------------------------------------------ */
size_t rt_dtype_size(rt_dtype dt)
{
    return dt == RT_F32 ? 4 : 8;
}

const char *rt_dtype_name(rt_dtype dt)
{
    switch (dt) {
    case RT_F32: return "f32";
    case RT_F64: return "f64";
    case RT_I64: return "i64";
    }
    return "?";
}

int rt_dtype_is_float(rt_dtype dt) { return dt == RT_F32 || dt == RT_F64; }

rt_dtype rt_dtype_promote(rt_dtype a, rt_dtype b)
{
    if (a == RT_F64 || b == RT_F64) return RT_F64;
    if (a == RT_F32 || b == RT_F32) return RT_F32;
    return RT_I64;
}

/* ---- lifetime ---------------------------------------------------------------- */
/* Only the owning thread allocates storage, so plain counters suffice. */
static uint64_t bytes_allocated, bytes_live;

uint64_t rt_bytes_allocated(void) { return bytes_allocated; }
uint64_t rt_bytes_live(void) { return bytes_live; }

static void storage_release(rt_storage *s)
{
    if (!s) return;
    assert(s->refcount > 0);
    if (--s->refcount == 0) {
        bytes_live -= s->nbytes;
        if (s->block) {
            rti_free(s->block);   /* data, storage and the first header together */
            return;
        }
        rti_free(s->data);
        rti_free(s);
    }
}

void rt_tensor_retain(rt_tensor *t)
{
    if (t) t->refcount++;
}

/* The autograd engine installs these so that the core does not depend on it. */
void (*rti_node_release_hook)(struct rt_node *) = NULL;
void (*rti_hooks_release_hook)(struct rt_hook *) = NULL;

void rt_tensor_release(rt_tensor *t)
{
    if (!t) return;
    assert(t->refcount > 0);
    if (--t->refcount > 0) return;
    rt_tensor_release(t->grad);
    if (t->node && rti_node_release_hook) rti_node_release_hook(t->node);
    if (t->hooks && rti_hooks_release_hook) rti_hooks_release_hook(t->hooks);
    /* a header inside its storage's block goes when the storage does (views may outlive it) */
    int in_block = t->in_block;
    rt_storage *s = t->storage;
    if (!in_block) rti_free(t);
    storage_release(s);
}

int64_t rti_numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return -1;
        if (shape[i] != 0 && n > INT64_MAX / shape[i]) return -1;
        n *= shape[i];
    }
    return n;
}

int64_t rt_tensor_numel(const rt_tensor *t) { return rti_numel(t->ndim, t->shape); }

void rti_contig_strides(int ndim, const int64_t *shape, int64_t *strides)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= shape[i] > 0 ? shape[i] : 1;
    }
}

int rt_tensor_is_contiguous(const rt_tensor *t)
{
    if (rti_numel(t->ndim, t->shape) == 0) return 1;   /* no element is out of place */
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] == 1) continue;
        if (t->strides[i] != s) return 0;
        s *= t->shape[i];
    }
    return 1;
}

void *rt_tensor_data(const rt_tensor *t)
{
    return (char *)t->storage->data + t->offset * (int64_t)rt_dtype_size(t->dtype);
}

char *rt_shape_str(int ndim, const int64_t *shape, char *buf, size_t len)
{
    size_t k = 0;
    if (len == 0) return buf;
    buf[0] = 0;
    k += snprintf(buf + k, len - k, "[");
    for (int i = 0; i < ndim && k < len; i++)
        k += snprintf(buf + k, len - k, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (k < len) snprintf(buf + k, len - k, "]");
    return buf;
}

int rt_same_shape(const rt_tensor *a, const rt_tensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

void rti_bump_version(rt_tensor *t) { t->storage->version++; }

int64_t rti_double_to_i64(double v)
{
    /* out-of-range conversion is undefined in C: saturate, and map nan to 0 */
    if (isnan(v)) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

/* ---- element access ---------------------------------------------------------- */
static int64_t elem_offset(const rt_tensor *t, const int64_t *idx)
{
    int64_t off = t->offset;
    for (int i = 0; i < t->ndim; i++) {
        assert(idx[i] >= 0 && idx[i] < t->shape[i]);
        off += idx[i] * t->strides[i];
    }
    return off;
}

double rt_tensor_get(const rt_tensor *t, const int64_t *idx)
{
    int64_t off = elem_offset(t, idx);
    switch (t->dtype) {
    case RT_F32: return ((const float *)t->storage->data)[off];
    case RT_F64: return ((const double *)t->storage->data)[off];
    case RT_I64: return (double)((const int64_t *)t->storage->data)[off];
    }
    return 0;
}

int64_t rt_tensor_get_i64(const rt_tensor *t, const int64_t *idx)
{
    int64_t off = elem_offset(t, idx);
    if (t->dtype == RT_I64) return ((const int64_t *)t->storage->data)[off];
    return (int64_t)rt_tensor_get(t, idx);
}

void rt_tensor_set(rt_tensor *t, const int64_t *idx, double v)
{
    int64_t off = elem_offset(t, idx);
    switch (t->dtype) {
    case RT_F32: ((float *)t->storage->data)[off] = (float)v; break;
    case RT_F64: ((double *)t->storage->data)[off] = v; break;
    case RT_I64: ((int64_t *)t->storage->data)[off] = rti_double_to_i64(v); break;
    }
    rti_bump_version(t);
}

rt_status rt_tensor_item(const rt_tensor *t, double *v)
{
    char s[96];
    if (rt_tensor_numel(t) != 1)
        return rt_fail(RT_ESHAPE, 0, "item: tensor of shape %s has %lld elements, expected 1",
                       rt_shape_str(t->ndim, t->shape, s, sizeof s),
                       (long long)rt_tensor_numel(t));
    int64_t idx[RT_MAXDIM] = {0};
    *v = rt_tensor_get(t, idx);
    return RT_OK;
}

/* ---- creation ---------------------------------------------------------------- */
rt_tensor *rti_tensor_alloc(rt_dtype dt, int ndim, const int64_t *shape)
{
    rt_tensor *t = rti_calloc(1, sizeof *t);
    if (!t) {
        rt_fail(RT_ENOMEM, -1, "out of memory allocating a tensor header");
        return NULL;
    }
    t->refcount = 1;
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    rti_contig_strides(ndim, shape, t->strides);
    return t;
}

static rt_status check_shape(const char *op, int ndim, const int64_t *shape, int64_t *numel)
{
    char s[128];
    if (ndim < 0 || ndim > RT_MAXDIM)
        return rt_fail(RT_EARG, -1, "%s: %d dimensions requested, at most %d are supported",
                       op, ndim, RT_MAXDIM);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0)
            return rt_fail(RT_EARG, -1, "%s: size %lld of dimension %d is negative", op,
                           (long long)shape[i], i + 1);
    int64_t n = rti_numel(ndim, shape);
    if (n < 0 || n > INT64_MAX / 8)
        return rt_fail(RT_ENOMEM, -1, "%s: shape %s is too large", op,
                       rt_shape_str(ndim, shape, s, sizeof s));
    *numel = n;
    return RT_OK;
}

/* A fresh tensor is one allocation: header, storage record and data (64-byte aligned) in a
** single block, which halves the malloc/free work that dominates ops on small tensors. */
#define HDR_BYTES ((sizeof(rt_tensor) + 63) & ~(size_t)63)
#define STO_BYTES ((sizeof(rt_storage) + 63) & ~(size_t)63)

static rt_status alloc_tensor(const char *op, rt_dtype dt, int ndim, const int64_t *shape,
                              int zero, rt_tensor **out)
{
    int64_t n = 0;
    char s[128];
    rt_status st = check_shape(op, ndim, shape, &n);
    if (st != RT_OK) return st;
    size_t nbytes = (size_t)n * rt_dtype_size(dt);
    char *block = zero ? rti_calloc(1, HDR_BYTES + STO_BYTES + nbytes)
                       : rti_malloc(HDR_BYTES + STO_BYTES + nbytes);
    if (!block)
        return rt_fail(RT_ENOMEM, -1, "%s: out of memory for a %s tensor of shape %s (%zu bytes)",
                       op, rt_dtype_name(dt), rt_shape_str(ndim, shape, s, sizeof s), nbytes);
    rt_tensor *t = (rt_tensor *)block;
    rt_storage *sto = (rt_storage *)(block + HDR_BYTES);
    if (!zero) {
        memset(t, 0, sizeof *t);
        memset(sto, 0, sizeof *sto);
    }
    t->refcount = 1;
    t->dtype = dt;
    t->ndim = ndim;
    t->in_block = 1;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    rti_contig_strides(ndim, shape, t->strides);
    sto->refcount = 1;
    sto->nbytes = nbytes;
    sto->data = block + HDR_BYTES + STO_BYTES;
    sto->block = block;
    t->storage = sto;
    bytes_allocated += nbytes;
    bytes_live += nbytes;
    *out = t;
    return RT_OK;
}

rt_status rt_empty(rt_dtype dt, int ndim, const int64_t *shape, rt_tensor **out)
{
    return alloc_tensor("empty", dt, ndim, shape, 0, out);
}

rt_status rt_zeros(rt_dtype dt, int ndim, const int64_t *shape, rt_tensor **out)
{
    return alloc_tensor("zeros", dt, ndim, shape, 1, out);
}

static rt_status full_named(const char *op, rt_dtype dt, int ndim, const int64_t *shape,
                            double v, rt_tensor **out)
{
    rt_tensor *t = NULL;
    rt_status st = alloc_tensor(op, dt, ndim, shape, 0, &t);
    if (st != RT_OK) return st;
    st = rt_fill_(t, v);
    if (st != RT_OK) {
        rt_tensor_release(t);
        return st;
    }
    t->storage->version = 0;
    *out = t;
    return RT_OK;
}

rt_status rt_full(rt_dtype dt, int ndim, const int64_t *shape, double v, rt_tensor **out)
{
    return full_named("full", dt, ndim, shape, v, out);
}

rt_status rt_ones(rt_dtype dt, int ndim, const int64_t *shape, rt_tensor **out)
{
    return full_named("ones", dt, ndim, shape, 1.0, out);
}

rt_status rt_scalar(rt_dtype dt, double v, rt_tensor **out)
{
    return full_named("scalar", dt, 0, NULL, v, out);
}

rt_status rt_from_buffer(rt_dtype dt, int ndim, const int64_t *shape, const void *data,
                         rt_tensor **out)
{
    rt_tensor *t = NULL;
    rt_status st = alloc_tensor("from_buffer", dt, ndim, shape, 0, &t);
    if (st != RT_OK) return st;
    if (t->storage->nbytes) memcpy(t->storage->data, data, t->storage->nbytes);
    *out = t;
    return RT_OK;
}

rt_status rt_arange(rt_dtype dt, double start, double stop, double step, rt_tensor **out)
{
    if (!(step != 0) || !isfinite(step) || !isfinite(start) || !isfinite(stop))
        return rt_fail(RT_EARG, -1, "arange: start, stop and step must be finite and step "
                       "non-zero (got %g, %g, %g)", start, stop, step);
    /* Inclusive of stop like Lua's numeric for; a small absolute slack (in steps) absorbs
    ** rounding, so arange(0, 1, 0.1) has 11 elements.  (Unlike Lua's float loop, which
    ** accumulates rounding, arange(0, 0.3, 0.1) also ends at 0.3.) */
    double span = (stop - start) / step;
    if (!isfinite(span) || span > 1e15)
        return rt_fail(RT_EARG, -1, "arange: %g elements are too many", span);
    int64_t n = span < 0 ? 0 : (int64_t)floor(span + 1e-9) + 1;
    int64_t shape[1] = {n};
    rt_tensor *t = NULL;
    rt_status st = alloc_tensor("arange", dt, 1, shape, 0, &t);
    if (st != RT_OK) return st;
    for (int64_t i = 0; i < n; i++) {
        int64_t idx[1] = {i};
        rt_tensor_set(t, idx, start + (double)i * step);
    }
    t->storage->version = 0;
    *out = t;
    return RT_OK;
}

rt_status rt_linspace(rt_dtype dt, double a, double b, int64_t n, rt_tensor **out)
{
    if (n < 0)
        return rt_fail(RT_EARG, -1, "linspace: number of points %lld is negative", (long long)n);
    if (!isfinite(a) || !isfinite(b))
        return rt_fail(RT_EARG, -1, "linspace: end points must be finite (got %g, %g)", a, b);
    int64_t shape[1] = {n};
    rt_tensor *t = NULL;
    rt_status st = alloc_tensor("linspace", dt, 1, shape, 0, &t);
    if (st != RT_OK) return st;
    for (int64_t i = 0; i < n; i++) {
        int64_t idx[1] = {i};
        /* Both ends exact: fill from each end toward the middle, as NumPy does. */
        double v = n == 1 ? a : (i < n / 2 ? a + (b - a) * (double)i / (double)(n - 1)
                                           : b - (b - a) * (double)(n - 1 - i) / (double)(n - 1));
        rt_tensor_set(t, idx, v);
    }
    t->storage->version = 0;
    *out = t;
    return RT_OK;
}

rt_status rt_eye(rt_dtype dt, int64_t n, int64_t m, rt_tensor **out)
{
    int64_t shape[2] = {n, m};
    rt_tensor *t = NULL;
    rt_status st = alloc_tensor("eye", dt, 2, shape, 1, &t);
    if (st != RT_OK) return st;
    for (int64_t i = 0; i < n && i < m; i++) {
        int64_t idx[2] = {i, i};
        rt_tensor_set(t, idx, 1.0);
    }
    t->storage->version = 0;
    *out = t;
    return RT_OK;
}
