/* lb_math.c — arithmetic from Lua: the operators + - * / ^ and unary minus (numbers allowed on
** either side), comparisons, unary math, clamp, leaky_relu, where, and the in-place forms.
** Everything goes through the differentiable ops, so results carry autograd history. */
#include <math.h>
#include "lb.h"

/* ---- binary --------------------------------------------------------------------------------- */
/* a op b where either may be a number; arguments at 1 and 2. */
static int binary(lua_State *L, rt_binop op)
{
    rt_tensor *a = lb_testtensor(L, 1), *b = lb_testtensor(L, 2);
    rt_tensor **slot;
    rt_status st;
    if (a && b) {
        slot = lb_newslot(L);
        st = rt_ad_binary(op, a, b, slot);
    } else if (a) {
        if (!lua_isnumber(L, 2))
            return luaL_argerror(L, 2, lua_pushfstring(L, "tensor or number expected, got %s",
                                                       lb_typename(L, 2)));
        lua_Number v = lua_tonumber(L, 2);
        slot = lb_newslot(L);
        st = rt_ad_binary_scalar(op, a, v, 0, slot);
    } else if (b) {
        if (!lua_isnumber(L, 1))
            return luaL_argerror(L, 1, lua_pushfstring(L, "tensor or number expected, got %s",
                                                       lb_typename(L, 1)));
        lua_Number v = lua_tonumber(L, 1);
        slot = lb_newslot(L);
        st = rt_ad_binary_scalar(op, b, v, 1, slot);
    } else {
        return luaL_argerror(L, 1, lua_pushfstring(L, "tensor expected, got %s and %s",
                                                   lb_typename(L, 1), lb_typename(L, 2)));
    }
    return LB_RESULT(L, st, 1);
}

static int l_binary(lua_State *L)
{
    return binary(L, (rt_binop)lua_tointeger(L, lua_upvalueindex(1)));
}

static int m_add(lua_State *L) { return binary(L, RT_ADD); }
static int m_sub(lua_State *L) { return binary(L, RT_SUB); }
static int m_mul(lua_State *L) { return binary(L, RT_MUL); }
static int m_div(lua_State *L) { return binary(L, RT_DIV); }
static int m_pow(lua_State *L) { return binary(L, RT_POW); }

static int m_unm(lua_State *L)
{
    rt_tensor *a = lb_checktensor(L, 1);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_unary(RT_NEG, a, slot), 1);
}

/* In place: t op= other (tensor or number).  Refused on tensors autograd tracks. */
static int l_binary_(lua_State *L)
{
    rt_binop op = (rt_binop)lua_tointeger(L, lua_upvalueindex(1));
    rt_tensor *a = lb_checktensor(L, 1);
    rt_status st = rt_check_inplace(rt_binop_name(op), a);
    if (st == RT_OK) {
        rt_tensor *b = lb_checktensor_or_number(L, 2, a->dtype);
        st = rt_binary_(op, a, b);
    }
    lua_settop(L, 1);
    return LB_RESULT(L, st, 1);
}

/* ---- unary ---------------------------------------------------------------------------------- */
static int l_unary(lua_State *L)
{
    rt_unop op = (rt_unop)lua_tointeger(L, lua_upvalueindex(1));
    rt_tensor *x = lb_checktensor(L, 1);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_unary(op, x, slot), 1);
}

static int l_unary_(lua_State *L)
{
    rt_unop op = (rt_unop)lua_tointeger(L, lua_upvalueindex(1));
    rt_tensor *x = lb_checktensor(L, 1);
    rt_status st = rt_check_inplace(rt_unop_name(op), x);
    if (st == RT_OK) st = rt_unary_(op, x);
    lua_settop(L, 1);
    return LB_RESULT(L, st, 1);
}

static void clamp_bounds(lua_State *L, double *lo, double *hi)
{
    *lo = lua_isnoneornil(L, 2) ? -INFINITY : luaL_checknumber(L, 2);
    *hi = lua_isnoneornil(L, 3) ? INFINITY : luaL_checknumber(L, 3);
    if (*lo > *hi)
        luaL_argerror(L, 3, lua_pushfstring(L, "upper bound %f is below lower bound %f", *hi,
                                            *lo));
}

static int l_clamp(lua_State *L)
{
    rt_tensor *x = lb_checktensor(L, 1);
    double lo, hi;
    clamp_bounds(L, &lo, &hi);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_clamp(x, lo, hi, slot), 1);
}

static int l_clamp_(lua_State *L)
{
    rt_tensor *x = lb_checktensor(L, 1);
    double lo, hi;
    clamp_bounds(L, &lo, &hi);
    rt_status st = rt_check_inplace("clamp_", x);
    if (st == RT_OK) st = rt_clamp_(x, lo, hi);
    lua_settop(L, 1);
    return LB_RESULT(L, st, 1);
}

static int l_leaky_relu(lua_State *L)
{
    rt_tensor *x = lb_checktensor(L, 1);
    double slope = luaL_optnumber(L, 2, 0.01);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_leaky_relu(x, slope, slot), 1);
}

static int l_where(lua_State *L)
{
    rt_tensor *c = lb_checktensor(L, 1);
    rt_tensor *a = lb_testtensor(L, 2), *b = lb_testtensor(L, 3);
    rt_dtype like = a ? a->dtype : b ? b->dtype : RT_F32;
    if (!a) a = lb_checktensor_or_number(L, 2, like);
    if (!b) b = lb_checktensor_or_number(L, 3, like);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_where(c, a, b, slot), 1);
}

static int l_equal(lua_State *L)
{
    rt_tensor *a = lb_checktensor(L, 1), *b = lb_checktensor(L, 2);
    int eq = rt_same_shape(a, b);
    int64_t n = rt_tensor_numel(a);
    int64_t idx[RT_MAXDIM] = {0};
    for (int64_t i = 0; eq && i < n; i++) {
        int64_t r = i;
        for (int d = a->ndim - 1; d >= 0; d--) {
            idx[d] = r % a->shape[d];
            r /= a->shape[d];
        }
        eq = rt_tensor_get(a, idx) == rt_tensor_get(b, idx);
    }
    lua_pushboolean(L, eq);
    return 1;
}

/* ---- registration --------------------------------------------------------------------------- */
typedef struct {
    const char *name;
    int op;
    const char *doc;
} op_doc;

static const op_doc binops[] = {
    {"add", RT_ADD, "add(a, b) — a + b with broadcasting (numbers allowed)"},
    {"sub", RT_SUB, "sub(a, b) — a - b with broadcasting"},
    {"mul", RT_MUL, "mul(a, b) — elementwise a * b (matmul is a separate op)"},
    {"div", RT_DIV, "div(a, b) — a / b (i64 / i64 gives f32)"},
    {"pow", RT_POW, "pow(a, p) — a ^ p elementwise"},
    {"maximum", RT_MAXIMUM, "maximum(a, b) — elementwise larger value"},
    {"minimum", RT_MINIMUM, "minimum(a, b) — elementwise smaller value"},
    {"eq", RT_EQ, "eq(a, b) — 1 where a == b else 0, in the operands' dtype"},
    {"ne", RT_NE, "ne(a, b) — 1 where a ~= b else 0"},
    {"lt", RT_LT, "lt(a, b) — 1 where a < b else 0"},
    {"le", RT_LE, "le(a, b) — 1 where a <= b else 0"},
    {"gt", RT_GT, "gt(a, b) — 1 where a > b else 0"},
    {"ge", RT_GE, "ge(a, b) — 1 where a >= b else 0"},
    {NULL, 0, NULL}
};

static const op_doc inplace_binops[] = {
    {"add_", RT_ADD, "add_(x) — t += x in place"},
    {"sub_", RT_SUB, "sub_(x) — t -= x in place"},
    {"mul_", RT_MUL, "mul_(x) — t *= x in place"},
    {"div_", RT_DIV, "div_(x) — t /= x in place"},
    {NULL, 0, NULL}
};

static const op_doc unops[] = {
    {"neg", RT_NEG, "neg(x) — -x"},
    {"abs", RT_ABS, "abs(x) — |x|"},
    {"exp", RT_EXP, "exp(x) — e^x"},
    {"log", RT_LOG, "log(x) — natural logarithm"},
    {"log1p", RT_LOG1P, "log1p(x) — log(1 + x), accurate near 0"},
    {"sqrt", RT_SQRT, "sqrt(x) — square root"},
    {"rsqrt", RT_RSQRT, "rsqrt(x) — 1 / sqrt(x)"},
    {"sin", RT_SIN, "sin(x)"},
    {"cos", RT_COS, "cos(x)"},
    {"tanh", RT_TANH, "tanh(x)"},
    {"sigmoid", RT_SIGMOID, "sigmoid(x) — 1 / (1 + e^-x), stable for large |x|"},
    {"relu", RT_RELU, "relu(x) — max(x, 0)"},
    {"gelu", RT_GELU, "gelu(x) — x Φ(x) (exact erf form)"},
    {"softplus", RT_SOFTPLUS, "softplus(x) — log(1 + e^x), stable"},
    {"sign", RT_SIGN, "sign(x) — -1, 0 or 1"},
    {"square", RT_SQUARE, "square(x) — x^2"},
    {"reciprocal", RT_RECIPROCAL, "reciprocal(x) — 1 / x"},
    {"expm1", RT_EXPM1, "expm1(x) — e^x - 1, accurate near 0"},
    {"floor", RT_FLOOR, "floor(x)"},
    {"ceil", RT_CEIL, "ceil(x)"},
    {"round", RT_ROUND, "round(x) — to the nearest integer, halves to even"},
    {"erf", RT_ERF, "erf(x) — the error function"},
    {NULL, 0, NULL}
};

/* Sets name..suffix = closure(op) in the methods table and, if in_module, as nb.name, with
** docs.  Stack during the loop: module, methods, docs, name, closure. */
static void reg_ops(lua_State *L, const op_doc *ops, lua_CFunction fn, int in_module,
                    const char *suffix)
{
    lb_push_module(L);
    lb_push_methods(L);
    lua_getfield(L, -2, "_docs");
    int docs = lua_gettop(L), methods = docs - 1, module = docs - 2;
    for (; ops->name; ops++) {
        const char *name = lua_pushfstring(L, "%s%s", ops->name, suffix);
        lua_pushinteger(L, ops->op);
        lua_pushcclosure(L, fn, 1);
        lua_pushvalue(L, -1);
        if (*suffix) lua_pushfstring(L, "t:%s() — in place: %s", name, ops->doc);
        else lua_pushfstring(L, "%s%s", in_module ? "nb." : "t:", ops->doc);
        lua_rawset(L, docs);
        if (in_module) {
            lua_pushvalue(L, -1);
            lua_setfield(L, module, name);
        }
        lua_setfield(L, methods, name);
        lua_pop(L, 1);
    }
    lua_pop(L, 3);
}

static const lb_fn math_fns[] = {
    {"clamp", l_clamp, "nb.clamp(x, lo, hi) — limit to [lo, hi] (nil for no bound)"},
    {"leaky_relu", l_leaky_relu, "nb.leaky_relu(x, slope=0.01) — x if x > 0 else slope x"},
    {"where", l_where, "nb.where(cond, a, b) — a where cond ~= 0 else b (broadcast)"},
    {"equal", l_equal, "nb.equal(a, b) — true if same shape and all elements equal"},
    {NULL, NULL, NULL}
};

static const lb_fn math_methods[] = {
    {"clamp", l_clamp, "t:clamp(lo, hi) — limit to [lo, hi] (nil for no bound)"},
    {"clamp_", l_clamp_, "t:clamp_(lo, hi) — clamp in place"},
    {"leaky_relu", l_leaky_relu, "t:leaky_relu(slope=0.01)"},
    {"equal", l_equal, "t:equal(o) — true if same shape and all elements equal"},
    {NULL, NULL, NULL}
};

void lb_open_math(lua_State *L)
{
    reg_ops(L, binops, l_binary, 1, "");
    reg_ops(L, inplace_binops, l_binary_, 0, "");
    reg_ops(L, unops, l_unary, 1, "");
    reg_ops(L, unops, l_unary_, 0, "_");
    lb_register(L, -1, math_fns);
    lb_push_methods(L);
    lb_register(L, -1, math_methods);
    lua_pop(L, 1);
    luaL_getmetatable(L, LB_TENSOR_MT);
    static const luaL_Reg meta[] = {
        {"__add", m_add}, {"__sub", m_sub}, {"__mul", m_mul}, {"__div", m_div},
        {"__pow", m_pow}, {"__unm", m_unm}, {NULL, NULL}
    };
    luaL_setfuncs(L, meta, 0);
    lua_pop(L, 1);
}
