/* rt_ad_elementwise.h — differentiable elementwise ops (autograd versions of rt_elementwise.h).
** Same shapes, dtypes and statuses as the kernels; when grad mode is on and an input requires
** grad, the result records a node.  Backward rules use these same ops (any order works).
** Comparisons, sign, floor, ceil and round have zero gradient. */
#ifndef RT_AD_ELEMENTWISE_H
#define RT_AD_ELEMENTWISE_H

#include "rt_elementwise.h"

rt_status rt_ad_binary(rt_binop op, const rt_tensor *a, const rt_tensor *b, rt_tensor **out);
rt_status rt_ad_binary_scalar(rt_binop op, const rt_tensor *a, double s, int scalar_first,
                              rt_tensor **out);
rt_status rt_ad_add(const rt_tensor *a, const rt_tensor *b, rt_tensor **out);
rt_status rt_ad_sub(const rt_tensor *a, const rt_tensor *b, rt_tensor **out);
rt_status rt_ad_mul(const rt_tensor *a, const rt_tensor *b, rt_tensor **out);
rt_status rt_ad_div(const rt_tensor *a, const rt_tensor *b, rt_tensor **out);
rt_status rt_ad_unary(rt_unop op, const rt_tensor *x, rt_tensor **out);
rt_status rt_ad_leaky_relu(const rt_tensor *x, double slope, rt_tensor **out);
rt_status rt_ad_clamp(const rt_tensor *x, double lo, double hi, rt_tensor **out);
/* cond is not differentiated; a and b are (with broadcasting). */
rt_status rt_ad_where(const rt_tensor *cond, const rt_tensor *a, const rt_tensor *b,
                      rt_tensor **out);

#endif
