-- optim.Adagrad(params, {lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
-- eps=1e-10}), PyTorch's update at step t:
--   g <- grad + wd p;  clr = lr / (1 + (t - 1) lr_decay)
--   s <- s + g²;  p <- p - clr g / (sqrt(s) + eps)
local Optimizer = require('optim.optimizer').Optimizer
local K = require 'optim.kernels'

local Adagrad = Optimizer:extend('Adagrad', {lr = 1e-2, lr_decay = 0, weight_decay = 0,
                                             initial_accumulator_value = 0, eps = 1e-10,
                                             maximize = false},
  function(g)
    if g.lr < 0 then return 'lr must be >= 0' end
    if g.lr_decay < 0 then return 'lr_decay must be >= 0' end
    if g.initial_accumulator_value < 0 then return 'initial_accumulator_value must be >= 0' end
  end)

function Adagrad:update(p, grad, group, st) K.adagrad(p, grad, group, st) end

return Adagrad
