/* timeit.c — `:time <stmt>`, after IPython's %timeit: calibrate a loop count so that one
** run takes about BATCH seconds, then repeat runs (at most MAX_RUNS) while the total stays
** under about BUDGET seconds, and print the per-loop mean ± population std over the runs.
** A slow statement gets a single loop and fewer runs.  Ctrl-C stops it like any input. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "lauxlib.h"
#include "repl.h"

#define BATCH 0.05
#define BUDGET 1.0
#define MAX_RUNS 7
#define MAX_LOOPS 100000000L

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double batch(lua_State *L, long loops)
{
    double t0 = now();
    for (long i = 0; i < loops; i++) {
        lua_pushvalue(L, 1);
        lua_call(L, 0, 0);
    }
    return now() - t0;
}

/* The next count of the series 1, 2, 5, 10, 20, 50, ... at or above x (as %timeit shows). */
static long nice_count(double x)
{
    long base = 1;
    while (base <= MAX_LOOPS / 10) {
        if (x <= base) return base;
        if (x <= 2 * base) return 2 * base;
        if (x <= 5 * base) return 5 * base;
        base *= 10;
    }
    return MAX_LOOPS;
}

/* Protected: (f) -> mean, std (seconds per loop), runs, loops */
static int time_runner(lua_State *L)
{
    double t, samples[MAX_RUNS], total = 0, mean = 0, var = 0;
    long loops = 1;
    int runs = 0;
    for (;;) {
        t = batch(L, loops);
        total += t;
        if (t >= 0.8 * BATCH || loops >= MAX_LOOPS) break;
        double grow = t > 0 ? 1.1 * BATCH / t : 100;
        grow = grow < 2 ? 2 : grow > 1000 ? 1000 : grow;
        loops = nice_count((double)loops * grow);
    }
    samples[runs++] = t / (double)loops;   /* the last calibration run counts */
    total = t;
    while (runs < MAX_RUNS && total + t <= BUDGET) {
        t = batch(L, loops);
        total += t;
        samples[runs++] = t / (double)loops;
    }
    for (int i = 0; i < runs; i++) mean += samples[i] / runs;
    for (int i = 0; i < runs; i++) var += (samples[i] - mean) * (samples[i] - mean) / runs;
    lua_pushnumber(L, mean);
    lua_pushnumber(L, sqrt(var));
    lua_pushinteger(L, runs);
    lua_pushinteger(L, loops);
    return 4;
}

static void fmt_time(double t, char *buf, size_t n)
{
    static const char *unit[] = { "s", "ms", "\xc2\xb5s", "ns" };
    int u = 0;
    while (u < 3 && t < 1 && t > 0) {
        t *= 1e3;
        u++;
    }
    if (t >= 100) snprintf(buf, n, "%.0f %s", t, unit[u]);
    else snprintf(buf, n, "%.3g %s", t, unit[u]);
}

void repl_time(repl_session *s, const char *stmt)
{
    lua_State *L = s->L;
    char m[32], d[32];
    if (!*stmt) {
        repl_printf(s, "usage: :time <statement or expression>\n");
        return;
    }
    int st = repl_load(s, stmt, strlen(stmt));
    if (st == LUA_ERRSYNTAX) {   /* `a + b` is an expression, not a statement */
        lua_pushfstring(L, "return %s", stmt);
        if (repl_load(s, lua_tostring(L, -1), strlen(stmt) + 7) == LUA_OK) {
            lua_remove(L, -2);
            lua_remove(L, -2);
            st = LUA_OK;
        } else {
            lua_pop(L, 2);
        }
    }
    if (st != LUA_OK) {
        repl_report(s, st);
        return;
    }
    lua_pushcfunction(L, time_runner);
    lua_insert(L, -2);
    st = repl_docall(s, 1, 4);
    if (st != LUA_OK) {
        repl_report(s, st);
        return;
    }
    double mean = lua_tonumber(L, -4), sd = lua_tonumber(L, -3);
    long runs = (long)lua_tointeger(L, -2), loops = (long)lua_tointeger(L, -1);
    lua_pop(L, 4);
    fmt_time(mean, m, sizeof m);
    fmt_time(sd, d, sizeof d);
    repl_printf(s, "%s \xc2\xb1 %s per loop (mean \xc2\xb1 std. dev. of %ld run%s, %ld loop%s each)"
                   "\n",
                m, d, runs, runs == 1 ? "" : "s", loops, loops == 1 ? "" : "s");
}
