-- The update rules of the optimizers over whole tensors, called under no_grad with the
-- parameter p, its gradient g, the group's hyperparameters and the parameter's state table.
-- Every line is a C kernel over the whole tensor (in place where the target is ours: p, the
-- state buffers); when the nabla module has fused steps (nb._optim, lua/lb_optim.c) they are
-- used instead, which saves the temporaries and passes over memory.
local nb = require 'nabla'
local M = {}

local fused = rawget(nb, '_optim')
-- Set to false to run the elementwise-op version (the tests check both give the same steps).
M.use_fused = fused ~= nil

-- The fused steps read p and g as flat arrays: p must be contiguous (parameters are), and a
-- strided gradient (say the transposed view some backward produces) is copied once first.
local function can_fuse(p, g)
  return M.use_fused and fused ~= nil and p:is_contiguous() and g.dtype == p.dtype
end
local function flat_grad(g)
  if g:is_contiguous() then return g end
  return g:contiguous()
end

local function prep_grad(p, g, group)
  if group.maximize then g = -g end
  if group.weight_decay ~= 0 then g = g + p * group.weight_decay end
  return g
end

function M.sgd(p, g, group, st)
  local lr, mu = group.lr, group.momentum
  if can_fuse(p, g) then
    local buf = st.momentum_buffer
    if mu ~= 0 and buf == nil then
      buf = nb.zeros(p.shape, p.dtype); st.momentum_buffer = buf
      fused.sgd(p, flat_grad(g), buf, lr, mu, group.dampening, group.nesterov,
                group.weight_decay, group.maximize, true)
    else
      fused.sgd(p, flat_grad(g), buf, lr, mu, group.dampening, group.nesterov,
                group.weight_decay, group.maximize, false)
    end
    return
  end
  g = prep_grad(p, g, group)
  if mu ~= 0 then
    local buf = st.momentum_buffer
    if buf == nil then
      buf = g:detach():clone()
      st.momentum_buffer = buf
    else
      buf:mul_(mu)
      if group.dampening ~= 0 then buf:add_(g * (1 - group.dampening)) else buf:add_(g) end
    end
    if group.nesterov then g = g + buf * mu else g = buf end
  end
  p:sub_(g * lr)
end

function M.adam(p, g, group, st, decoupled)
  local lr, b1, b2, eps = group.lr, group.betas[1], group.betas[2], group.eps
  if st.step == nil then
    st.step = 0
    st.exp_avg = nb.zeros(p.shape, p.dtype)
    st.exp_avg_sq = nb.zeros(p.shape, p.dtype)
    if group.amsgrad then st.max_exp_avg_sq = nb.zeros(p.shape, p.dtype) end
  end
  st.step = st.step + 1
  local t = st.step
  local bc1, bc2 = 1 - b1 ^ t, 1 - b2 ^ t
  if can_fuse(p, g) then
    fused.adam(p, flat_grad(g), st.exp_avg, st.exp_avg_sq, st.max_exp_avg_sq, lr, b1, b2, eps,
               group.weight_decay, decoupled, group.maximize, bc1, bc2)
    return
  end
  if decoupled then
    if group.maximize then g = -g end
    if group.weight_decay ~= 0 then p:mul_(1 - lr * group.weight_decay) end
  else
    g = prep_grad(p, g, group)
  end
  local m, v = st.exp_avg, st.exp_avg_sq
  m:mul_(b1):add_(g * (1 - b1))
  v:mul_(b2):add_(g * g * (1 - b2))
  local vv = v
  if group.amsgrad then
    st.max_exp_avg_sq:copy_(nb.maximum(st.max_exp_avg_sq, v))
    vv = st.max_exp_avg_sq
  end
  local denom = vv:sqrt():div_(math.sqrt(bc2)):add_(eps)
  p:sub_((m / denom):mul_(lr / bc1))
end

function M.rmsprop(p, g, group, st)
  local alpha, eps, mu = group.alpha, group.eps, group.momentum
  if st.step == nil then
    st.step = 0
    st.square_avg = nb.zeros(p.shape, p.dtype)
    if mu > 0 then st.momentum_buffer = nb.zeros(p.shape, p.dtype) end
    if group.centered then st.grad_avg = nb.zeros(p.shape, p.dtype) end
  end
  st.step = st.step + 1
  g = prep_grad(p, g, group)
  local v = st.square_avg
  v:mul_(alpha):add_(g * g * (1 - alpha))
  local avg
  if group.centered then
    local a = st.grad_avg
    a:mul_(alpha):add_(g * (1 - alpha))
    avg = (v - a * a):sqrt():add_(eps)
  else
    avg = v:sqrt():add_(eps)
  end
  if mu > 0 then
    local buf = st.momentum_buffer
    buf:mul_(mu):add_(g / avg)
    p:sub_(buf * group.lr)
  else
    p:sub_((g / avg):mul_(group.lr))
  end
end

function M.adagrad(p, g, group, st)
  if st.step == nil then
    st.step = 0
    st.sum = nb.full(p.shape, group.initial_accumulator_value, p.dtype)
  end
  st.step = st.step + 1
  g = prep_grad(p, g, group)
  local clr = group.lr / (1 + (st.step - 1) * group.lr_decay)
  local s = st.sum
  s:add_(g * g)
  p:sub_((g / s:sqrt():add_(group.eps)):mul_(clr))
end

return M
