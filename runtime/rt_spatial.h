/* rt_spatial.h — spatial ops on image-like tensors: max / average / adaptive-average pooling,
** nearest and bilinear upsampling, and N-d padding (constant, reflect, replicate), each with
** its backward kernel.  Semantics follow PyTorch (F.max_pool2d, F.avg_pool2d,
** F.adaptive_avg_pool2d, F.interpolate, F.pad).  Convolution lives in rt_conv.h. */
#ifndef RT_SPATIAL_H
#define RT_SPATIAL_H

#include <stdint.h>
#include "rt_core.h"

/* Common contract of the pooling and upsampling functions below.
** - x is (N,C,H,W), or (C,H,W) which is treated as N=1 and gives a 3-d result.  Any strided
**   view is accepted.  N and C may be 0 (empty result); H and W must be at least 1.
** - dtypes: f32 or f64 (RT_EDTYPE otherwise); results have x's dtype, indices are i64.
** - Results are new contiguous tensors (new references); on failure nothing is written to the
**   out-parameters and nothing leaks.
** - Backward functions take the gradient of the output (any strided view) and the input's shape
**   x_shape, which has gout->ndim entries (3 or 4).  They return gx of x_shape with gout's
**   dtype.  Each input plane is accumulated by one thread, so gradients are bitwise identical
**   for any thread count.
** - Statuses: RT_ESHAPE (ranks, sizes, mismatched gradient shapes), RT_EDTYPE, RT_EARG (bad
**   options), RT_EINDEX (max_pool2d_backward index out of range), RT_ENOMEM, RT_EINTERRUPT. */

/* ---- max pooling ------------------------------------------------------------------------ */
/* stride 0 means "equal to the kernel" (PyTorch's stride=None).  kernel >= 1, padding >= 0,
** padding <= kernel/2 in each direction, dilation >= 1.
** Output size per spatial dim: floor((H + 2p - d(k-1) - 1) / s) + 1 (ceil instead of floor when
** ceil_mode, but the last window must start inside the input or the left padding).
** Padding counts as -inf.  NaN propagates: a window holding a NaN yields NaN and the index of
** its last NaN; among equal maxima the first (row-major) wins. */
typedef struct {
    int kernel[2], stride[2], padding[2], dilation[2];
    int ceil_mode;
} rt_pool2d_opts;

/* out: (N,C,Ho,Wo).  indices (may be NULL if not wanted): i64 of out's shape, the flat index
** h*W + w of the maximum inside its input plane, as PyTorch returns.  A window that holds no
** input element at all (possible only with dilation > 1) yields -inf and index -1. */
rt_status rt_max_pool2d(const rt_tensor *x, const rt_pool2d_opts *o, rt_tensor **out,
                        rt_tensor **indices);
/* gout and indices: same shape (N,C,Ho,Wo).  gx[n,c].flat[indices[n,c,i,j]] += gout[n,c,i,j];
** index -1 is skipped; any other index outside [0, H*W) is RT_EINDEX. */
rt_status rt_max_pool2d_backward(const rt_tensor *gout, const rt_tensor *indices,
                                 const int64_t *x_shape, rt_tensor **gx);

/* ---- average pooling -------------------------------------------------------------------- */
/* Same geometry as max pooling with dilation 1 (same checks, stride 0 = kernel).  Each output
** is the window sum divided by the window area clipped to input+padding when
** count_include_pad (PyTorch's default, so windows reaching past the right padding in
** ceil_mode count only up to it), or by the number of input elements in the window. */
typedef struct {
    int kernel[2], stride[2], padding[2];
    int ceil_mode, count_include_pad;
} rt_avgpool2d_opts;

rt_status rt_avg_pool2d(const rt_tensor *x, const rt_avgpool2d_opts *o, rt_tensor **out);
/* gout must have the output shape that rt_avg_pool2d gives for x_shape and o (RT_ESHAPE). */
rt_status rt_avg_pool2d_backward(const rt_tensor *gout, const int64_t *x_shape,
                                 const rt_avgpool2d_opts *o, rt_tensor **gx);

/* Output (N,C,oh,ow); oh, ow >= 0.  Output row i averages input rows floor(i*H/oh) ..
** ceil((i+1)*H/oh) - 1 (likewise for columns), so windows may overlap by one. */
rt_status rt_adaptive_avg_pool2d(const rt_tensor *x, int64_t oh, int64_t ow, rt_tensor **out);
/* The output size is taken from gout. */
rt_status rt_adaptive_avg_pool2d_backward(const rt_tensor *gout, const int64_t *x_shape,
                                          rt_tensor **gx);

/* ---- upsampling ------------------------------------------------------------------------- */
/* To an explicit output size oh x ow (both >= 1), like F.interpolate(x, size=(oh,ow)).
** NEAREST: src = min(floor(dst * (in/out)), in-1) with the ratio in f32, PyTorch's 'nearest'
**   (not 'nearest-exact'); align_corners is ignored.
** BILINEAR, align_corners: src = dst * (in-1)/(out-1) (0 when out == 1).
** BILINEAR, no align_corners: src = max((dst + 0.5) * in/out - 0.5, 0).
** Bilinear weights are computed in the dtype of x, as PyTorch does on the CPU. */
typedef enum { RT_UPSAMPLE_NEAREST, RT_UPSAMPLE_BILINEAR } rt_upsample_mode;

rt_status rt_upsample2d(const rt_tensor *x, int64_t oh, int64_t ow, rt_upsample_mode mode,
                        int align_corners, rt_tensor **out);
/* The output size is taken from gout ((N,C,oh,ow) with oh, ow >= 1). */
rt_status rt_upsample2d_backward(const rt_tensor *gout, const int64_t *x_shape,
                                 rt_upsample_mode mode, int align_corners, rt_tensor **gx);

/* ---- padding ---------------------------------------------------------------------------- */
/* pads[2*i], pads[2*i+1] = (before, after) for dimension ndim-1-i, i.e. PyTorch's F.pad order,
** last dim first: {left, right, top, bottom, front, back, ...}.  0 <= npairs <= x->ndim; any
** ndim.  Negative pads crop.  Output index o of a padded dim reads input index o - before;
** outside [0, size) it reads
**   CONSTANT:  value (converted to x's dtype; for i64 truncated, RT_EARG if NaN or beyond
**              the i64 range),
**   REFLECT:   the mirror image without repeating the edge (requires each pad < size),
**   REPLICATE: the nearest edge element (requires size >= 1 when the dim is padded).
** Every output size (size + before + after) must be >= 0.  Forward accepts f32, f64 and i64;
** backward f32 and f64.  Result: a new contiguous tensor (also when npairs == 0). */
typedef enum { RT_PAD_CONSTANT, RT_PAD_REFLECT, RT_PAD_REPLICATE } rt_pad_mode;

rt_status rt_pad(const rt_tensor *x, int npairs, const int64_t *pads, rt_pad_mode mode,
                 double value, rt_tensor **out);
/* gout must have the shape rt_pad gives for x_shape (gout->ndim entries).  Elements that read
** the same input element (reflect / replicate) add up into it; padding constants get no
** gradient.  Statuses as above (RT_ESHAPE, RT_EDTYPE, RT_EARG, RT_ENOMEM, RT_EINTERRUPT). */
rt_status rt_pad_backward(const rt_tensor *gout, int npairs, const int64_t *pads,
                          rt_pad_mode mode, const int64_t *x_shape, rt_tensor **gx);

#endif
