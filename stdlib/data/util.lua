-- data.util: helpers shared by the data modules (option checks, row gathering, permutations,
-- buffered random draws).  Internal: lessons use `data`, not this.
local nb = require 'nabla'
local U = {}

function U.fail(fname, fmt, ...)
  error(fname .. ': ' .. string.format(fmt, ...), 0)
end

-- Rejects options the function does not know, so a typo ({batchsize=32}) is an error rather
-- than a silently ignored setting.
function U.check_opts(fname, opts, known)
  if opts == nil then return {} end
  if type(opts) ~= 'table' or nb.is_tensor(opts) then
    U.fail(fname, 'expected an options table, got %s',
           nb.is_tensor(opts) and 'tensor' or type(opts))
  end
  local set = {}
  for _, k in ipairs(known) do set[k] = true end
  for k in pairs(opts) do
    if not set[k] then
      table.sort(known)
      U.fail(fname, "unknown option '%s' (known: %s)", tostring(k), table.concat(known, ', '))
    end
  end
  return opts
end

function U.int(fname, name, v, default, min)
  if v == nil then v = default end
  if math.type(v) ~= 'integer' and not (type(v) == 'number' and v == math.floor(v)) then
    U.fail(fname, "option '%s' must be an integer, got %s", name, tostring(v))
  end
  v = math.tointeger(v)
  if min and v < min then U.fail(fname, "option '%s' must be >= %d, got %d", name, min, v) end
  return v
end

function U.num(fname, name, v, default, min)
  if v == nil then v = default end
  if type(v) ~= 'number' then
    U.fail(fname, "option '%s' must be a number, got %s", name, type(v))
  end
  if min and v < min then U.fail(fname, "option '%s' must be >= %g, got %g", name, min, v) end
  return v
end

-- Rows idx (1-based i64 tensor) of t along dim 1: index_select when the binding has it,
-- otherwise the io module's C helper.  Either way one copy in C, no per-element Lua loop.
function U.rows(t, idx)
  local index_select = nb._methods.index_select
  if index_select then return index_select(t, 1, idx) end
  return nb._take_rows(t, idx)
end

-- A permutation of 1..n (i64).  With a seed it comes from its own generator, so nb's stream
-- is left alone and draw number `k` (0, 1, ...) equals the (k+1)-th nb.randperm(n) after
-- nb.manual_seed(seed); without one it is drawn from nb's generator.
function U.randperm(n, seed, k)
  if seed == nil then return nb.randperm(n) end
  return nb._randperm_seeded(n, seed, (k or 0) * ((n + 3) // 4))
end

-- Lua list of the values of a tensor (any shape, flattened) or a plain list.
function U.list(x)
  if nb.is_tensor(x) then return x:reshape(-1):totable() end
  return x
end

-- Buffered draws from nb's generator for samplers that need a variable number of them
-- (rejection sampling): one C call per 256 numbers instead of one per number.
function U.stream()
  local s = {nbuf = {}, ni = 1, ubuf = {}, ui = 1}
  function s.normal()
    if s.ni > #s.nbuf then s.nbuf, s.ni = nb.randn(256, 'f64'):totable(), 1 end
    s.ni = s.ni + 1
    return s.nbuf[s.ni - 1]
  end
  function s.uniform()
    if s.ui > #s.ubuf then s.ubuf, s.ui = nb.rand(256, 'f64'):totable(), 1 end
    s.ui = s.ui + 1
    return s.ubuf[s.ui - 1]
  end
  return s
end

-- Gamma(a, 1) by Marsaglia & Tsang, "A simple method for generating gamma variables" (2000);
-- a < 1 uses Gamma(a + 1) * U^(1/a).
function U.gamma(s, a)
  if a < 1 then
    local u = s.uniform()
    return U.gamma(s, a + 1) * u ^ (1 / a)
  end
  local d = a - 1 / 3
  local c = 1 / math.sqrt(9 * d)
  while true do
    local x = s.normal()
    local v = (1 + c * x) ^ 3
    if v > 0 then
      local u = s.uniform()
      if u < 1 - 0.0331 * x ^ 4 or math.log(u) < 0.5 * x * x + d * (1 - v + math.log(v)) then
        return d * v
      end
    end
  end
end

-- Dirichlet(alpha, ..., alpha) of size k through normalised gammas.  For tiny alpha every
-- gamma can underflow to 0; the limit is then a one-hot vector, which is what is returned.
function U.dirichlet(s, alpha, k)
  local g, total = {}, 0
  for i = 1, k do
    g[i] = U.gamma(s, alpha)
    total = total + g[i]
  end
  if total == 0 then
    local j = math.min(k, math.floor(s.uniform() * k) + 1)
    for i = 1, k do g[i] = i == j and 1 or 0 end
    return g
  end
  for i = 1, k do g[i] = g[i] / total end
  return g
end

return U
