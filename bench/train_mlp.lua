-- One training step of the Fashion-MNIST MLP (784-256-10, batch 128): forward, cross-entropy,
-- backward and an SGD step (momentum 0.9), on fixed random data.  Prints "name microseconds"
-- lines; bench/compare_torch.sh pairs them with bench/train_mlp_torch.py.
-- usage: lua5.4 bench/train_mlp.lua [threads]
local nb = require 'nabla'
local nn = require 'nn'
local optim = require 'optim'
nb.set_num_threads(tonumber(arg and arg[1]) or 1)
nb.manual_seed(0)

local function best_of(runs, iters, fn)
  local best = math.huge
  for _ = 1, runs do
    collectgarbage('collect')
    local t0 = nb.clock()
    for _ = 1, iters do fn() end
    best = math.min(best, (nb.clock() - t0) / iters)
  end
  return best * 1e6
end

local function mlp_step(batch, momentum)
  local model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
  local loss_fn = nn.CrossEntropyLoss()
  local opt = optim.SGD(model:parameters(), {lr = 0.01, momentum = momentum})
  local x = nb.rand(batch, 784)
  local y = nb.randint(1, 10, {batch})
  local function step()
    opt:zero_grad()
    local loss = loss_fn(model(x), y)
    loss:backward()
    opt:step()
  end
  for _ = 1, 20 do step() end
  return best_of(5, 100, step)
end

print(string.format('mlp_step_b128 %.1f', mlp_step(128, 0)))
print(string.format('mlp_step_b128_momentum %.1f', mlp_step(128, 0.9)))
