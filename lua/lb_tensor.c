/* lb_tensor.c — the tensor metatable: properties (shape, dtype, grad, ...), 1-based indexing
** with Torch7-style range tables (differentiable: t[i] is a select view), assignment through
** indexing, shape methods and views, and conversion to nested Lua tables. */
#include <math.h>
#include <string.h>
#include "lb.h"

/* ---- indexing ------------------------------------------------------------------------------ */
/* A 1-based (negative from the end) element index for a dim of size n -> 0-based. */
static int64_t check_index(lua_State *L, int arg, lua_Integer i, int64_t n, int dim)
{
    int64_t k = i < 0 ? n + i : i - 1;
    if (i == 0 || k < 0 || k >= n)
        luaL_error(L, "index %I out of range for dimension %d of size %I (valid: 1..%I or "
                   "-%I..-1)", i, dim + 1, (lua_Integer)n, (lua_Integer)n, (lua_Integer)n);
    (void)arg;
    return k;
}

/* Applies one index table entry (at stack index e) to *cur along *dim; returns the new view. */
static rt_status index_step(lua_State *L, int e, rt_tensor *cur, int *dim, int pos,
                            int apply_grad, rt_tensor **out)
{
    if (*dim >= cur->ndim)
        luaL_error(L, "too many indices for a %d-d tensor", cur->ndim);
    int64_t n = cur->shape[*dim];
    if (lua_type(L, e) == LUA_TNUMBER) {
        int isint;
        lua_Integer i = lua_tointegerx(L, e, &isint);
        if (!isint) luaL_error(L, "index must be an integer, got %s", lua_tostring(L, e));
        int64_t k = check_index(L, e, i, n, pos);
        return apply_grad ? rt_ad_select(cur, *dim, k, out) : rt_view_select(cur, *dim, k, out);
    }
    if (!lua_istable(L, e)) luaL_error(L, "index entries must be numbers or {from, to} tables, "
                                         "got %s", lb_typename(L, e));
    int len = (int)luaL_len(L, e);
    int64_t start = 0, stop = n, step = 1;
    if (len >= 1) {
        lua_geti(L, e, 1);
        start = check_index(L, e, luaL_checkinteger(L, -1), n, pos);
        stop = start + 1;   /* {a} keeps the dimension with one element */
        lua_pop(L, 1);
    }
    if (len >= 2) {
        lua_geti(L, e, 2);
        stop = check_index(L, e, luaL_checkinteger(L, -1), n, pos) + 1;
        lua_pop(L, 1);
        if (stop < start) luaL_error(L, "range {%I, %I} is empty for dimension %d", start + 1,
                                     stop, pos + 1);
    }
    if (len >= 3) {
        lua_geti(L, e, 3);
        step = luaL_checkinteger(L, -1);
        lua_pop(L, 1);
        if (step < 1) luaL_error(L, "range step must be positive, got %I", (lua_Integer)step);
    }
    (*dim)++;
    return apply_grad ? rt_ad_slice(cur, *dim - 1, start, stop, step, out)
                      : rt_view_slice(cur, *dim - 1, start, stop, step, out);
}

/* Pushes t[key] for a number or a range table at key_idx. */
static void push_index(lua_State *L, rt_tensor *t, int key_idx, int apply_grad)
{
    rt_tensor **slot = lb_newslot(L);
    rt_tensor_retain(t);
    *slot = t;
    if (lua_type(L, key_idx) == LUA_TNUMBER) {
        int dim = 0;
        if (t->ndim == 0) luaL_error(L, "cannot index a 0-d tensor; use item()");
        rt_tensor *v = NULL;
        rt_status st = index_step(L, key_idx, *slot, &dim, 0, apply_grad, &v);
        if (st != RT_OK) lb_raise(L, st, 0);
        rt_tensor_release(*slot);
        *slot = v;
        return;
    }
    int len = (int)luaL_len(L, key_idx), dim = 0;
    if (len > t->ndim) luaL_error(L, "too many indices (%d) for a %d-d tensor", len, t->ndim);
    for (int k = 1; k <= len; k++) {
        lua_geti(L, key_idx, k);
        rt_tensor *v = NULL;
        rt_status st = index_step(L, lua_gettop(L), *slot, &dim, k - 1, apply_grad, &v);
        lua_pop(L, 1);
        if (st != RT_OK) lb_raise(L, st, 0);
        rt_tensor_release(*slot);
        *slot = v;
    }
}

/* ---- properties ------------------------------------------------------------------------------ */
static void push_shape(lua_State *L, const rt_tensor *t)
{
    lua_createtable(L, t->ndim, 0);
    for (int i = 0; i < t->ndim; i++) {
        lua_pushinteger(L, t->shape[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

static int push_property(lua_State *L, rt_tensor *t, const char *k)
{
    char buf[64];
    if (strcmp(k, "shape") == 0) push_shape(L, t);
    else if (strcmp(k, "dtype") == 0) lua_pushstring(L, rt_dtype_name(t->dtype));
    else if (strcmp(k, "requires_grad") == 0) lua_pushboolean(L, t->requires_grad);
    else if (strcmp(k, "is_leaf") == 0) lua_pushboolean(L, t->node == NULL);
    else if (strcmp(k, "ndim") == 0) lua_pushinteger(L, t->ndim);
    else if (strcmp(k, "grad_fn") == 0) {
        const char *name = rt_grad_fn_name(t, buf, sizeof buf);
        if (name) lua_pushstring(L, name);
        else lua_pushnil(L);
    } else if (strcmp(k, "grad") == 0) {
        if (!t->grad) lua_pushnil(L);
        else {
            rt_tensor_retain(t->grad);
            lb_pushtensor(L, t->grad);
        }
    } else return 0;
    return 1;
}

static int t_index(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    if (lua_type(L, 2) == LUA_TSTRING) {
        lua_pushvalue(L, 2);
        if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
        if (push_property(L, t, lua_tostring(L, 2))) return 1;
        return luaL_error(L, "tensor has no method or field '%s'", lua_tostring(L, 2));
    }
    if (lua_type(L, 2) != LUA_TNUMBER && !lua_istable(L, 2))
        return luaL_error(L, "tensors are indexed by numbers or range tables, not %s",
                          lb_typename(L, 2));
    push_index(L, t, 2, 1);
    return 1;
}

static int t_newindex(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    rt_status st;
    if (lua_type(L, 2) == LUA_TSTRING) {
        const char *k = lua_tostring(L, 2);
        if (strcmp(k, "grad") == 0) {
            rt_tensor *g = lua_isnil(L, 3) ? NULL : lb_checktensor(L, 3);
            if (g && !rt_same_shape(g, t))
                return luaL_error(L, "grad: assigned gradient has a different shape");
            rt_tensor_retain(g);
            rt_tensor_release(t->grad);
            t->grad = g;
            return 0;
        }
        if (strcmp(k, "requires_grad") == 0) {
            st = rt_set_requires_grad(t, lua_toboolean(L, 3));
            return st == RT_OK ? 0 : lb_raise(L, st, 0);
        }
        return luaL_error(L, "cannot set field '%s' of a tensor", k);
    }
    if (lua_type(L, 2) != LUA_TNUMBER && !lua_istable(L, 2))
        return luaL_error(L, "tensors are indexed by numbers or range tables, not %s",
                          lb_typename(L, 2));
    st = rt_check_inplace("assignment", t);
    if (st != RT_OK) return lb_raise(L, st, 0);
    if (t->ndim == 0) return luaL_error(L, "cannot index a 0-d tensor; use fill_()");
    push_index(L, t, 2, 0);
    rt_tensor *view = lb_checktensor(L, -1);
    if (lua_type(L, 3) == LUA_TNUMBER) st = rt_fill_(view, lua_tonumber(L, 3));
    else st = rt_copy_(view, lb_checktensor(L, 3));
    if (st == RT_OK) t->storage->version = view->storage->version;
    return st == RT_OK ? 0 : lb_raise(L, st, 3);
}

static int t_len(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    lua_pushinteger(L, t->ndim ? t->shape[0] : 0);
    return 1;
}

/* ---- size and element access ------------------------------------------------------------- */
static int t_size(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    if (lua_isnoneornil(L, 2)) {
        push_shape(L, t);
        return 1;
    }
    lua_pushinteger(L, t->shape[lb_checkdim(L, 2, t->ndim)]);
    return 1;
}

static int t_stride(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    lua_createtable(L, t->ndim, 0);
    for (int i = 0; i < t->ndim; i++) {
        lua_pushinteger(L, t->strides[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int t_dim(lua_State *L)
{
    lua_pushinteger(L, lb_checktensor(L, 1)->ndim);
    return 1;
}

static int t_numel(lua_State *L)
{
    lua_pushinteger(L, rt_tensor_numel(lb_checktensor(L, 1)));
    return 1;
}

static int t_is_contiguous(lua_State *L)
{
    lua_pushboolean(L, rt_tensor_is_contiguous(lb_checktensor(L, 1)));
    return 1;
}

static void push_number(lua_State *L, const rt_tensor *t, const int64_t *idx)
{
    if (t->dtype == RT_I64) lua_pushinteger(L, rt_tensor_get_i64(t, idx));
    else lua_pushnumber(L, rt_tensor_get(t, idx));
}

static int t_item(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    if (rt_tensor_numel(t) != 1) {
        char s[96];
        return luaL_error(L, "item: tensor of shape %s has %I elements, expected 1",
                          rt_shape_str(t->ndim, t->shape, s, sizeof s),
                          (lua_Integer)rt_tensor_numel(t));
    }
    int64_t idx[RT_MAXDIM] = {0};
    push_number(L, t, idx);
    return 1;
}

static int t_get(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    int n = lua_gettop(L) - 1;
    if (n != t->ndim)
        return luaL_error(L, "get: %d indices given for a %d-d tensor", n, t->ndim);
    int64_t idx[RT_MAXDIM];
    for (int d = 0; d < n; d++)
        idx[d] = check_index(L, d + 2, luaL_checkinteger(L, d + 2), t->shape[d], d);
    push_number(L, t, idx);
    return 1;
}

static int t_set(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    int n = lua_gettop(L) - 2;
    if (n != t->ndim)
        return luaL_error(L, "set: %d indices given for a %d-d tensor", n, t->ndim);
    rt_status st = rt_check_inplace("set", t);
    if (st != RT_OK) return lb_raise(L, st, 0);
    int64_t idx[RT_MAXDIM];
    for (int d = 0; d < n; d++)
        idx[d] = check_index(L, d + 2, luaL_checkinteger(L, d + 2), t->shape[d], d);
    rt_tensor_set(t, idx, luaL_checknumber(L, n + 2));
    lua_settop(L, 1);
    return 1;
}

/* Nested tables, rows first; integers for i64. */
static void push_table(lua_State *L, const rt_tensor *t, int d, int64_t *idx)
{
    if (d == t->ndim) {
        push_number(L, t, idx);
        return;
    }
    luaL_checkstack(L, 4, "tensor too deep");
    lua_createtable(L, (int)t->shape[d], 0);
    for (int64_t i = 0; i < t->shape[d]; i++) {
        idx[d] = i;
        push_table(L, t, d + 1, idx);
        lua_rawseti(L, -2, i + 1);
    }
}

static int t_totable(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    int64_t idx[RT_MAXDIM] = {0};
    push_table(L, t, 0, idx);
    return 1;
}

/* ---- views and copies ---------------------------------------------------------------------- */
static int reshape_common(lua_State *L, int must_view)
{
    rt_tensor *t = lb_checktensor(L, 1);
    int64_t shape[RT_MAXDIM];
    int n = 0;
    int top = lua_gettop(L);
    if (lua_istable(L, 2)) {
        n = (int)luaL_len(L, 2);
        if (n > RT_MAXDIM) luaL_argerror(L, 2, "too many dimensions");
        for (int i = 0; i < n; i++) {
            lua_geti(L, 2, i + 1);
            shape[i] = luaL_checkinteger(L, -1);
            lua_pop(L, 1);
        }
    } else {
        if (top - 1 > RT_MAXDIM) luaL_argerror(L, RT_MAXDIM + 2, "too many dimensions");
        for (int i = 2; i <= top; i++) shape[n++] = luaL_checkinteger(L, i);
    }
    rt_tensor **slot = lb_newslot(L);
    rt_status st = must_view ? rt_ad_view(t, n, shape, slot) : rt_ad_reshape(t, n, shape, slot);
    return LB_RESULT(L, st, 1);
}

static int t_view(lua_State *L) { return reshape_common(L, 1); }
static int t_reshape(lua_State *L) { return reshape_common(L, 0); }

static int t_t(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    if (t->ndim > 2) luaL_argerror(L, 1, "t() expects a tensor with at most 2 dimensions; "
                                         "use transpose(d1, d2)");
    rt_tensor **slot = lb_newslot(L);
    rt_status st = t->ndim < 2 ? rt_ad_view(t, t->ndim, t->shape, slot)
                               : rt_ad_transpose(t, 0, 1, slot);
    return LB_RESULT(L, st, 1);
}

static int t_transpose(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    int d1 = lb_checkdim(L, 2, t->ndim), d2 = lb_checkdim(L, 3, t->ndim);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_transpose(t, d1, d2, slot), 1);
}

static int t_permute(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    int perm[RT_MAXDIM], n = 0;
    if (lua_istable(L, 2)) {
        n = (int)luaL_len(L, 2);
        for (int i = 0; i < n && i < RT_MAXDIM; i++) {
            lua_geti(L, 2, i + 1);
            perm[i] = lb_checkdim(L, -1, t->ndim);
            lua_pop(L, 1);
        }
    } else {
        n = lua_gettop(L) - 1;
        for (int i = 0; i < n && i < RT_MAXDIM; i++) perm[i] = lb_checkdim(L, i + 2, t->ndim);
    }
    if (n != t->ndim)
        return luaL_error(L, "permute: %d dimensions given for a %d-d tensor", n, t->ndim);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_permute(t, perm, slot), 1);
}

static int t_narrow(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    int d = lb_checkdim(L, 2, t->ndim);
    int64_t start = check_index(L, 3, luaL_checkinteger(L, 3), t->shape[d], d);
    lua_Integer len = luaL_checkinteger(L, 4);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_narrow(t, d, start, len, slot), 1);
}

static int t_select(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    int d = lb_checkdim(L, 2, t->ndim);
    int64_t i = check_index(L, 3, luaL_checkinteger(L, 3), t->shape[d], d);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_select(t, d, i, slot), 1);
}

static int t_expand(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    int64_t shape[RT_MAXDIM];
    int n = lb_checkshape(L, 2, shape);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_expand(t, n, shape, slot), 1);
}

static int t_expand_as(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1), *o = lb_checktensor(L, 2);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_expand(t, o->ndim, o->shape, slot), 1);
}

static int t_squeeze(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    int d = lua_isnoneornil(L, 2) ? -1 : lb_checkdim(L, 2, t->ndim);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_squeeze(t, d, slot), 1);
}

static int t_unsqueeze(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    int d = lb_checkdim(L, 2, t->ndim + 1);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_unsqueeze(t, d, slot), 1);
}

static int t_flatten(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    int d1 = lb_optdim(L, 2, t->ndim, 0), d2 = lb_optdim(L, 3, t->ndim, t->ndim - 1);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_flatten(t, d1, d2 < 0 ? 0 : d2, slot), 1);
}

static int t_contiguous(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_contiguous(t, slot), 1);
}

static int t_clone(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_clone(t, slot), 1);
}

static int t_to(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    rt_dtype dt = lb_checkdtype(L, 2);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_to_dtype(t, dt, slot), 1);
}

static int t_detach(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_detach(t, slot), 1);
}

/* ---- in place -------------------------------------------------------------------------------- */
static int t_fill_(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    lua_Number v = luaL_checknumber(L, 2);
    rt_status st = rt_check_inplace("fill_", t);
    if (st == RT_OK) st = rt_fill_(t, v);
    lua_settop(L, 1);
    return LB_RESULT(L, st, 1);
}

static int t_zero_(lua_State *L)
{
    lua_settop(L, 1);
    lua_pushinteger(L, 0);
    return t_fill_(L);
}

static int t_copy_(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1), *src = lb_checktensor(L, 2);
    rt_status st = rt_check_inplace("copy_", t);
    if (st == RT_OK) st = rt_copy_(t, src);
    lua_settop(L, 1);
    return LB_RESULT(L, st, 1);
}

static int t_requires_grad_(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    int on = lua_isnoneornil(L, 2) ? 1 : lua_toboolean(L, 2);
    rt_status st = rt_set_requires_grad(t, on);
    lua_settop(L, 1);
    return LB_RESULT(L, st, 1);
}

static int t_zero_grad(lua_State *L)
{
    rt_tensor *t = lb_checktensor(L, 1);
    rt_tensor_release(t->grad);
    t->grad = NULL;
    return 0;
}

static int l_is_tensor(lua_State *L)
{
    lua_pushboolean(L, lb_testtensor(L, 1) != NULL);
    return 1;
}

static const lb_fn tensor_methods[] = {
    {"size", t_size, "t:size(d?) — the shape as a table, or the size of dimension d"},
    {"stride", t_stride, "t:stride() — strides in elements, as a table"},
    {"dim", t_dim, "t:dim() — number of dimensions"},
    {"numel", t_numel, "t:numel() — number of elements"},
    {"is_contiguous", t_is_contiguous, "t:is_contiguous() — row-major without gaps?"},
    {"item", t_item, "t:item() — the value of a one-element tensor as a Lua number"},
    {"get", t_get, "t:get(i, j, ...) — one element as a Lua number (1-based)"},
    {"set", t_set, "t:set(i, j, ..., v) — write one element in place (1-based)"},
    {"totable", t_totable, "t:totable() — nested Lua tables of numbers"},
    {"view", t_view, "t:view(size...) — same data, new shape (no copy; -1 infers one size)"},
    {"reshape", t_reshape, "t:reshape(size...) — new shape, a view when possible, else a copy"},
    {"t", t_t, "t:t() — transpose of a matrix (a view)"},
    {"transpose", t_transpose, "t:transpose(d1, d2) — swap two dimensions (a view)"},
    {"permute", t_permute, "t:permute(d...) — reorder dimensions (a view)"},
    {"narrow", t_narrow, "t:narrow(d, start, len) — len elements of dim d from start (a view)"},
    {"select", t_select, "t:select(d, i) — index i of dim d, removing it (a view)"},
    {"expand", t_expand, "t:expand(size...) — broadcast size-1 dims without copying"},
    {"expand_as", t_expand_as, "t:expand_as(o) — expand to o's shape"},
    {"squeeze", t_squeeze, "t:squeeze(d?) — drop size-1 dimensions (or just d)"},
    {"unsqueeze", t_unsqueeze, "t:unsqueeze(d) — insert a size-1 dimension at d"},
    {"flatten", t_flatten, "t:flatten(d1?, d2?) — merge dims d1..d2 (all by default)"},
    {"contiguous", t_contiguous, "t:contiguous() — a row-major copy unless already one"},
    {"clone", t_clone, "t:clone() — a copy (differentiable)"},
    {"to", t_to, "t:to(dtype) — a copy converted to 'f32', 'f64' or 'i64'"},
    {"detach", t_detach, "t:detach() — the same data without autograd history"},
    {"fill_", t_fill_, "t:fill_(v) — set every element to v, in place"},
    {"zero_", t_zero_, "t:zero_() — set every element to 0, in place"},
    {"copy_", t_copy_, "t:copy_(src) — copy src (broadcast) into t, in place"},
    {"requires_grad_", t_requires_grad_,
     "t:requires_grad_(on?) — make a leaf track gradients"},
    {"zero_grad", t_zero_grad, "t:zero_grad() — drop the accumulated .grad"},
    {NULL, NULL, NULL}
};

static const lb_fn module_fns[] = {
    {"is_tensor", l_is_tensor, "nb.is_tensor(x) — is x a tensor?"},
    {"reshape", t_reshape, "nb.reshape(t, size...) — see t:reshape"},
    {"transpose", t_transpose, "nb.transpose(t, d1, d2) — see t:transpose"},
    {"permute", t_permute, "nb.permute(t, d...) — see t:permute"},
    {"flatten", t_flatten, "nb.flatten(t, d1?, d2?) — see t:flatten"},
    {"squeeze", t_squeeze, "nb.squeeze(t, d?) — see t:squeeze"},
    {"unsqueeze", t_unsqueeze, "nb.unsqueeze(t, d) — see t:unsqueeze"},
    {"clone", t_clone, "nb.clone(t) — see t:clone"},
    {"detach", t_detach, "nb.detach(t) — see t:detach"},
    {NULL, NULL, NULL}
};

void lb_open_tensor(lua_State *L)
{
    lb_push_methods(L);
    lb_register(L, -1, tensor_methods);
    luaL_getmetatable(L, LB_TENSOR_MT);
    lua_pushvalue(L, -2);
    lua_pushcclosure(L, t_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, t_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, t_len);
    lua_setfield(L, -2, "__len");
    lua_pop(L, 2);
    lb_register(L, -1, module_fns);
}
