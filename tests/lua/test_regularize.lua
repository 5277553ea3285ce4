-- regularize: dropout moments and expected loss, ridge solutions, the X̃ transform, Gaussian
-- weight / multiplicative noise, spatial masks.  Reference values are worked by hand on a 2×2
-- example (arithmetic in the comments) or come from an independent route (enumeration, Monte
-- Carlo judged by z-score), never from the function under test.
local H = require 'harness'
local nb = require 'nabla'
local check = require 'check'
local reg = require 'regularize'

local function f64(t) return nb.tensor(t, {dtype = 'f64'}) end

-- The hand example: X = [[1, 2], [3, −1]], y = (1, 2), w = (1, 1), p = 0.5.
-- XᵀX = [[10, −1], [−1, 5]], diag = (10, 5), Γ̂ = (√10, √5), Xw = (3, 2).
local X, y, w, p = f64({{1, 2}, {3, -1}}), f64({1, 2}), f64({1, 1}), 0.5

---------------------------------------------------------------------------- moments
-- E[P] = pX = [[0.5, 1], [1.5, −0.5]];
-- E[PᵀP] = 0.25·[[10, −1], [−1, 5]] + 0.25·diag(10, 5) = [[5, −0.25], [−0.25, 2.5]]
local EP, EG = reg.moments(X, p)
H.close(EP, {{0.5, 1}, {1.5, -0.5}}, 1e-15, 'E[P] = pX')
H.close(EG, {{5, -0.25}, {-0.25, 2.5}}, 1e-15, 'E[PᵀP] by hand')
H.close(reg.gamma_hat(X), {math.sqrt(10), math.sqrt(5)}, 1e-15, 'Γ̂ = column norms')
H.close(reg.dropout_gamma(X, 0.8), {math.sqrt(10 / 4), math.sqrt(5 / 4)}, 1e-12,
        'Γ = sqrt((1−p)/p) Γ̂ at p = 0.8')

nb.manual_seed(1)
local Xr = nb.randn(5, 3, {dtype = 'f64'}) * f64({1, 2, 0.5})
local EPr, EGr = reg.moments(Xr, 0.7)
local ok, rep = check.mc(function()
  local a, b = reg.sample_moments(Xr, 0.7, 400)
  return nb.cat({a:reshape(-1), b:reshape(-1)}, 1)
end, nb.cat({EPr:reshape(-1), EGr:reshape(-1)}, 1), {n = 100, z = 4.5})
H.check(ok, 'Monte Carlo moments within z = 4.5: %s', rep.text)

---------------------------------------------------------------------------- expected loss
-- plain: ‖y − pXw‖² + p(1−p)‖Γ̂w‖² = ‖(−0.5, 1)‖² + 0.25·15 = 1.25 + 3.75 = 5
-- by hand over the 4 masks of each row: row 1 residuals² (1, 0, 1, 4) → 1.5,
-- row 2 (4, 1, 9, 0) → 3.5; total 5
H.close(reg.expected_loss(X, y, w, p), 5, 1e-14, 'expected loss, closed form')
H.close(reg.exact_loss(X, y, w, p), 5, 1e-14, 'expected loss, enumeration')
-- inverted (masks / p): ‖y − Xw‖² + ((1−p)/p)‖Γ̂w‖² = 4 + 15 = 19; by hand: rows 9 and 10
H.close(reg.expected_loss(X, y, w, p, {inverted = true}), 19, 1e-14, 'inverted, closed form')
H.close(reg.exact_loss(X, y, w, p, {inverted = true}), 19, 1e-14, 'inverted, enumeration')
-- a random problem: enumeration and closed form agree; Monte Carlo within z = 4.5
local yr, wr = nb.randn(5, {dtype = 'f64'}), nb.randn(3, {dtype = 'f64'})
H.close(reg.exact_loss(Xr, yr, wr, 0.3), reg.expected_loss(Xr, yr, wr, 0.3), 1e-12,
        'random problem: enumeration = closed form')
ok, rep = check.mc(function() return reg.sample_loss(Xr, yr, wr, 0.3, 500) end,
                   reg.expected_loss(Xr, yr, wr, 0.3), {n = 40, z = 4.5})
H.check(ok, 'Monte Carlo loss: %s', rep.text)
local mean, losses = reg.sample_loss(Xr, yr, wr, 0.3, 7)
H.check(losses.shape[1] == 7 and math.abs(losses:mean():item() - mean) < 1e-12,
        'sample_loss returns the mean and the per-mask losses')
-- a 1-D x is one row
H.close(reg.expected_loss(f64({1, 2}), 1, w, p), 1.5, 1e-14, 'one row given as a vector')

---------------------------------------------------------------------------- ridge
-- Γ = Γ̂ at p = 0.5: A = XᵀX + diag(10, 5) = [[20, −1], [−1, 10]], Xᵀy = (7, 0), det 199,
-- w_ridge = (70, 7)/199, ŵ = w_ridge / p = (140, 14)/199
H.close(reg.ridge(X, y, reg.dropout_gamma(X, p)), {70 / 199, 7 / 199}, 1e-14, 'ridge by hand')
local wh, wrd = reg.dropout_ridge(X, y, p)
H.close(wh, {140 / 199, 14 / 199}, 1e-14, 'dropout minimiser ŵ = w_ridge / p')
H.close(wrd, {70 / 199, 7 / 199}, 1e-14, 'second result is w_ridge')
H.close(reg.dropout_ridge(X, y, p, {inverted = true}), {70 / 199, 7 / 199}, 1e-14,
        'inverted dropout minimiser = w_ridge')
-- the same Γ given as a matrix; γ = 0 is least squares: X invertible, w = X⁻¹y
-- X⁻¹ = (1/−7)[[−1, −2], [−3, 1]], X⁻¹y = (−1/7)(−5, −1) = (5/7, 1/7)
H.close(reg.ridge(X, y, f64({{math.sqrt(10), 0}, {0, math.sqrt(5)}})), {70 / 199, 7 / 199}, 1e-14,
        'ridge with a matrix Γ')
H.close(reg.ridge(X, y, 0), {5 / 7, 1 / 7}, 1e-14, 'γ = 0 is least squares')
-- the minimiser is a stationary point of the closed-form expected loss (finite differences)
for j = 1, 2 do
  local e = f64({j == 1 and 1e-5 or 0, j == 2 and 1e-5 or 0})
  local slope = (reg.expected_loss(X, y, wh + e, p) - reg.expected_loss(X, y, wh - e, p)) / 2e-5
  H.check(math.abs(slope) < 1e-8, 'ŵ is stationary in direction %d (slope %.2e)', j, slope)
end
-- SGD on sampled masks lands on the ridge solution
nb.manual_seed(5)
local Xs = nb.randn(30, 3, {dtype = 'f64'}) * f64({1, 2, 0.5})
local ys = Xs:matmul(f64({1, -1, 2})) + nb.randn(30, {dtype = 'f64'}) * 0.3
local w_sgd, tr = reg.sgd_dropout(Xs, ys, 0.6, {steps = 3000})
local w_ref = reg.dropout_ridge(Xs, ys, 0.6)
local rel = ((w_sgd - w_ref):norm() / w_ref:norm()):item()
H.check(rel < 0.02, 'SGD on masks finds the ridge solution (rel %.4f)', rel)
H.check(#tr.loss == 3000 and tr.lr > 0 and #tr.path > 0, 'SGD trace')

---------------------------------------------------------------------------- transform
-- X̃ = XΓ⁻¹ with Γ = (√10, √5): columns (1, 3)/√10 and (2, −1)/√5, each of norm 1 = sqrt(p/(1−p))
local Xt = reg.transform(X, reg.dropout_gamma(X, p))
H.close(Xt, {{1 / math.sqrt(10), 2 / math.sqrt(5)}, {3 / math.sqrt(10), -1 / math.sqrt(5)}}, 1e-14,
        'X̃ by hand')
H.close(reg.column_stats(Xt).norm, {1, 1}, 1e-14, 'unit column norms at p = 0.5')
H.close(reg.transform(X, f64({{math.sqrt(10), 0}, {0, math.sqrt(5)}})), Xt, 1e-14,
        'transform with a matrix Γ')
-- plain ridge (λ = 1) on X̃, mapped back by Γ⁻¹, is the generalised ridge solution
H.close(reg.ridge(Xt, y, 1) / reg.dropout_gamma(X, p), {70 / 199, 7 / 199}, 1e-13,
        'ridge on X̃ maps back to w_ridge')
-- column stats of [[1, 2], [3, 4]]: means (2, 3), biased variances (1, 1), norms √10, √20
local cs = reg.column_stats(f64({{1, 2}, {3, 4}}))
H.close(cs.mean, {2, 3}, 1e-15, 'column means')
H.close(cs.var, {1, 1}, 1e-15, 'column variances')

---------------------------------------------------------------------------- Gaussian noise
-- one row x = (1, 2), y = 1, w = (1, 1), α = 0.5: residual y − w·x = −2, −x·r = (2, 4);
-- reparameterised adds α w x² = 0.5·(1, 4) → (2.5, 6)
local x1, y1 = f64({{1, 2}}), f64({1})
H.close(reg.weight_noise_grad_expected(x1, y1, w, 0.5), {2, 4}, 1e-15, 'E grad, noise held fixed')
H.close(reg.weight_noise_grad_expected(x1, y1, w, 0.5, {reparam = true}), {2.5, 6}, 1e-15,
        'E grad, reparameterised')
nb.manual_seed(2)
ok, rep = check.mc(function()
  return reg.weight_noise_grad_sample(x1, y1, w, 0.5, 500, {detach_scale = true})
end, f64({2, 4}), {n = 60, z = 4.5})
H.check(ok, 'MC gradient, noise held fixed: %s', rep.text)
ok, rep = check.mc(function() return reg.weight_noise_grad_sample(x1, y1, w, 0.5, 500) end,
                   f64({2.5, 6}), {n = 60, z = 4.5})
H.check(ok, 'MC gradient, reparameterised: %s', rep.text)
-- with zero noise the loss is ½(y − w·x)² = 2 for every draw
H.close(reg.weight_noise_loss(x1, y1, w, 0, nb.randn({3, 2}, {dtype = 'f64'})), {2, 2, 2}, 1e-15,
        'weight_noise_loss without noise')
-- multiplicative: α = 0.5: mean 0 → ½(1 + 0.25·5) = 1.125; mean 1 → ½·4 + ½·0.25·5 = 2.625
H.close(reg.mult_noise_expected(x1, y1, w, 0.5, 0), 1.125, 1e-15, 'E[J\'] with r ~ N(0, α²)')
H.close(reg.mult_noise_expected(x1, y1, w, 0.5, 1), 2.625, 1e-15, 'E[J\'] with r ~ N(1, α²)')
for _, mu in ipairs({0, 1}) do
  ok, rep = check.mc(function()
    return reg.mult_noise_loss(x1, y1, w, 0.5, mu, nb.randn({500, 2}, {dtype = 'f64'})):mean()
  end, mu == 0 and 1.125 or 2.625, {n = 60, z = 4.5})
  H.check(ok, 'MC E[J\'], mean %d: %s', mu, rep.text)
end
-- fits: mean 1, α = 1 is the p = 0.5 dropout ridge; mean 0 gives w = 0
H.close(reg.mult_noise_fit(X, y, 1, 1), {70 / 199, 7 / 199}, 1e-14, 'Gaussian dropout fit')
H.close(reg.mult_noise_fit(X, y, 1, 0), {0, 0}, 1e-15, 'mean-zero noise fits w = 0')

---------------------------------------------------------------------------- spatial
nb.manual_seed(3)
local sm = reg.spatial_mask({4, 6, 5, 5}, 0.5)
H.check(table.concat(sm.shape, ',') == '4,6,1,1', 'spatial mask shape [N, C, 1, 1]')
local ones = nb.ones(8, 16, 4, 4, 'f64')
H.check(reg.partial_channels(reg.spatial_dropout(ones, 0.6)) == 0, 'spatial: whole maps only')
H.check(reg.partial_channels(reg.element_dropout(ones, 0.6)) > 0.5, 'elementwise: partial maps')
-- kept values are 1/p
local sd = reg.spatial_dropout(ones, 0.5)
H.check(sd:eq(0):add(sd:eq(2)):min():item() == 1, 'inverted scaling: values are 0 or 1/p')
local two_maps = f64({{{0, 1}, {1, 1}}, {{0, 0}, {0, 0}}}):view(1, 2, 2, 2)
H.close(reg.partial_channels(two_maps), 0.5, 1e-15,
        'partial_channels by hand: one of two maps partly zero')

---------------------------------------------------------------------------- errors
H.checkerror('p (the keep probability) must be in [0, 1]', reg.mask, {2, 2}, 1.5)
H.checkerror('must be in (0, 1)', reg.dropout_gamma, X, 0)
H.checkerror('y has 3 entries for 2 rows', reg.expected_loss, X, f64({1, 2, 3}), w, 0.5)
H.checkerror('w has 3 entries for 2 columns', reg.expected_loss, X, y, f64({1, 2, 3}), 0.5)
H.checkerror('too many', reg.exact_loss, nb.zeros(1, 17, 'f64'), f64({0}), nb.zeros(17, 'f64'), 0.5)
H.checkerror('gamma must be a number', reg.ridge, X, y, f64({1, 2, 3}))
H.checkerror('at least one spatial dim', reg.spatial_mask, {2, 3}, 0.5)

H.report()
