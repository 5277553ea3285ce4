/* rt_ad_nn.h — differentiable nn ops: convolutions (rt_conv.h) and spatial ops (rt_spatial.h)
** with autograd.  Shapes, dtypes, options and statuses are those of the kernels; when grad
** mode is on and a float input requires grad, the result records a node.  Every backward is
** built from the ops of this header, so create_graph gives derivatives of any order:
** - conv2d, conv_transpose2d, conv2d_backward_input and conv2d_backward_weight form a closed
**   family (all are bilinear; each one's partial derivatives are the others);
** - each pooling / upsampling / padding backward kernel is its own op, linear in gout, whose
**   backward is the forward op again (max_pool2d_backward: a gather at the saved indices).
** Results are new references; on failure the out-parameters are untouched. */
#ifndef RT_AD_NN_H
#define RT_AD_NN_H

#include "rt_core.h"
#include "rt_conv.h"
#include "rt_spatial.h"

/* ---- convolutions (grad_conv.c) -------------------------------------------------------------
** b may be NULL.  A NULL opts pointer means the kernel's defaults. */
rt_status rt_ad_conv2d(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b,
                       const rt_conv2d_opts *o, rt_tensor **out);
/* padding='same' (PyTorch): the output has the input's spatial size.  o->stride must be 1
** (RT_EARG otherwise); o->padding is ignored.  The total padding dilation*(k-1) of an axis is
** split as total/2 before and total - total/2 after: when it is odd, x is first zero-padded by
** one row/column at the bottom/right (rt_ad_pad), exactly as PyTorch does. */
rt_status rt_ad_conv2d_same(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b,
                            const rt_conv2d_opts *o, rt_tensor **out);
/* gx = rt_conv2d_backward_input(gout, w, x_shape, o), differentiable in gout and w. */
rt_status rt_ad_conv2d_backward_input(const rt_tensor *gout, const rt_tensor *w,
                                      const int64_t *x_shape, const rt_conv2d_opts *o,
                                      rt_tensor **gx);
/* gw = rt_conv2d_backward_weight(gout, x, w_shape, o), differentiable in gout and x. */
rt_status rt_ad_conv2d_backward_weight(const rt_tensor *gout, const rt_tensor *x,
                                       const int64_t *w_shape, const rt_conv2d_opts *o,
                                       rt_tensor **gw);

/* conv1d: the kernel forward; the backward runs through the conv2d family on H = 1 views. */
rt_status rt_ad_conv1d(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b,
                       const rt_conv1d_opts *o, rt_tensor **out);
/* padding='same' for conv1d, as rt_ad_conv2d_same (o->stride must be 1). */
rt_status rt_ad_conv1d_same(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b,
                            const rt_conv1d_opts *o, rt_tensor **out);

/* conv_transpose2d: the adjoint of conv2d in its input, so its gradients are conv2d (input)
** and conv2d_backward_weight (weight). */
rt_status rt_ad_conv_transpose2d(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b,
                                 const rt_conv_transpose2d_opts *o, rt_tensor **out);

/* ---- pooling, upsampling, padding (grad_spatial.c) -------------------------------------------
** max_pool2d: values are differentiable (the gradient goes to the saved argmax positions);
** *indices (may be NULL when not wanted) gets the kernel's 0-based flat indices, which never
** require grad. */
rt_status rt_ad_max_pool2d(const rt_tensor *x, const rt_pool2d_opts *o, rt_tensor **out,
                           rt_tensor **indices);
/* gx: gout added at indices into zeros of x_shape (gout->ndim sizes); differentiable in gout
** (its backward gathers the incoming gradient at the same indices). */
rt_status rt_ad_max_pool2d_backward(const rt_tensor *gout, const rt_tensor *indices,
                                    const int64_t *x_shape, rt_tensor **gx);
rt_status rt_ad_avg_pool2d(const rt_tensor *x, const rt_avgpool2d_opts *o, rt_tensor **out);
rt_status rt_ad_avg_pool2d_backward(const rt_tensor *gout, const int64_t *x_shape,
                                    const rt_avgpool2d_opts *o, rt_tensor **gx);
rt_status rt_ad_adaptive_avg_pool2d(const rt_tensor *x, int64_t oh, int64_t ow,
                                    rt_tensor **out);
rt_status rt_ad_adaptive_avg_pool2d_backward(const rt_tensor *gout, const int64_t *x_shape,
                                             rt_tensor **gx);
rt_status rt_ad_upsample2d(const rt_tensor *x, int64_t oh, int64_t ow, rt_upsample_mode mode,
                           int align_corners, rt_tensor **out);
rt_status rt_ad_upsample2d_backward(const rt_tensor *gout, const int64_t *x_shape,
                                    rt_upsample_mode mode, int align_corners, rt_tensor **gx);
/* Padding (any ndim, PyTorch's pad order).  i64 inputs are padded but never record. */
rt_status rt_ad_pad(const rt_tensor *x, int npairs, const int64_t *pads, rt_pad_mode mode,
                    double value, rt_tensor **out);
rt_status rt_ad_pad_backward(const rt_tensor *gout, int npairs, const int64_t *pads,
                             rt_pad_mode mode, const int64_t *x_shape, rt_tensor **gx);

#endif
