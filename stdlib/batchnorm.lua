-- batchnorm: Batch Normalisation written out by hand, for checking gradients and experiments.
--   forward / backward: training-mode BN (batch mean and biased variance) over x [m, C] or
--   [N, C, ...] (statistics per channel), and the complete input gradient
--     ∂l/∂x = γ/(m·sqrt(σ²+ε)) · (m·g − Σg − x̂·Σ g x̂),   g = ∂l/∂y,
--   next to the course's incomplete ∂l/∂x = g·γ/sqrt(σ²+ε) (backward_seed), which forgets that
--   μ_B and σ_B² depend on x; make_function turns any backward into an nb.Function.
--   Experiment helpers: one-class mini-batches, a small trainer, accuracy with batch or running
--   statistics (running statistics left untouched), scaling the weights of a model.
local nb = require 'nabla'
local M = {}

local function fail(fname, fmt, ...)
  error(string.format('batchnorm.%s: ' .. fmt, fname, ...), 3)
end

-- [C] -> [1, C, 1, ...] for x with nd dims.
local function cview(t, nd)
  local s = {1, t:numel()}
  for i = 3, nd do s[i] = 1 end
  return t:reshape(s)
end

-- Mean over every dim but 2 (the channel), keeping dims.
local function cmean(x)
  for d = x:dim(), 1, -1 do
    if d ~= 2 then x = x:mean(d, true) end
  end
  return x
end

local function csum(x)
  for d = x:dim(), 1, -1 do
    if d ~= 2 then x = x:sum(d, true) end
  end
  return x
end

local function check_x(fname, x, gamma)
  if not nb.is_tensor(x) or x:dim() < 2 then fail(fname, 'x must be [m, C] or [N, C, ...]') end
  if gamma ~= nil and (not nb.is_tensor(gamma) or gamma:numel() ~= x:size(2)) then
    fail(fname, 'gamma must have %d entries (one per channel)', x:size(2))
  end
  if x:numel() / x:size(2) < 2 then fail(fname, 'need more than one value per channel') end
end

---------------------------------------------------------------------------- forward / backward
-- Batch statistics per channel (keepdim): mean μ_B and biased variance σ_B².
function M.stats(x)
  local mu = cmean(x)
  local xc = x - mu
  return mu, cmean(xc * xc)
end

-- Training-mode BN: y = γ x̂ + β with x̂ = (x − μ_B)/sqrt(σ_B² + ε).  Returns y and the cache
-- {xhat=, invstd=, m=} the backward needs.
function M.forward(x, gamma, beta, eps)
  check_x('forward', x, gamma)
  eps = eps or 1e-5
  local mu, var = M.stats(x)
  local invstd = (var + eps):rsqrt()
  local xhat = (x - mu) * invstd
  local y = xhat
  if gamma then y = y * cview(gamma, x:dim()) end
  if beta then y = y + cview(beta, x:dim()) end
  return y, {xhat = xhat, invstd = invstd, m = x:numel() // x:size(2)}
end

-- Parameter gradients (the same in both versions): ∂l/∂γ = Σ g x̂, ∂l/∂β = Σ g, per channel.
local function param_grads(gy, xhat)
  return csum(gy * xhat):reshape(-1), csum(gy):reshape(-1)
end

-- The complete backward: returns ∂l/∂x, ∂l/∂γ, ∂l/∂β for upstream gy = ∂l/∂y.
function M.backward(gy, cache, gamma)
  local xhat, invstd = cache.xhat, cache.invstd
  local scale = invstd
  if gamma then scale = scale * cview(gamma, gy:dim()) end
  -- γ/(mσ)(m g − Σg − x̂ Σ g x̂) = γ/σ (g − mean g − x̂ mean(g x̂))
  local gx = (gy - cmean(gy) - xhat * cmean(gy * xhat)) * scale
  return gx, param_grads(gy, xhat)
end

-- The course's backward: ∂l/∂x = g γ / sqrt(σ² + ε), as if μ_B and σ_B² were constants.
function M.backward_seed(gy, cache, gamma)
  local scale = cache.invstd
  if gamma then scale = scale * cview(gamma, gy:dim()) end
  return gy * scale, param_grads(gy, cache.xhat)
end

-- The two paths the course's formula leaves out, each as a tensor like x: through the mean,
-- −γ/σ · mean(g), and through the variance, −γ/σ · x̂ · mean(g x̂).  seed + both = complete.
function M.missing_terms(gy, cache, gamma)
  local scale = cache.invstd
  if gamma then scale = scale * cview(gamma, gy:dim()) end
  local through_mean = -(cmean(gy) * scale):expand(gy.shape)
  local through_var = -(cache.xhat * cmean(gy * cache.xhat)) * scale
  return through_mean, through_var
end

-- An nb.Function computing training-mode BN of (x, gamma, beta) with the given backward
-- (default: the complete one).  backward(gy, cache, gamma) returns gx, ggamma, gbeta.
function M.make_function(backward, eps)
  backward = backward or M.backward
  eps = eps or 1e-5
  return nb.Function{
    forward = function(ctx, x, gamma, beta)
      local y, cache = M.forward(x, gamma, beta, eps)
      if gamma then
        ctx:save_for_backward(cache.xhat, cache.invstd, gamma)
      else
        ctx:save_for_backward(cache.xhat, cache.invstd)
      end
      ctx.m, ctx.affine = cache.m, {gamma ~= nil, beta ~= nil}
      return y
    end,
    backward = function(ctx, gy)
      local s = ctx.saved_tensors
      local gx, gg, gb = backward(gy, {xhat = s[1], invstd = s[2], m = ctx.m}, s[3])
      return gx, ctx.affine[1] and gg or nil, ctx.affine[2] and gb or nil
    end,
  }
end

M.Function = M.make_function(M.backward)
M.SeedFunction = M.make_function(M.backward_seed)

---------------------------------------------------------------------------- experiments
-- The BatchNorm modules of a model (anything with running_mean and num_features).
function M.bn_layers(model)
  local out = {}
  for _, m in ipairs(model:modules()) do
    if rawget(m, 'running_mean') ~= nil and m.num_features then out[#out + 1] = m end
  end
  return out
end

-- Mini-batches of indices into labels (i64, any class ids).  {single_class=true}: every batch
-- holds one class (the classes' samples cut into batches, batches shuffled); otherwise a random
-- permutation cut into batches.  {drop_last=true} drops short batches (default: keep those of
-- at least 2 samples, so BN has a variance).
function M.class_batches(labels, batch_size, opts)
  opts = opts or {}
  local n = labels:numel()
  local perm = nb.randperm(n)
  local lab = labels:index_select(1, perm):totable()
  local p = perm:totable()
  local groups = {}
  if opts.single_class then
    local by, order = {}, {}
    for i = 1, n do
      local c = lab[i]
      if not by[c] then by[c] = {}; order[#order + 1] = c end
      table.insert(by[c], p[i])
    end
    table.sort(order)
    for _, c in ipairs(order) do groups[#groups + 1] = by[c] end
  else
    groups[1] = p
  end
  local batches = {}
  local min = opts.drop_last and batch_size or 2
  for _, g in ipairs(groups) do
    for s = 1, #g, batch_size do
      local e = math.min(s + batch_size - 1, #g)
      if e - s + 1 >= min then
        local b = {}
        for i = s, e do b[#b + 1] = g[i] end
        batches[#batches + 1] = nb.tensor(b, {dtype = 'i64'})
      end
    end
  end
  -- shuffle the batch order (Fisher–Yates on nb's generator)
  local order = nb.randperm(#batches):totable()
  local out = {}
  for i, j in ipairs(order) do out[i] = batches[j] end
  return out
end

-- Trains a classifier with cross-entropy and SGD over the given batches (a list of index
-- tensors, or a function(epoch) returning one).  opts: epochs=1, lr=0.1, momentum=0.9,
-- weight_decay=0.  Returns the per-batch losses.
function M.fit(model, X, y, batches, opts)
  local optim = require 'optim'
  local nn = require 'nn'
  opts = opts or {}
  local opt = optim.SGD(model:parameters(), {lr = opts.lr or 0.1, momentum = opts.momentum or 0.9,
                                             weight_decay = opts.weight_decay or 0})
  model:train()
  local losses = {}
  for epoch = 1, opts.epochs or 1 do
    local list = type(batches) == 'function' and batches(epoch) or batches
    for _, idx in ipairs(list) do
      local loss = nn.F.cross_entropy(model(X:index_select(1, idx)), y:index_select(1, idx))
      opt:zero_grad()
      loss:backward()
      opt:step()
      losses[#losses + 1] = loss:item()
    end
  end
  return losses
end

-- Predicted classes of X.  {mode='eval'} (default): running statistics, all at once.
-- {mode='train', batches=list}: each batch normalised with its own statistics, as during
-- training; the running statistics and the model's mode are restored afterwards.
function M.predict(model, X, opts)
  opts = opts or {}
  local was = model.training
  local pred
  nb.no_grad(function()
    if (opts.mode or 'eval') == 'eval' then
      model:eval()
      pred = model(X):argmax(2)
    else
      local saved = {}
      for i, bn in ipairs(M.bn_layers(model)) do
        saved[i] = {bn.running_mean:clone(), bn.running_var:clone(),
                    bn.num_batches_tracked and bn.num_batches_tracked:clone()}
      end
      model:train()
      -- batches are disjoint, so adding each batch's classes into zeros places them
      pred = nb.zeros({X:size(1)}, 'i64')
      for _, idx in ipairs(opts.batches or {nb.arange(1, X:size(1)):to('i64')}) do
        pred:index_add_(1, idx, model(X:index_select(1, idx)):argmax(2):reshape(-1))
      end
      for i, bn in ipairs(M.bn_layers(model)) do
        bn.running_mean:copy_(saved[i][1])
        bn.running_var:copy_(saved[i][2])
        if saved[i][3] then bn.num_batches_tracked:copy_(saved[i][3]) end
      end
    end
  end)
  model:train(was)
  return pred
end

-- Accuracy (fraction correct) of predict(model, X, opts) against labels y.
function M.accuracy(model, X, y, opts)
  local pred = M.predict(model, X, opts)
  return pred:eq(y:reshape(-1)):to('f64'):mean():item()
end

-- Multiplies, in place, the weight (and with {bias=true} the bias) of every Linear and Conv
-- layer of model by alpha; BatchNorm's γ and β are left alone.
function M.scale_weights(model, alpha, opts)
  nb.no_grad(function()
    for _, m in ipairs(model:modules()) do
      local name = m.__name or ''
      if name:find('^Linear') or name:find('^Conv') then
        if m.weight then m.weight:mul_(alpha) end
        if opts and opts.bias and m.bias then m.bias:mul_(alpha) end
      end
    end
  end)
  return model
end

---------------------------------------------------------------------------- docs
local docs = {
  stats = 'batchnorm.stats(x) — per-channel batch mean and biased variance (keepdim)',
  forward = 'batchnorm.forward(x, gamma, beta, eps=1e-5) — training-mode BN; returns y and ' ..
            'the cache {xhat=, invstd=, m=}',
  backward = 'batchnorm.backward(gy, cache, gamma) — complete ∂l/∂x = γ/(mσ)(m g − Σg − ' ..
             'x̂Σ g x̂), and ∂l/∂γ, ∂l/∂β',
  backward_seed = 'batchnorm.backward_seed(gy, cache, gamma) — the course\'s incomplete ' ..
                  '∂l/∂x = gγ/σ (μ, σ² treated as constants), and ∂l/∂γ, ∂l/∂β',
  missing_terms = 'batchnorm.missing_terms(gy, cache, gamma) — the mean-path and ' ..
                  'variance-path terms the course\'s formula omits',
  make_function = 'batchnorm.make_function(backward, eps) — an nb.Function: BN forward with ' ..
                  'the given backward(gy, cache, gamma)',
  bn_layers = 'batchnorm.bn_layers(model) — the BatchNorm modules of a model',
  class_batches = 'batchnorm.class_batches(labels, batch_size, {single_class=, drop_last=}) — ' ..
                  'shuffled index batches; one class per batch if single_class',
  fit = 'batchnorm.fit(model, X, y, batches, {epochs=, lr=, momentum=, weight_decay=}) — ' ..
        'cross-entropy + SGD over index batches; per-batch losses',
  predict = 'batchnorm.predict(model, X, {mode=\'eval\'|\'train\', batches=}) — classes with ' ..
            'running or per-batch statistics (running stats restored)',
  accuracy = 'batchnorm.accuracy(model, X, y, opts) — fraction correct of batchnorm.predict',
  scale_weights = 'batchnorm.scale_weights(model, α, {bias=}) — multiply every Linear/Conv ' ..
                  'weight (and bias) by α in place',
}
for k, v in pairs(docs) do nb.doc(M[k], v) end
nb.doc(M.Function, 'batchnorm.Function(x, gamma, beta) — BN with the complete hand-written ' ..
       'backward')
nb.doc(M.SeedFunction, 'batchnorm.SeedFunction(x, gamma, beta) — BN with the course\'s ' ..
       'incomplete backward (fails check.grad)')

return M
