/* optim.c — fused optimizer steps (SGD with momentum, Adam/AdamW) over whole contiguous
** parameter tensors: one pass over memory and no temporaries per step, where the same update
** written with elementwise ops makes 3 (SGD + momentum) to 10 (Adam) passes and allocates.
** Not autograd ops: they write the parameter and its state buffers in place (bumping their
** versions) and are meant to run under no_grad, from stdlib/optim/kernels.lua. */
#include <math.h>
#include "internal.h"
#include "rt_optim.h"

/* Every tensor must be contiguous, of p's dtype (f32 or f64) and of p's numel. */
static rt_status check_same(const char *op, const rt_tensor *p, const rt_tensor *t, int operand)
{
    if (!t) return RT_OK;
    if (!rt_dtype_is_float(t->dtype) || t->dtype != p->dtype)
        return rt_fail(RT_EDTYPE, operand, "%s: tensors must share the parameter's float dtype "
                       "(%s), got %s", op, rt_dtype_name(p->dtype), rt_dtype_name(t->dtype));
    if (rt_tensor_numel(t) != rt_tensor_numel(p))
        return rt_fail(RT_ESHAPE, operand, "%s: %lld elements, the parameter has %lld", op,
                       (long long)rt_tensor_numel(t), (long long)rt_tensor_numel(p));
    if (!rt_tensor_is_contiguous(t))
        return rt_fail(RT_EARG, operand, "%s: tensors must be contiguous", op);
    return RT_OK;
}

/* ---- SGD ------------------------------------------------------------------------------- */
/* p, g, buf: (n) contiguous */
static void sgd_f32(float *p, const float *g, float *b, int64_t n, const rt_sgd_opts *o)
{
    const float lr = (float)o->lr, mu = (float)o->momentum, wd = (float)o->weight_decay;
    const float damp = 1.0f - (float)o->dampening, sign = o->maximize ? -1.0f : 1.0f;
    for (int64_t i = 0; i < n; i++) {
        float d = sign * g[i] + wd * p[i];
        if (b) {
            float bi = o->first ? d : mu * b[i] + damp * d;
            b[i] = bi;
            d = o->nesterov ? d + mu * bi : bi;
        }
        p[i] -= lr * d;
    }
}

static void sgd_f64(double *p, const double *g, double *b, int64_t n, const rt_sgd_opts *o)
{
    const double lr = o->lr, mu = o->momentum, wd = o->weight_decay;
    const double damp = 1.0 - o->dampening, sign = o->maximize ? -1.0 : 1.0;
    for (int64_t i = 0; i < n; i++) {
        double d = sign * g[i] + wd * p[i];
        if (b) {
            double bi = o->first ? d : mu * b[i] + damp * d;
            b[i] = bi;
            d = o->nesterov ? d + mu * bi : bi;
        }
        p[i] -= lr * d;
    }
}

typedef struct {
    rt_dtype dt;
    char *p, *buf;
    const char *g;
    const rt_sgd_opts *o;
} sgd_job;

static rt_status sgd_job_chunk(void *vctx, int64_t chunk, int64_t begin, int64_t end)
{
    (void)chunk;
    const sgd_job *j = vctx;
    size_t es = rt_dtype_size(j->dt);
    int64_t n = end - begin;
    void *b = j->buf ? j->buf + begin * es : NULL;
    if (j->dt == RT_F32)
        sgd_f32((float *)(j->p + begin * es), (const float *)(j->g + begin * es), b, n, j->o);
    else
        sgd_f64((double *)(j->p + begin * es), (const double *)(j->g + begin * es), b, n, j->o);
    return RT_OK;
}

rt_status rt_optim_sgd(rt_tensor *p, const rt_tensor *g, rt_tensor *buf, const rt_sgd_opts *o)
{
    rt_status st = check_same("optim_sgd", p, p, 0);
    if (st == RT_OK) st = check_same("optim_sgd", p, g, 1);
    if (st == RT_OK && o->momentum != 0.0) {
        if (!buf) return rt_fail(RT_EARG, 2, "optim_sgd: momentum needs a buffer");
        st = check_same("optim_sgd", p, buf, 2);
    }
    if (st != RT_OK) return st;
    sgd_job j = { p->dtype, rt_tensor_data(p), o->momentum != 0.0 ? rt_tensor_data(buf) : NULL,
                  rt_tensor_data(g), o };
    st = rt_parallel_for(rt_tensor_numel(p), RTI_GRAIN, sgd_job_chunk, &j);
    if (st == RT_OK) {
        rti_bump_version(p);
        if (j.buf) rti_bump_version(buf);
    }
    return st;
}

/* ---- Adam / AdamW -------------------------------------------------------------------------- */
typedef struct {
    rt_dtype dt;
    char *p, *m, *v, *vmax;
    const char *g;
    const rt_adam_opts *o;
} adam_job;

/* p, g, m, v, vmax (may be NULL): (n) contiguous */
static void adam_f32(float *p, const float *g, float *m, float *v, float *vmax, int64_t n,
                     const rt_adam_opts *o)
{
    const float b1 = (float)o->beta1, b2 = (float)o->beta2, eps = (float)o->eps;
    const float step = (float)(o->lr / o->bias_correction1);
    const float inv_sqrt_bc2 = (float)(1.0 / sqrt(o->bias_correction2));
    const float decay = o->decoupled ? (float)(1.0 - o->lr * o->weight_decay) : 1.0f;
    const float wd = o->decoupled ? 0.0f : (float)o->weight_decay;
    const float sign = o->maximize ? -1.0f : 1.0f;
    for (int64_t i = 0; i < n; i++) {
        float pi = p[i] * decay;
        float gi = sign * g[i] + wd * pi;
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        if (vmax) {
            vi = vi > vmax[i] ? vi : vmax[i];
            vmax[i] = vi;
        }
        p[i] = pi - step * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
    }
}

static void adam_f64(double *p, const double *g, double *m, double *v, double *vmax, int64_t n,
                     const rt_adam_opts *o)
{
    const double b1 = o->beta1, b2 = o->beta2, eps = o->eps;
    const double step = o->lr / o->bias_correction1;
    const double sqrt_bc2 = sqrt(o->bias_correction2);
    const double decay = o->decoupled ? 1.0 - o->lr * o->weight_decay : 1.0;
    const double wd = o->decoupled ? 0.0 : o->weight_decay;
    const double sign = o->maximize ? -1.0 : 1.0;
    for (int64_t i = 0; i < n; i++) {
        double pi = p[i] * decay;
        double gi = sign * g[i] + wd * pi;
        double mi = b1 * m[i] + (1.0 - b1) * gi;
        double vi = b2 * v[i] + (1.0 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        if (vmax) {
            vi = vi > vmax[i] ? vi : vmax[i];
            vmax[i] = vi;
        }
        p[i] = pi - step * mi / (sqrt(vi) / sqrt_bc2 + eps);
    }
}

static rt_status adam_chunk(void *vctx, int64_t chunk, int64_t begin, int64_t end)
{
    (void)chunk;
    const adam_job *j = vctx;
    size_t es = rt_dtype_size(j->dt);
    int64_t n = end - begin, off = begin * (int64_t)es;
    if (j->dt == RT_F32)
        adam_f32((float *)(j->p + off), (const float *)(j->g + off), (float *)(j->m + off),
                 (float *)(j->v + off), j->vmax ? (float *)(j->vmax + off) : NULL, n, j->o);
    else
        adam_f64((double *)(j->p + off), (const double *)(j->g + off), (double *)(j->m + off),
                 (double *)(j->v + off), j->vmax ? (double *)(j->vmax + off) : NULL, n, j->o);
    return RT_OK;
}

rt_status rt_optim_adam(rt_tensor *p, const rt_tensor *g, rt_tensor *m, rt_tensor *v,
                        rt_tensor *vmax, const rt_adam_opts *o)
{
    rt_status st = check_same("optim_adam", p, p, 0);
    if (st == RT_OK) st = check_same("optim_adam", p, g, 1);
    if (st == RT_OK) st = check_same("optim_adam", p, m, 2);
    if (st == RT_OK) st = check_same("optim_adam", p, v, 3);
    if (st == RT_OK) st = check_same("optim_adam", p, vmax, 4);
    if (st != RT_OK) return st;
    if (!(o->bias_correction1 > 0.0) || !(o->bias_correction2 > 0.0))
        return rt_fail(RT_EARG, -1, "optim_adam: bias corrections must be > 0");
    adam_job j = { p->dtype, rt_tensor_data(p), rt_tensor_data(m), rt_tensor_data(v),
                   vmax ? rt_tensor_data(vmax) : NULL, rt_tensor_data(g), o };
    st = rt_parallel_for(rt_tensor_numel(p), RTI_GRAIN, adam_chunk, &j);
    if (st == RT_OK) {
        rti_bump_version(p);
        rti_bump_version(m);
        rti_bump_version(v);
        if (vmax) rti_bump_version(vmax);
    }
    return st;
}
