-- Recurrent layers: RNNCell, LSTMCell, GRUCell and the sequence layers RNN (tanh or relu),
-- LSTM, GRU, with PyTorch's equations, parameter names and shapes (weight_ih_l0 [G*H, I],
-- weight_hh_l0 [G*H, H], bias_ih_l0, bias_hh_l0 [G*H]; the layer suffix is 0-based, as in
-- PyTorch checkpoints) and initialization: every weight and bias U(±1/√H).
--   RNN:  h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
--   LSTM: i, f, g, o = σ, σ, tanh, σ of (W_ih x + b_ih + W_hh h + b_hh) split in 4;
--         c' = f c + i g,  h' = o tanh(c')
--   GRU:  r, z = σ(W_i{r,z} x + b_i{r,z} + W_h{r,z} h + b_h{r,z});
--         n = tanh(W_in x + b_in + r (W_hn h + b_hn));  h' = (1 - z) n + z h
-- Sequences are [T, N, I] ([N, T, I] with batch_first=true, [T, I] unbatched).  The input
-- projections of all time steps are one matrix product; the recurrence steps in Lua, one
-- small matmul per step.  No bidirectional layers.
local nb = require 'nabla'
local U = require 'nn.module'
local init = require 'nn.init_fns'
local Module = U.Module
local M = {}

local GATES = {RNN = 1, LSTM = 4, GRU = 3}

-- One step from the precomputed input part gi = W_ih x + b_ih [N, G*H] and the state.
local function rnn_step(gi, h, whh, bhh, act)
  local g = gi + h:mm(whh:t())
  if bhh then g = g + bhh end
  return act == 'relu' and g:relu() or g:tanh()
end

local function lstm_step(gi, h, c, whh, bhh, H)
  local g = gi + h:mm(whh:t())
  if bhh then g = g + bhh end
  local i = g:narrow(2, 1, H):sigmoid()
  local f = g:narrow(2, H + 1, H):sigmoid()
  local gg = g:narrow(2, 2 * H + 1, H):tanh()
  local o = g:narrow(2, 3 * H + 1, H):sigmoid()
  local c2 = f * c + i * gg
  return o * c2:tanh(), c2
end

local function gru_step(gi, h, whh, bhh, H)
  local gh = h:mm(whh:t())
  if bhh then gh = gh + bhh end
  local r = (gi:narrow(2, 1, H) + gh:narrow(2, 1, H)):sigmoid()
  local z = (gi:narrow(2, H + 1, H) + gh:narrow(2, H + 1, H)):sigmoid()
  local n = (gi:narrow(2, 2 * H + 1, H) + r * gh:narrow(2, 2 * H + 1, H)):tanh()
  return n + z * (h - n)
end

local function uniform_all(self)
  local bound = 1 / math.sqrt(self.hidden_size)
  for _, p in ipairs(self:parameters()) do init.uniform_(p, -bound, bound) end
end

---------------------------------------------------------------------------- cells
local function cell_init(self, kind, fname, I, H, opts)
  local o = U.options(fname, opts, kind == 'RNN' and {bias = true, nonlinearity = 'tanh',
                                                      dtype = 'f32'}
                                                  or {bias = true, dtype = 'f32'})
  self.input_size, self.hidden_size, self.kind = I, H, kind
  self.nonlinearity = o.nonlinearity
  local G = GATES[kind] * H
  self:register_parameter('weight_ih', nb.zeros({G, I}, o.dtype))
  self:register_parameter('weight_hh', nb.zeros({G, H}, o.dtype))
  if o.bias then
    self:register_parameter('bias_ih', nb.zeros({G}, o.dtype))
    self:register_parameter('bias_hh', nb.zeros({G}, o.dtype))
  end
  self.bias = o.bias
  uniform_all(self)
end

local function check_cell_input(self, x)
  if not nb.is_tensor(x) or x:dim() < 1 or x:dim() > 2 or x.shape[x:dim()] ~= self.input_size then
    U.shape_error(self, string.format('[N,%d]', self.input_size), x)
  end
end

local function cell_repr(self)
  return string.format('%d, %d%s', self.input_size, self.hidden_size,
                       self.bias and '' or ', bias=false')
end

local function cell_macs(self, ins)
  local x = ins[1]
  local n = x:dim() == 2 and x.shape[1] or 1
  return n * GATES[self.kind] * self.hidden_size * (self.input_size + self.hidden_size)
end

local function input_part(self, x)
  local gi = x:mm(self.weight_ih:t())
  if self.bias_ih then gi = gi + self.bias_ih end
  return gi
end

local RNNCell = Module:extend('RNNCell')
M.RNNCell = RNNCell
-- nn.RNNCell(I, H, {bias=true, nonlinearity='tanh'|'relu'}); cell(x [N,I], h [N,H]?) -> h'.
function RNNCell:__init(I, H, opts) cell_init(self, 'RNN', 'nn.RNNCell', I, H, opts) end
function RNNCell:forward(x, h)
  check_cell_input(self, x)
  local unb = x:dim() == 1
  if unb then x = x:unsqueeze(1); if h then h = h:unsqueeze(1) end end
  h = h or nb.zeros({x.shape[1], self.hidden_size}, x.dtype)
  local h2 = rnn_step(input_part(self, x), h, self.weight_hh, self.bias_hh, self.nonlinearity)
  return unb and h2:squeeze(1) or h2
end
RNNCell.extra_repr = cell_repr
RNNCell.macs = cell_macs
RNNCell.reset_parameters = uniform_all

local LSTMCell = Module:extend('LSTMCell')
M.LSTMCell = LSTMCell
-- nn.LSTMCell(I, H, {bias=true}); h', c' = cell(x [N,I], {h, c}?).
function LSTMCell:__init(I, H, opts) cell_init(self, 'LSTM', 'nn.LSTMCell', I, H, opts) end
function LSTMCell:forward(x, state)
  check_cell_input(self, x)
  local unb = x:dim() == 1
  local h, c = state and state[1], state and state[2]
  if unb then
    x = x:unsqueeze(1)
    if h then h, c = h:unsqueeze(1), c:unsqueeze(1) end
  end
  local N = x.shape[1]
  h = h or nb.zeros({N, self.hidden_size}, x.dtype)
  c = c or nb.zeros({N, self.hidden_size}, x.dtype)
  local h2, c2 = lstm_step(input_part(self, x), h, c, self.weight_hh, self.bias_hh,
                           self.hidden_size)
  if unb then return h2:squeeze(1), c2:squeeze(1) end
  return h2, c2
end
LSTMCell.extra_repr = cell_repr
LSTMCell.macs = cell_macs
LSTMCell.reset_parameters = uniform_all

local GRUCell = Module:extend('GRUCell')
M.GRUCell = GRUCell
-- nn.GRUCell(I, H, {bias=true}); cell(x [N,I], h [N,H]?) -> h'.
function GRUCell:__init(I, H, opts) cell_init(self, 'GRU', 'nn.GRUCell', I, H, opts) end
function GRUCell:forward(x, h)
  check_cell_input(self, x)
  local unb = x:dim() == 1
  if unb then x = x:unsqueeze(1); if h then h = h:unsqueeze(1) end end
  h = h or nb.zeros({x.shape[1], self.hidden_size}, x.dtype)
  local h2 = gru_step(input_part(self, x), h, self.weight_hh, self.bias_hh, self.hidden_size)
  return unb and h2:squeeze(1) or h2
end
GRUCell.extra_repr = cell_repr
GRUCell.macs = cell_macs
GRUCell.reset_parameters = uniform_all

---------------------------------------------------------------------------- sequence layers
local SEQ_OPTS = {num_layers = 1, bias = true, batch_first = false, dropout = 0, dtype = 'f32'}

local function seq_init(self, kind, fname, I, H, opts)
  local defaults = {}
  for k, v in pairs(SEQ_OPTS) do defaults[k] = v end
  if kind == 'RNN' then defaults.nonlinearity = 'tanh' end
  local o = U.options(fname, opts, defaults)
  self.kind, self.input_size, self.hidden_size = kind, I, H
  self.num_layers, self.bias, self.batch_first = o.num_layers, o.bias, o.batch_first
  self.dropout, self.nonlinearity = o.dropout, o.nonlinearity
  local G = GATES[kind] * H
  for l = 0, o.num_layers - 1 do
    local in_l = l == 0 and I or H
    self:register_parameter('weight_ih_l' .. l, nb.zeros({G, in_l}, o.dtype))
    self:register_parameter('weight_hh_l' .. l, nb.zeros({G, H}, o.dtype))
    if o.bias then
      self:register_parameter('bias_ih_l' .. l, nb.zeros({G}, o.dtype))
      self:register_parameter('bias_hh_l' .. l, nb.zeros({G}, o.dtype))
    end
  end
  uniform_all(self)
end

-- x [T, N, I] (after batch_first handling); state h0 [L, N, H] (and c0 for LSTM) or nil.
-- Returns the top layer's outputs [T, N, H] and the final states [L, N, H].
local function run_layers(self, x, h0, c0)
  local T, N, H = x.shape[1], x.shape[2], self.hidden_size
  local hs, cs = {}, {}
  local input = x
  for l = 0, self.num_layers - 1 do
    local wih, whh = self['weight_ih_l' .. l], self['weight_hh_l' .. l]
    local bih, bhh = self['bias_ih_l' .. l], self['bias_hh_l' .. l]
    local gi = input:reshape(T * N, -1):mm(wih:t())
    if bih then gi = gi + bih end
    gi = gi:reshape(T, N, -1)
    local h = h0 and h0:select(1, l + 1) or nb.zeros({N, H}, x.dtype)
    local c = nil
    if self.kind == 'LSTM' then c = c0 and c0:select(1, l + 1) or nb.zeros({N, H}, x.dtype) end
    local outs = {}
    for t = 1, T do
      local g = gi:select(1, t)
      if self.kind == 'LSTM' then
        h, c = lstm_step(g, h, c, whh, bhh, H)
      elseif self.kind == 'GRU' then
        h = gru_step(g, h, whh, bhh, H)
      else
        h = rnn_step(g, h, whh, bhh, self.nonlinearity)
      end
      outs[t] = h
    end
    hs[l + 1], cs[l + 1] = h, c
    input = nb.stack(outs, 1)
    if self.dropout > 0 and self.training and l < self.num_layers - 1 then
      input = require('nn.functional').dropout(input, self.dropout, true)
    end
  end
  return input, nb.stack(hs, 1), self.kind == 'LSTM' and nb.stack(cs, 1) or nil
end

local function seq_forward(self, x, state)
  local I = self.input_size
  if not nb.is_tensor(x) or (x:dim() ~= 3 and x:dim() ~= 2) or x.shape[x:dim()] ~= I then
    U.shape_error(self, string.format(self.batch_first and '[N,T,%d]' or '[T,N,%d]', I), x)
  end
  local unbatched = x:dim() == 2
  local h0, c0
  if self.kind == 'LSTM' then
    if state then h0, c0 = state[1], state[2] end
  else
    h0 = state
  end
  if unbatched then
    x = x:unsqueeze(2)
    if h0 then h0 = h0:unsqueeze(2) end
    if c0 then c0 = c0:unsqueeze(2) end
  elseif self.batch_first then
    x = x:transpose(1, 2)
  end
  local out, hn, cn = run_layers(self, x, h0, c0)
  if unbatched then
    out, hn = out:squeeze(2), hn:squeeze(2)
    if cn then cn = cn:squeeze(2) end
  elseif self.batch_first then
    out = out:transpose(1, 2)
  end
  if self.kind == 'LSTM' then return out, {hn, cn} end
  return out, hn
end

local function seq_repr(self)
  local s = string.format('%d, %d', self.input_size, self.hidden_size)
  if self.num_layers ~= 1 then s = s .. ', num_layers=' .. self.num_layers end
  if self.batch_first then s = s .. ', batch_first=true' end
  if not self.bias then s = s .. ', bias=false' end
  if self.dropout > 0 then s = s .. ', dropout=' .. self.dropout end
  return s
end

local function seq_macs(self, ins)
  local x = ins[1]
  local steps = x:dim() == 3 and x.shape[1] * x.shape[2] or x.shape[1]
  local H, G = self.hidden_size, GATES[self.kind]
  local total = 0
  for l = 0, self.num_layers - 1 do
    total = total + steps * G * H * ((l == 0 and self.input_size or H) + H)
  end
  return total
end

local function seq_class(kind)
  local cls = Module:extend(kind)
  cls.__init = function(self, I, H, opts) seq_init(self, kind, 'nn.' .. kind, I, H, opts) end
  cls.forward = seq_forward
  cls.extra_repr = seq_repr
  cls.macs = seq_macs
  cls.reset_parameters = uniform_all
  M[kind] = cls
  return cls
end

-- nn.RNN(I, H, {num_layers=1, nonlinearity='tanh'|'relu', bias=true, batch_first=false,
-- dropout=0}); out, h_n = rnn(x, h0?) with out [T,N,H] and h_n [num_layers,N,H].
seq_class('RNN')
-- nn.LSTM(I, H, {...}); out, {h_n, c_n} = lstm(x, {h0, c0}?).
seq_class('LSTM')
-- nn.GRU(I, H, {...}); out, h_n = gru(x, h0?).
seq_class('GRU')

return M
