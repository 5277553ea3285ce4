/* grad_join.c — autograd for joining and splitting along a dimension: cat and stack (each
** input's gradient is its slice of the output's gradient) and split / split_sizes / chunk
** (the pieces are differentiable narrow views of x, so rt_ad_narrow supplies their gradients).
** The forwards are the kernels of ops_join.c. */
#include "internal.h"
#include "rt_autograd.h"
#include "rt_ad_shape.h"
#include "rt_ad_index.h"

/* A gradient for an input of dtype dt from v, a view of gout: always a fresh copy (converted
** back if the forward promoted the input).  Handing out the view itself would let the engine's
** in-place accumulation into a leaf's .grad write through it into gout's storage, which may be
** a grad_output the caller still holds. */
static rt_status fresh_grad(const rt_tensor *v, rt_dtype dt, rt_tensor **out)
{
    return rt_ad_to_dtype(v, dt, out);
}

/* ---- cat ---------------------------------------------------------------------------------------
** iarg[0] = dim, iarg[1] = the output's ndim (inputs with another ndim were skipped: empty 1-D). */
static rt_status cat_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    int dim = (int)n->iarg[0], nd = (int)n->iarg[1];
    int64_t start = 0;
    rt_status st = RT_OK;
    for (int i = 0; i < n->nin && st == RT_OK; i++) {
        const rt_tensor *t = n->in[i];
        if (t->ndim != nd) {
            if (rt_node_needs(n, i)) st = rt_zeros(t->dtype, t->ndim, t->shape, &gin[i]);
            continue;
        }
        int64_t len = t->shape[dim];
        if (rt_node_needs(n, i)) {
            rt_tensor *v;
            st = rt_ad_narrow(gout[0], dim, start, len, &v);
            if (st == RT_OK) {
                st = fresh_grad(v, t->dtype, &gin[i]);
                rt_tensor_release(v);
            }
        }
        start += len;
    }
    return st;
}
static const rt_opdef op_cat = { "cat", cat_backward, 0 };

rt_status rt_ad_cat(int n, rt_tensor *const *ts, int dim, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_cat(n, ts, dim, &o);
    if (st != RT_OK) return st;
    /* the kernel checked dim against the joined tensors' ndim, which is the output's; when every
    ** input was an empty 1-D tensor it checked nothing, and any dim of the empty result works */
    int64_t d = dim < 0 ? dim + o->ndim : dim;
    if (d < 0 || d >= o->ndim) d = 0;
    int64_t a[2] = { d, o->ndim };
    return rti_finish(&op_cat, n, ts, o, a, 2, out);
}

/* ---- stack: iarg[0] = the new dimension ------------------------------------------------------ */
static rt_status stack_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    rt_status st = RT_OK;
    for (int i = 0; i < n->nin && st == RT_OK; i++) {
        if (!rt_node_needs(n, i)) continue;
        rt_tensor *v;
        st = rt_ad_select(gout[0], (int)n->iarg[0], i, &v);
        if (st == RT_OK) {
            st = fresh_grad(v, n->in[i]->dtype, &gin[i]);
            rt_tensor_release(v);
        }
    }
    return st;
}
static const rt_opdef op_stack = { "stack", stack_backward, 0 };

rt_status rt_ad_stack(int n, rt_tensor *const *ts, int dim, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_stack(n, ts, dim, &o);
    if (st != RT_OK) return st;
    int64_t a[1] = { dim < 0 ? dim + o->ndim : dim };
    return rti_finish(&op_stack, n, ts, o, a, 1, out);
}

/* ---- split / split_sizes / chunk ------------------------------------------------------------- */
/* Replaces the kernel's pieces (consecutive views along d) by differentiable narrows of x when
** x requires grad.  On failure the list is unchanged. */
static rt_status narrow_pieces(const rt_tensor *x, int d, int n, rt_tensor **pieces)
{
    if (!rt_any_requires_grad(1, (rt_tensor *const *)&x)) return RT_OK;
    rt_tensor **tmp = rti_calloc(n > 0 ? (size_t)n : 1, sizeof *tmp);
    if (!tmp) return rt_fail(RT_ENOMEM, -1, "split: out of memory for %d pieces", n);
    int64_t start = 0;
    rt_status st = RT_OK;
    for (int i = 0; i < n && st == RT_OK; i++) {
        st = rt_ad_narrow(x, d, start, pieces[i]->shape[d], &tmp[i]);
        start += pieces[i]->shape[d];
    }
    for (int i = 0; i < n; i++) {
        if (st != RT_OK) {
            rt_tensor_release(tmp[i]);
            continue;
        }
        rt_tensor_release(pieces[i]);
        pieces[i] = tmp[i];
    }
    rti_free(tmp);
    return st;
}

rt_status rt_ad_split_sizes(const rt_tensor *x, int dim, int n, const int64_t *sizes,
                            rt_tensor **outs)
{
    rt_tensor **v = rti_calloc(n > 0 ? (size_t)n : 1, sizeof *v);
    if (!v) return rt_fail(RT_ENOMEM, -1, "split: out of memory for %d views", n);
    rt_status st = rt_split_sizes(x, dim, n, sizes, v);
    if (st == RT_OK) {
        st = narrow_pieces(x, dim < 0 ? dim + x->ndim : dim, n, v);
        if (st == RT_OK) {
            for (int i = 0; i < n; i++) outs[i] = v[i];
        } else {
            for (int i = 0; i < n; i++) rt_tensor_release(v[i]);
        }
    }
    rti_free(v);
    return st;
}

/* Differentiable pieces from a kernel's list (split or chunk, already run into k and list). */
static rt_status finish_list(const rt_tensor *x, int dim, rt_status st, int k, rt_tensor **list,
                             int *n_out, rt_tensor ***outs)
{
    if (st != RT_OK) return st;
    st = narrow_pieces(x, dim < 0 ? dim + x->ndim : dim, k, list);
    if (st != RT_OK) {
        rt_free_list(k, list);
        return st;
    }
    *n_out = k;
    *outs = list;
    return RT_OK;
}

rt_status rt_ad_split(const rt_tensor *x, int64_t split_size, int dim, int *n_out,
                      rt_tensor ***outs)
{
    int k = 0;
    rt_tensor **list = NULL;
    rt_status st = rt_split(x, split_size, dim, &k, &list);
    return finish_list(x, dim, st, k, list, n_out, outs);
}

rt_status rt_ad_chunk(const rt_tensor *x, int64_t chunks, int dim, int *n_out,
                      rt_tensor ***outs)
{
    int k = 0;
    rt_tensor **list = NULL;
    rt_status st = rt_chunk(x, chunks, dim, &k, &list);
    return finish_list(x, dim, st, k, list, n_out, outs);
}
