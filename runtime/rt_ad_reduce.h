/* rt_ad_reduce.h — differentiable reductions and along-a-dimension ops (autograd versions of
** rt_reduce.h).  Shapes, dtypes, dims and statuses are those of the kernels; when grad mode is
** on and a float input requires grad, the result records a node.  Every backward is written
** with differentiable ops, so create_graph gives second (and higher) derivatives.
** Integer results (indices, argmax) never record and carry no gradient. */
#ifndef RT_AD_REDUCE_H
#define RT_AD_REDUCE_H

#include "rt_core.h"
#include "rt_reduce.h"

/* ---- reductions to a value (see rt_reduce) -----------------------------------------------
** sum, mean: the gradient is gout spread over the reduced elements (divided by their count for
** mean).  prod: d/dx_i = product of the other elements, exact with zeros in the input (a
** prefix/suffix product scan where a zero is present, out / x otherwise), to every order.
** amax/amin: the gradient is split evenly among tied extrema, like PyTorch's amax. */
rt_status rt_ad_reduce(rt_redop op, const rt_tensor *x, int dim, int all_dims, int keepdim,
                       rt_tensor **out);
rt_status rt_ad_sum(const rt_tensor *x, int dim, int all_dims, int keepdim, rt_tensor **out);
rt_status rt_ad_mean(const rt_tensor *x, int dim, int all_dims, int keepdim, rt_tensor **out);
rt_status rt_ad_prod(const rt_tensor *x, int dim, int all_dims, int keepdim, rt_tensor **out);
rt_status rt_ad_amax(const rt_tensor *x, int dim, int all_dims, int keepdim, rt_tensor **out);
rt_status rt_ad_amin(const rt_tensor *x, int dim, int all_dims, int keepdim, rt_tensor **out);

/* var: d/dx = 2 (x - mean) / (n - unbiased); nan where the variance is nan (n <= unbiased).
** std: d/dx = (x - mean) / ((n - unbiased) std), taken as 0 where std == 0 (as PyTorch). */
rt_status rt_ad_var(const rt_tensor *x, int dim, int all_dims, int unbiased, int keepdim,
                    rt_tensor **out);
rt_status rt_ad_std(const rt_tensor *x, int dim, int all_dims, int unbiased, int keepdim,
                    rt_tensor **out);

/* p-norm.  Gradients as PyTorch: p = 1: sign(x); p = 2: x / norm, 0 where norm == 0;
** p = INFINITY: sign(x) split evenly among the elements with |x| == norm; other p:
** sign(x) |x|^(p-1) / norm^(p-1), 0 where norm == 0 (and at x == 0 when p < 1). */
rt_status rt_ad_norm(const rt_tensor *x, double p, int dim, int all_dims, int keepdim,
                     rt_tensor **out);

/* d/dx = exp(x - logsumexp) (softmax); nan where the result is +-inf or nan. */
rt_status rt_ad_logsumexp(const rt_tensor *x, int dim, int all_dims, int keepdim,
                          rt_tensor **out);

/* ---- reductions with positions (grad_sort.c) -----------------------------------------------
** values are differentiable through the saved indices: gout is scattered into zeros at the
** selected positions.  indices (0-based i64) never require grad. */
rt_status rt_ad_max_dim(const rt_tensor *x, int dim, int keepdim, rt_tensor **values,
                        rt_tensor **indices);
rt_status rt_ad_min_dim(const rt_tensor *x, int dim, int keepdim, rt_tensor **values,
                        rt_tensor **indices);
rt_status rt_ad_sort(const rt_tensor *x, int dim, int descending, rt_tensor **values,
                     rt_tensor **indices);
rt_status rt_ad_topk(const rt_tensor *x, int64_t k, int dim, int largest, rt_tensor **values,
                     rt_tensor **indices);

/* out = x[..., index[...], ...] along dim (rt_gather).  Differentiable in x; the backward is
** rt_ad_put_along_dim, whose backward is this op again, so every order works. */
rt_status rt_ad_take_along_dim(const rt_tensor *x, int dim, const rt_tensor *index,
                               rt_tensor **out);
/* out = zeros(ndim, shape) with src added at index along dim (rt_scatter_add into zeros):
** the adjoint of take_along_dim.  Differentiable in src. */
rt_status rt_ad_put_along_dim(const rt_tensor *src, int dim, const rt_tensor *index, int ndim,
                              const int64_t *shape, rt_tensor **out);

/* ---- along one dimension (grad_softmax.c) -------------------------------------------------
** softmax and log_softmax recompute softmax(x) from the saved input in backward (never the
** output), so double backward works.  cumsum's backward is a reversed cumulative sum, itself
** differentiable (its backward is cumsum). */
rt_status rt_ad_softmax(const rt_tensor *x, int dim, rt_tensor **out);
rt_status rt_ad_log_softmax(const rt_tensor *x, int dim, rt_tensor **out);
rt_status rt_ad_cumsum(const rt_tensor *x, int dim, rt_tensor **out);
/* out_i = sum_{j >= i} x_j along dim (f32/f64; f32 accumulates in double). */
rt_status rt_ad_cumsum_reverse(const rt_tensor *x, int dim, rt_tensor **out);

#endif
