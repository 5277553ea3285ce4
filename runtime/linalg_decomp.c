/* linalg_decomp.c — orthogonal factorisations and what is built on them: qr, svd, eigh, lstsq,
** pinv, matrix_rank.  LAPACK (LAPACKE row-major) overwrites contiguous working copies; the
** inputs are never written.  Signs of singular vectors and eigenvectors are normalised here. */
#include <math.h>
#include <string.h>
#include "linalg_internal.h"

/* ---- LAPACK calls, one switch on dtype each --------------------------------------------- */

/* a: (m,n) -> Householder reflectors below the diagonal, R on and above; tau: (min(m,n)) */
static lapack_int qr_factor(rt_dtype dt, lapack_int m, lapack_int n, char *a, char *tau)
{
    return dt == RT_F32 ? LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, m, n, (float *)a, n, (float *)tau)
                        : LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, m, n, (double *)a, n, (double *)tau);
}

/* q: (m,n) holding k reflectors in its first columns -> the first n columns of Q */
static lapack_int qr_form_q(rt_dtype dt, lapack_int m, lapack_int n, lapack_int k, char *q,
                            const char *tau)
{
    return dt == RT_F32 ? LAPACKE_sorgqr(LAPACK_ROW_MAJOR, m, n, k, (float *)q, n,
                                         (const float *)tau)
                        : LAPACKE_dorgqr(LAPACK_ROW_MAJOR, m, n, k, (double *)q, n,
                                         (const double *)tau);
}

/* a: (m,n) destroyed; s: (min(m,n)); u: (m,ucols); vt: (vrows,n).  job 'N', 'S' or 'A'. */
static lapack_int svd_lapack(rt_dtype dt, char job, lapack_int m, lapack_int n, char *a, char *s,
                             char *u, lapack_int ucols, char *vt)
{
    lapack_int ldu = ucols > 1 ? ucols : 1, ldvt = n > 1 ? n : 1;
    double dummy[2];                    /* job 'N' references neither u nor vt */
    if (!u) u = (char *)&dummy[0];
    if (!vt) vt = (char *)&dummy[1];
    return dt == RT_F32 ? LAPACKE_sgesdd(LAPACK_ROW_MAJOR, job, m, n, (float *)a, n, (float *)s,
                                         (float *)u, ldu, (float *)vt, ldvt)
                        : LAPACKE_dgesdd(LAPACK_ROW_MAJOR, job, m, n, (double *)a, n,
                                         (double *)s, (double *)u, ldu, (double *)vt, ldvt);
}

/* a: (n,n), lower triangle read; overwritten by eigenvectors (columns) when job is 'V'. */
static lapack_int eigh_lapack(rt_dtype dt, char job, lapack_int n, char *a, char *w)
{
    return dt == RT_F32 ? LAPACKE_ssyevd(LAPACK_ROW_MAJOR, job, 'L', n, (float *)a, n, (float *)w)
                        : LAPACKE_dsyevd(LAPACK_ROW_MAJOR, job, 'L', n, (double *)a, n,
                                         (double *)w);
}

/* a: (m,n) destroyed; b: (max(m,n),k), rows 0..m-1 hold B, rows 0..n-1 get X; s: (min(m,n)) */
static lapack_int lstsq_lapack(rt_dtype dt, lapack_int m, lapack_int n, lapack_int k, char *a,
                               char *b, char *s, double rcond)
{
    lapack_int rank;
    return dt == RT_F32 ? LAPACKE_sgelsd(LAPACK_ROW_MAJOR, m, n, k, (float *)a, n, (float *)b, k,
                                         (float *)s, (float)rcond, &rank)
                        : LAPACKE_dgelsd(LAPACK_ROW_MAJOR, m, n, k, (double *)a, n, (double *)b,
                                         k, (double *)s, rcond, &rank);
}

/* Releases up to four tensors (NULL is fine). */
static void release4(rt_tensor *a, rt_tensor *b, rt_tensor *c, rt_tensor *d)
{
    rt_tensor_release(a);
    rt_tensor_release(b);
    rt_tensor_release(c);
    rt_tensor_release(d);
}

/* Multiplies column j of x (rows,cols) by -1 when its entry of largest magnitude (the first on a
** tie) is negative; the matching row j of y (yrows,ycols) flips with it when j < yrows.
** This makes eigenvectors and singular vectors independent of LAPACK's internal choices. */
static void fix_signs(rt_dtype dt, char *x, int64_t rows, int64_t cols, char *y, int64_t yrows,
                      int64_t ycols)
{
    for (int64_t j = 0; j < cols; j++) {
        double best = 0, v;
        for (int64_t i = 0; i < rows; i++)
            if (fabs(v = la_get(dt, x, i * cols + j)) > fabs(best)) best = v;
        if (best >= 0) continue;
        for (int64_t i = 0; i < rows; i++)
            la_set(dt, x, i * cols + j, -la_get(dt, x, i * cols + j));
        for (int64_t i = 0; y && j < yrows && i < ycols; i++)
            la_set(dt, y, j * ycols + i, -la_get(dt, y, j * ycols + i));
    }
}

/* ---- qr ------------------------------------------------------------------------------------ */

/* One matrix: w (m,n) factored in place; r (kr,n) its upper triangle; q (m,mq) from the
** reflectors (skipped when q is NULL). */
static rt_status qr_one(rt_dtype dt, int64_t m, int64_t n, char *w, char *tau, char *q,
                        int64_t mq, char *r, int64_t kr)
{
    int64_t k = m < n ? m : n;
    lapack_int info = k ? qr_factor(dt, (lapack_int)m, (lapack_int)n, w, tau) : 0;
    if (info != 0) return rti_la_fail("qr", "geqrf", info);
    for (int64_t i = 0; i < kr; i++)
        for (int64_t j = 0; j < n; j++)
            la_set(dt, r, i * n + j, j >= i ? la_get(dt, w, i * n + j) : 0.0);
    if (!q || m == 0 || mq == 0) return RT_OK;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < mq; j++)
            la_set(dt, q, i * mq + j, j < k ? la_get(dt, w, i * n + j) : (i == j ? 1.0 : 0.0));
    if (k == 0) return RT_OK;               /* no reflectors: Q is the identity set above */
    info = qr_form_q(dt, (lapack_int)m, (lapack_int)mq, (lapack_int)k, q, tau);
    return info ? rti_la_fail("qr", "orgqr", info) : RT_OK;
}

/* A (...,m,n) -> Q (...,m,mq), R (...,kr,n) with mq = kr = min(m,n) (reduced) or m. */
rt_status rt_linalg_qr(const rt_tensor *A, int reduced, rt_tensor **Q, rt_tensor **R)
{
    rt_tensor *w = NULL, *q = NULL, *r = NULL, *tau = NULL;
    rt_status st = rti_la_check("qr", 0, "A", A, 0);
    if (st != RT_OK) return st;
    int bnd = A->ndim - 2;
    int64_t m = A->shape[bnd], n = A->shape[bnd + 1], k = m < n ? m : n, nb = rti_la_nbatch(A);
    int64_t mq = reduced ? k : m, qshape[2] = { m, mq }, rshape[2] = { mq, n };
    rt_dtype dt = A->dtype;
    st = rt_clone(A, &w);
    if (st == RT_OK) st = rt_empty(dt, 1, (int64_t[]){ k }, &tau);
    if (st == RT_OK && Q) st = rti_la_new(dt, bnd, A->shape, 2, qshape, 0, &q);
    if (st == RT_OK) st = rti_la_new(dt, bnd, A->shape, 2, rshape, 0, &r);
    for (int64_t i = 0; i < nb && st == RT_OK; i++) {
        if ((st = rti_la_poll(i)) != RT_OK) break;
        st = qr_one(dt, m, n, rti_la_mat(w, i, m * n), rt_tensor_data(tau),
                    q ? rti_la_mat(q, i, m * mq) : NULL, mq, rti_la_mat(r, i, mq * n), mq);
    }
    release4(w, tau, NULL, NULL);
    if (st != RT_OK) {
        release4(q, r, NULL, NULL);
        return st;
    }
    if (Q) *Q = q;
    *R = r;
    return RT_OK;
}

/* ---- svd ----------------------------------------------------------------------------------- */

/* Matrix i of an SVD: w (m,n) destroyed, s (k), u (m,uc) and vt (vr,n) when job != 'N'. */
static rt_status svd_one(const char *op, rt_dtype dt, char job, int64_t m, int64_t n, char *w,
                         char *s, char *u, int64_t uc, char *vt, int64_t vr, const char *where)
{
    int64_t k = m < n ? m : n;
    if (k == 0) {               /* nothing to factor: the free singular vectors are unit ones */
        for (int64_t i = 0; u && i < m * uc; i++) la_set(dt, u, i, i / uc == i % uc);
        for (int64_t i = 0; vt && i < vr * n; i++) la_set(dt, vt, i, i / n == i % n);
        return RT_OK;
    }
    lapack_int info = svd_lapack(dt, job, (lapack_int)m, (lapack_int)n, w, s, u, (lapack_int)uc,
                                 vt);
    if (info < 0) return rti_la_fail(op, "gesdd", info);
    if (info > 0)
        return rt_fail(RT_ELINALG, 0, "%s: the SVD did not converge (LAPACK gesdd info %d)%s",
                       op, (int)info, where);
    if (job == 'N') return RT_OK;
    fix_signs(dt, u, m, uc, vt, vr, n);
    if (vr > k) {               /* rows of a full Vh past k have no partner in U */
        for (int64_t j = k; j < vr; j++) {
            double best = 0, v;
            for (int64_t i = 0; i < n; i++)
                if (fabs(v = la_get(dt, vt, j * n + i)) > fabs(best)) best = v;
            for (int64_t i = 0; best < 0 && i < n; i++)
                la_set(dt, vt, j * n + i, -la_get(dt, vt, j * n + i));
        }
    }
    return RT_OK;
}

static rt_status svd_impl(const char *op, const rt_tensor *A, int full, rt_tensor **U,
                          rt_tensor **S, rt_tensor **Vh)
{
    char where[64];
    rt_tensor *w = NULL, *u = NULL, *s = NULL, *vt = NULL;
    rt_status st = rti_la_check(op, 0, "A", A, 0);
    if (st != RT_OK) return st;
    int bnd = A->ndim - 2, vecs = U || Vh;
    int64_t m = A->shape[bnd], n = A->shape[bnd + 1], k = m < n ? m : n, nb = rti_la_nbatch(A);
    int64_t uc = full ? m : k, vr = full ? n : k;
    char job = !vecs ? 'N' : full ? 'A' : 'S';
    rt_dtype dt = A->dtype;
    st = rt_clone(A, &w);
    if (st == RT_OK) st = rti_la_new(dt, bnd, A->shape, 1, &k, 0, &s);
    if (st == RT_OK && vecs) st = rti_la_new(dt, bnd, A->shape, 2, (int64_t[]){ m, uc }, 0, &u);
    if (st == RT_OK && vecs) st = rti_la_new(dt, bnd, A->shape, 2, (int64_t[]){ vr, n }, 0, &vt);
    for (int64_t i = 0; i < nb && st == RT_OK; i++) {
        if ((st = rti_la_poll(i)) != RT_OK) break;
        st = svd_one(op, dt, job, m, n, rti_la_mat(w, i, m * n), rti_la_mat(s, i, k),
                     vecs ? rti_la_mat(u, i, m * uc) : NULL, uc,
                     vecs ? rti_la_mat(vt, i, vr * n) : NULL, vr,
                     rti_la_where(i, nb, where, sizeof where));
    }
    rt_tensor_release(w);
    if (st != RT_OK) {
        release4(u, s, vt, NULL);
        return st;
    }
    if (U) *U = u;
    else rt_tensor_release(u);
    if (Vh) *Vh = vt;
    else rt_tensor_release(vt);
    *S = s;
    return RT_OK;
}

rt_status rt_linalg_svd(const rt_tensor *A, int full_matrices, rt_tensor **U, rt_tensor **S,
                        rt_tensor **Vh)
{
    return svd_impl("svd", A, full_matrices, U, S, Vh);
}

/* ---- eigh ---------------------------------------------------------------------------------- */

/* A (...,n,n) -> w (...,n) ascending, V (...,n,n) eigenvectors in columns. */
rt_status rt_linalg_eigh(const rt_tensor *A, rt_tensor **eigenvalues, rt_tensor **eigenvectors)
{
    char where[64];
    rt_tensor *v = NULL, *w = NULL;
    rt_status st = rti_la_check("eigh", 0, "A", A, 1);
    if (st != RT_OK) return st;
    int bnd = A->ndim - 2;
    int64_t n = A->shape[bnd], nb = rti_la_nbatch(A);
    rt_dtype dt = A->dtype;
    char job = eigenvectors ? 'V' : 'N';
    st = rt_clone(A, &v);
    if (st == RT_OK) st = rti_la_new(dt, bnd, A->shape, 1, &n, 0, &w);
    for (int64_t i = 0; i < nb && n > 0 && st == RT_OK; i++) {
        if ((st = rti_la_poll(i)) != RT_OK) break;
        char *a = rti_la_mat(v, i, n * n);
        lapack_int info = eigh_lapack(dt, job, (lapack_int)n, a, rti_la_mat(w, i, n));
        if (info < 0) st = rti_la_fail("eigh", "syevd", info);
        else if (info > 0)
            st = rt_fail(RT_ELINALG, 0, "eigh: the eigenvalue algorithm did not converge "
                         "(LAPACK syevd info %d)%s", (int)info,
                         rti_la_where(i, nb, where, sizeof where));
        else if (eigenvectors)
            fix_signs(dt, a, n, n, NULL, 0, 0);
    }
    if (st != RT_OK || !eigenvectors) rt_tensor_release(v);
    if (st != RT_OK) {
        rt_tensor_release(w);
        return st;
    }
    if (eigenvectors) *eigenvectors = v;
    *eigenvalues = w;
    return RT_OK;
}

/* ---- lstsq --------------------------------------------------------------------------------- */

/* gelsd reads B from, and writes X into, one (max(m,n),k) array per matrix: when n > m, *b
** (bshape..., m, k) is replaced by a copy padded with zero rows to (bshape..., n, k). */
static rt_status pad_rows(rt_tensor *b, int bnd, const int64_t *bshape, int64_t n, rt_tensor **out)
{
    rt_tensor *p;
    int64_t m = b->shape[bnd], k = b->shape[bnd + 1], nb = rti_numel(bnd, bshape);
    rt_status st = rti_la_new(b->dtype, bnd, bshape, 2, (int64_t[]){ n, k }, 1, &p);
    if (st != RT_OK) return st;
    for (int64_t i = 0; i < nb; i++)
        memcpy(rti_la_mat(p, i, n * k), rti_la_mat(b, i, m * k),
               (size_t)(m * k) * rt_dtype_size(b->dtype));
    rt_tensor_release(b);
    *out = p;
    return RT_OK;
}

/* A (...,m,n)  B (...,m,k) or (...,m)  X (...,n,k) or (...,n) */
rt_status rt_linalg_lstsq(const rt_tensor *A, const rt_tensor *B, rt_tensor **X)
{
    char where[64];
    rt_tensor *Ae = NULL, *Be = NULL, *a = NULL, *b = NULL, *s = NULL, *x = NULL, *xv = NULL;
    int vec, bnd;
    int64_t bshape[RT_MAXDIM];
    rt_status st = rti_la_check("lstsq", 0, "A", A, 0);
    if (st != RT_OK) return st;
    if ((st = rti_la_pair("lstsq", A, B, &Ae, &Be, &vec, &bnd, bshape)) != RT_OK) return st;
    rt_dtype dt = A->dtype;
    int64_t m = Ae->shape[bnd], n = Ae->shape[bnd + 1], k = Be->shape[bnd + 1];
    int64_t mn = m > n ? m : n, kmin = m < n ? m : n, nb = rti_numel(bnd, bshape);
    if ((st = rti_la_work(Ae, bnd, bshape, &a)) != RT_OK) goto done;
    if ((st = rt_empty(dt, 1, (int64_t[]){ kmin }, &s)) != RT_OK) goto done;
    if ((st = rti_la_work(Be, bnd, bshape, &b)) != RT_OK) goto done;
    if (n > m && (st = pad_rows(b, bnd, bshape, n, &b)) != RT_OK) goto done;
    for (int64_t i = 0; i < nb && kmin > 0 && k > 0; i++) {
        if ((st = rti_la_poll(i)) != RT_OK) break;
        lapack_int info = lstsq_lapack(dt, (lapack_int)m, (lapack_int)n, (lapack_int)k,
                                       rti_la_mat(a, i, m * n), rti_la_mat(b, i, mn * k),
                                       rt_tensor_data(s), (double)mn * rti_la_eps(dt));
        if (info < 0) st = rti_la_fail("lstsq", "gelsd", info);
        else if (info > 0)
            st = rt_fail(RT_ELINALG, 0, "lstsq: the SVD did not converge (LAPACK gelsd info "
                         "%d)%s", (int)info, rti_la_where(i, nb, where, sizeof where));
        if (st != RT_OK) break;
    }
    if (st != RT_OK) goto done;
    /* The padding rows are zeros, so an empty A (kmin == 0) leaves the minimum-norm X = 0. */
    st = rt_view_narrow(b, bnd, 0, n, &xv);
    if (st == RT_OK && vec) {
        rt_tensor *sq;
        if ((st = rt_view_squeeze(xv, bnd + 1, &sq)) == RT_OK) rt_tensor_release(xv);
        xv = st == RT_OK ? sq : xv;
    }
    if (st == RT_OK) st = rt_contiguous(xv, &x);
    rt_tensor_release(xv);
done:
    release4(Ae, Be, a, b);
    rt_tensor_release(s);
    if (st == RT_OK) *X = x;
    return st;
}

/* ---- pinv and matrix_rank -------------------------------------------------------------------- */

/* A (...,m,n) -> (...,n,m) = Vh^T diag(1/s, s > rcond*smax) U^T */
rt_status rt_linalg_pinv(const rt_tensor *A, double rcond, rt_tensor **out)
{
    rt_tensor *u = NULL, *s = NULL, *vh = NULL, *ut = NULL, *v = NULL;
    rt_status st = svd_impl("pinv", A, 0, &u, &s, &vh);
    if (st != RT_OK) return st;
    rt_dtype dt = A->dtype;
    int bnd = A->ndim - 2;
    int64_t m = u->shape[bnd], k = s->shape[bnd], nb = rti_la_nbatch(A);
    int64_t mn = m > vh->shape[bnd + 1] ? m : vh->shape[bnd + 1];
    if (rcond < 0) rcond = (double)mn * rti_la_eps(dt);
    for (int64_t i = 0; i < nb; i++) {       /* u <- u diag(1/s), dropping small s */
        char *pu = rti_la_mat(u, i, m * k), *ps = rti_la_mat(s, i, k);
        double cut = k ? rcond * la_get(dt, ps, 0) : 0;
        for (int64_t j = 0; j < k; j++) {
            double sj = la_get(dt, ps, j), inv = sj > cut ? 1.0 / sj : 0.0;
            for (int64_t r = 0; r < m; r++)
                la_set(dt, pu, r * k + j, inv * la_get(dt, pu, r * k + j));
        }
    }
    st = rt_view_transpose(vh, bnd, bnd + 1, &v);
    if (st == RT_OK) st = rt_view_transpose(u, bnd, bnd + 1, &ut);
    if (st == RT_OK) st = rt_matmul(v, ut, out);
    release4(u, s, vh, ut);
    rt_tensor_release(v);
    return st;
}

/* A (...,m,n) -> (...) i64: how many singular values exceed tol. */
rt_status rt_linalg_matrix_rank(const rt_tensor *A, double tol, rt_tensor **out)
{
    rt_tensor *s = NULL, *r = NULL;
    rt_status st = svd_impl("matrix_rank", A, 0, NULL, &s, NULL);
    if (st != RT_OK) return st;
    int bnd = A->ndim - 2;
    int64_t m = A->shape[bnd], n = A->shape[bnd + 1], k = s->shape[bnd], nb = rti_la_nbatch(A);
    double rtol = (double)(m > n ? m : n) * rti_la_eps(A->dtype);
    if ((st = rt_empty(RT_I64, bnd, A->shape, &r)) != RT_OK) {
        rt_tensor_release(s);
        return st;
    }
    for (int64_t i = 0; i < nb; i++) {
        const char *ps = rti_la_mat(s, i, k);
        double cut = tol >= 0 ? tol : k ? rtol * la_get(A->dtype, ps, 0) : 0;
        int64_t rank = 0;
        for (int64_t j = 0; j < k; j++) rank += la_get(A->dtype, ps, j) > cut;
        ((int64_t *)rt_tensor_data(r))[i] = rank;
    }
    rt_tensor_release(s);
    *out = r;
    return RT_OK;
}
