/* rt_index.h — indexed reads and writes (index_select, gather, scatter_add, embedding,
** masks, one_hot, nonzero) and joining / splitting along a dimension (cat, stack, split,
** chunk).  Dimensions are 0-based (negative dims count from the end); index tensors are i64
** holding 0-based indices.  Data tensors may be f32, f64 or i64 unless stated otherwise.
**
** Common contract: inputs are borrowed and may be any strided view; `*out` receives a new
** reference, untouched on failure, and nothing leaks.  Every index value is checked first:
** a bad one gives RT_EINDEX with a message "<op>: index V out of range [0, S-1] in dimension
** D" (D 1-based, V as given), before anything is written.  A non-i64 index gives RT_EDTYPE
** naming the index.  Allocation failure gives RT_ENOMEM.  Results do not depend on the number
** of threads (accumulations run in index order for every destination element). */
#ifndef RT_INDEX_H
#define RT_INDEX_H

#include "rt_core.h"

/* ---- index_select / index_add_ ------------------------------------------------------ */
/* out = x with dimension dim replaced by the K rows x[..., index[k], ...].
** index: 1-D (or 0-d, as one element) i64 of length K.  out: x.shape with shape[dim] = K,
** dtype of x.  RT_EARG bad dim, RT_ESHAPE index not 1-D, RT_EDTYPE, RT_EINDEX. */
rt_status rt_index_select(const rt_tensor *x, int dim, const rt_tensor *index, rt_tensor **out);

/* In place: x[..., index[k], ...] += src[..., k, ...] (the adjoint of index_select).
** Duplicate indices accumulate.  src: x.shape with shape[dim] = K, same dtype as x.
** x must not be an expanded view (RT_EARG).  Bumps x's version.
** RT_EARG, RT_ESHAPE (src shape, index not 1-D), RT_EDTYPE (index, src), RT_EINDEX. */
rt_status rt_index_add_(rt_tensor *x, int dim, const rt_tensor *index, const rt_tensor *src);

/* ---- gather / scatter_add (torch semantics) ---------------------------------------- */
/* out[i][j][k] = x[index[i][j][k]][j][k] for dim 0 (likewise for other dims).
** index: i64 with index.ndim == x.ndim and index.shape[d] <= x.shape[d] for d != dim.
** out: index.shape, dtype of x.  RT_EARG, RT_ESHAPE, RT_EDTYPE, RT_EINDEX. */
rt_status rt_gather(const rt_tensor *x, int dim, const rt_tensor *index, rt_tensor **out);

/* out = a copy of x, then out[index[i][j][k]][j][k] += src[i][j][k] for dim 0 (the adjoint
** of gather).  Duplicates accumulate.  index: i64, same ndim as x and src,
** index.shape[d] <= src.shape[d] for every d and <= x.shape[d] for d != dim; only the
** index-shaped corner of src is read.  src has x's dtype.  out: contiguous, x.shape.
** RT_EARG, RT_ESHAPE, RT_EDTYPE (index, src), RT_EINDEX. */
rt_status rt_scatter_add(const rt_tensor *x, int dim, const rt_tensor *index,
                         const rt_tensor *src, rt_tensor **out);
/* The same, in place on x (not an expanded view: RT_EARG).  Bumps x's version. */
rt_status rt_scatter_add_(rt_tensor *x, int dim, const rt_tensor *index, const rt_tensor *src);

/* ---- masks ------------------------------------------------------------------------- */
/* out = x where mask is zero, value where mask is nonzero (NaN counts as nonzero).
** mask: any dtype, broadcastable to x.shape (x's shape is kept).  out: x.shape, x.dtype.
** value is converted to x's dtype (truncated for i64; RT_EARG if it does not fit).
** RT_ESHAPE mask does not broadcast to x. */
rt_status rt_masked_fill(const rt_tensor *x, const rt_tensor *mask, double value,
                         rt_tensor **out);

/* 1-D tensor of the elements of x where mask is nonzero, in row-major order of the
** broadcast shape of x and mask (both are broadcast, as in torch).  mask: any dtype.
** out: (count,), x.dtype.  RT_ESHAPE shapes do not broadcast. */
rt_status rt_masked_select(const rt_tensor *x, const rt_tensor *mask, rt_tensor **out);

/* Coordinates of the nonzero elements of x (any dtype) in row-major order.
** out: (nnz, x.ndim) i64; (nnz, 0) for a 0-d x. */
rt_status rt_nonzero(const rt_tensor *x, rt_tensor **out);

/* ---- one_hot, embedding ---------------------------------------------------------------- */
/* out[..., c] = 1 if c == index[...] else 0.  index: i64 of any shape with values in
** [0, num_classes).  out: index.shape + [num_classes], dtype dt.
** RT_EARG num_classes < 0, RT_ESHAPE too many dims, RT_EDTYPE, RT_EINDEX. */
rt_status rt_one_hot(const rt_tensor *index, int64_t num_classes, rt_dtype dt, rt_tensor **out);

/* Row lookup: out[..., :] = weight[index[...], :].  weight: (V, D); index: i64 of any shape
** with values in [0, V).  out: index.shape + [D], dtype of weight.
** RT_ESHAPE weight not 2-D or too many dims, RT_EDTYPE, RT_EINDEX. */
rt_status rt_embedding(const rt_tensor *weight, const rt_tensor *index, rt_tensor **out);

/* Gradient of embedding: gw[v, :] = sum of gout[..., :] over the positions where index == v
** (duplicates accumulate, in index order).  Row padding_idx gets zero gradient; a negative
** padding_idx means none.  gout: index.shape + [D].  gw: (num_weights, D), dtype of gout.
** RT_ESHAPE gout does not fit index, RT_EARG num_weights < 0 or padding_idx >= num_weights,
** RT_EDTYPE, RT_EINDEX (values outside [0, num_weights)). */
rt_status rt_embedding_backward(const rt_tensor *gout, const rt_tensor *index,
                                int64_t num_weights, int64_t padding_idx, rt_tensor **gw);

/* ---- joining (ops_join.c) ----------------------------------------------------------- */
/* Concatenates ts[0..n-1] along dim into a new contiguous tensor.  dtype: the promotion of
** all inputs (f64 > f32 > i64).  Like torch's legacy rule, 1-D tensors of size 0 are skipped
** (the result is an empty 1-D tensor if all are); the others must have equal ndim (>= 1)
** and equal sizes except along dim.  RT_EARG n < 1, NULL entry, bad dim, 0-d input;
** RT_ESHAPE mismatch (message names the tensor number, 1-based, and the dimension). */
rt_status rt_cat(int n, rt_tensor *const *ts, int dim, rt_tensor **out);

/* Stacks n tensors of equal shape along a new dimension dim (0..ndim, negative counts from
** ndim + 1).  dtype promoted as in rt_cat.  RT_EARG, RT_ESHAPE (names the tensor). */
rt_status rt_stack(int n, rt_tensor *const *ts, int dim, rt_tensor **out);

/* ---- splitting: views sharing x's storage (no copies) ------------------------------ */
/* n views along dim, piece i of sizes[i] elements; sizes must be >= 0 and sum to
** x.shape[dim].  outs: caller's array of n slots, each receiving a new reference (release
** each); untouched on failure.  RT_EARG bad dim / negative size, RT_ESHAPE wrong sum. */
rt_status rt_split_sizes(const rt_tensor *x, int dim, int n, const int64_t *sizes,
                         rt_tensor **outs);

/* torch.split: pieces of split_size along dim, the last one smaller; at least one piece (an
** empty dim gives one empty piece; split_size 0 only for an empty dim).  *outs is an array
** of *n_out new references allocated here: free it with rt_free_list(*n_out, *outs).
** Both out-parameters are untouched on failure.  RT_EARG bad dim or split_size. */
rt_status rt_split(const rt_tensor *x, int64_t split_size, int dim, int *n_out,
                   rt_tensor ***outs);

/* torch.chunk: split with split_size = ceil(size / chunks), so there may be fewer than
** `chunks` pieces (10 by 3 -> 4,4,2; 5 by 4 -> 2,2,1); an empty dim gives `chunks` empty
** pieces.  Outputs as rt_split.  RT_EARG bad dim or chunks < 1. */
rt_status rt_chunk(const rt_tensor *x, int64_t chunks, int dim, int *n_out, rt_tensor ***outs);

/* Releases ts[0..n-1] (NULL entries are fine) and frees the array (NULL is fine). */
void rt_free_list(int n, rt_tensor **ts);

#endif
