-- test_plot: terminal rendering (exact characters for small inputs), histogram counts, the
-- ASCII fallback, SVG well-formedness and nice ticks, the progress bar, odd inputs and errors.
-- Works without the C module (plain tables); tensor cases run when build/nabla.so loads.
local H = require 'harness'
local X = require 'xmlcheck'
local plot = require 'plot'
local D = require 'plot.data'

local has_nb, nb = pcall(require, 'nabla')
if not has_nb then print('note: nabla did not load; tensor cases skipped: ' .. tostring(nb)) end

plot.color = false   -- whatever the environment says, unless a case asks for color

local function lines(s)
  local t = {}
  for l in (s .. '\n'):gmatch('(.-)\n') do t[#t + 1] = l end
  return t
end

-- The canvas part of each plot row: what follows the axis character.
local function canvas_rows(text)
  local rows = {}
  for _, l in ipairs(lines(text)) do
    local _, e = l:find('┤', 1, true)
    if not e then _, e = l:find('│', 1, true) end
    if e then rows[#rows + 1] = l:sub(e + 1) end
  end
  return rows
end

-- Lists of numbers equal within tol (H.close needs the C module; these tests must not).
local function close_list(a, b, tol, msg)
  local ok = #a == #b
  for i = 1, #a do
    if not ok then break end
    ok = math.abs(a[i] - b[i]) <= tol * (1 + math.abs(b[i]))
  end
  return H.check(ok, '%s: {%s} vs {%s}', msg, table.concat(a, ', '), table.concat(b, ', '))
end

local function quiet(f, ...)
  local saved, out = print, {}
  print = function(...) out[#out + 1] = table.concat({...}, '\t') end  -- luacheck: ignore
  local r = table.pack(pcall(f, ...))
  print = saved  -- luacheck: ignore
  if not r[1] then error(r[2], 0) end
  return table.concat(out, '\n'), table.unpack(r, 2, r.n)
end

local tmpdir = os.tmpname()
os.remove(tmpdir)
os.execute('mkdir -p ' .. tmpdir)

---------------------------------------------------------------------------- braille lines
do
  -- ys = 1,2,3,4 on a 2x1 character canvas = 4x4 dots.  x -> dot column round((i-1)/3*3)
  -- = 0,1,2,3; y -> dot row 3 - round((y-1)/3*3) = 3,2,1,0 (row 0 at the top).
  -- Cell 1 (columns 0-1): dots (0,3) = 0x40 and (1,2) = 0x20 -> U+2860 '⡠'.
  -- Cell 2 (columns 2-3): dots (0,1) = 0x02 and (1,0) = 0x08 -> U+280A '⠊'.
  local p = plot.line({1, 2, 3, 4}, {width = 2, height = 1, show = false})
  local rows = canvas_rows(p:render())
  H.check(#rows == 1 and rows[1] == '⡠⠊', 'rising line: got %q', tostring(rows[1]))
  local t = lines(p:render())
  H.check(t[1] == '4 ┤⡠⠊', 'top row carries the max label: %q', t[1])
  H.check(t[2] == '  └──', 'x axis: %q', t[2])
  H.check(t[3] == '   1 4', 'x labels min and max: %q', t[3])

  -- ys = 0,1 on a 1x1 canvas (2x4 dots): Bresenham from (0,3) to (1,0) visits (0,3), (0,2),
  -- (1,1), (1,0): bits 0x40 + 0x04 + 0x10 + 0x08 = 0x5C -> U+285C '⡜'.
  p = plot.line({0, 1}, {width = 1, height = 1, show = false})
  H.check(canvas_rows(p:render())[1] == '⡜', 'steep segment: %q', canvas_rows(p:render())[1])

  -- a falling line over 2 rows: ys = 4,3,2,1 on 2x2 cells = 4x8 dots; rows 7 - round((y-1)
  -- /3*7) = 0, 2, 5, 7 (2.33 -> 2, 4.67 -> 5).  Bresenham adds (1,1) between (0,0) and (1,2)
  -- and (2,4) ... ; the two rows must not be empty and the top-left dot must be set.
  p = plot.line({4, 3, 2, 1}, {width = 2, height = 2, show = false})
  rows = canvas_rows(p:render())
  H.check(#rows == 2, 'two canvas rows')
  local top = utf8.codepoint(rows[1], 1)
  H.check(top >= 0x2800 and (top - 0x2800) & 0x01 ~= 0, 'falling line starts top-left')
  local last = utf8.codepoint(rows[2], utf8.offset(rows[2], 2))
  H.check((last - 0x2800) & 0x80 ~= 0, 'falling line ends bottom-right')
end

do
  -- series names and dash patterns in the legend; a NaN breaks the line and is reported
  local p = plot.line({{1, 2, 3}, {3, 0 / 0, 1}}, {names = {'train', 'val'}, show = false})
  local txt = p:render()
  H.check(txt:find('── train', 1, true) ~= nil, 'legend has the solid mark and name')
  H.check(txt:find('╌╌ val', 1, true) ~= nil, 'second series is dashed without color')
  H.check(txt:find('(1 NaN/inf skipped)', 1, true) ~= nil, 'NaN count in the legend')
  H.check(p.bad == 1, 'p.bad counts skipped points')
  -- a table keyed by name: sorted names
  p = plot.line({val = {1, 2}, train = {2, 1}}, {show = false})
  H.check(p.series[1].name == 'train' and p.series[2].name == 'val', 'named series sorted')
  -- opts.x sets the x values
  p = plot.line({5, 6, 7}, {x = {10, 20, 30}, show = false})
  H.check(p.xlo == 10 and p.xhi == 30, 'opts.x gives the x range')
  H.checkerror('opts.x has 2 values but series 1 has 3', plot.line, {1, 2, 3},
               {x = {1, 2}, show = false})
  -- color: escapes present, tab10 blue for series 1 in truecolor
  local c = p:render({color = 'truecolor'})
  H.check(c:find('\27[38;2;31;119;180m', 1, true) ~= nil, 'truecolor series color')
  H.check(p:render():find('\27', 1, true) == nil, 'no escapes with color off')
  H.check(tostring(p) == p:render(), '__tostring renders')
end

---------------------------------------------------------------------------- odd inputs
do
  local p = plot.line({}, {show = false})
  H.check(p.empty and p:render():find('(no data)', 1, true), 'empty input says no data')
  p = plot.line({5}, {show = false})
  H.check(p.ylo < 5 and p.yhi > 5, 'single point: range widened around it')
  H.check(canvas_rows(p:render({color = false}))[1] ~= nil, 'single point renders')
  p = plot.line({3, 3, 3}, {show = false})
  H.check(p.ylo < 3 and p.yhi > 3, 'constant values: zero range widened')
  local dots = 0
  for _, r in ipairs(canvas_rows(p:render())) do
    if r:find('[\226][\160-\163]') then dots = dots + 1 end
  end
  H.check(dots == 1, 'constant line on exactly one text row (got %d)', dots)
  p = plot.line({0 / 0, 1 / 0, -1 / 0}, {show = false})
  H.check(p.empty and p.bad == 3, 'all non-finite: empty, 3 skipped')
  H.check(p:render():find('3 NaN/inf skipped', 1, true) ~= nil, 'all non-finite: note shown')
  H.check(X.check(p:svg()), 'all non-finite: SVG still well-formed')
  p = plot.line({1e308, -1e308, 1}, {show = false})
  local ok, err = X.check(p:svg())
  H.check(ok, 'extreme values: SVG well-formed (%s)', tostring(err))
  H.check(#p:render() > 0, 'extreme values render')
  p = plot.line({-5, -1, -3}, {show = false})
  H.check(lines(p:render())[1]:match('^%s*%-1 ┤') ~= nil, 'negative max label')
  -- huge input: downsampled, fast, bounded SVG
  local big = {}
  for i = 1, 200000 do big[i] = math.sin(i / 1000) + (i == 123456 and 50 or 0) end
  local t0 = os.clock()
  p = plot.line(big, {show = false})
  local txt, svg = p:render(), p:svg()
  H.check(os.clock() - t0 < 5, 'huge input renders in reasonable time')
  H.check(p.yhi == big[123456], 'range sees the spike')
  local npts = 0
  for _ in (svg:match('points="([^"]*)"') or ''):gmatch(',') do npts = npts + 1 end
  H.check(npts > 100 and npts <= 4002, 'SVG polyline downsampled (%d points)', npts)
  H.check(txt:find('⠁') or txt:find('⠈') or txt:find('⡇') or true, 'render ok')
  local vs = {}
  for i = 1, #big do vs[i] = i end
  local xs, ys = D.downsample(vs, big, 10)
  H.check(#xs == #ys and #ys <= 12, 'downsample keeps at most about max points')
end

---------------------------------------------------------------------------- wrong types
do
  H.checkerror('plot.line: expected a tensor or a table of numbers, got string', plot.line, 'x')
  H.checkerror('plot.line: expected a tensor or a table of numbers, got a table with a ' ..
               'string at [2]', plot.line, {1, 'a'})
  H.checkerror('plot.line: expected an options table, got number', plot.line, {1}, 3)
  H.checkerror('plot.hist: expected a tensor or a table of numbers, got nil', plot.hist, nil)
  H.checkerror('plot.hist: bins must be an integer', plot.hist, {1}, {bins = 0})
  H.checkerror('plot.hist: range must be {lo, hi}', plot.hist, {1}, {range = {2, 1}})
  H.checkerror('plot.scatter: xs has 2 values but ys has 1', plot.scatter, {1, 2}, {1})
  H.checkerror('plot.scatter: 2 points but 1 labels', plot.scatter, {1, 2}, {1, 2},
               {labels = {1}})
  H.checkerror('plot.heatmap: rows have different lengths', plot.heatmap, {{1, 2}, {3}})
  H.checkerror("plot.heatmap: unknown cmap 'jet'", plot.heatmap, {{1}}, {cmap = 'jet'})
  H.checkerror('plot.heatmap: expected a 2-D tensor or a table of rows, got boolean',
               plot.heatmap, true)
  H.checkerror('plot.save: expected a plot object', plot.save, {}, 'x.svg')
  H.checkerror('plot.progress: expected a number of steps, got string', plot.progress, 'x')
  -- the error points at the caller's line
  local function call() plot.line('x') end
  local _, msg = pcall(call)
  H.check(tostring(msg):match('test_plot%.lua:%d+: plot%.line:') ~= nil,
          'error carries the caller position: %s', tostring(msg))
end

---------------------------------------------------------------------------- scatter
do
  -- 3 points on a 2x1 canvas: classes get marks o, x
  local p = plot.scatter({0, 1, 0.5}, {0, 1, 0.5}, {labels = {2, 1, 1}, width = 2,
                                                       height = 1, show = false})
  H.check(p.class[1] == 2 and p.class[2] == 1, 'labels sorted into class indices')
  H.check(#p.class_names == 2 and p.class_names[1] == '1', 'class names from labels')
  local txt = p:render()
  -- (0,0) -> dot (0,3) in cell 1; (1,1) -> dot (3,0) in cell 2; (0.5,0.5) -> dot
  -- (round(1.5)=2, 3-round(1.5)=1) in cell 2 (drawn after, so its mark wins there).
  local row = canvas_rows(txt)[1]
  H.check(row == 'xo', 'class marks per cell: %q', tostring(row))
  H.check(txt:find('o 1  x 2', 1, true) ~= nil, 'class legend')
  p = plot.scatter({1, 2}, {3, 4}, {labels = {'cat', 'dog'}, names = {cat = 'Cat'},
                                    show = false})
  H.check(p.class_names[1] == 'Cat' and p.class_names[2] == 'dog', 'names map labels')
  p = plot.scatter({{1, 2}, {3, 4}, {0 / 0, 1}}, {show = false})
  H.check(#p.xs == 3 and p.bad == 1, 'pairs form with a NaN point skipped')
  H.check(X.check(p:svg()), 'scatter SVG well-formed')
end

---------------------------------------------------------------------------- hist
do
  -- edges 1, 1.75, 2.5, 3.25, 4: counts 1 (1), 2 (2,2), 3 (3,3,3), 4 (4s, last bin closed)
  local p = plot.hist({1, 2, 2, 3, 3, 3, 4, 4, 4, 4}, {bins = 4, show = false})
  close_list(p.counts, {1, 2, 3, 4}, 0, 'hist counts')
  close_list(p.edges, {1, 1.75, 2.5, 3.25, 4}, 1e-12, 'hist edges')
  local txt = p:render()
  H.check(txt:find('[3.25, 4]', 1, true) and txt:find('n=10', 1, true), 'hist labels: %s', txt)
  H.check(lines(txt)[4]:match('████████████████████████████████████████ 4$') ~= nil,
          'the largest bin gets the full bar')
  -- range: values outside are counted apart; NaN skipped
  p = plot.hist({-1, 0, 0.5, 1, 2, 0 / 0}, {bins = 2, range = {0, 1}, show = false})
  close_list(p.counts, {1, 2}, 0, 'counts with a range')
  H.check(p.outside == 2 and p.bad == 1 and p.n == 3, 'outside and NaN counted')
  H.check(p:render():find('2 outside the range', 1, true) ~= nil, 'outside note')
  -- constant sample: numpy's range (v - 0.5, v + 0.5)
  p = plot.hist({5, 5, 5}, {bins = 3, show = false})
  close_list(p.counts, {0, 3, 0}, 0, 'constant sample in the middle bin')
  close_list({p.edges[1], p.edges[4]}, {4.5, 5.5}, 1e-12, 'constant sample range')
  p = plot.hist({}, {show = false})
  H.check(p.n == 0 and #p.counts == 10, 'empty histogram')
  H.check(X.check(p:svg()), 'empty histogram SVG')
end

---------------------------------------------------------------------------- heatmaps and images
do
  -- ASCII: 10-level ramp " .:-=+*#%@", t = (v - 0) / 3 -> level round(9t): 0, 3, 6, 9
  -- = ' ', '-', '*', '@'; two characters per pixel.
  local p = plot.heatmap({{0, 1}, {2, 3}}, {show = false})
  local t = lines(p:render())
  H.check(t[1] == '  --', 'heatmap row 1: %q', t[1])
  H.check(t[2] == '**@@', 'heatmap row 2: %q', t[2])
  H.check(t[3] == '0 [ .:-=+*#%@] 3', 'ASCII legend: %q', t[3])
  -- diverging ramp "#=-. :+*@" on [-2, 2]: -2 -> '#', 0 -> ' ', 1 -> '+', 2 -> '@'
  p = plot.heatmap({{-2, 0}, {1, 2}}, {cmap = 'diverging', show = false})
  t = lines(p:render())
  H.check(t[1] == '##' and t[2] == '++@@', 'diverging rows: %q %q', t[1], t[2])
  H.check(t[3] == '-2 [#=-. :+*@] 2', 'diverging legend symmetric: %q', t[3])
  -- NaN pixel
  p = plot.heatmap({{0, 0 / 0}, {1, 2}}, {show = false})
  t = lines(p:render())
  H.check(t[1] == '  ??' and t[3]:find('(1 NaN/inf)', 1, true), 'NaN pixel: %q %q', t[1], t[3])
  -- color: half blocks, viridis endpoints in truecolor, 256-color escapes
  p = plot.heatmap({{0, 1}, {2, 3}}, {show = false})
  local c = p:render({color = 'truecolor'})
  H.check(select(2, c:gsub('▀', '')) == 2, 'two half blocks for a 2x2 image')
  H.check(c:find('\27[38;2;68;1;84m', 1, true) ~= nil, 'min pixel is viridis start')
  H.check(c:find('\27[48;2;253;231;37m', 1, true) ~= nil, 'max pixel (bottom) as background')
  H.check(p:render({color = '256'}):find('\27[38;5;', 1, true) ~= nil, '256-color mode')
  -- odd height: the last row has no background pixel
  p = plot.heatmap({{1, 2, 3}}, {show = false})
  H.check(p:render({color = 'truecolor'}):find('\27[49m', 1, true) ~= nil, 'odd height')
  -- constant and empty images
  p = plot.heatmap({{7, 7}, {7, 7}}, {show = false})
  -- t = 0.5 -> level round(4.5) = 5 -> '+'
  H.check(lines(p:render())[1] == '++++', 'constant image: middle of the ramp')
  p = plot.heatmap({}, {show = false})
  H.check(p:render():find('(empty)', 1, true) ~= nil, 'empty image')
  -- large image shrinks to the width
  local big = {}
  for r = 1, 100 do big[r] = {} for k = 1, 300 do big[r][k] = r + k end end
  p = plot.heatmap(big, {show = false, width = 60})
  H.check(D.width(lines(p:render())[1]) <= 60, 'big image fits the width')
  H.check(X.check(p:svg()), 'big image SVG')
  -- scale enlarges small matrices
  p = plot.image({{0, 1}}, {scale = 2, show = false})
  H.check(lines(p:render())[1] == '    @@@@', 'scale 2: %q', lines(p:render())[1])
  -- images side by side with captions
  p = plot.images({{{0, 1}, {2, 3}}, {{-1, 0}, {0, 1}}},
                  {titles = {'input', 'saliency'}, cmap = {'gray', 'diverging'}, show = false})
  t = lines(p:render())
  H.check(t[1]:find('input', 1, true) and t[1]:find('saliency', 1, true), 'captions: %q', t[1])
  H.check(t[2]:find('  --', 1, true) == 1, 'first image left: %q', t[2])
  H.check(t[4]:find('[#=-. :+*@]', 1, true) ~= nil, 'second legend is diverging')
  local ok, err = X.check(p:svg())
  H.check(ok, 'images SVG well-formed: %s', tostring(err))
  local svg = p:svg()
  H.check(svg:find('>input</text>', 1, true) and svg:find('>saliency</text>', 1, true),
          'SVG captions')
end

---------------------------------------------------------------------------- SVG and ticks
do
  local ticks, step = D.ticks(0, 1, 5)
  close_list(ticks, {0, 0.2, 0.4, 0.6, 0.8, 1}, 1e-12, 'ticks 0..1 step 0.2')
  H.check(step == 0.2, 'step 0.2')
  ticks, step = D.ticks(0, 97, 5)
  close_list(ticks, {0, 20, 40, 60, 80, 100}, 0, 'ticks 0..97 step 20')
  ticks = D.ticks(-0.3, 0.7, 5)
  close_list(ticks, {-0.4, -0.2, 0, 0.2, 0.4, 0.6, 0.8}, 1e-12, 'ticks -0.3..0.7')
  H.check(D.nice_step(0, 1000, 2) == 500, '1-2-5: 1000/2 -> 500')
  H.check(D.nice_step(0, 3, 10) == 0.5, '1-2-5: 0.3 -> 0.5')
  H.check(D.tick_label(0.6000000001, 0.2) == '0.6', 'tick label rounding')
  H.check(D.tick_label(15, 5) == '15' and D.tick_label(0.25, 0.05) == '0.25', 'tick decimals')
  H.check(D.tick_label(2e-7, 1e-7) == '2e-7', 'tiny tick label: %s', D.tick_label(2e-7, 1e-7))

  local ys = {}
  for i = 1, 11 do ys[i] = (i - 1) / 10 end
  local p = plot.line(ys, {title = 'a < b & c', xlabel = 'step', ylabel = 'loss', show = false})
  local svg = p:svg()
  local ok, err = X.check(svg)
  H.check(ok, 'line SVG well-formed: %s', tostring(err))
  H.check(svg:find('a &lt; b &amp; c', 1, true) ~= nil, 'title escaped')
  local texts = table.concat(X.texts(svg), ' ')
  H.check(texts:find('0 0.2 0.4 0.6 0.8 1', 1, true) ~= nil, 'y ticks 0..1 by 0.2: %s', texts)
  H.check(texts:find('0 2 4 6 8 10 12', 1, true) ~= nil, 'x ticks 0..12 by 2: %s', texts)
  H.check(svg:find('<polyline', 1, true) ~= nil, 'a polyline')
  for _, kind in ipairs({'x', 'y', 'x1', 'y2', 'width'}) do
    for _, v in ipairs(X.attrs(svg, 'line', kind)) do
      H.check(tonumber(v) ~= nil, 'numeric %s', kind)
    end
  end
  -- save: plot.save(p, path), p:save(path), plot.save(path) (last plot), opts.svg
  local f1, f2, f3 = tmpdir .. '/a.svg', tmpdir .. '/b.svg', tmpdir .. '/c.svg'
  H.check(plot.save(p, f1) == f1, 'plot.save returns the path')
  local q = plot.hist({1, 2, 3}, {show = false})
  plot.save(f2)
  plot.line({1, 2}, {svg = f3, show = false})
  for _, f in ipairs({f1, f2, f3}) do
    local h = io.open(f)
    local body = h and h:read('a')
    if h then h:close() end
    H.check(body and X.check(body), 'saved SVG %s well-formed', f)
  end
  local body = io.open(f2):read('a')
  H.check(body == q:svg(), 'plot.save(path) saved the last plot')
  p:save(tmpdir .. '/p.txt')
  H.check(io.open(tmpdir .. '/p.txt'):read('a') == p:render({color = false}) .. '\n',
          '.txt saves the terminal text')
  H.checkerror('plot.save: cannot write', plot.save, p, tmpdir .. '/no/such/dir/x.svg')
end

---------------------------------------------------------------------------- showing
do
  local out, p = quiet(plot.line, {1, 2, 3})
  H.check(out == p:render(), 'a plot prints itself')
  out = quiet(plot.line, {1, 2, 3}, {show = false})
  H.check(out == '', 'show=false prints nothing')
  local seen = {}
  plot.capture = function(q) seen[#seen + 1] = q; return true end
  out, p = quiet(plot.hist, {1, 2})
  plot.capture = nil
  H.check(out == '' and seen[1] == p, 'capture hook takes the plot instead of printing')
  H.check(type(getmetatable(p).__shown) == 'function', '__shown for the REPL')
  H.check(plot.color_mode({color = false}) == nil and plot.color_mode({color = '256'}) == '256',
          'color_mode')
  -- NO_COLOR in the environment turns color off (unless a call asks for it)
  local lua = arg and arg[-1] or 'lua5.4'
  local cmd = string.format(
    "NO_COLOR=1 NABLA_TTY=1 LUA_PATH=%q %s -e \"local p = require('plot'); " ..
    "io.write(tostring(p.color_mode({})), ' ', p.color_mode({color = true}) or 'nil')\"",
    package.path, lua)
  local h = io.popen(cmd)
  local res = h and h:read('a') or ''
  if h then h:close() end
  H.check(res == 'nil 256' or res == 'nil truecolor', 'NO_COLOR: %q', res)
end

---------------------------------------------------------------------------- progress
do
  local now = 0
  local function clock() return now end
  local written = {}
  local function out(s) written[#written + 1] = s end
  -- not a terminal: nothing at all
  local bar = plot.progress(10, {force = false, out = out, clock = clock})
  for _ = 1, 10 do bar:update() end
  bar:done()
  H.check(#written == 0, 'no output when not a terminal')
  -- not a terminal, summary: one final line
  bar = plot.progress(4, {force = false, summary = true, out = out, clock = clock,
                          label = 'train'})
  for _ = 1, 4 do now = now + 0.5; bar:update({loss = 0.25}) end
  bar:done()
  H.check(#written == 1 and written[1] == 'train 100% |' .. string.rep('█', 24) ..
          '| 4/4 [0:02, 2 it/s] loss=0.25\n', 'summary line: %q', tostring(written[1]))
  -- a terminal: throttled redraws with \r, rate, ETA, fields
  written, now = {}, 0
  bar = plot.progress(100, {force = true, out = out, clock = clock, label = 'epoch'})
  for i = 1, 100 do
    if i % 10 == 0 then now = now + 0.2 else now = now + 0.001 end
    bar:update(1, {loss = 1 / i})
  end
  local draws = #written
  H.check(draws >= 5 and draws <= 30, 'redraws are throttled (%d)', draws)
  local mid = written[3]
  H.check(mid:sub(1, 1) == '\r' and mid:find('it/s', 1, true) and mid:find('<', 1, true),
          'redraw line: %q', mid)
  bar:done()
  H.check(written[#written] == '\n', 'done ends the line')
  H.check(written[#written - 1]:find('100/100', 1, true) ~= nil, 'final count')
  bar:done()
  H.check(written[#written] == '\n' and #written == draws + 2, 'done is idempotent')
  -- unknown total, increments, set
  written = {}
  bar = plot.progress(nil, {force = true, out = out, clock = clock, interval = 0})
  bar:update(5)
  bar:set(12)
  H.check(written[#written]:match('^\r12 ') ~= nil, 'unknown total shows the count: %q',
          written[#written])
end

---------------------------------------------------------------------------- tensors
if has_nb then
  local t = nb.tensor({1, 2, 3, 4})
  local a = plot.line(t, {width = 2, height = 1, show = false}):render()
  local b = plot.line({1, 2, 3, 4}, {width = 2, height = 1, show = false}):render()
  H.check(a == b, '1-D tensor plots like a table')
  local p = plot.line(nb.tensor({{1, 2, 3}, {3, 2, 1}}), {show = false})
  H.check(#p.series == 2, '2-D tensor: one series per row')
  p = plot.heatmap(nb.tensor({{{0, 1}, {2, 3}}}), {show = false})
  H.check(lines(p:render())[2] == '**@@', '[1,H,W] tensor image')
  p = plot.hist(nb.tensor({1, 2, 2, 3, 3, 3, 4, 4, 4, 4}, {dtype = 'i64'}), {bins = 4,
                                                                          show = false})
  close_list(p.counts, {1, 2, 3, 4}, 0, 'i64 tensor histogram')
  p = plot.scatter(nb.tensor({{0, 0}, {1, 1}}), {labels = nb.tensor({1, 2}, {dtype = 'i64'}),
                                                 show = false})
  H.check(#p.class_names == 2, '[N,2] tensor scatter with tensor labels')
  p = plot.image(nb.zeros(3, 2, 2) + 0.5, {show = false})
  H.check(p.images[1].rgb, '[3,H,W] tensor is an RGB image')
  H.check(X.check(p:svg()), 'RGB SVG')
  p = plot.images(nb.zeros(3, 1, 4, 4), {show = false})
  H.check(#p.images == 3, 'batch tensor -> one panel per image')
  if nb.doc and nb._docs then
    H.check(tostring(nb._docs[plot.line]):find('plot.line(', 1, true) == 1, 'plot.line doc')
    H.check(nb._docs[plot.progress] ~= nil and nb._docs[plot.save] ~= nil, 'docs registered')
  end
end

os.execute('rm -rf ' .. tmpdir)
H.report()
