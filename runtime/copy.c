/* copy.c — copying and converting between layouts and dtypes: contiguous, clone, to(dtype),
** copy_ (with broadcasting) and fill_.  Each run is one plain loop per dtype pair. */
#include <string.h>
#include "internal.h"

/* ---- conversion kernels: dst <- src, n elements, byte strides -------------------- */
static void conv_from_f32(rt_dtype dt, char *d, int64_t sd, const char *s, int64_t ss, int64_t n)
{
    const float *src = (const float *)s;
    int64_t is = ss / 4;
    if (dt == RT_F32) {
        float *o = (float *)d;
        int64_t os = sd / 4;
        for (int64_t i = 0; i < n; i++) o[i * os] = src[i * is];
    } else if (dt == RT_F64) {
        double *o = (double *)d;
        int64_t os = sd / 8;
        for (int64_t i = 0; i < n; i++) o[i * os] = src[i * is];
    } else {
        int64_t *o = (int64_t *)d;
        int64_t os = sd / 8;
        for (int64_t i = 0; i < n; i++) o[i * os] = rti_double_to_i64(src[i * is]);
    }
}

static void conv_from_f64(rt_dtype dt, char *d, int64_t sd, const char *s, int64_t ss, int64_t n)
{
    const double *src = (const double *)s;
    int64_t is = ss / 8;
    if (dt == RT_F32) {
        float *o = (float *)d;
        int64_t os = sd / 4;
        for (int64_t i = 0; i < n; i++) o[i * os] = (float)src[i * is];
    } else if (dt == RT_F64) {
        double *o = (double *)d;
        int64_t os = sd / 8;
        for (int64_t i = 0; i < n; i++) o[i * os] = src[i * is];
    } else {
        int64_t *o = (int64_t *)d;
        int64_t os = sd / 8;
        for (int64_t i = 0; i < n; i++) o[i * os] = rti_double_to_i64(src[i * is]);
    }
}

static void conv_from_i64(rt_dtype dt, char *d, int64_t sd, const char *s, int64_t ss, int64_t n)
{
    const int64_t *src = (const int64_t *)s;
    int64_t is = ss / 8;
    if (dt == RT_F32) {
        float *o = (float *)d;
        int64_t os = sd / 4;
        for (int64_t i = 0; i < n; i++) o[i * os] = (float)src[i * is];
    } else if (dt == RT_F64) {
        double *o = (double *)d;
        int64_t os = sd / 8;
        for (int64_t i = 0; i < n; i++) o[i * os] = (double)src[i * is];
    } else {
        int64_t *o = (int64_t *)d;
        int64_t os = sd / 8;
        for (int64_t i = 0; i < n; i++) o[i * os] = src[i * is];
    }
}

typedef struct { rt_dtype dst, src; } conv_ctx;

static void convert_run(void *c, char **p, const int64_t *s, int64_t n)
{
    const conv_ctx *cc = c;
    size_t es = rt_dtype_size(cc->dst);
    if (cc->dst == cc->src && s[0] == (int64_t)es && s[1] == (int64_t)es) {
        memcpy(p[0], p[1], (size_t)n * es);
        return;
    }
    switch (cc->src) {
    case RT_F32: conv_from_f32(cc->dst, p[0], s[0], p[1], s[1], n); break;
    case RT_F64: conv_from_f64(cc->dst, p[0], s[0], p[1], s[1], n); break;
    case RT_I64: conv_from_i64(cc->dst, p[0], s[0], p[1], s[1], n); break;
    }
}

/* dst and src have the same shape here. */
static rt_status copy_same_shape(rt_tensor *dst, const rt_tensor *src)
{
    rt_tensor *ops[2] = { dst, (rt_tensor *)src };
    rti_iter it;
    rti_iter_init(&it, 2, ops);
    conv_ctx c = { dst->dtype, src->dtype };
    return rti_iter_parallel(&it, RTI_GRAIN, convert_run, &c);
}

rt_status rt_copy_(rt_tensor *dst, const rt_tensor *src)
{
    rt_tensor *e;
    char s1[128], s2[128];
    if (rti_check_writable("copy_", dst, 0) != RT_OK) return RT_EARG;
    rt_status vst = rt_view_expand(src, dst->ndim, dst->shape, &e);
    if (vst == RT_ENOMEM) return vst;
    if (vst != RT_OK)
        return rt_fail(RT_ESHAPE, 1, "copy_: source of shape %s cannot be broadcast to %s",
                       rt_shape_str(src->ndim, src->shape, s1, sizeof s1),
                       rt_shape_str(dst->ndim, dst->shape, s2, sizeof s2));
    /* Overlapping views of one storage (x:copy_(x:t())) would read what was just written:
    ** copy through a temporary then. */
    rt_status st;
    if (e->storage == dst->storage) {
        rt_tensor *tmp;
        st = rt_clone(e, &tmp);
        if (st == RT_OK) {
            st = copy_same_shape(dst, tmp);
            rt_tensor_release(tmp);
        }
    } else {
        st = copy_same_shape(dst, e);
    }
    rt_tensor_release(e);
    if (st == RT_OK) rti_bump_version(dst);
    return st;
}

rt_status rt_to_dtype(const rt_tensor *t, rt_dtype dt, rt_tensor **out)
{
    rt_tensor *o;
    rt_status st = rt_empty(dt, t->ndim, t->shape, &o);
    if (st != RT_OK) return st;
    st = copy_same_shape(o, t);
    if (st != RT_OK) {
        rt_tensor_release(o);
        return st;
    }
    *out = o;
    return RT_OK;
}

rt_status rt_clone(const rt_tensor *t, rt_tensor **out)
{
    return rt_to_dtype(t, t->dtype, out);
}

rt_status rt_contiguous(const rt_tensor *t, rt_tensor **out)
{
    if (rt_tensor_is_contiguous(t)) return rt_view_alias(t, out);
    return rt_clone(t, out);
}

/* ---- fill ------------------------------------------------------------------------- */
typedef struct { double v; rt_dtype dt; } fill_ctx;

static void fill_run(void *c, char **p, const int64_t *s, int64_t n)
{
    const fill_ctx *f = c;
    if (f->dt == RT_F32) {
        float *o = (float *)p[0], v = (float)f->v;
        int64_t os = s[0] / 4;
        for (int64_t i = 0; i < n; i++) o[i * os] = v;
    } else if (f->dt == RT_F64) {
        double *o = (double *)p[0];
        int64_t os = s[0] / 8;
        for (int64_t i = 0; i < n; i++) o[i * os] = f->v;
    } else {
        int64_t *o = (int64_t *)p[0], v = rti_double_to_i64(f->v);
        int64_t os = s[0] / 8;
        for (int64_t i = 0; i < n; i++) o[i * os] = v;
    }
}

rt_status rt_fill_(rt_tensor *dst, double v)
{
    if (rti_check_writable("fill_", dst, 0) != RT_OK) return RT_EARG;
    rti_iter it;
    rti_iter_init(&it, 1, &dst);
    fill_ctx c = { v, dst->dtype };
    rt_status st = rti_iter_parallel(&it, RTI_GRAIN, fill_run, &c);
    if (st == RT_OK) rti_bump_version(dst);
    return st;
}

/* Writing through a stride-0 (expanded) dimension would race between threads and is
** meaningless anyway. */
rt_status rti_check_writable(const char *op, const rt_tensor *t, int operand)
{
    for (int i = 0; i < t->ndim; i++)
        if (t->strides[i] == 0 && t->shape[i] > 1)
            return rt_fail(RT_EARG, operand, "%s: the destination is an expanded view (dimension "
                           "%d repeats one element); clone() it first", op, i + 1);
    return RT_OK;
}
