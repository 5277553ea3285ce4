-- lowrank: rank by elimination, exact CR factorisation, truncated SVD vs Eckart–Young,
-- storage counts.  Ranks of the test matrices are known by construction (comments say how).
local H = require 'harness'
local nb = require 'nabla'
local lr = require 'lowrank'

---------------------------------------------------------------------------- rank
-- S004-Q2a's W: the seed's elimination leaves 3 non-zero rows
local W = {{1, 3, 0, 2, 3}, {0, 1, -2, 1, 2}, {2, 5, 1, 3, 4}, {1, 2, 1, 1, 1}, {3, 7, 2, 4, 5}}
local e = lr.eliminate(W)
H.check(e.exact and e.rank == 3, 'seed W has rank 3')
H.check(#e.ops == 8, 'eight row operations, as in the seed (%d)', #e.ops)
local seed_ops = {'R3 ← R3 − 2·R1', 'R4 ← R4 − R1', 'R5 ← R5 − 3·R1', 'R3 ← R3 + R2',
                  'R4 ← R4 + R2', 'R5 ← R5 + 2·R2', 'R4 ← R4 − R3', 'R5 ← R5 − 2·R3'}
local same = true
for i, t in ipairs(seed_ops) do same = same and e.ops[i] and e.ops[i].text == t end
H.check(same, 'the row operations are the seed\'s, in its order')
-- echelon rows [1,3,0,2,3], [0,1,-2,1,2], [0,0,-1,0,0], 0, 0
H.check(lr.equal_exact(e.R, {{1, 3, 0, 2, 3}, {0, 1, -2, 1, 2}, {0, 0, -1, 0, 0},
                             {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}}), 'echelon form')
H.check(e.pivots[1] == 1 and e.pivots[2] == 2 and e.pivots[3] == 3, 'pivot columns 1, 2, 3')

H.check(lr.rank({{0, 0}, {0, 0}}) == 0, 'zero matrix: rank 0')
H.check(lr.rank({{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}) == 3, 'identity: rank 3')
-- outer product u vᵀ with u = (1,2,3), v = (4,5,6,7): rank 1
H.check(lr.rank({{4, 5, 6, 7}, {8, 10, 12, 14}, {12, 15, 18, 21}}) == 1, 'outer product')
-- a zero first column forces a swap: rows (0,1), (1,0): rank 2 with R1 ↔ R2
local sw = lr.eliminate({{0, 1}, {1, 0}})
H.check(sw.rank == 2 and sw.ops[1].text == 'R1 ↔ R2', 'row swap recorded')
-- row 3 = row 1 + row 2, row 4 = 2·row 1 − row 2: rank 2
H.check(lr.rank({{1, 2, 3, 4}, {2, 1, 0, 1}, {3, 3, 3, 5}, {0, 3, 6, 7}}) == 2, 'dependent rows')
-- 5×5 Hilbert matrix (entries 1/(i+j−1)) is non-singular: rank 5, exactly
local Hm = {}
for i = 1, 5 do Hm[i] = {} for j = 1, 5 do Hm[i][j] = lr.frac(1, i + j - 1) end end
H.check(lr.rank(Hm) == 5, 'Hilbert 5: rank 5 (exact)')
-- float matrices: product of 6×3 and 3×5 random Gaussians has rank 3
nb.manual_seed(7)
local X = nb.randn(6, 3, {dtype = 'f64'}):matmul(nb.randn(3, 5, {dtype = 'f64'}))
local ex = lr.eliminate(X)
H.check(not ex.exact and ex.rank == 3, 'random rank-3 product: %d', ex.rank)
H.check(lr.rank(X) == nb.linalg.matrix_rank(X), 'elimination agrees with SVD rank')
H.check(lr.rank(nb.randn(4, 7, {dtype = 'f64'})) == 4, 'random 4x7: rank 4')

---------------------------------------------------------------------------- factor
local A, B, info = lr.factor(W)
-- B is the seed's [[1,0,0,−1,−3],[0,1,0,1,2],[0,0,1,0,0]]
H.check(lr.equal_exact(info.B, {{1, 0, 0, -1, -3}, {0, 1, 0, 1, 2}, {0, 0, 1, 0, 0}}), 'B')
-- A is W's columns 1, 2, 3
H.check(lr.equal_exact(info.A, {{1, 3, 0}, {0, 1, -2}, {2, 5, 1}, {1, 2, 1}, {3, 7, 2}}), 'A')
H.check(lr.equal_exact(lr.matmul_exact(info.A, info.B), W), 'A·B = W exactly (fractions)')
H.check(nb.equal(A:matmul(B), nb.tensor(W, {dtype = 'f64'})), 'A·B = W exactly (float64)')
H.check(A:size(1) == 5 and A:size(2) == 3 and B:size(1) == 3 and B:size(2) == 5, 'shapes')
-- a rational example: [[2,1],[4,2],[1,1/2]] has rank 1; B = [1, 1/2]
local _, _, ri = lr.factor({{2, 1}, {4, 2}, {1, 0.5}}, {exact = false})
H.check(ri.rank == 1 and math.abs(ri.B[1][2] - 0.5) < 1e-15, 'float factor of rank 1')
local qa, qb, qi = lr.factor({{lr.frac(1, 3), lr.frac(2, 3)}, {lr.frac(1, 2), 1}})
H.check(qi.rank == 1 and tostring(qi.B[1][2]) == '2', 'fractions: B = [1, 2]')
H.check(lr.equal_exact(lr.matmul_exact(qi.A, qi.B), {{lr.frac(1, 3), lr.frac(2, 3)},
                                                     {lr.frac(1, 2), 1}}), 'fraction A·B')
-- random float factorisation reconstructs to rounding error
local fa, fb = lr.factor(X)
H.close(fa:matmul(fb), X, 1e-12, 'float CR factor reconstructs X')

---------------------------------------------------------------------------- SVD truncation
-- singular values of W: 13.799, 2.913, 0.308, 0, 0 (NumPy 1.24, np.linalg.svd(W))
local _, err1, ey1, s = lr.svd_approx(W, 1)
H.close(s[1], 13.799, 1e-3, 'σ1'); H.close(s[2], 2.913, 1e-3, 'σ2'); H.close(s[3], 0.308, 1e-3, 'σ3')
H.close(err1, math.sqrt(2.913 ^ 2 + 0.3077 ^ 2), 1e-3, 'rank-1 error from the rounded σ')
local rows = lr.svd_errors(W)
local ok = true
for _, r in ipairs(rows) do ok = ok and math.abs(r.error - r.eckart_young) < 1e-10 end
H.check(ok, 'measured truncation error = sqrt(Σ discarded σ²) for r = 0..5')
H.check(rows[4].error < 1e-12, 'rank 3 reconstructs W')
-- Eckart–Young is a lower bound for every rank-r matrix: the CR truncation A[:, :1]·B[:1, :]
-- and random rank-2 matrices do no better than the SVD
local crude = A:narrow(2, 1, 1):matmul(B:narrow(1, 1, 1))
H.check((nb.tensor(W, {dtype = 'f64'}) - crude):norm():item() >= rows[2].error, 'CR rank-1 worse')
nb.manual_seed(3)
local Y = nb.randn(8, 6, {dtype = 'f64'})
local yr = lr.svd_errors(Y)
for _ = 1, 5 do
  local R2 = nb.randn(8, 2, {dtype = 'f64'}):matmul(nb.randn(2, 6, {dtype = 'f64'}))
  -- the least-squares fit of Y on R2's column space is still rank ≤ 2
  local Q = nb.linalg.qr(R2:narrow(2, 1, 2))
  local P = Q:matmul(Q:t():matmul(Y))
  H.check((Y - P):norm():item() >= yr[3].error - 1e-12, 'random rank-2 fit no better than SVD')
end
H.close(yr[1].error, Y:norm():item(), 1e-12, 'rank 0 error is ‖Y‖_F')

---------------------------------------------------------------------------- storage
-- 5×5: break-even 25/10 = 2.5; r = 3 stores 30 > 25 numbers, CR form 15 + 6 = 21 < 25
H.close(lr.break_even(5, 5), 2.5, 1e-15, 'break-even 2.5')
local pc = lr.param_counts(5, 5)
H.check(pc[2].saves and not pc[3].saves, 'A·B saves for r = 2, not for r = 3')
H.check(pc[3].factored == 30 and pc[3].cr == 21 and pc[3].cr_saves, 'CR form: 21 numbers')
-- 1024×1024, r = 16: 32,768 vs 1,048,576
local big = lr.param_counts(1024, 1024)
H.check(big[16].factored == 32768 and big[16].full == 1048576, '1024² at r=16')
H.close(lr.break_even(100, 300), 75, 1e-15, 'break-even 100×300 = 30000/400 = 75')

H.checkerror('a matrix', lr.rank, {1, 2, 3})
H.checkerror('row 2 has 1 entries', lr.rank, {{1, 2}, {3}})
H.check(nb._docs[lr.eliminate] ~= nil, 'docs')

---------------------------------------------------------------------------- nn_lora
local has_nn = pcall(require, 'nn')
if has_nn then
  local nn = require 'nn'
  local L = require 'nn_lora'
  H.check(nn.LoRALinear == L.LoRALinear and nn.Adapter == L.Adapter, 'nn_lora registers in nn')
  nb.manual_seed(1)
  local base = nn.Linear(6, 4, {dtype = 'f64'})
  local W0 = base.weight:detach():clone()
  local lora = L.LoRALinear(base, {r = 2, alpha = 6})
  local x = nb.randn(5, 6, {dtype = 'f64'})
  H.check(lora.scaling == 3, 'scaling alpha/r = 6/2')
  H.check(nb.equal(lora(x), base(x)), 'B = 0: LoRA output equals the base output')
  H.check(not base.weight.requires_grad and #lora:trainable_parameters() == 2, 'base frozen')
  -- trainable r·(in + out) = 2·10 = 20; all 6·4 + 4 + 20 = 48
  H.check(lora:num_parameters{trainable = true} == 20 and lora:num_parameters() == 48, 'counts')
  nb.no_grad(function() lora.lora_B:copy_(nb.randn(4, 2, {dtype = 'f64'})) end)
  -- the update by hand: y = x W0ᵀ + b + 3·x Aᵀ Bᵀ
  local want = x:matmul(W0:t()) + base.bias + x:matmul(lora.lora_A:t()):matmul(lora.lora_B:t()) * 3
  H.close(lora(x), want, 1e-12, 'forward = base + (alpha/r)·x AᵀBᵀ')
  H.close(lora:delta_weight(), lora.lora_B:matmul(lora.lora_A) * 3, 1e-14, 'delta_weight')
  local before = lora(x):detach()
  lora:merge()
  H.check(lora.merged, 'merged flag')
  H.close(base.weight, W0 + lora.lora_B:matmul(lora.lora_A) * 3, 1e-14, 'merged weight')
  H.close(lora(x), before, 1e-12, 'merged output = unmerged output')
  lora:merge()     -- merging twice is a no-op
  H.close(lora(x), before, 1e-12, 'merge is idempotent')
  lora:unmerge()
  H.close(base.weight, W0, 1e-14, 'unmerge restores W0')
  -- gradients reach A and B only
  lora.lora_B.grad = nil
  lora(x):sum():backward()
  H.check(lora.lora_A.grad ~= nil and lora.lora_B.grad ~= nil and base.weight.grad == nil,
          'gradients flow to A and B, not to the frozen weight')
  local fresh = L.LoRALinear(8, 3, {r = 4, bias = false})
  H.check(fresh.alpha == 4 and fresh.base.bias == nil and fresh.lora_A.shape[1] == 4, 'fresh base')
  H.checkerror('expected an nn.Linear', L.LoRALinear, nn.ReLU())
  H.checkerror("unknown option 'rank'", L.LoRALinear, 4, 4, {rank = 2})

  -- Adapter: block(x) + s·up(relu(down(x)))
  local blk = nn.Conv2d(3, 5, 3, {padding = 1})
  local ad = L.Adapter(3, 5, {bottleneck = 2, block = blk, scale = 2})
  local xi = nb.randn(2, 3, 6, 6)
  local y, a = ad:branches(xi)
  H.close(ad(xi), blk(xi) + ad.up(ad.down(xi):relu()) * 2, 1e-6, 'adapter forward')
  H.close(a, ad.up(ad.down(xi):relu()) * 2, 1e-6, 'branch is scaled by s')
  H.check(y.shape[2] == 5 and a.shape[2] == 5, 'branch shapes')
  H.check(ad.up.weight:std():item() < 0.05 and ad.up.bias:abs():max():item() == 0, 'small up init')
  local adl = L.Adapter(3, 5, {learnable_scale = true, scale = 0.5})
  local has_scale = false
  for name in adl:named_parameters() do has_scale = has_scale or name == 'scale' end
  H.check(has_scale and math.abs(adl.scale:item() - 0.5) < 1e-7, 'learnable scale is a parameter')
  local adn = L.Adapter(3, 5, {block = blk, norm = true})
  local yn = adn:main(xi)
  H.close(yn[1]:mean():item(), 0, 1e-5, 'norm: block output normalised per sample')
  local lin = L.Adapter(7, 7, {conv = false, bottleneck = 3})
  H.check(lin(nb.randn(4, 7)).shape[2] == 7, 'linear adapter')
end

H.report()
