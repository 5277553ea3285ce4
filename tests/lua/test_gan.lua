-- Tests of stdlib/gan.lua: the losses against their formulas written out with sigmoids, the
-- D ≡ ½ and optimal-D values against closed forms, MMD against a plain Lua double loop, mode
-- coverage and the classifier score on constructed inputs, and the training loop's bookkeeping.
local H = require 'harness'
local nb = require 'nabla'
local nn = require 'nn'
local gan = require 'gan'
local check_grad = require('check').grad

local LN2 = math.log(2)
nb.manual_seed(11)

-- Plain-Lua references ------------------------------------------------------------------
local function sig(v) return 1 / (1 + math.exp(-v)) end
local function mean(t) local s = 0 for _, v in ipairs(t) do s = s + v end return s / #t end

-- the losses ----------------------------------------------------------------------------
do
  local r = nb.randn(7, 1, {dtype = 'f64'}) * 2
  local f = nb.randn(5, 1, {dtype = 'f64'}) * 2
  local rt, ft = r:reshape(-1):totable(), f:reshape(-1):totable()
  local lr, lf, lf1 = {}, {}, {}
  for i, v in ipairs(rt) do lr[i] = -math.log(sig(v)) end
  for i, v in ipairs(ft) do lf[i] = -math.log(1 - sig(v)); lf1[i] = -math.log(sig(v)) end
  H.close(gan.d_loss(r, f):item(), mean(lr) + mean(lf), 1e-12,
          'd_loss = −E log D(x) − E log(1 − D(G(z)))')
  H.close(gan.g_loss(f):item(), mean(lf1), 1e-12, 'non-saturating g_loss = −E log D(G(z))')
  H.close(gan.g_loss(f, 'nonsaturating'):item(), mean(lf1), 1e-12, 'named non-saturating')
  H.close(gan.g_loss(f, 'minimax'):item(), -mean(lf), 1e-12, 'minimax g_loss = E log(1 − D(G(z)))')
  H.checkerror("variant must be 'nonsaturating' or 'minimax'", gan.g_loss, f, 'wasserstein')
  -- gradients flow to both inputs
  local rr, ff = r:clone():requires_grad_(), f:clone():requires_grad_()
  gan.d_loss(rr, ff):backward()
  -- d/dr of mean softplus(−r) is −(1 − σ(r))/n
  H.close(rr.grad:get(1, 1), -(1 - sig(rt[1])) / 7, 1e-12, 'd_loss gradient wrt a real logit')
  H.close(ff.grad:get(1, 1), sig(ft[1]) / 5, 1e-12, 'd_loss gradient wrt a fake logit')
  -- large logits stay finite (the BCE is computed from logits)
  local big = gan.d_loss(nb.full({3, 1}, -80, {dtype = 'f64'}),
                         nb.full({3, 1}, 80, {dtype = 'f64'}))
  H.close(big:item(), 160, 1e-9, 'd_loss from logits is finite for |logit| = 80')
end

-- D ≡ ½ and the Jensen–Shannon connection ------------------------------------------------
do
  H.close(gan.constant_d_loss(), 2 * LN2, 1e-15, 'constant D = ½ gives 2 ln 2')
  H.close(gan.constant_d_loss(0.9), -math.log(0.9) - math.log(0.1), 1e-15, 'constant D = 0.9')
  H.checkerror('p must be in (0, 1)', gan.constant_d_loss, 1)
  -- logit 0 everywhere is D ≡ ½, whatever the batch sizes
  H.close(gan.d_loss(nb.zeros(9, 1), nb.zeros(4, 1)):item(), 2 * LN2, 1e-6, 'zero logits → 2 ln 2')
  H.close(gan.g_loss(nb.zeros(4, 1)):item(), LN2, 1e-6, 'zero logits → G loss ln 2')

  H.close(gan.js_divergence({1, 2, 3}, {2, 4, 6}), 0, 1e-15,
          'JS of equal distributions (unnormalised) is 0')
  H.close(gan.js_divergence({1, 0}, {0, 1}), LN2, 1e-15, 'JS of disjoint distributions is ln 2')
  -- p = (1, 0), q = (½, ½): m = (¾, ¼); KL(p‖m) = ln(4/3), KL(q‖m) = ½ ln(2/3) + ½ ln 2
  local want = 0.5 * math.log(4 / 3) + 0.5 * (0.5 * math.log(2 / 3) + 0.5 * math.log(2))
  H.close(gan.js_divergence({1, 0}, {0.5, 0.5}), want, 1e-14, 'JS by hand')
  H.checkerror('differ in size', gan.js_divergence, {1, 2}, {1, 2, 3})

  local p = nb.rand(12, {dtype = 'f64'}); local q = nb.rand(12, {dtype = 'f64'})
  q[3] = 0; p[5] = 0
  local loss, dstar = gan.optimal_d_loss(p, q)
  H.close(loss, 2 * LN2 - 2 * gan.js_divergence(p, q), 1e-12, 'optimal D loss = 2 ln 2 − 2 JS')
  H.close(dstar:get(3), 1, 1e-15, 'D* = 1 where only data has mass')
  H.close(dstar:get(5), 0, 1e-15, 'D* = 0 where only the generator has mass')
  local l2, d2 = gan.optimal_d_loss(p, p)
  H.close(l2, 2 * LN2, 1e-12, 'q = p: optimal D loss is 2 ln 2')
  H.close(d2, nb.full({12}, 0.5), 1e-12, 'q = p: D* ≡ ½')
  -- any other D does no better than D*
  local pn, qn = (p / p:sum()), (q / q:sum())
  local Dx = nb.rand(12, {dtype = 'f64'}) * 0.98 + 0.01
  local other = -(pn * Dx:log()):sum():item() - (qn * (1 - Dx):log()):sum():item()
  H.check(other > loss, 'a random D has a larger loss than D* (%g vs %g)', other, loss)
end

-- pack and smooth ------------------------------------------------------------------------
do
  local x = nb.arange(1, 12):reshape(6, 2)
  local p = gan.pack(x, 3)
  H.check(p:size(1) == 2 and p:size(2) == 6, 'pack [6,2] by 3 → [2,6]')
  H.close(p[2], {7, 8, 9, 10, 11, 12}, 0, 'pack keeps consecutive samples together')
  H.check(gan.pack(x, 1) == x, 'pack by 1 is the identity')
  H.checkerror('not a multiple of the pack size 4', gan.pack, x, 4)
  H.close(gan.smooth({1, 2, 3, 4, 5}, 2), {1.5, 3.5, 5}, 1e-15, 'smooth by windows')
  -- minibatch std: columns (1, 3) and (2, 6) have population stds 1 and 2, mean 1.5
  local m = gan.minibatch_std(nb.tensor({{1, 2}, {3, 6}}))
  H.close(m, {{1, 2, 1.5}, {3, 6, 1.5}}, 1e-6, 'minibatch_std appends the mean std')
  local c = gan.minibatch_std(nb.ones(5, 3))
  H.close(c:select(2, 4), nb.zeros(5), 0, 'a collapsed batch has minibatch std 0')
  local xi = nb.randn(4, 3, {dtype = 'f64'})
  local ok = check_grad(function(x) return gan.minibatch_std(x) end, {xi})
  H.check(ok, 'minibatch_std gradient (check.grad)')
end

-- MMD against a double loop --------------------------------------------------------------
local function mmd_ref(X, Y, sigmas, unbiased)
  local xs, ys = X:to('f64'):totable(), Y:to('f64'):totable()
  local function k(a, b)
    local d2 = 0
    for i = 1, #a do d2 = d2 + (a[i] - b[i]) ^ 2 end
    local s = 0
    for _, sg in ipairs(sigmas) do s = s + math.exp(-d2 / (2 * sg * sg)) end
    return s
  end
  local function avg(A, B, skip_diag)
    local s, c = 0, 0
    for i = 1, #A do for j = 1, #B do
      if not (skip_diag and i == j) then s, c = s + k(A[i], B[j]), c + 1 end
    end end
    return s / c
  end
  return avg(xs, xs, unbiased) + avg(ys, ys, unbiased) - 2 * avg(xs, ys, false)
end

do
  local X = nb.randn(6, 3, {dtype = 'f64'})
  local Y = nb.randn(8, 3, {dtype = 'f64'}) + 0.7
  H.close(gan.mmd2(X, Y, {sigma = 1.3}), mmd_ref(X, Y, {1.3}, true), 1e-12, 'unbiased MMD²')
  H.close(gan.mmd2(X, Y, {sigma = 1.3, unbiased = false}), mmd_ref(X, Y, {1.3}, false), 1e-12,
          'biased MMD²')
  H.close(gan.mmd2(X, Y, {sigma = {0.5, 2}}), mmd_ref(X, Y, {0.5, 2}, true), 1e-12,
          'unbiased MMD², two bandwidths')
  H.close(gan.mmd2(X, Y, {sigma = {0.5, 2}, unbiased = false}), mmd_ref(X, Y, {0.5, 2}, false),
          1e-12, 'biased MMD², two bandwidths')
  -- images [N,1,4,4] are flattened
  local A, B = nb.rand(5, 1, 4, 4), nb.rand(4, 1, 4, 4)
  H.close(gan.mmd2(A, B, {sigma = 2}), mmd_ref(A:reshape(5, 16), B:reshape(4, 16), {2}, true),
          1e-6, 'MMD² of image batches')
  H.close(gan.mmd2(X, X, {sigma = 1, unbiased = false}), 0, 1e-12, 'biased MMD²(X, X) = 0')
  H.checkerror('at least 2 samples', gan.mmd2, X:narrow(1, 1, 1), Y, {sigma = 1})
  -- median bandwidth: the median of the off-diagonal distances
  local Z = nb.cat({X, Y}, 1):totable()
  local ds = {}
  for i = 1, #Z do for j = 1, #Z do if i ~= j then
    local s = 0
    for c = 1, 3 do s = s + (Z[i][c] - Z[j][c]) ^ 2 end
    ds[#ds + 1] = math.sqrt(s)
  end end end
  table.sort(ds)
  local med = ds[(#ds + 1) // 2]
  H.close(gan.median_sigma(X, Y), med, 1e-9, 'median_sigma')
  H.close(gan.mmd2(X, Y), mmd_ref(X, Y, {med}, true), 1e-9, 'default bandwidth is the median')
  -- the unbiased estimator has mean 0 for equal distributions; the biased one is biased upward
  local u, b = {}, {}
  for t = 1, 200 do
    local P, Q = nb.randn(10, 2, {dtype = 'f64'}), nb.randn(10, 2, {dtype = 'f64'})
    u[t] = gan.mmd2(P, Q, {sigma = 1})
    b[t] = gan.mmd2(P, Q, {sigma = 1, unbiased = false})
  end
  local mu, sd = mean(u), 0
  for _, v in ipairs(u) do sd = sd + (v - mu) ^ 2 end
  sd = math.sqrt(sd / (#u - 1) / #u)
  H.check(math.abs(mu / sd) < 4, 'unbiased MMD² has mean 0 under equal distributions (z = %.2f)',
          mu / sd)
  H.check(mean(b) > mu + 4 * sd, 'the biased estimator is larger on average (%g vs %g)',
          mean(b), mu)
  local neg = 0
  for _, v in ipairs(u) do if v < 0 then neg = neg + 1 end end
  H.check(neg > 0, 'the unbiased estimator can be negative (%d of 200)', neg)
end

-- mode coverage --------------------------------------------------------------------------
do
  local C = nb.tensor({{0, 0}, {10, 0}, {0, 10}, {10, 10}})
  -- 50 samples at mode 1 (within 0.5), 30 at mode 2, 19 near mode 3 but too far (r·std = 1),
  -- one exactly at mode 4
  local rows = {}
  for i = 1, 50 do rows[#rows + 1] = {0.5, 0} end
  for i = 1, 30 do rows[#rows + 1] = {10, -0.99} end
  for i = 1, 19 do rows[#rows + 1] = {0, 8.5} end
  rows[#rows + 1] = {10, 10}
  local S = nb.tensor(rows)
  local c = gan.mode_coverage(S, C, {std = 0.25, r = 4, min_frac = 0.01})
  H.check(c.covered == 3, 'covered modes: %d (expected 3)', c.covered)
  H.close(c.hq_frac, 0.81, 1e-12, 'high-quality fraction')
  H.close(c.counts, {50, 30, 0, 1}, 0, 'high-quality counts per mode')
  local c2 = gan.mode_coverage(S, C, {std = 0.25, r = 4, min_frac = 0.05})
  H.check(c2.covered == 2, 'min_frac 5%% leaves 2 covered modes, got %d', c2.covered)
  local c3 = gan.mode_coverage(S, C, {std = 1, r = 3})
  H.check(c3.covered == 4 and c3.hq_frac == 1, 'r·std = 3 covers all four')
  H.checkerror("'std'", gan.mode_coverage, S, C)
  H.checkerror("unknown option 'radius'", gan.mode_coverage, S, C, {std = 1, radius = 2})
end

-- classifier score -----------------------------------------------------------------------
do
  local K = 4
  -- confident and balanced: score = K, class entropy = ln K, confidence ≈ 1
  local confident = function(x)
    local ids = {}
    for i = 1, x:size(1) do ids[i] = (i - 1) % K + 1 end
    return nb.one_hot(nb.tensor(ids, {dtype = 'i64'}), K):to('f32') * 50
  end
  local s = gan.classifier_score(confident, nb.zeros(40, 3))
  H.close(s.score, K, 1e-9, 'confident, balanced: score = number of classes')
  H.close(s.class_entropy, math.log(K), 1e-9, 'class entropy ln K')
  H.close(s.confidence, 1, 1e-9, 'confidence 1')
  -- collapsed to one class: score 1, confidence 1, class entropy 0
  local collapsed = function(x)
    return nb.one_hot(nb.ones(x:size(1), {dtype = 'i64'}), K):to('f32') * 50
  end
  local s1 = gan.classifier_score(collapsed, nb.zeros(10, 3))
  H.close({s1.score, s1.class_entropy, s1.confidence}, {1, 0, 1}, 1e-9, 'collapse: score 1')
  -- uninformative: uniform p(y|x) gives score 1 and confidence 1/K
  local s2 = gan.classifier_score(function(x) return nb.zeros(x:size(1), K) end, nb.zeros(7, 3))
  H.close({s2.score, s2.confidence, s2.cond_entropy}, {1, 1 / K, math.log(K)}, 1e-9,
          'uniform p(y|x)')
  -- batches are concatenated in order
  local s3 = gan.classifier_score(confident, nb.zeros(40, 3), {batch_size = 8})
  H.close(s3.score, s.score, 1e-12, 'batching does not change the score')
  -- by hand: two samples, p(y|x) = (0.8, 0.2) and (0.2, 0.8)
  local two = function() return nb.tensor({{math.log(4), 0}, {0, math.log(4)}}) end
  local s4 = gan.classifier_score(two, nb.zeros(2, 1))
  local h = -(0.8 * math.log(0.8) + 0.2 * math.log(0.2))
  H.close(s4.score, math.exp(LN2 - h), 1e-6, 'score = exp(H(y) − E H(y|x)) by hand')
end

-- the training loop ----------------------------------------------------------------------
do
  nb.manual_seed(3)
  local G = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 2))
  local D = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
  local real = function(n) return nb.randn(n, 2) * 0.1 + 1 end
  local noise = function(n) return nb.randn(n, 2) end
  local ev = {real = real(32), z = noise(32)}
  local seen = {}
  local h = gan.train(G, D, {real = real, noise = noise, steps = 12, batch_size = 8, pack = 2,
                             eval = ev, checkpoints = {0, 5, 12},
                             on_checkpoint = function(s)
                               seen[#seen + 1] = s
                               return {mark = s * 2}
                             end})
  H.check(#h.d_loss == 12 and #h.g_loss_ns == 12 and #h.g_loss_mm == 12 and #h.d_fake == 12,
          'per-step histories have one entry per step')
  H.check(#h.checkpoints == 3 and h.checkpoints[2].step == 5 and h.checkpoints[3].mark == 24,
          'checkpoints at the listed steps with on_checkpoint fields')
  H.close(seen, {0, 5, 12}, 0, 'on_checkpoint called at 0, 5, 12')
  -- the last checkpoint's eval losses are those of the final G and D
  local r = D(gan.pack(ev.real, 2)); local f = D(gan.pack(G(ev.z), 2))
  H.close(h.checkpoints[3].d, gan.d_loss(r, f):item(), 1e-6, 'eval D loss at the last checkpoint')
  H.close(h.checkpoints[3].g_mm, gan.g_loss(f, 'minimax'):item(), 1e-6, 'eval minimax loss')
  -- NS = E softplus(−f) > 0 and MM = −E softplus(f) < 0 at every step
  for i = 1, 12 do
    H.check(h.g_loss_ns[i] > 0 and h.g_loss_mm[i] < 0, 'signs of the G losses at step %d', i)
  end
  -- minimax training runs, and D is actually updated
  local w0 = D[1].weight:clone()
  local h2 = gan.train(G, D, {real = real, noise = noise, steps = 3, batch_size = 8, pack = 2,
                              loss = 'minimax', d_steps = 2, instance_noise = 0.1, log_every = 1})
  H.check(#h2.checkpoints == 4, 'log_every = 1 gives checkpoints 0..3')
  H.check(not nb.equal(w0, D[1].weight), 'D parameters changed')
  H.checkerror("unknown option 'epochs'", gan.train, G, D, {real = real, noise = noise, epochs = 2})
  H.checkerror("'real' must be a function", gan.train, G, D, {noise = noise})
  H.checkerror("variant must be", gan.train, G, D, {real = real, noise = noise, loss = 'hinge'})
  H.checkerror("schedule must be 'cosine'", gan.train, G, D,
               {real = real, noise = noise, schedule = 'step'})
  -- minibatch_std: D takes one more input; cosine schedule anneals both lrs
  local D3 = nn.Sequential(nn.Linear(3, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
  local G3 = nn.Sequential(nn.Linear(2, 2))
  local h3 = gan.train(G3, D3, {real = real, noise = noise, steps = 4, batch_size = 8,
                                minibatch_std = true, schedule = 'cosine', eval = ev,
                                log_every = 2})
  H.check(#h3.checkpoints == 3 and h3.checkpoints[3].d > 0,
          'minibatch_std training with eval losses')
  -- the generator learns to move toward the data mean (1, 1) on an easy problem
  nb.manual_seed(4)
  local G2 = nn.Sequential(nn.Linear(2, 2))
  local D2 = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
  local before = gan.sample(G2, noise, 200):mean(1)
  gan.train(G2, D2, {real = real, noise = noise, steps = 300, batch_size = 32, lr = 5e-3})
  local after = gan.sample(G2, noise, 200):mean(1)
  local d0 = ((before - 1) ^ 2):sum():sqrt():item()
  local d1 = ((after - 1) ^ 2):sum():sqrt():item()
  H.check(d1 < 0.5 * d0, 'G moves toward the data (distance %.3f → %.3f)', d0, d1)
end

-- similar_loss_pairs ---------------------------------------------------------------------
do
  local cks = {{step = 0, d = 1.38, g_ns = 0.70}, {step = 10, d = 1.0, g_ns = 1.2},
               {step = 100, d = 1.30, g_ns = 0.75}, {step = 200, d = 1.37, g_ns = 0.71}}
  local ps = gan.similar_loss_pairs(cks, {early_max = 10, late_min = 100})
  H.check(#ps == 4, 'four early × late pairs, got %d', #ps)
  H.check(ps[1].early.step == 0 and ps[1].late.step == 200, 'closest pair first')
  H.close(ps[1].dist, 0.01, 1e-12, 'distance is the max |Δ| over fields')
  local pd = gan.similar_loss_pairs(cks, {early_max = 10, late_min = 100, fields = {'d'}})
  H.close(pd[1].dist, 0.01, 1e-12, 'fields restricts the comparison')
  H.checkerror("has no field 'g_ns'", gan.similar_loss_pairs, {{step = 0, d = 1}}, {})
end

-- train_classifier -----------------------------------------------------------------------
do
  nb.manual_seed(5)
  local X = nb.randn(200, 2)
  local y = (X:select(2, 1):gt(0)):to('i64') + 1
  local model = nn.Sequential(nn.Linear(2, 2))
  local losses = gan.train_classifier(model, X, y, {epochs = 5, batch_size = 20, lr = 0.05})
  H.check(#losses == 5 and losses[5] < losses[1] and losses[5] < 0.3,
          'classifier loss falls (%.3f → %.3f)', losses[1], losses[#losses])
  local s = gan.classifier_score(model, X)
  H.check(s.class_entropy > 0.6 and s.confidence > 0.8,
          'trained classifier: balanced and confident')
end

H.report()
