-- nn: PyTorch-shaped neural-network modules for nabla.
--   nn.Module (base class; Module:extend('Name') for your own), the layers (linear, conv, pool,
--   norm, dropout, activation, recurrent, attention, container), the losses, nn.F (functional
--   forms), nn.init (initializers) and nn.Parameter.  docs/nn.md is the guide.
local nb = require 'nabla'
local U = require 'nn.module'
local M = {}

M.Module = U.Module
M.F = require 'nn.functional'
M.functional = M.F
M.init = require 'nn.init_fns'
M.train_epoch = require('nn.train').train_epoch

for _, file in ipairs({'nn.linear', 'nn.conv', 'nn.pool', 'nn.norm', 'nn.dropout',
                       'nn.activation', 'nn.recurrent', 'nn.attention', 'nn.container',
                       'nn.loss'}) do
  for k, v in pairs(require(file)) do
    if type(v) == 'table' and v.__is_module then M[k] = v end
  end
end

-- nn.Parameter(t): t as a leaf that requires grad (a detached copy if t has history), so that
-- assigning it to a module field registers it.
function M.Parameter(t, requires_grad)
  if type(t) == 'number' then t = nb.tensor(t) end
  if not nb.is_tensor(t) then error('nn.Parameter: expected a tensor', 2) end
  if t.grad_fn ~= nil then t = t:detach():clone() end
  if requires_grad == false then return t end
  if not t.requires_grad then t:requires_grad_() end
  return t
end

M.is_module = U.is_module
M.named_list = U.named_list
M.functional_call = U.functional_call

-- :help lines (nb._docs) for the classes, methods and functions
if nb.doc then
  for path, line in pairs(require('nn.docs')) do
    local v = M
    for part in path:gmatch('[^.]+') do v = v and v[part] end
    if v ~= nil then nb.doc(v, line) end
  end
  nb.doc(M, 'nn — layers, losses, nn.F functional forms and nn.init (docs/nn.md)')
end

-- nn.LoRALinear and nn.Adapter live in stdlib/nn_lora.lua (next to the low-rank lesson's
-- module); they load on first use.
setmetatable(M, {__index = function(t, k)
  if k ~= 'LoRALinear' and k ~= 'Adapter' then return nil end
  local L = require 'nn_lora'
  rawset(t, 'LoRALinear', L.LoRALinear)
  rawset(t, 'Adapter', L.Adapter)
  return rawget(t, k)
end})

return M
