/* grad_shape.c — differentiable views and copies (reshape, transpose, permute, slice, select,
** expand, squeeze, unsqueeze, contiguous, clone, dtype conversion, sum_to).  Each forward is
** the core view/copy; each backward is another op of this file, so every order of derivative
** works. */
#include <string.h>
#include "internal.h"
#include "rt_autograd.h"
#include "rt_ad_shape.h"
#include "rt_reduce.h"

/* The gradient flowing to x reshaped back to x's shape (views that only regroup elements). */
static rt_status reshape_back(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    const rt_tensor *x = n->in[0];
    return rt_ad_reshape(gout[0], x->ndim, x->shape, &gin[0]);
}

/* ---- view / reshape / flatten / squeeze / unsqueeze -------------------------------------- */
static const rt_opdef op_view = { "view", reshape_back, 0 };
static const rt_opdef op_reshape = { "reshape", reshape_back, 0 };
static const rt_opdef op_squeeze = { "squeeze", reshape_back, 0 };
static const rt_opdef op_unsqueeze = { "unsqueeze", reshape_back, 0 };

rt_status rt_ad_view(const rt_tensor *x, int ndim, const int64_t *shape, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_view_reshape(x, ndim, shape, &o);
    return st != RT_OK ? st : rti_finish(&op_view, 1, (rt_tensor *const *)&x, o, NULL, 0, out);
}

rt_status rt_ad_reshape(const rt_tensor *x, int ndim, const int64_t *shape, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_reshape(x, ndim, shape, &o);
    return st != RT_OK ? st : rti_finish(&op_reshape, 1, (rt_tensor *const *)&x, o, NULL, 0, out);
}

rt_status rt_ad_flatten(const rt_tensor *x, int d1, int d2, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_flatten(x, d1, d2, &o);
    return st != RT_OK ? st : rti_finish(&op_reshape, 1, (rt_tensor *const *)&x, o, NULL, 0, out);
}

rt_status rt_ad_squeeze(const rt_tensor *x, int dim, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_view_squeeze(x, dim, &o);
    return st != RT_OK ? st : rti_finish(&op_squeeze, 1, (rt_tensor *const *)&x, o, NULL, 0, out);
}

rt_status rt_ad_unsqueeze(const rt_tensor *x, int dim, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_view_unsqueeze(x, dim, &o);
    return st != RT_OK ? st
                       : rti_finish(&op_unsqueeze, 1, (rt_tensor *const *)&x, o, NULL, 0, out);
}

/* ---- transpose / permute ------------------------------------------------------------------ */
static rt_status transpose_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    return rt_ad_transpose(gout[0], (int)n->iarg[0], (int)n->iarg[1], &gin[0]);
}
static const rt_opdef op_transpose = { "transpose", transpose_backward, 0 };

rt_status rt_ad_transpose(const rt_tensor *x, int d1, int d2, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_view_transpose(x, d1, d2, &o);
    int64_t a[2] = { d1, d2 };
    return st != RT_OK ? st : rti_finish(&op_transpose, 1, (rt_tensor *const *)&x, o, a, 2, out);
}

/* out dim i is input dim perm[i], so the gradient goes back through the inverse perm. */
static rt_status permute_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    int inv[RT_MAXDIM];
    for (int i = 0; i < n->in[0]->ndim; i++) inv[n->iarg[i]] = i;
    return rt_ad_permute(gout[0], inv, &gin[0]);
}
static const rt_opdef op_permute = { "permute", permute_backward, 0 };

rt_status rt_ad_permute(const rt_tensor *x, const int *perm, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_view_permute(x, perm, &o);
    int64_t a[RT_MAXDIM];
    for (int i = 0; i < x->ndim; i++) a[i] = perm[i] < 0 ? perm[i] + x->ndim : perm[i];
    return st != RT_OK ? st
                       : rti_finish(&op_permute, 1, (rt_tensor *const *)&x, o, a, x->ndim, out);
}

/* ---- slice / narrow / select and their adjoint ---------------------------------------------
** iarg: dim, start, stop, step, squeeze (select removes the dim). */
static rt_status slice_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    const rt_tensor *x = n->in[0];
    const int64_t *a = n->iarg;
    return rt_ad_slice_backward(gout[0], x->ndim, x->shape, (int)a[0], a[1], a[2], a[3],
                                (int)a[4], &gin[0]);
}
static const rt_opdef op_slice = { "slice", slice_backward, 0 };
static const rt_opdef op_select = { "select", slice_backward, 0 };

rt_status rt_ad_slice(const rt_tensor *x, int dim, int64_t start, int64_t stop, int64_t step,
                      rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_view_slice(x, dim, start, stop, step, &o);
    if (st != RT_OK) return st;
    int64_t a[5] = { dim < 0 ? dim + x->ndim : dim, start, stop, step, 0 };
    return rti_finish(&op_slice, 1, (rt_tensor *const *)&x, o, a, 5, out);
}

rt_status rt_ad_narrow(const rt_tensor *x, int dim, int64_t start, int64_t len, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_view_narrow(x, dim, start, len, &o);
    if (st != RT_OK) return st;
    int64_t a[5] = { dim < 0 ? dim + x->ndim : dim, start, start + len, 1, 0 };
    return rti_finish(&op_slice, 1, (rt_tensor *const *)&x, o, a, 5, out);
}

rt_status rt_ad_select(const rt_tensor *x, int dim, int64_t index, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_view_select(x, dim, index, &o);
    if (st != RT_OK) return st;
    int64_t a[5] = { dim < 0 ? dim + x->ndim : dim, index, index + 1, 1, 1 };
    return rti_finish(&op_select, 1, (rt_tensor *const *)&x, o, a, 5, out);
}

/* The adjoint of slicing is slicing again. */
static rt_status embed_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    const int64_t *a = n->iarg;
    if (a[4]) return rt_ad_select(gout[0], (int)a[0], a[1], &gin[0]);
    return rt_ad_slice(gout[0], (int)a[0], a[1], a[2], a[3], &gin[0]);
}
static const rt_opdef op_embed = { "slice_backward", embed_backward, 0 };

rt_status rt_ad_slice_backward(const rt_tensor *g, int ndim, const int64_t *shape, int dim,
                               int64_t start, int64_t stop, int64_t step, int squeeze,
                               rt_tensor **out)
{
    rt_tensor *z, *v;
    rt_status st = rt_zeros(g->dtype, ndim, shape, &z);
    if (st != RT_OK) return st;
    st = squeeze ? rt_view_select(z, dim, start, &v) : rt_view_slice(z, dim, start, stop, step, &v);
    if (st == RT_OK) {
        st = rt_copy_(v, g);
        rt_tensor_release(v);
    }
    if (st != RT_OK) {
        rt_tensor_release(z);
        return st;
    }
    z->storage->version = 0;
    int64_t a[5] = { dim, start, stop, step, squeeze };
    return rti_finish(&op_embed, 1, (rt_tensor *const *)&g, z, a, 5, out);
}

/* ---- expand and its adjoint sum_to ---------------------------------------------------------- */
static rt_status expand_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    const rt_tensor *x = n->in[0];
    return rt_ad_sum_to(gout[0], x->ndim, x->shape, &gin[0]);
}
static const rt_opdef op_expand = { "expand", expand_backward, 0 };

rt_status rt_ad_expand(const rt_tensor *x, int ndim, const int64_t *shape, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_view_expand(x, ndim, shape, &o);
    return st != RT_OK ? st : rti_finish(&op_expand, 1, (rt_tensor *const *)&x, o, NULL, 0, out);
}

static rt_status sum_to_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    const rt_tensor *x = n->in[0];
    rt_tensor *e;
    rt_status st = rt_ad_expand(gout[0], x->ndim, x->shape, &e);
    if (st != RT_OK) return st;
    /* a fresh, writable gradient (an expanded view must not become a .grad) */
    st = rt_ad_contiguous(e, &gin[0]);
    rt_tensor_release(e);
    return st;
}
static const rt_opdef op_sum_to = { "sum_to", sum_to_backward, 0 };

rt_status rt_ad_sum_to(const rt_tensor *x, int ndim, const int64_t *shape, rt_tensor **out)
{
    if (ndim == x->ndim && (ndim == 0 || memcmp(shape, x->shape, (size_t)ndim * sizeof *shape) == 0)) {
        rt_tensor_retain((rt_tensor *)x);
        *out = (rt_tensor *)x;
        return RT_OK;
    }
    rt_tensor *o;
    rt_status st = rt_sum_to(x, ndim, shape, &o);
    return st != RT_OK ? st : rti_finish(&op_sum_to, 1, (rt_tensor *const *)&x, o, NULL, 0, out);
}

/* ---- contiguous / clone / dtype ------------------------------------------------------------- */
static rt_status identity_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    (void)n;
    rt_tensor_retain(gout[0]);
    gin[0] = gout[0];
    return RT_OK;
}
static const rt_opdef op_contiguous = { "contiguous", identity_backward, 0 };
static const rt_opdef op_clone = { "clone", identity_backward, 0 };

rt_status rt_ad_contiguous(const rt_tensor *x, rt_tensor **out)
{
    if (rt_tensor_is_contiguous(x)) {
        rt_tensor_retain((rt_tensor *)x);   /* same tensor, same history */
        *out = (rt_tensor *)x;
        return RT_OK;
    }
    rt_tensor *o;
    rt_status st = rt_clone(x, &o);
    return st != RT_OK ? st
                       : rti_finish(&op_contiguous, 1, (rt_tensor *const *)&x, o, NULL, 0, out);
}

rt_status rt_ad_clone(const rt_tensor *x, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_clone(x, &o);
    return st != RT_OK ? st : rti_finish(&op_clone, 1, (rt_tensor *const *)&x, o, NULL, 0, out);
}

static rt_status to_dtype_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    return rt_ad_to_dtype(gout[0], n->in[0]->dtype, &gin[0]);
}
static const rt_opdef op_to_dtype = { "to", to_dtype_backward, 0 };

rt_status rt_ad_to_dtype(const rt_tensor *x, rt_dtype dt, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_to_dtype(x, dt, &o);
    if (st != RT_OK) return st;
    if (!rt_dtype_is_float(dt)) {   /* integers carry no gradient */
        *out = o;
        return RT_OK;
    }
    return rti_finish(&op_to_dtype, 1, (rt_tensor *const *)&x, o, NULL, 0, out);
}
