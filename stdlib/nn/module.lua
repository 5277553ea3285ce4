-- nn.Module: the base class of every layer, loss and model.  A module is a Lua table whose
-- parameters, buffers and submodules are plain fields (self.weight, self.fc1), with their
-- names kept in registration order so that named_parameters, state_dict and summary are
-- stable.  Classes are made with Module:extend(name); instances are callable (m(x) calls
-- m:forward(x)).  This file also holds the helpers the layer files share (shape errors, the
-- class mechanism); summary lives in nn/summary.lua.
local nb = require 'nabla'
local M = {}

---------------------------------------------------------------------------- helpers
-- '[64,1,28,28]' for a shape table.
function M.fmt_shape(shape)
  return '[' .. table.concat(shape, ',') .. ']'
end

-- The chunk names of this directory and its sibling optim/ ('@stdlib/nn/', '@stdlib/optim/').
local NN_DIR = debug.getinfo(1, 'S').source:match('^(.*[/@])module%.lua$') or '@nn/'
local OPTIM_DIR = NN_DIR:gsub('nn/$', 'optim/')

local function ours(src)
  return src:sub(1, #NN_DIR) == NN_DIR or src:sub(1, #OPTIM_DIR) == OPTIM_DIR
end

-- Raises msg at the first stack level outside the nn/optim modules, so that a shape error
-- points at the student's line ("train.lua:12: Linear(784→256): expected ...").
function M.raise(msg)
  local level = 2
  while true do
    local info = debug.getinfo(level, 'S')
    if not info then level = 2 break end
    if info.what ~= 'C' and not ours(info.source or '') then break end
    level = level + 1
  end
  error(msg, level)
end

-- Module error: "Conv2d(1→32, k=3): expected input [N,1,H,W], got [64,784]".
function M.shape_error(mod, expected, x)
  local got = nb.is_tensor(x) and M.fmt_shape(x.shape) or type(x)
  M.raise(string.format('%s: expected input %s, got %s', mod:_short_name(), expected, got))
end

-- The input's dtype must be the weights' (a common slip: f64 data into an f32 model).
function M.check_dtype(mod, x, w)
  if x.dtype ~= w.dtype then
    M.raise(string.format("%s: the input is %s but the weights are %s (convert the input with " ..
                          "x:to('%s'), or the model with m:to('%s'))", mod:_short_name(), x.dtype,
                          w.dtype, w.dtype, x.dtype))
  end
end

function M.is_module(v)
  return type(v) == 'table' and v.__is_module == true
end

-- Reads opts.key with a default, rejecting unknown keys so that typos ({strides=2}) are caught.
function M.options(fname, opts, defaults)
  opts = opts or {}
  if type(opts) ~= 'table' or nb.is_tensor(opts) then
    M.raise(string.format('%s: expected an options table, got %s', fname, type(opts)))
  end
  for k in pairs(opts) do
    if defaults[k] == nil then
      local keys = {}
      for d in pairs(defaults) do keys[#keys + 1] = d end
      table.sort(keys)
      M.raise(string.format("%s: unknown option '%s' (expected: %s)", fname, tostring(k),
                            table.concat(keys, ', ')))
    end
  end
  local o = {}
  for k, v in pairs(defaults) do
    local given = opts[k]
    if given == nil then o[k] = v else o[k] = given end
  end
  return o
end
-- 'defaults' cannot hold nil, so options that default to "unset" use this marker.
M.NONE = setmetatable({}, {__tostring = function() return 'none' end})
function M.opt(v) if v == M.NONE then return nil end return v end

-- A list of {name, value} pairs that also iterates: `for name, p in m:named_parameters()`,
-- `#list`, `list[1]` ({name, p}) and `list['fc.weight']` (the value) all work.
local Named = {}
Named.__index = function(t, k)
  if type(k) == 'string' then
    local pos = rawget(t, '_pos')
    local i = pos and pos[k]
    return i and rawget(t, i)[2] or nil
  end
  return nil
end
Named.__call = function(t, _, prev)
  local i = prev == nil and 1 or rawget(t, '_pos')[prev] + 1
  local e = rawget(t, i)
  if e then return e[1], e[2] end
  return nil
end
function M.named_list(entries)
  local pos = {}
  for i, e in ipairs(entries) do pos[e[1]] = i end
  entries._pos = pos
  return setmetatable(entries, Named)
end

---------------------------------------------------------------------------- the class
local Module = {}
Module.__name = 'Module'
Module.__is_module = true
Module.__index = Module
M.Module = Module

-- Fields that never count as parameters or submodules.
local INTERNAL = {_parameters = true, _buffers = true, _modules = true, _nonpersistent = true,
                  training = true, _forward_hooks = true}

-- Assigning a module or a leaf tensor that requires grad to a new field registers it, as
-- PyTorch's __setattr__ does: self.fc = nn.Linear(2, 3) and self.w = nn.Parameter(t) just work.
local function newindex(self, k, v)
  if type(k) == 'string' and not INTERNAL[k] then
    if M.is_module(v) then
      local list = rawget(self, '_modules')
      local found = false
      for _, n in ipairs(list) do if n == k then found = true break end end
      if not found then list[#list + 1] = k end
    elseif nb.is_tensor(v) and v.requires_grad and v.grad_fn == nil then
      local list = rawget(self, '_parameters')
      local found = false
      for _, n in ipairs(list) do if n == k then found = true break end end
      if not found then list[#list + 1] = k end
    end
  end
  rawset(self, k, v)
end

local recorder = nil   -- set by summary while it runs a forward pass

local function call(self, ...)
  local hooks = rawget(self, '_forward_hooks')
  if recorder == nil and hooks == nil then return self:forward(...) end
  local out = table.pack(self:forward(...))
  if hooks then
    for _, h in ipairs(hooks) do
      local r = h(self, {...}, out[1])
      if r ~= nil then out[1] = r end
    end
  end
  if recorder then recorder(self, {...}, out[1]) end
  return table.unpack(out, 1, out.n)
end

function M.set_recorder(fn) recorder = fn end

local function tostring_module(self) return self:_repr('') end

-- Metamethods are looked up raw in the metatable, so every class carries copies.
local META = {__call = call, __tostring = tostring_module, __newindex = newindex}

-- local Net = nn.Module:extend('Net')  (or :extend('Net', {__init=..., forward=...}))
-- Net(...) makes an instance: the base fields are set up, then Net.__init(self, ...) runs, so
-- subclasses never need to call a super constructor unless they extend a layer.
function Module:extend(name, methods)
  local cls = {}
  for k, v in pairs(META) do cls[k] = v end
  cls.__name = name or 'Module'
  cls.__index = cls
  cls.super = self
  if methods then for k, v in pairs(methods) do cls[k] = v end end
  return setmetatable(cls, {__index = self, __call = function(c, ...) return c.new(c, ...) end,
                            __tostring = function(c) return 'class ' .. c.__name end})
end

function Module.new(cls, ...)
  local self = setmetatable({_parameters = {}, _buffers = {}, _modules = {}, _nonpersistent = {},
                             training = true}, cls)
  self:__init(...)
  return self
end
for k, v in pairs(META) do Module[k] = v end
setmetatable(Module, {__call = function(c, ...) return c.new(c, ...) end})

function Module:__init() end

function Module:forward()
  error(self.__name .. ': the module defines no forward(x) method; add one', 2)
end

---------------------------------------------------------------------------- registration
local function add_name(list, name)
  for _, n in ipairs(list) do if n == name then return end end
  list[#list + 1] = name
end

-- p must be a tensor (made a leaf that requires grad) or nil (e.g. bias=false).
function Module:register_parameter(name, p)
  if p ~= nil then
    if not nb.is_tensor(p) then error('register_parameter: expected a tensor or nil', 2) end
    if not p.requires_grad then p:requires_grad_() end
    add_name(self._parameters, name)
  end
  rawset(self, name, p)
  return p
end

-- Buffers are state that is saved but not trained (running_mean); persistent=false keeps one
-- out of state_dict.
function Module:register_buffer(name, t, persistent)
  add_name(self._buffers, name)
  if persistent == false then self._nonpersistent[name] = true end
  rawset(self, name, t)
  return t
end

function Module:add_module(name, m)
  add_name(self._modules, name)
  rawset(self, name, m)
  return m
end
Module.register_module = Module.add_module

-- Handle with :remove(); fn(module, inputs, output) may return a replacement output.
function Module:register_forward_hook(fn)
  local hooks = rawget(self, '_forward_hooks')
  if not hooks then hooks = {}; rawset(self, '_forward_hooks', hooks) end
  hooks[#hooks + 1] = fn
  return {remove = function()
    for i, h in ipairs(hooks) do if h == fn then table.remove(hooks, i) break end end
    if #hooks == 0 then rawset(self, '_forward_hooks', nil) end
  end}
end

---------------------------------------------------------------------------- traversal
-- {name, module} pairs of the direct children; containers with numbered children override it.
function Module:_children_list()
  local out = {}
  for _, name in ipairs(self._modules) do
    local c = rawget(self, name)
    if c then out[#out + 1] = {name, c} end
  end
  return out
end

function Module:named_children()
  return M.named_list(self:_children_list())
end

function Module:children()
  local out = {}
  for i, e in ipairs(self:_children_list()) do out[i] = e[2] end
  return out
end

-- Pre-order: self first (name ''), then every descendant once.
function Module:named_modules(prefix)
  local out, seen = {}, {}
  local function walk(m, p)
    if seen[m] then return end
    seen[m] = true
    out[#out + 1] = {p, m}
    for _, e in ipairs(m:_children_list()) do
      walk(e[2], p == '' and e[1] or p .. '.' .. e[1])
    end
  end
  walk(self, prefix or '')
  return M.named_list(out)
end

function Module:modules()
  local out = {}
  for i, e in ipairs(self:named_modules()) do out[i] = e[2] end
  return out
end

-- Own parameters of every module in named_modules order; a tensor shared by two modules
-- (tied weights) is listed once, under its first name.
function Module:named_parameters(opts)
  local recurse = not (opts and opts.recurse == false)
  local out, seen = {}, {}
  local mods = recurse and self:named_modules() or M.named_list({{'', self}})
  for _, e in ipairs(mods) do
    local prefix, m = e[1], e[2]
    for _, name in ipairs(m._parameters) do
      local p = rawget(m, name)
      if p and not seen[p] then
        seen[p] = true
        out[#out + 1] = {prefix == '' and name or prefix .. '.' .. name, p}
      end
    end
  end
  return M.named_list(out)
end

function Module:parameters(opts)
  local out = {}
  for i, e in ipairs(self:named_parameters(opts)) do out[i] = e[2] end
  return out
end

function Module:named_buffers(opts)
  local persistent_only = opts and opts.persistent_only
  local out = {}
  for _, e in ipairs(self:named_modules()) do
    local prefix, m = e[1], e[2]
    for _, name in ipairs(m._buffers) do
      local b = rawget(m, name)
      if b and not (persistent_only and m._nonpersistent[name]) then
        out[#out + 1] = {prefix == '' and name or prefix .. '.' .. name, b}
      end
    end
  end
  return M.named_list(out)
end

function Module:buffers()
  local out = {}
  for i, e in ipairs(self:named_buffers()) do out[i] = e[2] end
  return out
end

-- Number of parameter elements (only those that require grad with {trainable=true}).
function Module:num_parameters(opts)
  local n = 0
  for _, p in ipairs(self:parameters()) do
    if not (opts and opts.trainable) or p.requires_grad then n = n + p:numel() end
  end
  return n
end

---------------------------------------------------------------------------- modes
function Module:train(mode)
  if mode == nil then mode = true end
  for _, m in ipairs(self:modules()) do rawset(m, 'training', mode and true or false) end
  return self
end

function Module:eval() return self:train(false) end

-- Drops every parameter's gradient (PyTorch's set_to_none=True).
function Module:zero_grad()
  for _, p in ipairs(self:parameters()) do p.grad = nil end
end

-- fn(m) on every submodule, children before parents (as PyTorch), then returns self.
function Module:apply(fn)
  for _, c in ipairs(self:children()) do c:apply(fn) end
  fn(self)
  return self
end

-- Converts every floating parameter and buffer to dtype ('f32' or 'f64'), in place: the
-- module keeps its identity but its tensors are new, so build optimizers afterwards.
function Module:to(dtype)
  for _, m in ipairs(self:modules()) do
    for _, name in ipairs(m._parameters) do
      local p = rawget(m, name)
      if p and p.dtype ~= dtype and p.dtype ~= 'i64' then
        local q = p:detach():to(dtype)
        if p.requires_grad then q:requires_grad_() end
        rawset(m, name, q)
      end
    end
    for _, name in ipairs(m._buffers) do
      local b = rawget(m, name)
      if b and b.dtype ~= dtype and b.dtype ~= 'i64' then rawset(m, name, b:to(dtype)) end
    end
    if m._after_to then m:_after_to(dtype) end
  end
  return self
end
function Module:double() return self:to('f64') end
function Module:float() return self:to('f32') end

-- Freezes (requires_grad=false) or unfreezes every parameter.
function Module:requires_grad_(flag)
  if flag == nil then flag = true end
  for _, p in ipairs(self:parameters()) do p:requires_grad_(flag) end
  return self
end

---------------------------------------------------------------------------- state
-- name -> tensor for every parameter and persistent buffer.  The tensors are detached views
-- of the live data, as in PyTorch (so training afterwards changes them); {clone=true} gives
-- a snapshot instead.
function Module:state_dict(opts)
  local clone = opts and opts.clone
  local sd = {}
  for _, e in ipairs(self:named_parameters()) do
    sd[e[1]] = clone and e[2]:detach():clone() or e[2]:detach()
  end
  for _, e in ipairs(self:named_buffers({persistent_only = true})) do
    sd[e[1]] = clone and e[2]:clone() or e[2]
  end
  return sd
end

-- Copies sd into the module's tensors in place.  strict (default true): missing, unexpected
-- or mismatched keys raise one error listing them all, by name and shape.  Returns
-- {missing_keys=, unexpected_keys=} (only mismatched shapes are errors when strict=false).
function Module:load_state_dict(sd, opts)
  local strict = not (opts and opts.strict == false)
  if type(sd) ~= 'table' then M.raise('load_state_dict: expected a table of tensors') end
  local own = {}
  for _, e in ipairs(self:named_parameters()) do own[#own + 1] = e end
  for _, e in ipairs(self:named_buffers({persistent_only = true})) do own[#own + 1] = e end
  local known, missing, mismatched, unexpected = {}, {}, {}, {}
  for _, e in ipairs(own) do
    local name, t = e[1], e[2]
    known[name] = true
    local v = sd[name]
    if v == nil then
      missing[#missing + 1] = string.format('%s %s', name, M.fmt_shape(t.shape))
    elseif not nb.is_tensor(v) then
      mismatched[#mismatched + 1] = string.format('%s: expected a tensor %s, got a %s', name,
                                                  M.fmt_shape(t.shape), type(v))
    elseif M.fmt_shape(v.shape) ~= M.fmt_shape(t.shape) then
      mismatched[#mismatched + 1] = string.format('%s: checkpoint %s, model %s', name,
                                                  M.fmt_shape(v.shape), M.fmt_shape(t.shape))
    end
  end
  for k, v in pairs(sd) do
    if not known[k] then
      unexpected[#unexpected + 1] = nb.is_tensor(v) and
        string.format('%s %s', tostring(k), M.fmt_shape(v.shape)) or tostring(k)
    end
  end
  table.sort(unexpected)
  local problems = {}
  if #mismatched > 0 then
    problems[#problems + 1] = 'size mismatch for ' .. table.concat(mismatched, '; ')
  end
  if strict and #missing > 0 then
    problems[#problems + 1] = 'missing keys: ' .. table.concat(missing, ', ')
  end
  if strict and #unexpected > 0 then
    problems[#problems + 1] = 'unexpected keys: ' .. table.concat(unexpected, ', ')
  end
  if #problems > 0 then
    M.raise(string.format('load_state_dict for %s: %s', self.__name, table.concat(problems, '; ')))
  end
  nb.no_grad(function()
    for _, e in ipairs(own) do
      local v = sd[e[1]]
      if v ~= nil then e[2]:copy_(v) end
    end
  end)
  return {missing_keys = missing, unexpected_keys = unexpected}
end

---------------------------------------------------------------------------- printing
-- One line describing the layer's configuration, e.g. "784→256, bias=true".
function Module:extra_repr() return '' end

-- Short name used in errors: "Linear(784→256)".
function Module:_short_name()
  return string.format('%s(%s)', self.__name, self:extra_repr())
end

function Module:_repr(indent)
  local kids = self:_children_list()
  local head = self.__name .. '(' .. self:extra_repr()
  if #kids == 0 then return head .. ')' end
  local lines = {head}
  local inner = indent .. '  '
  for _, e in ipairs(kids) do
    lines[#lines + 1] = string.format('%s(%s): %s', inner, e[1], e[2]:_repr(inner))
  end
  lines[#lines + 1] = indent .. ')'
  return table.concat(lines, '\n')
end

-- nn.functional_call(m, tensors, ...): m(...) with some parameters or buffers replaced by the
-- tensors of `tensors` (name -> tensor, names as in named_parameters), restored afterwards
-- (as torch.func.functional_call).  This is how check.grad differentiates through a layer
-- with its parameters as inputs.
function M.functional_call(m, tensors, ...)
  local slots = {}
  for _, e in ipairs(m:named_modules()) do
    local prefix, mod = e[1], e[2]
    for _, list in ipairs({mod._parameters, mod._buffers}) do
      for _, name in ipairs(list) do
        local full = prefix == '' and name or prefix .. '.' .. name
        local t = tensors[full]
        if t ~= nil then slots[#slots + 1] = {mod, name, rawget(mod, name), t} end
      end
    end
  end
  for _, s in ipairs(slots) do rawset(s[1], s[2], s[4]) end
  local out = table.pack(pcall(m, ...))
  for _, s in ipairs(slots) do rawset(s[1], s[2], s[3]) end
  if not out[1] then error(out[2], 0) end
  return table.unpack(out, 2, out.n)
end

-- MACs (multiply-accumulates) of one call, given its inputs and output; see nn/summary.lua.
function Module:macs() return 0 end

function Module:summary(input, opts)
  return require('nn.summary').summary(self, input, opts)
end

return M
