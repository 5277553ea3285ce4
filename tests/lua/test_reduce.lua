-- Reductions from Lua: forward values against naive loops written here, indices (1-based,
-- first occurrence on ties), the argument forms, first and second derivatives (check.grad and
-- check.gradgrad in float64) for every op along each dim, keepdim, all elements and
-- non-contiguous input, hand-derived gradients at ties and zeros, and argument errors.
local nb = require 'nabla'
local check = require 'check'
local H = require 'harness'

nb.manual_seed(2024)

-- ---- naive references ------------------------------------------------------------------------
local function flat(t) return t:to('f64'):reshape(-1):totable() end

-- For a reduction over dim d (1-based), the values along d for every output position, in
-- row-major order of the remaining dims.
local function lanes(t, d)
  local v, shape = flat(t), t.shape
  local n, strides, s = #shape, {}, 1
  for i = n, 1, -1 do strides[i] = s; s = s * shape[i] end
  local idx, out = {}, {}
  for i = 1, n do idx[i] = 1 end
  for k = 1, #v // shape[d] do
    local base = 0
    for i = 1, n do base = base + (idx[i] - 1) * strides[i] end
    local lane = {}
    for j = 1, shape[d] do lane[j] = v[base + (j - 1) * strides[d] + 1] end
    out[k] = lane
    for i = n, 1, -1 do
      if i ~= d then
        idx[i] = idx[i] + 1
        if idx[i] <= shape[i] then break end
        idx[i] = 1
      end
    end
  end
  return out
end

local function map(ls, f)
  local out = {}
  for k, l in ipairs(ls) do out[k] = f(l) end
  return out
end

local function concat(ls)   -- list of lists -> one list
  local out = {}
  for _, l in ipairs(ls) do for _, v in ipairs(l) do out[#out + 1] = v end end
  return out
end

local R = {}
function R.sum(l) local s = 0; for _, v in ipairs(l) do s = s + v end; return s end
function R.mean(l) return R.sum(l) / #l end
function R.prod(l) local p = 1; for _, v in ipairs(l) do p = p * v end; return p end
function R.max(l)
  local m = -math.huge
  for _, v in ipairs(l) do m = math.max(m, v) end
  return m
end
function R.min(l)
  local m = math.huge
  for _, v in ipairs(l) do m = math.min(m, v) end
  return m
end
function R.argmax(l)
  local k = 1
  for i, v in ipairs(l) do if v > l[k] then k = i end end
  return k
end
function R.argmin(l)
  local k = 1
  for i, v in ipairs(l) do if v < l[k] then k = i end end
  return k
end
function R.var(l, u)
  local m, s = R.mean(l), 0
  for _, v in ipairs(l) do s = s + (v - m) ^ 2 end
  return s / (#l - (u and 1 or 0))
end
function R.std(l, u) return math.sqrt(R.var(l, u)) end
function R.norm(l, p)
  if p == math.huge then
    local m = 0
    for _, v in ipairs(l) do m = math.max(m, math.abs(v)) end
    return m
  end
  local s = 0
  for _, v in ipairs(l) do s = s + math.abs(v) ^ p end
  return s ^ (1 / p)
end
function R.logsumexp(l)
  local m, s = R.max(l), 0
  for _, v in ipairs(l) do s = s + math.exp(v - m) end
  return m + math.log(s)
end
function R.softmax(l)
  local m, s, out = R.max(l), 0, {}
  for i, v in ipairs(l) do out[i] = math.exp(v - m); s = s + out[i] end
  for i in ipairs(out) do out[i] = out[i] / s end
  return out
end
function R.log_softmax(l)
  local lse, out = R.logsumexp(l), {}
  for i, v in ipairs(l) do out[i] = v - lse end
  return out
end
function R.cumsum(l)
  local s, out = 0, {}
  for i, v in ipairs(l) do s = s + v; out[i] = s end
  return out
end
function R.sorted(l, desc)   -- values and 1-based indices, stable
  local idx = {}
  for i in ipairs(l) do idx[i] = i end
  table.sort(idx, function(a, b)
    if l[a] ~= l[b] then if desc then return l[a] > l[b] else return l[a] < l[b] end end
    return a < b
  end)
  local v = {}
  for i, k in ipairs(idx) do v[i] = l[k] end
  return v, idx
end

local function shape_is(t, s) return table.concat(t.shape, ',') == table.concat(s, ',') end

-- ---- forward values along each dim -----------------------------------------------------------
local x = nb.randn(2, 3, 4):to('f64')
local xt = x:transpose(1, 3)            -- non-contiguous [4,3,2]
H.check(not xt:is_contiguous(), 'transposed view is not contiguous')

local function forward_checks(t, label)
  H.close(t:sum(), R.sum(flat(t)), 1e-12, label .. ' sum all')
  H.close(t:mean(), R.mean(flat(t)), 1e-12, label .. ' mean all')
  H.close(t:prod(), R.prod(flat(t)), 1e-12, label .. ' prod all')
  H.close(t:max(), R.max(flat(t)), 0, label .. ' max all')
  H.close(t:min(), R.min(flat(t)), 0, label .. ' min all')
  H.close(t:var(), R.var(flat(t)), 1e-12, label .. ' var all biased')
  H.close(t:std(nil, {unbiased = true}), R.std(flat(t), true), 1e-12, label .. ' std all unbiased')
  H.close(t:logsumexp(), R.logsumexp(flat(t)), 1e-12, label .. ' logsumexp all')
  H.close(t:argmax(), R.argmax(flat(t)), 0, label .. ' argmax all (flat, 1-based)')
  H.close(t:argmin(), R.argmin(flat(t)), 0, label .. ' argmin all (flat, 1-based)')
  for _, p in ipairs({1, 2, 3, math.huge}) do
    H.close(t:norm(p), R.norm(flat(t), p), 1e-12, label .. ' norm all p=' .. p)
  end
  for d = 1, t:dim() do
    local L = lanes(t, d)
    local tag = label .. ' dim ' .. d
    H.close(t:sum(d), map(L, R.sum), 1e-12, tag .. ' sum')
    H.close(t:mean(d), map(L, R.mean), 1e-12, tag .. ' mean')
    H.close(t:prod(d), map(L, R.prod), 1e-12, tag .. ' prod')
    H.close(t:amax(d), map(L, R.max), 0, tag .. ' amax')
    H.close(t:amin(d), map(L, R.min), 0, tag .. ' amin')
    H.close(t:var(d), map(L, function(l) return R.var(l, false) end), 1e-12, tag .. ' var')
    H.close(t:var(d, {unbiased = true}), map(L, function(l) return R.var(l, true) end), 1e-12,
            tag .. ' var unbiased')
    H.close(t:std(d), map(L, function(l) return R.std(l, false) end), 1e-12, tag .. ' std')
    H.close(t:std{dim = d, unbiased = true}, map(L, function(l) return R.std(l, true) end), 1e-12,
            tag .. ' std unbiased')
    for _, p in ipairs({1, 2, 3, math.huge}) do
      H.close(t:norm(p, d), map(L, function(l) return R.norm(l, p) end), 1e-12,
              tag .. ' norm p=' .. p)
    end
    H.close(t:logsumexp(d), map(L, R.logsumexp), 1e-12, tag .. ' logsumexp')
    local v, i = t:max(d)
    H.close(v, map(L, R.max), 0, tag .. ' max values')
    H.check(i.dtype == 'i64', tag .. ' max indices are i64')
    H.close(i, map(L, R.argmax), 0, tag .. ' max indices (1-based)')
    v, i = t:min(d)
    H.close(v, map(L, R.min), 0, tag .. ' min values')
    H.close(i, map(L, R.argmin), 0, tag .. ' min indices')
    H.close(t:argmax(d), map(L, R.argmax), 0, tag .. ' argmax')
    H.close(t:argmin(d), map(L, R.argmin), 0, tag .. ' argmin')
    -- same-shape ops: compare lane by lane
    H.close(concat(lanes(t:softmax(d), d)), concat(map(L, R.softmax)), 1e-12, tag .. ' softmax')
    H.close(concat(lanes(t:log_softmax(d), d)), concat(map(L, R.log_softmax)), 1e-12,
            tag .. ' log_softmax')
    H.close(concat(lanes(t:cumsum(d), d)), concat(map(L, R.cumsum)), 1e-12, tag .. ' cumsum')
    for _, desc in ipairs({false, true}) do
      local sv, si = t:sort(d, desc)
      local rv, ri = {}, {}
      for k, l in ipairs(L) do rv[k], ri[k] = R.sorted(l, desc) end
      H.close(concat(lanes(sv, d)), concat(rv), 0, tag .. ' sort values desc=' .. tostring(desc))
      H.close(concat(lanes(si, d)), concat(ri), 0, tag .. ' sort indices desc=' .. tostring(desc))
      H.close(concat(lanes(t:argsort(d, desc), d)), concat(ri), 0, tag .. ' argsort')
    end
    local k = t:size(d) - 1
    local tv, ti = t:topk(k, d)
    local rv, ri = {}, {}
    for j, l in ipairs(L) do
      local sv, si = R.sorted(l, true)
      rv[j], ri[j] = {table.unpack(sv, 1, k)}, {table.unpack(si, 1, k)}
    end
    H.close(concat(lanes(tv, d)), concat(rv), 0, tag .. ' topk values')
    H.close(concat(lanes(ti, d)), concat(ri), 0, tag .. ' topk indices')
    tv, ti = t:topk(k, d, {largest = false})
    for j, l in ipairs(L) do
      local sv, si = R.sorted(l, false)
      rv[j], ri[j] = {table.unpack(sv, 1, k)}, {table.unpack(si, 1, k)}
    end
    H.close(concat(lanes(tv, d)), concat(rv), 0, tag .. ' topk smallest values')
    H.close(concat(lanes(ti, d)), concat(ri), 0, tag .. ' topk smallest indices')
  end
end
forward_checks(x, 'contiguous')
forward_checks(xt, 'transposed')

-- ---- every API name is a module function and a method ------------------------------------------
for _, name in ipairs({'sum', 'mean', 'prod', 'var', 'std', 'norm', 'max', 'min', 'argmax',
                       'argmin', 'logsumexp', 'cumsum', 'softmax', 'log_softmax', 'sort',
                       'argsort', 'topk', 'amax', 'amin'}) do
  H.check(type(nb[name]) == 'function' and type(x[name]) == 'function', 'nb.%s and t:%s exist',
          name, name)
end

-- ---- argument forms and shapes ------------------------------------------------------------------
H.check(x:sum():dim() == 0, 't:sum() is 0-d')
H.check(shape_is(x:sum(2), {2, 4}), 'sum(dim) drops the dim')
H.check(shape_is(x:sum(2, true), {2, 1, 4}), 'sum(dim, true) keeps it')
H.check(shape_is(x:sum{dim = -1, keepdim = true}, {2, 3, 1}), 'sum{dim=-1, keepdim=true}')
H.check(shape_is(x:sum(-3, {keepdim = true}), {1, 3, 4}), 'sum(dim, {keepdim=true})')
H.check(shape_is(x:sum{keepdim = true}, {1, 1, 1}), 'sum{keepdim=true} over everything')
H.check(shape_is(nb.sum(x, 1), {3, 4}), 'nb.sum module form')
H.close(nb.mean(x, 2), x:mean(2), 0, 'nb.mean equals t:mean')
H.check(shape_is(x:var(1, {keepdim = true, unbiased = true}), {1, 3, 4}), 'var options')
H.check(shape_is(x:norm{p = 1, dim = 2, keepdim = true}, {2, 1, 4}), 'norm options table')
H.close(x:norm('fro'), x:norm(2), 0, "norm 'fro' is p = 2")
H.close(x:norm('inf'), x:norm(math.huge), 0, "norm 'inf'")
local mv, mi = x:max(3, true)
H.check(shape_is(mv, {2, 3, 1}) and shape_is(mi, {2, 3, 1}), 'max(dim, keepdim) shapes')
mv, mi = x:max{dim = 1}
H.check(shape_is(mv, {3, 4}) and mi.dtype == 'i64', 'max{dim=} gives values and indices')
H.check(x:max():dim() == 0 and select('#', x:max()) == 1, 'max() is one 0-d value')
local a2, b2 = nb.tensor({1, 5, 3}), nb.tensor({4, 2, 3})
H.close(a2:max(b2), {4, 5, 3}, 0, 't:max(other) is elementwise')
H.close(nb.min(a2, b2), {1, 2, 3}, 0, 'nb.min(a, b) is elementwise')
H.check(x:argmax().dtype == 'i64' and x:argmax():dim() == 0, 'argmax() is a 0-d i64')
H.check(shape_is(x:argmax(2, true), {2, 1, 4}), 'argmax keepdim')
H.check(shape_is(x:softmax{dim = 2}, {2, 3, 4}), 'softmax{dim=}')
local sv, si = x:sort()
H.close(sv, x:sort(3), 0, 'sort defaults to the last dim')
H.close(x:sort{dim = 1, descending = true}, x:sort(1, true), 0, 'sort{dim=, descending=}')
H.check(si.dtype == 'i64', 'sort indices i64')
local tv, ti = x:topk(2)
H.check(shape_is(tv, {2, 3, 2}) and shape_is(ti, {2, 3, 2}), 'topk defaults to the last dim')
H.close(x:topk(2, {dim = 2, largest = false}), x:topk(2, 2, false), 0, 'topk option forms')
H.close(nb.topk(x, 1, 3), x:amax(3, true), 0, 'topk(1) is the max')
H.close(nb.tensor({1, 2, 3}):cumsum(), {1, 3, 6}, 0, 'cumsum of a 1-D tensor needs no dim')
local iv = nb.tensor({3, 1, 2}, {dtype = 'i64'})
H.check(iv:sum().dtype == 'i64' and iv:sum():item() == 6, 'sum of i64 stays i64')
H.check(iv:prod():item() == 6 and iv:max():item() == 3, 'prod and max of i64')
local s0 = nb.tensor(2.5)
H.close(s0:sum(1), 2.5, 0, '0-d accepts dim 1')
local v0, i0 = s0:max(1)
H.check(v0:item() == 2.5 and i0:item() == 1, '0-d max(1) gives index 1')

-- ---- indices: 1-based, first occurrence on ties -------------------------------------------------
local tie = nb.tensor({{1, 3, 3}, {2, 2, 0}}, {dtype = 'f64'})
local _, ti1 = tie:max(2)
H.close(ti1, {2, 1}, 0, 'max indices: first of the tied maxima')
local _, ti2 = tie:min(1)
H.close(ti2, {1, 2, 2}, 0, 'min indices along dim 1')
H.close(tie:argmax(2), {2, 1}, 0, 'argmax first occurrence')
H.close(nb.tensor({{5, 1}, {5, 0}}):argmax(), 1, 0, 'flat argmax first occurrence')
H.close(nb.tensor({{5, 1}, {0, 0}}):argmin(), 3, 0, 'flat argmin first occurrence is 3')
local _, sti = nb.tensor({2, 1, 2, 1}):sort()
H.close(sti, {2, 4, 1, 3}, 0, 'stable sort keeps tied order')
_, sti = nb.tensor({2, 1, 2, 1}):sort(1, true)
H.close(sti, {1, 3, 2, 4}, 0, 'stable descending sort keeps tied order')

-- ---- known values -------------------------------------------------------------------------------
H.close(nb.tensor({1000, 1000}):softmax(1), {0.5, 0.5}, 1e-7, 'softmax([1000,1000]) = [0.5,0.5]')
-- log_softmax([1000, 0]) = [0, -1000] exactly in the limit (exp(-1000) underflows)
H.close(nb.tensor({1000, 0}, {dtype = 'f64'}):log_softmax(1), {0, -1000}, 1e-12,
        'log_softmax stays finite where softmax underflows')
-- logsumexp([1000, 1000]) = 1000 + ln 2
H.close(nb.tensor({1000, 1000}, {dtype = 'f64'}):logsumexp(), 1000 + math.log(2), 1e-12,
        'logsumexp does not overflow')
-- var([1,2,3,4]) = 1.25 biased, 5/3 unbiased
H.close(nb.tensor({1, 2, 3, 4}):var(), 1.25, 1e-6, 'var biased by default')
H.close(nb.tensor({1, 2, 3, 4}):var(1, {unbiased = true}), 5 / 3, 1e-6, 'var unbiased')
-- norm([3, -4]): p=1 7, p=2 5, p=3 (27+64)^(1/3), inf 4
local n34 = nb.tensor({3, -4}, {dtype = 'f64'})
H.close(n34:norm(1), 7, 1e-12, 'norm p=1')
H.close(n34:norm(), 5, 1e-12, 'norm p=2 by default')
H.close(n34:norm(3), 91 ^ (1 / 3), 1e-12, 'norm p=3')
H.close(n34:norm(math.huge), 4, 0, 'norm p=inf')

-- ---- gradients: check.grad and check.gradgrad ---------------------------------------------------
-- gradgrad runs on f(x)^2: then gout depends on x, so the second derivative goes through the
-- backward both in x and in gout (ops linear in x have an identically zero d2f/dx2, and
-- check.gradgrad cannot check f itself: its s(x) would not require grad).
local function gg(label, f, inputs)
  local ok, rep = check.grad(f, inputs)
  H.check(ok, '%s grad: %s', label, rep.text)
  ok, rep = check.gradgrad(function(...) local y = f(...); return y * y end, inputs)
  H.check(ok, '%s gradgrad: %s', label, rep.text)
end

local g = nb.randn(2, 3, 4):to('f64')          -- 24 elements, no ties
local gpos = nb.rand(2, 3, 4):to('f64') + 0.5  -- positive, for prod and norm
-- op(t, dim, keepdim); dim nil means all elements
local ops = {
  sum = function(t, d, k) return t:sum(d, k) end,
  mean = function(t, d, k) return t:mean(d, k) end,
  prod = function(t, d, k) return t:prod(d, k) end,
  amax = function(t, d, k) return t:amax(d, k) end,
  amin = function(t, d, k) return t:amin(d, k) end,
  var = function(t, d, k) return t:var(d, {keepdim = k}) end,
  var_unbiased = function(t, d, k) return t:var(d, {keepdim = k, unbiased = true}) end,
  std = function(t, d, k) return t:std(d, {keepdim = k}) end,
  std_unbiased = function(t, d, k) return t:std(d, {keepdim = k, unbiased = true}) end,
  norm1 = function(t, d, k) return t:norm(1, d, k) end,
  norm2 = function(t, d, k) return t:norm(2, d, k) end,
  norm3 = function(t, d, k) return t:norm(3, d, k) end,
  norm_half = function(t, d, k) return t:norm(0.5, d, k) end,
  norminf = function(t, d, k) return t:norm(math.huge, d, k) end,
  logsumexp = function(t, d, k) return t:logsumexp(d, k) end,
  max = function(t, d, k) if d then return (t:max(d, k)) end; return t:max() end,
  min = function(t, d, k) if d then return (t:min(d, k)) end; return t:min() end,
}
local names = {}
for name in pairs(ops) do names[#names + 1] = name end
table.sort(names)
for _, name in ipairs(names) do
  local op = ops[name]
  local input = (name == 'prod' or name:find('norm')) and gpos or g
  gg(name .. ' all', function(t) return op(t) end, {input})
  for d = 1, 3 do
    gg(name .. ' dim ' .. d, function(t) return op(t, d, false) end, {input})
  end
  gg(name .. ' dim -1 keepdim', function(t) return op(t, -1, true) end, {input})
  gg(name .. ' transposed dim 2', function(t) return op(t:transpose(1, 3), 2, false) end, {input})
  gg(name .. ' sliced dim 3', function(t) return op(t:narrow(3, 2, 3), 3, true) end, {input})
end
-- the same-shape ops along each dim, and through a transposed view
local same = {
  softmax = function(t, d) return t:softmax(d) end,
  log_softmax = function(t, d) return t:log_softmax(d) end,
  cumsum = function(t, d) return t:cumsum(d) end,
  sort = function(t, d) return (t:sort(d)) end,
  sort_desc = function(t, d) return (t:sort(d, true)) end,
  topk = function(t, d) return (t:topk(2, d)) end,
  topk_smallest = function(t, d) return (t:topk(2, d, {largest = false})) end,
}
names = {}
for name in pairs(same) do names[#names + 1] = name end
table.sort(names)
for _, name in ipairs(names) do
  for d = 1, 3 do gg(name .. ' dim ' .. d, function(t) return same[name](t, d) end, {g}) end
  gg(name .. ' transposed', function(t) return same[name](t:transpose(1, 3), -1) end, {g})
  gg(name .. ' sliced', function(t) return same[name](t:narrow(3, 1, 3), 3) end, {g})
end
-- a reduction fed by a broadcast: d/da sum((a + b)^2 ...) with a [3,1], b [1,4]
gg('prod of a broadcast sum', function(a, b) return (a + b):prod(2) end,
   {nb.rand(3, 1):to('f64') + 1, nb.rand(1, 4):to('f64') + 1})
gg('softmax then log', function(t) return t:softmax(1):log():sum(2) end, {g[1]})
gg('cumsum of cumsum', function(t) return t:cumsum(2):cumsum(1) end, {g[1]})

-- ---- prod with zeros: exact gradients (product of the others) ----------------------------------
local z1 = nb.tensor({{2, 0, 3, -1.5}, {1.5, 2, 0.5, -1}}, {dtype = 'f64'})
local z2 = nb.tensor({{2, 0, 3, 0}, {0, 2, 0.5, 0}}, {dtype = 'f64'})
local z3 = nb.tensor({{0, 0, 0, 1}, {0, 0, 1, 2}}, {dtype = 'f64'})
gg('prod with one zero, dim 2', function(t) return t:prod(2) end, {z1})
gg('prod with one zero, all', function(t) return t:prod() end, {z1})
gg('prod with two zeros, dim 2', function(t) return t:prod(2) end, {z2})
gg('prod with two zeros, dim 1', function(t) return t:prod(1) end, {z2})
gg('prod with zeros, all', function(t) return t:prod() end, {z2})
gg('prod with three zeros, dim 2', function(t) return t:prod(2) end, {z3})
gg('prod with zeros, transposed', function(t) return t:t():prod(1, true) end, {z2})
do   -- by hand: d prod / dx_i = product of the others
  local t = nb.tensor({2, 0, 3, -1}, {dtype = 'f64', requires_grad = true})
  t:prod():backward()
  H.close(t.grad, {0, -6, 0, 0}, 0, 'prod grad with one zero: only the zero gets -6')
  local u = nb.tensor({2, 0, 3, 0}, {dtype = 'f64', requires_grad = true})
  u:prod():backward()
  H.close(u.grad, {0, 0, 0, 0}, 0, 'prod grad with two zeros is 0')
  -- Hessian of prod at [2,0,3,0]: d2/dx2dx4 = 2*3 = 6 is the only nonzero pair
  local w = nb.tensor({2, 0, 3, 0}, {dtype = 'f64', requires_grad = true})
  local gr = nb.grad({w:prod()}, {w}, {create_graph = true})[1]
  local h = nb.grad({gr[2]}, {w})[1]
  H.close(h, {0, 0, 0, 6}, 0, 'prod second derivative through two zeros')
end

-- ---- ties, kinks and zeros: the gradient rules, by hand -----------------------------------------
do
  -- amax over dim 2 of [[1,3,3],[2,2,0]] is [3,2]; ties split: [[0,.5,.5],[.5,.5,0]]
  local t = nb.tensor({{1, 3, 3}, {2, 2, 0}}, {dtype = 'f64', requires_grad = true})
  t:amax(2):sum():backward()
  H.close(t.grad, {{0, 0.5, 0.5}, {0.5, 0.5, 0}}, 0, 'amax(dim) ties split evenly')
  t.grad = nil
  t:max():backward()
  H.close(t.grad, {{0, 0.5, 0.5}, {0, 0, 0}}, 0, 'max() over all: ties split evenly')
  t.grad = nil
  t:amin():backward()
  H.close(t.grad, {{0, 0, 0}, {0, 0, 1}}, 0, 'amin() single minimum')
  t.grad = nil
  -- max(dim) gives the whole gradient to the returned (first) index, like PyTorch
  local v = t:max(2)
  local loss = v * nb.tensor({10, 20}, {dtype = 'f64'})
  loss:sum():backward()
  H.close(t.grad, {{0, 10, 0}, {20, 0, 0}}, 0, 'max(dim) gradient goes to the index it returns')
  t.grad = nil
  -- norm inf of [3,-3,1]: sign split among the tied |x| = 3: [.5, -.5, 0]
  local n = nb.tensor({3, -3, 1}, {dtype = 'f64', requires_grad = true})
  n:norm(math.huge):backward()
  H.close(n.grad, {0.5, -0.5, 0}, 0, 'norm inf ties split evenly, with signs')
  -- norm p=2 at 0: gradient 0 (as PyTorch), not nan
  local z = nb.zeros({3}, 'f64'):requires_grad_()
  z:norm():backward()
  H.close(z.grad, {0, 0, 0}, 0, 'norm p=2 gradient at 0 is 0')
  local z3b = nb.zeros({3}, 'f64'):requires_grad_()
  z3b:norm(3):backward()
  H.close(z3b.grad, {0, 0, 0}, 0, 'norm p=3 gradient at 0 is 0')
  -- std at zero variance: gradient 0 (PyTorch's choice), not nan
  local c = nb.tensor({2, 2, 2}, {dtype = 'f64', requires_grad = true})
  c:std():backward()
  H.close(c.grad, {0, 0, 0}, 0, 'std gradient at zero variance is 0')
  -- var of [1,2,3,4] biased: d/dx = 2 (x - 2.5) / 4
  local vv = nb.tensor({1, 2, 3, 4}, {dtype = 'f64', requires_grad = true})
  vv:var():backward()
  H.close(vv.grad, {-0.75, -0.25, 0.25, 0.75}, 1e-12, 'var gradient by hand')
  -- softmax of [1000, 1000]: the gradient of its first entry is [0.25, -0.25]
  local s = nb.tensor({1000, 1000}, {dtype = 'f64', requires_grad = true})
  s:softmax(1)[1]:backward()
  H.close(s.grad, {0.25, -0.25}, 1e-12, 'softmax gradient stays finite at 1000')
  -- cumsum of [a,b,c] weighted by [1,2,3]: d/dx = reversed running sum [6,5,3]
  local cs = nb.tensor({1, 2, 3}, {dtype = 'f64', requires_grad = true})
  nb.sum(cs:cumsum(1) * nb.tensor({1, 2, 3}, {dtype = 'f64'})):backward()
  H.close(cs.grad, {6, 5, 3}, 0, 'cumsum gradient is the reversed running sum')
  -- f32 reversed running sum keeps the small terms next to a large one
  local big = nb.tensor({1e8, 1, 1}, {requires_grad = true})
  big:cumsum(1):backward(nb.tensor({1e8, 1, 1}))
  H.close(big.grad, {1e8 + 2, 2, 1}, 1e-7, 'f32 cumsum backward does not cancel')
  -- sort and topk route the gradient through the indices
  local so = nb.tensor({3, 1, 2}, {dtype = 'f64', requires_grad = true})
  local sv2 = so:sort()
  nb.sum(sv2 * nb.tensor({1, 10, 100}, {dtype = 'f64'})):backward()
  H.close(so.grad, {100, 1, 10}, 0, 'sort gradient follows the permutation')
  so.grad = nil
  local tv2 = so:topk(2)
  nb.sum(tv2 * nb.tensor({1, 10}, {dtype = 'f64'})):backward()
  H.close(so.grad, {1, 0, 10}, 0, 'topk gradient lands on the selected elements')
  -- indices never require grad
  local _, ix = so:max(1)
  H.check(not ix.requires_grad, 'indices do not require grad')
  H.check(not so:argmax().requires_grad, 'argmax does not require grad')
end

-- ---- errors -------------------------------------------------------------------------------------
local m = nb.randn(2, 3)
H.checkerror('dimension 3 out of range for a 2-d tensor', function() return m:sum(3) end)
H.checkerror('dimension 0 out of range', function() return nb.sum(m, 0) end)
H.checkerror('dimension -3 out of range', function() return m:max(-3) end)
H.checkerror('out of range', function() return m:argmax(5) end)
H.checkerror('out of range', function() return m:sort(3) end)
H.checkerror("option 'dim' must be an integer dimension, got string",
             function() return m:sum{dim = 'x'} end)
H.checkerror('dimension expected, got string', function() return m:softmax('x') end)
H.checkerror('out of range', function() return m:mean{dim = 7} end)
H.checkerror('softmax needs dim', function() return m:softmax() end)
H.checkerror('log_softmax needs dim', function() return nb.log_softmax(m) end)
H.checkerror('softmax needs dim', function() return m:softmax{} end)
H.checkerror('cumsum needs dim', function() return m:cumsum() end)
H.checkerror('k = 4 is out of range: dimension 2 has size 3', function() return m:topk(4) end)
H.checkerror('k = -1 is out of range', function() return m:topk(-1, 1) end)
H.checkerror('k (an integer) expected', function() return m:topk(1.5) end)
H.checkerror('i64', function() return iv:mean() end)
H.checkerror('i64', function() return iv:var() end)
H.checkerror('i64', function() return iv:softmax(1) end)
H.checkerror('i64', function() return iv:norm() end)
H.checkerror('tensor expected, got number', function() return nb.sum(3) end)
H.checkerror('tensor expected, got no value', function() return nb.max() end)
H.checkerror("unknown option 'keepdims'", function() return m:sum{dim = 1, keepdims = true} end)
H.checkerror("unknown option 'unbiased'", function() return m:sum(1, {unbiased = true}) end)
H.checkerror('keepdim (boolean) or options table expected, got string',
             function() return m:sum(1, 'yes') end)
H.checkerror('options table expected ({unbiased=, keepdim=})', function() return m:var(1, true) end)
H.checkerror("option 'keepdim' must be a boolean", function() return m:sum{keepdim = 1} end)
H.checkerror('dimension or options table expected, got string', function() return m:mean('all') end)
H.checkerror('p must be positive', function() return m:norm(0) end)
H.checkerror('p must be positive', function() return m:norm{p = -1} end)
H.checkerror("p must be a positive number, 'inf' or 'fro', got 'nuc'",
             function() return m:norm('nuc') end)
H.checkerror('descending (boolean) or options table expected',
             function() return m:sort(1, 'up') end)
H.checkerror("unknown option 'largest'", function() return m:sort{largest = true} end)
H.checkerror('cannot reduce', function() return nb.zeros(0):max() end)
H.checkerror('cannot reduce', function() return nb.zeros(2, 0):argmax(2) end)
H.checkerror('cannot be broadcast', function() return m:max(nb.zeros(3, 2)) end)
H.close(m:sum() + 0, m:sum(), 0, 'the state is usable after errors')

H.report()
