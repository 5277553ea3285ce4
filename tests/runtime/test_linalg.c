/* test_linalg.c — matrix products (matmul, mm, gemm_, dot, outer, matmul_ref) against a naive
** float64 loop written here, on strided, transposed, broadcast and empty operands.  Also records
** (prints) whether OpenBLAS sgemm is bitwise identical with 1 and 2 threads.  The LAPACK-based
** ops are tested in test_linalg_lapack.c. */
#include <cblas.h>
#include <float.h>
#include "harness.h"
#include "linalg_helpers.h"

static double tol_of(rt_dtype dt) { return dt == RT_F32 ? 2e-4 : 1e-10; }

static rt_tensor *view_t(rt_tensor *t, int d1, int d2)   /* consumes t */
{
    rt_tensor *v = NULL;
    rt_view_transpose(t, d1, d2, &v);
    rt_tensor_release(t);
    return v;
}

/* ---- matmul: the naive reference -------------------------------------------------------- */

/* Expected matmul(a, b) in float64 by PyTorch's rules; fills the output shape. */
static double *ref_matmul(const rt_tensor *a, const rt_tensor *b, int *ond, int64_t *oshape)
{
    int na = a->ndim, nb = b->ndim;
    int64_t M = na == 1 ? 1 : a->shape[na - 2], K = a->shape[na - 1];
    int64_t N = nb == 1 ? 1 : b->shape[nb - 1];
    int ba = na > 2 ? na - 2 : 0, bb = nb > 2 ? nb - 2 : 0, bnd = ba > bb ? ba : bb;
    int64_t bshape[RT_MAXDIM], nbatch = 1;
    for (int i = 0; i < bnd; i++) {
        int ia = i - (bnd - ba), ib = i - (bnd - bb);
        int64_t sa = ia >= 0 ? a->shape[ia] : 1, sb = ib >= 0 ? b->shape[ib] : 1;
        bshape[i] = sa == 1 ? sb : sa;
        nbatch *= bshape[i];
    }
    *ond = 0;
    for (int i = 0; i < bnd; i++) oshape[(*ond)++] = bshape[i];
    if (na > 1) oshape[(*ond)++] = M;
    if (nb > 1) oshape[(*ond)++] = N;
    double *out = malloc((size_t)(nbatch * M * N + 1) * sizeof *out);
    for (int64_t t = 0; t < nbatch; t++) {
        int64_t bidx[RT_MAXDIM], rem = t, ia[RT_MAXDIM], ib[RT_MAXDIM];
        for (int d = bnd - 1; d >= 0; d--) bidx[d] = rem % bshape[d], rem /= bshape[d];
        for (int d = 0; d < ba; d++) ia[d] = a->shape[d] == 1 ? 0 : bidx[bnd - ba + d];
        for (int d = 0; d < bb; d++) ib[d] = b->shape[d] == 1 ? 0 : bidx[bnd - bb + d];
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++) {
                    if (na == 1) ia[0] = k;
                    else ia[na - 2] = i, ia[na - 1] = k;
                    if (nb == 1) ib[0] = k;
                    else ib[nb - 2] = k, ib[nb - 1] = j;
                    s += rt_tensor_get(a, ia) * rt_tensor_get(b, ib);
                }
                out[(t * M + i) * N + j] = s;
            }
    }
    return out;
}

/* rt_matmul and rt_matmul_ref against the loop above. */
static void check_matmul(const char *what, const rt_tensor *a, const rt_tensor *b)
{
    int ond;
    int64_t oshape[RT_MAXDIM];
    double *ref = ref_matmul(a, b, &ond, oshape);
    double tol = a->dtype == RT_F32 ? 1e-5 : 1e-13;
    for (int use_ref = 0; use_ref < 2; use_ref++) {
        rt_tensor *o = NULL;
        rt_status st = use_ref ? rt_matmul_ref(a, b, &o) : rt_matmul(a, b, &o);
        CHECK(st == RT_OK, "%s%s: %s", what, use_ref ? " (ref)" : "", rt_last_error());
        if (st != RT_OK) continue;
        CHECK(h_shape_is(o, ond, oshape) && o->dtype == a->dtype, "%s: result shape", what);
        CHECK(rt_tensor_is_contiguous(o), "%s: result not contiguous", what);
        double w = h_worst(o, ref, tol, tol);
        CHECK(w <= 1, "%s%s: off by %g tolerances", what, use_ref ? " (ref)" : "", w);
        rt_tensor_release(o);
    }
    free(ref);
}

static void test_matmul_shapes(rt_dtype dt)
{
    struct { int na, nb; int64_t sa[4], sb[4]; const char *what; } cases[] = {
        { 2, 2, {5, 7}, {7, 3}, "2-D" },
        { 1, 1, {7}, {7}, "1-D . 1-D" },
        { 1, 2, {7}, {7, 3}, "1-D @ 2-D" },
        { 2, 1, {5, 7}, {7}, "2-D @ 1-D" },
        { 1, 3, {4}, {2, 4, 3}, "1-D @ 3-D" },
        { 3, 1, {2, 5, 4}, {4}, "3-D @ 1-D (folded)" },
        { 4, 3, {2, 1, 3, 4}, {5, 4, 2}, "[2,1,3,4] @ [5,4,2]" },
        { 3, 2, {3, 4, 5}, {5, 6}, "3-D @ 2-D (folded)" },
        { 4, 3, {2, 3, 4, 5}, {1, 5, 6}, "4-D @ [1,5,6] (folded)" },
        { 2, 3, {4, 5}, {3, 5, 6}, "2-D @ 3-D" },
        { 3, 3, {3, 1, 5}, {3, 5, 1}, "M = N = 1 batched" },
        { 2, 2, {1, 1}, {1, 1}, "1x1" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rt_tensor *a = h_rand(dt, cases[c].na, cases[c].sa, -1, 1);
        rt_tensor *b = h_rand(dt, cases[c].nb, cases[c].sb, -1, 1);
        check_matmul(cases[c].what, a, b);
        rt_tensor_release(a);
        rt_tensor_release(b);
    }
}

static void test_matmul_views(rt_dtype dt)
{
    rt_tensor *a, *b, *t, *u;
    /* transposed operands: column-major for BLAS (Trans flag, no copy) */
    a = view_t(h_rand(dt, 2, SHAPE(7, 5), -1, 1), 0, 1);
    b = view_t(h_rand(dt, 2, SHAPE(3, 7), -1, 1), 0, 1);
    t = h_rand(dt, 2, SHAPE(7, 3), -1, 1);
    check_matmul("a^T @ b", a, t);
    check_matmul("a^T @ b^T", a, b);
    rt_tensor_release(t);
    t = h_rand(dt, 2, SHAPE(5, 7), -1, 1);
    check_matmul("a @ b^T", t, b);
    rt_tensor_release(t);
    rt_tensor_release(b);
    /* row-strided (narrowed columns: lda = 10) and offset views */
    t = h_rand(dt, 2, SHAPE(5, 10), -1, 1);
    rt_view_narrow(t, 1, 2, 7, &b);
    u = h_rand(dt, 2, SHAPE(14, 3), -1, 1);
    rt_tensor *rows2;
    rt_view_slice(u, 0, 0, 14, 2, &rows2);         /* rows step 2: lda = 6 */
    check_matmul("row-strided a @ row-strided b", b, rows2);
    check_matmul("transposed a @ row-strided b", a, rows2);
    rt_tensor_release(b);
    rt_tensor_release(rows2);
    rt_tensor_release(u);
    /* neither layout: every other row and column (packed) */
    rt_tensor *big = h_rand(dt, 2, SHAPE(10, 14), -1, 1), *sl1, *sl2;
    rt_view_slice(big, 0, 0, 10, 2, &sl1);
    rt_view_slice(sl1, 1, 0, 14, 2, &sl2);          /* (5,7) strides (28,2) */
    u = h_rand(dt, 2, SHAPE(7, 4), -1, 1);
    check_matmul("doubly strided a", sl2, u);
    rt_tensor_release(u);
    /* stride-0 (expanded) operands */
    rt_tensor *row = h_rand(dt, 2, SHAPE(1, 7), -1, 1), *ex, *v1, *vex;
    rt_view_expand(row, 2, SHAPE(5, 7), &ex);
    u = h_rand(dt, 2, SHAPE(7, 4), -1, 1);
    check_matmul("expanded a", ex, u);
    rt_tensor *one = h_rand(dt, 1, SHAPE(1), -1, 1);
    rt_view_expand(one, 1, SHAPE(7), &vex);
    v1 = h_rand(dt, 1, SHAPE(7), -1, 1);
    check_matmul("expanded vector . vector", vex, v1);
    check_matmul("expanded vector @ matrix", vex, u);
    /* batched: permuted (non-foldable) a, offset select, broadcast batch via expand */
    rt_tensor *a3 = h_rand(dt, 3, SHAPE(4, 3, 7), -1, 1), *perm, *sel, *b3;
    rt_view_permute(a3, (const int[]){1, 0, 2}, &perm);     /* (3,4,7), batch stride 7 */
    check_matmul("permuted batch @ 2-D", perm, u);
    rt_view_select(a3, 0, 2, &sel);                          /* offset view (3,7) */
    check_matmul("offset select @ 2-D", sel, u);
    b3 = view_t(h_rand(dt, 3, SHAPE(3, 4, 7), -1, 1), 1, 2); /* (3,7,4) column-major */
    check_matmul("batch @ transposed batch", perm, b3);
    rt_tensor *bx, *arow, *abx;
    rt_view_expand(u, 3, SHAPE(3, 7, 4), &bx);
    check_matmul("batch @ expanded batch (shared b)", perm, bx);
    rt_view_unsqueeze(row, 0, &arow);                         /* (1,1,7) */
    rt_view_expand(arow, 3, SHAPE(3, 1, 7), &abx);            /* batch stride 0, M = 1 */
    check_matmul("expanded batch of one row @ 2-D", abx, u);
    check_matmul("expanded batch @ expanded batch", abx, bx);
    rt_tensor_release(arow), rt_tensor_release(abx);
    rt_tensor *rs[] = { a, t, big, sl1, sl2, row, ex, u, one, vex, v1, a3, perm, sel, b3, bx };
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) rt_tensor_release(rs[i]);
}

static void test_matmul_empty(rt_dtype dt)
{
    struct { int na, nb; int64_t sa[3], sb[3]; const char *what; } cases[] = {
        { 2, 2, {3, 0}, {0, 4}, "K = 0" },
        { 2, 2, {0, 5}, {5, 4}, "M = 0" },
        { 2, 2, {3, 5}, {5, 0}, "N = 0" },
        { 1, 1, {0}, {0}, "empty dot" },
        { 3, 2, {0, 3, 5}, {5, 4}, "batch 0" },
        { 3, 3, {2, 3, 0}, {2, 0, 4}, "batched K = 0" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rt_tensor *a = h_rand(dt, cases[c].na, cases[c].sa, -1, 1);
        rt_tensor *b = h_rand(dt, cases[c].nb, cases[c].sb, -1, 1);
        check_matmul(cases[c].what, a, b);
        rt_tensor_release(a);
        rt_tensor_release(b);
    }
}

static void test_matmul_errors(void)
{
    rt_tensor *a = h_rand(RT_F32, 2, SHAPE(2, 3), -1, 1);
    rt_tensor *b = h_rand(RT_F32, 2, SHAPE(4, 5), -1, 1);
    rt_tensor *d = h_rand(RT_F64, 2, SHAPE(3, 5), -1, 1);
    rt_tensor *i64 = h_rand(RT_I64, 2, SHAPE(3, 5), -9, 9);
    rt_tensor *s = NULL, *o = (rt_tensor *)&o, *v3 = h_rand(RT_F32, 1, SHAPE(3), -1, 1);
    rt_tensor *b3 = h_rand(RT_F32, 3, SHAPE(3, 3, 2), -1, 1);
    rt_tensor *a3 = h_rand(RT_F32, 3, SHAPE(2, 2, 3), -1, 1);
    rt_scalar(RT_F32, 2, &s);
    CHECK_FAILS(rt_matmul(a, b, &o), RT_ESHAPE,
                "matmul: [2,3] @ [4,5]: inner sizes 3 and 4 differ");
    CHECK(rt_last_operand() == 1, "operand of inner mismatch");
    CHECK_FAILS(rt_matmul_ref(a, b, &o), RT_ESHAPE, "inner sizes 3 and 4 differ");
    CHECK_FAILS(rt_matmul(a, d, &o), RT_EDTYPE, "matmul: dtypes differ: f32 and f64");
    CHECK_FAILS(rt_matmul(i64, i64, &o), RT_EDTYPE, "matmul: i64 tensors are not supported");
    CHECK_FAILS(rt_matmul(s, a, &o), RT_ESHAPE, "matmul: operand 1 is 0-d");
    CHECK_FAILS(rt_matmul(a, s, &o), RT_ESHAPE, "matmul: operand 2 is 0-d");
    CHECK_FAILS(rt_matmul(a3, b3, &o), RT_ESHAPE,
                "matmul: [2,2,3] @ [3,3,2]: batch dimensions do not broadcast");
    CHECK_FAILS(rt_matmul(v3, b, &o), RT_ESHAPE, "matmul: [3] @ [4,5]: inner sizes 3 and 4 differ");
    CHECK_FAILS(rt_mm(v3, a, &o), RT_ESHAPE, "mm: expected two 2-D tensors, got [3] and [2,3]");
    CHECK_FAILS(rt_dot(a, v3, &o), RT_ESHAPE, "dot: expected two 1-D tensors");
    CHECK_FAILS(rt_outer(a, v3, &o), RT_ESHAPE, "outer: expected two 1-D tensors");
    CHECK(o == (rt_tensor *)&o, "out untouched on failure");
    rt_tensor *rs[] = { a, b, d, i64, s, v3, b3, a3 };
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) rt_tensor_release(rs[i]);
}

static void test_dot_outer_mm(rt_dtype dt)
{
    rt_tensor *x = h_rand(dt, 1, SHAPE(9), -1, 1), *y = h_rand(dt, 1, SHAPE(5), -1, 1);
    rt_tensor *big = h_rand(dt, 1, SHAPE(27), -1, 1), *xs, *o;
    rt_view_slice(big, 0, 0, 27, 3, &xs);      /* stride 3 */
    double tol = tol_of(dt);
    CHECK_OK(rt_dot(x, xs, &o));
    double s = 0;
    for (int64_t i = 0; i < 9; i++) s += h_at(x, i) * h_at(xs, i);
    CHECK(o->ndim == 0 && fabs(h_at(o, 0) - s) <= tol, "dot: %g vs %g", h_at(o, 0), s);
    rt_tensor_release(o);
    CHECK_OK(rt_outer(xs, y, &o));
    double ref[45];
    for (int64_t i = 0; i < 9; i++)
        for (int64_t j = 0; j < 5; j++) ref[i * 5 + j] = h_at(xs, i) * h_at(y, j);
    CHECK(h_shape_is(o, 2, SHAPE(9, 5)) && h_worst(o, ref, tol, tol) <= 1, "outer");
    rt_tensor_release(o);
    rt_tensor *a = h_rand(dt, 2, SHAPE(4, 9), -1, 1), *b = h_rand(dt, 2, SHAPE(9, 5), -1, 1);
    CHECK_OK(rt_mm(a, b, &o));
    double *pa = dv(a), *pb = dv(b), r2[20];
    nmm(pa, pb, r2, 4, 9, 5);
    CHECK(h_worst(o, r2, tol, tol) <= 1, "mm");
    free(pa);
    free(pb);
    rt_tensor *rs[] = { x, y, big, xs, o, a, b };
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) rt_tensor_release(rs[i]);
}

/* ---- gemm_ ------------------------------------------------------------------------------- */

/* out = alpha op(a) op(b) + beta out0, checked for one out view. */
static void check_gemm(const char *what, int ta, int tb, double alpha, const rt_tensor *a,
                       const rt_tensor *b, double beta, rt_tensor *out)
{
    int64_t M = out->shape[0], N = out->shape[1], K = a->shape[ta ? 0 : 1];
    double *pa = dv(a), *pb = dv(b), *po = dv(out);
    double *oa = malloc((size_t)(M * K + 1) * 8), *ob = malloc((size_t)(K * N + 1) * 8);
    double *ref = malloc((size_t)(M * N + 1) * 8);
    if (ta) ntr(pa, oa, K, M); else memcpy(oa, pa, (size_t)(M * K) * 8);
    if (tb) ntr(pb, ob, N, K); else memcpy(ob, pb, (size_t)(K * N) * 8);
    nmm(oa, ob, ref, M, K, N);
    for (int64_t i = 0; i < M * N; i++) ref[i] = alpha * ref[i] + (beta ? beta * po[i] : 0);
    uint32_t v0 = out->storage->version;
    CHECK_OK(rt_gemm_(ta, tb, alpha, a, b, beta, out));
    double tol = tol_of(out->dtype);
    CHECK(h_worst(out, ref, tol, tol) <= 1,
          "gemm_ %s: off by %g", what, h_worst(out, ref, tol, tol));
    CHECK(out->storage->version != v0, "gemm_ %s: version not bumped", what);
    free(pa), free(pb), free(po), free(oa), free(ob), free(ref);
}

static void test_gemm(rt_dtype dt)
{
    rt_tensor *a = h_rand(dt, 2, SHAPE(5, 7), -1, 1), *at = h_rand(dt, 2, SHAPE(7, 5), -1, 1);
    rt_tensor *b = h_rand(dt, 2, SHAPE(7, 3), -1, 1), *bt = h_rand(dt, 2, SHAPE(3, 7), -1, 1);
    rt_tensor *out = h_rand(dt, 2, SHAPE(5, 3), -1, 1), *cm, *st1, *st2, *big, *av, *ov;
    check_gemm("plain", 0, 0, 0.5, a, b, 2.0, out);
    check_gemm("trans_a", 1, 0, 1.0, at, b, 0.0, out);
    check_gemm("trans_b", 0, 1, -1.0, a, bt, 1.0, out);
    check_gemm("both", 1, 1, 2.0, at, bt, -0.5, out);
    cm = view_t(h_rand(dt, 2, SHAPE(3, 5), -1, 1), 0, 1);    /* column-major out */
    check_gemm("column-major out", 0, 0, 1.5, a, b, 0.25, cm);
    big = h_rand(dt, 2, SHAPE(10, 6), -1, 1);
    rt_view_slice(big, 0, 0, 10, 2, &st1);
    rt_view_slice(st1, 1, 0, 6, 2, &st2);                     /* (5,3) strides (12,2) */
    check_gemm("doubly strided out", 0, 1, 1.0, a, bt, 1.0, st2);
    /* out shares storage with a: computed through scratch */
    rt_tensor *shared = h_rand(dt, 2, SHAPE(5, 10), -1, 1);
    rt_view_narrow(shared, 1, 0, 7, &av);
    rt_view_narrow(shared, 1, 7, 3, &ov);
    check_gemm("out aliasing a's storage", 0, 0, 1.0, av, b, 1.0, ov);
    /* beta = 0 ignores NaN already in out; K = 0 scales out by beta */
    rt_fill_(out, NAN);
    check_gemm("beta 0 over NaN", 0, 0, 1.0, a, b, 0.0, out);
    rt_tensor *k0a = h_rand(dt, 2, SHAPE(5, 0), -1, 1), *k0b = h_rand(dt, 2, SHAPE(0, 3), -1, 1);
    check_gemm("K = 0", 0, 0, 1.0, k0a, k0b, 3.0, out);
    /* errors */
    rt_tensor *one = h_rand(dt, 2, SHAPE(1, 3), -1, 1), *ex, *i64 = NULL, *wrong;
    rt_view_expand(one, 2, SHAPE(5, 3), &ex);
    CHECK_FAILS(rt_gemm_(0, 0, 1, a, b, 0, ex), RT_EARG, "gemm_: out is an expanded view");
    CHECK_FAILS(rt_gemm_(0, 0, 1, a, bt, 0, out), RT_ESHAPE,
                "gemm_: op(a) [5,7] @ op(b) [3,7]: inner sizes 7 and 3 differ");
    wrong = h_rand(dt, 2, SHAPE(3, 5), -1, 1);
    CHECK_FAILS(rt_gemm_(0, 0, 1, a, b, 0, wrong), RT_ESHAPE,
                "gemm_: out has shape [3,5], expected [5,3]");
    rt_zeros(RT_I64, 2, SHAPE(5, 3), &i64);
    CHECK_FAILS(rt_gemm_(0, 0, 1, a, b, 0, i64), RT_EDTYPE, "gemm_: out is i64");
    rt_tensor *rs[] = { a, at, b, bt, out, cm, big, st1, st2, shared, av, ov, k0a, k0b, one,
                        ex, i64, wrong };
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) rt_tensor_release(rs[i]);
}

/* ---- threads: determinism and the OpenBLAS finding ----------------------------------------- */

/* sgemm is bitwise identical with 1 and 2 threads: the pool splits C into panels that
** single-threaded OpenBLAS computes exactly as it computes the whole (blas_gemm.c).  With
** OpenBLAS's own threading, 600^3 differed in ~75% of the elements. */
static void sgemm_thread_finding(int64_t n)
{
    rt_tensor *a = h_rand(RT_F32, 2, SHAPE(n, n), -1, 1);
    rt_tensor *b = h_rand(RT_F32, 2, SHAPE(n, n), -1, 1);
    rt_tensor *o1 = NULL, *o2 = NULL;
    int saved = rt_get_num_threads();
    rt_set_num_threads(1);
    CHECK_OK(rt_matmul(a, b, &o1));
    rt_set_num_threads(2);
    CHECK_OK(rt_matmul(a, b, &o2));
    rt_set_num_threads(saved);
    if (!o1 || !o2) goto done;
    const float *p1 = rt_tensor_data(o1), *p2 = rt_tensor_data(o2);
    int same = memcmp(p1, p2, (size_t)(n * n) * sizeof(float)) == 0;
    double worst = 0;
    int64_t ndiff = 0;
    for (int64_t i = 0; i < n * n; i++) {
        double d = fabs((double)p1[i] - p2[i]);
        ndiff += d != 0;
        if (d > worst) worst = d;
    }
    printf("info: OpenBLAS %s sgemm %lldx%lldx%lld, 1 vs 2 threads: %s (%lld elements differ, "
           "max abs diff %.3g)\n", openblas_get_corename(), (long long)n, (long long)n,
           (long long)n, same ? "bitwise identical" : "NOT bitwise identical", (long long)ndiff,
           worst);
    CHECK(same, "sgemm %lld: 1 and 2 threads differ", (long long)n);
done:
    rt_tensor_release(a), rt_tensor_release(b), rt_tensor_release(o1), rt_tensor_release(o2);
}

static void test_threads(void)
{
    sgemm_thread_finding(256);
    sgemm_thread_finding(1024);
    sgemm_thread_finding(600);     /* K above GEMM_Q and not a multiple of 32 on SkylakeX */
    sgemm_thread_finding(333);
    rt_tensor *a = h_rand(RT_F32, 3, SHAPE(3, 200, 150), -1, 1);
    rt_tensor *b = h_rand(RT_F32, 3, SHAPE(3, 150, 170), -1, 1);
    rt_tensor *b2 = h_rand(RT_F64, 2, SHAPE(150, 170), -1, 1), *a2 = NULL;
    rt_to_dtype(a, RT_F64, &a2);
    check_threads("batched sgemm", rt_matmul, a, b);
    check_threads("folded dgemm", rt_matmul, a2, b2);
    rt_tensor *rs[] = { a, b, a2, b2 };
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) rt_tensor_release(rs[i]);
}

/* ---- interrupts and allocation failures ------------------------------------------------- */

static void test_interrupt(void)
{
    rt_tensor *a = h_rand(RT_F64, 3, SHAPE(3, 4, 5), -1, 1);
    rt_tensor *b = h_rand(RT_F64, 3, SHAPE(3, 5, 2), -1, 1);
    rt_tensor *o = (rt_tensor *)&o;
    rt_interrupt_request();
    CHECK_FAILS(rt_matmul(a, b, &o), RT_EINTERRUPT, "interrupted");
    rt_interrupt_clear();
    CHECK(o == (rt_tensor *)&o, "out untouched after interrupt");
    rt_tensor_release(a), rt_tensor_release(b);
}

static rt_status af_run(int which, const rt_tensor *a, const rt_tensor *b)
{
    rt_tensor *o = NULL;
    rt_status st = RT_OK;
    switch (which) {
    case 0: st = rt_matmul(a, b, &o); break;
    case 1: st = rt_outer(a, b, &o); break;
    case 2: st = rt_gemm_(1, 0, 1.0, a, b, 0.0, (rt_tensor *)a); break;    /* aliased: scratch */
    }
    if (st == RT_OK) rt_tensor_release(o);
    return st;
}

/* Fails the 1st, 2nd, ... allocation of each op: RT_ENOMEM every time, and (under ASan) no
** leak, until the op succeeds. */
static void test_alloc_failures(void)
{
    rt_tensor *a = view_t(h_rand(RT_F64, 3, SHAPE(2, 4, 4), -1, 1), 1, 2);
    rt_tensor *big = h_rand(RT_F64, 2, SHAPE(8, 6), -1, 1), *sl1, *sl;
    rt_tensor *m2 = h_rand(RT_F64, 2, SHAPE(4, 4), -1, 1), *v = h_rand(RT_F64, 1, SHAPE(5), -1, 1);
    rt_view_slice(big, 0, 0, 8, 2, &sl1);
    rt_view_slice(sl1, 1, 0, 6, 2, &sl);             /* (4,3), no unit stride: packed */
    struct { int which; rt_tensor *a, *b; } cases[] = { { 0, a, sl }, { 1, v, v }, { 2, m2, m2 } };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int ok = 0, bad = 0;
        for (long n = 1; n < 200 && !ok; n++) {
            rt_debug_fail_alloc_at(n);
            rt_status st = af_run(cases[c].which, cases[c].a, cases[c].b);
            rt_debug_fail_alloc_at(0);
            if (st == RT_OK) ok = 1;
            else if (st != RT_ENOMEM) bad++;
        }
        CHECK(ok && !bad, "alloc failures of case %zu: ok %d, other statuses %d", c, ok, bad);
    }
    rt_tensor_release(a), rt_tensor_release(big), rt_tensor_release(sl1), rt_tensor_release(sl);
    rt_tensor_release(m2), rt_tensor_release(v);
}

int main(void)
{
    rt_dtype dts[2] = { RT_F32, RT_F64 };
    for (int i = 0; i < 2; i++) {
        test_matmul_shapes(dts[i]);
        test_matmul_views(dts[i]);
        test_matmul_empty(dts[i]);
        test_dot_outer_mm(dts[i]);
        test_gemm(dts[i]);
    }
    test_matmul_errors();
    test_interrupt();
    test_alloc_failures();
    test_threads();
    REPORT();
}
