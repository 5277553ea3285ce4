/* eval.c — the session environment, compiling one REPL input, running it and auto-printing
** its values, and the lazily loaded standard globals.
**
** Scoping (docs/repl.md): every input is a chunk whose _ENV is the session environment E,
** a table with metatable {__index = _G}.  Assignments at the prompt, including the `local`
** declarations that rewrite.c turns into assignments, are stored in E, so they survive from
** one input to the next.  _G's own __index falls back to E, so code loaded with dofile or
** require reads prompt variables as if they were globals.  :reset replaces E. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lauxlib.h"
#include "repl.h"

void repl_env_new(repl_session *s)
{
    lua_State *L = s->L;
    lua_newtable(L);
    lua_newtable(L);
    lua_pushglobaltable(L);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    if (s->env_ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, s->env_ref);
    s->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

void repl_env_push(repl_session *s)
{
    if (s->env_ref == LUA_NOREF) lua_pushglobaltable(s->L);
    else lua_rawgeti(s->L, LUA_REGISTRYINDEX, s->env_ref);
}

/* ---- the standard globals, loaded on first use --------------------------------------- */
static const char *const lazy_modules[] = { "nn", "optim", "check", "calc", "plot", "data",
                                            "metrics", "lesson", NULL };

int repl_module_exists(lua_State *L, const char *name)
{
    int top = lua_gettop(L), found = 0;
    if (lua_getglobal(L, "package") == LUA_TTABLE) {
        if (lua_getfield(L, top + 1, "preload") == LUA_TTABLE &&
            lua_getfield(L, -1, name) != LUA_TNIL)
            found = 1;
        if (!found && lua_getfield(L, top + 1, "searchpath") == LUA_TFUNCTION) {
            lua_pushstring(L, name);
            lua_getfield(L, top + 1, "path");
            found = lua_pcall(L, 2, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING;
        }
    }
    lua_settop(L, top);
    return found;
}

/* __index of _G: the session environment first (so dofile'd code sees prompt variables),
** then a standard module that has not been loaded yet.  A module that is missing is simply
** absent; one that exists is required, so its errors reach the user. */
static int globals_index(lua_State *L)
{
    repl_session *s = lua_touserdata(L, lua_upvalueindex(1));
    if (s->env_ref != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, s->env_ref);
        lua_pushvalue(L, 2);
        if (lua_rawget(L, -2) != LUA_TNIL) return 1;
        lua_pop(L, 2);
    }
    if (lua_type(L, 2) != LUA_TSTRING) return 0;
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(2)) == LUA_TNIL) return 0;
    lua_pop(L, 1);
    if (!repl_module_exists(L, lua_tostring(L, 2))) {
        lua_pushvalue(L, 2);
        lua_pushnil(L);
        lua_rawset(L, lua_upvalueindex(2));
        return 0;
    }
    lua_pushliteral(L, "require");
    lua_rawget(L, 1);
    lua_pushvalue(L, 2);
    lua_call(L, 1, 1);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);
    return 1;
}

void repl_globals_init(repl_session *s)
{
    lua_State *L = s->L;
    lua_pushglobaltable(L);
    lua_newtable(L);                        /* metatable of _G */
    lua_pushlightuserdata(L, s);
    lua_newtable(L);                        /* names still to load */
    for (int i = 0; lazy_modules[i]; i++) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, lazy_modules[i]);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, "nabla.lazy");   /* for completion */
    lua_pushcclosure(L, globals_index, 2);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_pop(L, 1);
}

/* ---- compiling -------------------------------------------------------------------- */
int repl_load(repl_session *s, const char *code, size_t len)
{
    int st = luaL_loadbufferx(s->L, code, len, REPL_CHUNKNAME, "t");
    if (st == LUA_OK) {
        repl_env_push(s);
        if (!lua_setupvalue(s->L, -2, 1)) lua_pop(s->L, 1);
    }
    return st;
}

/* Compiles prefix + code + suffix; pushes the function or the message. */
static int load_wrapped(repl_session *s, const char *prefix, const char *code, size_t len,
                        const char *suffix)
{
    size_t np = strlen(prefix), ns = strlen(suffix);
    char *buf = malloc(np + len + ns + 1);
    if (!buf) {
        lua_pushliteral(s->L, "not enough memory");
        return LUA_ERRMEM;
    }
    memcpy(buf, prefix, np);
    memcpy(buf + np, code, len);
    memcpy(buf + np + len, suffix, ns);
    int st = repl_load(s, buf, np + len + ns);
    free(buf);
    return st;
}

static int ends_in_eof(lua_State *L)
{
    size_t n;
    const char *msg = lua_tolstring(L, -1, &n);
    return msg && n >= 5 && strcmp(msg + n - 5, "<eof>") == 0;
}

int repl_compile(repl_session *s, const char *code, size_t len, int *incomplete, int *is_expr)
{
    lua_State *L = s->L;
    *incomplete = 0;
    *is_expr = 0;
    /* "Try to compile line on the stack as 'return <line>;'" (lua.c), so `1+2` prints 3.
    ** It runs as the argument of an identity function, because `return f()` would be a
    ** tail call and the traceback would lose the frames of the input itself. */
    int st = load_wrapped(s, "return ", code, len, "");
    int expr_incomplete = st == LUA_ERRSYNTAX && ends_in_eof(L);
    lua_pop(L, 1);
    if (st == LUA_OK) {
        static const char *const id = "return (function(...) return ... end)(";
        st = load_wrapped(s, id, code, len, ")");
        if (st != LUA_OK) {   /* `1 + 1 -- note`: the comment hid the parenthesis */
            lua_pop(L, 1);
            st = load_wrapped(s, id, code, len, "\n)");
        }
        if (st != LUA_OK) {   /* `x;`: fine after return, not inside parentheses */
            lua_pop(L, 1);
            st = load_wrapped(s, "return ", code, len, "");
        }
        if (st == LUA_OK) {
            *is_expr = 1;
            return LUA_OK;
        }
        lua_pop(L, 1);
    }
    size_t rlen = len;
    char *rw = repl_rewrite_locals(code, len, &rlen);
    st = repl_load(s, rw ? rw : code, rw ? rlen : len);
    free(rw);
    /* `1 +` is an unfinished expression even though, as a statement, it is wrong already */
    if (st == LUA_ERRSYNTAX && (ends_in_eof(L) || expr_incomplete)) *incomplete = 1;
    return st;
}

/* ---- running and auto-print ------------------------------------------------------- */
/* Protected: (chunk, is_expr) -> calls the chunk, then shows its results, so that errors
** and Ctrl-C inside __tostring are handled like errors in the chunk itself. */
static int run_and_show(lua_State *L)
{
    repl_session *s = lua_touserdata(L, lua_upvalueindex(1));
    int is_expr = lua_toboolean(L, 2);
    lua_settop(L, 1);
    lua_call(L, 0, LUA_MULTRET);
    int n = lua_gettop(L), multiline = 0;
    if (n == 0) return 0;
    if (is_expr && s->env_ref != LUA_NOREF) {
        repl_env_push(s);
        lua_pushvalue(L, 1);
        lua_setfield(L, -2, "_");
        lua_pop(L, 1);
    }
    luaL_checkstack(L, n + 4, "too many results to print");
    /* a value that already displayed itself during this input (a plot) says so through
    ** __shown, and is not printed a second time */
    int shown = 0;
    for (int i = 1; i <= n; i++)
        if (luaL_callmeta(L, i, "__shown")) {
            shown += lua_toboolean(L, -1);
            lua_pop(L, 1);
        }
    if (shown == n) return 0;
    for (int i = 1; i <= n; i++) {
        repl_show(L, i);
        if (strchr(lua_tostring(L, -1), '\n')) multiline = 1;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        lua_pushvalue(L, n + i);
        luaL_addvalue(&b);
        luaL_addchar(&b, i < n ? (multiline ? '\n' : '\t') : '\n');
    }
    luaL_pushresult(&b);
    size_t len;
    const char *out = lua_tolstring(L, -1, &len);
    repl_write(s, out, len);
    return 0;
}

int repl_run(repl_session *s, int is_expr)
{
    lua_State *L = s->L;
    s->inputs++;
    lua_pushlightuserdata(L, s);
    lua_pushcclosure(L, run_and_show, 1);
    lua_insert(L, -2);
    lua_pushboolean(L, is_expr);
    int st = repl_docall(s, 2, 0);
    fflush(stdout);
    repl_report(s, st);
    return st;
}

int repl_eval(repl_session *s, const char *code, size_t len)
{
    int incomplete, is_expr;
    int st = repl_compile(s, code, len, &incomplete, &is_expr);
    if (st != LUA_OK) {
        repl_report(s, st);
        return st;
    }
    return repl_run(s, is_expr);
}

/* ---- require 'nabla.repl': the REPL's helpers for stdlib modules (lesson.lua) ------ */
static int api_rewrite(lua_State *L)
{
    size_t len, outlen;
    const char *src = luaL_checklstring(L, 1, &len);
    char *out = repl_rewrite_locals(src, len, &outlen);
    if (!out) return luaL_error(L, "not enough memory");
    lua_pushlstring(L, out, outlen);
    free(out);
    return 1;
}

static int api_show(lua_State *L)
{
    luaL_checkany(L, 1);
    repl_show(L, 1);
    return 1;
}

static int api_env(lua_State *L)
{
    repl_session *s = lua_touserdata(L, lua_upvalueindex(1));
    if (s->env_ref == LUA_NOREF) return 0;
    repl_env_push(s);
    return 1;
}

static int api_input_count(lua_State *L)
{
    repl_session *s = lua_touserdata(L, lua_upvalueindex(1));
    lua_pushinteger(L, (lua_Integer)s->inputs);
    return 1;
}

static int api_open(lua_State *L)
{
    repl_session *s = lua_touserdata(L, lua_upvalueindex(1));
    lua_newtable(L);
    lua_pushcfunction(L, api_rewrite);
    lua_setfield(L, -2, "rewrite_locals");
    lua_pushcfunction(L, api_show);
    lua_setfield(L, -2, "show");
    lua_pushlightuserdata(L, s);
    lua_pushcclosure(L, api_env, 1);
    lua_setfield(L, -2, "env");
    lua_pushlightuserdata(L, s);
    lua_pushcclosure(L, api_input_count, 1);
    lua_setfield(L, -2, "input_count");
    lua_pushboolean(L, s->color);
    lua_setfield(L, -2, "color");
    lua_pushboolean(L, s->tty);
    lua_setfield(L, -2, "interactive");
    return 1;
}

void repl_open_api(repl_session *s)
{
    lua_State *L = s->L;
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushlightuserdata(L, s);
    lua_pushcclosure(L, api_open, 1);
    lua_setfield(L, -2, "nabla.repl");
    lua_pop(L, 1);
}
