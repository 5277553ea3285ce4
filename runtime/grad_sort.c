/* grad_sort.c — autograd for the ops that select elements by position: max/min along a dim
** (values and indices), sort and topk.  Their values are differentiable through the saved
** indices: the backward puts gout back at those positions (take_along_dim / put_along_dim, a
** pair of ops that are each other's backward, so every derivative order works).  Indices never
** carry a gradient. */
#include <string.h>
#include "internal.h"
#include "rt_autograd.h"
#include "rt_ad_shape.h"
#include "rt_ad_reduce.h"
#include "rt_index.h"

static int norm_dim(const rt_tensor *x, int dim)
{
    return x->ndim == 0 ? 0 : dim < 0 ? dim + x->ndim : dim;
}

/* Records op over in with iarg[0] = dim and saves index (non-differentiable). */
static rt_status finish_indexed(const rt_opdef *op, const rt_tensor *in, rt_tensor *o, int dim,
                                int64_t flag, rt_tensor *index, rt_tensor **out)
{
    int64_t a[2] = { dim, flag };
    rt_status st = rti_finish(op, 1, (rt_tensor *const *)&in, o, a, 2, out);
    if (st == RT_OK && (*out)->node && (*out)->node->op == op) {
        st = rt_node_save((*out)->node, index);
        if (st != RT_OK) {
            rt_tensor_release(*out);
            *out = NULL;
        }
    }
    return st;
}

/* ---- take_along_dim / put_along_dim ----------------------------------------------------------
** iarg[0] = dim; saved[0] = the index.  Both are linear in their tensor input. */
static rt_status take_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    const rt_tensor *x = n->in[0];
    return rt_ad_put_along_dim(g[0], (int)n->iarg[0], n->saved[0], x->ndim, x->shape, gin);
}
static const rt_opdef op_take = { "take_along_dim", take_bw, 0 };

static rt_status put_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    return rt_ad_take_along_dim(g[0], (int)n->iarg[0], n->saved[0], gin);
}
static const rt_opdef op_put = { "put_along_dim", put_bw, 0 };

rt_status rt_ad_take_along_dim(const rt_tensor *x, int dim, const rt_tensor *index,
                               rt_tensor **out)
{
    rt_tensor *o = NULL;
    rt_status st = rt_gather(x, dim, index, &o);
    if (st != RT_OK) return st;
    return finish_indexed(&op_take, x, o, norm_dim(x, dim), 0, (rt_tensor *)index, out);
}

rt_status rt_ad_put_along_dim(const rt_tensor *src, int dim, const rt_tensor *index, int ndim,
                              const int64_t *shape, rt_tensor **out)
{
    char s1[96], s2[96];
    if (!rt_same_shape(src, index))
        return rt_fail(RT_ESHAPE, 0, "put_along_dim: src %s and index %s must have the same "
                       "shape", rt_shape_str(src->ndim, src->shape, s1, sizeof s1),
                       rt_shape_str(index->ndim, index->shape, s2, sizeof s2));
    rt_tensor *z = NULL, *o = NULL;
    rt_status st = rt_zeros(src->dtype, ndim, shape, &z);
    if (st == RT_OK) st = rt_scatter_add(z, dim, index, src, &o);
    rt_tensor_release(z);
    if (st != RT_OK) return st;
    return finish_indexed(&op_put, src, o, ndim == 0 ? 0 : dim < 0 ? dim + ndim : dim, 0,
                          (rt_tensor *)index, out);
}

/* ---- max/min along a dim, sort, topk -----------------------------------------------------------
** iarg[0] = dim, iarg[1] = 1 when the dim was removed from the values (keepdim off); saved[0] =
** the indices with the dim kept, so gout goes back with put_along_dim. */
static rt_status select_bw(rt_node *n, rt_tensor *const *g, rt_tensor **gin)
{
    const rt_tensor *x = n->in[0];
    int dim = (int)n->iarg[0];
    if (x->ndim == 0) {   /* one element: values are x itself (or empty for topk k = 0) */
        if (rt_tensor_numel(g[0]) == 0) return rt_zeros(x->dtype, 0, NULL, gin);
        return rt_ad_reshape(g[0], 0, NULL, gin);
    }
    if (!n->iarg[1]) return rt_ad_put_along_dim(g[0], dim, n->saved[0], x->ndim, x->shape, gin);
    rt_tensor *gk = NULL;
    rt_status st = rt_ad_unsqueeze(g[0], dim, &gk);
    if (st == RT_OK) st = rt_ad_put_along_dim(gk, dim, n->saved[0], x->ndim, x->shape, gin);
    rt_tensor_release(gk);
    return st;
}

static const rt_opdef op_max_dim = { "max_dim", select_bw, 0 };
static const rt_opdef op_min_dim = { "min_dim", select_bw, 0 };
static const rt_opdef op_sort = { "sort", select_bw, 0 };
static const rt_opdef op_topk = { "topk", select_bw, 0 };

/* Hands out values (recording op when needed) and indices; on failure releases both. */
static rt_status finish_select(const rt_opdef *op, const rt_tensor *x, int dim, int squeezed,
                               rt_tensor *v, rt_tensor *ix, rt_tensor **values,
                               rt_tensor **indices)
{
    rt_tensor *kept = ix, *o = NULL;
    rt_status st = RT_OK;
    dim = norm_dim(x, dim);
    if (!rt_dtype_is_float(v->dtype) || !rt_any_requires_grad(1, (rt_tensor *const *)&x)) {
        *values = v;
        *indices = ix;
        return RT_OK;
    }
    if (squeezed && x->ndim > 0) st = rt_view_unsqueeze(ix, dim, &kept);
    else rt_tensor_retain(kept);
    if (st != RT_OK) {
        rt_tensor_release(v);
        rt_tensor_release(ix);
        return st;
    }
    st = finish_indexed(op, x, v, dim, squeezed && x->ndim > 0, kept, &o);
    rt_tensor_release(kept);
    if (st != RT_OK) {
        rt_tensor_release(ix);
        return st;
    }
    *values = o;
    *indices = ix;
    return RT_OK;
}

rt_status rt_ad_max_dim(const rt_tensor *x, int dim, int keepdim, rt_tensor **values,
                        rt_tensor **indices)
{
    rt_tensor *v = NULL, *ix = NULL;
    rt_status st = rt_max_dim(x, dim, keepdim, &v, &ix);
    if (st != RT_OK) return st;
    return finish_select(&op_max_dim, x, dim, !keepdim, v, ix, values, indices);
}

rt_status rt_ad_min_dim(const rt_tensor *x, int dim, int keepdim, rt_tensor **values,
                        rt_tensor **indices)
{
    rt_tensor *v = NULL, *ix = NULL;
    rt_status st = rt_min_dim(x, dim, keepdim, &v, &ix);
    if (st != RT_OK) return st;
    return finish_select(&op_min_dim, x, dim, !keepdim, v, ix, values, indices);
}

rt_status rt_ad_sort(const rt_tensor *x, int dim, int descending, rt_tensor **values,
                     rt_tensor **indices)
{
    rt_tensor *v = NULL, *ix = NULL;
    rt_status st = rt_sort(x, dim, descending, &v, &ix);
    if (st != RT_OK) return st;
    return finish_select(&op_sort, x, dim, 0, v, ix, values, indices);
}

rt_status rt_ad_topk(const rt_tensor *x, int64_t k, int dim, int largest, rt_tensor **values,
                     rt_tensor **indices)
{
    rt_tensor *v = NULL, *ix = NULL;
    rt_status st = rt_topk(x, k, dim, largest, &v, &ix);
    if (st != RT_OK) return st;
    return finish_select(&op_topk, x, dim, 0, v, ix, values, indices);
}
