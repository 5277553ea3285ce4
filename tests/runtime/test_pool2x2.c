/* test_pool2x2.c — the 2x2 stride-2 max pool (the vectorized forward path in ops_pool.c)
** against naive loops written here: values and indices with ties, NaN and -inf, odd sizes,
** strided inputs; the backward against a naive scatter, including indices outside their 2x2
** block (two outputs sharing an element), index -1, and an input shape wider than the blocks
** cover. */
#include "harness.h"

static const rt_pool2d_opts K2 = { { 2, 2 }, { 2, 2 }, { 0, 0 }, { 1, 1 }, 0 };

/* f32 values on a coarse grid (many ties), with a NaN or -inf now and then. */
static rt_tensor *tie_input(int64_t n, int64_t c, int64_t h, int64_t w)
{
    rt_tensor *x = h_rand(RT_F32, 4, SHAPE(n, c, h, w), 0, 1);
    float *d = x->storage->data;
    for (int64_t i = 0; i < rt_tensor_numel(x); i++) {
        double u = h_uniform();
        d[i] = u < 0.03 ? NAN : u < 0.06 ? -INFINITY : (float)floor(d[i] * 4);
    }
    return x;
}

/* The window scan by definition: first of equal maxima, and a NaN replaces anything. */
static void ref_forward(const rt_tensor *x, int64_t Ho, int64_t Wo, double *y, int64_t *ix)
{
    int64_t P = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3];
    for (int64_t p = 0; p < P; p++)
        for (int64_t i = 0; i < Ho; i++)
            for (int64_t j = 0; j < Wo; j++) {
                double m = 0;
                int64_t best = -1;
                for (int a = 0; a < 2; a++)
                    for (int b = 0; b < 2; b++) {
                        int64_t k = (2 * i + a) * W + 2 * j + b;
                        double v = h_at(x, p * H * W + k);
                        if (best < 0 || v > m || isnan(v)) {
                            m = v;
                            best = k;
                        }
                    }
                y[(p * Ho + i) * Wo + j] = m;
                ix[(p * Ho + i) * Wo + j] = best;
            }
}

static int same_value(double a, double b) { return a == b || (isnan(a) && isnan(b)); }

/* gx = zeros(x_shape); gx[plane][ix] += g, skipping -1. */
static double *ref_backward(const rt_tensor *g, const rt_tensor *ix, const int64_t *xs)
{
    int64_t P = xs[0] * xs[1], HW = xs[2] * xs[3], O = g->shape[2] * g->shape[3];
    double *gx = calloc((size_t)(P * HW), sizeof *gx);
    for (int64_t p = 0; p < P; p++)
        for (int64_t o = 0; o < O; o++) {
            int64_t k = (int64_t)h_at(ix, p * O + o);
            if (k >= 0) gx[p * HW + k] += h_at(g, p * O + o);
        }
    return gx;
}

static int equals_dense(const rt_tensor *t, const double *ref)
{
    for (int64_t i = 0; i < rt_tensor_numel(t); i++)
        if (!same_value(h_at(t, i), ref[i])) return 0;
    return 1;
}

static void check_shape(int64_t n, int64_t c, int64_t h, int64_t w, int strided)
{
    rt_tensor *xw = tie_input(n, c, h, strided ? w + 3 : w), *x, *y, *ix, *g, *gx;
    rt_view_narrow(xw, 3, strided ? 1 : 0, w, &x);
    int64_t Ho = h / 2, Wo = w / 2, O = n * c * Ho * Wo;
    double *ry = malloc((size_t)(O ? O : 1) * sizeof *ry);
    int64_t *rix = malloc((size_t)(O ? O : 1) * sizeof *rix);
    ref_forward(x, Ho, Wo, ry, rix);
    CHECK_OK(rt_max_pool2d(x, &K2, &y, &ix));
    int ok = 1;
    for (int64_t i = 0; i < O; i++)
        ok &= same_value(h_at(y, i), ry[i]) && (int64_t)h_at(ix, i) == rix[i];
    CHECK(ok, "2x2 forward [%lld,%lld,%lld,%lld]%s", (long long)n, (long long)c, (long long)h,
          (long long)w, strided ? " strided" : "");
    rt_tensor *y2;
    CHECK_OK(rt_max_pool2d(x, &K2, &y2, NULL));
    CHECK(equals_dense(y2, ry), "2x2 forward without indices");
    g = h_rand(RT_F32, 4, y->shape, -1, 1);
    CHECK_OK(rt_max_pool2d_backward(g, ix, x->shape, &gx));
    double *rg = ref_backward(g, ix, x->shape);
    CHECK(equals_dense(gx, rg), "2x2 backward [%lld,%lld,%lld,%lld]", (long long)n,
          (long long)c, (long long)h, (long long)w);
    free(rg);
    free(ry);
    free(rix);
    rt_tensor *objs[] = { xw, x, y, y2, ix, g, gx };
    for (int i = 0; i < 7; i++) rt_tensor_release(objs[i]);
}

/* Indices written by hand: out of block (the plane falls back to the scatter, and two outputs
** may share an element), -1, and an x_shape wider and taller than the blocks. */
static void check_custom_indices(void)
{
    rt_tensor *x = tie_input(2, 3, 6, 8), *y, *ix, *g, *gx, *gw;
    CHECK_OK(rt_max_pool2d(x, &K2, &y, &ix));
    g = h_rand(RT_F32, 4, y->shape, -1, 1);
    int64_t *d = ix->storage->data;
    d[5] = 0;           /* plane 0: output (1,1) points at (0,0), which output (0,0) may too */
    d[12 + 3] = -1;     /* plane 1: no gradient from output (0,3) */
    CHECK_OK(rt_max_pool2d_backward(g, ix, x->shape, &gx));
    double *rg = ref_backward(g, ix, x->shape);
    CHECK(equals_dense(gx, rg), "2x2 backward with out-of-block and -1 indices");
    free(rg);
    const int64_t wide[4] = { 2, 3, 9, 13 };  /* blocks cover 6x8; indices renumbered */
    for (int64_t p = 0; p < 6; p++)
        for (int64_t o = 0; o < 12; o++) {
            int64_t k = d[p * 12 + o];
            if (k >= 0) d[p * 12 + o] = k / 8 * 13 + k % 8;
        }
    d[5] = 1 * 13 * 2 + 2;                  /* back inside its block (2,2)..(3,3) */
    d[12 + 3] = 13 * 1 + 7;
    CHECK_OK(rt_max_pool2d_backward(g, ix, wide, &gw));
    rg = ref_backward(g, ix, wide);
    CHECK(h_shape_is(gw, 4, wide) && equals_dense(gw, rg), "2x2 backward into a wider input");
    free(rg);
    rt_tensor *objs[] = { x, y, ix, g, gx, gw };
    for (int i = 0; i < 6; i++) rt_tensor_release(objs[i]);
}

/* A gout whose rows are strided (a narrowed view) gives the same gradient. */
static void check_strided_gout(void)
{
    rt_tensor *x = tie_input(2, 2, 8, 10), *y, *ix, *gw, *g, *gc;
    CHECK_OK(rt_max_pool2d(x, &K2, &y, &ix));
    gw = h_rand(RT_F32, 4, SHAPE(2, 2, 4, 9), -1, 1);
    rt_view_narrow(gw, 3, 2, 5, &g);
    rt_contiguous(g, &gc);
    rt_tensor *a, *b;
    CHECK_OK(rt_max_pool2d_backward(g, ix, x->shape, &a));
    CHECK_OK(rt_max_pool2d_backward(gc, ix, x->shape, &b));
    CHECK(memcmp(a->storage->data, b->storage->data, (size_t)rt_tensor_numel(a) * 4) == 0,
          "2x2 backward: strided gout");
    rt_tensor *objs[] = { x, y, ix, gw, g, gc, a, b };
    for (int i = 0; i < 8; i++) rt_tensor_release(objs[i]);
}

int main(void)
{
    for (int t = 1; t <= 2; t++) {
        rt_set_num_threads(t);
        const int64_t hw[][2] = { { 2, 2 }, { 4, 6 }, { 5, 7 }, { 28, 28 }, { 7, 3 }, { 3, 9 },
                                  { 14, 14 }, { 2, 5 } };
        for (size_t i = 0; i < sizeof hw / sizeof hw[0]; i++) {
            check_shape(2, 3, hw[i][0], hw[i][1], 0);
            check_shape(1, 2, hw[i][0], hw[i][1], 1);
        }
        check_shape(0, 3, 4, 4, 0);
        check_custom_indices();
        check_strided_gout();
    }
    REPORT();
}
