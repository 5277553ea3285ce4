-- # Initialisation, depth and residual connections
-- summary: vanishing gradients in deep sigmoid/tanh MLPs, constant initialisation never breaks symmetry, Xavier's variance (the course's 1/(n_in+n_out) vs the correct 2/(n_in+n_out)) and He's 2/n_in over 50 layers, residual vs plain stacks and ∂L/∂x = ∂L/∂y(∂F/∂x + 1)
-- time: minutes
--
-- Why are the first layers of a deep network hard to train, and what do initialisation rules
-- and residual connections do about it? Every claim of the course's answer (seed 002, question
-- 1) is measured here on real stacks of `nn.Linear` layers built by `initexp.stack`:
-- gradient norms layer by layer, the spread between the units of a layer, the second moment of
-- the pre-activations across 50 layers, and the gradient through a residual block.
--
-- Notation: block $l$ computes $z_l = W_l h_{l-1} + b_l$ and $h_l = \phi(z_l)$ (plain) or
-- $h_l = h_{l-1} + \phi(z_l)$ (residual); $n$ is the width.

local initexp = require 'initexp'
nb.manual_seed(0)
local quick = lesson.quick
local function log10(v) return math.log(v, 10) end
local function map(t, f) local o = {} for i, v in ipairs(t) do o[i] = f(v) end return o end

-- %% A deep sigmoid MLP: gradients vanish (S002-Q1a)
-- The course: by the chain rule the gradient of an early layer is a product of one factor per
-- layer above it, and with sigmoid or tanh those factors are small, so the early layers'
-- gradients vanish. Measure it: 20 blocks of width 64 on a synthetic 10-class problem, Xavier
-- initialisation for sigmoid and tanh (what the rule was designed for), He for ReLU. The plot
-- shows $\log_{10} \|\partial L/\partial h_l\|$, the gradient that reaches block $l$.
local depth, width = 20, 64
local Xc = nb.randn(256, 32)
local Yc = Xc:matmul(nb.randn(32, 10)):argmax(2)          -- labels from a random linear teacher
local ce = function(out) return nn.F.cross_entropy(out, Yc) end
local configs = {{'sigmoid', 'xavier'}, {'tanh', 'xavier'}, {'relu', 'he'}}
local deep = {}
for _, c in ipairs(configs) do
  local s = initexp.stack{depth = depth, width = width, in_features = 32, out_features = 10,
                          act = c[1], init = c[2]}
  deep[c[1]] = {stack = s, init = c[2], r = initexp.grad_norms(s, Xc, ce)}
end
local series = {}
for _, c in ipairs(configs) do
  local h = deep[c[1]].r.hidden
  series[c[1] .. ' (' .. c[2] .. ')'] = map(h, log10)
  print(string.format('%-8s ‖∂L/∂h‖ at block 1: %.3g   block 10: %.3g   block 20: %.3g',
                      c[1], h[1], h[10], h[20]))
end
plot.line(series, {title = 'gradient reaching each block', xlabel = 'block l',
                   ylabel = 'log10 ‖∂L/∂h_l‖'})
local sig = deep.sigmoid.r.hidden
print(string.format('sigmoid: block 1 gets %.2g of the gradient at block 20', sig[1] / sig[20]))
check.answer('sigmoid: ‖∂L/∂h_1‖ / ‖∂L/∂h_20‖ below 1e-6', sig[1] / sig[20] < 1e-6 and 1 or 0, 1, 0)

-- %% How fast, predicted from the forward pass
-- Going down one block multiplies the gradient by $W_l^\top \mathrm{diag}(\phi'(z_l))$. With
-- independent weights of variance $\sigma_w^2$ this scales its norm by about
-- $\sqrt{n\,\sigma_w^2\, E[\phi'(z_l)^2]}$. Xavier gives $n\sigma_w^2 = 1$ here, and
-- $\sigma'(z) = \sigma(z)(1-\sigma(z)) \le 1/4$, so a sigmoid layer keeps **at most a quarter**
-- of the gradient; $\tanh'(0) = 1$ loses little; ReLU with He keeps it. The prediction uses
-- only the pre-activations $z_l$ of the forward pass and $\phi'$ in closed form, not autograd.
for _, c in ipairs(configs) do
  local d = deep[c[1]]
  local var = initexp.init_var(d.init, width, width)
  local log_pred, log_meas = 0, 0
  for l = 2, depth do
    local dphi = initexp.act_deriv(c[1], d.r.pre[l])
    log_pred = log_pred + 0.5 * math.log(width * var * (dphi * dphi):mean():item())
    log_meas = log_meas + math.log(d.r.hidden[l - 1] / d.r.hidden[l])
  end
  local pred, meas = math.exp(log_pred / (depth - 1)), math.exp(log_meas / (depth - 1))
  print(string.format('%-8s factor per block: measured %.4f, predicted %.4f', c[1], meas, pred))
  check.answer(c[1] .. ': measured factor per block vs prediction (rel. error)',
               math.abs(meas / pred - 1), 0, 0.05)
  deep[c[1]].factor = meas
end
check.answer('sigmoid keeps at most 1/4 per block', deep.sigmoid.factor <= 0.25 and 1 or 0, 1, 0)

-- %% Early layers do not learn
-- A gradient of $10^{-12}$ means an update of $10^{-12}$ times the learning rate. Train the
-- sigmoid stack with SGD and compare how far each layer's weights moved,
-- $\|W_l^{\rm end} - W_l^{\rm start}\| / \|W_l^{\rm start}\|$. In float32 an update below
-- half an ulp of the weight is rounded away entirely.
local steps = quick and 30 or 100
local s_sig = deep.sigmoid.stack
local w0 = {}
for l, lin in ipairs(s_sig.linears) do w0[l] = lin.weight:detach():clone() end
local losses = initexp.sgd(initexp.parameters(s_sig),
                           function() return ce((initexp.forward(s_sig, Xc))) end,
                           {steps = steps, lr = 0.5})
local moved = {}
for l, lin in ipairs(s_sig.linears) do
  moved[l] = ((lin.weight:detach() - w0[l]):norm() / w0[l]:norm()):item()
end
print(string.format('loss %.4f → %.4f after %d steps', losses[1], losses[#losses], steps))
for _, l in ipairs{1, 5, 10, 15, 20} do
  print(string.format('block %2d: relative change %.3g', l, moved[l]))
end
check.answer('block 1 moved less than 1e-6 of block 20', moved[1] / moved[20] < 1e-6 and 1 or 0,
             1, 0)

-- %% Constant initialisation: symmetry is never broken (S002-Q1b)
-- The course: if every weight starts at the same constant, the units of a layer compute the
-- same output and receive the same gradient, so they stay copies of each other forever.
-- Measure it after training: two hidden layers of 32 tanh units, every weight and bias 0.3,
-- plain SGD. `initexp.unit_gap` is the largest difference between unit 1 and any other unit
-- of a layer (incoming weights, bias, outgoing weights). A random initialisation is the control.
local sym_steps = quick and 300 or 2000
local Xs = nb.randn(256, 8)
local Ys = Xs:matmul(nb.randn(8, 3)):argmax(2)
local function train_small(opts)
  local s = initexp.stack{depth = 2, width = 32, in_features = 8, out_features = 3, act = 'tanh',
                          init = 'xavier', constant = opts.constant}
  local L = initexp.sgd(initexp.parameters(s),
                        function() return nn.F.cross_entropy((initexp.forward(s, Xs)), Ys) end,
                        {steps = sym_steps, lr = 0.2})
  return s, L
end
local s_const, L_const = train_small{constant = 0.3}
local s_rand, L_rand = train_small{}
local gap_c, gap_r = initexp.unit_gaps(s_const), initexp.unit_gaps(s_rand)
print(string.format('after %d steps  constant init: unit gaps %g, %g; loss %.4f', sym_steps,
                    gap_c[1], gap_c[2], L_const[#L_const]))
print(string.format('                random init:   unit gaps %.3g, %.3g; loss %.4f',
                    gap_r[1], gap_r[2], L_rand[#L_rand]))
check.answer('constant init: max difference between units, layer 1', gap_c[1], 0, 0)
check.answer('constant init: max difference between units, layer 2', gap_c[2], 0, 0)
check.answer('random init: the units differ (gap > 0.1)', gap_r[1] > 0.1 and 1 or 0, 1, 0)
-- 32 identical units compute what one unit computes: the constant net cannot fit as well
check.answer('constant-init loss stays above the random-init loss',
             L_const[#L_const] > 10 * L_rand[#L_rand] and 1 or 0, 1, 0)

-- %% The same for convolution filters
-- The course's question is about conv filters: four 3×3 filters all set to 0.1, a constant
-- linear head, SGD on random 8×8 images. The four filters are still equal at the end.
local conv = nn.Conv2d(1, 4, 3)
nn.init.constant_(conv.weight, 0.1); nn.init.constant_(conv.bias, 0.1)
local head = nn.Linear(4 * 6 * 6, 2)
nn.init.constant_(head.weight, 0.1); nn.init.zeros_(head.bias)
local imgs, labs = nb.randn(64, 1, 8, 8), nb.randint(1, 2, {64})
local cps = conv:parameters()
for _, p in ipairs(head:parameters()) do cps[#cps + 1] = p end
local Lc = initexp.sgd(cps, function()
  return nn.F.cross_entropy(head(conv(imgs):relu():flatten(2)), labs)
end, {steps = quick and 100 or 500, lr = 0.1})
local filt = conv.weight:detach():view(4, 9)
print(string.format('loss %.4f → %.4f; filter 1 now', Lc[1], Lc[#Lc]), filt[1])
check.answer('largest difference between the 4 filters',
             (filt - filt[1]:unsqueeze(1)):abs():max():item(),
             0, 0)

-- %% Xavier's variance: the course's 1/(n_in + n_out)
-- With zero-mean independent weights, $E[z_l^2] = n_{in}\,\sigma_w^2\, E[h_{l-1}^2]$. Near
-- zero tanh is linear, so Glorot & Bengio ask $n_{in}\sigma_w^2 = 1$ (forward) and
-- $n_{out}\sigma_w^2 = 1$ (backward) and compromise on $\sigma_w^2 = 2/(n_{in}+n_{out})$.
-- The course writes **$1/(n_{in}+n_{out})$**. With equal widths that is $1/(2n)$: every layer
-- halves the second moment, $0.5^{50} \approx 10^{-15}$ after 50 layers.
--
-- Measured on 50 linear layers of width 512 (256 in quick mode), 256 inputs $x \sim N(0, I)$:
-- $q_l = E[z_l^2]$, and backward $E[(\partial L/\partial h_l)^2]$ for a random unit-variance
-- gradient at the top. The figure to check is the factor per layer,
-- $(q_{50}/q_1)^{1/49}$, against the closed form $n\,\sigma_w^2\,c_\phi$ ($c_\phi = 1$ linear).
local vwidth = quick and 256 or 512
local Xv = nb.randn(256, vwidth)
local profiles = {}
local function profile(name, act, init, c_phi)
  local s = initexp.stack{depth = 50, width = vwidth, act = act, init = init, bias = false}
  local p = initexp.variance_profile(s, Xv)
  local f = initexp.per_layer_factor(p.q)
  local fb = initexp.per_layer_factor(p.g, 1, 50) ^ -1          -- going down the stack
  local theory = vwidth * initexp.init_var(init, vwidth, vwidth) * c_phi
  profiles[name] = p
  print(string.format('%-26s q_1 %.3g  q_5 %.3g  q_20 %.3g  q_50 %.3g | per layer: forward ' ..
                      '%.4f, backward %.4f, theory %.4f', name, p.q[1], p.q[5], p.q[20], p.q[50],
                      f, fb, theory))
  check.answer(name .. ': forward factor per layer', f, theory, 0.05)
  check.answer(name .. ': backward factor per layer', fb, theory, 0.05)
  return p
end
profile("linear, course's 1/(n_in+n_out)", 'linear', 'xavier_seed', 1)
profile('linear, Xavier 2/(n_in+n_out)', 'linear', 'xavier', 1)

-- %% He: ReLU halves the second moment
-- For $z$ symmetric about 0, $E[\mathrm{ReLU}(z)^2] = E[z^2]/2$: the course's "ReLU removes
-- about 50% of the variance" (it is the second moment, not the variance, that halves). Monte
-- Carlo first, judged by its standard error ($|z| \le 4$); then 50 ReLU layers, where He's
-- $2/n_{in}$ gives $c_\phi\, n\sigma_w^2 = \tfrac12 \cdot 2 = 1$ and Xavier gives $\tfrac12$.
local ok_mc, rep_mc = check.mc(function() return nb.randn(1000):relu():pow(2):mean() end, 0.5,
                               {n = quick and 200 or 1000, z = 4})
print(rep_mc.text)
check.answer('E[ReLU(z)²] for z ~ N(0,1): |z-score| ≤ 4', rep_mc.z <= 4 and 1 or 0, 1, 0)
profile('ReLU, He 2/n_in', 'relu', 'he', 0.5)
profile('ReLU, Xavier 2/(n_in+n_out)', 'relu', 'xavier', 0.5)

-- %% 50 layers in one picture
-- $\log_{10} E[z_l^2]$ per layer: the course's Xavier and Xavier with ReLU fall on the same
-- line of slope $\log_{10} 0.5$; the correct Xavier (linear) and He (ReLU) stay flat. A tanh
-- stack with the correct Xavier decays slowly (tanh is contracting away from 0), which is why
-- the flat curve needs the activation to be near-linear or compensated (gain 5/3 in PyTorch).
local s_tanh = initexp.stack{depth = 50, width = vwidth, act = 'tanh', init = 'xavier',
                             bias = false}
profiles['tanh, Xavier 2/(n_in+n_out)'] = initexp.variance_profile(s_tanh, Xv, {backward = false})
local curves = {}
for name, p in pairs(profiles) do curves[name] = map(p.q, log10) end
plot.line(curves, {title = 'second moment of the pre-activations across 50 layers',
                   xlabel = 'layer l', ylabel = 'log10 E[z_l²]', height = 18})
local seed_q50 = profiles["linear, course's 1/(n_in+n_out)"].q[50]
print(string.format("course's rule after 50 layers: E[z²] = %.3g (0.5^49 · q_1 = %.3g)", seed_q50,
                    0.5 ^ 49 * profiles["linear, course's 1/(n_in+n_out)"].q[1]))

-- %% Residual vs plain: 50 blocks
-- The course: with $y = F(x) + x$ the gradient gets a path around $F$, so it reaches the first
-- layers. Two stacks of 50 tanh blocks of width 64 with `nn.Linear`'s default initialisation
-- ($U(\pm 1/\sqrt{n})$, $\sigma_w^2 = 1/(3n)$): plain $h_l = \tanh(W_l h_{l-1} + b_l)$ and
-- residual $h_l = h_{l-1} + \tanh(W_l h_{l-1} + b_l)$, same weights, a linear head, cross
-- entropy. The plot is $\log_{10} \|\partial L/\partial W_l\|$ per block.
local Xr = nb.randn(256, 64)
local Yr = Xr:matmul(nb.randn(64, 10)):argmax(2)
local ce_r = function(out) return nn.F.cross_entropy(out, Yr) end
local plain = initexp.stack{depth = 50, width = 64, out_features = 10, act = 'tanh',
                            init = 'default'}
local resid = initexp.stack{depth = 50, width = 64, out_features = 10, act = 'tanh',
                            init = 'default', residual = true}
for l, lin in ipairs(plain.linears) do           -- the same weights in both stacks
  nb.no_grad(function()
    resid.linears[l].weight:copy_(lin.weight); resid.linears[l].bias:copy_(lin.bias)
  end)
end
nb.no_grad(function()
  resid.head.weight:copy_(plain.head.weight); resid.head.bias:copy_(plain.head.bias)
end)
print(initexp.to_module(resid)[1])
local gp, gr = initexp.grad_norms(plain, Xr, ce_r), initexp.grad_norms(resid, Xr, ce_r)
plot.line({plain = map(gp.weight, log10), residual = map(gr.weight, log10)},
          {title = 'weight-gradient norm per block', xlabel = 'block l',
           ylabel = 'log10 ‖∂L/∂W_l‖'})
print(string.format('first block: plain %.3g, residual %.3g; last block: plain %.3g, residual %.3g',
                    gp.weight[1], gr.weight[1], gp.weight[50], gr.weight[50]))
check.answer('plain stack: ‖∂L/∂W_1‖ below 1e-6', gp.weight[1] < 1e-6 and 1 or 0, 1, 0)
check.answer('residual stack: ‖∂L/∂W_1‖ above 1e-2', gr.weight[1] > 1e-2 and 1 or 0, 1, 0)

-- %% ∂L/∂x = ∂L/∂y (∂F/∂x + 1), checked (S002-Q1c)
-- For one block $y = F(x) + x$ with $x \in \mathbb{R}^d$, $\partial y/\partial x = J_F + I$, so
-- $\partial L/\partial x = (J_F + I)^\top g$ with $g = \partial L/\partial y$ — the course's
-- formula, where "1" is the identity matrix and the product is a row vector times a matrix.
-- Take $F(x) = \tanh(Wx + b)$, $d = 6$, $L = \tfrac12\|y - t\|^2$ (so $g = y - t$). $J_F$
-- comes from `nb.func.jacobian`, and is itself checked against the closed form
-- $\mathrm{diag}(1 - \tanh^2(Wx+b))\,W$.
local d = 6
local Wb, bb = nb.randn(d, d, {dtype = "f64"}) * 0.5, nb.randn(d, {dtype = "f64"}) * 0.5
local xb, tb = nb.randn(d, {dtype = 'f64'}), nb.randn(d, {dtype = 'f64'})
local F = function(v) return (Wb:matmul(v) + bb):tanh() end
local loss_b = function(y) return ((y - tb) ^ 2):sum() * 0.5 end
local res = initexp.residual_grad(F, xb, loss_b)
local th = (Wb:matmul(xb) + bb):tanh()
local J_closed = (1 - th * th):unsqueeze(2) * Wb
check.answer('J_F from nb.func.jacobian = diag(1 − tanh²) W', res.jacobian, J_closed, 1e-12)
check.answer('g = ∂L/∂y = y − t', res.g, F(xb) + xb - tb, 1e-12)
check.answer('autograd ∂L/∂x = (J_F + I)ᵀ g', res.autograd, res.formula, 1e-12)
local wrong = (res.jacobian + 1):t():matmul(res.g)
print(string.format('reading "1" as a matrix of ones instead of I is off by %.3g',
                    (wrong - res.autograd):abs():max():item()))
local ok_g, rep_g = check.grad(function(v) return F(v) + v end, {xb})
check.answer('residual block: autograd vs finite differences (worst abs error)', rep_g.abs, 0, 1e-6)

-- %% Why the + I keeps the gradient alive
-- Through 50 blocks the gradient is multiplied by $\prod_l (J_l + I)^\top$ instead of
-- $\prod_l J_l^\top$. Expanding the product, one term is $I$ itself: the top gradient reaches
-- $h_0$ unchanged, plus corrections. In the plain stack each $J_l$ has norm factor
-- $\approx \sqrt{n\sigma_w^2 E[\tanh'^2]} < 1$, and 50 of them multiply to almost nothing.
-- Measured on the two stacks above, the gradient reaching block 1 relative to the gradient at
-- block 50:
print(string.format('‖∂L/∂h_1‖/‖∂L/∂h_50‖: plain %.3g, residual %.3g',
                    gp.hidden[1] / gp.hidden[50], gr.hidden[1] / gr.hidden[50]))
check.answer('residual: the gradient does not shrink going down (ratio ≥ 1)',
             gr.hidden[1] / gr.hidden[50] >= 1 and 1 or 0, 1, 0)
