-- test_linalg.lua: matrix products and nb.linalg — forward values against naive Lua loops and
-- identities, first and second derivatives (check.grad / check.gradgrad, float64) for every
-- differentiable op and shape case, known values, and error messages.
local nb = require 'nabla'
local check = require 'check'
local H = require 'harness'
local E = H.checkerror

nb.manual_seed(20240607)

local function randn(...) return nb.randn({...}, {dtype = 'f64'}) end
local function eye(n) return nb.eye(n):to('f64') end

-- check.grad and check.gradgrad of f at inputs; both must pass.
local function grads(name, f, inputs, opts)
  local ok, rep = check.grad(f, inputs, opts)
  H.check(ok, '%s grad: %s', name, rep.text)
  ok, rep = check.gradgrad(f, inputs, opts)
  H.check(ok, '%s gradgrad: %s', name, rep.text)
end

-- ---- naive references on nested tables ------------------------------------------------------
local function mm_ref(a, b)   -- a: n x k, b: k x m tables
  local out = {}
  for i = 1, #a do
    out[i] = {}
    for j = 1, #b[1] do
      local s = 0
      for k = 1, #b do s = s + a[i][k] * b[k][j] end
      out[i][j] = s
    end
  end
  return out
end

local function transpose_ref(a)
  local out = {}
  for j = 1, #a[1] do
    out[j] = {}
    for i = 1, #a do out[j][i] = a[i][j] end
  end
  return out
end

local function eye_ref(n)
  local out = {}
  for i = 1, n do
    out[i] = {}
    for j = 1, n do out[i][j] = i == j and 1 or 0 end
  end
  return out
end

-- determinant by cofactor expansion along the first row
local function det_ref(a)
  local n = #a
  if n == 1 then return a[1][1] end
  local d = 0
  for j = 1, n do
    local minor = {}
    for i = 2, n do
      local row = {}
      for k = 1, n do if k ~= j then row[#row + 1] = a[i][k] end end
      minor[#minor + 1] = row
    end
    d = d + (-1) ^ (j + 1) * a[1][j] * det_ref(minor)
  end
  return d
end

local function diag_ref(v, rows, cols)   -- rows x cols with v on the diagonal
  local out = {}
  for i = 1, rows do
    out[i] = {}
    for j = 1, cols do out[i][j] = i == j and v[i] or 0 end
  end
  return out
end

-- ---- matmul: forward values in every shape case ------------------------------------------------
do
  local a, b = randn(2, 3), randn(3, 4)
  H.close(nb.matmul(a, b), mm_ref(a:totable(), b:totable()), 1e-12, 'matmul 2-D @ 2-D')
  H.close(a:matmul(b), mm_ref(a:totable(), b:totable()), 1e-12, 'a:matmul(b)')
  H.close(a:mm(b), mm_ref(a:totable(), b:totable()), 1e-12, 'a:mm(b)')
  H.close(nb.mm(a, b), mm_ref(a:totable(), b:totable()), 1e-12, 'nb.mm')

  local u, v = randn(3), randn(3)
  local ut, vt = u:totable(), v:totable()
  local d = ut[1] * vt[1] + ut[2] * vt[2] + ut[3] * vt[3]
  local uv = nb.matmul(u, v)
  H.check(uv:dim() == 0, '1-D @ 1-D is 0-d, got %d-d', uv:dim())
  H.close(uv:item(), d, 1e-12, 'matmul 1-D @ 1-D')
  H.close(nb.dot(u, v):item(), d, 1e-12, 'nb.dot')
  H.close(u:dot(v):item(), d, 1e-12, 'u:dot(v)')
  local o = nb.outer(u, randn(2))
  H.check(o.shape[1] == 3 and o.shape[2] == 2, 'outer shape')
  local w = randn(2)
  H.close(nb.outer(u, w), mm_ref(transpose_ref({ut}), {w:totable()}), 1e-12, 'nb.outer')

  -- 2-D @ 1-D -> (2), 1-D @ 2-D -> (4)
  local av = nb.matmul(a, u)
  H.check(av:dim() == 1 and av.shape[1] == 2, '2-D @ 1-D shape')
  H.close(av, transpose_ref(mm_ref(a:totable(), transpose_ref({ut})))[1], 1e-12, '2-D @ 1-D')
  local ub = nb.matmul(u, b)
  H.check(ub:dim() == 1 and ub.shape[1] == 4, '1-D @ 2-D shape')
  H.close(ub, mm_ref({ut}, b:totable())[1], 1e-12, '1-D @ 2-D')

  -- batched with broadcast: [2,1,3,4] @ [5,4,2] -> [2,5,3,2]
  local A, B = randn(2, 1, 3, 4), randn(5, 4, 2)
  local C = nb.matmul(A, B)
  H.check(table.concat(C.shape, ',') == '2,5,3,2', 'broadcast batch shape %s',
          table.concat(C.shape, ','))
  local At, Bt, Ct = A:totable(), B:totable(), C:totable()
  local worst = 0
  for i = 1, 2 do
    for j = 1, 5 do
      local ref = mm_ref(At[i][1], Bt[j])
      for r = 1, 3 do
        for c = 1, 2 do worst = math.max(worst, math.abs(ref[r][c] - Ct[i][j][r][c])) end
      end
    end
  end
  H.check(worst < 1e-12, 'broadcast batched matmul off by %g', worst)
  -- batch @ vector: [2,3,4] @ [4] -> [2,3]
  local Bv = nb.matmul(randn(2, 3, 4), randn(4))
  H.check(table.concat(Bv.shape, ',') == '2,3', 'batch @ vector shape')

  -- transposed (non-contiguous) operands
  local p, q = randn(3, 2), randn(4, 3)
  H.close(nb.matmul(p:t(), q:t()), mm_ref(transpose_ref(p:totable()), transpose_ref(q:totable())),
          1e-12, 'matmul of transposed views')
  -- f32 works too
  local f = nb.matmul(a:to('f32'), b:to('f32'))
  H.check(f.dtype == 'f32', 'f32 @ f32 stays f32')
  H.close(f, mm_ref(a:totable(), b:totable()), 1e-5, 'f32 matmul')
end

-- ---- matmul, mm, dot, outer: gradients ---------------------------------------------------------
grads('matmul 1-D . 1-D', nb.matmul, {randn(4), randn(4)})
grads('matmul 2-D @ 1-D', nb.matmul, {randn(3, 4), randn(4)})
grads('matmul 1-D @ 2-D', nb.matmul, {randn(4), randn(4, 3)})
grads('matmul 2-D @ 2-D', nb.matmul, {randn(3, 4), randn(4, 2)})
grads('matmul broadcast [2,1,3,4] @ [5,4,2]', nb.matmul, {randn(2, 1, 3, 4), randn(5, 4, 2)})
grads('matmul batch @ 2-D', nb.matmul, {randn(2, 3, 4), randn(4, 2)})
grads('matmul transposed batch @ 2-D', function(a, b) return a:transpose(2, 3):matmul(b) end,
      {randn(2, 4, 3), randn(4, 2)})
grads('matmul 2-D @ batch', nb.matmul, {randn(3, 4), randn(2, 4, 2)})
grads('matmul 1-D @ batch', nb.matmul, {randn(4), randn(2, 4, 3)})
grads('matmul batch @ 1-D', nb.matmul, {randn(2, 3, 4), randn(4)})
grads('matmul transposed views', function(a, b) return nb.matmul(a:t(), b:transpose(1, 2)) end,
      {randn(4, 3), randn(2, 4)})
grads('matmul sliced view', function(a, b) return a:narrow(2, 2, 3):matmul(b) end,
      {randn(3, 5), randn(3, 2)})
grads('matmul same input twice (x^T x)', function(x) return x:t():matmul(x) end, {randn(3, 2)})
grads('mm', nb.mm, {randn(2, 3), randn(3, 4)})
grads('mm transposed', function(a, b) return a:t():mm(b) end, {randn(3, 2), randn(3, 4)})
grads('dot', nb.dot, {randn(5), randn(5)})
grads('dot method', function(a, b) return a:dot(b) end, {randn(3), randn(3)})
grads('outer', nb.outer, {randn(3), randn(4)})

-- known value: the Hessian of x^T A x is A + A^T
do
  local A = randn(3, 3)
  local quad = function(x) return nb.dot(x, A:matmul(x)) end
  local x0 = randn(3):requires_grad_()
  local g = nb.grad(quad(x0), {x0}, {create_graph = true})[1]
  local rows = {}
  for i = 1, 3 do rows[i] = nb.grad(g[i], {x0}, {retain_graph = true})[1]:totable() end
  H.close(rows, (A + A:t()):totable(), 1e-12, 'Hessian of x^T A x is A + A^T (double backward)')
  if nb.stack then   -- nb.func.jacobian assembles its rows with nb.stack (another family)
    H.close(nb.func.hessian(quad, randn(3)), A + A:t(), 1e-12, 'nb.func.hessian of x^T A x')
  end
  local ok, rep = check.gradgrad(quad, {randn(3)})
  H.check(ok, 'gradgrad of x^T A x: %s', rep.text)
  -- the same Hessian with A as a variable too (mixed second derivatives)
  grads('x^T A x in x and A', function(x, M) return nb.dot(x, M:matmul(x)) end,
        {randn(3), randn(3, 3)})
end

-- ---- solve -------------------------------------------------------------------------------------
local function well_conditioned(n, ...)
  local dims = {...}
  dims[#dims + 1] = n
  dims[#dims + 1] = n
  return nb.randn(dims, {dtype = 'f64'}) + eye(n) * 4
end

do
  local A, B = well_conditioned(3), randn(3, 2)
  local X = nb.linalg.solve(A, B)
  H.close(mm_ref(A:totable(), X:totable()), B:totable(), 1e-10, 'A X = B')
  local b = randn(3)
  local x = nb.linalg.solve(A, b)
  H.check(x:dim() == 1, 'solve with a vector gives a vector')
  H.close(transpose_ref(mm_ref(A:totable(), transpose_ref({x:totable()})))[1], b:totable(), 1e-10,
          'A x = b')
  -- batch of A with one shared B
  local Ab = well_conditioned(3, 2)
  local Xb = nb.linalg.solve(Ab, B)
  H.check(table.concat(Xb.shape, ',') == '2,3,2', 'batched solve shape')
  H.close(mm_ref(Ab:totable()[2], Xb:totable()[2]), B:totable(), 1e-10, 'batched A X = B')
end
grads('solve matrix B', nb.linalg.solve, {well_conditioned(3), randn(3, 2)})
grads('solve vector b', nb.linalg.solve, {well_conditioned(3), randn(3)})
grads('solve batch of vectors', nb.linalg.solve, {well_conditioned(3, 2), randn(2, 3)})
grads('solve broadcast A batch, shared B', nb.linalg.solve, {well_conditioned(3, 2), randn(3, 2)})
grads('solve shared A, batched B', nb.linalg.solve, {well_conditioned(2), randn(3, 2, 2)})
grads('solve transposed A', function(A, B) return nb.linalg.solve(A:t(), B) end,
      {well_conditioned(3), randn(3, 2)})

-- ---- inv, det, slogdet -------------------------------------------------------------------------
do
  local A = well_conditioned(3)
  H.close(mm_ref(A:totable(), nb.linalg.inv(A):totable()), eye_ref(3), 1e-10, 'A inv(A) = I')
  local M = randn(3, 3)
  H.close(nb.linalg.det(M):item(), det_ref(M:totable()), 1e-10, 'det vs cofactor expansion')
  local M4 = randn(4, 4)
  H.close(nb.linalg.det(M4):item(), det_ref(M4:totable()), 1e-10, 'det 4x4 vs cofactors')
  local s, l = nb.linalg.slogdet(M)
  local d = det_ref(M:totable())
  H.check(s:item() == (d > 0 and 1 or -1), 'slogdet sign')
  H.close(l:item(), math.log(math.abs(d)), 1e-10, 'slogdet logabsdet')
  H.check(not l.requires_grad and not s.requires_grad, 'no grad without requires_grad')
  local sing = nb.tensor({{1, 2}, {2, 4}}, {dtype = 'f64'})
  local ss, ls = nb.linalg.slogdet(sing)
  H.check(ss:item() == 0 and ls:item() == -math.huge, 'slogdet of a singular matrix: 0, -inf')
  H.check(nb.linalg.det(sing):item() == 0, 'det of a singular matrix is 0')
  local Mb = randn(2, 3, 3)
  local db = nb.linalg.det(Mb)
  H.close(db, {det_ref(Mb:totable()[1]), det_ref(Mb:totable()[2])}, 1e-10, 'batched det')
  -- sign is not differentiable: it records nothing
  local Mr = randn(3, 3):requires_grad_()
  local s2, l2 = nb.linalg.slogdet(Mr)
  H.check(not s2.requires_grad and l2.requires_grad, 'only logabsdet carries a gradient')
end
grads('inv', nb.linalg.inv, {well_conditioned(3)})
grads('inv batched', nb.linalg.inv, {well_conditioned(2, 3)})
grads('inv transposed', function(A) return nb.linalg.inv(A:t()) end, {well_conditioned(3)})
grads('det', nb.linalg.det, {randn(3, 3)})
grads('det batched', nb.linalg.det, {randn(2, 3, 3)})
grads('slogdet', function(A) local _, l = nb.linalg.slogdet(A); return l end, {randn(3, 3)})
grads('slogdet batched', function(A) local _, l = nb.linalg.slogdet(A); return l end,
      {randn(2, 2, 2)})
do
  -- d det / dA = det(A) A^-T; with A = [[2,1],[1,3]] (det 5): [[3,-1],[-1,2]]
  local A = nb.tensor({{2, 1}, {1, 3}}, {dtype = 'f64', requires_grad = true})
  nb.linalg.det(A):backward()
  H.close(A.grad, {{3, -1}, {-1, 2}}, 1e-12, 'grad of det = cofactor matrix')
  -- at a singular matrix the gradient is the adjugate^T (cofactor matrix), still defined:
  -- [[1,2],[2,4]] -> [[4,-2],[-2,1]]; rank 2 of 3 -> cofactors computed by hand
  local S = nb.tensor({{1, 2}, {2, 4}}, {dtype = 'f64', requires_grad = true})
  nb.linalg.det(S):backward()
  H.close(S.grad, {{4, -2}, {-2, 1}}, 1e-12, 'grad of det at a singular 2x2')
  local S3 = nb.tensor({{1, 2, 3}, {2, 4, 6}, {1, 1, 1}}, {dtype = 'f64', requires_grad = true})
  nb.linalg.det(S3):backward()
  H.close(S3.grad, {{-2, 4, -2}, {1, -2, 1}, {0, 0, 0}}, 1e-12, 'grad of det at a rank-2 3x3')
  local R1 = nb.tensor({{1, 2, 3}, {2, 4, 6}, {3, 6, 9}}, {dtype = 'f64', requires_grad = true})
  nb.linalg.det(R1):backward()
  H.close(R1.grad, {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}}, 1e-12, 'grad of det at rank 1 is 0')
  E("second derivative at a singular matrix is not supported", function()
    nb.grad(nb.linalg.det(S3), {S3}, {create_graph = true})
  end)
  E("backward of slogdet: the matrix is singular", function()
    local _, l = nb.linalg.slogdet(S3)
    l:backward()
  end)
end

-- ---- cholesky (SPD inputs X X^T + n I) ---------------------------------------------------------
local function spd(x) return x:matmul(x:transpose(-2, -1)) + eye(x.shape[#x.shape]) * 3 end
do
  local A = spd(randn(3, 3))
  local L = nb.linalg.cholesky(A)
  local Lt = L:totable()
  H.check(Lt[1][2] == 0 and Lt[1][3] == 0 and Lt[2][3] == 0, 'cholesky L is lower triangular')
  H.check(Lt[1][1] > 0 and Lt[2][2] > 0 and Lt[3][3] > 0, 'cholesky diagonal positive')
  H.close(mm_ref(Lt, transpose_ref(Lt)), A:totable(), 1e-10, 'L L^T = A')
end
grads('cholesky', function(x) return nb.linalg.cholesky(spd(x)) end, {randn(3, 3)})
grads('cholesky batched', function(x) return nb.linalg.cholesky(spd(x)) end, {randn(2, 2, 2)})

-- ---- eigh (symmetric inputs with well-separated eigenvalues) -----------------------------------
local function sym_sep(x)   -- x + x^T + diag(0, 4, 8): eigenvalues far apart
  return x + x:transpose(-2, -1) + nb.tensor({{0, 0, 0}, {0, 4, 0}, {0, 0, 8}}, {dtype = 'f64'})
end
do
  local A = sym_sep(randn(3, 3) * 0.5)
  local w, V = nb.linalg.eigh(A)
  local wt, Vt = w:totable(), V:totable()
  H.check(wt[1] < wt[2] and wt[2] < wt[3], 'eigh values ascending')
  H.close(mm_ref(A:totable(), Vt), mm_ref(Vt, diag_ref(wt, 3, 3)), 1e-10, 'A V = V diag(w)')
  H.close(mm_ref(transpose_ref(Vt), Vt), eye_ref(3), 1e-10, 'V^T V = I')
  -- known value: [[2,1],[1,2]] has eigenvalues 1 and 3
  local w2 = nb.linalg.eigh(nb.tensor({{2, 1}, {1, 2}}, {dtype = 'f64'}))
  H.close(w2, {1, 3}, 1e-12, 'eigenvalues of [[2,1],[1,2]]')
end
do
  local C = randn(3, 3)
  -- gauge invariant: eigenvector signs do not matter through V^2 or V V^T products
  grads('eigh values', function(x) local w = nb.linalg.eigh(sym_sep(x)); return w end,
        {randn(3, 3) * 0.5})
  grads('eigh sum(w) + sum(V^2 C)', function(x)
    local w, V = nb.linalg.eigh(sym_sep(x))
    return w:sum() + (V * V * C):sum()
  end, {randn(3, 3) * 0.5})
  grads('eigh vectors only', function(x)
    local _, V = nb.linalg.eigh(sym_sep(x))
    return (V:narrow(2, 1, 1):matmul(V:narrow(2, 1, 1):t()) * C):sum()
  end, {randn(3, 3) * 0.5})
  grads('eigh batched', function(x)
    local w, V = nb.linalg.eigh(sym_sep(x))
    return w:sum() + (V * V):sum(1)
  end, {randn(2, 3, 3) * 0.5})
  -- d lambda_max / dA = v v^T (for a symmetric perturbation): at diag(1, 2) it is e2 e2^T
  local A = nb.tensor({{1, 0}, {0, 2}}, {dtype = 'f64', requires_grad = true})
  local w = nb.linalg.eigh(A)
  w[2]:backward()
  H.close(A.grad, {{0, 0}, {0, 1}}, 1e-12, 'gradient of the top eigenvalue')
end

-- ---- svd ---------------------------------------------------------------------------------------
do
  for _, shp in ipairs({{4, 3}, {3, 4}, {3, 3}}) do
    local m, n = shp[1], shp[2]
    local k = math.min(m, n)
    local A = randn(m, n)
    local U, S, Vh = nb.linalg.svd(A, {full_matrices = false})
    H.check(table.concat(U.shape, ',') == m .. ',' .. k and table.concat(Vh.shape, ',') ==
            k .. ',' .. n, 'thin svd shapes %dx%d', m, n)
    local St = S:totable()
    for i = 2, k do H.check(St[i - 1] >= St[i] and St[i] >= 0, 'S descending') end
    H.close(mm_ref(mm_ref(U:totable(), diag_ref(St, k, k)), Vh:totable()), A:totable(), 1e-10,
            'U diag(S) Vh = A (' .. m .. 'x' .. n .. ')')
    local Uf, Sf, Vhf = nb.linalg.svd(A)   -- full_matrices=true by default, as in PyTorch
    H.check(table.concat(Uf.shape, ',') == m .. ',' .. m and
            table.concat(Vhf.shape, ',') == n .. ',' .. n, 'full svd shapes')
    H.close(mm_ref(mm_ref(Uf:totable(), diag_ref(Sf:totable(), m, n)), Vhf:totable()),
            A:totable(), 1e-10, 'full U diag(S) Vh = A')
    H.close(mm_ref(transpose_ref(Uf:totable()), Uf:totable()), eye_ref(m), 1e-10,
            'full U orthogonal')
  end
  -- known value: singular values of [[3,0],[4,5]] are sqrt(45) and sqrt(5)
  local _, S = nb.linalg.svd(nb.tensor({{3, 0}, {4, 5}}, {dtype = 'f64'}))
  H.close(S, {math.sqrt(45), math.sqrt(5)}, 1e-12, 'singular values of [[3,0],[4,5]]')
end
for _, shp in ipairs({{4, 3}, {3, 4}, {3, 3}}) do
  local m, n = shp[1], shp[2]
  local k = math.min(m, n)
  local tag = m .. 'x' .. n
  local C1, C2 = randn(m, k), randn(k, n)
  grads('svd S ' .. tag, function(x) local _, S = nb.linalg.svd(x); return S end, {randn(m, n)})
  grads('svd U, S, Vh (gauge invariant) ' .. tag, function(x)
    local U, S, Vh = nb.linalg.svd(x, {full_matrices = false})
    return (U * U * C1):sum() + (Vh * Vh * C2):sum() + S:sum()
  end, {randn(m, n)})
  grads('svd U only ' .. tag, function(x)
    local U = nb.linalg.svd(x, {full_matrices = false})
    return (U * U * C1):sum()
  end, {randn(m, n)})
  grads('svd u1 v1^T ' .. tag, function(x)   -- a sign-invariant product of one pair
    local U, _, Vh = nb.linalg.svd(x, {full_matrices = false})
    return nb.outer(U:select(2, 1), Vh:select(1, 1))
  end, {randn(m, n)})
end
grads('svd batched S', function(x) local _, S = nb.linalg.svd(x); return S end, {randn(2, 3, 2)})
-- full matrices: a loss on the first k columns only is fine
grads('svd full, first k columns of U', function(x)
  local U = nb.linalg.svd(x)
  return (U:narrow(2, 1, 2) ^ 2):sum(1)
end, {randn(4, 2)})
E("the loss depends on the extra columns of U from full_matrices=true", function()
  local x = randn(4, 2):requires_grad_()
  local U = nb.linalg.svd(x)
  local loss = (U ^ 2):sum(1):sum()
  loss:backward()
end)

-- ---- qr ----------------------------------------------------------------------------------------
do
  for _, shp in ipairs({{4, 3}, {3, 4}, {3, 3}}) do
    local m, n = shp[1], shp[2]
    local A = randn(m, n)
    local Q, R = nb.linalg.qr(A)
    local Rt = R:totable()
    for i = 1, #Rt do
      for j = 1, math.min(i - 1, n) do H.check(Rt[i][j] == 0, 'R upper triangular') end
    end
    H.close(mm_ref(Q:totable(), Rt), A:totable(), 1e-10, 'Q R = A (' .. m .. 'x' .. n .. ')')
    H.close(mm_ref(transpose_ref(Q:totable()), Q:totable()), eye_ref(math.min(m, n)), 1e-10,
            'Q^T Q = I')
    local Qc, Rc = nb.linalg.qr(A, 'complete')
    H.check(Qc.shape[1] == m and Qc.shape[2] == m and Rc.shape[1] == m, 'complete qr shapes')
    H.close(mm_ref(Qc:totable(), Rc:totable()), A:totable(), 1e-10, 'complete Q R = A')
    local Qo = nb.linalg.qr(A, {mode = 'complete'})
    H.check(Qo.shape[2] == m, 'qr mode in an options table')
  end
end
grads('qr tall', function(x) return {nb.linalg.qr(x)} end, {randn(4, 3)})
grads('qr wide', function(x) return {nb.linalg.qr(x)} end, {randn(3, 4)})
grads('qr square complete', function(x) return {nb.linalg.qr(x, 'complete')} end, {randn(3, 3)})
grads('qr wide complete', function(x) return {nb.linalg.qr(x, 'complete')} end, {randn(2, 3)})
grads('qr R only', function(x) local _, R = nb.linalg.qr(x); return R end, {randn(4, 3)})
grads('qr Q only', function(x) return (nb.linalg.qr(x)) end, {randn(3, 3)})
grads('qr batched', function(x) return {nb.linalg.qr(x)} end, {randn(2, 3, 2)})
E("mode 'complete' with more rows than columns (4 > 3) is not differentiable", function()
  local x = randn(4, 3):requires_grad_()
  local Q = nb.linalg.qr(x, 'complete')
  Q:sum():backward()
end)

-- ---- matrix_rank, pinv, lstsq ------------------------------------------------------------------
do
  local R2 = nb.tensor({{1, 2, 3}, {2, 4, 6}, {1, 1, 1}}, {dtype = 'f64'})
  local r = nb.linalg.matrix_rank(R2)
  H.check(math.type(r) == 'integer' and r == 2, 'matrix_rank of a rank-2 3x3 is the integer 2')
  H.check(nb.linalg.matrix_rank(eye(3)) == 3, 'rank of I3')
  H.check(nb.linalg.matrix_rank(nb.zeros(2, 3)) == 0, 'rank of zeros')
  -- tol: singular values of diag(1, 1e-3) are 1 and 1e-3
  local D = nb.tensor({{1, 0}, {0, 1e-3}}, {dtype = 'f64'})
  H.check(nb.linalg.matrix_rank(D) == 2 and nb.linalg.matrix_rank(D, 1e-2) == 1, 'rank with tol')
  local rb = nb.linalg.matrix_rank(nb.tensor({R2:totable(), eye_ref(3)}, {dtype = 'f64'}))
  H.check(nb.is_tensor(rb) and rb.dtype == 'i64', 'batched rank is an i64 tensor')
  H.close(rb, {2, 3}, 0, 'batched ranks')

  for _, shp in ipairs({{4, 3}, {3, 4}}) do
    local A = randn(shp[1], shp[2])
    local P = nb.linalg.pinv(A)
    H.check(P.shape[1] == shp[2] and P.shape[2] == shp[1], 'pinv shape')
    local At, Pt = A:totable(), P:totable()
    H.close(mm_ref(mm_ref(At, Pt), At), At, 1e-10, 'A pinv(A) A = A')
    H.close(mm_ref(mm_ref(Pt, At), Pt), Pt, 1e-10, 'pinv(A) A pinv(A) = pinv(A)')
  end
  -- pinv of a rank-deficient matrix: pinv([[1,2],[2,4]]) = A / 25
  H.close(nb.linalg.pinv(nb.tensor({{1, 2}, {2, 4}}, {dtype = 'f64'})),
          {{0.04, 0.08}, {0.08, 0.16}}, 1e-12, 'pinv of a rank-1 matrix')

  -- lstsq, overdetermined: the normal equations A^T (A x - b) = 0 hold
  local A, b = randn(5, 3), randn(5, 2)
  local X = nb.linalg.lstsq(A, b)
  local At, Xt, bt = A:totable(), X:totable(), b:totable()
  local res = mm_ref(At, Xt)
  for i = 1, 5 do for j = 1, 2 do res[i][j] = res[i][j] - bt[i][j] end end
  H.close(mm_ref(transpose_ref(At), res), {{0, 0}, {0, 0}, {0, 0}}, 1e-10, 'normal equations')
  -- underdetermined: an exact solution
  local Aw, bw = randn(2, 4), randn(2)
  local xw = nb.linalg.lstsq(Aw, bw)
  H.check(xw:dim() == 1 and xw.shape[1] == 4, 'lstsq vector shape')
  H.close(Aw:matmul(xw), bw, 1e-10, 'underdetermined lstsq solves exactly')
  H.close(xw, nb.linalg.pinv(Aw):matmul(bw), 1e-10, 'minimum-norm solution = pinv(A) b')
end
grads('pinv tall', function(x) return nb.linalg.pinv(x) end, {randn(4, 3)})
grads('pinv wide', function(x) return nb.linalg.pinv(x) end, {randn(2, 4)})
grads('pinv square batched', function(x) return nb.linalg.pinv(x) end, {randn(2, 2, 2)})
grads('lstsq tall', nb.linalg.lstsq, {randn(4, 3), randn(4, 2)})
grads('lstsq wide', nb.linalg.lstsq, {randn(2, 3), randn(2, 2)})
grads('lstsq vector b', nb.linalg.lstsq, {randn(4, 2), randn(4)})
grads('lstsq broadcast batch', nb.linalg.lstsq, {randn(2, 3, 2), randn(3, 1)})

-- ---- autograd plumbing -------------------------------------------------------------------------
do
  local A = well_conditioned(3):requires_grad_()
  local Ai = nb.linalg.inv(A)
  H.check(tostring(Ai.grad_fn):find('InvBackward') ~= nil, 'grad_fn is InvBackward, got %s',
          tostring(Ai.grad_fn))
  nb.no_grad(function() Ai:add_(1) end)
  E("a tensor it saved was modified in place", function() Ai:sum():backward() end)
  local B = randn(3, 3):requires_grad_()
  local y = nb.matmul(B, B)
  nb.no_grad(function() B:add_(1) end)
  E("was modified in place", function() y:sum():backward() end)
  -- no recording under no_grad, nor for inputs that do not require grad
  local C = randn(2, 2):requires_grad_()
  H.check(not nb.no_grad(function() return nb.matmul(C, C) end).requires_grad, 'no_grad')
  H.check(not nb.matmul(randn(2, 2), randn(2, 2)).requires_grad, 'plain inputs')
end

-- ---- errors ------------------------------------------------------------------------------------
do
  local a23, a45 = nb.zeros(2, 3), nb.zeros(4, 5)
  local m = E("matmul: [2,3] @ [4,5]: inner sizes 3 and 4 differ", nb.matmul, a23, a45)
  H.check(m:find("bad argument #2", 1, true) ~= nil, 'inner mismatch blames argument 2: %s', m)
  E("matmul: [2,3] @ [4,5]: inner sizes 3 and 4 differ", function() return a23:matmul(a45) end)
  E("batch dimensions do not broadcast", nb.matmul, nb.zeros(2, 2, 3), nb.zeros(3, 3, 2))
  E("0-d", nb.matmul, nb.zeros(2, 3), nb.tensor(1))
  E("i64", nb.matmul, nb.zeros(2, 2, 'i64'), nb.zeros(2, 2, 'i64'))
  E("dtypes differ", nb.matmul, nb.zeros(2, 2), nb.zeros(2, 2, 'f64'))
  E("bad argument #2 to 'nabla.matmul' (tensor expected", nb.matmul, a23, 3)
  E("bad argument #1 to 'nabla.matmul' (tensor expected", nb.matmul, 'x', a23)
  E("bad argument #2 to 'nabla.matmul'", nb.matmul, a23)
  E("mm: expected two 2-D tensors", nb.mm, nb.zeros(2, 2, 2), nb.zeros(2, 2))
  E("inner sizes", nb.mm, a23, a45)
  E("dot", nb.dot, nb.zeros(2, 2), nb.zeros(2, 2))
  E("inner sizes", nb.dot, nb.zeros(3), nb.zeros(4))
  E("outer", nb.outer, nb.zeros(2, 2), nb.zeros(2))
  E("bad argument #2 to 'nabla.outer' (tensor expected", nb.outer, nb.zeros(2), {1, 2})

  local L = nb.linalg
  E("solve: A of shape [2,3] is not square", L.solve, a23, nb.zeros(2))
  E("bad argument #1 to 'nabla.linalg.solve'", L.solve, a23, nb.zeros(2))
  E("solve: matrix is singular", L.solve, nb.tensor({{1, 2}, {2, 4}}), nb.ones(2))
  E("B has 3 rows, expected 2", L.solve, nb.eye(2), nb.zeros(3, 1))
  E("bad argument #2 to 'nabla.linalg.solve' (tensor expected, got no value)", L.solve,
    nb.eye(2))
  E("i64", L.solve, nb.eye(2):to('i64'), nb.ones(2):to('i64'))
  E("inv: matrix is singular", L.inv, nb.zeros(3, 3))
  E("not square", L.inv, a23)
  E("at least 2 dimensions", L.det, nb.zeros(3))
  E("i64", L.det, nb.zeros(2, 2, 'i64'))
  E("not square", L.slogdet, a23)
  E("cholesky: the input is not positive definite", L.cholesky,
    nb.tensor({{1, 2}, {2, 1}}))
  E("not square", L.cholesky, a23)
  E("not square", L.eigh, a23)
  E("bad argument #1 to 'nabla.linalg.eigh' (tensor expected, got number)", L.eigh, 5)
  E("mode must be 'reduced' or 'complete', got 'r'", L.qr, a23, 'r')
  E("option 'mode' must be a string", L.qr, a23, {mode = 1})
  E("bad argument #2 to 'nabla.linalg.svd' (table expected, got number)", L.svd, a23, 1)
  E("at least 2 dimensions", L.svd, nb.zeros(3))
  E("tol must be a non-negative number", L.matrix_rank, a23, -1)
  E("bad argument #2 to 'nabla.linalg.matrix_rank' (number expected, got string)",
    L.matrix_rank, a23, 'x')
  E("rcond must be a non-negative number", L.pinv, a23, -0.5)
  E("lstsq: A [2,3] and B [3]: B has 3 rows, expected 2", L.lstsq, a23, nb.zeros(3))
  E("i64", L.lstsq, nb.zeros(2, 2, 'i64'), nb.zeros(2, 'i64'))
  E("contains NaN", L.svd, nb.full({2, 2}, 0 / 0))
  -- the state is still usable
  H.close(nb.matmul(nb.eye(2), nb.ones(2)), {1, 1}, 0, 'usable after errors')
end

-- ---- docs --------------------------------------------------------------------------------------
for _, name in ipairs({'solve', 'inv', 'det', 'slogdet', 'qr', 'svd', 'eigh', 'cholesky',
                       'matrix_rank', 'lstsq', 'pinv'}) do
  local doc = nb._docs[nb.linalg[name]]
  H.check(doc and doc:find('nb.linalg.' .. name, 1, true) == 1, 'doc of nb.linalg.%s', name)
end
for _, name in ipairs({'matmul', 'mm', 'dot', 'outer'}) do
  H.check(nb._docs[nb[name]] ~= nil and nb._methods[name] == nb[name], 'nb.%s doc and method',
          name)
end

H.report()
