/* test_autograd.c — the engine: gradients through broadcasting, accumulation, retain_graph,
** hooks, version counters, create_graph (second derivatives), rt_grad on non-leaves, grad
** mode, and releasing a very long graph.  Expected values are derived by hand in comments. */
#include "harness.h"
#include "internal.h"

static rt_tensor *leaf(rt_dtype dt, int ndim, const int64_t *shape, const double *v)
{
    rt_tensor *t = NULL;
    if (rt_empty(dt, ndim, shape, &t) != RT_OK) return NULL;
    for (int64_t i = 0; i < rt_tensor_numel(t); i++) {
        int64_t idx[RT_MAXDIM], r = i;
        for (int d = ndim - 1; d >= 0; d--) {
            idx[d] = r % shape[d];
            r /= shape[d];
        }
        rt_tensor_set(t, idx, v[i]);
    }
    rt_set_requires_grad(t, 1);
    return t;
}

static rt_tensor *sum_all(const rt_tensor *x)
{
    rt_tensor *f = NULL, *s = NULL;
    rt_ad_reshape(x, 1, SHAPE(-1), &f);
    rt_ad_sum_to(f, 0, NULL, &s);
    rt_tensor_release(f);
    return s;
}

/* y = sum(a * b + a), a [3,1], b [1,4] broadcast: dy/da_i = sum_j (b_j + 1), dy/db_j = sum_i a_i */
static void test_broadcast_grads(void)
{
    rt_tensor *a = leaf(RT_F64, 2, SHAPE(3, 1), (double[]){1, 2, 3});
    rt_tensor *b = leaf(RT_F64, 2, SHAPE(1, 4), (double[]){0.5, -1, 2, 4});
    rt_tensor *ab = NULL, *y = NULL, *s;
    CHECK_OK(rt_ad_mul(a, b, &ab));
    CHECK_OK(rt_ad_add(ab, a, &y));
    s = sum_all(y);
    CHECK(s && s->requires_grad && s->node, "loss records a graph");
    CHECK_OK(rt_backward(1, &s, NULL, NULL));
    CHECK(a->grad && h_shape_is(a->grad, 2, SHAPE(3, 1)), "a.grad shape");
    double ga[3] = {9.5, 9.5, 9.5}, gb[4] = {6, 6, 6, 6};
    CHECK(a->grad && h_worst(a->grad, ga, 1e-12, 0) <= 1, "a.grad = sum(b) + 4");
    CHECK(b->grad && h_worst(b->grad, gb, 1e-12, 0) <= 1, "b.grad = sum(a)");
    /* the graph is freed: a second backward is an error that says what to do */
    CHECK_FAILS(rt_backward(1, &s, NULL, NULL), RT_EARG, "retain_graph");
    rt_tensor_release(s);
    rt_tensor_release(y);
    rt_tensor_release(ab);
    /* accumulation: two backward passes add up */
    rt_backward_opts keep = { .retain_graph = 1 };
    CHECK_OK(rt_ad_mul(a, b, &ab));
    s = sum_all(ab);
    CHECK_OK(rt_backward(1, &s, NULL, &keep));
    CHECK_OK(rt_backward(1, &s, NULL, &keep));
    double ga2[3] = {9.5 + 2 * 5.5, 9.5 + 2 * 5.5, 9.5 + 2 * 5.5};
    CHECK(h_worst(a->grad, ga2, 1e-12, 0) <= 1, "gradients accumulate over backward calls");
    rt_tensor_release(s);
    rt_tensor_release(ab);
    rt_tensor_release(a);
    rt_tensor_release(b);
}

/* y = x^3: dy/dx = 3x^2 and, with create_graph, d2y/dx2 = 6x. */
static void test_second_order(void)
{
    rt_tensor *x = leaf(RT_F64, 1, SHAPE(2), (double[]){2, -1}), *y = NULL, *s, *g[1] = {0};
    CHECK_OK(rt_ad_binary_scalar(RT_POW, x, 3, 0, &y));
    s = sum_all(y);
    rt_backward_opts cg = { .create_graph = 1, .retain_graph = 1 };
    CHECK_OK(rt_grad(1, &s, NULL, 1, &x, &cg, g));
    double g1[2] = {12, 3};
    CHECK(g[0] && h_worst(g[0], g1, 1e-12, 0) <= 1 && g[0]->requires_grad, "dy/dx = 3x^2");
    CHECK(x->grad == NULL, "rt_grad leaves .grad alone");
    rt_tensor *gs = sum_all(g[0]), *h[1] = {0};
    CHECK_OK(rt_grad(1, &gs, NULL, 1, &x, NULL, h));
    double g2[2] = {12, -6};
    CHECK(h[0] && h_worst(h[0], g2, 1e-12, 0) <= 1, "d2y/dx2 = 6x");
    rt_tensor_release(h[0]);
    rt_tensor_release(gs);
    rt_tensor_release(g[0]);
    rt_tensor_release(s);
    rt_tensor_release(y);
    rt_tensor_release(x);
}

/* a hook that doubles the gradient */
static rt_status double_hook(void *ctx, rt_tensor *grad, rt_tensor **replace)
{
    (*(int *)ctx)++;
    return rt_ad_binary_scalar(RT_MUL, grad, 2, 0, replace);
}

static void test_hooks_and_nonleaf_grad(void)
{
    rt_tensor *x = leaf(RT_F64, 1, SHAPE(3), (double[]){1, 2, 3}), *m = NULL, *y = NULL, *s;
    CHECK_OK(rt_ad_binary_scalar(RT_MUL, x, 3, 0, &m));   /* m = 3x (non-leaf) */
    CHECK_OK(rt_ad_mul(m, m, &y));                        /* y = m^2 */
    s = sum_all(y);
    int calls = 0;
    rt_hook *h = calloc(1, sizeof *h);
    h->fn = double_hook;
    h->ctx = &calls;
    CHECK_OK(rt_register_hook(m, h));
    rt_backward_opts keep = { .retain_graph = 1 };
    rt_tensor *gm[1] = {0};
    CHECK_OK(rt_grad(1, &s, NULL, 1, &m, &keep, gm));
    double want_m[3] = {12, 24, 36};   /* 2m, doubled by the hook: 4 * 3x */
    CHECK(gm[0] && h_worst(gm[0], want_m, 1e-12, 0) <= 1, "grad w.r.t. a non-leaf, after hook");
    CHECK_OK(rt_backward(1, &s, NULL, NULL));
    double want_x[3] = {36, 72, 108};  /* 3 * 4 * 3x */
    CHECK(x->grad && h_worst(x->grad, want_x, 1e-12, 0) <= 1, "hook's replacement propagates");
    CHECK(calls == 2, "hook ran once per pass (%d)", calls);
    rt_tensor_release(gm[0]);
    rt_tensor_release(s);
    rt_tensor_release(y);
    rt_tensor_release(m);
    rt_tensor_release(x);
}

static void test_versions_and_modes(void)
{
    rt_tensor *x = leaf(RT_F64, 1, SHAPE(2), (double[]){1, 2}), *c = NULL, *y = NULL, *s;
    CHECK_OK(rt_zeros(RT_F64, 1, SHAPE(2), &c));
    CHECK_OK(rt_ad_mul(x, c, &y));           /* mul saves c for x's gradient */
    s = sum_all(y);
    CHECK_OK(rt_fill_(c, 5));                /* ... and c changes before backward */
    CHECK_FAILS(rt_backward(1, &s, NULL, NULL), RT_EARG, "modified in place");
    CHECK_FAILS(rt_check_inplace("add_", x), RT_EARG, "it is a leaf");
    rt_set_grad_enabled(0);
    CHECK_OK(rt_check_inplace("add_", x));
    rt_tensor *z = NULL;
    CHECK_OK(rt_ad_mul(x, x, &z));
    CHECK(z && !z->requires_grad && !z->node, "no graph when grad mode is off");
    rt_set_grad_enabled(1);
    rt_tensor *one = NULL;
    CHECK_OK(rt_ones(RT_F64, 1, SHAPE(2), &one));
    CHECK_FAILS(rt_backward(1, &one, NULL, NULL), RT_EARG, "does not require grad");
    CHECK_FAILS(rt_backward(1, &y, NULL, NULL), RT_ESHAPE, "only be implied for an output with one");
    CHECK_FAILS(rt_set_requires_grad(one, 0) == RT_OK ? rt_set_requires_grad(y, 0) : RT_OK,
                RT_EARG, "non-leaf");
    rt_tensor *i64 = NULL;
    CHECK_OK(rt_zeros(RT_I64, 1, SHAPE(2), &i64));
    CHECK_FAILS(rt_set_requires_grad(i64, 1), RT_EDTYPE, "only floating tensors");
    rt_tensor_release(i64);
    rt_tensor_release(one);
    rt_tensor_release(z);
    rt_tensor_release(s);
    rt_tensor_release(y);
    rt_tensor_release(c);
    rt_tensor_release(x);
}

/* 200000 chained additions: backward and release must not recurse on the C stack. */
static void test_long_chain(void)
{
    rt_tensor *x = leaf(RT_F64, 0, NULL, (double[]){1}), *acc = NULL;
    CHECK_OK(rt_ad_binary_scalar(RT_MUL, x, 1, 0, &acc));
    for (int i = 0; i < 200000; i++) {
        rt_tensor *next = NULL;
        if (rt_ad_add(acc, x, &next) != RT_OK) break;
        rt_tensor_release(acc);
        acc = next;
    }
    CHECK_OK(rt_backward(1, &acc, NULL, NULL));
    double want = 200001;
    CHECK(x->grad && h_worst(x->grad, &want, 0, 1e-12) <= 1, "d/dx of 200001 x");
    rt_tensor_release(acc);   /* frees the whole chain iteratively */
    rt_tensor_release(x);
}

/* views: y = x^T[1] * 2 (select of a transpose): only column 2 of x gets gradient 2. */
static void test_view_grads(void)
{
    rt_tensor *x = leaf(RT_F64, 2, SHAPE(2, 3), (double[]){1, 2, 3, 4, 5, 6});
    rt_tensor *t = NULL, *r = NULL, *y = NULL, *s;
    CHECK_OK(rt_ad_transpose(x, 0, 1, &t));
    CHECK_OK(rt_ad_select(t, 0, 1, &r));
    CHECK_OK(rt_ad_binary_scalar(RT_MUL, r, 2, 0, &y));
    s = sum_all(y);
    CHECK_OK(rt_backward(1, &s, NULL, NULL));
    double want[6] = {0, 2, 0, 0, 2, 0};
    CHECK(x->grad && h_worst(x->grad, want, 1e-15, 0) <= 1, "select of transpose routes gradient");
    rt_tensor_release(s);
    rt_tensor_release(y);
    rt_tensor_release(r);
    rt_tensor_release(t);
    rt_tensor_release(x);
}

int main(void)
{
    test_broadcast_grads();
    test_second_order();
    test_hooks_and_nonleaf_grad();
    test_versions_and_modes();
    test_long_chain();
    test_view_grads();
    REPORT();
}
