/* rt_core.h — the tensor runtime's core types: status codes and error messages, dtypes,
** refcounted storage, strided tensors, creation, views and copies.
** Pure C11: no Lua here.  Dimensions are 0-based; the Lua binding converts. */
#ifndef RT_CORE_H
#define RT_CORE_H

#include <stddef.h>
#include <stdint.h>

#define RT_MAXDIM 8

/* ---- status and errors ----------------------------------------------- */
typedef enum {
    RT_OK = 0,
    RT_ESHAPE,      /* shapes do not fit together */
    RT_EDTYPE,      /* dtype not accepted */
    RT_EARG,        /* bad argument value (dim, size, option) */
    RT_EINDEX,      /* index out of range */
    RT_ENOMEM,      /* allocation failed */
    RT_ELINALG,     /* singular matrix, no convergence, not positive definite */
    RT_EINTERRUPT,  /* stopped by rt_interrupt_request() */
    RT_EINTERNAL
} rt_status;

/* Records a thread-local message (printf format) and the index of the failing operand
** (-1 when no single operand is at fault).  Returns code, so `return rt_fail(...)` reads well. */
rt_status rt_fail(rt_status code, int operand, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
const char *rt_last_error(void);   /* message of the last failure on this thread */
int rt_last_operand(void);         /* operand index of the last failure, or -1 */
const char *rt_status_name(rt_status st);

/* ---- interrupt flag ------------------------------------------------------ */
/* Async-signal-safe: a SIGINT handler may call rt_interrupt_request().  Long kernels poll
** rt_interrupted() between chunks and return RT_EINTERRUPT; the caller clears the flag. */
void rt_interrupt_request(void);
void rt_interrupt_clear(void);
int rt_interrupted(void);

/* ---- dtypes -------------------------------------------------------------- */
typedef enum { RT_F32 = 0, RT_F64 = 1, RT_I64 = 2 } rt_dtype;

size_t rt_dtype_size(rt_dtype dt);
const char *rt_dtype_name(rt_dtype dt);            /* "f32", "f64", "i64" */
int rt_dtype_is_float(rt_dtype dt);
rt_dtype rt_dtype_promote(rt_dtype a, rt_dtype b); /* f64 > f32 > i64 */

/* ---- storage ------------------------------------------------------------- */
typedef struct rt_storage {
    void *data;
    size_t nbytes;
    int refcount;
    uint32_t version;   /* bumped by every in-place write; autograd compares it */
    void *block;        /* non-NULL: header, storage and data share this one allocation */
} rt_storage;

/* ---- tensors ------------------------------------------------------------- */
struct rt_node;
struct rt_hook;

typedef struct rt_tensor {
    int refcount;
    rt_dtype dtype;
    int ndim;
    int requires_grad;
    rt_storage *storage;
    int64_t offset;                 /* in elements */
    int64_t shape[RT_MAXDIM];
    int64_t strides[RT_MAXDIM];     /* in elements; 0 for broadcast dimensions */
    struct rt_tensor *grad;         /* owned reference or NULL (autograd) */
    struct rt_node *node;           /* owned reference or NULL (autograd): the op that made it */
    int output_nr;                  /* which output of node this tensor is */
    struct rt_hook *hooks;          /* gradient hooks of a leaf (autograd) */
    int in_block;                   /* this header lives in its storage's block */
} rt_tensor;

/* Ownership: functions that produce a tensor through `rt_tensor **out` give the caller a
** new reference (release it exactly once); *out is untouched on failure.  Inputs are borrowed. */
void rt_tensor_retain(rt_tensor *t);
void rt_tensor_release(rt_tensor *t);   /* NULL is fine */

int64_t rt_tensor_numel(const rt_tensor *t);
int rt_tensor_is_contiguous(const rt_tensor *t);
void *rt_tensor_data(const rt_tensor *t);          /* borrowed pointer to element 0 */
/* "[2,3]" into buf (always NUL-terminated); returns buf. */
char *rt_shape_str(int ndim, const int64_t *shape, char *buf, size_t len);
int rt_same_shape(const rt_tensor *a, const rt_tensor *b);

/* Element access by a full index (no checks beyond debug asserts; the binding checks). */
double rt_tensor_get(const rt_tensor *t, const int64_t *idx);
int64_t rt_tensor_get_i64(const rt_tensor *t, const int64_t *idx);
void rt_tensor_set(rt_tensor *t, const int64_t *idx, double v);
/* Value of a tensor with one element. RT_ESHAPE otherwise. */
rt_status rt_tensor_item(const rt_tensor *t, double *v);

/* ---- creation (new contiguous tensors) ----------------------------------- */
/* Every shape is checked: ndim in 0..RT_MAXDIM, sizes >= 0, total bytes must not overflow. */
rt_status rt_empty(rt_dtype dt, int ndim, const int64_t *shape, rt_tensor **out);
rt_status rt_zeros(rt_dtype dt, int ndim, const int64_t *shape, rt_tensor **out);
rt_status rt_ones(rt_dtype dt, int ndim, const int64_t *shape, rt_tensor **out);
rt_status rt_full(rt_dtype dt, int ndim, const int64_t *shape, double v, rt_tensor **out);
rt_status rt_scalar(rt_dtype dt, double v, rt_tensor **out);                 /* 0-d */
/* Copies n = prod(shape) elements of type dt from data. */
rt_status rt_from_buffer(rt_dtype dt, int ndim, const int64_t *shape, const void *data,
                         rt_tensor **out);
/* start, start+step, ... while not past stop (inclusive of stop when it is hit exactly,
** up to a relative tolerance for floats); step != 0. */
rt_status rt_arange(rt_dtype dt, double start, double stop, double step, rt_tensor **out);
rt_status rt_linspace(rt_dtype dt, double a, double b, int64_t n, rt_tensor **out);
rt_status rt_eye(rt_dtype dt, int64_t n, int64_t m, rt_tensor **out);

/* ---- views (share storage; never copy) ----------------------------------- */
/* A view retains the storage; requires_grad/grad/node are not copied (autograd's job). */
rt_status rt_view_reshape(const rt_tensor *t, int ndim, const int64_t *shape, rt_tensor **out);
rt_status rt_view_transpose(const rt_tensor *t, int d1, int d2, rt_tensor **out);
rt_status rt_view_permute(const rt_tensor *t, const int *perm, rt_tensor **out);
rt_status rt_view_narrow(const rt_tensor *t, int dim, int64_t start, int64_t len,
                         rt_tensor **out);
rt_status rt_view_select(const rt_tensor *t, int dim, int64_t index, rt_tensor **out);
/* Elements start, start+step, ... < stop (Python-style half-open; step >= 1). */
rt_status rt_view_slice(const rt_tensor *t, int dim, int64_t start, int64_t stop, int64_t step,
                        rt_tensor **out);
/* NumPy broadcasting of t to shape (ndim >= t->ndim; size-1 dims become stride 0). */
rt_status rt_view_expand(const rt_tensor *t, int ndim, const int64_t *shape, rt_tensor **out);
rt_status rt_view_squeeze(const rt_tensor *t, int dim, rt_tensor **out);   /* dim -1: all */
rt_status rt_view_unsqueeze(const rt_tensor *t, int dim, rt_tensor **out); /* 0..ndim */
rt_status rt_view_alias(const rt_tensor *t, rt_tensor **out);             /* same view */

/* ---- reshape-like ops that view when they can and copy when they must ----- */
/* shape may contain one -1 (inferred). */
rt_status rt_reshape(const rt_tensor *t, int ndim, const int64_t *shape, rt_tensor **out);
rt_status rt_flatten(const rt_tensor *t, int d1, int d2, rt_tensor **out);

/* ---- copies ---------------------------------------------------------------- */
rt_status rt_contiguous(const rt_tensor *t, rt_tensor **out);  /* t itself (retained) if already */
rt_status rt_clone(const rt_tensor *t, rt_tensor **out);
rt_status rt_to_dtype(const rt_tensor *t, rt_dtype dt, rt_tensor **out); /* always a copy */
/* dst[...] = src broadcast to dst's shape, converting dtype; in place (bumps the version). */
rt_status rt_copy_(rt_tensor *dst, const rt_tensor *src);
rt_status rt_fill_(rt_tensor *dst, double v);

/* ---- memory accounting ------------------------------------------------------ */
/* Bytes of tensor storage allocated since start (monotonic) and currently live.  The Lua
** binding turns growth of the first into garbage-collector steps. */
uint64_t rt_bytes_allocated(void);
uint64_t rt_bytes_live(void);

/* ---- allocation (for tests of error paths) -------------------------------- */
/* Make the n-th tensor allocation from now fail with RT_ENOMEM (0 disables). */
void rt_debug_fail_alloc_at(long n);

#endif
