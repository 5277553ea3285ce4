-- lesson.source: reading a lesson file into header + cells, and rewriting top-level `local`
-- statements into assignments so that variables survive from one cell to the next (each
-- cell is its own chunk).  The file format is described in docs/lessons.md.
local M = {}

M.TIMES = {quick = true, minutes = true, long = true}

local function trim(s) return (s:gsub('^%s+', ''):gsub('%s+$', '')) end

-- `-- %% Title`, `--%% Title`, `-- %%Title`, `--%%` at column 0; returns the title or nil.
function M.separator(line)
  local rest = line:match('^%-%-%s*%%%%(.*)$')
  if rest == nil then return nil end
  return trim(rest)
end

-- A prose line: a line comment at column 0, not a block comment (`--[[`, `--[==[`).
local function is_comment(line)
  return line:sub(1, 2) == '--' and not line:match('^%-%-%[=*%[')
end

local function prose_text(line)
  return (line:gsub('^%-%- ?', ''))
end

local function is_blank(line) return line:match('^%s*$') ~= nil end

local function strip_blank_ends(lines)
  while #lines > 0 and is_blank(lines[1]) do table.remove(lines, 1) end
  while #lines > 0 and is_blank(lines[#lines]) do table.remove(lines) end
  return lines
end

-- Lines of text without line terminators (LF or CRLF) and without a UTF-8 BOM.
function M.lines(text)
  text = text:gsub('^\239\187\191', '')
  local lines = {}
  for line in (text .. '\n'):gmatch('(.-)\n') do
    lines[#lines + 1] = (line:gsub('\r$', ''))
  end
  if lines[#lines] == '' then lines[#lines] = nil end
  return lines
end

-- Splits the body of a cell (file lines first..last) into prose and code.
-- Blank lines right after the separator are skipped; the prose is the run of comment lines
-- that follows, ended by a blank line or by code; the code is everything after it.
local function split_cell(lines, first, last)
  local i = first
  while i <= last and is_blank(lines[i]) do i = i + 1 end
  local prose = {}
  while i <= last and is_comment(lines[i]) do
    prose[#prose + 1] = prose_text(lines[i])
    i = i + 1
  end
  while i <= last and is_blank(lines[i]) do i = i + 1 end
  local j = last
  while j >= i and is_blank(lines[j]) do j = j - 1 end
  local code = {}
  for k = i, j do code[#code + 1] = lines[k] end
  return table.concat(strip_blank_ends(prose), '\n'), table.concat(code, '\n'),
         (#code > 0) and i or nil
end

-- Parses lesson text.  name and path are used for defaults and messages.
function M.parse(text, name, path)
  local lines = M.lines(text)
  local where = path or name or 'lesson'
  local seps = {}
  for i, line in ipairs(lines) do
    if M.separator(line) then seps[#seps + 1] = i end
  end
  local header_end = (seps[1] or (#lines + 1)) - 1
  local L = {name = name, path = path, cells = {}, intro = ''}
  local intro, setup_from = {}, nil
  for i = 1, header_end do
    local line = lines[i]
    if is_comment(line) then
      local s = prose_text(line)
      local title = s:match('^#%s+(.-)%s*$')
      local summary = s:match('^summary:%s*(.-)%s*$')
      local time = s:match('^time:%s*(.-)%s*$')
      if title and not L.title then
        L.title = title
      elseif summary then
        L.summary = summary
      elseif time then
        if not M.TIMES[time] then
          error(string.format("%s:%d: time must be quick, minutes or long, got '%s'", where, i,
                              time), 0)
        end
        L.time = time
      else
        intro[#intro + 1] = s
      end
    elseif not is_blank(line) then
      setup_from = i
      break
    elseif #intro > 0 then
      intro[#intro + 1] = ''
    end
  end
  L.intro = table.concat(strip_blank_ends(intro), '\n')
  L.title = L.title or name or 'Untitled lesson'
  -- code before the first `-- %%` becomes a first cell called Setup
  if setup_from then
    local _, code, line = split_cell(lines, setup_from, header_end)
    L.cells[1] = {title = 'Setup', prose = '', code = code, line = line, sep_line = nil}
  end
  for k, s in ipairs(seps) do
    local last = (seps[k + 1] or (#lines + 1)) - 1
    local prose, code, line = split_cell(lines, s + 1, last)
    local n = #L.cells + 1
    local title = M.separator(lines[s])
    L.cells[n] = {title = title ~= '' and title or ('Cell ' .. n), prose = prose, code = code,
                  line = line, sep_line = s}
  end
  return L
end

---------------------------------------------------------------------------- locals
-- A small Lua lexer: tokens {kind, text, s, e} with comments and whitespace skipped.
local function long_bracket(src, i)
  local eq = src:match('^%[(=*)%[', i)
  if not eq then return nil end
  local close = ']' .. eq .. ']'
  local e = src:find(close, i + #eq + 2, true)
  return e and (e + #close - 1) or #src
end

local function tokens(src)
  local out, i, n = {}, 1, #src
  while i <= n do
    local c = src:sub(i, i)
    if c:match('%s') then
      i = i + 1
    elseif src:sub(i, i + 1) == '--' then
      local e = long_bracket(src, i + 2)
      if e then i = e + 1
      else
        local nl = src:find('\n', i, true)
        i = nl and nl + 1 or n + 1
      end
    elseif c:match('[%a_]') then
      local s, e = src:find('^[%w_]+', i)
      out[#out + 1] = {kind = 'name', text = src:sub(s, e), s = s, e = e}
      i = e + 1
    elseif c:match('%d') or (c == '.' and src:sub(i + 1, i + 1):match('%d')) then
      local _, e = src:find('^[%w%.]+', i)
      while src:sub(e, e):match('[eEpP]') and src:sub(e + 1, e + 1):match('[%+%-]') do
        local _, e2 = src:find('^[%w%.]*', e + 2)
        e = e2
      end
      out[#out + 1] = {kind = 'number', s = i, e = e}
      i = e + 1
    elseif c == '"' or c == "'" then
      local j = i + 1
      while j <= n do
        local d = src:sub(j, j)
        if d == '\\' then j = j + 2
        elseif d == c or d == '\n' then break
        else j = j + 1 end
      end
      out[#out + 1] = {kind = 'string', s = i, e = j}
      i = j + 1
    elseif c == '[' and long_bracket(src, i) then
      local e = long_bracket(src, i)
      out[#out + 1] = {kind = 'string', s = i, e = e}
      i = e + 1
    else
      out[#out + 1] = {kind = 'symbol', text = c, s = i, e = i}
      i = i + 1
    end
  end
  return out
end

local OPEN = {['function'] = true, ['do'] = true, ['if'] = true, ['repeat'] = true}
local CLOSE = {['end'] = true, ['until'] = true}

-- `local x <const> = 1` -> `x = 1`, `local a, b` -> `a, b = nil`, `local function f` ->
-- `function f`, only at block depth 0; a statement with a <close> variable is kept.
-- Line breaks are kept, so error lines still match the file.
function M.rewrite_locals(src)
  local toks = tokens(src)
  local edits = {}   -- {s, e, replacement}: replace src[s..e]
  local depth = 0
  local k = 1
  while k <= #toks do
    local t = toks[k]
    if t.kind == 'name' then
      if OPEN[t.text] then depth = depth + 1
      elseif CLOSE[t.text] then depth = depth - 1 end
      if t.text == 'local' and depth == 0 then
        local nxt = toks[k + 1]
        if nxt and nxt.kind == 'name' and nxt.text == 'function' then
          edits[#edits + 1] = {t.s, nxt.s - 1, ''}
        elseif nxt and nxt.kind == 'name' then
          local mine, j, ok, last = {{t.s, nxt.s - 1, ''}}, k + 1, true, nil
          while true do
            local nm = toks[j]
            if not (nm and nm.kind == 'name') then ok = false; break end
            last = nm.e
            j = j + 1
            if toks[j] and toks[j].text == '<' then
              local attr, gt = toks[j + 1], toks[j + 2]
              if not (attr and attr.kind == 'name' and gt and gt.text == '>') or
                 attr.text == 'close' then
                ok = false
                break
              end
              mine[#mine + 1] = {toks[j].s, gt.e, ''}
              last = gt.e
              j = j + 3
            end
            if toks[j] and toks[j].text == ',' then j = j + 1 else break end
          end
          if ok then
            if not (toks[j] and toks[j].text == '=') then
              mine[#mine + 1] = {last + 1, last, ' = nil'}
            end
            for _, e in ipairs(mine) do edits[#edits + 1] = e end
            k = j - 1
          end
        end
      end
    end
    k = k + 1
  end
  for i = #edits, 1, -1 do
    local e = edits[i]
    local removed = src:sub(e[1], e[2]):gsub('[^\n]', '')   -- keep line breaks
    src = src:sub(1, e[1] - 1) .. e[3] .. removed .. src:sub(e[2] + 1)
  end
  return src
end

return M
