/* lb_linalg.c — Lua bindings of matrix products (nb.matmul, mm, dot, outer, also as tensor
** methods) and of the nb.linalg table (solve, inv, det, slogdet, qr, svd, eigh, cholesky,
** matrix_rank, lstsq, pinv).  Everything goes through the differentiable ops (rt_ad_linalg.h);
** the runtime's messages name the op and the shapes, Lua adds the argument position. */
#include <string.h>
#include "lb.h"

/* ---- products ------------------------------------------------------------------------------- */
typedef rt_status (*binary_fn)(const rt_tensor *, const rt_tensor *, rt_tensor **);

static int product(lua_State *L, binary_fn fn)
{
    rt_tensor *a = lb_checktensor(L, 1);
    rt_tensor *b = lb_checktensor(L, 2);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, fn(a, b, slot), 1);
}

static int l_matmul(lua_State *L) { return product(L, rt_ad_matmul); }
static int l_mm(lua_State *L) { return product(L, rt_ad_mm); }
static int l_dot(lua_State *L) { return product(L, rt_ad_dot); }
static int l_outer(lua_State *L) { return product(L, rt_ad_outer); }

/* ---- linear systems and determinants -------------------------------------------------------- */
static int l_solve(lua_State *L) { return product(L, rt_ad_solve); }
static int l_lstsq(lua_State *L) { return product(L, rt_ad_lstsq); }

static int l_inv(lua_State *L)
{
    rt_tensor *A = lb_checktensor(L, 1);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_inv(A, slot), 1);
}

static int l_det(lua_State *L)
{
    rt_tensor *A = lb_checktensor(L, 1);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_det(A, slot), 1);
}

static int l_slogdet(lua_State *L)
{
    rt_tensor *A = lb_checktensor(L, 1);
    rt_tensor **sign = lb_newslot(L), **logabs = lb_newslot(L);
    rt_status st = rt_ad_slogdet(A, sign, logabs);
    return st == RT_OK ? 2 : lb_raise(L, st, 1);
}

static int l_cholesky(lua_State *L)
{
    rt_tensor *A = lb_checktensor(L, 1);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_cholesky(A, slot), 1);
}

/* ---- factorisations ------------------------------------------------------------------------- */
/* mode given as a string or as {mode=...}; 1 for 'reduced', 0 for 'complete'. */
static int qr_mode(lua_State *L, int arg)
{
    const char *mode = "reduced";
    if (lua_type(L, arg) == LUA_TSTRING) {
        mode = lua_tostring(L, arg);
    } else if (!lua_isnoneornil(L, arg)) {
        luaL_argexpected(L, lua_istable(L, arg), arg, "mode string or options table");
        if (lua_getfield(L, arg, "mode") != LUA_TNIL) {
            if (lua_type(L, -1) != LUA_TSTRING)
                luaL_argerror(L, arg, lua_pushfstring(L, "option 'mode' must be a string, got %s",
                                                      luaL_typename(L, -1)));
            mode = lua_tostring(L, -1);
        }
        lua_pop(L, 1);
    }
    if (strcmp(mode, "reduced") == 0) return 1;
    if (strcmp(mode, "complete") == 0) return 0;
    return luaL_argerror(L, arg, lua_pushfstring(L, "mode must be 'reduced' or 'complete', got "
                                                 "'%s'", mode));
}

static int l_qr(lua_State *L)
{
    rt_tensor *A = lb_checktensor(L, 1);
    int reduced = qr_mode(L, 2);
    rt_tensor **Q = lb_newslot(L), **R = lb_newslot(L);
    rt_status st = rt_ad_qr(A, reduced, Q, R);
    return st == RT_OK ? 2 : lb_raise(L, st, 1);
}

static int l_svd(lua_State *L)
{
    rt_tensor *A = lb_checktensor(L, 1);
    int full = lb_optfield_bool(L, 2, "full_matrices", 1);
    rt_tensor **U = lb_newslot(L), **S = lb_newslot(L), **Vh = lb_newslot(L);
    rt_status st = rt_ad_svd(A, full, U, S, Vh);
    return st == RT_OK ? 3 : lb_raise(L, st, 1);
}

static int l_eigh(lua_State *L)
{
    rt_tensor *A = lb_checktensor(L, 1);
    rt_tensor **w = lb_newslot(L), **V = lb_newslot(L);
    rt_status st = rt_ad_eigh(A, w, V);
    return st == RT_OK ? 2 : lb_raise(L, st, 1);
}

/* ---- rank and pseudo-inverse ---------------------------------------------------------------- */
/* An optional non-negative number at arg; -1 (the kernel's default) when absent. */
static double opt_tolerance(lua_State *L, int arg, const char *what)
{
    if (lua_isnoneornil(L, arg)) return -1;
    double v = luaL_checknumber(L, arg);
    if (!(v >= 0))
        luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a non-negative number, got %f",
                                              what, v));
    return v;
}

static int l_matrix_rank(lua_State *L)
{
    rt_tensor *A = lb_checktensor(L, 1);
    double tol = opt_tolerance(L, 2, "tol");
    rt_tensor **slot = lb_newslot(L);
    rt_status st = rt_linalg_matrix_rank(A, tol, slot);
    if (st != RT_OK) return lb_raise(L, st, 1);
    if ((*slot)->ndim == 0) lua_pushinteger(L, (lua_Integer)rt_tensor_get_i64(*slot, NULL));
    return 1;
}

static int l_pinv(lua_State *L)
{
    rt_tensor *A = lb_checktensor(L, 1);
    double rcond = opt_tolerance(L, 2, "rcond");
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_pinv(A, rcond, slot), 1);
}

/* ---- registration --------------------------------------------------------------------------- */
static const lb_fn product_fns[] = {
    {"matmul", l_matmul, "nb.matmul(a, b) — matrix product with PyTorch's rules: 1-D operands "
     "are vectors, leading dims are batches that broadcast (also a:matmul(b))"},
    {"mm", l_mm, "nb.mm(a, b) — product of two 2-D matrices (also a:mm(b))"},
    {"dot", l_dot, "nb.dot(a, b) — inner product of two 1-D tensors, a 0-d tensor "
     "(also a:dot(b))"},
    {"outer", l_outer, "nb.outer(a, b) — outer product of two 1-D tensors: [i,j] = a[i] b[j]"},
    {NULL, NULL, NULL}
};

static const lb_fn linalg_fns[] = {
    {"solve", l_solve, "nb.linalg.solve(A, B) — X with A X = B; B a matrix (..., n, k) or a "
     "vector (n) / batch of vectors; batches broadcast"},
    {"inv", l_inv, "nb.linalg.inv(A) — inverse of a square matrix (or a batch of them)"},
    {"det", l_det, "nb.linalg.det(A) — determinant (0 for a singular matrix), batched"},
    {"slogdet", l_slogdet, "nb.linalg.slogdet(A) — sign, log|det A| (log|det| differentiable; "
     "singular: 0, -inf)"},
    {"qr", l_qr, "nb.linalg.qr(A, mode?) — Q, R with A = Q R; mode 'reduced' (default) or "
     "'complete', as a string or {mode=...}"},
    {"svd", l_svd, "nb.linalg.svd(A, {full_matrices=true}) — U, S, Vh with A = U diag(S) Vh, S "
     "descending; full_matrices=false gives the thin factors"},
    {"eigh", l_eigh, "nb.linalg.eigh(A) — eigenvalues (ascending), eigenvectors (columns) of a "
     "symmetric matrix; only the lower triangle is read"},
    {"cholesky", l_cholesky, "nb.linalg.cholesky(A) — lower L with A = L L^T for a symmetric "
     "positive definite A (lower triangle read)"},
    {"matrix_rank", l_matrix_rank, "nb.linalg.matrix_rank(A, tol?) — number of singular values "
     "above tol (default max(m,n) eps smax): an integer, or an i64 tensor for a batch"},
    {"lstsq", l_lstsq, "nb.linalg.lstsq(A, B) — the minimum-norm least-squares solution X of "
     "A X ~= B (any shape or rank)"},
    {"pinv", l_pinv, "nb.linalg.pinv(A, rcond?) — Moore-Penrose pseudo-inverse; singular values "
     "<= rcond * smax are dropped (default max(m,n) eps)"},
    {NULL, NULL, NULL}
};

void lb_open_linalg(lua_State *L)
{
    lb_register(L, -1, product_fns);
    lb_push_methods(L);
    lb_register(L, -1, product_fns);
    lua_pop(L, 1);
    lua_newtable(L);
    lb_register(L, -1, linalg_fns);
    /* as package.loaded['nabla.linalg'] too, so that Lua's argument errors can name the
    ** functions ("bad argument #2 to 'nabla.linalg.solve'") */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "nabla.linalg");
    lua_pop(L, 1);
    lua_setfield(L, -2, "linalg");
}
