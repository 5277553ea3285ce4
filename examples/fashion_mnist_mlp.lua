-- Fashion-MNIST with a multilayer perceptron (784-256-10, ReLU), trained with SGD (momentum
-- 0.9, the learning rate annealed to 0 over the epoch on a cosine) for one epoch: about 86.5%
-- test accuracy in a few seconds.
--   nabla examples/fashion_mnist_mlp.lua          (or lua5.4 with LUA_PATH/LUA_CPATH set)
--   NABLA_QUICK=1 ...                             a 2,000-image smoke test
--   NABLA_THREADS=n                               thread count (default: nabla's)
local nb = require 'nabla'
local nn = require 'nn'
local optim = require 'optim'
local data = require 'data'
local ok_plot, plot = pcall(require, 'plot')
local ok_metrics, metrics = pcall(require, 'metrics')

local quick = os.getenv('NABLA_QUICK') == '1'
local threads = tonumber(os.getenv('NABLA_THREADS') or '')
if threads then nb.set_num_threads(threads) end
nb.manual_seed(0)

-- Data: images [N,1,28,28] in [0,1], labels 1..10.  Standardizing with the training set's mean
-- and standard deviation (0.2860, 0.3530) makes the first steps of SGD better conditioned.
local n_train, n_test = quick and 2000 or nil, quick and 500 or nil
local X, y = data.fashion_mnist{split = 'train', n = n_train}
local Xt, yt = data.fashion_mnist{split = 'test', n = n_test}
local mean, std = 0.2860, 0.3530
X, Xt = (X - mean) / std, (Xt - mean) / std
print(string.format('train %d images, test %d images, %d threads', X:size(1), Xt:size(1),
                    nb.get_num_threads()))

local model = nn.Sequential(
  nn.Flatten(),
  nn.Linear(784, 256), nn.ReLU(),
  nn.Linear(256, 10))
print(model)
model:summary({1, 1, 28, 28})

local loss_fn = nn.CrossEntropyLoss()
local opt = optim.SGD(model:parameters(), {lr = 0.05, momentum = 0.9})
local loader = data.DataLoader(X, y, {batch_size = 64, shuffle = true, seed = 0})
-- Stepped once per batch, so the learning rate falls from 0.05 to 0 during the epoch: the
-- last, small steps average out the noise of the mini-batch gradients.
local sched = optim.CosineAnnealingLR(opt, #loader)

-- Accuracy over a set, in batches, without recording gradients.
local function evaluate(images, labels)
  model:eval()
  local correct = nb.no_grad(function()
    local c = 0
    for xb, yb in data.DataLoader(images, labels, {batch_size = 1000}):iter() do
      c = c + model(xb):argmax(2):eq(yb):sum():item()
    end
    return c
  end)
  model:train()
  return correct / labels:size(1)
end

local losses, t0 = {}, nb.clock()
local epochs = 1
for epoch = 1, epochs do
  nn.train_epoch(model, loader, loss_fn, opt,
                 {sched = sched, losses = losses, label = 'epoch ' .. epoch})
end
local train_time = nb.clock() - t0

-- Loss curve: the mean loss of every k batches, about 50 points.
local k = math.max(1, math.ceil(#losses / 50))
local curve = {}
for i = 1, #losses, k do
  local s, c = 0, 0
  for j = i, math.min(i + k - 1, #losses) do s, c = s + losses[j], c + 1 end
  curve[#curve + 1] = s / c
end
if ok_plot then
  plot.line(curve, {title = string.format('training loss (mean per %d batches)', k),
                    xlabel = string.format('batch / %d', k), height = 10})
end

local acc = evaluate(Xt, yt)
if ok_metrics and metrics.accuracy then
  model:eval()
  local pred = nb.no_grad(function() return model(Xt):argmax(2) end)
  acc = metrics.accuracy(pred, yt)
end
print(string.format('test accuracy after %d epoch: %.2f%%  (training took %.1f s)', epochs,
                    100 * acc, train_time))
if not quick and acc < 0.85 then
  print('below the 85% target')
  os.exit(1)
end
