-- # Neural architecture search with reinforcement learning
-- summary: a REINFORCE controller with a moving-average baseline, MetaQNN Q-learning and random search choosing small CNNs for Fashion-MNIST; the policy gradient checked against its exact expectation; the MnasNet/EfficientNet reward; the AutoAugment search-space size
-- time: minutes
--
-- Neural architecture search (NAS) treats the design of a network as a sequence of choices —
-- input resolution, number of layers, width and kernel size of each — and lets an agent make
-- them. Each sampled network (a *child*) is trained briefly and its validation accuracy is the
-- agent's reward. This lesson builds the three classic searchers (course problems S003-Q4 and
-- S004-Q1): a REINFORCE controller (Zoph & Le), tabular Q-learning (MetaQNN, Baker et al.)
-- and plain random search, and runs them on real children trained on a few hundred
-- Fashion-MNIST images. It checks the policy-gradient estimator against an exact expectation
-- and the Q-learning update against a hand-worked example, then turns to the
-- MnasNet/EfficientNet multi-objective reward and the size of AutoAugment's search space.
--
-- Everything reusable lives in `stdlib/nas.lua` (`:help nas.reinforce` and friends); the
-- search space is a parameter there, not tied to this lesson.

local nas = require 'nas'
nb.manual_seed(7)
local quick = lesson.quick
-- A Monte Carlo check passes when its worst z-score (|estimate − exact| / standard error) ≤ 4.
local function mc_answer(label, rep)
  print('  ' .. rep.text)
  check.answer(label .. ' — worst |z| ≤ 4', rep.z, 0, 4)
end

-- %% The search space
-- A child is a small CNN: an input resolution (14×14, by 2×2 average pooling, or the full
-- 28×28), then one to three blocks *conv k×k → ReLU → 2×2 max pool*, then a linear classifier.
-- Each block is one token: a (kernel, width) pair, or **stop** for blocks 2 and 3. The space is
-- a list of decisions, each a list of choices; `nas.STOP` ends the architecture.
--
-- **Your turn.** With $R$ resolutions, $L$ block types and at most $D$ blocks, how many
-- architectures are there? (Answer: $R\sum_{d=1}^{D} L^d$ — one term per depth.)
local widths = quick and {8} or {8, 16}
local kernels = {3, 5}
local max_blocks = quick and 2 or 3
local blocks = {}
for _, w in ipairs(widths) do
  for _, k in ipairs(kernels) do
    blocks[#blocks + 1] = {out = w, k = k, name = string.format('c%d×%d', k, w)}
  end
end
local decisions = {{name = 'resolution', choices = {14, 28}, labels = {'14×14', '28×28'}},
                   {name = 'layer1', choices = blocks}}
for b = 2, max_blocks do
  decisions[#decisions + 1] = {name = 'layer' .. b, choices = {nas.STOP, table.unpack(blocks)}}
end
local space = nas.space(decisions)
for _, d in ipairs(space.decisions) do
  print(string.format('%-10s %s', d.name, table.concat(d.labels, ', ')))
end
local R, L, D = 2, #blocks, max_blocks
local by_hand = 0
for d = 1, D do by_hand = by_hand + R * L ^ d end
local count = nas.size(space)
check.answer('architectures: nas.size vs R·Σ L^d', count, by_hand, 0)
check.answer('architectures: enumerated one by one', #nas.enumerate(space), by_hand, 0)

-- %% A child network and its cost
-- `nas.cnn_config` turns a sampled architecture into a network description and
-- `nas.build_cnn` into an `nn.Sequential`. Its multiply-accumulates are counted twice: by the
-- formula (`calc.macs` on layer specs) and by running each conv and linear layer on all-ones
-- inputs (`calc.measure_macs`). Padding is 'same' (k//2), so only the pools shrink the map.
local rng = nas.rng(11)
local example = {2, #blocks, 2, 0}
example[4] = max_blocks >= 3 and 1 or nil
local cfg = nas.cnn_config(space, example)
local child = nas.build_cnn(cfg)
print(nas.format(space, example))
child:summary({1, 1, 28, 28})
for i = 1, 5 do
  local idx = i == 1 and example or nas.random_arch(space, rng)
  local c = nas.cnn_config(space, idx)
  local formula = calc.macs(nas.cnn_specs(c), {1, 28, 28})
  local measured = calc.measure_macs(nas.build_cnn(c), {1, 1, 28, 28})
  check.answer(string.format('MACs of [%s]: counted vs formula', nas.format(space, idx)),
               measured, formula, 0)
end

-- %% Training a child
-- The reward of a child is its accuracy on held-out images after a *brief* training: a few
-- hundred Fashion-MNIST images, Adam, one or two epochs. This is the proxy every NAS method
-- relies on; it is noisy (a validation set of $m$ images has a standard error of about
-- $\sqrt{a(1-a)/m}$) and it favours networks that learn fast.
--
-- The evaluator seeds each child's initialisation and batch order from its architecture, so a
-- child's reward is a fixed number: training it again would give the same accuracy, and the
-- evaluator caches it. The three searches below share this cache.
local n_train, n_val = quick and 200 or 500, quick and 300 or 1000
local epochs = quick and 1 or 2
local X, y = data.fashion_mnist{split = 'train', n = n_train + n_val}
local splits = {X:narrow(1, 1, n_train), y:narrow(1, 1, n_train),
                X:narrow(1, n_train + 1, n_val), y:narrow(1, n_train + 1, n_val)}
local evaluate = nas.evaluator(space, splits, {train = {epochs = epochs, batch = 32, lr = 3e-3},
                                               seed = 1})
local e = evaluate.info(example)
print(string.format('%s: validation accuracy %.3f after %d epoch(s) on %d images (%.2f s)',
                    e.label, e.acc, epochs, n_train, e.time))
print(string.format('standard error of an accuracy near %.2f on %d images: %.3f', e.acc, n_val,
                    math.sqrt(e.acc * (1 - e.acc) / n_val)))

-- %% The REINFORCE gradient (S003-Q4a)
-- The controller is a distribution $\pi_\theta$ over architectures; it should maximise the
-- expected reward $J(\theta) = E_{a\sim\pi_\theta}[R(a)]$. The course gives the estimator
-- $\nabla_\theta J = \sum_t E[\nabla_\theta \log P(a_t\mid a_{1:t-1};\theta)\,R]$: sample an
-- architecture, multiply the gradient of its log-probability by its reward. Subtracting a
-- baseline $b$ that does not depend on the sample keeps it unbiased, because
-- $E[\nabla_\theta\log\pi_\theta(a)] = 0$.
--
-- Check it where the exact answer is known: two decisions (3 and 2 choices), a reward table,
-- a factorised softmax policy $\pi(a) = \mathrm{softmax}(\theta_1)_{a_1}\,
-- \mathrm{softmax}(\theta_2)_{a_2}$. **By hand:** $\partial J/\partial\theta_{t,j} =
-- \pi_t(j)\,(E[R\mid a_t = j] - E[R])$.
local tiny = nas.space{{name = 'first', choices = {'A', 'B', 'C'}},
                       {name = 'second', choices = {'x', 'y'}}}
local Rt = {{0.60, 0.72}, {0.81, 0.55}, {0.90, 0.64}}
local theta = {{0.2, -0.4, 0.1}, {0.3, -0.2}}
local policy = nas.FactorisedPolicy(tiny, {init = theta})
local function softmax(v)
  local m, s, out = math.max(table.unpack(v)), 0, {}
  for i, x in ipairs(v) do out[i] = math.exp(x - m); s = s + out[i] end
  for i = 1, #v do out[i] = out[i] / s end
  return out
end
local p1, p2 = softmax(theta[1]), softmax(theta[2])
local ER = 0
for a = 1, 3 do for b = 1, 2 do ER = ER + p1[a] * p2[b] * Rt[a][b] end end
local hand = {}
for j = 1, 3 do
  local c = 0
  for b = 1, 2 do c = c + p2[b] * Rt[j][b] end
  hand[#hand + 1] = p1[j] * (c - ER)
end
for j = 1, 2 do
  local c = 0
  for a = 1, 3 do c = c + p1[a] * Rt[a][j] end
  hand[#hand + 1] = p2[j] * (c - ER)
end
local hand_grad = nb.tensor(hand, {dtype = 'f64'})
local reward_tiny = function(idx) return Rt[idx[1]][idx[2]] end
local g_exact, J = nas.exact_gradient(policy, reward_tiny)
print(string.format('E[R] = %.4f;  ∇J by hand: %s', ER, table.concat(
  (function() local t = {} for i, v in ipairs(hand) do t[i] = string.format('%.4f', v) end return t end)(), ', ')))
check.answer('E[R]: enumeration vs hand', J, ER, 1e-12)
check.answer('∇J: autograd through Σ π(a)R(a) vs hand formula', nas.flat(g_exact), hand_grad, 1e-12)

-- %% The Monte Carlo estimator matches
-- Now the estimator itself, as the controller uses it: one sampled architecture per draw,
-- $(R - b)\nabla_\theta\log\pi_\theta(a)$ by autograd, averaged over many draws, with $b = 0$
-- and with $b = E[R]$. Both must agree with the exact gradient within 4 standard errors in
-- every coordinate; the baseline only changes the spread.
local n_mc = quick and 4000 or 20000
local mc_rng = nas.rng(5)
local function estimator(b)
  return function()
    local a = policy:sample(mc_rng)
    return nas.flat(nas.score_gradient(policy, a, reward_tiny(a) - b))
  end
end
local _, rep0 = check.mc(estimator(0), hand_grad, {n = n_mc, z = 4})
mc_answer(string.format('REINFORCE, no baseline, %d samples', n_mc), rep0)
local _, repb = check.mc(estimator(ER), hand_grad, {n = n_mc, z = 4})
mc_answer(string.format('REINFORCE, baseline b = E[R], %d samples', n_mc), repb)
local var0 = (rep0.stderr ^ 2):sum():item() * n_mc
local varb = (repb.stderr ^ 2):sum():item() * n_mc
print(string.format('total variance per sample: %.4f without baseline, %.4f with (%.1f× smaller)',
                    var0, varb, var0 / varb))
check.answer('the baseline reduces the variance (ratio > 1)', var0 / varb > 1 and 1 or 0, 1, 0)

-- %% REINFORCE on real children
-- `nas.reinforce` samples a child from a factorised softmax policy (one logit vector per
-- decision, all zeros at the start: uniform), trains it, and takes an Adam step on
-- $-(R - b)\log\pi_\theta(a)$, with $b$ the exponential moving average of earlier rewards
-- ($b \leftarrow 0.9\,b + 0.1\,R$). A small RNN controller that emits the tokens one by one
-- (`nas.RNNPolicy`) is the same call with `policy = ...`; it appears on the table below.
local budget = quick and 8 or 40
local h_rl = nas.reinforce(space, evaluate, {n = budget, lr = 0.1, seed = 101})
print(string.format('%d children, best %.3f: %s', budget, h_rl.best_reward,
                    nas.format(space, h_rl.best_idx)))
print('final policy, per decision:')
for t, p in ipairs(h_rl.policy:probs()) do
  local parts = {}
  for i, v in ipairs(p) do parts[i] = string.format('%s %.2f', space.decisions[t].labels[i], v) end
  print(string.format('  %-10s %s', space.decisions[t].name, table.concat(parts, '  ')))
end

-- %% Q-learning, worked by hand (S003-Q4a)
-- MetaQNN treats the choices as an episode: in state $s_t$ the agent picks $a_t$; the reward
-- is 0 until the architecture is complete, then $R$ = the child's accuracy. The update is
-- $Q(s_t,a_t) \leftarrow (1-\alpha)Q(s_t,a_t) + \alpha\,(r_t + \gamma\max_{a'}Q(s_{t+1},a'))$.
-- The course writes $\max_{a\in A} Q(s_{t+1}, a')$: a typo — the max runs over $a'$, the
-- actions of the next state.
--
-- **By hand**, with $Q_0 = 0.5$ everywhere, $\alpha = 0.1$, $\gamma = 1$, on the tiny space,
-- updating the last step first (as MetaQNN does):
--
-- * episode (A, x), $R = 0.9$: $Q(s_2, x) = 0.9\cdot0.5 + 0.1\cdot0.9 = 0.54$, then
--   $Q(s_1, A) = 0.9\cdot0.5 + 0.1\cdot\max(0.54, 0.5) = 0.504$;
-- * episode (A, y), $R = 0.6$: $Q(s_2, y) = 0.45 + 0.06 = 0.51$, then
--   $Q(s_1, A) = 0.9\cdot0.504 + 0.1\cdot\max(0.54, 0.51) = 0.5076$.
-- States are keyed by the decision and the earlier choices: '1:' is the start, '2:1' is
-- "second decision, after choice 1 (A)".
local q = nas.QLearner(tiny, {alpha = 0.1, gamma = 1, q_init = 0.5})
q:update({1, 1}, 0.9)
check.answer('Q(s₂, x) after episode 1', q:values(2, '2:1')[1], 0.54, 1e-12)
check.answer('Q(s₁, A) after episode 1', q:values(1, '1:')[1], 0.504, 1e-12)
q:update({1, 2}, 0.6)
check.answer('Q(s₂, y) after episode 2', q:values(2, '2:1')[2], 0.51, 1e-12)
check.answer('Q(s₁, A) after episode 2', q:values(1, '1:')[1], 0.5076, 1e-12)

-- %% Why the max matters
-- Reading $a'$ as "the action actually taken next" instead of "the best next action" gives
-- SARSA, a different algorithm: after episode 2 it would use $Q(s_2, y) = 0.51$, not 0.54, and
-- get $Q(s_1, A) = 0.9\cdot0.504 + 0.1\cdot0.51 = 0.5046$. The max lets a first choice inherit
-- the value of its *best* continuation. A toy where that shows: A leads to rewards 0.3 or
-- **0.9**, B to 0.7 or 0.7. A is better on its best path (0.9) but worse on average (0.6 <
-- 0.7), so an estimate that averages the rewards seen after A, while exploring at random,
-- prefers B. ε-greedy Q-learning with replay must end up choosing A then y.
local sarsa = 0.9 * 0.504 + 0.1 * q:values(2, '2:1')[2]
print(string.format('SARSA reading: Q(s₁, A) = %.4f;  Q-learning: %.4f', sarsa,
                    q:values(1, '1:')[1]))
local toy = nas.space{{name = 'first', choices = {'A', 'B'}}, {name = 'second', choices = {'x', 'y'}}}
local toy_R = {['1-1'] = 0.3, ['1-2'] = 0.9, ['2-1'] = 0.7, ['2-2'] = 0.7}
local h_toy = nas.metaqnn(toy, nas.table_reward(toy_R), {n = 100, alpha = 0.1, gamma = 1,
                                                         replay = 10, seed = 3})
local greedy = h_toy.learner:greedy()
local sum_A, n_A, sum_B, n_B = 0, 0, 0, 0
for i = 1, 50 do   -- the ε = 1 half: choices uniformly at random
  if h_toy.archs[i][1] == 1 then sum_A, n_A = sum_A + h_toy.rewards[i], n_A + 1
  else sum_B, n_B = sum_B + h_toy.rewards[i], n_B + 1 end
end
print(string.format('mean reward after A / after B in the random half: %.3f / %.3f',
                    sum_A / n_A, sum_B / n_B))
print(string.format('greedy architecture after 100 episodes: %s (Q(s₁,A) = %.3f, Q(s₁,B) = %.3f)',
                    nas.format(toy, greedy), h_toy.learner:values(1, '1:')[1],
                    h_toy.learner:values(1, '1:')[2]))
check.answer('toy MetaQNN converges to the best architecture: its reward', toy_R[nas.key(greedy)],
             0.9, 0)

-- %% MetaQNN on real children
-- `nas.metaqnn` follows MetaQNN's recipe: Q-values start at 0.5; ε = 1 (pure exploration) for
-- the first half of the budget, then 0.9, 0.8 … 0.1; after each child, 10 earlier episodes are
-- replayed from memory. The state is MetaQNN's (block index, previous block), `state='last'`.
local h_q = nas.metaqnn(space, evaluate, {n = budget, state = 'last', replay = 10, seed = 202})
print(string.format('%d children, best %.3f: %s', budget, h_q.best_reward,
                    nas.format(space, h_q.best_idx)))
print('ε per child:', table.concat(h_q.epsilon, ' '))

-- %% Random search
-- The baseline every NAS paper must beat: choose uniformly at each decision. (This is uniform
-- over *choices*, not over architectures: a one-block child is drawn with probability
-- 1/(L+1) per stop, more often than its share of the space.)
local h_rand = nas.random_search(space, evaluate, {n = budget, seed = 303})
print(string.format('%d children, best %.3f: %s', budget, h_rand.best_reward,
                    nas.format(space, h_rand.best_idx)))
print(string.format('distinct children trained by the three searches: %d of %d (%.0f s of training)',
                    evaluate.trained, count, evaluate.time))

-- %% Best so far
-- The figure of merit of a search: the best accuracy found after $n$ children. One run of each
-- method, on the same cached rewards:
plot.line({REINFORCE = h_rl.best, MetaQNN = h_q.best, random = h_rand.best},
          {title = 'best validation accuracy so far', xlabel = 'children', ylabel = 'accuracy'})
local rows = {}
for _, h in ipairs({h_rl, h_q, h_rand}) do
  local s = 0
  for i = #h.rewards - math.min(9, #h.rewards - 1), #h.rewards do s = s + h.rewards[i] end
  rows[#rows + 1] = {method = h.method, best = string.format('%.3f', h.best_reward),
                     last = string.format('%.3f', s / math.min(10, #h.rewards)),
                     arch = nas.format(space, h.best_idx)}
end
print(calc.table(rows, {'method', {'best', 'best'}, {'last', 'mean of last 10'}, {'arch', 'best child'}}))
print('One run each is one draw: the next cell measures how much of the difference is luck.')

-- %% The whole space
-- This space is small enough to train every child once (the cache makes this cost only the
-- children not yet seen). The table is the ground truth for this proxy: the best child, and the
-- rank each search's find has in it.
local t_fill = nb.clock()
for _, idx in ipairs(nas.enumerate(space)) do evaluate(idx) end
print(string.format('trained the remaining children in %.1f s; %d in all', nb.clock() - t_fill,
                    evaluate.trained))
local ranked = {}
for _, en in pairs(evaluate.cache) do ranked[#ranked + 1] = en end
table.sort(ranked, function(a, b) return a.acc > b.acc end)
local top = {}
for i = 1, math.min(5, #ranked) do
  top[i] = {rank = i, arch = ranked[i].label, acc = string.format('%.3f', ranked[i].acc),
            macs = calc.fmt(ranked[i].macs)}
end
print(calc.table(top, {'rank', {'arch', 'child'}, {'acc', 'accuracy'}, {'macs', 'MACs'}}))
print(string.format('worst child: %s, accuracy %.3f', ranked[#ranked].label, ranked[#ranked].acc))
for _, h in ipairs({h_rl, h_q, h_rand}) do
  print(string.format('%-9s found rank %d of %d', h.method,
                      nas.rank_of(h.best_reward, evaluate.cache, 'acc'), #ranked))
end
check.answer('every child of the space trained once', evaluate.trained, count, 0)

-- %% Many searches on the table
-- With every reward known, a search costs milliseconds, so each method can be repeated with
-- many seeds (a *tabular benchmark*, as NAS-Bench-101 does for a larger space). Plotted: the
-- mean best-so-far over the runs. Also the fraction of runs that found the best child, and the
-- mean reward of the last 10 children (how much the searcher has concentrated on good ones).
--
-- A caveat that favours REINFORCE: its learning rates (0.1 for the factorised policy, 0.01 for
-- the RNN) were picked by trying a few values (0.01 to 0.4) on this very table. MetaQNN ran with
-- its paper's recipe and random search has no knob. The verdict column only says whether the
-- difference from random search exceeds two standard errors on this space and budget.
local reps = quick and 30 or 200
local lookup = nas.table_reward(evaluate.cache, 'acc')
local best_acc = ranked[1].acc
local methods = {
  {name = 'REINFORCE', run = function(s) return nas.reinforce(space, lookup, {n = budget, lr = 0.1, seed = s}) end},
  {name = 'REINFORCE-RNN', run = function(s)
    nb.manual_seed(s)
    return nas.reinforce(space, lookup, {n = budget, lr = 0.01, seed = s, policy = nas.RNNPolicy(space)})
  end},
  {name = 'MetaQNN', run = function(s) return nas.metaqnn(space, lookup, {n = budget, state = 'last', seed = s}) end},
  {name = 'random', run = function(s) return nas.random_search(space, lookup, {n = budget, seed = s}) end},
}
local curves, stats = {}, {}
for _, m in ipairs(methods) do
  local hs, found, last = {}, 0, 0
  for s = 1, reps do
    local h = m.run(1000 + s)
    hs[s] = h
    if h.best_reward >= best_acc then found = found + 1 end
    for i = budget - math.min(9, budget - 1), budget do last = last + h.rewards[i] end
  end
  local mean, se = nas.mean_curve(hs)
  curves[m.name] = mean
  stats[m.name] = {final = mean[budget], se = se[budget], found = found / reps,
                   last = last / (reps * math.min(10, budget))}
end
plot.line(curves, {title = string.format('mean best-so-far over %d runs', reps),
                   xlabel = 'children', ylabel = 'accuracy'})
local rs = stats.random
local srows = {}
for _, m in ipairs(methods) do
  local st = stats[m.name]
  local z = (st.final - rs.final) / math.sqrt(st.se ^ 2 + rs.se ^ 2 + 1e-300)
  local verdict = m.name == 'random' and '' or
    (math.abs(z) < 2 and 'no clear difference' or (z > 0 and 'higher' or 'lower'))
  srows[#srows + 1] = {m = m.name, final = string.format('%.4f ± %.4f', st.final, st.se),
                       found = string.format('%.0f%%', 100 * st.found),
                       last = string.format('%.3f', st.last),
                       z = m.name == 'random' and '' or string.format('%+.1f', z), v = verdict}
end
print(string.format('after %d children (best child %.3f):', budget, best_acc))
print(calc.table(srows, {{'m', 'method'}, {'final', 'mean best ± s.e.'}, {'found', 'found best'},
                         {'last', 'mean of last 10'}, {'z', 'z vs random'}, {'v', 'vs random'}}))
print('"higher"/"lower": |z| ≥ 2 for the difference of mean best-so-far from random search.')

-- %% Depth and resolution (S003-Q4b)
-- Can RL tune the input size and the depth of a recognition network? Both are just tokens
-- the controller emits, so yes in principle. Whether it is *worth* it is an empirical question
-- the table answers for this proxy: accuracy per (resolution, depth) group, and the cost of a
-- child. Two things to look for: how much the group matters compared with the choices inside
-- it, and whether the brief training penalises depth (each block halves the map: three 2×2
-- pools leave a 14×14 input at 1×1).
local groups = {}
for _, en in ipairs(ranked) do
  local depth = #en.cfg.layers
  local k = string.format('%d×%d, %d block%s', en.cfg.resolution, en.cfg.resolution, depth,
                          depth > 1 and 's' or '')
  local g = groups[k] or {key = k, n = 0, sum = 0, best = 0, time = 0, res = en.cfg.resolution,
                          depth = depth}
  g.n, g.sum, g.time = g.n + 1, g.sum + en.acc, g.time + en.time
  g.best = math.max(g.best, en.acc)
  groups[k] = g
end
local grows = {}
for _, g in pairs(groups) do grows[#grows + 1] = g end
table.sort(grows, function(a, b) return a.res == b.res and a.depth < b.depth or a.res < b.res end)
for _, g in ipairs(grows) do
  g.mean = g.sum / g.n
  g.mean_s, g.best_s = string.format('%.3f', g.mean), string.format('%.3f', g.best)
  g.time_s = string.format('%.2f s', g.time / g.n)
end
print(calc.table(grows, {{'key', 'input, depth'}, {'n', 'children'}, {'mean_s', 'mean acc'},
                         {'best_s', 'best acc'}, {'time_s', 'time/child'}}))
local shallow, deep = grows[1], grows[#grows // 2]
print(string.format('at 14×14: mean accuracy %.3f with %d block(s), %.3f with %d', shallow.mean,
                    shallow.depth, deep.mean, deep.depth))
print(string.format('the best child is in group "%s"; %d groups of (resolution, depth): a grid ' ..
                    'search over them costs %d trainings', ranked[1].cfg.resolution .. '×' ..
                    ranked[1].cfg.resolution .. ', ' .. #ranked[1].cfg.layers .. ' block(s)',
                    #grows, #grows))
-- What the table says about the question: with a budget of a few dozen children, the brief
-- proxy rewards what learns fast, which need not be what is best after full training; and a
-- handful of (resolution, depth) pairs is a grid, not a search problem. RL earns its keep when
-- the space is far too large to enumerate and each child is cheap enough to train thousands of
-- times — or when, as in MnasNet, the reward also charges for cost.

-- %% The MnasNet / EfficientNet reward (S004-Q1)
-- To trade accuracy for cost, MnasNet and EfficientNet maximise
-- $\mathrm{ACC}(m)\times(\mathrm{FLOPS}(m)/T)^w$. The course gives no $w$; EfficientNet used
-- $w = -0.07$ and a target $T$ = 400M FLOPS *(values from the paper, as recalled in the
-- course catalogue)*. **By hand:** doubling the FLOPS multiplies the reward by
-- $2^{-0.07} = 0.9526$, so an accuracy of 0.77 at $2T$ is worth $0.7335$.
check.answer('2^−0.07 (reward at 2T over reward at T)',
             nas.mnas_reward(1, 800e6, {target = 400e6, w = -0.07}), 0.95264, 1e-5)
check.answer('reward of ACC 0.77 at 800M FLOPS, T = 400M',
             nas.mnas_reward(0.77, 800e6, {target = 400e6, w = -0.07}), 0.73353, 1e-5)
local ratios, soft, hard = {}, {}, {}
for i = 0, 40 do
  local r = 2 ^ (-3 + 6 * i / 40)
  ratios[#ratios + 1] = r
  soft[#soft + 1] = nas.mnas_reward(1, r, {target = 1, w = -0.07})
  hard[#hard + 1] = nas.mnas_reward(1, r, {target = 1, alpha = 0, beta = -1})
end
plot.line({['soft, w = −0.07'] = soft, ['hard, α = 0, β = −1'] = hard},
          {x = ratios, title = 'reward multiplier (FLOPS/T)^w', xlabel = 'FLOPS / T'})

-- %% The reward on our children
-- Our children cost thousands of times less than ImageNet models, so pick a target for them:
-- T = 200,000 multiply-accumulates (EfficientNet's "FLOPS" are multiply-adds too). A few
-- sampled children, then the best of the whole table by accuracy and by the multi-objective
-- reward.
local T = 200000
local sample_rows = {}
local srng = nas.rng(17)
for i = 1, 6 do
  local en = evaluate.info(nas.random_arch(space, srng))
  sample_rows[i] = {arch = en.label, acc = string.format('%.3f', en.acc), macs = calc.fmt(en.macs),
                    f = string.format('%.3f', (en.macs / T) ^ -0.07),
                    r = string.format('%.4f', nas.mnas_reward(en.acc, en.macs, {target = T, w = -0.07}))}
end
print(calc.table(sample_rows, {{'arch', 'child'}, {'acc', 'ACC'}, {'macs', 'MACs'},
                               {'f', '(MACs/T)^w'}, {'r', 'reward'}}))
local by_reward = {}
for _, en in ipairs(ranked) do
  by_reward[#by_reward + 1] = {en = en, r = nas.mnas_reward(en.acc, en.macs, {target = T, w = -0.07})}
end
table.sort(by_reward, function(a, b) return a.r > b.r end)
print(string.format('best by accuracy: %s (ACC %.3f, %s MACs)', ranked[1].label, ranked[1].acc,
                    calc.fmt(ranked[1].macs)))
print(string.format('best by reward:   %s (ACC %.3f, %s MACs, reward %.4f)', by_reward[1].en.label,
                    by_reward[1].en.acc, calc.fmt(by_reward[1].en.macs), by_reward[1].r))

-- %% The AutoAugment search space (S004-Q1)
-- AutoAugment searches augmentation policies: a policy is 5 sub-policies, each 2 operations,
-- each operation a (type, probability, magnitude) triple with 16 types, 11 probabilities
-- (0, 0.1, …, 1) and 10 magnitudes. The course's text is garbled here: it reads
-- "10^32 × 10^32 … for 0 sub-policies".
--
-- **By hand:** one operation has $16\cdot11\cdot10 = 1760$ settings, a sub-policy
-- $1760^2 = 3{,}097{,}600$, a policy $1760^{10} \approx 2.85\times10^{32}$
-- ($\log_{10} = 10\log_{10}1760 = 32.455$; the AutoAugment paper rounds it to
-- $2.9\times10^{32}$). `nas.autoaugment_space` builds the space as 30
-- decisions; `nas.size` counts it with exact integers.
local aa = nas.autoaugment_space()
local n_aa, info = nas.size(aa)
print('decisions:', aa.n)
print('policies: ' .. info.grouped)
check.answer('sub-policies: exact count vs 1760²', nas.size(nas.autoaugment_space{subpolicies = 1}),
             1760 * 1760, 0)
check.answer('policies: count vs 1760^10', n_aa, 1760.0 ^ 10, {atol = 0, rtol = 1e-12})
check.answer('log10 of the count vs 10·log10(1760)', info.log10, 10 * math.log(1760, 10), 1e-9)
print(string.format('the garbled "10^32 × 10^32" = 10^64 would be %.2g times too many;',
                    1e64 / n_aa))
print(string.format('"0 sub-policies" leaves %d policy (the empty one).',
                    nas.size(nas.autoaugment_space{subpolicies = 0})))
print('a random policy:')
print(nas.format_policy(aa, nas.random_arch(aa, nas.rng(29))))
print(string.format('one child here takes ~%.2f s; enumerating this space is out of the question,',
                    evaluate.time / evaluate.trained))
print('which is why AutoAugment searched it with an RL controller (and Fast AutoAugment with')
print('Bayesian optimisation and density matching, without retraining per policy).')
