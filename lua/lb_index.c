/* lb_index.c — indexed ops and joining from Lua: index_select, index_add, gather, scatter_add,
** masked_fill, masked_select, nonzero, one_hot, embedding, cat, stack, split, chunk.
** Index arguments are i64 tensors holding 1-based indices (index_select also takes a Lua list
** of integers); the binding subtracts 1 before the runtime call, and runtime index errors, which
** print 0-based values, are rewritten 1-based ("index 6 out of range 1..5 in dimension 2").
** Returned indices (nonzero) are 1-based.  Dims are 1-based or negative, as everywhere. */
#include <stdio.h>
#include <string.h>
#include "lb.h"

#define LB_LIST_MT "nabla.TensorList"

/* ---- index arguments ------------------------------------------------------------------------ */
/* A Lua list of 1-based integers as a 0-based 1-D i64 tensor (anchored on the stack top). */
static rt_tensor *table_index(lua_State *L, int arg)
{
    int64_t n = (int64_t)luaL_len(L, arg);
    rt_tensor **slot = lb_newslot(L);
    rt_status st = rt_empty(RT_I64, 1, &n, slot);
    if (st != RT_OK) lb_raise(L, st, 0);
    int64_t *p = rt_tensor_data(*slot);
    for (int64_t i = 0; i < n; i++) {
        int isint;
        lua_geti(L, arg, (lua_Integer)i + 1);
        lua_Integer v = lua_tointegerx(L, -1, &isint);
        if (!isint)
            luaL_argerror(L, arg, lua_pushfstring(L, "index list entry %I is %s, expected an "
                                                  "integer", (lua_Integer)i + 1,
                                                  luaL_typename(L, -1)));
        p[i] = (int64_t)((uint64_t)v - 1u);   /* wraps instead of overflowing at mininteger */
        lua_pop(L, 1);
    }
    return *slot;
}

/* The 1-based i64 index tensor at arg (or a list, if allow_list) as a 0-based tensor, anchored
** on the stack top. */
static rt_tensor *check_index(lua_State *L, int arg, int allow_list)
{
    if (allow_list && lua_istable(L, arg) && !lb_testtensor(L, arg)) return table_index(L, arg);
    rt_tensor *t = lb_testtensor(L, arg);
    if (!t)
        luaL_argerror(L, arg, lua_pushfstring(L, "index tensor expected%s, got %s",
                                              allow_list ? " (or a list of integers)" : "",
                                              lb_typename(L, arg)));
    if (t->dtype != RT_I64)
        luaL_argerror(L, arg, lua_pushfstring(L, "index must be an i64 tensor (use :to('i64')), "
                                              "got %s", rt_dtype_name(t->dtype)));
    rt_tensor **slot = lb_newslot(L);
    rt_status st = rt_binary_scalar(RT_SUB, t, 1, 0, slot);
    if (st != RT_OK) lb_raise(L, st, 0);
    return *slot;
}

/* Pushes msg with its first "index V out of range [0, H]" made 1-based: "index V+1 out of
** range 1..H+1" (and "index V+1 out of range (none is valid)"). */
static const char *one_based_message(lua_State *L, const char *msg)
{
    for (const char *p = strstr(msg, "index "); p; p = strstr(p + 1, "index ")) {
        long long v, hi;
        int used = -1, used2 = -1;
        lua_Integer v1;
        if (sscanf(p, "index %lld out of range%n", &v, &used) != 1 || used < 0) continue;
        const char *q = p + used;
        v1 = (lua_Integer)((unsigned long long)v + 1u);   /* wraps rather than overflows */
        lua_pushlstring(L, msg, (size_t)(p - msg));
        if (sscanf(q, " [0, %lld]%n", &hi, &used2) == 1 && used2 >= 0)
            lua_pushfstring(L, "%sindex %I out of range 1..%I%s", lua_tostring(L, -1), v1,
                            (lua_Integer)hi + 1, q + used2);
        else
            lua_pushfstring(L, "%sindex %I out of range%s", lua_tostring(L, -1), v1, q);
        lua_remove(L, -2);
        return lua_tostring(L, -1);
    }
    return lua_pushstring(L, msg);
}

/* lb_raise, with index values shown 1-based. */
static int raise_index(lua_State *L, rt_status st, int argbase)
{
    if (st != RT_EINDEX) return lb_raise(L, st, argbase);
    int op = rt_last_operand();
    const char *msg = one_based_message(L, rt_last_error());
    if (argbase > 0 && op >= 0) return luaL_argerror(L, argbase + op, msg);
    return lua_error(L);
}

#define INDEX_RESULT(L, st, argbase) ((st) == RT_OK ? 1 : raise_index((L), (st), (argbase)))

/* ---- index_select / index_add ---------------------------------------------------------------- */
static int l_index_select(lua_State *L)
{
    lua_settop(L, 3);   /* index copies are pushed above the arguments */
    rt_tensor *x = lb_checktensor(L, 1);
    int d = lb_checkdim(L, 2, x->ndim);
    rt_tensor *ix = check_index(L, 3, 1);
    rt_tensor **slot = lb_newslot(L);
    return INDEX_RESULT(L, rt_ad_index_select(x, d, ix, slot), 1);
}

static int l_index_add(lua_State *L)
{
    lua_settop(L, 4);   /* index copies are pushed above the arguments */
    rt_tensor *x = lb_checktensor(L, 1);
    int d = lb_checkdim(L, 2, x->ndim);
    rt_tensor *ix = check_index(L, 3, 1);
    rt_tensor *src = lb_checktensor(L, 4);
    rt_tensor **slot = lb_newslot(L);
    return INDEX_RESULT(L, rt_ad_index_add(x, d, ix, src, slot), 1);
}

/* An in-place write that autograd cannot record: refused when x is tracked (rt_check_inplace)
** and when src is, since the result would silently lose src's gradient. */
static rt_status check_inplace_src(const char *op, const rt_tensor *x, const rt_tensor *src)
{
    rt_status st = rt_check_inplace(op, x);
    if (st == RT_OK && rt_any_requires_grad(1, (rt_tensor *const *)&src))
        st = rt_fail(RT_EARG, 3, "%s: src requires grad, but an in-place write is not recorded "
                     "by autograd; use the out-of-place %.*s", op, (int)strlen(op) - 1, op);
    return st;
}

static int l_index_add_(lua_State *L)
{
    lua_settop(L, 4);   /* index copies are pushed above the arguments */
    rt_tensor *x = lb_checktensor(L, 1);
    int d = lb_checkdim(L, 2, x->ndim);
    rt_tensor *ix = check_index(L, 3, 1);
    rt_tensor *src = lb_checktensor(L, 4);
    rt_status st = check_inplace_src("index_add_", x, src);
    if (st == RT_OK) st = rt_index_add_(x, d, ix, src);
    lua_settop(L, 1);
    return INDEX_RESULT(L, st, 1);
}

/* ---- gather / scatter_add -------------------------------------------------------------------- */
static int l_gather(lua_State *L)
{
    lua_settop(L, 3);   /* index copies are pushed above the arguments */
    rt_tensor *x = lb_checktensor(L, 1);
    int d = lb_checkdim(L, 2, x->ndim);
    rt_tensor *ix = check_index(L, 3, 0);
    rt_tensor **slot = lb_newslot(L);
    return INDEX_RESULT(L, rt_ad_gather(x, d, ix, slot), 1);
}

static int l_scatter_add(lua_State *L)
{
    lua_settop(L, 4);   /* index copies are pushed above the arguments */
    rt_tensor *x = lb_checktensor(L, 1);
    int d = lb_checkdim(L, 2, x->ndim);
    rt_tensor *ix = check_index(L, 3, 0);
    rt_tensor *src = lb_checktensor(L, 4);
    rt_tensor **slot = lb_newslot(L);
    return INDEX_RESULT(L, rt_ad_scatter_add(x, d, ix, src, slot), 1);
}

static int l_scatter_add_(lua_State *L)
{
    lua_settop(L, 4);   /* index copies are pushed above the arguments */
    rt_tensor *x = lb_checktensor(L, 1);
    int d = lb_checkdim(L, 2, x->ndim);
    rt_tensor *ix = check_index(L, 3, 0);
    rt_tensor *src = lb_checktensor(L, 4);
    rt_status st = check_inplace_src("scatter_add_", x, src);
    if (st == RT_OK) st = rt_scatter_add_(x, d, ix, src);
    lua_settop(L, 1);
    return INDEX_RESULT(L, st, 1);
}

/* ---- masks ----------------------------------------------------------------------------------- */
static int l_masked_fill(lua_State *L)
{
    rt_tensor *x = lb_checktensor(L, 1), *mask = lb_checktensor(L, 2);
    lua_Number v = luaL_checknumber(L, 3);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_masked_fill(x, mask, v, slot), 1);
}

static int l_masked_select(lua_State *L)
{
    rt_tensor *x = lb_checktensor(L, 1), *mask = lb_checktensor(L, 2);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_masked_select(x, mask, slot), 1);
}

static int l_nonzero(lua_State *L)
{
    rt_tensor *x = lb_checktensor(L, 1);
    rt_tensor **tmp = lb_newslot(L);
    rt_status st = rt_nonzero(x, tmp);
    if (st != RT_OK) return lb_raise(L, st, 1);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_binary_scalar(RT_ADD, *tmp, 1, 0, slot), 1);
}

/* ---- one_hot, embedding ---------------------------------------------------------------------- */
static int l_one_hot(lua_State *L)
{
    lua_settop(L, 3);   /* index copies are pushed above the arguments */
    rt_tensor *ix = check_index(L, 1, 0);
    lua_Integer n = luaL_checkinteger(L, 2);
    rt_dtype dt = lua_istable(L, 3) ? lb_optfield_dtype(L, 3, "dtype", RT_F32)
                                    : lb_optdtype(L, 3, RT_F32);
    rt_tensor **slot = lb_newslot(L);
    return INDEX_RESULT(L, rt_one_hot(ix, (int64_t)n, dt, slot), 1);
}

static int l_embedding(lua_State *L)
{
    lua_settop(L, 3);   /* index copies are pushed above the arguments */
    rt_tensor *w = lb_checktensor(L, 1);
    rt_tensor *ix = check_index(L, 2, 0);
    lua_Integer pad = lb_optfield_integer(L, 3, "padding_idx", LUA_MININTEGER), pad0 = -1;
    if (pad != LUA_MININTEGER && w->ndim == 2) {
        lua_Integer v = (lua_Integer)w->shape[0];
        if (pad > v || pad < -v || pad == 0)
            luaL_argerror(L, 3, lua_pushfstring(L, "padding_idx %I out of range 1..%I (or "
                                                "-%I..-1)", pad, v, v));
        pad0 = pad < 0 ? pad + v : pad - 1;
    }
    rt_tensor **slot = lb_newslot(L);
    return INDEX_RESULT(L, rt_ad_embedding(w, ix, pad0, slot), 1);
}

/* ---- cat / stack ----------------------------------------------------------------------------- */
/* The tensors of the list at arg 1, in an array of Lua memory (anchored on the stack). */
static rt_tensor **check_list(lua_State *L, int *n)
{
    if (lb_testtensor(L, 1))
        luaL_argerror(L, 1, "a list of tensors expected, got a tensor (write {a, b})");
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer len = luaL_len(L, 1);
    if (len < 1) luaL_argerror(L, 1, "a non-empty list of tensors expected");
    if (len > 1 << 20) luaL_argerror(L, 1, "too many tensors");
    rt_tensor **ts = lua_newuserdatauv(L, (size_t)len * sizeof *ts, 0);
    for (lua_Integer i = 0; i < len; i++) {
        lua_geti(L, 1, i + 1);
        ts[i] = lb_testtensor(L, -1);   /* borrowed: the list keeps it alive */
        if (!ts[i])
            luaL_argerror(L, 1, lua_pushfstring(L, "entry %I of the list is %s, expected a tensor",
                                                i + 1, lb_typename(L, -1)));
        lua_pop(L, 1);
    }
    *n = (int)len;
    return ts;
}

/* A runtime error about list entry k ("tensor 2 has shape ...") is an error in argument 1. */
static int raise_list(lua_State *L, rt_status st)
{
    if (st == RT_EINTERRUPT || rt_last_operand() < 0) return lb_raise(L, st, 0);
    return luaL_argerror(L, 1, lua_pushstring(L, rt_last_error()));
}

static int l_cat(lua_State *L)
{
    lua_settop(L, 2);   /* the list copy is pushed above the arguments */
    int n, nd = -1;
    rt_tensor **ts = check_list(L, &n);
    for (int i = 0; i < n && nd < 0; i++)   /* empty 1-D tensors are skipped, as by the kernel */
        if (!(ts[i]->ndim == 1 && ts[i]->shape[0] == 0)) nd = ts[i]->ndim;
    int d = lb_optdim(L, 2, nd < 0 ? 1 : nd, 0);
    rt_tensor **slot = lb_newslot(L);
    rt_status st = rt_ad_cat(n, ts, d, slot);
    return st == RT_OK ? 1 : raise_list(L, st);
}

static int l_stack(lua_State *L)
{
    lua_settop(L, 2);   /* the list copy is pushed above the arguments */
    int n;
    rt_tensor **ts = check_list(L, &n);
    int d = lb_optdim(L, 2, ts[0]->ndim + 1, 0);
    rt_tensor **slot = lb_newslot(L);
    rt_status st = rt_ad_stack(n, ts, d, slot);
    return st == RT_OK ? 1 : raise_list(L, st);
}

/* ---- split / chunk ------------------------------------------------------------------------------
** The pieces come back as a C array; it sits in a userdata with __gc until every piece has
** been moved into its own Lua slot, so an out-of-memory error while building the result
** leaks nothing. */
typedef struct {
    int n;
    int lua_array;       /* ts is the user value (Lua memory), else the runtime's list */
    rt_tensor **ts;
} tensor_list;

static int list_gc(lua_State *L)
{
    tensor_list *h = luaL_checkudata(L, 1, LB_LIST_MT);
    if (h->lua_array) {
        for (int i = 0; i < h->n; i++) rt_tensor_release(h->ts[i]);
    } else {
        rt_free_list(h->n, h->ts);
    }
    h->n = 0;
    h->ts = NULL;
    return 0;
}

/* Pushes an empty holder; with n > 0 it owns a zeroed array of n slots in Lua memory. */
static tensor_list *push_list(lua_State *L, int n)
{
    tensor_list *h = lua_newuserdatauv(L, sizeof *h, 1);
    h->n = 0;
    h->lua_array = n > 0;
    h->ts = NULL;
    luaL_setmetatable(L, LB_LIST_MT);
    if (n > 0) {
        rt_tensor **ts = lua_newuserdatauv(L, (size_t)n * sizeof *ts, 0);
        memset(ts, 0, (size_t)n * sizeof *ts);
        lua_setiuservalue(L, -2, 1);
        h->ts = ts;
        h->n = n;
    }
    return h;
}

/* Moves the holder's tensors into a new Lua list (pushed). */
static int list_to_table(lua_State *L, tensor_list *h)
{
    lua_createtable(L, h->n, 0);
    for (int i = 0; i < h->n; i++) {
        rt_tensor **slot = lb_newslot(L);
        *slot = h->ts[i];
        h->ts[i] = NULL;
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* t:split(size, d) or t:split({s1, s2, ...}, d) */
static int l_split(lua_State *L)
{
    rt_tensor *x = lb_checktensor(L, 1);
    if (x->ndim == 0) luaL_argerror(L, 1, "split: a 0-d tensor cannot be split");
    int d = lb_optdim(L, 3, x->ndim, 0);
    rt_status st;
    tensor_list *h;
    if (lua_istable(L, 2) && !lb_testtensor(L, 2)) {
        lua_Integer n = luaL_len(L, 2);
        if (n > 1 << 24) luaL_argerror(L, 2, "too many pieces");
        int64_t *sizes = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *sizes, 0);
        for (lua_Integer i = 0; i < n; i++) {
            int isint;
            lua_geti(L, 2, i + 1);
            sizes[i] = (int64_t)lua_tointegerx(L, -1, &isint);
            if (!isint)
                luaL_argerror(L, 2, lua_pushfstring(L, "size %I of the list is %s, expected an "
                                                    "integer", i + 1, luaL_typename(L, -1)));
            lua_pop(L, 1);
        }
        h = push_list(L, (int)n);
        st = rt_ad_split_sizes(x, d, (int)n, sizes, h->ts);
        if (st != RT_OK) {
            h->n = 0;   /* untouched on failure: nothing to release */
            if (rt_last_operand() < 0) return lb_raise(L, st, 0);
            return luaL_argerror(L, 2, lua_pushstring(L, rt_last_error()));
        }
    } else {
        lua_Integer size = luaL_checkinteger(L, 2);
        h = push_list(L, 0);
        st = rt_ad_split(x, (int64_t)size, d, &h->n, &h->ts);
        if (st != RT_OK) return lb_raise(L, st, 1);
    }
    return list_to_table(L, h);
}

static int l_chunk(lua_State *L)
{
    rt_tensor *x = lb_checktensor(L, 1);
    if (x->ndim == 0) luaL_argerror(L, 1, "chunk: a 0-d tensor cannot be split");
    lua_Integer chunks = luaL_checkinteger(L, 2);
    int d = lb_optdim(L, 3, x->ndim, 0);
    tensor_list *h = push_list(L, 0);
    rt_status st = rt_ad_chunk(x, (int64_t)chunks, d, &h->n, &h->ts);
    if (st != RT_OK) return lb_raise(L, st, 1);
    return list_to_table(L, h);
}

/* ---- registration ---------------------------------------------------------------------------- */
static const lb_fn index_fns[] = {
    {"index_select", l_index_select,
     "nb.index_select(t, d, idx) — the entries idx (1-based i64 tensor or list) of dim d; "
     "also t:index_select(d, idx)"},
    {"index_add", l_index_add,
     "nb.index_add(t, d, idx, src) — a copy of t with src's slices added at idx along d "
     "(duplicates accumulate); also t:index_add, and t:index_add_ in place"},
    {"gather", l_gather,
     "nb.gather(t, d, idx) — out[i][j] = t[idx[i][j]][j] for d = 1 (likewise other dims); "
     "idx is 1-based i64; also t:gather(d, idx)"},
    {"scatter_add", l_scatter_add,
     "nb.scatter_add(t, d, idx, src) — a copy of t with out[idx[i][j]][j] += src[i][j] for d = 1 "
     "(the adjoint of gather); also t:scatter_add, and t:scatter_add_ in place"},
    {"masked_fill", l_masked_fill,
     "nb.masked_fill(t, mask, v) — t with v where mask ~= 0 (mask broadcasts); "
     "also t:masked_fill(mask, v)"},
    {"masked_select", l_masked_select,
     "nb.masked_select(t, mask) — 1-D tensor of the entries where mask ~= 0; "
     "also t:masked_select(mask)"},
    {"nonzero", l_nonzero,
     "nb.nonzero(t) — 1-based i64 coordinates of the nonzero entries, shape [nnz, ndim]; "
     "also t:nonzero()"},
    {"one_hot", l_one_hot,
     "nb.one_hot(idx, n, dtype='f32') — one-hot rows for 1-based i64 classes idx in 1..n, shape "
     "idx.shape + {n}; f32 by default (PyTorch gives int64: pass 'i64')"},
    {"embedding", l_embedding,
     "nb.embedding(weight, idx, {padding_idx=}) — rows weight[idx] (1-based i64 idx of any "
     "shape); row padding_idx gets no gradient"},
    {"cat", l_cat,
     "nb.cat({a, b, ...}, d=1) — join along existing dim d (sizes may differ only there)"},
    {"stack", l_stack,
     "nb.stack({a, b, ...}, d=1) — join equal-shaped tensors along a new dim d"},
    {"split", l_split,
     "nb.split(t, n, d=1) — a list of views of n entries along d (the last may be smaller), or "
     "of the given sizes for n = {s1, s2, ...}; also t:split(n, d)"},
    {"chunk", l_chunk,
     "nb.chunk(t, n, d=1) — a list of at most n views of equal size along d (the last may be "
     "smaller); also t:chunk(n, d)"},
    {NULL, NULL, NULL}
};

/* The same functions as methods; NULL docs keep the module docs above. */
static const lb_fn index_methods[] = {
    {"index_select", l_index_select, NULL},
    {"index_add", l_index_add, NULL},
    {"index_add_", l_index_add_,
     "t:index_add_(d, idx, src) — in place: t's slices at idx along d += src's"},
    {"gather", l_gather, NULL},
    {"scatter_add", l_scatter_add, NULL},
    {"scatter_add_", l_scatter_add_,
     "t:scatter_add_(d, idx, src) — in place: t[idx[i][j]][j] += src[i][j] for d = 1"},
    {"masked_fill", l_masked_fill, NULL},
    {"masked_select", l_masked_select, NULL},
    {"nonzero", l_nonzero, NULL},
    {"split", l_split, NULL},
    {"chunk", l_chunk, NULL},
    {NULL, NULL, NULL}
};

void lb_open_index(lua_State *L)
{
    luaL_newmetatable(L, LB_LIST_MT);
    lua_pushcfunction(L, list_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    lb_register(L, -1, index_fns);
    lb_push_methods(L);
    lb_register(L, -1, index_methods);
    lua_pop(L, 1);
}
