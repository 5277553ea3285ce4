/* lb_print.c — tensors printed the way PyTorch prints them: aligned columns, one format for
** all entries (integer-valued, fixed or scientific), an elided middle for large tensors, and a
** footer with shape, dtype and autograd state.  nb.set_printoptions changes the settings. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "lb.h"

static struct {
    int precision, edgeitems, linewidth, sci;   /* sci: -1 auto, 0 never, 1 always */
    int64_t threshold;
} opt = { 4, 3, 80, -1, 1000 };

typedef enum { F_INT, F_FLOAT_INT, F_FIXED, F_SCI } fmt_kind;

typedef struct {
    const rt_tensor *t;
    int summarize;
    fmt_kind kind;
    int width;
    luaL_Buffer *b;
} printer;

static int shown(const printer *p, int d, int64_t i)
{
    int64_t n = p->t->shape[d];
    return !p->summarize || n <= 2 * opt.edgeitems || i < opt.edgeitems ||
           i >= n - opt.edgeitems;
}

static int format_value(const printer *p, double v, char *buf, size_t len)
{
    if (p->kind == F_INT) return snprintf(buf, len, "%lld", (long long)v);
    if (isnan(v)) return snprintf(buf, len, "nan");
    if (isinf(v)) return snprintf(buf, len, v > 0 ? "inf" : "-inf");
    switch (p->kind) {
    case F_FLOAT_INT: return snprintf(buf, len, "%.0f.", v);
    case F_FIXED: return snprintf(buf, len, "%.*f", opt.precision, v);
    default: return snprintf(buf, len, "%.*e", opt.precision, v);
    }
}

/* Visits every displayed element (in order) to choose the format and the column width. */
static void scan(printer *p, int d, int64_t *idx, double *maxabs, double *minabs, int *allint,
                 int pass)
{
    const rt_tensor *t = p->t;
    if (d == t->ndim) {
        double v = t->dtype == RT_I64 ? (double)rt_tensor_get_i64(t, idx) : rt_tensor_get(t, idx);
        if (pass == 0) {
            if (!isfinite(v)) return;
            double a = fabs(v);
            if (a > *maxabs) *maxabs = a;
            if (a > 0 && a < *minabs) *minabs = a;
            if (v != floor(v)) *allint = 0;
        } else {
            char buf[64];
            int w = format_value(p, v, buf, sizeof buf);
            if (w > p->width) p->width = w;
        }
        return;
    }
    for (int64_t i = 0; i < t->shape[d]; i++) {
        if (!shown(p, d, i)) continue;
        idx[d] = i;
        scan(p, d + 1, idx, maxabs, minabs, allint, pass);
    }
}

static void choose_format(printer *p)
{
    int64_t idx[RT_MAXDIM] = {0};
    double maxabs = 0, minabs = INFINITY;
    int allint = 1;
    p->width = 1;
    if (p->t->dtype == RT_I64) {
        p->kind = F_INT;
    } else {
        scan(p, 0, idx, &maxabs, &minabs, &allint, 0);
        if (opt.sci == 1) p->kind = F_SCI;
        else if (allint && maxabs < 1e9) p->kind = F_FLOAT_INT;
        else if (opt.sci == 0) p->kind = F_FIXED;
        else if (maxabs >= 1e8 || (minabs < 1e-4 && minabs > 0) ||
                 (isfinite(minabs) && maxabs / minabs > 1e3 && minabs < 1e-2))
            p->kind = F_SCI;
        else p->kind = F_FIXED;
    }
    scan(p, 0, idx, &maxabs, &minabs, &allint, 1);
}

static void put_value(printer *p, const int64_t *idx)
{
    const rt_tensor *t = p->t;
    double v = t->dtype == RT_I64 ? (double)rt_tensor_get_i64(t, idx) : rt_tensor_get(t, idx);
    char buf[64];
    int w = format_value(p, v, buf, sizeof buf);
    for (int k = w; k < p->width; k++) luaL_addchar(p->b, ' ');
    luaL_addstring(p->b, buf);
}

/* indent = column where this level's '[' stands. */
static void put_level(printer *p, int d, int64_t *idx, int indent)
{
    const rt_tensor *t = p->t;
    luaL_addchar(p->b, '[');
    int last = d == t->ndim - 1;
    int per_line = last ? (opt.linewidth - indent - 2) / (p->width + 2) : 0;
    if (per_line < 1) per_line = 1;
    int col = 0, first = 1;
    for (int64_t i = 0; i < t->shape[d]; i++) {
        if (!shown(p, d, i)) {
            if (i == opt.edgeitems) {
                luaL_addstring(p->b, last ? ", ..." : ",\n");
                if (!last) {
                    for (int k = 0; k <= indent; k++) luaL_addchar(p->b, ' ');
                    luaL_addstring(p->b, "...");
                }
            }
            continue;
        }
        if (!first) {
            if (last) {
                luaL_addchar(p->b, ',');
                if (++col >= per_line) {
                    luaL_addchar(p->b, '\n');
                    for (int k = 0; k <= indent; k++) luaL_addchar(p->b, ' ');
                    col = 0;
                } else {
                    luaL_addchar(p->b, ' ');
                }
            } else {
                luaL_addchar(p->b, ',');
                for (int k = d; k < t->ndim - 1; k++) luaL_addchar(p->b, '\n');
                for (int k = 0; k <= indent; k++) luaL_addchar(p->b, ' ');
            }
        }
        first = 0;
        idx[d] = i;
        if (last) put_value(p, idx);
        else put_level(p, d + 1, idx, indent + 1);
    }
    luaL_addchar(p->b, ']');
}

static int t_tostring(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    luaL_Buffer b;
    char s[128];
    luaL_buffinit(L, &b);
    printer p = { t, rt_tensor_numel(t) > opt.threshold, F_FIXED, 1, &b };
    luaL_addstring(&b, "tensor(");
    if (rt_tensor_numel(t) == 0) {
        luaL_addstring(&b, "[]");
    } else if (t->ndim == 0) {
        int64_t idx[1] = {0};
        choose_format(&p);
        p.width = 0;
        put_value(&p, idx);
    } else {
        int64_t idx[RT_MAXDIM] = {0};
        choose_format(&p);
        put_level(&p, 0, idx, 7);
    }
    snprintf(s, sizeof s, ", shape=%s, dtype=%s", rt_shape_str(t->ndim, t->shape, s + 64, 64),
             rt_dtype_name(t->dtype));
    luaL_addstring(&b, s);
    if (t->node) {
        char name[64];
        luaL_addstring(&b, ", grad_fn=");
        luaL_addstring(&b, rt_grad_fn_name(t, name, sizeof name));
    } else if (t->requires_grad) {
        luaL_addstring(&b, ", requires_grad=true");
    }
    luaL_addchar(&b, ')');
    luaL_pushresult(&b);
    return 1;
}

static int l_set_printoptions(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer prec = lb_optfield_integer(L, 1, "precision", opt.precision);
    lua_Integer thr = lb_optfield_integer(L, 1, "threshold", opt.threshold);
    lua_Integer edge = lb_optfield_integer(L, 1, "edgeitems", opt.edgeitems);
    lua_Integer lw = lb_optfield_integer(L, 1, "linewidth", opt.linewidth);
    if (prec < 0 || prec > 17) luaL_argerror(L, 1, "precision must be in 0..17");
    if (thr < 0) luaL_argerror(L, 1, "threshold must be >= 0");
    if (edge < 1 || edge > 1000) luaL_argerror(L, 1, "edgeitems must be in 1..1000");
    if (lw < 20 || lw > 1000) luaL_argerror(L, 1, "linewidth must be in 20..1000");
    if (lua_getfield(L, 1, "sci_mode") != LUA_TNIL) opt.sci = lua_toboolean(L, -1);
    else opt.sci = -1;
    opt.precision = (int)prec;
    opt.threshold = thr;
    opt.edgeitems = (int)edge;
    opt.linewidth = (int)lw;
    return 0;
}

static const lb_fn print_fns[] = {
    {"set_printoptions", l_set_printoptions,
     "nb.set_printoptions{precision=4, threshold=1000, edgeitems=3, linewidth=80, sci_mode=}"
     " — how tensors print"},
    {NULL, NULL, NULL}
};

void lb_open_print(lua_State *L)
{
    luaL_getmetatable(L, LB_TENSOR_MT);
    lua_pushcfunction(L, t_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    lb_register(L, -1, print_fns);
}
