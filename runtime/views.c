/* views.c — views that share storage: reshape (when strides allow), transpose, permute,
** narrow, select, slice, expand, squeeze, unsqueeze; plus reshape/flatten that fall back to
** a copy when no view exists, and broadcasting of shapes. */
#include <string.h>
#include "internal.h"

rt_status rti_make_view(const rt_tensor *t, int ndim, const int64_t *shape,
                        const int64_t *strides, int64_t offset, rt_tensor **out)
{
    rt_tensor *v = rti_tensor_alloc(t->dtype, ndim, shape);
    if (!v) return RT_ENOMEM;
    for (int i = 0; i < ndim; i++) v->strides[i] = strides[i];
    v->offset = offset;
    v->storage = t->storage;
    v->storage->refcount++;
    *out = v;
    return RT_OK;
}

rt_status rti_check_dim(const char *op, int *dim, int ndim)
{
    int d = *dim < 0 ? *dim + ndim : *dim;
    if (d < 0 || d >= ndim)
        return rt_fail(RT_EARG, 0, "%s: dimension %d out of range for a %d-d tensor", op,
                       *dim, ndim);
    *dim = d;
    return RT_OK;
}

rt_status rti_broadcast_shape(const char *op, int na, const int64_t *sa, int nb,
                              const int64_t *sb, int *nout, int64_t *sout)
{
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        int ia = na - n + i, ib = nb - n + i;
        int64_t a = ia >= 0 ? sa[ia] : 1, b = ib >= 0 ? sb[ib] : 1;
        if (a != b && a != 1 && b != 1) {
            char s1[128], s2[128];
            return rt_fail(RT_ESHAPE, -1, "%s: shapes %s and %s cannot be broadcast (size %lld "
                           "vs %lld in dimension %d)", op, rt_shape_str(na, sa, s1, sizeof s1),
                           rt_shape_str(nb, sb, s2, sizeof s2), (long long)a, (long long)b, i + 1);
        }
        sout[i] = a == 1 ? b : a;
    }
    *nout = n;
    return RT_OK;
}

rt_status rt_view_alias(const rt_tensor *t, rt_tensor **out)
{
    return rti_make_view(t, t->ndim, t->shape, t->strides, t->offset, out);
}

/* ---- reshape --------------------------------------------------------------------- */
/* Resolves one -1 and checks the element count. */
static rt_status infer_shape(const char *op, const rt_tensor *t, int ndim, const int64_t *shape,
                             int64_t *res)
{
    char s1[128], s2[128];
    if (ndim < 0 || ndim > RT_MAXDIM)
        return rt_fail(RT_EARG, 1, "%s: %d dimensions requested, at most %d are supported", op,
                       ndim, RT_MAXDIM);
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < ndim; i++) {
        res[i] = shape[i];
        if (shape[i] == -1 && infer < 0) {
            infer = i;
        } else if (shape[i] < 0) {
            return rt_fail(RT_EARG, 1, "%s: invalid size %lld in shape %s", op,
                           (long long)shape[i], rt_shape_str(ndim, shape, s1, sizeof s1));
        } else {
            known *= shape[i];
        }
    }
    int64_t n = rt_tensor_numel(t);
    if (infer >= 0) {
        if (known == 0 || n % known != 0)
            return rt_fail(RT_ESHAPE, 1, "%s: cannot reshape %s (%lld elements) to %s", op,
                           rt_shape_str(t->ndim, t->shape, s1, sizeof s1), (long long)n,
                           rt_shape_str(ndim, shape, s2, sizeof s2));
        res[infer] = n / known;
        known = n;
    }
    if (known != n)
        return rt_fail(RT_ESHAPE, 1, "%s: cannot reshape %s (%lld elements) to %s (%lld elements)",
                       op, rt_shape_str(t->ndim, t->shape, s1, sizeof s1), (long long)n,
                       rt_shape_str(ndim, res, s2, sizeof s2), (long long)known);
    return RT_OK;
}

/* Strides for viewing t as `shape` without a copy, if possible.  Old dims are grouped into
** chunks that are contiguous with each other; each chunk must be covered exactly by a run of
** new dims, which then get strides inside the chunk.  Returns 0 when no view exists. */
static int view_strides(const rt_tensor *t, int ndim, const int64_t *shape, int64_t *strides)
{
    if (rt_tensor_numel(t) == 0 || t->ndim == 0) {
        rti_contig_strides(ndim, shape, strides);
        return 1;
    }
    int vd = ndim - 1;
    int64_t base = t->strides[t->ndim - 1], tn = 1, vn = 1;
    for (int td = t->ndim - 1; td >= 0; td--) {
        tn *= t->shape[td];
        int chunk_ends = td == 0 || (t->shape[td - 1] != 1 &&
                                     t->strides[td - 1] != tn * base);
        if (!chunk_ends) continue;
        while (vd >= 0 && (vn < tn || shape[vd] == 1)) {
            strides[vd] = vn * base;
            vn *= shape[vd];
            vd--;
        }
        if (vn != tn) return 0;
        if (td > 0) {
            base = t->strides[td - 1];
            tn = vn = 1;
        }
    }
    return vd == -1;
}

rt_status rt_view_reshape(const rt_tensor *t, int ndim, const int64_t *shape, rt_tensor **out)
{
    int64_t res[RT_MAXDIM] = {0}, strides[RT_MAXDIM] = {0};
    rt_status st = infer_shape("view", t, ndim, shape, res);
    if (st != RT_OK) return st;
    if (!view_strides(t, ndim, res, strides)) {
        char s1[128], s2[128];
        return rt_fail(RT_ESHAPE, 0, "view: a tensor of shape %s with its strides cannot be "
                       "viewed as %s; call contiguous() first or use reshape",
                       rt_shape_str(t->ndim, t->shape, s1, sizeof s1),
                       rt_shape_str(ndim, res, s2, sizeof s2));
    }
    return rti_make_view(t, ndim, res, strides, t->offset, out);
}

rt_status rt_reshape(const rt_tensor *t, int ndim, const int64_t *shape, rt_tensor **out)
{
    int64_t res[RT_MAXDIM] = {0}, strides[RT_MAXDIM] = {0};
    rt_status st = infer_shape("reshape", t, ndim, shape, res);
    if (st != RT_OK) return st;
    if (view_strides(t, ndim, res, strides))
        return rti_make_view(t, ndim, res, strides, t->offset, out);
    rt_tensor *c;
    st = rt_clone(t, &c);
    if (st != RT_OK) return st;
    st = rt_view_reshape(c, ndim, res, out);
    rt_tensor_release(c);
    return st;
}

rt_status rt_flatten(const rt_tensor *t, int d1, int d2, rt_tensor **out)
{
    if (t->ndim == 0) return rt_reshape(t, 1, (int64_t[]){1}, out);
    rt_status st = rti_check_dim("flatten", &d1, t->ndim);
    if (st == RT_OK) st = rti_check_dim("flatten", &d2, t->ndim);
    if (st != RT_OK) return st;
    if (d1 > d2)
        return rt_fail(RT_EARG, 1, "flatten: start dimension %d is after end dimension %d",
                       d1 + 1, d2 + 1);
    int64_t shape[RT_MAXDIM];
    int n = 0;
    for (int i = 0; i < d1; i++) shape[n++] = t->shape[i];
    int64_t m = 1;
    for (int i = d1; i <= d2; i++) m *= t->shape[i];
    shape[n++] = m;
    for (int i = d2 + 1; i < t->ndim; i++) shape[n++] = t->shape[i];
    return rt_reshape(t, n, shape, out);
}

/* ---- transpose and permute ------------------------------------------------------- */
rt_status rt_view_transpose(const rt_tensor *t, int d1, int d2, rt_tensor **out)
{
    rt_status st = rti_check_dim("transpose", &d1, t->ndim);
    if (st == RT_OK) st = rti_check_dim("transpose", &d2, t->ndim);
    if (st != RT_OK) return st;
    int64_t shape[RT_MAXDIM] = {0}, strides[RT_MAXDIM] = {0};
    memcpy(shape, t->shape, sizeof shape);
    memcpy(strides, t->strides, sizeof strides);
    shape[d1] = t->shape[d2], shape[d2] = t->shape[d1];
    strides[d1] = t->strides[d2], strides[d2] = t->strides[d1];
    return rti_make_view(t, t->ndim, shape, strides, t->offset, out);
}

rt_status rt_view_permute(const rt_tensor *t, const int *perm, rt_tensor **out)
{
    int seen[RT_MAXDIM] = {0};
    int64_t shape[RT_MAXDIM] = {0}, strides[RT_MAXDIM] = {0};
    for (int i = 0; i < t->ndim; i++) {
        int d = perm[i];
        rt_status st = rti_check_dim("permute", &d, t->ndim);
        if (st != RT_OK) return st;
        if (seen[d]++)
            return rt_fail(RT_EARG, 1, "permute: dimension %d appears twice", d + 1);
        shape[i] = t->shape[d];
        strides[i] = t->strides[d];
    }
    return rti_make_view(t, t->ndim, shape, strides, t->offset, out);
}

/* ---- narrow, select, slice ------------------------------------------------------- */
rt_status rt_view_narrow(const rt_tensor *t, int dim, int64_t start, int64_t len,
                         rt_tensor **out)
{
    rt_status st = rti_check_dim("narrow", &dim, t->ndim);
    if (st != RT_OK) return st;
    if (start < 0 || len < 0 || start + len > t->shape[dim])
        return rt_fail(RT_EINDEX, 1, "narrow: range of %lld elements from index %lld does not "
                       "fit in dimension %d of size %lld", (long long)len, (long long)start,
                       dim + 1, (long long)t->shape[dim]);
    int64_t shape[RT_MAXDIM];
    memcpy(shape, t->shape, sizeof shape);
    shape[dim] = len;
    return rti_make_view(t, t->ndim, shape, t->strides, t->offset + start * t->strides[dim], out);
}

rt_status rt_view_select(const rt_tensor *t, int dim, int64_t index, rt_tensor **out)
{
    if (t->ndim == 0)
        return rt_fail(RT_EARG, 0, "select: cannot index a 0-d tensor");
    rt_status st = rti_check_dim("select", &dim, t->ndim);
    if (st != RT_OK) return st;
    if (index < 0 || index >= t->shape[dim])
        return rt_fail(RT_EINDEX, 1, "select: index %lld out of range for dimension %d of "
                       "size %lld", (long long)index, dim + 1, (long long)t->shape[dim]);
    int64_t shape[RT_MAXDIM] = {0}, strides[RT_MAXDIM] = {0};
    int n = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (i == dim) continue;
        shape[n] = t->shape[i];
        strides[n++] = t->strides[i];
    }
    return rti_make_view(t, n, shape, strides, t->offset + index * t->strides[dim], out);
}

rt_status rt_view_slice(const rt_tensor *t, int dim, int64_t start, int64_t stop, int64_t step,
                        rt_tensor **out)
{
    rt_status st = rti_check_dim("slice", &dim, t->ndim);
    if (st != RT_OK) return st;
    int64_t size = t->shape[dim];
    if (step < 1)
        return rt_fail(RT_EARG, 3, "slice: step must be positive, got %lld", (long long)step);
    if (start < 0 || start > size || stop < start || stop > size)
        return rt_fail(RT_EINDEX, 1, "slice: range [%lld, %lld) does not fit in dimension %d "
                       "of size %lld", (long long)start, (long long)stop, dim + 1,
                       (long long)size);
    int64_t shape[RT_MAXDIM] = {0}, strides[RT_MAXDIM] = {0};
    memcpy(shape, t->shape, sizeof shape);
    memcpy(strides, t->strides, sizeof strides);
    shape[dim] = (stop - start + step - 1) / step;
    strides[dim] = t->strides[dim] * step;
    return rti_make_view(t, t->ndim, shape, strides, t->offset + start * t->strides[dim], out);
}

/* ---- expand, squeeze, unsqueeze ------------------------------------------------- */
rt_status rt_view_expand(const rt_tensor *t, int ndim, const int64_t *shape, rt_tensor **out)
{
    char s1[128], s2[128];
    if (ndim < t->ndim || ndim > RT_MAXDIM)
        return rt_fail(RT_ESHAPE, 1, "expand: cannot expand %s to %s (fewer dimensions)",
                       rt_shape_str(t->ndim, t->shape, s1, sizeof s1),
                       rt_shape_str(ndim, shape, s2, sizeof s2));
    int64_t strides[RT_MAXDIM] = {0}, res[RT_MAXDIM] = {0};
    int lead = ndim - t->ndim;
    for (int i = 0; i < ndim; i++) {
        int j = i - lead;
        int64_t want = shape[i];
        if (j < 0) {
            if (want < 0) goto bad;
            res[i] = want, strides[i] = 0;
        } else if (want == -1 || want == t->shape[j]) {
            res[i] = t->shape[j], strides[i] = t->strides[j];
        } else if (t->shape[j] == 1 && want >= 0) {
            res[i] = want, strides[i] = 0;
        } else {
            goto bad;
        }
    }
    return rti_make_view(t, ndim, res, strides, t->offset, out);
bad:
    return rt_fail(RT_ESHAPE, 1, "expand: cannot expand %s to %s (only size-1 dimensions "
                   "can grow)", rt_shape_str(t->ndim, t->shape, s1, sizeof s1),
                   rt_shape_str(ndim, shape, s2, sizeof s2));
}

rt_status rt_view_squeeze(const rt_tensor *t, int dim, rt_tensor **out)
{
    int64_t shape[RT_MAXDIM] = {0}, strides[RT_MAXDIM] = {0};
    int n = 0;
    if (dim != -1 || t->ndim == 0) {
        if (t->ndim == 0) return rt_view_alias(t, out);
        rt_status st = rti_check_dim("squeeze", &dim, t->ndim);
        if (st != RT_OK) return st;
    }
    for (int i = 0; i < t->ndim; i++) {
        int drop = dim == -1 ? t->shape[i] == 1 : (i == dim && t->shape[i] == 1);
        if (drop) continue;
        shape[n] = t->shape[i];
        strides[n++] = t->strides[i];
    }
    return rti_make_view(t, n, shape, strides, t->offset, out);
}

rt_status rt_view_unsqueeze(const rt_tensor *t, int dim, rt_tensor **out)
{
    if (t->ndim >= RT_MAXDIM)
        return rt_fail(RT_ESHAPE, 0, "unsqueeze: tensor already has %d dimensions", RT_MAXDIM);
    if (dim < 0) dim += t->ndim + 1;
    if (dim < 0 || dim > t->ndim)
        return rt_fail(RT_EARG, 1, "unsqueeze: position %d out of range for a %d-d tensor",
                       dim, t->ndim);
    int64_t shape[RT_MAXDIM] = {0}, strides[RT_MAXDIM] = {0};
    int n = 0;
    for (int i = 0; i <= t->ndim; i++) {
        if (i == dim) {
            shape[n] = 1;
            strides[n++] = i < t->ndim ? t->strides[i] * t->shape[i] : 1;
        }
        if (i < t->ndim) {
            shape[n] = t->shape[i];
            strides[n++] = t->strides[i];
        }
    }
    return rti_make_view(t, n, shape, strides, t->offset, out);
}

/* ---- (N,C,H,W) geometry shared by pooling and resampling --------------------------------- */
rt_status rti_get_nchw(const char *op, const char *what, const rt_tensor *t, rti_nchw *g)
{
    char s[128];
    if (t->ndim != 3 && t->ndim != 4)
        return rt_fail(RT_ESHAPE, 0, "%s: %s %s has %d dimensions, expected [N,C,H,W] or "
                       "[C,H,W]", op, what, rt_shape_str(t->ndim, t->shape, s, sizeof s),
                       t->ndim);
    if (!rt_dtype_is_float(t->dtype))
        return rt_fail(RT_EDTYPE, 0, "%s: %s has dtype %s, expected f32 or f64", op, what,
                       rt_dtype_name(t->dtype));
    int off = 4 - t->ndim;
    g->ndim = t->ndim;
    g->s[0] = 0;
    for (int i = 0; i < t->ndim; i++) g->s[i + off] = t->strides[i];
    g->n = off ? 1 : t->shape[0];
    g->c = t->shape[1 - off];
    g->h = t->shape[2 - off];
    g->w = t->shape[3 - off];
    return RT_OK;
}

rt_status rti_new_nchw(rt_dtype dt, const rti_nchw *g, int64_t oh, int64_t ow, int zero,
                       rt_tensor **out)
{
    int64_t shape[4] = { g->n, g->c, oh, ow };
    const int64_t *sh = g->ndim == 4 ? shape : shape + 1;
    return zero ? rt_zeros(dt, g->ndim, sh, out) : rt_empty(dt, g->ndim, sh, out);
}
