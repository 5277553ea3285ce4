-- optim.SGD(params, {lr=, momentum=0, dampening=0, nesterov=false, weight_decay=0,
-- maximize=false}), PyTorch's update:
--   g <- grad + wd p
--   momentum: b <- g at the first step, then b <- mu b + (1 - dampening) g;
--             g <- g + mu b (nesterov) or g <- b
--   p <- p - lr g
local Optimizer = require('optim.optimizer').Optimizer
local K = require 'optim.kernels'

local SGD = Optimizer:extend('SGD', {lr = false, momentum = 0, dampening = 0, nesterov = false,
                                     weight_decay = 0, maximize = false},
  function(g)
    if type(g.lr) ~= 'number' or g.lr < 0 then return 'lr must be given and >= 0' end
    if g.momentum < 0 then return 'momentum must be >= 0' end
    if g.weight_decay < 0 then return 'weight_decay must be >= 0' end
    if g.nesterov and (g.momentum <= 0 or g.dampening ~= 0) then
      return 'nesterov needs momentum > 0 and dampening 0'
    end
  end)

function SGD:update(p, grad, group, st)
  K.sgd(p, grad, group, st)
end

return SGD
