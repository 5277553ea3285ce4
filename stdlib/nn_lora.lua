-- Parameter-efficient fine-tuning layers: nn.LoRALinear (a frozen Linear plus a trainable
-- low-rank update, mergeable into the weight) and nn.Adapter (a small bottleneck branch added
-- in parallel to a block, scaled by s).  require 'nn_lora' returns {LoRALinear=, Adapter=} and,
-- when nn is loaded, also sets nn.LoRALinear and nn.Adapter.
local nb = require 'nabla'
local U = require 'nn.module'
local F = require 'nn.functional'
local init = require 'nn.init_fns'
local Linear = require('nn.linear').Linear
local Module = U.Module
local M = {}

local function count(fname, what, v, allow_zero)
  if type(v) ~= 'number' or v ~= math.floor(v) or v < (allow_zero and 0 or 1) then
    U.raise(string.format('%s: %s must be a %s integer, got %s', fname, what,
                          allow_zero and 'non-negative' or 'positive', tostring(v)))
  end
end

---------------------------------------------------------------------------- LoRALinear
-- y = base(x) + (alpha/r)·x Aᵀ Bᵀ, with the base Linear frozen, A [r, in] initialised like a
-- Linear weight (U(±1/√in)) and B [out, r] zero, so that the initial output equals the base
-- layer's (Hu et al., 2021).  merge() folds (alpha/r)·B·A into the base weight, after which a
-- forward pass costs exactly one Linear; unmerge() takes it out again (to train on, or to swap
-- in another task's A, B).
local LoRALinear = Module:extend('LoRALinear')
M.LoRALinear = LoRALinear

-- nn.LoRALinear(linear, {r=4, alpha=r})   wraps an existing nn.Linear (its weight and bias are
--                                         frozen: requires_grad=false)
-- nn.LoRALinear(in, out, {r=4, alpha=r, bias=true, dtype='f32'})   a fresh frozen base
function LoRALinear:__init(a, b, c)
  local fname = 'nn.LoRALinear'
  local base, opts
  if U.is_module(a) then
    if a.__name ~= 'Linear' then
      U.raise(fname .. ': expected an nn.Linear to wrap, got ' .. tostring(a.__name))
    end
    base, opts = a, b
    opts = U.options(fname, opts, {r = 4, alpha = U.NONE})
  else
    opts = U.options(fname, c, {r = 4, alpha = U.NONE, bias = true, dtype = 'f32'})
    base = Linear(a, b, {bias = opts.bias, dtype = opts.dtype})
  end
  count(fname, 'r', opts.r)
  self.r = opts.r
  self.alpha = U.opt(opts.alpha) or opts.r
  self.scaling = self.alpha / self.r
  self.in_features, self.out_features = base.in_features, base.out_features
  self:add_module('base', base)
  base:requires_grad_(false)
  local dtype = base.weight.dtype
  self:register_parameter('lora_A', nb.zeros({self.r, self.in_features}, dtype))
  self:register_parameter('lora_B', nb.zeros({self.out_features, self.r}, dtype))
  self.merged = false
  self:reset_lora()
end

-- A ~ U(±1/√in) (as a Linear weight), B = 0: the update BA starts at zero.
function LoRALinear:reset_lora()
  init.kaiming_uniform_(self.lora_A, {a = math.sqrt(5)})
  init.zeros_(self.lora_B)
end

-- The update (alpha/r)·B·A as a detached [out, in] tensor.
function LoRALinear:delta_weight()
  return nb.no_grad(function()
    return self.lora_B:detach():matmul(self.lora_A:detach()) * self.scaling
  end)
end

function LoRALinear:forward(x)
  local y = self.base(x)
  if self.merged then return y end
  return y + x:matmul(self.lora_A:t()):matmul(self.lora_B:t()) * self.scaling
end

-- W ← W + (alpha/r)·B·A.  While merged, A and B are not used by forward (train unmerged).
function LoRALinear:merge()
  if self.merged then return self end
  local d = self:delta_weight()
  nb.no_grad(function() self.base.weight:add_(d) end)
  self.merged = true
  return self
end

-- W ← W − (alpha/r)·B·A: back to the base weight (up to rounding).
function LoRALinear:unmerge()
  if not self.merged then return self end
  local d = self:delta_weight()
  nb.no_grad(function() self.base.weight:add_(-d) end)
  self.merged = false
  return self
end

-- The trainable tensors (A and B), for an optimizer.
function LoRALinear:trainable_parameters()
  local out = {}
  for _, p in ipairs(self:parameters()) do
    if p.requires_grad then out[#out + 1] = p end
  end
  return out
end

function LoRALinear:extra_repr()
  return string.format('%d→%d, r=%d, alpha=%g%s', self.in_features, self.out_features, self.r,
                       self.alpha, self.merged and ', merged' or '')
end

function LoRALinear:_short_name()
  return string.format('LoRALinear(%d→%d, r=%d)', self.in_features, self.out_features, self.r)
end

-- Own multiplies only (the base Linear reports its in·out per row itself): r·(in + out) per
-- row while unmerged, none when merged.
function LoRALinear:macs(_, out)
  if self.merged then return 0 end
  return out:numel() // self.out_features * self.r * (self.in_features + self.out_features)
end

---------------------------------------------------------------------------- Adapter
-- A parallel adapter: out = norm(block(x)) + s·up(relu(down(x))), where down/up are 1×1
-- convolutions (on [N, C, H, W]) or linear maps (on [..., C]) through a bottleneck.  Without a
-- block the module is the scaled branch alone.  s is a number, or a learnable scalar
-- (learnable_scale=true, initialised to scale).  norm=true puts a LayerNorm (no affine) over
-- the block's output (over C, H, W) before the sum.  The up-projection starts small
-- (N(0, std²)), so a fresh adapter's output is close to N(0, small).
local Adapter = Module:extend('Adapter')
M.Adapter = Adapter

-- nn.Adapter(cin, cout, {bottleneck=max(1, cout//4), scale=1, learnable_scale=false,
--            block=nil, norm=false, conv=true, std=0.01, dtype='f32'})
function Adapter:__init(cin, cout, opts)
  local fname = 'nn.Adapter'
  count(fname, 'cin', cin)
  count(fname, 'cout', cout)
  local o = U.options(fname, opts, {bottleneck = math.max(1, cout // 4), scale = 1,
                                    learnable_scale = false, block = U.NONE, norm = false,
                                    conv = true, std = 0.01, dtype = 'f32'})
  count(fname, 'bottleneck', o.bottleneck)
  self.cin, self.cout, self.bottleneck, self.conv = cin, cout, o.bottleneck, o.conv
  self.norm = o.norm
  local block = U.opt(o.block)
  if block then self:add_module('block', block) end
  local conv = require('nn.conv').Conv2d
  if o.conv then
    self:add_module('down', conv(cin, o.bottleneck, 1, {dtype = o.dtype}))
    self:add_module('up', conv(o.bottleneck, cout, 1, {dtype = o.dtype}))
  else
    self:add_module('down', Linear(cin, o.bottleneck, {dtype = o.dtype}))
    self:add_module('up', Linear(o.bottleneck, cout, {dtype = o.dtype}))
  end
  init.normal_(self.up.weight, 0, o.std)
  init.zeros_(self.up.bias)
  if o.learnable_scale then
    self:register_parameter('scale', nb.full({}, o.scale, o.dtype))
  else
    self.scale = o.scale
  end
end

-- The scaled adapter branch s·up(relu(down(x))).
function Adapter:branch(x)
  return self.up(self.down(x):relu()) * self.scale
end

-- The block's output (normalised when norm=true), or nil without a block.
function Adapter:main(x)
  local blk = rawget(self, 'block')
  if not blk then return nil end
  local y = blk(x)
  if self.norm then
    local dims = self.conv and {y.shape[2], y.shape[3], y.shape[4]} or y.shape[y:dim()]
    y = F.layer_norm(y, dims)
  end
  return y
end

-- Both parts separately (for histograms): main(x) (or nil) and branch(x).
function Adapter:branches(x)
  return self:main(x), self:branch(x)
end

function Adapter:forward(x)
  local y, a = self:branches(x)
  if y then return y + a end
  return a
end

function Adapter:extra_repr()
  local s = nb.is_tensor(self.scale) and string.format('learnable s=%.4g', self.scale:item())
            or string.format('s=%g', self.scale)
  return string.format('%d→%d→%d, %s%s', self.cin, self.bottleneck, self.cout, s,
                       self.norm and ', norm' or '')
end

---------------------------------------------------------------------------- docs and wiring
local docs = {
  [LoRALinear] = 'nn.LoRALinear(linear | in, out, {r=4, alpha=r}) — frozen Linear + ' ..
                 '(alpha/r)·x AᵀBᵀ; B starts at 0; :merge(), :unmerge(), :delta_weight()',
  [LoRALinear.merge] = 'lora:merge() — fold (alpha/r)·B·A into the base weight',
  [LoRALinear.unmerge] = 'lora:unmerge() — subtract (alpha/r)·B·A from the base weight',
  [LoRALinear.delta_weight] = 'lora:delta_weight() — (alpha/r)·B·A, detached',
  [LoRALinear.trainable_parameters] = 'lora:trainable_parameters() — {A, B} for an optimizer',
  [Adapter] = 'nn.Adapter(cin, cout, {bottleneck=, scale=1, learnable_scale=false, block=, ' ..
              'norm=false, conv=true}) — block(x) + s·up(relu(down(x)))',
  [Adapter.branches] = 'adapter:branches(x) — block output (normalised if norm) and s·branch(x)',
}
for v, text in pairs(docs) do nb.doc(v, text) end

local nn = package.loaded.nn
if type(nn) == 'table' then
  rawset(nn, 'LoRALinear', rawget(nn, 'LoRALinear') or LoRALinear)
  rawset(nn, 'Adapter', rawget(nn, 'Adapter') or Adapter)
end

return M
