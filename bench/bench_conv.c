/* bench_conv.c — conv2d speed: forward, backward_input, backward_weight (+bias) and the total
** for x [32,64,32,32], 64 filters 3x3, padding 1, f32; best of several runs, in ms and GFLOP/s.
** For context it times one raw sgemm of the same size, and PyTorch (bench/torch_conv.py) when
** a python3 with torch is installed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cblas.h>
#include "nabla_rt.h"

#define N 32
#define C 64
#define H 32
#define W 32
#define O 64
#define K 3
#define PAD 1
#define RUNS 10

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static rt_tensor *rand_tensor(int ndim, const int64_t *shape)
{
    rt_tensor *t = NULL;
    if (rt_empty(RT_F32, ndim, shape, &t) != RT_OK) return NULL;
    float *d = rt_tensor_data(t);
    uint64_t s = 88172645463325252ull;
    for (int64_t i = 0; i < rt_tensor_numel(t); i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        d[i] = (float)((s >> 11) * (1.0 / 9007199254740992.0)) * 2 - 1;
    }
    return t;
}

typedef struct {
    rt_tensor *x, *w, *b, *gy;
    rt_conv2d_opts o;
} bench_ctx;

/* which: 0 forward, 1 backward_input, 2 backward_weight + bias, 3 all of them */
static int run_once(const bench_ctx *c, int which)
{
    if (which == 3) return run_once(c, 0) && run_once(c, 1) && run_once(c, 2);
    rt_tensor *r = NULL, *r2 = NULL;
    rt_status st;
    if (which == 0) st = rt_conv2d(c->x, c->w, c->b, &c->o, &r);
    else if (which == 1) st = rt_conv2d_backward_input(c->gy, c->w, c->x->shape, &c->o, &r);
    else {
        st = rt_conv2d_backward_weight(c->gy, c->x, c->w->shape, &c->o, &r);
        if (st == RT_OK) st = rt_conv2d_backward_bias(c->gy, &r2);
    }
    rt_tensor_release(r);
    rt_tensor_release(r2);
    if (st != RT_OK) fprintf(stderr, "bench_conv: %s\n", rt_last_error());
    return st == RT_OK;
}

static double best_ms(const bench_ctx *c, int which)
{
    double best = 1e30;
    if (!run_once(c, which)) return -1;   /* warm-up */
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ms();
        if (!run_once(c, which)) return -1;
        double t = now_ms() - t0;
        if (t < best) best = t;
    }
    return best;
}

/* One sgemm with the FLOPs of one pass: (O x C*K*K) @ (C*K*K x N*H*W), by OpenBLAS with its
** own threading at the runtime's thread count (the runtime itself keeps OpenBLAS at one thread
** and splits work over its pool; this is set back afterwards). */
static double sgemm_gflops(double flops)
{
    int m = O, k = C * K * K, n = N * H * W;
    float *a = calloc((size_t)m * k, sizeof(float)), *b = calloc((size_t)k * n, sizeof(float));
    float *out = calloc((size_t)m * n, sizeof(float));
    double best = 1e30;
    openblas_set_num_threads(rt_get_num_threads());
    /* non-zero data: multiplying zeros runs measurably faster on some cores */
    for (size_t i = 0; a && i < (size_t)m * k; i++) a[i] = (float)(i % 7) * 0.25f - 0.75f;
    for (size_t i = 0; b && i < (size_t)k * n; i++) b[i] = (float)(i % 5) * 0.25f - 0.5f;
    for (int r = 0; r <= RUNS && a && b && out; r++) {
        double t0 = now_ms();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f,
                    out, n);
        double t = now_ms() - t0;
        if (r > 0 && t < best) best = t;
    }
    free(a), free(b), free(out);
    openblas_set_num_threads(1);
    return flops / (best * 1e6);
}

/* PyTorch's times for the same passes, or 0 when no python3 with torch is found. */
static int torch_times(int threads, double *t)
{
    static const char *pythons[] = { "python3", "/usr/bin/python3" };
    char cmd[512], line[256];
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "%s -c 'import torch' 2>/dev/null && %s bench/torch_conv.py "
                 "%d %d %d %d %d %d %d %d %d 2>/dev/null", pythons[i], pythons[i], threads, N, C,
                 H, W, O, K, PAD, RUNS);
        FILE *p = popen(cmd, "r");
        if (p == NULL) continue;
        int ok = fgets(line, sizeof line, p) != NULL;
        pclose(p);
        if (ok && sscanf(line, "torch %*s %lf %lf %lf %lf", &t[0], &t[1], &t[2], &t[3]) == 4)
            return 1;
    }
    return 0;
}

int main(void)
{
    bench_ctx c = { rand_tensor(4, (int64_t[]){ N, C, H, W }),
                    rand_tensor(4, (int64_t[]){ O, C, K, K }), rand_tensor(1, (int64_t[]){ O }),
                    rand_tensor(4, (int64_t[]){ N, O, H, W }),
                    { { 1, 1 }, { PAD, PAD }, { 1, 1 }, 1 } };
    if (!c.x || !c.w || !c.b || !c.gy) return 1;
    int threads = rt_get_num_threads();
    double flops = 2.0 * N * O * C * H * W * K * K;   /* Ho = H, Wo = W with padding 1 */
    printf("conv2d x [%d,%d,%d,%d], w [%d,%d,%d,%d], padding %d, f32: %.3f GFLOP per pass\n", N,
           C, H, W, O, C, K, K, PAD, flops / 1e9);
    printf("threads %d, OpenBLAS core %s\n", threads, openblas_get_corename());
    static const char *name[3] = { "forward", "backward_input", "backward_weight+bias" };
    double t[4];
    for (int i = 0; i < 4; i++) {
        if ((t[i] = best_ms(&c, i)) < 0) return 1;
        if (i < 3) printf("  %-22s %8.2f ms %7.1f GFLOP/s\n", name[i], t[i], flops / (t[i] * 1e6));
    }
    printf("  %-22s %8.2f ms %7.1f GFLOP/s\n", "total fwd+bwd", t[3], 3 * flops / (t[3] * 1e6));
    printf("  raw sgemm %dx%dx%d: %.1f GFLOP/s\n", O, C * K * K, N * H * W, sgemm_gflops(flops));
    double pt[4];
    if (torch_times(threads, pt)) {
        printf("PyTorch, %d threads (best of %d):\n", threads, RUNS);
        for (int i = 0; i < 3; i++)
            printf("  %-22s %8.2f ms   nabla/torch time ratio %.2f\n", name[i], pt[i],
                   t[i] / pt[i]);
        printf("  %-22s %8.2f ms   nabla/torch time ratio %.2f (torch autograd fwd+bwd)\n",
               "total fwd+bwd", pt[3], t[3] / pt[3]);
    } else {
        printf("PyTorch is unavailable (no python3 with torch): no reference timing\n");
    }
    rt_tensor_release(c.x), rt_tensor_release(c.w), rt_tensor_release(c.b);
    rt_tensor_release(c.gy);
    rt_pool_shutdown();
    return 0;
}
