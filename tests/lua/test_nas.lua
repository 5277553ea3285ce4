-- nas: search spaces and their sizes, policies and the REINFORCE gradient against exact
-- expectations, the MetaQNN update worked by hand, the searchers on reward tables, child
-- networks (MACs formula vs counted), the trainer and the cached evaluator, rewards.
local H = require 'harness'
local nb = require 'nabla'
local check = require 'check'
local calc = require 'calc'
local nas = require 'nas'

---------------------------------------------------------------------------- rng
local r1, r2 = nas.rng(42), nas.rng(42)
local same, inrange = true, true
for _ = 1, 100 do
  local a, b = r1:uniform(), r2:uniform()
  same = same and a == b
  inrange = inrange and a >= 0 and a < 1
end
H.check(same and inrange, 'rng: same seed, same stream, in [0, 1)')
H.check(nas.rng(1):uniform() ~= nas.rng(2):uniform(), 'rng: different seeds differ')
-- categorical frequencies: 20000 draws of (0.2, 0.5, 0.3); binomial s.e. ≤ 0.0036, allow 5 s.e.
local counts, rc = {0, 0, 0}, nas.rng(7)
for _ = 1, 20000 do local i = rc:categorical({0.2, 0.5, 0.3}); counts[i] = counts[i] + 1 end
H.check(math.abs(counts[1] / 20000 - 0.2) < 0.018 and math.abs(counts[2] / 20000 - 0.5) < 0.018,
        'rng: categorical frequencies %d %d %d', counts[1], counts[2], counts[3])

---------------------------------------------------------------------------- spaces, sizes
H.checkerror('non-empty list of decisions', nas.space, {})
H.checkerror('decision 2 has no choices', nas.space, {{choices = {1}}, {choices = {}}})
local plain = nas.space{{name = 'a', choices = {1, 2}}, {name = 'b', choices = {1, 2, 3}},
                        {name = 'c', choices = {1, 2, 3, 4}}}
H.check(nas.size(plain) == 24, 'product space: 2·3·4 = 24')
H.check(#nas.enumerate(plain) == 24, 'enumerate: 24 architectures')
-- with STOP: res {2} × layer1 {3} × layer2 {stop + 3} × layer3 {stop + 3} = 2·(3 + 9 + 27)
local S = nas.STOP
local staged = nas.space{{name = 'res', choices = {14, 28}}, {name = 'layer1', choices = {'a', 'b', 'c'}},
                         {name = 'layer2', choices = {S, 'a', 'b', 'c'}},
                         {name = 'layer3', choices = {S, 'a', 'b', 'c'}}}
H.check(nas.size(staged) == 78, 'stop space: 2·(3 + 9 + 27) = 78, got %s', nas.size(staged))
local all = nas.enumerate(staged)
H.check(#all == 78, 'enumerate with stop: 78')
local keys, zeros_ok = {}, true
for _, a in ipairs(all) do
  keys[nas.key(a)] = true
  if a[3] == 1 then zeros_ok = zeros_ok and a[4] == 0 end
end
local nkeys = 0
for _ in pairs(keys) do nkeys = nkeys + 1 end
H.check(nkeys == 78 and zeros_ok, 'distinct, inactive decisions after stop are 0')
H.checkerror('exceed limit', nas.enumerate, plain, {limit = 10})
-- AutoAugment: (16·10·11)^10; digits from Python 3: 1760**10
local n_aa, info = nas.size(nas.autoaugment_space())
H.check(info.exact == '285184999433627773173760000000000', 'AutoAugment exact: %s', info.exact)
H.close(n_aa, 2.8518499943362777e32, 1e-12, 'AutoAugment as a float')
H.close(info.log10, 10 * math.log(1760, 10), 1e-12, 'log10 = 10·log10(1760)')
H.check(info.grouped:sub(1, 8) == '285,184,', 'grouped digits')
H.check(nas.size(nas.autoaugment_space{subpolicies = 1}) == 3097600, 'one sub-policy: 1760²')
H.check(nas.size(nas.autoaugment_space{subpolicies = 0}) == 1, 'no sub-policy: one policy')
local aa = nas.autoaugment_space()
local pol_text = nas.format_policy(aa, nas.random_arch(aa, nas.rng(3)))
local nlines = select(2, pol_text:gsub('\n', '')) + 1
H.check(nlines == 5 and pol_text:find('sub%-policy 1: %(%a+, p=%d%.%d, m=%d%)'), 'format_policy')

---------------------------------------------------------------------------- decode, random
local arch = nas.decode(staged, {2, 3, 1, 0})
H.check(arch.res == 28 and arch.layer1 == 'c' and arch.layer2 == S and arch.layer3 == nil,
        'decode values')
H.check(arch.label == '28 · c', 'label skips stop: %s', arch.label)
H.check(nas.key({2, 3, 1, 0}) == '2-3-1-0', 'key')
H.checkerror('out of range', nas.decode, staged, {3, 1, 1, 0})
local rr, stop_ok = nas.rng(9), true
for _ = 1, 200 do
  local a = nas.random_arch(staged, rr)
  if a[3] == 1 then stop_ok = stop_ok and a[4] == 0 end
  stop_ok = stop_ok and a[1] >= 1 and a[1] <= 2
end
H.check(stop_ok, 'random_arch respects stop')

---------------------------------------------------------------------------- policies
local function total_prob(policy)
  local s = 0
  nb.no_grad(function()
    for _, a in ipairs(nas.enumerate(policy.space)) do s = s + math.exp(policy:log_prob(a):item()) end
  end)
  return s
end
nb.manual_seed(3)
local fp = nas.FactorisedPolicy(staged, {init = {{0.3, -0.1}, {0.5, 0, -0.5}, {1, 0, 0.2, -1},
                                                 {-0.5, 0.1, 0.4, 0}}})
H.close(total_prob(fp), 1, 1e-12, 'factorised: probabilities over the stop space sum to 1')
local rp = nas.RNNPolicy(staged, {hidden = 6, embed = 3})
H.close(total_prob(rp), 1, 1e-12, 'RNN: probabilities over the stop space sum to 1')
-- entropy vs −Σ p log p by enumeration
local ent = 0
for _, e in ipairs(nas.distribution(fp)) do ent = ent - e.p * math.log(e.p) end
H.close(fp:entropy(), ent, 1e-12, 'factorised entropy (exact) vs enumeration')
local dist = nas.distribution(fp)
H.check(dist[1].p >= dist[2].p and dist[#dist].p <= dist[2].p, 'distribution sorted')
H.checkerror('no choice at decision', function() return rp:log_prob({1}) end)

-- exact gradient of J = Σ π(a) R(a) against central differences of J in the logits (RNN:
-- every parameter; J computed by enumeration without autograd).
local R = {}
for _, a in ipairs(nas.enumerate(staged)) do R[nas.key(a)] = ((#nas.key(a) * 7919) % 97) / 97 end
local function J_of(policy)
  local s = 0
  nb.no_grad(function()
    for _, a in ipairs(nas.enumerate(staged)) do
      s = s + math.exp(policy:log_prob(a):item()) * R[nas.key(a)]
    end
  end)
  return s
end
for _, pol in ipairs({fp, rp}) do
  local g = nas.exact_gradient(pol, R)
  local worst = 0
  for k, p in ipairs(pol:parameters()) do
    local flat, gk = p:detach():view(-1), g[k]:reshape(-1)
    for j = 1, p:numel() do
      local v = flat:get(j)
      flat:set(j, v + 1e-6); local jp = J_of(pol)
      flat:set(j, v - 1e-6); local jm = J_of(pol)
      flat:set(j, v)
      worst = math.max(worst, math.abs((jp - jm) / 2e-6 - gk:get(j)))
    end
  end
  H.check(worst < 1e-7, '%s: exact_gradient vs finite differences (worst %.2g)', pol.kind, worst)
end

-- factorised, no stop: hand formula ∂J/∂θ_{t,j} = π_t(j)(E[R | a_t = j] − E[R])
local tiny = nas.space{{choices = {'A', 'B', 'C'}}, {choices = {'x', 'y'}}}
local Rt = {{0.60, 0.72}, {0.81, 0.55}, {0.90, 0.64}}
local tp = nas.FactorisedPolicy(tiny, {init = {{0.2, -0.4, 0.1}, {0.3, -0.2}}})
local P = tp:probs()
local ER = 0
for a = 1, 3 do for b = 1, 2 do ER = ER + P[1][a] * P[2][b] * Rt[a][b] end end
local hand = {}
for j = 1, 3 do hand[j] = P[1][j] * (P[2][1] * Rt[j][1] + P[2][2] * Rt[j][2] - ER) end
for j = 1, 2 do
  hand[3 + j] = P[2][j] * (P[1][1] * Rt[1][j] + P[1][2] * Rt[2][j] + P[1][3] * Rt[3][j] - ER)
end
local tiny_R = function(a) return Rt[a[1]][a[2]] end
local gt, Jt = nas.exact_gradient(tp, tiny_R)
H.close(Jt, ER, 1e-12, 'J = E[R]')
H.close(nas.flat(gt), hand, 1e-12, 'exact gradient vs hand formula')
-- Monte Carlo: REINFORCE samples (R − b)∇log π, mean within z = 4 of the exact gradient
local mr = nas.rng(21)
local ok0, rep0 = check.mc(function()
  local a = tp:sample(mr)
  return nas.flat(nas.score_gradient(tp, a, tiny_R(a) - 0.5))
end, nas.flat(gt), {n = 4000, z = 4})
H.check(ok0, 'factorised REINFORCE estimator: %s', rep0.text)
-- the RNN on the stop space: 153 coordinates, z = 4.5 (Bonferroni: ≈ 0.1% false alarms)
local grn = nas.exact_gradient(rp, R)
local okr, repr = check.mc(function()
  local a = rp:sample(mr)
  return nas.flat(nas.score_gradient(rp, a, R[nas.key(a)]))
end, nas.flat(grn), {n = 2000, z = 4.5})
H.check(okr, 'RNN REINFORCE estimator: %s', repr.text)

---------------------------------------------------------------------------- REINFORCE loop
local toy = nas.space{{choices = {'A', 'B'}}, {choices = {'x', 'y'}}}
local toy_R = nas.table_reward({['1-1'] = 0.3, ['1-2'] = 0.9, ['2-1'] = 0.7, ['2-2'] = 0.7})
local h = nas.reinforce(toy, toy_R, {n = 300, lr = 0.1, seed = 4})
local best_p
for _, e in ipairs(nas.distribution(h.policy)) do if nas.key(e.idx) == '1-2' then best_p = e.p end end
H.check(best_p > 0.8, 'REINFORCE concentrates on the best architecture: p = %.3f', best_p)
-- the moving-average baseline: b_1 = R_1, b_2 = 0.9 b_1 + 0.1 R_2
H.close(h.baseline[1], h.rewards[1], 1e-15, 'baseline starts at the first reward')
H.close(h.baseline[2], 0.9 * h.rewards[1] + 0.1 * h.rewards[2], 1e-15, 'baseline EMA')
local mono = true
for i = 2, #h.best do mono = mono and h.best[i] >= h.best[i - 1] end
H.check(mono and h.best_reward == 0.9, 'best so far is monotone, ends at 0.9')
local hb = nas.reinforce(toy, toy_R, {n = 10, batch = 4, baseline = false, seed = 4})
H.check(#hb.rewards == 10 and hb.baseline[10] == 0, 'batch = 4, no baseline')
local hr = nas.reinforce(toy, toy_R, {n = 5, seed = 4, policy = nas.RNNPolicy(toy), lr = 0.01})
H.check(#hr.rewards == 5, 'REINFORCE with the RNN policy runs')
local h1 = nas.reinforce(toy, toy_R, {n = 20, seed = 8})
local h2 = nas.reinforce(toy, toy_R, {n = 20, seed = 8})
H.check(table.concat(h1.keys, ',') == table.concat(h2.keys, ','), 'seeded REINFORCE reproducible')

---------------------------------------------------------------------------- Q-learning
-- hand-worked: Q0 = 0.5, α = 0.1, γ = 1; episode (A, x) R = 0.9 then (A, y) R = 0.6
local q = nas.QLearner(tiny, {alpha = 0.1, gamma = 1, q_init = 0.5})
q:update({1, 1}, 0.9)
H.close(q:values(2, '2:1')[1], 0.54, 1e-15, 'Q(s2, x) = 0.9·0.5 + 0.1·0.9')
H.close(q:values(1, '1:')[1], 0.504, 1e-15, 'Q(s1, A) = 0.9·0.5 + 0.1·max(0.54, 0.5)')
q:update({1, 2}, 0.6)
H.close(q:values(2, '2:1')[2], 0.51, 1e-15, 'Q(s2, y) = 0.45 + 0.06')
H.close(q:values(1, '1:')[1], 0.5076, 1e-15, 'Q(s1, A) = 0.9·0.504 + 0.1·0.54')
H.close(q:values(1, '1:')[2], 0.5, 1e-15, 'Q(s1, B) untouched')
-- γ = 0.5: Q(s1, A) = 0.9·0.5 + 0.1·0.5·0.54 = 0.477
local qg = nas.QLearner(tiny, {gamma = 0.5})
qg:update({1, 1}, 0.9)
H.close(qg:values(1, '1:')[1], 0.477, 1e-15, 'discount γ = 0.5')
-- 'last' states and an episode that stops early: res → layer1 → stop
local ql = nas.QLearner(staged, {state = 'last', q_init = 0})
ql:update({2, 3, 1, 0}, 1)
H.close(ql:values(3, '3:3')[1], 0.1, 1e-15, 'stop transition gets the reward')
H.close(ql:values(2, '2:2')[3], 0.01, 1e-15, 'then layer1')
H.close(ql:values(1, '1:0')[2], 0.001, 1e-15, 'then the resolution')
H.check(ql.Q['4:1'] == nil, 'no state after stop')
H.checkerror("state must be", nas.QLearner, tiny, {state = 'bogus'})
local sched = nas.epsilon_schedule(40)
local tot = 0
for _, s in ipairs(sched) do tot = tot + s.n end
H.check(tot == 40 and sched[1].epsilon == 1 and sched[1].n == 20 and
        sched[#sched].epsilon == 0.1, 'epsilon schedule: %d children', tot)
local hq = nas.metaqnn(toy, toy_R, {n = 100, replay = 10, seed = 3})
H.check(nas.key(hq.learner:greedy()) == '1-2', 'MetaQNN toy: greedy = (A, y)')
H.close(hq.learner:values(1, '1:')[1], 0.9, 1e-3, 'MetaQNN toy: Q(s1, A) → 0.9')
H.close(hq.learner:values(1, '1:')[2], 0.7, 1e-3, 'MetaQNN toy: Q(s1, B) → 0.7')
H.check(#hq.epsilon == 100 and hq.epsilon[1] == 1 and hq.epsilon[100] == 0.1, 'ε recorded')
local hm = nas.metaqnn(staged, nas.table_reward(R), {n = 30, state = 'last', seed = 1})
H.check(#hm.rewards == 30, 'MetaQNN on the stop space')

---------------------------------------------------------------------------- random search
local hs1 = nas.random_search(staged, nas.table_reward(R), {n = 30, seed = 5})
local hs2 = nas.random_search(staged, nas.table_reward(R), {n = 30, seed = 5})
H.check(table.concat(hs1.keys, ',') == table.concat(hs2.keys, ','), 'random search reproducible')
local mx = -1
for _, v in ipairs(hs1.rewards) do mx = math.max(mx, v) end
H.check(hs1.best_reward == mx and hs1.best[30] == mx, 'best_reward is the max')
H.checkerror('no entry for', nas.table_reward({}), {1, 1})
H.checkerror('not a number', nas.random_search, toy, function() return 0 / 0 end, {n = 1})
local m, se = nas.mean_curve({{best = {1, 2}}, {best = {3, 4}}})
H.close(m, {2, 3}, 1e-15, 'mean_curve')
H.close(se, {1, 1}, 1e-12, 'mean_curve s.e. (sd √2 / √2)')
H.check(nas.rank_of(0.5, {a = 0.9, b = 0.5, c = 0.1}) == 2, 'rank_of')

---------------------------------------------------------------------------- children
local cfg = {resolution = 14, layers = {{out = 4, k = 3}, {out = 6, k = 5}}, hidden = 12}
local net = nas.build_cnn(cfg)
local out = net(nb.randn(3, 1, 28, 28))
H.check(out:size(1) == 3 and out:size(2) == 10, 'build_cnn output [3, 10]')
local formula = calc.macs(nas.cnn_specs(cfg), {1, 28, 28})
local counted = calc.measure_macs(net, {1, 1, 28, 28})
-- by hand: conv 1→4 k3 on 14²: 196·4·9 = 7056; conv 4→6 k5 on 7²: 49·6·100 = 29400;
-- linear 6·3·3 = 54 → 12: 648; 12 → 10: 120
H.check(formula == 37224 and counted == 37224, 'MACs: formula %d, counted %d, hand 37224',
        formula, counted)
H.checkerror('must divide', nas.build_cnn, {resolution = 10})
H.checkerror('already 1×1', nas.build_cnn, {resolution = 2, in_size = 2,
                                           layers = {{out = 2}, {out = 2}}})
local dsp = nas.space{{name = 'depth', choices = {1, 2}}, {name = 'width', choices = {4, 8}},
                      {name = 'kernel', choices = {3, 5}}, {name = 'resolution', choices = {14, 28}}}
local dc = nas.cnn_config(dsp, {2, 2, 2, 1})
H.check(#dc.layers == 2 and dc.layers[2].out == 8 and dc.layers[2].k == 5 and dc.resolution == 14,
        'cnn_config from depth/width/kernel')
local lsp = nas.space{{name = 'layer1', choices = {{out = 4, k = 3}}},
                      {name = 'layer2', choices = {S, {out = 6, k = 5}}}}
H.check(#nas.cnn_config(lsp, {1, 1, 0}).layers == 1 and #nas.cnn_config(lsp, {1, 2}).layers == 2,
        'cnn_config from layer tokens with stop')

-- trainer and evaluator on a synthetic 8×8 task: class 1 bright on top, class 2 at the bottom
nb.manual_seed(11)
local function synth(n)
  local y = nb.randint(1, 2, {n})
  local top = y:eq(1):to('f32'):view(n, 1, 1, 1)
  local rows = nb.arange(1, 8):view(1, 1, 8, 1):le(4):to('f32')
  local X = (top * rows + (1 - top) * (1 - rows)):expand(n, 1, 8, 8) + nb.randn(n, 1, 8, 8) * 0.3
  return X:contiguous(), y
end
local Xtr, ytr = synth(128)
local Xva, yva = synth(64)
local acc = nas.train_child(nas.build_cnn{in_size = 8, resolution = 8, layers = {{out = 4, k = 3}},
                                          classes = 2}, Xtr, ytr, Xva, yva, {epochs = 3, lr = 1e-2})
H.check(acc > 0.9, 'train_child learns the synthetic task: %.3f', acc)
local esp = nas.space{{name = 'resolution', choices = {4, 8}}, {name = 'layer1', choices = {{out = 4, k = 3}}}}
local ev = nas.evaluator(esp, {Xtr, ytr, Xva, yva}, {cnn = {in_size = 8, classes = 2},
                                                    train = {epochs = 2, lr = 1e-2}, seed = 5})
local a1 = ev({2, 1})
local a1b = ev({2, 1})
H.check(ev.trained == 1 and a1 == a1b, 'evaluator caches')
H.check(ev.cache['2-1'].macs == calc.macs(nas.cnn_specs(ev.cache['2-1'].cfg), {1, 8, 8}),
        'evaluator records MACs')
local ev2 = nas.evaluator(esp, {Xtr, ytr, Xva, yva}, {cnn = {in_size = 8, classes = 2},
                                                     train = {epochs = 2, lr = 1e-2}, seed = 5})
ev2({1, 1})
H.check(ev2({2, 1}) == a1, 'evaluator: reward depends on the architecture only, not the order')
local ev3 = nas.evaluator(esp, {Xtr, ytr, Xva, yva}, {cnn = {in_size = 8, classes = 2},
                          reward = function(a, e) return a * 10 + e.params end})
H.check(ev3({1, 1}) == ev3.cache['1-1'].acc * 10 + ev3.cache['1-1'].params, 'custom reward')

---------------------------------------------------------------------------- rewards
-- 0.77 · 2^−0.07 = 0.7335312584938317 (Python 3)
H.close(nas.mnas_reward(0.77, 800e6, {target = 400e6, w = -0.07}), 0.7335312584938317, 1e-14,
        'EfficientNet reward at 2T')
H.close(nas.mnas_reward(0.77, 800e6), 0.7335312584938317, 1e-14, 'defaults T = 400M, w = −0.07')
H.check(nas.mnas_reward(0.8, 100, {target = 200, alpha = 0, beta = -1}) == 0.8, 'hard: under T')
H.close(nas.mnas_reward(0.8, 400, {target = 200, alpha = 0, beta = -1}), 0.4, 1e-15, 'hard: 2T')

---------------------------------------------------------------------------- docs
local undocumented = {}
for k, v in pairs(nas) do
  if type(v) == 'function' and not nb._docs[v] then undocumented[#undocumented + 1] = k end
end
H.check(#undocumented == 0, 'every public function has nb.doc: missing %s',
        table.concat(undocumented, ', '))

H.report()
