/* loop.c — the read-eval-print loop: read a line, send colon commands to commands.c,
** gather continuation lines while the input is an incomplete statement, then evaluate.
** On a terminal lines come from libedit with prompts; otherwise from stdin, silently
** (no banner or prompts, but values are printed and multi-line statements work). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include "lauxlib.h"
#include "rt_pool.h"
#include "repl.h"

void repl_banner(repl_session *s)
{
    lua_State *L = s->L;
    int threads = 0, top = lua_gettop(L);
    const char *version = NABLA_VERSION;
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, -1, "nabla") == LUA_TTABLE) {
        if (lua_getfield(L, -1, "version") == LUA_TSTRING) version = lua_tostring(L, -1);
        if (lua_getfield(L, -2, "get_num_threads") == LUA_TFUNCTION &&
            lua_pcall(L, 0, 1, 0) == LUA_OK)
            threads = (int)lua_tointeger(L, -1);
    }
    if (threads <= 0) threads = rt_get_num_threads();
    printf("nabla %s (%s, OpenBLAS %s, %d thread%s) - :help for help, Ctrl-D to quit\n",
           version, LUA_RELEASE, openblas_get_corename(), threads, threads == 1 ? "" : "s");
    lua_settop(L, top);
    fflush(stdout);
}

static char *read_line(repl_session *s, const char *prompt, int *interrupted)
{
    char *line = NULL;
    size_t cap = 0;
    *interrupted = 0;
    if (s->tty) return repl_readline(s, prompt, interrupted);
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n') line[n - 1] = '\0';
    return line;
}

/* Takes ownership of buf, the first line of a statement. */
static void statement(repl_session *s, char *buf)
{
    lua_State *L = s->L;
    size_t len = strlen(buf);
    int incomplete, is_expr, st, interrupted;
    for (;;) {
        st = repl_compile(s, buf, len, &incomplete, &is_expr);
        if (!incomplete) break;
        char *more = read_line(s, REPL_PROMPT2, &interrupted);
        if (interrupted) {        /* ^C at the continuation prompt drops the statement */
            lua_pop(L, 1);
            free(buf);
            return;
        }
        if (!more) break;         /* end of input inside a statement: report the error */
        lua_pop(L, 1);
        size_t mlen = strlen(more);
        char *grown = realloc(buf, len + mlen + 2);
        if (!grown) {
            free(more);
            break;
        }
        buf = grown;
        buf[len++] = '\n';
        memcpy(buf + len, more, mlen + 1);
        len += mlen;
        free(more);
    }
    if (s->tty) repl_history_add(buf);
    repl_transcript_begin(s, buf, 0);
    if (st == LUA_OK) repl_run(s, is_expr);
    else repl_report(s, st);
    free(buf);
}

void repl_loop(repl_session *s)
{
    repl_env_new(s);
    repl_transcript_hook(s);
    while (!s->quit) {
        int interrupted;
        char *line = read_line(s, REPL_PROMPT, &interrupted);
        if (interrupted) continue;
        if (!line) {
            if (s->tty) fputc('\n', stdout);
            break;
        }
        const char *p = line + strspn(line, " \t");
        if (*p == ':') {
            if (s->tty) repl_history_add(line);
            /* :save and :quit are not part of the session they save */
            int keep = strncmp(p, ":save", 5) != 0 && strncmp(p, ":q", 2) != 0;
            repl_transcript_begin(s, keep ? p : NULL, 1);
            repl_command(s, p);
            free(line);
        } else if (*p == '\0') {
            free(line);
        } else {
            statement(s, line);
        }
        fflush(stdout);
        lua_settop(s->L, 0);
    }
    fflush(stdout);
}
