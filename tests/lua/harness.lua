-- harness: the Lua tests' tiny framework (check, checkerror, close, report).
local H = {passed = 0, failed = 0}

local function where(level)
  local info = debug.getinfo(level, 'Sl')
  return info and (info.short_src .. ':' .. info.currentline) or '?'
end

function H.check(cond, msg, ...)
  if cond then
    H.passed = H.passed + 1
  else
    H.failed = H.failed + 1
    print(string.format('FAIL %s: %s', where(3), string.format(msg or 'check failed', ...)))
  end
  return cond
end

-- f(...) must raise an error whose message contains pattern (plain text match).
function H.checkerror(pattern, f, ...)
  local ok, err = pcall(f, ...)
  local msg = tostring(err)
  if ok then
    H.failed = H.failed + 1
    print(string.format('FAIL %s: expected an error matching "%s", got none', where(3), pattern))
  elseif not msg:find(pattern, 1, true) then
    H.failed = H.failed + 1
    print(string.format('FAIL %s: error "%s" does not contain "%s"', where(3), msg, pattern))
  else
    H.passed = H.passed + 1
  end
  return msg
end

-- |a - b| <= atol + rtol |b| elementwise for numbers, tensors or (nested) tables.
function H.close(a, b, tol, msg)
  local nb = require 'nabla'
  tol = tol or 1e-6
  local function flat(x)
    if nb.is_tensor(x) then return x:to('f64'):reshape(-1):totable() end
    if type(x) == 'number' then return {x} end
    local out = {}
    local function walk(t) for _, v in ipairs(t) do
      if type(v) == 'table' then walk(v) else out[#out + 1] = v end end end
    walk(x)
    return out
  end
  local fa, fb = flat(a), flat(b)
  local ok, worst = #fa == #fb, ''
  if ok then
    for i = 1, #fa do
      if not (math.abs(fa[i] - fb[i]) <= tol * (1 + math.abs(fb[i]))) then
        ok = false
        worst = string.format(' (entry %d: %.10g vs %.10g)', i, fa[i], fb[i])
        break
      end
    end
  else
    worst = string.format(' (%d vs %d elements)', #fa, #fb)
  end
  H.passed = H.passed + (ok and 1 or 0)
  H.failed = H.failed + (ok and 0 or 1)
  if not ok then print(string.format('FAIL %s: %s%s', where(3), msg or 'not close', worst)) end
  return ok
end

function H.report()
  print(string.format('%d passed, %d failed', H.passed, H.failed))
  os.exit(H.failed == 0 and 0 or 1)
end

return H
