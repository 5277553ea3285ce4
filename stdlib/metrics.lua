-- metrics: evaluating classifiers and correlations.
--   accuracy, confusion_matrix, precision_recall_f1     class ids (1-based i64) or logits
--   fpr_tpr, roc_curve, roc_auc, pr_curve, average_precision   scores and 0/1 labels
--   pearson, spearman                                    correlations (average ranks for ties)
-- Inputs are tensors or Lua lists.  A 2-D float prediction [N,C] is taken as scores/logits and
-- reduced to class ids by argmax.  Curves are f64 tensors, ordered by decreasing threshold.
local nb = require 'nabla'
local M = {}

local function fail(fname, fmt, ...)
  error('metrics.' .. fname .. ': ' .. string.format(fmt, ...), 0)
end

local function values(fname, name, x)
  if nb.is_tensor(x) then return x:reshape(-1):totable() end
  if type(x) ~= 'table' then fail(fname, '%s must be a tensor or a list, got %s', name, type(x)) end
  return x
end

-- Class ids from predictions: [N,C] scores -> argmax over classes; anything else as given.
local function class_ids(fname, name, x)
  if nb.is_tensor(x) and x:dim() == 2 and x.dtype ~= 'i64' then x = x:argmax(2) end
  local v = values(fname, name, x)
  for i, c in ipairs(v) do
    if math.type(c) ~= 'integer' then
      if type(c) ~= 'number' or c ~= math.floor(c) then
        fail(fname, '%s[%d] is %s, expected an integer class id', name, i, tostring(c))
      end
      v[i] = math.tointeger(c)
    end
  end
  return v
end

local function same_length(fname, a, b)
  if #a ~= #b then fail(fname, 'predictions have %d entries but targets have %d', #a, #b) end
  if #a == 0 then fail(fname, 'no samples') end
end

function M.accuracy(pred, target)
  if nb.is_tensor(pred) and nb.is_tensor(target) then   -- the fast path for big sets
    local p = pred
    if p:dim() == 2 and p.dtype ~= 'i64' then p = p:argmax(2) end
    p, target = p:reshape(-1), target:reshape(-1)
    if p:numel() ~= target:numel() then
      fail('accuracy', 'predictions have %d entries but targets have %d', p:numel(),
           target:numel())
    end
    if p:numel() == 0 then fail('accuracy', 'no samples') end
    return p:to('i64'):eq(target:to('i64')):sum():item() / p:numel()
  end
  local p, t = class_ids('accuracy', 'pred', pred), class_ids('accuracy', 'target', target)
  same_length('accuracy', p, t)
  local hits = 0
  for i = 1, #p do if p[i] == t[i] then hits = hits + 1 end end
  return hits / #p
end

-- Counts as a Lua table of rows (true class) by columns (predicted class).
local function confusion(fname, pred, target, num_classes)
  local p, t = class_ids(fname, 'pred', pred), class_ids(fname, 'target', target)
  same_length(fname, p, t)
  local C = num_classes
  if C == nil then
    C = 0
    for i = 1, #p do C = math.max(C, p[i], t[i]) end
  end
  local m = {}
  for r = 1, C do
    m[r] = {}
    for c = 1, C do m[r][c] = 0 end
  end
  for i = 1, #p do
    for _, pair in ipairs({{'pred', p[i]}, {'target', t[i]}}) do
      if pair[2] < 1 or pair[2] > C then
        fail(fname, '%s[%d] = %d is not a class id in 1..%d', pair[1], i, pair[2], C)
      end
    end
    m[t[i]][p[i]] = m[t[i]][p[i]] + 1
  end
  return m, C, #p
end

function M.confusion_matrix(pred, target, num_classes)
  local m = confusion('confusion_matrix', pred, target, num_classes)
  return nb.tensor(m, {dtype = 'i64'})
end

function M.precision_recall_f1(pred, target, opts)
  local o = opts or {}
  local m, C, n = confusion('precision_recall_f1', pred, target, o.num_classes)
  local avg = o.average
  if avg ~= nil and avg ~= 'macro' and avg ~= 'micro' then
    fail('precision_recall_f1', "average must be 'macro', 'micro' or nil (per class), got %s",
         tostring(avg))
  end
  if avg == 'micro' then   -- single-label: every miss is one FP and one FN, so P = R = F1 = acc
    local tp = 0
    for c = 1, C do tp = tp + m[c][c] end
    return tp / n, tp / n, tp / n
  end
  local P, R, F = {}, {}, {}
  for c = 1, C do
    local tp, predicted, actual = m[c][c], 0, 0
    for k = 1, C do
      predicted = predicted + m[k][c]
      actual = actual + m[c][k]
    end
    P[c] = predicted > 0 and tp / predicted or 0   -- 0 for an empty class, as sklearn
    R[c] = actual > 0 and tp / actual or 0
    F[c] = P[c] + R[c] > 0 and 2 * P[c] * R[c] / (P[c] + R[c]) or 0
  end
  if avg == 'macro' then
    local sp, sr, sf = 0, 0, 0
    for c = 1, C do sp, sr, sf = sp + P[c], sr + R[c], sf + F[c] end
    return sp / C, sr / C, sf / C
  end
  local f64 = {dtype = 'f64'}
  return nb.tensor(P, f64), nb.tensor(R, f64), nb.tensor(F, f64)
end

---------------------------------------------------------------------------- scores
-- Scores and 0/1 labels, sorted by decreasing score.
local function ranked(fname, scores, labels)
  local s, y = values(fname, 'scores', scores), values(fname, 'labels', labels)
  if #s ~= #y then fail(fname, '%d scores but %d labels', #s, #y) end
  local order, pos = {}, 0
  for i = 1, #s do
    local v = y[i]
    if v == true then v = 1 elseif v == false then v = 0 end
    if v ~= 0 and v ~= 1 then
      fail(fname, 'labels[%d] is %s: labels must be 0 or 1 (for class ids, pass ids:eq(k))',
           i, tostring(y[i]))
    end
    if type(s[i]) ~= 'number' or s[i] ~= s[i] then
      fail(fname, 'scores[%d] is %s, expected a number', i, tostring(s[i]))
    end
    order[i] = {s[i], v}
    pos = pos + v
  end
  table.sort(order, function(a, b) return a[1] > b[1] end)
  return order, pos, #s - pos
end

-- Cumulative (threshold, fp, tp) after each group of tied scores, from (+inf, 0, 0).
local function steps(order)
  local out, fp, tp, i = {{math.huge, 0, 0}}, 0, 0, 1
  while i <= #order do
    local thr = order[i][1]
    while i <= #order and order[i][1] == thr do   -- ties move together: a diagonal segment
      if order[i][2] == 1 then tp = tp + 1 else fp = fp + 1 end
      i = i + 1
    end
    out[#out + 1] = {thr, fp, tp}
  end
  return out
end

function M.fpr_tpr(scores, labels, threshold)
  local order, P, N = ranked('fpr_tpr', scores, labels)
  threshold = threshold or 0.5
  local fp, tp = 0, 0
  for _, e in ipairs(order) do
    if e[1] >= threshold then
      if e[2] == 1 then tp = tp + 1 else fp = fp + 1 end
    end
  end
  return N > 0 and fp / N or 0 / 0, P > 0 and tp / P or 0 / 0
end

function M.roc_curve(scores, labels)
  local order, P, N = ranked('roc_curve', scores, labels)
  if P == 0 or N == 0 then
    fail('roc_curve', 'needs both classes, got %d positives and %d negatives', P, N)
  end
  local fpr, tpr, thr = {}, {}, {}
  for k, st in ipairs(steps(order)) do
    thr[k], fpr[k], tpr[k] = st[1], st[2] / N, st[3] / P
  end
  local f64 = {dtype = 'f64'}
  return nb.tensor(fpr, f64), nb.tensor(tpr, f64), nb.tensor(thr, f64)
end

function M.roc_auc(scores, labels)
  local order, P, N = ranked('roc_auc', scores, labels)
  if P == 0 or N == 0 then
    fail('roc_auc', 'needs both classes, got %d positives and %d negatives', P, N)
  end
  local area, prev = 0, {0, 0, 0}
  for _, st in ipairs(steps(order)) do   -- trapezoids; a tie group counts half, as Mann-Whitney
    area = area + (st[2] - prev[2]) * (st[3] + prev[3]) / 2
    prev = st
  end
  return area / (P * N)
end

function M.pr_curve(scores, labels)
  local order, P = ranked('pr_curve', scores, labels)
  if P == 0 then fail('pr_curve', 'needs at least one positive label') end
  local prec, rec, thr = {}, {}, {}
  for k, st in ipairs(steps(order)) do
    local predicted = st[2] + st[3]
    thr[k], rec[k] = st[1], st[3] / P
    prec[k] = predicted > 0 and st[3] / predicted or 1   -- nothing predicted yet: precision 1
  end
  local f64 = {dtype = 'f64'}
  return nb.tensor(prec, f64), nb.tensor(rec, f64), nb.tensor(thr, f64)
end

function M.average_precision(scores, labels)
  local order, P = ranked('average_precision', scores, labels)
  if P == 0 then fail('average_precision', 'needs at least one positive label') end
  local ap, prev = 0, 0
  for _, st in ipairs(steps(order)) do   -- sum of (R_k - R_{k-1}) P_k, as sklearn
    if st[3] > prev then ap = ap + (st[3] - prev) / P * st[3] / (st[2] + st[3]) end
    prev = st[3]
  end
  return ap
end

---------------------------------------------------------------------------- correlation
local function pair(fname, a, b)
  local x, y = values(fname, 'a', a), values(fname, 'b', b)
  if #x ~= #y then fail(fname, 'a has %d entries but b has %d', #x, #y) end
  if #x < 2 then fail(fname, 'needs at least 2 pairs, got %d', #x) end
  return x, y
end

-- Pearson's r; NaN when either side is constant (the correlation is undefined).
local function pearson(x, y)
  local n, mx, my = #x, 0, 0
  for i = 1, n do mx, my = mx + x[i], my + y[i] end
  mx, my = mx / n, my / n
  local sxy, sxx, syy = 0, 0, 0
  for i = 1, n do
    local dx, dy = x[i] - mx, y[i] - my
    sxy, sxx, syy = sxy + dx * dy, sxx + dx * dx, syy + dy * dy
  end
  if sxx == 0 or syy == 0 then return 0 / 0 end
  return sxy / math.sqrt(sxx * syy)
end

-- Ranks 1..n with ties given the average of the ranks they span.
local function ranks(x)
  local idx = {}
  for i = 1, #x do idx[i] = i end
  table.sort(idx, function(a, b) return x[a] < x[b] end)
  local r, i = {}, 1
  while i <= #idx do
    local j = i
    while j < #idx and x[idx[j + 1]] == x[idx[i]] do j = j + 1 end
    for k = i, j do r[idx[k]] = (i + j) / 2 end
    i = j + 1
  end
  return r
end

function M.pearson(a, b) return pearson(pair('pearson', a, b)) end

function M.spearman(a, b)
  local x, y = pair('spearman', a, b)
  return pearson(ranks(x), ranks(y))
end

local docs = {
  accuracy = 'metrics.accuracy(pred_or_logits, target) — fraction of matching class ids '
    .. '([N,C] scores are argmax-ed)',
  confusion_matrix = 'metrics.confusion_matrix(pred, target, num_classes?) — i64 [C,C], '
    .. 'rows = true class, columns = predicted',
  precision_recall_f1 = 'metrics.precision_recall_f1(pred, target, {average=\'macro\'|'
    .. '\'micro\'|nil, num_classes=}) — three numbers, or three f64 [C] tensors per class',
  fpr_tpr = 'metrics.fpr_tpr(scores, labels01, threshold=0.5) — false and true positive rates '
    .. 'of score >= threshold',
  roc_curve = 'metrics.roc_curve(scores, labels01) — fpr, tpr, thresholds (f64, from (0,0) at '
    .. '+inf; tied scores form one step)',
  roc_auc = 'metrics.roc_auc(scores, labels01) — area under the ROC curve (trapezoids; ties '
    .. 'count half)',
  pr_curve = 'metrics.pr_curve(scores, labels01) — precision, recall, thresholds (f64, from '
    .. 'recall 0 / precision 1 at +inf)',
  average_precision = 'metrics.average_precision(scores, labels01) — sum of (R_k - R_{k-1}) '
    .. 'P_k over thresholds',
  pearson = 'metrics.pearson(a, b) — Pearson correlation (NaN if a side is constant)',
  spearman = 'metrics.spearman(a, b) — Spearman rank correlation, tied values get average ranks',
}
for k, v in pairs(docs) do nb.doc(M[k], v) end

return M
