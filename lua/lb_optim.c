/* lb_optim.c — Lua bindings of the fused optimizer steps (runtime/optim.c) as nb._optim.sgd
** and nb._optim.adam.  Internal: stdlib/optim/kernels.lua calls them with positional
** hyperparameters from the parameter group; users call opt:step().  Each binding checks its
** arguments and makes one runtime call; the update is refused while grad mode is on (wrap it
** in nb.no_grad, as opt:step() does). */
#include "lb.h"

static rt_tensor *opt_tensor(lua_State *L, int arg)
{
    return lua_isnoneornil(L, arg) ? NULL : lb_checktensor(L, arg);
}

/* nb._optim.sgd(p, g, buf_or_nil, lr, momentum, dampening, nesterov, weight_decay, maximize,
** first) — p -= lr * d in place, d the (momentum, nesterov, weight-decay) direction. */
static int l_sgd(lua_State *L)
{
    rt_tensor *p = lb_checktensor(L, 1);
    rt_tensor *g = lb_checktensor(L, 2);
    rt_tensor *buf = opt_tensor(L, 3);
    rt_sgd_opts o = {
        .lr = luaL_checknumber(L, 4), .momentum = luaL_checknumber(L, 5),
        .dampening = luaL_checknumber(L, 6), .nesterov = lua_toboolean(L, 7),
        .weight_decay = luaL_checknumber(L, 8), .maximize = lua_toboolean(L, 9),
        .first = lua_toboolean(L, 10),
    };
    rt_status st = rt_check_inplace("optim_sgd", p);
    if (st == RT_OK) st = rt_optim_sgd(p, g, buf, &o);
    lua_settop(L, 1);
    return LB_RESULT(L, st, 1);
}

/* nb._optim.adam(p, g, m, v, vmax_or_nil, lr, beta1, beta2, eps, weight_decay, decoupled,
** maximize, bias_correction1, bias_correction2) — one Adam (decoupled: AdamW) step in place. */
static int l_adam(lua_State *L)
{
    rt_tensor *p = lb_checktensor(L, 1);
    rt_tensor *g = lb_checktensor(L, 2);
    rt_tensor *m = lb_checktensor(L, 3);
    rt_tensor *v = lb_checktensor(L, 4);
    rt_tensor *vmax = opt_tensor(L, 5);
    rt_adam_opts o = {
        .lr = luaL_checknumber(L, 6), .beta1 = luaL_checknumber(L, 7),
        .beta2 = luaL_checknumber(L, 8), .eps = luaL_checknumber(L, 9),
        .weight_decay = luaL_checknumber(L, 10), .decoupled = lua_toboolean(L, 11),
        .maximize = lua_toboolean(L, 12), .bias_correction1 = luaL_checknumber(L, 13),
        .bias_correction2 = luaL_checknumber(L, 14),
    };
    rt_status st = rt_check_inplace("optim_adam", p);
    if (st == RT_OK) st = rt_optim_adam(p, g, m, v, vmax, &o);
    lua_settop(L, 1);
    return LB_RESULT(L, st, 1);
}

static const lb_fn optim_fns[] = {
    {"sgd", l_sgd, "nb._optim.sgd(p, g, buf, lr, momentum, dampening, nesterov, weight_decay, "
     "maximize, first) — fused SGD step in place (used by optim.SGD)"},
    {"adam", l_adam, "nb._optim.adam(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, "
     "decoupled, maximize, bc1, bc2) — fused Adam/AdamW step in place (used by optim.Adam)"},
    {NULL, NULL, NULL}
};

void lb_open_optim(lua_State *L)
{
    lua_newtable(L);
    lb_register(L, -1, optim_fns);
    lua_setfield(L, -2, "_optim");
}
