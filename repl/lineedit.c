/* lineedit.c — reading lines on a terminal with libedit (BSD licence; no GNU readline):
** emacs keys, Ctrl-R reverse search, ~/.editrc, Tab completion (candidates from
** complete.c), and a history kept in $XDG_STATE_HOME/nabla/history (default
** ~/.local/state/nabla/history), saved at exit; failures to write it are silent.
** While a line is edited the terminal's ISIG is off, so ^C arrives as a key: it discards
** the line instead of killing the program (interrupt.c handles ^C while code runs). */
#include <errno.h>
#include <histedit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>
#include "repl.h"

#define HISTORY_SIZE 2000

static EditLine *el;
static History *hist;
static char *hist_path;
static const char *cur_prompt = REPL_PROMPT;
static int got_interrupt;
static repl_session *session;

static const char *prompt_fn(EditLine *e)
{
    (void)e;
    return cur_prompt;
}

/* ^C: end the line (ed-newline moves the cursor below it) and tell the caller to drop it. */
static unsigned char on_interrupt(EditLine *e, int ch)
{
    (void)ch;
    got_interrupt = 1;
    el_push(e, "\n");
    return CC_NORM;
}

/* ^Z: with ISIG off libedit would ignore it; stop as a shell job expects (libedit's own
** handlers restore the terminal and redraw the line after `fg`). */
static unsigned char on_suspend(EditLine *e, int ch)
{
    (void)e;
    (void)ch;
    raise(SIGTSTP);
    return CC_REFRESH;
}

static void list_candidates(const repl_strlist *c)
{
    struct winsize ws;
    int width = 80, colw = 0, shown = c->n > 300 ? 300 : c->n;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10) width = ws.ws_col;
    for (int i = 0; i < shown; i++) {
        int n = (int)strlen(c->v[i]);
        if (n > colw) colw = n;
    }
    colw += 2;
    int cols = width / colw > 0 ? width / colw : 1;
    int rows = (shown + cols - 1) / cols;
    fputc('\n', stdout);
    for (int r = 0; r < rows; r++) {
        for (int k = 0; k < cols; k++) {
            int i = k * rows + r;   /* down the columns, like ls */
            if (i < shown) fprintf(stdout, "%-*s", k + 1 < cols ? colw : 0, c->v[i]);
        }
        fputc('\n', stdout);
    }
    if (shown < c->n) fprintf(stdout, "(%d more)\n", c->n - shown);
    fflush(stdout);
}

static unsigned char on_complete(EditLine *e, int ch)
{
    const LineInfo *li = el_line(e);
    size_t cursor = (size_t)(li->cursor - li->buffer), wordstart;
    repl_strlist c = { NULL, 0, 0 };
    unsigned char ret = CC_REFRESH;
    (void)ch;
    char *line = malloc(cursor + 1);
    if (!line) return CC_ERROR;
    memcpy(line, li->buffer, cursor);
    line[cursor] = '\0';
    repl_complete(session, line, cursor, &c, &wordstart);
    if (c.n == 0) {
        ret = CC_REFRESH_BEEP;
    } else {
        size_t typed = cursor - wordstart, common = strlen(c.v[0]);
        for (int i = 1; i < c.n; i++) {
            size_t k = 0;
            while (k < common && c.v[i][k] == c.v[0][k]) k++;
            common = k;
        }
        if (common > typed && strncmp(c.v[0], line + wordstart, typed) == 0) {
            char *ins = malloc(common - typed + 1);
            if (ins) {
                memcpy(ins, c.v[0] + typed, common - typed);
                ins[common - typed] = '\0';
                el_insertstr(e, ins);
                free(ins);
            }
        } else if (c.n > 1) {
            list_candidates(&c);
            ret = CC_REDISPLAY;
        }
    }
    repl_strlist_free(&c);
    free(line);
    return ret;
}

/* ---- history ------------------------------------------------------------------------- */
static char *history_file(int create_dirs)
{
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char dir[4096];
    if (xdg && xdg[0] == '/') snprintf(dir, sizeof dir, "%s/nabla", xdg);
    else if (home && *home) snprintf(dir, sizeof dir, "%s/.local/state/nabla", home);
    else return NULL;
    if (create_dirs) {
        for (char *p = dir + 1; *p; p++) {
            if (*p != '/') continue;
            *p = '\0';
            mkdir(dir, 0700);
            *p = '/';
        }
        mkdir(dir, 0700);
    }
    size_t n = strlen(dir) + sizeof "/history";
    char *path = malloc(n);
    if (path) snprintf(path, n, "%s/history", dir);
    return path;
}

void repl_history_add(const char *entry)
{
    HistEvent ev;
    if (hist && *entry) history(hist, &ev, H_ENTER, entry);
}

static void line_close_atexit(void) { repl_line_close(); }

int repl_line_open(repl_session *s)
{
    HistEvent ev;
    session = s;
    el = el_init("nabla", stdin, stdout, stderr);
    if (!el) return -1;
    hist = history_init();
    if (hist) {
        history(hist, &ev, H_SETSIZE, HISTORY_SIZE);
        history(hist, &ev, H_SETUNIQUE, 1);
        hist_path = history_file(0);
        if (hist_path) history(hist, &ev, H_LOAD, hist_path);
        el_set(el, EL_HIST, history, hist);
    }
    el_set(el, EL_EDITOR, "emacs");
    el_set(el, EL_PROMPT, prompt_fn);
    el_set(el, EL_SIGNAL, 1);
    el_set(el, EL_SETTY, "-d", "-isig", NULL);
    /* el_wset: the narrow el_set(EL_ADDFN) copies both strings and never frees them */
    el_wset(el, EL_ADDFN, L"nabla-interrupt", L"discard the line", on_interrupt);
    el_set(el, EL_BIND, "^C", "nabla-interrupt", NULL);
    el_wset(el, EL_ADDFN, L"nabla-complete", L"complete a name or a file", on_complete);
    el_set(el, EL_BIND, "^I", "nabla-complete", NULL);
    el_wset(el, EL_ADDFN, L"nabla-suspend", L"suspend nabla (Ctrl-Z)", on_suspend);
    el_set(el, EL_BIND, "^Z", "nabla-suspend", NULL);
    el_source(el, NULL);   /* ~/.editrc, e.g. `bind -v` for vi keys */
    atexit(line_close_atexit);   /* os.exit() too saves the history */
    return 0;
}

char *repl_readline(repl_session *s, const char *prompt, int *interrupted)
{
    int n = 0;
    (void)s;
    *interrupted = 0;
    got_interrupt = 0;
    cur_prompt = prompt;
    /* Raw mode before the prompt shows: libedit would switch only when it reads the first
    ** key, and text typed (or pasted) in between would be echoed twice. */
    el_set(el, EL_PREP_TERM, 1);
    const char *line = el_gets(el, &n);
    if (got_interrupt) {
        *interrupted = 1;
        return NULL;
    }
    if (line == NULL || n <= 0) return NULL;
    size_t len = strlen(line);
    if (len > 0 && line[len - 1] == '\n') len--;
    char *copy = malloc(len + 1);
    if (!copy) return NULL;
    memcpy(copy, line, len);
    copy[len] = '\0';
    return copy;
}

void repl_line_close(void)
{
    HistEvent ev;
    if (hist) {
        free(hist_path);
        hist_path = history_file(1);
        if (hist_path) history(hist, &ev, H_SAVE, hist_path);
        history_end(hist);
        hist = NULL;
    }
    free(hist_path);
    hist_path = NULL;
    if (el) {
        el_end(el);
        el = NULL;
    }
}
