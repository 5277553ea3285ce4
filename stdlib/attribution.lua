-- attribution: which input pixels does a model's score depend on?
--   gradient/saliency, grad_x_input, interior_gradients, integrated_gradients (+ completeness and
--   its error vs the number of steps), smoothgrad       gradients of the score, any model
--   relu / relu_function, deconvnet, guided_backprop    the three ReLU backward rules, swapped into
--                                                       a model's nn.ReLU layers (custom Function)
--                                                       or applied through tensor hooks
--   activations, gradcam, cam                           class activation maps of one layer
--   lrp (ε-rule, with the relevance each layer's bias and ε absorb), randomize (sanity check)
-- A model is an nn module or a Lua function; it takes a batch x [N, ...] and returns scores
-- [N, K] (then `target` picks a class per sample: a number, a list, an i64 tensor, or nil for the
-- argmax) or one score per sample [N].  Attributions have the shape of x.  Call m:eval() first
-- when the model has dropout or batch norm: these functions never change the model's mode.
local nb = require 'nabla'
local M = {}

local function fail(fname, fmt, ...)
  error('attribution.' .. fname .. ': ' .. string.format(fmt, ...), 0)
end

local function is_module(m)
  return type(m) == 'table' and m.__is_module == true
end

local function check_model(fname, model)
  if not (is_module(model) or type(model) == 'function'
          or (type(model) == 'table' and getmetatable(model) and getmetatable(model).__call)) then
    fail(fname, 'model must be an nn module or a function of x, got %s', type(model))
  end
end

local function check_x(fname, x)
  if not nb.is_tensor(x) or x:dim() < 1 then
    fail(fname, 'x must be a batch tensor [N, ...], got %s',
         nb.is_tensor(x) and ('a ' .. x:dim() .. '-d tensor') or type(x))
  end
  if x.dtype == 'i64' then fail(fname, 'x must be a float tensor, got i64') end
end

-- Class ids [N] (i64) from target: nil (the argmax of out), a number, a list or a tensor.
local function target_ids(fname, target, out)
  local n, k = out:size(1), out:size(2)
  local ids
  if target == nil then
    ids = nb.no_grad(function() return out:detach():argmax(2) end):reshape(n)
  elseif type(target) == 'number' then
    ids = nb.full({n}, target, {dtype = 'i64'})
  elseif type(target) == 'table' and not nb.is_tensor(target) then
    if #target ~= n then fail(fname, 'target has %d entries for a batch of %d', #target, n) end
    ids = nb.tensor(target, {dtype = 'i64'})
  elseif nb.is_tensor(target) then
    ids = target:to('i64'):reshape(-1)
    if ids:numel() == 1 and n > 1 then ids = ids:expand(n):contiguous() end
    if ids:numel() ~= n then
      fail(fname, 'target has %d entries for a batch of %d', ids:numel(), n)
    end
  else
    fail(fname, 'target must be nil, a class number, a list or a tensor, got %s', type(target))
  end
  local lo, hi = ids:min():item(), ids:max():item()
  if lo < 1 or hi > k then
    fail(fname, 'target class %d is outside 1..%d (classes are 1-based)', lo < 1 and lo or hi, k)
  end
  return ids
end

-- The per-sample score [N] (differentiable) and the class ids used (nil for [N] outputs).
local function score_of(fname, out, target, n)
  if not nb.is_tensor(out) then fail(fname, 'the model returned %s, not a tensor', type(out)) end
  if out:dim() == 0 then return out:reshape(1), nil end
  if out:dim() == 1 then
    if out:size(1) ~= n then
      fail(fname, 'the model returned [%d] for a batch of %d (expected [N] or [N,K])',
           out:size(1), n)
    end
    return out, nil
  end
  if out:dim() ~= 2 or out:size(1) ~= n then
    fail(fname, 'the model returned [%s] for a batch of %d (expected [N] or [N,K])',
         table.concat(out.shape, ','), n)
  end
  local ids = target_ids(fname, target, out)
  return out:gather(2, ids:view(n, 1)):view(n), ids
end

-- Sum of t over every dim but the first: [N].
local function per_sample_sum(t)
  if t:dim() <= 1 then return t end
  return t:reshape(t:size(1), -1):sum(2)
end

-- t [m*N, ...] -> [m, N, ...]
local function unfold(t, m, n)
  local shape = {m, n}
  for d = 2, t:dim() do shape[#shape + 1] = t:size(d) end
  return t:reshape(shape)
end

-- x repeated m times along dim 1: [m*N, ...].
local function tile(x, m)
  local rep = {}
  for i = 1, m do rep[i] = x end
  return nb.cat(rep, 1)
end

local function tile_ids(ids, m)
  if ids == nil then return nil end
  return tile(ids, m)
end

-- The scores f(x) [N] (no graph) and the class ids they used.
function M.score(model, x, target)
  check_model('score', model)
  check_x('score', x)
  return nb.no_grad(function()
    local s, ids = score_of('score', model(x), target, x:size(1))
    return s:detach(), ids
  end)
end

-- ∂score/∂x for the batch x; returns grad, scores [N], class ids.
local function gradient_at(fname, model, x, target)
  local xg = x:detach():clone():requires_grad_()
  local s, ids = score_of(fname, model(xg), target, x:size(1))
  local g = nb.grad({s:sum()}, {xg})[1]
  return g, s:detach(), ids
end

---------------------------------------------------------------------------- gradients
function M.gradient(model, x, target)
  check_model('gradient', model)
  check_x('gradient', x)
  return gradient_at('gradient', model, x, target)
end

function M.saliency(model, x, target, opts)
  check_model('saliency', model)
  check_x('saliency', x)
  opts = opts or {}
  local g, s, ids = gradient_at('saliency', model, x, target)
  if opts.abs then g = g:abs() end
  if opts.channels == 'max' and g:dim() >= 3 then g = g:abs():max(2) end
  return g, s, ids
end

function M.grad_x_input(model, x, target)
  check_model('grad_x_input', model)
  check_x('grad_x_input', x)
  local g, s, ids = gradient_at('grad_x_input', model, x, target)
  return x:detach() * g, s, ids
end

local function baseline_of(fname, x, baseline)
  if baseline == nil then return nb.zeros_like(x) end
  if type(baseline) == 'number' then return nb.full_like(x, baseline) end
  if nb.is_tensor(baseline) then
    local ok, b = pcall(function() return (baseline:to(x.dtype) + nb.zeros_like(x)):detach() end)
    if not ok then
      fail(fname, 'baseline [%s] does not broadcast to x [%s]', table.concat(baseline.shape, ','),
           table.concat(x.shape, ','))
    end
    return b
  end
  fail(fname, 'baseline must be nil, a number or a tensor, got %s', type(baseline))
end

-- Gradients at the points x_b + α(x − x_b) for every α in alphas, evaluated `chunk` path points
-- at a time in one batch; each chunk goes to visit(first index, grads [m,N,...], scores [m,N]),
-- so that a long path never has to be held in memory.  Returns the class ids used.
local function path_gradients(fname, model, x, xb, alphas, target, chunk, visit)
  local n = x:size(1)
  local diff = x - xb
  -- the class is fixed once, at x, so that every path point asks about the same class
  local _, ids = score_of(fname, nb.no_grad(function() return model(x) end), target, n)
  local i = 1
  while i <= #alphas do
    local m = math.min(chunk, #alphas - i + 1)
    local pts = {}
    for j = 1, m do pts[j] = xb + diff * alphas[i + j - 1] end
    local xs = nb.cat(pts, 1):detach():requires_grad_()
    local s = score_of(fname, model(xs), ids and tile_ids(ids, m), m * n)
    local g = nb.grad({s:sum()}, {xs})[1]
    visit(i, unfold(g, m, n), s:detach():reshape(m, n))
    i = i + m
  end
  return ids
end

function M.interior_gradients(model, x, target, opts)
  check_model('interior_gradients', model)
  check_x('interior_gradients', x)
  opts = opts or {}
  local alphas = opts.alphas or {0.25, 0.5, 0.75, 1}
  for _, a in ipairs(alphas) do
    if type(a) ~= 'number' then fail('interior_gradients', 'alphas must be numbers') end
  end
  local xb = baseline_of('interior_gradients', x, opts.baseline)
  local grads, scores = {}, {}
  path_gradients('interior_gradients', model, x:detach(), xb, alphas, target, opts.chunk or 32,
                 function(i, gs, ss)
                   for j = 1, gs:size(1) do
                     grads[i + j - 1], scores[i + j - 1] = gs[j], ss[j]
                   end
                 end)
  return grads, scores
end

-- Nodes and weights of a quadrature rule for ∫₀¹ g(α) dα with m gradient evaluations.
local function quadrature(fname, method, m)
  local a, w = {}, {}
  if method == 'riemann_right' then
    for k = 1, m do a[k], w[k] = k / m, 1 / m end
  elseif method == 'riemann_left' then
    for k = 1, m do a[k], w[k] = (k - 1) / m, 1 / m end
  elseif method == 'midpoint' then
    for k = 1, m do a[k], w[k] = (k - 0.5) / m, 1 / m end
  elseif method == 'trapezoid' then
    if m < 2 then fail(fname, 'the trapezoid rule needs steps >= 2') end
    for k = 1, m do
      a[k] = (k - 1) / (m - 1)
      w[k] = (k == 1 or k == m) and 0.5 / (m - 1) or 1 / (m - 1)
    end
  else
    fail(fname, "method must be 'riemann_right', 'riemann_left', 'midpoint' or 'trapezoid', " ..
         'got %s', tostring(method))
  end
  return a, w
end

function M.integrated_gradients(model, x, target, opts)
  local F = 'integrated_gradients'
  check_model(F, model)
  check_x(F, x)
  opts = opts or {}
  local steps = opts.steps or 50
  if type(steps) ~= 'number' or steps < 1 or steps ~= math.floor(steps) then
    fail(F, 'steps must be a positive integer, got %s', tostring(steps))
  end
  x = x:detach()
  local xb = baseline_of(F, x, opts.baseline)
  local alphas, weights = quadrature(F, opts.method or 'riemann_right', steps)
  local avg
  local ids = path_gradients(F, model, x, xb, alphas, target, opts.chunk or 32,
                             function(i, gs)
                               local m = gs:size(1)
                               local wshape = {m}
                               for _ = 2, gs:dim() do wshape[#wshape + 1] = 1 end
                               local w = nb.tensor({table.unpack(weights, i, i + m - 1)},
                                                   {dtype = gs.dtype}):reshape(wshape)
                               local part = (gs * w):sum(1)
                               avg = avg and avg + part or part
                             end)
  local ig = (x - xb) * avg
  local fx = M.score(model, x, ids or target)
  local fb = M.score(model, xb, ids or target)
  local delta = per_sample_sum(ig) - (fx - fb)
  local gap = (fx - fb):abs()
  -- relative to |f(x) − f(x′)| per sample (absolute where the gap is 0), worst sample
  local rel = delta:abs() / nb.where(gap:gt(0), gap, 1)
  return ig, {fx = fx, fb = fb, delta = delta, error = delta:abs():max():item(),
              rel_error = rel:max():item(), target = ids, avg_gradient = avg}
end

function M.ig_convergence(model, x, target, opts)
  opts = opts or {}
  local rows = {}
  for i, m in ipairs(opts.steps or {1, 2, 4, 8, 16, 32, 64, 128}) do
    local _, info = M.integrated_gradients(model, x, target,
                                           {steps = m, baseline = opts.baseline,
                                            method = opts.method, chunk = opts.chunk})
    rows[i] = {steps = m, error = info.error, rel_error = info.rel_error}
  end
  return setmetatable(rows, {__tostring = function(t)
    local lines = {string.format('%8s  %14s  %14s', 'steps', '|ΣIG − Δf|', 'relative')}
    for _, r in ipairs(t) do
      lines[#lines + 1] = string.format('%8d  %14.4e  %14.4e', r.steps, r.error, r.rel_error)
    end
    return table.concat(lines, '\n')
  end})
end

function M.smoothgrad(model, x, target, opts)
  local F = 'smoothgrad'
  check_model(F, model)
  check_x(F, x)
  opts = opts or {}
  local n_samples, sigma = opts.n or 50, opts.sigma or 0.15
  if type(sigma) ~= 'number' or sigma < 0 then fail(F, 'sigma must be a number >= 0') end
  x = x:detach()
  local n = x:size(1)
  local _, ids = score_of(F, nb.no_grad(function() return model(x) end), target, n)
  local chunk = opts.chunk or 32
  local total, total_sq
  local done = 0
  while done < n_samples do
    local m = math.min(chunk, n_samples - done)
    local xs = tile(x, m)
    xs = (xs + nb.randn(xs.shape, {dtype = x.dtype}) * sigma):requires_grad_()
    local s = score_of(F, model(xs), ids and tile_ids(ids, m), m * n)
    local g = unfold(nb.grad({s:sum()}, {xs})[1], m, n)
    local gs = g:sum(1)
    local gq = (g * g):sum(1)
    total = total and total + gs or gs
    total_sq = total_sq and total_sq + gq or gq
    done = done + m
  end
  local mean = total / n_samples
  local var = (total_sq / n_samples - mean * mean):clamp(0, math.huge)
  local result = opts.squared and total_sq / n_samples or mean
  return result, {std_error = (var / n_samples):sqrt(), target = ids}
end

---------------------------------------------------------------------------- ReLU backward rules
-- The three backward rules of a ReLU, given its input x and the upstream gradient g:
--   vanilla (autograd):  g · [x > 0]
--   deconvnet:           max(g, 0)            (the forward mask is ignored)
--   guided:              max(g, 0) · [x > 0]  (both)
local RULES = {
  vanilla = function(x, g) return g * x:gt(0) end,
  deconvnet = function(x, g) return g:relu() end,
  guided = function(x, g) return g:relu() * x:gt(0) end,
}

local functions = {}
function M.relu_function(mode)
  mode = mode or 'vanilla'
  local rule = RULES[mode]
  if not rule then
    fail('relu_function', "mode must be 'vanilla', 'deconvnet' or 'guided', got %s",
         tostring(mode))
  end
  if not functions[mode] then
    functions[mode] = nb.Function{
      forward = function(ctx, x)
        ctx:save_for_backward(x)
        return x:relu()
      end,
      backward = function(ctx, g)
        return rule(ctx.saved_tensors[1], g)
      end,
    }
  end
  return functions[mode]
end

function M.relu(x, mode)
  return M.relu_function(mode)(x)
end

-- The hook versions: plain relu forward, gradient changed by a tensor hook on the output.
-- guided: the hook clamps the upstream gradient and relu's own backward applies the mask;
-- deconvnet: y = x + (relu(x) − x):detach() has relu's value but an identity gradient, so the
-- mask is skipped and only the hook's clamp remains.
local HOOKED = {
  vanilla = function(x) return x:relu() end,
  guided = function(x)
    local y = x:relu()
    if y.requires_grad then y:register_hook(function(g) return g:relu() end) end
    return y
  end,
  deconvnet = function(x)
    local y = x + (x:relu() - x):detach()
    if y.requires_grad then y:register_hook(function(g) return g:relu() end) end
    return y
  end,
}

-- Runs fn() with every nn.ReLU of model using the backward rule `mode`; restores the model
-- even when fn raises.  via = 'function' (custom nb.Function) or 'hooks' (tensor hooks).
function M.with_relu_rule(model, mode, fn, via)
  local F = 'with_relu_rule'
  if not is_module(model) then
    fail(F, 'the ReLU rules are swapped into the nn.ReLU layers of an nn module; got %s',
         type(model))
  end
  via = via or 'function'
  local fwd
  if via == 'function' then
    local f = M.relu_function(mode)
    fwd = function(_, x) return f(x) end
  elseif via == 'hooks' then
    fwd = HOOKED[mode]
    if not fwd then fail(F, "mode must be 'vanilla', 'deconvnet' or 'guided'") end
    local h = fwd
    fwd = function(_, x) return h(x) end
  else
    fail(F, "via must be 'function' or 'hooks', got %s", tostring(via))
  end
  local swapped = {}
  for _, m in ipairs(model:modules()) do
    if m.__name == 'ReLU' then
      swapped[#swapped + 1] = m
      rawset(m, 'forward', fwd)
    end
  end
  if #swapped == 0 then
    fail(F, 'the model has no nn.ReLU layers (a ReLU applied inside a forward function ' ..
         'cannot be swapped)')
  end
  local res = table.pack(pcall(fn))
  for _, m in ipairs(swapped) do rawset(m, 'forward', nil) end
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

function M.deconvnet(model, x, target, opts)
  check_x('deconvnet', x)
  return M.with_relu_rule(model, 'deconvnet', function()
    return gradient_at('deconvnet', model, x, target)
  end, opts and opts.via)
end

function M.guided_backprop(model, x, target, opts)
  check_x('guided_backprop', x)
  return M.with_relu_rule(model, 'guided', function()
    return gradient_at('guided_backprop', model, x, target)
  end, opts and opts.via)
end

---------------------------------------------------------------------------- layers
-- A module of model from a module, a name in named_modules ('3', 'features.conv2') or a
-- position in a Sequential.
local function find_layer(fname, model, layer)
  if is_module(layer) then return layer end
  if not is_module(model) then fail(fname, 'model must be an nn module to name a layer') end
  if type(layer) == 'number' then
    local m = rawget(model, layer)
    if is_module(m) then return m end
    fail(fname, 'model has no child number %d', layer)
  end
  if type(layer) == 'string' then
    for _, e in ipairs(model:named_modules()) do
      if e[1] == layer then return e[2] end
    end
    fail(fname, "model has no module named '%s'", layer)
  end
  fail(fname, 'layer must be a module, a name or a position, got %s', type(layer))
end

-- Runs model(x) and captures layer's output; the output is replaced by a leaf that requires
-- grad, so ∂score/∂A exists even when the parameters are frozen.  Returns A, out.
local function capture(fname, model, layer, x)
  local mod = find_layer(fname, model, layer)
  local A
  local h = mod:register_forward_hook(function(_, _, out)
    A = out:detach():requires_grad_()
    return A
  end)
  local ok, out = pcall(model, x)
  h.remove()
  if not ok then error(out, 0) end
  if A == nil then fail(fname, 'the layer was not called during the forward pass') end
  return A, out
end

function M.activations(model, layer, x)
  check_x('activations', x)
  local A = nb.no_grad(function() return (capture('activations', model, layer, x)) end)
  return A:detach()
end

-- Bilinear resize of maps [N,h,w] to size {H, W}.
local function resize(maps, size)
  return nb.interpolate(maps:unsqueeze(2), {size = size, mode = 'bilinear'}):squeeze(2)
end

local function input_size(x)
  if x:dim() >= 3 then return {x:size(x:dim() - 1), x:size(x:dim())} end
  return nil
end

function M.gradcam(model, layer, x, target, opts)
  local F = 'gradcam'
  check_model(F, model)
  check_x(F, x)
  opts = opts or {}
  local A, out = capture(F, model, layer, x:detach())
  if A:dim() ~= 4 then
    fail(F, 'the layer output is [%s]; Grad-CAM needs feature maps [N,K,H,W]',
         table.concat(A.shape, ','))
  end
  local s, ids = score_of(F, out, target, x:size(1))
  local dA = nb.grad({s:sum()}, {A})[1]
  local n, k = A:size(1), A:size(2)
  local alpha = dA:reshape(n, k, -1):mean(3)                  -- (1/Z) Σ_ij ∂y^c/∂A^k_ij
  local lowres = (alpha:view(n, k, 1, 1) * A:detach()):sum(2) -- Σ_k α_k A^k : [N,h,w]
  if opts.relu ~= false then lowres = lowres:relu() end
  local map = lowres
  local size = opts.size or (opts.upsample ~= false and input_size(x) or nil)
  if size then map = resize(lowres, size) end
  return map, {alpha = alpha, activations = A:detach(), gradients = dA, lowres = lowres,
               target = ids, score = s:detach()}
end

function M.cam(model, layer, weight, x, target, opts)
  local F = 'cam'
  check_model(F, model)
  check_x(F, x)
  opts = opts or {}
  if is_module(weight) then weight = weight.weight end
  if not nb.is_tensor(weight) or weight:dim() ~= 2 then
    fail(F, 'weight must be the [classes, K] weight of the linear layer after global pooling')
  end
  local A, out = nb.no_grad(function() return capture(F, model, layer, x:detach()) end)
  local _, ids = score_of(F, out, target, x:size(1))
  local n, k = A:size(1), A:size(2)
  if weight:size(2) ~= k then
    fail(F, 'weight has %d columns but the layer has %d channels', weight:size(2), k)
  end
  local w = weight:detach():index_select(1, ids)              -- [N, K]
  local lowres = (w:view(n, k, 1, 1) * A:detach()):sum(2)
  local map = lowres
  local size = opts.size or (opts.upsample ~= false and input_size(x) or nil)
  if size then map = resize(lowres, size) end
  return map, {lowres = lowres, target = ids}
end

---------------------------------------------------------------------------- LRP
-- How lrp treats each layer class: 'pass' hands the relevance on unchanged (elementwise
-- activations, reshapes, dropout in eval mode); 'affine' applies the ε-rule to a layer that is
-- affine in its input near x (linear and conv layers, pooling, batch norm in eval mode).
M.lrp_rules = {
  ReLU = 'pass', LeakyReLU = 'pass', Identity = 'pass', Flatten = 'pass', Unflatten = 'pass',
  Dropout = 'pass', Dropout2d = 'pass', GaussianDropout = 'pass',
  Linear = 'affine', Conv1d = 'affine', Conv2d = 'affine', ConvTranspose2d = 'affine',
  AvgPool2d = 'affine', MaxPool2d = 'affine', AdaptiveAvgPool2d = 'affine',
  BatchNorm1d = 'affine', BatchNorm2d = 'affine',
}

local function leaf_layers(fname, model, out, prefix)
  if not is_module(model) then
    fail(fname, 'LRP walks the layers of an nn.Sequential; got %s', type(model))
  end
  if model.__name == 'Sequential' then
    for i, m in ipairs(model:children()) do
      leaf_layers(fname, m, out, prefix == '' and tostring(i) or prefix .. '.' .. i)
    end
  else
    out[#out + 1] = {name = prefix, module = model}
  end
  return out
end

-- ε-rule for an affine layer: z = layer(a), s = R / (z + ε·sign z), R_in = a ⊙ ∂(z·s)/∂a
-- (= a ⊙ Wᵀs).  Returns R_in and the relevance the bias and ε absorbed (per batch).
local function lrp_affine(layer, a, R, eps)
  local ad = a:detach():requires_grad_()
  local z = layer(ad)
  local zd = z:detach()
  local denom = zd + eps * (zd:ge(0) * 2 - 1)
  local s = nb.where(denom:eq(0), 0, R / denom)
  local c = nb.grad({(z * s):sum()}, {ad})[1]
  local r_in = ad:detach() * c
  local b = nb.no_grad(function() return layer(nb.zeros_like(a)) end)
  local bias = (b * s):sum():item()
  local eps_part = (R:sum() - (zd * s):sum()):item()
  return r_in, bias, eps_part
end

function M.lrp(model, x, target, opts)
  local F = 'lrp'
  check_x(F, x)
  opts = opts or {}
  local eps = opts.eps or 1e-6
  local rules = setmetatable(opts.rules or {}, {__index = M.lrp_rules})
  local layers = leaf_layers(F, model, {}, '')
  local acts = {x:detach()}
  nb.no_grad(function()
    for i, l in ipairs(layers) do acts[i + 1] = l.module(acts[i]) end
  end)
  local out = acts[#acts]
  local n = x:size(1)
  local s, ids = score_of(F, out, target, n)
  local R
  if out:dim() == 2 then
    R = out * nb.one_hot(ids, out:size(2)):to(out.dtype)
  else
    R = out:clone()
  end
  local report = {}
  for i = #layers, 1, -1 do
    local l = layers[i]
    local rule = rules[l.module.__name]
    local a = acts[i]
    local row = {name = l.name, layer = l.module.__name, r_out = R:sum():item()}
    if rule == 'pass' then
      R = R:reshape(a.shape)
      row.bias, row.eps = 0, 0
    elseif rule == 'affine' then
      R, row.bias, row.eps = lrp_affine(l.module, a, R, eps)
    elseif type(rule) == 'function' then
      R, row.bias, row.eps = rule(l.module, a, R, eps)
      row.bias, row.eps = row.bias or 0, row.eps or 0
    else
      fail(F, "no LRP rule for layer %s (%s): add one with opts.rules = {%s = 'pass' | " ..
           "'affine' | function(layer, a, R, eps) return R_in, bias, eps end}", l.name,
           l.module.__name, l.module.__name)
    end
    row.r_in = R:sum():item()
    table.insert(report, 1, row)
  end
  local absorbed = 0
  for _, r in ipairs(report) do absorbed = absorbed + r.bias + r.eps end
  local info = {layers = report, score = s:detach(), target = ids, relevance = per_sample_sum(R),
                absorbed = absorbed, total = R:sum():item(), fx = s:detach():sum():item()}
  setmetatable(report, {__tostring = function(t)
    local lines = {string.format('%-6s %-18s %12s %12s %12s %12s', 'layer', 'type', 'ΣR out',
                                 'ΣR in', 'bias took', 'ε took')}
    for _, r in ipairs(t) do
      lines[#lines + 1] = string.format('%-6s %-18s %12.5g %12.5g %12.5g %12.5g', r.name,
                                        r.layer, r.r_out, r.r_in, r.bias, r.eps)
    end
    return table.concat(lines, '\n')
  end})
  return R, info
end

---------------------------------------------------------------------------- sanity check
-- Re-initialises the parameters of the last `layers` modules that have parameters (counting
-- from the output; from='bottom' counts from the input) and returns a function that restores
-- them.  reset_parameters() is used when the layer has it, else N(0, std of the old values).
function M.randomize(model, opts)
  local F = 'randomize'
  if not is_module(model) then fail(F, 'model must be an nn module, got %s', type(model)) end
  opts = opts or {}
  local count = opts.layers or 1
  local with_params = {}
  for _, e in ipairs(model:named_modules()) do
    local m = e[2]
    if #rawget(m, '_parameters') > 0 then with_params[#with_params + 1] = {e[1], m} end
  end
  if #with_params == 0 then fail(F, 'the model has no parameters') end
  local chosen = {}
  for i = 1, math.min(count, #with_params) do
    local j = opts.from == 'bottom' and i or #with_params - i + 1
    chosen[#chosen + 1] = with_params[j]
  end
  local saved = {}
  nb.no_grad(function()
    for _, e in ipairs(chosen) do
      local m = e[2]
      for _, p in ipairs(m:parameters({recurse = false})) do
        saved[#saved + 1] = {p, p:detach():clone()}
      end
      if m.reset_parameters then
        m:reset_parameters()
      else
        for _, p in ipairs(m:parameters({recurse = false})) do
          local std = p:numel() > 1 and p:detach():std():item() or 1
          p:copy_(nb.randn(p.shape, {dtype = p.dtype}) * std)
        end
      end
    end
  end)
  local names = {}
  for i, e in ipairs(chosen) do names[i] = e[1] end
  return function()
    nb.no_grad(function()
      for _, e in ipairs(saved) do e[1]:copy_(e[2]) end
    end)
  end, names
end

-- Spearman rank correlation of two maps (any shapes with the same number of elements).
function M.rank_correlation(a, b)
  return require('metrics').spearman(a:detach():reshape(-1), b:detach():reshape(-1))
end

---------------------------------------------------------------------------- docs
local docs = {
  score = 'attribution.score(model, x, target) — the scores f(x) [N] for the target classes ' ..
          '(nil = argmax) and the class ids used',
  gradient = 'attribution.gradient(model, x, target) — ∂f/∂x, scores, class ids',
  saliency = 'attribution.saliency(model, x, target, {abs=false, channels=nil|"max"}) — the ' ..
             'saliency map ∂f/∂x (|·| and max over channels on request)',
  grad_x_input = 'attribution.grad_x_input(model, x, target) — x ⊙ ∂f/∂x',
  interior_gradients = 'attribution.interior_gradients(model, x, target, {alphas=, ' ..
                       'baseline=0}) — ∂f/∂x at x_b + α(x − x_b) per α; returns grads, scores',
  integrated_gradients = 'attribution.integrated_gradients(model, x, target, {steps=50, ' ..
                         'baseline=0, method="riemann_right"|"riemann_left"|"midpoint"|' ..
                         '"trapezoid"}) — IG and {delta = ΣIG − (f(x) − f(x′)), error, ' ..
                         'rel_error, fx, fb}',
  ig_convergence = 'attribution.ig_convergence(model, x, target, {steps={1,2,4,...}, ' ..
                   'baseline=, method=}) — completeness error of IG per number of steps',
  smoothgrad = 'attribution.smoothgrad(model, x, target, {n=50, sigma=0.15, squared=false}) ' ..
               '— mean gradient over x + N(0, σ²); returns map, {std_error=}',
  relu_function = 'attribution.relu_function(mode) — a ReLU nb.Function whose backward is ' ..
                  '"vanilla", "deconvnet" (max(g,0)) or "guided" (max(g,0)·[x>0])',
  relu = 'attribution.relu(x, mode) — relu(x) with the backward rule of mode',
  with_relu_rule = 'attribution.with_relu_rule(model, mode, fn, via="function"|"hooks") — ' ..
                   'run fn() with every nn.ReLU of model using that backward rule',
  deconvnet = 'attribution.deconvnet(model, x, target, {via="function"|"hooks"}) — the ' ..
              'deconvnet map (ReLU backward max(g, 0))',
  guided_backprop = 'attribution.guided_backprop(model, x, target, {via=}) — guided ' ..
                    'backpropagation (ReLU backward max(g, 0)·[x > 0])',
  activations = 'attribution.activations(model, layer, x) — the output of one layer ' ..
                '(a module, a name or a position)',
  gradcam = 'attribution.gradcam(model, layer, x, target, {relu=true, upsample=true, size=}) ' ..
            '— ReLU(Σ_k α_k A^k) with α_k = mean ∂y/∂A^k; returns map, {alpha, lowres, ...}',
  cam = 'attribution.cam(model, layer, linear, x, target, {upsample=true}) — CAM Σ_k w_k^c ' ..
        'A^k for a global-average-pooling head',
  lrp = 'attribution.lrp(model, x, target, {eps=1e-6, rules=}) — LRP ε-rule through an ' ..
        'nn.Sequential; returns R and {layers (ΣR per layer, bias and ε shares), total, ...}',
  randomize = 'attribution.randomize(model, {layers=1, from="top"}) — re-initialise the last ' ..
              'layers with parameters; returns restore(), names',
  rank_correlation = 'attribution.rank_correlation(a, b) — Spearman correlation of two maps',
}
for k, v in pairs(docs) do nb.doc(M[k], v) end
nb.doc(M.lrp_rules, "attribution.lrp_rules — how lrp treats each layer class: 'pass' " ..
       "(activations, reshapes) or 'affine' (linear, conv, pooling, batch norm in eval mode)")

return M
