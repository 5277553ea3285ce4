/* complete.c — what Tab offers.  Lua names: globals (session variables, _G, the standard
** modules not yet loaded, keywords), `tbl.` fields and `obj:` methods found through
** metatables (__index tables; tensors also through nb._methods).  Only raw reads and
** __index tables are followed, so completing runs no user code, except that naming a
** standard module (nn.<Tab>) loads it.  After :open and :save, file names; after ':', the
** commands.  Nothing here writes to the terminal: lineedit.c does. */
#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "lauxlib.h"
#include "repl.h"

void repl_strlist_add(repl_strlist *l, const char *s, size_t len)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 32;
        char **v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return;
        l->v = v;
        l->cap = cap;
    }
    char *p = malloc(len + 1);
    if (!p) return;
    memcpy(p, s, len);
    p[len] = '\0';
    l->v[l->n++] = p;
}

void repl_strlist_free(repl_strlist *l)
{
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sort_unique(repl_strlist *l)
{
    int k = 0;
    if (l->n > 1) qsort(l->v, (size_t)l->n, sizeof *l->v, cmp_str);
    for (int i = 0; i < l->n; i++) {
        if (k > 0 && strcmp(l->v[k - 1], l->v[i]) == 0) free(l->v[i]);
        else l->v[k++] = l->v[i];
    }
    l->n = k;
}

static int is_ident(const char *s, size_t n)
{
    if (n == 0 || isdigit((unsigned char)s[0])) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_') return 0;
    return 1;
}

/* ---- Lua names ---------------------------------------------------------------------- */
typedef struct {
    repl_session *s;
    repl_strlist *out;
    const char *path;     /* "nb.linalg" or "" */
    const char *partial;  /* what is typed after the last separator */
    int methods;          /* after ':' only functions */
} query;

/* Adds the string keys of the table at idx that start with q->partial. */
static void add_keys(lua_State *L, int idx, const query *q)
{
    size_t plen = strlen(q->partial);
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        size_t len;
        if (lua_type(L, -2) == LUA_TSTRING && (!q->methods || lua_type(L, -1) == LUA_TFUNCTION)) {
            const char *k = lua_tolstring(L, -2, &len);
            if (len >= plen && memcmp(k, q->partial, plen) == 0 && is_ident(k, len))
                repl_strlist_add(q->out, k, len);
        }
        lua_pop(L, 1);
    }
}

/* The tensor methods table the binding exports (nb._methods), pushed, or nothing. */
static int push_nb_methods(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, -1, "nabla") == LUA_TTABLE &&
        lua_getfield(L, -1, "_methods") == LUA_TTABLE) {
        lua_replace(L, -3);
        lua_pop(L, 1);
        return 1;
    }
    lua_pop(L, lua_type(L, -1) == LUA_TTABLE ? 3 : 2);
    return 0;
}

/* Fields of the value at idx: its own keys (tables) and those of __index tables. */
static void add_fields(lua_State *L, int idx, const query *q)
{
    idx = lua_absindex(L, idx);
    lua_pushvalue(L, idx);
    for (int depth = 0; depth < 8; depth++) {
        if (lua_type(L, -1) == LUA_TTABLE) add_keys(L, -1, q);
        if (luaL_getmetafield(L, -1, "__index") == LUA_TNIL) break;
        lua_remove(L, -2);
        if (lua_type(L, -1) != LUA_TTABLE) {
            if (lua_type(L, idx) == LUA_TUSERDATA && push_nb_methods(L)) {
                add_keys(L, -1, q);
                lua_pop(L, 1);
            }
            break;
        }
    }
    lua_pop(L, 1);
}

/* One step of a dotted path: raw field, else through __index tables; nil otherwise. */
static void get_field(lua_State *L, const char *key)
{
    for (int depth = 0; depth < 8; depth++) {
        if (lua_type(L, -1) == LUA_TTABLE) {
            lua_pushstring(L, key);
            if (lua_rawget(L, -2) != LUA_TNIL) {
                lua_remove(L, -2);
                return;
            }
            lua_pop(L, 1);
        }
        int t = luaL_getmetafield(L, -1, "__index");
        if (t != LUA_TTABLE) {
            if (t != LUA_TNIL) lua_pop(L, 1);
            break;
        }
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
    lua_pushnil(L);
}

static void get_global(lua_State *L, repl_session *s, const char *name)
{
    repl_env_push(s);
    lua_getfield(L, -1, name);   /* E -> _G -> standard modules: may load one */
    lua_remove(L, -2);
}

static int collect_lua(lua_State *L)
{
    const query *q = lua_touserdata(L, 1);
    static const char *kw[] = { "and", "break", "do", "else", "elseif", "end", "false", "for",
                                "function", "goto", "if", "in", "local", "nil", "not", "or",
                                "repeat", "return", "then", "true", "until", "while", NULL };
    if (!*q->path) {
        size_t plen = strlen(q->partial);
        for (int i = 0; kw[i]; i++)
            if (strncmp(kw[i], q->partial, plen) == 0)
                repl_strlist_add(q->out, kw[i], strlen(kw[i]));
        repl_env_push(q->s);
        add_fields(L, -1, q);
        lua_getfield(L, LUA_REGISTRYINDEX, "nabla.lazy");
        if (lua_istable(L, -1)) add_keys(L, -1, q);
        return 0;
    }
    char *path = malloc(strlen(q->path) + 1);
    if (!path) return 0;
    strcpy(path, q->path);
    char *save = NULL, *part = strtok_r(path, ".", &save);
    get_global(L, q->s, part);
    while ((part = strtok_r(NULL, ".", &save)) != NULL && !lua_isnil(L, -1)) get_field(L, part);
    free(path);
    if (!lua_isnil(L, -1)) add_fields(L, -1, q);
    return 0;
}

static void complete_lua(repl_session *s, const char *line, size_t cursor, repl_strlist *out,
                         size_t *wordstart)
{
    lua_State *L = s->L;
    size_t b = cursor, sep = (size_t)-1;
    while (b > 0 && (isalnum((unsigned char)line[b - 1]) || strchr("_.:", line[b - 1]))) b--;
    if (b < cursor && isdigit((unsigned char)line[b])) return;   /* a number */
    for (size_t i = b; i < cursor; i++) {
        if (line[i] == ':' && sep != (size_t)-1 && line[sep] == ':') return;
        if (line[i] == '.' || line[i] == ':') sep = i;
    }
    for (size_t i = b; sep != (size_t)-1 && i < sep; i++)
        if (line[i] == ':') return;               /* `a:b.c` is not a path */
    char *path = malloc(cursor - b + 1);
    if (!path) return;
    query q = { s, out, path, NULL, 0 };
    if (sep == (size_t)-1) {
        path[0] = '\0';
        q.partial = line + b;
        *wordstart = b;
    } else {
        memcpy(path, line + b, sep - b);
        path[sep - b] = '\0';
        q.partial = line + sep + 1;
        q.methods = line[sep] == ':';
        *wordstart = sep + 1;
    }
    if (!strstr(path, "..")) {
        lua_pushcfunction(L, collect_lua);
        lua_pushlightuserdata(L, &q);
        if (lua_pcall(L, 1, 0, 0) != LUA_OK) lua_pop(L, 1);
    }
    free(path);
}

/* ---- files and commands --------------------------------------------------------------- */
static void complete_file(const char *word, size_t len, repl_strlist *out)
{
    const char *slash = NULL;
    for (size_t i = 0; i < len; i++)
        if (word[i] == '/') slash = word + i;
    size_t dlen = slash ? (size_t)(slash - word) + 1 : 0;
    const char *base = word + dlen;
    size_t blen = len - dlen;
    char *dir = malloc(dlen + 2);
    if (!dir) return;
    if (dlen) memcpy(dir, word, dlen), dir[dlen] = '\0';
    else strcpy(dir, ".");
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        size_t nlen = strlen(e->d_name);
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (e->d_name[0] == '.' && (blen == 0 || base[0] != '.')) continue;
        if (nlen < blen || memcmp(e->d_name, base, blen) != 0) continue;
        char *cand = malloc(dlen + nlen + 2);
        if (!cand) break;
        memcpy(cand, word, dlen);
        memcpy(cand + dlen, e->d_name, nlen + 1);
        struct stat st;
        int isdir = e->d_type == DT_DIR ||
                    ((e->d_type == DT_UNKNOWN || e->d_type == DT_LNK) && stat(cand, &st) == 0 &&
                     S_ISDIR(st.st_mode));
        if (isdir) strcat(cand, "/");
        repl_strlist_add(out, cand, strlen(cand));
        free(cand);
    }
    if (d) closedir(d);
    free(dir);
}

void repl_complete(repl_session *s, const char *line, size_t cursor, repl_strlist *out,
                   size_t *wordstart)
{
    size_t p = strspn(line, " \t");
    *wordstart = cursor;
    if (p < cursor && line[p] == ':') {
        size_t nend = p + 1 + strcspn(line + p + 1, " \t");
        if (nend >= cursor) {                        /* the command name itself */
            *wordstart = p;
            for (int i = 0; repl_command_name(i); i++) {
                const char *n = repl_command_name(i);
                if (strncmp(n, line + p + 1, cursor - p - 1) == 0) {
                    char buf[32];
                    snprintf(buf, sizeof buf, ":%s", n);
                    repl_strlist_add(out, buf, strlen(buf));
                }
            }
        } else if ((nend - p == 5 && memcmp(line + p, ":open", 5) == 0) ||
                   (nend - p == 5 && memcmp(line + p, ":save", 5) == 0)) {
            size_t w = cursor;
            while (w > nend && line[w - 1] != ' ' && line[w - 1] != '\t') w--;
            *wordstart = w;
            complete_file(line + w, cursor - w, out);
        } else {
            complete_lua(s, line, cursor, out, wordstart);
        }
    } else {
        complete_lua(s, line, cursor, out, wordstart);
    }
    sort_unique(out);
}
