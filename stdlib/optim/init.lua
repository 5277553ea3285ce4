-- optim: optimizers (SGD, Adam, AdamW, RMSprop, Adagrad), learning-rate schedulers
-- (optim.StepLR, CosineAnnealingLR, ...) and gradient clipping.  Usage as PyTorch:
--   local opt = optim.SGD(model:parameters(), {lr = 0.1, momentum = 0.9})
--   opt:zero_grad(); loss:backward(); opt:step()
-- Updates run in C over whole tensors (optim/kernels.lua).  docs/nn.md is the guide.
local nb = require 'nabla'
local M = {}

M.Optimizer = require('optim.optimizer').Optimizer
M.SGD = require 'optim.sgd'
local adam = require 'optim.adam'
M.Adam, M.AdamW = adam.Adam, adam.AdamW
M.RMSprop = require 'optim.rmsprop'
M.Adagrad = require 'optim.adagrad'

local sched = require 'optim.sched'
M.lr_scheduler = sched
for k, v in pairs(sched) do if k ~= 'Scheduler' then M[k] = v end end

local function grads(params)
  if nb.is_tensor(params) then params = {params} end
  if type(params) == 'table' and params.__is_module then params = params:parameters() end
  local out = {}
  for _, p in ipairs(params) do
    if type(p) == 'table' and nb.is_tensor(p[2]) then p = p[2] end
    if p.grad ~= nil then out[#out + 1] = p end
  end
  return out
end

-- Scales all gradients together so that their total norm is at most max_norm (the norm of
-- the concatenated gradients; norm_type 2 by default, math.huge for the max norm).  Returns
-- the total norm before clipping, as a number.  Scaling by max_norm/(total + 1e-6) as PyTorch.
function M.clip_grad_norm(params, max_norm, norm_type)
  norm_type = norm_type or 2
  local ps = grads(params)
  local total = 0
  nb.no_grad(function()
    for _, p in ipairs(ps) do
      local g = p.grad
      if norm_type == math.huge then
        total = math.max(total, g:abs():max():item())
      else
        total = total + g:abs():pow(norm_type):sum():item()
      end
    end
    if norm_type ~= math.huge then total = total ^ (1 / norm_type) end
    local coef = max_norm / (total + 1e-6)
    if coef < 1 then
      for _, p in ipairs(ps) do p.grad:mul_(coef) end
    end
  end)
  return total
end
M.clip_grad_norm_ = M.clip_grad_norm

-- Clamps every gradient entry to [-v, v].
function M.clip_grad_value(params, v)
  nb.no_grad(function()
    for _, p in ipairs(grads(params)) do p.grad:clamp_(-v, v) end
  end)
end
M.clip_grad_value_ = M.clip_grad_value

local docs = {
  SGD = 'optim.SGD(params, {lr=, momentum=0, dampening=0, nesterov=false, weight_decay=0})',
  Adam = 'optim.Adam(params, {lr=1e-3, betas={0.9, 0.999}, eps=1e-8, weight_decay=0, amsgrad=})',
  AdamW = 'optim.AdamW(params, {lr=1e-3, betas=, eps=, weight_decay=1e-2}) — decoupled decay',
  RMSprop = 'optim.RMSprop(params, {lr=1e-2, alpha=0.99, eps=1e-8, momentum=0, centered=false})',
  Adagrad = 'optim.Adagrad(params, {lr=1e-2, lr_decay=0, initial_accumulator_value=0})',
  StepLR = 'optim.StepLR(opt, step_size, {gamma=0.1}) — lr = base gamma^floor(e/step_size)',
  MultiStepLR = 'optim.MultiStepLR(opt, milestones, {gamma=0.1})',
  ExponentialLR = 'optim.ExponentialLR(opt, gamma) — lr = base gamma^e',
  CosineAnnealingLR = 'optim.CosineAnnealingLR(opt, T_max, {eta_min=0})',
  LambdaLR = 'optim.LambdaLR(opt, fn) — lr = base fn(e)',
  ReduceLROnPlateau = 'optim.ReduceLROnPlateau(opt, {factor=0.1, patience=10}) — step(metric)',
  clip_grad_norm = 'optim.clip_grad_norm(params, max_norm, norm_type=2) — scale gradients to ' ..
                   'a total norm <= max_norm; returns the total norm',
  clip_grad_value = 'optim.clip_grad_value(params, v) — clamp gradients to [-v, v]',
}
local method_docs = {
  step = 'opt:step(closure?) — one update of every parameter from its .grad (in C, under no_grad)',
  zero_grad = 'opt:zero_grad() — set every parameter\'s .grad to nil',
  add_param_group = 'opt:add_param_group{params=, lr=, ...} — a group with its own settings',
  get_lr = 'opt:get_lr() — the learning rate of each group, as a list',
  state_dict = 'opt:state_dict() — settings and per-parameter state (momentum buffers, moments)',
  load_state_dict = 'opt:load_state_dict(sd) — restore what state_dict returned',
  update = 'opt:update(p, g, state, group) — the per-parameter rule a subclass defines',
  extend = 'optim.Optimizer:extend(name, defaults, validate) — a new optimizer class',
  new = 'optim.Optimizer.new(cls, params, opts) — construct (used by the classes)',
}
if nb.doc then
  for k, v in pairs(docs) do nb.doc(M[k], v) end
  for k, v in pairs(method_docs) do
    if M.Optimizer and M.Optimizer[k] then nb.doc(M.Optimizer[k], v) end
  end
  nb.doc(M, 'optim — SGD, Adam, AdamW, RMSprop, Adagrad, schedulers, clip_grad_norm (docs/nn.md)')
end

return M
