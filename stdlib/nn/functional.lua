-- nn.F: the functional forms of the layers and losses.  Tensors come first, an options table
-- last (nn.F.conv2d(x, w, b_or_nil, {stride=, padding=}), nn.F.cross_entropy(logits, target,
-- {weight=, reduction=})).  Everything is built from differentiable nabla ops, so gradients
-- of any order flow through; the heavy kernels (conv, pooling, matmul) are nb's C ops.
-- Class labels are 1-based i64 (1..C).  Normalization and the losses are composed here in Lua
-- from whole-tensor ops (no per-element loops).
local nb = require 'nabla'
local U = require 'nn.module'
local F = {}

local function fail(fname, fmt, ...)
  U.raise(fname .. ': ' .. string.format(fmt, ...))
end

local function check_tensor(fname, what, t)
  if not nb.is_tensor(t) then fail(fname, 'expected %s to be a tensor, got %s', what, type(t)) end
end

local function same_shape(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

local function reduce(fname, l, reduction)
  if reduction == nil or reduction == 'mean' then return l:mean() end
  if reduction == 'sum' then return l:sum() end
  if reduction == 'none' then return l end
  fail(fname, "reduction must be 'mean', 'sum' or 'none', got %s", tostring(reduction))
end

-- Elementwise losses compare like with like: broadcasting [N,1] against [N] would silently
-- compare every pair, a classic bug, so different shapes are an error.
local function check_pair(fname, input, target)
  check_tensor(fname, 'input', input)
  check_tensor(fname, 'target', target)
  if not same_shape(input.shape, target.shape) then
    fail(fname, 'input %s and target %s have different shapes (reshape one of them)',
         U.fmt_shape(input.shape), U.fmt_shape(target.shape))
  end
end

---------------------------------------------------------------------------- activations
function F.relu(x) return x:relu() end
function F.leaky_relu(x, negative_slope) return x:leaky_relu(negative_slope or 0.01) end
function F.sigmoid(x) return x:sigmoid() end
function F.tanh(x) return x:tanh() end
function F.silu(x) return x * x:sigmoid() end

-- approximate='none' (exact, x Φ(x)) or 'tanh' (0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))).
function F.gelu(x, opts)
  local approx = opts and opts.approximate or 'none'
  if approx == 'none' then return x:gelu() end
  if approx ~= 'tanh' then fail('gelu', "approximate must be 'none' or 'tanh'") end
  local inner = (x + x * x * x * 0.044715) * math.sqrt(2 / math.pi)
  return x * 0.5 * (inner:tanh() + 1)
end

-- (1/beta) log(1 + exp(beta x)); nb's softplus is stable everywhere, so PyTorch's threshold
-- (a linear cut-off for numerical safety) is not needed and only accepted for compatibility.
function F.softplus(x, opts)
  local beta = opts and opts.beta or 1
  if beta == 1 then return x:softplus() end
  return (x * beta):softplus() / beta
end

-- elu: x for x > 0, alpha (e^x - 1) otherwise; written without where so that the unused
-- branch never produces inf * 0 in the gradient.
function F.elu(x, alpha)
  alpha = alpha or 1
  return x:relu() + x:clamp(nil, 0):expm1() * alpha
end

function F.softmax(x, dim) return x:softmax(dim or -1) end
function F.log_softmax(x, dim) return x:log_softmax(dim or -1) end

-- x / max(||x||_p, eps) along dim (default 2, the feature dim of [N, D]).
function F.normalize(x, opts)
  opts = opts or {}
  local p, dim, eps = opts.p or 2, opts.dim or 2, opts.eps or 1e-12
  if x:dim() == 1 then dim = 1 end
  return x / x:norm(p, dim, true):clamp(eps)
end

---------------------------------------------------------------------------- linear
-- y = x W^T + b; x [..., in], W [out, in], b [out].
-- For a batch [N, in] with a bias it is computed as (W x^T)^T + b: the same product, but the
-- gradient of W then comes out of backward as one contiguous [out, in] GEMM result (from
-- x W^T it is the transposed view of x^T g), which the fused optimizer steps read directly;
-- the bias add gives a contiguous output either way.
function F.linear(x, w, b)
  if x:dim() == 2 then
    if b then return w:mm(x:t()):t() + b end
    return x:mm(w:t())
  end
  local y = x:matmul(w:t())
  if b then y = y + b end
  return y
end

-- y_k = x1^T W_k x2 + b_k; x1 [N, in1], x2 [N, in2], W [out, in1, in2], b [out].
function F.bilinear(x1, x2, w, b)
  local out, in1, in2 = w.shape[1], w.shape[2], w.shape[3]
  local lead = {}
  for i = 1, x1:dim() - 1 do lead[i] = x1.shape[i] end
  local a = x1:reshape(-1, in1):mm(w:permute(2, 1, 3):reshape(in1, out * in2))  -- [N, out*in2]
  local y = (a:reshape(-1, out, in2) * x2:reshape(-1, 1, in2)):sum(3)           -- [N, out]
  if b then y = y + b end
  lead[#lead + 1] = out
  return y:reshape(lead)
end

---------------------------------------------------------------------------- convolution, pooling
-- Thin wrappers over the C ops (see nb.conv2d etc. for the options).
function F.conv1d(x, w, b, opts) return nb.conv1d(x, w, b, opts) end
function F.conv2d(x, w, b, opts) return nb.conv2d(x, w, b, opts) end
function F.conv_transpose2d(x, w, b, opts) return nb.conv_transpose2d(x, w, b, opts) end
function F.max_pool2d(x, k, opts) return nb.max_pool2d(x, k, opts) end
function F.avg_pool2d(x, k, opts) return nb.avg_pool2d(x, k, opts) end
function F.adaptive_avg_pool2d(x, size) return nb.adaptive_avg_pool2d(x, size) end
function F.interpolate(x, opts) return nb.interpolate(x, opts) end
F.upsample = F.interpolate
function F.pad(x, pads, opts) return nb.pad(x, pads, opts) end

-- F.embedding(idx, weight, {padding_idx=}) in PyTorch's argument order.
function F.embedding(idx, weight, opts) return nb.embedding(weight, idx, opts) end
function F.one_hot(idx, n, dtype) return nb.one_hot(idx, n, dtype) end

---------------------------------------------------------------------------- dropout
local function check_p(fname, p)
  if type(p) ~= 'number' or p < 0 or p > 1 then
    fail(fname, 'p must be a probability in [0, 1], got %s', tostring(p))
  end
end

-- Inverted dropout: each element is kept with probability 1-p and scaled by 1/(1-p), so the
-- expectation is unchanged and eval mode is the identity.
function F.dropout(x, p, training)
  if p == nil then p = 0.5 end
  check_p('dropout', p)
  if training == false or p == 0 then return x end
  if p == 1 then return x * 0 end
  local mask = nb.bernoulli(1 - p, x.shape, {dtype = x.dtype})
  mask:mul_(1 / (1 - p))
  return x * mask
end

-- Spatial dropout: whole channels (x [N, C, ...]) are zeroed together.
function F.dropout2d(x, p, training)
  if p == nil then p = 0.5 end
  check_p('dropout2d', p)
  if training == false or p == 0 then return x end
  if p == 1 then return x * 0 end
  local shape = {}
  for i = 1, x:dim() do shape[i] = i <= 2 and x.shape[i] or 1 end
  local mask = nb.bernoulli(1 - p, shape, {dtype = x.dtype})
  mask:mul_(1 / (1 - p))
  return x * mask
end

-- Multiplicative Gaussian noise: x * ε with ε ~ N(1, alpha) (alpha is the variance).
-- alpha = p/(1-p) gives the same mean and variance as Bernoulli dropout with rate p.
function F.gaussian_dropout(x, alpha, training)
  if type(alpha) ~= 'number' or alpha < 0 then
    fail('gaussian_dropout', 'alpha (the noise variance) must be >= 0, got %s', tostring(alpha))
  end
  if training == false or alpha == 0 then return x end
  local noise = nb.randn(x.shape, {dtype = x.dtype})
  noise:mul_(math.sqrt(alpha)):add_(1)
  return x * noise
end

---------------------------------------------------------------------------- normalization
-- [C] -> [1, C, 1, ...] for broadcasting against x with nd dims.
local function channel_view(t, nd)
  local shape = {1, t:numel()}
  for i = 3, nd do shape[i] = 1 end
  return t:reshape(shape)
end

-- Mean over every dim but the channel dim (2), keeping dims.
local function channel_mean(x)
  local m = x
  for d = x:dim(), 1, -1 do
    if d ~= 2 then m = m:mean(d, true) end
  end
  return m
end

-- x [N, C, ...].  training: normalize with the batch's mean and biased variance, and update
-- the running stats in place: r = (1 - momentum) r + momentum * stat, with the unbiased
-- variance n/(n-1) var as PyTorch (momentum = nil: cumulative average, factor given as
-- opts.factor).  Eval: normalize with the running stats.
function F.batch_norm(x, running_mean, running_var, weight, bias, opts)
  opts = opts or {}
  local eps = opts.eps or 1e-5
  local nd = x:dim()
  local y
  if opts.training or running_mean == nil then
    local n = x:numel() / x.shape[2]
    if n <= 1 then
      fail('batch_norm', 'expected more than 1 value per channel when training, got input %s',
           U.fmt_shape(x.shape))
    end
    local mu = channel_mean(x)
    local xc = x - mu
    local var = channel_mean(xc * xc)
    y = xc * (var + eps):rsqrt()
    if running_mean ~= nil then
      local m = opts.momentum
      if m == nil then m = 0.1 end
      if m == false then m = opts.factor end
      nb.no_grad(function()
        local bm = mu:detach():reshape(-1)
        local bv = var:detach():reshape(-1) * (n / (n - 1))
        running_mean:mul_(1 - m):add_(bm * m)
        running_var:mul_(1 - m):add_(bv * m)
      end)
    end
  else
    y = (x - channel_view(running_mean, nd)) * channel_view((running_var + eps):rsqrt(), nd)
  end
  if weight then y = y * channel_view(weight, nd) end
  if bias then y = y + channel_view(bias, nd) end
  return y
end

-- Normalizes over the last #normalized_shape dims (a number means one dim).
function F.layer_norm(x, normalized_shape, weight, bias, opts)
  local eps = opts and opts.eps or 1e-5
  local k = type(normalized_shape) == 'number' and 1 or #normalized_shape
  local nd = x:dim()
  local lead = {}
  for i = 1, nd - k do lead[i] = x.shape[i] end
  lead[#lead + 1] = -1
  local xr = x:reshape(lead)
  local mu = xr:mean(-1, true)
  local xc = xr - mu
  local var = (xc * xc):mean(-1, true)
  local y = (xc * (var + eps):rsqrt()):reshape(x.shape)
  if weight then y = y * weight end
  if bias then y = y + bias end
  return y
end

-- x [N, C, ...] split into G groups of C/G channels, each normalized over its channels and
-- positions; weight and bias are per channel.
function F.group_norm(x, num_groups, weight, bias, opts)
  local eps = opts and opts.eps or 1e-5
  local N = x.shape[1]
  local xr = x:reshape(N, num_groups, -1)
  local mu = xr:mean(3, true)
  local xc = xr - mu
  local var = (xc * xc):mean(3, true)
  local y = (xc * (var + eps):rsqrt()):reshape(x.shape)
  if weight then y = y * channel_view(weight, x:dim()) end
  if bias then y = y + channel_view(bias, x:dim()) end
  return y
end

---------------------------------------------------------------------------- regression losses
function F.mse_loss(input, target, opts)
  check_pair('mse_loss', input, target)
  local d = input - target
  return reduce('mse_loss', d * d, opts and opts.reduction)
end

function F.l1_loss(input, target, opts)
  check_pair('l1_loss', input, target)
  return reduce('l1_loss', (input - target):abs(), opts and opts.reduction)
end

-- 0.5 d²/beta where |d| < beta, |d| - 0.5 beta elsewhere (beta = 0: L1).
function F.smooth_l1_loss(input, target, opts)
  check_pair('smooth_l1_loss', input, target)
  local beta = opts and opts.beta or 1
  local d = (input - target):abs()
  local l
  if beta == 0 then l = d
  else l = nb.where(d:lt(beta), d * d * (0.5 / beta), d - 0.5 * beta) end
  return reduce('smooth_l1_loss', l, opts and opts.reduction)
end

-- 0.5 d² where |d| < delta, delta (|d| - 0.5 delta) elsewhere.
function F.huber_loss(input, target, opts)
  check_pair('huber_loss', input, target)
  local delta = opts and opts.delta or 1
  local d = (input - target):abs()
  local l = nb.where(d:lt(delta), d * d * 0.5, (d - 0.5 * delta) * delta)
  return reduce('huber_loss', l, opts and opts.reduction)
end

---------------------------------------------------------------------------- classification losses
local CE_OPTS = {weight = U.NONE, ignore_index = -100, reduction = 'mean', label_smoothing = 0}

-- The class-index core shared by nll_loss and cross_entropy.  logp [N, C, ...] (or [C]),
-- target i64 [N, ...] with classes 1..C.  Follows PyTorch exactly: with class weights the mean
-- divides by the summed weights of the targets (ignored ones excluded), and label smoothing
-- eps mixes in eps/C times the (weighted) sum over all classes of -logp.
local function nll_core(fname, logp, target, o)
  local cdim = logp:dim() >= 2 and 2 or 1
  local C = logp.shape[cdim]
  if target.dtype ~= 'i64' then
    fail(fname, 'target must hold class indices (i64, 1..%d), got dtype %s%s', C, target.dtype,
         target:dim() == logp:dim() and ' (for class probabilities use cross_entropy)' or '')
  end
  local expect = {}
  for i = 1, logp:dim() do if i ~= cdim then expect[#expect + 1] = logp.shape[i] end end
  if not same_shape(expect, target.shape) then
    fail(fname, 'input %s needs a target of shape %s, got %s', U.fmt_shape(logp.shape),
         U.fmt_shape(expect), U.fmt_shape(target.shape))
  end
  local weight = U.opt(o.weight)
  if weight ~= nil and (weight:dim() ~= 1 or weight:numel() ~= C) then
    fail(fname, 'weight must have one entry per class, [%d], got %s', C, U.fmt_shape(weight.shape))
  end
  local ign = o.ignore_index
  local keep, safe = nil, target
  if target:numel() > 0 then
    local lo, hi = target:min():item(), target:max():item()
    if lo < 1 or hi > C or (ign >= 1 and ign <= C) then
      local is_ign = target:eq(ign)
      safe = nb.where(is_ign, 1, target)
      local slo, shi = safe:min():item(), safe:max():item()
      if slo < 1 or shi > C then
        fail(fname, 'target values must be class indices 1..%d (1-based), got %d',
             C, slo < 1 and slo or shi)
      end
      keep = 1 - is_ign:to(logp.dtype)
    end
  end
  local idx = cdim == 2 and safe:unsqueeze(2) or safe:reshape(1)
  local picked = logp:gather(cdim, idx):squeeze(cdim)
  local wi = nil
  if weight ~= nil then
    wi = weight:index_select(1, safe:reshape(-1)):reshape(safe.shape)
    if keep then wi = wi * keep end
  elseif keep then
    wi = keep
  end
  local loss = wi and -(picked * wi) or -picked
  local red = o.reduction
  local denom = nil
  if red == 'mean' then
    if wi then
      denom = wi:sum()
      loss = loss:sum() / denom
    else
      loss = loss:mean()
    end
  else
    loss = reduce(fname, loss, red)
  end
  local eps = o.label_smoothing
  if eps == 0 then return loss end
  local smooth
  if weight ~= nil then
    local wshape = {}
    for i = 1, logp:dim() do wshape[i] = i == cdim and C or 1 end
    smooth = -(logp * weight:reshape(wshape)):sum(cdim)
  else
    smooth = -logp:sum(cdim)
  end
  if keep then smooth = smooth * keep end
  if red == 'mean' then
    smooth = denom and smooth:sum() / denom or smooth:mean()
  else
    smooth = reduce(fname, smooth, red)
  end
  return loss * (1 - eps) + smooth * (eps / C)
end

-- input: log-probabilities [N, C] or [N, C, d1, ...]; target i64 class indices 1..C.
function F.nll_loss(input, target, opts)
  check_tensor('nll_loss', 'input', input)
  check_tensor('nll_loss', 'target', target)
  local o = U.options('nll_loss', opts, {weight = U.NONE, ignore_index = -100, reduction = 'mean'})
  o.label_smoothing = 0
  return nll_core('nll_loss', input, target, o)
end

-- logits [N, C] (or [N, C, d1, ...], or [C]); target i64 class indices 1..C of shape [N, ...],
-- or class probabilities of the logits' shape.  opts: weight [C], ignore_index, reduction,
-- label_smoothing.
function F.cross_entropy(input, target, opts)
  check_tensor('cross_entropy', 'input', input)
  check_tensor('cross_entropy', 'target', target)
  local o = U.options('cross_entropy', opts, CE_OPTS)
  local cdim = input:dim() >= 2 and 2 or 1
  local logp = input:log_softmax(cdim)
  if target.dtype == 'i64' then return nll_core('cross_entropy', logp, target, o) end
  -- class probabilities
  if not same_shape(input.shape, target.shape) then
    fail('cross_entropy', 'probability targets must have the input\'s shape %s, got %s',
         U.fmt_shape(input.shape), U.fmt_shape(target.shape))
  end
  local C = input.shape[cdim]
  local p = target
  if o.label_smoothing > 0 then p = p * (1 - o.label_smoothing) + o.label_smoothing / C end
  local weight = U.opt(o.weight)
  if weight ~= nil then
    local wshape = {}
    for i = 1, input:dim() do wshape[i] = i == cdim and C or 1 end
    logp = logp * weight:reshape(wshape)
  end
  return reduce('cross_entropy', -(p * logp):sum(cdim), o.reduction)
end

-- p in [0, 1] (probabilities, e.g. after sigmoid), y in [0, 1]; log terms clamped at -100 as
-- PyTorch does, so p = 0 or 1 gives a large finite loss instead of inf.
function F.binary_cross_entropy(input, target, opts)
  check_pair('binary_cross_entropy', input, target)
  local o = U.options('binary_cross_entropy', opts, {weight = U.NONE, reduction = 'mean'})
  if input:numel() > 0 then
    local lo, hi = input:min():item(), input:max():item()
    if lo < 0 or hi > 1 then
      fail('binary_cross_entropy', 'input must be probabilities in [0, 1], got a value %.4g ' ..
           '(for logits use binary_cross_entropy_with_logits)', lo < 0 and lo or hi)
    end
  end
  local l = -(target * input:log():clamp(-100) + (1 - target) * (1 - input):log():clamp(-100))
  local w = U.opt(o.weight)
  if w ~= nil then l = l * w end
  return reduce('binary_cross_entropy', l, o.reduction)
end

-- Stable for any logit x: (1 - y) x + lw softplus(-x), lw = 1 + (pos_weight - 1) y, which is
-- -[y log σ(x) + (1 - y) log(1 - σ(x))] with the positive term weighted by pos_weight.
function F.binary_cross_entropy_with_logits(input, target, opts)
  check_pair('binary_cross_entropy_with_logits', input, target)
  local o = U.options('binary_cross_entropy_with_logits', opts,
                      {weight = U.NONE, pos_weight = U.NONE, reduction = 'mean'})
  local sp = (-input):softplus()
  local pw = U.opt(o.pos_weight)
  local l
  if pw ~= nil then
    l = (1 - target) * input + (target * (pw - 1) + 1) * sp
  else
    l = (1 - target) * input + sp
  end
  local w = U.opt(o.weight)
  if w ~= nil then l = l * w end
  return reduce('binary_cross_entropy_with_logits', l, o.reduction)
end

-- PyTorch's convention: input = log q (log-probabilities), target = p (or log p with
-- log_target=true); pointwise p (log p - log q), with 0 log 0 = 0.  reduction 'mean' averages
-- over every element (PyTorch's default); 'batchmean' divides the sum by the batch size,
-- which is the mathematical KL(p || q) per sample.
function F.kl_div(input, target, opts)
  check_pair('kl_div', input, target)
  local o = U.options('kl_div', opts, {reduction = 'mean', log_target = false})
  local l
  if o.log_target then
    l = target:exp() * (target - input)
  else
    local tiny = input.dtype == 'f64' and 1e-300 or 1e-37
    l = target * (target:clamp(tiny):log() - input)
  end
  if o.reduction == 'batchmean' then
    return l:sum() / (input:dim() > 0 and input.shape[1] or 1)
  end
  return reduce('kl_div', l, o.reduction)
end

-- Binary hinge on scores s with labels y = ±1: max(0, margin - y s).
function F.hinge_loss(input, target, opts)
  check_pair('hinge_loss', input, target)
  local o = U.options('hinge_loss', opts, {margin = 1, reduction = 'mean'})
  return reduce('hinge_loss', (o.margin - target * input):relu(), o.reduction)
end

-- Smooth hinge with temperature t > 0 on the margin z = y s (labels ±1):
--   kind='softplus' (default; Koh & Liang 2017, the influence-function paper):
--       t log(1 + exp((1 - z)/t)), smooth everywhere, -> max(0, 1 - z) as t -> 0;
--   kind='quadratic' (Rennie & Srebro 2005, with width t; t = 1 is their smooth hinge):
--       0 for z >= 1, (1 - z)²/(2t) for 1 - t < z < 1, 1 - z - t/2 for z <= 1 - t.
function F.smooth_hinge_loss(input, target, opts)
  check_pair('smooth_hinge_loss', input, target)
  local o = U.options('smooth_hinge_loss', opts, {t = 1, kind = 'softplus', reduction = 'mean'})
  local t = o.t
  if type(t) ~= 'number' or t <= 0 then
    fail('smooth_hinge_loss', 't must be > 0, got %s', tostring(t))
  end
  local z = target * input
  local l
  if o.kind == 'softplus' then
    l = ((1 - z) / t):softplus() * t
  elseif o.kind == 'quadratic' then
    local u = (1 - z):relu()
    l = nb.where(u:lt(t), u * u / (2 * t), u - t / 2)
  else
    fail('smooth_hinge_loss', "kind must be 'softplus' or 'quadratic', got %s", tostring(o.kind))
  end
  return reduce('smooth_hinge_loss', l, o.reduction)
end

-- Target as one-hot [N, C, ...] in the input's dtype (i64 labels 1..C are converted).
local function one_hot_target(fname, input, target)
  local C = input.shape[2]
  if target.dtype == 'i64' then
    local oh = nb.one_hot(target, C, input.dtype)                -- [N, ..., C]
    local perm = {1, oh:dim()}
    for i = 2, oh:dim() - 1 do perm[#perm + 1] = i end
    return oh:permute(table.unpack(perm))
  end
  if not same_shape(input.shape, target.shape) then
    fail(fname, 'one-hot target must have the input\'s shape %s, got %s',
         U.fmt_shape(input.shape), U.fmt_shape(target.shape))
  end
  return target
end

-- Multi-class soft Dice: input logits [N, C, ...] (softmax over C; probabilities with
-- from_logits=false), target i64 labels [N, ...] or one-hot [N, C, ...].  Per sample n and
-- class c, over positions: dice = (2 Σ p g + smooth) / (Σ p + Σ g + smooth); the loss is
-- 1 - dice, reduced over [N, C] ('none' returns the [N, C] matrix).
function F.dice_loss(input, target, opts)
  check_tensor('dice_loss', 'input', input)
  check_tensor('dice_loss', 'target', target)
  local o = U.options('dice_loss', opts, {smooth = 1, from_logits = true, reduction = 'mean'})
  if input:dim() < 2 then fail('dice_loss', 'expected input [N, C, ...], got %s',
                               U.fmt_shape(input.shape)) end
  local p = o.from_logits and input:softmax(2) or input
  local g = one_hot_target('dice_loss', input, target)
  local N, C = input.shape[1], input.shape[2]
  local pr, gr = p:reshape(N, C, -1), g:reshape(N, C, -1)
  local inter = (pr * gr):sum(3)
  local dice = (inter * 2 + o.smooth) / (pr:sum(3) + gr:sum(3) + o.smooth)
  return reduce('dice_loss', 1 - dice, o.reduction)
end

-- ce_weight * cross_entropy + dice_weight * dice_loss (labels or one-hot targets).
function F.dice_ce_loss(input, target, opts)
  local o = U.options('dice_ce_loss', opts, {smooth = 1, ce_weight = 1, dice_weight = 1,
                                             weight = U.NONE})
  local ce_target = target
  if target.dtype ~= 'i64' then ce_target = target:argmax(2) end
  local ce = F.cross_entropy(input, ce_target, {weight = U.opt(o.weight)})
  local dice = F.dice_loss(input, target, {smooth = o.smooth})
  return ce * o.ce_weight + dice * o.dice_weight
end

-- Focal loss (Lin et al. 2017): -alpha_t (1 - p_t)^gamma log p_t.
--   multi-class: logits [N, C, ...], i64 targets 1..C; alpha nil (no weighting), a number
--                (all classes) or a tensor [C] (per class);
--   binary:      logits and float targets {0,1} of the same shape; p = σ(x), alpha the weight
--                of the positive class (1 - alpha for negatives), as torchvision's
--                sigmoid_focal_loss (which uses alpha = 0.25).
function F.focal_loss(input, target, opts)
  check_tensor('focal_loss', 'input', input)
  check_tensor('focal_loss', 'target', target)
  local o = U.options('focal_loss', opts, {gamma = 2, alpha = U.NONE, reduction = 'mean'})
  local gamma, alpha = o.gamma, U.opt(o.alpha)
  local l
  if target.dtype == 'i64' then
    local cdim = input:dim() >= 2 and 2 or 1
    local logpt = nll_core('focal_loss', input:log_softmax(cdim), target,
                           {weight = U.NONE, ignore_index = -100, reduction = 'none',
                            label_smoothing = 0})
    -- nll_core returns -log p_t
    local pt = (-logpt):exp()
    l = (1 - pt):pow(gamma) * logpt
    if type(alpha) == 'number' then
      l = l * alpha
    elseif alpha ~= nil then
      l = l * alpha:index_select(1, target:reshape(-1)):reshape(target.shape)
    end
  else
    check_pair('focal_loss', input, target)
    local ce = F.binary_cross_entropy_with_logits(input, target, {reduction = 'none'})
    local p = input:sigmoid()
    local pt = p * target + (1 - p) * (1 - target)
    l = ce * (1 - pt):pow(gamma)
    if alpha ~= nil then l = l * (target * alpha + (1 - target) * (1 - alpha)) end
  end
  return reduce('focal_loss', l, o.reduction)
end

-- cos(x1, x2) along dim (default: the last): x1·x2 / max(||x1|| ||x2||, eps).
function F.cosine_similarity(x1, x2, opts)
  local dim = opts and opts.dim or -1
  local eps = opts and opts.eps or 1e-8
  local dot = (x1 * x2):sum(dim)
  local n = (x1 * x1):sum(dim) * (x2 * x2):sum(dim)
  return dot / n:clamp(eps * eps):sqrt()
end

-- y = 1: 1 - cos(x1, x2); y = -1: max(0, cos(x1, x2) - margin).  x1, x2 [N, D], y [N].
function F.cosine_embedding_loss(x1, x2, y, opts)
  check_pair('cosine_embedding_loss', x1, x2)
  local o = U.options('cosine_embedding_loss', opts, {margin = 0, reduction = 'mean'})
  local cos = F.cosine_similarity(x1, x2)
  local l = nb.where(y:eq(1), 1 - cos, (cos - o.margin):relu())
  return reduce('cosine_embedding_loss', l, o.reduction)
end

-- Center loss (Wen et al. 2016): ½ Σ_i ||x_i - c_{y_i}||² with centers [C, d], labels 1..C.
-- reduction 'sum' (the paper's, default), 'mean' (over the batch) or 'none' ([N]).
function F.center_loss(x, target, centers, opts)
  local o = U.options('center_loss', opts, {reduction = 'sum'})
  if x:dim() ~= 2 or x.shape[2] ~= centers.shape[2] then
    fail('center_loss', 'expected features [N, %d], got %s', centers.shape[2],
         U.fmt_shape(x.shape))
  end
  local c = centers:index_select(1, target:reshape(-1))
  local d = x - c
  return reduce('center_loss', (d * d):sum(2) * 0.5, o.reduction)
end

return F
