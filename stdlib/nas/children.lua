-- nas.children: the child networks of a search (a CNN builder from a sampled configuration, a
-- brief trainer on image tensors, a cached evaluator).  Installed into the nas module by
-- stdlib/nas.lua, whose shared helpers it receives.
local nb = require 'nabla'

return function(M, fail, check_space)
  -- A CNN from cfg = {in_size=28, in_channels=1, resolution=in_size, layers={{out=, k=}, ...},
  -- hidden=0, classes=10}: [AvgPool(in/res)] → (Conv k×k 'same' → ReLU → MaxPool 2)* →
  -- Flatten → [Linear hidden → ReLU] → Linear classes.
  local function cnn_plan(fname, cfg)
    local size, c = cfg.in_size or 28, cfg.in_channels or 1
    local res = cfg.resolution or size
    if size % res ~= 0 then
      fail(fname, 'resolution %d must divide the input size %d', res, size)
    end
    local plan = {}
    if res ~= size then plan[#plan + 1] = {kind = 'avgpool', k = size // res} end
    local s = res
    for i, L in ipairs(cfg.layers or {}) do
      local k, out = L.k or L.kernel or 3, L.out or L.width
      if not out then fail(fname, 'layer %d needs out (channels)', i) end
      if s < 2 then fail(fname, 'layer %d: the feature map is already %d×%d', i, s, s) end
      plan[#plan + 1] = {kind = 'conv', cin = c, cout = out, k = k, padding = k // 2}
      plan[#plan + 1] = {kind = 'relu'}
      plan[#plan + 1] = {kind = 'maxpool', k = 2}
      c, s = out, s // 2
    end
    plan[#plan + 1] = {kind = 'flatten'}
    local f = c * s * s
    if (cfg.hidden or 0) > 0 then
      plan[#plan + 1] = {kind = 'linear', cin = f, cout = cfg.hidden}
      plan[#plan + 1] = {kind = 'relu'}
      f = cfg.hidden
    end
    plan[#plan + 1] = {kind = 'linear', cin = f, cout = cfg.classes or 10}
    return plan
  end

  function M.build_cnn(cfg)
    local nn = require 'nn'
    local mods = {}
    for _, p in ipairs(cnn_plan('build_cnn', cfg)) do
      if p.kind == 'avgpool' then mods[#mods + 1] = nn.AvgPool2d(p.k)
      elseif p.kind == 'conv' then
        mods[#mods + 1] = nn.Conv2d(p.cin, p.cout, p.k, {padding = p.padding})
      elseif p.kind == 'relu' then mods[#mods + 1] = nn.ReLU()
      elseif p.kind == 'maxpool' then mods[#mods + 1] = nn.MaxPool2d(p.k)
      elseif p.kind == 'flatten' then mods[#mods + 1] = nn.Flatten()
      elseif p.kind == 'linear' then mods[#mods + 1] = nn.Linear(p.cin, p.cout) end
    end
    return nn.Sequential(table.unpack(mods))
  end

  -- The same network as calc layer specs (for calc.macs / calc.summary, input {C, H, W}).
  function M.cnn_specs(cfg)
    local specs = {}
    for _, p in ipairs(cnn_plan('cnn_specs', cfg)) do
      local s = {}
      for k, v in pairs(p) do s[k] = v end
      if s.kind == 'conv' then s.p = s.padding; s.padding = nil end
      specs[#specs + 1] = s
    end
    return specs
  end

  -- cfg for build_cnn from a decoded architecture: decision names 'resolution', 'hidden',
  -- 'depth' + 'width' + 'kernel' (depth equal layers), or 'layer…' decisions whose choices
  -- are {out=, k=} tables (STOP ends the stack).  opts are copied into cfg first.
  function M.cnn_config(sp, idx, opts)
    local arch = M.decode(sp, idx)
    local cfg = {}
    for k, v in pairs(opts or {}) do cfg[k] = v end
    cfg.resolution = arch.resolution or cfg.resolution
    cfg.hidden = arch.hidden or cfg.hidden
    cfg.layers = {}
    if arch.depth then
      for i = 1, arch.depth do cfg.layers[i] = {out = arch.width or 8, k = arch.kernel or 3} end
    end
    for _, d in ipairs(sp.decisions) do
      local v = arch[d.name]
      if d.name:find('^layer') and type(v) == 'table' and v ~= M.STOP then
        cfg.layers[#cfg.layers + 1] = {out = v.out or v.width, k = v.k or v.kernel}
      end
    end
    return cfg, arch
  end

  -- Brief training with Adam on (Xtr, ytr), then accuracy on (Xva, yva).  opts: epochs=1,
  -- batch=32, lr=3e-3, eval_batch=500.  Returns acc, {loss=, time=, steps=}.
  function M.train_child(model, Xtr, ytr, Xva, yva, opts)
    opts = opts or {}
    local optim, nn = require 'optim', require 'nn'
    local t0 = nb.clock()
    local opt = optim.Adam(model:parameters(), {lr = opts.lr or 3e-3})
    local n, bs = Xtr:size(1), opts.batch or 32
    local last, steps = 0, 0
    model:train()
    for _ = 1, opts.epochs or 1 do
      local perm = nb.randperm(n)
      for i = 1, n, bs do
        local ib = perm:narrow(1, i, math.min(bs, n - i + 1))
        opt:zero_grad()
        local loss = nn.F.cross_entropy(model(Xtr:index_select(1, ib)), ytr:index_select(1, ib))
        loss:backward()
        opt:step()
        last, steps = loss:item(), steps + 1
      end
    end
    model:eval()
    local correct = nb.no_grad(function()
      local c, m, eb = 0, Xva:size(1), opts.eval_batch or 500
      for i = 1, m, eb do
        local len = math.min(eb, m - i + 1)
        local pred = model(Xva:narrow(1, i, len)):argmax(2)
        c = c + pred:eq(yva:narrow(1, i, len)):sum():item()
      end
      return c
    end)
    return correct / Xva:size(1), {loss = last, time = nb.clock() - t0, steps = steps}
  end

  -- 32-bit FNV-1a of a string (the per-architecture training seed).
  local function fnv1a(s)
    local h = 2166136261
    for i = 1, #s do h = ((h ~ s:byte(i)) * 16777619) & 0xffffffff end
    return h
  end

  -- A cached reward function over sp.  Each child is built (opts.build(sp, idx) → model, or
  -- build_cnn(cnn_config)), seeded with seed + hash(key) and trained once; its reward is
  -- opts.reward(acc, info) (default: the validation accuracy).  Because the seed depends only on
  -- the architecture, a cache hit returns exactly what retraining would.  data = {Xtr, ytr, Xva,
  -- yva}.  The function has fields cache (key → info), trained (count), time (seconds).
  function M.evaluator(sp, data, opts)
    check_space('evaluator', sp)
    opts = opts or {}
    local ev = {cache = {}, trained = 0, time = 0, order = {}}
    local base = opts.seed or 1
    local in_shape = {1, data[1]:size(2), data[1]:size(3), data[1]:size(4)}
    function ev.info(idx)
      local key = M.key(idx)
      local e = ev.cache[key]
      if e then return e end
      nb.manual_seed(base + fnv1a(key))
      local model, cfg
      if opts.build then model = opts.build(sp, idx)
      else
        cfg = M.cnn_config(sp, idx, opts.cnn)
        model = M.build_cnn(cfg)
      end
      local acc, tinfo = M.train_child(model, data[1], data[2], data[3], data[4], opts.train)
      e = {key = key, idx = idx, acc = acc, time = tinfo.time, loss = tinfo.loss, cfg = cfg,
           label = M.format(sp, idx)}
      local calc = require 'calc'
      e.params = calc.measure_params(model)
      if opts.count_macs ~= false then e.macs = calc.measure_macs(model, in_shape) end
      e.reward = opts.reward and opts.reward(acc, e) or acc
      ev.cache[key] = e
      ev.order[#ev.order + 1] = key
      ev.trained, ev.time = ev.trained + 1, ev.time + tinfo.time
      if opts.on_train then opts.on_train(e, ev) end
      return e
    end
    return setmetatable(ev, {__call = function(_, idx) return ev.info(idx).reward end})
  end

  -- A reward function from a table keyed by nas.key(idx) (an evaluator's cache or numbers).
  function M.table_reward(tbl, field)
    return function(idx)
      local v = tbl[M.key(idx)]
      if type(v) == 'table' then v = v[field or 'reward'] end
      if type(v) ~= 'number' then error('nas.table_reward: no entry for ' .. M.key(idx), 2) end
      return v
    end
  end
end
