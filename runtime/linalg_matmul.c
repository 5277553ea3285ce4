/* linalg_matmul.c — matrix products: matmul (PyTorch semantics), mm, gemm_, dot, outer, and the
** naive rt_matmul_ref used as the test reference.  Every product goes through OpenBLAS's
** sgemm or dgemm in panels over the pool (rti_gemm_rm); strided operands are passed to BLAS as
** they are (via lda and the transpose flag) and packed only when no BLAS layout describes
** them. */
#include <limits.h>
#include <string.h>
#include <cblas.h>
#include "internal.h"
#include "rt_linalg.h"

/* A matrix as BLAS sees it: element (i,j) at p + (i*rs + j*cs) elements. */
typedef struct {
    char *p;
    int64_t rs, cs;
} mat;

/* ---- BLAS layouts and packing ---------------------------------------------------------- */

/* Can BLAS read a rows x cols matrix with these strides?  Row-major when the column stride is 1
** (trans = NoTrans, ld = row stride), or column-major when the row stride is 1: that is the
** transpose of a row-major matrix (trans = Trans, ld = column stride).  A dimension of size 1
** never moves, so its stride does not matter.  lda must fit BLAS's 32-bit int. */
static int blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs,
                       CBLAS_TRANSPOSE *tr, int64_t *ld)
{
    int64_t minr = cols > 1 ? cols : 1, minc = rows > 1 ? rows : 1;
    if ((cols <= 1 || cs == 1) && (rows <= 1 || rs >= minr)) {
        *tr = CblasNoTrans;
        *ld = rows <= 1 ? minr : rs;
    } else if ((rows <= 1 || rs == 1) && (cols <= 1 || cs >= minc)) {
        *tr = CblasTrans;
        *ld = cols <= 1 ? minc : cs;
    } else {
        return 0;
    }
    return *ld <= INT_MAX;
}

/* dst (rows,cols) contiguous <- src strided. */
static void pack(rt_dtype dt, mat src, int64_t rows, int64_t cols, char *dst)
{
    for (int64_t i = 0; i < rows; i++) {
        if (dt == RT_F32) {
            const float *s = (const float *)src.p + i * src.rs;
            float *d = (float *)dst + i * cols;
            for (int64_t j = 0; j < cols; j++) d[j] = s[j * src.cs];
        } else {
            const double *s = (const double *)src.p + i * src.rs;
            double *d = (double *)dst + i * cols;
            for (int64_t j = 0; j < cols; j++) d[j] = s[j * src.cs];
        }
    }
}

/* dst strided <- src (rows,cols) contiguous. */
static void unpack(rt_dtype dt, const char *src, int64_t rows, int64_t cols, mat dst)
{
    for (int64_t i = 0; i < rows; i++) {
        if (dt == RT_F32) {
            const float *s = (const float *)src + i * cols;
            float *d = (float *)dst.p + i * dst.rs;
            for (int64_t j = 0; j < cols; j++) d[j * dst.cs] = s[j];
        } else {
            const double *s = (const double *)src + i * cols;
            double *d = (double *)dst.p + i * dst.rs;
            for (int64_t j = 0; j < cols; j++) d[j * dst.cs] = s[j];
        }
    }
}

/* C (M,N) row-major with ldc: C = beta * C.  BLAS with K = 0 would do this too, but some
** builds check lda >= K oddly for K = 0; doing it here keeps the empty case out of BLAS. */
static void scale_rows(rt_dtype dt, int64_t M, int64_t N, double beta, char *C, int64_t ldc)
{
    for (int64_t i = 0; i < M; i++) {
        if (dt == RT_F32) {
            float *c = (float *)C + i * ldc, b = (float)beta;
            for (int64_t j = 0; j < N; j++) c[j] = beta == 0 ? 0.0f : b * c[j];
        } else {
            double *c = (double *)C + i * ldc;
            for (int64_t j = 0; j < N; j++) c[j] = beta == 0 ? 0.0 : beta * c[j];
        }
    }
}

/* ---- the GEMM core --------------------------------------------------------------------- */

/* A: (M,K)  B: (K,N)  C: (M,N) row-major with leading dimension ldc.
** C = alpha A B + beta C.  An operand BLAS cannot read is packed into scratch first. */
static rt_status gemm_rowmajor(rt_dtype dt, int64_t M, int64_t N, int64_t K, double alpha,
                               mat A, mat B, double beta, char *C, int64_t ldc)
{
    if (M == 0 || N == 0) return RT_OK;
    if (K == 0 || alpha == 0) {
        scale_rows(dt, M, N, beta, C, ldc);
        return RT_OK;
    }
    if (M > INT_MAX || N > INT_MAX || K > INT_MAX || ldc > INT_MAX)
        return rt_fail(RT_ESHAPE, -1, "matmul: a product of (%lld,%lld) @ (%lld,%lld) is too "
                       "large for BLAS (sizes must be below 2^31)", (long long)M, (long long)K,
                       (long long)K, (long long)N);
    size_t es = rt_dtype_size(dt);
    CBLAS_TRANSPOSE ta, tb;
    int64_t lda, ldb;
    char *pa = NULL, *pb = NULL;
    if (!blas_layout(M, K, A.rs, A.cs, &ta, &lda)) {
        if (!(pa = rti_malloc((size_t)(M * K) * es))) goto nomem;
        pack(dt, A, M, K, pa);
        A = (mat){ pa, K, 1 };
        ta = CblasNoTrans, lda = K;
    }
    if (!blas_layout(K, N, B.rs, B.cs, &tb, &ldb)) {
        if (!(pb = rti_malloc((size_t)(K * N) * es))) goto nomem;
        pack(dt, B, K, N, pb);
        B = (mat){ pb, N, 1 };
        tb = CblasNoTrans, ldb = N;
    }
    rt_status st = rti_gemm_rm(dt, ta == CblasTrans, tb == CblasTrans, M, N, K, alpha, A.p, lda,
                               B.p, ldb, beta, C, ldc);
    rti_free(pa);
    rti_free(pb);
    return st;
nomem:
    rti_free(pa);
    return rt_fail(RT_ENOMEM, -1, "matmul: out of memory packing a strided operand");
}

/* Same, for any strided C.  A column-major C is the row-major C^T = B^T A^T; any other C (or
** one that overlaps A or B: `scratch`) goes through a contiguous scratch matrix. */
static rt_status gemm_any(rt_dtype dt, int64_t M, int64_t N, int64_t K, double alpha, mat A,
                          mat B, double beta, mat C, int scratch)
{
    CBLAS_TRANSPOSE tc;
    int64_t ldc;
    if (M == 0 || N == 0) return RT_OK;
    if (!scratch && blas_layout(M, N, C.rs, C.cs, &tc, &ldc)) {
        if (tc == CblasNoTrans)
            return gemm_rowmajor(dt, M, N, K, alpha, A, B, beta, C.p, ldc);
        mat At = { A.p, A.cs, A.rs }, Bt = { B.p, B.cs, B.rs };
        return gemm_rowmajor(dt, N, M, K, alpha, Bt, At, beta, C.p, ldc);
    }
    char *tmp = rti_malloc((size_t)(M * N) * rt_dtype_size(dt));
    if (!tmp) return rt_fail(RT_ENOMEM, -1, "gemm_: out of memory for a scratch output");
    if (beta != 0) pack(dt, C, M, N, tmp);
    rt_status st = gemm_rowmajor(dt, M, N, K, alpha, A, B, beta, tmp, N);
    if (st == RT_OK) unpack(dt, tmp, M, N, C);
    rti_free(tmp);
    return st;
}

/* The reference kernel: A (M,K)  B (K,N)  C (M,N) row-major, C = A B, summed in double. */
static void gemm_naive(rt_dtype dt, int64_t M, int64_t N, int64_t K, mat A, mat B, char *C)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++) {
                int64_t ia = i * A.rs + k * A.cs, ib = k * B.rs + j * B.cs;
                if (dt == RT_F32)
                    s += (double)((const float *)A.p)[ia] * ((const float *)B.p)[ib];
                else
                    s += ((const double *)A.p)[ia] * ((const double *)B.p)[ib];
            }
            if (dt == RT_F32) ((float *)C)[i * N + j] = (float)s;
            else ((double *)C)[i * N + j] = s;
        }
}

/* ---- matmul planning -------------------------------------------------------------------- */

static rt_status check_dtypes(const char *op, const rt_tensor *a, const rt_tensor *b)
{
    for (int i = 0; i < 2; i++) {
        const rt_tensor *t = i ? b : a;
        if (!rt_dtype_is_float(t->dtype))
            return rt_fail(RT_EDTYPE, i, "%s: %s tensors are not supported (f32 or f64 only; "
                           "convert operand %d with to())", op, rt_dtype_name(t->dtype), i + 1);
    }
    if (a->dtype != b->dtype)
        return rt_fail(RT_EDTYPE, 1, "%s: dtypes differ: %s and %s (convert one operand with "
                       "to())", op, rt_dtype_name(a->dtype), rt_dtype_name(b->dtype));
    return RT_OK;
}

/* a: (batch..., M, K) and b: (batch..., K, N), both expanded to the same batch shape. */
typedef struct {
    rt_tensor *a, *b;
    int bnd;
    int64_t nbatch, M, N, K;
} mm_plan;

static void plan_free(mm_plan *p)
{
    rt_tensor_release(p->a);
    rt_tensor_release(p->b);
}

/* Replaces *t with a contiguous copy when BLAS cannot read its matrices as they are; done
** before expanding so that broadcast batch dimensions are not materialised. */
static rt_status blas_readable(rt_tensor **t)
{
    rt_tensor *x = *t, *c;
    int n = x->ndim;
    CBLAS_TRANSPOSE tr;
    int64_t ld;
    if (blas_layout(x->shape[n - 2], x->shape[n - 1], x->strides[n - 2], x->strides[n - 1],
                    &tr, &ld))
        return RT_OK;
    rt_status st = rt_clone(x, &c);
    if (st != RT_OK) return st;
    rt_tensor_release(x);
    *t = c;
    return RT_OK;
}

/* Promotes 1-D operands, checks K, broadcasts the batch; fills the output shape. */
static rt_status plan_make(const char *op, const rt_tensor *a, const rt_tensor *b, mm_plan *p,
                           int *ond, int64_t *oshape)
{
    char s1[128], s2[128];
    rt_tensor *a2 = NULL, *b2 = NULL;
    rt_status st = a->ndim == 1 ? rt_view_unsqueeze(a, 0, &a2) : rt_view_alias(a, &a2);
    if (st == RT_OK) st = b->ndim == 1 ? rt_view_unsqueeze(b, 1, &b2) : rt_view_alias(b, &b2);
    if (st != RT_OK) goto fail;
    int na = a2->ndim, nb = b2->ndim;
    p->M = a2->shape[na - 2], p->K = a2->shape[na - 1], p->N = b2->shape[nb - 1];
    if (p->K != b2->shape[nb - 2]) {
        st = rt_fail(RT_ESHAPE, 1, "%s: %s @ %s: inner sizes %lld and %lld differ", op,
                     rt_shape_str(a->ndim, a->shape, s1, sizeof s1),
                     rt_shape_str(b->ndim, b->shape, s2, sizeof s2), (long long)p->K,
                     (long long)b2->shape[nb - 2]);
        goto fail;
    }
    int64_t bshape[RT_MAXDIM + 2];
    if (rti_broadcast_shape(op, na - 2, a2->shape, nb - 2, b2->shape, &p->bnd, bshape)
        != RT_OK) {
        st = rt_fail(RT_ESHAPE, -1, "%s: %s @ %s: batch dimensions do not broadcast", op,
                     rt_shape_str(a->ndim, a->shape, s1, sizeof s1),
                     rt_shape_str(b->ndim, b->shape, s2, sizeof s2));
        goto fail;
    }
    if ((st = blas_readable(&a2)) != RT_OK || (st = blas_readable(&b2)) != RT_OK) goto fail;
    p->nbatch = rti_numel(p->bnd, bshape);
    *ond = 0;
    for (int i = 0; i < p->bnd; i++) oshape[(*ond)++] = bshape[i];
    if (a->ndim > 1) oshape[(*ond)++] = p->M;
    if (b->ndim > 1) oshape[(*ond)++] = p->N;
    bshape[p->bnd] = p->M, bshape[p->bnd + 1] = p->K;
    st = rt_view_expand(a2, p->bnd + 2, bshape, &p->a);
    bshape[p->bnd] = p->K, bshape[p->bnd + 1] = p->N;
    if (st == RT_OK && (st = rt_view_expand(b2, p->bnd + 2, bshape, &p->b)) != RT_OK)
        rt_tensor_release(p->a);
fail:
    rt_tensor_release(a2);
    rt_tensor_release(b2);
    return st;
}

static mat mat_at(const rt_tensor *t, int64_t elem_off)
{
    size_t es = rt_dtype_size(t->dtype);
    return (mat){ (char *)rt_tensor_data(t) + elem_off * (int64_t)es, t->strides[t->ndim - 2],
                  t->strides[t->ndim - 1] };
}

/* One (B*M, K) @ (K, N) GEMM for a batch whose b is shared (every batch stride 0) and whose a
** rows are evenly spaced across the batch: then the output's batch is just more rows.
** Returns the common row stride of a, or 0 when the batch does not fold. */
static int64_t fold_stride(const mm_plan *p)
{
    const rt_tensor *a = p->a, *b = p->b;
    int64_t rs = 0, span = 0;
    int found = 0;
    for (int i = 0; i < p->bnd; i++)
        if (b->shape[i] > 1 && b->strides[i] != 0) return 0;
    for (int i = p->bnd; i >= 0; i--) {     /* M, then the batch dimensions inward-out */
        if (a->shape[i] == 1) continue;
        if (a->strides[i] == 0) return 0;   /* a broadcast a repeats rows: no fold */
        if (!found) {
            found = 1;
            rs = a->strides[i];
            span = rs * a->shape[i];
        } else if (a->strides[i] != span) {
            return 0;
        } else {
            span *= a->shape[i];
        }
    }
    return found ? rs : 0;
}

/* Batch element i's offset (in elements) inside t, from the batch shape. */
static int64_t batch_offset(const rt_tensor *t, int bnd, int64_t i)
{
    int64_t off = 0;
    for (int d = bnd - 1; d >= 0; d--) {
        off += (i % t->shape[d]) * t->strides[d];
        i /= t->shape[d];
    }
    return off;
}

static rt_status plan_run(const mm_plan *p, int ref, rt_tensor *out)
{
    rt_dtype dt = out->dtype;
    char *o = rt_tensor_data(out);
    int64_t M = p->M, N = p->N, K = p->K, mn = M * N;
    size_t es = rt_dtype_size(dt);
    if (mn == 0 || p->nbatch == 0) return RT_OK;
    int64_t rs = ref || p->nbatch == 1 ? 0 : fold_stride(p);
    if (rs > 0) {
        mat A = mat_at(p->a, 0);
        A.rs = rs;
        return gemm_rowmajor(dt, p->nbatch * M, N, K, 1.0, A, mat_at(p->b, 0), 0.0, o, N);
    }
    for (int64_t i = 0; i < p->nbatch; i++) {
        if (i > 0 && rt_interrupted()) return rt_fail(RT_EINTERRUPT, -1, "interrupted");
        mat A = mat_at(p->a, batch_offset(p->a, p->bnd, i));
        mat B = mat_at(p->b, batch_offset(p->b, p->bnd, i));
        char *C = o + (size_t)(i * mn) * es;
        if (ref) {
            gemm_naive(dt, M, N, K, A, B, C);
        } else {
            rt_status st = gemm_rowmajor(dt, M, N, K, 1.0, A, B, 0.0, C, N);
            if (st != RT_OK) return st;
        }
    }
    return RT_OK;
}

static rt_status matmul_impl(const char *op, const rt_tensor *a, const rt_tensor *b, int ref,
                             rt_tensor **out)
{
    char s[128];
    rt_status st = check_dtypes(op, a, b);
    if (st != RT_OK) return st;
    for (int i = 0; i < 2; i++) {
        const rt_tensor *t = i ? b : a;
        if (t->ndim == 0)
            return rt_fail(RT_ESHAPE, i, "%s: operand %d is 0-d (shape %s); it needs at least "
                           "1 dimension (use mul for scalars)", op, i + 1,
                           rt_shape_str(t->ndim, t->shape, s, sizeof s));
    }
    mm_plan p = { 0 };
    int ond = 0;
    int64_t oshape[RT_MAXDIM];
    rt_tensor *o = NULL;
    if ((st = plan_make(op, a, b, &p, &ond, oshape)) != RT_OK) return st;
    st = rt_empty(a->dtype, ond, oshape, &o);
    if (st == RT_OK) st = plan_run(&p, ref, o);
    plan_free(&p);
    if (st != RT_OK) {
        rt_tensor_release(o);
        return st;
    }
    *out = o;
    return RT_OK;
}

/* ---- public products ---------------------------------------------------------------- */

rt_status rt_matmul(const rt_tensor *a, const rt_tensor *b, rt_tensor **out)
{
    return matmul_impl("matmul", a, b, 0, out);
}

rt_status rt_matmul_ref(const rt_tensor *a, const rt_tensor *b, rt_tensor **out)
{
    return matmul_impl("matmul", a, b, 1, out);
}

/* Checks that both operands have exactly nd dimensions. */
static rt_status check_ndim(const char *op, const rt_tensor *a, const rt_tensor *b, int nd)
{
    char s1[128], s2[128];
    if (a->ndim == nd && b->ndim == nd) return RT_OK;
    return rt_fail(RT_ESHAPE, a->ndim != nd ? 0 : 1, "%s: expected two %d-D tensors, got %s and "
                   "%s", op, nd, rt_shape_str(a->ndim, a->shape, s1, sizeof s1),
                   rt_shape_str(b->ndim, b->shape, s2, sizeof s2));
}

rt_status rt_mm(const rt_tensor *a, const rt_tensor *b, rt_tensor **out)
{
    rt_status st = check_ndim("mm", a, b, 2);
    return st != RT_OK ? st : matmul_impl("mm", a, b, 0, out);
}

rt_status rt_dot(const rt_tensor *a, const rt_tensor *b, rt_tensor **out)
{
    rt_status st = check_ndim("dot", a, b, 1);
    return st != RT_OK ? st : matmul_impl("dot", a, b, 0, out);
}

/* (M) x (N): the product of a (M,1) and a (1,N) view, so K = 1. */
rt_status rt_outer(const rt_tensor *a, const rt_tensor *b, rt_tensor **out)
{
    rt_status st = check_ndim("outer", a, b, 1);
    if (st == RT_OK) st = check_dtypes("outer", a, b);
    if (st != RT_OK) return st;
    rt_tensor *a2 = NULL, *b2 = NULL;
    st = rt_view_unsqueeze(a, 1, &a2);
    if (st == RT_OK) st = rt_view_unsqueeze(b, 0, &b2);
    if (st == RT_OK) st = matmul_impl("outer", a2, b2, 0, out);
    rt_tensor_release(a2);
    rt_tensor_release(b2);
    return st;
}

/* ---- gemm_: in place into an existing output -------------------------------------------- */

static rt_status gemm_check(int ta, int tb, const rt_tensor *a, const rt_tensor *b,
                           const rt_tensor *out, int64_t *M, int64_t *N, int64_t *K)
{
    char s1[128], s2[128], s3[128];
    rt_status st = check_dtypes("gemm_", a, b);
    if (st != RT_OK) return st;
    if (out->dtype != a->dtype)
        return rt_fail(RT_EDTYPE, 2, "gemm_: out is %s but the operands are %s",
                       rt_dtype_name(out->dtype), rt_dtype_name(a->dtype));
    if (a->ndim != 2 || b->ndim != 2 || out->ndim != 2)
        return rt_fail(RT_ESHAPE, a->ndim != 2 ? 0 : b->ndim != 2 ? 1 : 2, "gemm_: expected "
                       "2-D a, b and out, got %s, %s and %s",
                       rt_shape_str(a->ndim, a->shape, s1, sizeof s1),
                       rt_shape_str(b->ndim, b->shape, s2, sizeof s2),
                       rt_shape_str(out->ndim, out->shape, s3, sizeof s3));
    *M = a->shape[ta ? 1 : 0], *K = a->shape[ta ? 0 : 1], *N = b->shape[tb ? 0 : 1];
    int64_t kb = b->shape[tb ? 1 : 0];
    if (*K != kb)
        return rt_fail(RT_ESHAPE, 1, "gemm_: op(a) [%lld,%lld] @ op(b) [%lld,%lld]: inner sizes "
                       "%lld and %lld differ", (long long)*M, (long long)*K, (long long)kb,
                       (long long)*N, (long long)*K, (long long)kb);
    if (out->shape[0] != *M || out->shape[1] != *N)
        return rt_fail(RT_ESHAPE, 2, "gemm_: out has shape %s, expected [%lld,%lld]",
                       rt_shape_str(out->ndim, out->shape, s3, sizeof s3), (long long)*M,
                       (long long)*N);
    for (int i = 0; i < 2; i++)
        if (out->strides[i] == 0 && out->shape[i] > 1)
            return rt_fail(RT_EARG, 2, "gemm_: out is an expanded view (dimension %d repeats "
                           "one element); clone() it first", i + 1);
    return RT_OK;
}

rt_status rt_gemm_(int trans_a, int trans_b, double alpha, const rt_tensor *a, const rt_tensor *b,
                   double beta, rt_tensor *out)
{
    int64_t M = 0, N = 0, K = 0;
    rt_status st = gemm_check(trans_a, trans_b, a, b, out, &M, &N, &K);
    if (st != RT_OK) return st;
    mat A = mat_at(a, 0), B = mat_at(b, 0), C = mat_at(out, 0);
    if (trans_a) A = (mat){ A.p, A.cs, A.rs };
    if (trans_b) B = (mat){ B.p, B.cs, B.rs };
    /* BLAS forbids C overlapping A or B; sharing storage is the cheap, safe test. */
    int alias = out->storage == a->storage || out->storage == b->storage;
    st = gemm_any(out->dtype, M, N, K, alpha, A, B, beta, C, alias);
    if (st == RT_OK) rti_bump_version(out);
    return st;
}
