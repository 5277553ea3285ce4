-- Normalization layers: BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm.  Defaults as PyTorch:
-- eps 1e-5; affine weight = 1, bias = 0; BatchNorm momentum 0.1 with running_mean = 0,
-- running_var = 1 and num_batches_tracked = 0 as buffers (saved in state_dict).
-- Training normalizes with the batch's mean and biased variance and updates
--   running = (1 - momentum) running + momentum * batch_stat  (the variance unbiased, n/(n-1));
-- momentum=false gives the cumulative average (factor 1/num_batches_tracked, PyTorch's None).
-- Eval normalizes with the running statistics.
local nb = require 'nabla'
local U = require 'nn.module'
local F = require 'nn.functional'
local Module = U.Module
local M = {}

local function fmt_eps(e) return string.format('%g', e) end

---------------------------------------------------------------------------- BatchNorm
local BN_OPTS = {eps = 1e-5, momentum = 0.1, affine = true, track_running_stats = true,
                 dtype = 'f32'}

local function bn_init(self, fname, C, opts)
  require('nn.linear').check_count(fname, 'num_features', C)
  local o = U.options(fname, opts, BN_OPTS)
  self.num_features, self.eps, self.momentum = C, o.eps, o.momentum
  self.affine, self.track_running_stats = o.affine, o.track_running_stats
  if o.affine then
    self:register_parameter('weight', nb.ones({C}, o.dtype))
    self:register_parameter('bias', nb.zeros({C}, o.dtype))
  end
  if o.track_running_stats then
    self:register_buffer('running_mean', nb.zeros({C}, o.dtype))
    self:register_buffer('running_var', nb.ones({C}, o.dtype))
    self:register_buffer('num_batches_tracked', nb.zeros({}, 'i64'))
  end
end

local function bn_forward(self, x)
  local use_batch = self.training or not self.track_running_stats
  local factor = nil
  if self.training and self.track_running_stats then
    nb.no_grad(function() self.num_batches_tracked:add_(1) end)
    if self.momentum == false then factor = 1 / self.num_batches_tracked:item() end
  end
  return F.batch_norm(x, self.track_running_stats and self.running_mean or nil,
                      self.track_running_stats and self.running_var or nil,
                      self.weight, self.bias,
                      {training = use_batch, momentum = self.momentum, factor = factor,
                       eps = self.eps})
end

local function bn_repr(self)
  local s = string.format('%d, eps=%s, momentum=%s', self.num_features, fmt_eps(self.eps),
                          tostring(self.momentum))
  if not self.affine then s = s .. ', affine=false' end
  if not self.track_running_stats then s = s .. ', track_running_stats=false' end
  return s
end

local function bn_reset(self)
  if self.track_running_stats then
    nb.no_grad(function()
      self.running_mean:zero_()
      self.running_var:fill_(1)
      self.num_batches_tracked:zero_()
    end)
  end
  if self.affine then
    nb.no_grad(function() self.weight:fill_(1); self.bias:zero_() end)
  end
end

local BatchNorm1d = Module:extend('BatchNorm1d')
M.BatchNorm1d = BatchNorm1d

-- nn.BatchNorm1d(C, {eps=1e-5, momentum=0.1, affine=true, track_running_stats=true}) over
-- [N, C] or [N, C, L] (statistics over N, or N and L).
function BatchNorm1d:__init(C, opts) bn_init(self, 'nn.BatchNorm1d', C, opts) end
function BatchNorm1d:forward(x)
  if not nb.is_tensor(x) or (x:dim() ~= 2 and x:dim() ~= 3) or x.shape[2] ~= self.num_features then
    U.shape_error(self, string.format('[N,%d] or [N,%d,L]', self.num_features,
                                      self.num_features), x)
  end
  return bn_forward(self, x)
end
BatchNorm1d.extra_repr = bn_repr
BatchNorm1d.reset_parameters = bn_reset
function BatchNorm1d:_short_name() return string.format('BatchNorm1d(%d)', self.num_features) end

local BatchNorm2d = Module:extend('BatchNorm2d')
M.BatchNorm2d = BatchNorm2d

-- nn.BatchNorm2d(C, {...}) over [N, C, H, W] (statistics per channel over N, H, W).
function BatchNorm2d:__init(C, opts) bn_init(self, 'nn.BatchNorm2d', C, opts) end
function BatchNorm2d:forward(x)
  if not nb.is_tensor(x) or x:dim() ~= 4 or x.shape[2] ~= self.num_features then
    U.shape_error(self, string.format('[N,%d,H,W]', self.num_features), x)
  end
  return bn_forward(self, x)
end
BatchNorm2d.extra_repr = bn_repr
BatchNorm2d.reset_parameters = bn_reset
function BatchNorm2d:_short_name() return string.format('BatchNorm2d(%d)', self.num_features) end

---------------------------------------------------------------------------- LayerNorm
local LayerNorm = Module:extend('LayerNorm')
M.LayerNorm = LayerNorm

-- nn.LayerNorm(shape, {eps=1e-5, elementwise_affine=true, bias=true}): normalizes each sample
-- over its last #shape dims (a number: the last dim); weight and bias have that shape.
function LayerNorm:__init(shape, opts)
  local o = U.options('nn.LayerNorm', opts, {eps = 1e-5, elementwise_affine = true, bias = true,
                                             dtype = 'f32'})
  if type(shape) == 'number' then shape = {shape} end
  self.normalized_shape, self.eps = shape, o.eps
  self.elementwise_affine = o.elementwise_affine
  if o.elementwise_affine then
    self:register_parameter('weight', nb.ones(shape, o.dtype))
    if o.bias then self:register_parameter('bias', nb.zeros(shape, o.dtype)) end
  end
end

function LayerNorm:forward(x)
  local k = #self.normalized_shape
  local ok = nb.is_tensor(x) and x:dim() >= k
  if ok then
    for i = 1, k do
      if x.shape[x:dim() - k + i] ~= self.normalized_shape[i] then ok = false end
    end
  end
  if not ok then
    U.shape_error(self, '[..., ' .. table.concat(self.normalized_shape, ',') .. ']', x)
  end
  return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, {eps = self.eps})
end

function LayerNorm:extra_repr()
  local s = U.fmt_shape(self.normalized_shape) .. ', eps=' .. fmt_eps(self.eps)
  if not self.elementwise_affine then s = s .. ', elementwise_affine=false' end
  return s
end

---------------------------------------------------------------------------- GroupNorm
local GroupNorm = Module:extend('GroupNorm')
M.GroupNorm = GroupNorm

-- nn.GroupNorm(G, C, {eps=1e-5, affine=true}): x [N, C, ...], C/G channels per group.
function GroupNorm:__init(G, C, opts)
  local o = U.options('nn.GroupNorm', opts, {eps = 1e-5, affine = true, dtype = 'f32'})
  if type(G) ~= 'number' or type(C) ~= 'number' or G < 1 or C % G ~= 0 then
    U.raise(string.format('nn.GroupNorm: num_channels (%s) must be divisible by num_groups (%s)',
                          tostring(C), tostring(G)))
  end
  self.num_groups, self.num_channels, self.eps, self.affine = G, C, o.eps, o.affine
  if o.affine then
    self:register_parameter('weight', nb.ones({C}, o.dtype))
    self:register_parameter('bias', nb.zeros({C}, o.dtype))
  end
end

function GroupNorm:forward(x)
  if not nb.is_tensor(x) or x:dim() < 2 or x.shape[2] ~= self.num_channels then
    U.shape_error(self, string.format('[N,%d,...]', self.num_channels), x)
  end
  return F.group_norm(x, self.num_groups, self.weight, self.bias, {eps = self.eps})
end

function GroupNorm:extra_repr()
  return string.format('%d, %d, eps=%s', self.num_groups, self.num_channels, fmt_eps(self.eps))
end

return M
