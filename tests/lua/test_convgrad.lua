-- convgrad: hand conv forward/backward against nb.conv1d/conv2d autograd, literal values and
-- finite differences.
local nb = require 'nabla'
local H = require 'harness'
local check = require 'check'
local cg = require 'convgrad'

local function f64(t) return nb.tensor(t, {dtype = 'f64'}) end

-- literal values computed by hand (the conv-backward lesson's prose) and confirmed with
-- PyTorch-free arithmetic: X 4×4, W 3×3, G 2×2
local X = f64{{1, 2, 0, 1}, {0, 1, 3, -1}, {2, -1, 0, 1}, {1, 0, 2, 2}}
local W = f64{{1, 0, -1}, {2, 1, 0}, {0, -1, 1}}
local G = f64{{1, -1}, {2, 1}}
H.close(cg.corr2d(X, W), {{3, 7}, {2, 0}}, 0, 'corr2d literal')
H.close(cg.weight_grad2d(X, G, 3), {{0, 7, 4}, {2, -4, 5}, {5, 1, 5}}, 0, 'weight_grad2d literal')
H.close(cg.input_grad2d(G, W, {4, 4}), {{1, -1, -1, 1}, {4, 0, -3, -1}, {4, 3, 3, -1},
                                        {0, -2, 1, 1}}, 0, 'input_grad2d literal')
local o = {stride = 2, padding = 1}
H.close(cg.corr2d(X, W, o), {{2, 0}, {0, 0}}, 0, 'strided corr2d literal')
H.close(cg.weight_grad2d(X, G, 3, o), {{1, 3, 1}, {-3, 5, 0}, {-1, 1, 4}}, 0,
        'strided weight_grad2d literal')
H.close(cg.input_grad2d(G, W, X, o), {{1, -2, -1, 0}, {-1, 0, 1, -2}, {2, 2, 1, 0},
                                      {-2, 2, -1, 1}}, 0, 'strided input_grad2d literal')
-- 1-D literals
local x1, w1, g1 = f64{1, 2, -1, 0, 3}, f64{1, 0, -1}, f64{1, -1, 2}
H.close(cg.corr1d(x1, w1), {2, 2, -4}, 0, 'corr1d literal')
H.close(cg.weight_grad1d(x1, g1, 3), {-3, 3, 5}, 0, 'weight_grad1d literal')
H.close(cg.input_grad1d(g1, w1, 5), {1, -1, 1, 1, -2}, 0, 'input_grad1d literal')

-- helpers
H.close(cg.flip(f64{{1, 2}, {3, 4}}), {{4, 3}, {2, 1}}, 0, 'flip is rot180')
H.close(cg.flip(f64{1, 2, 3}), {3, 2, 1}, 0, 'flip 1-D')
H.close(cg.dilate(f64{{1, 2}, {3, 4}}, 2), {{1, 0, 2}, {0, 0, 0}, {3, 0, 4}}, 0, 'dilate 2-D')
H.close(cg.dilate(f64{1, 2, 3}, 3), {1, 0, 0, 2, 0, 0, 3}, 0, 'dilate 1-D')
H.close(cg.dilate(f64{{1, 2}, {3, 4}}, {1, 2}), {{1, 0, 2}, {3, 0, 4}}, 0, 'dilate per dim')
H.close(cg.multiplicity2d({4, 4}, 3), {{1, 2, 2, 1}, {2, 4, 4, 2}, {2, 4, 4, 2}, {1, 2, 2, 1}}, 0,
        'multiplicity map')
local terms = cg.input_grad_terms({4, 4}, 3)
H.check(cg.terms_string(terms[2][2]) == 'G11·W22 + G12·W21 + G21·W12 + G22·W11',
        'terms_string: %s', cg.terms_string(terms[2][2]))
H.check(cg.terms_string({}) == '0', 'empty term list')

-- general: many sizes, strides and paddings against nb.conv2d autograd
nb.manual_seed(7)
local cases = {
  {4, 4, 3, 3, {}}, {5, 6, 3, 2, {stride = 2}}, {7, 7, 3, 3, {stride = 2, padding = 1}},
  {6, 5, 2, 3, {stride = 3, padding = 2}}, {5, 7, 3, 3, {stride = {2, 1}, padding = {0, 1}}},
  {3, 3, 3, 3, {padding = 1}},
}
for _, c in ipairs(cases) do
  local x, w = nb.randn(c[1], c[2], {dtype = 'f64'}), nb.randn(c[3], c[4], {dtype = 'f64'})
  local z0 = cg.autograd2d(x, w, nil, c[5])
  local gz = nb.randn(z0.shape, {dtype = 'f64'})
  local z, dw, dx = cg.autograd2d(x, w, gz, c[5])
  local tag = string.format('%dx%d k%dx%d', c[1], c[2], c[3], c[4])
  H.close(cg.corr2d(x, w, c[5]), z, 1e-12, 'corr2d ' .. tag)
  H.close(cg.weight_grad2d(x, gz, w, c[5]), dw, 1e-12, 'weight_grad2d ' .. tag)
  H.close(cg.input_grad2d(gz, w, x, c[5]), dx, 1e-12, 'input_grad2d ' .. tag)
  -- the multiplicity map equals the number of term entries
  local m = cg.multiplicity2d(x, {c[3], c[4]}, c[5])
  local t = cg.input_grad_terms(x, {c[3], c[4]}, c[5])
  local counts = {}
  for a = 1, c[1] do
    counts[a] = {}
    for b = 1, c[2] do counts[a][b] = #t[a][b] end
  end
  H.close(m, counts, 0, 'multiplicity = #terms ' .. tag)
end
local x12, w4 = nb.randn(12, {dtype = 'f64'}), nb.randn(4, {dtype = 'f64'})
for _, oo in ipairs{{}, {stride = 2, padding = 1}, {stride = 3}, {padding = 3}} do
  local z0 = cg.autograd1d(x12, w4, nil, oo)
  local gz = nb.randn(z0.shape, {dtype = 'f64'})
  local z, dw, dx = cg.autograd1d(x12, w4, gz, oo)
  H.close(cg.corr1d(x12, w4, oo), z, 1e-12, '1-D forward')
  H.close(cg.weight_grad1d(x12, gz, 4, oo), dw, 1e-12, '1-D weight grad')
  H.close(cg.input_grad1d(gz, w4, 12, oo), dx, 1e-12, '1-D input grad')
end

-- the hand backward against finite differences, and autograd through the hand forward
local xr, wr = nb.randn(5, 5, {dtype = 'f64'}), nb.randn(3, 3, {dtype = 'f64'})
for _, oo in ipairs{{}, {stride = 2}, {stride = 2, padding = 1}} do
  local ok, rep = check.grad(function(a, b) return cg.hand_conv2d(a, b, oo) end, {xr, wr})
  H.check(ok, 'hand_conv2d check.grad: %s', rep.text)
  ok, rep = check.grad(function(a, b) return cg.corr2d(a, b, oo) end, {xr, wr})
  H.check(ok, 'autograd through corr2d: %s', rep.text)
end
-- f32 works too
local z32 = cg.corr2d(X:to('f32'), W:to('f32'))
H.check(z32.dtype == 'f32', 'f32 stays f32')

-- errors
H.checkerror('must be a 2-D tensor', cg.corr2d, x12, W)
H.checkerror("unknown option 'dilation'", cg.corr2d, X, W, {dilation = 2})
H.checkerror('stride must be at least 1', cg.corr2d, X, W, {stride = 0})
H.checkerror('larger than the padded input', cg.corr2d, f64{{1, 2}, {3, 4}}, W)
H.checkerror('gz must have the output shape [2,2]', cg.input_grad2d, nb.ones(3, 3), W, {4, 4})
H.checkerror('gz must have the output shape [2,2]', cg.weight_grad2d, X, nb.ones(1, 2), 3)
H.checkerror('must be a 1-D tensor', cg.corr1d, X, w1)
H.checkerror('must be a number or {h, w}', cg.corr2d, X, W, {stride = 'x'})
H.checkerror('non-negative integer', cg.corr2d, X, W, {padding = 1.5})

H.report()
