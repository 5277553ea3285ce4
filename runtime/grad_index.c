/* grad_index.c — autograd for indexed reads and writes: index_select / index_add,
** gather / scatter_add, masked_fill / masked_select, embedding / embedding_backward.  The ops
** come in adjoint pairs, so every backward is another differentiable op of this file and
** derivatives of any order work.  Index tensors and masks are saved on the node and never
** differentiated.  Not here: cat, stack, split (grad_join.c); one_hot and nonzero (no
** gradient: callers use the kernels). */
#include "internal.h"
#include "rt_autograd.h"
#include "rt_ad_shape.h"
#include "rt_ad_elementwise.h"
#include "rt_ad_index.h"

static int64_t norm_dim(int dim, int ndim) { return dim < 0 ? dim + ndim : dim; }

/* rti_finish, then saves `keep` (an index or a mask) on the node if one was recorded: the
** kernels' outputs are fresh, so a node on the result is the one just made. */
static rt_status finish_saving(const rt_opdef *op, int nin, rt_tensor *const *in, rt_tensor *o,
                               const int64_t *iarg, int narg, const rt_tensor *keep,
                               rt_tensor **out)
{
    rt_tensor *r;
    rt_status st = rti_finish(op, nin, in, o, iarg, narg, &r);
    if (st != RT_OK) return st;
    if (r->node) {
        st = rt_node_save(r->node, (rt_tensor *)keep);
        if (st != RT_OK) {
            rt_tensor_release(r);
            return st;
        }
    }
    *out = r;
    return RT_OK;
}

/* The gradient of an input that the output copies unchanged (x in index_add, scatter_add). */
static void pass_through(rt_tensor *gout, rt_tensor **gin)
{
    rt_tensor_retain(gout);
    *gin = gout;
}

/* ---- index_select / index_add ---------------------------------------------------------------
** iarg[0] = dim (0-based, non-negative); saved[0] = the index. */
static rt_status index_select_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    const rt_tensor *x = n->in[0];
    rt_tensor *z;
    rt_status st = rt_zeros(gout[0]->dtype, x->ndim, x->shape, &z);
    if (st != RT_OK) return st;
    st = rt_ad_index_add(z, (int)n->iarg[0], n->saved[0], gout[0], &gin[0]);
    rt_tensor_release(z);
    return st;
}
static const rt_opdef op_index_select = { "index_select", index_select_backward, 0 };

rt_status rt_ad_index_select(const rt_tensor *x, int dim, const rt_tensor *index, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_index_select(x, dim, index, &o);
    if (st != RT_OK) return st;
    int64_t a[1] = { norm_dim(dim, x->ndim) };
    return finish_saving(&op_index_select, 1, (rt_tensor *const *)&x, o, a, 1, index, out);
}

static rt_status index_add_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    if (rt_node_needs(n, 0)) pass_through(gout[0], &gin[0]);
    if (!rt_node_needs(n, 1)) return RT_OK;
    return rt_ad_index_select(gout[0], (int)n->iarg[0], n->saved[0], &gin[1]);
}
static const rt_opdef op_index_add = { "index_add", index_add_backward, 0 };

rt_status rt_ad_index_add(const rt_tensor *x, int dim, const rt_tensor *index,
                          const rt_tensor *src, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_clone(x, &o);
    if (st != RT_OK) return st;
    st = rt_index_add_(o, dim, index, src);
    if (st != RT_OK) {
        rt_tensor_release(o);
        return st;
    }
    o->storage->version = 0;   /* a fresh result: the write that made it is not a later edit */
    rt_tensor *in[2] = { (rt_tensor *)x, (rt_tensor *)src };
    int64_t a[1] = { norm_dim(dim, x->ndim) };
    return finish_saving(&op_index_add, 2, in, o, a, 1, index, out);
}

/* ---- gather / scatter_add ---------------------------------------------------------------------
** iarg[0] = dim; saved[0] = the index. */
static rt_status gather_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    const rt_tensor *x = n->in[0];
    rt_tensor *z;
    rt_status st = rt_zeros(gout[0]->dtype, x->ndim, x->shape, &z);
    if (st != RT_OK) return st;
    st = rt_ad_scatter_add(z, (int)n->iarg[0], n->saved[0], gout[0], &gin[0]);
    rt_tensor_release(z);
    return st;
}
static const rt_opdef op_gather = { "gather", gather_backward, 0 };

rt_status rt_ad_gather(const rt_tensor *x, int dim, const rt_tensor *index, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_gather(x, dim, index, &o);
    if (st != RT_OK) return st;
    int64_t a[1] = { norm_dim(dim, x->ndim) };
    return finish_saving(&op_gather, 1, (rt_tensor *const *)&x, o, a, 1, index, out);
}

/* The node's src input is the index-shaped corner of src that the kernel reads (a chain of
** differentiable narrows), so the rest of src gets zero gradient from rt_ad_narrow. */
static rt_status scatter_add_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    if (rt_node_needs(n, 0)) pass_through(gout[0], &gin[0]);
    if (!rt_node_needs(n, 1)) return RT_OK;
    return rt_ad_gather(gout[0], (int)n->iarg[0], n->saved[0], &gin[1]);
}
static const rt_opdef op_scatter_add = { "scatter_add", scatter_add_backward, 0 };

/* src narrowed to index's shape (the kernel has checked index.shape <= src.shape). */
static rt_status index_corner(const rt_tensor *src, const rt_tensor *index, rt_tensor **out)
{
    rt_tensor *cur = (rt_tensor *)src;
    rt_tensor_retain(cur);
    for (int d = 0; d < src->ndim; d++) {
        if (cur->shape[d] == index->shape[d]) continue;
        rt_tensor *v;
        rt_status st = rt_ad_narrow(cur, d, 0, index->shape[d], &v);
        rt_tensor_release(cur);
        if (st != RT_OK) return st;
        cur = v;
    }
    *out = cur;
    return RT_OK;
}

rt_status rt_ad_scatter_add(const rt_tensor *x, int dim, const rt_tensor *index,
                            const rt_tensor *src, rt_tensor **out)
{
    rt_tensor *o, *corner;
    rt_status st = rt_scatter_add(x, dim, index, src, &o);
    if (st != RT_OK) return st;
    if (rt_any_requires_grad(1, (rt_tensor *const *)&src)) {
        st = index_corner(src, index, &corner);
        if (st != RT_OK) {
            rt_tensor_release(o);
            return st;
        }
    } else {
        corner = (rt_tensor *)src;
        rt_tensor_retain(corner);
    }
    rt_tensor *in[2] = { (rt_tensor *)x, corner };
    int64_t a[1] = { norm_dim(dim, x->ndim) };
    st = finish_saving(&op_scatter_add, 2, in, o, a, 1, index, out);
    rt_tensor_release(corner);
    return st;
}

/* ---- masked_fill / masked_select --------------------------------------------------------------
** saved[0] = the mask. */
static rt_status masked_fill_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    return rt_ad_masked_fill(gout[0], n->saved[0], 0.0, &gin[0]);
}
static const rt_opdef op_masked_fill = { "masked_fill", masked_fill_backward, 0 };

rt_status rt_ad_masked_fill(const rt_tensor *x, const rt_tensor *mask, double value,
                            rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_masked_fill(x, mask, value, &o);
    if (st != RT_OK) return st;
    return finish_saving(&op_masked_fill, 1, (rt_tensor *const *)&x, o, NULL, 0, mask, out);
}

/* iarg[0] = ndim of the broadcast shape B, iarg[1..] = B.  gout (count,) goes back to the
** flat positions of B where the mask is set (index_add into zeros, whose own gradient is
** index_select, i.e. masked_select again), then B is summed down to x's shape. */
static rt_status masked_select_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    const rt_tensor *x = n->in[0];
    int nb = (int)n->iarg[0];
    const int64_t *B = &n->iarg[1];
    int64_t numel = rti_numel(nb, B), nnz;
    rt_tensor *me = NULL, *mflat = NULL, *nz = NULL, *ix = NULL, *z = NULL, *flat = NULL;
    rt_tensor *full = NULL;
    rt_status st = rt_view_expand(n->saved[0], nb, B, &me);
    if (st == RT_OK) st = rt_reshape(me, 1, &numel, &mflat);
    if (st == RT_OK) st = rt_nonzero(mflat, &nz);            /* (nnz, 1) flat positions */
    if (st == RT_OK) {
        nnz = nz->shape[0];
        st = rt_view_reshape(nz, 1, &nnz, &ix);
    }
    if (st == RT_OK) st = rt_zeros(gout[0]->dtype, 1, &numel, &z);
    if (st == RT_OK) st = rt_ad_index_add(z, 0, ix, gout[0], &flat);
    if (st == RT_OK) st = rt_ad_reshape(flat, nb, B, &full);
    if (st == RT_OK) st = rt_ad_sum_to(full, x->ndim, x->shape, &gin[0]);
    rt_tensor *tmp[7] = { me, mflat, nz, ix, z, flat, full };
    for (int i = 0; i < 7; i++) rt_tensor_release(tmp[i]);
    return st;
}
static const rt_opdef op_masked_select = { "masked_select", masked_select_backward, 0 };

rt_status rt_ad_masked_select(const rt_tensor *x, const rt_tensor *mask, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_masked_select(x, mask, &o);
    if (st != RT_OK) return st;
    int64_t a[1 + RT_MAXDIM];
    int nb = 0;
    st = rti_broadcast_shape("masked_select", x->ndim, x->shape, mask->ndim, mask->shape, &nb,
                             &a[1]);
    if (st != RT_OK) {
        rt_tensor_release(o);
        return st;
    }
    a[0] = nb;
    return finish_saving(&op_masked_select, 1, (rt_tensor *const *)&x, o, a, 1 + nb, mask, out);
}

/* ---- embedding / embedding_backward -------------------------------------------------------------
** embedding: iarg[0] = padding_idx (-1: none).  embedding_backward: iarg[0] = num_weights,
** iarg[1] = padding_idx.  saved[0] = the index. */
static rt_status embedding_grad(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    return rt_ad_embedding_backward(gout[0], n->saved[0], n->in[0]->shape[0], n->iarg[0],
                                    &gin[0]);
}
static const rt_opdef op_embedding = { "embedding", embedding_grad, 0 };

rt_status rt_ad_embedding(const rt_tensor *weight, const rt_tensor *index, int64_t padding_idx,
                          rt_tensor **out)
{
    if (weight->ndim == 2 && padding_idx >= weight->shape[0])
        return rt_fail(RT_EARG, 2, "embedding: padding_idx %lld out of range [0, %lld]",
                       (long long)padding_idx, (long long)weight->shape[0] - 1);
    rt_tensor *o;
    rt_status st = rt_embedding(weight, index, &o);
    if (st != RT_OK) return st;
    int64_t a[1] = { padding_idx < 0 ? -1 : padding_idx };
    return finish_saving(&op_embedding, 1, (rt_tensor *const *)&weight, o, a, 1, index, out);
}

/* gw[v] sums gout over the positions holding v, except v = padding_idx, so d<gw, G>/dgout at a
** position is G's row index[pos], or zero where index[pos] == padding_idx. */
static rt_status embedding_backward_grad(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rt_tensor *index = n->saved[0], *e = NULL, *pad = NULL, *padu = NULL;
    int64_t padding_idx = n->iarg[1];
    rt_status st = rt_ad_embedding(gout[0], index, padding_idx, &e);
    if (st != RT_OK) return st;
    if (padding_idx < 0) {
        gin[0] = e;
        return RT_OK;
    }
    st = rt_binary_scalar(RT_EQ, index, (double)padding_idx, 0, &pad);
    if (st == RT_OK) st = rt_view_unsqueeze(pad, pad->ndim, &padu);
    if (st == RT_OK) st = rt_ad_masked_fill(e, padu, 0.0, &gin[0]);
    rt_tensor_release(padu);
    rt_tensor_release(pad);
    rt_tensor_release(e);
    return st;
}
static const rt_opdef op_embedding_backward = { "embedding_backward", embedding_backward_grad,
                                                0 };

rt_status rt_ad_embedding_backward(const rt_tensor *gout, const rt_tensor *index,
                                   int64_t num_weights, int64_t padding_idx, rt_tensor **gw)
{
    rt_tensor *o;
    rt_status st = rt_embedding_backward(gout, index, num_weights, padding_idx, &o);
    if (st != RT_OK) return st;
    int64_t a[2] = { num_weights, padding_idx < 0 ? -1 : padding_idx };
    return finish_saving(&op_embedding_backward, 1, (rt_tensor *const *)&gout, o, a, 2, index,
                         gw);
}
