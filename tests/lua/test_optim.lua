-- optim: the first three steps of every optimizer (and variants) against the update rules
-- written out here on plain Lua numbers (closed forms in the comments), parameter groups,
-- zero_grad, state_dict round trips, gradient clipping and the schedulers' closed forms.
local nb = require 'nabla'
local optim = require 'optim'
local nn = require 'nn'
local H = require 'harness'

-- The gradient of sum(p * c) is c, so each step's gradient is chosen freely.
local P0 = {1.0, -2.0}
local G = {{0.5, -1.0}, {0.2, 0.3}, {-0.4, 0.1}}

local function run(make, steps)
  local p = nb.tensor(P0, {dtype = 'f64', requires_grad = true})
  local opt = make({p})
  local out = {}
  for t = 1, steps or 3 do
    opt:zero_grad();
    (p * nb.tensor(G[t], {dtype = 'f64'})):sum():backward()
    opt:step()
    out[t] = p:totable()
  end
  return out, p, opt
end

-- reference: rule(p, g, state, t) -> new p, per element
local function reference(rule)
  local out, p, st = {}, {P0[1], P0[2]}, {{}, {}}
  for t = 1, 3 do
    local q = {}
    for i = 1, 2 do q[i] = rule(p[i], G[t][i], st[i], t) end
    p = q
    out[t] = {q[1], q[2]}
  end
  return out
end

local kernels = require 'optim.kernels'
local function compare(name, got, want)
  for t = 1, 3 do
    H.close(got[t], want[t], 1e-13, string.format('%s step %d%s', name, t,
                                                  kernels.use_fused and ' (fused)' or ''))
  end
end

-- Every rule runs twice: with the fused C steps (nb._optim) and with elementwise ops.
for _, fused in ipairs({true, false}) do
  kernels.use_fused = fused and rawget(nb, '_optim') ~= nil

  -- ---- SGD --------------------------------------------------------------------------------------
  do
    local lr = 0.1
    -- plain: p_t = p_{t-1} - lr g_t, so p_3 = p_0 - lr (g_1 + g_2 + g_3) = {1.03, -1.94}
    local got = run(function(ps) return optim.SGD(ps, {lr = lr}) end)
    compare('SGD', got, reference(function(p, g) return p - lr * g end))
    H.close(got[3], {1 - 0.1 * 0.3, -2 - 0.1 * (-0.6)}, 1e-14, 'SGD closed form p_3')

    -- momentum mu: b_1 = g_1, b_t = mu b_{t-1} + g_t, p_t = p_{t-1} - lr b_t;
    -- p_3 = p_0 - lr (g1 (1 + mu + mu²) + g2 (1 + mu) + g3)
    local mu = 0.9
    got = run(function(ps) return optim.SGD(ps, {lr = lr, momentum = mu}) end)
    compare('SGD momentum', got, reference(function(p, g, s)
      s.b = s.b and mu * s.b + g or g
      return p - lr * s.b
    end))
    H.close(got[3][1], 1 - lr * (0.5 * (1 + mu + mu * mu) + 0.2 * (1 + mu) - 0.4), 1e-14,
            'SGD momentum closed form')

    -- dampening d: b_t = mu b_{t-1} + (1 - d) g_t after the first step (b_1 = g_1)
    got = run(function(ps) return optim.SGD(ps, {lr = lr, momentum = mu, dampening = 0.5}) end)
    compare('SGD dampening', got, reference(function(p, g, s)
      s.b = s.b and mu * s.b + 0.5 * g or g
      return p - lr * s.b
    end))

    -- nesterov: p_t = p_{t-1} - lr (g_t + mu b_t)
    got = run(function(ps) return optim.SGD(ps, {lr = lr, momentum = mu, nesterov = true}) end)
    compare('SGD nesterov', got, reference(function(p, g, s)
      s.b = s.b and mu * s.b + g or g
      return p - lr * (g + mu * s.b)
    end))

    -- weight decay: g <- g + wd p before momentum
    got = run(function(ps) return optim.SGD(ps, {lr = lr, momentum = mu, weight_decay = 0.01}) end)
    compare('SGD weight_decay', got, reference(function(p, g, s)
      g = g + 0.01 * p
      s.b = s.b and mu * s.b + g or g
      return p - lr * s.b
    end))

    got = run(function(ps) return optim.SGD(ps, {lr = lr, maximize = true}) end)
    compare('SGD maximize', got, reference(function(p, g) return p + lr * g end))

    H.checkerror('lr must be given', function() optim.SGD({nb.zeros(1)}) end)
    H.checkerror("unknown option 'moment'", function()
      optim.SGD({nb.zeros(1)}, {lr = 1, moment = 1})
    end)
    H.checkerror('nesterov needs momentum > 0',
                 function() optim.SGD({nb.zeros(1)}, {lr = 1, nesterov = true}) end)
  end

  -- ---- Adam / AdamW -----------------------------------------------------------------------------
  local function adam_rule(lr, b1, b2, eps, wd, decoupled, amsgrad)
    return function(p, g, s, t)
      if decoupled then p = p * (1 - lr * wd) else g = g + wd * p end
      s.m = b1 * (s.m or 0) + (1 - b1) * g
      s.v = b2 * (s.v or 0) + (1 - b2) * g * g
      local v = s.v
      if amsgrad then s.vmax = math.max(s.vmax or 0, s.v); v = s.vmax end
      local denom = math.sqrt(v) / math.sqrt(1 - b2 ^ t) + eps
      return p - lr / (1 - b1 ^ t) * s.m / denom
    end
  end

  do
    -- step 1: m̂ = g, v̂ = g², so p_1 = p_0 - lr g/(|g| + eps) ≈ p_0 - lr sign(g)
    local got = run(function(ps) return optim.Adam(ps, {lr = 0.01}) end)
    compare('Adam', got, reference(adam_rule(0.01, 0.9, 0.999, 1e-8, 0, false, false)))
    H.close(got[1], {1 - 0.01 * 0.5 / (0.5 + 1e-8), -2 + 0.01 * 1 / (1 + 1e-8)}, 1e-14,
            'Adam first step is lr sign(g)')
    got = run(function(ps)
      return optim.Adam(ps, {lr = 0.05, betas = {0.8, 0.99}, eps = 1e-6, weight_decay = 0.1})
    end)
    compare('Adam weight_decay', got, reference(adam_rule(0.05, 0.8, 0.99, 1e-6, 0.1, false)))
    got = run(function(ps) return optim.Adam(ps, {lr = 0.01, amsgrad = true}) end)
    compare('Adam amsgrad', got, reference(adam_rule(0.01, 0.9, 0.999, 1e-8, 0, false, true)))
    got = run(function(ps) return optim.AdamW(ps, {lr = 0.01}) end)
    compare('AdamW (default wd 1e-2)', got,
            reference(adam_rule(0.01, 0.9, 0.999, 1e-8, 0.01, true, false)))
    got = run(function(ps) return optim.AdamW(ps, {lr = 0.1, weight_decay = 0.5}) end)
    compare('AdamW decoupled decay', got,
            reference(adam_rule(0.1, 0.9, 0.999, 1e-8, 0.5, true, false)))
    local _, _, opt = run(function(ps) return optim.Adam(ps, {lr = 0.01}) end)
    local st = opt.state[opt.param_groups[1].params[1]]
    H.check(st.step == 3 and st.exp_avg ~= nil and st.exp_avg_sq ~= nil, 'Adam state names')
    H.checkerror('betas must be in [0, 1)', function()
      optim.Adam({nb.zeros(1)}, {betas = {1, 0.9}})
    end)
  end

  -- ---- RMSprop ----------------------------------------------------------------------------------
  do
    -- step 1: v_1 = (1 - alpha) g², p_1 = p_0 - lr g / (√(1-alpha) |g| + eps)
    local lr, a, eps = 0.01, 0.99, 1e-8
    local got = run(function(ps) return optim.RMSprop(ps, {lr = lr}) end)
    compare('RMSprop', got, reference(function(p, g, s)
      s.v = a * (s.v or 0) + (1 - a) * g * g
      return p - lr * g / (math.sqrt(s.v) + eps)
    end))
    H.close(got[1][1], 1 - lr * 0.5 / (math.sqrt(0.01) * 0.5 + eps), 1e-14, 'RMSprop step 1')
    got = run(function(ps)
      return optim.RMSprop(ps, {lr = lr, alpha = 0.9, momentum = 0.5, centered = true,
                                weight_decay = 0.1})
    end)
    compare('RMSprop centered momentum wd', got, reference(function(p, g, s)
      g = g + 0.1 * p
      s.v = 0.9 * (s.v or 0) + 0.1 * g * g
      s.a = 0.9 * (s.a or 0) + 0.1 * g
      local avg = math.sqrt(s.v - s.a * s.a) + eps
      s.b = 0.5 * (s.b or 0) + g / avg
      return p - lr * s.b
    end))
  end

  -- ---- Adagrad ----------------------------------------------------------------------------------
  do
    -- step 1: s_1 = g², p_1 = p_0 - lr g/(|g| + eps)
    local lr = 0.1
    local got = run(function(ps) return optim.Adagrad(ps, {lr = lr}) end)
    compare('Adagrad', got, reference(function(p, g, s)
      s.s = (s.s or 0) + g * g
      return p - lr * g / (math.sqrt(s.s) + 1e-10)
    end))
    got = run(function(ps)
      return optim.Adagrad(ps, {lr = lr, lr_decay = 0.5, initial_accumulator_value = 0.2,
                                weight_decay = 0.05})
    end)
    compare('Adagrad lr_decay, initial value, wd', got, reference(function(p, g, s, t)
      g = g + 0.05 * p
      s.s = (s.s or 0.2) + g * g
      return p - lr / (1 + (t - 1) * 0.5) * g / (math.sqrt(s.s) + 1e-10)
    end))
  end

end   -- fused / elementwise
kernels.use_fused = rawget(nb, '_optim') ~= nil

-- ---- groups, zero_grad, in place, state_dict ----------------------------------------------------
do
  local a = nb.tensor({1, 1}, {dtype = 'f64', requires_grad = true})
  local b = nb.tensor({1, 1}, {dtype = 'f64', requires_grad = true})
  local c = nb.tensor({1, 1}, {dtype = 'f64', requires_grad = true})
  local opt = optim.SGD({{params = {a}}, {params = {b}, lr = 0.5}}, {lr = 0.1})
  H.check(opt.param_groups[1].lr == 0.1 and opt.param_groups[2].lr == 0.5, 'group lrs');
  ((a + b + c) * 2):sum():backward()
  opt:step()
  H.close(a, {0.8, 0.8}, 1e-15, 'group 1 with the default lr')
  H.close(b, {0, 0}, 1e-15, 'group 2 with its own lr')
  H.close(c, {1, 1}, 0, 'parameters outside the optimizer untouched')
  H.check(a.requires_grad and a.grad_fn == nil, 'updated in place: still a leaf')
  opt:zero_grad()
  H.check(a.grad == nil and b.grad == nil and c.grad ~= nil, 'zero_grad drops only its grads')
  opt:step()
  H.close(a, {0.8, 0.8}, 0, 'no gradient: no update')
  H.checkerror('more than one group', function()
    optim.SGD({{params = {a}}, {params = {a}}}, {lr = 1}) end)
  H.checkerror('parameter 1 is a string', function() optim.SGD({'w'}, {lr = 1}) end)
  -- a module or named_parameters also work as the parameter list
  local m = nn.Linear(2, 2)
  H.check(#optim.Adam(m).param_groups[1].params == 2, 'optimizer from a module')
  H.check(#optim.Adam(m:named_parameters()).param_groups[1].params == 2,
          'optimizer from named_parameters')

  -- state_dict: two Adam steps, save, restore into a fresh optimizer on a copy, step both
  local p1 = nb.tensor({0.5, -0.3}, {dtype = 'f64', requires_grad = true})
  local o1 = optim.Adam({p1}, {lr = 0.1})
  local function step(o, p, t)
    o:zero_grad();
    (p * nb.tensor(G[t], {dtype = 'f64'})):sum():backward()
    o:step()
  end
  step(o1, p1, 1); step(o1, p1, 2)
  local sd = o1:state_dict()
  H.check(sd.state[1].step == 2 and sd.param_groups[1].params[1] == 1 and
          sd.param_groups[1].lr == 0.1, 'state_dict layout')
  local p2 = p1:detach():clone():requires_grad_()
  local o2 = optim.Adam({p2}, {lr = 0.7})
  o2:load_state_dict(sd)
  H.check(o2.param_groups[1].lr == 0.1, 'hyperparameters restored')
  step(o1, p1, 3); step(o2, p2, 3)
  H.close(p2, p1, 0, 'restored optimizer continues identically')
  H.check(o2.state[p2].exp_avg ~= o1.state[p1].exp_avg, 'loaded state is a copy')
  H.checkerror('parameter groups', function()
    optim.Adam({{params = {p2}}, {params = {p1}}}):load_state_dict(sd) end)
end

-- ---- a strided gradient (x:mm(w:t()) gives a transposed view) takes the same steps -------
do
  local x = nb.randn({4, 3}, {dtype = 'f64'})
  local function train(fused)
    kernels.use_fused = fused and rawget(nb, '_optim') ~= nil
    nb.manual_seed(3)
    local w = nb.randn({2, 3}, {dtype = 'f64'}):requires_grad_()
    local opt = optim.Adam({w}, {lr = 0.1})
    for _ = 1, 3 do
      opt:zero_grad()
      x:mm(w:t()):pow(2):sum():backward()
      opt:step()
    end
    return w
  end
  local a, b = train(true), train(false)
  kernels.use_fused = rawget(nb, '_optim') ~= nil
  H.close(a, b, 1e-14, 'non-contiguous gradient: fused and elementwise steps agree')
end

-- ---- fused steps over several pool chunks: identical for 1 and 2 threads ----------------
do
  local function train(threads, make)
    nb.set_num_threads(threads)
    nb.manual_seed(8)
    local w = nb.randn(300, 400):requires_grad_()       -- 120,000 elements: several chunks
    local g = nb.randn(300, 400)
    local opt = make({w})
    for _ = 1, 2 do
      opt:zero_grad();
      (w * g):sum():backward()
      opt:step()
    end
    return w
  end
  local n0 = nb.get_num_threads()
  for name, make in pairs({
    SGD = function(ps) return optim.SGD(ps, {lr = 0.1, momentum = 0.9, weight_decay = 0.01}) end,
    AdamW = function(ps) return optim.AdamW(ps, {lr = 0.01}) end}) do
    H.check(nb.equal(train(1, make), train(2, make)), '%s: same result for 1 and 2 threads', name)
  end
  nb.set_num_threads(n0)
end

-- ---- a whole training run: bitwise identical for 1 and 2 threads ------------------------------
-- Conv blocks in the pool, GEMMs big enough to be split into panels (64 x 512 x 512), pooling,
-- ReLU, cross-entropy and SGD with momentum: every parameter after three steps, bit for bit.
do
  local function train(threads)
    nb.set_num_threads(threads)
    nb.manual_seed(3)
    local model = nn.Sequential(nn.Conv2d(3, 16, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),
                                nn.Flatten(), nn.Linear(16 * 8 * 8, 512), nn.ReLU(),
                                nn.Linear(512, 10))
    local opt = optim.SGD(model:parameters(), {lr = 0.05, momentum = 0.9})
    local x, y = nb.randn(64, 3, 16, 16), nb.randint(1, 10, {64})
    for _ = 1, 3 do
      opt:zero_grad()
      nn.CrossEntropyLoss()(model(x), y):backward()
      opt:step()
    end
    return model:parameters()
  end
  local n0 = nb.get_num_threads()
  local one, two = train(1), train(2)
  local same = true
  for i, p in ipairs(one) do same = same and nb.equal(p, two[i]) end
  H.check(same, 'a CNN trained three steps: same parameters with 1 and 2 threads')
  nb.set_num_threads(n0)
end

-- ---- gradient clipping --------------------------------------------------------------------------
do
  local a = nb.tensor({1, 1}, {dtype = 'f64', requires_grad = true})
  local b = nb.tensor({1}, {dtype = 'f64', requires_grad = true})
  local function grads()
    a.grad, b.grad = nil, nil;
    ((a * nb.tensor({3, 0}, {dtype = 'f64'})):sum() + b:sum() * 4):backward()
  end
  grads()
  local total = optim.clip_grad_norm({a, b}, 1)
  H.close(total, 5, 1e-14, 'clip_grad_norm returns the total norm √(3² + 4²)')
  H.close(a.grad, {3 / (5 + 1e-6), 0}, 1e-14, 'gradients scaled by max_norm/(total + 1e-6)')
  H.close(b.grad, {4 / (5 + 1e-6)}, 1e-14, 'all parameters scaled together')
  grads()
  H.close(optim.clip_grad_norm({a, b}, 10), 5, 1e-14, 'norm below max')
  H.close(a.grad, {3, 0}, 0, 'no clipping below max_norm')
  H.close(optim.clip_grad_norm({a, b}, 1, math.huge), 4, 0, 'max norm')
  grads()
  optim.clip_grad_value({a, b}, 2)
  H.close(a.grad, {2, 0}, 0, 'clip_grad_value')
  H.close(b.grad, {2}, 0, 'clip_grad_value on every parameter')
end

-- ---- schedulers ---------------------------------------------------------------------------------
do
  local function opt_with(lr) return optim.SGD({nb.zeros(1):requires_grad_()}, {lr = lr}) end
  local function seq(sched, n)
    local out = {sched:get_lr()[1]}
    for _ = 1, n do out[#out + 1] = sched:step()[1] end
    return out
  end
  -- StepLR(3, 0.1): lr_e = 1 * 0.1^floor(e/3)
  H.close(seq(optim.StepLR(opt_with(1), 3), 7), {1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01}, 1e-15,
          'StepLR')
  H.close(seq(optim.MultiStepLR(opt_with(1), {2, 5}, {gamma = 0.5}), 6),
          {1, 1, 0.5, 0.5, 0.5, 0.25, 0.25}, 1e-15, 'MultiStepLR')
  H.close(seq(optim.ExponentialLR(opt_with(2), 0.5), 3), {2, 1, 0.5, 0.25}, 1e-15,
          'ExponentialLR')
  -- cosine: eta_min + (base - eta_min)(1 + cos(pi e/T))/2
  local cref = {}
  for e = 0, 4 do cref[e + 1] = 0.1 + 0.9 * (1 + math.cos(math.pi * e / 4)) / 2 end
  H.close(seq(optim.CosineAnnealingLR(opt_with(1), 4, {eta_min = 0.1}), 4), cref, 1e-15,
          'CosineAnnealingLR')
  H.close(seq(optim.LambdaLR(opt_with(0.5), function(e) return 1 / (e + 1) end), 3),
          {0.5, 0.25, 0.5 / 3, 0.125}, 1e-15, 'LambdaLR')
  local o = optim.SGD({{params = {nb.zeros(1):requires_grad_()}},
                       {params = {nb.zeros(1):requires_grad_()}, lr = 1}}, {lr = 0.1})
  local s = optim.StepLR(o, 1, {gamma = 0.5})
  s:step()
  H.close(s:get_lr(), {0.05, 0.5}, 1e-15, 'schedulers scale every group from its own base lr')
  local sd = s:state_dict()
  local s2 = optim.StepLR(o, 1, {gamma = 0.5})
  s2:load_state_dict(sd)
  H.close(s2:get_lr(), {0.05, 0.5}, 1e-15, 'scheduler state_dict')
  local pl = optim.ReduceLROnPlateau(opt_with(1), {patience = 1, factor = 0.5})
  for _, metric in ipairs({1.0, 0.9, 0.95, 0.95}) do pl:step(metric) end
  H.close(pl:get_lr()[1], 0.5, 1e-15, 'ReduceLROnPlateau after patience+1 bad epochs')
end

H.report()
