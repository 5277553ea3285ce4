/* test_linalg_lapack.c — the LAPACK-based ops checked by reconstruction and identities computed
** here with naive float64 loops: A X = B, A inv(A) = I, cofactor and elimination determinants,
** L L^T = A, Q R = A, U S Vh = A, A V = V diag(w), normal equations, Moore–Penrose conditions,
** rank; batched, strided, empty, f32 and f64, error cases, interrupts, allocation failures. */
#include <float.h>
#include "harness.h"
#include "linalg_helpers.h"

/* max |q^T q - I| over the columns of q (m,k) */
static double orth_err(const double *q, int64_t m, int64_t k)
{
    double w = 0;
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = 0; j < k; j++) {
            double s = 0;
            for (int64_t r = 0; r < m; r++) s += q[r * k + i] * q[r * k + j];
            s = fabs(s - (i == j));
            if (s > w) w = s;
        }
    return w;
}

/* Solves a (n,n) x = b (n,k) in place by Gaussian elimination with partial pivoting; returns
** the determinant (product of pivots with the permutation's sign). */
static double ngauss(double *a, double *b, int64_t n, int64_t k)
{
    double det = 1;
    for (int64_t c = 0; c < n; c++) {
        int64_t p = c;
        for (int64_t r = c + 1; r < n; r++)
            if (fabs(a[r * n + c]) > fabs(a[p * n + c])) p = r;
        if (p != c) {
            det = -det;
            for (int64_t j = 0; j < n; j++) {
                double t = a[c * n + j]; a[c * n + j] = a[p * n + j]; a[p * n + j] = t;
            }
            for (int64_t j = 0; j < k; j++) {
                double t = b[c * k + j]; b[c * k + j] = b[p * k + j]; b[p * k + j] = t;
            }
        }
        det *= a[c * n + c];
        if (a[c * n + c] == 0) return 0;
        for (int64_t r = c + 1; r < n; r++) {
            double f = a[r * n + c] / a[c * n + c];
            for (int64_t j = c; j < n; j++) a[r * n + j] -= f * a[c * n + j];
            for (int64_t j = 0; j < k; j++) b[r * k + j] -= f * b[c * k + j];
        }
    }
    for (int64_t c = n - 1; c >= 0; c--)
        for (int64_t j = 0; j < k; j++) {
            double s = b[c * k + j];
            for (int64_t p = c + 1; p < n; p++) s -= a[c * n + p] * b[p * k + j];
            b[c * k + j] = s / a[c * n + c];
        }
    return det;
}

static double tol_of(rt_dtype dt) { return dt == RT_F32 ? 2e-4 : 1e-10; }

/* A random well-conditioned (diagonally dominant) batch of n x n matrices. */
static rt_tensor *rand_spd_ish(rt_dtype dt, int nd, const int64_t *shape, int sym)
{
    rt_tensor *t = h_rand(RT_F64, nd, shape, -1, 1), *o;
    int64_t n = shape[nd - 1], nb = n ? rt_tensor_numel(t) / (n * n) : 0;
    double *p = rt_tensor_data(t);
    for (int64_t b = 0; b < nb; b++, p += n * n)
        for (int64_t i = 0; i < n; i++) {
            for (int64_t j = 0; sym && j < i; j++) p[j * n + i] = p[i * n + j];
            p[i * n + i] += (double)n + 1;
        }
    rt_to_dtype(t, dt, &o);
    rt_tensor_release(t);
    return o;
}

static rt_tensor *view_t(rt_tensor *t, int d1, int d2)   /* consumes t */
{
    rt_tensor *v = NULL;
    rt_view_transpose(t, d1, d2, &v);
    rt_tensor_release(t);
    return v;
}


static rt_status inv2(const rt_tensor *a, const rt_tensor *b, rt_tensor **o)
{
    (void)b;
    return rt_linalg_inv(a, o);
}

static rt_status svd2(const rt_tensor *a, const rt_tensor *b, rt_tensor **o)
{
    rt_tensor *u, *s, *vh;
    (void)b;
    rt_status st = rt_linalg_svd(a, 0, &u, &s, &vh);
    if (st != RT_OK) return st;
    rt_tensor_release(s);
    rt_tensor_release(vh);
    *o = u;
    return RT_OK;
}

static rt_status eigh2(const rt_tensor *a, const rt_tensor *b, rt_tensor **o)
{
    rt_tensor *w;
    (void)b;
    rt_status st = rt_linalg_eigh(a, &w, o);
    if (st == RT_OK) rt_tensor_release(w);
    return st;
}

/* ---- solve, inv, det, slogdet, cholesky --------------------------------------------------- */

/* max |A X - B| over a batch, the batch broadcast by the test's own indexing. */
static double solve_residual(const rt_tensor *A, const rt_tensor *B, const rt_tensor *X, int vec)
{
    int64_t n = A->shape[A->ndim - 1], k = vec ? 1 : X->shape[X->ndim - 1];
    if (n * k == 0) return 0;
    int64_t nbx = rt_tensor_numel(X) / (n * k), nba = rt_tensor_numel(A) / (n * n);
    if (n * k == 0) return 0;
    int64_t nbb = rt_tensor_numel(B) / (n * k);
    double *a = dv(A), *b = dv(B), *x = dv(X), worst = 0;
    for (int64_t t = 0; t < nbx; t++) {
        /* the batches used here broadcast only from a single matrix or match fully */
        const double *pa = a + (nba == 1 ? 0 : t % nba) * n * n;
        const double *pb = b + (nbb == 1 ? 0 : t % nbb) * n * k, *px = x + t * n * k;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < k; j++) {
                double s = -pb[i * k + j];
                for (int64_t p = 0; p < n; p++) s += pa[i * n + p] * px[p * k + j];
                if (fabs(s) > worst) worst = fabs(s);
            }
    }
    free(a), free(b), free(x);
    return worst;
}

static void test_solve(rt_dtype dt)
{
    double tol = tol_of(dt) * 10;
    struct { int na, nb; int64_t sa[4], sb[4]; int vec; const char *what; } cases[] = {
        { 2, 2, {4, 4}, {4, 3}, 0, "2-D" },
        { 2, 1, {4, 4}, {4}, 1, "vector B" },
        { 3, 3, {3, 4, 4}, {3, 4, 2}, 0, "batched" },
        { 3, 2, {3, 4, 4}, {3, 4}, 1, "batched vectors (B = A's shape minus one)" },
        { 3, 2, {3, 4, 4}, {4, 2}, 0, "batched A, shared B" },
        { 2, 3, {4, 4}, {5, 4, 2}, 0, "shared A, batched B" },
        { 2, 2, {4, 4}, {4, 0}, 0, "k = 0" },
        { 3, 3, {2, 0, 0}, {2, 0, 3}, 0, "n = 0" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rt_tensor *A = rand_spd_ish(dt, cases[c].na, cases[c].sa, 0), *X = NULL;
        rt_tensor *B = h_rand(dt, cases[c].nb, cases[c].sb, -1, 1);
        CHECK_OK(rt_linalg_solve(A, B, &X));
        if (X) {
            int na = cases[c].na - cases[c].vec, nb = cases[c].nb;
            CHECK(X->ndim == (na > nb ? na : nb), "solve %s: ndim %d", cases[c].what, X->ndim);
            double r = solve_residual(A, B, X, cases[c].vec);
            CHECK(r <= tol, "solve %s: residual %g", cases[c].what, r);
        }
        rt_tensor_release(A), rt_tensor_release(B), rt_tensor_release(X);
    }
    /* the batch [2,1,4,4] with [3,4,1] broadcasts to [2,3,4,1] */
    rt_tensor *A = rand_spd_ish(dt, 4, SHAPE(2, 1, 4, 4), 0);
    rt_tensor *B = h_rand(dt, 3, SHAPE(3, 4, 1), -1, 1);
    rt_tensor *X = NULL;
    CHECK_OK(rt_linalg_solve(A, B, &X));
    CHECK(X && h_shape_is(X, 4, SHAPE(2, 3, 4, 1)), "solve broadcast shape");
    for (int64_t i = 0; X && i < 2; i++)
        for (int64_t j = 0; j < 3; j++) {
            rt_tensor *Ai, *Bj, *Xi, *Xij;
            rt_view_select(A, 0, i, &Ai);
            rt_view_select(B, 0, j, &Bj);
            rt_view_select(X, 0, i, &Xi);
            rt_view_select(Xi, 0, j, &Xij);
            rt_tensor *A2;
            rt_view_select(Ai, 0, 0, &A2);
            CHECK(solve_residual(A2, Bj, Xij, 0) <= tol, "solve broadcast %lld,%lld", (long long)i,
                  (long long)j);
            rt_tensor_release(Ai), rt_tensor_release(Bj), rt_tensor_release(Xi);
            rt_tensor_release(Xij), rt_tensor_release(A2);
        }
    rt_tensor_release(X);
    /* transposed A */
    rt_tensor *At = view_t(rand_spd_ish(dt, 2, SHAPE(5, 5), 0), 0, 1);
    rt_tensor *b5 = h_rand(dt, 1, SHAPE(5), -1, 1);
    CHECK_OK(rt_linalg_solve(At, b5, &X));
    if (X) CHECK(solve_residual(At, b5, X, 1) <= tol, "solve transposed A");
    rt_tensor_release(X), rt_tensor_release(At), rt_tensor_release(b5);
    rt_tensor_release(A), rt_tensor_release(B);
}

static void test_inv(rt_dtype dt)
{
    rt_tensor *A = rand_spd_ish(dt, 3, SHAPE(3, 5, 5), 0), *Ai = NULL;
    CHECK_OK(rt_linalg_inv(A, &Ai));
    if (Ai) {
        double *a = dv(A), *ai = dv(Ai), prod[25], eye[25] = {0}, w = 0;
        for (int i = 0; i < 5; i++) eye[i * 6] = 1;
        for (int t = 0; t < 3; t++) {
            nmm(a + 25 * t, ai + 25 * t, prod, 5, 5, 5);
            double e = maxabs(prod, eye, 25);
            if (e > w) w = e;
        }
        CHECK(w <= tol_of(dt) * 10, "inv: |A inv(A) - I| = %g", w);
        free(a), free(ai);
    }
    rt_tensor_release(Ai);
    rt_tensor_release(A);
    /* empty batch and 0x0 matrices */
    rt_tensor *e1 = h_rand(dt, 3, SHAPE(0, 3, 3), -1, 1);
    rt_tensor *e2 = h_rand(dt, 3, SHAPE(2, 0, 0), -1, 1);
    rt_tensor *o1 = NULL, *o2 = NULL;
    CHECK_OK(rt_linalg_inv(e1, &o1));
    CHECK_OK(rt_linalg_inv(e2, &o2));
    CHECK(o1 && o2 && h_shape_is(o1, 3, SHAPE(0, 3, 3)) && h_shape_is(o2, 3, SHAPE(2, 0, 0)),
          "inv of empty");
    rt_tensor_release(e1), rt_tensor_release(e2), rt_tensor_release(o1), rt_tensor_release(o2);
}

/* 3x3 determinant by cofactor expansion along the first row. */
static double cofactor3(const double *m)
{
    return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
           m[2] * (m[3] * m[7] - m[4] * m[6]);
}

static void test_det(rt_dtype dt)
{
    double tol = tol_of(dt);
    rt_tensor *A = h_rand(dt, 3, SHAPE(4, 3, 3), -2, 2), *d = NULL, *sg = NULL, *la = NULL;
    CHECK_OK(rt_linalg_det(A, &d));
    CHECK_OK(rt_linalg_slogdet(A, &sg, &la));
    double *a = dv(A);
    for (int64_t t = 0; d && sg && t < 4; t++) {
        double ref = cofactor3(a + 9 * t);
        CHECK(fabs(h_at(d, t) - ref) <= tol * (1 + fabs(ref)), "det 3x3 %lld: %g vs %g",
              (long long)t, h_at(d, t), ref);
        double r2 = h_at(sg, t) * exp(h_at(la, t));
        CHECK(fabs(r2 - ref) <= tol * (1 + fabs(ref)), "slogdet 3x3 %lld", (long long)t);
    }
    CHECK(d && h_shape_is(d, 1, SHAPE(4)) && d->dtype == dt, "det shape");
    free(a);
    rt_tensor_release(A), rt_tensor_release(d), rt_tensor_release(sg), rt_tensor_release(la);
    /* 6x6, transposed view: against the product of pivots of the test's own elimination */
    A = view_t(h_rand(dt, 2, SHAPE(6, 6), -1, 1), 0, 1);
    CHECK_OK(rt_linalg_det(A, &d));
    a = dv(A);
    double ref = ngauss(a, NULL, 6, 0);
    CHECK(d && fabs(h_at(d, 0) - ref) <= tol * (1 + fabs(ref)), "det 6x6: %g vs %g",
          d ? h_at(d, 0) : 0, ref);
    free(a);
    rt_tensor_release(A), rt_tensor_release(d);
    /* singular: det exactly 0, slogdet (0, -inf); 0x0: det 1 */
    rt_from_buffer(RT_F64, 2, SHAPE(2, 2), (double[]){1, 2, 2, 4}, &A);
    rt_tensor *Ad;
    rt_to_dtype(A, dt, &Ad);
    CHECK_OK(rt_linalg_det(Ad, &d));
    CHECK_OK(rt_linalg_slogdet(Ad, &sg, &la));
    CHECK(d && h_at(d, 0) == 0 && h_at(sg, 0) == 0 && isinf(h_at(la, 0)) && h_at(la, 0) < 0,
          "singular det/slogdet");
    rt_tensor_release(d), rt_tensor_release(sg), rt_tensor_release(la);
    rt_tensor *e = h_rand(dt, 3, SHAPE(2, 0, 0), -1, 1);
    CHECK_OK(rt_linalg_det(e, &d));
    CHECK(d && h_shape_is(d, 1, SHAPE(2)) && h_at(d, 0) == 1 && h_at(d, 1) == 1, "det of 0x0");
    rt_tensor_release(d), rt_tensor_release(e), rt_tensor_release(A), rt_tensor_release(Ad);
    /* small integers: exact */
    rt_from_buffer(RT_F64, 2, SHAPE(3, 3), (double[]){2, 0, 1, 1, 3, 2, 1, 1, 2}, &A);
    rt_to_dtype(A, dt, &Ad);
    CHECK_OK(rt_linalg_det(Ad, &d));
    CHECK(d && fabs(h_at(d, 0) - 6.0) <= 48 * (dt == RT_F32 ? FLT_EPSILON : DBL_EPSILON),
          "det of integer matrix: %.17g", d ? h_at(d, 0) : 0);
    rt_tensor_release(d), rt_tensor_release(A), rt_tensor_release(Ad);
}

static void test_cholesky(rt_dtype dt)
{
    rt_tensor *A = rand_spd_ish(dt, 3, SHAPE(2, 5, 5), 1), *L = NULL;
    CHECK_OK(rt_linalg_cholesky(A, &L));
    if (L) {
        double *a = dv(A), *l = dv(L), lt[25], prod[25], w = 0;
        int upper_zero = 1;
        for (int t = 0; t < 2; t++) {
            ntr(l + 25 * t, lt, 5, 5);
            nmm(l + 25 * t, lt, prod, 5, 5, 5);
            double e = maxabs(prod, a + 25 * t, 25);
            if (e > w) w = e;
            for (int i = 0; i < 5; i++)
                for (int j = i + 1; j < 5; j++) upper_zero &= l[25 * t + i * 5 + j] == 0;
        }
        CHECK(w <= tol_of(dt) * 10 && upper_zero, "cholesky: |L L^T - A| = %g", w);
        free(a), free(l);
    }
    rt_tensor_release(L);
    /* only the lower triangle is read: garbage above the diagonal changes nothing */
    rt_tensor *G, *L2 = NULL;
    rt_clone(A, &G);
    for (int64_t i = 0; i < 5; i++) rt_tensor_set(G, (int64_t[]){1, 0, i > 0 ? i : 1}, 99.0);
    CHECK_OK(rt_linalg_cholesky(A, &L));
    CHECK_OK(rt_linalg_cholesky(G, &L2));
    if (L && L2)
        CHECK(memcmp(rt_tensor_data(L), rt_tensor_data(L2),
                     (size_t)rt_tensor_numel(L) * rt_dtype_size(dt)) == 0,
              "cholesky upper ignored");
    rt_tensor_release(L), rt_tensor_release(L2), rt_tensor_release(G), rt_tensor_release(A);
}

static void test_lu_errors(void)
{
    rt_tensor *S, *B = h_rand(RT_F64, 1, SHAPE(2), -1, 1), *o = (rt_tensor *)&o, *S3, *R;
    rt_tensor *np, *sq = h_rand(RT_F64, 2, SHAPE(2, 2), -1, 1), *i64 = NULL, *f32 = NULL;
    rt_from_buffer(RT_F64, 2, SHAPE(2, 2), (double[]){1, 2, 2, 4}, &S);
    CHECK_FAILS(rt_linalg_solve(S, B, &o), RT_ELINALG, "solve: matrix is singular (U[2,2] = 0)");
    CHECK_FAILS(rt_linalg_inv(S, &o), RT_ELINALG, "inv: matrix is singular (U[2,2] = 0)");
    rt_from_buffer(RT_F64, 3, SHAPE(2, 2, 2), (double[]){1, 0, 0, 1, 1, 2, 2, 4}, &S3);
    CHECK_FAILS(rt_linalg_inv(S3, &o), RT_ELINALG,
                "inv: matrix is singular (U[2,2] = 0) in batch element 2 of 2");
    R = h_rand(RT_F64, 2, SHAPE(2, 3), -1, 1);
    CHECK_FAILS(rt_linalg_solve(R, B, &o), RT_ESHAPE, "solve: A of shape [2,3] is not square");
    CHECK_FAILS(rt_linalg_inv(R, &o), RT_ESHAPE, "inv: A of shape [2,3] is not square");
    CHECK_FAILS(rt_linalg_det(R, &o), RT_ESHAPE, "det: A of shape [2,3] is not square");
    CHECK_FAILS(rt_linalg_cholesky(R, &o), RT_ESHAPE, "cholesky: A of shape [2,3] is not square");
    rt_tensor *B3 = h_rand(RT_F64, 2, SHAPE(3, 1), -1, 1);
    CHECK_FAILS(rt_linalg_solve(sq, B3, &o), RT_ESHAPE,
                "solve: A [2,2] and B [3,1]: B has 3 rows, expected 2");
    rt_tensor *Ab = h_rand(RT_F64, 3, SHAPE(2, 2, 2), -1, 1);
    rt_tensor *Bb = h_rand(RT_F64, 3, SHAPE(3, 2, 1), -1, 1);
    CHECK_FAILS(rt_linalg_solve(Ab, Bb, &o), RT_ESHAPE, "batch dimensions do not broadcast");
    rt_from_buffer(RT_F64, 2, SHAPE(2, 2), (double[]){1, 2, 2, 1}, &np);
    CHECK_FAILS(rt_linalg_cholesky(np, &o), RT_ELINALG,
                "cholesky: the input is not positive definite (the leading minor of order 2 is "
                "not positive)");
    rt_to_dtype(sq, RT_I64, &i64);
    rt_to_dtype(B, RT_F32, &f32);
    CHECK_FAILS(rt_linalg_inv(i64, &o), RT_EDTYPE, "inv: A is i64");
    CHECK_FAILS(rt_linalg_solve(sq, f32, &o), RT_EDTYPE, "solve: B is f32 but A is f64");
    CHECK_FAILS(rt_linalg_det(B, &o), RT_ESHAPE, "det: A must be a matrix");
    rt_tensor *nan = NULL;
    rt_full(RT_F64, 2, SHAPE(2, 2), NAN, &nan);
    CHECK_FAILS(rt_linalg_inv(nan, &o), RT_ELINALG, "inv: the input contains NaN");
    CHECK(o == (rt_tensor *)&o, "out untouched on failure");
    rt_tensor *rs[] = { S, B, S3, R, sq, B3, Ab, Bb, np, i64, f32, nan };
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) rt_tensor_release(rs[i]);
}

/* ---- qr, svd, eigh --------------------------------------------------------------------------- */

static void check_qr(rt_dtype dt, int nd, const int64_t *shape, int reduced, int transposed)
{
    rt_tensor *A = h_rand(dt, nd, shape, -1, 1), *Q = NULL, *R = NULL;
    if (transposed) A = view_t(A, nd - 2, nd - 1);
    int64_t m = A->shape[nd - 2], n = A->shape[nd - 1], k = m < n ? m : n, mq = reduced ? k : m;
    int64_t nb = 1;
    for (int d = 0; d < nd - 2; d++) nb *= shape[d];
    CHECK_OK(rt_linalg_qr(A, reduced, &Q, &R));
    if (!Q || !R) goto done;
    CHECK(Q->shape[nd - 2] == m && Q->shape[nd - 1] == mq && R->shape[nd - 2] == mq &&
          R->shape[nd - 1] == n, "qr shapes");
    double *a = dv(A), *q = dv(Q), *r = dv(R), *qr = malloc((size_t)(m * n + 1) * 8);
    double tol = tol_of(dt) * 10, eo = 0, er = 0;
    int upper = 1;
    for (int64_t t = 0; t < nb; t++) {
        nmm(q + t * m * mq, r + t * mq * n, qr, m, mq, n);
        double e = maxabs(qr, a + t * m * n, m * n), o = orth_err(q + t * m * mq, m, mq);
        if (e > er) er = e;
        if (o > eo) eo = o;
        for (int64_t i = 0; i < mq; i++)
            for (int64_t j = 0; j < i && j < n; j++) upper &= r[t * mq * n + i * n + j] == 0;
    }
    CHECK(er <= tol && eo <= tol && upper, "qr %lldx%lld reduced=%d: |QR-A| %g |Q^TQ-I| %g",
          (long long)m, (long long)n, reduced, er, eo);
    free(a), free(q), free(r), free(qr);
done:
    rt_tensor_release(A), rt_tensor_release(Q), rt_tensor_release(R);
}

static void check_svd(rt_dtype dt, int nd, const int64_t *shape, int full, int transposed)
{
    rt_tensor *A = h_rand(dt, nd, shape, -1, 1), *U = NULL, *S = NULL, *Vh = NULL, *S2 = NULL;
    if (transposed) A = view_t(A, nd - 2, nd - 1);
    int64_t m = A->shape[nd - 2], n = A->shape[nd - 1], k = m < n ? m : n;
    int64_t uc = full ? m : k, vr = full ? n : k, nb = 1;
    for (int d = 0; d < nd - 2; d++) nb *= shape[d];
    CHECK_OK(rt_linalg_svd(A, full, &U, &S, &Vh));
    CHECK_OK(rt_linalg_svd(A, full, NULL, &S2, NULL));
    if (!U || !S2) goto done;
    CHECK(U->shape[nd - 1] == uc && Vh->shape[nd - 2] == vr && S->shape[nd - 2] == k, "svd shapes");
    double *a = dv(A), *u = dv(U), *s = dv(S), *vh = dv(Vh), *s2 = dv(S2);
    double *us = malloc((size_t)(m * k + 1) * 8), *usv = malloc((size_t)(m * n + 1) * 8);
    double tol = tol_of(dt) * 10, er = 0, eo = 0;
    int desc = 1, signs = 1;
    for (int64_t t = 0; t < nb; t++) {
        const double *pu = u + t * m * uc, *ps = s + t * k, *pv = vh + t * vr * n;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < k; j++) us[i * k + j] = pu[i * uc + j] * ps[j];
        nmm(us, pv, usv, m, k, n);          /* the first k rows of Vh */
        double e = maxabs(usv, a + t * m * n, m * n);
        if (e > er) er = e;
        double *vt = malloc((size_t)(vr * n + 1) * 8);
        ntr(pv, vt, vr, n);
        double o = fmax(orth_err(pu, m, uc), orth_err(vt, n, vr));
        if (o > eo) eo = o;
        free(vt);
        for (int64_t j = 0; j < k; j++) desc &= ps[j] >= 0 && (j == 0 || ps[j] <= ps[j - 1]);
        for (int64_t j = 0; j < uc; j++) {
            double best = 0;
            for (int64_t i = 0; i < m; i++)
                if (fabs(pu[i * uc + j]) > fabs(best)) best = pu[i * uc + j];
            signs &= best > 0;
        }
    }
    CHECK(er <= tol && eo <= tol && desc && signs, "svd %lldx%lld full=%d: |USVh-A| %g orth %g "
          "desc %d signs %d", (long long)m, (long long)n, full, er, eo, desc, signs);
    CHECK(maxabs(s, s2, nb * k) <= tol, "svd: S alone differs");
    free(a), free(u), free(s), free(vh), free(s2), free(us), free(usv);
done:
    rt_tensor_release(A), rt_tensor_release(U), rt_tensor_release(S), rt_tensor_release(Vh);
    rt_tensor_release(S2);
}

static void test_eigh(rt_dtype dt)
{
    rt_tensor *A = rand_spd_ish(dt, 3, SHAPE(3, 6, 6), 1), *w = NULL, *V = NULL, *w2 = NULL;
    for (int64_t t = 0; t < 3; t++)          /* make it indefinite: shift the diagonal */
        for (int64_t i = 0; i < 6; i++) {
            int64_t idx[3] = { t, i, i };
            rt_tensor_set(A, idx, rt_tensor_get(A, idx) - 7.0);
        }
    CHECK_OK(rt_linalg_eigh(A, &w, &V));
    CHECK_OK(rt_linalg_eigh(A, &w2, NULL));
    if (!V || !w2) goto done;
    double *a = dv(A), *pw = dv(w), *pv = dv(V), *pw2 = dv(w2), av[36], er = 0, eo = 0;
    int asc = 1, signs = 1;
    for (int t = 0; t < 3; t++) {
        nmm(a + 36 * t, pv + 36 * t, av, 6, 6, 6);
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++) {
                double e = fabs(av[i * 6 + j] - pv[36 * t + i * 6 + j] * pw[6 * t + j]);
                if (e > er) er = e;
            }
        eo = fmax(eo, orth_err(pv + 36 * t, 6, 6));
        for (int j = 1; j < 6; j++) asc &= pw[6 * t + j] >= pw[6 * t + j - 1];
        for (int j = 0; j < 6; j++) {
            double best = 0;
            for (int i = 0; i < 6; i++)
                if (fabs(pv[36 * t + i * 6 + j]) > fabs(best)) best = pv[36 * t + i * 6 + j];
            signs &= best > 0;
        }
    }
    CHECK(er <= tol_of(dt) * 20 && eo <= tol_of(dt) * 10 && asc && signs,
          "eigh: |AV - Vw| %g orth %g asc %d signs %d", er, eo, asc, signs);
    CHECK(pw[0] < 0 && maxabs(pw, pw2, 18) <= tol_of(dt) * 10, "eigh values only");
    free(a), free(pw), free(pv), free(pw2);
    /* lower triangle only */
    rt_tensor *G, *V2 = NULL, *w3 = NULL;
    rt_clone(A, &G);
    rt_tensor_set(G, (int64_t[]){0, 0, 5}, 123.0);
    CHECK_OK(rt_linalg_eigh(G, &w3, &V2));
    if (V2)
        CHECK(memcmp(rt_tensor_data(V), rt_tensor_data(V2), (size_t)36 * rt_dtype_size(dt)) == 0,
              "eigh reads only the lower triangle");
    rt_tensor_release(G), rt_tensor_release(V2), rt_tensor_release(w3);
done:
    rt_tensor_release(A), rt_tensor_release(w), rt_tensor_release(V), rt_tensor_release(w2);
}

static void test_factor_shapes(rt_dtype dt)
{
    for (int full = 0; full < 2; full++) {
        check_qr(dt, 2, SHAPE(6, 4), !full, 0);
        check_qr(dt, 2, SHAPE(4, 6), !full, 0);
        check_qr(dt, 2, SHAPE(5, 5), !full, 1);
        check_qr(dt, 3, SHAPE(2, 6, 3), !full, 1);
        check_qr(dt, 2, SHAPE(3, 0), !full, 0);
        check_svd(dt, 2, SHAPE(6, 4), full, 0);
        check_svd(dt, 2, SHAPE(4, 6), full, 0);
        check_svd(dt, 2, SHAPE(5, 5), full, 1);
        check_svd(dt, 4, SHAPE(2, 2, 5, 3), full, 0);
        check_svd(dt, 2, SHAPE(0, 3), full, 0);
    }
    rt_tensor *o = (rt_tensor *)&o, *i64 = NULL, *v = h_rand(dt, 1, SHAPE(3), -1, 1), *s = NULL;
    rt_zeros(RT_I64, 2, SHAPE(2, 2), &i64);
    CHECK_FAILS(rt_linalg_qr(v, 1, &o, &o), RT_ESHAPE, "qr: A must be a matrix");
    CHECK_FAILS(rt_linalg_svd(i64, 1, &o, &o, &o), RT_EDTYPE, "svd: A is i64");
    CHECK_FAILS(rt_linalg_eigh(v, &o, &o), RT_ESHAPE, "eigh: A must be a matrix");
    rt_tensor *r = h_rand(dt, 2, SHAPE(2, 3), -1, 1);
    CHECK_FAILS(rt_linalg_eigh(r, &o, &o), RT_ESHAPE, "eigh: A of shape [2,3] is not square");
    rt_full(dt, 2, SHAPE(3, 3), NAN, &s);
    CHECK_FAILS(rt_linalg_svd(s, 0, &o, &o, &o), RT_ELINALG, "svd: the input contains NaN");
    CHECK(o == (rt_tensor *)&o, "out untouched on failure");
    rt_tensor_release(i64), rt_tensor_release(v), rt_tensor_release(r), rt_tensor_release(s);
}

/* ---- lstsq, pinv, matrix_rank --------------------------------------------------------------- */

static void test_lstsq(rt_dtype dt)
{
    double tol = tol_of(dt) * 20;
    /* tall, full rank: X = (A^T A)^-1 A^T B by the test's own elimination */
    rt_tensor *A = h_rand(dt, 2, SHAPE(7, 3), -1, 1), *B = h_rand(dt, 2, SHAPE(7, 2), -1, 1);
    rt_tensor *X = NULL;
    CHECK_OK(rt_linalg_lstsq(A, B, &X));
    double *a = dv(A), *b = dv(B), at[21], ata[9], atb[6];
    ntr(a, at, 7, 3);
    nmm(at, a, ata, 3, 7, 3);
    nmm(at, b, atb, 3, 7, 2);
    ngauss(ata, atb, 3, 2);
    CHECK(X && h_shape_is(X, 2, SHAPE(3, 2)) && h_worst(X, atb, tol, tol) <= 1,
          "lstsq tall vs normal equations");
    rt_tensor_release(X), rt_tensor_release(B);
    /* vector B */
    B = h_rand(dt, 1, SHAPE(7), -1, 1);
    CHECK_OK(rt_linalg_lstsq(A, B, &X));
    free(b);
    b = dv(B);
    nmm(at, a, ata, 3, 7, 3);
    nmm(at, b, atb, 3, 7, 1);
    ngauss(ata, atb, 3, 1);
    CHECK(X && h_shape_is(X, 1, SHAPE(3)) && h_worst(X, atb, tol, tol) <= 1, "lstsq vector B");
    rt_tensor_release(X), rt_tensor_release(B), rt_tensor_release(A), free(a), free(b);
    /* wide: minimum norm X = A^T (A A^T)^-1 B, A transposed view */
    A = view_t(h_rand(dt, 2, SHAPE(5, 3), -1, 1), 0, 1);
    B = h_rand(dt, 2, SHAPE(3, 2), -1, 1);
    CHECK_OK(rt_linalg_lstsq(A, B, &X));
    a = dv(A), b = dv(B);
    double aat[9], atv[15], ref[10];
    ntr(a, atv, 3, 5);
    nmm(a, atv, aat, 3, 5, 3);
    ngauss(aat, b, 3, 2);
    nmm(atv, b, ref, 5, 3, 2);
    CHECK(X && h_shape_is(X, 2, SHAPE(5, 2)) && h_worst(X, ref, tol, tol) <= 1,
          "lstsq wide min-norm");
    rt_tensor_release(X), rt_tensor_release(B), rt_tensor_release(A), free(a), free(b);
}

/* batched with a shared B (each matrix against its own lstsq), empty, and errors */
static void test_lstsq_batched(rt_dtype dt)
{
    double tol = tol_of(dt) * 20;
    rt_tensor *A = h_rand(dt, 3, SHAPE(2, 6, 3), -1, 1), *B, *X = NULL;
    B = h_rand(dt, 2, SHAPE(6, 1), -1, 1);
    CHECK_OK(rt_linalg_lstsq(A, B, &X));
    for (int64_t t = 0; X && t < 2; t++) {
        rt_tensor *At, *Xt, *Xr = NULL;
        rt_view_select(A, 0, t, &At);
        rt_view_select(X, 0, t, &Xt);
        CHECK_OK(rt_linalg_lstsq(At, B, &Xr));
        double *xr = dv(Xr);
        CHECK(h_worst(Xt, xr, tol, tol) <= 1, "lstsq batched %lld", (long long)t);
        free(xr);
        rt_tensor_release(At), rt_tensor_release(Xt), rt_tensor_release(Xr);
    }
    rt_tensor_release(X), rt_tensor_release(B), rt_tensor_release(A);
    A = h_rand(dt, 2, SHAPE(0, 3), -1, 1);
    B = h_rand(dt, 2, SHAPE(0, 2), -1, 1);
    CHECK_OK(rt_linalg_lstsq(A, B, &X));
    CHECK(X && h_shape_is(X, 2, SHAPE(3, 2)) && h_at(X, 0) == 0 && h_at(X, 5) == 0, "lstsq empty");
    rt_tensor_release(X), rt_tensor_release(B);
    B = h_rand(dt, 2, SHAPE(4, 2), -1, 1);
    X = (rt_tensor *)&X;
    CHECK_FAILS(rt_linalg_lstsq(A, B, &X), RT_ESHAPE, "lstsq: A [0,3] and B [4,2]: B has 4 rows");
    rt_tensor_release(B), rt_tensor_release(A);
}

/* A P A = A, P A P = P, (A P)^T = A P, (P A)^T = P A */
static double penrose_err(const double *a, const double *p, int64_t m, int64_t n)
{
    double *ap = malloc((size_t)(m * m) * 8), *pa = malloc((size_t)(n * n) * 8);
    double *apa = malloc((size_t)(m * n) * 8), *pap = malloc((size_t)(n * m) * 8), w = 0;
    nmm(a, p, ap, m, n, m);
    nmm(p, a, pa, n, m, n);
    nmm(ap, a, apa, m, m, n);
    nmm(pa, p, pap, n, n, m);
    w = fmax(maxabs(apa, a, m * n), maxabs(pap, p, n * m));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < m; j++) w = fmax(w, fabs(ap[i * m + j] - ap[j * m + i]));
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) w = fmax(w, fabs(pa[i * n + j] - pa[j * n + i]));
    free(ap), free(pa), free(apa), free(pap);
    return w;
}

/* A rank-2 (5,4) matrix, the product of (5,2) and (2,4) factors made here. */
static rt_tensor *rank2(rt_dtype dt)
{
    rt_tensor *f = h_rand(RT_F64, 2, SHAPE(5, 2), -1, 1);
    rt_tensor *g = h_rand(RT_F64, 2, SHAPE(2, 4), -1, 1);
    double *pf = dv(f), *pg = dv(g), p[20];
    nmm(pf, pg, p, 5, 2, 4);
    rt_tensor *t = NULL, *o = NULL;
    rt_from_buffer(RT_F64, 2, SHAPE(5, 4), p, &t);
    rt_to_dtype(t, dt, &o);
    free(pf), free(pg);
    rt_tensor_release(f), rt_tensor_release(g), rt_tensor_release(t);
    return o;
}

static void test_pinv_rank(rt_dtype dt)
{
    double tol = tol_of(dt) * 20;
    rt_tensor *A = h_rand(dt, 2, SHAPE(6, 4), -1, 1), *P = NULL, *R2 = rank2(dt), *r = NULL;
    CHECK_OK(rt_linalg_pinv(A, -1, &P));
    double *a = dv(A), *p = P ? dv(P) : NULL;
    CHECK(P && h_shape_is(P, 2, SHAPE(4, 6)) && penrose_err(a, p, 6, 4) <= tol, "pinv full rank");
    free(a), free(p), rt_tensor_release(P);
    CHECK_OK(rt_linalg_pinv(R2, -1, &P));
    a = dv(R2), p = P ? dv(P) : NULL;
    CHECK(P && penrose_err(a, p, 5, 4) <= tol, "pinv of rank 2");
    free(a), free(p), rt_tensor_release(P);
    /* batched and transposed: each matrix against its own pinv */
    rt_tensor *Ab = view_t(h_rand(dt, 3, SHAPE(3, 4, 5), -1, 1), 1, 2);
    CHECK_OK(rt_linalg_pinv(Ab, -1, &P));
    for (int64_t t = 0; P && t < 3; t++) {
        rt_tensor *At, *Pt;
        rt_view_select(Ab, 0, t, &At);
        rt_view_select(P, 0, t, &Pt);
        a = dv(At), p = dv(Pt);
        CHECK(penrose_err(a, p, 5, 4) <= tol, "pinv batched %lld", (long long)t);
        free(a), free(p), rt_tensor_release(At), rt_tensor_release(Pt);
    }
    rt_tensor_release(P), rt_tensor_release(Ab);
    /* matrix_rank */
    CHECK_OK(rt_linalg_matrix_rank(R2, -1, &r));
    CHECK(r && r->dtype == RT_I64 && r->ndim == 0 && h_at(r, 0) == 2, "rank of rank-2 5x4");
    rt_tensor_release(r);
    CHECK_OK(rt_linalg_matrix_rank(A, -1, &r));
    CHECK(r && h_at(r, 0) == 4, "rank of random 6x4");
    rt_tensor_release(r);
    CHECK_OK(rt_linalg_matrix_rank(A, 1e6, &r));
    CHECK(r && h_at(r, 0) == 0, "rank with a huge tolerance");
    rt_tensor_release(r);
    rt_tensor *z = NULL, *e = NULL;
    rt_zeros(dt, 3, SHAPE(2, 3, 3), &z);
    CHECK_OK(rt_linalg_matrix_rank(z, -1, &r));
    CHECK(r && h_shape_is(r, 1, SHAPE(2)) && h_at(r, 0) == 0 && h_at(r, 1) == 0, "rank of zeros");
    rt_tensor_release(r);
    e = h_rand(dt, 2, SHAPE(0, 4), -1, 1);
    CHECK_OK(rt_linalg_pinv(e, -1, &P));
    CHECK(P && h_shape_is(P, 2, SHAPE(4, 0)), "pinv of empty");
    rt_tensor_release(P), rt_tensor_release(z), rt_tensor_release(e);
    rt_tensor_release(A), rt_tensor_release(R2);
}

static void test_threads(void)
{
    rt_tensor *b2 = h_rand(RT_F64, 2, SHAPE(150, 170), -1, 1);
    rt_tensor *s = rand_spd_ish(RT_F64, 2, SHAPE(160, 160), 1);
    rt_tensor *rhs = h_rand(RT_F64, 2, SHAPE(160, 20), -1, 1);
    check_threads("solve", rt_linalg_solve, s, rhs);
    check_threads("inv", inv2, s, NULL);
    check_threads("svd", svd2, b2, NULL);
    check_threads("eigh", eigh2, s, NULL);
    rt_tensor_release(b2), rt_tensor_release(s), rt_tensor_release(rhs);
}

/* ---- interrupts and allocation failures ------------------------------------------------- */

static void test_interrupt(void)
{
    rt_tensor *s = rand_spd_ish(RT_F64, 3, SHAPE(3, 4, 4), 1), *o = (rt_tensor *)&o, *o2 = o;
    rt_tensor *b = h_rand(RT_F64, 3, SHAPE(3, 4, 2), -1, 1);
    rt_interrupt_request();
    CHECK_FAILS(rt_linalg_inv(s, &o), RT_EINTERRUPT, "interrupted");
    CHECK_FAILS(rt_linalg_cholesky(s, &o), RT_EINTERRUPT, "interrupted");
    CHECK_FAILS(rt_linalg_solve(s, b, &o), RT_EINTERRUPT, "interrupted");
    CHECK_FAILS(rt_linalg_det(s, &o), RT_EINTERRUPT, "interrupted");
    CHECK_FAILS(rt_linalg_qr(s, 1, &o, &o2), RT_EINTERRUPT, "interrupted");
    CHECK_FAILS(rt_linalg_svd(s, 1, &o, &o2, &o2), RT_EINTERRUPT, "interrupted");
    CHECK_FAILS(rt_linalg_eigh(s, &o, &o2), RT_EINTERRUPT, "interrupted");
    CHECK_FAILS(rt_linalg_lstsq(s, b, &o), RT_EINTERRUPT, "interrupted");
    rt_interrupt_clear();
    CHECK(o == (rt_tensor *)&o && o2 == o, "out untouched after interrupt");
    rt_tensor_release(s), rt_tensor_release(b);
}

typedef struct { rt_tensor *a, *b; int which; } af_ctx;

static rt_status af_run(af_ctx *c)
{
    rt_tensor *o1 = NULL, *o2 = NULL, *o3 = NULL;
    rt_status st = RT_OK;
    switch (c->which) {
    case 0: st = rt_linalg_inv(c->a, &o1); break;
    case 1: st = rt_linalg_solve(c->a, c->b, &o1); break;
    case 2: st = rt_linalg_qr(c->a, 0, &o1, &o2); break;
    case 3: st = rt_linalg_svd(c->a, 1, &o1, &o2, &o3); break;
    case 4: st = rt_linalg_lstsq(c->a, c->b, &o1); break;
    case 5: st = rt_linalg_pinv(c->a, -1, &o1); break;
    case 6: st = rt_linalg_slogdet(c->a, &o1, &o2); break;
    case 7: st = rt_linalg_eigh(c->a, &o1, &o2); break;
    case 8: st = rt_linalg_matrix_rank(c->a, -1, &o1); break;
    case 9: st = rt_linalg_cholesky(c->a, &o1); break;
    case 10: st = rt_linalg_det(c->a, &o1); break;
    }
    if (st == RT_OK) rt_tensor_release(o1), rt_tensor_release(o2), rt_tensor_release(o3);
    return st;
}

/* Fails the 1st, 2nd, ... allocation of each op: RT_ENOMEM every time, and (under ASan) no
** leak, until the op succeeds. */
static void test_alloc_failures(void)
{
    rt_tensor *a = view_t(h_rand(RT_F64, 3, SHAPE(2, 4, 4), -1, 1), 1, 2);
    rt_tensor *sq = rand_spd_ish(RT_F64, 3, SHAPE(2, 4, 4), 1);
    rt_tensor *b = h_rand(RT_F64, 2, SHAPE(4, 3), -1, 1);
    rt_tensor *w = h_rand(RT_F64, 2, SHAPE(3, 5), -1, 1), *bw = h_rand(RT_F64, 1, SHAPE(3), -1, 1);
    af_ctx cases[] = { { sq, NULL, 0 }, { sq, b, 1 }, { a, NULL, 2 }, { a, NULL, 3 }, { a, b, 4 },
                       { a, NULL, 5 }, { sq, NULL, 6 }, { sq, NULL, 7 }, { a, NULL, 8 },
                       { sq, NULL, 9 }, { sq, NULL, 10 }, { w, bw, 4 } };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int ok = 0, bad = 0;
        for (long n = 1; n < 200 && !ok; n++) {
            rt_debug_fail_alloc_at(n);
            rt_status st = af_run(&cases[c]);
            rt_debug_fail_alloc_at(0);
            if (st == RT_OK) ok = 1;
            else if (st != RT_ENOMEM) bad++;
        }
        CHECK(ok && !bad, "alloc failures of case %zu: ok %d, other statuses %d", c, ok, bad);
    }
    rt_tensor_release(a), rt_tensor_release(sq), rt_tensor_release(b);
    rt_tensor_release(w), rt_tensor_release(bw);
}

int main(void)
{
    rt_dtype dts[2] = { RT_F32, RT_F64 };
    for (int i = 0; i < 2; i++) {
        test_solve(dts[i]);
        test_inv(dts[i]);
        test_det(dts[i]);
        test_cholesky(dts[i]);
        test_factor_shapes(dts[i]);
        test_eigh(dts[i]);
        test_lstsq(dts[i]);
        test_lstsq_batched(dts[i]);
        test_pinv_rank(dts[i]);
    }
    test_lu_errors();
    test_interrupt();
    test_alloc_failures();
    test_threads();
    REPORT();
}
