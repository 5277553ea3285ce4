/* linalg_internal.h — helpers shared by linalg_lapack.c and linalg_decomp.c only (not part of
** the public API, not included by nabla_rt.h).  Batches of matrices are worked on in a
** contiguous row-major copy that LAPACK (through LAPACKE's row-major API) overwrites. */
#ifndef RT_LINALG_INTERNAL_H
#define RT_LINALG_INTERNAL_H

#include <lapacke.h>
#include "internal.h"
#include "rt_linalg.h"

/* Element i of a contiguous f32 or f64 buffer, as a double. */
static inline double la_get(rt_dtype dt, const char *p, int64_t i)
{
    return dt == RT_F32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}

static inline void la_set(rt_dtype dt, char *p, int64_t i, double v)
{
    if (dt == RT_F32) ((float *)p)[i] = (float)v;
    else ((double *)p)[i] = v;
}

/* f32 or f64, at least 2 dimensions, square when asked, sizes LAPACK's int can hold.
** The message names op and the operand (e.g. "A"). */
rt_status rti_la_check(const char *op, int operand, const char *name, const rt_tensor *t,
                       int square);

/* A new contiguous copy of t expanded to (bshape..., rows, cols): the matrices LAPACK
** overwrites.  t itself is never written. */
rt_status rti_la_work(const rt_tensor *t, int bnd, const int64_t *bshape, rt_tensor **w);

/* A new contiguous tensor of shape (bshape..., tail...), zero-filled when zero != 0. */
rt_status rti_la_new(rt_dtype dt, int bnd, const int64_t *bshape, int ntail,
                     const int64_t *tail, int zero, rt_tensor **out);

/* Matrix i of a contiguous batch whose matrices hold `elems` elements each. */
char *rti_la_mat(const rt_tensor *w, int64_t i, int64_t elems);

/* " in batch element 3 of 6" (1-based) when nbatch > 1, otherwise "". */
const char *rti_la_where(int64_t i, int64_t nbatch, char *buf, size_t len);

/* Status for a negative LAPACKE info: out of memory, NaN in an input (LAPACKE checks), or an
** internal error.  info >= 0 must be handled by the caller. */
rt_status rti_la_fail(const char *op, const char *routine, lapack_int info);

/* RT_EINTERRUPT (message set) when an interrupt is pending before batch element i > 0. */
rt_status rti_la_poll(int64_t i);

/* Machine epsilon of a float dtype. */
double rti_la_eps(rt_dtype dt);

/* A system pair: A (...,m,n) with B (...,m,k), or B a batch of vectors (...,m) when B is 1-D or
** has A's shape without its last dimension.  Gives A and B (as (...,m,k), k = 1 for vectors)
** expanded to the common batch shape bshape (bnd dims), and *vec. */
rt_status rti_la_pair(const char *op, const rt_tensor *A, const rt_tensor *B, rt_tensor **Ae,
                      rt_tensor **Be, int *vec, int *bnd, int64_t *bshape);

/* The batch shape and matrix count of a (...,m,n) tensor. */
int64_t rti_la_nbatch(const rt_tensor *t);

#endif
