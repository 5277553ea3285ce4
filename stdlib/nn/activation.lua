-- Activation layers (no parameters, 0 MACs): ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Softplus,
-- SiLU, ELU, Softmax, LogSoftmax.  Defaults as PyTorch: LeakyReLU slope 0.01, GELU exact
-- (approximate='tanh' available), Softplus beta 1, ELU alpha 1; Softmax/LogSoftmax take the
-- dim (1-based, negative from the end) and default to the last dim.
local U = require 'nn.module'
local F = require 'nn.functional'
local Module = U.Module
local M = {}

local function simple(name, fn)
  local cls = Module:extend(name)
  cls.forward = function(_, x) return fn(x) end
  M[name] = cls
  return cls
end

simple('ReLU', F.relu)
simple('Sigmoid', F.sigmoid)
simple('Tanh', F.tanh)
simple('SiLU', F.silu)

local LeakyReLU = Module:extend('LeakyReLU')
M.LeakyReLU = LeakyReLU
function LeakyReLU:__init(negative_slope) self.negative_slope = negative_slope or 0.01 end
function LeakyReLU:forward(x) return F.leaky_relu(x, self.negative_slope) end
function LeakyReLU:extra_repr() return string.format('negative_slope=%g', self.negative_slope) end

local GELU = Module:extend('GELU')
M.GELU = GELU
-- nn.GELU() or nn.GELU{approximate='tanh'}
function GELU:__init(opts)
  local o = U.options('nn.GELU', opts, {approximate = 'none'})
  self.approximate = o.approximate
end
function GELU:forward(x) return F.gelu(x, {approximate = self.approximate}) end
function GELU:extra_repr()
  return self.approximate == 'none' and '' or "approximate='" .. self.approximate .. "'"
end

local Softplus = Module:extend('Softplus')
M.Softplus = Softplus
-- nn.Softplus() or nn.Softplus{beta=2}
function Softplus:__init(opts)
  local o = U.options('nn.Softplus', opts, {beta = 1, threshold = 20})
  self.beta, self.threshold = o.beta, o.threshold
end
function Softplus:forward(x) return F.softplus(x, {beta = self.beta}) end
function Softplus:extra_repr() return string.format('beta=%g', self.beta) end

local ELU = Module:extend('ELU')
M.ELU = ELU
function ELU:__init(alpha) self.alpha = alpha or 1 end
function ELU:forward(x) return F.elu(x, self.alpha) end
function ELU:extra_repr() return string.format('alpha=%g', self.alpha) end

local Softmax = Module:extend('Softmax')
M.Softmax = Softmax
function Softmax:__init(dim) self.dim = dim or -1 end
function Softmax:forward(x) return F.softmax(x, self.dim) end
function Softmax:extra_repr() return 'dim=' .. self.dim end

local LogSoftmax = Module:extend('LogSoftmax')
M.LogSoftmax = LogSoftmax
function LogSoftmax:__init(dim) self.dim = dim or -1 end
function LogSoftmax:forward(x) return F.log_softmax(x, self.dim) end
function LogSoftmax:extra_repr() return 'dim=' .. self.dim end

return M
