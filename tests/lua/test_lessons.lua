-- Every lesson in examples/lessons runs headless in quick mode (NABLA_QUICK=1) through the
-- nabla program and exits 0: all its check.answer marks pass and no cell errors.
local H = require 'harness'
local bin = os.getenv('NABLA_BIN') or 'build/nabla'

local names = {}
local ls = io.popen('ls examples/lessons/*.lua 2>/dev/null')
for path in ls:lines() do names[#names + 1] = path end
ls:close()
table.sort(names)

local log = os.tmpname()
for _, path in ipairs(names) do
  local t0 = os.time()
  local ok = os.execute(string.format('NABLA_QUICK=1 NO_COLOR=1 %s lesson %s > %s 2>&1',
                                      bin, path, log))
  local f = io.open(log)
  local out = f and f:read('a') or ''
  if f then f:close() end
  if not H.check(ok, '%s failed in quick mode:\n%s', path, out:sub(-3000)) then
  else
    print(string.format('%-44s ok (%ds)', path, os.time() - t0))
  end
end
os.remove(log)
H.check(#names > 0 or os.getenv('NABLA_NO_LESSONS'), 'found lessons in examples/lessons')
H.report()
