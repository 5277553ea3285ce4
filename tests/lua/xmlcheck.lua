-- xmlcheck: a small well-formedness checker for the SVG the plot module writes (tests only).
-- It checks: one root element, balanced and properly nested tags, quoted attributes without
-- duplicates, entities that are known, no raw '<' or '&' in text, and numeric attributes that
-- are finite (no "nan" / "inf" anywhere).  Returns ok, message.
local M = {}

local ENTITIES = {amp = true, lt = true, gt = true, quot = true, apos = true}

local function check_text(s, where)
  for ent in s:gmatch('&([^;]*);') do
    if not (ENTITIES[ent] or ent:match('^#%d+$') or ent:match('^#x%x+$')) then
      return false, 'unknown entity &' .. ent .. '; ' .. where
    end
  end
  local stripped = s:gsub('&[^;]*;', '')
  if stripped:find('&', 1, true) then return false, "raw '&' " .. where end
  if stripped:find('<', 1, true) then return false, "raw '<' " .. where end
  return true
end

local NUMERIC = {x = 1, y = 1, x1 = 1, y1 = 1, x2 = 1, y2 = 1, cx = 1, cy = 1, r = 1,
                 width = 1, height = 1}

function M.check(doc)
  if type(doc) ~= 'string' then return false, 'not a string' end
  local stack, roots, pos = {}, 0, 1
  local n = #doc
  while pos <= n do
    local lt = doc:find('<', pos, true)
    local text = doc:sub(pos, (lt or n + 1) - 1)
    local ok, err = check_text(text, 'in text near ' .. pos)
    if not ok then return false, err end
    if #stack == 0 and text:find('%S') then return false, 'text outside the root element' end
    if not lt then break end
    if doc:sub(lt, lt + 3) == '<!--' then
      local e = doc:find('-->', lt + 4, true)
      if not e then return false, 'unterminated comment' end
      pos = e + 3
    elseif doc:sub(lt, lt + 1) == '<?' then
      local e = doc:find('?>', lt + 2, true)
      if not e then return false, 'unterminated declaration' end
      pos = e + 2
    else
      -- find the end of the tag, skipping quoted attribute values
      local i, quote = lt + 1, nil
      while i <= n do
        local c = doc:sub(i, i)
        if quote then
          if c == quote then quote = nil end
        elseif c == '"' or c == "'" then
          quote = c
        elseif c == '>' then
          break
        elseif c == '<' then
          return false, "'<' inside a tag at " .. i
        end
        i = i + 1
      end
      if i > n then return false, 'unterminated tag at ' .. lt end
      local tag = doc:sub(lt + 1, i - 1)
      pos = i + 1
      if tag:sub(1, 1) == '/' then
        local name = tag:match('^/([%w:_%-%.]+)%s*$')
        if not name then return false, 'bad closing tag <' .. tag .. '>' end
        local top = table.remove(stack)
        if top ~= name then
          return false, string.format('</%s> closes <%s>', name, tostring(top))
        end
      else
        local selfclose = tag:sub(-1) == '/'
        if selfclose then tag = tag:sub(1, -2) end
        local name, rest = tag:match('^([%a_][%w:_%-%.]*)(.*)$')
        if not name then return false, 'bad tag <' .. tag .. '>' end
        local seen = {}
        local leftover = rest:gsub('%s*([%a_][%w:_%-%.]*)%s*=%s*(["\'])(.-)%2', function(k, _, v)
          if seen[k] then seen.dup = k end
          seen[k] = v
          return ''
        end)
        if leftover:find('%S') then return false, 'bad attributes in <' .. tag .. '>' end
        if seen.dup then return false, 'duplicate attribute ' .. seen.dup end
        for k, v in pairs(seen) do
          local ok2, err2 = check_text(v, 'in attribute ' .. k)
          if not ok2 then return false, err2 end
          local lv = v:lower()
          if lv:find('%f[%a]nan%f[%A]') or lv:find('%f[%a]inf') then
            return false, string.format('attribute %s="%s" has nan or inf', k, v)
          end
          if k == 'points' then
            for tok in v:gmatch('[^%s,]+') do
              local num = tonumber(tok)
              if not num or num ~= num or math.abs(num) == math.huge then
                return false, 'bad number in points: ' .. tok
              end
            end
          end
          if NUMERIC[k] and not v:match('%%$') then
            local num = tonumber(v)
            if not num or num ~= num or num == math.huge or num == -math.huge then
              return false, string.format('attribute %s="%s" is not a finite number', k, v)
            end
          end
        end
        if #stack == 0 then roots = roots + 1 end
        if roots > 1 then return false, 'more than one root element' end
        if not selfclose then stack[#stack + 1] = name end
      end
    end
  end
  if #stack > 0 then return false, 'unclosed <' .. stack[#stack] .. '>' end
  if roots ~= 1 then return false, 'no root element' end
  return true
end

-- All values of attribute `attr` on elements named `name`, in document order.
function M.attrs(doc, name, attr)
  local out = {}
  for tag in doc:gmatch('<' .. name .. '%s([^>]*)>') do
    local v = tag:match(attr .. '="([^"]*)"')
    if v then out[#out + 1] = v end
  end
  return out
end

-- Text contents of <text> elements.
function M.texts(doc)
  local out = {}
  for t in doc:gmatch('<text[^>]*>([^<]*)</text>') do out[#out + 1] = t end
  return out
end

return M
