/* lb_autograd.c — autograd from Lua: t:backward, nb.grad, no_grad/enable_grad, hooks, and
** custom differentiable functions written in Lua (nb.Function).  Lua callbacks (hooks, custom
** backwards) run on the Lua thread that called backward; references to Lua values that the
** runtime drops are released lazily on the next binding call, since a node may die inside a
** finalizer where no safe lua_State is at hand. */
#include <stdlib.h>
#include <string.h>
#include "lb.h"

/* The Lua thread running the current backward (callbacks run on it). */
static lua_State *cur_L;

/* ---- Lua references owned by runtime objects ------------------------------------------- */
static lua_ref *dead_refs;   /* refs whose owner died; unreferenced at the next safe point */

static lua_ref *ref_new(lua_State *L, int idx)
{
    lua_ref *r = malloc(sizeof *r);
    if (!r) luaL_error(L, "out of memory");
    lua_pushvalue(L, idx);
    r->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    r->next = NULL;
    return r;
}

static void ref_drop(lua_ref *r)
{
    if (!r) return;
    r->next = dead_refs;
    dead_refs = r;
}

void lb_release_dead_refs(lua_State *L)
{
    while (dead_refs) {
        lua_ref *r = dead_refs;
        dead_refs = r->next;
        luaL_unref(L, LUA_REGISTRYINDEX, r->ref);
        free(r);
    }
}

/* ---- backward and grad -------------------------------------------------------------------- */
static void read_backward_opts(lua_State *L, int arg, rt_backward_opts *o)
{
    o->retain_graph = lb_optfield_bool(L, arg, "retain_graph", 0);
    o->create_graph = lb_optfield_bool(L, arg, "create_graph", 0);
    o->allow_unused = lb_optfield_bool(L, arg, "allow_unused", 0);
    if (o->create_graph && !lb_optfield_bool(L, arg, "retain_graph", 1)) o->retain_graph = 0;
    else if (o->create_graph) o->retain_graph = 1;   /* PyTorch's default with create_graph */
}

static rt_status run_engine(lua_State *L, int nroots, rt_tensor **roots, rt_tensor **grads,
                            int ninputs, rt_tensor **inputs, const rt_backward_opts *o,
                            rt_tensor **results)
{
    lua_State *prev = cur_L;
    cur_L = L;
    rt_status st = inputs ? rt_grad(nroots, roots, grads, ninputs, inputs, o, results)
                          : rt_backward(nroots, roots, grads, o);
    cur_L = prev;
    return st;
}

static int t_backward(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    rt_tensor *g = lb_testtensor(L, 2);
    int optarg = g ? 3 : 2;
    if (!g && !lua_isnoneornil(L, 2) && !lua_istable(L, 2))
        return luaL_argerror(L, 2, "gradient tensor or options table expected");
    rt_backward_opts o;
    read_backward_opts(L, optarg, &o);
    rt_status st = run_engine(L, 1, &t, g ? &g : NULL, 0, NULL, &o, NULL);
    return st == RT_OK ? 0 : lb_raise(L, st, 0);
}

static int l_grad(lua_State *L)
{
    lua_settop(L, 3);
    rt_backward_opts o;
    read_backward_opts(L, 3, &o);
    /* copy the lists' items onto the stack so they stay alive */
    int nout, nin, ngo = 0;
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    int outs_idx = lua_gettop(L) - 1, ins_idx = outs_idx + 1;
    int go_idx = 0;
    if (!lua_isnil(L, 3) && lb_optfield_bool(L, 3, "grad_outputs", 0)) {
        lua_getfield(L, 3, "grad_outputs");
        go_idx = lua_gettop(L);
    }
    rt_tensor *o1 = lb_testtensor(L, outs_idx), *i1 = lb_testtensor(L, ins_idx);
    nout = o1 ? 1 : (lua_istable(L, outs_idx) ? (int)luaL_len(L, outs_idx) : 0);
    nin = i1 ? 1 : (lua_istable(L, ins_idx) ? (int)luaL_len(L, ins_idx) : 0);
    if (nout < 1) return luaL_argerror(L, 1, "a tensor or a non-empty list of tensors expected");
    if (nin < 1) return luaL_argerror(L, 2, "a tensor or a non-empty list of tensors expected");
    rt_tensor **outs = lua_newuserdatauv(L, sizeof(rt_tensor *) * (size_t)(2 * nout + 2 * nin),
                                         0);
    rt_tensor **gos = outs + nout, **ins = gos + nout, **res = ins + nin;
    for (int k = 0; k < nout; k++) {
        if (o1) outs[k] = o1;
        else {
            lua_geti(L, outs_idx, k + 1);
            outs[k] = lb_testtensor(L, -1);
            if (!outs[k]) return luaL_argerror(L, 1, lua_pushfstring(L, "item %d is not a tensor",
                                                                     k + 1));
            lua_pop(L, 1);
        }
        gos[k] = NULL;
    }
    for (int k = 0; k < nin; k++) {
        if (i1) ins[k] = i1;
        else {
            lua_geti(L, ins_idx, k + 1);
            ins[k] = lb_testtensor(L, -1);
            if (!ins[k]) return luaL_argerror(L, 2, lua_pushfstring(L, "item %d is not a tensor",
                                                                    k + 1));
            lua_pop(L, 1);
        }
        res[k] = NULL;
    }
    if (go_idx) {
        rt_tensor *g1 = lb_testtensor(L, go_idx);
        ngo = g1 ? 1 : (lua_istable(L, go_idx) ? (int)luaL_len(L, go_idx) : 0);
        if (ngo != nout)
            return luaL_argerror(L, 3, lua_pushfstring(L, "grad_outputs has %d tensors for %d "
                                                       "outputs", ngo, nout));
        for (int k = 0; k < nout; k++) {
            if (g1) gos[k] = g1;
            else {
                lua_geti(L, go_idx, k + 1);
                gos[k] = lb_testtensor(L, -1);
                lua_pop(L, 1);
            }
        }
    }
    rt_status st = run_engine(L, nout, outs, go_idx ? gos : NULL, nin, ins, &o, res);
    if (st != RT_OK) return lb_raise(L, st, 0);
    lua_createtable(L, nin, 0);
    for (int k = 0; k < nin; k++) {
        if (!res[k]) continue;
        lb_pushtensor(L, res[k]);
        lua_rawseti(L, -2, k + 1);
    }
    return 1;
}

/* ---- grad mode ------------------------------------------------------------------------------ */
static int call_with_mode(lua_State *L, int on)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    int prev = rt_set_grad_enabled(on);
    int base = 1;
    int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    rt_set_grad_enabled(prev);
    if (status != LUA_OK) return lua_error(L);
    return lua_gettop(L) - base + 1;
}

static int l_no_grad(lua_State *L) { return call_with_mode(L, 0); }
static int l_enable_grad(lua_State *L) { return call_with_mode(L, 1); }

static int l_is_grad_enabled(lua_State *L)
{
    lua_pushboolean(L, rt_grad_enabled());
    return 1;
}

static int l_set_grad_enabled(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_pushboolean(L, rt_set_grad_enabled(lua_toboolean(L, 1)));
    return 1;
}

/* ---- hooks ---------------------------------------------------------------------------------- */
static rt_status hook_call(void *ctx, rt_tensor *grad, rt_tensor **replace)
{
    lua_ref *r = ctx;
    lua_State *L = cur_L;
    if (!L) return rt_fail(RT_EINTERNAL, -1, "hook: no Lua thread to run on");
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->ref);
    rt_tensor_retain(grad);
    lb_pushtensor(L, grad);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        rt_status st = rt_fail(RT_EARG, -1, "hook failed: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return st;
    }
    rt_tensor *t = lb_testtensor(L, -1);
    rt_status st = RT_OK;
    if (t) {
        rt_tensor_retain(t);
        *replace = t;
    } else if (!lua_isnil(L, -1)) {
        st = rt_fail(RT_EARG, -1, "hook: must return a tensor or nil, returned %s",
                     luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return st;
}

static void hook_free(void *ctx) { ref_drop(ctx); }

static int t_register_hook(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    rt_hook *h = malloc(sizeof *h);
    if (!h) return luaL_error(L, "out of memory");
    h->fn = hook_call;
    h->free_ctx = hook_free;
    h->next = NULL;
    h->ctx = ref_new(L, 2);
    rt_status st = rt_register_hook(t, h);
    if (st != RT_OK) {
        hook_free(h->ctx);
        free(h);
        return lb_raise(L, st, 1);
    }
    return 0;
}

static int t_grad_fn(lua_State *L)
{
    char buf[64];
    const char *s = rt_grad_fn_name(lb_checktensor(L, 1), buf, sizeof buf);
    if (s) lua_pushstring(L, s);
    else lua_pushnil(L);
    return 1;
}

lua_State *lb_callback_state(void) { return cur_L; }
lua_ref *lb_ref_new(lua_State *L, int idx) { return ref_new(L, idx); }
void lb_ref_drop(lua_ref *r) { ref_drop(r); }

static const lb_fn autograd_fns[] = {
    {"grad", l_grad, "nb.grad(outputs, inputs, {grad_outputs=, create_graph=, retain_graph=, "
     "allow_unused=}) — gradients of outputs w.r.t. inputs as a list (no .grad touched)"},
    {"no_grad", l_no_grad, "nb.no_grad(fn, ...) — run fn without recording autograd history"},
    {"enable_grad", l_enable_grad, "nb.enable_grad(fn, ...) — run fn with recording on"},
    {"is_grad_enabled", l_is_grad_enabled, "nb.is_grad_enabled() — is recording on?"},
    {"set_grad_enabled", l_set_grad_enabled,
     "nb.set_grad_enabled(on) — switch recording; returns the previous mode"},
    {"backward", t_backward, "nb.backward(t, grad?, opts?) — see t:backward"},
    {NULL, NULL, NULL}
};

static const lb_fn autograd_methods[] = {
    {"backward", t_backward, "t:backward(grad?, {retain_graph=, create_graph=}) — accumulate "
     "d t / d leaf into every leaf's .grad"},
    {"register_hook", t_register_hook, "t:register_hook(fn) — fn(grad) runs when t's gradient "
     "is computed; a returned tensor replaces the gradient"},
    {"grad_fn_name", t_grad_fn, "t:grad_fn_name() — name of the op that made t, or nil"},
    {NULL, NULL, NULL}
};

void lb_open_autograd(lua_State *L)
{
    lb_register(L, -1, autograd_fns);
    lb_push_methods(L);
    lb_register(L, -1, autograd_methods);
    lua_pop(L, 1);
    lb_open_function(L);
}
