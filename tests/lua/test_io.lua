-- Files: nb.save / nb.load (.npy) and nb.save_state / nb.load_state (.npz).  Round trips of the
-- three dtypes, byte-exact headers as numpy.lib.format writes them, files written by hand in
-- every dtype NumPy may hand us (both byte orders, Fortran order, format 1.0/2.0/3.0), and a
-- long list of malformed files that must be rejected with a message naming what is wrong.
-- The malformed files are generated here; tests/lua/fixtures/io/deflated.npz (deflated
-- members, made by make_fixtures.py there with Python's zipfile) is the only fixture.
local nb = require 'nabla'
local H = require 'harness'

local here = debug.getinfo(1, 'S').source:match('^@(.*)[/\\]') or '.'
local FIXTURE = here .. '/fixtures/io/deflated.npz'
local tmp = {}
local function tmpfile()
  tmp[#tmp + 1] = os.tmpname()
  return tmp[#tmp]
end
local function write(bytes)
  local path = tmpfile()
  local f = assert(io.open(path, 'wb'))
  f:write(bytes)
  f:close()
  return path
end
local function slurp(path)
  local f = assert(io.open(path, 'rb'))
  local s = f:read('a')
  f:close()
  return s
end

-- A .npy image: magic, version, little-endian header length, header text, body.
local function npy(header, body, major)
  major = major or 1
  local len = major == 1 and string.pack('<I2', #header) or string.pack('<I4', #header)
  return '\x93NUMPY' .. string.char(major, 0) .. len .. header .. (body or '')
end
local function dict(descr, shape, fortran)
  return string.format("{'descr': '%s', 'fortran_order': %s, 'shape': %s, }\n", descr,
                       fortran and 'True' or 'False', shape)
end
local function pack(fmt, list) return string.pack(fmt:rep(#list), table.unpack(list)) end

-- round trips ------------------------------------------------------------------------------
local function roundtrip(t, what)
  local path = tmpfile()
  nb.save(path, t)
  local u = nb.load(path)
  H.check(u.dtype == t.dtype, '%s: dtype %s vs %s', what, u.dtype, t.dtype)
  H.check(table.concat(u.shape, ',') == table.concat(t.shape, ','), '%s: shape', what)
  H.check(u:numel() == 0 or nb.equal(u, t), '%s: values', what)
  return path
end
nb.manual_seed(7)
for _, dt in ipairs({'f32', 'f64', 'i64'}) do
  local r = dt == 'i64' and nb.randint(-1000, 1000, {3, 4, 5}) or nb.randn({3, 4, 5}, dt)
  roundtrip(r, dt .. ' [3,4,5]')
  roundtrip(nb.tensor(-2.5, {dtype = dt == 'i64' and 'f64' or dt}), dt .. ' 0-d')
  roundtrip(nb.tensor(42, {dtype = dt}), dt .. ' 0-d integer value')
  roundtrip(nb.zeros({0}, dt), dt .. ' empty [0]')
  roundtrip(nb.zeros({2, 0, 3}, dt), dt .. ' empty [2,0,3]')
  roundtrip(nb.ones({7}, dt), dt .. ' [7]')
  roundtrip(r:transpose(1, 3), dt .. ' non-contiguous (transposed) input')
end
roundtrip(nb.ones(1, 2, 1, 2, 1, 2, 1, 2), '8-d')
roundtrip(nb.tensor({1 / 0, -1 / 0, 2 ^ -149, -0.0}), 'f32 inf, denormal, -0')
roundtrip(nb.tensor({math.mininteger, math.maxinteger, 0}, {dtype = 'i64'}), 'i64 extremes')

-- the header is byte for byte what numpy.save writes (NumPy 1.26, np.save('a.npy',
-- np.zeros((2,3), np.float32))): total prefix a multiple of 64, ending in a newline
local p = roundtrip(nb.zeros(2, 3), 'zeros [2,3]')
local bytes = slurp(p)
local want = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
H.check(bytes:sub(1, 10) == '\x93NUMPY\x01\x00\x76\x00', 'magic, version 1.0, header length 118')
H.check(bytes:sub(11, 10 + #want) == want, 'header dict text')
H.check(#bytes == 128 + 24 and bytes:sub(128, 128) == '\n', 'padded to 128 bytes, newline')
local one = slurp(roundtrip(nb.zeros({5}, 'i64'), 'i64 [5]'))
H.check(one:find("'descr': '<i8'", 1, true) and one:find("'shape': (5,)", 1, true), '1-d (5,)')
local zero = slurp(roundtrip(nb.tensor(1, {dtype = 'f64'}), 'f64 0-d'))
H.check(zero:find("'shape': ()", 1, true) and #zero == 128 + 8, '0-d shape ()')

-- reading the dtypes NumPy writes ----------------------------------------------------------
local function load_bytes(b) return nb.load(write(b)) end
local function reads(descr, body, expect, dtype, what, shape)
  local t = load_bytes(npy(dict(descr, shape or ('(' .. #expect .. ',)')), body))
  H.check(t.dtype == dtype, '%s: dtype %s, expected %s', what, t.dtype, dtype)
  H.close(t:to('f64'):totable(), expect, 0, what)
end
reads('<f4', pack('<f', {1.5, -2}), {1.5, -2}, 'f32', '<f4')
reads('>f4', pack('>f', {1.5, -2}), {1.5, -2}, 'f32', '>f4 big-endian')
reads('<f8', pack('<d', {0.1, 1e300}), {0.1, 1e300}, 'f64', '<f8')
reads('>f8', pack('>d', {0.1, -3}), {0.1, -3}, 'f64', '>f8 big-endian')
reads('<i8', pack('<i8', {-5, 2 ^ 40}), {-5, 2 ^ 40}, 'i64', '<i8')
reads('>i8', pack('>i8', {-5, 7}), {-5, 7}, 'i64', '>i8 big-endian')
reads('<i4', pack('<i4', {-2147483648, 2147483647}), {-2147483648, 2147483647}, 'i64', '<i4')
reads('<i2', pack('<i2', {-300, 300}), {-300, 300}, 'i64', '<i2')
reads('|i1', pack('<i1', {-128, 127}), {-128, 127}, 'i64', '|i1')
reads('|u1', '\0\1\255', {0, 1, 255}, 'i64', '|u1')
reads('<u2', pack('<I2', {65535, 1}), {65535, 1}, 'i64', '<u2')
reads('<u4', pack('<I4', {4294967295}), {4294967295}, 'i64', '<u4')
reads('<u8', pack('<i8', {math.maxinteger}), {math.maxinteger}, 'i64', '<u8 up to 2^63-1')
reads('|b1', '\0\1\1', {0, 1, 1}, 'i64', '|b1 bools')
-- binary16: 1, -2, 0.5, 65504 (largest), 2^-24 (smallest subnormal), +inf
reads('<f2', pack('<I2', {0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001}),
      {1, -2, 0.5, 65504, 2 ^ -24}, 'f32', '<f2 half floats')
local special = load_bytes(npy(dict('<f2', '(3,)'), pack('<I2', {0x7C00, 0xFC00, 0x7E00})))
special = special:totable()
H.check(special[1] == 1 / 0 and special[2] == -1 / 0 and special[3] ~= special[3],
        '<f2 +inf, -inf, NaN')
reads('<f4', pack('<f', {1, 2, 3, 4, 5, 6}), {{1, 2, 3}, {4, 5, 6}}, 'f32', '2-D', '(2, 3)')
-- Python 2 wrote sizes as 3L and some writers use double quotes
local py2 = load_bytes(npy('{"descr": "<f8", "shape": (2L, 1L), "fortran_order": False}  \n',
                           pack('<d', {1, 2})))
H.check(table.concat(py2.shape, ',') == '2,1' and py2.dtype == 'f64', "3L sizes, double quotes")
for _, major in ipairs({2, 3}) do
  local t = load_bytes(npy(dict('<i8', '(2,)'), pack('<i8', {3, 4}), major))
  H.close(t:totable(), {3, 4}, 0, string.format('format %d.0 (4-byte header length)', major))
end
-- Fortran order: the file holds the transpose, so [[1,2,3],[4,5,6]] is stored 1,4,2,5,3,6
local fo = load_bytes(npy(dict('<f4', '(2, 3)', true), pack('<f', {1, 4, 2, 5, 3, 6})))
H.close(fo:totable(), {{1, 2, 3}, {4, 5, 6}}, 0, 'Fortran order 2-D is transposed on load')
H.check(fo:is_contiguous(), 'Fortran-order result is contiguous')
local vals = {}   -- element [i][j][k] = 100i + 10j + k, written in column-major order
for k = 1, 4 do for j = 1, 3 do for i = 1, 2 do vals[#vals + 1] = 100 * i + 10 * j + k end end end
local f3 = load_bytes(npy(dict('<i8', '(2, 3, 4)', true), pack('<i8', vals)))
H.check(f3:get(2, 3, 4) == 234 and f3:get(1, 2, 3) == 123 and f3:get(2, 1, 1) == 211,
        'Fortran order 3-D')
H.close(load_bytes(npy(dict('<f8', '(3,)', true), pack('<d', {1, 2, 3}))):totable(), {1, 2, 3},
        0, 'Fortran order 1-D is unchanged')

-- malformed .npy files: each is rejected with a message saying what is wrong -------------
local good = dict('<f4', '(2,)')
local body = pack('<f', {1, 2})
local bad_npy = {
  {'', 'too short for a .npy header'},
  {'\x93NUMPY\1\0', 'too short for a .npy header'},
  {'NOTNUMPY\10\0' .. good .. body, 'bad magic: not a .npy file'},
  {'PK\3\4' .. ('\0'):rep(40), 'use nb.load_state'},
  {npy(good, body, 4), 'unsupported .npy format version 4.0'},
  {'\x93NUMPY\1\5' .. string.pack('<I2', #good) .. good .. body,
   'unsupported .npy format version 1.5'},
  {'\x93NUMPY\1\0' .. string.pack('<I2', 500) .. good .. body, 'truncated header'},
  {'\x93NUMPY\2\0' .. string.pack('<I4', 0xFFFFFFF0) .. good, 'implausibly large'},
  {npy('[1, 2, 3]\n', body), 'the header is not a dict'},
  {npy("{'descr': '<f4', 'fortran_order': False}\n", body), "no 'shape' key"},
  {npy("{'shape': (2,), 'fortran_order': False}\n", body), "no 'descr' key"},
  {npy(dict('<c8', '(2,)'), body), "unknown or unsupported dtype '<c8'"},
  {npy(dict('<f3', '(2,)'), body), "unknown or unsupported dtype '<f3'"},
  {npy(dict('O', '(2,)'), body), "unknown or unsupported dtype 'O'"},
  {npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }\n", body),
   'structured dtypes'},
  {npy(dict('<f4', '(-2,)'), body), "negative size in 'shape'"},
  {npy(dict('<f4', '(4294967296, 4294967296, 4294967296)'), body), 'too large'},
  {npy(dict('<f4', '(99999999999999999999,)'), body), 'overflows 64 bits'},
  {npy(dict('<f4', '(1, 1, 1, 1, 1, 1, 1, 1, 2)'), body), 'more than 8 dimensions'},
  {npy(dict('<f4', '2'), body), "'shape' must be a tuple"},
  {npy(dict('<f4', '(2; 3)'), body), "expected ',' or ')'"},
  {npy(dict('<f4', '(3,)'), body), 'data is shorter than the header says'},
  {npy(dict('<f4', '(1,)'), body), 'unexpected bytes after the data'},
  {npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }\n", body),
   "'fortran_order' must be True or False"},
  {npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", body),
   'duplicate key'},
  {npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}\n", body),
   'unexpected key'},
  {npy("{'descr' '<f4'}\n", body), "expected ':'"},
  {npy("{'descr': '<f4\n", body), 'unterminated string'},
  {npy(dict('<f4', '(2,)'):gsub('\n$', ' junk\n'), body), 'unexpected text after the header'},
  {npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,) 'x'}\n", body),
   "expected ',' or '}'"},
  {npy("{'descr': '<f4',\0 'fortran_order': False, 'shape': (2,), }\n", body), 'NUL byte'},
  {npy(dict('<u8', '(1,)'), string.pack('<I8', -1)), 'does not fit in i64'},
}
for i, case in ipairs(bad_npy) do
  local path = write(case[1])
  local msg = H.checkerror(case[2], nb.load, path)
  if i == 1 then H.check(msg:find(path, 1, true), 'the message names the file: %s', msg) end
end
-- the offsets are exact: 4 bytes of <f4 at offset 10 + header length are missing
local short_hdr = dict('<f4', '(3,)')
local msg = H.checkerror('data is shorter', nb.load, write(npy(short_hdr, body)))
H.check(msg:find('from byte offset ' .. (10 + #short_hdr), 1, true) and
        msg:find('(4 bytes missing)', 1, true), 'the missing-data message gives offsets: %s', msg)
msg = H.checkerror('bad magic', nb.load, write('NOTNUMPYxxxxxxxx'))
H.check(msg:find('byte offset 0', 1, true), 'bad magic names byte offset 0: %s', msg)
H.checkerror('cannot open', nb.load, '/nonexistent/dir/x.npy')
H.checkerror('bad argument #2', nb.save, tmpfile(), 'not a tensor')
H.checkerror('cannot open for writing', nb.save, '/nonexistent/dir/x.npy', nb.zeros(2))

-- .npz: round trip, Python's zipfile layout, deflated members ------------------------------
local state = {
  ['layer1.weight'] = nb.randn(3, 4),
  ['layer1.bias'] = nb.zeros({4}, 'f64'),
  steps = nb.tensor(12, {dtype = 'i64'}),
  empty = nb.zeros({0, 2}),
  ['ünïcode'] = nb.ones(2),
  view = nb.arange(1, 6):reshape(2, 3):t(),
}
local npz = tmpfile()
nb.save_state(npz, state)
local back = nb.load_state(npz)
local count = 0
for k, v in pairs(back) do
  count = count + 1
  H.check(state[k] ~= nil and v.dtype == state[k].dtype and
          table.concat(v.shape, ',') == table.concat(state[k].shape, ',') and
          (v:numel() == 0 or nb.equal(v, state[k])), 'npz round trip of %s', k)
end
H.check(count == 6, 'npz holds 6 tensors, got %d', count)
local z = slurp(npz)
H.check(z:sub(1, 4) == 'PK\3\4' and z:sub(-22, -19) == 'PK\5\6', 'zip local header and end record')
local entries = string.unpack('<I2', z, #z - 22 + 11)
H.check(entries == 6, 'end record counts 6 members')
H.check(z:find('layer1.weight.npy', 1, true), 'member named KEY.npy')
local npz2 = tmpfile()
nb.save_state(npz2, state)
H.check(slurp(npz2) == z, 'the same state gives the same bytes (sorted members, fixed dates)')
nb.save_state(npz2, {})
H.check(next(nb.load_state(npz2)) == nil, 'an empty state round-trips')

local fx = nb.load_state(FIXTURE)
H.close(fx.w:totable(), {{0, 0.5, 1}, {1.5, 2, 2.5}}, 0, 'deflated <f4 member')
H.check(fx.w.dtype == 'f32' and fx['layer1.bias'].dtype == 'f64', 'deflated member dtypes')
H.close(fx['layer1.bias']:totable(), {1.25, -2.5}, 0, 'deflated <f8 member with a dotted name')
H.close(fx.h:totable(), {1, -2, 0.5}, 0, 'deflated <f2 member')
H.check(fx.idx.dtype == 'i64' and fx.idx:get(4) == 40000000000, 'stored member with a zip64 '
        .. 'local header (as numpy.savez writes)')

H.checkerror("keys must be strings", nb.save_state, tmpfile(), {nb.zeros(2)})
H.checkerror("value of 'w' is a number", nb.save_state, tmpfile(), {w = 3})
H.checkerror("bad name ''", nb.save_state, tmpfile(), {[''] = nb.zeros(1)})
H.checkerror('cannot open for writing', nb.save_state, '/nonexistent/x.npz', {w = nb.zeros(1)})
H.checkerror('bad argument #2', nb.save_state, tmpfile(), 'nope')

-- malformed .npz files, built here with a small zip writer ---------------------------------
local crc_table = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do c = (c & 1 == 1) and (0xEDB88320 ~ (c >> 1)) or (c >> 1) end
  crc_table[i] = c
end
local function crc32(s)
  local c = 0xFFFFFFFF
  for i = 1, #s do c = crc_table[(c ~ s:byte(i)) & 0xFF] ~ (c >> 8) end
  return c ~ 0xFFFFFFFF
end

-- members: {name=, data= (uncompressed), payload= (bytes stored), method=, crc=, csize=,
-- usize=, flags=, extra= (central), local_sig=}; o: {entries=, cd_off=, zip64=}
local function zip(members, o)
  o = o or {}
  local out, central, off = {}, {}, 0
  for _, m in ipairs(members) do
    local payload = m.payload or m.data
    local crc = m.crc or crc32(m.data)
    local cs, us = m.csize or #payload, m.usize or #m.data
    local lh = string.pack('<I4I2I2I2I2I2I4I4I4I2I2', m.local_sig or 0x04034b50, 20,
                           m.flags or 0, m.method or 0, 0, 33, crc, cs, us, #m.name, 0) .. m.name
    local extra = m.extra or ''
    central[#central + 1] = string.pack('<I4I2I2I2I2I2I2I4I4I4I2I2I2I2I2I4I4', 0x02014b50, 20,
      20, m.flags or 0, m.method or 0, 0, 33, crc, m.ccsize or cs, m.cusize or us, #m.name,
      #extra, 0, 0, 0, 0, m.clocal or off) .. m.name .. extra
    out[#out + 1] = lh .. payload
    off = off + #lh + #payload
  end
  local cd = table.concat(central)
  local n = o.entries or #members
  local tail = ''
  if o.zip64 then   -- zip64 end record and locator, with the classic record saying 0xFFFF
    local rec = string.pack('<I4I8I2I2I4I4I8I8I8I8', 0x06064b50, 44, 45, 45, 0, 0, n, n, #cd, off)
    tail = rec .. string.pack('<I4I4I8I4', 0x07064b50, 0, off + #cd, 1)
    n = 0xFFFF
  end
  return table.concat(out) .. cd .. tail ..
         string.pack('<I4I2I2I2I2I4I4I2', 0x06054b50, 0, 0, n, n, #cd, o.cd_off or off, 0)
end

local arr = npy(dict('<f4', '(2,)'), pack('<f', {1, 2}))
local ok = nb.load_state(write(zip({{name = 'a.npy', data = arr}})))
H.close(ok.a:totable(), {1, 2}, 0, 'hand-built zip reads')
ok = nb.load_state(write(zip({{name = 'a.npy', data = arr}}, {zip64 = true})))
H.close(ok.a:totable(), {1, 2}, 0, 'zip64 end record')
ok = nb.load_state(write(zip({{name = 'a.npy', data = arr, ccsize = 0xFFFFFFFF,
  cusize = 0xFFFFFFFF, clocal = 0xFFFFFFFF,
  extra = string.pack('<I2I2I8I8I8', 1, 24, #arr, #arr, 0)}})))
H.close(ok.a:totable(), {1, 2}, 0, 'zip64 extra field in the central directory')
ok = nb.load_state(write(zip({{name = 'dir/', data = ''}, {name = 'dir/a.npy', data = arr}})))
H.check(ok['dir/a'] ~= nil, 'directory entries are skipped, nested names kept')

-- a deflated member taken from the fixture (the first member, w.npy)
local fxb = slurp(FIXTURE)
local crc, csize, usize, nlen, xlen = string.unpack('<I4I4I4I2I2', fxb, 15)
local deflated = fxb:sub(31 + nlen + xlen, 30 + nlen + xlen + csize)
local wbytes = nb.load_state(write(zip({{name = 'w.npy', data = ('?'):rep(usize), crc = crc,
                                         payload = deflated, method = 8}}))).w
H.close(wbytes:totable(), {{0, 0.5, 1}, {1.5, 2, 2.5}}, 0, 'deflated member re-zipped')
local function deflated_member(t)
  t.name, t.method = t.name or 'w.npy', 8
  t.data = t.data or ('?'):rep(usize)
  t.crc = t.crc or crc
  t.payload = t.payload or deflated
  return t
end

local good_member = {name = 'a.npy', data = arr}
local function with(t)
  local m = {}
  for k, v in pairs(good_member) do m[k] = v end
  for k, v in pairs(t) do m[k] = v end
  return m
end
local bad_npz = {
  {'', 'bad magic: not a .npz'},
  {'hello, this is not a zip archive at all', 'bad magic: not a .npz'},
  {arr, 'this is a .npy file, not a .npz archive: use nb.load'},
  {zip({good_member}):sub(1, -10), 'no zip end-of-central-directory record'},
  {zip({good_member}, {entries = 40}), 'has room for at most 1'},
  {zip({good_member}, {cd_off = 100000}), 'runs past the end record'},
  {zip({good_member}, {zip64 = true}):gsub('PK\6\7', 'PK\6\8'), 'no zip64 locator'},
  {zip({good_member}, {zip64 = true}):gsub('PK\6\6', 'PK\6\8'), 'bad zip64 end record'},
  {zip({with{crc = 12345}}), 'CRC-32 mismatch'},
  {zip({with{name = 'readme.txt'}}), "member 'readme.txt' is not a .npy array"},
  {zip({with{method = 12}}), 'compression method 12 is not supported'},
  {zip({with{flags = 1}}), 'encrypted members are not supported'},
  {zip({with{ccsize = 5000, cusize = 5000}}), 'run past the end of the file'},
  {zip({good_member, with{name = 'b.npy', local_sig = 0x12345678}}),
   'bad local header at byte offset ' .. (35 + #arr)},
  {zip({with{cusize = 10}}), 'stored member with compressed size'},
  {zip({with{clocal = 99999}}), 'bad local header at byte offset 99999'},
  {zip({with{data = npy(dict('<f4', '(3,)'), pack('<f', {1, 2}))}}),
   "member 'a.npy': data is shorter than the header says"},
  {zip({with{data = 'garbage!garbage!'}}), "member 'a.npy': bad magic"},
  {zip({good_member, good_member}), "member 'a.npy' appears twice"},
  {zip({with{name = 'a\0b.npy'}}), 'NUL byte in a member name'},
  {zip({with{extra = string.pack('<I2I2I4', 1, 40, 0)}}), 'bad zip64 extra field'},
  {zip({deflated_member{payload = deflated:sub(1, 20), csize = 20}}), 'truncated'},
  {zip({deflated_member{payload = ('\255'):rep(#deflated)}}), 'corrupt deflate data'},
  {zip({deflated_member{data = ('?'):rep(usize + 50)}}), 'inflates to ' .. usize .. ' bytes'},
  {zip({deflated_member{data = ('?'):rep(usize - 50)}}), 'inflates to more than'},
  {zip({deflated_member{data = ('?'):rep(1), cusize = 10 ^ 9}}), 'impossible for deflate'},
}
for _, case in ipairs(bad_npz) do
  local path = write(case[1])
  msg = H.checkerror(case[2], nb.load_state, path)
  H.check(msg:find(path, 1, true), 'npz message names the file: %s', msg)
end
H.checkerror('cannot open', nb.load_state, '/nonexistent/x.npz')
H.checkerror('bad argument #1', nb.load_state, {})

for _, path in ipairs(tmp) do os.remove(path) end
H.report()
