/* rt_conv.h — 1-D and 2-D convolutions (PyTorch's F.conv1d / F.conv2d / F.conv_transpose2d
** semantics: cross-correlation, zero padding, groups, dilation) and their backward kernels.
** These are plain kernels: autograd wiring lives elsewhere.  f32 and f64; every tensor of one
** call has the same dtype.  Inputs are borrowed and may be any strided view. */
#ifndef RT_CONV_H
#define RT_CONV_H

#include "rt_core.h"

/* Common contract of every function below:
** - `*out` (or *gx, *gw, *gb) receives a NEW contiguous tensor (release it once); on failure it
**   is untouched and nothing leaks.
** - Statuses: RT_EDTYPE (not f32/f64, or dtypes differ), RT_ESHAPE (ranks, channel counts,
**   groups, kernel larger than the padded input, grad shape not the op's output shape),
**   RT_EARG (stride/dilation < 1, padding < 0, groups < 1, bad output_padding), RT_ENOMEM,
**   RT_EINTERRUPT (rt_interrupt_request() seen between batch blocks).
** - A NULL opts pointer means stride 1, padding 0, dilation 1, groups 1 (output_padding 0).
** - N (batch) and C (channels) may be 0; spatial sizes must be >= 1.
** - Results are bitwise identical for any rt_set_num_threads() value. */

/* ---- conv2d ------------------------------------------------------------------------- */
typedef struct {
    int stride[2], padding[2], dilation[2], groups;   /* [0] is the H axis, [1] the W axis */
} rt_conv2d_opts;

/* x: (N,C,H,W)  w: (O,C/g,kh,kw)  b: (O) or NULL  out: (N,O,Ho,Wo) with
** Ho = (H + 2*padding[0] - dilation[0]*(kh-1) - 1) / stride[0] + 1 (same for W).
** g = groups must divide C and O. */
rt_status rt_conv2d(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b,
                    const rt_conv2d_opts *o, rt_tensor **out);
/* gout: (N,O,Ho,Wo)  w: (O,C/g,kh,kw)  x_shape: 4 sizes (N,C,H,W)  gx: (N,C,H,W).
** gout's shape must be exactly conv2d's output shape for x_shape. */
rt_status rt_conv2d_backward_input(const rt_tensor *gout, const rt_tensor *w,
                                   const int64_t *x_shape, const rt_conv2d_opts *o,
                                   rt_tensor **gx);
/* gout: (N,O,Ho,Wo)  x: (N,C,H,W)  w_shape: 4 sizes (O,C/g,kh,kw)  gw: (O,C/g,kh,kw).
** With N == 0 the gradient is zeros. */
rt_status rt_conv2d_backward_weight(const rt_tensor *gout, const rt_tensor *x,
                                    const int64_t *w_shape, const rt_conv2d_opts *o,
                                    rt_tensor **gw);
/* gout: (N,O,*) with at least 2 dims  gb: (O) = sum of gout over every dim but 1.
** Serves conv1d, conv2d and conv_transpose2d alike. */
rt_status rt_conv2d_backward_bias(const rt_tensor *gout, rt_tensor **gb);

/* Naive seven-loop conv2d accumulating in f64, exported as the reference for tests (and a
** readable statement of the semantics).  Same contract as rt_conv2d; slow. */
rt_status rt_conv2d_ref(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b,
                        const rt_conv2d_opts *o, rt_tensor **out);

/* ---- conv1d (computed as conv2d with H = 1) ---------------------------------------- */
typedef struct {
    int stride, padding, dilation, groups;
} rt_conv1d_opts;

/* x: (N,C,L)  w: (O,C/g,k)  b: (O) or NULL  out: (N,O,Lo),
** Lo = (L + 2*padding - dilation*(k-1) - 1) / stride + 1. */
rt_status rt_conv1d(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b,
                    const rt_conv1d_opts *o, rt_tensor **out);
/* gout: (N,O,Lo)  w: (O,C/g,k)  x_shape: 3 sizes (N,C,L)  gx: (N,C,L) */
rt_status rt_conv1d_backward_input(const rt_tensor *gout, const rt_tensor *w,
                                   const int64_t *x_shape, const rt_conv1d_opts *o,
                                   rt_tensor **gx);
/* gout: (N,O,Lo)  x: (N,C,L)  w_shape: 3 sizes (O,C/g,k)  gw: (O,C/g,k) */
rt_status rt_conv1d_backward_weight(const rt_tensor *gout, const rt_tensor *x,
                                    const int64_t *w_shape, const rt_conv1d_opts *o,
                                    rt_tensor **gw);

/* ---- conv_transpose2d (the adjoint of conv2d with respect to its input) -------------- */
typedef struct {
    int stride[2], padding[2], output_padding[2], dilation[2], groups;
} rt_conv_transpose2d_opts;

/* x: (N,C,H,W)  w: (C,O/g,kh,kw)  b: (O) or NULL  out: (N,O,Ho,Wo) with
** Ho = (H-1)*stride[0] - 2*padding[0] + dilation[0]*(kh-1) + output_padding[0] + 1.
** Each output_padding must be >= 0 and smaller than its axis' stride or dilation; Ho and Wo
** must come out >= 1.  g must divide C and O. */
rt_status rt_conv_transpose2d(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b,
                              const rt_conv_transpose2d_opts *o, rt_tensor **out);
/* gout: (N,O,Ho,Wo)  w: (C,O/g,kh,kw)  x_shape: 4 sizes (N,C,H,W)  gx: (N,C,H,W) */
rt_status rt_conv_transpose2d_backward_input(const rt_tensor *gout, const rt_tensor *w,
                                             const int64_t *x_shape,
                                             const rt_conv_transpose2d_opts *o, rt_tensor **gx);
/* gout: (N,O,Ho,Wo)  x: (N,C,H,W)  w_shape: 4 sizes (C,O/g,kh,kw)  gw: (C,O/g,kh,kw) */
rt_status rt_conv_transpose2d_backward_weight(const rt_tensor *gout, const rt_tensor *x,
                                              const int64_t *w_shape,
                                              const rt_conv_transpose2d_opts *o,
                                              rt_tensor **gw);
/* The bias gradient of conv_transpose2d is rt_conv2d_backward_bias(gout). */

#endif
