/* print.c — how the REPL shows a value.  Strings are quoted (so "3" and 3 differ), numbers
** and booleans as Lua writes them, tensors and anything with __tostring through tostring,
** functions by their doc line when the docs registry (nb._docs) has one, and tables
** expanded: array part first and compact, other keys sorted, nested tables to MAX_DEPTH,
** at most MAX_ITEMS entries each, cycles marked.  A table that does not fit on one line of
** WIDTH columns is laid out one entry (or one run of short array items) per line. */
#include <stdlib.h>
#include <string.h>
#include "lauxlib.h"
#include "repl.h"

#define MAX_DEPTH 3
#define MAX_ITEMS 50
#define WIDTH 78

int repl_push_doc(lua_State *L, int idx)
{
    int top = lua_gettop(L);
    idx = lua_absindex(L, idx);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, -1, "nabla") == LUA_TTABLE && lua_getfield(L, -1, "_docs") == LUA_TTABLE) {
        lua_pushvalue(L, idx);
        if (lua_rawget(L, -2) == LUA_TSTRING) {
            lua_replace(L, top + 1);
            lua_settop(L, top + 1);
            return 1;
        }
    }
    lua_settop(L, top);
    return 0;
}

static void push_quoted(lua_State *L, int idx)
{
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        switch (c) {
        case '"': luaL_addstring(&b, "\\\""); break;
        case '\\': luaL_addstring(&b, "\\\\"); break;
        case '\n': luaL_addstring(&b, "\\n"); break;
        case '\r': luaL_addstring(&b, "\\r"); break;
        case '\t': luaL_addstring(&b, "\\t"); break;
        default:
            if (c < 32 || c == 127) {
                snprintf(esc, sizeof esc, "\\%d", c);
                luaL_addstring(&b, esc);
            } else {
                luaL_addchar(&b, (char)c);
            }
        }
    }
    luaL_addchar(&b, '"');
    luaL_pushresult(&b);
}

static int is_identifier(const char *s, size_t len)
{
    static const char *kw[] = { "and", "break", "do", "else", "elseif", "end", "false", "for",
                                "function", "goto", "if", "in", "local", "nil", "not", "or",
                                "repeat", "return", "then", "true", "until", "while", NULL };
    if (len == 0 || (s[0] >= '0' && s[0] <= '9')) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9')))
            return 0;
    }
    for (int k = 0; kw[k]; k++)
        if (strlen(kw[k]) == len && memcmp(kw[k], s, len) == 0) return 0;
    return 1;
}

/* ---- tables ------------------------------------------------------------------------ */
typedef struct {
    int kind;        /* 0 number, 1 string, 2 boolean, 3 other */
    lua_Number num;
    const char *str; /* anchored by the keys table */
    size_t len;
    int slot;        /* index in the keys table */
} keyinfo;

/* "key2" before "key10": runs of digits compare as numbers. */
static int natural_cmp(const char *a, const char *b)
{
    while (*a && *b) {
        if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
            const char *ea = a, *eb = b;
            while (*a == '0') a++;
            while (*b == '0') b++;
            for (ea = a; *ea >= '0' && *ea <= '9'; ea++) {}
            for (eb = b; *eb >= '0' && *eb <= '9'; eb++) {}
            if (ea - a != eb - b) return ea - a < eb - b ? -1 : 1;
            int c = strncmp(a, b, (size_t)(ea - a));
            if (c) return c;
            a = ea;
            b = eb;
        } else {
            if (*a != *b) return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
            a++;
            b++;
        }
    }
    return *a ? 1 : *b ? -1 : strcmp(a, b);
}

static int cmp_keys(const void *pa, const void *pb)
{
    const keyinfo *a = pa, *b = pb;
    if (a->kind != b->kind) return a->kind - b->kind;
    if (a->kind == 0 && a->num != b->num) return a->num < b->num ? -1 : 1;
    if (a->kind == 1) {
        int c = natural_cmp(a->str, b->str);
        if (c) return c;
    }
    return a->slot - b->slot;
}

static void show(lua_State *L, int idx, int depth, int seen);

static void push_key(lua_State *L, int idx)
{
    size_t len;
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TSTRING) {
        const char *s = lua_tolstring(L, idx, &len);
        if (is_identifier(s, len)) {
            lua_pushfstring(L, "%s = ", s);
            return;
        }
        push_quoted(L, idx);
    } else {
        luaL_tolstring(L, idx, &len);
    }
    lua_pushfstring(L, "[%s] = ", lua_tostring(L, -1));
    lua_remove(L, -2);
}

/* Appends s to b, indenting every line after the first by `indent` spaces. */
static void add_indented(luaL_Buffer *b, const char *s, int indent)
{
    for (; *s; s++) {
        luaL_addchar(b, *s);
        if (*s == '\n')
            for (int k = 0; k < indent; k++) luaL_addchar(b, ' ');
    }
}

/* Collects the rendered entries of table t into a new table (pushed): items[i] is the
** text, and entries with keys are marked in a parallel flags table (pushed after it). */
static int collect(lua_State *L, int t, int depth, int seen, int *narray, int *more)
{
    int n = 0, nkeys = 0;
    keyinfo *ki = NULL;
    lua_Integer len = 0;
    while (lua_rawgeti(L, t, len + 1) != LUA_TNIL) {
        lua_pop(L, 1);
        len++;
    }
    lua_pop(L, 1);
    lua_newtable(L);                                  /* items */
    int items = lua_gettop(L);
    lua_newtable(L);                                  /* keys, anchoring key strings */
    int keys = lua_gettop(L);
    for (lua_Integer i = 1; i <= len && n < MAX_ITEMS; i++) {
        lua_rawgeti(L, t, i);
        show(L, -1, depth + 1, seen);
        lua_rawseti(L, items, ++n);
        lua_pop(L, 1);
    }
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1 && lua_tointeger(L, -1) <= len)
            continue;
        lua_pushvalue(L, -1);
        lua_rawseti(L, keys, ++nkeys);
    }
    *narray = n;
    *more = (int)(len > n ? len - n : 0);
    if (nkeys > 0) ki = lua_newuserdatauv(L, (size_t)nkeys * sizeof *ki, 0);   /* freed by GC */
    for (int k = 0; k < nkeys; k++) {
        lua_rawgeti(L, keys, k + 1);
        int ty = lua_type(L, -1);
        ki[k].slot = k + 1;
        ki[k].kind = ty == LUA_TNUMBER ? 0 : ty == LUA_TSTRING ? 1 : ty == LUA_TBOOLEAN ? 2 : 3;
        ki[k].num = ty == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
        ki[k].str = ty == LUA_TSTRING ? lua_tolstring(L, -1, &ki[k].len) : NULL;
        lua_pop(L, 1);
    }
    if (nkeys > 1) qsort(ki, (size_t)nkeys, sizeof *ki, cmp_keys);
    for (int k = 0; k < nkeys; k++) {
        if (n >= MAX_ITEMS) {
            *more += nkeys - k;
            break;
        }
        lua_rawgeti(L, keys, ki[k].slot);
        push_key(L, -1);
        lua_pushvalue(L, -2);
        lua_rawget(L, t);
        show(L, -1, depth + 1, seen);
        lua_remove(L, -2);
        lua_concat(L, 2);
        lua_rawseti(L, items, ++n);
        lua_pop(L, 1);
    }
    lua_settop(L, items);
    return n;
}

static void show_table(lua_State *L, int t, int depth, int seen)
{
    int narray, more, total = 2, multiline = 0;
    lua_pushvalue(L, t);
    if (lua_rawget(L, seen) != LUA_TNIL) {
        lua_pop(L, 1);
        lua_pushliteral(L, "<cycle>");
        return;
    }
    lua_pop(L, 1);
    lua_pushnil(L);
    if (!lua_next(L, t)) {
        lua_pushliteral(L, "{}");
        return;
    }
    lua_pop(L, 2);
    if (depth >= MAX_DEPTH) {
        lua_pushliteral(L, "{...}");
        return;
    }
    lua_pushvalue(L, t);
    lua_pushboolean(L, 1);
    lua_rawset(L, seen);
    int n = collect(L, t, depth, seen, &narray, &more);
    int items = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        size_t len;
        lua_rawgeti(L, items, i);
        const char *s = lua_tolstring(L, -1, &len);
        total += (int)len + 2;
        if (strchr(s, '\n')) multiline = 1;
        lua_pop(L, 1);
    }
    if (more) total += 16;
    if (total + 2 * depth > WIDTH) multiline = 1;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, '{');
    int col = 2;
    for (int i = 1; i <= n; i++) {
        size_t len;
        lua_rawgeti(L, items, i);
        const char *s = lua_tolstring(L, -1, &len);   /* stays anchored in items */
        lua_pop(L, 1);                                 /* the buffer wants its box on top */
        if (!multiline) {
            luaL_addstring(&b, s);
            if (i < n || more) luaL_addstring(&b, ", ");
        } else if (i <= narray && i > 1 && !strchr(s, '\n') &&
                   col + (int)len + 2 <= WIDTH - 2 * depth) {
            luaL_addchar(&b, ' ');           /* short array items share a line */
            luaL_addstring(&b, s);
            luaL_addchar(&b, ',');
            col += (int)len + 2;
        } else {
            luaL_addstring(&b, "\n  ");
            add_indented(&b, s, 2);
            luaL_addchar(&b, ',');
            col = 2 + (int)len + 1;
        }
    }
    if (more) {
        lua_pushfstring(L, "%s... (%d more)", multiline ? "\n  " : "", more);
        luaL_addvalue(&b);
    }
    if (multiline) luaL_addchar(&b, '\n');
    luaL_addchar(&b, '}');
    luaL_pushresult(&b);
    lua_remove(L, items);
    lua_pushvalue(L, t);
    lua_pushnil(L);
    lua_rawset(L, seen);
}

static void show_function(lua_State *L, int idx, int depth)
{
    lua_Debug ar;
    if (depth == 0 && repl_push_doc(L, idx)) return;
    lua_pushvalue(L, idx);
    lua_getinfo(L, ">S", &ar);
    if (*ar.what == 'C') lua_pushliteral(L, "<function: builtin>");
    else lua_pushfstring(L, "<function: %s:%d>", ar.short_src, ar.linedefined);
}

static void show(lua_State *L, int idx, int depth, int seen)
{
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 12, "nested too deeply to show");
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        push_quoted(L, idx);
        return;
    case LUA_TFUNCTION:
        show_function(L, idx, depth);
        return;
    case LUA_TTABLE:
        if (!luaL_getmetafield(L, idx, "__tostring")) {
            show_table(L, idx, depth, seen);
            return;
        }
        lua_pop(L, 1);
        break;
    default:
        break;
    }
    luaL_tolstring(L, idx, NULL);
}

void repl_show(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_newtable(L);                   /* tables being shown, for cycles */
    show(L, idx, 0, lua_gettop(L));
    lua_remove(L, -2);
}
