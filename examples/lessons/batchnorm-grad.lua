-- # BatchNorm: the backward pass, batch statistics and what BN makes irrelevant
-- summary: derive BN's input gradient (the course's formula misses two paths), check it with check.grad, then measure one-class mini-batches, conv bias before BN, and weight vs input scaling
-- time: minutes
--
-- Batch Normalisation (Ioffe & Szegedy 2015) normalises each channel with the mean and variance
-- of the current mini-batch, then rescales with learned $\gamma$ and $\beta$. Because the batch
-- statistics depend on every sample, the gradient with respect to one input has three paths —
-- and the course's answer (S001-Q3a) keeps only one. This lesson derives the full gradient and
-- checks both versions. Then it measures what normalising by batch statistics does: faster
-- training (Q3b), the job of $\gamma$ and $\beta$ (Q3c), one-class mini-batches (Q3d), a conv
-- bias before BN (Q4a), and scaling the weights or the input (Q4b).

local bn = require 'batchnorm'
nb.manual_seed(7)

-- %% The forward pass
-- For a mini-batch $x_1..x_m$ of one channel:
-- $\mu_B = \frac1m\sum_i x_i$, $\sigma_B^2 = \frac1m\sum_i (x_i-\mu_B)^2$ (the *biased* variance),
-- $\hat x_i = (x_i-\mu_B)/\sqrt{\sigma_B^2+\epsilon}$, $y_i = \gamma\hat x_i + \beta$.
-- `batchnorm.forward` writes this out; it must agree with `nn.BatchNorm1d` in training mode.
-- Channel 1 uses the numbers of the course check: $m = 8$, $\gamma = 1.7$, $\beta = -0.3$.
local m, C = 8, 3
local x = nb.randn(m, C, {dtype = 'f64'}) * 2 + 1
local gamma = nb.tensor({1.7, 0.5, -1.2}, {dtype = 'f64'})
local beta = nb.tensor({-0.3, 0.2, 1.0}, {dtype = 'f64'})
local y, cache = bn.forward(x, gamma, beta)
local layer = nn.BatchNorm1d(C):double()
nb.no_grad(function() layer.weight:copy_(gamma); layer.bias:copy_(beta) end)
check.answer('batchnorm.forward = nn.BatchNorm1d (train mode)', y, layer(x), 1e-12)
print('per-channel mean of x̂:', cache.xhat:mean(1), '  variance:', cache.xhat:var(1))

-- %% The course's backward
-- The course answers, with $g_i = \partial l/\partial y_i$:
-- $\partial l/\partial\gamma = \sum_i g_i\hat x_i$, $\partial l/\partial\beta = \sum_i g_i$, and
-- $$\partial l/\partial x_i = g_i\,\gamma/\sqrt{\sigma_B^2+\epsilon}.$$
-- Written as an `nb.Function` (`batchnorm.SeedFunction`), `check.grad` compares it with central
-- finite differences in float64, for the loss $\sum_i w_i y_i$ with fixed random $w$:
local ok_seed, rep_seed = check.grad(function(a, g, b) return bn.SeedFunction(a, g, b) end,
                                     {x, gamma, beta})
print(rep_seed.text)
check.answer('the course\'s ∂l/∂x fails check.grad (1 = yes)', ok_seed and 0 or 1, 1, 0)

-- %% How wrong is it?
-- Compare with autograd through `nn.F.batch_norm`, for an upstream gradient $G$:
-- the parameter gradients agree; the input gradient does not, by an error as large as the
-- gradient itself.
local G = nb.randn(m, C, {dtype = 'f64'})
local function autograd_bn(xx, gg, bb)
  local xl, gl, bl = xx:clone():requires_grad_(), gg:clone():requires_grad_(),
                     bb:clone():requires_grad_()
  local out = nn.F.batch_norm(xl, nil, nil, gl, bl, {training = true})
  return table.unpack(nb.grad((out * G):sum(), {xl, gl, bl}))
end
local ax, ag, ab = autograd_bn(x, gamma, beta)
local sx, sg, sb = bn.backward_seed(G, cache, gamma)
check.answer('∂l/∂γ = Σ g x̂ (course)', sg, ag, 1e-12)
check.answer('∂l/∂β = Σ g (course)', sb, ab, 1e-12)
local seed_err = (sx - ax):abs():max():item()
print(string.format('course ∂l/∂x vs autograd: largest error %.3f (largest true entry %.3f)',
                    seed_err, ax:abs():max():item()))
print('channel 1, course:  ', sx:select(2, 1))
print('channel 1, autograd:', ax:select(2, 1))
check.answer('the course\'s ∂l/∂x is off by more than 0.1 (1 = yes)', seed_err > 0.1 and 1 or 0,
             1, 0)

-- %% The complete gradient
-- $x_i$ reaches the loss through $\hat x_i$ directly, through $\mu_B$ and through $\sigma_B^2$:
-- $$\frac{\partial l}{\partial x_i} =
--   \frac{\partial l}{\partial \hat x_i}\frac{1}{\sqrt{\sigma_B^2+\epsilon}}
--   + \frac{\partial l}{\partial \sigma_B^2}\frac{2(x_i-\mu_B)}{m}
--   + \frac{\partial l}{\partial \mu_B}\frac1m .$$
-- With $\partial l/\partial\hat x_i = \gamma g_i$, $\partial l/\partial\sigma_B^2 =
-- -\tfrac12\sum_j \gamma g_j (x_j-\mu_B)(\sigma_B^2+\epsilon)^{-3/2}$ and
-- $\partial l/\partial\mu_B = -\sum_j \gamma g_j/\sqrt{\sigma_B^2+\epsilon}$ (the $\sigma^2$ term's
-- share vanishes since $\sum_j (x_j - \mu_B) = 0$), everything collapses to
-- $$\frac{\partial l}{\partial x_i} = \frac{\gamma}{m\sqrt{\sigma_B^2+\epsilon}}
--   \Big(m\,g_i - \sum_j g_j - \hat x_i\sum_j g_j\hat x_j\Big).$$
-- Here is that formula as the student would write it, an `nb.Function` for $x$ of shape $[m, C]$:
local StudentBN = nb.Function{
  forward = function(ctx, xx, gg, bb)
    local out, c = bn.forward(xx, gg, bb)
    ctx:save_for_backward(c.xhat, c.invstd, gg)
    return out
  end,
  backward = function(ctx, g)
    local xhat, invstd, gg = table.unpack(ctx.saved_tensors)
    local mm = g:size(1)
    local gx = (g * mm - g:sum(1, true) - xhat * (g * xhat):sum(1, true)) * gg * invstd / mm
    return gx, (g * xhat):sum(1), g:sum(1)
  end,
}
local ok_st, rep_st = check.grad(function(a, g, b) return StudentBN(a, g, b) end, {x, gamma, beta})
print(rep_st.text)
check.answer('the complete formula passes check.grad (1 = yes)', ok_st and 1 or 0, 1, 0)
local xl = x:clone():requires_grad_()
local fxs = nb.grad((StudentBN(xl, gamma, beta) * G):sum(), {xl})[1]
check.answer('complete ∂l/∂x = autograd through nn.F.batch_norm', fxs, ax, 1e-12)

-- %% Any shape: [N, C, H, W]
-- For a conv feature map the statistics run over $N\cdot H\cdot W$ values per channel, so
-- $m = NHW$. `batchnorm.Function` is the same backward for any shape (sums over every dim but
-- the channel dim):
local x4 = nb.randn(3, 2, 3, 3, {dtype = 'f64'})
local g4, b4 = nb.tensor({0.8, -1.5}, {dtype = 'f64'}), nb.tensor({0.1, 0.4}, {dtype = 'f64'})
local ok4, rep4 = check.grad(function(a, g, b) return bn.Function(a, g, b) end, {x4, g4, b4})
print(rep4.text)
check.answer('batchnorm.Function on [3,2,3,3] passes check.grad (1 = yes)', ok4 and 1 or 0, 1, 0)

-- %% Two invariants of the true gradient
-- Adding a constant to a channel's inputs, or scaling them, leaves $\hat x$ unchanged (exactly
-- when $\epsilon = 0$). So the input gradient is orthogonal to those directions:
-- $\sum_i \partial l/\partial x_i = 0$ and $\sum_i (\partial l/\partial x_i)\,\hat x_i = 0$ per
-- channel. Checked on autograd's gradient with $\epsilon = 0$; with the default
-- $\epsilon = 10^{-5}$ the second sum is of order $\epsilon/\sigma^2$ instead of zero. The
-- course's formula satisfies neither:
local function invariants(gx) return gx:sum(1):abs():max():item(),
                                     (gx * cache.xhat):sum(1):abs():max():item() end
local xz = x:clone():requires_grad_()
local ax0 = nb.grad((nn.F.batch_norm(xz, nil, nil, gamma, beta, {training = true, eps = 0}) * G)
                    :sum(), {xz})[1]
local s1, s2 = invariants(ax0)
local e1, e2 = invariants(ax)
local t1, t2 = invariants(sx)
print('                          max |Σ ∂l/∂x|   max |Σ ∂l/∂x · x̂|')
print(string.format('true gradient, ε = 0     %12.1e %16.1e', s1, s2))
print(string.format('true gradient, ε = 1e-5  %12.1e %16.1e', e1, e2))
print(string.format('course formula           %12.3f %16.3f', t1, t2))
check.answer('Σ_i ∂l/∂x_i = 0', s1, 0, 1e-12)
check.answer('Σ_i ∂l/∂x_i x̂_i = 0 (ε = 0)', s2, 0, 1e-12)

-- %% What the course's formula is missing
-- The difference is exactly the two paths through the statistics:
-- through $\mu_B$: $-\frac{\gamma}{\sqrt{\sigma_B^2+\epsilon}}\cdot\frac1m\sum_j g_j$; through
-- $\sigma_B^2$: $-\frac{\gamma}{\sqrt{\sigma_B^2+\epsilon}}\hat x_i\cdot\frac1m\sum_j g_j\hat x_j$.
-- The course's formula is the gradient of BN with the statistics **frozen** — which is what BN
-- computes in eval mode. Check both statements:
local via_mean, via_var = bn.missing_terms(G, cache, gamma)
check.answer('course + mean path + variance path = true gradient', sx + via_mean + via_var, ax,
             1e-12)
print(string.format('size of each path (max |·|): mean %.3f, variance %.3f',
                    via_mean:abs():max():item(), via_var:abs():max():item()))
local mu, var = bn.stats(x)
local xe = x:clone():requires_grad_()
local eval_out = nn.F.batch_norm(xe, mu:reshape(-1), var:reshape(-1), gamma, beta,
                                 {training = false})
check.answer('course ∂l/∂x = gradient of eval-mode BN (statistics frozen)',
             nb.grad((eval_out * G):sum(), {xe})[1], sx, 1e-12)

-- %% Does a bigger batch help?
-- The missing terms are batch averages of $g$ and $g\hat x$. For an upstream gradient that is
-- unrelated to the inputs they shrink like $1/\sqrt m$; for one that is correlated with them
-- (here $g = \hat x + $ noise, as when the loss pushes activations one way) they do not.
local ms, err_rand, err_corr = {}, {}, {}
for i, mm in ipairs({8, 16, 32, 64, 128, 256, 512, 1024}) do
  local xm = nb.randn(mm, 1, {dtype = 'f64'})
  local _, cm = bn.forward(xm)
  local function relerr(g)
    local gs = bn.backward_seed(g, cm)
    local gt = bn.backward(g, cm)
    return ((gs - gt):norm() / gt:norm()):item()
  end
  ms[i] = mm
  err_rand[i] = relerr(nb.randn(mm, 1, {dtype = 'f64'}))
  err_corr[i] = relerr(cm.xhat + nb.randn(mm, 1, {dtype = 'f64'}) * 0.5)
end
plot.line({['g random'] = err_rand, ['g correlated with x'] = err_corr},
          {x = ms, title = 'relative error of the course\'s ∂l/∂x', xlabel = 'batch size m'})
print(string.format('m = 1024: random g %.3f, correlated g %.3f', err_rand[8], err_corr[8]))
check.answer('the error does not vanish for large m when g is correlated with x (> 0.5; 1 = yes)',
             err_corr[8] > 0.5 and 1 or 0, 1, 0)

-- %% What BN buys: a deep sigmoid network (S001-Q3b)
-- The course lists faster convergence (and some regularisation) as BN's benefits. One
-- measurement of the first: six sigmoid layers of 64 units on Fashion-MNIST, one epoch of SGD
-- with the same learning rate, with and without BN after each linear layer.
local ntr = lesson.quick and 8000 or 20000
local Xtr, ytr = data.fashion_mnist{split = 'train', n = ntr}
local Xte, yte = data.fashion_mnist{split = 'test', n = lesson.quick and 2000 or 5000}
Xtr, Xte = Xtr:reshape(ntr, 784), Xte:reshape(Xte:size(1), 784)
local function deep(use_bn)
  local layers, width = {}, 784
  for _ = 1, 6 do
    layers[#layers + 1] = nn.Linear(width, 64)
    width = 64
    if use_bn then layers[#layers + 1] = nn.BatchNorm1d(64) end
    layers[#layers + 1] = nn.Sigmoid()
  end
  layers[#layers + 1] = nn.Linear(64, 10)
  return nn.Sequential(table.unpack(layers))
end
local curves, final, test_acc = {}, {}, {}
for _, use_bn in ipairs({false, true}) do
  nb.manual_seed(1)
  local net = deep(use_bn)
  local losses = bn.fit(net, Xtr, ytr, function() return bn.class_batches(ytr, 64) end,
                        {epochs = 1, lr = 0.05})
  local name = use_bn and 'with BN' or 'without BN'
  local smooth, acc = {}, 0            -- running mean over 20 batches
  for i, l in ipairs(losses) do
    acc = acc + l - (losses[i - 20] or 0)
    smooth[i] = acc / math.min(i, 20)
  end
  curves[name], final[name] = smooth, smooth[#smooth]
  test_acc[name] = bn.accuracy(net, Xte, yte)
end
plot.line(curves, {title = 'training loss, 6 sigmoid layers (running mean of 20 batches)',
                   xlabel = 'batch'})
print(string.format('after one epoch: loss %.3f without BN, %.3f with BN; ' ..
                    'test accuracy %.3f vs %.3f', final['without BN'], final['with BN'],
                    test_acc['without BN'], test_acc['with BN']))
check.answer('BN: loss after one epoch at least 0.5 lower (1 = yes)',
             final['with BN'] < final['without BN'] - 0.5 and 1 or 0, 1, 0)

-- %% Why keep γ and β? (S001-Q3c)
-- Without them every channel leaves BN with mean 0 and variance 1, whatever the data needs.
-- With $\gamma = \sqrt{\sigma_B^2+\epsilon}$ and $\beta = \mu_B$ BN can undo itself exactly, so
-- adding BN never removes what the layer could represent.
local plain = bn.forward(x)
print('without γ, β: channel means', plain:mean(1), ' variances', plain:var(1))
local undo = bn.forward(x, (var + 1e-5):sqrt():reshape(-1), mu:reshape(-1))
check.answer('γ = sqrt(σ²+ε), β = μ recovers the input', undo, x, 1e-12)

-- %% One-class mini-batches (S001-Q3d): the experiment
-- BN trains with each batch's statistics and predicts with running averages of them. If every
-- training batch holds one class, the statistics it trains with are *class* statistics, while
-- the running averages mix all classes. Train the same BN network on Fashion-MNIST twice —
-- mixed batches and one-class batches of 64 — and measure accuracy the way training saw it
-- (train mode, each batch's statistics) and the way it is used (eval mode, test set).
local epochs = lesson.quick and 3 or 4
local function mlp(norm)
  return nn.Sequential(nn.Linear(784, 128), norm(128), nn.ReLU(),
                       nn.Linear(128, 64), norm(64), nn.ReLU(), nn.Linear(64, 10))
end
local results = {}
local t0 = nb.clock()
for _, single in ipairs({false, true}) do
  nb.manual_seed(1)
  local net = mlp(nn.BatchNorm1d)
  bn.fit(net, Xtr, ytr, function() return bn.class_batches(ytr, 64, {single_class = single}) end,
         {epochs = epochs, lr = 0.05})
  local r = {net = net}
  local train_batches = bn.class_batches(ytr, 64, {single_class = single})
  r.train = bn.accuracy(net, Xtr, ytr, {mode = 'train', batches = train_batches})
  r.test = bn.accuracy(net, Xte, yte, {mode = 'eval'})
  r.gap = r.train - r.test
  results[single and 'one-class' or 'mixed'] = r
end
print(string.format('trained 2 networks in %.1f s', nb.clock() - t0))
print('batches      train acc (batch stats)   test acc (running stats)   gap')
for _, k in ipairs({'mixed', 'one-class'}) do
  local r = results[k]
  print(string.format('%-12s %10.3f %25.3f %17.3f', k, r.train, r.test, r.gap))
end
check.answer('mixed batches: train/test gap below 0.1', results.mixed.gap, 0, 0.1)
check.answer('one-class batches: gap at least 0.15 larger (1 = yes)',
             results['one-class'].gap > results.mixed.gap + 0.15 and 1 or 0, 1, 0)
check.answer('one-class batches: test accuracy near chance (within 0.1 of 0.1)',
             results['one-class'].test, 0.1, 0.1)

-- %% Why eval mode fails
-- Look at the first BN layer of the one-class network: for each class, how far is that class's
-- batch mean from the running mean it is evaluated with, in running standard deviations
-- (averaged over the 128 units)? Training never saw inputs normalised the eval-mode way.
local net1 = results['one-class'].net
local bn1 = bn.bn_layers(net1)[1]
local shift = {}
nb.no_grad(function()
  local h = net1[1](Xtr)                                  -- the first Linear's outputs
  local sd = (bn1.running_var + bn1.eps):sqrt()
  for c = 1, 10 do
    local idx = ytr:eq(c):nonzero():reshape(-1)
    local hc = h:index_select(1, idx)
    shift[c] = ((hc:mean(1) - bn1.running_mean):abs() / sd):mean():item()
  end
end)
for c = 1, 10 do
  print(string.format('  %-12s %.2f', data.fashion_mnist_classes[c], shift[c]))
end
local mean_shift = 0
for _, v in ipairs(shift) do mean_shift = mean_shift + v / #shift end
print(string.format('average shift: %.2f running standard deviations', mean_shift))
-- and the converse: the mixed-batch network, run in train mode on one-class *test* batches
local one_class_test = bn.class_batches(yte, 64, {single_class = true})
local mixed_on_one = bn.accuracy(results.mixed.net, Xte, yte,
                                 {mode = 'train', batches = one_class_test})
print(string.format('mixed-batch network, train-mode statistics of one-class test batches: ' ..
                    'accuracy %.3f (eval mode: %.3f)', mixed_on_one, results.mixed.test))

-- %% Without batch statistics there is no gap
-- LayerNorm normalises each sample on its own, so training and evaluation compute the same thing.
-- One-class batches still hurt (each SGD step sees one class only), but the accuracy training
-- reports is now the accuracy you get.
nb.manual_seed(1)
local lnet = mlp(nn.LayerNorm)
bn.fit(lnet, Xtr, ytr, function() return bn.class_batches(ytr, 64, {single_class = true}) end,
       {epochs = epochs, lr = 0.05})
local ln_train = bn.accuracy(lnet, Xtr, ytr, {mode = 'eval'})
local ln_test = bn.accuracy(lnet, Xte, yte, {mode = 'eval'})
print(string.format('LayerNorm, one-class batches: train %.3f, test %.3f', ln_train, ln_test))
check.answer('LayerNorm: train/test gap below 0.1', ln_train - ln_test, 0, 0.1)

-- %% A bias before BN does nothing (S001-Q4a)
-- The course says removing a conv layer's bias "may significantly hurt". The question text is
-- missing; the answer implies a **Conv → BN** block, and that is the assumption here. BN
-- subtracts the channel mean, and a per-channel bias is part of that mean, so it cancels:
-- BN(conv(x) + b) = BN(conv(x)). Measured in float32 and float64, in training mode:
local img = data.fashion_mnist{split = 'test', n = 32}
local function bias_effect(dtype)
  nb.manual_seed(3)
  local conv = nn.Conv2d(1, 8, 3):to(dtype)
  local norm = nn.BatchNorm2d(8):to(dtype)
  local xx = img:to(dtype)
  local with = norm(conv(xx))
  local saved = conv.bias:detach():clone()
  nb.no_grad(function() conv.bias:mul_(0):add_(nb.randn({8}, {dtype = dtype}) * 5) end)
  local other = norm(conv(xx))
  nb.no_grad(function() conv.bias:zero_() end)
  local without = norm(conv(xx))
  nb.no_grad(function() conv.bias:copy_(saved) end)
  local d1 = math.max((with - without):abs():max():item(), (other - without):abs():max():item())
  local conv_only = (conv(xx) - nn.F.conv2d(xx, conv.weight, nil)):abs():max():item()
  return d1, conv_only, conv, norm
end
local d32 = bias_effect('f32')
local d64, conv_only, conv, norm = bias_effect('f64')
print(string.format('BN(conv(x)+b) vs BN(conv(x)): max difference %.1e (f32), %.1e (f64)',
                    d32, d64))
print(string.format('without BN the bias moves the output by %.3f', conv_only))
check.answer('the bias changes nothing after BN (f64, within 1e-12)', d64, 0, 1e-12)
check.answer('(f32, within 1e-5)', d32, 0, 1e-5)
-- its gradient is zero, so training never moves it
local out = norm(conv(img:to('f64')))
local gb = nb.grad((out * nb.randn(out.shape, {dtype = 'f64'})):sum(), {conv.bias})[1]
print('∂l/∂b of the conv bias:', gb)
check.answer('∂l/∂b = 0 through train-mode BN', gb:abs():max():item(), 0, 1e-10)

-- %% And in eval mode
-- In eval mode BN subtracts the running mean instead. That mean was collected from conv(x) + b,
-- so it contains b, and the bias still cancels — the running mean and $\beta$ take over its role.
-- Two copies that differ only in the bias, given the same training batches:
local function eval_outputs(bias)
  nb.manual_seed(4)
  local cv, nm = nn.Conv2d(1, 8, 3):double(), nn.BatchNorm2d(8, {momentum = false}):double()
  nb.no_grad(function() cv.bias:fill_(bias) end)
  nb.manual_seed(5)
  for _ = 1, 5 do nb.no_grad(function() nm(cv(nb.rand(16, 1, 28, 28, 'f64'))) end) end
  nm:eval()
  return nb.no_grad(function() return nm(cv(img:to('f64'))) end)
end
local e_diff = (eval_outputs(0) - eval_outputs(3)):abs():max():item()
print(string.format('eval mode, bias 0 vs bias 3: max difference %.1e', e_diff))
check.answer('eval mode: the bias is absorbed by the running mean', e_diff, 0, 1e-10)

-- %% Scaling weights vs scaling inputs (S001-Q4b)
-- The course claims scaling all weights by $\alpha$ barely matters ("the network adapts") while
-- scaling the input by $\alpha$ can change the behaviour a lot. Measure both on the same small
-- CNN (conv → [BN] → ReLU, twice, then average pooling and a linear layer), $\alpha = 10$, in four
-- settings: BN in train mode, BN in eval mode, no BN with biases, no BN without biases.
-- "All weights" means every conv and linear weight (and bias); BN's own $\gamma, \beta$ stay.
local alpha = 10
local xb = data.fashion_mnist{split = 'test', n = 64}:to('f64')
local function cnn(use_bn, bias)
  nb.manual_seed(11)
  local layers = {nn.Conv2d(1, 8, 3, {bias = bias})}
  if use_bn then layers[#layers + 1] = nn.BatchNorm2d(8) end
  layers[#layers + 1] = nn.ReLU()
  layers[#layers + 1] = nn.Conv2d(8, 16, 3, {stride = 2, bias = bias})
  if use_bn then layers[#layers + 1] = nn.BatchNorm2d(16) end
  for _, l in ipairs({nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                      nn.Linear(16, 10, {bias = bias})}) do
    layers[#layers + 1] = l
  end
  local net = nn.Sequential(table.unpack(layers)):double()
  if use_bn then   -- running statistics from some training batches, then nudge γ, β off 1, 0
    nb.no_grad(function()
      for _ = 1, 10 do net(nb.rand(32, 1, 28, 28, 'f64')) end
      for _, b in ipairs(bn.bn_layers(net)) do
        b.weight:copy_(nb.rand({b.num_features}, 'f64') + 0.5)
        b.bias:copy_(nb.randn({b.num_features}, {dtype = 'f64'}) * 0.3)
      end
    end)
  end
  return net
end
-- How the scaled logits b relate to the original a: the best factor c (least squares, b ≈ c·a),
-- what is left after it (relative), and the fraction of unchanged predictions.
local function compare(a, b)
  local c = ((a * b):sum() / (a * a):sum()):item()
  local resid = ((b - a * c):norm() / (a * c):norm()):item()
  local agree = a:argmax(2):eq(b:argmax(2)):to('f64'):mean():item()
  return {c = c, resid = resid, agree = agree}
end
-- train-mode forwards would update the running statistics; keep them as they are
local function frozen_forward(net, inp)
  return nb.no_grad(function()
    local saved = {}
    for i, b in ipairs(bn.bn_layers(net)) do
      saved[i] = {b.running_mean:clone(), b.running_var:clone()}
    end
    local o = net(inp)
    for i, b in ipairs(bn.bn_layers(net)) do
      b.running_mean:copy_(saved[i][1]); b.running_var:copy_(saved[i][2])
    end
    return o
  end)
end
local rows = {}
local settings = {{'BN, train mode', true, true, true}, {'BN, eval mode', true, true, false},
                  {'no BN, biases', false, true, true}, {'no BN, no biases', false, false, true}}
for _, s in ipairs(settings) do
  local name, use_bn, bias, train = s[1], s[2], s[3], s[4]
  local net = cnn(use_bn, bias)
  net:train(train)
  local base = frozen_forward(net, xb)
  local r = {input = compare(base, frozen_forward(net, xb * alpha))}
  bn.scale_weights(net, alpha, {bias = true})
  r.weights = compare(base, frozen_forward(net, xb))
  rows[name] = r
end
print('                     ──── input ×10 ────────────    ──── all weights ×10 ──────')
print('setting              factor   residual  argmax kept   factor   residual  argmax kept')
for _, s in ipairs(settings) do
  local r = rows[s[1]]
  print(string.format('%-18s %8.4g %10.1e %8.2f %12.4g %10.1e %8.2f', s[1], r.input.c,
                      r.input.resid, r.input.agree, r.weights.c, r.weights.resid, r.weights.agree))
end

-- %% Reading the table
-- *factor* is the best $c$ with $f_{scaled} \approx c\,f$, *residual* what is left after it.
--
-- * **BN, train mode**: scaling the input changes nothing (factor 1). Scaling every weight changes
--   nothing up to the last linear layer, which has no BN after it, so the logits are multiplied
--   by exactly $\alpha$ and the predictions stay. (The residuals of order $10^{-5}$ come from
--   $\epsilon$.)
-- * **No BN, no biases**: a ReLU network is positively homogeneous — $f(\alpha x) = \alpha f(x)$
--   and scaling its $L = 3$ weight matrices gives $\alpha^3 f(x)$. Predictions stay again.
-- * **Biases, or BN in eval mode** (frozen running statistics): both scalings change the outputs
--   and most predictions.
--
-- So the course's asymmetric answer holds in none of the settings: weights and inputs behave
-- alike, and whether either matters depends on BN's mode and on biases.
local tr, hb, eb = rows['BN, train mode'], rows['no BN, no biases'], rows['BN, eval mode']
check.answer('BN train: input ×α → factor 1', tr.input.c, 1, 1e-4)
check.answer('BN train: input ×α → residual ≈ 0 (ε only)', tr.input.resid, 0, 1e-4)
check.answer('BN train: all weights ×α → logits ×α', tr.weights.c, alpha, 1e-3)
check.answer('BN train: …with residual ≈ 0 (ε only)', tr.weights.resid, 0, 1e-4)
check.answer('no BN, no bias: f(αx) = α f(x)', hb.input.c, alpha, 1e-9)
check.answer('no BN, no bias: weights ×α → α³ f(x)', hb.weights.c, alpha ^ 3, 1e-6)
check.answer('no BN, no bias: residuals ≈ 0', math.max(hb.input.resid, hb.weights.resid), 0, 1e-12)
check.answer('BN eval: input ×α changes the logits (residual > 0.1; 1 = yes)',
             eb.input.resid > 0.1 and 1 or 0, 1, 0)
check.answer('BN eval: weights ×α change the logits (residual > 0.1; 1 = yes)',
             eb.weights.resid > 0.1 and 1 or 0, 1, 0)

-- %% Where weight scale does matter under BN: the step size
-- With BN after a layer, $y(\alpha W) = y(W)$, so by the chain rule
-- $\nabla_W l\,|_{\alpha W} = \nabla_W l\,|_{W}/\alpha$: larger weights get smaller gradients,
-- and the relative update $\eta\|\nabla\|/\|W\|$ shrinks like $1/\alpha^2$. That is the sense in
-- which "the network adapts" — the weight scale sets an effective learning rate.
local net = cnn(true, true)
local target = nb.randint(1, 10, {64})
local function first_grad()
  local l = nn.F.cross_entropy(net(xb), target)
  return nb.grad(l, {net[1].weight})[1]
end
local g1 = first_grad()
nb.no_grad(function() net[1].weight:mul_(alpha) end)
local g10 = first_grad()
print(string.format('‖∇W‖ at W: %.4g, at %gW: %.4g (ratio %.4f)', g1:norm():item(), alpha,
                    g10:norm():item(), (g10:norm() / g1:norm()):item()))
local grad_rel = ((g10 - g1 / alpha):norm() / (g1 / alpha):norm()):item()
print(string.format('‖∇(αW) − ∇(W)/α‖ / ‖∇(W)/α‖ = %.1e (ε again)', grad_rel))
check.answer('gradient at αW = gradient at W / α (relative error ≤ 0.01)', grad_rel, 0, 0.01)
