/* lb_linalg.c — Lua bindings of the linalg ops. */
#include "lb.h"

static const lb_fn linalg_fns[] = {
    {NULL, NULL, NULL}
};

void lb_open_linalg(lua_State *L)
{
    lb_register(L, -1, linalg_fns);
}
