-- Losses against their formulas evaluated here in plain Lua (reductions mean / sum / none,
-- class weights, label smoothing, ignore_index, probability targets, stability at extreme
-- logits), the center-loss update rule, argument errors, and check.grad of every loss in
-- float64.
local nb = require 'nabla'
local nn = require 'nn'
local check = require 'check'
local H = require 'harness'

nb.manual_seed(5)
local F = nn.F

local function f64(t) return nb.tensor(t, {dtype = 'f64'}) end
local function i64(t) return nb.tensor(t, {dtype = 'i64'}) end
local function sum(t) local s = 0 for _, v in ipairs(t) do s = s + v end return s end
local function mean(t) return sum(t) / #t end

local function grad_ok(name, f, inputs)
  local ok, rep = check.grad(f, inputs)
  H.check(ok, '%s gradcheck: %s', name, rep.text)
end

-- ---- regression ---------------------------------------------------------------------------------
do
  local a, b = {0.5, -1.2, 2.0, 0.1}, {0.0, -0.2, 2.5, 3.1}
  local x, y = f64(a), f64(b)
  local sq, ab, sl, hb, sl05 = {}, {}, {}, {}, {}
  for i = 1, 4 do
    local d = a[i] - b[i]
    sq[i], ab[i] = d * d, math.abs(d)
    sl[i] = math.abs(d) < 1 and 0.5 * d * d or math.abs(d) - 0.5
    sl05[i] = math.abs(d) < 0.5 and 0.5 * d * d / 0.5 or math.abs(d) - 0.25
    hb[i] = math.abs(d) < 2 and 0.5 * d * d or 2 * (math.abs(d) - 1)
  end
  H.close(nn.MSELoss()(x, y), mean(sq), 1e-14, 'MSELoss mean')
  H.close(nn.MSELoss({reduction = 'sum'})(x, y), sum(sq), 1e-14, 'MSELoss sum')
  H.close(nn.MSELoss({reduction = 'none'})(x, y), sq, 1e-14, 'MSELoss none')
  H.close(nn.L1Loss()(x, y), mean(ab), 1e-14, 'L1Loss')
  H.close(nn.SmoothL1Loss()(x, y), mean(sl), 1e-14, 'SmoothL1Loss beta 1')
  H.close(nn.SmoothL1Loss({beta = 0.5})(x, y), mean(sl05), 1e-14, 'SmoothL1Loss beta 0.5')
  H.close(nn.HuberLoss({delta = 2})(x, y), mean(hb), 1e-14, 'HuberLoss delta 2')
  H.checkerror('input [4,1] and target [4] have different shapes',
               function() F.mse_loss(x:reshape(4, 1), y) end)
  H.checkerror("reduction must be 'mean', 'sum' or 'none'",
               function() F.mse_loss(x, y, {reduction = 'avg'}) end)
  for _, c in ipairs({{'mse', F.mse_loss}, {'l1', F.l1_loss}, {'smooth_l1', F.smooth_l1_loss},
                      {'huber', F.huber_loss}}) do
    grad_ok(c[1], function(p, q) return c[2](p, q, {reduction = 'sum'}) end, {x, y})
  end
end

-- ---- cross-entropy / NLL -----------------------------------------------------------------------
local logits = {{1.0, 2.0, 0.5, -1.0}, {0.3, -0.7, 2.2, 0.0}, {-1.5, 0.4, 0.4, 1.9}}
local targets = {2, 3, 1}
local function logsoftmax(row)
  local m = -math.huge
  for _, v in ipairs(row) do m = math.max(m, v) end
  local z = 0
  for _, v in ipairs(row) do z = z + math.exp(v - m) end
  local out = {}
  for i, v in ipairs(row) do out[i] = v - m - math.log(z) end
  return out
end
do
  local x, t = f64(logits), i64(targets)
  local nll, lp = {}, {}
  for i = 1, 3 do lp[i] = logsoftmax(logits[i]); nll[i] = -lp[i][targets[i]] end
  H.close(nn.CrossEntropyLoss()(x, t), mean(nll), 1e-14, 'CrossEntropyLoss mean')
  H.close(F.cross_entropy(x, t, {reduction = 'sum'}), sum(nll), 1e-14, 'cross_entropy sum')
  H.close(F.cross_entropy(x, t, {reduction = 'none'}), nll, 1e-14, 'cross_entropy none')
  H.close(nn.NLLLoss()(x:log_softmax(2), t), mean(nll), 1e-14, 'NLLLoss on log_softmax')
  -- class weights: Σ w_y l / Σ w_y
  local w = {0.5, 2.0, 1.0, 3.0}
  local num, den = 0, 0
  for i = 1, 3 do num = num + w[targets[i]] * nll[i]; den = den + w[targets[i]] end
  H.close(F.cross_entropy(x, t, {weight = f64(w)}), num / den, 1e-14, 'weighted mean')
  H.close(F.cross_entropy(x, t, {weight = f64(w), reduction = 'sum'}), num, 1e-14,
          'weighted sum')
  -- label smoothing eps: (1 - eps) nll + eps/C Σ_c -logp_c, both means over samples
  local eps = 0.1
  local smooth = {}
  for i = 1, 3 do smooth[i] = -sum(lp[i]) end
  H.close(F.cross_entropy(x, t, {label_smoothing = eps}),
          (1 - eps) * mean(nll) + eps / 4 * mean(smooth), 1e-14, 'label smoothing')
  -- with weights (PyTorch): smooth term Σ_i Σ_c -w_c logp_ic / Σ_i w_{y_i}
  local ws = 0
  for i = 1, 3 do for c = 1, 4 do ws = ws - w[c] * lp[i][c] end end
  H.close(F.cross_entropy(x, t, {label_smoothing = eps, weight = f64(w)}),
          (1 - eps) * num / den + eps / 4 * ws / den, 1e-14, 'label smoothing with weights')
  -- ignore_index: the default -100, and an index inside 1..C
  local ti = i64({2, -100, 1})
  H.close(F.cross_entropy(x, ti), (nll[1] + nll[3]) / 2, 1e-14, 'ignore_index -100')
  H.close(F.cross_entropy(x, ti, {reduction = 'none'}), {nll[1], 0, nll[3]}, 1e-14,
          'ignored entries are 0 with reduction none')
  H.close(F.cross_entropy(x, t, {ignore_index = 3}), (nll[1] + nll[3]) / 2, 1e-14,
          'ignore_index inside 1..C')
  H.close(F.cross_entropy(x, ti, {weight = f64(w)}),
          (w[2] * nll[1] + w[1] * nll[3]) / (w[2] + w[1]), 1e-14, 'ignore_index with weights')
  -- probability targets: -Σ_c p_c logp_c, mean over samples
  local P = {{0.1, 0.6, 0.2, 0.1}, {0, 0, 1, 0}, {0.25, 0.25, 0.25, 0.25}}
  local pl = {}
  for i = 1, 3 do
    pl[i] = 0
    for c = 1, 4 do pl[i] = pl[i] - P[i][c] * lp[i][c] end
  end
  H.close(F.cross_entropy(x, f64(P)), mean(pl), 1e-14, 'probability targets')
  -- [N, C, d]: class dim 2
  local x3 = nb.randn({2, 4, 3}, {dtype = 'f64'})
  local t3 = i64({{1, 4, 2}, {3, 3, 1}})
  local flat = F.cross_entropy(x3:permute(1, 3, 2):reshape(6, 4), t3:reshape(6))
  H.close(F.cross_entropy(x3, t3), flat, 1e-14, 'K-dimensional cross_entropy')
  -- unbatched
  H.close(F.cross_entropy(f64(logits[1]), i64(2):reshape({})), nll[1], 1e-14,
          'unbatched [C] logits')
  H.checkerror('target values must be class indices 1..4 (1-based), got 0',
               function() F.cross_entropy(x, i64({0, 1, 2})) end)
  H.checkerror('got 5', function() F.cross_entropy(x, i64({5, 1, 2})) end)
  H.checkerror('input [3,4] needs a target of shape [3], got [2]',
               function() F.cross_entropy(x, i64({1, 2})) end)
  H.checkerror("unknown option 'weights'",
               function() F.cross_entropy(x, t, {weights = f64(w)}) end)
  H.checkerror('weight must have one entry per class',
               function() F.cross_entropy(x, t, {weight = f64({1, 2})}) end)
  grad_ok('cross_entropy', function(z) return F.cross_entropy(z, t) end, {x})
  grad_ok('cross_entropy weighted+smoothed+ignored', function(z, ww)
    return F.cross_entropy(z, ti, {weight = ww, label_smoothing = 0.2})
  end, {x, f64(w)})
  grad_ok('cross_entropy probabilities', function(z, p) return F.cross_entropy(z, p) end,
          {x, f64(P)})
  grad_ok('nll_loss', function(z) return F.nll_loss(z, t, {reduction = 'sum'}) end, {x})
end

-- ---- binary -------------------------------------------------------------------------------------
do
  local p, y = {0.9, 0.2, 0.6, 0.01}, {1, 0, 0, 1}
  local ref = {}
  for i = 1, 4 do ref[i] = -(y[i] * math.log(p[i]) + (1 - y[i]) * math.log(1 - p[i])) end
  H.close(nn.BCELoss()(f64(p), f64(y)), mean(ref), 1e-14, 'BCELoss')
  H.close(F.binary_cross_entropy(f64({0, 1}), f64({1, 0}), {reduction = 'none'}), {100, 100},
          1e-12, 'BCE log clamped at -100')
  H.checkerror('input must be probabilities in [0, 1]',
               function() F.binary_cross_entropy(f64({1.5}), f64({1})) end)
  local z = {2.0, -1.0, 0.3, -4.0}
  local lref, pwref = {}, {}
  for i = 1, 4 do
    local s = 1 / (1 + math.exp(-z[i]))
    lref[i] = -(y[i] * math.log(s) + (1 - y[i]) * math.log(1 - s))
    pwref[i] = -(3 * y[i] * math.log(s) + (1 - y[i]) * math.log(1 - s))
  end
  H.close(nn.BCEWithLogitsLoss()(f64(z), f64(y)), mean(lref), 1e-14, 'BCEWithLogitsLoss')
  H.close(F.binary_cross_entropy_with_logits(f64(z), f64(y), {pos_weight = 3}), mean(pwref),
          1e-14, 'BCEWithLogits pos_weight')
  local ext = F.binary_cross_entropy_with_logits(f64({100, -100, 100}), f64({0, 1, 1}),
                                                 {reduction = 'none'})
  H.close(ext, {100, 100, 0}, 1e-12, 'BCEWithLogits stable at ±100')
  H.close(F.binary_cross_entropy_with_logits(nb.tensor({200}), nb.tensor({0})), 200, 1e-6,
          'f32 logit 200 does not overflow')
  grad_ok('bce', function(q, t) return F.binary_cross_entropy(q, t) end, {f64(p), f64(y)})
  grad_ok('bce_with_logits', function(q, t)
    return F.binary_cross_entropy_with_logits(q, t, {pos_weight = f64({1, 2, 3, 4})})
  end, {f64(z), f64({1, 0, 0.3, 1})})
end

-- ---- KL divergence (input = log q, target = p) --------------------------------------------------
do
  local q = {{0.2, 0.5, 0.3}, {0.1, 0.1, 0.8}}
  local p = {{0.0, 0.7, 0.3}, {0.3, 0.3, 0.4}}
  local logq, terms, total = {}, {}, 0
  for i = 1, 2 do
    logq[i] = {}
    for j = 1, 3 do
      logq[i][j] = math.log(q[i][j])
      local v = p[i][j] > 0 and p[i][j] * (math.log(p[i][j]) - logq[i][j]) or 0
      terms[#terms + 1] = v
      total = total + v
    end
  end
  H.close(nn.KLDivLoss({reduction = 'batchmean'})(f64(logq), f64(p)), total / 2, 1e-14,
          'KLDiv batchmean = KL per sample')
  H.close(F.kl_div(f64(logq), f64(p)), total / 6, 1e-14, 'KLDiv mean over elements')
  H.close(F.kl_div(f64(logq), f64(p), {reduction = 'none'}):reshape(6), terms, 1e-14,
          'KLDiv pointwise, 0 log 0 = 0')
  local logp = f64({{-1, -0.5, -2}, {-0.3, -1.2, -3}})
  local lt = F.kl_div(f64(logq), logp, {log_target = true, reduction = 'sum'})
  H.close(lt, (logp:exp() * (logp - f64(logq))):sum(), 1e-14, 'KLDiv log_target')
  grad_ok('kl_div', function(a) return F.kl_div(a, f64(p), {reduction = 'batchmean'}) end,
          {f64(logq)})
end

-- ---- hinge family (labels ±1) -------------------------------------------------------------------
do
  local s, y = {0.3, -2.0, 1.5, 0.8, -0.4}, {1, -1, 1, -1, 1}
  local hinge, soft, quad = {}, {}, {}
  local t = 0.5
  for i = 1, 5 do
    local z = y[i] * s[i]
    hinge[i] = math.max(0, 1 - z)
    soft[i] = t * math.log(1 + math.exp((1 - z) / t))
    if z >= 1 then quad[i] = 0
    elseif z > 1 - t then quad[i] = (1 - z) ^ 2 / (2 * t)
    else quad[i] = 1 - z - t / 2 end
  end
  H.close(nn.HingeLoss()(f64(s), f64(y)), mean(hinge), 1e-14, 'HingeLoss')
  H.close(nn.SmoothHingeLoss(t)(f64(s), f64(y)), mean(soft), 1e-14,
          'SmoothHingeLoss softplus (Koh & Liang)')
  H.close(nn.SmoothHingeLoss(t, {kind = 'quadratic'})(f64(s), f64(y)), mean(quad), 1e-14,
          'SmoothHingeLoss quadratic (Rennie & Srebro)')
  H.close(nn.SmoothHingeLoss(1e-3)(f64(s), f64(y)), mean(hinge), 1e-3, 't -> 0 gives the hinge')
  H.checkerror('t must be > 0', function() F.smooth_hinge_loss(f64(s), f64(y), {t = 0}) end)
  grad_ok('smooth_hinge', function(a) return F.smooth_hinge_loss(a, f64(y), {t = 0.5}) end,
          {f64(s)})
  grad_ok('smooth_hinge quadratic', function(a)
    return F.smooth_hinge_loss(a, f64(y), {t = 0.5, kind = 'quadratic'})
  end, {f64({0.3, -2.0, 1.7, 0.2, -0.4})})
  grad_ok('hinge', function(a) return F.hinge_loss(a, f64(y)) end, {f64(s)})
end

-- ---- Dice, Dice + CE, focal ---------------------------------------------------------------------
do
  -- probabilities [1, 2, 2, 2] and labels [1, 2, 2]
  local P = {{{{0.9, 0.2}, {0.6, 0.1}}, {{0.1, 0.8}, {0.4, 0.9}}}}
  local lab = {{{1, 2}, {1, 2}}}
  local dices = {}
  for c = 1, 2 do
    local inter, sp, sg = 0, 0, 0
    for i = 1, 2 do for j = 1, 2 do
      local g = lab[1][i][j] == c and 1 or 0
      inter = inter + P[1][c][i][j] * g
      sp, sg = sp + P[1][c][i][j], sg + g
    end end
    dices[c] = 1 - (2 * inter + 1) / (sp + sg + 1)
  end
  local probs, labels = f64(P), i64(lab)
  H.close(nn.DiceLoss({from_logits = false})(probs, labels), mean(dices), 1e-14,
          'DiceLoss on probabilities, smooth 1')
  local onehot = nb.one_hot(labels, 2, 'f64'):permute(1, 4, 2, 3)
  H.close(F.dice_loss(probs, onehot, {from_logits = false}), mean(dices), 1e-14,
          'one-hot and label targets agree')
  local z = nb.randn({2, 3, 2, 2}, {dtype = 'f64'})
  local lz = nb.randint(1, 3, {2, 2, 2})
  H.close(F.dice_loss(z, lz), F.dice_loss(z:softmax(2), lz, {from_logits = false}), 1e-14,
          'Dice from logits = softmax first')
  H.close(nn.DiceCELoss()(z, lz), F.cross_entropy(z, lz) + F.dice_loss(z, lz), 1e-14,
          'DiceCELoss = CE + Dice')
  grad_ok('dice', function(a) return F.dice_loss(a, lz) end, {z})
  grad_ok('dice_ce', function(a) return F.dice_ce_loss(a, lz) end, {z})

  local x, t = f64(logits), i64(targets)
  H.close(nn.FocalLoss({gamma = 0})(x, t), F.cross_entropy(x, t), 1e-14, 'focal gamma 0 = CE')
  local fl, fla = {}, {}
  local alpha = {0.25, 0.5, 1.0, 2.0}
  for i = 1, 3 do
    local lp = logsoftmax(logits[i])[targets[i]]
    local pt = math.exp(lp)
    fl[i] = -(1 - pt) ^ 2 * lp
    fla[i] = alpha[targets[i]] * fl[i]
  end
  H.close(nn.FocalLoss()(x, t), mean(fl), 1e-14, 'focal gamma 2')
  H.close(F.focal_loss(x, t, {alpha = f64(alpha)}), mean(fla), 1e-14, 'focal per-class alpha')
  local bz, by = {1.2, -0.3, 2.0}, {1, 0, 0}
  local bref = {}
  for i = 1, 3 do
    local p = 1 / (1 + math.exp(-bz[i]))
    local pt = by[i] == 1 and p or 1 - p
    local at = by[i] == 1 and 0.25 or 0.75
    bref[i] = -at * (1 - pt) ^ 2 * math.log(pt)
  end
  H.close(F.focal_loss(f64(bz), f64(by), {alpha = 0.25}), mean(bref), 1e-14, 'binary focal')
  grad_ok('focal', function(a) return F.focal_loss(a, t, {gamma = 1.5}) end, {x})
  grad_ok('binary focal', function(a) return F.focal_loss(a, f64(by), {alpha = 0.25}) end,
          {f64(bz)})
end

-- ---- cosine embedding, center loss --------------------------------------------------------------
do
  local a = {{1, 2, 0}, {0.5, -1, 1}, {3, 0, -1}}
  local b = {{2, 1, 1}, {1, 1, 1}, {-1, 0.5, 2}}
  local y = {1, -1, -1}
  local ref = {}
  for i = 1, 3 do
    local d, na, nb2 = 0, 0, 0
    for j = 1, 3 do d = d + a[i][j] * b[i][j]; na = na + a[i][j] ^ 2; nb2 = nb2 + b[i][j] ^ 2 end
    local cos = d / math.sqrt(na * nb2)
    ref[i] = y[i] == 1 and 1 - cos or math.max(0, cos - 0.1)
  end
  H.close(nn.CosineEmbeddingLoss({margin = 0.1})(f64(a), f64(b), f64(y)), mean(ref), 1e-14,
          'CosineEmbeddingLoss')
  grad_ok('cosine_embedding', function(p, q)
    return F.cosine_embedding_loss(p, q, f64(y), {margin = -0.5})
  end, {f64(a), f64(b)})

  local cl = nn.CenterLoss(3, 2, {dtype = 'f64'})
  nb.no_grad(function() cl.centers:copy_(f64({{0, 0}, {1, 1}, {-1, 2}})) end)
  local x = f64({{0.5, 0.5}, {1, 2}, {2, 1}, {-1, 1}})
  local lab = i64({1, 2, 2, 3})
  -- ½ Σ ||x_i - c_{y_i}||² = ½ (0.5 + 1 + 1 + 1)
  H.close(cl(x, lab), 1.75, 1e-14, 'CenterLoss sum (the paper)')
  H.close(nn.CenterLoss(3, 2, {reduction = 'mean'}):double()(x, lab) * 0 + 1.75 / 4,
          F.center_loss(x, lab, cl.centers, {reduction = 'mean'}), 1e-14, 'CenterLoss mean')
  -- Δc_1 = (c1 - x1)/2 = (-0.25,-0.25); Δc_2 = ((c2-x2) + (c2-x3))/3 = (-1/3,-1/3);
  -- Δc_3 = (c3 - x4)/2 = (0, 0.5); c <- c - 0.5 Δc
  cl:update_centers(x, lab, 0.5)
  H.close(cl.centers, {{0.125, 0.125}, {1 + 1 / 6, 1 + 1 / 6}, {-1, 1.75}}, 1e-14,
          'center update rule of Wen et al.')
  local before = cl.centers:clone()
  cl:update_centers(x:narrow(1, 1, 1), lab:narrow(1, 1, 1), 0.5)
  H.close(cl.centers:narrow(1, 2, 2), before:narrow(1, 2, 2), 0,
          'classes absent from the batch do not move')
  grad_ok('center_loss', function(p, c) return F.center_loss(p, lab, c) end,
          {x, f64({{0, 0}, {1, 1}, {-1, 2}})})
end

H.report()
