-- # Dropout as ridge regression
-- summary: Bernoulli masks on a linear model: their moments, the expected loss, its ridge minimiser found by SGD, the X̃ = XΓ⁻¹ transform, Gaussian weight and multiplicative noise, spatial dropout
-- time: quick
--
-- Dropout multiplies every input of a linear model by a random 0/1 mask. Averaged over the
-- masks, the squared loss turns into an ordinary squared loss plus a penalty on the weights:
-- dropout *is* a ridge regression, with a penalty that depends on the data. This lesson checks
-- each step of that derivation (course problem S001-Q1) by Monte Carlo and exact algebra, then
-- does the same for Gaussian noise, where the course's answer rests on a questionable
-- assumption, and ends with spatial dropout.
--
-- **Convention.** Here $p$ is the probability of *keeping* an input, as in the course.
-- `nn.Dropout(p)` and `nn.Dropout2d(p)` take the probability of *dropping* it, so the course's
-- $p$ is `1 - p` there.

local reg = require 'regularize'
nb.manual_seed(2024)

-- A Monte Carlo check passes when its worst z-score (|estimate − formula| / standard error)
-- is at most 4.
local function mc_answer(label, ok, rep)
  print('  ' .. rep.text)
  check.answer(label .. ' — worst |z| ≤ 4', rep.z, 0, 4)
end

-- %% The masked design (S001-Q1a)
-- Take $X \in \mathbb{R}^{N\times d}$ and a mask $D$ with independent entries
-- $D_{ki} \sim \mathrm{Bernoulli}(p)$; the model sees $P = D \odot X$. Work out by hand:
--
-- * $E[P] = pX$, since $E[D_{ki}] = p$;
-- * off the diagonal, $E[P^\top P]_{ij} = \sum_k E[D_{ki}D_{kj}] X_{ki}X_{kj}
--   = p^2 (X^\top X)_{ij}$;
-- * on it, $E[D_{ki}^2] = E[D_{ki}] = p$, so $E[P^\top P]_{ii} = p\,(X^\top X)_{ii}$.
--
-- Together: $E[P^\top P] = p^2 X^\top X + p(1-p)\,\mathrm{diag}(X^\top X)$.
-- The columns of $X$ get different scales so that the diagonal term is not a multiple of $I$.
local N, d, p = 6, 4, 0.7
local scales = nb.tensor({1, 2, 0.5, 3}, {dtype = 'f64'})
local X = nb.randn(N, d, {dtype = 'f64'}) * scales
local y = nb.randn(N, {dtype = 'f64'})
local EP, EPtP = reg.moments(X, p)
print('E[PᵀP] (closed form):')
print(EPtP)

-- %% Check the moments by Monte Carlo
-- Draw masks, average $P$ and $P^\top P$, and compare with the closed forms. `check.mc` uses
-- the batch means of 200 batches of 500 masks (100 000 masks) and accepts an entry when it is
-- within **z = 4** standard errors; all 24 + 16 entries must pass.
local expected = nb.cat({EP:reshape(-1), EPtP:reshape(-1)}, 1)
local ok, rep = check.mc(function()
  local mp, mg = reg.sample_moments(X, p, 500)
  return nb.cat({mp:reshape(-1), mg:reshape(-1)}, 1)
end, expected, {n = 200, z = 4})
mc_answer('E[P] = pX and E[PᵀP] = p²XᵀX + p(1−p)diag(XᵀX)', ok, rep)
-- the diagonal would be p², not p, if D² were mistaken for D·D' with independent D'
local G = X:t():mm(X)
print(string.format('E[PᵀP]_11: Monte Carlo %.4f, p·(XᵀX)_11 = %.4f, p²·(XᵀX)_11 = %.4f',
                    rep.mean:get(25), p * G:get(1, 1), p * p * G:get(1, 1)))

-- %% The expected loss is a ridge loss (S001-Q1b)
-- Expanding $E_D\|y - Pw\|^2 = \|y\|^2 - 2y^\top E[P]w + w^\top E[P^\top P]w$ with the two
-- moments gives
-- $$E_D\|y - (D\odot X)w\|^2 = \|y - pXw\|^2 + p(1-p)\,\|\hat\Gamma w\|^2,\qquad
--   \hat\Gamma = \mathrm{diag}(X^\top X)^{1/2}.$$
-- Three independent computations for random $w$: this closed form, the exact expectation by
-- enumerating all $2^d = 16$ masks of every row, and Monte Carlo (z = 4).
for t = 1, 3 do
  local w = nb.randn(d, {dtype = 'f64'})
  local closed = reg.expected_loss(X, y, w, p)
  check.answer(string.format('w #%d: closed form = exact enumeration', t), closed,
               reg.exact_loss(X, y, w, p), 1e-9)
  local okm, r = check.mc(function() return reg.sample_loss(X, y, w, p, 2000) end, closed,
                          {n = 50, z = 4})
  mc_answer(string.format('w #%d: Monte Carlo', t), okm, r)
end

-- %% A sign slip in the course's derivation
-- One intermediate line of the course's answer reads $(p^2 - p)\,w^\top\mathrm{diag}(X^\top X)w$:
-- the penalty with the wrong sign, $\|y - pXw\|^2 - p(1-p)\|\hat\Gamma w\|^2$. The final result
-- has the right sign again. The Monte Carlo estimate tells the two apart:
local w0 = nb.randn(d, {dtype = 'f64'})
local gw = reg.gamma_hat(X) * w0
local penalty = p * (1 - p) * (gw * gw):sum():item()
local right = reg.expected_loss(X, y, w0, p)
local slip = right - 2 * penalty
local _, r0 = check.mc(function() return reg.sample_loss(X, y, w0, p, 2000) end, right,
                       {n = 50, z = 4})
local z_slip = math.abs(r0.mean:item() - slip) / r0.stderr:item()
print(string.format('Monte Carlo %.4f ± %.4f;  (p − p²) version %.4f;  (p² − p) version %.4f',
                    r0.mean:item(), r0.stderr:item(), right, slip))
print(string.format('the slipped sign is %.0f standard errors away', z_slip))
check.answer('the (p² − p) line is rejected (z > 10; 1 = yes)', z_slip > 10 and 1 or 0, 1, 0)

-- %% The expected loss as a function of p
-- $p(1-p)$ vanishes at $p = 1$ (no dropout) and at $p = 0$ (nothing left to penalise, and
-- nothing left to fit). Closed form and Monte Carlo across $p$, for one $w$:
local ps, closed_p, mc_p = {}, {}, {}
for i = 1, 18 do
  local pp = 0.05 * i + 0.05
  ps[i] = pp
  closed_p[i] = reg.expected_loss(X, y, w0, pp)
  mc_p[i] = reg.sample_loss(X, y, w0, pp, lesson.quick and 2000 or 20000)
end
plot.line({['closed form'] = closed_p, ['Monte Carlo'] = mc_p},
          {x = ps, title = 'E‖y − (D⊙X)w‖² against the keep probability p', xlabel = 'p'})

-- %% Back to standard ridge form (S001-Q1c)
-- Substitute $w = p\hat w$ (the weights to use at test time, when nothing is dropped: the
-- expected prediction under dropout is $pX\hat w = Xw$). The expected loss in terms of $w$ is
-- $$\|y - Xw\|^2 + \tfrac{1-p}{p}\|\hat\Gamma w\|^2 = \|y - Xw\|^2 + \|\Gamma w\|^2,\qquad
--   \Gamma = \sqrt{(1-p)/p}\;\hat\Gamma .$$
-- (The course's last line writes $\|\hat\Gamma\hat w\|^2$; it means $\|\Gamma w\|^2$.)
local w_hat = nb.randn(d, {dtype = 'f64'})
local w_resc = w_hat * p
local Gam = reg.dropout_gamma(X, p)
local ridge_form = ((y - X:matmul(w_resc)) ^ 2):sum():item() + ((Gam * w_resc) ^ 2):sum():item()
check.answer('E loss(ŵ) = ‖y − Xw‖² + ‖Γw‖² at w = pŵ', ridge_form,
             reg.exact_loss(X, y, w_hat, p), 1e-9)

-- %% The minimiser, by SGD on sampled masks
-- So the minimiser of the dropout objective should be a ridge solution:
-- $p\,\hat w^\star = w_{ridge} = (X^\top X + \Gamma^\top\Gamma)^{-1} X^\top y$, here solved with
-- `nb.linalg.solve`. Independently, run SGD on the dropout objective itself — a fresh mask every
-- step, no formula for the expectation anywhere — and Polyak-average the iterates.
-- A larger problem ($N = 40$, $d = 5$, $p = 0.5$, so $\Gamma = \hat\Gamma$) makes the ridge
-- solution clearly different from least squares.
local N2, d2, p2 = 40, 5, 0.5
local X2 = nb.randn(N2, d2, {dtype = 'f64'}) * nb.tensor({1, 3, 0.3, 1, 2}, {dtype = 'f64'})
local y2 = X2:matmul(nb.tensor({1, -0.5, 2, 0, 0.7}, {dtype = 'f64'})) +
           nb.randn(N2, {dtype = 'f64'}) * 0.5
local w_closed, w_ridge = reg.dropout_ridge(X2, y2, p2)
local t0 = nb.clock()
local w_sgd, trace = reg.sgd_dropout(X2, y2, p2, {steps = lesson.quick and 3000 or 20000})
print(string.format('SGD: %d steps, lr %.3g, %.2f s', #trace.loss, trace.lr, nb.clock() - t0))
print('closed form ŵ = w_ridge / p:', w_closed)
print('SGD on sampled masks:       ', w_sgd)
local function rel(a, b) return ((a - b):norm() / b:norm()):item() end
local w_ols = reg.ridge(X2, y2, 0)
print(string.format('relative distance SGD ↔ ridge %.4f;  least squares ↔ ridge %.3f',
                    rel(w_sgd, w_closed), rel(w_ols / p2, w_closed)))
check.answer('SGD minimiser vs ridge solution: relative error ≤ 0.02', rel(w_sgd, w_closed), 0,
             0.02)
local dist = {}
for i, wp in ipairs(trace.path) do dist[i] = rel(wp, w_closed) end
plot.line(dist, {title = 'SGD iterate: relative distance to the ridge solution',
                 xlabel = 'checkpoint (every ' .. (#trace.loss // #trace.path) .. ' steps)'})

-- %% The same with nn.Dropout (inverted dropout)
-- `nn.Dropout` divides the kept inputs by the keep probability during training, so its weights
-- are already the test-time weights: SGD through `nn.F.dropout` (drop probability $1-p$)
-- should land directly on $w_{ridge}$, no rescaling needed.
local w_inv = reg.sgd_fit(X2, y2, function(k, n, dd)
  return nn.F.dropout(nb.ones({k, n, dd}, 'f64'), 1 - p2, true)
end, {steps = lesson.quick and 3000 or 20000})
print(string.format('relative distance nn.Dropout SGD ↔ w_ridge: %.4f', rel(w_inv, w_ridge)))
check.answer('inverted dropout minimiser vs w_ridge: relative error ≤ 0.02', rel(w_inv, w_ridge),
             0, 0.02)

-- %% Plain ridge after a change of variables (S001-Q1d)
-- With $\tilde w = \Gamma w$ and $\tilde X = X\Gamma^{-1}$ the problem becomes plain ridge with
-- $\lambda = 1$: $\|y - \tilde X\tilde w\|^2 + \|\tilde w\|^2$. This needs $\Gamma$ invertible:
-- $0 < p < 1$ and no all-zero column.
local Xt = reg.transform(X2, reg.dropout_gamma(X2, p2))
local wt = reg.ridge(Xt, y2, 1)
check.answer('Γ⁻¹ · (plain ridge on X̃) = w_ridge', wt / reg.dropout_gamma(X2, p2), w_ridge, 1e-10)
local wr = nb.randn(d2, {dtype = 'f64'})
local G2 = reg.dropout_gamma(X2, p2)
local lhs = ((y2 - X2:matmul(wr)) ^ 2):sum() + ((G2 * wr) ^ 2):sum()
local rhs = ((y2 - Xt:matmul(G2 * wr)) ^ 2):sum() + ((G2 * wr) ^ 2):sum()
check.answer('the two losses agree for a random w', lhs:item(), rhs:item(), 1e-9)

-- %% Equal column norms are not equal variances (S001-Q1e)
-- Every column of $\tilde X = X\Gamma^{-1}$ has norm $\|x_j\| / (\sqrt{(1-p)/p}\,\|x_j\|) =
-- \sqrt{p/(1-p)}$. The course calls this "like standardisation / BN: equal variances". That
-- holds only when the columns have mean zero: norm² = N·(variance + mean²). Give the columns
-- different means and look:
local p3 = 0.7
local X3 = nb.randn(N2, 4, {dtype = 'f64'}) + nb.tensor({0, 2, -1, 5}, {dtype = 'f64'})
local s3 = reg.column_stats(reg.transform(X3, reg.dropout_gamma(X3, p3)))
print('column norms:    ', s3.norm)
print('column variances:', s3.var)
check.answer('every norm = sqrt(p/(1−p))', s3.norm, nb.full({4}, math.sqrt(p3 / (1 - p3)), 'f64'),
             1e-12)
local vratio = (s3.var:max() / s3.var:min()):item()
print(string.format('largest / smallest variance: %.1f', vratio))
check.answer('…but the variances differ (ratio > 2; 1 = yes)', vratio > 2 and 1 or 0, 1, 0)
local Xc = X3 - X3:mean(1, true)
local sc = reg.column_stats(reg.transform(Xc, reg.dropout_gamma(Xc, p3)))
check.answer('after centring the columns, equal norms = equal variances', sc.var,
             nb.full({4}, p3 / (1 - p3) / N2, 'f64'), 1e-12)

-- %% Gaussian weight noise (S001-Q1f)
-- Now perturb the weights: $J = \tfrac12(y_d - \sum_k (w_k + \delta_k)x_k)^2$ with
-- $\delta_k \sim N(0, \alpha w_k^2)$. The course differentiates with $\delta$ held fixed and gets
-- $E[\partial J/\partial w_i] = -(y_d - w\cdot x)\,x_i$ — the noise has no effect on average.
-- But $\delta$'s distribution depends on $w$. Writing it as
-- $\delta_k = \sqrt\alpha\,w_k\varepsilon_k$ (reparameterisation) and differentiating through it
-- gives
-- $E[\partial J/\partial w_i] = -(y_d - w\cdot x)\,x_i + \alpha\,w_i x_i^2$: the gradient of
-- $\tfrac12(y_d - w\cdot x)^2 + \tfrac12\alpha\sum_k w_k^2x_k^2$, a ridge penalty again.
-- Which answer is right depends on that choice, so test both (autograd, z = 4):
local alpha = 0.3
local x1 = nb.randn(1, 5, {dtype = 'f64'})
local yd = nb.tensor({0.8}, {dtype = 'f64'})
local w1 = nb.randn(5, {dtype = 'f64'})
local g_seed = reg.weight_noise_grad_expected(x1, yd, w1, alpha)
local g_rep = reg.weight_noise_grad_expected(x1, yd, w1, alpha, {reparam = true})
local nmc = lesson.quick and 100 or 400
local ok1, r1 = check.mc(function()
  return reg.weight_noise_grad_sample(x1, yd, w1, alpha, 1000, {detach_scale = true})
end, g_seed, {n = nmc, z = 4})
mc_answer('noise scale held fixed → the course\'s −(y − w·x)x', ok1, r1)
local ok2, r2 = check.mc(function()
  return reg.weight_noise_grad_sample(x1, yd, w1, alpha, 1000)
end, g_rep, {n = nmc, z = 4})
mc_answer('reparameterised → −(y − w·x)x + αw x²', ok2, r2)
local z_wrong = ((r2.mean - g_seed):abs() / r2.stderr):max():item()
print(string.format('the course\'s formula against the reparameterised gradient: worst z = %.0f',
                    z_wrong))
check.answer('…which the course\'s formula misses (z > 10; 1 = yes)', z_wrong > 10 and 1 or 0, 1, 0)

-- %% Multiplicative Gaussian noise (S001-Q1g)
-- The course multiplies each input by $r_k \sim N(0, \alpha^2)$ and finds
-- $E[J'] = \tfrac12(y_d^2 + \alpha^2\sum_k w_k^2x_k^2)$. The algebra is right for that
-- assumption — but with mean-zero noise the prediction is zero on average, and $y_d$ no longer
-- interacts with $w$ at all. **Gaussian dropout** (Srivastava et al. 2014) uses
-- $r_k \sim N(1, \alpha^2)$, giving
-- $E[J'] = \tfrac12(y_d - w\cdot x)^2 + \tfrac12\alpha^2\sum_k w_k^2x_k^2$.
-- The penalty is the same in both; the course's wording ("adds the regulariser
-- $\alpha^2\sum w_k^2x_k^2$") drops its ½. Monte Carlo under each noise, against both formulas:
local a2 = 0.5
local function mc_mult(mean)
  return check.mc(function()
    return reg.mult_noise_loss(x1, yd, w1, a2, mean, nb.randn({1000, 5}, {dtype = 'f64'})):mean()
  end, reg.mult_noise_expected(x1, yd, w1, a2, mean), {n = 100, z = 4})
end
local ok0, rm0 = mc_mult(0)
mc_answer('r ~ N(0, α²): the course\'s ½(y² + α²Σw²x²)', ok0, rm0)
local okg, rm1 = mc_mult(1)
mc_answer('r ~ N(1, α²): ½(y − w·x)² + ½α²Σw²x²', okg, rm1)
local seed_val = reg.mult_noise_expected(x1, yd, w1, a2, 0)
local z_cross = math.abs(rm1.mean:item() - seed_val) / rm1.stderr:item()
print(string.format('Gaussian dropout (mean 1): Monte Carlo %.4f, course\'s formula %.4f ' ..
                    '(z = %.0f)',
                    rm1.mean:item(), seed_val, z_cross))
check.answer('the course\'s formula does not describe Gaussian dropout (z > 10; 1 = yes)',
             z_cross > 10 and 1 or 0, 1, 0)

-- %% Which noise fits a model?
-- Fit $w$ on the regression problem above under each noise. With mean-zero noise the expected
-- loss is $\tfrac12\|y\|^2 + \tfrac12\alpha^2\sum_k w_k^2\|x_k\|^2$, minimised by $w = 0$: nothing
-- is learned. With mean-one noise and $\alpha^2 = (1-p)/p$, Gaussian dropout has exactly the
-- penalty of inverted Bernoulli dropout, so it lands on the same $w_{ridge}$. (`nn.GaussianDropout`
-- takes the variance: `nn.GaussianDropout(α²)`, or `{p = 1 − p}` in nn's drop convention.)
local ag = math.sqrt((1 - p2) / p2)
local w_g1 = reg.mult_noise_fit(X2, y2, ag, 1)
local w_g0 = reg.mult_noise_fit(X2, y2, ag, 0)
check.answer('mean 1, α² = (1−p)/p: closed form = w_ridge of dropout', w_g1, w_ridge, 1e-10)
local w_g1_sgd = reg.sgd_mult_noise(X2, y2, ag, 1, {steps = lesson.quick and 3000 or 20000})
print(string.format('SGD with N(1, α²) noise ↔ w_ridge: relative distance %.4f',
                    rel(w_g1_sgd, w_ridge)))
check.answer('SGD with Gaussian dropout noise vs w_ridge: relative error ≤ 0.02',
             rel(w_g1_sgd, w_ridge), 0, 0.02)
local w_g0_sgd = reg.sgd_mult_noise(X2, y2, ag, 0, {steps = lesson.quick and 3000 or 20000})
print('mean 0: closed form', w_g0, ' SGD', w_g0_sgd)
check.answer('mean 0: SGD\'s ‖w‖ is ≈ 0 (within 0.05)', w_g0_sgd:norm():item(), 0, 0.05)

-- %% Spatial dropout (S001-Q1h)
-- Elementwise dropout (Bernoulli or Gaussian) draws independent noise for every pixel of a
-- feature map. Neighbouring pixels of a conv feature map are strongly correlated, so the next
-- layer's averaging largely cancels that noise. Spatial dropout (`nn.Dropout2d`) draws **one**
-- mask value per channel map, so whole maps vanish together. Its mask has shape $[N, C, 1, 1]$:
local fmap = nb.ones(64, 16, 8, 8, 'f64') * 2      -- a smooth (constant) feature map
local sp = reg.spatial_dropout(fmap, p3)
local el = reg.element_dropout(fmap, p3)
print('spatial mask shape:', table.concat(reg.spatial_mask(fmap.shape, p3).shape, '×'))
print(string.format('partly-zero maps: spatial %.3f, elementwise %.3f, nn.Dropout2d %.3f',
                    reg.partial_channels(sp), reg.partial_channels(el),
                    reg.partial_channels(nn.F.dropout2d(fmap, 1 - p3, true))))
check.answer('spatial dropout keeps or drops whole maps', reg.partial_channels(sp), 0, 0)
local okk, rk = check.mc(function()
  return reg.spatial_dropout(fmap, p3):ne(0):to('f64'):mean()
end, p3, {n = 200, z = 4})
mc_answer('fraction of maps kept = p', okk, rk)
plot.images({sp[1][1], sp[1][2], el[1][1], el[1][2]},
            {titles = {'spatial, ch 1', 'spatial, ch 2', 'element, ch 1', 'element, ch 2'},
             range = {0, 2 / p3}, scale = 2})

-- %% Why whole maps: noise after a 3×3 average
-- Pass the dropped map through a 3×3 average pool (a stand-in for the next conv). For a constant
-- map $c$, each inverted-dropout pixel has variance $c^2(1-p)/p$, and so does Gaussian dropout
-- with $\alpha^2 = (1-p)/p$. Averaging 9 independent pixels divides that by 9; averaging 9 copies
-- of one channel-wide draw does not. Predicted: elementwise (Bernoulli or Gaussian)
-- $c^2(1-p)/(9p)$, spatial $c^2(1-p)/p$.
local function pooled_var(drop)
  local out = nb.avg_pool2d(drop(fmap, p3), 3)
  return ((out - 2) ^ 2):mean()          -- E[out] = c = 2 for inverted dropout
end
local v_el_pred, v_sp_pred = 4 * (1 - p3) / (9 * p3), 4 * (1 - p3) / p3
local oke, re = check.mc(function() return pooled_var(reg.element_dropout) end, v_el_pred,
                         {n = 200, z = 4})
mc_answer(string.format('elementwise: variance after pooling = %.4f', v_el_pred), oke, re)
-- Gaussian dropout with the same per-pixel variance, α² = (1−p)/p, is elementwise too
local okgd, rgd = check.mc(function()
  return pooled_var(function(t, q) return nn.F.gaussian_dropout(t, (1 - q) / q, true) end)
end, v_el_pred, {n = 200, z = 4})
mc_answer(string.format('Gaussian (α² = (1−p)/p): variance after pooling = %.4f', v_el_pred),
          okgd, rgd)
local oks, rs = check.mc(function() return pooled_var(reg.spatial_dropout) end, v_sp_pred,
                         {n = 200, z = 4})
mc_answer(string.format('spatial: variance after pooling = %.4f', v_sp_pred), oks, rs)
print(string.format('the 3×3 average removes %.0f%% of elementwise noise and none of spatial',
                    100 * (1 - re.mean:item() / v_sp_pred)))
