/* lb_index.c — Lua bindings of the index ops. */
#include "lb.h"

static const lb_fn index_fns[] = {
    {NULL, NULL, NULL}
};

void lb_open_index(lua_State *L)
{
    lb_register(L, -1, index_fns);
}
