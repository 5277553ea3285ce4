-- regularize: noise-injection regularisers and the ridge problems they are equivalent to.
--   Bernoulli dropout on a linear model: mask moments, the expected loss in closed form, by exact
--   enumeration and by Monte Carlo; its minimiser as ridge regression with
--   Γ = sqrt((1−p)/p)·Γ̂, Γ̂ = diag(XᵀX)^½; SGD on sampled masks; the transform X̃ = XΓ⁻¹.
--   Gaussian weight noise (δ ~ N(0, α w²)) and multiplicative Gaussian noise r ~ N(μ, α²), with
--   μ = 0 (the course's assumption) or μ = 1 (Gaussian dropout); spatial (channel) dropout masks.
-- Convention: p is the KEEP probability here (as in the course); nn.Dropout's p is the drop
-- probability.  X is [N, d] (a [d] vector is one row), y is [N], w is [d]; float64 throughout
-- unless the inputs say otherwise.
local nb = require 'nabla'
local M = {}

local function fail(fname, fmt, ...)
  error(string.format('regularize.%s: ' .. fmt, fname, ...), 3)
end

local function check_p(fname, p, open)
  if type(p) ~= 'number' or p < 0 or p > 1 or (open and (p == 0 or p == 1)) then
    fail(fname, 'p (the keep probability) must be in %s, got %s', open and '(0, 1)' or '[0, 1]',
         tostring(p))
  end
end

local function tensor(fname, v, what)
  if nb.is_tensor(v) then return v end
  if type(v) == 'table' or type(v) == 'number' then return nb.tensor(v, {dtype = 'f64'}) end
  fail(fname, '%s must be a tensor, got %s', what, type(v))
end

local function as_rows(fname, X)
  X = tensor(fname, X, 'X')
  if X:dim() == 1 then return X:view(1, -1) end
  if X:dim() ~= 2 then fail(fname, 'X must be [N, d] or [d], got %d dims', X:dim()) end
  return X
end

-- X [N,d], y [N] (a number for one row), w [d]: checked and shaped.
local function xyw(fname, X, y, w)
  X = as_rows(fname, X)
  local N, d = X:size(1), X:size(2)
  if y ~= nil then
    y = tensor(fname, y, 'y'):to(X.dtype):reshape(-1)
    if y:numel() ~= N then fail(fname, 'y has %d entries for %d rows of X', y:numel(), N) end
  end
  if w ~= nil then
    w = tensor(fname, w, 'w')
    if w:numel() ~= d then fail(fname, 'w has %d entries for %d columns of X', w:numel(), d) end
    w = w:reshape(d)
  end
  return X, y, w, N, d
end

local function diag(v) return nb.eye(v:numel(), v.dtype) * v:reshape(-1) end

---------------------------------------------------------------------------- Bernoulli masks
-- nb.bernoulli(p, shape) with a dtype: 1 keeps, 0 drops.
function M.mask(shape, p, dtype)
  check_p('mask', p)
  return nb.bernoulli(p, shape, dtype or 'f64')
end

-- Closed forms for P = D ⊙ X with D_ki ~ Bernoulli(p):
--   E[P] = pX,  E[PᵀP] = p²XᵀX + p(1−p) diag(XᵀX).
function M.moments(X, p)
  check_p('moments', p)
  X = as_rows('moments', X)
  local G = X:t():mm(X)
  return X * p, G * (p * p) + diag((X * X):sum(1)) * (p * (1 - p))
end

-- Monte Carlo over k masks at once: the mean of P and of PᵀP (one draw of the batch mean, to be
-- fed to check.mc).
function M.sample_moments(X, p, k)
  check_p('sample_moments', p)
  X = as_rows('sample_moments', X)
  local D = nb.bernoulli(p, {k or 1, X:size(1), X:size(2)}, X.dtype)
  local P = D * X
  return P:mean(1), P:transpose(2, 3):matmul(P):mean(1)
end

---------------------------------------------------------------------------- expected loss
-- Γ̂ = diag(XᵀX)^½ as a vector: the column norms of X.
function M.gamma_hat(X)
  X = as_rows('gamma_hat', X)
  return (X * X):sum(1):sqrt()
end

-- Γ = sqrt((1−p)/p) Γ̂ (vector of the diagonal): the ridge weights that dropout with keep
-- probability p amounts to, after rescaling w = pŵ.
function M.dropout_gamma(X, p)
  check_p('dropout_gamma', p, true)
  return M.gamma_hat(X) * math.sqrt((1 - p) / p)
end

-- Closed form of E_D ‖y − (D⊙X)w‖²  = ‖y − pXw‖² + p(1−p)‖Γ̂w‖²; with {inverted=true} the masked
-- design is divided by p (as nn.Dropout does): ‖y − Xw‖² + ((1−p)/p)‖Γ̂w‖².
function M.expected_loss(X, y, w, p, opts)
  check_p('expected_loss', p, opts and opts.inverted)
  local N, d
  X, y, w, N, d = xyw('expected_loss', X, y, w)
  local gw = M.gamma_hat(X) * w
  if opts and opts.inverted then
    return ((y - X:matmul(w)) ^ 2):sum():item() + (1 - p) / p * (gw * gw):sum():item()
  end
  return ((y - X:matmul(w) * p) ^ 2):sum():item() + p * (1 - p) * (gw * gw):sum():item()
end

-- The expectation by brute force: every row's 2^d masks weighted by their probabilities
-- (rows are independent, so the sum over rows of per-row expectations is exact).  d <= 16.
function M.exact_loss(X, y, w, p, opts)
  check_p('exact_loss', p, opts and opts.inverted)
  local N, d
  X, y, w, N, d = xyw('exact_loss', X, y, w)
  if d > 16 then fail('exact_loss', 'd = %d: 2^d masks are too many (d <= 16)', d) end
  local rows, probs = {}, {}
  for m = 0, 2 ^ d - 1 do
    local r, pr = {}, 1
    for j = 1, d do
      local bit = (m >> (j - 1)) & 1
      r[j], pr = bit, pr * (bit == 1 and p or 1 - p)
    end
    rows[#rows + 1], probs[#probs + 1] = r, pr
  end
  local masks = nb.tensor(rows, {dtype = X.dtype})                  -- [2^d, d]
  local scale = (opts and opts.inverted) and 1 / p or 1
  local preds = X:matmul((masks * w):t()) * scale                   -- [N, 2^d]
  local res2 = (y:view(N, 1) - preds) ^ 2
  return (res2 * nb.tensor(probs, {dtype = X.dtype})):sum():item()
end

-- Monte Carlo: ‖y − (D⊙X)w‖² (divided by p if inverted) for k independent masks; returns the
-- mean and the [k] vector of losses.
function M.sample_loss(X, y, w, p, k, opts)
  check_p('sample_loss', p, opts and opts.inverted)
  local N, d
  X, y, w, N, d = xyw('sample_loss', X, y, w)
  local D = nb.bernoulli(p, {k or 1, N, d}, X.dtype)
  if opts and opts.inverted then D = D / p end
  local losses = ((y - (D * X):matmul(w)) ^ 2):sum(2)
  return losses:mean():item(), losses
end

---------------------------------------------------------------------------- ridge
-- Generalised ridge: argmin ‖y − Xw‖² + ‖Γw‖² = (XᵀX + ΓᵀΓ)⁻¹Xᵀy by nb.linalg.solve.  gamma is a
-- number (Γ = γI), a vector (the diagonal of Γ) or a [d, d] matrix.
function M.ridge(X, y, gamma)
  local _, N, d
  X, y, _, N, d = xyw('ridge', X, y)
  local GtG
  if type(gamma) == 'number' then
    GtG = nb.eye(d, X.dtype) * (gamma * gamma)
  else
    gamma = tensor('ridge', gamma, 'gamma'):to(X.dtype)
    if gamma:dim() == 2 then GtG = gamma:t():mm(gamma)
    elseif gamma:numel() == d then GtG = diag(gamma * gamma)
    else fail('ridge', 'gamma must be a number, [%d] or [%d,%d]', d, d, d) end
  end
  return nb.linalg.solve(X:t():mm(X) + GtG, X:t():matmul(y))
end

-- Minimiser of the expected dropout loss.  Plain masks: ŵ = w_ridge / p (the rescaling of
-- S001-Q1c); inverted masks: w_ridge itself.  Returns ŵ and w_ridge.
function M.dropout_ridge(X, y, p, opts)
  check_p('dropout_ridge', p, true)
  local wr = M.ridge(X, y, M.dropout_gamma(X, p))
  if opts and opts.inverted then return wr, wr end
  return wr / p, wr
end

-- X̃ = XΓ⁻¹ (gamma a vector: the diagonal, or a [d,d] matrix), so that with w̃ = Γw the problem
-- ‖y − Xw‖² + ‖Γw‖² becomes plain ridge ‖y − X̃w̃‖² + ‖w̃‖².
function M.transform(X, gamma)
  X = as_rows('transform', X)
  gamma = tensor('transform', gamma, 'gamma'):to(X.dtype)
  if gamma:dim() == 2 then return nb.linalg.solve(gamma:t(), X:t()):t() end
  return X / gamma:reshape(1, -1)
end

-- Per-column norm, mean and (biased) variance: equal norms are equal variances only for
-- centred columns.
function M.column_stats(X)
  X = as_rows('column_stats', X)
  return {norm = (X * X):sum(1):sqrt(), mean = X:mean(1), var = X:var(1)}
end

---------------------------------------------------------------------------- SGD on noise
-- Minimises E_R (1/N)‖y − (R⊙X)w‖² by SGD with freshly sampled noise R each step.
--   noise(k, N, d) returns R as [k, N, d]; opts: steps=4000, lr (default 0.5 / the largest
--   curvature of the expected loss, estimated from masks), masks=8 (noise draws averaged per
--   step), average=0.5 (Polyak-average the iterates of the last half), w0 (default zeros).
-- Returns the averaged w and {loss = sampled losses per step, path = w every few steps}.
function M.sgd_fit(X, y, noise, opts)
  local optim = require 'optim'
  opts = opts or {}
  local _, N, d
  X, y, _, N, d = xyw('sgd_fit', X, y)
  local steps, k = opts.steps or 4000, opts.masks or 8
  local lr = opts.lr
  if not lr then
    -- curvature of (1/N)E‖y − (R⊙X)w‖² is (2/N)E[(R⊙X)ᵀ(R⊙X)]; estimate it from 256 draws
    local R = noise(256, N, d)
    local P = R * X
    local H = P:transpose(2, 3):matmul(P):mean(1) * (2 / N)
    lr = 0.5 / nb.linalg.eigh(H):max():item()
  end
  local w = (opts.w0 and tensor('sgd_fit', opts.w0, 'w0'):to(X.dtype):clone()
             or nb.zeros({d}, X.dtype)):requires_grad_()
  local opt = optim.SGD({w}, {lr = lr})
  local from = math.floor(steps * (1 - (opts.average or 0.5))) + 1
  local avg, navg = nb.zeros({d}, X.dtype), 0
  local losses, path = {}, {}
  local every = math.max(1, steps // 200)
  for t = 1, steps do
    local P = noise(k, N, d) * X
    local loss = ((y - P:matmul(w)) ^ 2):sum(2):mean() / N
    opt:zero_grad()
    loss:backward()
    opt:step()
    losses[t] = loss:item()
    if t >= from then
      avg:add_(w:detach())
      navg = navg + 1
    end
    if t % every == 0 then path[#path + 1] = w:detach():clone() end
  end
  return avg / navg, {loss = losses, path = path, lr = lr}
end

-- SGD on the dropout objective with sampled Bernoulli(p) masks (divided by p if opts.inverted).
function M.sgd_dropout(X, y, p, opts)
  check_p('sgd_dropout', p, true)
  local inv = opts and opts.inverted
  local dtype = nb.is_tensor(X) and X.dtype or 'f64'
  return M.sgd_fit(X, y, function(k, N, d)
    local D = nb.bernoulli(p, {k, N, d}, dtype)
    return inv and D / p or D
  end, opts)
end

---------------------------------------------------------------------------- Gaussian noise
-- Weight noise w + δ with δ_k = sqrt(α)·w_k·ε_k ~ N(0, α w_k²), ε [k, d] standard normal:
-- J = ½ Σ_n (y_n − Σ_k (w_k + δ_k) x_nk)² for each of the k draws ([k]).  With
-- {detach_scale=true} the noise scale sqrt(α)|w| is a constant for autograd (the course's
-- reading); otherwise the noise is reparameterised and its scale is differentiated too.
function M.weight_noise_loss(X, y, w, alpha, eps, opts)
  local _, N, d
  X, y, _, N, d = xyw('weight_noise_loss', X, y)
  if not (nb.is_tensor(w) and w:numel() == d) then
    fail('weight_noise_loss', 'w must be a [%d] tensor', d)
  end
  local scale = (opts and opts.detach_scale) and w:detach() or w
  local wn = w:reshape(1, d) + eps * scale:reshape(1, d) * math.sqrt(alpha)    -- [k, d]
  return ((y:view(N, 1) - X:matmul(wn:t())) ^ 2):sum(1) * 0.5
end

-- One Monte Carlo draw of ∂J/∂w averaged over k noise samples (autograd through
-- weight_noise_loss); feed it to check.mc.
function M.weight_noise_grad_sample(X, y, w, alpha, k, opts)
  local wl = tensor('weight_noise_grad_sample', w, 'w'):detach():reshape(-1):requires_grad_()
  local eps = nb.randn({k or 1, wl:numel()}, {dtype = wl.dtype})
  local J = M.weight_noise_loss(X, y, wl, alpha, eps, opts):mean()
  return nb.grad(J, {wl})[1]
end

-- E[∂J/∂w] in closed form: −Xᵀ(y − Xw), plus α w ⊙ diag(XᵀX) when the noise is reparameterised
-- ({reparam=true}), i.e. the gradient of ½‖y − Xw‖² + ½α Σ_k w_k² ‖x_k‖².
function M.weight_noise_grad_expected(X, y, w, alpha, opts)
  local N, d
  X, y, w, N, d = xyw('weight_noise_grad_expected', X, y, w)
  local g = -X:t():matmul(y - X:matmul(w))
  if opts and opts.reparam then g = g + (X * X):sum(1) * w * alpha end
  return g
end

-- Multiplicative noise on the inputs, r_k = mean + α ε_k (r ~ N(mean, α²), α a standard
-- deviation; nn.GaussianDropout's alpha is the variance α²):
-- J' = ½ Σ_n (y_n − Σ_k w_k x_nk r_k)² for each of the k draws in eps [k, d].
function M.mult_noise_loss(X, y, w, alpha, mean, eps)
  local N, d
  X, y, w, N, d = xyw('mult_noise_loss', X, y, w)
  local r = eps * alpha + mean                                          -- [k, d]
  return ((y:view(N, 1) - X:matmul((r * w:reshape(1, d)):t())) ^ 2):sum(1) * 0.5
end

-- E[J'] = ½‖y − mean·Xw‖² + ½α² Σ_k w_k² ‖x_k‖²  (mean 0: ½(‖y‖² + α² Σ w²‖x‖²), the course's
-- result; mean 1: Gaussian dropout, a ridge penalty on top of the plain loss).
function M.mult_noise_expected(X, y, w, alpha, mean)
  local N, d
  X, y, w, N, d = xyw('mult_noise_expected', X, y, w)
  local res = y - X:matmul(w) * mean
  return 0.5 * (res * res):sum():item() + 0.5 * alpha ^ 2 * ((X * X):sum(1) * w * w):sum():item()
end

-- argmin_w Σ E[J']: (mean² XᵀX + α² diag(XᵀX)) w = mean Xᵀy.  mean = 0 gives w = 0; mean = 1
-- with α² = (1−p)/p gives the inverted-dropout ridge solution.
function M.mult_noise_fit(X, y, alpha, mean)
  local _, N, d
  X, y, _, N, d = xyw('mult_noise_fit', X, y)
  local A = X:t():mm(X) * (mean * mean) + diag((X * X):sum(1)) * (alpha * alpha)
  return nb.linalg.solve(A, X:t():matmul(y) * mean)
end

-- SGD with r ~ N(mean, α²) noise on every input entry (see sgd_fit for opts).
function M.sgd_mult_noise(X, y, alpha, mean, opts)
  local dtype = nb.is_tensor(X) and X.dtype or 'f64'
  return M.sgd_fit(X, y, function(k, N, d)
    return nb.randn({k, N, d}, {dtype = dtype}) * alpha + mean
  end, opts)
end

---------------------------------------------------------------------------- spatial dropout
-- A keep mask with one Bernoulli(p) draw per (sample, channel) of shape [N, C, ...]: shape
-- [N, C, 1, ..., 1], broadcasting over the spatial dims (whole feature maps are dropped).
function M.spatial_mask(shape, p, dtype)
  check_p('spatial_mask', p)
  if type(shape) ~= 'table' or #shape < 3 then
    fail('spatial_mask', 'shape must be {N, C, ...} with at least one spatial dim')
  end
  local s = {shape[1], shape[2]}
  for i = 3, #shape do s[i] = 1 end
  return nb.bernoulli(p, s, dtype or 'f32')
end

-- Inverted spatial dropout: x * mask / p with a spatial_mask (p = keep probability).
function M.spatial_dropout(x, p)
  check_p('spatial_dropout', p, true)
  return x * M.spatial_mask(x.shape, p, x.dtype) / p
end

-- Inverted elementwise dropout: every entry kept with probability p, kept ones divided by p.
function M.element_dropout(x, p)
  check_p('element_dropout', p, true)
  return x * nb.bernoulli(p, x.shape, x.dtype) / p
end

-- Fraction of (sample, channel) maps of x [N, C, ...] that are partly zero: some entries zero,
-- some not (0 for spatial dropout of a map without zeros).
function M.partial_channels(x)
  local N, C = x:size(1), x:size(2)
  local z = x:eq(0):to('f64'):reshape(N, C, -1):mean(3)
  return (z:gt(0) * z:lt(1)):mean():item()
end

---------------------------------------------------------------------------- docs
local docs = {
  mask = 'regularize.mask(shape, p, dtype=f64) — Bernoulli(p) keep mask (p = keep probability)',
  moments = 'regularize.moments(X, p) — closed forms E[P] = pX, E[PᵀP] = p²XᵀX + ' ..
            'p(1−p)diag(XᵀX) for P = D⊙X',
  sample_moments = 'regularize.sample_moments(X, p, k) — mean of P and PᵀP over k sampled masks',
  gamma_hat = 'regularize.gamma_hat(X) — Γ̂ = diag(XᵀX)^½ as a vector (column norms)',
  dropout_gamma = 'regularize.dropout_gamma(X, p) — Γ = sqrt((1−p)/p)·Γ̂ (vector)',
  expected_loss = 'regularize.expected_loss(X, y, w, p, {inverted=}) — E_D‖y − (D⊙X)w‖² in ' ..
                  'closed form: ‖y − pXw‖² + p(1−p)‖Γ̂w‖²',
  exact_loss = 'regularize.exact_loss(X, y, w, p, {inverted=}) — the same expectation by ' ..
               'enumerating all 2^d masks per row',
  sample_loss = 'regularize.sample_loss(X, y, w, p, k, {inverted=}) — Monte Carlo mean over k ' ..
                'masks, and the [k] losses',
  ridge = 'regularize.ridge(X, y, gamma) — (XᵀX + ΓᵀΓ)⁻¹Xᵀy; gamma a number, diagonal vector ' ..
          'or matrix',
  dropout_ridge = 'regularize.dropout_ridge(X, y, p, {inverted=}) — minimiser ŵ of the ' ..
                  'expected dropout loss (w_ridge/p, or w_ridge if inverted), and w_ridge',
  transform = 'regularize.transform(X, gamma) — X̃ = XΓ⁻¹ (plain ridge in w̃ = Γw)',
  column_stats = 'regularize.column_stats(X) — {norm=, mean=, var=} per column',
  sgd_fit = 'regularize.sgd_fit(X, y, noise, {steps=, lr=, masks=, average=, w0=}) — SGD on ' ..
            'E(1/N)‖y − (R⊙X)w‖² with R = noise(k, N, d) resampled; Polyak-averaged w, trace',
  sgd_dropout = 'regularize.sgd_dropout(X, y, p, opts) — sgd_fit with Bernoulli(p) masks',
  weight_noise_loss = 'regularize.weight_noise_loss(X, y, w, α, eps, {detach_scale=}) — ' ..
                      '½‖y − X(w + √α w⊙ε)‖² per draw of eps [k, d]',
  weight_noise_grad_sample = 'regularize.weight_noise_grad_sample(X, y, w, α, k, ' ..
                             '{detach_scale=}) — ∂J/∂w averaged over k draws (autograd)',
  weight_noise_grad_expected = 'regularize.weight_noise_grad_expected(X, y, w, α, ' ..
                               '{reparam=}) — E[∂J/∂w] in closed form',
  mult_noise_loss = 'regularize.mult_noise_loss(X, y, w, α, mean, eps) — ' ..
                    '½‖y − X(w⊙r)‖², r = mean + α·eps, per draw',
  mult_noise_expected = 'regularize.mult_noise_expected(X, y, w, α, mean) — ' ..
                        '½‖y − mean·Xw‖² + ½α²Σ w_k²‖x_k‖²',
  mult_noise_fit = 'regularize.mult_noise_fit(X, y, α, mean) — minimiser of the expected ' ..
                   'multiplicative-noise loss',
  sgd_mult_noise = 'regularize.sgd_mult_noise(X, y, α, mean, opts) — sgd_fit with ' ..
                   'r ~ N(mean, α²) on every input',
  spatial_mask = 'regularize.spatial_mask({N, C, ...}, p, dtype) — one Bernoulli(p) keep draw ' ..
                 'per channel map, shape [N, C, 1, ...]',
  spatial_dropout = 'regularize.spatial_dropout(x, p) — inverted channel dropout, keep prob p',
  element_dropout = 'regularize.element_dropout(x, p) — inverted elementwise dropout, keep prob p',
  partial_channels = 'regularize.partial_channels(x) — fraction of channel maps that are ' ..
                     'partly zero',
}
for k, v in pairs(docs) do nb.doc(M[k], v) end

return M
