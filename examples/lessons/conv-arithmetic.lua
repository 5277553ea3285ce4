-- # Conv arithmetic: sizes, receptive fields, parameters, multiplications
-- summary: output sizes, the conv weight gradient, receptive fields by recurrence and by autograd, parameters and MACs of standard vs depthwise-separable nets, MobileNet multipliers, U-Net sizes
-- time: quick
--
-- Every count in this lesson is computed twice: once by a formula (`calc.*`) and once by
-- measuring real layers — counting the numbers inside the weight tensors, counting the
-- multiplications a convolution kernel actually performs, and finding a receptive field
-- with autograd. Where the course's answers are wrong or depend on an unstated assumption,
-- the lesson shows the claim, the measurement, and the corrected statement.

-- %% Output size of a convolution
-- A convolution with kernel $k$, stride $s$, padding $p$ and dilation $d$ turns $n$ inputs into
-- $\lfloor (n + 2p - d(k-1) - 1)/s \rfloor + 1$ outputs per spatial dimension.
-- The course writes $(W_{in} - k)/s + 1$: right for $W_{in}=32, k=5, s=1$ (28), but it has no
-- padding term and no floor. With $k=3, s=2$ it gives $(32-3)/2+1 = 15.5$, not a size at all.
local function measured_size(n, k, opts)
  local conv = nn.Conv2d(1, 1, k, opts)
  return conv(nb.zeros(1, 1, n, n)):size(3)
end
print('course formula for n=32, k=3, s=2:', (32 - 3) / 2 + 1)
print(select(2, calc.conv_out(32, 3, {stride = 2})))
check.answer('n=32, k=5: measured vs formula', measured_size(32, 5), calc.conv_out(32, 5), 0)
check.answer('n=32, k=3, s=2 (floor)', measured_size(32, 3, {stride = 2}),
             calc.conv_out(32, 3, {stride = 2}), 0)
check.answer('n=32, k=3, s=2, p=1', measured_size(32, 3, {stride = 2, padding = 1}),
             calc.conv_out(32, 3, {stride = 2, padding = 1}), 0)

-- %% Multiplications of one conv layer (S001-Q4c)
-- The course counts $k \cdot k \cdot c \cdot W \cdot H$ operations: for a $32\times32\times3$
-- input and a $5\times5$ kernel that is $28^2 \cdot 25 \cdot 3 = 58{,}800$. That is **one
-- filter**. A layer with $C_{out}$ filters does $C_{out}$ times as many.
--
-- To count multiplications without trusting a formula, `calc.measure_macs` runs each conv
-- again with every weight and every input set to 1: each output is then the number of products
-- summed into it, and the sum of all outputs is the number of multiplications.
local conv8 = nn.Conv2d(3, 8, 5)
local measured = calc.measure_macs(conv8, {1, 3, 32, 32})
print('measured multiplications, Conv2d(3→8, k=5) on 32×32:', calc.fmt(measured))
check.answer('one filter (course formula)', measured / 8, 28 * 28 * 5 * 5 * 3, 0)
check.answer('the layer: × C_out', measured, 8 * 58800, 0)

-- %% Pooling multiplies nothing
-- A $k\times k$ max pool reads $k^2$ values per window and channel and makes $k^2 - 1$
-- comparisons; an average pool adds instead. The course's pooling count
-- $(k \cdot k \cdot c)(W \cdot H)$ is the number of values read, not of multiplications.
local pm, pshape, pool = calc.macs({kind = 'pool', k = 2}, {64, 32, 32})
print(string.format('2×2 max pool on 64×32×32: output %s, %d multiplications, %s reads, ' ..
                    '%s comparisons', calc.shape_str(pshape), pm, calc.fmt(pool.reads),
                    calc.fmt(pool.comparisons)))
local pooled = nn.MaxPool2d(2)(nb.zeros(1, 64, 32, 32))
check.answer('pool output size: measured vs formula', pooled:size(3), pshape[2], 0)

-- %% The weight gradient is a correlation (S001-Q2)
-- In 1-D, a valid cross-correlation computes $Z_i = \sum_{j} W_j X_{i+j}$. For a loss $L$,
-- the chain rule gives $\partial L/\partial W_j = \sum_i (\partial L/\partial Z_i) X_{i+j}$:
-- the course's answer, read as "correlate $X$ with $\partial L/\partial Z$". Check it with
-- autograd: $X$ has 12 entries, $W$ has 4, so $Z$ has 9; take $L = \sum_i G_i Z_i$, so
-- that $\partial L / \partial Z = G$.
nb.manual_seed(2)
local X = nb.randn(12, {dtype = 'f64'})
local W = nb.randn(4, {dtype = 'f64'}):requires_grad_()
local G = nb.randn(9, {dtype = 'f64'})
local Z = nb.conv1d(X:view(1, 1, 12), W:view(1, 1, 4)):view(9)
;(Z * G):sum():backward()
local by_hand = {}
for j = 1, 4 do
  local s = 0
  for i = 1, 9 do s = s + G:get(i) * X:get(i + j - 1) end
  by_hand[j] = s
end
check.answer('autograd ∂L/∂W vs Σ_i G_i X_{i+j}', W.grad, nb.tensor(by_hand, {dtype = 'f64'}), 1e-12)
local corr = nb.conv1d(X:view(1, 1, 12), G:view(1, 1, 9)):view(4)
check.answer('∂L/∂W = X correlated with ∂L/∂Z', corr, W.grad, 1e-12)

-- %% The input gradient is a full convolution
-- Going one layer further back, $\partial L/\partial X$ is the *full* convolution of
-- $\partial L/\partial Z$ with $W$: pad $G$ by $k-1$ zeros on both sides and correlate it with
-- the flipped kernel.
local Xg = X:clone():requires_grad_()
;(nb.conv1d(Xg:view(1, 1, 12), W:detach():view(1, 1, 4)):view(9) * G):sum():backward()
local wt = W:detach():totable()
local flipped = nb.tensor({wt[4], wt[3], wt[2], wt[1]}, {dtype = 'f64'})
local full = nb.conv1d(nb.pad(G:view(1, 1, 9), {3, 3}), flipped:view(1, 1, 4)):view(12)
check.answer('∂L/∂X = full convolution of G with W', full, Xg.grad, 1e-12)

-- %% Receptive field: the recurrence (S001-Q4f)
-- The network is conv 3×3 stride 2 → pool 2×2 → conv 3×3 stride 2 → pool 2×2. With the
-- *jump* $j$ (the input distance between neighbouring units of a layer), the field grows by
-- $r_l = r_{l-1} + (k_l - 1)\, j_{l-1}$ and $j_l = j_{l-1} s_l$.
--
-- A 2×2 pool normally has stride 2 (PyTorch's default: stride = kernel size).
local rf2 = calc.receptive_field{{k = 3, s = 2}, {k = 2, s = 2, kind = 'pool'},
                                 {k = 3, s = 2}, {k = 2, s = 2, kind = 'pool'}}
print(rf2)

-- %% Where the course's 13 comes from
-- The course gets 3, 5, 9, 13, so **13×13**. Its third step adds $(3-1) \cdot 2$: a jump of 2
-- after conv + pool, which means the pool did not move the jump — a pool of **stride 1**.
-- That is the unstated assumption; with the usual stride-2 pools the answer is 21×21.
local rf1 = calc.receptive_field{{k = 3, s = 2}, {k = 2, s = 1, kind = 'pool'},
                                 {k = 3, s = 2}, {k = 2, s = 1, kind = 'pool'}}
print(rf1)
local seq = {}
for i, r in ipairs(rf1) do seq[i] = r.field end
check.answer("stride-1 pools reproduce the course's 3, 5, 9, 13", nb.tensor(seq),
             nb.tensor{3, 5, 9, 13}, 1e-9)

-- %% Receptive field, measured by autograd
-- Build the network for real and ask which input pixels can change the centre output unit:
-- the support of $\partial y_{centre} / \partial x$. A max pool passes the gradient of one
-- input through only one element per window, so the measurement takes the union over a batch
-- of 64 random inputs.
local function rf_net(pool_stride)
  return nn.Sequential(nn.Conv2d(1, 4, 3, {stride = 2}), nn.ReLU(),
                       nn.MaxPool2d(2, {stride = pool_stride}),
                       nn.Conv2d(4, 4, 3, {stride = 2}), nn.ReLU(),
                       nn.MaxPool2d(2, {stride = pool_stride}))
end
nb.manual_seed(0)
local meas2 = calc.measure_receptive_field(rf_net(2), 64, {batch = 64})
local meas1 = calc.measure_receptive_field(rf_net(1), 48, {batch = 64})
print(meas2)
print(meas1)
check.answer('stride-2 pools: autograd vs recurrence', meas2.field, rf2.field, 0)
check.answer('stride-1 pools: autograd vs recurrence', meas1.field, rf1.field, 0)

-- %% What the field looks like
-- The size of the gradient over the stride-2 network's field, with a margin of two pixels.
-- Every pixel of the 21×21 square can reach the centre unit, but not equally: how much a
-- pixel matters depends on the weights and on how many paths lead from it to the centre
-- (the overlapping stride-2 windows leave a grid). The outer ring of the square is faint.
local r0, r1, c0, c1 = meas2.rows[1] - 2, meas2.rows[2] + 2, meas2.cols[1] - 2, meas2.cols[2] + 2
local crop = meas2.magnitude:narrow(1, r0, r1 - r0 + 1):narrow(2, c0, c1 - c0 + 1)
plot.heatmap(crop / crop:max(), {title = '|∂y_centre/∂x|, summed over 64 inputs'})

-- %% Networks A and B (S001-Q5a)
-- Input $512\times512\times3$. Network B is three standard convs (4×4, stride 2, padding 1)
-- with 3→64→128→256 channels. Network A replaces each by a depthwise 4×4 conv (one filter
-- per channel, `groups = C`) followed by a pointwise 1×1 conv. No biases.
local function dw(c) return nn.Conv2d(c, c, 4, {stride = 2, padding = 1, groups = c, bias = false}) end
local function pw(a, b) return nn.Conv2d(a, b, 1, {bias = false}) end
local function std(a, b) return nn.Conv2d(a, b, 4, {stride = 2, padding = 1, bias = false}) end
local netA = nn.Sequential(dw(3), pw(3, 64), dw(64), pw(64, 128), dw(128), pw(128, 256))
local netB = nn.Sequential(std(3, 64), std(64, 128), std(128, 256))
local specA = {
  {kind = 'depthwise', cin = 3, k = 4, stride = 2, padding = 1, bias = false, name = 'DW 3'},
  {kind = 'pointwise', cin = 3, cout = 64, bias = false, name = 'PW 3→64'},
  {kind = 'depthwise', cin = 64, k = 4, stride = 2, padding = 1, bias = false, name = 'DW 64'},
  {kind = 'pointwise', cin = 64, cout = 128, bias = false, name = 'PW 64→128'},
  {kind = 'depthwise', cin = 128, k = 4, stride = 2, padding = 1, bias = false, name = 'DW 128'},
  {kind = 'pointwise', cin = 128, cout = 256, bias = false, name = 'PW 128→256'},
}
local specB = {
  {kind = 'conv', cin = 3, cout = 64, k = 4, stride = 2, padding = 1, bias = false, name = 'conv 3→64'},
  {kind = 'conv', cin = 64, cout = 128, k = 4, stride = 2, padding = 1, bias = false, name = 'conv 64→128'},
  {kind = 'conv', cin = 128, cout = 256, k = 4, stride = 2, padding = 1, bias = false, name = 'conv 128→256'},
}
print('formula, network A:')
print(calc.summary(specA, {3, 512, 512}))
print('formula, network B:')
print(calc.summary(specB, {3, 512, 512}))

-- %% Measured on the real layers
-- Run both networks on a $512\times512$ image, counting parameters from the weight tensors
-- and multiplications with the ones trick. The course's shapes are right: both networks end
-- at $64\times64\times256$, stage by stage the same sizes.
local macsA, rowsA = calc.measure_macs(netA, {1, 3, 512, 512})
local macsB, rowsB = calc.measure_macs(netB, {1, 3, 512, 512})
print('measured, network A:')
print(rowsA)
print('measured, network B:')
print(rowsB)
local calcA, calcB = calc.summary(specA, {3, 512, 512}), calc.summary(specB, {3, 512, 512})
local function shapes(rows, skip_batch)
  local t = {}
  for i, r in ipairs(rows) do
    local s = r.out_shape
    t[i] = skip_batch and {s[2], s[3], s[4]} or {s[1], s[2], s[3]}
  end
  return nb.tensor(t)
end
check.answer('A: output shapes, measured vs formula', shapes(rowsA, true), shapes(calcA), 1e-9)
check.answer('B: output shapes, measured vs formula', shapes(rowsB, true), shapes(calcB), 1e-9)

-- %% Parameters (S001-Q5b)
-- The course lists 48, 192, 1,024, 8,192, 2,048, 32,768 for A and 3,072, 131,072, 524,288 for
-- B; it gives no totals.
check.answer('A parameters: measured vs formula', calc.measure_params(netA), calc.params(specA), 0)
check.answer('B parameters: measured vs formula', calc.measure_params(netB), calc.params(specB), 0)
check.answer("A: the course's per-layer numbers add up to", calc.measure_params(netA),
             48 + 192 + 1024 + 8192 + 2048 + 32768, 0)
check.answer("B: the course's per-layer numbers add up to", calc.measure_params(netB),
             3072 + 131072 + 524288, 0)

-- %% Multiplications (S001-Q5c)
-- The course's totals are 309,329,920 for A and 4,496,293,888 for B.
check.answer('A multiplications: measured vs formula', macsA, calc.macs(specA, {3, 512, 512}), 0)
check.answer('B multiplications: measured vs formula', macsB, calc.macs(specB, {3, 512, 512}), 0)
check.answer("A: the course's total", macsA, 309329920, 0)
check.answer("B: the course's total", macsB, 4496293888, 0)
-- a third opinion: nn's own m:summary, which asks each layer for its count
check.answer('B: m:summary agrees', netB:summary({1, 3, 512, 512}, {print = false}).total_macs,
             macsB, 0)

-- %% The course's comparison is backwards (S001-Q5d)
-- The course's prose says A has **more** parameters and B needs **fewer** multiplications, and
-- that depthwise-separable convs increase complexity. Its own numbers say the opposite:
local pA, pB = calc.measure_params(netA), calc.measure_params(netB)
print(string.format('parameters:      A %s   B %s   (A has %.1f× fewer)', calc.fmt(pA),
                    calc.fmt(pB), pB / pA))
print(string.format('multiplications: A %s   B %s   (A needs %.1f× fewer)', calc.fmt(macsA),
                    calc.fmt(macsB), macsB / macsA))
check.answer('A has fewer parameters than B (1 = yes)', pA < pB and 1 or 0, 1)
check.answer('A needs fewer multiplications than B (1 = yes)', macsA < macsB and 1 or 0, 1)
-- Corrected: A, the depthwise-separable network, is about 15× smaller and 14.5× cheaper, with
-- the same output shapes.

-- %% MobileNet's cost ratio (S001-Q5e)
-- A standard $D_k \times D_k$ conv from $M$ to $N$ channels on a $D_F \times D_F$ map costs
-- $D_k^2 M N D_F^2$; depthwise + pointwise cost $D_k^2 M D_F^2 + M N D_F^2$. The ratio is
-- $1/N + 1/D_k^2$. (The course labels it "depthwise/standard"; depthwise alone is $1/N$.)
-- Each stage of A against the same stage of B, from the measured counts:
for stage = 1, 3 do
  local sep = rowsA[2 * stage - 1].macs + rowsA[2 * stage].macs
  local N = rowsB[stage].out_shape[2]
  check.answer(string.format('stage %d: measured (DW+PW)/standard vs 1/%d + 1/16', stage, N),
               sep / rowsB[stage].macs, calc.mobilenet_ratio(N, 4), 1e-12)
end
print(string.format('depthwise alone / standard, stage 1: %.6f = 1/64',
                    rowsA[1].macs / rowsB[1].macs))

-- %% Width and resolution multipliers (S001-Q5f)
-- MobileNet shrinks a network with a width multiplier $\alpha$ (every layer has $\alpha M$
-- inputs and $\alpha N$ outputs) and a resolution multiplier $\rho$ (maps of $\rho D_F$):
-- cost $D_k^2 \alpha M \rho^2 D_F^2 + \alpha M \alpha N \rho^2 D_F^2$. Take $D_k = 3$,
-- $M = 64$, $N = 128$, $D_F = 56$, and measure a real separable layer for each setting.
local function separable(M, N)
  return nn.Sequential(nn.Conv2d(M, M, 3, {padding = 1, groups = M, bias = false}),
                       nn.Conv2d(M, N, 1, {bias = false}))
end
for _, s in ipairs{{1, 1}, {0.5, 1}, {0.5, 0.5}} do
  local a, rho = s[1], s[2]
  local M, N, DF = math.floor(64 * a), math.floor(128 * a), math.floor(56 * rho)
  local got = calc.measure_macs(separable(M, N), {1, M, DF, DF})
  local want, ratio = calc.mobilenet_cost{Dk = 3, M = 64, N = 128, DF = 56, alpha = a, rho = rho}
  check.answer(string.format('α=%g, ρ=%g: measured vs formula (%.4f× the baseline)', a, rho,
                             ratio), got, want, 0)
end

-- %% Why the cost falls like α²ρ²
-- The pointwise term dominates, and it scales with $\alpha^2 \rho^2$; the depthwise term
-- only with $\alpha \rho^2$. So the relative cost is close to, but a little above,
-- $\alpha^2\rho^2$ (resolutions 224, 192, 160, 128 as in MobileNet):
local lines = {' α      ρ        cost ratio   α²ρ²'}
for _, a in ipairs{1, 0.75, 0.5, 0.25} do
  for _, res in ipairs{224, 192, 160, 128} do
    local rho = res / 224
    local _, ratio = calc.mobilenet_cost{Dk = 3, M = 64, N = 128, DF = 56, alpha = a, rho = rho}
    lines[#lines + 1] = string.format('%4.2f   %5.3f    %8.4f    %8.4f', a, rho, ratio,
                                      a * a * rho * rho)
  end
end
print(table.concat(lines, '\n'))

-- %% U-Net: bottleneck size (S000-Q3.2e)
-- A 256×256 input goes through 4 encoder levels (two 3×3 convs, then a 2×2 max pool) and a
-- bottleneck (two more convs). The course says the bottleneck map is $256/2^4 = 16$, so
-- **16×16 = 256 pixels**. That needs padding 1 (size-preserving convs). The original U-Net uses
-- unpadded convs, and then each conv loses 2 pixels. Spatial sizes don't depend on channel
-- counts, so a thin copy of the encoder is enough to measure them.
local function encoder(padding)
  local layers, c = {}, 1
  for level = 1, 5 do
    local w = 2 ^ (level + 1) // 1
    layers[#layers + 1] = nn.Conv2d(c, w, 3, {padding = padding})
    layers[#layers + 1] = nn.ReLU()
    layers[#layers + 1] = nn.Conv2d(w, w, 3, {padding = padding})
    layers[#layers + 1] = nn.ReLU()
    if level < 5 then layers[#layers + 1] = nn.MaxPool2d(2) end
    c = w
  end
  return nn.Sequential(table.unpack(layers))
end
local function sizes(net)
  local _, rows = calc.measure_macs(net, {1, 1, 256, 256})
  local t = {256}
  for _, r in ipairs(rows) do
    if r.kind ~= 'ReLU' then t[#t + 1] = r.out_shape[3] end
  end
  return t
end
local same, valid = sizes(encoder(1)), sizes(encoder(0))
print('padding 1:', table.concat(same, ' → '))
print('padding 0:', table.concat(valid, ' → '))
check.answer('bottleneck with padding 1 (course: 16)', same[#same], 256 // 16, 0)
-- without padding, by hand: 256 → 252 → 126 → 122 → 61 → 57 → 28 → 24 → 12 → 8
check.answer('bottleneck with padding 0', valid[#valid], 8, 0)

-- %% U-Net: which conv has 73,856 parameters?
-- The course's "second encoder conv" is $(3\cdot3\cdot64 + 1)\cdot128 = 73{,}856$, i.e. the
-- 64→128 conv that opens level 2. But each level has two convs, so "the second conv" could as
-- well be level 1's 64→64 conv, with 36,928. (The first conv has 640 parameters for a
-- one-channel image, 1,792 for RGB.) The number is right for the reading it assumes.
for _, c in ipairs{{1, 64}, {3, 64}, {64, 64}, {64, 128}} do
  local layer = nn.Conv2d(c[1], c[2], 3, {padding = 1})
  check.answer(string.format('Conv2d(%d→%d, 3×3): measured vs formula', c[1], c[2]),
               calc.measure_params(layer), calc.params{kind = 'conv', cin = c[1], cout = c[2], k = 3}, 0)
end
check.answer("the course's 73,856 is the 64→128 conv",
             calc.measure_params(nn.Conv2d(64, 128, 3)), 73856, 0)

-- %% Cost in a search objective (S004-Q1)
-- MnasNet and EfficientNet search for networks with the reward $ACC \times (FLOPS/T)^w$.
-- With $w = -0.07$ (EfficientNet's value, quoted from memory of the paper), doubling the
-- cost multiplies the reward by $2^{-0.07} \approx 0.953$. Networks A and B at equal accuracy:
local w_exp = -0.07
print(string.format('reward(B)/reward(A) at equal accuracy: (%.2f)^%.2f = %.3f',
                    macsB / macsA, w_exp, (macsB / macsA) ^ w_exp))
check.answer('doubling the cost', 2 ^ w_exp, 0.9526, 1e-4)
