/* ops_where.c — where(cond, a, b): elementwise selection with three-way broadcasting.
** Values are moved as raw 4- or 8-byte words (f64 and i64 share one loop) so the selection is
** bit-exact; only the condition is interpreted, in its own dtype.  Arithmetic is elsewhere
** (ops_binary.c). */
#include "internal.h"
#include "rt_elementwise.h"

/* As in ops_binary.c: sel_run calls the always-inline loops with a constant condition dtype,
** so the switch in truth() folds away and each (condition dtype, width, layout) gets its own
** vectorisable loop. */
#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* cond is "true" when != 0: nan is true, -0.0 is false. */
static ALWAYS_INLINE int truth(rt_dtype cdt, const char *c, int64_t i)
{
    switch (cdt) {
    case RT_F32: return ((const float *)c)[i] != 0;
    case RT_F64: return ((const double *)c)[i] != 0;
    case RT_I64: return ((const int64_t *)c)[i] != 0;
    }
    return 0;
}

/* ---- loops: 4- and 8-byte values, strides in elements ---------------------------------
** where(mask, x, 0) is common, so a one-element a or b gets its own loop: GCC versions the
** strided loop only for unit strides. */
static ALWAYS_INLINE void sel4(rt_dtype cdt, uint32_t *o, int64_t so, const char *c, int64_t sc,
                               const uint32_t *a, int64_t sa, const uint32_t *b, int64_t sb,
                               int64_t n)
{
    if (so == 1 && sc == 1 && sa == 1 && sb == 1) {
        for (int64_t i = 0; i < n; i++) o[i] = truth(cdt, c, i) ? a[i] : b[i];
    } else if (so == 1 && sc == 1 && sa == 1 && sb == 0) {
        uint32_t y = b[0];
        for (int64_t i = 0; i < n; i++) o[i] = truth(cdt, c, i) ? a[i] : y;
    } else if (so == 1 && sc == 1 && sa == 0 && sb == 1) {
        uint32_t x = a[0];
        for (int64_t i = 0; i < n; i++) o[i] = truth(cdt, c, i) ? x : b[i];
    } else {
        for (int64_t i = 0; i < n; i++) o[i * so] = truth(cdt, c, i * sc) ? a[i * sa] : b[i * sb];
    }
}

static ALWAYS_INLINE void sel8(rt_dtype cdt, uint64_t *o, int64_t so, const char *c, int64_t sc,
                               const uint64_t *a, int64_t sa, const uint64_t *b, int64_t sb,
                               int64_t n)
{
    if (so == 1 && sc == 1 && sa == 1 && sb == 1) {
        for (int64_t i = 0; i < n; i++) o[i] = truth(cdt, c, i) ? a[i] : b[i];
    } else if (so == 1 && sc == 1 && sa == 1 && sb == 0) {
        uint64_t y = b[0];
        for (int64_t i = 0; i < n; i++) o[i] = truth(cdt, c, i) ? a[i] : y;
    } else if (so == 1 && sc == 1 && sa == 0 && sb == 1) {
        uint64_t x = a[0];
        for (int64_t i = 0; i < n; i++) o[i] = truth(cdt, c, i) ? x : b[i];
    } else {
        for (int64_t i = 0; i < n; i++) o[i * so] = truth(cdt, c, i * sc) ? a[i * sa] : b[i * sb];
    }
}

typedef struct {
    rt_dtype cdt;       /* condition dtype */
    int64_t ces, ves;   /* element sizes in bytes: condition, values */
} sel_kernel;

/* Strides in elements: sc in the condition's, the others in the values'. */
static void sel_run(const sel_kernel *k, char *o, int64_t so, const char *c, int64_t sc,
                    const char *a, int64_t sa, const char *b, int64_t sb, int64_t n)
{
    uint32_t *o4 = (uint32_t *)o;
    const uint32_t *a4 = (const uint32_t *)a, *b4 = (const uint32_t *)b;
    uint64_t *o8 = (uint64_t *)o;
    const uint64_t *a8 = (const uint64_t *)a, *b8 = (const uint64_t *)b;
    int wide = k->ves == 8;
    switch (k->cdt) {
    case RT_F32:
        if (wide) sel8(RT_F32, o8, so, c, sc, a8, sa, b8, sb, n);
        else sel4(RT_F32, o4, so, c, sc, a4, sa, b4, sb, n);
        break;
    case RT_F64:
        if (wide) sel8(RT_F64, o8, so, c, sc, a8, sa, b8, sb, n);
        else sel4(RT_F64, o4, so, c, sc, a4, sa, b4, sb, n);
        break;
    case RT_I64:
        if (wide) sel8(RT_I64, o8, so, c, sc, a8, sa, b8, sb, n);
        else sel4(RT_I64, o4, so, c, sc, a4, sa, b4, sb, n);
        break;
    }
}

/* ---- drivers --------------------------------------------------------------------------- */
typedef struct {
    const sel_kernel *k;
    char *o;
    const char *c, *a, *b;
    int64_t sc, sa, sb;     /* 1, or 0 for a one-element operand */
} flat_ctx;

static rt_status flat_chunk(void *p, int64_t chunk, int64_t lo, int64_t hi)
{
    const flat_ctx *f = p;
    int64_t ves = f->k->ves;
    (void)chunk;
    sel_run(f->k, f->o + lo * ves, 1, f->c + lo * f->sc * f->k->ces, f->sc,
            f->a + lo * f->sa * ves, f->sa, f->b + lo * f->sb * ves, f->sb, hi - lo);
    return RT_OK;
}

static void iter_run(void *p, char **ptr, const int64_t *s, int64_t n)
{
    const sel_kernel *k = p;
    sel_run(k, ptr[0], s[0] / k->ves, ptr[1], s[1] / k->ces, ptr[2], s[2] / k->ves, ptr[3],
            s[3] / k->ves, n);
}

/* Unit stride when t covers out element for element in row-major order, 0 for one element. */
static int flat_stride(const rt_tensor *t, int64_t n, int64_t *stride)
{
    int64_t m = rt_tensor_numel(t);
    if (m == 1) *stride = 0;
    else if (m == n && rt_tensor_is_contiguous(t)) *stride = 1;
    else return 0;
    return 1;
}

/* out (fresh, contiguous) = c ? a : b; a and b already have out's dtype. */
static rt_status where_exec(rt_tensor *out, const rt_tensor *c, const rt_tensor *a,
                            const rt_tensor *b)
{
    int64_t n = rt_tensor_numel(out);
    if (n == 0) return RT_OK;
    sel_kernel k = { c->dtype, (int64_t)rt_dtype_size(c->dtype),
                     (int64_t)rt_dtype_size(out->dtype) };
    flat_ctx f = { &k, rt_tensor_data(out), rt_tensor_data(c), rt_tensor_data(a),
                   rt_tensor_data(b), 0, 0, 0 };
    if (flat_stride(c, n, &f.sc) && flat_stride(a, n, &f.sa) && flat_stride(b, n, &f.sb))
        return rt_parallel_for(n, RTI_GRAIN, flat_chunk, &f);

    rt_tensor *e[3] = { NULL, NULL, NULL };
    const rt_tensor *in[3] = { c, a, b };
    rt_status st = RT_OK;
    for (int i = 0; i < 3 && st == RT_OK; i++)
        st = rt_view_expand(in[i], out->ndim, out->shape, &e[i]);
    if (st == RT_OK) {
        rt_tensor *ops[4] = { out, e[0], e[1], e[2] };
        rti_iter it;
        rti_iter_init(&it, 4, ops);
        st = rti_iter_parallel(&it, RTI_GRAIN, iter_run, &k);
    }
    for (int i = 0; i < 3; i++) rt_tensor_release(e[i]);
    return st;
}

/* t in dtype dt: *use is t itself, or a converted copy held by *own (NULL otherwise). */
static rt_status as_dtype(const rt_tensor *t, rt_dtype dt, const rt_tensor **use,
                          rt_tensor **own)
{
    *own = NULL;
    *use = t;
    if (t->dtype == dt) return RT_OK;
    rt_status st = rt_to_dtype(t, dt, own);
    if (st == RT_OK) *use = *own;
    return st;
}

/* ---- public entry point ------------------------------------------------------------------ */
rt_status rt_where(const rt_tensor *cond, const rt_tensor *a, const rt_tensor *b,
                   rt_tensor **out)
{
    int n1, nd;
    int64_t s1[RT_MAXDIM], shape[RT_MAXDIM];
    rt_status st = rti_broadcast_shape("where", cond->ndim, cond->shape, a->ndim, a->shape,
                                       &n1, s1);
    if (st == RT_OK) st = rti_broadcast_shape("where", n1, s1, b->ndim, b->shape, &nd, shape);
    if (st != RT_OK) {
        char c1[128], c2[128], c3[128];
        return rt_fail(RT_ESHAPE, -1, "where: shapes %s (cond), %s (a) and %s (b) cannot be "
                       "broadcast together", rt_shape_str(cond->ndim, cond->shape, c1, sizeof c1),
                       rt_shape_str(a->ndim, a->shape, c2, sizeof c2),
                       rt_shape_str(b->ndim, b->shape, c3, sizeof c3));
    }
    rt_dtype dt = rt_dtype_promote(a->dtype, b->dtype);
    const rt_tensor *ua, *ub;
    rt_tensor *oa = NULL, *ob = NULL, *o = NULL;
    st = as_dtype(a, dt, &ua, &oa);
    if (st == RT_OK) st = as_dtype(b, dt, &ub, &ob);
    if (st == RT_OK) st = rt_empty(dt, nd, shape, &o);
    if (st == RT_OK) st = where_exec(o, cond, ua, ub);
    rt_tensor_release(oa);
    rt_tensor_release(ob);
    if (st != RT_OK) {
        rt_tensor_release(o);
        return st;
    }
    *out = o;
    return RT_OK;
}
