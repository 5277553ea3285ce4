-- # Influence functions: which training points made this prediction?
-- summary: Koh & Liang's influence functions on Fashion-MNIST logistic regression — exact Hessian, Hessian-vector products, CG (and the missing ½), LiSSA (and its divergence), leave-one-out retraining, perturbation maps, hinge vs smooth hinge, a non-convex MLP with damping
-- time: minutes
--
-- An influence function answers *"how would the test loss change if this training point had
-- been left out (or moved a little)?"* without retraining: one Hessian solve and one gradient
-- per training point. This lesson builds every piece on a model where the answer can also be
-- computed the slow way — an L2-regularised logistic regression on two Fashion-MNIST classes —
-- and compares the two. Then it looks at what breaks the approximation: a loss with no
-- second derivative (the SVM hinge) and a non-convex model (a small MLP).
--
-- The algorithms live in `stdlib/influence.lua` (`:help influence.cg` and friends); they work
-- for any loss written as a Lua function of a parameter tensor or a list of tensors.
-- Course items: S000-Q2.1a–c (see the summary cell for what the course got wrong).

-- %% Setup
-- `lesson.quick` (NABLA_QUICK=1) shrinks the training set and the number of retrainings.
local influence = require 'influence'
local metrics = require 'metrics'
nb.manual_seed(0)
local quick = lesson.quick
local N_TRAIN = quick and 500 or 1000      -- logistic regression and SVM
local N_LOO = quick and 20 or 50            -- leave-one-out retrainings (logistic)
local N_MLP = 300                           -- the MLP's training set
local N_LOO_MLP = quick and 8 or 30
local CLASS_A, CLASS_B = 1, 7               -- T-shirt/top (y = 1) vs Shirt (y = 0)
local LAMBDA = 0.01                         -- L2 strength: L(z, θ) = log-loss + λ/2 ‖θ‖²
local T0 = nb.clock()
-- tensors are compared through their largest entrywise difference, so that a check prints
-- one number rather than a whole tensor
local function maxdiff(a, b) return (a - b):abs():max():item() end
-- a yes/no fact, with the measured value in the label (1 = true)
local function check_true(label, cond) check.answer(label, cond and 1 or 0, 1, 0) end

-- %% Data: T-shirts against shirts
-- Two classes that even people confuse, so that the model makes mistakes worth explaining.
-- Each image becomes 784 pixel features plus a constant 1 for the bias: $\theta \in
-- \mathbb{R}^{785}$. Everything is float64: leave-one-out changes are small, and we want
-- to measure them, not rounding noise.
local function two_classes(split, n, pool)
  local x, y = data.fashion_mnist{split = split, n = pool}
  local idx = (y:eq(CLASS_A) + y:eq(CLASS_B)):nonzero():reshape(-1)
  idx = idx:narrow(1, 1, math.min(n, idx:numel()))
  local images = x:index_select(1, idx)
  local X = nb.cat({images:reshape(-1, 784):to('f64'), nb.ones(idx:numel(), 1, {dtype = 'f64'})}, 2)
  return X, y:index_select(1, idx):eq(CLASS_A):to('f64'), images
end
local X, y, train_images = two_classes('train', N_TRAIN, 12000)
local Xt, yt, test_images = two_classes('test', 400, 2000)
local n, p = X:size(1), X:size(2)
print(string.format('%d training images (%.0f%% T-shirts), %d test images, %d parameters',
                    n, 100 * y:mean():item(), Xt:size(1), p))
local function name(label) return label == 1 and 'T-shirt' or 'shirt' end
plot.images(train_images:narrow(1, 1, 4), {titles = {name(y[1]:item()), name(y[2]:item()),
  name(y[3]:item()), name(y[4]:item())}})

-- %% The model, fitted to convergence
-- The per-point loss is
-- $L(z, \theta) = \log(1 + e^{\theta^\top x}) - y\,\theta^\top x + \tfrac{\lambda}{2}\|\theta\|^2$.
-- The regulariser belongs to every point, so the training objective is the plain mean
-- $\frac1n \sum_i L(z_i, \theta)$, as in Koh & Liang. Its Hessian has a closed form,
-- $H = \frac1n X^\top D X + \lambda I$ with $D = \mathrm{diag}(\sigma_i(1-\sigma_i))$, so
-- Newton's method converges in a handful of steps.
--
-- Influence functions assume $\nabla = 0$ at $\hat\theta$; an optimiser stopped early breaks
-- that assumption, so we fit until the gradient norm is at rounding level.
local function objective(Xs, ys)
  return function(th)
    local z = Xs:matmul(th)
    return (nb.softplus(z) - ys * z):mean() + 0.5 * LAMBDA * (th * th):sum()
  end
end
local function hessian_closed(Xs)
  return function(th)
    local s = Xs:matmul(th):sigmoid()
    return (Xs * (s * (1 - s)):view(-1, 1)):t():mm(Xs) / Xs:size(1)
           + nb.eye(p, {dtype = 'f64'}) * LAMBDA
  end
end
local f_train = objective(X, y)
local theta, fit = influence.newton(f_train, nb.zeros(p, {dtype = 'f64'}),
                                    {hessian = hessian_closed(X), tol = 1e-12, verbose = true})
local test_acc = Xt:matmul(theta):gt(0):to('f64'):eq(yt):to('f64'):mean():item()
print(string.format('test accuracy %.3f', test_acc))
check.answer('final gradient norm (≈ 0)', fit.grad_norm, 0, 1e-10)

-- %% The exact Hessian, two ways
-- `nb.func.hessian` differentiates the gradient once per parameter (785 backward passes);
-- the closed form uses one matrix product. They must agree to rounding.
local t = nb.clock()
local H_auto = nb.func.hessian(f_train, theta):detach()
local t_auto = nb.clock() - t
t = nb.clock()
local H = hessian_closed(X)(theta)
local t_closed = nb.clock() - t
print(string.format('autograd Hessian %.2f s, closed form %.3f s', t_auto, t_closed))
check.answer('max |H_autograd − H_closed|', (H_auto - H):abs():max():item(), 0, 1e-12)
local eig = nb.linalg.eigh(H)
local lam_min, lam_max = eig[1]:item(), eig[p]:item()
print(string.format('eigenvalues of H: λ_min = %.4g (= λ: pixels no image uses), ' ..
                    'λ_max = %.4g, condition number %.0f', lam_min, lam_max, lam_max / lam_min))

-- %% A test point to explain
-- We explain the test image the model gets most wrong: the largest test loss.
local zt = Xt:matmul(theta)
local test_losses = nb.softplus(zt) - yt * zt
local _, worst = test_losses:sort(1, true)
local ti = worst[1]:item()
local x_test, y_test = Xt[ti], yt[ti]
local function test_loss_fn(th)
  local z = x_test:dot(th)
  return nb.softplus(z) - y_test * z
end
local function test_loss(th) return test_loss_fn(th):item() end
local g_test = influence.grad(test_loss_fn, theta)
print(string.format('test image %d: label %s, P(T-shirt) = %.3f, loss %.3f', ti,
                    y_test:item() == 1 and 'T-shirt' or 'Shirt', zt[ti]:sigmoid():item(),
                    test_loss(theta)))
plot.image(test_images[ti], {title = 'the test image'})

-- %% Hessian-vector products by double backward
-- $Hv = \nabla_\theta(\nabla_\theta L \cdot v)$: one backward pass with `create_graph`, then a
-- second through the gradient (Pearlmutter's trick). Cost O(np) instead of O(np²) for
-- forming H — which is what makes influence functions possible for big models.
local v = nb.randn(p, {dtype = 'f64'})
t = nb.clock()
local Hv = influence.hvp(f_train, theta, v)
local t_hvp = nb.clock() - t
check.answer('max |Hv by double backward − H·v|', maxdiff(Hv, H:matmul(v)), 0, 1e-12)
local _, Hv_func = nb.func.hvp(f_train, theta, v)
check.answer('max |nb.func.hvp − H·v|', maxdiff(Hv_func:detach(), H:matmul(v)), 0, 1e-12)
print(string.format('one HVP %.4f s; forming H (closed form) %.3f s', t_hvp, t_closed))

-- %% The course's CG objective is missing a ½ (S000-Q2.1b)
-- The course writes $H^{-1}v \equiv \arg\min_t \{ t^\top H t - v^\top t \}$. Setting the
-- gradient $2Ht - v$ to zero gives $t = \tfrac12 H^{-1}v$. The right objective is
-- $\tfrac12 t^\top H t - v^\top t$ (gradient $Ht - v$).
--
-- Measure it: minimise the course's objective as written with a general minimiser (Newton-CG,
-- which only sees the function through autograd), and compare with `nb.linalg.solve`.
-- A second test needs no minimiser at all: at $t = H^{-1}v$ the course's objective is
-- $0$, at $t = \tfrac12 H^{-1}v$ it is $-\tfrac14 v^\top H^{-1} v < 0$.
local Hinv_v = nb.linalg.solve(H, g_test:view(-1, 1)):view(-1)
local function seed_q(tt) return (tt * H:matmul(tt)):sum() - (g_test * tt):sum() end
local function right_q(tt) return 0.5 * (tt * H:matmul(tt)):sum() - (g_test * tt):sum() end
local t_seed = influence.newton(seed_q, nb.zeros(p, {dtype = 'f64'}), {tol = 1e-12})
local t_right = influence.newton(right_q, nb.zeros(p, {dtype = 'f64'}), {tol = 1e-12})
local ratio = influence.vdot(t_seed, Hinv_v) / influence.vdot(Hinv_v, Hinv_v)
print(string.format("course's objective at H⁻¹v: %.3g;  at ½H⁻¹v: %.6g (= −¼vᵀH⁻¹v = %.6g)",
                    seed_q(Hinv_v):item(), seed_q(Hinv_v * 0.5):item(),
                    -0.25 * influence.vdot(g_test, Hinv_v)))
check.answer("argmin of tᵀHt − vᵀt, projected on H⁻¹v", ratio, 0.5, 1e-8)
local scale_s = Hinv_v:abs():max():item()
check.answer("argmin of tᵀHt − vᵀt vs ½H⁻¹v: max abs difference", maxdiff(t_seed, Hinv_v * 0.5),
             0, 1e-8 * scale_s)
check.answer('argmin of ½tᵀHt − vᵀt vs H⁻¹v: max abs difference', maxdiff(t_right, Hinv_v), 0,
             1e-8 * scale_s)

-- %% Conjugate gradients on Hessian-vector products
-- CG solves $Hs = v$ touching H only through products — here by double backward, so H is
-- never formed. It needs at most $p$ iterations in exact arithmetic, far fewer when the
-- spectrum is clustered. (The course also calls $t$ "the number of CG iterations"; in Koh &
-- Liang $t$ is LiSSA's recursion depth — next cell.)
t = nb.clock()
local s_cg, cg_info = influence.cg(function(u) return influence.hvp(f_train, theta, u) end,
                                   g_test, {tol = 1e-12})
print(string.format('CG: %d iterations (p = %d), %.2f s', cg_info.iters, p, nb.clock() - t))
local log_res = {}
for k, r in ipairs(cg_info.residuals) do log_res[k] = math.log(r, 10) end
plot.line(log_res, {title = 'CG: log10 relative residual', xlabel = 'iteration', height = 10})
local cg_err = (s_cg - Hinv_v):norm():item() / Hinv_v:norm():item()
check.answer('CG vs nb.linalg.solve: relative error', cg_err, 0, 1e-8)

-- %% LiSSA: a stochastic Neumann series
-- For $\|I - A\| < 1$, $A^{-1} = \sum_{i \ge 0} (I - A)^i$. LiSSA applies this to
-- $A = (H + \text{damping})/\text{scale}$ with the recursion
-- $h_j = v + h_{j-1} - (H_j h_{j-1} + \text{damping}\,h_{j-1})/\text{scale}$, where $H_j$ is the
-- Hessian of a random minibatch, and returns $h_t/\text{scale} \approx (H+\text{damping})^{-1}v$.
--
-- The scale must bound the Hessians the recursion multiplies by. The course's rule,
-- $\nabla^2 L(z_i) \preceq I$ after dividing by the scale, uses single points. One point's
-- Hessian is $\sigma(1-\sigma)\,x x^\top + \lambda I$ with top eigenvalue
-- $\sigma(1-\sigma)\|x\|^2 + \lambda$: safe but large, and the error only shrinks like
-- $(1 - \lambda_{\min}/\text{scale})^t$. Minibatch Hessians have a much smaller top
-- eigenvalue (measured below by power iteration), so the scale can be smaller and the
-- series converges faster.
nb.manual_seed(1)
local sig = X:matmul(theta):sigmoid()
local per_point_max = (sig * (1 - sig) * (X * X):sum(2)):max():item() + LAMBDA
local BATCH = quick and 150 or 200
local function batch_hvp(u)
  local idx = nb.randint(1, n, {BATCH})
  return influence.hvp(objective(X:index_select(1, idx), y:index_select(1, idx)), theta, u)
end
local batch_max = 0
for _ = 1, 5 do
  local idx = nb.randint(1, n, {BATCH})
  local fb = objective(X:index_select(1, idx), y:index_select(1, idx))
  local lam = influence.power_iteration(function(u) return influence.hvp(fb, theta, u) end,
                                        theta, {iters = 100})
  batch_max = math.max(batch_max, lam)
end
local SCALE = 1.1 * batch_max
local DEPTH = quick and 4000 or 5000
print(string.format('top eigenvalue: one point (max) %.1f, minibatch of %d (max of 5) %.1f, ' ..
                    'full H %.1f → scale %.1f, depth t = %d', per_point_max, BATCH, batch_max,
                    lam_max, SCALE, DEPTH))
t = nb.clock()
local s_lissa = influence.lissa(function(u) return batch_hvp(u) end, g_test,
                                {scale = SCALE, depth = DEPTH})
local lissa_err = (s_lissa - Hinv_v):norm():item() / Hinv_v:norm():item()
print(string.format('LiSSA: %.1f s, relative error %.3f', nb.clock() - t, lissa_err))
local G_all = X * (sig - y):view(-1, 1) + theta:view(1, -1) * LAMBDA   -- ∇L(z_i, θ̂), one row each
print(string.format('influences from LiSSA vs exact: Pearson r = %.4f',
                    metrics.pearson(G_all:matmul(s_lissa), G_all:matmul(Hinv_v))))
check.answer('LiSSA relative error ‖s − H⁻¹v‖/‖H⁻¹v‖ (target ≤ 0.1)', lissa_err, 0, 0.1)

-- %% LiSSA's damping
-- With damping $d$ the series converges to $(H + dI)^{-1}v$ instead, and faster: the slowest
-- factor becomes $1 - (\lambda_{\min} + d)/\text{scale}$. The price is a bias towards a
-- smaller, more gradient-like answer. Run a quarter of the depth with and without damping and
-- compare each with its own target, and with the other's.
--
-- Stopping early is itself a damping: after $t$ steps an eigen-direction $\lambda$ gets
-- $(1 - (1 - \lambda/\text{scale})^{t+1})/\lambda$ instead of $1/\lambda$, which levels off
-- like $1/(\lambda + \text{scale}/t)$ for small $\lambda$.
nb.manual_seed(4)
local Hd_v = nb.linalg.solve(H + nb.eye(p, {dtype = 'f64'}) * 0.01, g_test:view(-1, 1)):view(-1)
local function rel(a, b) return (a - b):norm():item() / b:norm():item() end
local SHORT = DEPTH // 4
local errs = {}
for _, dmp in ipairs({0, 0.01}) do
  local est = influence.lissa(function(u) return batch_hvp(u) end, g_test,
                              {scale = SCALE, depth = SHORT, damping = dmp})
  errs[dmp] = {rel(est, Hinv_v), rel(est, Hd_v)}
  print(string.format('damping %-5g depth %d: error vs H⁻¹v %.3f, vs (H + 0.01 I)⁻¹v %.3f', dmp,
                      SHORT, errs[dmp][1], errs[dmp][2]))
end
print(string.format('scale/t = %.3f; the bias itself: ‖(H + 0.01 I)⁻¹v − H⁻¹v‖/‖H⁻¹v‖ = %.3f',
                    SCALE / SHORT, rel(Hd_v, Hinv_v)))
check_true(string.format('damping converges faster: error to its own target %.3f < %.3f',
                         errs[0.01][2], errs[0][1]), errs[0.01][2] < errs[0][1])

-- %% LiSSA diverges when the scale is too small
-- With the full Hessian the recursion multiplies the error by $I - H/\text{scale}$ each step,
-- so it converges iff every eigenvalue satisfies $|1 - \lambda/\text{scale}| < 1$, i.e.
-- $\text{scale} > \lambda_{\max}/2$. The course's $\nabla^2 L \preceq I$ (scale $\ge
-- \lambda_{\max}$) is sufficient, not necessary. Below $\lambda_{\max}/2$ the component along
-- the top eigenvector grows by the factor $\lambda_{\max}/\text{scale} - 1$ per step.
local function full_hvp(u) return influence.hvp(f_train, theta, u) end
local runs, curves = {}, {}
for _, c in ipairs({1.1, 0.55, 0.45}) do
  local est, info = influence.lissa(full_hvp, g_test, {scale = c * lam_max, depth = 150})
  runs[c] = info
  local ys = {}
  for k, rec in ipairs(info.norms) do ys[k] = math.log(rec[2], 10) end
  curves[string.format('scale = %.2f λ_max', c)] = ys
end
plot.line(curves, {title = 'LiSSA: log10 ‖h_j‖/scale', xlabel = 'j', height = 12})
local nrm = runs[0.45].norms
local growth = (nrm[#nrm][2] / nrm[#nrm - 10][2]) ^ (1 / 10)
print(string.format('scale = 0.45 λ_max: ‖h‖ grows ×%.4f per step; ‖h_150‖/scale = %.3g',
                    growth, nrm[#nrm][2]))
check.answer('growth per step = λ_max/scale − 1', growth, 1 / 0.45 - 1, 1e-3)
-- The whole curve has a closed form in H's eigenbasis: with c = Uᵀv and a_k = λ_k/scale,
-- h_j/scale = Σ_k c_k (1 − (1 − a_k)^{j+1}) / λ_k · u_k.
local evals, evecs = nb.linalg.eigh(H)
local coef = evecs:t():matmul(g_test)
for _, c in ipairs({1.1, 0.55, 0.45}) do
  local a_k = evals / (c * lam_max)
  local comp = coef * (1 - (1 - a_k):pow(151)) / evals
  check.answer(string.format('scale = %.2f λ_max: ‖h_150‖/scale vs eigen-decomposition', c),
               runs[c].norms[150][2], comp:norm():item(), {atol = 0, rtol = 1e-6})
end

-- %% The influence of every training point
-- With $s_{test} = H^{-1}\nabla_\theta L(z_{test}, \hat\theta)$ (one solve), every training point
-- costs one dot product: $\mathcal I_{up,loss}(z, z_{test}) = -\nabla L(z_{test})^\top H^{-1}
-- \nabla L(z) = -s_{test}^\top \nabla L(z)$. Removing $z$ is up-weighting by $\varepsilon =
-- -1/n$, so the predicted change of the test loss is $-\mathcal I_{up,loss}/n$.
local infl, s_test = influence.influence_up_loss(H, g_test, G_all)
local predicted = -infl / n
local _, by_size = predicted:abs():sort(1, true)
local top = by_size[1]:item()
local _, order = predicted:sort(1)
-- harmful: removing it lowers the test loss; helpful: removing it raises the test loss
local harmful, helpful = order[1]:item(), order[n]:item()
print(string.format('most harmful #%d (removing it: %+.4f), most helpful #%d (removing it: %+.4f)',
                    harmful, predicted[harmful]:item(), helpful, predicted[helpful]:item()))
plot.hist(predicted, {bins = 20,
                      title = 'predicted change of the test loss when a point is removed'})
plot.images({test_images[ti], train_images[harmful], train_images[helpful]},
            {titles = {'test', 'most harmful #' .. harmful, 'most helpful #' .. helpful}})

-- %% Leave-one-out retraining: the ground truth
-- For the most influential points (largest |prediction|), remove the point and refit —
-- warm-started from $\hat\theta$, Newton's method needs about three steps to reach a gradient
-- norm at rounding level. Then compare actual and predicted changes.
local function without(i)
  local keep = nb.ones(n, {dtype = 'i64'})
  keep[i] = 0
  local k = keep:nonzero():reshape(-1)
  return X:index_select(1, k), y:index_select(1, k)
end
local function retrain(i)
  local Xi, yi = without(i)
  return influence.newton(objective(Xi, yi), theta, {hessian = hessian_closed(Xi), tol = 1e-12,
                                                     maxiter = 20})
end
local loo_idx = by_size:narrow(1, 1, N_LOO)
local actual, loo_info = influence.loo(retrain, test_loss, loo_idx, {params = theta})
local pred_top = predicted:index_select(1, loo_idx)
local r = metrics.pearson(pred_top, actual)
print(string.format('%d retrainings in %.1f s (largest final gradient norm %.1e)', N_LOO,
                    loo_info.seconds, loo_info.max_grad_norm))
print(string.format('Pearson r = %.4f, Spearman ρ = %.4f', r, metrics.spearman(pred_top, actual)))
plot.scatter(actual, pred_top, {title = 'leave-one-out: predicted vs actual change of the test '
                                .. 'loss', xlabel = 'actual', ylabel = 'predicted'})
check.answer('Pearson r, predicted vs actual (target ≥ 0.9)', r, 1, 0.1)

-- %% The parameters move as predicted too
-- $\hat\theta_{-z} - \hat\theta \approx -\frac1n \mathcal I_{up,params}(z) = \frac1n
-- H^{-1}\nabla L(z)$, compared for the most influential point.
local theta_top = retrain(top)
local dtheta = theta_top - theta
local dpred = -influence.influence_up_params(H, G_all[top]) / n
local cos = influence.vdot(dtheta, dpred) / (dtheta:norm():item() * dpred:norm():item())
print(string.format('‖Δθ‖ actual %.4g, predicted %.4g, cosine %.4f', dtheta:norm():item(),
                    dpred:norm():item(), cos))
check.answer('cosine(actual Δθ, predicted Δθ) (target ≥ 0.95)', cos, 1, 0.05)

-- %% Moving a training image: I_pert (S000-Q2.1a)
-- Replace a training input $x$ by $x + \delta$. Up-weighting $z_\delta$ by $\varepsilon$ and
-- down-weighting $z$ by $\varepsilon$ gives
-- $\mathcal I_{pert,loss}(z, z_{test})^\top = \nabla_\delta L(z_{test}, \hat\theta_{z_\delta,-z})
-- \big|_{\delta=0} = -\nabla_\theta L(z_{test})^\top H^{-1}
-- \nabla_x \nabla_\theta L(z, \hat\theta)$
-- (the course's rendering of the left-hand side is garbled). Moving one point of $n$ is
-- $\varepsilon = 1/n$, so the test loss changes by $\frac1n \mathcal I_{pert,loss}\cdot\delta$:
-- the $1/n$ that the course's "efficient" formula carries and its definition does not.
--
-- `influence_pert_loss` computes $-\nabla_x(s_{test} \cdot \nabla_\theta L(x, \hat\theta))$ by
-- double backward, for all training images at once. In the map, red pixels are those whose
-- brightening would raise the test loss, blue ones would lower it.
local function point_loss(th, pixels)   -- the summed loss of images `pixels` [m, 784]
  local Xp = nb.cat({pixels, nb.ones(pixels:size(1), 1, {dtype = 'f64'})}, 2)
  local z = Xp:matmul(th)
  local ys = y:narrow(1, 1, pixels:size(1))
  return (nb.softplus(z) - ys * z):sum() + 0.5 * LAMBDA * (th * th):sum()
end
local pixels = X:narrow(2, 1, 784)
local I_pert = influence.influence_pert_loss(nil, nil, point_loss, theta, pixels, {s_test = s_test})
-- closed form for logistic regression: ∇_x∇_θ L = (σ − y) E + σ(1−σ) x̃ θ_pixᵀ
local sp, th_pix = s_test:narrow(1, 1, 784), theta:narrow(1, 1, 784)
local closed = -((sig - y):view(-1, 1) * sp:view(1, -1)
                 + (sig * (1 - sig) * X:matmul(s_test)):view(-1, 1) * th_pix:view(1, -1))
check.answer('max |I_pert by double backward − closed form|', maxdiff(I_pert, closed), 0, 1e-12)
plot.images({test_images[ti], train_images[top]},
            {titles = {'test image', 'training image #' .. top}})
plot.heatmap(I_pert[top]:view(28, 28), {cmap = 'diverging',
                                        title = 'I_pert,loss of training image #' .. top})

-- %% I_pert against retraining with a moved image
-- Move image #top by $\pm\delta$ along its own $\mathcal I_{pert}$ direction, with
-- ‖δ‖ = 0.5 (pixels are in [0, 1]; the image's own norm is printed), refit, and take the
-- central difference of the test loss.
local dir = I_pert[top] / I_pert[top]:norm() * 0.5
local function moved(sign)
  local Xm = X:clone()
  Xm[top]:narrow(1, 1, 784):add_(dir * sign)
  local th = influence.newton(objective(Xm, y), theta, {hessian = hessian_closed(Xm), tol = 1e-12})
  return test_loss(th)
end
local actual_pert = (moved(1) - moved(-1)) / 2
local pred_pert = influence.vdot(I_pert[top], dir) / n
print(string.format('‖x‖ = %.1f, ‖δ‖ = 0.5: actual change %.6g; predicted I_pert·δ/n = %.6g; ' ..
                    'without the 1/n: %.4g', pixels[top]:norm():item(), actual_pert, pred_pert,
                    pred_pert * n))
check.answer('actual / predicted (I_pert·δ/n)', actual_pert / pred_pert, 1, 0.05)

-- %% The smooth hinge (S000-Q2.1c)
-- A linear SVM minimises $\frac{\lambda}{2}\|w\|^2 + \frac1n\sum_i \mathrm{Hinge}(y_i w^\top x_i)$
-- (the course: $0.005\|w\|^2$, so $\lambda = 0.01$). The hinge $\max(0, 1-s)$ has no second
-- derivative at $s = 1$ and a zero one everywhere else, so "its" Hessian is just $\lambda I$.
-- $\mathrm{SmoothHinge}(s, t) = t \log(1 + e^{(1-s)/t})$ is smooth and within $t\ln 2$ of
-- the hinge (the gap is largest at $s = 1$).
local sgrid = nb.linspace(-1, 3, 401, {dtype = 'f64'})
local curves_h = {hinge = influence.smooth_hinge(sgrid, 0)}
for _, tt in ipairs({1, 0.1, 0.001}) do
  local gap = (influence.smooth_hinge(sgrid, tt) - curves_h.hinge):abs():max():item()
  check.answer(string.format('max |SmoothHinge − Hinge| at t = %g is t·ln 2', tt), gap,
               tt * math.log(2), 1e-12)
  curves_h['t = ' .. tt] = influence.smooth_hinge(sgrid, tt)
end
plot.line(curves_h, {x = sgrid, title = 'hinge and smooth hinge', xlabel = 's = y wᵀx',
                     height = 12})
-- Autograd agrees: the hinge's derivative, −1 or 0, does not depend on s at all (it is not
-- even part of a graph), while the smooth hinge has curvature $\sigma(u)(1-\sigma(u))/t$,
-- $u = (1-s)/t$: $1/(4t)$ at the kink.
local s_leaf = nb.tensor({0.3, 1.0, 1.7}, {dtype = 'f64', requires_grad = true})
local d1_hinge = nb.grad(influence.smooth_hinge(s_leaf, 0):sum(), {s_leaf},
                        {create_graph = true})[1]
print(string.format("hinge: φ'(0.3, 1, 1.7) = %s; does φ' depend on s? %s",
                    table.concat(d1_hinge:detach():totable(), ', '),
                    tostring(d1_hinge.requires_grad)))
local s1 = nb.tensor(1.0, {dtype = 'f64'})
for _, tt in ipairs({0.1, 0.001}) do
  local curv = nb.func.hessian(function(s) return influence.smooth_hinge(s, tt) end, s1):item()
  check.answer(string.format('SmoothHinge\'\'(1) at t = %g is 1/(4t)', tt), curv, 1 / (4 * tt),
               {atol = 0, rtol = 1e-10})
end

-- %% Influence through the hinge is wrong; the smooth hinge tracks retraining
-- Fit the SVM exactly (dual coordinate descent, then an active-set solve; the KKT conditions
-- hold to rounding), pick the test image with the smallest margin, and retrain without each of
-- the points that the hinge or the smooth hinge (t = 0.001) rates most influential. The
-- influence predictions all use the hinge-trained $\hat w$; only the loss used for
-- $H$ and $\nabla L$ changes with $t$.
nb.manual_seed(2)
local ys = y * 2 - 1
local w_svm, svm = influence.linear_svm(X, ys, LAMBDA)
local margins_t = Xt:matmul(w_svm) * (yt * 2 - 1)
local _, by_margin = margins_t:sort(1)
local si = by_margin[1]:item()
local xs_test, ys_test = Xt[si], yt[si] * 2 - 1
local function svm_test_loss(w) return (1 - ys_test * xs_test:dot(w)):relu():item() end
print(string.format('SVM: KKT violation %.1e, duality gap %.1e, %d support vectors; ' ..
                    'test margin %.3f', svm.kkt, svm.gap, svm.alpha:gt(0):sum():item(),
                    margins_t[si]:item()))
local function svm_predict(tt)
  -- per-point loss φ_t(y wᵀx) + λ/2‖w‖²: gradient φ'·y x + λw, Hessian φ''·x xᵀ + λI
  local w = w_svm:clone():requires_grad_()
  local m = X:matmul(w) * ys
  local phi = influence.smooth_hinge(m, tt)
  local d1 = nb.grad(phi:sum(), {m}, {create_graph = true})[1]  -- φ'(m_i)
  local d2v = tt == 0 and nb.zeros(n, {dtype = 'f64'})
              or nb.grad(d1:sum(), {m})[1]:detach()             -- φ''(m_i)
  local G = X * (d1:detach() * ys):view(-1, 1) + w_svm:view(1, -1) * LAMBDA
  local Hs = (X * d2v:view(-1, 1)):t():mm(X) / n + nb.eye(p, {dtype = 'f64'}) * LAMBDA
  local mt = (xs_test:dot(w) * ys_test)
  local gt = nb.grad(influence.smooth_hinge(mt, tt), {w})[1]:detach()
  return -influence.influence_up_loss(Hs, gt, G) / n
end
local T_LIST = {0, 1e-4, 1e-3, 1e-2, 0.1, 0.3, 1}
local svm_pred = {}
for _, tt in ipairs(T_LIST) do svm_pred[tt] = svm_predict(tt) end
local chosen, seen = {}, {}
for _, tt in ipairs({1e-3, 0}) do
  local _, o = svm_pred[tt]:abs():sort(1, true)
  for k = 1, 25 do
    local i = o[k]:item()
    if not seen[i] then seen[i] = true; chosen[#chosen + 1] = i end
  end
end
local svm_actual, svm_loo = influence.loo(function(i)
  local w, info = influence.linear_svm(X, ys, LAMBDA, {exclude = {i}, alpha0 = svm.alpha})
  return w, {grad_norm = info.kkt}
end, svm_test_loss, chosen, {params = w_svm})
print(string.format('%d SVM retrainings in %.1f s (largest KKT violation %.1e)', #chosen,
                    svm_loo.seconds, svm_loo.max_grad_norm))
local chosen_t = nb.tensor(chosen, {dtype = 'i64'})
local r_of_t, log_t = {}, {}
for k, tt in ipairs(T_LIST) do
  local rr = metrics.pearson(svm_pred[tt]:index_select(1, chosen_t), svm_actual)
  r_of_t[k] = rr
  print(string.format('  %-12s Pearson r = %+.3f', tt == 0 and 'hinge' or ('t = ' .. tt), rr))
end
plot.scatter(svm_actual, svm_pred[1e-3]:index_select(1, chosen_t),
             {title = 'SVM, SmoothHinge t = 0.001: predicted vs actual', xlabel = 'actual',
              ylabel = 'predicted'})
plot.scatter(svm_actual, svm_pred[0]:index_select(1, chosen_t),
             {title = 'SVM, through the hinge itself: predicted vs actual', xlabel = 'actual',
              ylabel = 'predicted'})
local rt = {}
for k = 2, #T_LIST do rt[k - 1] = r_of_t[k]; log_t[k - 1] = math.log(T_LIST[k], 10) end
plot.line(rt, {x = log_t, title = 'Pearson r vs log10 t (smooth hinge)', height = 10})
check.answer('smooth hinge t = 0.001: Pearson r (target ≥ 0.9)', r_of_t[3], 1, 0.1)
check.answer('through the hinge: Pearson r (target |r| ≤ 0.5: no signal)', r_of_t[1], 0, 0.5)

-- %% Non-convex: a small MLP, and why damping
-- An MLP 49 → 8 (tanh) → 1 on 7×7 (average-pooled) images, with weight decay 0.01, θ a flat
-- vector of 409 numbers. Adam stops where the gradient is small but not zero, and there the
-- Hessian is typically indefinite: $H^{-1}$ flips the sign along negative directions and blows
-- up along near-zero ones. Koh & Liang's fix is the damped quadratic
-- $\tilde L = L + \nabla L^\top(\theta - \tilde\theta) + \tfrac12(\theta-\tilde\theta)^\top(H +
-- \lambda I)(\theta-\tilde\theta)$, i.e. use $(H + \lambda I)^{-1}$.
--
-- We keep four points along one Adam run (after 100, 200, 300, 400 steps) — four places
-- where someone might have stopped training.
nb.manual_seed(3)
local function small(split, m, pool)
  local x, yy = data.fashion_mnist{split = split, n = pool}
  local idx = (yy:eq(CLASS_A) + yy:eq(CLASS_B)):nonzero():reshape(-1)
  idx = idx:narrow(1, 1, math.min(m, idx:numel()))
  return nb.avg_pool2d(x:index_select(1, idx), 4):reshape(-1, 49):to('f64'),
         yy:index_select(1, idx):eq(CLASS_A):to('f64')
end
local Xm, ym = small('train', N_MLP, 12000)
local Xmt, ymt = small('test', 400, 2000)
local D_IN, HID, WD = 49, 8, 0.01
local P = D_IN * HID + HID + HID + 1
local function mlp_logits(th, Xs)
  local W1 = th:narrow(1, 1, D_IN * HID):view(HID, D_IN)
  local b1 = th:narrow(1, D_IN * HID + 1, HID)
  local w2 = th:narrow(1, D_IN * HID + HID + 1, HID)
  return (Xs:matmul(W1:t()) + b1):tanh():matmul(w2) + th:narrow(1, P, 1)
end
local function mlp_losses(th, Xs, yy)
  local z = mlp_logits(th, Xs)
  return nb.softplus(z) - yy * z
end
local function mlp_objective(Xs, yy)
  return function(th) return mlp_losses(th, Xs, yy):mean() + 0.5 * WD * (th * th):sum() end
end
local f_mlp = mlp_objective(Xm, ym)
local th_run = (nb.randn(P, {dtype = 'f64'}) * 0.3):requires_grad_()
local adam = optim.Adam({th_run}, {lr = 0.02})
local STOPS = {100, 200, 300, 400}
local snaps = {}
for step = 1, STOPS[#STOPS] do
  adam:zero_grad()
  f_mlp(th_run):backward()
  adam:step()
  for _, st in ipairs(STOPS) do
    if step == st then
      local th = th_run:detach():clone()
      local Hs = nb.func.hessian(f_mlp, th):detach()
      local ev = nb.linalg.eigh(Hs)
      snaps[#snaps + 1] = {step = st, theta = th, H = Hs, lam_min = ev[1]:item(),
                           negative = ev:lt(0):sum():item()}
      print(string.format('Adam step %d: ‖∇‖ = %.2e, λ_min(H) = %+.2e, %d negative eigenvalues',
                          st, influence.vnorm(influence.grad(f_mlp, th)), ev[1]:item(),
                          ev:lt(0):sum():item()))
    end
  end
end
local most_negative = snaps[1]
for _, sn in ipairs(snaps) do if sn.lam_min < most_negative.lam_min then most_negative = sn end end
check_true(string.format('H indefinite at Adam step %d: λ_min = %.2e < 0', most_negative.step,
                         most_negative.lam_min), most_negative.lam_min < 0)
local g_sn = influence.grad(f_mlp, most_negative.theta)
local _, cg_undamped = influence.cg(most_negative.H, g_sn, {maxiter = 2 * P})
local _, cg_damped = influence.cg(most_negative.H, g_sn, {maxiter = 2 * P, damping = 0.01})
print(string.format('CG on H (step %d): stopped after %d iterations, negative curvature %s ' ..
                    '(pᵀHp/pᵀp = %.2e)', most_negative.step, cg_undamped.iters,
                    tostring(cg_undamped.negative_curvature), cg_undamped.curvature or 0))
print(string.format('CG on H + 0.01 I: %d iterations, converged %s', cg_damped.iters,
                    tostring(cg_damped.converged)))

-- %% The MLP: damped influence against retraining
-- Ground truth needs a real minimum: damped Newton (Levenberg–Marquardt style) from the last
-- Adam point down to $\|\nabla\| \approx 10^{-10}$, where H is positive definite. Each
-- leave-one-out model is refitted from there by Newton with the exact (autograd) Hessian.
-- Predictions use $(H + \lambda I)^{-1}$ at each Adam stop and at the minimum.
--
-- Read the table by rows. At the minimum every λ works and small λ is best (the bias of a
-- large λ shows up as a lower r). At the Adam stops, a λ below $|\lambda_{\min}|$ leaves
-- $H + \lambda I$ indefinite or nearly singular, and whether that hurts depends on luck: how
-- much of $\nabla L(z_{test})$ falls on the bad directions. A λ above $|\lambda_{\min}|$ is
-- safe at every stop.
local th_star, polish = influence.newton(f_mlp, snaps[#snaps].theta, {hessian = function(th)
  return nb.func.hessian(f_mlp, th) end, damping = 0.01, adaptive = true, maxiter = 60})
local H_star = nb.func.hessian(f_mlp, th_star):detach()
local lam_min_star = nb.linalg.eigh(H_star)[1]:item()
print(string.format('minimum: %d Newton steps, ‖∇‖ = %.1e, λ_min(H) = %.2e, test accuracy %.3f',
                    polish.iters, polish.grad_norm, lam_min_star,
                    mlp_logits(th_star, Xmt):gt(0):to('f64'):eq(ymt):to('f64'):mean():item()))
check_true(string.format('H positive definite at the minimum: λ_min = %.2e > 0', lam_min_star),
           lam_min_star > 0)
local zm = mlp_losses(th_star, Xmt, ymt)
local _, mworst = zm:sort(1, true)
local mi = mworst[1]:item()
local xm1, ym1 = Xmt:narrow(1, mi, 1), ymt:narrow(1, mi, 1)
local function mlp_test_loss(th) return mlp_losses(th, xm1, ym1):sum() end
local DAMPINGS = {0, 1e-4, 1e-3, 1e-2, 1e-1}
local function mlp_predict(th, Hm, damping)
  local gt = influence.grad(mlp_test_loss, th)
  local st = nb.linalg.solve(Hm + nb.eye(P, {dtype = 'f64'}) * damping, gt:view(-1, 1)):view(-1)
  -- ∇L(z_i)ᵀ s_test for every training point at once: a Jacobian-vector product
  return influence.jvp(function(q) return mlp_losses(q, Xm, ym) end, th, st) / N_MLP
end
local pred_star = {}
for _, dmp in ipairs(DAMPINGS) do pred_star[dmp] = mlp_predict(th_star, H_star, dmp) end
local _, mord = pred_star[1e-2]:abs():sort(1, true)
local mlp_set = mord:narrow(1, 1, N_LOO_MLP)
local mlp_actual, mlp_loo = influence.loo(function(i)
  local keep = nb.ones(N_MLP, {dtype = 'i64'})
  keep[i] = 0
  local k = keep:nonzero():reshape(-1)
  local fo = mlp_objective(Xm:index_select(1, k), ym:index_select(1, k))
  return influence.newton(fo, th_star, {hessian = function(th) return nb.func.hessian(fo, th) end,
                                        adaptive = true, maxiter = 40})
end, function(th) return mlp_test_loss(th):item() end, mlp_set, {params = th_star})
print(string.format('%d MLP retrainings in %.1f s (largest final gradient norm %.1e)', N_LOO_MLP,
                    mlp_loo.seconds, mlp_loo.max_grad_norm))
local function r_mlp(pred) return metrics.pearson(pred:index_select(1, mlp_set), mlp_actual) end
local header = {'damping λ '}
for _, sn in ipairs(snaps) do header[#header + 1] = string.format(' step %-4d', sn.step) end
header[#header + 1] = ' minimum'
print(table.concat(header, ''))
local worst_r = {}
for _, dmp in ipairs(DAMPINGS) do
  local row = {string.format('%-10g', dmp)}
  worst_r[dmp] = 1
  for _, sn in ipairs(snaps) do
    local rr = r_mlp(mlp_predict(sn.theta, sn.H, dmp))
    worst_r[dmp] = math.min(worst_r[dmp], rr)
    row[#row + 1] = string.format(' %+9.3f', rr)
  end
  row[#row + 1] = string.format(' %+7.3f', r_mlp(pred_star[dmp]))
  print(table.concat(row, ''))
end
-- below |λ_min| the damped matrix is still indefinite or nearly singular somewhere
local worst_below, worst_above = 1, 1
for _, sn in ipairs(snaps) do
  for _, dmp in ipairs(DAMPINGS) do
    local rr = r_mlp(mlp_predict(sn.theta, sn.H, dmp))
    if dmp < -sn.lam_min then worst_below = math.min(worst_below, rr)
    else worst_above = math.min(worst_above, rr) end
  end
end
print(string.format('worst r over the Adam stops: damping below |λ_min| %+.3f, above %+.3f',
                    worst_below, worst_above))
check.answer('MLP at the minimum, undamped: Pearson r (target ≥ 0.9)', r_mlp(pred_star[0]), 1, 0.1)
check.answer('MLP at every Adam stop, damping 0.1: worst Pearson r (target ≥ 0.9)',
             worst_r[0.1], 1, 0.1)

-- %% Summary: what the course got right and wrong
-- - **S000-Q2.1a** (correct, notation slips): influence predicts leave-one-out retraining
--   (Pearson r printed above, target ≥ 0.9). The I_pert definition is garbled in the course;
--   the right one is $\nabla_\delta L(z_{test}, \hat\theta_{z_\delta,-z})|_{\delta=0}$, and a
--   moved point changes the test loss by $\frac1n \mathcal I_{pert}\cdot\delta$ (measured).
-- - **S000-Q2.1b**: the CG objective $t^\top H t - v^\top t$ is **wrong by a factor 2** — its
--   minimiser is $\frac12 H^{-1}v$ (measured ratio 0.5); use $\frac12 t^\top H t - v^\top t$.
--   In LiSSA, $t$ is the recursion depth, not a number of CG iterations; the scale condition
--   $\nabla^2 L \preceq I$ is sufficient, and below $\lambda_{\max}/2$ the series diverges.
-- - **S000-Q2.1c** (correct): the hinge's zero curvature makes its influence meaningless; the
--   smooth hinge with small t tracks retraining, and large t loses accuracy. Non-convex
--   models need damping λ once H is indefinite.
print(string.format([[
measured in this run:
  logistic regression, %d leave-one-out retrainings: Pearson r = %.4f (target ≥ 0.9)
  argmin of the course's CG objective / H⁻¹v = %.6f (the ½)
  LiSSA relative error %.3f (target ≤ 0.1); growth at scale 0.45 λ_max ×%.4f per step
  moved image: actual / predicted(I_pert·δ/n) = %.4f
  SVM: r through the hinge %+.3f, with SmoothHinge t = 0.001 %+.3f, t = 1 %+.3f
  MLP: r at the minimum %.3f; at the Adam stops, damping below |λ_min| worst %+.3f, above %+.3f
lesson time %.1f s]], N_LOO, r, ratio, lissa_err, growth, actual_pert / pred_pert, r_of_t[1],
  r_of_t[3], r_of_t[7], r_mlp(pred_star[0]), worst_below, worst_above, nb.clock() - T0))
