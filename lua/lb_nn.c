/* lb_nn.c — Lua bindings of the nn ops: conv2d, conv1d, conv_transpose2d, max/avg/adaptive
** pooling, upsampling and padding, as module functions (nb.conv2d(x, w, b, opts)); nn.F in the
** stdlib calls these.  Tensors come first, an options table last; sizes, strides, paddings and
** dilations are a number or a pair {h, w}.  Every op is differentiable to any order (rt_ad_nn.h).
** padding='same' (stride 1, as PyTorch) pads the odd leftover row/column after the input, as
** PyTorch does, so it works for every kernel size and dilation. */
#include <limits.h>
#include <math.h>
#include <string.h>
#include "lb.h"

/* ---- argument parsing ------------------------------------------------------------------------ */
static int is_options(lua_State *L, int arg)
{
    return lua_type(L, arg) == LUA_TTABLE && !lb_testtensor(L, arg);
}

/* The options table at arg (0 when absent); anything else is an error. */
static int opts_at(lua_State *L, int arg)
{
    if (lua_isnoneornil(L, arg)) return 0;
    if (!is_options(L, arg))
        luaL_argerror(L, arg, lua_pushfstring(L, "options table expected, got %s",
                                              lb_typename(L, arg)));
    return arg;
}

/* Pushes field key of the options table at arg and returns its type; nothing pushed if nil. */
static int get_opt(lua_State *L, int arg, const char *key)
{
    if (!arg) return LUA_TNIL;
    int t = lua_getfield(L, arg, key);
    if (t == LUA_TNIL) lua_pop(L, 1);
    return t;
}

static int one_int(lua_State *L, int idx, int arg, const char *name, lua_Integer lo)
{
    int isint;
    lua_Integer v = lua_tointegerx(L, idx, &isint);
    if (!isint)
        luaL_argerror(L, arg, lua_pushfstring(L, "%s must be an integer or a pair {h, w} of "
                                              "integers, got %s", name, luaL_typename(L, idx)));
    if (v < lo || v > INT_MAX / 4)
        luaL_argerror(L, arg, lua_pushfstring(L, "%s must be >= %I, got %I", name, lo, v));
    return (int)v;
}

/* The value at stack index idx as v[0] (H axis), v[1] (W axis): a number serves both axes, a
** table gives {h, w} (nsp == 2) or {n} (nsp == 1).  Each must be >= lo. */
static void to_pair(lua_State *L, int idx, int arg, const char *name, int nsp, int lo, int *v)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TTABLE && !lb_testtensor(L, idx)) {
        lua_Integer n = luaL_len(L, idx);
        if (n != nsp)
            luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a number or a table of %d "
                                                  "numbers, got a table of %I", name, nsp, n));
        for (int i = 0; i < nsp; i++) {
            lua_geti(L, idx, i + 1);
            v[nsp == 2 ? i : 1] = one_int(L, -1, arg, name, lo);
            lua_pop(L, 1);
        }
        if (nsp == 1) v[0] = v[1];
        return;
    }
    if (lua_type(L, idx) != LUA_TNUMBER)
        luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a number or a table {h, w}, got %s",
                                              name, lb_typename(L, idx)));
    v[0] = v[1] = one_int(L, idx, arg, name, lo);
}

/* Option key of the table at arg as a pair (def on both axes when absent). */
static void opt_pair(lua_State *L, int arg, const char *key, int nsp, int lo, int def, int *v)
{
    v[0] = v[1] = def;
    if (get_opt(L, arg, key) == LUA_TNIL) return;
    to_pair(L, -1, arg, key, nsp, lo, v);
    lua_pop(L, 1);
}

static int opt_bool(lua_State *L, int arg, const char *key, int def)
{
    int t = get_opt(L, arg, key);
    if (t == LUA_TNIL) return def;
    if (t != LUA_TBOOLEAN)
        luaL_argerror(L, arg, lua_pushfstring(L, "option '%s' must be a boolean, got %s", key,
                                              luaL_typename(L, -1)));
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* Index of the option's string among the NULL-terminated names (def when absent). */
static int opt_choice(lua_State *L, int arg, const char *key, const char *const *names, int def)
{
    int t = get_opt(L, arg, key);
    if (t == LUA_TNIL) return def;
    const char *s = t == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    for (int i = 0; s && names[i]; i++)
        if (strcmp(s, names[i]) == 0) {
            lua_pop(L, 1);
            return i;
        }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 0; names[i]; i++) {
        luaL_addstring(&b, i ? ", '" : "'");
        luaL_addstring(&b, names[i]);
        luaL_addchar(&b, '\'');
    }
    luaL_pushresult(&b);
    return luaL_argerror(L, arg, lua_pushfstring(L, "option '%s' must be one of %s, got %s%s%s",
                                                 key, lua_tostring(L, -1), s ? "'" : "",
                                                 s ? s : luaL_typename(L, -2), s ? "'" : ""));
}

/* Raises the runtime's error, blaming Lua argument map[k] for operand k (k < nmap and
** map[k] > 0); any other operand gives a plain error. */
static int raise_map(lua_State *L, rt_status st, const int *map, int nmap)
{
    int op = rt_last_operand();
    if (st == RT_EINTERRUPT || op < 0 || op >= nmap || map[op] <= 0) return lb_raise(L, st, 0);
    lua_pushstring(L, rt_last_error());
    return luaL_argerror(L, map[op], lua_tostring(L, -1));
}

/* Runtime indices are 0-based: Lua sees them 1-based. */
static rt_status plus_one(rt_tensor **slot)
{
    rt_tensor *t = NULL;
    rt_status st = rt_binary_scalar(RT_ADD, *slot, 1, 0, &t);
    if (st == RT_OK) {
        rt_tensor_release(*slot);
        *slot = t;
    }
    return st;
}

/* ---- convolutions ---------------------------------------------------------------------------- */
typedef struct {
    int stride[2], padding[2], output_padding[2], dilation[2], groups;
    int same;
} conv_args;

/* x, w, then a bias (tensor or nil) and the options, or the options right after w. */
static int conv_inputs(lua_State *L, rt_tensor **x, rt_tensor **w, rt_tensor **b)
{
    *x = lb_checktensor(L, 1);
    *w = lb_checktensor(L, 2);
    *b = NULL;
    if (is_options(L, 3) && lua_isnoneornil(L, 4)) return 3;
    if (!lua_isnoneornil(L, 3)) {
        *b = lb_testtensor(L, 3);
        if (!*b)
            luaL_argerror(L, 3, lua_pushfstring(L, "bias tensor or nil expected, got %s",
                                                lb_typename(L, 3)));
    }
    return 4;
}

/* {stride=, padding=, dilation=, groups=} (+ output_padding for the transposed conv). */
static void parse_conv(lua_State *L, int arg, int nsp, int transposed, conv_args *c)
{
    lb_check_options(L, arg, transposed ? "stride padding output_padding dilation groups"
                                   : "stride padding dilation groups");
    memset(c, 0, sizeof *c);
    opt_pair(L, arg, "stride", nsp, 1, 1, c->stride);
    opt_pair(L, arg, "dilation", nsp, 1, 1, c->dilation);
    if (transposed) opt_pair(L, arg, "output_padding", nsp, 0, 0, c->output_padding);
    int t = get_opt(L, arg, "padding");
    if (t == LUA_TSTRING && !transposed) {
        const char *s = lua_tostring(L, -1);
        if (strcmp(s, "same") == 0) c->same = 1;
        else if (strcmp(s, "valid") != 0)
            luaL_argerror(L, arg, lua_pushfstring(L, "padding must be a number, a pair, 'same' "
                                                  "or 'valid', got '%s'", s));
        lua_pop(L, 1);
    } else if (t != LUA_TNIL) {
        to_pair(L, -1, arg, "padding", nsp, 0, c->padding);
        lua_pop(L, 1);
    }
    if (c->same && (c->stride[0] != 1 || c->stride[1] != 1))
        luaL_argerror(L, arg, nsp == 1 || c->stride[0] == c->stride[1]
            ? lua_pushfstring(L, "padding='same' needs stride 1 (as in PyTorch), got stride %d",
                              c->stride[1])
            : lua_pushfstring(L, "padding='same' needs stride 1 (as in PyTorch), got stride "
                              "{%d, %d}", c->stride[0], c->stride[1]));
    lua_Integer g = 1;
    if (get_opt(L, arg, "groups") != LUA_TNIL) {
        g = one_int(L, -1, arg, "groups", 1);
        lua_pop(L, 1);
    }
    c->groups = (int)g;
}

static int l_conv2d(lua_State *L)
{
    rt_tensor *x, *w, *b;
    int oa = opts_at(L, conv_inputs(L, &x, &w, &b));
    conv_args c;
    parse_conv(L, oa, 2, 0, &c);
    rt_conv2d_opts o = { { c.stride[0], c.stride[1] }, { c.padding[0], c.padding[1] },
                         { c.dilation[0], c.dilation[1] }, c.groups };
    rt_tensor **slot = lb_newslot(L);
    rt_status st = c.same ? rt_ad_conv2d_same(x, w, b, &o, slot) : rt_ad_conv2d(x, w, b, &o, slot);
    return LB_RESULT(L, st, 1);
}

static int l_conv1d(lua_State *L)
{
    rt_tensor *x, *w, *b;
    int oa = opts_at(L, conv_inputs(L, &x, &w, &b));
    conv_args c;
    parse_conv(L, oa, 1, 0, &c);
    rt_conv1d_opts o = { c.stride[1], c.padding[1], c.dilation[1], c.groups };
    rt_tensor **slot = lb_newslot(L);
    rt_status st = c.same ? rt_ad_conv1d_same(x, w, b, &o, slot) : rt_ad_conv1d(x, w, b, &o, slot);
    return LB_RESULT(L, st, 1);
}

static int l_conv_transpose2d(lua_State *L)
{
    rt_tensor *x, *w, *b;
    int oa = opts_at(L, conv_inputs(L, &x, &w, &b));
    conv_args c;
    parse_conv(L, oa, 2, 1, &c);
    rt_conv_transpose2d_opts o = {
        { c.stride[0], c.stride[1] }, { c.padding[0], c.padding[1] },
        { c.output_padding[0], c.output_padding[1] }, { c.dilation[0], c.dilation[1] }, c.groups
    };
    rt_tensor **slot = lb_newslot(L);
    rt_status st = rt_ad_conv_transpose2d(x, w, b, &o, slot);
    if (st == RT_OK || st == RT_EINTERRUPT || rt_last_operand() >= 0 || !oa)
        return LB_RESULT(L, st, 1);
    /* output_padding errors have no operand: they concern the options table */
    lua_pushstring(L, rt_last_error());
    return luaL_argerror(L, oa, lua_tostring(L, -1));
}

/* ---- pooling --------------------------------------------------------------------------------- */
static const int pool_map[2] = { 1, 3 };   /* operand 1 (the options) is Lua's argument 3 */

static int l_max_pool2d(lua_State *L)
{
    rt_tensor *x = lb_checktensor(L, 1);
    rt_pool2d_opts o;
    memset(&o, 0, sizeof o);
    to_pair(L, 2, 2, "kernel size", 2, 1, o.kernel);
    int oa = opts_at(L, 3);
    lb_check_options(L, oa, "stride padding dilation ceil_mode return_indices");
    opt_pair(L, oa, "stride", 2, 1, 0, o.stride);   /* 0: the kernel size (PyTorch's None) */
    opt_pair(L, oa, "padding", 2, 0, 0, o.padding);
    opt_pair(L, oa, "dilation", 2, 1, 1, o.dilation);
    o.ceil_mode = opt_bool(L, oa, "ceil_mode", 0);
    int with_idx = opt_bool(L, oa, "return_indices", 0);
    rt_tensor **v = lb_newslot(L), **ix = with_idx ? lb_newslot(L) : NULL;
    rt_status st = rt_ad_max_pool2d(x, &o, v, ix);
    if (st == RT_OK && ix) st = plus_one(ix);
    return st == RT_OK ? 1 + with_idx : raise_map(L, st, pool_map, 2);
}

static int l_avg_pool2d(lua_State *L)
{
    rt_tensor *x = lb_checktensor(L, 1);
    rt_avgpool2d_opts o;
    memset(&o, 0, sizeof o);
    to_pair(L, 2, 2, "kernel size", 2, 1, o.kernel);
    int oa = opts_at(L, 3);
    lb_check_options(L, oa, "stride padding ceil_mode count_include_pad");
    opt_pair(L, oa, "stride", 2, 1, 0, o.stride);
    opt_pair(L, oa, "padding", 2, 0, 0, o.padding);
    o.ceil_mode = opt_bool(L, oa, "ceil_mode", 0);
    o.count_include_pad = opt_bool(L, oa, "count_include_pad", 1);
    rt_tensor **slot = lb_newslot(L);
    rt_status st = rt_ad_avg_pool2d(x, &o, slot);
    return st == RT_OK ? 1 : raise_map(L, st, pool_map, 2);
}

static int l_adaptive_avg_pool2d(lua_State *L)
{
    rt_tensor *x = lb_checktensor(L, 1);
    int s[2];
    to_pair(L, 2, 2, "output size", 2, 0, s);
    rt_tensor **slot = lb_newslot(L);
    return LB_RESULT(L, rt_ad_adaptive_avg_pool2d(x, s[0], s[1], slot), 1);
}

/* ---- upsampling ------------------------------------------------------------------------------ */
/* scale_factor: a positive number or {sh, sw}; output sizes floor(in * scale). */
static void scale_size(lua_State *L, int arg, const rt_tensor *x, int64_t *size)
{
    double sc[2];
    if (is_options(L, -1)) {
        if (luaL_len(L, -1) != 2)
            luaL_argerror(L, arg, "scale_factor must be a number or a pair {sh, sw}");
        for (int i = 0; i < 2; i++) {
            lua_geti(L, -1, i + 1);
            sc[i] = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : -1;
            lua_pop(L, 1);
        }
    } else if (lua_type(L, -1) == LUA_TNUMBER) {
        sc[0] = sc[1] = lua_tonumber(L, -1);
    } else {
        luaL_argerror(L, arg, lua_pushfstring(L, "scale_factor must be a number or a pair "
                                              "{sh, sw}, got %s", lb_typename(L, -1)));
        return;
    }
    for (int i = 0; i < 2; i++) {
        if (!(sc[i] > 0) || sc[i] > 1e9)
            luaL_argerror(L, arg, "scale_factor must be positive numbers");
        double n = x->ndim >= 2 ? floor((double)x->shape[x->ndim - 2 + i] * sc[i]) : 1;
        if (n < 1)
            luaL_argerror(L, arg, lua_pushfstring(L, "scale_factor %f gives an empty output for "
                                                  "input size %I", sc[i],
                                                  (lua_Integer)x->shape[x->ndim - 2 + i]));
        size[i] = (int64_t)n;
    }
}

static int upsample(lua_State *L)
{
    static const char *const modes[] = { "nearest", "bilinear", NULL };
    rt_tensor *x = lb_checktensor(L, 1);
    int oa = opts_at(L, 2);
    if (!oa) luaL_argerror(L, 2, "options table expected ({size=} or {scale_factor=})");
    lb_check_options(L, oa, "size scale_factor mode align_corners");
    int64_t size[2] = { 1, 1 };
    int has_size = get_opt(L, oa, "size") != LUA_TNIL;
    if (has_size) {
        int s[2];
        to_pair(L, -1, oa, "size", 2, 1, s);
        size[0] = s[0];
        size[1] = s[1];
        lua_pop(L, 1);
    }
    if (get_opt(L, oa, "scale_factor") != LUA_TNIL) {
        if (has_size) luaL_argerror(L, oa, "give either size or scale_factor, not both");
        scale_size(L, oa, x, size);
        lua_pop(L, 1);
    } else if (!has_size) {
        luaL_argerror(L, oa, "size or scale_factor expected");
    }
    int mode = opt_choice(L, oa, "mode", modes, 0);
    int t = get_opt(L, oa, "align_corners");
    if (t != LUA_TNIL) {
        lua_pop(L, 1);
        if (mode == RT_UPSAMPLE_NEAREST)
            luaL_argerror(L, oa, "align_corners can only be set with mode='bilinear'");
    }
    int ac = opt_bool(L, oa, "align_corners", 0);
    rt_tensor **slot = lb_newslot(L);
    rt_status st = rt_ad_upsample2d(x, size[0], size[1], (rt_upsample_mode)mode, ac, slot);
    static const int map[3] = { 1, 2, 2 };
    return st == RT_OK ? 1 : raise_map(L, st, map, 3);
}

static int l_upsample(lua_State *L) { return upsample(L); }
/* a function of its own, so that error messages name the one the user called */
static int l_interpolate(lua_State *L) { return upsample(L); }

/* ---- padding --------------------------------------------------------------------------------- */
static int l_pad(lua_State *L)
{
    static const char *const modes[] = { "constant", "reflect", "replicate", NULL };
    rt_tensor *x = lb_checktensor(L, 1);
    if (!is_options(L, 2))
        luaL_argerror(L, 2, lua_pushfstring(L, "table of pads {left, right, top, bottom, ...} "
                                            "expected, got %s", lb_typename(L, 2)));
    int64_t pads[2 * RT_MAXDIM];
    lua_Integer n = luaL_len(L, 2);
    if (n % 2 || n > 2 * x->ndim)
        luaL_argerror(L, 2, lua_pushfstring(L, "pads must come in (before, after) pairs, at most "
                                            "one pair per dimension of the %d-d input, got %I "
                                            "numbers", x->ndim, n));
    for (int i = 0; i < n; i++) {
        lua_geti(L, 2, i + 1);
        int isint;
        lua_Integer v = lua_tointegerx(L, -1, &isint);
        if (!isint)
            luaL_argerror(L, 2, lua_pushfstring(L, "pad %d is %s, expected an integer", i + 1,
                                                luaL_typename(L, -1)));
        pads[i] = v;
        lua_pop(L, 1);
    }
    int mode = 0, oa = 0;
    double value = 0;
    if (lua_type(L, 3) == LUA_TSTRING) {   /* PyTorch's positional form pad(x, pads, mode, value) */
        lua_settop(L, 4);
        lua_createtable(L, 0, 2);
        lua_pushvalue(L, 3);
        lua_setfield(L, -2, "mode");
        lua_pushvalue(L, 4);
        lua_setfield(L, -2, "value");
        lua_replace(L, 3);
    }
    oa = opts_at(L, 3);
    lb_check_options(L, oa, "mode value");
    mode = opt_choice(L, oa, "mode", modes, 0);
    if (get_opt(L, oa, "value") != LUA_TNIL) {
        if (!lua_isnumber(L, -1))
            luaL_argerror(L, oa, lua_pushfstring(L, "option 'value' must be a number, got %s",
                                                 luaL_typename(L, -1)));
        if (mode != RT_PAD_CONSTANT)
            luaL_argerror(L, oa, "option 'value' only applies to mode='constant'");
        value = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    rt_tensor **slot = lb_newslot(L);
    rt_status st = rt_ad_pad(x, (int)(n / 2), pads, (rt_pad_mode)mode, value, slot);
    static const int map[5] = { 1, 2, 2, 3, 3 };
    return st == RT_OK ? 1 : raise_map(L, st, map, 5);
}

/* ---- registration ---------------------------------------------------------------------------- */
static const lb_fn nn_fns[] = {
    {"conv2d", l_conv2d, "nb.conv2d(x, w, b_or_nil, {stride=1, padding=0|'same'|'valid', "
     "dilation=1, groups=1}) — 2-D cross-correlation: x [N,C,H,W], w [O,C/groups,kh,kw], "
     "b [O]; sizes are a number or {h, w}"},
    {"conv1d", l_conv1d, "nb.conv1d(x, w, b_or_nil, {stride=1, padding=0|'same'|'valid', "
     "dilation=1, groups=1}) — 1-D cross-correlation: x [N,C,L], w [O,C/groups,k], b [O]"},
    {"conv_transpose2d", l_conv_transpose2d, "nb.conv_transpose2d(x, w, b_or_nil, {stride=1, "
     "padding=0, output_padding=0, dilation=1, groups=1}) — transposed convolution (adjoint of "
     "conv2d): x [N,C,H,W], w [C,O/groups,kh,kw], b [O]"},
    {"max_pool2d", l_max_pool2d, "nb.max_pool2d(x, k, {stride=k, padding=0, dilation=1, "
     "ceil_mode=false, return_indices=false}) — max over k x k windows of [N,C,H,W] or "
     "[C,H,W]; indices are 1-based flat positions within each H x W plane"},
    {"avg_pool2d", l_avg_pool2d, "nb.avg_pool2d(x, k, {stride=k, padding=0, ceil_mode=false, "
     "count_include_pad=true}) — mean over k x k windows"},
    {"adaptive_avg_pool2d", l_adaptive_avg_pool2d, "nb.adaptive_avg_pool2d(x, size) — average "
     "pooling to an output of size x size (or {h, w})"},
    {"upsample", l_upsample, "nb.upsample(x, {size= | scale_factor=, mode='nearest'|'bilinear', "
     "align_corners=false}) — resize [N,C,H,W] or [C,H,W]; a scale_factor gives "
     "floor(size*scale) and interpolates with the in/out size ratio"},
    {"interpolate", l_interpolate, "nb.interpolate(x, {size= | scale_factor=, mode=, "
     "align_corners=}) — same as nb.upsample (PyTorch's F.interpolate name)"},
    {"pad", l_pad, "nb.pad(x, {left, right, top, bottom, ...}, {mode='constant'|'reflect'|"
     "'replicate', value=0}) — pad the last dims (PyTorch's F.pad order); negative pads crop"},
    {NULL, NULL, NULL}
};

void lb_open_nn(lua_State *L)
{
    lb_register(L, -1, nn_fns);
}
