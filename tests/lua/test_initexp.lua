-- initexp: initialisation rules, stacks, variance profiles, gradient norms, unit gaps, the
-- residual gradient rule.
local nb = require 'nabla'
local H = require 'harness'
local nn = require 'nn'
local ie = require 'initexp'

nb.manual_seed(11)

-- rules (closed forms)
H.close(ie.init_var('xavier_seed', 300, 100), 1 / 400, 1e-15, 'course Xavier')
H.close(ie.init_var('xavier', 300, 100), 0.005, 1e-15, 'Glorot 2/(in+out)')
H.close(ie.init_var('he', 300, 100), 2 / 300, 1e-15, 'He 2/n_in')
H.close(ie.init_var('lecun', 300, 100), 1 / 300, 1e-15, 'LeCun')
H.close(ie.init_var('torch', 300, 100), 1 / 900, 1e-15, 'nn.Linear default U(±1/√n)')
H.close(ie.init_var(0.25, 3, 4), 0.25, 0, 'a number is the variance')
H.close(ie.init_var(function(i, o) return i * o end, 3, 4), 12, 0, 'a function')

-- init_ draws the variance asked for (normal and uniform); 65536 entries, rel. s.e. ≈ 0.6%
for _, dist in ipairs{'normal', 'uniform'} do
  local w = nb.empty(256, 256)
  ie.init_(w, 'he', {dist = dist})
  H.close(w:var():item(), 2 / 256, 0.03 * 2 / 256, 'init_ variance ' .. dist)
  H.close(w:mean():item(), 0, 0.003, 'init_ mean ' .. dist)
end
local wu = ie.init_(nb.empty(50, 30), 'xavier', {dist = 'uniform'})
H.check(wu:abs():max():item() <= math.sqrt(6 / 80) + 1e-6, 'uniform bound √(6/(in+out))')

-- activations and closed-form derivatives vs autograd
local z = nb.tensor({-2, -0.5, 0.3, 1.7}, {dtype = 'f64'})
for _, a in ipairs{'linear', 'tanh', 'sigmoid', 'relu'} do
  local zl = z:clone():requires_grad_()
  ie.act(a, zl):sum():backward()
  H.close(ie.act_deriv(a, z), zl.grad, 1e-12, "act_deriv " .. a)
end

-- stacks: shapes, the module form computes the same function
local s = ie.stack{depth = 3, width = 5, in_features = 4, out_features = 2, act = 'tanh',
                   init = 'he', dtype = 'f64'}
H.check(#s.linears == 3 and s.head ~= nil, 'stack layers')
H.check(#ie.parameters(s) == 8, '4 linears × (weight, bias)')
H.check(s.linears[1].weight.shape[2] == 4 and s.linears[2].weight.shape[2] == 5, 'in_features')
H.close(s.linears[1].bias, nb.zeros(5), 0, 'biases start at 0')
local x = nb.randn(7, 4, {dtype = 'f64'})
local out, pre, post = ie.forward(s, x)
H.check(out.shape[1] == 7 and out.shape[2] == 2 and #pre == 3 and #post == 3, 'forward lists')
H.close(post[2], pre[2]:tanh(), 1e-15, 'h = φ(z) in a plain stack')
H.close(ie.to_module(s)(x), out, 1e-12, 'to_module = forward (plain)')
local r = ie.stack{depth = 4, width = 5, act = 'relu', residual = true, dtype = 'f64'}
local xr = nb.randn(3, 5, {dtype = 'f64'})
local outr, prer, postr = ie.forward(r, xr)
H.close(postr[1], xr + prer[1]:relu(), 1e-15, 'h = h + φ(z) in a residual stack')
H.close(ie.to_module(r)(xr), outr, 1e-12, 'to_module = forward (residual)')
local c = ie.stack{depth = 2, width = 3, constant = 0.3}
H.close(c.linears[2].weight, nb.full({3, 3}, 0.3), 1e-7, 'constant weights')
H.close(c.linears[2].bias, nb.full({3}, 0.3), 1e-7, 'constant biases')
local d = ie.stack{depth = 1, width = 4, init = 'default'}
H.check(d.linears[1].bias:abs():sum():item() > 0, "init='default' keeps nn.Linear's init")

-- variance profile: linear layers scale E[z²] by n·σ² per layer (closed form)
local sv = ie.stack{depth = 12, width = 128, act = 'linear', init = 'xavier_seed', bias = false}
local p = ie.variance_profile(sv, nb.randn(128, 128))
H.close(ie.per_layer_factor(p.q), 0.5, 0.06, 'forward factor 0.5 for 1/(n_in+n_out)')
H.close(ie.per_layer_factor(p.g) ^ -1, 0.5, 0.06, 'backward factor 0.5')
H.close(p.a[3], p.q[3], 1e-9, 'linear: E[h²] = E[z²]')
H.close(ie.per_layer_factor({1, 2, 4, 8}), 2, 1e-12, 'per_layer_factor')

-- grad_norms agree with .grad after backward
local sg = ie.stack{depth = 3, width = 6, in_features = 4, out_features = 3, act = 'sigmoid',
                    dtype = 'f64'}
local xg, yg = nb.randn(10, 4, {dtype = 'f64'}), nb.randint(1, 3, {10})
local loss_fn = function(o) return nn.F.cross_entropy(o, yg) end
local gn = ie.grad_norms(sg, xg, loss_fn)
H.check(sg.linears[1].weight.grad == nil, 'grad_norms leaves .grad alone')
loss_fn((ie.forward(sg, xg))):backward()
for l = 1, 3 do
  H.close(gn.weight[l], sg.linears[l].weight.grad:norm():item(), 1e-12, 'weight grad norm ' .. l)
end
H.close(gn.loss, loss_fn((ie.forward(sg, xg))):item(), 1e-12, 'loss reported')
H.check(#gn.hidden == 3 and gn.hidden[1] > 0, 'hidden gradient norms')

-- unit gaps: 0 for copies, the exact difference otherwise
local su = ie.stack{depth = 2, width = 4, in_features = 3, out_features = 2, constant = 0.5,
                    dtype = 'f64'}
H.close(ie.unit_gaps(su), {0, 0}, 0, 'constant stack is symmetric')
nb.no_grad(function() su.linears[1].weight[3] = nb.tensor({0.5, 0.75, 0.5}, {dtype = 'f64'}) end)
H.close(ie.unit_gap(su, 1), 0.25, 1e-15, 'incoming weights differ by 0.25')
H.close(ie.unit_gap(su, 2), 0, 0, 'layer 2 still symmetric')
nb.no_grad(function() su.head.weight[{1, 4}] = 0.1 end)
H.close(ie.unit_gap(su, 2), 0.4, 1e-15, 'outgoing weights count')

-- symmetry survives training exactly (small, fast)
local st = ie.stack{depth = 2, width = 8, in_features = 3, out_features = 2, act = 'tanh',
                    constant = 0.2}
local xs, ys = nb.randn(32, 3), nb.randint(1, 2, {32})
local losses = ie.sgd(ie.parameters(st), function()
  return nn.F.cross_entropy((ie.forward(st, xs)), ys)
end, {steps = 50, lr = 0.3})
H.check(#losses == 50 and losses[50] < losses[1], 'sgd lowers the loss')
H.close(ie.unit_gaps(st), {0, 0}, 0, 'constant init stays symmetric after SGD')

-- residual rule: a linear F(x) = A x has J_F = A exactly
local A = nb.randn(4, 4, {dtype = 'f64'})
local xv = nb.randn(4, {dtype = 'f64'})
local res = ie.residual_grad(function(v) return A:matmul(v) end, xv,
                             function(y) return (y * y):sum() * 0.5 end)
H.close(res.jacobian, A, 1e-12, 'jacobian of a linear F')
H.close(res.g, A:matmul(xv) + xv, 1e-12, 'g = y for L = ½‖y‖²')
H.close(res.formula, (A + nb.eye(4, {dtype = 'f64'})):t():matmul(res.g), 1e-12, '(A + I)ᵀ g')
H.close(res.autograd, res.formula, 1e-12, 'autograd = formula')
local res2 = ie.residual_grad(function(v) return (A:matmul(v)):tanh() end, xv,
                              function(y) return y:sin():sum() end)
H.close(res2.autograd, res2.formula, 1e-12, 'autograd = formula (tanh block, sin loss)')

-- errors
H.checkerror("unknown rule 'glorot'", ie.init_var, 'glorot', 3, 4)
H.checkerror("unknown activation 'elu'", ie.stack, {depth = 2, width = 3, act = 'elu'})
H.checkerror('depth and width must be positive', ie.stack, {depth = 0, width = 3})
H.checkerror('needs in_features = width', ie.stack, {depth = 2, width = 3, in_features = 2,
                                                     residual = true})
H.checkerror('x must be a 1-D tensor', ie.residual_grad, function(v) return v end, nb.zeros(2, 2),
             function(y) return y:sum() end)
H.checkerror('need at least two layers', ie.per_layer_factor, {1})
H.checkerror('no layer 5', ie.unit_gap, su, 5)

H.report()
