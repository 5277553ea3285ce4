-- centerloss: hand-derived gradients, the three center update rules and their closed-form
-- jitter, embedding statistics, stability measures, PEDCC centroids, the training loop.
-- Expected numbers are worked by hand in the comments (no other tool needed).
local H = require 'harness'
local nb = require 'nabla'
local nn = require 'nn'
local check = require 'check'
local cl = require 'centerloss'

local function f64(t) return nb.tensor(t, {dtype = 'f64'}) end
local function i64(t) return nb.tensor(t, {dtype = 'i64'}) end

-- The lesson's six samples: residuals x − c_y = (0,1) (2,−1) (1,1) (−2,0) (1,−1) (−1,2).
local x = f64{{1, 2}, {3, 0}, {2, 2}, {-1, 1}, {0, -2}, {-2, 1}}
local y = i64{1, 1, 1, 1, 2, 2}
local c = f64{{1, 1}, {-1, -1}}

---------------------------------------------------------------------------- gradients
H.close(cl.grad_x(x, y, c), {{0, 1}, {2, -1}, {1, 1}, {-2, 0}, {1, -1}, {-1, 2}}, 0, 'grad_x')
-- Σ (c_j − x_i): class 1 −(0+2+1−2, 1−1+1+0) = (−1, −1); class 2 −(1−1, −1+2) = (0, −1)
H.close(cl.grad_centers(x, y, c), {{-1, -1}, {0, -1}}, 0, 'grad_centers')
local xg, cg = x:clone():requires_grad_(), c:clone():requires_grad_()
nn.F.center_loss(xg, y, cg):backward()
H.close(xg.grad, cl.grad_x(x, y, c), 1e-12, 'grad_x = autograd')
H.close(cg.grad, cl.grad_centers(x, y, c), 1e-12, 'grad_centers = autograd')

local L = cl.loss_function()
H.close(L(x, y, c):item(), 9.5, 1e-12, 'loss_function forward: ½ · 19')
local ok, rep = check.grad(function(a, b, cc) return L(a, b, cc) end, {x, y, c})
H.check(ok, 'loss_function backward vs finite differences: %s', rep.text)
H.check(cl.loss_function() == L, 'loss_function is built once')

nb.manual_seed(5)
local z = nb.randn(6, 3, {dtype = 'f64'})
local lin = nn.Linear(3, 2, {dtype = 'f64'})
local g = cl.linear_grads(z, lin.weight, lin.bias, y, c)
local zg = z:clone():requires_grad_()
nn.F.center_loss(lin(zg), y, c):backward()
H.close(zg.grad, g.z, 1e-12, 'linear_grads z')
H.close(lin.weight.grad, g.W, 1e-12, 'linear_grads W')
H.close(lin.bias.grad, g.b, 1e-12, 'linear_grads b')
H.close(g.x, lin(z):detach(), 1e-12, 'linear_grads x')
H.check(cl.linear_grads(z, lin.weight, nil, y, c).b ~= nil, 'linear_grads without a bias')

---------------------------------------------------------------------------- update rules
-- Δ with offset 1: class 1 (−1,−1)/5, class 2 (0,−1)/3
H.close(cl.delta(x, y, c, 1), {{-0.2, -0.2}, {0, -1 / 3}}, 1e-12, 'delta, offset 1')
H.close(cl.delta(x, y, c, 0), {{-0.25, -0.25}, {0, -0.5}}, 1e-12, 'delta, offset 0')
local c3 = f64{{1, 1}, {-1, -1}, {5, 5}}
H.close(cl.delta(x, y, c3, 1e-8)[3], {0, 0}, 0, 'absent class: Δ = 0 with ε > 0')
local d0 = cl.delta(x, y, c3, 0)
H.check(d0:get(3, 1) ~= d0:get(3, 1), 'absent class: Δ = NaN with ε = 0')
-- Wen: c + r(x̄ − c), r1 = 0.4, r2 = 1/3; x̄1 = (1.25, 1.25), x̄2 = (−1, −0.5)
local cw, dw = cl.wen_update(x, y, c, {alpha = 0.5})
H.close(cw, {{1.1, 1.1}, {-1, -5 / 6}}, 1e-12, 'wen_update')
H.close(dw, {{-0.2, -0.2}, {0, -1 / 3}}, 1e-12, 'wen_update returns Δ')
H.close(c, {{1, 1}, {-1, -1}}, 0, 'wen_update leaves the centers alone')
H.close(cl.seed_update(x, y, c), {{1.25, 1.25}, {-1, -0.5}}, 1e-7, 'seed_update = batch means')
H.close(cl.grad_update(x, y, c, {lr = 0.5}), {{1.5, 1.5}, {-1, -0.5}}, 1e-12, 'grad_update')
local m = nn.CenterLoss(2, 2, {dtype = 'f64'})
nb.no_grad(function() m.centers:copy_(c) end)
m:update_centers(x, y, 0.5)
H.close(m.centers, cw, 1e-12, 'nn.CenterLoss:update_centers = wen_update')
-- f32 features with f64 centers: the centers keep their dtype
H.check(cl.wen_update(x:to('f32'), y, c).dtype == 'f64', 'wen_update keeps the centers dtype')

H.close(cl.rate('seed', 4, {eps = 0}), 1, 0, 'rate seed')
H.close(cl.rate('wen', 4, {alpha = 0.5}), 0.4, 1e-15, 'rate wen')
H.close(cl.rate('grad', 4, {lr = 0.5}), 2, 0, 'rate grad')
-- r = 1, d = 2, n = 1: var = 2·1 = 2, step² = 2·2 = 4; Wen n = 1: r = 1/4,
-- var = 2 · 0.25/1.75 = 2/7, step² = 2 · 2 · 0.0625 / 1.75 = 1/7
local ts = cl.jitter_theory('seed', 1, {eps = 0, d = 2})
H.close({ts.var, ts.step_sq}, {2, 4}, 1e-12, 'jitter_theory seed')
local tw = cl.jitter_theory('wen', 1, {alpha = 0.5, d = 2})
H.close({tw.r, tw.var, tw.step_sq}, {0.25, 2 / 7, 1 / 7}, 1e-12, 'jitter_theory wen')
local tg = cl.jitter_theory('grad', 8, {lr = 0.5})
H.check(not tg.stable and tg.var == math.huge, 'jitter_theory: r = 4 is unstable')

-- Monte Carlo of the Wen rule on fixed features matches the closed form (500 chains, n = 2)
nb.manual_seed(11)
local K, n = 500, 2
local yy = nb.arange(1, K):reshape(K, 1):expand(K, n):reshape(-1):to('i64')
local cc = nb.zeros(K, 2, {dtype = 'f64'})
for _ = 1, 60 do cc = cl.wen_update(nb.randn(K * n, 2, {dtype = 'f64'}), yy, cc) end
local dev = (cc * cc):sum(2)
local th = cl.jitter_theory('wen', n, {d = 2})
local z_dev = math.abs(dev:mean():item() - th.var) / (dev:std():item() / math.sqrt(K))
H.check(z_dev < 4, 'wen jitter vs closed form: z = %.2f', z_dev)

---------------------------------------------------------------------------- statistics
-- class 1 at (0, ±1), class 2 at (4, ±1): means (0,0), (4,0); intra 1, inter 4; overall mean
-- (2, 0), spread √5; norms² 1, 1, 17, 17 → scale 3
local e = f64{{0, 1}, {0, -1}, {4, 1}, {4, -1}}
local s = cl.stats(e, i64{1, 1, 2, 2}, 3)
H.close({s.intra, s.inter, s.ratio, s.min_inter, s.spread, s.scale, s.classes},
        {1, 4, 0.25, 4, math.sqrt(5), 3, 2}, 1e-12, 'stats')
H.close(s.intra_class, {1, 1, 0}, 1e-12, 'stats per class')
H.close(s.counts, {2, 2, 0}, 0, 'stats counts')
H.close(cl.stats(e * 10, i64{1, 1, 2, 2}).ratio, 0.25, 1e-12, 'ratio is scale-free')
H.close(cl.nearest_center(e, f64{{4, 0}, {0, 0}}), {2, 2, 1, 1}, 0, 'nearest_center')
H.close(cl.moving_average({1, 2, 3, 4}, 2), {1, 1.5, 2.5, 3.5}, 1e-15, 'moving_average')
local emb = cl.embed(function(t) return t * 2 end, f64{{1}, {2}, {3}}, {batch = 2})
H.close(emb, {{2}, {4}, {6}}, 0, 'embed in batches')

-- drift: one class moving (0,0) → (3,4) → (0,0) → (3,4): steps 5, 5, 5; net 5; wiggle 3
local hist = {f64{{0, 0}}, f64{{3, 4}}, f64{{0, 0}}, f64{{3, 4}}}
local dr = cl.drift(hist)
H.close({dr.mean_step, dr.max_step, dr.path, dr.net, dr.wiggle}, {5, 5, 15, 5, 3}, 1e-12, 'drift')
H.close(cl.drift(hist, {skip = 2}).path, 5, 1e-12, 'drift with skip')
local ss = cl.series_stats({9, 1, 3, 1, 3})
H.close({ss.mean, ss.var, ss.rough}, {3.4, 8.64, math.sqrt((64 + 4 + 4 + 4) / 4)}, 1e-12,
        'series_stats')
local ss2 = cl.series_stats({9, 1, 3, 1, 3}, {skip = 1})
H.close({ss2.mean, ss2.var, ss2.std, ss2.cv, ss2.rough}, {2, 1, 1, 0.5, 2}, 1e-12,
        'series_stats with skip')

-- step_by_count: two classes; step 1 moves class 1 by 1 (n = 2) and class 2 by 3 (n = 0);
-- step 2 moves class 1 by 2 (n = 2) and class 2 by 0 (n = 1)
local fake = {centers = {f64{{0, 0}, {0, 0}}, f64{{1, 0}, {0, 3}}, f64{{1, 2}, {0, 3}}},
              counts = {nb.tensor({2, 0}), nb.tensor({2, 1})}}
local rows = cl.step_by_count(fake)
H.check(#rows == 3 and rows[1].n == 0 and rows[2].n == 1 and rows[3].n == 2, 'step_by_count rows')
H.close({rows[1].mean_step, rows[2].mean_step, rows[3].mean_step, rows[3].rms_step,
         rows[3].count}, {3, 0, 1.5, math.sqrt(2.5), 2}, 1e-12, 'step_by_count values')

---------------------------------------------------------------------------- PEDCC
H.close(cl.min_distance(f64{{0, 0}, {3, 4}, {0, 1}}), 1, 1e-12, 'min_distance')
nb.manual_seed(2)
local P = cl.pedcc(10, 2, {dtype = 'f64'})
H.close((P * P):sum(2), nb.ones(10), 1e-12, 'pedcc rows are unit vectors')
H.close(cl.min_distance(P), 2 * math.sin(math.pi / 10), 1e-6, 'pedcc 10 in 2-D: regular decagon')
local S = cl.pedcc(4, 3, {dtype = 'f64'})
H.close(S:mm(S:t()), nb.eye(4, 'f64') * (4 / 3) - 1 / 3, 1e-6, 'pedcc 4 in 3-D: simplex')
H.check(cl.pedcc(3, 2).dtype == 'f32', 'pedcc default dtype f32')

---------------------------------------------------------------------------- fit
-- three Gaussian blobs in 4-D, a linear embedding to 2-D
nb.manual_seed(7)
local N = 96
local Y = nb.randint(1, 3, {N})
local means = nb.randn(3, 4) * 3
local X = means:index_select(1, Y) + nb.randn(N, 4)
local function run(opts)
  nb.manual_seed(8)
  opts.embed, opts.head = nn.Linear(4, 2), nn.Linear(2, 3)
  opts.X, opts.Y, opts.batch, opts.steps = X, Y, 16, opts.steps or 12
  return cl.fit(opts), opts
end
local h1 = run{lambda = 1, rule = 'wen'}
H.check(#h1.centers == 13 and #h1.counts == 12 and #h1.ce == 12 and #h1.center == 12,
        'fit history lengths')
H.close(h1.counts[1]:sum(), 16, 0, 'counts add up to the batch')
H.check(h1.center_module.centers.shape[1] == 3, 'fit creates nn.CenterLoss(num classes, d)')
H.check(cl.drift(h1.centers).path > 0, 'wen rule moves the centers')
local h0 = run{lambda = 0}
H.close(cl.drift(h0.centers).path, 0, 0, 'lambda = 0: centers never move')
local fixed = nn.CenterLoss(3, 2)
local before = fixed.centers:clone()
local hf = run{lambda = 1, rule = 'fixed', centers = fixed}
H.close(fixed.centers, before, 0, "rule 'fixed': centers never move")
H.check(#hf.ce == 12, 'fixed run trains')
local hs = run{lambda = 1, rule = 'seed'}
H.check(cl.drift(hs.centers).mean_step > cl.drift(h1.centers).mean_step,
        'seed rule moves the centers more than wen')
local ha = run{lambda = 1, ce = false, rule = 'grad', alpha = 0.01}
H.check(#ha.ce == 0 and #ha.center == 12, 'center loss alone: no ce recorded')
local seen = 0
run{lambda = 1, on_step = function(step, info)
  if info.ce and info.center then seen = step end
end, steps = 3}
H.check(seen == 3, 'on_step called every step')
-- the fit trains: the softmax loss falls over 60 steps
local hl = run{lambda = 0, steps = 60, lr = 0.05}
H.check(hl.ce[60] < hl.ce[1], 'softmax loss falls: %.3f → %.3f', hl.ce[1], hl.ce[60])

---------------------------------------------------------------------------- errors
H.checkerror('labels must lie in 1..2', cl.grad_x, x, i64{1, 1, 1, 1, 2, 3}, c)
H.checkerror('features have 2 columns but centers have 3', cl.grad_centers, x, y, nb.zeros(2, 3))
H.checkerror('labels must be an i64 tensor', cl.delta, x, nb.tensor({1, 1, 1, 1, 2, 2}), c, 1)
H.checkerror('6 labels for 5 features', cl.delta, x:narrow(1, 1, 5), y, c, 1)
H.checkerror('offset must be a number >= 0', cl.delta, x, y, c, -1)
H.checkerror("unknown rule 'foo'", cl.rate, 'foo', 1)
H.checkerror("unknown rule 'foo'", cl.fit, {X = X, Y = Y, embed = nn.Linear(4, 2),
                                            head = nn.Linear(2, 3), rule = 'foo'})
H.checkerror('head is required', cl.fit, {X = X, Y = Y, embed = nn.Linear(4, 2)})
H.checkerror('batch 200 is larger than the data set (96)', cl.fit,
             {X = X, Y = Y, embed = nn.Linear(4, 2), head = nn.Linear(2, 3), batch = 200})
H.checkerror('need at least 2 snapshots', cl.drift, {f64{{0, 0}}})
H.checkerror('need C >= 2', cl.pedcc, 1, 2)
H.checkerror('features must be [N, d]', cl.stats, nb.zeros(3), i64{1, 1, 1})

---------------------------------------------------------------------------- docs
for _, name in ipairs({'grad_x', 'grad_centers', 'linear_grads', 'loss_function', 'delta',
                       'seed_update', 'wen_update', 'grad_update', 'rate', 'jitter_theory',
                       'stats', 'embed', 'nearest_center', 'drift', 'series_stats',
                       'step_by_count', 'moving_average', 'min_distance', 'pedcc', 'fit'}) do
  local doc = nb._docs and nb._docs[cl[name]]
  H.check(type(cl[name]) == 'function', 'centerloss.%s exists', name)
  if nb._docs then H.check(doc and doc:find('centerloss.' .. name, 1, true), 'doc of %s', name) end
end

H.report()
