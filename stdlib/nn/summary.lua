-- m:summary(input_shape): runs one forward pass (no grad, eval mode, zeros as input) and
-- prints, for every layer that computes something (leaf modules, and containers that own
-- parameters), its output shape, parameter count and MACs, then the totals.
--
-- MACs (multiply-accumulates) are counted for the whole input given, so pass a batch of 1
-- ({1,1,28,28}) for per-sample figures.  Each layer defines its own count in m:macs():
--   Linear          in*out per row of the input (bias adds are not counted)
--   Bilinear        in1*in2*out per row
--   Conv1d/2d       Cout * Hout*Wout * (Cin/groups) * kh*kw per sample
--   ConvTranspose2d Cin * Hin*Win * (Cout/groups) * kh*kw per sample (one scatter per input pixel)
--   RNN/LSTM/GRU    per time step and layer: gates*hidden*(in + hidden), gates = 1 / 4 / 3
--   MultiheadAttn   the four projections (L*E*E each for q and output, S*E*kdim/vdim for k, v)
--                   plus 2*L*S*E for the scores and the weighted sum
--   everything else (activations, pooling, normalization, dropout, embedding): 0
local nb = require 'nabla'
local U = require 'nn.module'
local M = {}

local function commas(n)
  local s = tostring(math.floor(n))
  local neg = s:sub(1, 1) == '-'
  if neg then s = s:sub(2) end
  s = s:reverse():gsub('(%d%d%d)', '%1,'):reverse()
  if s:sub(1, 1) == ',' then s = s:sub(2) end
  return (neg and '-' or '') .. s
end
M.commas = commas

local function is_shape(t)
  if type(t) ~= 'table' or nb.is_tensor(t) then return false end
  for _, v in ipairs(t) do if type(v) ~= 'number' then return false end end
  return true
end

local function make_inputs(model, input, dtype)
  if nb.is_tensor(input) then return {input} end
  if is_shape(input) then return {nb.zeros(input, dtype)} end
  if type(input) == 'table' then
    local out = {}
    for i, v in ipairs(input) do
      out[i] = nb.is_tensor(v) and v or nb.zeros(v, dtype)
    end
    return out
  end
  U.raise('summary: expected an input shape such as {1,1,28,28}, a tensor, or a list of them')
end

local function out_shape(o)
  if nb.is_tensor(o) then return o.shape end
  if type(o) == 'table' then
    for _, v in ipairs(o) do if nb.is_tensor(v) then return v.shape end end
  end
  return {}
end

local function own_params(m)
  local n = 0
  for _, name in ipairs(m._parameters) do
    local p = rawget(m, name)
    if p then n = n + p:numel() end
  end
  return n
end

function M.summary(model, input, opts)
  opts = opts or {}
  local params = model:parameters()
  local dtype = opts.dtype or (params[1] and params[1].dtype) or 'f32'
  local inputs = make_inputs(model, input, dtype)
  local names = {}
  for _, e in ipairs(model:named_modules()) do names[e[2]] = e[1] end
  local rows, counted = {}, {}
  local modes = {}
  for _, m in ipairs(model:modules()) do modes[m] = m.training end
  model:eval()
  U.set_recorder(function(m, ins, out)
    local leaf = #m:_children_list() == 0
    if not leaf and #m._parameters == 0 then return end
    local np = 0
    if not counted[m] then counted[m] = true; np = own_params(m) end
    rows[#rows + 1] = {name = names[m] or '?', type = m.__name, module = m,
                       output_shape = out_shape(out), params = np,
                       macs = math.floor(m:macs(ins, out) or 0)}
  end)
  local ok, result = pcall(nb.no_grad, function() return model(table.unpack(inputs)) end)
  U.set_recorder(nil)
  for m, t in pairs(modes) do rawset(m, 'training', t) end
  if not ok then error(result, 0) end

  local total, trainable, macs = 0, 0, 0
  for _, p in ipairs(params) do
    total = total + p:numel()
    if p.requires_grad then trainable = trainable + p:numel() end
  end
  for _, r in ipairs(rows) do macs = macs + r.macs end
  local res = {rows = rows, total_params = total, trainable_params = trainable, total_macs = macs,
               input_shape = inputs[1].shape, output_shape = out_shape(result)}

  -- the table
  local head = {'Layer (type)', 'Output shape', 'Params', 'MACs'}
  local cells = {}
  for i, r in ipairs(rows) do
    local label = r.name == '' and r.type or string.format('%s (%s)', r.name, r.type)
    cells[i] = {label, U.fmt_shape(r.output_shape), commas(r.params), commas(r.macs)}
  end
  local w = {}
  for c = 1, 4 do
    w[c] = utf8.len(head[c])
    for _, row in ipairs(cells) do w[c] = math.max(w[c], utf8.len(row[c])) end
  end
  local function line(row)
    return row[1] .. string.rep(' ', w[1] - utf8.len(row[1])) .. '  ' ..
           row[2] .. string.rep(' ', w[2] - utf8.len(row[2])) .. '  ' ..
           string.rep(' ', w[3] - #row[3]) .. row[3] .. '  ' ..
           string.rep(' ', w[4] - #row[4]) .. row[4]
  end
  local width = w[1] + w[2] + w[3] + w[4] + 6
  local out = {line(head), string.rep('-', width)}
  for _, row in ipairs(cells) do out[#out + 1] = line(row) end
  out[#out + 1] = string.rep('=', width)
  out[#out + 1] = string.format('Total params: %s (trainable %s)', commas(total), commas(trainable))
  out[#out + 1] = string.format('Total MACs: %s for input %s', commas(macs),
                                U.fmt_shape(res.input_shape))
  res.text = table.concat(out, '\n')
  setmetatable(res, {__tostring = function(t) return t.text end})
  if opts.print ~= false then print(res.text) end
  return res
end

return M
