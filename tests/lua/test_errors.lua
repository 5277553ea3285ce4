-- Bad calls: each raises an error that names the function or argument and says what was
-- expected; afterwards the state still works.  (Family-specific errors — matmul, reductions,
-- conv, indexing ops — are also covered in those families' tests.)
local nb = require 'nabla'
local H = require 'harness'
local E = H.checkerror

local a = nb.zeros(2, 3)
local i = nb.zeros(3, 'i64')
local leaf = nb.ones(3, {requires_grad = true})

-- creation
E("bad argument #1 to 'nabla.zeros' (size -1 is negative)", nb.zeros, -1)
E("size must be an integer", nb.zeros, 2.5)
E("at most 8 dimensions", nb.zeros, 1, 1, 1, 1, 1, 1, 1, 1, 1)
E("dtype expected ('f32', 'f64' or 'i64'), got f16", nb.zeros, 2, 'f16')
E("dtype or options table expected, got boolean", nb.zeros, 2, true)
E("size 2 of the shape is string, expected an integer", nb.zeros, {2, 'x'})
E("ragged nested table", nb.tensor, {{1, 2}, {3}})
E("element 2 is string, expected a number", nb.tensor, {1, 'two'})
E("number, nested table or tensor expected, got function", nb.tensor, print)
E("nested tables deeper than 8", nb.tensor, {{{{{{{{{1}}}}}}}}})
E("arange: start, stop and step must be finite and step non-zero", nb.arange, 1, 5, 0)
E("linspace: number of points -1 is negative", nb.linspace, 0, 1, -1)
E("linspace: end points must be finite", nb.linspace, 0, 1 / 0, 3)
E("sizes must be non-negative", nb.eye, -2)
E("randint", nb.randint, 5, 1, 3)
E("n must be non-negative", nb.randperm, -1)
E("bernoulli", nb.bernoulli, 1.5, 3)
E("is too large", nb.zeros, 1 << 30, 1 << 30, 1 << 30)
E("thread count must be in 1..256", nb.set_num_threads, 0)
E("bad argument #1 to 'nabla.full' (table expected, got number)", nb.full, 3, 1)

-- shapes, views, dims
E("cannot reshape [2,3] (6 elements) to [4] (4 elements)", a.reshape, a, 4)
E("cannot be viewed as [6]", a.t(a).view, a:t(), 6)
E("dimension 3 out of range for a 2-d tensor (expected 1..2 or -2..-1)", a.size, a, 3)
E("dimension 0 out of range", a.transpose, a, 0, 1)
E("permute: 1 dimensions given for a 2-d tensor", a.permute, a, 1)
E("appears twice", a.permute, a, 1, 1)
E("narrow: range of 3 elements from index 1 does not fit in dimension 2 of size 3", a.narrow,
  a, 2, 2, 3)
E("index 4 out of range for dimension 2 of size 3", a.select, a, 2, 4)
E("cannot expand [2,3] to [4,3]", a.expand, a, 4, 3)
E("t() expects a tensor with at most 2 dimensions", nb.zeros(2, 2, 2).t, nb.zeros(2, 2, 2))
E("is after end dimension", nb.zeros(2, 3, 4).flatten, nb.zeros(2, 3, 4), 3, 1)
E("dimension expected, got string", a.size, a, 'x')

-- indexing
E("index 3 out of range for dimension 1 of size 2 (valid: 1..2 or -2..-1)", function() return a[3] end)
E("index 0 out of range", function() return a[0] end)
E("too many indices (3) for a 2-d tensor", function() return a[{1, 1, 1}] end)
E("range {3, 1} is empty for dimension 2", function() return a[{1, {3, 1}}] end)
E("range step must be positive, got 0", function() return a[{{1, 2, 0}}] end)
E("index entries must be numbers or {from, to} tables, got string", function() return a[{'x'}] end)
E("tensors are indexed by numbers or range tables, not boolean", function() return a[true] end)
E("tensor has no method or field 'nonexistent'", function() return a.nonexistent end)
E("cannot index a 0-d tensor; use item()", function() return nb.tensor(1)[1] end)
E("cannot set field 'foo' of a tensor", function() a.foo = 1 end)
E("item: tensor of shape [2,3] has 6 elements, expected 1", a.item, a)
E("get: 1 indices given for a 2-d tensor", a.get, a, 1)
E("cannot be broadcast to [3]", function() local c = nb.zeros(2, 3); c[1] = nb.zeros(2) end)

-- arithmetic
E("add: shapes [2,3] and [4] cannot be broadcast", function() return a + nb.zeros(4) end)
E("tensor or number expected, got string", function() return a + 'x' end)
E("tensor or number expected, got table", function() return a * {} end)
E("upper bound", a.clamp, a, 2, 1)
E("bad argument #1 to 'nabla.exp' (tensor expected, got number)", nb.exp, 3)
E("the destination is an expanded view", function()
  nb.zeros(1):expand(3):fill_(1) end)

-- dtypes
E("requires_grad: only floating tensors can require gradients, got i64", i.requires_grad_, i)
E("dtype expected", a.to, a, 'complex')

-- autograd
E("cannot modify a tensor that requires grad in place (it is a leaf)", leaf.add_, leaf, 1)
E("cannot modify a tensor that requires grad in place", function() leaf[1] = 0 end)
E("backward: output 1 does not require grad", a.backward, a)
E("a gradient can only be implied for an output with one element", function()
  (leaf * 2):backward() end)
E("grad_output of shape [2] for an output of shape [3]", function()
  (leaf * 2):backward(nb.ones(2)) end)
E("trying to go backward through the graph a second time", function()
  local y = (leaf * leaf)[1]; y:backward(); y:backward() end)
E("was modified in place after it was used", function()
  local c = nb.ones(3); local y = (leaf * c)[1]; c:add_(1); y:backward() end)
E("grad: input 1 was not used to compute the outputs", function()
  local other = nb.ones(2, {requires_grad = true}); return nb.grad((leaf * 2)[1], other) end)
E("grad: input 1 does not require grad", nb.grad, (leaf * 2)[1], a)
E("register_hook: the tensor does not require grad", a.register_hook, a, print)
E("boom", function()
  local x = nb.ones(2, {requires_grad = true})
  x:register_hook(function() error('boom') end)
  nb.grad((x * 3)[1], x)
end)
E("hook: returned a gradient of shape [5] for a tensor of shape [2]", function()
  local x = nb.ones(2, {requires_grad = true})
  x:register_hook(function() return nb.zeros(5) end)
  nb.grad((x * 3)[1], x)
end)
E("Function needs a 'backward' function", nb.Function, {forward = function() end})
E("oops", function()
  local F = nb.Function{forward = function(ctx, x) return x * 2 end,
                        backward = function() error('oops') end}
  F(leaf)[1]:backward()
end)
E("cannot turn off gradients of a non-leaf", function() (leaf * 2).requires_grad = false end)
E("bad argument #1 to 'nabla.no_grad' (function expected, got number)", nb.no_grad, 3)
E("bad argument #2 to 'nabla.where' (tensor or number expected, got string)", nb.where, a, 'x', 1)

-- the state still works after all of that
local ok = (nb.ones(2) + 1):totable()
H.close(ok, {2, 2}, 0, 'state usable after errors')
H.check(H.failed == 0 and H.passed >= 60, 'at least 60 distinct bad calls (%d)', H.passed)
H.report()
