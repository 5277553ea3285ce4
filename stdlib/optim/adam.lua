-- optim.Adam(params, {lr=1e-3, betas={0.9, 0.999}, eps=1e-8, weight_decay=0, amsgrad=false,
-- maximize=false}) and optim.AdamW (the same with decoupled weight decay, default 1e-2).
-- PyTorch's update at step t:
--   g <- grad (+ wd p for Adam);  AdamW first does p <- p (1 - lr wd)
--   m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g²   (amsgrad: vmax <- max(vmax, v))
--   p <- p - lr/(1 - b1^t) * m / (sqrt(v)/sqrt(1 - b2^t) + eps)
local Optimizer = require('optim.optimizer').Optimizer
local K = require 'optim.kernels'
local M = {}

local function validate(g)
  if type(g.lr) ~= 'number' or g.lr < 0 then return 'lr must be >= 0' end
  if type(g.betas) ~= 'table' or #g.betas ~= 2 then return 'betas must be a pair {b1, b2}' end
  for i = 1, 2 do
    if g.betas[i] < 0 or g.betas[i] >= 1 then return 'betas must be in [0, 1)' end
  end
  if g.eps < 0 then return 'eps must be >= 0' end
  if g.weight_decay < 0 then return 'weight_decay must be >= 0' end
end

M.Adam = Optimizer:extend('Adam', {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0,
                                   amsgrad = false, maximize = false}, validate)
function M.Adam:update(p, grad, group, st) K.adam(p, grad, group, st, false) end

M.AdamW = Optimizer:extend('AdamW', {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8,
                                     weight_decay = 1e-2, amsgrad = false, maximize = false},
                           validate)
function M.AdamW:update(p, grad, group, st) K.adam(p, grad, group, st, true) end

return M
