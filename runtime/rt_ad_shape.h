/* rt_ad_shape.h — differentiable shape ops: views and copies that record autograd nodes.
** Each behaves like its rt_view_* / rt_* counterpart in rt_core.h and, when grad mode is on
** and the input requires grad, makes the result's grad_fn.  Their backward passes are built
** from these same ops, so they are differentiable to any order. */
#ifndef RT_AD_SHAPE_H
#define RT_AD_SHAPE_H

#include "rt_core.h"

rt_status rt_ad_view(const rt_tensor *x, int ndim, const int64_t *shape, rt_tensor **out);
rt_status rt_ad_reshape(const rt_tensor *x, int ndim, const int64_t *shape, rt_tensor **out);
rt_status rt_ad_flatten(const rt_tensor *x, int d1, int d2, rt_tensor **out);
rt_status rt_ad_transpose(const rt_tensor *x, int d1, int d2, rt_tensor **out);
rt_status rt_ad_permute(const rt_tensor *x, const int *perm, rt_tensor **out);
/* Elements start, start+step, ... < stop of dim (0-based, half-open, step >= 1). */
rt_status rt_ad_slice(const rt_tensor *x, int dim, int64_t start, int64_t stop, int64_t step,
                      rt_tensor **out);
rt_status rt_ad_narrow(const rt_tensor *x, int dim, int64_t start, int64_t len, rt_tensor **out);
rt_status rt_ad_select(const rt_tensor *x, int dim, int64_t index, rt_tensor **out);
rt_status rt_ad_expand(const rt_tensor *x, int ndim, const int64_t *shape, rt_tensor **out);
rt_status rt_ad_squeeze(const rt_tensor *x, int dim, rt_tensor **out);   /* dim -1: all */
rt_status rt_ad_unsqueeze(const rt_tensor *x, int dim, rt_tensor **out);
rt_status rt_ad_contiguous(const rt_tensor *x, rt_tensor **out);
rt_status rt_ad_clone(const rt_tensor *x, rt_tensor **out);
rt_status rt_ad_to_dtype(const rt_tensor *x, rt_dtype dt, rt_tensor **out);
/* The gradient of an expand: sums x over broadcast dimensions down to shape. */
rt_status rt_ad_sum_to(const rt_tensor *x, int ndim, const int64_t *shape, rt_tensor **out);
/* Zeros of shape with g written into the slice [start:stop:step] of dim (or at index start
** with the dim removed from g when squeeze): the backward of slice/select. */
rt_status rt_ad_slice_backward(const rt_tensor *g, int ndim, const int64_t *shape, int dim,
                               int64_t start, int64_t stop, int64_t step, int squeeze,
                               rt_tensor **out);

#endif
