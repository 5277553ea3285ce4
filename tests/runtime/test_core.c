/* test_core.c — storage, views, copies, the strided iterator, the pool, errors and
** allocation-failure paths of the runtime core.  References are computed here from the
** view definitions (index arithmetic), never by the code under test. */
#include <stdatomic.h>
#include "harness.h"
#include "internal.h"

/* t[i] for a 2-D row-major base of width w, as a double. */
static double base2(const rt_tensor *b, int64_t i, int64_t j)
{
    return rt_tensor_get(b, (int64_t[]){i, j});
}

static rt_tensor *arange_f64(int64_t n)
{
    rt_tensor *t = NULL;
    CHECK_OK(rt_arange(RT_F64, 0, (double)(n - 1), 1, &t));
    return t;
}

static void test_views(void)
{
    rt_tensor *a = arange_f64(24), *v = NULL, *w = NULL, *u = NULL;
    CHECK_OK(rt_view_reshape(a, 3, SHAPE(2, 3, 4), &v));
    CHECK(v && v->storage == a->storage && rt_tensor_is_contiguous(v), "reshape is a view");
    CHECK(rt_tensor_get(v, SHAPE(1, 2, 3)) == 23, "reshape value");
    /* transpose: element (i,j,k) of t is v(k,j,i) */
    CHECK_OK(rt_view_transpose(v, 0, 2, &w));
    CHECK(h_shape_is(w, 3, SHAPE(4, 3, 2)) && !rt_tensor_is_contiguous(w), "transpose shape");
    CHECK(rt_tensor_get(w, SHAPE(3, 1, 0)) == 0 * 12 + 1 * 4 + 3, "transpose value");
    /* a view of a transposed tensor cannot be flattened without a copy */
    CHECK_FAILS(rt_view_reshape(w, 1, SHAPE(24), &u), RT_ESHAPE, "cannot be viewed as [24]");
    CHECK_OK(rt_reshape(w, 1, SHAPE(-1), &u));
    CHECK(u && u->storage != a->storage, "reshape of a transposed tensor copies");
    int ok = 1;
    for (int64_t i = 0; i < 24; i++) {
        int64_t k = i / 6, j = (i / 2) % 3, l = i % 2;
        ok &= h_at(u, i) == (double)(l * 12 + j * 4 + k);
    }
    CHECK(ok, "reshape copy order is row-major over the transposed view");
    rt_tensor_release(u);
    /* splitting a dim of a transposed tensor is still a view */
    CHECK_OK(rt_view_reshape(w, 4, SHAPE(2, 2, 3, 2), &u));
    CHECK(u && u->storage == a->storage && rt_tensor_get(u, SHAPE(1, 0, 2, 1)) == 12 + 8 + 2,
          "split dim of transposed view");
    rt_tensor_release(u);
    rt_tensor_release(w);

    int perm[3] = {2, 0, 1};
    CHECK_OK(rt_view_permute(v, perm, &w));
    CHECK(h_shape_is(w, 3, SHAPE(4, 2, 3)) && rt_tensor_get(w, SHAPE(3, 1, 2)) == 12 + 8 + 3,
          "permute");
    rt_tensor_release(w);
    int bad[3] = {0, 0, 1};
    CHECK_FAILS(rt_view_permute(v, bad, &w), RT_EARG, "appears twice");

    CHECK_OK(rt_view_narrow(v, 2, 1, 2, &w));
    CHECK(h_shape_is(w, 3, SHAPE(2, 3, 2)) && rt_tensor_get(w, SHAPE(1, 1, 1)) == 12 + 4 + 2,
          "narrow");
    rt_tensor_release(w);
    CHECK_FAILS(rt_view_narrow(v, 2, 3, 2, &w), RT_EINDEX, "does not fit in dimension 3");

    CHECK_OK(rt_view_select(v, 1, 2, &w));
    CHECK(h_shape_is(w, 2, SHAPE(2, 4)) && rt_tensor_get(w, SHAPE(1, 3)) == 12 + 8 + 3, "select");
    rt_tensor_release(w);
    CHECK_FAILS(rt_view_select(v, 1, 3, &w), RT_EINDEX, "index 3 out of range");
    CHECK_FAILS(rt_view_select(v, 3, 0, &w), RT_EARG, "dimension 3 out of range");

    CHECK_OK(rt_view_slice(a, 0, 1, 24, 5, &w));   /* 1, 6, 11, 16, 21 */
    CHECK(h_shape_is(w, 1, SHAPE(5)) && h_at(w, 4) == 21 && h_at(w, 0) == 1, "slice with step");
    rt_tensor_release(w);
    CHECK_FAILS(rt_view_slice(a, 0, 0, 25, 1, &w), RT_EINDEX, "does not fit");
    CHECK_FAILS(rt_view_slice(a, 0, 0, 4, 0, &w), RT_EARG, "step must be positive");

    CHECK_OK(rt_view_unsqueeze(v, 1, &w));
    CHECK(h_shape_is(w, 4, SHAPE(2, 1, 3, 4)) && rt_tensor_is_contiguous(w), "unsqueeze");
    CHECK_OK(rt_view_squeeze(w, -1, &u));
    CHECK(h_shape_is(u, 3, SHAPE(2, 3, 4)), "squeeze all");
    rt_tensor_release(u);
    CHECK_OK(rt_view_squeeze(w, 0, &u));   /* size 2: no change */
    CHECK(h_shape_is(u, 4, SHAPE(2, 1, 3, 4)), "squeeze of a non-1 dim is a no-op");
    rt_tensor_release(u);
    rt_tensor_release(w);
    CHECK_OK(rt_view_unsqueeze(v, 3, &w));
    CHECK(h_shape_is(w, 4, SHAPE(2, 3, 4, 1)), "unsqueeze at end");
    rt_tensor_release(w);
    CHECK_FAILS(rt_view_unsqueeze(v, 5, &w), RT_EARG, "position 5 out of range");

    CHECK_OK(rt_flatten(v, 1, 2, &w));
    CHECK(h_shape_is(w, 2, SHAPE(2, 12)) && w->storage == a->storage, "flatten view");
    rt_tensor_release(w);
    CHECK_FAILS(rt_flatten(v, 2, 1, &w), RT_EARG, "is after end dimension");
    CHECK_FAILS(rt_reshape(v, 2, SHAPE(5, -1), &w), RT_ESHAPE, "cannot reshape [2,3,4]");
    CHECK_FAILS(rt_reshape(v, 2, SHAPE(5, 5), &w), RT_ESHAPE, "(25 elements)");
    CHECK_FAILS(rt_reshape(v, 2, SHAPE(-1, -1), &w), RT_EARG, "invalid size -1");
    rt_tensor_release(v);
    rt_tensor_release(a);
}

static void test_expand_and_broadcast(void)
{
    rt_tensor *a = arange_f64(3), *c = NULL, *e = NULL;
    CHECK_OK(rt_view_reshape(a, 2, SHAPE(3, 1), &c));
    CHECK_OK(rt_view_expand(c, 3, SHAPE(2, 3, 4), &e));
    CHECK(e && e->strides[0] == 0 && e->strides[2] == 0 && rt_tensor_get(e, SHAPE(1, 2, 3)) == 2,
          "expand strides and value");
    rt_tensor_release(e);
    CHECK_FAILS(rt_view_expand(c, 2, SHAPE(4, 4), &e), RT_ESHAPE, "cannot expand [3,1] to [4,4]");
    CHECK_FAILS(rt_view_expand(c, 1, SHAPE(3), &e), RT_ESHAPE, "fewer dimensions");
    int n;
    int64_t s[RT_MAXDIM];
    CHECK_OK(rti_broadcast_shape("add", 2, SHAPE(3, 1), 3, SHAPE(2, 1, 4), &n, s));
    CHECK(n == 3 && s[0] == 2 && s[1] == 3 && s[2] == 4, "broadcast shape");
    CHECK_FAILS(rti_broadcast_shape("add", 2, SHAPE(2, 3), 2, SHAPE(4, 3), &n, s), RT_ESHAPE,
                "add: shapes [2,3] and [4,3] cannot be broadcast");
    rt_tensor_release(c);
    rt_tensor_release(a);
}

static void test_copies(void)
{
    int64_t shape[3] = {3, 5, 7};
    rt_tensor *x = h_rand(RT_F64, 3, shape, -2, 2), *t = NULL, *c = NULL, *f = NULL;
    int perm[3] = {2, 0, 1};
    CHECK_OK(rt_view_permute(x, perm, &t));
    CHECK_OK(rt_contiguous(t, &c));
    CHECK(c && rt_tensor_is_contiguous(c) && c->storage != x->storage, "contiguous copies");
    int ok = 1;
    for (int64_t k = 0; k < 7; k++)
        for (int64_t i = 0; i < 3; i++)
            for (int64_t j = 0; j < 5; j++)
                ok &= rt_tensor_get(c, SHAPE(k, i, j)) == rt_tensor_get(x, SHAPE(i, j, k));
    CHECK(ok, "contiguous of permuted view");
    rt_tensor_release(c);
    CHECK_OK(rt_contiguous(x, &c));
    CHECK(c && c->storage == x->storage, "contiguous of contiguous is a view");
    rt_tensor_release(c);
    /* dtype conversions, through a strided view */
    CHECK_OK(rt_to_dtype(t, RT_F32, &f));
    double worst = 0;
    for (int64_t i = 0; i < 105; i++) {
        double d = fabs(h_at(f, i) - (double)(float)h_at(t, i));
        worst = d > worst ? d : worst;
    }
    CHECK(f && f->dtype == RT_F32 && worst == 0, "to f32 rounds each element");
    rt_tensor_release(f);
    CHECK_OK(rt_to_dtype(t, RT_I64, &f));
    ok = 1;
    for (int64_t i = 0; i < 105; i++) ok &= h_at(f, i) == trunc(h_at(t, i));
    CHECK(ok, "to i64 truncates toward zero");
    rt_tensor_release(f);
    rt_tensor_release(t);

    /* copy_ with broadcasting into a strided destination */
    rt_tensor *dst = NULL, *dv = NULL, *row = NULL;
    CHECK_OK(rt_zeros(RT_F32, 2, SHAPE(4, 6), &dst));
    CHECK_OK(rt_view_slice(dst, 1, 0, 6, 2, &dv));   /* columns 0,2,4 */
    row = arange_f64(3);
    uint32_t v0 = dst->storage->version;
    CHECK_OK(rt_copy_(dv, row));
    ok = dst->storage->version != v0;
    for (int64_t i = 0; i < 4; i++)
        for (int64_t j = 0; j < 6; j++)
            ok &= base2(dst, i, j) == (j % 2 ? 0 : j / 2);
    CHECK(ok, "copy_ broadcast into strided view, version bumped");
    CHECK_FAILS(rt_copy_(dv, x), RT_ESHAPE, "cannot be broadcast to [4,3]");
    rt_tensor_release(dv);
    /* overlapping copy: x := x^T on a square matrix */
    rt_tensor *sq = NULL, *sqt = NULL;
    CHECK_OK(rt_view_reshape(row, 2, SHAPE(1, 3), &dv));
    rt_tensor_release(dv);
    sq = h_rand(RT_F64, 2, SHAPE(5, 5), 0, 1);
    rt_tensor *orig = NULL;
    CHECK_OK(rt_clone(sq, &orig));
    CHECK_OK(rt_view_transpose(sq, 0, 1, &sqt));
    CHECK_OK(rt_copy_(sq, sqt));
    ok = 1;
    for (int64_t i = 0; i < 5; i++)
        for (int64_t j = 0; j < 5; j++) ok &= base2(sq, i, j) == base2(orig, j, i);
    CHECK(ok, "copy_ from an overlapping transposed view");
    /* writing into an expanded view is refused */
    rt_tensor *ex = NULL;
    CHECK_OK(rt_view_expand(row, 2, SHAPE(4, 3), &ex));
    CHECK_FAILS(rt_fill_(ex, 1), RT_EARG, "expanded view");
    CHECK_FAILS(rt_copy_(ex, sq), RT_EARG, "expanded view");
    double item;
    CHECK_FAILS(rt_tensor_item(sq, &item), RT_ESHAPE, "has 25 elements, expected 1");
    rt_tensor *one = NULL;
    CHECK_OK(rt_view_select(row, 0, 2, &one));
    CHECK_OK(rt_tensor_item(one, &item));
    CHECK(item == 2, "item of a 0-d view");
    rt_tensor_release(one);
    rt_tensor_release(ex);
    rt_tensor_release(sq);
    rt_tensor_release(sqt);
    rt_tensor_release(orig);
    rt_tensor_release(row);
    rt_tensor_release(dst);
    rt_tensor_release(x);
}

/* ---- pool ------------------------------------------------------------------------ */
typedef struct {
    const double *x;
    double *partial;
    int64_t fail_chunk;
    atomic_int calls;
} sum_ctx;

static rt_status sum_chunk(void *c, int64_t chunk, int64_t b, int64_t e)
{
    sum_ctx *s = c;
    atomic_fetch_add(&s->calls, 1);
    if (chunk == s->fail_chunk) return rt_fail(RT_EARG, 2, "chunk %lld failed", (long long)chunk);
    double acc = 0;
    for (int64_t i = b; i < e; i++) acc += s->x[i];
    s->partial[chunk] = acc;
    return RT_OK;
}

static double pooled_sum(const double *x, int64_t n, int64_t grain)
{
    int64_t nc = rt_num_chunks(n, grain);
    double *partial = calloc((size_t)nc, sizeof *partial), total = 0;
    sum_ctx c = { x, partial, -1, 0 };
    CHECK_OK(rt_parallel_for(n, grain, sum_chunk, &c));
    CHECK(atomic_load(&c.calls) == nc, "every chunk runs once (%d of %lld)",
          atomic_load(&c.calls), (long long)nc);
    for (int64_t i = 0; i < nc; i++) total += partial[i];
    free(partial);
    return total;
}

static void test_pool(void)
{
    int64_t n = 1000003;
    double *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) x[i] = h_range(-1, 1) * 1e3;
    CHECK_OK(rt_set_num_threads(1));
    double s1 = pooled_sum(x, n, 4096);
    CHECK_OK(rt_set_num_threads(2));
    double s2 = pooled_sum(x, n, 4096);
    CHECK_OK(rt_set_num_threads(4));   /* more threads than cores is allowed */
    double s4 = pooled_sum(x, n, 4096);
    CHECK(memcmp(&s1, &s2, sizeof s1) == 0 && memcmp(&s1, &s4, sizeof s1) == 0,
          "chunked sum bitwise equal for 1, 2, 4 threads");
    CHECK(rt_get_num_threads() == 4, "get_num_threads");
    CHECK_FAILS(rt_set_num_threads(0), RT_EARG, "0 threads requested");

    /* a failing chunk: the lowest failing chunk's status and message come back */
    double *partial = calloc(300, sizeof *partial);
    sum_ctx c = { x, partial, 7, 0 };
    CHECK_FAILS(rt_parallel_for(300 * 100, 100, sum_chunk, &c), RT_EARG, "chunk 7 failed");
    CHECK(rt_last_operand() == 2, "operand index travels from the worker");
    /* interrupt: every job refuses to start chunks while the flag is set */
    rt_interrupt_request();
    c.fail_chunk = -1;
    CHECK_FAILS(rt_parallel_for(300 * 100, 100, sum_chunk, &c), RT_EINTERRUPT, "interrupted");
    CHECK_OK(rt_set_num_threads(1));
    CHECK_FAILS(rt_parallel_for(300 * 100, 100, sum_chunk, &c), RT_EINTERRUPT, "interrupted");
    rt_interrupt_clear();
    CHECK_OK(rt_parallel_for(300 * 100, 100, sum_chunk, &c));
    CHECK_OK(rt_parallel_for(0, 100, sum_chunk, &c));
    CHECK_OK(rt_set_num_threads(2));
    free(partial);
    free(x);
}

/* Copies through many permutations and slices exercise the iterator's coalescing. */
static void test_iter_layouts(void)
{
    int64_t shape[4] = {3, 1, 4, 5};
    rt_tensor *x = h_rand(RT_F32, 4, shape, -1, 1);
    int perms[4][4] = {{0, 1, 2, 3}, {3, 2, 1, 0}, {1, 3, 0, 2}, {2, 0, 3, 1}};
    int ok = 1;
    for (int p = 0; p < 4; p++) {
        rt_tensor *v = NULL, *s = NULL, *c = NULL;
        CHECK_OK(rt_view_permute(x, perms[p], &v));
        CHECK_OK(rt_view_slice(v, 3, 1, v->shape[3], 2, &s));
        CHECK_OK(rt_to_dtype(s, RT_F64, &c));
        if (!c) continue;
        int64_t n = rt_tensor_numel(s);
        for (int64_t i = 0; i < n; i++) ok &= h_at(c, i) == h_at(s, i);
        rt_tensor_release(c);
        rt_tensor_release(s);
        rt_tensor_release(v);
    }
    CHECK(ok, "strided copies over permuted, sliced views");
    rt_tensor *z = NULL, *zc = NULL;
    CHECK_OK(rt_zeros(RT_F64, 3, SHAPE(2, 0, 3), &z));
    CHECK_OK(rt_clone(z, &zc));
    CHECK(zc && rt_tensor_numel(zc) == 0, "empty tensors copy");
    rt_tensor_release(zc);
    rt_tensor_release(z);
    rt_tensor_release(x);
}

static void test_creation_errors_and_alloc(void)
{
    rt_tensor *t = NULL;
    CHECK_FAILS(rt_zeros(RT_F32, 2, SHAPE(2, -1), &t), RT_EARG, "size -1 of dimension 2");
    CHECK_FAILS(rt_zeros(RT_F32, 9, SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1), &t), RT_EARG, "at most 8");
    CHECK_FAILS(rt_zeros(RT_F64, 3, SHAPE(1 << 30, 1 << 30, 1 << 30), &t), RT_ENOMEM,
                "too large");
    CHECK(t == NULL, "out untouched on failure");
    /* fail the k-th allocation for k = 1..4 in a path that allocates several times: every
    ** failure must be reported and leak nothing (ASan's leak check proves the latter) */
    rt_tensor *x = h_rand(RT_F64, 2, SHAPE(6, 4), 0, 1), *xt = NULL;
    CHECK_OK(rt_view_transpose(x, 0, 1, &xt));
    int failures = 0;
    for (long k = 1; k <= 6; k++) {
        rt_debug_fail_alloc_at(k);
        rt_status st = rt_reshape(xt, 1, SHAPE(24), &t);
        rt_debug_fail_alloc_at(0);
        if (st == RT_OK) {
            rt_tensor_release(t);
            t = NULL;
        } else {
            failures++;
            CHECK(st == RT_ENOMEM, "alloc failure %ld -> %s", k, rt_status_name(st));
        }
    }
    CHECK(failures >= 2, "reshape-copy has at least two allocations (%d)", failures);
    rt_tensor_release(xt);
    rt_tensor_release(x);
    CHECK(strcmp(rt_dtype_name(RT_I64), "i64") == 0 && rt_dtype_promote(RT_I64, RT_F32) == RT_F32
          && rt_dtype_promote(RT_F32, RT_F64) == RT_F64, "dtype names and promotion");
}

int main(void)
{
    test_views();
    test_expand_and_broadcast();
    test_copies();
    test_pool();
    test_iter_layouts();
    test_creation_errors_and_alloc();
    REPORT();
}
