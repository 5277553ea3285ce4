-- One-line docs of nn's classes, methods and functions for the REPL's :help (nb._docs).
-- Keys are paths inside the nn table ('Linear', 'F.cross_entropy', 'Module.summary').
return {
  ['Module'] = 'nn.Module — base class: nn.Module:extend(\'Name\'), then define __init and ' ..
               'forward; fields holding modules or leaf tensors that require grad are registered',
  ['Module.parameters'] = 'm:parameters() — list of parameter tensors in registration order',
  ['Module.named_parameters'] = 'm:named_parameters() — {name, p} pairs (\'fc1.weight\'); ' ..
                                'for name, p in m:named_parameters() do ... end',
  ['Module.children'] = 'm:children() — the direct submodules',
  ['Module.modules'] = 'm:modules() — m and every submodule (pre-order)',
  ['Module.train'] = 'm:train(mode=true) — training mode, recursively (Dropout, BatchNorm)',
  ['Module.eval'] = 'm:eval() — evaluation mode, recursively',
  ['Module.zero_grad'] = 'm:zero_grad() — set every parameter\'s .grad to nil',
  ['Module.apply'] = 'm:apply(fn) — fn(module) on every submodule, children first',
  ['Module.state_dict'] = 'm:state_dict({clone=false}) — name -> tensor of parameters and buffers',
  ['Module.load_state_dict'] = 'm:load_state_dict(sd, {strict=true}) — copy in place; bad keys ' ..
                               'are reported by name and shape',
  ['Module.summary'] = 'm:summary(input_shape) — per layer output shape, parameters and MACs, ' ..
                       'with totals (returned as a table)',
  ['Module.to'] = 'm:to(dtype) — convert parameters and buffers (\'f32\' or \'f64\')',
  ['Module.num_parameters'] = 'm:num_parameters({trainable=}) — number of parameter elements',
  ['Module.register_forward_hook'] = 'm:register_forward_hook(fn) — fn(m, inputs, output) after ' ..
                                     'each call; returns a handle with remove()',
  ['Parameter'] = 'nn.Parameter(t) — t as a leaf that requires grad (registers when assigned)',
  ['functional_call'] = 'nn.functional_call(m, {name = t}, ...) — m(...) with some parameters ' ..
                        'replaced',
  ['Linear'] = 'nn.Linear(in, out, {bias=true}) — y = x W^T + b; init U(±1/√in)',
  ['Bilinear'] = 'nn.Bilinear(in1, in2, out, {bias=true}) — y_k = x1^T W_k x2 + b_k',
  ['Conv1d'] = 'nn.Conv1d(in, out, k, {stride=, padding=, dilation=, groups=, bias=}) — [N,C,L]',
  ['Conv2d'] = 'nn.Conv2d(in, out, k, {stride=1, padding=0|\'same\', dilation=1, groups=1, ' ..
               'bias=true, padding_mode=}) — [N,C,H,W]; init U(±1/√fan_in)',
  ['ConvTranspose2d'] = 'nn.ConvTranspose2d(in, out, k, {stride=, padding=, output_padding=, ' ..
                        'dilation=, groups=, bias=}) — transposed convolution',
  ['MaxPool2d'] = 'nn.MaxPool2d(k, {stride=k, padding=0, dilation=1, ceil_mode=, ' ..
                  'return_indices=})',
  ['AvgPool2d'] = 'nn.AvgPool2d(k, {stride=k, padding=0, ceil_mode=, count_include_pad=true})',
  ['AdaptiveAvgPool2d'] = 'nn.AdaptiveAvgPool2d(size) — average pooling to a fixed output size',
  ['Upsample'] = 'nn.Upsample{size= | scale_factor=, mode=\'nearest\'|\'bilinear\', ' ..
                 'align_corners=}',
  ['Flatten'] = 'nn.Flatten(start=2, end=-1) — merge dims ([N,C,H,W] -> [N,C*H*W])',
  ['Unflatten'] = 'nn.Unflatten(dim, sizes) — split a dim',
  ['Embedding'] = 'nn.Embedding(num, dim, {padding_idx=}) — rows for 1-based i64 indices; N(0,1)',
  ['Dropout'] = 'nn.Dropout(p=0.5) — inverted Bernoulli dropout (identity in eval)',
  ['Dropout2d'] = 'nn.Dropout2d(p=0.5) — drops whole channels',
  ['GaussianDropout'] = 'nn.GaussianDropout(alpha) — multiply by N(1, alpha) noise; {p=} sets ' ..
                        'alpha = p/(1-p)',
  ['BatchNorm1d'] = 'nn.BatchNorm1d(C, {eps=1e-5, momentum=0.1, affine=true, ' ..
                    'track_running_stats=true}) — [N,C] or [N,C,L]',
  ['BatchNorm2d'] = 'nn.BatchNorm2d(C, {...}) — per channel over N, H, W; running stats in eval',
  ['LayerNorm'] = 'nn.LayerNorm(shape, {eps=1e-5, elementwise_affine=true}) — over the last dims',
  ['GroupNorm'] = 'nn.GroupNorm(G, C, {eps=1e-5, affine=true})',
  ['ReLU'] = 'nn.ReLU()', ['Sigmoid'] = 'nn.Sigmoid()', ['Tanh'] = 'nn.Tanh()',
  ['SiLU'] = 'nn.SiLU() — x σ(x)',
  ['LeakyReLU'] = 'nn.LeakyReLU(negative_slope=0.01)',
  ['GELU'] = 'nn.GELU({approximate=\'none\'|\'tanh\'})',
  ['Softplus'] = 'nn.Softplus({beta=1}) — log(1 + e^(beta x))/beta',
  ['ELU'] = 'nn.ELU(alpha=1)',
  ['Softmax'] = 'nn.Softmax(dim=-1)', ['LogSoftmax'] = 'nn.LogSoftmax(dim=-1)',
  ['RNNCell'] = 'nn.RNNCell(I, H, {bias=, nonlinearity=\'tanh\'}) — h = cell(x, h)',
  ['LSTMCell'] = 'nn.LSTMCell(I, H) — h, c = cell(x, {h, c})',
  ['GRUCell'] = 'nn.GRUCell(I, H) — h = cell(x, h)',
  ['RNN'] = 'nn.RNN(I, H, {num_layers=1, batch_first=false, nonlinearity=, dropout=}) — ' ..
            'out, h_n = rnn(x, h0)',
  ['LSTM'] = 'nn.LSTM(I, H, {...}) — out, {h_n, c_n} = lstm(x, {h0, c0})',
  ['GRU'] = 'nn.GRU(I, H, {...}) — out, h_n = gru(x, h0)',
  ['MultiheadAttention'] = 'nn.MultiheadAttention(E, heads, {batch_first=, dropout=}) — out, ' ..
                           'weights = mha(q, k, v, {need_weights=, key_padding_mask=, attn_mask=})',
  ['Sequential'] = 'nn.Sequential(m1, m2, ...) — feeds each output to the next; seq[i]',
  ['ModuleList'] = 'nn.ModuleList{...} — registers a list of modules',
  ['Residual'] = 'nn.Residual(f) — y = f(x) + x',
  ['Identity'] = 'nn.Identity()',
  ['MSELoss'] = 'nn.MSELoss({reduction=\'mean\'}) — (x - y)²',
  ['L1Loss'] = 'nn.L1Loss() — |x - y|',
  ['SmoothL1Loss'] = 'nn.SmoothL1Loss({beta=1})',
  ['HuberLoss'] = 'nn.HuberLoss({delta=1})',
  ['CrossEntropyLoss'] = 'nn.CrossEntropyLoss({weight=, ignore_index=-100, label_smoothing=0}) ' ..
                         '— logits [N,C], i64 targets 1..C (or probabilities)',
  ['NLLLoss'] = 'nn.NLLLoss({weight=, ignore_index=}) — on log-probabilities',
  ['BCELoss'] = 'nn.BCELoss({weight=}) — on probabilities',
  ['BCEWithLogitsLoss'] = 'nn.BCEWithLogitsLoss({weight=, pos_weight=}) — on logits, stable',
  ['KLDivLoss'] = 'nn.KLDivLoss({reduction=\'batchmean\', log_target=}) — input log q, target p',
  ['HingeLoss'] = 'nn.HingeLoss({margin=1}) — labels ±1',
  ['SmoothHingeLoss'] = 'nn.SmoothHingeLoss(t, {kind=\'softplus\'|\'quadratic\'}) — labels ±1',
  ['DiceLoss'] = 'nn.DiceLoss({smooth=1, from_logits=true}) — multi-class soft Dice',
  ['DiceCELoss'] = 'nn.DiceCELoss({ce_weight=1, dice_weight=1}) — cross-entropy + Dice',
  ['FocalLoss'] = 'nn.FocalLoss({gamma=2, alpha=}) — multi-class or binary (float targets)',
  ['CosineEmbeddingLoss'] = 'nn.CosineEmbeddingLoss({margin=0}) — loss(x1, x2, y), y = ±1',
  ['CenterLoss'] = 'nn.CenterLoss(C, d) — ½ Σ ||x_i - c_{y_i}||²; m:update_centers(x, y, alpha)',
  ['F.linear'] = 'nn.F.linear(x, w, b) — x w^T + b',
  ['F.conv2d'] = 'nn.F.conv2d(x, w, b_or_nil, {stride=, padding=, dilation=, groups=})',
  ['F.dropout'] = 'nn.F.dropout(x, p, training) — inverted dropout',
  ['F.batch_norm'] = 'nn.F.batch_norm(x, running_mean, running_var, weight, bias, ' ..
                     '{training=, momentum=, eps=})',
  ['F.layer_norm'] = 'nn.F.layer_norm(x, shape, weight, bias, {eps=})',
  ['F.cross_entropy'] = 'nn.F.cross_entropy(logits, target, {weight=, reduction=, ' ..
                        'ignore_index=, label_smoothing=})',
  ['F.nll_loss'] = 'nn.F.nll_loss(logp, target, {weight=, reduction=, ignore_index=})',
  ['F.mse_loss'] = 'nn.F.mse_loss(input, target, {reduction=})',
  ['F.binary_cross_entropy_with_logits'] = 'nn.F.binary_cross_entropy_with_logits(x, y, ' ..
                                           '{weight=, pos_weight=, reduction=})',
  ['F.kl_div'] = 'nn.F.kl_div(logq, p, {reduction=, log_target=})',
  ['init.xavier_uniform_'] = 'nn.init.xavier_uniform_(t, gain=1) — U(±gain √(6/(fan_in+fan_out)))',
  ['init.xavier_normal_'] = 'nn.init.xavier_normal_(t, gain=1) — N(0, gain² 2/(fan_in+fan_out))',
  ['init.kaiming_uniform_'] = 'nn.init.kaiming_uniform_(t, {a=0, mode=\'fan_in\', ' ..
                              'nonlinearity=\'leaky_relu\'})',
  ['init.kaiming_normal_'] = 'nn.init.kaiming_normal_(t, {a=0, mode=, nonlinearity=})',
  ['init.orthogonal_'] = 'nn.init.orthogonal_(t, gain=1) — (semi-)orthogonal via QR',
  ['init.uniform_'] = 'nn.init.uniform_(t, a=0, b=1)',
  ['init.normal_'] = 'nn.init.normal_(t, mean=0, std=1)',
  ['init.constant_'] = 'nn.init.constant_(t, v)',
  ['init.calculate_gain'] = 'nn.init.calculate_gain(nonlinearity, param) — recommended gain',
}
