/* main.c — the `nabla` program's command line, after lua.c: options, -e/-l in order,
** a script with its `arg` table, `-` for standard input, -i, the lesson subcommands
** (subcmd.c), then the REPL.  Also sets up the Lua state: package.path (NABLA_PATH, then
** the installed or source stdlib), the preloaded C module and the standard globals. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cblas.h>
#include "lauxlib.h"
#include "lualib.h"
#include "repl.h"

#ifndef NABLA_STDLIB
#define NABLA_STDLIB "stdlib"
#endif

static const char usage_text[] =
    "usage: nabla [options] [script.lua [args]]\n"
    "       nabla lesson NAME|PATH        run a lesson headless (exit 1 if a check fails)\n"
    "       nabla lessons                 list the lessons\n"
    "       nabla render PATH [-o OUT.md] run a lesson, write it as a Markdown notebook\n"
    "options:\n"
    "  -e CODE        run CODE (when it is an expression, print its value)\n"
    "  -l NAME        require module NAME into the global NAME\n"
    "  -i             enter the REPL after running the script or -e\n"
    "  -              run standard input as a script\n"
    "  --threads N    use N threads\n"
    "  --seed N       seed the random number generators\n"
    "  --no-color     no colors (as when NO_COLOR is set)\n"
    "  -v, --version  show the version\n"
    "  -h, --help     show this help\n"
    "With no script and no -e, the REPL starts; when standard input is not a terminal it\n"
    "reads statements quietly (no banner, no prompts) and still prints expression values.\n";

typedef struct {
    int interactive, version, help, no_color, has_exec;
    const char *threads, *seed;
    int script;   /* argv index of the script (or "-"), 0 if none */
    int sub;      /* argv index of a subcommand, 0 if none */
    int last;     /* argv index where options end */
} options;

static int usage_error(const char *opt, const char *why)
{
    fprintf(stderr, "nabla: option '%s' %s\n%s", opt, why, usage_text);
    return -1;
}

/* "--threads N" or "--threads=N": the value, or NULL if argv[*i] is not this option. */
static const char *value_option(const char *name, int argc, char **argv, int *i, int *err)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0) return NULL;
    if (argv[*i][n] == '=') return argv[*i] + n + 1;
    if (argv[*i][n] != '\0') return NULL;
    if (*i + 1 >= argc) {
        *err = usage_error(name, "needs a value");
        return NULL;
    }
    return argv[++*i];
}

static int parse(int argc, char **argv, options *o)
{
    int err = 0;
    memset(o, 0, sizeof *o);
    o->last = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        o->last = i;
        if (a[0] != '-' || a[1] == '\0') {
            if (!strcmp(a, "lesson") || !strcmp(a, "lessons") || !strcmp(a, "render")) o->sub = i;
            else o->script = i;
            return 0;
        }
        if (!strcmp(a, "--")) {
            if (i + 1 < argc) o->script = i + 1;
            return 0;
        }
        if (a[1] == 'e' || a[1] == 'l') {
            if (a[2] == '\0' && ++i >= argc) return usage_error(a, "needs an argument");
            if (a[1] == 'e') o->has_exec = 1;
        } else if (!strcmp(a, "-i")) {
            o->interactive = 1;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--version")) {
            o->version = 1;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            o->help = 1;
        } else if (!strcmp(a, "--no-color")) {
            o->no_color = 1;
        } else if ((v = value_option("--threads", argc, argv, &i, &err)) != NULL) {
            o->threads = v;
        } else if ((v = value_option("--seed", argc, argv, &i, &err)) != NULL) {
            o->seed = v;
        } else {
            return err ? err : usage_error(a, "is unknown");
        }
    }
    o->last = argc;
    return 0;
}

/* ---- the Lua state ------------------------------------------------------------------ */
static void add_dir(luaL_Buffer *b, const char *dir)
{
    luaL_addstring(b, dir);
    luaL_addstring(b, "/?.lua;");
    luaL_addstring(b, dir);
    luaL_addstring(b, "/?/init.lua;");
}

static void set_path(lua_State *L)
{
    luaL_Buffer b;
    char exe[PATH_MAX], share[PATH_MAX + 32];
    struct stat st;
    const char *np = getenv("NABLA_PATH");
    lua_getglobal(L, "package");
    luaL_buffinit(L, &b);
    while (np && *np) {   /* directories (or ?-templates), separated by ':' or ';' */
        size_t n = strcspn(np, ":;");
        if (n > 0) {
            lua_pushlstring(L, np, n);
            if (memchr(np, '?', n)) lua_pushliteral(L, ";");
            else lua_pushfstring(L, "/?.lua;%s/?/init.lua;", lua_tostring(L, -1));
            lua_concat(L, 2);
            luaL_addvalue(&b);
        }
        np += n + (np[n] != '\0');
    }
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {   /* an installed nabla: PREFIX/bin/nabla and PREFIX/share/nabla/stdlib */
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        snprintf(share, sizeof share, "%s/../share/nabla/stdlib", exe);
        if (stat(share, &st) == 0 && S_ISDIR(st.st_mode)) add_dir(&b, share);
    }
    add_dir(&b, NABLA_STDLIB);
    lua_getfield(L, -2, "path");
    luaL_addvalue(&b);
    luaL_pushresult(&b);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
}

/* NABLA_LESSONS for the lesson module, unless the user set it: PREFIX/share/nabla/lessons
** next to an installed binary, else the source tree's examples/lessons. */
static void set_lessons_dir(void)
{
    char exe[PATH_MAX], dir[PATH_MAX + 64];
    struct stat st;
    if (getenv("NABLA_LESSONS")) return;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        snprintf(dir, sizeof dir, "%s/../share/nabla/lessons", exe);
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
            setenv("NABLA_LESSONS", dir, 1);
            return;
        }
    }
    snprintf(dir, sizeof dir, "%s/../examples/lessons", NABLA_STDLIB);
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) setenv("NABLA_LESSONS", dir, 1);
}

static void create_arg_table(lua_State *L, char **argv, int argc, int script)
{
    lua_createtable(L, argc - script, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

/* -e CODE: a statement, or else an expression whose values are printed. */
static int run_exec(repl_session *s, const char *code)
{
    lua_State *L = s->L;
    int is_expr = 0, st = luaL_loadbufferx(L, code, strlen(code), "=(command line)", "t");
    if (st == LUA_ERRSYNTAX) {
        lua_pushfstring(L, "return %s", code);
        if (luaL_loadbufferx(L, lua_tostring(L, -1), strlen(code) + 7, "=(command line)", "t") ==
            LUA_OK) {
            lua_remove(L, -2);
            lua_remove(L, -2);
            st = LUA_OK;
            is_expr = 1;
        } else {
            lua_pop(L, 2);
        }
    }
    if (st != LUA_OK) {
        repl_report(s, st);
        return st;
    }
    return repl_run(s, is_expr);
}

static int run_require(repl_session *s, const char *name)
{
    lua_State *L = s->L;
    lua_getglobal(L, "require");
    lua_pushstring(L, name);
    int st = repl_docall(s, 1, 1);
    if (st == LUA_OK) lua_setglobal(L, name);
    else repl_report(s, st);
    return st;
}

static int run_script(repl_session *s, char **argv, int argc, int idx)
{
    lua_State *L = s->L;
    const char *fname = argv[idx];
    if (strcmp(fname, "-") == 0 && strcmp(argv[idx - 1], "--") != 0) fname = NULL;
    int st = luaL_loadfile(L, fname);
    if (st == LUA_OK) {
        luaL_checkstack(L, argc - idx, "too many arguments to script");
        for (int i = idx + 1; i < argc; i++) lua_pushstring(L, argv[i]);
        st = repl_docall(s, argc - idx - 1, 0);
    }
    repl_report(s, st);
    return st;
}

static int parse_long(const char *v, long lo, long hi, long *out)
{
    char *end;
    *out = strtol(v, &end, 10);
    return *v && !*end && *out >= lo && *out <= hi;
}

/* Runs --threads, --seed, then -e and -l in order; 0 on success. */
static int run_options(repl_session *s, const options *o, char **argv)
{
    char code[96];
    long n;
    if (o->threads) {
        if (!parse_long(o->threads, 1, 4096, &n)) {
            fprintf(stderr, "nabla: --threads expects a positive integer, got '%s'\n", o->threads);
            return 2;
        }
        snprintf(code, sizeof code, "nb.set_num_threads(%ld)", n);
        if (run_exec(s, code) != LUA_OK) return 1;
    }
    if (o->seed) {
        if (!parse_long(o->seed, LONG_MIN, LONG_MAX, &n)) {
            fprintf(stderr, "nabla: --seed expects an integer, got '%s'\n", o->seed);
            return 2;
        }
        snprintf(code, sizeof code, "nb.manual_seed(%ld)", n);
        if (run_exec(s, code) != LUA_OK) return 1;
    }
    for (int i = 1; i < o->last; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || (a[1] != 'e' && a[1] != 'l')) continue;
        const char *v = a[2] ? a + 2 : argv[++i];
        if ((a[1] == 'e' ? run_exec(s, v) : run_require(s, v)) != LUA_OK) return 1;
    }
    return 0;
}

static int pmain(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = lua_touserdata(L, 2);
    repl_session *s = lua_touserdata(L, 3);
    const options *o = lua_touserdata(L, 4);
    int code = 0;
    lua_settop(L, 0);
    luaL_checkversion(L);
    luaL_openlibs(L);
    set_path(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_nabla);
    lua_setfield(L, -2, "nabla");
    lua_pop(L, 1);
    repl_open_api(s);
    create_arg_table(L, argv, argc, o->script ? o->script : o->sub);
    if (run_require(s, "nabla") != LUA_OK) {
        lua_pushinteger(L, 1);
        return 1;
    }
    lua_getglobal(L, "nabla");
    lua_setglobal(L, "nb");
    lua_pushnil(L);
    lua_setglobal(L, "nabla");
    repl_globals_init(s);
    lua_pushlightuserdata(L, s);
    lua_pushcclosure(L, repl_help_lua, 1);
    lua_setglobal(L, "help");
    if ((code = run_options(s, o, argv)) != 0) {
        /* an error in an option ends the program, as in lua */
    } else if (o->sub) code = repl_subcommand(s, argc, argv, o->sub);
    else if (o->script && run_script(s, argv, argc, o->script) != LUA_OK) code = 1;
    if (code == 0 && !o->sub && (o->interactive || (!o->script && !o->has_exec))) {
        s->errors = 0;
        if (s->tty) {
            repl_interrupt_init(1);
            repl_banner(s);
            if (repl_line_open(s) != 0) s->tty = 0;
        }
        repl_loop(s);
        if (!s->tty && s->errors) code = 1;
    }
    lua_pushinteger(L, code);
    return 1;
}

int main(int argc, char **argv)
{
    options o;
    repl_session s;
    if (parse(argc, argv, &o) != 0) return 2;
    if (o.help) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (o.version) {
        printf("nabla %s (%s, OpenBLAS %s)\n", NABLA_VERSION, LUA_RELEASE, openblas_get_corename());
        return 0;
    }
    memset(&s, 0, sizeof s);
    s.env_ref = LUA_NOREF;
    s.tty = isatty(STDIN_FILENO);
    const char *nc = getenv("NO_COLOR");
    s.color = isatty(STDERR_FILENO) && !(nc && *nc) && !o.no_color;
    if (o.no_color) setenv("NO_COLOR", "1", 1);   /* so that plot and lesson see it too */
    /* stdlib modules cannot ask isatty: progress bars and colored plots look at this */
    setenv("NABLA_TTY", isatty(STDOUT_FILENO) ? "1" : "0", 1);
    set_lessons_dir();
    repl_interrupt_init(0);
    lua_State *L = s.L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "nabla: cannot create the Lua state: not enough memory\n");
        return 1;
    }
    lua_pushcfunction(L, pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    lua_pushlightuserdata(L, &s);
    lua_pushlightuserdata(L, &o);
    int st = lua_pcall(L, 4, 1, 0), code = 1;
    if (st == LUA_OK) code = (int)lua_tointeger(L, -1);
    else fprintf(stderr, "nabla: %s\n", lua_tostring(L, -1));
    repl_line_close();
    repl_transcript_free(&s);
    lua_close(L);
    return code;
}
