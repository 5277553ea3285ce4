-- batchnorm: forward against nn.F.batch_norm, the complete backward against a hand-worked
-- example, finite differences (check.grad) and autograd; the course's backward against its
-- closed form; the experiment helpers.
local H = require 'harness'
local nb = require 'nabla'
local nn = require 'nn'
local check = require 'check'
local bn = require 'batchnorm'

local function f64(t) return nb.tensor(t, {dtype = 'f64'}) end

---------------------------------------------------------------------------- by hand
-- x = (1, 2, 3, 6) in one channel, γ = 2, β = 1, ε = 0: μ = 3, deviations (−2, −1, 0, 3),
-- σ² = 14/4 = 3.5, x̂ = dev/√3.5, y = 2x̂ + 1.
local s = math.sqrt(3.5)
local x = f64({1, 2, 3, 6}):view(4, 1)
local y, cache = bn.forward(x, f64({2}), f64({1}), 0)
H.close(y:reshape(-1), {-4 / s + 1, -2 / s + 1, 1, 6 / s + 1}, 1e-14, 'forward by hand')
-- upstream g = (1, 0, 0, 0): Σg = 1, Σ g x̂ = −2/√3.5, so
-- ∂l/∂x_i = 2/(4√3.5) · (4g_i − 1 + x̂_i·2/√3.5) = (4g_i − 1 + 2 dev_i/3.5) / (2√3.5)
--         = (13, −11, −7, 5) / (14√3.5)
local g = f64({1, 0, 0, 0}):view(4, 1)
local gx, gg, gb = bn.backward(g, cache, f64({2}))
H.close(gx:reshape(-1), {13 / (14 * s), -11 / (14 * s), -7 / (14 * s), 5 / (14 * s)}, 1e-14,
        'complete ∂l/∂x by hand')
H.close(gg, {-2 / s}, 1e-14, '∂l/∂γ = Σ g x̂')
H.close(gb, {1}, 1e-14, '∂l/∂β = Σ g')
-- the course's ∂l/∂x = gγ/σ = (2/√3.5, 0, 0, 0)
H.close(bn.backward_seed(g, cache, f64({2})):reshape(-1), {2 / s, 0, 0, 0}, 1e-14,
        'course ∂l/∂x by hand')
-- missing terms: mean path −(γ/σ)·mean(g) = −(2/√3.5)/4 each; variance path
-- −(γ/σ)·x̂_i·mean(g x̂) = −(2/√3.5)·(dev_i/√3.5)·(−2/√3.5)/4 = dev_i/(3.5√3.5)
local vm, vv = bn.missing_terms(g, cache, f64({2}))
H.close(vm:reshape(-1), {-0.5 / s, -0.5 / s, -0.5 / s, -0.5 / s}, 1e-14, 'mean path by hand')
H.close(vv:reshape(-1), {-2 / (3.5 * s), -1 / (3.5 * s), 0, 3 / (3.5 * s)}, 1e-14,
        'variance path by hand')

---------------------------------------------------------------------------- against references
nb.manual_seed(4)
local xr = nb.randn(6, 3, {dtype = 'f64'}) * 2 + 1
local gam, bet = f64({1.7, 0.5, -1.2}), f64({-0.3, 0.2, 1})
H.close(bn.forward(xr, gam, bet), nn.F.batch_norm(xr, nil, nil, gam, bet, {training = true}),
        1e-13, 'forward = nn.F.batch_norm [m, C]')
local x4 = nb.randn(2, 3, 2, 3, {dtype = 'f64'})
H.close(bn.forward(x4, gam, bet), nn.F.batch_norm(x4, nil, nil, gam, bet, {training = true}),
        1e-13, 'forward = nn.F.batch_norm [N, C, H, W]')
local ok, rep = check.grad(function(a, b, c) return bn.Function(a, b, c) end, {xr, gam, bet})
H.check(ok, 'Function passes check.grad [m, C]: %s', rep.text)
ok, rep = check.grad(function(a, b, c) return bn.Function(a, b, c) end, {x4, gam, bet})
H.check(ok, 'Function passes check.grad [N, C, H, W]: %s', rep.text)
ok, rep = check.grad(function(a, b, c) return bn.SeedFunction(a, b, c) end, {xr, gam, bet})
H.check(not ok and rep.input == 1, 'SeedFunction fails check.grad on x only: %s', rep.text)
-- complete backward = autograd; course + missing terms = complete
local G = nb.randn(2, 3, 2, 3, {dtype = 'f64'})
local xl = x4:clone():requires_grad_()
local auto = nb.grad((nn.F.batch_norm(xl, nil, nil, gam, bet, {training = true}) * G):sum(),
                     {xl})[1]
local _, c4 = bn.forward(x4, gam, bet)
H.close(bn.backward(G, c4, gam), auto, 1e-12, 'backward = autograd [N, C, H, W]')
local a1, a2 = bn.missing_terms(G, c4, gam)
H.close(bn.backward_seed(G, c4, gam) + a1 + a2, auto, 1e-12, 'course + missing terms = complete')
-- without γ, β
ok, rep = check.grad(function(a) return bn.Function(a) end, {xr})
H.check(ok, 'Function without γ, β: %s', rep.text)
-- custom backward through make_function
local calls = 0
local F = bn.make_function(function(gy, c, gm) calls = calls + 1; return bn.backward(gy, c, gm) end)
local xx = xr:clone():requires_grad_()
F(xx, gam, bet):sum():backward()
H.check(calls == 1 and xx.grad ~= nil, 'make_function calls the given backward')
-- stats: biased variance
local mu, var = bn.stats(f64({1, 2, 3, 6}):view(4, 1))
H.close(mu, {{3}}, 1e-15, 'batch mean')
H.close(var, {{3.5}}, 1e-15, 'biased batch variance')

---------------------------------------------------------------------------- experiment helpers
nb.manual_seed(6)
local labels = nb.tensor({1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 1, 2}, {dtype = 'i64'})
local batches = bn.class_batches(labels, 2, {single_class = true})
local seen, one_class = {}, true
for _, b in ipairs(batches) do
  local lb = labels:index_select(1, b)
  if lb:min():item() ~= lb:max():item() then one_class = false end
  for _, i in ipairs(b:totable()) do seen[i] = (seen[i] or 0) + 1 end
end
H.check(one_class, 'single_class batches hold one class each')
-- class sizes 5, 4, 3 in batches of 2: 2+1 (short one dropped: 1 sample), 2+2, 1+(short) → 10 used
local used, dup = 0, false
for _, n in pairs(seen) do used = used + 1; dup = dup or n > 1 end
H.check(used == 10 and not dup, 'each index at most once, short batches of 1 dropped (%d)', used)
local mixed = bn.class_batches(labels, 5)
local total = 0
for _, b in ipairs(mixed) do total = total + b:numel() end
H.check(#mixed == 3 and total == 12, 'mixed batches cover everything (5, 5, 2)')
H.check(#bn.class_batches(labels, 5, {drop_last = true}) == 2, 'drop_last')

-- a tiny separable problem: fit, then predict in both modes; running stats are restored
local Xb = nb.cat({nb.randn(40, 2) + 3, nb.randn(40, 2) - 3}, 1)
local yb = nb.cat({nb.ones(40, 'i64'), nb.full({40}, 2, 'i64')}, 1)
local net = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
local losses = bn.fit(net, Xb, yb, function() return bn.class_batches(yb, 16) end,
                      {epochs = 10, lr = 0.1})
H.check(#losses == 50 and losses[#losses] < losses[1], 'fit: loss goes down (%.3f → %.3f)',
        losses[1], losses[#losses])
H.check(bn.accuracy(net, Xb, yb) > 0.95, 'eval accuracy on a separable set')
local layer = bn.bn_layers(net)[1]
H.check(#bn.bn_layers(net) == 1 and layer.num_features == 8, 'bn_layers finds the BatchNorm')
local rm, rv = layer.running_mean:clone(), layer.running_var:clone()
local acc_tr = bn.accuracy(net, Xb, yb, {mode = 'train', batches = bn.class_batches(yb, 16)})
H.check(acc_tr > 0.9, 'train-mode accuracy with mixed batches (%.2f)', acc_tr)
H.close(layer.running_mean, rm, 0, 'predict in train mode restores running_mean')
H.close(layer.running_var, rv, 0, 'predict in train mode restores running_var')
H.check(net.training == true, 'mode restored')
H.check(bn.predict(net, Xb):numel() == 80, 'predict returns one class per row')

-- scale_weights: Linear/Conv weights and biases, BatchNorm untouched
local sn = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
local w0, b0 = sn[1].weight:detach():clone(), sn[1].bias:detach():clone()
bn.scale_weights(sn, 3, {bias = true})
H.close(sn[1].weight, w0 * 3, 1e-6, 'weights scaled')
H.close(sn[1].bias, b0 * 3, 1e-6, 'bias scaled with {bias=true}')
H.close(sn[2].weight, {1, 1, 1}, 0, 'BatchNorm γ untouched')
bn.scale_weights(sn, 2)
H.close(sn[1].bias, b0 * 3, 1e-6, 'bias untouched without {bias=true}')

---------------------------------------------------------------------------- errors
H.checkerror('x must be [m, C]', bn.forward, f64({1, 2, 3}))
H.checkerror('gamma must have 2 entries', bn.forward, nb.randn(4, 2, {dtype = 'f64'}), f64({1}))
H.checkerror('more than one value per channel', bn.forward, nb.randn(1, 3, {dtype = 'f64'}))

H.report()
