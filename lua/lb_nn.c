/* lb_nn.c — Lua bindings of the nn ops. */
#include "lb.h"

static const lb_fn nn_fns[] = {
    {NULL, NULL, NULL}
};

void lb_open_nn(lua_State *L)
{
    lb_register(L, -1, nn_fns);
}
