-- Autograd from Lua: known derivatives, Hessians, Hessian-vector products, custom Functions,
-- hooks, no_grad, nb.grad and the functional transforms, and gradchecks of every elementwise
-- and shape op (with second derivatives).  Expected values are derived by hand in comments.
local nb = require 'nabla'
local check = require 'check'
local H = require 'harness'

local function f64(t) return nb.tensor(t, {dtype = 'f64'}) end
local function leaf(t) return f64(t):requires_grad_() end

-- d/dx sigmoid(2 x1 - x2 + 1) at (1, 2): z = 1, s = 0.7310586, s' = s(1-s) = 0.1966119,
-- so the gradient is (2 s', -s') = (0.3932239, -0.1966119).
local x = leaf({1, 2})
local y = (x[1] * 2 - x[2] + 1):sigmoid()
y:backward()
H.close(x.grad, {0.39322386648296376, -0.19661193324148188}, 1e-12, 'sigmoid neuron gradient')
H.close(y:item(), 0.7310585786300049, 1e-12, 'sigmoid(1)')

-- Hessian of the quadratic form x^T A x is A + A^T (A not symmetric).
local A = f64({{1, 2, 0}, {-1, 3, 4}, {0.5, 0, -2}})
local function quad(v)
  return (v:view(3, 1) * A * v:view(1, 3)):sum()
end
local Hs = nb.func.hessian(quad, f64({0.3, -0.7, 1.1}))
H.close(Hs, (A + A:t()), 1e-12, 'Hessian of x^T A x = A + A^T')

-- hvp through a two-layer tanh network equals the finite difference of gradients.
nb.manual_seed(7)
local W1, W2 = nb.randn(4, 3, {dtype = 'f64'}), nb.randn(1, 4, {dtype = 'f64'})
local function net(v)   -- scalar: W2 tanh(W1 v), written with broadcasting and sums
  local h = (W1 * v:view(1, 3)):sum(2):tanh()
  return (W2:view(4) * h):sum()
end
local v0, dir = nb.randn(3, {dtype = 'f64'}), nb.randn(3, {dtype = 'f64'})
local _, hv = nb.func.hvp(net, v0, dir)
local g = nb.func.grad(net)
local eps = 1e-5
local fd = (g(v0 + dir * eps) - g(v0 - dir * eps)) / (2 * eps)
H.close(hv, fd:detach(), 1e-7, 'hvp = finite difference of gradients')

-- jvp and vjp against the explicit Jacobian
local J = nb.func.jacobian(function(v) return (v * v):sin() end, v0)
local _, jv = nb.func.jvp(function(v) return (v * v):sin() end, v0, dir)
local _, vj = nb.func.vjp(function(v) return (v * v):sin() end, v0, dir)
H.close(jv, (J * dir:view(1, 3)):sum(2), 1e-12, 'jvp = J v')
H.close(vj, (J * dir:view(3, 1)):sum(1), 1e-12, 'vjp = v^T J')
H.close(J, nb.zeros(3, 3, 'f64') + ((v0 * v0):cos() * v0 * 2):view(3, 1) * nb.eye(3, 'f64'),
        1e-12, 'Jacobian of sin(v^2) is diag(2 v cos v^2)')

-- custom Function: the student's backward checked against autograd
local Cube = nb.Function{
  forward = function(ctx, t) ctx:save_for_backward(t); return t * t * t end,
  backward = function(ctx, gout) local t = ctx.saved_tensors[1]; return gout * 3 * t * t end,
}
local ok, rep = check.grad(function(t) return Cube(t) end, {f64({0.5, -1.2, 2})})
H.check(ok, 'custom Function passes check.grad: %s', rep.text)
ok, rep = check.gradgrad(function(t) return Cube(t) end, {f64({0.5, -1.2, 2})})
H.check(ok, 'custom Function inside create_graph: %s', rep.text)
-- a wrong backward is caught, and the report says where
local Bad = nb.Function{
  forward = function(ctx, t) ctx:save_for_backward(t); return t * t end,
  backward = function(ctx, gout) return gout * ctx.saved_tensors[1] end,   -- missing factor 2
}
ok, rep = check.grad(function(t) return Bad(t) end, {f64({1, 2})})
H.check(not ok and rep.text:find('MISMATCH') and rep.text:find('input 1'), 'wrong backward found')

-- hooks: replace the gradient (guided backprop style clamps negatives)
local h = leaf({-1, 2, -3})
local r = h:relu() * 1   -- keep a non-leaf to hook
local seen
r:register_hook(function(gr) seen = gr:clone(); return gr:clamp(0) end)
local up = f64({1, -1, 1})
r:backward(up)
H.close(seen, {1, -1, 1}, 0, 'hook sees the incoming gradient')
H.close(h.grad, {0, 0, 0}, 0, 'hook replacement flows on (relu kills -1 and -3, clamp the 2)')

-- no_grad, enable_grad, detach, accumulation, zero_grad
local p = leaf({1, 2})
local q = nb.no_grad(function() return p * 2 end)
H.check(not q.requires_grad and q.grad_fn == nil, 'no_grad records nothing')
H.check(nb.no_grad(function() return nb.enable_grad(function() return (p * 2).requires_grad end) end),
        'enable_grad inside no_grad records')
H.check(not p:detach().requires_grad, 'detach')
H.check(nb.is_grad_enabled(), 'grad mode restored')
local s = (p * p):sum()
s:backward({retain_graph = true})
s:backward()
H.close(p.grad, {4, 8}, 0, 'gradients accumulate: 2 * 2p')
p:zero_grad()
H.check(p.grad == nil, 'zero_grad drops .grad')

-- nb.grad: lists, grad_outputs, allow_unused, non-leaf inputs, create_graph
local u, w = leaf({1, 2, 3}), leaf({4, 5, 6})
local mid = u * w
local out = (mid * mid):sum()
local gs = nb.grad(out, {u, mid}, {retain_graph = true})
H.close(gs[1], (w * w * u * 2):detach(), 1e-12, 'd/du of sum((u w)^2) = 2 u w^2')
H.close(gs[2], (mid * 2):detach(), 1e-12, 'gradient w.r.t. a non-leaf')
H.check(u.grad == nil, 'nb.grad leaves .grad alone')
local unused = nb.grad(out, {u, leaf({0})}, {allow_unused = true, retain_graph = true})
H.check(unused[1] ~= nil and unused[2] == nil, 'allow_unused gives nil')
local go = nb.grad(mid, u, {grad_outputs = f64({1, 0, 2})})
H.close(go[1], {4, 0, 12}, 0, 'grad_outputs weights the outputs')
local g1 = nb.grad((u * u * u):sum(), u, {create_graph = true})[1]
local g2 = nb.grad(g1:sum(), u)[1]
H.close(g2, {6, 12, 18}, 1e-12, 'second derivative of sum(u^3) is 6u')

-- gradcheck and gradgradcheck of elementwise ops, with broadcasting and strided views
nb.manual_seed(3)
local function rnd(...) return nb.rand({...}, {dtype = 'f64'}) * 1.6 + 0.2 end   -- in (0.2, 1.8)
local ba, bb = rnd(3, 1), rnd(1, 4)
local tr = rnd(4, 3):t()
local binary = {
  add = function(a, b) return a + b end, sub = function(a, b) return a - b end,
  mul = function(a, b) return a * b end, div = function(a, b) return a / b end,
  pow = function(a, b) return a ^ b end,
  maximum = function(a, b) return nb.maximum(a, b) end,
  minimum = function(a, b) return nb.minimum(a, b) end,
}
for name, fn in pairs(binary) do
  for _, args in ipairs({{ba, bb}, {tr, rnd(3, 4)}, {rnd(2, 3), rnd(3)}}) do
    local okg, rg = check.grad(fn, args)
    H.check(okg, '%s grad: %s', name, rg.text)
    local okh, rh = check.gradgrad(fn, args)
    H.check(okh, '%s gradgrad: %s', name, rh.text)
  end
end
local scalar = {
  function(a) return a + 2 end, function(a) return 2 - a end, function(a) return a * 3 end,
  function(a) return 3 / a end, function(a) return a / 4 end, function(a) return a ^ 2.5 end,
  function(a) return 2 ^ a end, function(a) return -a end,
}
for k, fn in ipairs(scalar) do
  local okg, rg = check.grad(fn, {tr})
  H.check(okg, 'scalar op %d grad: %s', k, rg.text)
  local okh, rh = check.gradgrad(fn, {tr})
  H.check(okh, 'scalar op %d gradgrad: %s', k, rh.text)
end
local signed = rnd(3, 4) - 1   -- in (-0.8, 0.8), away from 0 mostly
local unary = {'abs', 'exp', 'log', 'log1p', 'sqrt', 'rsqrt', 'sin', 'cos', 'tanh', 'sigmoid',
               'relu', 'gelu', 'softplus', 'square', 'reciprocal', 'expm1', 'erf'}
for _, name in ipairs(unary) do
  local input = (name == 'log' or name == 'sqrt' or name == 'rsqrt' or name == 'reciprocal')
                and tr or signed
  if name == 'abs' or name == 'relu' then input = signed + (signed:sign() * 0.1) end
  local fn = function(a) return a[name](a) end
  local okg, rg = check.grad(fn, {input})
  H.check(okg, '%s grad: %s', name, rg.text)
  local okh, rh = check.gradgrad(fn, {input})
  H.check(okh, '%s gradgrad: %s', name, rh.text)
end
for _, fn in ipairs({function(a) return a:leaky_relu(0.2) end,
                     function(a) return a:clamp(-0.5, 0.4) end,
                     function(a) return nb.where(a:gt(0), a * a, a * 3) end}) do
  local okg, rg = check.grad(fn, {signed + (signed:sign() * 0.05)})
  H.check(okg, 'piecewise op grad: %s', rg.text)
  local okh, rh = check.gradgrad(fn, {signed + (signed:sign() * 0.05)})
  H.check(okh, 'piecewise op gradgrad: %s', rh.text)
end
local okw, rw = check.grad(function(a, b) return nb.where(a:gt(1), a, b) end, {ba, bb})
H.check(okw, 'where broadcast grad: %s', rw.text)

-- shape ops: views and copies, first and second order
local base = rnd(2, 3, 4)
local shape_ops = {
  function(t) return t:view(6, 4) * t:view(6, 4) end,
  function(t) return t:transpose(1, 3) * 2 end,
  function(t) return t:permute(3, 1, 2):reshape(4, 6):t() ^ 2 end,
  function(t) return t:narrow(3, 2, 2) * t:narrow(3, 1, 2) end,
  function(t) return t:select(2, 3) ^ 3 end,
  function(t) return t[{{}, {2, 3}, {1, 4, 2}}] * t[{{}, {1, 2}, {2, 4, 2}}] end,
  function(t) return t[2][3] * t[1] end,
  function(t) return t:view(2, 3, 4, 1):expand(2, 3, 4, 5) * t:unsqueeze(4) end,
  function(t) return t:unsqueeze(1):squeeze(1):flatten() ^ 2 end,
  function(t) return t:transpose(1, 2):contiguous():sin() end,
  function(t) return t:clone() * t end,
}
for k, fn in ipairs(shape_ops) do
  local okg, rg = check.grad(fn, {base})
  H.check(okg, 'shape op %d grad: %s', k, rg.text)
  local okh, rh = check.gradgrad(fn, {base})
  H.check(okh, 'shape op %d gradgrad: %s', k, rh.text)
end

-- regression: .grad accumulates in place only when no one else sees its memory; here the first
-- .grad is a view of the caller's grad_output, which must stay untouched
local xr = nb.zeros(2, 3, 'f64'):requires_grad_()
local gout = nb.ones(6, 'f64')
local yr = xr:reshape(6)
yr:backward(gout, {retain_graph = true})
yr:backward(gout)
H.close(gout, {1, 1, 1, 1, 1, 1}, 0, 'grad_output unchanged by accumulation')
H.close(xr.grad, {{2, 2, 2}, {2, 2, 2}}, 0, 'accumulated gradient')

H.report()
