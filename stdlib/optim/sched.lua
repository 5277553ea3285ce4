-- Learning-rate schedulers, as torch.optim.lr_scheduler.  Each remembers every group's
-- initial lr (base_lr) and sets group.lr = f(epoch) from a closed form when sched:step() is
-- called (once per epoch, after opt:step()); sched:get_lr() returns the current lrs as a list.
--   StepLR(opt, step_size, {gamma=0.1})      base * gamma^floor(epoch/step_size)
--   MultiStepLR(opt, milestones, {gamma=0.1}) base * gamma^(number of milestones <= epoch)
--   ExponentialLR(opt, gamma)                base * gamma^epoch
--   CosineAnnealingLR(opt, T_max, {eta_min=0}) eta_min + (base - eta_min)(1 + cos(π epoch/T_max))/2
--   LambdaLR(opt, fn)                        base * fn(epoch)  (fn may be a list, one per group)
--   ReduceLROnPlateau(opt, {mode='min', factor=0.1, patience=10, threshold=1e-4, min_lr=0}):
--                                            step(metric) cuts lr by factor after `patience`
--                                            epochs without improvement
local M = {}

local Scheduler = {}
Scheduler.__index = Scheduler
M.Scheduler = Scheduler

local function new(cls, opt, lr_at)
  local self = setmetatable({optimizer = opt, last_epoch = 0, base_lrs = {}, lr_at = lr_at}, cls)
  for i, g in ipairs(opt.param_groups) do
    if g.initial_lr == nil then g.initial_lr = g.lr end
    self.base_lrs[i] = g.initial_lr
  end
  self:_apply()
  return self
end

function Scheduler:_apply()
  for i, g in ipairs(self.optimizer.param_groups) do
    g.lr = self.lr_at(self.base_lrs[i], self.last_epoch, i)
  end
end

-- Advances one epoch (or jumps to `epoch`) and sets the groups' lrs.
function Scheduler:step(epoch)
  self.last_epoch = epoch or self.last_epoch + 1
  self:_apply()
  return self:get_lr()
end

function Scheduler:get_lr()
  local out = {}
  for i, g in ipairs(self.optimizer.param_groups) do out[i] = g.lr end
  return out
end
Scheduler.get_last_lr = Scheduler.get_lr

function Scheduler:state_dict()
  return {last_epoch = self.last_epoch, base_lrs = {table.unpack(self.base_lrs)}}
end

function Scheduler:load_state_dict(sd)
  self.last_epoch = sd.last_epoch
  self.base_lrs = {table.unpack(sd.base_lrs)}
  self:_apply()
end

local function class(name)
  local cls = setmetatable({}, {__index = Scheduler})
  cls.__index = cls
  cls.__name = name
  cls.__tostring = function(s)
    return string.format('%s(epoch=%d, lr=%s)', name, s.last_epoch,
                         table.concat(s:get_lr(), ', '))
  end
  return cls
end

local function check(cond, fmt, ...)
  if not cond then error(string.format(fmt, ...), 3) end
end

local StepLR = class('StepLR')
function M.StepLR(opt, step_size, opts)
  check(type(step_size) == 'number' and step_size >= 1, 'StepLR: step_size must be >= 1')
  local gamma = opts and opts.gamma or 0.1
  return new(StepLR, opt, function(base, e) return base * gamma ^ (e // step_size) end)
end

local MultiStepLR = class('MultiStepLR')
function M.MultiStepLR(opt, milestones, opts)
  check(type(milestones) == 'table', 'MultiStepLR: milestones must be a list of epochs')
  local gamma = opts and opts.gamma or 0.1
  return new(MultiStepLR, opt, function(base, e)
    local k = 0
    for _, m in ipairs(milestones) do if e >= m then k = k + 1 end end
    return base * gamma ^ k
  end)
end

local ExponentialLR = class('ExponentialLR')
function M.ExponentialLR(opt, gamma)
  check(type(gamma) == 'number', 'ExponentialLR: gamma must be a number')
  return new(ExponentialLR, opt, function(base, e) return base * gamma ^ e end)
end

local CosineAnnealingLR = class('CosineAnnealingLR')
function M.CosineAnnealingLR(opt, T_max, opts)
  check(type(T_max) == 'number' and T_max > 0, 'CosineAnnealingLR: T_max must be > 0')
  local eta_min = opts and opts.eta_min or 0
  return new(CosineAnnealingLR, opt, function(base, e)
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * e / T_max)) / 2
  end)
end

local LambdaLR = class('LambdaLR')
function M.LambdaLR(opt, fn)
  check(type(fn) == 'function' or type(fn) == 'table', 'LambdaLR: expected a function')
  return new(LambdaLR, opt, function(base, e, i)
    local f = type(fn) == 'table' and fn[i] or fn
    return base * f(e)
  end)
end

local Plateau = class('ReduceLROnPlateau')
function M.ReduceLROnPlateau(opt, opts)
  opts = opts or {}
  local self = setmetatable({optimizer = opt, mode = opts.mode or 'min',
                             factor = opts.factor or 0.1, patience = opts.patience or 10,
                             threshold = opts.threshold or 1e-4, min_lr = opts.min_lr or 0,
                             best = nil, bad_epochs = 0, last_epoch = 0}, Plateau)
  check(self.factor < 1, 'ReduceLROnPlateau: factor must be < 1')
  return self
end
-- step(metric): relative improvement by more than threshold resets the count.
function Plateau:step(metric)
  self.last_epoch = self.last_epoch + 1
  local better
  if self.best == nil then better = true
  elseif self.mode == 'min' then better = metric < self.best * (1 - self.threshold)
  else better = metric > self.best * (1 + self.threshold) end
  if better then
    self.best, self.bad_epochs = metric, 0
  else
    self.bad_epochs = self.bad_epochs + 1
    if self.bad_epochs > self.patience then
      for _, g in ipairs(self.optimizer.param_groups) do
        g.lr = math.max(g.lr * self.factor, self.min_lr)
      end
      self.bad_epochs = 0
    end
  end
  return self:get_lr()
end
function Plateau:state_dict()
  return {best = self.best, bad_epochs = self.bad_epochs, last_epoch = self.last_epoch}
end
function Plateau:load_state_dict(sd)
  self.best, self.bad_epochs, self.last_epoch = sd.best, sd.bad_epochs, sd.last_epoch
end

return M
