-- # Center loss: compact classes, and how to move the centers
-- summary: the center loss and its gradients by hand (checked with check.grad), the course's center update (denominator ε, no step) against Wen et al.'s (1 + n_j, step α), center jitter in closed form, and a 2-D Fashion-MNIST embedding trained with softmax alone, with center loss, with center loss alone, and with fixed evenly spread centers
-- time: minutes
--
-- A classifier trained with softmax separates classes, but it does not make them *compact*:
-- samples of one class may lie far apart as long as they are on the right side of the
-- decision boundaries. The **center loss** (Wen et al., 2016) adds a pull towards a learned
-- center $c_j$ per class. With $x_i \in \mathbb{R}^d$ the feature of sample $i$ (the layer
-- before the classifier) and $y_i$ its label,
--
-- $$L_c = \tfrac12 \sum_{i=1}^{m} \lVert x_i - c_{y_i}\rVert^2, \qquad
--   L = L_S + \lambda L_c .$$
--
-- The course (S001-Q6a–c) asks why $L_c$ is combined with the softmax loss $L_S$, for the
-- gradients and the center update, and for the idea of PEDCC-Loss. Its gradient with respect
-- to $x_i$ is right; its center update is not the gradient it claims to be, has no step size
-- and the wrong denominator. This lesson checks each piece on a six-sample example, shows
-- what the course's rule does to the centers in closed form, and then trains a small CNN with
-- a **2-D embedding** on Fashion-MNIST so that the effect can be seen in a scatter plot. The
-- helpers are in `stdlib/centerloss.lua` (`:help centerloss.stats`); the loss and Wen et
-- al.'s update are `nn.CenterLoss` (`m(x, y)`, `m:update_centers(x, y, alpha)`).

local centerloss = require 'centerloss'
nb.manual_seed(0)
local function f64(t) return nb.tensor(t, {dtype = 'f64'}) end
local function i64(t) return nb.tensor(t, {dtype = 'i64'}) end

-- %% Six samples, two classes
-- Take $d = 2$, classes 1 and 2 with centers $c_1 = (1, 1)$, $c_2 = (-1, -1)$, and six
-- features, four of class 1 and two of class 2:
--
-- | $i$ | $x_i$ | $y_i$ | $x_i - c_{y_i}$ | $\lVert\cdot\rVert^2$ |
-- |---|---|---|---|---|
-- | 1 | (1, 2) | 1 | (0, 1) | 1 |
-- | 2 | (3, 0) | 1 | (2, −1) | 5 |
-- | 3 | (2, 2) | 1 | (1, 1) | 2 |
-- | 4 | (−1, 1) | 1 | (−2, 0) | 4 |
-- | 5 | (0, −2) | 2 | (1, −1) | 2 |
-- | 6 | (−2, 1) | 2 | (−1, 2) | 5 |
--
-- The squares add up to 19, so $L_c = 9.5$.
local x6 = f64{{1, 2}, {3, 0}, {2, 2}, {-1, 1}, {0, -2}, {-2, 1}}
local y6 = i64{1, 1, 1, 1, 2, 2}
local c6 = f64{{1, 1}, {-1, -1}}
local m6 = nn.CenterLoss(2, 2, {dtype = 'f64'})
nb.no_grad(function() m6.centers:copy_(c6) end)
print(m6)
check.answer('L_c by hand = nn.CenterLoss', m6(x6, y6):item(), 9.5, 1e-12)

-- %% ∂L_c/∂x_i = x_i − c_{y_i} (S001-Q6b)
-- Only the $i$-th term of the sum contains $x_i$, and $\nabla_x \tfrac12\lVert x - c\rVert^2
-- = x - c$: the gradient is the residual column of the table. The course has this right.
--
-- Two checks of the derivation. `centerloss.loss_function()` is an `nb.Function` whose
-- backward *is* the hand-derived formula; `check.grad` compares it with central finite
-- differences. Then the same formula is compared with autograd through `nn.CenterLoss`.
local Lhand = centerloss.loss_function()
local ok_x, rep_x = check.grad(function(x, y, c) return Lhand(x, y, c) end, {x6, y6, c6})
print(rep_x.text)
check.answer('hand-derived backward vs finite differences (check.grad)', ok_x and 1 or 0, 1)
local xg = x6:clone():requires_grad_()
m6(xg, y6):backward()
check.answer('x − c_y by hand (the table)', centerloss.grad_x(x6, y6, c6),
             f64{{0, 1}, {2, -1}, {1, 1}, {-2, 0}, {1, -1}, {-1, 2}}, 0)
check.answer('∂L_c/∂x: hand-derived vs autograd', xg.grad, centerloss.grad_x(x6, y6, c6), 1e-12)

-- %% ∂L_c/∂c_j has no denominator
-- $c_j$ appears in the terms of the samples of class $j$, each contributing $c_j - x_i$:
--
-- $$\frac{\partial L_c}{\partial c_j} = \sum_{i:\,y_i = j} (c_j - x_i) = n_j (c_j - \bar x_j),$$
--
-- with $n_j$ the number of class-$j$ samples and $\bar x_j$ their mean. Here
-- $\partial L_c/\partial c_1 = -(1, 1)$ and $\partial L_c/\partial c_2 = -(0, 1)$.
--
-- **The course's claim:** $\partial L_c/\partial c_j = \Delta c_j =
-- \sum_i \delta(y_i{=}j)(c_j - x_i) / (\varepsilon + \sum_i \delta(y_i{=}j))$. That is the
-- gradient divided by $\varepsilon + n_j$ — here by 4 and by 2 — so it is off by a factor,
-- not a rounding: the relative error is $1 - 1/(\varepsilon + n_j)$, 75% and 50%.
local cg = c6:clone():requires_grad_()
nn.F.center_loss(x6, y6, cg):backward()
local g_hand = centerloss.grad_centers(x6, y6, c6)
check.answer('∂L_c/∂c by hand', g_hand, f64{{-1, -1}, {0, -1}}, 0)
check.answer('∂L_c/∂c: hand-derived vs autograd', cg.grad, g_hand, 1e-12)
local ok_c, rep_c = check.grad(function(c) return Lhand(x6, y6, c) end, {c6})
print(rep_c.text)
check.answer('hand-derived ∂L_c/∂c vs finite differences (check.grad)', ok_c and 1 or 0, 1)
local eps = 1e-8
local d_seed = centerloss.delta(x6, y6, c6, eps)
print("the course's Δc (denominator ε + n_j):", d_seed)
for j, nj in ipairs({4, 2}) do
  local rel = (d_seed[j] - g_hand[j]):norm():item() / g_hand[j]:norm():item()
  check.answer(string.format("class %d: relative error of the course's ∂L_c/∂c_j = 1 − 1/n_j", j),
               rel, 1 - 1 / (eps + nj), 1e-9)
end

-- %% The layer before: x = Wz + b
-- The course writes $x_i = W z_i + b$ and then *updates* $z_i$, $W$ and $b$. By the chain
-- rule (in `nn.Linear`'s layout, rows are samples, $x = zW^\top + b$):
--
-- $$\frac{\partial L_c}{\partial z_i} = W^\top (x_i - c_{y_i}),\quad
--   \frac{\partial L_c}{\partial W} = \sum_i (x_i - c_{y_i}) z_i^\top,\quad
--   \frac{\partial L_c}{\partial b} = \sum_i (x_i - c_{y_i}).$$
--
-- These agree with the course (its row-vector $(x_i - c)W$ is the same numbers). Two
-- corrections to how they are *used*: $z_i$ is an activation, not a parameter — its
-- gradient is **passed back** to the layers that computed $z_i$, nothing "updates" it; and
-- every parameter update needs a learning rate and the weight $\lambda$, summed over the
-- batch: $W \leftarrow W - \eta\lambda\sum_i (x_i - c_{y_i}) z_i^\top$.
nb.manual_seed(1)
local z = nb.randn(6, 3, {dtype = 'f64'})
local lin = nn.Linear(3, 2, {dtype = 'f64'})
local hand = centerloss.linear_grads(z, lin.weight, lin.bias, y6, c6)
local zg = z:clone():requires_grad_()
lin:zero_grad()
m6(lin(zg), y6):backward()
check.answer('∂L_c/∂z: hand vs autograd', zg.grad, hand.z, 1e-12)
check.answer('∂L_c/∂W: hand vs autograd', lin.weight.grad, hand.W, 1e-12)
check.answer('∂L_c/∂b: hand vs autograd', lin.bias.grad, hand.b, 1e-12)
local ok_l, rep_l = check.grad(function(zz, W, b, c)
  return Lhand(zz:mm(W:t()) + b, y6, c)
end, {z, lin.weight, lin.bias, c6})
print(rep_l.text)
check.answer('x = Wz + b then L_c: chain rule vs finite differences (check.grad)',
             ok_l and 1 or 0, 1)

-- %% Where ∂L_c/∂z goes
-- Suppose $z = \tanh(uV^\top)$ came from a layer with weights $V$. Backpropagation hands it
-- $\partial L_c/\partial z$ and that layer computes
-- $\partial L_c/\partial V = \big(\partial L_c/\partial z \odot (1 - z^2)\big)^\top u$ — this is
-- what changes. $z$ itself is recomputed from the new weights at the next forward pass.
local u = nb.randn(6, 4, {dtype = 'f64'})
local V = nb.randn(3, 4, {dtype = 'f64'}):requires_grad_()
local zz = u:mm(V:t()):tanh()
m6(lin(zz), y6):backward()
local zd = zz:detach()
local dz = centerloss.linear_grads(zd, lin.weight, lin.bias, y6, c6).z
check.answer('∂L_c/∂V from the hand ∂L_c/∂z = autograd', V.grad, (dz * (1 - zd * zd)):t():mm(u),
             1e-12)

-- %% Moving the centers: three rules
-- Every rule moves $c_j$ towards the batch mean $\bar x_j$ of its class by a fraction $r$,
-- $c_j \leftarrow c_j + r(\bar x_j - c_j)$:
--
-- | rule | update | $r$ |
-- |---|---|---|
-- | course | $c_j - \Delta c_j$, denom. $\varepsilon + n_j$ | $n_j/(\varepsilon + n_j) \approx 1$ |
-- | Wen et al. | $c_j^{t+1} = c_j^t - \alpha\Delta c_j^t$, denom. $1 + n_j$ | $\alpha n_j/(1 + n_j)$ |
-- | gradient step | $c_j - \alpha\,\partial L_c/\partial c_j$ | $\alpha n_j$ |
--
-- By hand with $\alpha = 0.5$: $\bar x_1 = (1.25, 1.25)$, $\bar x_2 = (-1, -0.5)$. Wen et al.:
-- $r_1 = 0.5\cdot4/5 = 0.4$, so $c_1 \to (1.1, 1.1)$; $r_2 = 1/3$, so $c_2 \to (-1, -5/6)$. The
-- course's rule jumps straight onto the batch means. The gradient step has $r_1 = 2$: it
-- lands on the mirror image $(1.5, 1.5)$, on the far side of $\bar x_1$ ($r_2 = 1$ puts $c_2$
-- on $\bar x_2$). Note also that the course's $c_j = c_{j-1} - \Delta c_j$ indexes by *class*;
-- the index must be the iteration $t$.
local m_wen = nn.CenterLoss(2, 2, {dtype = 'f64'})
nb.no_grad(function() m_wen.centers:copy_(c6) end)
m_wen:update_centers(x6, y6, 0.5)
check.answer("nn.CenterLoss:update_centers = Wen et al. by hand", m_wen.centers,
             f64{{1.1, 1.1}, {-1, -5 / 6}}, 1e-12)
check.answer("centerloss.wen_update = the same", centerloss.wen_update(x6, y6, c6, {alpha = 0.5}),
             f64{{1.1, 1.1}, {-1, -5 / 6}}, 1e-12)
check.answer("course's rule lands on the batch means", centerloss.seed_update(x6, y6, c6),
             f64{{1.25, 1.25}, {-1, -0.5}}, 1e-7)
check.answer('gradient step with α = 0.5 overshoots to the mirror image',
             centerloss.grad_update(x6, y6, c6, {lr = 0.5}), f64{{1.5, 1.5}, {-1, -0.5}}, 1e-12)

-- %% What ε is for
-- A class missing from the batch has $n_j = 0$ and a sum of 0: $0/(\varepsilon + 0) = 0$ with
-- $\varepsilon > 0$, but $0/0$ = NaN with $\varepsilon = 0$. Wen et al.'s $1 + n_j$ is never
-- 0, *and* it damps the step. With a tiny $\varepsilon$ the course's rule only avoids the NaN.
local c3 = f64{{1, 1}, {-1, -1}, {5, 5}}   -- class 3 has no samples in this batch
local with_eps = centerloss.seed_update(x6, y6, c3, {eps = 1e-8})
local no_eps = centerloss.seed_update(x6, y6, c3, {eps = 0})
print('ε = 1e-8:', with_eps[3], ' ε = 0:', no_eps[3])
check.answer('absent class, ε = 1e-8: center unchanged', with_eps[3], f64{5, 5}, 0)
check.answer('absent class, ε = 0: center is NaN (1 = yes)',
             no_eps:get(3, 1) ~= no_eps:get(3, 1) and 1 or 0, 1)

-- %% How much does a center jitter?
-- Freeze the features: class samples are i.i.d. with mean $\mu$ and covariance
-- $\sigma^2 I$ in $d$ dimensions, and each batch holds $n$ of them. Then
-- $c_{t+1} - \mu = (1 - r)(c_t - \mu) + r(\bar x_t - \mu)$ is an AR(1) process, stable iff
-- $0 < r < 2$, and in the steady state
--
-- $$E\lVert c - \mu\rVert^2 = \frac{d\sigma^2}{n}\,\frac{r}{2 - r}, \qquad
--   E\lVert c_{t+1} - c_t\rVert^2 = \frac{d\sigma^2}{n}\,\frac{2r^2}{2 - r}.$$
--
-- The simulation runs 2000 independent centers at once (one "class" each), 80 steps from
-- $c = \mu = 0$, $\sigma = 1$, $d = 2$, and compares both figures at the last step with the
-- closed form; the tolerance is 4 standard errors of the mean over the 2000 chains.
local n_chain, n_steps = 2000, 80
local ns = {1, 2, 4, 8, 16}
local rules = {seed = {eps = 1e-8}, wen = {alpha = 0.5}, grad = {lr = 0.5}}
local jitter = {}
nb.manual_seed(3)
print(' rule    n     r     E|c−μ|² sim   theory    E|Δc|² sim   theory')
for _, rule in ipairs({'seed', 'wen', 'grad'}) do
  jitter[rule] = {}
  for _, n in ipairs(ns) do
    local y = nb.arange(1, n_chain):reshape(n_chain, 1):expand(n_chain, n):reshape(-1):to('i64')
    local c, prev = nb.zeros(n_chain, 2, {dtype = 'f64'}), nil
    for _ = 1, n_steps do
      local xb = nb.randn(n_chain * n, 2, {dtype = 'f64'})
      prev = c
      c = centerloss[rule .. '_update'](xb, y, c, rules[rule])
    end
    local dev, mv = (c * c):sum(2), ((c - prev) ^ 2):sum(2)
    local th = centerloss.jitter_theory(rule, n, {eps = 1e-8, alpha = 0.5, lr = 0.5, d = 2})
    local row = {n = n, r = th.r, stable = th.stable, dev = dev:mean():item(),
                 step = mv:mean():item(), th_dev = th.var, th_step = th.step_sq,
                 se_dev = dev:std():item() / math.sqrt(n_chain),
                 se_step = mv:std():item() / math.sqrt(n_chain)}
    jitter[rule][#jitter[rule] + 1] = row
    print(string.format('%-5s %3d %6.3f  %11.4g  %8.4g   %11.4g  %8.4g', rule, n, th.r, row.dev,
                        th.var, row.step, th.step_sq))
  end
end

-- %% The closed form holds — and the gradient step diverges
-- Where the theory says the rule is stable, the simulation must sit within 4 standard errors
-- of it; where $r \ge 2$ (the gradient step with $n \ge 4$) the center must run away.
local worst_z, n_stable, n_unstable_ok = 0, 0, 0
for _, rule in ipairs({'seed', 'wen', 'grad'}) do
  for _, row in ipairs(jitter[rule]) do
    if row.stable then
      n_stable = n_stable + 1
      worst_z = math.max(worst_z, math.abs(row.dev - row.th_dev) / row.se_dev,
                         math.abs(row.step - row.th_step) / row.se_step)
    elseif row.r > 2 and row.dev > 1e6 or row.r == 2 and row.dev > 20 then
      n_unstable_ok = n_unstable_ok + 1   -- r = 2 is a random walk: E|c|² grows like t
    end
  end
end
print(string.format('%d stable cases, worst |z| = %.2f', n_stable, worst_z))
check.answer('simulation vs closed form: worst |z| over stable cases ≤ 4', worst_z <= 4 and 1 or 0,
             1)
check.answer('gradient step, α = 0.5: n = 4, 8, 16 run away (cases)', n_unstable_ok, 3)

-- %% One sample, one jump
-- With a single sample of a class in the batch the course's rule puts the center **on that
-- sample**: $E\lVert\Delta c\rVert^2 = 2d\sigma^2$, twice the class's own variance. Wen et al.'s
-- moves it a quarter of the way: $2d\sigma^2 \cdot 0.0625/1.75$, 28 times less. The plot
-- shows the RMS step against $n$ for the two stable rules.
local seed1, wen1 = jitter.seed[1], jitter.wen[1]
print(string.format("n = 1: course's E|Δc|² = %.3f (theory 2dσ² = 4), Wen's %.4f (theory %.4f)",
                    seed1.step, wen1.step, wen1.th_step))
check.answer("n = 1: course's step² / Wen's step², measured vs 28", seed1.step / wen1.step, 28,
             28 * 4 * (seed1.se_step / seed1.step + wen1.se_step / wen1.step))
local rms_seed, rms_wen, log_n = {}, {}, {}
for i, n in ipairs(ns) do
  rms_seed[i], rms_wen[i], log_n[i] = math.sqrt(jitter.seed[i].step),
                                      math.sqrt(jitter.wen[i].step), math.log(n, 2)
end
plot.line({["course (ε + n)"] = rms_seed, ['Wen et al. (1 + n, α = 0.5)'] = rms_wen},
          {x = log_n, title = 'RMS center step on fixed features (σ = 1, d = 2)',
           xlabel = 'log2 n (samples of the class in the batch)', ylabel = 'RMS |Δc|'})

-- %% Fashion-MNIST with a 2-D embedding
-- A small CNN ends in a layer of **two** units, the embedding $x_i$ we can plot; a linear
-- layer maps it to the 10 class scores. Every run below starts from the same weights (seed
-- 0) and sees the same batches of 64. The quick mode trains on 3 000 images for 3 epochs,
-- the full mode on 20 000 for 4. Embeddings and accuracies are measured on held-out test
-- images.
local n_train = lesson.quick and 3000 or 20000
local n_epochs = lesson.quick and 3 or 4
local n_test = lesson.quick and 1000 or 2000
local X, Y = data.fashion_mnist{split = 'train', n = n_train}
local TX, TY = data.fashion_mnist{split = 'test', n = n_test}
local classes = data.fashion_mnist_classes
local lambda, alpha = 1, 0.5
local function make_model()
  local body = nn.Sequential(
    nn.Conv2d(1, 8, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),     -- 8×14×14
    nn.Conv2d(8, 16, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),    -- 16×7×7
    nn.Flatten(), nn.Linear(16 * 49, 32), nn.ReLU(),
    nn.Linear(32, 2))                                                  -- the embedding x_i
  return body, nn.Linear(2, 10)
end
local runs = {}
-- opts go to centerloss.fit; opts.probe = k also records the test-set statistics every k steps
local function train(name, opts)
  nb.manual_seed(0)
  local body, head = make_model()
  if opts.head then head = opts.head end
  opts.embed, opts.head = body, head
  opts.X, opts.Y, opts.num_classes = X, Y, 10
  if not opts.steps then opts.epochs = n_epochs end
  local probe = {step = {}, inter = {}, ratio = {}, spread = {}}
  local function record(step)
    local s = centerloss.stats(centerloss.embed(body, TX), TY, 10)
    probe.step[#probe.step + 1] = step
    probe.inter[#probe.inter + 1], probe.ratio[#probe.ratio + 1] = s.inter, s.ratio
    probe.spread[#probe.spread + 1] = s.spread
  end
  if opts.probe then
    record(0)
    opts.on_step = function(step) if step % opts.probe == 0 then record(step) end end
  end
  local hist = centerloss.fit(opts)
  local e = centerloss.embed(body, TX)
  -- without a softmax term the head is untrained: classify by the nearest center instead
  local pred = opts.ce == false and centerloss.nearest_center(e, hist.center_module.centers)
               or head(e):argmax(2):reshape(-1)
  local acc = pred:eq(TY):to('f64'):mean():item()
  local r = {name = name, hist = hist, emb = e, acc = acc, stats = centerloss.stats(e, TY, 10),
             probe = probe}
  runs[name] = r
  print(string.format('%s: %d steps in %.1f s; test accuracy %.3f; intra %.3f, inter %.3f, ' ..
                      'ratio %.3f', name, hist.steps, hist.seconds, acc, r.stats.intra,
                      r.stats.inter, r.stats.ratio))
  return r
end
print(make_model())

-- %% Softmax alone
-- $\lambda = 0$. The classes come out roughly as rays from the origin: the softmax decides by
-- *direction*, so a sample moving outwards along its ray only becomes more confident. Within
-- a class the spread is large.
local soft = train('softmax', {lambda = 0})
plot.scatter(soft.emb, {labels = TY, names = classes, title = 'softmax only: test embeddings'})

-- %% Softmax + λ · center loss
-- $\lambda = 1$ (with $L_c$ averaged over the batch), centers moved by Wen et al.'s rule with
-- $\alpha = 0.5$ after each step, from $N(0, 1)$ starting points. The rays become blobs around
-- the centers.
local cen = train('center (Wen)', {lambda = lambda, rule = 'wen', alpha = alpha})
plot.scatter(cen.emb, {labels = TY, names = classes,
                       title = 'softmax + center loss: test embeddings'})

-- %% How compact? The intra/inter ratio
-- $\text{intra}$ is the RMS distance of a test embedding from its class mean,
-- $\text{inter}$ the mean distance between two class means, and their ratio does not change
-- when the whole embedding is scaled. The target: the center-loss ratio at most **0.75×**
-- the softmax ratio.
local ratio_soft, ratio_cen = soft.stats.ratio, cen.stats.ratio
print(string.format('intra/inter: softmax %.3f, softmax + center loss %.3f (%.2f×)',
                    ratio_soft, ratio_cen, ratio_cen / ratio_soft))
check.answer(string.format('center loss: ratio %.3f ≤ 0.75 × softmax %.3f', ratio_cen,
                           ratio_soft), ratio_cen <= 0.75 * ratio_soft and 1 or 0, 1)
local acc_floor = lesson.quick and 0.3 or 0.6
check.answer(string.format('both models learned: test accuracy %.3f and %.3f ≥ %.1f', soft.acc,
                           cen.acc, acc_floor),
             (soft.acc >= acc_floor and cen.acc >= acc_floor) and 1 or 0, 1)

-- %% The course's update in training
-- Same model, same batches, same $\lambda$; the centers now follow the course's rule
-- (denominator $\varepsilon = 10^{-8}$, no step size), so each center jumps to the mean of its
-- class in the last batch. The plot shows the mean center movement per step (averaged over
-- 10 steps) for both rules, after the first tenth of training, where both move fast.
local seedrun = train("center (course's rule)", {lambda = lambda, rule = 'seed', eps = 1e-8})
local skip = math.floor(seedrun.hist.steps / 2)
local dr_seed = centerloss.drift(seedrun.hist.centers, {skip = skip})
local dr_wen = centerloss.drift(cen.hist.centers, {skip = skip})
local skip10 = math.floor(seedrun.hist.steps / 10)
local mv_seed = centerloss.drift(seedrun.hist.centers, {skip = skip10}).steps
local mv_wen = centerloss.drift(cen.hist.centers, {skip = skip10}).steps
local xs = {}
for i = 1, #mv_seed do xs[i] = skip10 + i end
plot.line({["course's rule"] = centerloss.moving_average(mv_seed, 10),
           ['Wen et al.'] = centerloss.moving_average(mv_wen, 10)},
          {x = xs, title = 'mean center movement per step (first 10% left out)', xlabel = 'step',
           ylabel = '|c_{t+1} − c_t|'})

-- %% Jitter and loss variance, second half of training
-- Over the second half of training: the mean step of a center, its *wiggle* (path length
-- divided by net displacement: 1 for a straight walk), and the spread of the center-loss
-- value from step to step. The loss value hardly tells the rules apart — its spread comes
-- mostly from which samples land in a batch — but the centers' movement does. With about
-- $n = 6.4$ samples per class in a batch of 64, the fixed-feature theory predicts the
-- course's steps $\sqrt{2 - r}/r \approx 2.9$ times Wen et al.'s ($r = \alpha n/(1 + n)$).
-- The features move too, so the target is looser: at least **2×**.
local ls_seed = centerloss.series_stats(seedrun.hist.center, {skip = skip})
local ls_wen = centerloss.series_stats(cen.hist.center, {skip = skip})
print(string.format("%-16s %10s %8s %10s %10s %8s", 'rule', 'mean step', 'wiggle', 'L_c mean',
                    'L_c std', 'acc'))
print(string.format("%-16s %10.4f %8.1f %10.4f %10.4f %8.3f", "course's", dr_seed.mean_step,
                    dr_seed.wiggle, ls_seed.mean, ls_seed.std, seedrun.acc))
print(string.format("%-16s %10.4f %8.1f %10.4f %10.4f %8.3f", 'Wen et al.', dr_wen.mean_step,
                    dr_wen.wiggle, ls_wen.mean, ls_wen.std, cen.acc))
local th_ratio = math.sqrt(centerloss.jitter_theory('seed', 6.4).step_sq /
                           centerloss.jitter_theory('wen', 6.4, {alpha = alpha}).step_sq)
print(string.format('fixed-feature theory at n = 6.4: step ratio %.2f', th_ratio))
check.answer(string.format("course's mean center step %.4f ≥ 2 × Wen's %.4f", dr_seed.mean_step,
                           dr_wen.mean_step), dr_seed.mean_step >= 2 * dr_wen.mean_step and 1 or 0,
             1)

-- %% Few samples, big jumps
-- Group every (step, class) pair of the second half by how many samples $n_j$ of the class
-- the batch held. The course's rule puts the center on the mean of those $n_j$ samples, so
-- with one or two of them it jumps furthest; Wen et al.'s $r = \alpha n_j/(1 + n_j)$ is
-- smallest exactly there. On fixed features the ratio of the two steps at $n = 1$ would be
-- $\sqrt{28} \approx 5.3$; here the features move as well. The target: at $n_j \le 2$ the
-- course's mean step at least **2.5×** Wen et al.'s.
local function by_count(hist)
  local rows, lo = {}, {s = 0, k = 0}
  for _, row in ipairs(centerloss.step_by_count(hist, {skip = skip})) do
    rows[row.n] = row
    if row.n >= 1 and row.n <= 2 then
      lo.s, lo.k = lo.s + row.mean_step * row.count, lo.k + row.count
    end
  end
  return rows, lo.s / math.max(lo.k, 1), lo.k
end
local rows_seed, s_lo, k_lo = by_count(seedrun.hist)
local rows_wen, w_lo = by_count(cen.hist)
local ns_seen, steps_seed, steps_wen = {}, {}, {}
print('  n_j   cases   course: mean step   Wen et al.: mean step')
for n = 1, 20 do
  local rs, rw = rows_seed[n], rows_wen[n]
  if rs and rw and rs.count >= 5 then
    ns_seen[#ns_seen + 1] = n
    steps_seed[#steps_seed + 1], steps_wen[#steps_wen + 1] = rs.mean_step, rw.mean_step
    print(string.format('%5d %7d %19.4f %23.4f', n, rs.count, rs.mean_step, rw.mean_step))
  end
end
plot.line({["course's rule"] = steps_seed, ['Wen et al.'] = steps_wen},
          {x = ns_seen, title = 'mean center step vs samples of the class in the batch',
           xlabel = 'n_j', ylabel = '|c_{t+1} − c_t|'})
check.answer(string.format("n_j ≤ 2 (%d cases): course's step %.4f ≥ 2.5 × Wen's %.4f", k_lo,
                           s_lo, w_lo), s_lo >= 2.5 * w_lo and 1 or 0, 1)

-- %% Center loss alone (S001-Q6a)
-- The course says center loss is not used alone because the centers move with every
-- mini-batch. Here is what that movement leads to. $L_c$ is zero for **any** embedding that
-- puts each class on its center — including the one that maps every image to a single point
-- with all centers there. Wen et al.'s centers *follow* the features, so nothing holds the
-- classes apart. We train without the softmax term ($\lambda = 1$; the untrained head is
-- replaced by nearest-center classification) and measure the test embedding every 50 steps.
local alone_steps = lesson.quick and 600 or 1500
local alone = train('center loss alone', {lambda = 1, ce = false, rule = 'wen', alpha = alpha,
                                          steps = alone_steps, probe = 50})
local pr = alone.probe
print(' step   inter-class     spread   intra/inter')
for i = 1, #pr.step, 2 do
  print(string.format('%5d  %11.3e  %9.3e  %11.3f', pr.step[i], pr.inter[i], pr.spread[i],
                      pr.ratio[i]))
end

-- %% Separation first, then collapse
-- At first the randomly placed centers act as separate targets and pull the classes apart.
-- Once the centers have moved onto the features, $L_c$ can only be lowered by contracting:
-- the inter-class distance shrinks towards zero and the classes merge (the ratio grows).
-- Targets: the final inter-class distance below **0.1×** its peak, the final ratio at least
-- **2×** its best, nearest-center accuracy below 0.3 (chance is 0.1).
local log_inter, peak_inter, best_ratio = {}, 0, math.huge
for i, v in ipairs(pr.inter) do
  log_inter[i] = math.log(v, 10)
  peak_inter, best_ratio = math.max(peak_inter, v), math.min(best_ratio, pr.ratio[i])
end
plot.line({['log10 inter-class distance'] = log_inter}, {x = pr.step, xlabel = 'step',
          title = 'center loss alone: class means collapse'})
plot.line({['intra/inter'] = pr.ratio}, {x = pr.step, xlabel = 'step',
          title = 'center loss alone: classes merge'})
local inter_end, ratio_end = pr.inter[#pr.inter], pr.ratio[#pr.ratio]
print(string.format('L_c fell from %.2e to %.2e', alone.hist.center[1],
                    alone.hist.center[#alone.hist.center]))
check.answer(string.format('inter-class distance: final %.2e ≤ 0.1 × peak %.2e', inter_end,
                           peak_inter), inter_end <= 0.1 * peak_inter and 1 or 0, 1)
check.answer(string.format('intra/inter: final %.3f ≥ 2 × best %.3f', ratio_end, best_ratio),
             ratio_end >= 2 * best_ratio and 1 or 0, 1)
check.answer(string.format('nearest-center accuracy %.3f < 0.3', alone.acc),
             alone.acc < 0.3 and 1 or 0, 1)

-- %% Fixed, evenly spread centers (S001-Q6c, the idea of PEDCC-Loss)
-- As the course describes it, PEDCC-Loss fixes the centers *before* training — evenly
-- distributed points on a sphere, as far apart as possible — and keeps them as the
-- classifier's weights; the loss is cross-entropy plus the squared distance to the own
-- class's centroid. Centers that never move cannot jitter, and cannot collapse.
-- `centerloss.pedcc(C, d)` spreads $C$ unit vectors by repulsion; in 2-D the answer is known:
-- a regular $C$-gon, neighbours $2\sin(\pi/C)$ apart (0.618 for 10 classes); for $C = d + 1$
-- a regular simplex, $\cos\theta = -1/d$.
nb.manual_seed(4)
local P = centerloss.pedcc(10, 2, {dtype = 'f64'})
check.answer('PEDCC, 10 classes in 2-D: closest pair = 2 sin(π/10)', centerloss.min_distance(P),
             2 * math.sin(math.pi / 10), 1e-6)
local S = centerloss.pedcc(4, 3, {dtype = 'f64'})
check.answer('PEDCC, 4 classes in 3-D: Gram matrix 1 on the diagonal, −1/3 off it', S:mm(S:t()),
             nb.eye(4, 'f64') * (4 / 3) - 1 / 3, 1e-6)

-- %% Training with fixed centers
-- A simplified PEDCC run: the class scores are $x \cdot p_j$ with the fixed unit centroids
-- $p_j$ (no learned classifier), and the center term pulls $x_i$ towards $3p_{y_i}$ with
-- $\lambda = 1$; the centers never move. In this 2-D toy the lesson only reports what it
-- measures; the course's claim that PEDCC beats center loss is not tested here.
local P32 = P:to('f32')
local fixed = nn.CenterLoss(10, 2)
nb.no_grad(function() fixed.centers:copy_(P32 * 3) end)
local ped = train('fixed centers (PEDCC)', {lambda = lambda, rule = 'fixed', centers = fixed,
                                            head = function(e) return e:mm(P32:t()) end})
plot.scatter(ped.emb, {labels = TY, names = classes, title = 'fixed evenly spread centers'})
check.answer('fixed centers: total movement over training', centerloss.drift(ped.hist.centers).path,
             0, 0)
print(string.format('intra/inter: fixed centers %.3f, learned centers (Wen) %.3f, softmax %.3f',
                    ped.stats.ratio, cen.stats.ratio, soft.stats.ratio))

-- %% Summary
-- The table below collects the runs. What the course got right and wrong:
--
-- - $L = L_S + \lambda L_c$ and $\partial L_c/\partial x_i = x_i - c_{y_i}$: right, checked.
-- - $\partial L_c/\partial c_j = \Delta c_j$: wrong — the gradient has no denominator; $\Delta
--   c_j$ is an averaged update direction, off by the factor $\varepsilon + n_j$.
-- - Denominator $\varepsilon$: Wen et al. use $1 + n_j$; with $\varepsilon$ the center jumps
--   onto the batch mean, and with one sample onto that sample.
-- - $c_j = c_{j-1} - \Delta c_j$: the index is the iteration, and the step needs $\alpha$.
-- - "Update $z_i$": $z_i$'s gradient is backpropagated; parameters need $\eta$ and $\lambda$.
-- - Why not center loss alone: beyond the jitter, $L_c$ alone collapses all classes.
--
-- Compactness is what the center loss bought here; with a 2-D bottleneck and a few epochs
-- it did not raise the test accuracy (the table shows it).
print(string.format('%-24s %8s %12s %12s', 'run', 'acc', 'intra/inter', 'mean step'))
print('(accuracy of "center loss alone" is nearest-center; mean step over the 2nd half)')
for _, name in ipairs({'softmax', 'center (Wen)', "center (course's rule)", 'center loss alone',
                       'fixed centers (PEDCC)'}) do
  local r = runs[name]
  local step = centerloss.drift(r.hist.centers, {skip = r.hist.steps // 2}).mean_step
  print(string.format('%-24s %8.3f %12.3f %12.4f', name, r.acc, r.stats.ratio, step))
end
