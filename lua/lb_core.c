/* lb_core.c — the `nabla` module's entry point and the binding's shared helpers: tensor
** userdata, errors, argument parsing, docs, and telling the garbage collector about tensor
** memory (Lua only sees a pointer-sized userdata, so without help it would let gigabytes of
** dropped tensors pile up). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "lb.h"

/* Registry keys (addresses of these statics are unique). */
static char key_module, key_methods, key_docs;

/* ---- garbage-collector accounting ----------------------------------------------------
** Two mechanisms, documented in docs/memory.md:
**  1. Every MB of new tensor storage becomes a GC step "as if" that many KB had been
**     allocated by Lua (lua_gc LUA_GCSTEP), so the collector's pace follows tensor memory.
**  2. A safety net: when live tensor bytes exceed twice what survived the last full
**     collection (and at least 64 MB), run a full collection.  This bounds peak memory
**     even in generational mode, where steps only look at young objects. */
static uint64_t accounted;            /* rt_bytes_allocated() at the last check */
static uint64_t live_after_full = 0;
#define STEP_BYTES (1u << 20)
#define FULL_FLOOR ((uint64_t)64 << 20)

static void gc_account(lua_State *L)
{
    lb_release_dead_refs(L);
    uint64_t total = rt_bytes_allocated();
    if (total - accounted < STEP_BYTES) return;
    int kb = (int)((total - accounted) >> 10);
    accounted = total;
    uint64_t live = rt_bytes_live();
    uint64_t limit = 2 * live_after_full > FULL_FLOOR ? 2 * live_after_full : FULL_FLOOR;
    if (live > limit) {
        lua_gc(L, LUA_GCCOLLECT);
        live_after_full = rt_bytes_live();
    } else {
        lua_gc(L, LUA_GCSTEP, kb);
    }
}

/* ---- userdata -------------------------------------------------------------------------- */
static int t_gc(lua_State *L)
{
    rt_tensor **slot = luaL_checkudata(L, 1, LB_TENSOR_MT);
    rt_tensor_release(*slot);
    *slot = NULL;
    return 0;
}

rt_tensor **lb_newslot(lua_State *L)
{
    /* Accounting here, before the new tensor exists, covers every op (they all push a
    ** slot first); memory allocated by the previous op is seen one op late, which is fine. */
    gc_account(L);
    rt_tensor **slot = lua_newuserdatauv(L, sizeof *slot, 0);
    *slot = NULL;
    luaL_setmetatable(L, LB_TENSOR_MT);
    return slot;
}

int lb_pushtensor(lua_State *L, rt_tensor *t)
{
    rt_tensor **slot = lb_newslot(L);
    *slot = t;
    return 1;
}

rt_tensor *lb_testtensor(lua_State *L, int arg)
{
    rt_tensor **slot = luaL_testudata(L, arg, LB_TENSOR_MT);
    return slot ? *slot : NULL;
}

const char *lb_typename(lua_State *L, int arg)
{
    return lb_testtensor(L, arg) ? "tensor" : luaL_typename(L, arg);
}

rt_tensor *lb_checktensor(lua_State *L, int arg)
{
    rt_tensor *t = lb_testtensor(L, arg);
    if (!t) {
        const char *msg = lua_pushfstring(L, "tensor expected, got %s", lb_typename(L, arg));
        luaL_argerror(L, arg, msg);
    }
    return t;
}

rt_tensor *lb_checktensor_or_number(lua_State *L, int arg, rt_dtype like)
{
    rt_tensor *t = lb_testtensor(L, arg);
    if (t) return t;
    if (!lua_isnumber(L, arg)) {
        const char *msg = lua_pushfstring(L, "tensor or number expected, got %s",
                                          lb_typename(L, arg));
        luaL_argerror(L, arg, msg);
    }
    lua_Number v = lua_tonumber(L, arg);
    if (like == RT_I64 && (lua_Number)(int64_t)v != v) like = RT_F32;
    rt_tensor **slot = lb_newslot(L);
    rt_status st = rt_scalar(like, v, slot);
    if (st != RT_OK) lb_raise(L, st, 0);
    return *slot;
}

/* ---- errors ------------------------------------------------------------------------------ */
int lb_raise(lua_State *L, rt_status st, int argbase)
{
    const char *msg = rt_last_error();
    int op = rt_last_operand();
    if (st == RT_EINTERRUPT) return luaL_error(L, "interrupted");
    if (argbase > 0 && op >= 0) {
        /* keep the runtime's "op: ..." prefix: Lua names the function only when it can find it
        ** ("bad argument #2 to '?'" for t.narrow(t, ...)) */
        lua_pushstring(L, msg);
        return luaL_argerror(L, argbase + op, lua_tostring(L, -1));
    }
    lua_pushstring(L, msg);
    return lua_error(L);
}

/* ---- argument parsing ------------------------------------------------------------------- */
static int64_t checksize(lua_State *L, int arg, lua_Integer v)
{
    if (v < 0) luaL_argerror(L, arg, lua_pushfstring(L, "size %I is negative", v));
    return (int64_t)v;
}

int lb_checkshape(lua_State *L, int arg, int64_t *shape)
{
    int n = 0;
    if (lua_istable(L, arg) && !lb_testtensor(L, arg)) {
        n = (int)luaL_len(L, arg);
        if (n > RT_MAXDIM)
            luaL_argerror(L, arg, lua_pushfstring(L, "%d dimensions, at most %d are supported",
                                                  n, RT_MAXDIM));
        for (int i = 0; i < n; i++) {
            lua_geti(L, arg, i + 1);
            int isint;
            lua_Integer v = lua_tointegerx(L, -1, &isint);
            if (!isint)
                luaL_argerror(L, arg, lua_pushfstring(L, "size %d of the shape is %s, expected "
                                                      "an integer", i + 1, luaL_typename(L, -1)));
            shape[i] = checksize(L, arg, v);
            lua_pop(L, 1);
        }
        return n;
    }
    int top = lua_gettop(L);
    for (int i = arg; i <= top && lua_type(L, i) == LUA_TNUMBER; i++) {
        if (n == RT_MAXDIM)
            luaL_argerror(L, i, lua_pushfstring(L, "at most %d dimensions are supported",
                                                RT_MAXDIM));
        int isint;
        lua_Integer v = lua_tointegerx(L, i, &isint);
        if (!isint) luaL_argerror(L, i, "size must be an integer");
        shape[n++] = checksize(L, i, v);
    }
    return n;
}

int lb_checkdim(lua_State *L, int arg, int ndim)
{
    int isint;
    lua_Integer d = lua_tointegerx(L, arg, &isint);
    if (!isint)
        luaL_argerror(L, arg, lua_pushfstring(L, "dimension expected, got %s",
                                              lb_typename(L, arg)));
    int n = ndim > 0 ? ndim : 1;   /* a 0-d tensor accepts dim 1 / -1, like PyTorch's 0 / -1 */
    if (d < -n || d > n || d == 0)
        luaL_argerror(L, arg, lua_pushfstring(L, "dimension %I out of range for a %d-d tensor "
                                              "(expected 1..%d or -%d..-1)", d, ndim, n, n));
    return (int)(d < 0 ? d + n : d - 1);
}

int lb_optdim(lua_State *L, int arg, int ndim, int def)
{
    return lua_isnoneornil(L, arg) ? def : lb_checkdim(L, arg, ndim);
}

static int parse_dtype(const char *s, rt_dtype *dt)
{
    static const struct { const char *name; rt_dtype dt; } names[] = {
        {"f32", RT_F32}, {"float32", RT_F32}, {"float", RT_F32},
        {"f64", RT_F64}, {"float64", RT_F64}, {"double", RT_F64},
        {"i64", RT_I64}, {"int64", RT_I64}, {"long", RT_I64},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) {
            *dt = names[i].dt;
            return 1;
        }
    return 0;
}

rt_dtype lb_checkdtype(lua_State *L, int arg)
{
    const char *s = lua_tostring(L, arg);
    rt_dtype dt = RT_F32;
    if (!s || !parse_dtype(s, &dt))
        luaL_argerror(L, arg, lua_pushfstring(L, "dtype expected ('f32', 'f64' or 'i64'), got %s",
                                              s ? s : lb_typename(L, arg)));
    return dt;
}

rt_dtype lb_optdtype(lua_State *L, int arg, rt_dtype def)
{
    return lua_isnoneornil(L, arg) ? def : lb_checkdtype(L, arg);
}

static int field(lua_State *L, int arg, const char *key)
{
    if (lua_isnoneornil(L, arg)) return 0;
    luaL_checktype(L, arg, LUA_TTABLE);
    if (lua_getfield(L, arg, key) == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    return 1;
}

int lb_optfield_bool(lua_State *L, int arg, const char *key, int def)
{
    if (!field(L, arg, key)) return def;
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

lua_Number lb_optfield_number(lua_State *L, int arg, const char *key, lua_Number def)
{
    if (!field(L, arg, key)) return def;
    if (!lua_isnumber(L, -1))
        luaL_argerror(L, arg, lua_pushfstring(L, "option '%s' must be a number, got %s", key,
                                              luaL_typename(L, -1)));
    lua_Number v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

lua_Integer lb_optfield_integer(lua_State *L, int arg, const char *key, lua_Integer def)
{
    if (!field(L, arg, key)) return def;
    int isint;
    lua_Integer v = lua_tointegerx(L, -1, &isint);
    if (!isint)
        luaL_argerror(L, arg, lua_pushfstring(L, "option '%s' must be an integer, got %s", key,
                                              luaL_typename(L, -1)));
    lua_pop(L, 1);
    return v;
}

rt_dtype lb_optfield_dtype(lua_State *L, int arg, const char *key, rt_dtype def)
{
    if (!field(L, arg, key)) return def;
    rt_dtype dt = lb_checkdtype(L, lua_gettop(L));
    lua_pop(L, 1);
    return dt;
}

/* Is w (len bytes) one of the space-separated words of list? */
static int word_in(const char *list, const char *w, size_t len)
{
    while (*list) {
        size_t n = strcspn(list, " ");
        if (n == len && len > 0 && memcmp(list, w, len) == 0) return 1;
        list += n;
        while (*list == ' ') list++;
    }
    return 0;
}

void lb_check_options(lua_State *L, int arg, const char *keys)
{
    if (!arg || !lua_istable(L, arg)) return;
    lua_pushnil(L);
    while (lua_next(L, arg)) {
        lua_pop(L, 1);
        size_t len = 0;
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
        if (!k || !word_in(keys, k, len))
            luaL_argerror(L, arg, lua_pushfstring(L, "unknown option '%s' (expected: %s)",
                                                  k ? k : luaL_typename(L, -1), keys));
    }
}

/* ---- registration ------------------------------------------------------------------------ */
void lb_push_module(lua_State *L) { lua_rawgetp(L, LUA_REGISTRYINDEX, &key_module); }
void lb_push_methods(lua_State *L) { lua_rawgetp(L, LUA_REGISTRYINDEX, &key_methods); }

void lb_register(lua_State *L, int idx, const lb_fn *fns)
{
    idx = lua_absindex(L, idx);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_docs);
    for (; fns->name; fns++) {
        lua_pushcfunction(L, fns->fn);
        if (fns->doc) {
            lua_pushvalue(L, -1);
            lua_pushstring(L, fns->doc);
            lua_rawset(L, -4);
        }
        lua_setfield(L, idx, fns->name);
    }
    lua_pop(L, 1);
}

/* ---- threads, seeds, time, docs ------------------------------------------------------------ */
static int l_set_num_threads(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    if (n < 1 || n > 256) luaL_argerror(L, 1, "thread count must be in 1..256");
    rt_status st = rt_set_num_threads((int)n);
    return st == RT_OK ? 0 : lb_raise(L, st, 1);
}

static int l_get_num_threads(lua_State *L)
{
    lua_pushinteger(L, rt_get_num_threads());
    return 1;
}

static int l_manual_seed(lua_State *L)
{
    lua_Integer s = luaL_checkinteger(L, 1);
    rt_manual_seed((uint64_t)s);
    return 0;
}

static int l_clock(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
    return 1;
}

static int l_memory(lua_State *L)
{
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, (lua_Integer)rt_bytes_live());
    lua_setfield(L, -2, "live");
    lua_pushinteger(L, (lua_Integer)rt_bytes_allocated());
    lua_setfield(L, -2, "allocated");
    return 1;
}

static int l_doc(lua_State *L)
{
    luaL_checkany(L, 1);
    luaL_checkstring(L, 2);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_docs);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_rawset(L, -3);
    lua_settop(L, 1);
    return 1;
}

static const lb_fn core_fns[] = {
    {"set_num_threads", l_set_num_threads,
     "nb.set_num_threads(n) — use n threads for kernels and BLAS"},
    {"get_num_threads", l_get_num_threads, "nb.get_num_threads() — the kernel thread count"},
    {"manual_seed", l_manual_seed,
     "nb.manual_seed(n) — reseed the generator (same numbers for any thread count)"},
    {"clock", l_clock, "nb.clock() — monotonic wall-clock seconds, for timing"},
    {"memory", l_memory, "nb.memory() — {live=, allocated=} bytes of tensor storage"},
    {"doc", l_doc, "nb.doc(value, text) — attach a one-line doc shown by :help"},
    {NULL, NULL, NULL}
};

int luaopen_nabla(lua_State *L)
{
    luaL_checkversion(L);
    lua_newtable(L);                                   /* docs, weak keys */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_docs);
    lua_newtable(L);                                   /* module */
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_module);
    lua_newtable(L);                                   /* tensor methods */
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_methods);
    lua_setfield(L, -2, "_methods");
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_docs);
    lua_setfield(L, -2, "_docs");
    lua_pushliteral(L, LB_VERSION);
    lua_setfield(L, -2, "version");
    luaL_newmetatable(L, LB_TENSOR_MT);
    lua_pushcfunction(L, t_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    lb_register(L, -1, core_fns);
    lb_open_tensor(L);
    lb_open_print(L);
    lb_open_create(L);
    lb_open_io(L);
    lb_open_math(L);
    lb_open_autograd(L);
    lb_open_reduce(L);
    lb_open_linalg(L);
    lb_open_nn(L);
    lb_open_index(L);
    lb_open_optim(L);
    lb_open_func(L);
    return 1;
}
