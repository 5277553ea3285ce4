-- optim.RMSprop(params, {lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
-- centered=false}), PyTorch's update:
--   g <- grad + wd p;  v <- alpha v + (1 - alpha) g²
--   centered: a <- alpha a + (1 - alpha) g, denom = sqrt(v - a²) + eps; else sqrt(v) + eps
--   momentum: b <- mu b + g/denom, p <- p - lr b;  else p <- p - lr g/denom
local Optimizer = require('optim.optimizer').Optimizer
local K = require 'optim.kernels'

local RMSprop = Optimizer:extend('RMSprop', {lr = 1e-2, alpha = 0.99, eps = 1e-8,
                                             weight_decay = 0, momentum = 0, centered = false,
                                             maximize = false},
  function(g)
    if g.lr < 0 then return 'lr must be >= 0' end
    if g.alpha < 0 then return 'alpha must be >= 0' end
    if g.eps < 0 then return 'eps must be >= 0' end
  end)

function RMSprop:update(p, grad, group, st) K.rmsprop(p, grad, group, st) end

return RMSprop
