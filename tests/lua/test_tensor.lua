-- Tensors from Lua: creation, dtypes, shapes, 1-based indexing and ranges, assignment, views,
-- printing, conversions, and argument errors.  Expected values are written out by hand.
local nb = require 'nabla'
local H = require 'harness'

-- creation ------------------------------------------------------------------------------
local a = nb.tensor({{1, 2, 3}, {4, 5, 6}})
H.check(a.dtype == 'f32' and a:dim() == 2 and #a == 2 and a:numel() == 6, 'nested table')
H.check(table.concat(a.shape, ',') == '2,3' and a:size(2) == 3 and a:size(-1) == 3, 'shape')
H.close(a:totable(), {{1, 2, 3}, {4, 5, 6}}, 0, 'totable round trip')
local i = nb.tensor({1, 2, 3}, {dtype = 'int64'})
H.check(i.dtype == 'i64' and math.type(i:totable()[1]) == 'integer', 'int64 long name, integers')
H.check(nb.tensor(2.5):dim() == 0 and nb.tensor(2.5):item() == 2.5, '0-d from a number')
H.check(nb.zeros(2, 3):numel() == 6 and nb.zeros{2, 3}:numel() == 6, 'both shape forms')
H.check(nb.zeros({2, 3}, 'f64').dtype == 'f64' and nb.ones(2, {dtype = 'i64'}).dtype == 'i64',
        'dtype string and options table')
H.close(nb.full({2}, 7):totable(), {7, 7}, 0, 'full')
H.close(nb.arange(1, 5):totable(), {1, 2, 3, 4, 5}, 0, 'arange is inclusive like for')
H.close(nb.arange(5, 1, -2):totable(), {5, 3, 1}, 0, 'arange down')
H.check(nb.arange(0, 1, 0.1):numel() == 11, 'arange(0,1,0.1) has 11 points')
H.close(nb.linspace(0, 1, 5):totable(), {0, 0.25, 0.5, 0.75, 1}, 0, 'linspace')
H.close(nb.eye(2):totable(), {{1, 0}, {0, 1}}, 0, 'eye')
H.check(nb.zeros_like(a).dtype == 'f32' and nb.ones_like(i).dtype == 'i64', '*_like keep dtype')
H.check(nb.tensor({}):numel() == 0, 'empty table gives an empty tensor')

-- random: same seed, same numbers, whatever the thread count ------------------------------
nb.manual_seed(42)
local r1 = nb.randn(1000)
nb.set_num_threads(1)
nb.manual_seed(42)
local r2 = nb.randn(1000)
nb.set_num_threads(2)
H.check(nb.equal(r1, r2), 'seeded randn is identical for 1 and 2 threads')
H.check(nb.get_num_threads() == 2, 'get_num_threads')
local ri = nb.randint(1, 6, 200)
local lo, hi = math.huge, -math.huge
for _, v in ipairs(ri:totable()) do lo = math.min(lo, v); hi = math.max(hi, v) end
H.check(ri.dtype == 'i64' and lo >= 1 and hi <= 6 and lo == 1 and hi == 6, 'randint inclusive')
local perm = nb.randperm(10):totable()
table.sort(perm)
H.close(perm, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0, 'randperm is a permutation of 1..n')
local bern = nb.bernoulli(0.3, 4000):totable()
local ones = 0
for _, v in ipairs(bern) do ones = ones + v end
H.check(math.abs(ones / 4000 - 0.3) < 5 * math.sqrt(0.3 * 0.7 / 4000), 'bernoulli mean')

-- indexing ----------------------------------------------------------------------------------
local m = nb.tensor({{1, 2, 3}, {4, 5, 6}, {7, 8, 9}})
H.close(m[2]:totable(), {4, 5, 6}, 0, 't[i] selects a row')
H.check(m[2][3]:dim() == 0 and m[2][3]:item() == 6, 't[i][j] is a 0-d tensor')
H.check(m[-1][-1]:item() == 9, 'negative indices count from the end')
H.close(m[{{1, 2}, 3}]:totable(), {3, 6}, 0, 'range then select')
H.close(m[{{}, {2, 3}}]:totable(), {{2, 3}, {5, 6}, {8, 9}}, 0, '{} keeps a dim')
H.close(m[{{2}}]:totable(), {{4, 5, 6}}, 0, '{a} keeps the dimension')
H.close(m[{{1, 3, 2}}]:totable(), {{1, 2, 3}, {7, 8, 9}}, 0, '{a, b, step}')
H.check(m:get(3, 1) == 7, 'get')
local mm = m:clone()
mm[1] = 0
mm[{2, 2}] = -5
mm[{{}, 3}] = nb.tensor({10, 20, 30})
H.close(mm:totable(), {{0, 0, 10}, {4, -5, 20}, {7, 8, 30}}, 0, 'assignment through indexing')
H.close(m:totable(), {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}, 0, 'clone did not share storage')
local row = m[1]
row[1] = 100
H.check(m:get(1, 1) == 100, 'a row is a view: writes reach the parent')

-- views ---------------------------------------------------------------------------------------
local v = nb.arange(1, 6):view(2, 3)
H.close(v:t():totable(), {{1, 4}, {2, 5}, {3, 6}}, 0, 't()')
H.check(not v:t():is_contiguous() and v:t():contiguous():is_contiguous(), 'contiguous')
H.close(v:t():reshape(6):totable(), {1, 4, 2, 5, 3, 6}, 0, 'reshape copies when needed')
H.close(v:permute(2, 1):totable(), v:t():totable(), 0, 'permute')
H.close(v:narrow(2, 2, 2):totable(), {{2, 3}, {5, 6}}, 0, 'narrow')
H.close(v:select(2, 3):totable(), {3, 6}, 0, 'select')
H.close(nb.tensor({1, 2}):view(2, 1):expand(2, 3):totable(), {{1, 1, 1}, {2, 2, 2}}, 0, 'expand')
H.check(table.concat(v:unsqueeze(1).shape, ',') == '1,2,3', 'unsqueeze')
H.check(table.concat(v:unsqueeze(1):squeeze().shape, ',') == '2,3', 'squeeze')
H.check(table.concat(nb.zeros(2, 3, 4):flatten(2, 3).shape, ',') == '2,12', 'flatten')
H.check(v:view(-1):numel() == 6, 'view -1')
H.check(v:to('i64').dtype == 'i64' and v:to('float64').dtype == 'f64', 'to')

-- in place -----------------------------------------------------------------------------------
local z = nb.zeros(3)
z:fill_(2):add_(1)
H.close(z:totable(), {3, 3, 3}, 0, 'fill_ and add_ chain')
z:mul_(nb.tensor({1, 2, 3}))
H.close(z:totable(), {3, 6, 9}, 0, 'mul_ by a tensor')
z:zero_()
H.close(z:totable(), {0, 0, 0}, 0, 'zero_')
z:copy_(nb.tensor({1, 2, 3}, {dtype = 'f64'}))
H.close(z:totable(), {1, 2, 3}, 0, 'copy_ converts dtype')

-- printing -----------------------------------------------------------------------------------
H.check(tostring(nb.tensor({1, 2})) == 'tensor([1., 2.], shape=[2], dtype=f32)', 'print f32 ints')
H.check(tostring(nb.tensor({1, 2}, {dtype = 'i64'})) == 'tensor([1, 2], shape=[2], dtype=i64)',
        'print i64')
H.check(tostring(nb.tensor(0.5)) == 'tensor(0.5000, shape=[], dtype=f32)', 'print 0-d')
H.check(tostring(nb.tensor({1.5, -2.25})) == 'tensor([ 1.5000, -2.2500], shape=[2], dtype=f32)',
        'aligned columns')
H.check(tostring(nb.tensor({1e-6, 1})):find('e%-06') ~= nil, 'scientific when ranges differ')
local big = tostring(nb.zeros(100, 100))
H.check(big:find('...', 1, true) ~= nil and #big < 2000, 'large tensors elide the middle')
nb.set_printoptions{precision = 2}
H.check(tostring(nb.tensor({0.125})) == 'tensor([0.12], shape=[1], dtype=f32)' or
        tostring(nb.tensor({0.125})) == 'tensor([0.13], shape=[1], dtype=f32)', 'precision')
nb.set_printoptions{precision = 4}
H.check(tostring(nb.zeros(0, 3)) == 'tensor([], shape=[0,3], dtype=f32)', 'print empty')
local req = nb.tensor({1.0}, {requires_grad = true})
H.check(tostring(req):find('requires_grad=true', 1, true) ~= nil, 'print requires_grad')
H.check(tostring(req * 2):find('grad_fn=', 1, true) ~= nil, 'print grad_fn')

-- docs ---------------------------------------------------------------------------------------
H.check(type(nb._docs[nb.zeros]) == 'string' and nb._docs[nb.zeros]:find('nb.zeros') == 1,
        'docs registry has nb.zeros')
H.check(type(nb._docs[nb._methods.view]) == 'string', 'docs for methods')

H.report()
