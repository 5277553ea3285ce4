-- data: data sets and batching for lessons.
--   data.fashion_mnist{split=, n=}    Fashion-MNIST from Debian's dataset-fashion-mnist package
--   data.blobs / moons / spirals / regression / gaussian_mixture / shapes   generated sets
--   data.DataLoader, data.split, data.kfold, data.partition   batches, splits, FL clients
-- Class labels are i64 and 1-based.  Random draws use nb's generator (nb.manual_seed).
local nb = require 'nabla'
local U = require 'data.util'
local synthetic = require 'data.synthetic'
local loader = require 'data.loader'
local M = {}

---------------------------------------------------------------------------- Fashion-MNIST
M.fashion_mnist_classes = {'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal',
                           'Shirt', 'Sneaker', 'Bag', 'Ankle boot'}
M.fashion_mnist_dir = '/usr/share/datasets/fashion-mnist'   -- where the Debian package puts it

local FILES = {
  train = {'train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'},
  test = {'t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'},
}

-- Decoded tensors per split for this session: {images=, labels=, rows=, complete=}.  Reading
-- n < 60000 decodes only the first n samples; a later larger request reads again.
local cache = {}

local function data_dir()
  local env = os.getenv('NABLA_DATA')
  if env and env ~= '' then return env, true end
  return M.fashion_mnist_dir, false
end

local function find(dir, from_env, name)
  local path = dir .. '/' .. name
  local f = io.open(path, 'rb')
  if f then
    f:close()
    return path
  end
  local where = from_env and ('NABLA_DATA=' .. dir) or dir
  U.fail('data.fashion_mnist', 'Fashion-MNIST not found: no %s in %s. Install the Debian '
         .. 'package dataset-fashion-mnist (sudo apt install dataset-fashion-mnist), or set '
         .. 'NABLA_DATA to a folder holding the four *-ubyte.gz files', name, where)
end

local function read_split(split, n)
  local F = 'data.fashion_mnist'
  local dir, from_env = data_dir()
  local ipath = find(dir, from_env, FILES[split][1])
  local lpath = find(dir, from_env, FILES[split][2])
  local ok, images = pcall(nb._read_idx, ipath, 'f32', n or -1)
  if not ok then U.fail(F, '%s', images) end
  local labels
  ok, labels = pcall(nb._read_idx, lpath, 'i64', n or -1)
  if not ok then U.fail(F, '%s', labels) end
  local s = images.shape
  if #s ~= 3 or s[2] ~= 28 or s[3] ~= 28 then
    U.fail(F, '%s holds shape [%s], expected [N,28,28]', ipath, table.concat(s, ','))
  end
  if labels:dim() ~= 1 or labels:size(1) ~= s[1] then
    U.fail(F, '%s has %d labels for %d images in %s', lpath, labels:size(1), s[1], ipath)
  end
  -- bytes 0..255 -> [0, 1] like torchvision's ToTensor; labels 0..9 -> class ids 1..10
  return {images = (images / 255):reshape(s[1], 1, 28, 28), labels = labels + 1, rows = s[1],
          complete = n == nil or s[1] < n}
end

function M.fashion_mnist(opts)
  local F = 'data.fashion_mnist'
  local o = U.check_opts(F, opts, {'split', 'n'})
  local split = o.split or 'train'
  if FILES[split] == nil then
    U.fail(F, "split must be 'train' or 'test', got %s", tostring(split))
  end
  local n = o.n ~= nil and U.int(F, 'n', o.n, nil, 1) or nil
  local c = cache[split]
  if c == nil or (not c.complete and (n == nil or n > c.rows)) then
    c = read_split(split, n)
    cache[split] = c
  end
  if n and n > c.rows then
    U.fail(F, 'n = %d, but the %s split has only %d samples', n, split, c.rows)
  end
  if n == nil or n == c.rows then return c.images, c.labels end
  return c.images:narrow(1, 1, n), c.labels:narrow(1, 1, n)
end

-- Drops the session cache (tests, or to free ~200 MB after training).
function M.clear_cache()
  cache = {}
end

---------------------------------------------------------------------------- the rest
for _, mod in ipairs({synthetic, loader}) do
  for k, v in pairs(mod) do
    if k ~= 'docs' and k ~= 'method_docs' then M[k] = v end
  end
end

local docs = {
  fashion_mnist = 'data.fashion_mnist{split=\'train\'|\'test\', n=} — images [N,1,28,28] f32 in '
    .. '[0,1] and labels i64 1..10 (names: data.fashion_mnist_classes); cached per session',
  clear_cache = 'data.clear_cache() — forget the decoded Fashion-MNIST tensors',
}
for _, d in ipairs({docs, synthetic.docs, loader.docs}) do
  for k, v in pairs(d) do nb.doc(M[k], v) end
end
for k, v in pairs(loader.method_docs) do nb.doc(loader.DataLoader_class[k], v) end

return M
