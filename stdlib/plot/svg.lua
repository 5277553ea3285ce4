-- plot.svg: standalone SVG documents for each plot kind: white background, axes with 1-2-5
-- ticks and grid lines, labels, title, legend; images as a grid of <rect>s with a colorbar.
-- Every coordinate goes through num(), so the output never contains nan or inf.
local D = require 'plot.data'
local C = require 'plot.color'
local T = require 'plot.term'
local M = {}

local FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'

local function num(v)
  if not D.finite(v) then v = 0 end
  if v > 1e7 then v = 1e7 elseif v < -1e7 then v = -1e7 end
  local s = string.format('%.2f', v)
  s = s:gsub('%.?0+$', '')
  if s == '-0' or s == '' then s = '0' end
  return s
end
M.num = num

function M.escape(s)
  return (tostring(s):gsub('[&<>"\']', {['&'] = '&amp;', ['<'] = '&lt;', ['>'] = '&gt;',
                                         ['"'] = '&quot;', ["'"] = '&#39;'}))
end
local esc = M.escape

local function doc(w, h)
  local d = {}
  d[1] = string.format('<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" ' ..
                       'viewBox="0 0 %s %s" %s font-size="12">', num(w), num(h), num(w),
                       num(h), FONT)
  d[2] = '<rect x="0" y="0" width="100%" height="100%" fill="white"/>'
  return d
end

local function add(d, fmt, ...)
  d[#d + 1] = string.format(fmt, ...)
end

local function text(d, x, y, s, anchor, extra)
  add(d, '<text x="%s" y="%s" text-anchor="%s"%s>%s</text>', num(x), num(y), anchor or 'start',
      extra and (' ' .. extra) or '', esc(s))
end

local function finish(d)
  d[#d + 1] = '</svg>'
  return table.concat(d, '\n') .. '\n'
end

-- The plotting area and value->pixel maps for a 2-D axes; draws grid, ticks and labels.
-- xr/yr: {lo, hi}; options: nice=false keeps the data range exactly (histograms).
local function axes(d, box, xr, yr, o)
  local xt, xstep, xlo, xhi = D.ticks(xr[1], xr[2], 6)
  local yt, ystep, ylo, yhi = D.ticks(yr[1], yr[2], 5)
  if o.exact_x then xlo, xhi = xr[1], xr[2] end
  if o.exact_y then ylo, yhi = yr[1], yr[2] end
  local function px(v) return box.x + (v - xlo) / (xhi - xlo) * box.w end
  local function py(v) return box.y + box.h - (v - ylo) / (yhi - ylo) * box.h end
  add(d, '<g stroke="#e5e5e5" stroke-width="1">')
  for _, v in ipairs(xt) do
    if v >= xlo - 1e-9 * math.abs(xstep) and v <= xhi + 1e-9 * math.abs(xstep) then
      add(d, '<line x1="%s" y1="%s" x2="%s" y2="%s"/>', num(px(v)), num(box.y), num(px(v)),
          num(box.y + box.h))
    end
  end
  for _, v in ipairs(yt) do
    if v >= ylo - 1e-9 * math.abs(ystep) and v <= yhi + 1e-9 * math.abs(ystep) then
      add(d, '<line x1="%s" y1="%s" x2="%s" y2="%s"/>', num(box.x), num(py(v)),
          num(box.x + box.w), num(py(v)))
    end
  end
  add(d, '</g>')
  add(d, '<rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#333" ' ..
         'stroke-width="1"/>', num(box.x), num(box.y), num(box.w), num(box.h))
  local xticks, yticks = {}, {}
  add(d, '<g fill="#333">')
  for _, v in ipairs(xt) do
    if v >= xlo - 1e-9 * math.abs(xstep) and v <= xhi + 1e-9 * math.abs(xstep) then
      local x = px(v)
      add(d, '<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#333"/>', num(x),
          num(box.y + box.h), num(x), num(box.y + box.h + 5))
      local label = D.tick_label(v, xstep)
      xticks[#xticks + 1] = label
      text(d, x, box.y + box.h + 18, label, 'middle')
    end
  end
  for _, v in ipairs(yt) do
    if v >= ylo - 1e-9 * math.abs(ystep) and v <= yhi + 1e-9 * math.abs(ystep) then
      local y = py(v)
      add(d, '<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#333"/>', num(box.x - 5), num(y),
          num(box.x), num(y))
      local label = D.tick_label(v, ystep)
      yticks[#yticks + 1] = label
      text(d, box.x - 8, y + 4, label, 'end')
    end
  end
  add(d, '</g>')
  if o.xlabel then text(d, box.x + box.w / 2, box.y + box.h + 38, o.xlabel, 'middle') end
  if o.ylabel then
    add(d, '<text x="0" y="0" text-anchor="middle" transform="translate(%s,%s) rotate(-90)">' ..
           '%s</text>', num(box.x - 52), num(box.y + box.h / 2), esc(o.ylabel))
  end
  return px, py, {x = xticks, y = yticks}
end

local function title(d, w, s)
  if s then text(d, w / 2, 22, s, 'middle', 'font-size="15" font-weight="bold"') end
end

-- Legend box in the top-right corner of the plotting area; items {name=, color=, kind=}.
local function legend(d, box, items)
  if #items == 0 then return end
  local wmax = 0
  for _, it in ipairs(items) do wmax = math.max(wmax, D.width(it.name)) end
  local lw, lh = 34 + 7 * wmax, 18 * #items + 8
  local x0, y0 = box.x + box.w - lw - 8, box.y + 8
  add(d, '<g class="legend">')
  add(d, '<rect x="%s" y="%s" width="%s" height="%s" fill="white" fill-opacity="0.85" ' ..
         'stroke="#999"/>', num(x0), num(y0), num(lw), num(lh))
  for i, it in ipairs(items) do
    local y = y0 + 4 + 18 * (i - 1) + 9
    if it.kind == 'dot' then
      add(d, '<circle cx="%s" cy="%s" r="4" fill="%s"/>', num(x0 + 14), num(y), it.color)
    elseif it.kind == 'note' then
      y = y  -- no swatch
    else
      add(d, '<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2"/>',
          num(x0 + 6), num(y), num(x0 + 24), num(y), it.color)
    end
    text(d, x0 + 30, y + 4, it.name)
  end
  add(d, '</g>')
end

local function size(p)
  return p.opts.svg_width or 640, p.opts.svg_height or 400
end

local function plot_box(w, h, o)
  local top = o.title and 40 or 20
  return {x = 70, y = top, w = w - 70 - 20, h = h - top - (o.xlabel and 55 or 40)}
end

---------------------------------------------------------------------------- line
function M.line(p)
  local o = p.opts
  local w, h = size(p)
  local d = doc(w, h)
  title(d, w, o.title)
  local box = plot_box(w, h, o)
  local px, py = axes(d, box, {p.xlo, p.xhi}, {p.ylo, p.yhi}, o)
  add(d, '<g fill="none" stroke-width="1.5" stroke-linejoin="round">')
  local items = {}
  for si, s in ipairs(p.series) do
    local col = C.hex(C.series(si))
    local xs, ys = D.downsample(s.xs, s.ys, 4000)
    local pts = {}
    local function flush()
      if #pts == 1 then
        local x, y = pts[1]:match('([^,]+),([^,]+)')
        add(d, '<circle cx="%s" cy="%s" r="2.5" fill="%s" stroke="none"/>', x, y, col)
      elseif #pts > 1 then
        add(d, '<polyline stroke="%s" points="%s"/>', col, table.concat(pts, ' '))
      end
      pts = {}
    end
    for i = 1, #ys do
      local x, y = xs[i], ys[i]
      local sx, sy = D.finite(x) and px(x), D.finite(y) and py(y)
      if sx and sy and D.finite(sx) and D.finite(sy) then
        pts[#pts + 1] = num(sx) .. ',' .. num(sy)
      else
        flush()
      end
    end
    flush()
    items[#items + 1] = {name = s.name, color = col}
  end
  add(d, '</g>')
  if not (#p.series > 1 or p.named) then items = {} end
  if p.bad > 0 then
    items[#items + 1] = {name = string.format('%d NaN/inf skipped', p.bad), kind = 'note'}
  end
  legend(d, box, items)
  return finish(d)
end

---------------------------------------------------------------------------- scatter
function M.scatter(p)
  local o = p.opts
  local w, h = size(p)
  local d = doc(w, h)
  title(d, w, o.title)
  local box = plot_box(w, h, o)
  -- a little room so that points on the extremes are not cut by the frame
  local dx, dy = (p.xhi - p.xlo) * 0.03, (p.yhi - p.ylo) * 0.03
  local px, py = axes(d, box, {p.xlo - dx, p.xhi + dx}, {p.ylo - dy, p.yhi + dy}, o)
  add(d, '<g fill-opacity="0.8" stroke="none">')
  -- past 20000 points the file gets heavy and the picture does not change: every k-th point
  local stride = math.max(1, math.ceil(#p.xs / 20000))
  for i = 1, #p.xs, stride do
    local x, y = p.xs[i], p.ys[i]
    if D.finite(x) and D.finite(y) then
      local k = p.class and p.class[i] or 1
      add(d, '<circle cx="%s" cy="%s" r="3" fill="%s"/>', num(px(x)), num(py(y)),
          C.hex(C.series(k)))
    end
  end
  add(d, '</g>')
  local items = {}
  for k, name in ipairs(p.class_names or {}) do
    items[#items + 1] = {name = name, color = C.hex(C.series(k)), kind = 'dot'}
  end
  if p.bad > 0 then
    items[#items + 1] = {name = string.format('%d NaN/inf skipped', p.bad), kind = 'note'}
  end
  legend(d, box, items)
  return finish(d)
end

---------------------------------------------------------------------------- hist
function M.hist(p)
  local o = p.opts
  local w, h = size(p)
  local d = doc(w, h)
  title(d, w, o.title)
  local box = plot_box(w, h, o)
  local cmax = 0
  for _, c in ipairs(p.counts) do cmax = math.max(cmax, c) end
  local lo, hi = p.edges[1], p.edges[#p.edges]
  local px, py = axes(d, box, {lo, hi}, {0, math.max(cmax, 1)},
                      {exact_x = true, xlabel = o.xlabel, ylabel = o.ylabel or 'count'})
  add(d, '<g fill="%s" stroke="white" stroke-width="0.5">', C.hex(C.series(1)))
  for i, c in ipairs(p.counts) do
    if c > 0 then
      local x0, x1 = px(p.edges[i]), px(p.edges[i + 1])
      add(d, '<rect x="%s" y="%s" width="%s" height="%s"/>', num(x0), num(py(c)),
          num(math.max(0, x1 - x0)), num(py(0) - py(c)))
    end
  end
  add(d, '</g>')
  local items = {}
  if p.bad > 0 then items[#items + 1] = {name = p.bad .. ' NaN/inf skipped', kind = 'note'} end
  if p.outside > 0 then
    items[#items + 1] = {name = p.outside .. ' outside the range', kind = 'note'}
  end
  legend(d, box, items)
  return finish(d)
end

---------------------------------------------------------------------------- images
-- One image at (x, y) with pixel size s, and a horizontal colorbar below it when bar.
local function image_at(d, img, x, y, s)
  local m, tf = img.svg_data, T.scale_of(img)
  add(d, '<g shape-rendering="crispEdges">')
  for r = 1, m.h do
    for c = 1, m.w do
      local v = m.rows[r][c]
      local col
      if img.rgb then col = v
      elseif not D.finite(v) then col = C.nan_color
      else col = C.map(img.cmap, tf(v)) end
      add(d, '<rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>', num(x + (c - 1) * s),
          num(y + (r - 1) * s), num(s), num(s), C.hex(col))
    end
  end
  add(d, '</g>')
  add(d, '<rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#333"/>', num(x),
      num(y), num(m.w * s), num(m.h * s))
end

-- Vertical (at the right of a heatmap) or horizontal (below a panel) colorbar with ticks.
local function colorbar(d, img, x, y, len, vertical)
  if img.rgb then return end
  local _, lo, hi = T.scale_of(img)
  if hi == lo then lo, hi = D.widen(lo, hi) end
  local n = 64
  add(d, '<g shape-rendering="crispEdges">')
  for i = 0, n - 1 do
    local col = C.hex(C.map(img.cmap, (i + 0.5) / n))
    if vertical then
      add(d, '<rect x="%s" y="%s" width="14" height="%s" fill="%s"/>', num(x),
          num(y + len - (i + 1) * len / n), num(len / n + 0.5), col)
    else
      add(d, '<rect x="%s" y="%s" width="%s" height="10" fill="%s"/>', num(x + i * len / n),
          num(y), num(len / n + 0.5), col)
    end
  end
  add(d, '</g>')
  local ticks, step = D.ticks(lo, hi, vertical and 5 or 3)
  for _, v in ipairs(ticks) do
    if v >= lo - 1e-9 * step and v <= hi + 1e-9 * step then
      local t = (v - lo) / (hi - lo)
      if vertical then
        local ty = y + len - t * len
        add(d, '<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#333"/>', num(x + 14), num(ty),
            num(x + 18), num(ty))
        text(d, x + 21, ty + 4, D.tick_label(v, step))
      else
        local tx = x + t * len
        add(d, '<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#333"/>', num(tx), num(y + 10),
            num(tx), num(y + 14))
        text(d, tx, y + 25, D.tick_label(v, step), 'middle', 'font-size="10"')
      end
    end
  end
end

local function pixel_size(m, target)
  return math.max(1, math.min(target / math.max(m.w, 1), target / math.max(m.h, 1), 60))
end

function M.heatmap(p)
  local img = p.images[1]
  local m = img.svg_data
  local s = pixel_size(m, 360)
  local w = math.max(70 + m.w * s + 90, 280)
  local h = (p.opts.title and 40 or 20) + m.h * s + 40 + (img.bad > 0 and 20 or 0)
  local d = doc(w, h)
  title(d, w, p.opts.title or img.title)
  local x0, y0 = 50, p.opts.title and 40 or 20
  image_at(d, img, x0, y0, s)
  if p.kind == 'heatmap' and m.w > 0 then
    -- 1-based row and column ticks at nice integers
    local cols = D.ticks(1, math.max(m.w, 2), 5)
    for _, c in ipairs(cols) do
      if c >= 1 and c <= m.w and c == math.floor(c) then
        text(d, x0 + (c - 0.5) * s, y0 + m.h * s + 14, D.fmt(c), 'middle', 'font-size="10"')
      end
    end
    local rows = D.ticks(1, math.max(m.h, 2), 5)
    for _, r in ipairs(rows) do
      if r >= 1 and r <= m.h and r == math.floor(r) then
        text(d, x0 - 4, y0 + (r - 0.5) * s + 4, D.fmt(r), 'end', 'font-size="10"')
      end
    end
  end
  colorbar(d, img, x0 + m.w * s + 14, y0, m.h * s, true)
  if img.bad > 0 then
    text(d, x0, h - 8, string.format('%d NaN/inf (magenta)', img.bad))
  end
  return finish(d)
end

function M.images(p)
  local imgs = p.images
  local panel, gap = 160, 24
  local per_row = math.max(1, math.min(#imgs, p.opts.columns or 6))
  local nrows = math.max(1, math.ceil(#imgs / per_row))
  local top = p.opts.title and 40 or 10
  local tallest = 0
  for _, img in ipairs(imgs) do
    local m = img.svg_data
    tallest = math.max(tallest, m.h * pixel_size(m, panel))
  end
  local ph = 20 + tallest + 45
  local w = gap + per_row * (panel + gap)
  local h = top + nrows * ph
  local d = doc(w, h)
  title(d, w, p.opts.title)
  for i, img in ipairs(imgs) do
    local col, row = (i - 1) % per_row, (i - 1) // per_row
    local x, y = gap + col * (panel + gap), top + row * ph
    local m = img.svg_data
    local s = pixel_size(m, panel)
    if img.title then text(d, x + panel / 2, y + 14, img.title, 'middle') end
    local ix = x + (panel - m.w * s) / 2
    image_at(d, img, ix, y + 20, s)
    colorbar(d, img, x + 10, y + 20 + m.h * s + 6, panel - 20, false)
  end
  return finish(d)
end

return M
