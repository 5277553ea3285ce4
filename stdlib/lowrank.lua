-- lowrank: rank and low-rank factorisation of any matrix.  Gaussian elimination records (and
-- can print) every row operation; integer (and rational) matrices are reduced exactly with
-- fractions, others in float64 with partial pivoting and a tolerance.  factor(W) gives W = A·B
-- from the pivot columns (the CR factorisation); svd_approx / svd_errors give the truncated-SVD
-- approximation and its error (Eckart–Young); param_counts compares storage against the rank.
local nb = require 'nabla'
local M = {}

local abs, floor = math.abs, math.floor

---------------------------------------------------------------------------- fractions
-- Exact rationals on Lua integers.  Operands are kept below 2^31 so that products cannot wrap;
-- a bigger value raises 'lowrank: fraction overflow' and elimination falls back to floats.
local Frac = {}
Frac.__index = Frac
local LIMIT = 2 ^ 31

local function gcd(a, b)
  a, b = abs(a), abs(b)
  while b ~= 0 do a, b = b, a % b end
  return a
end

local function frac(n, d)
  d = d or 1
  if d == 0 then error('lowrank: division by zero', 2) end
  if d < 0 then n, d = -n, -d end
  local g = gcd(n, d)
  if g > 1 then n, d = n // g, d // g end
  if abs(n) >= LIMIT or d >= LIMIT then error('lowrank: fraction overflow', 0) end
  return setmetatable({n = n, d = d}, Frac)
end
M.frac = frac

local function F(v)
  if getmetatable(v) == Frac then return v end
  local i = math.tointeger(v)
  if not i then error('lowrank: not an integer: ' .. tostring(v), 0) end
  return frac(i, 1)
end

Frac.__add = function(a, b) a, b = F(a), F(b); return frac(a.n * b.d + b.n * a.d, a.d * b.d) end
Frac.__sub = function(a, b) a, b = F(a), F(b); return frac(a.n * b.d - b.n * a.d, a.d * b.d) end
Frac.__mul = function(a, b) a, b = F(a), F(b); return frac(a.n * b.n, a.d * b.d) end
Frac.__div = function(a, b) a, b = F(a), F(b); return frac(a.n * b.d, a.d * b.n) end
Frac.__unm = function(a) return frac(-a.n, a.d) end
Frac.__eq = function(a, b) return a.n == b.n and a.d == b.d end
Frac.__lt = function(a, b) a, b = F(a), F(b); return a.n * b.d < b.n * a.d end
Frac.__le = function(a, b) a, b = F(a), F(b); return a.n * b.d <= b.n * a.d end
Frac.__tostring = function(a)
  if a.d == 1 then return string.format('%d', a.n) end
  return string.format('%d/%d', a.n, a.d)
end
function Frac.tonumber(a) return a.n / a.d end
function Frac.iszero(a) return a.n == 0 end

local function is_frac(v) return getmetatable(v) == Frac end

---------------------------------------------------------------------------- matrices
-- A matrix as a Lua table of rows of numbers, from a tensor or a nested table.
function M.rows(W)
  if nb.is_tensor(W) then
    if W:dim() ~= 2 then error('lowrank: a 2-D matrix expected, got ' .. W:dim() .. '-D', 2) end
    return W:to('f64'):totable()
  end
  if type(W) ~= 'table' or type(W[1]) ~= 'table' then
    error('lowrank: a matrix (tensor or table of rows) expected', 2)
  end
  local n = #W[1]
  for i, r in ipairs(W) do
    if #r ~= n then error(string.format('lowrank: row %d has %d entries, row 1 has %d', i, #r, n), 2) end
  end
  return W
end

local function all_integers(R)
  for _, r in ipairs(R) do
    for _, v in ipairs(r) do
      if not is_frac(v) and (v ~= floor(v) or abs(v) >= 2 ^ 20) then return false end
    end
  end
  return true
end

local function num(v) return is_frac(v) and v:tonumber() or v end

local function fmt_entry(v)
  if is_frac(v) then return tostring(v) end
  if v == floor(v) and abs(v) < 1e15 then return string.format('%d', v) end
  return string.format('%.4g', v)
end
M.fmt_entry = fmt_entry

-- Rows of a matrix aligned in columns (fractions printed as p/q).
function M.format(R, indent)
  indent = indent or '  '
  local cells, w = {}, {}
  for i, r in ipairs(R) do
    cells[i] = {}
    for j, v in ipairs(r) do
      local s = fmt_entry(v)
      if s == '-0' then s = '0' end
      cells[i][j] = s
      w[j] = math.max(w[j] or 0, #s)
    end
  end
  local lines = {}
  for i, r in ipairs(cells) do
    local t = {}
    for j, s in ipairs(r) do t[j] = string.rep(' ', w[j] - #s) .. s end
    lines[i] = indent .. '[ ' .. table.concat(t, '  ') .. ' ]'
  end
  return table.concat(lines, '\n')
end

local function copy_matrix(R, exact)
  local C = {}
  for i, r in ipairs(R) do
    C[i] = {}
    for j, v in ipairs(r) do C[i][j] = exact and F(v) or num(v) end
  end
  return C
end

---------------------------------------------------------------------------- elimination
local function op_text(kind, i, p, f)
  if kind == 'swap' then return string.format('R%d ↔ R%d', i, p) end
  if kind == 'scale' then return string.format('R%d ← %s·R%d', i, fmt_entry(f), i) end
  -- R_i ← R_i − f·R_p, written with the sign folded in: "R3 ← R3 + R2", "R5 ← R5 − 2·R3"
  local neg = num(f) < 0
  local mag = neg and -f or f
  local ms = fmt_entry(mag)
  return string.format('R%d ← R%d %s %sR%d', i, i, neg and '+' or '−',
                       ms == '1' and '' or (ms .. '·'), p)
end

local function is_zero(v, tol)
  if is_frac(v) then return v.n == 0 end
  return abs(v) <= tol
end

local function run_elimination(R, exact, reduced, tol, verbose)
  local m, n = #R, #R[1]
  local ops, pivots = {}, {}
  local function record(kind, i, p, f)
    local o = {kind = kind, target = i, source = p, factor = f, text = op_text(kind, i, p, f)}
    ops[#ops + 1] = o
    if verbose then print('  ' .. o.text) end
  end
  local row = 1
  for col = 1, n do
    if row > m then break end
    -- pivot: exact mode takes the first non-zero entry (the textbook order, no needless swaps);
    -- float mode the largest, for stability
    local p
    if exact then
      for i = row, m do if not is_zero(R[i][col], tol) then p = i break end end
    else
      local best = tol
      for i = row, m do
        if abs(R[i][col]) > best then best, p = abs(R[i][col]), i end
      end
    end
    if p then
      if p ~= row then
        R[p], R[row] = R[row], R[p]
        record('swap', row, p)
      end
      for i = row + 1, m do
        local a = R[i][col]
        if not is_zero(a, tol) then
          local f = a / R[row][col]
          for j = col, n do R[i][j] = R[i][j] - f * R[row][j] end
          if not exact then R[i][col] = 0 end
          record('add', i, row, f)
        end
      end
      pivots[#pivots + 1] = col
      if verbose then print(M.format(R, '    ')) end
      row = row + 1
    elseif not exact then
      for i = row, m do R[i][col] = 0 end     -- below tolerance: treat as exact zeros
    end
  end
  if reduced then
    for k = #pivots, 1, -1 do
      local col = pivots[k]
      local pv = R[k][col]
      if not (exact and pv == F(1)) and not (not exact and pv == 1) then
        local f = exact and (F(1) / pv) or 1 / pv
        for j = 1, n do R[k][j] = R[k][j] * f end
        record('scale', k, nil, f)
      end
      for i = k - 1, 1, -1 do
        local a = R[i][col]
        if not is_zero(a, tol) then
          for j = 1, n do R[i][j] = R[i][j] - a * R[k][j] end
          if not exact then R[i][col] = 0 end
          record('add', i, k, a)
        end
      end
    end
    if verbose and #pivots > 0 then print(M.format(R, '    ')) end
  end
  return ops, pivots
end

-- eliminate(W, {reduced=false, exact=auto, tol=, verbose=false}) -> result with
--   .R (echelon form, or reduced with reduced=true), .ops (each {kind, target, source, factor,
--   text}), .pivots (pivot columns), .rank, .exact.  Integer matrices are reduced exactly
--   (fractions); otherwise float64 with partial pivoting, entries below tol treated as zero
--   (default tol: max(m,n)·eps·max|W|).  verbose prints each operation and each stage.
function M.eliminate(W, opts)
  opts = opts or {}
  local rows = M.rows(W)
  local m, n = #rows, #rows[1]
  local exact = opts.exact
  if exact == nil then exact = all_integers(rows) end
  local maxabs = 0
  for _, r in ipairs(rows) do for _, v in ipairs(r) do maxabs = math.max(maxabs, abs(num(v))) end end
  local tol = opts.tol or math.max(m, n) * 2.220446049250313e-16 * maxabs * 8
  if opts.verbose then
    print(string.format('Gaussian elimination (%s):', exact and 'exact fractions' or 'float64'))
    print(M.format(rows, '    '))
  end
  local R, ops, pivots
  if exact then
    local ok, err = pcall(function()
      R = copy_matrix(rows, true)
      ops, pivots = run_elimination(R, true, opts.reduced, tol, opts.verbose)
    end)
    if not ok then
      if tostring(err):find('overflow', 1, true) and opts.exact == nil then
        if opts.verbose then print('  (fractions overflowed: starting again in float64)') end
        exact = false
      else
        error(err, 0)
      end
    end
  end
  if not exact then
    R = copy_matrix(rows, false)
    ops, pivots = run_elimination(R, false, opts.reduced, tol, opts.verbose)
  end
  local res = {R = R, ops = ops, pivots = pivots, rank = #pivots, exact = exact, m = m, n = n}
  return setmetatable(res, {__tostring = function(t)
    local lines = {}
    for i, o in ipairs(t.ops) do lines[i] = '  ' .. o.text end
    return string.format('%d row operations:\n%s\n%s form:\n%s\npivot columns {%s}, rank %d',
                         #t.ops, table.concat(lines, '\n'),
                         opts.reduced and 'reduced row echelon' or 'row echelon',
                         M.format(t.R), table.concat(t.pivots, ', '), t.rank)
  end})
end

function M.rank(W, opts)
  return M.eliminate(W, opts).rank
end

function M.rref(W, opts)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.reduced = true
  return M.eliminate(W, o)
end

-- Exact product of two tables of numbers / fractions.
function M.matmul_exact(A, B)
  local C = {}
  for i = 1, #A do
    C[i] = {}
    for j = 1, #B[1] do
      local s = F(0)
      for k = 1, #B do s = s + F(A[i][k]) * F(B[k][j]) end
      C[i][j] = s
    end
  end
  return C
end

-- True when two tables of numbers / fractions are equal entry by entry (exactly).
function M.equal_exact(A, B)
  if #A ~= #B then return false end
  for i = 1, #A do
    if #A[i] ~= #B[i] then return false end
    for j = 1, #A[i] do
      local a, b = A[i][j], B[i][j]
      if is_frac(a) or is_frac(b) then
        if not (F(a) == F(b)) then return false end
      elseif a ~= b then return false end
    end
  end
  return true
end

local function to_tensor(T)
  local t = {}
  for i, r in ipairs(T) do
    t[i] = {}
    for j, v in ipairs(r) do t[i][j] = num(v) end
  end
  return nb.tensor(t, {dtype = 'f64'})
end
M.to_tensor = to_tensor

-- factor(W) -> A, B, info: W = A·B with A (m×r) the pivot columns of W and B (r×n) the non-zero
-- rows of the reduced row echelon form (B's pivot columns form the identity).  A and B are f64
-- tensors; info = {rank, pivots, A = table, B = table (exact fractions for integer W), exact}.
function M.factor(W, opts)
  local rows = M.rows(W)
  local e = M.rref(rows, opts)
  local A, B = {}, {}
  for i = 1, #rows do
    A[i] = {}
    for k, c in ipairs(e.pivots) do A[i][k] = rows[i][c] end
  end
  for k = 1, e.rank do B[k] = e.R[k] end
  local info = {rank = e.rank, pivots = e.pivots, A = A, B = B, exact = e.exact, ops = e.ops}
  if e.rank == 0 then return nb.zeros(#rows, 0, {dtype = 'f64'}), nil, info end
  return to_tensor(A), to_tensor(B), info
end

---------------------------------------------------------------------------- SVD truncation
local function as_f64(W)
  if nb.is_tensor(W) then return W:to('f64') end
  return nb.tensor(M.rows(W), {dtype = 'f64'})
end

-- Best rank-r approximation U_r diag(S_r) Vh_r.  Returns W_r, its Frobenius error ‖W − W_r‖_F
-- measured on the matrices, and the Eckart–Young value sqrt(Σ_{i>r} σ_i²).
function M.svd_approx(W, r)
  local X = as_f64(W)
  local U, S, Vh = nb.linalg.svd(X, {full_matrices = false})
  local k = S:size(1)
  if r < 0 or r > k then error(string.format('lowrank.svd_approx: r must be in 0..%d', k), 2) end
  local Wr
  if r == 0 then Wr = nb.zeros_like(X)
  else
    Wr = (U:narrow(2, 1, r) * S:narrow(1, 1, r)):matmul(Vh:narrow(1, 1, r))
  end
  local err = (X - Wr):norm():item()
  local s = S:totable()
  local tail = 0
  for i = r + 1, k do tail = tail + s[i] * s[i] end
  return Wr, err, math.sqrt(tail), s
end

-- Rows {r, params = r(m+n), error (measured), eckart_young, spectral = σ_{r+1}, relative} for
-- r = 0..min(m, n) (or opts.ranks).
function M.svd_errors(W, opts)
  local X = as_f64(W)
  local m, n = X:size(1), X:size(2)
  local ranks = opts and opts.ranks
  if not ranks then
    ranks = {}
    for r = 0, math.min(m, n) do ranks[#ranks + 1] = r end
  end
  local total = X:norm():item()
  local rows = {}
  for _, r in ipairs(ranks) do
    local _, err, ey, s = M.svd_approx(X, r)
    rows[#rows + 1] = {r = r, params = r * (m + n), error = err, eckart_young = ey,
                       spectral = s[r + 1] or 0, relative = total > 0 and err / total or 0}
  end
  return setmetatable(rows, {__tostring = function(t)
    local lines = {' r   params   ‖W − W_r‖_F   √Σ_{i>r} σ_i²   relative'}
    for _, row in ipairs(t) do
      lines[#lines + 1] = string.format('%2d  %7d   %11.6f   %13.6f   %8.4f', row.r, row.params,
                                        row.error, row.eckart_young, row.relative)
    end
    return table.concat(lines, '\n')
  end})
end

---------------------------------------------------------------------------- storage
-- r < mn/(m+n) is when r(m+n) numbers are fewer than mn.
function M.break_even(m, n) return m * n / (m + n) end

-- Rows {r, full = mn, factored = r(m+n), cr = mr + r(n−r), saves} for r = 1..min(m, n).
-- cr counts the CR form W = C·R where R's r pivot columns are the identity and need no storage.
function M.param_counts(m, n)
  local rows = {}
  for r = 1, math.min(m, n) do
    rows[r] = {r = r, full = m * n, factored = r * (m + n), cr = m * r + r * (n - r),
               saves = r * (m + n) < m * n, cr_saves = m * r + r * (n - r) < m * n}
  end
  rows.break_even = M.break_even(m, n)
  return setmetatable(rows, {__tostring = function(t)
    local lines = {' r   full m·n   A·B r(m+n)   CR form mr+r(n−r)'}
    for _, row in ipairs(t) do
      lines[#lines + 1] = string.format('%2d  %9d   %9d%s   %9d%s', row.r, row.full,
                                        row.factored, row.saves and ' ✓' or '  ', row.cr,
                                        row.cr_saves and ' ✓' or '  ')
    end
    lines[#lines + 1] = string.format('A·B saves storage only when r < mn/(m+n) = %.4g', t.break_even)
    return table.concat(lines, '\n')
  end})
end

---------------------------------------------------------------------------- docs
local docs = {
  eliminate = 'lowrank.eliminate(W, {reduced=false, exact=auto, tol=, verbose=false}) — Gaussian ' ..
              'elimination with every row operation recorded (.ops, .R, .pivots, .rank); exact ' ..
              'fractions for integer matrices',
  rank = 'lowrank.rank(W) — rank by Gaussian elimination',
  rref = 'lowrank.rref(W, opts) — reduced row echelon form (eliminate with reduced=true)',
  factor = 'lowrank.factor(W) — A, B, info with W = A·B: A = pivot columns of W, B = non-zero ' ..
           'rows of rref(W)',
  matmul_exact = 'lowrank.matmul_exact(A, B) — exact product of tables of integers/fractions',
  equal_exact = 'lowrank.equal_exact(A, B) — exact entrywise equality of two tables',
  svd_approx = 'lowrank.svd_approx(W, r) — W_r, ‖W − W_r‖_F, sqrt(Σ_{i>r} σ_i²), σ list',
  svd_errors = 'lowrank.svd_errors(W, {ranks=}) — truncation error vs Eckart–Young for each r',
  break_even = 'lowrank.break_even(m, n) — mn/(m+n): A·B saves storage iff r is below it',
  param_counts = 'lowrank.param_counts(m, n) — storage mn vs r(m+n) vs CR form for each r',
  format = 'lowrank.format(rows) — a matrix (numbers or fractions) as aligned text',
  rows = 'lowrank.rows(W) — a tensor or table as a Lua table of rows',
  frac = 'lowrank.frac(n, d) — an exact fraction n/d',
}
for k, v in pairs(docs) do nb.doc(M[k], v) end

return M
