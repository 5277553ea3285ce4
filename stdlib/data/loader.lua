-- data.loader: mini-batches (DataLoader), train/val/test splits, K-fold indices and non-IID
-- client partitions for federated-learning lessons.  Batches are gathered in C (index_select
-- or narrow views), never element by element in Lua.  Indices are 1-based i64 tensors.
local nb = require 'nabla'
local U = require 'data.util'
local M = {}

local function nrows(fname, name, t)
  if not nb.is_tensor(t) then
    U.fail(fname, '%s must be a tensor, got %s', name, type(t))
  end
  if t:dim() == 0 then
    U.fail(fname, '%s must have at least one dimension (samples first)', name)
  end
  return t:size(1)
end

local function index_tensor(list)
  if #list == 0 then return nb.zeros(0, 'i64') end
  return nb.tensor(list, {dtype = 'i64'})
end

---------------------------------------------------------------------------- DataLoader
local DataLoader = {}
DataLoader.__index = DataLoader
DataLoader.__name = 'data.DataLoader'

function M.DataLoader(X, y, opts)
  local F = 'data.DataLoader'
  if opts == nil and type(y) == 'table' and not nb.is_tensor(y) then y, opts = nil, y end
  local o = U.check_opts(F, opts, {'batch_size', 'shuffle', 'drop_last', 'seed', 'collate'})
  local n = nrows(F, 'X', X)
  if y ~= nil and nrows(F, 'y', y) ~= n then
    U.fail(F, 'X has %d samples but y has %d', n, y:size(1))
  end
  if o.collate ~= nil and type(o.collate) ~= 'function' then
    U.fail(F, "option 'collate' must be a function(xb, yb), got %s", type(o.collate))
  end
  local self = {
    X = X, y = y, n = n,
    batch_size = U.int(F, 'batch_size', o.batch_size, 1, 1),
    shuffle = o.shuffle and true or false,
    drop_last = o.drop_last and true or false,
    seed = o.seed ~= nil and U.int(F, 'seed', o.seed) or nil,
    collate = o.collate,
    epoch = 0,
  }
  return setmetatable(self, DataLoader)
end

function DataLoader:__len()
  if self.drop_last then return self.n // self.batch_size end
  return (self.n + self.batch_size - 1) // self.batch_size
end

function DataLoader:__tostring()
  return string.format('DataLoader(%d samples, batch_size=%d, %d batches%s%s)', self.n,
                       self.batch_size, #self, self.shuffle and ', shuffled' or '',
                       self.drop_last and ', drop_last' or '')
end

-- The epoch whose permutation the next iter() uses (a seeded loader's epochs are
-- reproducible one by one, like DistributedSampler.set_epoch).
function DataLoader:set_epoch(e)
  self.epoch = U.int('DataLoader:set_epoch', 'epoch', e, 0, 0)
end

-- One pass over the data: for xb, yb in loader:iter() do ... end.  Shuffled loaders draw a
-- new permutation per pass; unshuffled batches are contiguous views (no copies).
function DataLoader:iter()
  local n, bs, count = self.n, self.batch_size, #self
  local perm = self.shuffle and U.randperm(n, self.seed, self.epoch) or nil
  self.epoch = self.epoch + 1
  local X, y, collate, b = self.X, self.y, self.collate, 0
  return function()
    b = b + 1
    if b > count then return nil end
    local start = (b - 1) * bs + 1
    local len = math.min(bs, n - start + 1)
    local xb, yb
    if perm then
      local idx = perm:narrow(1, start, len)
      xb, yb = U.rows(X, idx), y and U.rows(y, idx)
    else
      xb, yb = X:narrow(1, start, len), y and y:narrow(1, start, len)
    end
    if collate then return collate(xb, yb) end
    return xb, yb
  end
end

DataLoader.__call = DataLoader.iter
M.DataLoader_class = DataLoader

---------------------------------------------------------------------------- split, kfold
function M.split(X, y, opts)
  local F = 'data.split'
  if opts == nil and type(y) == 'table' and not nb.is_tensor(y) then y, opts = nil, y end
  local o = U.check_opts(F, opts, {'fractions', 'seed', 'shuffle'})
  local n = nrows(F, 'X', X)
  if y ~= nil and nrows(F, 'y', y) ~= n then
    U.fail(F, 'X has %d samples but y has %d', n, y:size(1))
  end
  local fr = o.fractions or {0.8, 0.1, 0.1}
  local total = 0
  for i, f in ipairs(fr) do
    if type(f) ~= 'number' or f < 0 then U.fail(F, 'fraction %d must be a number >= 0', i) end
    total = total + f
  end
  if #fr == 0 or math.abs(total - 1) > 1e-6 then
    U.fail(F, 'fractions must sum to 1, got %g', total)
  end
  local sizes, used = {}, 0
  for i, f in ipairs(fr) do
    sizes[i] = math.floor(f * n + 1e-9)
    used = used + sizes[i]
  end
  sizes[1] = sizes[1] + n - used   -- rounding leftovers go to the first part
  local perm = o.shuffle == false and nb.arange(1, n, 'i64') or U.randperm(n, o.seed)
  local parts, start = {}, 1
  for i, m in ipairs(sizes) do
    local idx = m > 0 and perm:narrow(1, start, m) or nb.zeros(0, 'i64')
    local px = m > 0 and U.rows(X, idx) or X:narrow(1, 1, 0)
    local py = y and (m > 0 and U.rows(y, idx) or y:narrow(1, 1, 0))
    parts[i] = {px, py, X = px, y = py, idx = idx}
    start = start + m
  end
  return table.unpack(parts)
end

function M.kfold(n, k, opts)
  local F = 'data.kfold'
  local o = U.check_opts(F, opts, {'seed', 'shuffle'})
  n = U.int(F, 'n', n, nil, 1)
  k = U.int(F, 'k', k, nil, 2)
  if k > n then U.fail(F, 'k = %d folds for only %d samples', k, n) end
  local order = (o.shuffle == false and nb.arange(1, n, 'i64') or U.randperm(n, o.seed)):totable()
  local folds, start = {}, 1
  for f = 1, k do   -- the first n % k folds get one extra sample, as in sklearn's KFold
    local m = n // k + (f <= n % k and 1 or 0)
    local val, train = {}, {}
    for i = 1, n do
      if i >= start and i < start + m then val[#val + 1] = order[i]
      else train[#train + 1] = order[i] end
    end
    table.sort(val)
    table.sort(train)
    local tv, tt = index_tensor(val), index_tensor(train)
    folds[f] = {tt, tv, train_idx = tt, val_idx = tv}
    start = start + m
  end
  return folds
end

---------------------------------------------------------------------------- partition
local function label_list(F, labels)
  local list = U.list(labels)
  if type(list) ~= 'table' then
    U.fail(F, 'labels must be a tensor or a list, got %s', type(labels))
  end
  local maxc = 0
  for i, c in ipairs(list) do
    if math.type(c) ~= 'integer' then
      if type(c) == 'number' and c == math.floor(c) then c = math.tointeger(c); list[i] = c
      else U.fail(F, 'label %d is %s, expected an integer class id', i, tostring(c)) end
    end
    if c < 1 then U.fail(F, 'label %d is %d: class ids are 1-based', i, c) end
    if c > maxc then maxc = c end
  end
  return list, maxc
end

-- Splits list (already shuffled) into consecutive pieces with the given proportions.
local function cut(list, props, parts, owners)
  local m, acc, start = #list, 0, 1
  for j, p in ipairs(props) do
    acc = acc + p
    local stop = j == #props and m or math.floor(acc * m + 0.5)
    for i = start, stop do table.insert(parts[owners[j]], list[i]) end
    start = math.max(start, stop + 1)
  end
end

function M.partition(labels, opts)
  local F = 'data.partition'
  local o = U.check_opts(F, opts, {'clients', 'alpha', 'classes_per_client', 'classes'})
  local list, maxc = label_list(F, labels)
  local clients = U.int(F, 'clients', o.clients, nil, 1)
  local C = U.int(F, 'classes', o.classes, maxc, maxc)
  if (o.alpha == nil) == (o.classes_per_client == nil) then
    U.fail(F, "give exactly one of 'alpha' (Dirichlet) and 'classes_per_client'")
  end
  local by_class = {}
  for c = 1, C do by_class[c] = {} end
  for i, c in ipairs(list) do table.insert(by_class[c], i) end
  for c = 1, C do   -- shuffle each class (nb's generator), so pieces are random samples
    local m = #by_class[c]
    if m > 1 then
      local p, src = nb.randperm(m):totable(), by_class[c]
      local sh = {}
      for i = 1, m do sh[i] = src[p[i]] end
      by_class[c] = sh
    end
  end
  local parts, all = {}, {}
  for j = 1, clients do parts[j], all[j] = {}, j end
  if o.alpha ~= nil then
    local alpha = U.num(F, 'alpha', o.alpha)
    if alpha <= 0 then U.fail(F, "'alpha' must be > 0, got %g", alpha) end
    local s = U.stream()
    for c = 1, C do cut(by_class[c], U.dirichlet(s, alpha, clients), parts, all) end
  else
    local k = U.int(F, 'classes_per_client', o.classes_per_client, nil, 1)
    if k > C then U.fail(F, "'classes_per_client' = %d but there are only %d classes", k, C) end
    local order = nb.randperm(C):totable()
    local holders = {}
    for c = 1, C do holders[c] = {} end
    for j = 1, clients do   -- client j takes the next k classes of a random cyclic order
      for t = 0, k - 1 do table.insert(holders[order[((j - 1) * k + t) % C + 1]], j) end
    end
    for c = 1, C do
      local h = holders[c]
      if #h > 0 then
        local props = {}
        for t = 1, #h do props[t] = 1 / #h end
        cut(by_class[c], props, parts, h)
      end
    end
  end
  local counts = {}
  for j = 1, clients do
    table.sort(parts[j])
    counts[j] = {}
    for c = 1, C do counts[j][c] = 0 end
    for _, i in ipairs(parts[j]) do counts[j][list[i]] = counts[j][list[i]] + 1 end
    parts[j] = index_tensor(parts[j])
  end
  return parts, counts
end

M.docs = {
  DataLoader = 'data.DataLoader(X, y?, {batch_size=1, shuffle=false, drop_last=false, seed=, '
    .. 'collate=}) — mini-batches: for xb, yb in loader:iter() do … end; #loader = batches',
  split = 'data.split(X, y?, {fractions={0.8,0.1,0.1}, seed=, shuffle=true}) — random parts, '
    .. 'each {X=, y=, idx=} (also [1], [2])',
  kfold = 'data.kfold(n, k, {seed=, shuffle=true}) — k folds {train_idx=, val_idx=} of 1..n '
    .. '(i64, sorted)',
  partition = 'data.partition(labels, {clients=, alpha=} or {clients=, classes_per_client=}) '
    .. '— non-IID client index sets (i64) and per-client class counts',
}
M.method_docs = {
  iter = 'loader:iter() — one pass: an iterator of (xb, yb) batches (a new shuffle each pass)',
  set_epoch = 'loader:set_epoch(e) — the pass whose seeded permutation the next iter() uses',
}

return M
