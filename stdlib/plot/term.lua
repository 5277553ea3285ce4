-- plot.term: terminal text for each plot kind.  Lines and scatter plots draw on a braille
-- canvas (2x4 dots per character cell); images use half blocks (two pixel rows per text
-- row, top pixel as foreground, bottom as background); without color they fall back to
-- dash patterns, letter marks and an ASCII density ramp.  Input is the plot model that
-- plot.lua builds (finite ranges already computed); output is a string without a final
-- newline.  `mode` is nil (no color), '256' or 'truecolor'.
local D = require 'plot.data'
local C = require 'plot.color'
local M = {}

local floor = math.floor
local utf8char = utf8.char

-- Braille dot bits: BITS[column 0/1][row 0..3].
local BITS = {[0] = {[0] = 0x01, 0x02, 0x04, 0x40}, {[0] = 0x08, 0x10, 0x20, 0x80}}

M.ramp = {' ', '.', ':', '-', '=', '+', '*', '#', '%', '@'}
M.diverging_ramp = {'#', '=', '-', '.', ' ', ':', '+', '*', '@'}
M.marks = {'o', 'x', '+', '*', '#', '@', '%', '&', '=', '~'}
local EIGHTHS = {'▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'}

---------------------------------------------------------------------------- braille canvas
local function canvas(w, h)
  return {w = w, h = h, bits = {}, color = {}, ch = {}}
end

local function set_dot(cv, x, y, color)
  if x < 0 or y < 0 or x >= cv.w * 2 or y >= cv.h * 4 then return end
  local k = (y // 4) * cv.w + (x // 2) + 1
  cv.bits[k] = (cv.bits[k] or 0) | BITS[x % 2][y % 4]
  cv.color[k] = color
end

-- A whole-cell character (scatter marks) that wins over dots.
local function set_char(cv, x, y, ch, color)
  if x < 0 or y < 0 or x >= cv.w * 2 or y >= cv.h * 4 then return end
  local k = (y // 4) * cv.w + (x // 2) + 1
  cv.ch[k] = ch
  cv.color[k] = color
end

-- Bresenham from (x0,y0) to (x1,y1); `on(count)` decides per dot (dash patterns).
local function draw_line(cv, x0, y0, x1, y1, color, state)
  local dx, dy = math.abs(x1 - x0), -math.abs(y1 - y0)
  local sx, sy = x0 < x1 and 1 or -1, y0 < y1 and 1 or -1
  local err = dx + dy
  while true do
    state.count = state.count + 1
    if state.on(state.count) then set_dot(cv, x0, y0, color) end
    if x0 == x1 and y0 == y1 then break end
    local e2 = 2 * err
    if e2 >= dy then err = err + dy; x0 = x0 + sx end
    if e2 <= dx then err = err + dx; y0 = y0 + sy end
  end
end

-- Text rows of the canvas, colored runs when mode is set.
local function canvas_rows(cv, mode)
  local rows = {}
  for r = 0, cv.h - 1 do
    local parts, cur = {}, nil
    for c = 1, cv.w do
      local k = r * cv.w + c
      local ch = cv.ch[k] or (cv.bits[k] and utf8char(0x2800 + cv.bits[k])) or ' '
      if mode then
        local col = ch ~= ' ' and cv.color[k] or nil
        if col ~= cur then
          parts[#parts + 1] = col and C.esc(col, mode) or C.reset
          cur = col
        end
      end
      parts[#parts + 1] = ch
    end
    if mode and cur then parts[#parts + 1] = C.reset end
    rows[#rows + 1] = table.concat(parts)
  end
  return rows
end

-- Maps a value in [lo, hi] to a dot index 0..n-1; nil for non-finite results.
local function to_dot(v, lo, hi, n)
  local t = (v - lo) / (hi - lo)
  if not D.finite(t) then return nil end
  t = t * (n - 1)
  if t < -1e6 or t > n + 1e6 then return nil end
  return floor(t + 0.5)
end

local function paint(s, col, mode)
  if not mode or not col then return s end
  return C.esc(col, mode) .. s .. C.reset
end

-- Frame: y labels at top and bottom row, axis lines, x labels, title and footer lines.
local function frame(rows, p, opts)
  local ylo, yhi = D.fmt(p.ylo), D.fmt(p.yhi)
  local lw = math.max(D.width(ylo), D.width(yhi))
  local out = {}
  local w = opts.w
  if opts.title then
    out[#out + 1] = D.pad('', lw + 2) .. D.pad(D.cut(opts.title, w), w, 'center')
  end
  if opts.ylabel then out[#out + 1] = D.pad('', lw + 1) .. opts.ylabel end
  for i, row in ipairs(rows) do
    local label, tick = '', '│'
    if i == #rows then label, tick = ylo, '┤' end
    if i == 1 then label, tick = yhi, '┤' end
    out[#out + 1] = D.pad(label, lw, 'right') .. ' ' .. tick .. row
  end
  out[#out + 1] = D.pad('', lw + 1) .. '└' .. string.rep('─', w)
  local xlo, xhi = D.fmt(p.xlo), D.fmt(p.xhi)
  if p.xlabels ~= false then
    local gap = math.max(1, w - D.width(xlo) - D.width(xhi))
    out[#out + 1] = D.pad('', lw + 2) .. xlo .. string.rep(' ', gap) .. xhi
  end
  if opts.xlabel then out[#out + 1] = D.pad('', lw + 2) .. D.pad(opts.xlabel, w, 'center') end
  for _, l in ipairs(opts.footer or {}) do out[#out + 1] = D.pad('', lw + 2) .. l end
  return out
end

local function skipped_note(bad)
  if bad and bad > 0 then
    return string.format('(%d NaN/inf skipped)', bad)
  end
end

---------------------------------------------------------------------------- line
-- Without color, series 2, 3, ... are dashed and dotted so they stay distinguishable.
local PATTERNS = {
  {mark = '──', on = function() return true end},
  {mark = '╌╌', on = function(n) return n % 6 < 4 end},
  {mark = '┈┈', on = function(n) return n % 3 == 1 end},
  {mark = '╍╍', on = function(n) return n % 8 < 2 or n % 8 == 4 end},
}

function M.line(p, mode)
  local o = p.opts
  local w, h = o.width or 60, o.height or 15
  local cv = canvas(w, h)
  local nx, ny = w * 2, h * 4
  for si, s in ipairs(p.series) do
    local col = mode and C.series(si) or nil
    local pat = mode and PATTERNS[1] or PATTERNS[(si - 1) % #PATTERNS + 1]
    local state = {count = 0, on = pat.on}
    local xs, ys = D.downsample(s.xs, s.ys, nx * 4)
    local px, py
    for i = 1, #ys do
      local x = D.finite(xs[i]) and D.finite(ys[i]) and to_dot(xs[i], p.xlo, p.xhi, nx)
      local y = x and to_dot(ys[i], p.ylo, p.yhi, ny)
      if x and y then
        y = ny - 1 - y
        if px then draw_line(cv, px, py, x, y, col, state)
        else set_dot(cv, x, y, col) end
        px, py = x, y
      else
        px, py = nil, nil
      end
    end
  end
  local footer = {}
  local legend = {}
  if #p.series > 1 or p.named then
    for si, s in ipairs(p.series) do
      local pat = mode and PATTERNS[1] or PATTERNS[(si - 1) % #PATTERNS + 1]
      legend[#legend + 1] = paint(pat.mark, mode and C.series(si), mode) .. ' ' .. s.name
    end
  end
  legend[#legend + 1] = skipped_note(p.bad)
  if #legend > 0 then footer[1] = table.concat(legend, '  ') end
  if p.empty then footer[#footer + 1] = '(no data)' end
  return table.concat(frame(canvas_rows(cv, mode), p,
    {w = w, title = o.title, xlabel = o.xlabel, ylabel = o.ylabel, footer = footer}), '\n')
end

---------------------------------------------------------------------------- scatter
function M.scatter(p, mode)
  local o = p.opts
  local w, h = o.width or 60, o.height or 20
  local cv = canvas(w, h)
  local nx, ny = w * 2, h * 4
  for i = 1, #p.xs do
    local x = D.finite(p.xs[i]) and D.finite(p.ys[i]) and to_dot(p.xs[i], p.xlo, p.xhi, nx)
    local y = x and to_dot(p.ys[i], p.ylo, p.yhi, ny)
    if x and y then
      y = ny - 1 - y
      local k = p.class and p.class[i]
      if k then
        set_char(cv, x, y, M.marks[(k - 1) % #M.marks + 1], mode and C.series(k))
      else
        set_dot(cv, x, y, mode and C.series(1))
      end
    end
  end
  local footer = {}
  if p.class_names then
    local legend = {}
    for k, name in ipairs(p.class_names) do
      legend[#legend + 1] = paint(M.marks[(k - 1) % #M.marks + 1], mode and C.series(k), mode)
                            .. ' ' .. name
    end
    -- wrap the legend to the plot width
    local line = ''
    for _, item in ipairs(legend) do
      if line ~= '' and D.width(line) + D.width(item) > w + 20 then
        footer[#footer + 1] = line
        line = ''
      end
      line = line == '' and item or line .. '  ' .. item
    end
    if line ~= '' then footer[#footer + 1] = line end
  end
  footer[#footer + 1] = skipped_note(p.bad)
  if p.empty then footer[#footer + 1] = '(no data)' end
  return table.concat(frame(canvas_rows(cv, mode), p,
    {w = w, title = o.title, xlabel = o.xlabel, ylabel = o.ylabel, footer = footer}), '\n')
end

---------------------------------------------------------------------------- hist
local function bar(len)
  local full = floor(len)
  local rest = floor((len - full) * 8 + 0.5)
  if rest == 8 then full, rest = full + 1, 0 end
  return string.rep('█', full) .. (rest > 0 and EIGHTHS[rest] or '')
end

function M.hist(p, mode)
  local o = p.opts
  local bw = o.width or 40
  local out = {}
  local labels, lw = {}, 0
  for i = 1, #p.counts do
    local a, b = D.fmt(p.edges[i]), D.fmt(p.edges[i + 1])
    labels[i] = string.format('[%s, %s%s', a, b, i == #p.counts and ']' or ')')
    lw = math.max(lw, D.width(labels[i]))
  end
  if o.title then out[#out + 1] = D.pad(o.title, lw + bw + 8, 'center') end
  local cmax = 0
  for _, c in ipairs(p.counts) do cmax = math.max(cmax, c) end
  local col = mode and C.series(1)
  for i, c in ipairs(p.counts) do
    local b = cmax > 0 and bar(c / cmax * bw) or ''
    out[#out + 1] = D.pad(labels[i], lw) .. ' ' .. paint(b, col, mode) ..
                    string.rep(' ', bw - D.width(b)) .. ' ' .. tostring(c)
  end
  local notes = {string.format('n=%d', p.n)}
  if p.bad > 0 then notes[#notes + 1] = string.format('%d NaN/inf skipped', p.bad) end
  if p.outside > 0 then notes[#notes + 1] = string.format('%d outside the range', p.outside) end
  if o.xlabel then table.insert(notes, 1, o.xlabel) end
  out[#out + 1] = table.concat(notes, ', ')
  return table.concat(out, '\n')
end

---------------------------------------------------------------------------- images
-- t in [0,1] for a value under the image's scale (diverging maps are symmetric about 0).
local function scale_of(img)
  local lo, hi = img.lo, img.hi
  if img.diverging then
    local lim = math.max(math.abs(lo), math.abs(hi))
    if lim == 0 then lim = 1 end
    return function(v) return (v + lim) / (2 * lim) end, -lim, lim
  end
  if hi == lo then return function() return 0.5 end, lo, hi end
  return function(v) return (v - lo) / (hi - lo) end, lo, hi
end
M.scale_of = scale_of

local function ramp_char(img, t)
  local ramp = img.diverging and M.diverging_ramp or M.ramp
  if t ~= t then return '?' end
  local i = floor(math.max(0, math.min(1, t)) * (#ramp - 1) + 0.5) + 1
  return ramp[i]
end

local function pixel_color(img, v, t)
  if not D.finite(v) then return C.nan_color end
  if img.rgb then return v end
  return C.map(img.cmap, t)
end

-- What the terminal shows: shrunk to fit img.maxw columns (a pixel is one column with
-- color, two without), or enlarged by the integer img.scale.
local function display_matrix(img, mode)
  local maxw = img.maxw or 80
  local m = D.shrink(img.data, mode and maxw or math.max(1, maxw // 2))
  if not m.factor and (img.scale or 1) > 1 then m = D.enlarge(m, math.floor(img.scale)) end
  return m
end

-- Lines of one image (no caption): half blocks with color, two ASCII chars per pixel without.
local function image_rows(img, mode)
  local m, tf = display_matrix(img, mode), scale_of(img)
  img.shown = m
  local rows = {}
  if mode then
    for r = 1, m.h, 2 do
      local parts, lastf, lastb = {}, nil, nil
      for c = 1, m.w do
        local top = img.rgb and m.rows[r][c] or pixel_color(img, m.rows[r][c], tf(m.rows[r][c]))
        local below = m.rows[r + 1]
        local bot = below and (img.rgb and below[c] or pixel_color(img, below[c], tf(below[c])))
        local f, b = C.esc(top, mode), bot and C.esc(bot, mode, true) or '\27[49m'
        if f ~= lastf then parts[#parts + 1] = f; lastf = f end
        if b ~= lastb then parts[#parts + 1] = b; lastb = b end
        parts[#parts + 1] = '▀'
      end
      parts[#parts + 1] = C.reset
      rows[#rows + 1] = table.concat(parts)
    end
  else
    for r = 1, m.h do
      local parts = {}
      for c = 1, m.w do
        local v = m.rows[r][c]
        local ch
        if img.rgb then
          ch = ramp_char(img, (v[1] + v[2] + v[3]) / 765)
        else
          ch = D.finite(v) and ramp_char(img, tf(v)) or '?'
        end
        parts[#parts + 1] = ch .. ch
      end
      rows[#rows + 1] = table.concat(parts)
    end
  end
  return rows, mode and m.w or 2 * m.w
end

-- "lo ▕gradient▏ hi" fitted into width w; the ASCII version shows the ramp itself.
local function color_legend(img, mode, w)
  local _, lo, hi = scale_of(img)
  local a, b = D.fmt(lo), D.fmt(hi)
  if img.rgb then a, b = '0', '1' end
  local note = img.bad > 0 and string.format(' (%d NaN/inf)', img.bad) or ''
  local body
  if mode then
    local n = math.max(4, math.min(20, w - D.width(a) - D.width(b) - 2))
    local parts = {}
    for i = 0, n - 1 do
      parts[#parts + 1] = C.esc(C.map(img.rgb and 'gray' or img.cmap, i / (n - 1)), mode) .. '█'
    end
    body = table.concat(parts) .. C.reset
  else
    body = '[' .. table.concat(img.diverging and M.diverging_ramp or M.ramp) .. ']'
  end
  return a .. ' ' .. body .. ' ' .. b .. note
end

-- One image block: caption, rows, legend; returns lines and the block's width.
local function image_block(img, mode)
  local rows, w = image_rows(img, mode)
  local out = {}
  local legend = color_legend(img, mode, w)
  local lw = D.width(legend:gsub('\27%[[%d;]*m', ''))
  local bw = math.max(w, lw)
  if img.title then
    out[#out + 1] = D.pad(D.cut(img.title, bw), bw, 'center')
  end
  for _, r in ipairs(rows) do out[#out + 1] = r .. string.rep(' ', bw - w) end
  if img.h == 0 then out[#out + 1] = D.pad('(empty)', bw) end
  out[#out + 1] = legend .. string.rep(' ', bw - lw)
  if img.shown.factor then
    out[#out + 1] = D.pad(string.format('(%dx%d shown at 1/%d)', img.h, img.w,
                                        img.shown.factor), bw)
  end
  return out, bw
end

function M.heatmap(p, mode)
  local lines = image_block(p.images[1], mode)
  local out = {}
  if p.opts.title and not p.images[1].title then out[1] = p.opts.title end
  for _, l in ipairs(lines) do out[#out + 1] = (l:gsub('%s+$', '')) end
  return table.concat(out, '\n')
end

-- Side by side, wrapping to opts.width (default 120) columns.
function M.images(p, mode)
  local maxw = p.opts.width or 120
  local blocks = {}
  for i, img in ipairs(p.images) do
    local lines, w = image_block(img, mode)
    blocks[i] = {lines = lines, w = w}
  end
  local out = {}
  if p.opts.title then out[1] = p.opts.title end
  local i = 1
  while i <= #blocks do
    local row, used = {}, 0
    repeat
      row[#row + 1] = blocks[i]
      used = used + blocks[i].w + 2
      i = i + 1
    until i > #blocks or used + blocks[i].w > maxw
    local height = 0
    for _, b in ipairs(row) do height = math.max(height, #b.lines) end
    for l = 1, height do
      local parts = {}
      for _, b in ipairs(row) do
        parts[#parts + 1] = b.lines[l] or string.rep(' ', b.w)
      end
      out[#out + 1] = (table.concat(parts, '  '):gsub('%s+$', ''))
    end
    if i <= #blocks then out[#out + 1] = '' end
  end
  if #blocks == 0 then out[#out + 1] = '(no images)' end
  return table.concat(out, '\n')
end

return M
