-- nas: neural architecture search over a discrete search space given as a parameter.
--   A space is a list of decisions, each a list of choices (layer count, widths, kernel sizes,
--   input resolution, an operation of an augmentation policy ...).  A choice may be nas.STOP: it
--   ends the architecture, and the later decisions are inactive (index 0).
--   Searchers: REINFORCE with a moving-average baseline (a factorised softmax policy or a small
--   tanh RNN emitting one token per decision), MetaQNN-style tabular Q-learning (ε-greedy
--   schedule, experience replay), random search.  Child networks: a CNN builder, a brief
--   trainer on image tensors, a cached evaluator.  Also: exact search-space sizes (big
--   integers), the exact policy gradient by enumeration, and the MnasNet/EfficientNet reward.
-- An architecture is a list of choice indices {i_1, ..., i_T} (1-based; 0 = inactive).
-- Searchers draw their random numbers from a private generator (nas.rng), so that training a
-- child (which reseeds nb) never changes what a search samples next.
local nb = require 'nabla'
local M = {}

local function fail(fname, fmt, ...)
  error(string.format('nas.%s: ' .. fmt, fname, ...), 3)
end

---------------------------------------------------------------------------- random numbers
-- xorshift64* (Vigna 2016) on Lua's 64-bit integers; uniform() has 53 random bits.
local RNG = {}
RNG.__index = RNG

function M.rng(seed)
  if seed == nil then seed = nb.randint(1, 2147483646, {1}):get(1) end
  local s = math.tointeger(seed) or math.floor(seed)
  s = (s ~ 0x5DEECE66D) * 0x9E3779B97F4A7C15 + 1
  if s == 0 then s = 0x2545F4914F6CDD1D end
  local r = setmetatable({s = s}, RNG)
  for _ = 1, 4 do r:next() end
  return r
end

function RNG:next()
  local x = self.s
  x = x ~ (x >> 12); x = x ~ (x << 25); x = x ~ (x >> 27)
  self.s = x
  return x * 0x2545F4914F6CDD1D
end

function RNG:uniform() return (self:next() >> 11) * 2.0 ^ -53 end
function RNG:int(n) return math.floor(self:uniform() * n) + 1 end

-- Index drawn from a table of probabilities (they need not sum exactly to 1).
function RNG:categorical(p)
  local total = 0
  for _, v in ipairs(p) do total = total + v end
  local u, acc = self:uniform() * total, 0
  for i, v in ipairs(p) do
    acc = acc + v
    if u < acc then return i end
  end
  return #p
end

local function get_rng(opts)
  if opts.rng then return opts.rng end
  return M.rng(opts.seed)
end

---------------------------------------------------------------------------- search spaces
M.STOP = setmetatable({}, {__tostring = function() return 'stop' end})

local function label_of(v)
  if v == M.STOP then return 'stop' end
  if type(v) == 'table' then return v.name or v.label or '{…}' end
  return tostring(v)
end

-- space{ {name=, choices={...}, labels=}, ... }: an ordered list of decisions (a bare list of
-- choices is a decision too).  Returns {decisions = {{name, choices, labels, stop}}, n}.
function M.space(decisions)
  if type(decisions) ~= 'table' or #decisions == 0 then
    fail('space', 'a non-empty list of decisions expected')
  end
  local sp = {decisions = {}, n = #decisions}
  for t, d in ipairs(decisions) do
    local choices = d.choices or d
    if type(choices) ~= 'table' or #choices == 0 then
      fail('space', 'decision %d has no choices', t)
    end
    local dec = {name = d.name or ('d' .. t), choices = choices, labels = {}, stop = {}}
    for i, v in ipairs(choices) do
      dec.labels[i] = d.labels and d.labels[i] or label_of(v)
      dec.stop[i] = (v == M.STOP)
    end
    sp.decisions[t] = dec
  end
  return sp
end

local function check_space(fname, sp)
  if type(sp) ~= 'table' or type(sp.decisions) ~= 'table' then
    fail(fname, 'a search space from nas.space expected')
  end
end

-- Is decision t active in the (possibly partial) architecture idx?  Active until a STOP.
local function active(sp, idx, t)
  for s = 1, t - 1 do
    local i = idx[s]
    if i and i > 0 and sp.decisions[s].stop[i] then return false end
  end
  return true
end

-- Exact non-negative integers as little-endian limbs in base 10^7.
local BASE = 10000000
local function big(n)
  local t = {}
  repeat t[#t + 1] = n % BASE; n = n // BASE until n == 0
  return t
end
local function big_mul_small(a, k)
  local r, carry = {}, 0
  for i = 1, #a do
    local v = a[i] * k + carry
    r[i] = v % BASE; carry = v // BASE
  end
  while carry > 0 do r[#r + 1] = carry % BASE; carry = carry // BASE end
  return r
end
local function big_add(a, b)
  local r, carry = {}, 0
  for i = 1, math.max(#a, #b) do
    local v = (a[i] or 0) + (b[i] or 0) + carry
    r[i] = v % BASE; carry = v // BASE
  end
  if carry > 0 then r[#r + 1] = carry end
  return r
end
local function big_str(a)
  local parts = {tostring(a[#a])}
  for i = #a - 1, 1, -1 do parts[#parts + 1] = string.format('%07d', a[i]) end
  return table.concat(parts)
end
local function big_float(a)
  local x = 0.0
  for i = #a, 1, -1 do x = x * BASE + a[i] end
  return x
end

local function group3(s)
  local out = s:reverse():gsub('(%d%d%d)', '%1,'):reverse()
  return (out:gsub('^,', ''))
end

-- Number of architectures.  Counted from the end: N_t = (#go)·N_{t+1} + #stop, N_{T+1} = 1.
function M.size(sp)
  check_space('size', sp)
  local n = big(1)
  for t = sp.n, 1, -1 do
    local go, stops = 0, 0
    for i = 1, #sp.decisions[t].choices do
      if sp.decisions[t].stop[i] then stops = stops + 1 else go = go + 1 end
    end
    n = big_add(big_mul_small(n, go), big(stops))
  end
  local exact = big_str(n)
  local approx = big_float(n)
  local info = {exact = exact, grouped = group3(exact), approx = approx,
                log10 = (#exact - 1) + math.log(tonumber(exact:sub(1, 15)) /
                        10 ^ (math.min(#exact, 15) - 1), 10)}
  return approx, info
end

function M.decode(sp, idx)
  check_space('decode', sp)
  local arch, labels = {}, {}
  for t, d in ipairs(sp.decisions) do
    local i = idx[t] or 0
    if i > 0 then
      if not d.choices[i] then fail('decode', 'choice %d of decision %d (%s) out of range', i, t, d.name) end
      arch[d.name] = d.choices[i]
      if not d.stop[i] then labels[#labels + 1] = d.labels[i] end
    end
  end
  arch.label = table.concat(labels, ' · ')
  return arch
end

function M.key(idx) return table.concat(idx, '-') end

function M.format(sp, idx) return M.decode(sp, idx).label end

-- Every architecture (a list of index lists), depth first, in the order of the choices.
function M.enumerate(sp, opts)
  check_space('enumerate', sp)
  local limit = (opts or {}).limit or 100000
  local n = M.size(sp)
  if n > limit then fail('enumerate', '%.4g architectures exceed limit=%d', n, limit) end
  local out, cur = {}, {}
  local function rec(t)
    if t > sp.n then out[#out + 1] = table.move(cur, 1, sp.n, 1, {}); return end
    for i = 1, #sp.decisions[t].choices do
      cur[t] = i
      if sp.decisions[t].stop[i] then
        for s = t + 1, sp.n do cur[s] = 0 end
        out[#out + 1] = table.move(cur, 1, sp.n, 1, {})
      else
        rec(t + 1)
      end
    end
  end
  rec(1)
  return out
end

-- Uniform choice at every active decision (not uniform over architectures when STOP exists).
function M.random_arch(sp, rng)
  check_space('random_arch', sp)
  rng = rng or M.rng()
  local idx, stopped = {}, false
  for t, d in ipairs(sp.decisions) do
    if stopped then idx[t] = 0
    else
      idx[t] = rng:int(#d.choices)
      stopped = d.stop[idx[t]]
    end
  end
  return idx
end

---------------------------------------------------------------------------- policies
-- Factorised softmax: one logit vector per decision, p(a) = Π_t softmax(θ_t)[a_t] over the
-- active decisions.
local Factorised = {}
Factorised.__index = Factorised

function M.FactorisedPolicy(sp, opts)
  check_space('FactorisedPolicy', sp)
  opts = opts or {}
  local self = setmetatable({space = sp, logits = {}, kind = 'factorised'}, Factorised)
  for t, d in ipairs(sp.decisions) do
    local init = opts.init and opts.init[t]
    local th = init and nb.tensor(init, {dtype = opts.dtype or 'f64'})
               or nb.zeros(#d.choices, opts.dtype or 'f64')
    self.logits[t] = th:requires_grad_()
  end
  return self
end

function Factorised:parameters() return self.logits end

function Factorised:probs()
  return nb.no_grad(function()
    local out = {}
    for t, th in ipairs(self.logits) do out[t] = th:softmax(1):totable() end
    return out
  end)
end

function Factorised:sample(rng)
  local p = self:probs()
  local idx, stopped = {}, false
  for t, d in ipairs(self.space.decisions) do
    if stopped then idx[t] = 0
    else
      idx[t] = rng:categorical(p[t])
      stopped = d.stop[idx[t]]
    end
  end
  return idx
end

function Factorised:log_prob(idx)
  local lp
  for t, th in ipairs(self.logits) do
    local i = idx[t]
    if i and i > 0 then
      local term = th:log_softmax(1)[i]
      lp = lp and lp + term or term
    end
  end
  return lp
end

-- Entropy of the distribution over architectures (exact: sum of the per-decision entropies,
-- each weighted by the probability that the decision is active).
function Factorised:entropy()
  local p = self:probs()
  local h, alive = 0, 1
  for t, d in ipairs(self.space.decisions) do
    local ht, pstop = 0, 0
    for i, v in ipairs(p[t]) do
      if v > 0 then ht = ht - v * math.log(v) end
      if d.stop[i] then pstop = pstop + v end
    end
    h = h + alive * ht
    alive = alive * (1 - pstop)
  end
  return h
end

-- Zoph & Le's controller in miniature: h_t = tanh(W_ih x_t + W_hh h_{t−1} + b), logits_t =
-- V_t h_t + c_t, x_1 a learned start vector, x_{t+1} = the embedding of the token chosen at t.
local RNNPolicy = {}
RNNPolicy.__index = RNNPolicy

function M.RNNPolicy(sp, opts)
  check_space('RNNPolicy', sp)
  opts = opts or {}
  local H, E, dt = opts.hidden or 16, opts.embed or 8, opts.dtype or 'f64'
  local s = opts.scale or 0.3
  local function par(...) return (nb.randn({...}, dt) * s):requires_grad_() end
  local self = setmetatable({space = sp, hidden = H, embed = E, kind = 'rnn',
                             start = par(E), W_ih = par(H, E), W_hh = par(H, H),
                             b = nb.zeros(H, dt):requires_grad_(), heads = {}, emb = {}}, RNNPolicy)
  for t, d in ipairs(sp.decisions) do
    local K = #d.choices
    self.heads[t] = {W = par(K, H), c = nb.zeros(K, dt):requires_grad_()}
    self.emb[t] = par(K, E)
  end
  return self
end

function RNNPolicy:parameters()
  local ps = {self.start, self.W_ih, self.W_hh, self.b}
  for t = 1, self.space.n do
    ps[#ps + 1] = self.heads[t].W; ps[#ps + 1] = self.heads[t].c; ps[#ps + 1] = self.emb[t]
  end
  return ps
end

-- Runs the recurrence along idx (choose(t, logits) picks the token when idx[t] is nil);
-- returns the summed log-probability of the tokens.
function RNNPolicy:_run(idx, choose)
  local h = nb.zeros(self.hidden, self.b.dtype)
  local x = self.start
  local lp
  for t, d in ipairs(self.space.decisions) do
    h = (self.W_ih:matmul(x) + self.W_hh:matmul(h) + self.b):tanh()
    local logits = self.heads[t].W:matmul(h) + self.heads[t].c
    local i = idx[t] or choose(t, logits)
    idx[t] = i
    local term = logits:log_softmax(1)[i]
    lp = lp and lp + term or term
    if d.stop[i] then
      for s = t + 1, self.space.n do idx[s] = 0 end
      break
    end
    x = self.emb[t][i]
  end
  return lp
end

function RNNPolicy:sample(rng)
  return nb.no_grad(function()
    local idx = {}
    self:_run(idx, function(_, logits) return rng:categorical(logits:softmax(1):totable()) end)
    return idx
  end)
end

function RNNPolicy:log_prob(idx)
  local copy = table.move(idx, 1, #idx, 1, {})
  return self:_run(copy, function(t) fail('log_prob', 'architecture has no choice at decision %d', t) end)
end

-- Per-decision probabilities along the greedy path (for display).
function RNNPolicy:probs()
  return nb.no_grad(function()
    local out, idx = {}, {}
    self:_run(idx, function(t, logits)
      local p = logits:softmax(1):totable()
      out[t] = p
      local best = 1
      for i, v in ipairs(p) do if v > p[best] then best = i end end
      return best
    end)
    return out
  end)
end

---------------------------------------------------------------------------- policy gradients
-- Probability of every architecture under the policy (one autograd graph: differentiable).
local function all_logprobs(policy, archs)
  local lps = {}
  for k, a in ipairs(archs) do lps[k] = policy:log_prob(a) end
  return lps
end

-- ∇_θ E_{a∼π_θ}[R(a)] = ∇_θ Σ_a π_θ(a) R(a), by enumerating the space and autograd.
-- reward: a function of idx or a table keyed by nas.key(idx).  Returns grads (list), J.
function M.exact_gradient(policy, reward)
  local sp = policy.space
  local archs = M.enumerate(sp)
  local lps = all_logprobs(policy, archs)
  local J
  for k, a in ipairs(archs) do
    local r = type(reward) == 'function' and reward(a) or reward[M.key(a)]
    if type(r) ~= 'number' then fail('exact_gradient', 'no reward for %s', M.key(a)) end
    local term = lps[k]:exp() * r
    J = J and J + term or term
  end
  local g = nb.grad(J, policy:parameters(), {allow_unused = true})
  for i, p in ipairs(policy:parameters()) do g[i] = g[i] or nb.zeros_like(p) end
  return g, J:item()
end

-- One REINFORCE sample: (R − b)·∇_θ log π_θ(a).  Returns grads (list).
function M.score_gradient(policy, idx, advantage)
  local lp = policy:log_prob(idx)
  local g = nb.grad(lp, policy:parameters(), {allow_unused = true})
  for i, p in ipairs(policy:parameters()) do
    g[i] = g[i] and g[i]:detach() * advantage or nb.zeros_like(p)
  end
  return g
end

-- A list of tensors as one flat vector (for check.mc / check.close).
function M.flat(list)
  local parts = {}
  for i, t in ipairs(list) do parts[i] = t:detach():reshape(-1) end
  return nb.cat(parts, 1)
end

-- Exact expected reward and probability of every architecture, as a sorted list.
function M.distribution(policy)
  local archs = M.enumerate(policy.space)
  local out = nb.no_grad(function()
    local r = {}
    for k, a in ipairs(archs) do r[k] = {idx = a, p = math.exp(policy:log_prob(a):item())} end
    return r
  end)
  table.sort(out, function(x, y) return x.p > y.p end)
  return out
end

---------------------------------------------------------------------------- search loops
local function new_history(method)
  return {method = method, archs = {}, rewards = {}, best = {}, keys = {}, best_idx = nil,
          best_reward = -math.huge}
end

local function record(h, idx, r)
  local n = #h.rewards + 1
  h.archs[n], h.rewards[n], h.keys[n] = idx, r, M.key(idx)
  if r > h.best_reward then h.best_reward, h.best_idx = r, idx end
  h.best[n] = h.best_reward
end

local function call_reward(fname, reward_fn, idx)
  local r = reward_fn(idx)
  if type(r) ~= 'number' or r ~= r then fail(fname, 'reward for %s is not a number', M.key(idx)) end
  return r
end

function M.random_search(sp, reward_fn, opts)
  check_space('random_search', sp)
  opts = opts or {}
  local rng, n = get_rng(opts), opts.n or 20
  local h = new_history('random')
  for _ = 1, n do
    local idx = M.random_arch(sp, rng)
    record(h, idx, call_reward('random_search', reward_fn, idx))
    if opts.callback then opts.callback(#h.rewards, h) end
  end
  return h
end

-- REINFORCE: after every `batch` children, one optimizer step on
--   L = −(1/batch) Σ_j (R_j − b_j) log π(a_j),
-- b_j the exponential moving average of the earlier rewards (b ← decay·b + (1 − decay)·R;
-- the first child sets b = R).  opts: n, policy, lr, optimizer, batch, baseline_decay,
-- baseline (false: none), entropy (bonus weight), seed/rng, callback.
function M.reinforce(sp, reward_fn, opts)
  check_space('reinforce', sp)
  opts = opts or {}
  local rng, n = get_rng(opts), opts.n or 20
  local policy = opts.policy or M.FactorisedPolicy(sp)
  local opt = opts.optimizer
  if not opt then
    local optim = require 'optim'
    opt = optim.Adam(policy:parameters(), {lr = opts.lr or 0.05})
  end
  local decay, batch = opts.baseline_decay or 0.9, opts.batch or 1
  local use_baseline = opts.baseline ~= false
  local h = new_history('reinforce')
  h.baseline, h.entropy, h.policy = {}, {}, policy
  local pending, b = {}, nil
  for i = 1, n do
    local idx = policy:sample(rng)
    local r = call_reward('reinforce', reward_fn, idx)
    record(h, idx, r)
    local bi = use_baseline and (b or r) or 0
    pending[#pending + 1] = {idx = idx, adv = r - bi}
    if use_baseline then b = b and decay * b + (1 - decay) * r or r end
    h.baseline[i] = b or 0
    if #pending == batch or i == n then
      opt:zero_grad()
      local loss
      for _, s in ipairs(pending) do
        local term = policy:log_prob(s.idx) * (-s.adv / #pending)
        loss = loss and loss + term or term
      end
      if opts.entropy and opts.entropy > 0 and policy.logits then
        for _, th in ipairs(policy.logits) do
          local p = th:softmax(1)
          loss = loss + (p * p:log()):sum() * opts.entropy
        end
      end
      loss:backward()
      opt:step()
      pending = {}
    end
    if policy.entropy then h.entropy[i] = policy:entropy() end
    if opts.callback then opts.callback(i, h) end
  end
  return h
end

---------------------------------------------------------------------------- Q-learning
-- MetaQNN (Baker et al. 2017) on a decision list: the agent picks decision t's choice in state
-- s_t; reward 0 until the architecture ends, then R = the child's reward.  Update along an
-- episode (s_1, a_1, ..., s_T, a_T, R), last transition first:
--   Q(s_T, a_T) ← (1−α) Q(s_T, a_T) + α R
--   Q(s_t, a_t) ← (1−α) Q(s_t, a_t) + α (0 + γ max_{a′} Q(s_{t+1}, a′)),  t = T−1 … 1.
-- States: 'prefix' (t and every earlier choice: exact), 'last' (t and the previous choice:
-- MetaQNN's layer depth + previous layer), or a function(t, idx) → string.
local QL = {}
QL.__index = QL

function M.QLearner(sp, opts)
  check_space('QLearner', sp)
  opts = opts or {}
  local st = opts.state or 'prefix'
  local state_fn
  if st == 'prefix' then
    state_fn = function(t, idx) return t .. ':' .. table.concat(idx, '-', 1, t - 1) end
  elseif st == 'last' then
    state_fn = function(t, idx) return t .. ':' .. tostring(idx[t - 1] or 0) end
  elseif type(st) == 'function' then
    state_fn = st
  else
    fail('QLearner', "state must be 'prefix', 'last' or a function, got %s", tostring(st))
  end
  return setmetatable({space = sp, Q = {}, alpha = opts.alpha or 0.1, gamma = opts.gamma or 1,
                       q_init = opts.q_init or 0.5, state_of = state_fn}, QL)
end

-- The Q-values of state s at decision t (created with q_init on first use).
function QL:values(t, s)
  local row = self.Q[s]
  if not row then
    row = {}
    for i = 1, #self.space.decisions[t].choices do row[i] = self.q_init end
    self.Q[s] = row
  end
  return row
end

local function argmax_ties(row, rng)
  local best, ties = -math.huge, {}
  for i, v in ipairs(row) do
    if v > best then best, ties = v, {i} elseif v == best then ties[#ties + 1] = i end
  end
  if #ties == 1 or not rng then return ties[1] end
  return ties[rng:int(#ties)]
end

-- An ε-greedy episode: idx and the list of visited states.
function QL:episode(epsilon, rng)
  local idx, states, stopped = {}, {}, false
  for t, d in ipairs(self.space.decisions) do
    if stopped then idx[t] = 0
    else
      local s = self.state_of(t, idx)
      states[t] = s
      local row = self:values(t, s)
      if rng:uniform() < epsilon then idx[t] = rng:int(#d.choices)
      else idx[t] = argmax_ties(row, rng) end
      stopped = d.stop[idx[t]]
    end
  end
  return idx, states
end

function QL:greedy()
  local idx, stopped = {}, false
  for t, d in ipairs(self.space.decisions) do
    if stopped then idx[t] = 0
    else
      idx[t] = argmax_ties(self:values(t, self.state_of(t, idx)))
      stopped = d.stop[idx[t]]
    end
  end
  return idx
end

-- One tabular update: Q(s, a) ← (1−α) Q(s, a) + α·target.  Returns the new value.
function QL:update_one(t, s, a, target)
  local row = self:values(t, s)
  row[a] = (1 - self.alpha) * row[a] + self.alpha * target
  return row[a]
end

-- The episode's updates, last transition first (see above).
function QL:update(idx, R)
  local T = 0
  for t = 1, self.space.n do if idx[t] and idx[t] > 0 then T = t end end
  local states = {}
  local prefix = {}
  for t = 1, T do states[t] = self.state_of(t, prefix); prefix[t] = idx[t] end
  self:update_one(T, states[T], idx[T], R)
  for t = T - 1, 1, -1 do
    local nxt = self:values(t + 1, states[t + 1])
    local m = -math.huge
    for _, v in ipairs(nxt) do if v > m then m = v end end
    self:update_one(t, states[t], idx[t], self.gamma * m)
  end
end

-- MetaQNN's schedule: ε = 1 for the first half of the children, then 0.9, 0.8 ... 0.1 in
-- equal shares of the second half.  Returns a list of {epsilon=, n=}.
function M.epsilon_schedule(n, opts)
  opts = opts or {}
  local explore = opts.explore or math.floor(n / 2 + 0.5)
  local levels = opts.levels or {0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1}
  local sched = {{epsilon = 1, n = explore}}
  local rest, L = n - explore, #levels
  for k, e in ipairs(levels) do
    local cnt = rest * k // L - rest * (k - 1) // L
    if cnt > 0 then sched[#sched + 1] = {epsilon = e, n = cnt} end
  end
  return sched
end

-- opts: n, schedule (list of {epsilon, n}), alpha, gamma, q_init, state, replay (episodes drawn
-- from the replay memory after each child, default 10), seed/rng, callback.
function M.metaqnn(sp, reward_fn, opts)
  check_space('metaqnn', sp)
  opts = opts or {}
  local rng = get_rng(opts)
  local schedule = opts.schedule or M.epsilon_schedule(opts.n or 20)
  local q = opts.learner or M.QLearner(sp, opts)
  local replay_k = opts.replay or 10
  local memory = {}
  local h = new_history('metaqnn')
  h.epsilon, h.learner = {}, q
  for _, phase in ipairs(schedule) do
    for _ = 1, phase.n do
      local idx = q:episode(phase.epsilon, rng)
      local r = call_reward('metaqnn', reward_fn, idx)
      record(h, idx, r)
      h.epsilon[#h.rewards] = phase.epsilon
      memory[#memory + 1] = {idx = idx, r = r}
      q:update(idx, r)
      for _ = 1, replay_k do
        local m = memory[rng:int(#memory)]
        q:update(m.idx, m.r)
      end
      if opts.callback then opts.callback(#h.rewards, h) end
    end
  end
  return h
end

---------------------------------------------------------------------------- children
require('nas.children')(M, fail, check_space)

---------------------------------------------------------------------------- rewards
-- MnasNet / EfficientNet multi-objective reward ACC × (FLOPS/T)^w.  opts: target=T, w=
-- (EfficientNet: T = 400M, w = −0.07), or alpha/beta: w = alpha if FLOPS ≤ T else beta
-- (MnasNet's soft constraint α = β = −0.07, hard α = 0, β = −1).
function M.mnas_reward(acc, flops, opts)
  opts = opts or {}
  local T = opts.target or 400e6
  local w = opts.w
  if w == nil then
    if flops <= T then w = opts.alpha or -0.07 else w = opts.beta or -0.07 end
  end
  return acc * (flops / T) ^ w
end

---------------------------------------------------------------------------- AutoAugment
M.autoaugment_ops = {'ShearX', 'ShearY', 'TranslateX', 'TranslateY', 'Rotate', 'AutoContrast',
                     'Invert', 'Equalize', 'Solarize', 'Posterize', 'Contrast', 'Color',
                     'Brightness', 'Sharpness', 'Cutout', 'SamplePairing'}

-- AutoAugment's policy space (Cubuk et al. 2019): subpolicies × ops_per each an (operation,
-- probability, magnitude) triple.  opts: ops (count or list, 16), probs (11: 0, 0.1 ... 1),
-- mags (10: 0 ... 9), subpolicies (5), ops_per (2).
function M.autoaugment_space(opts)
  opts = opts or {}
  local ops = opts.ops or M.autoaugment_ops
  if type(ops) == 'number' then
    local t = {}
    for i = 1, ops do t[i] = M.autoaugment_ops[i] or ('op' .. i) end
    ops = t
  end
  local nprob, nmag = opts.probs or 11, opts.mags or 10
  local probs, mags = {}, {}
  for i = 1, nprob do probs[i] = (i - 1) / math.max(nprob - 1, 1) end
  for i = 1, nmag do mags[i] = i - 1 end
  local decisions = {}
  for s = 1, opts.subpolicies or 5 do
    for o = 1, opts.ops_per or 2 do
      local tag = string.format('s%d.o%d', s, o)
      decisions[#decisions + 1] = {name = tag .. '.op', choices = ops}
      decisions[#decisions + 1] = {name = tag .. '.prob', choices = probs}
      decisions[#decisions + 1] = {name = tag .. '.mag', choices = mags}
    end
  end
  if #decisions == 0 then
    -- zero sub-policies: one (empty) policy; a space needs a decision, so one with one choice
    decisions[1] = {name = 'empty', choices = {'(no sub-policy)'}}
  end
  return M.space(decisions)
end

-- A sampled AutoAugment policy as text lines, one sub-policy per line.
function M.format_policy(sp, idx, opts)
  local arch = M.decode(sp, idx)
  local per = (opts or {}).ops_per or 2
  local lines, s = {}, 1
  while arch[string.format('s%d.o1.op', s)] do
    local parts = {}
    for o = 1, per do
      local tag = string.format('s%d.o%d', s, o)
      parts[o] = string.format('(%s, p=%.1f, m=%d)', arch[tag .. '.op'], arch[tag .. '.prob'],
                               arch[tag .. '.mag'])
    end
    lines[#lines + 1] = string.format('sub-policy %d: %s', s, table.concat(parts, ' then '))
    s = s + 1
  end
  return table.concat(lines, '\n')
end

---------------------------------------------------------------------------- summaries
-- Mean and standard error of best-so-far curves from several histories, per child count.
function M.mean_curve(histories, field)
  field = field or 'best'
  local n = math.huge
  for _, h in ipairs(histories) do n = math.min(n, #h[field]) end
  local mean, se = {}, {}
  for i = 1, n do
    local s, ss = 0, 0
    for _, h in ipairs(histories) do s = s + h[field][i]; ss = ss + h[field][i] ^ 2 end
    local k = #histories
    mean[i] = s / k
    se[i] = k > 1 and math.sqrt(math.max(ss / k - mean[i] ^ 2, 0) * k / (k - 1) / k) or 0
  end
  return mean, se
end

-- Rank (1 = best) of a reward among the values of a table (ties share the better rank).
function M.rank_of(value, tbl, field)
  local r = 1
  for _, v in pairs(tbl) do
    local x = type(v) == 'table' and v[field or 'reward'] or v
    if x > value then r = r + 1 end
  end
  return r
end

---------------------------------------------------------------------------- docs
local docs = {
  rng = 'nas.rng(seed) — private xorshift64* generator: r:uniform(), r:int(n), ' ..
        'r:categorical(probs); seed defaults to a draw from nb',
  space = 'nas.space{{name=, choices={...}, labels=}, ...} — a search space: a list of ' ..
          'decisions; a choice nas.STOP ends the architecture (later decisions inactive)',
  size = 'nas.size(space) — number of architectures (float) and {exact=, grouped=, log10=} ' ..
         'with exact big-integer digits',
  decode = 'nas.decode(space, idx) — {decision name = chosen value, label=} of an index list',
  key = 'nas.key(idx) — the string key of an architecture ("2-1-0")',
  format = 'nas.format(space, idx) — a readable label of an architecture',
  enumerate = 'nas.enumerate(space, {limit=100000}) — every architecture as an index list',
  random_arch = 'nas.random_arch(space, rng) — uniform choice at each active decision',
  FactorisedPolicy = 'nas.FactorisedPolicy(space, {init=, dtype=}) — one softmax per ' ..
                     'decision: :sample(rng), :log_prob(idx), :probs(), :entropy(), :parameters()',
  RNNPolicy = 'nas.RNNPolicy(space, {hidden=16, embed=8}) — tanh-RNN controller emitting one ' ..
              'token per decision: :sample(rng), :log_prob(idx), :parameters()',
  exact_gradient = 'nas.exact_gradient(policy, reward) — ∇θ Σ_a π(a)R(a) by enumeration and ' ..
                   'autograd; grads, J',
  score_gradient = 'nas.score_gradient(policy, idx, advantage) — one REINFORCE sample ' ..
                   '(R − b)∇θ log π(idx)',
  flat = 'nas.flat(tensors) — concatenate a list of tensors into one vector',
  distribution = 'nas.distribution(policy) — {idx, p} for every architecture, most likely first',
  random_search = 'nas.random_search(space, reward_fn, {n=, seed=}) — history {archs, ' ..
                  'rewards, best (best so far), best_idx, best_reward}',
  reinforce = 'nas.reinforce(space, reward_fn, {n=, policy=, lr=0.05, batch=1, ' ..
              'baseline_decay=0.9, baseline=, entropy=, seed=}) — REINFORCE with a ' ..
              'moving-average baseline; history (+ baseline, entropy, policy)',
  QLearner = 'nas.QLearner(space, {alpha=0.1, gamma=1, q_init=0.5, state=\'prefix\'|\'last\'|fn})' ..
             ' — tabular Q: :episode(ε, rng), :update(idx, R), :update_one, :greedy(), :values',
  epsilon_schedule = 'nas.epsilon_schedule(n, {explore=, levels=}) — MetaQNN ε schedule: ' ..
                     'ε = 1 for half, then 0.9 … 0.1',
  metaqnn = 'nas.metaqnn(space, reward_fn, {n=, schedule=, alpha=, gamma=, replay=10, ' ..
            'state=, seed=}) — ε-greedy Q-learning with experience replay; history',
  build_cnn = 'nas.build_cnn{resolution=, layers={{out=, k=}}, hidden=0, classes=10, ' ..
              'in_size=28} — a child CNN (nn.Sequential)',
  cnn_specs = 'nas.cnn_specs(cfg) — the build_cnn network as calc layer specs (for calc.macs)',
  cnn_config = 'nas.cnn_config(space, idx, defaults) — build_cnn cfg from decisions named ' ..
               'resolution / depth / width / kernel / hidden / layer…',
  train_child = 'nas.train_child(model, Xtr, ytr, Xva, yva, {epochs=1, batch=32, lr=3e-3}) — ' ..
                'brief Adam training; validation accuracy, info',
  evaluator = 'nas.evaluator(space, {Xtr, ytr, Xva, yva}, {train=, cnn=, build=, reward=, ' ..
              'seed=}) — cached reward function (seeded per architecture); .cache, .info(idx)',
  table_reward = 'nas.table_reward(tbl, field) — reward function that looks architectures up',
  mnas_reward = 'nas.mnas_reward(acc, flops, {target=400e6, w=-0.07 | alpha=, beta=}) — ' ..
                'ACC × (FLOPS/T)^w',
  autoaugment_space = 'nas.autoaugment_space{ops=16, probs=11, mags=10, subpolicies=5, ' ..
                      'ops_per=2} — AutoAugment policy space as decisions',
  format_policy = 'nas.format_policy(space, idx) — an AutoAugment policy as text',
  mean_curve = 'nas.mean_curve(histories, field) — mean and standard error per child count',
  rank_of = 'nas.rank_of(value, tbl, field) — rank of value among a table\'s rewards (1 = best)',
}
local method_docs = {
  {Factorised, 'sample', 'policy:sample(rng) — draw an architecture (index list)'},
  {Factorised, 'log_prob', 'policy:log_prob(idx) — log π(idx) as a 0-d tensor (autograd)'},
  {Factorised, 'probs', 'policy:probs() — per-decision choice probabilities (tables)'},
  {Factorised, 'entropy', 'policy:entropy() — exact entropy of the distribution over architectures'},
  {Factorised, 'parameters', 'policy:parameters() — the logit tensors'},
  {RNNPolicy, 'sample', 'rnn:sample(rng) — draw an architecture token by token'},
  {RNNPolicy, 'log_prob', 'rnn:log_prob(idx) — log π(idx) as a 0-d tensor (autograd)'},
  {RNNPolicy, 'probs', 'rnn:probs() — per-decision probabilities along the greedy path'},
  {RNNPolicy, 'parameters', 'rnn:parameters() — start, W_ih, W_hh, b, heads and embeddings'},
  {QL, 'episode', 'q:episode(epsilon, rng) — an ε-greedy architecture and its states'},
  {QL, 'update', 'q:update(idx, R) — MetaQNN update along the episode, last step first'},
  {QL, 'update_one', 'q:update_one(t, s, a, target) — Q(s,a) ← (1−α)Q(s,a) + α·target'},
  {QL, 'values', 'q:values(t, s) — the Q-values of state s (decision t), created at q_init'},
  {QL, 'greedy', 'q:greedy() — the greedy architecture (ties: first choice)'},
}
if nb.doc then
  for k, v in pairs(docs) do nb.doc(M[k], v) end
  for _, d in ipairs(method_docs) do nb.doc(d[1][d[2]], d[3]) end
end

return M
