-- check: reports for people, results instead of errors, and failures recorded for lessons.
local nb = require 'nabla'
local check = require 'check'
local H = require 'harness'

-- close: numbers and tensors, worst entry named with a 1-based index
local ok, r = check.close(1.0, 1.0 + 1e-9)
H.check(ok and r.text:find('^ok'), 'numbers close: %s', r.text)
ok, r = check.close(nb.tensor({{1, 2}, {3, 4}}), nb.tensor({{1, 2}, {3, 4.5}}))
H.check(not ok and r.text:find('%[2,2%]') and r.text:find('got 4') and r.text:find('expected 4.5'),
        'worst entry reported: %s', r.text)
ok, r = check.close(nb.zeros(2), nb.zeros(3))
H.check(not ok and r.text:find('shapes'), 'shape mismatch reported: %s', r.text)
ok = check.close(nb.ones(3), 1)
H.check(ok, 'a number is broadcast against a tensor')

-- grad: a correct and a wrong derivative
local sq = nb.Function{
  forward = function(ctx, x) ctx:save_for_backward(x); return x * x end,
  backward = function(ctx, g) return g * 2 * ctx.saved_tensors[1] end,
}
ok, r = check.grad(function(x) return sq(x) end, {nb.tensor({0.3, -1.5})})
H.check(ok, 'correct backward passes: %s', r.text)
local bad = nb.Function{
  forward = function(ctx, x) return x:exp() end,
  backward = function(ctx, g) return g end,
}
ok, r = check.grad(function(x) return bad(x) end, {nb.tensor({0.3, -1.5, 2})})
-- the loss is sum(exp(x) * w) for fixed weights w, so autograd/numeric = 1/exp(x_i) everywhere
H.check(not ok and r.input == 1 and r.index:match('^%[%d%]$') and
        math.abs(r.analytic / r.numeric - math.exp(-nb.tensor({0.3, -1.5, 2})[tonumber(
          r.index:match('%d'))]:item())) < 1e-4,
        'wrong backward: worst index and both values reported: %s', r.text)
ok, r = check.gradgrad(function(x) return (x * x * x):sum() end, {nb.tensor({0.5, 2})})
H.check(ok, 'gradgrad of a cubic: %s', r.text)
ok, r = check.gradgrad(function(x) return x:sum() end, {nb.tensor({0.5, 2})})
H.check(ok, 'gradgrad of a linear function (zero second derivative): %s', r.text)

-- mc: an unbiased estimator passes, a biased one fails with a large z
nb.manual_seed(1)
ok, r = check.mc(function() return nb.rand(1):item() end, 0.5, {n = 4000, z = 4})
H.check(ok and math.abs(r.z) < 4 and r.text:find('±'), 'uniform mean 1/2: %s', r.text)
ok, r = check.mc(function() return nb.rand(1):item() end, 0.6, {n = 4000})
H.check(not ok and r.z > 4, 'wrong expectation rejected: %s', r.text)
ok, r = check.mc(function() return nb.bernoulli(0.3, 5) end, nb.full({5}, 0.3), {n = 3000})
H.check(ok, 'tensor-valued samples: %s', r.text)

-- answer: prints a line, records failures, never raises
check.reset()
check.color = false
ok = check.answer('one plus one', 1 + 1, 2)
local ok2 = check.answer('pi to two places', 3.15, math.pi, 1e-3)
H.check(ok and not ok2 and check.failed() == 1 and check.failures[1] == 'pi to two places',
        'failures are recorded')
check.reset()
H.check(check.failed() == 0, 'reset')
H.check(type(nb._docs[check.grad]) == 'string', 'check functions have docs')
H.report()
