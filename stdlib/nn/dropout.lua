-- Dropout layers; all are the identity in eval mode (m:eval()) and have no parameters.
--   Dropout(p)          inverted Bernoulli: keep with probability 1-p, scale kept by 1/(1-p)
--   Dropout2d(p)        the same mask for a whole channel of [N, C, ...] (spatial dropout)
--   GaussianDropout(α)  multiply by ε ~ N(1, α), α the variance; {p=} sets α = p/(1-p), which
--                       matches Bernoulli dropout's mean and variance (Srivastava et al. 2014)
local U = require 'nn.module'
local F = require 'nn.functional'
local Module = U.Module
local M = {}

local function check_p(fname, p)
  if type(p) ~= 'number' or p < 0 or p > 1 then
    U.raise(string.format('%s: p must be a probability in [0, 1], got %s', fname, tostring(p)))
  end
end

local Dropout = Module:extend('Dropout')
M.Dropout = Dropout
function Dropout:__init(p)
  if p == nil then p = 0.5 end
  check_p('nn.Dropout', p)
  self.p = p
end
function Dropout:forward(x) return F.dropout(x, self.p, self.training) end
function Dropout:extra_repr() return 'p=' .. self.p end

local Dropout2d = Module:extend('Dropout2d')
M.Dropout2d = Dropout2d
function Dropout2d:__init(p)
  if p == nil then p = 0.5 end
  check_p('nn.Dropout2d', p)
  self.p = p
end
function Dropout2d:forward(x)
  if x:dim() < 3 then U.shape_error(self, '[N,C,H,W] or [N,C,L]', x) end
  return F.dropout2d(x, self.p, self.training)
end
function Dropout2d:extra_repr() return 'p=' .. self.p end

local GaussianDropout = Module:extend('GaussianDropout')
M.GaussianDropout = GaussianDropout
-- nn.GaussianDropout(alpha) or nn.GaussianDropout{p=0.5} (alpha = p/(1-p)).
function GaussianDropout:__init(alpha)
  if type(alpha) == 'table' then
    local p = alpha.p
    check_p('nn.GaussianDropout', p)
    if p >= 1 then U.raise('nn.GaussianDropout: p must be < 1') end
    alpha = p / (1 - p)
  end
  if type(alpha) ~= 'number' or alpha < 0 then
    U.raise('nn.GaussianDropout: alpha (the noise variance) must be a number >= 0')
  end
  self.alpha = alpha
end
function GaussianDropout:forward(x) return F.gaussian_dropout(x, self.alpha, self.training) end
function GaussianDropout:extra_repr() return string.format('alpha=%g', self.alpha) end

return M
