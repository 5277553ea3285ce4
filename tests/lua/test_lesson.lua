-- test_lesson: parsing the lesson format (header, cells, prose, separators, CRLF), rewriting
-- top-level locals, headless runs (state across cells, failing checks, errors with the file
-- line), rendering Markdown with SVG plots, and the REPL's :open/:next/:prev/:cell/:run.
-- Fixtures live in tests/lua/fixtures/.  Without the C module a stand-in check module is used.
local H = require 'harness'
local X = require 'xmlcheck'

if not pcall(require, 'check') then
  print('note: the check module did not load (no C module?); using a stand-in')
  local C = {failures = {}}
  function C.answer(label, got, expected)
    local ok = got == expected
    print(string.format('%s %s: got %s, expected %s', ok and '✓' or '✗', label, tostring(got),
                        tostring(expected)))
    if not ok then C.failures[#C.failures + 1] = label end
    return ok
  end
  function C.reset() C.failures = {} end
  function C.failed() return #C.failures end
  package.loaded.check = C
end

local lesson = require 'lesson'
local source = require 'lesson.source'
local plot = require 'plot'
local check = require 'check'
plot.color = false
check.color = false

local FIX = 'tests/lua/fixtures'

-- Runs f with print captured; returns the printed text and f's results.
local function captured(f, ...)
  local saved, out = print, {}
  print = function(...)  -- luacheck: ignore
    local parts = {}
    for i = 1, select('#', ...) do parts[i] = tostring((select(i, ...))) end
    out[#out + 1] = table.concat(parts, '\t')
  end
  local r = table.pack(pcall(f, ...))
  print = saved  -- luacheck: ignore
  if not r[1] then error(r[2], 0) end
  return table.concat(out, '\n'), table.unpack(r, 2, r.n)
end

local function has(text, s) return text:find(s, 1, true) ~= nil end

local function read(path)
  local f = io.open(path, 'rb')
  if not f then return nil end
  local s = f:read('a')
  f:close()
  return s
end

---------------------------------------------------------------------------- parsing
do
  local L = lesson.parse(FIX .. '/basic.lua')
  H.check(L.title == 'Basic lesson', 'title: %s', L.title)
  H.check(L.summary == 'variables persist from cell to cell', 'summary')
  H.check(L.time == 'quick', 'time')
  H.check(L.intro == 'A fixture for tests/lua/test_lesson.lua.', 'intro: %q', L.intro)
  H.check(L.name == 'basic' and L.path == FIX .. '/basic.lua', 'name and path')
  H.check(#L.cells == 3, 'three cells')
  local c = L.cells[1]
  H.check(c.title == 'Define', 'cell title')
  H.check(c.prose == 'We define `x` with a top-level `local`; it must survive into the next cell.',
          'prose: %q', c.prose)
  H.check(c.code:sub(1, 13) == 'local x = 20\n' and c.line == 9, 'code starts at file line 9')
  H.check(c.sep_line == 7, 'separator line')
  H.check(L.cells[3].prose == '' and L.cells[3].code == "print('quick', lesson.quick)",
          'cell without prose')

  -- edge cases from strings
  L = lesson.parse_string('-- # Only a header\n-- summary: s\n', 'h')
  H.check(#L.cells == 0 and L.title == 'Only a header', 'no cells')
  L = lesson.parse_string('', 'empty')
  H.check(#L.cells == 0 and L.title == 'empty', 'empty file: title from the name')
  L = lesson.parse_string('-- %% A\n-- %% B\nx = 1\n', 'e')
  H.check(#L.cells == 2 and L.cells[1].code == '' and L.cells[1].prose == '' and
          L.cells[1].line == nil, 'empty cell')
  L = lesson.parse_string('--%% One\n-- %%Two\n--%%\n---%% not\n  -- %% indented\n', 'v')
  H.check(#L.cells == 3, 'separator variants: %d cells', #L.cells)
  H.check(L.cells[1].title == 'One' and L.cells[2].title == 'Two' and L.cells[3].title == 'Cell 3',
          'separator titles')
  H.check(L.cells[3].prose == '-%% not' and L.cells[3].code == '  -- %% indented',
          '---%% and indented separators are not separators: %q %q', L.cells[3].prose,
          L.cells[3].code)
  -- a blank line ends the prose; later comments belong to the code
  L = lesson.parse_string('-- %% T\n\n-- para 1\n--\n-- para 2\n\n-- a code comment\nx = 1\n\n\n',
                          'p')
  local c1 = L.cells[1]
  H.check(c1.prose == 'para 1\n\npara 2', 'prose paragraphs: %q', c1.prose)
  H.check(c1.code == '-- a code comment\nx = 1' and c1.line == 7, 'code after a blank: %q',
          c1.code)
  L = lesson.parse_string('-- %% T\n--[[ block\ncomment ]]\nx = 1\n', 'b')
  H.check(L.cells[1].prose == '' and L.cells[1].line == 2, 'a block comment is code')
  -- code before the first separator becomes a Setup cell
  L = lesson.parse_string('-- # T\nlocal nb = 1\n\n-- %% Next\ny = nb\n', 's')
  H.check(#L.cells == 2 and L.cells[1].title == 'Setup' and L.cells[1].code == 'local nb = 1',
          'setup cell')
  -- CRLF and a BOM
  L = lesson.parse(FIX .. '/crlf.lua')
  H.check(L.title == 'CRLF lesson' and L.time == 'minutes' and #L.cells == 2, 'CRLF header')
  H.check(L.cells[1].prose == 'Prose line.' and L.cells[1].code == 'print(1)' and
          L.cells[2].title == 'Second', 'CRLF cells have no \\r')
  L = lesson.parse_string('\239\187\191-- # BOM\r\n', 'bom')
  H.check(L.title == 'BOM', 'BOM stripped')
  -- errors
  H.checkerror("time must be quick, minutes or long, got 'soon'", lesson.parse_string,
               '-- # T\n-- time: soon\n', 't')
  H.checkerror('lesson.parse: cannot read', lesson.parse, FIX .. '/missing.lua')
  H.checkerror('lesson.parse: expected a file name, got nil', lesson.parse)
end

---------------------------------------------------------------------------- locals
do
  local cases = {
    {'local x = 1', 'x = 1'},
    {'local a, b', 'a, b = nil'},
    {'local function f() local y = 2 return y end', 'function f() local y = 2 return y end'},
    {'local x <const> = 5', 'x  = 5'},
    {'local f <close> = nil', 'local f <close> = nil'},
    {'do local z = 1 end local w = 2', 'do local z = 1 end w = 2'},
    {'if x then local q = 1 end\nlocal r = "local s" -- local t\nlocal u = [[\nlocal v]]',
     'if x then local q = 1 end\nr = "local s" -- local t\nu = [[\nlocal v]]'},
    {'for i = 1, 3 do local k = i end local n = 1e-5 local m',
     'for i = 1, 3 do local k = i end n = 1e-5 m = nil'},
    {'local\nx = 1', '\nx = 1'},
    {"local s = 'a\\'local' local t = {local_ = 1}", "s = 'a\\'local' t = {local_ = 1}"},
    {'repeat local r = 1 until r local after = 2', 'repeat local r = 1 until r after = 2'},
  }
  for _, c in ipairs(cases) do
    local got = source.rewrite_locals(c[1])
    H.check(got == c[2], 'rewrite %q: got %q', c[1], got)
  end
end

---------------------------------------------------------------------------- finding, listing
do
  lesson.dir = FIX
  if os.getenv('NABLA_LESSONS') == nil then
    H.check(lesson.find('basic') == FIX .. '/basic.lua', 'NAME in lesson.dir')
    H.check(lesson.find('fail') == FIX .. '/failing.lua', 'unique prefix')
    H.checkerror("lesson 'nope' not found in " .. FIX, lesson.find, 'nope')
    local list = lesson.list()
    local names = {}
    for _, l in ipairs(list) do names[#names + 1] = l.name end
    H.check(table.concat(names, ',') == 'basic,crlf,error,failing,plots', 'list sorted: %s',
            table.concat(names, ','))
    H.check(list[1].title == 'Basic lesson' and list[1].time == 'quick' and
            list[1].summary == 'variables persist from cell to cell', 'list entries')
  end
  H.check(lesson.find(FIX .. '/basic.lua') == FIX .. '/basic.lua', 'a path is kept')
end

---------------------------------------------------------------------------- headless runs
do
  local env = lesson.new_env()
  local out, ok = captured(lesson.run_headless, FIX .. '/basic.lua', {env = env})
  H.check(ok == true, 'basic lesson passes')
  H.check(has(out, '-- [1/3] Define') and has(out, 'x is\t20') and has(out, 'z is\t60'),
          'titles and outputs: %s', out)
  H.check(has(out, '✓ z'), 'check mark printed')
  H.check(env.x == 20 and env.y == 40 and env.z == 60 and type(env.twice) == 'function',
          'variables persist in the session environment')
  H.check(rawget(_G, 'x') == nil and rawget(_G, 'y') == nil, 'globals are not polluted')
  H.check(has(out, 'quick\tfalse') or lesson.quick, 'quick off by default')

  out, ok = captured(lesson.run_headless, FIX .. '/basic.lua', {quick = true})
  H.check(ok and has(out, 'quick\ttrue'), 'opts.quick sets lesson.quick for the run')
  H.check(lesson.quick == (os.getenv('NABLA_QUICK') == '1'), 'lesson.quick restored')

  out, ok = captured(lesson.run_headless, FIX .. '/failing.lua')
  H.check(ok == false, 'a failed check.answer fails the run')
  H.check(has(out, '✗ two plus two') and has(out, '1 of 2 checks failed (two plus two)'),
          'failure reported: %s', out)
  H.check(check.failed() == 1, 'check.failures kept after the run')
  out, ok = captured(lesson.run_headless, FIX .. '/basic.lua')
  H.check(ok and check.failed() == 0, 'check.reset before each run')

  out, ok = captured(lesson.run_headless, FIX .. '/error.lua')
  H.check(ok == false, 'an error fails the run')
  H.check(has(out, 'error in cell 2 "Broken" (' .. FIX .. '/error.lua:12): attempt to call a ' ..
               "nil value (global 'undefined_function')"), 'error with title and line: %s', out)
  H.check(not has(out, 'never reached') and has(out, 'stopped at cell 2'),
          'a headless run stops at the error')

  -- run_cell directly: syntax errors and errors inside functions from earlier cells
  local L = lesson.parse_string('-- %% A\nfunction boom()\n  error("bang")\nend\n' ..
                                '-- %% B\nboom()\n-- %% C\nx = = 1\n', 'direct')
  env = lesson.new_env()
  H.check(lesson.run_cell(L, 1, env) == true, 'cell A runs')
  local ok2, err = lesson.run_cell(L, 2, env)
  H.check(not ok2 and err.line == 3 and has(err.msg, 'bang'), 'error line inside a function ' ..
          'defined in an earlier cell: %s', tostring(err and err.text))
  ok2, err = lesson.run_cell(L, 3, env)
  H.check(not ok2 and err.line == 8 and has(err.text, 'cell 3 "C"'), 'syntax error line: %s',
          tostring(err and err.text))
end

---------------------------------------------------------------------------- render
do
  local dir = os.tmpname()
  os.remove(dir)
  os.execute('mkdir -p ' .. dir)
  local md_path = dir .. '/plots.md'
  local out, ok, path = captured(lesson.render, FIX .. '/plots.lua', md_path)
  H.check(ok == true and path == md_path, 'render succeeds')
  H.check(out == '', 'render prints nothing to the terminal: %q', out)
  H.check(plot.capture == nil and print ~= nil, 'hooks restored')
  local md = read(md_path) or ''
  H.check(md:sub(1, 21) == '# Plots in a lesson\n\n', 'title first')
  H.check(has(md, '*render saves plots as SVG files* — Run time: quick.'), 'summary and time')
  H.check(has(md, '## 1. A curve\n\nA loss curve and a histogram.\n'), 'cell heading and prose')
  local L = lesson.parse(FIX .. '/plots.lua')
  H.check(has(md, '```lua\n' .. L.cells[1].code .. '\n```'), 'code block matches the cell')
  H.check(has(md, '```text\nbetween plots\n```'), 'output block')
  H.check(has(md, '```text\n✓ pixels: got 4, expected 4\n```'), 'check mark in the output')
  local a = md:find('![loss](plots_cell1_1.svg)', 1, true)
  local b = md:find('```text\nbetween plots', 1, true)
  local c = md:find('![hist plot 2 of cell 1](plots_cell1_2.svg)', 1, true)
  H.check(a and b and c and a < b and b < c, 'plots and text in the order they were shown')
  H.check(has(md, '![checker](plots_cell2_1.svg)'), 'third plot linked')
  H.check(has(md, '**Passed** — 1 check passed.'), 'result line')
  for _, f in ipairs({'plots_cell1_1.svg', 'plots_cell1_2.svg', 'plots_cell2_1.svg'}) do
    local svg = read(dir .. '/' .. f)
    local okx, err = X.check(svg or '')
    H.check(svg ~= nil and okx, '%s exists and is well-formed (%s)', f, tostring(err))
  end
  -- the rendered code blocks are exactly the cells' code, in order
  local blocks = {}
  for code in md:gmatch('```lua\n(.-)\n```') do blocks[#blocks + 1] = code end
  H.check(#blocks == 2 and blocks[2] == L.cells[2].code, 'all code blocks')

  md_path = dir .. '/error.md'
  out, ok = captured(lesson.render, FIX .. '/error.lua', md_path)
  md = read(md_path) or ''
  H.check(ok == false, 'render of a failing lesson returns false')
  H.check(has(md, '**Error** in `' .. FIX .. '/error.lua:12`'), 'error with file line')
  H.check(has(md, "```lua\nprint('never reached')\n```\n\n*(not run: an earlier cell failed)*"),
          'later cells shown, not run')
  H.check(has(md, '**Failed** — no checks; cell 2 raised an error.'), 'failed result')
  -- backticks in output get a longer fence
  local tmp = dir .. '/ticks.lua'
  local f = io.open(tmp, 'w')
  f:write("-- # Ticks\n-- %% T\nprint('```')\n")
  f:close()
  captured(lesson.render, tmp, dir .. '/ticks.md')
  H.check(has(read(dir .. '/ticks.md') or '', '````text\n```\n````'), 'longer fence')
  os.execute('rm -rf ' .. dir)
end

---------------------------------------------------------------------------- the REPL commands
do
  lesson.dir = FIX
  local env = lesson.new_env()
  local function cmd(name, args) return (captured(lesson.repl_command, name, args, env)) end
  local st = lesson.state
  H.check(has(cmd('next', ''), 'no lesson is open'), ':next without a lesson')
  H.check(has(cmd('lessons', ''), 'basic    quick    Basic lesson — variables persist'),
          ':lessons')
  H.check(has(cmd('open', 'nope'), "lesson 'nope' not found"), ':open unknown')
  local out = cmd('open', FIX .. '/basic.lua')
  H.check(has(out, 'Basic lesson') and has(out, '3 cells, run time quick'), ':open: %s', out)
  H.check(st.pos == 0 and not st.pending, 'open starts before cell 1')
  H.check(has(cmd('prev', ''), 'no cell yet'), ':prev before the first cell')
  out = cmd('next', '')
  H.check(has(out, '1/3  Define') and has(out, '   9 │ local x = 20') and has(out, 'x is\t20'),
          ':next shows prose, code with file lines and output: %s', out)
  H.check(has(out, 'We define `x`'), ':next shows the prose')
  out = cmd('next', '')
  H.check(has(out, '2/3  Use') and has(out, 'z is\t60') and has(out, '✓ z'), ':next 2: %s', out)
  H.check(env.z == 60 and st.pos == 2, 'state after two cells')
  env.x = 1000
  out = cmd('prev', '')
  H.check(has(out, '1/3  Define') and has(out, 'x is\t20') and env.x == 20 and st.pos == 1,
          ':prev shows and re-runs the previous cell')
  out = cmd('cell', '')
  H.check(has(out, '1/3  Define') and not has(out, 'x is\t20'), ':cell shows without running')
  out = cmd('cell', '3')
  H.check(has(out, '3/3  Quick flag') and has(out, 'not run yet') and not has(out, 'quick\t'),
          ':cell N shows without running')
  H.check(st.pos == 3 and st.pending, ':cell N makes N current and pending')
  out = cmd('next', '')
  H.check(has(out, 'quick\tfalse') and not has(out, '3/3') and has(out, 'no failed checks'),
          ':next runs the pending cell; end-of-lesson summary: %s', out)
  H.check(has(cmd('next', ''), 'end of the lesson'), ':next at the end')
  H.check(has(cmd('run', ''), 'nothing left to run'), ':run at the end')
  H.check(has(cmd('cell', '9'), 'usage: :cell N with N in 1..3'), ':cell out of range')
  -- :run stops at an error; the cell stays pending; a fix at the prompt and :next retries it
  cmd('open', 'error')
  out = cmd('run', '')
  H.check(has(out, 'a\t1') and has(out, 'error in cell 2 "Broken"') and
          has(out, 'error.lua:12') and not has(out, 'never reached'), ':run stops: %s', out)
  H.check(st.pos == 2 and st.pending, 'the failed cell is pending')
  env.undefined_function = function(v) return v * 10 end
  out = cmd('next', '')
  H.check(not has(out, 'error') and env.c == 20, ':next retries the fixed cell: %s', out)
  out = cmd('run', '')
  H.check(has(out, 'never reached') and has(out, 'End of "An error in a cell"'), ':run the rest')
  -- failing checks are summed up at the end
  cmd('open', 'failing')
  out = cmd('run', '')
  H.check(has(out, '1 failed check (two plus two)'), 'end summary with failures: %s', out)
  H.check(has(cmd('bogus', ''), "unknown lesson command ':bogus'"), 'unknown command')
  -- the env argument follows the REPL's :reset (a new session table)
  local env2 = lesson.new_env()
  cmd('open', 'basic')
  captured(lesson.repl_command, 'next', '', env2)
  H.check(env2.x == 20, 'cells run in the environment passed last')
end

---------------------------------------------------------------------------- docs
do
  local ok, nb = pcall(require, 'nabla')
  if ok and nb.doc and nb._docs then
    for _, k in ipairs({'parse', 'find', 'list', 'run_headless', 'render', 'repl_command'}) do
      H.check(tostring(nb._docs[lesson[k]]):find('lesson.' .. k, 1, true) == 1, 'doc of %s', k)
    end
  end
end

H.report()
