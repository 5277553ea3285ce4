/* transcript.c — what the session typed and what it printed, for `:save file.md`.
** The REPL's own output goes through repl_write/repl_ewrite; user code's output is caught
** by wrapping print, io.write and the write method of io.stdout (output written by C code
** straight to the stdout FILE is not seen).  Each entry keeps at most ENTRY_MAX bytes of
** output and the whole transcript at most TOTAL_MAX, so a long session cannot eat memory. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lauxlib.h"
#include "repl.h"

#define ENTRY_MAX (64 * 1024)
#define TOTAL_MAX (8 * 1024 * 1024)

typedef struct {
    char *input;
    char *out;
    size_t outlen, outcap;
    int command;       /* a colon command: shown as text, not as Lua */
    int truncated;
} entry;

struct repl_transcript {
    entry *v;
    int n, cap;
    size_t total;
    int recording;     /* output goes to v[n-1] */
};

static void record(repl_session *s, const char *p, size_t n)
{
    struct repl_transcript *t = s->tr;
    if (!t || !t->recording || t->n == 0 || n == 0) return;
    entry *e = &t->v[t->n - 1];
    if (e->outlen + n > ENTRY_MAX || t->total + n > TOTAL_MAX) {
        e->truncated = 1;
        return;
    }
    if (e->outlen + n > e->outcap) {
        size_t cap = e->outcap ? e->outcap : 256;
        while (cap < e->outlen + n) cap *= 2;
        char *q = realloc(e->out, cap);
        if (!q) {
            e->truncated = 1;
            return;
        }
        e->out = q;
        e->outcap = cap;
    }
    memcpy(e->out + e->outlen, p, n);
    e->outlen += n;
    t->total += n;
}

void repl_write(repl_session *s, const char *p, size_t n)
{
    fwrite(p, 1, n, stdout);
    record(s, p, n);
}

void repl_ewrite(repl_session *s, const char *p, size_t n)
{
    fwrite(p, 1, n, stderr);
    record(s, p, n);
}

void repl_printf(repl_session *s, const char *fmt, ...)
{
    char small[512], *p = small;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if ((size_t)k >= sizeof small) {
        p = malloc((size_t)k + 1);
        if (!p) return;
        va_start(ap, fmt);
        vsnprintf(p, (size_t)k + 1, fmt, ap);
        va_end(ap);
    }
    repl_write(s, p, (size_t)k);
    if (p != small) free(p);
}

void repl_transcript_begin(repl_session *s, const char *input, int is_command)
{
    struct repl_transcript *t = s->tr;
    if (!t) {
        t = s->tr = calloc(1, sizeof *t);
        if (!t) return;
    }
    t->recording = 0;
    if (!input) return;
    size_t len = strlen(input);
    if (t->total + len > TOTAL_MAX) return;
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 32;
        entry *v = realloc(t->v, (size_t)cap * sizeof *v);
        if (!v) return;
        t->v = v;
        t->cap = cap;
    }
    entry *e = &t->v[t->n];
    memset(e, 0, sizeof *e);
    e->input = malloc(len + 1);
    if (!e->input) return;
    memcpy(e->input, input, len + 1);
    e->command = is_command;
    t->total += len;
    t->n++;
    t->recording = 1;
}

void repl_transcript_free(repl_session *s)
{
    struct repl_transcript *t = s->tr;
    if (!t) return;
    for (int i = 0; i < t->n; i++) {
        free(t->v[i].input);
        free(t->v[i].out);
    }
    free(t->v);
    free(t);
    s->tr = NULL;
}

/* ---- :save ------------------------------------------------------------------------- */
/* A fence longer than any run of backticks inside the text (CommonMark). */
static int fence_len(const char *p, size_t n)
{
    int best = 0, run = 0;
    for (size_t i = 0; i < n; i++) {
        run = p[i] == '`' ? run + 1 : 0;
        if (run > best) best = run;
    }
    return best >= 3 ? best + 1 : 3;
}

static void block(FILE *f, const char *lang, const char *p, size_t n)
{
    int k = fence_len(p, n);
    for (int i = 0; i < k; i++) fputc('`', f);
    fprintf(f, "%s\n", lang);
    fwrite(p, 1, n, f);
    if (n == 0 || p[n - 1] != '\n') fputc('\n', f);
    for (int i = 0; i < k; i++) fputc('`', f);
    fputs("\n\n", f);
}

int repl_transcript_save(repl_session *s, const char *path)
{
    struct repl_transcript *t = s->tr;
    FILE *f = fopen(path, "w");
    char date[64] = "";
    time_t now = time(NULL);
    if (!f) return -1;
    strftime(date, sizeof date, "%Y-%m-%d %H:%M", localtime(&now));
    fprintf(f, "# nabla session, %s\n\n", date);
    for (int i = 0; t && i < t->n; i++) {
        entry *e = &t->v[i];
        if (e->command) {
            /* a colon command and its output form one text block */
            size_t n = strlen(e->input) + e->outlen + 16;
            char *p = malloc(n);
            if (!p) continue;
            int k = snprintf(p, n, "%s%s\n", REPL_PROMPT, e->input);
            memcpy(p + k, e->out ? e->out : "", e->outlen);
            block(f, "text", p, (size_t)k + e->outlen);
            free(p);
            continue;
        }
        block(f, "lua", e->input, strlen(e->input));
        if (e->outlen) block(f, "text", e->out, e->outlen);
        if (e->truncated) fputs("*(output truncated)*\n\n", f);
    }
    int err = ferror(f);
    if (fclose(f) != 0 || err) {
        if (!errno) errno = EIO;
        return -1;
    }
    return 0;
}

/* ---- capturing what user code prints ------------------------------------------------ */
static void record_values(repl_session *s, lua_State *L, int from, int to)
{
    char num[64];
    for (int i = from; i <= to; i++) {
        size_t len;
        if (lua_type(L, i) == LUA_TSTRING) {
            const char *p = lua_tolstring(L, i, &len);
            record(s, p, len);
        } else if (lua_type(L, i) == LUA_TNUMBER) {
            /* the formats io.write uses */
            if (lua_isinteger(L, i))
                len = (size_t)snprintf(num, sizeof num, LUA_INTEGER_FMT,
                                       (LUAI_UACINT)lua_tointeger(L, i));
            else
                len = (size_t)snprintf(num, sizeof num, LUA_NUMBER_FMT,
                                       (LUAI_UACNUMBER)lua_tonumber(L, i));
            record(s, num, len < sizeof num ? len : sizeof num - 1);
        }
    }
}

static int t_print(lua_State *L)
{
    repl_session *s = lua_touserdata(L, lua_upvalueindex(1));
    int n = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *p = luaL_tolstring(L, i, &len);
        if (i > 1) repl_write(s, "\t", 1);
        repl_write(s, p, len);
        lua_pop(L, 1);
    }
    repl_write(s, "\n", 1);
    fflush(stdout);
    return 0;
}

/* io.write: records when the default output is io.stdout. upvalues: s, io.write, io.output,
** io.stdout */
static int t_iowrite(lua_State *L)
{
    repl_session *s = lua_touserdata(L, lua_upvalueindex(1));
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(3));
    lua_call(L, 0, 1);
    if (lua_rawequal(L, -1, lua_upvalueindex(4))) record_values(s, L, 1, n);
    lua_pop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

/* file:write for io.stdout.  upvalues: s, the original method, io.stdout */
static int t_fwrite(lua_State *L)
{
    repl_session *s = lua_touserdata(L, lua_upvalueindex(1));
    int n = lua_gettop(L);
    if (n >= 1 && lua_rawequal(L, 1, lua_upvalueindex(3))) record_values(s, L, 2, n);
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

void repl_transcript_hook(repl_session *s)
{
    lua_State *L = s->L;
    int top = lua_gettop(L);
    lua_pushlightuserdata(L, s);
    lua_pushcclosure(L, t_print, 1);
    lua_setglobal(L, "print");
    if (lua_getglobal(L, "io") != LUA_TTABLE) {
        lua_settop(L, top);
        return;
    }
    int io = lua_gettop(L);
    lua_getfield(L, io, "stdout");
    int out = lua_gettop(L);
    if (lua_getfield(L, io, "write") == LUA_TFUNCTION) {
        lua_pushlightuserdata(L, s);
        lua_insert(L, -2);
        lua_getfield(L, io, "output");
        lua_pushvalue(L, out);
        lua_pushcclosure(L, t_iowrite, 4);
        lua_setfield(L, io, "write");
    }
    if (luaL_getmetafield(L, out, "__index") == LUA_TTABLE) {
        int methods = lua_gettop(L);
        lua_pushlightuserdata(L, s);
        lua_getfield(L, methods, "write");
        lua_pushvalue(L, out);
        lua_pushcclosure(L, t_fwrite, 3);
        lua_setfield(L, methods, "write");
    }
    lua_settop(L, top);
}
