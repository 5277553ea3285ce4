/* proc.h — drives build/nabla from the REPL tests: the two-macro harness (CHECK, REPORT),
** a child on a pseudo-terminal (forkpty) with expect/send, and a child on pipes with
** captured stdout/stderr.  Every wait has a timeout; a child that hangs is killed, so a
** broken REPL fails the test instead of hanging CI.  Plain C, no nabla headers. */
#ifndef TEST_PROC_H
#define TEST_PROC_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int h_pass, h_fail;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (cond) {                                                           \
            h_pass++;                                                         \
        } else {                                                              \
            h_fail++;                                                         \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                       \
            printf(__VA_ARGS__);                                              \
            printf("\n");                                                     \
        }                                                                     \
    } while (0)

#define REPORT()                                                              \
    do {                                                                      \
        printf("%d passed, %d failed\n", h_pass, h_fail);                     \
        return h_fail ? 1 : 0;                                                \
    } while (0)

static char nabla_bin[PATH_MAX];
static char tmpdir[64];

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* NABLA_BIN, else ../nabla next to this test (build[/asan]/tests/test_x -> build[/asan]/nabla);
** also a temp dir for HOME and XDG_STATE_HOME, and NO_COLOR for every child. */
static inline int setup(const char *argv0)
{
    const char *env = getenv("NABLA_BIN");
    if (env && *env) {
        snprintf(nabla_bin, sizeof nabla_bin, "%s", env);
    } else {
        const char *slash = strrchr(argv0, '/');
        int dlen = slash ? (int)(slash - argv0) : 1;
        snprintf(nabla_bin, sizeof nabla_bin, "%.*s/../nabla", dlen, slash ? argv0 : ".");
    }
    if (access(nabla_bin, X_OK) != 0) {
        printf("FAIL: no nabla program at %s (set NABLA_BIN)\n", nabla_bin);
        return -1;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nabla-test-XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    char state[128];
    snprintf(state, sizeof state, "%s/state", tmpdir);
    setenv("HOME", tmpdir, 1);
    setenv("XDG_STATE_HOME", state, 1);
    setenv("NO_COLOR", "1", 1);
    setenv("TERM", "xterm", 1);
    unsetenv("NABLA_PATH");
    return 0;
}

static inline void cleanup(void)
{
    char cmd[128];
    if (!tmpdir[0]) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

/* ---- a child on a pseudo-terminal --------------------------------------------------- */
typedef struct {
    pid_t pid;
    int fd;
    size_t len, mark;   /* output so far; expect() searches from mark */
    char buf[1 << 18];
} pty_proc;

static inline int pty_spawn(pty_proc *p, char *const argv[])
{
    struct winsize ws = { 24, 100, 0, 0 };
    memset(p, 0, sizeof *p);
    p->pid = forkpty(&p->fd, NULL, NULL, &ws);
    if (p->pid < 0) return -1;
    if (p->pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    return 0;
}

/* Reads what is available (waiting at most until `until`); -1 at end of output. */
static inline int pty_pump(pty_proc *p, double until)
{
    struct pollfd pfd = { p->fd, POLLIN, 0 };
    double left = until - now_s();
    if (poll(&pfd, 1, left > 0 ? (int)(left * 1000) + 1 : 0) <= 0) return 0;
    if (p->len + 4096 >= sizeof p->buf) {   /* keep the newer half */
        size_t drop = p->len / 2;
        memmove(p->buf, p->buf + drop, p->len - drop);
        p->len -= drop;
        p->mark = p->mark > drop ? p->mark - drop : 0;
    }
    ssize_t n = read(p->fd, p->buf + p->len, sizeof p->buf - 1 - p->len);
    if (n <= 0) return -1;
    p->len += (size_t)n;
    p->buf[p->len] = '\0';
    return 1;
}

/* Waits for needle after the mark; on success moves the mark past it.  *before (optional)
** gets the text between the old mark and the needle (valid until the next read). */
static inline int expect_text(pty_proc *p, const char *needle, double timeout,
                              const char **before, size_t *before_len)
{
    double until = now_s() + timeout;
    size_t n = strlen(needle);
    for (;;) {
        char *hit = memmem(p->buf + p->mark, p->len - p->mark, needle, n);
        if (hit) {
            if (before) *before = p->buf + p->mark;
            if (before_len) *before_len = (size_t)(hit - (p->buf + p->mark));
            p->mark = (size_t)(hit - p->buf) + n;
            return 1;
        }
        if (now_s() >= until || pty_pump(p, until) < 0) {
            if (memmem(p->buf + p->mark, p->len - p->mark, needle, n)) continue;
            return 0;
        }
    }
}

static inline int expect(pty_proc *p, const char *needle, double timeout)
{
    return expect_text(p, needle, timeout, NULL, NULL);
}

/* The last output, printable, for failure messages. */
static inline const char *tail(const pty_proc *p)
{
    static char out[401];
    size_t from = p->len > 200 ? p->len - 200 : 0, o = 0;
    for (size_t i = from; i < p->len && o + 4 < sizeof out; i++) {
        unsigned char c = (unsigned char)p->buf[i];
        if (c == '\n') out[o++] = '|';
        else if (c >= 32 && c < 127) out[o++] = (char)c;
        else if (c != '\r') out[o++] = '.';
    }
    out[o] = '\0';
    return out;
}

static inline void send_text(pty_proc *p, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(p->fd, s, n);
        if (w <= 0 && errno != EINTR) return;
        if (w > 0) s += w, n -= (size_t)w;
    }
}

/* Exit status once the child ends (128+signal if killed by one); -1 after a timeout, when
** the child is killed. */
static inline int pty_finish(pty_proc *p, double timeout)
{
    double until = now_s() + timeout;
    int st = 0, code;
    for (;;) {
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid) break;
        if (now_s() > until) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &st, 0);
            close(p->fd);
            return -1;
        }
        if (pty_pump(p, now_s() + 0.05) < 0) usleep(10000);
    }
    code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    close(p->fd);
    return code;
}

/* 1 if s[0..n) has visible text other than whitespace and escape sequences. */
static inline int has_visible(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\033') {   /* CSI ... final byte */
            i++;
            if (i < n && s[i] == '[') {
                while (i + 1 < n && !((s[i + 1] >= '@' && s[i + 1] <= '~'))) i++;
                i++;
            }
            continue;
        }
        if (!(s[i] == ' ' || s[i] == '\r' || s[i] == '\n' || s[i] == '\t' || s[i] == '\a' ||
              s[i] == '\b'))
            return 1;
    }
    return 0;
}

/* ---- a child on pipes ----------------------------------------------------------------- */
typedef struct {
    char out[1 << 16], err[1 << 16];
    size_t nout, nerr;
    int status;   /* exit status, 128+signal, or -1 after a timeout */
} run_result;

static inline void drain(int *fd, char *buf, size_t *n, size_t cap)
{
    ssize_t k = read(*fd, buf + *n, cap - 1 - *n);
    if (k <= 0) {
        close(*fd);
        *fd = -1;
        return;
    }
    *n += (size_t)k;
    buf[*n] = '\0';
}

/* Runs argv with `input` on stdin (a pipe), capturing stdout and stderr. */
static inline void run(run_result *r, char *const argv[], const char *input, double timeout)
{
    int in[2], out[2], err[2], st = 0;
    memset(r, 0, sizeof *r);
    r->status = -1;
    if (pipe(in) || pipe(out) || pipe(err)) return;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]), close(err[0]), close(err[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(in[0]), close(out[1]), close(err[1]);
    signal(SIGPIPE, SIG_IGN);
    if (input && write(in[1], input, strlen(input)) < 0) perror("write");
    close(in[1]);
    double until = now_s() + timeout;
    int fo = out[0], fe = err[0];
    while ((fo >= 0 || fe >= 0) && now_s() < until) {
        struct pollfd pf[2] = { { fo, POLLIN, 0 }, { fe, POLLIN, 0 } };
        if (poll(pf, 2, 50) <= 0) continue;
        if (fo >= 0 && pf[0].revents) drain(&fo, r->out, &r->nout, sizeof r->out);
        if (fe >= 0 && pf[1].revents) drain(&fe, r->err, &r->nerr, sizeof r->err);
    }
    if (fo >= 0 || fe >= 0) {
        kill(pid, SIGKILL);
        if (fo >= 0) close(fo);
        if (fe >= 0) close(fe);
        waitpid(pid, &st, 0);
        return;
    }
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (now_s() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return;
        }
        usleep(2000);
    }
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* nabla with up to 6 arguments and stdin input. */
static inline void run_nabla(run_result *r, const char *input, const char *a1, const char *a2,
                      const char *a3, const char *a4)
{
    char *argv[8] = { nabla_bin, (char *)a1, (char *)a2, (char *)a3, (char *)a4, NULL };
    run(r, argv, input, 20);
}

static inline void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

#endif
