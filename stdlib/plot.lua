-- plot: terminal plots (braille lines and scatter, histograms, half-block heatmaps and images)
-- that can also be saved as standalone SVG, and a progress bar for long loops.
-- Every plot function builds a model (plain Lua numbers; a tensor is converted once), returns
-- a plot object with :render() / :svg() / :save(path), and prints it unless opts.show=false.
-- The renderers live in plot/term.lua and plot/svg.lua, helpers in plot/data.lua and
-- plot/color.lua, the progress bar in plot/progress.lua.  docs/plot.md is the user guide.
local D = require 'plot.data'
local T = require 'plot.term'
local S = require 'plot.svg'
local C = require 'plot.color'
local Pr = require 'plot.progress'

local ok_nb, nb = pcall(require, 'nabla')
if not ok_nb then nb = nil end

local M = {}

-- Settings the program and the user may change:
--   plot.color    nil: color when NABLA_TTY=1 (set by the nabla program on a terminal) and
--                 NO_COLOR is unset; true/false; or '256' / 'truecolor' to force a mode
--   plot.capture  function(p) called for each plot that is shown; when it returns true the
--                 plot is not printed (lesson.render saves plots as SVG files this way)
M.color = nil
M.capture = nil
M.last = nil          -- the last plot shown or created, for plot.save(path)

---------------------------------------------------------------------------- helpers
-- Public functions re-raise argument errors ("plot.line: ...") at the caller's line.
local function api(name, f)
  return function(...)
    local r = table.pack(pcall(f, ...))
    if r[1] then return table.unpack(r, 2, r.n) end
    local e = r[2]
    if type(e) == 'string' and e:find(name .. ':', 1, true) == 1 then error(e, 2) end
    error(e, 0)
  end
end

local function check_opts(fname, opts)
  if opts == nil then return {} end
  if type(opts) ~= 'table' or D.is_tensor(opts) then
    error(string.format('%s: expected an options table, got %s', fname,
                        D.is_tensor(opts) and 'a tensor' or type(opts)), 0)
  end
  return opts
end

-- 'truecolor', '256' or nil (no color) for these options.
function M.color_mode(opts)
  local c = opts and opts.color
  if c == nil then
    local no = os.getenv('NO_COLOR')
    if no and no ~= '' then return nil end
    c = M.color
    if c == nil then c = os.getenv('NABLA_TTY') == '1' end
  end
  if not c then return nil end
  if c == '256' or c == 256 then return '256' end
  if c == 'truecolor' or c == 'rgb' then return 'truecolor' end
  local ct = os.getenv('COLORTERM')
  if ct == 'truecolor' or ct == '24bit' then return 'truecolor' end
  return '256'
end

-- The REPL's input counter, when running inside the nabla program (see Plot.__shown).
local function input_id()
  local ok, repl = pcall(require, 'nabla.repl')
  if ok and type(repl) == 'table' and type(repl.input_count) == 'function' then
    return repl.input_count()
  end
end

local function is_array_of_numbers(t)
  return type(t) == 'table' and not D.is_tensor(t) and
         ((#t == 0 and next(t) == nil) or type(t[1]) == 'number')
end

-- A table that is an options table rather than data: no array part, some other key.
local function looks_like_opts(t)
  return type(t) == 'table' and not D.is_tensor(t) and #t == 0 and next(t) ~= nil
end

---------------------------------------------------------------------------- plot objects
local Plot = {}
Plot.__index = Plot
Plot.__name = 'nabla.plot'

local renderers = {
  line = {T.line, S.line}, scatter = {T.scatter, S.scatter}, hist = {T.hist, S.hist},
  heatmap = {T.heatmap, S.heatmap}, image = {T.heatmap, S.heatmap},
  images = {T.images, S.images},
}

-- Terminal text; opts.color overrides the plot's and the global setting.
function Plot:render(opts)
  local o = opts or {}
  local mode
  if o.color ~= nil then mode = M.color_mode(o) else mode = M.color_mode(self.opts) end
  return renderers[self.kind][1](self, mode)
end

function Plot:svg()
  return renderers[self.kind][2](self)
end

-- Writes SVG (or plain text for a .txt path); returns the path.
function Plot:save(path)
  if type(path) ~= 'string' then
    error('plot.save: expected a file name, got ' .. type(path), 0)
  end
  local body = path:lower():match('%.txt$') and (self:render{color = false} .. '\n') or self:svg()
  local f, err = io.open(path, 'w')
  if not f then error('plot.save: cannot write ' .. path .. ': ' .. tostring(err), 0) end
  f:write(body)
  f:close()
  return path
end

function Plot:show()
  M.last = self
  if M.capture and M.capture(self) then return self end
  print(self:render())
  self._shown_input = input_id()
  return self
end

Plot.__tostring = function(p) return p:render() end
-- The REPL asks this before auto-printing a value: a plot that already printed itself during
-- the current input is not printed twice.
Plot.__shown = function(p) return p._shown_input ~= nil and p._shown_input == input_id() end

local function new_plot(kind, opts, model)
  model.kind, model.opts = kind, opts
  return setmetatable(model, Plot)
end

local function finish(p)
  M.last = p
  if p.opts.svg then p:save(p.opts.svg) end
  if p.opts.show ~= false then p:show() end
  return p
end

---------------------------------------------------------------------------- line
-- ys: a tensor (1-D: one series; 2-D: one series per row), a table of numbers, a table of
-- series (tables or tensors), or a table {name = series, ...} (legend sorted by name).
local function line_series(fname, ys, opts)
  local list, names = {}, opts.names or opts.legend
  local named = names ~= nil
  if D.is_tensor(ys) and ys:dim() == 2 then
    for _, row in ipairs(ys:totable()) do list[#list + 1] = D.numbers(row, fname) end
  elseif is_array_of_numbers(ys) or type(ys) ~= 'table' then
    list[1] = D.numbers(ys, fname)
  elseif #ys == 0 then
    local keys = {}
    for k in pairs(ys) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    names, named = {}, true
    for i, k in ipairs(keys) do
      list[i] = D.numbers(ys[k], fname)
      names[i] = tostring(k)
    end
  else
    for i = 1, #ys do list[i] = D.numbers(ys[i], fname) end
  end
  local series = {}
  for i, s in ipairs(list) do
    series[i] = {ys = s, name = names and names[i] and tostring(names[i]) or ('series ' .. i)}
  end
  return series, named
end

local function line(ys, opts)
  local fname = 'plot.line'
  opts = check_opts(fname, opts)
  local series, named = line_series(fname, ys, opts)
  local shared_x = opts.x ~= nil and D.numbers(opts.x, fname, 'opts.x as a tensor or numbers')
  local xlo, xhi, ylo, yhi, bad = nil, nil, nil, nil, 0
  for i, s in ipairs(series) do
    if shared_x then
      if #shared_x ~= #s.ys then
        error(string.format('%s: opts.x has %d values but series %d has %d', fname, #shared_x,
                            i, #s.ys), 0)
      end
      s.xs = shared_x
    else
      s.xs = {}
      for k = 1, #s.ys do s.xs[k] = k end
    end
    -- only points with both coordinates finite count, for the ranges and the NaN note
    local n = 0
    for k = 1, #s.ys do
      local x, y = s.xs[k], s.ys[k]
      if D.finite(x) and D.finite(y) then
        n = n + 1
        if not xlo or x < xlo then xlo = x end
        if not xhi or x > xhi then xhi = x end
        if not ylo or y < ylo then ylo = y end
        if not yhi or y > yhi then yhi = y end
      else
        bad = bad + 1
      end
    end
    s.bad = #s.ys - n
  end
  local empty = xlo == nil
  xlo, xhi = D.widen(xlo, xhi)
  ylo, yhi = D.widen(ylo, yhi)
  if opts.xlim then xlo, xhi = D.widen(opts.xlim[1], opts.xlim[2]) end
  if opts.ylim then ylo, yhi = D.widen(opts.ylim[1], opts.ylim[2]) end
  return finish(new_plot('line', opts, {series = series, named = named, xlo = xlo, xhi = xhi,
                                        ylo = ylo, yhi = yhi, bad = bad, empty = empty}))
end

---------------------------------------------------------------------------- scatter
local function class_of(labels, fname, n)
  local list
  if D.is_tensor(labels) then list = D.numbers(labels, fname)
  elseif type(labels) == 'table' then list = labels
  else error(fname .. ': opts.labels must be a tensor or a table, got ' .. type(labels), 0) end
  if #list ~= n then
    error(string.format('%s: %d points but %d labels', fname, n, #list), 0)
  end
  local seen, uniq = {}, {}
  for i = 1, n do
    local v = list[i]
    if v ~= v then v = 'nan' end
    if seen[v] == nil then seen[v] = true; uniq[#uniq + 1] = v end
  end
  table.sort(uniq, function(a, b)
    if type(a) == 'number' and type(b) == 'number' then return a < b end
    return tostring(a) < tostring(b)
  end)
  local index = {}
  for k, v in ipairs(uniq) do index[v] = k end
  local class = {}
  for i = 1, n do
    local v = list[i]
    if v ~= v then v = 'nan' end
    class[i] = index[v]
  end
  return class, uniq
end

local function scatter(xs, ys, opts)
  local fname = 'plot.scatter'
  if opts == nil and (ys == nil or looks_like_opts(ys)) then
    -- one [N,2] tensor or a table of {x, y} pairs
    opts, ys = ys, nil
    local pts = D.is_tensor(xs) and xs:totable() or xs
    if type(pts) ~= 'table' then
      error(fname .. ': expected xs and ys, or one [N,2] tensor, got ' .. type(xs), 0)
    end
    local px, py = {}, {}
    for i = 1, #pts do
      local pt = pts[i]
      if type(pt) ~= 'table' or type(pt[1]) ~= 'number' or type(pt[2]) ~= 'number' then
        error(fname .. ': expected xs and ys, or one [N,2] tensor or table of {x, y} pairs', 0)
      end
      px[i], py[i] = pt[1], pt[2]
    end
    xs, ys = px, py
  end
  opts = check_opts(fname, opts)
  xs, ys = D.numbers(xs, fname), D.numbers(ys, fname)
  if #xs ~= #ys then
    error(string.format('%s: xs has %d values but ys has %d', fname, #xs, #ys), 0)
  end
  local m = {xs = xs, ys = ys, bad = 0}
  local xlo, xhi, ylo, yhi
  for i = 1, #xs do
    local x, y = xs[i], ys[i]
    if D.finite(x) and D.finite(y) then
      if not xlo or x < xlo then xlo = x end
      if not xhi or x > xhi then xhi = x end
      if not ylo or y < ylo then ylo = y end
      if not yhi or y > yhi then yhi = y end
    else
      m.bad = m.bad + 1
    end
  end
  m.empty = xlo == nil
  m.xlo, m.xhi = D.widen(xlo, xhi)
  m.ylo, m.yhi = D.widen(ylo, yhi)
  if opts.labels ~= nil then
    local uniq
    m.class, uniq = class_of(opts.labels, fname, #xs)
    m.class_names = {}
    for k, v in ipairs(uniq) do
      local name = opts.names and opts.names[v]
      m.class_names[k] = name and tostring(name) or (type(v) == 'number' and D.fmt(v) or
                                                     tostring(v))
    end
  end
  return finish(new_plot('scatter', opts, m))
end

---------------------------------------------------------------------------- hist
local function hist(values, opts)
  local fname = 'plot.hist'
  opts = check_opts(fname, opts)
  local vals = D.numbers(values, fname)
  local bins = opts.bins or 10
  if type(bins) ~= 'number' or bins < 1 or bins ~= math.floor(bins) or bins > 10000 then
    error(fname .. ': bins must be an integer in 1..10000, got ' .. tostring(bins), 0)
  end
  local lo, hi, bad
  if opts.range then
    if type(opts.range) ~= 'table' or not D.finite(opts.range[1]) or
       not D.finite(opts.range[2]) or opts.range[2] < opts.range[1] then
      error(fname .. ': range must be {lo, hi} with finite lo <= hi', 0)
    end
    lo, hi = opts.range[1], opts.range[2]
    local _, _, b = D.range(vals)
    bad = b
  else
    lo, hi, bad = D.range(vals)
  end
  if lo == nil then lo, hi = 0, 1 end
  if hi == lo then lo, hi = lo - 0.5, hi + 0.5 end   -- as numpy does for a constant sample
  local counts, edges = {}, {}
  for i = 1, bins do counts[i] = 0 end
  for i = 0, bins do edges[i + 1] = lo + (hi - lo) * i / bins end
  local outside, n = 0, 0
  for _, v in ipairs(vals) do
    if D.finite(v) then
      if v < lo or v > hi then
        outside = outside + 1
      else
        -- bins are [a, b) except the last, [a, b]
        local i = math.floor((v - lo) / (hi - lo) * bins) + 1
        if i > bins then i = bins end
        if i < 1 then i = 1 end
        counts[i] = counts[i] + 1
        n = n + 1
      end
    end
  end
  return finish(new_plot('hist', opts, {counts = counts, edges = edges, bad = bad,
                                        outside = outside, n = n}))
end

---------------------------------------------------------------------------- heatmaps, images
local CMAPS = {viridis = true, gray = true, grey = true, diverging = true, rdbu = true}

-- [3,H,W] tensor (after dropping leading size-1 dims) -> matrix of {r,g,b} 0..255, else nil.
local function rgb_matrix(x)
  if not D.is_tensor(x) then return nil end
  local shape = x.shape
  local i = 1
  while #shape - i + 1 > 3 and shape[i] == 1 do i = i + 1 end
  if #shape - i + 1 ~= 3 or shape[i] ~= 3 then return nil end
  local h, w = shape[i + 1], shape[i + 2]
  local flat = D.numbers(x, 'plot.image')
  local rows = {}
  local function ch(v)
    if not D.finite(v) then return 0 end
    return math.floor(math.max(0, math.min(1, v)) * 255 + 0.5)
  end
  for r = 1, h do
    local row = {}
    for c = 1, w do
      local k = (r - 1) * w + c
      row[c] = {ch(flat[k]), ch(flat[h * w + k]), ch(flat[2 * h * w + k])}
    end
    rows[r] = row
  end
  return {h = h, w = w, rows = rows}
end

local function pick(v, i)
  if type(v) == 'table' then return v[i] end
  return v
end

local function image_model(fname, x, opts, i, default_cmap)
  local cmap = pick(opts.cmap, i)
  local diverging = pick(opts.diverging, i)
  if cmap == nil then cmap = diverging and 'diverging' or default_cmap end
  if not CMAPS[cmap] then
    error(string.format("%s: unknown cmap '%s' (viridis, gray, diverging)", fname,
                        tostring(cmap)), 0)
  end
  if cmap == 'rdbu' then cmap = 'diverging' end
  local img = {cmap = cmap, diverging = cmap == 'diverging',
               title = pick(opts.titles, i) or (i == 1 and fname ~= 'plot.images' and
                                                opts.title or nil),
               maxw = opts.width or 80, scale = opts.scale}
  if img.title ~= nil then img.title = tostring(img.title) end
  local rgb = rgb_matrix(x)
  local m = rgb or D.matrix(x, fname)
  img.rgb, img.data, img.h, img.w = rgb ~= nil, m, m.h, m.w
  if rgb then
    img.lo, img.hi, img.bad = 0, 1, 0
  else
    local lo, hi, bad = nil, nil, 0
    for r = 1, m.h do lo, hi, bad = D.range(m.rows[r], lo, hi, bad) end
    img.lo, img.hi, img.bad = lo or 0, hi or 0, bad
    if opts.range then img.lo, img.hi = opts.range[1], opts.range[2] end
  end
  img.svg_data = D.shrink(m, 160, 160)
  return img
end

local function heatmap_kind(kind, default_cmap)
  local fname = 'plot.' .. kind
  return function(x, opts)
    opts = check_opts(fname, opts)
    local img = image_model(fname, x, opts, 1, default_cmap)
    return finish(new_plot(kind, opts, {images = {img}}))
  end
end

-- A list of images, or a batch tensor [N,H,W] / [N,C,H,W].
local function images(list, opts)
  local fname = 'plot.images'
  opts = check_opts(fname, opts)
  if D.is_tensor(list) then
    local d = list:dim()
    if d < 3 then
      error(fname .. ': expected a list of images or a [N,H,W] / [N,C,H,W] tensor, got ' ..
            d .. '-D', 0)
    end
    local t = {}
    for i = 1, list.shape[1] do t[i] = list[i] end
    list = t
  elseif type(list) ~= 'table' then
    error(fname .. ': expected a list of images, got ' .. type(list), 0)
  end
  local imgs = {}
  for i = 1, #list do imgs[i] = image_model(fname, list[i], opts, i, 'viridis') end
  return finish(new_plot('images', opts, {images = imgs}))
end

---------------------------------------------------------------------------- save, progress
-- plot.save(p, path), p:save(path), or plot.save(path) for the last plot.
local function save(p, path)
  if type(p) == 'string' and path == nil then
    if not M.last then error('plot.save: no plot yet; use plot.save(p, path)', 0) end
    p, path = M.last, p
  end
  if getmetatable(p) ~= Plot then
    error('plot.save: expected a plot object, got ' .. type(p), 0)
  end
  return p:save(path)
end

local function progress(total, opts)
  return Pr.new(total, check_opts('plot.progress', opts))
end

M.line = api('plot.line', line)
M.scatter = api('plot.scatter', scatter)
M.hist = api('plot.hist', hist)
M.heatmap = api('plot.heatmap', heatmap_kind('heatmap', 'viridis'))
M.image = api('plot.image', heatmap_kind('image', 'gray'))
M.images = api('plot.images', images)
M.save = api('plot.save', save)
M.progress = api('plot.progress', progress)
M.Plot = Plot
M.colormaps = C.maps

local docs = {
  line = 'plot.line(ys | {ys1, ys2, ...} | {name=ys, ...}, {x=, names=, title=, xlabel=, ' ..
         'ylabel=, xlim=, ylim=, width=60, height=15, color=, svg=, show=}) — line plot in ' ..
         'braille; returns a plot object',
  scatter = 'plot.scatter(xs, ys | points[N,2], {labels=, names=, title=, width=60, ' ..
            'height=20, svg=, show=}) — scatter plot; per-point class labels get marks and colors',
  hist = 'plot.hist(values, {bins=10, range={lo,hi}, title=, width=40, svg=, show=}) — ' ..
         'histogram; p.counts and p.edges hold the numbers',
  heatmap = 'plot.heatmap(matrix, {cmap=viridis|gray|diverging, range={lo,hi}, title=, ' ..
            'width=80, scale=, svg=, show=}) — 2-D tensor as colored half blocks with a legend',
  image = 'plot.image(img, opts) — like plot.heatmap with cmap=gray; [1,H,W] and [3,H,W] work',
  images = 'plot.images({img1, img2, ...} | batch, {titles=, cmap=, diverging=, width=120}) — ' ..
           'images side by side with captions',
  save = 'plot.save(p, path) — write plot p as SVG (.txt: plain text); plot.save(path) saves ' ..
         'the last plot',
  progress = 'plot.progress(total, {label=, summary=, force=, interval=0.1}) — progress bar; ' ..
             ':update(k or {fields}), :done()',
  color_mode = 'plot.color_mode(opts) — the color mode plots use: truecolor, 256 or nil',
}
local method_docs = {
  render = 'p:render({color=}) — the plot as terminal text',
  svg = 'p:svg() — the plot as a standalone SVG document (a string)',
  save = 'p:save(path) — write the plot as SVG (.txt: plain text)',
  show = 'p:show() — print the plot again',
}
if nb and nb.doc then
  for k, v in pairs(docs) do nb.doc(M[k], v) end
  for k, v in pairs(method_docs) do nb.doc(Plot[k], v) end
  nb.doc(Pr.Progress.update, 'bar:update(k=1, {field=value}) — advance by k and set fields')
  nb.doc(Pr.Progress.done, 'bar:done({field=value}) — final line (or summary off a terminal)')
end
return M
