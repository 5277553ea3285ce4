-- Pooling and resizing layers over nb's C kernels: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d,
-- Upsample.  No parameters; 0 MACs in summary (comparisons and adds, not multiply-adds).
-- Inputs are [N,C,H,W] or [C,H,W].  Output size per dim: floor((n + 2p - d(k-1) - 1)/s) + 1
-- (ceil with ceil_mode), stride defaulting to the kernel size as in PyTorch.
local nb = require 'nabla'
local U = require 'nn.module'
local Module = U.Module
local M = {}

local function check_image(self, x)
  if not nb.is_tensor(x) or (x:dim() ~= 4 and x:dim() ~= 3) then
    U.shape_error(self, '[N,C,H,W] or [C,H,W]', x)
  end
end

local function sz(v)
  if type(v) == 'table' then
    if v[1] == v[2] then return tostring(v[1]) end
    return table.concat(v, '×')
  end
  return tostring(v)
end

---------------------------------------------------------------------------- MaxPool2d
local MaxPool2d = Module:extend('MaxPool2d')
M.MaxPool2d = MaxPool2d

-- nn.MaxPool2d(k, {stride=k, padding=0, dilation=1, ceil_mode=false, return_indices=false});
-- with return_indices the forward returns values, indices (1-based within each H×W plane).
function MaxPool2d:__init(k, opts)
  local o = U.options('nn.MaxPool2d', opts, {stride = U.NONE, padding = 0, dilation = 1,
                                             ceil_mode = false, return_indices = false})
  self.kernel_size, self.stride = k, U.opt(o.stride) or k
  self.padding, self.dilation = o.padding, o.dilation
  self.ceil_mode, self.return_indices = o.ceil_mode, o.return_indices
end

function MaxPool2d:forward(x)
  check_image(self, x)
  return nb.max_pool2d(x, self.kernel_size, {stride = self.stride, padding = self.padding,
                                             dilation = self.dilation, ceil_mode = self.ceil_mode,
                                             return_indices = self.return_indices})
end

function MaxPool2d:extra_repr()
  local s = 'k=' .. sz(self.kernel_size)
  if sz(self.stride) ~= sz(self.kernel_size) then s = s .. ', stride=' .. sz(self.stride) end
  if sz(self.padding) ~= '0' then s = s .. ', padding=' .. sz(self.padding) end
  if sz(self.dilation) ~= '1' then s = s .. ', dilation=' .. sz(self.dilation) end
  if self.ceil_mode then s = s .. ', ceil_mode=true' end
  return s
end

---------------------------------------------------------------------------- AvgPool2d
local AvgPool2d = Module:extend('AvgPool2d')
M.AvgPool2d = AvgPool2d

-- nn.AvgPool2d(k, {stride=k, padding=0, ceil_mode=false, count_include_pad=true}).
function AvgPool2d:__init(k, opts)
  local o = U.options('nn.AvgPool2d', opts, {stride = U.NONE, padding = 0, ceil_mode = false,
                                             count_include_pad = true})
  self.kernel_size, self.stride = k, U.opt(o.stride) or k
  self.padding, self.ceil_mode, self.count_include_pad = o.padding, o.ceil_mode,
                                                         o.count_include_pad
end

function AvgPool2d:forward(x)
  check_image(self, x)
  return nb.avg_pool2d(x, self.kernel_size, {stride = self.stride, padding = self.padding,
                                             ceil_mode = self.ceil_mode,
                                             count_include_pad = self.count_include_pad})
end

function AvgPool2d:extra_repr()
  local s = 'k=' .. sz(self.kernel_size)
  if sz(self.stride) ~= sz(self.kernel_size) then s = s .. ', stride=' .. sz(self.stride) end
  if sz(self.padding) ~= '0' then s = s .. ', padding=' .. sz(self.padding) end
  return s
end

---------------------------------------------------------------------------- AdaptiveAvgPool2d
local AdaptiveAvgPool2d = Module:extend('AdaptiveAvgPool2d')
M.AdaptiveAvgPool2d = AdaptiveAvgPool2d

-- nn.AdaptiveAvgPool2d(size): output size×size (or {h, w}) whatever the input size.
function AdaptiveAvgPool2d:__init(size)
  self.output_size = size
end

function AdaptiveAvgPool2d:forward(x)
  check_image(self, x)
  return nb.adaptive_avg_pool2d(x, self.output_size)
end

function AdaptiveAvgPool2d:extra_repr() return sz(self.output_size) end

---------------------------------------------------------------------------- Upsample
local Upsample = Module:extend('Upsample')
M.Upsample = Upsample

-- nn.Upsample{size= | scale_factor=, mode='nearest'|'bilinear', align_corners=false}.
function Upsample:__init(opts)
  if type(opts) == 'number' then opts = {scale_factor = opts} end
  local o = U.options('nn.Upsample', opts, {size = U.NONE, scale_factor = U.NONE,
                                            mode = 'nearest', align_corners = U.NONE})
  self.size, self.scale_factor = U.opt(o.size), U.opt(o.scale_factor)
  if (self.size == nil) == (self.scale_factor == nil) then
    U.raise('nn.Upsample: give exactly one of size and scale_factor')
  end
  self.mode, self.align_corners = o.mode, U.opt(o.align_corners)
end

function Upsample:forward(x)
  check_image(self, x)
  return nb.interpolate(x, {size = self.size, scale_factor = self.scale_factor, mode = self.mode,
                            align_corners = self.align_corners})
end

function Upsample:extra_repr()
  local s = self.size and ('size=' .. sz(self.size)) or ('scale_factor=' .. sz(self.scale_factor))
  return s .. ", mode='" .. self.mode .. "'"
end

return M
