-- Loss modules: each holds its options and calls its nn.F function (see nn/functional.lua for
-- the formulas).  All take reduction = 'mean' (default) | 'sum' | 'none'; class labels are
-- 1-based i64.  CenterLoss also owns learned centers and the center update rule.
local nb = require 'nabla'
local U = require 'nn.module'
local F = require 'nn.functional'
local init = require 'nn.init_fns'
local Module = U.Module
local M = {}

-- A loss class whose forward is F[fname](input, target, opts); option names and defaults in
-- `defaults` (checked, so a typo is an error).
local function loss(name, fname, defaults)
  local cls = Module:extend(name)
  function cls:__init(opts)
    self.opts = U.options('nn.' .. name, opts, defaults)
    for k, v in pairs(self.opts) do
      if v ~= U.NONE then rawset(self, k, v) end
    end
  end
  function cls:forward(input, target)
    local o = {}
    for k in pairs(defaults) do
      local v = rawget(self, k)
      if v ~= nil then o[k] = v end
    end
    return F[fname](input, target, o)
  end
  function cls:extra_repr()
    local parts = {}
    for k, v in pairs(defaults) do
      local cur = rawget(self, k)
      if cur ~= nil and cur ~= v and not nb.is_tensor(cur) then
        parts[#parts + 1] = k .. '=' .. tostring(cur)
      end
    end
    table.sort(parts)
    return table.concat(parts, ', ')
  end
  M[name] = cls
  return cls
end

local NONE = U.NONE
loss('MSELoss', 'mse_loss', {reduction = 'mean'})
loss('L1Loss', 'l1_loss', {reduction = 'mean'})
loss('SmoothL1Loss', 'smooth_l1_loss', {reduction = 'mean', beta = 1})
loss('HuberLoss', 'huber_loss', {reduction = 'mean', delta = 1})
loss('CrossEntropyLoss', 'cross_entropy', {weight = NONE, ignore_index = -100, reduction = 'mean',
                                           label_smoothing = 0})
loss('NLLLoss', 'nll_loss', {weight = NONE, ignore_index = -100, reduction = 'mean'})
loss('BCELoss', 'binary_cross_entropy', {weight = NONE, reduction = 'mean'})
loss('BCEWithLogitsLoss', 'binary_cross_entropy_with_logits',
     {weight = NONE, pos_weight = NONE, reduction = 'mean'})
loss('KLDivLoss', 'kl_div', {reduction = 'mean', log_target = false})
loss('HingeLoss', 'hinge_loss', {margin = 1, reduction = 'mean'})
loss('DiceLoss', 'dice_loss', {smooth = 1, from_logits = true, reduction = 'mean'})
loss('DiceCELoss', 'dice_ce_loss', {smooth = 1, ce_weight = 1, dice_weight = 1, weight = NONE})
M.CEDiceLoss = M.DiceCELoss
loss('FocalLoss', 'focal_loss', {gamma = 2, alpha = NONE, reduction = 'mean'})

-- nn.SmoothHingeLoss(t, {kind='softplus'|'quadratic', reduction=}) — t first, as in the
-- influence-function paper's SmoothHinge(s, t).
local SmoothHinge = Module:extend('SmoothHingeLoss')
M.SmoothHingeLoss = SmoothHinge
function SmoothHinge:__init(t, opts)
  if type(t) == 'table' then t, opts = nil, t end
  local o = U.options('nn.SmoothHingeLoss', opts, {t = 1, kind = 'softplus', reduction = 'mean'})
  self.t, self.kind, self.reduction = t or o.t, o.kind, o.reduction
end
function SmoothHinge:forward(input, target)
  return F.smooth_hinge_loss(input, target, {t = self.t, kind = self.kind,
                                             reduction = self.reduction})
end
function SmoothHinge:extra_repr()
  return string.format("t=%g, kind='%s'", self.t, self.kind)
end

-- nn.CosineEmbeddingLoss{margin=0}: forward(x1, x2, y) with y = ±1.
local CosEmb = Module:extend('CosineEmbeddingLoss')
M.CosineEmbeddingLoss = CosEmb
function CosEmb:__init(opts)
  local o = U.options('nn.CosineEmbeddingLoss', opts, {margin = 0, reduction = 'mean'})
  self.margin, self.reduction = o.margin, o.reduction
end
function CosEmb:forward(x1, x2, y)
  return F.cosine_embedding_loss(x1, x2, y, {margin = self.margin, reduction = self.reduction})
end
function CosEmb:extra_repr() return string.format('margin=%g', self.margin) end

---------------------------------------------------------------------------- CenterLoss
local CenterLoss = Module:extend('CenterLoss')
M.CenterLoss = CenterLoss

-- nn.CenterLoss(num_classes, feat_dim, {reduction='sum'}) (Wen et al. 2016):
--   loss = ½ Σ_i ||x_i - c_{y_i}||², centers [C, d] initialized N(0, 1).
-- The centers are a parameter, so they can be trained by an optimizer; the paper instead
-- moves them with m:update_centers(x, y, alpha) after each step (do one or the other).
function CenterLoss:__init(num_classes, feat_dim, opts)
  local o = U.options('nn.CenterLoss', opts, {reduction = 'sum', dtype = 'f32'})
  self.num_classes, self.feat_dim, self.reduction = num_classes, feat_dim, o.reduction
  self:register_parameter('centers', nb.zeros({num_classes, feat_dim}, o.dtype))
  init.normal_(self.centers)
end

function CenterLoss:forward(x, y)
  return F.center_loss(x, y, self.centers, {reduction = self.reduction})
end

-- The paper's rule, for every class j at once (x [N, d], y [N] labels 1..C):
--   Δc_j = Σ_{i: y_i = j} (c_j - x_i) / (1 + n_j),   c_j <- c_j - alpha Δc_j
-- (classes absent from the batch have n_j = 0 and do not move).  Returns the centers.
function CenterLoss:update_centers(x, y, alpha)
  alpha = alpha or 0.5
  nb.no_grad(function()
    local c = self.centers
    local onehot = nb.one_hot(y:reshape(-1), self.num_classes, c.dtype)   -- [N, C]
    local n = onehot:sum(1):reshape(self.num_classes, 1)                  -- [C, 1]
    local sx = onehot:t():mm(x:detach():to(c.dtype))                      -- [C, d]
    local delta = (c * n - sx) / (n + 1)
    c:sub_(delta * alpha)
  end)
  return self.centers
end

function CenterLoss:extra_repr()
  return string.format('%d classes, %d features', self.num_classes, self.feat_dim)
end

return M
