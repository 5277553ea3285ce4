-- Indexed and joining ops from Lua: index_select, index_add, gather, scatter_add, masked_fill,
-- masked_select, nonzero, one_hot, embedding, cat, stack, split, chunk.  Forward values are
-- checked against naive loops over nested Lua tables written here; every differentiable op
-- gets check.grad and check.gradgrad in float64 along each dim, with duplicate indices and
-- non-contiguous inputs; errors must show 1-based indices.
local nb = require 'nabla'
local check = require 'check'
local H = require 'harness'

nb.manual_seed(11)

local function i64(t) return nb.tensor(t, {dtype = 'i64'}) end
local function rnd(...) return nb.randn({...}, {dtype = 'f64'}) end

local function grad_ok(what, f, inputs)
  local ok, r = check.grad(f, inputs)
  H.check(ok, '%s (grad): %s', what, r.text)
  ok, r = check.gradgrad(f, inputs)
  H.check(ok, '%s (gradgrad): %s', what, r.text)
end

-- ---- naive helpers over nested tables --------------------------------------------------------
-- Calls fn(idx) for every 1-based multi-index of shape, in row-major order (idx is a fresh table).
local function each(shape, fn)
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  for k = 0, n - 1 do
    local idx, r = {}, k
    for d = #shape, 1, -1 do idx[d] = r % shape[d] + 1; r = r // shape[d] end
    fn(idx)
  end
end

local function at(tab, idx)
  for _, i in ipairs(idx) do tab = tab[i] end
  return tab
end

local function put(tab, idx, v)
  for k = 1, #idx - 1 do tab = tab[idx[k]] end
  tab[idx[#idx]] = v
end

-- A nested table of shape with fn(idx) at each position.
local function build(shape, fn)
  local function rec(d, prefix)
    local t = {}
    for i = 1, shape[d] do
      prefix[d] = i
      if d == #shape then
        local idx = {}
        for k = 1, d do idx[k] = prefix[k] end
        t[i] = fn(idx)
      else
        t[i] = rec(d + 1, prefix)
      end
    end
    return t
  end
  return rec(1, {})
end

local function with(idx, d, v)
  local c = {}
  for k, x in ipairs(idx) do c[k] = x end
  c[d] = v
  return c
end

local function same(got, expected, what)
  local ok, r = check.close(got, expected, {atol = 1e-12, rtol = 0})
  H.check(ok, '%s: %s', what, r.text)
end

-- ---- index_select -----------------------------------------------------------------------------
do
  local x = rnd(2, 3, 4)
  local xt = x:totable()
  -- 1-based: index 1 picks the first entry
  same(x:index_select(1, i64({1})), {xt[1]}, 'index_select index 1 is the first row')
  same(x:index_select(3, {4, 1}), build({2, 3, 2}, function(i)
    return xt[i[1]][i[2]][({4, 1})[i[3]]] end), 'index_select with a Lua list')
  for d = 1, 3 do
    local n = x:size(d)
    local ix = {n, 1, n}   -- duplicates
    local ref = build(with(x.shape, d, 3), function(i) return at(xt, with(i, d, ix[i[d]])) end)
    same(x:index_select(d, i64(ix)), ref, 'index_select dim ' .. d)
    same(nb.index_select(x, d - 4, i64(ix)), ref, 'index_select negative dim ' .. (d - 4))
    grad_ok('index_select dim ' .. d .. ' duplicates',
            function(t) return t:index_select(d, i64(ix)) ^ 2 end, {x})
  end
  -- a non-contiguous input (transposed), and a 0-d index keeps the dim with one entry
  grad_ok('index_select of a transposed view',
          function(t) return t:transpose(1, 3):index_select(2, i64({3, 3, 2})):sin() end, {x})
  H.check(x:transpose(1, 3):index_select(2, i64({3})):is_contiguous(), 'result contiguous')
  same(x:index_select(2, i64(2)), x[{{}, {2, 2}, {}}], 'index_select with a 0-d index')
  H.check(x:index_select(2, i64({})):numel() == 0, 'index_select with an empty index')
  local w = rnd(3, 4):requires_grad_()
  local y = w:index_select(1, i64({2, 2, 3}))
  H.check(y.grad_fn == 'IndexSelectBackward', 'grad_fn %s', tostring(y.grad_fn))
  y:sum():backward()
  same(w.grad, {{0, 0, 0, 0}, {2, 2, 2, 2}, {1, 1, 1, 1}}, 'duplicate rows accumulate')
end

-- ---- index_add / index_add_ --------------------------------------------------------------------
do
  local x, src = rnd(3, 4), rnd(3, 2)
  local xt, st = x:totable(), src:totable()
  local ix = {4, 4}
  local ref = x:totable()
  each(src.shape, function(i)
    local j = with(i, 2, ix[i[2]])
    put(ref, j, at(ref, j) + at(st, i))
  end)
  same(x:index_add(2, i64(ix), src), ref, 'index_add with duplicates')
  same(xt, x:totable(), 'index_add leaves x alone')
  local c = x:clone()
  H.check(c:index_add_(2, i64(ix), src) == c, 'index_add_ returns t')
  same(c, ref, 'index_add_ in place')
  for d = 1, 2 do
    local s = d == 1 and rnd(3, 4) or rnd(3, 3)
    grad_ok('index_add dim ' .. d,
            function(a, b) return a:index_add(d, i64({3, 1, 3}), b) ^ 2 end, {x, s})
  end
  H.checkerror('cannot modify a tensor that requires grad', function()
    local l = rnd(3, 4):requires_grad_()
    l:index_add_(2, i64(ix), src)
  end)
  H.checkerror('use the out-of-place index_add', function()
    x:clone():index_add_(2, i64(ix), rnd(3, 2):requires_grad_())
  end)
end

-- ---- gather / scatter_add -----------------------------------------------------------------------
do
  local x = rnd(3, 4)
  local xt = x:totable()
  -- out[i][j] = x[idx[i][j]][j] (dim 1); the index may be smaller than x off the dim
  local ix1 = {{3, 1, 1}, {2, 3, 3}}
  same(x:gather(1, i64(ix1)), build({2, 3}, function(i) return xt[ix1[i[1]][i[2]]][i[2]] end),
       'gather dim 1')
  local ix2 = {{4, 4}, {1, 2}, {2, 2}}
  same(nb.gather(x, 2, i64(ix2)), build({3, 2}, function(i) return xt[i[1]][ix2[i[1]][i[2]]] end),
       'gather dim 2')
  same(x:gather(2, i64({{1}})), {{xt[1][1]}}, 'gather index 1 is the first entry')
  local y = rnd(2, 3, 4)
  local yt = y:totable()
  for d = 1, 3 do
    local n = y:size(d)
    local shape = {2, 2, 2}
    local ix = build(shape, function(i) return (i[1] + 2 * i[2] + i[3]) % n + 1 end)
    same(y:gather(d, i64(ix)), build(shape, function(i) return at(yt, with(i, d, at(ix, i))) end),
         'gather 3-D dim ' .. d)
    grad_ok('gather dim ' .. d, function(t) return t:gather(d, i64(ix)) ^ 2 end, {y})
  end
  grad_ok('gather of a transposed view with duplicates',
          function(t) return t:t():gather(2, i64({{3, 3}, {1, 1}, {2, 3}, {1, 1}})):tanh() end,
          {x})

  -- scatter_add: out = x; out[idx[i][j]][j] += src[i][j] (dim 1)
  local src = rnd(2, 4)
  local st = src:totable()
  local sx = {{1, 3, 3, 2}, {1, 3, 1, 2}}   -- duplicates in columns 1, 2, 4
  local ref = x:totable()
  each({2, 4}, function(i)
    local j = {sx[i[1]][i[2]], i[2]}
    put(ref, j, at(ref, j) + at(st, i))
  end)
  same(x:scatter_add(1, i64(sx), src), ref, 'scatter_add dim 1 with duplicates')
  same(x:totable(), xt, 'scatter_add is out of place')
  local c = x:clone()
  H.check(c:scatter_add_(1, i64(sx), src) == c, 'scatter_add_ returns t')
  same(c, ref, 'scatter_add_ in place')
  -- src larger than the index: only the index-shaped corner is read, the rest gets no gradient
  local big = rnd(3, 5)
  local bt = big:totable()
  local cx = {{2, 2}, {4, 1}}
  ref = x:totable()
  each({2, 2}, function(i)
    local j = {i[1], cx[i[1]][i[2]]}
    put(ref, j, at(ref, j) + at(bt, i))
  end)
  same(x:scatter_add(2, i64(cx), big), ref, 'scatter_add reads the corner of a larger src')
  grad_ok('scatter_add with a larger src', function(a, b)
    return a:scatter_add(2, i64(cx), b) ^ 2 end, {x, big})
  local b2 = big:clone():requires_grad_()
  x:scatter_add(2, i64(cx), b2):sum():backward()
  same(b2.grad, {{1, 1, 0, 0, 0}, {1, 1, 0, 0, 0}, {0, 0, 0, 0, 0}},
       'src outside the index corner has zero gradient')
  for d = 1, 3 do
    local n = y:size(d)
    local ix = build({2, 2, 3}, function(i) return (i[1] * i[2] + i[3]) % n + 1 end)
    grad_ok('scatter_add 3-D dim ' .. d, function(a, b)
      return a:scatter_add(d, i64(ix), b) ^ 2 end, {y, rnd(2, 2, 3)})
  end
  grad_ok('scatter_add into a transposed view', function(a, b)
    return a:t():scatter_add(1, i64({{4, 4, 1}}), b):sin() end, {x, rnd(1, 3)})
  H.checkerror('cannot modify a tensor that requires grad', function()
    rnd(3, 4):requires_grad_():scatter_add_(1, i64(sx), src)
  end)
  H.checkerror('use the out-of-place scatter_add', function()
    x:clone():scatter_add_(1, i64(sx), src:clone():requires_grad_())
  end)
  local g = rnd(3, 4):requires_grad_()
  H.check(g:gather(1, i64(ix1)).grad_fn == 'GatherBackward', 'gather grad_fn')
  H.check(g:scatter_add(1, i64(sx), src).grad_fn == 'ScatterAddBackward', 'scatter_add grad_fn')
end

-- ---- masked_fill / masked_select / nonzero ------------------------------------------------------
do
  local x = rnd(3, 4)
  local xt = x:totable()
  local m = nb.tensor({{1, 0, 0, 1}, {0, 0, 1, 0}, {1, 1, 0, 0}})
  local mt = m:totable()
  same(x:masked_fill(m, -5), build({3, 4}, function(i)
    return at(mt, i) ~= 0 and -5 or at(xt, i) end), 'masked_fill')
  local row = i64({0, 1, 1, 0})   -- broadcast mask (any dtype)
  same(nb.masked_fill(x, row, 2.5), build({3, 4}, function(i)
    return row:totable()[i[2]] ~= 0 and 2.5 or at(xt, i) end), 'masked_fill with a row mask')
  grad_ok('masked_fill', function(t) return t:masked_fill(m, 3) ^ 2 end, {x})
  grad_ok('masked_fill of a transposed view, broadcast mask',
          function(t) return t:t():masked_fill(nb.tensor({{1}, {0}, {0}, {1}}), 0):sin() end, {x})
  local l = x:clone():requires_grad_()
  l:masked_fill(m, 7):sum():backward()
  same(l.grad, build({3, 4}, function(i) return 1 - at(mt, i) end), 'filled entries get zero grad')

  local sel = {}
  each({3, 4}, function(i) if at(mt, i) ~= 0 then sel[#sel + 1] = at(xt, i) end end)
  same(x:masked_select(m), sel, 'masked_select (row-major)')
  grad_ok('masked_select', function(t) return t:masked_select(m) ^ 2 end, {x})
  -- x smaller than the mask: x is broadcast, and its gradient sums over the copies
  local xc = rnd(3, 1)
  local xct = xc:totable()
  sel = {}
  each({3, 4}, function(i) if at(mt, i) ~= 0 then sel[#sel + 1] = xct[i[1]][1] end end)
  same(nb.masked_select(xc, m), sel, 'masked_select broadcasts x')
  grad_ok('masked_select broadcasting x', function(t) return t:masked_select(m):cos() end, {xc})
  grad_ok('masked_select of a transposed view, broadcast mask',
          function(t) return t:t():masked_select(i64({1, 0, 1})) ^ 3 end, {x})
  H.check(x:masked_select(nb.zeros(3, 4)):numel() == 0, 'empty selection')

  local nzref = {}
  each({3, 4}, function(i) if at(mt, i) ~= 0 then nzref[#nzref + 1] = i end end)
  same(nb.nonzero(m), nzref, 'nonzero gives 1-based coordinates')
  H.check(m:nonzero().dtype == 'i64', 'nonzero is i64')
  local nz3 = nb.nonzero(nb.tensor({{{0, 2}, {0, 0}}, {{3, 0}, {0, 4}}}))
  same(nz3, {{1, 1, 2}, {2, 1, 1}, {2, 2, 2}}, 'nonzero 3-D')
  local e = nb.nonzero(nb.zeros(2, 3))
  H.check(e:size(1) == 0 and e:size(2) == 2, 'nonzero of zeros is [0, 2]')
end

-- ---- one_hot ------------------------------------------------------------------------------------
do
  local ix = {{2, 1}, {3, 3}}
  local o = nb.one_hot(i64(ix), 4)
  H.check(o.dtype == 'f32', 'one_hot is f32 by default')
  same(o, build({2, 2, 4}, function(i) return ix[i[1]][i[2]] == i[3] and 1 or 0 end),
       'one_hot: class 1 sets the first column')
  H.check(nb.one_hot(i64({1}), 2, 'i64').dtype == 'i64', "one_hot(idx, n, 'i64')")
  H.check(nb.one_hot(i64({1}), 2, {dtype = 'f64'}).dtype == 'f64', 'one_hot {dtype=}')
  H.checkerror('index 5 out of range 1..4 for 4 classes', nb.one_hot, i64({1, 5}), 4)
  H.checkerror('index 0 out of range 1..4', nb.one_hot, i64({0}), 4)
  H.checkerror("index must be an i64 tensor (use :to('i64'))", nb.one_hot, nb.tensor({1}), 4)
end

-- ---- embedding ----------------------------------------------------------------------------------
do
  local w = rnd(5, 3)
  local wt = w:totable()
  local ix = {{2, 5, 2}, {1, 1, 4}}
  same(nb.embedding(w, i64(ix)), build({2, 3, 3}, function(i) return wt[ix[i[1]][i[2]]][i[3]] end),
       'embedding rows (1-based)')
  grad_ok('embedding with repeated rows', function(t) return nb.embedding(t, i64(ix)) ^ 2 end, {w})
  -- with padding_idx the first derivative is zero on purpose for row 2 (so check.grad would
  -- differ there), but the second derivative of what autograd computes must still agree
  local okp, rp = check.gradgrad(function(t)
    return nb.embedding(t, i64(ix), {padding_idx = 2}):sin() end, {w})
  H.check(okp, 'embedding with padding_idx (gradgrad): %s', rp.text)
  grad_ok('embedding of a transposed weight',
          function(t) return nb.embedding(t:t(), i64({3, 1, 3})) ^ 2 end, {rnd(4, 3)})
  -- gradient: row v sums the output gradients where idx == v; the padding row gets none
  local l = w:clone():requires_grad_()
  local gw = rnd(2, 3, 3)
  local gt = gw:totable()
  nb.embedding(l, i64(ix), {padding_idx = -1}):backward(gw)   -- -1: the last row (5)
  local ref = build({5, 3}, function() return 0 end)
  each({2, 3, 3}, function(i)
    local v = ix[i[1]][i[2]]
    if v ~= 5 then ref[v][i[3]] = ref[v][i[3]] + at(gt, i) end
  end)
  same(l.grad, ref, 'embedding gradient, padding row 5 zero')
  H.check(nb.embedding(l, i64({1})).grad_fn == 'EmbeddingBackward', 'embedding grad_fn')
  H.checkerror('embedding: index 6 out of range 1..5 for a weight of 5 rows', nb.embedding, w,
               i64({1, 6}))
  H.checkerror('padding_idx 6 out of range 1..5', nb.embedding, w, i64({1}), {padding_idx = 6})
  H.checkerror('padding_idx 0 out of range', nb.embedding, w, i64({1}), {padding_idx = 0})
  H.checkerror('weight must be 2-D', nb.embedding, rnd(5), i64({1}))
end

-- ---- cat / stack --------------------------------------------------------------------------------
do
  local a, b, c = rnd(2, 3, 2), rnd(2, 3, 2), rnd(2, 3, 2)
  local ts = {a:totable(), b:totable(), c:totable()}
  for d = 1, 3 do
    local sizes = {2, 3, 2}
    local parts = {with(sizes, d, 1), with(sizes, d, 2), with(sizes, d, 3)}
    local x1, x2, x3 = rnd(table.unpack(parts[1])), rnd(table.unpack(parts[2])),
                       rnd(table.unpack(parts[3]))
    local xs = {x1:totable(), x2:totable(), x3:totable()}
    local ref = build(with(sizes, d, 6), function(i)   -- offsets 0, 1, 3 along d
      local k = i[d]
      if k == 1 then return at(xs[1], i) end
      if k <= 3 then return at(xs[2], with(i, d, k - 1)) end
      return at(xs[3], with(i, d, k - 3))
    end)
    same(nb.cat({x1, x2, x3}, d), ref, 'cat of 3 along dim ' .. d)
    same(nb.cat({x1, x2, x3}, d - 4), ref, 'cat negative dim ' .. (d - 4))
    grad_ok('cat of 3 along dim ' .. d,
            function(p, q, r) return nb.cat({p, q, r}, d) ^ 2 end, {x1, x2, x3})
    -- stack along each of the 4 positions
    local out = nb.stack({a, b, c}, d)
    local oshape = out.shape
    H.check(oshape[d] == 3, 'stack puts the new dim at %d', d)
    local st = {}
    each(oshape, function(i)
      local k = i[d]
      local rest = {}
      for q = 1, 4 do if q ~= d then rest[#rest + 1] = i[q] end end
      st[#st + 1] = at(ts[k], rest)
    end)
    same(out:reshape(-1), st, 'stack of 3 at dim ' .. d)
    grad_ok('stack of 3 at dim ' .. d,
            function(p, q, r) return nb.stack({p, q, r}, d) ^ 2 end, {a, b, c})
  end
  same(nb.stack({a, b, c}, -1), nb.stack({a, b, c}, 4), 'stack at -1 is the last position')
  same(nb.stack({a, b, c}, 4):select(4, 2), b, 'stack at the last position')
  grad_ok('stack of 3 at dim 4', function(p, q, r) return nb.stack({p, q, r}, -1) ^ 2 end,
          {a, b, c})
  same(nb.cat({a, b}), nb.cat({a, b}, 1), 'cat dim defaults to 1')
  grad_ok('cat of transposed views', function(p, q)
    return nb.cat({p:t(), q:t(), p:t()}, 2):sin() end, {rnd(3, 2), rnd(4, 2)})
  grad_ok('stack of transposed views', function(p, q) return nb.stack({p:t(), q}, 2) ^ 2 end,
          {rnd(3, 2), rnd(2, 3)})
  -- mixed dtypes: the result is promoted, each gradient keeps its input's dtype
  local p32 = nb.randn(2, 2):requires_grad_()
  local p64 = rnd(2, 2):requires_grad_()
  local y = nb.cat({p32, p64}, 1)
  H.check(y.dtype == 'f64' and y.grad_fn == 'CatBackward', 'cat promotes to f64')
  local g = rnd(4, 2)
  y:backward(g)
  H.check(p32.grad.dtype == 'f32' and p64.grad.dtype == 'f64', 'gradients keep input dtypes')
  same(p64.grad, g[{{3, 4}, {}}], 'cat gradient is the slice of gout')
  -- a second backward must not write into the caller's grad_output (the gradient is a copy)
  local gc = g:clone()
  local q = rnd(2, 2):requires_grad_()
  local yq = nb.cat({q, q}, 1)
  yq:backward(g, {retain_graph = true})
  yq:backward(g)
  same(g, gc, 'grad_output unchanged by two backward passes')
  -- torch's legacy rule: empty 1-D tensors are skipped
  local e = nb.zeros(0, 'f64'):requires_grad_()
  local ye = nb.cat({e, a}, 2)
  same(ye, a, 'empty 1-D tensors are skipped')
  H.check(nb.grad({(nb.cat({e, a}, 2) ^ 2):sum()}, {e})[1]:numel() == 0, 'empty gradient')
end

-- ---- split / chunk ------------------------------------------------------------------------------
do
  local x = rnd(5, 4)
  for d = 1, 2 do
    local p = x:split(2, d)
    H.check(#p == math.ceil(x:size(d) / 2), 'split into %d pieces', #p)
    H.check(p[#p]:size(d) == (x:size(d) % 2 == 0 and 2 or 1), 'last piece smaller')
    same(nb.cat(p, d), x, 'split pieces recombine (dim ' .. d .. ')')
    local c = x:chunk(3, d)
    same(nb.cat(c, d), x, 'chunk pieces recombine (dim ' .. d .. ')')
    grad_ok('split recombined (dim ' .. d .. ')', function(t)
      local s = t:split(2, d)
      return nb.cat({s[2] * s[1], s[#s] ^ 2}, d) end, {x})
    grad_ok('chunk recombined (dim ' .. d .. ')', function(t)
      local s = nb.chunk(t, 2, d)
      return nb.cat({s[2]:sin(), s[1] ^ 2}, d) end, {x})
  end
  local sizes = x:split({1, 3, 0, 1}, 1)
  H.check(#sizes == 4 and sizes[2]:size(1) == 3 and sizes[3]:size(1) == 0, 'split with sizes')
  same(nb.cat(sizes, 1), x, 'split with sizes recombines')
  grad_ok('split with sizes', function(t)
    local s = t:split({3, 1}, -1)
    return s[1]:sum(2) * s[2] end, {rnd(3, 4)})
  grad_ok('split of a transposed view', function(t)
    local s = t:t():split(1, 2)
    return nb.stack({s[3], s[1] ^ 2}, 1) end, {x})
  -- chunk counts as torch: 10 by 3 -> 4, 4, 2; 5 by 4 -> 2, 2, 1
  local c10 = nb.zeros(10):chunk(3)
  H.check(#c10 == 3 and c10[1]:numel() == 4 and c10[3]:numel() == 2, 'chunk 10 by 3')
  local c5 = nb.zeros(5):chunk(4)
  H.check(#c5 == 3 and c5[3]:numel() == 1, 'chunk 5 by 4 gives 3 pieces')
  -- pieces are views sharing x's storage
  local v = nb.zeros(4, 2)
  v:split(2)[2]:fill_(7)
  same(v, {{0, 0}, {0, 0}, {7, 7}, {7, 7}}, 'pieces are views')
  local r = rnd(4, 2):requires_grad_()
  H.check(r:split(2)[1].grad_fn == 'SliceBackward', 'pieces are differentiable narrows')
end

-- ---- errors -------------------------------------------------------------------------------------
do
  local x = rnd(3, 5)
  H.checkerror('gather: index 6 out of range 1..5 in dimension 2', x.gather, x, 2,
               i64({{1, 6}}))
  H.checkerror("bad argument #3 to 'gather' (gather: index 6 out of range 1..5", function()
    return nb.gather(x, 2, i64({{1, 6}})) end)
  H.checkerror("bad argument #2 to 'gather' (gather: index 6 out of range 1..5", function()
    return x:gather(2, i64({{1, 6}})) end)   -- a method call does not count self
  H.checkerror('index 0 out of range 1..3 in dimension 1', nb.index_select, x, 1, i64({0}))
  H.checkerror('index_select: index 4 out of range 1..3', nb.index_select, x, 1, {1, 4})
  H.checkerror('index -2 out of range 1..5', nb.index_select, x, 2, i64({-2}))
  H.checkerror('scatter_add: index 9 out of range 1..3 in dimension 1', nb.scatter_add, x, 1,
               i64({{9}}), rnd(1, 1))
  H.checkerror('scatter_add_: index 4 out of range 1..3', function()
    x:clone():scatter_add_(1, i64({{4}}), rnd(1, 1)) end)
  H.checkerror('index_add_: index 7 out of range 1..5', nb.index_add, x, 2, i64({7}), rnd(3, 1))
  H.checkerror("index must be an i64 tensor (use :to('i64')), got f32", nb.gather, x, 1,
               nb.tensor({{1}}))
  H.checkerror("bad argument #3 to 'index_select' (index must be an i64", function()
    return nb.index_select(x, 1, nb.tensor({1}, {dtype = 'f64'})) end)
  H.checkerror('index tensor expected (or a list of integers), got string', nb.index_select, x, 1,
               'a')
  H.checkerror('index list entry 2 is number, expected an integer', nb.index_select, x, 1,
               {1, 1.5})
  H.checkerror('index must be 1-D', nb.index_select, x, 1, i64({{1}}))
  H.checkerror('index has 1 dimensions but x has 2', nb.gather, x, 1, i64({1}))
  H.checkerror('dimension 3 out of range', nb.gather, x, 3, i64({{1}}))
  H.checkerror('src is f32 but x is f64', nb.scatter_add, x, 1, i64({{1}}), nb.zeros(1, 1))
  H.checkerror("bad argument #4 to 'nabla.scatter_add' (tensor expected, got nil)",
               nb.scatter_add, x, 1, i64({{1}}))
  H.checkerror('mask of shape [2] cannot be broadcast to x of shape [3,5]', nb.masked_fill, x,
               nb.ones(2), 0)
  H.checkerror("bad argument #3 to 'masked_fill' (number expected, got string)", function()
    return nb.masked_fill(x, nb.ones(5), 'v') end)
  H.checkerror('masked_select', nb.masked_select, x, nb.ones(4))
  H.checkerror('cat: tensor 3 has shape [3,4] but tensor 1 has [3,5]', nb.cat,
               {x, x, rnd(3, 4)}, 1)
  H.checkerror("bad argument #1 to 'cat' (cat: tensor 2 has shape [2,4]", function()
    return nb.cat({x, rnd(2, 4)}, 2) end)
  H.checkerror('tensor 2 has 1 dimensions but tensor 1 has 2', nb.cat, {x, rnd(5)}, 1)
  H.checkerror('entry 2 of the list is number, expected a tensor', nb.cat, {x, 3})
  H.checkerror('a non-empty list of tensors expected', nb.cat, {})
  H.checkerror('a list of tensors expected, got a tensor', nb.cat, x, 1)
  H.checkerror('dimension 3 out of range', nb.cat, {x, x}, 3)
  H.checkerror('stack: tensor 2 has shape [3,4] but tensor 1 has [3,5]', nb.stack,
               {x, rnd(3, 4)})
  H.checkerror('dimension 4 out of range', nb.stack, {x, x}, 4)
  H.checkerror('split_size must be positive', x.split, x, 0)
  H.checkerror('split: sizes sum to 4 but dimension 1 has size 3', x.split, x, {1, 3}, 1)
  H.checkerror('split: size -2 of piece 1 is negative', x.split, x, {-2, 5})
  H.checkerror("bad argument #1 to 'split' (size 2 of the list is string", function()
    return x:split({1, 'a'}) end)
  H.checkerror('number of chunks must be positive', x.chunk, x, 0)
  H.checkerror('dimension 3 out of range', x.chunk, x, 2, 3)
  H.checkerror('0-d tensor cannot be split', nb.split, nb.tensor(1), 1)
  H.checkerror('num_classes -1 is negative', nb.one_hot, i64({1}), -1)
  -- the state is still usable
  same(x:index_select(2, i64({5})), x[{{}, {5, 5}}], 'usable after errors')
end

H.report()
