/* errors.c — running user code in protected mode and showing what went wrong.
** The message handler keeps the message and a traceback trimmed to user code: C frames
** (the REPL's own run/time/lesson drivers at the bottom, error() at the top) are dropped,
** and a traceback with a single frame is not shown at all, since the message already says
** where.  The message is red on a terminal unless NO_COLOR or --no-color. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "lauxlib.h"
#include "repl.h"

#define TRACEBACK_KEY "nabla.traceback"
#define LEVELS_TOP 10     /* frames shown from the top and from the bottom of a deep stack */
#define LEVELS_BOTTOM 11

typedef struct {
    char buf[8192];
    size_t n;
} tbuf;

static void tb_add(tbuf *t, const char *fmt, ...)
{
    va_list ap;
    if (t->n >= sizeof t->buf - 1) return;
    va_start(ap, fmt);
    int k = vsnprintf(t->buf + t->n, sizeof t->buf - t->n, fmt, ap);
    va_end(ap);
    if (k > 0) t->n += (size_t)k < sizeof t->buf - t->n ? (size_t)k : sizeof t->buf - t->n - 1;
}

/* "nb.zeros" for a function found in a loaded module (like lauxlib's pushglobalfuncname). */
static int global_name(lua_State *L, lua_Debug *ar, char *out, size_t len)
{
    int top = lua_gettop(L), found = 0;
    lua_getinfo(L, "f", ar);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushnil(L);
    while (!found && lua_next(L, top + 2)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TTABLE) {
            const char *mod = lua_tostring(L, -2);
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                if (lua_type(L, -2) == LUA_TSTRING && lua_rawequal(L, -1, top + 1)) {
                    const char *key = lua_tostring(L, -2);
                    if (strcmp(mod, "_G") == 0) snprintf(out, len, "%s", key);
                    else snprintf(out, len, "%s.%s", strcmp(mod, "nabla") ? mod : "nb", key);
                    found = 1;
                    lua_pop(L, 2);
                    break;
                }
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);
    }
    lua_settop(L, top);
    return found;
}

/* Highest valid stack level (binary search, as lauxlib does; lua_getstack is linear). */
static int last_level(lua_State *L)
{
    lua_Debug ar;
    int li = 1, le = 1;
    while (lua_getstack(L, le, &ar)) {
        li = le;
        le *= 2;
    }
    while (li < le) {
        int m = (li + le) / 2;
        if (lua_getstack(L, m, &ar)) li = m + 1;
        else le = m;
    }
    return le - 1;
}

/* Adds one frame; returns 1 if it is user code (a Lua function) and was added. */
static int add_frame(lua_State *L, int level, tbuf *t)
{
    lua_Debug ar;
    char name[160];
    if (!lua_getstack(L, level, &ar) || !lua_getinfo(L, "Slnt", &ar)) return 0;
    if (*ar.what == 'C') return 0;
    tb_add(t, "\n    %s:", ar.short_src);
    if (ar.currentline > 0) tb_add(t, "%d:", ar.currentline);
    if (*ar.what == 'm') tb_add(t, " in main chunk");
    else if (*ar.namewhat)
        tb_add(t, " in %s '%s'", strcmp(ar.namewhat, "global") ? ar.namewhat : "function", ar.name);
    else if (global_name(L, &ar, name, sizeof name)) tb_add(t, " in function '%s'", name);
    else tb_add(t, " in function <%s:%d>", ar.short_src, ar.linedefined);
    if (ar.istailcall) tb_add(t, "\n    (...tail calls...)");
    return 1;
}

int repl_msghandler(lua_State *L)
{
    tbuf t;
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    int top = lua_gettop(L);
    int last = last_level(L), kept = 0;
    t.n = 0;
    t.buf[0] = '\0';
    for (int level = 1; level <= last; level++) {
        if (level == LEVELS_TOP + 1 && last - level >= LEVELS_BOTTOM) {
            int skip = last - LEVELS_BOTTOM - level + 1;
            tb_add(&t, "\n    ... (skipping %d levels)", skip);
            level += skip - 1;
            continue;
        }
        kept += add_frame(L, level, &t);
    }
    lua_settop(L, top);
    if (kept >= 2) lua_pushfstring(L, "stack traceback:%s", t.buf);
    else lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, TRACEBACK_KEY);
    lua_pushstring(L, msg);
    return 1;
}

int repl_docall(repl_session *s, int narg, int nres)
{
    lua_State *L = s->L;
    int base = lua_gettop(L) - narg;
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, TRACEBACK_KEY);
    lua_pushcfunction(L, repl_msghandler);
    lua_insert(L, base);
    repl_interrupt_arm(L);
    int st = lua_pcall(L, narg, nres, base);
    repl_interrupt_disarm(L);
    lua_remove(L, base);
    return st;
}

void repl_report(repl_session *s, int status)
{
    lua_State *L = s->L;
    size_t len;
    if (status == LUA_OK) return;
    const char *msg = lua_tolstring(L, -1, &len);
    if (msg == NULL) {
        msg = "(error object is not a string)";
        len = strlen(msg);
    }
    fflush(stdout);
    if (s->color) fputs("\033[31m", stderr);
    repl_ewrite(s, msg, len);
    if (s->color) fputs("\033[0m", stderr);
    repl_ewrite(s, "\n", 1);
    if (lua_getfield(L, LUA_REGISTRYINDEX, TRACEBACK_KEY) == LUA_TSTRING) {
        const char *tb = lua_tolstring(L, -1, &len);
        repl_ewrite(s, tb, len);
        repl_ewrite(s, "\n", 1);
    }
    lua_pop(L, 2);
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, TRACEBACK_KEY);
    fflush(stderr);
    s->errors++;
}
