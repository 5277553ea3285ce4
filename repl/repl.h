/* repl.h — the `nabla` program: one session (a lua_State plus the REPL's own state) and
** the functions the repl/ files share.  Each file owns one concern: main.c (command line),
** loop.c (reading statements), eval.c (compiling and running them), rewrite.c (keeping
** top-level locals), print.c (auto-print), lineedit.c + complete.c (libedit, history, tab),
** commands.c + timeit.c (colon commands), transcript.c (:save), interrupt.c (Ctrl-C) and
** errors.c (message handler, trimmed tracebacks).  Only main.c knows about the CLI. */
#ifndef REPL_H
#define REPL_H

#include <stddef.h>
#include "lua.h"

#define NABLA_VERSION "0.1.0"
#define REPL_PROMPT "nabla> "
#define REPL_PROMPT2 "   ...> "
#define REPL_CHUNKNAME "=stdin"

/* The C module's entry point (lua/): preloaded as package.preload.nabla. */
int luaopen_nabla(lua_State *L);

struct repl_transcript;

typedef struct repl_session {
    lua_State *L;
    int tty;          /* stdin is a terminal: banner, prompts, libedit */
    int color;        /* errors in color on stderr (a terminal, no NO_COLOR, no --no-color) */
    int env_ref;      /* registry reference of the session environment table */
    int errors;       /* uncaught errors so far (non-tty exit status) */
    int quit;         /* :quit was given */
    unsigned long inputs;   /* inputs run so far (plots use it not to print twice) */
    struct repl_transcript *tr;   /* NULL until the REPL records (transcript.c) */
} repl_session;

/* ---- eval.c: the session environment and running one input ----------------------- */
/* A fresh session environment table E (setmetatable({}, {__index = _G}), E._G = E). */
void repl_env_new(repl_session *s);
void repl_env_push(repl_session *s);
/* Compiles code as a REPL input: first as `return <code>` (an expression), then as
** statements with top-level locals rewritten (rewrite.c).  On success pushes the function
** (its _ENV is the session environment) and returns LUA_OK; *is_expr tells which form.
** On a syntax error pushes the message and returns LUA_ERRSYNTAX; *incomplete is set when
** more input could complete it (the message ends in "<eof>", as lua.c decides). */
int repl_compile(repl_session *s, const char *code, size_t len, int *incomplete, int *is_expr);
/* Loads code (chunk "=stdin") with the session environment as its _ENV; pushes the
** function or the error message. */
int repl_load(repl_session *s, const char *code, size_t len);
/* Runs the compiled function on top (popped) and auto-prints its results; an expression's
** first value becomes `_`.  Errors are reported (errors.c).  Returns the pcall status. */
int repl_run(repl_session *s, int is_expr);
/* Compiles and runs one complete input; reports syntax errors too.  Returns the status. */
int repl_eval(repl_session *s, const char *code, size_t len);
/* Registers package.preload['nabla.repl'] (rewrite_locals, show, env, color). */
void repl_open_api(repl_session *s);
/* Gives _G a metatable whose __index looks in the session environment, then loads the
** standard modules (nn optim check calc plot data lesson) on first use. */
void repl_globals_init(repl_session *s);
/* 1 if require(name) would find a module (preload or package.path), without loading it. */
int repl_module_exists(lua_State *L, const char *name);

/* ---- rewrite.c -------------------------------------------------------------------- */
/* Returns a malloc'd copy of src whose block-level-0 `local` statements are assignments
** (`local x <const> = 1` -> `x = 1`, `local a, b` -> `a, b = nil`, `local function f` ->
** `function f`); statements with a <close> variable are kept.  NULL when out of memory. */
char *repl_rewrite_locals(const char *src, size_t len, size_t *outlen);

/* ---- errors.c --------------------------------------------------------------------- */
/* Message handler for lua_pcall: returns the message as a string and keeps a traceback
** trimmed to user code (C and REPL frames dropped) for repl_report. */
int repl_msghandler(lua_State *L);
/* lua_pcall with repl_msghandler and Ctrl-C armed; the function and narg args on top. */
int repl_docall(repl_session *s, int narg, int nres);
/* Prints the error message on top (popped) and its traceback to stderr, red when
** s->color; records it in the transcript; counts it in s->errors.  No-op for LUA_OK. */
void repl_report(repl_session *s, int status);

/* ---- interrupt.c ------------------------------------------------------------------ */
/* Remembers the main thread; ignore_idle: SIGINT is ignored between inputs (terminal). */
void repl_interrupt_init(int ignore_idle);
/* Arm before running user code: clears the runtime flag and the hook, installs the SIGINT
** handler (hook + rt_interrupt_request()).  Disarm restores the default afterwards. */
void repl_interrupt_arm(lua_State *L);
void repl_interrupt_disarm(lua_State *L);

/* ---- print.c ---------------------------------------------------------------------- */
/* Pushes a readable rendering of the value at idx: strings quoted, tables expanded
** (sorted keys, arrays compact, depth and item limits), functions by their doc line,
** everything else through tostring.  May call __tostring: run it in protected mode. */
void repl_show(lua_State *L, int idx);
/* Pushes nb._docs[value at idx] when it is a string, else nothing; returns 1 if pushed. */
int repl_push_doc(lua_State *L, int idx);

/* ---- lineedit.c + complete.c ------------------------------------------------------ */
int repl_line_open(repl_session *s);       /* libedit + history; 0 on success */
/* A malloc'd line without its newline, or NULL at end of input.  Ctrl-C sets *interrupted
** (and the partial line is discarded by the caller). */
char *repl_readline(repl_session *s, const char *prompt, int *interrupted);
void repl_history_add(const char *entry);
void repl_line_close(void);                /* saves the history; idempotent */

typedef struct { char **v; int n, cap; } repl_strlist;
void repl_strlist_add(repl_strlist *l, const char *s, size_t len);
void repl_strlist_free(repl_strlist *l);
/* Candidates for the word that ends at line[cursor]; *wordstart is where that word begins
** (the candidates replace line[wordstart..cursor]).  Sorted, without duplicates. */
void repl_complete(repl_session *s, const char *line, size_t cursor, repl_strlist *out,
                   size_t *wordstart);

/* ---- commands.c + timeit.c -------------------------------------------------------- */
/* Runs a colon command (line starts with ':'); errors are reported, never fatal. */
void repl_command(repl_session *s, const char *line);
/* The global help(x), upvalue the session: x a value or a name; no x: commands, modules. */
int repl_help_lua(lua_State *L);
void repl_time(repl_session *s, const char *stmt);
const char *repl_command_name(int i);      /* i-th command without ':', NULL past the end */

/* ---- subcmd.c: nabla lesson | lessons | render (exit status) ----------------------- */
int repl_subcommand(repl_session *s, int argc, char **argv, int i);

/* ---- transcript.c ----------------------------------------------------------------- */
/* Output that the REPL writes goes through these so that :save can record it. */
void repl_write(repl_session *s, const char *p, size_t n);
void repl_printf(repl_session *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void repl_ewrite(repl_session *s, const char *p, size_t n);   /* to stderr */
/* Starts a new entry; input NULL stops recording until the next entry. */
void repl_transcript_begin(repl_session *s, const char *input, int is_command);
/* Wraps print, io.write and io.stdout:write so their output is recorded too. */
void repl_transcript_hook(repl_session *s);
int repl_transcript_save(repl_session *s, const char *path);  /* 0, or -1 with errno */
void repl_transcript_free(repl_session *s);

/* ---- loop.c ----------------------------------------------------------------------- */
/* Reads and runs statements until end of input or :quit.  With a terminal: banner,
** prompts and libedit; otherwise plain lines, no prompts, values still printed. */
void repl_loop(repl_session *s);
void repl_banner(repl_session *s);

#endif
