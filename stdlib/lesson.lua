-- lesson: lessons are plain .lua files split into cells by `-- %% Title` lines (format in
-- docs/lessons.md).  This module finds and parses them, runs their cells in a session
-- environment (headless, interactively from the REPL's :open/:next/:prev/:cell/:run, or
-- to render a notebook-style Markdown file with SVG plots).  Cells share one environment
-- whose __index falls back to _G, and top-level locals become assignments into it, so every
-- variable of a cell stays visible to later cells and at the prompt.
local source = require 'lesson.source'

local ok_nb, nb = pcall(require, 'nabla')
if not ok_nb then nb = nil end

local M = {}

-- Settings:
--   lesson.dir    lessons directory given by the program (NABLA_LESSONS wins; default
--                 ./examples/lessons)
--   lesson.quick  true when NABLA_QUICK=1 or a run asks for it: lessons shrink data/epochs
M.dir = nil
M.quick = os.getenv('NABLA_QUICK') == '1'

-- The interactive state: current lesson, cell position, pending (shown but not run).
M.state = {lesson = nil, pos = 0, pending = false}

---------------------------------------------------------------------------- helpers
local function module_exists(name)
  if package.loaded[name] ~= nil or package.preload[name] ~= nil then return true end
  return package.searchpath(name, package.path) ~= nil or
         package.searchpath(name, package.cpath) ~= nil
end

-- A standard module if it is installed; its load errors are not hidden.
local function optional(name)
  if not module_exists(name) then return nil end
  local ok, m = pcall(require, name)
  if ok then return m end
  return nil
end

local function repl_api()
  local ok, r = pcall(require, 'nabla.repl')
  if ok and type(r) == 'table' then return r end
end

local function no_color_env()
  local v = os.getenv('NO_COLOR')
  return v ~= nil and v ~= ''
end

local color_override = nil   -- run_headless{color=} sets it for the run

local function use_color()
  if color_override ~= nil then return color_override end
  if no_color_env() then return false end
  local r = repl_api()
  if r then return r.color == true end
  return os.getenv('NABLA_TTY') == '1'
end

local function paint(s, code)
  if not use_color() then return s end
  return '\27[' .. code .. 'm' .. s .. '\27[0m'
end

local function rewrite(code)
  local r = repl_api()
  if r and type(r.rewrite_locals) == 'function' then return r.rewrite_locals(code) end
  return source.rewrite_locals(code)
end

local function read_file(path)
  local f, err = io.open(path, 'rb')
  if not f then return nil, err end
  local s = f:read('a')
  f:close()
  return s
end

local function basename(path)
  return (path:match('([^/]+)$') or path)
end

local function dirname(path)
  return path:match('^(.*)/[^/]*$') or '.'
end

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

---------------------------------------------------------------------------- finding lessons
function M.lessons_dir()
  local env = os.getenv('NABLA_LESSONS')
  if env and env ~= '' then return env end
  return M.dir or './examples/lessons'
end

-- File names (*.lua) in dir, sorted.
local function lua_files(dir)
  local names = {}
  if nb and nb.listdir then
    local ok, list = pcall(nb.listdir, dir)
    if ok and type(list) == 'table' then
      for _, n in ipairs(list) do if n:match('%.lua$') then names[#names + 1] = n end end
      table.sort(names)
      return names
    end
  end
  local p = io.popen('ls -1 ' .. shell_quote(dir) .. ' 2>/dev/null')
  if p then
    for n in p:lines() do if n:match('%.lua$') then names[#names + 1] = n end end
    p:close()
  end
  table.sort(names)
  return names
end

-- A path (contains '/' or ends in .lua and exists) or a NAME in the lessons directory;
-- a unique prefix of a name works too.
function M.find(name)
  if type(name) ~= 'string' or name == '' then
    error('lesson.find: expected a lesson name or path, got ' ..
          (name == '' and 'an empty string' or type(name)), 2)
  end
  local f = io.open(name, 'rb')
  if f and (name:find('/', 1, true) or name:match('%.lua$')) then
    f:close()
    return name
  end
  if f then f:close() end
  local dir = M.lessons_dir()
  local stem = name:gsub('%.lua$', '')
  local path = dir .. '/' .. stem .. '.lua'
  f = io.open(path, 'rb')
  if f then f:close(); return path end
  if not name:find('/', 1, true) then
    local hits = {}
    for _, n in ipairs(lua_files(dir)) do
      if n:sub(1, #stem) == stem then hits[#hits + 1] = n end
    end
    if #hits == 1 then return dir .. '/' .. hits[1] end
    if #hits > 1 then
      error(string.format("lesson '%s' is ambiguous: %s", name,
                          table.concat(hits, ', '):gsub('%.lua', '')), 0)
    end
  end
  error(string.format("lesson '%s' not found in %s (:lessons lists them)", name, dir), 0)
end

-- {title, summary, time, intro, cells = {{title, prose, code, line, sep_line}}, name, path}
function M.parse(path)
  if type(path) ~= 'string' then
    error('lesson.parse: expected a file name, got ' .. type(path), 2)
  end
  local text, err = read_file(path)
  if not text then error('lesson.parse: cannot read ' .. path .. ': ' .. tostring(err), 2) end
  local name = basename(path):gsub('%.lua$', '')
  local ok, L = pcall(source.parse, text, name, path)
  if not ok then error('lesson.parse: ' .. tostring(L), 2) end
  return L
end

-- Parses lesson text that is not in a file (tests, tools).
function M.parse_string(text, name)
  return source.parse(text, name or 'lesson', nil)
end

-- Array of {name, title, summary, time, path} for the lessons directory, sorted by name.
function M.list()
  local dir = M.lessons_dir()
  local out = {}
  for _, n in ipairs(lua_files(dir)) do
    local path = dir .. '/' .. n
    local ok, L = pcall(M.parse, path)
    local name = n:gsub('%.lua$', '')
    if ok then
      out[#out + 1] = {name = name, title = L.title, summary = L.summary, time = L.time,
                       path = path, cells = #L.cells}
    else
      out[#out + 1] = {name = name, title = '(cannot parse: ' .. tostring(L) .. ')',
                       path = path}
    end
  end
  return out
end

---------------------------------------------------------------------------- running cells
local STD = {nb = 'nabla', nn = 'nn', optim = 'optim', check = 'check', calc = 'calc',
             plot = 'plot', data = 'data', lesson = 'lesson'}

-- A fresh session environment: reads fall back to _G, then to the standard modules (so
-- lessons see nb, nn, plot, check, lesson, ... as the nabla program provides them).
function M.new_env()
  return setmetatable({}, {__index = function(t, k)
    local v = _G[k]
    if v ~= nil then return v end
    local mod = STD[k]
    if mod == 'lesson' then return M end
    if mod and module_exists(mod) then
      local m = require(mod)
      rawset(t, k, m)
      return m
    end
  end})
end

-- Runs cell i of lesson L in env.  Returns true, or false and an error record
-- {msg=, line=, text=, interrupted=}.  Output goes wherever print goes.
function M.run_cell(L, i, env)
  local cell = L.cells[i]
  if not cell.line or cell.code == '' then return true end
  -- Padding with newlines makes the chunk's line numbers the file's, so messages and
  -- tracebacks (also from functions a cell defines and later cells call) point into the file.
  local chunkname = L.path and ('@' .. L.path) or ('=lesson:' .. (L.name or '?'))
  local code = string.rep('\n', cell.line - 1) .. rewrite(cell.code)
  local fn, err = load(code, chunkname, 't', env)
  local line
  if fn then
    local src = chunkname
    local ok, e = xpcall(fn, function(m)
      for level = 2, 60 do
        local info = debug.getinfo(level, 'Sl')
        if not info then break end
        if info.source == src and info.currentline and info.currentline > 0 then
          line = info.currentline
          break
        end
      end
      return m
    end)
    if ok then return true end
    err = e
  else
    line = tonumber(tostring(err):match(':(%d+):'))
  end
  local msg = tostring(err)
  local where = (L.path or L.name or 'lesson') .. (line and (':' .. line) or '')
  -- the message usually starts with the same place; say it once
  local short = msg
  if msg:sub(1, #where + 2) == where .. ': ' then short = msg:sub(#where + 3) end
  local text = string.format('error in cell %d "%s" (%s): %s', i, cell.title, where, short)
  return false, {msg = msg, line = line, text = text, cell = i,
                 interrupted = msg:match('interrupted$') ~= nil}
end

-- Counts check.answer results while fn runs (check.failures only keeps failures).
local function counting_checks(fn)
  local check = optional('check')
  local stats = {passed = 0, failed = 0, labels = {}}
  if not check then return fn(stats), stats end
  local orig = check.answer
  check.answer = function(label, ...)
    local r = table.pack(orig(label, ...))
    if r[1] then stats.passed = stats.passed + 1
    else stats.failed = stats.failed + 1; stats.labels[#stats.labels + 1] = tostring(label) end
    return table.unpack(r, 1, r.n)
  end
  local ok, res = pcall(fn, stats)
  check.answer = orig
  if not ok then error(res, 0) end
  return res, stats
end

local function checks_summary(stats)
  local total = stats.passed + stats.failed
  if total == 0 then return 'no checks' end
  if stats.failed == 0 then
    return string.format('%d check%s passed', total, total == 1 and '' or 's')
  end
  return string.format('%d of %d checks failed (%s)', stats.failed, total,
                       table.concat(stats.labels, ', '))
end

local function with_quick(quick, fn)
  local prev = M.quick
  if quick then M.quick = true end
  local ok, res = pcall(fn)
  M.quick = prev
  if not ok then error(res, 0) end
  return res
end

local function headless(L, opts)
  local check = optional('check')
  if check then check.reset() end
  local env = opts.env or M.new_env()
  return with_quick(opts.quick, function()
    local failed_cell
    local _, stats = counting_checks(function()
      print(string.format('# %s (%s)', L.title, L.path))
      for i, cell in ipairs(L.cells) do
        print(string.format('\n-- [%d/%d] %s', i, #L.cells, cell.title))
        local ok, err = M.run_cell(L, i, env)
        if not ok then
          if err.interrupted then error('interrupted', 0) end
          print(paint('✗ ' .. err.text, '31'))
          failed_cell = err
          break
        end
      end
    end)
    local failures = check and check.failed() or stats.failed
    local ok = failed_cell == nil and failures == 0 and stats.failed == 0
    print(string.format('\n%s %s: %d cells, %s%s', ok and '✓' or '✗', L.name, #L.cells,
                        checks_summary(stats),
                        failed_cell and string.format(', stopped at cell %d', failed_cell.cell)
                                    or ''))
    return ok
  end)
end

-- Runs a whole lesson without stopping for the user: for each cell its title, then its
-- output and check marks.  Stops at the first cell error.  Returns true when every cell ran
-- and every check.answer passed.  opts: quick=, env=, color= (mark errors in red).
function M.run_headless(name, opts)
  opts = opts or {}
  local L = M.parse(M.find(name))
  local saved_color = color_override
  if opts.color ~= nil then color_override = opts.color and not no_color_env() end
  local ok, res = pcall(headless, L, opts)
  color_override = saved_color
  if not ok then error(res, 0) end
  return res
end

---------------------------------------------------------------------------- rendering
-- Output capture: print and io.write go to sink.text; plots shown go to sink.plot.
local function capturing(sink, fn)
  local plot = optional('plot')
  local check = optional('check')
  local saved = {print = _G.print, write = io.write, capture = plot and plot.capture,
                 check_color = check and check.color}
  _G.print = function(...)
    local n, parts = select('#', ...), {}
    for i = 1, n do parts[i] = tostring((select(i, ...))) end
    sink.text(table.concat(parts, '\t') .. '\n')
  end
  io.write = function(...)
    for i = 1, select('#', ...) do
      local v = select(i, ...)
      if type(v) ~= 'string' and type(v) ~= 'number' then
        error(string.format("bad argument #%d to 'write' (string expected, got %s)", i,
                            type(v)), 2)
      end
      sink.text(tostring(v))
    end
    return io.output()
  end
  if plot then plot.capture = function(p) sink.plot(p); return true end end
  if check then check.color = false end
  local ok, res = pcall(fn)
  _G.print, io.write = saved.print, saved.write
  if plot then plot.capture = saved.capture end
  if check then check.color = saved.check_color end
  if not ok then error(res, 0) end
  return res
end

local function fence(text, lang)
  local longest = 0
  for run in text:gmatch('`+') do longest = math.max(longest, #run) end
  local f = string.rep('`', math.max(3, longest + 1))
  return f .. (lang or '') .. '\n' .. text .. '\n' .. f .. '\n'
end

local function clean_output(s)
  s = s:gsub('\27%[[%d;]*[mK]', '')
  -- a carriage return redraws the line: keep what was drawn last
  s = s:gsub('[^\n]*\r([^\n\r]*)', '%1')
  return s
end

-- Executes a lesson and writes notebook-style Markdown to out_path (default NAME.md in the
-- current directory) with plots as SVG files next to it.  Returns ok (as run_headless), the
-- Markdown path.  opts: quick=, env=.
function M.render(name, out_path, opts)
  opts = opts or {}
  local L = M.parse(M.find(name))
  out_path = out_path or (L.name .. '.md')
  local out_dir = dirname(out_path)
  local base = basename(out_path):gsub('%.md$', ''):gsub('%.markdown$', '')
  local check = optional('check')
  if check then check.reset() end
  local env = opts.env or M.new_env()
  local md = {}
  local function add(s) md[#md + 1] = s end
  add('# ' .. L.title .. '\n')
  if L.summary or L.time then
    local meta = {}
    if L.summary then meta[#meta + 1] = '*' .. L.summary .. '*' end
    if L.time then meta[#meta + 1] = 'Run time: ' .. L.time .. '.' end
    add(table.concat(meta, ' — ') .. '\n')
  end
  if L.intro ~= '' then add(L.intro .. '\n') end
  local failed_cell, nplots = nil, 0
  local ok_all = with_quick(opts.quick, function()
    local _, stats = counting_checks(function()
      for i, cell in ipairs(L.cells) do
        add(string.format('## %d. %s\n', i, cell.title))
        if cell.prose ~= '' then add(cell.prose .. '\n') end
        if cell.code ~= '' then add(fence(cell.code, 'lua')) end
        if failed_cell then
          if cell.code ~= '' then add('*(not run: an earlier cell failed)*\n') end
        else
          local items, k = {}, 0
          local sink = {
            text = function(s)
              local last = items[#items]
              if last and last.kind == 'text' then last.text = last.text .. s
              else items[#items + 1] = {kind = 'text', text = s} end
            end,
            plot = function(p)
              k = k + 1
              nplots = nplots + 1
              local file = string.format('%s_cell%d_%d.svg', base, i, k)
              p:save(out_dir .. '/' .. file)
              items[#items + 1] = {kind = 'plot', file = file, alt = p.opts.title or
                                   string.format('%s plot %d of cell %d', p.kind, k, i)}
            end,
          }
          local r = capturing(sink, function() return table.pack(M.run_cell(L, i, env)) end)
          local ok, err = r[1], r[2]
          if not ok and err.interrupted then error('interrupted', 0) end
          for _, it in ipairs(items) do
            if it.kind == 'text' then
              local t = clean_output(it.text):gsub('\n+$', '')
              if t ~= '' then add(fence(t, 'text')) end
            else
              add(string.format('![%s](%s)\n', it.alt:gsub('[%[%]]', ''), it.file))
            end
          end
          if not ok then
            failed_cell = err
            add(string.format('**Error** in `%s%s`:\n', L.path,
                              err.line and (':' .. err.line) or ''))
            add(fence(err.msg, 'text'))
          end
        end
      end
    end)
    local failures = check and check.failed() or stats.failed
    local ok = failed_cell == nil and failures == 0 and stats.failed == 0
    add('---\n')
    add(string.format('**%s** — %s%s.\n', ok and 'Passed' or 'Failed', checks_summary(stats),
                      failed_cell and string.format('; cell %d raised an error', failed_cell.cell)
                                  or ''))
    return ok
  end)
  local f, err = io.open(out_path, 'w')
  if not f then error('lesson.render: cannot write ' .. out_path .. ': ' .. tostring(err), 2) end
  f:write(table.concat(md, '\n'))
  f:close()
  return ok_all, out_path
end

---------------------------------------------------------------------------- the REPL
local function pad(s, w)
  local n = utf8.len(s) or #s
  return n >= w and s or s .. string.rep(' ', w - n)
end

function M.print_list()
  local list = M.list()
  if #list == 0 then
    print('no lessons in ' .. M.lessons_dir())
    return
  end
  local w = 4
  for _, l in ipairs(list) do w = math.max(w, #l.name) end
  for _, l in ipairs(list) do
    local line = pad(l.name, w) .. '  ' .. pad(l.time or '?', 7) .. '  ' .. l.title
    if l.summary then line = line .. ' — ' .. l.summary end
    print(line)
  end
end

local function show_cell(L, i)
  local cell = L.cells[i]
  local head = string.format('── %d/%d  %s ', i, #L.cells, cell.title)
  local n = utf8.len(head) or #head
  print(paint(head .. string.rep('─', math.max(3, 72 - n)), '1;36'))
  if cell.prose ~= '' then print(cell.prose) end
  if cell.code ~= '' then
    if cell.prose ~= '' then print() end
    local ln = cell.line
    for line in (cell.code .. '\n'):gmatch('(.-)\n') do
      print(paint(string.format('%4d │ ', ln), '2') .. line)
      ln = ln + 1
    end
  end
end

local function end_summary(L)
  local check = optional('check')
  local failures = check and check.failures or {}
  if #failures == 0 then
    print(paint(string.format('End of "%s": no failed checks.', L.title), '32'))
  else
    print(paint(string.format('End of "%s": %d failed check%s (%s).', L.title, #failures,
                              #failures == 1 and '' or 's', table.concat(failures, ', ')), '31'))
  end
end

-- Runs cell i interactively: output goes straight to the terminal; an error is printed
-- (with the cell title and file line) and does not end the session.  Ctrl-C re-raises.
local function run_interactive(st, i)
  local L = st.lesson
  if L.cells[i].code ~= '' then print(paint('──', '2')) end
  local ok, err = M.run_cell(L, i, st.env)
  if not ok then
    if err.interrupted then error('interrupted', 0) end
    print(paint(err.text, '31'))
    -- the cell stays current and pending: after a fix at the prompt, :next runs it again
    st.pending = true
    print(paint(string.format('fix it at the prompt, then :next runs cell %d again%s', i,
                              i < #L.cells and string.format(' (:cell %d skips it)', i + 1)
                              or ''), '2'))
  end
  if ok and i == #L.cells then end_summary(L) end
  return ok
end

local function no_lesson()
  print('no lesson is open: :lessons lists them, :open NAME opens one')
end

local commands = {}

function commands.lessons()
  M.print_list()
end

function commands.open(st, args)
  if args == '' then
    print('usage: :open NAME or :open path/to/lesson.lua (:lessons lists them)')
    return
  end
  local ok, L = pcall(function() return M.parse(M.find(args)) end)
  if not ok then
    print((tostring(L):gsub('^[^:]*lesson%.lua:%d+: ', '')))
    return
  end
  st.lesson, st.pos, st.pending = L, 0, false
  local check = optional('check')
  if check then check.reset() end
  print(paint(L.title, '1'))
  if L.summary then print(L.summary) end
  if L.intro ~= '' then print(); print(L.intro) end
  print(string.format('\n%d cell%s%s. :next runs cell 1, :cell N shows a cell, :run runs ' ..
                      'them all.', #L.cells, #L.cells == 1 and '' or 's',
                      L.time and (', run time ' .. L.time) or ''))
end

function commands.next(st)
  local L = st.lesson
  if not L then return no_lesson() end
  if st.pending then
    st.pending = false
    return run_interactive(st, st.pos)
  end
  if st.pos >= #L.cells then
    print('end of the lesson: :prev goes back, :cell N shows a cell, :open starts another')
    return
  end
  st.pos = st.pos + 1
  show_cell(L, st.pos)
  run_interactive(st, st.pos)
end

function commands.prev(st)
  local L = st.lesson
  if not L then return no_lesson() end
  if st.pos <= 1 then
    print(st.pos == 1 and 'this is the first cell: :cell shows it, :next goes on'
                       or 'no cell yet: :next runs cell 1')
    return
  end
  st.pos, st.pending = st.pos - 1, false
  show_cell(L, st.pos)
  run_interactive(st, st.pos)
end

function commands.cell(st, args)
  local L = st.lesson
  if not L then return no_lesson() end
  if args == '' then
    if st.pos == 0 then
      print(paint(L.title, '1'))
      if L.summary then print(L.summary) end
      print(string.format('no cell yet: :next runs cell 1 of %d', #L.cells))
      return
    end
    show_cell(L, st.pos)
    if st.pending then print(paint('(not run yet: :next runs it)', '2')) end
    return
  end
  local n = tonumber(args)
  if not n or n ~= math.floor(n) or n < 1 or n > #L.cells then
    print(string.format('usage: :cell N with N in 1..%d', #L.cells))
    return
  end
  st.pos, st.pending = math.floor(n), true
  show_cell(L, st.pos)
  print(paint('(not run yet: :next runs it)', '2'))
end

function commands.run(st)
  local L = st.lesson
  if not L then return no_lesson() end
  local from = st.pending and st.pos or st.pos + 1
  if from > #L.cells then
    print('nothing left to run: :prev goes back, :open starts another lesson')
    return
  end
  for i = from, #L.cells do
    st.pos, st.pending = i, false
    show_cell(L, i)
    if not run_interactive(st, i) then return end
  end
end

-- The REPL's lesson commands (:lessons :open :next :prev :cell :run).  cmd is the name without
-- the colon, args the rest of the line, env the session environment (cells run there).
-- :next shows the next cell and runs it; :prev goes back one cell, shows it and runs it again
-- (later cells are not undone); :cell shows the current cell, :cell N moves to cell N and only
-- shows it (:next then runs it); :run runs the current pending cell or the next one and all
-- after it, stopping at an error.  A cell that raised stays pending, so :next retries it.
function M.repl_command(cmd, args, env)
  local st = M.state
  if env ~= nil then st.env = env end
  st.env = st.env or M.new_env()
  args = args and (args:gsub('^%s+', ''):gsub('%s+$', '')) or ''
  local f = commands[cmd]
  if not f then
    print(string.format("unknown lesson command ':%s' (lessons, open, next, prev, cell, run)",
                        tostring(cmd)))
    return
  end
  f(st, args)
end

local docs = {
  parse = 'lesson.parse(path) — read a lesson file: {title, summary, time, intro, cells = ' ..
          '{{title, prose, code, line}}}',
  parse_string = 'lesson.parse_string(text, name) — lesson.parse for text not in a file',
  find = 'lesson.find(name_or_path) — path of a lesson: NAME.lua in NABLA_LESSONS, lesson.dir ' ..
         'or ./examples/lessons (unique prefixes work)',
  list = 'lesson.list() — {name, title, summary, time, path} for every lesson, sorted',
  print_list = 'lesson.print_list() — print the lessons (what :lessons shows)',
  lessons_dir = 'lesson.lessons_dir() — the directory lesson names resolve in',
  new_env = 'lesson.new_env() — a session environment (falls back to _G and the std modules)',
  run_cell = 'lesson.run_cell(L, i, env) — run cell i of a parsed lesson; returns ok, err',
  run_headless = 'lesson.run_headless(name_or_path, {quick=, env=}) — run every cell, print ' ..
                 'outputs and checks; false if a cell errs or a check.answer fails',
  render = 'lesson.render(name_or_path, out.md, {quick=}) — run and write notebook-style ' ..
           'Markdown with plots as SVG files next to it; returns ok, path',
  repl_command = 'lesson.repl_command(cmd, args, env) — the REPL\'s :lessons :open :next ' ..
                 ':prev :cell :run',
}
if nb and nb.doc then
  for k, v in pairs(docs) do nb.doc(M[k], v) end
end

return M
