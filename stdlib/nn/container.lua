-- Containers and shape layers: Sequential, ModuleList, Residual, Identity, Flatten, Unflatten.
-- Sequential and ModuleList number their children 1, 2, ... (seq[1] is the first module, and
-- parameter names are '1.weight', '3.bias', ...).
local nb = require 'nabla'
local U = require 'nn.module'
local Module = U.Module
local M = {}

-- Children stored under integer keys 1..n.
local function numbered_children(self)
  local out = {}
  for i = 1, rawlen(self) do
    local m = rawget(self, i)
    if m then out[#out + 1] = {tostring(i), m} end
  end
  return out
end

local function append(self, fname, m)
  if not U.is_module(m) then
    U.raise(string.format('%s: expected a module at position %d, got %s', fname,
                          rawlen(self) + 1, nb.is_tensor(m) and 'a tensor' or type(m)))
  end
  rawset(self, rawlen(self) + 1, m)
  return self
end

---------------------------------------------------------------------------- Sequential
local Sequential = Module:extend('Sequential')
M.Sequential = Sequential

-- nn.Sequential(m1, m2, ...) or nn.Sequential{m1, m2, ...}: forward feeds each output to the
-- next module.
function Sequential:__init(...)
  local mods = {...}
  if #mods == 1 and type(mods[1]) == 'table' and not U.is_module(mods[1]) then mods = mods[1] end
  for _, m in ipairs(mods) do append(self, 'nn.Sequential', m) end
end
Sequential._children_list = numbered_children
function Sequential:add(m) return append(self, 'Sequential:add', m) end
Sequential.append = Sequential.add

function Sequential:forward(x, ...)
  local n = rawlen(self)
  if n == 0 then return x, ... end
  x = rawget(self, 1)(x, ...)
  for i = 2, n do x = rawget(self, i)(x) end
  return x
end

function Sequential:__len() return rawlen(self) end

---------------------------------------------------------------------------- ModuleList
local ModuleList = Module:extend('ModuleList')
M.ModuleList = ModuleList

-- nn.ModuleList{m1, m2, ...}: registers the modules (so their parameters are found); iterate
-- with ipairs(list); no forward of its own.
function ModuleList:__init(mods)
  for _, m in ipairs(mods or {}) do append(self, 'nn.ModuleList', m) end
end
ModuleList._children_list = numbered_children
function ModuleList:append(m) return append(self, 'ModuleList:append', m) end
ModuleList.add = ModuleList.append
function ModuleList:forward()
  U.raise('ModuleList has no forward: call its modules (for _, m in ipairs(list) do ... end)')
end

---------------------------------------------------------------------------- Residual
local Residual = Module:extend('Residual')
M.Residual = Residual

-- nn.Residual(f): y = f(x) + x (f must keep the shape).
function Residual:__init(f)
  if not U.is_module(f) then U.raise('nn.Residual: expected a module') end
  self.f = f
end

function Residual:forward(x)
  local y = self.f(x)
  if U.fmt_shape(y.shape) ~= U.fmt_shape(x.shape) then
    U.raise(string.format('Residual: f changed the shape from %s to %s, so f(x) + x is not ' ..
                          'defined', U.fmt_shape(x.shape), U.fmt_shape(y.shape)))
  end
  return y + x
end

---------------------------------------------------------------------------- Identity
local Identity = Module:extend('Identity')
M.Identity = Identity
function Identity:__init() end
function Identity:forward(x) return x end

---------------------------------------------------------------------------- Flatten
local Flatten = Module:extend('Flatten')
M.Flatten = Flatten

-- nn.Flatten(start_dim=2, end_dim=-1): merges dims start..end ([N,C,H,W] -> [N, C*H*W]).
function Flatten:__init(start_dim, end_dim)
  self.start_dim, self.end_dim = start_dim or 2, end_dim or -1
end

function Flatten:forward(x)
  local nd = x:dim()
  local s = self.start_dim < 0 and nd + 1 + self.start_dim or self.start_dim
  local e = self.end_dim < 0 and nd + 1 + self.end_dim or self.end_dim
  if s < 1 or e > nd or s > e then
    if nd == 0 then return x:reshape(1) end
    U.shape_error(self, string.format('at least %d dims', math.max(self.start_dim,
                                                                      self.end_dim)), x)
  end
  local shape = {}
  for i = 1, s - 1 do shape[#shape + 1] = x.shape[i] end
  local n = 1
  for i = s, e do n = n * x.shape[i] end
  shape[#shape + 1] = n
  for i = e + 1, nd do shape[#shape + 1] = x.shape[i] end
  return x:reshape(shape)
end

function Flatten:extra_repr()
  return string.format('start_dim=%d, end_dim=%d', self.start_dim, self.end_dim)
end

---------------------------------------------------------------------------- Unflatten
local Unflatten = Module:extend('Unflatten')
M.Unflatten = Unflatten

-- nn.Unflatten(dim, sizes): splits dim into sizes ([N, 784] -> [N, 1, 28, 28] with 2, {1,28,28}).
function Unflatten:__init(dim, sizes)
  self.dim, self.sizes = dim, sizes
end

function Unflatten:forward(x)
  local nd = x:dim()
  local d = self.dim < 0 and nd + 1 + self.dim or self.dim
  local shape = {}
  for i = 1, d - 1 do shape[#shape + 1] = x.shape[i] end
  for _, s in ipairs(self.sizes) do shape[#shape + 1] = s end
  for i = d + 1, nd do shape[#shape + 1] = x.shape[i] end
  return x:reshape(shape)
end

function Unflatten:extra_repr()
  return string.format('dim=%d, sizes=%s', self.dim, U.fmt_shape(self.sizes))
end

return M
