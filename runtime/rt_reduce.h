/* rt_reduce.h — reductions (sum, mean, prod, amax/amin, var/std, norm, logsumexp, max/min with
** indices, argmax/argmin), sum_to (the gradient of an expand), and the ops that work along one
** dimension: softmax, log_softmax, cumsum, sort and topk.  Plain forward kernels: autograd
** wiring lives elsewhere.  Semantics follow PyTorch unless stated. */
#ifndef RT_REDUCE_H
#define RT_REDUCE_H

#include <stdint.h>
#include "rt_core.h"

/* ---- common rules ---------------------------------------------------------------------
** Inputs are borrowed and may be any strided view (transposed, sliced, offset, expanded).
** Results are NEW contiguous tensors (release each once); on failure no out-parameter is
** touched and nothing leaks.  Every function may also return RT_ENOMEM and RT_EINTERRUPT.
** Dimensions are 0-based; a negative dim counts from the end (-1 is the last).  A bad dim is
** RT_EARG with a message naming the op and the dim.  A 0-d tensor accepts dim 0 or -1 and acts
** as a 1-element vector; its results are 0-d.
** `all_dims` != 0 reduces over every element and ignores `dim`: the result is 0-d, or with
** keepdim has x's rank with every size 1.  Otherwise `dim` is removed from the shape, or kept
** with size 1 when keepdim != 0.
** Accuracy: floats accumulate in double (f32 too) in fixed-size blocks combined in a fixed
** order; var/std take two passes (mean, then squared deviations); logsumexp, softmax and
** log_softmax subtract the maximum first.
** Determinism: results are bitwise identical for any rt_set_num_threads() value (chunk
** boundaries are fixed and per-chunk partials are combined in chunk order).
** nan propagates: a nan is the maximum and the minimum; argmax/argmin return the first nan. */

/* ---- reductions to a value ------------------------------------------------------------- */
typedef enum { RT_SUM, RT_MEAN, RT_PROD, RT_AMAX, RT_AMIN } rt_redop;

/* out = op over dim (or everything).  dtype: f32 -> f32, f64 -> f64; i64 -> i64 for SUM, PROD,
** AMAX, AMIN (SUM and PROD wrap modulo 2^64); RT_MEAN of i64 is RT_EDTYPE.
** Over an empty dim: SUM 0, PROD 1, MEAN nan; AMAX/AMIN are RT_ESHAPE.
** Statuses: RT_EARG (bad dim or op), RT_EDTYPE, RT_ESHAPE. */
rt_status rt_reduce(rt_redop op, const rt_tensor *x, int dim, int all_dims, int keepdim,
                    rt_tensor **out);

/* Variance: sum((x - mean)^2) / (n - unbiased).  f32/f64 only (RT_EDTYPE for i64).  nan when
** n - unbiased <= 0 (one element with unbiased = 1, or an empty dim), as PyTorch does. */
rt_status rt_var(const rt_tensor *x, int dim, int all_dims, int unbiased, int keepdim,
                 rt_tensor **out);
/* sqrt of rt_var. */
rt_status rt_std(const rt_tensor *x, int dim, int all_dims, int unbiased, int keepdim,
                 rt_tensor **out);

/* Vector p-norm (sum |x|^p)^(1/p); p = INFINITY is max |x|.  p must be > 0 (RT_EARG otherwise,
** nan included).  f32/f64 only.  Empty: 0, except p = INFINITY which is RT_ESHAPE.  p = 2 is
** not scaled: f64 elements beyond ~1e154 overflow to inf (f32 ones cannot: squares are
** accumulated in double). */
rt_status rt_norm(const rt_tensor *x, double p, int dim, int all_dims, int keepdim,
                  rt_tensor **out);

/* log(sum(exp(x))) computed as m + log(sum(exp(x - m))) with m the maximum, so it neither
** overflows nor underflows: logsumexp([1000, 1000]) = 1000 + ln 2.  If m is +-inf or nan the
** result is m; empty gives -inf.  f32/f64 only. */
rt_status rt_logsumexp(const rt_tensor *x, int dim, int all_dims, int keepdim,
                       rt_tensor **out);

/* ---- reductions with positions --------------------------------------------------------- */
/* values = max (min) along dim, indices = its position along dim (0-based i64, the first
** occurrence on ties; the first nan if any).  values keep x's dtype (f32, f64 or i64).
** Statuses: RT_EARG (bad dim), RT_ESHAPE (the dim is empty). */
rt_status rt_max_dim(const rt_tensor *x, int dim, int keepdim, rt_tensor **values,
                     rt_tensor **indices);
rt_status rt_min_dim(const rt_tensor *x, int dim, int keepdim, rt_tensor **values,
                     rt_tensor **indices);

/* i64 positions of the max (min) along dim; with all_dims the flat row-major index into x.
** Statuses: RT_EARG (bad dim), RT_ESHAPE (nothing to reduce). */
rt_status rt_argmax(const rt_tensor *x, int dim, int all_dims, int keepdim, rt_tensor **out);
rt_status rt_argmin(const rt_tensor *x, int dim, int all_dims, int keepdim, rt_tensor **out);

/* Sums x down to `shape` (the gradient of an expand): shape must broadcast to x's shape
** (aligned on the right, each size equal to x's or 1, ndim <= x->ndim).  Leading dims and dims
** of size 1 in `shape` are summed.  The result has exactly `shape`, x's dtype, and never shares
** storage with x (no reduction needed means a copy).  Statuses: RT_ESHAPE (shape does not
** broadcast to x), RT_EARG (ndim out of range or a negative size). */
rt_status rt_sum_to(const rt_tensor *x, int ndim, const int64_t *shape, rt_tensor **out);

/* ---- along one dimension (same shape out) ---------------------------------------------- */
/* exp(x - m) / sum(exp(x - m)) along dim, m the maximum along dim: softmax([1000, 1000]) =
** [0.5, 0.5].  A slice that is all -inf, or holds +inf or nan, gives nan (as PyTorch).
** f32/f64 only (RT_EDTYPE). */
rt_status rt_softmax(const rt_tensor *x, int dim, rt_tensor **out);
/* x - m - log(sum(exp(x - m))): finite even where softmax underflows to 0. */
rt_status rt_log_softmax(const rt_tensor *x, int dim, rt_tensor **out);

/* Running sum along dim; keeps x's dtype (i64 wraps).  f32 runs are accumulated in double and
** rounded per element. */
rt_status rt_cumsum(const rt_tensor *x, int dim, rt_tensor **out);

/* Stable sort along dim: values (x's dtype) and indices (i64 positions in x along dim); equal
** elements keep their original order in both directions.  nan sorts as larger than +inf
** (last ascending, first descending); -0.0 and 0.0 are equal. */
rt_status rt_sort(const rt_tensor *x, int dim, int descending, rt_tensor **values,
                  rt_tensor **indices);

/* The k largest (largest != 0) or smallest elements along dim, sorted (largest first, or
** smallest first) with ties in their original order; values and i64 indices have x's shape
** with dim of size k (a 0-d x gives 0-d results, or shape [0] for k = 0).  Statuses: RT_EARG
** (bad dim, or k outside 0..size of dim).  The whole slice is sorted: O(n log n) for any k. */
rt_status rt_topk(const rt_tensor *x, int64_t k, int dim, int largest, rt_tensor **values,
                  rt_tensor **indices);

#endif
