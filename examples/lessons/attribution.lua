-- # Attribution maps: which inputs made the decision?
-- summary: saliency, gradient×input, interior and integrated gradients (completeness vs steps), SmoothGrad, deconvnet and guided backprop, Grad-CAM = CAM/Z, LRP-ε conservation, and the randomisation sanity check, on one neuron and a Fashion-MNIST CNN
-- time: minutes
--
-- An attribution method gives every input feature a share of a model's output $f(x)$. The
-- course (S000-Q2.2a–b, S002-Q4a–b) works the simplest ones by hand on a single sigmoid neuron
-- and names the rest. Here each method is first computed on that neuron, where every number
-- can be checked with pencil and paper, and then on a small CNN trained on Fashion-MNIST, where
-- the checks are the methods' own promises: integrated gradients add up to $f(x) - f(x')$,
-- Grad-CAM on a global-average-pooling head is CAM divided by the number of pixels, LRP
-- conserves relevance, and every honest map must change when the model's weights are
-- scrambled. The algorithms live in `stdlib/attribution.lua` (`:help attribution.gradcam`).

local attribution = require 'attribution'
nb.manual_seed(0)

-- %% One sigmoid neuron (S000-Q2.2a)
-- $f(x_1, x_2) = \sigma(2x_1 - x_2 + 1)$ at $x = (1, 2)$. By hand: the pre-activation is
-- $z = 2 - 2 + 1 = 1$, so $f = \sigma(1) = 1/(1 + e^{-1}) \approx 0.7311$; with
-- $\sigma'(z) = \sigma(z)(1 - \sigma(z)) \approx 0.1966$ the saliency map is
-- $\partial f/\partial x = \sigma'(1)\,(2, -1) \approx (0.3932, -0.1966)$.
--
-- Every function of `attribution` takes a batch: here one row $x = [[1, 2]]$, and the model
-- returns one score per row.
local function neuron(x) return (x[{{}, 1}] * 2 - x[{{}, 2}] + 1):sigmoid() end
local x0 = nb.tensor({{1, 2}}, {dtype = 'f64'})
local sig = 1 / (1 + math.exp(-1))
local dsig = sig * (1 - sig)
local sal, f0 = attribution.saliency(neuron, x0)
print('saliency ∂f/∂x =', sal)
check.answer('f(1, 2) = σ(1)', f0:item(), sig, 1e-12)
check.answer("σ'(1) = σ(1)(1 − σ(1))", dsig, 0.196612, 1e-6)
check.answer('∂f/∂x1 = 2σ\'(1) (autograd vs hand)', sal:get(1, 1), 2 * dsig, 1e-12)
check.answer('∂f/∂x2 = −σ\'(1) (autograd vs hand)', sal:get(1, 2), -dsig, 1e-12)

-- %% The course's 0.394
-- The course writes $\sigma'(1) \approx 0.731 \times 0.269 \approx 0.197$ and then
-- $\partial f/\partial x_1 \approx 2 \times 0.197 = 0.394$. Doubling a rounded number doubles
-- its rounding error: the exact value is $0.393224$, which rounds to **0.393**. The course's
-- last digit is off by $7.8\times10^{-4}$, more than the $5\times10^{-4}$ a three-decimal
-- answer may be off. Its conclusion — $x_1$ has the larger, positive effect — stands.
local function round3(v) return math.floor(v * 1000 + 0.5) / 1000 end
print(string.format('exact 2σ\'(1) = %.6f; course 2 × %.3f = %.3f; error %.1e', 2 * dsig,
                    round3(dsig), 2 * round3(dsig), 2 * round3(dsig) - 2 * dsig))
check.answer("the course's 0.394 is 2 × round(σ'(1), 3)", 2 * round3(dsig), 0.394, 1e-12)
check.answer('∂f/∂x1 rounded to 3 decimals (corrected)', round3(sal:get(1, 1)), 0.393, 0)
check.answer("the course's error exceeds half a unit in the 3rd decimal (1 = yes)",
             math.abs(0.394 - 2 * dsig) > 5e-4 and 1 or 0, 1)

-- %% Gradient × input and interior gradients
-- Gradient × input multiplies each feature by its gradient: $(1 \cdot 0.3932, 2 \cdot
-- (-0.1966)) = (0.3932, -0.3932)$. The course's *interior gradient* is the gradient at a
-- scaled input $x^* = \alpha x$, $0 < \alpha \le 1$. For this neuron
-- $z(\alpha x) = 2\alpha - 2\alpha + 1 = 1$ for every $\alpha$: the whole segment from 0 to
-- $x$ has the same pre-activation, so all interior gradients are equal.
local gxi = attribution.grad_x_input(neuron, x0)
check.answer('gradient × input = (2σ\'(1), −2σ\'(1))', gxi,
             nb.tensor({{2 * dsig, -2 * dsig}}, {dtype = 'f64'}), 1e-12)
local interior, interior_f = attribution.interior_gradients(neuron, x0, nil,
                                                            {alphas = {0.25, 0.5, 1}})
for i, a in ipairs({0.25, 0.5, 1}) do
  print(string.format('α = %.2f: f(αx) = %.4f, ∂f/∂x* = (%.4f, %.4f)', a, interior_f[i]:item(),
                      interior[i]:get(1, 1), interior[i]:get(1, 2)))
  check.answer(string.format('interior gradient at α = %.2f equals the saliency', a),
               interior[i], sal, 1e-12)
end

-- %% Integrated gradients: two baselines
-- $IG_i(x) = (x_i - x'_i)\int_0^1 \partial_i f(x' + \alpha(x - x'))\,d\alpha$, and
-- **completeness** says $\sum_i IG_i = f(x) - f(x')$.
--
-- * Baseline $x' = 0$: the path has $z = 1$ throughout, so $IG = x \odot \nabla f =
--   (0.3932, -0.3932)$, which sums to **0** — and indeed $f(x) = f(0) = \sigma(1)$: the
--   attributions are not zero, but they cancel.
-- * Baseline $x' = (0, 1)$: on the path $z = \alpha$, so the integral is
--   $(2, -1)\int_0^1\sigma'(\alpha)d\alpha = (2, -1)(\sigma(1) - \sigma(0))$:
--   $IG = (0.4621, -0.2311)$, summing to $\sigma(1) - \sigma(0) = 0.2311$.
local ig_zero, info_zero = attribution.integrated_gradients(neuron, x0, nil, {steps = 64})
check.answer('IG, baseline 0 (closed form)', ig_zero,
             nb.tensor({{2 * dsig, -2 * dsig}}, {dtype = 'f64'}), 1e-12)
check.answer('Σ IG = f(x) − f(0) = 0', info_zero.delta:item(), 0, 1e-12)
local b01 = nb.tensor({{0, 1}}, {dtype = 'f64'})
local dsig01 = sig - 0.5
local ig01, info01 = attribution.integrated_gradients(neuron, x0, nil,
                                                      {steps = 256, baseline = b01,
                                                       method = 'midpoint'})
print('IG with baseline (0, 1):', ig01)
check.answer('IG, baseline (0, 1), vs 2(σ(1) − σ(0)), −(σ(1) − σ(0))', ig01,
             nb.tensor({{2 * dsig01, -dsig01}}, {dtype = 'f64'}), 1e-6)

-- %% How many steps does the integral need?
-- The integral is computed as a sum over $m$ points of the path. The right Riemann sum (the
-- textbook rule, points $k/m$) has an error that halves when $m$ doubles; the midpoint rule
-- (points $(k - \frac12)/m$) is second order, its error falls 4× per doubling. The
-- completeness gap $|\sum IG - (f(x) - f(x'))|$ measures the error without knowing the
-- exact integral.
local steps = {1, 2, 4, 8, 16, 32, 64, 128}
local conv_right = attribution.ig_convergence(neuron, x0, nil, {steps = steps, baseline = b01})
local conv_mid = attribution.ig_convergence(neuron, x0, nil, {steps = steps, baseline = b01,
                                                             method = 'midpoint'})
print('right Riemann sum:')
print(conv_right)
print('midpoint rule:')
print(conv_mid)
local r_order = math.log(conv_right[#steps - 1].error / conv_right[#steps].error, 2)
local m_order = math.log(conv_mid[#steps - 1].error / conv_mid[#steps].error, 2)
check.answer('right Riemann: order of convergence (error ∝ 1/m^p), p', r_order, 1, 0.05)
check.answer('midpoint: order of convergence, p', m_order, 2, 0.05)

-- %% SmoothGrad on the neuron
-- SmoothGrad averages the gradient over noisy copies $x + \varepsilon$,
-- $\varepsilon \sim N(0, \sigma^2 I)$. Here the gradient is always $\sigma'(z)(2, -1)$, so the
-- ratio $-2$ between the two entries survives exactly; only the size shrinks. With noise
-- $\sigma = 0.5$ the pre-activation becomes $1 + \xi$, $\xi \sim N(0, 0.5^2 (2^2 + 1^2))$,
-- and $E[\partial f/\partial x_1] = 2\,E[\sigma'(1 + \xi)]$: a 1-D integral, computed below
-- by quadrature on a grid, independent of the sampling. The Monte Carlo estimate from
-- 20 000 samples must agree within 4 standard errors. (The course catalogue quotes 0.349 from
-- one such run; the expectation is 0.3474, and single runs scatter by about ±0.002.)
nb.manual_seed(1)
local n_sg = 20000
local sg = attribution.smoothgrad(neuron, x0, nil, {n = n_sg, sigma = 0.5, chunk = 5000})
local s_xi = 0.5 * math.sqrt(5)
local grid = nb.linspace(-10 * s_xi, 10 * s_xi, 20001, {dtype = 'f64'})
local dx = grid:get(2) - grid:get(1)
local pdf = (-(grid / s_xi) ^ 2 / 2):exp() / (s_xi * math.sqrt(2 * math.pi))
local sp = (grid + 1):sigmoid()
local d1 = sp * (1 - sp)
local e1 = (d1 * pdf):sum():item() * dx
local e2 = (d1 * d1 * pdf):sum():item() * dx
local se = 2 * math.sqrt((e2 - e1 * e1) / n_sg)
print(string.format('SmoothGrad (%d samples): (%.4f, %.4f); quadrature: (%.4f, %.4f); ' ..
                    'standard error %.1e', n_sg, sg:get(1, 1), sg:get(1, 2), 2 * e1, -e1, se))
check.answer('SmoothGrad ∂f/∂x1 within 4 standard errors of 2E[σ\'(1+ξ)]', sg:get(1, 1),
             2 * e1, 4 * se)
check.answer('the ratio −2 survives the smoothing', sg:get(1, 1) / sg:get(1, 2), -2, 1e-9)

-- %% Three ways through a ReLU (S000-Q2.2b)
-- The backprop-based methods differ only in what a ReLU does with the gradient $g$ that
-- arrives from above, for an input $x$:
--
-- | rule | ReLU backward |
-- |---|---|
-- | gradient (autograd) | $g\,[x > 0]$ — the forward mask |
-- | deconvnet | $\max(g, 0)$ — keep the positive signal, ignore the forward mask |
-- | guided backprop | $\max(g, 0)\,[x > 0]$ — both |
--
-- By hand for $x = (-1, 2, 3, -0.5)$ and $g = (0.7, -0.4, 1.2, 0.9)$: $(0, -0.4, 1.2, 0)$,
-- $(0.7, 0, 1.2, 0.9)$ and $(0, 0, 1.2, 0)$. `attribution.relu(x, mode)` is a ReLU written as
-- an `nb.Function` with each of these backwards; the same rules are also available as tensor
-- hooks (`t:register_hook`), a second implementation to compare against.
local xr = nb.tensor({-1, 2, 3, -0.5})
local gr = nb.tensor({0.7, -0.4, 1.2, 0.9})
local by_hand = {vanilla = {0, -0.4, 1.2, 0}, deconvnet = {0.7, 0, 1.2, 0.9},
                 guided = {0, 0, 1.2, 0}}
for _, mode in ipairs({'vanilla', 'deconvnet', 'guided'}) do
  local xi = xr:clone():requires_grad_()
  attribution.relu(xi, mode):backward(gr)
  check.answer(mode .. ' ReLU backward (nb.Function vs hand)', xi.grad, nb.tensor(by_hand[mode]),
               1e-7)
end

-- %% A small CNN on Fashion-MNIST
-- Three 3×3 conv layers with ReLUs and two max pools, then **global average pooling** and one
-- linear layer: $y^c = \sum_k w^c_k\,\mathrm{GAP}(A^k) + b^c$, the head CAM was designed for.
-- The quick mode trains on 800 images for one epoch; the full mode on 20 000 images for 5
-- epochs (under a minute on 2 idle cores).
local n_train = lesson.quick and 800 or 20000
local n_epochs = lesson.quick and 1 or 5
local batch = lesson.quick and 8 or 64
local X, Y = data.fashion_mnist{split = 'train', n = n_train}
local TX, TY = data.fashion_mnist{split = 'test', n = lesson.quick and 500 or 2000}
local classes = data.fashion_mnist_classes
nb.manual_seed(0)
local model = nn.Sequential(
  nn.Conv2d(1, 16, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),     -- 16×14×14
  nn.Conv2d(16, 32, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),    -- 32×7×7
  nn.Conv2d(32, 32, 3, {padding = 1}), nn.ReLU(),                     -- A: 32×7×7
  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))
local opt = optim.Adam(model:parameters(), {lr = 5e-3})
local function accuracy()
  model:eval()
  local acc = nb.no_grad(function()
    return model(TX):argmax(2):reshape(-1):eq(TY):to('f32'):mean():item()
  end)
  model:train()
  return acc
end
local t0 = nb.clock()
for epoch = 1, n_epochs do
  local perm = nb.randperm(n_train)
  local total, batches = 0, 0
  for i = 1, n_train, batch do
    local idx = perm:narrow(1, i, math.min(batch, n_train - i + 1))
    local loss = nn.F.cross_entropy(model(X:index_select(1, idx)), Y:index_select(1, idx))
    opt:zero_grad()
    loss:backward()
    opt:step()
    total, batches = total + loss:item(), batches + 1
  end
  print(string.format('epoch %d: loss %.3f, test accuracy %.3f (%.1f s)', epoch,
                      total / batches, accuracy(), nb.clock() - t0))
end
model:eval()
local test_acc = accuracy()
model:eval()
local acc_target = lesson.quick and 0.25 or 0.8
check.answer(string.format('test accuracy ≥ %.2f', acc_target), test_acc >= acc_target and 1 or 0,
             1)

-- %% Three test images
-- One image each of three classes; every map below explains the model's predicted class
-- $c$ for its image, the score $y^c$ before the softmax.
local picks = {}
for _, want in ipairs({8, 2, 1}) do   -- sneaker, trouser, T-shirt/top
  for i = 1, TY:size(1) do
    if TY:get(i) == want then picks[#picks + 1] = i break end
  end
end
local xs = TX:index_select(1, nb.tensor(picks, {dtype = 'i64'}))
local scores, target = attribution.score(model, xs)
local titles = {}
for j = 1, #picks do
  titles[j] = string.format('%s → %s', classes[TY:get(picks[j])], classes[target:get(j)])
end
plot.images({xs[1], xs[2], xs[3]}, {titles = titles})

-- %% Saliency and gradient × input
-- The plain gradient $\partial y^c/\partial x$ is noisy and changes sign from pixel to pixel;
-- gradient × input weights it by the pixel values, so the black background (value 0) gets
-- nothing.
local sal_map = attribution.saliency(model, xs, target)
local gxi_map = attribution.grad_x_input(model, xs, target)
plot.images({xs[1], sal_map[1], gxi_map[1]}, {titles = {'input', 'saliency', 'grad × input'},
                                              cmap = {'gray', 'diverging', 'diverging'}})

-- %% Interior gradients: saturation
-- Scale the image down to $\alpha x$ and follow the predicted class's **probability**
-- $p^c = \mathrm{softmax}(y)_c$. It rises steeply and then flattens near 1:
-- the probability has *saturated*, and its gradient at $x$ is tiny although every feature of
-- the garment contributed. The gradients at smaller $\alpha$ still see them — the observation
-- that integrated gradients turns into a method. (The logit $y^c$ of a ReLU network is
-- piecewise linear in $\alpha$ and does not saturate; it is printed alongside.)
local function prob(x) return model(x):softmax(2) end
local alphas = {0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1}
-- the image whose path climbs the most, from p^c(0) (the black image) to p^c(x)
local p_black = attribution.score(prob, nb.zeros_like(xs), target)
local p_image = attribution.score(prob, xs, target)
local k = (p_image - p_black):argmax():item()
for j = 1, #picks do
  print(string.format('%-26s p^c(0) = %.3f   p^c(x) = %.3f', titles[j], p_black:get(j),
                      p_image:get(j)))
end
print(string.format('following image %d', k))
local x1, t1 = xs[{{k}}], target[{{k}}]
local ints, int_probs = attribution.interior_gradients(prob, x1, t1, {alphas = alphas})
local _, int_logits = attribution.interior_gradients(model, x1, t1, {alphas = alphas})
local prob_curve, grad_norms = {}, {}
print(' α     p^c(αx)  ‖∂p^c/∂x‖   y^c(αx)')
for i, a in ipairs(alphas) do
  prob_curve[i], grad_norms[i] = int_probs[i]:item(), ints[i]:norm():item()
  print(string.format('%4.2f  %8.4f  %9.5f  %8.3f', a, prob_curve[i], grad_norms[i],
                      int_logits[i]:item()))
end
plot.line({['p^c(αx)'] = prob_curve}, {x = alphas, title = 'probability along the path 0 → x',
                                       xlabel = 'α'})
plot.images({ints[3][1], ints[5][1], ints[8][1]},
            {titles = {'∂p/∂x at 0.1x', 'at 0.3x', 'at x'}, diverging = true})
if lesson.quick then
  print('(quick mode: the model is barely trained and its probability does not saturate yet; ' ..
        'the full mode checks the saturation)')
else
  local ratio = grad_norms[#alphas] / math.max(table.unpack(grad_norms))
  check.answer(string.format('saturation: ‖∂p/∂x‖ at x / its largest value on the path = %.1e ' ..
                             '< 0.01 (1 = yes)', ratio), ratio < 0.01 and 1 or 0, 1)
end

-- %% Integrated gradients: completeness against the number of steps
-- With the black image as baseline, $\sum IG$ must equal $y^c(x) - y^c(0)$ for each image.
-- The table shows the worst gap over the three images, absolute and relative to
-- $|y^c(x) - y^c(0)|$. The network is piecewise linear, so the integrand — the gradient along
-- the path — jumps wherever a ReLU or a max pool switches: the midpoint rule loses its
-- second order (compare the neuron) and both rules converge roughly like $1/m$, unevenly.
-- The target: a relative gap below **1%** at 1024 steps.
local ig_steps = {1, 2, 4, 8, 16, 32, 64, 128, 256}
if not lesson.quick then ig_steps[10], ig_steps[11] = 512, 1024 end
local cnn_right = attribution.ig_convergence(model, xs, target, {steps = ig_steps})
local cnn_mid = attribution.ig_convergence(model, xs, target, {steps = ig_steps,
                                                               method = 'midpoint'})
print('right Riemann sum:')
print(cnn_right)
print('midpoint rule:')
print(cnn_mid)
local log_steps, log_right, log_mid = {}, {}, {}
for i, r in ipairs(cnn_right) do
  log_steps[i] = math.log(r.steps, 2)
  log_right[i] = math.log(math.max(r.rel_error, 1e-12), 10)
  log_mid[i] = math.log(math.max(cnn_mid[i].rel_error, 1e-12), 10)
end
plot.line({['right Riemann'] = log_right, midpoint = log_mid},
          {x = log_steps, title = 'IG completeness gap', xlabel = 'log2 steps',
           ylabel = 'log10 relative gap'})
local ig_map, ig_info = attribution.integrated_gradients(model, xs, target,
                                                        {steps = 1024, method = 'midpoint'})
print(string.format('Σ IG = %.4f, %.4f, %.4f;  y(x) − y(0) = %.4f, %.4f, %.4f',
                    (ig_map[1]:sum()):item(), (ig_map[2]:sum()):item(), (ig_map[3]:sum()):item(),
                    (ig_info.fx - ig_info.fb):get(1), (ig_info.fx - ig_info.fb):get(2),
                    (ig_info.fx - ig_info.fb):get(3)))
check.answer('IG: worst relative completeness gap at 1024 steps (target < 1%)',
             ig_info.rel_error, 0, 0.01)

-- %% SmoothGrad
-- 50 noisy copies with $\sigma = 0.15$ (15% of the pixel range). Averaging removes much of the
-- pixel-to-pixel flicker of the plain gradient.
nb.manual_seed(2)
local sg_map = attribution.smoothgrad(model, xs, target, {n = 50, sigma = 0.15})
plot.images({sal_map[1], sg_map[1], ig_map[1]}, {titles = {'saliency', 'SmoothGrad', 'IG'},
                                                 diverging = true})

-- %% Deconvnet and guided backprop in the CNN
-- `attribution.deconvnet` and `attribution.guided_backprop` swap every `nn.ReLU` of the model
-- for the custom `nb.Function` while they run (and put it back afterwards). The same maps
-- computed with tensor hooks on the ReLU outputs must agree exactly. The vanilla rule must
-- give back the plain gradient.
local dec_map = attribution.deconvnet(model, xs, target)
local gbp_map = attribution.guided_backprop(model, xs, target)
check.answer('deconvnet: nb.Function vs hooks', dec_map,
             attribution.deconvnet(model, xs, target, {via = 'hooks'}), 1e-6)
check.answer('guided backprop: nb.Function vs hooks', gbp_map,
             attribution.guided_backprop(model, xs, target, {via = 'hooks'}), 1e-6)
local vanilla = attribution.with_relu_rule(model, 'vanilla', function()
  return (attribution.gradient(model, xs, target))
end)
check.answer('vanilla rule = the plain gradient', vanilla, sal_map, 1e-6)
plot.images({sal_map[1], dec_map[1], gbp_map[1]},
            {titles = {'gradient', 'deconvnet', 'guided backprop'}, diverging = true})

-- %% Grad-CAM (S002-Q4a)
-- Take the last conv block's output $A$ (after its ReLU, $K = 32$ maps of $7\times7$). Grad-CAM
-- weighs each map by $\alpha_k^c = \frac1Z\sum_{ij}\partial y^c/\partial A^k_{ij}$ ($Z = 49$
-- pixels) and sums: $L^c = \mathrm{ReLU}(\sum_k \alpha^c_k A^k)$, upsampled to 28×28.
--
-- For this head $y^c = \sum_k w^c_k \frac1Z\sum_{ij}A^k_{ij} + b^c$, so by hand
-- $\partial y^c/\partial A^k_{ij} = w^c_k/Z$ at every pixel, $\alpha^c_k = w^c_k / Z$, and
-- without its ReLU Grad-CAM is exactly $\mathrm{CAM}/Z$ with $\mathrm{CAM} = \sum_k w^c_k A^k$.
local layer = model[8]                      -- the ReLU after the third conv
local fc = model[11]
local gc_raw, gc_info = attribution.gradcam(model, layer, xs, target, {relu = false,
                                                                      upsample = false})
local cam_raw = attribution.cam(model, layer, fc, xs, target, {upsample = false})
local Z = gc_raw:size(2) * gc_raw:size(3)
check.answer('α_k = w^c_k / Z (autograd vs the linear weights)', gc_info.alpha,
             fc.weight:detach():index_select(1, target) / Z, 1e-7)
check.answer('Grad-CAM without ReLU = CAM / Z', gc_raw, cam_raw / Z, 1e-6)

-- %% Why the ReLU (S002-Q4b)
-- Without the ReLU the map also shows where the features speak **against** class $c$
-- (negative values). The ReLU keeps only the regions that raise $y^c$, which is what a heat
-- map of "evidence for $c$" should show.
local gc_map = attribution.gradcam(model, layer, xs, target)
local gc_signed = attribution.gradcam(model, layer, xs, target, {relu = false})
local neg = gc_info.lowres:lt(0):to('f32'):mean():item()
print(string.format('fraction of the 7×7 Grad-CAM cells that are negative without the ReLU: %.2f',
                    neg))
plot.images({xs[1], gc_signed[1], gc_map[1]},
            {titles = {'input', 'Grad-CAM, no ReLU', 'Grad-CAM'},
             cmap = {'gray', 'diverging', 'viridis'}})

-- %% LRP: the ε-rule
-- Layer-wise relevance propagation starts with $R = y^c$ at the output and hands it down one
-- layer at a time. Through a layer $z_j = \sum_i a_i w_{ij} + b_j$ the ε-rule gives
-- $R_i = \sum_j \frac{a_i w_{ij}}{z_j + \varepsilon\,\mathrm{sign}(z_j)} R_j$; ReLUs and
-- reshapes pass it on unchanged.
--
-- A check independent of the LRP code: for a ReLU network, the rule with $\varepsilon \to 0$
-- (LRP-0) gives exactly gradient × input.
local lrp0 = attribution.lrp(model, xs, target, {eps = 1e-9})
check.answer('LRP with ε → 0 equals gradient × input', lrp0, gxi_map, 1e-4)

-- %% Where the relevance goes: conservation
-- Summing the rule over $i$: $\sum_i R_i = \sum_j R_j - \sum_j b_j s_j - \sum_j \varepsilon\,
-- \mathrm{sign}(z_j) s_j$ with $s_j = R_j/(z_j + \varepsilon\,\mathrm{sign}(z_j))$. Relevance
-- is conserved layer by layer **except** for what the biases and ε take. The table follows
-- $\sum R$ down through the network (three images, ε = 0.1).
local lrp_map, lrp_info = attribution.lrp(model, xs, target, {eps = 0.1})
print(lrp_info.layers)
local worst = 0
for _, r in ipairs(lrp_info.layers) do
  worst = math.max(worst, math.abs(r.r_in + r.bias + r.eps - r.r_out) / math.abs(r.r_out))
end
check.answer('per layer: ΣR_in + bias + ε shares = ΣR_out (worst relative gap)', worst, 0, 1e-4)
print(string.format('summed over the three images: y^c %.4f = %.4f reaching the pixels + %.4f ' ..
                    'taken by biases and ε (%.0f%% reaches the pixels)', lrp_info.fx,
                    lrp_info.total, lrp_info.absorbed, 100 * lrp_info.total / lrp_info.fx))

-- %% Conservation without biases
-- Zero every bias for a moment: now only ε can take relevance, and with a small ε the pixels
-- receive all of $y^c$ of the bias-free network.
local saved_biases = {}
nb.no_grad(function()
  for _, m in ipairs(model:modules()) do
    if m.bias then
      saved_biases[#saved_biases + 1] = {m.bias, m.bias:detach():clone()}
      m.bias:zero_()
    end
  end
end)
local r_nb, info_nb = attribution.lrp(model, xs, target, {eps = 1e-6})
local f_nb = attribution.score(model, xs, target)
nb.no_grad(function() for _, e in ipairs(saved_biases) do e[1]:copy_(e[2]) end end)
check.answer('no biases: Σ_pixels R = y^c per image', info_nb.relevance, f_nb, 1e-4)
check.answer('biases restored', attribution.score(model, xs, target), scores, 0)

-- %% All maps side by side
-- Red is positive evidence for the predicted class, blue negative; Grad-CAM is on its own
-- (non-negative) scale.
local names = {'input', 'saliency', 'grad×input', 'IG', 'SmoothGrad', 'deconvnet', 'guided BP',
               'Grad-CAM', 'LRP-ε'}
local cmaps = {'gray', 'diverging', 'diverging', 'diverging', 'diverging', 'diverging',
               'diverging', 'viridis', 'diverging'}
for j = 1, #picks do
  plot.images({xs[j], sal_map[j], gxi_map[j], ig_map[j], sg_map[j], dec_map[j], gbp_map[j],
               gc_map[j], lrp_map[j]},
              {titles = names, cmap = cmaps, title = titles[j]})
end

-- %% Sanity check: scramble the last layer
-- An attribution map that explains the *model* must change when the model does. Re-initialise
-- the last linear layer (Adebayo et al., 2018), recompute each map for the same class, and
-- compare it with the original by Spearman rank correlation, per image, on the signed maps and
-- on their absolute values; three different re-initialisations, averaged. A map that barely
-- changes (ρ near 1) shows the image, not the model's reasoning.
local methods = {
  {'saliency', function() return attribution.saliency(model, xs, target) end},
  {'grad×input', function() return attribution.grad_x_input(model, xs, target) end},
  {'IG', function()
    return attribution.integrated_gradients(model, xs, target, {steps = 64, method = 'midpoint'})
  end},
  {'SmoothGrad', function()
    nb.manual_seed(2)
    return attribution.smoothgrad(model, xs, target, {n = 50, sigma = 0.15})
  end},
  {'deconvnet', function() return attribution.deconvnet(model, xs, target) end},
  {'guided BP', function() return attribution.guided_backprop(model, xs, target) end},
  {'Grad-CAM', function()
    return attribution.gradcam(model, layer, xs, target, {relu = false})
  end},
  {'LRP-ε', function() return attribution.lrp(model, xs, target, {eps = 0.1}) end},
}
local before = {}
for i, m in ipairs(methods) do before[i] = m[2]() end
-- A map that became constant (all zero: no gradient reached the input) has no ranking;
-- it has certainly changed, and counts as ρ = 0.
local constant = 0
local function rho_of(a, b)
  if a:std():item() == 0 or b:std():item() == 0 then
    constant = constant + 1
    return 0
  end
  return attribution.rank_correlation(a, b)
end
local draws = 3
local signed, absolute = {}, {}   -- [method][image], averaged over the draws
for i = 1, #methods do signed[i], absolute[i] = {0, 0, 0}, {0, 0, 0} end
for draw = 1, draws do
  nb.manual_seed(100 + draw)
  local restore = attribution.randomize(model, {layers = 1})
  for i, m in ipairs(methods) do
    local after = m[2]()
    for j = 1, #picks do
      signed[i][j] = signed[i][j] + rho_of(before[i][j], after[j]) / draws
      absolute[i][j] = absolute[i][j] + rho_of(before[i][j]:abs(), after[j]:abs()) / draws
    end
  end
  restore()
end
check.answer('weights restored', attribution.score(model, xs, target), scores, 0)
local rho = {}
print(string.format('mean over %d re-initialisations of the last layer:', draws))
print(string.format('%-12s %22s %22s', 'method', 'ρ signed (3 images)', 'ρ |map| (3 images)'))
for i, m in ipairs(methods) do
  local rs, ra = signed[i], absolute[i]
  rho[m[1]] = (rs[1] + rs[2] + rs[3]) / 3
  print(string.format('%-12s %6.2f %6.2f %6.2f    %6.2f %6.2f %6.2f', m[1], rs[1], rs[2], rs[3],
                      ra[1], ra[2], ra[3]))
end
if constant > 0 then print(string.format('(%d comparisons with a constant map, counted as ρ = 0)',
                                         constant)) end

-- %% Which maps pass
-- The gradient-based maps and Grad-CAM and LRP change completely (mean signed ρ well below 1;
-- a negative ρ means the new random class direction happens to point the other way). The
-- absolute values of grad × input, IG and LRP stay correlated — not because they explain the
-- model, but because all three are multiplied by the input: wherever the pixel is black the
-- map is 0 for any model, so $|\text{map}|$ mostly shows where the garment is.
--
-- **Guided backprop fails the test**: its map hardly moves. Its backward pass discards every
-- negative signal at every ReLU, so what comes through is shaped by the input and the early
-- filters, nearly regardless of which class the top layer asks about — the observation of
-- Adebayo et al. Deconvnet, which ignores the forward masks as well, changes only partly.
for _, name in ipairs({'saliency', 'grad×input', 'IG', 'SmoothGrad', 'Grad-CAM', 'LRP-ε'}) do
  check.answer(string.format('%s changes: mean signed ρ < 0.5 (1 = yes, ρ = %.2f)', name,
                             rho[name]), rho[name] < 0.5 and 1 or 0, 1)
end
if lesson.quick then
  print(string.format('guided backprop: mean signed ρ = %.2f (the quick model is barely trained; ' ..
                      'the full mode checks ρ > 0.7)', rho['guided BP']))
else
  check.answer(string.format('guided backprop barely changes: mean ρ > 0.7 (1 = yes, ρ = %.2f)',
                             rho['guided BP']), rho['guided BP'] > 0.7 and 1 or 0, 1)
end
print(string.format('deconvnet: mean signed ρ = %.2f', rho['deconvnet']))
