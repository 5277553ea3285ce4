-- Per-op overhead from Lua: tiny tensors, so the time is the binding + allocation + dispatch.
-- Prints "name microseconds_per_op" lines; bench/compare_torch.sh pairs them with PyTorch's.
local nb = require 'nabla'
nb.set_num_threads(tonumber(arg and arg[1]) or 1)

local function best_of(runs, iters, fn)
  local best = math.huge
  for _ = 1, runs do
    collectgarbage('collect')
    local t0 = nb.clock()
    fn(iters)
    local dt = (nb.clock() - t0) / iters
    if dt < best then best = dt end
  end
  return best * 1e6
end

local a, b = nb.rand(10), nb.rand(10)
print(string.format('add_10 %.4f', best_of(5, 200000, function(n)
  for _ = 1, n do local c = a + b end
end)))

local w = nb.rand(10):requires_grad_()
local x = nb.rand(10)
print(string.format('autograd_step_10 %.4f', best_of(5, 50000, function(n)
  for _ = 1, n do
    local loss = (w * x):sum()
    loss:backward()
  end
end)))
