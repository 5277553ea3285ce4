-- data.synthetic: small generated data sets for lessons that need control over the data:
-- Gaussian blobs, two moons, spirals, a linear/ridge regression generator, Gaussian mixtures
-- for GANs, and shapes with pixel masks for segmentation.  Every draw comes from nb's
-- generator, so nb.manual_seed(s) makes the sets reproducible.  Samples are returned
-- shuffled; class labels are i64 and 1-based.
local nb = require 'nabla'
local U = require 'data.util'
local M = {}

-- Labels 1..k, as equal as possible (the first n % k classes get one more), in random order.
local function shuffled_labels(n, k)
  local y = {}
  for i = 1, n do y[i] = (i - 1) % k + 1 end
  return U.rows(nb.tensor(y, {dtype = 'i64'}), U.randperm(n))
end

local function as_matrix(fname, name, v)
  if nb.is_tensor(v) then
    if v:dim() ~= 2 then U.fail(fname, "'%s' must be a 2-D tensor, got %d-D", name, v:dim()) end
    return v:to('f32')
  end
  local ok, t = pcall(nb.tensor, v)
  if not ok or t:dim() ~= 2 then U.fail(fname, "'%s' must be a table of rows (K x dim)", name) end
  return t
end

function M.blobs(opts)
  local F = 'data.blobs'
  local o = U.check_opts(F, opts, {'n', 'centers', 'std', 'dim', 'box'})
  local n = U.int(F, 'n', o.n, 100, 1)
  local dim = U.int(F, 'dim', o.dim, 2, 1)
  local C
  if o.centers == nil or type(o.centers) == 'number' then
    local k = U.int(F, 'centers', o.centers, 3, 1)
    local box = U.num(F, 'box', o.box, 10, 0)
    C = nb.rand(k, dim) * (2 * box) - box   -- like sklearn's center_box (-10, 10)
  else
    C = as_matrix(F, 'centers', o.centers)
    dim = C:size(2)
  end
  local k = C:size(1)
  local y = shuffled_labels(n, k)
  local std = o.std or 1
  local spread
  if type(std) == 'number' then
    spread = std
  else   -- one standard deviation per center
    local s = nb.is_tensor(std) and std:to('f32') or nb.tensor(std)
    if s:numel() ~= k then U.fail(F, "'std' has %d entries for %d centers", s:numel(), k) end
    spread = U.rows(s:reshape(k, 1), y)
  end
  local X = U.rows(C, y) + nb.randn(n, dim) * spread
  return X, y, C
end

function M.moons(opts)
  local F = 'data.moons'
  local o = U.check_opts(F, opts, {'n', 'noise'})
  local n = U.int(F, 'n', o.n, 100, 2)
  local noise = U.num(F, 'noise', o.noise, 0.1, 0)
  local n_out = n // 2   -- as sklearn's make_moons
  local pts, y = {}, {}
  for i = 1, n do
    local outer = i <= n_out
    local m = outer and n_out or n - n_out
    local t = m > 1 and math.pi * ((outer and i or i - n_out) - 1) / (m - 1) or 0
    if outer then pts[i] = {math.cos(t), math.sin(t)}
    else pts[i] = {1 - math.cos(t), 0.5 - math.sin(t)} end
    y[i] = outer and 1 or 2
  end
  local perm = U.randperm(n)
  local X = U.rows(nb.tensor(pts), perm) + nb.randn(n, 2) * noise
  return X, U.rows(nb.tensor(y, {dtype = 'i64'}), perm)
end

function M.spirals(opts)
  local F = 'data.spirals'
  local o = U.check_opts(F, opts, {'n', 'classes', 'noise', 'turns'})
  local k = U.int(F, 'classes', o.classes, 3, 1)
  local n = U.int(F, 'n', o.n, 300, k)
  local noise = U.num(F, 'noise', o.noise, 0.2, 0)
  local turns = U.num(F, 'turns', o.turns, 4 / (2 * math.pi))
  local jitter = nb.randn(n, 'f64'):totable()
  local pts, y, i = {}, {}, 0
  for c = 1, k do   -- as CS231n's spiral: radius 0..1, angle over `turns` turns per arm
    local m = n // k + (c <= n % k and 1 or 0)
    for j = 1, m do
      i = i + 1
      local r = m > 1 and (j - 1) / (m - 1) or 0
      local t = 2 * math.pi * turns * (c - 1 + r) + noise * jitter[i]
      pts[i], y[i] = {r * math.sin(t), r * math.cos(t)}, c
    end
  end
  local perm = U.randperm(n)
  return U.rows(nb.tensor(pts), perm), U.rows(nb.tensor(y, {dtype = 'i64'}), perm)
end

function M.regression(opts)
  local F = 'data.regression'
  local o = U.check_opts(F, opts, {'n', 'd', 'noise', 'correlation', 'w', 'bias', 'dtype'})
  local n = U.int(F, 'n', o.n, 100, 1)
  local noise = U.num(F, 'noise', o.noise, 0.1, 0)
  local rho = U.num(F, 'correlation', o.correlation, 0)
  if rho < 0 or rho >= 1 then U.fail(F, "'correlation' must be in [0, 1), got %g", rho) end
  local dtype = o.dtype or 'f32'
  local w
  if o.w ~= nil then
    w = nb.is_tensor(o.w) and o.w:to(dtype):reshape(-1) or nb.tensor(o.w, {dtype = dtype})
    if o.d and w:numel() ~= o.d then U.fail(F, "'w' has %d entries but d = %d", w:numel(), o.d) end
  end
  local d = U.int(F, 'd', o.d or (w and w:numel()), 5, 1)
  -- equicorrelated features: a shared factor z0 gives corr(x_i, x_j) = rho, var(x_i) = 1
  local X = nb.randn(n, d, dtype) * math.sqrt(1 - rho)
  if rho > 0 then X = X + nb.randn(n, 1, dtype) * math.sqrt(rho) end
  w = w or nb.randn(d, dtype)
  local y = (X * w:reshape(1, d)):sum(2) + nb.randn(n, dtype) * noise + U.num(F, 'bias', o.bias, 0)
  return X, y, w
end

function M.gaussian_mixture(opts)
  local F = 'data.gaussian_mixture'
  local o = U.check_opts(F, opts, {'n', 'modes', 'dim', 'std', 'radius'})
  local n = U.int(F, 'n', o.n, 1000, 1)
  local k = U.int(F, 'modes', o.modes, 8, 1)
  local dim = U.int(F, 'dim', o.dim, 2, 1)
  if dim > 2 then U.fail(F, "'dim' must be 1 (modes on a line) or 2 (on a circle), got %d", dim) end
  local std = U.num(F, 'std', o.std, 0.05, 0)
  local radius = U.num(F, 'radius', o.radius, 2, 0)
  local centers = {}
  for j = 1, k do
    if dim == 2 then
      local a = 2 * math.pi * (j - 1) / k
      centers[j] = {radius * math.cos(a), radius * math.sin(a)}
    else
      centers[j] = {k > 1 and -radius + 2 * radius * (j - 1) / (k - 1) or 0}
    end
  end
  local C = nb.tensor(centers)
  local mode = nb.randint(1, k, {n})
  return U.rows(C, mode) + nb.randn(n, dim) * std, C, mode
end

-- Per-sample parameters as [N,1,1] tensors, so every pixel test below is one broadcast op.
local function column(t, n) return t:reshape(n, 1, 1) end

-- Pixel masks (0/1 f32, [N,H,W]) of a circle, square and triangle of radius r centred at
-- (cx, cy); each sample then keeps the one its class asks for.
local function shape_masks(n, size, cx, cy, r, cls)
  local xs = nb.arange(0, size - 1):reshape(1, 1, size) + 0.5
  local ys = nb.arange(0, size - 1):reshape(1, size, 1) + 0.5
  local dx, dy = xs - cx, ys - cy
  local circle = (dx * dx + dy * dy):le(r * r)
  local half = r * 0.85
  local square = dx:abs():le(half) * dy:abs():le(half)
  -- upright triangle: apex at cy - r, base at cy + r/2, half-width growing as tan(30 degrees)
  local tri = dy:ge(-r) * dy:le(r * 0.5) * dx:abs():le((dy + r) * 0.57735)
  return circle * cls:eq(1) + square * cls:eq(2) + tri * cls:eq(3)
end

function M.shapes(opts)
  local F = 'data.shapes'
  local o = U.check_opts(F, opts, {'n', 'size', 'shapes_per_image', 'noise'})
  local n = U.int(F, 'n', o.n, 100, 1)
  local size = U.int(F, 'size', o.size, 32, 8)
  local per = U.int(F, 'shapes_per_image', o.shapes_per_image, 1, 1)
  local noise = U.num(F, 'noise', o.noise, 0, 0)
  local img = nb.zeros(n, size, size)
  local ids = nb.ones(n, size, size)   -- 1 = background
  local labels
  for _ = 1, per do
    local cls = nb.randint(1, 3, {n}):to('f32')
    local r = column(nb.rand(n) * (size / 8) + size / 8, n)
    local cx = column(nb.rand(n) * (size - 2 * size / 4) + size / 4, n)
    local cy = column(nb.rand(n) * (size - 2 * size / 4) + size / 4, n)
    local m = shape_masks(n, size, cx, cy, r, column(cls, n))
    img = img * (1 - m) + m                        -- later shapes paint over earlier ones
    ids = ids * (1 - m) + m * (column(cls, n) + 1)
    labels = labels or cls:to('i64')
  end
  if noise > 0 then img = img + nb.randn(n, size, size) * noise end
  return img:reshape(n, 1, size, size), ids:to('i64'), labels
end

M.shapes_classes = {'background', 'circle', 'square', 'triangle'}

M.docs = {
  blobs = 'data.blobs{n=100, centers=3 or K x dim table, std=1 (or one per center), dim=2, '
    .. 'box=10} — Gaussian clusters; returns X [n,dim], y i64 1..K, centers [K,dim]',
  moons = 'data.moons{n=100, noise=0.1} — two interleaving half circles (sklearn make_moons); '
    .. 'returns X [n,2], y i64 1..2',
  spirals = 'data.spirals{n=300, classes=3, noise=0.2, turns=0.64} — interleaved spiral arms '
    .. '(CS231n); returns X [n,2], y i64 1..classes',
  regression = 'data.regression{n=100, d=5, noise=0.1, correlation=0, w=, bias=0, dtype=} — '
    .. 'y = X w + bias + noise·N(0,1) with corr(x_i,x_j) = correlation; returns X, y, w_true',
  gaussian_mixture = 'data.gaussian_mixture{n=1000, modes=8, dim=2, std=0.05, radius=2} — GAN '
    .. 'toy: modes on a circle (dim=2) or a line (dim=1); returns samples, centers, mode ids',
  shapes = 'data.shapes{n=100, size=32, shapes_per_image=1, noise=0} — circles/squares/'
    .. 'triangles; returns images [n,1,H,W], masks [n,H,W] i64 (1 = background, 2..4 = '
    .. 'data.shapes_classes), labels i64 1..3 (the first shape)',
}

return M
