-- nn.Module: registration order and names, traversal, train/eval, zero_grad, apply,
-- state_dict round trips and their error messages, summary counts for known networks,
-- printing, shape errors that name the module, hooks, dtype conversion, functional_call.
local nb = require 'nabla'
local nn = require 'nn'
local H = require 'harness'

nb.manual_seed(7)

local function names(list)
  local out = {}
  for i, e in ipairs(list) do out[i] = e[1] end
  return table.concat(out, ' ')
end

-- ---- a custom module: fields assigned in __init are registered in order --------------------
local Net = nn.Module:extend('Net')
function Net:__init(hidden)
  self.fc1 = nn.Linear(4, hidden)
  self.act = nn.ReLU()
  self.fc2 = nn.Linear(hidden, 2)
  self.scale = nn.Parameter(nb.ones(2))
  self.not_a_param = nb.zeros(3)          -- no requires_grad: a plain field
end
function Net:forward(x) return self.fc2(self.act(self.fc1(x))) * self.scale end

local net = Net(5)
H.check(names(net:named_parameters()) == 'scale fc1.weight fc1.bias fc2.weight fc2.bias',
        'named_parameters order: %s', names(net:named_parameters()))
H.check(#net:parameters() == 5, 'five parameters')
H.check(net:num_parameters() == 2 + 4 * 5 + 5 + 5 * 2 + 2, 'num_parameters')
H.check(names(net:named_children()) == 'fc1 act fc2', 'children order')
H.check(#net:modules() == 4, 'modules: self + 3')
H.check(names(net:named_modules()) == ' fc1 act fc2', 'named_modules: %s',
        names(net:named_modules()))
local np = net:named_parameters()
H.check(np['fc1.bias'] == net.fc1.bias, 'named list lookup by name')
local seen = 0
for name, p in net:named_parameters() do
  seen = seen + 1
  H.check(type(name) == 'string' and nb.is_tensor(p), 'iteration yields name, tensor')
end
H.check(seen == 5, 'iterated all five')
local y = net(nb.randn(3, 4))
H.check(y.shape[1] == 3 and y.shape[2] == 2, 'callable forward')

-- Sequential numbers its children 1, 2, ...
local seq = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
H.check(names(seq:named_parameters()) == '1.weight 1.bias 3.weight 3.bias', 'Sequential names')
H.check(seq[3].out_features == 1 and #seq == 3, 'seq[i] and #seq')
local nested = nn.Sequential(nn.Sequential(nn.Linear(2, 2)), nn.Linear(2, 1))
H.check(names(nested:named_parameters()) == '1.1.weight 1.1.bias 2.weight 2.bias',
        'nested names')

-- tied weights are listed once
local Tied = nn.Module:extend('Tied')
function Tied:__init()
  self.a = nn.Linear(3, 3)
  self.b = nn.Linear(3, 3)
  self.b.weight = self.a.weight
end
function Tied:forward(x) return self.b(self.a(x)) end
H.check(#Tied():parameters() == 3, 'shared weight counted once')

-- ---- train / eval / zero_grad / apply ----------------------------------------------------------
local m = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5), nn.Sequential(nn.BatchNorm1d(2)))
H.check(m.training and m[2].training and m[3][1].training, 'modules start in training mode')
m:eval()
H.check(not m.training and not m[2].training and not m[3][1].training, 'eval is recursive')
m:train()
H.check(m[3][1].training, 'train is recursive')
m:train(false)
H.check(not m[2].training, 'train(false)')
m:train()
local loss = m(nb.randn(4, 2)):sum()
loss:backward()
H.check(m[1].weight.grad ~= nil, 'grad after backward')
m:zero_grad()
H.check(m[1].weight.grad == nil and m[1].bias.grad == nil, 'zero_grad sets .grad = nil')
local order = {}
m:apply(function(mod) order[#order + 1] = mod.__name end)
H.check(table.concat(order, ' ') == 'Linear Dropout BatchNorm1d Sequential Sequential',
        'apply: children first: %s', table.concat(order, ' '))

-- ---- state_dict ------------------------------------------------------------------------------
local function make()
  return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(),
                       nn.Linear(8, 3))
end
local a, b = make(), make()
a(nb.randn(2, 1, 4, 4))         -- updates a's running stats
local sd = a:state_dict()
local keys = {}
for k in pairs(sd) do keys[#keys + 1] = k end
table.sort(keys)
H.check(table.concat(keys, ' ') == '1.bias 1.weight 2.bias 2.num_batches_tracked 2.running_mean ' ..
        '2.running_var 2.weight 5.bias 5.weight', 'state_dict keys: %s', table.concat(keys, ' '))
H.check(sd['2.num_batches_tracked']:item() == 1, 'num_batches_tracked saved')
b:load_state_dict(sd)
a:eval(); b:eval()
local x = nb.randn(2, 1, 4, 4)
H.close(b(x), a(x), 1e-6, 'round trip gives the same outputs')
H.close(b[2].running_var, a[2].running_var, 0, 'buffers copied')
H.check(b[1].weight ~= a[1].weight, 'load copies into the existing tensors')
local snap = a:state_dict({clone = true})
nb.no_grad(function() a[5].bias:fill_(42) end)
H.check(snap['5.bias']:get(1) ~= 42 and sd['5.bias']:get(1) == 42,
        'clone=true snapshots, the default shares storage (as PyTorch)')

-- through an .npz file (nb.save_state / nb.load_state), as a checkpoint
if nb.save_state and nb.load_state then
  local base = os.tmpname()
  local path = base .. '.npz'
  nb.save_state(path, a:state_dict())
  local c = make()
  c:load_state_dict(nb.load_state(path))
  os.remove(path)
  os.remove(base)
  c:eval()
  H.check(nb.equal(c(x), a(x)), 'state_dict through save_state/load_state')
end

-- errors name the keys and shapes
local bad = a:state_dict({clone = true})
bad['5.weight'] = nil
bad['extra.weight'] = nb.zeros(2, 2)
bad['1.weight'] = nb.zeros(2, 1, 5, 5)
local msg = H.checkerror('size mismatch for 1.weight: checkpoint [2,1,5,5], model [2,1,3,3]',
                         function() b:load_state_dict(bad) end)
H.check(msg:find('missing keys: 5.weight [3,8]', 1, true) ~= nil, 'missing key named: %s', msg)
H.check(msg:find('unexpected keys: extra.weight [2,2]', 1, true) ~= nil, 'unexpected key named')
H.check(msg:find('test_nn_module.lua', 1, true) ~= nil, 'error points at the caller: %s', msg)
bad['1.weight'] = nil
local r = b:load_state_dict(bad, {strict = false})
H.check(#r.missing_keys == 2 and #r.unexpected_keys == 1, 'strict=false reports instead')
H.checkerror('load_state_dict', function() b:load_state_dict(42) end)

-- ---- summary -----------------------------------------------------------------------------------
H.check(nn.Conv2d(3, 64, 3):num_parameters() == 1792, 'Conv2d(3→64, k=3) has 1,792 parameters')
local cnn = nn.Sequential(nn.Conv2d(1, 32, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
                          nn.Linear(128, 10))
local s = cnn:summary({1, 1, 28, 28}, {print = false})
-- by hand: conv1 1*32*9 + 32 = 320; conv2 32*64*9 + 64 = 18496; fc1 3136*128 + 128 = 401536;
-- fc2 128*10 + 10 = 1290.  MACs: 32*28*28*1*9, 64*14*14*32*9, 3136*128, 128*10.
H.check(s.total_params == 320 + 18496 + 401536 + 1290, 'summary total params %d', s.total_params)
H.check(s.rows[1].params == 320 and s.rows[4].params == 18496, 'per-layer params')
H.check(s.rows[1].macs == 225792 and s.rows[4].macs == 3612672 and s.rows[8].macs == 401408 and
        s.rows[10].macs == 1280, 'per-layer MACs')
H.check(s.total_macs == 225792 + 3612672 + 401408 + 1280, 'total MACs')
H.check(table.concat(s.rows[6].output_shape, ',') == '1,64,7,7', 'output shape per layer')
H.check(s.rows[1].name == '1' and s.rows[1].type == 'Conv2d', 'row name and type')
H.check(tostring(s):find('Total params: 421,642', 1, true) ~= nil, 'printed totals')
local s2 = cnn:summary({2, 1, 28, 28}, {print = false})
H.check(s2.total_macs == 2 * s.total_macs, 'MACs scale with the batch')
H.check(cnn.training, 'summary restores training mode')
local strided = nn.Conv2d(3, 8, {3, 5}, {stride = 2, groups = 1, padding = {1, 2}})
local ss = strided:summary({1, 3, 9, 9}, {print = false})
-- Hout = floor((9 + 2 - 3)/2) + 1 = 5, Wout = floor((9 + 4 - 5)/2) + 1 = 5
H.check(ss.total_macs == 8 * 5 * 5 * 3 * 3 * 5, 'strided rectangular conv MACs')
local grouped = nn.Conv2d(4, 8, 3, {groups = 2, bias = false})
H.check(grouped:num_parameters() == 8 * 2 * 9, 'grouped conv parameters')
H.check(grouped:summary({1, 4, 5, 5}, {print = false}).total_macs == 8 * 3 * 3 * 2 * 9,
        'grouped conv MACs (Cin/groups)')
local lin = nn.Linear(784, 256):summary({64, 784}, {print = false})
H.check(lin.total_macs == 64 * 784 * 256, 'Linear MACs = in*out per sample')

-- ---- printing and shape errors ----------------------------------------------------------------
H.check(tostring(seq) == 'Sequential(\n  (1): Linear(3→4)\n  (2): Tanh()\n  (3): Linear(4→1)\n)',
        'tree: %s', tostring(seq))
H.check(tostring(nn.Linear(2, 3, {bias = false})) == 'Linear(2→3, bias=false)', 'Linear repr')
H.check(tostring(nn.Conv2d(1, 32, 3, {stride = 2, padding = 1})) ==
        'Conv2d(1→32, k=3, stride=2, padding=1)', 'Conv2d repr')
H.checkerror('Conv2d(1→32, k=3): expected input [N,1,H,W], got [64,784]',
             function() nn.Conv2d(1, 32, 3, {padding = 1})(nb.zeros(64, 784)) end)
H.checkerror('Linear(784→256): expected input [..., 784], got [64,28,28]',
             function() nn.Linear(784, 256)(nb.zeros(64, 28, 28)) end)
H.checkerror('BatchNorm2d(3): expected input [N,3,H,W], got [2,4,5,5]',
             function() nn.BatchNorm2d(3)(nb.zeros(2, 4, 5, 5)) end)
local e = H.checkerror('Linear(4→5)', function() net(nb.zeros(2, 3)) end)
H.check(e:find('test_nn_module.lua:25:', 1, true) ~= nil, 'error at the user forward line: %s', e)
H.checkerror("Linear(2→3): the input is f64 but the weights are f32 (convert the input with " ..
             "x:to('f32'), or the model with m:to('f64'))",
             function() nn.Linear(2, 3)(nb.zeros({1, 2}, 'f64')) end)
H.checkerror("unknown option 'strides'", function() nn.Conv2d(1, 2, 3, {strides = 2}) end)
H.checkerror('defines no forward(x) method', function() nn.Module:extend('Empty')()(1) end)

-- ---- hooks, dtype, functional_call, freezing ---------------------------------------------------
local l = nn.Linear(2, 2)
local seen_out
local h = l:register_forward_hook(function(_, ins, out) seen_out = out; return out * 2 end)
local o2 = l(nb.ones(1, 2))
H.close(o2, seen_out * 2, 1e-7, 'hook sees and replaces the output')
h.remove()
H.close(l(nb.ones(1, 2)), seen_out, 1e-7, 'removed hook')

local d = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3)):double()
H.check(d[1].weight.dtype == 'f64' and d[2].running_mean.dtype == 'f64' and
        d[2].num_batches_tracked.dtype == 'i64' and d[1].weight.requires_grad, 'to f64')
H.check(d(nb.randn({4, 2}, {dtype = 'f64'})).dtype == 'f64', 'f64 forward')

local f = nn.Linear(2, 1)
local w2 = nb.ones(1, 2)
local out = nn.functional_call(f, {weight = w2, bias = nb.zeros(1)}, nb.tensor({{1, 2}}))
H.close(out, {{3}}, 1e-7, 'functional_call uses the given tensors')
H.check(f.weight ~= w2, 'functional_call restores the parameters')

local frozen = nn.Linear(2, 2):requires_grad_(false)
H.check(not frozen.weight.requires_grad and frozen:num_parameters({trainable = true}) == 0,
        'requires_grad_(false) freezes')
local p = nn.Parameter(nb.zeros(2) * 3)
H.check(p.requires_grad and p.grad_fn == nil, 'Parameter makes a leaf')

-- nn.train_epoch: one pass fits a toy regression, records every batch loss, and returns their mean
do
  local data, optim = require 'data', require 'optim'
  nb.manual_seed(5)
  local X = nb.randn(64, 3)
  local y = (X * nb.tensor({1, -2, 0.5})):sum(2):view(64, 1)
  local model = nn.Linear(3, 1)
  local opt = optim.SGD(model:parameters(), {lr = 0.1})
  local loader = data.DataLoader(X, y, {batch_size = 16})
  local losses = {}
  local first = nn.train_epoch(model, loader, nn.MSELoss(), opt, {losses = losses, quiet = true})
  for _ = 1, 20 do nn.train_epoch(model, loader, nn.MSELoss(), opt, {quiet = true}) end
  local last = nn.train_epoch(model, loader, nn.MSELoss(), opt, {quiet = true})
  H.check(#losses == 4, 'one loss per batch (%d)', #losses)
  H.close(first, (losses[1] + losses[2] + losses[3] + losses[4]) / 4, 1e-12,
          'mean of the batch losses')
  H.check(last < 0.01 * first, 'the loss falls: %g -> %g', first, last)
end

H.report()
