/* lb_func.c — installs nb.func, the functional transforms, from lua/func.lua (compiled into
** the module as a string so that `require 'nabla'` needs no Lua files on package.path). */
#include "lb.h"
#include "func_lua.h"

void lb_open_func(lua_State *L)
{
    int mod = lua_absindex(L, -1);
    if (luaL_loadbufferx(L, lb_func_lua, sizeof lb_func_lua - 1, "=nabla.func", "t") != LUA_OK)
        lua_error(L);
    lua_pushvalue(L, mod);
    lua_call(L, 1, 1);
    lua_setfield(L, mod, "func");
}
