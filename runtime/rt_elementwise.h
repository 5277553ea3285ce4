/* rt_elementwise.h — elementwise ops: binary arithmetic and comparisons with NumPy
** broadcasting, unary math, clamp, where and axpby.  Reductions, matmul and autograd rules live
** elsewhere; these are the plain forward kernels the autograd ops are built from. */
#ifndef RT_ELEMENTWISE_H
#define RT_ELEMENTWISE_H
#include "rt_core.h"

/* ---- common rules ---------------------------------------------------------------------
** Inputs are borrowed and may be any strided view (transposed, sliced, offset, expanded).
** `*out` receives a new contiguous tensor (release it once); on failure *out is untouched and
** nothing leaks.  Every function returns RT_OK, RT_ENOMEM, RT_EINTERRUPT, or the statuses
** listed with it.
** Broadcasting follows NumPy: shapes are aligned on the right and size-1 dims stretch; a
** mismatch is RT_ESHAPE with a message naming the op and both shapes.
** Dtypes promote f64 > f32 > i64.  Operands of a smaller dtype are converted (copied) to the
** computation dtype first.  f32 math is done in float.
** In-place forms (trailing underscore) write into their first operand, bump its storage
** version, and refuse (RT_EDTYPE) any op whose result dtype differs from the destination's;
** a destination that is an expanded view (stride 0 on a dim of size > 1) is RT_EARG.
** Operands may share storage with the destination in any overlapping layout (x op= x:t()):
** such an operand is copied first, so the result is as if all inputs were read before writing.
** Results do not depend on the thread count (elementwise work has no reductions). */

/* ---- binary ops ------------------------------------------------------------------------ */
typedef enum {
    RT_ADD, RT_SUB, RT_MUL, RT_DIV, RT_POW, RT_MAXIMUM, RT_MINIMUM,
    RT_EQ, RT_NE, RT_LT, RT_LE, RT_GT, RT_GE
} rt_binop;
#define RT_BINOP_COUNT 13

/* "add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", "ne", "lt", "le", "gt",
** "ge"; "?" for a value outside the enum. */
const char *rt_binop_name(rt_binop op);

/* out = a op b, broadcast.  Result dtype = promote(a, b), except:
**  - RT_DIV of two i64 gives f32 (true division, like PyTorch).  So no integer division is
**    ever performed: i64 x / 0 is +inf, -inf or nan, and INT64_MIN / -1 is 9.223372e18.
**  - comparisons (EQ..GE) compare in the promoted dtype and return 0/1 in that dtype.
** i64 arithmetic wraps modulo 2^64 on overflow.  i64 RT_POW with a negative exponent is the
** truncated integer quotient 1 / x^|e|: 1 for x = 1, +-1 for x = -1, and 0 otherwise (x = 0
** included: defined, not an error).  Float RT_POW is C's pow (negative base with a non-integer
** exponent gives nan).  MAXIMUM/MINIMUM propagate nan from either side.
** Statuses: RT_ESHAPE (shapes do not broadcast), RT_EARG (op outside the enum). */
rt_status rt_binary(rt_binop op, const rt_tensor *a, const rt_tensor *b, rt_tensor **out);

/* a = a op b in place; b is broadcast to a's shape and may alias a in any layout.
** Statuses: RT_ESHAPE (b does not broadcast to a's shape), RT_EDTYPE (the result dtype is not
** a's: i64 += f32, f32 += f64, i64 /= i64 ...), RT_EARG (a is an expanded view, or bad op). */
rt_status rt_binary_(rt_binop op, rt_tensor *a, const rt_tensor *b);

/* out = a op b written into an existing tensor (no allocation in the common case): out must
** have the broadcast shape and the result dtype rt_binary would give; it may alias a or b.
** Statuses: as rt_binary_ (operand 2 is out). */
rt_status rt_binary_out(rt_binop op, const rt_tensor *a, const rt_tensor *b, rt_tensor *out);

/* out = a op s (scalar_first = 0) or s op a (scalar_first != 0).  The result keeps a's dtype
** (s is rounded to it), except: if a is i64 and s is not an integer in i64's range (2.5, inf,
** nan), the op runs in f32; RT_DIV on i64 always gives f32, as in rt_binary.
** Statuses: RT_EARG (bad op). */
rt_status rt_binary_scalar(rt_binop op, const rt_tensor *a, double s, int scalar_first,
                           rt_tensor **out);

/* out = alpha * x + beta * y, broadcast, in one pass (optimizer updates, autograd sums).
** Result dtype = promote(x, y); i64 operands stay i64 only if alpha and beta are integers
** (else f32).  Statuses: RT_ESHAPE. */
rt_status rt_axpby(double alpha, const rt_tensor *x, double beta, const rt_tensor *y,
                   rt_tensor **out);

/* ReLU's gradient in one pass: out = x > 0 ? g : 0 (g and x broadcast; a select, so inf or
** nan in g stays out of the zeroed positions, as in PyTorch's threshold_backward).
** Statuses: RT_ESHAPE. */
rt_status rt_relu_backward(const rt_tensor *g, const rt_tensor *x, rt_tensor **out);

/* ---- unary ops ------------------------------------------------------------------------- */
typedef enum {
    RT_NEG, RT_ABS, RT_EXP, RT_LOG, RT_LOG1P, RT_SQRT, RT_RSQRT, RT_SIN, RT_COS, RT_TANH,
    RT_SIGMOID, RT_RELU, RT_GELU, RT_SOFTPLUS, RT_SIGN, RT_SQUARE, RT_RECIPROCAL,
    RT_EXPM1, RT_FLOOR, RT_CEIL, RT_ROUND, RT_ERF
} rt_unop;
#define RT_UNOP_COUNT 22

/* "neg", "abs", "exp", ..., "round"; "?" for a value outside the enum. */
const char *rt_unop_name(rt_unop op);

/* out = op(x), same shape.  f32/f64 keep their dtype.  On i64, NEG ABS SIGN SQUARE RELU
** FLOOR CEIL ROUND stay i64 (NEG/ABS/SQUARE wrap on overflow); every other op gives f32.
** Definitions: gelu(x) = 0.5 x (1 + erf(x/sqrt 2)) (exact form, computed as 0.5 x erfc(-x/sqrt 2)
** so the negative tail keeps its precision); softplus(x) = log1p(exp(-|x|)) + max(x, 0) (no
** overflow); sigmoid never overflows (sigmoid(-1000) = 0, sigmoid(1000) = 1); sign(+-0) = 0 and
** sign(nan) = nan; relu passes nan through; round is half-to-even (round(2.5) = 2), as in
** NumPy/PyTorch; rsqrt(x) = 1/sqrt(x).  Statuses: RT_EARG (bad op). */
rt_status rt_unary(rt_unop op, const rt_tensor *x, rt_tensor **out);

/* x = op(x) in place.  Statuses: RT_EDTYPE (a float op on i64), RT_EARG (expanded view, bad op). */
rt_status rt_unary_(rt_unop op, rt_tensor *x);

/* out = x >= 0 ? x : slope * x (nan passes through).  i64 input gives f32. */
rt_status rt_leaky_relu(const rt_tensor *x, double slope, rt_tensor **out);

/* out = min(max(x, lo), hi); use lo = -INFINITY or hi = INFINITY for one side.  If lo > hi every
** element becomes hi (as in PyTorch).  nan elements stay nan.  Keeps x's dtype; on i64 the bounds
** are rounded inward (lo up, hi down).  Statuses: RT_EARG (a bound is nan). */
rt_status rt_clamp(const rt_tensor *x, double lo, double hi, rt_tensor **out);
/* In place; also RT_EARG for an expanded view. */
rt_status rt_clamp_(rt_tensor *x, double lo, double hi);

/* ---- selection ------------------------------------------------------------------------- */
/* out = cond != 0 ? a : b, with cond, a and b broadcast together.  cond may have any dtype
** (nan counts as true, -0.0 as false).  Result dtype = promote(a, b); values are copied
** bit-exactly.  Statuses: RT_ESHAPE. */
rt_status rt_where(const rt_tensor *cond, const rt_tensor *a, const rt_tensor *b,
                   rt_tensor **out);

#endif
