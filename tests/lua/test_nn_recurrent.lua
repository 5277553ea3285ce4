-- Recurrent layers (RNNCell/RNN, LSTMCell/LSTM, GRUCell/GRU) and MultiheadAttention against
-- naive references written here with plain Lua numbers, PyTorch's parameter names and
-- shapes, batch_first / unbatched / multi-layer handling, init bounds, and check.grad
-- through each layer in float64 with its parameters as inputs.
local nb = require 'nabla'
local nn = require 'nn'
local check = require 'check'
local H = require 'harness'

nb.manual_seed(17)

local function randn(...) return nb.randn({...}, {dtype = 'f64'}) end

local function gradcheck(name, m, inputs, outputs)
  m:double()
  local pnames, all = {}, {}
  for i, x in ipairs(inputs) do all[i] = x end
  for pname, p in m:named_parameters() do
    pnames[#pnames + 1] = pname
    all[#all + 1] = p
  end
  local ok, rep = check.grad(function(...)
    local args = {...}
    local d = {}
    for i, n in ipairs(pnames) do d[n] = args[#inputs + i] end
    local out = table.pack(nn.functional_call(m, d, table.unpack(args, 1, #inputs)))
    return outputs and outputs(out) or out[1]
  end, all)
  H.check(ok, '%s gradcheck: %s', name, rep.text)
end

-- ---- plain-number linear algebra ----------------------------------------------------------------
local function matvec(W, x, b)          -- W [m][n], x [n] -> W x + b
  local out = {}
  for i = 1, #W do
    local s = b and b[i] or 0
    for j = 1, #x do s = s + W[i][j] * x[j] end
    out[i] = s
  end
  return out
end
local function add(a, b) local o = {} for i = 1, #a do o[i] = a[i] + b[i] end return o end
local function sig(v) return 1 / (1 + math.exp(-v)) end
local function th(v) return (math.exp(2 * v) - 1) / (math.exp(2 * v) + 1) end
local function slice(v, from, n)
  local o = {}
  for i = 1, n do o[i] = v[from + i - 1] end
  return o
end

local function rnn_ref(p, x, h)            -- one step, tanh
  local g = add(matvec(p.wih, x, p.bih), matvec(p.whh, h, p.bhh))
  for i = 1, #g do g[i] = th(g[i]) end
  return g
end
local function lstm_ref(p, x, h, c, H_)
  local g = add(matvec(p.wih, x, p.bih), matvec(p.whh, h, p.bhh))
  local h2, c2 = {}, {}
  for k = 1, H_ do
    local i, f = sig(g[k]), sig(g[H_ + k])
    local gg, o = th(g[2 * H_ + k]), sig(g[3 * H_ + k])
    c2[k] = f * c[k] + i * gg
    h2[k] = o * th(c2[k])
  end
  return h2, c2
end
local function gru_ref(p, x, h, H_)
  local gi, gh = matvec(p.wih, x, p.bih), matvec(p.whh, h, p.bhh)
  local out = {}
  for k = 1, H_ do
    local r = sig(gi[k] + gh[k])
    local z = sig(gi[H_ + k] + gh[H_ + k])
    local n = th(gi[2 * H_ + k] + r * gh[2 * H_ + k])
    out[k] = (1 - z) * n + z * h[k]
  end
  return out
end

local function params(m, suffix)
  suffix = suffix or ''
  return {wih = m['weight_ih' .. suffix]:totable(), whh = m['weight_hh' .. suffix]:totable(),
          bih = m['bias_ih' .. suffix]:totable(), bhh = m['bias_hh' .. suffix]:totable()}
end

local function zeros(n) local o = {} for i = 1, n do o[i] = 0 end return o end

-- ---- cells ------------------------------------------------------------------------------------
do
  local cell = nn.RNNCell(3, 4, {dtype = 'f64'})
  H.check(table.concat(cell.weight_ih.shape, ',') == '4,3' and
          table.concat(cell.weight_hh.shape, ',') == '4,4', 'RNNCell shapes')
  local x, h = randn(2, 3), randn(2, 4)
  local X, Hh, p = x:totable(), h:totable(), params(cell)
  H.close(cell(x, h), {rnn_ref(p, X[1], Hh[1]), rnn_ref(p, X[2], Hh[2])}, 1e-13, 'RNNCell')
  H.close(cell(x), {rnn_ref(p, X[1], zeros(4)), rnn_ref(p, X[2], zeros(4))}, 1e-13,
          'RNNCell zero initial state')
  H.close(cell(x[1], h[1]), rnn_ref(p, X[1], Hh[1]), 1e-13, 'RNNCell unbatched')
  local relu = nn.RNNCell(3, 4, {nonlinearity = 'relu', dtype = 'f64'})
  local pr = params(relu)
  local g = add(matvec(pr.wih, X[1], pr.bih), matvec(pr.whh, Hh[1], pr.bhh))
  for i = 1, 4 do g[i] = math.max(g[i], 0) end
  H.close(relu(x, h)[1], g, 1e-13, 'RNNCell relu')

  local lc = nn.LSTMCell(3, 2, {dtype = 'f64'})
  H.check(table.concat(lc.weight_ih.shape, ',') == '8,3', 'LSTMCell weight_ih [4H, I]')
  local c = randn(2, 2)
  local hh = randn(2, 2)
  local h2, c2 = lc(x, {hh, c})
  local rh, rc = lstm_ref(params(lc), X[2], hh:totable()[2], c:totable()[2], 2)
  H.close(h2[2], rh, 1e-13, 'LSTMCell h')
  H.close(c2[2], rc, 1e-13, 'LSTMCell c')

  local gc = nn.GRUCell(3, 2, {dtype = 'f64'})
  H.close(gc(x, hh)[1], gru_ref(params(gc), X[1], hh:totable()[1], 2), 1e-13, 'GRUCell')
  H.checkerror('RNNCell(3, 4): expected input [N,3], got [2,5]', function() cell(randn(2, 5)) end)
  gradcheck('RNNCell', nn.RNNCell(2, 3), {randn(2, 2), randn(2, 3)})
  gradcheck('LSTMCell', nn.LSTMCell(2, 2), {randn(2, 2)},
            function(out) return {out[1], out[2]} end)
  gradcheck('GRUCell', nn.GRUCell(2, 2), {randn(2, 2), randn(2, 2)})
  -- init U(±1/√H)
  local big = nn.LSTM(10, 64)
  local bound = 1 / math.sqrt(64)
  local mx = 0
  for _, q in ipairs(big:parameters()) do mx = math.max(mx, q:abs():max():item()) end
  H.check(mx <= bound and mx > 0.95 * bound, 'recurrent init U(±1/√H)')
end

-- ---- sequence layers ----------------------------------------------------------------------------
do
  local T, N, I, Hd = 4, 2, 3, 2
  local x = randn(T, N, I)
  local X = x:totable()
  -- RNN, 2 layers: layer 2 reads layer 1's outputs
  local rnn = nn.RNN(I, Hd, {num_layers = 2, dtype = 'f64'})
  H.check(rnn.weight_ih_l1 ~= nil and table.concat(rnn.weight_ih_l1.shape, ',') == '2,2',
          'RNN layer-2 parameters named weight_ih_l1 (PyTorch names)')
  local out, hn = rnn(x)
  local p0, p1 = params(rnn, '_l0'), params(rnn, '_l1')
  local ref_out, ref_h = {}, {{}, {}}
  for n = 1, N do
    local h0, h1 = zeros(Hd), zeros(Hd)
    for t = 1, T do
      h0 = rnn_ref(p0, X[t][n], h0)
      h1 = rnn_ref(p1, h0, h1)
      ref_out[t] = ref_out[t] or {}
      ref_out[t][n] = h1
    end
    ref_h[1][n], ref_h[2][n] = h0, h1
  end
  H.close(out, ref_out, 1e-13, 'RNN 2 layers output [T,N,H]')
  H.close(hn, ref_h, 1e-13, 'RNN h_n [layers,N,H]')

  local lstm = nn.LSTM(I, Hd, {dtype = 'f64'})
  local h0, c0 = randn(1, N, Hd), randn(1, N, Hd)
  local lo, hc = lstm(x, {h0, c0})
  local pl = params(lstm, '_l0')
  local lref, hlast, clast = {}, {}, {}
  for n = 1, N do
    local h, c = h0:totable()[1][n], c0:totable()[1][n]
    for t = 1, T do
      h, c = lstm_ref(pl, X[t][n], h, c, Hd)
      lref[t] = lref[t] or {}
      lref[t][n] = h
    end
    hlast[n], clast[n] = h, c
  end
  H.close(lo, lref, 1e-13, 'LSTM output')
  H.close(hc[1], {hlast}, 1e-13, 'LSTM h_n')
  H.close(hc[2], {clast}, 1e-13, 'LSTM c_n')

  local gru = nn.GRU(I, Hd, {batch_first = true, dtype = 'f64'})
  local xb = x:transpose(1, 2):contiguous()          -- [N, T, I]
  local go = gru(xb)
  local pg = params(gru, '_l0')
  local gref = {}
  for n = 1, N do
    local h = zeros(Hd)
    gref[n] = {}
    for t = 1, T do
      h = gru_ref(pg, X[t][n], h, Hd)
      gref[n][t] = h
    end
  end
  H.close(go, gref, 1e-13, 'GRU batch_first output [N,T,H]')
  local uo, uh = gru(xb[1])
  H.close(uo, gref[1], 1e-13, 'GRU unbatched [T,I]')
  H.check(table.concat(uh.shape, ',') == '1,2', 'unbatched h_n [layers,H]')
  H.checkerror('GRU(3, 2, batch_first=true): expected input [N,T,3], got [2,4,5]',
               function() gru(randn(2, 4, 5)) end)
  gradcheck('RNN', nn.RNN(2, 2, {num_layers = 2}), {randn(3, 1, 2)},
            function(o) return {o[1], o[2]} end)
  gradcheck('LSTM', nn.LSTM(2, 2), {randn(3, 1, 2)},
            function(o) return {o[1], o[2][1], o[2][2]} end)
  gradcheck('GRU', nn.GRU(2, 2, {batch_first = true}), {randn(1, 3, 2)})
  local s = nn.LSTM(3, 2):summary({4, 1, 3}, {print = false})
  H.check(s.total_macs == 4 * 4 * 2 * (3 + 2), 'LSTM MACs: T*N*4H*(I+H)')
end

-- ---- MultiheadAttention -------------------------------------------------------------------------
do
  local E, heads, L, S, N = 4, 2, 3, 2, 2
  local mha = nn.MultiheadAttention(E, heads, {batch_first = true, dtype = 'f64'})
  H.check(table.concat(mha.in_proj_weight.shape, ',') == '12,4' and
          mha.out_proj.weight.shape[1] == 4, 'MHA parameters as PyTorch')
  H.close(mha.in_proj_bias, nb.zeros(12), 0, 'in_proj_bias starts at 0')
  local q, kv = randn(N, L, E), randn(N, S, E)
  local out, w = mha(q, kv, kv)
  -- naive: per sample and head, softmax(q_h k_h^T / √d) v_h, concat, out_proj
  local Wi, bi = mha.in_proj_weight:totable(), mha.in_proj_bias:totable()
  local Wo, bo = mha.out_proj.weight:totable(), mha.out_proj.bias:totable()
  local Q, KV = q:totable(), kv:totable()
  local d = E // heads
  local ref_out, ref_w = {}, {}
  for n = 1, N do
    local qs, ks, vs = {}, {}, {}
    local Wq, Wk, Wv = {}, {}, {}
    for r = 1, E do Wq[r], Wk[r], Wv[r] = Wi[r], Wi[E + r], Wi[2 * E + r] end
    for i = 1, L do qs[i] = matvec(Wq, Q[n][i], slice(bi, 1, E)) end
    for j = 1, S do
      ks[j] = matvec(Wk, KV[n][j], slice(bi, E + 1, E))
      vs[j] = matvec(Wv, KV[n][j], slice(bi, 2 * E + 1, E))
    end
    ref_out[n], ref_w[n] = {}, {}
    for i = 1, L do
      local concat = {}
      ref_w[n][i] = zeros(S)
      for hh = 0, heads - 1 do
        local sc, mx = {}, -math.huge
        for j = 1, S do
          local s = 0
          for e = 1, d do s = s + qs[i][hh * d + e] * ks[j][hh * d + e] end
          sc[j] = s / math.sqrt(d)
          mx = math.max(mx, sc[j])
        end
        local z = 0
        for j = 1, S do sc[j] = math.exp(sc[j] - mx); z = z + sc[j] end
        for j = 1, S do
          sc[j] = sc[j] / z
          ref_w[n][i][j] = ref_w[n][i][j] + sc[j] / heads
        end
        for e = 1, d do
          local s = 0
          for j = 1, S do s = s + sc[j] * vs[j][hh * d + e] end
          concat[hh * d + e] = s
        end
      end
      ref_out[n][i] = matvec(Wo, concat, bo)
    end
  end
  H.close(out, ref_out, 1e-13, 'MultiheadAttention output')
  H.close(w, ref_w, 1e-13, 'attention weights averaged over heads')
  local _, none = mha(q, kv, kv, {need_weights = false})
  H.check(none == nil, 'need_weights=false')
  local _, per_head = mha(q, kv, kv, {average_attn_weights = false})
  H.check(table.concat(per_head.shape, ',') == '2,2,3,2', 'per-head weights [N,h,L,S]')
  -- seq-first layout gives the same numbers
  local sf = nn.MultiheadAttention(E, heads, {dtype = 'f64'})
  sf:load_state_dict(mha:state_dict())
  H.close(sf(q:transpose(1, 2), kv:transpose(1, 2), kv:transpose(1, 2)):transpose(1, 2), out,
          1e-13, 'batch_first=false layout [L,N,E]')
  -- key padding: masking key 2 of sample 1 puts all its weight on key 1
  local kpm = nb.tensor({{0, 1}, {0, 0}}, {dtype = 'i64'})
  local _, wm = mha(q, kv, kv, {key_padding_mask = kpm})
  H.close(wm[1]:select(2, 2), {0, 0, 0}, 0, 'key_padding_mask (i64, 1 = ignore)')
  H.close(wm[2], ref_w[2], 1e-13, 'other samples unchanged')
  -- float attn_mask is added to the scores
  local am = nb.tensor({{0, -math.huge}, {0, 0}, {-math.huge, 0}}, {dtype = 'f64'})
  local _, wa = mha(q, kv, kv, {attn_mask = am})
  H.close(wa:select(2, 1):select(2, 2), {0, 0}, 0, 'float attn_mask -inf blocks')
  -- self-attention default: key = value = query
  H.close(mha(q), mha(q, q, q), 0, 'self-attention when key/value are omitted')
  H.checkerror('embed_dim (5) must be divisible by num_heads (2)',
               function() nn.MultiheadAttention(5, 2) end)
  gradcheck('MultiheadAttention', nn.MultiheadAttention(4, 2, {batch_first = true}),
            {randn(1, 2, 4), randn(1, 2, 4)},
            function(o) return {o[1], o[2]} end)
end

H.report()
