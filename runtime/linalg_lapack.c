/* linalg_lapack.c — LU- and Cholesky-based linear algebra: solve, inv, det, slogdet, cholesky,
** plus the batch helpers shared with linalg_decomp.c (linalg_internal.h).  LAPACK runs through
** LAPACKE's row-major API on contiguous working copies, on the calling thread only. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include "linalg_internal.h"

/* ---- shared batch helpers ---------------------------------------------------------------- */

rt_status rti_la_check(const char *op, int operand, const char *name, const rt_tensor *t,
                       int square)
{
    char s[128];
    if (!rt_dtype_is_float(t->dtype))
        return rt_fail(RT_EDTYPE, operand, "%s: %s is %s; only f32 and f64 are supported "
                       "(convert with to())", op, name, rt_dtype_name(t->dtype));
    if (t->ndim < 2)
        return rt_fail(RT_ESHAPE, operand, "%s: %s must be a matrix or a batch of matrices "
                       "(at least 2 dimensions), got shape %s", op, name,
                       rt_shape_str(t->ndim, t->shape, s, sizeof s));
    int64_t m = t->shape[t->ndim - 2], n = t->shape[t->ndim - 1];
    if (square && m != n)
        return rt_fail(RT_ESHAPE, operand, "%s: %s of shape %s is not square (%lld x %lld)", op,
                       name, rt_shape_str(t->ndim, t->shape, s, sizeof s), (long long)m,
                       (long long)n);
    if (m > INT_MAX / 2 || n > INT_MAX / 2 || (n > 0 && m > INT_MAX / n))
        return rt_fail(RT_ESHAPE, operand, "%s: %s of shape %s is too large for LAPACK", op,
                       name, rt_shape_str(t->ndim, t->shape, s, sizeof s));
    return RT_OK;
}

rt_status rti_la_work(const rt_tensor *t, int bnd, const int64_t *bshape, rt_tensor **w)
{
    int64_t shape[RT_MAXDIM];
    for (int i = 0; i < bnd; i++) shape[i] = bshape[i];
    shape[bnd] = t->shape[t->ndim - 2];
    shape[bnd + 1] = t->shape[t->ndim - 1];
    rt_tensor *e;
    rt_status st = rt_view_expand(t, bnd + 2, shape, &e);
    if (st != RT_OK) return st;
    st = rt_clone(e, w);
    rt_tensor_release(e);
    return st;
}

rt_status rti_la_new(rt_dtype dt, int bnd, const int64_t *bshape, int ntail,
                     const int64_t *tail, int zero, rt_tensor **out)
{
    int64_t shape[RT_MAXDIM];
    for (int i = 0; i < bnd; i++) shape[i] = bshape[i];
    for (int i = 0; i < ntail; i++) shape[bnd + i] = tail[i];
    return zero ? rt_zeros(dt, bnd + ntail, shape, out) : rt_empty(dt, bnd + ntail, shape, out);
}

char *rti_la_mat(const rt_tensor *w, int64_t i, int64_t elems)
{
    return (char *)rt_tensor_data(w) + (size_t)(i * elems) * rt_dtype_size(w->dtype);
}

const char *rti_la_where(int64_t i, int64_t nbatch, char *buf, size_t len)
{
    buf[0] = 0;
    if (nbatch > 1)
        snprintf(buf, len, " in batch element %lld of %lld", (long long)i + 1, (long long)nbatch);
    return buf;
}

rt_status rti_la_fail(const char *op, const char *routine, lapack_int info)
{
    if (info == LAPACK_WORK_MEMORY_ERROR || info == LAPACK_TRANSPOSE_MEMORY_ERROR)
        return rt_fail(RT_ENOMEM, -1, "%s: out of memory for LAPACK's workspace", op);
    /* LAPACKE checks its matrix arguments for NaN and reports them as bad arguments. */
    return rt_fail(RT_ELINALG, -1, "%s: the input contains NaN (LAPACK %s rejected argument "
                   "%d)", op, routine, (int)-info);
}

rt_status rti_la_poll(int64_t i)
{
    if (i > 0 && rt_interrupted()) return rt_fail(RT_EINTERRUPT, -1, "interrupted");
    return RT_OK;
}

double rti_la_eps(rt_dtype dt)
{
    return dt == RT_F32 ? FLT_EPSILON : DBL_EPSILON;
}

int64_t rti_la_nbatch(const rt_tensor *t)
{
    return rti_numel(t->ndim - 2, t->shape);
}

/* B counts as a batch of vectors when it is 1-D or is A's shape without the last dimension. */
static int rhs_is_vector(const rt_tensor *A, const rt_tensor *B)
{
    if (B->ndim == 1) return 1;
    if (B->ndim != A->ndim - 1) return 0;
    for (int i = 0; i < B->ndim; i++)
        if (B->shape[i] != A->shape[i]) return 0;
    return 1;
}

rt_status rti_la_pair(const char *op, const rt_tensor *A, const rt_tensor *B, rt_tensor **Ae,
                      rt_tensor **Be, int *vec, int *bnd, int64_t *bshape)
{
    char s1[128], s2[128];
    rt_tensor *Bm = NULL;
    if (!rt_dtype_is_float(B->dtype) || B->dtype != A->dtype)
        return rt_fail(RT_EDTYPE, 1, "%s: B is %s but A is %s (both f32 or both f64)", op,
                       rt_dtype_name(B->dtype), rt_dtype_name(A->dtype));
    if (B->ndim == 0)
        return rt_fail(RT_ESHAPE, 1, "%s: B is 0-d; expected a vector or a matrix", op);
    *vec = rhs_is_vector(A, B);
    rt_status st = *vec ? rt_view_unsqueeze(B, B->ndim, &Bm) : rt_view_alias(B, &Bm);
    if (st != RT_OK) return st;
    int na = A->ndim, nb = Bm->ndim;
    int64_t m = A->shape[na - 2], rows = Bm->shape[nb - 2];
    if (rows != m) {
        st = rt_fail(RT_ESHAPE, 1, "%s: A %s and B %s: B has %lld rows, expected %lld", op,
                     rt_shape_str(A->ndim, A->shape, s1, sizeof s1),
                     rt_shape_str(B->ndim, B->shape, s2, sizeof s2), (long long)rows,
                     (long long)m);
    } else if (rti_broadcast_shape(op, na - 2, A->shape, nb - 2, Bm->shape, bnd, bshape)
               != RT_OK) {
        st = rt_fail(RT_ESHAPE, 1, "%s: A %s and B %s: batch dimensions do not broadcast", op,
                     rt_shape_str(A->ndim, A->shape, s1, sizeof s1),
                     rt_shape_str(B->ndim, B->shape, s2, sizeof s2));
    }
    int64_t shape[RT_MAXDIM];
    for (int i = 0; i < *bnd && st == RT_OK; i++) shape[i] = bshape[i];
    if (st == RT_OK) {
        shape[*bnd] = m, shape[*bnd + 1] = A->shape[na - 1];
        st = rt_view_expand(A, *bnd + 2, shape, Ae);
    }
    if (st == RT_OK) {
        shape[*bnd + 1] = Bm->shape[nb - 1];
        if ((st = rt_view_expand(Bm, *bnd + 2, shape, Be)) != RT_OK) rt_tensor_release(*Ae);
    }
    rt_tensor_release(Bm);
    return st;
}

/* ---- LAPACK calls, one switch on dtype each --------------------------------------------- */

/* a: (n,n) row-major, overwritten by its LU factors. */
static lapack_int lu(rt_dtype dt, lapack_int n, char *a, lapack_int *ipiv)
{
    return dt == RT_F32 ? LAPACKE_sgetrf(LAPACK_ROW_MAJOR, n, n, (float *)a, n, ipiv)
                        : LAPACKE_dgetrf(LAPACK_ROW_MAJOR, n, n, (double *)a, n, ipiv);
}

/* lu: (n,n) factors  b: (n,k) right-hand sides, overwritten by the solution. */
static lapack_int lu_solve(rt_dtype dt, lapack_int n, lapack_int k, const char *lu,
                           const lapack_int *ipiv, char *b)
{
    return dt == RT_F32 ? LAPACKE_sgetrs(LAPACK_ROW_MAJOR, 'N', n, k, (const float *)lu, n,
                                         ipiv, (float *)b, k)
                        : LAPACKE_dgetrs(LAPACK_ROW_MAJOR, 'N', n, k, (const double *)lu, n,
                                         ipiv, (double *)b, k);
}

static lapack_int lu_inverse(rt_dtype dt, lapack_int n, char *a, const lapack_int *ipiv)
{
    return dt == RT_F32 ? LAPACKE_sgetri(LAPACK_ROW_MAJOR, n, (float *)a, n, ipiv)
                        : LAPACKE_dgetri(LAPACK_ROW_MAJOR, n, (double *)a, n, ipiv);
}

/* a: (n,n), lower triangle read and overwritten by L. */
static lapack_int chol(rt_dtype dt, lapack_int n, char *a)
{
    return dt == RT_F32 ? LAPACKE_spotrf(LAPACK_ROW_MAJOR, 'L', n, (float *)a, n)
                        : LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', n, (double *)a, n);
}

/* LU of matrix i of w (n,n) into ipiv.  A zero pivot is an error only when `strict`. */
static rt_status lu_batch(const char *op, const rt_tensor *w, int64_t i, int64_t nb, int64_t n,
                          lapack_int *ipiv, int strict, int *singular)
{
    char where[64];
    lapack_int info = lu(w->dtype, (lapack_int)n, rti_la_mat(w, i, n * n), ipiv);
    if (info < 0) return rti_la_fail(op, "getrf", info);
    *singular = info > 0;
    if (info > 0 && strict)
        return rt_fail(RT_ELINALG, 0, "%s: matrix is singular (U[%d,%d] = 0)%s", op, (int)info,
                       (int)info, rti_la_where(i, nb, where, sizeof where));
    return RT_OK;
}

static lapack_int *new_pivots(const char *op, int64_t n)
{
    lapack_int *p = rti_malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    if (!p) rt_fail(RT_ENOMEM, -1, "%s: out of memory for %lld pivots", op, (long long)n);
    return p;
}

/* ---- solve and inv ------------------------------------------------------------------------ */

/* A: (...,n,n)  B: (...,n,k) or (...,n)  X: like B with the broadcast batch. */
rt_status rt_linalg_solve(const rt_tensor *A, const rt_tensor *B, rt_tensor **X)
{
    rt_tensor *Ae = NULL, *Be = NULL, *lu = NULL, *x = NULL;
    lapack_int *ipiv = NULL;
    int vec, bnd, sing;
    int64_t bshape[RT_MAXDIM];
    rt_status st = rti_la_check("solve", 0, "A", A, 1);
    if (st != RT_OK) return st;
    if ((st = rti_la_pair("solve", A, B, &Ae, &Be, &vec, &bnd, bshape)) != RT_OK) return st;
    int64_t n = Ae->shape[bnd], k = Be->shape[bnd + 1], nb = rti_numel(bnd, bshape);
    if ((st = rti_la_work(Ae, bnd, bshape, &lu)) != RT_OK) goto done;
    if ((st = rti_la_work(Be, bnd, bshape, &x)) != RT_OK) goto done;
    if (!(ipiv = new_pivots("solve", n))) {
        st = RT_ENOMEM;
        goto done;
    }
    for (int64_t i = 0; i < nb && n > 0; i++) {
        if ((st = rti_la_poll(i)) != RT_OK) break;
        if ((st = lu_batch("solve", lu, i, nb, n, ipiv, 1, &sing)) != RT_OK) break;
        if (k == 0) continue;
        lapack_int info = lu_solve(A->dtype, (lapack_int)n, (lapack_int)k,
                                   rti_la_mat(lu, i, n * n), ipiv, rti_la_mat(x, i, n * k));
        if (info != 0) {
            st = rti_la_fail("solve", "getrs", info);
            break;
        }
    }
    if (st == RT_OK && vec) {
        rt_tensor *v;
        if ((st = rt_view_squeeze(x, bnd + 1, &v)) == RT_OK) {
            rt_tensor_release(x);
            x = v;
        }
    }
done:
    rti_free(ipiv);
    rt_tensor_release(Ae);
    rt_tensor_release(Be);
    rt_tensor_release(lu);
    if (st != RT_OK) rt_tensor_release(x);
    else *X = x;
    return st;
}

/* (...,n,n) -> (...,n,n) */
rt_status rt_linalg_inv(const rt_tensor *A, rt_tensor **out)
{
    rt_tensor *w = NULL;
    lapack_int *ipiv = NULL;
    int sing;
    rt_status st = rti_la_check("inv", 0, "A", A, 1);
    if (st != RT_OK) return st;
    int64_t n = A->shape[A->ndim - 1], nb = rti_la_nbatch(A);
    if ((st = rt_clone(A, &w)) != RT_OK) return st;
    if (!(ipiv = new_pivots("inv", n))) st = RT_ENOMEM;
    for (int64_t i = 0; i < nb && n > 0 && st == RT_OK; i++) {
        if ((st = rti_la_poll(i)) != RT_OK) break;
        if ((st = lu_batch("inv", w, i, nb, n, ipiv, 1, &sing)) != RT_OK) break;
        lapack_int info = lu_inverse(A->dtype, (lapack_int)n, rti_la_mat(w, i, n * n), ipiv);
        if (info != 0) st = rti_la_fail("inv", "getri", info);
    }
    rti_free(ipiv);
    if (st != RT_OK) {
        rt_tensor_release(w);
        return st;
    }
    *out = w;
    return RT_OK;
}

/* ---- determinants -------------------------------------------------------------------------- */

/* For each matrix of A (...,n,n), from the LU diagonal in double: det = the plain product
** (exact for small integer matrices, as users expect), or sign in {-1,0,1} and log|det| as a sum
** of logs (never overflows).  Fills det, or sign and logabs. */
static rt_status lu_dets(const char *op, const rt_tensor *A, rt_tensor *det, rt_tensor *sign,
                         rt_tensor *logabs)
{
    rt_tensor *w = NULL;
    lapack_int *ipiv = NULL;
    int sing = 0;
    int64_t n = A->shape[A->ndim - 1], nb = rti_la_nbatch(A);
    rt_dtype dt = A->dtype;
    rt_status st = rt_clone(A, &w);
    if (st != RT_OK) return st;
    if (!(ipiv = new_pivots(op, n))) st = RT_ENOMEM;
    for (int64_t i = 0; i < nb && st == RT_OK; i++) {
        double sg = 1, la = 0, prod = 1;
        if ((st = rti_la_poll(i)) != RT_OK) break;
        if (n > 0 && (st = lu_batch(op, w, i, nb, n, ipiv, 0, &sing)) != RT_OK) break;
        const char *u = rti_la_mat(w, i, n * n);
        for (int64_t j = 0; j < n && !sing; j++) {
            double d = la_get(dt, u, j * n + j);
            if (ipiv[j] != j + 1) sg = -sg, prod = -prod;
            if (d < 0) sg = -sg;
            la += log(fabs(d));
            prod *= d;
        }
        if (sing) sg = 0, la = -INFINITY, prod = 0;
        if (det) {
            la_set(dt, rt_tensor_data(det), i, prod);
        } else {
            la_set(dt, rt_tensor_data(sign), i, sg);
            la_set(dt, rt_tensor_data(logabs), i, la);
        }
    }
    rti_free(ipiv);
    rt_tensor_release(w);
    return st;
}

/* (...,n,n) -> (...) */
rt_status rt_linalg_det(const rt_tensor *A, rt_tensor **out)
{
    rt_tensor *d = NULL;
    rt_status st = rti_la_check("det", 0, "A", A, 1);
    if (st == RT_OK) st = rt_empty(A->dtype, A->ndim - 2, A->shape, &d);
    if (st == RT_OK) st = lu_dets("det", A, d, NULL, NULL);
    if (st != RT_OK) {
        rt_tensor_release(d);
        return st;
    }
    *out = d;
    return RT_OK;
}

/* (...,n,n) -> sign (...), logabsdet (...) */
rt_status rt_linalg_slogdet(const rt_tensor *A, rt_tensor **sign, rt_tensor **logabsdet)
{
    rt_tensor *s = NULL, *l = NULL;
    rt_status st = rti_la_check("slogdet", 0, "A", A, 1);
    if (st == RT_OK) st = rt_empty(A->dtype, A->ndim - 2, A->shape, &s);
    if (st == RT_OK) st = rt_empty(A->dtype, A->ndim - 2, A->shape, &l);
    if (st == RT_OK) st = lu_dets("slogdet", A, NULL, s, l);
    if (st != RT_OK) {
        rt_tensor_release(s);
        rt_tensor_release(l);
        return st;
    }
    *sign = s;
    *logabsdet = l;
    return RT_OK;
}

/* ---- cholesky ----------------------------------------------------------------------------- */

/* (...,n,n) -> L (...,n,n), lower triangular. */
rt_status rt_linalg_cholesky(const rt_tensor *A, rt_tensor **L)
{
    char where[64];
    rt_tensor *w = NULL;
    rt_status st = rti_la_check("cholesky", 0, "A", A, 1);
    if (st != RT_OK) return st;
    int64_t n = A->shape[A->ndim - 1], nb = rti_la_nbatch(A);
    if ((st = rt_clone(A, &w)) != RT_OK) return st;
    for (int64_t i = 0; i < nb && n > 0; i++) {
        if ((st = rti_la_poll(i)) != RT_OK) break;
        char *a = rti_la_mat(w, i, n * n);
        lapack_int info = chol(A->dtype, (lapack_int)n, a);
        if (info < 0) {
            st = rti_la_fail("cholesky", "potrf", info);
            break;
        }
        if (info > 0) {
            st = rt_fail(RT_ELINALG, 0, "cholesky: the input is not positive definite (the "
                         "leading minor of order %d is not positive)%s", (int)info,
                         rti_la_where(i, nb, where, sizeof where));
            break;
        }
        for (int64_t r = 0; r < n; r++)      /* potrf leaves the upper triangle as it was */
            for (int64_t c = r + 1; c < n; c++) la_set(A->dtype, a, r * n + c, 0.0);
    }
    if (st != RT_OK) {
        rt_tensor_release(w);
        return st;
    }
    *L = w;
    return RT_OK;
}
