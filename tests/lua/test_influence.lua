-- influence: Hessian-vector products, CG, LiSSA, power iteration, the influence formulas, leave-
-- one-out, Newton, the exact linear SVM and the smooth hinge.  Expected values come from closed
-- forms (quadratics, linear/ridge regression) and dense linear algebra, never from the same
-- code path.
local H = require 'harness'
local nb = require 'nabla'
local inf = require 'influence'

local function f64(t) return nb.tensor(t, {dtype = 'f64'}) end
local function maxdiff(a, b) return (a - b):abs():max():item() end

nb.manual_seed(11)
-- a random SPD matrix A = B Bᵀ + I (6×6) and a vector
local B = nb.randn(6, 6, {dtype = 'f64'})
local A = B:matmul(B:t()) + nb.eye(6, {dtype = 'f64'})
local b = nb.randn(6, {dtype = 'f64'})
local exact = nb.linalg.solve(A, b:view(-1, 1)):view(-1)

---------------------------------------------------------------------------- vectors
local l1 = {f64{1, 2}, f64{{3}, {4}}}
local l2 = {f64{1, 1}, f64{{1}, {-1}}}
H.close(inf.vdot(l1, l2), 1 + 2 + 3 - 4, 1e-15, 'vdot of lists')
H.close(inf.vnorm(l1), math.sqrt(30), 1e-15, 'vnorm of a list')
local s = inf.vadd(l1, l2, 2)
H.close(s[2], {{5}, {2}}, 1e-15, 'vadd of lists keeps shapes')
H.check(#inf.vscale(l1, 3) == 2, 'vscale of a list is a list')
local flat = inf.flatten(l1)
H.close(flat, {1, 2, 3, 4}, 0, 'flatten')
local back = inf.unflatten(flat, l1)
H.check(back[2]:size(1) == 2 and back[2]:size(2) == 1, 'unflatten restores shapes')

---------------------------------------------------------------------------- derivatives
-- f(θ) = ½θᵀAθ + bᵀθ: gradient Aθ + b, Hessian A
local function quad(th) return 0.5 * (th * A:matmul(th)):sum() + (b * th):sum() end
local th0 = nb.randn(6, {dtype = 'f64'})
local v = nb.randn(6, {dtype = 'f64'})
local g, fval = inf.grad(quad, th0)
H.close(g, A:matmul(th0) + b, 1e-12, 'grad of a quadratic')
H.check(type(fval) == 'number', 'grad also returns f as a number')
H.close(inf.hvp(quad, th0, v), A:matmul(v), 1e-12, 'hvp of a quadratic is A v')
H.check(not inf.hvp(quad, th0, v).requires_grad, 'hvp result is detached')

-- a list of parameters: f(u, w) = (u·w)² has ∇²: [[2wwᵀ, 2(uwᵀ + (u·w)I)], [2(wuᵀ + (u·w)I), 2uuᵀ]]
local u0, w0 = f64{1, 2}, f64{3, -1}
local du, dw = f64{0.5, -1}, f64{2, 1}
local function fl(p) return (p[1] * p[2]):sum() ^ 2 end
local hv = inf.hvp(fl, {u0, w0}, {du, dw})
-- w·du = 2.5, u·dw = 4, u·w = 1: H_uu du + H_uw dw = 2w(w·du) + 2w(u·dw) + 2(u·w)dw = 13w + 2dw,
-- H_wu du + H_ww dw = 2u(w·du) + 2(u·w)du + 2u(u·dw) = 13u + 2du
local exp_u = {13 * 3 + 2 * 2, 13 * -1 + 2 * 1}
local exp_w = {13 * 1 + 2 * 0.5, 13 * 2 + 2 * -1}
H.close(hv[1], exp_u, 1e-12, 'hvp on a list: u block')
H.close(hv[2], exp_w, 1e-12, 'hvp on a list: w block')

-- jvp of a vector-valued linear map θ -> Mθ is M v
local M = nb.randn(4, 6, {dtype = 'f64'})
H.close(inf.jvp(function(th) return M:matmul(th) end, th0, v), M:matmul(v), 1e-12, 'jvp = M v')
-- per-point squared losses (xᵢᵀθ − yᵢ)²/2: J v has rows (xᵢᵀθ − yᵢ) xᵢᵀv
local Xs, ys = nb.randn(5, 6, {dtype = 'f64'}), nb.randn(5, {dtype = 'f64'})
local jv = inf.jvp(function(th) return (Xs:matmul(th) - ys) ^ 2 * 0.5 end, th0, v)
H.close(jv, (Xs:matmul(th0) - ys) * Xs:matmul(v), 1e-12, 'jvp of per-point losses')

---------------------------------------------------------------------------- solvers
local x, info = inf.cg(A, b)
H.check(info.converged, 'cg converged')
H.check(info.iters <= 6 + 2, 'cg within ~n iterations (%d)', info.iters)
H.close(x, exact, 1e-9, 'cg (matrix) vs solve')
local xf = inf.cg(function(p) return A:matmul(p) end, b)
H.close(xf, exact, 1e-9, 'cg (function) vs solve')
local xd = inf.cg(A, b, {damping = 0.5})
H.close(xd, nb.linalg.solve(A + nb.eye(6, {dtype = 'f64'}) * 0.5, b:view(-1, 1)):view(-1), 1e-9,
        'cg with damping solves (A + dI) x = b')
-- lists: block-diagonal operator diag(2, 3) on ({a}, {b})
local xl = inf.cg(function(p) return {p[1] * 2, p[2] * 3} end, {f64{4}, f64{9}})
H.close(xl[1], {2}, 1e-12, 'cg on a list (block 1)')
H.close(xl[2], {3}, 1e-12, 'cg on a list (block 2)')
-- an indefinite matrix: CG notices the negative curvature
local Ind = f64{{1, 0}, {0, -1}}
local _, ii = inf.cg(Ind, f64{1, 1})
H.check(ii.negative_curvature and not ii.converged, 'cg reports negative curvature')
H.check(inf.cg(A, nb.zeros(6, {dtype = 'f64'})):abs():max():item() == 0, 'cg of b = 0 is 0')

-- LiSSA with the exact Hessian (deterministic): converges to (A + d I)⁻¹ b for scale > λ_max/2
local evals = nb.linalg.eigh(A)
local lmax, lmin = evals[6]:item(), evals[1]:item()
local depth = math.ceil(40 * 1.2 * lmax / lmin)
local est, li = inf.lissa(function(p) return A:matmul(p) end, b,
                          {scale = 1.2 * lmax, depth = depth})
H.check(not li.diverged, 'lissa does not diverge with scale 1.2 λ_max')
H.close(est, exact, 1e-8, 'lissa vs solve')
local estd = inf.lissa(function(p) return A:matmul(p) end, b, {scale = 1.2 * lmax, damping = 1,
                                                             depth = depth})
H.close(estd, nb.linalg.solve(A + nb.eye(6, {dtype = 'f64'}), b:view(-1, 1)):view(-1), 1e-8,
        'lissa with damping targets (A + dI)⁻¹ b')
local _, ld = inf.lissa(function(p) return A:matmul(p) end, b, {scale = 0.4 * lmax, depth = 5000})
H.check(ld.diverged, 'lissa diverges with scale 0.4 λ_max')
-- its growth rate is λ_max/scale − 1 = 1.5
local nr = ld.norms
H.close(nr[40][2] / nr[39][2], 1.5, 1e-6, 'lissa growth rate')
-- stochastic products: H_j = A + noise with mean zero; averaging over repeats
local ls = inf.lissa(function(p, j, rep) return A:matmul(p) end, b,
                     {scale = 1.2 * lmax, depth = depth, repeats = 3})
H.close(ls, exact, 1e-8, 'lissa repeats average')
H.checkerror('opts.scale is required', inf.lissa, function(p) return p end, b, {})
H.checkerror('influence.cg: A must be', inf.cg, 'nope', b)

-- power iteration: extreme eigenvalues of A
local top = inf.power_iteration(A, b, {iters = 2000, tol = 1e-14})
H.close(top, lmax, 1e-8, 'power iteration: λ_max')
local bottom = inf.power_iteration(A, b, {iters = 5000, tol = 1e-15, shift = lmax})
H.close(bottom, lmin, 1e-6, 'power iteration with shift: λ_min')

---------------------------------------------------------------------------- influences
-- ridge regression: L(z, θ) = ½(xᵀθ − y)² + λ/2‖θ‖², closed-form θ̂ and Hessian XᵀX/n + λI
nb.manual_seed(5)
local n, p, lam = 40, 3, 0.1
local X = nb.randn(n, p, {dtype = 'f64'})
local y = X:matmul(f64{1, -2, 0.5}) + nb.randn(n, {dtype = 'f64'}) * 0.3
local function fit(Xa, ya)
  local m = Xa:size(1)
  local Hm = Xa:t():matmul(Xa) / m + nb.eye(p, {dtype = 'f64'}) * lam
  return nb.linalg.solve(Hm, (Xa:t():matmul(ya) / m):view(-1, 1)):view(-1), Hm
end
local theta, Hr = fit(X, y)
local xt, yt = f64{0.3, 1.2, -0.7}, 2.0
local function test_loss(th) return 0.5 * (xt:dot(th):item() - yt) ^ 2 end
local g_test = xt * (xt:dot(theta):item() - yt)
local G = X * (X:matmul(theta) - y):view(-1, 1) + theta:view(1, -1) * lam
local I_params = inf.influence_up_params(Hr, G[3])
H.close(I_params, -nb.linalg.solve(Hr, G[3]:view(-1, 1)):view(-1), 1e-12, 'I_up,params (one)')
local I_all = inf.influence_up_params(Hr, G)
H.close(I_all[3], I_params, 1e-12, 'I_up,params for a gradient matrix, row 3')
local I_loss, s_test = inf.influence_up_loss(Hr, g_test, G)
H.check(I_loss:numel() == n, 'I_up,loss for all points is an [n] tensor')
H.close(I_loss[7]:item(), -g_test:dot(nb.linalg.solve(Hr, G[7]:view(-1, 1)):view(-1)):item(),
        1e-12, 'I_up,loss = −∇L_testᵀ H⁻¹ ∇L(z)')
local function ihvp(w) return nb.linalg.solve(Hr, w:view(-1, 1)):view(-1) end
local one = inf.influence_up_loss(ihvp, g_test, G[7])
H.close(one, I_loss[7]:item(), 1e-12, 'I_up,loss with a function ihvp, one point')
H.close(s_test, nb.linalg.solve(Hr, g_test:view(-1, 1)):view(-1), 1e-12, 's_test returned')

-- leave-one-out: retrain by the closed form; prediction −I/n tracks it closely
local actual, li2 = inf.loo(function(i)
  local keep = nb.ones(n, {dtype = 'i64'})
  keep[i] = 0
  local k = keep:nonzero():reshape(-1)
  return (fit(X:index_select(1, k), y:index_select(1, k)))
end, test_loss, {1, 2, 3, 4, 5, 6, 7, 8}, {params = theta})
local direct = {}
for i = 1, 8 do
  local keep = nb.ones(n, {dtype = 'i64'})
  keep[i] = 0
  local k = keep:nonzero():reshape(-1)
  direct[i] = test_loss((fit(X:index_select(1, k), y:index_select(1, k)))) - test_loss(theta)
end
H.close(actual, direct, 1e-12, 'loo = retrained test loss − base')
H.check(li2.seconds >= 0 and li2.base == test_loss(theta), 'loo info')
local pred = (-I_loss / n):narrow(1, 1, 8)
local metrics = require 'metrics'
H.check(metrics.pearson(pred, actual) > 0.99, 'ridge: influence tracks leave-one-out (r = %.4f)',
        metrics.pearson(pred, actual))
H.checkerror('give opts.base', inf.loo, function() return theta end, test_loss, {1})

-- I_pert for ridge: ∇_x∇_θ L = x θᵀ + (xᵀθ − y) I, so I_pert = −(s·x) θ − (xᵀθ − y) s
local function point_loss(th, xs)   -- the summed losses of inputs xs [m, p] with labels y[1..m]
  local r = xs:matmul(th) - y:narrow(1, 1, xs:size(1))
  return (r * r):sum() * 0.5
end
local Ip = inf.influence_pert_loss(Hr, g_test, point_loss, theta, X:narrow(1, 1, 5))
for i = 1, 5 do
  local xi = X[i]
  local r = xi:dot(theta):item() - y[i]:item()
  local expect = -(theta * s_test:dot(xi):item() + s_test * r)
  H.close(Ip[i], expect, 1e-12, 'I_pert, point ' .. i)
end
local Ip2 = inf.influence_pert_loss(nil, nil, point_loss, theta, X:narrow(1, 1, 5),
                                    {s_test = s_test})
H.close(Ip2, Ip, 1e-15, 'I_pert with a precomputed s_test')

---------------------------------------------------------------------------- Newton
-- logistic regression with L2: converges to a gradient at rounding level
local Xl = nb.randn(60, 4, {dtype = 'f64'})
local yl = (Xl:matmul(f64{1, -1, 2, 0}) + nb.randn(60, {dtype = 'f64'})):gt(0):to('f64')
local function logi(th)
  local z = Xl:matmul(th)
  return (nb.softplus(z) - yl * z):mean() + 0.005 * (th * th):sum()
end
local th_n, ni = inf.newton(logi, nb.zeros(4, {dtype = 'f64'}),
                            {hessian = function(th) return nb.func.hessian(logi, th) end})
H.check(ni.grad_norm < 1e-10, 'newton (exact Hessian): |grad| = %.2e', ni.grad_norm)
H.check(ni.iters <= 10, 'newton: few iterations (%d)', ni.iters)
H.check(not th_n.requires_grad, 'newton returns a plain tensor')
local th_cg, nc = inf.newton(logi, nb.zeros(4, {dtype = 'f64'}), {tol = 1e-9})
H.check(nc.grad_norm < 1e-9, 'newton-CG: |grad| = %.2e', nc.grad_norm)
H.close(th_cg, th_n, 1e-7, 'newton-CG and newton agree')
-- a non-convex function started near a saddle: f = (a² − 1)² + b², saddle at 0, minima a = ±1
local function nonconvex(th) return (th[1] ^ 2 - 1) ^ 2 + th[2] ^ 2 end
local th_nc, nn_info = inf.newton(nonconvex, f64{0.05, 0.3}, {hessian = function(th)
  return nb.func.hessian(nonconvex, th) end, damping = 0.1, adaptive = true})
H.close(th_nc, {1, 0}, 1e-8, 'damped newton leaves the saddle for the minimum')
H.check(nn_info.grad_norm < 1e-10, 'damped newton converged')
-- lists of parameters (Newton-CG): f(u, w) = ‖u − 1‖² + ‖w + 2‖²
local lp = inf.newton(function(q) return ((q[1] - 1) ^ 2):sum() + ((q[2] + 2) ^ 2):sum() end,
                      {nb.zeros(2, {dtype = 'f64'}), nb.zeros(3, {dtype = 'f64'})})
H.close(lp[1], {1, 1}, 1e-9, 'newton on a list (u)')
H.close(lp[2], {-2, -2, -2}, 1e-9, 'newton on a list (w)')

---------------------------------------------------------------------------- linear SVM
nb.manual_seed(9)
local ns = 80
local Xv = nb.cat({nb.randn(ns, 2, {dtype = 'f64'}), nb.ones(ns, 1, {dtype = 'f64'})}, 2)
local yv = (Xv:narrow(2, 1, 1):view(-1) + Xv:narrow(2, 2, 1):view(-1) * 0.5
            + nb.randn(ns, {dtype = 'f64'}) * 0.5):gt(0):to('f64') * 2 - 1
local lam_s = 0.05
local w, sv = inf.linear_svm(Xv, yv, lam_s)
H.check(sv.kkt < 1e-10, 'svm: KKT violation %.1e', sv.kkt)
H.check(math.abs(sv.gap) < 1e-10, 'svm: duality gap %.1e', sv.gap)
-- optimality measured on the primal: no random nearby point is better
local function primal(wt)
  return 0.5 * lam_s * (wt * wt):sum():item() + (1 - Xv:matmul(wt) * yv):relu():mean():item()
end
local better = 0
for _ = 1, 200 do
  local trial = w + nb.randn(3, {dtype = 'f64'}) * 1e-3
  if primal(trial) < primal(w) - 1e-14 then better = better + 1 end
end
H.check(better == 0, 'svm: no random perturbation lowers the primal (%d did)', better)
H.close(sv.primal, primal(w), 1e-12, 'svm: reported primal')
-- leaving out a point with α = 0 (outside the margin) changes nothing
local alpha = sv.alpha
local outside
for i = 1, ns do if alpha[i]:item() == 0 then outside = i break end end
-- the objective keeps λ and averages over n − 1 points: rescaling keeps w when α_i = 0?  No —
-- the hinge weight 1/(n−1) changes, so compare with the closed problem instead:
local w_out, so = inf.linear_svm(Xv, yv, lam_s, {exclude = {outside}, alpha0 = alpha})
local keep = nb.ones(ns, {dtype = 'i64'})
keep[outside] = 0
local k = keep:nonzero():reshape(-1)
local w_ref = inf.linear_svm(Xv:index_select(1, k), yv:index_select(1, k), lam_s)
H.close(w_out, w_ref, 1e-9, 'svm: exclude + warm start = fitting the smaller set')
H.check(so.alpha[outside]:item() == 0, 'svm: excluded point has α = 0')
-- leaving out a support vector (α > 0) moves w; warm start and a fresh fit agree
local sv_i
for i = 1, ns do if alpha[i]:item() > 0 then sv_i = i break end end
local w_sv, info_sv = inf.linear_svm(Xv, yv, lam_s, {exclude = {sv_i}, alpha0 = alpha})
keep = nb.ones(ns, {dtype = 'i64'})
keep[sv_i] = 0
k = keep:nonzero():reshape(-1)
H.close(w_sv, inf.linear_svm(Xv:index_select(1, k), yv:index_select(1, k), lam_s), 1e-9,
        'svm: leaving out a support vector, warm start = fresh fit')
H.check(info_sv.kkt < 1e-10 and maxdiff(w_sv, w) > 1e-6, 'svm: a support vector matters')
-- more points than dimensions on the margin: 1-D data with duplicated points
local Xd = f64{{1, 1}, {1, 1}, {1, 1}, {-1, 1}, {-1, 1}, {-1, 1}}
local yd = f64{1, 1, 1, -1, -1, -1}
local wd, id = inf.linear_svm(Xd, yd, 0.01)
H.check(id.kkt < 1e-10, 'svm with duplicated margin points: KKT %.1e', id.kkt)
H.close(wd, {1, 0}, 1e-9, 'svm with duplicated points: w = (1, 0)')

---------------------------------------------------------------------------- smooth hinge
local sg = nb.linspace(-3, 4, 701, {dtype = 'f64'})
H.close(inf.smooth_hinge(sg, 0), (1 - sg):relu(), 0, 'smooth_hinge t = 0 is the hinge')
for _, t in ipairs({1, 0.1, 0.001}) do
  H.close(maxdiff(inf.smooth_hinge(sg, t), (1 - sg):relu()), t * math.log(2), 1e-12,
          'max gap t ln 2 at t = ' .. t)
end
local big = inf.smooth_hinge(f64{-1000, 1000}, 1e-4)
H.check(big:abs():max():item() < math.huge, 'smooth_hinge finite for large |s| and small t')
H.close(big, {1001, 0}, 1e-9, 'smooth_hinge asymptotes')

---------------------------------------------------------------------------- docs
for _, name in ipairs({'hvp', 'jvp', 'cg', 'lissa', 'power_iteration', 'influence_up_params',
                       'influence_up_loss', 'influence_pert_loss', 'loo', 'newton', 'linear_svm',
                       'smooth_hinge', 'grad', 'flatten'}) do
  H.check(type(inf[name]) == 'function', name .. ' exists')
end

H.report()
