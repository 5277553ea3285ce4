/* rt_ad_index.h — differentiable index and join ops: the autograd versions of rt_index.h.
** Same shapes, dtypes, 0-based dims and indices, and statuses as the kernels; when grad mode is
** on and a float input requires grad, the result records a node.  Index tensors and masks are
** never differentiated; they are saved on the node, and an in-place write to one before
** backward makes backward fail.  Every backward is built from these same ops (index_select and
** index_add, gather and scatter_add, embedding and embedding_backward are each other's
** adjoints), so derivatives of any order work.  one_hot and nonzero have no gradient: use the
** kernels.  Outputs are new references; on failure *out is untouched and nothing leaks. */
#ifndef RT_AD_INDEX_H
#define RT_AD_INDEX_H

#include "rt_index.h"

/* ---- index_select / index_add ---------------------------------------------------------- */
/* As rt_index_select.  Gradient: index_add of gout into zeros (duplicates accumulate). */
rt_status rt_ad_index_select(const rt_tensor *x, int dim, const rt_tensor *index, rt_tensor **out);
/* Out of place: out = a copy of x (contiguous) with out[..., index[k], ...] += src[..., k, ...].
** Shapes and statuses as rt_index_add_.  Gradients: gout for x, index_select(gout) for src. */
rt_status rt_ad_index_add(const rt_tensor *x, int dim, const rt_tensor *index,
                          const rt_tensor *src, rt_tensor **out);

/* ---- gather / scatter_add --------------------------------------------------------------- */
/* As rt_gather.  Gradient: scatter_add of gout into zeros of x's shape. */
rt_status rt_ad_gather(const rt_tensor *x, int dim, const rt_tensor *index, rt_tensor **out);
/* As rt_scatter_add (out of place).  Gradients: gout for x; gather(gout) for the index-shaped
** corner of src and zero for the rest of src. */
rt_status rt_ad_scatter_add(const rt_tensor *x, int dim, const rt_tensor *index,
                            const rt_tensor *src, rt_tensor **out);

/* ---- masks --------------------------------------------------------------------------------- */
/* As rt_masked_fill.  Gradient: gout with the filled positions zeroed. */
rt_status rt_ad_masked_fill(const rt_tensor *x, const rt_tensor *mask, double value,
                            rt_tensor **out);
/* As rt_masked_select.  Gradient: gout scattered into zeros of the broadcast shape at the
** mask's nonzero positions, then summed down to x's shape. */
rt_status rt_ad_masked_select(const rt_tensor *x, const rt_tensor *mask, rt_tensor **out);

/* ---- embedding ------------------------------------------------------------------------------- */
/* As rt_embedding.  padding_idx in [0, V) names the row that gets zero gradient (negative:
** none); RT_EARG if padding_idx >= V.  Gradient: rt_ad_embedding_backward. */
rt_status rt_ad_embedding(const rt_tensor *weight, const rt_tensor *index, int64_t padding_idx,
                          rt_tensor **out);
/* As rt_embedding_backward, differentiable in gout: its gradient is an embedding lookup of
** the incoming gradient, zero at positions whose index is padding_idx. */
rt_status rt_ad_embedding_backward(const rt_tensor *gout, const rt_tensor *index,
                                   int64_t num_weights, int64_t padding_idx, rt_tensor **gw);

/* ---- joining and splitting (grad_join.c) ---------------------------------------------------- */
/* As rt_cat / rt_stack.  Each input's gradient is its slice of gout, converted back to the
** input's dtype (inputs of other dtypes are promoted in the forward). */
rt_status rt_ad_cat(int n, rt_tensor *const *ts, int dim, rt_tensor **out);
rt_status rt_ad_stack(int n, rt_tensor *const *ts, int dim, rt_tensor **out);
/* As rt_split_sizes / rt_split / rt_chunk: the pieces are views of x (no copies), and each one
** is a differentiable narrow of x when x requires grad.  Free rt_ad_split / rt_ad_chunk lists
** with rt_free_list. */
rt_status rt_ad_split_sizes(const rt_tensor *x, int dim, int n, const int64_t *sizes,
                            rt_tensor **outs);
rt_status rt_ad_split(const rt_tensor *x, int64_t split_size, int dim, int *n_out,
                      rt_tensor ***outs);
rt_status rt_ad_chunk(const rt_tensor *x, int64_t chunks, int dim, int *n_out,
                      rt_tensor ***outs);

#endif
