-- One training epoch of the Fashion-MNIST CNN of examples/fashion_mnist_cnn.lua (conv 1→32
-- and 32→64, 3x3 padding 1, ReLU, 2x2 max pool; linear 3136→128→10) with SGD + momentum at
-- batch 64, on random data of Fashion-MNIST's shape (60,000 images [1,28,28]; the timing does
-- not depend on the values).  Prints "name value" lines (seconds per epoch, milliseconds per
-- step); bench/compare_torch.sh pairs them with bench/train_cnn_torch.py.
-- usage: lua5.4 bench/train_cnn.lua [threads] [images]
local nb = require 'nabla'
local nn = require 'nn'
local optim = require 'optim'
nb.set_num_threads(tonumber(arg and arg[1]) or 1)
local n = tonumber(arg and arg[2]) or 60000
local batch = 64
nb.manual_seed(0)

local model = nn.Sequential(
  nn.Conv2d(1, 32, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),
  nn.Conv2d(32, 64, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),
  nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
local loss_fn = nn.CrossEntropyLoss()
local opt = optim.SGD(model:parameters(), {lr = 0.01, momentum = 0.9})
local X = nb.rand(n, 1, 28, 28)
local y = nb.randint(1, 10, {n})

local function step(i)
  local len = math.min(batch, n - i + 1)
  local xb, yb = X:narrow(1, i, len), y:narrow(1, i, len)
  opt:zero_grad()
  local loss = loss_fn(model(xb), yb)
  loss:backward()
  opt:step()
end

for i = 1, 5 do step((i - 1) * batch + 1) end      -- warm-up
collectgarbage('collect')
local t0 = nb.clock()
local steps = 0
for i = 1, n, batch do
  step(i)
  steps = steps + 1
end
local dt = nb.clock() - t0
print(string.format('cnn_epoch_s %.2f', dt * 60000 / n))
print(string.format('cnn_step_b64_ms %.2f', dt / steps * 1e3))
