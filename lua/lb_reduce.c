/* lb_reduce.c — reductions from Lua: sum mean prod amax amin var std norm max min argmax argmin
** logsumexp, and the along-a-dim ops cumsum softmax log_softmax sort argsort topk, as module
** functions (nb.sum(t, ...)) and tensor methods (t:sum(...)).  Dims are 1-based (negative from
** the end); returned indices are i64 and 1-based.  Common argument forms:
**   t:sum()                all elements -> 0-d      t:sum(dim, keepdim?)   one dim
**   t:sum{dim=, keepdim=}  options table             t:sum(dim, {keepdim=}) options last
** var/std take unbiased only from an options table (t:var(dim, {unbiased=true})): PyTorch's
** positional var(dim, unbiased) and our (dim, keepdim) would disagree on a bare boolean, so a
** boolean third argument is refused rather than guessed. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "lb.h"

/* ---- argument parsing ----------------------------------------------------------------------- */
/* The number at stack index idx as a 0-based dim of a ndim-d tensor; errors blame argument arg. */
static int to_dim(lua_State *L, int idx, int arg, int ndim)
{
    int isint, n = ndim > 0 ? ndim : 1;   /* a 0-d tensor takes dim 1 or -1 */
    lua_Integer d = lua_tointegerx(L, idx, &isint);
    if (!isint)
        luaL_argerror(L, arg, lua_pushfstring(L, "dimension expected, got %s",
                                              lb_typename(L, idx)));
    if (d < -n || d > n || d == 0)
        luaL_argerror(L, arg, lua_pushfstring(L, "dimension %I out of range for a %d-d tensor "
                                              "(expected 1..%d or -%d..-1)", d, ndim, n, n));
    return (int)(d < 0 ? d + n : d - 1);
}

/* Field key of the options table at arg: pushes it and returns its type (nil: nothing pushed). */
static int get_opt(lua_State *L, int arg, const char *key)
{
    int t = lua_getfield(L, arg, key);
    if (t == LUA_TNIL) lua_pop(L, 1);
    return t;
}

static int opt_bool(lua_State *L, int arg, const char *key, int def)
{
    int t = get_opt(L, arg, key);
    if (t == LUA_TNIL) return def;
    if (t != LUA_TBOOLEAN)
        luaL_argerror(L, arg, lua_pushfstring(L, "option '%s' must be a boolean, got %s", key,
                                              luaL_typename(L, -1)));
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* dim field of the options table at arg; returns 0 when absent. */
static int opt_dim(lua_State *L, int arg, int ndim, int *dim)
{
    if (get_opt(L, arg, "dim") == LUA_TNIL) return 0;
    if (!lua_isinteger(L, -1))
        luaL_argerror(L, arg, lua_pushfstring(L, "option 'dim' must be an integer dimension, got "
                                              "%s", lb_typename(L, -1)));
    *dim = to_dim(L, lua_gettop(L), arg, ndim);
    lua_pop(L, 1);
    return 1;
}

static int is_options(lua_State *L, int arg)
{
    return lua_type(L, arg) == LUA_TTABLE && !lb_testtensor(L, arg);
}

static int is_absent(lua_State *L, int arg) { return lua_isnoneornil(L, arg); }

typedef struct {
    int dim, all, keepdim, unbiased;
} red_args;

/* (dim?, keepdim?) or ({dim=, keepdim=}) or (dim, {keepdim=}) from argument `first` on.
** with_unbiased: the options may hold unbiased, and a bare boolean keepdim is refused. */
static void parse_red(lua_State *L, const rt_tensor *x, int first, int with_unbiased,
                      red_args *r)
{
    r->dim = 0;
    r->all = 1;
    r->keepdim = r->unbiased = 0;
    int opts = 0;
    if (lua_type(L, first) == LUA_TNUMBER) {
        r->dim = to_dim(L, first, first, x->ndim);
        r->all = 0;
    } else if (is_options(L, first)) {
        opts = first;
    } else if (!is_absent(L, first)) {
        luaL_argerror(L, first, lua_pushfstring(L, "dimension or options table expected, got %s",
                                                lb_typename(L, first)));
    }
    int second = first + 1;
    if (!opts && lua_type(L, second) == LUA_TBOOLEAN && !with_unbiased) {
        r->keepdim = lua_toboolean(L, second);
    } else if (!opts && is_options(L, second)) {
        opts = second;
    } else if (!opts && !is_absent(L, second)) {
        luaL_argerror(L, second, lua_pushfstring(L, with_unbiased
            ? "options table expected ({unbiased=, keepdim=}), got %s"
            : "keepdim (boolean) or options table expected, got %s", lb_typename(L, second)));
    }
    if (!opts) return;
    const char *keys = opts == first ? (with_unbiased ? "dim keepdim unbiased" : "dim keepdim")
                                     : (with_unbiased ? "keepdim unbiased" : "keepdim");
    lb_check_options(L, opts, keys);
    if (opts == first && opt_dim(L, opts, x->ndim, &r->dim)) r->all = 0;
    r->keepdim = opt_bool(L, opts, "keepdim", 0);
    if (with_unbiased) r->unbiased = opt_bool(L, opts, "unbiased", 0);
}

/* A dim for the along-a-dim ops: a number at arg, or {dim=} there; def when absent (def < 0:
** required, and the error says so). */
static int parse_dim(lua_State *L, const rt_tensor *x, int arg, int def, const char *fname)
{
    int dim;
    if (lua_type(L, arg) == LUA_TNUMBER) return to_dim(L, arg, arg, x->ndim);
    if (is_options(L, arg) && opt_dim(L, arg, x->ndim, &dim)) return dim;
    if (!is_absent(L, arg) && !is_options(L, arg))
        luaL_argerror(L, arg, lua_pushfstring(L, "dimension expected, got %s",
                                              lb_typename(L, arg)));
    if (def < 0)
        luaL_argerror(L, arg, lua_pushfstring(L, "dimension expected: %s needs dim, e.g. "
                                              "t:%s(-1) for the last dimension", fname, fname));
    return def;
}

/* The flag after a dim: a boolean at arg or key in an options table at arg (or at dim_arg,
** when that was the table). */
static int parse_flag(lua_State *L, int dim_arg, int arg, const char *key, int def)
{
    if (is_options(L, dim_arg)) {
        char keys[64];
        snprintf(keys, sizeof keys, "dim %s", key);
        lb_check_options(L, dim_arg, keys);
        return opt_bool(L, dim_arg, key, def);
    }
    if (lua_type(L, arg) == LUA_TBOOLEAN) return lua_toboolean(L, arg);
    if (is_options(L, arg)) {
        lb_check_options(L, arg, key);
        return opt_bool(L, arg, key, def);
    }
    if (!is_absent(L, arg))
        luaL_argerror(L, arg, lua_pushfstring(L, "%s (boolean) or options table expected, got %s",
                                              key, lb_typename(L, arg)));
    return def;
}

/* Runtime indices are 0-based: Lua sees them 1-based. */
static rt_status plus_one(rt_tensor **slot)
{
    rt_tensor *t = NULL;
    rt_status st = rt_binary_scalar(RT_ADD, *slot, 1, 0, &t);
    if (st == RT_OK) {
        rt_tensor_release(*slot);
        *slot = t;
    }
    return st;
}

/* ---- reductions to a value ------------------------------------------------------------------- */
static int reduce(lua_State *L, rt_redop op)
{
    rt_tensor *x = lb_checktensor(L, 1);
    red_args r;
    parse_red(L, x, 2, 0, &r);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_reduce(op, x, r.dim, r.all, r.keepdim, slot), 1);
}

static int l_sum(lua_State *L) { return reduce(L, RT_SUM); }
static int l_mean(lua_State *L) { return reduce(L, RT_MEAN); }
static int l_prod(lua_State *L) { return reduce(L, RT_PROD); }
static int l_amax(lua_State *L) { return reduce(L, RT_AMAX); }
static int l_amin(lua_State *L) { return reduce(L, RT_AMIN); }

static int var_std(lua_State *L, int std)
{
    rt_tensor *x = lb_checktensor(L, 1);
    red_args r;
    parse_red(L, x, 2, 1, &r);
    rt_tensor **slot = lb_newslot(L);
    rt_status st = std ? rt_ad_std(x, r.dim, r.all, r.unbiased, r.keepdim, slot)
                       : rt_ad_var(x, r.dim, r.all, r.unbiased, r.keepdim, slot);
    return LB_RESULT(L, st, 1);
}

static int l_var(lua_State *L) { return var_std(L, 0); }
static int l_std(lua_State *L) { return var_std(L, 1); }

static int l_logsumexp(lua_State *L)
{
    rt_tensor *x = lb_checktensor(L, 1);
    red_args r;
    parse_red(L, x, 2, 0, &r);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_logsumexp(x, r.dim, r.all, r.keepdim, slot), 1);
}

/* p at stack index idx: a positive number, math.huge, 'inf' or 'fro' (= 2). */
static double to_p(lua_State *L, int idx, int arg)
{
    double p;
    if (lua_type(L, idx) == LUA_TSTRING) {
        const char *s = lua_tostring(L, idx);
        if (strcmp(s, "fro") == 0) return 2;
        if (strcmp(s, "inf") == 0) return INFINITY;
        luaL_argerror(L, arg, lua_pushfstring(L, "p must be a positive number, 'inf' or 'fro', "
                                              "got '%s'", s));
    }
    if (lua_type(L, idx) != LUA_TNUMBER)
        luaL_argerror(L, arg, lua_pushfstring(L, "p (a number) expected, got %s",
                                              lb_typename(L, idx)));
    p = lua_tonumber(L, idx);
    if (!(p > 0))
        luaL_argerror(L, arg, lua_pushfstring(L, "p must be positive (1, 2, 3, ... or math.huge), "
                                              "got %f", p));
    return p;
}

/* t:norm(p=2, dim?, keepdim?) or t:norm{p=, dim=, keepdim=} */
static int l_norm(lua_State *L)
{
    rt_tensor *x = lb_checktensor(L, 1);
    red_args r = { 0, 1, 0, 0 };
    double p = 2;
    if (is_options(L, 2)) {
        lb_check_options(L, 2, "p dim keepdim");
        if (get_opt(L, 2, "p") != LUA_TNIL) {
            p = to_p(L, lua_gettop(L), 2);
            lua_pop(L, 1);
        }
        if (opt_dim(L, 2, x->ndim, &r.dim)) r.all = 0;
        r.keepdim = opt_bool(L, 2, "keepdim", 0);
    } else {
        if (!is_absent(L, 2)) p = to_p(L, 2, 2);
        parse_red(L, x, 3, 0, &r);
    }
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_norm(x, p, r.dim, r.all, r.keepdim, slot), 1);
}

/* ---- max / min / argmax / argmin ------------------------------------------------------------- */
/* t:max() -> 0-d; t:max(dim, keepdim?) -> values, indices; t:max(other) -> elementwise. */
static int extremum(lua_State *L, int max)
{
    rt_tensor *x = lb_checktensor(L, 1);
    rt_tensor *other = lb_testtensor(L, 2);
    if (other) {
        rt_tensor **slot = lb_newslot(L);
        return LB_RESULT(L, rt_ad_binary(max ? RT_MAXIMUM : RT_MINIMUM, x, other, slot), 1);
    }
    red_args r;
    parse_red(L, x, 2, 0, &r);
    if (r.all) {
        rt_tensor **slot = lb_newslot(L);
        return LB_RESULT(L, rt_ad_reduce(max ? RT_AMAX : RT_AMIN, x, 0, 1, r.keepdim, slot), 1);
    }
    rt_tensor **v = lb_newslot(L), **ix = lb_newslot(L);
    rt_status st = max ? rt_ad_max_dim(x, r.dim, r.keepdim, v, ix)
                       : rt_ad_min_dim(x, r.dim, r.keepdim, v, ix);
    if (st == RT_OK) st = plus_one(ix);
    return st == RT_OK ? 2 : lb_raise(L, st, 1);
}

static int l_max(lua_State *L) { return extremum(L, 1); }
static int l_min(lua_State *L) { return extremum(L, 0); }

static int arg_extremum(lua_State *L, int max)
{
    rt_tensor *x = lb_checktensor(L, 1);
    red_args r;
    parse_red(L, x, 2, 0, &r);
    rt_tensor **slot = lb_newslot(L);
    rt_status st = max ? rt_argmax(x, r.dim, r.all, r.keepdim, slot)
                       : rt_argmin(x, r.dim, r.all, r.keepdim, slot);
    if (st == RT_OK) st = plus_one(slot);
    return LB_RESULT(L, st, 1);
}

static int l_argmax(lua_State *L) { return arg_extremum(L, 1); }
static int l_argmin(lua_State *L) { return arg_extremum(L, 0); }

/* ---- along one dim --------------------------------------------------------------------------- */
static int l_softmax(lua_State *L)
{
    rt_tensor *x = lb_checktensor(L, 1);
    int dim = parse_dim(L, x, 2, -1, "softmax");
    if (is_options(L, 2)) lb_check_options(L, 2, "dim");
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_softmax(x, dim, slot), 1);
}

static int l_log_softmax(lua_State *L)
{
    rt_tensor *x = lb_checktensor(L, 1);
    int dim = parse_dim(L, x, 2, -1, "log_softmax");
    if (is_options(L, 2)) lb_check_options(L, 2, "dim");
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_log_softmax(x, dim, slot), 1);
}

/* dim may be left out for a tensor with at most one dimension. */
static int l_cumsum(lua_State *L)
{
    rt_tensor *x = lb_checktensor(L, 1);
    int dim = parse_dim(L, x, 2, x->ndim <= 1 ? 0 : -1, "cumsum");
    if (is_options(L, 2)) lb_check_options(L, 2, "dim");
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_cumsum(x, dim, slot), 1);
}

/* t:sort(dim=-1, descending=false) or t:sort{dim=, descending=}; the last dim by default. */
static int sort(lua_State *L, int values_too)
{
    rt_tensor *x = lb_checktensor(L, 1);
    int last = x->ndim > 0 ? x->ndim - 1 : 0;
    int dim = parse_dim(L, x, 2, last, "sort");
    int desc = parse_flag(L, 2, 3, "descending", 0);
    rt_tensor **v = lb_newslot(L), **ix = lb_newslot(L);
    rt_status st = rt_ad_sort(x, dim, desc, v, ix);
    if (st == RT_OK) st = plus_one(ix);
    if (st != RT_OK) return lb_raise(L, st, 1);
    if (values_too) return 2;
    lua_remove(L, -2);
    return 1;
}

static int l_sort(lua_State *L) { return sort(L, 1); }
static int l_argsort(lua_State *L) { return sort(L, 0); }

/* t:topk(k, dim=-1, largest=true) or t:topk(k, {dim=, largest=}) */
static int l_topk(lua_State *L)
{
    rt_tensor *x = lb_checktensor(L, 1);
    int isint;
    lua_Integer k = lua_tointegerx(L, 2, &isint);
    if (!isint)
        luaL_argerror(L, 2, lua_pushfstring(L, "k (an integer) expected, got %s",
                                            lb_typename(L, 2)));
    int dim = parse_dim(L, x, 3, x->ndim > 0 ? x->ndim - 1 : 0, "topk");
    int largest = parse_flag(L, 3, 4, "largest", 1);
    int64_t n = x->ndim > 0 ? x->shape[dim] : 1;
    if (k < 0 || k > n)
        luaL_argerror(L, 2, lua_pushfstring(L, "k = %I is out of range: dimension %d has size %I",
                                            k, dim + 1, (lua_Integer)n));
    rt_tensor **v = lb_newslot(L), **ix = lb_newslot(L);
    rt_status st = rt_ad_topk(x, (int64_t)k, dim, largest, v, ix);
    if (st == RT_OK) st = plus_one(ix);
    return st == RT_OK ? 2 : lb_raise(L, st, 1);
}

/* ---- registration ---------------------------------------------------------------------------- */
static const lb_fn reduce_fns[] = {
    {"sum", l_sum, "nb.sum(t, dim?, keepdim?) — sum of all elements (0-d) or along dim; also "
     "t:sum{dim=, keepdim=}"},
    {"mean", l_mean, "nb.mean(t, dim?, keepdim?) — mean of all elements or along dim (floats)"},
    {"prod", l_prod, "nb.prod(t, dim?, keepdim?) — product; its gradient is exact with zeros"},
    {"amax", l_amax, "nb.amax(t, dim?, keepdim?) — maximum value; ties share the gradient"},
    {"amin", l_amin, "nb.amin(t, dim?, keepdim?) — minimum value; ties share the gradient"},
    {"var", l_var, "nb.var(t, dim?, {unbiased=false, keepdim=false}) — variance, divided by n "
     "(n - 1 with unbiased=true)"},
    {"std", l_std, "nb.std(t, dim?, {unbiased=false, keepdim=false}) — standard deviation "
     "(gradient 0 where it is 0)"},
    {"norm", l_norm, "nb.norm(t, p=2, dim?, keepdim?) — (sum |x|^p)^(1/p); p = math.huge or "
     "'inf' is max |x|; also t:norm{p=, dim=, keepdim=}"},
    {"max", l_max, "nb.max(t, dim?, keepdim?) — the maximum (0-d) without dim; with dim: values, "
     "indices (1-based); nb.max(a, b) is elementwise"},
    {"min", l_min, "nb.min(t, dim?, keepdim?) — the minimum (0-d) without dim; with dim: values, "
     "indices (1-based); nb.min(a, b) is elementwise"},
    {"argmax", l_argmax, "nb.argmax(t, dim?, keepdim?) — 1-based position of the maximum (first "
     "on ties; the flat index without dim)"},
    {"argmin", l_argmin, "nb.argmin(t, dim?, keepdim?) — 1-based position of the minimum (first "
     "on ties; the flat index without dim)"},
    {"logsumexp", l_logsumexp, "nb.logsumexp(t, dim?, keepdim?) — log(sum(exp(t))) without "
     "overflow"},
    {"cumsum", l_cumsum, "nb.cumsum(t, dim) — running sum along dim (dim optional for 1-D)"},
    {"softmax", l_softmax, "nb.softmax(t, dim) — exp(t) / sum(exp(t)) along dim (dim required)"},
    {"log_softmax", l_log_softmax, "nb.log_softmax(t, dim) — log of softmax along dim, stable "
     "(dim required)"},
    {"sort", l_sort, "nb.sort(t, dim=-1, descending=false) — sorted values and 1-based indices "
     "(stable)"},
    {"argsort", l_argsort, "nb.argsort(t, dim=-1, descending=false) — 1-based indices that sort t"},
    {"topk", l_topk, "nb.topk(t, k, dim=-1, {largest=true}) — the k largest (or smallest) values "
     "and their 1-based indices, sorted"},
    {NULL, NULL, NULL}
};

void lb_open_reduce(lua_State *L)
{
    lb_register(L, -1, reduce_fns);
    lb_push_methods(L);
    lb_register(L, -1, reduce_fns);
    lua_pop(L, 1);
}
