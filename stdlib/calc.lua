-- calc: calculators for convolution arithmetic (output sizes, receptive fields, parameters,
-- multiply-accumulates), LoRA counts and MobileNet costs, each paired with a measurement on
-- real layers (count parameters, count multiplies by running the layers, find the receptive
-- field through autograd) so that formula and measurement can be shown side by side.
-- Pure Lua; the measurements need the nabla module (and nn modules for measure_macs).
local M = {}

local ok_nb, nb = pcall(require, 'nabla')
if not ok_nb then nb = nil end

local floor, ceil = math.floor, math.ceil

---------------------------------------------------------------------------- helpers
local function fail(fname, fmt, ...)
  error(string.format('calc.%s: ' .. fmt, fname, ...), 3)
end

-- n with thousands separators: 309329920 -> "309,329,920"; non-integers get 4 significant digits.
function M.fmt(n)
  if type(n) ~= 'number' then return tostring(n) end
  if n ~= floor(n) or math.abs(n) >= 2 ^ 63 then return string.format('%.4g', n) end
  local s = string.format('%d', n)
  local sign, digits = s:match('^(-?)(%d+)$')
  digits = digits:reverse():gsub('(%d%d%d)', '%1,'):reverse():gsub('^,', '')
  return sign .. digits
end

local function shape_str(s)
  if type(s) ~= 'table' then return tostring(s) end
  local t = {}
  for i, v in ipairs(s) do t[i] = tostring(v) end
  return table.concat(t, '×')
end
M.shape_str = shape_str

-- A plain-text table: rows is a list of tables, cols a list of {key, title} (or key strings).
-- Numbers are right-aligned with separators, shapes (tables) printed as a×b×c.
function M.table(rows, cols)
  local heads, keys = {}, {}
  for i, c in ipairs(cols) do
    if type(c) == 'table' then keys[i], heads[i] = c[1], c[2] or c[1]
    else keys[i], heads[i] = c, c end
  end
  local cells, width = {}, {}
  for j, h in ipairs(heads) do width[j] = utf8.len(h) or #h end
  for i, r in ipairs(rows) do
    cells[i] = {}
    for j, k in ipairs(keys) do
      local v = r[k]
      local s
      if v == nil then s = ''
      elseif type(v) == 'number' then s = M.fmt(v)
      elseif type(v) == 'table' then s = shape_str(v)
      else s = tostring(v) end
      cells[i][j] = s
      width[j] = math.max(width[j], utf8.len(s) or #s)
    end
  end
  local function pad(s, w, right)
    local n = w - (utf8.len(s) or #s)
    return right and (string.rep(' ', n) .. s) or (s .. string.rep(' ', n))
  end
  local lines = {}
  local h = {}
  for j, s in ipairs(heads) do h[j] = pad(s, width[j], j > 1) end
  lines[1] = table.concat(h, '  ')
  local rule = {}
  for j = 1, #heads do rule[j] = string.rep('-', width[j]) end
  lines[2] = table.concat(rule, '  ')
  for i = 1, #rows do
    local t = {}
    for j = 1, #keys do t[j] = pad(cells[i][j], width[j], j > 1) end
    lines[#lines + 1] = table.concat(t, '  ')
  end
  return table.concat(lines, '\n')
end

-- Rows printed as a table by tostring (and so by print and the REPL).
local function rows_object(rows, cols, footer)
  return setmetatable(rows, {__tostring = function(r)
    local s = M.table(r, cols)
    if footer then s = s .. '\n' .. footer(r) end
    return s
  end})
end

-- v (number or table) for spatial dimension i of nd.
local function per_dim(v, i, nd, fname, what)
  if type(v) == 'table' then
    if #v ~= nd then fail(fname, '%s has %d entries for %d spatial dimensions', what, #v, nd) end
    return v[i]
  end
  return v
end

local function check_pos_int(fname, what, v, allow_zero)
  if type(v) ~= 'number' or v ~= floor(v) or v < (allow_zero and 0 or 1) then
    fail(fname, '%s must be a %s integer, got %s', what, allow_zero and 'non-negative' or
         'positive', tostring(v))
  end
end

local function opts_of(fname, opts, allowed)
  if opts == nil then return {} end
  if type(opts) ~= 'table' then fail(fname, 'options table expected, got %s', type(opts)) end
  for k in pairs(opts) do
    if not allowed[k] then fail(fname, 'unknown option "%s"', tostring(k)) end
  end
  return opts
end

---------------------------------------------------------------------------- output sizes
-- One spatial dimension of a convolution.  'same' keeps ceil(n/s) (stride 1: n), as TensorFlow
-- defines it; PyTorch allows 'same' only with stride 1, where both agree.
local function conv1(fname, n, k, s, p, d)
  check_pos_int(fname, 'n', n); check_pos_int(fname, 'k', k)
  check_pos_int(fname, 'stride', s); check_pos_int(fname, 'dilation', d)
  if p == 'same' then
    local out = ceil(n / s)
    return out, string.format('same padding: ⌈%d/%d⌉ = %d', n, s, out)
  end
  if p == 'valid' then p = 0 end
  check_pos_int(fname, 'padding', p, true)
  local span = d * (k - 1) + 1
  local num = n + 2 * p - span
  if num < 0 then
    fail(fname, 'the kernel (extent %d) is larger than the padded input (%d)', span, n + 2 * p)
  end
  local out = num // s + 1
  local expr
  if d == 1 then
    expr = string.format('⌊(%d + 2·%d − %d)/%d⌋ + 1 = %d', n, p, k, s, out)
  else
    expr = string.format('⌊(%d + 2·%d − %d·(%d−1) − 1)/%d⌋ + 1 = %d', n, p, d, k, s, out)
  end
  return out, expr
end

local function map_dims(fname, n, f)
  if type(n) == 'table' then
    local out, exprs = {}, {}
    for i = 1, #n do out[i], exprs[i] = f(n[i], i, #n) end
    return out, table.concat(exprs, '; ')
  end
  return f(n, 1, 1)
end

local CONV_OPTS = {stride = true, padding = true, dilation = true}
function M.conv_out(n, k, opts)
  opts = opts_of('conv_out', opts, CONV_OPTS)
  return map_dims('conv_out', n, function(ni, i, nd)
    return conv1('conv_out', ni, per_dim(k, i, nd, 'conv_out', 'k'),
                 per_dim(opts.stride or 1, i, nd, 'conv_out', 'stride'),
                 per_dim(opts.padding or 0, i, nd, 'conv_out', 'padding'),
                 per_dim(opts.dilation or 1, i, nd, 'conv_out', 'dilation'))
  end)
end

-- Pooling follows PyTorch: stride defaults to k; with ceil_mode the last window may hang over
-- the end, but it must start inside the input or the left padding.
local function pool1(fname, n, k, s, p, d, ceil_mode)
  check_pos_int(fname, 'n', n); check_pos_int(fname, 'k', k)
  check_pos_int(fname, 'stride', s); check_pos_int(fname, 'dilation', d)
  check_pos_int(fname, 'padding', p, true)
  if 2 * p > k then fail(fname, 'padding %d is more than half the kernel %d', p, k) end
  local num = n + 2 * p - d * (k - 1) - 1
  if num < 0 then fail(fname, 'the window is larger than the padded input') end
  local out
  if ceil_mode then
    out = -((-num) // s) + 1
    if (out - 1) * s >= n + p then out = out - 1 end
  else
    out = num // s + 1
  end
  local br = ceil_mode and {'⌈', '⌉'} or {'⌊', '⌋'}
  return out, string.format('%s(%d + 2·%d − %d)/%d%s + 1 = %d', br[1], n, p,
                            d * (k - 1) + 1, s, br[2], out)
end

local POOL_OPTS = {stride = true, padding = true, dilation = true, ceil_mode = true}
function M.pool_out(n, k, opts)
  opts = opts_of('pool_out', opts, POOL_OPTS)
  return map_dims('pool_out', n, function(ni, i, nd)
    local ki = per_dim(k, i, nd, 'pool_out', 'k')
    return pool1('pool_out', ni, ki, per_dim(opts.stride or ki, i, nd, 'pool_out', 'stride'),
                 per_dim(opts.padding or 0, i, nd, 'pool_out', 'padding'),
                 per_dim(opts.dilation or 1, i, nd, 'pool_out', 'dilation'), opts.ceil_mode)
  end)
end

---------------------------------------------------------------------------- receptive field
local POOL_KINDS = {pool = true, maxpool = true, avgpool = true, max_pool = true, avg_pool = true}

-- r_l = r_{l-1} + (k_l − 1)·d_l·j_{l-1},  j_l = j_{l-1}·s_l,  r_0 = 1, j_0 = 1.
-- start_l (the input coordinate, 1-based, of the centre of output unit 1's field) follows
-- start_l = start_{l-1} + ((k_eff − 1)/2 − p_l)·j_{l-1}.
function M.receptive_field(layers)
  if type(layers) ~= 'table' then fail('receptive_field', 'a list of layers expected') end
  local r, j, start = 1, 1, 1
  local rows = {}
  for i, L in ipairs(layers) do
    local k = L.k or L.kernel
    if not k then fail('receptive_field', 'layer %d has no kernel size k', i) end
    local kind = L.kind or 'conv'
    local s = L.s or L.stride or (POOL_KINDS[kind] and k or 1)
    local d = L.d or L.dilation or 1
    local p = L.p or L.padding or 0
    check_pos_int('receptive_field', 'k', k); check_pos_int('receptive_field', 's', s)
    check_pos_int('receptive_field', 'd', d)
    local keff = d * (k - 1) + 1
    local grow = (keff - 1) * j
    start = start + ((keff - 1) / 2 - (type(p) == 'number' and p or 0)) * j
    r = r + grow
    j = j * s
    rows[i] = {layer = i, name = L.name or kind, kind = kind, k = k, s = s, d = d,
               field = r, jump = j, grow = grow, start = start}
  end
  rows.field, rows.jump = r, j
  rows_object(rows, {{'layer', '#'}, {'name', 'layer'}, 'k', 's', 'd',
                     {'grow', '+(k−1)·d·j'}, {'field', 'field r'}, {'jump', 'jump j'}},
              function(t) return string.format('receptive field %d×%d', t.field, t.field) end)
  return rows, r
end

---------------------------------------------------------------------------- parameters and MACs
local KIND_ALIAS = {
  conv = 'conv', conv2d = 'conv', conv1d = 'conv',
  depthwise = 'depthwise', dw = 'depthwise',
  pointwise = 'pointwise', pw = 'pointwise',
  depthwise_separable = 'depthwise_separable', separable = 'depthwise_separable',
  dws = 'depthwise_separable',
  linear = 'linear', fc = 'linear',
  pool = 'pool', maxpool = 'pool', avgpool = 'pool', max_pool = 'pool', avg_pool = 'pool',
  bn = 'bn', batchnorm = 'bn', batchnorm2d = 'bn',
  relu = 'act', act = 'act', activation = 'act', sigmoid = 'act', tanh = 'act',
  flatten = 'flatten',
}

local function kind_of(fname, spec)
  if type(spec) ~= 'table' then fail(fname, 'a layer spec table expected, got %s', type(spec)) end
  local k = KIND_ALIAS[spec.kind or '']
  if not k then fail(fname, 'unknown layer kind "%s"', tostring(spec.kind)) end
  return k
end

local function prod(t)
  local p = 1
  for _, v in ipairs(t) do p = p * v end
  return p
end

local function rep(v, n)
  local t = {}
  for i = 1, n do t[i] = v end
  return t
end

local function kernel_numel(k, nd)
  if type(k) == 'table' then return prod(k) end
  local n = 1
  for _ = 1, nd do n = n * k end
  return n
end

local function cin_of(spec) return spec.cin or spec.c or spec['in'] or spec.in_features end
local function cout_of(spec) return spec.cout or spec.out or spec.out_features end
local function has_bias(spec, default)
  if spec.bias == nil then return default end
  return spec.bias
end

-- Parameters of one layer; nd is the number of spatial dimensions (2 unless the kernel says so).
local function layer_params(fname, spec)
  local kind = kind_of(fname, spec)
  local nd = type(spec.k) == 'table' and #spec.k or (spec.nd or 2)
  if kind == 'conv' then
    local cin, cout, g = cin_of(spec), cout_of(spec), spec.groups or 1
    if not (cin and cout and spec.k) then fail(fname, 'conv needs cin, cout and k') end
    if cin % g ~= 0 or cout % g ~= 0 then
      fail(fname, 'groups=%d must divide cin=%d and cout=%d', g, cin, cout)
    end
    return cout * (cin // g) * kernel_numel(spec.k, nd) + (has_bias(spec, true) and cout or 0)
  elseif kind == 'depthwise' then
    local c, mult = cin_of(spec), spec.multiplier or 1
    if not (c and spec.k) then fail(fname, 'depthwise needs cin and k') end
    return c * mult * kernel_numel(spec.k, nd) + (has_bias(spec, true) and c * mult or 0)
  elseif kind == 'pointwise' then
    local cin, cout = cin_of(spec), cout_of(spec)
    if not (cin and cout) then fail(fname, 'pointwise needs cin and cout') end
    return cin * cout + (has_bias(spec, true) and cout or 0)
  elseif kind == 'depthwise_separable' then
    local cin, cout = cin_of(spec), cout_of(spec)
    if not (cin and cout and spec.k) then fail(fname, 'depthwise_separable needs cin, cout and k') end
    local b = has_bias(spec, true)
    return cin * kernel_numel(spec.k, nd) + (b and cin or 0) + cin * cout + (b and cout or 0)
  elseif kind == 'linear' then
    local fin, fout = cin_of(spec), cout_of(spec)
    if not (fin and fout) then fail(fname, 'linear needs in and out (or cin, cout)') end
    return fin * fout + (has_bias(spec, true) and fout or 0)
  elseif kind == 'bn' then
    local c = cin_of(spec)
    if not c then fail(fname, 'bn needs c') end
    return (spec.affine == false) and 0 or 2 * c
  end
  return 0   -- pool, activation, flatten
end

-- Output shape and cost of one layer for an input shape {C, spatial...} (no batch dimension).
-- Returns out_shape, macs, extra (a table: comparisons / adds for pooling).
local function layer_cost(fname, spec, shape)
  local kind = kind_of(fname, spec)
  local nd = #shape - 1
  if kind == 'linear' then
    local fin, fout = cin_of(spec), cout_of(spec)
    if shape[#shape] ~= fin then
      fail(fname, 'linear expects %d input features, got shape %s', fin, shape_str(shape))
    end
    local out = {}
    for i = 1, #shape - 1 do out[i] = shape[i] end
    out[#shape] = fout
    return out, prod(out) // fout * fin * fout, {}
  elseif kind == 'flatten' then
    return {prod(shape)}, 0, {}
  elseif kind == 'act' or kind == 'bn' then
    if kind == 'bn' and cin_of(spec) and cin_of(spec) ~= shape[1] then
      fail(fname, 'bn expects %d channels, got shape %s', cin_of(spec), shape_str(shape))
    end
    return shape, 0, {}
  end
  if nd < 1 then fail(fname, '%s needs an input shape {C, H, W}, got %s', kind, shape_str(shape)) end
  local c = shape[1]
  local k = spec.k or (kind == 'pointwise' and 1)
  if not k then fail(fname, '%s needs k', kind) end
  local spatial = {}
  for i = 2, #shape do spatial[i - 1] = shape[i] end
  local out_sp
  if kind == 'pool' then
    out_sp = M.pool_out(spatial, type(k) == 'table' and k or rep(k, nd),
                        {stride = spec.stride or spec.s, padding = spec.padding or spec.p,
                         dilation = spec.dilation, ceil_mode = spec.ceil_mode})
  else
    out_sp = M.conv_out(spatial, type(k) == 'table' and k or rep(k, nd),
                        {stride = spec.stride or spec.s or 1, padding = spec.padding or spec.p or 0,
                         dilation = spec.dilation or 1})
  end
  local npos = prod(out_sp)
  local kk = kernel_numel(k, nd)
  local cin = cin_of(spec)
  if kind ~= 'pool' and cin and cin ~= c then
    fail(fname, '%s expects %d input channels, got shape %s', kind, cin, shape_str(shape))
  end
  local cout, macs, extra
  if kind == 'conv' then
    local g = spec.groups or 1
    cout = cout_of(spec)
    macs = npos * cout * (c // g) * kk
    extra = {}
  elseif kind == 'depthwise' then
    cout = c * (spec.multiplier or 1)
    macs = npos * cout * kk
    extra = {}
  elseif kind == 'pointwise' then
    cout = cout_of(spec)
    macs = npos * c * cout
    extra = {}
  elseif kind == 'depthwise_separable' then
    cout = cout_of(spec)
    local dw, pw = npos * c * kk, npos * c * cout
    macs = dw + pw
    extra = {depthwise = dw, pointwise = pw}
  else -- pool: no multiplications; a max pool compares, an average pool adds
    cout = c
    macs = 0
    local windows = npos * c
    extra = {windows = windows, reads = windows * kk}
    if spec.mode == 'avg' or spec.kind == 'avgpool' or spec.kind == 'avg_pool' then
      extra.adds = windows * (kk - 1)
    else
      extra.comparisons = windows * (kk - 1)
    end
  end
  local out = {cout}
  for i, v in ipairs(out_sp) do out[i + 1] = v end
  return out, macs, extra
end

local function is_list(specs)
  return type(specs) == 'table' and specs.kind == nil and type(specs[1]) == 'table'
end

local NET_COLS = {{'layer', '#'}, {'name', 'layer'}, {'out_shape', 'output'},
                  {'params', 'params'}, {'macs', 'MACs'}}

local function net_footer(r)
  return string.format('total: %s parameters, %s multiply-accumulates', M.fmt(r.params),
                       M.fmt(r.macs))
end

-- Per-example input shapes; a 4-entry shape {N, C, H, W} counts N examples.
local function split_batch(shape, first)
  if type(shape) ~= 'table' then fail('macs', 'input_shape must be a table such as {3, 32, 32}') end
  local n = 1
  if #shape == 4 then
    n = shape[1]
    local s = {}
    for i = 2, 4 do s[i - 1] = shape[i] end
    shape = s
  end
  return shape, n
end

function M.params(spec)
  if is_list(spec) then
    local total, rows = 0, {}
    for i, s in ipairs(spec) do
      local p = layer_params('params', s)
      rows[i] = {layer = i, name = s.name or s.kind, params = p}
      total = total + p
    end
    rows.params = total
    rows_object(rows, {{'layer', '#'}, {'name', 'layer'}, 'params'},
                function(r) return 'total: ' .. M.fmt(r.params) .. ' parameters' end)
    return total, rows
  end
  return layer_params('params', spec)
end

-- macs(spec, shape) -> macs, out_shape, extra;  macs(list, shape) -> total, rows
-- (rows: layer, name, in_shape, out_shape, params, macs; rows.params, rows.macs, rows.out_shape).
function M.macs(spec, input_shape)
  local shape, batch = split_batch(input_shape, is_list(spec) and spec[1] or spec)
  if is_list(spec) then
    local rows, total, ptotal = {}, 0, 0
    for i, s in ipairs(spec) do
      local out, m, extra = layer_cost('macs', s, shape)
      local p = layer_params('macs', s)
      rows[i] = {layer = i, name = s.name or s.kind, kind = KIND_ALIAS[s.kind], in_shape = shape,
                 out_shape = out, params = p, macs = m * batch, extra = extra}
      total, ptotal = total + m * batch, ptotal + p
      shape = out
    end
    rows.macs, rows.params, rows.out_shape = total, ptotal, shape
    rows_object(rows, NET_COLS, net_footer)
    return total, rows
  end
  local out, m, extra = layer_cost('macs', spec, shape)
  return m * batch, out, extra
end

-- summary(specs, input_shape): the rows of macs(list) (printable), for a network of specs.
function M.summary(specs, input_shape)
  if not is_list(specs) then specs = {specs} end
  local _, rows = M.macs(specs, input_shape)
  return rows
end

---------------------------------------------------------------------------- LoRA
-- lora_params{d_model=, blocks=, r=, matrices=4 | {'q','v'} | {{d_in, d_out}, ...}, tasks=1,
-- bias=false}: per adapted d_in×d_out matrix LoRA trains B (d_out×r) and A (r×d_in).
function M.lora_params(o)
  if type(o) ~= 'table' then fail('lora_params', 'an options table expected') end
  local d, blocks, r = o.d_model, o.blocks or 1, o.r
  if not (d and r) then fail('lora_params', 'd_model and r are required') end
  local mats = o.matrices or 4
  local shapes = {}
  if type(mats) == 'number' then
    for i = 1, mats do shapes[i] = {d, d} end
  else
    for i, m in ipairs(mats) do shapes[i] = type(m) == 'table' and m or {d, d} end
  end
  local full_block, lora_block, bias_block = 0, 0, 0
  for _, s in ipairs(shapes) do
    full_block = full_block + s[1] * s[2]
    lora_block = lora_block + r * (s[1] + s[2])
    bias_block = bias_block + s[2]
  end
  local full = full_block * blocks + (o.bias and bias_block * blocks or 0)
  local lora = lora_block * blocks
  local T = o.tasks or 1
  local res = {
    per_matrix = r * (shapes[1][1] + shapes[1][2]), matrices = #shapes, blocks = blocks,
    full_per_block = full_block, lora_per_block = lora_block,
    full = full, lora = lora, ratio = full / lora, fraction = lora / full, tasks = T,
    storage_lora = full + T * lora, storage_full = T * full,
  }
  return setmetatable(res, {__tostring = function(t)
    return string.format(
      'adapted matrices: %d per block × %d blocks\n' ..
      'full fine-tuning: %s trainable\nLoRA r=%d:        %s trainable (%s per matrix)\n' ..
      'ratio:            %.6g×\nstorage for %d task(s): LoRA %s  vs  full %s',
      t.matrices, t.blocks, M.fmt(t.full), r, M.fmt(t.lora), M.fmt(t.per_matrix), t.ratio,
      t.tasks, M.fmt(t.storage_lora), M.fmt(t.storage_full))
  end})
end

---------------------------------------------------------------------------- MobileNet
-- (D_k²·M·D_F² + M·N·D_F²) / (D_k²·M·N·D_F²) = 1/N + 1/D_k²
function M.mobilenet_ratio(N, Dk)
  return 1 / N + 1 / (Dk * Dk)
end

local function int(v) return math.tointeger(v) or v end

-- Multiply-accumulates of a standard D_k×D_k conv, M→N channels, on a D_F×D_F output map,
-- with width multiplier alpha (channels αM, αN) and resolution multiplier rho (map ρD_F).
function M.standard_cost(o)
  local a, rho = o.alpha or 1, o.rho or 1
  local DF = o.DF * rho
  return int(o.Dk * o.Dk * (a * o.M) * (a * o.N) * DF * DF)
end

-- Depthwise-separable cost D_k²·αM·(ρD_F)² + αM·αN·(ρD_F)²; second value: the ratio to the
-- baseline (alpha = rho = 1) separable layer.
function M.mobilenet_cost(o)
  if type(o) ~= 'table' or not (o.Dk and o.M and o.N and o.DF) then
    fail('mobilenet_cost', 'needs {Dk=, M=, N=, DF=, alpha=1, rho=1}')
  end
  local a, rho = o.alpha or 1, o.rho or 1
  local function cost(al, r)
    local DF = o.DF * r
    return o.Dk * o.Dk * (al * o.M) * DF * DF + (al * o.M) * (al * o.N) * DF * DF
  end
  local c = cost(a, rho)
  return int(c), c / cost(1, 1)
end

---------------------------------------------------------------------------- measurements
local function need_nb(fname)
  if not nb then fail(fname, 'needs the nabla module') end
end

local function callable(v)
  if type(v) == 'function' then return true end
  local mt = getmetatable(v)
  return type(v) == 'table' and mt and mt.__call ~= nil
end

-- Parameters counted from the tensors themselves: the sum of numel over module:parameters()
-- (or over a list of tensors).  Second value: the number of tensors.
function M.measure_params(m)
  need_nb('measure_params')
  local list
  if nb.is_tensor(m) then list = {m}
  elseif type(m) == 'table' and type(m.parameters) == 'function' then list = m:parameters()
  elseif type(m) == 'table' then list = m
  else fail('measure_params', 'a module or a list of tensors expected') end
  local total = 0
  for _, p in ipairs(list) do total = total + p:numel() end
  return total, #list
end

local function as_list(v, n, default)
  if v == nil then v = default end
  local t = {}
  for i = 1, n do t[i] = type(v) == 'table' and (v[i] or v[1]) or v end
  return t
end

-- Multiplies of one convolution, counted by running it: with every weight and every input
-- (padding included) set to 1 and no bias, each output equals the number of products summed
-- into it, so the sum of the outputs is the number of multiplications the layer performs.
-- x_shape [N, C, L] or [N, C, H, W]; w_shape [O, C/groups, k...]; o = {stride, padding
-- (number, list, 'same' or 'valid'), dilation, groups}.
local function ones_count_conv(x_shape, w_shape, o)
  local nd = #w_shape - 2
  local k = {}
  for i = 1, nd do k[i] = w_shape[i + 2] end
  local d = as_list(o.dilation, nd, 1)
  local lo, hi = {}, {}
  for i = 1, nd do
    if o.padding == 'same' then          -- PyTorch: the odd leftover goes after the input
      local total = d[i] * (k[i] - 1)
      lo[i], hi[i] = total // 2, total - total // 2
    elseif o.padding == 'valid' then lo[i], hi[i] = 0, 0
    else
      local p = as_list(o.padding, nd, 0)
      lo[i], hi[i] = p[i], p[i]
    end
  end
  local x = nb.ones(x_shape)
  local pads, any = {}, false
  for i = nd, 1, -1 do                   -- nb.pad takes the last dimension first
    pads[#pads + 1] = lo[i]; pads[#pads + 1] = hi[i]
    any = any or lo[i] > 0 or hi[i] > 0
  end
  if any then x = nb.pad(x, pads, {value = 1}) end
  local conv = nd == 1 and nb.conv1d or nb.conv2d
  local s = as_list(o.stride, nd, 1)
  local y = nb.no_grad(function()
    return conv(x, nb.ones(w_shape), nil, {stride = nd == 1 and s[1] or s,
                dilation = nd == 1 and d[1] or d, groups = o.groups or 1})
  end)
  return math.tointeger(y:to('f64'):sum():item()), y.shape
end

local function ones_count_linear(x_shape, w_shape)
  local x = nb.ones(x_shape)
  local y = nb.no_grad(function() return x:matmul(nb.ones(w_shape):t()) end)
  return math.tointeger(y:to('f64'):sum():item()), y.shape
end

local function leaf_kids(m)
  if type(m.children) ~= 'function' then return {} end
  local ok, c = pcall(m.children, m)
  return ok and type(c) == 'table' and c or {}
end

-- measure_macs(module, input_shape): multiplications counted by running the layers.  A forward
-- hook on every leaf module records the input it receives; each convolution and linear layer
-- is then run again with ones (see ones_count_conv), so the count comes from the kernels, not
-- from a formula.  Activations, pooling and normalisation count 0 multiplications (as in
-- calc.macs).  input_shape includes the batch ({1, 3, 32, 32}).  Returns total, rows.
function M.measure_macs(m, input_shape)
  need_nb('measure_macs')
  if type(input_shape) ~= 'table' then fail('measure_macs', 'input_shape must be a table') end
  if type(m) ~= 'table' or type(m.register_forward_hook) ~= 'function' then
    fail('measure_macs', 'an nn module expected')
  end
  local names = {}
  if type(m.named_modules) == 'function' then
    for _, e in ipairs(m:named_modules()) do names[e[2]] = e[1] end
  end
  local calls, handles = {}, {}
  local mods = type(m.modules) == 'function' and m:modules() or {m}
  for _, mod in ipairs(mods) do
    if #leaf_kids(mod) == 0 then
      handles[#handles + 1] = mod:register_forward_hook(function(self, ins, out)
        calls[#calls + 1] = {mod = self, in_shape = ins[1].shape, out_shape = out.shape}
      end)
    end
  end
  local ok, err = pcall(nb.no_grad, function() return m(nb.zeros(input_shape)) end)
  for _, h in ipairs(handles) do h.remove() end
  if not ok then error(err, 0) end
  local rows, total, ptotal = {}, 0, 0
  for i, c in ipairs(calls) do
    local mod, macs = c.mod, 0
    local w = rawget(mod, 'weight')
    local kind = mod.__name or '?'
    if nb.is_tensor(w) and kind:find('^Conv%dd$') then
      macs = ones_count_conv(c.in_shape, w.shape, {stride = mod.stride, padding = mod.padding,
                             dilation = mod.dilation, groups = mod.groups})
    elseif nb.is_tensor(w) and kind == 'Linear' then
      macs = ones_count_linear(c.in_shape, w.shape)
    end
    local p = 0
    for _, t in ipairs(mod:parameters()) do p = p + t:numel() end
    local label = kind
    if kind:find('^Conv%dd$') then
      local st = type(mod.stride) == 'table' and mod.stride[1] or mod.stride or 1
      label = string.format('%s %d→%d k%s%s%s', kind, mod.in_channels, mod.out_channels,
                            table.concat(mod.kernel_size, '×'):gsub('^(%d+)×%1$', '%1'),
                            st ~= 1 and (' s' .. st) or '',
                            (mod.groups or 1) ~= 1 and (' g' .. mod.groups) or '')
    elseif kind == 'Linear' then
      label = string.format('Linear %d→%d', mod.in_features, mod.out_features)
    end
    rows[i] = {layer = i, name = label, path = names[mod],
               kind = kind, in_shape = c.in_shape, out_shape = c.out_shape, params = p,
               macs = macs}
    total, ptotal = total + macs, ptotal + p
  end
  rows.macs, rows.params = total, ptotal
  rows.out_shape = calls[#calls] and calls[#calls].out_shape
  rows_object(rows, NET_COLS, net_footer)
  return total, rows
end

-- Multiplies of one functional conv, counted by running it (for lessons without nn modules):
-- measure_conv_macs(x_shape, w_shape, {stride=, padding=, dilation=, groups=}).
function M.measure_conv_macs(x_shape, w_shape, o)
  need_nb('measure_conv_macs')
  return ones_count_conv(x_shape, w_shape, o or {})
end

-- Receptive field found through autograd: the support of ∂y[centre]/∂x, where y is the first
-- output channel's centre unit.  The union over a batch of random inputs is taken, because a
-- max pool or a ReLU routes the gradient of one input through only some of the paths.  The
-- field is the extent (bounding box) of that support; a dilated kernel leaves holes inside it.
-- net_or_build: a module, a function of x, or a function of no arguments that returns one.
-- input_size: H (square), {H, W}, or {C, H, W}.  opts: {batch=64, seed=0}.
function M.measure_receptive_field(net_or_build, input_size, opts)
  need_nb('measure_receptive_field')
  opts = opts or {}
  local net = net_or_build
  -- a function of no parameters builds the network; a function of x is the network
  if type(net_or_build) == 'function' and debug.getinfo(net_or_build, 'u').nparams == 0 then
    net = net_or_build()
  end
  if not callable(net) then fail('measure_receptive_field', 'a network (callable) expected') end
  local c, h, w = 1, nil, nil
  if type(input_size) == 'number' then h, w = input_size, input_size
  elseif #input_size == 2 then h, w = input_size[1], input_size[2]
  else c, h, w = input_size[1], input_size[2], input_size[3] end
  local b = opts.batch or 64
  if opts.seed then nb.manual_seed(opts.seed) end
  local x = nb.randn(b, c, h, w):requires_grad_()
  local y = net(x)
  local oh, ow = y:size(3), y:size(4)
  local ci, cj = (oh + 1) // 2, (ow + 1) // 2
  local centre = y[{{}, 1, ci, cj}]:sum()
  local g = nb.grad({centre}, {x})[1]
  local support = g:abs():sum(1):sum(1)               -- [H, W]: union over batch and channels
  local mask = support:gt(0)
  local rows_hit = mask:sum(2):reshape(h):totable()
  local cols_hit = mask:sum(1):reshape(w):totable()
  local function extent(v)
    local lo, hi
    for i, s in ipairs(v) do
      if s > 0 then lo = lo or i; hi = i end
    end
    if not lo then return 0, nil, nil end
    return hi - lo + 1, lo, hi
  end
  local fh, r0, r1 = extent(rows_hit)
  local fw, c0, c1 = extent(cols_hit)
  local res = {field = math.max(fh, fw), h = fh, w = fw, rows = {r0, r1}, cols = {c0, c1},
               centre = {ci, cj}, out_size = {oh, ow}, mask = mask:reshape(h, w),
               magnitude = support:reshape(h, w),
               count = mask:sum():item(),
               clipped = (r0 == 1 or c0 == 1 or r1 == h or c1 == w)}
  return setmetatable(res, {__tostring = function(t)
    return string.format('measured receptive field %d×%d (input rows %s..%s, cols %s..%s of %d×%d;' ..
                         ' output unit [%d,%d] of %d×%d)%s', t.h, t.w, t.rows[1], t.rows[2],
                         t.cols[1], t.cols[2], h, w, ci, cj, oh, ow,
                         t.clipped and ' — touches the border: use a larger input' or '')
  end})
end

---------------------------------------------------------------------------- docs
local docs = {
  fmt = 'calc.fmt(n) — an integer with thousands separators (309,329,920)',
  shape_str = 'calc.shape_str(shape) — {3, 32, 32} as "3×32×32"',
  table = 'calc.table(rows, cols) — format a list of row tables; cols = {key | {key, title}}',
  conv_out = 'calc.conv_out(n, k, {stride=1, padding=0|\'same\'|\'valid\', dilation=1}) — ' ..
             '⌊(n + 2p − d(k−1) − 1)/s⌋ + 1 (n may be {H, W}); second value shows the arithmetic',
  pool_out = 'calc.pool_out(n, k, {stride=k, padding=0, dilation=1, ceil_mode=false}) — pooling ' ..
             'output size as PyTorch computes it',
  receptive_field = 'calc.receptive_field({{k=3,s=1}, {k=2,kind=\'pool\'}, {k=3,d=2}, ...}) — ' ..
                    'rows of field r and jump j per layer (r += (k−1)·d·j, j *= s); returns ' ..
                    'rows, field (pools default to stride k)',
  params = 'calc.params(spec | {spec, ...}) — parameters of a layer spec {kind=\'conv\'|' ..
           '\'depthwise\'|\'pointwise\'|\'depthwise_separable\'|\'linear\'|\'pool\'|\'bn\', cin=, ' ..
           'cout=, k=, groups=, bias=true}; for a list: total, rows',
  macs = 'calc.macs(spec | {spec, ...}, input_shape) — multiply-accumulates for input {C,H,W} ' ..
         '(or {N,C,H,W}); a layer gives macs, out_shape; a list gives total, rows (shapes ' ..
         'propagated, params and MACs per layer)',
  summary = 'calc.summary(specs, input_shape) — the printable per-layer table of calc.macs',
  lora_params = 'calc.lora_params{d_model=, blocks=, r=, matrices=4|{names}|{{din,dout}}, ' ..
                'tasks=1, bias=false} — full vs LoRA trainable counts, ratio, storage for T tasks',
  mobilenet_ratio = 'calc.mobilenet_ratio(N, Dk) — (depthwise + pointwise)/standard cost = ' ..
                    '1/N + 1/Dk²',
  standard_cost = 'calc.standard_cost{Dk=, M=, N=, DF=, alpha=1, rho=1} — Dk²·αM·αN·(ρDF)²',
  mobilenet_cost = 'calc.mobilenet_cost{Dk=, M=, N=, DF=, alpha=1, rho=1} — separable cost ' ..
                   'Dk²·αM·(ρDF)² + αM·αN·(ρDF)², and its ratio to alpha = rho = 1',
  measure_params = 'calc.measure_params(module | {tensors}) — parameters counted from the ' ..
                   'tensors (sum of numel); second value: number of tensors',
  measure_macs = 'calc.measure_macs(module, input_shape) — multiplications counted by running ' ..
                 'every conv/linear layer (found by forward hooks) again with all-ones inputs ' ..
                 'and weights; total, rows',
  measure_conv_macs = 'calc.measure_conv_macs(x_shape, w_shape, {stride=, padding=, dilation=, ' ..
                      'groups=}) — multiplications of one nb.conv2d, counted by running it',
  measure_receptive_field = 'calc.measure_receptive_field(net_or_build, input_size, {batch=64}) ' ..
                            '— extent of the support of ∂y[centre]/∂x by autograd',
}
if nb and nb.doc then
  for k, v in pairs(docs) do nb.doc(M[k], v) end
end

return M
