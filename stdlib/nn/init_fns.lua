-- nn.init: in-place parameter initializers, as torch.nn.init.  Each fills a tensor under
-- no_grad and returns it; randomness comes from nabla's generator, so nb.manual_seed(n) makes
-- initialization reproducible (for any thread count).
--   fan_in / fan_out of a weight [out, in, k...] are in*prod(k) and out*prod(k).
--   calculate_gain: linear, conv*, sigmoid -> 1; tanh -> 5/3; relu -> √2;
--   leaky_relu(a) -> √(2/(1+a²)); selu -> 3/4.
local nb = require 'nabla'
local M = {}

local function fail(fname, fmt, ...)
  error('nn.init.' .. fname .. ': ' .. string.format(fmt, ...), 3)
end

function M.calculate_gain(nonlinearity, param)
  local nl = nonlinearity or 'linear'
  if nl == 'linear' or nl == 'sigmoid' or nl == 'identity' or nl:match('^conv') then return 1 end
  if nl == 'tanh' then return 5 / 3 end
  if nl == 'relu' then return math.sqrt(2) end
  if nl == 'leaky_relu' then
    local a = param or 0.01
    return math.sqrt(2 / (1 + a * a))
  end
  if nl == 'selu' then return 3 / 4 end
  fail('calculate_gain', "unknown nonlinearity '%s'", tostring(nl))
end

-- fan_in, fan_out of a weight tensor (needs at least 2 dims).
function M.calculate_fan_in_and_fan_out(t)
  local shape = t.shape
  if #shape < 2 then
    fail('fan', 'fan in and fan out need a tensor with at least 2 dims, got %d', #shape)
  end
  local receptive = 1
  for i = 3, #shape do receptive = receptive * shape[i] end
  return shape[2] * receptive, shape[1] * receptive
end

local function fan(t, mode)
  local fi, fo = M.calculate_fan_in_and_fan_out(t)
  if mode == nil or mode == 'fan_in' then return fi end
  if mode == 'fan_out' then return fo end
  fail('kaiming', "mode must be 'fan_in' or 'fan_out', got %s", tostring(mode))
end

local function fill(t, src)
  nb.no_grad(function() t:copy_(src) end)
  return t
end

function M.constant_(t, v) nb.no_grad(function() t:fill_(v) end) return t end
function M.zeros_(t) return M.constant_(t, 0) end
function M.ones_(t) return M.constant_(t, 1) end

-- U(a, b)
function M.uniform_(t, a, b)
  a, b = a or 0, b or 1
  local u = nb.rand(t.shape, {dtype = t.dtype})
  u:mul_(b - a):add_(a)
  return fill(t, u)
end

-- N(mean, std²)
function M.normal_(t, mean, std)
  mean, std = mean or 0, std or 1
  local z = nb.randn(t.shape, {dtype = t.dtype})
  z:mul_(std):add_(mean)
  return fill(t, z)
end

-- N(mean, std²) redrawn until inside [a, b] (PyTorch's trunc_normal_ defaults a=-2, b=2).
function M.trunc_normal_(t, mean, std, a, b)
  mean, std, a, b = mean or 0, std or 1, a or -2, b or 2
  local z = nb.randn(t.shape, {dtype = t.dtype}) * std + mean
  for _ = 1, 100 do
    local bad = z:lt(a) + z:gt(b)
    if bad:sum():item() == 0 then break end
    local fresh = nb.randn(t.shape, {dtype = t.dtype}) * std + mean
    z = nb.where(bad, fresh, z)
  end
  return fill(t, z:clamp(a, b))
end

-- U(-bound, bound), bound = gain √(6/(fan_in + fan_out)) (Glorot & Bengio 2010).
function M.xavier_uniform_(t, gain)
  local fi, fo = M.calculate_fan_in_and_fan_out(t)
  local bound = (gain or 1) * math.sqrt(6 / (fi + fo))
  return M.uniform_(t, -bound, bound)
end

-- N(0, std²), std = gain √(2/(fan_in + fan_out)).
function M.xavier_normal_(t, gain)
  local fi, fo = M.calculate_fan_in_and_fan_out(t)
  return M.normal_(t, 0, (gain or 1) * math.sqrt(2 / (fi + fo)))
end

-- He et al. 2015: std = gain/√fan, gain = calculate_gain(nonlinearity, a); uniform bound √3 std.
-- PyTorch's defaults: a = 0, mode = 'fan_in', nonlinearity = 'leaky_relu'.  Linear and Conv
-- layers use kaiming_uniform_(w, {a = √5}), which gives bound 1/√fan_in.
function M.kaiming_uniform_(t, opts)
  opts = opts or {}
  local gain = M.calculate_gain(opts.nonlinearity or 'leaky_relu', opts.a or 0)
  local std = gain / math.sqrt(fan(t, opts.mode))
  local bound = math.sqrt(3) * std
  return M.uniform_(t, -bound, bound)
end

function M.kaiming_normal_(t, opts)
  opts = opts or {}
  local gain = M.calculate_gain(opts.nonlinearity or 'leaky_relu', opts.a or 0)
  return M.normal_(t, 0, gain / math.sqrt(fan(t, opts.mode)))
end

-- A (semi-)orthogonal matrix from the QR decomposition of a Gaussian matrix, with the signs
-- of R's diagonal folded into Q so that the result is uniformly distributed (Saxe et al.
-- 2013, and PyTorch).  t is viewed as [shape[1], rest].
function M.orthogonal_(t, gain)
  if t:dim() < 2 then fail('orthogonal_', 'needs at least 2 dims, got %d', t:dim()) end
  if not (nb.linalg and nb.linalg.qr) then fail('orthogonal_', 'nb.linalg.qr is not available') end
  local rows = t.shape[1]
  local cols = t:numel() // rows
  local a = nb.randn({rows, cols}, {dtype = 'f64'})
  if rows < cols then a = a:t() end
  local q, r = nb.linalg.qr(a)
  local k = math.min(rows, cols)
  local d = (r * nb.eye(k, k, {dtype = 'f64'})):sum(1):sign()
  q = q * d
  if rows < cols then q = q:t() end
  return fill(t, (q * (gain or 1)):to(t.dtype):reshape(t.shape))
end

-- The identity (2-D), for e.g. RNN hidden-to-hidden weights.
function M.eye_(t)
  if t:dim() ~= 2 then fail('eye_', 'needs a 2-D tensor, got %d dims', t:dim()) end
  return fill(t, nb.eye(t.shape[1], t.shape[2], {dtype = t.dtype}))
end

return M
