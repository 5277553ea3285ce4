/* test_repl.c — the REPL as a student meets it, driven through a pseudo-terminal: banner
** and prompt, auto-print, silent statements, locals across lines, continuation prompt,
** errors, Ctrl-C in Lua code and in a C kernel, Ctrl-C at the prompt, colon commands,
** Tab completion, :save, history written at exit and recalled by a second session, Ctrl-D.
** Needs nothing from nb beyond loading it; tensor checks run only when nb has the
** functions (they are skipped, and say so, otherwise). */
#include "proc.h"

#define T 10.0   /* seconds any single expectation may take (ASan builds are slow) */

static char *const *repl_argv(void)
{
    static char *argv[2];
    argv[0] = nabla_bin;
    argv[1] = NULL;
    return argv;
}

/* Sends a line and waits for its echo and the next prompt; returns the output in between
** (NUL-terminated copy in out). */
static int line(pty_proc *p, const char *text, char *out, size_t outsz)
{
    char buf[512];
    const char *before;
    size_t n;
    snprintf(buf, sizeof buf, "%s\r", text);
    send_text(p, buf);
    if (!expect(p, text, T)) return 0;
    if (!expect_text(p, "nabla> ", T, &before, &n)) return 0;
    if (out) {
        if (n >= outsz) n = outsz - 1;
        memcpy(out, before, n);
        out[n] = '\0';
    }
    return 1;
}

static int nb_has(pty_proc *p, const char *expr)
{
    char out[4096], q[256];
    snprintf(q, sizeof q, "print('has:' .. tostring(%s ~= nil))", expr);
    return line(p, q, out, sizeof out) && strstr(out, "has:true") != NULL;
}

static void test_basics(pty_proc *p)
{
    char out[8192];
    CHECK(expect(p, "nabla ", T) && expect(p, ":help", T), "banner: %s", tail(p));
    CHECK(expect(p, "nabla> ", T), "first prompt: %s", tail(p));

    CHECK(line(p, "1+2", out, sizeof out) && strstr(out, "3"), "1+2 prints 3: %s", tail(p));
    CHECK(line(p, "x = 41", out, sizeof out) && !has_visible(out, strlen(out)),
          "a statement prints nothing: [%s]", out);
    CHECK(line(p, "local y = 6", out, sizeof out) && !has_visible(out, strlen(out)),
          "local prints nothing: [%s]", out);
    CHECK(line(p, "y * 7", out, sizeof out) && strstr(out, "42"), "local persists: %s", tail(p));
    CHECK(line(p, "local function sq(v) return v * v end", out, sizeof out), "local function");
    CHECK(line(p, "sq(9)", out, sizeof out) && strstr(out, "81"), "local function persists");
    CHECK(line(p, "{1, 'two', {a = 3}}", out, sizeof out) && strstr(out, "{1, \"two\", {a = 3}}"),
          "tables print readably: %s", out);
    CHECK(line(p,
          "_", out, sizeof out) && strstr(out, "{1, \"two\", {a = 3}}"), "_ is the last value");

    send_text(p, "for i = 1, 3 do\r");
    CHECK(expect(p, "   ...> ", T), "continuation prompt: %s", tail(p));
    send_text(p, "print(i * 10)\r");
    CHECK(expect(p, "   ...> ", T), "second continuation prompt: %s", tail(p));
    send_text(p, "end\r");
    CHECK(expect(p, "10", T) && expect(p, "20", T) && expect(p, "30", T) && expect(p, "nabla> ", T),
          "loop ran: %s", tail(p));
}

static void test_errors(pty_proc *p)
{
    char out[8192];
    CHECK(line(p, "error('boom')", out, sizeof out) && strstr(out, "stdin:1: boom"),
          "error message: %s", out);
    CHECK(line(p,
          "x + 1", out, sizeof out) && strstr(out, "42"), "variables intact after an error");
    CHECK(line(p, "function deep() local t = nil; return t.field end", out, sizeof out), "define");
    CHECK(line(p, "deep()", out, sizeof out) && strstr(out, "attempt to index") &&
              strstr(out, "stack traceback:") && strstr(out, "deep") && !strstr(out, "[C]"),
          "traceback trimmed to user code: %s", out);
    send_text(p, "1 +\r");
    CHECK(expect(p, "   ...> ", T), "an incomplete expression continues: %s", tail(p));
    send_text(p, "\x03");   /* drop it */
    CHECK(expect(p, "nabla> ", T), "Ctrl-C at the continuation prompt: %s", tail(p));
    CHECK(line(p, "x = = 1", out, sizeof out) && strstr(out, "unexpected symbol"),
          "syntax error: %s", out);
    CHECK(line(p, "setmetatable({}, {__tostring = function() error('bad tostring') end})", out,
               sizeof out) && strstr(out, "bad tostring"), "error while printing: %s", out);
    CHECK(line(p, "x", out, sizeof out) && strstr(out, "41"), "still alive");
}

static void test_interrupt(pty_proc *p)
{
    char out[4096];
    const char *before;
    size_t n;
    CHECK(line(p, "n = 0", out, sizeof out), "n = 0");
    send_text(p, "while true do n = n + 1 end\r");
    CHECK(expect(p, "end", T), "echo");
    usleep(300000);
    double t0 = now_s();
    send_text(p, "\x03");
    CHECK(expect_text(p, "interrupted", T, &before, &n) && now_s() - t0 < 1.0,
          "Ctrl-C stops a Lua loop within 1 s (%.2f s): %s", now_s() - t0, tail(p));
    CHECK(expect(p, "nabla> ", T), "prompt after the interrupt");
    CHECK(line(p,
          "n > 0 and x", out, sizeof out) && strstr(out, "41"), "variables intact: %s", out);

    /* Ctrl-C at the prompt clears the line */
    send_text(p, "this is not lua\x03");
    CHECK(expect(p, "nabla> ", T), "Ctrl-C at the prompt: %s", tail(p));
    CHECK(line(p, "2 * 21", out, sizeof out) && strstr(out, "42") && !strstr(out, "not lua"),
          "the cleared line was discarded: %s", out);

    /* one long C kernel (the runtime polls the interrupt flag between chunks): sorting the
    ** 8000 rows of an 8000x8000 tensor takes seconds */
    if (nb_has(p, "nb.rand") && nb_has(p, "nb._methods and nb._methods.sort")) {
        CHECK(line(p, "big = nb.rand(8000, 8000)", out, sizeof out), "big tensor");
        send_text(p, "sorted = big:sort(2)\r");
        CHECK(expect(p, "(2)", T), "echo");
        usleep(300000);
        t0 = now_s();
        send_text(p, "\x03");
        CHECK(expect(p, "interrupted", T) && now_s() - t0 < 1.0,
              "Ctrl-C stops a C kernel within 1 s (%.2f s): %s", now_s() - t0, tail(p));
        CHECK(expect(p, "nabla> ", T), "prompt after the kernel");
        CHECK(line(p, "sorted == nil and x", out, sizeof out) && strstr(out, "41"),
              "variables intact after a kernel: %s", out);
        CHECK(line(p, "big = nil collectgarbage()", out, sizeof out), "free");
    } else {
        printf("skip: Ctrl-C in a C kernel (nb.rand or the sort method is not there yet)\n");
    }
}

static void test_commands(pty_proc *p)
{
    char out[16384], cmd[256], path[128];
    CHECK(line(p, ":help", out, sizeof out) && strstr(out, ":time") && strstr(out, ":quit") &&
              strstr(out, "nn"), "help lists commands and modules: %s", tail(p));
    CHECK(line(p, ":help :time", out, sizeof out) && strstr(out, "mean"), ":help :time: %s", out);
    CHECK(line(p, ":help nb", out, sizeof out) && has_visible(out, strlen(out)) &&
              !strstr(out, "no help"), ":help nb: %s", tail(p));
    CHECK(line(p, "help(sq)", out, sizeof out) && strstr(out, "Lua function"), "help(x): %s", out);
    CHECK(line(p, ":frobnicate", out, sizeof out) && strstr(out, "unknown command ':frobnicate'") &&
              strstr(out, ":help"), "unknown command: %s", out);
    CHECK(line(p, ":time local s = 0 for i = 1, 100 do s = s + i end", out, sizeof out) &&
              strstr(out, "\xc2\xb1") && strstr(out, "per loop") && strstr(out, "runs"),
          ":time: %s", out);
    CHECK(line(p,
          ":time x + 1", out, sizeof out) && strstr(out, "per loop"), ":time expr: %s", out);
    if (nb_has(p, "nb.get_num_threads")) {
        CHECK(line(p,
              ":threads 1", out, sizeof out) && strstr(out, "threads: 1"), ":threads: %s", out);
    }
    if (nb_has(p, "nb.manual_seed")) {
        CHECK(line(p, ":seed 7", out, sizeof out) && strstr(out, "seed: 7"), ":seed: %s", out);
    }
    CHECK(line(p,
          ":lessons", out, sizeof out) && has_visible(out, strlen(out)), ":lessons answers");

    snprintf(path, sizeof path, "%s/session.md", tmpdir);
    snprintf(cmd, sizeof cmd, ":save %s", path);
    CHECK(line(p, cmd, out, sizeof out) && strstr(out, "saved"), ":save: %s", out);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(out, 1, sizeof out - 1, f) : 0;
    out[n] = '\0';
    if (f) fclose(f);
    CHECK(strstr(out, "```lua\n1+2\n```\n") && strstr(out, "```text\n3\n```"),
          "transcript has inputs and outputs: %.300s", out);
    CHECK(strstr(out, "```lua\nfor i = 1, 3 do\nprint(i * 10)\nend\n```") &&
              strstr(out, "10\n20\n30\n"), "multi-line input and print output in the transcript");
    CHECK(strstr(out, "boom"), "errors in the transcript");

    CHECK(line(p, ":reset", out, sizeof out), ":reset");
    CHECK(line(p, "x == nil and y == nil", out, sizeof out) && strstr(out, "true"),
          ":reset clears prompt variables: %s", out);
    CHECK(line(p, "x = 41", out, sizeof out), "x again");
}

static void test_completion(pty_proc *p)
{
    char out[8192], cmd[256];
    CHECK(line(p, "abcdef_long_name = 5", out, sizeof out), "define");
    send_text(p, "abcdef_lo\t");
    CHECK(expect(p, "ng_name", T), "Tab completes a global: %s", tail(p));
    send_text(p, "\r");
    CHECK(expect(p, "5", T) && expect(p, "nabla> ", T), "completed line runs");

    CHECK(line(p, "tbl_tab = {alpha = 1, beta = 2}", out, sizeof out), "define table");
    send_text(p, "tbl_tab.al\t");
    CHECK(expect(p, "pha", T), "Tab completes a field: %s", tail(p));
    send_text(p, "\r");
    CHECK(expect(p, "1", T) && expect(p, "nabla> ", T), "field line runs");

    send_text(p, "string.for\t");
    CHECK(expect(p, "mat", T), "Tab completes string.format: %s", tail(p));
    send_text(p, "\x03");
    CHECK(expect(p, "nabla> ", T), "clear");
    CHECK(line(p, "str_v = 'abc'", out, sizeof out), "define string");
    send_text(p, "str_v:up\t");
    CHECK(expect(p, "per", T), "Tab completes a method through the metatable: %s", tail(p));
    send_text(p, "\x03");
    CHECK(expect(p, "nabla> ", T), "clear");

    if (nb_has(p, "nb.zeros") && nb_has(p, "nb._methods and nb._methods.numel")) {
        CHECK(line(p, "t_c = nb.zeros(2, 3)", out, sizeof out), "a tensor");
        send_text(p, "t_c:num\t");
        CHECK(expect(p, "el", T), "Tab completes a tensor method: %s", tail(p));
        send_text(p, "()\r");
        CHECK(expect(p, "6", T) && expect(p, "nabla> ", T), "t_c:numel() runs: %s", tail(p));
    }
    if (nb_has(p, "nb.randn")) {
        send_text(p, "nb.ra\t\t");
        CHECK(expect(p, "randn", T), "nb.ra<Tab><Tab> lists nb.randn: %s", tail(p));
        send_text(p, "\x03");
        CHECK(expect(p, "nabla> ", T), "clear");
    }

    snprintf(cmd, sizeof cmd, "%s/unique_file_xyz.md", tmpdir);
    write_file(cmd, "x\n");
    snprintf(cmd, sizeof cmd, ":save %s/uniq\t", tmpdir);
    send_text(p, cmd);
    CHECK(expect(p, "ue_file_xyz.md", T), "Tab completes a file name after :save: %s", tail(p));
    send_text(p, "\x03");
    CHECK(expect(p, "nabla> ", T), "clear");
}

static void test_history(void)
{
    pty_proc *p = malloc(sizeof *p);
    char path[160], out[4096];
    if (!p) return;
    snprintf(path, sizeof path, "%s/state/nabla/history", tmpdir);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(out, 1, sizeof out - 1, f) : 0;
    out[n] = '\0';
    if (f) fclose(f);
    CHECK(f && strstr(out, "777+1"), "history file written at exit: %s", path);

    unsetenv("NO_COLOR");   /* this session may use color */
    int spawned = pty_spawn(p, repl_argv());
    setenv("NO_COLOR", "1", 1);
    if (spawned != 0) {
        CHECK(0, "spawn");
        free(p);
        return;
    }
    CHECK(expect(p, "nabla> ", T), "second session prompt");
    send_text(p, "\x10\r");   /* Ctrl-P: the previous line from the first session */
    CHECK(expect(p, "778", T), "history recalled in a new session: %s", tail(p));
    CHECK(expect(p, "nabla> ", T), "prompt");
    send_text(p, "\x12" "_name = ");   /* Ctrl-R: reverse search for `abcdef_long_name = 5` */
    usleep(100000);
    send_text(p, "\r");
    CHECK(expect(p, "nabla> ", T), "prompt");
    CHECK(line(p, "abcdef_long_name * 2", out, sizeof out) && strstr(out, "10"),
          "Ctrl-R found and ran an older line: %s", tail(p));
    CHECK(line(p, "error('red')", out, sizeof out) && strstr(out, "\033[31mstdin:1: red"),
          "errors are red on a terminal without NO_COLOR: %s", tail(p));
    send_text(p, ":quit\r");
    CHECK(pty_finish(p, T) == 0, ":quit exits 0");

    char *argv[3] = { nabla_bin, "--no-color", NULL };
    unsetenv("NO_COLOR");
    spawned = pty_spawn(p, argv);
    setenv("NO_COLOR", "1", 1);
    if (spawned == 0) {
        CHECK(expect(p, "nabla> ", T), "third session");
        CHECK(line(p, "error('plain')", out, sizeof out) && strstr(out, "stdin:1: plain") &&
                  !strstr(out, "\033[31m"), "--no-color: %s", tail(p));
        send_text(p, "\x04");
        CHECK(pty_finish(p, T) == 0, "Ctrl-D exits 0");
    }
    free(p);
}

int main(int argc, char **argv)
{
    (void)argc;
    if (setup(argv[0]) != 0) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    pty_proc *p = malloc(sizeof *p);
    if (!p || pty_spawn(p, repl_argv()) != 0) {
        printf("FAIL: forkpty\n0 passed, 1 failed\n");
        return 1;
    }
    test_basics(p);
    test_errors(p);
    test_interrupt(p);
    test_commands(p);
    test_completion(p);
    CHECK(line(p, "777+1", NULL, 0), "last line");
    send_text(p, "\x04");
    CHECK(pty_finish(p, T) == 0, "Ctrl-D exits 0: %s", tail(p));
    free(p);
    test_history();
    cleanup();
    REPORT();
}
