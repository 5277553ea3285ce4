-- # GAN losses do not measure sample quality
-- summary: a GAN on eight Gaussians and on Fashion-MNIST: equal losses early and late with very different samples (MMD, mode coverage, a classifier score), D ≡ ½ gives 2 ln 2, mode collapse and the minibatch-std remedy
-- time: minutes
--
-- Course problem S003-Q5: *you train a standard GAN; the generator and discriminator losses at
-- the end of epoch 100 are about the same as at the end of epoch 1. Why need the generated images
-- not be of similar quality?* The course's answer (Stanford's): each loss is measured against the
-- *other* network, which has changed in between, so the numbers are not on a fixed scale.
--
-- This lesson measures that answer instead of arguing it. The losses are logged, and sample
-- quality is measured by statistics that never look at them: the maximum mean discrepancy and
-- a mode count on a toy mixture, and a classifier's score on Fashion-MNIST. Along the way come
-- the value every loss takes when D ≡ ½ (2 ln 2, the Jensen–Shannon connection), mode collapse,
-- and one remedy for it.
--
-- **Quick mode** (`NABLA_QUICK=1`) runs the toy experiments in full but only one seed for the
-- collapse comparison (three otherwise), and trains a smaller Fashion-MNIST GAN for 400 steps
-- instead of 3000.

local gan = require 'gan'
local metrics = require 'metrics'
local Q = lesson.quick
-- These networks are small: one thread does a training step faster than two (the hand-offs cost
-- more than the work). Restored at the end.
local saved_threads = nb.get_num_threads()
nb.set_num_threads(1)
nb.manual_seed(5)

-- %% The game and its two losses
-- $D$ outputs a logit; $D(x) = \sigma(\text{logit})$ is its probability that $x$ is real. The
-- game is $\min_G \max_D V(D, G)$ with
-- $$V(D, G) = E_{x\sim p}\log D(x) + E_{z}\log\bigl(1 - D(G(z))\bigr).$$
-- In code both players *minimise* a loss, so "the discriminator maximises the loss" (as one
-- answer in the course puts it) means maximising $V$: D's loss is the binary cross-entropy
-- $L_D = -V$. The generator has two versions of its loss:
--
-- * **minimax**, the game as written: $L_G = E\log(1 - D(G(z)))$;
-- * **non-saturating** (what everyone trains with): $L_G = -E\log D(G(z))$.
--
-- Both have the same fixed point ($q = p$, $D \equiv \tfrac12$) but not the same gradients.
-- With respect to the fake logit $f$ they are $-\sigma(f)$ (minimax) and $-(1 - \sigma(f))$
-- (non-saturating): when D easily rejects a sample ($f \ll 0$) the minimax gradient vanishes.
-- Note also what G's loss does *not* contain: another answer in the course says G minimises "the
-- difference between generated and real images", but G never sees such a difference, only D's
-- verdict. Check the two gradients by autograd at $f = -5$:
local f = nb.tensor({-5}, {dtype = 'f64', requires_grad = true})
local g_mm = nb.grad(gan.g_loss(f, 'minimax'), {f})[1]:item()
local g_ns = nb.grad(gan.g_loss(f, 'nonsaturating'), {f})[1]:item()
local s5 = 1 / (1 + math.exp(5))
print(string.format('dL/df at f = −5: minimax %.6f (−σ(f) = %.6f), ' ..
                    'non-saturating %.6f (−(1−σ(f)) = %.6f)', g_mm, -s5, g_ns, -(1 - s5)))
check.answer('minimax gradient −σ(−5)', g_mm, -s5, 1e-12)
check.answer('non-saturating gradient −(1 − σ(−5))', g_ns, -(1 - s5), 1e-12)

-- %% A discriminator that knows nothing: D ≡ ½
-- If $D(x) = \tfrac12$ for every input, $L_D = -\log\tfrac12 - \log\tfrac12 = 2\ln 2 \approx 1.386$
-- and the non-saturating $L_G = \ln 2 \approx 0.693$, **whatever the generator produces**. A
-- linear layer with zero weights and bias is such a discriminator (logit 0). Compute the loss on
-- real data against a generator that outputs noise, and against one that outputs real data:
local Dconst = nn.Sequential(nn.Linear(2, 1))
nb.no_grad(function() Dconst[1].weight:zero_(); Dconst[1].bias:zero_() end)
local Xr = data.gaussian_mixture{n = 1000, modes = 8, std = 0.05}
local bad = nb.randn(1000, 2) * 5                      -- a terrible generator
local good = data.gaussian_mixture{n = 1000, modes = 8, std = 0.05}   -- a perfect one
local l_bad = gan.d_loss(Dconst(Xr), Dconst(bad)):item()
local l_good = gan.d_loss(Dconst(Xr), Dconst(good)):item()
print(string.format('L_D with D ≡ ½: noise generator %.6f, perfect generator %.6f, 2 ln 2 = %.6f',
                    l_bad, l_good, 2 * math.log(2)))
check.answer('D ≡ ½, noise generator: L_D = 2 ln 2', l_bad, 2 * math.log(2), 1e-6)
check.answer('D ≡ ½, perfect generator: L_D = 2 ln 2', l_good, 2 * math.log(2), 1e-6)
check.answer('D ≡ ½: L_G = ln 2', gan.g_loss(Dconst(bad)):item(), math.log(2), 1e-6)

-- %% The Jensen–Shannon connection
-- For a fixed generator with density $q$ the best discriminator is
-- $D^*(x) = p(x)/(p(x) + q(x))$, and plugging it in gives
-- $$L_D(D^*) = 2\ln 2 - 2\,\mathrm{JS}(p\,\|\,q).$$
-- So $2\ln 2$ is also the loss of the *best* discriminator against a *perfect* generator
-- ($q = p$, where $D^* \equiv \tfrac12$). Check it on distributions over 40 bins of the line: the
-- data is a 1-D mixture, the "generator" a wide Gaussian, then a narrower one, then the data
-- itself. `optimal_d_loss` evaluates the expectation $-\sum p\log D^* - \sum q\log(1 - D^*)$;
-- `js_divergence` uses the definition $\tfrac12\mathrm{KL}(p\|m) + \tfrac12\mathrm{KL}(q\|m)$.
local xs = nb.linspace(-3, 3, 40):to('f64')
local function bump(mu, s) return (-(xs - mu) ^ 2 / (2 * s * s)):exp() end
local p_data = bump(-2, 0.3) + bump(0, 0.3) + bump(2, 0.3)
for _, case in ipairs({{'wide Gaussian', bump(0, 2)}, {'narrow Gaussian', bump(0, 0.5)},
                       {'the data itself', p_data}}) do
  local loss, dstar = gan.optimal_d_loss(p_data, case[2])
  local js = gan.js_divergence(p_data, case[2])
  print(string.format('%-16s  L_D(D*) = %.6f   2 ln 2 − 2 JS = %.6f   JS = %.4f   ' ..
                      'D* in [%.3f, %.3f]', case[1], loss, 2 * math.log(2) - 2 * js, js,
                      dstar:min():item(), dstar:max():item()))
  check.answer('L_D(D*) = 2 ln 2 − 2 JS, ' .. case[1], loss, 2 * math.log(2) - 2 * js, 1e-9)
end
-- An untrained discriminator starts near D ≡ ½ too, so training *begins* at the same loss
-- values a perfect generator would *end* at. That is the first reason the losses cannot be read
-- as a quality score.

-- %% A toy with known answers: eight Gaussians on a circle
-- `data.gaussian_mixture` puts 8 modes of standard deviation 0.05 on a circle of radius 2. Two
-- quality statistics that do not look at the losses:
--
-- * **MMD²** (maximum mean discrepancy, Gaussian kernel with σ = 0.1 and 0.5, unbiased
--   estimator) between 512 generated and 512 real points: 0 in expectation when the
--   distributions agree.
-- * **Mode coverage**: a sample is *high quality* when it lies within 3 std of its nearest
--   center; a mode is *covered* when at least 1 % of the samples are high-quality samples of it.
local STD, MODES = 0.05, 8
local _, centers = data.gaussian_mixture{n = 1, modes = MODES, std = STD}
local function real(n) return (data.gaussian_mixture{n = n, modes = MODES, std = STD}) end
local SIG = {0.1, 0.5}
local X_eval = real(512)
local floor = gan.mmd2(real(512), X_eval, {sigma = SIG})
local cov_real = gan.mode_coverage(real(512), centers, {std = STD})
print(string.format('two real samples: MMD² = %.5f (the noise floor); real data covers %d/8 ' ..
                    'modes, %.1f%% high quality', floor, cov_real.covered, 100 * cov_real.hq_frac))
plot.scatter(real(500), {title = 'real data: 8 Gaussians, std 0.05'})

-- %% Training on the toy, both losses logged
-- Generator: 2-D noise → MLP (2 hidden layers of 64, LeakyReLU) → a point. Discriminator: the
-- same MLP → a logit. Adam (lr 2·10⁻³, β₁ = 0.5) for both, cosine-annealed over 2000 steps,
-- batches of 128. `gan.train` logs D's loss and **both** G losses at every step (plotted with
-- their values at D ≡ ½: 2 ln 2, ln 2 and −ln 2), and at each checkpoint evaluates the losses
-- on a fixed batch (512 real points, 512 fixed noise vectors), so that two checkpoints' losses
-- differ only because the networks differ. Checkpoints are dense at the start (every 5 steps
-- for the first 200) and every 25 steps after that.
local TOY_STEPS, H, ZDIM = 2000, 64, 2
local function mlp(n_in, n_out)
  return nn.Sequential(nn.Linear(n_in, H), nn.LeakyReLU(0.2), nn.Linear(H, H), nn.LeakyReLU(0.2),
                       nn.Linear(H, n_out))
end
local function noise(n) return nb.randn(n, ZDIM) end
local z_eval = noise(512)
local function toy_checkpoints(steps)
  local c = {}
  for s = 0, steps // 10, 5 do c[#c + 1] = s end
  for s = steps // 10 + 25, steps, 25 do c[#c + 1] = s end
  return c
end
-- at each checkpoint: coverage, and the samples themselves (MMD is computed later, where needed)
local function toy_probe(step, G)
  local S = nb.no_grad(function() return G(z_eval) end)
  local c = gan.mode_coverage(S, centers, {std = STD})
  return {cov = c.covered, hq = c.hq_frac, samples = S}
end
local function train_toy(opts)
  nb.manual_seed(opts.seed)
  local G, D = mlp(ZDIM, 2), mlp(opts.minibatch_std and 3 or 2, 1)
  local t0 = nb.clock()
  local h = gan.train(G, D, {real = real, noise = noise, steps = TOY_STEPS, batch_size = 128,
                             lr_g = opts.lr_g, lr_d = opts.lr_d, schedule = 'cosine',
                             minibatch_std = opts.minibatch_std, eval = {real = X_eval, z = z_eval},
                             checkpoints = toy_checkpoints(TOY_STEPS), on_checkpoint = toy_probe})
  h.G, h.seconds = G, nb.clock() - t0
  return h
end
local run = train_toy{seed = 1, lr_g = 2e-3, lr_d = 2e-3}
print(string.format('%d steps in %.1f s', TOY_STEPS, run.seconds))
-- x positions of windowed means: the last step of each window
local function window_x(n, w)
  local x = {}
  for i = 1, math.ceil(n / w) do x[i] = math.min(i * w, n) end
  return x
end
local W = 20
local n_w = math.ceil(TOY_STEPS / W)
local function const(v) local t = {} for i = 1, n_w do t[i] = v end return t end
plot.line({['L_D'] = gan.smooth(run.d_loss, W),
           ['L_G non-saturating'] = gan.smooth(run.g_loss_ns, W),
           ['L_G minimax'] = gan.smooth(run.g_loss_mm, W), ['2 ln 2'] = const(2 * math.log(2)),
           ['ln 2'] = const(math.log(2)), ['−ln 2'] = const(-math.log(2))},
          {x = window_x(TOY_STEPS, W), xlabel = 'step',
           title = 'training losses (means over 20 steps) and their D ≡ ½ values'})

-- %% Quality over training, from the samples alone
-- MMD² and coverage at every 10th checkpoint. Neither curve has a counterpart in the loss plot
-- above: the losses wander in a band while the samples improve by an order of magnitude.
local steps_q, mmd_q, cov_q = {}, {}, {}
for i = 1, #run.checkpoints, 10 do
  local r = run.checkpoints[i]
  r.mmd = r.mmd or gan.mmd2(r.samples, X_eval, {sigma = SIG})
  steps_q[#steps_q + 1], mmd_q[#mmd_q + 1], cov_q[#cov_q + 1] = r.step, r.mmd, r.cov
end
plot.line({['MMD²'] = mmd_q}, {x = steps_q, xlabel = 'step',
                               title = 'MMD² to the data (lower is better)'})
plot.line({['modes covered'] = cov_q}, {x = steps_q, xlabel = 'step',
                                        title = 'modes covered (of 8)'})

-- %% Equal losses, different samples (the toy)
-- Now the question itself. Among the early checkpoints (the first 10 % of training, "epoch 1")
-- and the late ones (the second half, "epoch 100"), take the pair whose evaluation losses agree
-- best — both $L_D$ and the non-saturating $L_G$ — and compare their samples. The claim to check:
-- **both losses agree within 0.1 nats** while MMD² differs by at least a factor 3 and the late
-- generator covers at least 4 more modes.
local LOSS_TOL = 0.1
local function compare(h, early_max, late_min, quality)
  local pairs_ = gan.similar_loss_pairs(h.checkpoints,
                                        {early_max = early_max, late_min = late_min})
  local best = pairs_[1]
  quality(best.early); quality(best.late)
  return best
end
local function toy_quality(r) r.mmd = r.mmd or gan.mmd2(r.samples, X_eval, {sigma = SIG}) end
local best = compare(run, TOY_STEPS // 10, TOY_STEPS // 2, toy_quality)
local e, l = best.early, best.late
print('            step     L_D    L_G(NS)  L_G(MM)  D(x)   D(G(z)) |   MMD²    modes  ' ..
      'high-quality')
for _, r in ipairs({e, l}) do
  print(string.format('%-10s %5d   %.3f   %.3f   %.3f   %.3f   %.3f  | %.5f    %d     %5.1f%%',
                      r == e and 'early' or 'late', r.step, r.d, r.g_ns, r.g_mm, r.d_real, r.d_fake,
                      r.mmd, r.cov, 100 * r.hq))
end
print(string.format('largest loss difference %.3f nats; MMD² ratio early/late %.1f', best.dist,
                    e.mmd / l.mmd))
check.answer('toy: |ΔL_D|, |ΔL_G| ≤ 0.1 at the chosen pair', best.dist, 0, LOSS_TOL)
check.answer('toy: MMD² early/late ≥ 3 (1 = yes)', e.mmd / l.mmd >= 3 and 1 or 0, 1, 0)
check.answer('toy: late covers ≥ 4 more modes (1 = yes)', l.cov - e.cov >= 4 and 1 or 0, 1, 0)
-- generated points (G), with the real evaluation points drawn over them
local function show_samples(S, title)
  local lab = {}
  for i = 1, 512 do lab[i], lab[512 + i] = 'G', 'real' end
  plot.scatter(nb.cat({S, X_eval}, 1), {labels = lab, title = title})
end
show_samples(e.samples, string.format('early: step %d (L_D %.2f, L_G %.2f)', e.step, e.d, e.g_ns))
show_samples(l.samples, string.format('late: step %d (L_D %.2f, L_G %.2f)', l.step, l.d, l.g_ns))

-- %% Mode collapse
-- Let the generator learn ten times faster than the discriminator (lr 2·10⁻³ vs 2·10⁻⁴). G now
-- outruns D: it moves all its mass to wherever D currently scores highest, D slowly follows, and
-- G moves on. Its samples bunch into one small cluster that chases D's favourite region instead
-- of spreading over the modes. The coverage at the end of training (mean of the last 5
-- checkpoints) tells:
local collapse_seeds = Q and {1} or {1, 2, 3}
local function tail_mean(h, key, k)
  local s, n = 0, 0
  for i = #h.checkpoints - k + 1, #h.checkpoints do s, n = s + h.checkpoints[i][key], n + 1 end
  return s / n
end
local collapsed = {}
for i, sd in ipairs(collapse_seeds) do
  collapsed[i] = train_toy{seed = sd, lr_g = 2e-3, lr_d = 2e-4}
  local last = collapsed[i].checkpoints[#collapsed[i].checkpoints]
  print(string.format('seed %d: modes covered (last 5 checkpoints) %.1f; final L_D %.3f, ' ..
                      'L_G %.3f (%.1f s)', sd, tail_mean(collapsed[i], 'cov', 5), last.d,
                      last.g_ns, collapsed[i].seconds))
end
local cl = collapsed[1].checkpoints[#collapsed[1].checkpoints]
show_samples(cl.samples, 'collapsed generator at the end (seed 1)')
-- Its final losses are close to $2\ln 2 = 1.386$ and $\ln 2 = 0.693$ — *the equilibrium values* —
-- and much closer to them than the healthy run's final losses. Read as a score, the losses would
-- call this the best-trained GAN of the lesson.
for i, h in ipairs(collapsed) do
  check.answer('collapse, seed ' .. collapse_seeds[i] .. ': ≤ 2 modes covered',
               tail_mean(h, 'cov', 5), 0, 2)
end
local healthy = run.checkpoints[#run.checkpoints]
local function to_equilibrium(r)
  return math.max(math.abs(r.d - 2 * math.log(2)), math.abs(r.g_ns - math.log(2)))
end
print(string.format('distance of the final losses from (2 ln 2, ln 2): collapsed %.3f, ' ..
                    'healthy %.3f (healthy: %d/8 modes, collapsed: %d/8)', to_equilibrium(cl),
                    to_equilibrium(healthy), healthy.cov, cl.cov))
check.answer('collapsed run ends within 0.1 of (2 ln 2, ln 2)', to_equilibrium(cl), 0, 0.1)
check.answer('collapsed run is closer to (2 ln 2, ln 2) than the healthy one (1 = yes)',
             to_equilibrium(cl) < to_equilibrium(healthy) and 1 or 0, 1, 0)

-- %% A remedy: minibatch standard deviation
-- The discriminator judges samples one at a time, so it cannot see that all of G's samples are
-- alike. Give it one more input: the standard deviation of the whole batch, per feature and then
-- averaged (`gan.minibatch_std`, the ProGAN form of minibatch discrimination). A collapsed batch
-- has a spread near 0 where real batches have about 1.4, D learns to use that, and the gradient
-- through this feature pushes G's samples apart. Same learning rates as the collapsed runs:
local fixed = {}
for i, sd in ipairs(collapse_seeds) do
  fixed[i] = train_toy{seed = sd, lr_g = 2e-3, lr_d = 2e-4, minibatch_std = true}
end
print('seed   modes covered (last 5 checkpoints)   final MMD²')
print('       plain      minibatch std            plain      minibatch std')
for i, sd in ipairs(collapse_seeds) do
  local a = collapsed[i].checkpoints[#collapsed[i].checkpoints]
  local b = fixed[i].checkpoints[#fixed[i].checkpoints]
  toy_quality(a); toy_quality(b)
  print(string.format('%3d    %5.1f      %5.1f                    %.4f     %.4f', sd,
                      tail_mean(collapsed[i], 'cov', 5), tail_mean(fixed[i], 'cov', 5),
                      a.mmd, b.mmd))
end
local fx = fixed[1].checkpoints[#fixed[1].checkpoints]
show_samples(fx.samples, 'minibatch std: the end of training (seed 1)')
for i, h in ipairs(fixed) do
  check.answer('minibatch std, seed ' .. collapse_seeds[i] .. ': ≥ 6 modes covered',
               tail_mean(h, 'cov', 5), 8, 2)
end
-- The remedy's final losses are again ≈ (2 ln 2, ln 2): the same numbers as the collapsed run.
print(string.format('final losses: collapsed L_D %.3f L_G %.3f | minibatch std L_D %.3f L_G %.3f',
                    cl.d, cl.g_ns, fx.d, fx.g_ns))

-- %% Fashion-MNIST: a score from a classifier
-- For images there are no known modes. The Inception Score idea: a classifier trained on *real*
-- data gives $p(y\mid x)$ for each generated image. Good samples are classified confidently
-- (low $H(y\mid x)$) and all classes appear (high $H(y)$ of the average prediction). The score
-- $\exp(H(y) - E\,H(y\mid x))$ lies between 1 and 10. Confidence alone is not enough: look at
-- what the classifier says about a flat grey image. The classifier is a small MLP
-- (784 → 128 → 10).
local FM = Q and {n = 5000, clf_epochs = 2, steps = 400, hidden = 128}
              or {n = 20000, clf_epochs = 3, steps = 3000, hidden = 256}
local Xtr, ytr = data.fashion_mnist{split = 'train', n = FM.n}
local Xte, yte = data.fashion_mnist{split = 'test', n = 2000}
local Xflat = Xtr:reshape(FM.n, 784)
nb.manual_seed(11)
local clf = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
gan.train_classifier(clf, Xflat, ytr, {epochs = FM.clf_epochs, seed = 3})
local acc = metrics.accuracy(nb.no_grad(function() return clf(Xte:reshape(2000, 784)) end),
                             yte)
local s_real = gan.classifier_score(clf, Xte:reshape(2000, 784))
local s_grey = gan.classifier_score(clf, nb.full({500, 784}, 0.5))
local s_noise = gan.classifier_score(clf, nb.rand(500, 784))
print(string.format('classifier test accuracy %.3f', acc))
print('                 score   confidence   H(y)    E H(y|x)')
for _, r in ipairs({{'real test images', s_real}, {'flat grey', s_grey},
                    {'uniform noise', s_noise}}) do
  print(string.format('%-16s %5.2f   %.3f        %.3f   %.3f', r[1], r[2].score, r[2].confidence,
                      r[2].class_entropy, r[2].cond_entropy))
end
local grey_class = nb.tensor(s_grey.class_freq):argmax():item()
print(string.format('a flat grey image is "%s" with confidence %.2f — yet its score is %.2f',
                    data.fashion_mnist_classes[grey_class], s_grey.confidence, s_grey.score))
check.answer('classifier accuracy ≥ 0.7', acc, 0.85, 0.15)
check.answer('real images score ≥ 3', s_real.score >= 3 and 1 or 0, 1, 0)

-- %% An MLP GAN on Fashion-MNIST
-- Images scaled to [−1, 1]; G: 64-D noise → FM.hidden → 784 with tanh; D: 784 → FM.hidden → 1.
-- Adam lr 10⁻³, β₁ = 0.5, batches of 64. Checkpoints every 5 steps for the first 100 steps,
-- then every 25; at each, the losses on a fixed batch and the classifier score of 1000 samples.
if Q then
  print(('QUICK MODE: a reduced run — %d images, hidden width %d, %d steps. The full lesson ' ..
         'trains 3000 steps with width 256 on 20000 images.'):format(FM.n, FM.hidden, FM.steps))
end
nb.manual_seed(7)
local Xs = Xflat * 2 - 1
local function fm_real(n) return Xs:index_select(1, nb.randint(1, FM.n, {n})) end
local function fm_noise(n) return nb.randn(n, 64) end
local Gf = nn.Sequential(nn.Linear(64, FM.hidden), nn.LeakyReLU(0.2), nn.Linear(FM.hidden, 784),
                         nn.Tanh())
local Df = nn.Sequential(nn.Linear(784, FM.hidden), nn.LeakyReLU(0.2), nn.Linear(FM.hidden, 1))
local fm_z = fm_noise(1000)
local fm_ck = {}
for s = 0, 100, 5 do fm_ck[#fm_ck + 1] = s end
for s = 125, FM.steps, 25 do fm_ck[#fm_ck + 1] = s end
local t0 = nb.clock()
local fm = gan.train(Gf, Df, {real = fm_real, noise = fm_noise, steps = FM.steps, batch_size = 64,
                             lr = 1e-3, eval = {real = fm_real(500), z = fm_z:narrow(1, 1, 500)},
                             checkpoints = fm_ck, progress = 'Fashion-MNIST GAN',
                             on_checkpoint = function(step, G)
                               local S = gan.sample(G, function() return fm_z end, 1000)
                               local sc = gan.classifier_score(clf, (S + 1) * 0.5)
                               return {score = sc.score, conf = sc.confidence,
                                       images = ((S:narrow(1, 1, 6) + 1) * 0.5):reshape(6, 28, 28)}
                             end})
print(string.format('%d steps in %.1f s', FM.steps, nb.clock() - t0))
local fsteps, fscore = {}, {}
for _, r in ipairs(fm.checkpoints) do fsteps[#fsteps + 1], fscore[#fscore + 1] = r.step, r.score end
plot.line({['L_D'] = gan.smooth(fm.d_loss, 10),
           ['L_G non-saturating'] = gan.smooth(fm.g_loss_ns, 10)},
          {x = window_x(FM.steps, 10), xlabel = 'step',
           title = 'Fashion-MNIST GAN losses (means over 10 steps)'})
plot.line({score = fscore}, {x = fsteps, title = 'classifier score of the samples (real data: '
                             .. string.format('%.2f)', s_real.score), xlabel = 'step'})

-- %% Equal losses, different images
-- The same search as on the toy: the early checkpoints are the first 100 steps, the late ones
-- the second half of training; take the pair whose two losses agree best. Claim: **both losses
-- within 0.1 nats**, and the late score higher by at least 1.5 (0.5 in the quick run).
local fbest = compare(fm, 100, FM.steps // 2, function() end)
local fe, fl = fbest.early, fbest.late
print('            step     L_D    L_G(NS)  L_G(MM) |  score  confidence')
for _, r in ipairs({fe, fl}) do
  print(string.format('%-10s %5d   %.3f   %.3f   %.3f  |  %.2f   %.3f',
                      r == fe and 'early' or 'late', r.step, r.d, r.g_ns, r.g_mm, r.score, r.conf))
end
check.answer('Fashion-MNIST: |ΔL_D|, |ΔL_G| ≤ 0.1 at the chosen pair', fbest.dist, 0, LOSS_TOL)
local need = Q and 0.5 or 1.5
check.answer(string.format('Fashion-MNIST: late score − early score ≥ %.1f (1 = yes)', need),
             fl.score - fe.score >= need and 1 or 0, 1, 0)
local imgs, titles = {}, {}
for i = 1, 6 do
  imgs[i], titles[i] = fe.images[i], 'step ' .. fe.step
  imgs[6 + i], titles[6 + i] = fl.images[i], 'step ' .. fl.step
end
plot.images(imgs, {titles = titles, cmap = 'gray', range = {0, 1}})

-- %% The answer to S003-Q5
-- * Each loss is measured against the other network *as it is at that moment*: equal numbers at
--   two times compare a weak G against a weak D with a strong G against a strong D. Measured:
--   equal losses (within 0.1 nats) with MMD² differing several-fold and 4+ more modes on the toy,
--   and a much higher classifier score on Fashion-MNIST.
-- * The loss values have fixed points that say nothing about quality: a D that knows nothing
--   (D ≡ ½, where training starts) and the best D against a perfect G both give exactly 2 ln 2.
-- * A collapsed generator can sit right at (2 ln 2, ln 2) while covering at most one mode of
--   eight; only a statistic of the samples — MMD, coverage, a classifier score — shows it, and
--   shows the remedy (here the minibatch-std feature) working.
-- * So: watch the samples, and measure them with something that does not depend on D.
nb.set_num_threads(saved_threads)
