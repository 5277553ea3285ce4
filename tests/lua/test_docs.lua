-- Every public function has a one-line doc reachable by :help (the nb._docs registry): the core
-- module, tensor methods, nb.linalg, nb.func and every stdlib module the program preloads.
local nb = require 'nabla'
local H = require 'harness'

local missing, total = {}, 0
local function scan(name, t, depth)
  for k, v in pairs(t) do
    if type(k) == 'string' and k:sub(1, 1) ~= '_' then
      if type(v) == 'function' then
        total = total + 1
        if type(nb._docs[v]) ~= 'string' then missing[#missing + 1] = name .. '.' .. k end
      elseif type(v) == 'table' and depth > 0 and getmetatable(v) == nil then
        scan(name .. '.' .. k, v, depth - 1)
      end
    end
  end
end
scan('nb', nb, 1)
scan('t:', nb._methods, 0)
for _, m in ipairs({'nn', 'optim', 'check', 'calc', 'plot', 'data', 'lesson', 'metrics'}) do
  local ok, mod = pcall(require, m)
  H.check(ok, 'module %s loads: %s', m, tostring(mod))
  if ok then scan(m, mod, 1) end
end
table.sort(missing)
H.check(#missing == 0, '%d of %d public functions have no doc: %s', #missing, total,
        table.concat(missing, ' '))
H.check(total > 400, 'found %d public functions', total)
H.report()
