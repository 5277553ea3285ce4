/* commands.c — the colon commands (:help, :threads, :seed, :reset, :save, :quit and the
** lesson commands, which the stdlib module `lesson` implements) and the help system shared
** by `:help name` and the global help(x).  Documentation comes from the docs registry
** nb._docs (function or table -> "signature — one line"); :time lives in timeit.c. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lauxlib.h"
#include "repl.h"

typedef struct {
    const char *name, *args, *help;
    void (*fn)(repl_session *s, const char *name, const char *args);
} command;

static void cmd_help(repl_session *s, const char *name, const char *args);
static void cmd_time(repl_session *s, const char *name, const char *args)
{
    (void)name;
    repl_time(s, args);
}
static void cmd_threads(repl_session *s, const char *name, const char *args);
static void cmd_seed(repl_session *s, const char *name, const char *args);
static void cmd_reset(repl_session *s, const char *name, const char *args);
static void cmd_save(repl_session *s, const char *name, const char *args);
static void cmd_lesson(repl_session *s, const char *name, const char *args);
static void cmd_quit(repl_session *s, const char *name, const char *args)
{
    (void)name;
    (void)args;
    s->quit = 1;
}

static const command commands[] = {
    { "help", "[name]", "one-line docs of a function or module (also help(x))", cmd_help },
    { "time", "<stmt>", "time a statement: mean ± std over adaptive repeats", cmd_time },
    { "threads", "[N]", "show or set the number of threads", cmd_threads },
    { "seed", "N", "seed the random number generators", cmd_seed },
    { "reset", "", "start a fresh session environment (prompt variables cleared)", cmd_reset },
    { "save", "<file.md>", "write this session as Markdown (inputs and outputs)", cmd_save },
    { "lessons", "", "list the lessons", cmd_lesson },
    { "open", "<lesson>", "open a lesson (a name or a path)", cmd_lesson },
    { "next", "", "show and run the next cell of the lesson", cmd_lesson },
    { "prev", "", "go back one cell", cmd_lesson },
    { "cell", "", "show the current cell again", cmd_lesson },
    { "run", "", "run the rest of the lesson", cmd_lesson },
    { "quit", "", "leave nabla (also Ctrl-D)", cmd_quit },
};
#define NCOMMANDS ((int)(sizeof commands / sizeof commands[0]))

const char *repl_command_name(int i) { return i >= 0 && i < NCOMMANDS ? commands[i].name : NULL; }

static const struct { const char *name, *what; } modules[] = {
    { "nb", "tensors, autograd, linear algebra (always loaded)" },
    { "nn", "layers, losses and nn.F functional forms" },
    { "optim", "optimizers: SGD, Adam, AdamW, RMSprop, Adagrad; schedulers" },
    { "check", "gradient checks and lesson answers" },
    { "calc", "output-size, receptive-field and parameter calculators" },
    { "plot", "terminal plots and SVG" },
    { "data", "datasets (Fashion-MNIST)" },
    { "lesson", "lessons: :lessons, :open, :next" },
};

/* ---- help ------------------------------------------------------------------------- */
static void general_help(repl_session *s)
{
    lua_State *L = s->L;
    repl_printf(s, "commands:\n");
    for (int i = 0; i < NCOMMANDS; i++) {
        char head[32];
        snprintf(head, sizeof head, ":%s %s", commands[i].name, commands[i].args);
        repl_printf(s, "  %-18s %s\n", head, commands[i].help);
    }
    repl_printf(s, "modules (globals, loaded on first use):\n");
    for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++) {
        int there = i == 0 || repl_module_exists(L, modules[i].name);
        repl_printf(s, "  %-8s %s%s\n", modules[i].name, modules[i].what,
                    there ? "" : " (not installed)");
    }
    repl_printf(s, "keys: Tab completes, Ctrl-R searches history, Ctrl-C interrupts or clears "
                   "the line, Ctrl-D quits\n"
                   "an expression prints its value; `local` works across lines; `_` is the "
                   "last value\n");
}

static void help_command(repl_session *s, const command *c)
{
    repl_printf(s, ":%s %s — %s\n", c->name, c->args, c->help);
}

static const command *find_command(const char *name, size_t len, int *ambiguous)
{
    const command *hit = NULL;
    *ambiguous = 0;
    for (int i = 0; i < NCOMMANDS; i++) {
        if (strlen(commands[i].name) == len && memcmp(commands[i].name, name, len) == 0)
            return &commands[i];
    }
    for (int i = 0; i < NCOMMANDS && len > 0; i++) {
        if (strncmp(commands[i].name, name, len) == 0) {
            if (hit) *ambiguous = 1;
            hit = &commands[i];
        }
    }
    return *ambiguous ? NULL : hit;
}

/* Help for the value at idx, shown under `name`. */
static void help_value(repl_session *s, int idx, const char *name)
{
    lua_State *L = s->L;
    lua_Debug ar;
    idx = lua_absindex(L, idx);
    int has_doc = repl_push_doc(L, idx);
    if (has_doc) {
        repl_printf(s, "%s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    switch (lua_type(L, idx)) {
    case LUA_TFUNCTION:
        if (has_doc) return;
        lua_pushvalue(L, idx);
        lua_getinfo(L, ">S", &ar);
        if (*ar.what == 'C')
            repl_printf(s, "%s: a builtin function without a doc line (Lua's own functions are "
                           "in the Lua 5.4 manual)\n", name);
        else
            repl_printf(s, "%s: a Lua function defined at %s:%d (no doc line)\n", name,
                        ar.short_src, ar.linedefined);
        return;
    case LUA_TTABLE: break;
    default:
        if (!has_doc) {
            repl_show(L, idx);
            repl_printf(s, "%s: a %s value: %s\n", name, luaL_typename(L, idx),
                        lua_tostring(L, -1));
            lua_pop(L, 1);
        }
        return;
    }
    /* a module or a class: its documented members, then the rest by name */
    lua_newtable(L);
    int keys = lua_gettop(L), n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            lua_pushvalue(L, -1);
            lua_rawseti(L, keys, ++n);
        }
    }
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "sort");
    lua_pushvalue(L, keys);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
    luaL_Buffer others;
    int nothers = 0, ndoc = 0;
    luaL_buffinit(L, &others);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, keys, i);
        const char *key = lua_tostring(L, -1);   /* anchored in keys */
        lua_pop(L, 1);
        if (key[0] == '_') continue;
        lua_getfield(L, idx, key);
        if (repl_push_doc(L, -1)) {
            lua_pushfstring(L, "  %s\n", lua_tostring(L, -1));
            repl_printf(s, "%s", lua_tostring(L, -1));
            lua_pop(L, 3);
            ndoc++;
            continue;
        }
        lua_pop(L, 1);
        lua_pushfstring(L, "%s%s", nothers++ ? ", " : "", key);
        luaL_addvalue(&others);
    }
    luaL_pushresult(&others);
    if (nothers && ndoc) repl_printf(s, "  also: %s\n", lua_tostring(L, -1));
    else if (nothers) repl_printf(s, "%s: a table with %s\n", name, lua_tostring(L, -1));
    else if (!ndoc && !has_doc) repl_printf(s, "%s: an empty table\n", name);
    lua_settop(L, keys - 1);
}

/* help(x): x a value, or a name (string) to evaluate in the session; no argument lists
** commands and modules. */
int repl_help_lua(lua_State *L)
{
    repl_session *s = lua_touserdata(L, lua_upvalueindex(1));
    if (lua_gettop(L) == 0) {
        general_help(s);
        return 0;
    }
    if (lua_type(L, 1) != LUA_TSTRING) {
        help_value(s, 1, "value");
        return 0;
    }
    const char *name = lua_tostring(L, 1);
    size_t len = strlen(name);
    const char *cmd = name[0] == ':' ? name + 1 : name;
    int ambiguous, st;
    const command *c = find_command(cmd, strlen(cmd), &ambiguous);
    if (c && (name[0] == ':' || strcmp(c->name, cmd) == 0)) {
        help_command(s, c);
        return 0;
    }
    lua_pushfstring(L, "return %s", name);
    st = luaL_loadbufferx(L, lua_tostring(L, -1), len + 7, "=help", "t");
    if (st == LUA_OK) {
        repl_env_push(s);
        lua_setupvalue(L, -2, 1);
        st = lua_pcall(L, 0, 1, 0);
    }
    if (st != LUA_OK || lua_isnil(L, -1)) {
        repl_printf(s, "no help for '%s' (not a name in this session); try :help\n", name);
        return 0;
    }
    help_value(s, -1, name);
    return 0;
}

static void cmd_help(repl_session *s, const char *name, const char *args)
{
    (void)name;
    lua_pushlightuserdata(s->L, s);
    lua_pushcclosure(s->L, repl_help_lua, 1);
    int nargs = 0;
    if (*args) {
        lua_pushstring(s->L, args);
        nargs = 1;
    }
    repl_report(s, repl_docall(s, nargs, 0));
}

/* ---- threads, seed, reset, save --------------------------------------------------- */
/* Runs code (chunk "=nabla") in protected mode; errors are reported. */
static int run_code(repl_session *s, const char *code, int nres)
{
    int st = luaL_loadbufferx(s->L, code, strlen(code), "=nabla", "t");
    if (st == LUA_OK) st = repl_docall(s, 0, nres);
    repl_report(s, st);
    return st;
}

static int parse_int(const char *args, long *v)
{
    char *end;
    errno = 0;
    *v = strtol(args, &end, 10);
    while (isspace((unsigned char)*end)) end++;
    return *args && !*end && errno == 0;
}

static void cmd_threads(repl_session *s, const char *name, const char *args)
{
    char code[128];
    long n;
    (void)name;
    if (*args) {
        if (!parse_int(args, &n) || n < 1 || n > 4096) {
            repl_printf(s, "usage: :threads N (a positive integer)\n");
            return;
        }
        snprintf(code, sizeof code, "require('nabla').set_num_threads(%ld)", n);
        if (run_code(s, code, 0) != LUA_OK) return;
    }
    if (run_code(s, "return require('nabla').get_num_threads()", 1) == LUA_OK) {
        repl_printf(s, "threads: %s\n", luaL_tolstring(s->L, -1, NULL));
        lua_pop(s->L, 2);
    }
}

static void cmd_seed(repl_session *s, const char *name, const char *args)
{
    char code[128];
    long n;
    (void)name;
    if (!parse_int(args, &n)) {
        repl_printf(s, "usage: :seed N (an integer)\n");
        return;
    }
    snprintf(code, sizeof code, "require('nabla').manual_seed(%ld)", n);
    if (run_code(s, code, 0) == LUA_OK) repl_printf(s, "seed: %ld\n", n);
}

static void cmd_reset(repl_session *s, const char *name, const char *args)
{
    (void)name;
    (void)args;
    repl_env_new(s);
    lua_gc(s->L, LUA_GCCOLLECT);
    repl_printf(s, "fresh session: prompt variables cleared\n");
}

static void cmd_save(repl_session *s, const char *name, const char *args)
{
    (void)name;
    if (!*args) {
        repl_printf(s, "usage: :save <file.md>\n");
        return;
    }
    const char *home = getenv("HOME");
    char path[4096];
    if (args[0] == '~' && args[1] == '/' && home)
        snprintf(path, sizeof path, "%s%s", home, args + 1);
    else
        snprintf(path, sizeof path, "%s", args);
    if (repl_transcript_save(s, path) != 0) {
        repl_printf(s, "cannot write %s: %s\n", path, strerror(errno));
        return;
    }
    repl_printf(s, "session saved to %s\n", path);
}

/* ---- lessons: delegated to lesson.repl_command(name, args, session_env) ------------ */
static int lesson_call(lua_State *L)
{
    repl_session *s = lua_touserdata(L, lua_upvalueindex(1));
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lesson");
    lua_call(L, 1, 1);
    if (lua_getfield(L, -1, "repl_command") != LUA_TFUNCTION)
        return luaL_error(L, "the lesson module has no repl_command function");
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    repl_env_push(s);
    lua_call(L, 3, 0);
    return 0;
}

static void cmd_lesson(repl_session *s, const char *name, const char *args)
{
    lua_State *L = s->L;
    if (!repl_module_exists(L, "lesson")) {
        repl_printf(s, "lessons are not available: the stdlib module 'lesson' is not installed\n");
        return;
    }
    lua_pushlightuserdata(L, s);
    lua_pushcclosure(L, lesson_call, 1);
    lua_pushstring(L, name);
    lua_pushstring(L, args);
    repl_report(s, repl_docall(s, 2, 0));
}

/* ---- dispatch ----------------------------------------------------------------------- */
void repl_command(repl_session *s, const char *line)
{
    const char *name = line + 1;
    size_t len = strcspn(name, " \t");
    const char *args = name + len;
    int ambiguous;
    while (isspace((unsigned char)*args)) args++;
    char *a = malloc(strlen(args) + 1);
    if (!a) return;
    strcpy(a, args);
    for (size_t n = strlen(a); n > 0 && isspace((unsigned char)a[n - 1]); n--) a[n - 1] = '\0';
    const command *c = find_command(name, len, &ambiguous);
    if (c) {
        c->fn(s, c->name, a);
    } else {
        repl_printf(s, "%s command ':%.*s'; commands are:", ambiguous ? "ambiguous" : "unknown",
                    (int)len, name);
        for (int i = 0; i < NCOMMANDS; i++)
            if (!ambiguous || strncmp(commands[i].name, name, len) == 0)
                repl_printf(s, " :%s", commands[i].name);
        repl_printf(s, "\n");
    }
    free(a);
    fflush(stdout);
}
