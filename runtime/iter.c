/* iter.c — the strided multi-operand walker used by elementwise kernels and copies.
** It coalesces dimensions, then hands inner runs (pointer + byte stride per operand) to a
** kernel; runs along the last dimension are what the compiler vectorises. */
#include <string.h>
#include "internal.h"

void rti_iter_init(rti_iter *it, int nop, rt_tensor *const *ops)
{
    const rt_tensor *t0 = ops[0];
    memset(it, 0, sizeof *it);
    it->nop = nop;
    it->numel = rt_tensor_numel(t0);
    int n = 0;
    for (int d = 0; d < t0->ndim; d++) {
        if (t0->shape[d] == 1) continue;   /* size-1 dims add nothing */
        int merge = n > 0;
        for (int k = 0; k < nop && merge; k++) {
            int64_t es = (int64_t)rt_dtype_size(ops[k]->dtype);
            merge = it->strides[k][n - 1] == ops[k]->strides[d] * es * t0->shape[d];
        }
        if (merge) {
            it->shape[n - 1] *= t0->shape[d];
            for (int k = 0; k < nop; k++)
                it->strides[k][n - 1] = ops[k]->strides[d] * (int64_t)rt_dtype_size(ops[k]->dtype);
        } else {
            it->shape[n] = t0->shape[d];
            for (int k = 0; k < nop; k++)
                it->strides[k][n] = ops[k]->strides[d] * (int64_t)rt_dtype_size(ops[k]->dtype);
            n++;
        }
    }
    if (n == 0) {   /* 0-d or all ones: one element */
        it->shape[0] = 1;
        for (int k = 0; k < nop; k++) it->strides[k][0] = 0;
        n = 1;
    }
    it->ndim = n;
    for (int k = 0; k < nop; k++) it->base[k] = rt_tensor_data(ops[k]);
}

void rti_iter_range(const rti_iter *it, int64_t begin, int64_t end, rti_inner_fn fn, void *ctx)
{
    int nd = it->ndim, last = nd - 1;
    int64_t idx[RT_MAXDIM];
    int64_t rem = begin;
    for (int d = last; d >= 0; d--) {
        idx[d] = rem % it->shape[d];
        rem /= it->shape[d];
    }
    char *ptr[RTI_MAXOP];
    int64_t inner[RTI_MAXOP];
    for (int k = 0; k < it->nop; k++) inner[k] = it->strides[k][last];
    int64_t pos = begin;
    while (pos < end) {
        for (int k = 0; k < it->nop; k++) {
            char *p = it->base[k];
            for (int d = 0; d < nd; d++) p += idx[d] * it->strides[k][d];
            ptr[k] = p;
        }
        int64_t run = it->shape[last] - idx[last];
        if (run > end - pos) run = end - pos;
        fn(ctx, ptr, inner, run);
        pos += run;
        idx[last] += run;
        for (int d = last; d > 0 && idx[d] == it->shape[d]; d--) {
            idx[d] = 0;
            idx[d - 1]++;
        }
    }
}

typedef struct {
    const rti_iter *it;
    rti_inner_fn fn;
    void *ctx;
} par_ctx;

static rt_status par_chunk(void *c, int64_t chunk, int64_t b, int64_t e)
{
    (void)chunk;
    par_ctx *p = c;
    rti_iter_range(p->it, b, e, p->fn, p->ctx);
    return RT_OK;
}

rt_status rti_iter_parallel(const rti_iter *it, int64_t grain, rti_inner_fn fn, void *ctx)
{
    par_ctx p = { it, fn, ctx };
    return rt_parallel_for(it->numel, grain, par_chunk, &p);
}
