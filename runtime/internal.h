/* internal.h — helpers shared by runtime files, not part of the public API (rti_ prefix). */
#ifndef RT_INTERNAL_H
#define RT_INTERNAL_H

#include <stdint.h>
#include <stddef.h>
#include "rt_core.h"
#include "rt_pool.h"

/* Allocation that honours rt_debug_fail_alloc_at(); returns NULL on failure. */
void *rti_malloc(size_t n);
void *rti_calloc(size_t n, size_t size);
void rti_free(void *p);

/* A tensor struct with no storage yet (refcount 1); NULL on failure (message recorded). */
rt_tensor *rti_tensor_alloc(rt_dtype dt, int ndim, const int64_t *shape);
/* Row-major strides for shape into strides. */
void rti_contig_strides(int ndim, const int64_t *shape, int64_t *strides);
/* prod(shape) with overflow check; -1 on overflow. */
int64_t rti_numel(int ndim, const int64_t *shape);
/* A view of t sharing its storage, with the given geometry. */
rt_status rti_make_view(const rt_tensor *t, int ndim, const int64_t *shape,
                        const int64_t *strides, int64_t offset, rt_tensor **out);
/* The NumPy broadcast shape of a and b; RT_ESHAPE (message names op) if they do not fit. */
rt_status rti_broadcast_shape(const char *op, int na, const int64_t *sa, int nb,
                              const int64_t *sb, int *nout, int64_t *sout);
/* Checks 0 <= *dim < ndim (after adding ndim to a negative dim); message names op. */
rt_status rti_check_dim(const char *op, int *dim, int ndim);
/* Set by the autograd engine: how the core releases a tensor's node and leaf hooks. */
extern void (*rti_node_release_hook)(struct rt_node *);
extern void (*rti_hooks_release_hook)(struct rt_hook *);
/* Autograd glue for differentiable ops: if grad mode is on and an input requires grad,
** records op over in[] as o's grad_fn with narg integer parameters (node->iarg); then hands o
** to *out.  On failure o is released and *out untouched. */
struct rt_opdef;
rt_status rti_finish(const struct rt_opdef *op, int nin, rt_tensor *const *in, rt_tensor *o,
                     const int64_t *iarg, int narg, rt_tensor **out);
/* ---- a scratch list for chaining differentiable ops in backward functions -------------
** Each rti_s_* call runs one differentiable op and keeps its result in the list (NULL once
** anything failed, after which later calls do nothing).  rti_s_done hands one result to *out
** and releases the rest, so a backward reads like the formula it implements. */
#define RTI_SCRATCH 16
typedef struct {
    rt_tensor *t[RTI_SCRATCH];
    int n;
    rt_status st;
} rti_scratch;
rt_tensor *rti_s_keep(rti_scratch *s, rt_status st, rt_tensor *t);
rt_tensor *rti_s_bin(rti_scratch *s, int binop, const rt_tensor *a, const rt_tensor *b);
rt_tensor *rti_s_scal(rti_scratch *s, int binop, const rt_tensor *a, double v, int scalar_first);
rt_tensor *rti_s_un(rti_scratch *s, int unop, const rt_tensor *a);
/* a * b summed down to shape (the gradient of a broadcast product). */
rt_tensor *rti_s_mul_to(rti_scratch *s, const rt_tensor *a, const rt_tensor *b, int ndim,
                        const int64_t *shape);
rt_tensor *rti_s_sum_to(rti_scratch *s, const rt_tensor *a, int ndim, const int64_t *shape);
rt_status rti_s_done(rti_scratch *s, rt_tensor *result, rt_tensor **out);
/* ---- (N,C,H,W) or (C,H,W) geometry of pooling and resampling inputs ----------------- */
typedef struct {
    int ndim;           /* 3 (C,H,W) or 4 (N,C,H,W) */
    int64_t n, c, h, w;
    int64_t s[4];       /* element strides for n, c, h, w; s[0] = 0 when ndim == 3 */
} rti_nchw;
/* Reads t's geometry; RT_ESHAPE/RT_EDTYPE (message names op and what) unless t is a 3-d or
** 4-d float tensor. */
rt_status rti_get_nchw(const char *op, const char *what, const rt_tensor *t, rti_nchw *g);
/* A new tensor with g's n and c (and g's rank) and spatial size oh x ow, zeroed if asked. */
rt_status rti_new_nchw(rt_dtype dt, const rti_nchw *g, int64_t oh, int64_t ow, int zero,
                       rt_tensor **out);
/* Row-major C (M,N) = alpha op(A) op(B) + beta C through OpenBLAS, in panels spread over the
** pool (blas_gemm.c).  Sizes and leading dimensions must fit int; M, N, K > 0. */
rt_status rti_gemm_rm(rt_dtype dt, int ta, int tb, int64_t M, int64_t N, int64_t K,
                      double alpha, const void *a, int64_t lda, const void *b, int64_t ldb,
                      double beta, void *c, int64_t ldc);
/* RT_EARG (blaming operand) if t is an expanded view: writing through a stride-0 dimension
** of size > 1 would race between threads and is meaningless. */
rt_status rti_check_writable(const char *op, const rt_tensor *t, int operand);
/* double -> int64 without undefined behaviour: saturates, nan -> 0. */
int64_t rti_double_to_i64(double v);
/* Bumps the storage version: call from every in-place write. */
void rti_bump_version(rt_tensor *t);

/* ---- strided iteration over several operands of one shape -------------------------
** Operand 0 is usually the output.  Strides are in bytes so that kernels of any dtype share
** the walker.  rti_iter_init coalesces dimensions that are contiguous for every operand, so
** most runs are long. */
#define RTI_MAXOP 4
typedef struct {
    int nop, ndim;
    int64_t shape[RT_MAXDIM];
    int64_t strides[RTI_MAXOP][RT_MAXDIM];   /* bytes */
    char *base[RTI_MAXOP];
    int64_t numel;
} rti_iter;

/* ops[i] must already have `ndim, shape` (e.g. broadcast with rt_view_expand). */
void rti_iter_init(rti_iter *it, int nop, rt_tensor *const *ops);
/* Inner-loop callback: n elements, ptr[i] and stride[i] (bytes) for each operand. */
typedef void (*rti_inner_fn)(void *ctx, char **ptr, const int64_t *stride, int64_t n);
/* Calls fn on the runs that cover flat elements [begin, end) in row-major order. */
void rti_iter_range(const rti_iter *it, int64_t begin, int64_t end, rti_inner_fn fn, void *ctx);
/* Parallel walk over all elements, chunks of `grain` elements. */
rt_status rti_iter_parallel(const rti_iter *it, int64_t grain, rti_inner_fn fn, void *ctx);

/* Default grain for elementwise kernels (elements per chunk). */
#define RTI_GRAIN 32768

#endif
