-- # Convolution backward: ∂L/∂W and ∂L/∂X by hand
-- summary: conv forward as a correlation, the weight gradient as a correlation with ∂L/∂Z, the input gradient as a full correlation with the flipped kernel — in 1-D, on a 4×4 example, then with stride 2 and padding
-- time: quick
--
-- A convolution layer in a deep-learning library computes a *cross-correlation*: the kernel
-- slides over the input without being flipped. This lesson derives its two gradients by the
-- chain rule, works them out by hand on small integer examples, and checks every hand-computed
-- number three ways: against autograd through `nb.conv1d` / `nb.conv2d`, against the general
-- functions of the `convgrad` module (the "hand" method written with slicing, `mul` and `sum`),
-- and against finite differences with `check.grad`.
--
-- Notation: $X$ the input, $W$ the kernel, $Z$ the output, $G = \partial L/\partial Z$ the
-- gradient that arrives from the layers above. Indices are 1-based.

local convgrad = require 'convgrad'
nb.manual_seed(0)
local function f64(t) return nb.tensor(t, {dtype = 'f64'}) end

-- %% The forward pass is a correlation (1-D)
-- With a kernel of length $K$ and no padding, $Z_i = \sum_{j=1}^{K} W_j\, X_{i+j-1}$: put the
-- kernel on positions $i..i+K-1$, multiply, add.
--
-- Take $X = (1, 2, -1, 0, 3)$ and $W = (1, 0, -1)$, so $Z$ has $5 - 3 + 1 = 3$ entries:
--
-- - $Z_1 = 1\cdot1 + 2\cdot0 + (-1)(-1) = 2$
-- - $Z_2 = 2\cdot1 + (-1)\cdot0 + 0\cdot(-1) = 2$
-- - $Z_3 = (-1)\cdot1 + 0\cdot0 + 3\cdot(-1) = -4$
local X1 = f64{1, 2, -1, 0, 3}
local W1 = f64{1, 0, -1}
local Z1_hand = f64{2, 2, -4}
check.answer('Z by hand = convgrad.corr1d', convgrad.corr1d(X1, W1), Z1_hand, 0)
check.answer('Z by hand = nb.conv1d', nb.conv1d(X1:view(1, 1, 5), W1:view(1, 1, 3)):view(3),
             Z1_hand, 0)

-- %% The weight gradient is a correlation with ∂L/∂Z (S001-Q2)
-- $W_j$ touches every output: $\partial Z_i/\partial W_j = X_{i+j-1}$. The chain rule sums over
-- the outputs: $\partial L/\partial W_j = \sum_i G_i\, X_{i+j-1}$ — the course's answer, which
-- it writes "$\partial L/\partial Z * X$". Read `*` as a *valid correlation of $X$ with $G$*:
-- $G$ plays the kernel. Read as a *true* convolution (one operand flipped), the same symbol
-- gives different numbers — the last line of this cell shows them.
--
-- Let the layer above send back $G = (1, -1, 2)$:
--
-- - $\partial L/\partial W_1 = 1\cdot1 + (-1)\cdot2 + 2\cdot(-1) = -3$
-- - $\partial L/\partial W_2 = 1\cdot2 + (-1)(-1) + 2\cdot0 = 3$
-- - $\partial L/\partial W_3 = 1\cdot(-1) + (-1)\cdot0 + 2\cdot3 = 5$
local G1 = f64{1, -1, 2}
local dW1_hand = f64{-3, 3, 5}
local _, dW1_auto, dX1_auto = convgrad.autograd1d(X1, W1, G1)
check.answer('∂L/∂W by hand = autograd (nb.conv1d)', dW1_auto, dW1_hand, 0)
check.answer('∂L/∂W by hand = convgrad.weight_grad1d', convgrad.weight_grad1d(X1, G1, 3),
             dW1_hand, 0)
-- the other reading of "*": a true convolution X * G = X correlated with reversed G
local true_conv = convgrad.corr1d(X1, convgrad.flip(G1))
print('true convolution X * G =', true_conv, '(not ∂L/∂W)')
check.answer('true-convolution reading differs from ∂L/∂W (max |diff|)',
             (true_conv - dW1_hand):abs():max():item(), 4, 0)

-- %% The input gradient is a full correlation with the flipped kernel
-- $X_k$ sits under kernel entry $j = k - i + 1$ of output $i$, so
-- $\partial L/\partial X_k = \sum_i G_i\, W_{k-i+1}$ (only terms with $1 \le k-i+1 \le K$).
-- That is a *full* correlation: pad $G$ with $K-1$ zeros on each side and slide the **reversed**
-- kernel $(W_3, W_2, W_1) = (-1, 0, 1)$ over $(0, 0, 1, -1, 2, 0, 0)$ — or, the same thing, a
-- true convolution of $G$ with $W$:
--
-- - $\partial L/\partial X_1 = G_1W_1 = 1$
-- - $\partial L/\partial X_2 = G_1W_2 + G_2W_1 = 0 - 1 = -1$
-- - $\partial L/\partial X_3 = G_1W_3 + G_2W_2 + G_3W_1 = -1 + 0 + 2 = 1$
-- - $\partial L/\partial X_4 = G_2W_3 + G_3W_2 = 1 + 0 = 1$
-- - $\partial L/\partial X_5 = G_3W_3 = -2$
local dX1_hand = f64{1, -1, 1, 1, -2}
check.answer('∂L/∂X by hand = autograd (nb.conv1d)', dX1_auto, dX1_hand, 0)
check.answer('∂L/∂X by hand = convgrad.input_grad1d', convgrad.input_grad1d(G1, W1, 5), dX1_hand, 0)
local padded = nb.pad(G1, {2, 2})
print('padded G:', padded, 'reversed W:', convgrad.flip(W1))
check.answer('slide reversed W over padded G', convgrad.corr1d(padded, convgrad.flip(W1)),
             dX1_hand, 0)

-- %% What the course's worked example says (S002-Q2)
-- The course's 2-D example is a scan of handwriting, and its numbers cannot be read. What can
-- be recovered: one filter, valid padding, stride 1. The header says "kernel 7×7", but every
-- sum has 9 terms and the contribution table needs a **3×3 kernel on a 4×4 input, giving a
-- 2×2 output**. The one legible line does not add up:
local terms = {1, -1, 0, 0, 0, -1, 0, 0, 1}
local s = 0
for _, v in ipairs(terms) do s = s + v end
print(string.format('"1 + (−1) + 0 + 0 + 0 + (−1) + 0 + 0 + 1 = 1": the terms add up to %d', s))
check.answer("the course's legible sum really is 0, not 1", s, 0, 0)
local fits7 = pcall(nb.conv2d, nb.zeros(1, 1, 4, 4), nb.zeros(1, 1, 7, 7))
print('a 7×7 kernel on a 4×4 valid input: ' ..
      (fits7 and 'runs' or 'impossible (nb.conv2d refuses)'))
check.answer('each output of a 3×3 kernel is a sum of 9 products, as in the scan', #terms,
             3 * 3, 0)
-- So the lesson picks its own small integers and computes everything by hand.

-- %% A 4×4 input, a 3×3 kernel: forward
-- $$X = \begin{pmatrix}1&2&0&1\\0&1&3&-1\\2&-1&0&1\\1&0&2&2\end{pmatrix},\quad
-- W = \begin{pmatrix}1&0&-1\\2&1&0\\0&-1&1\end{pmatrix}$$
-- $Z_{ij} = \sum_{u,v} W_{uv} X_{i+u-1,\,j+v-1}$. Row by row of the 3×3 window ⊙ $W$:
--
-- - $Z_{11}$: window rows (1,2,0), (0,1,3), (2,−1,0) → $1 + 1 + 1 = 3$
-- - $Z_{12}$: (2,0,1), (1,3,−1), (−1,0,1) → $(2-1) + (2+3) + 1 = 7$
-- - $Z_{21}$: (0,1,3), (2,−1,0), (1,0,2) → $-3 + (4-1) + 2 = 2$
-- - $Z_{22}$: (1,3,−1), (−1,0,1), (0,2,2) → $(1+1) + (-2) + (-2+2) = 0$
local X = f64{{1, 2, 0, 1}, {0, 1, 3, -1}, {2, -1, 0, 1}, {1, 0, 2, 2}}
local W = f64{{1, 0, -1}, {2, 1, 0}, {0, -1, 1}}
local Z_hand = f64{{3, 7}, {2, 0}}
check.answer('Z by hand = nb.conv2d', nb.conv2d(X:view(1, 1, 4, 4), W:view(1, 1, 3, 3)):view(2, 2),
             Z_hand, 0)
check.answer('Z by hand = convgrad.corr2d', convgrad.corr2d(X, W), Z_hand, 0)

-- %% ∂L/∂W in 2-D
-- Let the gradient from above be $G = \begin{pmatrix}1&-1\\2&1\end{pmatrix}$. As in 1-D,
-- $\partial L/\partial W_{uv} = \sum_{i,j} G_{ij} X_{i+u-1,\,j+v-1}$: slide $G$ (2×2) over $X$
-- as if it were the kernel. For every $(u,v)$ that is
-- $X_{u,v} - X_{u,v+1} + 2X_{u+1,v} + X_{u+1,v+1}$:
--
-- - row 1: $1-2+0+1 = 0$; $\ 2-0+2+3 = 7$; $\ 0-1+6-1 = 4$
-- - row 2: $0-1+4-1 = 2$; $\ 1-3-2+0 = -4$; $\ 3+1+0+1 = 5$
-- - row 3: $2+1+2+0 = 5$; $\ -1-0+0+2 = 1$; $\ 0-1+4+2 = 5$
local G = f64{{1, -1}, {2, 1}}
local dW_hand = f64{{0, 7, 4}, {2, -4, 5}, {5, 1, 5}}
local _, dW_auto, dX_auto = convgrad.autograd2d(X, W, G)
check.answer('∂L/∂W by hand = autograd (nb.conv2d)', dW_auto, dW_hand, 0)
check.answer('∂L/∂W by hand = convgrad.weight_grad2d', convgrad.weight_grad2d(X, G, 3), dW_hand, 0)

-- %% Which outputs each input pixel feeds
-- Before computing $\partial L/\partial X$, list the chain-rule terms: $X_{ab}$ reaches output
-- $(i,j)$ through kernel entry $(a-i+1,\, b-j+1)$. The corners feed one output, the centre
-- four — the course's contribution table, which is the part of its answer that can be read.
local terms2 = convgrad.input_grad_terms({4, 4}, 3)
for a = 1, 4 do
  for b = 1, 4 do
    print(string.format('∂L/∂X%d%d = %s', a, b, convgrad.terms_string(terms2[a][b])))
  end
end
local mult = convgrad.multiplicity2d({4, 4}, 3)
check.answer("multiplicity map = the course's table", mult,
             f64{{1, 2, 2, 1}, {2, 4, 4, 2}, {2, 4, 4, 2}, {1, 2, 2, 1}}, 0)

-- %% ∂L/∂X in 2-D: full correlation with rot180(W)
-- Summing those terms is the same as padding $G$ by $k-1 = 2$ zeros on every side (6×6) and
-- sliding the kernel **rotated by 180°** over it. With $G_{11}=1, G_{12}=-1, G_{21}=2, G_{22}=1$:
-- $\partial L/\partial X_{ab} = W_{a,b} - W_{a,b-1} + 2W_{a-1,b} + W_{a-1,b-1}$ (a $W$ index
-- outside 1..3 is 0):
--
-- - row 1: $1$; $\ 0-1 = -1$; $\ -1-0 = -1$; $\ 0-(-1) = 1$
-- - row 2: $2+2 = 4$; $\ 1-2+0+1 = 0$; $\ 0-1-2+0 = -3$; $\ -0+(-1) = -1$
-- - row 3: $0+4 = 4$; $\ -1-0+2+2 = 3$; $\ 1+1+0+1 = 3$; $\ -1+0 = -1$
-- - row 4: $0$; $\ -2+0 = -2$; $\ 2-1 = 1$; $\ 1$
local dX_hand = f64{{1, -1, -1, 1}, {4, 0, -3, -1}, {4, 3, 3, -1}, {0, -2, 1, 1}}
check.answer('∂L/∂X by hand = autograd (nb.conv2d)', dX_auto, dX_hand, 0)
check.answer('∂L/∂X by hand = convgrad.input_grad2d', convgrad.input_grad2d(G, W, {4, 4}),
             dX_hand, 0)
print('rot180(W) =', convgrad.flip(W))
check.answer('= pad(G, 2) correlated with rot180(W)',
             convgrad.corr2d(nb.pad(G, {2, 2, 2, 2}), convgrad.flip(W)), dX_hand, 0)

-- %% Finite differences, and forgetting the flip
-- `convgrad.hand_conv2d` is a convolution whose backward *is* the hand formulas;
-- `check.grad` compares it with central finite differences of the forward pass, at random
-- $X, W$. Then the same check on a common mistake: a full correlation with $W$ itself, not
-- rotated. Its forward is right, its $\partial L/\partial X$ is wrong, and the check says so.
local Xr, Wr = nb.randn(4, 4, {dtype = 'f64'}), nb.randn(3, 3, {dtype = 'f64'})
local ok, rep = check.grad(function(x, w) return convgrad.hand_conv2d(x, w) end, {Xr, Wr})
print(rep.text)
check.answer('hand backward vs finite differences: worst abs error', rep.abs, 0, 1e-6)
local NoFlip = nb.Function{
  forward = function(ctx, x, w)
    ctx:save_for_backward(x, w)
    return nb.no_grad(function() return convgrad.corr2d(x, w) end)
  end,
  backward = function(ctx, gz)
    local x, w = ctx.saved_tensors[1], ctx.saved_tensors[2]
    local gx = convgrad.corr2d(nb.pad(gz, {2, 2, 2, 2}), w)        -- no rot180: the mistake
    return gx, convgrad.weight_grad2d(x, gz, 3)
  end,
}
local ok_bad, rep_bad = check.grad(function(x, w) return NoFlip(x, w) end, {Xr, Wr})
print(rep_bad.text)
check.answer('without the flip check.grad fails (1 = failed)', ok_bad and 0 or 1, 1, 0)

-- %% Stride 2 and padding 1: forward
-- Pad $X$ with one ring of zeros (6×6) and move the window two steps at a time:
-- $\lfloor (4 + 2 - 3)/2 \rfloor + 1 = 2$ outputs per side, the windows starting at padded
-- rows/columns 1 and 3. $Z_{ij} = \sum_{u,v} W_{uv}\, X^{p}_{2(i-1)+u,\, 2(j-1)+v}$:
--
-- - $Z_{11}$: padded rows (0,0,0), (0,1,2), (0,0,1) → $0 + 1 + 1 = 2$
-- - $Z_{12}$: (0,0,0), (2,0,1), (1,3,−1) → $0 + 4 + (-3-1) = 0$
-- - $Z_{21}$: (0,0,1), (0,2,−1), (0,1,0) → $-1 + 2 - 1 = 0$
-- - $Z_{22}$: (1,3,−1), (−1,0,1), (0,2,2) → $2 - 2 + 0 = 0$
local o2 = {stride = 2, padding = 1}
local Z2_hand = f64{{2, 0}, {0, 0}}
local Z2_auto, dW2_auto, dX2_auto = convgrad.autograd2d(X, W, G, o2)
check.answer('strided Z by hand = nb.conv2d', Z2_auto, Z2_hand, 0)
check.answer('strided Z by hand = convgrad.corr2d', convgrad.corr2d(X, W, o2), Z2_hand, 0)

-- %% Stride 2 and padding 1: ∂L/∂W
-- Same $G$. Output $(i,j)$ saw $X^p$ from row $2(i-1)+1$, so with 0-based padded indices
-- $\partial L/\partial W_{uv} = X^p_{u-1,v-1} - X^p_{u-1,v+1} + 2X^p_{u+1,v-1} + X^p_{u+1,v+1}$:
-- the correlation of $X^p$ with $G$ **dilated by the stride** (a zero between its entries,
-- $\begin{pmatrix}1&0&-1\\0&0&0\\2&0&1\end{pmatrix}$).
--
-- - row 1: $0-0+0+1 = 1$; $\ 0-0+0+3 = 3$; $\ 0-0+2-1 = 1$
-- - row 2: $0-2+0-1 = -3$; $\ 1-0+4+0 = 5$; $\ 2-1-2+1 = 0$
-- - row 3: $0-1+0+0 = -1$; $\ 0-3+2+2 = 1$; $\ 1+1+0+2 = 4$
local dW2_hand = f64{{1, 3, 1}, {-3, 5, 0}, {-1, 1, 4}}
print('G dilated by 2:', convgrad.dilate(G, 2))
check.answer('strided ∂L/∂W by hand = autograd', dW2_auto, dW2_hand, 0)
check.answer('strided ∂L/∂W by hand = convgrad.weight_grad2d',
             convgrad.weight_grad2d(X, G, 3, o2), dW2_hand, 0)

-- %% Stride 2 and padding 1: ∂L/∂X
-- Dilate $G$ by the stride, pad by $k-1$, correlate with rot180($W$), then **crop the padding**
-- (a padded zero has a gradient too, but it is not an input). Term by term, $X_{ab}$ meets
-- output row $i=1$ through kernel row $a+1$ (for $a \le 2$) and $i=2$ through row $a-1$
-- (for $a \ge 2$), the same for columns:
--
-- - row 1: $G_{11}W_{22} = 1$; $\ G_{11}W_{23}+G_{12}W_{21} = -2$; $\ G_{12}W_{22} = -1$;
--   $\ G_{12}W_{23} = 0$
-- - row 2: $G_{11}W_{32}+G_{21}W_{12} = -1$; $\ (1 - 2) + (0 + 1) = 0$;
--   $\ G_{12}W_{32}+G_{22}W_{12} = 1$; $\ G_{12}W_{33}+G_{22}W_{13} = -2$
-- - row 3: $G_{21}W_{22} = 2$; $\ G_{21}W_{23}+G_{22}W_{21} = 2$; $\ G_{22}W_{22} = 1$;
--   $\ G_{22}W_{23} = 0$
-- - row 4: $G_{21}W_{32} = -2$; $\ G_{21}W_{33}+G_{22}W_{31} = 2$; $\ G_{22}W_{32} = -1$;
--   $\ G_{22}W_{33} = 1$
local dX2_hand = f64{{1, -2, -1, 0}, {-1, 0, 1, -2}, {2, 2, 1, 0}, {-2, 2, -1, 1}}
check.answer('strided ∂L/∂X by hand = autograd', dX2_auto, dX2_hand, 0)
check.answer('strided ∂L/∂X by hand = convgrad.input_grad2d',
             convgrad.input_grad2d(G, W, {4, 4}, o2), dX2_hand, 0)
local terms_s = convgrad.input_grad_terms({4, 4}, 3, o2)
print('∂L/∂X22 = ' .. convgrad.terms_string(terms_s[2][2]))

-- %% Strided gradients against finite differences
-- The hand formulas with stride and padding, checked by `check.grad` at random inputs; and
-- a stride that skips input: with stride 2 and no padding only one 3×3 window fits in 4×4,
-- so the last row and column of $X$ feed no output and get zero gradient.
local worst = 0
for _, o in ipairs{o2, {stride = 2}, {stride = 1, padding = 1},
                   {stride = {2, 1}, padding = {1, 0}}} do
  local ok_o, rep_o = check.grad(function(x, w) return convgrad.hand_conv2d(x, w, o) end,
                                 {Xr, Wr})
  print(rep_o.text)
  worst = math.max(worst, rep_o.abs)
end
check.answer('strided/padded hand backward vs finite differences: worst abs error', worst, 0, 1e-6)
local ok_ref, rep_ref = check.grad(function(x, w)
  return nb.conv2d(x:view(1, 1, 4, 4), w:view(1, 1, 3, 3), nil, o2)
end, {Xr, Wr})
check.answer('nb.conv2d autograd (stride 2, padding 1) vs finite differences', rep_ref.abs, 0, 1e-6)
local m2 = convgrad.multiplicity2d({4, 4}, 3, {stride = 2})
print('multiplicity, stride 2, no padding:', m2)
local _, _, dX_skip = convgrad.autograd2d(X, W, G:narrow(1, 1, 1):narrow(2, 1, 1), {stride = 2})
check.answer('row 4 and column 4 get zero gradient (autograd)',
             dX_skip[4]:abs():sum() + dX_skip[{{}, 4}]:abs():sum(), 0, 0)

-- %% ∂L/∂X is the next layer's G
-- $\partial L/\partial X$ is not a parameter gradient: it is the $G$ that the layer *below*
-- receives (S002-Q2's last question). Stack two convolutions, $X \to Z_1 \to Z_2$, and run the
-- hand formulas top-down: layer 2's input gradient becomes layer 1's $G$, from which layer 1's
-- weight gradient follows. Autograd through both `nb.conv2d` calls must agree.
local X6 = nb.randn(6, 6, {dtype = 'f64'})
local K1, K2 = nb.randn(3, 3, {dtype = 'f64'}), nb.randn(2, 2, {dtype = 'f64'})
local Z1 = convgrad.corr2d(X6, K1, {padding = 1})              -- 6×6
local Z2 = convgrad.corr2d(Z1, K2, {stride = 2})                -- 3×3
local Gtop = nb.randn(3, 3, {dtype = 'f64'})
local Gmid = convgrad.input_grad2d(Gtop, K2, Z1, {stride = 2})      -- ∂L/∂Z1, layer 1's G
local dK1_hand = convgrad.weight_grad2d(X6, Gmid, 3, {padding = 1})
local k1 = K1:clone():requires_grad_()
local z2 = nb.conv2d(nb.conv2d(X6:view(1, 1, 6, 6), k1:view(1, 1, 3, 3), nil, {padding = 1}),
                     K2:view(1, 1, 2, 2), nil, {stride = 2})
check.answer('two layers: hand forward = nb.conv2d', Z2, z2:detach():view(3, 3), 1e-12)
;(z2:view(3, 3) * Gtop):sum():backward()
check.answer('two layers: hand chain = autograd for ∂L/∂K1', dK1_hand, k1.grad, 1e-12)
