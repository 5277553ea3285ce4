-- centerloss: experiments around the center loss of Wen et al. (2016),
--   L_c = ½ Σ_i ||x_i − c_{y_i}||²  (features x [N, d], labels y [N] i64 1..C, centers c [C, d]).
-- The loss itself and the paper's center update are nn.CenterLoss (stdlib/nn/loss.lua); this module
-- holds what a lesson needs around them:
--   grad_x, grad_centers, linear_grads     hand-derived gradients (closed forms, no autograd)
--   loss_function                          an nb.Function whose backward is the hand-derived one
--   delta, seed_update, wen_update,        center update rules as pure functions over
--   grad_update, rate, jitter_theory       (features, labels, centers), and their closed-form
--                                          behaviour on a fixed feature distribution
--   stats, embed, nearest_center           intra-/inter-class distances of an embedding
--   moving_average                         smoothing a per-step series for a plot
--   drift, series_stats, step_by_count     training-stability measures
--   pedcc, min_distance                    predefined evenly-distributed class centroids
--   fit                                    one training loop for any embedding model
-- Not here: the loss module, the optimizers, plotting.
local nb = require 'nabla'
local M = {}

local function fail(fname, fmt, ...)
  error('centerloss.' .. fname .. ': ' .. string.format(fmt, ...), 3)
end

local function nn_() return package.loaded.nn or require 'nn' end

-- Checks x [N, d], y [N] integer labels, c [C, d]; returns N, d, C.
local function check_xyc(fname, x, y, c)
  if not nb.is_tensor(x) or x:dim() ~= 2 then fail(fname, 'features must be [N, d]') end
  if not nb.is_tensor(c) or c:dim() ~= 2 then fail(fname, 'centers must be [C, d]') end
  if not nb.is_tensor(y) or y.dtype ~= 'i64' then fail(fname, 'labels must be an i64 tensor') end
  local n, d, C = x.shape[1], x.shape[2], c.shape[1]
  if c.shape[2] ~= d then
    fail(fname, 'features have %d columns but centers have %d', d, c.shape[2])
  end
  if y:numel() ~= n then fail(fname, '%d labels for %d features', y:numel(), n) end
  if n > 0 then
    local lo, hi = y:min():item(), y:max():item()
    if lo < 1 or hi > C then fail(fname, 'labels must lie in 1..%d, got %d..%d', C, lo, hi) end
  end
  return n, d, C
end

-- Class counts n [C, 1] and class sums S [C, d] in dtype, by index_add (O(N d), any C).
local function class_sums(x, y, C, dtype)
  local yy = y:reshape(-1)
  local xd = x:detach():to(dtype)
  local n = nb.zeros({C, 1}, dtype):index_add(1, yy, nb.ones({xd.shape[1], 1}, dtype))
  local S = nb.zeros({C, xd.shape[2]}, dtype):index_add(1, yy, xd)
  return n, S
end

---------------------------------------------------------------------------- gradients

-- ∂L_c/∂x_i = x_i − c_{y_i}.
function M.grad_x(x, y, centers)
  check_xyc('grad_x', x, y, centers)
  return nb.no_grad(function()
    return x:detach() - centers:detach():to(x.dtype):index_select(1, y:reshape(-1))
  end)
end

-- ∂L_c/∂c_j = Σ_{i: y_i = j} (c_j − x_i) = n_j c_j − S_j: no denominator.
function M.grad_centers(x, y, centers)
  local _, _, C = check_xyc('grad_centers', x, y, centers)
  return nb.no_grad(function()
    local c = centers:detach()
    local n, S = class_sums(x, y, C, c.dtype)
    return c * n - S
  end)
end

-- For a linear layer x = z Wᵀ + b (nn.Linear's layout: z [N, k], W [d, k], b [d]) feeding the
-- center loss: ∂L_c/∂z = (x − c_y) W, ∂L_c/∂W = (x − c_y)ᵀ z, ∂L_c/∂b = Σ_i (x_i − c_{y_i}).
function M.linear_grads(z, W, b, y, centers)
  return nb.no_grad(function()
    local zd, Wd = z:detach(), W:detach()
    local x = zd:mm(Wd:t())
    if b then x = x + b:detach() end
    local g = M.grad_x(x, y, centers)
    return {x = x, z = g:mm(Wd), W = g:t():mm(zd), b = g:sum(1)}
  end)
end

local loss_fn
-- An nb.Function L_c(x, y, c) = ½ Σ ||x_i − c_{y_i}||² whose backward is the hand-derived
-- gradient (grad_x for x, grad_centers for c), so check.grad can test the derivation itself.
function M.loss_function()
  if loss_fn then return loss_fn end
  loss_fn = nb.Function{
    forward = function(ctx, x, y, c)
      ctx:save_for_backward(x, y, c)
      local diff = x - c:index_select(1, y:reshape(-1))
      return (diff * diff):sum() * 0.5
    end,
    backward = function(ctx, g)
      local x, y, c = table.unpack(ctx.saved_tensors)
      return M.grad_x(x, y, c) * g, nil, M.grad_centers(x, y, c) * g
    end,
  }
  return loss_fn
end

---------------------------------------------------------------------------- center updates

-- Δc_j = Σ_{i: y_i = j} (c_j − x_i) / (offset + n_j) for every class at once: offset = 1 is Wen
-- et al.'s, offset = ε the course's.  Absent classes get 0/offset = 0 (NaN when offset = 0).
function M.delta(x, y, centers, offset)
  local _, _, C = check_xyc('delta', x, y, centers)
  if type(offset) ~= 'number' or offset < 0 then fail('delta', 'offset must be a number >= 0') end
  return nb.no_grad(function()
    local c = centers:detach()
    local n, S = class_sums(x, y, C, c.dtype)
    return (c * n - S) / (n + offset)
  end)
end

-- The course's rule: c ← c − Δc with denominator ε + n_j and no step size.  With ε ≪ 1 a class
-- present in the batch jumps (almost) onto the batch mean of its samples.  Returns c', Δc.
function M.seed_update(x, y, centers, opts)
  opts = opts or {}
  local eps = opts.eps or 1e-8
  local d = M.delta(x, y, centers, eps)
  return centers:detach() - d, d
end

-- Wen et al.'s rule: c ← c − α Δc with denominator 1 + n_j.  Returns c', Δc (c is unchanged;
-- nn.CenterLoss:update_centers is the in-place version).
function M.wen_update(x, y, centers, opts)
  opts = opts or {}
  local alpha = opts.alpha or 0.5
  local d = M.delta(x, y, centers, 1)
  return centers:detach() - d * alpha, d
end

-- Plain gradient descent on the centers: c ← c − lr ∂L_c/∂c (the sum over the batch).
function M.grad_update(x, y, centers, opts)
  opts = opts or {}
  local lr = opts.lr or opts.alpha or 0.5
  local g = M.grad_centers(x, y, centers)
  return centers:detach() - g * lr, g
end

-- Each rule moves c_j towards the batch mean x̄_j by a fraction r: c' = c + r (x̄_j − c).
-- rate(rule, n_j, opts) is that r: 'seed' n/(ε + n), 'wen' α n/(1 + n), 'grad' lr·n.
function M.rate(rule, n, opts)
  opts = opts or {}
  if rule == 'seed' then return n / ((opts.eps or 1e-8) + n) end
  if rule == 'wen' then return (opts.alpha or 0.5) * n / (1 + n) end
  if rule == 'grad' then return (opts.lr or opts.alpha or 0.5) * n end
  fail('rate', "unknown rule '%s' (seed, wen, grad)", tostring(rule))
end

-- Closed-form behaviour of a rule on fixed features: the class's features are i.i.d. with mean
-- μ and covariance σ²I in d dimensions, each batch holds n of them.  Then
-- c_{t+1} − μ = (1 − r)(c_t − μ) + r (x̄_t − μ), a stable AR(1) iff 0 < r < 2, with stationary
-- E||c − μ||² = d σ²/n · r/(2 − r) and mean squared step
-- E||c_{t+1} − c_t||² = d σ²/n · 2r²/(2 − r).
function M.jitter_theory(rule, n, opts)
  opts = opts or {}
  local r = M.rate(rule, n, opts)
  local sigma2, d = opts.sigma2 or 1, opts.d or 1
  local stable = r > 0 and r < 2
  local base = d * sigma2 / n
  return {r = r, stable = stable,
          var = stable and base * r / (2 - r) or math.huge,
          step_sq = stable and base * 2 * r * r / (2 - r) or math.huge}
end

---------------------------------------------------------------------------- embedding statistics

-- Intra-/inter-class statistics of an embedding x [N, d] with labels y (classes 1..C; absent
-- classes are skipped).  μ_j are the class means of x (not the learned centers).
--   intra = √((1/N) Σ_i ||x_i − μ_{y_i}||²), the RMS distance to the own class mean
--   inter = mean over class pairs of ||μ_j − μ_k||;  min_inter = the closest pair
--   ratio = intra / inter (scale-free: shrinking the whole embedding does not change it)
--   scale = RMS norm of x, spread = RMS distance from the overall mean of x
function M.stats(x, y, C)
  if not nb.is_tensor(x) or x:dim() ~= 2 then fail('stats', 'features must be [N, d]') end
  if not nb.is_tensor(y) or y.dtype ~= 'i64' then fail('stats', 'labels must be an i64 tensor') end
  C = C or y:max():item()
  return nb.no_grad(function()
    local xd = x:detach():to('f64')
    local yy = y:reshape(-1)
    local n, S = class_sums(xd, yy, C, 'f64')
    local present = {}
    for j = 1, C do if n:get(j, 1) > 0 then present[#present + 1] = j end end
    local mu = S / n:clamp(1, math.huge)
    local resid = xd - mu:index_select(1, yy)
    local _, sq_c = class_sums((resid * resid):sum(2, true), yy, C, 'f64')
    local intra_c = sq_c / n:clamp(1, math.huge)
    local intra = math.sqrt((resid * resid):sum():item() / xd.shape[1])
    local k = #present
    local idx = nb.tensor(present, {dtype = 'i64'})
    local mp = mu:index_select(1, idx)
    local sq = (mp * mp):sum(2, true)
    local D = (sq + sq:t() - mp:mm(mp:t()) * 2):clamp(0, math.huge):sqrt()
    local inter, min_inter = 0, math.huge
    if k >= 2 then
      inter = D:sum():item() / (k * (k - 1))
      min_inter = (D + nb.eye(k, 'f64') * 1e300):min():item()
    end
    return {means = mu, counts = n:reshape(-1), intra = intra,
            intra_class = intra_c:reshape(-1):sqrt(), inter = inter, min_inter = min_inter,
            ratio = inter > 0 and intra / inter or math.huge, classes = k,
            scale = math.sqrt((xd * xd):sum():item() / xd.shape[1]),
            spread = math.sqrt(((xd - xd:mean(1, true)) ^ 2):sum():item() / xd.shape[1])}
  end)
end

-- Label of the nearest center for every row of x [N, d] (centers [C, d]); i64 [N].
function M.nearest_center(x, centers)
  return nb.no_grad(function()
    local xd, c = x:detach():to('f64'), centers:detach():to('f64')
    local d2 = (xd * xd):sum(2, true) + (c * c):sum(2):reshape(1, -1) - xd:mm(c:t()) * 2
    return d2:argmin(2):reshape(-1)
  end)
end

-- Embeddings of X [N, ...] under no_grad, in batches (the model's train/eval mode is unchanged).
function M.embed(model, X, opts)
  opts = opts or {}
  local batch = opts.batch or 500
  local parts = {}
  nb.no_grad(function()
    for i = 1, X.shape[1], batch do
      parts[#parts + 1] = model(X:narrow(1, i, math.min(batch, X.shape[1] - i + 1)))
    end
  end)
  return #parts == 1 and parts[1] or nb.cat(parts, 1)
end

---------------------------------------------------------------------------- stability

-- Movement of the centers over training: history is a list of [C, d] tensors (one per step).
--   steps[t] = mean over classes of ||c_{t+1} − c_t||; mean_step, max_step over steps (after
--   skipping the first `skip`); path = Σ steps (per class, averaged), net = mean over classes
--   of ||c_T − c_1||, wiggle = path / net (1 for a straight walk, large for an oscillation).
function M.drift(history, opts)
  opts = opts or {}
  if type(history) ~= 'table' or #history < 2 then fail('drift', 'need at least 2 snapshots') end
  local skip = opts.skip or 0
  local H = nb.stack(history, 1):to('f64')                     -- [T, C, d]
  local T = H.shape[1]
  local first, last = 1 + skip, T
  if first >= last then fail('drift', 'skip = %d leaves fewer than 2 snapshots', skip) end
  H = H:narrow(1, first, last - first + 1)
  local moves = (H:narrow(1, 2, H.shape[1] - 1) - H:narrow(1, 1, H.shape[1] - 1))
  local per = (moves * moves):sum(3):sqrt()                     -- [T', C]
  local steps = per:mean(2)
  local path = per:sum(1):mean():item()
  local net_v = H[H.shape[1]] - H[1]
  local net = (net_v * net_v):sum(2):sqrt():mean():item()
  return {steps = steps:totable(), per_class = per, mean_step = steps:mean():item(),
          max_step = per:max():item(), path = path, net = net,
          wiggle = net > 0 and path / net or math.huge}
end

-- Statistics of a series of numbers (a loss per step), after skipping the first `skip`:
-- mean, var (population), std, cv = std / |mean|, rough = RMS of successive differences.
function M.series_stats(values, opts)
  opts = opts or {}
  local skip = opts.skip or 0
  local v = {}
  for i = skip + 1, #values do v[#v + 1] = values[i] end
  if #v < 2 then fail('series_stats', 'need at least 2 values after skipping %d', skip) end
  local t = nb.tensor(v, {dtype = 'f64'})
  local mean = t:mean():item()
  local var = t:var():item()
  local dif = t:narrow(1, 2, #v - 1) - t:narrow(1, 1, #v - 1)
  return {n = #v, mean = mean, var = var, std = math.sqrt(var),
          cv = math.sqrt(var) / math.abs(mean), rough = math.sqrt((dif * dif):mean():item())}
end

-- How far a center moves in one step, grouped by how many samples of its class the batch held.
-- hist: a fit history (centers, counts).  Returns a list, one row per n seen (ascending):
-- {n =, mean_step = mean ||c_{t+1} − c_t||, rms_step =, count = number of (step, class) pairs}.
function M.step_by_count(hist, opts)
  opts = opts or {}
  local skip = opts.skip or 0
  if not (hist and hist.centers and hist.counts and #hist.counts > skip) then
    fail('step_by_count', 'need a fit history with centers and counts')
  end
  local T = #hist.counts
  local H = nb.stack(hist.centers, 1):to('f64')
  local mv = H:narrow(1, skip + 2, T - skip) - H:narrow(1, skip + 1, T - skip)
  local steps = (mv * mv):sum(3):sqrt():reshape(-1)
  local counts = nb.stack(hist.counts, 1):narrow(1, skip + 1, T - skip):reshape(-1)
  local sum, sq, cnt = {}, {}, {}
  local st, ct = steps:totable(), counts:totable()
  for i = 1, #st do
    local k = math.floor(ct[i] + 0.5)
    sum[k] = (sum[k] or 0) + st[i]
    sq[k] = (sq[k] or 0) + st[i] * st[i]
    cnt[k] = (cnt[k] or 0) + 1
  end
  local rows = {}
  for k in pairs(cnt) do
    rows[#rows + 1] = {n = k, mean_step = sum[k] / cnt[k], rms_step = math.sqrt(sq[k] / cnt[k]),
                       count = cnt[k]}
  end
  table.sort(rows, function(a, b) return a.n < b.n end)
  return rows
end

-- Moving average of a list of numbers over a trailing window of k (shorter at the start).
function M.moving_average(values, k)
  local out, sum = {}, 0
  for i, v in ipairs(values) do
    sum = sum + v
    if i > k then sum = sum - values[i - k] end
    out[i] = sum / math.min(i, k)
  end
  return out
end

---------------------------------------------------------------------------- PEDCC

-- Smallest distance between two rows of points [K, d].
function M.min_distance(points)
  local p = points:to('f64')
  local k = p.shape[1]
  local sq = (p * p):sum(2, true)
  local D = (sq + sq:t() - p:mm(p:t()) * 2):clamp(0, math.huge)
  return math.sqrt((D + nb.eye(k, 'f64') * 1e300):min():item())
end

-- Predefined evenly-distributed class centroids (the idea of PEDCC-Loss): C unit vectors in d
-- dimensions pushed apart by gradient descent on the energy Σ_{j<k} 1/||c_j − c_k|| and
-- projected back onto the sphere.  d = 2 gives a regular C-gon, C = d + 1 a regular simplex.
function M.pedcc(C, d, opts)
  opts = opts or {}
  if C < 2 or d < 1 then fail('pedcc', 'need C >= 2 classes and d >= 1 dimensions') end
  local iters, lr = opts.iters or 2000, opts.lr or 0.01
  return nb.no_grad(function()
    local p = nb.randn(C, d, {dtype = 'f64'})
    local function project(q) return q / (q * q):sum(2, true):sqrt() end
    p = project(p)
    local mask = 1 - nb.eye(C, 'f64')
    for _ = 1, iters do
      -- force on j from k: (c_j − c_k)/||c_j − c_k||³, summed over k ≠ j
      local diff = p:unsqueeze(2) - p:unsqueeze(1)              -- [C, C, d]
      local r2 = (diff * diff):sum(3) + (1 - mask)              -- diagonal set to 1
      local w = mask / (r2 * r2:sqrt())
      local force = (diff * w:unsqueeze(3)):sum(2)
      local step = lr / math.max(1, (force * force):sum(2):sqrt():max():item())
      p = project(p + force * step)
    end
    return p:to(opts.dtype or 'f32')
  end)
end

---------------------------------------------------------------------------- training

local function params_of(list)
  local ps = {}
  for _, m in ipairs(list) do
    if type(m) == 'table' and m.parameters then
      for _, p in ipairs(m:parameters()) do ps[#ps + 1] = p end
    end
  end
  return ps
end

-- Train an embedding model with softmax and/or center loss; returns a history table.
--   opts: embed (module or function x → [N, d]), head (module [N, d] → logits; needed when
--   ce), X [N, ...], Y [N] i64, epochs or steps, batch (64), lr (3e-3, Adam) or opt,
--   lambda (weight of the center loss, 0 = softmax only), ce (true: include cross-entropy),
--   centers (an nn.CenterLoss; created from num_classes and the embedding size when nil),
--   rule: 'wen' (m:update_centers, alpha), 'seed' (seed_update, eps), 'grad' (grad_update,
--   lr = alpha), 'fixed' (centers never move), record_centers (true), on_step(step, info).
--   The center term is nn.F.center_loss with reduction 'mean' (½ mean ||x − c_y||², so λ does
--   not depend on the batch size), at the centers before this step's update.
-- History: ce[t], center[t] (the center loss per sample, ½ mean ||x − c_y||²), centers[t] (a
-- [C, d] copy before step t, plus one after the last), counts[t] (samples per class in batch
-- t, [C]), steps, seconds, center_module.
function M.fit(opts)
  local nn = nn_()
  local X, Y = opts.X, opts.Y
  if not (nb.is_tensor(X) and nb.is_tensor(Y)) then fail('fit', 'X and Y tensors are required') end
  local embed, head = opts.embed, opts.head
  if not embed then fail('fit', 'embed (the model producing the embedding) is required') end
  local ce = opts.ce ~= false
  if ce and not head then fail('fit', 'head is required when ce is true') end
  local lambda = opts.lambda or 0
  local rule = opts.rule or 'wen'
  if rule ~= 'wen' and rule ~= 'seed' and rule ~= 'grad' and rule ~= 'fixed' then
    fail('fit', "unknown rule '%s' (wen, seed, grad, fixed)", tostring(rule))
  end
  local alpha, eps = opts.alpha or 0.5, opts.eps or 1e-8
  local N, B = X.shape[1], opts.batch or 64
  if B > N then fail('fit', 'batch %d is larger than the data set (%d)', B, N) end
  local per_epoch = N // B
  local steps = opts.steps or (opts.epochs or 1) * per_epoch
  local params = params_of({embed, ce and head or nil})
  local opt = opts.opt or (package.loaded.optim or require 'optim').Adam(params,
                                                                        {lr = opts.lr or 3e-3})
  local cl = opts.centers
  local hist = {ce = {}, center = {}, centers = {}, counts = {}, steps = steps}
  local record = opts.record_centers ~= false
  local perm, pos = nil, N + 1
  local t0 = nb.clock()
  for step = 1, steps do
    if pos + B - 1 > N then perm, pos = nb.randperm(N), 1 end
    local idx = perm:narrow(1, pos, B)
    pos = pos + B
    local x, y = X:index_select(1, idx), Y:index_select(1, idx)
    local e = embed(x)
    if not cl then
      cl = nn.CenterLoss(opts.num_classes or Y:max():item(), e.shape[2])
      hist.center_module = cl
    end
    local c = cl.centers
    if record then
      hist.centers[step] = c:detach():clone()
      hist.counts[step] = nb.zeros(c.shape[1]):index_add(1, y:reshape(-1), nb.ones(B))
    end
    local lc = nn.F.center_loss(e, y, c:detach(), {reduction = 'mean'})
    local loss = lc * lambda
    local lce
    if ce then
      lce = nn.F.cross_entropy(head(e), y)
      loss = loss + lce
      hist.ce[step] = lce:item()
    end
    hist.center[step] = lc:item()
    opt:zero_grad()
    if loss.requires_grad then loss:backward() end
    opt:step()
    if lambda > 0 or not ce then
      nb.no_grad(function()
        local ed = e:detach()
        if rule == 'wen' then
          cl:update_centers(ed, y, alpha)
        elseif rule == 'seed' then
          c:copy_(M.seed_update(ed, y, c, {eps = eps}))
        elseif rule == 'grad' then
          c:copy_(M.grad_update(ed, y, c, {lr = alpha}))
        end
      end)
    end
    if opts.on_step then opts.on_step(step, {loss = loss:item(), ce = hist.ce[step],
                                             center = hist.center[step]}) end
  end
  if record then hist.centers[steps + 1] = cl.centers:detach():clone() end
  hist.center_module = cl
  hist.seconds = nb.clock() - t0
  return hist
end

local docs = {
  grad_x = 'centerloss.grad_x(x, y, centers) — hand-derived ∂L_c/∂x_i = x_i − c_{y_i} [N, d]',
  grad_centers = 'centerloss.grad_centers(x, y, centers) — hand-derived ∂L_c/∂c_j = ' ..
                 'Σ_{i:y_i=j}(c_j − x_i) [C, d] (no denominator)',
  linear_grads = 'centerloss.linear_grads(z, W, b, y, centers) — hand-derived ∂L_c/∂z, ∂W, ∂b ' ..
                 'for x = z Wᵀ + b; returns {x=, z=, W=, b=}',
  loss_function = 'centerloss.loss_function() — nb.Function L_c(x, y, c) with the ' ..
                  'hand-derived backward (for check.grad)',
  delta = 'centerloss.delta(x, y, centers, offset) — Δc_j = Σ_{i:y_i=j}(c_j − x_i)/(offset + n_j)',
  seed_update = "centerloss.seed_update(x, y, centers, {eps=1e-8}) — the course's rule " ..
                'c − Δc with denominator ε + n_j, no step size; returns c′, Δc',
  wen_update = "centerloss.wen_update(x, y, centers, {alpha=0.5}) — Wen et al.'s rule " ..
               'c − αΔc with denominator 1 + n_j; returns c′, Δc',
  grad_update = 'centerloss.grad_update(x, y, centers, {lr=0.5}) — plain gradient step ' ..
                'c − lr ∂L_c/∂c; returns c′, gradient',
  rate = "centerloss.rate(rule, n, opts) — fraction r by which a rule ('seed', 'wen', 'grad') " ..
         'moves a center with n batch samples towards their mean',
  jitter_theory = 'centerloss.jitter_theory(rule, n, {alpha=, eps=, lr=, sigma2=1, d=1}) — ' ..
                  'closed-form stationary E||c − μ||² and E||Δc||² on fixed features',
  stats = 'centerloss.stats(x, y, C) — intra-class RMS distance, mean inter-class distance of ' ..
          'class means, their ratio, per-class figures',
  nearest_center = 'centerloss.nearest_center(x, centers) — i64 label of the nearest center ' ..
                   'for each row of x',
  moving_average = 'centerloss.moving_average(values, k) — trailing moving average of a list',
  embed = 'centerloss.embed(model, X, {batch=500}) — embeddings of X under no_grad, batched',
  drift = 'centerloss.drift(history, {skip=0}) — center movement per step, path, net ' ..
          'displacement and wiggle = path/net from a list of [C, d] snapshots',
  series_stats = 'centerloss.series_stats(values, {skip=0}) — mean, var, std, cv and RMS ' ..
                 'successive difference of a loss series',
  step_by_count = 'centerloss.step_by_count(hist, {skip=0}) — mean center step grouped by ' ..
                  'the number of samples of the class in the batch',
  min_distance = 'centerloss.min_distance(points) — smallest pairwise distance of rows [K, d]',
  pedcc = 'centerloss.pedcc(C, d, {iters=2000}) — C evenly distributed unit vectors in d ' ..
          'dimensions (PEDCC centroids)',
  fit = 'centerloss.fit{embed=, head=, X=, Y=, epochs=, lambda=, rule=wen|seed|grad|fixed, ' ..
        'alpha=, eps=, centers=} — train with softmax and/or center loss; returns the history',
}
if nb.doc then
  for k, v in pairs(docs) do nb.doc(M[k], v) end
end

return M
