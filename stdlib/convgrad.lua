-- convgrad: convolution forward and backward "by hand", for teaching.
-- Single-channel 1-D ([L]) and 2-D ([H,W]) tensors; a convolution layer is a cross-correlation
--   Z[i,j] = Σ_{u,v} W[u,v] · Xp[s(i−1)+u, s(j−1)+v]        (Xp = X padded by p, 1-based)
-- and its gradients, written with slicing, mul and sum so that every step can be printed:
--   ∂L/∂W = Xp correlated with ∂L/∂Z dilated by the stride          (weight_grad*)
--   ∂L/∂X = dilated ∂L/∂Z padded by k−1, correlated with rot180(W), (input_grad*)
--           then cropped by p: a "full" correlation with the flipped kernel, which is the same
--           as a true convolution with W.
-- The functions are differentiable (autograd runs through them) but slow: one narrow per output
-- position.  nb.conv1d / nb.conv2d are the fast kernels; autograd1d / autograd2d run those.
-- Not here: channels, batches, dilation of the kernel, groups.
local nb = require 'nabla'
local M = {}

local function fail(fname, fmt, ...)
  error('convgrad.' .. fname .. ': ' .. string.format(fmt, ...), 3)
end

-- A size option: a number or {h, w}.
local function pair(fname, what, v, default)
  if v == nil then v = default end
  local a, b
  if type(v) == 'number' then a, b = v, v
  elseif type(v) == 'table' and #v == 2 then a, b = v[1], v[2]
  else fail(fname, '%s must be a number or {h, w}, got %s', what, tostring(v)) end
  for _, n in ipairs{a, b} do
    if n ~= math.floor(n) or n < 0 then
      fail(fname, '%s must be a non-negative integer, got %s', what, tostring(n))
    end
  end
  return a, b
end

local function opts_of(fname, opts)
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= 'stride' and k ~= 'padding' then
      fail(fname, "unknown option '%s' (stride, padding)", tostring(k))
    end
  end
  local sh, sw = pair(fname, 'stride', opts.stride, 1)
  local ph, pw = pair(fname, 'padding', opts.padding, 0)
  if sh < 1 or sw < 1 then fail(fname, 'stride must be at least 1') end
  return sh, sw, ph, pw
end

local function check2d(fname, what, t)
  if not nb.is_tensor(t) or t:dim() ~= 2 then
    fail(fname, '%s must be a 2-D tensor [H,W], got %s', what,
         nb.is_tensor(t) and ('shape [' .. table.concat(t.shape, ',') .. ']') or type(t))
  end
end

local function check1d(fname, what, t)
  if not nb.is_tensor(t) or t:dim() ~= 1 then
    fail(fname, '%s must be a 1-D tensor [L], got %s', what,
         nb.is_tensor(t) and ('shape [' .. table.concat(t.shape, ',') .. ']') or type(t))
  end
end

local function padded(x, ph, pw)
  if ph == 0 and pw == 0 then return x end
  return nb.pad(x, {pw, pw, ph, ph})
end

-- Output size of a valid correlation of n (already padded) with k at stride s.
local function out_size(fname, n, k, s)
  if n < k then fail(fname, 'the kernel (%d) is larger than the padded input (%d)', k, n) end
  return (n - k) // s + 1
end

---------------------------------------------------------------------------- helpers

-- rot180 for 2-D, reversal for 1-D (every dimension reversed).
function M.flip(t)
  if not nb.is_tensor(t) then fail('flip', 'a tensor expected') end
  local out = t
  for d = 1, t:dim() do
    local n = t.shape[d]
    out = out:index_select(d, nb.arange(n, 1, -1):to('i64'))
  end
  return out
end

-- Insert s−1 zeros between neighbouring entries: [H,W] → [s(H−1)+1, s(W−1)+1].
function M.dilate(t, stride)
  if nb.is_tensor(t) and t:dim() == 1 then
    local s = pair('dilate', 'stride', stride, 1)
    return M.dilate(t:view(1, t.shape[1]), {1, s}):view(-1)
  end
  check2d('dilate', 't', t)
  local sh, sw = pair('dilate', 'stride', stride, 1)
  if sh < 1 or sw < 1 then fail('dilate', 'stride must be at least 1') end
  if sh == 1 and sw == 1 then return t end
  local H, W = t.shape[1], t.shape[2]
  return nb.pad(t:reshape(H, 1, W, 1), {0, sw - 1, 0, 0, 0, sh - 1})
           :reshape(H * sh, W * sw)
           :narrow(1, 1, sh * (H - 1) + 1):narrow(2, 1, sw * (W - 1) + 1)
end

---------------------------------------------------------------------------- 2-D

-- Z[i,j] = Σ (window of Xp at (i,j)) ⊙ W, one window at a time.
function M.corr2d(x, w, opts)
  check2d('corr2d', 'x', x); check2d('corr2d', 'w', w)
  local sh, sw, ph, pw = opts_of('corr2d', opts)
  local xp = padded(x, ph, pw)
  local kh, kw = w.shape[1], w.shape[2]
  local Ho = out_size('corr2d', xp.shape[1], kh, sh)
  local Wo = out_size('corr2d', xp.shape[2], kw, sw)
  local rows = {}
  for i = 1, Ho do
    local band = xp:narrow(1, (i - 1) * sh + 1, kh)
    local row = {}
    for j = 1, Wo do row[j] = (band:narrow(2, (j - 1) * sw + 1, kw) * w):sum() end
    rows[i] = nb.stack(row)
  end
  return nb.stack(rows)
end

-- ∂L/∂W[u,v] = Σ_{i,j} G[i,j] · Xp[s(i−1)+u, s(j−1)+v]: correlate Xp with G dilated by s.
-- k is the kernel size (a number, {kh, kw}, or the kernel tensor itself).
function M.weight_grad2d(x, gz, k, opts)
  check2d('weight_grad2d', 'x', x); check2d('weight_grad2d', 'gz', gz)
  if nb.is_tensor(k) then k = k.shape end
  local kh, kw = pair('weight_grad2d', 'k', k)
  local sh, sw, ph, pw = opts_of('weight_grad2d', opts)
  local xp = padded(x, ph, pw)
  local Ho = out_size('weight_grad2d', xp.shape[1], kh, sh)
  local Wo = out_size('weight_grad2d', xp.shape[2], kw, sw)
  if gz.shape[1] ~= Ho or gz.shape[2] ~= Wo then
    fail('weight_grad2d', 'gz must have the output shape [%d,%d], got [%d,%d]', Ho, Wo,
         gz.shape[1], gz.shape[2])
  end
  -- rows of Xp past the last window (when (n + 2p − k) is not a multiple of s) meet no
  -- output, so the correlation is larger than the kernel; those entries are not weights
  local full = M.corr2d(xp, M.dilate(gz, {sh, sw}))
  return full:narrow(1, 1, kh):narrow(2, 1, kw)
end

-- ∂L/∂X = crop_p( pad(dilate(G, s), k−1 [+ r]) ⋆ rot180(W) ), ⋆ a valid correlation.
-- x_shape is {H, W} or the input tensor.  The extra r zero rows/columns at the bottom/right
-- cover input entries past the last window, whose gradient is 0.
function M.input_grad2d(gz, w, x_shape, opts)
  check2d('input_grad2d', 'gz', gz); check2d('input_grad2d', 'w', w)
  if nb.is_tensor(x_shape) then x_shape = x_shape.shape end
  local H, W = pair('input_grad2d', 'x_shape', x_shape)
  local sh, sw, ph, pw = opts_of('input_grad2d', opts)
  local kh, kw = w.shape[1], w.shape[2]
  local Hp, Wp = H + 2 * ph, W + 2 * pw
  local Ho, Wo = out_size('input_grad2d', Hp, kh, sh), out_size('input_grad2d', Wp, kw, sw)
  if gz.shape[1] ~= Ho or gz.shape[2] ~= Wo then
    fail('input_grad2d', 'gz must have the output shape [%d,%d], got [%d,%d]', Ho, Wo,
         gz.shape[1], gz.shape[2])
  end
  local rh, rw = Hp - (sh * (Ho - 1) + kh), Wp - (sw * (Wo - 1) + kw)
  local g = nb.pad(M.dilate(gz, {sh, sw}), {kw - 1, kw - 1 + rw, kh - 1, kh - 1 + rh})
  local gxp = M.corr2d(g, M.flip(w))
  return gxp:narrow(1, ph + 1, H):narrow(2, pw + 1, W)
end

-- How many outputs each input entry feeds (∂L/∂X with G = 1 and W = 1), as a tensor.
function M.multiplicity2d(x_shape, k, opts)
  if nb.is_tensor(x_shape) then x_shape = x_shape.shape end
  local H, W = pair('multiplicity2d', 'x_shape', x_shape)
  local kh, kw = pair('multiplicity2d', 'k', k)
  local sh, sw, ph, pw = opts_of('multiplicity2d', opts)
  local Ho = out_size('multiplicity2d', H + 2 * ph, kh, sh)
  local Wo = out_size('multiplicity2d', W + 2 * pw, kw, sw)
  return M.input_grad2d(nb.ones(Ho, Wo, {dtype = 'f64'}), nb.ones(kh, kw, {dtype = 'f64'}),
                        {H, W}, opts)
end

-- The chain-rule terms of ∂L/∂X[a][b]: a list of {i, j, u, v} meaning G[i,j]·W[u,v], in the
-- order of the outputs (i, j).  Pure index bookkeeping, for printing a hand derivation.
function M.input_grad_terms(x_shape, k, opts)
  if nb.is_tensor(x_shape) then x_shape = x_shape.shape end
  local H, W = pair('input_grad_terms', 'x_shape', x_shape)
  local kh, kw = pair('input_grad_terms', 'k', k)
  local sh, sw, ph, pw = opts_of('input_grad_terms', opts)
  local Ho = out_size('input_grad_terms', H + 2 * ph, kh, sh)
  local Wo = out_size('input_grad_terms', W + 2 * pw, kw, sw)
  local terms = {}
  for a = 1, H do
    terms[a] = {}
    for b = 1, W do terms[a][b] = {} end
  end
  for i = 1, Ho do
    for j = 1, Wo do
      for u = 1, kh do
        for v = 1, kw do
          local a, b = sh * (i - 1) + u - ph, sw * (j - 1) + v - pw
          if a >= 1 and a <= H and b >= 1 and b <= W then
            local t = terms[a][b]
            t[#t + 1] = {i, j, u, v}
          end
        end
      end
    end
  end
  return terms
end

-- A term list as text: "G11·W22 + G12·W21" (1-based indices).
function M.terms_string(list, gname, wname)
  gname, wname = gname or 'G', wname or 'W'
  if #list == 0 then return '0' end
  local parts = {}
  for n, t in ipairs(list) do
    parts[n] = string.format('%s%d%d·%s%d%d', gname, t[1], t[2], wname, t[3], t[4])
  end
  return table.concat(parts, ' + ')
end

-- The reference: nb.conv2d forward and autograd backward of L = Σ G ⊙ Z.
-- Returns Z, ∂L/∂W, ∂L/∂X (detached).
function M.autograd2d(x, w, gz, opts)
  check2d('autograd2d', 'x', x); check2d('autograd2d', 'w', w)
  local sh, sw, ph, pw = opts_of('autograd2d', opts)
  local xl = x:detach():clone():requires_grad_()
  local wl = w:detach():clone():requires_grad_()
  local z = nb.conv2d(xl:view(1, 1, x.shape[1], x.shape[2]),
                      wl:view(1, 1, w.shape[1], w.shape[2]), nil,
                      {stride = {sh, sw}, padding = {ph, pw}})
  z = z:view(z.shape[3], z.shape[4])
  if gz == nil then gz = nb.ones_like(z) end
  ;(z * gz:detach()):sum():backward()
  return z:detach(), wl.grad, xl.grad
end

-- A conv layer as an nb.Function whose backward is the hand formulas above (forward by
-- corr2d), so that check.grad tests the hand-derived gradients against finite differences.
local function hand_function(opts)
  return nb.Function{
    forward = function(ctx, x, w)
      ctx:save_for_backward(x, w)
      return nb.no_grad(function() return M.corr2d(x, w, opts) end)
    end,
    backward = function(ctx, gz)
      local x, w = ctx.saved_tensors[1], ctx.saved_tensors[2]
      return M.input_grad2d(gz, w, x.shape, opts), M.weight_grad2d(x, gz, w.shape, opts)
    end,
  }
end

-- y = hand_conv2d(x, w, opts): forward corr2d, backward weight_grad2d / input_grad2d.
function M.hand_conv2d(x, w, opts)
  check2d('hand_conv2d', 'x', x); check2d('hand_conv2d', 'w', w)
  opts_of('hand_conv2d', opts)
  return hand_function(opts)(x, w)
end

---------------------------------------------------------------------------- 1-D
-- The 1-D functions are the 2-D ones on a [1, L] row.

local function row(t) return t:view(1, t.shape[1]) end
local function opts1d(fname, opts)
  opts = opts or {}
  local s = opts.stride or 1
  local p = opts.padding or 0
  if type(s) ~= 'number' or type(p) ~= 'number' then
    fail(fname, 'stride and padding must be numbers in 1-D')
  end
  for k in pairs(opts) do
    if k ~= 'stride' and k ~= 'padding' then
      fail(fname, "unknown option '%s' (stride, padding)", tostring(k))
    end
  end
  return {stride = {1, s}, padding = {0, p}}
end

-- Z[i] = Σ_u W[u] · Xp[s(i−1)+u].
function M.corr1d(x, w, opts)
  check1d('corr1d', 'x', x); check1d('corr1d', 'w', w)
  return M.corr2d(row(x), row(w), opts1d('corr1d', opts)):view(-1)
end

-- ∂L/∂W[u] = Σ_i G[i] · Xp[s(i−1)+u].
function M.weight_grad1d(x, gz, k, opts)
  check1d('weight_grad1d', 'x', x); check1d('weight_grad1d', 'gz', gz)
  if nb.is_tensor(k) then k = k.shape[1] end
  return M.weight_grad2d(row(x), row(gz), {1, k}, opts1d('weight_grad1d', opts)):view(-1)
end

-- ∂L/∂X: the full correlation of the dilated G with the reversed kernel, cropped by p.
function M.input_grad1d(gz, w, n, opts)
  check1d('input_grad1d', 'gz', gz); check1d('input_grad1d', 'w', w)
  if nb.is_tensor(n) then n = n.shape[1] end
  return M.input_grad2d(row(gz), row(w), {1, n}, opts1d('input_grad1d', opts)):view(-1)
end

-- The reference through nb.conv1d: Z, ∂L/∂W, ∂L/∂X for L = Σ G ⊙ Z.
function M.autograd1d(x, w, gz, opts)
  check1d('autograd1d', 'x', x); check1d('autograd1d', 'w', w)
  opts1d('autograd1d', opts)
  opts = opts or {}
  local xl = x:detach():clone():requires_grad_()
  local wl = w:detach():clone():requires_grad_()
  local z = nb.conv1d(xl:view(1, 1, -1), wl:view(1, 1, -1), nil,
                      {stride = opts.stride or 1, padding = opts.padding or 0}):view(-1)
  if gz == nil then gz = nb.ones_like(z) end
  ;(z * gz:detach()):sum():backward()
  return z:detach(), wl.grad, xl.grad
end

local docs = {
  flip = 'convgrad.flip(t) — reverse every dimension (rot180 of a 2-D kernel)',
  dilate = 'convgrad.dilate(t, stride) — insert stride−1 zeros between entries (1-D or 2-D)',
  corr2d = 'convgrad.corr2d(x, w, {stride=, padding=}) — conv layer forward as an explicit ' ..
           'cross-correlation, window by window ([H,W] ⋆ [kh,kw])',
  weight_grad2d = 'convgrad.weight_grad2d(x, gz, k, {stride=, padding=}) — ∂L/∂W: padded x ' ..
                  'correlated with ∂L/∂Z dilated by the stride',
  input_grad2d = 'convgrad.input_grad2d(gz, w, x_shape, {stride=, padding=}) — ∂L/∂X: full ' ..
                 'correlation of dilated ∂L/∂Z with rot180(w), cropped by the padding',
  multiplicity2d = 'convgrad.multiplicity2d(x_shape, k, {stride=, padding=}) — how many ' ..
                   'outputs each input entry feeds',
  input_grad_terms = 'convgrad.input_grad_terms(x_shape, k, opts) — the chain-rule terms ' ..
                     '{i,j,u,v} (G[i,j]·W[u,v]) of each ∂L/∂X[a][b]',
  terms_string = 'convgrad.terms_string(list, gname, wname) — a term list as "G11·W22 + ..."',
  autograd2d = 'convgrad.autograd2d(x, w, gz, opts) — Z, ∂L/∂W, ∂L/∂X from nb.conv2d and ' ..
               'backward of Σ gz⊙Z (the reference)',
  corr1d = 'convgrad.corr1d(x, w, {stride=, padding=}) — 1-D conv forward as a correlation',
  weight_grad1d = 'convgrad.weight_grad1d(x, gz, k, opts) — 1-D ∂L/∂W[u] = Σ_i G[i]·Xp[s(i−1)+u]',
  input_grad1d = 'convgrad.input_grad1d(gz, w, n, opts) — 1-D ∂L/∂X: full correlation of ' ..
                 'dilated G with the reversed kernel',
  hand_conv2d = 'convgrad.hand_conv2d(x, w, opts) — conv as an nb.Function whose backward is ' ..
                'the hand formulas (for check.grad)',
  autograd1d = 'convgrad.autograd1d(x, w, gz, opts) — Z, ∂L/∂W, ∂L/∂X from nb.conv1d + backward',
}
if nb.doc then
  for k, v in pairs(docs) do nb.doc(M[k], v) end
end

return M
