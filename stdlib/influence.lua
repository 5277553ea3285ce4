-- influence: influence functions (Koh & Liang 2017) for any model whose loss is a Lua function
-- of its parameters.  Parameters and every vector below are "vectors": one tensor (any shape)
-- or a list of tensors (an MLP's weights); H is the Hessian of the training objective at the
-- fitted parameters θ̂.  Hessian-vector products come from double backward (Pearlmutter), H⁻¹v
-- from a dense solve, conjugate gradients or LiSSA; the influences then need only gradients.
--   hvp, cg, lissa, power_iteration      H v, H⁻¹ v, extreme eigenvalues, from products only
--   influence_up_params / _up_loss / _pert_loss, loo   the influences and their ground truth
--   newton, linear_svm, smooth_hinge      fitting and retraining, the smooth hinge
local nb = require 'nabla'
local M = {}

local function fail(fname, fmt, ...)
  error('influence.' .. fname .. ': ' .. string.format(fmt, ...), 3)
end

---------------------------------------------------------------------------- vectors
-- A vector is a tensor or a list of tensors; these helpers work on both and never record.
local function is_list(v) return not nb.is_tensor(v) end

local function vmap2(a, b, f)
  if not is_list(a) then return f(a, b) end
  local out = {}
  for i = 1, #a do out[i] = f(a[i], b[i]) end
  return out
end

local function vmap(a, f)
  if not is_list(a) then return f(a) end
  local out = {}
  for i = 1, #a do out[i] = f(a[i]) end
  return out
end

function M.vdot(a, b)
  if not is_list(a) then return a:reshape(-1):dot(b:reshape(-1)):item() end
  local s = 0
  for i = 1, #a do s = s + a[i]:reshape(-1):dot(b[i]:reshape(-1)):item() end
  return s
end
local vdot = M.vdot

function M.vnorm(a) return math.sqrt(vdot(a, a)) end
local vnorm = M.vnorm

-- a + s b (a new vector)
function M.vadd(a, b, s)
  s = s or 1
  return vmap2(a, b, function(x, y) return x + y * s end)
end
local vadd = M.vadd

function M.vscale(a, s) return vmap(a, function(x) return x * s end) end
local vscale = M.vscale

local function vdetach(a) return vmap(a, function(x) return x:detach() end) end
local function vclone(a) return vmap(a, function(x) return x:detach():clone() end) end

-- One flat 1-D tensor from a vector, and back into the shapes of `like`.
function M.flatten(v)
  if not is_list(v) then return v:reshape(-1) end
  local parts = {}
  for i = 1, #v do parts[i] = v[i]:reshape(-1) end
  return nb.cat(parts, 1)
end

function M.unflatten(flat, like)
  if not is_list(like) then return flat:reshape(like.shape) end
  local out, pos = {}, 1
  for i = 1, #like do
    local n = like[i]:numel()
    out[i] = flat:narrow(1, pos, n):reshape(like[i].shape)
    pos = pos + n
  end
  return out
end

-- Fresh leaves that require grad, with the values of params.
local function leaves(params)
  return vmap(params, function(x) return x:detach():requires_grad_() end)
end

local function as_list(v) if is_list(v) then return v end return {v} end

local function from_list(list, like)
  if is_list(like) then return list end
  return list[1]
end

-- The gradient list of y with respect to the leaves, zeros for unused ones.
local function grad_of(y, xs, opts)
  local list = as_list(xs)
  opts = opts or {}
  opts.allow_unused = true
  local g = nb.grad(y, list, opts)
  for i = 1, #list do if g[i] == nil then g[i] = nb.zeros_like(list[i]) end end
  return g
end

---------------------------------------------------------------------------- derivatives
function M.grad(f, params)
  local x = leaves(params)
  local y = nb.enable_grad(f, x)
  local g = grad_of(y, x)
  return from_list(vdetach(g), params), y:item()
end

-- H v = d/dθ (∇f(θ) · v): one backward with create_graph, one more through the gradient.
function M.hvp(f, params, v)
  local x = leaves(params)
  return nb.enable_grad(function()
    local y = f(x)
    local g = grad_of(y, x, {create_graph = true})
    local vl = as_list(v)
    local gv
    for i = 1, #g do
      local term = (g[i] * vl[i]:detach()):sum()
      gv = gv and gv + term or term
    end
    if not gv.requires_grad then return from_list(vmap(as_list(params), nb.zeros_like), params) end
    return from_list(vdetach(grad_of(gv, x)), params)
  end)
end

-- J v for a vector-valued f(params) (e.g. the per-point losses, [n]): the directional derivative
-- of every output along v, by the double-vjp trick (g(u) = Jᵀu is linear in u, ∂(g(u)·v)/∂u = J v).
-- With v = s_test this gives ∇L(z_i)ᵀ H⁻¹∇L(z_test) for all training points at once.
function M.jvp(f, params, v)
  local x = leaves(params)
  return nb.enable_grad(function()
    local y = f(x)
    local u = nb.zeros_like(y):requires_grad_()
    local g = grad_of(y, x, {grad_outputs = u, create_graph = true})
    local vl = as_list(v)
    local gv
    for i = 1, #g do
      local term = (g[i] * vl[i]:detach()):sum()
      gv = gv and gv + term or term
    end
    if not gv.requires_grad then return nb.zeros_like(y) end
    local jv = nb.grad(gv, {u}, {allow_unused = true})[1]
    return jv and jv:detach() or nb.zeros_like(y)
  end)
end

---------------------------------------------------------------------------- linear solvers
-- A as a function v -> A v: a matrix (flat vectors) or a function already.
local function operator(A, fname)
  if type(A) == 'function' then return A end
  if nb.is_tensor(A) and A:dim() == 2 then
    return function(v) return A:matmul(v:reshape(-1)):reshape(v.shape) end
  end
  fail(fname, 'A must be a function v -> A v or a square matrix, got %s', type(A))
end

-- Conjugate gradients for A x = b with A symmetric positive definite: it minimises
-- ½ xᵀAx − bᵀx (the ½ matters: without it the minimiser is ½A⁻¹b).  Stops when
-- ‖r‖ ≤ tol·‖b‖, after maxiter steps, or when it meets a direction of non-positive curvature
-- (A is not positive definite there: info.negative_curvature).
function M.cg(A, b, opts)
  opts = opts or {}
  local Av = operator(A, 'cg')
  local damping = opts.damping or 0
  local apply = damping == 0 and Av or function(v) return vadd(Av(v), v, damping) end
  local tol = opts.tol or 1e-10
  local nb_norm = vnorm(b)
  local maxiter = opts.maxiter or 10 * #M.flatten(b)
  local x = opts.x0 and vclone(opts.x0) or vmap(b, function(t) return nb.zeros_like(t) end)
  local r = opts.x0 and vadd(b, apply(x), -1) or vclone(b)
  local p = vclone(r)
  local rr = vdot(r, r)
  local info = {residuals = {math.sqrt(rr) / math.max(nb_norm, 1e-300)}, iters = 0,
                converged = false, negative_curvature = false}
  if nb_norm == 0 then info.converged = true; return x, info end
  for k = 1, maxiter do
    if math.sqrt(rr) <= tol * nb_norm then info.converged = true; break end
    local Ap = apply(p)
    local pAp = vdot(p, Ap)
    if not (pAp > 0) then
      info.negative_curvature = true
      info.curvature = pAp / vdot(p, p)
      break
    end
    local alpha = rr / pAp
    x = vadd(x, p, alpha)
    r = vadd(r, Ap, -alpha)
    local rr_new = vdot(r, r)
    p = vadd(r, p, rr_new / rr)
    rr = rr_new
    info.iters = k
    info.residuals[k + 1] = math.sqrt(rr) / nb_norm
  end
  if math.sqrt(rr) <= tol * nb_norm then info.converged = true end
  return x, info
end

-- LiSSA (Agarwal et al. 2017, as used by Koh & Liang): the truncated Neumann series
--   h_0 = v,  h_j = v + h_{j-1} − (H_j h_{j-1} + damping·h_{j-1}) / scale,   result h_t / scale,
-- averaged over `repeats` runs; H_j is a stochastic Hessian (hvp(u, j, rep) = H_j u).  Its
-- fixed point is (H + damping·I)⁻¹ v.  It converges when every eigenvalue of
-- (H_j + damping)/scale lies in (0, 2) — the course's condition ∇²L ≼ I after dividing the
-- loss by `scale` is the safe version — and diverges geometrically otherwise.
function M.lissa(hvp, v, opts)
  opts = opts or {}
  local scale = opts.scale or fail('lissa', 'opts.scale is required (an upper bound on the '
                                   .. 'per-sample Hessian eigenvalues)')
  local damping, depth, repeats = opts.damping or 0, opts.depth or 1000, opts.repeats or 1
  local every = opts.record_every or 1
  local total
  local info = {norms = {}, diverged = false}
  for rep = 1, repeats do
    local h = vclone(v)
    for j = 1, depth do
      local Hh = hvp(h, j, rep)
      h = vadd(vadd(v, h), vadd(Hh, h, damping), -1 / scale)
      if rep == 1 and (j % every == 0 or j == 1) then
        info.norms[#info.norms + 1] = {j, vnorm(h) / scale}
      end
      local nrm = vnorm(h)
      if not (nrm < 1e150) then
        info.diverged = true
        info.depth_reached = j
        return vscale(h, 1 / scale), info
      end
    end
    h = vscale(h, 1 / scale)
    total = total and vadd(total, h) or h
  end
  return vscale(total, 1 / repeats), info
end

-- The eigenvalue of largest magnitude of a symmetric operator, by power iteration.
-- shift = c runs it on A − cI and adds c back (shift = λ_max finds λ_min).
function M.power_iteration(A, like, opts)
  opts = opts or {}
  local Av = operator(A, 'power_iteration')
  local shift = opts.shift or 0
  local v = vmap(like, function(t) return nb.randn(t.shape, {dtype = t.dtype}) end)
  v = vscale(v, 1 / vnorm(v))
  local lam, prev = 0, nil
  for k = 1, opts.iters or 200 do
    local w = Av(v)
    if shift ~= 0 then w = vadd(w, v, -shift) end
    lam = vdot(v, w)
    local nrm = vnorm(w)
    if nrm == 0 then break end
    v = vscale(w, 1 / nrm)
    if prev and math.abs(lam - prev) <= (opts.tol or 1e-10) * math.abs(lam) then break end
    prev = lam
  end
  return lam + shift, v
end

---------------------------------------------------------------------------- influences
-- ihvp: a Hessian matrix H (flat parameters; solved with nb.linalg.solve) or a function
-- v -> H⁻¹ v (e.g. built from cg or lissa).
local function inverse(ihvp, fname)
  if type(ihvp) == 'function' then return ihvp end
  if nb.is_tensor(ihvp) and ihvp:dim() == 2 then
    return function(v)
      if v:dim() == 2 then return nb.linalg.solve(ihvp, v) end
      return nb.linalg.solve(ihvp, v:reshape(-1, 1)):reshape(v.shape)
    end
  end
  fail(fname, 'ihvp must be the Hessian (a matrix) or a function v -> H⁻¹ v, got %s', type(ihvp))
end

-- −H⁻¹ ∇L(z, θ̂): the change in θ̂ per unit up-weighting of z.  grad_z is one vector or, for
-- flat parameters, a matrix [n, p] of gradients (one row per point: the result is [n, p]).
function M.influence_up_params(ihvp, grad_z)
  local inv = inverse(ihvp, 'influence_up_params')
  if nb.is_tensor(grad_z) and grad_z:dim() == 2 and type(ihvp) ~= 'function' then
    return -inv(grad_z:t()):t()
  end
  return vscale(inv(grad_z), -1)
end

-- −∇L(z_test)ᵀ H⁻¹ ∇L(z): the change in the test loss per unit up-weighting of z.  s_test =
-- H⁻¹∇L(z_test) is solved once; grad_z is one vector (a number is returned) or a matrix
-- [n, p] of per-point gradients (an [n] tensor).  Removing z is ε = −1/n, so the predicted
-- leave-one-out change is −influence/n.  Returns the influence(s) and s_test.
function M.influence_up_loss(ihvp, grad_test, grad_z, opts)
  opts = opts or {}
  local s_test = opts.s_test or inverse(ihvp, 'influence_up_loss')(grad_test)
  if nb.is_tensor(grad_z) and grad_z:dim() == 2 and not is_list(s_test)
     and grad_z:size(2) == s_test:numel() then
    return -grad_z:matmul(s_test:reshape(-1)), s_test
  end
  return -vdot(s_test, grad_z), s_test
end

-- −∇L(z_test)ᵀ H⁻¹ ∇_x∇_θ L(z, θ̂) = −∇_x (s_test · ∇_θ L(x, θ̂)): how the test loss moves per
-- unit change of the training input x (per unit ε; moving x by δ with weight 1/n changes the
-- test loss by I_pert · δ / n).  point_loss(params, x) is the training loss at input x; when it
-- sums the losses of a batch x [n, ...], every point's map comes out of one double backward.
-- Returns a tensor shaped like x, and s_test.
function M.influence_pert_loss(ihvp, grad_test, point_loss, params, x, opts)
  opts = opts or {}
  local s_test = opts.s_test or inverse(ihvp, 'influence_pert_loss')(grad_test)
  local th = leaves(params)
  local xl = x:detach():requires_grad_()
  local out = nb.enable_grad(function()
    local y = point_loss(th, xl)
    local g = grad_of(y, th, {create_graph = true})
    local sl = as_list(s_test)
    local gs
    for i = 1, #g do
      local term = (g[i] * sl[i]:detach():reshape(g[i].shape)):sum()
      gs = gs and gs + term or term
    end
    if not gs.requires_grad then return nb.zeros_like(x) end
    local gx = nb.grad(gs, {xl}, {allow_unused = true})[1]
    return gx and gx:detach() or nb.zeros_like(x)
  end)
  return -out, s_test
end

-- Leave-one-out ground truth: for each index i of idx (a table or 1-D tensor),
-- retrain(i) returns the parameters fitted without point i (and optionally an info table);
-- the result is test_loss(θ̂_{−i}) − base (an f64 tensor), with base = opts.base or
-- test_loss(opts.params).  info: seconds, max_grad_norm (from the retrain infos' grad_norm).
function M.loo(retrain, test_loss, idx, opts)
  opts = opts or {}
  if nb.is_tensor(idx) then idx = idx:reshape(-1):totable() end
  local base = opts.base or (opts.params and test_loss(opts.params))
  if base == nil then fail('loo', 'give opts.base (the test loss at θ̂) or opts.params (θ̂)') end
  local t0 = nb.clock()
  local out, worst = {}, 0
  for k, i in ipairs(idx) do
    local th, info = retrain(i)
    out[k] = test_loss(th) - base
    if info and info.grad_norm then worst = math.max(worst, info.grad_norm) end
    if opts.progress then opts.progress(k, #idx) end
  end
  return nb.tensor(out, {dtype = 'f64'}), {seconds = nb.clock() - t0, max_grad_norm = worst,
                                           base = base}
end

---------------------------------------------------------------------------- fitting
-- Newton's method with a backtracking (Armijo) line search for a smooth f(θ), θ a vector.
-- opts.hessian(θ) returns the Hessian matrix (flat θ; solved with nb.linalg.solve); without
-- it each step solves (H + μI) d = −∇f by conjugate gradients on Hessian-vector products
-- (Newton-CG).  μ starts at opts.damping (0); while H + μI is not positive definite (no
-- Cholesky factor, or CG meets negative curvature) μ grows ×4, so that every step heads
-- downhill towards a minimum rather than a saddle.  opts.adaptive (Levenberg–Marquardt style): μ/4
-- after a full step, ×4 after a shortened one.  Stops when ‖∇f‖ ≤ tol.
-- Returns θ and {grad_norms, values, dampings, iters, grad_norm}.
function M.newton(f, theta, opts)
  opts = opts or {}
  local tol, maxiter = opts.tol or 1e-10, opts.maxiter or 50
  local mu = opts.damping or 0
  theta = vclone(theta)
  local info = {grad_norms = {}, values = {}, dampings = {}, iters = 0}
  for k = 0, maxiter do
    local g, fval = M.grad(f, theta)
    local gn = vnorm(g)
    info.grad_norms[k + 1], info.values[k + 1], info.grad_norm = gn, fval, gn
    if opts.verbose then
      print(string.format('newton %2d  f = %.12g  |grad| = %.3e  damping = %.3g', k, fval, gn, mu))
    end
    if gn <= tol or k == maxiter then break end
    -- detached: a Hessian from nb.func.hessian stays differentiable, and θ must stay a plain
    -- tensor (otherwise every step would extend one ever-growing graph)
    local H = opts.hessian and opts.hessian(theta):detach()
    local d, slope
    for _ = 1, 60 do
      local definite = true
      if H then
        local A = mu ~= 0 and H + nb.eye(H:size(1), {dtype = H.dtype}) * mu or H
        -- a Cholesky factorisation exists iff H + μI is positive definite
        definite = pcall(nb.linalg.cholesky, A)
        if definite then
          d = -nb.linalg.solve(A, g:reshape(-1, 1)):reshape(g.shape)
        end
      else
        local sol, ci = M.cg(function(v) return M.hvp(f, theta, v) end, g,
                             {damping = mu, tol = opts.cg_tol or math.min(0.1, math.sqrt(gn)),
                              maxiter = opts.cg_maxiter or 200})
        definite = not ci.negative_curvature
        d = vscale(sol, -1)
      end
      if definite then
        slope = vdot(g, d)
        if slope < 0 then break end
      end
      mu = math.max(4 * mu, 1e-6)   -- H + μI is not positive definite: damp more
    end
    if not (slope < 0) then d, slope = vscale(g, -1), -gn * gn end
    info.dampings[k + 1] = mu
    local step = 1
    -- a decrease below the rounding level of f cannot be measured: take the full step
    local measurable = -slope > 1e-13 * (1 + math.abs(fval))
    for _ = 1, measurable and 40 or 0 do
      local trial = vadd(theta, d, step)
      local ft = nb.no_grad(f, trial)
      ft = nb.is_tensor(ft) and ft:item() or ft
      if ft <= fval + 1e-4 * step * slope then break end
      step = step / 2
    end
    if opts.adaptive then
      if step == 1 then mu = mu / 4 else mu = math.max(4 * mu, 1e-6) end
      if mu < 1e-12 then mu = 0 end
    end
    theta = vdetach(vadd(theta, d, step))
    info.iters = k + 1
  end
  return theta, info
end

-- Dual coordinate descent epochs for min ½αᵀQα − Σα, 0 ≤ α ≤ C, Q = Z Zᵀ (rows z_i = y_i x_i):
-- one dot and one axpy on a row of Z per update (Hsieh et al. 2008).
local function svm_dcd(Z, alpha, C, epochs)
  local m = Z:size(1)
  local a = alpha:totable()
  local w = Z:t():matmul(alpha)
  local qii = (Z * Z):sum(2):totable()
  for _ = 1, epochs do
    for _, i in ipairs(nb.randperm(m):totable()) do
      local zi = Z[i]
      local G = w:dot(zi):item() - 1
      local na = math.min(math.max(a[i] - G / qii[i], 0), C)
      if na ~= a[i] then
        w:add_(zi * (na - a[i]))
        a[i] = na
      end
    end
  end
  return nb.tensor(a, {dtype = Z.dtype})
end

-- A linear SVM, min_w λ/2‖w‖² + (1/m) Σ_i max(0, 1 − y_i wᵀx_i) over the m points not excluded.
-- The dual, min ½αᵀQα − Σα with 0 ≤ α ≤ C = 1/(λm), Q_ij = y_i y_j x_iᵀx_j and w = Σ α_i y_i x_i,
-- is solved by a few epochs of dual coordinate descent (Hsieh et al. 2008) to find the active
-- sets, then exactly by a primal-dual active-set iteration: α = 0 or C on the bounded sets,
-- Q_FF α_F = 1 − C Q_F,U 1 on the free set (the points on the margin), repeated until the sets
-- stop changing.  X [n, p] (add a column of ones for a bias), y [n] in {−1, +1}.  opts: exclude
-- (indices left out: leave-one-out), alpha0 (a warm start, an [n] tensor from info.alpha),
-- epochs (coordinate-descent epochs before the exact step, default 50, 2 with alpha0).
-- Returns w and {alpha ([n], 0 on excluded points), kkt (largest KKT violation), gap, rounds}.
function M.linear_svm(X, y, lambda, opts)
  opts = opts or {}
  local n = X:size(1)
  local keep = nb.ones(n, {dtype = 'i64'})
  for _, i in ipairs(opts.exclude or {}) do keep[i] = 0 end
  local kidx = keep:nonzero():reshape(-1)
  local m = kidx:numel()
  local C = 1 / (lambda * m)
  local Z = X:index_select(1, kidx) * y:to(X.dtype):index_select(1, kidx):view(-1, 1)
  local alpha = opts.alpha0 and opts.alpha0:index_select(1, kidx):clamp(0, C)
                or nb.zeros(m, {dtype = X.dtype})
  alpha = svm_dcd(Z, alpha, C, opts.epochs or (opts.alpha0 and 2 or 50))
  local qinv = 1 / (Z * Z):sum(2)
  local rounds, prev = 0, nil
  for round = 1, opts.max_rounds or 100 do
    rounds = round
    local g = Z:matmul(Z:t():matmul(alpha)) - 1
    local r = alpha - g * qinv
    local up, lo = r:ge(C), r:le(0)
    local free = (1 - up - lo):nonzero():reshape(-1)
    if prev and nb.equal(up, prev[1]) and nb.equal(lo, prev[2]) then break end
    prev = {up, lo}
    local a_new = up:to(X.dtype) * C
    if free:numel() > 0 then
      local ZF = Z:index_select(1, free)
      local rhs = 1 - ZF:matmul(Z:t():matmul(a_new))
      local Q = ZF:matmul(ZF:t())
      -- Q_FF is singular when more points sit on the margin than w has coordinates; the
      -- system is consistent then and any solution gives the same w
      local ok, aF = pcall(nb.linalg.solve, Q, rhs:view(-1, 1))
      if not ok then aF = nb.linalg.lstsq(Q, rhs:view(-1, 1)) end
      aF = aF:view(-1)
      a_new = nb.index_add(a_new, 1, free, aF)
    end
    alpha = a_new
  end
  local w = Z:t():matmul(alpha)
  -- KKT: g_i ≥ 0 where α_i = 0, g_i ≤ 0 where α_i = C, g_i = 0 in between, 0 ≤ α ≤ C
  local g = Z:matmul(w) - 1
  local at0, atC = alpha:le(0):to(X.dtype), alpha:ge(C):to(X.dtype)
  local viol = ((-g):relu() * at0 + g:relu() * atC + g:abs() * (1 - at0) * (1 - atC)):max():item()
  viol = math.max(viol, (-alpha):relu():max():item(), (alpha - C):relu():max():item())
  local primal = 0.5 * lambda * (w * w):sum():item() + (-g):relu():sum():item() / m
  local dual = lambda * (alpha:sum():item() - 0.5 * (w * w):sum():item())
  local full = nb.index_add(nb.zeros(n, {dtype = X.dtype}), 1, kidx, alpha)
  return w, {alpha = full, kkt = viol, gap = primal - dual, primal = primal, C = C,
             rounds = rounds}
end

-- SmoothHinge(s, t) = t·log(1 + exp((1 − s)/t)), written as t·softplus((1 − s)/t) so that it
-- stays finite for small t; t = 0 is the hinge max(0, 1 − s).  |SmoothHinge − Hinge| ≤ t·ln 2.
function M.smooth_hinge(s, t)
  if t == 0 then return (1 - s):relu() end
  return nb.softplus((1 - s) / t) * t
end

local docs = {
  vdot = 'influence.vdot(a, b) — dot product of two vectors (tensors or lists of tensors)',
  vnorm = 'influence.vnorm(a) — Euclidean norm of a vector (tensor or list of tensors)',
  vadd = 'influence.vadd(a, b, s=1) — a + s·b for vectors (tensors or lists of tensors)',
  vscale = 'influence.vscale(a, s) — s·a for a vector (tensor or list of tensors)',
  flatten = 'influence.flatten(v) — one 1-D tensor from a tensor or a list of tensors',
  unflatten = 'influence.unflatten(flat, like) — split a 1-D tensor into the shapes of like',
  grad = 'influence.grad(f, params) — ∇f(params) (same structure, detached) and f as a number',
  hvp = 'influence.hvp(f, params, v) — Hessian-vector product H v of a scalar f(params) by '
    .. 'double backward; params and v are tensors or lists of tensors',
  jvp = 'influence.jvp(f, params, v) — J v for a vector-valued f(params) (e.g. per-point losses '
    .. 'along s_test) by the double-vjp trick',
  cg = 'influence.cg(A, b, {tol=1e-10, maxiter=, damping=0, x0=}) — conjugate gradients for '
    .. '(A + damping I) x = b (A a function v -> A v or a matrix); returns x, {iters, residuals, '
    .. 'converged, negative_curvature}',
  lissa = 'influence.lissa(hvp, v, {scale=, damping=0, depth=1000, repeats=1}) — LiSSA '
    .. 'estimate of (H + damping I)⁻¹ v from stochastic products hvp(u, j, rep) = H_j u; '
    .. 'returns the estimate and {norms, diverged}',
  power_iteration = 'influence.power_iteration(A, like, {iters=200, shift=0}) — the extreme '
    .. 'eigenvalue (and its vector) of a symmetric operator; shift=λ_max gives λ_min',
  influence_up_params = 'influence.influence_up_params(ihvp, grad_z) — −H⁻¹∇L(z,θ̂); ihvp is H '
    .. '(a matrix) or a function v -> H⁻¹v; grad_z a vector or an [n,p] matrix of gradients',
  influence_up_loss = 'influence.influence_up_loss(ihvp, grad_test, grad_z, {s_test=}) — '
    .. '−∇L(z_test)ᵀH⁻¹∇L(z) for one gradient (a number) or an [n,p] matrix (an [n] tensor); '
    .. 'also returns s_test. Leave-one-out change ≈ −influence/n',
  influence_pert_loss = 'influence.influence_pert_loss(ihvp, grad_test, point_loss, params, x, '
    .. '{s_test=}) — −∇_x(s_test·∇_θ L(x,θ̂)), shaped like x; point_loss(params, x) may sum a '
    .. 'batch to get every point\'s map at once',
  loo = 'influence.loo(retrain, test_loss, idx, {base= or params=}) — actual leave-one-out '
    .. 'changes test_loss(retrain(i)) − base for i in idx (an f64 tensor) and {seconds, '
    .. 'max_grad_norm}',
  newton = 'influence.newton(f, theta, {hessian=, damping=0, adaptive=, tol=1e-10, '
    .. 'maxiter=50, verbose=}) — (damped) Newton with backtracking; Newton-CG on Hessian-vector '
    .. 'products when no hessian function is given; returns θ, {grad_norms, values, iters, '
    .. 'grad_norm}',
  linear_svm = 'influence.linear_svm(X, y, lambda, {exclude=, alpha0=, epochs=}) — linear '
    .. 'SVM λ/2‖w‖² + mean hinge, solved exactly (coordinate descent, then an active-set '
    .. 'solve); returns w, {alpha, kkt, gap, rounds}',
  smooth_hinge = 'influence.smooth_hinge(s, t) — t·log(1 + exp((1 − s)/t)); t = 0 gives the '
    .. 'hinge max(0, 1 − s)',
}
for k, v in pairs(docs) do nb.doc(M[k], v) end

return M
