-- nn ops from Lua: conv2d / conv1d / conv_transpose2d, max / avg / adaptive pooling, upsampling
-- and padding.  Forward values are checked against naive loops written here over totable();
-- gradients with check.grad and second derivatives with check.gradgrad (float64, small
-- tensors) for every option; the weight gradient of a convolution against the hand-derived
-- correlation of the input with dL/dZ; and error messages.
local nb = require 'nabla'
local check = require 'check'
local H = require 'harness'
local E = H.checkerror

nb.manual_seed(2024)
local function rnd(...) return nb.randn({...}, {dtype = 'f64'}) end
local function fmt_opts(o)
  local parts = {}
  for k, v in pairs(o) do
    parts[#parts + 1] = k .. '=' .. (type(v) == 'table' and '{' .. table.concat(v, ',') .. '}'
                                     or tostring(v))
  end
  table.sort(parts)
  return '{' .. table.concat(parts, ' ') .. '}'
end
local function pair(v) if type(v) == 'table' then return v end return {v, v} end

-- Both checks on f over inputs; label names the case.
local function grads(label, f, inputs, second)
  local ok, rep = check.grad(f, inputs)
  H.check(ok, '%s grad: %s', label, rep.text)
  if second ~= false then
    ok, rep = check.gradgrad(f, inputs)
    H.check(ok, '%s gradgrad: %s', label, rep.text)
  end
end

-- ---- naive references -----------------------------------------------------------------------
local function zeros4(a, b, c, d, v)
  local t = {}
  for i = 1, a do t[i] = {}
    for j = 1, b do t[i][j] = {}
      for k = 1, c do t[i][j][k] = {}
        for l = 1, d do t[i][j][k][l] = v or 0 end end end end
  return t
end

-- Direct seven-loop cross-correlation (PyTorch's conv2d), o = {stride=, padding=, dilation=,
-- groups=}; padding may be {top, bottom, left, right} (asymmetric, for 'same').
local function conv2d_ref(x, w, b, o)
  local X, Wt, B = x:totable(), w:totable(), b and b:totable()
  local N, C, Hh, Ww = table.unpack(x.shape)
  local O, Cg, KH, KW = table.unpack(w.shape)
  local s, d, g = pair(o.stride or 1), pair(o.dilation or 1), o.groups or 1
  local p = o.padding or 0
  local pt, pb, pl, pr
  if type(p) == 'table' and #p == 4 then pt, pb, pl, pr = p[1], p[2], p[3], p[4]
  else p = pair(p); pt, pb, pl, pr = p[1], p[1], p[2], p[2] end
  local Ho = (Hh + pt + pb - d[1] * (KH - 1) - 1) // s[1] + 1
  local Wo = (Ww + pl + pr - d[2] * (KW - 1) - 1) // s[2] + 1
  local Og = O // g
  local out = zeros4(N, O, Ho, Wo)
  for n = 1, N do
    for oc = 1, O do
      local grp = (oc - 1) // Og
      for i = 1, Ho do
        for j = 1, Wo do
          local acc = B and B[oc] or 0
          for cc = 1, Cg do
            local c = grp * Cg + cc
            for u = 1, KH do
              for v = 1, KW do
                local hi = (i - 1) * s[1] - pt + (u - 1) * d[1] + 1
                local wi = (j - 1) * s[2] - pl + (v - 1) * d[2] + 1
                if hi >= 1 and hi <= Hh and wi >= 1 and wi <= Ww then
                  acc = acc + X[n][c][hi][wi] * Wt[oc][cc][u][v]
                end
              end
            end
          end
          out[n][oc][i][j] = acc
        end
      end
    end
  end
  return out
end

-- conv_transpose2d by scattering each input element through the kernel; w: [C, O/g, kh, kw].
local function conv_t_ref(x, w, b, o)
  local X, Wt, B = x:totable(), w:totable(), b and b:totable()
  local N, C, Hh, Ww = table.unpack(x.shape)
  local _, Og, KH, KW = table.unpack(w.shape)
  local s, p, d = pair(o.stride or 1), pair(o.padding or 0), pair(o.dilation or 1)
  local op, g = pair(o.output_padding or 0), o.groups or 1
  local O, Cg = Og * g, C // g
  local Ho = (Hh - 1) * s[1] - 2 * p[1] + d[1] * (KH - 1) + op[1] + 1
  local Wo = (Ww - 1) * s[2] - 2 * p[2] + d[2] * (KW - 1) + op[2] + 1
  local out = zeros4(N, O, Ho, Wo)
  for n = 1, N do
    for oc = 1, O do for i = 1, Ho do for j = 1, Wo do
      out[n][oc][i][j] = B and B[oc] or 0 end end end
    for c = 1, C do
      local grp = (c - 1) // Cg
      for i = 1, Hh do for j = 1, Ww do
        for oo = 1, Og do for u = 1, KH do for v = 1, KW do
          local hi = (i - 1) * s[1] - p[1] + (u - 1) * d[1] + 1
          local wi = (j - 1) * s[2] - p[2] + (v - 1) * d[2] + 1
          if hi >= 1 and hi <= Ho and wi >= 1 and wi <= Wo then
            local oc = grp * Og + oo
            out[n][oc][hi][wi] = out[n][oc][hi][wi] + X[n][c][i][j] * Wt[c][oo][u][v]
          end
        end end end
      end end
    end
  end
  return out
end

local function conv1d_ref(x, w, b, o)
  local X, Wt, B = x:totable(), w:totable(), b and b:totable()
  local N, _, L = table.unpack(x.shape)
  local O, Cg, K = table.unpack(w.shape)
  local s, p, d, g = o.stride or 1, o.padding or 0, o.dilation or 1, o.groups or 1
  local pl, pr = p, p
  if type(p) == 'table' then pl, pr = p[1], p[2] end
  local Lo = (L + pl + pr - d * (K - 1) - 1) // s + 1
  local out = {}
  for n = 1, N do out[n] = {}
    for oc = 1, O do out[n][oc] = {}
      local grp = (oc - 1) // (O // g)
      for i = 1, Lo do
        local acc = B and B[oc] or 0
        for cc = 1, Cg do for u = 1, K do
          local li = (i - 1) * s - pl + (u - 1) * d + 1
          if li >= 1 and li <= L then acc = acc + X[n][grp * Cg + cc][li] * Wt[oc][cc][u] end
        end end
        out[n][oc][i] = acc
      end
    end
  end
  return out
end

-- PyTorch's pooling output size (ceil mode: the last window must start inside input + left pad)
local function pool_out(n, k, s, p, d, ceil)
  local num = n + 2 * p - d * (k - 1) - 1
  local o = (ceil and -((-num) // s) or num // s) + 1
  if ceil and (o - 1) * s >= n + p then o = o - 1 end
  return o
end

-- max pooling by hand on [N,C,H,W]: values and 1-based flat indices within each plane
local function maxpool_ref(x, k, o)
  local X = x:totable()
  local N, C, Hh, Ww = table.unpack(x.shape)
  k = pair(k)
  local s, p, d = pair(o.stride or k), pair(o.padding or 0), pair(o.dilation or 1)
  local Ho = pool_out(Hh, k[1], s[1], p[1], d[1], o.ceil_mode)
  local Wo = pool_out(Ww, k[2], s[2], p[2], d[2], o.ceil_mode)
  local vals, idx = zeros4(N, C, Ho, Wo), zeros4(N, C, Ho, Wo)
  for n = 1, N do for c = 1, C do for i = 1, Ho do for j = 1, Wo do
    local best, bi = -math.huge, 0
    for u = 1, k[1] do for v = 1, k[2] do
      local hi = (i - 1) * s[1] - p[1] + (u - 1) * d[1] + 1
      local wi = (j - 1) * s[2] - p[2] + (v - 1) * d[2] + 1
      if hi >= 1 and hi <= Hh and wi >= 1 and wi <= Ww and X[n][c][hi][wi] > best then
        best, bi = X[n][c][hi][wi], (hi - 1) * Ww + wi
      end
    end end
    vals[n][c][i][j], idx[n][c][i][j] = best, bi
  end end end end
  return vals, idx
end

local function avgpool_ref(x, k, o)
  local X = x:totable()
  local N, C, Hh, Ww = table.unpack(x.shape)
  k = pair(k)
  local s, p = pair(o.stride or k), pair(o.padding or 0)
  local cip = o.count_include_pad ~= false
  local Ho = pool_out(Hh, k[1], s[1], p[1], 1, o.ceil_mode)
  local Wo = pool_out(Ww, k[2], s[2], p[2], 1, o.ceil_mode)
  local out = zeros4(N, C, Ho, Wo)
  for n = 1, N do for c = 1, C do for i = 1, Ho do for j = 1, Wo do
    local h0, w0 = (i - 1) * s[1] - p[1], (j - 1) * s[2] - p[2]          -- 0-based
    local h1, w1 = math.min(h0 + k[1], Hh + p[1]), math.min(w0 + k[2], Ww + p[2])
    local area = (h1 - h0) * (w1 - w0)
    h0, w0, h1, w1 = math.max(h0, 0), math.max(w0, 0), math.min(h1, Hh), math.min(w1, Ww)
    local sum = 0
    for hi = h0 + 1, h1 do for wi = w0 + 1, w1 do sum = sum + X[n][c][hi][wi] end end
    out[n][c][i][j] = sum / (cip and area or (h1 - h0) * (w1 - w0))
  end end end end
  return out
end

local function adaptive_ref(x, oh, ow)
  local X = x:totable()
  local N, C, Hh, Ww = table.unpack(x.shape)
  local out = zeros4(N, C, oh, ow)
  for n = 1, N do for c = 1, C do for i = 0, oh - 1 do for j = 0, ow - 1 do
    local h0, h1 = (i * Hh) // oh, -((-(i + 1) * Hh) // oh)
    local w0, w1 = (j * Ww) // ow, -((-(j + 1) * Ww) // ow)
    local sum = 0
    for hi = h0 + 1, h1 do for wi = w0 + 1, w1 do sum = sum + X[n][c][hi][wi] end end
    out[n][c][i + 1][j + 1] = sum / ((h1 - h0) * (w1 - w0))
  end end end end
  return out
end

-- 0-based source coordinate and weights along one axis
local function nearest_src(dst, n_in, n_out) return math.min((dst * n_in) // n_out, n_in - 1) end
local function bilinear_src(dst, n_in, n_out, ac)
  local src
  if ac then src = n_out > 1 and dst * (n_in - 1) / (n_out - 1) or 0
  else src = math.max((dst + 0.5) * n_in / n_out - 0.5, 0) end
  local i0 = math.floor(src)
  return i0, math.min(i0 + 1, n_in - 1), src - i0
end

local function upsample_ref(x, oh, ow, mode, ac)
  local X = x:totable()
  local N, C, Hh, Ww = table.unpack(x.shape)
  local out = zeros4(N, C, oh, ow)
  for n = 1, N do for c = 1, C do for i = 0, oh - 1 do for j = 0, ow - 1 do
    local P = X[n][c]
    if mode == 'nearest' then
      out[n][c][i + 1][j + 1] = P[nearest_src(i, Hh, oh) + 1][nearest_src(j, Ww, ow) + 1]
    else
      local a0, a1, la = bilinear_src(i, Hh, oh, ac)
      local b0, b1, lb = bilinear_src(j, Ww, ow, ac)
      out[n][c][i + 1][j + 1] = (1 - la) * ((1 - lb) * P[a0 + 1][b0 + 1] + lb * P[a0 + 1][b1 + 1])
                                + la * ((1 - lb) * P[a1 + 1][b0 + 1] + lb * P[a1 + 1][b1 + 1])
    end
  end end end end
  return out
end

-- F.pad on the last two dims of [N,C,H,W]: pads = {left, right, top, bottom}
local function pad_ref(x, pads, mode, value)
  local X = x:totable()
  local N, C, Hh, Ww = table.unpack(x.shape)
  local function src(o, n, before)   -- 1-based output index -> 1-based input index or nil
    local i = o - 1 - before
    if i >= 0 and i < n then return i + 1 end
    if mode == 'constant' then return nil end
    if mode == 'reflect' then return (i < 0 and -i or 2 * (n - 1) - i) + 1 end
    return math.min(math.max(i, 0), n - 1) + 1
  end
  local Ho, Wo = Hh + pads[3] + pads[4], Ww + pads[1] + pads[2]
  local out = zeros4(N, C, Ho, Wo)
  for n = 1, N do for c = 1, C do for i = 1, Ho do for j = 1, Wo do
    local hi, wi = src(i, Hh, pads[3]), src(j, Ww, pads[1])
    out[n][c][i][j] = (hi and wi) and X[n][c][hi][wi] or (value or 0)
  end end end end
  return out
end

-- ---- conv2d over the option grid ------------------------------------------------------------
-- x [1,2,4,5] and w [2,2/g,2,3]: small enough for fast finite differences, asymmetric so that
-- a swapped H/W axis cannot pass.
local ncases = 0
for _, stride in ipairs({1, 2}) do
  for _, padding in ipairs({0, 1}) do
    for _, dilation in ipairs({1, 2}) do
      for _, groups in ipairs({1, 2}) do
        for _, bias in ipairs({false, true}) do
          local x, w = rnd(1, 2, 4, 5), rnd(2, 2 // groups, 2, 3)
          local b = bias and rnd(2) or nil
          local o = {stride = stride, padding = padding, dilation = dilation, groups = groups}
          local label = 'conv2d ' .. fmt_opts(o) .. (bias and ' bias' or '')
          H.close(nb.conv2d(x, w, b, o), conv2d_ref(x, w, b, o), 1e-12, label .. ' forward')
          if bias then
            grads(label, function(a, c, e) return nb.conv2d(a, c, e, o) end, {x, w, b})
          else
            grads(label, function(a, c) return nb.conv2d(a, c, nil, o) end, {x, w})
          end
          ncases = ncases + 1
        end
      end
    end
  end
end
H.check(ncases == 32, 'conv2d grid ran %d cases', ncases)

-- per-axis options as pairs, and the options table right after w (no bias)
do
  local x, w = rnd(1, 2, 5, 4), rnd(3, 2, 2, 2)
  local o = {stride = {2, 1}, padding = {1, 0}, dilation = {1, 2}}
  H.close(nb.conv2d(x, w, nil, o), conv2d_ref(x, w, nil, o), 1e-12, 'conv2d with {h, w} options')
  H.close(nb.conv2d(x, w, o), conv2d_ref(x, w, nil, o), 1e-12, 'conv2d(x, w, opts)')
  grads('conv2d {h,w} options', function(a, c) return nb.conv2d(a, c, o) end, {x, w})
  -- non-contiguous input and weight (transposed views)
  local xt, wt = rnd(1, 2, 4, 5):transpose(3, 4), rnd(3, 2, 2, 2):transpose(3, 4)
  H.check(not xt:is_contiguous(), 'transposed view is not contiguous')
  H.close(nb.conv2d(xt, wt, nil, o), conv2d_ref(xt, wt, nil, o), 1e-12, 'conv2d strided views')
  grads('conv2d strided views', function(a, c) return nb.conv2d(a:transpose(3, 4),
        c:transpose(3, 4), nil, o) end, {xt:contiguous(), wt:contiguous()})
  -- batch of 2, f32 against the same reference
  local x2, w2, b2 = nb.randn(2, 3, 4, 4), nb.randn(2, 3, 3, 3), nb.randn(2)
  H.close(nb.conv2d(x2, w2, b2, {padding = 1}), conv2d_ref(x2, w2, b2, {padding = 1}), 1e-5,
          'conv2d f32 batch 2')
end

-- padding='same' and 'valid': odd total padding (even kernel, dilation 1) is split PyTorch's
-- way, the extra row/column after the input; even totals are symmetric.
for _, case in ipairs({{k = {2, 3}, d = 1, pads = {0, 1, 1, 1}},
                       {k = {2, 3}, d = 2, pads = {1, 1, 2, 2}},
                       {k = {3, 2}, d = {1, 3}, pads = {1, 1, 1, 2}}}) do
  local x, w, b = rnd(1, 2, 4, 5), rnd(2, 2, case.k[1], case.k[2]), rnd(2)
  local o = {padding = 'same', dilation = case.d}
  local y = nb.conv2d(x, w, b, o)
  H.check(y.shape[3] == 4 and y.shape[4] == 5, "padding='same' keeps H x W (got %dx%d)",
          y.shape[3], y.shape[4])
  H.close(y, conv2d_ref(x, w, b, {padding = case.pads, dilation = case.d}), 1e-12,
          "padding='same' " .. fmt_opts({k = case.k}))
  grads("conv2d padding='same' " .. fmt_opts({k = case.k}),
        function(a, c, e) return nb.conv2d(a, c, e, o) end, {x, w, b})
end
do
  local x, w = rnd(1, 2, 4, 5), rnd(2, 2, 3, 3)
  H.close(nb.conv2d(x, w, nil, {padding = 'valid'}), conv2d_ref(x, w, nil, {}), 1e-12,
          "padding='valid' is no padding")
end

-- a hand-computed value: 1x1x2x2 input, 1x1x2x2 kernel, no padding: 1*5+2*6+3*7+4*8 = 70
H.close(nb.conv2d(nb.tensor({{{{1, 2}, {3, 4}}}}), nb.tensor({{{{5, 6}, {7, 8}}}}),
                  nb.tensor({0.5})), {{{{70.5}}}}, 1e-6, 'conv2d by hand')

-- ---- S001-Q2: dL/dW is the correlation of the input with dL/dZ ----------------------------------
-- Z = conv2d(X, W) (stride 1, no padding), L = sum(Z^2)/2, so dL/dZ = Z and
-- dL/dW[o,c,u,v] = sum_{n,i,j} X[n,c,i+u,j+v] * Z[n,o,i,j].
do
  local X = rnd(2, 2, 5, 4)
  local W = rnd(3, 2, 2, 3):requires_grad_()
  local Z = nb.conv2d(X, W)
  local L = (Z * Z):sum() / 2
  L:backward()
  local Xt, Zt = X:totable(), Z:detach():totable()
  local corr = zeros4(3, 2, 2, 3)
  for o = 1, 3 do for c = 1, 2 do for u = 1, 2 do for v = 1, 3 do
    local acc = 0
    for n = 1, 2 do for i = 1, 4 do for j = 1, 2 do
      acc = acc + Xt[n][c][i + u - 1][j + v - 1] * Zt[n][o][i][j]
    end end end
    corr[o][c][u][v] = acc
  end end end end
  H.close(W.grad, corr, 1e-12, 'dL/dW = correlation of X with dL/dZ (S001-Q2)')
  H.check(tostring(Z.grad_fn):find('Conv2dBackward', 1, true) ~= nil, 'grad_fn is %s',
          tostring(Z.grad_fn))
end

-- third order through the closed conv family: d/dx of a gradient penalty's gradient
do
  local x, w = rnd(1, 1, 3, 3), rnd(1, 1, 2, 2)
  local ok, rep = check.gradgrad(function(a, c)
    local y = nb.conv2d(a, c, nil, {padding = 1})
    local g = nb.grad((y * y * y):sum(), {a}, {create_graph = true})[1]
    return nb.conv2d(g, c)
  end, {x, w})
  H.check(ok, 'conv2d third order (gradient of a gradient penalty): %s', rep.text)
end

-- ---- conv1d -------------------------------------------------------------------------------------
for _, stride in ipairs({1, 2}) do
  for _, padding in ipairs({0, 1}) do
    for _, dilation in ipairs({1, 2}) do
      for _, groups in ipairs({1, 2}) do
        local x, w, b = rnd(2, 2, 6), rnd(4, 2 // groups, 2), rnd(4)
        local o = {stride = stride, padding = padding, dilation = dilation, groups = groups}
        local label = 'conv1d ' .. fmt_opts(o)
        H.close(nb.conv1d(x, w, b, o), conv1d_ref(x, w, b, o), 1e-12, label .. ' forward')
        grads(label, function(a, c, e) return nb.conv1d(a, c, e, o) end, {x, w, b})
      end
    end
  end
end
do
  local x, w = rnd(1, 2, 7), rnd(2, 2, 4)
  local y = nb.conv1d(x, w, nil, {padding = 'same'})   -- total 3: 1 before, 2 after
  H.check(y.shape[3] == 7, "conv1d padding='same' keeps L")
  H.close(y, conv1d_ref(x, w, nil, {padding = {1, 2}}), 1e-12, "conv1d padding='same'")
  grads("conv1d padding='same'", function(a, c) return nb.conv1d(a, c, {padding = 'same'}) end,
        {x, w})
  local xt = rnd(1, 7, 2):transpose(2, 3)
  H.close(nb.conv1d(xt, w), conv1d_ref(xt, w, nil, {}), 1e-12, 'conv1d strided input')
end

-- ---- conv_transpose2d ---------------------------------------------------------------------------
for _, o in ipairs({
  {},
  {stride = 2},
  {stride = 2, output_padding = 1},
  {stride = 2, padding = 1, output_padding = 1},
  {stride = {2, 1}, padding = {1, 0}, output_padding = {1, 0}},
  {dilation = 2, padding = 1},
  {stride = 2, dilation = 2, output_padding = 1, groups = 2},
  {groups = 2, padding = 1},
  -- output_padding >= stride (allowed because dilation is larger): the conv2d adjoint gives
  -- one more row/column than x has, which the backward must drop
  {stride = 1, dilation = 2, output_padding = 1},
}) do
  local g = o.groups or 1
  local x, w, b = rnd(1, 2, 3, 2), rnd(2, 4 // g, 2, 2), rnd(4)
  local label = 'conv_transpose2d ' .. fmt_opts(o)
  H.close(nb.conv_transpose2d(x, w, b, o), conv_t_ref(x, w, b, o), 1e-12, label .. ' forward')
  grads(label, function(a, c, e) return nb.conv_transpose2d(a, c, e, o) end, {x, w, b})
end
-- conv_transpose2d is the adjoint of conv2d in x: <conv2d(x, w), y> = <x, conv_t(y, w)>
do
  local x, w, y = rnd(1, 2, 5, 5), rnd(3, 2, 3, 3), rnd(1, 3, 3, 3)
  local o = {stride = 2, padding = 1}
  local lhs = (nb.conv2d(x, w, nil, o) * y):sum():item()
  local rhs = (x * nb.conv_transpose2d(y, w, nil, o)):sum():item()
  H.close(lhs, rhs, 1e-12, '<conv2d(x, w), y> = <x, conv_transpose2d(y, w)>')
end

-- ---- max_pool2d ---------------------------------------------------------------------------------
-- inputs without ties: a random permutation, scaled
local function distinct(...)
  local shape = {...}
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  return (nb.randperm(n):to('f64') * 0.1 - n * 0.05):reshape(shape)
end
for _, case in ipairs({
  {k = 2, o = {}},
  {k = 2, o = {stride = 1}},
  {k = {2, 3}, o = {stride = {1, 2}}},
  {k = 3, o = {stride = 2, padding = 1}},
  {k = 2, o = {stride = 1, dilation = 2}},
  {k = 2, o = {stride = 2, ceil_mode = true}},
  {k = 3, o = {stride = 2, padding = 1, ceil_mode = true}},
}) do
  local x = distinct(1, 2, 5, 5)
  local label = 'max_pool2d k=' .. fmt_opts({k = pair(case.k)}) .. ' ' .. fmt_opts(case.o)
  local vals, idx = maxpool_ref(x, case.k, case.o)
  local opts = {return_indices = true}
  for k, v in pairs(case.o) do opts[k] = v end
  local y, i = nb.max_pool2d(x, case.k, opts)
  H.close(y, vals, 0, label .. ' values')
  H.close(i, idx, 0, label .. ' 1-based indices')
  H.check(i.dtype == 'i64' and not i.requires_grad, 'indices are i64 without grad')
  -- tanh after the pool makes the second derivative non-zero, so it runs through the gather
  grads(label, function(a) return nb.max_pool2d(a, case.k, case.o):tanh() end, {x})
end
do   -- 3-d input, and a strided view
  local x = distinct(2, 4, 4)
  local y, i = nb.max_pool2d(x, 2, {return_indices = true})
  local v4, i4 = maxpool_ref(x:reshape(1, 2, 4, 4), 2, {})
  H.close(y, v4[1], 0, 'max_pool2d [C,H,W] values')
  H.close(i, i4[1], 0, 'max_pool2d [C,H,W] indices')
  H.check(#y.shape == 3, 'max_pool2d keeps 3-d')
  grads('max_pool2d 3-d', function(a) return nb.max_pool2d(a, 2):tanh() end, {x})
  local xt = distinct(1, 1, 4, 6):transpose(3, 4)
  H.close(nb.max_pool2d(xt, 2), (maxpool_ref(xt, 2, {})), 0, 'max_pool2d strided input')
  -- a window that holds no input element (dilation 3 with padding 1 on 2 rows: rows -1 and 2)
  -- gives -inf and index -1, 0 in Lua; no gradient flows there, to any order
  local e = distinct(1, 1, 2, 3)
  local ve, ie = nb.max_pool2d(e, 2, {stride = 1, padding = 1, dilation = 3,
                                      return_indices = true})
  H.check(ve:get(1, 1, 1, 1) == -math.huge and ve:get(1, 1, 1, 2) == -math.huge,
          'max_pool2d empty windows give -inf')
  H.close(ie, {{{{0, 0}}}}, 0, 'max_pool2d empty windows give index 0')
  grads('max_pool2d empty windows', function(a)
    return nb.max_pool2d(a, 2, {stride = 1, padding = 1, dilation = 3}):clamp(-10):tanh()
  end, {e})
  -- one value by hand: max of {{1, 5}, {3, 2}} is 5 at flat position 2
  local v, ix = nb.max_pool2d(nb.tensor({{{{1, 5}, {3, 2}}}}), 2, {return_indices = true})
  H.check(v:item() == 5 and ix:item() == 2, 'max_pool2d by hand: 5 at index 2')
  -- the gradient lands on the argmax only
  local z = nb.tensor({{{{1, 5}, {3, 2}}}}, {requires_grad = true})
  nb.max_pool2d(z, 2):sum():backward()
  H.close(z.grad, {{{{0, 1}, {0, 0}}}}, 0, 'max_pool2d gradient goes to the maximum')
end

-- ---- avg_pool2d ---------------------------------------------------------------------------------
for _, case in ipairs({
  {k = 2, o = {}},
  {k = {2, 3}, o = {stride = 1}},
  {k = 3, o = {stride = 2, padding = 1}},
  {k = 3, o = {stride = 2, padding = 1, count_include_pad = false}},
  {k = 2, o = {stride = 2, ceil_mode = true}},
  {k = 3, o = {stride = 2, padding = 1, ceil_mode = true}},
  {k = 3, o = {stride = 2, padding = 1, ceil_mode = true, count_include_pad = false}},
}) do
  local x = rnd(1, 2, 5, 4)
  local label = 'avg_pool2d k=' .. fmt_opts({k = pair(case.k)}) .. ' ' .. fmt_opts(case.o)
  H.close(nb.avg_pool2d(x, case.k, case.o), avgpool_ref(x, case.k, case.o), 1e-12, label)
  grads(label, function(a) return nb.avg_pool2d(a, case.k, case.o):tanh() end, {x})
end
do
  local x = rnd(2, 4, 4)
  H.close(nb.avg_pool2d(x, 2), avgpool_ref(x:reshape(1, 2, 4, 4), 2, {})[1], 1e-12,
          'avg_pool2d 3-d')
  H.close(nb.avg_pool2d(nb.tensor({{{{1, 2}, {3, 6}}}}), 2), {{{{3}}}}, 1e-7, 'avg by hand')
end

-- ---- adaptive_avg_pool2d ------------------------------------------------------------------------
for _, case in ipairs({{size = {2, 3}, shape = {1, 2, 5, 7}}, {size = 3, shape = {1, 1, 4, 5}},
                       {size = 1, shape = {2, 1, 3, 3}}, {size = {4, 2}, shape = {1, 2, 3, 3}}}) do
  local x = rnd(table.unpack(case.shape))
  local s = pair(case.size)
  local label = 'adaptive_avg_pool2d size=' .. fmt_opts({s = s})
  H.close(nb.adaptive_avg_pool2d(x, case.size), adaptive_ref(x, s[1], s[2]), 1e-12, label)
  grads(label, function(a) return nb.adaptive_avg_pool2d(a, case.size):tanh() end, {x})
end

-- ---- upsample -----------------------------------------------------------------------------------
for _, case in ipairs({
  {o = {size = {5, 4}}, oh = 5, ow = 4, mode = 'nearest'},
  {o = {scale_factor = 2}, oh = 6, ow = 4, mode = 'nearest'},
  {o = {size = {5, 3}, mode = 'bilinear'}, oh = 5, ow = 3, mode = 'bilinear', ac = false},
  {o = {size = {5, 3}, mode = 'bilinear', align_corners = true}, oh = 5, ow = 3,
   mode = 'bilinear', ac = true},
  {o = {scale_factor = {2, 1.5}, mode = 'bilinear'}, oh = 6, ow = 3, mode = 'bilinear', ac = false},
  {o = {size = 2, mode = 'bilinear', align_corners = true}, oh = 2, ow = 2, mode = 'bilinear',
   ac = true},
}) do
  local x = rnd(1, 2, 3, 2)
  local label = 'upsample ' .. fmt_opts(case.o)
  local y = nb.upsample(x, case.o)
  H.close(y, upsample_ref(x, case.oh, case.ow, case.mode, case.ac), 1e-12, label)
  grads(label, function(a) return nb.upsample(a, case.o):tanh() end, {x})
end
do
  local x = rnd(2, 2, 3)
  H.close(nb.interpolate(x, {size = {4, 5}, mode = 'bilinear'}),
          upsample_ref(x:reshape(1, 2, 2, 3), 4, 5, 'bilinear', false)[1], 1e-12,
          'interpolate 3-d bilinear')
  -- by hand: nearest x2 of {{1, 2}} repeats each element
  H.close(nb.upsample(nb.tensor({{{{1, 2}}}}), {scale_factor = 2}),
          {{{{1, 1, 2, 2}, {1, 1, 2, 2}}}}, 0, 'nearest x2 by hand')
end

-- ---- pad ----------------------------------------------------------------------------------------
for _, case in ipairs({
  {pads = {1, 2, 2, 1}, o = {}},
  {pads = {1, 2, 2, 1}, o = {value = 1.5}},
  {pads = {1, 2, 2, 1}, o = {mode = 'reflect'}},
  {pads = {2, 0, 0, 2}, o = {mode = 'replicate'}},
  {pads = {-1, 1, 0, -1}, o = {}},                    -- negative pads crop
  {pads = {1, 0, 1, 2}, o = {mode = 'replicate'}},
}) do
  local x = rnd(1, 2, 3, 3)
  local label = 'pad ' .. fmt_opts({p = case.pads}) .. ' ' .. fmt_opts(case.o)
  H.close(nb.pad(x, case.pads, case.o), pad_ref(x, case.pads, case.o.mode or 'constant',
          case.o.value), 1e-12, label)
  grads(label, function(a) return nb.pad(a, case.pads, case.o):tanh() end, {x})
end
do
  -- one pair pads only the last dim; three pairs pad a 3-d block; positional mode string
  local x = rnd(2, 3, 2)
  local y = nb.pad(x, {1, 1})
  H.check(y.shape[3] == 4 and y.shape[2] == 3, 'pad one pair: last dim only')
  local z = nb.pad(x, {1, 0, 0, 1, 1, 1}, 'replicate')
  H.check(z.shape[1] == 4 and z.shape[2] == 4 and z.shape[3] == 3, 'pad three pairs')
  grads('pad three pairs replicate', function(a) return nb.pad(a, {1, 0, 0, 1, 1, 1},
        {mode = 'replicate'}):tanh() end, {x})
  H.close(nb.pad(nb.tensor({{1, 2, 3}}), {2, 1}, 'reflect'), {{3, 2, 1, 2, 3, 2}}, 0,
          'reflect by hand')
  H.close(nb.pad(nb.tensor({1, 2}, {dtype = 'i64'}), {1, 1}, {value = 7}), {7, 1, 2, 7}, 0,
          'pad an i64 tensor')
end

-- ---- errors -------------------------------------------------------------------------------------
do
  local x, w = nb.randn(1, 3, 5, 5), nb.randn(2, 1, 3, 3)
  E("bad argument #1 to 'nabla.conv2d' (conv2d: input has 3 channels, weight expects 1 " ..
    "(groups=1))", nb.conv2d, x, w)
  E('conv2d: input has 3 channels, weight expects 6 (groups=3)', nb.conv2d, x,
    nb.randn(3, 2, 3, 3), nil, {groups = 3})
  E('conv2d: groups=3 does not divide the 2 output channels', nb.conv2d, x, w, nil,
    {groups = 3})
  E("groups=2 does not divide the 3 channels", nb.conv2d, x, nb.randn(2, 1, 3, 3), nil,
    {groups = 2})
  E("bad argument #1 to 'nabla.conv2d' (conv2d: input must be", nb.conv2d, nb.randn(3, 5, 5), w)
  E("bad argument #2 to 'nabla.conv2d' (tensor expected, got number)", nb.conv2d, x, 3)
  E("bad argument #3 to 'nabla.conv2d' (bias tensor or nil expected, got string)", nb.conv2d,
    x, nb.randn(2, 3, 3, 3), 'b')
  E("bad argument #3 to 'nabla.conv2d' (conv2d: bias must be [2]", nb.conv2d, x,
    nb.randn(2, 3, 3, 3), nb.randn(3))
  E("bad argument #2 to 'nabla.conv2d' (conv2d: weight is f64 but input is f32)", nb.conv2d, x,
    nb.randn(2, 3, 3, 3, {dtype = 'f64'}))
  E('expected f32 or f64', nb.conv2d, nb.zeros(1, 3, 5, 5, 'i64'), nb.zeros(2, 3, 3, 3, 'i64'))
  E('is smaller than the dilated kernel', nb.conv2d, x, nb.randn(2, 3, 3, 3), nil,
    {dilation = 3})
  E("bad argument #4 to 'nabla.conv2d' (stride must be >= 1, got 0)", nb.conv2d, x,
    nb.randn(2, 3, 3, 3), nil, {stride = 0})
  E('padding must be >= 0, got -1', nb.conv2d, x, nb.randn(2, 3, 3, 3), nil, {padding = -1})
  E('dilation must be >= 1, got 0', nb.conv2d, x, nb.randn(2, 3, 3, 3), nil, {dilation = 0})
  E('groups must be >= 1, got 0', nb.conv2d, x, nb.randn(2, 3, 3, 3), nil, {groups = 0})
  E("unknown option 'strides' (expected: stride padding dilation groups)", nb.conv2d, x,
    nb.randn(2, 3, 3, 3), nil, {strides = 2})
  E("padding must be a number, a pair, 'same' or 'valid', got 'full'", nb.conv2d, x,
    nb.randn(2, 3, 3, 3), nil, {padding = 'full'})
  E("padding='same' needs stride 1 (as in PyTorch), got stride 2", nb.conv2d, x,
    nb.randn(2, 3, 3, 3), nil, {padding = 'same', stride = 2})
  E('stride must be a number or a table of 2 numbers, got a table of 3', nb.conv2d, x,
    nb.randn(2, 3, 3, 3), nil, {stride = {1, 2, 3}})
  E('stride must be an integer or a pair {h, w} of integers, got number', nb.conv2d, x,
    nb.randn(2, 3, 3, 3), nil, {stride = 1.5})
  E("bad argument #4 to 'nabla.conv2d' (options table expected, got string)", nb.conv2d, x,
    nb.randn(2, 3, 3, 3), nil, 'same')
  E("bad argument #1 to 'nabla.conv1d' (conv1d: input must be", nb.conv1d, x, w)
  E('conv1d: input has 2 channels, weight expects 3', nb.conv1d, nb.randn(1, 2, 5),
    nb.randn(4, 3, 2))
  E("padding='same' needs stride 1", nb.conv1d, nb.randn(1, 2, 5), nb.randn(4, 2, 2), nil,
    {padding = 'same', stride = 2})
  E("bad argument #4 to 'nabla.conv_transpose2d' (conv_transpose2d: output_padding",
    nb.conv_transpose2d, nb.randn(1, 2, 3, 3), nb.randn(2, 2, 3, 3), nil,
    {stride = 2, output_padding = 2})
  E("unknown option 'output_padding'", nb.conv2d, x, nb.randn(2, 3, 3, 3), nil,
    {output_padding = 1})
  E('conv_transpose2d: input has 3 channels', nb.conv_transpose2d, x, nb.randn(2, 2, 3, 3))

  E("bad argument #2 to 'nabla.max_pool2d' (kernel size must be >= 1, got 0)", nb.max_pool2d,
    x, 0)
  E("bad argument #2 to 'nabla.max_pool2d' (kernel size must be a number or a table {h, w}, " ..
    "got no value)", nb.max_pool2d, x)
  E("bad argument #3 to 'nabla.max_pool2d' (max_pool2d: kernel 2x2 with padding 2",
    nb.max_pool2d, x, 2, {padding = 2})
  E("option 'return_indices' must be a boolean, got number", nb.max_pool2d, x, 2,
    {return_indices = 1})
  E("unknown option 'count_include_pad'", nb.max_pool2d, x, 2, {count_include_pad = true})
  E("bad argument #1 to 'nabla.max_pool2d' (max_pool2d: input", nb.max_pool2d,
    nb.randn(5, 5), 2)
  E('is too small for kernel 3x3', nb.max_pool2d, nb.randn(1, 1, 2, 2), 3)
  E("bad argument #1 to 'nabla.avg_pool2d'", nb.avg_pool2d, nb.zeros(1, 1, 4, 4, 'i64'), 2)
  E("option 'count_include_pad' must be a boolean, got string", nb.avg_pool2d, x, 2,
    {count_include_pad = 'yes'})
  E("unknown option 'dilation'", nb.avg_pool2d, x, 2, {dilation = 2})
  E("bad argument #2 to 'nabla.adaptive_avg_pool2d' (output size must be >= 0, got -1)",
    nb.adaptive_avg_pool2d, x, -1)
  E('output size must be a number or a table {h, w}, got string', nb.adaptive_avg_pool2d, x,
    'big')

  E("bad argument #2 to 'nabla.upsample' (give either size or scale_factor, not both)",
    nb.upsample, x, {size = 4, scale_factor = 2})
  E('size or scale_factor expected', nb.upsample, x, {mode = 'nearest'})
  E("option 'mode' must be one of 'nearest', 'bilinear', got 'bicubic'", nb.upsample, x,
    {size = 4, mode = 'bicubic'})
  E("align_corners can only be set with mode='bilinear'", nb.upsample, x,
    {size = 4, align_corners = true})
  E('size must be >= 1, got 0', nb.upsample, x, {size = 0})
  E('scale_factor 0.1 gives an empty output for input size 5', nb.upsample, x, {scale_factor = 0.1})
  E("bad argument #2 to 'nabla.upsample' (options table expected", nb.upsample, x)
  E("bad argument #2 to 'nabla.interpolate'", nb.interpolate, x, {size = 4, mode = 'linear'})
  E("bad argument #1 to 'nabla.upsample' (upsample2d:", nb.upsample, nb.randn(4), {size = 2})

  E("bad argument #2 to 'nabla.pad' (pads must come in (before, after) pairs", nb.pad, x,
    {1, 2, 3})
  E('at most one pair per dimension of the 4-d input, got 10 numbers', nb.pad, x,
    {1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
  E("bad argument #2 to 'nabla.pad' (pad 2 is string, expected an integer)", nb.pad, x,
    {1, 'a'})
  E("bad argument #1 to 'nabla.pad' (pad: reflect padding (5,0) on dimension -1 of size 5",
    nb.pad, x, {5, 0},
    {mode = 'reflect'})
  E("option 'mode' must be one of 'constant', 'reflect', 'replicate', got 'circular'", nb.pad,
    x, {1, 1}, {mode = 'circular'})
  E("option 'value' only applies to mode='constant'", nb.pad, x, {1, 1},
    {mode = 'reflect', value = 1})
  E('leave size -2', nb.pad, x, {-4, -3})
  E("bad argument #2 to 'nabla.pad' (table of pads", nb.pad, x, 1)
end
-- the state still works after the errors
H.close(nb.conv2d(nb.ones(1, 1, 2, 2), nb.ones(1, 1, 2, 2)), {{{{4}}}}, 0, 'usable after errors')

H.report()
