-- plot.color: colormaps (viridis, gray, a red-blue diverging map), the series palette, and
-- ANSI escapes in truecolor or the xterm 256-color cube.  Colors are {r, g, b} in 0..255.
local M = {}

local floor = math.floor

-- Anchor colors sampled from matplotlib's maps at even steps; between anchors we interpolate
-- linearly, which is within a few levels of the real maps and keeps this file small.
M.maps = {
  viridis = {
    {68, 1, 84}, {72, 40, 120}, {62, 73, 137}, {49, 104, 142}, {38, 130, 142},
    {31, 158, 137}, {53, 183, 121}, {110, 206, 88}, {253, 231, 37},
  },
  gray = {{0, 0, 0}, {255, 255, 255}},
  -- RdBu reversed: blue for negative, near-white at zero, red for positive (attribution maps)
  diverging = {
    {5, 48, 97}, {33, 102, 172}, {67, 147, 195}, {146, 197, 222}, {209, 229, 240},
    {247, 247, 247}, {253, 219, 199}, {244, 165, 130}, {214, 96, 77}, {178, 24, 43},
    {103, 0, 31},
  },
}
M.maps.rdbu = M.maps.diverging
M.maps.grey = M.maps.gray

-- Series and class colors (matplotlib's tab10), in order.
M.palette = {
  {31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189},
  {140, 86, 75}, {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
}

M.nan_color = {255, 0, 255}   -- magenta: impossible to mistake for data in any map

function M.series(i)
  return M.palette[(i - 1) % #M.palette + 1]
end

-- Color for t in [0, 1] (clamped) from a named map.
function M.map(name, t)
  local anchors = M.maps[name] or M.maps.viridis
  if t ~= t then return M.nan_color end
  t = math.max(0, math.min(1, t))
  local x = t * (#anchors - 1)
  local i = math.min(floor(x), #anchors - 2)
  local f = x - i
  local a, b = anchors[i + 1], anchors[i + 2]
  return {floor(a[1] + (b[1] - a[1]) * f + 0.5), floor(a[2] + (b[2] - a[2]) * f + 0.5),
          floor(a[3] + (b[3] - a[3]) * f + 0.5)}
end

function M.hex(c)
  return string.format('#%02x%02x%02x', c[1], c[2], c[3])
end

-- Nearest xterm-256 index: the 6x6x6 cube or the 24-step gray ramp, whichever is closer.
local levels = {0, 95, 135, 175, 215, 255}
local function nearest_level(v)
  local best, bi = math.huge, 1
  for i, l in ipairs(levels) do
    local d = math.abs(v - l)
    if d < best then best, bi = d, i end
  end
  return bi - 1
end

function M.xterm256(c)
  local r, g, b = nearest_level(c[1]), nearest_level(c[2]), nearest_level(c[3])
  local cube = 16 + 36 * r + 6 * g + b
  local cr, cg, cb = levels[r + 1], levels[g + 1], levels[b + 1]
  local dcube = (cr - c[1]) ^ 2 + (cg - c[2]) ^ 2 + (cb - c[3]) ^ 2
  local avg = (c[1] + c[2] + c[3]) / 3
  local gi = math.max(0, math.min(23, floor((avg - 8) / 10 + 0.5)))
  local gv = 8 + 10 * gi
  local dgray = (gv - c[1]) ^ 2 + (gv - c[2]) ^ 2 + (gv - c[3]) ^ 2
  if dgray < dcube then return 232 + gi end
  return cube
end

-- Escape setting the foreground (or background when bg) in the given mode.
function M.esc(c, mode, bg)
  if mode == 'truecolor' then
    return string.format('\27[%d;2;%d;%d;%dm', bg and 48 or 38, c[1], c[2], c[3])
  end
  return string.format('\27[%d;5;%dm', bg and 48 or 38, M.xterm256(c))
end

M.reset = '\27[0m'

return M
