/* interrupt.c — Ctrl-C while user code runs.  The SIGINT handler does what lua.c's laction
** does (a hook that raises "interrupted" at the next Lua instruction, call or return) and
** also raises the runtime's flag, which long C kernels poll between chunks.  Both are
** async-signal-safe.  At the prompt libedit reads ^C as a key instead (lineedit.c). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include "lauxlib.h"
#include "rt_core.h"
#include "repl.h"

static lua_State *volatile armed;
static volatile sig_atomic_t hits;
static pthread_t main_thread;
static int ignore_when_idle;

static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted");
}

static void on_sigint(int sig)
{
    int saved = errno;
    rt_interrupt_request();
    /* Only the thread that runs Lua may set its hook; a worker that got the signal
    ** passes it on (pthread_kill is async-signal-safe). */
    if (!pthread_equal(pthread_self(), main_thread)) {
        pthread_kill(main_thread, sig);
        errno = saved;
        return;
    }
    if (++hits >= 3) {
        /* a C call that never returns to Lua nor polls: the third Ctrl-C ends the program */
        static const char msg[] = "\nnabla: interrupted 3 times, exiting\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        signal(sig, SIG_DFL);
        raise(sig);
    }
    lua_State *L = armed;
    if (L) lua_sethook(L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
    errno = saved;
}

void repl_interrupt_init(int ignore_idle)
{
    main_thread = pthread_self();
    ignore_when_idle = ignore_idle;
    if (ignore_idle) signal(SIGINT, SIG_IGN);
}

void repl_interrupt_arm(lua_State *L)
{
    struct sigaction sa;
    rt_interrupt_clear();
    if (lua_gethook(L) == stop_hook) lua_sethook(L, NULL, 0, 0);   /* keep debug.sethook's */
    hits = 0;
    armed = L;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

void repl_interrupt_disarm(lua_State *L)
{
    /* Between inputs a terminal session ignores SIGINT (libedit reads ^C as a key while
    ** editing); a script or a pipe gets the default, so Ctrl-C ends it as it would lua. */
    signal(SIGINT, ignore_when_idle ? SIG_IGN : SIG_DFL);
    armed = NULL;
    if (lua_gethook(L) == stop_hook) lua_sethook(L, NULL, 0, 0);
    rt_interrupt_clear();
}
