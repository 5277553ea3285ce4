/* lb_reduce.c — Lua bindings of the reduce ops. */
#include "lb.h"

static const lb_fn reduce_fns[] = {
    {NULL, NULL, NULL}
};

void lb_open_reduce(lua_State *L)
{
    lb_register(L, -1, reduce_fns);
}
