/* test_index.c — indexed ops (index_select/index_add_, gather/scatter_add, embedding, one_hot,
** masks, nonzero) and joins (cat, stack, split, chunk) against naive float64 loops written
** here, on every dtype, along every dim of 3-D tensors, with non-contiguous inputs, empty and
** size-1 dims; plus adjoint identities, finite differences, error messages, allocation
** failures and 1-vs-2-thread determinism. */
#include "harness.h"

static const rt_dtype DTS[3] = { RT_F32, RT_F64, RT_I64 };
static const int64_t SHAPES[2][3] = { { 3, 4, 5 }, { 1, 4, 1 } };

/* ---- helpers --------------------------------------------------------------------------- */
static double atol_of(rt_dtype dt) { return dt == RT_F32 ? 1e-5 : dt == RT_F64 ? 1e-12 : 0.5; }
static double rtol_of(rt_dtype dt) { return dt == RT_F32 ? 1e-5 : dt == RT_F64 ? 1e-12 : 0; }

static int close_to(const rt_tensor *t, const double *ref)
{
    return h_worst(t, ref, atol_of(t->dtype), rtol_of(t->dtype)) <= 1;
}

static int64_t prod(int nd, const int64_t *s)
{
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= s[i];
    return n;
}

static void unravel(int nd, const int64_t *s, int64_t flat, int64_t *idx)
{
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = flat % s[d];
        flat /= s[d];
    }
}

static int64_t ravel(int nd, const int64_t *s, const int64_t *idx)
{
    int64_t f = 0;
    for (int d = 0; d < nd; d++) f = f * s[d] + idx[d];
    return f;
}

/* Layout 0: contiguous.  1: a permuted view of storage laid out with the dims reversed.
** 2: every dim sliced with step 2 from offset 1 out of a larger tensor. */
static rt_tensor *input(rt_dtype dt, int nd, const int64_t *shape, int layout, double lo,
                        double hi)
{
    int64_t big[RT_MAXDIM] = { 0 };
    rt_tensor *b, *v;
    if (layout == 0 || nd == 0) return h_rand(dt, nd, shape, lo, hi);
    if (layout == 1) {
        int perm[RT_MAXDIM];
        for (int i = 0; i < nd; i++) big[i] = shape[nd - 1 - i], perm[i] = nd - 1 - i;
        b = h_rand(dt, nd, big, lo, hi);
        rt_view_permute(b, perm, &v);
        rt_tensor_release(b);
        return v;
    }
    for (int i = 0; i < nd; i++) big[i] = 2 * shape[i] + 1;
    b = h_rand(dt, nd, big, lo, hi);
    for (int i = 0; i < nd; i++) {
        rt_view_slice(b, i, 1, big[i], 2, &v);
        rt_tensor_release(b);
        b = v;
    }
    return b;
}

static rt_tensor *rnd(rt_dtype dt, int nd, const int64_t *shape, int layout)
{
    double r = dt == RT_I64 ? 50 : 1;
    return input(dt, nd, shape, layout, -r, r);
}

static double *values(const rt_tensor *t)
{
    int64_t n = rt_tensor_numel(t);
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    for (int64_t i = 0; i < n; i++) v[i] = h_at(t, i);
    return v;
}

static double dot(const rt_tensor *a, const rt_tensor *b)
{
    double s = 0;
    for (int64_t i = 0; i < rt_tensor_numel(a); i++) s += h_at(a, i) * h_at(b, i);
    return s;
}

static int64_t iat(const rt_tensor *t, const int64_t *idx) { return rt_tensor_get_i64(t, idx); }

static int bitwise_equal(const rt_tensor *a, const rt_tensor *b)
{
    return rt_same_shape(a, b) && a->dtype == b->dtype &&
           memcmp(rt_tensor_data(a), rt_tensor_data(b),
                  (size_t)rt_tensor_numel(a) * rt_dtype_size(a->dtype)) == 0;
}

static void release_all(int n, rt_tensor **t)
{
    for (int i = 0; i < n; i++) rt_tensor_release(t[i]);
}

/* ---- index_select / index_add_ --------------------------------------------------------- */
static void test_index_select(void)
{
    for (int sh = 0; sh < 2; sh++)
        for (int di = 0; di < 3; di++)
            for (int lay = 0; lay < 3; lay++)
                for (int dim = 0; dim < 3; dim++) {
                    const int64_t *xs = SHAPES[sh];
                    rt_dtype dt = DTS[di];
                    rt_tensor *x = rnd(dt, 3, xs, lay), *o = NULL;
                    rt_tensor *ix = input(RT_I64, 1, SHAPE(6), lay, 0, (double)xs[dim]);
                    int64_t S[3] = { xs[0], xs[1], xs[2] }, j[3];
                    S[dim] = 6;
                    CHECK_OK(rt_index_select(x, dim, ix, &o));
                    double *ref = malloc(sizeof(double) * (size_t)prod(3, S));
                    for (int64_t f = 0; f < prod(3, S); f++) {
                        unravel(3, S, f, j);
                        j[dim] = iat(ix, &j[dim]);
                        ref[f] = rt_tensor_get(x, j);
                    }
                    CHECK(o && h_shape_is(o, 3, S) && o->dtype == dt && close_to(o, ref),
                          "index_select sh%d %s layout %d dim %d", sh, rt_dtype_name(dt), lay,
                          dim);
                    free(ref);
                    rt_tensor *ts[3] = { x, ix, o };
                    release_all(3, ts);
                }
}

static void test_index_add(void)
{
    for (int sh = 0; sh < 2; sh++)
        for (int di = 0; di < 3; di++)
            for (int lay = 0; lay < 3; lay++)
                for (int dim = 0; dim < 3; dim++) {
                    const int64_t *xs = SHAPES[sh];
                    rt_dtype dt = DTS[di];
                    int64_t S[3] = { xs[0], xs[1], xs[2] }, j[3];
                    S[dim] = 7;   /* more indices than rows: duplicates accumulate */
                    rt_tensor *x = rnd(dt, 3, xs, lay), *src = rnd(dt, 3, S, (lay + 1) % 3);
                    rt_tensor *ix = input(RT_I64, 1, SHAPE(7), (lay + 2) % 3, 0, (double)xs[dim]);
                    double *ref = values(x);
                    for (int64_t f = 0; f < prod(3, S); f++) {
                        unravel(3, S, f, j);
                        double v = rt_tensor_get(src, j);
                        j[dim] = iat(ix, &j[dim]);
                        ref[ravel(3, xs, j)] += v;
                    }
                    uint32_t ver = x->storage->version;
                    CHECK_OK(rt_index_add_(x, dim, ix, src));
                    CHECK(close_to(x, ref) && x->storage->version != ver,
                          "index_add_ sh%d %s layout %d dim %d", sh, rt_dtype_name(dt), lay, dim);
                    free(ref);
                    rt_tensor *ts[3] = { x, ix, src };
                    release_all(3, ts);
                }
}

/* In-place writes through a sliced view touch only the view's elements; src aliasing x
** reads the values from before the write. */
static void test_index_add_views(void)
{
    rt_tensor *base = h_rand(RT_F64, 2, SHAPE(7, 9), -1, 1), *v, *ix, *src;
    rt_view_slice(base, 1, 1, 9, 2, &v);   /* (7, 4) */
    double *before = values(base);
    src = h_rand(RT_F64, 2, SHAPE(3, 4), -1, 1);
    rt_from_buffer(RT_I64, 1, SHAPE(3), (int64_t[]){ 6, 0, 6 }, &ix);
    CHECK_OK(rt_index_add_(v, 0, ix, src));
    int ok = 1;
    for (int64_t i = 0; i < 63; i++) {
        int64_t r = i / 9, c = i % 9;
        double want = before[i];
        if (c % 2 == 1) {
            int64_t sc[2] = { 0, (c - 1) / 2 };
            for (int k = 0; k < 3; k++) {
                sc[0] = k;
                if ((k == 1 && r == 0) || (k != 1 && r == 6)) want += rt_tensor_get(src, sc);
            }
        }
        ok &= fabs(h_at(base, i) - want) < 1e-12;
    }
    CHECK(ok, "index_add_ on a sliced view");
    free(before);
    /* src is x itself: x[0] += x[2], x[2] += x[2] computed from the old x. */
    rt_tensor *x = h_rand(RT_F64, 2, SHAPE(3, 2), -1, 1), *ix2;
    double *old = values(x);
    rt_from_buffer(RT_I64, 1, SHAPE(3), (int64_t[]){ 2, 1, 0 }, &ix2);
    CHECK_OK(rt_index_add_(x, 0, ix2, x));
    double ref[6] = { old[0] + old[4], old[1] + old[5], old[2] + old[2], old[3] + old[3],
                      old[4] + old[0], old[5] + old[1] };
    CHECK(close_to(x, ref), "index_add_ with src aliasing x");
    free(old);
    /* The index is a view of x itself: indices are read as they were before the write. */
    rt_tensor *xi, *xiv, *s2;
    rt_from_buffer(RT_I64, 1, SHAPE(8), (int64_t[]){ 1, 0, 0, 0, 0, 0, 0, 0 }, &xi);
    rt_view_narrow(xi, 0, 0, 2, &xiv);
    rt_from_buffer(RT_I64, 1, SHAPE(2), (int64_t[]){ 5, 7 }, &s2);
    CHECK_OK(rt_index_add_(xi, 0, xiv, s2));
    CHECK(close_to(xi, (double[]){ 8, 5, 0, 0, 0, 0, 0, 0 }), "index_add_ with index aliasing x");
    rt_tensor_release(xi);
    rt_tensor_release(xiv);
    rt_tensor_release(s2);
    rt_tensor *ts[7] = { base, v, ix, src, x, ix2, NULL };
    release_all(7, ts);
}

/* ---- gather / scatter_add -------------------------------------------------------------- */
static void index_shape(const int64_t *xs, int dim, int64_t along, int64_t *is)
{
    for (int d = 0; d < 3; d++) is[d] = d == dim ? along : (xs[d] > 1 ? xs[d] - 1 : 1);
}

static void test_gather(void)
{
    for (int sh = 0; sh < 2; sh++)
        for (int di = 0; di < 3; di++)
            for (int lay = 0; lay < 3; lay++)
                for (int dim = 0; dim < 3; dim++) {
                    const int64_t *xs = SHAPES[sh];
                    int64_t is[3], j[3];
                    index_shape(xs, dim, 6, is);
                    rt_tensor *x = rnd(DTS[di], 3, xs, lay), *o = NULL;
                    rt_tensor *ix = input(RT_I64, 3, is, (lay + 1) % 3, 0, (double)xs[dim]);
                    CHECK_OK(rt_gather(x, dim, ix, &o));
                    double *ref = malloc(sizeof(double) * (size_t)prod(3, is));
                    for (int64_t f = 0; f < prod(3, is); f++) {
                        unravel(3, is, f, j);
                        j[dim] = iat(ix, j);
                        ref[f] = rt_tensor_get(x, j);
                    }
                    CHECK(o && h_shape_is(o, 3, is) && close_to(o, ref),
                          "gather sh%d %s layout %d dim %d", sh, rt_dtype_name(DTS[di]), lay, dim);
                    free(ref);
                    rt_tensor *ts[3] = { x, ix, o };
                    release_all(3, ts);
                }
}

static void test_scatter_add(void)
{
    for (int sh = 0; sh < 2; sh++)
        for (int di = 0; di < 3; di++)
            for (int lay = 0; lay < 3; lay++)
                for (int dim = 0; dim < 3; dim++) {
                    const int64_t *xs = SHAPES[sh];
                    rt_dtype dt = DTS[di];
                    int64_t is[3], ss[3], j[3];
                    index_shape(xs, dim, 6, is);
                    for (int d = 0; d < 3; d++) ss[d] = is[d] + 1;   /* src may be larger */
                    rt_tensor *x = rnd(dt, 3, xs, lay), *src = rnd(dt, 3, ss, (lay + 2) % 3);
                    rt_tensor *ix = input(RT_I64, 3, is, (lay + 1) % 3, 0, (double)xs[dim]);
                    rt_tensor *o = NULL;
                    double *ref = values(x), *orig = values(x);
                    for (int64_t f = 0; f < prod(3, is); f++) {
                        unravel(3, is, f, j);
                        double v = rt_tensor_get(src, j);
                        j[dim] = iat(ix, j);
                        ref[ravel(3, xs, j)] += v;
                    }
                    CHECK_OK(rt_scatter_add(x, dim, ix, src, &o));
                    CHECK(o && h_shape_is(o, 3, xs) && close_to(o, ref) && close_to(x, orig),
                          "scatter_add sh%d %s layout %d dim %d", sh, rt_dtype_name(dt), lay, dim);
                    CHECK_OK(rt_scatter_add_(x, dim, ix, src));
                    CHECK(close_to(x, ref), "scatter_add_ sh%d %s layout %d dim %d", sh,
                          rt_dtype_name(dt), lay, dim);
                    free(ref);
                    free(orig);
                    rt_tensor *ts[4] = { x, ix, src, o };
                    release_all(4, ts);
                }
}

/* ---- embedding ------------------------------------------------------------------------- */
static void test_embedding(void)
{
    for (int di = 0; di < 3; di++)
        for (int lay = 0; lay < 3; lay++) {
            rt_tensor *w = rnd(DTS[di], 2, SHAPE(7, 5), lay), *o = NULL;
            rt_tensor *ix = input(RT_I64, 2, SHAPE(2, 3), (lay + 1) % 3, 0, 7);
            CHECK_OK(rt_embedding(w, ix, &o));
            double ref[30];
            for (int64_t f = 0; f < 30; f++) {
                int64_t p[2] = { f / 15, (f / 5) % 3 };
                int64_t wi[2] = { iat(ix, p), f % 5 };
                ref[f] = rt_tensor_get(w, wi);
            }
            CHECK(o && h_shape_is(o, 3, SHAPE(2, 3, 5)) && close_to(o, ref),
                  "embedding %s layout %d", rt_dtype_name(DTS[di]), lay);
            rt_tensor *ts[3] = { w, ix, o };
            release_all(3, ts);
        }
    /* 0-d index -> (D,); empty index -> (0, D) */
    rt_tensor *w = h_rand(RT_F64, 2, SHAPE(4, 3), -1, 1), *ix, *o = NULL, *e, *oe = NULL;
    rt_scalar(RT_I64, 2, &ix);
    CHECK_OK(rt_embedding(w, ix, &o));
    double ref[3];
    for (int k = 0; k < 3; k++) ref[k] = h_at(w, 6 + k);
    CHECK(o && h_shape_is(o, 1, SHAPE(3)) && close_to(o, ref), "embedding 0-d index");
    rt_empty(RT_I64, 1, SHAPE(0), &e);
    CHECK_OK(rt_embedding(w, e, &oe));
    CHECK(oe && h_shape_is(oe, 2, SHAPE(0, 3)), "embedding empty index");
    rt_tensor *ts[5] = { w, ix, o, e, oe };
    release_all(5, ts);
}

static void test_embedding_backward(void)
{
    for (int di = 0; di < 3; di++)
        for (int lay = 0; lay < 3; lay++)
            for (int pad = -1; pad <= 2; pad += 3) {
                rt_dtype dt = DTS[di];
                rt_tensor *g = rnd(dt, 3, SHAPE(2, 3, 5), lay), *gw = NULL;
                rt_tensor *ix = input(RT_I64, 2, SHAPE(2, 3), (lay + 2) % 3, 0, 4);
                int64_t p0[2] = { 0, 0 }, p1[2] = { 1, 2 };
                rt_tensor_set(ix, p0, 2);   /* make sure the padding row is hit */
                rt_tensor_set(ix, p1, 2);
                double ref[20] = { 0 };
                for (int64_t f = 0; f < 30; f++) {
                    int64_t p[2] = { f / 15, (f / 5) % 3 }, gi[3] = { p[0], p[1], f % 5 };
                    int64_t v = iat(ix, p);
                    if (v != pad) ref[v * 5 + f % 5] += rt_tensor_get(g, gi);
                }
                CHECK_OK(rt_embedding_backward(g, ix, 4, pad, &gw));
                CHECK(gw && h_shape_is(gw, 2, SHAPE(4, 5)) && gw->dtype == dt && close_to(gw, ref),
                      "embedding_backward %s layout %d padding %d", rt_dtype_name(dt), lay, pad);
                if (gw && pad == 2) {
                    int zero = 1;
                    for (int k = 0; k < 5; k++) zero &= h_at(gw, 10 + k) == 0;
                    CHECK(zero, "padding row gets zero gradient");
                }
                rt_tensor *ts[3] = { g, ix, gw };
                release_all(3, ts);
            }
}

/* ---- one_hot, masks, nonzero ----------------------------------------------------------- */
static void test_one_hot(void)
{
    for (int di = 0; di < 3; di++)
        for (int lay = 0; lay < 3; lay++) {
            rt_tensor *ix = input(RT_I64, 2, SHAPE(2, 3), lay, 0, 4), *o = NULL;
            CHECK_OK(rt_one_hot(ix, 4, DTS[di], &o));
            double ref[24];
            for (int64_t f = 0; f < 24; f++) {
                int64_t p[2] = { f / 12, (f / 4) % 3 };
                ref[f] = iat(ix, p) == f % 4;
            }
            CHECK(o && o->dtype == DTS[di] && h_shape_is(o, 3, SHAPE(2, 3, 4)) && close_to(o, ref),
                  "one_hot %s layout %d", rt_dtype_name(DTS[di]), lay);
            rt_tensor_release(ix);
            rt_tensor_release(o);
        }
    rt_tensor *e, *o = NULL;
    rt_empty(RT_I64, 1, SHAPE(0), &e);
    CHECK_OK(rt_one_hot(e, 0, RT_F32, &o));
    CHECK(o && h_shape_is(o, 2, SHAPE(0, 0)), "one_hot of an empty index");
    rt_tensor_release(e);
    rt_tensor_release(o);
}

/* A mask with exact zeros, and (for floats) a fraction and a NaN, which count as nonzero. */
static rt_tensor *make_mask(rt_dtype dt, int nd, const int64_t *shape)
{
    rt_tensor *m = h_rand(dt, nd, shape, -2, 2);
    int64_t n = rt_tensor_numel(m), idx[RT_MAXDIM];
    for (int64_t i = 0; i < n; i++) {
        unravel(nd, shape, i, idx);
        if (i % 3 == 1) rt_tensor_set(m, idx, 0);
        else if (dt != RT_I64 && i % 7 == 1) rt_tensor_set(m, idx, NAN);
        else if (dt != RT_I64 && i % 5 == 2) rt_tensor_set(m, idx, 0.5);
    }
    return m;
}

/* Value of (broadcast) t at idx of a shape with nd dims. */
static double bcast_get(const rt_tensor *t, int nd, const int64_t *idx)
{
    int64_t j[RT_MAXDIM] = { 0 };
    for (int d = 0; d < t->ndim; d++) {
        int64_t i = idx[nd - t->ndim + d];
        j[d] = t->shape[d] == 1 ? 0 : i;
    }
    return rt_tensor_get(t, j);
}

static void test_masked_fill(void)
{
    static const int64_t mshapes[5][3] = { { 3, 4, 5 }, { 4, 1 }, { 5 }, { 0 }, { 1, 4, 1 } };
    static const int mnd[5] = { 3, 2, 1, 0, 3 };
    for (int di = 0; di < 3; di++)
        for (int mdi = 0; mdi < 3; mdi++)
            for (int lay = 0; lay < 3; lay++)
                for (int ms = 0; ms < 5; ms++) {
                    rt_dtype dt = DTS[di];
                    rt_tensor *x = rnd(dt, 3, SHAPES[0], lay), *o = NULL;
                    rt_tensor *m = make_mask(DTS[mdi], mnd[ms], mshapes[ms]);
                    double value = dt == RT_I64 ? 7 : 2.5, ref[60];
                    int64_t j[3];
                    for (int64_t f = 0; f < 60; f++) {
                        unravel(3, SHAPES[0], f, j);
                        ref[f] = bcast_get(m, 3, j) != 0 ? value : rt_tensor_get(x, j);
                    }
                    CHECK_OK(rt_masked_fill(x, m, value, &o));
                    CHECK(o && h_shape_is(o, 3, SHAPES[0]) && close_to(o, ref),
                          "masked_fill %s mask %s layout %d mask shape %d", rt_dtype_name(dt),
                          rt_dtype_name(DTS[mdi]), lay, ms);
                    rt_tensor *ts[3] = { x, m, o };
                    release_all(3, ts);
                }
}

static void test_masked_select(void)
{
    /* (x shape, mask shape): same, mask broadcast, x broadcast, empty */
    static const int64_t xsh[4][3] = { { 3, 4, 5 }, { 3, 4, 5 }, { 4, 1 }, { 3, 0, 5 } };
    static const int64_t msh[4][3] = { { 3, 4, 5 }, { 4, 1 }, { 3, 4, 5 }, { 5 } };
    static const int xnd[4] = { 3, 3, 2, 3 }, mnd[4] = { 3, 2, 3, 1 };
    for (int di = 0; di < 3; di++)
        for (int lay = 0; lay < 3; lay++)
            for (int c = 0; c < 4; c++) {
                rt_tensor *x = rnd(DTS[di], xnd[c], xsh[c], lay), *o = NULL;
                rt_tensor *m = make_mask(DTS[(di + lay) % 3], mnd[c], msh[c]);
                const int64_t *B = xnd[c] >= mnd[c] && c != 2 ? xsh[c] : msh[c];
                double ref[60];
                int64_t n = 0, j[RT_MAXDIM] = { 0 };
                for (int64_t f = 0; f < prod(3, B); f++) {
                    unravel(3, B, f, j);
                    if (bcast_get(m, 3, j) != 0) ref[n++] = bcast_get(x, 3, j);
                }
                CHECK_OK(rt_masked_select(x, m, &o));
                CHECK(o && o->dtype == DTS[di] && h_shape_is(o, 1, &n) && close_to(o, ref),
                      "masked_select %s layout %d case %d", rt_dtype_name(DTS[di]), lay, c);
                rt_tensor *ts[3] = { x, m, o };
                release_all(3, ts);
            }
}

static void test_nonzero(void)
{
    for (int di = 0; di < 3; di++)
        for (int lay = 0; lay < 3; lay++) {
            rt_tensor *x = rnd(DTS[di], 3, SHAPES[0], lay), *o = NULL;
            int64_t j[3], n = 0;
            double ref[180];
            for (int64_t f = 0; f < 60; f++) {
                unravel(3, SHAPES[0], f, j);
                if (f % 2 == 0 || f % 7 == 0) rt_tensor_set(x, j, 0);
                if (f == 11 && DTS[di] != RT_I64) rt_tensor_set(x, j, NAN);
                if (rt_tensor_get(x, j) != 0)
                    for (int d = 0; d < 3; d++) ref[n * 3 + d] = (double)j[d];
                n += rt_tensor_get(x, j) != 0;
            }
            CHECK_OK(rt_nonzero(x, &o));
            CHECK(o && o->dtype == RT_I64 && h_shape_is(o, 2, SHAPE(n, 3)) && close_to(o, ref),
                  "nonzero %s layout %d", rt_dtype_name(DTS[di]), lay);
            rt_tensor_release(x);
            rt_tensor_release(o);
        }
    rt_tensor *s, *z, *e, *o1 = NULL, *o2 = NULL, *o3 = NULL;
    rt_scalar(RT_F64, 3, &s);
    rt_scalar(RT_F64, 0, &z);
    rt_empty(RT_F32, 2, SHAPE(0, 4), &e);
    CHECK_OK(rt_nonzero(s, &o1));
    CHECK_OK(rt_nonzero(z, &o2));
    CHECK_OK(rt_nonzero(e, &o3));
    CHECK(o1 && h_shape_is(o1, 2, SHAPE(1, 0)) && o2 && h_shape_is(o2, 2, SHAPE(0, 0)) &&
          o3 && h_shape_is(o3, 2, SHAPE(0, 2)), "nonzero of 0-d and empty tensors");
    rt_tensor *ts[6] = { s, z, e, o1, o2, o3 };
    release_all(6, ts);
}

/* ---- cat, stack, split, chunk ---------------------------------------------------------- */
static void test_cat(void)
{
    static const rt_dtype mix[4][3] = { { RT_F32, RT_F32, RT_F32 }, { RT_F64, RT_F64, RT_F64 },
                                        { RT_I64, RT_I64, RT_I64 }, { RT_F32, RT_I64, RT_I64 } };
    static const rt_dtype want[4] = { RT_F32, RT_F64, RT_I64, RT_F32 };
    static const int64_t len[4] = { 2, 3, 0, 1 };   /* the 0 one is kept: it is 3-D */
    for (int mi = 0; mi < 4; mi++)
        for (int lay = 0; lay < 3; lay++)
            for (int dim = 0; dim < 3; dim++) {
                rt_tensor *ts[5], *o = NULL;
                int64_t starts[5] = { 0 }, S[3] = { 3, 4, 5 }, j[3];
                S[dim] = 6;
                for (int k = 0; k < 4; k++) {
                    int64_t s[3] = { 3, 4, 5 };
                    s[dim] = len[k];
                    ts[k] = rnd(mix[mi][k % 3], 3, s, (lay + k) % 3);
                    starts[k + 1] = starts[k] + len[k];
                }
                rt_empty(mix[mi][0], 1, SHAPE(0), &ts[4]);   /* 1-D empty: skipped */
                rt_tensor *list[5] = { ts[0], ts[4], ts[1], ts[2], ts[3] };
                CHECK_OK(rt_cat(5, list, dim, &o));
                double ref[360];
                for (int64_t f = 0; f < prod(3, S); f++) {
                    unravel(3, S, f, j);
                    int k = 0;
                    while (j[dim] >= starts[k + 1]) k++;
                    j[dim] -= starts[k];
                    ref[f] = rt_tensor_get(ts[k], j);
                }
                CHECK(o && o->dtype == want[mi] && h_shape_is(o, 3, S) &&
                      close_to(o, ref), "cat mix %d layout %d dim %d", mi, lay, dim);
                rt_tensor_release(o);
                release_all(5, ts);
            }
    /* all inputs empty 1-D: an empty 1-D result of the promoted dtype */
    rt_tensor *a, *b, *o = NULL;
    rt_empty(RT_I64, 1, SHAPE(0), &a);
    rt_empty(RT_F32, 1, SHAPE(0), &b);
    rt_tensor *ab[2] = { a, b };
    CHECK_OK(rt_cat(2, ab, 0, &o));
    CHECK(o && o->dtype == RT_F32 && h_shape_is(o, 1, SHAPE(0)), "cat of empty 1-D tensors");
    rt_tensor *ts[3] = { a, b, o };
    release_all(3, ts);
}

static void test_stack(void)
{
    static const int dims[4] = { 0, 1, 2, -1 };
    for (int di = 0; di < 3; di++)
        for (int k = 0; k < 4; k++) {
            rt_tensor *ts[3], *o = NULL;
            for (int i = 0; i < 3; i++) ts[i] = rnd(DTS[di], 2, SHAPE(3, 4), i);
            int d = dims[k] < 0 ? 2 : dims[k];
            int64_t S[3], j[3], m[2];
            for (int a = 0, b = 0; a < 3; a++) S[a] = a == d ? 3 : (b++ == 0 ? 3 : 4);
            CHECK_OK(rt_stack(3, ts, dims[k], &o));
            double ref[36];
            for (int64_t f = 0; f < 36; f++) {
                unravel(3, S, f, j);
                for (int a = 0, b = 0; a < 3; a++)
                    if (a != d) m[b++] = j[a];
                ref[f] = rt_tensor_get(ts[j[d]], m);
            }
            CHECK(o && h_shape_is(o, 3, S) && close_to(o, ref), "stack %s dim %d",
                  rt_dtype_name(DTS[di]), dims[k]);
            rt_tensor_release(o);
            release_all(3, ts);
        }
    rt_tensor *s[2], *o = NULL;   /* 0-d tensors stack into a vector */
    rt_scalar(RT_I64, 4, &s[0]);
    rt_scalar(RT_F64, 1.5, &s[1]);
    CHECK_OK(rt_stack(2, s, 0, &o));
    CHECK(o && o->dtype == RT_F64 && h_shape_is(o, 1, SHAPE(2)) && h_at(o, 0) == 4 &&
          h_at(o, 1) == 1.5, "stack of scalars");
    release_all(2, s);
    rt_tensor_release(o);
}

/* Pieces must be views of x with the given sizes along dim and the right first element. */
static int check_pieces(const rt_tensor *x, int dim, int n, rt_tensor **p, int want_n,
                        const int64_t *sizes)
{
    if (n != want_n) return 0;
    int64_t start = 0;
    for (int i = 0; i < n; i++) {
        if (p[i]->storage != x->storage || p[i]->shape[dim] != sizes[i]) return 0;
        for (int d = 0; d < x->ndim; d++)
            if (d != dim && p[i]->shape[d] != x->shape[d]) return 0;
        if (sizes[i] > 0 && rt_tensor_numel(p[i]) > 0) {
            int64_t a[RT_MAXDIM] = { 0 }, b[RT_MAXDIM] = { 0 };
            a[dim] = start;
            b[dim] = sizes[i] - 1;
            int64_t c[RT_MAXDIM] = { 0 };
            c[dim] = start + sizes[i] - 1;
            if (rt_tensor_get(p[i], b) != rt_tensor_get(x, c)) return 0;
            b[dim] = 0;
            if (rt_tensor_get(p[i], b) != rt_tensor_get(x, a)) return 0;
        }
        start += sizes[i];
    }
    return 1;
}

static void test_split_chunk(void)
{
    rt_tensor *x = input(RT_F64, 2, SHAPE(10, 3), 1, -1, 1), **p = NULL;
    int n = 0;
    CHECK_OK(rt_chunk(x, 3, 0, &n, &p));
    CHECK(p && check_pieces(x, 0, n, p, 3, SHAPE(4, 4, 2)), "chunk 10 by 3 -> 4,4,2");
    rt_free_list(n, p);
    rt_tensor *y = rnd(RT_I64, 2, SHAPE(2, 5), 2);
    CHECK_OK(rt_chunk(y, 4, 1, &n, &p));
    CHECK(p && check_pieces(y, 1, n, p, 3, SHAPE(2, 2, 1)), "chunk 5 by 4 -> 2,2,1");
    rt_free_list(n, p);
    CHECK_OK(rt_chunk(y, 4, -1, &n, &p));   /* negative dim */
    CHECK(p && check_pieces(y, 1, n, p, 3, SHAPE(2, 2, 1)), "chunk along dim -1");
    rt_free_list(n, p);
    /* Literal cases from the torch.chunk documentation (PyTorch 2.x):
    ** arange(11).chunk(6) -> sizes 2,2,2,2,2,1; arange(13).chunk(6) -> 3,3,3,3,1. */
    rt_tensor *a11, *a13;
    rt_arange(RT_I64, 0, 10, 1, &a11);
    rt_arange(RT_I64, 0, 12, 1, &a13);
    CHECK_OK(rt_chunk(a11, 6, 0, &n, &p));
    CHECK(p && check_pieces(a11, 0, n, p, 6, SHAPE(2, 2, 2, 2, 2, 1)), "arange(11).chunk(6)");
    rt_free_list(n, p);
    CHECK_OK(rt_chunk(a13, 6, 0, &n, &p));
    CHECK(p && check_pieces(a13, 0, n, p, 5, SHAPE(3, 3, 3, 3, 1)), "arange(13).chunk(6)");
    rt_free_list(n, p);
    rt_tensor_release(a11);
    rt_tensor_release(a13);
    CHECK_OK(rt_chunk(x, 20, 0, &n, &p));
    CHECK(p && check_pieces(x, 0, n, p, 10, SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1, 1)),
          "chunk into more pieces than rows");
    rt_free_list(n, p);
    CHECK_OK(rt_split(x, 4, 0, &n, &p));
    CHECK(p && check_pieces(x, 0, n, p, 3, SHAPE(4, 4, 2)), "split 10 by 4");
    rt_free_list(n, p);
    CHECK_OK(rt_split(x, 2, 1, &n, &p));
    CHECK(p && check_pieces(x, 1, n, p, 2, SHAPE(2, 1)), "split 3 by 2 along dim 1");
    rt_free_list(n, p);
    CHECK_OK(rt_split(x, 30, 0, &n, &p));
    CHECK(p && check_pieces(x, 0, n, p, 1, SHAPE(10)), "split larger than the dim");
    rt_free_list(n, p);
    rt_tensor *e;
    rt_empty(RT_F32, 2, SHAPE(0, 3), &e);
    CHECK_OK(rt_split(e, 2, 0, &n, &p));
    CHECK(p && check_pieces(e, 0, n, p, 1, SHAPE(0)), "split of an empty dim: one piece");
    rt_free_list(n, p);
    CHECK_OK(rt_split(e, 0, 0, &n, &p));
    CHECK(p && check_pieces(e, 0, n, p, 1, SHAPE(0)), "split_size 0 of an empty dim");
    rt_free_list(n, p);
    CHECK_OK(rt_chunk(e, 3, 0, &n, &p));
    CHECK(p && check_pieces(e, 0, n, p, 3, SHAPE(0, 0, 0)), "chunk of an empty dim");
    rt_free_list(n, p);
    rt_tensor *q[3];
    CHECK_OK(rt_split_sizes(x, 0, 3, SHAPE(3, 0, 7), q));
    CHECK(check_pieces(x, 0, 3, q, 3, SHAPE(3, 0, 7)), "split_sizes 3,0,7");
    release_all(3, q);
    rt_tensor_release(x);
    rt_tensor_release(y);
    rt_tensor_release(e);
}

/* ---- empty and size-1 corners ------------------------------------------------------------ */
static void test_empty(void)
{
    rt_tensor *x = h_rand(RT_F32, 3, SHAPE(3, 0, 5), -1, 1), *e, *o = NULL, *o2 = NULL;
    rt_tensor *z = h_rand(RT_F64, 2, SHAPE(4, 3), -1, 1), *o3 = NULL, *o4 = NULL, *ix0;
    rt_from_buffer(RT_I64, 1, SHAPE(2), (int64_t[]){ 2, 0 }, &ix0);
    rt_empty(RT_I64, 1, SHAPE(0), &e);
    CHECK_OK(rt_index_select(x, 0, ix0, &o));   /* a zero-size dim that is not indexed */
    CHECK(o && h_shape_is(o, 3, SHAPE(2, 0, 5)), "index_select keeps an empty dim");
    CHECK_OK(rt_index_select(z, 1, e, &o2));    /* empty index */
    CHECK(o2 && h_shape_is(o2, 2, SHAPE(4, 0)), "index_select with an empty index");
    CHECK_OK(rt_index_add_(z, 1, e, o2));
    rt_tensor *i0, *o5 = NULL;   /* a 0-d index selects one slice and keeps the dim */
    rt_scalar(RT_I64, 2, &i0);
    CHECK_OK(rt_index_select(z, 1, i0, &o5));
    CHECK(o5 && h_shape_is(o5, 2, SHAPE(4, 1)) && h_at(o5, 1) == h_at(z, 5),
          "index_select with a 0-d index");
    rt_tensor_release(i0);
    rt_tensor_release(o5);
    rt_tensor *gi;
    rt_empty(RT_I64, 2, SHAPE(2, 0), &gi);
    CHECK_OK(rt_gather(z, 0, gi, &o3));
    CHECK(o3 && h_shape_is(o3, 2, SHAPE(2, 0)), "gather with an empty index");
    CHECK_OK(rt_scatter_add(z, 0, gi, o3, &o4));
    CHECK(o4 && bitwise_equal(o4, z), "scatter_add with an empty index is a copy");
    rt_tensor *ts[9] = { x, e, o, o2, z, o3, o4, ix0, gi };
    release_all(9, ts);
}

/* ---- adjoints and finite differences (f64) --------------------------------------------- */
static int near(double a, double b) { return fabs(a - b) <= 1e-12 * (1 + fabs(a)); }

static void test_adjoints(void)
{
    for (int dim = 0; dim < 3; dim++) {
        int64_t S[3] = { 3, 4, 5 }, is[3];
        S[dim] = 7;
        rt_tensor *x = rnd(RT_F64, 3, SHAPES[0], 1), *ix, *y = rnd(RT_F64, 3, S, 2), *sel, *z;
        ix = input(RT_I64, 1, SHAPE(7), 0, 0, (double)SHAPES[0][dim]);
        rt_index_select(x, dim, ix, &sel);
        rt_zeros(RT_F64, 3, SHAPES[0], &z);
        rt_index_add_(z, dim, ix, y);
        CHECK(near(dot(sel, y), dot(x, z)), "index_add_ is the adjoint of index_select (dim %d)",
              dim);
        rt_tensor *ts[5] = { ix, y, sel, z, NULL };
        release_all(5, ts);
        index_shape(SHAPES[0], dim, 6, is);
        ix = input(RT_I64, 3, is, 2, 0, (double)SHAPES[0][dim]);
        y = rnd(RT_F64, 3, is, 1);
        rt_gather(x, dim, ix, &sel);
        rt_zeros(RT_F64, 3, SHAPES[0], &z);
        rt_tensor *z2 = NULL;
        rt_scatter_add(z, dim, ix, y, &z2);
        CHECK(z2 && near(dot(sel, y), dot(x, z2)), "scatter_add is the adjoint of gather (dim %d)",
              dim);
        rt_tensor *ts2[6] = { x, ix, y, sel, z, z2 };
        release_all(6, ts2);
    }
    rt_tensor *w = rnd(RT_F64, 2, SHAPE(6, 4), 2), *ix = input(RT_I64, 2, SHAPE(3, 5), 1, 0, 6);
    rt_tensor *g = rnd(RT_F64, 3, SHAPE(3, 5, 4), 1), *e = NULL, *gw = NULL;
    rt_embedding(w, ix, &e);
    rt_embedding_backward(g, ix, 6, -1, &gw);
    CHECK(e && gw && near(dot(e, g), dot(w, gw)), "embedding_backward is the adjoint");
    rt_tensor *ts[5] = { w, ix, g, e, gw };
    release_all(5, ts);
    /* cat's adjoint is split: <cat(a, b), y> = <a, y1> + <b, y2> */
    rt_tensor *a = rnd(RT_F64, 2, SHAPE(3, 2), 1), *b = rnd(RT_F64, 2, SHAPE(3, 5), 2), *c = NULL;
    rt_tensor *yy = rnd(RT_F64, 2, SHAPE(3, 7), 0), *ab[2] = { a, b }, *pieces[2];
    rt_cat(2, ab, 1, &c);
    rt_split_sizes(yy, 1, 2, SHAPE(2, 5), pieces);
    CHECK(c && near(dot(c, yy), dot(a, pieces[0]) + dot(b, pieces[1])), "split is cat's adjoint");
    rt_tensor *ts3[6] = { a, b, c, yy, pieces[0], pieces[1] };
    release_all(6, ts3);
}

/* loss(x) = sum(f(x) * w); the analytic gradient from the backward op vs central differences */
typedef rt_status (*fwd_fn)(const rt_tensor *x, rt_tensor **out);
static rt_tensor *g_ix;
static int g_dim;
static rt_status f_select(const rt_tensor *x, rt_tensor **o)
{
    return rt_index_select(x, g_dim, g_ix, o);
}
static rt_status f_gather(const rt_tensor *x, rt_tensor **o)
{
    return rt_gather(x, g_dim, g_ix, o);
}
static rt_status f_embed(const rt_tensor *x, rt_tensor **o) { return rt_embedding(x, g_ix, o); }

static double loss(fwd_fn f, const rt_tensor *x, const rt_tensor *w)
{
    rt_tensor *o = NULL;
    f(x, &o);
    double l = o ? dot(o, w) : NAN;
    rt_tensor_release(o);
    return l;
}

static void gradcheck(const char *name, fwd_fn f, rt_tensor *x, const rt_tensor *w,
                      const rt_tensor *grad)
{
    int ok = grad != NULL;
    for (int64_t i = 0; ok && i < rt_tensor_numel(x); i++) {
        double *p = (double *)x->storage->data + i, v = *p;
        *p = v + 1e-6;
        double lp = loss(f, x, w);
        *p = v - 1e-6;
        double lm = loss(f, x, w);
        *p = v;
        double num = (lp - lm) / 2e-6, an = h_at(grad, i);
        ok = fabs(an - num) <= 1e-6 + 1e-5 * fabs(num);
    }
    CHECK(ok, "gradcheck %s", name);
}

static void test_gradcheck(void)
{
    int64_t xs[3] = { 2, 3, 4 };
    for (g_dim = 0; g_dim < 3; g_dim++) {
        int64_t S[3] = { 2, 3, 4 }, is[3];
        S[g_dim] = 5;
        rt_tensor *x = h_rand(RT_F64, 3, xs, -1, 1), *w = h_rand(RT_F64, 3, S, -1, 1), *gx;
        g_ix = h_rand(RT_I64, 1, SHAPE(5), 0, (double)xs[g_dim]);
        rt_zeros(RT_F64, 3, xs, &gx);
        rt_index_add_(gx, g_dim, g_ix, w);
        gradcheck("index_select", f_select, x, w, gx);
        rt_tensor_release(w);
        rt_tensor_release(gx);
        rt_tensor_release(g_ix);
        for (int d = 0; d < 3; d++) is[d] = d == g_dim ? 4 : xs[d];
        g_ix = h_rand(RT_I64, 3, is, 0, (double)xs[g_dim]);
        w = h_rand(RT_F64, 3, is, -1, 1);
        rt_tensor *z, *gz = NULL;
        rt_zeros(RT_F64, 3, xs, &z);
        rt_scatter_add(z, g_dim, g_ix, w, &gz);
        gradcheck("gather", f_gather, x, w, gz);
        rt_tensor *ts[5] = { x, w, g_ix, z, gz };
        release_all(5, ts);
    }
    rt_tensor *wt = h_rand(RT_F64, 2, SHAPE(5, 3), -1, 1);
    rt_tensor *w = h_rand(RT_F64, 3, SHAPE(2, 4, 3), -1, 1);
    rt_tensor *gw = NULL;
    g_ix = h_rand(RT_I64, 2, SHAPE(2, 4), 0, 5);
    rt_embedding_backward(w, g_ix, 5, -1, &gw);
    gradcheck("embedding", f_embed, wt, w, gw);
    rt_tensor *ts[4] = { wt, w, gw, g_ix };
    release_all(4, ts);
}

/* ---- errors ------------------------------------------------------------------------------- */
static void test_errors(void)
{
    rt_tensor sentinel, *o = &sentinel, *x = h_rand(RT_F64, 3, SHAPE(3, 5, 4), -1, 1);
    rt_tensor *bad, *fidx, *i2, *ok1, *src, *srcf;
    rt_from_buffer(RT_I64, 1, SHAPE(3), (int64_t[]){ 1, 7, 9 }, &bad);
    rt_from_buffer(RT_I64, 2, SHAPE(1, 1), (int64_t[]){ 0 }, &i2);
    rt_from_buffer(RT_I64, 1, SHAPE(2), (int64_t[]){ 0, 1 }, &ok1);
    fidx = h_rand(RT_F32, 1, SHAPE(2), 0, 1);
    CHECK_FAILS(rt_index_select(x, 1, bad, &o), RT_EINDEX,
                "index_select: index 7 out of range [0, 4] in dimension 2");
    CHECK_FAILS(rt_index_select(x, 1, fidx, &o), RT_EDTYPE, "index must be i64, got f32");
    CHECK_FAILS(rt_index_select(x, 1, i2, &o), RT_ESHAPE, "index must be 1-D");
    CHECK_FAILS(rt_index_select(x, 3, ok1, &o), RT_EARG, "dimension 4 out of range for a 3-d");
    CHECK(rt_last_operand() == 1, "a bad dim blames the dim operand");
    rt_tensor *neg;
    rt_from_buffer(RT_I64, 1, SHAPE(1), (int64_t[]){ -1 }, &neg);
    CHECK_FAILS(rt_index_select(x, 0, neg, &o), RT_EINDEX, "index -1 out of range [0, 2]");
    src = h_rand(RT_F64, 3, SHAPE(3, 3, 4), -1, 1);
    srcf = h_rand(RT_F32, 3, SHAPE(3, 2, 4), -1, 1);
    CHECK_FAILS(rt_index_add_(x, 1, ok1, src), RT_ESHAPE,
                "src has shape [3,3,4], expected [3,2,4]");
    CHECK_FAILS(rt_index_add_(x, 1, ok1, srcf), RT_EDTYPE, "src is f32 but x is f64");
    rt_tensor *ex;
    rt_view_expand(ok1, 2, SHAPE(3, 2), &ex);
    rt_tensor *row = h_rand(RT_I64, 2, SHAPE(3, 1), 0, 1);
    CHECK_FAILS(rt_index_add_(ex, 1, ok1, row), RT_EARG, "expanded view");
    /* gather / scatter shapes and ranges */
    rt_tensor *gi, *gbig, *g2, *gs;
    rt_from_buffer(RT_I64, 3, SHAPE(1, 1, 2), (int64_t[]){ 0, 5 }, &gi);
    rt_zeros(RT_I64, 3, SHAPE(1, 6, 1), &gbig);
    rt_zeros(RT_I64, 2, SHAPE(1, 1), &g2);
    CHECK_FAILS(rt_gather(x, 1, gi, &o), RT_EINDEX,
                "gather: index 5 out of range [0, 4] in dimension 2");
    CHECK_FAILS(rt_gather(x, 2, gbig, &o), RT_ESHAPE,
                "larger than x of shape [3,5,4] in dimension 2");
    CHECK_FAILS(rt_gather(x, 0, g2, &o), RT_ESHAPE, "index has 2 dimensions but x has 3");
    CHECK_FAILS(rt_gather(x, 0, fidx, &o), RT_EDTYPE, "gather: index must be i64");
    gs = h_rand(RT_F64, 3, SHAPE(1, 5, 1), -1, 1);
    CHECK_FAILS(rt_scatter_add(x, 1, gbig, gs, &o), RT_ESHAPE, "larger than src");
    CHECK_FAILS(rt_scatter_add_(x, 1, gbig, srcf), RT_EDTYPE, "src is f32 but x is f64");
    CHECK_FAILS(rt_scatter_add_(x, 2, gi, src), RT_EINDEX,
                "index 5 out of range [0, 3] in dimension 3");
    /* embedding, one_hot */
    CHECK_FAILS(rt_embedding(ok1, ok1, &o), RT_ESHAPE, "weight must be 2-D");
    CHECK_FAILS(rt_embedding(src, ok1, &o), RT_ESHAPE, "weight must be 2-D");
    rt_tensor *w2 = h_rand(RT_F32, 2, SHAPE(5, 2), -1, 1);
    CHECK_FAILS(rt_embedding(w2, bad, &o), RT_EINDEX,
                "index 7 out of range [0, 4] for a weight of 5 rows");
    CHECK_FAILS(rt_embedding(w2, fidx, &o), RT_EDTYPE, "embedding: index must be i64");
    CHECK_FAILS(rt_embedding_backward(w2, ok1, 5, -1, &o), RT_ESHAPE,
                "does not fit index of shape [2]");
    CHECK_FAILS(rt_embedding_backward(src, i2, 3, 3, &o), RT_ESHAPE, "gout of shape [3,3,4]");
    rt_tensor *g12 = h_rand(RT_F32, 2, SHAPE(2, 3), -1, 1);
    CHECK_FAILS(rt_embedding_backward(g12, ok1, 4, 4, &o), RT_EARG,
                "padding_idx 4 out of range [0, 3]");
    rt_tensor *g32 = h_rand(RT_F32, 2, SHAPE(3, 2), -1, 1);
    CHECK_FAILS(rt_embedding_backward(g32, bad, 4, -1, &o), RT_EINDEX,
                "embedding_backward: index 7 out of range [0, 3] for 4 weights");
    CHECK_FAILS(rt_one_hot(bad, 5, RT_F32, &o), RT_EINDEX,
                "one_hot: index 7 out of range [0, 4] for 5 classes");
    CHECK_FAILS(rt_one_hot(bad, -1, RT_F32, &o), RT_EARG, "num_classes -1 is negative");
    CHECK_FAILS(rt_one_hot(fidx, 3, RT_F32, &o), RT_EDTYPE, "one_hot: index must be i64");
    /* masks */
    rt_tensor *m = h_rand(RT_I64, 1, SHAPE(3), 0, 2), *xi = h_rand(RT_I64, 1, SHAPE(4), 0, 9);
    CHECK_FAILS(rt_masked_fill(x, m, 1, &o), RT_ESHAPE,
                "mask of shape [3] cannot be broadcast to x of shape [3,5,4]");
    CHECK_FAILS(rt_masked_fill(xi, ok1, NAN, &o), RT_EARG, "does not fit an i64");
    CHECK_FAILS(rt_masked_select(x, m, &o), RT_ESHAPE, "cannot be broadcast");
    /* cat / stack / split */
    rt_tensor *c1 = h_rand(RT_F32, 2, SHAPE(2, 4), 0, 1);
    rt_tensor *c2 = h_rand(RT_F32, 2, SHAPE(2, 5), 0, 1);
    rt_tensor *cl[3] = { c1, c1, c2 }, *sl[2] = { c1, x }, *sc, *nl[2] = { c1, NULL };
    CHECK_FAILS(rt_cat(3, cl, 0, &o), RT_ESHAPE,
                "cat: tensor 3 has shape [2,5] but tensor 1 has [2,4]: "
                "sizes differ in dimension 2");
    CHECK(rt_last_operand() == 2, "cat blames the mismatching tensor");
    CHECK_FAILS(rt_cat(2, sl, 0, &o), RT_ESHAPE, "tensor 2 has 3 dimensions but tensor 1 has 2");
    CHECK_FAILS(rt_cat(2, cl, 2, &o), RT_EARG, "dimension 3 out of range");
    CHECK_FAILS(rt_cat(0, cl, 0, &o), RT_EARG, "at least one tensor");
    CHECK_FAILS(rt_cat(2, nl, 0, &o), RT_EARG, "tensor 2 is missing");
    rt_scalar(RT_F32, 1, &sc);
    rt_tensor *scl[2] = { sc, sc };
    CHECK_FAILS(rt_cat(2, scl, 0, &o), RT_EARG, "tensor 1 is 0-d");
    CHECK_FAILS(rt_stack(3, cl, 0, &o), RT_ESHAPE,
                "stack: tensor 3 has shape [2,5] but tensor 1 has [2,4]");
    CHECK_FAILS(rt_stack(2, cl, 3, &o), RT_EARG, "stack: position 4 out of range");
    rt_tensor **p = (rt_tensor **)&sentinel, *q[2] = { &sentinel, &sentinel };
    int n = -5;
    CHECK_FAILS(rt_split(c1, 0, 1, &n, &p), RT_EARG, "split_size must be positive, got 0");
    CHECK_FAILS(rt_split(c1, -2, 1, &n, &p), RT_EARG, "split_size must be positive");
    CHECK_FAILS(rt_split(c1, 2, 2, &n, &p), RT_EARG, "dimension 3 out of range");
    CHECK_FAILS(rt_split(sc, 1, 0, &n, &p), RT_EARG, "for a 0-d tensor");
    CHECK_FAILS(rt_chunk(c1, 0, 1, &n, &p), RT_EARG, "number of chunks must be positive, got 0");
    CHECK_FAILS(rt_split_sizes(c1, 1, 2, SHAPE(1, 2), q), RT_ESHAPE,
                "sizes sum to 3 but dimension 2 has size 4");
    CHECK_FAILS(rt_split_sizes(c1, 1, 2, SHAPE(5, -1), q), RT_EARG,
                "size -1 of piece 2 is negative");
    CHECK(o == &sentinel && p == (rt_tensor **)&sentinel && n == -5 && q[0] == &sentinel,
          "failed calls leave their outputs untouched");
    rt_tensor *ts[22] = { x, bad, fidx, i2, ok1, neg, src, srcf, ex, row, gi, gbig, g2, gs, w2,
                          g12, m, xi, c1, c2, sc, g32 };
    release_all(22, ts);
}

/* ---- allocation failures: every failing allocation gives RT_ENOMEM and leaks nothing ---- */
static int run_op(int which, rt_tensor *const *in)
{
    rt_tensor *o = NULL, **p = NULL, *q[2] = { NULL, NULL };
    int n = 0;
    rt_status st = RT_EINTERNAL;
    switch (which) {
    case 0: st = rt_cat(3, in, 1, &o); break;
    case 1: st = rt_stack(2, in, 0, &o); break;
    case 2: st = rt_split(in[0], 1, 1, &n, &p); break;
    case 3: st = rt_chunk(in[0], 2, 0, &n, &p); break;
    case 4: st = rt_index_select(in[0], 1, in[3], &o); break;
    case 5: st = rt_scatter_add(in[0], 1, in[4], in[1], &o); break;
    case 6: st = rt_embedding_backward(in[0], in[5], 4, 1, &o); break;
    case 7: st = rt_masked_select(in[0], in[1], &o); break;
    case 8: st = rt_nonzero(in[0], &o); break;
    case 9: st = rt_masked_fill(in[0], in[1], 3, &o); break;
    case 10: st = rt_one_hot(in[5], 4, RT_F64, &o); break;
    case 11: st = rt_split_sizes(in[0], 1, 2, SHAPE(1, 2), q); break;
    case 12: st = rt_index_add_(in[6], 1, in[3], in[2]); break;
    case 13: st = rt_embedding(in[7], in[5], &o); break;
    case 14: st = rt_gather(in[0], 1, in[4], &o); break;
    }
    rt_tensor_release(o);
    rt_free_list(n, p);
    release_all(2, q);
    return st == RT_OK ? 1 : st == RT_ENOMEM ? 0 : -1;
}

static void test_alloc_failures(void)
{
    rt_tensor *in[8];
    in[0] = input(RT_F64, 2, SHAPE(2, 3), 1, -1, 1);           /* non-contiguous: forces copies */
    in[1] = h_rand(RT_F32, 2, SHAPE(2, 3), -1, 1);
    in[2] = h_rand(RT_F64, 2, SHAPE(2, 2), -1, 1);
    in[3] = input(RT_I64, 1, SHAPE(2), 2, 0, 3);
    in[4] = h_rand(RT_I64, 2, SHAPE(2, 3), 0, 3);
    in[5] = input(RT_I64, 1, SHAPE(2), 2, 0, 4);
    in[6] = h_rand(RT_F64, 2, SHAPE(2, 3), -1, 1);
    in[7] = input(RT_F32, 2, SHAPE(4, 3), 1, -1, 1);
    rt_tensor_release(in[1]);
    in[1] = input(RT_F64, 2, SHAPE(2, 3), 2, -1, 1);
    for (int which = 0; which < 15; which++) {
        int k, r = 0, bad = 0;
        for (k = 1; k < 100; k++) {
            rt_debug_fail_alloc_at(k);
            r = run_op(which, in);
            if (r != 0) break;
        }
        rt_debug_fail_alloc_at(0);
        bad = r != 1;
        CHECK(!bad, "op %d: allocation failures give RT_ENOMEM, then it succeeds (k=%d r=%d)",
              which, k, r);
    }
    release_all(8, in);
}

/* ---- determinism: 1 vs 2 threads, sizes that make many chunks --------------------------- */
static void compute_all(rt_tensor **in, rt_tensor **out)
{
    rt_tensor *r = NULL, **p = NULL;
    int n = 0;
    CHECK_OK(rt_scatter_add(in[0], 1, in[1], in[2], &out[0]));       /* many outer slices */
    CHECK_OK(rt_scatter_add(in[3], 0, in[4], in[5], &out[1]));       /* one slice: columns */
    CHECK_OK(rt_clone(in[6], &out[2]));
    CHECK_OK(rt_index_add_(out[2], 0, in[7], in[8]));                  /* 4 row chunks */
    CHECK_OK(rt_embedding_backward(in[9], in[13], 2000, 3, &out[3]));   /* 7 row chunks */
    CHECK_OK(rt_gather(in[3], 1, in[11], &out[4]));
    CHECK_OK(rt_index_select(in[3], 1, in[7], &out[5]));
    CHECK_OK(rt_embedding(in[6], in[10], &out[6]));
    rt_tensor *cl[3] = { in[3], in[5], in[3] };
    CHECK_OK(rt_cat(3, cl, 0, &out[7]));
    CHECK_OK(rt_nonzero(in[12], &out[8]));
    CHECK_OK(rt_masked_select(in[3], in[12], &out[9]));
    CHECK_OK(rt_masked_fill(in[3], in[12], -2, &out[10]));
    CHECK_OK(rt_one_hot(in[10], 30, RT_F32, &out[11]));
    CHECK_OK(rt_split(in[3], 7, 1, &n, &p));
    CHECK_OK(rt_stack(n - 1, p, 1, &r));
    out[12] = r;
    rt_free_list(n, p);
}

static void test_determinism(void)
{
    enum { NI = 14, NO = 13 };
    rt_tensor *in[NI], *out[2][NO];
    in[0] = h_rand(RT_F32, 3, SHAPE(64, 50, 40), -1, 1);
    in[1] = h_rand(RT_I64, 3, SHAPE(64, 200, 40), 0, 50);
    in[2] = h_rand(RT_F32, 3, SHAPE(64, 200, 40), -1, 1);
    in[3] = h_rand(RT_F32, 2, SHAPE(300, 2000), -1, 1);
    in[4] = h_rand(RT_I64, 2, SHAPE(400, 2000), 0, 300);
    in[5] = h_rand(RT_F32, 2, SHAPE(400, 2000), -1, 1);
    in[6] = h_rand(RT_F32, 2, SHAPE(100, 1000), -1, 1);
    in[7] = h_rand(RT_I64, 1, SHAPE(500), 0, 100);
    in[8] = h_rand(RT_F32, 2, SHAPE(500, 1000), -1, 1);
    in[9] = h_rand(RT_F32, 3, SHAPE(40, 50, 100), -1, 1);
    in[10] = h_rand(RT_I64, 2, SHAPE(40, 50), 0, 30);
    in[11] = h_rand(RT_I64, 2, SHAPE(300, 700), 0, 2000);
    in[12] = h_rand(RT_I64, 2, SHAPE(300, 2000), 0, 2);
    in[13] = h_rand(RT_I64, 2, SHAPE(40, 50), 0, 2000);
    for (int t = 0; t < 2; t++) {
        rt_set_num_threads(t + 1);
        compute_all(in, out[t]);
    }
    rt_set_num_threads(2);
    for (int k = 0; k < NO; k++)
        CHECK(out[0][k] && out[1][k] && bitwise_equal(out[0][k], out[1][k]),
              "result %d bitwise equal with 1 and 2 threads", k);
    /* and correct where the chunking is special: against naive sums */
    double *ref = values(in[0]);
    for (int64_t f = 0; f < 64 * 200 * 40; f++) {
        int64_t j[3], p[3];
        unravel(3, SHAPE(64, 200, 40), f, j);
        memcpy(p, j, sizeof p);
        p[1] = iat(in[1], j);
        ref[ravel(3, SHAPE(64, 50, 40), p)] += h_at(in[2], f);
    }
    CHECK(h_worst(out[0][0], ref, 1e-4, 1e-4) <= 1, "row-parallel scatter_add is right");
    free(ref);
    ref = values(in[3]);
    for (int64_t f = 0; f < 400 * 2000; f++) {
        int64_t i = f / 2000, c = f % 2000, p[2] = { i, c };
        ref[iat(in[4], p) * 2000 + c] += h_at(in[5], f);
    }
    CHECK(h_worst(out[0][1], ref, 1e-4, 1e-4) <= 1, "one-slice scatter_add is right");
    free(ref);
    ref = values(in[6]);
    for (int64_t f = 0; f < 500 * 1000; f++)
        ref[iat(in[7], (int64_t[]){ f / 1000 }) * 1000 + f % 1000] += h_at(in[8], f);
    CHECK(h_worst(out[0][2], ref, 1e-4, 1e-4) <= 1, "row-chunked index_add_ is right");
    free(ref);
    ref = calloc(2000 * 100, sizeof *ref);
    for (int64_t f = 0; f < 2000 * 100; f++) {
        int64_t v = iat(in[13], (int64_t[]){ f / 5000, (f / 100) % 50 });
        if (v != 3) ref[v * 100 + f % 100] += h_at(in[9], f);
    }
    CHECK(h_worst(out[0][3], ref, 1e-4, 1e-4) <= 1, "row-chunked embedding_backward is right");
    free(ref);
    release_all(NI, in);
    release_all(NO, out[0]);
    release_all(NO, out[1]);
}

int main(void)
{
    test_index_select();
    test_index_add();
    test_index_add_views();
    test_gather();
    test_scatter_add();
    test_embedding();
    test_embedding_backward();
    test_one_hot();
    test_masked_fill();
    test_masked_select();
    test_nonzero();
    test_cat();
    test_stack();
    test_split_chunk();
    test_empty();
    test_adjoints();
    test_gradcheck();
    test_errors();
    test_alloc_failures();
    test_determinism();
    REPORT();
}
