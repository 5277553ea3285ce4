-- Normalization layers against hand-computed statistics: BatchNorm1d/2d in training (batch
-- mean, biased variance) and eval mode (running statistics), the running-stat updates with
-- momentum 0.1, cumulative averaging (momentum=false), affine=false and
-- track_running_stats=false; LayerNorm and GroupNorm per group; gradchecks in float64.
local nb = require 'nabla'
local nn = require 'nn'
local check = require 'check'
local H = require 'harness'

nb.manual_seed(3)

local function randn(...) return nb.randn({...}, {dtype = 'f64'}) end

local function gradcheck(name, m, inputs)
  m:double()
  local pnames, all = {}, {}
  for i, x in ipairs(inputs) do all[i] = x end
  for pname, p in m:named_parameters() do
    pnames[#pnames + 1] = pname
    all[#all + 1] = p
  end
  local ok, rep = check.grad(function(...)
    local args = {...}
    local d = {}
    for i, n in ipairs(pnames) do d[n] = args[#inputs + i] end
    return nn.functional_call(m, d, table.unpack(args, 1, #inputs))
  end, all)
  H.check(ok, '%s gradcheck: %s', name, rep.text)
end

-- mean and biased / unbiased variance of a list
local function stats(v)
  local n, s = #v, 0
  for _, a in ipairs(v) do s = s + a end
  local mu, q = s / n, 0
  for _, a in ipairs(v) do q = q + (a - mu) ^ 2 end
  return mu, q / n, q / (n - 1)
end

-- ---- BatchNorm1d on [N, C] --------------------------------------------------------------------
do
  local bn = nn.BatchNorm1d(3, {dtype = 'f64'})
  H.check(bn.momentum == 0.1 and bn.eps == 1e-5, 'BatchNorm defaults')
  nb.no_grad(function()
    bn.weight:copy_(nb.tensor({1.5, -1, 0.5}, {dtype = 'f64'}))
    bn.bias:copy_(nb.tensor({0.1, 0.2, -0.3}, {dtype = 'f64'}))
  end)
  local x1 = nb.tensor({{1, 2, 3}, {4, -1, 0}, {2, 2, 7}, {-3, 5, 1}}, {dtype = 'f64'})
  local x2 = nb.tensor({{0, 1, 1}, {2, 3, -1}, {1, 1, 4}, {5, -2, 0}}, {dtype = 'f64'})
  local X1 = x1:totable()
  local W, B = {1.5, -1, 0.5}, {0.1, 0.2, -0.3}
  local ref, mus, vb, vu = {{}, {}, {}, {}}, {}, {}, {}
  for c = 1, 3 do
    local col = {}
    for n = 1, 4 do col[n] = X1[n][c] end
    mus[c], vb[c], vu[c] = stats(col)
    for n = 1, 4 do ref[n][c] = (X1[n][c] - mus[c]) / math.sqrt(vb[c] + 1e-5) * W[c] + B[c] end
  end
  H.close(bn(x1), ref, 1e-12, 'BatchNorm1d training forward (biased variance)')
  local rm, rv = {}, {}
  for c = 1, 3 do rm[c] = 0.1 * mus[c]; rv[c] = 0.9 + 0.1 * vu[c] end
  H.close(bn.running_mean, rm, 1e-12, 'running_mean = 0.9*0 + 0.1*mean')
  H.close(bn.running_var, rv, 1e-12, 'running_var = 0.9*1 + 0.1*unbiased var')
  local X2 = x2:totable()
  bn(x2)
  for c = 1, 3 do
    local col = {}
    for n = 1, 4 do col[n] = X2[n][c] end
    local mu, _, u = stats(col)
    rm[c] = 0.9 * rm[c] + 0.1 * mu
    rv[c] = 0.9 * rv[c] + 0.1 * u
  end
  H.close(bn.running_mean, rm, 1e-12, 'running_mean after two batches')
  H.close(bn.running_var, rv, 1e-12, 'running_var after two batches')
  H.check(bn.num_batches_tracked:item() == 2, 'num_batches_tracked')
  bn:eval()
  local eref = {}
  for n = 1, 4 do
    eref[n] = {}
    for c = 1, 3 do eref[n][c] = (X1[n][c] - rm[c]) / math.sqrt(rv[c] + 1e-5) * W[c] + B[c] end
  end
  H.close(bn(x1), eref, 1e-12, 'BatchNorm1d eval uses the running statistics')
  H.close(bn.running_mean, rm, 1e-15, 'eval leaves the running statistics alone')
  H.close(bn(x1:narrow(1, 1, 1)), {eref[1]}, 1e-12, 'eval works on a batch of one')
  bn:train()
  H.checkerror('expected more than 1 value per channel', function() bn(x1:narrow(1, 1, 1)) end)

  -- momentum=false: cumulative average of the batch statistics
  local cum = nn.BatchNorm1d(3, {momentum = false, affine = false, dtype = 'f64'})
  H.check(#cum:parameters() == 0, 'affine=false has no parameters')
  cum(x1); cum(x2)
  local avg = {}
  for c = 1, 3 do
    local a, b = {}, {}
    for n = 1, 4 do a[n] = X1[n][c]; b[n] = X2[n][c] end
    avg[c] = (stats(a) + stats(b)) / 2
  end
  H.close(cum.running_mean, avg, 1e-12, 'momentum=false: cumulative average')
  local untracked = nn.BatchNorm1d(3, {track_running_stats = false, affine = false,
                                       dtype = 'f64'})
  untracked:eval()
  local bref = {}
  for n = 1, 4 do
    bref[n] = {}
    for c = 1, 3 do bref[n][c] = (X1[n][c] - mus[c]) / math.sqrt(vb[c] + 1e-5) end
  end
  H.close(untracked(x1), bref, 1e-12, 'track_running_stats=false uses batch stats in eval')
  H.check(untracked.running_mean == nil, 'no running buffers when untracked')

  gradcheck('BatchNorm1d train', nn.BatchNorm1d(3), {randn(4, 3)})
  local ev = nn.BatchNorm1d(3)
  ev(randn(5, 3):to('f32'))
  ev:eval()
  gradcheck('BatchNorm1d eval', ev, {randn(4, 3)})
  -- [N, C, L]: statistics over N and L
  local b3 = nn.BatchNorm1d(2, {affine = false, dtype = 'f64'})
  local x3 = randn(3, 2, 4)
  local y3 = b3(x3)
  H.close(y3:transpose(1, 2):reshape(2, -1):mean(2), {0, 0}, 1e-12, 'BatchNorm1d [N,C,L] mean 0')
  H.close(y3:transpose(1, 2):reshape(2, -1):var(2), {1, 1}, 1e-4, 'BatchNorm1d [N,C,L] var 1')
  gradcheck('BatchNorm1d [N,C,L]', nn.BatchNorm1d(2), {randn(2, 2, 3)})
end

-- ---- BatchNorm2d: per channel over N, H, W ---------------------------------------------------
do
  local bn = nn.BatchNorm2d(2, {dtype = 'f64', momentum = 0.2})
  local x = randn(3, 2, 2, 3)
  local X = x:totable()
  local y = bn(x):totable()
  local ok = true
  for c = 1, 2 do
    local v = {}
    for n = 1, 3 do for i = 1, 2 do for j = 1, 3 do v[#v + 1] = X[n][c][i][j] end end end
    local mu, b, u = stats(v)
    for n = 1, 3 do for i = 1, 2 do for j = 1, 3 do
      local want = (X[n][c][i][j] - mu) / math.sqrt(b + 1e-5)
      if math.abs(y[n][c][i][j] - want) > 1e-12 then ok = false end
    end end end
    H.close(bn.running_mean:get(c), 0.2 * mu, 1e-12, 'BatchNorm2d running_mean, momentum 0.2')
    H.close(bn.running_var:get(c), 0.8 + 0.2 * u, 1e-12, 'BatchNorm2d running_var')
  end
  H.check(ok, 'BatchNorm2d training forward per channel')
  gradcheck('BatchNorm2d train', nn.BatchNorm2d(2), {randn(2, 2, 2, 2)})
  local ev = nn.BatchNorm2d(2)
  ev(randn(2, 2, 3, 3):to('f32'))
  ev:eval()
  gradcheck('BatchNorm2d eval', ev, {randn(2, 2, 2, 2)})
end

-- ---- LayerNorm ----------------------------------------------------------------------------------
do
  local ln = nn.LayerNorm(4, {dtype = 'f64'})
  nb.no_grad(function()
    ln.weight:copy_(nb.tensor({1, 2, 3, 4}))
    ln.bias:copy_(nb.tensor({0, 1, 0, -1}))
  end)
  local x = randn(3, 4)
  local X = x:totable()
  local ref = {}
  for n = 1, 3 do
    local mu, v = stats(X[n])
    ref[n] = {}
    for j = 1, 4 do ref[n][j] = (X[n][j] - mu) / math.sqrt(v + 1e-5) * j + ({0, 1, 0, -1})[j] end
  end
  H.close(ln(x), ref, 1e-12, 'LayerNorm over the last dim')
  local ln2 = nn.LayerNorm({2, 3}, {elementwise_affine = false, dtype = 'f64'})
  local x2 = randn(2, 2, 3)
  local flat = x2:reshape(2, 6):totable()
  local ref2 = {}
  for n = 1, 2 do
    local mu, v = stats(flat[n])
    ref2[n] = {}
    for j = 1, 6 do ref2[n][j] = (flat[n][j] - mu) / math.sqrt(v + 1e-5) end
  end
  H.close(ln2(x2):reshape(2, 6), ref2, 1e-12, 'LayerNorm over the last two dims')
  H.checkerror('LayerNorm([4], eps=1e-05): expected input [..., 4], got [3,5]',
               function() ln(randn(3, 5)) end)
  gradcheck('LayerNorm', nn.LayerNorm(3), {randn(2, 3)})
  gradcheck('LayerNorm 2 dims', nn.LayerNorm({2, 2}), {randn(2, 2, 2)})
end

-- ---- GroupNorm ----------------------------------------------------------------------------------
do
  local gn = nn.GroupNorm(2, 4, {dtype = 'f64'})
  nb.no_grad(function() gn.weight:copy_(nb.tensor({1, 2, 3, 4})) end)
  local x = randn(2, 4, 3)
  local X = x:totable()
  local ref = {}
  for n = 1, 2 do
    ref[n] = {}
    for g = 0, 1 do
      local v = {}
      for c = 2 * g + 1, 2 * g + 2 do for l = 1, 3 do v[#v + 1] = X[n][c][l] end end
      local mu, var = stats(v)
      for c = 2 * g + 1, 2 * g + 2 do
        ref[n][c] = {}
        for l = 1, 3 do ref[n][c][l] = (X[n][c][l] - mu) / math.sqrt(var + 1e-5) * c end
      end
    end
  end
  H.close(gn(x), ref, 1e-12, 'GroupNorm per group')
  H.checkerror('must be divisible by num_groups', function() nn.GroupNorm(3, 4) end)
  gradcheck('GroupNorm', nn.GroupNorm(2, 4), {randn(2, 4, 2)})
end

H.report()
