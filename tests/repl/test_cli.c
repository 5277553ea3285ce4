/* test_cli.c — the nabla program without a terminal: -e, scripts and `arg`, `-` (stdin),
** exit statuses, --version/--help, the quiet REPL on a pipe, NABLA_PATH and the lazily
** loaded standard globals, the lesson subcommands without a lesson module, and (through
** require 'nabla.repl') the local rewriter and the value printer. */
#include "proc.h"

static int has(const run_result *r, const char *text) { return strstr(r->out, text) != NULL; }
static int has_err(const run_result *r, const char *text) { return strstr(r->err, text) != NULL; }

static void test_options(void)
{
    run_result *r = malloc(sizeof *r);
    if (!r) return;
    run_nabla(r, NULL, "-e", "print(1+1)", NULL, NULL);
    CHECK(r->status == 0 && strcmp(r->out, "2\n") == 0, "-e print: [%s] %d", r->out, r->status);
    run_nabla(r, NULL, "-e", "6*7", NULL, NULL);
    CHECK(r->status == 0 && strcmp(r->out, "42\n") == 0, "-e expression prints: [%s]", r->out);
    run_nabla(r, NULL, "-e", "a = 1", "-e", "print(a + 1)");
    CHECK(r->status == 0 && strcmp(r->out, "2\n") == 0, "-e in order: [%s]", r->out);
    run_nabla(r, NULL, "-e", "error('bad thing')", NULL, NULL);
    CHECK(r->status == 1 && has_err(r,
          "bad thing"), "-e error exits 1: %d [%s]", r->status, r->err);
    run_nabla(r, NULL, "-e", "error({})", NULL, NULL);
    CHECK(r->status == 1 && has_err(r,
          "error object is a table value"), "non-string error: %s", r->err);
    run_nabla(r, NULL, "-e", "os.exit(3)", NULL, NULL);
    CHECK(r->status == 3, "os.exit(3): %d", r->status);
    run_nabla(r, NULL, "--version", NULL, NULL, NULL);
    CHECK(r->status == 0 && strncmp(r->out, "nabla ", 6) == 0, "--version: [%s]", r->out);
    run_nabla(r, NULL, "--help", NULL, NULL, NULL);
    CHECK(r->status == 0 && has(r, "usage:") && has(r, "--threads"), "--help");
    run_nabla(r, NULL, "--bogus", NULL, NULL, NULL);
    CHECK(r->status == 2 && has_err(r, "unknown"), "unknown option exits 2: %d", r->status);
    run_nabla(r, NULL, "-e", NULL, NULL, NULL);
    CHECK(r->status == 2, "-e without code exits 2");
    run_nabla(r, NULL, "-e", "print(type(nb), type(help), type(nb.clock))", NULL, NULL);
    CHECK(r->status == 0 && has(r, "table\tfunction\t"), "globals nb and help: [%s]", r->out);
    run_nabla(r, NULL, "-e", "print(nb.get_num_threads and 'yes' or 'no')", NULL, NULL);
    if (has(r, "yes")) {
        run_nabla(r, NULL, "--threads", "1", "-e", "print(nb.get_num_threads())");
        CHECK(r->status == 0 && strcmp(r->out, "1\n") == 0, "--threads 1: [%s] %s", r->out, r->err);
    }
    run_nabla(r, NULL, "--threads", "zero", "-e", "print(1)");
    CHECK(r->status == 2 && has_err(r, "--threads"), "--threads checks its value: %s", r->err);
    free(r);
}

static void test_scripts(void)
{
    run_result *r = malloc(sizeof *r);
    char path[160], path2[160];
    if (!r) return;
    snprintf(path, sizeof path, "%s/args.lua", tmpdir);
    write_file(path, "print(arg[0] ~= nil, arg[1], arg[2], select('#', ...), ...)\n");
    run_nabla(r, NULL, path, "foo", "bar", NULL);
    CHECK(r->status == 0 && strcmp(r->out, "true\tfoo\tbar\t2\tfoo\tbar\n") == 0,
          "script args: [%s] %s", r->out, r->err);
    run_nabla(r, "print(6 * 7)\nprint(select('#', ...))\n", "-", "x", NULL, NULL);
    CHECK(r->status == 0 && strcmp(r->out,
          "42\n1\n") == 0, "- runs stdin: [%s] %s", r->out, r->err);

    snprintf(path, sizeof path, "%s/bad.lua", tmpdir);
    write_file(path, "local function inner() error('oops') end\ninner()\n");
    run_nabla(r, NULL, path, NULL, NULL, NULL);
    CHECK(r->status == 1 && has_err(r, "bad.lua:1: oops") && has_err(r, "stack traceback:") &&
              has_err(r, "in local 'inner'") && !has_err(r, "[C]"),
          "script error: exit 1, trimmed traceback: %d [%s]", r->status, r->err);
    run_nabla(r, NULL, "/nonexistent/script.lua", NULL, NULL, NULL);
    CHECK(r->status == 1 && has_err(r, "cannot open"), "missing script: %s", r->err);

    snprintf(path, sizeof path, "%s/setvar.lua", tmpdir);
    write_file(path, "script_var = 'from the script'\n");
    run_nabla(r, "print(script_var)\n", "-i", path, NULL, NULL);
    CHECK(r->status == 0 && has(r,
          "from the script"), "-i runs the script, then the REPL: [%s]", r->out);

    /* NABLA_PATH comes first; the standard globals load on first use */
    snprintf(path, sizeof path, "%s/lib", tmpdir);
    mkdir(path, 0700);
    snprintf(path2, sizeof path2, "%s/lib/plot.lua", tmpdir);
    write_file(path2, "return {marker = 'fake plot'}\n");
    snprintf(path2, sizeof path2, "%s/lib/mymod.lua", tmpdir);
    write_file(path2, "return 42\n");
    setenv("NABLA_PATH", path, 1);
    run_nabla(r, NULL, "-e", "print(require('mymod'), package.loaded.plot == nil, plot.marker)",
              NULL, NULL);
    CHECK(r->status == 0 && strcmp(r->out, "42\ttrue\tfake plot\n") == 0,
          "NABLA_PATH and lazy globals: [%s] %s", r->out, r->err);
    unsetenv("NABLA_PATH");
    free(r);
}

static void test_pipe_repl(void)
{
    run_result *r = malloc(sizeof *r);
    char input[512], path[160];
    if (!r) return;
    run_nabla(r, "x = 2\nx * 21\nlocal y = 3\ny + 1\nfor i = 1, 2 do\n  print(i)\nend\n'str'\n"
                 "x;\nx -- note\n",
              NULL, NULL, NULL, NULL);
    CHECK(r->status == 0 && strcmp(r->out, "42\n4\n1\n2\n\"str\"\n2\n2\n") == 0 &&
              !has(r, "nabla>") &&
              r->nerr == 0, "quiet REPL on a pipe: [%s] [%s]", r->out, r->err);
    run_nabla(r, "error('e1')\nprint('after')\n", NULL, NULL, NULL, NULL);
    CHECK(r->status == 1 && has_err(r, "e1") && has(r, "after"),
          "errors go on, exit status 1: %d [%s]", r->status, r->out);
    run_nabla(r, ":frob\n:help\n", NULL, NULL, NULL, NULL);
    CHECK(r->status == 0 && has(r,
          "unknown command ':frob'") && has(r, ":time"), "commands on a pipe");
    run_nabla(r, "for i = 1, 2 do\n", NULL, NULL, NULL, NULL);
    CHECK(r->status == 1 && has_err(r, "<eof>"), "input ending inside a statement: %s", r->err);

    snprintf(path, sizeof path, "%s/helper.lua", tmpdir);
    write_file(path, "function helper() return prompt_var * 2 end\n");
    snprintf(input, sizeof input, "prompt_var = 21\ndofile('%s')\nhelper()\n", path);
    run_nabla(r, input, NULL, NULL, NULL, NULL);
    CHECK(r->status == 0 && strcmp(r->out,
          "42\n") == 0, "dofile'd code sees prompt variables: [%s] %s",
          r->out, r->err);

    run_nabla(r, "print(package.searchpath('lesson', package.path) and 'yes' or 'no')\n", NULL,
              NULL, NULL, NULL);
    if (has(r, "no")) {
        run_nabla(r, NULL, "lessons", NULL, NULL, NULL);
        CHECK(r->status == 2 && has_err(r,
              "not available"), "lessons without a lesson module: %d", r->status);
        run_nabla(r, NULL, "lesson", "intro", NULL, NULL);
        CHECK(r->status == 2 && has_err(r, "not available"), "lesson without a lesson module");
        run_nabla(r, ":open intro\n", NULL, NULL, NULL, NULL);
        CHECK(has(r, "lessons are not available"), ":open without a lesson module: %s", r->out);
    }
    run_nabla(r, NULL, "lesson", NULL, NULL, NULL);
    CHECK(r->status == 2, "lesson without a name is a usage error");
    free(r);
}

/* The lesson commands delegate to the stdlib module `lesson`: a stand-in on NABLA_PATH
** records how it is called. */
static const char fake_lesson[] =
    "local M = {}\n"
    "function M.repl_command(name, args, env)\n"
    "  print('cmd', name, args, type(env)); env.from_lesson = 7\n"
    "end\n"
    "function M.run_headless(name, opts)\n"
    "  print('headless', name, type(opts)); return name == 'good'\n"
    "end\n"
    "function M.list()\n"
    "  return {{name = 'intro', title = 'Intro', summary = 'first steps', time = 'fast'},\n"
    "          'plain'}\n"
    "end\n"
    "function M.render(path, out) print('render', path, out) return true end\n"
    "return M\n";

static void test_lesson_module(void)
{
    run_result *r = malloc(sizeof *r);
    char dir[160], path[200];
    if (!r) return;
    snprintf(dir, sizeof dir, "%s/lessonlib", tmpdir);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/lesson.lua", dir);
    write_file(path, fake_lesson);
    setenv("NABLA_PATH", dir, 1);
    run_nabla(r, ":open intro\n:next\nfrom_lesson\n", NULL, NULL, NULL, NULL);
    CHECK(r->status == 0 && has(r, "cmd\topen\tintro\ttable\n") && has(r, "cmd\tnext\t\ttable\n") &&
              has(r, "\n7\n"),
          "lesson commands get the session environment: [%s] %s", r->out, r->err);
    run_nabla(r, NULL, "lesson", "good", NULL, NULL);
    CHECK(r->status == 0 && has(r,
          "headless\tgood\ttable"), "nabla lesson: passing lesson exits 0");
    run_nabla(r, NULL, "lesson", "bad", NULL, NULL);
    CHECK(r->status == 1, "nabla lesson: failing lesson exits 1: %d", r->status);
    run_nabla(r, NULL, "lessons", NULL, NULL, NULL);
    CHECK(r->status == 0 && has(r,
          "intro") && has(r, "Intro - first steps  fast") && has(r, "plain"),
          "nabla lessons: [%s]", r->out);
    run_nabla(r, NULL, "render", "dir/x.lua", "-o", "y.md");
    CHECK(r->status == 0 && has(r, "render\tdir/x.lua\ty.md"), "nabla render -o: [%s]", r->out);
    run_nabla(r, NULL, "render", "dir/x.lua", NULL, NULL);
    CHECK(r->status == 0 && has(r, "render\tdir/x.lua\tnil"), "nabla render: [%s]", r->out);
    unsetenv("NABLA_PATH");
    free(r);
}

/* The rewriter and the printer, through require 'nabla.repl'; the script prints one line
** per failing case and then "done". */
static const char unit_lua[] =
    "local R = require 'nabla.repl'\n"
    "local function eq(got, want, what)\n"
    "  if got ~= want then print(('bad %s: got [%s] want [%s]'):format(what, got, want)) end\n"
    "end\n"
    "local rw = R.rewrite_locals\n"
    "eq(rw('local x = 1'), '      x = 1', 'local')\n"
    "eq(rw('local a, b'), '      a, b = nil', 'no value')\n"
    "eq(rw('local x <const> = 5'), '      x         = 5', 'const')\n"
    "eq(rw('local c <close> = nil'), 'local c <close> = nil', 'close kept')\n"
    "eq(rw('local function f() local z = 1 end'),"
    "   '      function f() local z = 1 end', 'function')\n"
    "eq(rw('do local y = 1 end'), 'do local y = 1 end', 'block')\n"
    "eq(rw(\"s = 'local x = 1'\"), \"s = 'local x = 1'\", 'string')\n"
    "eq(rw('-- local x\\nlocal y = 2'), '-- local x\\n      y = 2', 'comment')\n"
    "eq(rw('x = [==[\\nlocal q]==] local r = 1'),"
    "   'x = [==[\\nlocal q]==]       r = 1', 'long string')\n"
    "eq(rw('if a then local b = 1 end local c = 2'),"
    "   'if a then local b = 1 end       c = 2', 'if')\n"
    "eq(rw('for i = 1, 2 do local k = i end'), 'for i = 1, 2 do local k = i end', 'for')\n"
    "eq(rw('repeat local u = 1 until u local v'),"
    "   'repeat local u = 1 until u       v = nil', 'repeat')\n"
    "eq(rw('local t = {f = function() local w end}'),"
    "   '      t = {f = function() local w end}', 'nested')\n"
    "eq(rw('local'), 'local', 'malformed')\n"
    "local show = R.show\n"
    "eq(show({}), '{}', 'empty')\n"
    "eq(show({1, 2, 3}), '{1, 2, 3}', 'array')\n"
    "eq(show({b = 1, a = 2}), '{a = 2, b = 1}', 'sorted keys')\n"
    "eq(show({['a b'] = 1, [10] = 2, [true] = 3}),"
    "   '{[10] = 2, [\"a b\"] = 1, [true] = 3}', 'keys')\n"
    "eq(show('hi\\n\"'), '\"hi\\\\n\\\\\"\"', 'quoted string')\n"
    "eq(show(1.5), '1.5', 'number')\n"
    "local t = {} t.me = t\n"
    "eq(show(t), '{me = <cycle>}', 'cycle')\n"
    "eq(show({a = {b = {c = {d = 1}}}}), '{a = {b = {c = {...}}}}', 'depth')\n"
    "local big = {} for i = 1, 100 do big[i] = i end\n"
    "local s = show(big)\n"
    "eq(s:find('... (50 more)', 1, true) ~= nil, true, 'item limit')\n"
    "local wide = {} for i = 1, 30 do wide['key' .. i] = i end\n"
    "eq(show(wide):find('\\n  key1 = 1,', 1, true) ~= nil, true, 'one entry per line')\n"
    "eq(show(setmetatable({}, {__tostring = function() return 'OBJ' end})), 'OBJ', '__tostring')\n"
    "eq(show(function() end):match('^<function: ') ~= nil, true, 'function')\n"
    "print('done')\n";

static void test_units(void)
{
    run_result *r = malloc(sizeof *r);
    char path[160];
    if (!r) return;
    snprintf(path, sizeof path, "%s/unit.lua", tmpdir);
    write_file(path, unit_lua);
    run_nabla(r, NULL, path, NULL, NULL, NULL);
    CHECK(r->status == 0 && strcmp(r->out,
          "done\n") == 0, "rewriter and printer:\n%s%s", r->out, r->err);
    free(r);
}

int main(int argc, char **argv)
{
    (void)argc;
    if (setup(argv[0]) != 0) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    test_options();
    test_scripts();
    test_pipe_repl();
    test_lesson_module();
    test_units();
    cleanup();
    REPORT();
}
