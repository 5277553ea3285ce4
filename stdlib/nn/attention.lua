-- MultiheadAttention, as torch.nn.MultiheadAttention (a small subset: no add_bias_kv or
-- add_zero_attn).  Parameters and initialization as PyTorch: in_proj_weight [3E, E]
-- xavier_uniform (or q/k/v_proj_weight when kdim or vdim differ from E), in_proj_bias 0,
-- out_proj a Linear(E, E) with its default weight init and bias 0.
--   attn = softmax(Q K^T / √d + mask) per head (d = E/num_heads), out = out_proj(attn V)
-- Masks: nabla has no bool dtype, so an i64 mask marks positions that may NOT be attended with
-- nonzero entries (PyTorch's True), while a float mask is added to the scores (-inf blocks).
local nb = require 'nabla'
local U = require 'nn.module'
local F = require 'nn.functional'
local init = require 'nn.init_fns'
local Linear = require('nn.linear').Linear
local Module = U.Module
local M = {}

local MHA = Module:extend('MultiheadAttention')
M.MultiheadAttention = MHA

-- nn.MultiheadAttention(E, num_heads, {dropout=0, bias=true, batch_first=false, kdim=E,
-- vdim=E}).
function MHA:__init(E, num_heads, opts)
  local o = U.options('nn.MultiheadAttention', opts, {dropout = 0, bias = true,
                                                      batch_first = false, kdim = U.NONE,
                                                      vdim = U.NONE, dtype = 'f32'})
  if type(num_heads) ~= 'number' or num_heads < 1 or E % num_heads ~= 0 then
    U.raise(string.format('nn.MultiheadAttention: embed_dim (%s) must be divisible by ' ..
                          'num_heads (%s)', tostring(E), tostring(num_heads)))
  end
  self.embed_dim, self.num_heads, self.head_dim = E, num_heads, E // num_heads
  self.kdim, self.vdim = U.opt(o.kdim) or E, U.opt(o.vdim) or E
  self.dropout, self.batch_first = o.dropout, o.batch_first
  self.same_dims = self.kdim == E and self.vdim == E
  if self.same_dims then
    self:register_parameter('in_proj_weight', nb.zeros({3 * E, E}, o.dtype))
  else
    self:register_parameter('q_proj_weight', nb.zeros({E, E}, o.dtype))
    self:register_parameter('k_proj_weight', nb.zeros({E, self.kdim}, o.dtype))
    self:register_parameter('v_proj_weight', nb.zeros({E, self.vdim}, o.dtype))
  end
  if o.bias then self:register_parameter('in_proj_bias', nb.zeros({3 * E}, o.dtype)) end
  self.out_proj = Linear(E, E, {bias = o.bias, dtype = o.dtype})
  self:reset_parameters()
end

function MHA:reset_parameters()
  if self.same_dims then
    init.xavier_uniform_(self.in_proj_weight)
  else
    init.xavier_uniform_(self.q_proj_weight)
    init.xavier_uniform_(self.k_proj_weight)
    init.xavier_uniform_(self.v_proj_weight)
  end
  if self.in_proj_bias then
    init.zeros_(self.in_proj_bias)
    init.zeros_(self.out_proj.bias)
  end
end

local function proj(self, which, x)
  local E = self.embed_dim
  local w
  if self.same_dims then
    w = self.in_proj_weight:narrow(1, (which - 1) * E + 1, E)
  else
    w = self[({'q_proj_weight', 'k_proj_weight', 'v_proj_weight'})[which]]
  end
  local b = self.in_proj_bias and self.in_proj_bias:narrow(1, (which - 1) * E + 1, E) or nil
  return F.linear(x, w, b)
end

-- [N, L, E] -> [N, heads, L, d]
local function split_heads(x, N, L, h, d)
  return x:reshape(N, L, h, d):permute(1, 3, 2, 4)
end

local function apply_mask(scores, mask, shape4)
  if mask == nil then return scores end
  if mask.dtype == 'i64' then
    return scores:masked_fill(mask:reshape(shape4), -math.huge)
  end
  return scores + mask:reshape(shape4)
end

-- out, weights = mha(query, key?, value?, {key_padding_mask=, need_weights=true,
-- attn_mask=, average_attn_weights=true}); key and value default to query (self-attention).
-- query [L, N, E] ([N, L, E] with batch_first, [L, E] unbatched); weights [N, L, S]
-- (averaged over heads) or [N, heads, L, S], or nil with need_weights=false.
function MHA:forward(query, key, value, opts)
  if type(key) == 'table' and not nb.is_tensor(key) then key, value, opts = nil, nil, key end
  key = key or query
  value = value or key
  local o = U.options('MultiheadAttention', opts, {key_padding_mask = U.NONE,
                                                   need_weights = true, attn_mask = U.NONE,
                                                   average_attn_weights = true})
  local E = self.embed_dim
  if not nb.is_tensor(query) or (query:dim() ~= 3 and query:dim() ~= 2) or
     query.shape[query:dim()] ~= E then
    U.shape_error(self, string.format(self.batch_first and '[N,L,%d]' or '[L,N,%d]', E), query)
  end
  local unbatched = query:dim() == 2
  local q, k, v = query, key, value
  if unbatched then
    q, k, v = q:unsqueeze(1), k:unsqueeze(1), v:unsqueeze(1)
  elseif not self.batch_first then
    q, k, v = q:transpose(1, 2), k:transpose(1, 2), v:transpose(1, 2)
  end
  local N, L, S = q.shape[1], q.shape[2], k.shape[2]
  local h, d = self.num_heads, self.head_dim
  local Q = split_heads(proj(self, 1, q), N, L, h, d)
  local K = split_heads(proj(self, 2, k), N, S, h, d)
  local V = split_heads(proj(self, 3, v), N, S, h, d)
  local scores = Q:matmul(K:transpose(3, 4)) * (1 / math.sqrt(d))      -- [N, h, L, S]
  local am = U.opt(o.attn_mask)
  if am then
    scores = apply_mask(scores, am, am:dim() == 2 and {1, 1, L, S} or {N, h, L, S})
  end
  local kpm = U.opt(o.key_padding_mask)
  if kpm then
    scores = apply_mask(scores, kpm, {unbatched and 1 or N, 1, 1, S})
  end
  local attn = scores:softmax(4)
  local attn_d = F.dropout(attn, self.dropout, self.training)
  local out = attn_d:matmul(V):permute(1, 3, 2, 4):reshape(N, L, E)
  out = self.out_proj(out)
  if unbatched then
    out = out:squeeze(1)
  elseif not self.batch_first then
    out = out:transpose(1, 2)
  end
  local weights = nil
  if o.need_weights then
    weights = o.average_attn_weights and attn:mean(2) or attn
    if unbatched then weights = weights:squeeze(1) end
  end
  return out, weights
end

function MHA:extra_repr()
  local s = string.format('%d, num_heads=%d', self.embed_dim, self.num_heads)
  if self.batch_first then s = s .. ', batch_first=true' end
  if self.dropout > 0 then s = s .. ', dropout=' .. self.dropout end
  return s
end

-- q, k, v projections (L*E*E, S*E*kdim, S*E*vdim per sample) and the two attention products
-- (L*S*E each); out_proj is counted in its own row.
function MHA:macs(ins)
  local q = ins[1]
  local k = nb.is_tensor(ins[2]) and ins[2] or q
  local E = self.embed_dim
  local N, L, S
  if q:dim() == 2 then N, L, S = 1, q.shape[1], k.shape[1]
  elseif self.batch_first then N, L, S = q.shape[1], q.shape[2], k.shape[2]
  else N, L, S = q.shape[2], q.shape[1], k.shape[1] end
  return N * (L * E * E + S * E * self.kdim + S * E * self.vdim + 2 * L * S * E)
end

return M
