-- gan: training a generator G against a discriminator D (Goodfellow et al. 2014) for any nn
-- modules, and measures of sample quality that do not look at the losses.  D outputs logits;
-- D(x) in the formulas below is sigmoid(logit).
--   d_loss, g_loss                      the losses, from logits
--   constant_d_loss, js_divergence, optimal_d_loss   their values at D ≡ p and at the optimal D
--   train, sample, smooth               the training loop (both G losses logged), sampling
--   minibatch_std, pack                 remedies for mode collapse: minibatch std, PacGAN
--   mmd2, median_sigma, mode_coverage   quality on a toy with known modes
--   train_classifier, classifier_score  an Inception-Score-like statistic (real-data classifier)
--   similar_loss_pairs                  checkpoints whose losses agree (to set against quality)
local nb = require 'nabla'
local nn = require 'nn'
local optim = require 'optim'
local M = {}

local function fail(fname, fmt, ...)
  error('gan.' .. fname .. ': ' .. string.format(fmt, ...), 3)
end

local function check_opts(fname, opts, allowed)
  opts = opts or {}
  if type(opts) ~= 'table' or nb.is_tensor(opts) then fail(fname, 'expected an options table') end
  local ok = {}
  for _, k in ipairs(allowed) do ok[k] = true end
  for k in pairs(opts) do
    if not ok[k] then
      fail(fname, "unknown option '%s' (expected: %s)", tostring(k), table.concat(allowed, ', '))
    end
  end
  return opts
end

---------------------------------------------------------------------------- losses
-- BCE with logits against a constant target, as nn.BCEWithLogitsLoss computes it.
local bce = nn.BCEWithLogitsLoss()
local function bce_const(logits, target)
  return bce(logits, nb.full(logits.shape, target, {dtype = logits.dtype}))
end

-- D's loss: −E log D(x) − E log(1 − D(G(z))), the negated value V(D, G) of the game.
function M.d_loss(real_logits, fake_logits)
  return bce_const(real_logits, 1) + bce_const(fake_logits, 0)
end

-- G's loss. 'nonsaturating' (the default, what everybody trains with): −E log D(G(z));
-- 'minimax' (the game as written): E log(1 − D(G(z))), whose gradient vanishes when D wins.
function M.g_loss(fake_logits, variant)
  variant = variant or 'nonsaturating'
  if variant == 'nonsaturating' then return bce_const(fake_logits, 1) end
  if variant == 'minimax' then return -bce_const(fake_logits, 0) end
  fail('g_loss', "variant must be 'nonsaturating' or 'minimax', got %s", tostring(variant))
end

-- The D loss of a discriminator that says D(x) = p everywhere: −ln p − ln(1 − p), whatever
-- G produces; 2 ln 2 at p = ½.
function M.constant_d_loss(p)
  p = p or 0.5
  if not (p > 0 and p < 1) then fail('constant_d_loss', 'p must be in (0, 1), got %s', p) end
  return -math.log(p) - math.log(1 - p)
end

-- Normalised copies (f64) of two non-negative weight vectors of equal size.
local function distributions(fname, p, q)
  p, q = nb.tensor(p):to('f64'):reshape(-1), nb.tensor(q):to('f64'):reshape(-1)
  if p:numel() ~= q:numel() then
    fail(fname, 'p and q differ in size (%d vs %d)', p:numel(), q:numel())
  end
  if p:min():item() < 0 or q:min():item() < 0 then fail(fname, 'negative probability') end
  return p / p:sum(), q / q:sum()
end

-- Σ a log(a/b) over the entries where a > 0 (b > 0 there for the mixtures used below).
local function kl(a, b)
  local pos = a:gt(0)
  local safe_a = nb.where(pos, a, nb.ones_like(a))
  local safe_b = nb.where(pos, b, nb.ones_like(b))
  return (a * (safe_a / safe_b):log()):sum():item()
end

-- Jensen–Shannon divergence (nats) of two discrete distributions, from its definition
-- ½KL(p‖m) + ½KL(q‖m) with m = (p + q)/2; between 0 and ln 2.
function M.js_divergence(p, q)
  p, q = distributions('js_divergence', p, q)
  local m = (p + q) * 0.5
  return 0.5 * kl(p, m) + 0.5 * kl(q, m)
end

-- D's loss at the optimal discriminator D*(x) = p(x)/(p(x) + q(x)) for data p and generator q on
-- a finite set, computed as the expectation −Σ p log D* − Σ q log(1 − D*); it equals
-- 2 ln 2 − 2 JS(p‖q).  Returns the loss and D* (f64; ½ where both p and q are 0).
function M.optimal_d_loss(p, q)
  p, q = distributions('optimal_d_loss', p, q)
  local s = p + q
  local some = s:gt(0)
  local dstar = nb.where(some, p / nb.where(some, s, nb.ones_like(s)),
                         nb.full(s.shape, 0.5, {dtype = 'f64'}))
  local function elog(w, v)   -- Σ w log v over w > 0
    local pos = w:gt(0)
    return (w * nb.where(pos, v, nb.ones_like(v)):log()):sum():item()
  end
  return -elog(p, dstar) - elog(q, 1 - dstar), dstar
end

---------------------------------------------------------------------------- training
-- PacGAN packing (Lin et al. 2018): m samples become one input of D, [N, ...] → [N/m, m·d], so D
-- judges sets of samples and can see that a generator's samples are too alike.
function M.pack(x, m)
  m = m or 1
  if m == 1 then return x end
  local n = x:size(1)
  if n % m ~= 0 then fail('pack', 'batch of %d is not a multiple of the pack size %d', n, m) end
  return x:reshape(n // m, -1)
end

-- Minibatch standard deviation (Karras et al. 2018), a cheap form of minibatch discrimination:
-- the batch's per-feature standard deviation, averaged, is appended to every sample as one more
-- input of D, [N, d] → [N, d + 1].  A collapsed generator's batches have a tiny spread that D can
-- see, and the gradient through this feature pushes G's samples apart.
function M.minibatch_std(x)
  local flat = x:reshape(x:size(1), -1)
  local s = flat:std(1):mean():reshape(1, 1)
  return nb.cat({flat, s:expand(flat:size(1), 1)}, 2)
end

-- n samples of G from noise(n) (no graph recorded).
function M.sample(G, noise, n)
  return nb.no_grad(function() return G(noise(n)) end)
end

-- Evaluation losses of the current G and D on a fixed real batch and fixed noise.
local function eval_losses(G, D, ev, pack_m, mbstd)
  local function input(x)
    x = M.pack(x, pack_m)
    return mbstd and M.minibatch_std(x) or x
  end
  return nb.no_grad(function()
    local r = D(input(ev.real))
    local f = D(input(G(ev.z)))
    return {d = M.d_loss(r, f):item(), g_ns = M.g_loss(f, 'nonsaturating'):item(),
            g_mm = M.g_loss(f, 'minimax'):item(),
            d_real = r:sigmoid():mean():item(), d_fake = f:sigmoid():mean():item()}
  end)
end

local train_opts = {'real', 'noise', 'steps', 'batch_size', 'lr', 'lr_d', 'lr_g', 'betas',
                    'd_steps', 'loss', 'pack', 'instance_noise', 'log_every', 'checkpoints',
                    'eval', 'on_checkpoint', 'progress', 'minibatch_std', 'schedule'}

-- The alternating training loop.  Every step: d_steps updates of D on a real batch and a fake
-- batch, then one update of G with the chosen loss ('nonsaturating' or 'minimax').  Both G losses
-- are logged at every step (from the same fake logits), with D's loss and mean D(x), D(G(z)).
-- History: per-step lists (d_loss is the last of the d_steps updates), and at each checkpoint (a
-- list of steps, or every log_every; step 0 is before training) the losses on the fixed
-- opts.eval = {real=, z=} batch and the fields of the table on_checkpoint(step, G, D) returns.
-- Defaults: steps 1000, batch_size 64, Adam with lr 2e-4 and betas {0.5, 0.999}.
-- Remedies and variants: pack = m (PacGAN), minibatch_std = true (D's first layer then takes one
-- more input), instance_noise = σ (Gaussian noise on D's inputs, annealed to 0), schedule =
-- 'cosine' (both learning rates annealed to 0 over the run).
function M.train(G, D, opts)
  local o = check_opts('train', opts, train_opts)
  if type(o.real) ~= 'function' then fail('train', "'real' must be a function n -> batch") end
  if type(o.noise) ~= 'function' then fail('train', "'noise' must be a function n -> z") end
  local steps, B = o.steps or 1000, o.batch_size or 64
  local m, d_steps = o.pack or 1, o.d_steps or 1
  local variant = o.loss or 'nonsaturating'
  M.g_loss(nb.zeros(1), variant)   -- validates the name
  local lr = o.lr or 2e-4
  local betas = o.betas or {0.5, 0.999}
  local opt_d = optim.Adam(D:parameters(), {lr = o.lr_d or lr, betas = betas})
  local opt_g = optim.Adam(G:parameters(), {lr = o.lr_g or lr, betas = betas})
  local scheds = {}
  if o.schedule == 'cosine' then
    scheds = {optim.CosineAnnealingLR(opt_d, steps), optim.CosineAnnealingLR(opt_g, steps)}
  elseif o.schedule ~= nil then
    fail('train', "schedule must be 'cosine' or nil, got %s", tostring(o.schedule))
  end
  local sigma0 = o.instance_noise or 0
  local function noisy(x, step)   -- instance noise, annealed linearly to 0
    if sigma0 == 0 then return x end
    return x + nb.randn(x.shape) * (sigma0 * (1 - (step - 1) / steps))
  end
  local is_ckpt = {}
  if o.checkpoints then
    for _, s in ipairs(o.checkpoints) do is_ckpt[s] = true end
  else
    local every = o.log_every or math.max(1, steps // 20)
    for s = 0, steps, every do is_ckpt[s] = true end
    is_ckpt[steps] = true
  end
  local h = {d_loss = {}, g_loss_ns = {}, g_loss_mm = {}, d_real = {}, d_fake = {},
             checkpoints = {}}
  local function checkpoint(step)
    local rec = o.eval and eval_losses(G, D, o.eval, m, o.minibatch_std) or {}
    rec.step = step
    if o.on_checkpoint then
      local extra = o.on_checkpoint(step, G, D)
      for k, v in pairs(extra or {}) do rec[k] = v end
    end
    h.checkpoints[#h.checkpoints + 1] = rec
  end
  if is_ckpt[0] then checkpoint(0) end
  local bar = o.progress and require('plot').progress(steps, {
    label = type(o.progress) == 'string' and o.progress or 'GAN'})
  for step = 1, steps do
    local r, f
    for _ = 1, d_steps do
      local x = o.real(B * m)
      local fake = nb.no_grad(function() return G(o.noise(B * m)) end)
      local xin, fin = M.pack(noisy(x, step), m), M.pack(noisy(fake, step), m)
      if o.minibatch_std then xin, fin = M.minibatch_std(xin), M.minibatch_std(fin) end
      r, f = D(xin), D(fin)
      local ld = M.d_loss(r, f)
      opt_d:zero_grad(); ld:backward(); opt_d:step()
      h.d_loss[step] = ld:item()
    end
    h.d_real[step] = r:detach():sigmoid():mean():item()
    local gz = G(o.noise(B * m))
    local gin = M.pack(noisy(gz, step), m)
    f = D(o.minibatch_std and M.minibatch_std(gin) or gin)
    local lns, lmm = M.g_loss(f, 'nonsaturating'), M.g_loss(f, 'minimax')
    h.g_loss_ns[step], h.g_loss_mm[step] = lns:item(), lmm:item()
    h.d_fake[step] = f:detach():sigmoid():mean():item()
    opt_g:zero_grad()
    ;(variant == 'minimax' and lmm or lns):backward()
    opt_g:step()
    for _, sc in ipairs(scheds) do sc:step() end
    if bar then bar:update(1, {d = h.d_loss[step], g = h.g_loss_ns[step]}) end
    if is_ckpt[step] then checkpoint(step) end
  end
  if bar then bar:done() end
  h.steps = steps
  return h
end

-- Running means of a per-step series over windows of w steps: one value per window.
function M.smooth(series, w)
  local out = {}
  for i = 1, #series, w do
    local s, n = 0, 0
    for j = i, math.min(#series, i + w - 1) do s, n = s + series[j], n + 1 end
    out[#out + 1] = s / n
  end
  return out
end

-- Pairs (early, late) of checkpoint records whose losses agree: early step ≤ opts.early_max,
-- late step ≥ opts.late_min; distance = max |Δ| over the loss fields (default {'d', 'g_ns'}, the
-- eval losses).  Sorted by distance, closest first.
function M.similar_loss_pairs(checkpoints, opts)
  local o = check_opts('similar_loss_pairs', opts, {'early_max', 'late_min', 'fields'})
  local fields = o.fields or {'d', 'g_ns'}
  for _, c in ipairs(checkpoints) do
    for _, k in ipairs(fields) do
      if type(c[k]) ~= 'number' then
        fail('similar_loss_pairs', "checkpoint at step %s has no field '%s' (train with eval=)",
             tostring(c.step), k)
      end
    end
  end
  local pairs_ = {}
  for _, a in ipairs(checkpoints) do
    if a.step <= (o.early_max or math.huge) then
      for _, b in ipairs(checkpoints) do
        if b.step >= (o.late_min or 0) and b.step > a.step then
          local dist = 0
          for _, k in ipairs(fields) do dist = math.max(dist, math.abs(a[k] - b[k])) end
          pairs_[#pairs_ + 1] = {early = a, late = b, dist = dist}
        end
      end
    end
  end
  table.sort(pairs_, function(u, v) return u.dist < v.dist end)
  return pairs_
end

---------------------------------------------------------------------------- quality
-- Squared distances ‖x_i − y_j‖² (f64), [n, m], rows flattened.
local function sqdist(X, Y)
  X = X:reshape(X:size(1), -1):to('f64')
  Y = Y:reshape(Y:size(1), -1):to('f64')
  local xx = (X * X):sum(2, true)
  local yy = (Y * Y):sum(2, true)
  return (xx + yy:t() - X:mm(Y:t()) * 2):clamp(0, math.huge)
end

-- Gaussian kernel matrix, summed over one or several bandwidths.
local function kernel(D2, sigmas)
  local K
  for _, s in ipairs(sigmas) do
    local k = (D2 * (-0.5 / (s * s))):exp()
    K = K and K + k or k
  end
  return K
end

-- The median pairwise distance of the pooled samples (the first 1000 of them): a common default
-- bandwidth.
function M.median_sigma(X, Y)
  local Z = Y and nb.cat({X:reshape(X:size(1), -1), Y:reshape(Y:size(1), -1)}, 1) or X
  if Z:size(1) > 1000 then Z = Z:narrow(1, 1, 1000) end
  local d = sqdist(Z, Z):sqrt():reshape(-1)
  local n = Z:size(1)
  -- off-diagonal entries only: the n zeros of the diagonal sort first
  local sorted = d:sort()
  local k = n + (d:numel() - n + 1) // 2
  return sorted:get(k)
end

-- Squared maximum mean discrepancy between samples X [n, ...] and Y [m, ...] with the Gaussian
-- kernel k(a, b) = exp(−‖a − b‖²/(2σ²)) (σ a number or a list, kernels summed).  The unbiased
-- estimator (Gretton et al. 2012, the U-statistic) leaves out the diagonals of K_XX and K_YY and
-- can be negative; the biased one (the V-statistic) keeps them and is ≥ 0.
function M.mmd2(X, Y, opts)
  local o = check_opts('mmd2', opts, {'sigma', 'unbiased'})
  local sig = o.sigma or M.median_sigma(X, Y)
  local sigmas = type(sig) == 'table' and sig or {sig}
  local n, m = X:size(1), Y:size(1)
  local Kxx, Kyy, Kxy = kernel(sqdist(X, X), sigmas), kernel(sqdist(Y, Y), sigmas),
                        kernel(sqdist(X, Y), sigmas)
  local sxx, syy, sxy = Kxx:sum():item(), Kyy:sum():item(), Kxy:sum():item()
  if o.unbiased == false then
    return sxx / (n * n) + syy / (m * m) - 2 * sxy / (n * m)
  end
  if n < 2 or m < 2 then
    fail('mmd2', 'the unbiased estimator needs at least 2 samples per set')
  end
  local k0 = #sigmas   -- k(x, x) = 1 for each bandwidth
  return (sxx - n * k0) / (n * (n - 1)) + (syy - m * k0) / (m * (m - 1)) - 2 * sxy / (n * m)
end

-- Mode coverage on a mixture with known centers [K, d] and per-mode std: each sample goes to its
-- nearest center and is high quality when within r·std of it; a mode is covered when at least
-- min_frac of all samples are high-quality samples of that mode (Srivastava et al. 2017).
-- Returns {covered=, hq_frac=, counts = {per mode}, modes = K}.
function M.mode_coverage(samples, centers, opts)
  local o = check_opts('mode_coverage', opts, {'std', 'r', 'min_frac'})
  if not o.std then fail('mode_coverage', "'std' (the modes' standard deviation) is required") end
  local r, min_frac = o.r or 3, o.min_frac or 0.01
  local n, K = samples:size(1), centers:size(1)
  local d2 = sqdist(samples, centers)
  local dmin, idx = d2:min(2)
  local hq = dmin:le((r * o.std) ^ 2):to('f64')
  local counts = nb.one_hot(idx, K):to('f64'):mul(hq:reshape(n, 1)):sum(1):totable()
  local covered = 0
  for k = 1, K do if counts[k] >= min_frac * n then covered = covered + 1 end end
  return {covered = covered, hq_frac = hq:sum():item() / n, counts = counts, modes = K}
end

-- Trains a classifier on real data with cross-entropy and Adam (minibatches in a seeded order).
-- Returns the mean loss of each epoch.
function M.train_classifier(model, X, y, opts)
  local o = check_opts('train_classifier', opts, {'epochs', 'batch_size', 'lr', 'seed'})
  local n, B = X:size(1), o.batch_size or 128
  local opt = optim.Adam(model:parameters(), {lr = o.lr or 1e-3})
  local losses = {}
  model:train()
  for e = 1, o.epochs or 2 do
    -- a seeded order that leaves nb's generator alone (nb._randperm_seeded is the data module's)
    local perm = nb._randperm_seeded and nb._randperm_seeded(n, o.seed or 1, e - 1)
                 or nb.randperm(n)
    local s, k = 0, 0
    for i = 1, n, B do
      local idx = perm:narrow(1, i, math.min(B, n - i + 1))
      local loss = nn.F.cross_entropy(model(X:index_select(1, idx)), y:index_select(1, idx))
      opt:zero_grad(); loss:backward(); opt:step()
      s, k = s + loss:item(), k + 1
    end
    losses[e] = s / k
  end
  model:eval()
  return losses
end

-- An Inception-Score-like statistic (Salimans et al. 2016) from a classifier trained on real
-- data; model(x) returns logits [N, C] (put it in eval mode first).  With p(y|x) the softmax on
-- each sample and p(y) their mean: confidence = mean max_y p(y|x); class_entropy = H(p(y))
-- (ln C when all classes are equally frequent, 0 under collapse to one class); cond_entropy =
-- mean H(p(y|x)); score = exp(class_entropy − cond_entropy) = exp(E KL(p(y|x) ‖ p(y))), between
-- 1 and C.
function M.classifier_score(model, images, opts)
  local o = check_opts('classifier_score', opts, {'batch_size'})
  local B = o.batch_size or 1000
  local parts = {}
  nb.no_grad(function()
    for i = 1, images:size(1), B do
      local xb = images:narrow(1, i, math.min(B, images:size(1) - i + 1))
      parts[#parts + 1] = model(xb):to('f64'):softmax(2)
    end
  end)
  local P = nb.cat(parts, 1)
  local logP = P:clamp(1e-300, 1):log()
  local marg = P:mean(1)
  local class_entropy = -(marg * marg:clamp(1e-300, 1):log()):sum():item()
  local cond_entropy = -(P * logP):sum(2):mean():item()
  return {confidence = P:max(2):mean():item(), class_entropy = class_entropy,
          cond_entropy = cond_entropy, score = math.exp(class_entropy - cond_entropy),
          class_freq = marg:totable()}
end

local docs = {
  d_loss = 'gan.d_loss(real_logits, fake_logits) — discriminator loss −E log D(x) − '
    .. 'E log(1 − D(G(z))) from logits (BCE with targets 1 and 0)',
  g_loss = "gan.g_loss(fake_logits, variant) — generator loss: 'nonsaturating' −E log D(G(z)) "
    .. "(default) or 'minimax' E log(1 − D(G(z)))",
  constant_d_loss = 'gan.constant_d_loss(p=0.5) — D loss of a discriminator constant at p: '
    .. '−ln p − ln(1 − p) (2 ln 2 at ½), whatever G is',
  js_divergence = 'gan.js_divergence(p, q) — Jensen–Shannon divergence (nats) of two discrete '
    .. 'distributions (weights normalised), from ½KL(p‖m) + ½KL(q‖m)',
  optimal_d_loss = 'gan.optimal_d_loss(p, q) — D loss at the optimal D* = p/(p+q) on a finite '
    .. 'set (= 2 ln 2 − 2 JS(p‖q)); returns loss, D*',
  pack = 'gan.pack(x, m) — PacGAN packing: [N, ...] → [N/m, m·d], m samples per D input',
  minibatch_std = 'gan.minibatch_std(x) — appends the batch\'s mean per-feature std as one more '
    .. 'column, [N, d] → [N, d+1] (minibatch discrimination feature for D)',
  sample = 'gan.sample(G, noise, n) — n generator samples G(noise(n)), without recording',
  train = 'gan.train(G, D, {real=, noise=, steps=, batch_size=, lr=, lr_d=, lr_g=, betas=, '
    .. "d_steps=, loss='nonsaturating'|'minimax', pack=, minibatch_std=, instance_noise=, "
    .. "schedule='cosine', log_every=, checkpoints=, eval={real=,z=}, on_checkpoint=, "
    .. 'progress=}) — alternating GAN training; returns the history (per-step d_loss, '
    .. 'g_loss_ns, g_loss_mm, d_real, d_fake; checkpoint records)',
  smooth = 'gan.smooth(series, w) — means over consecutive windows of w values',
  similar_loss_pairs = 'gan.similar_loss_pairs(checkpoints, {early_max=, late_min=, fields=}) — '
    .. '(early, late) checkpoint pairs sorted by max |Δloss|',
  median_sigma = 'gan.median_sigma(X, Y?) — median pairwise distance of the pooled samples (a '
    .. 'kernel bandwidth)',
  mmd2 = 'gan.mmd2(X, Y, {sigma=, unbiased=true}) — squared MMD with a Gaussian kernel (σ a '
    .. 'number or list), unbiased U-statistic or biased V-statistic',
  mode_coverage = 'gan.mode_coverage(samples, centers, {std=, r=3, min_frac=0.01}) — modes hit '
    .. 'by ≥ min_frac of samples within r·std; returns {covered, hq_frac, counts, modes}',
  train_classifier = 'gan.train_classifier(model, X, y, {epochs=2, batch_size=128, lr=1e-3, '
    .. 'seed=1}) — cross-entropy training with Adam; returns per-epoch mean losses',
  classifier_score = 'gan.classifier_score(model, images, {batch_size=1000}) — Inception-Score-'
    .. 'like statistic from a real-data classifier: {confidence, class_entropy, cond_entropy, '
    .. 'score, class_freq}',
}
for k, v in pairs(docs) do nb.doc(M[k], v) end

return M
