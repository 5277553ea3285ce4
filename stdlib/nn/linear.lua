-- Dense layers: Linear, Bilinear, Embedding.  Default initialization matches PyTorch:
--   Linear    weight [out, in] kaiming_uniform(a=√5) = U(±1/√in), bias [out] U(±1/√in)
--   Bilinear  weight [out, in1, in2] and bias [out] both U(±1/√in1)
--   Embedding weight [num, dim] N(0, 1); the padding_idx row (1-based) is zero
local nb = require 'nabla'
local U = require 'nn.module'
local F = require 'nn.functional'
local init = require 'nn.init_fns'
local Module = U.Module
local M = {}

local function check_count(fname, what, v)
  if type(v) ~= 'number' or v ~= math.floor(v) or v < 0 then
    U.raise(string.format('%s: %s must be a non-negative integer, got %s', fname, what,
                          tostring(v)))
  end
end
M.check_count = check_count

---------------------------------------------------------------------------- Linear
local Linear = Module:extend('Linear')
M.Linear = Linear

-- nn.Linear(in, out, {bias=true, dtype='f32'}): y = x W^T + b over the last dim of x.
function Linear:__init(in_features, out_features, opts)
  check_count('nn.Linear', 'in_features', in_features)
  check_count('nn.Linear', 'out_features', out_features)
  local o = U.options('nn.Linear', opts, {bias = true, dtype = 'f32'})
  self.in_features, self.out_features = in_features, out_features
  self:register_parameter('weight', nb.zeros({out_features, in_features}, o.dtype))
  self:register_parameter('bias', o.bias and nb.zeros({out_features}, o.dtype) or nil)
  self:reset_parameters()
end

function Linear:reset_parameters()
  init.kaiming_uniform_(self.weight, {a = math.sqrt(5)})
  if self.bias then
    local bound = self.in_features > 0 and 1 / math.sqrt(self.in_features) or 0
    init.uniform_(self.bias, -bound, bound)
  end
end

function Linear:forward(x)
  if not nb.is_tensor(x) or x:dim() < 1 or x.shape[x:dim()] ~= self.in_features then
    U.shape_error(self, string.format('[..., %d]', self.in_features), x)
  end
  U.check_dtype(self, x, self.weight)
  return F.linear(x, self.weight, self.bias)
end

function Linear:extra_repr()
  return string.format('%d→%d%s', self.in_features, self.out_features,
                       self.bias and '' or ', bias=false')
end

function Linear:macs(_, out)
  return out:numel() * self.in_features
end

---------------------------------------------------------------------------- Bilinear
local Bilinear = Module:extend('Bilinear')
M.Bilinear = Bilinear

-- nn.Bilinear(in1, in2, out, {bias=true}): y_k = x1^T W_k x2 + b_k.
function Bilinear:__init(in1, in2, out, opts)
  check_count('nn.Bilinear', 'in1_features', in1)
  check_count('nn.Bilinear', 'in2_features', in2)
  check_count('nn.Bilinear', 'out_features', out)
  local o = U.options('nn.Bilinear', opts, {bias = true, dtype = 'f32'})
  self.in1_features, self.in2_features, self.out_features = in1, in2, out
  self:register_parameter('weight', nb.zeros({out, in1, in2}, o.dtype))
  self:register_parameter('bias', o.bias and nb.zeros({out}, o.dtype) or nil)
  self:reset_parameters()
end

function Bilinear:reset_parameters()
  local bound = 1 / math.sqrt(self.in1_features)
  init.uniform_(self.weight, -bound, bound)
  if self.bias then init.uniform_(self.bias, -bound, bound) end
end

function Bilinear:forward(x1, x2)
  if not nb.is_tensor(x1) or x1.shape[x1:dim()] ~= self.in1_features then
    U.shape_error(self, string.format('x1 [..., %d]', self.in1_features), x1)
  end
  if not nb.is_tensor(x2) or x2.shape[x2:dim()] ~= self.in2_features then
    U.shape_error(self, string.format('x2 [..., %d]', self.in2_features), x2)
  end
  return F.bilinear(x1, x2, self.weight, self.bias)
end

function Bilinear:extra_repr()
  return string.format('%d×%d→%d%s', self.in1_features, self.in2_features, self.out_features,
                       self.bias and '' or ', bias=false')
end

function Bilinear:macs(_, out)
  return out:numel() * self.in1_features * self.in2_features
end

---------------------------------------------------------------------------- Embedding
local Embedding = Module:extend('Embedding')
M.Embedding = Embedding

-- nn.Embedding(num, dim, {padding_idx=}): rows of a [num, dim] table picked by 1-based i64
-- indices of any shape; the output has shape idx.shape + {dim}.
function Embedding:__init(num_embeddings, embedding_dim, opts)
  check_count('nn.Embedding', 'num_embeddings', num_embeddings)
  check_count('nn.Embedding', 'embedding_dim', embedding_dim)
  local o = U.options('nn.Embedding', opts, {padding_idx = U.NONE, dtype = 'f32'})
  self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
  self.padding_idx = U.opt(o.padding_idx)
  self:register_parameter('weight', nb.zeros({num_embeddings, embedding_dim}, o.dtype))
  self:reset_parameters()
end

function Embedding:reset_parameters()
  init.normal_(self.weight)
  if self.padding_idx then
    nb.no_grad(function() self.weight:select(1, self.padding_idx):fill_(0) end)
  end
end

function Embedding:forward(idx)
  if not nb.is_tensor(idx) or idx.dtype ~= 'i64' then
    U.raise(string.format('%s: expected i64 indices 1..%d, got %s', self:_short_name(),
                          self.num_embeddings, nb.is_tensor(idx) and idx.dtype .. ' tensor'
                          or type(idx)))
  end
  local opts = self.padding_idx and {padding_idx = self.padding_idx} or nil
  return F.embedding(idx, self.weight, opts)
end

function Embedding:extra_repr()
  return string.format('%d, %d%s', self.num_embeddings, self.embedding_dim,
                       self.padding_idx and (', padding_idx=' .. self.padding_idx) or '')
end

return M
