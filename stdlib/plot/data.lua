-- plot.data: turning tensors and Lua tables into plain number lists, plus the numeric helpers
-- every renderer shares (finite ranges, 1-2-5 ticks, number formatting, downsampling).
-- Plots are small, so a tensor is converted to Lua tables once and everything else is Lua.
-- Nothing here raises on odd numbers (NaN, inf, empty, constant); only on wrong types.
local M = {}

local ok_nb, nb = pcall(require, 'nabla')
if not ok_nb then nb = nil end

local floor, abs, huge = math.floor, math.abs, math.huge
local function D_finite(v) return v == v and v ~= huge and v ~= -huge end

function M.is_tensor(x)
  return nb ~= nil and nb.is_tensor ~= nil and nb.is_tensor(x)
end

function M.finite(v)
  return type(v) == 'number' and v == v and v ~= huge and v ~= -huge
end

local function kind_of(x)
  if type(x) == 'table' then return 'table' end
  return type(x)
end

-- Flattens a nested table of numbers in row-major order.
local function flatten(t, out)
  for i = 1, #t do
    local v = t[i]
    if type(v) == 'table' then flatten(v, out) else out[#out + 1] = v end
  end
  return out
end

-- A flat list of numbers from a tensor (any shape), a number, or a table of numbers.
-- fname names the caller in error messages ("plot.line").
function M.numbers(x, fname, what)
  what = what or 'a tensor or a table of numbers'
  if M.is_tensor(x) then
    local t = x:totable()
    if type(t) == 'number' then return {t} end
    return flatten(t, {})
  end
  if type(x) == 'number' then return {x} end
  if type(x) ~= 'table' then
    error(string.format('%s: expected %s, got %s', fname, what, kind_of(x)), 0)
  end
  local out = {}
  for i = 1, #x do
    local v = x[i]
    if type(v) ~= 'number' then
      error(string.format('%s: expected %s, got a table with a %s at [%d]', fname, what,
                          kind_of(v), i), 0)
    end
    out[i] = v
  end
  return out
end

-- Rows of a matrix {h=, w=, rows={{...}, ...}} from a 2-D tensor (leading size-1 dimensions
-- are dropped, so a [1,28,28] image works), a table of equal-length rows, or a flat list.
function M.matrix(x, fname)
  local rows
  if M.is_tensor(x) then
    local shape = x.shape
    local keep = {}
    local i = 1
    while #shape - i + 1 > 2 and shape[i] == 1 do i = i + 1 end
    for d = i, #shape do keep[#keep + 1] = shape[d] end
    if #keep > 2 then
      error(string.format('%s: expected a 2-D tensor (or [1,H,W]), got shape [%s]', fname,
                          table.concat(shape, ',')), 0)
    end
    local flat = M.numbers(x, fname)
    local h, w = 1, #flat
    if #keep == 2 then h, w = keep[1], keep[2] end
    if #keep == 0 then h, w = 1, 1 end
    rows = {}
    for r = 1, h do
      local row = {}
      for c = 1, w do row[c] = flat[(r - 1) * w + c] end
      rows[r] = row
    end
    return {h = h, w = w, rows = rows}
  end
  if type(x) ~= 'table' then
    error(string.format('%s: expected a 2-D tensor or a table of rows, got %s', fname,
                        kind_of(x)), 0)
  end
  if #x == 0 then return {h = 0, w = 0, rows = {}} end
  if type(x[1]) == 'number' then
    return {h = 1, w = #x, rows = {M.numbers(x, fname)}}
  end
  rows = {}
  local w
  for r = 1, #x do
    local row = x[r]
    if M.is_tensor(row) then row = M.numbers(row, fname) end
    if type(row) ~= 'table' then
      error(string.format('%s: expected a 2-D tensor or a table of rows, got a %s at row %d',
                          fname, kind_of(row), r), 0)
    end
    local vals = {}
    for c = 1, #row do
      if type(row[c]) ~= 'number' then
        error(string.format('%s: expected numbers, got a %s at [%d][%d]', fname,
                            kind_of(row[c]), r, c), 0)
      end
      vals[c] = row[c]
    end
    w = w or #vals
    if #vals ~= w then
      error(string.format('%s: rows have different lengths (%d and %d at row %d)', fname, w,
                          #vals, r), 0)
    end
    rows[r] = vals
  end
  return {h = #rows, w = w, rows = rows}
end

-- Min and max over finite values, and the count of skipped non-finite ones.
-- Returns nil, nil, bad when there is no finite value.
function M.range(list, lo, hi, bad)
  bad = bad or 0
  for i = 1, #list do
    local v = list[i]
    if M.finite(v) then
      if lo == nil or v < lo then lo = v end
      if hi == nil or v > hi then hi = v end
    else
      bad = bad + 1
    end
  end
  return lo, hi, bad
end

-- Widens a zero or missing range so that mapping never divides by zero.
function M.widen(lo, hi)
  if lo == nil then return 0, 1 end
  if hi > lo then return lo, hi end
  local pad = lo == 0 and 1 or abs(lo) * 0.1
  return lo - pad, hi + pad
end

-- A 1-2-5 step giving at most about n intervals over [lo, hi].
function M.nice_step(lo, hi, n)
  local range = hi - lo
  if not (range > 0) or range == huge then return 1 end
  local raw = range / (n or 5)
  local mag = 10 ^ floor(math.log(raw, 10))
  local r = raw / mag
  -- guard rounding in log10 (raw = 1000 may give mag = 100, r = 10)
  local step = r <= 1.0000001 and 1 or r <= 2.0000001 and 2 or r <= 5.0000001 and 5 or 10
  return step * mag
end

-- Nice ticks covering [lo, hi]: returns the ticks, the step and the expanded range.
function M.ticks(lo, hi, n)
  local step = M.nice_step(lo, hi, n)
  local k0, k1 = floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
  if not (D_finite(k0) and D_finite(k1)) or k1 - k0 > 100 then
    return {lo, hi}, hi - lo, lo, hi   -- a range too wide for floats (|values| near 1e308)
  end
  local ticks = {}
  for k = k0, k1 do
    local v = k * step
    if abs(v) < step * 1e-9 then v = 0 end
    ticks[#ticks + 1] = v
  end
  return ticks, step, k0 * step, k1 * step
end

-- Tick label with just enough decimals for the step (0.2 -> "0.4", 5 -> "15").
function M.tick_label(v, step)
  if v == 0 then return '0' end
  local av = abs(v)
  if av >= 1e6 or av < 1e-4 then
    return (string.format('%.3g', v):gsub('e%+?(%-?)0*(%d)', 'e%1%2'))
  end
  local dec = math.max(0, -floor(math.log(step, 10) + 1e-9))
  return string.format('%.' .. dec .. 'f', v)
end

-- A short label for a data value (legend and terminal axes).
function M.fmt(v)
  if v ~= v then return 'nan' end
  if v == huge then return 'inf' end
  if v == -huge then return '-inf' end
  if v == floor(v) and abs(v) < 1e9 then return string.format('%d', v) end
  local s = string.format('%.4g', v)
  return (s:gsub('e%+?(%-?)0*(%d)', 'e%1%2'))
end

-- Keeps at most about max points: per bucket the first, min and max points in x order,
-- so spikes in a long loss curve survive.  xs and ys are parallel lists.
function M.downsample(xs, ys, max)
  local n = #ys
  if n <= max then return xs, ys end
  local buckets = math.max(1, floor(max / 2))
  local ox, oy = {}, {}
  for b = 0, buckets - 1 do
    local i0 = floor(b * n / buckets) + 1
    local i1 = floor((b + 1) * n / buckets)
    local imin, imax
    for i = i0, i1 do
      local v = ys[i]
      if M.finite(v) then
        if not imin or v < ys[imin] then imin = i end
        if not imax or v > ys[imax] then imax = i end
      end
    end
    if not imin then
      ox[#ox + 1], oy[#oy + 1] = xs[i0], 0 / 0   -- keep a gap where all values were bad
    else
      local a, c = math.min(imin, imax), math.max(imin, imax)
      ox[#ox + 1], oy[#oy + 1] = xs[a], ys[a]
      if c ~= a then ox[#ox + 1], oy[#oy + 1] = xs[c], ys[c] end
    end
  end
  return ox, oy
end

-- Block-average pooling of a matrix so it is at most maxw wide and maxh high.
-- Non-finite values are left out of each average (a block of only NaN stays NaN); RGB
-- pixels ({r, g, b} tables) are averaged per channel.
function M.shrink(m, maxw, maxh)
  local fw = math.max(1, math.ceil(m.w / maxw))
  local fh = math.max(1, math.ceil(m.h / (maxh or huge)))
  local f = math.max(fw, fh)
  if f == 1 then return m end
  local h, w = math.ceil(m.h / f), math.ceil(m.w / f)
  local rows = {}
  for r = 1, h do
    local row = {}
    for c = 1, w do
      local s, n, rgb = 0, 0, nil
      for i = (r - 1) * f + 1, math.min(r * f, m.h) do
        for j = (c - 1) * f + 1, math.min(c * f, m.w) do
          local v = m.rows[i][j]
          if type(v) == 'table' then
            rgb = rgb or {0, 0, 0}
            for k = 1, 3 do rgb[k] = rgb[k] + v[k] end
            n = n + 1
          elseif M.finite(v) then
            s, n = s + v, n + 1
          end
        end
      end
      if rgb then
        row[c] = {floor(rgb[1] / n + 0.5), floor(rgb[2] / n + 0.5), floor(rgb[3] / n + 0.5)}
      else
        row[c] = n > 0 and s / n or 0 / 0
      end
    end
    rows[r] = row
  end
  return {h = h, w = w, rows = rows, factor = f}
end

-- Each pixel repeated s times in both directions (small matrices in the terminal).
function M.enlarge(m, s)
  if s <= 1 then return m end
  local rows = {}
  for r = 1, m.h * s do
    local src, row = m.rows[(r - 1) // s + 1], {}
    for c = 1, m.w * s do row[c] = src[(c - 1) // s + 1] end
    rows[r] = row
  end
  return {h = m.h * s, w = m.w * s, rows = rows}
end

-- Display width of a UTF-8 string (every code point counts as one column).
function M.width(s)
  local _, n = s:gsub('[^\128-\191]', '')
  return n
end

function M.pad(s, w, align)
  local n = M.width(s)
  if n >= w then return s end
  if align == 'right' then return string.rep(' ', w - n) .. s end
  if align == 'center' then
    local l = (w - n) // 2
    return string.rep(' ', l) .. s .. string.rep(' ', w - n - l)
  end
  return s .. string.rep(' ', w - n)
end

-- Cuts a UTF-8 string to at most w columns.
function M.cut(s, w)
  if M.width(s) <= w then return s end
  local out, n = {}, 0
  for ch in s:gmatch('[\0-\127\194-\244][\128-\191]*') do
    if n >= w then break end
    out[#out + 1] = ch
    n = n + 1
  end
  return table.concat(out)
end

return M
