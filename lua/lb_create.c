/* lb_create.c — creating tensors from Lua: nb.tensor from nested tables, zeros/ones/full/
** empty/arange/linspace/eye, the random constructors, and the *_like variants.  A shape is
** given as numbers (nb.zeros(2,3)) or a table (nb.zeros{2,3}), followed optionally by a dtype
** string or an options table {dtype=, requires_grad=}. */
#include <math.h>
#include <string.h>
#include "lb.h"

typedef struct {
    int ndim;
    int64_t shape[RT_MAXDIM];
    rt_dtype dtype;
    int requires_grad;
} spec;

/* Reads options (dtype string or table) at arg. */
static void read_opts(lua_State *L, int arg, spec *s)
{
    if (lua_type(L, arg) == LUA_TSTRING) {
        s->dtype = lb_checkdtype(L, arg);
    } else if (lua_istable(L, arg) && !lb_testtensor(L, arg)) {
        s->dtype = lb_optfield_dtype(L, arg, "dtype", s->dtype);
        s->requires_grad = lb_optfield_bool(L, arg, "requires_grad", 0);
    } else if (!lua_isnoneornil(L, arg)) {
        luaL_argerror(L, arg, lua_pushfstring(L, "dtype or options table expected, got %s",
                                              lb_typename(L, arg)));
    }
}

/* Shape at arg (numbers or a table), then options; returns the index after them. */
static int read_spec(lua_State *L, int arg, spec *s, rt_dtype def)
{
    s->dtype = def;
    s->requires_grad = 0;
    int is_table = lua_istable(L, arg);
    s->ndim = lb_checkshape(L, arg, s->shape);
    int next = is_table ? arg + 1 : arg + s->ndim;
    read_opts(L, next, s);
    return next + 1;
}

static int finish(lua_State *L, rt_tensor **slot, rt_status st, const spec *s)
{
    if (st != RT_OK) return lb_raise(L, st, 0);
    if (s->requires_grad) {
        st = rt_set_requires_grad(*slot, 1);
        if (st != RT_OK) return lb_raise(L, st, 0);
    }
    return 1;   /* the slot is on top */
}

static int l_zeros(lua_State *L)
{
    spec s;
    read_spec(L, 1, &s, RT_F32);
    rt_tensor **slot = lb_newslot(L);
    return finish(L, slot, rt_zeros(s.dtype, s.ndim, s.shape, slot), &s);
}

static int l_ones(lua_State *L)
{
    spec s;
    read_spec(L, 1, &s, RT_F32);
    rt_tensor **slot = lb_newslot(L);
    return finish(L, slot, rt_ones(s.dtype, s.ndim, s.shape, slot), &s);
}

static int l_empty(lua_State *L)
{
    spec s;
    read_spec(L, 1, &s, RT_F32);
    rt_tensor **slot = lb_newslot(L);
    return finish(L, slot, rt_zeros(s.dtype, s.ndim, s.shape, slot), &s);
}

static int l_full(lua_State *L)
{
    spec s = { .dtype = RT_F32 };
    luaL_checktype(L, 1, LUA_TTABLE);
    s.ndim = lb_checkshape(L, 1, s.shape);
    lua_Number v = luaL_checknumber(L, 2);
    read_opts(L, 3, &s);
    rt_tensor **slot = lb_newslot(L);
    return finish(L, slot, rt_full(s.dtype, s.ndim, s.shape, v, slot), &s);
}

static int l_arange(lua_State *L)
{
    lua_Number a = luaL_checknumber(L, 1);
    int has_b = lua_type(L, 2) == LUA_TNUMBER;
    lua_Number b = has_b ? lua_tonumber(L, 2) : a;
    if (!has_b) a = 1;   /* nb.arange(n) = 1..n, like Lua's for */
    lua_Number step = lua_type(L, 3) == LUA_TNUMBER ? lua_tonumber(L, 3) : 1;
    spec s = { .dtype = RT_F32 };
    read_opts(L, has_b ? (lua_type(L, 3) == LUA_TNUMBER ? 4 : 3) : 2, &s);
    rt_tensor **slot = lb_newslot(L);
    return finish(L, slot, rt_arange(s.dtype, a, b, step, slot), &s);
}

static int l_linspace(lua_State *L)
{
    lua_Number a = luaL_checknumber(L, 1), b = luaL_checknumber(L, 2);
    lua_Integer n = luaL_checkinteger(L, 3);
    spec s = { .dtype = RT_F32 };
    read_opts(L, 4, &s);
    rt_tensor **slot = lb_newslot(L);
    return finish(L, slot, rt_linspace(s.dtype, a, b, n, slot), &s);
}

static int l_eye(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    int has_m = lua_type(L, 2) == LUA_TNUMBER;
    lua_Integer m = has_m ? lua_tointeger(L, 2) : n;
    if (n < 0 || m < 0) luaL_argerror(L, 1, "sizes must be non-negative");
    spec s = { .dtype = RT_F32 };
    read_opts(L, has_m ? 3 : 2, &s);
    rt_tensor **slot = lb_newslot(L);
    return finish(L, slot, rt_eye(s.dtype, n, m, slot), &s);
}

/* ---- random ------------------------------------------------------------------------------ */
static int l_rand(lua_State *L)
{
    spec s;
    read_spec(L, 1, &s, RT_F32);
    rt_tensor **slot = lb_newslot(L);
    return finish(L, slot, rt_rand_uniform(NULL, s.dtype, s.ndim, s.shape, 0, 1, slot), &s);
}

static int l_randn(lua_State *L)
{
    spec s;
    read_spec(L, 1, &s, RT_F32);
    rt_tensor **slot = lb_newslot(L);
    return finish(L, slot, rt_rand_normal(NULL, s.dtype, s.ndim, s.shape, 0, 1, slot), &s);
}

static int l_randint(lua_State *L)
{
    lua_Integer lo = luaL_checkinteger(L, 1), hi = luaL_checkinteger(L, 2);
    spec s;
    read_spec(L, 3, &s, RT_I64);
    rt_tensor **slot = lb_newslot(L);
    return finish(L, slot, rt_randint(NULL, lo, hi, s.dtype, s.ndim, s.shape, slot), &s);
}

static int l_randperm(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    if (n < 0) luaL_argerror(L, 1, "n must be non-negative");
    rt_tensor **tmp = lb_newslot(L);
    rt_status st = rt_randperm(NULL, n, tmp);
    if (st != RT_OK) return lb_raise(L, st, 1);
    rt_tensor **slot = lb_newslot(L);   /* 1-based like every index in Lua */
    return LB_RESULT(L, rt_binary_scalar(RT_ADD, *tmp, 1, 0, slot), 1);
}

static int l_bernoulli(lua_State *L)
{
    rt_tensor *p = lb_testtensor(L, 1);
    rt_tensor **slot;
    if (p) {
        slot = lb_newslot(L);
        return LB_RESULT(L, rt_bernoulli(NULL, p, slot), 1);
    }
    lua_Number prob = luaL_checknumber(L, 1);
    spec s;
    read_spec(L, 2, &s, RT_F32);
    slot = lb_newslot(L);
    return finish(L, slot, rt_bernoulli_scalar(NULL, prob, s.dtype, s.ndim, s.shape, slot), &s);
}

/* ---- *_like ------------------------------------------------------------------------------- */
typedef enum { LIKE_ZEROS, LIKE_ONES, LIKE_RAND, LIKE_RANDN, LIKE_FULL } like_kind;

static int make_like(lua_State *L, like_kind k)
{
    rt_tensor *t = lb_checktensor(L, 1);
    spec s = { .ndim = t->ndim, .dtype = t->dtype };
    memcpy(s.shape, t->shape, sizeof s.shape);
    lua_Number v = k == LIKE_FULL ? luaL_checknumber(L, 2) : 0;
    read_opts(L, k == LIKE_FULL ? 3 : 2, &s);
    rt_tensor **slot = lb_newslot(L);
    rt_status st;
    switch (k) {
    case LIKE_ZEROS: st = rt_zeros(s.dtype, s.ndim, s.shape, slot); break;
    case LIKE_ONES: st = rt_ones(s.dtype, s.ndim, s.shape, slot); break;
    case LIKE_FULL: st = rt_full(s.dtype, s.ndim, s.shape, v, slot); break;
    case LIKE_RAND: st = rt_rand_uniform(NULL, s.dtype, s.ndim, s.shape, 0, 1, slot); break;
    default: st = rt_rand_normal(NULL, s.dtype, s.ndim, s.shape, 0, 1, slot); break;
    }
    return finish(L, slot, st, &s);
}

static int l_zeros_like(lua_State *L) { return make_like(L, LIKE_ZEROS); }
static int l_ones_like(lua_State *L) { return make_like(L, LIKE_ONES); }
static int l_full_like(lua_State *L) { return make_like(L, LIKE_FULL); }
static int l_rand_like(lua_State *L) { return make_like(L, LIKE_RAND); }
static int l_randn_like(lua_State *L) { return make_like(L, LIKE_RANDN); }

/* ---- nb.tensor from nested tables ---------------------------------------------------------- */
static void infer_shape(lua_State *L, int idx, spec *s)
{
    s->ndim = 0;
    lua_pushvalue(L, idx);
    while (lua_istable(L, -1)) {
        if (s->ndim == RT_MAXDIM)
            luaL_error(L, "tensor: nested tables deeper than %d levels", RT_MAXDIM);
        s->shape[s->ndim++] = (int64_t)luaL_len(L, -1);
        if (luaL_len(L, -1) == 0) break;
        lua_geti(L, -1, 1);
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
}

/* Copies the nested table at idx (depth d) into t, checking that it is rectangular. */
static void fill_from(lua_State *L, int idx, rt_tensor *t, int d, int64_t *pos)
{
    luaL_checkstack(L, 3, "tensor: nesting too deep");
    if (d == t->ndim) {
        int isnum;
        lua_Number v = lua_tonumberx(L, idx, &isnum);
        if (!isnum) {
            if (lua_isboolean(L, idx)) v = lua_toboolean(L, idx);
            else luaL_error(L, "tensor: element %d is %s, expected a number",
                            (int)(pos[0] + 1), lb_typename(L, idx));
        }
        int64_t k = pos[0]++;
        switch (t->dtype) {
        case RT_F32: ((float *)t->storage->data)[k] = (float)v; break;
        case RT_F64: ((double *)t->storage->data)[k] = v; break;
        case RT_I64:
            ((int64_t *)t->storage->data)[k] = lua_isinteger(L, idx) ? lua_tointeger(L, idx)
                                                                      : (int64_t)v;
            break;
        }
        return;
    }
    if (!lua_istable(L, idx) || luaL_len(L, idx) != t->shape[d])
        luaL_error(L, "tensor: ragged nested table: a row at depth %d has %s elements where "
                   "%I were expected", d + 1,
                   lua_istable(L, idx) ? lua_pushfstring(L, "%I", luaL_len(L, idx)) : "no",
                   (lua_Integer)t->shape[d]);
    for (int64_t i = 1; i <= t->shape[d]; i++) {
        lua_geti(L, idx, i);
        fill_from(L, lua_gettop(L), t, d + 1, pos);
        lua_pop(L, 1);
    }
}

static int l_tensor(lua_State *L)
{
    spec s = { .dtype = RT_F32 };
    rt_tensor *src = lb_testtensor(L, 1);
    if (src) s.dtype = src->dtype;
    read_opts(L, 2, &s);
    rt_tensor **slot = lb_newslot(L);
    rt_status st;
    if (src) {
        st = rt_to_dtype(src, s.dtype, slot);
    } else if (lua_type(L, 1) == LUA_TNUMBER || lua_isboolean(L, 1)) {
        st = rt_scalar(s.dtype, lua_isboolean(L, 1) ? lua_toboolean(L, 1) : lua_tonumber(L, 1),
                       slot);
    } else if (lua_istable(L, 1)) {
        infer_shape(L, 1, &s);
        st = rt_empty(s.dtype, s.ndim, s.shape, slot);
        if (st == RT_OK) {
            int64_t pos = 0;
            fill_from(L, 1, *slot, 0, &pos);
        }
    } else {
        return luaL_argerror(L, 1, lua_pushfstring(L, "number, nested table or tensor expected, "
                                                   "got %s", lb_typename(L, 1)));
    }
    return finish(L, slot, st, &s);
}

static const lb_fn create_fns[] = {
    {"tensor", l_tensor, "nb.tensor(data, {dtype=, requires_grad=}) — a tensor from a number, "
     "nested tables or another tensor (copied)"},
    {"from_table", l_tensor, "nb.from_table(data, opts?) — same as nb.tensor"},
    {"zeros", l_zeros, "nb.zeros(size..., dtype?) — a tensor of zeros; size as numbers or a table"},
    {"ones", l_ones, "nb.ones(size..., dtype?) — a tensor of ones"},
    {"empty", l_empty, "nb.empty(size..., dtype?) — a new tensor (zero-filled here)"},
    {"full", l_full, "nb.full(shape, v, dtype?) — a tensor filled with v"},
    {"arange", l_arange, "nb.arange(a, b, step?) — a, a+step, ... up to b inclusive (like for)"},
    {"linspace", l_linspace, "nb.linspace(a, b, n) — n evenly spaced points from a to b"},
    {"eye", l_eye, "nb.eye(n, m?) — identity matrix"},
    {"rand", l_rand, "nb.rand(size...) — uniform on [0, 1)"},
    {"randn", l_randn, "nb.randn(size...) — standard normal"},
    {"randint", l_randint, "nb.randint(lo, hi, size...) — integers in lo..hi inclusive (i64)"},
    {"randperm", l_randperm, "nb.randperm(n) — a random permutation of 1..n (i64)"},
    {"bernoulli", l_bernoulli, "nb.bernoulli(p, size...) — 0/1 draws with probability p "
     "(a number, or a tensor of probabilities)"},
    {"zeros_like", l_zeros_like, "nb.zeros_like(t, dtype?) — zeros of t's shape and dtype"},
    {"ones_like", l_ones_like, "nb.ones_like(t, dtype?) — ones of t's shape and dtype"},
    {"full_like", l_full_like, "nb.full_like(t, v, dtype?) — v in t's shape"},
    {"rand_like", l_rand_like, "nb.rand_like(t) — uniform [0,1) in t's shape"},
    {"randn_like", l_randn_like, "nb.randn_like(t) — standard normal in t's shape"},
    {NULL, NULL, NULL}
};

void lb_open_create(lua_State *L)
{
    lb_register(L, -1, create_fns);
}
