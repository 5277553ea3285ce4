-- optim.Optimizer: the base of every optimizer.  Holds param_groups (each a table with
-- `params` and its hyperparameters, e.g. {params = {...}, lr = 0.01}) and per-parameter state,
-- and runs the subclass's update for every parameter that has a gradient, under no_grad, with
-- whole-tensor in-place ops (nothing loops over elements in Lua).
local nb = require 'nabla'
local M = {}

local Optimizer = {}
Optimizer.__index = Optimizer
Optimizer.__name = 'Optimizer'
M.Optimizer = Optimizer

local raise = require('nn.module').raise

-- Raised at the caller's line (the first frame outside nn/ and optim/).
local function fail(fmt, ...)
  raise(string.format(fmt, ...))
end

-- A parameter list from a module, a named_parameters list, a single tensor or a list.
local function as_params(name, v)
  if nb.is_tensor(v) then return {v} end
  if type(v) ~= 'table' then fail('%s: expected a list of parameters, got %s', name, type(v)) end
  if v.__is_module then return v:parameters() end
  local out = {}
  for i, p in ipairs(v) do
    if type(p) == 'table' and nb.is_tensor(p[2]) then p = p[2] end   -- {name, p} pairs
    if not nb.is_tensor(p) then
      fail('%s: parameter %d is a %s, not a tensor', name, i, type(p))
    end
    out[#out + 1] = p
  end
  return out
end

-- cls = Optimizer:extend('SGD', {lr = 1e-3, ...}, validate); cls(params, opts) builds one.
function Optimizer:extend(name, defaults, validate)
  local cls = setmetatable({}, {
    __index = self,
    __call = function(c, params, opts) return c.new(c, params, opts) end,
  })
  cls.__index = cls
  cls.__name = name
  cls.__tostring = Optimizer.__tostring
  cls.defaults_template = defaults
  cls.validate = validate
  return cls
end

function Optimizer.new(cls, params, opts)
  local name = 'optim.' .. cls.__name
  opts = opts or {}
  local defaults = {}
  for k, v in pairs(cls.defaults_template) do defaults[k] = v end
  for k, v in pairs(opts) do
    if cls.defaults_template[k] == nil then
      local keys = {}
      for d in pairs(cls.defaults_template) do keys[#keys + 1] = d end
      table.sort(keys)
      fail("%s: unknown option '%s' (expected: %s)", name, tostring(k), table.concat(keys, ', '))
    end
    defaults[k] = v
  end
  local self = setmetatable({defaults = defaults, param_groups = {}, state = {}}, cls)
  local groups
  if type(params) == 'table' and not nb.is_tensor(params) and not params.__is_module and
     type(params[1]) == 'table' and params[1].params ~= nil then
    groups = params
  else
    groups = {{params = params}}
  end
  local seen = {}
  for gi, g in ipairs(groups) do
    local group = {}
    for k, v in pairs(defaults) do group[k] = v end
    for k, v in pairs(g) do
      if k ~= 'params' and cls.defaults_template[k] == nil and k ~= 'initial_lr' then
        fail("%s: unknown option '%s' in parameter group %d", name, tostring(k), gi)
      end
      group[k] = v
    end
    group.params = as_params(name, g.params)
    for _, p in ipairs(group.params) do
      if seen[p] then fail('%s: a parameter appears in more than one group', name) end
      seen[p] = true
    end
    if cls.validate then
      local err = cls.validate(group)
      if err then fail('%s: %s', name, err) end
    end
    self.param_groups[gi] = group
  end
  return self
end

function Optimizer:__tostring()
  local parts = {}
  for i, g in ipairs(self.param_groups) do
    local kv = {}
    for k, v in pairs(g) do
      if k ~= 'params' then kv[#kv + 1] = k .. '=' .. tostring(v) end
    end
    table.sort(kv)
    parts[#parts + 1] = string.format('  group %d (%d params): %s', i, #g.params,
                                      table.concat(kv, ', '))
  end
  return self.__name .. '(\n' .. table.concat(parts, '\n') .. '\n)'
end

function Optimizer:add_param_group(g)
  local tmp = self.new(getmetatable(self), {g}, self.defaults)
  self.param_groups[#self.param_groups + 1] = tmp.param_groups[1]
end

-- Drops every gradient (PyTorch's set_to_none=True), so the next backward starts fresh.
function Optimizer:zero_grad()
  for _, g in ipairs(self.param_groups) do
    for _, p in ipairs(g.params) do p.grad = nil end
  end
end

-- Runs closure() (with grad enabled) first when given, and returns its loss.
function Optimizer:step(closure)
  local loss
  if closure then loss = nb.enable_grad(closure) end
  nb.no_grad(function()
    for _, group in ipairs(self.param_groups) do
      for _, p in ipairs(group.params) do
        local g = p.grad
        if g ~= nil then
          local st = self.state[p]
          if st == nil then st = {}; self.state[p] = st end
          self:update(p, g, group, st)
        end
      end
    end
  end)
  return loss
end

-- The learning rates of the groups, as a list.
function Optimizer:get_lr()
  local out = {}
  for i, g in ipairs(self.param_groups) do out[i] = g.lr end
  return out
end

-- {state = {[k] = {...}}, param_groups = {{lr=..., params = {k...}}}} with parameters numbered
-- 1.. across the groups in order, as PyTorch.  State tensors are the live ones.
function Optimizer:state_dict()
  local state, groups, k = {}, {}, 0
  for gi, g in ipairs(self.param_groups) do
    local pg = {params = {}}
    for key, v in pairs(g) do if key ~= 'params' then pg[key] = v end end
    for _, p in ipairs(g.params) do
      k = k + 1
      pg.params[#pg.params + 1] = k
      if self.state[p] then
        local s = {}
        for key, v in pairs(self.state[p]) do s[key] = v end
        state[k] = s
      end
    end
    groups[gi] = pg
  end
  return {state = state, param_groups = groups}
end

-- Restores hyperparameters and (copied) state; the group sizes must match.
function Optimizer:load_state_dict(sd)
  if type(sd) ~= 'table' or type(sd.param_groups) ~= 'table' then
    error('load_state_dict: expected a table from opt:state_dict()', 2)
  end
  if #sd.param_groups ~= #self.param_groups then
    error(string.format('load_state_dict: the state has %d parameter groups, the optimizer %d',
                        #sd.param_groups, #self.param_groups), 2)
  end
  local k = 0
  local new_state = {}
  for gi, g in ipairs(self.param_groups) do
    local pg = sd.param_groups[gi]
    if #pg.params ~= #g.params then
      error(string.format('load_state_dict: group %d has %d parameters in the state, %d in ' ..
                          'the optimizer', gi, #pg.params, #g.params), 2)
    end
    for key, v in pairs(pg) do if key ~= 'params' then g[key] = v end end
    for i, p in ipairs(g.params) do
      k = k + 1
      local s = sd.state[pg.params[i]]
      if s then
        local c = {}
        for key, v in pairs(s) do
          if nb.is_tensor(v) then
            if v:numel() == p:numel() and v.dtype ~= p.dtype and v.dtype ~= 'i64' then
              v = v:to(p.dtype)
            end
            c[key] = v:clone()
          else
            c[key] = v
          end
        end
        new_state[p] = c
      end
    end
  end
  self.state = new_state
end

function Optimizer:update()
  error(self.__name .. ': this optimizer class defines no update(p, g, state, group) method', 2)
end

return M
