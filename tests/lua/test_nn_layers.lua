-- nn layers: each forward against a naive Lua reference (loops over plain tables) on small
-- inputs, and check.grad through each layer in float64 with the layer's parameters among the
-- inputs (nn.functional_call swaps in the checker's leaves).  Also default-init bounds and
-- layer option errors.  Recurrent layers and attention: test_nn_recurrent.lua; normalization:
-- test_nn_norm.lua; losses: test_nn_loss.lua.
local nb = require 'nabla'
local nn = require 'nn'
local check = require 'check'
local H = require 'harness'

nb.manual_seed(11)

-- ---- helpers ---------------------------------------------------------------------------------
local function randn(...) return nb.randn({...}, {dtype = 'f64'}) end

-- check.grad of m(inputs...) with every parameter of m as an extra input (m in f64).
local function gradcheck(name, m, inputs, opts)
  opts = opts or {}
  m:double()
  local pnames, all = {}, {}
  for i, x in ipairs(inputs) do all[i] = x end
  local nin = #inputs
  for pname, p in m:named_parameters() do
    pnames[#pnames + 1] = pname
    all[#all + 1] = p
  end
  local ok, rep = check.grad(function(...)
    local args = {...}
    local d = {}
    for i, n in ipairs(pnames) do d[n] = args[nin + i] end
    if opts.seed then nb.manual_seed(opts.seed) end
    local out = table.pack(nn.functional_call(m, d, table.unpack(args, 1, nin)))
    if opts.outputs then return opts.outputs(out) end
    return out[1]
  end, all, opts.check)
  H.check(ok, '%s gradcheck: %s', name, rep.text)
end

local function zeros4(n, c, h, w)
  local t = {}
  for a = 1, n do
    t[a] = {}
    for b = 1, c do
      t[a][b] = {}
      for i = 1, h do
        t[a][b][i] = {}
        for j = 1, w do t[a][b][i][j] = 0 end
      end
    end
  end
  return t
end

-- ---- Linear -----------------------------------------------------------------------------------
do
  local m = nn.Linear(3, 2, {dtype = 'f64'})
  local x = randn(4, 3)
  local W, b, X = m.weight:totable(), m.bias:totable(), x:totable()
  local ref = {}
  for n = 1, 4 do
    ref[n] = {}
    for o = 1, 2 do
      local s = b[o]
      for i = 1, 3 do s = s + X[n][i] * W[o][i] end
      ref[n][o] = s
    end
  end
  H.close(m(x), ref, 1e-12, 'Linear forward')
  local x3 = randn(2, 5, 3)
  H.close(m(x3):reshape(10, 2), m(x3:reshape(10, 3)), 1e-12, 'Linear on [..., in]')
  local nob = nn.Linear(3, 2, {bias = false})
  H.check(nob.bias == nil and #nob:parameters() == 1, 'Linear bias=false')
  gradcheck('Linear', nn.Linear(3, 2), {randn(4, 3)})
  -- default init: U(±1/√in) for weight and bias
  local big = nn.Linear(400, 300)
  local bound = 1 / math.sqrt(400)
  H.check(big.weight:abs():max():item() <= bound and big.bias:abs():max():item() <= bound,
          'Linear init inside ±1/√in')
  H.check(big.weight:abs():max():item() > 0.95 * bound, 'Linear init fills the range')
  -- uniform on [-b, b] has std b/√3
  H.close(big.weight:std():item(), bound / math.sqrt(3), 0.02, 'Linear init std b/√3')
end

-- ---- Bilinear ---------------------------------------------------------------------------------
do
  local m = nn.Bilinear(2, 3, 2, {dtype = 'f64'})
  local x1, x2 = randn(3, 2), randn(3, 3)
  local W, b, A, B = m.weight:totable(), m.bias:totable(), x1:totable(), x2:totable()
  local ref = {}
  for n = 1, 3 do
    ref[n] = {}
    for k = 1, 2 do
      local s = b[k]
      for i = 1, 2 do for j = 1, 3 do s = s + A[n][i] * W[k][i][j] * B[n][j] end end
      ref[n][k] = s
    end
  end
  H.close(m(x1, x2), ref, 1e-12, 'Bilinear forward')
  gradcheck('Bilinear', nn.Bilinear(2, 3, 2), {randn(3, 2), randn(3, 3)})
end

-- ---- Conv2d -----------------------------------------------------------------------------------
-- out[n][o][i][j] = b[o] + Σ_{c in o's group, p, q}
--                   x[n][c][(i-1)s - pad + (p-1)d + 1][...] w[o][c'][p][q]
local function conv2d_ref(x, w, b, s, pad, d, groups)
  local N, C, Hh, Ww = #x, #x[1], #x[1][1], #x[1][1][1]
  local O, Cg, kh, kw = #w, #w[1], #w[1][1], #w[1][1][1]
  local Ho = (Hh + 2 * pad[1] - d[1] * (kh - 1) - 1) // s[1] + 1
  local Wo = (Ww + 2 * pad[2] - d[2] * (kw - 1) - 1) // s[2] + 1
  local out = zeros4(N, O, Ho, Wo)
  local Og = O // groups
  for n = 1, N do for o = 1, O do
    local g = (o - 1) // Og
    for i = 1, Ho do for j = 1, Wo do
      local acc = b and b[o] or 0
      for c = 1, Cg do for p = 1, kh do for q = 1, kw do
        local hi = (i - 1) * s[1] - pad[1] + (p - 1) * d[1] + 1
        local wi = (j - 1) * s[2] - pad[2] + (q - 1) * d[2] + 1
        if hi >= 1 and hi <= Hh and wi >= 1 and wi <= Ww then
          acc = acc + x[n][g * Cg + c][hi][wi] * w[o][c][p][q]
        end
      end end end
      out[n][o][i][j] = acc
    end end
  end end
  return out
end

do
  local cases = {
    {'plain', 2, 3, 3, {}, {1, 1}, {0, 0}, {1, 1}, 1},
    {'stride 2 pad 1', 2, 4, 3, {stride = 2, padding = 1}, {2, 2}, {1, 1}, {1, 1}, 1},
    {'dilation 2', 1, 2, 3, {dilation = 2, padding = 2}, {1, 1}, {2, 2}, {2, 2}, 1},
    {'groups 2', 4, 2, 3, {groups = 2, padding = 1}, {1, 1}, {1, 1}, {1, 1}, 2},
    {'rect k, no bias', 2, 3, {2, 3}, {bias = false, padding = {0, 1}}, {1, 1}, {0, 1}, {1, 1}, 1},
  }
  for _, c in ipairs(cases) do
    local name, cin, cout, k, opts, s, pad, d, g = table.unpack(c)
    opts.dtype = 'f64'
    local m = nn.Conv2d(cin, cout, k, opts)
    local x = randn(2, cin, 5, 6)
    local ref = conv2d_ref(x:totable(), m.weight:totable(), m.bias and m.bias:totable(), s, pad,
                           d, g)
    H.close(m(x), ref, 1e-11, 'Conv2d ' .. name)
  end
  -- 'same' with an even kernel: total padding 1, the extra row/column after (PyTorch)
  local m = nn.Conv2d(1, 1, 2, {padding = 'same', dtype = 'f64'})
  local x = randn(1, 1, 3, 3)
  local padded = nb.pad(x, {0, 1, 0, 1})
  local ref = conv2d_ref(padded:totable(), m.weight:totable(), m.bias:totable(), {1, 1}, {0, 0},
                         {1, 1}, 1)
  H.close(m(x), ref, 1e-12, "Conv2d padding='same', even kernel")
  H.check(table.concat(m(x).shape, ',') == '1,1,3,3', "'same' keeps the size")
  H.checkerror("padding='same' needs stride 1", function()
    nn.Conv2d(1, 1, 3, {padding = 'same', stride = 2}) end)
  H.checkerror('must be divisible by groups', function() nn.Conv2d(3, 4, 3, {groups = 2}) end)
  -- reflect padding mode = explicit reflect pad, then no padding
  local r = nn.Conv2d(1, 2, 3, {padding = 1, padding_mode = 'reflect', dtype = 'f64'})
  local xr = randn(1, 1, 4, 4)
  local pr = nb.pad(xr, {1, 1, 1, 1}, {mode = 'reflect'})
  H.close(r(xr), conv2d_ref(pr:totable(), r.weight:totable(), r.bias:totable(), {1, 1}, {0, 0},
                            {1, 1}, 1), 1e-12, 'Conv2d padding_mode reflect')
  -- unbatched [C, H, W]
  local u = nn.Conv2d(2, 3, 3, {dtype = 'f64'})
  local xu = randn(2, 4, 4)
  H.close(u(xu), u(xu:unsqueeze(1)):squeeze(1), 1e-12, 'Conv2d unbatched input')
  gradcheck('Conv2d', nn.Conv2d(2, 2, 2, {stride = 1, padding = 1}), {randn(1, 2, 3, 3)})
  gradcheck('Conv2d groups/stride', nn.Conv2d(2, 2, 3, {stride = 2, padding = 1, groups = 2}),
            {randn(2, 2, 3, 3)})
  -- init: U(±1/√fan_in), fan_in = Cin/groups * kh * kw
  local big = nn.Conv2d(16, 32, 3)
  local bound = 1 / math.sqrt(16 * 9)
  H.check(big.weight:abs():max():item() <= bound and big.bias:abs():max():item() <= bound,
          'Conv2d init inside ±1/√fan_in')
  H.close(big.weight:std():item(), bound / math.sqrt(3), 0.03, 'Conv2d init std')
end

-- ---- Conv1d -----------------------------------------------------------------------------------
do
  local m = nn.Conv1d(2, 3, 3, {padding = 1, stride = 2, dtype = 'f64'})
  local x = randn(2, 2, 7)
  -- as a conv2d with H = 1
  local x4 = x:unsqueeze(3):totable()
  local w4 = m.weight:unsqueeze(3):totable()
  local ref = conv2d_ref(x4, w4, m.bias:totable(), {1, 2}, {0, 1}, {1, 1}, 1)
  H.close(m(x), nb.tensor(ref, {dtype = 'f64'}):squeeze(3), 1e-12, 'Conv1d forward')
  H.checkerror('Conv1d(2→3, k=3): expected input [N,2,L], got [2,3,7]',
               function() m(randn(2, 3, 7)) end)
  gradcheck('Conv1d', nn.Conv1d(2, 2, 2, {padding = 1}), {randn(2, 2, 4)})
end

-- ---- ConvTranspose2d ----------------------------------------------------------------------------
-- out[n][o][(i-1)s - pad + (p-1)d + 1][...] += x[n][c][i][j] w[c][o'][p][q]
do
  local function convt_ref(x, w, b, s, pad, op, groups)
    local N, C, Hh, Ww = #x, #x[1], #x[1][1], #x[1][1][1]
    local Og, kh, kw = #w[1], #w[1][1], #w[1][1][1]
    local O = Og * groups
    local Ho = (Hh - 1) * s - 2 * pad + (kh - 1) + op + 1
    local Wo = (Ww - 1) * s - 2 * pad + (kw - 1) + op + 1
    local out = zeros4(N, O, Ho, Wo)
    local Cg = C // groups
    for n = 1, N do for c = 1, C do
      local g = (c - 1) // Cg
      for i = 1, Hh do for j = 1, Ww do
        for ol = 1, Og do for p = 1, kh do for q = 1, kw do
          local hi = (i - 1) * s - pad + (p - 1) + 1
          local wi = (j - 1) * s - pad + (q - 1) + 1
          if hi >= 1 and hi <= Ho and wi >= 1 and wi <= Wo then
            local o = g * Og + ol
            out[n][o][hi][wi] = out[n][o][hi][wi] + x[n][c][i][j] * w[c][ol][p][q]
          end
        end end end
      end end
    end end
    for n = 1, N do for o = 1, O do for i = 1, Ho do for j = 1, Wo do
      out[n][o][i][j] = out[n][o][i][j] + b[o]
    end end end end
    return out
  end
  local m = nn.ConvTranspose2d(2, 3, 3, {stride = 2, padding = 1, output_padding = 1,
                                         dtype = 'f64'})
  local x = randn(1, 2, 3, 3)
  local y = m(x)
  H.check(table.concat(y.shape, ',') == '1,3,6,6', 'ConvTranspose2d output size (n-1)s-2p+k+op')
  H.close(y, convt_ref(x:totable(), m.weight:totable(), m.bias:totable(), 2, 1, 1, 1), 1e-12,
          'ConvTranspose2d forward')
  local mg = nn.ConvTranspose2d(4, 2, 2, {groups = 2, dtype = 'f64'})
  local xg = randn(1, 4, 2, 2)
  H.close(mg(xg), convt_ref(xg:totable(), mg.weight:totable(), mg.bias:totable(), 1, 0, 0, 2),
          1e-12, 'ConvTranspose2d groups')
  -- PyTorch's fan_in for transposed conv: weight dim 2 * k*k = (Cout/groups) * kh * kw
  local big = nn.ConvTranspose2d(8, 16, 3)
  local bound = 1 / math.sqrt(16 * 9)
  H.check(big.weight:abs():max():item() <= bound and big.weight:abs():max():item() > 0.9 * bound,
          'ConvTranspose2d init bound from weight dim 2')
  gradcheck('ConvTranspose2d', nn.ConvTranspose2d(2, 2, 2, {stride = 2}), {randn(1, 2, 2, 2)})
end

-- ---- pooling and resizing -----------------------------------------------------------------------
do
  local x = randn(2, 2, 5, 6)
  local X = x:totable()
  -- max pool k=2, stride 2 (default = k), floor mode: 2 x 3 outputs
  local ref = zeros4(2, 2, 2, 3)
  local aref = zeros4(2, 2, 2, 3)
  for n = 1, 2 do for c = 1, 2 do for i = 1, 2 do for j = 1, 3 do
    local mx, s = -math.huge, 0
    for p = 0, 1 do for q = 0, 1 do
      local v = X[n][c][2 * i - 1 + p][2 * j - 1 + q]
      mx = math.max(mx, v)
      s = s + v
    end end
    ref[n][c][i][j], aref[n][c][i][j] = mx, s / 4
  end end end end
  H.close(nn.MaxPool2d(2)(x), ref, 1e-12, 'MaxPool2d forward')
  H.close(nn.AvgPool2d(2)(x), aref, 1e-12, 'AvgPool2d forward')
  -- stride 1, padding 1, count_include_pad: windows of 3x3 over the zero-padded input / 9
  local ap = nn.AvgPool2d(3, {stride = 1, padding = 1})
  local pad = nb.pad(x, {1, 1, 1, 1}):totable()
  local ref3 = zeros4(2, 2, 5, 6)
  for n = 1, 2 do for c = 1, 2 do for i = 1, 5 do for j = 1, 6 do
    local s = 0
    for p = 0, 2 do for q = 0, 2 do s = s + pad[n][c][i + p][j + q] end end
    ref3[n][c][i][j] = s / 9
  end end end end
  H.close(ap(x), ref3, 1e-12, 'AvgPool2d padding, count_include_pad')
  local mp, idx = nn.MaxPool2d(2, {return_indices = true})(x)
  H.check(idx.dtype == 'i64' and mp.shape[4] == 3, 'MaxPool2d return_indices')
  -- adaptive: output row i averages rows floor((i-1)H/oh)+1 .. ceil(i H/oh)
  local ad = nn.AdaptiveAvgPool2d({2, 4})(x)
  local aref2 = zeros4(2, 2, 2, 4)
  for n = 1, 2 do for c = 1, 2 do for i = 1, 2 do for j = 1, 4 do
    local h0, h1 = (i - 1) * 5 // 2 + 1, math.ceil(i * 5 / 2)
    local w0, w1 = (j - 1) * 6 // 4 + 1, math.ceil(j * 6 / 4)
    local s, k = 0, 0
    for a = h0, h1 do for b = w0, w1 do s = s + X[n][c][a][b]; k = k + 1 end end
    aref2[n][c][i][j] = s / k
  end end end end
  H.close(ad, aref2, 1e-12, 'AdaptiveAvgPool2d forward')
  H.close(nn.AdaptiveAvgPool2d(1)(x):reshape(2, 2), x:mean(4):mean(3), 1e-12,
          'AdaptiveAvgPool2d(1) is the global mean')
  -- nearest x2: out[i][j] = in[ceil(i/2)][ceil(j/2)]
  local up = nn.Upsample({scale_factor = 2})(x)
  local uref = zeros4(2, 2, 10, 12)
  for n = 1, 2 do for c = 1, 2 do for i = 1, 10 do for j = 1, 12 do
    uref[n][c][i][j] = X[n][c][(i + 1) // 2][(j + 1) // 2]
  end end end end
  H.close(up, uref, 0, 'Upsample nearest x2')
  -- bilinear, align_corners=false: src = max((dst + 0.5) in/out - 0.5, 0)
  local small = randn(1, 1, 2, 3)
  local S = small:totable()[1][1]
  local bl = nn.Upsample({size = {3, 4}, mode = 'bilinear'})(small)
  local function coord(dst, nin, nout)
    local src = math.max((dst + 0.5) * nin / nout - 0.5, 0)
    local i0 = math.floor(src)
    local i1 = math.min(i0 + 1, nin - 1)
    return i0 + 1, i1 + 1, src - i0
  end
  local bref = {{{}, {}, {}}}
  for i = 0, 2 do
    local a0, a1, la = coord(i, 2, 3)
    bref[1][i + 1] = {}
    for j = 0, 3 do
      local b0, b1, lb = coord(j, 3, 4)
      local top = S[a0][b0] * (1 - lb) + S[a0][b1] * lb
      local bot = S[a1][b0] * (1 - lb) + S[a1][b1] * lb
      bref[1][i + 1][j + 1] = top * (1 - la) + bot * la
    end
  end
  H.close(bl, {bref}, 1e-12, 'Upsample bilinear')
  H.checkerror('exactly one of size and scale_factor', function() nn.Upsample({}) end)
  H.checkerror('MaxPool2d(k=2): expected input [N,C,H,W] or [C,H,W], got [4,4]',
               function() nn.MaxPool2d(2)(randn(4, 4)) end)
  gradcheck('MaxPool2d', nn.MaxPool2d(2, {stride = 1}), {randn(1, 2, 3, 3)})
  gradcheck('AvgPool2d', nn.AvgPool2d(2, {stride = 1, padding = 1}), {randn(1, 1, 3, 3)})
  gradcheck('AdaptiveAvgPool2d', nn.AdaptiveAvgPool2d({2, 3}), {randn(1, 2, 3, 4)})
  gradcheck('Upsample nearest', nn.Upsample({size = {3, 5}}), {randn(1, 2, 2, 3)})
  gradcheck('Upsample bilinear', nn.Upsample({scale_factor = 2, mode = 'bilinear'}),
            {randn(1, 1, 2, 3)})
end

-- ---- shape layers, containers -------------------------------------------------------------------
do
  local x = randn(2, 3, 4, 5)
  H.check(table.concat(nn.Flatten()(x).shape, ',') == '2,60', 'Flatten default dims 2..-1')
  H.check(table.concat(nn.Flatten(1)(x).shape, ',') == '120', 'Flatten(1)')
  H.check(table.concat(nn.Flatten(2, 3)(x).shape, ',') == '2,12,5', 'Flatten(2, 3)')
  H.check(table.concat(nn.Unflatten(2, {3, 20})(randn(2, 60)).shape, ',') == '2,3,20',
          'Unflatten')
  H.check(nn.Identity()(x) == x, 'Identity returns its input')
  local f = nn.Linear(3, 3, {dtype = 'f64'})
  local r = nn.Residual(f)
  local xr = randn(2, 3)
  H.close(r(xr), f(xr) + xr, 1e-12, 'Residual: f(x) + x')
  H.checkerror('Residual: f changed the shape', function()
    nn.Residual(nn.Linear(3, 2, {dtype = 'f64'}))(randn(2, 3))
  end)
  gradcheck('Residual', nn.Residual(nn.Sequential(nn.Linear(3, 3), nn.Tanh())), {randn(2, 3)})
  gradcheck('Flatten', nn.Flatten(), {randn(2, 2, 3)})
  gradcheck('Unflatten', nn.Unflatten(2, {2, 2}), {randn(2, 4)})
  gradcheck('Identity', nn.Identity(), {randn(2, 3)})
  local seq = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
  gradcheck('Sequential', seq, {randn(2, 3)})
  local ml = nn.ModuleList({nn.Linear(2, 2), nn.Linear(2, 2)})
  ml:append(nn.Linear(2, 1))
  H.check(#ml:parameters() == 6 and #ml == 3, 'ModuleList registers its modules')
  local n = 0
  for _, m in ipairs(ml) do n = n + m.out_features end
  H.check(n == 5, 'ipairs over a ModuleList')
  H.checkerror('ModuleList has no forward', function() ml(randn(1, 2)) end)
  H.checkerror('expected a module at position 2', function() nn.Sequential(nn.ReLU(), 3) end)
end

-- ---- Embedding ----------------------------------------------------------------------------------
do
  local e = nn.Embedding(5, 3, {padding_idx = 2, dtype = 'f64'})
  H.close(e.weight[2], {0, 0, 0}, 0, 'padding_idx row starts at zero')
  local idx = nb.tensor({{1, 5}, {2, 5}}, {dtype = 'i64'})
  local W = e.weight:totable()
  H.close(e(idx), {{W[1], W[5]}, {W[2], W[5]}}, 0, 'Embedding rows')
  local out = e(idx)
  out:sum():backward()
  H.close(e.weight.grad, {{1, 1, 1}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {2, 2, 2}}, 0,
          'Embedding gradient counts uses; padding row gets none')
  H.checkerror('Embedding(5, 3, padding_idx=2): expected i64 indices 1..5',
               function() e(nb.tensor({1.0})) end)
  local big = nn.Embedding(1000, 20)
  H.close(big.weight:std():item(), 1, 0.05, 'Embedding init N(0, 1)')
  gradcheck('Embedding', nn.Embedding(4, 2), {nb.tensor({3, 1, 3}, {dtype = 'i64'})})
end

-- ---- activations --------------------------------------------------------------------------------
do
  local xs = {-2, -0.5, 0.3, 1.7}
  local x = nb.tensor(xs, {dtype = 'f64'})
  local function map(f) local t = {} for i, v in ipairs(xs) do t[i] = f(v) end return t end
  H.close(nn.ReLU()(x), map(function(v) return math.max(v, 0) end), 0, 'ReLU')
  H.close(nn.LeakyReLU(0.2)(x), map(function(v) return v > 0 and v or 0.2 * v end), 1e-15,
          'LeakyReLU(0.2)')
  H.close(nn.LeakyReLU()(x), map(function(v) return v > 0 and v or 0.01 * v end), 1e-15,
          'LeakyReLU default 0.01')
  H.close(nn.Sigmoid()(x), map(function(v) return 1 / (1 + math.exp(-v)) end), 1e-14, 'Sigmoid')
  H.close(nn.Tanh()(x), map(function(v) return (math.exp(2 * v) - 1) / (math.exp(2 * v) + 1) end),
          1e-14, 'Tanh')
  -- 0.5 x (1 + erf(x/√2)), Python 3.11 math.erf
  H.close(nn.GELU()(x), {-0.04550026389635842, -0.15426876936299344, 0.18537342665668577,
                         1.6242387133104768}, 1e-12, 'GELU exact')
  H.close(nn.GELU({approximate = 'tanh'})(x), map(function(v)
    local u = math.sqrt(2 / math.pi) * (v + 0.044715 * v ^ 3)
    return 0.5 * v * (1 + (math.exp(2 * u) - 1) / (math.exp(2 * u) + 1))
  end), 1e-12, 'GELU tanh')
  H.close(nn.Softplus()(x), map(function(v) return math.log(1 + math.exp(v)) end), 1e-14,
          'Softplus')
  H.close(nn.Softplus({beta = 2})(x), map(function(v) return math.log(1 + math.exp(2 * v)) / 2 end),
          1e-14, 'Softplus beta 2')
  H.close(nn.SiLU()(x), map(function(v) return v / (1 + math.exp(-v)) end), 1e-14, 'SiLU')
  H.close(nn.ELU()(x), map(function(v) return v > 0 and v or math.exp(v) - 1 end), 1e-14, 'ELU')
  local m = randn(2, 3)
  local M = m:totable()
  local sref, lref = {}, {}
  for i = 1, 2 do
    local z = 0
    for j = 1, 3 do z = z + math.exp(M[i][j]) end
    sref[i], lref[i] = {}, {}
    for j = 1, 3 do sref[i][j] = math.exp(M[i][j]) / z; lref[i][j] = M[i][j] - math.log(z) end
  end
  H.close(nn.Softmax(2)(m), sref, 1e-14, 'Softmax(2)')
  H.close(nn.Softmax()(m), sref, 1e-14, 'Softmax default dim -1')
  H.close(nn.LogSoftmax(2)(m), lref, 1e-14, 'LogSoftmax(2)')
  for _, c in ipairs({{'ReLU', nn.ReLU()}, {'LeakyReLU', nn.LeakyReLU(0.1)},
                      {'Sigmoid', nn.Sigmoid()}, {'Tanh', nn.Tanh()}, {'GELU', nn.GELU()},
                      {'GELU tanh', nn.GELU({approximate = 'tanh'})},
                      {'Softplus', nn.Softplus({beta = 2})}, {'SiLU', nn.SiLU()},
                      {'ELU', nn.ELU()}, {'Softmax', nn.Softmax(2)},
                      {'LogSoftmax', nn.LogSoftmax(1)}}) do
    -- inputs away from the kinks at 0
    gradcheck(c[1], c[2], {nb.tensor({{-1.3, 0.4, 2.1}, {0.7, -0.2, -2.5}}, {dtype = 'f64'})})
  end
end

-- ---- dropout ------------------------------------------------------------------------------------
do
  local x = nb.ones(200, 100)
  local d = nn.Dropout(0.3)
  local y = d(x)
  local kept = y:ne(0):sum():item() / 20000
  H.close(kept, 0.7, 0.03, 'Dropout keeps 1-p')
  H.close(y:max():item(), 1 / 0.7, 1e-6, 'kept values scaled by 1/(1-p)')
  H.close(y:mean():item(), 1, 0.03, 'Dropout keeps the mean')
  d:eval()
  H.check(d(x) == x, 'Dropout eval is the identity')
  H.check(nn.Dropout(0)(x) == x, 'p = 0 is the identity')
  H.close(nn.Dropout(1)(x):abs():sum(), 0, 0, 'p = 1 zeros everything')
  H.checkerror('p must be a probability', function() nn.Dropout(1.5) end)
  -- spatial: each channel all zero or all 1/(1-p)
  local d2 = nn.Dropout2d(0.5)
  local y2 = d2(nb.ones(20, 10, 3, 3))
  local per = y2:sum(4):sum(3)         -- [20, 10]: 0 or 9 * 2
  local zeros, full = per:eq(0):sum():item(), per:eq(18):sum():item()
  H.check(zeros + full == 200 and zeros > 60 and full > 60, 'Dropout2d drops whole channels')
  -- Gaussian: E = 1, Var = alpha
  local gd = nn.GaussianDropout(0.25)
  local yg = gd(nb.ones(200, 200))
  H.close(yg:mean():item(), 1, 0.01, 'GaussianDropout mean 1')
  H.close(yg:var():item(), 0.25, 0.02, 'GaussianDropout variance alpha')
  H.close(nn.GaussianDropout({p = 0.5}).alpha, 1, 1e-12, 'alpha = p/(1-p)')
  gd:eval()
  H.check(gd(x) == x, 'GaussianDropout eval is the identity')
  gradcheck('Dropout (fixed mask)', nn.Dropout(0.4), {randn(3, 4)}, {seed = 5})
  gradcheck('Dropout2d (fixed mask)', nn.Dropout2d(0.4), {randn(2, 3, 2, 2)}, {seed = 6})
  gradcheck('GaussianDropout (fixed noise)', nn.GaussianDropout(0.3), {randn(3, 4)}, {seed = 7})
end

H.report()
