-- attribution: each method against values worked out by hand (comments), closed forms, or a
-- second implementation (Grad-CAM vs CAM, LRP-0 vs gradient × input, Function vs hooks).
local nb = require 'nabla'
local nn = require 'nn'
local H = require 'harness'
local A = require 'attribution'

local f64 = {dtype = 'f64'}
local sig1 = 1 / (1 + math.exp(-1))          -- σ(1) = 0.7310585786
local ds1 = sig1 * (1 - sig1)                -- σ'(1) = 0.1966119332

-- f(x1, x2) = σ(2x1 − x2 + 1), one score per row
local function neuron(x) return (x[{{}, 1}] * 2 - x[{{}, 2}] + 1):sigmoid() end
local x0 = nb.tensor({{1, 2}}, f64)

-- saliency, grad × input -----------------------------------------------------------------------
local sal, f0 = A.saliency(neuron, x0)
H.close(f0, {sig1}, 1e-14, 'f(1,2) = σ(1)')
H.close(sal, {2 * ds1, -ds1}, 1e-14, 'saliency (0.3932, −0.1966)')
H.close(A.saliency(neuron, x0, nil, {abs = true}), {2 * ds1, ds1}, 1e-14, 'abs saliency')
H.close(A.grad_x_input(neuron, x0), {2 * ds1, -2 * ds1}, 1e-14, 'grad × input')
H.close(A.gradient(neuron, x0), {2 * ds1, -ds1}, 1e-14, 'gradient = saliency')
-- a batch of two rows gives two independent gradients
local x2 = nb.tensor({{1, 2}, {0, 0}}, f64)
H.close(A.saliency(neuron, x2), {2 * ds1, -ds1, 2 * ds1, -ds1}, 1e-14, 'batch of two')

-- interior gradients: z(αx) = 1 for every α, so all equal the saliency --------------------------
local ints, iscores = A.interior_gradients(neuron, x0, nil, {alphas = {0.25, 0.5, 1}})
for i = 1, 3 do
  H.close(ints[i], sal, 1e-14, 'interior gradient ' .. i)
  H.close(iscores[i], {sig1}, 1e-14, 'interior score ' .. i)
end
-- f(x) = Σ x²: gradient at αx is 2αx
local function sq(x) return (x * x):sum(2) end
local xq = nb.tensor({{1, -2, 3}}, f64)
local gq = A.interior_gradients(sq, xq, nil, {alphas = {0.5, 0.1}, chunk = 1})
H.close(gq[1], {1, -2, 3}, 1e-14, 'interior gradient of Σx² at 0.5x')
H.close(gq[2], {0.2, -0.4, 0.6}, 1e-14, 'interior gradient of Σx² at 0.1x')

-- integrated gradients ---------------------------------------------------------------------------
-- baseline 0: the path keeps z = 1, so IG = x ⊙ ∇f = (0.3932, −0.3932), summing to 0 = f(x) − f(0)
local ig, info = A.integrated_gradients(neuron, x0, nil, {steps = 8})
H.close(ig, {2 * ds1, -2 * ds1}, 1e-14, 'IG baseline 0')
H.close(info.delta, {0}, 1e-14, 'IG completeness, baseline 0')
-- baseline (0,1): z = α on the path, IG = (2, −1)(σ(1) − σ(0)) = (0.4621, −0.2311)
local b01 = nb.tensor({{0, 1}}, f64)
local d = sig1 - 0.5
for _, method in ipairs({'riemann_right', 'riemann_left', 'midpoint', 'trapezoid'}) do
  local g = A.integrated_gradients(neuron, x0, nil, {steps = 2000, baseline = b01, method = method})
  H.close(g, {2 * d, -d}, 1e-4, 'IG baseline (0,1), ' .. method)
end
local _, i01 = A.integrated_gradients(neuron, x0, nil, {steps = 64, baseline = b01,
                                                        method = 'midpoint'})
H.close(i01.fx - i01.fb, {d}, 1e-14, 'f(x) − f(b) = σ(1) − σ(0)')
H.check(i01.rel_error < 1e-5, 'midpoint IG with 64 steps: rel error %g', i01.rel_error)
-- the baseline as a number broadcasts
local _, ib = A.integrated_gradients(neuron, x0, nil, {steps = 4, baseline = 0.5})
H.close(ib.fb, {1 / (1 + math.exp(-1.5))}, 1e-14, 'number baseline')
-- convergence orders: right Riemann 1, midpoint 2 (smooth integrand)
local cr = A.ig_convergence(neuron, x0, nil, {steps = {16, 32}, baseline = b01})
local cm = A.ig_convergence(neuron, x0, nil, {steps = {16, 32}, baseline = b01,
                                              method = 'midpoint'})
H.close(math.log(cr[1].error / cr[2].error, 2), 1, 0.02, 'right Riemann is first order')
H.close(math.log(cm[1].error / cm[2].error, 2), 2, 0.02, 'midpoint is second order')
H.check(tostring(cr):find('steps', 1, true) ~= nil, 'convergence table prints')
-- exact for a linear model with any number of steps
local wl = nb.tensor({{0.5}, {-1}, {2}}, f64)
local function lin(x) return x:matmul(wl):reshape(-1) end
local igl, il = A.integrated_gradients(lin, xq, nil, {steps = 1})
H.close(igl, {0.5, 2, 6}, 1e-14, 'IG of a linear model = w ⊙ (x − x′)')
H.close(il.delta, {0}, 1e-14, 'linear model: completeness exact at 1 step')
H.checkerror("method must be 'riemann_right'", A.integrated_gradients, neuron, x0, nil,
             {method = 'simpson'})
H.checkerror('steps must be a positive integer', A.integrated_gradients, neuron, x0, nil,
             {steps = 0})
H.checkerror('does not broadcast', A.integrated_gradients, neuron, x0, nil,
             {baseline = nb.zeros(3, 3)})
H.checkerror('trapezoid rule needs steps >= 2', A.integrated_gradients, neuron, x0, nil,
             {steps = 1, method = 'trapezoid'})

-- SmoothGrad --------------------------------------------------------------------------------------
H.close(A.smoothgrad(neuron, x0, nil, {n = 3, sigma = 0}), sal, 1e-14, 'sigma 0 = gradient')
-- Σx²: E[2(x + ε)] = 2x, per-entry standard error 2σ/√n
nb.manual_seed(5)
local sgq, sgi = A.smoothgrad(sq, xq, nil, {n = 4000, sigma = 0.3, chunk = 1000})
local se = 2 * 0.3 / math.sqrt(4000)
local worst = (sgq - xq * 2):abs():max():item()
H.check(worst < 4 * se, 'SmoothGrad of Σx² within 4 SE: %g vs %g', worst, 4 * se)
H.close(sgi.std_error, {se, se, se}, 0.1, 'SmoothGrad standard error estimate')
-- the neuron: gradient is σ'(z)(2, −1), so the ratio −2 survives exactly
local sgn = A.smoothgrad(neuron, x0, nil, {n = 200, sigma = 0.5})
H.close(sgn:get(1, 1) / sgn:get(1, 2), -2, 1e-12, 'SmoothGrad keeps the ratio −2')
H.check(sgn:get(1, 1) < 2 * ds1, 'SmoothGrad shrinks the gradient at the maximum of σ\'')
H.close(A.smoothgrad(sq, xq, nil, {n = 5, sigma = 0, squared = true}), {4, 16, 36}, 1e-12,
        'squared SmoothGrad with σ = 0 is the squared gradient')

-- ReLU backward rules (worked by hand: x = (−1, 2, 3, −0.5), g = (0.7, −0.4, 1.2, 0.9)) -----------
local xr = nb.tensor({-1, 2, 3, -0.5}, f64)
local gr = nb.tensor({0.7, -0.4, 1.2, 0.9}, f64)
local want = {vanilla = {0, -0.4, 1.2, 0}, deconvnet = {0.7, 0, 1.2, 0.9}, guided = {0, 0, 1.2, 0}}
for mode, w in pairs(want) do
  local xi = xr:clone():requires_grad_()
  local y = A.relu(xi, mode)
  H.close(y, {0, 2, 3, 0}, 0, mode .. ' forward is relu')
  y:backward(gr)
  H.close(xi.grad, w, 1e-15, mode .. ' backward (Function)')
end
-- the same through a model: score = Σ g_i relu(x_i) = Linear(relu(x)) with weight g
local relu_model = nn.Sequential(nn.ReLU(), nn.Linear(4, 1, {bias = false, dtype = 'f64'}))
nb.no_grad(function() relu_model[2].weight:copy_(gr:view(1, 4)) end)
local xb = xr:view(1, 4)
for _, via in ipairs({'function', 'hooks'}) do
  H.close(A.deconvnet(relu_model, xb, 1, {via = via}), want.deconvnet, 1e-15, 'deconvnet ' .. via)
  H.close(A.guided_backprop(relu_model, xb, 1, {via = via}), want.guided, 1e-15, 'guided ' .. via)
  local plain = function() return A.gradient(relu_model, xb, 1) end
  H.close(A.with_relu_rule(relu_model, 'vanilla', plain, via), want.vanilla, 1e-15,
          'vanilla ' .. via)
end
H.check(rawget(relu_model[1], 'forward') == nil, 'the ReLU is restored')
H.close(A.gradient(relu_model, xb, 1), want.vanilla, 1e-15, 'plain gradient afterwards')
H.checkerror('boom', A.with_relu_rule, relu_model, 'guided', function() error('boom', 0) end)
H.check(rawget(relu_model[1], 'forward') == nil, 'the ReLU is restored after an error')
H.checkerror('has no nn.ReLU layers', A.deconvnet, nn.Sequential(nn.Linear(4, 1)), xb, 1)
H.checkerror('nn module', A.guided_backprop, neuron, x0)
H.checkerror("mode must be 'vanilla', 'deconvnet' or 'guided'", A.relu, xr, 'leaky')
H.checkerror("via must be 'function' or 'hooks'", A.deconvnet, relu_model, xb, 1, {via = 'x'})

-- a small CNN with a global-average-pooling head --------------------------------------------------
nb.manual_seed(3)
local cnn = nn.Sequential(
  nn.Conv2d(1, 3, 3, {padding = 1, dtype = 'f64'}), nn.ReLU(), nn.MaxPool2d(2),
  nn.Conv2d(3, 4, 3, {padding = 1, dtype = 'f64'}), nn.ReLU(),
  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3, {dtype = 'f64'}))
cnn:eval()
local xc = nb.rand({2, 1, 8, 8}, f64)

-- targets
local out = cnn(xc):detach()
local s_nil, ids = A.score(cnn, xc)
H.close(ids, out:argmax(2):reshape(-1), 0, 'target nil = argmax')
H.close(s_nil, out:max(2):reshape(-1), 1e-15, 'score of the argmax')
H.close(A.score(cnn, xc, {3, 1}), {out:get(1, 3), out:get(2, 1)}, 1e-15, 'target list')
H.close(A.score(cnn, xc, nb.tensor({2, 2}, {dtype = 'i64'})), {out:get(1, 2), out:get(2, 2)},
        1e-15, 'target tensor')
H.close(A.score(cnn, xc, 2), {out:get(1, 2), out:get(2, 2)}, 1e-15, 'target number')
H.checkerror('target class 4 is outside 1..3', A.saliency, cnn, xc, 4)
H.checkerror('target class 0 is outside 1..3', A.saliency, cnn, xc, 0)
H.checkerror('target has 3 entries for a batch of 2', A.saliency, cnn, xc, {1, 2, 3})
H.checkerror('x must be a batch tensor', A.saliency, cnn, {1, 2})
H.checkerror('model must be an nn module or a function', A.saliency, 42, xc)
H.checkerror('the model returned [3] for a batch of 2',
             A.saliency, function(x) return nb.zeros(3, f64) end, xc)
-- the gradient of sample 1 does not depend on sample 2
H.close(A.saliency(cnn, xc, 2)[1], A.saliency(cnn, xc[{{1}}], 2)[1], 1e-14,
        'per-sample gradients are independent')

-- Grad-CAM against CAM/Z, α = w^c/Z
local gc, gi = A.gradcam(cnn, 5, xc, {1, 3}, {relu = false, upsample = false})
local cam = A.cam(cnn, 5, cnn[8], xc, {1, 3}, {upsample = false})
H.close(gc, cam / 16, 1e-13, 'Grad-CAM without ReLU = CAM / Z (Z = 16)')
local W = cnn[8].weight:detach()
H.close(gi.alpha, nb.stack({W[1], W[3]}, 1) / 16, 1e-14, 'α_k = w^c_k / Z')
H.close(A.gradcam(cnn, '5', xc, {1, 3}, {upsample = false}), gc:relu(), 1e-14,
        'Grad-CAM = ReLU(raw), layer by name')
H.close(A.gradcam(cnn, cnn[5], xc, {1, 3}, {upsample = false}), gc:relu(), 1e-14,
        'layer as a module')
local up = A.gradcam(cnn, 5, xc, {1, 3})
H.check(up:size(2) == 8 and up:size(3) == 8, 'upsampled to the input size')
H.check(up:min():item() >= -1e-12, 'upsampled ReLU map is non-negative')
local acts = A.activations(cnn, 5, xc)
H.check(acts:size(2) == 4 and acts:size(3) == 4, 'activations [N,4,4,4]')
H.checkerror("model has no module named 'fc'", A.gradcam, cnn, 'fc', xc, 1)
H.checkerror('Grad-CAM needs feature maps', A.gradcam, cnn, 7, xc, 1)
-- frozen parameters: the hooked activations are leaves, so Grad-CAM still works
cnn:requires_grad_(false)
H.close(A.gradcam(cnn, 5, xc, {1, 3}, {relu = false, upsample = false}), gc, 1e-14,
        'Grad-CAM with frozen parameters')
cnn:requires_grad_(true)

-- LRP: ε → 0 is gradient × input for a ReLU network; accounting of bias and ε
local R0 = A.lrp(cnn, xc, 2, {eps = 1e-12})
H.close(R0, A.grad_x_input(cnn, xc, 2), 1e-8, 'LRP-0 = gradient × input')
local R, li = A.lrp(cnn, xc, 2, {eps = 0.05})
for _, r in ipairs(li.layers) do
  H.close(r.r_in + r.bias + r.eps, r.r_out, 1e-12, 'per-layer conservation at ' .. r.name)
end
H.close(li.total + li.absorbed, li.fx, 1e-12, 'Σ R_input + absorbed = Σ f')
H.close(li.relevance:sum(), R:sum(), 1e-12, 'per-sample relevance sums')
H.check(tostring(li.layers):find('Conv2d', 1, true) ~= nil, 'LRP table prints')
-- without biases and with a tiny ε everything reaches the input
local nobias = nn.Sequential(nn.Conv2d(1, 3, 3, {padding = 1, bias = false, dtype = 'f64'}),
                             nn.ReLU(), nn.Flatten(),
                             nn.Linear(192, 2, {bias = false, dtype = 'f64'}))
local Rn, ln = A.lrp(nobias, xc, 1, {eps = 1e-12})
H.close(ln.relevance, A.score(nobias, xc, 1), 1e-9, 'no biases: Σ R = f(x)')
H.close(Rn:sum(), ln.fx, 1e-9, 'no biases: total')
-- nested Sequentials are walked; unknown layers need a rule
local nested = nn.Sequential(nn.Sequential(nn.Linear(3, 4, {dtype = 'f64'}), nn.ReLU()),
                             nn.Linear(4, 2, {dtype = 'f64'}))
local Rs = A.lrp(nested, xq, 1, {eps = 1e-12})
H.close(Rs, A.grad_x_input(nested, xq, 1), 1e-9, 'nested Sequential')
local with_tanh = nn.Sequential(nn.Linear(3, 4, {dtype = 'f64'}), nn.Tanh(),
                                nn.Linear(4, 2, {dtype = 'f64'}))
H.checkerror('no LRP rule for layer 2 (Tanh)', A.lrp, with_tanh, xq, 1)
local Rt = A.lrp(with_tanh, xq, 1, {rules = {Tanh = 'pass'}})
H.check(Rt:size(2) == 3, 'a rule given in opts.rules is used')
H.checkerror('walks the layers of an nn.Sequential', A.lrp, neuron, x0)

-- randomize / restore
local before = cnn[8].weight:detach():clone()
local conv1_before = cnn[1].weight:detach():clone()
local b_before = cnn[8].bias:detach():clone()
local restore, names = A.randomize(cnn)
H.check(names[1] == '8', 'the last layer with parameters is randomized (%s)', tostring(names[1]))
H.check((cnn[8].weight:detach() - before):abs():max():item() > 1e-3, 'weights changed')
H.close(cnn[1].weight, conv1_before, 0, 'other layers untouched')
restore()
H.close(cnn[8].weight, before, 0, 'weights restored')
H.close(cnn[8].bias, b_before, 0, 'bias restored')
local first = cnn[1].weight:detach():clone()
local restore2, names2 = A.randomize(cnn, {layers = 2, from = 'bottom'})
H.check(names2[1] == '1' and names2[2] == '4', 'from the bottom: %s, %s', tostring(names2[1]),
        tostring(names2[2]))
H.check((cnn[1].weight:detach() - first):abs():max():item() > 1e-3, 'first layer changed')
restore2()
H.close(cnn[1].weight, first, 0, 'first layer restored')
H.checkerror('model must be an nn module', A.randomize, neuron)

-- rank correlation
local m1 = nb.tensor({{1, 5, 2}, {4, 3, 6}}, f64)
H.close(A.rank_correlation(m1, m1 * 3 + 1), 1, 1e-12, 'ρ of a monotone transform is 1')
H.close(A.rank_correlation(m1, -m1), -1, 1e-12, 'ρ of a reversal is −1')

-- docs
local missing = {}
for k, v in pairs(A) do
  if type(v) == 'function' and not nb._docs[v] then missing[#missing + 1] = k end
end
H.check(#missing == 0, 'undocumented: %s', table.concat(missing, ', '))

H.report()
