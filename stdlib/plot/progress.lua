-- plot.progress: a one-line progress bar with rate, ETA and extra fields (loss=...), redrawn in
-- place with \r at most every `interval` seconds.  It draws only on a terminal: Lua cannot ask
-- whether stdout is one, so the nabla program sets NABLA_TTY=1 when it is (opts.force draws
-- anyway).  Elsewhere it prints nothing, or one summary line at :done() with opts.summary.
local D = require 'plot.data'
local M = {}

local ok_nb, nb = pcall(require, 'nabla')
local default_clock = (ok_nb and type(nb) == 'table' and nb.clock) or os.clock

local Progress = {}
Progress.__index = Progress

local function fmt_time(s)
  if not D.finite(s) or s < 0 then return '?' end
  s = math.floor(s + 0.5)
  if s >= 3600 then return string.format('%d:%02d:%02d', s // 3600, s % 3600 // 60, s % 60) end
  return string.format('%d:%02d', s // 60, s % 60)
end

local function fmt_value(v)
  if type(v) == 'number' then return D.fmt(v) end
  return tostring(v)
end

local EIGHTHS = {'▏', '▎', '▍', '▌', '▋', '▊', '▉'}

local function bar(frac, w)
  frac = math.max(0, math.min(1, frac))
  local cells = frac * w
  local full = math.floor(cells)
  local part = math.floor((cells - full) * 8)
  local s = string.rep('█', full)
  if full < w then
    s = s .. (part > 0 and EIGHTHS[part] or ' ') .. string.rep(' ', w - full - 1)
  end
  return s
end

-- total may be nil (unknown length: no bar and no ETA).
function M.new(total, opts)
  opts = opts or {}
  if total ~= nil and type(total) ~= 'number' then
    error('plot.progress: expected a number of steps, got ' .. type(total), 0)
  end
  local clock = opts.clock or default_clock
  local self = setmetatable({
    total = total, n = 0, label = opts.label, opts = opts, clock = clock,
    fields = {}, keys = {}, width = opts.width or 24, interval = opts.interval or 0.1,
    tty = opts.force, last_len = 0, finished = false,
    write = opts.out or function(s) io.stdout:write(s); io.stdout:flush() end,
  }, Progress)
  if self.tty == nil then self.tty = os.getenv('NABLA_TTY') == '1' end
  self.start = clock()
  self.last_draw = -math.huge
  return self
end

function Progress:_merge(fields)
  if type(fields) ~= 'table' then return end
  for k, v in pairs(fields) do
    if self.fields[k] == nil then self.keys[#self.keys + 1] = k end
    self.fields[k] = v
  end
  table.sort(self.keys, function(a, b) return tostring(a) < tostring(b) end)
end

-- The status line: label, percent, bar, count, elapsed<eta, rate, fields.
function Progress:line()
  local elapsed = self.clock() - self.start
  local rate = elapsed > 0 and self.n / elapsed or nil
  local parts = {}
  if self.label then parts[#parts + 1] = self.label end
  if self.total and self.total > 0 then
    local frac = self.n / self.total
    parts[#parts + 1] = string.format('%3d%%', math.floor(math.min(frac, 1) * 100))
    parts[#parts + 1] = '|' .. bar(frac, self.width) .. '|'
    parts[#parts + 1] = string.format('%d/%d', self.n, self.total)
  else
    parts[#parts + 1] = string.format('%d', self.n)
  end
  local eta = (rate and self.total) and (self.total - self.n) / rate or nil
  local t = '[' .. fmt_time(elapsed)
  if self.total and not self.finished then t = t .. '<' .. fmt_time(eta) end
  if rate and rate >= 1 then
    t = t .. string.format(', %s it/s]', D.fmt(tonumber(string.format('%.3g', rate))))
  elseif rate and rate > 0 then
    t = t .. string.format(', %s s/it]', D.fmt(tonumber(string.format('%.3g', 1 / rate))))
  else
    t = t .. ']'
  end
  parts[#parts + 1] = t
  for _, k in ipairs(self.keys) do
    parts[#parts + 1] = tostring(k) .. '=' .. fmt_value(self.fields[k])
  end
  return table.concat(parts, ' ')
end

function Progress:_draw()
  local s = self:line()
  local len = D.width(s)
  local pad = self.last_len > len and string.rep(' ', self.last_len - len) or ''
  self.write('\r' .. s .. pad)
  self.last_len = len
  self.last_draw = self.clock()
end

-- update() or update(k) advances by k (default 1), like tqdm; update{loss=...} or
-- update(k, {loss=...}) also sets the extra fields shown at the end of the line.
function Progress:update(k, fields)
  if type(k) == 'table' then k, fields = nil, k end
  self.n = self.n + (k or 1)
  self:_merge(fields)
  if self.tty and not self.finished then
    local now = self.clock()
    if now - self.last_draw >= self.interval or (self.total and self.n >= self.total) then
      self:_draw()
    end
  end
  return self
end

-- set(n) jumps to an absolute count.
function Progress:set(n, fields)
  return self:update(n - self.n, fields)
end

function Progress:done(fields)
  if self.finished then return self end
  self:_merge(fields)
  self.finished = true
  if self.tty then
    self:_draw()
    self.write('\n')
  elseif self.opts.summary then
    -- through print, so that a lesson being rendered captures it like any output
    if self.opts.out then self.write(self:line() .. '\n') else print(self:line()) end
  end
  return self
end

M.Progress = Progress
return M
