/* lb_function.c — nb.Function: differentiable operations written in Lua.
**   local F = nb.Function{ forward = function(ctx, x, w) ... end,
**                          backward = function(ctx, gy) return gx, gw end }
** forward runs without recording; when an input requires grad the outputs get one node whose
** backward calls the Lua backward (which records when create_graph is on, so custom functions
** work inside higher-order computations).  Tensors given to ctx:save_for_backward are held by
** the node; an output is saved as a history-free alias, so no reference cycle forms. */
#include <stdlib.h>
#include <string.h>
#include "lb.h"

#define FN_MT "nabla.Function"
#define CTX_MT "nabla.FunctionCtx"

typedef struct {
    lua_ref *backward, *ctx;
    int nsaved, nargs, nin;
    rt_tensor **saved;
    int *argpos;             /* node input k is forward argument argpos[k] (1-based) */
} fn_ctx;

static void fn_ctx_free(void *p)
{
    fn_ctx *fc = p;
    lb_ref_drop(fc->backward);
    lb_ref_drop(fc->ctx);
    for (int i = 0; i < fc->nsaved; i++) rt_tensor_release(fc->saved[i]);
    free(fc->saved);
    free(fc->argpos);
    free(fc);
}

/* Pushes gradient k of the node's outputs, or zeros when none reached that output. */
static rt_status push_gout(lua_State *L, const rt_node *n, rt_tensor *const *gout, int k)
{
    rt_tensor *g = gout[k];
    if (g) {
        rt_tensor_retain(g);
    } else {
        rt_status st = rt_zeros(n->out_dtype[k], (int)n->out_shape[k][0], &n->out_shape[k][1], &g);
        if (st != RT_OK) return st;
    }
    lb_pushtensor(L, g);
    return RT_OK;
}

static rt_status fn_backward(rt_node *n, rt_tensor *const *gout, rt_tensor **gin)
{
    fn_ctx *fc = n->ctx;
    lua_State *L = lb_callback_state();
    if (!L || !fc) return rt_fail(RT_EINTERNAL, -1, "Function: backward without a Lua thread");
    int base = lua_gettop(L);
    luaL_checkstack(L, n->nout + fc->nargs + 4, "Function backward");
    lua_rawgeti(L, LUA_REGISTRYINDEX, fc->backward->ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, fc->ctx->ref);
    lua_createtable(L, fc->nsaved, 0);
    for (int i = 0; i < fc->nsaved; i++) {
        rt_tensor_retain(fc->saved[i]);
        lb_pushtensor(L, fc->saved[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "saved_tensors");
    for (int k = 0; k < n->nout; k++) {
        rt_status st = push_gout(L, n, gout, k);
        if (st != RT_OK) {
            lua_settop(L, base);
            return st;
        }
    }
    if (lua_pcall(L, 1 + n->nout, fc->nargs, 0) != LUA_OK) {
        rt_status st = rt_fail(RT_EARG, -1, "Function backward failed: %s", lua_tostring(L, -1));
        lua_settop(L, base);
        return st;
    }
    rt_status st = RT_OK;
    for (int k = 0; k < fc->nin && st == RT_OK; k++) {
        int idx = base + fc->argpos[k];
        rt_tensor *g = lb_testtensor(L, idx);
        if (!g && !lua_isnil(L, idx))
            st = rt_fail(RT_EARG, -1, "Function backward: result %d should be a tensor or nil, "
                         "got %s", fc->argpos[k], luaL_typename(L, idx));
        else if (g && rt_node_needs(n, k)) {
            rt_tensor_retain(g);
            gin[k] = g;
        }
    }
    lua_settop(L, base);
    return st;
}

static const rt_opdef op_function = { "function", fn_backward, 0 };

/* ---- ctx ---------------------------------------------------------------------------------- */
static int ctx_save(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int n = lua_gettop(L) - 1;
    lua_createtable(L, n, 0);
    for (int i = 1; i <= n; i++) {
        lb_checktensor(L, i + 1);
        lua_pushvalue(L, i + 1);
        lua_rawseti(L, -2, i);
    }
    lua_setfield(L, 1, "_saved");
    return 0;
}

/* Moves ctx._saved into fc (aliases for outputs). */
static void take_saved(lua_State *L, int ctx, fn_ctx *fc, rt_tensor **outs, int nout)
{
    if (lua_getfield(L, ctx, "_saved") != LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    int n = (int)luaL_len(L, -1);
    fc->saved = calloc((size_t)(n ? n : 1), sizeof *fc->saved);
    if (!fc->saved) luaL_error(L, "out of memory");
    for (int i = 0; i < n; i++) {
        lua_geti(L, -1, i + 1);
        rt_tensor *t = lb_testtensor(L, -1);
        int is_out = 0;
        for (int k = 0; k < nout; k++) is_out |= outs[k] == t;
        if (is_out) {
            if (rt_view_alias(t, &fc->saved[fc->nsaved]) == RT_OK) fc->nsaved++;
        } else if (t) {
            rt_tensor_retain(t);
            fc->saved[fc->nsaved++] = t;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_pushnil(L);
    lua_setfield(L, ctx, "_saved");
}

/* ---- calling a Function -------------------------------------------------------------------- */
static int fn_call(lua_State *L)
{
    int nargs = lua_gettop(L) - 1;
    luaL_checkstack(L, nargs + 8, "Function call");
    lua_getfield(L, 1, "forward");
    lua_newtable(L);
    luaL_setmetatable(L, CTX_MT);
    int ctx = lua_gettop(L);
    lua_pushvalue(L, ctx);
    lua_insert(L, ctx - 1);            /* keep a copy of ctx below the call */
    ctx--;
    for (int i = 2; i <= nargs + 1; i++) lua_pushvalue(L, i);
    int prev = rt_set_grad_enabled(0);
    int status = lua_pcall(L, nargs + 1, LUA_MULTRET, 0);
    rt_set_grad_enabled(prev);
    if (status != LUA_OK) return lua_error(L);
    int first = ctx + 1, nres = lua_gettop(L) - ctx;
    /* inputs: tensor arguments */
    rt_tensor *ins[64], *outs[64];
    int argpos[64], nin = 0, nout = 0;
    for (int i = 2; i <= nargs + 1 && nin < 64; i++) {
        rt_tensor *t = lb_testtensor(L, i);
        if (t) {
            argpos[nin] = i - 1;
            ins[nin++] = t;
        }
    }
    if (!rt_any_requires_grad(nin, ins)) return nres;
    /* outputs: float tensors among the results; fresh aliases where one would be ambiguous */
    for (int r = first; r < first + nres && nout < 64; r++) {
        rt_tensor *t = lb_testtensor(L, r);
        if (!t || !rt_dtype_is_float(t->dtype)) continue;
        int shared = t->node != NULL;
        for (int k = 0; k < nin; k++) shared |= ins[k] == t;
        for (int k = 0; k < nout; k++) shared |= outs[k] == t;
        if (shared) {
            rt_tensor **slot = lb_newslot(L);
            rt_status st = rt_view_alias(t, slot);
            if (st != RT_OK) return lb_raise(L, st, 0);
            lua_replace(L, r);
            t = *slot;
        }
        outs[nout++] = t;
    }
    if (nout == 0) return nres;
    fn_ctx *fc = calloc(1, sizeof *fc);
    if (!fc) return luaL_error(L, "out of memory");
    fc->argpos = malloc(sizeof *fc->argpos * (size_t)nin);
    if (!fc->argpos) {
        free(fc);
        return luaL_error(L, "out of memory");
    }
    memcpy(fc->argpos, argpos, sizeof *argpos * (size_t)nin);
    fc->nin = nin;
    fc->nargs = nargs;
    lua_getfield(L, 1, "backward");
    fc->backward = lb_ref_new(L, -1);
    lua_pop(L, 1);
    fc->ctx = lb_ref_new(L, ctx);
    take_saved(L, ctx, fc, outs, nout);
    rt_node *node;
    rt_status st = rt_record(&op_function, nin, ins, nout, outs, &node);
    if (st != RT_OK) {
        fn_ctx_free(fc);
        return lb_raise(L, st, 0);
    }
    node->ctx = fc;
    node->ctx_free = fn_ctx_free;
    return nres;
}

static int fn_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_getfield(L, 1, "forward") != LUA_TFUNCTION)
        return luaL_argerror(L, 1, "Function needs a 'forward' function");
    if (lua_getfield(L, 1, "backward") != LUA_TFUNCTION)
        return luaL_argerror(L, 1, "Function needs a 'backward' function");
    lua_createtable(L, 0, 2);
    lua_rotate(L, -3, 1);
    lua_setfield(L, -3, "backward");
    lua_setfield(L, -2, "forward");
    luaL_setmetatable(L, FN_MT);
    return 1;
}

static const lb_fn function_fns[] = {
    {"Function", fn_new, "nb.Function{forward=function(ctx, ...), backward=function(ctx, "
     "grad...)} — a differentiable op written in Lua; call it like a function"},
    {NULL, NULL, NULL}
};

void lb_open_function(lua_State *L)
{
    luaL_newmetatable(L, FN_MT);
    lua_pushcfunction(L, fn_call);
    lua_setfield(L, -2, "__call");
    lua_pop(L, 1);
    luaL_newmetatable(L, CTX_MT);
    lua_newtable(L);
    lua_pushcfunction(L, ctx_save);
    lua_setfield(L, -2, "save_for_backward");
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lb_register(L, -1, function_fns);
}
