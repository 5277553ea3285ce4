-- nb.func: functional transforms built on nb.grad (embedded into the C module at build time).
-- Each works for a function of one tensor; results stay differentiable (create_graph), so
-- transforms compose: func.hessian(f, x) is func.jacobian(func.grad(f), x).
local nb = ...
local func = {}

-- x itself when it already requires grad (so an outer transform sees the dependence),
-- otherwise a fresh leaf with the same values.
local function leaf(x, what)
  if not nb.is_tensor(x) then
    error(what .. ": a tensor input expected, got " .. type(x), 3)
  end
  if x.requires_grad then return x end
  return x:detach():requires_grad_()
end

local function zeros_if_nil(g, x)
  if g == nil then return nb.zeros_like(x) end
  return g
end

function func.grad(f, argnum)
  argnum = argnum or 1
  return function(...)
    local args = table.pack(...)
    local x = leaf(args[argnum], "func.grad")
    args[argnum] = x
    local y = f(table.unpack(args, 1, args.n))
    if not nb.is_tensor(y) or y:numel() ~= 1 then
      error("func.grad: the function must return a tensor with one element", 2)
    end
    return zeros_if_nil(nb.grad(y, x, {create_graph = true, allow_unused = true})[1], x)
  end
end

function func.vjp(f, x, v)
  x = leaf(x, "func.vjp")
  local y = f(x)
  local g = nb.grad(y, x, {grad_outputs = v, create_graph = true, allow_unused = true})[1]
  return y, zeros_if_nil(g, x)
end

-- J v by the double-vjp trick: g(u) = J^T u is linear in u, and d(g(u) . v)/du = J v.
function func.jvp(f, x, v)
  x = leaf(x, "func.jvp")
  local y = f(x)
  local u = nb.zeros_like(y):requires_grad_()
  local g = nb.grad(y, x, {grad_outputs = u, create_graph = true, allow_unused = true})[1]
  if g == nil then return y, nb.zeros_like(y) end
  local jv = nb.grad(g, u, {grad_outputs = v, create_graph = true, allow_unused = true})[1]
  return y, zeros_if_nil(jv, y)
end

function func.hvp(f, x, v)
  x = leaf(x, "func.hvp")
  local y = f(x)
  local g = nb.grad(y, x, {create_graph = true, allow_unused = true})[1]
  if g == nil then return y, nb.zeros_like(x) end
  local hv = nb.grad(g, x, {grad_outputs = v, create_graph = true, allow_unused = true})[1]
  return y, zeros_if_nil(hv, x)
end

-- J has shape y.shape .. x.shape: row i is the gradient of the i-th output element.
function func.jacobian(f, x)
  x = leaf(x, "func.jacobian")
  local y = f(x)
  local flat = y:reshape(-1)
  local rows = {}
  for i = 1, flat:numel() do
    local g = nb.grad(flat[i], x, {create_graph = true, retain_graph = true,
                                   allow_unused = true})[1]
    rows[i] = zeros_if_nil(g, x):reshape(-1)
  end
  local shape = {}
  for _, s in ipairs(y.shape) do shape[#shape + 1] = s end
  for _, s in ipairs(x.shape) do shape[#shape + 1] = s end
  if #rows == 0 then return nb.zeros(shape, x.dtype) end
  return nb.stack(rows, 1):reshape(shape)
end

function func.hessian(f, x)
  return func.jacobian(func.grad(f), x)
end

local docs = {
  grad = "nb.func.grad(f, argnum=1) — a function returning d f / d x (f returns one element)",
  vjp = "nb.func.vjp(f, x, v) — f(x) and v^T J",
  jvp = "nb.func.jvp(f, x, v) — f(x) and J v",
  hvp = "nb.func.hvp(f, x, v) — f(x) and H v (Hessian-vector product by double backward)",
  jacobian = "nb.func.jacobian(f, x) — the full Jacobian, shape y.shape .. x.shape",
  hessian = "nb.func.hessian(f, x) — the Hessian of a scalar f, shape x.shape .. x.shape",
}
for name, text in pairs(docs) do nb.doc(func[name], text) end
return func
