-- check: numerical checks of hand-derived answers.
--   check.grad(f, inputs, opts)      autograd vs central finite differences (float64)
--   check.gradgrad(f, inputs, opts)  the same for second derivatives
--   check.close(got, expected, opts) tensors or numbers, worst entry reported
--   check.mc(sample, expected, opts) Monte Carlo mean vs a hand-derived expectation (z-score)
--   check.answer(label, got, expected, tol)  the lesson-facing ✓ / ✗ line
-- None of them raises on a mismatch: they return ok, report (a table with a readable .text).
local nb = require 'nabla'
local M = {}

M.failures = {}   -- labels of failed check.answer calls since the last check.reset()

local function fmt(v)
  if type(v) == 'number' then
    if v == math.floor(v) and math.abs(v) < 1e15 then return string.format('%d', v) end
    return string.format('%.6g', v)
  end
  return tostring(v)
end

-- 1-based multi-index of flat position k (1-based) in shape.
local function unflatten(k, shape)
  local idx, r = {}, k - 1
  for d = #shape, 1, -1 do
    idx[d] = r % shape[d] + 1
    r = r // shape[d]
  end
  return '[' .. table.concat(idx, ',') .. ']'
end

-- Deterministic weights in [-1, 1) from a small LCG, so checks never disturb nb's generator.
local function weights(n, seed)
  local t, s = {}, seed
  for i = 1, n do
    s = (s * 1103515245 + 12345) % 2147483648
    t[i] = s / 1073741824 - 1
  end
  return t
end

local function as_list(inputs)
  if nb.is_tensor(inputs) then return {inputs} end
  return inputs
end

-- Float inputs become fresh float64 leaves; others pass through unchanged.
local function prepare(inputs)
  local xs, diff = {}, {}
  for i, x in ipairs(inputs) do
    if nb.is_tensor(x) and x.dtype ~= 'i64' then
      xs[i] = x:detach():to('f64'):requires_grad_()
      diff[#diff + 1] = i
    else
      xs[i] = x
    end
  end
  return xs, diff
end

-- A scalar f64 loss sum(y * w) from f's output (tensor, number, or list of tensors).
local function scalarize(y, seed)
  if type(y) == 'number' then return nb.tensor(y, {dtype = 'f64'}) end
  if not nb.is_tensor(y) then
    local total
    for i, yi in ipairs(y) do
      local s = scalarize(yi, seed + i)
      total = total and total + s or s
    end
    return total
  end
  y = y:to('f64')
  if y:numel() == 1 then return y:reshape({}) end
  local w = nb.tensor(weights(y:numel(), seed), {dtype = 'f64'}):reshape(y.shape)
  return (y * w):sum()
end

local function report_line(name, worst)
  return string.format('%s: worst at input %d %s: autograd %s, numeric %s, abs err %.3g, ' ..
                       'rel err %.3g', name, worst.input, worst.index, fmt(worst.analytic),
                       fmt(worst.numeric), worst.abs, worst.rel)
end

local function grad_check(name, f, inputs, opts, seed)
  opts = opts or {}
  local eps, atol, rtol = opts.eps or 1e-6, opts.atol or 1e-5, opts.rtol or 1e-3
  local xs, diff = prepare(as_list(inputs))
  local loss = function() return scalarize(f(table.unpack(xs, 1, #xs)), seed) end
  local targets = {}
  for k, i in ipairs(diff) do targets[k] = xs[i] end
  if #targets == 0 then
    return false, {text = name .. ': no floating-point input to check'}
  end
  local ok_run, analytic = pcall(function()
    local l = loss()
    -- a loss that does not depend on the inputs through autograd (e.g. the gradient of a
    -- linear function, in gradgrad) has derivative zero, not an error
    if not l.requires_grad then return {} end
    return nb.grad(l, targets, {allow_unused = true})
  end)
  if not ok_run then return false, {text = name .. ': autograd failed: ' .. tostring(analytic)} end
  local worst = {ratio = -1}
  local ok = true
  for k, i in ipairs(diff) do
    local x = xs[i]
    local flat = x:detach():view(-1)
    local ga = analytic[k] and analytic[k]:reshape(-1) or nb.zeros(x:numel(), 'f64')
    for j = 1, x:numel() do
      local v = flat:get(j)
      local fp, fm = nb.no_grad(function()
        flat:set(j, v + eps); local a = loss():item()
        flat:set(j, v - eps); local b = loss():item()
        flat:set(j, v)
        return a, b
      end)
      local num, an = (fp - fm) / (2 * eps), ga:get(j)
      local abs = math.abs(an - num)
      local ratio = abs / (atol + rtol * math.abs(num))
      if not (ratio <= 1) then ok = false end
      if ratio > worst.ratio or ratio ~= ratio then
        worst = {ratio = ratio, input = i, index = unflatten(j, x.shape), analytic = an,
                 numeric = num, abs = abs, rel = abs / math.max(math.abs(num), 1e-300)}
      end
    end
  end
  worst.ok = ok
  worst.text = (ok and 'ok ' or 'MISMATCH ') .. report_line(name, worst)
  return ok, worst
end

function M.grad(f, inputs, opts)
  return grad_check('check.grad', f, inputs, opts, 12345)
end

-- Second order: the gradient of s(x) = sum_i <grad_i L(x), u_i> (built with create_graph) is
-- checked against finite differences of s, so every Hessian-vector product is exercised.
function M.gradgrad(f, inputs, opts)
  opts = opts or {}
  local list = as_list(inputs)
  local function s(...)
    local xs = {...}
    local targets = {}
    for _, x in ipairs(xs) do
      if nb.is_tensor(x) and x.requires_grad then targets[#targets + 1] = x end
    end
    local l = scalarize(f(...), 777)
    if not l.requires_grad then return nb.zeros({}, 'f64') end
    local g = nb.grad(l, targets, {create_graph = true, allow_unused = true})
    local total = nil
    for k, t in ipairs(targets) do
      if g[k] then
        local u = nb.tensor(weights(t:numel(), 4242 + k), {dtype = 'f64'}):reshape(t.shape)
        local term = (g[k] * u):sum()
        total = total and total + term or term
      end
    end
    return total or nb.zeros({}, 'f64')
  end
  -- inputs of s must require grad inside the finite differences too: grad_check makes leaves
  return grad_check('check.gradgrad', function(...)
    local xs = {...}
    return nb.enable_grad(function() return s(table.unpack(xs, 1, #list)) end)
  end, list, opts, 99)
end

function M.close(got, expected, opts)
  opts = opts or {}
  local atol, rtol = opts.atol or 1e-6, opts.rtol or 1e-5
  if type(got) == 'number' and type(expected) == 'number' then
    local abs = math.abs(got - expected)
    local ok = abs <= atol + rtol * math.abs(expected)
    return ok, {ok = ok, abs = abs, text = string.format('%s: got %s, expected %s (abs err %.3g)',
                ok and 'ok' or 'MISMATCH', fmt(got), fmt(expected), abs)}
  end
  local g = nb.is_tensor(got) and got or nb.tensor(got, {dtype = 'f64'})
  local e = nb.is_tensor(expected) and expected or nb.tensor(expected, {dtype = 'f64'})
  if e:numel() == 1 and g:numel() ~= 1 then e = e:reshape({}):expand(g.shape) end
  local gs, es = table.concat(g.shape, ','), table.concat(e.shape, ',')
  if gs ~= es then
    return false, {ok = false, text = string.format('MISMATCH shapes [%s] and [%s]', gs, es)}
  end
  local gf, ef = g:to('f64'):reshape(-1), e:to('f64'):reshape(-1)
  local worst, ok = {ratio = -1}, true
  for j = 1, gf:numel() do
    local a, b = gf:get(j), ef:get(j)
    local abs = math.abs(a - b)
    local ratio = abs / (atol + rtol * math.abs(b))
    if abs == 0 or (a ~= a and b ~= b) then ratio = 0 end   -- exact match even with tol 0
    if not (ratio <= 1) then ok = false end
    if ratio > worst.ratio or ratio ~= ratio then
      worst = {ratio = ratio, index = unflatten(j, g.shape), got = a, expected = b, abs = abs}
    end
  end
  worst.ok = ok
  worst.text = gf:numel() == 0 and 'ok (empty)' or string.format(
    '%s: worst at %s: got %s, expected %s (abs err %.3g)', ok and 'ok' or 'MISMATCH',
    worst.index, fmt(worst.got), fmt(worst.expected), worst.abs)
  return ok, worst
end

-- Monte Carlo: mean of n samples against expected, judged by |mean - expected| / stderr <= z.
function M.mc(sample, expected, opts)
  opts = opts or {}
  local n, zmax = opts.n or 10000, opts.z or 4
  local sum, sumsq
  for _ = 1, n do
    local s = sample()
    if not nb.is_tensor(s) then s = nb.tensor(s, {dtype = 'f64'}) else s = s:to('f64') end
    if sum then sum = sum + s; sumsq = sumsq + s * s else sum = s; sumsq = s * s end
  end
  local mean = sum / n
  local var = (sumsq / n - mean * mean) * (n / math.max(n - 1, 1))
  local se = (var:clamp(0) / n):sqrt()
  local e = nb.is_tensor(expected) and expected:to('f64') or nb.tensor(expected, {dtype = 'f64'})
  local diff = (mean - e):abs()
  -- a zero standard error (a constant sample) must match exactly, up to rounding
  local z = diff / (se + 1e-12 * (e:abs() + 1))
  local zmax_seen = z:max():item()
  local ok = zmax_seen <= zmax
  local r = {ok = ok, mean = mean, stderr = se, z = zmax_seen, n = n}
  if mean:numel() == 1 then
    r.text = string.format('%s: estimate %s ± %s (n=%d), expected %s, z = %.2f',
      ok and 'ok' or 'MISMATCH', fmt(mean:item()), fmt(se:item()), n, fmt(e:item()), zmax_seen)
  else
    r.text = string.format('%s: %d entries, worst z = %.2f (n=%d)', ok and 'ok' or 'MISMATCH',
      mean:numel(), zmax_seen, n)
  end
  return ok, r
end

-- Color on a terminal (the nabla program sets NABLA_TTY), unless NO_COLOR or check.color=false.
local function use_color()
  if M.color ~= nil then return M.color == true end
  local nc = os.getenv('NO_COLOR')
  return os.getenv('NABLA_TTY') == '1' and (nc == nil or nc == '')
end

-- check.answer(label, got, expected, tol): tol is a number (absolute) or {atol=, rtol=}.
function M.answer(label, got, expected, tol)
  local opts = type(tol) == 'table' and tol or {atol = tol or 1e-6, rtol = tol and 0 or 1e-5}
  local ok, r = M.close(got, expected, opts)
  local mark = ok and '✓' or '✗'
  if use_color() then mark = (ok and '\27[32m' or '\27[31m') .. mark .. '\27[0m' end
  local show = function(v) return nb.is_tensor(v) and ('\n' .. tostring(v)) or fmt(v) end
  print(string.format('%s %s: got %s, expected %s', mark, label, show(got), show(expected)))
  if not ok then M.failures[#M.failures + 1] = label end
  return ok, r
end

function M.reset() M.failures = {} end
function M.failed() return #M.failures end

local docs = {
  grad = 'check.grad(f, inputs, {eps=1e-6, atol=1e-5, rtol=1e-3}) — autograd vs central ' ..
         'finite differences in float64; returns ok, report',
  gradgrad = 'check.gradgrad(f, inputs, opts) — second derivatives vs finite differences',
  close = 'check.close(got, expected, {atol=, rtol=}) — tensors or numbers; report shows the ' ..
          'worst entry',
  mc = 'check.mc(sample_fn, expected, {n=10000, z=4}) — Monte Carlo mean vs expectation by z-score',
  answer = 'check.answer(label, got, expected, tol?) — print a ✓/✗ line; failures make a ' ..
           'lesson run exit non-zero',
  reset = 'check.reset() — forget recorded check.answer failures',
  failed = 'check.failed() — number of failed check.answer calls',
}
for k, v in pairs(docs) do nb.doc(M[k], v) end
return M
