-- data: Fashion-MNIST (checked against the raw bytes through `gzip -dc`, an independent
-- decoder), IDX files that are truncated or corrupt (generated here), the synthetic sets'
-- shapes and statistics, client partitions, DataLoader coverage and seeding, split, kfold.
local nb = require 'nabla'
local H = require 'harness'
local data = require 'data'

local tmp = {}
local function tmpfile()
  tmp[#tmp + 1] = os.tmpname()
  return tmp[#tmp]
end
local function write(path, bytes)
  local f = assert(io.open(path, 'wb'))
  f:write(bytes)
  f:close()
  return path
end
local function slurp(path)
  local f = assert(io.open(path, 'rb'))
  local s = f:read('a')
  f:close()
  return s
end
local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
local have_gzip = os.execute('gzip --version >/dev/null 2>&1')
local function gzip(bytes)
  local raw = write(tmpfile(), bytes)
  local gz = tmpfile()
  assert(os.execute('gzip -c ' .. sh_quote(raw) .. ' > ' .. sh_quote(gz)))
  return slurp(gz)
end
local function list(t) return nb.is_tensor(t) and t:reshape(-1):totable() or t end
local function shape(t) return table.concat(t.shape, ',') end

-- Fashion-MNIST ----------------------------------------------------------------------------
local dir = os.getenv('NABLA_DATA') or data.fashion_mnist_dir
local installed = io.open(dir .. '/t10k-labels-idx1-ubyte.gz', 'rb')
if installed then installed:close() end
H.check(#data.fashion_mnist_classes == 10 and data.fashion_mnist_classes[10] == 'Ankle boot',
        'class names')
if installed and have_gzip then
  local X, y = data.fashion_mnist{split = 'test'}
  H.check(shape(X) == '10000,1,28,28' and X.dtype == 'f32', 'test images [10000,1,28,28] f32')
  H.check(shape(y) == '10000' and y.dtype == 'i64', 'test labels [10000] i64')
  H.check(X:min():item() == 0 and X:max():item() == 1, 'pixels span [0, 1]')
  H.check(y:min():item() == 1 and y:max():item() == 10, 'labels span 1..10')
  H.check(y:eq(1):sum():item() == 1000, 'the test split has 1000 of each class')
  -- the raw files through an independent decoder: IDX labels start at byte 8, images at 16
  local function raw(name, count)
    local p = io.popen('gzip -dc ' .. sh_quote(dir .. '/' .. name) .. ' | head -c ' .. count)
    local s = p:read('a')
    p:close()
    return s
  end
  local rl = raw('t10k-labels-idx1-ubyte.gz', 8 + 5)
  H.check(rl:byte(9) + 1 == 10 and rl:byte(10) + 1 == 3 and rl:byte(11) + 1 == 2,
          'first test labels are Ankle boot, Pullover, Trouser in the file')
  H.check(y:get(1) == rl:byte(9) + 1 and y:get(2) == rl:byte(10) + 1 and
          y:get(5) == rl:byte(13) + 1, 'labels match the raw bytes + 1')
  H.check(y:get(1) == 10 and y:get(2) == 3 and y:get(3) == 2, 'labels 10, 3, 2')
  local ri = raw('t10k-images-idx3-ubyte.gz', 16 + 2 * 784)
  local px, ok = X[2]:reshape(-1):totable(), true
  for k = 1, 784 do ok = ok and math.abs(px[k] - ri:byte(16 + 784 + k) / 255) < 1e-7 end
  H.check(ok, 'image 2 equals its raw bytes / 255')
  local X2, y2 = data.fashion_mnist{split = 'test'}
  H.check(X2 == X and y2 == y, 'the session cache returns the same tensors')
  local X5, y5 = data.fashion_mnist{split = 'test', n = 5}
  H.check(shape(X5) == '5,1,28,28' and nb.equal(y5, y:narrow(1, 1, 5)), 'n = 5 from the cache')
  local Xt, yt = data.fashion_mnist{n = 3}
  local rt = raw('train-labels-idx1-ubyte.gz', 8 + 3)
  H.check(shape(Xt) == '3,1,28,28' and yt:get(1) == rt:byte(9) + 1 and yt:get(1) == 10,
          'train split, first 3 (the first training label is Ankle boot)')
  H.checkerror('split must be', data.fashion_mnist, {split = 'val'})
  H.checkerror("unknown option 'batch'", data.fashion_mnist, {batch = 3})
  H.checkerror('n = 20000, but the test split has only 10000', data.fashion_mnist,
               {split = 'test', n = 20000})
else
  print('skip: Fashion-MNIST (dataset-fashion-mnist) or gzip not installed')
end

-- a missing data set names the package (NABLA_DATA is set in a child process)
local lua = arg and arg[-1] or 'lua5.4'
local probe = io.popen('NABLA_DATA=/nonexistent/fmnist ' .. sh_quote(lua) ..
                       ' -e "local ok, e = pcall(require(\'data\').fashion_mnist) print(e)" 2>&1')
local out = probe:read('a')
probe:close()
H.check(out:find('dataset-fashion-mnist', 1, true) and out:find('NABLA_DATA=/nonexistent', 1, true)
        and out:find('train-images-idx3-ubyte.gz', 1, true), 'missing data set: %s', out)

-- IDX files, plain and gzipped, good and bad ---------------------------------------------------
local function idx(code, dims, body)
  return string.pack('>BBBB', 0, 0, code, #dims) .. string.pack(('>I4'):rep(#dims),
                                                                 table.unpack(dims)) .. body
end
local t = nb._read_idx(write(tmpfile(), idx(0x08, {2, 3}, '\0\1\2\3\4\255')))
H.check(shape(t) == '2,3' and t.dtype == 'f32' and t:get(2, 3) == 255, 'plain IDX u8 -> f32')
t = nb._read_idx(write(tmpfile(), idx(0x0B, {3}, string.pack('>i2>i2>i2', -2, 300, 7))), 'i64')
H.close(t:totable(), {-2, 300, 7}, 0, 'IDX big-endian i16 -> i64')
t = nb._read_idx(write(tmpfile(), idx(0x0D, {2}, string.pack('>f>f', 1.5, -0.25))), 'f64')
H.close(t:totable(), {1.5, -0.25}, 0, 'IDX big-endian f32 -> f64')
t = nb._read_idx(write(tmpfile(), idx(0x08, {4, 2}, '\1\2\3\4\5\6\7\8')), 'f32', 2)
H.check(shape(t) == '2,2' and t:get(2, 2) == 4, 'IDX rows limit reads the first rows only')

local bad_idx = {
  {'', 'truncated: the data ends at byte offset 0'},
  {'\0\0\8', 'truncated'},
  {string.pack('>I4', 0x12340803), 'bad magic number 0x12340803 at byte offset 0'},
  {string.pack('>I4', 0x00000A01), 'bad magic number 0x00000a01'},
  {string.pack('>I4', 0x00000809), 'bad magic number'},
  {idx(0x08, {2, 3}, '\1\2\3\4\5'), 'truncated: the IDX header (shape [2,3]) needs 18 bytes'},
  {idx(0x08, {2}, '\1\2\3'), 'unexpected data after the last entry (at byte offset 10'},
  {idx(0x08, {100000, 28, 28}, '\0'), 'needs 78400016 bytes, but the file ends at byte offset 17'},
  {idx(0x08, {2, 3, 4, 5, 6, 7, 8, 9, 10}, ''), 'bad magic number'},
  {idx(0x08, {2, 0xFFFFFFFF, 0xFFFFFFFF}, ''), 'implausibly large'},
  {idx(0x0D, {1}, string.pack('>f', 1e30)), 'which does not fit in i64', 'i64'},
}
for _, case in ipairs(bad_idx) do
  local path = write(tmpfile(), case[1])
  local msg = H.checkerror(case[2], nb._read_idx, path, case[3])
  H.check(msg:find(path, 1, true), 'IDX message names the file: %s', msg)
end
H.checkerror('cannot open', nb._read_idx, '/nonexistent/x.gz')

if have_gzip then
  local good = idx(0x08, {3, 2, 2}, ('\7'):rep(12))
  local gz = gzip(good)
  t = nb._read_idx(write(tmpfile(), gz))
  H.check(shape(t) == '3,2,2' and t:sum():item() == 84, 'gzipped IDX')
  local cut = write(tmpfile(), gz:sub(1, #gz - 12))   -- the gzip stream itself is cut short
  H.checkerror('truncated: the data ends at byte offset', nb._read_idx, cut)
  local short = write(tmpfile(), gzip(idx(0x08, {3, 2, 2}, ('\7'):rep(10))))
  H.checkerror('truncated: the data ends at byte offset 26 (decompressed), but the IDX header '
               .. 'needs 28 bytes', nb._read_idx, short)
  local crc_bad = gz:sub(1, #gz - 8) .. string.char((gz:byte(#gz - 7) + 1) % 256) .. gz:sub(-7)
  H.checkerror('corrupt gzip data', nb._read_idx, write(tmpfile(), crc_bad))
  local noise = {}
  for k = 1, 4000 do noise[k] = string.char((k * 7919 + k // 13) % 251) end
  local big = gzip(idx(0x08, {4000}, table.concat(noise)))
  local mid = #big // 2
  local flipped = big:sub(1, mid - 1) .. string.char(big:byte(mid) ~ 0xFF) .. big:sub(mid + 1)
  H.checkerror('corrupt gzip data (found reading from byte offset', nb._read_idx, write(tmpfile(), flipped))
  local magic = write(tmpfile(), gzip(string.pack('>I4', 0x00000809) .. ('\0'):rep(64)))
  H.checkerror('bad magic number 0x00000809 at byte offset 0', nb._read_idx, magic)
  local forged = write(tmpfile(), gzip(idx(0x08, {60000, 28, 28}, ('\0'):rep(100))))
  H.checkerror('more than a', nb._read_idx, forged)

  -- the same through data.fashion_mnist, with a folder of generated files
  local folder = os.tmpname()
  os.remove(folder)
  assert(os.execute('mkdir -p ' .. sh_quote(folder)))
  local function put(name, bytes) write(folder .. '/' .. name, gzip(bytes)) end
  local pixels = {}
  for k = 1, 2 * 784 do pixels[k] = string.char(k % 256) end
  put('t10k-images-idx3-ubyte.gz', idx(0x08, {2, 28, 28}, table.concat(pixels)))
  put('t10k-labels-idx1-ubyte.gz', idx(0x08, {2}, '\9\0'))
  put('train-images-idx3-ubyte.gz', idx(0x08, {2, 28, 28}, table.concat(pixels):sub(1, 1000)))
  put('train-labels-idx1-ubyte.gz', idx(0x08, {3}, '\1\2\3'))
  local saved = data.fashion_mnist_dir
  if not os.getenv('NABLA_DATA') then
    data.clear_cache()
    data.fashion_mnist_dir = folder
    local X, y = data.fashion_mnist{split = 'test'}
    H.check(shape(X) == '2,1,28,28' and y:get(1) == 10 and y:get(2) == 1, 'generated set loads')
    H.close(X:get(1, 1, 1, 2), 2 / 255, 1e-7, 'pixel scaling')
    local msg = H.checkerror('truncated', data.fashion_mnist, {split = 'train'})
    H.check(msg:find('train-images-idx3-ubyte.gz', 1, true), 'names the file: %s', msg)
    put('train-images-idx3-ubyte.gz', idx(0x08, {2, 28, 28}, table.concat(pixels)))
    H.checkerror('has 3 labels for 2 images', data.fashion_mnist, {split = 'train'})
    put('train-images-idx3-ubyte.gz', idx(0x08, {3, 27, 28}, ('\0'):rep(3 * 27 * 28)))
    H.checkerror('expected [N,28,28]', data.fashion_mnist, {split = 'train'})
    os.remove(folder .. '/train-labels-idx1-ubyte.gz')
    H.checkerror('dataset-fashion-mnist', data.fashion_mnist, {split = 'train'})
    data.fashion_mnist_dir = saved
    data.clear_cache()
  end
  for _, name in ipairs({'t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz',
                         'train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'}) do
    os.remove(folder .. '/' .. name)
  end
  os.remove(folder)
end

-- synthetic sets ------------------------------------------------------------------------------
local function mean_rows(X, y, c)   -- mean of the rows of X whose label is c
  local xs, ys, sum, n = X:totable(), list(y), {}, 0
  for i, row in ipairs(xs) do
    if ys[i] == c then
      n = n + 1
      for d, v in ipairs(row) do sum[d] = (sum[d] or 0) + v end
    end
  end
  for d in ipairs(sum) do sum[d] = sum[d] / n end
  return sum, n
end

nb.manual_seed(11)
local X, y, C = data.blobs{n = 3000, centers = {{0, 0}, {5, 5}, {-5, 5}}, std = 0.5}
H.check(shape(X) == '3000,2' and y.dtype == 'i64' and shape(C) == '3,2', 'blobs shapes')
for c = 1, 3 do
  local m, n = mean_rows(X, y, c)
  H.check(n == 1000, 'blobs: 1000 per class, got %d', n)
  H.close(m, C[c]:totable(), 0.05, 'blob ' .. c .. ' mean near its center')
end
local U = require 'data.util'
local resid = X - U.rows(C, y)
H.close(resid:std():item(), 0.5, 0.03, 'blobs: spread is std')
X, y, C = data.blobs{n = 10, centers = 4, dim = 3}
H.check(shape(X) == '10,3' and shape(C) == '4,3' and y:max():item() <= 4, 'blobs random centers')
H.check(C:abs():max():item() <= 10, 'random centers inside the box [-10, 10]')
X = data.blobs{n = 400, centers = {{0}, {100}}, std = {0.1, 3}}
H.check(shape(X) == '400,1', 'blobs with one std per center')
H.checkerror("unknown option 'sigma'", data.blobs, {sigma = 1})
H.checkerror("'std' has 3 entries for 2 centers", data.blobs,
             {centers = {{0}, {1}}, std = {1, 2, 3}})
H.checkerror("option 'n' must be >= 1", data.blobs, {n = 0})

nb.manual_seed(1)
local A1 = data.blobs{n = 50}
nb.manual_seed(1)
local A2 = data.blobs{n = 50}
H.check(nb.equal(A1, A2), 'nb.manual_seed makes the sets reproducible')

X, y = data.moons{n = 101, noise = 0}
H.check(shape(X) == '101,2' and y:eq(1):sum():item() == 50 and y:eq(2):sum():item() == 51,
        'moons: n // 2 outer, the rest inner')
local ok = true
for i, row in ipairs(X:totable()) do
  local c = list(y)[i] == 1 and {0, 0} or {1, 0.5}
  ok = ok and math.abs((row[1] - c[1]) ^ 2 + (row[2] - c[2]) ^ 2 - 1) < 1e-5
end
H.check(ok, 'moons without noise lie on their unit half circles')
X = data.moons{n = 2000, noise = 0.1}
H.close(X:mean(1):totable(), {0.5, 0.25}, 0.02, 'moons: centroid (0.5, 0.25)')

X, y = data.spirals{n = 301, classes = 3, noise = 0}
H.check(shape(X) == '301,2' and y:eq(1):sum():item() == 101 and y:eq(3):sum():item() == 100,
        'spirals: classes balanced')
H.check((X * X):sum(2):max():item() <= 1 + 1e-6, 'spirals: radius <= 1')

local w_true = {1, -2, 0.5}
local Xr, yr, w = data.regression{n = 50, w = w_true, noise = 0, dtype = 'f64'}
H.check(shape(Xr) == '50,3' and shape(yr) == '50' and Xr.dtype == 'f64', 'regression shapes')
H.close(w:totable(), w_true, 0, 'regression returns w_true')
H.close(yr, (Xr * nb.tensor(w_true, {dtype = 'f64'})):sum(2), 1e-12, 'noise = 0: y = X w')
Xr, yr = data.regression{n = 20000, d = 2, correlation = 0.8, noise = 0.5, w = {0, 0}, bias = 3}
local metrics = require 'metrics'
H.close(metrics.pearson(Xr:select(2, 1), Xr:select(2, 2)), 0.8, 0.02, 'feature correlation 0.8')
H.close(Xr:std(1):totable(), {1, 1}, 0.03, 'unit-variance features')
H.close(yr:mean():item(), 3, 0.02, 'bias')
H.close(yr:std():item(), 0.5, 0.02, 'noise std')
H.checkerror("'correlation' must be in [0, 1)", data.regression, {correlation = 1})
H.checkerror("'w' has 2 entries but d = 3", data.regression, {w = {1, 2}, d = 3})

local S, centers, mode = data.gaussian_mixture{n = 2000, modes = 8, radius = 2, std = 0.02}
H.check(shape(S) == '2000,2' and shape(centers) == '8,2' and mode.dtype == 'i64', 'mixture shapes')
H.close((centers * centers):sum(2):sqrt():totable(), {2, 2, 2, 2, 2, 2, 2, 2}, 1e-6,
        'modes on the circle of radius 2')
H.check((S - U.rows(centers, mode)):abs():max():item() < 0.02 * 6, 'samples near their mode')
H.check(mode:min():item() == 1 and mode:max():item() == 8, 'every mode is drawn')
local S1, c1 = data.gaussian_mixture{n = 10, modes = 5, dim = 1, radius = 4}
H.check(shape(S1) == '10,1', '1-D mixture')
H.close(c1:reshape(-1):totable(), {-4, -2, 0, 2, 4}, 1e-6, '1-D modes on a line')
H.checkerror("'dim' must be 1", data.gaussian_mixture, {dim = 3})

local imgs, masks, labels = data.shapes{n = 60, size = 32}
H.check(shape(imgs) == '60,1,32,32' and shape(masks) == '60,32,32' and masks.dtype == 'i64',
        'shapes: images [N,1,H,W], masks [N,H,W] i64')
H.check(masks:min():item() == 1 and masks:max():item() <= 4, 'mask ids 1..4')
H.check(nb.equal(imgs:reshape(60, 32, 32):gt(0), masks:gt(1):to('f32')),
        'a pixel is painted exactly where the mask has a shape')
local lab, mk, agree = list(labels), masks:reshape(60, -1):max(2):totable(), true
for i = 1, 60 do agree = agree and mk[i] == lab[i] + 1 end
H.check(agree and labels:min():item() >= 1 and labels:max():item() <= 3,
        "each image's mask holds its label's class")
local area = masks:gt(1):to('f32'):reshape(60, -1):sum(2)
H.check(area:min():item() >= 10, 'every shape covers some pixels')
local noisy = data.shapes{n = 2, size = 16, noise = 0.1, shapes_per_image = 2}
H.check(shape(noisy) == '2,1,16,16', 'shapes with noise, two per image')
H.check(#data.shapes_classes == 4, 'shape class names')

-- partitions ----------------------------------------------------------------------------------
local lbl = {}
for i = 1, 1000 do lbl[i] = (i - 1) % 10 + 1 end
local labels_t = nb.tensor(lbl, {dtype = 'i64'})
local function covers(parts, n)
  local seen, total = {}, 0
  for _, p in ipairs(parts) do
    for _, i in ipairs(list(p)) do
      if seen[i] then return false end
      seen[i], total = true, total + 1
    end
  end
  return total == n
end
nb.manual_seed(3)
local parts, counts = data.partition(labels_t, {clients = 5, alpha = 0.1})
H.check(#parts == 5 and covers(parts, 1000), 'Dirichlet: every sample in exactly one client')
local max_share = 0
for j = 1, 5 do
  local n, top = 0, 0
  for c = 1, 10 do n, top = n + counts[j][c], math.max(top, counts[j][c]) end
  if n > 0 then max_share = math.max(max_share, top / n) end
end
H.check(max_share > 0.5, 'alpha = 0.1 is skewed (largest class share %.2f)', max_share)
parts, counts = data.partition(labels_t, {clients = 4, alpha = 1000})
local even = true
for j = 1, 4 do for c = 1, 10 do even = even and math.abs(counts[j][c] - 25) <= 8 end end
H.check(even and covers(parts, 1000), 'alpha = 1000 is close to IID')
nb.manual_seed(9)
local pa = data.partition(lbl, {clients = 3, alpha = 0.5})
nb.manual_seed(9)
local pb = data.partition(lbl, {clients = 3, alpha = 0.5})
H.check(nb.equal(pa[1], pb[1]) and nb.equal(pa[3], pb[3]), 'partitions are seeded')
parts, counts = data.partition(labels_t, {clients = 5, classes_per_client = 2})
local k_ok = covers(parts, 1000)
for j = 1, 5 do
  local k = 0
  for c = 1, 10 do if counts[j][c] > 0 then k = k + 1 end end
  k_ok = k_ok and k == 2 and parts[j]:numel() == 200
end
H.check(k_ok, '2 classes per client, 5 clients cover 10 classes')
parts, counts = data.partition(labels_t, {clients = 10, classes_per_client = 3})
k_ok = covers(parts, 1000)
for j = 1, 10 do
  local k = 0
  for c = 1, 10 do if counts[j][c] > 0 then k = k + 1 end end
  k_ok = k_ok and k == 3
end
H.check(k_ok, '3 classes per client, shared classes split among their holders')
H.check(counts[1][1] + counts[1][2] >= 0 and parts[1].dtype == 'i64', 'index tensors are i64')
H.checkerror("exactly one of 'alpha'", data.partition, lbl, {clients = 2})
H.checkerror('class ids are 1-based', data.partition, {0, 1}, {clients = 2, alpha = 1})
H.checkerror("only 10 classes", data.partition, lbl, {clients = 2, classes_per_client = 11})

-- row gathering: the C fallback and index_select (when bound) agree -----------------------------
local M3 = nb.arange(1, 12):reshape(4, 3)
local pick = nb.tensor({4, 1, 4}, {dtype = 'i64'})
local taken = nb._take_rows(M3, pick)
H.close(taken:totable(), {{10, 11, 12}, {1, 2, 3}, {10, 11, 12}}, 0, '_take_rows')
if nb._methods.index_select then
  H.check(nb.equal(taken, M3:index_select(1, pick)), '_take_rows matches index_select')
end
H.checkerror('bad argument #2', nb._take_rows, M3, nb.tensor({5}, {dtype = 'i64'}))
H.checkerror('bad argument #1', nb._take_rows, nb.tensor(1), pick)
local p1 = nb._randperm_seeded(6, 99)
nb.manual_seed(99)
H.check(nb.equal(p1, nb.randperm(6)), '_randperm_seeded(n, s) = randperm after manual_seed(s)')

-- DataLoader --------------------------------------------------------------------------------
local Xs = nb.arange(1, 10):reshape(10, 1)
local ys = nb.arange(101, 110, 'i64')
local loader = data.DataLoader(Xs, ys, {batch_size = 3})
H.check(#loader == 4, '#loader = ceil(10 / 3)')
local sizes, seen, pairs_ok = {}, {}, true
for xb, yb in loader:iter() do
  sizes[#sizes + 1] = xb:size(1)
  for i, v in ipairs(list(xb)) do
    seen[#seen + 1] = math.tointeger(v)
    pairs_ok = pairs_ok and list(yb)[i] == v + 100
  end
end
H.check(table.concat(sizes, ',') == '3,3,3,1', 'batch sizes 3,3,3,1')
H.check(table.concat(seen, ',') == '1,2,3,4,5,6,7,8,9,10', 'unshuffled: in order, each once')
H.check(pairs_ok, 'x and y stay paired')

local function epoch(l)
  local got, batches = {}, 0
  for xb, yb in l() do   -- __call is iter
    batches = batches + 1
    local yl = list(yb)
    for i, v in ipairs(list(xb)) do
      got[#got + 1] = math.tointeger(v)
      pairs_ok = pairs_ok and yl[i] == v + 100
    end
  end
  return got, batches
end
local function sorted_ok(got, n)
  local s = {table.unpack(got)}
  table.sort(s)
  for i = 1, n do if s[i] ~= i then return false end end
  return #s == n
end
local sl = data.DataLoader(Xs, ys, {batch_size = 4, shuffle = true, seed = 5})
local e1, nbatch = epoch(sl)
local e2 = epoch(sl)
H.check(nbatch == 3 and sorted_ok(e1, 10) and sorted_ok(e2, 10), 'shuffled: every sample once')
H.check(table.concat(e1, ',') ~= table.concat(e2, ','), 'a new order each epoch')
local sl2 = data.DataLoader(Xs, ys, {batch_size = 4, shuffle = true, seed = 5})
H.check(table.concat(epoch(sl2), ',') == table.concat(e1, ','), 'the same seed, the same order')
sl2:set_epoch(1)
H.check(table.concat(epoch(sl2), ',') == table.concat(e2, ','), 'set_epoch replays an epoch')
nb.manual_seed(5)
local first = list(nb.randperm(10))
H.check(table.concat(first, ',') == table.concat(e1, ','), 'seed s = nb.manual_seed(s); randperm')
local dl = data.DataLoader(Xs, ys, {batch_size = 4, shuffle = true, drop_last = true})
local e3, nb3 = epoch(dl)
H.check(#dl == 2 and nb3 == 2 and #e3 == 8, 'drop_last drops the short batch')
H.check(pairs_ok, 'shuffled x and y stay paired')
local xonly = data.DataLoader(Xs, {batch_size = 5})
local cnt = 0
for xb, yb in xonly:iter() do cnt = cnt + (yb == nil and xb:size(1) or 0) end
H.check(cnt == 10, 'a loader without y')
local col = data.DataLoader(Xs, ys, {batch_size = 10, collate = function(xb, yb)
  return {x = xb, y = yb, n = xb:size(1)} end})
for b in col:iter() do H.check(b.n == 10 and b.y:get(1) == 101, 'collate') end
local img = nb.randn(20, 1, 4, 4)
local il = data.DataLoader(img, {batch_size = 8, shuffle = true, seed = 1})
for xb in il:iter() do
  H.check(shape(xb):sub(-6) == ',1,4,4', 'image batches keep their trailing shape')
  break
end
H.check(tostring(loader):find('10 samples', 1, true), 'tostring')
H.checkerror('X has 10 samples but y has 3', data.DataLoader, Xs, nb.zeros(3), {})
H.checkerror("unknown option 'batchsize'", data.DataLoader, Xs, ys, {batchsize = 2})
H.checkerror("option 'batch_size' must be >= 1", data.DataLoader, Xs, ys, {batch_size = 0})
H.checkerror('X must be a tensor', data.DataLoader, {1, 2}, nil, {})

-- split and kfold ---------------------------------------------------------------------------
local Xb = nb.arange(1, 100):reshape(100, 1)
local yb = nb.arange(1, 100, 'i64')
local tr, va, te = data.split(Xb, yb, {seed = 2})
H.check(tr.X:size(1) == 80 and va.X:size(1) == 10 and te.y:size(1) == 10, 'split 80/10/10')
local all = {}
for _, part in ipairs({tr, va, te}) do
  H.check(nb.equal(part.X:reshape(-1), part.y:to('f32')), 'split keeps x and y paired')
  for _, v in ipairs(list(part.y)) do all[#all + 1] = v end
end
H.check(sorted_ok(all, 100), 'the parts are disjoint and cover everything')
local tr2 = data.split(Xb, yb, {seed = 2})
H.check(nb.equal(tr2.y, tr.y) and tr2[2] == tr2.y, 'seeded split is reproducible')
local a, b = data.split(Xb, {fractions = {0.33, 0.67}, shuffle = false})
H.check(a.X:size(1) == 33 and b.X:size(1) == 67 and a.X:get(1, 1) == 1 and a.y == nil,
        'unshuffled two-way split without y')
H.checkerror('fractions must sum to 1', data.split, Xb, yb, {fractions = {0.5, 0.4}})

local folds = data.kfold(10, 3, {seed = 4})
H.check(#folds == 3, 'three folds')
local vals, sizes_ok = {}, true
for f, fold in ipairs(folds) do
  sizes_ok = sizes_ok and fold.val_idx:numel() == (f == 1 and 4 or 3) and
             fold.train_idx:numel() + fold.val_idx:numel() == 10 and fold[1] == fold.train_idx
  local inval = {}
  for _, v in ipairs(list(fold.val_idx)) do vals[#vals + 1] = v; inval[v] = true end
  for _, v in ipairs(list(fold.train_idx)) do sizes_ok = sizes_ok and not inval[v] end
end
H.check(sizes_ok and sorted_ok(vals, 10), 'folds of 4,3,3; each index validated once')
local f2 = data.kfold(10, 3, {seed = 4})
H.check(nb.equal(f2[2].val_idx, folds[2].val_idx), 'seeded folds are reproducible')
local plain = data.kfold(6, 3, {shuffle = false})
H.close(plain[2].val_idx:totable(), {3, 4}, 0, 'unshuffled folds are contiguous')
H.checkerror('k = 5 folds for only 4 samples', data.kfold, 4, 5)

-- docs -----------------------------------------------------------------------------------------
local undocumented = {}
for k, v in pairs(data) do
  if type(v) == 'function' and not nb._docs[v] then undocumented[#undocumented + 1] = k end
end
H.check(#undocumented == 0, 'every data function has a doc: missing %s',
        table.concat(undocumented, ', '))

for _, path in ipairs(tmp) do os.remove(path) end
H.report()
