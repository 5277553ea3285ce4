-- nn.init: gains and fans by hand, sample statistics of every initializer (std within a few
-- percent of the formula on ~60k draws), ranges, orthogonality, in-place behaviour on
-- parameters, and reproducibility through nb.manual_seed for any thread count.
local nb = require 'nabla'
local nn = require 'nn'
local H = require 'harness'

local init = nn.init
nb.manual_seed(1)

-- ---- gains and fans -------------------------------------------------------------------------
H.close(init.calculate_gain('linear'), 1, 0, 'gain linear')
H.close(init.calculate_gain('conv2d'), 1, 0, 'gain conv2d')
H.close(init.calculate_gain('sigmoid'), 1, 0, 'gain sigmoid')
H.close(init.calculate_gain('tanh'), 5 / 3, 1e-15, 'gain tanh')
H.close(init.calculate_gain('relu'), math.sqrt(2), 1e-15, 'gain relu')
H.close(init.calculate_gain('leaky_relu'), math.sqrt(2 / (1 + 0.01 ^ 2)), 1e-15,
        'gain leaky_relu default slope')
H.close(init.calculate_gain('leaky_relu', math.sqrt(5)), math.sqrt(1 / 3), 1e-15,
        'gain leaky_relu a=√5')
H.checkerror("unknown nonlinearity 'swish'", function() init.calculate_gain('swish') end)
local fi, fo = init.calculate_fan_in_and_fan_out(nb.zeros(64, 32, 3, 3))
H.check(fi == 32 * 9 and fo == 64 * 9, 'conv fans: in*k*k, out*k*k')
fi, fo = init.calculate_fan_in_and_fan_out(nb.zeros(10, 20))
H.check(fi == 20 and fo == 10, 'linear fans')
H.checkerror('at least 2 dims', function() init.xavier_uniform_(nb.zeros(5)) end)

-- ---- statistics --------------------------------------------------------------------------------
local w = nb.zeros(300, 200)          -- 60,000 draws: std of the sample std ~ 0.3%
local function std(t) return t:std():item() end

init.uniform_(w, -2, 3)
H.check(w:min():item() >= -2 and w:max():item() < 3, 'uniform_ range')
H.close(w:mean():item(), 0.5, 0.02, 'uniform_ mean')
H.close(std(w), 5 / math.sqrt(12), 0.01, 'uniform_ std (b-a)/√12')

init.normal_(w, 1, 0.5)
H.close(w:mean():item(), 1, 0.01, 'normal_ mean')
H.close(std(w), 0.5, 0.01, 'normal_ std')

init.xavier_uniform_(w)
local xs = math.sqrt(2 / (300 + 200))
H.check(w:abs():max():item() <= math.sqrt(6 / 500), 'xavier_uniform_ bound √(6/(in+out))')
H.close(std(w), xs, 0.01, 'xavier_uniform_ std √(2/(in+out))')
init.xavier_normal_(w, 2)
H.close(std(w), 2 * xs, 0.01, 'xavier_normal_ std with gain 2')

init.kaiming_uniform_(w, {nonlinearity = 'relu'})
H.close(std(w), math.sqrt(2 / 200), 0.01, 'kaiming_uniform_ relu fan_in: √2/√in')
H.check(w:abs():max():item() <= math.sqrt(3) * math.sqrt(2 / 200), 'kaiming_uniform_ bound')
init.kaiming_uniform_(w, {nonlinearity = 'relu', mode = 'fan_out'})
H.close(std(w), math.sqrt(2 / 300), 0.01, 'kaiming_uniform_ fan_out')
init.kaiming_normal_(w, {nonlinearity = 'tanh'})
H.close(std(w), 5 / 3 / math.sqrt(200), 0.01, 'kaiming_normal_ tanh gain 5/3')
init.kaiming_normal_(w)
H.close(std(w), math.sqrt(2) / math.sqrt(200), 0.01,
        'kaiming_normal_ defaults: leaky_relu with a = 0, gain √2')
init.kaiming_uniform_(w, {a = math.sqrt(5)})
H.check(w:abs():max():item() <= 1 / math.sqrt(200), 'a=√5 gives bound 1/√fan_in')
H.checkerror("mode must be 'fan_in' or 'fan_out'",
             function() init.kaiming_uniform_(w, {mode = 'fan'}) end)

init.trunc_normal_(w, 0, 1, -1, 1.5)
H.check(w:min():item() >= -1 and w:max():item() <= 1.5, 'trunc_normal_ inside [a, b]')
init.constant_(w, 0.25)
H.check(w:min():item() == 0.25 and w:max():item() == 0.25, 'constant_')
init.zeros_(w)
H.check(w:abs():sum():item() == 0, 'zeros_')
init.ones_(w)
H.check(w:sum():item() == 60000, 'ones_')

-- ---- orthogonal --------------------------------------------------------------------------------
local tall = nb.zeros({6, 4}, 'f64')
init.orthogonal_(tall)
H.close(tall:t():mm(tall), nb.eye(4, 4, {dtype = 'f64'}), 1e-12, 'orthogonal_: Q^T Q = I (tall)')
local wide = nb.zeros({3, 5}, 'f64')
init.orthogonal_(wide, 2)
H.close(wide:mm(wide:t()), nb.eye(3, 3, {dtype = 'f64'}) * 4, 1e-12,
        'orthogonal_ wide with gain 2: Q Q^T = 4 I')
local conv = nb.zeros(4, 2, 3, 3)
init.orthogonal_(conv)
local flat = conv:reshape(4, 18)
H.close(flat:mm(flat:t()), nb.eye(4), 1e-5, 'orthogonal_ on a conv weight (rows of [4, 18])')
local e = nb.zeros(3, 4)
init.eye_(e)
H.close(e, nb.eye(3, 4), 0, 'eye_')

-- ---- in place on parameters, reproducible ------------------------------------------------------
local lin = nn.Linear(5, 4)
local p = lin.weight
init.xavier_uniform_(lin.weight)
H.check(lin.weight == p and p.requires_grad and p.grad_fn == nil,
        'initializers work in place on a parameter (still a leaf)')
local function draw(threads)
  nb.set_num_threads(threads)
  nb.manual_seed(99)
  local t = nb.zeros(50, 40)
  init.kaiming_normal_(t)
  return t
end
local n0 = nb.get_num_threads()
local a, b = draw(1), draw(2)
nb.set_num_threads(n0)
H.check(nb.equal(a, b), 'same seed, same init for 1 or 2 threads')
nb.manual_seed(5)
local m1 = nn.Conv2d(3, 4, 3)
nb.manual_seed(5)
local m2 = nn.Conv2d(3, 4, 3)
H.check(nb.equal(m1.weight, m2.weight) and nb.equal(m1.bias, m2.bias),
        'layer construction is reproducible under manual_seed')

H.report()
