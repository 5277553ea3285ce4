-- # Rank, low-rank factorisation and LoRA
-- summary: rank by elimination and by SVD, W = A·B from pivot columns, truncated SVD, LoRA counts for BERT-large, merging LoRA, adapters and their scale
-- time: quick
--
-- A weight matrix of rank $r$ can be stored as a product of two thin matrices. This lesson
-- finds the rank of a small matrix by hand (Gaussian elimination, every row operation shown)
-- and by SVD, factors it exactly, measures when factoring saves storage, and then turns to
-- LoRA: fine-tuning a frozen layer through a trainable low-rank update that can be merged into
-- the weight. It ends with parallel adapters and the effect of scaling their output.

-- %% The matrix
-- The course's matrix (S004-Q2a). Find its rank, write it as $W = AB$ with $A$ of size
-- $5\times r$ and $B$ of size $r\times5$, and decide whether that saves storage.
local lowrank = require 'lowrank'
local W = {{1, 3, 0, 2, 3},
           {0, 1, -2, 1, 2},
           {2, 5, 1, 3, 4},
           {1, 2, 1, 1, 1},
           {3, 7, 2, 4, 5}}
print(lowrank.format(W))

-- %% Rank by Gaussian elimination
-- Subtract multiples of each pivot row from the rows below it, column by column. The
-- matrix has integer entries, so `lowrank` works with exact fractions: no tolerance decides
-- what counts as zero.
local e = lowrank.eliminate(W, {verbose = true})
print(string.format('non-zero rows left: %d, pivot columns {%s}', e.rank,
                    table.concat(e.pivots, ', ')))

-- %% The course's row operations
-- The course does R3 −= 2R1, R4 −= R1, R5 −= 3R1; then R3 += R2, R4 += R2, R5 += 2R2;
-- then R4 −= R3, R5 −= 2R3, and finds rank 3. Same steps, same order:
local course = {'R3 ← R3 − 2·R1', 'R4 ← R4 − R1', 'R5 ← R5 − 3·R1', 'R3 ← R3 + R2',
                'R4 ← R4 + R2', 'R5 ← R5 + 2·R2', 'R4 ← R4 − R3', 'R5 ← R5 − 2·R3'}
local same = 0
for i, text in ipairs(course) do
  if e.ops[i] and e.ops[i].text == text then same = same + 1 end
end
check.answer("row operations equal to the course's", same, #course, 0)

-- %% Rank by SVD
-- Independently: the rank is the number of non-zero singular values. In floating point
-- "zero" means "below a tolerance" — here $\max(m,n)\,\epsilon\,\sigma_1$, as NumPy uses.
local Wt = nb.tensor(W, {dtype = 'f64'})
local _, S = nb.linalg.svd(Wt)
print('singular values:', S)
local tol = 5 * 2.220446049250313e-16 * S:get(1)
local svd_rank = S:gt(tol):sum():item()
check.answer('rank: elimination vs SVD', e.rank, svd_rank, 0)

-- %% W = A·B from the pivot columns
-- Take $A$ = the pivot columns of $W$ (columns 1, 2, 3) and $B$ = the non-zero rows of the
-- *reduced* row echelon form. Column $j$ of $B$ says how to build column $j$ of $W$ from the
-- pivot columns: column 4 $= -c_1 + c_2$, column 5 $= -3c_1 + 2c_2$.
local A, B, f = lowrank.factor(W)
print('A ='); print(lowrank.format(f.A))
print('B ='); print(lowrank.format(f.B))
check.answer('A·B − W, exact fractions: entries that differ',
             lowrank.equal_exact(lowrank.matmul_exact(f.A, f.B), W) and 0 or 1, 0, 0)
check.answer('A·B = W in float64, max |difference|', (A:matmul(B) - Wt):abs():max():item(), 0, 0)
check.answer("B equals the course's B", B, nb.tensor({{1, 0, 0, -1, -3}, {0, 1, 0, 1, 2},
                                                     {0, 0, 1, 0, 0}}, {dtype = 'f64'}), 1e-12)

-- %% Does the factorisation save storage?
-- $W$ holds $mn = 25$ numbers; $A$ and $B$ hold $r(m+n)$. That is fewer only if
-- $r < mn/(m+n) = 2.5$. At $r = 3$ the factors hold 30 numbers: 5 **more** (the course says
-- so, correctly).
--
-- A subtlety: in this pivot-column form $B$'s pivot columns are the identity, so they need
-- not be stored. Then $mr + r(n-r) = 15 + 6 = 21 < 25$ numbers are enough.
print(lowrank.param_counts(5, 5))
local stored = A:numel() + B:numel()
local nonid = 0
for k = 1, f.rank do
  for j = 1, 5 do
    local is_pivot = false
    for _, c in ipairs(f.pivots) do is_pivot = is_pivot or c == j end
    if not is_pivot then nonid = nonid + 1 end
  end
end
check.answer('numbers in A and B (counted) vs r(m+n)', stored, 3 * (5 + 5), 0)
check.answer('CR form: A plus the non-identity part of B', A:numel() + nonid, 5 * 3 + 3 * (5 - 3), 0)

-- %% Truncated SVD: the best rank-r approximation
-- Keeping the $r$ largest singular values gives the best rank-$r$ approximation $W_r$
-- (Eckart–Young), and its error is what was thrown away:
-- $\|W - W_r\|_F = \sqrt{\sum_{i>r} \sigma_i^2}$. The table measures the left side on the
-- matrices and computes the right side from the singular values.
local errs = lowrank.svd_errors(W, {ranks = {1, 2, 3}})
print(errs)
for _, row in ipairs(errs) do
  check.answer(string.format('r = %d: measured error vs Eckart–Young', row.r), row.error,
               row.eckart_young, 1e-12)
end

-- %% Not every rank-1 matrix is as good
-- The first pivot column times the first row of $B$ is also rank 1, and much worse than the
-- SVD's rank-1 matrix.
local crude = A:narrow(2, 1, 1):matmul(B:narrow(1, 1, 1))
print(string.format('‖W − c₁b₁ᵀ‖ = %.4f   vs   ‖W − W₁‖ = %.4f', (Wt - crude):norm():item(),
                    errs[1].error))

-- %% LoRA counts for BERT-large (S004-Q2b)
-- 24 blocks, $d_{model} = 1024$, LoRA of rank $r = 16$ on the four attention matrices
-- $W_q, W_k, W_v, W_o$. Each $d\times d$ matrix gets $B$ ($d\times r$) and $A$ ($r\times d$):
-- $2dr = 32{,}768$ trainable numbers instead of $d^2$.
local L = calc.lora_params{d_model = 1024, blocks = 24, r = 16, matrices = 4, tasks = 2}
print(L)

-- %% Counted on real layers
-- Build one block's four projections as `nn.LoRALinear` layers (without biases, as the
-- course counts), count frozen and trainable numbers in the tensors, and multiply by 24
-- identical blocks. (Building all 24 blocks would take 400 MB for nothing.)
assert(nn.Linear)      -- load nn first, so that nn_lora can register itself in it
require 'nn_lora'      -- nn.LoRALinear, nn.Adapter
local frozen, trainable = 0, 0
for _ = 1, 4 do
  local proj = nn.LoRALinear(1024, 1024, {r = 16, bias = false})
  for _, p in ipairs(proj:parameters()) do
    if p.requires_grad then trainable = trainable + p:numel() else frozen = frozen + p:numel() end
  end
end
check.answer('full fine-tuning: frozen numbers × 24 vs formula', frozen * 24, L.full, 0)
check.answer('LoRA: trainable numbers × 24 vs formula', trainable * 24, L.lora, 0)
check.answer('ratio (the course: "more than 32×")', frozen / trainable, 32, 0)

-- %% What the course garbled
-- The course's arithmetic line reads "32,728 = 3,145,728 × 4 × 24 × 24". The intended line is
-- $32{,}768 \times 4 \times 24 = 3{,}145{,}728$, and the ratio is **exactly** 32, not "more
-- than 32". For two tasks, LoRA stores the base once plus two small sets; full fine-tuning
-- stores two full copies. Heads and vocabulary size do not enter: heads split $d_{model}$,
-- and embeddings are not adapted.
check.answer('32,768 × 4 × 24', 32768 * 4 * 24, trainable * 24, 0)
check.answer('storage, LoRA, two tasks', frozen * 24 + 2 * trainable * 24, 106954752, 0)
check.answer('storage, full fine-tuning, two tasks', 2 * frozen * 24, 201326592, 0)
print('LoRA on W_q and W_v only (the LoRA paper\'s default):',
      calc.fmt(calc.lora_params{d_model = 1024, blocks = 24, r = 16, matrices = {'q', 'v'}}.lora))

-- %% A LoRA layer starts as its base layer
-- `nn.LoRALinear` computes $h = W_0 x + \frac{\alpha}{r} B A x$ with $W_0$ frozen. $A$ starts
-- random and $B$ starts at **zero**, so before training the layer is exactly the base layer.
-- Here is a toy "pretrained" layer (64 → 32) and a new task whose true weight differs from it
-- by a rank-2 matrix $\Delta W$.
nb.manual_seed(11)
local base = nn.Linear(64, 32)
local W0 = base.weight:detach():clone()
local dW = nb.randn(32, 2):matmul(nb.randn(2, 64)) * 0.1
local Xtr = nb.randn(512, 64)
local Ytr = base(Xtr):detach() + Xtr:matmul(dW:t())
local lora = nn.LoRALinear(base, {r = 4, alpha = 8})
print(lora)
check.answer('initial output minus base output (max |·|)',
             (lora(Xtr) - base(Xtr)):abs():max():item(), 0, 0)

-- %% Train only A and B
-- Adam on the mean squared error. The base weight never changes: it is frozen
-- (`requires_grad = false`) and gets no gradient.
local steps = lesson.quick and 150 or 400
local opt = optim.Adam(lora:trainable_parameters(), {lr = 0.01})
local losses = {}
for step = 1, steps do
  opt:zero_grad()
  local loss = ((lora(Xtr) - Ytr) ^ 2):mean()
  loss:backward()
  opt:step()
  losses[step] = loss:item()
end
local log_losses = {}
for i, v in ipairs(losses) do log_losses[i] = math.log(v, 10) end
plot.line(log_losses, {title = 'log10 training loss', xlabel = 'step', height = 10})
local learned = lora:delta_weight()
print(string.format('loss %.4g → %.4g', losses[1], losses[#losses]))
check.answer('base weight changed by (max |·|)', (base.weight - W0):abs():max():item(), 0, 0)
check.answer('learned (α/r)BA vs the true ΔW, relative error',
             ((learned - dW):norm() / dW:norm()):item(), 0, 0.05)

-- %% Merge: one matrix, same outputs
-- For deployment fold the update into the weight: $W = W_0 + \frac{\alpha}{r}BA$. The merged
-- layer is a plain Linear; unmerging subtracts the update again, and swapping tasks is
-- $W - BA + B'A'$. In float32 the two paths round differently, so they agree to about
-- $10^{-6}$ relative.
local before = lora(Xtr):detach()
lora:merge()
local after = lora(Xtr):detach()
check.answer('merged vs unmerged output, max relative difference',
             ((after - before):abs():max() / before:abs():max()):item(), 0, 1e-5)
lora:unmerge()
check.answer('unmerge restores W0 (max |·|)', (base.weight - W0):abs():max():item(), 0, 1e-6)

-- %% The same in float64
-- In float64 the difference is rounding at the $10^{-16}$ level.
local l64 = nn.LoRALinear(64, 32, {r = 4, alpha = 8, dtype = 'f64'})
nb.no_grad(function() l64.lora_B:copy_(nb.randn(32, 4, {dtype = 'f64'})) end)
local x64 = nb.randn(16, 64, {dtype = 'f64'})
local u64 = l64(x64):detach()
l64:merge()
check.answer('float64: merged vs unmerged, max |difference|', (l64(x64) - u64):abs():max():item(),
             0, 1e-12)

-- %% Merged LoRA costs one Linear
-- Unmerged, each call does the extra products $x A^T$ and $(xA^T)B^T$: $r(d_{in}+d_{out})$
-- multiplications per row, $2r/d = 3.1\%$ for $d = 1024, r = 16$. Merged, it is the base
-- layer. The median time per call (it varies from run to run, so it is not checked):
local d, calls = lesson.quick and 256 or 1024, lesson.quick and 50 or 200
local lo = nn.LoRALinear(d, d, {r = 16})
local merged = nn.LoRALinear(d, d, {r = 16}):merge()
local xb = nb.randn(64, d)
-- calls interleaved (base, unmerged, merged, base, ...) and the median of each kept, so that
-- warm-up and load from other programs hit all three alike
local times = {{}, {}, {}}
nb.no_grad(function()
  for c = 1, calls do
    for i, layer in ipairs{lo.base, lo, merged} do
      local t0 = nb.clock()
      layer(xb)
      times[i][c] = nb.clock() - t0
    end
  end
end)
local best = {}
for i, t in ipairs(times) do
  table.sort(t)
  best[i] = t[(#t + 1) // 2]
end
print(string.format('per call: Linear %.3f ms, LoRA unmerged %.3f ms, merged %.3f ms ' ..
                    '(merged/Linear = %.2f)', best[1] * 1e3, best[2] * 1e3, best[3] * 1e3,
                    best[3] / best[1]))
print(string.format('extra multiplications unmerged: 2r/d = %.1f%%', 100 * 2 * 16 / 1024))

-- %% Adapters: two branches, two scales (S004-Q2d)
-- A parallel adapter adds a small bottleneck branch to a block: $out = \text{block}(x) +
-- s\cdot\text{adapter}(x)$. After a ReLU the block's output is skewed, with a spike at 0; a
-- fresh adapter's output is a narrow bell around 0 (its last layer starts small).
nb.manual_seed(4)
local xa = nb.randn(16, 16, 12, 12)
local function block() return nn.Sequential(nn.Conv2d(16, 16, 3, {padding = 1}), nn.ReLU()) end
local ad = nn.Adapter(16, 16, {bottleneck = 4, block = block()})
local yb, ya = ad:branches(xa)
local function stats(name, t)
  print(string.format('%-8s mean %7.4f  std %7.4f  exact zeros %4.1f%%', name, t:mean():item(),
                      t:std():item(), 100 * t:eq(0):to('f32'):mean():item()))
end
stats('block', yb)
stats('adapter', ya)
plot.hist(yb:reshape(-1):narrow(1, 1, 4000), {bins = 16, title = 'block output (after ReLU)'})
plot.hist(ya:reshape(-1):narrow(1, 1, 4000), {bins = 16, title = 'adapter output'})

-- %% Are the adapter's gradients small?
-- The course argues the adapter's output is negligible, so its gradients vanish. Measure it,
-- for $L = \frac12\|out - T\|^2$ with a random target $T$. The gradient arriving at the
-- adapter's output is $s$ times the gradient at the sum — not small at all. What is smaller is
-- the gradient of its *first* layer, because it passes through the last layer's small
-- weights; the last layer's own gradient is large.
local T = nb.randn(16, 16, 12, 12)
local function grad_norms(s, norm, learnable)
  nb.manual_seed(9)
  local m = nn.Adapter(16, 16, {bottleneck = 4, block = block(), scale = s, norm = norm,
                                learnable_scale = learnable})
  local y = m:main(xa)
  local u = m.up(m.down(xa):relu())
  local out = y + u * m.scale
  local loss = ((out - T) ^ 2):sum() * 0.5
  local inputs = {out, u, m.up.weight, m.down.weight}
  if learnable then inputs[5] = m.scale end
  local g = nb.grad({loss}, inputs)
  return {s = learnable and 'learn' or s, norm = norm and 'yes' or 'no', out = g[1]:norm():item(),
          u = g[2]:norm():item(), up = g[3]:norm():item(), down = g[4]:norm():item(),
          ds = g[5] and g[5]:item(), contrib = (u * m.scale):norm():item() / y:norm():item()}
end
local rows = {}
for _, cfg in ipairs{{1, false}, {2, false}, {1, false, true}, {1, true}, {2, true}} do
  rows[#rows + 1] = grad_norms(cfg[1], cfg[2], cfg[3])
end
print(calc.table(rows, {{'s', 's'}, {'norm', 'LayerNorm'}, {'out', '‖∂L/∂out‖'},
                        {'u', '‖∂L/∂adapter‖'}, {'up', '‖∂L/∂W_up‖'}, {'down', '‖∂L/∂W_down‖'},
                        {'contrib', '‖s·adapter‖/‖block‖'}}))
print(string.format('first layer / last layer gradient, s = 1: %.3f', rows[1].down / rows[1].up))
check.answer('s = 1: gradient at the adapter output = gradient at the sum', rows[1].u,
             rows[1].out, 1e-4)
check.answer('s = 2: gradient at the adapter output = 2 × gradient at the sum',
             rows[2].u / rows[2].out, 2, 1e-5)

-- %% What the scale s does
-- With the same weights, $s = 2$ doubles the adapter's contribution and doubles the gradients
-- of both adapter layers (up to how the loss itself changes). A learnable $s$ starts at 1 and
-- gets its own gradient $\partial L/\partial s = \langle \partial L/\partial out,
-- \text{adapter}(x)\rangle$. A LayerNorm on the block output changes the block's scale (to
-- std 1), and so the residual $out - T$ the adapter sees.
print(string.format('W_up gradient ratio s=2 / s=1: %.3f; W_down: %.3f; contribution ratio: %.3f',
                    rows[2].up / rows[1].up, rows[2].down / rows[1].down,
                    rows[2].contrib / rows[1].contrib))
print(string.format('learnable s: ∂L/∂s = %.4g', rows[3].ds))
check.answer('s = 2 doubles the contribution', rows[2].contrib / rows[1].contrib, 2, 1e-5)
check.answer('s = 2 doubles the first layer\'s gradient (within 2%)', rows[2].down / rows[1].down,
             2, 0.02)
-- Corrected statement: the adapter's output gradient is not small; only gradients that pass
-- through its own small weights are. Scaling by $s$ scales its output and its gradients by
-- about $s$, which acts like a larger learning rate for the adapter.
