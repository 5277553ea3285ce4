-- initexp: experiments on initialisation, depth and residual connections.
-- A *stack* is a plain table {linears = {nn.Linear...}, act = 'tanh'|'sigmoid'|'relu'|'linear',
-- residual = bool, head = nn.Linear or nil}: block l computes z_l = W_l h_{l−1} + b_l and
-- h_l = φ(z_l) (plain) or h_l = h_{l−1} + φ(z_l) (residual); the head, if any, is linear.
-- The functions measure what the theory talks about: second moments of pre-activations per
-- layer, gradient norms per layer, the spread between the units of a layer, and the residual
-- rule ∂L/∂x = (∂F/∂x + I)ᵀ ∂L/∂y.  Weights come from nn.Linear and are filled with nn.init.
-- Not here: convolutions, normalisation layers, training loops beyond plain SGD.
local nb = require 'nabla'
local M = {}

local function fail(fname, fmt, ...)
  error('initexp.' .. fname .. ': ' .. string.format(fmt, ...), 3)
end

local function nn_() return package.loaded.nn or require 'nn' end

---------------------------------------------------------------------------- activations

local ACTS = {
  linear = function(z) return z end,
  tanh = function(z) return z:tanh() end,
  sigmoid = function(z) return z:sigmoid() end,
  relu = function(z) return z:relu() end,
}

-- φ(z) for an activation name.
function M.act(name, z)
  local f = ACTS[name]
  if not f then
    fail('act', "unknown activation '%s' (linear, tanh, sigmoid, relu)", tostring(name))
  end
  return f(z)
end

-- φ'(z) in closed form (no autograd): 1, 1 − tanh², σ(1 − σ), 1[z > 0].
function M.act_deriv(name, z)
  return nb.no_grad(function()
    if name == 'linear' then return nb.ones_like(z) end
    if name == 'tanh' then local t = z:tanh(); return 1 - t * t end
    if name == 'sigmoid' then local s = z:sigmoid(); return s * (1 - s) end
    if name == 'relu' then return z:gt(0) end
    fail('act_deriv', "unknown activation '%s'", tostring(name))
  end)
end

---------------------------------------------------------------------------- initialisation

-- Weight variance of a rule for a layer with n_in inputs and n_out outputs.
local RULES = {
  xavier_seed = function(i, o) return 1 / (i + o) end,   -- the course's (wrong) Xavier
  xavier = function(i, o) return 2 / (i + o) end,        -- Glorot & Bengio 2010
  he = function(i) return 2 / i end,                     -- He et al. 2015 (fan_in)
  lecun = function(i) return 1 / i end,
  torch = function(i) return 1 / (3 * i) end,            -- nn.Linear's default U(±1/√n_in)
}

function M.init_var(rule, n_in, n_out)
  if type(rule) == 'number' then return rule end
  if type(rule) == 'function' then return rule(n_in, n_out) end
  local f = RULES[rule]
  if not f then
    fail('init_var', "unknown rule '%s' (xavier_seed, xavier, he, lecun, torch, or a number)",
         tostring(rule))
  end
  return f(n_in, n_out)
end

-- Fill a weight [n_out, n_in] with zero-mean noise of the rule's variance (normal, or uniform
-- on ±√(3·var)).  Returns the weight.
function M.init_(w, rule, opts)
  opts = opts or {}
  local n_out, n_in = w.shape[1], w.shape[2]
  local var = M.init_var(rule, n_in, n_out)
  local init = nn_().init
  if opts.dist == 'uniform' then
    local b = math.sqrt(3 * var)
    return init.uniform_(w, -b, b)
  end
  return init.normal_(w, 0, math.sqrt(var))
end

---------------------------------------------------------------------------- stacks

-- M.stack{depth=, width=, in_features=width, out_features=nil, act='tanh', init='xavier',
--         residual=false, bias=true, dtype='f32', dist='normal', constant=nil}
-- constant=c sets every weight and bias to c (the symmetric initialisation); init='default'
-- keeps nn.Linear's own initialisation.  Biases start at 0 otherwise.
function M.stack(o)
  o = o or {}
  local depth, width = o.depth, o.width
  if type(depth) ~= 'number' or depth < 1 or type(width) ~= 'number' or width < 1 then
    fail('stack', 'depth and width must be positive numbers')
  end
  local act = o.act or 'tanh'
  if not ACTS[act] then fail('stack', "unknown activation '%s'", tostring(act)) end
  local nn = nn_()
  local bias = o.bias ~= false
  local lopts = {bias = bias, dtype = o.dtype or 'f32'}
  local function fresh(i, out)
    local l = nn.Linear(i, out, lopts)
    if o.constant then
      nn.init.constant_(l.weight, o.constant)
      if l.bias then nn.init.constant_(l.bias, o.constant) end
    elseif (o.init or 'xavier') ~= 'default' then
      M.init_(l.weight, o.init or 'xavier', {dist = o.dist})
      if l.bias then nn.init.zeros_(l.bias) end
    end
    return l
  end
  local s = {act = act, residual = o.residual == true, linears = {}}
  local n_in = o.in_features or width
  if s.residual and n_in ~= width then
    fail('stack', 'a residual stack needs in_features = width')
  end
  for l = 1, depth do
    s.linears[l] = fresh(l == 1 and n_in or width, width)
  end
  if o.out_features then s.head = fresh(width, o.out_features) end
  return s
end

-- All parameters of a stack (weights and biases of every block, then the head).
function M.parameters(s)
  local ps = {}
  local function add(l)
    ps[#ps + 1] = l.weight
    if l.bias then ps[#ps + 1] = l.bias end
  end
  for _, l in ipairs(s.linears) do add(l) end
  if s.head then add(s.head) end
  return ps
end

-- Forward: returns the output, the pre-activations z_l and the block outputs h_l (lists).
function M.forward(s, x)
  local pre, post = {}, {}
  local h = x
  for l, lin in ipairs(s.linears) do
    local z = lin(h)
    local a = ACTS[s.act](z)
    h = s.residual and (h + a) or a
    pre[l], post[l] = z, h
  end
  local out = s.head and s.head(h) or h
  return out, pre, post
end

-- The stack as an nn module: Sequential of blocks Sequential(Linear, Act), each wrapped in
-- nn.Residual when s.residual, then the head.  Shares the parameters.
function M.to_module(s)
  local nn = nn_()
  local ACT_MODULES = {tanh = nn.Tanh, sigmoid = nn.Sigmoid, relu = nn.ReLU, linear = nn.Identity}
  local blocks = {}
  for l, lin in ipairs(s.linears) do
    local b = nn.Sequential(lin, ACT_MODULES[s.act]())
    blocks[l] = s.residual and nn.Residual(b) or b
  end
  if s.head then blocks[#blocks + 1] = s.head end
  return nn.Sequential(table.unpack(blocks))
end

---------------------------------------------------------------------------- measurements

local function mean_sq(t) return (t * t):mean():item() end

-- Per layer: q[l] = E[z_l²] (pre-activations), a[l] = E[h_l²] (block outputs), and, backward,
-- g[l] = E[(∂L/∂h_l)²] for L = Σ r ⊙ h_L with r ~ N(0, 1) (so g[depth] ≈ 1).
function M.variance_profile(s, x, opts)
  opts = opts or {}
  local _, pre, post = M.forward(s, x)
  local q, a, g = {}, {}, {}
  for l = 1, #pre do q[l], a[l] = mean_sq(pre[l]), mean_sq(post[l]) end
  if opts.backward ~= false then
    local top = post[#post]
    local r = nb.randn(top.shape, {dtype = top.dtype})
    local grads = nb.grad((top * r):sum(), post)
    for l = 1, #post do g[l] = mean_sq(grads[l]) end
  end
  return {q = q, a = a, g = g}
end

-- Geometric-mean growth per layer of a positive sequence v[first..last]: (v_last/v_first)^(1/n).
function M.per_layer_factor(v, first, last)
  first, last = first or 1, last or #v
  if last <= first then fail('per_layer_factor', 'need at least two layers') end
  return (v[last] / v[first]) ^ (1 / (last - first))
end

-- Gradient norms per layer of loss_fn(out) for input x: returns weight-gradient Frobenius
-- norms ‖∂L/∂W_l‖, the norms ‖∂L/∂h_l‖ of the block outputs, the pre-activations and the loss.
-- Leaves .grad of the parameters untouched.
function M.grad_norms(s, x, loss_fn)
  local out, pre, post = M.forward(s, x)
  local loss = loss_fn(out)
  local ws = {}
  for l, lin in ipairs(s.linears) do ws[l] = lin.weight end
  local targets = {}
  for l = 1, #ws do targets[l] = ws[l] end
  for l = 1, #post do targets[#ws + l] = post[l] end
  local gs = nb.grad(loss, targets, {allow_unused = true})
  local wn, hn = {}, {}
  for l = 1, #ws do
    wn[l] = gs[l] and gs[l]:norm():item() or 0
    local gh = gs[#ws + l]
    hn[l] = gh and gh:norm():item() or 0
  end
  return {weight = wn, hidden = hn, pre = pre, loss = loss:item()}
end

-- How different the units of hidden layer l are: the largest |difference| between unit 1
-- and any other unit in incoming weights (rows of W_l), bias, and outgoing weights (columns of
-- W_{l+1}, or of the head).  Exactly 0 when the units are copies of each other.
function M.unit_gap(s, l)
  local lin = s.linears[l]
  if not lin then fail('unit_gap', 'no layer %s', tostring(l)) end
  local nxt = s.linears[l + 1] or s.head
  return nb.no_grad(function()
    local w = lin.weight
    local gap = (w - w[1]:unsqueeze(1)):abs():max():item()
    if lin.bias then gap = math.max(gap, (lin.bias - lin.bias[1]):abs():max():item()) end
    if nxt then
      local v = nxt.weight
      gap = math.max(gap, (v - v[{{}, 1}]:unsqueeze(2)):abs():max():item())
    end
    return gap
  end)
end

-- unit_gap of every block of the stack, as a list.
function M.unit_gaps(s)
  local out = {}
  for l = 1, #s.linears do out[l] = M.unit_gap(s, l) end
  return out
end

-- Plain (momentum-free by default) SGD on loss_fn() over params for opts.steps steps; returns
-- the list of losses.  Uses optim.SGD.
function M.sgd(params, loss_fn, opts)
  opts = opts or {}
  local optim = package.loaded.optim or require 'optim'
  local opt = optim.SGD(params, {lr = opts.lr or 0.1, momentum = opts.momentum or 0})
  local losses = {}
  for step = 1, opts.steps or 100 do
    opt:zero_grad()
    local loss = loss_fn(step)
    loss:backward()
    opt:step()
    losses[step] = loss:item()
  end
  return losses
end

-- The residual rule for one block y = F(x) + x and a scalar loss L(y):
-- autograd's ∂L/∂x against the formula (J_F + I)ᵀ g with g = ∂L/∂y and J_F = ∂F/∂x from
-- nb.func.jacobian.  x is a 1-D tensor.  Returns {autograd=, formula=, jacobian=, g=}.
function M.residual_grad(F, x, loss_fn)
  if not nb.is_tensor(x) or x:dim() ~= 1 then fail('residual_grad', 'x must be a 1-D tensor') end
  local xl = x:detach():clone():requires_grad_()
  local y = F(xl) + xl
  local auto = nb.grad(loss_fn(y), {xl})[1]
  local yl = y:detach():clone():requires_grad_()
  local g = nb.grad(loss_fn(yl), {yl})[1]
  local J = nb.func.jacobian(F, x:detach())
  local formula = J:t():matmul(g) + g
  return {autograd = auto, formula = formula:detach(), jacobian = J:detach(), g = g}
end

local docs = {
  act = 'initexp.act(name, z) — φ(z) for linear, tanh, sigmoid, relu',
  act_deriv = "initexp.act_deriv(name, z) — φ'(z) in closed form (no autograd)",
  init_var = 'initexp.init_var(rule, n_in, n_out) — weight variance of xavier_seed ' ..
             '1/(n_in+n_out), xavier 2/(n_in+n_out), he 2/n_in, lecun 1/n_in, torch 1/(3n_in)',
  init_ = 'initexp.init_(w, rule, {dist="normal"|"uniform"}) — fill a weight [out,in] with ' ..
          'zero-mean noise of the rule\'s variance',
  stack = 'initexp.stack{depth=, width=, act=, init=, residual=, constant=, out_features=} — ' ..
          'a deep MLP of nn.Linear blocks (plain or residual)',
  parameters = 'initexp.parameters(s) — weights and biases of a stack',
  forward = 'initexp.forward(s, x) — output, pre-activations z_l, block outputs h_l',
  to_module = 'initexp.to_module(s) — the stack as nn.Sequential (nn.Residual blocks)',
  variance_profile = 'initexp.variance_profile(s, x) — per layer E[z²], E[h²] forward and ' ..
                     'E[(∂L/∂h)²] backward',
  per_layer_factor = 'initexp.per_layer_factor(v, first, last) — geometric-mean growth per ' ..
                     'layer (v_last/v_first)^(1/n)',
  grad_norms = 'initexp.grad_norms(s, x, loss_fn) — ‖∂L/∂W_l‖ and ‖∂L/∂h_l‖ per layer',
  unit_gap = 'initexp.unit_gap(s, l) — largest difference between the units of layer l ' ..
             '(incoming, bias, outgoing weights); 0 = symmetric',
  unit_gaps = 'initexp.unit_gaps(s) — unit_gap of every layer',
  sgd = 'initexp.sgd(params, loss_fn, {steps=, lr=, momentum=}) — plain SGD, returns losses',
  residual_grad = 'initexp.residual_grad(F, x, loss_fn) — ∂L/∂x of y = F(x) + x by ' ..
                  'autograd and by (J_F + I)ᵀ ∂L/∂y with J_F from nb.func.jacobian',
}
if nb.doc then
  for k, v in pairs(docs) do nb.doc(M[k], v) end
end

return M
