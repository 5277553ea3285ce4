-- calc: output sizes, receptive fields, parameter and MAC counts, LoRA and MobileNet costs.
-- Expected values are computed by hand (the arithmetic is in the comments) or measured on real
-- layers (nb.conv2d / nb.max_pool2d shapes, autograd supports), never by calc itself.
local H = require 'harness'
local nb = require 'nabla'
local calc = require 'calc'

---------------------------------------------------------------------------- output sizes
-- ⌊(32 + 2·1 − 3)/1⌋ + 1 = 32
H.check(calc.conv_out(32, 3, {padding = 1}) == 32, 'conv_out 32 k3 p1')
-- ⌊(32 − 5)/1⌋ + 1 = 28 (S001-Q4c: W_in = 32, k = 5)
H.check(calc.conv_out(32, 5) == 28, 'conv_out 32 k5')
-- ⌊(512 + 2 − 4)/2⌋ + 1 = 256 (S001-Q5a)
H.check(calc.conv_out(512, 4, {stride = 2, padding = 1}) == 256, 'conv_out 512 k4 s2 p1')
-- ⌊(7 − 3)/2⌋ + 1 = 3: floor matters
H.check(calc.conv_out(7, 3, {stride = 2}) == 3, 'conv_out 7 k3 s2')
H.check(calc.conv_out(8, 3, {stride = 2}) == 3, 'conv_out 8 k3 s2: ⌊5/2⌋ + 1 = 3')
-- dilation 2: extent 2·(3−1)+1 = 5, ⌊(10 − 5)/1⌋ + 1 = 6
H.check(calc.conv_out(10, 3, {dilation = 2}) == 6, 'conv_out dilation')
H.check(calc.conv_out(17, 3, {padding = 'same'}) == 17, "conv_out 'same'")
H.check(calc.conv_out(17, 3, {padding = 'valid'}) == 15, "conv_out 'valid'")
local hw = calc.conv_out({32, 20}, {3, 5}, {stride = {1, 2}})
H.check(hw[1] == 30 and hw[2] == 8, 'conv_out per-dimension: 30 and ⌊15/2⌋+1 = 8')
local _, expr = calc.conv_out(32, 3, {padding = 1})
H.check(type(expr) == 'string' and expr:find('= 32', 1, true), 'conv_out explains the arithmetic')
H.checkerror('larger than the padded input', calc.conv_out, 2, 5)
H.checkerror('unknown option "strides"', calc.conv_out, 32, 3, {strides = 2})

-- pooling: stride defaults to k
H.check(calc.pool_out(32, 2) == 16, 'pool_out 32 k2')
H.check(calc.pool_out(5, 2) == 2, 'pool_out 5 k2 floor: ⌊3/2⌋+1 = 2')
H.check(calc.pool_out(5, 2, {ceil_mode = true}) == 3, 'pool_out 5 k2 ceil: ⌈3/2⌉+1 = 3')
-- ceil: ⌈4/3⌉+1 = 3, but the third window would start at 6 ≥ 5 + 1, so 2
H.check(calc.pool_out(5, 3, {stride = 3, padding = 1, ceil_mode = true}) == 2, 'ceil_mode rule')
H.check(calc.pool_out(6, 3, {stride = 2, padding = 1, ceil_mode = true}) == 4, 'pool_out 6 k3 s2 p1 ceil')

-- formula vs the real kernels, over a grid of configurations
do
  local bad = 0
  for n = 5, 12 do
    for k = 1, 4 do
      for s = 1, 3 do
        for p = 0, 1 do
          for d = 1, 2 do
            if n + 2 * p >= d * (k - 1) + 1 then
              local y = nb.conv2d(nb.zeros(1, 1, n, n), nb.zeros(1, 1, k, k), nil,
                                  {stride = s, padding = p, dilation = d})
              if y:size(3) ~= calc.conv_out(n, k, {stride = s, padding = p, dilation = d}) then
                bad = bad + 1
              end
            end
            if 2 * p <= k and n + 2 * p >= d * (k - 1) + 1 then
              for _, cm in ipairs{false, true} do
                local y = nb.max_pool2d(nb.zeros(1, 1, n, n), k, {stride = s, padding = p,
                                        dilation = d, ceil_mode = cm})
                if y:size(3) ~= calc.pool_out(n, k, {stride = s, padding = p, dilation = d,
                                                     ceil_mode = cm}) then
                  bad = bad + 1
                end
              end
            end
          end
        end
      end
    end
  end
  H.check(bad == 0, '%d conv/pool output sizes differ from nb.conv2d / nb.max_pool2d', bad)
end

---------------------------------------------------------------------------- receptive field
-- three 3×3 convs: 1 + 2 + 2 + 2 = 7
local rows, f = calc.receptive_field{{k = 3}, {k = 3}, {k = 3}}
H.check(f == 7 and rows.field == 7 and rows[2].field == 5, 'three 3x3 convs: 3, 5, 7')
-- S001-Q4f: conv3 s2, pool2 (s2), conv3 s2, pool2 (s2): 3, 3+1·2 = 5, 5+2·4 = 13, 13+1·8 = 21
rows, f = calc.receptive_field{{k = 3, s = 2}, {k = 2, kind = 'pool'}, {k = 3, s = 2},
                               {k = 2, kind = 'pool'}}
H.check(f == 21 and rows[3].field == 13 and rows[4].jump == 16, 'stride-2 pools: 21, jump 16')
-- the same with stride-1 pools: 3, 5, 5+2·2 = 9, 9+1·4 = 13
rows, f = calc.receptive_field{{k = 3, s = 2}, {k = 2, s = 1, kind = 'pool'}, {k = 3, s = 2},
                               {k = 2, s = 1, kind = 'pool'}}
H.check(f == 13 and rows[3].field == 9, 'stride-1 pools: 3, 5, 9, 13')
-- dilation: 3×3 d=1, then 3×3 d=2: 3 + 2·2 = 7, then 3×3 d=4: 7 + 2·4 = 15
_, f = calc.receptive_field{{k = 3}, {k = 3, d = 2}, {k = 3, d = 4}}
H.check(f == 15, 'dilated stack 3, 7, 15')
H.check(tostring(rows):find('receptive field 13×13', 1, true), 'receptive_field prints a table')

-- measured through autograd on real layers, vs the recurrence
do
  local function net(pool_stride)
    nb.manual_seed(3)
    local w1, w2 = nb.randn(4, 1, 3, 3), nb.randn(4, 4, 3, 3)
    return function(x)
      local y = nb.conv2d(x, w1, nil, {stride = 2}):relu()
      y = nb.max_pool2d(y, 2, {stride = pool_stride})
      y = nb.conv2d(y, w2, nil, {stride = 2}):relu()
      return nb.max_pool2d(y, 2, {stride = pool_stride})
    end
  end
  local m2 = calc.measure_receptive_field(net(2), 64, {batch = 32, seed = 1})
  local m1 = calc.measure_receptive_field(net(1), 48, {batch = 32, seed = 1})
  H.check(m2.field == 21 and not m2.clipped, 'measured RF with stride-2 pools: %d', m2.field)
  H.check(m1.field == 13 and not m1.clipped, 'measured RF with stride-1 pools: %d', m1.field)
  local wd = nb.randn(1, 1, 3, 3)
  local md = calc.measure_receptive_field(function(x)
    return nb.conv2d(x, wd, nil, {dilation = 3})
  end, 21, {batch = 2})
  -- one 3x3 conv with dilation 3: extent 7, but only 9 input pixels in the support
  H.check(md.field == 7 and md.count == 9, 'dilated RF extent 7 with 9 taps (%d, %d)', md.field,
          md.count)
end

---------------------------------------------------------------------------- parameters
-- Conv2d(3→64, k=3): 64·3·9 + 64 = 1,792
H.check(calc.params{kind = 'conv', cin = 3, cout = 64, k = 3} == 1792, 'conv 3->64 k3 params')
-- U-Net second conv as the seed reads it, 64→128: (9·64 + 1)·128 = 73,856; 64→64: 36,928
H.check(calc.params{kind = 'conv', cin = 64, cout = 128, k = 3} == 73856, 'conv 64->128: 73,856')
H.check(calc.params{kind = 'conv', cin = 64, cout = 64, k = 3} == 36928, 'conv 64->64: 36,928')
-- groups: 64→64, k=3, groups=4: 64·16·9 = 9,216 (no bias)
H.check(calc.params{kind = 'conv', cin = 64, cout = 64, k = 3, groups = 4, bias = false} == 9216,
        'grouped conv params')
-- depthwise 4×4 on 3 channels: 48; pointwise 3→64: 192 (S001-Q5b, no bias)
H.check(calc.params{kind = 'depthwise', cin = 3, k = 4, bias = false} == 48, 'depthwise params')
H.check(calc.params{kind = 'pointwise', cin = 3, cout = 64, bias = false} == 192, 'pointwise')
-- separable 32→64, k=3, bias: 32·9 + 32 + 32·64 + 64 = 2,432
H.check(calc.params{kind = 'depthwise_separable', cin = 32, cout = 64, k = 3} == 2432, 'dws')
-- Linear(784→10): 7,850
H.check(calc.params{kind = 'linear', ['in'] = 784, out = 10} == 7850, 'linear params')
H.check(calc.params{kind = 'pool', k = 2} == 0, 'pool has no parameters')
H.check(calc.params{kind = 'bn', c = 64} == 128, 'bn: gamma and beta')
H.checkerror('unknown layer kind', calc.params, {kind = 'convolution'})

---------------------------------------------------------------------------- MACs
-- S001-Q4c: 32×32×3, one 5×5 filter: 28²·5·5·3 = 58,800
local macs, out = calc.macs({kind = 'conv', cin = 3, cout = 1, k = 5}, {3, 32, 32})
H.check(macs == 58800 and out[1] == 1 and out[2] == 28, 'one 5x5 filter: 58,800')
-- pooling multiplies nothing; a 2×2 max pool on 64×32×32 compares 3 times per window:
-- 64·16·16 windows · 3 = 49,152
local pm, pout, extra = calc.macs({kind = 'pool', k = 2}, {64, 32, 32})
H.check(pm == 0 and pout[2] == 16 and extra.comparisons == 49152, 'max pool comparisons')
-- Linear 784→10 on a batch of 4 flattened images (network list): 4·784·10 = 31,360
local lt = calc.macs({{kind = 'flatten'}, {kind = 'linear', ['in'] = 784, out = 10}}, {4, 1, 28, 28})
H.check(lt == 31360, 'flatten + linear MACs on a batch of 4: %s', lt)

-- networks A and B of S001-Q5 (no bias), input 512×512×3
local A = {
  {kind = 'depthwise', cin = 3, k = 4, stride = 2, padding = 1, bias = false},
  {kind = 'pointwise', cin = 3, cout = 64, bias = false},
  {kind = 'depthwise', cin = 64, k = 4, stride = 2, padding = 1, bias = false},
  {kind = 'pointwise', cin = 64, cout = 128, bias = false},
  {kind = 'depthwise', cin = 128, k = 4, stride = 2, padding = 1, bias = false},
  {kind = 'pointwise', cin = 128, cout = 256, bias = false},
}
local B = {
  {kind = 'conv', cin = 3, cout = 64, k = 4, stride = 2, padding = 1, bias = false},
  {kind = 'conv', cin = 64, cout = 128, k = 4, stride = 2, padding = 1, bias = false},
  {kind = 'conv', cin = 128, cout = 256, k = 4, stride = 2, padding = 1, bias = false},
}
-- A: 256²·16·3 + 256²·3·64 + 128²·16·64 + 128²·64·128 + 64²·16·128 + 64²·128·256
--  = 3,145,728 + 12,582,912 + 16,777,216 + 134,217,728 + 8,388,608 + 134,217,728 = 309,329,920
local ta, ra = calc.macs(A, {3, 512, 512})
H.check(ta == 309329920, 'network A MACs %s', calc.fmt(ta))
H.check(ra.params == 44272, 'network A params 48+192+1024+8192+2048+32768 = 44,272')
H.check(ra[4].out_shape[1] == 128 and ra[4].out_shape[2] == 128, 'A layer 4 is 128×128×128')
-- B: 256²·16·3·64 + 128²·16·64·128 + 64²·16·128·256 = 201,326,592 + 2·2,147,483,648
local tb, rb = calc.macs(B, {3, 512, 512})
H.check(tb == 4496293888, 'network B MACs %s', calc.fmt(tb))
H.check(select(1, calc.params(B)) == 658432, 'network B params 3072+131072+524288')
H.check(rb.out_shape[1] == 256 and rb.out_shape[3] == 64, 'B output 256×64×64')
H.checkerror('expects 64 input channels', calc.macs, {{kind = 'conv', cin = 64, cout = 8, k = 3}},
             {3, 8, 8})

-- counted by running the kernel (ones trick) vs the formula
do
  local cfgs = {
    {x = {1, 3, 16, 16}, w = {8, 3, 3, 3}, o = {padding = 1}, spec = {kind = 'conv', cin = 3, cout = 8, k = 3, padding = 1}},
    {x = {2, 6, 15, 15}, w = {6, 1, 4, 4}, o = {stride = 2, padding = 1, groups = 6},
     spec = {kind = 'depthwise', cin = 6, k = 4, stride = 2, padding = 1}},
    {x = {1, 4, 12, 12}, w = {8, 2, 3, 3}, o = {groups = 2, dilation = 2},
     spec = {kind = 'conv', cin = 4, cout = 8, k = 3, groups = 2, dilation = 2}},
  }
  for i, c in ipairs(cfgs) do
    local got = calc.measure_conv_macs(c.x, c.w, c.o)
    local want = calc.macs(c.spec, c.x)
    H.check(got == want, 'measured conv MACs %d: %s vs %s', i, got, want)
  end
end

---------------------------------------------------------------------------- LoRA, MobileNet
-- BERT-large attention: 4·1024²·24 = 100,663,296; LoRA 2·1024·16·4·24 = 3,145,728
local L = calc.lora_params{d_model = 1024, blocks = 24, r = 16, matrices = 4, tasks = 2}
H.check(L.full == 100663296 and L.lora == 3145728 and L.per_matrix == 32768, 'lora counts')
H.check(L.ratio == 32, 'ratio exactly 32')
-- storage: 100,663,296 + 2·3,145,728 = 106,954,752 vs 2·100,663,296 = 201,326,592
H.check(L.storage_lora == 106954752 and L.storage_full == 201326592, 'lora storage')
-- q and v only: 2·32,768·24 = 1,572,864
H.check(calc.lora_params{d_model = 1024, blocks = 24, r = 16, matrices = {'q', 'v'}}.lora == 1572864,
        'lora on q, v')
-- rectangular 1024→4096 with r=8: 8·(1024+4096) = 40,960
H.check(calc.lora_params{d_model = 1024, r = 8, matrices = {{1024, 4096}}}.lora == 40960, 'rect')
-- biases: 4·1024·24 = 98,304 more
H.check(calc.lora_params{d_model = 1024, blocks = 24, r = 16, bias = true}.full ==
        100663296 + 98304, 'lora full with biases')

-- 1/N + 1/Dk²: N = 64, Dk = 4: 1/64 + 1/16 = 0.078125
H.close(calc.mobilenet_ratio(64, 4), 0.078125, 1e-15, 'mobilenet ratio')
-- and equals the per-layer MAC ratio of A's stage 1 to B's stage 1: (3,145,728 + 12,582,912)/201,326,592
H.close(calc.mobilenet_ratio(64, 4), (ra[1].macs + ra[2].macs) / rb[1].macs, 1e-15, 'ratio vs MACs')
-- Dk=3, M=64, N=128, DF=56: 9·64·3136 + 64·128·3136 = 27,496,448
local c0 = calc.mobilenet_cost{Dk = 3, M = 64, N = 128, DF = 56}
local c1, r1 = calc.mobilenet_cost{Dk = 3, M = 64, N = 128, DF = 56, alpha = 0.5}
local c2 = calc.mobilenet_cost{Dk = 3, M = 64, N = 128, DF = 56, alpha = 0.5, rho = 0.5}
H.check(c0 == 27496448, 'mobilenet baseline cost')
-- α = 0.5: 9·32·3136 + 32·64·3136 = 903,168 + 6,422,528 = 7,325,696
H.check(c1 == 7325696, 'alpha 0.5 cost %s', c1)
H.close(r1, 7325696 / 27496448, 1e-15, 'alpha ratio')
-- ρ = 0.5 as well: 28² instead of 56²: 7,325,696 / 4 = 1,831,424
H.check(c2 == 1831424, 'alpha, rho 0.5 cost %s', c2)
-- standard 3×3 conv 64→128 on 56²: 9·64·128·3136 = 231,211,008
H.check(calc.standard_cost{Dk = 3, M = 64, N = 128, DF = 56} == 231211008, 'standard cost')

---------------------------------------------------------------------------- helpers
H.check(calc.fmt(309329920) == '309,329,920' and calc.fmt(-1234) == '-1,234' and
        calc.fmt(12) == '12', 'fmt')
H.check(calc.measure_params({nb.zeros(3, 4), nb.zeros(5)}) == 17, 'measure_params of tensors')
H.check(nb._docs[calc.conv_out] ~= nil and nb._docs[calc.measure_receptive_field] ~= nil, 'docs')

-- with nn modules (when stdlib/nn is present)
local has_nn, nn = pcall(require, 'nn')
if has_nn and nn.Conv2d and nn.Sequential then
  local net = nn.Sequential(nn.Conv2d(3, 16, 3, {padding = 1}), nn.ReLU(),
                            nn.Conv2d(16, 32, 3, {stride = 2, padding = 1, bias = false}),
                            nn.Flatten(), nn.Linear(32 * 8 * 8, 10))
  -- params: 16·27 + 16 = 448; 32·16·9 = 4,608; 2048·10 + 10 = 20,490; total 25,546
  H.check(calc.measure_params(net) == 25546, 'measure_params(nn): %s', calc.measure_params(net))
  -- MACs: 16²·16·27 = 110,592; 8²·32·144 = 294,912; 20,480; total 425,984
  local m = calc.measure_macs(net, {1, 3, 16, 16})
  H.check(m == 425984, 'measure_macs(nn): %s', m)
end

H.report()
