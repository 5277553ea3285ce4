/* conv_impl.h — private to the convolution files (ops_conv.c, ops_conv_transpose.c,
** conv_engine.c, conv_im2col.c, conv_depthwise.c, conv_depthwise_flat.c): the geometry of one
** cross-correlation on contiguous buffers, and the kernels that compute it.  Not public API. */
#ifndef RT_CONV_IMPL_H
#define RT_CONV_IMPL_H

#include <stddef.h>
#include "internal.h"
#include "rt_conv.h"

/* One cross-correlation y = x (*) w seen from the forward direction.  conv_transpose2d uses
** the same struct with x and y swapped in meaning, so sizes are never derived from each other
** here: every kernel bounds-checks taps against H and W, and output_padding rows simply get
** no taps. */
typedef struct {
    int64_t N, C, H, W;     /* x: (N,C,H,W) */
    int64_t O, Ho, Wo;      /* y: (N,O,Ho,Wo) */
    int64_t kh, kw;         /* w: (O,C/groups,kh,kw) */
    int64_t sh, sw, ph, pw, dh, dw, groups;
} rti_conv_geom;

/* Output columns ow whose tap lands inside the row: iw = ow*s - start is in [0, W) exactly for
** ow in [*lo, *hi).  start = padding - j*dilation for kernel column j (same for rows). */
static inline void rti_conv_tap_range(int64_t W, int64_t Wo, int64_t s, int64_t start,
                                      int64_t *lo, int64_t *hi)
{
    int64_t l = start > 0 ? (start + s - 1) / s : 0;
    int64_t h = W - 1 + start < 0 ? 0 : (W - 1 + start) / s + 1;
    if (h > Wo) h = Wo;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* ---- engines (conv_engine.c): contiguous buffers of dtype dt ---------------------------- */
/* x: (N,C,H,W)  w: (O,C/g,kh,kw)  b: (O) or NULL  y: (N,O,Ho,Wo) overwritten */
rt_status rti_conv_forward(const rti_conv_geom *g, rt_dtype dt, const void *x, const void *w,
                           const void *b, void *y);
/* gy: (N,O,Ho,Wo)  w: (O,C/g,kh,kw)  gx: (N,C,H,W) overwritten */
rt_status rti_conv_backward_input(const rti_conv_geom *g, rt_dtype dt, const void *gy,
                                  const void *w, void *gx);
/* gy: (N,O,Ho,Wo)  x: (N,C,H,W)  gw: (O,C/g,kh,kw) overwritten */
rt_status rti_conv_backward_weight(const rti_conv_geom *g, rt_dtype dt, const void *gy,
                                   const void *x, void *gw);

/* ---- data movement (conv_im2col.c) ------------------------------------------------------ */
/* x: (B,C,H,W) -> cols: (C*kh*kw, B*Ho*Wo); row (c,i,j), column (b,oh,ow); zeros for padding */
rt_status rti_im2col(const rti_conv_geom *g, size_t esize, const void *x, int64_t B,
                     void *cols);
/* cols: (C*kh*kw, B*Ho*Wo) -> gx: (B,C,H,W) overwritten with the sum of the taps on each
** pixel.  One chunk owns whole (b,c) planes, so the sums are deterministic. */
rt_status rti_col2im(const rti_conv_geom *g, rt_dtype dt, const void *cols, int64_t B,
                     void *gx);
/* src: (B,O,P) -> dst: (O,B*P) */
rt_status rti_conv_gather(size_t esize, const void *src, int64_t B, int64_t O, int64_t P,
                          void *dst);
/* src: (O,B*P) -> dst: (B,O,P), adding b: (O) when not NULL */
rt_status rti_conv_scatter(rt_dtype dt, const void *src, int64_t B, int64_t O, int64_t P,
                           const void *b, void *dst);
/* y: (N,O,P) += b: (O) */
rt_status rti_conv_add_bias(rt_dtype dt, void *y, int64_t N, int64_t O, int64_t P,
                            const void *b);
/* gy: (N,O,P) -> gb: (O), summed in f64 */
rt_status rti_conv_bias_grad(rt_dtype dt, const void *gy, int64_t N, int64_t O, int64_t P,
                             void *gb);

/* ---- direct kernels for C/groups == 1 (conv_depthwise.c) -------------------------------- */
rt_status rti_conv_dw_forward(const rti_conv_geom *g, rt_dtype dt, const void *x,
                              const void *w, const void *b, void *y);
rt_status rti_conv_dw_backward_input(const rti_conv_geom *g, rt_dtype dt, const void *gy,
                                     const void *w, void *gx);
rt_status rti_conv_dw_backward_weight(const rti_conv_geom *g, rt_dtype dt, const void *gy,
                                      const void *x, void *gw);

/* ---- depthwise, stride 1, short rows (conv_depthwise_flat.c); groups == C == O ---------- */
int rti_conv_flat_ok(const rti_conv_geom *g, size_t esize);
rt_status rti_conv_flat_forward(const rti_conv_geom *g, rt_dtype dt, const void *x,
                                const void *w, const void *b, void *y);
rt_status rti_conv_flat_backward_input(const rti_conv_geom *g, rt_dtype dt, const void *gy,
                                       const void *w, void *gx);
rt_status rti_conv_flat_backward_weight(const rti_conv_geom *g, rt_dtype dt, const void *gy,
                                        const void *x, void *gw);

/* ---- argument checks shared by ops_conv.c and ops_conv_transpose.c --------------------- */
/* t must have ndim dims; otherwise RT_ESHAPE "op: what must be layout, got [..]". */
rt_status rti_conv_check_rank(const char *op, const char *what, const char *layout,
                              const rt_tensor *t, int ndim, int operand);
/* a is f32/f64 and b (and c when not NULL) have its dtype; names go into the message. */
rt_status rti_conv_check_dtypes(const char *op, const rt_tensor *a, const char *an,
                                const rt_tensor *b, const char *bn, const rt_tensor *c,
                                const char *cn);
/* b is NULL or (O). */
rt_status rti_conv_check_bias(const char *op, const rt_tensor *b, int64_t O);
/* stride/dilation >= 1, padding >= 0, groups >= 1; nsp = 1 prints only the W axis. */
rt_status rti_conv_check_opts(const char *op, int nsp, const int *stride, const int *padding,
                              const int *dilation, int groups);
/* A shape as the op shows it: conv1d's 4-D internals drop the H axis. */
char *rti_conv_shape_str(int nsp, int ndim, const int64_t *s, char *buf, size_t len);

#endif
