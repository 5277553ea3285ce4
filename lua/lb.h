/* lb.h — helpers shared by the Lua binding: tensor userdata, argument checks, errors, the
** docs registry, and garbage-collector accounting.  The binding holds no math: each function
** checks its arguments, makes one runtime call, and converts the result. */
#ifndef LB_H
#define LB_H

#include <lua.h>
#include <lauxlib.h>
#include "nabla_rt.h"

#define LB_TENSOR_MT "nabla.Tensor"
#define LB_VERSION "0.1.0"

/* A function with its one-line doc, e.g. {"zeros", l_zeros, "nb.zeros(size...) — ..."}. */
typedef struct {
    const char *name;
    lua_CFunction fn;
    const char *doc;
} lb_fn;

/* ---- tensors on the stack ------------------------------------------------------ */
rt_tensor *lb_checktensor(lua_State *L, int arg);   /* raises "bad argument #arg" */
rt_tensor *lb_testtensor(lua_State *L, int arg);    /* NULL if not a tensor */
/* Pushes an empty userdata slot (holds NULL; __gc copes) and returns it: fill it last. */
rt_tensor **lb_newslot(lua_State *L);
/* Pushes t (stealing the reference); accounts its memory with the collector. */
int lb_pushtensor(lua_State *L, rt_tensor *t);
/* Tensor at arg, or a number there converted to a 0-d tensor of dtype like (anchored on the
** stack top as a new slot, so it lives until the function returns). */
rt_tensor *lb_checktensor_or_number(lua_State *L, int arg, rt_dtype like);

/* ---- errors ---------------------------------------------------------------------- */
/* Raises the runtime's last error.  If it blames operand k and argbase > 0, it is reported
** as "bad argument #(argbase + k) to 'fname' (...)".  Never returns. */
int lb_raise(lua_State *L, rt_status st, int argbase);
/* Shorthand for the common single-result pattern: st OK -> 1 result, else raise. */
#define LB_RESULT(L, st, argbase) ((st) == RT_OK ? 1 : lb_raise((L), (st), (argbase)))

/* ---- argument parsing -------------------------------------------------------------- */
/* A shape given as numbers from arg on (nb.zeros(2,3)) or as a table at arg (nb.zeros{2,3}).
** Stops at the first non-number when `last` is 0; returns ndim. */
int lb_checkshape(lua_State *L, int arg, int64_t *shape);
/* A 1-based (or negative) dimension index -> 0-based, checked against ndim. */
int lb_checkdim(lua_State *L, int arg, int ndim);
int lb_optdim(lua_State *L, int arg, int ndim, int def);   /* def returned when nil/none */
rt_dtype lb_checkdtype(lua_State *L, int arg);
rt_dtype lb_optdtype(lua_State *L, int arg, rt_dtype def);
/* Options table at arg (or nil): fields read with these. */
int lb_optfield_bool(lua_State *L, int arg, const char *key, int def);
lua_Number lb_optfield_number(lua_State *L, int arg, const char *key, lua_Number def);
lua_Integer lb_optfield_integer(lua_State *L, int arg, const char *key, lua_Integer def);
rt_dtype lb_optfield_dtype(lua_State *L, int arg, const char *key, rt_dtype def);
const char *lb_typename(lua_State *L, int arg);   /* "tensor" for tensors */
/* Raises "unknown option 'k' (expected: ...)" for a key of the options table at arg that is
** not one of the space-separated keys: a typo such as {keepdims=true} must not be ignored.
** arg 0 or a non-table does nothing. */
void lb_check_options(lua_State *L, int arg, const char *keys);

/* ---- registration ---------------------------------------------------------------- */
/* Sets fns into the table at idx and records each doc in nb._docs. */
void lb_register(lua_State *L, int idx, const lb_fn *fns);
/* The module table's registry reference and the tensor methods table. */
void lb_push_module(lua_State *L);
void lb_push_methods(lua_State *L);

/* ---- Lua values owned by runtime objects (hooks, custom functions) ---------------------- */
typedef struct lua_ref {
    int ref;
    struct lua_ref *next;
} lua_ref;
lua_ref *lb_ref_new(lua_State *L, int idx);   /* a registry reference to the value at idx */
void lb_ref_drop(lua_ref *r);                 /* safe anywhere: freed at the next binding call */
void lb_release_dead_refs(lua_State *L);
lua_State *lb_callback_state(void);           /* the thread running the current backward */

/* ---- sub-module openers (each adds its functions to the module and methods tables) ---- */
void lb_open_tensor(lua_State *L);
void lb_open_print(lua_State *L);
void lb_open_create(lua_State *L);
void lb_open_math(lua_State *L);
void lb_open_autograd(lua_State *L);
void lb_open_function(lua_State *L);
void lb_open_func(lua_State *L);
void lb_open_reduce(lua_State *L);
void lb_open_linalg(lua_State *L);
void lb_open_nn(lua_State *L);
void lb_open_index(lua_State *L);
void lb_open_io(lua_State *L);
void lb_open_optim(lua_State *L);

#endif
