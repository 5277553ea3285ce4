-- Convolution layers: Conv1d, Conv2d, ConvTranspose2d over nb's C kernels (im2col + GEMM).
-- Default initialization matches PyTorch: weight kaiming_uniform(a=√5), i.e. U(±1/√fan_in),
-- and bias U(±1/√fan_in), with fan_in = (Cin/groups)*kh*kw for Conv and, as PyTorch computes
-- it from weight dim 2, (Cout/groups)*kh*kw for ConvTranspose2d.
-- Output size per spatial dim: floor((n + 2p - d(k-1) - 1)/s) + 1; padding='same' (stride 1)
-- keeps n, the odd leftover going after the input as PyTorch; 'valid' is padding 0.
local nb = require 'nabla'
local U = require 'nn.module'
local F = require 'nn.functional'
local init = require 'nn.init_fns'
local check_count = require('nn.linear').check_count
local Module = U.Module
local M = {}

local function pair(fname, what, v, n)
  if type(v) == 'number' then
    local t = {}
    for i = 1, n do t[i] = v end
    return t
  end
  if type(v) == 'table' and #v == n then return {table.unpack(v)} end
  U.raise(string.format('%s: %s must be a number or a table of %d numbers', fname, what, n))
end

local function kstr(k)
  for i = 2, #k do if k[i] ~= k[1] then return table.concat(k, '×') end end
  return tostring(k[1])
end

local function pstr(v)
  if type(v) == 'string' then return "'" .. v .. "'" end
  return kstr(v)
end

local function all_eq(v, x)
  if type(v) ~= 'table' then return false end
  for i = 1, #v do if v[i] ~= x then return false end end
  return true
end

local CONV_OPTS = {stride = 1, padding = 0, dilation = 1, groups = 1, bias = true,
                   padding_mode = 'zeros', dtype = 'f32'}

-- Shared constructor of Conv1d (n = 1) and Conv2d (n = 2).
local function conv_init(self, fname, n, cin, cout, k, opts)
  check_count(fname, 'in_channels', cin)
  check_count(fname, 'out_channels', cout)
  local o = U.options(fname, opts, CONV_OPTS)
  if cin % o.groups ~= 0 or cout % o.groups ~= 0 then
    U.raise(string.format('%s: in_channels (%d) and out_channels (%d) must be divisible by ' ..
                          'groups (%d)', fname, cin, cout, o.groups))
  end
  self.in_channels, self.out_channels, self.groups = cin, cout, o.groups
  self.kernel_size = pair(fname, 'kernel_size', k, n)
  self.stride = pair(fname, 'stride', o.stride, n)
  self.dilation = pair(fname, 'dilation', o.dilation, n)
  if o.padding == 'same' or o.padding == 'valid' then
    if o.padding == 'same' and not all_eq(self.stride, 1) then
      U.raise(fname .. ": padding='same' needs stride 1")
    end
    self.padding = o.padding
  else
    self.padding = pair(fname, 'padding', o.padding, n)
  end
  local modes = {zeros = true, reflect = true, replicate = true}
  if not modes[o.padding_mode] then
    U.raise(string.format("%s: padding_mode must be 'zeros', 'reflect' or 'replicate', got %s",
                          fname, tostring(o.padding_mode)))
  end
  self.padding_mode = o.padding_mode
  local wshape = {cout, cin // o.groups}
  for i = 1, n do wshape[#wshape + 1] = self.kernel_size[i] end
  self:register_parameter('weight', nb.zeros(wshape, o.dtype))
  self:register_parameter('bias', o.bias and nb.zeros({cout}, o.dtype) or nil)
  self:reset_parameters()
end

local function reset_conv(self)
  init.kaiming_uniform_(self.weight, {a = math.sqrt(5)})
  if self.bias then
    local fan_in = init.calculate_fan_in_and_fan_out(self.weight)
    local bound = fan_in > 0 and 1 / math.sqrt(fan_in) or 0
    init.uniform_(self.bias, -bound, bound)
  end
end

-- The options passed to nb.conv1d / nb.conv2d; reflect/replicate padding is applied first
-- with nb.pad, then the convolution runs unpadded.
local function conv_call(self, x, fn, n)
  local pad = self.padding
  if self.padding_mode ~= 'zeros' and type(pad) == 'table' then
    local pads = {}
    for i = n, 1, -1 do pads[#pads + 1] = pad[i]; pads[#pads + 1] = pad[i] end
    x = nb.pad(x, pads, {mode = self.padding_mode})
    pad = 0
  end
  local p = type(pad) == 'string' and pad or (n == 1 and pad[1] or pad)
  local s = n == 1 and self.stride[1] or self.stride
  local d = n == 1 and self.dilation[1] or self.dilation
  return fn(x, self.weight, self.bias, {stride = s, padding = p, dilation = d,
                                        groups = self.groups})
end

local function conv_repr(self)
  local parts = {string.format('%d→%d, k=%s', self.in_channels, self.out_channels,
                               kstr(self.kernel_size))}
  if not all_eq(self.stride, 1) then parts[#parts + 1] = 'stride=' .. kstr(self.stride) end
  if type(self.padding) == 'string' or not all_eq(self.padding, 0) then
    parts[#parts + 1] = 'padding=' .. pstr(self.padding)
  end
  if not all_eq(self.dilation, 1) then parts[#parts + 1] = 'dilation=' .. kstr(self.dilation) end
  if self.groups ~= 1 then parts[#parts + 1] = 'groups=' .. self.groups end
  if not self.bias then parts[#parts + 1] = 'bias=false' end
  if self.padding_mode ~= 'zeros' then
    parts[#parts + 1] = "padding_mode='" .. self.padding_mode .. "'"
  end
  return table.concat(parts, ', ')
end

local function conv_short(self)
  return string.format('%s(%d→%d, k=%s)', self.__name, self.in_channels, self.out_channels,
                       kstr(self.kernel_size))
end

-- Cout * (output positions) * (Cin/groups) * prod(k), for the whole batch.
local function conv_macs(self, _, out)
  local k = 1
  for _, v in ipairs(self.kernel_size) do k = k * v end
  return out:numel() * (self.in_channels // self.groups) * k
end

---------------------------------------------------------------------------- Conv2d
local Conv2d = Module:extend('Conv2d')
M.Conv2d = Conv2d

-- nn.Conv2d(in, out, k, {stride=1, padding=0|'same'|'valid', dilation=1, groups=1, bias=true,
-- padding_mode='zeros'|'reflect'|'replicate'}); sizes are a number or {h, w}.
function Conv2d:__init(cin, cout, k, opts) conv_init(self, 'nn.Conv2d', 2, cin, cout, k, opts) end
Conv2d.reset_parameters = reset_conv
Conv2d.extra_repr = conv_repr
Conv2d._short_name = conv_short
Conv2d.macs = conv_macs

function Conv2d:forward(x)
  local unbatched = nb.is_tensor(x) and x:dim() == 3 and x.shape[1] == self.in_channels
  if unbatched then x = x:unsqueeze(1) end
  if not nb.is_tensor(x) or x:dim() ~= 4 or x.shape[2] ~= self.in_channels then
    U.shape_error(self, string.format('[N,%d,H,W]', self.in_channels), x)
  end
  U.check_dtype(self, x, self.weight)
  local y = conv_call(self, x, nb.conv2d, 2)
  if unbatched then y = y:squeeze(1) end
  return y
end

---------------------------------------------------------------------------- Conv1d
local Conv1d = Module:extend('Conv1d')
M.Conv1d = Conv1d

-- nn.Conv1d(in, out, k, {...}) over x [N, C, L] (same options as Conv2d, numbers only).
function Conv1d:__init(cin, cout, k, opts) conv_init(self, 'nn.Conv1d', 1, cin, cout, k, opts) end
Conv1d.reset_parameters = reset_conv
Conv1d.extra_repr = conv_repr
Conv1d._short_name = conv_short
Conv1d.macs = conv_macs

function Conv1d:forward(x)
  local unbatched = nb.is_tensor(x) and x:dim() == 2 and x.shape[1] == self.in_channels
  if unbatched then x = x:unsqueeze(1) end
  if not nb.is_tensor(x) or x:dim() ~= 3 or x.shape[2] ~= self.in_channels then
    U.shape_error(self, string.format('[N,%d,L]', self.in_channels), x)
  end
  U.check_dtype(self, x, self.weight)
  local y = conv_call(self, x, nb.conv1d, 1)
  if unbatched then y = y:squeeze(1) end
  return y
end

---------------------------------------------------------------------------- ConvTranspose2d
local ConvTranspose2d = Module:extend('ConvTranspose2d')
M.ConvTranspose2d = ConvTranspose2d

-- nn.ConvTranspose2d(in, out, k, {stride=1, padding=0, output_padding=0, dilation=1,
-- groups=1, bias=true}): the adjoint of Conv2d; output size (n-1)s - 2p + d(k-1) + op + 1.
function ConvTranspose2d:__init(cin, cout, k, opts)
  local fname = 'nn.ConvTranspose2d'
  check_count(fname, 'in_channels', cin)
  check_count(fname, 'out_channels', cout)
  local o = U.options(fname, opts, {stride = 1, padding = 0, output_padding = 0, dilation = 1,
                                    groups = 1, bias = true, dtype = 'f32'})
  if cin % o.groups ~= 0 or cout % o.groups ~= 0 then
    U.raise(string.format('%s: in_channels (%d) and out_channels (%d) must be divisible by ' ..
                          'groups (%d)', fname, cin, cout, o.groups))
  end
  self.in_channels, self.out_channels, self.groups = cin, cout, o.groups
  self.kernel_size = pair(fname, 'kernel_size', k, 2)
  self.stride = pair(fname, 'stride', o.stride, 2)
  self.padding = pair(fname, 'padding', o.padding, 2)
  self.output_padding = pair(fname, 'output_padding', o.output_padding, 2)
  self.dilation = pair(fname, 'dilation', o.dilation, 2)
  self.padding_mode = 'zeros'
  self:register_parameter('weight', nb.zeros({cin, cout // o.groups, self.kernel_size[1],
                                              self.kernel_size[2]}, o.dtype))
  self:register_parameter('bias', o.bias and nb.zeros({cout}, o.dtype) or nil)
  self:reset_parameters()
end
ConvTranspose2d.reset_parameters = reset_conv
ConvTranspose2d._short_name = conv_short

function ConvTranspose2d:extra_repr()
  local s = conv_repr(self)
  if not all_eq(self.output_padding, 0) then
    s = s .. ', output_padding=' .. kstr(self.output_padding)
  end
  return s
end

function ConvTranspose2d:forward(x)
  local unbatched = nb.is_tensor(x) and x:dim() == 3 and x.shape[1] == self.in_channels
  if unbatched then x = x:unsqueeze(1) end
  if not nb.is_tensor(x) or x:dim() ~= 4 or x.shape[2] ~= self.in_channels then
    U.shape_error(self, string.format('[N,%d,H,W]', self.in_channels), x)
  end
  U.check_dtype(self, x, self.weight)
  local y = nb.conv_transpose2d(x, self.weight, self.bias, {
    stride = self.stride, padding = self.padding, output_padding = self.output_padding,
    dilation = self.dilation, groups = self.groups})
  if unbatched then y = y:squeeze(1) end
  return y
end

-- Each input pixel is scattered through a (Cout/groups) x kh x kw kernel.
function ConvTranspose2d:macs(ins)
  local x = ins[1]
  return x:numel() * (self.out_channels // self.groups) * self.kernel_size[1] *
         self.kernel_size[2]
end

return M
