/* subcmd.c — `nabla lesson NAME|PATH`, `nabla lessons` and `nabla render PATH [-o OUT.md]`.
** All three belong to the stdlib module `lesson` (lesson.run_headless, lesson.list,
** lesson.render); this file only checks the arguments, calls it in protected mode and
** turns the answer into an exit status: 0 ok, 1 failed (a check, or an error), 2 usage
** error or no lesson module. */
#include <stdio.h>
#include <string.h>
#include "lauxlib.h"
#include "repl.h"

/* Prints the value lesson.list() returned: strings, or tables with name/title/summary/time. */
static void print_list(repl_session *s, lua_State *L, int list)
{
    lua_Integer n = luaL_len(L, list);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, list, i);
        if (lua_type(L, -1) == LUA_TTABLE) {
            const char *f[4] = { "name", "title", "summary", "time" };
            const char *v[4];
            for (int k = 0; k < 4; k++) {
                lua_getfield(L, -1 - k, f[k]);
                v[k] = lua_tostring(L, -1);
            }
            repl_printf(s, "%-22s %s%s%s%s%s\n", v[0] ? v[0] : "?", v[1] ? v[1] : "",
                        v[2] ? " - " : "", v[2] ? v[2] : "", v[3] ? "  " : "", v[3] ? v[3] : "");
            lua_pop(L, 4);
        } else {
            repl_printf(s, "%s\n", luaL_tolstring(L, -1, NULL));
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
}

/* Protected: (what, arg1, arg2) -> exit status */
static int sub_call(lua_State *L)
{
    repl_session *s = lua_touserdata(L, lua_upvalueindex(1));
    const char *what = lua_tostring(L, 1);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lesson");
    lua_call(L, 1, 1);
    int mod = lua_gettop(L);
    const char *fn = !strcmp(what, "lessons") ? "list"
                     : !strcmp(what, "lesson") ? "run_headless"
                     : "render";
    if (lua_getfield(L, mod, fn) != LUA_TFUNCTION)
        return luaL_error(L, "the lesson module has no function '%s'", fn);
    if (!strcmp(what, "lessons")) {
        lua_call(L, 0, 1);
        if (lua_istable(L, -1)) print_list(s, L, lua_gettop(L));
        lua_pushinteger(L, 0);
    } else if (!strcmp(what, "lesson")) {
        lua_pushvalue(L, 2);
        lua_createtable(L, 0, 1);
        lua_pushboolean(L, s->color);
        lua_setfield(L, -2, "color");
        lua_call(L, 2, 1);
        lua_pushinteger(L, lua_toboolean(L, -1) ? 0 : 1);
    } else {
        lua_pushvalue(L, 2);
        lua_pushvalue(L, 3);
        lua_call(L, 2, 2);
        /* `false` (a check failed) or `nil, message` is a failure; anything else, even
        ** nothing, is success */
        int failed = (lua_isnil(L, -2) && !lua_isnil(L, -1)) ||
                     (lua_isboolean(L, -2) && !lua_toboolean(L, -2));
        if (lua_isnil(L, -2) && lua_isstring(L, -1))
            fprintf(stderr, "nabla render: %s\n", lua_tostring(L, -1));
        lua_pushinteger(L, failed ? 1 : 0);
    }
    return 1;
}

int repl_subcommand(repl_session *s, int argc, char **argv, int i)
{
    lua_State *L = s->L;
    const char *what = argv[i], *a1 = NULL, *out = NULL;
    if (!strcmp(what, "lesson")) {
        if (i + 1 >= argc) {
            fprintf(stderr, "usage: nabla lesson NAME|PATH\n");
            return 2;
        }
        a1 = argv[i + 1];
    } else if (!strcmp(what, "render")) {
        for (int k = i + 1; k < argc; k++) {
            if (!strcmp(argv[k], "-o") && k + 1 < argc) out = argv[++k];
            else if (!a1) a1 = argv[k];
            else a1 = NULL, k = argc;   /* too many arguments */
        }
        if (!a1) {
            fprintf(stderr, "usage: nabla render PATH [-o OUT.md]\n");
            return 2;
        }
    }
    if (!repl_module_exists(L, "lesson")) {
        fprintf(stderr, "nabla %s: lessons are not available (the stdlib module 'lesson' is not "
                        "installed)\n", what);
        return 2;
    }
    lua_pushlightuserdata(L, s);
    lua_pushcclosure(L, sub_call, 1);
    lua_pushstring(L, what);
    lua_pushstring(L, a1);
    lua_pushstring(L, out);
    int st = repl_docall(s, 3, 1);
    if (st != LUA_OK) {
        repl_report(s, st);
        return 1;
    }
    int code = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    fflush(stdout);
    return code;
}
